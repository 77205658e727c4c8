/* http_private.h: what server.c, exchange.c, park.c and page.c share. */
#ifndef HTTP_PRIVATE_H
#define HTTP_PRIVATE_H

#include <microhttpd.h>
#include <stdbool.h>

#include "http/query.h"
#include "http/server.h"

struct http_server {
	struct http_server_settings settings;
	unsigned connections;  /* open, parked ones included (atomic) */
	unsigned parked;       /* of those, parked (atomic) */
	struct MHD_Daemon *daemon;
	uint16_t port;
	bool starting;         /* MHD messages are kept for the start-up error line */
	char start_error[256];
};

/* The log's status for a request whose client closed the connection before the answer (nginx's). */
#define HTTP_CLIENT_GONE 499

/* What MHD's per-request pointer points to: each struct starts with it. */
enum http_slot {
	HTTP_SLOT_EXCHANGE,
	HTTP_SLOT_PARKED,
};

/* One request from first header to log line; lives in its own arena. */
struct http_exchange {
	enum http_slot slot; /* HTTP_SLOT_EXCHANGE */
	struct arena *arena;
	struct http_server *server;
	const char *raw_uri;
	struct slice traced_response; /* a traced device's response body, kept for its trace (log/trace.h) */
	/* A guard refusal held back (http_tarpit): what to answer when it is given. */
	bool tarpit;
	unsigned tarpit_retry_after;
	const char *tarpit_throttle;
	bool answered; /* answered before its body was read: the rest is not read */
	int64_t started_ms;          /* wall clock, for the log's date and time */
	int64_t started_monotonic_ms; /* for the duration */
	bool headers_done;
	bool is_options;
	const char *client_address;
	const char *user_name;     /* as authenticated, or as claimed for the log */
	struct http_query query;
	bool want_gzip;
	struct buf body;
	struct eas_request request;
	struct MHD_Connection *connection; /* for a streamed body: the socket's state */
	uint64_t bytes_in;
	bool used_store;             /* held a store session: its lock waits go to the metrics */
	uint64_t store_wait_ms;
	uint64_t bytes_out;
	/* guard/usage.h: admitted as the user's request (counted until discarded) */
	bool admitted;
	bool holds_guard_session;    /* the store session is counted as the user's */
	uint64_t busy_ms;            /* its command ran this long (the time budget) */
	uint64_t bytes_charged;      /* of bytes_in, charged before a wait */
	const char *guard;           /* the guard's decision, for the log */
};

/* exchange.c: a new exchange (its arena, empty body and response). */
struct http_exchange *http_exchange_new(struct http_server *server);
/*
 * After the command ran (or resumed): gives the store session back, then
 * answers, or parks the request when the command left request.park.
 */
enum MHD_Result http_exchange_respond(struct http_exchange *x, struct MHD_Connection *connection, void **con_cls);
/* Writes the log line and frees the exchange. */
void http_exchange_free(struct http_exchange *x, enum MHD_RequestTerminationCode code);
/* Frees the exchange without a log line (its request goes on parked). */
void http_exchange_discard(struct http_exchange *x);
/*
 * A store session for the request, counted as its user's; NULL with the
 * answer queued (503) when the user holds too many or the store has none
 * left. *result is what to return to MHD then.
 */
struct store_session *http_exchange_acquire_session(struct http_exchange *x, struct MHD_Connection *connection,
						    enum MHD_Result *result);
/* Runs the command (eas_dispatch, or eas_resume with park), timing it for the user's budget. */
void http_exchange_run(struct http_exchange *x, const struct eas_park *park);
/* Gives the request's store session back (if it holds one), keeping the time it waited for locks. */
void http_exchange_release_session(struct http_exchange *x);
/* Sends an answer with no body (errors, OPTIONS) with the request's headers. */
enum MHD_Result http_answer_empty(struct http_exchange *x, struct MHD_Connection *connection, unsigned status,
				  const char *reason);

/* page.c: whether the method is a browser's (GET, HEAD), which gets the page on the EAS path. */
bool http_page_wanted(const char *method);
/* Answers 200 with the page that says what the EAS URL is for; no credentials, no store. */
enum MHD_Result http_answer_page(struct http_exchange *x, struct MHD_Connection *connection, const char *method);

/*
 * park.c: a parked request. The exchange's arena is freed; this small
 * record (one allocation) keeps what the log line and the command need
 * when the wait ends, and is what MHD's per-request pointer points to
 * while the connection is suspended.
 */
struct http_parked;
/* Parks x (the command set x->request.park): suspends the connection. */
enum MHD_Result http_park(struct http_exchange *x, struct MHD_Connection *connection, void **con_cls);
/* Parks a guard refusal for delay_ms before it is answered (park.c); -1: answer it now. */
int http_tarpit(struct http_exchange *x, struct MHD_Connection *connection, void **con_cls, unsigned delay_ms,
		enum MHD_Result *result);
/* The handler was called again for a parked request: its wait ended. */
enum MHD_Result http_parked_resume(struct http_server *server, struct MHD_Connection *connection, void **con_cls);
/* The connection of a parked request ended before its handler ran again (MHD saw the client's FIN first). */
void http_parked_end(struct http_parked *parked, enum MHD_RequestTerminationCode code);

/* MHD callbacks (exchange.c). */
void *http_exchange_begin(void *cls, const char *uri, struct MHD_Connection *connection);
enum MHD_Result http_exchange_handle(void *cls, struct MHD_Connection *connection, const char *url,
				     const char *method, const char *version, const char *upload_data,
				     size_t *upload_data_size, void **con_cls);
void http_exchange_end(void *cls, struct MHD_Connection *connection, void **con_cls,
		       enum MHD_RequestTerminationCode code);

#endif
