/*
 * test_metrics.c: the counters and the text exposition through metrics.h
 * alone: the series each kind of event moves, the command label kept to
 * easd's commands, the histogram's buckets at each bound and one past it,
 * label escaping, the request table at its size and past it, and exact
 * totals when threads count at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eas/eas.h"
#include "guard/auth.h"
#include "metrics/metrics.h"

/* The exposition as a C string; the caller frees it. */
static char *exposition(const struct metrics_gauges *gauges)
{
	struct buf out;
	buf_init(&out, 0);
	assert_int_equal(metrics_format(&out, gauges), 0);
	assert_int_equal(buf_append_byte(&out, 0), 0);
	return (char *)out.data;
}

/* The value of the line "series value", or -1 when there is none. */
static long long value_of(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *line = text; *line != '\0'; line = strchr(line, '\n') + 1) {
		if (strncmp(line, series, n) == 0 && line[n] == ' ')
			return strtoll(line + n + 1, NULL, 10);
		if (strchr(line, '\n') == NULL)
			break;
	}
	return -1;
}

static void assert_value(const char *text, const char *series, long long expected)
{
	long long value = value_of(text, series);
	if (value != expected)
		fail_msg("%s: %lld, expected %lld", series, value, expected);
}

static int reset(void **state)
{
	(void)state;
	metrics_reset();
	return 0;
}

static void fresh_process_shows_every_metric_at_zero(void **state)
{
	(void)state;
	char *text = exposition(NULL);
	static const char *const families[][2] = {
		{ "easd_build_info", "gauge" },	      { "easd_requests_total", "counter" },
		{ "easd_request_duration_seconds", "histogram" }, { "easd_parked_requests", "gauge" },
		{ "easd_parked_requests_max", "gauge" }, { "easd_push_wakes_total", "counter" },
		{ "easd_store_busy_total", "counter" }, { "easd_request_store_wait_seconds", "histogram" },
		{ "easd_store_lock_waits_total", "counter" }, { "easd_store_lock_wait_seconds_total", "counter" },
		{ "easd_store_sessions", "gauge" }, { "easd_store_sessions_max", "gauge" },
		{ "easd_auth_decisions_total", "counter" }, { "easd_lmtp_deliveries_total", "counter" },
		{ "easd_tls_handshakes_failed_total", "counter" },
	};
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		char help[128], type[128];
		snprintf(help, sizeof(help), "# HELP %s ", families[i][0]);
		snprintf(type, sizeof(type), "\n# TYPE %s %s\n", families[i][0], families[i][1]);
		if (strstr(text, help) == NULL || strstr(text, type) == NULL)
			fail_msg("no HELP and TYPE for %s", families[i][0]);
	}
	assert_value(text, "easd_build_info{version=\"" EASD_VERSION "\"}", 1);
	assert_value(text, "easd_parked_requests", 0);
	assert_value(text, "easd_store_busy_total", 0);
	assert_value(text, "easd_tls_handshakes_failed_total", 0);
	assert_value(text, "easd_auth_decisions_total{decision=\"locked\"}", 0);
	assert_value(text, "easd_lmtp_deliveries_total{result=\"failed\"}", 0);
	/* No request yet: no request series, no histogram lines. */
	assert_null(strstr(text, "easd_requests_total{"));
	assert_null(strstr(text, "easd_request_duration_seconds_bucket"));
	assert_int_equal(text[strlen(text) - 1], '\n');
	free(text);
}

struct request_case {
	const char *command;
	unsigned http_status;
	int eas_status;
	const char *series;
};

static const struct request_case request_cases[] = {
	{ "OPTIONS", 200, 0, "easd_requests_total{command=\"OPTIONS\",http_status=\"200\",eas_status=\"none\"}" },
	{ "FolderSync", 200, 1, "easd_requests_total{command=\"FolderSync\",http_status=\"200\",eas_status=\"1\"}" },
	{ "Sync", 200, 3, "easd_requests_total{command=\"Sync\",http_status=\"200\",eas_status=\"3\"}" },
	{ "Ping", 499, 0, "easd_requests_total{command=\"Ping\",http_status=\"499\",eas_status=\"none\"}" },
	{ "Provision", 449, 0, "easd_requests_total{command=\"Provision\",http_status=\"449\",eas_status=\"none\"}" },
	/* What a device named that easd does not know, and no command at all, count as other. */
	{ "NoSuchCommand", 501, 0, "easd_requests_total{command=\"other\",http_status=\"501\",eas_status=\"none\"}" },
	{ "sync", 501, 0, "easd_requests_total{command=\"other\",http_status=\"501\",eas_status=\"none\"}" },
	{ NULL, 404, 0, "easd_requests_total{command=\"other\",http_status=\"404\",eas_status=\"none\"}" },
};

static void requests_count_by_command_and_statuses(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(request_cases) / sizeof(request_cases[0]); i++)
		metrics_request_done(request_cases[i].command, request_cases[i].http_status, request_cases[i].eas_status, 3);
	metrics_request_done("FolderSync", 200, 1, 3);
	char *text = exposition(NULL);
	assert_value(text, request_cases[0].series, 1);
	assert_value(text, request_cases[1].series, 2);
	assert_value(text, request_cases[2].series, 1);
	assert_value(text, request_cases[3].series, 1);
	assert_value(text, request_cases[4].series, 1);
	assert_value(text, request_cases[5].series, 2);
	assert_value(text, request_cases[7].series, 1);
	assert_null(strstr(text, "NoSuchCommand"));
	/* Sorted by command, then statuses: FolderSync (index 5) before Ping (14) before OPTIONS. */
	assert_true(strstr(text, "command=\"FolderSync\"") < strstr(text, "command=\"Ping\",http_status"));
	assert_true(strstr(text, "command=\"Ping\",http_status") < strstr(text, "command=\"OPTIONS\",http_status"));
	free(text);
}

/* Every command easd serves keeps its own label, and each is one easd knows. */
static void every_eas_command_has_its_label(void **state)
{
	(void)state;
	static const char *const commands[] = {
		"Sync", "SendMail", "SmartForward", "SmartReply", "GetAttachment", "FolderSync", "FolderCreate",
		"FolderDelete", "FolderUpdate", "MoveItems", "GetItemEstimate", "MeetingResponse", "Search",
		"Settings", "Ping", "ItemOperations", "Provision", "ResolveRecipients", "ValidateCert", "Find",
	};
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		assert_true(eas_command_known(commands[i]));
		metrics_request_done(commands[i], 200, 1, 1);
	}
	char *text = exposition(NULL);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char series[160];
		snprintf(series, sizeof(series), "easd_requests_total{command=\"%s\",http_status=\"200\",eas_status=\"1\"}",
			 commands[i]);
		assert_value(text, series, 1);
	}
	assert_null(strstr(text, "command=\"other\""));
	free(text);
}

struct bucket_case {
	uint64_t milliseconds;
	const char *first_le; /* the smallest bucket that holds it */
	const char *below;    /* the bucket just under it (NULL: none) */
};

/* Each bound and one past it. */
static const struct bucket_case bucket_cases[] = {
	{ 0, "0.005", NULL },	  { 5, "0.005", NULL },	    { 6, "0.01", "0.005" },  { 10, "0.01", "0.005" },
	{ 11, "0.025", "0.01" },   { 250, "0.25", "0.1" },   { 251, "0.5", "0.25" },  { 1000, "1", "0.5" },
	{ 1001, "2.5", "1" },      { 30000, "30", "10" },    { 30001, "60", "30" },   { 60000, "60", "30" },
	{ 60001, "+Inf", "60" },   { 3540000, "+Inf", "60" },
};

static void durations_fall_in_their_buckets(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bucket_cases) / sizeof(bucket_cases[0]); i++) {
		metrics_reset();
		metrics_request_done("Ping", 200, 1, bucket_cases[i].milliseconds);
		char *text = exposition(NULL);
		char series[160];
		snprintf(series, sizeof(series), "easd_request_duration_seconds_bucket{command=\"Ping\",le=\"%s\"}",
			 bucket_cases[i].first_le);
		assert_value(text, series, 1);
		if (bucket_cases[i].below != NULL) {
			snprintf(series, sizeof(series), "easd_request_duration_seconds_bucket{command=\"Ping\",le=\"%s\"}",
				 bucket_cases[i].below);
			assert_value(text, series, 0);
		}
		assert_value(text, "easd_request_duration_seconds_bucket{command=\"Ping\",le=\"+Inf\"}", 1);
		assert_value(text, "easd_request_duration_seconds_count{command=\"Ping\"}", 1);
		free(text);
	}
}

static void histogram_is_cumulative_with_sum_in_seconds(void **state)
{
	(void)state;
	uint64_t durations[] = { 3, 40, 40, 1200, 90000 };
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++)
		metrics_request_done("Sync", 200, 1, durations[i]);
	char *text = exposition(NULL);
	static const char *const le[] = { "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
					  "1", "2.5", "5", "10", "30", "60", "+Inf" };
	static const long long expected[] = { 1, 1, 1, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5 };
	for (size_t i = 0; i < sizeof(le) / sizeof(le[0]); i++) {
		char series[160];
		snprintf(series, sizeof(series), "easd_request_duration_seconds_bucket{command=\"Sync\",le=\"%s\"}", le[i]);
		assert_value(text, series, expected[i]);
	}
	assert_non_null(strstr(text, "easd_request_duration_seconds_sum{command=\"Sync\"} 91.283\n"));
	assert_value(text, "easd_request_duration_seconds_count{command=\"Sync\"}", 5);
	/* Only commands seen have a histogram. */
	assert_null(strstr(text, "command=\"Ping\",le="));
	free(text);
}

struct escape_case {
	const char *value, *escaped;
};

static const struct escape_case escape_cases[] = {
	{ "plain", "plain" },
	{ "", "" },
	{ "a\"b", "a\\\"b" },
	{ "a\\b", "a\\\\b" },
	{ "a\nb", "a\\nb" },
	{ "\\\"\n", "\\\\\\\"\\n" },
	{ "tab\tand ünïcode", "tab\tand ünïcode" },
};

static void label_values_are_escaped(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(escape_cases) / sizeof(escape_cases[0]); i++) {
		struct buf out;
		buf_init(&out, 0);
		assert_int_equal(metrics_escape_label(&out, escape_cases[i].value), 0);
		assert_int_equal(out.len, strlen(escape_cases[i].escaped));
		assert_memory_equal(out.data, escape_cases[i].escaped, out.len);
		buf_cleanup(&out);
	}
	struct buf small;
	buf_init(&small, 3);
	assert_int_equal(metrics_escape_label(&small, "a\"b"), -1);
	buf_cleanup(&small);
}

struct auth_case {
	int result;
	const char *reason;
	const char *decision;
};

/* guard_auth_check's results and reasons (auth.h). */
static const struct auth_case auth_cases[] = {
	{ GUARD_AUTH_OK, NULL, "ok" },
	{ GUARD_AUTH_OK, "cached", "ok" },
	{ GUARD_AUTH_DENIED, "bad_password", "bad_password" },
	{ GUARD_AUTH_DENIED, "unknown_user", "unknown_user" },
	{ GUARD_AUTH_THROTTLED, "throttled", "throttled" },
	{ GUARD_AUTH_THROTTLED, "address_throttled", "throttled" },
	{ GUARD_AUTH_LOCKED, "locked", "locked" },
	{ GUARD_AUTH_LOCKED, "address_locked", "locked" },
	{ GUARD_AUTH_ERROR, "store_error", "error" },
};

static void auth_decisions_follow_the_guard(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(auth_cases) / sizeof(auth_cases[0]); i++) {
		metrics_reset();
		metrics_auth_checked(auth_cases[i].result, auth_cases[i].reason);
		char *text = exposition(NULL);
		static const char *const decisions[] = { "ok", "bad_password", "unknown_user", "throttled", "locked", "error" };
		for (size_t d = 0; d < sizeof(decisions) / sizeof(decisions[0]); d++) {
			char series[96];
			snprintf(series, sizeof(series), "easd_auth_decisions_total{decision=\"%s\"}", decisions[d]);
			assert_value(text, series, strcmp(decisions[d], auth_cases[i].decision) == 0 ? 1 : 0);
		}
		free(text);
	}
}

static void the_other_counters_and_the_push_gauges(void **state)
{
	(void)state;
	metrics_lmtp_delivery(METRICS_LMTP_DELIVERED);
	metrics_lmtp_delivery(METRICS_LMTP_DELIVERED);
	metrics_lmtp_delivery(METRICS_LMTP_REFUSED);
	metrics_lmtp_delivery(METRICS_LMTP_FAILED);
	metrics_lmtp_delivery(METRICS_LMTP_RESULTS); /* not a result: ignored */
	metrics_tls_handshake_failed();
	metrics_store_waited(0);
	metrics_store_waited(0);
	metrics_store_waited(3);
	metrics_store_waited(7000);
	struct metrics_gauges gauges = { .push = { .parked = 7, .parked_total = 40, .changed = 20, .expired = 9,
						   .superseded = 2, .gone = 1, .stopped = 0 },
					 .store = { .busy = 2, .waits = 3, .wait_ms = 1234, .sessions_open = 5,
						    .sessions_in_use = 2, .sessions_max = 64 },
					 .max_parked = 200000 };
	char *text = exposition(&gauges);
	assert_value(text, "easd_lmtp_deliveries_total{result=\"delivered\"}", 2);
	assert_value(text, "easd_lmtp_deliveries_total{result=\"refused\"}", 1);
	assert_value(text, "easd_lmtp_deliveries_total{result=\"failed\"}", 1);
	assert_value(text, "easd_tls_handshakes_failed_total", 1);
	assert_value(text, "easd_store_busy_total", 2);
	assert_value(text, "easd_store_lock_waits_total", 3);
	assert_non_null(strstr(text, "\neasd_store_lock_wait_seconds_total 1.234\n"));
	assert_value(text, "easd_store_sessions{state=\"in_use\"}", 2);
	assert_value(text, "easd_store_sessions{state=\"idle\"}", 3);
	assert_value(text, "easd_store_sessions_max", 64);
	/* No wait is a bucket of its own; the longest fall past the last bound. */
	assert_value(text, "easd_request_store_wait_seconds_bucket{le=\"0\"}", 2);
	assert_value(text, "easd_request_store_wait_seconds_bucket{le=\"0.001\"}", 2);
	assert_value(text, "easd_request_store_wait_seconds_bucket{le=\"0.005\"}", 3);
	assert_value(text, "easd_request_store_wait_seconds_bucket{le=\"5\"}", 3);
	assert_value(text, "easd_request_store_wait_seconds_bucket{le=\"+Inf\"}", 4);
	assert_value(text, "easd_request_store_wait_seconds_count", 4);
	assert_non_null(strstr(text, "\neasd_request_store_wait_seconds_sum 7.003\n"));
	assert_value(text, "easd_parked_requests", 7);
	assert_value(text, "easd_parked_requests_max", 200000);
	assert_value(text, "easd_push_wakes_total{reason=\"changed\"}", 20);
	assert_value(text, "easd_push_wakes_total{reason=\"expired\"}", 9);
	assert_value(text, "easd_push_wakes_total{reason=\"superseded\"}", 2);
	assert_value(text, "easd_push_wakes_total{reason=\"gone\"}", 1);
	assert_value(text, "easd_push_wakes_total{reason=\"stopped\"}", 0);
	free(text);
}

/* 1024 combinations fit; those past the table count under "other" labels, none is lost. */
static void request_table_full_counts_the_rest_as_other(void **state)
{
	(void)state;
	for (unsigned eas_status = 1; eas_status <= 1024; eas_status++)
		metrics_request_done("Sync", 200, (int)eas_status, 1);
	char *text = exposition(NULL);
	assert_value(text, "easd_requests_total{command=\"Sync\",http_status=\"200\",eas_status=\"1024\"}", 1);
	assert_value(text, "easd_requests_total{command=\"other\",http_status=\"other\",eas_status=\"other\"}", -1);
	free(text);
	metrics_request_done("Sync", 200, 1025, 1);
	metrics_request_done("Sync", 200, 1026, 1);
	metrics_request_done("Sync", 200, 1, 1); /* a combination already placed still has its own series */
	text = exposition(NULL);
	assert_value(text, "easd_requests_total{command=\"other\",http_status=\"other\",eas_status=\"other\"}", 2);
	assert_value(text, "easd_requests_total{command=\"Sync\",http_status=\"200\",eas_status=\"1\"}", 2);
	assert_value(text, "easd_request_duration_seconds_count{command=\"Sync\"}", 1027);
	free(text);
}

#define THREADS 8
#define PER_THREAD 20000

static void *count_many(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	for (unsigned i = 0; i < PER_THREAD; i++) {
		metrics_request_done(i % 2 == 0 ? "Ping" : "Sync", 200, (int)(i % 4), i % 3 == 0 ? 2 : 20);
		if (id == 0)
			metrics_auth_checked(GUARD_AUTH_OK, NULL);
	}
	return NULL;
}

/* Threads counting at once, some claiming the same free slots: exact totals. */
static void counting_from_threads_loses_nothing(void **state)
{
	(void)state;
	pthread_t threads[THREADS];
	for (uintptr_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, count_many, (void *)i), 0);
	for (size_t i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	char *text = exposition(NULL);
	long long quarter = THREADS * PER_THREAD / 4;
	assert_value(text, "easd_requests_total{command=\"Ping\",http_status=\"200\",eas_status=\"none\"}", quarter);
	assert_value(text, "easd_requests_total{command=\"Ping\",http_status=\"200\",eas_status=\"2\"}", quarter);
	assert_value(text, "easd_requests_total{command=\"Sync\",http_status=\"200\",eas_status=\"1\"}", quarter);
	assert_value(text, "easd_requests_total{command=\"Sync\",http_status=\"200\",eas_status=\"3\"}", quarter);
	assert_value(text, "easd_request_duration_seconds_count{command=\"Ping\"}", 2 * quarter);
	assert_value(text, "easd_auth_decisions_total{decision=\"ok\"}", PER_THREAD);
	/* One request in three took 2 ms, the others 20: 0.005 holds exactly those. */
	long long short_ones = 0;
	for (unsigned i = 0; i < PER_THREAD; i++)
		short_ones += i % 2 == 0 && i % 3 == 0;
	assert_value(text, "easd_request_duration_seconds_bucket{command=\"Ping\",le=\"0.005\"}", short_ones * THREADS);
	free(text);
}

/* An output ceiling too small is an error, never a cut exposition passed on. */
static void format_fails_past_the_ceiling(void **state)
{
	(void)state;
	struct buf out;
	buf_init(&out, 64);
	assert_int_equal(metrics_format(&out, NULL), -1);
	buf_cleanup(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(fresh_process_shows_every_metric_at_zero, reset),
		cmocka_unit_test_setup(requests_count_by_command_and_statuses, reset),
		cmocka_unit_test_setup(every_eas_command_has_its_label, reset),
		cmocka_unit_test_setup(durations_fall_in_their_buckets, reset),
		cmocka_unit_test_setup(histogram_is_cumulative_with_sum_in_seconds, reset),
		cmocka_unit_test_setup(label_values_are_escaped, reset),
		cmocka_unit_test_setup(auth_decisions_follow_the_guard, reset),
		cmocka_unit_test_setup(the_other_counters_and_the_push_gauges, reset),
		cmocka_unit_test_setup(request_table_full_counts_the_rest_as_other, reset),
		cmocka_unit_test_setup(counting_from_threads_loses_nothing, reset),
		cmocka_unit_test_setup(format_fails_past_the_ceiling, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
