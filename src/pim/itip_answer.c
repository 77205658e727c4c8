/*
 * itip_answer.c: the user's answer to a meeting (MeetingResponse; see
 * itip.h): what it changes in their event, and the iTIP REPLY that tells
 * the organizer (RFC 5546 3.2.3), built with libical and GMime.
 */
#include "pim/itip.h"
#include "pim/calendar.h"
#include "pim/interchange.h"
#include "pim/pim_private.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* ResponseType and AttendeeStatus (MS-ASCAL 2.2.2.38, 2.2.2.5), and BusyStatus (2.2.2.9) of each answer. */
static const char *const answer_status[] = { [PIM_ITIP_ACCEPT] = "3", [PIM_ITIP_TENTATIVE] = "2", [PIM_ITIP_DECLINE] = "4" };
static const char *const answer_busy[] = { [PIM_ITIP_ACCEPT] = "2", [PIM_ITIP_TENTATIVE] = "1", [PIM_ITIP_DECLINE] = "0" };

static void set_answer(struct arena *arena, struct wbxml_node *node, enum pim_itip_answer answer, int64_t now)
{
	pim_fields_set(arena, node, WBXML_CALENDAR_RESPONSE_TYPE, answer_status[answer]);
	pim_fields_set(arena, node, WBXML_CALENDAR_BUSY_STATUS, answer_busy[answer]);
	pim_fields_set(arena, node, WBXML_CALENDAR_APPOINTMENT_REPLY_TIME, pim_fields_compact_time(arena, now));
}

/* The user's entry among the attendees (the address the organizer invited), or NULL. */
static struct wbxml_node *own_entry(struct wbxml_node *fields, const char *user)
{
	struct wbxml_node *attendees = pim_fields_find(fields, WBXML_CALENDAR_ATTENDEES);
	for (struct wbxml_node *a = attendees != NULL ? attendees->first_child : NULL; a != NULL; a = a->next)
		if (calendar_is_user(pim_fields_text(a, WBXML_CALENDAR_EMAIL), user))
			return a;
	return NULL;
}

/* The series' exception for an occurrence (its original start), made when there is none. */
static struct wbxml_node *exception_at(struct arena *arena, struct wbxml_node *fields, int64_t occurrence)
{
	struct wbxml_node *exceptions = pim_fields_find(fields, WBXML_CALENDAR_EXCEPTIONS);
	if (exceptions == NULL)
		exceptions = pim_fields_new(arena, fields, WBXML_CALENDAR_EXCEPTIONS);
	for (struct wbxml_node *e = exceptions->first_child; e != NULL; e = e->next)
		if (pim_fields_time(e, WBXML_CALENDAR_EXCEPTION_START_TIME, 0) == occurrence)
			return e;
	struct wbxml_node *e = pim_fields_new(arena, exceptions, WBXML_CALENDAR_EXCEPTION);
	pim_fields_set(arena, e, WBXML_CALENDAR_EXCEPTION_START_TIME, pim_fields_compact_time(arena, occurrence));
	return e;
}

static void describe(struct arena *arena, const struct wbxml_node *fields, int64_t occurrence,
		     struct pim_itip_meeting *meeting)
{
	int64_t start = pim_fields_time(fields, WBXML_CALENDAR_START_TIME, 0);
	int64_t end = pim_fields_time(fields, WBXML_CALENDAR_END_TIME, start);
	meeting->uid = arena_strndup(arena, pim_fields_text(fields, WBXML_CALENDAR_UID),
				     strlen(pim_fields_text(fields, WBXML_CALENDAR_UID)));
	meeting->organizer = pim_fields_text(fields, WBXML_CALENDAR_ORGANIZER_EMAIL);
	meeting->subject = pim_fields_text(fields, WBXML_CALENDAR_SUBJECT);
	meeting->occurrence = occurrence;
	meeting->proposals_disallowed = strcmp(pim_fields_text(fields, WBXML_CALENDAR_DISALLOW_NEW_TIME_PROPOSAL), "1") == 0;
	meeting->start = occurrence != 0 ? occurrence : start;
	meeting->end = meeting->start + (end - start);
}

int pim_itip_answer_event(struct arena *arena, const uint8_t *stored, size_t stored_len, const char *user,
			  enum pim_itip_answer answer, const char *instance, int64_t occurrence, int64_t now,
			  struct pim_update *update_out, bool *remove_out, struct pim_itip_meeting *meeting_out)
{
	if (instance != NULL && instance[0] != '\0' && (pim_fields_parse_time(instance, &occurrence) < 0 || occurrence == 0))
		return -1;
	struct pim_source source;
	struct pim_item item = { .content = &source };
	pim_source_memory(&source, stored, stored_len);
	struct wbxml_node *fields = pim_fields_tree(arena, &item);
	*remove_out = false;
	memset(meeting_out, 0, sizeof(*meeting_out));
	const char *organizer = fields != NULL ? pim_fields_text(fields, WBXML_CALENDAR_ORGANIZER_EMAIL) : "";
	if (fields == NULL || organizer[0] == '\0' || calendar_is_user(organizer, user) ||
	    pim_fields_text(fields, WBXML_CALENDAR_UID)[0] == '\0')
		return -1;
	describe(arena, fields, occurrence, meeting_out);
	struct wbxml_node *own = own_entry(fields, user);
	meeting_out->attendee = own != NULL ? pim_fields_text(own, WBXML_CALENDAR_EMAIL) : NULL;
	if (occurrence == 0 && answer == PIM_ITIP_DECLINE) {
		*remove_out = true; /* as Exchange does: a declined meeting leaves the calendar */
		return 0;
	}
	if (occurrence == 0) {
		set_answer(arena, fields, answer, now);
		if (own != NULL)
			pim_fields_set(arena, own, WBXML_CALENDAR_ATTENDEE_STATUS, answer_status[answer]);
	} else if (answer == PIM_ITIP_DECLINE) {
		pim_fields_set(arena, exception_at(arena, fields, occurrence), WBXML_CALENDAR_DELETED, "1");
	} else {
		set_answer(arena, exception_at(arena, fields, occurrence), answer, now);
	}
	struct pim_author author = { .protocol_version = 161, .folder_type = 8 /* MS-ASCMD: the default Calendar */,
				     .user = user, .now = now, .keep_omitted = true };
	struct pim_input input = { .data = fields };
	if (pim_class_calendar.create(&pim_class_calendar, arena, &author, &input, update_out) < 0)
		return -1;
	return update_out->invalid != NULL ? -1 : 0;
}

/* ---- the REPLY ---- */

int pim_itip_proposal(const char *start, const char *end, int64_t *start_out, int64_t *end_out)
{
	/* Compact DateTime is 16 characters ("20261217T100000Z"): nothing longer, nothing looser. */
	if (strlen(start) != 16 || strlen(end) != 16 || pim_fields_parse_time(start, start_out) < 0 ||
	    pim_fields_parse_time(end, end_out) < 0 || *start_out <= 0 || *end_out < *start_out)
		return -1;
	return 0;
}

static struct icaltimetype utc(int64_t t)
{
	return icaltime_from_timet_with_zone((time_t)t, 0, icaltimezone_get_utc_timezone());
}

/*
 * The VCALENDAR with METHOD:REPLY and the user as the one attendee (RFC
 * 5546 3.2.3), or METHOD:COUNTER with the proposed times in DTSTART and
 * DTEND (3.2.7, as Outlook's "propose new time" sends), in arena.
 */
static const char *reply_calendar(struct arena *arena, const struct pim_itip_meeting *meeting, const char *address,
				  const char *name, enum pim_itip_answer answer, int64_t now)
{
	static const icalparameter_partstat partstat[] = {
		[PIM_ITIP_ACCEPT] = ICAL_PARTSTAT_ACCEPTED, [PIM_ITIP_TENTATIVE] = ICAL_PARTSTAT_TENTATIVE,
		[PIM_ITIP_DECLINE] = ICAL_PARTSTAT_DECLINED };
	icalcomponent *event = icalcomponent_new(ICAL_VEVENT_COMPONENT);
	icalcomponent_set_uid(event, meeting->uid);
	icalcomponent_set_sequence(event, (int)meeting->sequence);
	icalcomponent_set_dtstamp(event, utc(now));
	bool counter = meeting->proposed_start != 0;
	icalcomponent_set_dtstart(event, utc(counter ? meeting->proposed_start : meeting->start));
	icalcomponent_set_dtend(event, utc(counter ? meeting->proposed_end : meeting->end));
	if (meeting->occurrence != 0)
		icalcomponent_set_recurrenceid(event, utc(meeting->occurrence));
	icalcomponent_set_summary(event, meeting->subject);
	char *organizer = g_strdup_printf("mailto:%s", meeting->organizer), *attendee = g_strdup_printf("mailto:%s", address);
	icalcomponent_add_property(event, icalproperty_new_organizer(organizer));
	icalproperty *me = icalproperty_new_attendee(attendee);
	icalproperty_add_parameter(me, icalparameter_new_partstat(partstat[answer]));
	if (name != NULL && name[0] != '\0')
		icalproperty_add_parameter(me, icalparameter_new_cn(name));
	icalcomponent_add_property(event, me);
	icalcomponent *calendar = icalcomponent_vanew(ICAL_VCALENDAR_COMPONENT, icalproperty_new_version("2.0"),
						      icalproperty_new_prodid("-//easd//EN"),
						      icalproperty_new_method(counter ? ICAL_METHOD_COUNTER : ICAL_METHOD_REPLY),
						      event, (void *)0);
	const char *text = icalcomponent_as_ical_string(calendar);
	const char *copy = arena_strndup(arena, text, strlen(text));
	icalcomponent_free(calendar);
	g_free(organizer);
	g_free(attendee);
	return copy;
}

/* What a person reads beside the calendar part: the answer, and the time proposed if any. */
static const char *plain_text(struct arena *arena, const struct pim_itip_meeting *meeting, const char *verb)
{
	if (meeting->proposed_start == 0)
		return verb;
	char from[32], to[32], text[128];
	time_t start = (time_t)meeting->proposed_start, end = (time_t)meeting->proposed_end;
	struct tm tm;
	strftime(from, sizeof(from), "%Y-%m-%d %H:%M", gmtime_r(&start, &tm));
	strftime(to, sizeof(to), "%Y-%m-%d %H:%M", gmtime_r(&end, &tm));
	snprintf(text, sizeof(text), "%s; new time proposed: %s to %s UTC", verb, from, to);
	return arena_strndup(arena, text, strlen(text));
}

static GMimeTextPart *text_part(const char *subtype, const char *text)
{
	GMimeTextPart *part = g_mime_text_part_new_with_subtype(subtype);
	g_mime_text_part_set_text(part, text);
	return part;
}

struct slice pim_imip_message(struct arena *arena, const struct pim_imip *m, int64_t now)
{
	pim_init();
	GMimeMessage *message = g_mime_message_new(TRUE);
	pim_arena_unref(arena, message);
	g_mime_message_add_mailbox(message, GMIME_ADDRESS_TYPE_FROM, m->from_name, m->from);
	for (unsigned i = 0; i < m->to_count; i++)
		g_mime_message_add_mailbox(message, GMIME_ADDRESS_TYPE_TO, NULL, m->to[i]);
	g_mime_message_set_subject(message, m->subject, "utf-8");
	const char *at = strrchr(m->from, '@');
	char *id = g_mime_utils_generate_message_id(at != NULL ? at + 1 : "localhost");
	g_mime_message_set_message_id(message, id);
	g_free(id);
	GDateTime *date = g_date_time_new_from_unix_utc(now);
	g_mime_message_set_date(message, date);
	g_date_time_unref(date);
	GMimeMultipart *alternative = g_mime_multipart_new_with_subtype("alternative");
	GMimeTextPart *plain = text_part("plain", m->plain);
	GMimeTextPart *ical = text_part("calendar", m->calendar);
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(ical), "method", m->method);
	g_mime_multipart_add(alternative, GMIME_OBJECT(plain));
	g_mime_multipart_add(alternative, GMIME_OBJECT(ical));
	g_mime_message_set_mime_part(message, GMIME_OBJECT(alternative));
	g_object_unref(plain);
	g_object_unref(ical);
	g_object_unref(alternative);
	size_t len;
	const uint8_t *bytes = pim_message_bytes(arena, message, &len);
	return (struct slice){ bytes, len };
}

struct slice pim_itip_reply(struct arena *arena, const struct pim_itip_meeting *meeting, const char *address,
			    const char *name, enum pim_itip_answer answer, int64_t now)
{
	static const char *const verbs[] = { [PIM_ITIP_ACCEPT] = "Accepted", [PIM_ITIP_TENTATIVE] = "Tentative",
					     [PIM_ITIP_DECLINE] = "Declined" };
	bool counter = meeting->proposed_start != 0;
	char *subject = g_strdup_printf("%s: %s", counter ? "New Time Proposed" : verbs[answer], meeting->subject);
	struct pim_imip m = { .from = address, .from_name = name, .to = &meeting->organizer, .to_count = 1,
			      .subject = arena_strndup(arena, subject, strlen(subject)),
			      .plain = plain_text(arena, meeting, verbs[answer]),
			      .calendar = reply_calendar(arena, meeting, address, name, answer, now),
			      .method = counter ? "COUNTER" : "REPLY" };
	g_free(subject);
	return pim_imip_message(arena, &m, now);
}
