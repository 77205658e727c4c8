/*
 * ical.c: events (VEVENT), tasks (VTODO) and notes (VJOURNAL) as
 * iCalendar (RFC 5545), read and written with libical. A modified
 * occurrence (RECURRENCE-ID) becomes an exception of its series, EXDATE a
 * deleted one; the pattern goes both ways between RRULE and Recurrence.
 */
#include "pim/interchange.h"
#include "pim/recurrence.h"
#include "pim/timezone.h"

#include <libical/ical.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- values ---- */

/* A time of the file as UTC seconds (a date: its midnight UTC), its zone resolved by libical. */
int64_t pim_ical_seconds(struct icaltimetype t)
{
	if (t.is_date)
		return (int64_t)icaltime_as_timet_with_zone(t, icaltimezone_get_utc_timezone());
	return (int64_t)icaltime_as_timet_with_zone(t, t.zone != NULL ? t.zone : icaltimezone_get_utc_timezone());
}

static void set(struct arena *arena, struct wbxml_node *item, enum wbxml_tag tag, const char *value)
{
	pim_interchange_set(arena, item, tag, value);
}

static void categories(struct arena *arena, struct wbxml_node *item, icalcomponent *c, enum wbxml_tag list,
		       enum wbxml_tag entry)
{
	struct wbxml_node *node = NULL;
	for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_CATEGORIES_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(c, ICAL_CATEGORIES_PROPERTY)) {
		const char *value = icalproperty_get_categories(p);
		if (value == NULL || value[0] == '\0')
			continue;
		if (node == NULL)
			node = pim_fields_new(arena, item, list);
		wbxml_tree_add(arena, node, entry, WBXML_CONTENT_STRING, value, strlen(value));
	}
}

/* The fields whole, from X-EAS-DATA, when the component carries them. */
static struct wbxml_node *whole(struct arena *arena, icalcomponent *c)
{
	for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_X_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(c, ICAL_X_PROPERTY))
		if (strcmp(icalproperty_get_x_name(p), PIM_EXTRA_PROPERTY) == 0)
			return pim_interchange_decode(arena, icalproperty_get_x(p));
	return NULL;
}

/* ---- RRULE and Recurrence ---- */

/*
 * What a rule leaves out comes from DTSTART (RFC 5545 3.3.10): FREQ=WEEKLY
 * alone repeats on DTSTART's weekday, FREQ=MONTHLY on its day of the
 * month, FREQ=YEARLY on its date. MS-ASCAL wants them said.
 */
static void complete_from_start(struct icalrecurrencetype *r, struct icaltimetype start)
{
	if (icaltime_is_null_time(start))
		return;
	bool by_day = r->by_day[0] != ICAL_RECURRENCE_ARRAY_MAX, by_month_day = r->by_month_day[0] != ICAL_RECURRENCE_ARRAY_MAX;
	if (r->freq == ICAL_WEEKLY_RECURRENCE && !by_day) {
		r->by_day[0] = (short)icaltime_day_of_week(start);
		r->by_day[1] = ICAL_RECURRENCE_ARRAY_MAX;
	}
	if ((r->freq == ICAL_MONTHLY_RECURRENCE || r->freq == ICAL_YEARLY_RECURRENCE) && !by_day && !by_month_day) {
		r->by_month_day[0] = (short)start.day;
		r->by_month_day[1] = ICAL_RECURRENCE_ARRAY_MAX;
	}
	if (r->freq == ICAL_YEARLY_RECURRENCE && r->by_month[0] == ICAL_RECURRENCE_ARRAY_MAX) {
		r->by_month[0] = (short)start.month;
		r->by_month[1] = ICAL_RECURRENCE_ARRAY_MAX;
	}
}

static void recurrence_from_rrule(struct arena *arena, struct wbxml_node *item, struct icalrecurrencetype *r)
{
	unsigned type, mask = 0, week = 0;
	char text[16];
	for (int i = 0; i < ICAL_BY_DAY_SIZE && r->by_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++) {
		mask |= 1u << (icalrecurrencetype_day_day_of_week(r->by_day[i]) - 1);
		int position = icalrecurrencetype_day_position(r->by_day[i]);
		week = position < 0 ? 5 : position > 0 ? (unsigned)position : week;
	}
	if (r->by_set_pos[0] != ICAL_RECURRENCE_ARRAY_MAX)
		week = r->by_set_pos[0] < 0 ? 5 : (unsigned)r->by_set_pos[0];
	bool last_day = r->by_month_day[0] == -1;
	switch (r->freq) {
	case ICAL_DAILY_RECURRENCE: type = 0; break;
	case ICAL_WEEKLY_RECURRENCE: type = 1; break;
	case ICAL_MONTHLY_RECURRENCE: type = mask != 0 || last_day ? 3 : 2; break;
	case ICAL_YEARLY_RECURRENCE: type = mask != 0 ? 6 : 5; break;
	default: return;
	}
	struct wbxml_node *node = pim_fields_new(arena, item, WBXML_CALENDAR_RECURRENCE);
	snprintf(text, sizeof(text), "%u", type);
	pim_fields_set(arena, node, WBXML_CALENDAR_TYPE, text);
	snprintf(text, sizeof(text), "%d", r->interval > 0 ? r->interval : 1);
	pim_fields_set(arena, node, WBXML_CALENDAR_INTERVAL, text);
	if (r->count > 0) {
		snprintf(text, sizeof(text), "%d", r->count);
		pim_fields_set(arena, node, WBXML_CALENDAR_OCCURRENCES, text);
	} else if (!icaltime_is_null_time(r->until)) {
		pim_fields_set(arena, node, WBXML_CALENDAR_UNTIL, pim_fields_compact_time(arena, pim_ical_seconds(r->until)));
	}
	if (last_day)
		mask = 127, week = 5;
	if (mask != 0) {
		snprintf(text, sizeof(text), "%u", mask);
		pim_fields_set(arena, node, WBXML_CALENDAR_DAY_OF_WEEK, text);
	}
	if ((type == 3 || type == 6) && week != 0) {
		snprintf(text, sizeof(text), "%u", week);
		pim_fields_set(arena, node, WBXML_CALENDAR_WEEK_OF_MONTH, text);
	}
	if ((type == 2 || type == 5) && r->by_month_day[0] > 0) {
		snprintf(text, sizeof(text), "%d", r->by_month_day[0]);
		pim_fields_set(arena, node, WBXML_CALENDAR_DAY_OF_MONTH, text);
	}
	if ((type == 5 || type == 6) && r->by_month[0] != ICAL_RECURRENCE_ARRAY_MAX) {
		snprintf(text, sizeof(text), "%d", r->by_month[0]);
		pim_fields_set(arena, node, WBXML_CALENDAR_MONTH_OF_YEAR, text);
	}
}

static char *rrule_from_recurrence(const struct pim_recurrence *p)
{
	static const icalrecurrencetype_frequency freq[] = { [0] = ICAL_DAILY_RECURRENCE, [1] = ICAL_WEEKLY_RECURRENCE,
							     [2] = ICAL_MONTHLY_RECURRENCE, [3] = ICAL_MONTHLY_RECURRENCE,
							     [5] = ICAL_YEARLY_RECURRENCE, [6] = ICAL_YEARLY_RECURRENCE };
	struct icalrecurrencetype r;
	icalrecurrencetype_clear(&r);
	r.freq = freq[p->type];
	r.interval = (short)p->interval;
	r.count = (int)p->occurrences;
	if (p->until != INT64_MAX)
		r.until = icaltime_from_timet_with_zone((time_t)p->until, 0, icaltimezone_get_utc_timezone());
	r.week_start = (icalrecurrencetype_weekday)(p->first_day_of_week + 1);
	unsigned n = 0;
	bool nth = p->type == 3 || p->type == 6;
	if (nth && p->day_of_week == 127 && p->week_of_month == 5) {
		r.by_month_day[0] = -1; /* the last day of the month */
	} else {
		for (unsigned d = 0; d < 7; d++)
			if (p->day_of_week & (1u << d))
				r.by_day[n++] = (short)(d + 1);
		/* libical writes "the nth such day" as n * 8 + day, negative for the last. */
		if (nth && n == 1)
			r.by_day[0] = (short)(p->week_of_month == 5 ? -(8 + r.by_day[0]) : (int)p->week_of_month * 8 + r.by_day[0]);
		else if (nth)
			r.by_set_pos[0] = (short)(p->week_of_month == 5 ? -1 : (int)p->week_of_month);
	}
	if (p->type == 2 || p->type == 5)
		r.by_month_day[0] = (short)p->day_of_month;
	if (p->type == 5 || p->type == 6)
		r.by_month[0] = (short)p->month_of_year;
	return icalrecurrencetype_as_string_r(&r);
}

/* ---- reading ---- */

/* The Olson name of a zone of the file: its location, or its TZID without libical's prefix. */
static const char *zone_name(icaltimezone *zone)
{
	static const char prefix[] = "/freeassociation.sourceforge.net/";
	const char *name = icaltimezone_get_location(zone);
	if (name == NULL)
		name = icaltimezone_get_tzid(zone);
	if (name != NULL && strncmp(name, prefix, sizeof(prefix) - 1) == 0)
		name += sizeof(prefix) - 1;
	return name;
}

/* The fields of an event. */
struct wbxml_node *pim_ical_event_fields(struct arena *arena, icalcomponent *c)
{
	struct wbxml_node *item = pim_fields_new(arena, NULL, WBXML_AIRSYNC_APPLICATION_DATA);
	struct icaltimetype start = icalcomponent_get_dtstart(c), end = icalcomponent_get_dtend(c);
	set(arena, item, WBXML_CALENDAR_SUBJECT, icalcomponent_get_summary(c));
	set(arena, item, WBXML_CALENDAR_UID, icalcomponent_get_uid(c));
	if (start.is_date)
		set(arena, item, WBXML_CALENDAR_ALL_DAY_EVENT, "1");
	/* A copy: libical may replace the zone's strings while easd reads its zones. */
	const char *olson = start.zone != NULL ? zone_name((icaltimezone *)start.zone) : NULL;
	olson = olson != NULL ? arena_strndup(arena, olson, strlen(olson)) : NULL;
	struct pim_timezone zone;
	if (olson != NULL && !start.is_date && pim_timezone_for_zone(olson, &zone) == 0)
		set(arena, item, WBXML_CALENDAR_TIMEZONE, pim_timezone_format(arena, &zone));
	if (!icaltime_is_null_time(start))
		set(arena, item, WBXML_CALENDAR_START_TIME, pim_fields_compact_time(arena, pim_ical_seconds(start)));
	if (!icaltime_is_null_time(end))
		set(arena, item, WBXML_CALENDAR_END_TIME, pim_fields_compact_time(arena, pim_ical_seconds(end)));
	const char *location = icalcomponent_get_location(c);
	if (location != NULL && location[0] != '\0')
		pim_fields_set(arena, pim_fields_new(arena, item, WBXML_AIRSYNCBASE_LOCATION), WBXML_AIRSYNCBASE_DISPLAY_NAME,
			       location);
	pim_interchange_body(arena, item, icalcomponent_get_description(c));
	icalproperty *rrule = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY);
	if (rrule != NULL) {
		struct icalrecurrencetype r = icalproperty_get_rrule(rrule);
		complete_from_start(&r, start);
		recurrence_from_rrule(arena, item, &r);
	}
	categories(arena, item, c, WBXML_CALENDAR_CATEGORIES, WBXML_CALENDAR_CATEGORY);
	return item;
}

/* An EXDATE, or a modified occurrence, as an exception of the series. */
void pim_ical_add_exception(struct arena *arena, struct wbxml_node *series, int64_t original, icalcomponent *modified)
{
	struct wbxml_node *exceptions = pim_fields_find(series, WBXML_CALENDAR_EXCEPTIONS);
	if (exceptions == NULL)
		exceptions = pim_fields_new(arena, series, WBXML_CALENDAR_EXCEPTIONS);
	struct wbxml_node *exception = pim_fields_new(arena, exceptions, WBXML_CALENDAR_EXCEPTION);
	pim_fields_set(arena, exception, WBXML_CALENDAR_EXCEPTION_START_TIME, pim_fields_compact_time(arena, original));
	if (modified == NULL) {
		pim_fields_set(arena, exception, WBXML_CALENDAR_DELETED, "1");
		return;
	}
	struct wbxml_node *fields = pim_ical_event_fields(arena, modified);
	static const enum wbxml_tag kept[] = { WBXML_CALENDAR_SUBJECT, WBXML_CALENDAR_START_TIME, WBXML_CALENDAR_END_TIME };
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		set(arena, exception, kept[i], pim_fields_text(fields, kept[i]));
}

static struct wbxml_node *task_fields(struct arena *arena, icalcomponent *c)
{
	struct wbxml_node *item = pim_fields_new(arena, NULL, WBXML_AIRSYNC_APPLICATION_DATA);
	struct icaltimetype due = icalcomponent_get_due(c), start = icalcomponent_get_dtstart(c);
	icalproperty *completed = icalcomponent_get_first_property(c, ICAL_COMPLETED_PROPERTY);
	icalproperty *priority = icalcomponent_get_first_property(c, ICAL_PRIORITY_PROPERTY);
	set(arena, item, WBXML_TASKS_SUBJECT, icalcomponent_get_summary(c));
	pim_interchange_body(arena, item, icalcomponent_get_description(c));
	bool done = completed != NULL || icalcomponent_get_status(c) == ICAL_STATUS_COMPLETED;
	set(arena, item, WBXML_TASKS_COMPLETE, done ? "1" : "0");
	if (completed != NULL)
		set(arena, item, WBXML_TASKS_DATE_COMPLETED, pim_fields_format_time(arena, pim_ical_seconds(icalproperty_get_completed(completed))));
	if (!icaltime_is_null_time(due)) {
		set(arena, item, WBXML_TASKS_DUE_DATE, pim_fields_format_time(arena, pim_ical_seconds(due)));
		set(arena, item, WBXML_TASKS_UTC_DUE_DATE, pim_fields_format_time(arena, pim_ical_seconds(due)));
	}
	if (!icaltime_is_null_time(start)) {
		set(arena, item, WBXML_TASKS_START_DATE, pim_fields_format_time(arena, pim_ical_seconds(start)));
		set(arena, item, WBXML_TASKS_UTC_START_DATE, pim_fields_format_time(arena, pim_ical_seconds(start)));
	}
	if (priority != NULL && icalproperty_get_priority(priority) > 0) {
		int p = icalproperty_get_priority(priority);
		set(arena, item, WBXML_TASKS_IMPORTANCE, p < 5 ? "2" : p == 5 ? "1" : "0");
	}
	categories(arena, item, c, WBXML_TASKS_CATEGORIES, WBXML_TASKS_CATEGORY);
	return item;
}

static struct wbxml_node *note_fields(struct arena *arena, icalcomponent *c)
{
	struct wbxml_node *item = pim_fields_new(arena, NULL, WBXML_AIRSYNC_APPLICATION_DATA);
	set(arena, item, WBXML_NOTES_SUBJECT, icalcomponent_get_summary(c));
	pim_interchange_body(arena, item, icalcomponent_get_description(c));
	categories(arena, item, c, WBXML_NOTES_CATEGORIES, WBXML_NOTES_CATEGORY);
	return item;
}

/* The line of each component's BEGIN, in order: libical keeps no line numbers. */
static unsigned *component_lines(struct arena *arena, const char *text, unsigned *count)
{
	unsigned capacity = 0, line = 1;
	unsigned *lines = NULL;
	*count = 0;
	for (const char *p = text; *p != '\0'; line++) {
		if (strncasecmp(p, "BEGIN:VEVENT", 12) == 0 || strncasecmp(p, "BEGIN:VTODO", 11) == 0 ||
		    strncasecmp(p, "BEGIN:VJOURNAL", 14) == 0) {
			lines = arena_grow(arena, lines, sizeof(*lines), *count, &capacity, 64);
			lines[(*count)++] = line;
		}
		const char *eol = strchr(p, '\n');
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	return lines;
}

/* An item of the file, kept until every modified occurrence has found its series. */
struct entry {
	const char *uid;
	const struct pim_class *class;
	struct wbxml_node *fields;
	unsigned line;
};

static struct wbxml_node *series_of(const struct entry *all, unsigned count, const char *uid)
{
	for (unsigned i = 0; uid != NULL && i < count; i++)
		if (all[i].class == &pim_class_calendar && all[i].uid != NULL && strcmp(all[i].uid, uid) == 0)
			return all[i].fields;
	return NULL;
}

/* A component's fields: whole from X-EAS-DATA, else from its properties (EXDATE as deleted occurrences). */
static struct wbxml_node *component_fields(struct arena *arena, icalcomponent *c, icalcomponent_kind kind)
{
	struct wbxml_node *fields = whole(arena, c);
	if (fields != NULL)
		return fields;
	if (kind == ICAL_VTODO_COMPONENT)
		return task_fields(arena, c);
	if (kind == ICAL_VJOURNAL_COMPONENT)
		return note_fields(arena, c);
	fields = pim_ical_event_fields(arena, c);
	for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_EXDATE_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(c, ICAL_EXDATE_PROPERTY))
		pim_ical_add_exception(arena, fields, pim_ical_seconds(icalproperty_get_exdate(p)), NULL);
	return fields;
}

/* Each component's class and fields; a modified occurrence goes into its series instead. */
static int read_components(struct arena *arena, icalcomponent *calendar, const unsigned *lines, unsigned line_count,
			   pim_import_fn *fn, void *context)
{
	struct entry *entries = NULL;
	unsigned count = 0, capacity = 0, index = 0;
	for (icalcomponent *c = icalcomponent_get_first_component(calendar, ICAL_ANY_COMPONENT); c != NULL;
	     c = icalcomponent_get_next_component(calendar, ICAL_ANY_COMPONENT)) {
		icalcomponent_kind kind = icalcomponent_isa(c);
		if (kind != ICAL_VEVENT_COMPONENT && kind != ICAL_VTODO_COMPONENT && kind != ICAL_VJOURNAL_COMPONENT)
			continue;
		unsigned line = index < line_count ? lines[index] : 0;
		index++;
		struct icaltimetype recurrence_id = icalcomponent_get_recurrenceid(c);
		struct wbxml_node *series = series_of(entries, count, icalcomponent_get_uid(c));
		if (kind == ICAL_VEVENT_COMPONENT && !icaltime_is_null_time(recurrence_id) && series != NULL &&
		    whole(arena, c) == NULL) {
			pim_ical_add_exception(arena, series, pim_ical_seconds(recurrence_id), c);
			continue;
		}
		entries = arena_grow(arena, entries, sizeof(*entries), count, &capacity, 64);
		entries[count++] = (struct entry){
			icalcomponent_get_uid(c),
			kind == ICAL_VEVENT_COMPONENT ? &pim_class_calendar
			: kind == ICAL_VTODO_COMPONENT ? &pim_class_tasks
						       : &pim_class_notes,
			component_fields(arena, c, kind), line };
	}
	for (unsigned i = 0; i < count; i++) {
		int status = fn(context, entries[i].class, entries[i].fields, entries[i].line);
		if (status != 0)
			return status;
	}
	return 0;
}

int pim_ical_import(struct arena *arena, const char *text, size_t len, pim_import_fn *fn, void *context,
		    char *error, size_t error_len)
{
	char *copy = arena_strndup(arena, text, len);
	unsigned line_count;
	unsigned *lines = component_lines(arena, copy, &line_count);
	icalcomponent *calendar = icalparser_parse_string(copy);
	if (calendar == NULL || icalcomponent_isa(calendar) != ICAL_VCALENDAR_COMPONENT) {
		snprintf(error, error_len, "line 1: the file does not read as iCalendar");
		if (calendar != NULL)
			icalcomponent_free(calendar);
		return -1;
	}
	int status = read_components(arena, calendar, lines, line_count, fn, context);
	icalcomponent_free(calendar);
	return status;
}

/* ---- writing ---- */

static void add_text(icalcomponent *c, icalproperty *p, const char *value)
{
	if (value != NULL && value[0] != '\0')
		icalcomponent_add_property(c, p);
	else
		icalproperty_free(p);
}

static struct icaltimetype utc_time(const char *compact_time, bool date)
{
	int64_t t = 0;
	pim_fields_parse_time(compact_time, &t);
	return icaltime_from_timet_with_zone((time_t)t, date ? 1 : 0, icaltimezone_get_utc_timezone());
}

void pim_ical_event_properties(icalcomponent *c, const struct wbxml_node *f)
{
	bool all_day = strcmp(pim_fields_text(f, WBXML_CALENDAR_ALL_DAY_EVENT), "1") == 0;
	const struct wbxml_node *location = pim_fields_find(f, WBXML_AIRSYNCBASE_LOCATION);
	struct pim_recurrence pattern;
	const struct wbxml_node *recurrence = pim_fields_find(f, WBXML_CALENDAR_RECURRENCE);
	add_text(c, icalproperty_new_summary(pim_fields_text(f, WBXML_CALENDAR_SUBJECT)), pim_fields_text(f, WBXML_CALENDAR_SUBJECT));
	if (pim_fields_find(f, WBXML_CALENDAR_START_TIME) != NULL)
		icalcomponent_add_property(c, icalproperty_new_dtstart(utc_time(pim_fields_text(f, WBXML_CALENDAR_START_TIME), all_day)));
	if (pim_fields_find(f, WBXML_CALENDAR_END_TIME) != NULL)
		icalcomponent_add_property(c, icalproperty_new_dtend(utc_time(pim_fields_text(f, WBXML_CALENDAR_END_TIME), all_day)));
	if (location != NULL)
		add_text(c, icalproperty_new_location(pim_fields_text(location, WBXML_AIRSYNCBASE_DISPLAY_NAME)),
			 pim_fields_text(location, WBXML_AIRSYNCBASE_DISPLAY_NAME));
	if (recurrence != NULL && pim_recurrence_read(recurrence, &pim_recurrence_calendar_tags, &pattern) == NULL) {
		char *rule = rrule_from_recurrence(&pattern);
		icalcomponent_add_property(c, icalproperty_new_rrule(icalrecurrencetype_from_string(rule)));
		icalmemory_free_buffer(rule);
	}
	const struct wbxml_node *exceptions = pim_fields_find(f, WBXML_CALENDAR_EXCEPTIONS);
	for (const struct wbxml_node *e = exceptions != NULL ? exceptions->first_child : NULL; e != NULL; e = e->next)
		if (strcmp(pim_fields_text(e, WBXML_CALENDAR_DELETED), "1") == 0)
			icalcomponent_add_property(
				c, icalproperty_new_exdate(utc_time(pim_fields_text(e, WBXML_CALENDAR_EXCEPTION_START_TIME), false)));
}

/* A UID for an item that has none: named by its fields, so exporting it again gives the same one. */
static const char *uid_of(struct arena *arena, const char *whole_data)
{
	uint64_t hash = 14695981039346656037u;
	char uid[40];
	for (const unsigned char *p = (const unsigned char *)whole_data; *p != '\0'; p++)
		hash = (hash ^ *p) * 1099511628211u;
	snprintf(uid, sizeof(uid), "easd-%016llx", (unsigned long long)hash);
	return arena_strndup(arena, uid, strlen(uid));
}

void pim_ical_export(struct buf *out, struct arena *arena, const struct pim_class *class,
		     const struct wbxml_node *fields, int64_t modified)
{
	const char *whole_data = pim_interchange_encode(arena, fields);
	icalcomponent_kind kind = class == &pim_class_calendar ? ICAL_VEVENT_COMPONENT
				  : class == &pim_class_tasks ? ICAL_VTODO_COMPONENT
								: ICAL_VJOURNAL_COMPONENT;
	icalcomponent *c = icalcomponent_new(kind);
	const char *uid = pim_fields_text(fields, WBXML_CALENDAR_UID);
	/* Without a UID of its own, the item is named by its fields: exporting it again gives the same UID. */
	icalcomponent_set_uid(c, uid[0] != '\0' ? uid : uid_of(arena, whole_data));
	icalcomponent_add_property(c, icalproperty_new_dtstamp(icaltime_from_timet_with_zone((time_t)modified, 0, icaltimezone_get_utc_timezone())));
	if (kind == ICAL_VEVENT_COMPONENT) {
		pim_ical_event_properties(c, fields);
	} else {
		enum wbxml_tag subject = kind == ICAL_VTODO_COMPONENT ? WBXML_TASKS_SUBJECT : WBXML_NOTES_SUBJECT;
		add_text(c, icalproperty_new_summary(pim_fields_text(fields, subject)), pim_fields_text(fields, subject));
		if (kind == ICAL_VTODO_COMPONENT && strcmp(pim_fields_text(fields, WBXML_TASKS_COMPLETE), "1") == 0)
			icalcomponent_add_property(c, icalproperty_new_status(ICAL_STATUS_COMPLETED));
	}
	const char *body = pim_interchange_body_text(fields);
	add_text(c, icalproperty_new_description(body), body);
	icalproperty *extra = icalproperty_new_x(whole_data);
	icalproperty_set_x_name(extra, PIM_EXTRA_PROPERTY);
	icalcomponent_add_property(c, extra);
	char *text = icalcomponent_as_ical_string_r(c);
	buf_append_cstr(out, text);
	icalmemory_free_buffer(text);
	icalcomponent_free(c);
}
