/*
 * server.c: the metrics listener (see metrics.h), a libmicrohttpd daemon
 * of its own beside the EAS one: plain HTTP, one internal thread, a few
 * connections. A scraper on another port and thread can neither take a
 * connection or a thread from devices nor be refused when devices take
 * them all, which is when the numbers matter most.
 *
 * Must not: answer anything but GET /metrics, GET /health, and the guard's
 * GET /guard and POST /guard/clear (throttle.c) for easctl throttle.
 */
#include "metrics/metrics.h"
#include "guard/usage.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prometheus and a health checker, each with a spare: more wait in the backlog. */
#define METRICS_CONNECTIONS 8
/* Seconds an idle connection is kept: a scrape is one request. */
#define METRICS_IDLE_SECONDS 10
/* The exposition's ceiling; with every table full it is about 200 KB. */
#define METRICS_OUTPUT_BYTES (1024 * 1024)

struct metrics_server {
	struct metrics_server_settings settings;
	struct MHD_Daemon *daemon;
	uint16_t port;
	bool starting;         /* MHD's first message goes into the start-up error */
	char start_error[256];
};

static void on_mhd_message(void *cls, const char *format, va_list ap)
{
	struct metrics_server *server = cls;
	char message[256];
	vsnprintf(message, sizeof(message), format, ap);
	message[strcspn(message, "\n")] = '\0';
	if (server->starting) {
		if (server->start_error[0] == '\0')
			snprintf(server->start_error, sizeof(server->start_error), "%s", message);
		return;
	}
	fprintf(stderr, "easd: metrics: %s\n", message);
}

static enum MHD_Result answer(struct MHD_Connection *connection, unsigned status, const char *type, void *body,
			      size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *response = MHD_create_response_from_buffer(len, body, mode);
	if (response == NULL)
		return MHD_NO;
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result result = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return result;
}

static enum MHD_Result answer_text(struct MHD_Connection *connection, unsigned status, const char *text)
{
	return answer(connection, status, "text/plain; charset=utf-8", (void *)text, strlen(text), MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result answer_metrics(struct metrics_server *server, struct MHD_Connection *connection)
{
	struct metrics_gauges gauges = { .max_parked = server->settings.config->max_parked };
	push_hub_counts(server->settings.push, &gauges.push);
	store_stats(server->settings.store, &gauges.store);
	struct buf out;
	buf_init(&out, METRICS_OUTPUT_BYTES);
	if (metrics_format(&out, &gauges) < 0) {
		buf_cleanup(&out);
		return answer_text(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics: output too large\n");
	}
	/* The buffer passes to MHD, which frees it after sending. */
	return answer(connection, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len,
		      MHD_RESPMEM_MUST_FREE);
}

/* The store answers when a session (a database connection) can be had: what every request needs first. */
static enum MHD_Result answer_health(struct metrics_server *server, struct MHD_Connection *connection)
{
	struct store_session *session = store_session_acquire(server->settings.store);
	if (session == NULL)
		return answer_text(connection, MHD_HTTP_SERVICE_UNAVAILABLE,
				   "store: no session (every connection in use, or the database cannot be opened)\n");
	store_session_release(&session);
	return answer_text(connection, MHD_HTTP_OK, "ok\n");
}

static enum MHD_Result answer_guard(struct metrics_server *server, struct MHD_Connection *connection, bool get)
{
	if (server->settings.usage == NULL)
		return answer_text(connection, MHD_HTTP_NOT_FOUND, "metrics: no guard here\n");
	if (!get) {
		if (!metrics_peer_is_loopback(connection))
			return answer_text(connection, MHD_HTTP_FORBIDDEN, "metrics: /guard/clear from this host only\n");
		const char *user = MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "user");
		guard_usage_clear(server->settings.usage, user != NULL ? strtoll(user, NULL, 10) : 0);
		return answer_text(connection, MHD_HTTP_OK, "cleared\n");
	}
	struct buf out;
	buf_init(&out, METRICS_OUTPUT_BYTES);
	if (metrics_throttle_json(server->settings.usage, server->settings.live, &out) < 0) {
		buf_cleanup(&out);
		return answer_text(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics: output too large\n");
	}
	return answer(connection, MHD_HTTP_OK, "application/json", out.data, out.len, MHD_RESPMEM_MUST_FREE);
}

/* MHD calls this twice for a request without a body: once with the headers, then to answer. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	static int seen;
	(void)version;
	(void)upload_data;
	if (*con_cls == NULL) {
		*con_cls = &seen;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	if (strcmp(url, "/guard") == 0 && get)
		return answer_guard(cls, connection, true);
	if (strcmp(url, "/guard/clear") == 0 && strcmp(method, MHD_HTTP_METHOD_POST) == 0)
		return answer_guard(cls, connection, false);
	bool metrics = strcmp(url, "/metrics") == 0, health = strcmp(url, "/health") == 0;
	if (!metrics && !health)
		return answer_text(connection, MHD_HTTP_NOT_FOUND, "metrics: GET /metrics or /health\n");
	if (!get)
		return answer_text(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "metrics: GET only\n");
	return metrics ? answer_metrics(cls, connection) : answer_health(cls, connection);
}

int metrics_server_start(const struct metrics_server_settings *settings, struct metrics_server **server_out,
			 char *error, size_t error_len)
{
	struct sockaddr_storage address;
	const char *listen = settings->config->metrics_listen;
	if (config_listen_address(listen, &address, error, error_len) < 0)
		return -1;
	struct metrics_server *server = calloc(1, sizeof(*server));
	if (server == NULL)
		abort();
	server->settings = *settings;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
	if (address.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	server->starting = true;
	/* The logger first, so a busy port is reported through it (as in http/server.c). */
	server->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, server,
					  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_message, server,
					  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address,
					  MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNECTIONS,
					  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_IDLE_SECONDS, MHD_OPTION_END);
	server->starting = false;
	if (server->daemon == NULL) {
		snprintf(error, error_len, "cannot listen on %s: %s", listen,
			 server->start_error[0] != '\0' ? server->start_error : "unknown error");
		free(server);
		return -1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
	server->port = info != NULL ? info->port : 0;
	*server_out = server;
	return 0;
}

uint16_t metrics_server_port(const struct metrics_server *server)
{
	return server->port;
}

void metrics_server_stop(struct metrics_server **server_ptr)
{
	struct metrics_server *server = *server_ptr;
	if (server == NULL)
		return;
	MHD_stop_daemon(server->daemon);
	free(server);
	*server_ptr = NULL;
}
