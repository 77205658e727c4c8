/*
 * bench_fetch.c: what fetching a 100 MB attachment costs a real easd,
 * started through the e2e harness. Reported, not asserted: for each
 * request, easd's VmRSS before, its peak while the answer is sent
 * (sampled every 10 ms from /proc/<pid>/status), after, the growth, wall
 * and easd CPU time; every answer is checked (size and SHA-256 of the
 * bytes). Target: growth under 10 MB for the attachment fetches.
 *
 *   1. ItemOperations Fetch of the attachment whole, multipart;
 *   2. the same inline (Data in base64);
 *   3. a Range of its last 10 MB, inline;
 *   4. ItemOperations Fetch of the message, body truncated to 1 KB;
 *   5. Sync (SyncKey 0, then the window) with the same truncation;
 *   6. the last 10 MB by Range, multipart, read by a slow client (a 16 KB
 *      receive buffer, 64 KB every 20 ms, about 3 MB/s): easd gives its
 *      store session back between windows, and what that costs in CPU.
 *
 * The message (a short text body and the attachment in base64, 137 MB) is
 * put into the store through the store API while easd runs, as LMTP would
 * (LMTP takes at most 50 MB).
 *
 * Usage: bench_fetch [RESULT_FILE [BUILD_DIR]]. easd is BUILD_DIR/easd;
 * without BUILD_DIR, $EASD_BUILD, else the directory this program was
 * built into, else "build".
 */
#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "benchlib.h"
#include "store/store.h"

#define PASSWORD "bench password"
#define ATTACHMENT_BYTES (100u * 1024 * 1024)
#define RANGE_BYTES (10u * 1024 * 1024)
#define TRUNCATION 1024
#define TARGET_KB (10 * 1024)

static struct e2e_server easd;

/* easd's VmRSS in kB. */
static long easd_rss_kb(void)
{
	return bench_rss_kb(easd.pid);
}

/* easd's CPU time (utime + stime) in seconds. */
static double easd_cpu_seconds(void)
{
	double seconds = bench_cpu_seconds(easd.pid);
	return seconds < 0 ? 0 : seconds;
}

/* ---- the peak RSS while a request runs ---- */

struct sampler {
	pthread_t thread;
	atomic_bool stop;
	atomic_long peak_kb;
};

static void *sample(void *context)
{
	struct sampler *s = context;
	while (!atomic_load(&s->stop)) {
		long kb = easd_rss_kb();
		if (kb > atomic_load(&s->peak_kb))
			atomic_store(&s->peak_kb, kb);
		usleep(10 * 1000);
	}
	return NULL;
}

static void sampler_start(struct sampler *s)
{
	atomic_store(&s->stop, false);
	atomic_store(&s->peak_kb, easd_rss_kb());
	pthread_create(&s->thread, NULL, sample, s);
}

static long sampler_stop(struct sampler *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	return atomic_load(&s->peak_kb);
}

/* ---- the message ---- */

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + 3 + i / 251);
}

static char *sha256_hex(const uint8_t *bytes, size_t len)
{
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, bytes, len);
}

/* The expected SHA-256 of pattern bytes [first, first + len). */
static char *pattern_sha256(size_t first, size_t len)
{
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	uint8_t block[65536];
	for (size_t done = 0; done < len;) {
		size_t n = len - done < sizeof(block) ? len - done : sizeof(block);
		for (size_t i = 0; i < n; i++)
			block[i] = pattern(first + done + i);
		g_checksum_update(sum, block, n);
		done += n;
	}
	char *hex = g_strdup(g_checksum_get_string(sum));
	g_checksum_free(sum);
	return hex;
}

/* A message with a text body and the attachment in base64, 76-character lines (RFC 2045). */
static void build_message(struct buf *mime)
{
	static const char head[] =
		"From: Bench <bench@example.org>\r\nTo: alice@localhost\r\nSubject: 100 MB attached\r\n"
		"Message-ID: <bench-fetch@example.org>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe data is attached.\r\n"
		"--b\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"
		"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\n\r\n";
	buf_init(mime, 0);
	buf_reserve(mime, ATTACHMENT_BYTES / 57 * 78 + 4096);
	buf_append_cstr(mime, head);
	uint8_t line[57];
	char text[80];
	for (size_t at = 0; at < ATTACHMENT_BYTES; at += sizeof(line)) {
		size_t n = ATTACHMENT_BYTES - at < sizeof(line) ? ATTACHMENT_BYTES - at : sizeof(line);
		for (size_t i = 0; i < n; i++)
			line[i] = pattern(at + i);
		int state = 0, save = 0;
		size_t len = g_base64_encode_step(line, n, FALSE, text, &state, &save);
		len += g_base64_encode_close(FALSE, text + len, &state, &save);
		buf_append(mime, text, len);
		buf_append_cstr(mime, "\r\n");
	}
	buf_append_cstr(mime, "--b--\r\n");
}

/* Puts the message into alice's Inbox; returns its ServerId parts. */
static void deliver(int64_t *folder_out, int64_t *item_out, size_t *size_out)
{
	char path[300], error[256];
	struct store *store;
	struct store_user user;
	struct buf mime;
	build_message(&mime);
	*size_out = mime.len;
	snprintf(path, sizeof(path), "%s/data", easd.dir);
	if (store_open(path, 1, &store, error, sizeof(error)) < 0)
		bench_die(&easd, "store: %s", error);
	struct arena *arena = arena_new(0);
	struct store_session *session = store_session_acquire(store);
	struct store_item_meta meta = { .received = time(NULL), .message_id = "bench-fetch@example.org" };
	if (store_user_find(session, arena, "alice", &user) != STORE_OK ||
	    store_folder_find_type(session, user.id, STORE_FOLDER_INBOX, folder_out) != STORE_OK ||
	    store_begin(session) != STORE_OK ||
	    store_item_add(session, user.id, *folder_out, mime.data, mime.len, &meta, item_out) != STORE_OK ||
	    store_commit(session) != STORE_OK)
		bench_die(&easd, "cannot deliver: %s", store_session_error(session));
	store_session_release(&session);
	store_close(&store);
	arena_free(&arena);
	buf_cleanup(&mime);
}

/* ---- requests ---- */

struct measure {
	long before_kb, peak_kb, after_kb;
	double seconds, cpu;
};

static struct easclient *client_new(const char *device_id, bool multipart)
{
	struct easclient_options options = e2e_client_options(&easd, "alice", PASSWORD, device_id);
	options.accept_multipart = multipart;
	struct easclient *client = easclient_new(&options);
	if (easclient_provision(client, NULL) != 0)
		bench_die(&easd, "provisioning %s failed", device_id);
	return client;
}

/* Posts xml and measures easd while it answers. */
static void post_measured(struct easclient *client, const char *command, const char *xml,
			  struct easclient_response *response, struct measure *m)
{
	struct sampler sampler;
	m->before_kb = easd_rss_kb();
	double cpu = easd_cpu_seconds(), start = bench_now();
	sampler_start(&sampler);
	if (easclient_post_xml(client, command, xml, response) != 0 || response->http_status != 200)
		bench_die(&easd, "%s: HTTP %ld", command, response->http_status);
	m->peak_kb = sampler_stop(&sampler);
	m->seconds = bench_now() - start;
	m->cpu = easd_cpu_seconds() - cpu;
	usleep(200 * 1000);
	m->after_kb = easd_rss_kb();
}

static void say_measure(const char *what, const struct measure *m, const char *check)
{
	long growth = m->peak_kb - m->before_kb;
	bench_say("  %-34s %7ld %7ld %7ld %7.1f %6.2f %6.2f  %s%s\n", what, m->before_kb / 1024, m->peak_kb / 1024,
	    m->after_kb / 1024, growth / 1024.0, m->seconds, m->cpu, check,
	    growth < TARGET_KB ? "" : "  (over target)");
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Checks the bytes against pattern [first, first + len): "ok <size> <sha256 prefix>" or dies. */
static const char *verify(const char *what, const uint8_t *bytes, size_t got, size_t first, size_t len)
{
	static char line[128];
	if (got != len)
		bench_die(&easd, "%s: %zu bytes, want %zu", what, got, len);
	char *have = sha256_hex(bytes, got), *want = pattern_sha256(first, len);
	if (strcmp(have, want) != 0)
		bench_die(&easd, "%s: SHA-256 %s, want %s", what, have, want);
	snprintf(line, sizeof(line), "ok, %zu bytes, sha256 %.16s", got, have);
	g_free(have);
	g_free(want);
	return line;
}

static void fetch_xml(char *xml, size_t size, const char *reference, const char *range)
{
	char options[128] = "";
	if (range != NULL)
		snprintf(options, sizeof(options), "<Options><Range>%s</Range></Options>", range);
	snprintf(xml, size,
		 "<ItemOperations xmlns=\"ItemOperations\" xmlns:airsyncbase=\"AirSyncBase\"><Fetch><Store>Mailbox</Store>"
		 "<airsyncbase:FileReference>%s</airsyncbase:FileReference>%s</Fetch></ItemOperations>",
		 reference, options);
}

static void fetch_multipart(const char *reference)
{
	struct easclient *client = client_new("BENCHMULTI", true);
	struct easclient_response response;
	struct measure m;
	char xml[1024];
	easclient_response_init(&response);
	fetch_xml(xml, sizeof(xml), reference, NULL);
	post_measured(client, "ItemOperations", xml, &response, &m);
	const uint8_t *body = response.body.data;
	if (response.body.len < 20 || le32(body) != 2)
		bench_die(&easd, "multipart: not two parts");
	uint32_t offset = le32(body + 12), length = le32(body + 16);
	if ((size_t)offset + length != response.body.len)
		bench_die(&easd, "multipart: part 1 at %u+%u of %zu", offset, length, response.body.len);
	say_measure("1. whole, multipart", &m, verify("multipart", body + offset, length, 0, ATTACHMENT_BYTES));
	easclient_response_cleanup(&response);
	easclient_free(&client);
}

/* Inline: Data's base64, decoded. */
static void fetch_inline(const char *what, const char *reference, const char *range, size_t first, size_t len)
{
	struct easclient *client = client_new("BENCHINLINE", false);
	struct easclient_response response;
	struct measure m;
	char xml[1024];
	easclient_response_init(&response);
	fetch_xml(xml, sizeof(xml), reference, range);
	post_measured(client, "ItemOperations", xml, &response, &m);
	/* 140 MB of base64 is past the decoder's default limits, which are for requests. */
	struct wbxml_limits limits = { .max_string = UINT32_MAX, .max_total = SIZE_MAX };
	struct arena *arena = arena_new(0);
	struct wbxml_node *root = NULL;
	if (wbxml_tree_parse(arena, response.body.data, response.body.len, &limits, &root, NULL) != WBXML_OK)
		bench_die(&easd, "%s: the answer does not decode", what);
	const char *data = easclient_find_text(root, WBXML_ITEMOPERATIONS_DATA, arena);
	if (data == NULL)
		bench_die(&easd, "%s: no Data", what);
	gsize decoded_len;
	guchar *decoded = g_base64_decode(data, &decoded_len);
	say_measure(what, &m, verify(what, decoded, decoded_len, first, len));
	g_free(decoded);
	arena_free(&arena);
	easclient_response_cleanup(&response);
	easclient_free(&client);
}

static const char body_options[] =
	"<airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"
	"<airsyncbase:TruncationSize>1024</airsyncbase:TruncationSize></airsyncbase:BodyPreference>";

/* The truncated body and the listed attachment size, checked. */
static const char *check_item(const char *what, struct easclient_response *response, struct arena *arena)
{
	static char line[160];
	struct wbxml_node *root = easclient_parse(response, arena);
	const char *data = root != NULL ? easclient_find_text(root, WBXML_AIRSYNCBASE_DATA, arena) : NULL;
	const char *truncated = root != NULL ? easclient_find_text(root, WBXML_AIRSYNCBASE_TRUNCATED, arena) : NULL;
	const struct wbxml_node *attachment = root != NULL ? easclient_find(root, WBXML_AIRSYNCBASE_ATTACHMENT) : NULL;
	if (data == NULL || strstr(data, "The data is attached.") == NULL || attachment == NULL)
		bench_die(&easd, "%s: no body or no attachment", what);
	snprintf(line, sizeof(line), "ok, body \"%.21s\"%s, attachment listed at %s bytes, response %zu bytes", data,
		 truncated != NULL ? " truncated" : "",
		 easclient_find_text(attachment, WBXML_AIRSYNCBASE_ESTIMATED_DATA_SIZE, arena), response->body.len);
	return line;
}

static void fetch_item(int64_t folder, int64_t item)
{
	struct easclient *client = client_new("BENCHITEM", false);
	struct easclient_response response;
	struct measure m;
	char xml[2048];
	easclient_response_init(&response);
	snprintf(xml, sizeof(xml),
		 "<ItemOperations xmlns=\"ItemOperations\" xmlns:airsync=\"AirSync\" xmlns:airsyncbase=\"AirSyncBase\">"
		 "<Fetch><Store>Mailbox</Store><airsync:CollectionId>%lld</airsync:CollectionId>"
		 "<airsync:ServerId>%lld:%lld</airsync:ServerId><Options>%s</Options></Fetch></ItemOperations>",
		 (long long)folder, (long long)folder, (long long)item, body_options);
	post_measured(client, "ItemOperations", xml, &response, &m);
	struct arena *arena = arena_new(0);
	say_measure("4. item, body truncated to 1 KB", &m, check_item("item", &response, arena));
	arena_free(&arena);
	easclient_response_cleanup(&response);
	easclient_free(&client);
}

static void sync_item(int64_t folder)
{
	struct easclient *client = client_new("BENCHSYNC", false);
	struct easclient_response response;
	struct measure m;
	char xml[2048];
	easclient_response_init(&response);
	if (easclient_post_xml(client, "FolderSync", "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>",
			       &response) != 0)
		bench_die(&easd, "FolderSync failed");
	snprintf(xml, sizeof(xml),
		 "<Sync xmlns=\"AirSync\"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>%lld</CollectionId>"
		 "</Collection></Collections></Sync>",
		 (long long)folder);
	if (easclient_post_xml(client, "Sync", xml, &response) != 0)
		bench_die(&easd, "Sync 0 failed");
	struct arena *arena = arena_new(0);
	struct wbxml_node *root = easclient_parse(&response, arena);
	const char *key = root != NULL ? easclient_find_text(root, WBXML_AIRSYNC_SYNC_KEY, arena) : NULL;
	if (key == NULL)
		bench_die(&easd, "Sync 0: no SyncKey");
	snprintf(xml, sizeof(xml),
		 "<Sync xmlns=\"AirSync\" xmlns:airsyncbase=\"AirSyncBase\"><Collections><Collection><SyncKey>%s</SyncKey>"
		 "<CollectionId>%lld</CollectionId><GetChanges>1</GetChanges><WindowSize>10</WindowSize>"
		 "<Options>%s</Options></Collection></Collections></Sync>",
		 key, (long long)folder, body_options);
	post_measured(client, "Sync", xml, &response, &m);
	say_measure("5. Sync, body truncated to 1 KB", &m, check_item("sync", &response, arena));
	arena_free(&arena);
	easclient_response_cleanup(&response);
	easclient_free(&client);
}

/* The request over a plain socket, read slowly; returns the body's bytes received. */
static size_t slow_request(const char *reference, const char *range, uint32_t policy_key)
{
	char xml[1024], head[1024];
	struct buf body;
	buf_init(&body, 0);
	fetch_xml(xml, sizeof(xml), reference, range);
	if (wbxml_from_xml(xml, strlen(xml), false, &body, NULL) != 0)
		bench_die(&easd, "slow: cannot encode the request");
	gchar *credentials = g_base64_encode((const guchar *)"alice:" PASSWORD, strlen("alice:" PASSWORD));
	int n = snprintf(head, sizeof(head),
			 "POST /Microsoft-Server-ActiveSync?Cmd=ItemOperations&User=alice&DeviceId=BENCHSLOW&DeviceType=bench "
			 "HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\nMS-ASProtocolVersion: 14.1\r\n"
			 "X-MS-PolicyKey: %u\r\nMS-ASAcceptMultiPart: T\r\nContent-Type: application/vnd.ms-sync.wbxml\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 credentials, policy_key, body.len);
	g_free(credentials);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int small = 16 * 1024;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(easd.port) };
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || write(fd, head, (size_t)n) != n ||
	    write(fd, body.data, body.len) != (ssize_t)body.len)
		bench_die(&easd, "slow: cannot send the request");
	buf_cleanup(&body);
	static char chunk[64 * 1024];
	size_t received = 0;
	ssize_t got;
	while ((got = read(fd, chunk, sizeof(chunk))) > 0) {
		received += (size_t)got;
		usleep(20 * 1000);
	}
	close(fd);
	return received;
}

static void fetch_slowly(const char *reference)
{
	struct easclient *client = client_new("BENCHSLOW", true);
	struct sampler sampler;
	struct measure m;
	char range[64], check[96];
	snprintf(range, sizeof(range), "%u-%u", ATTACHMENT_BYTES - RANGE_BYTES, ATTACHMENT_BYTES - 1);
	m.before_kb = easd_rss_kb();
	double cpu = easd_cpu_seconds(), start = bench_now();
	sampler_start(&sampler);
	size_t received = slow_request(reference, range, easclient_policy_key(client));
	m.peak_kb = sampler_stop(&sampler);
	m.seconds = bench_now() - start;
	m.cpu = easd_cpu_seconds() - cpu;
	m.after_kb = easd_rss_kb();
	if (received < RANGE_BYTES)
		bench_die(&easd, "slow: %zu bytes received", received);
	snprintf(check, sizeof(check), "%zu bytes received (headers and multipart included)", received);
	say_measure("6. last 10 MB by Range, slow client", &m, check);
	easclient_free(&client);
}

int main(int argc, char **argv)
{
	static const char *const users[] = { "alice:" PASSWORD, NULL };
	bench_choose_build(argc, argv);
	double began = bench_now();
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	bench_say("Fetching a 100 MB attachment from a real easd (make bench: %s)\n", argv[0]);
	bench_say("date: %04d-%02d-%02dT%02d:%02dZ, command: make bench, nproc %ld\n", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, sysconf(_SC_NPROCESSORS_ONLN));
	bench_say("easd: release build, SQLite store (WAL, no mmap); one libcurl client on the same machine; easd VmRSS\n"
	    "      sampled every 10 ms while each request runs; target: growth (peak - before) under %d MB\n",
	    TARGET_KB / 1024);
	if (e2e_start(&easd, NULL, users) < 0)
		bench_die(&easd, "easd did not start");
	int64_t folder, item;
	size_t size;
	bench_say("  easd RSS idle after start %ld kB\n", easd_rss_kb());
	double start = bench_now();
	deliver(&folder, &item, &size);
	bench_say("  delivered one message of %zu bytes (attachment %u bytes decoded) through the store API in %.1f s\n",
	    size, ATTACHMENT_BYTES, bench_now() - start);
	char reference[64], range[64];
	snprintf(reference, sizeof(reference), "%lld:%lld:0", (long long)folder, (long long)item);
	bench_say("\n  request                            RSS MB: before  peak   after  growth  wall s  CPU s  answer\n");
	fetch_multipart(reference);
	fetch_inline("2. whole, inline (base64)", reference, NULL, 0, ATTACHMENT_BYTES);
	snprintf(range, sizeof(range), "%u-%u", ATTACHMENT_BYTES - RANGE_BYTES, ATTACHMENT_BYTES - 1);
	fetch_inline("3. last 10 MB by Range, inline", reference, range, ATTACHMENT_BYTES - RANGE_BYTES, RANGE_BYTES);
	fetch_item(folder, item);
	sync_item(folder);
	fetch_slowly(reference);
	int stopped = e2e_stop(&easd);
	bench_say("\nwhole run: %.0f s; easd stopped with status %d\n", bench_now() - began, stopped);
	e2e_cleanup(&easd);
	int status = 0;
	if (argc > 1 && bench_report_write(argv[1]) < 0) {
		fprintf(stderr, "bench_fetch: cannot write %s: %s\n", argv[1], strerror(errno));
		status = 1;
	}
	bench_report_free();
	return status;
}
