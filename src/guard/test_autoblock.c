/*
 * test_autoblock.c: when a device is blocked for repeating itself
 * (guard/autoblock.c): each rule at its threshold and one below it, with
 * the reason an administrator reads; windows that end, keys counted
 * apart, successes that are not failures, rules switched off, counts that
 * start again after a verdict or when forgotten, and a table that stays
 * bounded however many devices come.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "guard/autoblock.h"
#include "guard/limits.h"

#define T0 1700000000000 /* Unix milliseconds */
#define SECONDS(n) ((int64_t)(n) * 1000)

/* easd.conf's defaults, in the enum's order. */
static const struct guard_autoblock_limits defaults = { {
	LIMIT_AUTOBLOCK_SYNC_KEY_ZERO,
	LIMIT_AUTOBLOCK_SAME_SYNC,
	LIMIT_AUTOBLOCK_SAME_FAILURE,
	LIMIT_AUTOBLOCK_NEVER_PROVISIONS,
	LIMIT_AUTOBLOCK_USER_AGENT_CHANGES,
	LIMIT_AUTOBLOCK_COMMAND_RATE,
	LIMIT_AUTOBLOCK_PING_LOOP,
} };

/* The default of one rule, every other rule off: each test sees the rule it is about. */
static struct guard_autoblock_limits only(enum guard_autoblock_rule rule)
{
	struct guard_autoblock_limits limits = { 0 };
	limits.rule[rule] = defaults.rule[rule];
	return limits;
}

/* An ordinary request: 200, no EAS Status. */
static struct guard_observation request(int64_t device, const char *command)
{
	return (struct guard_observation){ .device = device, .command = command, .http_status = 200 };
}

/* Observes the same request n times at now_ms; returns how many of them fired. */
static unsigned observe_times(struct guard_autoblock *autoblock, const struct guard_autoblock_limits *limits,
			      const struct guard_observation *observation, unsigned n, int64_t now_ms)
{
	unsigned fired = 0;
	struct guard_autoblock_verdict verdict;
	for (unsigned i = 0; i < n; i++)
		fired += guard_autoblock_observe(autoblock, limits, observation, now_ms, &verdict);
	return fired;
}

/* Observes once more, which must fire rule with its block and a reason holding text. */
static void assert_fires(struct guard_autoblock *autoblock, const struct guard_autoblock_limits *limits,
			 const struct guard_observation *observation, int64_t now_ms, enum guard_autoblock_rule rule,
			 const char *text)
{
	struct guard_autoblock_verdict verdict;
	memset(&verdict, 0, sizeof(verdict));
	assert_true(guard_autoblock_observe(autoblock, limits, observation, now_ms, &verdict));
	assert_int_equal(verdict.rule, rule);
	assert_int_equal(verdict.block_seconds, limits->rule[rule].block_seconds);
	if (strstr(verdict.reason, text) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", verdict.reason, text);
}

static void rules_have_their_configuration_names(void **state)
{
	(void)state;
	static const char *const names[AUTOBLOCK_RULES] = { "sync_key_zero", "same_sync", "same_failure",
							    "never_provisions", "user_agent_changes", "command_rate",
							    "ping_loop" };
	for (int rule = 0; rule < AUTOBLOCK_RULES; rule++)
		assert_string_equal(guard_autoblock_rule_name((enum guard_autoblock_rule)rule), names[rule]);
	assert_string_equal(guard_autoblock_rule_name(AUTOBLOCK_RULES), "unknown");
	assert_string_equal(guard_autoblock_rule_name((enum guard_autoblock_rule)-1), "unknown");
}

/* Nine times SyncKey 0 for collection 7 pass; the tenth in 600 s blocks for an hour. */
static void sync_key_zero_for_one_collection_fires_at_the_threshold(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_SYNC_KEY_ZERO);
	const int64_t collection[] = { 7 };
	struct guard_observation sync = request(1, "Sync");
	sync.sync_key_zero = collection;
	sync.sync_key_zero_count = 1;
	assert_int_equal(observe_times(autoblock, &limits, &sync, 9, T0), 0);
	assert_fires(autoblock, &limits, &sync, T0 + SECONDS(599), AUTOBLOCK_SYNC_KEY_ZERO,
		     "SyncKey 0 for collection 7, 10 times in 600 s");
	guard_autoblock_free(&autoblock);
	assert_null(autoblock);
	guard_autoblock_free(&autoblock);
}

/* FolderSync at SyncKey 0 (collection 0) is the hierarchy's own count. */
static void sync_key_zero_for_the_hierarchy_names_it(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_SYNC_KEY_ZERO);
	const int64_t hierarchy[] = { 0 };
	struct guard_observation folder_sync = request(1, "FolderSync");
	folder_sync.sync_key_zero = hierarchy;
	folder_sync.sync_key_zero_count = 1;
	assert_int_equal(observe_times(autoblock, &limits, &folder_sync, 9, T0), 0);
	assert_fires(autoblock, &limits, &folder_sync, T0, AUTOBLOCK_SYNC_KEY_ZERO, "folder hierarchy, 10 times");
	guard_autoblock_free(&autoblock);
}

/* A first sync asks SyncKey 0 once per folder: 20 folders, in one request or in 20, never fire. */
static void sync_key_zero_once_for_each_of_many_collections_never_fires(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	int64_t collections[20];
	for (int i = 0; i < 20; i++)
		collections[i] = 100 + i;
	struct guard_observation sync = request(1, "Sync");
	sync.sync_key_zero = collections;
	sync.sync_key_zero_count = 20;
	assert_int_equal(observe_times(autoblock, &defaults, &sync, 1, T0), 0);
	struct guard_observation one = request(2, "Sync");
	one.sync_key_zero_count = 1;
	for (int i = 0; i < 20; i++) {
		one.sync_key_zero = &collections[i];
		assert_int_equal(observe_times(autoblock, &defaults, &one, 1, T0), 0);
	}
	guard_autoblock_free(&autoblock);
}

/* A device resetting 20 folders in turn, again and again, is seen: more keys than slots do not hide a loop. */
static void sync_key_zero_in_turn_over_many_collections_fires(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_SYNC_KEY_ZERO);
	int64_t collections[20];
	for (int i = 0; i < 20; i++)
		collections[i] = 100 + i;
	struct guard_observation one = request(1, "Sync");
	one.sync_key_zero_count = 1;
	unsigned fired = 0;
	for (int round = 0; round < 10; round++)
		for (int i = 0; i < 20; i++) {
			one.sync_key_zero = &collections[i];
			fired += observe_times(autoblock, &limits, &one, 1, T0 + SECONDS(round));
		}
	assert_int_equal(fired, 1);
	guard_autoblock_free(&autoblock);
}

/* The same Sync body 30 times in 300 s fires; other bodies in between are counted apart. */
static void the_same_sync_body_fires_and_other_bodies_are_counted_apart(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_SAME_SYNC);
	struct guard_observation same = request(1, "Sync"), other = request(1, "Sync");
	same.body_digest = 0xfeedface;
	for (int i = 0; i < 29; i++) {
		assert_int_equal(observe_times(autoblock, &limits, &same, 1, T0 + SECONDS(i)), 0);
		other.body_digest = 1000 + (uint64_t)i;
		assert_int_equal(observe_times(autoblock, &limits, &other, 1, T0 + SECONDS(i)), 0);
	}
	assert_fires(autoblock, &limits, &same, T0 + SECONDS(299), AUTOBLOCK_SAME_SYNC, "the same Sync 30 times in 300 s");
	guard_autoblock_free(&autoblock);
}

/* Only a Sync with a body counts: an empty Sync (digest 0) or another command's digest do not. */
static void only_a_sync_with_a_body_is_the_same_sync(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_SAME_SYNC);
	struct guard_observation empty = request(1, "Sync"), search = request(1, "Search");
	search.body_digest = 0xfeedface;
	assert_int_equal(observe_times(autoblock, &limits, &empty, 100, T0), 0);
	assert_int_equal(observe_times(autoblock, &limits, &search, 100, T0), 0);
	guard_autoblock_free(&autoblock);
}

/* One command failing the same way 30 times in 300 s fires, and the reason names command and status. */
static void the_same_failure_fires_with_command_and_status(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_SAME_FAILURE);
	struct guard_observation sync = request(1, "Sync");
	sync.eas_status = 4;
	assert_int_equal(observe_times(autoblock, &limits, &sync, 29, T0), 0);
	assert_fires(autoblock, &limits, &sync, T0, AUTOBLOCK_SAME_FAILURE,
		     "Sync failed with status 4 (HTTP 200) 30 times in 300 s");
	struct guard_observation folder_sync = request(1, "FolderSync");
	folder_sync.http_status = 503;
	assert_int_equal(observe_times(autoblock, &limits, &folder_sync, 29, T0), 0);
	assert_fires(autoblock, &limits, &folder_sync, T0, AUTOBLOCK_SAME_FAILURE,
		     "FolderSync failed with HTTP 503 30 times in 300 s");
	guard_autoblock_free(&autoblock);
}

/* Another status, or the same status of another command, is another failure. */
static void different_failures_are_counted_apart(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_SAME_FAILURE);
	struct guard_observation status3 = request(1, "Sync"), status4 = request(1, "Sync");
	struct guard_observation estimate = request(1, "GetItemEstimate"), http500 = request(1, "Sync");
	status3.eas_status = 3;
	status4.eas_status = 4;
	estimate.eas_status = 4;
	http500.eas_status = 4;
	http500.http_status = 500;
	for (int i = 0; i < 29; i++) {
		assert_int_equal(observe_times(autoblock, &limits, &status3, 1, T0), 0);
		assert_int_equal(observe_times(autoblock, &limits, &status4, 1, T0), 0);
		assert_int_equal(observe_times(autoblock, &limits, &estimate, 1, T0), 0);
		assert_int_equal(observe_times(autoblock, &limits, &http500, 1, T0), 0);
	}
	assert_fires(autoblock, &limits, &estimate, T0, AUTOBLOCK_SAME_FAILURE, "GetItemEstimate failed with status 4");
	guard_autoblock_free(&autoblock);
}

/* Ping's 1 and 2, MoveItems' 3, Status 1 and no Status at all are successes; a policy refusal is not a failure. */
static void successes_and_policy_refusals_are_not_failures(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_SAME_FAILURE);
	struct guard_observation ping_changes = request(1, "Ping"), ping_quiet = request(1, "Ping");
	struct guard_observation sync = request(1, "Sync"), move = request(1, "MoveItems");
	struct guard_observation send = request(1, "SendMail"), refused = request(1, "Sync");
	ping_changes.eas_status = 2;
	ping_quiet.eas_status = 1;
	sync.eas_status = 1;
	move.eas_status = 3;
	refused.http_status = 449;
	refused.policy_refused = true;
	const struct guard_observation *each[] = { &ping_changes, &ping_quiet, &sync, &move, &send, &refused };
	for (size_t i = 0; i < sizeof(each) / sizeof(each[0]); i++)
		assert_int_equal(observe_times(autoblock, &limits, each[i], 100, T0), 0);
	/* The same statuses of commands for which they are failures. */
	struct guard_observation sync2 = request(1, "Sync"), move1 = request(1, "MoveItems");
	sync2.eas_status = 2;
	move1.eas_status = 1;
	assert_int_equal(observe_times(autoblock, &limits, &sync2, 29, T0), 0);
	assert_fires(autoblock, &limits, &sync2, T0, AUTOBLOCK_SAME_FAILURE, "Sync failed with status 2");
	assert_int_equal(observe_times(autoblock, &limits, &move1, 29, T0), 0);
	assert_fires(autoblock, &limits, &move1, T0, AUTOBLOCK_SAME_FAILURE, "MoveItems failed with status 1");
	guard_autoblock_free(&autoblock);
}

/* Told to provision 20 times in 600 s (449 or a policy Status) and still asking: blocked. */
static void never_provisions_fires_at_the_threshold(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_NEVER_PROVISIONS);
	struct guard_observation refused = request(1, "FolderSync"), refused_144 = request(1, "Sync");
	refused.http_status = 449;
	refused.policy_refused = true;
	refused_144.eas_status = 144;
	refused_144.policy_refused = true;
	assert_int_equal(observe_times(autoblock, &limits, &refused, 10, T0), 0);
	assert_int_equal(observe_times(autoblock, &limits, &refused_144, 9, T0), 0);
	assert_fires(autoblock, &limits, &refused, T0, AUTOBLOCK_NEVER_PROVISIONS,
		     "told to provision 20 times in 600 s and never did");
	guard_autoblock_free(&autoblock);
}

/* The first User-Agent is only remembered; the tenth change in an hour fires; no User-Agent changes nothing. */
static void user_agent_changes_fire_and_none_sent_is_no_change(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_USER_AGENT_CHANGES);
	struct guard_observation a = request(1, "Sync"), b = request(1, "Sync"), none = request(1, "Sync");
	a.user_agent = "Apple-iPhone15C2/2101.123";
	b.user_agent = "Android-Mail/2023.10.01";
	assert_int_equal(observe_times(autoblock, &limits, &a, 5, T0), 0);
	/* Nine changes (to b, a, b, ... b), each seen three times, with requests without one between. */
	for (int i = 0; i < 9; i++) {
		const struct guard_observation *next = i % 2 == 0 ? &b : &a;
		assert_int_equal(observe_times(autoblock, &limits, next, 3, T0 + SECONDS(i)), 0);
		assert_int_equal(observe_times(autoblock, &limits, &none, 3, T0 + SECONDS(i)), 0);
	}
	assert_fires(autoblock, &limits, &a, T0 + SECONDS(3599), AUTOBLOCK_USER_AGENT_CHANGES,
		     "User-Agent changed 10 times in 3600 s (now \"Apple-iPhone15C2/2101.123\")");
	/* The User-Agent is still remembered after the verdict: the same again is no change. */
	assert_int_equal(observe_times(autoblock, &limits, &a, 1, T0 + SECONDS(3599)), 0);
	guard_autoblock_free(&autoblock);
}

/* A long User-Agent with quotes and control bytes is cut and made printable in the reason. */
static void a_hostile_user_agent_is_quoted_safely(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_USER_AGENT_CHANGES);
	limits.rule[AUTOBLOCK_USER_AGENT_CHANGES].threshold = 1;
	char hostile[1000];
	memset(hostile, 'x', sizeof(hostile) - 1);
	hostile[sizeof(hostile) - 1] = '\0';
	static const char start[] = "\"quoted\"\n\x1b[31m\xc3\xa9";
	memcpy(hostile, start, sizeof(start) - 1);
	struct guard_observation first = request(1, "Sync"), second = request(1, "Sync");
	first.user_agent = "first";
	second.user_agent = hostile;
	assert_int_equal(observe_times(autoblock, &limits, &first, 1, T0), 0);
	struct guard_autoblock_verdict verdict;
	assert_true(guard_autoblock_observe(autoblock, &limits, &second, T0, &verdict));
	assert_true(strlen(verdict.reason) < sizeof(verdict.reason));
	/* Each byte a reason cannot carry reads '?': the quotes, the newline, ESC and both bytes
	   of the UTF-8 e-acute; past 63 characters the User-Agent is cut with "...". */
	assert_non_null(strstr(verdict.reason, "(now \"?quoted???[31m??xxx"));
	assert_non_null(strstr(verdict.reason, "xxx...\")"));
	for (const char *c = verdict.reason; *c != '\0'; c++)
		assert_true(*c >= 0x20 && *c <= 0x7e);
	guard_autoblock_free(&autoblock);
}

/* 499 commands in a minute pass, the 500th blocks for ten minutes. */
static void the_command_rate_fires_at_the_threshold(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_COMMAND_RATE);
	struct guard_observation sync = request(1, "Sync"), ping = request(1, "Ping");
	assert_int_equal(observe_times(autoblock, &limits, &sync, 300, T0), 0);
	assert_int_equal(observe_times(autoblock, &limits, &ping, 199, T0 + SECONDS(59)), 0);
	assert_fires(autoblock, &limits, &ping, T0 + SECONDS(59), AUTOBLOCK_COMMAND_RATE, "500 commands in 60 s");
	guard_autoblock_free(&autoblock);
}

/* A Ping answered at once 60 times in 600 s fires; Pings that waited do not count. */
static void a_ping_loop_fires_at_the_threshold(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_PING_LOOP);
	struct guard_observation at_once = request(1, "Ping"), waited = request(1, "Ping");
	at_once.ping_immediate = true;
	at_once.eas_status = 5;
	waited.eas_status = 1;
	assert_int_equal(observe_times(autoblock, &limits, &waited, 100, T0), 0);
	assert_int_equal(observe_times(autoblock, &limits, &at_once, 59, T0), 0);
	assert_fires(autoblock, &limits, &at_once, T0 + SECONDS(599), AUTOBLOCK_PING_LOOP,
		     "Ping answered at once 60 times in 600 s");
	guard_autoblock_free(&autoblock);
}

/* A window begins with its key's first event: the event a whole window later starts a new count. */
static void events_a_window_apart_start_a_new_count(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_SYNC_KEY_ZERO);
	const int64_t collection[] = { 7 };
	struct guard_observation sync = request(1, "Sync");
	sync.sync_key_zero = collection;
	sync.sync_key_zero_count = 1;
	assert_int_equal(observe_times(autoblock, &limits, &sync, 9, T0), 0);
	assert_int_equal(observe_times(autoblock, &limits, &sync, 9, T0 + SECONDS(600)), 0);
	/* Spaced more than a window apart, a thousand never fire. */
	struct guard_observation ping = request(2, "Ping");
	ping.ping_immediate = true;
	limits = only(AUTOBLOCK_PING_LOOP);
	for (int i = 1; i <= 1000; i++)
		assert_int_equal(observe_times(autoblock, &limits, &ping, 1, T0 + SECONDS(601) * i), 0);
	guard_autoblock_free(&autoblock);
}

/* Requests end on several threads: one counted a little out of order is still in the window. */
static void an_event_a_little_out_of_order_is_counted(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_COMMAND_RATE);
	struct guard_observation sync = request(1, "Sync");
	assert_int_equal(observe_times(autoblock, &limits, &sync, 250, T0 + 1500), 0);
	assert_int_equal(observe_times(autoblock, &limits, &sync, 249, T0 + 900), 0);
	assert_fires(autoblock, &limits, &sync, T0, AUTOBLOCK_COMMAND_RATE, "500 commands");
	guard_autoblock_free(&autoblock);
}

/* Threshold 0 switches a rule off; no limits at all, nothing fires. */
static void a_threshold_of_zero_switches_a_rule_off(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = defaults;
	for (int rule = 0; rule < AUTOBLOCK_RULES; rule++)
		limits.rule[rule].threshold = 0;
	const int64_t collection[] = { 7 };
	struct guard_observation loop = request(1, "Sync");
	loop.sync_key_zero = collection;
	loop.sync_key_zero_count = 1;
	loop.body_digest = 42;
	loop.eas_status = 4;
	loop.ping_immediate = true;
	assert_int_equal(observe_times(autoblock, &limits, &loop, 1000, T0), 0);
	assert_int_equal(observe_times(autoblock, NULL, &loop, 1000, T0), 0);
	limits.rule[AUTOBLOCK_PING_LOOP].threshold = 1000;
	assert_int_equal(observe_times(autoblock, &limits, &loop, 999, T0), 0);
	assert_fires(autoblock, &limits, &loop, T0, AUTOBLOCK_PING_LOOP, "1000 times");
	guard_autoblock_free(&autoblock);
}

/* A request that trips several rules at once is blocked by the first in the enum's order. */
static void rules_are_judged_in_order(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_observation loop = request(1, "Sync");
	loop.body_digest = 42;
	loop.eas_status = 4;
	assert_int_equal(observe_times(autoblock, &defaults, &loop, 29, T0), 0);
	assert_fires(autoblock, &defaults, &loop, T0, AUTOBLOCK_SAME_SYNC, "the same Sync 30 times");
	guard_autoblock_free(&autoblock);
}

/* After a verdict every count of the device starts again: a block lifted early does not fire at once. */
static void after_a_verdict_the_counts_start_again(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = defaults;
	struct guard_observation ping = request(1, "Ping"), sync = request(1, "Sync");
	ping.ping_immediate = true;
	sync.eas_status = 4;
	assert_int_equal(observe_times(autoblock, &limits, &sync, 29, T0), 0);
	assert_int_equal(observe_times(autoblock, &limits, &ping, 59, T0), 0);
	assert_fires(autoblock, &limits, &ping, T0, AUTOBLOCK_PING_LOOP, "60 times");
	assert_int_equal(observe_times(autoblock, &limits, &ping, 59, T0), 0);
	assert_int_equal(observe_times(autoblock, &limits, &sync, 29, T0), 0);
	assert_fires(autoblock, &limits, &sync, T0, AUTOBLOCK_SAME_FAILURE, "30 times");
	guard_autoblock_free(&autoblock);
}

/* Forgetting a device (its block lifted) starts its counts again; other devices keep theirs. */
static void forget_starts_the_counts_again(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_PING_LOOP);
	struct guard_observation one = request(1, "Ping"), two = request(2, "Ping");
	one.ping_immediate = two.ping_immediate = true;
	assert_int_equal(observe_times(autoblock, &limits, &one, 59, T0), 0);
	assert_int_equal(observe_times(autoblock, &limits, &two, 59, T0), 0);
	guard_autoblock_forget(autoblock, 1);
	guard_autoblock_forget(autoblock, 3); /* never seen */
	assert_int_equal(observe_times(autoblock, &limits, &one, 59, T0), 0);
	assert_fires(autoblock, &limits, &one, T0, AUTOBLOCK_PING_LOOP, "60 times");
	assert_fires(autoblock, &limits, &two, T0, AUTOBLOCK_PING_LOOP, "60 times");
	guard_autoblock_free(&autoblock);
}

/* A device idle for longer than the longest window is forgotten at the next sweep, its User-Agent too. */
static void an_idle_device_is_forgotten(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_USER_AGENT_CHANGES);
	limits.rule[AUTOBLOCK_USER_AGENT_CHANGES].threshold = 1;
	struct guard_observation idle_a = request(1, "Sync"), idle_b = request(1, "Sync");
	struct guard_observation busy_a = request(2, "Sync"), busy_b = request(2, "Sync");
	idle_a.user_agent = busy_a.user_agent = "a";
	idle_b.user_agent = busy_b.user_agent = "b";
	assert_int_equal(observe_times(autoblock, &limits, &idle_a, 1, T0), 0);
	assert_int_equal(observe_times(autoblock, &limits, &busy_a, 1, T0), 0);
	assert_int_equal(observe_times(autoblock, &limits, &busy_a, 1, T0 + SECONDS(3000)), 0);
	assert_fires(autoblock, &limits, &busy_b, T0 + SECONDS(3601), AUTOBLOCK_USER_AGENT_CHANGES, "(now \"b\")");
	assert_int_equal(observe_times(autoblock, &limits, &idle_b, 1, T0 + SECONDS(3601)), 0);
	guard_autoblock_free(&autoblock);
}

/*
 * 300,000 devices, more than the table holds (200,000): those past it are
 * not counted while the others are in use; once those are idle for the
 * longest window they are swept out and a new device is counted.
 */
static void more_devices_than_the_table_holds_stay_bounded(void **state)
{
	(void)state;
	struct guard_autoblock *autoblock = guard_autoblock_new();
	struct guard_autoblock_limits limits = only(AUTOBLOCK_COMMAND_RATE);
	limits.rule[AUTOBLOCK_COMMAND_RATE].threshold = 2;
	for (int64_t device = 1; device <= 300000; device++) {
		struct guard_observation sync = request(device, "Sync");
		assert_int_equal(observe_times(autoblock, &limits, &sync, 1, T0), 0);
	}
	struct guard_observation first = request(1, "Sync"), last = request(300000, "Sync");
	assert_fires(autoblock, &limits, &first, T0 + SECONDS(1), AUTOBLOCK_COMMAND_RATE, "2 commands in 60 s");
	assert_int_equal(observe_times(autoblock, &limits, &last, 5, T0 + SECONDS(2)), 0);
	/* A minute later the idle devices are gone: the last one is counted, the second starts afresh. */
	assert_int_equal(observe_times(autoblock, &limits, &last, 1, T0 + SECONDS(62)), 0);
	assert_fires(autoblock, &limits, &last, T0 + SECONDS(62), AUTOBLOCK_COMMAND_RATE, "2 commands");
	struct guard_observation second = request(2, "Sync");
	assert_int_equal(observe_times(autoblock, &limits, &second, 1, T0 + SECONDS(62)), 0);
	guard_autoblock_free(&autoblock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rules_have_their_configuration_names),
		cmocka_unit_test(sync_key_zero_for_one_collection_fires_at_the_threshold),
		cmocka_unit_test(sync_key_zero_for_the_hierarchy_names_it),
		cmocka_unit_test(sync_key_zero_once_for_each_of_many_collections_never_fires),
		cmocka_unit_test(sync_key_zero_in_turn_over_many_collections_fires),
		cmocka_unit_test(the_same_sync_body_fires_and_other_bodies_are_counted_apart),
		cmocka_unit_test(only_a_sync_with_a_body_is_the_same_sync),
		cmocka_unit_test(the_same_failure_fires_with_command_and_status),
		cmocka_unit_test(different_failures_are_counted_apart),
		cmocka_unit_test(successes_and_policy_refusals_are_not_failures),
		cmocka_unit_test(never_provisions_fires_at_the_threshold),
		cmocka_unit_test(user_agent_changes_fire_and_none_sent_is_no_change),
		cmocka_unit_test(a_hostile_user_agent_is_quoted_safely),
		cmocka_unit_test(the_command_rate_fires_at_the_threshold),
		cmocka_unit_test(a_ping_loop_fires_at_the_threshold),
		cmocka_unit_test(events_a_window_apart_start_a_new_count),
		cmocka_unit_test(an_event_a_little_out_of_order_is_counted),
		cmocka_unit_test(a_threshold_of_zero_switches_a_rule_off),
		cmocka_unit_test(rules_are_judged_in_order),
		cmocka_unit_test(after_a_verdict_the_counts_start_again),
		cmocka_unit_test(forget_starts_the_counts_again),
		cmocka_unit_test(an_idle_device_is_forgotten),
		cmocka_unit_test(more_devices_than_the_table_holds_stay_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
