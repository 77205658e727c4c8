/*
 * store_private.h: what the SQLite store's files share; nothing outside
 * src/store/ includes it.
 */
#ifndef STORE_PRIVATE_H
#define STORE_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>

#include "store/store.h"

/* (user, folder) changes one transaction publishes one by one; past this
   many, the commit says "everything changed" (user -1) instead of losing any. */
#define STORE_MAX_PENDING_CHANGES 4096
/* How long a lock (SQLite's, a device's) is waited for before STORE_BUSY. */
#define STORE_BUSY_TIMEOUT_MS 5000

enum statement_id {
	SQL_BEGIN,
	SQL_BEGIN_READ,
	SQL_COMMIT,
	SQL_ROLLBACK,
	SQL_USER_INSERT,
	SQL_USER_PASSWORD,
	SQL_USER_DELETE,
	SQL_USER_FIND,
	SQL_USER_LIST,
	SQL_USER_BUMP_HIERARCHY,
	SQL_USER_HIERARCHY,
	SQL_DEVICE_FIND,
	SQL_DEVICE_INSERT,
	SQL_DEVICE_SEEN,
	SQL_DEVICE_PENDING,
	SQL_DEVICE_POLICY,
	SQL_DEVICE_INFORMATION,
	SQL_DEVICE_ACCESS,
	SQL_DEVICE_WIPE,
	SQL_DEVICE_TRACE,
	SQL_DEVICE_HIDDEN,
	SQL_DEVICE_FORGET,
	SQL_DEVICE_COUNT_BEFORE,
	SQL_DEVICE_LIST,
	SQL_USER_SYNC,
	SQL_FOLDER_INSERT,
	SQL_FOLDER_CHANGES,
	SQL_FOLDER_RENAME,
	SQL_FOLDER_DELETE,
	SQL_FOLDER_UPDATE,
	SQL_FOLDER_GET,
	SQL_FOLDER_FIND_NAME,
	SQL_FOLDER_FIND_TYPE,
	SQL_FOLDER_BUMP,
	SQL_FOLDER_COUNT,
	SQL_STATE_GET,
	SQL_STATE_ADVANCE,
	SQL_STATE_PUT,
	SQL_ITEM_INSERT,
	SQL_FOLDER_MODSEQ,
	SQL_ITEM_CHANGES,
	SQL_ITEM_COUNT_CHANGES,
	SQL_ITEM_GET,
	SQL_ITEM_FIND_ID,
	SQL_ITEM_CONTENT_SIZE,
	SQL_ITEM_SET_FLAGS,
	SQL_ITEM_SET_CONTENT,
	SQL_ITEM_DELETE,
	SQL_ITEM_COPY,
	SQL_SUPPRESS_ADD,
	SQL_SUPPRESS_LIST,
	SQL_SUPPRESS_FORGET,
	SQL_SETTINGS_GET,
	SQL_SETTINGS_PUT,
	SQL_CACHE_GET,
	SQL_CACHE_PUT,
	SQL_PING_CACHE_GET,
	SQL_PING_CACHE_PUT,
	SQL_ITEM_LEAVING,
	SQL_ITEM_ENTERING,
	SQL_ITEM_COUNT_LEAVING,
	SQL_ITEM_COUNT_ENTERING,
	SQL_CLIENT_ID_FIND,
	SQL_CLIENT_ID_PUT,
	SQL_CLIENT_ID_FORGET,
	SQL_SENT_FIND,
	SQL_SENT_CLAIM,
	SQL_SENT_DONE,
	SQL_SENT_DROP,
	SQL_SENT_PRUNE,
	SQL_SENT_COUNT,
	SQL_MEETING_GET,
	SQL_MEETING_PUT,
	SQL_INVITATION_SEQUENCE,
	SQL_INVITATION_BY_DEVICE,
	SQL_INVITATION_PENDING,
	SQL_INVITATION_DROP,
	SQL_INVITATION_ADD,
	SQL_INVITATION_ANNOUNCED,
	SQL_INVITATION_DUE,
	SQL_INVITATION_CLAIM,
	SQL_INVITATION_FINISH,
	SQL_COUNT_
};

struct change {
	int64_t user_id;
	int64_t folder_id;
};

struct store_session {
	struct store *store;
	sqlite3 *db;
	sqlite3_stmt *statements[SQL_COUNT_];
	bool in_transaction;
	bool writing;           /* the transaction is a write one (store_begin) */
	struct change *changes; /* grows up to STORE_MAX_PENDING_CHANGES; freed with the session */
	unsigned change_count, change_capacity;
	bool changes_overflowed;
	char error[256];
	/* The last item content read by ranges, kept open for the next read
	   (store_content_close_blob says why and when it closes). */
	sqlite3_blob *blob;
	int64_t blob_item;
	int64_t locked_device;  /* store_device_lock held for it; 0: none */
	uint64_t waited_ms;     /* store_session_take_wait_ms */
	struct store_session *next_free;
};

struct store {
	char *path;
	unsigned max_sessions;
	unsigned open_sessions;
	struct store_session *free_sessions;
	pthread_mutex_t lock;
	store_change_fn *listener;
	void *listener_context;
	int schema_version;
	/* A write transaction ended (store_locks.c): what a connection waiting for SQLite's write lock waits on. */
	pthread_mutex_t writes_mutex;
	pthread_cond_t write_ended;
	/* store_device_lock (store_locks.c): the devices held, and a wait for any of them. */
	pthread_mutex_t device_locks_mutex;
	pthread_cond_t device_unlocked;
	struct store_device_lock_entry *device_locks;
	/* store_stats; counted by any thread */
	_Atomic uint64_t busy, waits, wait_ms;
	unsigned idle_sessions; /* in free_sessions, under lock */
};

/* Set up and torn down with the store (store_locks.c). */
void store_device_locks_init(struct store *store);
void store_device_locks_cleanup(struct store *store);
/*
 * SQLite's busy handler for the store's connections (store_locks.c): a
 * connection that finds the write lock taken waits for the end of a write
 * transaction of this process (store_write_ended), or 10 ms for another
 * process's, instead of sleeping ever longer, so writers follow each
 * other closely and none waits seconds behind a stream of short ones.
 */
int store_busy_wait(void *store, int count);
/* The same for a session's connection: the wait is counted for the session and the store. */
int store_session_busy_wait(void *session, int count);
/* ms more milliseconds waited for a lock (new_wait: a wait begun), for the session (may be NULL) and the store. */
void store_count_wait(struct store *store, struct store_session *session, bool new_wait, uint64_t ms);
void store_write_ended(struct store *store);

/* The statement, prepared once per session, reset and ready to bind. */
sqlite3_stmt *store_statement(struct store_session *session, enum statement_id id);
/* Steps a statement whose rows are not needed. Returns a store status. */
int store_run(struct store_session *session, sqlite3_stmt *stmt, const char *what);
/* store_run of a statement that changes one row (an update or delete by key): STORE_NOT_FOUND when none changed. */
int store_run_one(struct store_session *session, sqlite3_stmt *stmt, const char *what);
/*
 * Ends a one-row query once its row (if any) was read: resets stmt and
 * gives STORE_OK for a row, STORE_NOT_FOUND for none, else the failure.
 */
int store_row_done(struct store_session *session, sqlite3_stmt *stmt, int rc, const char *what);
/*
 * Steps a statement returning at most one row of one integer column.
 * STORE_OK with *value_out, STORE_NOT_FOUND without a row, or the failure.
 */
int store_query_int64(struct store_session *session, sqlite3_stmt *stmt, const char *what,
		      int64_t *value_out);
/* Records the failure in the session; returns the matching store status. */
int store_fail(struct store_session *session, const char *what);
/* A column's text copied into the arena ("" for NULL). */
const char *store_column_text(struct arena *arena, sqlite3_stmt *stmt, int column);
/* Remembers a change to publish after the commit. */
void store_note_change(struct store_session *session, int64_t user_id, int64_t folder_id);
/* Runs fn in a transaction of its own unless one is already open. */
int store_in_transaction(struct store_session *session, int (*fn)(struct store_session *, void *),
			 void *context);
/* Closes the session's open content blob, if any (before a transaction or giving the session back). */
void store_content_close_blob(struct store_session *session);
/* Creates the default folders of a new user (in the open transaction). */
int store_folders_create_defaults(struct store_session *session, int64_t user_id);

/* Applies the numbered migrations; sets *version_out. Returns 0 or -1. */
int store_schema_migrate(sqlite3 *db, int *version_out, char *error, size_t error_len);
/*
 * store_schema_migrate stopping at target (0 to store_schema_latest()):
 * what tests use to make the database an earlier release left. Returns 0
 * with *version_out = target, or -1 with a message in error (a database
 * past target is refused; a failed migration leaves the one before it).
 */
int store_schema_migrate_to(sqlite3 *db, int target, int *version_out, char *error, size_t error_len);
/* The version store_schema_migrate brings a database to: this release's. */
int store_schema_latest(void);

#endif
