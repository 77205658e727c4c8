/*
 * test_reload.c: SIGHUP loads easd.conf again (issue 14). The next request
 * sees the new values ([push] bounds, [policy]), a request already parked
 * is answered as before, keys read only at start keep their values until a
 * restart, a file that does not load keeps the configuration in force, and
 * each outcome is said in one line. Requests running through reloads are
 * all answered right (and the ASan build checks the memory).
 *
 * A Ping below the minimum heartbeat reads the minimum in force back;
 * guard/repeats slows a device after 5 such answers a minute, so each
 * test asks fewer times than that per device.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_mail.h"

/* Heartbeats below the minimum get Status 5 and the minimum: a cheap way to read the bound in force. */
/* The askers below loop on FolderSync 0 as fast as they can: autoblock and the request
   budget would rightly stop them. */
#define NO_AUTOBLOCK "[autoblock]\nsync_key_zero = 0 1 1\ncommand_rate = 0 1 1\n[guard]\nrequests_per_minute = 0\n"
#define CONFIG_MIN_6 NO_AUTOBLOCK "[push]\nheartbeat_min = 6\n"
#define CONFIG_MIN_8 NO_AUTOBLOCK "[push]\nheartbeat_min = 8\n"

static int setup(void **state)
{
	return e2e_mail_setup_with(state, CONFIG_MIN_6);
}

static const char *ping_xml(struct e2e_mail *f, const char *heartbeat)
{
	return e2e_mail_format(f, "<Ping xmlns=\"Ping\"><HeartbeatInterval>%s</HeartbeatInterval><Folders><Folder>"
			       "<Id>%s</Id><Class>Email</Class></Folder></Folders></Ping>", heartbeat, f->inbox);
}

/* The HeartbeatInterval a Ping of 5 s gets back (the minimum in force). */
static const char *minimum_heartbeat(struct e2e_mail *f, struct easclient *client, struct easclient_response *response)
{
	assert_int_equal(easclient_post_xml(client, "Ping", ping_xml(f, "5"), response), 0);
	assert_int_equal(response->http_status, 200);
	struct wbxml_node *root = easclient_parse(response, f->arena);
	assert_non_null(root);
	assert_string_equal(easclient_find_text(root, WBXML_PING_STATUS, f->arena), "5");
	return easclient_find_text(root, WBXML_PING_HEARTBEAT_INTERVAL, f->arena);
}

static void assert_line(char *line, const char *expected)
{
	if (line == NULL || strstr(line, expected) == NULL)
		fail_msg("expected a line with \"%s\", got: %s", expected, line != NULL ? line : "(none)");
	g_free(line);
}

static void reload_changes_what_the_next_request_sees(void **state)
{
	struct e2e_mail *f = *state;
	assert_string_equal(minimum_heartbeat(f, f->phone, &f->response), "6");
	/* A Ping parked before the reload is answered at its own deadline all the same. */
	e2e_mail_sync_inbox(f, f->tablet);
	struct e2e_call *parked = e2e_mail_call_start(f, "TABLET1", f->tablet, "Ping", ping_xml(f, "6"), 0);
	e2e_mail_call_assert_waiting(parked, 300);
	char *expected = e2e_mail_format(f, "easd: SIGHUP: reloaded %s: changed [push] heartbeat_min", f->server.config);
	assert_line(e2e_reload(&f->server, CONFIG_MIN_8, "SIGHUP: reloaded"), expected);
	assert_string_equal(minimum_heartbeat(f, f->phone, &f->response), "8");
	/* Answered 5 s before its heartbeat of 6 (push's margin): Status 1, nothing changed. */
	struct wbxml_node *root = e2e_mail_call_finish(f, parked, 20000);
	assert_non_null(root);
	assert_string_equal(easclient_find_text(root, WBXML_PING_STATUS, f->arena), "1");
	/* Nothing changed: said so. */
	expected = e2e_mail_format(f, "easd: SIGHUP: reloaded %s: nothing changed", f->server.config);
	assert_line(e2e_reload(&f->server, CONFIG_MIN_8, "SIGHUP: reloaded"), expected);
}

static const char foldersync_zero[] = "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>";

static const char *foldersync_status(struct e2e_mail *f)
{
	assert_int_equal(easclient_post_xml(f->phone, "FolderSync", foldersync_zero, &f->response), 0);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	return easclient_find_text(root, WBXML_FOLDERHIERARCHY_STATUS, f->arena);
}

/* A new [policy] reaches provisioned devices at their next request, without a restart. */
static void reload_with_a_new_policy_refreshes_devices(void **state)
{
	struct e2e_mail *f = *state;
	assert_string_equal(foldersync_status(f), "1");
	assert_line(e2e_reload(&f->server, CONFIG_MIN_6 "[policy]\nDevicePasswordEnabled = 1\nMinDevicePasswordLength = 6\n",
			       "SIGHUP: reloaded"), "changed [policy]");
	assert_string_equal(foldersync_status(f), "143");
	assert_int_equal(easclient_provision(f->phone, &f->response), 0);
	assert_string_equal(foldersync_status(f), "1");
	assert_string_equal(foldersync_status(f), "1");
}

/* Listeners, directories and parking limits are read at start: a reload says so and keeps them. */
static void reload_keeps_what_is_read_at_start(void **state)
{
	struct e2e_mail *f = *state;
	const char *moved = CONFIG_MIN_8 "[http]\nlisten = 127.0.0.1:1\n[push]\nmax_parked = 7\n[store]\ndata_dir = /nonexistent\n";
	assert_line(e2e_reload(&f->server, moved, "kept until easd restarts"),
		    "easd: SIGHUP: kept until easd restarts (read only at start): [http] listen, [store] data_dir, "
		    "[push] max_parked");
	/* Served on the same port, from the same data; the rest of the file took effect. */
	assert_string_equal(minimum_heartbeat(f, f->phone, &f->response), "8");
	assert_string_equal(foldersync_status(f), "1");
}

/* A file that does not load changes nothing, and easd says why. */
static void reload_of_a_broken_file_keeps_the_configuration(void **state)
{
	struct e2e_mail *f = *state;
	assert_line(e2e_reload(&f->server, "[push]\nheartbeat_min = thirty\n", "SIGHUP:"),
		    "easd: SIGHUP: kept the configuration in force: ");
	assert_string_equal(minimum_heartbeat(f, f->phone, &f->response), "6");
	assert_line(e2e_reload(&f->server, "[pussh]\nheartbeat_min = 30\n", "SIGHUP:"), "unknown section [pussh]");
	assert_string_equal(minimum_heartbeat(f, f->phone, &f->response), "6");
}

struct asker {
	struct easclient *client;
	struct arena *arena;
	volatile bool stop;
	unsigned asked, wrong;
};

/* FolderSync from 0 as fast as easd answers; counts answers that are not Status 1. */
static void *ask_in_a_loop(void *argument)
{
	struct asker *a = argument;
	struct easclient_response response;
	easclient_response_init(&response);
	while (!a->stop) {
		if (easclient_post_xml(a->client, "FolderSync", foldersync_zero, &response) < 0)
			break;
		struct wbxml_node *root = easclient_parse(&response, a->arena);
		const char *status = root != NULL ? easclient_find_text(root, WBXML_FOLDERHIERARCHY_STATUS, a->arena) : NULL;
		a->asked++;
		if (response.http_status != 200 || status == NULL || strcmp(status, "1") != 0)
			a->wrong++;
		arena_free(&a->arena);
		a->arena = arena_new(0);
	}
	easclient_response_cleanup(&response);
	return NULL;
}

/* Twenty reloads while two devices sync: every request answered right, the last values in force. */
static void reloads_while_requests_run(void **state)
{
	struct e2e_mail *f = *state;
	struct asker askers[2] = { { .client = f->phone }, { .client = f->tablet } };
	pthread_t threads[2];
	for (int i = 0; i < 2; i++) {
		askers[i].arena = arena_new(0);
		assert_int_equal(pthread_create(&threads[i], NULL, ask_in_a_loop, &askers[i]), 0);
	}
	/* No assert until both askers are joined: a failed one leaves this function (cmocka
	   longjmps) and the teardown would free the clients under them. */
	char *lines[20];
	for (int i = 0; i < 20; i++)
		lines[i] = e2e_reload(&f->server, i % 2 == 0 ? CONFIG_MIN_8 : CONFIG_MIN_6, "SIGHUP: reloaded");
	for (int i = 0; i < 2; i++)
		askers[i].stop = true;
	for (int i = 0; i < 2; i++) {
		pthread_join(threads[i], NULL);
		arena_free(&askers[i].arena);
	}
	for (int i = 0; i < 20; i++)
		assert_line(lines[i], "changed [push] heartbeat_min");
	for (int i = 0; i < 2; i++) {
		assert_true(askers[i].asked > 0);
		assert_int_equal(askers[i].wrong, 0);
	}
	assert_string_equal(minimum_heartbeat(f, f->phone, &f->response), "6");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(reload_changes_what_the_next_request_sees, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(reload_with_a_new_policy_refreshes_devices, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(reload_keeps_what_is_read_at_start, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(reload_of_a_broken_file_keeps_the_configuration, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(reloads_while_requests_run, setup, e2e_mail_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
