/*
 * test_migrations.c: upgrades. For every schema version an earlier release
 * may have left (0, an empty file, up to this release's minus one), a
 * database is made at that version with store_schema_migrate_to and filled
 * with that version's own SQL; store_open must then bring it to the latest
 * version with every datum readable and writable through store.h, a
 * second store_open must change nothing, and the result must have the
 * schema of a database made new. Also: a database newer than this release
 * is refused untouched, and a migration that fails leaves the database at
 * the version before it, with the reason in store_open's error.
 *
 * The fixture data are written with raw SQL, not store.h: the functions of
 * this release would write this release's columns, which an older
 * database does not have.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/auth.h"
#include "store/store_private.h"

/*
 * The schema version this file has fixture data for. A new migration
 * fails fixture_data_covers_every_migration until its tables and columns
 * get rows in fixture_rows and checks in check_data, and an
 * upgrade_from_version_N case is added to main.
 */
#define FIXTURE_LATEST 9

static const char budget_message[] =
	"From: Carol <carol@example.org>\r\nTo: alice@example.org\r\nSubject: Budget 2027\r\n"
	"Date: Tue, 14 Nov 2023 22:13:10 +0000\r\nMessage-ID: <budget@example.org>\r\n\r\n"
	"The figures are attached.\r\n";
static const char lunch_message[] =
	"From: Dan <dan@example.org>\r\nTo: alice@example.org\r\nSubject: Lunch?\r\n"
	"Message-ID: <lunch@example.org>\r\n\r\nThursday at noon?\r\n";
static const char event_fields[] = "subject=Team meeting\nstart=1701000000\nend=1701003600\nuid=event-uid-1\n";
static const char bob_message[] = "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: Hi\r\n\r\nHello Bob\r\n";

/* A row set of the fixture, written when the database is at a version in [since, until) (until 0: any later one). */
struct fixture_rows {
	int since, until;
	const char *sql;
};

static const struct fixture_rows fixture_rows[] = {
	/* 1: users, devices, folders, items, sync states, ClientId maps. */
	{ 1, 0,
	  "INSERT INTO users (id, name, password_hash, credential_version, hierarchy_modseq, created) VALUES"
	  " (1, 'alice', :hash, 3, 13, 1700000000), (2, 'Bob', :hash, 1, 1, 1700000100);" },
	{ 1, 0,
	  "INSERT INTO devices (id, user_id, device_id, device_type, user_agent, first_seen, last_seen, policy_key,"
	  " policy_version, pending_key, pending_version, model, imei, friendly_name, os, os_language, phone_number,"
	  " mobile_operator) VALUES (1, 1, 'Appl5K14358AA4', 'iPhone', 'Apple-iPhone15C2/2001.105', 1700000000,"
	  " 1700000500, 3141592653, 'v3', 2718281828, 'v3', 'iPhone15C2', '356938035643809', 'Alice''s iPhone',"
	  " 'iOS 17.1', 'de-DE', '+4930123456', 'Telekom');" },
	/* alice: the default folders, a tree of two, one deleted; bob: his Inbox. */
	{ 1, 0,
	  "INSERT INTO folders (id, user_id, parent_id, name, type, created_modseq, changed_modseq, deleted, modseq) VALUES"
	  " (10, 1, 0, 'Inbox', 2, 1, 1, 0, 5), (11, 1, 0, 'Drafts', 3, 2, 2, 0, 0),"
	  " (12, 1, 0, 'Deleted Items', 4, 3, 3, 0, 0), (13, 1, 0, 'Sent Items', 5, 4, 4, 0, 0),"
	  " (14, 1, 0, 'Outbox', 6, 5, 5, 0, 0), (15, 1, 0, 'Calendar', 8, 6, 6, 0, 1),"
	  " (16, 1, 0, 'Contacts', 9, 7, 7, 0, 0), (17, 1, 0, 'Tasks', 7, 8, 8, 0, 0),"
	  " (18, 1, 0, 'Notes', 10, 9, 9, 0, 0), (19, 1, 0, 'Projects', 12, 10, 10, 0, 0),"
	  " (20, 1, 19, 'Budget 2027', 12, 11, 11, 0, 0), (21, 1, 0, 'Old', 12, 12, 13, 1, 0),"
	  " (30, 2, 0, 'Inbox', 2, 1, 1, 0, 1);" },
	/* Inbox: 100 added at 1, 101 at 2, 102 at 3, 101 flagged at 4, 102 deleted at 5. */
	{ 1, 2,
	  "INSERT INTO items (id, folder_id, modseq, deleted, received, size, flags, content) VALUES"
	  " (100, 10, 1, 0, 1700000200, length(:budget), 0, :budget),"
	  " (101, 10, 4, 0, 1700000300, length(:lunch), 0, :lunch),"
	  " (102, 10, 5, 1, 1700000250, 812, 0, NULL),"
	  " (110, 15, 1, 0, 1701000000, length(:event), 0, :event),"
	  " (120, 30, 1, 0, 1700000600, length(:bob), 0, :bob);" },
	{ 2, 0,
	  "INSERT INTO items (id, folder_id, modseq, created_modseq, deleted, received, size, content, read, flag_status,"
	  " categories, message_id, date) VALUES"
	  " (100, 10, 1, 1, 0, 1700000200, length(:budget), :budget, 0, 0, '', 'budget@example.org', 1700000190),"
	  " (101, 10, 4, 2, 0, 1700000300, length(:lunch), :lunch, 1, 2, 'Work' || char(10) || 'Urgent',"
	  "  'lunch@example.org', 1700000290),"
	  " (102, 10, 5, 3, 1, 1700000250, 812, NULL, 0, 0, '', 'gone@example.org', 1700000240),"
	  " (110, 15, 1, 1, 0, 1701000000, length(:event), :event, 0, 0, '', 'event-uid-1', 0),"
	  " (120, 30, 1, 1, 0, 1700000600, length(:bob), :bob, 0, 0, '', '', 0);" },
	{ 1, 3,
	  "INSERT INTO sync_states (device_id, collection_id, sync_key, modseq, previous_key, previous_modseq) VALUES"
	  " (1, 0, 5, 13, 4, 12), (1, 10, 7, 5, 6, 4);" },
	{ 3, 0,
	  "INSERT INTO sync_states (device_id, collection_id, sync_key, modseq, cutoff_received, cutoff_id, previous_key,"
	  " previous_modseq, previous_cutoff_received, previous_cutoff_id, settings) VALUES"
	  " (1, 0, 5, 13, 0, 0, 4, 12, 0, 0, ''),"
	  " (1, 10, 7, 5, 1700000200, 100, 6, 4, 1700000300, 101, 'class=Email;filter=3;mime=2');" },
	{ 1, 3,
	  "INSERT INTO client_ids (device_id, collection_id, client_id, item_id, sync_key) VALUES"
	  " (1, 15, 'cal-add-1', 110, 3);" },
	{ 3, 0,
	  "INSERT INTO client_ids (device_id, collection_id, client_id, item_id, sync_key, modseq) VALUES"
	  " (1, 15, 'cal-add-1', 110, 3, 1);" },
	/* 2: a MoveItems of the device's own (102 leaving the Inbox at 5). */
	{ 2, 0, "INSERT INTO sync_suppress (device_id, folder_id, modseq) VALUES (1, 10, 5);" },
	/* 3: the cached Sync request; 4: the cached Ping. */
	{ 3, 0, "INSERT INTO sync_cache (device_id, request) VALUES (1, 'sync:10,15;wait=0');" },
	{ 4, 0, "INSERT INTO ping_cache (device_id, request) VALUES (1, 'heartbeat=900;folders=10,15');" },
	/* 5 is an index only. 6: a message sent; 7: a meeting update applied. */
	{ 6, 0, "INSERT INTO sent_messages (user_id, send_key, state, started) VALUES (1, 'client-send-1', 1, 1700000400);" },
	{ 7, 0,
	  "INSERT INTO meeting_updates (user_id, uid, recurrence_id, sequence, dtstamp) VALUES"
	  " (1, 'event-uid-1', 0, 2, 1700000450);" },
	/* 8: the user's meeting: its invitation sent (SEQUENCE 0), its update waiting. */
	{ 8, 0,
	  "INSERT INTO invitations (id, user_id, uid, method, sequence, state, created, due, attempts, sender, recipients,"
	  " message) VALUES (1, 1, 'own-uid-1', 'REQUEST', 0, 1, 1700000500, 1700000620, 1, 'alice@example.org',"
	  " 'bob@example.org' || char(10), 'invitation'),"
	  " (2, 1, 'own-uid-1', 'REQUEST', 1, 0, 1700000700, 1700000820, 0, 'alice@example.org',"
	  " 'bob@example.org' || char(10), 'update');" },
	/* 9: the administrator's decisions: the device allowed, a wipe it acknowledged; bob's contacts off. */
	{ 9, 0,
	  "UPDATE devices SET access = 'allow', access_by = 'admin', access_since = 1700000900, wipe = 'account',"
	  " wipe_state = 'done', wipe_requested = 1700000910, wipe_answered = 1700000920 WHERE id = 1;"
	  "UPDATE users SET disabled_classes = 'Contacts' WHERE id = 2;" },
};

struct fixture {
	char dir[64];
	char path[96];
	int from;                 /* the version the database was made at */
	char hash[256];           /* yescrypt of "secret" */
	struct easd_config config;
	struct store *store;
	struct store_session *session;
	struct arena *arena;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	f->from = *state != NULL ? *(const int *)*state : 0;
	snprintf(f->dir, sizeof(f->dir), "/tmp/easd-migrations-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/" STORE_DATABASE_NAME, f->dir);
	if (guard_password_hash("secret", f->hash, sizeof(f->hash)) < 0)
		return -1;
	config_init(&f->config);
	f->arena = arena_new(0);
	*state = f;
	return 0;
}

static void close_store(struct fixture *f)
{
	store_session_release(&f->session);
	store_close(&f->store);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char command[128];
	close_store(f);
	config_cleanup(&f->config);
	arena_free(&f->arena);
	snprintf(command, sizeof(command), "rm -rf '%s'", f->dir);
	int removed = system(command);
	free(f);
	return removed;
}

static sqlite3 *open_raw(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static void bind_named(sqlite3_stmt *stmt, const char *name, const void *value, size_t len, bool blob)
{
	int index = sqlite3_bind_parameter_index(stmt, name);
	if (index == 0)
		return;
	if (blob)
		assert_int_equal(sqlite3_bind_blob(stmt, index, value, (int)len, SQLITE_STATIC), SQLITE_OK);
	else
		assert_int_equal(sqlite3_bind_text(stmt, index, value, (int)len, SQLITE_STATIC), SQLITE_OK);
}

/* Runs every statement of sql, with the fixture's password hash and contents for its parameters. */
static void run_fixture_sql(struct fixture *f, sqlite3 *db, const char *sql)
{
	while (*sql != '\0') {
		sqlite3_stmt *stmt = NULL;
		const char *tail = NULL;
		if (sqlite3_prepare_v2(db, sql, -1, &stmt, &tail) != SQLITE_OK)
			fail_msg("%s: %s", sql, sqlite3_errmsg(db));
		if (stmt != NULL) {
			bind_named(stmt, ":hash", f->hash, strlen(f->hash), false);
			bind_named(stmt, ":budget", budget_message, sizeof(budget_message) - 1, true);
			bind_named(stmt, ":lunch", lunch_message, sizeof(lunch_message) - 1, true);
			bind_named(stmt, ":event", event_fields, sizeof(event_fields) - 1, true);
			bind_named(stmt, ":bob", bob_message, sizeof(bob_message) - 1, true);
			if (sqlite3_step(stmt) != SQLITE_DONE)
				fail_msg("%s: %s", sql, sqlite3_errmsg(db));
			sqlite3_finalize(stmt);
		}
		sql = tail;
	}
}

/*
 * The database an older release left: version 0 is an empty file (easd
 * never ran); version N has the first N migrations and the fixture rows
 * that version's tables hold.
 */
static void make_database(struct fixture *f, int version)
{
	if (version == 0) {
		FILE *file = fopen(f->path, "w");
		assert_non_null(file);
		fclose(file);
		return;
	}
	sqlite3 *db = open_raw(f->path);
	char error[256];
	int reached = -1;
	if (store_schema_migrate_to(db, version, &reached, error, sizeof(error)) < 0)
		fail_msg("migrate to %d: %s", version, error);
	assert_int_equal(reached, version);
	for (size_t i = 0; i < sizeof(fixture_rows) / sizeof(fixture_rows[0]); i++)
		if (fixture_rows[i].since <= version && (fixture_rows[i].until == 0 || version < fixture_rows[i].until))
			run_fixture_sql(f, db, fixture_rows[i].sql);
	sqlite3_close(db);
}

static int64_t raw_int(const char *path, const char *sql)
{
	sqlite3 *db = open_raw(path);
	sqlite3_stmt *stmt = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	int64_t value = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return value;
}

/* Whether sql compiles against the database's schema (a column or table is there). */
static bool raw_compiles(const char *path, const char *sql)
{
	sqlite3 *db = open_raw(path);
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return rc == SQLITE_OK;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = open_raw(path);
	char *message = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK)
		fail_msg("%s: %s", sql, message);
	sqlite3_close(db);
}

static uint64_t fnv(uint64_t hash, const void *data, size_t len)
{
	const uint8_t *bytes = data;
	for (size_t i = 0; i < len; i++)
		hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
	return hash;
}

/* Hashes every row stmt yields, column by column (type and bytes). */
static uint64_t hash_rows(sqlite3_stmt *stmt, uint64_t hash)
{
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(stmt); i++) {
			int type = sqlite3_column_type(stmt, i);
			const void *value = type == SQLITE_BLOB ? sqlite3_column_blob(stmt, i) : sqlite3_column_text(stmt, i);
			int len = sqlite3_column_bytes(stmt, i);
			hash = fnv(hash, &type, sizeof(type));
			hash = fnv(hash, &len, sizeof(len));
			if (value != NULL)
				hash = fnv(hash, value, (size_t)len);
		}
	}
	return hash;
}

/*
 * What the file holds: its schema (schema_only), or its schema, version
 * and every row of every table. The store must be closed.
 */
static uint64_t fingerprint(const char *path, bool schema_only)
{
	sqlite3 *db = open_raw(path);
	sqlite3_stmt *tables = NULL;
	uint64_t hash = 0xcbf29ce484222325ULL;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name",
					    -1, &tables, NULL), SQLITE_OK);
	hash = hash_rows(tables, hash);
	sqlite3_finalize(tables);
	if (schema_only) {
		sqlite3_close(db);
		return hash;
	}
	int64_t version = 0;
	sqlite3_stmt *stmt = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	version = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	hash = fnv(hash, &version, sizeof(version));
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
					    -1, &tables, NULL), SQLITE_OK);
	while (sqlite3_step(tables) == SQLITE_ROW) {
		char sql[256];
		snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY rowid", (const char *)sqlite3_column_text(tables, 0));
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
		hash = hash_rows(stmt, hash);
		sqlite3_finalize(stmt);
	}
	sqlite3_finalize(tables);
	sqlite3_close(db);
	return hash;
}

/* The schema of a database this release makes new, in its own directory. */
static uint64_t fresh_schema(struct fixture *f)
{
	char dir[128], path[160], error[256];
	struct store *store = NULL;
	snprintf(dir, sizeof(dir), "%s/fresh", f->dir);
	snprintf(path, sizeof(path), "%s/" STORE_DATABASE_NAME, dir);
	assert_int_equal(store_open(dir, 1, &store, error, sizeof(error)), 0);
	store_close(&store);
	return fingerprint(path, true);
}

static void open_store(struct fixture *f)
{
	char error[256];
	if (store_open(f->dir, 2, &f->store, error, sizeof(error)) < 0)
		fail_msg("store_open: %s", error);
	f->session = store_session_acquire(f->store);
	assert_non_null(f->session);
}

/* The user logs in as easd checks it (a fresh checker each time: no cache, no failures counted before). */
static void authenticates(struct fixture *f, const char *name, int64_t id, uint64_t credential_version)
{
	struct guard_auth *auth = guard_auth_new(&f->config);
	struct store_user user;
	const char *reason = NULL;
	assert_int_equal(guard_auth_check(auth, f->session, f->arena, name, "secret", "192.0.2.1", 1800000000, &user,
					  &reason), GUARD_AUTH_OK);
	assert_int_equal(user.id, id);
	assert_int_equal(user.credential_version, credential_version);
	assert_int_equal(guard_auth_check(auth, f->session, f->arena, name, "wrong", "192.0.2.2", 1800000000, &user,
					  &reason), GUARD_AUTH_DENIED);
	assert_string_equal(reason, "bad_password");
	guard_auth_free(&auth);
}

struct folder_list {
	unsigned added, deleted, changed;
	struct store_folder folders[16];
};

static void collect_folder(void *context, const struct store_folder *folder)
{
	struct folder_list *list = context;
	unsigned n = list->added + list->deleted + list->changed;
	if (n < 16)
		list->folders[n] = *folder;
	if (folder->deleted)
		list->deleted++;
	else if (folder->added)
		list->added++;
	else
		list->changed++;
}

struct item_list {
	unsigned count;
	struct store_item items[8];
};

static bool collect_item(void *context, const struct store_item *item)
{
	struct item_list *list = context;
	if (list->count < 8)
		list->items[list->count] = *item;
	list->count++;
	return true;
}

static void collect_modseq(void *context, uint64_t modseq)
{
	uint64_t *last = context;
	*last = modseq;
}

static void assert_content(struct fixture *f, int64_t folder, int64_t item, const char *expected, size_t len)
{
	uint64_t size = 0;
	char buffer[512];
	assert_true(len <= sizeof(buffer));
	assert_int_equal(store_item_content_size(f->session, folder, item, &size), STORE_OK);
	assert_int_equal(size, len);
	assert_int_equal(store_item_content_read(f->session, folder, item, 0, buffer, len), STORE_OK);
	assert_memory_equal(buffer, expected, len);
}

/*
 * The fixture data, written at version from, read through store.h after
 * the upgrade: what that version held is there as it was; what later
 * migrations added has its default.
 */
/* Decisions made at version 9 on are kept; a device of an older database has none (the rules decide). */
static void check_decisions(struct fixture *f, const struct store_device *device, int from)
{
	struct store_user bob;
	assert_int_equal(store_user_find(f->session, f->arena, "bob", &bob), STORE_OK);
	assert_false(bob.sync_disabled);
	if (from < 9) {
		assert_int_equal(device->access.access, STORE_ACCESS_RULES);
		assert_int_equal(device->wipe.kind, STORE_WIPE_NONE);
		assert_string_equal(bob.disabled_classes, "");
		return;
	}
	assert_int_equal(device->access.access, STORE_ACCESS_ALLOW);
	assert_string_equal(device->access.by, "admin");
	assert_int_equal(device->wipe.kind, STORE_WIPE_ACCOUNT);
	assert_int_equal(device->wipe.state, STORE_WIPE_DONE);
	assert_int_equal(device->wipe.answered, 1700000920);
	assert_string_equal(bob.disabled_classes, "Contacts");
}

/* The users still log in and their device keeps its keys. */
static void check_users(struct fixture *f, int from)
{
	authenticates(f, "ALICE", 1, 3);
	authenticates(f, "bob", 2, 1);

	struct store_device device;
	assert_int_equal(store_device_touch(f->session, f->arena, 1, "Appl5K14358AA4", "iPhone", "Apple-iPhone15C2/2001.105",
					    1800000000, &device), STORE_OK);
	assert_int_equal(device.id, 1);
	assert_int_equal(device.first_seen, 1700000000);
	assert_int_equal(device.policy_key, 3141592653u);
	assert_int_equal(device.pending_key, 2718281828u);
	assert_string_equal(device.policy_version, "v3");
	check_decisions(f, &device, from);
}

/* The folder hierarchy and the sync states (filter window and settings from version 3 on). */
static void check_folders(struct fixture *f, int from)
{
	/* The hierarchy: every live folder, the tree, the tombstone. */
	uint64_t hierarchy;
	assert_int_equal(store_hierarchy_modseq(f->session, 1, &hierarchy), STORE_OK);
	assert_int_equal(hierarchy, 13);
	struct folder_list folders = { 0 };
	assert_int_equal(store_folder_changes(f->session, f->arena, 1, 0, hierarchy, collect_folder, &folders), STORE_OK);
	assert_int_equal(folders.added, 11);
	assert_int_equal(folders.deleted + folders.changed, 0);
	assert_string_equal(folders.folders[0].name, "Inbox");
	assert_int_equal(folders.folders[10].parent_id, 19);
	assert_string_equal(folders.folders[10].name, "Budget 2027");
	memset(&folders, 0, sizeof(folders));
	assert_int_equal(store_folder_changes(f->session, f->arena, 1, 12, hierarchy, collect_folder, &folders), STORE_OK);
	assert_int_equal(folders.deleted, 1);
	assert_int_equal(folders.folders[0].id, 21);
	int64_t inbox;
	assert_int_equal(store_folder_find_type(f->session, 1, STORE_FOLDER_INBOX, &inbox), STORE_OK);
	assert_int_equal(inbox, 10);
	int64_t found;
	assert_int_equal(store_folder_find_name(f->session, 1, 19, "budget 2027", &found), STORE_OK);
	assert_int_equal(found, 20);

	/* Sync states, with the filter window and settings of version 3 on. */
	struct store_sync_state sync;
	assert_int_equal(store_sync_state_get(f->session, 1, 0, &sync), STORE_OK);
	assert_int_equal(sync.sync_key, 5);
	assert_int_equal(sync.modseq, 13);
	assert_int_equal(sync.previous_key, 4);
	assert_int_equal(sync.previous_modseq, 12);
	assert_int_equal(store_sync_state_get(f->session, 1, 10, &sync), STORE_OK);
	assert_int_equal(sync.sync_key, 7);
	assert_int_equal(sync.modseq, 5);
	assert_int_equal(sync.previous_key, 6);
	assert_int_equal(sync.previous_modseq, 4);
	assert_int_equal(sync.cutoff.received, from >= 3 ? 1700000200 : 0);
	assert_int_equal(sync.cutoff.item_id, from >= 3 ? 100 : 0);
	assert_int_equal(sync.previous_cutoff.received, from >= 3 ? 1700000300 : 0);
	assert_int_equal(sync.previous_cutoff.item_id, from >= 3 ? 101 : 0);
	const char *settings = NULL;
	assert_int_equal(store_sync_settings_get(f->session, f->arena, 1, 10, &settings), STORE_OK);
	assert_string_equal(settings, from >= 3 ? "class=Email;filter=3;mime=2" : "");
}

/* The items, contents intact, with what later versions added. */
static void check_items(struct fixture *f, int from)
{
	int64_t inbox = 10, found; /* the Inbox's id in the fixture (check_folders checks it) */
	/* The Inbox's items in modseq order, the tombstone last; contents intact. */
	uint64_t modseq, count;
	assert_int_equal(store_folder_modseq(f->session, inbox, &modseq), STORE_OK);
	assert_int_equal(modseq, 5);
	assert_int_equal(store_folder_count(f->session, inbox, &count), STORE_OK);
	assert_int_equal(count, 2);
	struct item_list items = { 0 };
	assert_int_equal(store_item_changes(f->session, f->arena, inbox, 0, modseq, 0, collect_item, &items), STORE_OK);
	assert_int_equal(items.count, 3);
	assert_int_equal(items.items[0].id, 100);
	assert_int_equal(items.items[1].id, 101);
	assert_int_equal(items.items[2].id, 102);
	assert_true(items.items[2].deleted);
	const struct store_item *lunch = &items.items[1];
	assert_int_equal(lunch->modseq, 4);
	assert_int_equal(lunch->received, 1700000300);
	assert_int_equal(lunch->size, sizeof(lunch_message) - 1);
	/* Version 1 had no created_modseq: migration 2 takes the last change's. */
	assert_int_equal(lunch->created_modseq, from >= 2 ? 2 : 4);
	assert_int_equal(lunch->read, from >= 2);
	assert_int_equal(lunch->flag_status, from >= 2 ? 2 : 0);
	assert_string_equal(lunch->categories, from >= 2 ? "Work\nUrgent" : "");
	assert_string_equal(lunch->message_id, from >= 2 ? "lunch@example.org" : "");
	assert_int_equal(lunch->date, from >= 2 ? 1700000290 : 0);
	assert_content(f, inbox, 100, budget_message, sizeof(budget_message) - 1);
	assert_content(f, inbox, 101, lunch_message, sizeof(lunch_message) - 1);
	uint64_t size;
	assert_int_equal(store_item_content_size(f->session, inbox, 102, &size), STORE_NOT_FOUND);
	assert_content(f, 15, 110, event_fields, sizeof(event_fields) - 1);
	assert_content(f, 30, 120, bob_message, sizeof(bob_message) - 1);
	assert_int_equal(store_item_find_id(f->session, 15, "event-uid-1", &found), from >= 2 ? STORE_OK : STORE_NOT_FOUND);
	if (from >= 2)
		assert_int_equal(found, 110);
}

/* ClientId maps, suppressed echoes, caches, sent messages and meeting versions, each from its version on. */
/* The user's meeting's messages: the next SEQUENCE follows them, the pending update is due. */
static void check_invitations(struct fixture *f, int from)
{
	int64_t sequence = -1;
	assert_int_equal(store_invitation_next_sequence(f->session, 1, "own-uid-1", &sequence), STORE_OK);
	assert_int_equal(sequence, from >= 8 ? 2 : 0);
	struct store_invitation due;
	assert_int_equal(store_invitation_next_due(f->session, f->arena, 1700000900, &due),
			 from >= 8 ? STORE_OK : STORE_NOT_FOUND);
	if (from < 8)
		return;
	assert_int_equal(due.id, 2);
	assert_string_equal(due.recipients, "bob@example.org\n");
	assert_int_equal(due.message.len, 6);
	assert_memory_equal(due.message.data, "update", 6);
}

static void check_maps(struct fixture *f, int from)
{
	int64_t inbox = 10;
	/* The ClientId map of an Add; its modseq came with version 3 (0: not known, no echo suppressed). */
	struct store_client_id map;
	assert_int_equal(store_client_id_find(f->session, 1, 15, "cal-add-1", 2, &map), STORE_OK);
	assert_int_equal(map.item_id, 110);
	assert_int_equal(map.modseq, from >= 3 ? 1 : 0);
	assert_int_equal(store_client_id_find(f->session, 1, 15, "cal-add-1", 3, &map), STORE_NOT_FOUND);

	uint64_t suppressed = 0;
	assert_int_equal(store_sync_suppress_list(f->session, 1, inbox, 4, 5, collect_modseq, &suppressed), STORE_OK);
	assert_int_equal(suppressed, from >= 2 ? 5 : 0);
	const char *cache = NULL;
	assert_int_equal(store_request_cache_get(f->session, f->arena, 1, STORE_CACHE_SYNC, &cache),
			 from >= 3 ? STORE_OK : STORE_NOT_FOUND);
	if (from >= 3)
		assert_string_equal(cache, "sync:10,15;wait=0");
	assert_int_equal(store_request_cache_get(f->session, f->arena, 1, STORE_CACHE_PING, &cache),
			 from >= 4 ? STORE_OK : STORE_NOT_FOUND);
	if (from >= 4)
		assert_string_equal(cache, "heartbeat=900;folders=10,15");
	unsigned sent = 99;
	assert_int_equal(store_send_count(f->session, 1, 1700000000, &sent), STORE_OK);
	assert_int_equal(sent, from >= 6 ? 1 : 0);
	struct store_meeting_version meeting;
	assert_int_equal(store_meeting_version_get(f->session, 1, "event-uid-1", 0, &meeting),
			 from >= 7 ? STORE_OK : STORE_NOT_FOUND);
	if (from >= 7)
		assert_int_equal(meeting.sequence, 2);
	check_invitations(f, from);
}

static void check_data(struct fixture *f, int from)
{
	check_users(f, from);
	check_folders(f, from);
	check_items(f, from);
	check_maps(f, from);
}

/* What a request of this release does with the upgraded data: every write path it touches works. */
static void check_writable(struct fixture *f, int from)
{
	static const char message[] = "Subject: after the upgrade\r\n\r\nstill here\r\n";
	struct store_item_meta meta = { .received = 1800000000, .message_id = "after@example.org", .categories = "Work" };
	int64_t item, folder;
	uint64_t modseq;
	struct item_list items = { 0 };
	assert_int_equal(store_begin(f->session), STORE_OK);
	assert_int_equal(store_item_add(f->session, 1, 10, (const uint8_t *)message, sizeof(message) - 1, &meta, &item),
			 STORE_OK);
	assert_int_equal(store_commit(f->session), STORE_OK);
	assert_int_equal(store_item_changes(f->session, f->arena, 10, 5, 6, 0, collect_item, &items), STORE_OK);
	assert_int_equal(items.count, 1);
	assert_int_equal(items.items[0].id, item);
	assert_string_equal(items.items[0].message_id, "after@example.org");
	assert_int_equal(store_item_set_flags(f->session, 1, 10, 100, true, 1, "", &modseq), STORE_OK);
	assert_int_equal(modseq, 7);
	assert_int_equal(store_item_delete(f->session, 1, 10, 101, &modseq), STORE_OK);
	assert_int_equal(store_folder_create(f->session, 1, 19, "Budget 2028", STORE_FOLDER_USER_MAIL, &folder), STORE_OK);
	assert_int_equal(store_hierarchy_modseq(f->session, 1, &modseq), STORE_OK);
	assert_int_equal(modseq, 14);

	struct store_cutoff cutoff = { 1700000300, 101 };
	struct store_sync_state sync;
	assert_int_equal(store_sync_state_advance(f->session, 1, 10, 8, 8, &cutoff), STORE_OK);
	assert_int_equal(store_sync_state_get(f->session, 1, 10, &sync), STORE_OK);
	assert_int_equal(sync.previous_key, 7);
	assert_int_equal(sync.cutoff.item_id, 101);
	assert_int_equal(store_sync_settings_put(f->session, 1, 10, "class=Email;filter=4"), STORE_OK);
	struct store_client_id map = { item, 6 };
	assert_int_equal(store_client_id_put(f->session, 1, 10, "client-7", &map, 9), STORE_OK);
	assert_int_equal(store_sync_suppress_add(f->session, 1, 10, 8), STORE_OK);
	assert_int_equal(store_request_cache_put(f->session, 1, STORE_CACHE_SYNC, "sync:10"), STORE_OK);
	assert_int_equal(store_request_cache_put(f->session, 1, STORE_CACHE_PING, "heartbeat=600"), STORE_OK);
	enum store_send_claim claim;
	assert_int_equal(store_send_claim(f->session, 1, "client-send-1", 1700000500, 60, 86400 * 365 * 10, &claim),
			 STORE_OK);
	assert_int_equal(claim, from >= 6 ? STORE_SEND_ALREADY_SENT : STORE_SEND_GO);
	struct store_meeting_version meeting = { 3, 1800000000 };
	assert_int_equal(store_begin(f->session), STORE_OK);
	assert_int_equal(store_meeting_version_put(f->session, 1, "event-uid-1", 0, &meeting), STORE_OK);
	assert_int_equal(store_commit(f->session), STORE_OK);
	assert_int_equal(store_meeting_version_get(f->session, 1, "event-uid-1", 0, &meeting), STORE_OK);
	assert_int_equal(meeting.sequence, 3);
	/* Deleting a user still cascades through every table, old and new. */
	assert_int_equal(store_user_delete(f->session, "alice"), STORE_OK);
	assert_int_equal(store_sync_state_get(f->session, 1, 10, &sync), STORE_NOT_FOUND);
	authenticates(f, "bob", 2, 1);
}

/* easd never ran: the empty file becomes this release's database, and works. */
static void check_new_database(struct fixture *f)
{
	int64_t alice, inbox, item;
	struct store_item_meta meta = { .received = 1800000000 };
	assert_int_equal(store_user_add(f->session, "alice", f->hash, &alice), STORE_OK);
	authenticates(f, "alice", alice, 1);
	assert_int_equal(store_folder_find_type(f->session, alice, STORE_FOLDER_INBOX, &inbox), STORE_OK);
	assert_int_equal(store_begin(f->session), STORE_OK);
	assert_int_equal(store_item_add(f->session, alice, inbox, (const uint8_t *)"x", 1, &meta, &item), STORE_OK);
	assert_int_equal(store_commit(f->session), STORE_OK);
	assert_content(f, inbox, item, "x", 1);
}

static void upgrade_keeps_the_data(void **state)
{
	struct fixture *f = *state;
	int latest = store_schema_latest();
	assert_true(f->from < latest);
	make_database(f, f->from);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), f->from);

	open_store(f);
	assert_int_equal(store_schema_version(f->store), latest);
	if (f->from > 0)
		check_data(f, f->from);
	close_store(f);

	/* Upgraded, it is the database this release makes new... */
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), latest);
	assert_true(fingerprint(f->path, true) == fresh_schema(f));
	/* ...and opening it again changes nothing. */
	uint64_t before = fingerprint(f->path, false);
	open_store(f);
	assert_int_equal(store_schema_version(f->store), latest);
	close_store(f);
	assert_true(fingerprint(f->path, false) == before);

	open_store(f);
	if (f->from > 0)
		check_writable(f, f->from);
	else
		check_new_database(f);
}

static void database_of_a_newer_release_is_refused(void **state)
{
	struct fixture *f = *state;
	int latest = store_schema_latest();
	char error[256], set_version[64];
	make_database(f, latest);
	snprintf(set_version, sizeof(set_version), "PRAGMA user_version = %d", latest + 1);
	raw_exec(f->path, set_version);
	uint64_t before = fingerprint(f->path, false);

	struct store *store = NULL;
	char expected[128];
	assert_int_equal(store_open(f->dir, 1, &store, error, sizeof(error)), -1);
	assert_null(store);
	snprintf(expected, sizeof(expected), "schema: database version %d is newer than this easd (%d)", latest + 1, latest);
	assert_string_equal(error, expected);
	assert_true(fingerprint(f->path, false) == before);
}

/*
 * A migration that fails: a table or index it creates is there already
 * (made by hand). Each migration is one transaction, so what ran before
 * the failing statement is undone and the database stays at the version
 * before it, however many migrations that store_open committed first.
 */
struct failing_migration {
	const char *name;
	int from;           /* the fixture's version */
	const char *stray;  /* what is in the way */
	int stays_at;       /* the version the database keeps */
	const char *error;  /* in store_open's message */
	const char *absent; /* SQL that must not compile: the failed migration's first statements, or later ones */
	const char *kept;   /* SQL that compiles with what stays_at has */
	const char *cleanup;
};

static const struct failing_migration failing_migrations[] = {
	{ "migration 2, after it altered items", 1, "CREATE TABLE sync_suppress (device_id INTEGER)", 1,
	  "schema: table sync_suppress already exists", "SELECT created_modseq FROM items", "SELECT flags FROM items",
	  "DROP TABLE sync_suppress" },
	{ "migration 3, after it altered sync_states", 2, "CREATE TABLE sync_cache (device_id INTEGER PRIMARY KEY)", 2,
	  "schema: table sync_cache already exists", "SELECT cutoff_received FROM sync_states",
	  "SELECT modseq FROM sync_suppress", "DROP TABLE sync_cache" },
	{ "migration 4, after 2 and 3 were applied", 1, "CREATE TABLE ping_cache (device_id INTEGER PRIMARY KEY)", 3,
	  "schema: table ping_cache already exists", "SELECT * FROM meeting_updates",
	  "SELECT settings FROM sync_states", "DROP TABLE ping_cache" },
	{ "migration 6, after it created its table", 5, "CREATE INDEX sent_messages_started ON users (created)", 5,
	  "schema: index sent_messages_started already exists", "SELECT * FROM sent_messages",
	  "SELECT * FROM ping_cache", "DROP INDEX sent_messages_started" },
	{ "migration 7", 6, "CREATE TABLE meeting_updates (uid TEXT)", 6, "schema: table meeting_updates already exists",
	  "SELECT user_id FROM meeting_updates", "SELECT * FROM sent_messages", "DROP TABLE meeting_updates" },
};

static void failed_migration_leaves_the_version_before(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < sizeof(failing_migrations) / sizeof(failing_migrations[0]); i++) {
		const struct failing_migration *c = &failing_migrations[i];
		char error[256];
		struct store *store = NULL;
		char stale[128];
		remove(f->path);
		snprintf(stale, sizeof(stale), "%s-wal", f->path);
		remove(stale);
		snprintf(stale, sizeof(stale), "%s-shm", f->path);
		remove(stale);
		make_database(f, c->from);
		raw_exec(f->path, c->stray);
		if (store_open(f->dir, 1, &store, error, sizeof(error)) == 0)
			fail_msg("%s: store_open succeeded", c->name);
		assert_null(store);
		if (strstr(error, c->error) == NULL)
			fail_msg("%s: error '%s', expected '%s'", c->name, error, c->error);
		if (raw_int(f->path, "PRAGMA user_version") != c->stays_at)
			fail_msg("%s: version %d, expected %d", c->name,
				 (int)raw_int(f->path, "PRAGMA user_version"), c->stays_at);
		if (raw_compiles(f->path, c->absent))
			fail_msg("%s: '%s' compiles: the failed migration was not undone", c->name, c->absent);
		if (!raw_compiles(f->path, c->kept))
			fail_msg("%s: '%s' does not compile", c->name, c->kept);
		assert_int_equal(raw_int(f->path, "SELECT count(*) FROM users"), 2);
		assert_int_equal(raw_int(f->path, "SELECT count(*) FROM items"), 5);

		/* The cause removed, the next start migrates, the data whole. */
		raw_exec(f->path, c->cleanup);
		open_store(f);
		assert_int_equal(store_schema_version(f->store), store_schema_latest());
		check_data(f, c->from);
		close_store(f);
	}
}

static void fixture_data_covers_every_migration(void **state)
{
	(void)state;
	assert_int_equal(store_schema_latest(), FIXTURE_LATEST);
}

static void migrate_to_refuses_a_database_past_its_target(void **state)
{
	struct fixture *f = *state;
	char error[256];
	int version = -1;
	make_database(f, 3);
	sqlite3 *db = open_raw(f->path);
	assert_int_equal(store_schema_migrate_to(db, 2, &version, error, sizeof(error)), -1);
	assert_string_equal(error, "schema: database version 3 is past the version asked for (2)");
	assert_int_equal(store_schema_migrate_to(db, 3, &version, error, sizeof(error)), 0);
	assert_int_equal(version, 3);
	sqlite3_close(db);
}

static int versions[FIXTURE_LATEST] = { 0, 1, 2, 3, 4, 5, 6, 7 };

#define UPGRADE_FROM(n) \
	{ "upgrade_from_version_" #n, upgrade_keeps_the_data, setup, teardown, (void *)&versions[n] }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fixture_data_covers_every_migration),
		UPGRADE_FROM(0),
		UPGRADE_FROM(1),
		UPGRADE_FROM(2),
		UPGRADE_FROM(3),
		UPGRADE_FROM(4),
		UPGRADE_FROM(5),
		UPGRADE_FROM(6),
		UPGRADE_FROM(7),
		UPGRADE_FROM(8),
		cmocka_unit_test_setup_teardown(database_of_a_newer_release_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_migration_leaves_the_version_before, setup, teardown),
		cmocka_unit_test_setup_teardown(migrate_to_refuses_a_database_past_its_target, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
