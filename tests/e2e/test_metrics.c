/*
 * test_metrics.c: the metrics listener ([metrics]) of a real easd, read
 * with libcurl as Prometheus reads it: a port of its own (the EAS port
 * serves no metrics, the metrics port no EAS), /health, and the counters
 * moving by exactly what was done between two scrapes: OPTIONS, refused
 * credentials, an unknown command, Provision and FolderSync; a parked
 * Ping counted once, when it ends; LMTP outcomes per recipient (an
 * address probe that never sends DATA counts for nothing); a failed TLS
 * handshake.
 *
 * easd writes the metrics port to [metrics] port_file, in a directory of
 * the test's own (the e2e_mail fixture writes the configuration and starts
 * easd in one go). A request is counted when its access-log line is
 * written, just after its answer went out, so a scrape waits up to 2 s for
 * the expected values before it asserts them, and the scrape a comparison
 * starts from waits until the requests answered before are all counted.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "e2e_mail.h"
#include "e2e_postfix.h"

/* [lmtp] max_message_size for the test: a message of 5000 bytes is over it. */
#define LMTP_MAX_MESSAGE 4096
#define WAIT_MS 2000
#define FOLDERSYNC_ZERO "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>"

static char metrics_dir[256];
static unsigned metrics_port, lmtp_port;

/* ---- HTTP on the metrics port ---- */

static size_t collect(char *data, size_t size, size_t count, void *body)
{
	g_string_append_len(body, data, (gssize)(size * count));
	return size * count;
}

/* A request to 127.0.0.1:port; returns the HTTP status, the body in *body_out (g_free). */
static long http_request(unsigned port, const char *method, const char *path, char **body_out,
			 char **content_type_out)
{
	CURL *curl = curl_easy_init();
	assert_non_null(curl);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	GString *body = g_string_new(NULL);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	CURLcode result = curl_easy_perform(curl);
	if (result != CURLE_OK)
		fail_msg("%s %s: %s", method, url, curl_easy_strerror(result));
	long status = 0;
	char *type = NULL;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
	if (content_type_out != NULL)
		*content_type_out = g_strdup(type != NULL ? type : "");
	curl_easy_cleanup(curl);
	*body_out = g_string_free(body, FALSE);
	return status;
}

/* GET /metrics, asserting 200 and the exposition format's media type (g_free). */
static char *scrape(void)
{
	char *body, *type;
	assert_int_equal(http_request(metrics_port, "GET", "/metrics", &body, &type), 200);
	assert_string_equal(type, "text/plain; version=0.0.4; charset=utf-8");
	g_free(type);
	return body;
}

/* The value of the line "series value"; 0 when there is none (a counter not yet seen). */
static long long value_of(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *line = text; line != NULL && *line != '\0'; line = strchr(line, '\n')) {
		line += *line == '\n';
		if (strncmp(line, series, n) == 0 && line[n] == ' ')
			return strtoll(line + n + 1, NULL, 10);
	}
	return 0;
}

/* Requests counted so far: the sum of the histograms' counts. */
static long long requests_counted(const char *text)
{
	static const char prefix[] = "easd_request_duration_seconds_count{";
	long long total = 0;
	for (const char *line = strstr(text, prefix); line != NULL; line = strstr(line + 1, prefix))
		total += strtoll(strchr(line, ' ') + 1, NULL, 10);
	return total;
}

/*
 * The "before" of a comparison: a scrape once the requests answered so far
 * are all counted (two scrapes 100 ms apart agree), so none of the
 * fixture's lands in what the test then does.
 */
static char *scrape_settled(void)
{
	char *text = scrape();
	for (int waited = 0; waited < WAIT_MS; waited += 100) {
		usleep(100 * 1000);
		char *again = scrape();
		bool settled = requests_counted(again) == requests_counted(text);
		g_free(text);
		text = again;
		if (settled)
			break;
	}
	return text;
}

struct moved {
	const char *series;
	long long by;
};

static bool all_moved(const char *before, const char *after, const struct moved *moves, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (value_of(after, moves[i].series) - value_of(before, moves[i].series) != moves[i].by)
			return false;
	return true;
}

/* Scrapes until each series moved by exactly its amount since before (at most WAIT_MS); returns the scrape. */
static char *assert_moved(const char *before, const struct moved *moves, size_t count)
{
	char *after = scrape();
	for (int waited = 0; !all_moved(before, after, moves, count) && waited < WAIT_MS; waited += 50) {
		usleep(50 * 1000);
		g_free(after);
		after = scrape();
	}
	for (size_t i = 0; i < count; i++) {
		long long by = value_of(after, moves[i].series) - value_of(before, moves[i].series);
		if (by != moves[i].by)
			fail_msg("%s moved by %lld, expected %lld", moves[i].series, by, moves[i].by);
	}
	return after;
}

#define MOVED(before, ...)                                                                                           \
	assert_moved(before, (const struct moved[]){ __VA_ARGS__ },                                                  \
		     sizeof((const struct moved[]){ __VA_ARGS__ }) / sizeof(struct moved))

/* ---- LMTP ---- */

/* Sends a whole dialogue (pipelined, ending in QUIT) to easd's LMTP port; returns every reply (g_free). */
static char *lmtp_talk(const char *dialogue)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)lmtp_port),
				       .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
	struct timeval timeout = { .tv_sec = 10 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	size_t len = strlen(dialogue);
	assert_int_equal(send(fd, dialogue, len, MSG_NOSIGNAL), (ssize_t)len);
	GString *replies = g_string_new(NULL);
	char chunk[4096];
	ssize_t n;
	while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0)
		g_string_append_len(replies, chunk, n);
	close(fd);
	return g_string_free(replies, FALSE);
}

/* One message of about body_bytes to the RCPT lines given; returns the replies (g_free). */
static char *lmtp_deliver(const char *rcpt_lines, size_t body_bytes)
{
	GString *body = g_string_new(NULL);
	while (body->len < body_bytes)
		g_string_append(body, "metrics metrics metrics metrics metrics metrics metrics metrics\r\n");
	char *dialogue = g_strdup_printf("LHLO test.example\r\nMAIL FROM:<sender@example.org>\r\n%sDATA\r\n"
					 "From: <sender@example.org>\r\nSubject: metrics\r\n"
					 "Message-ID: <metrics-%zu@example.org>\r\n\r\n%s.\r\nQUIT\r\n",
					 rcpt_lines, body_bytes, body->str);
	char *replies = lmtp_talk(dialogue);
	g_free(dialogue);
	g_string_free(body, TRUE);
	return replies;
}

/* ---- fixture: the e2e_mail one with metrics and LMTP on ---- */

static int group_setup(void **state)
{
	(void)state;
	const char *tmp = getenv("TMPDIR");
	snprintf(metrics_dir, sizeof(metrics_dir), "%s/easd-metrics-XXXXXX", tmp != NULL ? tmp : "/tmp");
	return mkdtemp(metrics_dir) != NULL && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	char *port_file = g_strdup_printf("%s/metrics.port", metrics_dir);
	unlink(port_file);
	g_free(port_file);
	rmdir(metrics_dir);
	curl_global_cleanup();
	return 0;
}

static unsigned read_port(const char *path)
{
	unsigned port = 0;
	FILE *in = fopen(path, "r");
	if (in == NULL)
		return 0;
	if (fscanf(in, "%u", &port) != 1)
		port = 0;
	fclose(in);
	return port;
}

static int setup(void **state)
{
	char *port_file = g_strdup_printf("%s/metrics.port", metrics_dir);
	unlink(port_file);
	lmtp_port = e2e_free_port();
	char *config = g_strdup_printf("[metrics]\nlisten = 127.0.0.1:0\nport_file = %s\n"
				       "[lmtp]\nlisten = 127.0.0.1:%u\nmax_message_size = %d\n[push]\nheartbeat_min = 6\n",
				       port_file, lmtp_port, LMTP_MAX_MESSAGE);
	int status = e2e_mail_setup_with(state, config);
	metrics_port = read_port(port_file);
	g_free(config);
	g_free(port_file);
	return status == 0 && metrics_port != 0 && lmtp_port != 0 ? 0 : -1;
}

/* ---- the listener ---- */

static void metrics_port_is_its_own_and_health_says_ok(void **state)
{
	struct e2e_mail *f = *state;
	assert_int_not_equal(metrics_port, f->server.port);
	char *body;
	assert_int_equal(http_request(metrics_port, "GET", "/health", &body, NULL), 200);
	assert_string_equal(body, "ok\n");
	g_free(body);
	char *text = scrape();
	assert_int_equal(value_of(text, "easd_build_info{version=\"0.1.0\"}"), 1);
	assert_non_null(strstr(text, "# TYPE easd_request_duration_seconds histogram\n"));
	g_free(text);
	/* Each port serves only its own: no EAS on the metrics port, no metrics on the EAS port. */
	assert_int_equal(http_request(metrics_port, "POST", "/Microsoft-Server-ActiveSync?Cmd=Sync", &body, NULL), 404);
	g_free(body);
	assert_int_equal(http_request(metrics_port, "POST", "/metrics", &body, NULL), 405);
	g_free(body);
	assert_int_equal(http_request(f->server.port, "GET", "/metrics", &body, NULL), 501);
	g_free(body);
}

/* ---- requests ---- */

static void requests_move_their_counters_exactly(void **state)
{
	struct e2e_mail *f = *state;
	char *before = scrape_settled();
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", "METRICS1");
	struct easclient *client = easclient_new(&options);
	assert_int_equal(easclient_options(client, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	/* Refused: a wrong password, a user easd does not have, a command it does not know. */
	struct easclient_options wrong = options;
	wrong.password = "wrong";
	struct easclient *intruder = easclient_new(&wrong);
	assert_int_equal(easclient_post_xml(intruder, "FolderSync", FOLDERSYNC_ZERO, &f->response), 0);
	assert_int_equal(f->response.http_status, 401);
	easclient_free(&intruder);
	wrong.user = "mallory";
	intruder = easclient_new(&wrong);
	assert_int_equal(easclient_options(intruder, &f->response), 0);
	assert_int_equal(f->response.http_status, 401);
	easclient_free(&intruder);
	assert_int_equal(easclient_post(client, "NoSuchCommand", NULL, 0, NULL, &f->response), 0);
	assert_int_equal(f->response.http_status, 501);
	/* The ordinary start of a device: Provision (two requests), FolderSync. */
	assert_int_equal(easclient_provision(client, &f->response), 0);
	assert_int_equal(easclient_post_xml(client, "FolderSync", FOLDERSYNC_ZERO, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(easclient_find_text(easclient_parse(&f->response, f->arena), WBXML_FOLDERHIERARCHY_STATUS,
						f->arena), "1");
	char *after = MOVED(before,
		{ "easd_requests_total{command=\"OPTIONS\",http_status=\"200\",eas_status=\"none\"}", 1 },
		{ "easd_requests_total{command=\"OPTIONS\",http_status=\"401\",eas_status=\"none\"}", 1 },
		{ "easd_requests_total{command=\"FolderSync\",http_status=\"401\",eas_status=\"none\"}", 1 },
		{ "easd_requests_total{command=\"other\",http_status=\"501\",eas_status=\"none\"}", 1 },
		{ "easd_requests_total{command=\"Provision\",http_status=\"200\",eas_status=\"1\"}", 2 },
		{ "easd_requests_total{command=\"FolderSync\",http_status=\"200\",eas_status=\"1\"}", 1 },
		{ "easd_request_duration_seconds_count{command=\"OPTIONS\"}", 2 },
		{ "easd_request_duration_seconds_count{command=\"FolderSync\"}", 2 },
		{ "easd_request_duration_seconds_count{command=\"Provision\"}", 2 },
		{ "easd_request_duration_seconds_count{command=\"other\"}", 1 },
		{ "easd_request_duration_seconds_bucket{command=\"Provision\",le=\"+Inf\"}", 2 },
		/* OPTIONS, Provision twice, FolderSync: ok; the unknown command is refused before credentials. */
		{ "easd_auth_decisions_total{decision=\"ok\"}", 4 },
		{ "easd_auth_decisions_total{decision=\"bad_password\"}", 1 },
		{ "easd_auth_decisions_total{decision=\"unknown_user\"}", 1 },
		{ "easd_auth_decisions_total{decision=\"throttled\"}", 0 },
		{ "easd_requests_total{command=\"Ping\",http_status=\"200\",eas_status=\"1\"}", 0 },
		{ "easd_lmtp_deliveries_total{result=\"delivered\"}", 0 },
		{ "easd_store_busy_total", 0 },
		/* Every request whose credentials were checked used the store. */
		{ "easd_request_store_wait_seconds_count", 6 },
		{ "easd_tls_handshakes_failed_total", 0 });
	/* Scrapes are not requests: a second one moves nothing. */
	char *again = MOVED(after, { "easd_request_duration_seconds_count{command=\"OPTIONS\"}", 0 },
			    { "easd_auth_decisions_total{decision=\"ok\"}", 0 });
	g_free(again);
	g_free(after);
	g_free(before);
	easclient_free(&client);
}

/* ---- a parked Ping ---- */

static void parked_ping_counts_once_when_it_ends(void **state)
{
	struct e2e_mail *f = *state;
	e2e_mail_sync_inbox(f, f->phone);
	char *before = scrape_settled();
	const char *ping = e2e_mail_format(f, "<Ping xmlns=\"Ping\"><HeartbeatInterval>300</HeartbeatInterval><Folders>"
					   "<Folder><Id>%s</Id><Class>Email</Class></Folder></Folders></Ping>", f->inbox);
	struct e2e_call *call = e2e_mail_call_start(f, "PHONE1", f->phone, "Ping", ping, 0);
	/* Parked: the gauge says so, and the Ping is not counted yet. */
	char *parked = MOVED(before, { "easd_parked_requests", 1 },
			     { "easd_request_duration_seconds_count{command=\"Ping\"}", 0 });
	e2e_mail_call_assert_waiting(call, 300);
	char *replies = lmtp_deliver("RCPT TO:<alice@localhost>\r\n", 100);
	assert_non_null(strstr(replies, "250 2.0.0 <alice@localhost> delivered"));
	struct wbxml_node *root = e2e_mail_call_finish(f, call, 3000);
	assert_non_null(root);
	assert_string_equal(easclient_find_text(root, WBXML_PING_STATUS, f->arena), "2");
	char *after = MOVED(before, { "easd_parked_requests", 0 },
			    { "easd_requests_total{command=\"Ping\",http_status=\"200\",eas_status=\"2\"}", 1 },
			    { "easd_request_duration_seconds_count{command=\"Ping\"}", 1 },
			    { "easd_push_wakes_total{reason=\"changed\"}", 1 },
			    { "easd_push_wakes_total{reason=\"expired\"}", 0 },
			    { "easd_lmtp_deliveries_total{result=\"delivered\"}", 1 });
	g_free(after);
	g_free(replies);
	g_free(parked);
	g_free(before);
}

/* ---- LMTP ---- */

static void lmtp_outcomes_count_per_recipient(void **state)
{
	(void)state;
	char *before = scrape_settled();
	char *replies = lmtp_deliver("RCPT TO:<alice@localhost>\r\nRCPT TO:<bob+lists@localhost>\r\n", 200);
	assert_non_null(strstr(replies, "250 2.0.0 <bob+lists@localhost> delivered"));
	g_free(replies);
	/* Over [lmtp] max_message_size: refused, once per recipient. */
	replies = lmtp_deliver("RCPT TO:<alice@localhost>\r\n", LMTP_MAX_MESSAGE + 1000);
	assert_non_null(strstr(replies, "552 5.3.4 <alice@localhost> message too big"));
	g_free(replies);
	/* An address probe (Postfix's reject_unverified_recipient) never sends DATA: no delivery either way. */
	replies = lmtp_talk("LHLO test.example\r\nMAIL FROM:<>\r\nRCPT TO:<nobody@localhost>\r\n"
			    "RCPT TO:<alice@localhost>\r\nRSET\r\nQUIT\r\n");
	assert_non_null(strstr(replies, "550 5.1.1 <nobody@localhost> no such user"));
	g_free(replies);
	char *after = MOVED(before, { "easd_lmtp_deliveries_total{result=\"delivered\"}", 2 },
			    { "easd_lmtp_deliveries_total{result=\"refused\"}", 1 },
			    { "easd_lmtp_deliveries_total{result=\"failed\"}", 0 });
	g_free(after);
	g_free(before);
}

/* ---- TLS ---- */

struct tls_fixture {
	struct e2e_server server;
	unsigned metrics_port;
};

/* easd with a self-signed certificate (the openssl command) and metrics; its port file in its own directory. */
/* The guard's state, in easd's memory only, read and refilled with easctl throttle through this listener. */
static void guard_state_is_shown_and_cleared_by_easctl(void **state)
{
	struct e2e_mail *f = *state;
	char *port_file = g_strdup_printf("%s/metrics.port", metrics_dir);
	char *config = g_strdup_printf("[metrics]\nlisten = 127.0.0.1:0\nport_file = %s\n[guard]\nrequests_per_minute = 3\n",
				       port_file);
	g_free(e2e_reload(&f->server, config, "SIGHUP: reloaded"));
	/* The fixture's requests were counted: refilled, three pass and the fourth does not. */
	assert_non_null(strstr(e2e_mail_easctl(f, "throttle clear alice"), "budgets of alice refilled"));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(easclient_options(f->phone, &f->response), 0);
		assert_int_equal(f->response.http_status, 200);
	}
	assert_int_equal(easclient_options(f->phone, &f->response), 0);
	assert_int_equal(f->response.http_status, 503);
	const char *shown = e2e_mail_easctl(f, "throttle show");
	assert_non_null(strstr(shown, "alice"));
	assert_non_null(strstr(shown, "request_budget"));
	assert_non_null(strstr(e2e_mail_easctl(f, "throttle show --json"), "\"refused\":1,"));
	assert_non_null(strstr(e2e_mail_easctl(f, "throttle clear alice"), "budgets of alice refilled"));
	assert_int_equal(easclient_options(f->phone, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	/* Clearing is a POST; a GET is not one. */
	char *body;
	assert_int_equal(http_request(metrics_port, "GET", "/guard/clear", &body, NULL), 404);
	g_free(body);
	assert_int_equal(http_request(metrics_port, "POST", "/guard/clear", &body, NULL), 200);
	g_free(body);
	g_free(config);
	g_free(port_file);
}

static int setup_tls(void **state)
{
	struct tls_fixture *f = calloc(1, sizeof(*f));
	*state = f;
	if (f == NULL || e2e_prepare(&f->server) < 0)
		return -1;
	char *command = g_strdup_printf("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
					"-keyout '%s/key.pem' -out '%s/cert.pem' > '%s/openssl.log' 2>&1",
					f->server.dir, f->server.dir, f->server.dir);
	int made = system(command);
	g_free(command);
	if (made != 0) {
		fprintf(stderr, "openssl could not make a certificate: see %s/openssl.log\n", f->server.dir);
		return -1;
	}
	f->server.https = true;
	char *config = g_strdup_printf("[http]\ntls_certificate = %s/cert.pem\ntls_key = %s/key.pem\n"
				       "[metrics]\nlisten = 127.0.0.1:0\nport_file = %s/metrics.port\n",
				       f->server.dir, f->server.dir, f->server.dir);
	static const char *const users[] = { "alice:correct horse", NULL };
	int status = e2e_start_prepared(&f->server, config, users);
	g_free(config);
	char *port_file = g_strdup_printf("%s/metrics.port", f->server.dir);
	f->metrics_port = read_port(port_file);
	g_free(port_file);
	return status == 0 && f->metrics_port != 0 ? 0 : -1;
}

static int teardown_tls(void **state)
{
	struct tls_fixture *f = *state;
	int finished = f != NULL ? e2e_finish(&f->server) : 0;
	free(f);
	return finished;
}

static void tls_handshake_failures_are_counted(void **state)
{
	struct tls_fixture *f = *state;
	metrics_port = f->metrics_port;
	char *before = scrape_settled();
	/* Plain HTTP to the HTTPS port: the handshake fails, no request is made. */
	char *body;
	CURL *curl = curl_easy_init();
	char url[96];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/Microsoft-Server-ActiveSync", f->server.port);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	assert_int_not_equal(curl_easy_perform(curl), CURLE_OK);
	curl_easy_cleanup(curl);
	/* An ordinary HTTPS request afterwards: counted as a request, not as a failed handshake. */
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", "TLS1");
	struct easclient *client = easclient_new(&options);
	struct easclient_response response;
	easclient_response_init(&response);
	assert_int_equal(easclient_options(client, &response), 0);
	assert_int_equal(response.http_status, 200);
	char *after = MOVED(before, { "easd_tls_handshakes_failed_total", 1 },
			    { "easd_requests_total{command=\"OPTIONS\",http_status=\"200\",eas_status=\"none\"}", 1 });
	assert_int_equal(http_request(metrics_port, "GET", "/health", &body, NULL), 200);
	g_free(body);
	g_free(after);
	g_free(before);
	easclient_response_cleanup(&response);
	easclient_free(&client);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(metrics_port_is_its_own_and_health_says_ok, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(requests_move_their_counters_exactly, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(parked_ping_counts_once_when_it_ends, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(lmtp_outcomes_count_per_recipient, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(guard_state_is_shown_and_cleared_by_easctl, setup, e2e_mail_teardown),
		cmocka_unit_test_setup_teardown(tls_handshake_failures_are_counted, setup_tls, teardown_tls),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
