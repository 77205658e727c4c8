/*
 * metrics: what easd counts for Prometheus, and the small listener that
 * serves it ([metrics] listen): GET /metrics in the text exposition format
 * 0.0.4, GET /health.
 *
 * Owns: the process's counters (static, C11 atomics: the request path
 * pays a few relaxed atomic adds and takes no lock) and the listener's
 * libmicrohttpd daemon. Label values come from fixed tables (the EAS
 * commands, the guard's decisions) or from numbers easd itself set (HTTP
 * and EAS statuses), never from what a device sent, so the series stay
 * few. Must not: change what it observes; the push hub's and the store's
 * state is read only when scraped.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "push/push.h"
#include "store/store.h"
#include "util/util.h"

/* ---- counting (any thread, never blocks) ---- */

/*
 * One request ended (answered, or its client gone), as its access-log
 * line says: command (NULL or a name that is not an EAS command counts
 * as "other"), statuses (eas_status 0: none), duration. A parked Ping
 * counts once, when it ends.
 */
void metrics_request_done(const char *command, unsigned http_status, int eas_status, uint64_t milliseconds);
/* A request that used the store ended, having waited this long for its locks (store_session_take_wait_ms). */
void metrics_store_waited(uint64_t milliseconds);
/* guard_auth_check's result and reason: one decision. */
void metrics_auth_checked(int guard_result, const char *reason);

enum metrics_lmtp_result {
	METRICS_LMTP_DELIVERED, /* 250: committed to the Inbox */
	METRICS_LMTP_REFUSED,   /* 5xx: no such user, not a local domain, too big */
	METRICS_LMTP_FAILED,    /* 4xx: the store failed, the MTA tries again */
	METRICS_LMTP_RESULTS,
};
/* One recipient's outcome. */
void metrics_lmtp_delivery(enum metrics_lmtp_result result);
/* A TLS handshake on the EAS port failed (libmicrohttpd said so). */
void metrics_tls_handshake_failed(void);

/* ---- the exposition ---- */

/* What a scrape reads from the rest of easd, beside the counters. */
struct metrics_gauges {
	struct push_counts push; /* push_hub_counts */
	struct store_stats store; /* store_stats */
	unsigned max_parked;     /* [push] max_parked; 0: no limit */
};

/*
 * Appends every metric in the text format 0.0.4 to out (gauges NULL: all
 * zero). Returns 0, or -1 when out's ceiling was reached.
 */
int metrics_format(struct buf *out, const struct metrics_gauges *gauges);
/* Appends value escaped for a label ("\\", "\"", "\n"). Returns 0 or -1 as buf_append. */
int metrics_escape_label(struct buf *out, const char *value);
/* Sets every counter to zero. Tests only: not safe while other threads count. */
void metrics_reset(void);

/* ---- the listener ---- */

struct metrics_server;

struct metrics_server_settings {
	const struct easd_config *config; /* metrics_listen */
	struct store *store;              /* /health takes and gives back a session */
	struct push_hub *push;            /* the parked requests and wakes */
	struct guard_usage *usage;        /* /guard: each user's caps and budgets (NULL: not served) */
	struct config_live *live;         /* the [guard] limits in force */
};

struct guard_usage;
struct config_live;
struct MHD_Connection;
/* GET /guard's JSON: the users holding something or refused, busiest first. Returns 0 or -1 (out full). */
int metrics_throttle_json(struct guard_usage *usage, struct config_live *live, struct buf *out);
/* Whether the connection comes from this host (127.0.0.0/8, ::1, ::ffff:127.x). */
bool metrics_peer_is_loopback(struct MHD_Connection *connection);

/* Binds config->metrics_listen (not empty) and serves. Returns 0, or -1 with a message in error. */
int metrics_server_start(const struct metrics_server_settings *settings, struct metrics_server **server_out,
			 char *error, size_t error_len);
/* The port actually bound (useful with port 0). */
uint16_t metrics_server_port(const struct metrics_server *server);
/* Stops at once (a scrape in flight is cut); sets *server to NULL. NULL does nothing. */
void metrics_server_stop(struct metrics_server **server);

#endif
