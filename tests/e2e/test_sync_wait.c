/*
 * test_sync_wait.c: Sync with Wait or HeartbeatInterval against a real
 * easd (field-notes T68): the bounds (Status 14 with Limit), both at once
 * (Status 4), a quiet Sync parked until its wait ends (the empty
 * response) or until mail arrives (the Add, at once), the wait kept in
 * the cached request for an empty Sync, and a Sync with Wait and a Ping
 * of the same device ending each other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "e2e_mail.h"

/* Long polls answer 5 s before their wait: a heartbeat of 6 ends in 1 s. */
#define CONFIG "[push]\nheartbeat_min = 6\n"

static int setup(void **state)
{
	return e2e_mail_setup_with(state, CONFIG);
}

static const char *text(struct e2e_mail *f, const struct wbxml_node *root, enum wbxml_tag tag)
{
	return easclient_find_text(root, tag, f->arena);
}

/* A Sync of the Inbox at key with wait (e.g. "<Wait>1</Wait>") after its Collections. */
static const char *waiting_sync(struct e2e_mail *f, const char *key, const char *wait)
{
	return e2e_mail_format(f,
			       "<Sync xmlns=\"AirSync\" xmlns:airsyncbase=\"AirSyncBase\"><Collections>%s</Collections>%s</Sync>",
			       e2e_mail_collection(f, f->inbox, key, 100, E2E_MAIL_BODY_PREFERENCE, NULL), wait);
}

/* A request answered at once with Status status and, when limit is not NULL, that Limit. */
static void assert_refused(struct e2e_mail *f, const char *xml, const char *status, const char *limit)
{
	assert_int_equal(easclient_post_xml(f->phone, "Sync", xml, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), status);
	assert_null(easclient_find(root, WBXML_AIRSYNC_COLLECTIONS));
	if (limit != NULL)
		assert_string_equal(text(f, root, WBXML_AIRSYNC_LIMIT), limit);
	else
		assert_null(easclient_find(root, WBXML_AIRSYNC_LIMIT));
}

/* T68: Wait 1-59 minutes, HeartbeatInterval in [push] bounds; Limit is the nearest bound. */
static void sync_wait_out_of_range_gets_status_14_and_limit(void **state)
{
	struct e2e_mail *f = *state;
	const char *key = e2e_mail_sync_inbox(f, f->phone);
	assert_refused(f, waiting_sync(f, key, "<Wait>0</Wait>"), "14", "1");
	assert_refused(f, waiting_sync(f, key, "<Wait>60</Wait>"), "14", "59");
	assert_refused(f, waiting_sync(f, key, "<HeartbeatInterval>5</HeartbeatInterval>"), "14", "6");
	assert_refused(f, waiting_sync(f, key, "<HeartbeatInterval>3541</HeartbeatInterval>"), "14", "3540");
	assert_refused(f, waiting_sync(f, key, "<Wait>1</Wait><HeartbeatInterval>60</HeartbeatInterval>"), "4", NULL);
	const char *const needles[] = { "Sync", "wait_out_of_range", NULL };
	assert_true(e2e_log_has(&f->server, needles));
	/* The key still works. */
	struct wbxml_node *root = e2e_mail_sync(f, f->phone, f->inbox, key, 100, NULL, NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
}

/* A quiet Sync waits, then gets the empty response (MS-ASCMD 2.2.1.21.2) and keeps its key. */
static void sync_wait_expires_with_the_empty_response(void **state)
{
	struct e2e_mail *f = *state;
	const char *key = e2e_mail_sync_inbox(f, f->phone);
	int64_t started = e2e_mail_now_ms();
	struct e2e_call *call = e2e_mail_call_start(f, "PHONE1", f->phone, "Sync",
						    waiting_sync(f, key, "<HeartbeatInterval>6</HeartbeatInterval>"), 0);
	e2e_mail_call_assert_waiting(call, 500);
	assert_null(e2e_mail_call_finish(f, call, 3000));
	assert_true(e2e_mail_now_ms() - started >= 900);
	struct wbxml_node *root = e2e_mail_sync(f, f->phone, f->inbox, key, 100, NULL, NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
}

/* Mail arriving during the wait is answered at once with its Add under a new key. */
static void sync_wait_answers_when_mail_arrives(void **state)
{
	struct e2e_mail *f = *state;
	const char *key = e2e_mail_sync_inbox(f, f->phone);
	struct e2e_call *call = e2e_mail_call_start(f, "PHONE1", f->phone, "Sync", waiting_sync(f, key, "<Wait>5</Wait>"), 0);
	e2e_mail_call_assert_waiting(call, 300);
	int64_t delivered = e2e_mail_now_ms();
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "waited", 1, 1);
	struct wbxml_node *root = e2e_mail_call_finish(f, call, 2000);
	assert_true(e2e_mail_now_ms() - delivered < 2000);
	assert_non_null(root);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_string_not_equal(text(f, root, WBXML_AIRSYNC_SYNC_KEY), key);
	assert_int_equal(easclient_count(root, WBXML_AIRSYNC_ADD), 1);
	struct store_item item = e2e_mail_item(f, text(f, root, WBXML_AIRSYNC_SERVER_ID));
	assert_string_equal(item.message_id, "waited1@example.org");
}

/* An empty Sync repeats the cached request, its wait included (MS-ASCMD 2.2.1.21.1, 4.5.10). */
static void empty_sync_waits_as_the_cached_request(void **state)
{
	struct e2e_mail *f = *state;
	const char *key = e2e_mail_sync_inbox(f, f->phone);
	struct e2e_call *call = e2e_mail_call_start(f, "PHONE1", f->phone, "Sync",
						    waiting_sync(f, key, "<HeartbeatInterval>6</HeartbeatInterval>"), 0);
	assert_null(e2e_mail_call_finish(f, call, 3000));
	call = e2e_mail_call_start(f, "PHONE1", f->phone, "Sync", NULL, 0);
	e2e_mail_call_assert_waiting(call, 300);
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "cached", 1, 1);
	struct wbxml_node *root = e2e_mail_call_finish(f, call, 2000);
	assert_non_null(root);
	assert_int_equal(easclient_count(root, WBXML_AIRSYNC_ADD), 1);
	/* A full request without a wait does not wait: the cache follows each request with a body. */
	int64_t started = e2e_mail_now_ms();
	root = e2e_mail_sync(f, f->phone, f->inbox, text(f, root, WBXML_AIRSYNC_SYNC_KEY), 100, NULL, NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_true(e2e_mail_now_ms() - started < 500);
}

/* One long poll per device: a Sync with Wait ends a parked Ping (Status 1), and a Ping ends a waiting Sync. */
static void sync_wait_and_ping_of_a_device_supersede_each_other(void **state)
{
	struct e2e_mail *f = *state;
	const char *key = e2e_mail_sync_inbox(f, f->phone);
	const char *ping = e2e_mail_format(f, "<Ping xmlns=\"Ping\"><HeartbeatInterval>300</HeartbeatInterval><Folders>"
					      "<Folder><Id>%s</Id><Class>Email</Class></Folder></Folders></Ping>", f->inbox);
	struct e2e_call *pinging = e2e_mail_call_start(f, "PHONE1", f->phone, "Ping", ping, 0);
	e2e_mail_call_assert_waiting(pinging, 300);
	struct e2e_call *syncing = e2e_mail_call_start(f, "PHONE1", f->phone, "Sync", waiting_sync(f, key, "<Wait>5</Wait>"), 0);
	struct wbxml_node *root = e2e_mail_call_finish(f, pinging, 1000);
	assert_string_equal(text(f, root, WBXML_PING_STATUS), "1");
	e2e_mail_call_assert_waiting(syncing, 300);
	pinging = e2e_mail_call_start(f, "PHONE1", f->phone, "Ping", ping, 0);
	assert_null(e2e_mail_call_finish(f, syncing, 1000));
	e2e_mail_call_assert_waiting(pinging, 300);
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "last", 1, 1);
	root = e2e_mail_call_finish(f, pinging, 2000);
	assert_string_equal(text(f, root, WBXML_PING_STATUS), "2");
	const char *const needles[] = { "Sync", "sync_superseded", NULL };
	assert_true(e2e_log_has(&f->server, needles));
}

/* A Sync with commands answers at once, whatever its wait (MS-ASCMD 3.1.5.4 R5599). */
static void sync_wait_with_commands_answers_at_once(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "cmd", 1, 1);
	struct wbxml_node *root = e2e_mail_sync(f, f->phone, f->inbox, "0", 100, NULL, NULL);
	root = e2e_mail_sync(f, f->phone, f->inbox, text(f, root, WBXML_AIRSYNC_SYNC_KEY), 100, E2E_MAIL_BODY_PREFERENCE, NULL);
	const char *key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	const char *read = e2e_mail_format(f, "<Change><ServerId>%s</ServerId><ApplicationData><email:Read xmlns:email=\"Email\">1"
					      "</email:Read></ApplicationData></Change>", text(f, root, WBXML_AIRSYNC_SERVER_ID));
	const char *xml = e2e_mail_format(f,
					  "<Sync xmlns=\"AirSync\"><Collections>%s</Collections><Wait>5</Wait></Sync>",
					  e2e_mail_collection(f, f->inbox, key, 100, NULL, read));
	int64_t started = e2e_mail_now_ms();
	assert_int_equal(easclient_post_xml(f->phone, "Sync", xml, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_true(e2e_mail_now_ms() - started < 1000);
	root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
}

/* The device syncs the folder over another connection while its Sync waits: the waiting one gets the
   empty response (its key is stale), and the device's newer key stays good. */
static void sync_wait_with_a_stale_key_gets_the_empty_response(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "own", 1, 1);
	struct wbxml_node *root = e2e_mail_sync(f, f->phone, f->inbox, "0", 100, NULL, NULL);
	root = e2e_mail_sync(f, f->phone, f->inbox, text(f, root, WBXML_AIRSYNC_SYNC_KEY), 100, E2E_MAIL_BODY_PREFERENCE, NULL);
	const char *key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	const char *server_id = text(f, root, WBXML_AIRSYNC_SERVER_ID);
	struct e2e_call *waiting = e2e_mail_call_start(f, "PHONE1", f->phone, "Sync", waiting_sync(f, key, "<Wait>5</Wait>"), 0);
	e2e_mail_call_assert_waiting(waiting, 300);
	const char *read = e2e_mail_format(f, "<Change><ServerId>%s</ServerId><ApplicationData><email:Read>1</email:Read>"
					      "</ApplicationData></Change>", server_id);
	root = e2e_mail_sync(f, f->phone, f->inbox, key, 100, NULL, read);
	const char *newer = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	assert_string_not_equal(newer, key);
	assert_null(e2e_mail_call_finish(f, waiting, 2000));
	root = e2e_mail_sync(f, f->phone, f->inbox, newer, 100, NULL, NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	const char *const needles[] = { "Sync", "sync_keys_moved_on", NULL };
	assert_true(e2e_log_has(&f->server, needles));
}

/* A collection named twice, answered, then the answer lost: the retry at the first key still works. */
static void sync_naming_a_collection_twice_keeps_the_previous_key(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "twice", 1, 2);
	struct wbxml_node *root = e2e_mail_sync(f, f->phone, f->inbox, "0", 100, NULL, NULL);
	const char *key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	const char *one = e2e_mail_collection(f, f->inbox, key, 100, E2E_MAIL_BODY_PREFERENCE, NULL);
	root = e2e_mail_post_sync(f, f->phone, e2e_mail_format(f, "%s%s", one, one), NULL);
	assert_non_null(root);
	root = e2e_mail_sync(f, f->phone, f->inbox, key, 100, E2E_MAIL_BODY_PREFERENCE, NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(sync_wait_out_of_range_gets_status_14_and_limit, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(sync_wait_expires_with_the_empty_response, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(sync_wait_answers_when_mail_arrives, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(empty_sync_waits_as_the_cached_request, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(sync_wait_and_ping_of_a_device_supersede_each_other, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(sync_wait_with_commands_answers_at_once, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(sync_wait_with_a_stale_key_gets_the_empty_response, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(sync_naming_a_collection_twice_keeps_the_previous_key, setup, e2e_mail_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
