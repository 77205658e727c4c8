/*
 * bench_sync.c: what Sync costs on a real easd, started through the e2e
 * harness. Reported, not asserted:
 *   1. a no-change Sync on an Inbox of 100,000 messages against one of
 *      100 (the cursor's range query must not grow with the folder);
 *   2. no-change Syncs per second from 100 devices at once, and the same
 *      clients against a libmicrohttpd server that answers every request
 *      with an empty 200 and does no work (same flags and threads as
 *      easd), in the same run: easd's share of what HTTP alone allows;
 *   3. an initial sync of 10,000 messages in windows of 100: wall time,
 *      round trips, easd's CPU time;
 *   4. easd's RSS around each phase.
 * Messages go into the store through the store API, as LMTP would put
 * them, while easd runs.
 *
 * Usage: bench_sync [RESULT_FILE [BUILD_DIR]]. easd is BUILD_DIR/easd;
 * without BUILD_DIR, $EASD_BUILD, else the directory this program was
 * built into ($(BUILD)/bench/bench_sync), else "build".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "e2e.h"
#include "benchlib.h"
#include "store/store.h"

#define PASSWORD "bench password"

/* Phase 1: the folders compared, and how the no-change Syncs are timed. */
#define BIG_FOLDER_MESSAGES 100000
#define SMALL_FOLDER_MESSAGES 100
#define FIRST_SYNC_WINDOW 512
#define IDLE_WARMUP 200
#define IDLE_BLOCK 1000      /* requests per block; blocks alternate small, big, small, big */
#define IDLE_BLOCKS 2

/* Phase 2: 10 users of 10 devices each (no per-user device cap yet). */
#define LOAD_USERS 10
#define LOAD_DEVICES_PER_USER 10
#define LOAD_DEVICES (LOAD_USERS * LOAD_DEVICES_PER_USER)
#define LOAD_INBOX_MESSAGES 10
#define LOAD_SECONDS 10

/* Phase 3. */
#define INITIAL_MESSAGES 10000
#define INITIAL_WINDOW 100

/* Messages per store transaction when delivering. */
#define DELIVERY_BATCH 25000
/* Size of each delivered message. */
#define MESSAGE_BYTES 300
/* No sync to the end takes more round trips than this. */
#define MAX_ROUNDS 10000

static struct e2e_server easd;

/* ---- easd as a process: RSS and CPU time from /proc ---- */

static long easd_rss_kb(void)
{
	return bench_rss_kb(easd.pid);
}

/* utime + stime of every easd thread, in seconds. */
static double easd_cpu_seconds(void)
{
	double seconds = bench_cpu_seconds(easd.pid);
	if (seconds < 0)
		bench_die(&easd, "cannot read easd's CPU time");
	return seconds;
}

static void say_rss(const char *when)
{
	bench_say("  easd RSS %-28s %8ld kB\n", when, easd_rss_kb());
}

/* CPU seconds this program (the clients) has used. */
static double own_cpu_seconds(void)
{
	struct rusage usage;
	getrusage(RUSAGE_SELF, &usage);
	return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
	       (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

/* ---- delivery through the store API ---- */

/* Puts count small messages into user's Inbox, DELIVERY_BATCH per transaction. Returns seconds taken. */
static double deliver(const char *user, unsigned count)
{
	char path[300], error[256], message[MESSAGE_BYTES + 64], message_id[64];
	struct store *store;
	struct store_user record;
	int64_t inbox;
	snprintf(path, sizeof(path), "%s/data", easd.dir);
	double start = bench_now();
	if (store_open(path, 1, &store, error, sizeof(error)) < 0)
		bench_die(&easd, "store_open: %s", error);
	struct store_session *session = store_session_acquire(store);
	struct arena *arena = arena_new(0);
	if (store_user_find(session, arena, user, &record) != STORE_OK ||
	    store_folder_find_type(session, record.id, STORE_FOLDER_INBOX, &inbox) != STORE_OK)
		bench_die(&easd, "no Inbox for %s", user);
	for (unsigned i = 0; i < count; i++) {
		if (i % DELIVERY_BATCH == 0 && store_begin(session) != STORE_OK)
			bench_die(&easd, "store_begin: %s", store_session_error(session));
		snprintf(message_id, sizeof(message_id), "%s.%u@example.org", user, i);
		int n = snprintf(message, sizeof(message),
				 "From: Bob <bob@example.org>\r\nTo: %s@localhost\r\nSubject: Message %u\r\n"
				 "Message-ID: <%s>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nBody of %u: ",
				 user, i, message_id, i);
		/* Filler up to MESSAGE_BYTES, then the line end. */
		for (; n < MESSAGE_BYTES - 2; n++)
			message[n] = (char)('a' + n % 26);
		message[n++] = '\r';
		message[n++] = '\n';
		struct store_item_meta meta = { .received = time(NULL), .message_id = message_id };
		if (store_item_add(session, record.id, inbox, (const uint8_t *)message, (size_t)n, &meta, NULL) != STORE_OK)
			bench_die(&easd, "store_item_add: %s", store_session_error(session));
		if ((i + 1) % DELIVERY_BATCH == 0 || i + 1 == count)
			if (store_commit(session) != STORE_OK)
				bench_die(&easd, "store_commit: %s", store_session_error(session));
	}
	arena_free(&arena);
	store_session_release(&session);
	store_close(&store);
	return bench_now() - start;
}

/* ---- devices ---- */

struct device {
	struct easclient *client;
	char user[16];           /* the client keeps pointers to these two */
	char device_id[16];
	char name[40];
	char inbox[24];
	char sync_key[24];
	struct buf idle_body;    /* the no-change Sync, encoded once */
	struct buf idle_answer;  /* easd's verified answer to it: the same bytes every time */
};

/* A Sync of the Inbox as XML: SyncKey 0 has no GetChanges (MS-ASCMD 2.2.3.79). */
static void sync_xml(const struct device *device, unsigned window, char *xml, size_t size)
{
	snprintf(xml, size,
		 "<Sync xmlns=\"AirSync\" xmlns:airsyncbase=\"AirSyncBase\"><Collections><Collection>"
		 "<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>%s<WindowSize>%u</WindowSize>"
		 "<Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"
		 "<airsyncbase:TruncationSize>200</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options>"
		 "</Collection></Collections></Sync>",
		 device->sync_key, device->inbox, strcmp(device->sync_key, "0") != 0 ? "<GetChanges/>" : "", window);
}

static const char *inbox_of(struct device *device, struct easclient_response *response, struct arena *arena)
{
	static const char xml[] = "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>";
	if (easclient_post_xml(device->client, "FolderSync", xml, response) < 0 || response->http_status != 200)
		bench_die(&easd, "%s: FolderSync failed (HTTP %ld)", device->name, response->http_status);
	struct wbxml_node *root = easclient_parse(response, arena);
	for (const struct wbxml_node *add = easclient_find(root, WBXML_FOLDERHIERARCHY_ADD); add != NULL; add = add->next) {
		const char *type = easclient_find_text(add, WBXML_FOLDERHIERARCHY_TYPE, arena);
		if (type != NULL && strcmp(type, "2") == 0)
			return easclient_find_text(add, WBXML_FOLDERHIERARCHY_SERVER_ID, arena);
	}
	bench_die(&easd, "%s: no Inbox in the FolderSync answer", device->name);
}

/* A provisioned device that knows its Inbox. */
static void device_open(struct device *device, const char *user, const char *device_id)
{
	struct easclient_response response;
	struct arena *arena = arena_new(0);
	memset(device, 0, sizeof(*device));
	snprintf(device->user, sizeof(device->user), "%s", user);
	snprintf(device->device_id, sizeof(device->device_id), "%s", device_id);
	snprintf(device->name, sizeof(device->name), "%s/%s", user, device_id);
	struct easclient_options options = e2e_client_options(&easd, device->user, PASSWORD, device->device_id);
	device->client = easclient_new(&options);
	easclient_response_init(&response);
	if (easclient_provision(device->client, &response) < 0)
		bench_die(&easd, "%s: Provision failed (HTTP %ld)", device->name, response.http_status);
	snprintf(device->inbox, sizeof(device->inbox), "%s", inbox_of(device, &response, arena));
	snprintf(device->sync_key, sizeof(device->sync_key), "0");
	buf_init(&device->idle_body, 0);
	buf_init(&device->idle_answer, 0);
	easclient_response_cleanup(&response);
	arena_free(&arena);
}

static void device_close(struct device *device)
{
	easclient_free(&device->client);
	buf_cleanup(&device->idle_body);
	buf_cleanup(&device->idle_answer);
}

/* One Sync round: sends the device's key, takes the new one. Returns the Adds; *more: MoreAvailable. */
static unsigned sync_round(struct device *device, unsigned window, struct easclient_response *response, bool *more)
{
	char xml[1024];
	struct arena *arena = arena_new(0);
	sync_xml(device, window, xml, sizeof(xml));
	if (easclient_post_xml(device->client, "Sync", xml, response) < 0 || response->http_status != 200)
		bench_die(&easd, "%s: Sync failed (HTTP %ld)", device->name, response->http_status);
	struct wbxml_node *root = easclient_parse(response, arena);
	const char *status = root != NULL ? easclient_find_text(root, WBXML_AIRSYNC_STATUS, arena) : NULL;
	const char *key = root != NULL ? easclient_find_text(root, WBXML_AIRSYNC_SYNC_KEY, arena) : NULL;
	if (status == NULL || strcmp(status, "1") != 0 || key == NULL)
		bench_die(&easd, "%s: Sync answered Status %s", device->name, status != NULL ? status : "(none)");
	snprintf(device->sync_key, sizeof(device->sync_key), "%s", key);
	unsigned adds = easclient_count(root, WBXML_AIRSYNC_ADD);
	*more = easclient_find(root, WBXML_AIRSYNC_MORE_AVAILABLE) != NULL;
	arena_free(&arena);
	return adds;
}

/*
 * From SyncKey 0 until no MoreAvailable. Returns the Adds received;
 * *rounds_out counts every request, the SyncKey 0 one included.
 */
static unsigned sync_to_end(struct device *device, unsigned window, unsigned *rounds_out)
{
	struct easclient_response response;
	unsigned adds = 0, rounds = 0;
	bool more = true;
	easclient_response_init(&response);
	snprintf(device->sync_key, sizeof(device->sync_key), "0");
	sync_round(device, window, &response, &more);
	for (rounds = 1, more = true; more; rounds++) {
		if (rounds == MAX_ROUNDS)
			bench_die(&easd, "%s: still MoreAvailable after %u rounds", device->name, rounds);
		adds += sync_round(device, window, &response, &more);
	}
	easclient_response_cleanup(&response);
	if (rounds_out != NULL)
		*rounds_out = rounds;
	return adds;
}

/*
 * Encodes the device's no-change Sync once and keeps easd's first answer
 * to it, after checking that it is one: the empty response (MS-ASCMD
 * 2.2.1.21.2: nothing changed, the device keeps its key). easd answers an
 * idle collection the same way every time, so later answers are checked
 * by comparing them.
 */
static void prepare_idle(struct device *device)
{
	char xml[1024];
	struct easclient_response response;
	sync_xml(device, FIRST_SYNC_WINDOW, xml, sizeof(xml));
	if (wbxml_from_xml(xml, strlen(xml), false, &device->idle_body, NULL) != WBXML_OK)
		bench_die(&easd, "cannot encode a Sync");
	easclient_response_init(&response);
	if (easclient_post(device->client, "Sync", device->idle_body.data, device->idle_body.len, NULL, &response) < 0 ||
	    response.http_status != 200)
		bench_die(&easd, "%s: no-change Sync failed (HTTP %ld)", device->name, response.http_status);
	if (response.body.len != 0)
		bench_die(&easd, "%s: the no-change Sync was answered with %zu bytes, not the empty response", device->name,
		    response.body.len);
	buf_append(&device->idle_answer, response.body.data, response.body.len);
	easclient_response_cleanup(&response);
}

enum idle_outcome {
	IDLE_SAME,        /* the verified no-change answer */
	IDLE_FAILED,      /* transport failure or HTTP status other than 200 */
	IDLE_NOT_1,       /* an answer with a Status other than 1 */
	IDLE_DIFFERENT,   /* Status 1 but not the same answer (items, another key) */
};

/* One no-change Sync; *seconds_out is its round-trip time. */
static enum idle_outcome idle_sync(struct device *device, struct easclient_response *response, double *seconds_out)
{
	double start = bench_now();
	int sent = easclient_post(device->client, "Sync", device->idle_body.data, device->idle_body.len, NULL, response);
	*seconds_out = bench_now() - start;
	if (sent < 0 || response->http_status != 200)
		return IDLE_FAILED;
	if (response->body.len == device->idle_answer.len &&
	    memcmp(response->body.data, device->idle_answer.data, response->body.len) == 0)
		return IDLE_SAME;
	struct arena *arena = arena_new(0);
	struct wbxml_node *root = easclient_parse(response, arena);
	const char *status = root != NULL ? easclient_find_text(root, WBXML_AIRSYNC_STATUS, arena) : NULL;
	enum idle_outcome outcome = status != NULL && strcmp(status, "1") == 0 ? IDLE_DIFFERENT : IDLE_NOT_1;
	arena_free(&arena);
	return outcome;
}

/* ---- phase 1: no-change Sync on a big and a small folder ---- */

struct idle_figures {
	double *latencies;
	unsigned count;
	double cpu_seconds;   /* easd's, over the blocks */
	unsigned bad;         /* anything but the verified answer */
};

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* n no-change Syncs; bad answers always count, latencies and CPU only when timed. */
static void idle_block(struct device *device, struct idle_figures *figures, unsigned n, bool timed)
{
	struct easclient_response response;
	easclient_response_init(&response);
	double cpu = easd_cpu_seconds();
	for (unsigned i = 0; i < n; i++) {
		double seconds;
		if (idle_sync(device, &response, &seconds) != IDLE_SAME)
			figures->bad++;
		if (timed)
			figures->latencies[figures->count++] = seconds;
	}
	if (timed)
		figures->cpu_seconds += easd_cpu_seconds() - cpu;
	easclient_response_cleanup(&response);
}

static double mean_us(const struct idle_figures *figures)
{
	double sum = 0;
	for (unsigned i = 0; i < figures->count; i++)
		sum += figures->latencies[i];
	return sum * 1e6 / figures->count;
}

/* The q-quantile in microseconds (sorts the latencies). */
static double quantile_us(struct idle_figures *figures, double q)
{
	qsort(figures->latencies, figures->count, sizeof(double), compare_doubles);
	unsigned at = (unsigned)(q * (figures->count - 1) + 0.5);
	return figures->latencies[at] * 1e6;
}

static void first_sync(struct device *device, unsigned expected)
{
	unsigned rounds;
	double start = bench_now();
	unsigned adds = sync_to_end(device, FIRST_SYNC_WINDOW, &rounds);
	double seconds = bench_now() - start;
	if (adds != expected)
		bench_die(&easd, "%s: %u Adds for %u messages", device->name, adds, expected);
	bench_say("  first sync of %s (%u messages, windows of %u): %u round trips, %.2f s, %.0f messages/s\n",
	    device->name, adds, FIRST_SYNC_WINDOW, rounds, seconds, adds / seconds);
	prepare_idle(device);
}

static void phase_idle_cost(void)
{
	struct device big, small;
	bench_say("\n1. no-change Sync, Inbox of %u vs %u messages (one client, sequential)\n", BIG_FOLDER_MESSAGES,
	    SMALL_FOLDER_MESSAGES);
	say_rss("before");
	double seconds = deliver("big", BIG_FOLDER_MESSAGES);
	bench_say("  delivered %u messages of %d bytes through the store API in %.2f s (%u per transaction)\n",
	    BIG_FOLDER_MESSAGES, MESSAGE_BYTES, seconds, DELIVERY_BATCH);
	deliver("small", SMALL_FOLDER_MESSAGES);
	device_open(&big, "big", "BIGPHONE");
	device_open(&small, "small", "SMALLPHONE");
	first_sync(&big, BIG_FOLDER_MESSAGES);
	first_sync(&small, SMALL_FOLDER_MESSAGES);
	say_rss("after the first syncs");

	struct idle_figures big_figures = { .latencies = calloc(IDLE_BLOCK * IDLE_BLOCKS, sizeof(double)) };
	struct idle_figures small_figures = { .latencies = calloc(IDLE_BLOCK * IDLE_BLOCKS, sizeof(double)) };
	idle_block(&small, &small_figures, IDLE_WARMUP, false);
	idle_block(&big, &big_figures, IDLE_WARMUP, false);
	/* Alternating blocks, so drift (other load, cache state) falls on both alike. */
	for (unsigned b = 0; b < IDLE_BLOCKS; b++) {
		idle_block(&small, &small_figures, IDLE_BLOCK, true);
		idle_block(&big, &big_figures, IDLE_BLOCK, true);
	}
	double big_mean = mean_us(&big_figures), small_mean = mean_us(&small_figures);
	bench_say("  %-30s %10s %10s %10s %16s %6s\n", "", "mean (us)", "p50 (us)", "p99 (us)", "easd CPU/req (us)", "bad");
	char small_label[40], big_label[40];
	snprintf(small_label, sizeof(small_label), "Inbox of %u messages", SMALL_FOLDER_MESSAGES);
	snprintf(big_label, sizeof(big_label), "Inbox of %u messages", BIG_FOLDER_MESSAGES);
	bench_say("  %-30s %10.0f %10.0f %10.0f %16.0f %6u\n", small_label, small_mean,
	    quantile_us(&small_figures, 0.5), quantile_us(&small_figures, 0.99),
	    small_figures.cpu_seconds * 1e6 / small_figures.count, small_figures.bad);
	bench_say("  %-30s %10.0f %10.0f %10.0f %16.0f %6u\n", big_label, big_mean,
	    quantile_us(&big_figures, 0.5), quantile_us(&big_figures, 0.99),
	    big_figures.cpu_seconds * 1e6 / big_figures.count, big_figures.bad);
	bench_say("  ratio big/small (mean): %.2f (target: within 2)\n", big_mean / small_mean);
	bench_say("  (%u requests per folder in %u alternating blocks after %u warm-up; bad = any answer, warm-up\n"
	    "   included, but the empty response: nothing changed, the key stays)\n", IDLE_BLOCK * IDLE_BLOCKS, IDLE_BLOCKS, IDLE_WARMUP);
	say_rss("after");
	free(big_figures.latencies);
	free(small_figures.latencies);
	device_close(&big);
	device_close(&small);
}

/* ---- phase 2: 100 devices at once ---- */

struct worker {
	struct device device;
	struct easclient *bare;  /* the same device's requests to the bare server */
	pthread_t thread;
	pthread_barrier_t *start;
	atomic_bool *stop;
	bool to_bare;
	unsigned long requests, same, failed, not_1, different;
	double seconds;
};

/* One request of the bare run: the same body, any 200 with an empty body counts. */
static enum idle_outcome bare_sync(struct worker *w, struct easclient_response *response, double *seconds_out)
{
	double start = bench_now();
	int sent = easclient_post(w->bare, "Sync", w->device.idle_body.data, w->device.idle_body.len, NULL, response);
	*seconds_out = bench_now() - start;
	return sent == 0 && response->http_status == 200 && response->body.len == 0 ? IDLE_SAME : IDLE_FAILED;
}

static void *worker_run(void *context)
{
	struct worker *w = context;
	struct easclient_response response;
	easclient_response_init(&response);
	pthread_barrier_wait(w->start);
	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		double seconds;
		enum idle_outcome outcome = w->to_bare ? bare_sync(w, &response, &seconds)
						       : idle_sync(&w->device, &response, &seconds);
		switch (outcome) {
		case IDLE_SAME: w->same++; break;
		case IDLE_FAILED: w->failed++; break;
		case IDLE_NOT_1: w->not_1++; break;
		case IDLE_DIFFERENT: w->different++; break;
		}
		w->requests++;
		w->seconds += seconds;
	}
	easclient_response_cleanup(&response);
	return NULL;
}

/* The bare server: reads the body, answers 200 with nothing. */
static enum MHD_Result bare_answer(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
				   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)cls, (void)url, (void)method, (void)version, (void)upload_data;
	if (*con_cls == NULL) {
		*con_cls = connection;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	struct MHD_Response *response = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result result = MHD_queue_response(connection, 200, response);
	MHD_destroy_response(response);
	return result;
}

static struct MHD_Daemon *bare_start(uint16_t *port_out)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct MHD_Daemon *daemon = MHD_start_daemon(
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC, 0, NULL, NULL, bare_answer, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address, MHD_OPTION_THREAD_POOL_SIZE,
		(unsigned)(cores > 0 ? cores : 1), MHD_OPTION_END);
	if (daemon == NULL)
		bench_die(&easd, "cannot start the bare libmicrohttpd server");
	*port_out = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
	return daemon;
}

/* The set-up of phase 2: devices synced to the end, their no-change Sync verified. */
static void load_setup(struct worker *workers, const char *bare_url)
{
	double setup = bench_now();
	for (unsigned u = 0; u < LOAD_USERS; u++) {
		char user[16];
		snprintf(user, sizeof(user), "user%u", u);
		deliver(user, LOAD_INBOX_MESSAGES);
		for (unsigned d = 0; d < LOAD_DEVICES_PER_USER; d++) {
			struct worker *w = &workers[u * LOAD_DEVICES_PER_USER + d];
			char device_id[16];
			snprintf(device_id, sizeof(device_id), "LOAD%02u", d);
			device_open(&w->device, user, device_id);
			if (sync_to_end(&w->device, FIRST_SYNC_WINDOW, NULL) != LOAD_INBOX_MESSAGES)
				bench_die(&easd, "%s: not %d Adds", w->device.name, LOAD_INBOX_MESSAGES);
			prepare_idle(&w->device);
			struct easclient_options options = e2e_client_options(&easd, w->device.user, PASSWORD,
									      w->device.device_id);
			options.base_url = bare_url;
			w->bare = easclient_new(&options);
		}
	}
	bench_say("  set-up (deliver, Provision, FolderSync, sync to the end, sequential): %.1f s\n", bench_now() - setup);
}

struct load_figures {
	unsigned long requests, same, failed, not_1, different;
	double elapsed, latency, cpu, own_cpu;
	long peak_rss;
};

/* LOAD_SECONDS of every worker's requests, to easd or to the bare server. */
static void load_run(struct worker *workers, bool to_bare, struct load_figures *f)
{
	pthread_barrier_t start;
	atomic_bool stop = false;
	memset(f, 0, sizeof(*f));
	pthread_barrier_init(&start, NULL, LOAD_DEVICES + 1);
	for (unsigned i = 0; i < LOAD_DEVICES; i++) {
		struct worker *w = &workers[i];
		w->start = &start;
		w->stop = &stop;
		w->to_bare = to_bare;
		w->requests = w->same = w->failed = w->not_1 = w->different = 0;
		w->seconds = 0;
		if (pthread_create(&w->thread, NULL, worker_run, w) != 0)
			bench_die(&easd, "pthread_create: %s", strerror(errno));
	}
	pthread_barrier_wait(&start);
	double began = bench_now(), cpu = easd_cpu_seconds(), own_cpu = own_cpu_seconds();
	while (bench_now() - began < LOAD_SECONDS) {
		long rss = easd_rss_kb();
		f->peak_rss = rss > f->peak_rss ? rss : f->peak_rss;
		usleep(100 * 1000);
	}
	atomic_store(&stop, true);
	for (unsigned i = 0; i < LOAD_DEVICES; i++) {
		pthread_join(workers[i].thread, NULL);
		f->requests += workers[i].requests;
		f->same += workers[i].same;
		f->failed += workers[i].failed;
		f->not_1 += workers[i].not_1;
		f->different += workers[i].different;
		f->latency += workers[i].seconds;
	}
	f->elapsed = bench_now() - began;
	f->cpu = easd_cpu_seconds() - cpu;
	f->own_cpu = own_cpu_seconds() - own_cpu;
	pthread_barrier_destroy(&start);
}

static void phase_concurrent(void)
{
	struct worker *workers = calloc(LOAD_DEVICES, sizeof(*workers));
	struct load_figures easd_run, bare_run;
	uint16_t bare_port;
	char bare_url[64];
	bench_say("\n2. no-change Sync from %d devices at once (%d users x %d devices, Inbox of %d messages each)\n",
	    LOAD_DEVICES, LOAD_USERS, LOAD_DEVICES_PER_USER, LOAD_INBOX_MESSAGES);
	say_rss("before");
	struct MHD_Daemon *bare = bare_start(&bare_port);
	snprintf(bare_url, sizeof(bare_url), "http://127.0.0.1:%u", bare_port);
	load_setup(workers, bare_url);
	say_rss("after set-up");
	load_run(workers, false, &easd_run);
	bench_say("  easd: %lu requests in %.1f s: %.0f requests/s, mean latency %.1f ms\n", easd_run.requests,
	    easd_run.elapsed, easd_run.requests / easd_run.elapsed, easd_run.latency * 1e3 / easd_run.requests);
	bench_say("  answers: %lu the verified no-change one (empty), %lu Status other than 1, %lu Status 1 but different,\n"
	    "           %lu failed (transport or HTTP status not 200)\n", easd_run.same, easd_run.not_1,
	    easd_run.different, easd_run.failed);
	bench_say("  easd CPU: %.1f s over %.1f s (%.2f cores), %.0f us per request; the %d clients: %.2f cores\n",
	    easd_run.cpu, easd_run.elapsed, easd_run.cpu / easd_run.elapsed, easd_run.cpu * 1e6 / easd_run.requests,
	    LOAD_DEVICES, easd_run.own_cpu / easd_run.elapsed);
	bench_say("  easd RSS peak under load (sampled every 100 ms) %7ld kB\n", easd_run.peak_rss);
	load_run(workers, true, &bare_run);
	bench_say("  bare libmicrohttpd (empty 200, no work; in this process, so its CPU is the clients'):\n"
	    "        %lu requests in %.1f s: %.0f requests/s, %lu failed\n", bare_run.requests, bare_run.elapsed,
	    bare_run.requests / bare_run.elapsed, bare_run.failed);
	bench_say("  easd's share of that limit: %.0f%% (target >= 50%%)\n",
	    100.0 * (easd_run.requests / easd_run.elapsed) / (bare_run.requests / bare_run.elapsed));
	say_rss("after");
	MHD_stop_daemon(bare);
	for (unsigned i = 0; i < LOAD_DEVICES; i++) {
		device_close(&workers[i].device);
		easclient_free(&workers[i].bare);
	}
	free(workers);
}

/* ---- phase 3: initial sync ---- */

static void phase_initial_sync(void)
{
	struct device device;
	bench_say("\n3. initial sync of %d messages, windows of %d (one device)\n", INITIAL_MESSAGES, INITIAL_WINDOW);
	say_rss("before");
	double seconds = deliver("initial", INITIAL_MESSAGES);
	bench_say("  delivered %d messages through the store API in %.2f s\n", INITIAL_MESSAGES, seconds);
	device_open(&device, "initial", "NEWPHONE");
	unsigned rounds;
	double cpu = easd_cpu_seconds(), start = bench_now();
	unsigned adds = sync_to_end(&device, INITIAL_WINDOW, &rounds);
	double elapsed = bench_now() - start, cpu_used = easd_cpu_seconds() - cpu;
	if (adds != INITIAL_MESSAGES)
		bench_die(&easd, "%s: %u Adds for %d messages", device.name, adds, INITIAL_MESSAGES);
	bench_say("  SyncKey 0 to no MoreAvailable: %.2f s, %u round trips (SyncKey 0 + %u with items), %.0f messages/s\n",
	    elapsed, rounds, rounds - 1, adds / elapsed);
	bench_say("  easd CPU: %.2f s (%.0f us per message, %.1f ms per round trip)\n", cpu_used, cpu_used * 1e6 / adds,
	    cpu_used * 1e3 / rounds);
	say_rss("after");
	device_close(&device);
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	static const char *const users[] = {
		"big:" PASSWORD, "small:" PASSWORD, "initial:" PASSWORD,
		"user0:" PASSWORD, "user1:" PASSWORD, "user2:" PASSWORD, "user3:" PASSWORD, "user4:" PASSWORD,
		"user5:" PASSWORD, "user6:" PASSWORD, "user7:" PASSWORD, "user8:" PASSWORD, "user9:" PASSWORD,
		NULL,
	};
	char model[128];
	double began = bench_now();
	bench_choose_build(argc, argv);
	/* threads = 0: one per core, as a deployment without the key has. */
	if (e2e_start(&easd, "[http]\nthreads = 0\n", users) < 0)
		bench_die(&easd, "cannot start %s/easd", getenv("EASD_BUILD"));

	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	bench_cpu_model(model, sizeof(model));
	bench_say("Sync cost on a real easd (make bench: %s)\n", argv[0]);
	bench_say("date: %04d-%02d-%02dT%02d:%02dZ, command: make bench, nproc %ld, %s, load average at start %.1f\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, sysconf(_SC_NPROCESSORS_ONLN), model,
	    bench_load_average());
	bench_say("easd: release build, threads = nproc, SQLite store (WAL, synchronous=FULL), provisioning required;\n"
	    "      clients (libcurl, keep-alive) on the same machine, sharing the cores; messages of %d bytes,\n"
	    "      BodyPreference plain text truncated to 200 bytes; easd CPU time from /proc/<pid>/stat\n"
	    "      (utime + stime, ticks of %.0f ms)\n", MESSAGE_BYTES, 1e3 / (double)sysconf(_SC_CLK_TCK));
	say_rss("idle after start");

	phase_idle_cost();
	phase_concurrent();
	phase_initial_sync();

	int stopped = e2e_stop(&easd);
	bench_say("\nwhole run: %.0f s; load average at the end %.1f; easd stopped with status %d\n", bench_now() - began,
	    bench_load_average(), stopped);
	e2e_cleanup(&easd);
	int status = 0;
	if (argc > 1 && bench_report_write(argv[1]) < 0) {
		fprintf(stderr, "bench_sync: cannot write %s: %s\n", argv[1], strerror(errno));
		status = 1;
	}
	bench_report_free();
	return status;
}
