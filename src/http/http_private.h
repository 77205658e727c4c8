/* http_private.h: what server.c and exchange.c share. */
#ifndef HTTP_PRIVATE_H
#define HTTP_PRIVATE_H

#include <microhttpd.h>
#include <stdbool.h>

#include "http/query.h"
#include "http/server.h"

struct http_server {
	struct http_server_settings settings;
	struct MHD_Daemon *daemon;
	uint16_t port;
	char *tls_certificate; /* PEM text, kept while the daemon runs */
	char *tls_key;
	bool starting;         /* MHD messages are kept for the start-up error line */
	char start_error[256];
};

/* One request from first header to log line; lives in its own arena. */
struct http_exchange {
	struct arena *arena;
	struct http_server *server;
	const char *raw_uri;
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
	uint64_t bytes_out;
};

/* MHD callbacks (exchange.c). */
void *http_exchange_begin(void *cls, const char *uri, struct MHD_Connection *connection);
enum MHD_Result http_exchange_handle(void *cls, struct MHD_Connection *connection, const char *url,
				     const char *method, const char *version, const char *upload_data,
				     size_t *upload_data_size, void **con_cls);
void http_exchange_end(void *cls, struct MHD_Connection *connection, void **con_cls,
		       enum MHD_RequestTerminationCode code);

#endif
