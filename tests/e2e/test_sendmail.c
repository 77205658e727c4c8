/*
 * test_sendmail.c: SendMail, SmartReply and SmartForward end to end. A
 * real easd submits to a real Postfix (e2e_postfix: its own
 * configuration and queue on loopback ports), which delivers mail for
 * example.org back to easd over LMTP and keeps mail for other domains in
 * its queue. What arrived is read from easd's database with SQLite.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "e2e_mail.h"
#include "e2e_postfix.h"

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

/* At most one message an hour, two recipients a message. */
static int setup_limited(void **state)
{
	return e2e_mail_setup_with(state, e2e_postfix_config(&postfix, 0, "max_recipients = 2\nmax_messages_per_hour = 1\n"));
}

/* ---- what arrived ---- */

/* The live messages of user's folder of type, oldest first, NULL-terminated, in the arena. */
static const char **messages(struct e2e_mail *f, const char *user, int type)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	char path[400];
	snprintf(path, sizeof(path), "%s/data/easd.sqlite", f->server.dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT i.content FROM items i JOIN folders f ON f.id = i.folder_id "
					    "JOIN users u ON u.id = f.user_id WHERE u.name = ?1 AND f.type = ?2 "
					    "AND i.deleted = 0 ORDER BY i.id",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 2, type);
	const char **list = arena_calloc(f->arena, 64, sizeof(*list));
	for (size_t n = 0; n < 63 && sqlite3_step(stmt) == SQLITE_ROW; n++)
		list[n] = arena_strndup(f->arena, sqlite3_column_blob(stmt, 0), (size_t)sqlite3_column_bytes(stmt, 0));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return list;
}

/* The first column of the first row of a query on easd's database, as text in the arena. */
static const char *query_one(struct e2e_mail *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	char path[400];
	snprintf(path, sizeof(path), "%s/data/easd.sqlite", f->server.dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	const char *text = arena_strndup(f->arena, sqlite3_column_text(stmt, 0), (size_t)sqlite3_column_bytes(stmt, 0));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return text;
}

static size_t count(const char **list)
{
	size_t n = 0;
	while (list[n] != NULL)
		n++;
	return n;
}

/* Waits up to 15 s for user's folder to hold n messages; returns them. */
static const char **wait_for(struct e2e_mail *f, const char *user, int type, size_t n)
{
	const char **list = messages(f, user, type);
	for (int i = 0; i < 150 && count(list) < n; i++) {
		usleep(100 * 1000);
		list = messages(f, user, type);
	}
	assert_int_equal(count(list), n);
	return list;
}

/* Postfix's queue, once it mentions needle (asserted within 10 s). */
static const char *queue_with(struct e2e_mail *f, const char *needle)
{
	const char *text = e2e_postfix_queue_with(&postfix, f->arena, needle);
	if (text == NULL)
		fail_msg("Postfix's queue never mentioned %s", needle);
	return text;
}

/* ---- requests ---- */

/* text with &, < and > escaped for an XML element. */
static const char *xml_text(struct e2e_mail *f, const char *text)
{
	struct buf out;
	buf_init(&out, 0);
	for (const char *c = text; *c != '\0'; c++)
		if (*c == '<')
			buf_printf(&out, "&lt;");
		else if (*c == '>')
			buf_printf(&out, "&gt;");
		else if (*c == '&')
			buf_printf(&out, "&amp;");
		else
			buf_append(&out, c, 1);
	const char *copy = arena_strndup(f->arena, out.data, out.len);
	buf_cleanup(&out);
	return copy;
}

/*
 * Posts command (SendMail, SmartReply, SmartForward) with ComposeMail
 * fields before Mime; status 0 expects success (200, empty body), else
 * that Status.
 */
static void compose(struct e2e_mail *f, struct easclient *client, const char *command, const char *fields,
		    const char *mime, int status)
{
	const char *xml = e2e_mail_format(f, "<%s xmlns=\"ComposeMail\">%s<Mime>%s</Mime></%s>", command, fields,
					  xml_text(f, mime), command);
	assert_int_equal(easclient_post_xml(client, command, xml, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	if (status == 0) {
		assert_int_equal(f->response.body.len, 0);
		return;
	}
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	assert_string_equal(easclient_find_text(root, WBXML_COMPOSEMAIL_STATUS, f->arena),
			    e2e_mail_format(f, "%d", status));
}

static const char *message_to(struct e2e_mail *f, const char *headers, const char *subject)
{
	return e2e_mail_format(f, "From: Alice <alice@example.org>\r\n%sSubject: %s\r\n"
				  "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
				  "Text of %s.\r\n",
			       headers, subject, subject);
}

/* A device of bob's, provisioned, his Inbox (ServerId inbox) synced to its end. */
static struct easclient *bob_device(struct e2e_mail *f, const char *inbox)
{
	struct easclient_options options = e2e_client_options(&f->server, "bob", "battery staple", "BOBPHONE");
	struct easclient *bob = easclient_new(&options);
	assert_int_equal(easclient_provision(bob, &f->response), 0);
	assert_int_equal(easclient_post_xml(bob, "FolderSync",
					    "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>",
					    &f->response),
			 0);
	struct wbxml_node *root = e2e_mail_sync(f, bob, inbox, "0", 100, NULL, NULL);
	const char *key = easclient_find_text(root, WBXML_AIRSYNC_SYNC_KEY, f->arena);
	root = e2e_mail_sync(f, bob, inbox, key, 100, E2E_MAIL_BODY_PREFERENCE, NULL);
	assert_null(easclient_find(root, WBXML_AIRSYNC_MORE_AVAILABLE));
	return bob;
}

/* ---- the cases ---- */

static void sendmail_reaches_another_user_and_wakes_his_ping(void **state)
{
	struct e2e_mail *f = *state;
	const char *inbox = query_one(f, "SELECT f.id FROM folders f JOIN users u ON u.id = f.user_id "
				      "WHERE u.name = 'bob' AND f.type = 2");
	struct easclient *bob = bob_device(f, inbox);
	const char *ping = e2e_mail_format(f, "<Ping xmlns=\"Ping\"><HeartbeatInterval>120</HeartbeatInterval><Folders>"
					   "<Folder><Id>%s</Id><Class>Email</Class></Folder></Folders></Ping>", inbox);
	struct e2e_call *call = e2e_mail_call_start_as(f, "bob", "battery staple", "BOBPHONE", bob, "Ping", ping, 0);
	e2e_mail_call_assert_waiting(call, 300);

	compose(f, f->phone, "SendMail", "<ClientId>c1</ClientId><SaveInSentItems/>",
		message_to(f, "To: Bob <bob@example.org>\r\nBcc: carol@outside.test\r\n", "Lunch"), 0);
	struct wbxml_node *answer = e2e_mail_call_finish(f, call, 15000);
	assert_string_equal(easclient_find_text(answer, WBXML_PING_STATUS, f->arena), "2");

	const char **received = wait_for(f, "bob", 2, 1);
	assert_non_null(strstr(received[0], "Subject: Lunch"));
	assert_non_null(strstr(received[0], "Text of Lunch."));
	assert_non_null(strcasestr(received[0], "Message-ID: <")); /* easd made one (GMime spells it Message-Id) */
	assert_null(strstr(received[0], "carol@outside.test")); /* Bcc is not shown to the others */
	const char **sent = wait_for(f, "alice", 5, 1);
	assert_non_null(strstr(sent[0], "Bcc: carol@outside.test")); /* but kept in the sender's copy */
	queue_with(f, "carol@outside.test");
	easclient_free(&bob);
}

static void outside_recipient_is_queued_with_the_users_envelope(void **state)
{
	struct e2e_mail *f = *state;
	compose(f, f->phone, "SendMail", "<ClientId>out1</ClientId>",
		message_to(f, "To: dave@outside.test\r\n", "Invoice"), 0);
	const char *queue = queue_with(f, "dave@outside.test");
	assert_non_null(strstr(queue, "\"sender\": \"alice@example.org\""));
	assert_int_equal(count(messages(f, "alice", 5)), 0); /* no SaveInSentItems, no copy */
}

static void a_repeated_client_id_sends_once(void **state)
{
	struct e2e_mail *f = *state;
	const char *mime = message_to(f, "To: bob@example.org\r\nMessage-ID: <retry@example.org>\r\n", "Once");
	compose(f, f->phone, "SendMail", "<ClientId>same</ClientId><SaveInSentItems/>", mime, 0);
	compose(f, f->phone, "SendMail", "<ClientId>same</ClientId><SaveInSentItems/>", mime, 0);
	wait_for(f, "bob", 2, 1);
	usleep(1500 * 1000);
	assert_int_equal(count(messages(f, "bob", 2)), 1);
	assert_int_equal(count(messages(f, "alice", 5)), 1);
	/* Another device's ClientId is its own: the same text sent from the tablet is a new message. */
	compose(f, f->tablet, "SendMail", "<ClientId>same</ClientId>",
		message_to(f, "To: bob@example.org\r\n", "Twice"), 0);
	wait_for(f, "bob", 2, 2);
}

static void relay_down_keeps_the_message_for_a_retry(void **state)
{
	struct e2e_mail *f = *state;
	unsigned closed = e2e_free_port();
	assert_int_equal(e2e_restart(&f->server, e2e_postfix_config(&postfix, closed, NULL)), 0);
	const char *mime = message_to(f, "To: bob@example.org\r\n", "Later");
	compose(f, f->phone, "SendMail", "<ClientId>later</ClientId><SaveInSentItems/>", mime, 120);
	assert_int_equal(count(messages(f, "alice", 5)), 0);
	const char *needles[] = { "SendMail", "relay_unavailable", NULL };
	assert_true(e2e_log_has(&f->server, needles));
	/* The relay is back: the device's retry (same ClientId) goes out. */
	assert_int_equal(e2e_restart(&f->server, e2e_postfix_config(&postfix, 0, NULL)), 0);
	compose(f, f->phone, "SendMail", "<ClientId>later</ClientId><SaveInSentItems/>", mime, 0);
	wait_for(f, "bob", 2, 1);
	wait_for(f, "alice", 5, 1);
}

/* A listening socket that never accepts: a relay that stalls after the TCP handshake (the kernel completes it). */
static int stalled_relay(unsigned *port_out)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(address);
	assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &len), 0);
	*port_out = ntohs(address.sin_port);
	return fd;
}

/*
 * A relay that stalls holds at most [smtp] max_parallel HTTP workers (one
 * less than the two the tests run): a second SendMail is told to retry
 * within seconds, not after the relay's timeout, and other requests are
 * served meanwhile.
 */
static void a_stalled_relay_does_not_hold_every_worker(void **state)
{
	struct e2e_mail *f = *state;
	unsigned port;
	int relay = stalled_relay(&port);
	assert_int_equal(e2e_restart(&f->server, e2e_postfix_config(&postfix, port, "[smtp]\ntimeout = 6\n")), 0);
	const char *first = e2e_mail_format(f, "<SendMail xmlns=\"ComposeMail\"><ClientId>s1</ClientId><Mime>%s</Mime></SendMail>",
					    xml_text(f, message_to(f, "To: bob@example.org\r\n", "Stalled")));
	struct e2e_call *stuck = e2e_mail_call_start(f, "TABLET1", f->tablet, "SendMail", first, 0);
	usleep(500 * 1000);
	int64_t started = e2e_mail_now_ms();
	compose(f, f->phone, "SendMail", "<ClientId>s2</ClientId>", message_to(f, "To: bob@example.org\r\n", "Second"), 120);
	assert_true(e2e_mail_now_ms() - started < 4000);
	started = e2e_mail_now_ms();
	assert_int_equal(easclient_options(f->phone, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_true(e2e_mail_now_ms() - started < 1000);
	struct wbxml_node *root = e2e_mail_call_finish(f, stuck, 15000);
	assert_non_null(root);
	assert_string_equal(easclient_find_text(root, WBXML_COMPOSEMAIL_STATUS, f->arena), "120");
	assert_true(e2e_log_has(&f->server, (const char *const[]){ "SendMail", "relay_unavailable", NULL }));
	close(relay);
}

static void a_refused_recipient_sends_to_nobody(void **state)
{
	struct e2e_mail *f = *state;
	compose(f, f->phone, "SendMail", "<ClientId>r1</ClientId>",
		message_to(f, "To: bob@example.org, refused@outside.test\r\n", "Refused"), 116);
	const char *needles[] = { "SendMail", "relay_refused_recipient", NULL };
	assert_true(e2e_log_has(&f->server, needles));
	usleep(1000 * 1000);
	assert_int_equal(count(messages(f, "bob", 2)), 0);
}

/* The original in alice's Inbox, from bob, with an attachment; returns its ServerId. */
static const char *original(struct e2e_mail *f)
{
	static const char mime[] =
		"From: Bob <bob@example.org>\r\nTo: alice@example.org, team@outside.test\r\nSubject: Plan\r\n"
		"Message-ID: <plan@example.org>\r\nReferences: <earlier@example.org>\r\n"
		"Date: Tue, 01 Dec 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFirst line of the plan.\r\nSecond line.\r\n"
		"--b1\r\nContent-Type: text/plain; name=\"report.txt\"\r\n"
		"Content-Disposition: attachment; filename=\"report.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
		"UmVwb3J0IGNvbnRlbnRzLg==\r\n--b1--\r\n";
	e2e_mail_add(f, 2, mime, sizeof(mime) - 1, "plan@example.org", 1764579600);
	return query_one(f, "SELECT folder_id || ':' || id FROM items WHERE message_id = 'plan@example.org'");
}

static const char *source(struct e2e_mail *f, const char *server_id)
{
	return e2e_mail_format(f, "<Source><FolderId>%s</FolderId><ItemId>%s</ItemId></Source>", f->inbox, server_id);
}

static void smartreply_all_quotes_threads_and_skips_the_sender(void **state)
{
	struct e2e_mail *f = *state;
	const char *id = original(f);
	compose(f, f->phone, "SmartReply", e2e_mail_format(f, "<ClientId>re1</ClientId>%s", source(f, id)),
		message_to(f, "To: bob@example.org\r\nCc: alice@example.org, team@outside.test\r\n", "Re: Plan"), 0);
	const char **received = wait_for(f, "bob", 2, 1);
	assert_non_null(strstr(received[0], "In-Reply-To: <plan@example.org>"));
	assert_non_null(strstr(received[0], "<earlier@example.org> <plan@example.org>"));
	assert_non_null(strstr(received[0], "Text of Re: Plan."));
	assert_non_null(strstr(received[0], "> First line of the plan."));
	assert_null(strstr(received[0], "report.txt")); /* a reply does not carry the attachments */
	queue_with(f, "team@outside.test");
	usleep(1000 * 1000);
	assert_int_equal(count(messages(f, "alice", 2)), 1); /* only the original: no copy of her own Reply All */
}

static void smartforward_attaches_the_originals_attachments(void **state)
{
	struct e2e_mail *f = *state;
	const char *id = original(f);
	compose(f, f->phone, "SmartForward", e2e_mail_format(f, "<ClientId>fw1</ClientId><SaveInSentItems/>%s", source(f, id)),
		message_to(f, "To: bob@example.org\r\n", "Fw: Plan"), 0);
	const char **received = wait_for(f, "bob", 2, 1);
	assert_non_null(strstr(received[0], "Text of Fw: Plan."));
	assert_non_null(strstr(received[0], "First line of the plan."));
	assert_non_null(strstr(received[0], "filename=\"report.txt\""));
	assert_non_null(strstr(received[0], "UmVwb3J0IGNvbnRlbnRzLg=="));
	assert_null(strstr(received[0], "In-Reply-To"));
	wait_for(f, "alice", 5, 1);
	/* ReplaceMime: the device's message is the whole message. */
	compose(f, f->phone, "SmartForward",
		e2e_mail_format(f, "<ClientId>fw2</ClientId>%s<ReplaceMime/>", source(f, id)),
		message_to(f, "To: bob@example.org\r\n", "Whole"), 0);
	received = wait_for(f, "bob", 2, 2);
	assert_null(strstr(received[1], "report.txt"));
	/* An original that is not there. */
	compose(f, f->phone, "SmartReply",
		e2e_mail_format(f, "<ClientId>fw3</ClientId>%s", source(f, e2e_mail_format(f, "%s:999999", f->inbox))),
		message_to(f, "To: bob@example.org\r\n", "Gone"), 150);
}

static void sendmail_12_1_takes_raw_mime_and_save_in_sent(void **state)
{
	struct e2e_mail *f = *state;
	struct easclient *old = e2e_mail_device(f, "OLDPHONE", 121);
	const char *mime = message_to(f, "To: bob@example.org\r\n", "Old");
	assert_int_equal(easclient_post_query(old, "Cmd=SendMail&User=alice&DeviceId=OLDPHONE&DeviceType=easclient&SaveInSent=T",
					      mime, strlen(mime), &f->response),
			 0);
	assert_int_equal(f->response.http_status, 200);
	wait_for(f, "bob", 2, 1);
	wait_for(f, "alice", 5, 1);
	easclient_free(&old);
}

static void limits_say_which(void **state)
{
	struct e2e_mail *f = *state;
	compose(f, f->phone, "SendMail", "<ClientId>l1</ClientId>", message_to(f, "", "Nobody"), 119);
	compose(f, f->phone, "SendMail", "<ClientId>l2</ClientId>",
		message_to(f, "To: a@outside.test, b@outside.test, c@outside.test\r\n", "Many"), 115);
	compose(f, f->phone, "SendMail", "<ClientId>l3</ClientId>", message_to(f, "To: not an address\r\n", "Bad"), 183);
	compose(f, f->phone, "SendMail", "<ClientId>l4</ClientId>", message_to(f, "To: bob@example.org\r\n", "First"), 0);
	compose(f, f->phone, "SendMail", "<ClientId>l5</ClientId>", message_to(f, "To: bob@example.org\r\n", "Second"), 115);
	const char *needles[] = { "SendMail", "send_rate_exceeded", NULL };
	assert_true(e2e_log_has(&f->server, needles));
	compose(f, f->phone, "SendMail", "<ClientId>l6</ClientId>", "", 103);
	wait_for(f, "bob", 2, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(sendmail_reaches_another_user_and_wakes_his_ping, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(outside_recipient_is_queued_with_the_users_envelope, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(a_repeated_client_id_sends_once, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(relay_down_keeps_the_message_for_a_retry, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(a_stalled_relay_does_not_hold_every_worker, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(a_refused_recipient_sends_to_nobody, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(smartreply_all_quotes_threads_and_skips_the_sender, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(smartforward_attaches_the_originals_attachments, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(sendmail_12_1_takes_raw_mime_and_save_in_sent, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(limits_say_which, setup_limited, e2e_mail_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
