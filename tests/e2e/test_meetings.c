/*
 * test_meetings.c: meetings against a real easd. Invitations from outside
 * (iMIP) are delivered as LMTP delivers them (mail_deliver, on the store
 * beside easd, which is woken as by LMTP); then a new device syncs the
 * calendar and reads the event: the invitation lands there, updates apply
 * in the organizer's order whatever order they arrive in, the user's own
 * reminder survives an update, a cancelled occurrence removes that
 * occurrence only, a cancelled series is marked cancelled, and the user's
 * own meeting coming back to them changes nothing. MeetingResponse
 * answers from the Inbox or the calendar; a 16.1 device's SendResponse
 * sends the organizer one iTIP REPLY through a real Postfix (e2e_postfix),
 * however often it is repeated. In the Inbox, Sync and ItemOperations show
 * an invitation or a cancellation as a meeting message (MessageClass and
 * email:MeetingRequest, MS-ASEMAIL 2.2.2.48) to a 14.1 and a 16.1 device,
 * and the item a device is offered can be answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "e2e_mail.h"
#include "e2e_postfix.h"
#include "mail/lmtp.h"
#include "push/push.h"

#define NS " xmlns:cal=\"Calendar\""

/* Alice is "alice" at the test's local domain, example.org. */
#define ALICE_ATTENDEE "ATTENDEE;CN=Alice;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.org\r\n"
#define BOB_ATTENDEE "ATTENDEE;CN=Bob;ROLE=OPT-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:bob@outside.test\r\n"
#define CAROL "ORGANIZER;CN=Carol:mailto:carol@outside.test\r\n"

static unsigned delivered;
static struct e2e_postfix postfix;

static int group_setup(void **state)
{
	(void)state;
	return e2e_postfix_start(&postfix);
}

static int group_teardown(void **state)
{
	(void)state;
	return e2e_postfix_stop(&postfix);
}

static int setup(void **state)
{
	return e2e_mail_setup_with(state, e2e_postfix_config(&postfix, 0, NULL));
}

/* A meeting message from the organizer (vevent: the VEVENT's lines); returns its Message-ID. */
static const char *deliver(struct e2e_mail *f, const char *method, const char *vevent)
{
	const char *message_id = e2e_mail_format(f, "meeting-%u@outside.test", delivered);
	const char *mime = e2e_mail_format(
		f,
		"From: Carol <carol@outside.test>\r\nTo: alice@example.org\r\nSubject: Meeting %u\r\n"
		"Message-ID: <meeting-%u@outside.test>\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nA meeting.\r\n"
		"--b\r\nContent-Type: text/calendar; method=%s; charset=utf-8\r\n\r\n"
		"BEGIN:VCALENDAR\r\nPRODID:-//easd tests//EN\r\nVERSION:2.0\r\nMETHOD:%s\r\nBEGIN:VEVENT\r\n"
		"%sEND:VEVENT\r\nEND:VCALENDAR\r\n--b--\r\n",
		delivered, delivered, method, method, vevent);
	delivered++;
	char error[256], data_dir[300];
	struct store *store;
	snprintf(data_dir, sizeof(data_dir), "%s/data", f->server.dir);
	assert_int_equal(store_open(data_dir, 1, &store, error, sizeof(error)), 0);
	store_set_change_listener(store, push_notify_changed, data_dir);
	assert_int_equal(mail_deliver(store, "alice", mime, strlen(mime), 1764600000 + delivered), STORE_OK);
	store_close(&store);
	return message_id;
}

/* A weekly meeting on Thursdays at 10:00 UTC from 2026-12-10, four times, at that SEQUENCE. */
static const char *weekly(struct e2e_mail *f, unsigned sequence, const char *subject, const char *more)
{
	return e2e_mail_format(f,
			       "UID:plan-1@outside.test\r\nSEQUENCE:%u\r\nDTSTAMP:20261201T09%02u00Z\r\n"
			       "DTSTART:20261210T100000Z\r\nDTEND:20261210T110000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n"
			       "SUMMARY:%s\r\n" CAROL ALICE_ATTENDEE BOB_ATTENDEE "%s",
			       sequence, sequence, subject, more != NULL ? more : "");
}

static unsigned devices;

/* The calendar's events as a new device's first Sync brings them (the Commands element). */
static const struct wbxml_node *calendar(struct e2e_mail *f, const char **folder_out, const char **key_out)
{
	char device_id[16];
	snprintf(device_id, sizeof(device_id), "CAL%u", devices++);
	struct easclient *client = e2e_mail_device(f, device_id, 0);
	const char *folder = e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "8"));
	struct wbxml_node *root = e2e_mail_sync(f, client, folder, "0", 100, NULL, NULL);
	const char *key = easclient_find_text(root, WBXML_AIRSYNC_SYNC_KEY, f->arena);
	root = e2e_mail_sync(f, client, folder, key, 100, NULL, NULL);
	if (folder_out != NULL)
		*folder_out = folder;
	if (key_out != NULL)
		*key_out = easclient_find_text(root, WBXML_AIRSYNC_SYNC_KEY, f->arena);
	easclient_free(&client);
	return easclient_find(root, WBXML_AIRSYNC_COMMANDS);
}

static const struct wbxml_node *only_event(struct e2e_mail *f)
{
	const struct wbxml_node *commands = calendar(f, NULL, NULL);
	assert_non_null(commands);
	assert_int_equal(easclient_count(commands, WBXML_AIRSYNC_ADD), 1);
	return easclient_find(commands, WBXML_AIRSYNC_ADD);
}

static const char *text(struct e2e_mail *f, const struct wbxml_node *node, enum wbxml_tag tag)
{
	return easclient_find_text(node, tag, f->arena);
}

static void an_invitation_lands_in_the_calendar(void **state)
{
	struct e2e_mail *f = *state;
	deliver(f, "REQUEST", weekly(f, 0, "Planning", NULL));
	const struct wbxml_node *event = only_event(f);
	assert_string_equal(text(f, event, WBXML_CALENDAR_SUBJECT), "Planning");
	assert_string_equal(text(f, event, WBXML_CALENDAR_ORGANIZER_EMAIL), "carol@outside.test");
	assert_string_equal(text(f, event, WBXML_CALENDAR_ORGANIZER_NAME), "Carol");
	assert_string_equal(text(f, event, WBXML_CALENDAR_MEETING_STATUS), "3");
	assert_string_equal(text(f, event, WBXML_CALENDAR_START_TIME), "20261210T100000Z");
	assert_string_equal(text(f, event, WBXML_CALENDAR_UID), "plan-1@outside.test");
	assert_non_null(easclient_find(event, WBXML_CALENDAR_RECURRENCE));
	const struct wbxml_node *attendees = easclient_find(event, WBXML_CALENDAR_ATTENDEES);
	assert_non_null(attendees);
	assert_int_equal(easclient_count(attendees, WBXML_CALENDAR_ATTENDEE), 2);
	/* And the message itself is in the Inbox. */
	e2e_mail_sync_inbox(f, f->phone);
}

static void updates_apply_in_the_organizers_order(void **state)
{
	struct e2e_mail *f = *state;
	deliver(f, "REQUEST", weekly(f, 0, "Planning", NULL));
	deliver(f, "REQUEST", weekly(f, 2, "Planning v2", NULL));
	deliver(f, "REQUEST", weekly(f, 1, "Planning v1", NULL)); /* sent before v2, arrives after it */
	assert_string_equal(text(f, only_event(f), WBXML_CALENDAR_SUBJECT), "Planning v2");
	/* The same update again changes nothing; the same SEQUENCE with a later DTSTAMP is newer. */
	deliver(f, "REQUEST", weekly(f, 2, "Planning v2 again", NULL));
	assert_string_equal(text(f, only_event(f), WBXML_CALENDAR_SUBJECT), "Planning v2");
	deliver(f, "REQUEST",
		"UID:plan-1@outside.test\r\nSEQUENCE:2\r\nDTSTAMP:20261201T100000Z\r\n"
		"DTSTART:20261210T100000Z\r\nDTEND:20261210T110000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n"
		"SUMMARY:Planning v2 later\r\n" CAROL ALICE_ATTENDEE BOB_ATTENDEE);
	assert_string_equal(text(f, only_event(f), WBXML_CALENDAR_SUBJECT), "Planning v2 later");
}

static void the_users_reminder_survives_an_update(void **state)
{
	struct e2e_mail *f = *state;
	deliver(f, "REQUEST", weekly(f, 0, "Planning", NULL));
	const char *folder, *key;
	const struct wbxml_node *commands = calendar(f, &folder, &key);
	const char *server_id = text(f, easclient_find(commands, WBXML_AIRSYNC_ADD), WBXML_AIRSYNC_SERVER_ID);
	struct easclient *client = e2e_mail_device(f, "CALX", 0);
	struct wbxml_node *root = e2e_mail_sync(f, client, folder, "0", 100, NULL, NULL);
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	root = e2e_mail_sync(f, client, folder, key, 100, NULL, NULL);
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	const char *change = e2e_mail_format(f, "<Change><ServerId>%s</ServerId><ApplicationData" NS ">"
						"<cal:Reminder>25</cal:Reminder></ApplicationData></Change>",
					     server_id);
	root = e2e_mail_sync(f, client, folder, key, 100, NULL, change);
	assert_null(easclient_find(root, WBXML_AIRSYNC_RESPONSES));
	easclient_free(&client);
	deliver(f, "REQUEST", weekly(f, 1, "Planning moved", NULL));
	const struct wbxml_node *event = only_event(f);
	assert_string_equal(text(f, event, WBXML_CALENDAR_SUBJECT), "Planning moved");
	assert_string_equal(text(f, event, WBXML_CALENDAR_REMINDER), "25");
	assert_string_equal(text(f, event, WBXML_CALENDAR_ORGANIZER_EMAIL), "carol@outside.test");
}

static void a_cancelled_occurrence_leaves_the_series(void **state)
{
	struct e2e_mail *f = *state;
	deliver(f, "REQUEST", weekly(f, 0, "Planning", NULL));
	deliver(f, "CANCEL",
		"UID:plan-1@outside.test\r\nSEQUENCE:1\r\nDTSTAMP:20261202T090000Z\r\n"
		"RECURRENCE-ID:20261217T100000Z\r\nDTSTART:20261217T100000Z\r\nDTEND:20261217T110000Z\r\n"
		"SUMMARY:Planning\r\nSTATUS:CANCELLED\r\n" CAROL ALICE_ATTENDEE);
	const struct wbxml_node *event = only_event(f);
	assert_string_equal(text(f, event, WBXML_CALENDAR_SUBJECT), "Planning");
	assert_string_equal(text(f, event, WBXML_CALENDAR_MEETING_STATUS), "3");
	const struct wbxml_node *exception = easclient_find(easclient_find(event, WBXML_CALENDAR_EXCEPTIONS),
							     WBXML_CALENDAR_EXCEPTION);
	assert_non_null(exception);
	assert_string_equal(text(f, exception, WBXML_CALENDAR_DELETED), "1");
	assert_string_equal(text(f, exception, WBXML_CALENDAR_EXCEPTION_START_TIME), "20261217T100000Z");
	/* One occurrence moved: an exception with its new time; the cancelled one stays cancelled. */
	deliver(f, "REQUEST",
		"UID:plan-1@outside.test\r\nSEQUENCE:2\r\nDTSTAMP:20261203T090000Z\r\n"
		"RECURRENCE-ID:20261224T100000Z\r\nDTSTART:20261224T140000Z\r\nDTEND:20261224T150000Z\r\n"
		"SUMMARY:Planning (afternoon)\r\n" CAROL ALICE_ATTENDEE);
	event = only_event(f);
	const struct wbxml_node *exceptions = easclient_find(event, WBXML_CALENDAR_EXCEPTIONS);
	assert_int_equal(easclient_count(exceptions, WBXML_CALENDAR_EXCEPTION), 2);
}

static void a_cancelled_series_is_marked_cancelled(void **state)
{
	struct e2e_mail *f = *state;
	deliver(f, "REQUEST", weekly(f, 0, "Planning", NULL));
	/* Someone who knows the UID but is not its organizer cancels nothing (RFC 5546 6.1). */
	deliver(f, "CANCEL",
		"UID:plan-1@outside.test\r\nSEQUENCE:9\r\nDTSTAMP:20261202T090000Z\r\nDTSTART:20261210T100000Z\r\n"
		"DTEND:20261210T110000Z\r\nSUMMARY:Planning\r\nORGANIZER:mailto:mallory@outside.test\r\n" ALICE_ATTENDEE);
	assert_string_equal(text(f, only_event(f), WBXML_CALENDAR_MEETING_STATUS), "3");
	deliver(f, "CANCEL", weekly(f, 1, "Planning", "STATUS:CANCELLED\r\n"));
	const struct wbxml_node *event = only_event(f);
	assert_string_equal(text(f, event, WBXML_CALENDAR_MEETING_STATUS), "7");
	/* A cancellation of a meeting alice never had changes nothing. */
	deliver(f, "CANCEL",
		"UID:other@outside.test\r\nSEQUENCE:1\r\nDTSTAMP:20261202T090000Z\r\n"
		"DTSTART:20261211T100000Z\r\nDTEND:20261211T110000Z\r\nSUMMARY:Other\r\n" CAROL ALICE_ATTENDEE);
	assert_int_equal(easclient_count(calendar(f, NULL, NULL), WBXML_AIRSYNC_ADD), 1);
}

static void the_users_own_meeting_changes_nothing(void **state)
{
	struct e2e_mail *f = *state;
	deliver(f, "REQUEST",
		"UID:mine@example.org\r\nSEQUENCE:0\r\nDTSTAMP:20261202T090000Z\r\nDTSTART:20261211T100000Z\r\n"
		"DTEND:20261211T110000Z\r\nSUMMARY:Mine\r\nORGANIZER:mailto:alice@example.org\r\n" BOB_ATTENDEE);
	assert_null(calendar(f, NULL, NULL));
	/* Mail without a calendar part, or with one that does not parse, is just mail. */
	deliver(f, "REQUEST", "this is not iCalendar\r\n");
	assert_null(calendar(f, NULL, NULL));
}


/* ---- MeetingResponse ---- */

/* The ServerId of alice's item of that Message-ID (an event's: its UID) in her folder of that type. */
static const char *server_id_of(struct e2e_mail *f, int type, const char *id)
{
	char error[256], data_dir[300];
	struct store *store;
	struct store_user user;
	int64_t folder, item;
	snprintf(data_dir, sizeof(data_dir), "%s/data", f->server.dir);
	assert_int_equal(store_open(data_dir, 1, &store, error, sizeof(error)), 0);
	struct store_session *session = store_session_acquire(store);
	assert_int_equal(store_user_find(session, f->arena, "alice", &user), STORE_OK);
	assert_int_equal(store_folder_find_type(session, user.id, type, &folder), STORE_OK);
	int found = store_item_find_id(session, folder, id, &item);
	store_session_release(&session);
	store_close(&store);
	return found == STORE_OK ? e2e_mail_format(f, "%lld:%lld", (long long)folder, (long long)item) : NULL;
}

/* One Request answered: its Result. */
static const struct wbxml_node *respond(struct e2e_mail *f, struct easclient *client, const char *folder,
					const char *request_id, unsigned answer, const char *more)
{
	const char *xml = e2e_mail_format(f,
					  "<MeetingResponse xmlns=\"MeetingResponse\"><Request><UserResponse>%u</UserResponse>"
					  "<CollectionId>%s</CollectionId><RequestId>%s</RequestId>%s</Request></MeetingResponse>",
					  answer, folder, request_id, more != NULL ? more : "");
	assert_int_equal(easclient_post_xml(client, "MeetingResponse", xml, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	const struct wbxml_node *result = easclient_find(root, WBXML_MEETINGRESPONSE_RESULT);
	assert_non_null(result);
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_REQUEST_ID), request_id);
	return result;
}

/* Messages in Postfix's queue for the organizer (each a line of postqueue -j). */
static unsigned replies_queued(struct e2e_mail *f)
{
	unsigned n = 0;
	for (const char *line = e2e_postfix_queue(&postfix, f->arena); line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
		n += memmem(line, len, "carol@outside.test", 18) != NULL;
		line = end != NULL ? end + 1 : line + len;
	}
	return n;
}

static void accepting_from_the_inbox_answers_and_puts_the_invitation_away(void **state)
{
	struct e2e_mail *f = *state;
	const char *message_id = deliver(f, "REQUEST", weekly(f, 0, "Planning", NULL));
	const char *invitation = server_id_of(f, 2, message_id);
	assert_non_null(invitation);
	const struct wbxml_node *result = respond(f, f->phone, f->inbox, invitation, 1, NULL);
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "1");
	const char *calendar_id = text(f, result, WBXML_MEETINGRESPONSE_CALENDAR_ID);
	assert_string_equal(calendar_id, server_id_of(f, 8, "plan-1@outside.test"));
	const struct wbxml_node *event = only_event(f);
	assert_string_equal(text(f, event, WBXML_CALENDAR_RESPONSE_TYPE), "3");
	assert_string_equal(text(f, event, WBXML_CALENDAR_BUSY_STATUS), "2");
	assert_null(server_id_of(f, 2, message_id)); /* out of the Inbox ... */
	assert_non_null(server_id_of(f, 4, message_id)); /* ... into Deleted Items */
	/* 14.1: the device sends its own reply (SendMail); easd sends none. */
	usleep(1000 * 1000);
	assert_int_equal(replies_queued(f), 0);
}

static void a_16_1_answer_sends_one_reply_however_often_repeated(void **state)
{
	struct e2e_mail *f = *state;
	struct easclient *device = e2e_mail_device(f, "DEV16", 161);
	const char *invitation = server_id_of(f, 2, deliver(f, "REQUEST", weekly(f, 0, "Planning", NULL)));
	assert_non_null(invitation);
	const struct wbxml_node *result = respond(f, device, f->inbox, invitation, 2, "<SendResponse/>");
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "1");
	const char *event = text(f, result, WBXML_MEETINGRESPONSE_CALENDAR_ID);
	const char *queue = e2e_postfix_queue_with(&postfix, f->arena, "carol@outside.test");
	assert_non_null(queue);
	assert_non_null(strstr(queue, "\"sender\": \"alice@example.org\""));
	/* The device asks again (its answer was lost), now by the event. */
	const char *calendar = e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "8"));
	result = respond(f, device, calendar, event, 2, "<SendResponse/>");
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "1");
	usleep(1000 * 1000);
	assert_int_equal(replies_queued(f), 1);
	/* Without SendResponse nothing is sent; a changed answer is a new reply. */
	result = respond(f, device, calendar, event, 1, NULL);
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "1");
	result = respond(f, device, calendar, event, 1, "<SendResponse/>");
	usleep(1000 * 1000);
	assert_int_equal(replies_queued(f), 2);
	easclient_free(&device);
}

/* 16.1 SendResponse with a new time: a COUNTER to the organizer, once per proposal (RFC 5546 3.2.7). */
static void a_proposed_new_time_goes_to_the_organizer_as_a_counter(void **state)
{
	struct e2e_mail *f = *state;
	struct easclient *device = e2e_mail_device(f, "DEV16", 161);
	unsigned queued_before = replies_queued(f); /* the group's Postfix keeps earlier tests' mail */
	const char *invitation = server_id_of(f, 2, deliver(f, "REQUEST", weekly(f, 0, "Planning", NULL)));
	const char *proposal = "<SendResponse><ProposedStartTime>20261217T140000Z</ProposedStartTime>"
			       "<ProposedEndTime>20261217T150000Z</ProposedEndTime></SendResponse>";
	const struct wbxml_node *result = respond(f, device, f->inbox, invitation, 2, proposal);
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "1");
	assert_non_null(e2e_postfix_queue_with(&postfix, f->arena, "carol@outside.test"));
	const char *sent = e2e_postfix_messages(&postfix, f->arena);
	const char *expected[] = { "Subject: New Time Proposed: Planning", "method=COUNTER", "METHOD:COUNTER",
				   "DTSTART:20261217T140000Z", "DTEND:20261217T150000Z", "PARTSTAT=TENTATIVE",
				   "new time proposed: 2026-12-17 14:00 to 2026-12-17 15:00 UTC" };
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		if (strstr(sent, expected[i]) == NULL)
			fail_msg("no \"%s\" in the message sent:\n%s", expected[i], sent);
	/* The same proposal again (the answer was lost) sends nothing more; the user's event keeps its time. */
	const char *calendar = e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "8"));
	const char *event = text(f, result, WBXML_MEETINGRESPONSE_CALENDAR_ID);
	result = respond(f, device, calendar, event, 2, proposal);
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "1");
	usleep(1000 * 1000);
	assert_int_equal(replies_queued(f), queued_before + 1);
	assert_string_equal(text(f, only_event(f), WBXML_CALENDAR_START_TIME), "20261210T100000Z");
	/* Half a proposal, or one that ends before it starts, is no request. */
	const char *halves[] = { "<SendResponse><ProposedStartTime>20261217T140000Z</ProposedStartTime></SendResponse>",
				 "<SendResponse><ProposedStartTime>20261217T140000Z</ProposedStartTime>"
				 "<ProposedEndTime>20261217T130000Z</ProposedEndTime></SendResponse>",
				 "<SendResponse><ProposedStartTime>tomorrow</ProposedStartTime>"
				 "<ProposedEndTime>20261217T130000Z</ProposedEndTime></SendResponse>" };
	for (size_t i = 0; i < sizeof(halves) / sizeof(halves[0]); i++) {
		const char *xml = e2e_mail_format(f, "<MeetingResponse xmlns=\"MeetingResponse\"><Request><UserResponse>2"
						  "</UserResponse><CollectionId>%s</CollectionId><RequestId>%s</RequestId>%s"
						  "</Request></MeetingResponse>", calendar, event, halves[i]);
		assert_int_equal(easclient_post_xml(device, "MeetingResponse", xml, &f->response), 0);
		assert_string_equal(text(f, easclient_parse(&f->response, f->arena), WBXML_MEETINGRESPONSE_STATUS), "2");
	}
	/* An acceptance proposes nothing: the organizer gets a plain REPLY. */
	result = respond(f, device, calendar, event, 1, proposal);
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "1");
	assert_non_null(e2e_postfix_queue_with(&postfix, f->arena, "carol@outside.test"));
	usleep(1000 * 1000);
	assert_int_equal(replies_queued(f), queued_before + 2);
	assert_non_null(strstr(e2e_postfix_messages(&postfix, f->arena), "Subject: Accepted: Planning"));
	easclient_free(&device);
}

static void declining_removes_the_meeting_or_the_occurrence(void **state)
{
	struct e2e_mail *f = *state;
	deliver(f, "REQUEST", weekly(f, 0, "Planning", NULL));
	const char *folder = e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "8"));
	const char *event = server_id_of(f, 8, "plan-1@outside.test");
	const struct wbxml_node *result =
		respond(f, f->phone, folder, event, 3, "<InstanceId>2026-12-17T10:00:00.000Z</InstanceId>");
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "1");
	const struct wbxml_node *exception =
		easclient_find(easclient_find(only_event(f), WBXML_CALENDAR_EXCEPTIONS), WBXML_CALENDAR_EXCEPTION);
	assert_non_null(exception);
	assert_string_equal(text(f, exception, WBXML_CALENDAR_DELETED), "1");
	result = respond(f, f->phone, folder, event, 3, NULL);
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "1");
	assert_null(easclient_find(result, WBXML_MEETINGRESPONSE_CALENDAR_ID));
	assert_null(calendar(f, NULL, NULL));
	/* What is not there, or not a meeting, is an invalid request. */
	result = respond(f, f->phone, folder, event, 1, NULL);
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "2");
	e2e_mail_deliver(f, 2, "plain", 0, 1);
	result = respond(f, f->phone, f->inbox, server_id_of(f, 2, "plain0@example.org"), 1, NULL);
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "2");
}

/* ---- the invitation in the Inbox ---- */

/* GlobalObjId of plan-1@outside.test (MS-OXOCAL 2.2.1.27, "vCal-Uid" data): test_email_meeting.c has its bytes. */
#define PLAN_GLOBAL_OBJ_ID "BAAAAIIA4AB0xbcQGoLgCAAAAAAAAAAAAAAAAAAAAAAAAAAAIAAAAHZDYWwtVWlkAQAAAHBsYW4tMUBvdXRzaWRlLnRlc3QA"

/* The Inbox's Adds as a new device of that version gets them (plain-text bodies). */
static const struct wbxml_node *inbox(struct e2e_mail *f, unsigned version)
{
	char device_id[16];
	snprintf(device_id, sizeof(device_id), "MAIL%u", devices++);
	struct easclient *client = e2e_mail_device(f, device_id, version);
	struct wbxml_node *root = e2e_mail_sync(f, client, f->inbox, "0", 100, NULL, NULL);
	const char *key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	root = e2e_mail_sync(f, client, f->inbox, key, 100, E2E_MAIL_BODY_PREFERENCE, NULL);
	easclient_free(&client);
	return easclient_find(root, WBXML_AIRSYNC_COMMANDS);
}

/* The ApplicationData of the Inbox's Add whose ServerId is server_id. */
static const struct wbxml_node *added(struct e2e_mail *f, const struct wbxml_node *commands, const char *server_id)
{
	assert_non_null(commands);
	for (const struct wbxml_node *add = commands->first_child; add != NULL; add = add->next)
		if (add->tag == WBXML_AIRSYNC_ADD && strcmp(text(f, add, WBXML_AIRSYNC_SERVER_ID), server_id) == 0)
			return easclient_find(add, WBXML_AIRSYNC_APPLICATION_DATA);
	fail_msg("no Add of %s", server_id);
	return NULL;
}

static void an_invitation_in_the_inbox_is_a_meeting_request(void **state)
{
	struct e2e_mail *f = *state;
	const char *invitation = server_id_of(f, 2, deliver(f, "REQUEST", weekly(f, 0, "Planning", NULL)));
	e2e_mail_deliver(f, 2, "plain", 0, 1);
	const char *plain = server_id_of(f, 2, "plain0@example.org");
	/* 14.1: the meeting named by GlobalObjId. */
	const struct wbxml_node *commands = inbox(f, 141);
	const struct wbxml_node *data = added(f, commands, invitation);
	assert_string_equal(text(f, data, WBXML_EMAIL_MESSAGE_CLASS), "IPM.Schedule.Meeting.Request");
	const struct wbxml_node *meeting = easclient_find(data, WBXML_EMAIL_MEETING_REQUEST);
	assert_non_null(meeting);
	assert_string_equal(text(f, meeting, WBXML_EMAIL_START_TIME), "2026-12-10T10:00:00.000Z");
	assert_string_equal(text(f, meeting, WBXML_EMAIL_DT_STAMP), "2026-12-01T09:00:00.000Z");
	assert_string_equal(text(f, meeting, WBXML_EMAIL_ORGANIZER), "\"Carol\" <carol@outside.test>");
	assert_string_equal(text(f, meeting, WBXML_EMAIL_GLOBAL_OBJ_ID), PLAN_GLOBAL_OBJ_ID);
	assert_string_equal(text(f, meeting, WBXML_EMAIL_INSTANCE_TYPE), "1");
	assert_string_equal(text(f, meeting, WBXML_EMAIL_RESPONSE_REQUESTED), "1");
	assert_string_equal(text(f, meeting, WBXML_EMAIL2_MEETING_MESSAGE_TYPE), "1");
	/* Mail without a calendar part is as it was. */
	data = added(f, commands, plain);
	assert_string_equal(text(f, data, WBXML_EMAIL_MESSAGE_CLASS), "IPM.Note");
	assert_null(easclient_find(data, WBXML_EMAIL_MEETING_REQUEST));
	/* Alice's own meeting coming back to her is mail, not an invitation to answer. */
	const char *own = server_id_of(
		f, 2,
		deliver(f, "REQUEST",
			"UID:mine@example.org\r\nSEQUENCE:0\r\nDTSTAMP:20261202T090000Z\r\nDTSTART:20261211T100000Z\r\n"
			"DTEND:20261211T110000Z\r\nSUMMARY:Mine\r\nORGANIZER:mailto:alice@example.org\r\n" BOB_ATTENDEE));
	data = added(f, inbox(f, 141), own);
	assert_string_equal(text(f, data, WBXML_EMAIL_MESSAGE_CLASS), "IPM.Note");
	assert_null(easclient_find(data, WBXML_EMAIL_MEETING_REQUEST));
	/* 16.1: by calendar:UID instead. */
	meeting = easclient_find(added(f, inbox(f, 161), invitation), WBXML_EMAIL_MEETING_REQUEST);
	assert_non_null(meeting);
	assert_string_equal(text(f, meeting, WBXML_EMAIL_START_TIME), "2026-12-10T10:00:00.000Z");
	assert_string_equal(text(f, meeting, WBXML_EMAIL_ORGANIZER), "\"Carol\" <carol@outside.test>");
	assert_string_equal(text(f, meeting, WBXML_CALENDAR_UID), "plan-1@outside.test");
	assert_null(easclient_find(meeting, WBXML_EMAIL_GLOBAL_OBJ_ID));
	/* What the device offers, it can answer: MeetingResponse with the item's ServerId. */
	const struct wbxml_node *result = respond(f, f->phone, f->inbox, invitation, 1, NULL);
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "1");
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_CALENDAR_ID), server_id_of(f, 8, "plan-1@outside.test"));
	assert_string_equal(text(f, only_event(f), WBXML_CALENDAR_RESPONSE_TYPE), "3");
}

static void a_fetched_invitation_is_a_meeting_request_too(void **state)
{
	struct e2e_mail *f = *state;
	const char *invitation = server_id_of(f, 2, deliver(f, "REQUEST", weekly(f, 0, "Planning", NULL)));
	struct easclient *device = e2e_mail_device(f, "FETCH141", 141);
	const char *xml = e2e_mail_format(f,
					  "<ItemOperations xmlns=\"ItemOperations\" xmlns:airsync=\"AirSync\"><Fetch>"
					  "<Store>Mailbox</Store><airsync:CollectionId>%s</airsync:CollectionId>"
					  "<airsync:ServerId>%s</airsync:ServerId></Fetch></ItemOperations>",
					  f->inbox, invitation);
	assert_int_equal(easclient_post_xml(device, "ItemOperations", xml, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	const struct wbxml_node *properties = easclient_find(root, WBXML_ITEMOPERATIONS_PROPERTIES);
	assert_non_null(properties);
	assert_string_equal(text(f, properties, WBXML_EMAIL_MESSAGE_CLASS), "IPM.Schedule.Meeting.Request");
	assert_string_equal(text(f, properties, WBXML_EMAIL_GLOBAL_OBJ_ID), PLAN_GLOBAL_OBJ_ID);
	easclient_free(&device);
}

static void a_cancellation_in_the_inbox_is_a_cancelled_meeting(void **state)
{
	struct e2e_mail *f = *state;
	deliver(f, "REQUEST", weekly(f, 0, "Planning", NULL));
	const char *cancel = server_id_of(f, 2, deliver(f, "CANCEL", weekly(f, 1, "Planning", "STATUS:CANCELLED\r\n")));
	const struct wbxml_node *data = added(f, inbox(f, 141), cancel);
	assert_string_equal(text(f, data, WBXML_EMAIL_MESSAGE_CLASS), "IPM.Schedule.Meeting.Canceled");
	const struct wbxml_node *meeting = easclient_find(data, WBXML_EMAIL_MEETING_REQUEST);
	assert_non_null(meeting);
	assert_string_equal(text(f, meeting, WBXML_EMAIL_START_TIME), "2026-12-10T10:00:00.000Z");
	assert_string_equal(text(f, meeting, WBXML_EMAIL_GLOBAL_OBJ_ID), PLAN_GLOBAL_OBJ_ID);
	assert_string_equal(text(f, meeting, WBXML_EMAIL_RESPONSE_REQUESTED), "0");
}

static void an_invitation_to_one_occurrence_answers_that_occurrence(void **state)
{
	struct e2e_mail *f = *state;
	deliver(f, "REQUEST", weekly(f, 0, "Planning", NULL));
	const char *moved = deliver(f, "REQUEST",
				    "UID:plan-1@outside.test\r\nSEQUENCE:1\r\nDTSTAMP:20261203T090000Z\r\n"
				    "RECURRENCE-ID:20261224T100000Z\r\nDTSTART:20261224T140000Z\r\nDTEND:20261224T150000Z\r\n"
				    "SUMMARY:Planning (afternoon)\r\n" CAROL ALICE_ATTENDEE);
	const struct wbxml_node *result = respond(f, f->phone, f->inbox, server_id_of(f, 2, moved), 3, NULL);
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "1");
	/* Declining the moved occurrence removes it; the series stays, accepted or not as it was. */
	const struct wbxml_node *event = only_event(f);
	assert_string_equal(text(f, event, WBXML_CALENDAR_SUBJECT), "Planning");
	const struct wbxml_node *exception = easclient_find(easclient_find(event, WBXML_CALENDAR_EXCEPTIONS),
							     WBXML_CALENDAR_EXCEPTION);
	assert_string_equal(text(f, exception, WBXML_CALENDAR_EXCEPTION_START_TIME), "20261224T100000Z");
	assert_string_equal(text(f, exception, WBXML_CALENDAR_DELETED), "1");
}

static void a_reply_the_relay_refuses_leaves_the_invitation_for_the_retry(void **state)
{
	struct e2e_mail *f = *state;
	struct easclient *device = e2e_mail_device(f, "DEV16", 161);
	const char *message_id = deliver(f, "REQUEST", weekly(f, 0, "Planning", NULL));
	const char *invitation = server_id_of(f, 2, message_id);
	assert_int_equal(e2e_restart(&f->server, e2e_postfix_config(&postfix, e2e_free_port(), NULL)), 0);
	const struct wbxml_node *result = respond(f, device, f->inbox, invitation, 1, "<SendResponse/>");
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "4");
	assert_string_equal(server_id_of(f, 2, message_id), invitation); /* still in the Inbox */
	assert_int_equal(e2e_restart(&f->server, e2e_postfix_config(&postfix, 0, NULL)), 0);
	result = respond(f, device, f->inbox, invitation, 1, "<SendResponse/>");
	assert_string_equal(text(f, result, WBXML_MEETINGRESPONSE_STATUS), "1");
	assert_non_null(e2e_postfix_queue_with(&postfix, f->arena, "carol@outside.test"));
	assert_null(server_id_of(f, 2, message_id));
	easclient_free(&device);
}

#define CASE(test) cmocka_unit_test_setup_teardown(test, setup, e2e_mail_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(an_invitation_lands_in_the_calendar),
		CASE(updates_apply_in_the_organizers_order),
		CASE(the_users_reminder_survives_an_update),
		CASE(a_cancelled_occurrence_leaves_the_series),
		CASE(a_cancelled_series_is_marked_cancelled),
		CASE(the_users_own_meeting_changes_nothing),
		CASE(accepting_from_the_inbox_answers_and_puts_the_invitation_away),
		CASE(a_16_1_answer_sends_one_reply_however_often_repeated),
		CASE(a_proposed_new_time_goes_to_the_organizer_as_a_counter),
		CASE(declining_removes_the_meeting_or_the_occurrence),
		CASE(an_invitation_to_one_occurrence_answers_that_occurrence),
		CASE(a_reply_the_relay_refuses_leaves_the_invitation_for_the_retry),
		CASE(an_invitation_in_the_inbox_is_a_meeting_request),
		CASE(a_fetched_invitation_is_a_meeting_request_too),
		CASE(a_cancellation_in_the_inbox_is_a_cancelled_meeting),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
