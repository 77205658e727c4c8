/*
 * server.c: starting and stopping libmicrohttpd (see server.h). The
 * per-request work is in exchange.c.
 */
#include "http/http_private.h"
#include "metrics/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/*
 * libmicrohttpd's own messages. During start-up the first one becomes part
 * of easd's single error line; afterwards each is one line on stderr.
 */
static void on_mhd_message(void *cls, const char *format, va_list ap)
{
	struct http_server *server = cls;
	char message[256];
	vsnprintf(message, sizeof(message), format, ap);
	message[strcspn(message, "\n")] = '\0';
	if (server->starting) {
		if (server->start_error[0] == '\0')
			snprintf(server->start_error, sizeof(server->start_error), "%s", message);
		return;
	}
	/* What MHD says when a parked request's client has gone (park.c answers MHD_NO
	   then): the access log has it as client_gone, Android does it all day. */
	if (strstr(message, "Application reported internal error") != NULL)
		return;
	/* MHD 0.9.75 says this, and only this, whenever gnutls_handshake fails (connection_https.c);
	   it has no callback for it. */
	if (strstr(message, "received handshake message out of context") != NULL)
		metrics_tls_handshake_failed();
	fprintf(stderr, "easd: http: %s\n", message);
}

static char *read_file(const char *path, char *error, size_t error_len)
{
	struct buf content;
	buf_init(&content, 1024 * 1024);
	FILE *in = fopen(path, "rb");
	if (in == NULL) {
		snprintf(error, error_len, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char chunk[4096];
	size_t n;
	int status = 0;
	while (status == 0 && (n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		status = buf_append(&content, chunk, n);
	fclose(in);
	if (status < 0 || buf_append_byte(&content, 0) < 0) {
		snprintf(error, error_len, "%s: larger than 1 MB", path);
		buf_cleanup(&content);
		return NULL;
	}
	return (char *)content.data;
}

static int listen_address(const char *listen, struct sockaddr_storage *address, char *error,
			  size_t error_len)
{
	char host[128];
	uint16_t port;
	memset(address, 0, sizeof(*address));
	if (config_split_listen(listen, host, sizeof(host), &port) < 0) {
		snprintf(error, error_len, "http listen '%s' is not address:port", listen);
		return -1;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)address;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)address;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		return 0;
	}
	snprintf(error, error_len, "http listen address '%s' is not a numeric IPv4 or IPv6 address", host);
	return -1;
}

/*
 * Parked requests (Ping) do not count against the connections meant for
 * working requests: MHD's own limit covers both, and a connection is
 * refused here once the working ones (open minus parked) are at the limit.
 */
static enum MHD_Result accept_connection(void *cls, const struct sockaddr *address, socklen_t length)
{
	(void)address;
	(void)length;
	struct http_server *server = cls;
	unsigned open = __atomic_load_n(&server->connections, __ATOMIC_RELAXED);
	unsigned parked = __atomic_load_n(&server->parked, __ATOMIC_RELAXED);
	return open - parked < LIMIT_HTTP_CONNECTIONS ? MHD_YES : MHD_NO;
}

static void count_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
			     enum MHD_ConnectionNotificationCode code)
{
	(void)connection;
	(void)socket_context;
	struct http_server *server = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		__atomic_add_fetch(&server->connections, 1, __ATOMIC_RELAXED);
	else
		__atomic_sub_fetch(&server->connections, 1, __ATOMIC_RELAXED);
}

static unsigned thread_count(const struct easd_config *config)
{
	if (config->http_threads > 0)
		return config->http_threads;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	return cores > 0 ? (unsigned)cores : 1;
}

static int load_tls(struct http_server *server, char *error, size_t error_len)
{
	const struct easd_config *config = server->settings.config;
	if (config->tls_certificate[0] == '\0')
		return 0;
	server->tls_certificate = read_file(config->tls_certificate, error, error_len);
	if (server->tls_certificate == NULL)
		return -1;
	server->tls_key = read_file(config->tls_key, error, error_len);
	return server->tls_key != NULL ? 0 : -1;
}

static void server_free(struct http_server *server)
{
	free(server->tls_certificate);
	free(server->tls_key);
	free(server);
}

int http_server_start(const struct http_server_settings *settings, struct http_server **server_out,
		      char *error, size_t error_len)
{
	struct sockaddr_storage address;
	struct http_server *server = calloc(1, sizeof(*server));
	if (server == NULL)
		abort();
	server->settings = *settings;
	const struct easd_config *config = settings->config;
	if (listen_address(config->http_listen, &address, error, error_len) < 0 ||
	    load_tls(server, error, error_len) < 0) {
		server_free(server);
		return -1;
	}
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
	server->starting = true;
	if (address.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (server->tls_certificate != NULL)
		flags |= MHD_USE_TLS;
	/* Empty strings for the TLS options when TLS is off: MHD ignores them then. */
	/* The logger first: MHD reports what goes wrong with the options after it (a busy port, a key
	   that does not fit the certificate), and warns about a logger given later instead. */
	server->daemon = MHD_start_daemon(
		flags, 0, accept_connection, server, http_exchange_handle, server,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_message, server,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address,
		MHD_OPTION_THREAD_POOL_SIZE, thread_count(config),
		MHD_OPTION_CONNECTION_TIMEOUT, config->http_timeout,
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)LIMIT_HTTP_CONNECTIONS + (config->max_parked != 0 ? config->max_parked : LIMIT_PARKED_UNLIMITED),
		MHD_OPTION_NOTIFY_CONNECTION, count_connection, server,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LIMIT_HTTP_CONNECTION_MEMORY,
		MHD_OPTION_URI_LOG_CALLBACK, http_exchange_begin, server,
		MHD_OPTION_NOTIFY_COMPLETED, http_exchange_end, server,
		server->tls_certificate != NULL ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
		server->tls_certificate, MHD_OPTION_HTTPS_MEM_KEY, server->tls_key, MHD_OPTION_END);
	server->starting = false;
	if (server->daemon == NULL) {
		if (server->tls_certificate != NULL && server->start_error[0] != '\0')
			snprintf(error, error_len, "TLS with %s and %s: %s", config->tls_certificate,
				 config->tls_key, server->start_error);
		else
			snprintf(error, error_len, "cannot listen on %s: %s", config->http_listen,
				 server->start_error[0] != '\0' ? server->start_error : "unknown error");
		server_free(server);
		return -1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
	server->port = info != NULL ? info->port : 0;
	*server_out = server;
	return 0;
}

uint16_t http_server_port(const struct http_server *server)
{
	return server->port;
}

/*
 * Closes the listening socket under MHD, so new connections are refused
 * at once instead of left unanswered in the backlog while the requests in
 * flight finish. Not MHD_quiesce_daemon: with a thread pool on epoll,
 * libmicrohttpd 0.9.75 races its own workers there (a worker that wakes
 * first takes the socket out of its epoll set, and quiesce then panics:
 * "Failed to remove listen FD from epoll set"). Putting an unbound socket
 * on the listener's number closes the listening one (epoll forgets it by
 * itself) and leaves MHD a descriptor of its own to close at stop.
 */
static void refuse_new_connections(struct MHD_Daemon *daemon)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_LISTEN_FD);
	if (info == NULL || info->listen_fd == MHD_INVALID_SOCKET)
		return;
	int placeholder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (placeholder < 0)
		return;
	if (dup3(placeholder, info->listen_fd, O_CLOEXEC) < 0)
		fprintf(stderr, "easd: cannot close the listening socket: %s\n", strerror(errno));
	close(placeholder);
}

void http_server_stop(struct http_server **server_ptr, unsigned grace_seconds)
{
	struct http_server *server = *server_ptr;
	if (server == NULL)
		return;
	refuse_new_connections(server->daemon);
	/* Parked requests get their answer now; MHD must not stop with any suspended. */
	push_hub_stop(server->settings.eas->push);
	for (unsigned waited = 0; waited < grace_seconds * 10; waited++) {
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (info == NULL || info->num_connections == 0)
			break;
		usleep(100 * 1000);
	}
	MHD_stop_daemon(server->daemon);
	server_free(server);
	*server_ptr = NULL;
}
