/*
 * metrics.c: the counters and the text exposition (see metrics.h).
 *
 * Requests are counted by (command, HTTP status, EAS status) in a fixed
 * open-addressing table: a slot is claimed once with a compare-and-swap
 * on its key and never freed, so counting is a probe and an atomic add,
 * and a scrape reads the slots without stopping anyone. The statuses are
 * easd's own, so far fewer combinations occur than there are slots; were
 * the table ever full, the request counts under "other" labels.
 */
#include "metrics/metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/auth.h"

/* The EAS commands of src/eas/commands.c (test_metrics checks each is known), then OPTIONS and other. */
static const char *const command_names[] = {
	"Sync", "SendMail", "SmartForward", "SmartReply", "GetAttachment", "FolderSync", "FolderCreate",
	"FolderDelete", "FolderUpdate", "MoveItems", "GetItemEstimate", "MeetingResponse", "Search",
	"Settings", "Ping", "ItemOperations", "Provision", "ResolveRecipients", "ValidateCert", "Find",
	"OPTIONS", "other",
};
#define COMMANDS (sizeof(command_names) / sizeof(command_names[0]))
#define COMMAND_OTHER (COMMANDS - 1)

/* Prometheus' usual buckets stretched to 60 s: a parked Ping lasts up to [push] heartbeat_max. */
static const uint64_t bucket_ms[] = { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000 };
static const char *const bucket_le[] = { "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
					 "1", "2.5", "5", "10", "30", "60", "+Inf" };
#define BUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

/* A request's wait for the store's locks: mostly none; at most the busy timeout (5 s) per wait. */
static const uint64_t wait_bucket_ms[] = { 0, 1, 5, 10, 50, 100, 500, 1000, 2500, 5000 };
static const char *const wait_bucket_le[] = { "0", "0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1", "2.5", "5", "+Inf" };
#define WAIT_BUCKETS (sizeof(wait_bucket_le) / sizeof(wait_bucket_le[0]))

/* Distinct (command, HTTP, EAS status) combinations; a busy easd shows about a hundred. */
#define REQUEST_SLOTS 1024

struct request_slot {
	_Atomic uint64_t key; /* 0: free; see request_key */
	_Atomic uint64_t count;
};

struct duration {
	_Atomic uint64_t buckets[BUCKETS]; /* not cumulative: the formatter adds up */
	_Atomic uint64_t sum_ms;
};

static const char *const auth_names[] = { "ok", "bad_password", "unknown_user", "throttled", "locked", "error" };
enum auth_decision { AUTH_OK, AUTH_BAD_PASSWORD, AUTH_UNKNOWN_USER, AUTH_THROTTLED, AUTH_LOCKED, AUTH_ERROR };
#define AUTH_DECISIONS (sizeof(auth_names) / sizeof(auth_names[0]))

static const char *const lmtp_names[METRICS_LMTP_RESULTS] = { "delivered", "refused", "failed" };

static struct request_slot requests[REQUEST_SLOTS];
static _Atomic uint64_t requests_unplaced;
static struct duration durations[COMMANDS];
static _Atomic uint64_t store_waits[WAIT_BUCKETS], store_wait_sum_ms;
static _Atomic uint64_t auth_decisions[AUTH_DECISIONS];
static _Atomic uint64_t lmtp_deliveries[METRICS_LMTP_RESULTS];
static _Atomic uint64_t tls_handshakes_failed;

static void add(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *counter)
{
	return atomic_load_explicit(counter, memory_order_relaxed);
}

static size_t command_index(const char *command)
{
	for (size_t i = 0; command != NULL && i < COMMAND_OTHER; i++)
		if (strcmp(command_names[i], command) == 0)
			return i;
	return COMMAND_OTHER;
}

/* Command index + 1 in bits 48-55 (so never 0), HTTP status in 32-47, EAS status in 0-31. */
static uint64_t request_key(size_t command, unsigned http_status, int eas_status)
{
	return (uint64_t)(command + 1) << 48 | (uint64_t)(http_status & 0xffff) << 32 | (uint32_t)eas_status;
}

static void count_request(uint64_t key)
{
	size_t start = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 54) % REQUEST_SLOTS;
	for (size_t i = 0; i < REQUEST_SLOTS; i++) {
		struct request_slot *slot = &requests[(start + i) % REQUEST_SLOTS];
		uint64_t seen = atomic_load_explicit(&slot->key, memory_order_acquire);
		if (seen == 0 && atomic_compare_exchange_strong_explicit(&slot->key, &seen, key, memory_order_acq_rel,
									 memory_order_acquire))
			seen = key;
		if (seen == key) {
			add(&slot->count, 1);
			return;
		}
	}
	add(&requests_unplaced, 1);
}

void metrics_request_done(const char *command, unsigned http_status, int eas_status, uint64_t milliseconds)
{
	size_t index = command_index(command);
	count_request(request_key(index, http_status, eas_status));
	size_t bucket = 0;
	while (bucket < BUCKETS - 1 && milliseconds > bucket_ms[bucket])
		bucket++;
	add(&durations[index].buckets[bucket], 1);
	add(&durations[index].sum_ms, milliseconds);
}

void metrics_store_waited(uint64_t milliseconds)
{
	size_t bucket = 0;
	while (bucket < WAIT_BUCKETS - 1 && milliseconds > wait_bucket_ms[bucket])
		bucket++;
	add(&store_waits[bucket], 1);
	add(&store_wait_sum_ms, milliseconds);
}

void metrics_auth_checked(int guard_result, const char *reason)
{
	enum auth_decision decision = AUTH_ERROR;
	if (guard_result == GUARD_AUTH_OK)
		decision = AUTH_OK;
	else if (guard_result == GUARD_AUTH_DENIED)
		decision = reason != NULL && strcmp(reason, "unknown_user") == 0 ? AUTH_UNKNOWN_USER : AUTH_BAD_PASSWORD;
	else if (guard_result == GUARD_AUTH_THROTTLED)
		decision = AUTH_THROTTLED;
	else if (guard_result == GUARD_AUTH_LOCKED)
		decision = AUTH_LOCKED;
	add(&auth_decisions[decision], 1);
}

void metrics_lmtp_delivery(enum metrics_lmtp_result result)
{
	if (result < METRICS_LMTP_RESULTS)
		add(&lmtp_deliveries[result], 1);
}

void metrics_tls_handshake_failed(void)
{
	add(&tls_handshakes_failed, 1);
}

void metrics_reset(void)
{
	for (size_t i = 0; i < REQUEST_SLOTS; i++) {
		atomic_store(&requests[i].key, 0);
		atomic_store(&requests[i].count, 0);
	}
	for (size_t c = 0; c < COMMANDS; c++) {
		for (size_t b = 0; b < BUCKETS; b++)
			atomic_store(&durations[c].buckets[b], 0);
		atomic_store(&durations[c].sum_ms, 0);
	}
	for (size_t i = 0; i < AUTH_DECISIONS; i++)
		atomic_store(&auth_decisions[i], 0);
	for (size_t i = 0; i < METRICS_LMTP_RESULTS; i++)
		atomic_store(&lmtp_deliveries[i], 0);
	atomic_store(&requests_unplaced, 0);
	for (size_t b = 0; b < WAIT_BUCKETS; b++)
		atomic_store(&store_waits[b], 0);
	atomic_store(&store_wait_sum_ms, 0);
	atomic_store(&tls_handshakes_failed, 0);
}

/* ---- the exposition ---- */

int metrics_escape_label(struct buf *out, const char *value)
{
	int status = 0;
	for (const char *p = value; *p != '\0' && status == 0; p++) {
		if (*p == '\\')
			status = buf_append(out, "\\\\", 2);
		else if (*p == '"')
			status = buf_append(out, "\\\"", 2);
		else if (*p == '\n')
			status = buf_append(out, "\\n", 2);
		else
			status = buf_append_byte(out, (uint8_t)*p);
	}
	return status;
}

static int header(struct buf *out, const char *name, const char *type, const char *help)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{label="value"} number, the value escaped. */
static int labelled(struct buf *out, const char *name, const char *label, const char *value, uint64_t number)
{
	int status = buf_printf(out, "%s{%s=\"", name, label);
	status |= metrics_escape_label(out, value);
	status |= buf_printf(out, "\"} %llu\n", (unsigned long long)number);
	return status;
}

static int compare_keys(const void *a, const void *b)
{
	uint64_t x = ((const uint64_t *)a)[0], y = ((const uint64_t *)b)[0];
	return x < y ? -1 : x > y;
}

/* easd_requests_total, sorted by command, then statuses: a stable order for people and diffs. */
static int format_requests(struct buf *out)
{
	static const char name[] = "easd_requests_total";
	uint64_t (*seen)[2] = calloc(REQUEST_SLOTS, sizeof(*seen));
	if (seen == NULL)
		abort();
	size_t n = 0;
	for (size_t i = 0; i < REQUEST_SLOTS; i++) {
		uint64_t key = atomic_load_explicit(&requests[i].key, memory_order_acquire);
		uint64_t count = key != 0 ? get(&requests[i].count) : 0;
		if (count == 0)
			continue;
		seen[n][0] = key;
		seen[n++][1] = count;
	}
	qsort(seen, n, sizeof(*seen), compare_keys);
	int status = header(out, name, "counter", "Requests ended, by EAS command, HTTP status and EAS Status (none: no "
				  "Status), as the access log has them.");
	for (size_t i = 0; i < n && status == 0; i++) {
		int eas_status = (int)(uint32_t)seen[i][0];
		char eas[16] = "none";
		if (eas_status != 0)
			snprintf(eas, sizeof(eas), "%d", eas_status);
		status = buf_printf(out, "%s{command=\"", name);
		status |= metrics_escape_label(out, command_names[(seen[i][0] >> 48) - 1]);
		status |= buf_printf(out, "\",http_status=\"%u\",eas_status=\"%s\"} %llu\n",
				     (unsigned)(seen[i][0] >> 32 & 0xffff), eas, (unsigned long long)seen[i][1]);
	}
	free(seen);
	uint64_t unplaced = get(&requests_unplaced);
	if (unplaced > 0 && status == 0)
		status = buf_printf(out, "%s{command=\"other\",http_status=\"other\",eas_status=\"other\"} %llu\n", name,
				    (unsigned long long)unplaced);
	return status;
}

/* One histogram per command seen, every bucket; _count is the buckets' own total, so +Inf always equals it. */
static int format_durations(struct buf *out)
{
	static const char name[] = "easd_request_duration_seconds";
	int status = header(out, name, "histogram", "Time from a request's first byte to its end, by EAS command; a "
				  "parked Ping counts when it ends.");
	for (size_t c = 0; c < COMMANDS && status == 0; c++) {
		uint64_t cumulative[BUCKETS], total = 0, sum_ms = get(&durations[c].sum_ms);
		for (size_t b = 0; b < BUCKETS; b++)
			cumulative[b] = total += get(&durations[c].buckets[b]);
		if (total == 0)
			continue;
		for (size_t b = 0; b < BUCKETS; b++)
			status |= buf_printf(out, "%s_bucket{command=\"%s\",le=\"%s\"} %llu\n", name, command_names[c],
					     bucket_le[b], (unsigned long long)cumulative[b]);
		status |= buf_printf(out, "%s_sum{command=\"%s\"} %llu.%03llu\n%s_count{command=\"%s\"} %llu\n", name,
				     command_names[c], (unsigned long long)(sum_ms / 1000),
				     (unsigned long long)(sum_ms % 1000), name, command_names[c],
				     (unsigned long long)total);
	}
	return status;
}

static int format_push(struct buf *out, const struct metrics_gauges *gauges)
{
	const struct push_counts *push = &gauges->push;
	int status = header(out, "easd_parked_requests", "gauge", "Long polls (Ping, Sync with Wait) parked now.");
	status |= buf_printf(out, "easd_parked_requests %u\n", push->parked);
	status |= header(out, "easd_parked_requests_max", "gauge", "[push] max_parked: parked long polls allowed (0: no limit).");
	status |= buf_printf(out, "easd_parked_requests_max %u\n", gauges->max_parked);
	status |= header(out, "easd_push_wakes_total", "counter", "Parked long polls ended, by what ended them.");
	const char *reasons[] = { "changed", "expired", "superseded", "gone", "stopped" };
	uint64_t counts[] = { push->changed, push->expired, push->superseded, push->gone, push->stopped };
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		status |= labelled(out, "easd_push_wakes_total", "reason", reasons[i], counts[i]);
	return status;
}

/* Seconds with milliseconds: "12.345". */
static int print_seconds(struct buf *out, const char *name, uint64_t ms)
{
	return buf_printf(out, "%s %llu.%03llu\n", name, (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
}

static int format_store(struct buf *out, const struct metrics_gauges *gauges)
{
	const struct store_stats *store = &gauges->store;
	static const char wait[] = "easd_request_store_wait_seconds";
	int status = header(out, wait, "histogram", "Time a request that used the database waited for its locks "
				  "(SQLite's write lock, its device's lock).");
	uint64_t total = 0;
	for (size_t b = 0; b < WAIT_BUCKETS; b++) {
		total += get(&store_waits[b]);
		status |= buf_printf(out, "%s_bucket{le=\"%s\"} %llu\n", wait, wait_bucket_le[b], (unsigned long long)total);
	}
	status |= print_seconds(out, "easd_request_store_wait_seconds_sum", get(&store_wait_sum_ms));
	status |= buf_printf(out, "%s_count %llu\n", wait, (unsigned long long)total);
	status |= header(out, "easd_store_lock_waits_total", "counter", "Waits for a lock of the database, by anyone.");
	status |= buf_printf(out, "easd_store_lock_waits_total %llu\n", (unsigned long long)store->waits);
	status |= header(out, "easd_store_lock_wait_seconds_total", "counter", "Time spent in those waits.");
	status |= print_seconds(out, "easd_store_lock_wait_seconds_total", store->wait_ms);
	status |= header(out, "easd_store_busy_total", "counter",
			 "Database operations given up because a lock stayed held past the busy timeout (5 s).");
	status |= buf_printf(out, "easd_store_busy_total %llu\n", (unsigned long long)store->busy);
	status |= header(out, "easd_store_sessions", "gauge", "Database connections open, by state.");
	status |= labelled(out, "easd_store_sessions", "state", "in_use", store->sessions_in_use);
	status |= labelled(out, "easd_store_sessions", "state", "idle", store->sessions_open - store->sessions_in_use);
	status |= header(out, "easd_store_sessions_max", "gauge", "Database connections allowed; past them requests get 503.");
	status |= buf_printf(out, "easd_store_sessions_max %u\n", store->sessions_max);
	return status;
}

int metrics_format(struct buf *out, const struct metrics_gauges *gauges)
{
	const struct metrics_gauges none = { 0 };
	int status = header(out, "easd_build_info", "gauge", "The release of easd serving (always 1).");
	status |= labelled(out, "easd_build_info", "version", EASD_VERSION, 1);
	status |= format_requests(out);
	status |= format_durations(out);
	status |= format_push(out, gauges != NULL ? gauges : &none);
	status |= format_store(out, gauges != NULL ? gauges : &none);
	status |= header(out, "easd_auth_decisions_total", "counter", "Credentials checked, by the decision.");
	for (size_t i = 0; i < AUTH_DECISIONS; i++)
		status |= labelled(out, "easd_auth_decisions_total", "decision", auth_names[i], get(&auth_decisions[i]));
	status |= header(out, "easd_lmtp_deliveries_total", "counter", "LMTP recipients, by the outcome the MTA was told.");
	for (size_t i = 0; i < METRICS_LMTP_RESULTS; i++)
		status |= labelled(out, "easd_lmtp_deliveries_total", "result", lmtp_names[i], get(&lmtp_deliveries[i]));
	status |= header(out, "easd_tls_handshakes_failed_total", "counter", "TLS handshakes on the EAS port that failed.");
	status |= buf_printf(out, "easd_tls_handshakes_failed_total %llu\n", (unsigned long long)get(&tls_handshakes_failed));
	return status < 0 ? -1 : 0;
}
