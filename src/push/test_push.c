/*
 * test_push.c: the push hub through push.h alone: deadlines (kept in one
 * heap, met in order, never early), changes by user and folder, change
 * generations, one long poll per device (supersede), the parking caps at
 * and past their limit, hang-ups seen on real loopback TCP sockets, stop,
 * unpark, changes from other programs over push.sock, and the request
 * sequence.
 *
 * Resume functions run on the hub's thread or on the caller's, without
 * the hub's lock: they record into the fixture under its mutex, and the
 * tests wait on its condition variable with a bound of a few seconds. A
 * test sleeps only to show that something does not happen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "push/push.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_WAITERS 64
#define MAX_PAIRS 2
/* The bound on a wait for resume calls that must come. */
#define WAIT_MS 3000
/* A deadline no test reaches: the waiter leaves some other way. */
#define FAR_MS 600000

struct fixture;

/* A parked request as the tests keep it: the hub's record and what its resume saw. */
struct test_waiter {
	struct push_waiter waiter;
	int64_t folders[4];
	struct fixture *f;
	unsigned resumed; /* resume calls: never more than one */
	enum push_outcome outcome;
	int64_t resumed_ms;
};

struct tcp_pair {
	int client, server; /* server: the accepted end, the one easd parks; -1: closed */
};

struct fixture {
	struct push_hub *hub;
	pthread_mutex_t lock;
	pthread_cond_t changed; /* on CLOCK_MONOTONIC */
	unsigned resumes;       /* resume calls so far, all waiters */
	unsigned by_outcome[PUSH_STOPPING + 1];
	struct test_waiter *order[MAX_WAITERS]; /* the waiters in the order of their resume calls */
	struct test_waiter waiters[MAX_WAITERS];
	struct tcp_pair pairs[MAX_PAIRS];
	char dirs[2][32]; /* temporary data directories; "": none */
	struct {
		bool entered, released, returned; /* a resume call held by the test */
		bool stopped, returned_before_stop; /* push_hub_stop on another thread */
	} gate;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- recording resume calls, waiting for them ---- */

static void record_resume(struct push_waiter *waiter)
{
	struct test_waiter *t = (struct test_waiter *)((char *)waiter - offsetof(struct test_waiter, waiter));
	struct fixture *f = t->f;
	int64_t now = now_ms();
	pthread_mutex_lock(&f->lock);
	t->resumed++;
	t->outcome = waiter->outcome;
	t->resumed_ms = now;
	if (f->resumes < MAX_WAITERS)
		f->order[f->resumes] = t;
	f->resumes++;
	f->by_outcome[waiter->outcome]++;
	pthread_cond_broadcast(&f->changed);
	pthread_mutex_unlock(&f->lock);
}

static struct timespec monotonic_at(int64_t ms)
{
	return (struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
}

/* Waits until count resume calls were made in all, or until the monotonic time until_ms. */
static bool wait_resumes_until(struct fixture *f, unsigned count, int64_t until_ms)
{
	struct timespec until = monotonic_at(until_ms);
	int status = 0;
	pthread_mutex_lock(&f->lock);
	while (f->resumes < count && status != ETIMEDOUT)
		status = pthread_cond_timedwait(&f->changed, &f->lock, &until);
	bool reached = f->resumes >= count;
	pthread_mutex_unlock(&f->lock);
	return reached;
}

static bool wait_resumes(struct fixture *f, unsigned count)
{
	return wait_resumes_until(f, count, now_ms() + WAIT_MS);
}

/* Waits until *flag (one of f->gate's) is set, or until until_ms. */
static bool wait_flag(struct fixture *f, const bool *flag, int64_t until_ms)
{
	struct timespec until = monotonic_at(until_ms);
	int status = 0;
	pthread_mutex_lock(&f->lock);
	while (!*flag && status != ETIMEDOUT)
		status = pthread_cond_timedwait(&f->changed, &f->lock, &until);
	bool set = *flag;
	pthread_mutex_unlock(&f->lock);
	return set;
}

static void set_flag(struct fixture *f, bool *flag)
{
	pthread_mutex_lock(&f->lock);
	*flag = true;
	pthread_cond_broadcast(&f->changed);
	pthread_mutex_unlock(&f->lock);
}

static unsigned resumes(struct fixture *f)
{
	pthread_mutex_lock(&f->lock);
	unsigned count = f->resumes;
	pthread_mutex_unlock(&f->lock);
	return count;
}

/* t was resumed exactly once, with outcome. */
static void assert_resumed(struct fixture *f, const struct test_waiter *t, enum push_outcome outcome)
{
	pthread_mutex_lock(&f->lock);
	unsigned resumed = t->resumed;
	enum push_outcome seen = t->outcome;
	pthread_mutex_unlock(&f->lock);
	assert_int_equal(resumed, 1);
	assert_int_equal(seen, outcome);
}

static unsigned resume_calls(struct fixture *f, const struct test_waiter *t)
{
	pthread_mutex_lock(&f->lock);
	unsigned resumed = t->resumed;
	pthread_mutex_unlock(&f->lock);
	return resumed;
}

static void assert_not_resumed(struct fixture *f, const struct test_waiter *t)
{
	assert_int_equal(resume_calls(f, t), 0);
}

static struct push_counts counts_of(struct fixture *f)
{
	struct push_counts counts;
	push_hub_counts(f->hub, &counts);
	return counts;
}

/* ---- hubs and waiters ---- */

static void hub_start(struct fixture *f, unsigned max_parked, unsigned max_parked_per_user)
{
	struct push_settings settings = { .max_parked = max_parked, .max_parked_per_user = max_parked_per_user };
	char error[256] = "";
	if (push_hub_start(&settings, 1024, &f->hub, error, sizeof(error)) < 0)
		fail_msg("push_hub_start: %s", error);
	assert_non_null(f->hub);
}

/* Waiter i, filled as http/ fills one: a fresh sequence, no socket, no folder yet. */
static struct test_waiter *prepare(struct fixture *f, unsigned i, int64_t user_id, int64_t device_id,
				   int64_t deadline_ms)
{
	struct test_waiter *t = &f->waiters[i];
	memset(t, 0, sizeof(*t));
	t->f = f;
	t->waiter.user_id = user_id;
	t->waiter.device_id = device_id;
	t->waiter.sequence = push_hub_sequence(f->hub);
	t->waiter.deadline_ms = deadline_ms;
	t->waiter.fd = -1;
	t->waiter.folders = t->folders;
	t->waiter.resume = record_resume;
	return t;
}

static void watch(struct test_waiter *t, int64_t folder_id)
{
	assert_true(t->waiter.folder_count < ARRAY_LEN(t->folders));
	t->folders[t->waiter.folder_count++] = folder_id;
}

/* Parks t as a request does: with the generation taken just now (nothing changed since). */
static enum push_park_status park(struct fixture *f, struct test_waiter *t)
{
	return push_hub_park(f->hub, &t->waiter, push_hub_generation(f->hub, t->waiter.user_id));
}

static void close_pairs(struct fixture *f)
{
	for (unsigned i = 0; i < MAX_PAIRS; i++) {
		if (f->pairs[i].client >= 0)
			close(f->pairs[i].client);
		if (f->pairs[i].server >= 0)
			close(f->pairs[i].server);
		f->pairs[i] = (struct tcp_pair){ -1, -1 };
	}
}

/* For a table's next case: no hub, no resume call recorded, no socket. */
static void fixture_reset(struct fixture *f)
{
	push_hub_free(&f->hub);
	close_pairs(f);
	pthread_mutex_lock(&f->lock);
	f->resumes = 0;
	memset(f->by_outcome, 0, sizeof(f->by_outcome));
	memset(f->order, 0, sizeof(f->order));
	memset(f->waiters, 0, sizeof(f->waiters));
	memset(&f->gate, 0, sizeof(f->gate));
	pthread_mutex_unlock(&f->lock);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	pthread_condattr_t attributes;
	if (f == NULL)
		return -1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&attributes);
	pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
	pthread_cond_init(&f->changed, &attributes);
	pthread_condattr_destroy(&attributes);
	for (unsigned i = 0; i < MAX_PAIRS; i++)
		f->pairs[i] = (struct tcp_pair){ -1, -1 };
	*state = f;
	return 0;
}

/* Runs after a failed assertion too: the hub goes first, while the waiters it may still resume exist. */
static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[64];
	push_hub_free(&f->hub);
	close_pairs(f);
	for (unsigned i = 0; i < ARRAY_LEN(f->dirs); i++) {
		if (f->dirs[i][0] == '\0')
			continue;
		snprintf(path, sizeof(path), "%s/%s", f->dirs[i], PUSH_SOCKET_NAME);
		unlink(path);
		rmdir(f->dirs[i]);
	}
	pthread_cond_destroy(&f->changed);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

/* ---- deadlines ---- */

static void deadline_expires_once_not_before(void **state)
{
	struct fixture *f = *state;
	hub_start(f, 0, 0);
	int64_t start = now_ms();
	struct test_waiter *t = prepare(f, 0, 1, 1, start + 200);
	assert_int_equal(park(f, t), PUSH_PARKED);
	struct push_counts counts = counts_of(f);
	assert_int_equal(counts.parked, 1);
	assert_int_equal(counts.parked_total, 1);

	assert_false(wait_resumes_until(f, 1, start + 100));
	assert_true(wait_resumes_until(f, 1, start + 1000));
	assert_resumed(f, t, PUSH_EXPIRED);
	assert_true(t->resumed_ms >= t->waiter.deadline_ms);
	counts = counts_of(f);
	assert_int_equal(counts.parked, 0);
	assert_int_equal(counts.expired, 1);
	assert_int_equal(counts.changed + counts.superseded + counts.gone + counts.stopped, 0);

	/* Once: stopping does not resume it again. */
	push_hub_free(&f->hub);
	assert_int_equal(resumes(f), 1);
}

/* Deadlines 20 ms apart: far enough that each expires on its own turn of the hub's thread. */
#define ORDER_STEP_MS 20

static void deadlines_expire_in_deadline_order(void **state)
{
	struct fixture *f = *state;
	const unsigned count = 50;
	hub_start(f, 0, 0);
	int64_t first = now_ms() + 100;
	for (unsigned i = 0; i < count; i++) {
		/* 17 is prime to 50: i * 17 % 50 shuffles the ranks. */
		unsigned rank = i * 17 % count;
		struct test_waiter *t = prepare(f, i, 1, 100 + i, first + ORDER_STEP_MS * rank);
		assert_int_equal(park(f, t), PUSH_PARKED);
	}
	assert_int_equal(counts_of(f).parked, count);
	assert_true(wait_resumes_until(f, count, first + ORDER_STEP_MS * count + WAIT_MS));
	pthread_mutex_lock(&f->lock);
	struct test_waiter *order[MAX_WAITERS];
	memcpy(order, f->order, sizeof(order));
	pthread_mutex_unlock(&f->lock);
	for (unsigned j = 0; j < count; j++) {
		if (order[j]->waiter.deadline_ms != first + ORDER_STEP_MS * j)
			fail_msg("resume call %u: deadline +%lld ms, expected +%u ms", j,
				 (long long)(order[j]->waiter.deadline_ms - first), ORDER_STEP_MS * j);
		assert_resumed(f, order[j], PUSH_EXPIRED);
		assert_true(order[j]->resumed_ms >= order[j]->waiter.deadline_ms);
	}
	assert_int_equal(counts_of(f).expired, count);
	push_hub_free(&f->hub);
	assert_int_equal(resumes(f), count);
}

/* Waiters that leave early (unparked, changed) leave the middle of the heap: the rest keep their order. */
static void heap_keeps_order_when_waiters_leave_early(void **state)
{
	struct fixture *f = *state;
	const unsigned count = 30;
	unsigned unparked = 0, changed = 0;
	hub_start(f, 0, 0);
	int64_t first = now_ms() + 100;
	for (unsigned i = 0; i < count; i++) {
		unsigned rank = i * 7 % count; /* 7 is prime to 30 */
		struct test_waiter *t = prepare(f, i, 100 + i, 100 + i, first + ORDER_STEP_MS * rank);
		assert_int_equal(park(f, t), PUSH_PARKED);
	}
	for (unsigned i = 0; i < count; i++) {
		if (i % 3 == 0) {
			assert_true(push_hub_unpark(f->hub, &f->waiters[i].waiter));
			unparked++;
		} else if (i % 3 == 1 && i < count / 2) {
			push_hub_changed(f->hub, f->waiters[i].waiter.user_id, -1);
			changed++;
		}
	}
	unsigned expiring = count - unparked - changed;
	assert_true(wait_resumes_until(f, changed + expiring, first + ORDER_STEP_MS * count + WAIT_MS));
	int64_t previous = 0;
	unsigned expired = 0, out_of_order = 0;
	pthread_mutex_lock(&f->lock);
	for (unsigned j = 0; j < changed + expiring; j++) {
		const struct test_waiter *t = f->order[j];
		if (t->outcome != PUSH_EXPIRED)
			continue;
		out_of_order += t->waiter.deadline_ms <= previous;
		previous = t->waiter.deadline_ms;
		expired++;
	}
	pthread_mutex_unlock(&f->lock);
	assert_int_equal(out_of_order, 0);
	assert_int_equal(expired, expiring);
	for (unsigned i = 0; i < count; i += 3)
		assert_not_resumed(f, &f->waiters[i]);
	push_hub_free(&f->hub);
	assert_int_equal(resumes(f), changed + expiring);
}

/* ---- changes ---- */

struct change_waiter {
	int64_t user_id, device_id;
	unsigned folder_count;
	int64_t folders[2];
};

static const struct change_waiter change_waiters[] = {
	{ 1, 11, 2, { 10, 20 } }, /* user 1, two mail folders */
	{ 1, 12, 1, { 0 } },      /* user 1, the folder hierarchy */
	{ 1, 13, 1, { 30 } },
	{ 2, 21, 1, { 10 } },     /* another user, a folder of the same id */
	{ 3, 31, 2, { 0, 10 } },
};

struct change_case {
	const char *name;
	int64_t user_id, folder_id;
	unsigned woken; /* bit i: change_waiters[i] */
};

static const struct change_case change_cases[] = {
	{ "a folder of a user", 1, 10, 1u << 0 },
	{ "the second watched folder", 1, 20, 1u << 0 },
	{ "the hierarchy", 1, 0, 1u << 1 },
	{ "a folder nobody watches", 1, 99, 0 },
	{ "every folder of the user", 1, -1, 0x07 },
	{ "the same folder id, another user", 2, 10, 1u << 3 },
	{ "a user with nothing parked", 4, 10, 0 },
	{ "every user, one folder id", -1, 30, 0x1f },
	{ "every user, every folder", -1, -1, 0x1f },
};

/* Parks change_waiters, sends c's change; returns the bits of the waiters resumed (each with PUSH_CHANGED). */
static unsigned run_change_case(struct fixture *f, const struct change_case *c)
{
	unsigned expected = (unsigned)__builtin_popcount(c->woken), woken = 0;
	fixture_reset(f);
	hub_start(f, 0, 0);
	for (unsigned i = 0; i < ARRAY_LEN(change_waiters); i++) {
		const struct change_waiter *w = &change_waiters[i];
		struct test_waiter *t = prepare(f, i, w->user_id, w->device_id, now_ms() + FAR_MS);
		for (unsigned k = 0; k < w->folder_count; k++)
			watch(t, w->folders[k]);
		assert_int_equal(park(f, t), PUSH_PARKED);
	}
	push_hub_changed(f->hub, c->user_id, c->folder_id);
	if (!wait_resumes(f, expected))
		fail_msg("%s: %u resume calls, expected %u", c->name, resumes(f), expected);
	struct push_counts counts = counts_of(f);
	assert_int_equal(counts.parked, ARRAY_LEN(change_waiters) - expected);
	assert_int_equal(counts.changed, expected);
	for (unsigned i = 0; i < ARRAY_LEN(change_waiters); i++) {
		if (resume_calls(f, &f->waiters[i]) == 0)
			continue;
		assert_resumed(f, &f->waiters[i], PUSH_CHANGED);
		woken |= 1u << i;
	}
	push_hub_free(&f->hub);
	return woken;
}

static void change_wakes_only_the_waiters_watching_it(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < ARRAY_LEN(change_cases); i++) {
		unsigned woken = run_change_case(f, &change_cases[i]);
		if (woken != change_cases[i].woken)
			fail_msg("%s: woke %#x, expected %#x", change_cases[i].name, woken, change_cases[i].woken);
	}
}

static void change_since_the_generation_refuses_to_park(void **state)
{
	struct fixture *f = *state;
	hub_start(f, 0, 0);
	struct test_waiter *t = prepare(f, 0, 1, 11, now_ms() + FAR_MS);
	watch(t, 10);
	uint64_t generation = push_hub_generation(f->hub, 1);
	push_hub_changed(f->hub, 1, 10);
	assert_int_equal(push_hub_park(f->hub, &t->waiter, generation), PUSH_CHANGED_ALREADY);
	assert_int_equal(counts_of(f).parked, 0);
	assert_int_equal(counts_of(f).parked_total, 0);
	assert_false(push_hub_unpark(f->hub, &t->waiter));
	assert_int_equal(resumes(f), 0);

	/* A change of another user leaves user 1's generation as it was. */
	generation = push_hub_generation(f->hub, 1);
	push_hub_changed(f->hub, 2, 10);
	assert_int_equal(push_hub_park(f->hub, &t->waiter, generation), PUSH_PARKED);
	assert_int_equal(counts_of(f).parked, 1);
	assert_int_equal(resumes(f), 0);

	/* A change of every user moves every user's generation. */
	struct test_waiter *other = prepare(f, 1, 5, 51, now_ms() + FAR_MS);
	generation = push_hub_generation(f->hub, 5);
	push_hub_changed(f->hub, -1, 99);
	assert_true(wait_resumes(f, 1));
	assert_resumed(f, t, PUSH_CHANGED);
	assert_int_equal(push_hub_park(f->hub, &other->waiter, generation), PUSH_CHANGED_ALREADY);
	assert_int_equal(push_hub_park(f->hub, &other->waiter, push_hub_generation(f->hub, 5)), PUSH_PARKED);
	push_hub_free(&f->hub);
	assert_resumed(f, other, PUSH_STOPPING);
	assert_int_equal(resumes(f), 2);
}

/* ---- one long poll per device ---- */

static void newer_long_poll_of_a_device_supersedes_the_older(void **state)
{
	struct fixture *f = *state;
	hub_start(f, 0, 0);
	int64_t far = now_ms() + FAR_MS;
	struct test_waiter *a = prepare(f, 0, 1, 7, far), *b = prepare(f, 1, 1, 7, far);
	struct test_waiter *c = prepare(f, 2, 1, 7, far), *d = prepare(f, 3, 1, 7, far);
	a->waiter.sequence = 10;
	b->waiter.sequence = 11;
	c->waiter.sequence = 9;
	d->waiter.sequence = 13;
	assert_int_equal(park(f, a), PUSH_PARKED);
	assert_int_equal(park(f, b), PUSH_PARKED);
	assert_true(wait_resumes(f, 1));
	assert_resumed(f, a, PUSH_SUPERSEDED);
	assert_int_equal(counts_of(f).parked, 1);

	/* An older request arriving late is not parked and not resumed: its caller answers it. */
	assert_int_equal(park(f, c), PUSH_OLDER);
	assert_int_equal(counts_of(f).parked, 1);
	assert_int_equal(resumes(f), 1);
	assert_not_resumed(f, b);

	/* A newer request that does not park (yet) ends the parked one: it is not the stale one. */
	assert_false(push_hub_supersede(f->hub, 7, 12));
	assert_true(wait_resumes(f, 2));
	assert_resumed(f, b, PUSH_SUPERSEDED);
	assert_int_equal(counts_of(f).parked, 0);
	assert_int_equal(counts_of(f).superseded, 2);

	/* An older one finds a newer parked: it is the stale one, the parked one stays. */
	assert_int_equal(park(f, d), PUSH_PARKED);
	assert_true(push_hub_supersede(f->hub, 7, 5));
	assert_int_equal(counts_of(f).parked, 1);
	assert_false(push_hub_supersede(f->hub, 8, 1)); /* nothing parked for the device */
	assert_int_equal(resumes(f), 2);
	push_hub_free(&f->hub);
	assert_resumed(f, d, PUSH_STOPPING);
	assert_not_resumed(f, c);
}

/* ---- caps, at the limit and one past it ---- */

static void user_cap_refuses_one_past_it_but_lets_a_device_replace_its_own(void **state)
{
	struct fixture *f = *state;
	hub_start(f, 0, 2);
	int64_t far = now_ms() + FAR_MS;
	assert_int_equal(park(f, prepare(f, 0, 1, 1, far)), PUSH_PARKED);
	assert_int_equal(park(f, prepare(f, 1, 1, 2, far)), PUSH_PARKED);
	assert_int_equal(park(f, prepare(f, 2, 1, 3, far)), PUSH_USER_FULL);
	assert_int_equal(park(f, prepare(f, 3, 2, 4, far)), PUSH_PARKED); /* another user has room */
	assert_int_equal(counts_of(f).parked, 3);

	/* Device 1's newer long poll takes the old one's place. */
	assert_int_equal(park(f, prepare(f, 4, 1, 1, far)), PUSH_PARKED);
	assert_true(wait_resumes(f, 1));
	assert_resumed(f, &f->waiters[0], PUSH_SUPERSEDED);
	assert_int_equal(counts_of(f).parked, 3);

	/* Room again once one of the user's waiters left. */
	assert_true(push_hub_unpark(f->hub, &f->waiters[1].waiter));
	assert_int_equal(park(f, prepare(f, 5, 1, 3, far)), PUSH_PARKED);
	assert_int_equal(resumes(f), 1);
	push_hub_free(&f->hub);
	assert_not_resumed(f, &f->waiters[2]);
	assert_int_equal(resumes(f), 4);
}

static void total_cap_refuses_one_past_it_but_lets_a_device_replace_its_own(void **state)
{
	struct fixture *f = *state;
	hub_start(f, 3, 0);
	int64_t far = now_ms() + FAR_MS;
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(park(f, prepare(f, i, 1 + i, 1 + i, far)), PUSH_PARKED);
	assert_int_equal(park(f, prepare(f, 3, 4, 4, far)), PUSH_FULL);
	assert_int_equal(park(f, prepare(f, 4, 1, 5, far)), PUSH_FULL);
	assert_int_equal(counts_of(f).parked, 3);

	assert_int_equal(park(f, prepare(f, 5, 2, 2, far)), PUSH_PARKED);
	assert_true(wait_resumes(f, 1));
	assert_resumed(f, &f->waiters[1], PUSH_SUPERSEDED);
	assert_int_equal(counts_of(f).parked, 3);

	push_hub_changed(f->hub, 3, -1);
	assert_true(wait_resumes(f, 2));
	assert_int_equal(park(f, prepare(f, 6, 4, 4, far)), PUSH_PARKED);
	push_hub_free(&f->hub);
	assert_not_resumed(f, &f->waiters[3]);
	assert_not_resumed(f, &f->waiters[4]);
	assert_int_equal(resumes(f), 5);
}

/* ---- hang-ups, on real loopback TCP connections ---- */

/* Connects pair i: a client socket and the accepted socket that easd would park. */
static void tcp_connect(struct fixture *f, unsigned i)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t length = sizeof(address);
	int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(listener >= 0);
	int status = bind(listener, (struct sockaddr *)&address, sizeof(address));
	if (status == 0)
		status = listen(listener, 1);
	if (status == 0)
		status = getsockname(listener, (struct sockaddr *)&address, &length);
	f->pairs[i].client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (status == 0 && f->pairs[i].client >= 0)
		status = connect(f->pairs[i].client, (struct sockaddr *)&address, sizeof(address));
	if (status == 0)
		f->pairs[i].server = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	close(listener);
	if (status != 0 || f->pairs[i].server < 0)
		fail_msg("loopback connection: %s", strerror(errno));
}

enum hang_up {
	HANG_UP_FIN,         /* close: the client sends FIN */
	HANG_UP_RST,         /* SO_LINGER 0, then close: the client resets */
	HANG_UP_BEFORE_PARK, /* FIN, already there when the request parks */
};

static const struct {
	const char *name;
	enum hang_up how;
} hang_up_cases[] = {
	{ "close", HANG_UP_FIN },
	{ "reset", HANG_UP_RST },
	{ "closed before the park", HANG_UP_BEFORE_PARK },
};

static void hang_up(struct fixture *f, unsigned i, bool reset)
{
	struct linger linger = { .l_onoff = 1, .l_linger = 0 };
	if (reset)
		assert_int_equal(setsockopt(f->pairs[i].client, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger)), 0);
	close(f->pairs[i].client);
	f->pairs[i].client = -1;
}

static void hang_up_resumes_gone_open_client_stays(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < ARRAY_LEN(hang_up_cases); i++) {
		const char *name = hang_up_cases[i].name;
		enum hang_up how = hang_up_cases[i].how;
		fixture_reset(f);
		hub_start(f, 0, 0);
		tcp_connect(f, 0);
		tcp_connect(f, 1);
		struct test_waiter *leaving = prepare(f, 0, 1, 1, now_ms() + FAR_MS);
		struct test_waiter *staying = prepare(f, 1, 1, 2, now_ms() + FAR_MS);
		leaving->waiter.fd = f->pairs[0].server;
		staying->waiter.fd = f->pairs[1].server;
		if (how == HANG_UP_BEFORE_PARK)
			hang_up(f, 0, false);
		assert_int_equal(park(f, leaving), PUSH_PARKED);
		assert_int_equal(park(f, staying), PUSH_PARKED);
		if (how != HANG_UP_BEFORE_PARK)
			hang_up(f, 0, how == HANG_UP_RST);
		if (!wait_resumes_until(f, 1, now_ms() + 1000))
			fail_msg("%s: not resumed within a second", name);
		assert_resumed(f, leaving, PUSH_GONE);
		if (wait_resumes_until(f, 2, now_ms() + 300))
			fail_msg("%s: the client still connected was resumed too", name);
		assert_int_equal(counts_of(f).gone, 1);
		assert_int_equal(counts_of(f).parked, 1);
		push_hub_free(&f->hub);
		assert_resumed(f, staying, PUSH_STOPPING);
	}
}

/* ---- stop, unpark ---- */

static void stop_resumes_everyone_stopping_and_refuses_more(void **state)
{
	struct fixture *f = *state;
	hub_start(f, 0, 0);
	int64_t far = now_ms() + FAR_MS;
	assert_int_equal(park(f, prepare(f, 0, 1, 1, far)), PUSH_PARKED);
	assert_int_equal(park(f, prepare(f, 1, 1, 2, far)), PUSH_PARKED);
	assert_int_equal(park(f, prepare(f, 2, 2, 3, far)), PUSH_PARKED);
	assert_false(push_hub_stopping(f->hub));

	/* push_hub_stop returns after the resume calls returned: no waiting here. */
	push_hub_stop(f->hub);
	assert_int_equal(resumes(f), 3);
	for (unsigned i = 0; i < 3; i++)
		assert_resumed(f, &f->waiters[i], PUSH_STOPPING);
	assert_true(push_hub_stopping(f->hub));
	struct push_counts counts = counts_of(f);
	assert_int_equal(counts.parked, 0);
	assert_int_equal(counts.stopped, 3);

	/* Still usable until freed: refuses to park, unparks nothing, changes wake nothing. */
	struct test_waiter *late = prepare(f, 3, 1, 1, far);
	assert_int_equal(push_hub_park(f->hub, &late->waiter, push_hub_generation(f->hub, 1)), PUSH_FULL);
	assert_false(push_hub_unpark(f->hub, &f->waiters[0].waiter));
	assert_false(push_hub_unpark(f->hub, &late->waiter));
	push_hub_changed(f->hub, -1, -1);
	push_hub_stop(f->hub);
	push_hub_free(&f->hub);
	assert_null(f->hub);
	assert_int_equal(resumes(f), 3);
	assert_not_resumed(f, late);
}

static void unpark_takes_a_waiter_out_without_resume(void **state)
{
	struct fixture *f = *state;
	hub_start(f, 0, 0);
	int64_t start = now_ms();
	struct test_waiter *t = prepare(f, 0, 1, 1, start + 100);
	watch(t, 10);
	assert_int_equal(park(f, t), PUSH_PARKED);
	assert_true(push_hub_unpark(f->hub, &t->waiter));
	assert_false(push_hub_unpark(f->hub, &t->waiter));
	assert_int_equal(counts_of(f).parked, 0);
	/* Neither its deadline nor a change of its folder reaches it any more. */
	push_hub_changed(f->hub, 1, 10);
	assert_false(wait_resumes_until(f, 1, start + 400));

	struct test_waiter *resumed = prepare(f, 1, 1, 2, now_ms() + FAR_MS);
	watch(resumed, 10);
	assert_int_equal(park(f, resumed), PUSH_PARKED);
	push_hub_changed(f->hub, 1, 10);
	assert_true(wait_resumes(f, 1));
	assert_resumed(f, resumed, PUSH_CHANGED);
	assert_false(push_hub_unpark(f->hub, &resumed->waiter));

	push_hub_free(&f->hub);
	assert_not_resumed(f, t);
	assert_int_equal(resumes(f), 1);
}

/* Records, then holds the calling thread (the hub's) until the test releases it: WAIT_MS at most. */
static void record_and_block(struct push_waiter *waiter)
{
	struct fixture *f = ((struct test_waiter *)((char *)waiter - offsetof(struct test_waiter, waiter)))->f;
	record_resume(waiter);
	set_flag(f, &f->gate.entered);
	wait_flag(f, &f->gate.released, now_ms() + WAIT_MS);
	set_flag(f, &f->gate.returned);
}

static void *stop_hub(void *context)
{
	struct fixture *f = context;
	push_hub_stop(f->hub);
	pthread_mutex_lock(&f->lock);
	f->gate.returned_before_stop = f->gate.returned;
	f->gate.stopped = true;
	pthread_cond_broadcast(&f->changed);
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

/* push_hub_stop returns only once a resume call under way on the hub's thread has returned. */
static void stop_waits_for_resume_calls_under_way(void **state)
{
	struct fixture *f = *state;
	pthread_t stopper;
	hub_start(f, 0, 0);
	struct test_waiter *slow = prepare(f, 0, 1, 1, now_ms() + 50);
	struct test_waiter *other = prepare(f, 1, 2, 2, now_ms() + FAR_MS);
	slow->waiter.resume = record_and_block;
	assert_int_equal(park(f, slow), PUSH_PARKED);
	assert_int_equal(park(f, other), PUSH_PARKED);
	assert_true(wait_flag(f, &f->gate.entered, now_ms() + WAIT_MS));

	assert_int_equal(pthread_create(&stopper, NULL, stop_hub, f), 0);
	bool other_resumed = wait_resumes(f, 2); /* stop ends the parked one at once */
	bool stopped_early = wait_flag(f, &f->gate.stopped, now_ms() + 300);
	set_flag(f, &f->gate.released);
	bool stopped = wait_flag(f, &f->gate.stopped, now_ms() + WAIT_MS);
	pthread_join(stopper, NULL); /* never past the gate's bound */
	assert_true(other_resumed);
	assert_false(stopped_early);
	assert_true(stopped);
	assert_true(f->gate.returned_before_stop);
	assert_resumed(f, slow, PUSH_EXPIRED);
	assert_resumed(f, other, PUSH_STOPPING);
	push_hub_free(&f->hub);
	assert_int_equal(resumes(f), 2);
}

/* ---- ownership: after resume, the waiter is its owner's (ASan sees any later touch) ---- */

struct owned_waiter {
	struct push_waiter waiter;
	struct fixture *f;
	int64_t folder;
};

/* Through a volatile pointer: a plain memset before free is a dead store the compiler drops. */
static void *(*volatile scribble)(void *, int, size_t) = memset;

static void resume_and_free(struct push_waiter *waiter)
{
	struct owned_waiter *w = (struct owned_waiter *)((char *)waiter - offsetof(struct owned_waiter, waiter));
	struct fixture *f = w->f;
	pthread_mutex_lock(&f->lock);
	f->resumes++;
	f->by_outcome[waiter->outcome]++;
	pthread_cond_broadcast(&f->changed);
	pthread_mutex_unlock(&f->lock);
	scribble(w, 0xA5, sizeof(*w)); /* a hub that reads the waiter now crashes, even without ASan */
	free(w);
}

static enum push_park_status park_owned(struct fixture *f, int64_t user_id, int64_t device_id, int64_t deadline_ms)
{
	struct owned_waiter *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	w->f = f;
	w->folder = 10;
	w->waiter = (struct push_waiter){ .user_id = user_id, .device_id = device_id,
					  .sequence = push_hub_sequence(f->hub), .deadline_ms = deadline_ms,
					  .fd = -1, .folder_count = 1, .folders = &w->folder,
					  .resume = resume_and_free };
	return push_hub_park(f->hub, &w->waiter, push_hub_generation(f->hub, user_id));
}

static void resume_may_free_the_waiter(void **state)
{
	struct fixture *f = *state;
	hub_start(f, 0, 0);
	int64_t far = now_ms() + FAR_MS;
	for (int64_t device = 1; device <= 3; device++)
		assert_int_equal(park_owned(f, 1, device, far), PUSH_PARKED);
	push_hub_changed(f->hub, 1, 10);
	assert_true(wait_resumes(f, 3));

	/* The same deadline, already past: one turn of the hub's thread ends them all. */
	int64_t past = now_ms() - 1;
	for (int64_t device = 4; device <= 7; device++)
		assert_int_equal(park_owned(f, 2, device, past), PUSH_PARKED);
	assert_true(wait_resumes(f, 7));

	assert_int_equal(park_owned(f, 3, 8, far), PUSH_PARKED);
	assert_int_equal(park_owned(f, 3, 8, far), PUSH_PARKED);
	assert_true(wait_resumes(f, 8));
	assert_int_equal(park_owned(f, 4, 9, far), PUSH_PARKED);
	assert_int_equal(park_owned(f, 4, 10, far), PUSH_PARKED);
	push_hub_free(&f->hub);

	pthread_mutex_lock(&f->lock);
	unsigned changed = f->by_outcome[PUSH_CHANGED], expired = f->by_outcome[PUSH_EXPIRED];
	unsigned superseded = f->by_outcome[PUSH_SUPERSEDED], stopped = f->by_outcome[PUSH_STOPPING];
	pthread_mutex_unlock(&f->lock);
	assert_int_equal(changed, 3);
	assert_int_equal(expired, 4);
	assert_int_equal(superseded, 1);
	assert_int_equal(stopped, 3);
}

/* ---- changes from other programs: push.sock ---- */

static const char *make_dir(struct fixture *f, unsigned i)
{
	snprintf(f->dirs[i], sizeof(f->dirs[i]), "/tmp/easd-push-XXXXXX");
	if (mkdtemp(f->dirs[i]) == NULL) {
		f->dirs[i][0] = '\0';
		fail_msg("mkdtemp: %s", strerror(errno));
	}
	return f->dirs[i];
}

static bool socket_file_exists(const char *dir)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, PUSH_SOCKET_NAME);
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Binds dir/push.sock as another program would; returns the socket (closed: the file stays, as after a crash). */
static int bind_push_socket(const char *dir)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	snprintf(address.sun_path, sizeof(address.sun_path), "%s/%s", dir, PUSH_SOCKET_NAME);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0)
		fail_msg("bind %s: %s", address.sun_path, strerror(errno));
	return fd;
}

static void notify_from_another_program_wakes_the_matching_waiter(void **state)
{
	struct fixture *f = *state;
	char error[256] = "";
	const char *dir = make_dir(f, 0);
	hub_start(f, 0, 0);
	if (push_hub_listen(f->hub, dir, error, sizeof(error)) < 0)
		fail_msg("push_hub_listen: %s", error);
	assert_true(socket_file_exists(dir));
	struct test_waiter *matching = prepare(f, 0, 1, 1, now_ms() + FAR_MS);
	struct test_waiter *other_user = prepare(f, 1, 2, 2, now_ms() + FAR_MS);
	watch(matching, 10);
	watch(other_user, 10);
	assert_int_equal(park(f, matching), PUSH_PARKED);
	assert_int_equal(park(f, other_user), PUSH_PARKED);

	push_notify_changed((void *)dir, 1, 10);
	assert_true(wait_resumes(f, 1));
	assert_resumed(f, matching, PUSH_CHANGED);
	assert_int_equal(counts_of(f).parked, 1);
	assert_not_resumed(f, other_user);

	/* A change of every folder of the user, as easctl deliver may send. */
	push_notify_changed((void *)dir, 2, -1);
	assert_true(wait_resumes(f, 2));
	assert_resumed(f, other_user, PUSH_CHANGED);

	push_hub_free(&f->hub);
	assert_false(socket_file_exists(dir));
}

/* No listener (no file, a stale file, a socket nobody reads): nothing happens, at once. */
static void notify_without_a_listener_does_nothing_at_once(void **state)
{
	struct fixture *f = *state;
	char error[256] = "";
	const char *listening = make_dir(f, 0), *elsewhere = make_dir(f, 1);
	hub_start(f, 0, 0);
	assert_int_equal(push_hub_listen(f->hub, listening, error, sizeof(error)), 0);
	struct test_waiter *t = prepare(f, 0, 1, 1, now_ms() + FAR_MS);
	watch(t, 10);
	assert_int_equal(park(f, t), PUSH_PARKED);

	int64_t start = now_ms();
	push_notify_changed((void *)elsewhere, 1, 10);
	close(bind_push_socket(elsewhere)); /* stale: connection refused */
	push_notify_changed((void *)elsewhere, 1, 10);
	char path[64];
	snprintf(path, sizeof(path), "%s/%s", elsewhere, PUSH_SOCKET_NAME);
	unlink(path);
	int deaf = bind_push_socket(elsewhere); /* its queue fills up */
	for (unsigned i = 0; i < 2000; i++)
		push_notify_changed((void *)elsewhere, 1, 10);
	close(deaf);
	int64_t elapsed = now_ms() - start;
	if (elapsed > 2000)
		fail_msg("push_notify_changed took %lld ms", (long long)elapsed);
	assert_false(wait_resumes_until(f, 1, now_ms() + 200));
	assert_int_equal(counts_of(f).parked, 1);
	push_hub_free(&f->hub);
	assert_resumed(f, t, PUSH_STOPPING);
}

/* A push.sock left by an easd that did not stop cleanly is replaced; a path too long is refused. */
static void listen_replaces_a_stale_socket(void **state)
{
	struct fixture *f = *state;
	char error[256] = "";
	const char *dir = make_dir(f, 0);
	close(bind_push_socket(dir));
	hub_start(f, 0, 0);
	if (push_hub_listen(f->hub, dir, error, sizeof(error)) < 0)
		fail_msg("push_hub_listen: %s", error);
	struct test_waiter *t = prepare(f, 0, 1, 1, now_ms() + FAR_MS);
	watch(t, 0);
	assert_int_equal(park(f, t), PUSH_PARKED);
	push_notify_changed((void *)dir, 1, 0);
	assert_true(wait_resumes(f, 1));
	assert_resumed(f, t, PUSH_CHANGED);

	char long_dir[200];
	memset(long_dir, 'x', sizeof(long_dir) - 1);
	long_dir[0] = '/';
	long_dir[sizeof(long_dir) - 1] = '\0';
	error[0] = '\0';
	assert_int_equal(push_hub_listen(f->hub, long_dir, error, sizeof(error)), -1);
	assert_true(strstr(error, "too long") != NULL);
	push_hub_free(&f->hub);
	assert_false(socket_file_exists(dir));
}

/* ---- the sequence ---- */

#define SEQUENCE_THREADS 4
#define SEQUENCE_CALLS 10000

struct sequence_run {
	struct push_hub *hub;
	uint64_t values[SEQUENCE_CALLS];
};

static void *take_sequences(void *context)
{
	struct sequence_run *run = context;
	for (unsigned i = 0; i < SEQUENCE_CALLS; i++)
		run->values[i] = push_hub_sequence(run->hub);
	return NULL;
}

/* Strictly growing in each thread, and no number given twice across threads. */
static void sequence_grows_strictly(void **state)
{
	struct fixture *f = *state;
	hub_start(f, 0, 0);
	uint64_t previous = push_hub_sequence(f->hub);
	for (unsigned i = 0; i < 1000; i++) {
		uint64_t next = push_hub_sequence(f->hub);
		assert_true(next > previous);
		previous = next;
	}
	struct sequence_run *runs = calloc(SEQUENCE_THREADS, sizeof(*runs));
	bool *seen = calloc(SEQUENCE_THREADS * SEQUENCE_CALLS, sizeof(*seen));
	pthread_t threads[SEQUENCE_THREADS];
	assert_non_null(runs);
	assert_non_null(seen);
	for (unsigned t = 0; t < SEQUENCE_THREADS; t++) {
		runs[t].hub = f->hub;
		assert_int_equal(pthread_create(&threads[t], NULL, take_sequences, &runs[t]), 0);
	}
	for (unsigned t = 0; t < SEQUENCE_THREADS; t++)
		pthread_join(threads[t], NULL);
	unsigned duplicates = 0, out_of_order = 0;
	for (unsigned t = 0; t < SEQUENCE_THREADS; t++) {
		for (unsigned i = 0; i < SEQUENCE_CALLS; i++) {
			uint64_t slot = runs[t].values[i] - previous - 1; /* the 40,000 numbers after previous */
			assert_true(slot < SEQUENCE_THREADS * SEQUENCE_CALLS);
			duplicates += seen[slot];
			seen[slot] = true;
			out_of_order += i > 0 && runs[t].values[i] <= runs[t].values[i - 1];
		}
	}
	free(seen);
	free(runs);
	assert_int_equal(duplicates, 0);
	assert_int_equal(out_of_order, 0);
	push_hub_free(&f->hub);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(deadline_expires_once_not_before),
		TEST(deadlines_expire_in_deadline_order),
		TEST(heap_keeps_order_when_waiters_leave_early),
		TEST(change_wakes_only_the_waiters_watching_it),
		TEST(change_since_the_generation_refuses_to_park),
		TEST(newer_long_poll_of_a_device_supersedes_the_older),
		TEST(user_cap_refuses_one_past_it_but_lets_a_device_replace_its_own),
		TEST(total_cap_refuses_one_past_it_but_lets_a_device_replace_its_own),
		TEST(hang_up_resumes_gone_open_client_stays),
		TEST(stop_resumes_everyone_stopping_and_refuses_more),
		TEST(stop_waits_for_resume_calls_under_way),
		TEST(unpark_takes_a_waiter_out_without_resume),
		TEST(resume_may_free_the_waiter),
		TEST(notify_from_another_program_wakes_the_matching_waiter),
		TEST(notify_without_a_listener_does_nothing_at_once),
		TEST(listen_replaces_a_stale_socket),
		TEST(sequence_grows_strictly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
