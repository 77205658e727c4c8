/*
 * server.h: easd's HTTP front end on libmicrohttpd (epoll, a thread pool).
 * Every request passes one place (http/exchange.c) that checks the method,
 * path, query, credentials, protocol version and body size, then hands an
 * eas_request to eas_dispatch. Must not: touch the store except through
 * guard/ and eas/, or know any command's body.
 */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "config/live.h"
#include "eas/eas.h"
#include "guard/auth.h"
#include "guard/usage.h"
#include "log/access.h"

struct http_server;

struct http_server_settings {
	const struct easd_config *config; /* at start: listener, threads, TLS; must outlive the server */
	struct config_live *live;         /* each request's own (config/live.h) */
	struct eas_server *eas;
	struct guard_auth *auth;
	struct guard_usage *usage;        /* per-user caps and budgets */
	struct access_log *log;
};

/* Binds and starts serving. Returns 0, or -1 with a message in error. */
int http_server_start(const struct http_server_settings *settings, struct http_server **server_out,
		      char *error, size_t error_len);
/* The port actually bound (useful with port 0). */
uint16_t http_server_port(const struct http_server *server);
/*
 * Reads config's tls_certificate and tls_key again (a renewed
 * certificate) and serves them from the next handshake on; connections
 * already open keep the certificate they got. Only for a server started
 * with TLS, from one thread (easd's signal loop). Returns 0 with
 * "reloaded the TLS certificate PATH (expires DATE)" in report, or -1 with
 * the reason in report (a file missing or not PEM, a key that does not
 * belong to the certificate), and the certificate in use stays.
 */
int http_server_reload_tls(struct http_server *server, const struct easd_config *config, char *report,
			   size_t report_len);
/*
 * Stops accepting, lets requests in flight finish (up to grace_seconds),
 * then stops. Sets *server to NULL.
 */
void http_server_stop(struct http_server **server, unsigned grace_seconds);

#endif
