/*
 * test_server_operations.c: what an operator does to a running easd and
 * what the transport adds around EAS, each against a real easd: TLS with a
 * certificate made by the openssl command (and TLS files that stop the
 * start-up), gzip of large responses only when asked for, SIGHUP reopening
 * a rotated access log and reloading a renewed TLS certificate, SIGTERM
 * letting a request whose body is still arriving finish, OPTIONS without
 * credentials.
 *
 * A request whose body arrives in two parts goes through a raw socket,
 * because the pause has to fall between two writes of the body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <glib.h>
#include <netinet/in.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "store/store.h"

static const char *const users[] = { "alice:correct horse", NULL };

struct fixture {
	struct e2e_server server;
	struct easclient_response response;
	struct arena *arena;
};

static const char foldersync_zero[] = "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>";
static const char provision_download[] = "<Provision xmlns=\"Provision\"><Policies><Policy>"
					 "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>";

/* The fixture only; the case starts easd itself (TLS files first). */
static int setup_bare(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	f->server.exit_status = -1;
	easclient_response_init(&f->response);
	f->arena = arena_new(0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	if (setup_bare(state) < 0)
		return -1;
	struct fixture *f = *state;
	return e2e_start(&f->server, NULL, users);
}

/* easd must stop with status 0 wherever it still runs; its files are kept when it does not. */
static int teardown(void **state)
{
	struct fixture *f = *state;
	easclient_response_cleanup(&f->response);
	arena_free(&f->arena);
	int finished = e2e_finish(&f->server);
	free(f);
	return finished;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static char *path_in(const struct e2e_server *server, const char *name)
{
	return g_strdup_printf("%s/%s", server->dir, name);
}

/* A whole file as a string (g_free), or NULL. */
static char *file_text(const char *path)
{
	char *text = NULL;
	if (!g_file_get_contents(path, &text, NULL, NULL))
		return NULL;
	return text;
}

static unsigned count_lines(const char *text)
{
	unsigned lines = 0;
	for (const char *p = text; *p != '\0'; p++)
		lines += *p == '\n';
	return lines;
}

/* Provision, then FolderSync from 0: the ordinary request every case ends with. Returns the Count. */
static const char *provision_and_foldersync(struct fixture *f, struct easclient *client)
{
	assert_int_equal(easclient_provision(client, &f->response), 0);
	assert_int_equal(easclient_post_xml(client, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	assert_string_equal(easclient_find_text(root, WBXML_FOLDERHIERARCHY_STATUS, f->arena), "1");
	return easclient_find_text(root, WBXML_FOLDERHIERARCHY_COUNT, f->arena);
}

/* The ordinary request on a fresh client of alice's. */
static void ordinary_request_succeeds(struct fixture *f, const char *device_id)
{
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", device_id);
	struct easclient *client = easclient_new(&options);
	assert_string_equal(provision_and_foldersync(f, client), "9");
	easclient_free(&client);
}

/* ---- TLS ---- */

/* A self-signed certificate for common_name and its key, in files of the server's directory. */
static void make_certificate_named(const struct e2e_server *server, const char *common_name,
				   const char *certificate_name, const char *key_name)
{
	char *command = g_strdup_printf("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=%s "
					"-keyout '%s/%s' -out '%s/%s' > '%s/openssl.log' 2>&1",
					common_name, server->dir, key_name, server->dir, certificate_name, server->dir);
	int status = system(command);
	g_free(command);
	if (status != 0)
		fail_msg("openssl could not make a certificate (is the openssl command installed?): see %s/openssl.log",
			 server->dir);
}

/* A self-signed certificate for localhost in cert.pem and key.pem of the server's directory. */
static void make_certificate(const struct e2e_server *server)
{
	make_certificate_named(server, "localhost", "cert.pem", "key.pem");
}

static char *tls_config(const struct e2e_server *server, const char *key_path)
{
	return g_strdup_printf("[http]\ntls_certificate = %s/cert.pem\ntls_key = %s\n", server->dir, key_path);
}

static void start_with_tls(struct fixture *f)
{
	assert_int_equal(e2e_prepare(&f->server), 0);
	make_certificate(&f->server);
	f->server.https = true;
	char *key = path_in(&f->server, "key.pem");
	char *config = tls_config(&f->server, key);
	assert_int_equal(e2e_start_prepared(&f->server, config, users), 0);
	g_free(config);
	g_free(key);
	assert_true(strncmp(f->server.url, "https://", 8) == 0);
}

static void tls_serves_eas_over_https(void **state)
{
	struct fixture *f = *state;
	start_with_tls(f);
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", "TLS1");
	assert_true(options.insecure_tls);
	struct easclient *client = easclient_new(&options);
	assert_int_equal(easclient_options(client, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_non_null(easclient_header(&f->response, f->arena, "MS-ASProtocolVersions"));
	assert_string_equal(provision_and_foldersync(f, client), "9");
	assert_true(e2e_log_has(&f->server, (const char *const[]){ "TLS1", "FolderSync", "\t200\t", NULL }));

	/* Plain HTTP to the TLS port: no exchange happens, and easd lives on. */
	char plain_url[64];
	snprintf(plain_url, sizeof(plain_url), "http://127.0.0.1:%u", f->server.port);
	struct easclient_options plain = options;
	plain.base_url = plain_url;
	plain.device_id = "PLAIN1";
	struct easclient *plain_client = easclient_new(&plain);
	assert_int_equal(easclient_options(plain_client, &f->response), -1);
	assert_int_equal(easclient_post_xml(plain_client, "FolderSync", foldersync_zero, &f->response), -1);
	easclient_free(&plain_client);
	assert_int_equal(kill(f->server.pid, 0), 0);

	/* An ordinary https request still succeeds, on a connection of its own. */
	ordinary_request_succeeds(f, "TLS2");
	easclient_free(&client);
}

/*
 * Whether easd.stderr is exactly one line containing both strings; its
 * text is copied to shown for the failure message. Removes the file, so
 * that the next start-up writes a fresh one.
 */
static bool stderr_is_one_line_with(const struct e2e_server *server, const char *first, const char *second,
				    char *shown, size_t shown_len)
{
	char *path = path_in(server, "easd.stderr");
	char *text = file_text(path);
	snprintf(shown, shown_len, "%s", text != NULL ? text : "(no easd.stderr)");
	bool found = text != NULL && count_lines(text) == 1 && strstr(text, first) != NULL &&
		     strstr(text, second) != NULL;
	unlink(path);
	g_free(text);
	g_free(path);
	return found;
}

/* The configuration names a key file that does not exist: one line naming it, exit status 1, nothing served. */
static void tls_bad_files_stop_start_up(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(e2e_prepare(&f->server), 0);
	make_certificate(&f->server);
	f->server.https = true;
	char *missing = path_in(&f->server, "no-such-key.pem");
	char *config = tls_config(&f->server, missing);
	assert_int_equal(e2e_start_prepared(&f->server, config, users), -1);
	g_free(config);
	assert_int_equal(f->server.pid, 0);
	assert_int_equal(f->server.exit_status, 1);
	char shown[2048];
	bool one_line_naming_it = stderr_is_one_line_with(&f->server, missing, "No such file", shown, sizeof(shown));
	g_free(missing);
	if (!one_line_naming_it)
		fail_msg("expected one line naming the missing key file, got:\n%s", shown);

	/* The administrator fixes the path: the same directory starts and serves. */
	char *key = path_in(&f->server, "key.pem");
	config = tls_config(&f->server, key);
	assert_int_equal(e2e_start_prepared(&f->server, config, NULL), 0);
	g_free(config);
	g_free(key);
	ordinary_request_succeeds(f, "TLSFIXED");
}

/*
 * A key file that exists but holds no PEM key. A start-up failure is one
 * clear message (STYLE.md, Errors): one line that says the TLS files are
 * the problem, not libmicrohttpd's own lines plus a guess.
 */
static void tls_key_not_pem_stops_start_up_with_one_line(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(e2e_prepare(&f->server), 0);
	make_certificate(&f->server);
	f->server.https = true;
	char *garbage = path_in(&f->server, "garbage.pem");
	assert_true(g_file_set_contents(garbage, "not a key\n", -1, NULL));
	char *config = tls_config(&f->server, garbage);
	assert_int_equal(e2e_start_prepared(&f->server, config, users), -1);
	g_free(config);
	g_free(garbage);
	assert_int_equal(f->server.exit_status, 1);
	char shown[2048];
	if (!stderr_is_one_line_with(&f->server, "TLS", "GnuTLS", shown, sizeof(shown)) ||
	    strstr(shown, "EXTERNAL_LOGGER") != NULL)
		fail_msg("expected one line about the TLS key, got:\n%s", shown);

	/* The administrator fixes the key: the same directory starts and serves. */
	char *key = path_in(&f->server, "key.pem");
	config = tls_config(&f->server, key);
	assert_int_equal(e2e_start_prepared(&f->server, config, NULL), 0);
	g_free(config);
	g_free(key);
	ordinary_request_succeeds(f, "TLSFIXED");
}

/*
 * The real reason of a start-up failure, in one line: a port another
 * program holds, a certificate given as its own key (GnuTLS's words).
 */
static void start_up_failures_say_why(void **state)
{
	struct fixture *f = *state;
	char shown[2048];
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(address);
	int holder = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(holder, (struct sockaddr *)&address, sizeof(address)), 0);
	assert_int_equal(listen(holder, 1), 0);
	assert_int_equal(getsockname(holder, (struct sockaddr *)&address, &len), 0);
	assert_int_equal(e2e_prepare(&f->server), 0);
	char *config = g_strdup_printf("[http]\nlisten = 127.0.0.1:%u\n", ntohs(address.sin_port));
	assert_int_equal(e2e_start_prepared(&f->server, config, users), -1);
	g_free(config);
	close(holder);
	if (!stderr_is_one_line_with(&f->server, "cannot listen", "Address already in use", shown, sizeof(shown)))
		fail_msg("expected one line saying the address is in use, got:\n%s", shown);
	make_certificate(&f->server);
	f->server.https = true;
	char *certificate = path_in(&f->server, "cert.pem");
	config = tls_config(&f->server, certificate);
	assert_int_equal(e2e_start_prepared(&f->server, config, NULL), -1);
	g_free(config);
	g_free(certificate);
	if (!stderr_is_one_line_with(&f->server, "TLS", "GnuTLS", shown, sizeof(shown)))
		fail_msg("expected one line with GnuTLS's reason, got:\n%s", shown);
}

/* ---- gzip ---- */

/* Adds folders behind easd's back, as an admin or another device would. */
static void add_folders(struct fixture *f, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		char name[128];
		snprintf(name, sizeof(name), "Project archive %03u with a long name for the gzip test", i);
		assert_int_equal(e2e_add_folder(&f->server, "alice", name), 0);
	}
}

/* sc-bytes (bytes on the wire) of the last access-log line with that device and command, or -1. */
static long long logged_bytes_out(const struct e2e_server *server, const char *device_id, const char *command)
{
	char path[300], line[4096];
	long long bytes = -1;
	snprintf(path, sizeof(path), "%s/log/access.log", server->dir);
	FILE *in = fopen(path, "r");
	if (in == NULL)
		return -1;
	while (fgets(line, sizeof(line), in) != NULL) {
		if (line[0] == '#')
			continue;
		/* date time c-ip cs-username x-device-id x-device-type x-command x-protocol-version
		   sc-status x-eas-status cs-bytes sc-bytes ... */
		char *fields[12];
		char *save = NULL;
		unsigned n = 0;
		for (char *token = strtok_r(line, "\t", &save); token != NULL && n < 12; token = strtok_r(NULL, "\t", &save))
			fields[n++] = token;
		if (n == 12 && strcmp(fields[4], device_id) == 0 && strcmp(fields[6], command) == 0)
			bytes = strtoll(fields[11], NULL, 10);
	}
	fclose(in);
	return bytes;
}

/* One FolderSync from 0; returns the Count, with whether it came gzipped and its size on the wire. */
static const char *foldersync_count(struct fixture *f, struct easclient *client, const char *device_id,
				    bool *gzipped_out, long long *wire_bytes_out)
{
	assert_int_equal(easclient_post_xml(client, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	const char *encoding = easclient_header(&f->response, f->arena, "Content-Encoding");
	if (encoding != NULL)
		assert_string_equal(encoding, "gzip");
	*gzipped_out = encoding != NULL;
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	assert_string_equal(easclient_find_text(root, WBXML_FOLDERHIERARCHY_STATUS, f->arena), "1");
	/* The log line is written after the response: wait for this request's line. */
	assert_true(e2e_log_has(&f->server, (const char *const[]){ device_id, "FolderSync", NULL }));
	*wire_bytes_out = logged_bytes_out(&f->server, device_id, "FolderSync");
	return easclient_find_text(root, WBXML_FOLDERHIERARCHY_COUNT, f->arena);
}

static void gzip_when_asked_for_large_responses(void **state)
{
	struct fixture *f = *state;
	struct easclient_options gzip_options = e2e_client_options(&f->server, "alice", "correct horse", "GZIP1");
	gzip_options.accept_gzip = true;
	struct easclient_options plain_options = e2e_client_options(&f->server, "alice", "correct horse", "PLAIN1");
	struct easclient *gzip_client = easclient_new(&gzip_options);
	struct easclient *plain_client = easclient_new(&plain_options);
	assert_int_equal(easclient_provision(gzip_client, NULL), 0);
	assert_int_equal(easclient_provision(plain_client, NULL), 0);
	bool gzipped;
	long long wire;

	/* The default hierarchy is small: never gzipped, even when asked for. */
	assert_string_equal(foldersync_count(f, gzip_client, "GZIP1", &gzipped, &wire), "9");
	assert_true(f->response.body.len < 1024);
	assert_false(gzipped);
	assert_int_equal(wire, (long long)f->response.body.len);

	add_folders(f, 60);

	/* Large and asked for: gzip on the wire, the same WBXML once libcurl has unpacked it. */
	assert_string_equal(foldersync_count(f, gzip_client, "GZIP1", &gzipped, &wire), "69");
	size_t plain_len = f->response.body.len;
	assert_true(plain_len >= 1024);
	assert_true(gzipped);
	assert_true(wire > 0 && wire < (long long)plain_len);

	/* Large but not asked for: plain, the same Count. */
	assert_string_equal(foldersync_count(f, plain_client, "PLAIN1", &gzipped, &wire), "69");
	assert_false(gzipped);
	assert_true(f->response.body.len >= 1024);
	assert_int_equal(wire, (long long)f->response.body.len);

	easclient_free(&gzip_client);
	easclient_free(&plain_client);
}

/* ---- signals ---- */

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void sighup_reopens_the_access_log(void **state)
{
	struct fixture *f = *state;
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", "BEFORE1");
	struct easclient *before = easclient_new(&options);
	assert_int_equal(easclient_options(before, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	easclient_free(&before);
	assert_true(e2e_log_has(&f->server, (const char *const[]){ "OPTIONS", "\t200\t", NULL }));

	/* logrotate: rename, then SIGHUP; easd creates access.log anew. */
	char *log = path_in(&f->server, "log/access.log");
	char *rotated = path_in(&f->server, "log/access.log.1");
	assert_int_equal(rename(log, rotated), 0);
	assert_int_equal(kill(f->server.pid, SIGHUP), 0);
	for (int waited = 0; waited < 2000 && !file_exists(log); waited += 20)
		sleep_ms(20);
	assert_true(file_exists(log));

	ordinary_request_succeeds(f, "AFTER1");
	assert_true(e2e_log_has(&f->server, (const char *const[]){ "AFTER1", "FolderSync", "\t200\t", NULL }));
	char *fresh = file_text(log);
	char *old = file_text(rotated);
	assert_non_null(fresh);
	assert_non_null(old);
	assert_non_null(strstr(fresh, "#Fields: date time"));
	assert_null(strstr(fresh, "OPTIONS"));
	assert_non_null(strstr(old, "#Fields: date time"));
	assert_non_null(strstr(old, "OPTIONS"));
	assert_null(strstr(old, "AFTER1"));
	/* SIGHUP did not stop easd: teardown's SIGTERM gets status 0. */
	assert_int_equal(kill(f->server.pid, 0), 0);
	g_free(fresh);
	g_free(old);
	g_free(log);
	g_free(rotated);
}

/* Whether every line of text starts "YYYY-MM-DDTHH:MM:SS.mmmZ " and one of them holds needle. */
static bool stamped_lines_with(const char *text, const char *needle)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";
	bool found = false;
	for (const char *line = text; line != NULL && *line != '\0';) {
		for (size_t i = 0; i < sizeof(shape) - 1; i++)
			if (shape[i] == 'd' ? !g_ascii_isdigit(line[i]) : line[i] != shape[i])
				return false;
		const char *end = strchr(line, '\n');
		found |= strstr(line, needle) != NULL && (end == NULL || strstr(line, needle) < end);
		line = end != NULL ? end + 1 : NULL;
	}
	return found;
}

/* easd's own lines carry a timestamp, on stderr and in log/easd.log; SIGHUP reopens easd.log after logrotate. */
static void messages_are_stamped_and_kept_in_easd_log(void **state)
{
	struct fixture *f = *state;
	char *stderr_path = path_in(&f->server, "easd.stderr"), *log = path_in(&f->server, "log/easd.log");
	char *rotated = path_in(&f->server, "log/easd.log.1");
	char *err = file_text(stderr_path), *kept = file_text(log);
	assert_true(stamped_lines_with(err, "serving EAS on"));
	assert_true(stamped_lines_with(kept, "serving EAS on"));
	g_free(err);
	g_free(kept);
	assert_int_equal(rename(log, rotated), 0);
	assert_int_equal(kill(f->server.pid, SIGHUP), 0);
	for (int waited = 0; waited < 2000 && !file_exists(log); waited += 20)
		sleep_ms(20);
	assert_true(file_exists(log));
	assert_int_equal(e2e_stop(&f->server), 0);
	kept = file_text(log);
	assert_true(stamped_lines_with(kept, "stopping"));
	assert_null(strstr(kept, "serving EAS on"));
	g_free(kept);
	g_free(stderr_path);
	g_free(log);
	g_free(rotated);
}

/* Waits up to 5 s for a datagram on fd that contains needle (systemd's notification protocol). */
static bool notified(int fd, const char *needle)
{
	char message[512];
	for (int waited = 0; waited < 5000; waited += 10) {
		ssize_t n = recv(fd, message, sizeof(message) - 1, MSG_DONTWAIT);
		if (n > 0) {
			message[n] = '\0';
			if (strstr(message, needle) != NULL)
				return true;
			continue;
		}
		sleep_ms(10);
	}
	return false;
}

/* Type=notify: READY once it serves, the watchdog's beat, RELOADING and READY around SIGHUP, STOPPING. */
static void systemd_hears_ready_reload_watchdog_and_stopping(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(e2e_prepare(&f->server), 0);
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	int len = snprintf(address.sun_path, sizeof(address.sun_path), "%.90s/notify.sock", f->server.dir);
	assert_true(len > 0 && (size_t)len < sizeof(address.sun_path));
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
	setenv("NOTIFY_SOCKET", address.sun_path, 1);
	setenv("WATCHDOG_USEC", "400000", 1);
	int started = e2e_start_prepared(&f->server, NULL, users);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(started, 0);
	assert_true(notified(fd, "READY=1"));
	assert_true(notified(fd, "WATCHDOG=1"));
	assert_int_equal(kill(f->server.pid, SIGHUP), 0);
	assert_true(notified(fd, "RELOADING=1"));
	assert_true(notified(fd, "READY=1"));
	assert_int_equal(kill(f->server.pid, SIGTERM), 0);
	assert_true(notified(fd, "STOPPING=1"));
	close(fd);
}

static int connect_to(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(port) };
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
	struct timeval timeout = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	return fd;
}

static void send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Reads one HTTP response: the status, and the body once Content-Length
 * bytes of it are in. Returns the status, or -1 when the connection ended
 * (or timed out) before the response was complete.
 */
static int read_response(int fd, struct buf *body_out)
{
	struct buf raw;
	buf_init(&raw, 1024 * 1024);
	int status = -1;
	for (;;) {
		char chunk[4096];
		const char *end = raw.len > 0 ? g_strstr_len((const char *)raw.data, (gssize)raw.len, "\r\n\r\n") : NULL;
		if (end != NULL) {
			size_t header_len = (size_t)(end - (const char *)raw.data) + 4;
			char *headers = g_ascii_strdown((const char *)raw.data, (gssize)header_len);
			const char *length = strstr(headers, "\r\ncontent-length:");
			size_t content_length = length != NULL ? strtoul(length + 17, NULL, 10) : 0;
			int code = 0;
			sscanf(headers, "http/1.%*d %d", &code);
			g_free(headers);
			if (length != NULL && raw.len >= header_len + content_length) {
				buf_append(body_out, raw.data + header_len, content_length);
				status = code;
				break;
			}
		}
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
		if (n <= 0)
			break;
		buf_append(&raw, chunk, (size_t)n);
	}
	buf_cleanup(&raw);
	return status;
}

/* Waits up to timeout_ms for easd to exit by itself; its exit status, or -2 if still running, -1 if killed. */
static int wait_for_exit(struct e2e_server *server, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		int status;
		if (waitpid(server->pid, &status, WNOHANG) == server->pid) {
			server->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		sleep_ms(20);
	}
	return -2;
}

static bool stderr_has(const struct e2e_server *server, const char *needle)
{
	char *path = path_in(server, "easd.stderr");
	char *text = file_text(path);
	bool found = text != NULL && strstr(text, needle) != NULL;
	g_free(text);
	g_free(path);
	return found;
}

static void sigterm_lets_a_request_in_flight_finish(void **state)
{
	struct fixture *f = *state;
	struct buf body;
	buf_init(&body, 0);
	assert_int_equal(wbxml_from_xml(provision_download, strlen(provision_download), false, &body, NULL), WBXML_OK);
	gchar *credentials = g_base64_encode((const guchar *)"alice:correct horse", strlen("alice:correct horse"));
	char *head = g_strdup_printf(
		"POST /Microsoft-Server-ActiveSync?Cmd=Provision&User=alice&DeviceId=SLOW1&DeviceType=TestPhone HTTP/1.1\r\n"
		"Host: 127.0.0.1:%u\r\nAuthorization: Basic %s\r\nMS-ASProtocolVersion: 14.1\r\n"
		"Content-Type: application/vnd.ms-sync.wbxml\r\nContent-Length: %zu\r\n\r\n",
		f->server.port, credentials, body.len);
	size_t first_part = body.len / 2;

	int fd = connect_to(f->server.port);
	send_all(fd, head, strlen(head));
	send_all(fd, body.data, first_part);
	sleep_ms(200);

	/* SIGTERM while half the body is still to come; easd says it is stopping, then waits for it. */
	assert_int_equal(kill(f->server.pid, SIGTERM), 0);
	for (int waited = 0; waited < 2000 && !stderr_has(&f->server, "stopping"); waited += 20)
		sleep_ms(20);
	assert_true(stderr_has(&f->server, "stopping"));
	sleep_ms(500);
	assert_int_equal(wait_for_exit(&f->server, 0), -2);

	/* Meanwhile new connections are refused at once, not left unanswered. */
	int late = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(f->server.port) };
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(late, (struct sockaddr *)&address, sizeof(address)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(late);

	send_all(fd, body.data + first_part, body.len - first_part);
	struct buf answer;
	buf_init(&answer, 0);
	assert_int_equal(read_response(fd, &answer), 200);
	struct easclient_response as_response = { .http_status = 200, .body = answer };
	struct wbxml_node *root = easclient_parse(&as_response, f->arena);
	assert_non_null(root);
	const struct wbxml_node *policy = easclient_find(root, WBXML_PROVISION_POLICY);
	assert_non_null(policy);
	assert_string_equal(easclient_find_text(policy, WBXML_PROVISION_STATUS, f->arena), "1");
	assert_non_null(easclient_find(policy, WBXML_PROVISION_POLICY_KEY));
	buf_cleanup(&answer);
	close(fd);

	/* Once the answer is out and the connection closed, easd exits 0 by itself. */
	assert_int_equal(wait_for_exit(&f->server, 8000), 0);
	/* Logged as answered, not as cut off. */
	char *log = path_in(&f->server, "log/access.log");
	char *text = file_text(log);
	assert_non_null(text);
	const char *line = strstr(text, "\tSLOW1\t");
	assert_non_null(line);
	char *line_end = strchr(line, '\n');
	assert_non_null(line_end);
	*line_end = '\0';
	assert_non_null(strstr(line, "\tProvision\t14.1\t200\t"));
	assert_null(strstr(line, "client_gone"));
	g_free(text);
	g_free(log);

	/* easd starts again on the same data and serves. */
	assert_int_equal(e2e_start_prepared(&f->server, NULL, NULL), 0);
	ordinary_request_succeeds(f, "AFTERTERM");
	g_free(head);
	g_free(credentials);
	buf_cleanup(&body);
}

/* ---- renewing the TLS certificate ---- */

/*
 * The subject of the certificate a new connection gets, as libcurl prints
 * it ("CN = localhost"); g_free it. Only the handshake: no request.
 */
static char *served_subject(const struct e2e_server *server)
{
	CURL *curl = curl_easy_init();
	assert_non_null(curl);
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/", server->port);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(curl, CURLOPT_CERTINFO, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	CURLcode code = curl_easy_perform(curl);
	if (code != CURLE_OK)
		fail_msg("TLS handshake with easd: %s", curl_easy_strerror(code));
	struct curl_certinfo *info = NULL;
	char *subject = NULL;
	if (curl_easy_getinfo(curl, CURLINFO_CERTINFO, &info) == CURLE_OK && info != NULL && info->num_of_certs > 0)
		for (const struct curl_slist *field = info->certinfo[0]; field != NULL && subject == NULL;
		     field = field->next)
			if (strncmp(field->data, "Subject:", 8) == 0)
				subject = g_strdup(field->data + 8);
	curl_easy_cleanup(curl);
	if (subject == NULL)
		fail_msg("libcurl gave no subject for easd's certificate");
	return subject;
}

static void assert_serves_certificate_of(const struct e2e_server *server, const char *common_name)
{
	char *subject = served_subject(server);
	char *expected = g_strdup_printf("CN = %s", common_name);
	if (strstr(subject, expected) == NULL)
		fail_msg("expected a certificate for %s, easd served one for %s", common_name, subject);
	g_free(expected);
	g_free(subject);
}

static void assert_line_contains(const char *line, const char *needle)
{
	if (line == NULL || strstr(line, needle) == NULL)
		fail_msg("expected a line with \"%s\", got: %s", needle, line != NULL ? line : "(none)");
}

/*
 * Issue 14: a renewed certificate is put in place of the old files (as
 * certbot's deploy hook does) and SIGHUP makes easd serve it, without a
 * restart, saying so. A renewal that went wrong (a key that is not the
 * certificate's, a file missing) leaves the certificate in use served,
 * and easd says why. EAS requests are answered throughout.
 */
static void sighup_reloads_the_tls_certificate(void **state)
{
	struct fixture *f = *state;
	start_with_tls(f);
	assert_serves_certificate_of(&f->server, "localhost");
	ordinary_request_succeeds(f, "CERTA");

	char *certificate = path_in(&f->server, "cert.pem");
	char *key = path_in(&f->server, "key.pem");
	char *renewed_key = path_in(&f->server, "renewed-key.pem");
	char *renewed_certificate = path_in(&f->server, "renewed-cert.pem");
	make_certificate_named(&f->server, "renewed.example.org", "renewed-cert.pem", "renewed-key.pem");
	char *renewed_key_copy = file_text(renewed_key);
	assert_non_null(renewed_key_copy);
	assert_int_equal(rename(renewed_certificate, certificate), 0);
	assert_int_equal(rename(renewed_key, key), 0);
	char *line = e2e_reload(&f->server, NULL, "TLS certificate");
	char *expected = g_strdup_printf("easd: SIGHUP: reloaded the TLS certificate %s (expires ", certificate);
	assert_line_contains(line, expected);
	g_free(expected);
	g_free(line);
	assert_serves_certificate_of(&f->server, "renewed.example.org");
	ordinary_request_succeeds(f, "CERTB");

	/* A key that belongs to another certificate: the renewed certificate stays, and easd says why. */
	make_certificate_named(&f->server, "other.example.org", "other-cert.pem", "other-key.pem");
	char *other_key = path_in(&f->server, "other-key.pem");
	assert_int_equal(rename(other_key, key), 0);
	line = e2e_reload(&f->server, NULL, "TLS certificate");
	expected = g_strdup_printf("easd: SIGHUP: kept the TLS certificate in use: the key %s does not belong to "
				   "the certificate %s", key, certificate);
	assert_line_contains(line, expected);
	g_free(expected);
	g_free(line);
	assert_serves_certificate_of(&f->server, "renewed.example.org");
	ordinary_request_succeeds(f, "MISMATCH1");

	/* No key file at all: the same. */
	assert_int_equal(unlink(key), 0);
	line = e2e_reload(&f->server, NULL, "TLS certificate");
	assert_line_contains(line, "easd: SIGHUP: kept the TLS certificate in use: ");
	assert_line_contains(line, key);
	assert_line_contains(line, "No such file");
	g_free(line);
	assert_serves_certificate_of(&f->server, "renewed.example.org");
	ordinary_request_succeeds(f, "MISSING1");

	/* The administrator puts the right key back: the next SIGHUP takes the pair. */
	assert_true(g_file_set_contents(key, renewed_key_copy, -1, NULL));
	line = e2e_reload(&f->server, NULL, "TLS certificate");
	assert_line_contains(line, "easd: SIGHUP: reloaded the TLS certificate ");
	g_free(line);
	assert_serves_certificate_of(&f->server, "renewed.example.org");
	ordinary_request_succeeds(f, "FIXED1");
	/* Teardown's SIGTERM: status 0, every certificate set freed (the ASan build checks). */
	g_free(renewed_key_copy);
	g_free(other_key);
	g_free(renewed_certificate);
	g_free(renewed_key);
	g_free(key);
	g_free(certificate);
}

/* Without TLS, SIGHUP reopens the logs, reloads the configuration and says nothing about a certificate. */
static void sighup_without_tls_says_nothing_about_tls(void **state)
{
	struct fixture *f = *state;
	char *log = path_in(&f->server, "log/easd.log");
	char *rotated = path_in(&f->server, "log/easd.log.1");
	assert_int_equal(rename(log, rotated), 0);
	assert_int_equal(kill(f->server.pid, SIGHUP), 0);
	for (int waited = 0; waited < 2000 && !file_exists(log); waited += 20)
		sleep_ms(20);
	assert_true(file_exists(log));
	ordinary_request_succeeds(f, "NOTLS1");
	/* SIGTERM is handled after the SIGHUP's work is done: then easd's stderr is complete. */
	assert_int_equal(e2e_stop(&f->server), 0);
	assert_true(stderr_has(&f->server, "SIGHUP: reloaded"));
	assert_false(stderr_has(&f->server, "TLS certificate"));
	g_free(log);
	g_free(rotated);
}

/* ---- credentials ---- */

static void options_without_credentials_gets_401_then_works(void **state)
{
	struct fixture *f = *state;
	struct easclient_options anonymous = e2e_client_options(&f->server, NULL, NULL, "ANON1");
	struct easclient *client = easclient_new(&anonymous);
	assert_int_equal(easclient_options(client, &f->response), 0);
	assert_int_equal(f->response.http_status, 401);
	const char *challenge = easclient_header(&f->response, f->arena, "WWW-Authenticate");
	assert_non_null(challenge);
	assert_true(strncmp(challenge, "Basic ", 6) == 0);
	assert_non_null(strstr(challenge, "realm=\"easd\""));
	assert_null(easclient_header(&f->response, f->arena, "MS-ASProtocolVersions"));
	assert_true(e2e_log_has(&f->server, (const char *const[]){ "OPTIONS", "\t401\t", "no_credentials", NULL }));
	easclient_free(&client);

	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", "ANON1");
	client = easclient_new(&options);
	assert_int_equal(easclient_options(client, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(easclient_header(&f->response, f->arena, "MS-ASProtocolVersions"),
			    "12.1,14.0,14.1,16.0,16.1");
	easclient_free(&client);
	ordinary_request_succeeds(f, "ANON2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(tls_serves_eas_over_https, setup_bare, teardown),
		cmocka_unit_test_setup_teardown(tls_bad_files_stop_start_up, setup_bare, teardown),
		cmocka_unit_test_setup_teardown(tls_key_not_pem_stops_start_up_with_one_line, setup_bare, teardown),
		cmocka_unit_test_setup_teardown(start_up_failures_say_why, setup_bare, teardown),
		cmocka_unit_test_setup_teardown(gzip_when_asked_for_large_responses, setup, teardown),
		cmocka_unit_test_setup_teardown(sighup_reopens_the_access_log, setup, teardown),
		cmocka_unit_test_setup_teardown(messages_are_stamped_and_kept_in_easd_log, setup, teardown),
		cmocka_unit_test_setup_teardown(systemd_hears_ready_reload_watchdog_and_stopping, setup_bare, teardown),
		cmocka_unit_test_setup_teardown(sigterm_lets_a_request_in_flight_finish, setup, teardown),
		cmocka_unit_test_setup_teardown(sighup_reloads_the_tls_certificate, setup_bare, teardown),
		cmocka_unit_test_setup_teardown(sighup_without_tls_says_nothing_about_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(options_without_credentials_gets_401_then_works, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
