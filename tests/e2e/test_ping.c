/*
 * test_ping.c: Ping against a real easd: every status, the cached
 * parameters, answers at once when changes are already there, wakes by
 * delivery, by another device's change and by a folder create (not by the
 * device's own change), a newer Ping ending the parked one, a client that
 * hangs up freeing its socket, the recipient information cache, the loop
 * breakers (a folder never synced, errors repeated at once), and SIGTERM
 * answering every parked Ping.
 *
 * A Ping that waits runs on a thread of its own (e2e_mail_call_start) with
 * its own connection, as a phone's push connection does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e_mail.h"

/* Pings answer 5 s before their heartbeat: a heartbeat of 6 ends in 1 s. */
#define SHORT_HEARTBEAT "6"
#define CONFIG "[push]\nheartbeat_min = 6\nmax_folders = 4\n"

static int setup(void **state)
{
	return e2e_mail_setup_with(state, CONFIG);
}

/* A Ping in flight as device_id (with the policy key of like); xml NULL: an empty Ping. */
static struct e2e_call *ping_start(struct e2e_mail *f, const char *device_id, struct easclient *like,
				   const char *xml, unsigned timeout_ms)
{
	return e2e_mail_call_start(f, device_id, like, "Ping", xml, timeout_ms);
}

/* Waits up to within_ms for the answer; returns its tree. */
static struct wbxml_node *ping_finish(struct e2e_mail *f, struct e2e_call *p, int64_t within_ms)
{
	struct wbxml_node *root = e2e_mail_call_finish(f, p, within_ms);
	assert_non_null(root);
	return root;
}

static void assert_parked(struct e2e_call *p, unsigned ms)
{
	e2e_mail_call_assert_waiting(p, ms);
}

static const char *ping_xml(struct e2e_mail *f, const char *heartbeat, const char *folders)
{
	return e2e_mail_format(f, "<Ping xmlns=\"Ping\">%s%s%s%s%s%s</Ping>", heartbeat != NULL ? "<HeartbeatInterval>" : "",
			       heartbeat != NULL ? heartbeat : "", heartbeat != NULL ? "</HeartbeatInterval>" : "",
			       folders != NULL ? "<Folders>" : "", folders != NULL ? folders : "",
			       folders != NULL ? "</Folders>" : "");
}

static const char *folder(struct e2e_mail *f, const char *id, const char *class)
{
	return e2e_mail_format(f, "<Folder><Id>%s</Id><Class>%s</Class></Folder>", id, class);
}

/* A Ping answered at once on client; returns its tree. */
static struct wbxml_node *ping_now(struct e2e_mail *f, struct easclient *client, const char *xml)
{
	int64_t started = e2e_mail_now_ms();
	if (xml != NULL)
		assert_int_equal(easclient_post_xml(client, "Ping", xml, &f->response), 0);
	else
		assert_int_equal(easclient_post(client, "Ping", NULL, 0, NULL, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_true(e2e_mail_now_ms() - started < 1000);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	return root;
}

static const char *text(struct e2e_mail *f, const struct wbxml_node *root, enum wbxml_tag tag)
{
	return easclient_find_text(root, tag, f->arena);
}

static const char *inbox_ping(struct e2e_mail *f, const char *heartbeat)
{
	return ping_xml(f, heartbeat, folder(f, f->inbox, "Email"));
}

/* ---- statuses answered at once ---- */

static void ping_empty_without_cache_is_missing_parameters(void **state)
{
	struct e2e_mail *f = *state;
	assert_string_equal(text(f, ping_now(f, f->phone, NULL), WBXML_PING_STATUS), "3");
	/* Folders without a heartbeat, nothing cached: 3 as well. */
	assert_string_equal(text(f, ping_now(f, f->phone, ping_xml(f, NULL, folder(f, f->inbox, "Email"))), WBXML_PING_STATUS), "3");
	const char *const needles[] = { "Ping", "ping_parameters_missing", NULL };
	assert_true(e2e_log_has(&f->server, needles));
}

static void ping_heartbeat_out_of_range_gets_the_bound(void **state)
{
	struct e2e_mail *f = *state;
	struct wbxml_node *root = ping_now(f, f->phone, inbox_ping(f, "5"));
	assert_string_equal(text(f, root, WBXML_PING_STATUS), "5");
	assert_string_equal(text(f, root, WBXML_PING_HEARTBEAT_INTERVAL), "6");
	root = ping_now(f, f->phone, inbox_ping(f, "86400"));
	assert_string_equal(text(f, root, WBXML_PING_STATUS), "5");
	assert_string_equal(text(f, root, WBXML_PING_HEARTBEAT_INTERVAL), "3540");
	/* At the bounds: parked, then expired. */
	e2e_mail_sync_inbox(f, f->phone);
	struct e2e_call *p = ping_start(f, "PHONE1", f->phone, inbox_ping(f, SHORT_HEARTBEAT), 0);
	assert_string_equal(text(f, ping_finish(f, p, 3000), WBXML_PING_STATUS), "1");
}

static void ping_too_many_folders_gets_max_folders(void **state)
{
	struct e2e_mail *f = *state;
	const char *folders = e2e_mail_format(f, "%s%s%s%s%s", folder(f, "1", "Email"), folder(f, "2", "Email"),
					      folder(f, "3", "Email"), folder(f, "4", "Email"), folder(f, "5", "Email"));
	struct wbxml_node *root = ping_now(f, f->phone, ping_xml(f, "60", folders));
	assert_string_equal(text(f, root, WBXML_PING_STATUS), "6");
	assert_string_equal(text(f, root, WBXML_PING_MAX_FOLDERS), "4");
}

static void ping_syntax_errors_are_status_4(void **state)
{
	struct e2e_mail *f = *state;
	const char *twice = e2e_mail_format(f, "%s%s", folder(f, f->inbox, "Email"), folder(f, f->inbox, "Email"));
	assert_string_equal(text(f, ping_now(f, f->phone, ping_xml(f, "60", twice)), WBXML_PING_STATUS), "4");
	assert_string_equal(text(f, ping_now(f, f->phone, "<Ping xmlns=\"Ping\"/>"), WBXML_PING_STATUS), "4");
	assert_string_equal(text(f, ping_now(f, f->phone, ping_xml(f, "sixty", NULL)), WBXML_PING_STATUS), "4");
	assert_string_equal(text(f, ping_now(f, f->phone, ping_xml(f, "60", "<Folder><Class>Email</Class></Folder>")),
				 WBXML_PING_STATUS), "4");
	/* And an ordinary one still works. */
	e2e_mail_sync_inbox(f, f->phone);
	struct e2e_call *p = ping_start(f, "PHONE1", f->phone, inbox_ping(f, SHORT_HEARTBEAT), 0);
	assert_string_equal(text(f, ping_finish(f, p, 3000), WBXML_PING_STATUS), "1");
}

/* R4257: a device whose folder list is behind is sent to FolderSync at once (Exchange does). */
static void ping_hierarchy_behind_is_status_7(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_sync_inbox(f, f->phone);
	assert_int_equal(e2e_add_folder(&f->server, "alice", "Projects"), 0);
	assert_string_equal(text(f, ping_now(f, f->phone, inbox_ping(f, "60")), WBXML_PING_STATUS), "7");
	/* A device that never ran FolderSync too. */
	struct easclient *fresh = e2e_mail_device(f, "FRESH1", 0);
	assert_string_equal(text(f, ping_now(f, fresh, inbox_ping(f, "60")), WBXML_PING_STATUS), "7");
	easclient_free(&fresh);
}

static void ping_answers_at_once_when_changes_are_there(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_sync_inbox(f, f->phone);
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "early", 1, 1);
	struct wbxml_node *root = ping_now(f, f->phone, inbox_ping(f, "300"));
	assert_string_equal(text(f, root, WBXML_PING_STATUS), "2");
	assert_string_equal(text(f, root, WBXML_PING_FOLDER), f->inbox);
	assert_int_equal(easclient_count(root, WBXML_PING_FOLDER), 1);
}

/* ---- waiting ---- */

static void ping_expires_with_status_1_and_empty_ping_reuses_cache(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_sync_inbox(f, f->phone);
	struct e2e_call *p = ping_start(f, "PHONE1", f->phone, inbox_ping(f, SHORT_HEARTBEAT), 0);
	assert_parked(p, 500);
	struct wbxml_node *root = ping_finish(f, p, 3000);
	assert_string_equal(text(f, root, WBXML_PING_STATUS), "1");
	assert_null(easclient_find(root, WBXML_PING_FOLDERS));
	/* An empty Ping stands for the cached one: parked, not Status 3. */
	p = ping_start(f, "PHONE1", f->phone, NULL, 0);
	assert_parked(p, 500);
	assert_string_equal(text(f, ping_finish(f, p, 3000), WBXML_PING_STATUS), "1");
}

static void ping_woken_by_delivery(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_sync_inbox(f, f->phone);
	struct e2e_call *p = ping_start(f, "PHONE1", f->phone, inbox_ping(f, "300"), 0);
	assert_parked(p, 300);
	int64_t delivered = e2e_mail_now_ms();
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "wake", 1, 1);
	struct wbxml_node *root = ping_finish(f, p, 2000);
	assert_string_equal(text(f, root, WBXML_PING_STATUS), "2");
	assert_string_equal(text(f, root, WBXML_PING_FOLDER), f->inbox);
	assert_true(e2e_mail_now_ms() - delivered < 2000);
}

/* T63/T64: the device's own change does not wake it; another device's read change does. */
static void ping_not_woken_by_own_change(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "flag", 1, 1);
	struct wbxml_node *root = e2e_mail_sync(f, f->tablet, f->inbox, "0", 10, NULL, NULL);
	root = e2e_mail_sync(f, f->tablet, f->inbox, text(f, root, WBXML_AIRSYNC_SYNC_KEY), 10,
			     E2E_MAIL_BODY_PREFERENCE, NULL);
	const char *tablet_key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	const char *server_id = text(f, root, WBXML_AIRSYNC_SERVER_ID);
	assert_non_null(server_id);
	const char *phone_key = e2e_mail_sync_inbox(f, f->phone);
	struct e2e_call *p = ping_start(f, "PHONE1", f->phone, inbox_ping(f, "300"), 0);
	assert_parked(p, 300);
	const char *read = e2e_mail_format(f, "<Change><ServerId>%s</ServerId><ApplicationData>"
					      "<email:Read>1</email:Read></ApplicationData></Change>", server_id);
	e2e_mail_sync(f, f->phone, f->inbox, phone_key, 10, NULL, read);
	assert_parked(p, 1500);
	/* The tablet learns of the phone's change, then makes its own. */
	root = e2e_mail_sync(f, f->tablet, f->inbox, tablet_key, 10, NULL, NULL);
	tablet_key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	const char *unread = e2e_mail_format(f, "<Change><ServerId>%s</ServerId><ApplicationData>"
						"<email:Read>0</email:Read></ApplicationData></Change>", server_id);
	e2e_mail_sync(f, f->tablet, f->inbox, tablet_key, 10, NULL, unread);
	root = ping_finish(f, p, 2000);
	assert_string_equal(text(f, root, WBXML_PING_STATUS), "2");
	assert_string_equal(text(f, root, WBXML_PING_FOLDER), f->inbox);
}

static void ping_woken_by_folder_create_with_status_7(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_sync_inbox(f, f->phone);
	struct e2e_call *p = ping_start(f, "PHONE1", f->phone, inbox_ping(f, "300"), 0);
	assert_parked(p, 300);
	assert_int_equal(e2e_add_folder(&f->server, "alice", "Projects"), 0);
	assert_string_equal(text(f, ping_finish(f, p, 2000), WBXML_PING_STATUS), "7");
}

/* T62: a newer Ping of the device ends the parked one at once, even within the same second. */
static void ping_superseded_by_newer_ping(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_sync_inbox(f, f->phone);
	struct e2e_call *first = ping_start(f, "PHONE1", f->phone, inbox_ping(f, "300"), 0);
	assert_parked(first, 200);
	struct e2e_call *second = ping_start(f, "PHONE1", f->phone, inbox_ping(f, "300"), 0);
	assert_string_equal(text(f, ping_finish(f, first, 1000), WBXML_PING_STATUS), "1");
	struct e2e_call *third = ping_start(f, "PHONE1", f->phone, NULL, 0);
	assert_string_equal(text(f, ping_finish(f, second, 1000), WBXML_PING_STATUS), "1");
	assert_parked(third, 300);
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "third", 1, 1);
	assert_string_equal(text(f, ping_finish(f, third, 2000), WBXML_PING_STATUS), "2");
	const char *const needles[] = { "Ping", "ping_superseded", NULL };
	assert_true(e2e_log_has(&f->server, needles));
}

/*
 * T59, F-PING-1: Samsung pings "RI" (the recipient information cache) and
 * folders that are gone: they are dropped from the watch set and named in
 * the log, never answered at once (the device would ping them again at
 * once, for ever); the other folders are watched as usual.
 */
static void ping_unknown_folders_are_dropped_not_looped(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_sync_inbox(f, f->phone);
	const char *folders = e2e_mail_format(f, "%s%s%s", folder(f, f->inbox, "Email"), folder(f, "RI", "Email"),
					      folder(f, "999999", "Email"));
	struct e2e_call *p = ping_start(f, "PHONE1", f->phone, ping_xml(f, "300", folders), 0);
	assert_parked(p, 500);
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "ri", 1, 1);
	struct wbxml_node *root = ping_finish(f, p, 2000);
	assert_string_equal(text(f, root, WBXML_PING_STATUS), "2");
	assert_int_equal(easclient_count(root, WBXML_PING_FOLDER), 1);
	assert_string_equal(text(f, root, WBXML_PING_FOLDER), f->inbox);
	const char *const needles[] = { "Ping", "ping_folder_unknown:RI", NULL };
	assert_true(e2e_log_has(&f->server, needles));
	/* A Ping of only such folders parks until its heartbeat. */
	p = ping_start(f, "PHONE1", f->phone, ping_xml(f, SHORT_HEARTBEAT, folder(f, "999999", "Email")), 0);
	assert_parked(p, 500);
	assert_string_equal(text(f, ping_finish(f, p, 3000), WBXML_PING_STATUS), "1");
	const char *const gone[] = { "Ping", "ping_folder_unknown:999999", NULL };
	assert_true(e2e_log_has(&f->server, gone));
}

/* F-PING-5, T65: a folder the device is told of three times and never syncs is not reported again until it does. */
static void ping_folder_never_synced_after_three_reports_is_dropped(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_sync_inbox(f, f->phone);
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "loop", 1, 1);
	for (int i = 0; i < 3; i++) {
		struct wbxml_node *root = ping_now(f, f->phone, inbox_ping(f, SHORT_HEARTBEAT));
		assert_string_equal(text(f, root, WBXML_PING_STATUS), "2");
	}
	/* The fourth parks (the Inbox is dropped: nothing left to tell) and expires. */
	struct e2e_call *p = ping_start(f, "PHONE1", f->phone, inbox_ping(f, SHORT_HEARTBEAT), 0);
	assert_parked(p, 300);
	assert_string_equal(text(f, ping_finish(f, p, 3000), WBXML_PING_STATUS), "1");
	const char *reason = e2e_mail_format(f, "ping_folder_not_syncing:%s", f->inbox);
	const char *const needles[] = { "Ping", reason, NULL };
	assert_true(e2e_log_has(&f->server, needles));
	/* Once it syncs, it is told again. */
	e2e_mail_sync_inbox(f, f->phone);
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "loop", 2, 1);
	assert_string_equal(text(f, ping_now(f, f->phone, inbox_ping(f, SHORT_HEARTBEAT)), WBXML_PING_STATUS), "2");
}

/* A device repeating a Ping that gets an error at once gets it late past five a minute: parked, no loop. */
static void ping_repeated_errors_are_delayed(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_sync_inbox(f, f->phone);
	const char *bad = ping_xml(f, "sixty", NULL);
	for (int i = 0; i < 5; i++)
		assert_string_equal(text(f, ping_now(f, f->phone, bad), WBXML_PING_STATUS), "4");
	struct e2e_call *delayed = ping_start(f, "PHONE1", f->phone, bad, 0);
	assert_parked(delayed, 1000);
	/* The device's next request ends it: it gets the answer it was owed. */
	struct e2e_call *next = ping_start(f, "PHONE1", f->phone, inbox_ping(f, "300"), 0);
	assert_string_equal(text(f, ping_finish(f, delayed, 1000), WBXML_PING_STATUS), "4");
	assert_parked(next, 300);
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "after", 1, 1);
	assert_string_equal(text(f, ping_finish(f, next, 2000), WBXML_PING_STATUS), "2");
	const char *const needles[] = { "Ping", "ping_repeated:ping_invalid", NULL };
	assert_true(e2e_log_has(&f->server, needles));
}

/* easd's open sockets (listeners, connections, the push socket). */
static unsigned open_sockets(pid_t pid)
{
	char path[64], link[128], target[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *dir = opendir(path);
	unsigned count = 0;
	assert_non_null(dir);
	for (struct dirent *entry; (entry = readdir(dir)) != NULL;) {
		snprintf(link, sizeof(link), "%s/%.16s", path, entry->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n > 0 && strncmp(target, "socket:", 7) == 0)
			count++;
	}
	closedir(dir);
	return count;
}

/* A client that hangs up frees its parked Ping: easd's sockets are back within a second. */
static void ping_hang_up_frees_the_socket(void **state)
{
	struct e2e_mail *f = *state;
	struct easclient *devices[5];
	for (int i = 0; i < 5; i++) {
		devices[i] = e2e_mail_device(f, e2e_mail_format(f, "HANG%d", i), 0);
		e2e_mail_sync_inbox(f, devices[i]);
	}
	unsigned before = open_sockets(f->server.pid);
	struct e2e_call *pingers[5];
	for (int i = 0; i < 5; i++)
		pingers[i] = ping_start(f, e2e_mail_format(f, "HANG%d", i), devices[i], inbox_ping(f, "300"), 500);
	usleep(200 * 1000);
	assert_true(open_sockets(f->server.pid) >= before + 5);
	for (int i = 0; i < 5; i++)
		e2e_mail_call_abandoned(pingers[i], 3000);
	int64_t deadline = e2e_mail_now_ms() + 1000;
	while (open_sockets(f->server.pid) > before && e2e_mail_now_ms() < deadline)
		usleep(10000);
	assert_int_equal(open_sockets(f->server.pid), before);
	const char *const needles[] = { "Ping", "\t499\t-\t", "client_gone", NULL };
	assert_true(e2e_log_has(&f->server, needles));
	for (int i = 0; i < 5; i++)
		easclient_free(&devices[i]);
}

/* A second easd started on the same data directory refuses to start, and leaves the first's push.sock alone. */
static void second_easd_on_the_data_directory_refuses(void **state)
{
	struct e2e_mail *f = *state;
	char command[600];
	snprintf(command, sizeof(command), "%s/easd -c %s 2>%s/second.stderr", getenv("EASD_BUILD") != NULL ?
		 getenv("EASD_BUILD") : "build", f->server.config, f->server.dir);
	assert_int_not_equal(system(command), 0);
	snprintf(command, sizeof(command), "grep -q 'another easd serves this data directory' %s/second.stderr",
		 f->server.dir);
	assert_int_equal(system(command), 0);
	/* The first still hears of changes made by other programs. */
	e2e_mail_sync_inbox(f, f->phone);
	struct e2e_call *p = ping_start(f, "PHONE1", f->phone, inbox_ping(f, "300"), 0);
	assert_parked(p, 300);
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "second", 1, 1);
	assert_string_equal(text(f, ping_finish(f, p, 2000), WBXML_PING_STATUS), "2");
}

/* SIGTERM: every parked Ping gets its answer, and easd exits cleanly. */
static void ping_answered_at_sigterm(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_sync_inbox(f, f->phone);
	e2e_mail_sync_inbox(f, f->tablet);
	struct e2e_call *phone = ping_start(f, "PHONE1", f->phone, inbox_ping(f, "300"), 0);
	struct e2e_call *tablet = ping_start(f, "TABLET1", f->tablet, inbox_ping(f, "300"), 0);
	assert_parked(phone, 300);
	assert_parked(tablet, 10);
	assert_int_equal(e2e_stop(&f->server), 0);
	assert_string_equal(text(f, ping_finish(f, phone, 1000), WBXML_PING_STATUS), "1");
	assert_string_equal(text(f, ping_finish(f, tablet, 1000), WBXML_PING_STATUS), "1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(ping_empty_without_cache_is_missing_parameters, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_heartbeat_out_of_range_gets_the_bound, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_too_many_folders_gets_max_folders, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_syntax_errors_are_status_4, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_hierarchy_behind_is_status_7, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_answers_at_once_when_changes_are_there, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_expires_with_status_1_and_empty_ping_reuses_cache, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_woken_by_delivery, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_not_woken_by_own_change, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_woken_by_folder_create_with_status_7, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_superseded_by_newer_ping, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_unknown_folders_are_dropped_not_looped, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_folder_never_synced_after_three_reports_is_dropped, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_repeated_errors_are_delayed, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_hang_up_frees_the_socket, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(second_easd_on_the_data_directory_refuses, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(ping_answered_at_sigterm, setup, e2e_mail_teardown),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
