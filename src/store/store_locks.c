/*
 * store_locks.c: store_device_lock on SQLite: a table of the devices whose
 * lock is held or waited for, under one mutex, with one condition variable
 * that every unlock broadcasts (contention is rare: a device retrying a
 * request while its original runs). An entry lives while someone holds or
 * waits for it, so the table stays as small as the requests in flight.
 */
#include "store/store_private.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

struct store_device_lock_entry {
	int64_t device;
	bool held;
	unsigned waiters;
	struct store_device_lock_entry *next;
};

/* A wait of a write transaction that another process holds: then nobody here signals its end. */
#define STORE_BUSY_POLL_MS 10

void store_device_locks_init(struct store *store)
{
	pthread_condattr_t attributes;
	pthread_condattr_init(&attributes);
	pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
	pthread_cond_init(&store->device_unlocked, &attributes);
	pthread_cond_init(&store->write_ended, &attributes);
	pthread_condattr_destroy(&attributes);
	pthread_mutex_init(&store->device_locks_mutex, NULL);
	pthread_mutex_init(&store->writes_mutex, NULL);
}

void store_device_locks_cleanup(struct store *store)
{
	pthread_cond_destroy(&store->device_unlocked);
	pthread_mutex_destroy(&store->device_locks_mutex);
	pthread_cond_destroy(&store->write_ended);
	pthread_mutex_destroy(&store->writes_mutex);
}

int store_busy_wait(void *context, int count)
{
	/* SQLite calls this for one lock wait at a time on a thread, count 0 first: the wait's start. */
	static __thread int64_t waiting_since;
	struct store *store = context;
	if (count == 0)
		waiting_since = util_monotonic_ms();
	else if (util_monotonic_ms() - waiting_since >= STORE_BUSY_TIMEOUT_MS)
		return 0; /* SQLITE_BUSY: the caller reports STORE_BUSY */
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_nsec += STORE_BUSY_POLL_MS * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&store->writes_mutex);
	pthread_cond_timedwait(&store->write_ended, &store->writes_mutex, &deadline);
	pthread_mutex_unlock(&store->writes_mutex);
	return 1;
}

int store_session_busy_wait(void *context, int count)
{
	struct store_session *session = context;
	int64_t started = util_monotonic_ms();
	int go_on = store_busy_wait(session->store, count);
	/* SQLite calls again every poll of one wait: count 0 is its start. */
	store_count_wait(session->store, session, count == 0, (uint64_t)(util_monotonic_ms() - started));
	return go_on;
}

void store_count_wait(struct store *store, struct store_session *session, bool new_wait, uint64_t ms)
{
	if (session != NULL)
		session->waited_ms += ms;
	if (new_wait)
		atomic_fetch_add_explicit(&store->waits, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&store->wait_ms, ms, memory_order_relaxed);
}

uint64_t store_session_take_wait_ms(struct store_session *session)
{
	if (session == NULL)
		return 0;
	uint64_t ms = session->waited_ms;
	session->waited_ms = 0;
	return ms;
}

void store_write_ended(struct store *store)
{
	pthread_mutex_lock(&store->writes_mutex);
	pthread_cond_broadcast(&store->write_ended);
	pthread_mutex_unlock(&store->writes_mutex);
}

static struct store_device_lock_entry **find(struct store *store, int64_t device)
{
	struct store_device_lock_entry **link = &store->device_locks;
	while (*link != NULL && (*link)->device != device)
		link = &(*link)->next;
	return link;
}

/* Drops the entry when nobody holds or waits for it any more. */
static void release_entry(struct store_device_lock_entry **link)
{
	struct store_device_lock_entry *entry = *link;
	if (entry->held || entry->waiters > 0)
		return;
	*link = entry->next;
	free(entry);
}

int store_device_lock(struct store_session *session, int64_t device)
{
	struct store *store = session->store;
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += STORE_BUSY_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&store->device_locks_mutex);
	struct store_device_lock_entry **link = find(store, device);
	if (*link == NULL) {
		*link = calloc(1, sizeof(**link));
		if (*link == NULL)
			abort();
		(*link)->device = device;
	}
	struct store_device_lock_entry *entry = *link;
	entry->waiters++;
	int rc = 0;
	int64_t started = entry->held ? util_monotonic_ms() : 0;
	while (entry->held && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&store->device_unlocked, &store->device_locks_mutex, &deadline);
	if (started != 0)
		store_count_wait(store, session, true, (uint64_t)(util_monotonic_ms() - started));
	entry->waiters--;
	bool got = !entry->held;
	if (got)
		entry->held = true;
	else
		release_entry(find(store, device));
	pthread_mutex_unlock(&store->device_locks_mutex);
	if (!got) {
		atomic_fetch_add_explicit(&store->busy, 1, memory_order_relaxed);
		return STORE_BUSY;
	}
	session->locked_device = device;
	return STORE_OK;
}

void store_device_unlock(struct store_session *session)
{
	if (session->locked_device == 0)
		return;
	struct store *store = session->store;
	pthread_mutex_lock(&store->device_locks_mutex);
	struct store_device_lock_entry **link = find(store, session->locked_device);
	(*link)->held = false;
	bool waited_for = (*link)->waiters > 0;
	release_entry(link);
	if (waited_for)
		pthread_cond_broadcast(&store->device_unlocked);
	pthread_mutex_unlock(&store->device_locks_mutex);
	session->locked_device = 0;
}
