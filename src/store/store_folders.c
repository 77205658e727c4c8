/*
 * store_folders.c: folders, the hierarchy modseq, sync states and mail
 * (see store.h).
 *
 * The hierarchy is versioned by users.hierarchy_modseq: every folder change
 * takes the next value and stamps the folder row (changed_modseq), and a
 * deleted folder stays as a tombstone. "What changed since M" is then an
 * indexed range query, never a diff of two folder lists.
 */
#include "store/store_private.h"

#include <string.h>

static const struct {
	const char *name;
	int type;
} default_folders[] = {
	{ "Inbox", STORE_FOLDER_INBOX },
	{ "Drafts", STORE_FOLDER_DRAFTS },
	{ "Deleted Items", STORE_FOLDER_DELETED },
	{ "Sent Items", STORE_FOLDER_SENT },
	{ "Outbox", STORE_FOLDER_OUTBOX },
	{ "Calendar", STORE_FOLDER_CALENDAR },
	{ "Contacts", STORE_FOLDER_CONTACTS },
	{ "Tasks", STORE_FOLDER_TASKS },
	{ "Notes", STORE_FOLDER_NOTES },
};

/* Takes the user's next hierarchy modseq (in the open transaction). */
static int next_hierarchy_modseq(struct store_session *session, int64_t user_id, uint64_t *modseq_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_USER_BUMP_HIERARCHY);
	sqlite3_bind_int64(stmt, 1, user_id);
	return store_query_int64(session, stmt, "hierarchy modseq", (int64_t *)modseq_out);
}

static int folder_insert(struct store_session *session, int64_t user_id, int64_t parent_id,
			 const char *name, int type, int64_t *id_out)
{
	uint64_t modseq;
	int status = next_hierarchy_modseq(session, user_id, &modseq);
	if (status != STORE_OK)
		return status;
	sqlite3_stmt *stmt = store_statement(session, SQL_FOLDER_INSERT);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, parent_id);
	sqlite3_bind_text(stmt, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 4, type);
	sqlite3_bind_int64(stmt, 5, (sqlite3_int64)modseq);
	status = store_run(session, stmt, "add folder");
	if (status == STORE_OK && id_out != NULL)
		*id_out = sqlite3_last_insert_rowid(session->db);
	if (status == STORE_OK)
		store_note_change(session, user_id, 0);
	return status;
}

int store_folders_create_defaults(struct store_session *session, int64_t user_id)
{
	for (size_t i = 0; i < sizeof(default_folders) / sizeof(default_folders[0]); i++) {
		int status = folder_insert(session, user_id, 0, default_folders[i].name,
					   default_folders[i].type, NULL);
		if (status != STORE_OK)
			return status;
	}
	return STORE_OK;
}

int store_hierarchy_modseq(struct store_session *session, int64_t user_id, uint64_t *modseq_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_USER_HIERARCHY);
	sqlite3_bind_int64(stmt, 1, user_id);
	return store_query_int64(session, stmt, "hierarchy modseq", (int64_t *)modseq_out);
}

int store_folder_changes(struct store_session *session, struct arena *arena, int64_t user_id,
			 uint64_t since, uint64_t until,
			 void (*fn)(void *context, const struct store_folder *folder), void *context)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_FOLDER_CHANGES);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)since);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)until);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_folder folder = {
			.id = sqlite3_column_int64(stmt, 0),
			.parent_id = sqlite3_column_int64(stmt, 1),
			.name = store_column_text(arena, stmt, 2),
			.type = sqlite3_column_int(stmt, 3),
			.deleted = sqlite3_column_int(stmt, 4) != 0,
			.added = (uint64_t)sqlite3_column_int64(stmt, 5) > since,
		};
		/* Created and deleted within the range: the client never saw it. */
		if (folder.deleted && folder.added)
			continue;
		fn(context, &folder);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? STORE_OK : store_fail(session, "folder changes");
}

struct folder_create {
	int64_t user_id, parent_id;
	const char *name;
	int type;
	int64_t id;
};

static int folder_create(struct store_session *session, void *context)
{
	struct folder_create *create = context;
	return folder_insert(session, create->user_id, create->parent_id, create->name, create->type, &create->id);
}

int store_folder_create(struct store_session *session, int64_t user_id, int64_t parent_id,
			const char *name, int type, int64_t *id_out)
{
	struct folder_create create = { user_id, parent_id, name, type, 0 };
	int status = store_in_transaction(session, folder_create, &create);
	if (status == STORE_OK && id_out != NULL)
		*id_out = create.id;
	return status;
}

struct folder_update {
	enum statement_id statement;
	int64_t user_id;
	int64_t folder_id;
	const char *name;
	int64_t parent_id;
};

/* Rename or delete; in a transaction so that a miss does not burn a modseq. */
static int folder_update(struct store_session *session, void *context)
{
	struct folder_update *update = context;
	uint64_t modseq;
	int status = next_hierarchy_modseq(session, update->user_id, &modseq);
	if (status != STORE_OK)
		return status;
	sqlite3_stmt *stmt = store_statement(session, update->statement);
	sqlite3_bind_int64(stmt, 1, update->user_id);
	sqlite3_bind_int64(stmt, 2, update->folder_id);
	if (update->statement == SQL_FOLDER_RENAME) {
		sqlite3_bind_text(stmt, 3, update->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 4, (sqlite3_int64)modseq);
	} else if (update->statement == SQL_FOLDER_UPDATE) {
		sqlite3_bind_int64(stmt, 3, update->parent_id);
		sqlite3_bind_text(stmt, 4, update->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 5, (sqlite3_int64)modseq);
	} else {
		sqlite3_bind_int64(stmt, 3, (sqlite3_int64)modseq);
	}
	status = store_run(session, stmt, "update folder");
	if (status == STORE_OK && sqlite3_changes(session->db) == 0)
		return STORE_NOT_FOUND;
	if (status == STORE_OK)
		store_note_change(session, update->user_id, 0);
	return status;
}

int store_folder_rename(struct store_session *session, int64_t user_id, int64_t folder_id,
			const char *name)
{
	struct folder_update update = { SQL_FOLDER_RENAME, user_id, folder_id, name, 0 };
	return store_in_transaction(session, folder_update, &update);
}

int store_folder_delete(struct store_session *session, int64_t user_id, int64_t folder_id)
{
	struct folder_update update = { SQL_FOLDER_DELETE, user_id, folder_id, NULL, 0 };
	return store_in_transaction(session, folder_update, &update);
}

int store_folder_update(struct store_session *session, int64_t user_id, int64_t folder_id,
			int64_t parent_id, const char *name)
{
	struct folder_update update = { SQL_FOLDER_UPDATE, user_id, folder_id, name, parent_id };
	return store_in_transaction(session, folder_update, &update);
}

int store_folder_get(struct store_session *session, struct arena *arena, int64_t user_id,
		     int64_t folder_id, struct store_folder *folder_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_FOLDER_GET);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, folder_id);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*folder_out = (struct store_folder){
			.id = sqlite3_column_int64(stmt, 0),
			.parent_id = sqlite3_column_int64(stmt, 1),
			.name = store_column_text(arena, stmt, 2),
			.type = sqlite3_column_int(stmt, 3),
		};
	}
	return store_row_done(session, stmt, rc, "get folder");
}

int store_folder_find_name(struct store_session *session, int64_t user_id, int64_t parent_id,
			   const char *name, int64_t *id_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_FOLDER_FIND_NAME);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, parent_id);
	sqlite3_bind_text(stmt, 3, name, -1, SQLITE_STATIC);
	return store_query_int64(session, stmt, "find folder by name", id_out);
}

int store_folder_find_type(struct store_session *session, int64_t user_id, int type, int64_t *id_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_FOLDER_FIND_TYPE);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int(stmt, 2, type);
	return store_query_int64(session, stmt, "find folder", id_out);
}

static void read_cutoff(sqlite3_stmt *stmt, int column, struct store_cutoff *cutoff)
{
	cutoff->received = sqlite3_column_int64(stmt, column);
	cutoff->item_id = sqlite3_column_int64(stmt, column + 1);
}

int store_sync_state_get(struct store_session *session, int64_t device, int64_t collection_id,
			 struct store_sync_state *state_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_STATE_GET);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_int64(stmt, 2, collection_id);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		state_out->sync_key = (uint64_t)sqlite3_column_int64(stmt, 0);
		state_out->modseq = (uint64_t)sqlite3_column_int64(stmt, 1);
		read_cutoff(stmt, 2, &state_out->cutoff);
		state_out->previous_key = (uint64_t)sqlite3_column_int64(stmt, 4);
		state_out->previous_modseq = (uint64_t)sqlite3_column_int64(stmt, 5);
		read_cutoff(stmt, 6, &state_out->previous_cutoff);
	}
	return store_row_done(session, stmt, rc, "get sync state");
}

static void bind_cutoff(sqlite3_stmt *stmt, int parameter, const struct store_cutoff *cutoff)
{
	sqlite3_bind_int64(stmt, parameter, cutoff != NULL ? cutoff->received : 0);
	sqlite3_bind_int64(stmt, parameter + 1, cutoff != NULL ? cutoff->item_id : 0);
}

int store_sync_state_advance(struct store_session *session, int64_t device, int64_t collection_id,
			     uint64_t sync_key, uint64_t modseq, const struct store_cutoff *cutoff)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_STATE_ADVANCE);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_int64(stmt, 2, collection_id);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)sync_key);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)modseq);
	bind_cutoff(stmt, 5, cutoff);
	return store_run(session, stmt, "advance sync state");
}

int store_sync_state_put(struct store_session *session, int64_t device, int64_t collection_id,
			 const struct store_sync_state *state)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_STATE_PUT);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_int64(stmt, 2, collection_id);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)state->sync_key);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)state->modseq);
	bind_cutoff(stmt, 5, &state->cutoff);
	sqlite3_bind_int64(stmt, 7, (sqlite3_int64)state->previous_key);
	sqlite3_bind_int64(stmt, 8, (sqlite3_int64)state->previous_modseq);
	bind_cutoff(stmt, 9, &state->previous_cutoff);
	return store_run(session, stmt, "put sync state");
}

/* The text column of the one row stmt selects, copied into arena. */
static int query_text(struct store_session *session, struct arena *arena, sqlite3_stmt *stmt, const char *what,
		      const char **text_out)
{
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*text_out = store_column_text(arena, stmt, 0);
	return store_row_done(session, stmt, rc, what);
}

int store_sync_settings_get(struct store_session *session, struct arena *arena, int64_t device,
			    int64_t collection_id, const char **settings_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_SETTINGS_GET);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_int64(stmt, 2, collection_id);
	return query_text(session, arena, stmt, "get sync settings", settings_out);
}

int store_sync_settings_put(struct store_session *session, int64_t device, int64_t collection_id,
			    const char *settings)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_SETTINGS_PUT);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_int64(stmt, 2, collection_id);
	sqlite3_bind_text(stmt, 3, settings, -1, SQLITE_STATIC);
	return store_run(session, stmt, "put sync settings");
}

int store_request_cache_get(struct store_session *session, struct arena *arena, int64_t device,
			    enum store_request_cache which, const char **cache_out)
{
	sqlite3_stmt *stmt = store_statement(session, which == STORE_CACHE_SYNC ? SQL_CACHE_GET : SQL_PING_CACHE_GET);
	sqlite3_bind_int64(stmt, 1, device);
	return query_text(session, arena, stmt, "get request cache", cache_out);
}

int store_request_cache_put(struct store_session *session, int64_t device, enum store_request_cache which,
			    const char *cache)
{
	sqlite3_stmt *stmt = store_statement(session, which == STORE_CACHE_SYNC ? SQL_CACHE_PUT : SQL_PING_CACHE_PUT);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_text(stmt, 2, cache, -1, SQLITE_STATIC);
	return store_run(session, stmt, "put request cache");
}

int store_client_id_find(struct store_session *session, int64_t device, int64_t collection_id,
			 const char *client_id, uint64_t after_key, struct store_client_id *map_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_CLIENT_ID_FIND);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_int64(stmt, 2, collection_id);
	sqlite3_bind_text(stmt, 3, client_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)after_key);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		map_out->item_id = sqlite3_column_int64(stmt, 0);
		map_out->modseq = (uint64_t)sqlite3_column_int64(stmt, 1);
	}
	return store_row_done(session, stmt, rc, "find client id");
}

int store_client_id_put(struct store_session *session, int64_t device, int64_t collection_id,
			const char *client_id, const struct store_client_id *map, uint64_t sync_key)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_CLIENT_ID_PUT);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_int64(stmt, 2, collection_id);
	sqlite3_bind_text(stmt, 3, client_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, map->item_id);
	sqlite3_bind_int64(stmt, 5, (sqlite3_int64)sync_key);
	sqlite3_bind_int64(stmt, 6, (sqlite3_int64)map->modseq);
	return store_run(session, stmt, "put client id");
}

int store_client_id_forget(struct store_session *session, int64_t device, int64_t collection_id,
			   uint64_t below_key)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_CLIENT_ID_FORGET);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_int64(stmt, 2, collection_id);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)below_key);
	return store_run(session, stmt, "forget client ids");
}
