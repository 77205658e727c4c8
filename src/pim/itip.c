/*
 * itip.c: meeting messages in mail (see itip.h). The text/calendar part is
 * read with libical into the calendar class's fields, as an import is
 * (ical.c), plus what only a meeting has: the organizer, the attendees
 * and their answers, and "received" in MeetingStatus.
 */
#include "pim/itip.h"
#include "pim/calendar.h"
#include "pim/interchange.h"
#include "pim/pim_private.h"

#include <string.h>
#include <strings.h>

/* MeetingStatus (MS-ASCAL 2.2.2.29): a meeting, received (the user is not the organizer), cancelled. */
#define MEETING_RECEIVED "3"
#define MEETING_RECEIVED_CANCELLED "7"

/* ---- reading ---- */

static const char *copy(struct arena *arena, const char *text)
{
	return arena_strndup(arena, text != NULL ? text : "", text != NULL ? strlen(text) : 0);
}

/* "mailto:alice@example.org" as "alice@example.org". */
static const char *address_of(const char *value)
{
	if (value == NULL)
		return "";
	return strncasecmp(value, "mailto:", 7) == 0 ? value + 7 : value;
}

static const char *common_name(icalproperty *p)
{
	icalparameter *cn = icalproperty_get_first_parameter(p, ICAL_CN_PARAMETER);
	return cn != NULL ? icalparameter_get_cn(cn) : NULL;
}

/* PARTSTAT as AttendeeStatus (MS-ASCAL 2.2.2.5): 3 accepted, 2 tentative, 4 declined, 5 not responded. */
static const char *attendee_status(icalproperty *p)
{
	icalparameter *partstat = icalproperty_get_first_parameter(p, ICAL_PARTSTAT_PARAMETER);
	switch (partstat != NULL ? icalparameter_get_partstat(partstat) : ICAL_PARTSTAT_NEEDSACTION) {
	case ICAL_PARTSTAT_ACCEPTED: return "3";
	case ICAL_PARTSTAT_TENTATIVE: return "2";
	case ICAL_PARTSTAT_DECLINED: return "4";
	case ICAL_PARTSTAT_NEEDSACTION: return "5";
	default: return "0";
	}
}

/* ROLE and CUTYPE as AttendeeType (MS-ASCAL 2.2.2.6): 1 required, 2 optional, 3 resource. */
static const char *attendee_type(icalproperty *p)
{
	icalparameter *cutype = icalproperty_get_first_parameter(p, ICAL_CUTYPE_PARAMETER);
	icalparameter *role = icalproperty_get_first_parameter(p, ICAL_ROLE_PARAMETER);
	icalparameter_cutype kind = cutype != NULL ? icalparameter_get_cutype(cutype) : ICAL_CUTYPE_INDIVIDUAL;
	if (kind == ICAL_CUTYPE_RESOURCE || kind == ICAL_CUTYPE_ROOM)
		return "3";
	return role != NULL && icalparameter_get_role(role) == ICAL_ROLE_OPTPARTICIPANT ? "2" : "1";
}

static bool asks_answer(icalproperty *p)
{
	icalparameter *rsvp = icalproperty_get_first_parameter(p, ICAL_RSVP_PARAMETER);
	return rsvp != NULL && icalparameter_get_rsvp(rsvp) == ICAL_RSVP_TRUE;
}

/* Organizer and attendees; ResponseRequested when the user's ATTENDEE asks for an answer. */
static void add_people(struct arena *arena, struct wbxml_node *fields, icalcomponent *event, const char *user)
{
	icalproperty *organizer = icalcomponent_get_first_property(event, ICAL_ORGANIZER_PROPERTY);
	if (organizer != NULL) {
		pim_interchange_set(arena, fields, WBXML_CALENDAR_ORGANIZER_EMAIL, address_of(icalproperty_get_organizer(organizer)));
		pim_interchange_set(arena, fields, WBXML_CALENDAR_ORGANIZER_NAME, common_name(organizer));
	}
	struct wbxml_node *attendees = NULL;
	for (icalproperty *p = icalcomponent_get_first_property(event, ICAL_ATTENDEE_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(event, ICAL_ATTENDEE_PROPERTY)) {
		const char *address = address_of(icalproperty_get_attendee(p));
		if (address[0] == '\0')
			continue;
		if (attendees == NULL)
			attendees = pim_fields_new(arena, fields, WBXML_CALENDAR_ATTENDEES);
		struct wbxml_node *attendee = pim_fields_new(arena, attendees, WBXML_CALENDAR_ATTENDEE);
		pim_interchange_set(arena, attendee, WBXML_CALENDAR_EMAIL, address);
		pim_interchange_set(arena, attendee, WBXML_CALENDAR_NAME, common_name(p));
		pim_interchange_set(arena, attendee, WBXML_CALENDAR_ATTENDEE_STATUS, attendee_status(p));
		pim_interchange_set(arena, attendee, WBXML_CALENDAR_ATTENDEE_TYPE, attendee_type(p));
		if (calendar_is_user(address, user) && asks_answer(p))
			pim_interchange_set(arena, fields, WBXML_CALENDAR_RESPONSE_REQUESTED, "1");
	}
}

/* A REQUEST's event as the attendee keeps it: not answered yet, tentatively busy (as Exchange shows it). */
static struct wbxml_node *meeting_fields(struct arena *arena, icalcomponent *event, const char *user, int64_t dtstamp)
{
	struct wbxml_node *fields = pim_ical_event_fields(arena, event);
	add_people(arena, fields, event, user);
	pim_fields_set(arena, fields, WBXML_CALENDAR_MEETING_STATUS, MEETING_RECEIVED);
	icalproperty *transp = icalcomponent_get_first_property(event, ICAL_TRANSP_PROPERTY);
	bool transparent = transp != NULL && icalproperty_get_transp(transp) == ICAL_TRANSP_TRANSPARENT;
	pim_fields_set(arena, fields, WBXML_CALENDAR_BUSY_STATUS, transparent ? "0" : "1");
	pim_fields_set(arena, fields, WBXML_CALENDAR_RESPONSE_TYPE, "5");
	if (dtstamp > 0)
		pim_fields_set(arena, fields, WBXML_CALENDAR_DT_STAMP, pim_fields_compact_time(arena, dtstamp));
	return fields;
}

static int64_t recurrence_id(icalcomponent *event)
{
	struct icaltimetype id = icalcomponent_get_recurrenceid(event);
	return icaltime_is_null_time(id) ? 0 : pim_ical_seconds(id);
}

static void read_calendar(struct arena *arena, icalcomponent *calendar, const char *user, struct pim_itip *out)
{
	icalcomponent *main = NULL;
	for (icalcomponent *c = icalcomponent_get_first_component(calendar, ICAL_VEVENT_COMPONENT); c != NULL;
	     c = icalcomponent_get_next_component(calendar, ICAL_VEVENT_COMPONENT))
		if (main == NULL || (recurrence_id(main) != 0 && recurrence_id(c) == 0))
			main = c; /* the series when the message has it, else its (first) occurrence */
	if (main == NULL || icalcomponent_get_uid(main) == NULL || icalcomponent_get_uid(main)[0] == '\0')
		return;
	icalproperty_method method = icalcomponent_get_method(calendar);
	out->method = method == ICAL_METHOD_REQUEST ? PIM_ITIP_REQUEST
		      : method == ICAL_METHOD_CANCEL ? PIM_ITIP_CANCEL
						     : PIM_ITIP_OTHER;
	out->uid = copy(arena, icalcomponent_get_uid(main));
	out->sequence = icalcomponent_get_sequence(main);
	struct icaltimetype stamp = icalcomponent_get_dtstamp(main);
	out->dtstamp = icaltime_is_null_time(stamp) ? 0 : pim_ical_seconds(stamp);
	out->recurrence_id = recurrence_id(main);
	icalproperty *organizer = icalcomponent_get_first_property(main, ICAL_ORGANIZER_PROPERTY);
	out->organizer = copy(arena, organizer != NULL ? address_of(icalproperty_get_organizer(organizer)) : "");
	out->organized_by_user = calendar_is_user(out->organizer, user);
	if (out->method != PIM_ITIP_REQUEST)
		return;
	out->fields = meeting_fields(arena, main, user, out->dtstamp);
	for (icalcomponent *c = icalcomponent_get_first_component(calendar, ICAL_VEVENT_COMPONENT); c != NULL;
	     c = icalcomponent_get_next_component(calendar, ICAL_VEVENT_COMPONENT))
		if (c != main && out->recurrence_id == 0 && recurrence_id(c) != 0)
			pim_ical_add_exception(arena, out->fields, recurrence_id(c), c);
}

static bool is_calendar(GMimeObject *object)
{
	return GMIME_IS_PART(object) &&
	       g_mime_content_type_is_type(g_mime_object_get_content_type(object), "text", "calendar");
}

/* The first text/calendar part, at the root or inside it. */
static GMimePart *calendar_part(GMimeObject *root)
{
	if (root == NULL || is_calendar(root))
		return root != NULL ? GMIME_PART(root) : NULL;
	GMimePart *found = NULL;
	GMimePartIter *iter = g_mime_part_iter_new(root);
	do {
		GMimeObject *current = g_mime_part_iter_get_current(iter);
		if (current != NULL && is_calendar(current))
			found = GMIME_PART(current);
	} while (found == NULL && g_mime_part_iter_next(iter));
	g_mime_part_iter_free(iter);
	return found;
}

void pim_itip_read(struct arena *arena, const uint8_t *mime, size_t len, const char *user, struct pim_itip *out)
{
	struct pim_message message;
	memset(out, 0, sizeof(*out));
	out->organizer = "";
	pim_init();
	if (len == 0 || pim_message_parse(arena, pim_memory_stream(arena, mime, len), &message) < 0)
		return;
	GMimePart *part = calendar_part(g_mime_message_get_mime_part(message.message));
	if (part == NULL)
		return;
	icalcomponent *calendar = icalparser_parse_string(pim_part_text_copy(arena, part, LIMIT_ITIP_BYTES));
	if (calendar != NULL && icalcomponent_isa(calendar) == ICAL_VCALENDAR_COMPONENT)
		read_calendar(arena, calendar, user, out);
	if (calendar != NULL)
		icalcomponent_free(calendar);
}

/* ---- applying ---- */

/* What the user set on an invitation: an organizer's update leaves it as it was. */
static const enum wbxml_tag personal[] = {
	WBXML_CALENDAR_REMINDER, WBXML_CALENDAR_CATEGORIES, WBXML_CALENDAR_BUSY_STATUS,
	WBXML_CALENDAR_RESPONSE_TYPE, WBXML_CALENDAR_APPOINTMENT_REPLY_TIME,
};

static struct wbxml_node *request_series(struct arena *arena, const struct pim_itip *itip, const struct wbxml_node *stored)
{
	struct wbxml_node *fields = itip->fields;
	for (size_t i = 0; stored != NULL && i < sizeof(personal) / sizeof(personal[0]); i++) {
		const struct wbxml_node *mine = pim_fields_find(stored, personal[i]);
		if (mine != NULL) {
			pim_fields_remove(fields, personal[i]);
			pim_fields_adopt(arena, fields, mine);
		}
	}
	/* Occurrences changed or cancelled earlier stay so unless the organizer sent them anew. */
	const struct wbxml_node *exceptions = stored != NULL ? pim_fields_find(stored, WBXML_CALENDAR_EXCEPTIONS) : NULL;
	if (exceptions != NULL && pim_fields_find(fields, WBXML_CALENDAR_EXCEPTIONS) == NULL)
		pim_fields_adopt(arena, fields, exceptions);
	return fields;
}

/* A copy of stored's top-level fields but the one of tag, to which the caller adds its own. */
static struct wbxml_node *copy_without(struct arena *arena, const struct wbxml_node *stored, enum wbxml_tag tag)
{
	struct wbxml_node *fields = pim_fields_new(arena, NULL, WBXML_AIRSYNC_APPLICATION_DATA);
	for (const struct wbxml_node *n = stored->first_child; n != NULL; n = n->next)
		if (n->tag != tag)
			pim_fields_adopt(arena, fields, n);
	return fields;
}

/* The series with the occurrence at itip->recurrence_id replaced: deleted (occurrence NULL) or as the organizer sent it. */
static struct wbxml_node *set_occurrence(struct arena *arena, const struct pim_itip *itip,
					 const struct wbxml_node *stored, const struct wbxml_node *occurrence)
{
	static const enum wbxml_tag kept[] = { WBXML_CALENDAR_SUBJECT, WBXML_CALENDAR_START_TIME, WBXML_CALENDAR_END_TIME };
	struct wbxml_node *fields = copy_without(arena, stored, WBXML_CALENDAR_EXCEPTIONS);
	const struct wbxml_node *old = pim_fields_find(stored, WBXML_CALENDAR_EXCEPTIONS);
	struct wbxml_node *exceptions = pim_fields_new(arena, fields, WBXML_CALENDAR_EXCEPTIONS);
	for (const struct wbxml_node *e = old != NULL ? old->first_child : NULL; e != NULL; e = e->next)
		if (pim_fields_time(e, WBXML_CALENDAR_EXCEPTION_START_TIME, 0) != itip->recurrence_id)
			pim_fields_adopt(arena, exceptions, e);
	struct wbxml_node *exception = pim_fields_new(arena, exceptions, WBXML_CALENDAR_EXCEPTION);
	pim_fields_set(arena, exception, WBXML_CALENDAR_EXCEPTION_START_TIME,
		       pim_fields_compact_time(arena, itip->recurrence_id));
	if (occurrence == NULL) {
		pim_fields_set(arena, exception, WBXML_CALENDAR_DELETED, "1");
		return fields;
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		pim_interchange_set(arena, exception, kept[i], pim_fields_text(occurrence, kept[i]));
	return fields;
}

struct wbxml_node *pim_itip_apply(struct arena *arena, const struct pim_itip *itip, const struct wbxml_node *stored)
{
	if (itip->method == PIM_ITIP_REQUEST && (stored == NULL || itip->recurrence_id == 0))
		return request_series(arena, itip, stored);
	if (stored == NULL || (itip->method != PIM_ITIP_REQUEST && itip->method != PIM_ITIP_CANCEL))
		return NULL;
	if (itip->method == PIM_ITIP_CANCEL && itip->recurrence_id == 0) {
		struct wbxml_node *fields = copy_without(arena, stored, WBXML_CALENDAR_MEETING_STATUS);
		pim_fields_set(arena, fields, WBXML_CALENDAR_MEETING_STATUS, MEETING_RECEIVED_CANCELLED);
		return fields;
	}
	return set_occurrence(arena, itip, stored, itip->method == PIM_ITIP_CANCEL ? NULL : itip->fields);
}

int pim_itip_event(struct arena *arena, const struct pim_itip *itip, const char *user, int64_t now,
		   const uint8_t *stored, size_t stored_len, struct pim_update *update_out)
{
	struct pim_source source;
	struct pim_item item = { .content = &source };
	const struct wbxml_node *old = NULL;
	if (stored != NULL) {
		pim_source_memory(&source, stored, stored_len);
		old = pim_fields_tree(arena, &item);
	}
	/* Anyone who knows a meeting's UID can mail a REQUEST or CANCEL for it (RFC 5546 6.1): only its organizer's count. */
	const char *organizer = old != NULL ? pim_fields_text(old, WBXML_CALENDAR_ORGANIZER_EMAIL) : "";
	if (organizer[0] != '\0' && strcasecmp(organizer, itip->organizer) != 0)
		return 2;
	struct wbxml_node *fields = pim_itip_apply(arena, itip, old);
	if (fields == NULL)
		return 1;
	struct pim_author author = { .protocol_version = 161, .folder_type = 8 /* MS-ASCMD: the default Calendar */, .user = user, .now = now,
				     .keep_omitted = true };
	struct pim_input input = { .data = fields };
	if (pim_class_calendar.create(&pim_class_calendar, arena, &author, &input, update_out) < 0)
		return -1;
	update_out->message_id = itip->uid; /* the next update of the meeting finds it by its UID */
	update_out->client_uid = false;
	return update_out->invalid != NULL ? -1 : 0;
}
