/*
 * test_provision_foldersync.c: a device's first minutes against a real
 * easd: OPTIONS, both query forms, Provision in both phases with missing
 * and stale keys, a policy change refreshed exactly once, FolderSync from
 * 0 and incrementally, a repeated key, an unknown key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "e2e.h"
#include "store/store.h"

static const char *const users[] = { "alice:correct horse", "bob:battery staple", NULL };

struct fixture {
	struct e2e_server server;
	struct easclient *client;
	struct easclient_response response;
	struct arena *arena;
	const struct wbxml_node *last_full; /* the last full FolderSync answer a test kept */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (e2e_start(&f->server, NULL, users) < 0)
		return -1;
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", "DEV1");
	f->client = easclient_new(&options);
	easclient_response_init(&f->response);
	f->arena = arena_new(0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	easclient_free(&f->client);
	easclient_response_cleanup(&f->response);
	arena_free(&f->arena);
	int finished = e2e_finish(&f->server);
	free(f);
	return finished;
}

static const char foldersync_zero[] = "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>";

static const char *status_of(struct fixture *f, enum wbxml_tag tag)
{
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	return easclient_find_text(root, tag, f->arena);
}

static void options_lists_versions_and_commands(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_options(f->client, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(easclient_header(&f->response, f->arena, "MS-ASProtocolVersions"),
			    "12.1,14.0,14.1,16.0,16.1");
	const char *commands = easclient_header(&f->response, f->arena, "MS-ASProtocolCommands");
	assert_non_null(commands);
	assert_non_null(strstr(commands, "FolderSync"));
	assert_non_null(strstr(commands, "Provision"));
}

static void foldersync_without_policy_key_gets_142(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_post_xml(f->client, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "142");
	assert_true(e2e_log_has(&f->server, (const char *const[]){ "FolderSync", "\t142\t", "provisioning_required", NULL }));
}

static void provision_then_foldersync_lists_default_folders(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_provision(f->client, &f->response), 0);
	assert_int_not_equal(easclient_policy_key(f->client), 0);
	assert_int_equal(easclient_post_xml(f->client, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_string_equal(easclient_find_text(root, WBXML_FOLDERHIERARCHY_STATUS, f->arena), "1");
	assert_string_equal(easclient_find_text(root, WBXML_FOLDERHIERARCHY_COUNT, f->arena), "9");
	assert_int_equal(easclient_count(root, WBXML_FOLDERHIERARCHY_ADD), 9);
	assert_non_null(easclient_header(&f->response, f->arena, "MS-ASProtocolCommands"));
}

static void provision_ack_with_wrong_key_gets_policy_status_5(void **state)
{
	struct fixture *f = *state;
	static const char ack[] = "<Provision xmlns=\"Provision\"><Policies><Policy>"
				  "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType><PolicyKey>12345</PolicyKey>"
				  "<Status>1</Status></Policy></Policies></Provision>";
	assert_int_equal(easclient_post_xml(f->client, "Provision", ack, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	const struct wbxml_node *policy = easclient_find(root, WBXML_PROVISION_POLICY);
	assert_non_null(policy);
	assert_string_equal(easclient_find_text(policy, WBXML_PROVISION_STATUS, f->arena), "5");
}

static void provision_stores_device_information(void **state)
{
	struct fixture *f = *state;
	static const char download[] =
		"<Provision xmlns=\"Provision\" xmlns:settings=\"Settings\">"
		"<settings:DeviceInformation><settings:Set><settings:Model>PhoneModelX</settings:Model>"
		"<settings:OS>TestOS 1.0</settings:OS><settings:FriendlyName>Alice's phone</settings:FriendlyName>"
		"</settings:Set></settings:DeviceInformation>"
		"<Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>";
	assert_int_equal(easclient_post_xml(f->client, "Provision", download, &f->response), 0);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_string_equal(easclient_find_text(root, WBXML_SETTINGS_STATUS, f->arena), "1");
	char path[300];
	snprintf(path, sizeof(path), "%s/data/easd.sqlite", f->server.dir);
	sqlite3 *db;
	sqlite3_stmt *stmt;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT model, os, friendly_name FROM devices WHERE device_id = 'DEV1'", -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "PhoneModelX");
	assert_string_equal((const char *)sqlite3_column_text(stmt, 1), "TestOS 1.0");
	assert_string_equal((const char *)sqlite3_column_text(stmt, 2), "Alice's phone");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

static void provision_not_applied_gets_139(void **state)
{
	struct fixture *f = *state;
	static const char download[] = "<Provision xmlns=\"Provision\"><Policies><Policy>"
				       "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>";
	assert_int_equal(easclient_post_xml(f->client, "Provision", download, &f->response), 0);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	const char *temporary = easclient_find_text(root, WBXML_PROVISION_POLICY_KEY, f->arena);
	char ack[512];
	snprintf(ack, sizeof(ack), "<Provision xmlns=\"Provision\"><Policies><Policy>"
		 "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType><PolicyKey>%s</PolicyKey>"
		 "<Status>3</Status></Policy></Policies></Provision>", temporary);
	assert_int_equal(easclient_post_xml(f->client, "Provision", ack, &f->response), 0);
	assert_string_equal(status_of(f, WBXML_PROVISION_STATUS), "139");
}

static void stale_policy_key_gets_144(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_provision(f->client, NULL), 0);
	easclient_set_policy_key(f->client, easclient_policy_key(f->client) ^ 0x5A5A);
	assert_int_equal(easclient_post_xml(f->client, "FolderSync", foldersync_zero, &f->response), 0);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "144");
}

static void version_12_1_gets_449_without_key(void **state)
{
	struct fixture *f = *state;
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", "OLD121");
	options.protocol_version = 121;
	struct easclient *old = easclient_new(&options);
	assert_int_equal(easclient_post_xml(old, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 449);
	assert_int_equal(easclient_provision(old, NULL), 0);
	assert_int_equal(easclient_post_xml(old, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	easclient_free(&old);
}

static void base64_query_form_is_served(void **state)
{
	struct fixture *f = *state;
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", "B64DEVICE");
	options.base64_query = true;
	struct easclient *client = easclient_new(&options);
	assert_int_equal(easclient_provision(client, NULL), 0);
	assert_int_equal(easclient_post_xml(client, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "1");
	easclient_free(&client);
}

static const char *foldersync(struct fixture *f, const char *key)
{
	char xml[256];
	snprintf(xml, sizeof(xml), "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey></FolderSync>", key);
	assert_int_equal(easclient_post_xml(f->client, "FolderSync", xml, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	return status_of(f, WBXML_FOLDERHIERARCHY_SYNC_KEY);
}

static void foldersync_incremental_repeat_and_unknown_key(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_provision(f->client, NULL), 0);
	const char *first = foldersync(f, "0");
	/* Nothing changed: same key, no changes. */
	const char *same = foldersync(f, first);
	assert_string_equal(same, first);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_COUNT), "0");
	/* A new folder: one Add under a new key. */
	assert_int_equal(e2e_add_folder(&f->server, "alice", "Projects"), 0);
	const char *second = foldersync(f, first);
	assert_string_not_equal(second, first);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_int_equal(easclient_count(root, WBXML_FOLDERHIERARCHY_ADD), 1);
	assert_string_equal(easclient_find_text(root, WBXML_FOLDERHIERARCHY_DISPLAY_NAME, f->arena), "Projects");
	/* The answer was lost: the previous key gets the same changes again,
	   under a new key; and that answer can be repeated too. */
	const char *again = foldersync(f, first);
	assert_string_not_equal(again, second);
	root = easclient_parse(&f->response, f->arena);
	assert_int_equal(easclient_count(root, WBXML_FOLDERHIERARCHY_ADD), 1);
	/* A folder renamed meanwhile comes with its new name, as an Add (the
	   device never got it): the lost answer is not lost. */
	assert_int_equal(e2e_add_folder(&f->server, "alice", "Later"), 0);
	const char *third = foldersync(f, first);
	root = easclient_parse(&f->response, f->arena);
	assert_int_equal(easclient_count(root, WBXML_FOLDERHIERARCHY_ADD), 2);
	foldersync(f, third);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_COUNT), "0");
	/* A key never handed out: Status 9. */
	foldersync(f, "987654");
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "9");
	assert_true(e2e_log_has(&f->server, (const char *const[]){ "FolderSync", "\t9\t", "sync_key_unknown", NULL }));
}

/* Renames and deletes the user's folder named name, as an admin or another device would. */
static void change_folder(struct fixture *f, const char *name, const char *new_name)
{
	char path[300], error[256];
	struct store *store;
	struct store_user user;
	snprintf(path, sizeof(path), "%s/data", f->server.dir);
	assert_int_equal(store_open(path, 1, &store, error, sizeof(error)), 0);
	struct store_session *session = store_session_acquire(store);
	assert_int_equal(store_user_find(session, f->arena, "alice", &user), STORE_OK);
	int64_t id = 0;
	/* The folder ids come from the last full FolderSync the test kept. */
	for (const struct wbxml_node *add = easclient_find(f->last_full, WBXML_FOLDERHIERARCHY_ADD); add != NULL; add = add->next) {
		const char *display = easclient_find_text(add, WBXML_FOLDERHIERARCHY_DISPLAY_NAME, f->arena);
		if (display != NULL && strcmp(display, name) == 0) {
			uint64_t value;
			const char *server_id = easclient_find_text(add, WBXML_FOLDERHIERARCHY_SERVER_ID, f->arena);
			assert_int_equal(parse_uint64(slice_from_cstr(server_id), INT64_MAX, &value), 0);
			id = (int64_t)value;
		}
	}
	assert_true(id > 0);
	if (new_name != NULL)
		assert_int_equal(store_folder_rename(session, user.id, id, new_name), STORE_OK);
	else
		assert_int_equal(store_folder_delete(session, user.id, id), STORE_OK);
	store_session_release(&session);
	store_close(&store);
}

static void foldersync_reports_renames_and_deletions(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_provision(f->client, NULL), 0);
	assert_int_equal(e2e_add_folder(&f->server, "alice", "Old name"), 0);
	assert_int_equal(e2e_add_folder(&f->server, "alice", "Doomed"), 0);
	const char *key = foldersync(f, "0");
	f->last_full = easclient_parse(&f->response, f->arena);
	assert_int_equal(easclient_count(f->last_full, WBXML_FOLDERHIERARCHY_ADD), 11);
	change_folder(f, "Old name", "New name");
	change_folder(f, "Doomed", NULL);
	const char *next = foldersync(f, key);
	assert_string_not_equal(next, key);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_string_equal(easclient_find_text(root, WBXML_FOLDERHIERARCHY_COUNT, f->arena), "2");
	const struct wbxml_node *update = easclient_find(root, WBXML_FOLDERHIERARCHY_UPDATE);
	assert_non_null(update);
	assert_string_equal(easclient_find_text(update, WBXML_FOLDERHIERARCHY_DISPLAY_NAME, f->arena), "New name");
	assert_non_null(easclient_find(root, WBXML_FOLDERHIERARCHY_DELETE));
	assert_int_equal(easclient_count(root, WBXML_FOLDERHIERARCHY_ADD), 0);
}

static void provision_off_serves_without_a_key(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(e2e_restart(&f->server, "[provision]\nmode = off\n"), 0);
	foldersync(f, "0");
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "1");
	/* A client that provisions anyway gets "no policy" (Policy Status 2) and still a key. */
	static const char download[] = "<Provision xmlns=\"Provision\"><Policies><Policy>"
				       "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>";
	assert_int_equal(easclient_post_xml(f->client, "Provision", download, &f->response), 0);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	const struct wbxml_node *policy = easclient_find(root, WBXML_PROVISION_POLICY);
	assert_non_null(policy);
	assert_string_equal(easclient_find_text(policy, WBXML_PROVISION_STATUS, f->arena), "2");
	assert_non_null(easclient_find(policy, WBXML_PROVISION_POLICY_KEY));
	assert_null(easclient_find(policy, WBXML_PROVISION_EAS_PROVISION_DOC));
	/* The handshake still completes, and the key it gives is accepted. */
	assert_int_equal(easclient_provision(f->client, NULL), 0);
	foldersync(f, "0");
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "1");
}

static void provision_optional_checks_only_keys_sent(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(e2e_restart(&f->server, "[provision]\nmode = optional\n"), 0);
	foldersync(f, "0");
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "1");
	assert_int_equal(easclient_provision(f->client, NULL), 0);
	foldersync(f, "0");
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "1");
	easclient_set_policy_key(f->client, 12345);
	foldersync(f, "0");
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "144");
}

static void policy_change_refreshes_once(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_provision(f->client, NULL), 0);
	foldersync(f, "0");
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "1");
	/* The administrator changes the policy and restarts easd. */
	assert_int_equal(e2e_restart(&f->server, "[policy]\nDevicePasswordEnabled = 1\nMinDevicePasswordLength = 6\n"), 0);
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", "DEV1");
	uint32_t key = easclient_policy_key(f->client);
	easclient_free(&f->client);
	f->client = easclient_new(&options);
	easclient_set_policy_key(f->client, key);
	foldersync(f, "0");
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "143");
	assert_int_equal(easclient_provision(f->client, &f->response), 0);
	/* Once provisioned again, the device is in order: never 143 again. */
	for (int i = 0; i < 3; i++) {
		foldersync(f, "0");
		assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "1");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(options_lists_versions_and_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(foldersync_without_policy_key_gets_142, setup, teardown),
		cmocka_unit_test_setup_teardown(provision_then_foldersync_lists_default_folders, setup, teardown),
		cmocka_unit_test_setup_teardown(provision_ack_with_wrong_key_gets_policy_status_5, setup, teardown),
		cmocka_unit_test_setup_teardown(provision_stores_device_information, setup, teardown),
		cmocka_unit_test_setup_teardown(provision_not_applied_gets_139, setup, teardown),
		cmocka_unit_test_setup_teardown(stale_policy_key_gets_144, setup, teardown),
		cmocka_unit_test_setup_teardown(version_12_1_gets_449_without_key, setup, teardown),
		cmocka_unit_test_setup_teardown(base64_query_form_is_served, setup, teardown),
		cmocka_unit_test_setup_teardown(foldersync_incremental_repeat_and_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(foldersync_reports_renames_and_deletions, setup, teardown),
		cmocka_unit_test_setup_teardown(provision_off_serves_without_a_key, setup, teardown),
		cmocka_unit_test_setup_teardown(provision_optional_checks_only_keys_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(policy_change_refreshes_once, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
