/*
 * test_email_meeting.c: a meeting message (iMIP: a text/calendar part with
 * a METHOD) written as Email ApplicationData and decoded again: its
 * MessageClass and every element of email:MeetingRequest (MS-ASEMAIL
 * 2.2.2.48), in order, for an invitation, a weekly series in a zone, a
 * cancellation, an all-day meeting and one occurrence; the GlobalObjId
 * byte for byte (MS-OXOCAL 2.2.1.27, and MS-ASEMAIL 4.3's two examples);
 * what each protocol version (12.1, 14.1, 16.1) has; and what stays plain
 * mail (the user's own meeting, PUBLISH, REPLY, a calendar that does not
 * parse); and a zoned meeting read first after easd released libical's
 * zones. Every input is an exact-size heap copy so that ASan sees a read
 * past its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "pim/email.h"
#include "pim/timezone.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

#define CAROL "ORGANIZER;CN=Carol:mailto:carol@outside.test\r\n"
#define ALICE "ATTENDEE;CN=Alice;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.org\r\n"
#define BOB "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@outside.test\r\n"
#define PLAN "UID:plan-1@outside.test\r\nDTSTAMP:20261201T090000Z\r\n"
#define TEN_TO_ELEVEN "DTSTART:20261210T100000Z\r\nDTEND:20261210T110000Z\r\n"

/* ---- helpers ---- */

/*
 * A message from Carol to Alice with a plain-text part and a text/calendar
 * part of that METHOD holding vevent's lines (base64-encoded when asked, as
 * Outlook sends it), as an exact-size heap copy. The caller frees it.
 */
static char *invitation(const char *method, const char *vevent, bool base64, size_t *len_out)
{
	char *calendar = g_strdup_printf("BEGIN:VCALENDAR\r\nPRODID:-//easd tests//EN\r\nVERSION:2.0\r\nMETHOD:%s\r\n"
					 "BEGIN:VEVENT\r\n%sEND:VEVENT\r\nEND:VCALENDAR\r\n",
					 method, vevent);
	char *body = base64 ? g_base64_encode((const guchar *)calendar, strlen(calendar)) : g_strdup(calendar);
	char *mime = g_strdup_printf("From: Carol <carol@outside.test>\r\nTo: alice@example.org\r\nSubject: Planning\r\n"
				     "Message-ID: <m1@outside.test>\r\nMIME-Version: 1.0\r\n"
				     "Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n"
				     "--b\r\nContent-Type: text/plain\r\n\r\nA meeting.\r\n"
				     "--b\r\nContent-Type: text/calendar; method=%s; charset=utf-8\r\n%s\r\n%s\r\n--b--\r\n",
				     method, base64 ? "Content-Transfer-Encoding: base64\r\n" : "", body);
	*len_out = strlen(mime);
	char *copy = malloc(*len_out);
	memcpy(copy, mime, *len_out);
	g_free(mime);
	g_free(body);
	g_free(calendar);
	return copy;
}

/* Writes the message inside <ApplicationData> (through a source, as Sync reads it) and parses the result back. */
static struct wbxml_node *write_item(struct arena *arena, const char *mime, size_t len, unsigned version,
				     const char *user)
{
	struct pim_options options = { .protocol_version = version };
	struct pim_email_state state = { .received = 1764600000, .file_reference_prefix = "5:7", .user = user };
	struct pim_source source;
	struct buf out;
	struct wbxml_writer writer;
	struct wbxml_node *root = NULL;
	struct wbxml_error error;
	const char *reason = NULL;
	pim_source_memory(&source, (const uint8_t *)mime, len);
	buf_init(&out, 0);
	wbxml_writer_init(&writer, &out);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_APPLICATION_DATA);
	assert_int_equal(pim_email_write_source(&writer, arena, &source, &options, &state), 0);
	wbxml_writer_end(&writer);
	if (wbxml_writer_finish(&writer, &reason) != 0)
		fail_msg("writer: %s", reason);
	if (wbxml_tree_parse(arena, out.data, out.len, NULL, &root, &error) != 0)
		fail_msg("decode: %s at %zu", error.reason, error.offset);
	buf_cleanup(&out);
	return root;
}

/* The item of an invitation built from method and vevent. */
static struct wbxml_node *write_invitation(struct arena *arena, const char *method, const char *vevent,
					   unsigned version, const char *user)
{
	size_t len;
	char *mime = invitation(method, vevent, false, &len);
	struct wbxml_node *root = write_item(arena, mime, len, version, user);
	free(mime);
	return root;
}

static const struct wbxml_node *child(const struct wbxml_node *node, enum wbxml_tag tag)
{
	for (const struct wbxml_node *c = node != NULL ? node->first_child : NULL; c != NULL; c = c->next)
		if (c->tag == tag)
			return c;
	return NULL;
}

/* The element's text; fails when it is absent. */
static const char *text(const struct wbxml_node *node, enum wbxml_tag tag)
{
	const struct wbxml_node *c = child(node, tag);
	if (c == NULL)
		fail_msg("%s absent", wbxml_tag_name(tag));
	static char copy[4096];
	snprintf(copy, sizeof(copy), "%.*s", (int)c->text.len, c->text.len > 0 ? (const char *)c->text.data : "");
	return copy;
}

static void check_text(const struct wbxml_node *node, enum wbxml_tag tag, const char *want)
{
	if (want == NULL) {
		if (child(node, tag) != NULL)
			fail_msg("%s present, want absent", wbxml_tag_name(tag));
		return;
	}
	const char *got = text(node, tag);
	if (strcmp(got, want) != 0)
		fail_msg("%s is '%s', want '%s'", wbxml_tag_name(tag), got, want);
}

/* The children's tags, in order, end with 0. */
static void check_order(const struct wbxml_node *node, const enum wbxml_tag *want)
{
	const struct wbxml_node *c = node->first_child;
	for (unsigned i = 0; want[i] != 0; i++, c = c->next) {
		if (c == NULL)
			fail_msg("element %u: none, want %s", i, wbxml_tag_name(want[i]));
		if (c->tag != want[i])
			fail_msg("element %u: %s, want %s", i, wbxml_tag_name(c->tag), wbxml_tag_name(want[i]));
	}
	if (c != NULL)
		fail_msg("element past the end: %s", wbxml_tag_name(c->tag));
}

/* The GlobalObjId's bytes equal want. */
static void check_global_id(const struct wbxml_node *meeting, const uint8_t *want, size_t want_len)
{
	gsize len;
	guchar *bytes = g_base64_decode(text(meeting, WBXML_EMAIL_GLOBAL_OBJ_ID), &len);
	if (len != want_len || memcmp(bytes, want, len) != 0) {
		size_t at = 0;
		while (at < len && at < want_len && bytes[at] == want[at])
			at++;
		g_free(bytes);
		fail_msg("GlobalObjId: %zu bytes, want %zu; first difference at %zu", (size_t)len, want_len, at);
	}
	g_free(bytes);
}

static char utc_zone[300];

/* The TimeZone of a zone without offset or daylight saving: 172 zero bytes, base64. */
static const char *utc(void)
{
	static const uint8_t zero[PIM_TIMEZONE_BYTES];
	gchar *encoded = g_base64_encode(zero, sizeof(zero));
	snprintf(utc_zone, sizeof(utc_zone), "%s", encoded);
	g_free(encoded);
	return utc_zone;
}

/* ---- an invitation ---- */

/*
 * easd has libical's built-in zones freed once its own zone table is made
 * (pim_timezone_release_libical), which the first zone lookup does. The
 * first meeting with a TZID and no VTIMEZONE must not have its zone freed
 * under it: its times stay right. Runs first, before anything made the
 * table.
 */
static void first_zoned_meeting_after_release_keeps_its_time(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	pim_timezone_release_libical();
	struct wbxml_node *root = write_invitation(arena, "REQUEST",
						   PLAN "DTSTART;TZID=Europe/Berlin:20261210T100000\r\n"
							"DTEND;TZID=Europe/Berlin:20261210T110000\r\n" CAROL ALICE,
						   141, "alice");
	const struct wbxml_node *meeting = child(root, WBXML_EMAIL_MEETING_REQUEST);
	check_text(meeting, WBXML_EMAIL_START_TIME, "2026-12-10T09:00:00.000Z");
	check_text(meeting, WBXML_EMAIL_END_TIME, "2026-12-10T10:00:00.000Z");
	arena_free(&arena);
}

/*
 * MS-OXOCAL 2.2.1.27 for UID "plan-1@outside.test", by hand: the Byte
 * Array ID, no instance date, no creation time, 8 reserved zero bytes,
 * Size 32 (little-endian), then Data: "vCal-Uid", version 1 as 4 bytes
 * little-endian, the 19 bytes of the UID, a NUL (MS-ASEMAIL 2.2.2.37 VCALID).
 */
static const uint8_t plan_global_id[72] = {
	0x04, 0x00, 0x00, 0x00, 0x82, 0x00, 0xE0, 0x00, 0x74, 0xC5, 0xB7, 0x10, 0x1A, 0x82, 0xE0, 0x08, /* ID */
	0x00, 0x00, 0x00, 0x00,                                                                         /* YH YL M D */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                                                 /* Creation Time */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                                                 /* X */
	0x20, 0x00, 0x00, 0x00,                                                                         /* Size 32 */
	'v', 'C', 'a', 'l', '-', 'U', 'i', 'd', 0x01, 0x00, 0x00, 0x00,
	'p', 'l', 'a', 'n', '-', '1', '@', 'o', 'u', 't', 's', 'i', 'd', 'e', '.', 't', 'e', 's', 't', 0x00,
};

static void request_is_an_invitation_with_every_element(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct wbxml_node *root = write_invitation(arena, "REQUEST",
						   PLAN "SEQUENCE:0\r\n" TEN_TO_ELEVEN "SUMMARY:Planning\r\n"
							"LOCATION:Room 1\r\n" CAROL ALICE BOB,
						   141, "alice");
	check_text(root, WBXML_EMAIL_MESSAGE_CLASS, "IPM.Schedule.Meeting.Request");
	check_text(root, WBXML_EMAIL_SUBJECT, "Planning"); /* the mail around it is as ever */
	const struct wbxml_node *meeting = child(root, WBXML_EMAIL_MEETING_REQUEST);
	assert_non_null(meeting);
	/* Right after MessageClass, as in MS-ASEMAIL 4.1.5.1. */
	assert_ptr_equal(child(root, WBXML_EMAIL_MESSAGE_CLASS)->next, meeting);
	static const enum wbxml_tag order[] = {
		WBXML_EMAIL_ALL_DAY_EVENT, WBXML_EMAIL_START_TIME, WBXML_EMAIL_DT_STAMP, WBXML_EMAIL_END_TIME,
		WBXML_EMAIL_INSTANCE_TYPE, WBXML_EMAIL_LOCATION, WBXML_EMAIL_ORGANIZER,
		WBXML_EMAIL_RESPONSE_REQUESTED, WBXML_EMAIL_SENSITIVITY, WBXML_EMAIL_BUSY_STATUS,
		WBXML_EMAIL_TIME_ZONE, WBXML_EMAIL_GLOBAL_OBJ_ID, WBXML_EMAIL_DISALLOW_NEW_TIME_PROPOSAL,
		WBXML_EMAIL2_MEETING_MESSAGE_TYPE, 0,
	};
	check_order(meeting, order);
	check_text(meeting, WBXML_EMAIL_ALL_DAY_EVENT, "0");
	check_text(meeting, WBXML_EMAIL_START_TIME, "2026-12-10T10:00:00.000Z");
	check_text(meeting, WBXML_EMAIL_DT_STAMP, "2026-12-01T09:00:00.000Z");
	check_text(meeting, WBXML_EMAIL_END_TIME, "2026-12-10T11:00:00.000Z");
	check_text(meeting, WBXML_EMAIL_INSTANCE_TYPE, "0");
	check_text(meeting, WBXML_EMAIL_LOCATION, "Room 1");
	check_text(meeting, WBXML_EMAIL_ORGANIZER, "\"Carol\" <carol@outside.test>");
	check_text(meeting, WBXML_EMAIL_RESPONSE_REQUESTED, "1");
	check_text(meeting, WBXML_EMAIL_SENSITIVITY, "0");
	check_text(meeting, WBXML_EMAIL_BUSY_STATUS, "2");
	check_text(meeting, WBXML_EMAIL_TIME_ZONE, utc());
	check_global_id(meeting, plan_global_id, sizeof(plan_global_id));
	check_text(meeting, WBXML_EMAIL_DISALLOW_NEW_TIME_PROPOSAL, "0");
	check_text(meeting, WBXML_EMAIL2_MEETING_MESSAGE_TYPE, "1");
	arena_free(&arena);
}

static void weekly_series_in_a_zone(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct wbxml_node *root = write_invitation(
		arena, "REQUEST",
		PLAN "SEQUENCE:1\r\nDTSTART;TZID=Europe/Berlin:20261210T100000\r\n"
		     "DTEND;TZID=Europe/Berlin:20261210T110000\r\nRRULE:FREQ=WEEKLY;UNTIL=20261231T090000Z;BYDAY=TH\r\n"
		     "SUMMARY:Planning\r\nCLASS:PRIVATE\r\nX-MICROSOFT-DISALLOW-COUNTER:TRUE\r\n"
		     "X-MICROSOFT-CDO-INTENDEDSTATUS:TENTATIVE\r\n" CAROL ALICE
		     "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Planning\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n",
		141, "alice");
	const struct wbxml_node *meeting = child(root, WBXML_EMAIL_MEETING_REQUEST);
	assert_non_null(meeting);
	check_text(meeting, WBXML_EMAIL_START_TIME, "2026-12-10T09:00:00.000Z"); /* 10:00 in Berlin, UTC+1 */
	check_text(meeting, WBXML_EMAIL_END_TIME, "2026-12-10T10:00:00.000Z");
	check_text(meeting, WBXML_EMAIL_INSTANCE_TYPE, "1");
	check_text(meeting, WBXML_EMAIL_RECURRENCE_ID, NULL);
	check_text(meeting, WBXML_EMAIL_REMINDER, "15");
	check_text(meeting, WBXML_EMAIL_SENSITIVITY, "2");
	check_text(meeting, WBXML_EMAIL_BUSY_STATUS, "1");
	check_text(meeting, WBXML_EMAIL_DISALLOW_NEW_TIME_PROPOSAL, "1");
	check_text(meeting, WBXML_EMAIL2_MEETING_MESSAGE_TYPE, "2"); /* SEQUENCE 1: an update */
	struct pim_timezone berlin;
	assert_int_equal(pim_timezone_for_zone("Europe/Berlin", &berlin), 0);
	check_text(meeting, WBXML_EMAIL_TIME_ZONE, pim_timezone_format(arena, &berlin));
	const struct wbxml_node *recurrences = child(meeting, WBXML_EMAIL_RECURRENCES);
	assert_non_null(recurrences);
	assert_ptr_equal(child(meeting, WBXML_EMAIL_REMINDER)->next->next, recurrences); /* after ResponseRequested */
	const struct wbxml_node *pattern = child(recurrences, WBXML_EMAIL_RECURRENCE);
	static const enum wbxml_tag order[] = { WBXML_EMAIL_TYPE, WBXML_EMAIL_INTERVAL, WBXML_EMAIL_UNTIL,
						WBXML_EMAIL_DAY_OF_WEEK, 0 };
	check_order(pattern, order);
	check_text(pattern, WBXML_EMAIL_TYPE, "1");
	check_text(pattern, WBXML_EMAIL_INTERVAL, "1");
	check_text(pattern, WBXML_EMAIL_UNTIL, "20261231T090000Z");
	check_text(pattern, WBXML_EMAIL_DAY_OF_WEEK, "16"); /* Thursday */
	arena_free(&arena);
}

static void cancellation_has_its_class(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct wbxml_node *root = write_invitation(
		arena, "CANCEL", PLAN "SEQUENCE:2\r\n" TEN_TO_ELEVEN "SUMMARY:Planning\r\nSTATUS:CANCELLED\r\n" CAROL ALICE,
		141, "alice");
	check_text(root, WBXML_EMAIL_MESSAGE_CLASS, "IPM.Schedule.Meeting.Canceled");
	const struct wbxml_node *meeting = child(root, WBXML_EMAIL_MEETING_REQUEST);
	assert_non_null(meeting);
	check_text(meeting, WBXML_EMAIL_START_TIME, "2026-12-10T10:00:00.000Z");
	check_text(meeting, WBXML_EMAIL_ORGANIZER, "\"Carol\" <carol@outside.test>");
	check_text(meeting, WBXML_EMAIL_RESPONSE_REQUESTED, "0"); /* nothing to answer */
	check_text(meeting, WBXML_EMAIL2_MEETING_MESSAGE_TYPE, "0");
	check_global_id(meeting, plan_global_id, sizeof(plan_global_id));
	arena_free(&arena);
}

static void all_day_meeting_in_base64(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	size_t len;
	char *mime = invitation("REQUEST",
				PLAN "DTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261225\r\nSUMMARY:Party\r\n"
				     "TRANSP:TRANSPARENT\r\n" CAROL ALICE,
				true, &len);
	struct wbxml_node *root = write_item(arena, mime, len, 141, "alice");
	free(mime);
	const struct wbxml_node *meeting = child(root, WBXML_EMAIL_MEETING_REQUEST);
	assert_non_null(meeting);
	check_text(meeting, WBXML_EMAIL_ALL_DAY_EVENT, "1");
	check_text(meeting, WBXML_EMAIL_START_TIME, "2026-12-24T00:00:00.000Z");
	check_text(meeting, WBXML_EMAIL_END_TIME, "2026-12-25T00:00:00.000Z");
	check_text(meeting, WBXML_EMAIL_BUSY_STATUS, "0"); /* TRANSPARENT: free */
	check_text(meeting, WBXML_EMAIL_TIME_ZONE, utc());
	arena_free(&arena);
}

/*
 * An Outlook UID is its Global Object ID in hex (MS-OXCICAL
 * 2.1.3.1.1.20.26): the GlobalObjId is those bytes. MS-ASEMAIL 4.3 example
 * 1 is the update of the occurrence of 2004-09-16 of such a meeting: YH YL
 * M D say that date, and the result is the example's GlobalObjId.
 */
#define OUTLOOK_UID "040000008200E00074C5B7101A82E00800000000E040C9C12685C4010000000000000000100000000BF0ED4B6E4EE94E9E39E3867B378EF3"

static void outlook_uid_occurrence_is_spec_example_one(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct wbxml_node *root = write_invitation(
		arena, "REQUEST",
		"UID:" OUTLOOK_UID "\r\nDTSTAMP:20040901T090000Z\r\nRECURRENCE-ID:20040916T150000Z\r\n"
		"DTSTART:20040916T160000Z\r\nDTEND:20040916T170000Z\r\nSUMMARY:Moved\r\n" CAROL ALICE,
		141, "alice");
	const struct wbxml_node *meeting = child(root, WBXML_EMAIL_MEETING_REQUEST);
	assert_non_null(meeting);
	check_text(meeting, WBXML_EMAIL_INSTANCE_TYPE, "3");
	check_text(meeting, WBXML_EMAIL_RECURRENCE_ID, "2004-09-16T15:00:00.000Z");
	check_text(meeting, WBXML_EMAIL_GLOBAL_OBJ_ID,
		   "BAAAAIIA4AB0xbcQGoLgCAfUCRDgQMnBJoXEAQAAAAAAAAAAEAAAAAvw7UtuTulOnjnjhns3jvM=");
	/* The series of the same meeting: the UID's own bytes, no date. */
	root = write_invitation(arena, "REQUEST",
				"UID:" OUTLOOK_UID "\r\nDTSTAMP:20040901T090000Z\r\n"
				"DTSTART:20040902T150000Z\r\nDTEND:20040902T160000Z\r\nRRULE:FREQ=WEEKLY\r\n" CAROL ALICE,
				141, "alice");
	check_text(child(root, WBXML_EMAIL_MEETING_REQUEST), WBXML_EMAIL_GLOBAL_OBJ_ID,
		   "BAAAAIIA4AB0xbcQGoLgCAAAAADgQMnBJoXEAQAAAAAAAAAAEAAAAAvw7UtuTulOnjnjhns3jvM=");
	arena_free(&arena);
}

/* MS-ASEMAIL 4.3 example 2: a UID from elsewhere, wrapped as vCal-Uid. */
static void other_uid_is_spec_example_two(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct wbxml_node *root = write_invitation(
		arena, "REQUEST",
		"UID:{81412D3C-2A24-4E9D-B20E-11F7BBE92799}\r\nDTSTAMP:20261201T090000Z\r\n" TEN_TO_ELEVEN CAROL ALICE,
		141, "alice");
	check_text(child(root, WBXML_EMAIL_MEETING_REQUEST), WBXML_EMAIL_GLOBAL_OBJ_ID,
		   "BAAAAIIA4AB0xbcQGoLgCAAAAAAAAAAAAAAAAAAAAAAAAAAAMwAAAHZDYWwtVWlkAQAAAHs4MTQxMkQzQy0yQTI0LTRFOUQtQjIwRS0xMUY3"
		   "QkJFOTI3OTl9AA==");
	/* Hex that starts like an Outlook UID but whose Size does not count what follows is wrapped too. */
	const char *bad = "040000008200E00074C5B7101A82E00800000000E040C9C12685C4010000000000000000110000000BF0ED4B6E4EE94E9E39E3867B378EF3";
	char vevent[512];
	snprintf(vevent, sizeof(vevent), "UID:%s\r\nDTSTAMP:20261201T090000Z\r\n" TEN_TO_ELEVEN CAROL ALICE, bad);
	root = write_invitation(arena, "REQUEST", vevent, 141, "alice");
	gsize len;
	guchar *bytes = g_base64_decode(text(child(root, WBXML_EMAIL_MEETING_REQUEST), WBXML_EMAIL_GLOBAL_OBJ_ID), &len);
	assert_int_equal(len, 40 + 12 + strlen(bad) + 1);
	assert_memory_equal(bytes + 40, "vCal-Uid", 8);
	assert_memory_equal(bytes + 52, bad, strlen(bad));
	g_free(bytes);
	arena_free(&arena);
}

/* ---- protocol versions ---- */

struct version_case {
	const char *name;
	unsigned version;
	bool email_location;    /* email:Location, else airsyncbase:Location */
	bool global_id;         /* GlobalObjId, else calendar:UID */
	bool disallow;          /* DisallowNewTimeProposal [14.0+] */
	bool message_type;      /* email2:MeetingMessageType [14.1+] */
};

static const struct version_case version_cases[] = {
	{ "version_121_has_the_12_elements", 121, true, true, false, false },
	{ "version_141_has_global_id_and_message_type", 141, true, true, true, true },
	{ "version_161_names_the_meeting_by_uid", 161, false, false, true, true },
};

static void version_case_run(void **state)
{
	const struct version_case *c = *state;
	struct arena *arena = arena_new(0);
	struct wbxml_node *root = write_invitation(
		arena, "REQUEST", PLAN TEN_TO_ELEVEN "LOCATION:Room 1\r\nRRULE:FREQ=WEEKLY;COUNT=4;WKST=SU\r\n" CAROL ALICE,
		c->version, "alice");
	const struct wbxml_node *meeting = child(root, WBXML_EMAIL_MEETING_REQUEST);
	assert_non_null(meeting);
	check_text(meeting, WBXML_EMAIL_LOCATION, c->email_location ? "Room 1" : NULL);
	const struct wbxml_node *location = child(meeting, WBXML_AIRSYNCBASE_LOCATION);
	if (c->email_location)
		assert_null(location);
	else
		check_text(location, WBXML_AIRSYNCBASE_DISPLAY_NAME, "Room 1");
	if (c->global_id)
		check_global_id(meeting, plan_global_id, sizeof(plan_global_id));
	else
		check_text(meeting, WBXML_EMAIL_GLOBAL_OBJ_ID, NULL);
	check_text(meeting, WBXML_CALENDAR_UID, c->global_id ? NULL : "plan-1@outside.test");
	check_text(meeting, WBXML_EMAIL_DISALLOW_NEW_TIME_PROPOSAL, c->disallow ? "0" : NULL);
	check_text(meeting, WBXML_EMAIL2_MEETING_MESSAGE_TYPE, c->message_type ? "1" : NULL);
	/* Required in every version: DtStamp, TimeZone. */
	check_text(meeting, WBXML_EMAIL_DT_STAMP, "2026-12-01T09:00:00.000Z");
	check_text(meeting, WBXML_EMAIL_TIME_ZONE, utc());
	const struct wbxml_node *pattern = child(child(meeting, WBXML_EMAIL_RECURRENCES), WBXML_EMAIL_RECURRENCE);
	check_text(pattern, WBXML_EMAIL_OCCURRENCES, "4");
	arena_free(&arena);
}

/* ---- what stays plain mail ---- */

struct plain_case {
	const char *name;
	const char *method;
	const char *vevent;
	const char *user;
};

static const struct plain_case plain_cases[] = {
	{ "users_own_meeting_is_plain_mail", "REQUEST",
	  PLAN TEN_TO_ELEVEN "ORGANIZER;CN=Alice:mailto:alice@example.org\r\n" BOB, "alice" },
	{ "users_own_meeting_by_address_is_plain_mail", "REQUEST",
	  PLAN TEN_TO_ELEVEN "ORGANIZER:MAILTO:Alice@Example.org\r\n" BOB, "alice@example.org" },
	{ "publish_is_plain_mail", "PUBLISH", PLAN TEN_TO_ELEVEN CAROL, "alice" },
	{ "reply_is_plain_mail", "REPLY", PLAN TEN_TO_ELEVEN CAROL ALICE, "alice" },
	{ "meeting_without_uid_is_plain_mail", "REQUEST", "DTSTAMP:20261201T090000Z\r\n" TEN_TO_ELEVEN CAROL ALICE,
	  "alice" },
	{ "calendar_that_does_not_parse_is_plain_mail", "REQUEST", "\x01\xff not iCalendar\r\nEND:VCALENDAR\r\n", "alice" },
};

static void plain_case_run(void **state)
{
	const struct plain_case *c = *state;
	struct arena *arena = arena_new(0);
	struct wbxml_node *root = write_invitation(arena, c->method, c->vevent, 141, c->user);
	check_text(root, WBXML_EMAIL_MESSAGE_CLASS, "IPM.Note");
	assert_null(child(root, WBXML_EMAIL_MEETING_REQUEST));
	arena_free(&arena);
}

/* A caller that does not say whose mailbox it is (state.user NULL) sees every meeting as one to answer. */
static void unknown_user_sees_an_invitation(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct wbxml_node *root = write_invitation(
		arena, "REQUEST", PLAN TEN_TO_ELEVEN "ORGANIZER;CN=Alice:mailto:alice@example.org\r\n" BOB, 141, NULL);
	check_text(root, WBXML_EMAIL_MESSAGE_CLASS, "IPM.Schedule.Meeting.Request");
	/* For a user not known, any ATTENDEE's RSVP=TRUE asks for an answer: Bob's has none, Alice's has. */
	check_text(child(root, WBXML_EMAIL_MEETING_REQUEST), WBXML_EMAIL_RESPONSE_REQUESTED, "0");
	root = write_invitation(arena, "REQUEST", PLAN TEN_TO_ELEVEN CAROL ALICE, 141, NULL);
	check_text(child(root, WBXML_EMAIL_MEETING_REQUEST), WBXML_EMAIL_RESPONSE_REQUESTED, "1");
	arena_free(&arena);
}

/* ---- the runner ---- */

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(first_zoned_meeting_after_release_keeps_its_time), /* first: see there */
		cmocka_unit_test(request_is_an_invitation_with_every_element),
		cmocka_unit_test(weekly_series_in_a_zone),
		cmocka_unit_test(cancellation_has_its_class),
		cmocka_unit_test(all_day_meeting_in_base64),
		cmocka_unit_test(outlook_uid_occurrence_is_spec_example_one),
		cmocka_unit_test(other_uid_is_spec_example_two),
		cmocka_unit_test(unknown_user_sees_an_invitation),
	};
	size_t count = COUNT(fixed) + COUNT(version_cases) + COUNT(plain_cases);
	struct CMUnitTest *tests = calloc(count, sizeof(*tests));
	size_t n = COUNT(fixed);
	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < COUNT(version_cases); i++)
		tests[n++] = (struct CMUnitTest){ version_cases[i].name, version_case_run, NULL, NULL,
						   (void *)&version_cases[i] };
	for (size_t i = 0; i < COUNT(plain_cases); i++)
		tests[n++] = (struct CMUnitTest){ plain_cases[i].name, plain_case_run, NULL, NULL, (void *)&plain_cases[i] };
	int failed = _cmocka_run_group_tests("email_meeting", tests, count, NULL, NULL);
	free(tests);
	return failed;
}
