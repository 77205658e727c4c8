/*
 * test_usage.c: per-user caps and budgets (guard/usage.c), each at its
 * value and one past it: requests in progress, store sessions, requests,
 * time and bytes per minute; exempt users; resumed long polls; how long a
 * refused device is told to wait; idle users forgotten.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "guard/usage.h"

#define T0 1000000 /* a monotonic clock's now, in milliseconds */

static const struct guard_usage_limits no_budgets = { .max_requests = 16, .max_store_sessions = 32 };

static enum guard_refusal enter(struct guard_usage *usage, const struct guard_usage_limits *limits, int64_t user,
				int64_t now_ms)
{
	return guard_usage_enter(usage, limits, user, false, now_ms).refusal;
}

/* 16 at once pass, the 17th is refused for ten seconds; one ending lets the next in; other users pass. */
static void requests_in_progress_are_capped_per_user(void **state)
{
	(void)state;
	struct guard_usage *usage = guard_usage_new();
	for (int i = 0; i < 16; i++)
		assert_int_equal(enter(usage, &no_budgets, 7, T0), GUARD_PASS);
	struct guard_verdict verdict = guard_usage_enter(usage, &no_budgets, 7, false, T0);
	assert_int_equal(verdict.refusal, GUARD_TOO_MANY_REQUESTS);
	assert_int_equal(verdict.retry_after, 10);
	assert_string_equal(guard_refusal_reason(verdict.refusal), "requests_in_progress");
	assert_string_equal(guard_refusal_throttle(verdict.refusal), "MaxConcurrency");
	assert_int_equal(enter(usage, &no_budgets, 8, T0), GUARD_PASS);
	guard_usage_leave(usage, &no_budgets, 7, 5, 100, T0 + 5);
	assert_int_equal(enter(usage, &no_budgets, 7, T0 + 5), GUARD_PASS);
	assert_int_equal(enter(usage, &no_budgets, 7, T0 + 5), GUARD_TOO_MANY_REQUESTS);
	guard_usage_free(&usage);
	assert_null(usage);
}

/* An exempt user (a service account) is never refused, but still counted. */
static void exempt_users_pass_every_limit(void **state)
{
	(void)state;
	struct guard_usage *usage = guard_usage_new();
	struct guard_usage_limits limits = { .max_requests = 1, .max_store_sessions = 1, .requests_per_minute = 1 };
	for (int i = 0; i < 5; i++) {
		assert_int_equal(guard_usage_enter(usage, &limits, 3, true, T0).refusal, GUARD_PASS);
		assert_int_equal(guard_usage_session_take(usage, &limits, 3, true).refusal, GUARD_PASS);
	}
	struct guard_usage_user users[4];
	assert_int_equal(guard_usage_list(usage, &limits, T0, users, 4), 1);
	assert_int_equal(users[0].requests, 5);
	assert_int_equal(users[0].sessions, 5);
	guard_usage_free(&usage);
}

/* A parked request that goes on is in progress again even past the cap: it was admitted. */
static void a_resumed_request_is_never_refused(void **state)
{
	(void)state;
	struct guard_usage *usage = guard_usage_new();
	struct guard_usage_limits limits = { .max_requests = 1 };
	assert_int_equal(enter(usage, &limits, 7, T0), GUARD_PASS);
	guard_usage_resume(usage, 7, T0);
	struct guard_usage_user users[1];
	assert_int_equal(guard_usage_list(usage, &limits, T0, users, 1), 1);
	assert_int_equal(users[0].requests, 2);
	guard_usage_leave(usage, &limits, 7, 0, 0, T0);
	guard_usage_leave(usage, &limits, 7, 0, 0, T0);
	assert_int_equal(enter(usage, &limits, 7, T0), GUARD_PASS);
	guard_usage_free(&usage);
}

/* 32 sessions are held, the 33rd is refused; one given back makes room. */
static void store_sessions_are_capped_per_user(void **state)
{
	(void)state;
	struct guard_usage *usage = guard_usage_new();
	for (int i = 0; i < 32; i++)
		assert_int_equal(guard_usage_session_take(usage, &no_budgets, 7, false).refusal, GUARD_PASS);
	struct guard_verdict verdict = guard_usage_session_take(usage, &no_budgets, 7, false);
	assert_int_equal(verdict.refusal, GUARD_TOO_MANY_SESSIONS);
	assert_int_equal(verdict.retry_after, 10);
	assert_int_equal(guard_usage_session_take(usage, &no_budgets, 9, false).refusal, GUARD_PASS);
	guard_usage_session_give(usage, 7);
	assert_int_equal(guard_usage_session_take(usage, &no_budgets, 7, false).refusal, GUARD_PASS);
	guard_usage_free(&usage);
}

/* 60 a minute: the 60 of a burst pass, the 61st waits a second (one request's refill), then passes. */
static void the_request_budget_refills_evenly(void **state)
{
	(void)state;
	struct guard_usage *usage = guard_usage_new();
	struct guard_usage_limits limits = { .requests_per_minute = 60 };
	for (int i = 0; i < 60; i++) {
		assert_int_equal(enter(usage, &limits, 7, T0), GUARD_PASS);
		guard_usage_leave(usage, &limits, 7, 1, 10, T0);
	}
	struct guard_verdict verdict = guard_usage_enter(usage, &limits, 7, false, T0);
	assert_int_equal(verdict.refusal, GUARD_REQUEST_BUDGET);
	assert_int_equal(verdict.retry_after, 1);
	assert_string_equal(guard_refusal_throttle(verdict.refusal), "RecentCommands");
	assert_int_equal(enter(usage, &limits, 7, T0 + 500), GUARD_REQUEST_BUDGET);
	assert_int_equal(enter(usage, &limits, 7, T0 + 1000), GUARD_PASS);
	assert_int_equal(enter(usage, &limits, 7, T0 + 1000), GUARD_REQUEST_BUDGET);
	/* Another user has a budget of their own. */
	assert_int_equal(enter(usage, &limits, 8, T0 + 1000), GUARD_PASS);
	guard_usage_free(&usage);
}

/* 2 s a minute: a request that ran 2 s passes the next; one that ran 3.5 s overdraws by 1.5 s: 45 s to wait. */
static void the_time_budget_is_charged_when_a_request_ends(void **state)
{
	(void)state;
	struct guard_usage *usage = guard_usage_new();
	struct guard_usage_limits limits = { .seconds_per_minute = 2 };
	assert_int_equal(enter(usage, &limits, 7, T0), GUARD_PASS);
	guard_usage_leave(usage, &limits, 7, 2000, 0, T0);
	assert_int_equal(enter(usage, &limits, 7, T0), GUARD_PASS);
	guard_usage_leave(usage, &limits, 7, 1500, 0, T0);
	struct guard_verdict verdict = guard_usage_enter(usage, &limits, 7, false, T0);
	assert_int_equal(verdict.refusal, GUARD_TIME_BUDGET);
	assert_int_equal(verdict.retry_after, 45);
	assert_int_equal(enter(usage, &limits, 7, T0 + 44000), GUARD_TIME_BUDGET);
	assert_int_equal(enter(usage, &limits, 7, T0 + 45000), GUARD_PASS);
	guard_usage_free(&usage);
}

/* 1000 bytes a minute: 1000 moved passes the next request, 1001 does not. */
static void the_byte_budget_counts_both_ways(void **state)
{
	(void)state;
	struct guard_usage *usage = guard_usage_new();
	struct guard_usage_limits limits = { .bytes_per_minute = 1000 };
	assert_int_equal(enter(usage, &limits, 7, T0), GUARD_PASS);
	guard_usage_leave(usage, &limits, 7, 0, 1000, T0);
	assert_int_equal(enter(usage, &limits, 7, T0), GUARD_PASS);
	guard_usage_leave(usage, &limits, 7, 0, 1, T0);
	struct guard_verdict verdict = guard_usage_enter(usage, &limits, 7, false, T0);
	assert_int_equal(verdict.refusal, GUARD_BYTE_BUDGET);
	assert_int_equal(verdict.retry_after, 1);
	assert_string_equal(guard_refusal_reason(verdict.refusal), "byte_budget");
	guard_usage_free(&usage);
}

/* A budget overdrawn by hours is capped at an hour's wait; clearing it (easctl throttle clear) lets the user in. */
static void a_long_overdraft_waits_an_hour_at_most_and_can_be_cleared(void **state)
{
	(void)state;
	struct guard_usage *usage = guard_usage_new();
	struct guard_usage_limits limits = { .seconds_per_minute = 1 };
	assert_int_equal(enter(usage, &limits, 7, T0), GUARD_PASS);
	guard_usage_leave(usage, &limits, 7, 600000, 0, T0);
	struct guard_verdict verdict = guard_usage_enter(usage, &limits, 7, false, T0);
	assert_int_equal(verdict.refusal, GUARD_TIME_BUDGET);
	assert_int_equal(verdict.retry_after, 3600);
	struct guard_usage_user users[2];
	assert_int_equal(guard_usage_list(usage, &limits, T0, users, 2), 1);
	assert_int_equal(users[0].refused, 1);
	assert_int_equal(users[0].last_refusal, GUARD_TIME_BUDGET);
	assert_true(users[0].time_left < -500);
	guard_usage_clear(usage, 7);
	assert_int_equal(enter(usage, &limits, 7, T0), GUARD_PASS);
	guard_usage_free(&usage);
}

/* Users with nothing in progress and nothing used are forgotten at the next sweep (a minute on). */
static void idle_users_are_forgotten(void **state)
{
	(void)state;
	struct guard_usage *usage = guard_usage_new();
	struct guard_usage_limits limits = { .max_requests = 4, .requests_per_minute = 600 };
	for (int64_t user = 1; user <= 1000; user++) {
		assert_int_equal(enter(usage, &limits, user, T0), GUARD_PASS);
		guard_usage_leave(usage, &limits, user, 0, 0, T0);
	}
	assert_int_equal(enter(usage, &limits, 5000, T0), GUARD_PASS); /* still in progress */
	struct guard_usage_user users[1001];
	assert_int_equal(guard_usage_list(usage, &limits, T0, users, 1001), 1001);
	/* A minute later the 1000 have refilled: the sweep forgets them, not the one in progress. */
	assert_int_equal(enter(usage, &limits, 6000, T0 + 61000), GUARD_PASS);
	assert_int_equal(guard_usage_list(usage, &limits, T0 + 61000, users, 1001), 2);
	guard_usage_free(&usage);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(requests_in_progress_are_capped_per_user),
		cmocka_unit_test(exempt_users_pass_every_limit),
		cmocka_unit_test(a_resumed_request_is_never_refused),
		cmocka_unit_test(store_sessions_are_capped_per_user),
		cmocka_unit_test(the_request_budget_refills_evenly),
		cmocka_unit_test(the_time_budget_is_charged_when_a_request_ends),
		cmocka_unit_test(the_byte_budget_counts_both_ways),
		cmocka_unit_test(a_long_overdraft_waits_an_hour_at_most_and_can_be_cleared),
		cmocka_unit_test(idle_users_are_forgotten),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
