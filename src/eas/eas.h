/*
 * eas: the EAS commands. http/ hands over an authenticated request with
 * its body; eas/ answers with an HTTP status, an EAS status and a body.
 * Only this folder knows EAS Status values. Must not: parse MIME or
 * iCalendar itself, or talk HTTP.
 */
#ifndef EAS_H
#define EAS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"
#include "guard/repeats.h"
#include "push/push.h"
#include "store/store.h"
#include "util/util.h"

/* What every request shares; owned by the daemon. */
struct eas_server {
	struct store *store;
	struct push_hub *push;
	struct guard_repeats *repeats;
	struct guard_autoblock *autoblock;
};

#define EAS_MAX_RESPONSE_HEADERS 6

struct eas_header {
	const char *name;
	const char *value;
};

/*
 * A response body produced while it is sent, for bodies too large to hold
 * (an attachment's bytes). http/ asks for them in order, a window at a
 * time, from the connection's thread, and never after the request ended;
 * it sends them without gzip.
 */
struct eas_stream {
	uint64_t length;  /* bytes of the whole body */
	/*
	 * Copies the next bytes of the body, at most max, into dst; position
	 * is how many were given before. drained: the connection has room for
	 * more at once, so the next call follows immediately and what the
	 * stream holds between calls may be kept until then; otherwise the
	 * client is behind and the next call may be minutes away. Returns
	 * how many (> 0), or -1 when the body cannot be finished
	 * (request->reason says why; the connection is then cut).
	 */
	ssize_t (*read)(void *context, uint64_t position, uint8_t *dst, size_t max, bool drained);
	void *context;    /* in the request's arena */
};

/*
 * A command that waits for changes (Ping, Sync with Wait) leaves this
 * instead of a response: http/ parks the request with push/ (copying this
 * out of the arena, which it frees) and, when the wait ends, gives it back
 * to eas_resume in a new request. Everything the command needs then is
 * here; nothing else of the request survives the wait.
 */
struct eas_park {
	int64_t deadline_ms;  /* CLOCK_MONOTONIC */
	uint64_t generation;  /* push_hub_generation, taken before the last look for changes */
	unsigned folder_count;
	int64_t *folders;     /* watched; 0 is the folder hierarchy */
	uint64_t *sync_keys;  /* Sync with Wait: the key of each folder; NULL for Ping */
	uint32_t window_size; /* Sync with Wait: the request's WindowSize, 0 if none */
	uint32_t wait_seconds; /* Sync with Wait: the wait asked for */
	/* A delayed answer (guard/repeats.h: a device repeating a request it
	   cannot get right): given when the wait ends. 0: none. */
	int answer_status;
	uint64_t answer_value;
};

struct eas_request {
	struct arena *arena;
	struct eas_server *server;
	const struct easd_config *config; /* in force when the request came (config/live.h) */
	int64_t now; /* Unix seconds, taken once */

	/* From the request line and headers (validated by http/). */
	const char *command;       /* "FolderSync" */
	unsigned protocol_version; /* 121, 140, 141, 160, 161 */
	const char *device_id;
	const char *device_type;
	const char *user_agent;
	bool has_policy_key;
	uint32_t policy_key;
	const char *content_type;  /* NULL when absent */
	bool accept_multipart;     /* MS-ASAcceptMultiPart: T, or query Options bit 0x02 (ItemOperations) */
	struct slice body;
	/* SendMail, SmartReply and SmartForward in 12.1 say these in the query ("" when absent). */
	const char *collection_id, *item_id, *long_id, *occurrence;
	bool save_in_sent;

	uint64_t sequence;         /* push_hub_sequence at arrival: which of a device's requests is newer */

	/* Authenticated by guard/ before dispatch. */
	struct store_user user;
	struct store_session *session;

	/* Filled by dispatch and the command. */
	struct store_device device;
	unsigned http_status;
	int eas_status;            /* 0: none */
	const char *reason;        /* snake_case word for the log, NULL when fine */
	struct buf response;       /* WBXML body; empty: no body */
	struct eas_stream *stream; /* set: the body, streamed; response is then empty */
	const char *response_type; /* NULL: application/vnd.ms-sync.wbxml when non-empty */
	struct eas_header headers[EAS_MAX_RESPONSE_HEADERS];
	unsigned header_count;
	struct eas_park *park;     /* set: no response yet, the request waits (see struct eas_park) */
	/* What the request asked of the store, for the access log: the classes of its
	   collections ("Email,Contacts"; "" none) and the items its client commands add,
	   change and delete (whatever became of each). */
	char classes[48];
	unsigned items_added, items_changed, items_deleted;
	/* Device control's refusal for the access log's x-guard ("blocked", "quarantined"); NULL: none. */
	const char *access_refusal;
	/* Collections the request asked at SyncKey 0 (0: the hierarchy), for autoblock. */
	int64_t sync_key_zero[8];
	unsigned sync_key_zero_count;
	enum push_outcome wake;    /* in eas_resume: why the wait ended */
};

/* Runs the command named in request->command and fills the response. */
void eas_dispatch(struct eas_request *request);

/*
 * Goes on with a parked request whose wait ended (request->wake says why;
 * never PUSH_GONE: http/ closes those itself). request carries what http/
 * kept (user and device ids, protocol version) and a store session; the
 * command answers, or parks again by setting request->park.
 */
void eas_resume(struct eas_request *request, const struct eas_park *park);

/* Whether name is an EAS command (served or not): others are refused before their body is read. */
bool eas_command_known(const char *name);
/* Whether easd serves this protocol version (121 for "12.1", ...). */
bool eas_version_supported(unsigned version);
/* "12.1" -> 121; 0 when it is not a version string. */
unsigned eas_version_parse(const char *text);
/* MS-ASProtocolVersions and MS-ASProtocolCommands header values. */
const char *eas_protocol_versions(void);
const char *eas_protocol_commands(void);
/* MS-Server-ActiveSync header value. */
#define EAS_SERVER_VERSION "15.1"

/* Names class among the request's classes (once). */
void eas_note_class(struct eas_request *request, const char *class);
/* Adds a response header (name and value must outlive the request). */
void eas_add_header(struct eas_request *request, const char *name, const char *value);

#endif
