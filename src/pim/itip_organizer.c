/*
 * itip_organizer.c: what attendees are told when the user's device adds,
 * changes or deletes a meeting the user organizes (see itip.h): iTIP
 * REQUEST and CANCEL (RFC 5546 3.2.2, 3.2.5) built with libical, sent as
 * iMIP messages (pim_imip_message).
 *
 * Only what attendees see makes a message: a reminder, a category, the
 * user's busy status or a reply recorded changes nothing for them, so a
 * device that edits those (or repeats a Change) sends no update.
 */
#include "pim/calendar.h"
#include "pim/interchange.h"
#include "pim/itip.h"
#include "pim/pim_private.h"

#include <glib.h>
#include <string.h>

/* MeetingStatus bits (MS-ASCAL 2.2.2.29): a meeting, received (the user is not the organizer), cancelled. */
#define MEETING_BIT 1u
#define RECEIVED_BIT 2u
#define CANCELLED_BIT 4u

static struct wbxml_node *event_tree(struct arena *arena, const uint8_t *data, size_t len)
{
	if (len == 0)
		return NULL;
	struct pim_source source;
	struct pim_item item = { .content = &source };
	pim_source_memory(&source, data, len);
	return pim_fields_tree(arena, &item);
}

static unsigned meeting_status(const struct wbxml_node *f)
{
	unsigned status = 0;
	return pim_fields_number(f, WBXML_CALENDAR_MEETING_STATUS, 15, &status) == 0 ? status : 0;
}

/* The meeting's iCalendar UID: its UID, or the ClientUid a 16.x device named it by (MS-ASCAL 2.2.2.14). */
static const char *meeting_uid(const struct wbxml_node *f)
{
	const char *uid = pim_fields_text(f, WBXML_CALENDAR_UID);
	return uid[0] != '\0' ? uid : pim_fields_text(f, WBXML_CALENDAR_CLIENT_UID);
}

/* A meeting the user organizes, with a UID: its attendees hear of its changes from easd. */
static bool organized_by_user(const struct wbxml_node *f, const char *user)
{
	if (f == NULL || meeting_uid(f)[0] == '\0')
		return false;
	unsigned status = meeting_status(f);
	const char *organizer = pim_fields_text(f, WBXML_CALENDAR_ORGANIZER_EMAIL);
	return (status & MEETING_BIT) && !(status & RECEIVED_BIT) &&
	       (organizer[0] == '\0' || calendar_is_user(organizer, user));
}

/*
 * An attendee easd can write to: an address with an @ and nothing that
 * could end an SMTP command, a header or an iCalendar line (the device
 * wrote it). Others are left out of the messages, not the meeting.
 */
static bool usable_address(const char *email, const char *user)
{
	size_t len = strlen(email);
	if (len == 0 || len > 254 || strchr(email, '@') == NULL || calendar_is_user(email, user))
		return false;
	for (const unsigned char *p = (const unsigned char *)email; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7F || *p == '<' || *p == '>' || *p == '"' || *p == ';' || *p == ':' ||
		    *p == ',' || *p == '\\')
			return false;
	return true;
}

/* The attendees' addresses, the user left out, in arena. */
static unsigned attendees_of(struct arena *arena, const struct wbxml_node *f, const char *user, const char ***out)
{
	const struct wbxml_node *list = f != NULL ? pim_fields_find(f, WBXML_CALENDAR_ATTENDEES) : NULL;
	unsigned count = 0, capacity = 0;
	*out = NULL;
	for (const struct wbxml_node *a = list != NULL ? list->first_child : NULL; a != NULL; a = a->next) {
		const char *email = pim_fields_text(a, WBXML_CALENDAR_EMAIL);
		if (!usable_address(email, user))
			continue;
		*out = arena_grow(arena, *out, sizeof(**out), count, &capacity, 8);
		(*out)[count++] = email;
	}
	return count;
}

/* A set of addresses (case-insensitive), so that comparing two lists of attendees costs their lengths, not their product. */
static GHashTable *address_set(const char *const *list, unsigned count)
{
	GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (unsigned i = 0; i < count; i++)
		g_hash_table_add(set, g_ascii_strdown(list[i], -1));
	return set;
}

static bool in_set(GHashTable *set, const char *address)
{
	char *key = g_ascii_strdown(address, -1);
	bool found = g_hash_table_contains(set, key);
	g_free(key);
	return found;
}

/* Fields only the user sees: a change to them is no news for attendees. */
static bool personal(enum wbxml_tag tag)
{
	static const enum wbxml_tag tags[] = {
		WBXML_CALENDAR_REMINDER, WBXML_CALENDAR_BUSY_STATUS, WBXML_CALENDAR_CATEGORIES,
		WBXML_CALENDAR_RESPONSE_TYPE, WBXML_CALENDAR_APPOINTMENT_REPLY_TIME, WBXML_CALENDAR_DT_STAMP,
		WBXML_CALENDAR_ATTENDEE_STATUS, WBXML_CALENDAR_NAME, WBXML_CALENDAR_SENSITIVITY,
	};
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (tags[i] == tag)
			return true;
	return false;
}

static uint64_t hash_node(uint64_t hash, const struct wbxml_node *n)
{
	if (personal(n->tag))
		return hash;
	hash = (hash ^ (uint64_t)n->tag) * 1099511628211u;
	for (size_t i = 0; i < n->text.len; i++)
		hash = (hash ^ n->text.data[i]) * 1099511628211u;
	for (const struct wbxml_node *c = n->first_child; c != NULL; c = c->next)
		hash = hash_node(hash, c);
	return hash;
}

/* What attendees see of the meeting, as a hash: equal hashes, nothing to tell them. */
static uint64_t seen_by_attendees(const struct wbxml_node *f)
{
	static const enum wbxml_tag tags[] = {
		WBXML_CALENDAR_SUBJECT, WBXML_CALENDAR_START_TIME, WBXML_CALENDAR_END_TIME, WBXML_CALENDAR_ALL_DAY_EVENT,
		WBXML_CALENDAR_LOCATION, WBXML_AIRSYNCBASE_LOCATION, WBXML_CALENDAR_RECURRENCE, WBXML_CALENDAR_EXCEPTIONS,
		WBXML_AIRSYNCBASE_BODY, WBXML_CALENDAR_ATTENDEES,
	};
	uint64_t hash = 14695981039346656037u;
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		const struct wbxml_node *n = pim_fields_find(f, tags[i]);
		hash = n != NULL ? hash_node(hash, n) : (hash ^ (uint64_t)tags[i]) * 1099511628211u;
	}
	return hash;
}

static struct icaltimetype utc(int64_t t)
{
	return icaltime_from_timet_with_zone((time_t)t, 0, icaltimezone_get_utc_timezone());
}

static icalproperty *organizer_property(const struct pim_itip_change *c)
{
	char *uri = g_strdup_printf("mailto:%s", c->address);
	icalproperty *p = icalproperty_new_organizer(uri);
	g_free(uri);
	if (c->name != NULL && c->name[0] != '\0')
		icalproperty_add_parameter(p, icalparameter_new_cn(c->name));
	return p;
}

/* ATTENDEE lines with their role (AttendeeType 1 required, 2 optional, 3 resource), each asked to answer. */
static void add_attendees(icalcomponent *event, const struct wbxml_node *f, const char *user)
{
	const struct wbxml_node *list = pim_fields_find(f, WBXML_CALENDAR_ATTENDEES);
	for (const struct wbxml_node *a = list != NULL ? list->first_child : NULL; a != NULL; a = a->next) {
		const char *email = pim_fields_text(a, WBXML_CALENDAR_EMAIL), *name = pim_fields_text(a, WBXML_CALENDAR_NAME);
		if (!usable_address(email, user))
			continue;
		unsigned type = 1;
		pim_fields_number(a, WBXML_CALENDAR_ATTENDEE_TYPE, 3, &type);
		char *uri = g_strdup_printf("mailto:%s", email);
		icalproperty *p = icalproperty_new_attendee(uri);
		g_free(uri);
		icalproperty_add_parameter(p, icalparameter_new_role(type == 2 ? ICAL_ROLE_OPTPARTICIPANT
								 : type == 3 ? ICAL_ROLE_NONPARTICIPANT
									     : ICAL_ROLE_REQPARTICIPANT));
		if (type == 3)
			icalproperty_add_parameter(p, icalparameter_new_cutype(ICAL_CUTYPE_RESOURCE));
		icalproperty_add_parameter(p, icalparameter_new_partstat(ICAL_PARTSTAT_NEEDSACTION));
		icalproperty_add_parameter(p, icalparameter_new_rsvp(ICAL_RSVP_TRUE));
		if (name[0] != '\0')
			icalproperty_add_parameter(p, icalparameter_new_cn(name));
		icalcomponent_add_property(event, p);
	}
}

/* The VEVENT's identity: UID, SEQUENCE, DTSTAMP, ORGANIZER. */
static icalcomponent *event_named(const char *uid, const struct pim_itip_change *c)
{
	icalcomponent *event = icalcomponent_new(ICAL_VEVENT_COMPONENT);
	icalcomponent_set_uid(event, uid);
	icalcomponent_set_sequence(event, (int)c->sequence);
	icalcomponent_set_dtstamp(event, utc(c->now));
	icalcomponent_add_property(event, organizer_property(c));
	return event;
}

/* An occurrence moved or renamed: a VEVENT of its own, named by RECURRENCE-ID (RFC 5545 3.8.4.4). */
static void add_moved_occurrences(icalcomponent *calendar, const struct wbxml_node *f, const char *uid,
				  const struct pim_itip_change *c)
{
	const struct wbxml_node *list = pim_fields_find(f, WBXML_CALENDAR_EXCEPTIONS);
	int64_t start = pim_fields_time(f, WBXML_CALENDAR_START_TIME, 0);
	int64_t length = pim_fields_time(f, WBXML_CALENDAR_END_TIME, start) - start;
	for (const struct wbxml_node *e = list != NULL ? list->first_child : NULL; e != NULL; e = e->next) {
		int64_t original = pim_fields_time(e, WBXML_CALENDAR_EXCEPTION_START_TIME, 0);
		if (original == 0 || strcmp(pim_fields_text(e, WBXML_CALENDAR_DELETED), "1") == 0 ||
		    (pim_fields_find(e, WBXML_CALENDAR_START_TIME) == NULL && pim_fields_find(e, WBXML_CALENDAR_SUBJECT) == NULL))
			continue;
		icalcomponent *event = event_named(uid, c);
		int64_t moved = pim_fields_time(e, WBXML_CALENDAR_START_TIME, original);
		icalcomponent_set_recurrenceid(event, utc(original));
		icalcomponent_set_dtstart(event, utc(moved));
		icalcomponent_set_dtend(event, utc(pim_fields_time(e, WBXML_CALENDAR_END_TIME, moved + length)));
		const char *subject = pim_fields_text(e, WBXML_CALENDAR_SUBJECT);
		icalcomponent_set_summary(event, subject[0] != '\0' ? subject : pim_fields_text(f, WBXML_CALENDAR_SUBJECT));
		icalcomponent_add_component(calendar, event);
	}
}

/* The VCALENDAR of a REQUEST (the whole meeting) or a CANCEL (the meeting called off), in arena. */
static const char *invitation_calendar(struct arena *arena, const struct wbxml_node *f, const char *uid,
				       const struct pim_itip_change *c, bool cancel)
{
	icalcomponent *event = event_named(uid, c);
	pim_ical_event_properties(event, f);
	add_attendees(event, f, c->user);
	const char *body = pim_interchange_body_text(f);
	if (body[0] != '\0')
		icalcomponent_set_description(event, body);
	if (cancel)
		icalcomponent_set_status(event, ICAL_STATUS_CANCELLED);
	icalcomponent *calendar = icalcomponent_vanew(ICAL_VCALENDAR_COMPONENT, icalproperty_new_version("2.0"),
						      icalproperty_new_prodid("-//easd//EN"),
						      icalproperty_new_method(cancel ? ICAL_METHOD_CANCEL : ICAL_METHOD_REQUEST),
						      event, (void *)0);
	if (!cancel)
		add_moved_occurrences(calendar, f, uid, c);
	const char *text = icalcomponent_as_ical_string(calendar);
	const char *copy = arena_strndup(arena, text, strlen(text));
	icalcomponent_free(calendar);
	return copy;
}

static struct pim_itip_outgoing message(struct arena *arena, const struct wbxml_node *f, const char *uid,
					const struct pim_itip_change *c, bool cancel, const char *const *to, unsigned count)
{
	const char *subject = pim_fields_text(f, WBXML_CALENDAR_SUBJECT);
	char *line = g_strdup_printf("%s%s", cancel ? "Canceled: " : "", subject);
	struct pim_imip m = { .from = c->address, .from_name = c->name, .to = to, .to_count = count,
			      .subject = arena_strndup(arena, line, strlen(line)),
			      .plain = cancel ? "This meeting has been canceled." : pim_interchange_body_text(f),
			      .calendar = invitation_calendar(arena, f, uid, c, cancel),
			      .method = cancel ? "CANCEL" : "REQUEST" };
	g_free(line);
	return (struct pim_itip_outgoing){ m.method, to, count, pim_imip_message(arena, &m, c->now) };
}

/* Addresses of a that b does not list (with_b: and then b's, each once): in arena. */
static unsigned combine(struct arena *arena, const char *const *a, unsigned a_count, const char *const *b,
			unsigned b_count, bool with_b, const char ***out)
{
	unsigned count = 0;
	GHashTable *seen = address_set(b, b_count);
	*out = arena_calloc(arena, a_count + b_count + 1, sizeof(**out));
	for (unsigned i = 0; i < a_count; i++)
		if (!in_set(seen, a[i])) {
			(*out)[count++] = a[i];
			g_hash_table_add(seen, g_ascii_strdown(a[i], -1));
		}
	for (unsigned i = 0; with_b && i < b_count; i++)
		(*out)[count++] = b[i];
	g_hash_table_destroy(seen);
	return count;
}

/* The attendees told, before and after: NULL lists when none, or when either is over the limit (*too_many). */
struct attendee_lists {
	const char **before, **after;
	unsigned before_count, after_count;
};

static bool lists_of(struct arena *arena, const struct wbxml_node *before, const struct wbxml_node *after,
		     const struct pim_itip_change *c, struct attendee_lists *l)
{
	memset(l, 0, sizeof(*l));
	l->before_count = before != NULL ? attendees_of(arena, before, c->user, &l->before) : 0;
	l->after_count = after != NULL ? attendees_of(arena, after, c->user, &l->after) : 0;
	return l->before_count <= c->max_recipients && l->after_count <= c->max_recipients;
}

int pim_itip_organizer_messages(struct arena *arena, const struct pim_itip_change *change, const char **uid_out,
				struct pim_itip_outgoing out[2])
{
	struct wbxml_node *before = event_tree(arena, change->before, change->before_len);
	struct wbxml_node *after = event_tree(arena, change->after, change->after_len);
	bool was = organized_by_user(before, change->user), is = organized_by_user(after, change->user);
	if (!was && !is)
		return 0;
	const struct wbxml_node *f = is ? after : before;
	const char *uid = *uid_out = meeting_uid(f);
	struct attendee_lists l;
	if (!lists_of(arena, was ? before : NULL, is ? after : NULL, change, &l))
		return PIM_ITIP_TOO_MANY_ATTENDEES;
	bool called_off = !is || (meeting_status(after) & CANCELLED_BIT);
	bool update = is && l.after_count > 0 && (!was || seen_by_attendees(before) != seen_by_attendees(after));
	const char **gone;
	/* Called off: everyone invited hears it is off, once; else those taken off. */
	unsigned gone_count = called_off && was && (meeting_status(before) & CANCELLED_BIT)
				      ? 0
				      : combine(arena, (const char *const *)l.before, l.before_count,
						(const char *const *)l.after, l.after_count, called_off, &gone);
	if (gone_count == 0 && (called_off || !update))
		return 0;
	struct pim_itip_change c = *change;
	if (c.sequence_of(c.context, uid, &c.sequence) < 0)
		return -1;
	int n = 0;
	if (gone_count > 0)
		out[n++] = message(arena, called_off ? f : before, uid, &c, true, gone, gone_count);
	if (!called_off && update)
		out[n++] = message(arena, after, uid, &c, false, l.after, l.after_count);
	return n;
}
