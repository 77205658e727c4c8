/*
 * sync_private.h: what the Sync engine's files share: the request model
 * (sync_request.c reads the WBXML into it), the per-collection result
 * (sync.c runs the request, sync_apply.c applies the client's commands,
 * sync_collect.c picks what goes out) and the settings kept between
 * requests (sync_settings.c). GetItemEstimate counts with it too.
 */
#ifndef EAS_SYNC_PRIVATE_H
#define EAS_SYNC_PRIVATE_H

#include "eas/eas_private.h"
#include "guard/limits.h"
#include "pim/pim.h"

/* MS-ASCMD 2.2.3.199: WindowSize is 1 to 512, 100 when absent. */
#define SYNC_DEFAULT_WINDOW 100
#define SYNC_MAX_WINDOW 512

enum sync_command_kind {
	SYNC_ADD,
	SYNC_CHANGE,
	SYNC_DELETE,
	SYNC_FETCH,
};

/* One client command of a collection's Commands. */
struct sync_command {
	enum sync_command_kind kind;
	struct slice server_id;
	struct slice client_id;     /* Add */
	struct slice instance_id;   /* [16.0+] Change, Delete: one occurrence of a series (airsyncbase:InstanceId) */
	bool has_data;              /* Add, Change: ApplicationData was sent */
	/* Where it is in the request: read once the folder's class is known (sync_apply.c). */
	struct wbxml_mark data;
};

/* Sync status values of a collection (MS-ASCMD 2.2.3.177.17). */
enum sync_status {
	SYNC_STATUS_SUCCESS = 1,
	SYNC_STATUS_INVALID_SYNC_KEY = 3,
	SYNC_STATUS_PROTOCOL_ERROR = 4,
	SYNC_STATUS_SERVER_ERROR = 5,
	SYNC_STATUS_CONVERSION_ERROR = 6,
	SYNC_STATUS_CONFLICT = 7,
	SYNC_STATUS_NOT_FOUND = 8,
	SYNC_STATUS_HIERARCHY_CHANGED = 12,
	SYNC_STATUS_EMPTY_REQUEST = 13,
	SYNC_STATUS_INVALID_WAIT = 14,
	SYNC_STATUS_TOO_MANY_COLLECTIONS = 15,
	SYNC_STATUS_RETRY = 16,
};

/* Conflict (MS-ASCMD 2.2.3.34): who wins when both sides changed an item. */
enum sync_conflict {
	SYNC_CLIENT_WINS = 0,
	SYNC_SERVER_WINS = 1,
};

/*
 * What a collection asks for besides its commands. The Options part
 * (filter, conflict, body options) is sticky: kept per device and
 * collection and used when a request carries no Options. All of it is
 * kept for the collections of the cached request (empty and Partial Sync).
 */
struct sync_settings {
	unsigned window_size;       /* 0: not given */
	bool deletes_as_moves;
	bool get_changes;
	bool get_changes_given;
	uint8_t filter_type;        /* FilterType as asked (0: all) */
	uint8_t conflict;           /* enum sync_conflict */
	struct pim_options options;
	/* Supported (MS-ASCMD 2.2.3.179): read with SyncKey 0 only, then kept for the folder. */
	struct pim_supported supported;
};

struct sync_collection {
	struct slice sync_key;
	struct slice collection_id;
	bool options_given;
	bool supported_given;       /* the request carried Supported */
	bool from_cache;            /* not in the request: taken from the cached one */
	struct sync_settings settings;
	struct sync_command *commands;
	unsigned command_count;
	unsigned command_capacity;
};

struct sync_request {
	struct sync_collection *collections;
	unsigned collection_count;
	unsigned collection_capacity;
	unsigned window_size;       /* [14.0+] for the whole response; 0: not given */
	bool partial;
	/* Long poll (MS-ASCMD 2.2.3.198 Wait, minutes, 12.1+; 2.2.3.88.2
	   HeartbeatInterval, seconds, 14.0+), as given: at most one of them. */
	bool has_wait, has_heartbeat;
	uint64_t wait_minutes, heartbeat_seconds;
	unsigned wait_seconds;      /* what the request waits, once checked; 0: answers at once */
};

/* What the server sends in a collection's Commands. */
enum sync_send_kind {
	SEND_ADD,
	SEND_CHANGE,
	SEND_DELETE,
	SEND_SOFT_DELETE,           /* left the filter window; the device drops it, the server keeps it */
};

struct sync_outgoing {
	enum sync_send_kind kind;
	struct store_item item;
};

/*
 * A set of positive ids (modseqs, item ids) in the request's arena,
 * hashed: a bulk request of thousands of changes looks each one up many
 * times. slots[i] == 0 is a free slot.
 */
struct sync_id_set {
	int64_t *slots;
	unsigned count;
	unsigned capacity;          /* a power of two, or 0 */
};

/* How often each hash came: an open-addressing table in the request's arena, like sync_id_set. */
struct sync_id_counts {
	int64_t *keys;              /* 0: a free slot */
	unsigned *counts;
	unsigned used;
	unsigned capacity;          /* a power of two, or 0 */
};

/* A client command's answer, when there is one (failures, Fetch, Add). */
struct sync_response {
	const struct sync_command *command;
	int status;
	int64_t item_id;            /* Fetch and Add: the item */
};

struct sync_context;

/* What one collection of the request comes to. */
struct sync_result {
	struct sync_context *ctx;
	struct sync_collection *collection;
	int status;
	const char *reason;
	struct store_folder folder;
	const struct pim_class *class; /* the folder's */
	uint64_t client_key;        /* the key the client sent */
	uint64_t sync_key;          /* the key to answer */
	bool key_kept;              /* nothing moved: the client's key stays */
	uint64_t since;             /* the client's cursor */
	struct store_cutoff wanted; /* the filter window's oldest item now */
	struct store_cutoff cutoff; /* the device's window: the state's, then where this response leaves it */
	bool more_available;
	struct sync_response *responses;
	unsigned response_count;
	const char *item_reason;    /* the log's word for the first item that failed, NULL if none */
	struct sync_id_set echoes;  /* modseqs of the client's own changes */
	struct sync_id_set own_items; /* items the client's Adds made: never sent back as an Add */
	struct sync_id_counts client_ids; /* how often each ClientId came in this request's Adds */
	struct sync_outgoing *outgoing;
	unsigned outgoing_count;
	unsigned outgoing_capacity;
	unsigned window;
	uint64_t cursor;            /* the changes up to here are on the device after this response */
};

/* ---- a meeting's organizer changed it (sync_invitations.c) ---- */

struct sync_result;
/* Whether a change in this collection may send meeting messages (Calendar, a 16.x device, [smtp] invitations). */
bool sync_invitations_wanted(const struct sync_context *ctx, const struct sync_result *result);
/* The item as stored before a Change or Delete, when it may matter (else empty), in arena. */
int sync_invitations_before(struct sync_context *ctx, const struct sync_result *result, struct arena *arena,
			    int64_t item_id, struct slice *before_out);
/* Schedules what attendees are to be told of the change from before to after (either empty), in the open transaction. */
int sync_invitations_schedule(struct sync_context *ctx, const struct sync_result *result, struct arena *arena,
			      struct slice before, struct slice after);

struct sync_context {
	struct eas_request *request;
	struct sync_request sync;
	struct sync_result *results;
	unsigned budget;            /* [14.0+] Sync-level WindowSize left */
	uint64_t bytes_left;        /* of LIMIT_SYNC_RESPONSE_BYTES */
	bool resumed;               /* a parked request going on: the cached request stays as it is */
	bool quiet;                 /* nothing to say: the empty response, or a wait */
	bool deferring;             /* no client commands: writes are queued (sync_writes.c) */
	struct sync_write *writes;  /* the queue, in order */
	struct sync_write **writes_tail;
};

/* ---- sync_writes.c: the device's own rows, written at once or queued (see there) ---- */

int sync_write_state_advance(struct sync_context *ctx, int64_t folder_id, uint64_t key, uint64_t modseq,
			     const struct store_cutoff *cutoff);
int sync_write_state_put(struct sync_context *ctx, int64_t folder_id, const struct store_sync_state *state);
int sync_write_client_id_forget(struct sync_context *ctx, int64_t folder_id, uint64_t below_key);
int sync_write_suppress_forget(struct sync_context *ctx, int64_t folder_id, uint64_t upto);
int sync_write_suppress_add(struct sync_context *ctx, int64_t folder_id, uint64_t modseq);
int sync_write_settings(struct sync_context *ctx, int64_t folder_id, const char *text);
int sync_write_cache(struct sync_context *ctx, const char *text);
/* Makes the queued writes in one write transaction (nothing when none were queued). Returns a store status. */
int sync_writes_flush(struct sync_context *ctx);

/* ---- sync.c ---- */

/*
 * Runs the request in ctx (one store transaction) and writes the
 * response; ctx->quiet when it is the empty response. empty: the request
 * had no body (the cached one stands for it).
 */
void sync_run(struct sync_context *ctx, bool empty);
/* A collection at that key with its stored settings, added to ctx->sync; NULL past the limit. */
struct sync_collection *sync_add_collection(struct sync_context *ctx, int64_t id, uint64_t key);
/* Answers <Sync><Status>status</Status></Sync>. */
void sync_answer_status(struct eas_request *request, int status, const char *reason);

/* ---- sync_wait.c: Sync with Wait or HeartbeatInterval (a long poll) ---- */

/*
 * Checks the request's Wait or HeartbeatInterval and sets
 * ctx->sync.wait_seconds; out of range it answers Status 14 with Limit
 * and returns -1. A request that waits ends the device's parked one.
 */
int sync_wait_check(struct sync_context *ctx);
/*
 * After sync_run: a quiet request that waits parks instead of answering
 * the empty response, on its collections at the keys the device holds,
 * until deadline_ms (0: its wait from now). generation: taken before
 * sync_run.
 */
void sync_wait_park(struct sync_context *ctx, uint64_t generation, int64_t deadline_ms);


/*
 * Reads the request body. Returns 0, or a Sync status for the whole
 * request (protocol error, too many collections) with *reason_out set.
 */
int sync_request_parse(struct eas_request *request, struct sync_request *sync_out,
		       const char **reason_out);
/* A new collection with the default settings at the end of sync, or NULL past LIMIT_SYNC_COLLECTIONS. */
struct sync_collection *sync_collection_add(struct eas_request *request, struct sync_request *sync);

/* ---- sync_apply.c: the client's commands ---- */

/* Applies the collection's commands in order; failures become per-item responses. */
void sync_apply_commands(struct sync_context *ctx, struct sync_result *result);
/* A change the client made (this request, or MoveItems before): never sent back to it. */
void sync_id_set_add(struct arena *arena, struct sync_id_set *set, int64_t id);
bool sync_id_set_has(const struct sync_id_set *set, int64_t id);
void sync_add_echo(struct sync_result *result, uint64_t modseq);
bool sync_is_echo(const struct sync_result *result, uint64_t modseq);
/* An item the client's Add made (its answer may have been lost): the device has it. */
bool sync_is_own_item(const struct sync_result *result, int64_t item_id);

/* ---- sync_collect.c: what the server sends ---- */

/*
 * Fills result->outgoing: first what the filter window's move brings
 * (SoftDeletes when it shrank, Adds when it widened), then the changes in
 * (since, until], at most the window and the byte budget; sets cursor,
 * cutoff and more_available.
 */
int sync_collect(struct sync_context *ctx, struct sync_result *result, uint64_t until);
/*
 * What the next Sync from state would send under filter_type, counted
 * (GetItemEstimate): the window's move and the changes inside the window.
 * Echoes and tombstones of items the device never had count too: an
 * estimate may be high, never low.
 */
int sync_estimate(struct eas_request *request, const struct store_folder *folder,
		  const struct store_sync_state *state, uint8_t filter_type, uint64_t *count_out);

/*
 * Whether the next Sync from state would send the device something among
 * the changes after its cursor (its own changes through MoveItems aside,
 * the filter window's move over time not counted): what wakes a Ping.
 * adds_only: only items new to the device count (MS-ASCMD 3.1.5.8 read
 * strictly). The walk stops at the first such change.
 */
int sync_pending_change(struct eas_request *request, int64_t folder_id, const struct store_sync_state *state,
			bool adds_only, bool *pending_out);

/* ---- sync_settings.c: settings and the cached request as text in the store ---- */

/* The defaults of a collection that says nothing (DeletesAsMoves 1, server wins, all items). */
void sync_settings_defaults(struct sync_settings *settings, unsigned protocol_version);
/* Settings as one line of text ("" never: at least the version tag), in arena. */
const char *sync_settings_encode(struct arena *arena, const struct sync_settings *settings);
/* Reads what sync_settings_encode wrote over *settings. Returns 0, or -1 (then *settings is unchanged). */
int sync_settings_decode(const char *text, struct sync_settings *settings);
/*
 * The oldest item the filter lets through at time now (FilterType,
 * MS-ASCMD 2.2.3.68.2) in a folder of the class; 0 and values the class
 * does not define give the whole folder.
 */
struct store_cutoff sync_filter_cutoff(const struct pim_class *class, uint8_t filter_type, int64_t now);

/* The cached request (MS-ASCMD 2.2.1.21.1): the Sync-level WindowSize, the wait and the collections. */
struct sync_cache {
	unsigned window_size;       /* 0: not given */
	unsigned wait_seconds;      /* 0: none */
	int64_t ids[LIMIT_SYNC_COLLECTIONS];
	unsigned count;
};
const char *sync_cache_encode(struct arena *arena, const struct sync_cache *cache);
/* Returns 0, or -1 for text it did not write. */
int sync_cache_decode(const char *text, struct sync_cache *cache);

#endif
