/*
 * test_access.c: which devices may sync (issue 12, eas/access.c), decided
 * with the real easctl while a real easd runs, each seen by a client:
 *   - an administrator's block (129; 403 for 12.1) and its lifting;
 *   - [access] rules and a quarantine (503, Retry-After, Provision still
 *     answered), then the administrator's allow;
 *   - a remote wipe and an account-only wipe through Provision, with the
 *     device's acknowledgement recorded and shown;
 *   - a user's sync switched off (126) and on;
 *   - the device cap (177) at its value and one past, freed by forget;
 *   - autoblock of a SyncKey-0 loop: 503 until the block ends, visible
 *     with its reason, lifted by unblock;
 *   - a protocol trace of one device, written as XML until switched off;
 *   - a class switched off for a user, then for everyone: its folders
 *     leave the devices' hierarchy, a Sync of one gets 12, and come back;
 *   - a store failure logged with its request and SQLite's own message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "e2e_mail.h"

static const char foldersync_zero[] = "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>";

/* A FolderSync at key 0; returns its Status ("" none) and leaves the HTTP status in f->response. */
static const char *foldersync_status(struct e2e_mail *f, struct easclient *client)
{
	assert_int_equal(easclient_post_xml(client, "FolderSync", foldersync_zero, &f->response), 0);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	const char *status = root != NULL ? easclient_find_text(root, WBXML_FOLDERHIERARCHY_STATUS, f->arena) : NULL;
	return status != NULL ? status : "";
}

static struct easclient *device_of(struct e2e_mail *f, const char *user, const char *device_id, unsigned version)
{
	struct easclient_options options = e2e_client_options(&f->server, user,
							      strcmp(user, "alice") == 0 ? "correct horse" : "battery staple",
							      device_id);
	if (version != 0)
		options.protocol_version = version;
	return easclient_new(&options);
}

static void a_block_by_the_administrator_holds_until_lifted(void **state)
{
	struct e2e_mail *f = *state;
	assert_string_equal(foldersync_status(f, f->phone), "1");
	assert_non_null(strstr(e2e_mail_easctl(f, "device block alice PHONE1 --reason lost"), "block (admin)"));
	assert_string_equal(foldersync_status(f, f->phone), "129");
	assert_int_equal(f->response.http_status, 200);
	/* Another device of hers is not concerned. */
	assert_string_equal(foldersync_status(f, f->tablet), "1");
	/* 12.1 has no status code for it: HTTP 403, Provision included. */
	struct easclient *old = e2e_mail_device(f, "OLD1", 121);
	e2e_mail_easctl(f, "device block alice OLD1");
	assert_string_equal(foldersync_status(f, old), "");
	assert_int_equal(f->response.http_status, 403);
	assert_int_equal(easclient_provision(old, &f->response), -1);
	assert_int_equal(f->response.http_status, 403);
	const char *list = e2e_mail_easctl(f, "device list alice");
	assert_non_null(strstr(list, "PHONE1"));
	assert_non_null(strstr(list, "block (admin)"));
	assert_non_null(strstr(e2e_mail_easctl(f, "device show alice PHONE1"), "lost"));
	e2e_mail_easctl(f, "device unblock alice PHONE1");
	assert_string_equal(foldersync_status(f, f->phone), "1");
	const char *const logged[] = { "\talice\tPHONE1\t", "\tFolderSync\t", "\t129\t", "\tdevice_blocked\t",
				       "\tblocked\n", NULL };
	assert_true(e2e_log_has(&f->server, logged));
	easclient_free(&old);
}

/* Quarantine by default, iPhones allowed by a rule; the quarantined device waits until allowed. */
static void rules_quarantine_a_device_until_it_is_allowed(void **state)
{
	struct e2e_mail *f = *state;
	g_free(e2e_reload(&f->server, "[access]\ndefault = quarantine\nrule = allow device_type iPhone\n",
			  "SIGHUP: reloaded"));
	struct easclient *phone = device_of(f, "bob", "BOBPHONE", 0);
	/* Provision is answered: the device says what it is for the administrator who decides. */
	assert_int_equal(easclient_provision(phone, &f->response), 0);
	assert_string_equal(foldersync_status(f, phone), "");
	assert_int_equal(f->response.http_status, 503);
	assert_string_equal(easclient_header(&f->response, f->arena, "Retry-After"), "900");
	assert_string_equal(easclient_header(&f->response, f->arena, "X-MS-ASThrottle"), "DeviceQuarantined");
	assert_non_null(strstr(e2e_mail_easctl(f, "device list bob"), "quarantine (default)"));
	struct easclient_options options = e2e_client_options(&f->server, "bob", "battery staple", "BOBIPHONE");
	options.device_type = "iPhone";
	struct easclient *iphone = easclient_new(&options);
	assert_int_equal(easclient_provision(iphone, &f->response), 0);
	assert_string_equal(foldersync_status(f, iphone), "1");
	assert_non_null(strstr(e2e_mail_easctl(f, "device show bob BOBIPHONE"), "allow (rule device_type iPhone)"));
	e2e_mail_easctl(f, "device allow bob BOBPHONE");
	assert_string_equal(foldersync_status(f, phone), "1");
	easclient_free(&phone);
	easclient_free(&iphone);
}

/* Provision request phase one (MS-ASPROV 3.1.5.1.1: the key is reset to 0 for a wipe). */
static const char provision_download[] =
	"<Provision xmlns=\"Provision\"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>"
	"</Policy></Policies></Provision>";

static void a_remote_wipe_is_told_and_its_acknowledgement_recorded(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_easctl(f, "device wipe alice PHONE1");
	assert_string_equal(foldersync_status(f, f->phone), "140");
	assert_int_equal(easclient_post_xml(f->phone, "Provision", provision_download, &f->response), 0);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(easclient_find(root, WBXML_PROVISION_REMOTE_WIPE));
	assert_null(easclient_find(root, WBXML_PROVISION_POLICIES));
	assert_non_null(strstr(e2e_mail_easctl(f, "device show alice PHONE1"), "wipe:        device, sent"));
	assert_int_equal(easclient_post_xml(f->phone, "Provision",
					    "<Provision xmlns=\"Provision\"><RemoteWipe><Status>1</Status></RemoteWipe>"
					    "</Provision>",
					    &f->response),
			 0);
	root = easclient_parse(&f->response, f->arena);
	assert_string_equal(easclient_find_text(root, WBXML_PROVISION_STATUS, f->arena), "1");
	assert_null(easclient_find(root, WBXML_PROVISION_REMOTE_WIPE));
	assert_non_null(strstr(e2e_mail_easctl(f, "device show alice PHONE1"), "wipe:        device, done"));
	/* Account-only: 16.1 is told so; an older device gets nothing instead. */
	struct easclient *new_phone = e2e_mail_device(f, "NEW161", 161);
	e2e_mail_easctl(f, "device wipe alice NEW161 --account");
	assert_int_equal(easclient_post_xml(new_phone, "Provision", provision_download, &f->response), 0);
	root = easclient_parse(&f->response, f->arena);
	assert_non_null(easclient_find(root, WBXML_PROVISION_ACCOUNT_ONLY_REMOTE_WIPE));
	e2e_mail_easctl(f, "device wipe alice TABLET1 --account");
	assert_string_equal(foldersync_status(f, f->tablet), "129");
	e2e_mail_easctl(f, "device wipe alice TABLET1 --cancel");
	assert_string_equal(foldersync_status(f, f->tablet), "1");
	easclient_free(&new_phone);
}

static void a_user_with_sync_switched_off_is_told_126(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_easctl(f, "user disable alice");
	assert_string_equal(foldersync_status(f, f->phone), "126");
	struct easclient *old = device_of(f, "alice", "OLD2", 121);
	assert_string_equal(foldersync_status(f, old), "");
	assert_int_equal(f->response.http_status, 403);
	e2e_mail_easctl(f, "user enable alice");
	assert_string_equal(foldersync_status(f, f->phone), "1");
	easclient_free(&old);
}

/* Two devices a user: alice has two, the third is refused until one is forgotten. */
static void the_device_cap_at_its_value_and_one_past(void **state)
{
	struct e2e_mail *f = *state;
	g_free(e2e_reload(&f->server, "[access]\nmax_devices_per_user = 2\n", "SIGHUP: reloaded"));
	assert_string_equal(foldersync_status(f, f->tablet), "1");
	struct easclient *third = device_of(f, "alice", "THIRD1", 0);
	assert_string_equal(foldersync_status(f, third), "177");
	e2e_mail_easctl(f, "device forget alice TABLET1");
	assert_int_equal(easclient_provision(third, &f->response), 0);
	assert_string_equal(foldersync_status(f, third), "1");
	easclient_free(&third);
}

/* SyncKey 0 three times in ten minutes blocks for two minutes: 503 with the time left, and easd says why. */
static void a_sync_key_zero_loop_is_blocked_for_a_while(void **state)
{
	struct e2e_mail *f = *state;
	g_free(e2e_reload(&f->server, "[autoblock]\nsync_key_zero = 3 600 120\n", "SIGHUP: reloaded"));
	struct easclient *looper = e2e_mail_device(f, "LOOPER1", 0);
	for (int i = 0; i < 3; i++)
		assert_string_equal(foldersync_status(f, looper), "1");
	assert_string_equal(foldersync_status(f, looper), "");
	assert_int_equal(f->response.http_status, 503);
	long retry = atol(easclient_header(&f->response, f->arena, "Retry-After"));
	assert_true(retry >= 118 && retry <= 120);
	assert_string_equal(easclient_header(&f->response, f->arena, "X-MS-ASThrottle"), "CommandFrequency");
	assert_string_equal(foldersync_status(f, f->tablet), "1");
	const char *show = e2e_mail_easctl(f, "device show alice LOOPER1");
	assert_non_null(strstr(show, "block (autoblock:sync_key_zero)"));
	assert_non_null(strstr(show, "SyncKey 0"));
	gchar *path = g_strdup_printf("%s/log/easd.log", f->server.dir), *text = NULL;
	assert_true(g_file_get_contents(path, &text, NULL, NULL));
	assert_non_null(strstr(text, "device LOOPER1 of alice blocked for 120 s by autoblock (sync_key_zero)"));
	g_free(text);
	g_free(path);
	e2e_mail_easctl(f, "device unblock alice LOOPER1");
	assert_string_equal(foldersync_status(f, looper), "1");
	easclient_free(&looper);
}

/* A trace writes each exchange of the device, as XML, into the log directory, until switched off. */
static void a_trace_records_the_device_until_it_ends(void **state)
{
	struct e2e_mail *f = *state;
	assert_non_null(strstr(e2e_mail_easctl(f, "device trace alice PHONE1 --minutes 5"), "traced until"));
	assert_string_equal(foldersync_status(f, f->phone), "1");
	assert_string_equal(foldersync_status(f, f->tablet), "1");
	gchar *path = g_strdup_printf("%s/log/trace/alice-PHONE1.log", f->server.dir), *text = NULL;
	gsize before = 0;
	assert_true(g_file_get_contents(path, &text, &before, NULL));
	assert_non_null(strstr(text, "FolderSync, EAS 14.1"));
	assert_non_null(strstr(text, "<SyncKey>0</SyncKey>"));
	assert_non_null(strstr(text, "---- HTTP 200, Status 1"));
	if (strstr(text, "<Status>1</Status>") == NULL)
		fail_msg("%s", text);
	assert_null(strstr(text, "Basic "));
	g_free(text);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	gchar *other = g_strdup_printf("%s/log/trace/alice-TABLET1.log", f->server.dir);
	assert_false(g_file_test(other, G_FILE_TEST_EXISTS));
	e2e_mail_easctl(f, "device trace alice PHONE1 --off");
	assert_string_equal(foldersync_status(f, f->phone), "1");
	gsize after = 0;
	assert_true(g_file_get_contents(path, &text, &after, NULL));
	assert_int_equal(after, before);
	g_free(text);
	g_free(other);
	g_free(path);
}

/* A FolderSync from key; returns the answer's tree (its Status asserted 1). */
static struct wbxml_node *foldersync(struct e2e_mail *f, struct easclient *client, const char *key)
{
	const char *xml = e2e_mail_format(f, "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey></FolderSync>", key);
	assert_int_equal(easclient_post_xml(client, "FolderSync", xml, &f->response), 0);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	assert_string_equal(easclient_find_text(root, WBXML_FOLDERHIERARCHY_STATUS, f->arena), "1");
	return root;
}

/* The ServerId of the first Add (or Delete: type NULL) in a FolderSync answer whose Type is type; NULL when none. */
static const char *told(struct e2e_mail *f, const struct wbxml_node *root, enum wbxml_tag change, const char *type)
{
	const struct wbxml_node *changes = easclient_find(root, WBXML_FOLDERHIERARCHY_CHANGES);
	for (const struct wbxml_node *n = changes != NULL ? changes->first_child : NULL; n != NULL; n = n->next) {
		if (n->tag != change)
			continue;
		const char *t = easclient_find_text(n, WBXML_FOLDERHIERARCHY_TYPE, f->arena);
		if (type == NULL || (t != NULL && strcmp(t, type) == 0))
			return easclient_find_text(n, WBXML_FOLDERHIERARCHY_SERVER_ID, f->arena);
	}
	return NULL;
}

/* Contacts off for alice, then Notes for everyone: the folders leave her devices, Sync of one gets 12, and come back. */
static void a_class_switched_off_leaves_the_devices(void **state)
{
	struct e2e_mail *f = *state;
	struct wbxml_node *root = foldersync(f, f->phone, "0");
	const char *contacts = told(f, root, WBXML_FOLDERHIERARCHY_ADD, "9");
	const char *key = easclient_find_text(root, WBXML_FOLDERHIERARCHY_SYNC_KEY, f->arena);
	assert_non_null(contacts);
	assert_non_null(strstr(e2e_mail_easctl(f, "user disable alice Contacts"), "classes off: Contacts"));
	root = foldersync(f, f->phone, key);
	assert_string_equal(told(f, root, WBXML_FOLDERHIERARCHY_DELETE, NULL), contacts);
	const char *next = easclient_find_text(root, WBXML_FOLDERHIERARCHY_SYNC_KEY, f->arena);
	assert_string_not_equal(next, key);
	/* The answer lost, the device asks with its previous key: told again. */
	root = foldersync(f, f->phone, key);
	assert_string_equal(told(f, root, WBXML_FOLDERHIERARCHY_DELETE, NULL), contacts);
	next = easclient_find_text(root, WBXML_FOLDERHIERARCHY_SYNC_KEY, f->arena);
	/* A Sync of the folder finds none: 12, the client syncs its hierarchy and stops asking. */
	const char *sync = e2e_mail_format(f, "<Sync xmlns=\"AirSync\"><Collections><Collection><SyncKey>0</SyncKey>"
					      "<CollectionId>%s</CollectionId></Collection></Collections></Sync>", contacts);
	assert_int_equal(easclient_post_xml(f->phone, "Sync", sync, &f->response), 0);
	root = easclient_parse(&f->response, f->arena);
	assert_string_equal(easclient_find_text(root, WBXML_AIRSYNC_STATUS, f->arena), "12");
	/* A device starting over never sees it. */
	assert_null(told(f, foldersync(f, f->tablet, "0"), WBXML_FOLDERHIERARCHY_ADD, "9"));
	assert_non_null(strstr(e2e_mail_easctl(f, "user enable alice contacts"), "classes off: none"));
	root = foldersync(f, f->phone, next);
	assert_string_equal(told(f, root, WBXML_FOLDERHIERARCHY_ADD, "9"), contacts);
	next = easclient_find_text(root, WBXML_FOLDERHIERARCHY_SYNC_KEY, f->arena);
	/* For everyone, from easd.conf. */
	g_free(e2e_reload(&f->server, "[access]\ndisabled_classes = notes\n", "SIGHUP: reloaded"));
	root = foldersync(f, f->phone, next);
	assert_non_null(told(f, root, WBXML_FOLDERHIERARCHY_DELETE, NULL));
	assert_null(told(f, root, WBXML_FOLDERHIERARCHY_ADD, NULL));
}

/* The store locked past its busy timeout: the access log says store_busy, easd.log whose request and SQLite's words. */
static void a_store_failure_names_the_request_and_sqlites_words(void **state)
{
	struct e2e_mail *f = *state;
	struct easclient *device = e2e_mail_device(f, "LOCKED1", 0);
	gchar *path = g_strdup_printf("%s/data/%s", f->server.dir, STORE_DATABASE_NAME);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_string_equal(foldersync_status(f, device), "6"); /* FolderSync's server error, after 5 s */
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	gchar *log = g_strdup_printf("%s/log/easd.log", f->server.dir), *text = NULL;
	assert_true(g_file_get_contents(log, &text, NULL, NULL));
	const char *line = strstr(text, "easd: FolderSync of alice (device LOCKED1) answered store_busy: ");
	assert_non_null(line);
	assert_non_null(strstr(line, "database is locked"));
	g_free(text);
	g_free(log);
	g_free(path);
	easclient_free(&device);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		E2E_MAIL_CASE(a_block_by_the_administrator_holds_until_lifted),
		E2E_MAIL_CASE(rules_quarantine_a_device_until_it_is_allowed),
		E2E_MAIL_CASE(a_remote_wipe_is_told_and_its_acknowledgement_recorded),
		E2E_MAIL_CASE(a_user_with_sync_switched_off_is_told_126),
		E2E_MAIL_CASE(the_device_cap_at_its_value_and_one_past),
		E2E_MAIL_CASE(a_sync_key_zero_loop_is_blocked_for_a_while),
		E2E_MAIL_CASE(a_trace_records_the_device_until_it_ends),
		E2E_MAIL_CASE(a_class_switched_off_leaves_the_devices),
		E2E_MAIL_CASE(a_store_failure_names_the_request_and_sqlites_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
