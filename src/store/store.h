/*
 * store: everything easd keeps: users, devices, folders, items with their
 * modseqs and tombstones, sync states, ClientId maps.
 *
 * This header is the whole interface; the SQLite implementation is in
 * store_sqlite.c and a PostgreSQL one must fit behind the same functions
 * without touching src/eas/. Must not: format WBXML or know HTTP.
 *
 * Threads: a struct store is shared; each request takes a struct
 * store_session (one database connection) and gives it back. A session is
 * used by one thread at a time. Strings returned in structs live in the
 * arena the caller passes.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

enum store_status {
	STORE_OK = 0,
	STORE_NOT_FOUND = -1,
	STORE_EXISTS = -2,
	STORE_BUSY = -3,   /* the database stayed locked past the busy timeout */
	STORE_ERROR = -4,  /* anything else; the log line says what */
	STORE_LIMIT = -5,  /* no session free (per-store cap) */
};

/* EAS folder types (MS-ASCMD 2.2.3.186.3). */
enum store_folder_type {
	STORE_FOLDER_GENERIC = 1,
	STORE_FOLDER_INBOX = 2,
	STORE_FOLDER_DRAFTS = 3,
	STORE_FOLDER_DELETED = 4,
	STORE_FOLDER_SENT = 5,
	STORE_FOLDER_OUTBOX = 6,
	STORE_FOLDER_TASKS = 7,
	STORE_FOLDER_CALENDAR = 8,
	STORE_FOLDER_CONTACTS = 9,
	STORE_FOLDER_NOTES = 10,
	STORE_FOLDER_JOURNAL = 11,
	STORE_FOLDER_USER_MAIL = 12,
	STORE_FOLDER_USER_CALENDAR = 13,
	STORE_FOLDER_USER_CONTACTS = 14,
	STORE_FOLDER_USER_TASKS = 15,
	STORE_FOLDER_USER_JOURNAL = 16,
	STORE_FOLDER_USER_NOTES = 17,
	STORE_FOLDER_UNKNOWN = 18,
	STORE_FOLDER_RECIPIENT_CACHE = 19,
};

struct store;
struct store_session;

/* The database's file in the data directory (beside it SQLite's -wal and -shm). */
#define STORE_DATABASE_NAME "easd.sqlite"

/*
 * Opens (creating if needed) the database in data_dir and applies the
 * schema migrations. max_sessions caps open connections (0: 64). Returns
 * 0, or -1 with a message in error.
 */
int store_open(const char *data_dir, unsigned max_sessions, struct store **store_out,
	       char *error, size_t error_len);
/* Closes every connection; no session may be in use. */
void store_close(struct store **store);
/* Schema version after migrations (for easctl and tests). */
int store_schema_version(struct store *store);

/* ---- backup and restore (store_backup.c) ---- */

/* What a backup holds. */
struct store_backup_info {
	uint64_t size;        /* bytes of the file */
	int schema_version;   /* its PRAGMA user_version */
	int latest_version;   /* this release's schema version */
	int64_t users;
};
/*
 * Copies the live database of data_dir (opened read-only, as it is: no
 * migration) into path while others go on writing it: one
 * read snapshot through SQLite's online backup API, so the copy is
 * consistent and no writer waits. Written as path.tmp, synced, then renamed
 * to path (an existing path is replaced: the caller decides whether it
 * may be), so path is never half written. The copy is one self-contained
 * file (no -wal). Returns 0 with *info_out, or -1 with a message in error
 * (path.tmp removed).
 */
int store_backup(const char *data_dir, const char *path, struct store_backup_info *info_out,
		 char *error, size_t error_len);
/*
 * Whether the file at path can be restored by this release: an SQLite
 * database that passes PRAGMA integrity_check, with the users table, whose
 * schema version is not newer than this release's (an older one is
 * migrated by the next store_open). Opens it read-only. Returns 0 with
 * *info_out, or -1 with the reason in error.
 */
int store_backup_check(const char *path, struct store_backup_info *info_out, char *error, size_t error_len);
/*
 * Replaces the database in data_dir by a copy of the backup at path, which
 * the caller checked with store_backup_check: copied with the backup API
 * into a temporary file beside the database, synced, given the replaced
 * file's owner and mode, then renamed over it after its stale -wal and
 * -shm are removed. Nothing may have the database open (easd stopped: the
 * caller makes sure). Returns 0, or -1 with a message (the database as it
 * was).
 */
int store_restore(const char *data_dir, const char *path, char *error, size_t error_len);

/* A session, or NULL when max_sessions are all in use (STORE_LIMIT). */
struct store_session *store_session_acquire(struct store *store);
/* Gives the session back (rolling back an open transaction); sets *session to NULL. */
void store_session_release(struct store_session **session);
/* The last error of the session since it was acquired, for the log ("" none): SQLite's own words. */
const char *store_session_error(const struct store_session *session);
/*
 * Milliseconds the session waited for a lock (SQLite's write lock, a
 * device's lock) since it was acquired or since the last call, which
 * starts the count again. 0 for NULL.
 */
uint64_t store_session_take_wait_ms(struct store_session *session);

/* What the metrics show of the store. */
struct store_stats {
	uint64_t busy;         /* operations that gave up: a lock still held after STORE_BUSY_TIMEOUT_MS */
	uint64_t waits;        /* lock waits, and their time in all */
	uint64_t wait_ms;
	unsigned sessions_open, sessions_in_use, sessions_max;
};
void store_stats(struct store *store, struct store_stats *out);

/* One transaction per request: begin (write intent), commit or rollback. */
int store_begin(struct store_session *session);
/*
 * A read-only transaction: every read until store_commit (or rollback)
 * sees the database as of its first read, and no writer waits for it
 * (SQLite WAL; PostgreSQL: REPEATABLE READ READ ONLY). No write may be
 * made in it.
 */
int store_begin_read(struct store_session *session);
int store_commit(struct store_session *session);
void store_rollback(struct store_session *session);

/*
 * Called after each commit that changed a folder's content or the
 * hierarchy, once per (user, folder) it changed (folder 0: the
 * hierarchy), on the committing thread. A commit that changed more than
 * the store tracks calls it once with user -1 (every user, every folder):
 * a change is never lost. The one place changes are published; push hooks
 * in here.
 */
typedef void store_change_fn(void *context, int64_t user_id, int64_t folder_id);
void store_set_change_listener(struct store *store, store_change_fn *listener, void *context);

/*
 * Serialises the requests of one device that change its sync states (a
 * retry racing its original, two Syncs of one collection): the session
 * holds the device's lock until store_device_unlock or until it is given
 * back. Waits at most the store's busy timeout, then STORE_BUSY. Other
 * devices are not held up. SQLite: a lock of this process (easd is the
 * only process that syncs); PostgreSQL: an advisory lock.
 */
int store_device_lock(struct store_session *session, int64_t device);
void store_device_unlock(struct store_session *session);

/* ---- users ---- */

struct store_user {
	int64_t id;
	const char *name;
	const char *password_hash;      /* crypt(3) string */
	uint64_t credential_version;    /* grows with each password change */
	bool sync_disabled;             /* the administrator switched the user's sync off */
	const char *disabled_classes;   /* classes switched off for the user: "Contacts,Notes"; "" none */
};

/* Adds a user and its default folders, in one transaction. STORE_EXISTS if taken. */
int store_user_add(struct store_session *session, const char *name, const char *password_hash,
		   int64_t *id_out);
int store_user_set_password(struct store_session *session, const char *name, const char *password_hash);
/* Deletes the user and everything it owns. */
int store_user_delete(struct store_session *session, const char *name);
/* Case-insensitive lookup. STORE_NOT_FOUND if absent. */
int store_user_find(struct store_session *session, struct arena *arena, const char *name,
		    struct store_user *user_out);
/* Switches a user's sync off or on, and the classes switched off ("" none). STORE_NOT_FOUND: no user. */
int store_user_set_sync(struct store_session *session, const char *name, bool disabled, const char *classes);
/* Calls fn for every user, by name. */
int store_user_list(struct store_session *session, struct arena *arena,
		    void (*fn)(void *context, const struct store_user *user), void *context);

/* ---- devices ---- */

/* What may a device do: the administrator's or autoblock's decision, else easd.conf's rules. */
enum store_access {
	STORE_ACCESS_RULES,      /* no decision: [access] rules decide */
	STORE_ACCESS_ALLOW,
	STORE_ACCESS_BLOCK,
	STORE_ACCESS_QUARANTINE,
};

struct store_device_access {
	enum store_access access;
	const char *by;          /* "admin", "autoblock:sync_key_zero"; "" */
	const char *reason;      /* for the administrator; "" */
	int64_t since, until;    /* Unix seconds; until 0: until lifted */
};

/* A remote wipe (MS-ASPROV 3.2.5.1.2) and how far it went. */
enum store_wipe {
	STORE_WIPE_NONE,
	STORE_WIPE_DEVICE,       /* the whole device */
	STORE_WIPE_ACCOUNT,      /* the account's data only (16.1 AccountOnlyRemoteWipe) */
};
enum store_wipe_state {
	STORE_WIPE_REQUESTED,    /* the device was not told yet */
	STORE_WIPE_SENT,         /* Provision told it; no acknowledgement yet */
	STORE_WIPE_DONE,         /* it acknowledged with success */
	STORE_WIPE_FAILED,       /* it acknowledged with failure */
};

struct store_device_wipe {
	enum store_wipe kind;
	enum store_wipe_state state;
	int64_t requested, answered; /* Unix seconds: asked by the administrator; last told or acknowledged */
};

/* The words the store and easctl use ("", "allow", "block", "quarantine"; "", "device", "account"; ...). */
const char *store_access_name(enum store_access access);
int store_access_parse(const char *name, enum store_access *access_out);
const char *store_wipe_name(enum store_wipe kind);
const char *store_wipe_state_name(enum store_wipe_state state);

struct store_device {
	int64_t id;                 /* the store's key, not the EAS DeviceId */
	int64_t user_id;
	const char *device_id;
	const char *device_type;
	const char *user_agent;
	int64_t first_seen, last_seen; /* Unix seconds */
	uint32_t policy_key;        /* final key acknowledged; 0: none */
	const char *policy_version; /* the policy that key belongs to */
	uint32_t pending_key;       /* temporary key of phase one; 0: none */
	const char *pending_version;
	/* Said by the device (Provision, Settings); "" when it did not. */
	const char *model, *os, *friendly_name;
	struct store_device_access access;
	struct store_device_wipe wipe;
	int64_t trace_until;        /* its requests and answers are traced until then; 0: not */
	/* Classes whose folders its last hierarchy answer left out ("Contacts,Notes"), and the one before. */
	const char *hidden_classes, *hidden_previous;
};

/* Finds or creates the device of (user, device_id) and records this request. */
int store_device_touch(struct store_session *session, struct arena *arena, int64_t user_id,
		       const char *device_id, const char *device_type, const char *user_agent,
		       int64_t now, struct store_device *device_out);
/* Provision phase one: a temporary key for the policy version. */
int store_device_set_pending_policy(struct store_session *session, int64_t device, uint32_t key,
				    const char *version);
/* Provision phase two: the final key. The temporary key stays valid until
   the next phase one, so a repeated acknowledgement succeeds too. */
int store_device_set_policy(struct store_session *session, int64_t device, uint32_t key,
			    const char *version);

/*
 * Finds the device of (user, device_id) without recording a request;
 * create: makes one never seen yet (first_seen 0), so an administrator
 * can decide about a device before it connects.
 */
int store_device_find(struct store_session *session, struct arena *arena, int64_t user_id, const char *device_id,
		      bool create, struct store_device *device_out);
/* Records a decision (STORE_ACCESS_RULES clears it). */
int store_device_set_access(struct store_session *session, int64_t device, const struct store_device_access *access);
/* Requests a wipe (kind NONE cancels it), or records how far it went. */
int store_device_set_wipe(struct store_session *session, int64_t device, const struct store_device_wipe *wipe);
int store_device_set_trace(struct store_session *session, int64_t device, int64_t until);
/* Records the classes the device's hierarchy answer left out, and those of the answer before it. */
int store_device_set_hidden(struct store_session *session, int64_t device, const char *hidden, const char *previous);
/* Forgets a device: its sync states, decisions and wipe go with it. */
int store_device_forget(struct store_session *session, int64_t device);
/* How many of the user's devices came before this one and are not blocked (the device cap's count). */
int store_device_count_before(struct store_session *session, int64_t user_id, int64_t device, uint64_t *count_out);
/* Calls fn for the devices of user_id (0: every user's), by user name then last seen; user_name is the owner's. */
int store_device_list(struct store_session *session, struct arena *arena, int64_t user_id,
		      void (*fn)(void *context, const char *user_name, const struct store_device *device),
		      void *context);

/* What a device says about itself (Settings/Provision DeviceInformation). */
struct store_device_information {
	const char *model, *imei, *friendly_name, *os, *os_language, *phone_number, *mobile_operator;
};
int store_device_set_information(struct store_session *session, int64_t device,
				 const struct store_device_information *information);

/* ---- folders and the hierarchy ---- */

struct store_folder {
	int64_t id;          /* the folder's ServerId is this number in decimal */
	int64_t parent_id;   /* 0: top level */
	const char *name;
	int type;            /* enum store_folder_type */
	bool deleted;        /* a tombstone */
	bool added;          /* in a change list: created after the modseq asked for */
};

/* The user's hierarchy modseq: grows with every folder change. */
int store_hierarchy_modseq(struct store_session *session, int64_t user_id, uint64_t *modseq_out);
/*
 * Folder changes in (since, until]: folders created in that range come
 * with added set, changed ones without, deleted ones (created before it)
 * with deleted set. since 0 lists every live folder as added.
 */
int store_folder_changes(struct store_session *session, struct arena *arena, int64_t user_id,
			 uint64_t since, uint64_t until,
			 void (*fn)(void *context, const struct store_folder *folder), void *context);
int store_folder_create(struct store_session *session, int64_t user_id, int64_t parent_id,
			const char *name, int type, int64_t *id_out);
int store_folder_rename(struct store_session *session, int64_t user_id, int64_t folder_id,
			const char *name);
/* Renames and/or moves a live folder (FolderUpdate). STORE_NOT_FOUND if it is gone. */
int store_folder_update(struct store_session *session, int64_t user_id, int64_t folder_id,
			int64_t parent_id, const char *name);
/* Deletes a live folder and every folder below it (tombstones, one modseq). */
int store_folder_delete(struct store_session *session, int64_t user_id, int64_t folder_id);
/* A live folder of the user by id. STORE_NOT_FOUND if absent or deleted. */
int store_folder_get(struct store_session *session, struct arena *arena, int64_t user_id,
		     int64_t folder_id, struct store_folder *folder_out);
/* The live folder named name (case-insensitive) under parent_id, or STORE_NOT_FOUND. */
int store_folder_find_name(struct store_session *session, int64_t user_id, int64_t parent_id,
			   const char *name, int64_t *id_out);

/* The user's folder of a default type (Inbox, ...). */
int store_folder_find_type(struct store_session *session, int64_t user_id, int type, int64_t *id_out);

/* ---- sync states: per device and collection (0: the folder hierarchy) ---- */

/*
 * The oldest item of a filter window (FilterType): items from (received,
 * item_id) on, in that order, are on the device; (0, 0): every item. The
 * id breaks ties between items received in the same second, so a window
 * can move item by item.
 */
struct store_cutoff {
	int64_t received;
	int64_t item_id;
};

struct store_sync_state {
	uint64_t sync_key;   /* 0: none yet */
	uint64_t modseq;
	struct store_cutoff cutoff;
	uint64_t previous_key;
	uint64_t previous_modseq;
	struct store_cutoff previous_cutoff;
};

/* STORE_NOT_FOUND when the device never synced the collection. */
int store_sync_state_get(struct store_session *session, int64_t device, int64_t collection_id,
			 struct store_sync_state *state_out);
/* Records a new key; the current one becomes the previous one. cutoff NULL: no filter. */
int store_sync_state_advance(struct store_session *session, int64_t device, int64_t collection_id,
			     uint64_t sync_key, uint64_t modseq, const struct store_cutoff *cutoff);
/* Sets current and previous as given (answering a repeated previous key). */
int store_sync_state_put(struct store_session *session, int64_t device, int64_t collection_id,
			 const struct store_sync_state *state);
/*
 * The collection's sticky settings (Sync Options and the like, kept across
 * requests): opaque text the caller formats, "" when none were stored.
 * STORE_NOT_FOUND when the device has no state for the collection.
 */
int store_sync_settings_get(struct store_session *session, struct arena *arena, int64_t device,
			    int64_t collection_id, const char **settings_out);
int store_sync_settings_put(struct store_session *session, int64_t device, int64_t collection_id,
			    const char *settings);
/*
 * The device's cached request: its last Sync (MS-ASCMD 2.2.1.21.1: what an
 * empty or Partial request stands for) or its last Ping's
 * HeartbeatInterval and folders (MS-ASCMD 2.2.1.13: what a Ping that
 * leaves them out stands for). Opaque text; STORE_NOT_FOUND when none.
 */
enum store_request_cache {
	STORE_CACHE_SYNC,
	STORE_CACHE_PING,
};
int store_request_cache_get(struct store_session *session, struct arena *arena, int64_t device,
			    enum store_request_cache which, const char **cache_out);
int store_request_cache_put(struct store_session *session, int64_t device, enum store_request_cache which,
			    const char *cache);

/*
 * Changes a device made outside Sync (MoveItems) that its next Sync must
 * pass without sending back. Listed in (since, until] for a folder;
 * forgotten once the device's cursor is past them.
 */
int store_sync_suppress_add(struct store_session *session, int64_t device, int64_t folder_id, uint64_t modseq);
int store_sync_suppress_list(struct store_session *session, int64_t device, int64_t folder_id,
			     uint64_t since, uint64_t until, void (*fn)(void *context, uint64_t modseq),
			     void *context);
int store_sync_suppress_forget(struct store_session *session, int64_t device, int64_t folder_id, uint64_t upto);

/*
 * ClientId maps (MS-ASCMD 2.2.3.28.2): the item a device's Add created,
 * by the ClientId it gave, so an Add repeated after a lost answer finds
 * its item instead of creating a second one; modseq is the item's as the
 * device had it then. Each map records the key of the answer that carried
 * it; find looks only at answers after the key the device sent (those it
 * did not get: a ClientId is unique only within a request), forget drops
 * those older than a key.
 */
struct store_client_id {
	int64_t item_id;
	uint64_t modseq;
};
int store_client_id_find(struct store_session *session, int64_t device, int64_t collection_id,
			 const char *client_id, uint64_t after_key, struct store_client_id *map_out);
int store_client_id_put(struct store_session *session, int64_t device, int64_t collection_id,
			const char *client_id, const struct store_client_id *map, uint64_t sync_key);
int store_client_id_forget(struct store_session *session, int64_t device, int64_t collection_id,
			   uint64_t below_key);

/* ---- messages sent (SendMail, SmartReply, SmartForward) ---- */

/*
 * What store_send_claim found for a send key (a device's ClientId, or the
 * message's Message-ID): go ahead and send, the message was sent already,
 * or another attempt began less than stale_seconds ago and may still be
 * sending.
 */
enum store_send_claim {
	STORE_SEND_GO,
	STORE_SEND_ALREADY_SENT,
	STORE_SEND_IN_PROGRESS,
};
/*
 * In a transaction of its own: forgets the user's keys older than
 * keep_seconds, then claims key for an attempt starting now. A claim left
 * by an attempt that died (older than stale_seconds) is taken over: a
 * message is sent twice rather than lost.
 */
int store_send_claim(struct store_session *session, int64_t user_id, const char *key, int64_t now,
		     int64_t stale_seconds, int64_t keep_seconds, enum store_send_claim *claim_out);
/* Marks the claim sent, in the session's open transaction (with the Sent Items copy). */
int store_send_done(struct store_session *session, int64_t user_id, const char *key);
/* Gives the claim up (the message was not sent): a retry may send it. */
int store_send_abandon(struct store_session *session, int64_t user_id, const char *key);
/* Attempts the user started since (Unix seconds), and meeting messages easd scheduled for them: the sending rate. */
int store_send_count(struct store_session *session, int64_t user_id, int64_t since, unsigned *count_out);

/* ---- meeting updates (iTIP) applied to a user's calendar ---- */

/* Which update of a meeting (RFC 5546 2.1.5): SEQUENCE, then DTSTAMP. */
struct store_meeting_version {
	int64_t sequence, dtstamp;
};
/* The last update applied to the user's meeting uid (recurrence_id 0: the series). STORE_NOT_FOUND: none. */
int store_meeting_version_get(struct store_session *session, int64_t user_id, const char *uid, int64_t recurrence_id,
			      struct store_meeting_version *version_out);
/* Records an update as applied, in the session's open transaction. */
int store_meeting_version_put(struct store_session *session, int64_t user_id, const char *uid, int64_t recurrence_id,
			      const struct store_meeting_version *version);

/* ---- iTIP messages about meetings the user organizes (store_invitations.c) ---- */

enum store_invitation_state {
	STORE_INVITATION_PENDING = 0,   /* to be sent once due */
	STORE_INVITATION_SENT = 1,      /* sent by easd */
	STORE_INVITATION_BY_DEVICE = 2, /* the user's device sent it itself (SendMail) */
	STORE_INVITATION_DROPPED = 3,   /* a later message about the meeting says it all, or there was nothing to cancel */
	STORE_INVITATION_FAILED = 4,    /* the relay never took it */
	STORE_INVITATION_SENDING = 5,   /* claimed by the outbox until due (a lease): sent again after it if never finished */
};

struct store_invitation {
	int64_t id, user_id;
	const char *uid;
	const char *method;     /* "REQUEST" or "CANCEL" */
	int64_t sequence;
	int64_t due;            /* Unix seconds */
	unsigned attempts;
	const char *sender;     /* envelope sender */
	const char *recipients; /* envelope recipients, one per line */
	struct slice message;   /* the whole MIME message */
};

/* The SEQUENCE of the user's next message about meeting uid: one past every one recorded, 0 for the first. */
int store_invitation_next_sequence(struct store_session *session, int64_t user_id, const char *uid, int64_t *sequence_out);
/*
 * In the open transaction: schedules invitation (created now); a REQUEST
 * drops the meeting's pending REQUEST (this one says it all). When the
 * user's device sent a message about the meeting to all its recipients
 * itself since device_since, it is recorded as the device's instead
 * (*by_device_out), and easd sends nothing.
 */
int store_invitation_add(struct store_session *session, const struct store_invitation *invitation, int64_t now,
			 int64_t device_since, bool *by_device_out);
/* Drops the meeting's pending messages (all methods). */
int store_invitation_drop_pending(struct store_session *session, int64_t user_id, const char *uid);
/* Whether attendees heard of meeting uid at all (a message sent, or being sent, by easd or by a device). */
int store_invitation_announced(struct store_session *session, int64_t user_id, const char *uid, bool *announced_out);
/*
 * The user's device sent message (user_id, uid, method, sequence,
 * recipients; no message bytes) about a meeting itself, through SendMail:
 * easd's pending messages for the meeting whose recipients it reached are
 * dropped, and it is recorded (store_invitation_add's device_since).
 */
int store_invitation_device_sent(struct store_session *session, const struct store_invitation *message, int64_t now);
/* The message due first at now (pending, or claimed and never finished), strings in arena. STORE_NOT_FOUND: none. */
int store_invitation_next_due(struct store_session *session, struct arena *arena, int64_t now,
			      struct store_invitation *invitation_out);
/* Claims it for sending until lease_until (its attempts counted). STORE_NOT_FOUND: no longer to be sent. */
int store_invitation_claim(struct store_session *session, int64_t id, int64_t lease_until);
/* Records a claimed attempt's outcome: sent, failed, or pending again from due (a retry). */
int store_invitation_finish(struct store_session *session, int64_t id, enum store_invitation_state state, int64_t due);

/* ---- items (messages; later contacts, events, tasks, notes) ---- */

/* What the store keeps beside an item's content. */
struct store_item_meta {
	int64_t received;           /* mail: Unix seconds of delivery; other classes: the filter place */
	int64_t date;               /* Date header, 0 if none */
	const char *message_id;     /* without <>, "" if none */
	bool read;
	uint8_t flag_status;        /* 0 none, 1 complete, 2 active */
	const char *categories;     /* newline-separated; NULL: none */
};

/*
 * Stores an item (a message's original MIME, or another class's fields)
 * in the user's folder with a new modseq, in the session's open
 * transaction. The change is published at commit.
 */
int store_item_add(struct store_session *session, int64_t user_id, int64_t folder_id,
		   const uint8_t *mime, size_t len, const struct store_item_meta *meta,
		   int64_t *item_id_out);
/* Number of live items in a folder (tests and easctl). */
int store_folder_count(struct store_session *session, int64_t folder_id, uint64_t *count_out);
/* The folder's modseq: grows with every change to its items. */
int store_folder_modseq(struct store_session *session, int64_t folder_id, uint64_t *modseq_out);

struct store_item {
	int64_t id;
	int64_t folder_id;
	uint64_t modseq;            /* of the last change */
	uint64_t created_modseq;    /* of the change that put it in this folder */
	bool deleted;               /* a tombstone */
	int64_t received;
	int64_t date;
	uint64_t size;
	bool read;
	uint8_t flag_status;        /* 0 none, 1 complete, 2 active */
	const char *categories;     /* newline-separated */
	const char *message_id;
};

/*
 * Changes to the folder's items in (since, until], in modseq order, at most
 * limit of them (0: no limit): live items and tombstones. Content is not
 * loaded. fn may stop the walk by returning false.
 */
int store_item_changes(struct store_session *session, struct arena *arena, int64_t folder_id,
		       uint64_t since, uint64_t until, unsigned limit,
		       bool (*fn)(void *context, const struct store_item *item), void *context);
/* How many changes store_item_changes would list from cutoff on (GetItemEstimate). */
int store_item_count_changes(struct store_session *session, int64_t folder_id, uint64_t since,
			     uint64_t until, const struct store_cutoff *cutoff, uint64_t *count_out);

/*
 * A filter window moving over what a device had at modseq since: the items
 * it had (created by then, and live then) whose (received, id) lies in
 * [from, to).
 *   STORE_WINDOW_LEAVING: oldest first, tombstones of items deleted after
 *     since included (the window shrank: the device drops them);
 *   STORE_WINDOW_ENTERING: newest first, live items only (the window
 *     widened: the device gets them).
 * At most limit items (0: no limit); fn may stop the walk by returning false.
 */
enum store_window_walk {
	STORE_WINDOW_LEAVING,
	STORE_WINDOW_ENTERING,
};
int store_item_window(struct store_session *session, struct arena *arena, int64_t folder_id,
		      enum store_window_walk walk, uint64_t since, const struct store_cutoff *from,
		      const struct store_cutoff *to, unsigned limit,
		      bool (*fn)(void *context, const struct store_item *item), void *context);
/* How many items store_item_window would list. */
int store_item_count_window(struct store_session *session, int64_t folder_id, enum store_window_walk walk,
			    uint64_t since, const struct store_cutoff *from, const struct store_cutoff *to,
			    uint64_t *count_out);
/* The live item of the folder whose message_id (a message's Message-ID, an event's ClientUid) is that; STORE_NOT_FOUND if none. */
int store_item_find_id(struct store_session *session, int64_t folder_id, const char *message_id, int64_t *item_out);
/* One item (live or tombstone) of the folder. STORE_NOT_FOUND if it never was there. */
int store_item_get(struct store_session *session, struct arena *arena, int64_t folder_id,
		   int64_t item_id, struct store_item *item_out);
/*
 * The item's content (the message as stored) read by ranges, so a large
 * one is never copied whole: its size, and len bytes of it from offset
 * copied into dst. Neither loads the rest of the content. STORE_NOT_FOUND when the item is not a live
 * item of the folder (never was, deleted or moved away since);
 * STORE_ERROR when [offset, offset + len) is not inside the content.
 * Consecutive reads of one item on a session are cheap (SQLite keeps its
 * place in the content); until the session begins a transaction or is
 * given back, it reads the database as of the first of them.
 */
int store_item_content_size(struct store_session *session, int64_t folder_id, int64_t item_id,
			    uint64_t *size_out);
int store_item_content_read(struct store_session *session, int64_t folder_id, int64_t item_id,
			    uint64_t offset, void *dst, size_t len);
/*
 * Sets read, flag and categories of a live item. A change that sets what is
 * already there writes nothing (a repeated request does not churn modseqs).
 * *modseq_out gets the item's modseq after the call.
 */
int store_item_set_flags(struct store_session *session, int64_t user_id, int64_t folder_id,
			 int64_t item_id, bool read, uint8_t flag_status, const char *categories,
			 uint64_t *modseq_out);
/*
 * Replaces a live item's content and its filter place (a Change of a
 * contact, an event...), with a new modseq in *modseq_out.
 */
int store_item_set_content(struct store_session *session, int64_t user_id, int64_t folder_id, int64_t item_id,
			   const uint8_t *content, size_t len, int64_t received, uint64_t *modseq_out);
/* Deletes a live item (leaves a tombstone). *modseq_out: the tombstone's modseq. */
int store_item_delete(struct store_session *session, int64_t user_id, int64_t folder_id,
		      int64_t item_id, uint64_t *modseq_out);
/*
 * Moves a live item to another folder of the user: a tombstone in the
 * source (its modseq in *source_modseq_out), a new item with a new id and
 * the same content and flags in the destination (*dest_modseq_out).
 */
int store_item_move(struct store_session *session, int64_t user_id, int64_t folder_id,
		    int64_t item_id, int64_t to_folder_id, int64_t *new_id_out,
		    uint64_t *source_modseq_out, uint64_t *dest_modseq_out);

#endif
