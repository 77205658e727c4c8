/*
 * test_folder_commands.c: FolderCreate, FolderUpdate and FolderDelete
 * against a real easd: the hierarchy SyncKey chain they share with
 * FolderSync (a device is not sent its own change back; one that was
 * behind gets it once, with the changes it missed), what a second device
 * of the user sees, each documented failure Status with its log reason,
 * and malformed bodies. Every failing case ends with an ordinary create
 * and FolderSync that still succeed with the key the device had.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"

static const char *const users[] = { "alice:correct horse", "bob:battery staple", NULL };

struct fixture {
	struct e2e_server server;
	struct easclient *client; /* alice's DEV1: provisioned, hierarchy synced from 0 */
	struct easclient *other;  /* alice's DEV2: the same */
	struct easclient_response response;
	struct arena *arena;
	struct wbxml_node *root;  /* the last response */
	const char *key;          /* DEV1's hierarchy SyncKey */
	const char *other_key;    /* DEV2's */
	const char *inbox;        /* Inbox's ServerId */
	unsigned ordinary;        /* folders made by ordinary_request_succeeds */
};

/* ---- helpers ---- */

static void post(struct fixture *f, struct easclient *client, const char *command, const char *xml)
{
	assert_int_equal(easclient_post_xml(client, command, xml, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	f->root = easclient_parse(&f->response, f->arena);
	assert_non_null(f->root);
}

static const char *text(struct fixture *f, enum wbxml_tag tag)
{
	return easclient_find_text(f->root, tag, f->arena);
}

static const char *status(struct fixture *f)
{
	const char *value = text(f, WBXML_FOLDERHIERARCHY_STATUS);
	assert_non_null(value);
	return value;
}

static bool log_has(struct fixture *f, const char *command, const char *http_and_status, const char *reason)
{
	return e2e_log_has(&f->server, (const char *const[]){ command, http_and_status, reason, NULL });
}

/* FolderSync from key; asserts Status 1 and returns the new key (f->root holds the answer). */
static const char *folder_sync(struct fixture *f, struct easclient *client, const char *key)
{
	char xml[200];
	snprintf(xml, sizeof(xml), "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey></FolderSync>", key);
	post(f, client, "FolderSync", xml);
	assert_string_equal(status(f), "1");
	return text(f, WBXML_FOLDERHIERARCHY_SYNC_KEY);
}

static unsigned change_count(struct fixture *f)
{
	const char *count = text(f, WBXML_FOLDERHIERARCHY_COUNT);
	assert_non_null(count);
	return (unsigned)strtoul(count, NULL, 10);
}

/* The Add, Update or Delete of server_id in the last FolderSync answer, or NULL. */
static const struct wbxml_node *change_of(struct fixture *f, enum wbxml_tag kind, const char *server_id)
{
	const struct wbxml_node *changes = easclient_find(f->root, WBXML_FOLDERHIERARCHY_CHANGES);
	assert_non_null(changes);
	for (const struct wbxml_node *node = changes->first_child; node != NULL; node = node->next) {
		if (node->tag != kind)
			continue;
		const char *id = easclient_find_text(node, WBXML_FOLDERHIERARCHY_SERVER_ID, f->arena);
		if (id != NULL && strcmp(id, server_id) == 0)
			return node;
	}
	return NULL;
}

static const char *field_of(struct fixture *f, const struct wbxml_node *node, enum wbxml_tag tag)
{
	assert_non_null(node);
	return easclient_find_text(node, tag, f->arena);
}

/* The ServerId of the folder named name among the Adds of the last FolderSync answer. */
static const char *id_by_name(struct fixture *f, const char *name)
{
	for (const struct wbxml_node *node = easclient_find(f->root, WBXML_FOLDERHIERARCHY_ADD); node != NULL;
	     node = node->next) {
		const char *display = easclient_find_text(node, WBXML_FOLDERHIERARCHY_DISPLAY_NAME, f->arena);
		if (node->tag == WBXML_FOLDERHIERARCHY_ADD && display != NULL && strcmp(display, name) == 0)
			return easclient_find_text(node, WBXML_FOLDERHIERARCHY_SERVER_ID, f->arena);
	}
	return NULL;
}

/*
 * Sends a folder command by DEV1 and returns its Status. On success the
 * answer has a new SyncKey, which becomes f->key; a failure has none and
 * leaves the key as it was.
 */
static const char *folder_command(struct fixture *f, const char *command, const char *xml)
{
	post(f, f->client, command, xml);
	const char *value = status(f);
	const char *key = text(f, WBXML_FOLDERHIERARCHY_SYNC_KEY);
	if (strcmp(value, "1") == 0) {
		assert_non_null(key);
		assert_string_not_equal(key, f->key);
		f->key = key;
	} else {
		assert_null(key);
	}
	return value;
}

static const char *create_with(struct fixture *f, const char *key, const char *parent, const char *name,
			       const char *type)
{
	char xml[2048];
	snprintf(xml, sizeof(xml),
		 "<FolderCreate xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey><ParentId>%s</ParentId>"
		 "<DisplayName>%s</DisplayName><Type>%s</Type></FolderCreate>",
		 key, parent, name, type);
	return folder_command(f, "FolderCreate", xml);
}

/* Creates a mail folder by DEV1 with its current key; returns the new ServerId. */
static const char *create(struct fixture *f, const char *parent, const char *name)
{
	assert_string_equal(create_with(f, f->key, parent, name, "12"), "1");
	const char *id = text(f, WBXML_FOLDERHIERARCHY_SERVER_ID);
	assert_non_null(id);
	return id;
}

static const char *update_with(struct fixture *f, const char *key, const char *id, const char *parent,
			       const char *name)
{
	char xml[1024];
	snprintf(xml, sizeof(xml),
		 "<FolderUpdate xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey><ServerId>%s</ServerId>"
		 "<ParentId>%s</ParentId><DisplayName>%s</DisplayName></FolderUpdate>",
		 key, id, parent, name);
	return folder_command(f, "FolderUpdate", xml);
}

static const char *delete_with(struct fixture *f, const char *key, const char *id)
{
	char xml[512];
	snprintf(xml, sizeof(xml),
		 "<FolderDelete xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey><ServerId>%s</ServerId></FolderDelete>",
		 key, id);
	return folder_command(f, "FolderDelete", xml);
}

/* What a hostile case ends with: DEV1's key still works for a create, and FolderSync with the new key is empty. */
static void ordinary_request_succeeds(struct fixture *f)
{
	char name[32];
	snprintf(name, sizeof(name), "Ordinary %u", ++f->ordinary);
	create(f, "0", name);
	assert_string_equal(folder_sync(f, f->client, f->key), f->key);
	assert_int_equal(change_count(f), 0);
}

static struct easclient *synced_device(struct fixture *f, const char *user, const char *password,
				       const char *device_id, const char **key_out)
{
	struct easclient_options options = e2e_client_options(&f->server, user, password, device_id);
	struct easclient *client = easclient_new(&options);
	assert_int_equal(easclient_provision(client, NULL), 0);
	*key_out = folder_sync(f, client, "0");
	return client;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL || e2e_start(&f->server, NULL, users) < 0)
		return -1;
	easclient_response_init(&f->response);
	f->arena = arena_new(0);
	*state = f;
	f->other = synced_device(f, "alice", "correct horse", "DEV2", &f->other_key);
	f->client = synced_device(f, "alice", "correct horse", "DEV1", &f->key);
	f->inbox = id_by_name(f, "Inbox");
	assert_non_null(f->inbox);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	easclient_free(&f->client);
	easclient_free(&f->other);
	easclient_response_cleanup(&f->response);
	arena_free(&f->arena);
	int finished = e2e_finish(&f->server);
	free(f);
	return finished;
}

/* ---- FolderCreate ---- */

static void create_then_foldersync_with_new_key_lists_nothing(void **state)
{
	struct fixture *f = *state;
	const char *before = f->key;
	const char *id = create(f, "0", "Projects");
	assert_string_not_equal(f->key, before);
	assert_true(log_has(f, "\tFolderCreate\t", "\t200\t1\t", "\tDEV1\t"));
	/* The device has its folder: FolderSync with the new key has nothing, not even an echo. */
	assert_string_equal(folder_sync(f, f->client, f->key), f->key);
	assert_int_equal(change_count(f), 0);
	/* The old key is gone for FolderSync too, except as the one previous key. */
	post(f, f->client, "FolderSync", "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>987654</SyncKey></FolderSync>");
	assert_string_equal(status(f), "9");
	/* A full resync lists it like any other folder. */
	f->key = folder_sync(f, f->client, "0");
	assert_string_equal(id_by_name(f, "Projects"), id);
}

static void create_answer_lost_previous_key_foldersync_shows_the_folder(void **state)
{
	struct fixture *f = *state;
	const char *before = f->key;
	const char *id = create(f, "0", "Lost answer");
	/* The device never got the answer and still holds the old key: FolderSync
	   accepts it as the previous key and shows the new folder. */
	const char *after_create = f->key;
	f->key = folder_sync(f, f->client, before);
	assert_int_equal(change_count(f), 1);
	assert_string_equal(field_of(f, change_of(f, WBXML_FOLDERHIERARCHY_ADD, id), WBXML_FOLDERHIERARCHY_DISPLAY_NAME),
			    "Lost answer");
	/* Repeating the create itself with the old key is refused: it changes the hierarchy. */
	assert_string_equal(create_with(f, before, "0", "Lost answer", "12"), "9");
	assert_string_equal(create_with(f, after_create, "0", "Lost answer", "12"), "9");
	ordinary_request_succeeds(f);
}

static void create_under_user_folder_is_seen_by_second_device(void **state)
{
	struct fixture *f = *state;
	const char *parent = create(f, "0", "Clients");
	const char *child = create(f, parent, "Acme");
	const char *under_inbox = create(f, f->inbox, "Receipts");
	f->other_key = folder_sync(f, f->other, f->other_key);
	assert_int_equal(change_count(f), 3);
	assert_string_equal(field_of(f, change_of(f, WBXML_FOLDERHIERARCHY_ADD, parent), WBXML_FOLDERHIERARCHY_PARENT_ID), "0");
	const struct wbxml_node *add = change_of(f, WBXML_FOLDERHIERARCHY_ADD, child);
	assert_string_equal(field_of(f, add, WBXML_FOLDERHIERARCHY_PARENT_ID), parent);
	assert_string_equal(field_of(f, add, WBXML_FOLDERHIERARCHY_DISPLAY_NAME), "Acme");
	assert_string_equal(field_of(f, add, WBXML_FOLDERHIERARCHY_TYPE), "12");
	assert_string_equal(field_of(f, change_of(f, WBXML_FOLDERHIERARCHY_ADD, under_inbox), WBXML_FOLDERHIERARCHY_PARENT_ID),
			    f->inbox);
	/* Every user type is creatable (MS-ASCMD 2.2.3.186.2). */
	static const char *const types[] = { "1", "13", "14", "15", "16", "17" };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "Type %s", types[i]);
		assert_string_equal(create_with(f, f->key, "0", name, types[i]), "1");
	}
}

static void create_duplicate_name_any_case_gets_2(void **state)
{
	struct fixture *f = *state;
	const char *parent = create(f, "0", "Projects");
	assert_string_equal(create_with(f, f->key, "0", "PROJECTS", "12"), "2");
	assert_true(log_has(f, "\tFolderCreate\t", "\t200\t2\t", "folder_exists"));
	/* A default folder's name counts as well. */
	assert_string_equal(create_with(f, f->key, "0", "inbox", "12"), "2");
	/* The same name under another parent is fine. */
	create(f, parent, "Projects");
	assert_string_equal(create_with(f, f->key, parent, "projects", "1"), "2");
	ordinary_request_succeeds(f);
}

static void create_under_unknown_parent_gets_5(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(create_with(f, f->key, "999999", "Orphan", "12"), "5");
	assert_true(log_has(f, "\tFolderCreate\t", "\t200\t5\t", "parent_not_found"));
	assert_string_equal(create_with(f, f->key, "not-an-id", "Orphan", "12"), "5");
	assert_string_equal(create_with(f, f->key, "-3", "Orphan", "12"), "5");
	/* A parent that was deleted. */
	const char *gone = create(f, "0", "Gone");
	assert_string_equal(delete_with(f, f->key, gone), "1");
	assert_string_equal(create_with(f, f->key, gone, "Orphan", "12"), "5");
	ordinary_request_succeeds(f);
}

static void create_default_or_unknown_type_gets_10(void **state)
{
	struct fixture *f = *state;
	/* 2-11 and 19 are default folders (MS-ASCMD 2.2.3.186.2); 0, 18 and others are no creatable type. */
	static const char *const types[] = { "2", "6", "11", "19", "18", "0", "20", "256", "x", "" };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		assert_string_equal(create_with(f, f->key, "0", "Second Inbox", types[i]), "10");
	assert_true(log_has(f, "\tFolderCreate\t", "\t200\t10\t", "folder_type_invalid"));
	ordinary_request_succeeds(f);
}

static void create_with_wrong_sync_key_gets_9(void **state)
{
	struct fixture *f = *state;
	const char *first = f->key;
	create(f, "0", "First");
	/* The previous key (FolderSync would take it, these commands do not). */
	assert_string_equal(create_with(f, first, "0", "Second", "12"), "9");
	assert_true(log_has(f, "\tFolderCreate\t", "\t200\t9\t", "sync_key_unknown"));
	/* Keys never handed out, 0, and what is not a key at all. */
	static const char *const keys[] = { "987654", "0", "abc", "", "-1", "18446744073709551616" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_string_equal(create_with(f, keys[i], "0", "Second", "12"), "9");
	assert_true(log_has(f, "\tFolderCreate\t", "\t200\t9\t", "sync_key_invalid"));
	ordinary_request_succeeds(f);
}

static void create_before_first_foldersync_gets_9(void **state)
{
	struct fixture *f = *state;
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", "FRESH");
	struct easclient *fresh = easclient_new(&options);
	assert_int_equal(easclient_provision(fresh, NULL), 0);
	post(f, fresh, "FolderCreate",
	     "<FolderCreate xmlns=\"FolderHierarchy\"><SyncKey>1</SyncKey><ParentId>0</ParentId>"
	     "<DisplayName>Early</DisplayName><Type>12</Type></FolderCreate>");
	assert_string_equal(status(f), "9");
	assert_true(log_has(f, "\tFRESH\t", "\t200\t9\t", "sync_key_unknown"));
	/* After FolderSync from 0 its key works. */
	const char *key = folder_sync(f, fresh, "0");
	char xml[300];
	snprintf(xml, sizeof(xml),
		 "<FolderCreate xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey><ParentId>0</ParentId>"
		 "<DisplayName>Early</DisplayName><Type>12</Type></FolderCreate>", key);
	post(f, fresh, "FolderCreate", xml);
	assert_string_equal(status(f), "1");
	easclient_free(&fresh);
	/* DEV1 sees the new device's folder. */
	f->key = folder_sync(f, f->client, f->key);
	assert_int_equal(change_count(f), 1);
	assert_string_equal(text(f, WBXML_FOLDERHIERARCHY_DISPLAY_NAME), "Early");
	ordinary_request_succeeds(f);
}

static void create_when_behind_lists_own_folder_once_with_others(void **state)
{
	struct fixture *f = *state;
	/* DEV2 changes the hierarchy while DEV1 is not looking. */
	char xml[300];
	snprintf(xml, sizeof(xml),
		 "<FolderCreate xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey><ParentId>0</ParentId>"
		 "<DisplayName>Theirs</DisplayName><Type>12</Type></FolderCreate>", f->other_key);
	post(f, f->other, "FolderCreate", xml);
	assert_string_equal(status(f), "1");
	const char *theirs = text(f, WBXML_FOLDERHIERARCHY_SERVER_ID);
	/* DEV1, behind, creates with its still current key. */
	const char *mine = create(f, "0", "Mine");
	/* Its next FolderSync must not lose DEV2's folder, so it gets its own once more. */
	folder_sync(f, f->client, f->key);
	assert_int_equal(change_count(f), 2);
	assert_non_null(change_of(f, WBXML_FOLDERHIERARCHY_ADD, theirs));
	assert_non_null(change_of(f, WBXML_FOLDERHIERARCHY_ADD, mine));
}

static void display_name_256_characters_accepted_257_rejected(void **state)
{
	struct fixture *f = *state;
	char name[2 * 257 + 1];
	memset(name, 'n', 256);
	name[256] = '\0';
	create(f, "0", name);
	name[256] = 'n';
	name[257] = '\0';
	assert_string_equal(create_with(f, f->key, "0", name, "12"), "10");
	assert_true(log_has(f, "\tFolderCreate\t", "\t200\t10\t", "display_name_invalid"));
	/* The limit counts characters (MS-ASCMD 2.2.3.49.3), not bytes: 256 two-byte ones fit. */
	for (int i = 0; i < 256; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	name[512] = '\0';
	create(f, "0", name);
	memcpy(name + 512, "\xc3\xa9", 3);
	assert_string_equal(create_with(f, f->key, "0", name, "12"), "10");
	ordinary_request_succeeds(f);
}

static void display_name_empty_not_utf8_or_with_nul_gets_10(void **state)
{
	struct fixture *f = *state;
	static const char *const bodies[] = {
		"<DisplayName></DisplayName>",
		"<DisplayName/>",
		"<DisplayName wbxml=\"base64\">Yf8=</DisplayName>",  /* "a\xff" */
		"<DisplayName wbxml=\"base64\">wK8=</DisplayName>",  /* an overlong "/" */
		"<DisplayName wbxml=\"opaque\">YQBi</DisplayName>",  /* "a\0b" */
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char xml[512];
		snprintf(xml, sizeof(xml),
			 "<FolderCreate xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey><ParentId>0</ParentId>%s"
			 "<Type>12</Type></FolderCreate>", f->key, bodies[i]);
		assert_string_equal(folder_command(f, "FolderCreate", xml), "10");
	}
	assert_true(log_has(f, "\tFolderCreate\t", "\t200\t10\t", "display_name_invalid"));
	/* Opaque UTF-8 is text like any other. */
	char xml[512];
	snprintf(xml, sizeof(xml),
		 "<FolderCreate xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey><ParentId>0</ParentId>"
		 "<DisplayName wbxml=\"opaque\">T3BhcXVl</DisplayName><Type>12</Type></FolderCreate>", f->key);
	assert_string_equal(folder_command(f, "FolderCreate", xml), "1");
	ordinary_request_succeeds(f);
}

static void malformed_requests_get_10(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *command, *body, *reason;
	} cases[] = {
		{ "FolderCreate", "<ParentId>0</ParentId><DisplayName>A</DisplayName><Type>12</Type>", "element_missing" },
		{ "FolderCreate", "<SyncKey>%s</SyncKey><DisplayName>A</DisplayName><Type>12</Type>", "element_missing" },
		{ "FolderCreate", "<SyncKey>%s</SyncKey><ParentId>0</ParentId><Type>12</Type>", "element_missing" },
		{ "FolderCreate", "<SyncKey>%s</SyncKey><ParentId>0</ParentId><DisplayName>A</DisplayName>", "element_missing" },
		{ "FolderCreate", "<SyncKey>%s</SyncKey><SyncKey>%s</SyncKey><ParentId>0</ParentId><DisplayName>A</DisplayName><Type>12</Type>",
		  "request_malformed" },
		{ "FolderCreate", "<SyncKey>%s</SyncKey><ParentId>0</ParentId><DisplayName>A</DisplayName>"
				  "<DisplayName>B</DisplayName><Type>12</Type>", "request_malformed" },
		{ "FolderCreate", "<SyncKey>%s</SyncKey><ParentId>0</ParentId><DisplayName><ServerId>1</ServerId></DisplayName>"
				  "<Type>12</Type>", "request_malformed" },
		{ "FolderUpdate", "<ServerId>1</ServerId><ParentId>0</ParentId><DisplayName>A</DisplayName>", "sync_key_missing" },
		{ "FolderUpdate", "<SyncKey>%s</SyncKey><ParentId>0</ParentId><DisplayName>A</DisplayName>", "element_missing" },
		{ "FolderUpdate", "<SyncKey>%s</SyncKey><ServerId>1</ServerId><DisplayName>A</DisplayName>", "element_missing" },
		{ "FolderUpdate", "<SyncKey>%s</SyncKey><ServerId>1</ServerId><ParentId>0</ParentId>", "element_missing" },
		{ "FolderDelete", "<ServerId>1</ServerId>", "sync_key_missing" },
		{ "FolderDelete", "<SyncKey>%s</SyncKey>", "element_missing" },
		{ "FolderDelete", "<SyncKey>%s</SyncKey><ServerId>1</ServerId><ServerId>2</ServerId>", "request_malformed" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[512], xml[700], needle[40];
		snprintf(body, sizeof(body), cases[i].body, f->key, f->key);
		snprintf(xml, sizeof(xml), "<%s xmlns=\"FolderHierarchy\">%s</%s>", cases[i].command, body, cases[i].command);
		assert_string_equal(folder_command(f, cases[i].command, xml), "10");
		snprintf(needle, sizeof(needle), "\t%s\t", cases[i].command);
		assert_true(log_has(f, needle, "\t200\t10\t", cases[i].reason));
	}
	/* Elements the commands do not use are skipped. */
	char xml[400];
	snprintf(xml, sizeof(xml),
		 "<FolderCreate xmlns=\"FolderHierarchy\"><Count>3</Count><SyncKey>%s</SyncKey><ParentId>0</ParentId>"
		 "<DisplayName>Extra</DisplayName><Type>12</Type><Changes><Add/></Changes></FolderCreate>", f->key);
	assert_string_equal(folder_command(f, "FolderCreate", xml), "1");
	ordinary_request_succeeds(f);
}

/* ---- FolderUpdate ---- */

static void rename_folder_seen_by_second_device_not_echoed(void **state)
{
	struct fixture *f = *state;
	const char *id = create(f, "0", "Old name");
	f->other_key = folder_sync(f, f->other, f->other_key);
	assert_string_equal(update_with(f, f->key, id, "0", "New name"), "1");
	assert_true(log_has(f, "\tFolderUpdate\t", "\t200\t1\t", "\tDEV1\t"));
	assert_string_equal(folder_sync(f, f->client, f->key), f->key);
	assert_int_equal(change_count(f), 0);
	f->other_key = folder_sync(f, f->other, f->other_key);
	assert_int_equal(change_count(f), 1);
	const struct wbxml_node *update = change_of(f, WBXML_FOLDERHIERARCHY_UPDATE, id);
	assert_string_equal(field_of(f, update, WBXML_FOLDERHIERARCHY_DISPLAY_NAME), "New name");
	assert_string_equal(field_of(f, update, WBXML_FOLDERHIERARCHY_PARENT_ID), "0");
	/* The old name is free again. */
	create(f, "0", "Old name");
}

static void rename_changing_only_case_succeeds(void **state)
{
	struct fixture *f = *state;
	const char *id = create(f, "0", "projects");
	assert_string_equal(update_with(f, f->key, id, "0", "Projects"), "1");
	/* The same name and parent again: allowed, a new key. */
	assert_string_equal(update_with(f, f->key, id, "0", "Projects"), "1");
	f->key = folder_sync(f, f->client, "0");
	assert_string_equal(id_by_name(f, "Projects"), id);
}

static void move_folder_under_another_folder(void **state)
{
	struct fixture *f = *state;
	const char *target = create(f, "0", "Archive");
	const char *moved = create(f, "0", "2023");
	const char *below = create(f, moved, "Q1");
	assert_string_equal(update_with(f, f->key, moved, target, "2023"), "1");
	f->other_key = folder_sync(f, f->other, f->other_key);
	assert_string_equal(field_of(f, change_of(f, WBXML_FOLDERHIERARCHY_ADD, moved), WBXML_FOLDERHIERARCHY_PARENT_ID),
			    target);
	/* Its subfolder moves with it, still under it. */
	assert_string_equal(field_of(f, change_of(f, WBXML_FOLDERHIERARCHY_ADD, below), WBXML_FOLDERHIERARCHY_PARENT_ID),
			    moved);
	/* Moving and renaming at once, then back to the top, under a default folder. */
	assert_string_equal(update_with(f, f->key, moved, "0", "Year 2023"), "1");
	assert_string_equal(update_with(f, f->key, moved, f->inbox, "Year 2023"), "1");
	f->other_key = folder_sync(f, f->other, f->other_key);
	const struct wbxml_node *update = change_of(f, WBXML_FOLDERHIERARCHY_UPDATE, moved);
	assert_string_equal(field_of(f, update, WBXML_FOLDERHIERARCHY_PARENT_ID), f->inbox);
	assert_string_equal(field_of(f, update, WBXML_FOLDERHIERARCHY_DISPLAY_NAME), "Year 2023");
}

static void move_folder_under_itself_or_own_child_gets_10(void **state)
{
	struct fixture *f = *state;
	const char *top = create(f, "0", "Top");
	const char *child = create(f, top, "Child");
	const char *grandchild = create(f, child, "Grandchild");
	assert_string_equal(update_with(f, f->key, top, top, "Top"), "10");
	assert_true(log_has(f, "\tFolderUpdate\t", "\t200\t10\t", "parent_inside_folder"));
	assert_string_equal(update_with(f, f->key, top, child, "Top"), "10");
	assert_string_equal(update_with(f, f->key, top, grandchild, "Top"), "10");
	/* The hierarchy is unchanged for the other device. */
	f->other_key = folder_sync(f, f->other, f->other_key);
	assert_string_equal(field_of(f, change_of(f, WBXML_FOLDERHIERARCHY_ADD, top), WBXML_FOLDERHIERARCHY_PARENT_ID), "0");
	/* The other way round is an ordinary move. */
	assert_string_equal(update_with(f, f->key, grandchild, "0", "Grandchild"), "1");
	ordinary_request_succeeds(f);
}

static void folders_64_levels_deep_accepted_65_rejected(void **state)
{
	struct fixture *f = *state;
	const char *parent = "0", *above = NULL, *top = NULL;
	for (int depth = 1; depth <= 64; depth++) {
		char name[16];
		snprintf(name, sizeof(name), "Level %d", depth);
		above = parent;
		parent = create(f, parent, name);
		if (depth == 1)
			top = parent;
	}
	assert_string_equal(create_with(f, f->key, parent, "Level 65", "12"), "10");
	assert_true(log_has(f, "\tFolderCreate\t", "\t200\t10\t", "folder_too_deep"));
	/* The walk up from the deepest folder still finds the top: no cycle at the limit. */
	assert_string_equal(update_with(f, f->key, top, parent, "Level 1"), "10");
	assert_true(log_has(f, "\tFolderUpdate\t", "\t200\t10\t", "parent_inside_folder"));
	/* The deepest folder can still be renamed in place. */
	assert_string_equal(update_with(f, f->key, parent, above, "Bottom"), "1");
	ordinary_request_succeeds(f);
}

static void rename_or_move_default_folder_gets_2(void **state)
{
	struct fixture *f = *state;
	const char *user_folder = create(f, "0", "Mine");
	assert_string_equal(update_with(f, f->key, f->inbox, "0", "Post"), "2");
	assert_true(log_has(f, "\tFolderUpdate\t", "\t200\t2\t", "special_folder"));
	assert_string_equal(update_with(f, f->key, f->inbox, user_folder, "Inbox"), "2");
	/* folder_sync from 0 gives a new key; the state before it is gone. */
	f->key = folder_sync(f, f->client, "0");
	static const char *const defaults[] = { "Drafts", "Calendar", "Contacts", "Notes" };
	const char *ids[sizeof(defaults) / sizeof(defaults[0])];
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		assert_non_null(ids[i] = id_by_name(f, defaults[i]));
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		assert_string_equal(update_with(f, f->key, ids[i], "0", "Renamed"), "2");
	ordinary_request_succeeds(f);
}

static void update_unknown_folder_gets_4_unknown_parent_gets_5(void **state)
{
	struct fixture *f = *state;
	const char *id = create(f, "0", "Known");
	assert_string_equal(update_with(f, f->key, "999999", "0", "Nobody"), "4");
	assert_true(log_has(f, "\tFolderUpdate\t", "\t200\t4\t", "folder_not_found"));
	assert_string_equal(update_with(f, f->key, "0", "0", "Root"), "4");
	assert_string_equal(update_with(f, f->key, "x", "0", "Nobody"), "4");
	assert_string_equal(update_with(f, f->key, id, "999999", "Known"), "5");
	assert_true(log_has(f, "\tFolderUpdate\t", "\t200\t5\t", "parent_not_found"));
	assert_string_equal(update_with(f, f->key, id, "y", "Known"), "5");
	ordinary_request_succeeds(f);
}

static void update_to_name_of_new_sibling_gets_2(void **state)
{
	struct fixture *f = *state;
	const char *parent = create(f, "0", "Parent");
	create(f, parent, "Taken");
	const char *id = create(f, "0", "Mover");
	assert_string_equal(update_with(f, f->key, id, parent, "TAKEN"), "2");
	assert_true(log_has(f, "\tFolderUpdate\t", "\t200\t2\t", "folder_exists"));
	assert_string_equal(update_with(f, f->key, id, "0", "parent"), "2");
	/* Under another name it moves. */
	assert_string_equal(update_with(f, f->key, id, parent, "Free"), "1");
	ordinary_request_succeeds(f);
}

static void update_with_stale_sync_key_gets_9(void **state)
{
	struct fixture *f = *state;
	const char *stale = f->key;
	const char *id = create(f, "0", "Renamable");
	assert_string_equal(update_with(f, stale, id, "0", "Renamed"), "9");
	assert_true(log_has(f, "\tFolderUpdate\t", "\t200\t9\t", "sync_key_unknown"));
	/* Nothing changed: the other device sees the folder under its first name. */
	f->other_key = folder_sync(f, f->other, f->other_key);
	assert_string_equal(field_of(f, change_of(f, WBXML_FOLDERHIERARCHY_ADD, id), WBXML_FOLDERHIERARCHY_DISPLAY_NAME),
			    "Renamable");
	ordinary_request_succeeds(f);
}

/* ---- FolderDelete ---- */

static void delete_folder_takes_subfolders_second_device_sees_deletes(void **state)
{
	struct fixture *f = *state;
	const char *top = create(f, "0", "Doomed");
	const char *child = create(f, top, "Doomed too");
	const char *keep = create(f, "0", "Kept");
	f->other_key = folder_sync(f, f->other, f->other_key);
	assert_int_equal(change_count(f), 3);
	assert_string_equal(delete_with(f, f->key, top), "1");
	assert_true(log_has(f, "\tFolderDelete\t", "\t200\t1\t", "\tDEV1\t"));
	assert_string_equal(folder_sync(f, f->client, f->key), f->key);
	assert_int_equal(change_count(f), 0);
	f->other_key = folder_sync(f, f->other, f->other_key);
	assert_int_equal(change_count(f), 2);
	assert_non_null(change_of(f, WBXML_FOLDERHIERARCHY_DELETE, top));
	assert_non_null(change_of(f, WBXML_FOLDERHIERARCHY_DELETE, child));
	assert_null(change_of(f, WBXML_FOLDERHIERARCHY_DELETE, keep));
	/* Both are gone for good. */
	assert_string_equal(delete_with(f, f->key, child), "4");
	f->key = folder_sync(f, f->client, "0");
	assert_null(id_by_name(f, "Doomed"));
	assert_null(id_by_name(f, "Doomed too"));
	assert_string_equal(id_by_name(f, "Kept"), keep);
}

static void delete_default_folder_gets_3(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(delete_with(f, f->key, f->inbox), "3");
	assert_true(log_has(f, "\tFolderDelete\t", "\t200\t3\t", "special_folder"));
	f->key = folder_sync(f, f->client, "0");
	static const char *const defaults[] = { "Drafts", "Deleted Items", "Sent Items", "Outbox",
						"Calendar", "Contacts", "Tasks", "Notes" };
	const char *ids[sizeof(defaults) / sizeof(defaults[0])];
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		assert_non_null(ids[i] = id_by_name(f, defaults[i]));
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		assert_string_equal(delete_with(f, f->key, ids[i]), "3");
	ordinary_request_succeeds(f);
}

static void delete_unknown_folder_gets_4(void **state)
{
	struct fixture *f = *state;
	static const char *const ids[] = { "999999", "0", "-1", "abc", "", "99999999999999999999" };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		assert_string_equal(delete_with(f, f->key, ids[i]), "4");
	assert_true(log_has(f, "\tFolderDelete\t", "\t200\t4\t", "folder_not_found"));
	ordinary_request_succeeds(f);
}

static void delete_other_users_folder_gets_4(void **state)
{
	struct fixture *f = *state;
	const char *id = create(f, "0", "Private");
	const char *bob_key;
	struct easclient *bob = synced_device(f, "bob", "battery staple", "BOB1", &bob_key);
	char xml[300];
	snprintf(xml, sizeof(xml),
		 "<FolderDelete xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey><ServerId>%s</ServerId></FolderDelete>",
		 bob_key, id);
	post(f, bob, "FolderDelete", xml);
	assert_string_equal(status(f), "4");
	snprintf(xml, sizeof(xml),
		 "<FolderUpdate xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey><ServerId>%s</ServerId>"
		 "<ParentId>0</ParentId><DisplayName>Mine now</DisplayName></FolderUpdate>", bob_key, id);
	post(f, bob, "FolderUpdate", xml);
	assert_string_equal(status(f), "4");
	snprintf(xml, sizeof(xml),
		 "<FolderCreate xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey><ParentId>%s</ParentId>"
		 "<DisplayName>Inside</DisplayName><Type>12</Type></FolderCreate>", bob_key, id);
	post(f, bob, "FolderCreate", xml);
	assert_string_equal(status(f), "5");
	easclient_free(&bob);
	/* Alice's folder is untouched. */
	f->key = folder_sync(f, f->client, "0");
	assert_string_equal(id_by_name(f, "Private"), id);
}

static void delete_with_wrong_sync_key_gets_9(void **state)
{
	struct fixture *f = *state;
	const char *stale = f->key;
	const char *id = create(f, "0", "Survivor");
	assert_string_equal(delete_with(f, stale, id), "9");
	assert_string_equal(delete_with(f, "0", id), "9");
	assert_true(log_has(f, "\tFolderDelete\t", "\t200\t9\t", "sync_key_unknown"));
	f->key = folder_sync(f, f->client, "0");
	assert_string_equal(id_by_name(f, "Survivor"), id);
}

/* ---- all three ---- */

static void second_device_follows_create_rename_delete(void **state)
{
	struct fixture *f = *state;
	const char *id = create(f, "0", "Short-lived");
	f->other_key = folder_sync(f, f->other, f->other_key);
	assert_int_equal(change_count(f), 1);
	assert_non_null(change_of(f, WBXML_FOLDERHIERARCHY_ADD, id));
	assert_string_equal(update_with(f, f->key, id, "0", "Renamed"), "1");
	f->other_key = folder_sync(f, f->other, f->other_key);
	assert_int_equal(change_count(f), 1);
	assert_string_equal(field_of(f, change_of(f, WBXML_FOLDERHIERARCHY_UPDATE, id), WBXML_FOLDERHIERARCHY_DISPLAY_NAME),
			    "Renamed");
	assert_string_equal(delete_with(f, f->key, id), "1");
	f->other_key = folder_sync(f, f->other, f->other_key);
	assert_int_equal(change_count(f), 1);
	assert_non_null(change_of(f, WBXML_FOLDERHIERARCHY_DELETE, id));
	/* Created and deleted between two FolderSyncs: the other device never hears of it. */
	const char *brief = create(f, "0", "Brief");
	assert_string_equal(delete_with(f, f->key, brief), "1");
	f->other_key = folder_sync(f, f->other, f->other_key);
	assert_int_equal(change_count(f), 0);
	/* And DEV1 itself has nothing to catch up on. */
	assert_string_equal(folder_sync(f, f->client, f->key), f->key);
	assert_int_equal(change_count(f), 0);
}

static void options_lists_the_folder_commands(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_options(f->client, &f->response), 0);
	const char *commands = easclient_header(&f->response, f->arena, "MS-ASProtocolCommands");
	assert_non_null(commands);
	assert_non_null(strstr(commands, "FolderCreate"));
	assert_non_null(strstr(commands, "FolderUpdate"));
	assert_non_null(strstr(commands, "FolderDelete"));
}

#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(create_then_foldersync_with_new_key_lists_nothing),
		CASE(create_answer_lost_previous_key_foldersync_shows_the_folder),
		CASE(create_under_user_folder_is_seen_by_second_device),
		CASE(create_duplicate_name_any_case_gets_2),
		CASE(create_under_unknown_parent_gets_5),
		CASE(create_default_or_unknown_type_gets_10),
		CASE(create_with_wrong_sync_key_gets_9),
		CASE(create_before_first_foldersync_gets_9),
		CASE(create_when_behind_lists_own_folder_once_with_others),
		CASE(display_name_256_characters_accepted_257_rejected),
		CASE(display_name_empty_not_utf8_or_with_nul_gets_10),
		CASE(malformed_requests_get_10),
		CASE(rename_folder_seen_by_second_device_not_echoed),
		CASE(rename_changing_only_case_succeeds),
		CASE(move_folder_under_another_folder),
		CASE(move_folder_under_itself_or_own_child_gets_10),
		CASE(folders_64_levels_deep_accepted_65_rejected),
		CASE(rename_or_move_default_folder_gets_2),
		CASE(update_unknown_folder_gets_4_unknown_parent_gets_5),
		CASE(update_to_name_of_new_sibling_gets_2),
		CASE(update_with_stale_sync_key_gets_9),
		CASE(delete_folder_takes_subfolders_second_device_sees_deletes),
		CASE(delete_default_folder_gets_3),
		CASE(delete_unknown_folder_gets_4),
		CASE(delete_other_users_folder_gets_4),
		CASE(delete_with_wrong_sync_key_gets_9),
		CASE(second_device_follows_create_rename_delete),
		CASE(options_lists_the_folder_commands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
