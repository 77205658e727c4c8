/*
 * usage.h: what each user takes from what everyone shares, and the
 * refusal once one user takes too much (ARCHITECTURE.md's failure table:
 * one broken client opening dozens of sessions, a retry storm, a bulk
 * upload retried in parallel).
 *
 * Two kinds of limit per user:
 *   - caps on what is held at once: requests in progress (from accepted
 *     headers to the log line; a parked long poll is not one, the push
 *     hub counts those) and store sessions;
 *   - budgets over time, each a bucket that holds a minute's worth and
 *     refills evenly (the burst is one minute's allowance): requests,
 *     milliseconds of commands running (Exchange's EASPercentTimeInCAS)
 *     and bytes in and out. A request is admitted while every bucket has
 *     something left; what it used is taken when it ends, so one long
 *     request can leave a bucket below zero, and the next waits for it
 *     to refill.
 *
 * Owns: a table of the users seen lately (one mutex). A user with nothing
 * in progress and full buckets is forgotten at the next sweep, so the
 * table holds the active users only. In memory: a restart refills every
 * bucket, which costs nothing but a minute's allowance.
 */
#ifndef GUARD_USAGE_H
#define GUARD_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The limits in force ([guard]); 0 switches one off. */
struct guard_usage_limits {
	unsigned max_requests;         /* requests in progress per user */
	unsigned max_store_sessions;   /* store sessions held per user */
	unsigned requests_per_minute;
	unsigned seconds_per_minute;   /* time commands of the user run */
	uint64_t bytes_per_minute;     /* request and response bodies */
};

enum guard_refusal {
	GUARD_PASS = 0,
	GUARD_TOO_MANY_REQUESTS,  /* max_requests in progress already */
	GUARD_TOO_MANY_SESSIONS,  /* max_store_sessions held already */
	GUARD_REQUEST_BUDGET,     /* requests_per_minute spent */
	GUARD_TIME_BUDGET,        /* seconds_per_minute spent */
	GUARD_BYTE_BUDGET,        /* bytes_per_minute spent */
};

struct guard_verdict {
	enum guard_refusal refusal;
	unsigned retry_after; /* seconds until it would pass (at least 1) */
};

/* The log's word for a refusal ("requests_in_progress", ...); "pass" for GUARD_PASS. */
const char *guard_refusal_reason(enum guard_refusal refusal);
/* The X-MS-ASThrottle value that tells a device why (MS-ASHTTP 2.2.2.1.2.13). */
const char *guard_refusal_throttle(enum guard_refusal refusal);

struct guard_usage;

struct guard_usage *guard_usage_new(void);
void guard_usage_free(struct guard_usage **usage);

/*
 * A request of user arrives at now_ms (CLOCK_MONOTONIC). Admitted
 * (GUARD_PASS) it counts as in progress until guard_usage_leave. An
 * exempt user is counted but never refused.
 */
struct guard_verdict guard_usage_enter(struct guard_usage *usage, const struct guard_usage_limits *limits,
				       int64_t user, bool exempt, int64_t now_ms);
/* A parked request of user goes on: in progress again, never refused (it was admitted). */
void guard_usage_resume(struct guard_usage *usage, int64_t user, int64_t now_ms);
/*
 * The request (or the part of a parked one before or after its wait)
 * ended, having run its command for busy_ms and moved bytes.
 */
void guard_usage_leave(struct guard_usage *usage, const struct guard_usage_limits *limits, int64_t user,
		       uint64_t busy_ms, uint64_t bytes, int64_t now_ms);

/* A store session for user: GUARD_PASS, and it counts until guard_usage_session_give. */
struct guard_verdict guard_usage_session_take(struct guard_usage *usage, const struct guard_usage_limits *limits,
					      int64_t user, bool exempt);
void guard_usage_session_give(struct guard_usage *usage, int64_t user);

/* One user as guard_usage_list sees it. */
struct guard_usage_user {
	int64_t user;
	unsigned requests, sessions;
	/* Left of each budget now, as a share of a minute's allowance (1: full; below 0: overdrawn). */
	double requests_left, time_left, bytes_left;
	uint64_t refused; /* requests refused since the user entered the table */
	enum guard_refusal last_refusal;
};

/* Up to max users that hold something or were refused, busiest first; returns how many. */
size_t guard_usage_list(struct guard_usage *usage, const struct guard_usage_limits *limits, int64_t now_ms,
			struct guard_usage_user *out, size_t max);
/* Forgets user's budgets (easctl throttle clear): full again. user 0: everyone's. */
void guard_usage_clear(struct guard_usage *usage, int64_t user);

#endif
