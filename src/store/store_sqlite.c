/*
 * store_sqlite.c: the store on SQLite (see store.h).
 *
 * WAL mode so readers never wait for the writer; synchronous=FULL so a
 * commit (and the LMTP 250 that follows it) survives a power cut; a busy
 * timeout instead of failing at the first lock. Each session is one
 * connection with its statements prepared once and reused.
 */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_private.h"

#define STORE_DEFAULT_SESSIONS 64

/* What read_item (store_items.c) reads. */
#define ITEM_COLUMNS "id, folder_id, modseq, created_modseq, deleted, received, date, size, read, flag_status, categories, message_id"
/* Items a moving filter window passes (store_item_window). */
#define LEAVING_WHERE "WHERE folder_id = ?1 AND created_modseq <= ?2 AND (deleted = 0 OR modseq > ?2) " \
		      "AND (received, id) >= (?3, ?4) AND (received, id) < (?5, ?6)"
#define ENTERING_WHERE "WHERE folder_id = ?1 AND created_modseq <= ?2 AND deleted = 0 " \
		       "AND (received, id) >= (?3, ?4) AND (received, id) < (?5, ?6)"

/* The columns read_user and read_device read, in their order. */
#define USER_COLUMNS "id, name, password_hash, credential_version, sync_disabled, disabled_classes"
#define DEVICE_COLUMNS                                                                                     \
	"d.id, d.device_type, d.user_agent, d.first_seen, d.last_seen, d.policy_key, d.policy_version, "    \
	"d.pending_key, d.pending_version, coalesce(d.model, ''), coalesce(d.os, ''), "                     \
	"coalesce(d.friendly_name, ''), d.access, d.access_by, d.access_reason, d.access_since, "           \
	"d.access_until, d.wipe, d.wipe_state, d.wipe_requested, d.wipe_answered, d.trace_until, "      \
	"d.hidden_classes, d.hidden_previous"

/* SQL of every statement; the ids are in store_private.h. */
static const char *const statement_sql[SQL_COUNT_] = {
	[SQL_BEGIN] = "BEGIN IMMEDIATE",
	[SQL_BEGIN_READ] = "BEGIN DEFERRED",
	[SQL_COMMIT] = "COMMIT",
	[SQL_ROLLBACK] = "ROLLBACK",
	[SQL_USER_INSERT] = "INSERT INTO users (name, password_hash, created) VALUES (?1, ?2, strftime('%s','now'))",
	[SQL_USER_PASSWORD] = "UPDATE users SET password_hash = ?2, credential_version = credential_version + 1 WHERE name = ?1",
	[SQL_USER_DELETE] = "DELETE FROM users WHERE name = ?1",
	[SQL_USER_FIND] = "SELECT " USER_COLUMNS " FROM users WHERE name = ?1",
	[SQL_USER_LIST] = "SELECT " USER_COLUMNS " FROM users ORDER BY name",
	[SQL_USER_BUMP_HIERARCHY] = "UPDATE users SET hierarchy_modseq = hierarchy_modseq + 1 WHERE id = ?1 RETURNING hierarchy_modseq",
	[SQL_USER_HIERARCHY] = "SELECT hierarchy_modseq FROM users WHERE id = ?1",
	[SQL_DEVICE_FIND] = "SELECT " DEVICE_COLUMNS " FROM devices d WHERE user_id = ?1 AND device_id = ?2",
	[SQL_DEVICE_INSERT] = "INSERT INTO devices (user_id, device_id, device_type, user_agent, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
	[SQL_DEVICE_SEEN] = ("UPDATE devices SET last_seen = ?2, device_type = ?3, user_agent = ?4, "
			     "first_seen = CASE first_seen WHEN 0 THEN ?2 ELSE first_seen END WHERE id = ?1"),
	[SQL_DEVICE_ACCESS] = ("UPDATE devices SET access = ?2, access_by = ?3, access_reason = ?4, access_since = ?5, "
			       "access_until = ?6 WHERE id = ?1"),
	[SQL_DEVICE_WIPE] = "UPDATE devices SET wipe = ?2, wipe_state = ?3, wipe_requested = ?4, wipe_answered = ?5 WHERE id = ?1",
	[SQL_DEVICE_TRACE] = "UPDATE devices SET trace_until = ?2 WHERE id = ?1",
	[SQL_DEVICE_HIDDEN] = "UPDATE devices SET hidden_classes = ?2, hidden_previous = ?3 WHERE id = ?1",
	[SQL_DEVICE_FORGET] = "DELETE FROM devices WHERE id = ?1",
	[SQL_DEVICE_COUNT_BEFORE] = "SELECT count(*) FROM devices WHERE user_id = ?1 AND id < ?2 AND access != 'block'",
	[SQL_DEVICE_LIST] = ("SELECT " DEVICE_COLUMNS ", d.device_id, d.user_id, u.name FROM devices d "
			     "JOIN users u ON u.id = d.user_id WHERE ?1 = 0 OR d.user_id = ?1 ORDER BY u.name, d.last_seen DESC"),
	[SQL_USER_SYNC] = "UPDATE users SET sync_disabled = ?2, disabled_classes = ?3 WHERE name = ?1",
	[SQL_DEVICE_PENDING] = "UPDATE devices SET pending_key = ?2, pending_version = ?3 WHERE id = ?1",
	[SQL_DEVICE_POLICY] = "UPDATE devices SET policy_key = ?2, policy_version = ?3 WHERE id = ?1",
	[SQL_DEVICE_INFORMATION] = "UPDATE devices SET model = ?2, imei = ?3, friendly_name = ?4, os = ?5, os_language = ?6, phone_number = ?7, mobile_operator = ?8 WHERE id = ?1",
	[SQL_FOLDER_INSERT] = "INSERT INTO folders (user_id, parent_id, name, type, created_modseq, changed_modseq) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
	[SQL_FOLDER_CHANGES] = "SELECT id, parent_id, name, type, deleted, created_modseq FROM folders WHERE user_id = ?1 AND changed_modseq > ?2 AND changed_modseq <= ?3 ORDER BY id",
	[SQL_FOLDER_RENAME] = "UPDATE folders SET name = ?3, changed_modseq = ?4 WHERE user_id = ?1 AND id = ?2 AND deleted = 0",
	[SQL_FOLDER_DELETE] = ("WITH RECURSIVE below(id) AS (SELECT ?2 UNION SELECT f.id FROM folders f JOIN below ON f.parent_id = below.id WHERE f.user_id = ?1 AND f.deleted = 0) "
			       "UPDATE folders SET deleted = 1, changed_modseq = ?3 WHERE user_id = ?1 AND deleted = 0 AND id IN (SELECT id FROM below)"),
	[SQL_FOLDER_UPDATE] = "UPDATE folders SET parent_id = ?3, name = ?4, changed_modseq = ?5 WHERE user_id = ?1 AND id = ?2 AND deleted = 0",
	[SQL_FOLDER_GET] = "SELECT id, parent_id, name, type FROM folders WHERE user_id = ?1 AND id = ?2 AND deleted = 0",
	[SQL_FOLDER_FIND_NAME] = "SELECT id FROM folders WHERE user_id = ?1 AND parent_id = ?2 AND name = ?3 COLLATE NOCASE AND deleted = 0 LIMIT 1",
	[SQL_FOLDER_FIND_TYPE] = "SELECT id FROM folders WHERE user_id = ?1 AND type = ?2 AND deleted = 0 ORDER BY id LIMIT 1",
	[SQL_FOLDER_BUMP] = "UPDATE folders SET modseq = modseq + 1 WHERE id = ?1 AND user_id = ?2 AND deleted = 0 RETURNING modseq",
	[SQL_FOLDER_COUNT] = "SELECT count(*) FROM items WHERE folder_id = ?1 AND deleted = 0",
	[SQL_STATE_GET] = ("SELECT sync_key, modseq, cutoff_received, cutoff_id, previous_key, previous_modseq, previous_cutoff_received, previous_cutoff_id "
			   "FROM sync_states WHERE device_id = ?1 AND collection_id = ?2"),
	[SQL_STATE_ADVANCE] = ("INSERT INTO sync_states (device_id, collection_id, sync_key, modseq, cutoff_received, cutoff_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
			       "ON CONFLICT (device_id, collection_id) DO UPDATE SET previous_key = sync_key, previous_modseq = modseq, "
			       "previous_cutoff_received = cutoff_received, previous_cutoff_id = cutoff_id, "
			       "sync_key = ?3, modseq = ?4, cutoff_received = ?5, cutoff_id = ?6"),
	[SQL_STATE_PUT] = ("INSERT INTO sync_states (device_id, collection_id, sync_key, modseq, cutoff_received, cutoff_id, "
			   "previous_key, previous_modseq, previous_cutoff_received, previous_cutoff_id) "
			   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (device_id, collection_id) DO UPDATE SET "
			   "sync_key = ?3, modseq = ?4, cutoff_received = ?5, cutoff_id = ?6, "
			   "previous_key = ?7, previous_modseq = ?8, previous_cutoff_received = ?9, previous_cutoff_id = ?10"),
	[SQL_ITEM_INSERT] = ("INSERT INTO items (folder_id, modseq, created_modseq, received, size, content, date, message_id, "
			     "read, flag_status, categories) VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
	[SQL_SUPPRESS_ADD] = "INSERT OR IGNORE INTO sync_suppress (device_id, folder_id, modseq) VALUES (?1, ?2, ?3)",
	[SQL_SUPPRESS_LIST] = "SELECT modseq FROM sync_suppress WHERE device_id = ?1 AND folder_id = ?2 AND modseq > ?3 AND modseq <= ?4",
	[SQL_SUPPRESS_FORGET] = "DELETE FROM sync_suppress WHERE device_id = ?1 AND folder_id = ?2 AND modseq <= ?3",
	[SQL_FOLDER_MODSEQ] = "SELECT modseq FROM folders WHERE id = ?1",
	[SQL_ITEM_CHANGES] = ("SELECT " ITEM_COLUMNS " FROM items WHERE folder_id = ?1 AND modseq > ?2 AND modseq <= ?3 ORDER BY modseq LIMIT ?4"),
	[SQL_ITEM_COUNT_CHANGES] = "SELECT count(*) FROM items WHERE folder_id = ?1 AND modseq > ?2 AND modseq <= ?3 AND (received, id) >= (?4, ?5)",
	[SQL_ITEM_GET] = ("SELECT " ITEM_COLUMNS " FROM items WHERE folder_id = ?1 AND id = ?2"),
	[SQL_ITEM_FIND_ID] = ("SELECT id FROM items WHERE folder_id = ?1 AND message_id = ?2 AND message_id != '' "
			      "AND deleted = 0 ORDER BY id LIMIT 1"),
	/* length() of a BLOB reads the record header only, not the content's overflow pages. */
	[SQL_ITEM_CONTENT_SIZE] = "SELECT length(content) FROM items WHERE folder_id = ?1 AND id = ?2 AND deleted = 0",
	[SQL_ITEM_SET_FLAGS] = ("UPDATE items SET read = ?3, flag_status = ?4, categories = ?5, modseq = ?6 "
				"WHERE folder_id = ?1 AND id = ?2 AND deleted = 0 AND (read != ?3 OR flag_status != ?4 OR categories != ?5)"),
	[SQL_ITEM_SET_CONTENT] = ("UPDATE items SET content = ?3, size = ?4, received = ?5, modseq = ?6 "
				  "WHERE folder_id = ?1 AND id = ?2 AND deleted = 0"),
	[SQL_ITEM_DELETE] = "UPDATE items SET deleted = 1, content = NULL, modseq = ?3 WHERE folder_id = ?1 AND id = ?2 AND deleted = 0",
	[SQL_ITEM_COPY] = ("INSERT INTO items (folder_id, modseq, created_modseq, received, size, content, date, message_id, read, flag_status, categories) "
			   "SELECT ?3, ?4, ?4, received, size, content, date, message_id, read, flag_status, categories FROM items WHERE folder_id = ?1 AND id = ?2 AND deleted = 0"),
	[SQL_SETTINGS_GET] = "SELECT settings FROM sync_states WHERE device_id = ?1 AND collection_id = ?2",
	[SQL_SETTINGS_PUT] = "UPDATE sync_states SET settings = ?3 WHERE device_id = ?1 AND collection_id = ?2",
	[SQL_CACHE_GET] = "SELECT request FROM sync_cache WHERE device_id = ?1",
	[SQL_CACHE_PUT] = "INSERT INTO sync_cache (device_id, request) VALUES (?1, ?2) ON CONFLICT (device_id) DO UPDATE SET request = ?2",
	[SQL_PING_CACHE_GET] = "SELECT request FROM ping_cache WHERE device_id = ?1",
	[SQL_PING_CACHE_PUT] = "INSERT INTO ping_cache (device_id, request) VALUES (?1, ?2) ON CONFLICT (device_id) DO UPDATE SET request = ?2",
	[SQL_ITEM_LEAVING] = "SELECT " ITEM_COLUMNS " FROM items " LEAVING_WHERE " ORDER BY received, id LIMIT ?7",
	[SQL_ITEM_ENTERING] = "SELECT " ITEM_COLUMNS " FROM items " ENTERING_WHERE " ORDER BY received DESC, id DESC LIMIT ?7",
	[SQL_ITEM_COUNT_LEAVING] = "SELECT count(*) FROM items " LEAVING_WHERE,
	[SQL_ITEM_COUNT_ENTERING] = "SELECT count(*) FROM items " ENTERING_WHERE,
	[SQL_CLIENT_ID_FIND] = "SELECT item_id, modseq FROM client_ids WHERE device_id = ?1 AND collection_id = ?2 AND client_id = ?3 AND sync_key > ?4",
	[SQL_CLIENT_ID_PUT] = ("INSERT INTO client_ids (device_id, collection_id, client_id, item_id, sync_key, modseq) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
			       "ON CONFLICT (device_id, collection_id, client_id) DO UPDATE SET item_id = ?4, sync_key = ?5, modseq = ?6"),
	[SQL_CLIENT_ID_FORGET] = "DELETE FROM client_ids WHERE device_id = ?1 AND collection_id = ?2 AND sync_key < ?3",
	[SQL_SENT_FIND] = "SELECT state, started FROM sent_messages WHERE user_id = ?1 AND send_key = ?2",
	[SQL_SENT_CLAIM] = ("INSERT INTO sent_messages (user_id, send_key, state, started) VALUES (?1, ?2, 0, ?3) "
			    "ON CONFLICT (user_id, send_key) DO UPDATE SET state = 0, started = ?3"),
	[SQL_SENT_DONE] = "UPDATE sent_messages SET state = 1 WHERE user_id = ?1 AND send_key = ?2",
	[SQL_SENT_DROP] = "DELETE FROM sent_messages WHERE user_id = ?1 AND send_key = ?2 AND state = 0",
	[SQL_SENT_PRUNE] = "DELETE FROM sent_messages WHERE user_id = ?1 AND started < ?2",
	/* Meeting messages easd sends for the user count as theirs. */
	[SQL_SENT_COUNT] = ("SELECT (SELECT count(*) FROM sent_messages WHERE user_id = ?1 AND started >= ?2) + "
			    "(SELECT count(*) FROM invitations WHERE user_id = ?1 AND created >= ?2 AND state IN (0, 1, 5))"),
	[SQL_MEETING_GET] = "SELECT sequence, dtstamp FROM meeting_updates WHERE user_id = ?1 AND uid = ?2 AND recurrence_id = ?3",
	[SQL_INVITATION_SEQUENCE] = "SELECT coalesce(max(sequence) + 1, 0) FROM invitations WHERE user_id = ?1 AND uid = ?2",
	[SQL_INVITATION_BY_DEVICE] = ("SELECT recipients FROM invitations WHERE user_id = ?1 AND uid = ?2 AND state = 2 "
				      "AND created >= ?3"),
	[SQL_INVITATION_PENDING] = "SELECT id, recipients FROM invitations WHERE user_id = ?1 AND uid = ?2 AND state = 0 AND (?3 = '' OR method = ?3)",
	/* What is no longer to be sent needs neither its message nor its envelope. */
	[SQL_INVITATION_DROP] = "UPDATE invitations SET state = 3, message = x'', recipients = '' WHERE id = ?1 AND state = 0",
	[SQL_INVITATION_ADD] = ("INSERT INTO invitations (user_id, uid, method, sequence, state, created, due, attempts, sender, "
				"recipients, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?10)"),
	[SQL_INVITATION_ANNOUNCED] = "SELECT count(*) FROM invitations WHERE user_id = ?1 AND uid = ?2 AND state IN (1, 2, 5)",
	[SQL_INVITATION_DUE] = ("SELECT id, user_id, uid, method, sequence, due, attempts, sender, recipients, message "
				"FROM invitations WHERE state IN (0, 5) AND due <= ?1 ORDER BY due LIMIT 1"),
	[SQL_INVITATION_CLAIM] = "UPDATE invitations SET state = 5, attempts = attempts + 1, due = ?2 WHERE id = ?1 AND state IN (0, 5)",
	[SQL_INVITATION_FINISH] = ("UPDATE invitations SET state = ?2, due = ?3, message = CASE WHEN ?2 = 0 THEN message ELSE x'' END, "
				   "recipients = CASE WHEN ?2 = 0 THEN recipients ELSE '' END WHERE id = ?1 AND state = 5"),
	[SQL_MEETING_PUT] = ("INSERT INTO meeting_updates (user_id, uid, recurrence_id, sequence, dtstamp) VALUES (?1, ?2, ?3, ?4, ?5) "
			     "ON CONFLICT (user_id, uid, recurrence_id) DO UPDATE SET sequence = ?4, dtstamp = ?5"),
};

int store_fail(struct store_session *session, const char *what)
{
	snprintf(session->error, sizeof(session->error), "%s: %s", what, sqlite3_errmsg(session->db));
	int code = sqlite3_errcode(session->db);
	if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
		atomic_fetch_add_explicit(&session->store->busy, 1, memory_order_relaxed);
		return STORE_BUSY;
	}
	if (code == SQLITE_CONSTRAINT)
		return STORE_EXISTS;
	return STORE_ERROR;
}

sqlite3_stmt *store_statement(struct store_session *session, enum statement_id id)
{
	sqlite3_stmt *stmt = session->statements[id];
	if (stmt == NULL) {
		if (sqlite3_prepare_v3(session->db, statement_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
				       &stmt, NULL) != SQLITE_OK) {
			/* The SQL is ours: failing to prepare it is a bug. */
			fprintf(stderr, "store: cannot prepare '%s': %s\n", statement_sql[id],
				sqlite3_errmsg(session->db));
			abort();
		}
		session->statements[id] = stmt;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return stmt;
}

int store_run(struct store_session *session, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return store_fail(session, what);
	return STORE_OK;
}

int store_run_one(struct store_session *session, sqlite3_stmt *stmt, const char *what)
{
	int status = store_run(session, stmt, what);
	if (status == STORE_OK && sqlite3_changes(session->db) == 0)
		return STORE_NOT_FOUND;
	return status;
}

int store_row_done(struct store_session *session, sqlite3_stmt *stmt, int rc, const char *what)
{
	sqlite3_reset(stmt);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	return rc == SQLITE_DONE ? STORE_NOT_FOUND : store_fail(session, what);
}

int store_query_int64(struct store_session *session, sqlite3_stmt *stmt, const char *what,
		      int64_t *value_out)
{
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*value_out = sqlite3_column_int64(stmt, 0);
	return store_row_done(session, stmt, rc, what);
}

const char *store_column_text(struct arena *arena, sqlite3_stmt *stmt, int column)
{
	const unsigned char *text = sqlite3_column_text(stmt, column);
	int len = sqlite3_column_bytes(stmt, column);
	return arena_strndup(arena, text != NULL ? (const char *)text : "", (size_t)len);
}

static int open_connection(struct store *store, const char *path, sqlite3 **db_out, char *error, size_t error_len)
{
	sqlite3 *db;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		snprintf(error, error_len, "%s: %s", path, db != NULL ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_handler(db, store_busy_wait, store);
	static const char pragmas[] = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
				      "PRAGMA foreign_keys = ON;";
	char *message = NULL;
	if (sqlite3_exec(db, pragmas, NULL, NULL, &message) != SQLITE_OK) {
		snprintf(error, error_len, "%s: %s", path, message != NULL ? message : "pragma failed");
		sqlite3_free(message);
		sqlite3_close(db);
		return -1;
	}
	*db_out = db;
	return 0;
}

int store_open(const char *data_dir, unsigned max_sessions, struct store **store_out,
	       char *error, size_t error_len)
{
	if (mkdir(data_dir, 0750) < 0 && errno != EEXIST) {
		snprintf(error, error_len, "%s: %s", data_dir, strerror(errno));
		return -1;
	}
	struct store *store = calloc(1, sizeof(*store));
	if (store == NULL)
		abort();
	size_t n = strlen(data_dir) + sizeof("/" STORE_DATABASE_NAME);
	store->path = malloc(n);
	if (store->path == NULL)
		abort();
	snprintf(store->path, n, "%s/" STORE_DATABASE_NAME, data_dir);
	store->max_sessions = max_sessions != 0 ? max_sessions : STORE_DEFAULT_SESSIONS;
	pthread_mutex_init(&store->lock, NULL);
	store_device_locks_init(store);

	sqlite3 *db = NULL;
	if (open_connection(store, store->path, &db, error, error_len) < 0) {
		store_close(&store);
		return -1;
	}
	int migrated = store_schema_migrate(db, &store->schema_version, error, error_len);
	sqlite3_close(db);
	if (migrated < 0) {
		store_close(&store);
		return -1;
	}
	*store_out = store;
	return 0;
}

static void session_close(struct store_session *session)
{
	for (int i = 0; i < SQL_COUNT_; i++)
		sqlite3_finalize(session->statements[i]);
	sqlite3_close(session->db);
	free(session->changes);
	free(session);
}

void store_close(struct store **store_ptr)
{
	struct store *store = *store_ptr;
	if (store == NULL)
		return;
	while (store->free_sessions != NULL) {
		struct store_session *session = store->free_sessions;
		store->free_sessions = session->next_free;
		session_close(session);
	}
	pthread_mutex_destroy(&store->lock);
	store_device_locks_cleanup(store);
	free(store->path);
	free(store);
	*store_ptr = NULL;
}

int store_schema_version(struct store *store)
{
	return store->schema_version;
}

struct store_session *store_session_acquire(struct store *store)
{
	pthread_mutex_lock(&store->lock);
	struct store_session *session = store->free_sessions;
	if (session != NULL) {
		store->free_sessions = session->next_free;
		store->idle_sessions--;
		pthread_mutex_unlock(&store->lock);
		session->error[0] = '\0'; /* what went wrong is the request's that had it */
		return session;
	}
	if (store->open_sessions >= store->max_sessions) {
		pthread_mutex_unlock(&store->lock);
		return NULL;
	}
	store->open_sessions++;
	pthread_mutex_unlock(&store->lock);

	session = calloc(1, sizeof(*session));
	if (session == NULL)
		abort();
	session->store = store;
	char error[256];
	if (open_connection(store, store->path, &session->db, error, sizeof(error)) < 0) {
		fprintf(stderr, "store: %s\n", error);
		free(session);
		pthread_mutex_lock(&store->lock);
		store->open_sessions--;
		pthread_mutex_unlock(&store->lock);
		return NULL;
	}
	/* Its waits counted for the request that holds it (store_session_take_wait_ms). */
	sqlite3_busy_handler(session->db, store_session_busy_wait, session);
	return session;
}

void store_session_release(struct store_session **session_ptr)
{
	struct store_session *session = *session_ptr;
	if (session == NULL)
		return;
	if (session->in_transaction)
		store_rollback(session);
	store_content_close_blob(session);
	store_device_unlock(session);
	struct store *store = session->store;
	session->waited_ms = 0;
	pthread_mutex_lock(&store->lock);
	session->next_free = store->free_sessions;
	store->free_sessions = session;
	store->idle_sessions++;
	pthread_mutex_unlock(&store->lock);
	*session_ptr = NULL;
}

void store_stats(struct store *store, struct store_stats *out)
{
	pthread_mutex_lock(&store->lock);
	out->sessions_open = store->open_sessions;
	out->sessions_in_use = store->open_sessions - store->idle_sessions;
	out->sessions_max = store->max_sessions;
	pthread_mutex_unlock(&store->lock);
	out->busy = atomic_load_explicit(&store->busy, memory_order_relaxed);
	out->waits = atomic_load_explicit(&store->waits, memory_order_relaxed);
	out->wait_ms = atomic_load_explicit(&store->wait_ms, memory_order_relaxed);
}

const char *store_session_error(const struct store_session *session)
{
	return session->error;
}

void store_set_change_listener(struct store *store, store_change_fn *listener, void *context)
{
	store->listener = listener;
	store->listener_context = context;
}

int store_begin_read(struct store_session *session)
{
	store_content_close_blob(session);
	int status = store_run(session, store_statement(session, SQL_BEGIN_READ), "begin read");
	if (status == STORE_OK) {
		session->in_transaction = true;
		session->change_count = 0;
		session->changes_overflowed = false;
	}
	return status;
}

int store_begin(struct store_session *session)
{
	store_content_close_blob(session);
	int status = store_run(session, store_statement(session, SQL_BEGIN), "begin");
	if (status == STORE_OK) {
		session->in_transaction = true;
		session->writing = true;
		session->change_count = 0;
		session->changes_overflowed = false;
	}
	return status;
}

void store_note_change(struct store_session *session, int64_t user_id, int64_t folder_id)
{
	for (unsigned i = 0; i < session->change_count; i++)
		if (session->changes[i].user_id == user_id && session->changes[i].folder_id == folder_id)
			return;
	if (session->change_count == STORE_MAX_PENDING_CHANGES) {
		session->changes_overflowed = true;
		return;
	}
	if (session->change_count == session->change_capacity) {
		session->change_capacity = session->change_capacity == 0 ? 16 : session->change_capacity * 2;
		session->changes = realloc(session->changes, session->change_capacity * sizeof(*session->changes));
		if (session->changes == NULL)
			abort();
	}
	session->changes[session->change_count++] = (struct change){ user_id, folder_id };
}

int store_commit(struct store_session *session)
{
	store_content_close_blob(session);
	int status = store_run(session, store_statement(session, SQL_COMMIT), "commit");
	if (status != STORE_OK) {
		store_rollback(session);
		return status;
	}
	session->in_transaction = false;
	struct store *store = session->store;
	if (session->writing) {
		session->writing = false;
		store_write_ended(store);
	}
	if (store->listener == NULL)
		return STORE_OK;
	/* More changes than we track: every user may have changed. */
	if (session->changes_overflowed) {
		store->listener(store->listener_context, -1, -1);
		return STORE_OK;
	}
	for (unsigned i = 0; i < session->change_count; i++)
		store->listener(store->listener_context, session->changes[i].user_id, session->changes[i].folder_id);
	return STORE_OK;
}

void store_rollback(struct store_session *session)
{
	if (!session->in_transaction)
		return;
	store_content_close_blob(session);
	store_run(session, store_statement(session, SQL_ROLLBACK), "rollback");
	session->in_transaction = false;
	session->change_count = 0;
	if (session->writing) {
		session->writing = false;
		store_write_ended(session->store);
	}
}

int store_in_transaction(struct store_session *session, int (*fn)(struct store_session *, void *),
			  void *context)
{
	if (session->in_transaction)
		return fn(session, context);
	int status = store_begin(session);
	if (status != STORE_OK)
		return status;
	status = fn(session, context);
	if (status != STORE_OK) {
		store_rollback(session);
		return status;
	}
	return store_commit(session);
}

