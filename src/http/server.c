/*
 * server.c: starting and stopping libmicrohttpd (see server.h), and the
 * TLS certificate it serves. The per-request work is in exchange.c.
 */
#include "http/http_private.h"
#include "metrics/metrics.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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


/*
 * TLS. easd reads the certificate chain and the key itself and hands them
 * to each handshake from GnuTLS's retrieve callback
 * (MHD_OPTION_HTTPS_CERT_CALLBACK) instead of giving MHD the PEM text
 * once, so that SIGHUP can put a renewed certificate in place without a
 * restart (http_server_reload_tls). The callback gets no pointer of ours,
 * only the session, so the credentials are this file's: one TLS server per
 * process. GnuTLS does not copy what the callback returns, and a handshake
 * on a worker thread may hold the set a reload replaces, so no set is
 * freed while the server runs: each reload adds one (a few KB; renewals
 * come every few weeks), and the server frees them all once MHD has
 * stopped.
 */
struct tls_credentials {
	gnutls_pcert_st *chain;  /* the leaf first */
	unsigned chain_length;
	gnutls_privkey_t key;
	time_t expires;          /* the leaf's notAfter */
	struct tls_credentials *older; /* the set this one replaced */
};

static const struct http_server *tls_owner;  /* the server they are for */
static struct tls_credentials *tls_current;  /* what a handshake gets now (atomic) */

static int tls_retrieve(gnutls_session_t session, const gnutls_datum_t *requested_issuers, int issuer_count,
			const gnutls_pk_algorithm_t *algorithms, int algorithm_count, gnutls_pcert_st **chain_out,
			unsigned *chain_length_out, gnutls_privkey_t *key_out)
{
	(void)session;
	(void)requested_issuers;
	(void)issuer_count;
	(void)algorithms;
	(void)algorithm_count;
	const struct tls_credentials *current = __atomic_load_n(&tls_current, __ATOMIC_ACQUIRE);
	if (current == NULL)
		return -1;
	*chain_out = current->chain;
	*chain_length_out = current->chain_length;
	*key_out = current->key;
	return 0;
}

static void tls_credentials_free(struct tls_credentials *set)
{
	for (unsigned i = 0; i < set->chain_length; i++)
		gnutls_pcert_deinit(&set->chain[i]);
	free(set->chain);
	if (set->key != NULL)
		gnutls_privkey_deinit(set->key);
	free(set);
}

/* The certificate file: its chain (GnuTLS puts the leaf first) and when the leaf expires. */
static int tls_read_chain(const char *path, struct tls_credentials *set, char *error, size_t error_len)
{
	char *pem = read_file(path, error, error_len);
	if (pem == NULL)
		return -1;
	gnutls_datum_t text = { (unsigned char *)pem, (unsigned)strlen(pem) };
	gnutls_x509_crt_t *certificates = NULL;
	unsigned count = 0;
	int status = gnutls_x509_crt_list_import2(&certificates, &count, &text, GNUTLS_X509_FMT_PEM,
						  GNUTLS_X509_CRT_LIST_SORT);
	free(pem);
	if (status >= 0 && count == 0)
		status = GNUTLS_E_NO_CERTIFICATE_FOUND;
	if (status >= 0) {
		set->expires = gnutls_x509_crt_get_expiration_time(certificates[0]);
		set->chain = calloc(count, sizeof(*set->chain));
		if (set->chain == NULL)
			abort();
		unsigned imported = count;
		status = gnutls_pcert_import_x509_list(set->chain, certificates, &imported, 0);
		if (status >= 0)
			set->chain_length = imported;
	}
	for (unsigned i = 0; i < count; i++)
		gnutls_x509_crt_deinit(certificates[i]);
	gnutls_free(certificates);
	if (status < 0) {
		snprintf(error, error_len, "GnuTLS cannot read the certificate %s: %s", path, gnutls_strerror(status));
		return -1;
	}
	return 0;
}

static int tls_read_key(const char *path, struct tls_credentials *set, char *error, size_t error_len)
{
	char *pem = read_file(path, error, error_len);
	if (pem == NULL)
		return -1;
	gnutls_datum_t text = { (unsigned char *)pem, (unsigned)strlen(pem) };
	if (gnutls_privkey_init(&set->key) < 0)
		abort();
	int status = gnutls_privkey_import_x509_raw(set->key, &text, GNUTLS_X509_FMT_PEM, NULL, 0);
	free(pem);
	if (status < 0) {
		snprintf(error, error_len, "GnuTLS cannot read the key %s: %s", path, gnutls_strerror(status));
		return -1;
	}
	return 0;
}

/*
 * Whether key is the private half of the leaf's public key: a signature
 * made with it verifies with the certificate. GnuTLS checks the same when
 * given a certificate and key as PEM (GNUTLS_E_CERTIFICATE_KEY_MISMATCH),
 * which easd no longer does; without the check a mismatched pair would be
 * taken and every handshake fail.
 */
static bool tls_key_matches(const gnutls_pcert_st *leaf, gnutls_privkey_t key)
{
	static const char probe[] = "easd: does this key belong to the certificate?";
	const gnutls_datum_t data = { (unsigned char *)probe, sizeof(probe) - 1 };
	gnutls_datum_t signature = { NULL, 0 };
	gnutls_digest_algorithm_t hash;
	if (gnutls_pubkey_get_preferred_hash_algorithm(leaf->pubkey, &hash, NULL) < 0)
		return false;
	gnutls_sign_algorithm_t algorithm = gnutls_pk_to_sign(gnutls_pubkey_get_pk_algorithm(leaf->pubkey, NULL), hash);
	bool matches = gnutls_privkey_sign_data2(key, algorithm, 0, &data, &signature) >= 0 &&
		       gnutls_pubkey_verify_data2(leaf->pubkey, algorithm, 0, &data, &signature) >= 0;
	gnutls_free(signature.data);
	return matches;
}

/* config's certificate and key, checked to belong together; the caller owns *set_out. */
static int tls_credentials_load(const struct easd_config *config, struct tls_credentials **set_out, char *error,
				size_t error_len)
{
	struct tls_credentials *set = calloc(1, sizeof(*set));
	if (set == NULL)
		abort();
	if (tls_read_chain(config->tls_certificate, set, error, error_len) < 0 ||
	    tls_read_key(config->tls_key, set, error, error_len) < 0) {
		tls_credentials_free(set);
		return -1;
	}
	if (!tls_key_matches(&set->chain[0], set->key)) {
		snprintf(error, error_len, "the key %s does not belong to the certificate %s", config->tls_key,
			 config->tls_certificate);
		tls_credentials_free(set);
		return -1;
	}
	*set_out = set;
	return 0;
}

/* Loads the certificate when the configuration names one; the server then owns the credentials. */
static int load_tls(struct http_server *server, char *error, size_t error_len)
{
	const struct easd_config *config = server->settings.config;
	if (config->tls_certificate[0] == '\0')
		return 0;
	/* A second TLS server in one process would share the credentials: a bug. */
	assert(tls_owner == NULL);
	char reason[512];
	struct tls_credentials *set;
	if (tls_credentials_load(config, &set, reason, sizeof(reason)) < 0) {
		snprintf(error, error_len, "TLS: %s", reason);
		return -1;
	}
	tls_owner = server;
	__atomic_store_n(&tls_current, set, __ATOMIC_RELEASE);
	return 0;
}

/* After MHD has stopped (or never started): no handshake can hold a set any more. */
static void server_free(struct http_server *server)
{
	if (tls_owner == server) {
		struct tls_credentials *set = __atomic_exchange_n(&tls_current, NULL, __ATOMIC_ACQ_REL);
		while (set != NULL) {
			struct tls_credentials *older = set->older;
			tls_credentials_free(set);
			set = older;
		}
		tls_owner = NULL;
	}
	free(server);
}

int http_server_reload_tls(struct http_server *server, const struct easd_config *config, char *report,
			   size_t report_len)
{
	assert(server == tls_owner && config->tls_certificate[0] != '\0');
	struct tls_credentials *set;
	if (tls_credentials_load(config, &set, report, report_len) < 0)
		return -1;
	/* Only this thread (the signal loop) changes tls_current; the workers only read it. */
	set->older = tls_current;
	__atomic_store_n(&tls_current, set, __ATOMIC_RELEASE);
	char expires[32] = "an unknown date";
	struct tm tm;
	if (set->expires != (time_t)-1 && gmtime_r(&set->expires, &tm) != NULL)
		strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(report, report_len, "reloaded the TLS certificate %s (%s %s)", config->tls_certificate,
		 set->expires != (time_t)-1 && set->expires < time(NULL) ? "expired" : "expires", expires);
	return 0;
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
	if (config_listen_address(config->http_listen, &address, error, error_len) < 0 ||
	    load_tls(server, error, error_len) < 0) {
		server_free(server);
		return -1;
	}
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
	server->starting = true;
	if (address.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	bool tls = tls_owner == server;
	if (tls)
		flags |= MHD_USE_TLS;
	/* The logger first: MHD reports what goes wrong with the options after it (a busy port), and
	   warns about a logger given later instead. */
	server->daemon = MHD_start_daemon(
		flags, 0, accept_connection, server, http_exchange_handle, server,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_message, server,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address,
		MHD_OPTION_THREAD_POOL_SIZE, config_http_threads(config),
		MHD_OPTION_CONNECTION_TIMEOUT, config->http_timeout,
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)LIMIT_HTTP_CONNECTIONS + (config->max_parked != 0 ? config->max_parked : LIMIT_PARKED_UNLIMITED),
		MHD_OPTION_NOTIFY_CONNECTION, count_connection, server,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LIMIT_HTTP_CONNECTION_MEMORY,
		MHD_OPTION_URI_LOG_CALLBACK, http_exchange_begin, server,
		MHD_OPTION_NOTIFY_COMPLETED, http_exchange_end, server,
		tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END, tls_retrieve, MHD_OPTION_END);
	server->starting = false;
	/* The certificate and key were read and checked above (load_tls): what fails here is the socket,
	   in MHD's words. */
	if (server->daemon == NULL) {
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
