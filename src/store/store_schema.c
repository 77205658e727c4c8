/*
 * store_schema.c: the database schema as numbered migrations. PRAGMA
 * user_version holds the number applied; each migration runs in its own
 * transaction at start-up. Never edit a released migration: add one.
 */
#include "store/store_private.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const char *const migrations[] = {
	/* 1: users, devices, folders, items with tombstones, sync states, ClientId maps. */
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  password_hash TEXT NOT NULL,"
	"  credential_version INTEGER NOT NULL DEFAULT 1,"
	"  hierarchy_modseq INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE devices ("
	"  id INTEGER PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  device_id TEXT NOT NULL,"
	"  device_type TEXT NOT NULL,"
	"  user_agent TEXT NOT NULL DEFAULT '',"
	"  first_seen INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  policy_key INTEGER NOT NULL DEFAULT 0,"
	"  policy_version TEXT NOT NULL DEFAULT '',"
	"  pending_key INTEGER NOT NULL DEFAULT 0,"
	"  pending_version TEXT NOT NULL DEFAULT '',"
	"  model TEXT, imei TEXT, friendly_name TEXT, os TEXT, os_language TEXT,"
	"  phone_number TEXT, mobile_operator TEXT,"
	"  UNIQUE (user_id, device_id));"
	"CREATE TABLE folders ("
	"  id INTEGER PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  parent_id INTEGER NOT NULL DEFAULT 0,"
	"  name TEXT NOT NULL,"
	"  type INTEGER NOT NULL,"
	"  created_modseq INTEGER NOT NULL,"
	"  changed_modseq INTEGER NOT NULL,"
	"  deleted INTEGER NOT NULL DEFAULT 0,"
	"  modseq INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX folders_changes ON folders (user_id, changed_modseq);"
	"CREATE TABLE items ("
	"  id INTEGER PRIMARY KEY,"
	"  folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,"
	"  modseq INTEGER NOT NULL,"
	"  deleted INTEGER NOT NULL DEFAULT 0,"
	"  received INTEGER NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  content BLOB);"
	"CREATE INDEX items_changes ON items (folder_id, modseq);"
	"CREATE TABLE sync_states ("
	"  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	"  collection_id INTEGER NOT NULL,"
	"  sync_key INTEGER NOT NULL,"
	"  modseq INTEGER NOT NULL,"
	"  previous_key INTEGER NOT NULL DEFAULT 0,"
	"  previous_modseq INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (device_id, collection_id));"
	"CREATE TABLE client_ids ("
	"  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	"  collection_id INTEGER NOT NULL,"
	"  client_id TEXT NOT NULL,"
	"  item_id INTEGER NOT NULL,"
	"  sync_key INTEGER NOT NULL,"
	"  PRIMARY KEY (device_id, collection_id, client_id));",
	/* 2: what Sync needs per message: when the client first saw it
	   (created_modseq), its flags, and the fields filters and dedup use. */
	"ALTER TABLE items ADD COLUMN created_modseq INTEGER NOT NULL DEFAULT 0;"
	"UPDATE items SET created_modseq = modseq;"
	"ALTER TABLE items DROP COLUMN flags;"
	"ALTER TABLE items ADD COLUMN read INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE items ADD COLUMN flag_status INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE items ADD COLUMN categories TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE items ADD COLUMN message_id TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE items ADD COLUMN date INTEGER NOT NULL DEFAULT 0;"
	/* Changes a device made outside Sync (MoveItems): its next Sync of the
	   folder passes them without sending them back. */
	"CREATE TABLE sync_suppress ("
	"  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	"  folder_id INTEGER NOT NULL,"
	"  modseq INTEGER NOT NULL,"
	"  PRIMARY KEY (device_id, folder_id, modseq));",
	/* 3: filter windows (the oldest item on the device), sticky Sync
	   settings, the cached Sync request of empty and Partial requests, and
	   the item's modseq the answer to an Add left the device at. */
	"ALTER TABLE sync_states ADD COLUMN cutoff_received INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sync_states ADD COLUMN cutoff_id INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sync_states ADD COLUMN previous_cutoff_received INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sync_states ADD COLUMN previous_cutoff_id INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sync_states ADD COLUMN settings TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE client_ids ADD COLUMN modseq INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX items_received ON items (folder_id, received, id);"
	"CREATE TABLE sync_cache ("
	"  device_id INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,"
	"  request TEXT NOT NULL);",
	/* 4: the cached Ping (HeartbeatInterval and folders) an empty Ping stands for. */
	"CREATE TABLE ping_cache ("
	"  device_id INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,"
	"  request TEXT NOT NULL);",
	/* 5: items found by their own id (a 16.x event's ClientUid), for Adds a client repeats. */
	"CREATE INDEX items_message_id ON items (folder_id, message_id) WHERE message_id != '';",
	/* 6: messages a device submitted (SendMail, SmartReply, SmartForward):
	   a request repeated with the same key sends nothing more, and the
	   rows of the last hour are the user's sending rate. */
	"CREATE TABLE sent_messages ("
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  send_key TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  started INTEGER NOT NULL,"
	"  PRIMARY KEY (user_id, send_key));"
	"CREATE INDEX sent_messages_started ON sent_messages (user_id, started);",
	/* 7: the last meeting update (iTIP) applied to each event and occurrence of a
	   user's: one the organizer sent earlier that arrives later is not applied. */
	"CREATE TABLE meeting_updates ("
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  uid TEXT NOT NULL,"
	"  recurrence_id INTEGER NOT NULL,"
	"  sequence INTEGER NOT NULL,"
	"  dtstamp INTEGER NOT NULL,"
	"  PRIMARY KEY (user_id, uid, recurrence_id));",
	/* 8: iTIP messages about meetings a user organizes (REQUEST, CANCEL):
	   scheduled with the calendar change that makes them, sent by easd's
	   outbox once due, or recorded as sent by the user's device itself. */
	"CREATE TABLE invitations ("
	"  id INTEGER PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  uid TEXT NOT NULL,"
	"  method TEXT NOT NULL,"
	"  sequence INTEGER NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  due INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  recipients TEXT NOT NULL,"
	"  message BLOB NOT NULL);"
	"CREATE INDEX invitations_due ON invitations (due) WHERE state IN (0, 5);"
	"CREATE INDEX invitations_meeting ON invitations (user_id, uid);",
	/* 9: what may reach the store, decided by an administrator or by
	   autoblock, and what must outlive a restart: a device's access (''
	   leaves it to easd.conf's rules) with who decided, why and until when
	   (0: until lifted); a remote wipe and its acknowledgement; a protocol
	   trace on demand; a user's sync switched off, or some of its classes,
	   and the classes each device was told are hidden (the folders its
	   last two hierarchy answers left out). */
	"ALTER TABLE devices ADD COLUMN access TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE devices ADD COLUMN access_by TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE devices ADD COLUMN access_reason TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE devices ADD COLUMN access_since INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE devices ADD COLUMN access_until INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE devices ADD COLUMN wipe TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE devices ADD COLUMN wipe_state TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE devices ADD COLUMN wipe_requested INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE devices ADD COLUMN wipe_answered INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE devices ADD COLUMN trace_until INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE devices ADD COLUMN hidden_classes TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE devices ADD COLUMN hidden_previous TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE users ADD COLUMN sync_disabled INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE users ADD COLUMN disabled_classes TEXT NOT NULL DEFAULT '';",
};

static int exec(sqlite3 *db, const char *sql, char *error, size_t error_len)
{
	char *message = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &message) == SQLITE_OK)
		return 0;
	snprintf(error, error_len, "schema: %s", message != NULL ? message : sqlite3_errmsg(db));
	sqlite3_free(message);
	return -1;
}

static int read_version(sqlite3 *db, int *version_out)
{
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(stmt);
	*version_out = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
	sqlite3_finalize(stmt);
	return *version_out < 0 ? -1 : 0;
}

/*
 * Each migration runs in its own write transaction, and the version is read
 * inside it: easd and easctl starting together on a new database cannot
 * both apply the same migration. A migration that fails is rolled back
 * whole, so the database stays at the version before it.
 */
int store_schema_migrate_to(sqlite3 *db, int target, int *version_out, char *error, size_t error_len)
{
	int count = store_schema_latest();
	assert(target >= 0 && target <= count);
	for (;;) {
		int version = -1;
		if (exec(db, "BEGIN IMMEDIATE", error, error_len) < 0)
			return -1;
		if (read_version(db, &version) < 0 || version > target) {
			if (version > count)
				snprintf(error, error_len, "schema: database version %d is newer than this easd (%d)",
					 version, count);
			else if (version > target)
				snprintf(error, error_len, "schema: database version %d is past the version asked for (%d)",
					 version, target);
			else
				snprintf(error, error_len, "schema: cannot read user_version: %s", sqlite3_errmsg(db));
			exec(db, "ROLLBACK", error + strlen(error), 0);
			return -1;
		}
		if (version == target) {
			*version_out = version;
			return exec(db, "COMMIT", error, error_len);
		}
		char set_version[64];
		snprintf(set_version, sizeof(set_version), "PRAGMA user_version = %d", version + 1);
		if (exec(db, migrations[version], error, error_len) < 0 ||
		    exec(db, set_version, error, error_len) < 0 || exec(db, "COMMIT", error, error_len) < 0) {
			exec(db, "ROLLBACK", error + strlen(error), 0);
			return -1;
		}
	}
}

int store_schema_migrate(sqlite3 *db, int *version_out, char *error, size_t error_len)
{
	return store_schema_migrate_to(db, store_schema_latest(), version_out, error, error_len);
}

int store_schema_latest(void)
{
	return (int)(sizeof(migrations) / sizeof(migrations[0]));
}
