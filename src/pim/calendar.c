/*
 * calendar.c: Calendar (MS-ASCAL) as an entry of the class table. An event
 * is kept as sent; its place in filter windows is when it ends (a series:
 * when its last occurrence can end, never for one without an end), so a
 * window "from two weeks ago" holds what ends after then. 14.x and 16.x
 * name the location differently (calendar:Location, airsyncbase:Location):
 * each version gets the other's when it has none of its own.
 */
#include "pim/calendar.h"
#include "pim/recurrence.h"
#include "pim/timezone.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

/* The place of an event that never ends: in every window. */
#define FOREVER INT64_MAX

static enum pim_omitted calendar_omitted(enum wbxml_tag tag, unsigned protocol_version)
{
	/* R878 (Body), R876 (Exceptions); 16.x: "All Calendar class properties are ghosted by default" (R7309). */
	if (tag == WBXML_AIRSYNCBASE_BODY || tag == WBXML_CALENDAR_EXCEPTIONS || protocol_version >= 160)
		return PIM_OMITTED_KEPT;
	return PIM_OMITTED_BY_SUPPORTED;
}

static bool all_day(const struct wbxml_node *item)
{
	return strcmp(pim_fields_text(item, WBXML_CALENDAR_ALL_DAY_EVENT), "1") == 0;
}

/* The event's zone, when it has a TimeZone that reads and is not UTC (an all-zero blob says nothing). */
static bool zone_of(const struct wbxml_node *item, struct pim_timezone *zone)
{
	return pim_timezone_parse(pim_fields_text(item, WBXML_CALENDAR_TIMEZONE), zone) == 0 &&
	       (zone->bias != 0 || pim_timezone_has_dst(zone));
}

static int64_t floor_days(int64_t seconds)
{
	return seconds / 86400 - (seconds % 86400 < 0);
}

/*
 * An all-day event is kept as its dates: StartTime and EndTime at UTC
 * midnight of its first day and of the day after its last (16.x's form),
 * the TimeZone as sent. What clients send (field-notes F-AD-1): midnight
 * in the blob's zone, UTC midnight with an all-zero blob or none, 16.x
 * dates, an EndTime of 23:59, a StartTime inside the day. With a zone the
 * dates are those of its local times; without one, each time is taken to
 * the nearest midnight (local midnight of any zone as UTC lands on its day).
 */
static const char *normalise_all_day(struct arena *arena, struct wbxml_node *item)
{
	struct pim_timezone zone;
	int64_t start, end, first, after;
	if (pim_fields_parse_time(pim_fields_text(item, WBXML_CALENDAR_START_TIME), &start) < 0)
		return "all_day_without_start";
	if (pim_fields_parse_time(pim_fields_text(item, WBXML_CALENDAR_END_TIME), &end) < 0)
		end = start + 86400;
	if (zone_of(item, &zone)) {
		first = floor_days(start + pim_timezone_offset_at(&zone, start));
		after = floor_days(end + pim_timezone_offset_at(&zone, end) + 86399);
	} else {
		first = floor_days(start + 43200);
		after = floor_days(end + 43200);
	}
	if (after <= first)
		after = first + 1;
	pim_fields_set(arena, item, WBXML_CALENDAR_START_TIME, pim_fields_compact_time(arena, first * 86400));
	pim_fields_set(arena, item, WBXML_CALENDAR_END_TIME, pim_fields_compact_time(arena, after * 86400));
	return NULL;
}

/*
 * Missing times as MS-ASCAL 3.2.4.4 fills them: the start is now rounded
 * up to the half hour, the end 30 minutes after the start; an end before
 * the start is refused (StartTime == EndTime is fine: field-notes T38).
 */
static const char *fill_times(struct arena *arena, struct wbxml_node *item, int64_t now)
{
	int64_t start, end;
	if (pim_fields_parse_time(pim_fields_text(item, WBXML_CALENDAR_START_TIME), &start) < 0) {
		start = (now + 1799) / 1800 * 1800;
		pim_fields_set(arena, item, WBXML_CALENDAR_START_TIME, pim_fields_compact_time(arena, start));
	}
	if (pim_fields_parse_time(pim_fields_text(item, WBXML_CALENDAR_END_TIME), &end) < 0) {
		end = start + 1800;
		pim_fields_set(arena, item, WBXML_CALENDAR_END_TIME, pim_fields_compact_time(arena, end));
	}
	return end < start ? "end_before_start" : NULL;
}

/*
 * Times must read; a TimeZone must be 172 bytes of base64 (else Status 6,
 * field-notes T09), and an invalid daylight rule in it is dropped before
 * any device sees it (T02).
 */
static const char *calendar_check(struct arena *arena, struct wbxml_node *item, const struct pim_author *author)
{
	static const enum wbxml_tag times[] = { WBXML_CALENDAR_START_TIME, WBXML_CALENDAR_END_TIME, WBXML_CALENDAR_DT_STAMP };
	struct pim_timezone zone;
	int64_t t;
	for (unsigned i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		if (pim_fields_find(item, times[i]) != NULL && pim_fields_parse_time(pim_fields_text(item, times[i]), &t) < 0)
			return "time_invalid";
	const char *invalid = fill_times(arena, item, author->now);
	const struct wbxml_node *recurrence = pim_fields_find(item, WBXML_CALENDAR_RECURRENCE);
	struct pim_recurrence pattern;
	if (invalid == NULL && recurrence != NULL)
		invalid = pim_recurrence_read(recurrence, &pim_recurrence_calendar_tags, &pattern);
	if (invalid != NULL)
		return invalid;
	calendar_meeting_normalise(arena, item, author);
	if (pim_fields_find(item, WBXML_CALENDAR_TIMEZONE) != NULL) {
		if (pim_timezone_parse(pim_fields_text(item, WBXML_CALENDAR_TIMEZONE), &zone) < 0)
			return "timezone_invalid";
		if (pim_timezone_sanitise(&zone))
			pim_fields_set(arena, item, WBXML_CALENDAR_TIMEZONE, pim_timezone_format(arena, &zone));
	}
	invalid = all_day(item) ? normalise_all_day(arena, item) : NULL;
	if (invalid == NULL)
		invalid = calendar_exceptions_normalise(arena, item, recurrence != NULL ? &pattern : NULL,
							zone_of(item, &zone) ? &zone : NULL);
	return invalid;
}

/* An event ends when it ends; a series when its last occurrence does (never, without Until or Occurrences). */
static int64_t calendar_place(const struct wbxml_node *item, const struct pim_author *author)
{
	(void)author;
	const struct wbxml_node *node = pim_fields_find(item, WBXML_CALENDAR_RECURRENCE);
	struct pim_recurrence pattern;
	struct pim_timezone zone;
	int64_t start = pim_fields_time(item, WBXML_CALENDAR_START_TIME, 0);
	int64_t end = pim_fields_time(item, WBXML_CALENDAR_END_TIME, start);
	if (node == NULL)
		return end;
	if (pim_recurrence_read(node, &pim_recurrence_calendar_tags, &pattern) != NULL)
		return FOREVER;
	int64_t last = pim_recurrence_last(&pattern, zone_of(item, &zone) ? &zone : NULL, start);
	return last == INT64_MAX ? FOREVER : last + (end - start);
}

/* MS-ASCMD 2.2.3.68.2: calendar windows are 2 weeks, 1, 3 and 6 months back. */
static int64_t calendar_filter_start(uint8_t filter_type, int64_t now)
{
	static const int64_t days[] = { [4] = 14, [5] = 31, [6] = 92, [7] = 183 };
	if (filter_type >= sizeof(days) / sizeof(days[0]) || days[filter_type] == 0)
		return 0;
	int64_t start = now - days[filter_type] * 86400;
	return start > 0 ? start : 0;
}

/*
 * The location is kept in 16.x's form, airsyncbase:Location: a 14.x
 * calendar:Location becomes its DisplayName (empty, it clears the location).
 */
static void calendar_translate(struct arena *arena, struct wbxml_node *sent)
{
	calendar_exceptions_translate(sent);
	struct wbxml_node *old = pim_fields_find(sent, WBXML_CALENDAR_LOCATION);
	if (old == NULL)
		return;
	pim_fields_remove(sent, WBXML_CALENDAR_LOCATION);
	pim_fields_remove(sent, WBXML_AIRSYNCBASE_LOCATION);
	struct wbxml_node *location =
		wbxml_tree_add(arena, sent, WBXML_AIRSYNCBASE_LOCATION, WBXML_CONTENT_NONE, NULL, 0);
	if (old->text.len > 0)
		wbxml_tree_add(arena, location, WBXML_AIRSYNCBASE_DISPLAY_NAME, WBXML_CONTENT_STRING, old->text.data,
			       old->text.len);
}

/* A location named as stored, sent back by a 14.x device (a name only), is no change to its address or place. */
static bool calendar_same(const struct wbxml_node *stored, const struct wbxml_node *sent)
{
	if (sent->tag != WBXML_AIRSYNCBASE_LOCATION || sent->first_child == NULL || sent->first_child->next != NULL)
		return false;
	return strcmp(pim_fields_text(stored, WBXML_AIRSYNCBASE_DISPLAY_NAME),
		      pim_fields_text(sent, WBXML_AIRSYNCBASE_DISPLAY_NAME)) == 0;
}

/*
 * All-day events: 16.x devices get the dates and no TimeZone (MS-ASCAL
 * 2.2.2.1 R2005-R2007); older ones midnight of those dates in the zone of
 * the TimeZone sent with them, one consistent pair.
 */
static bool calendar_write_field(struct wbxml_writer *writer, struct arena *arena, const struct wbxml_node *item,
				 const struct wbxml_node *field, const struct pim_options *options)
{
	struct pim_timezone zone;
	int64_t date;
	if (field->tag == WBXML_CALENDAR_EXCEPTIONS && options->protocol_version >= 160) {
		calendar_exceptions_write(writer, options->protocol_version, field);
		return true;
	}
	if (field->tag == WBXML_CALENDAR_RECURRENCE)
		return pim_recurrence_write(writer, field, &pim_recurrence_calendar_tags, options->protocol_version);
	if (!all_day(item))
		return false;
	if (field->tag == WBXML_CALENDAR_TIMEZONE)
		return options->protocol_version >= 160;
	if ((field->tag != WBXML_CALENDAR_START_TIME && field->tag != WBXML_CALENDAR_END_TIME) ||
	    options->protocol_version >= 160 || !zone_of(item, &zone) ||
	    pim_fields_parse_time(pim_fields_text(item, field->tag), &date) < 0)
		return false;
	/* Local midnight as UTC: the offset is the one in force just before that midnight's UTC instant. */
	int64_t t = date - pim_timezone_offset_at(&zone, date - pim_timezone_offset_at(&zone, date));
	wbxml_writer_element_cstr(writer, field->tag, pim_fields_compact_time(arena, t));
	return true;
}

/* 14.x devices get the location's name as calendar:Location. */
static void calendar_write_extra(struct wbxml_writer *writer, struct arena *arena, const struct wbxml_node *item,
				 const struct pim_item *stored, const struct pim_options *options)
{
	(void)arena;
	(void)stored;
	const struct wbxml_node *location = pim_fields_find(item, WBXML_AIRSYNCBASE_LOCATION);
	if (options->protocol_version < 160 && location != NULL) {
		const char *display = pim_fields_text(location, WBXML_AIRSYNCBASE_DISPLAY_NAME);
		if (display[0] != '\0')
			wbxml_writer_element_cstr(writer, WBXML_CALENDAR_LOCATION, display);
	}
	/* An all-day event without a zone goes to older devices at UTC midnight with an all-zero blob. */
	if (options->protocol_version < 160 && all_day(item) && pim_fields_find(item, WBXML_CALENDAR_TIMEZONE) == NULL) {
		struct pim_timezone utc = { 0 };
		wbxml_writer_element_cstr(writer, WBXML_CALENDAR_TIMEZONE, pim_timezone_format(arena, &utc));
	}
}

/* A received meeting's organizer fields are the organizer's. */
static bool calendar_owned(const struct wbxml_node *item, enum wbxml_tag tag, const struct pim_author *author)
{
	return calendar_organizer_owns(tag) && calendar_is_received(item, author);
}

/* The event's ClientUid names it for Adds a client repeats. */
static int calendar_create(const struct pim_class *class, struct arena *arena, const struct pim_author *author,
			   const struct pim_input *input, struct pim_update *update)
{
	int status = pim_fields_create(class, arena, author, input, update);
	const char *client_uid = pim_fields_text(input->data, WBXML_CALENDAR_CLIENT_UID);
	if (status == 0 && update->invalid == NULL && client_uid[0] != '\0') {
		update->message_id = client_uid;
		update->client_uid = true;
	}
	return status;
}

static const struct pim_fields_spec calendar_spec = {
	.omitted = calendar_omitted,
	.check = calendar_check,
	.place = calendar_place,
	.translate = calendar_translate,
	.same = calendar_same,
	.owned = calendar_owned,
	.merge_field = calendar_merge_exceptions,
	.instance = calendar_instance_change,
	.write_field = calendar_write_field,
	.write_extra = calendar_write_extra,
};

const struct pim_class pim_class_calendar = {
	.name = "Calendar",
	.read = pim_fields_read,
	.create = calendar_create,
	.merge = pim_fields_merge,
	.write = pim_fields_write,
	.filter_start = calendar_filter_start,
	.estimated_bytes = pim_fields_estimated_bytes,
	.place_moves = true,
	.fields = &calendar_spec,
};
