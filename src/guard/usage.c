/*
 * usage.c: per-user caps and budgets (usage.h).
 *
 * A chained hash table of users under one mutex: every operation is a
 * lookup and a few additions, far below the cost of the request it
 * guards. Buckets are kept as "used" amounts that drain over time rather
 * than levels that fill, so an entry with nothing used and nothing in
 * progress is idle and can go.
 */
#include "guard/usage.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Seconds a refusal for requests in progress asks the device to wait: they end within seconds. */
#define BUSY_RETRY_SECONDS 10
/* The longest Retry-After given: a budget overdrawn by one very long request. */
#define MAX_RETRY_SECONDS 3600
/* Sweeps of idle users at most this often (milliseconds). */
#define SWEEP_INTERVAL_MS 60000

enum { BUDGET_REQUESTS, BUDGET_TIME, BUDGET_BYTES, BUDGETS };

struct user_entry {
	struct user_entry *next;
	int64_t user;
	unsigned requests, sessions;
	double used[BUDGETS];   /* of each budget, drained at a minute's allowance per minute */
	int64_t drained_ms;     /* when used[] was last drained */
	uint64_t refused;
	enum guard_refusal last_refusal;
};

struct guard_usage {
	pthread_mutex_t lock;
	struct user_entry **buckets;
	size_t bucket_count, count;
	int64_t swept_ms;
};

const char *guard_refusal_reason(enum guard_refusal refusal)
{
	static const char *const reasons[] = { "pass", "requests_in_progress", "store_sessions_in_use",
					       "request_budget", "time_budget", "byte_budget" };
	return reasons[refusal];
}

/*
 * MS-ASHTTP 2.2.2.1.2.13 leaves the values to the server; these are the
 * conditions Exchange's throttling policies name (EASMaxConcurrency,
 * EASMaxDevices..., the budget of time and of requests), so a person
 * reading a device's log sees which limit it met.
 */
const char *guard_refusal_throttle(enum guard_refusal refusal)
{
	static const char *const values[] = { "", "MaxConcurrency", "MaxConcurrency", "RecentCommands",
					      "TimeInServer", "BytesTransferred" };
	return values[refusal];
}

struct guard_usage *guard_usage_new(void)
{
	struct guard_usage *usage = calloc(1, sizeof(*usage));
	if (usage == NULL)
		abort();
	pthread_mutex_init(&usage->lock, NULL);
	usage->bucket_count = 256;
	usage->buckets = calloc(usage->bucket_count, sizeof(*usage->buckets));
	if (usage->buckets == NULL)
		abort();
	return usage;
}

void guard_usage_free(struct guard_usage **usage_ptr)
{
	struct guard_usage *usage = *usage_ptr;
	if (usage == NULL)
		return;
	for (size_t i = 0; i < usage->bucket_count; i++)
		for (struct user_entry *e = usage->buckets[i], *next; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(usage->buckets);
	pthread_mutex_destroy(&usage->lock);
	free(usage);
	*usage_ptr = NULL;
}

static size_t slot_of(const struct guard_usage *usage, int64_t user)
{
	uint64_t h = (uint64_t)user * 0x9E3779B97F4A7C15u;
	return (size_t)(h >> 32) % usage->bucket_count;
}

static void grow(struct guard_usage *usage)
{
	size_t old_count = usage->bucket_count;
	struct user_entry **old = usage->buckets;
	usage->bucket_count = old_count * 2;
	usage->buckets = calloc(usage->bucket_count, sizeof(*usage->buckets));
	if (usage->buckets == NULL)
		abort();
	for (size_t i = 0; i < old_count; i++)
		for (struct user_entry *e = old[i], *next; e != NULL; e = next) {
			next = e->next;
			size_t slot = slot_of(usage, e->user);
			e->next = usage->buckets[slot];
			usage->buckets[slot] = e;
		}
	free(old);
}

static struct user_entry *find(struct guard_usage *usage, int64_t user, int64_t now_ms, bool create)
{
	for (struct user_entry *e = usage->buckets[slot_of(usage, user)]; e != NULL; e = e->next)
		if (e->user == user)
			return e;
	if (!create)
		return NULL;
	if (usage->count >= usage->bucket_count * 2)
		grow(usage);
	struct user_entry *e = calloc(1, sizeof(*e));
	if (e == NULL)
		abort();
	e->user = user;
	e->drained_ms = now_ms;
	size_t slot = slot_of(usage, user);
	e->next = usage->buckets[slot];
	usage->buckets[slot] = e;
	usage->count++;
	return e;
}

/* Each budget's allowance per minute, 0 where it is off. */
static void allowances(const struct guard_usage_limits *limits, double out[BUDGETS])
{
	out[BUDGET_REQUESTS] = limits->requests_per_minute;
	out[BUDGET_TIME] = limits->seconds_per_minute * 1000.0;
	out[BUDGET_BYTES] = (double)limits->bytes_per_minute;
}

/* Lets what e used drain up to now_ms, a minute's allowance per minute. */
static void drain(struct user_entry *e, const struct guard_usage_limits *limits, int64_t now_ms)
{
	double allowance[BUDGETS];
	allowances(limits, allowance);
	double minutes = now_ms > e->drained_ms ? (double)(now_ms - e->drained_ms) / 60000.0 : 0;
	for (int b = 0; b < BUDGETS; b++) {
		e->used[b] -= allowance[b] * minutes;
		if (e->used[b] < 0 || allowance[b] == 0)
			e->used[b] = 0;
	}
	if (now_ms > e->drained_ms)
		e->drained_ms = now_ms;
}

static bool idle(const struct user_entry *e)
{
	return e->requests == 0 && e->sessions == 0 && e->used[BUDGET_REQUESTS] == 0 && e->used[BUDGET_TIME] == 0 &&
	       e->used[BUDGET_BYTES] == 0;
}

/* Forgets idle users, so the table holds the active ones only. */
static void sweep(struct guard_usage *usage, const struct guard_usage_limits *limits, int64_t now_ms)
{
	if (now_ms - usage->swept_ms < SWEEP_INTERVAL_MS)
		return;
	usage->swept_ms = now_ms;
	for (size_t i = 0; i < usage->bucket_count; i++)
		for (struct user_entry **link = &usage->buckets[i]; *link != NULL;) {
			struct user_entry *e = *link;
			drain(e, limits, now_ms);
			if (!idle(e)) {
				link = &e->next;
				continue;
			}
			*link = e->next;
			free(e);
			usage->count--;
		}
}

/* The first budget a new request would overdraw, with the seconds until it would not. */
static struct guard_verdict check_budgets(const struct user_entry *e, const struct guard_usage_limits *limits)
{
	static const enum guard_refusal refusals[BUDGETS] = { GUARD_REQUEST_BUDGET, GUARD_TIME_BUDGET,
							      GUARD_BYTE_BUDGET };
	double allowance[BUDGETS];
	allowances(limits, allowance);
	for (int b = 0; b < BUDGETS; b++) {
		/* A request takes one from the request budget; the others must only not be overdrawn. */
		double room = b == BUDGET_REQUESTS ? allowance[b] - 1 : allowance[b];
		/* (The margin absorbs rounding of refills added up over many drains.) */
		if (allowance[b] == 0 || e->used[b] <= room + 1e-6)
			continue;
		double seconds = ceil((e->used[b] - room) / allowance[b] * 60.0);
		unsigned retry = seconds < 1 ? 1 : seconds > MAX_RETRY_SECONDS ? MAX_RETRY_SECONDS : (unsigned)seconds;
		return (struct guard_verdict){ refusals[b], retry };
	}
	return (struct guard_verdict){ GUARD_PASS, 0 };
}

struct guard_verdict guard_usage_enter(struct guard_usage *usage, const struct guard_usage_limits *limits,
				       int64_t user, bool exempt, int64_t now_ms)
{
	pthread_mutex_lock(&usage->lock);
	sweep(usage, limits, now_ms);
	struct user_entry *e = find(usage, user, now_ms, true);
	drain(e, limits, now_ms);
	struct guard_verdict verdict = { GUARD_PASS, 0 };
	if (limits->max_requests > 0 && e->requests >= limits->max_requests)
		verdict = (struct guard_verdict){ GUARD_TOO_MANY_REQUESTS, BUSY_RETRY_SECONDS };
	else
		verdict = check_budgets(e, limits);
	if (exempt)
		verdict = (struct guard_verdict){ GUARD_PASS, 0 };
	if (verdict.refusal == GUARD_PASS) {
		e->requests++;
		if (limits->requests_per_minute > 0)
			e->used[BUDGET_REQUESTS] += 1;
	} else {
		e->refused++;
		e->last_refusal = verdict.refusal;
	}
	pthread_mutex_unlock(&usage->lock);
	return verdict;
}

void guard_usage_resume(struct guard_usage *usage, int64_t user, int64_t now_ms)
{
	pthread_mutex_lock(&usage->lock);
	find(usage, user, now_ms, true)->requests++;
	pthread_mutex_unlock(&usage->lock);
}

void guard_usage_leave(struct guard_usage *usage, const struct guard_usage_limits *limits, int64_t user,
		       uint64_t busy_ms, uint64_t bytes, int64_t now_ms)
{
	pthread_mutex_lock(&usage->lock);
	struct user_entry *e = find(usage, user, now_ms, true);
	drain(e, limits, now_ms);
	if (e->requests > 0)
		e->requests--;
	if (limits->seconds_per_minute > 0)
		e->used[BUDGET_TIME] += (double)busy_ms;
	if (limits->bytes_per_minute > 0)
		e->used[BUDGET_BYTES] += (double)bytes;
	pthread_mutex_unlock(&usage->lock);
}

struct guard_verdict guard_usage_session_take(struct guard_usage *usage, const struct guard_usage_limits *limits,
					      int64_t user, bool exempt)
{
	struct guard_verdict verdict = { GUARD_PASS, 0 };
	pthread_mutex_lock(&usage->lock);
	struct user_entry *e = find(usage, user, 0, true);
	if (!exempt && limits->max_store_sessions > 0 && e->sessions >= limits->max_store_sessions) {
		verdict = (struct guard_verdict){ GUARD_TOO_MANY_SESSIONS, BUSY_RETRY_SECONDS };
		e->refused++;
		e->last_refusal = verdict.refusal;
	} else {
		e->sessions++;
	}
	pthread_mutex_unlock(&usage->lock);
	return verdict;
}

void guard_usage_session_give(struct guard_usage *usage, int64_t user)
{
	pthread_mutex_lock(&usage->lock);
	struct user_entry *e = find(usage, user, 0, false);
	if (e != NULL && e->sessions > 0)
		e->sessions--;
	pthread_mutex_unlock(&usage->lock);
}

static void describe(const struct user_entry *e, const struct guard_usage_limits *limits,
		     struct guard_usage_user *out)
{
	double allowance[BUDGETS];
	allowances(limits, allowance);
	double left[BUDGETS];
	for (int b = 0; b < BUDGETS; b++)
		left[b] = allowance[b] > 0 ? 1.0 - e->used[b] / allowance[b] : 1.0;
	*out = (struct guard_usage_user){ e->user, e->requests, e->sessions, left[BUDGET_REQUESTS], left[BUDGET_TIME],
					  left[BUDGET_BYTES], e->refused, e->last_refusal };
}

/* Busiest first: most in progress, then least left of any budget. */
static int busier(const void *a, const void *b)
{
	const struct guard_usage_user *x = a, *y = b;
	if (x->requests != y->requests)
		return x->requests > y->requests ? -1 : 1;
	double lx = fmin(x->requests_left, fmin(x->time_left, x->bytes_left));
	double ly = fmin(y->requests_left, fmin(y->time_left, y->bytes_left));
	return lx < ly ? -1 : lx > ly ? 1 : 0;
}

size_t guard_usage_list(struct guard_usage *usage, const struct guard_usage_limits *limits, int64_t now_ms,
			struct guard_usage_user *out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&usage->lock);
	for (size_t i = 0; i < usage->bucket_count; i++)
		for (struct user_entry *e = usage->buckets[i]; e != NULL && n < max; e = e->next) {
			drain(e, limits, now_ms);
			if (!idle(e) || e->refused > 0)
				describe(e, limits, &out[n++]);
		}
	pthread_mutex_unlock(&usage->lock);
	qsort(out, n, sizeof(*out), busier);
	return n;
}

void guard_usage_clear(struct guard_usage *usage, int64_t user)
{
	pthread_mutex_lock(&usage->lock);
	for (size_t i = 0; i < usage->bucket_count; i++)
		for (struct user_entry *e = usage->buckets[i]; e != NULL; e = e->next)
			if (user == 0 || e->user == user) {
				memset(e->used, 0, sizeof(e->used));
				e->refused = 0;
				e->last_refusal = GUARD_PASS;
			}
	pthread_mutex_unlock(&usage->lock);
}
