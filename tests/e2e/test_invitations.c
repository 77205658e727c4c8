/*
 * test_invitations.c: meetings the user organizes, against a real easd
 * and a real Postfix (e2e_postfix). When a 16.1 device adds a meeting with
 * attendees, easd sends them an iTIP REQUEST once [smtp] invitation_delay
 * has passed; a change they see sends an update with the next SEQUENCE, a
 * change only the user sees (a reminder) sends nothing; an attendee taken
 * off gets a CANCEL; deleting the meeting sends everyone a CANCEL; a
 * meeting deleted before its invitation left sends nothing at all. A
 * device that sends the invitation itself through SendMail gets no second
 * one from easd, a 14.1 device (which sends its own, as MS-ASCAL asks)
 * none at all, and an attendee's device editing someone else's meeting
 * none either.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "e2e_mail.h"
#include "e2e_postfix.h"

#define NS " xmlns:cal=\"Calendar\""
#define ATTENDEES                                                                                                      \
	"<cal:Attendees><cal:Attendee><cal:Email>bob@outside.test</cal:Email><cal:Name>Bob</cal:Name>"                   \
	"<cal:AttendeeType>1</cal:AttendeeType></cal:Attendee><cal:Attendee><cal:Email>dave@outside.test</cal:Email>"    \
	"<cal:Name>Dave</cal:Name><cal:AttendeeType>2</cal:AttendeeType></cal:Attendee></cal:Attendees>"
#define ONLY_BOB                                                                                                       \
	"<cal:Attendees><cal:Attendee><cal:Email>bob@outside.test</cal:Email><cal:Name>Bob</cal:Name>"                   \
	"<cal:AttendeeType>1</cal:AttendeeType></cal:Attendee></cal:Attendees>"
#define MEETING(subject, attendees)                                                                                    \
	"<cal:Subject>" subject "</cal:Subject><cal:StartTime>20261210T100000Z</cal:StartTime>"                          \
	"<cal:EndTime>20261210T110000Z</cal:EndTime><cal:MeetingStatus>1</cal:MeetingStatus><cal:BusyStatus>2"          \
	"</cal:BusyStatus><cal:Reminder>15</cal:Reminder>" attendees

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
	/* No delay: a message goes at the outbox's next look, within a second. */
	return e2e_mail_setup_with(state, e2e_postfix_config(&postfix, 0, "[smtp]\ninvitation_delay = 0\n"));
}

/* Two seconds of delay: a window for the device's own message, or for a delete. */
static int setup_delayed(void **state)
{
	return e2e_mail_setup_with(state, e2e_postfix_config(&postfix, 0, "[smtp]\ninvitation_delay = 2\n"));
}

/* A device's calendar, synced from 0. */
struct calendar {
	struct easclient *device;
	const char *folder, *key;
	unsigned version;
};

static struct calendar calendar_of(struct e2e_mail *f, const char *device_id, unsigned version)
{
	struct calendar c = { e2e_mail_device(f, device_id, version), NULL, NULL, version };
	c.folder = e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "8"));
	struct wbxml_node *root = e2e_mail_sync(f, c.device, c.folder, "0", 100, NULL, NULL);
	c.key = easclient_find_text(root, WBXML_AIRSYNC_SYNC_KEY, f->arena);
	return c;
}

/* The device sends commands, which must succeed; returns the response (the ServerId of an Add in *added). */
static struct wbxml_node *send_commands(struct e2e_mail *f, struct calendar *c, const char *commands, const char **added)
{
	struct wbxml_node *root = e2e_mail_sync(f, c->device, c->folder, c->key, 100, NULL, commands);
	assert_non_null(root);
	c->key = easclient_find_text(root, WBXML_AIRSYNC_SYNC_KEY, f->arena);
	const struct wbxml_node *add = easclient_find(easclient_find(root, WBXML_AIRSYNC_RESPONSES), WBXML_AIRSYNC_ADD);
	if (added != NULL) {
		assert_non_null(add);
		assert_string_equal(easclient_find_text(add, WBXML_AIRSYNC_STATUS, f->arena), "1");
		*added = easclient_find_text(add, WBXML_AIRSYNC_SERVER_ID, f->arena);
	}
	return root;
}

/* An Add named uid: by ClientUid for 16.x, by UID before. */
static const char *add_meeting(struct e2e_mail *f, struct calendar *c, const char *uid, const char *fields)
{
	const char *server_id;
	send_commands(f, c,
		      e2e_mail_format(f, "<Add><ClientId>%s</ClientId><ApplicationData" NS "><cal:%s>%s</cal:%s>%s"
					 "</ApplicationData></Add>", uid, c->version >= 160 ? "ClientUid" : "UID", uid,
				      c->version >= 160 ? "ClientUid" : "UID", fields),
		      &server_id);
	return server_id;
}

static void change_meeting(struct e2e_mail *f, struct calendar *c, const char *server_id, const char *fields)
{
	send_commands(f, c,
		      e2e_mail_format(f, "<Change><ServerId>%s</ServerId><ApplicationData" NS ">%s</ApplicationData></Change>",
				      server_id, fields),
		      NULL);
}

/* Queued messages (postqueue -j lines) that name needle: a recipient, a sender. */
static unsigned queued_with(struct e2e_mail *f, const char *needle)
{
	unsigned n = 0;
	for (const char *line = e2e_postfix_queue(&postfix, f->arena); line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
		n += memmem(line, len, needle, strlen(needle)) != NULL;
		line = end != NULL ? end + 1 : line + len;
	}
	return n;
}

/*
 * Waits until count messages name needle (at most 10 s). When count were
 * there at once, waits past a look of the outbox (each second; no delay
 * here) to see that nothing more comes; else a moment, for a second
 * message of the same change.
 */
static void expect_queued(struct e2e_mail *f, const char *needle, unsigned count)
{
	bool waited = false;
	for (int i = 0; i < 100 && queued_with(f, needle) < count; i++, waited = true)
		usleep(100 * 1000);
	usleep(waited ? 300 * 1000 : 1500 * 1000);
	assert_int_equal(queued_with(f, needle), count);
}

/* The queued messages whole contain every one of texts (NULL-terminated). */
static void expect_in_messages(struct e2e_mail *f, const char *const *texts)
{
	const char *all = e2e_postfix_messages(&postfix, f->arena);
	for (size_t i = 0; texts[i] != NULL; i++)
		if (strstr(all, texts[i]) == NULL)
			fail_msg("no \"%s\" in the queued messages:\n%s", texts[i], all);
}

static void a_new_meeting_invites_its_attendees_once(void **state)
{
	struct e2e_mail *f = *state;
	unsigned before = queued_with(f, "bob@outside.test");
	struct calendar c = calendar_of(f, "DEV16A", 161);
	add_meeting(f, &c, "review-1", MEETING("Review", ATTENDEES));
	expect_queued(f, "bob@outside.test", before + 1);
	expect_in_messages(f, (const char *const[]){ "Subject: Review", "method=REQUEST", "METHOD:REQUEST", "UID:review-1",
						     "SEQUENCE:0", "ORGANIZER:mailto:alice@example.org",
						     "mailto:bob@outside.test", "ROLE=OPT-PARTICIPANT", "RSVP=TRUE",
						     "DTSTART:20261210T100000Z", NULL });
	assert_non_null(strstr(e2e_postfix_queue(&postfix, f->arena), "dave@outside.test"));
	easclient_free(&c.device);
}

static void updates_carry_the_next_sequence_and_only_what_attendees_see(void **state)
{
	struct e2e_mail *f = *state;
	unsigned before = queued_with(f, "bob@outside.test");
	struct calendar c = calendar_of(f, "DEV16B", 161);
	const char *event = add_meeting(f, &c, "plan-2", MEETING("Plan", ATTENDEES));
	expect_queued(f, "bob@outside.test", before + 1);
	/* The user's own reminder: nothing for the attendees. */
	change_meeting(f, &c, event, "<cal:Reminder>30</cal:Reminder>");
	expect_queued(f, "bob@outside.test", before + 1);
	/* A new time: an update, SEQUENCE 1. */
	change_meeting(f, &c, event, "<cal:StartTime>20261210T140000Z</cal:StartTime><cal:EndTime>20261210T150000Z</cal:EndTime>");
	expect_queued(f, "bob@outside.test", before + 2);
	expect_in_messages(f, (const char *const[]){ "SEQUENCE:1", "DTSTART:20261210T140000Z", NULL });
	/* Dave taken off: a CANCEL to him alone, and the update to Bob. */
	unsigned dave = queued_with(f, "dave@outside.test");
	change_meeting(f, &c, event, ONLY_BOB);
	expect_queued(f, "dave@outside.test", dave + 1);
	expect_queued(f, "bob@outside.test", before + 3);
	expect_in_messages(f, (const char *const[]){ "Subject: Canceled: Plan", "METHOD:CANCEL", "SEQUENCE:2", NULL });
	/* Deleted: everyone left hears it is off. */
	send_commands(f, &c, e2e_mail_format(f, "<Delete><ServerId>%s</ServerId></Delete>", event), NULL);
	expect_queued(f, "bob@outside.test", before + 4);
	expect_queued(f, "dave@outside.test", dave + 1);
	expect_in_messages(f, (const char *const[]){ "SEQUENCE:3", "STATUS:CANCELLED", NULL });
	easclient_free(&c.device);
}

static void a_meeting_deleted_before_its_invitation_left_sends_nothing(void **state)
{
	struct e2e_mail *f = *state;
	unsigned before = queued_with(f, "bob@outside.test");
	struct calendar c = calendar_of(f, "DEV16C", 161);
	const char *event = add_meeting(f, &c, "oops-3", MEETING("Oops", ATTENDEES));
	send_commands(f, &c, e2e_mail_format(f, "<Delete><ServerId>%s</ServerId></Delete>", event), NULL);
	usleep(3500 * 1000);
	assert_int_equal(queued_with(f, "bob@outside.test"), before);
	easclient_free(&c.device);
}

/* The invitation a device sends itself, as Android's Exchange client does after its Sync. */
static void send_own_invitation(struct e2e_mail *f, struct easclient *device, const char *uid)
{
	const char *mime = e2e_mail_format(
		f, "From: alice@example.org\r\nTo: bob@outside.test, dave@outside.test\r\nSubject: Own\r\nMIME-Version: 1.0\r\n"
		   "Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
		   "PRODID:-//device//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:%s\r\nSEQUENCE:0\r\n"
		   "DTSTAMP:20261201T090000Z\r\nDTSTART:20261210T100000Z\r\nDTEND:20261210T110000Z\r\nSUMMARY:Own\r\n"
		   "ORGANIZER:mailto:alice@example.org\r\nATTENDEE;RSVP=TRUE:mailto:bob@outside.test\r\nEND:VEVENT\r\n"
		   "END:VCALENDAR\r\n", uid);
	struct buf escaped;
	buf_init(&escaped, 0);
	for (const char *p = mime; *p != '\0'; p++)
		buf_printf(&escaped, "%s", *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '&' ? "&amp;" : (char[]){ *p, 0 });
	const char *xml = e2e_mail_format(f, "<SendMail xmlns=\"ComposeMail\"><ClientId>own-%s</ClientId><Mime>%.*s</Mime>"
					  "</SendMail>", uid, (int)escaped.len, (const char *)escaped.data);
	buf_cleanup(&escaped);
	assert_int_equal(easclient_post_xml(device, "SendMail", xml, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_int_equal(f->response.body.len, 0);
}

static void a_device_that_sends_its_own_invitation_gets_no_second(void **state)
{
	struct e2e_mail *f = *state;
	unsigned before = queued_with(f, "bob@outside.test");
	struct calendar c = calendar_of(f, "DEV16D", 161);
	add_meeting(f, &c, "own-4", MEETING("Own", ATTENDEES));
	send_own_invitation(f, c.device, "own-4");
	usleep(3500 * 1000);
	assert_int_equal(queued_with(f, "bob@outside.test"), before + 1); /* the device's, not easd's */
	easclient_free(&c.device);
}

static void a_14_1_device_sends_its_own_so_easd_sends_none(void **state)
{
	struct e2e_mail *f = *state;
	unsigned before = queued_with(f, "bob@outside.test");
	struct calendar c = calendar_of(f, "DEV14", 141);
	add_meeting(f, &c, "old-5", MEETING("Old", ATTENDEES));
	usleep(1500 * 1000);
	assert_int_equal(queued_with(f, "bob@outside.test"), before);
	easclient_free(&c.device);
}

/* A meeting someone else organizes (MeetingStatus 3: received): what the user's device does to it tells nobody (field-notes T33). */
static void an_attendees_device_editing_the_meeting_sends_nothing(void **state)
{
	struct e2e_mail *f = *state;
	unsigned before = queued_with(f, "carol@outside.test") + queued_with(f, "bob@outside.test");
	struct calendar c = calendar_of(f, "DEV16E", 161);
	const char *event = add_meeting(
		f, &c, "carols-6",
		"<cal:Subject>Carol's</cal:Subject><cal:StartTime>20261210T100000Z</cal:StartTime><cal:EndTime>20261210T110000Z"
		"</cal:EndTime><cal:MeetingStatus>3</cal:MeetingStatus><cal:OrganizerEmail>carol@outside.test</cal:OrganizerEmail>"
		"<cal:OrganizerName>Carol</cal:OrganizerName>" ATTENDEES);
	change_meeting(f, &c, event, "<cal:Reminder>5</cal:Reminder><cal:MeetingStatus>1</cal:MeetingStatus>");
	change_meeting(f, &c, event, "<cal:Subject>Mine now?</cal:Subject>");
	send_commands(f, &c, e2e_mail_format(f, "<Delete><ServerId>%s</ServerId></Delete>", event), NULL);
	usleep(1500 * 1000);
	assert_int_equal(queued_with(f, "carol@outside.test") + queued_with(f, "bob@outside.test"), before);
	easclient_free(&c.device);
}

/* An address that could end an SMTP command or an iCalendar line is left out; the others are invited. Past [smtp] max_recipients, nobody is. */
static void bad_addresses_are_left_out_and_the_recipient_limit_holds(void **state)
{
	struct e2e_mail *f = *state;
	unsigned before = queued_with(f, "bob@outside.test");
	struct calendar c = calendar_of(f, "DEV16F", 161);
	add_meeting(f, &c, "odd-7",
		    MEETING("Odd", "<cal:Attendees><cal:Attendee><cal:Email>bob@outside.test</cal:Email></cal:Attendee>"
				   "<cal:Attendee><cal:Email>eve@outside.test\nX-Evil:1</cal:Email></cal:Attendee>"
				   "<cal:Attendee><cal:Email>mal lory@outside.test</cal:Email></cal:Attendee></cal:Attendees>"));
	expect_queued(f, "bob@outside.test", before + 1);
	const char *queue = e2e_postfix_queue(&postfix, f->arena);
	assert_null(strstr(queue, "eve@"));
	assert_null(strstr(queue, "lory@"));
	assert_null(strstr(e2e_postfix_messages(&postfix, f->arena), "X-Evil"));
	/* Three attendees against a limit of two: no message at all, and easd.log says why. */
	assert_int_equal(e2e_restart(&f->server, e2e_postfix_config(&postfix, 0, "[smtp]\ninvitation_delay = 0\nmax_recipients = 2\n")), 0);
	easclient_free(&c.device);
	c = calendar_of(f, "DEV16G", 161);
	add_meeting(f, &c, "big-8", MEETING("Big", "<cal:Attendees><cal:Attendee><cal:Email>bob@outside.test</cal:Email>"
				   "</cal:Attendee><cal:Attendee><cal:Email>dave@outside.test</cal:Email></cal:Attendee>"
				   "<cal:Attendee><cal:Email>fay@outside.test</cal:Email></cal:Attendee></cal:Attendees>"));
	expect_queued(f, "bob@outside.test", before + 1);
	char *log = NULL;
	char path[400];
	snprintf(path, sizeof(path), "%s/log/easd.log", f->server.dir);
	assert_true(g_file_get_contents(path, &log, NULL, NULL));
	assert_non_null(strstr(log, "uid=big-8: more attendees than [smtp] max_recipients"));
	g_free(log);
	easclient_free(&c.device);
}

#define CASE(test) cmocka_unit_test_setup_teardown(test, setup, e2e_mail_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(a_new_meeting_invites_its_attendees_once),
		CASE(updates_carry_the_next_sequence_and_only_what_attendees_see),
		cmocka_unit_test_setup_teardown(a_meeting_deleted_before_its_invitation_left_sends_nothing, setup_delayed,
						e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(a_device_that_sends_its_own_invitation_gets_no_second, setup_delayed,
						e2e_mail_teardown),
		CASE(a_14_1_device_sends_its_own_so_easd_sends_none),
		CASE(an_attendees_device_editing_the_meeting_sends_nothing),
		CASE(bad_addresses_are_left_out_and_the_recipient_limit_holds),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
