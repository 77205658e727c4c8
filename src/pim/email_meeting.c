/*
 * email_meeting.c: a meeting message in a mail folder as the Email class
 * shows it (MS-ASEMAIL 2.2.2.48): the MessageClass of an invitation or a
 * cancellation and the MeetingRequest element, from which a device shows
 * the meeting with Accept, Tentative and Decline and answers it with
 * MeetingResponse (src/eas/meetingresponse.c).
 *
 * Owns: reading the message's first text/calendar part for that view, and
 * the GlobalObjId (MS-OXOCAL 2.2.1.27). The part is the one the MIME walk
 * noted (email_mime.c), so other mail costs nothing here. It is read as
 * pim_itip_read reads it (the first text/calendar part, its series or else
 * its first occurrence, METHOD REQUEST or CANCEL, a UID, another
 * organizer), so what a device is offered to answer is what
 * MeetingResponse accepts; the event's times, zone, location and pattern
 * are ical.c's calendar fields, as the calendar gets them at delivery.
 *
 * Must not: change the calendar (itip.c does, at delivery), know the store.
 */
#include "pim/calendar.h"
#include "pim/interchange.h"
#include "pim/pim_private.h"

#include <string.h>
#include <strings.h>
#include <time.h>

struct pim_meeting {
	bool cancel;
	const char *uid;
	int64_t sequence;
	int64_t dtstamp;            /* Unix seconds; 0: none */
	int64_t recurrence_id;      /* the occurrence's original start; 0: the series */
	const char *organizer;      /* "\"Name\" <address>", the address, or "" */
	bool response_requested;
	bool disallow_new_time;
	uint8_t sensitivity, busy_status;
	int64_t reminder;           /* minutes before the start; -1: none */
	struct wbxml_node *fields;  /* the event as calendar fields (ical.c) */
};

/* ---- reading the calendar part ---- */

static int64_t recurrence_id(icalcomponent *event)
{
	struct icaltimetype id = icalcomponent_get_recurrenceid(event);
	return icaltime_is_null_time(id) ? 0 : pim_ical_seconds(id);
}

/* The series when the message has it, else its first occurrence (as pim_itip_read chooses). */
static icalcomponent *main_event(icalcomponent *calendar)
{
	icalcomponent *main = NULL;
	for (icalcomponent *c = icalcomponent_get_first_component(calendar, ICAL_VEVENT_COMPONENT); c != NULL;
	     c = icalcomponent_get_next_component(calendar, ICAL_VEVENT_COMPONENT))
		if (main == NULL || (recurrence_id(main) != 0 && recurrence_id(c) == 0))
			main = c;
	return main;
}

/* "mailto:alice@example.org" as "alice@example.org". */
static const char *address_of(const char *value)
{
	if (value == NULL)
		return "";
	return strncasecmp(value, "mailto:", 7) == 0 ? value + 7 : value;
}

/* The value of the event's first X- property of that name, or NULL. */
static const char *x_value(icalcomponent *event, const char *name)
{
	for (icalproperty *p = icalcomponent_get_first_property(event, ICAL_X_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(event, ICAL_X_PROPERTY))
		if (strcasecmp(icalproperty_get_x_name(p), name) == 0)
			return icalproperty_get_x(p);
	return NULL;
}

/*
 * MS-ASEMAIL 2.2.2.57 Organizer as Exchange writes it, a mailbox with the
 * display name quoted ("Carol" <carol@example.org>): Android's client
 * reads the address out of it to send its reply (EasSyncService,
 * sendMeetingResponseMail). Without a CN, the bare address.
 */
static const char *organizer_text(struct arena *arena, icalcomponent *event, const char **address_out)
{
	icalproperty *organizer = icalcomponent_get_first_property(event, ICAL_ORGANIZER_PROPERTY);
	const char *address = pim_utf8_copy(arena, organizer != NULL ? address_of(icalproperty_get_organizer(organizer)) : "");
	icalparameter *cn = organizer != NULL ? icalproperty_get_first_parameter(organizer, ICAL_CN_PARAMETER) : NULL;
	const char *name = cn != NULL ? icalparameter_get_cn(cn) : NULL;
	*address_out = address;
	if (name == NULL || name[0] == '\0' || address[0] == '\0')
		return address;
	struct buf text;
	buf_init(&text, 0);
	buf_append_byte(&text, '"');
	for (const char *c = name; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			buf_append_byte(&text, '\\'); /* RFC 5322 3.2.4 quoted-pair */
		buf_append_byte(&text, (uint8_t)*c);
	}
	buf_printf(&text, "\" <%s>", address);
	buf_append_byte(&text, '\0');
	const char *copy = pim_utf8_copy(arena, (const char *)text.data);
	buf_cleanup(&text);
	return copy;
}

/* Whether the user's ATTENDEE asks for an answer (RSVP=TRUE); for a user not known, any ATTENDEE's. */
static bool answer_requested(icalcomponent *event, const char *user)
{
	for (icalproperty *p = icalcomponent_get_first_property(event, ICAL_ATTENDEE_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(event, ICAL_ATTENDEE_PROPERTY)) {
		icalparameter *rsvp = icalproperty_get_first_parameter(p, ICAL_RSVP_PARAMETER);
		bool asks = rsvp != NULL && icalparameter_get_rsvp(rsvp) == ICAL_RSVP_TRUE;
		if (asks && (user == NULL || calendar_is_user(address_of(icalproperty_get_attendee(p)), user)))
			return true;
	}
	return false;
}

/* MS-ASEMAIL 2.2.2.71 Sensitivity from CLASS (MS-OXCICAL 2.1.3.1.1.20.3): 2 private, 3 confidential, else 0 normal. */
static uint8_t sensitivity(icalcomponent *event)
{
	icalproperty *p = icalcomponent_get_first_property(event, ICAL_CLASS_PROPERTY);
	icalproperty_class value = p != NULL ? icalproperty_get_class(p) : ICAL_CLASS_PUBLIC;
	return value == ICAL_CLASS_PRIVATE ? 2 : value == ICAL_CLASS_CONFIDENTIAL ? 3 : 0;
}

/*
 * MS-ASEMAIL 2.2.2.14 BusyStatus: how the organizer means the time to be
 * shown (0 free, 1 tentative, 2 busy, 3 out of office, 4 working
 * elsewhere): Outlook says it in X-MICROSOFT-CDO-INTENDEDSTATUS (MS-OXCICAL
 * 2.1.3.1.1.20.27), others by TRANSP (transparent: free, else busy).
 */
static uint8_t busy_status(icalcomponent *event)
{
	static const char *const intended[] = { "FREE", "TENTATIVE", "BUSY", "OOF", "WORKINGELSEWHERE" };
	const char *value = x_value(event, "X-MICROSOFT-CDO-INTENDEDSTATUS");
	for (uint8_t i = 0; value != NULL && i < sizeof(intended) / sizeof(intended[0]); i++)
		if (strcasecmp(value, intended[i]) == 0)
			return i;
	icalproperty *transp = icalcomponent_get_first_property(event, ICAL_TRANSP_PROPERTY);
	return transp != NULL && icalproperty_get_transp(transp) == ICAL_TRANSP_TRANSPARENT ? 0 : 2;
}

/* MS-ASEMAIL 2.2.2.63 Reminder: minutes before the start of the first VALARM set off before it; -1: none. */
static int64_t reminder(icalcomponent *event)
{
	for (icalcomponent *alarm = icalcomponent_get_first_component(event, ICAL_VALARM_COMPONENT); alarm != NULL;
	     alarm = icalcomponent_get_next_component(event, ICAL_VALARM_COMPONENT)) {
		icalproperty *trigger = icalcomponent_get_first_property(alarm, ICAL_TRIGGER_PROPERTY);
		if (trigger == NULL)
			continue;
		icalparameter *related = icalproperty_get_first_parameter(trigger, ICAL_RELATED_PARAMETER);
		struct icaltriggertype value = icalproperty_get_trigger(trigger);
		int seconds = icaldurationtype_as_int(value.duration);
		/* An absolute time, one after the start or one relative to the end says no "minutes before". */
		if (!icaltime_is_null_time(value.time) || seconds > 0 ||
		    (related != NULL && icalparameter_get_related(related) == ICAL_RELATED_END))
			continue;
		return -(int64_t)seconds / 60;
	}
	return -1;
}

static struct pim_meeting *read_event(struct arena *arena, icalcomponent *calendar, const char *user)
{
	icalcomponent *event = main_event(calendar);
	icalproperty_method method = icalcomponent_get_method(calendar);
	if (event == NULL || (method != ICAL_METHOD_REQUEST && method != ICAL_METHOD_CANCEL))
		return NULL;
	const char *uid = icalcomponent_get_uid(event), *address;
	const char *organizer = organizer_text(arena, event, &address);
	/* The user's own meeting coming back to them (a copy to themselves, a list) is no invitation. */
	if (uid == NULL || uid[0] == '\0' || calendar_is_user(address, user))
		return NULL;
	struct pim_meeting *m = arena_calloc(arena, 1, sizeof(*m));
	const char *disallow = x_value(event, "X-MICROSOFT-DISALLOW-COUNTER");
	struct icaltimetype stamp = icalcomponent_get_dtstamp(event);
	m->cancel = method == ICAL_METHOD_CANCEL;
	m->uid = pim_utf8_copy(arena, uid);
	m->sequence = icalcomponent_get_sequence(event);
	m->dtstamp = icaltime_is_null_time(stamp) ? 0 : pim_ical_seconds(stamp);
	m->recurrence_id = recurrence_id(event);
	m->organizer = organizer;
	m->response_requested = !m->cancel && answer_requested(event, user);
	m->disallow_new_time = disallow != NULL && strcasecmp(disallow, "TRUE") == 0;
	m->sensitivity = sensitivity(event);
	m->busy_status = busy_status(event);
	m->reminder = reminder(event);
	m->fields = pim_ical_event_fields(arena, event);
	return m;
}

/*
 * easd frees libical's built-in zones once it has read them into its own
 * table (pim_timezone_release_libical), which happens at the first zone
 * lookup. Were that lookup the one ical.c makes for this event, the zone
 * of a TZID without VTIMEZONE would be freed between being resolved and
 * being used: libical reads freed memory, and the times came out as if
 * UTC (test_email_meeting.c). So the table is made first.
 */
static void zones_before_parsing(void)
{
	struct pim_timezone unused;
	pim_timezone_for_zone("UTC", &unused);
}

const struct pim_meeting *pim_meeting_read(struct arena *arena, GMimePart *calendar, const char *user)
{
	if (calendar == NULL)
		return NULL;
	zones_before_parsing();
	/* Cut at LIMIT_ITIP_BYTES as at delivery: a longer calendar reads as what fits. */
	icalcomponent *parsed = icalparser_parse_string(pim_part_text_copy(arena, calendar, LIMIT_ITIP_BYTES));
	const struct pim_meeting *meeting = NULL;
	if (parsed != NULL && icalcomponent_isa(parsed) == ICAL_VCALENDAR_COMPONENT)
		meeting = read_event(arena, parsed, user);
	if (parsed != NULL)
		icalcomponent_free(parsed);
	return meeting;
}

const char *pim_meeting_class(const struct pim_meeting *meeting)
{
	return meeting->cancel ? "IPM.Schedule.Meeting.Canceled" : "IPM.Schedule.Meeting.Request";
}

/* ---- GlobalObjId ---- */

/* MS-OXOCAL 2.2.1.27: the Byte Array ID that marks a Global Object ID, and the fields before Data. */
static const uint8_t global_id_class[16] = { 0x04, 0x00, 0x00, 0x00, 0x82, 0x00, 0xE0, 0x00,
					     0x74, 0xC5, 0xB7, 0x10, 0x1A, 0x82, 0xE0, 0x08 };
#define GLOBAL_ID_HEADER 40 /* Byte Array ID 16, YH YL M D 4, Creation Time 8, X 8, Size 4 */

static uint32_t read_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void write_le32(uint8_t *p, uint32_t value)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(value >> (8 * i));
}

/*
 * A UID Outlook made is its Global Object ID in hex (MS-OXCICAL
 * 2.1.3.1.1.20.26, EncodedGlobalId): its bytes, when the text is all hex,
 * starts with the Byte Array ID and its Size field counts what follows.
 * NULL for any other UID.
 */
static uint8_t *outlook_id(struct arena *arena, const char *uid, size_t *len_out)
{
	size_t hex = strlen(uid);
	if (hex < 2 * GLOBAL_ID_HEADER || hex % 2 != 0)
		return NULL;
	uint8_t *bytes = arena_alloc(arena, hex / 2);
	for (size_t i = 0; i < hex / 2; i++) {
		int high = g_ascii_xdigit_value(uid[2 * i]), low = g_ascii_xdigit_value(uid[2 * i + 1]);
		if (high < 0 || low < 0)
			return NULL;
		bytes[i] = (uint8_t)(high << 4 | low);
	}
	if (memcmp(bytes, global_id_class, sizeof(global_id_class)) != 0 ||
	    read_le32(bytes + 36) != hex / 2 - GLOBAL_ID_HEADER)
		return NULL;
	*len_out = hex / 2;
	return bytes;
}

/*
 * Any other UID is carried whole as MS-ASEMAIL 2.2.2.37's VCALID: Data is
 * "vCal-Uid", the version 1 (4 bytes, little-endian), the UID and a NUL;
 * Creation Time stays zero, as in MS-ASEMAIL 4.3 example 2.
 */
static uint8_t *vcal_id(struct arena *arena, const char *uid, size_t *len_out)
{
	static const uint8_t marker[12] = { 'v', 'C', 'a', 'l', '-', 'U', 'i', 'd', 0x01, 0x00, 0x00, 0x00 };
	size_t uid_len = strlen(uid), data = sizeof(marker) + uid_len + 1;
	uint8_t *bytes = arena_calloc(arena, 1, GLOBAL_ID_HEADER + data);
	memcpy(bytes, global_id_class, sizeof(global_id_class));
	write_le32(bytes + 36, (uint32_t)data); /* the UID is at most LIMIT_ITIP_BYTES */
	memcpy(bytes + GLOBAL_ID_HEADER, marker, sizeof(marker));
	memcpy(bytes + GLOBAL_ID_HEADER + sizeof(marker), uid, uid_len);
	*len_out = GLOBAL_ID_HEADER + data;
	return bytes;
}

/*
 * The GlobalObjId of the meeting, base64 (MS-ASEMAIL 2.2.2.37): the
 * PidLidGlobalObjectId BLOB (MS-OXOCAL 2.2.1.27) of its UID. YH, YL, M and
 * D are the original date (UTC) of the occurrence a message is about, zero
 * for the series; a client zeroes them again to find the UID (MS-ASEMAIL
 * 3.1.4.7).
 */
static const char *global_object_id(struct arena *arena, const char *uid, int64_t occurrence)
{
	size_t len;
	uint8_t *bytes = outlook_id(arena, uid, &len);
	if (bytes == NULL)
		bytes = vcal_id(arena, uid, &len);
	memset(bytes + 16, 0, 4);
	time_t seconds = (time_t)occurrence;
	struct tm tm;
	if (occurrence != 0 && gmtime_r(&seconds, &tm) != NULL) {
		unsigned year = (unsigned)tm.tm_year + 1900;
		bytes[16] = (uint8_t)(year >> 8); /* YH and YL: big-endian, unlike the rest (MS-OXOCAL 4.1.2) */
		bytes[17] = (uint8_t)year;
		bytes[18] = (uint8_t)(tm.tm_mon + 1);
		bytes[19] = (uint8_t)tm.tm_mday;
	}
	gchar *text = g_base64_encode(bytes, len);
	const char *copy = arena_strndup(arena, text, strlen(text));
	g_free(text);
	return copy;
}

/* ---- writing ---- */

/* A calendar field's compact time ("20261210T100000Z") as MS-ASDTYPE dateTime, the form of Email's times. */
static void write_time(struct wbxml_writer *writer, struct arena *arena, enum wbxml_tag tag,
		       const struct wbxml_node *fields, enum wbxml_tag field)
{
	int64_t t;
	if (pim_fields_parse_time(pim_fields_text(fields, field), &t) == 0)
		wbxml_writer_element_cstr(writer, tag, pim_fields_format_time(arena, t));
}

/*
 * MS-ASEMAIL 2.2.2.62 Recurrences, one Recurrence (2.2.2.60): the calendar
 * pattern's elements under their Email and Email2 names, in the spec's
 * order, each where the version has it. Until stays a Compact DateTime,
 * as in the calendar.
 */
static void write_recurrences(struct wbxml_writer *writer, uint8_t version_bit, const struct wbxml_node *pattern)
{
	static const struct {
		enum wbxml_tag from, to;
	} map[] = {
		{ WBXML_CALENDAR_TYPE, WBXML_EMAIL_TYPE },
		{ WBXML_CALENDAR_INTERVAL, WBXML_EMAIL_INTERVAL },
		{ WBXML_CALENDAR_UNTIL, WBXML_EMAIL_UNTIL },
		{ WBXML_CALENDAR_OCCURRENCES, WBXML_EMAIL_OCCURRENCES },
		{ WBXML_CALENDAR_WEEK_OF_MONTH, WBXML_EMAIL_WEEK_OF_MONTH },
		{ WBXML_CALENDAR_DAY_OF_MONTH, WBXML_EMAIL_DAY_OF_MONTH },
		{ WBXML_CALENDAR_DAY_OF_WEEK, WBXML_EMAIL_DAY_OF_WEEK },
		{ WBXML_CALENDAR_MONTH_OF_YEAR, WBXML_EMAIL_MONTH_OF_YEAR },
		{ WBXML_CALENDAR_CALENDAR_TYPE, WBXML_EMAIL2_CALENDAR_TYPE },
		{ WBXML_CALENDAR_IS_LEAP_MONTH, WBXML_EMAIL2_IS_LEAP_MONTH },
		{ WBXML_CALENDAR_FIRST_DAY_OF_WEEK, WBXML_EMAIL2_FIRST_DAY_OF_WEEK },
	};
	wbxml_writer_start(writer, WBXML_EMAIL_RECURRENCES);
	wbxml_writer_start(writer, WBXML_EMAIL_RECURRENCE);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const char *value = pim_fields_text(pattern, map[i].from);
		if (value[0] != '\0' && pim_has_tag(version_bit, map[i].to))
			wbxml_writer_element_cstr(writer, map[i].to, value);
	}
	wbxml_writer_end(writer);
	wbxml_writer_end(writer);
}

/* Location: email:Location's text up to 14.1, airsyncbase:Location from 16.0 (MS-ASEMAIL 2.2.2.46). */
static void write_location(struct wbxml_writer *writer, uint8_t version_bit, const struct wbxml_node *fields)
{
	const struct wbxml_node *location = pim_fields_find(fields, WBXML_AIRSYNCBASE_LOCATION);
	if (location == NULL)
		return;
	if (pim_has_tag(version_bit, WBXML_AIRSYNCBASE_LOCATION)) {
		pim_fields_write_node(writer, version_bit, location);
		return;
	}
	const char *name = pim_fields_text(location, WBXML_AIRSYNCBASE_DISPLAY_NAME);
	if (name[0] != '\0')
		wbxml_writer_element_cstr(writer, WBXML_EMAIL_LOCATION, name);
}

/* MS-ASEMAIL 2.2.2.39 InstanceType: 3 a message about one occurrence (an exception), 1 a recurring series, 0 a single meeting. */
static unsigned instance_type(const struct pim_meeting *m)
{
	if (m->recurrence_id != 0)
		return 3;
	return pim_fields_find(m->fields, WBXML_CALENDAR_RECURRENCE) != NULL ? 1 : 0;
}

/*
 * MS-ASEMAIL 2.2.2.47 MeetingMessageType: 1 a first invitation (SEQUENCE
 * 0), 2 a full update; 0 (unspecified) for a cancellation, which its class
 * says.
 */
static unsigned meeting_message_type(const struct pim_meeting *m)
{
	return m->cancel ? 0 : m->sequence > 0 ? 2 : 1;
}

/* TimeZone is required: the event's zone, else UTC (its times are UTC, or an all-day event's dates). */
static const char *time_zone(struct arena *arena, const struct wbxml_node *fields)
{
	const char *zone = pim_fields_text(fields, WBXML_CALENDAR_TIMEZONE);
	struct pim_timezone utc;
	if (zone[0] != '\0')
		return zone;
	memset(&utc, 0, sizeof(utc));
	return pim_timezone_format(arena, &utc);
}

/* The elements in MS-ASEMAIL 2.2.2.48's order (Exchange's, and the one clients were tested with). */
void pim_meeting_write(struct wbxml_writer *writer, struct arena *arena, const struct pim_meeting *m,
		       unsigned protocol_version, int64_t received)
{
	uint8_t version_bit = pim_version_bit(protocol_version);
	const struct wbxml_node *pattern = pim_fields_find(m->fields, WBXML_CALENDAR_RECURRENCE);
	wbxml_writer_start(writer, WBXML_EMAIL_MEETING_REQUEST);
	wbxml_writer_element_uint(writer, WBXML_EMAIL_ALL_DAY_EVENT,
				  strcmp(pim_fields_text(m->fields, WBXML_CALENDAR_ALL_DAY_EVENT), "1") == 0);
	write_time(writer, arena, WBXML_EMAIL_START_TIME, m->fields, WBXML_CALENDAR_START_TIME);
	wbxml_writer_element_cstr(writer, WBXML_EMAIL_DT_STAMP,
				  pim_fields_format_time(arena, m->dtstamp != 0 ? m->dtstamp : received));
	write_time(writer, arena, WBXML_EMAIL_END_TIME, m->fields, WBXML_CALENDAR_END_TIME);
	wbxml_writer_element_uint(writer, WBXML_EMAIL_INSTANCE_TYPE, instance_type(m));
	write_location(writer, version_bit, m->fields);
	if (m->organizer[0] != '\0')
		wbxml_writer_element_cstr(writer, WBXML_EMAIL_ORGANIZER, m->organizer);
	if (m->recurrence_id != 0) /* MS-ASEMAIL 2.2.2.61: only for one occurrence */
		wbxml_writer_element_cstr(writer, WBXML_EMAIL_RECURRENCE_ID, pim_fields_format_time(arena, m->recurrence_id));
	if (m->reminder >= 0)
		wbxml_writer_element_uint(writer, WBXML_EMAIL_REMINDER, (uint64_t)m->reminder);
	wbxml_writer_element_uint(writer, WBXML_EMAIL_RESPONSE_REQUESTED, m->response_requested);
	if (pattern != NULL)
		write_recurrences(writer, version_bit, pattern);
	wbxml_writer_element_uint(writer, WBXML_EMAIL_SENSITIVITY, m->sensitivity);
	wbxml_writer_element_uint(writer, WBXML_EMAIL_BUSY_STATUS, m->busy_status);
	wbxml_writer_element_cstr(writer, WBXML_EMAIL_TIME_ZONE, time_zone(arena, m->fields));
	/* 16.0 names the meeting by calendar:UID instead (MS-ASEMAIL 2.2.2.48). */
	if (pim_has_tag(version_bit, WBXML_EMAIL_GLOBAL_OBJ_ID))
		wbxml_writer_element_cstr(writer, WBXML_EMAIL_GLOBAL_OBJ_ID, global_object_id(arena, m->uid, m->recurrence_id));
	else
		wbxml_writer_element_cstr(writer, WBXML_CALENDAR_UID, m->uid);
	if (pim_has_tag(version_bit, WBXML_EMAIL_DISALLOW_NEW_TIME_PROPOSAL))
		wbxml_writer_element_uint(writer, WBXML_EMAIL_DISALLOW_NEW_TIME_PROPOSAL, m->disallow_new_time);
	if (pim_has_tag(version_bit, WBXML_EMAIL2_MEETING_MESSAGE_TYPE))
		wbxml_writer_element_uint(writer, WBXML_EMAIL2_MEETING_MESSAGE_TYPE, meeting_message_type(m));
	wbxml_writer_end(writer);
}
