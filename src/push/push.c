/*
 * push.c: the push hub (see push.h).
 *
 * Everything is under one mutex: the device table (one waiter per
 * device), the per-user lists (a user has a few devices, so a change
 * walks a short list), the deadline heap and the socket table. A waiter
 * leaves all of them at once (detach) before its resume function is
 * called, and resume functions are called after the mutex is released:
 * they call into libmicrohttpd, which has locks of its own.
 *
 * The thread waits in epoll_wait on the parked sockets (EPOLLRDHUP: the
 * client sent FIN; HUP/ERR: it reset) with the nearest deadline as the
 * timeout, so 100,000 idle waiters cost no CPU. An eventfd in the same
 * set wakes it when a nearer deadline arrives or the hub stops.
 */
#include "push/push.h"
#include "util/util.h"

#include <assert.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Change generations are kept per stripe of users, not per user: a
   collision only costs a waiter one extra check. */
#define PUSH_GENERATION_STRIPES 4096
#define PUSH_EPOLL_BATCH 256
/* The thread looks at the clock at least this often (a clock step, a lost wakeup). */
#define PUSH_MAX_SLEEP_MS 60000
/* push.sock's receive buffer: 16-byte datagrams of other programs' changes. */
#define PUSH_NOTIFY_BUFFER (1024 * 1024)

struct push_user {
	int64_t id;
	unsigned count;
	struct push_waiter *first;
};

struct push_hub {
	struct push_settings settings;
	pthread_mutex_t lock;
	pthread_cond_t resumed;
	pthread_t thread;
	bool thread_started;
	bool stopping, quit;
	int epoll_fd, event_fd;
	int notify_fd;       /* push.sock: other programs' changes; -1: none */
	char notify_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	GHashTable *devices; /* &waiter->device_id -> waiter */
	GHashTable *users;   /* &user->id -> struct push_user */
	struct heap heap;     /* deadlines: the waiters in deadline order */
	struct push_waiter **by_fd;
	unsigned fd_limit;
	unsigned resuming; /* resume calls under way, outside the lock */
	uint64_t sequence;
	uint64_t generations[PUSH_GENERATION_STRIPES];
	struct push_counts counts;
};

static void read_datagrams(struct push_hub *hub, struct push_waiter **list);

static uint64_t *generation_of(struct push_hub *hub, int64_t user_id)
{
	return &hub->generations[(uint64_t)user_id % PUSH_GENERATION_STRIPES];
}

/* ---- the deadline heap (util's; each waiter knows its index) ---- */

static bool deadline_before(const void *a, const void *b)
{
	return ((const struct push_waiter *)a)->deadline_ms < ((const struct push_waiter *)b)->deadline_ms;
}

static void deadline_placed(void *item, size_t index)
{
	((struct push_waiter *)item)->heap_index = index;
}

static struct push_waiter *next_deadline(const struct push_hub *hub)
{
	return heap_top(&hub->heap);
}

/* ---- linking ---- */

static void user_link(struct push_hub *hub, struct push_waiter *w)
{
	struct push_user *user = g_hash_table_lookup(hub->users, &w->user_id);
	if (user == NULL) {
		user = calloc(1, sizeof(*user));
		if (user == NULL)
			abort();
		user->id = w->user_id;
		g_hash_table_insert(hub->users, &user->id, user);
	}
	w->user_prev = NULL;
	w->user_next = user->first;
	if (user->first != NULL)
		user->first->user_prev = w;
	user->first = w;
	user->count++;
}

static void user_unlink(struct push_hub *hub, struct push_waiter *w)
{
	struct push_user *user = g_hash_table_lookup(hub->users, &w->user_id);
	if (w->user_prev != NULL)
		w->user_prev->user_next = w->user_next;
	else
		user->first = w->user_next;
	if (w->user_next != NULL)
		w->user_next->user_prev = w->user_prev;
	if (--user->count == 0)
		g_hash_table_remove(hub->users, &user->id); /* frees it */
}

static void watch_socket(struct push_hub *hub, struct push_waiter *w)
{
	if (w->fd < 0 || (unsigned)w->fd >= hub->fd_limit)
		return;
	struct epoll_event event = { .events = EPOLLRDHUP, .data.fd = w->fd };
	if (epoll_ctl(hub->epoll_fd, EPOLL_CTL_ADD, w->fd, &event) == 0)
		hub->by_fd[w->fd] = w;
}

static void link_waiter(struct push_hub *hub, struct push_waiter *w)
{
	w->outcome = PUSH_WAITING;
	w->linked = true;
	g_hash_table_insert(hub->devices, &w->device_id, w);
	user_link(hub, w);
	heap_push(&hub->heap, w);
	watch_socket(hub, w);
	hub->counts.parked++;
	hub->counts.parked_total++;
}

/* Takes w out of everything, with its outcome. */
static void unlink_waiter(struct push_hub *hub, struct push_waiter *w, enum push_outcome outcome)
{
	g_hash_table_remove(hub->devices, &w->device_id);
	user_unlink(hub, w);
	heap_remove(&hub->heap, w->heap_index);
	if (w->fd >= 0 && (unsigned)w->fd < hub->fd_limit && hub->by_fd[w->fd] == w) {
		epoll_ctl(hub->epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
		hub->by_fd[w->fd] = NULL;
	}
	w->linked = false;
	w->outcome = outcome;
	hub->counts.parked--;
	uint64_t *counter[] = { [PUSH_CHANGED] = &hub->counts.changed, [PUSH_EXPIRED] = &hub->counts.expired,
				[PUSH_SUPERSEDED] = &hub->counts.superseded, [PUSH_GONE] = &hub->counts.gone,
				[PUSH_STOPPING] = &hub->counts.stopped };
	if (outcome != PUSH_WAITING)
		(*counter[outcome])++;
}

/* Takes w out of everything; it joins *list, whose resume calls follow the unlock. */
static void detach(struct push_hub *hub, struct push_waiter *w, enum push_outcome outcome,
		   struct push_waiter **list)
{
	unlink_waiter(hub, w, outcome);
	w->user_next = *list;
	*list = w;
	hub->resuming++;
}

/* Called with the lock held; releases it, calls the resume functions, takes it back. */
static void resume_list(struct push_hub *hub, struct push_waiter *list)
{
	if (list == NULL)
		return;
	/* detach pushed them on the front: resume in the order they left (the most overdue first). */
	struct push_waiter *ordered = NULL;
	while (list != NULL) {
		struct push_waiter *next = list->user_next;
		list->user_next = ordered;
		ordered = list;
		list = next;
	}
	list = ordered;
	pthread_mutex_unlock(&hub->lock);
	unsigned count = 0;
	while (list != NULL) {
		struct push_waiter *w = list;
		list = w->user_next; /* read before resume: the waiter may be gone after it */
		w->resume(w);
		count++;
	}
	pthread_mutex_lock(&hub->lock);
	hub->resuming -= count;
	if (hub->resuming == 0)
		pthread_cond_broadcast(&hub->resumed);
}

static void wake_thread(struct push_hub *hub)
{
	uint64_t one = 1;
	if (write(hub->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		fprintf(stderr, "easd: push: cannot wake the hub thread: %s\n", strerror(errno));
}

/* ---- the thread: hang-ups and deadlines ---- */

/* Whether the socket's peer has closed or reset: only an established TCP connection is alive. */
static bool socket_closed(int fd)
{
	struct tcp_info info;
	socklen_t len = sizeof(info);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0)
		return true;
	return info.tcpi_state != TCP_ESTABLISHED;
}

static void handle_events(struct push_hub *hub, const struct epoll_event *events, int count,
			  struct push_waiter **list)
{
	for (int i = 0; i < count; i++) {
		int fd = events[i].data.fd;
		if (fd == hub->notify_fd) {
			read_datagrams(hub, list);
			continue;
		}
		if (fd == hub->event_fd) {
			uint64_t value;
			if (read(hub->event_fd, &value, sizeof(value)) < 0 && errno != EAGAIN)
				fprintf(stderr, "easd: push: eventfd: %s\n", strerror(errno));
			continue;
		}
		/* A stale event (the waiter left, another took its socket number) finds a live socket. */
		struct push_waiter *w = (unsigned)fd < hub->fd_limit ? hub->by_fd[fd] : NULL;
		if (w != NULL && socket_closed(fd))
			detach(hub, w, PUSH_GONE, list);
	}
}

static void *hub_thread(void *context)
{
	struct push_hub *hub = context;
	struct epoll_event events[PUSH_EPOLL_BATCH];
	pthread_mutex_lock(&hub->lock);
	while (!hub->quit) {
		int64_t timeout = PUSH_MAX_SLEEP_MS;
		if (next_deadline(hub) != NULL) {
			int64_t until = next_deadline(hub)->deadline_ms - util_monotonic_ms();
			timeout = until < 0 ? 0 : until < timeout ? until : timeout;
		}
		pthread_mutex_unlock(&hub->lock);
		int count = epoll_wait(hub->epoll_fd, events, PUSH_EPOLL_BATCH, (int)timeout);
		pthread_mutex_lock(&hub->lock);
		struct push_waiter *list = NULL;
		if (count > 0)
			handle_events(hub, events, count, &list);
		int64_t now = util_monotonic_ms();
		while (next_deadline(hub) != NULL && next_deadline(hub)->deadline_ms <= now)
			detach(hub, next_deadline(hub), PUSH_EXPIRED, &list);
		resume_list(hub, list);
	}
	pthread_mutex_unlock(&hub->lock);
	return NULL;
}

/* ---- the interface ---- */

int push_hub_start(const struct push_settings *settings, unsigned fd_limit, struct push_hub **hub_out,
		   char *error, size_t error_len)
{
	struct push_hub *hub = calloc(1, sizeof(*hub));
	if (hub == NULL)
		abort();
	hub->settings = *settings;
	hub->fd_limit = fd_limit;
	hub->by_fd = calloc(fd_limit > 0 ? fd_limit : 1, sizeof(*hub->by_fd));
	if (hub->by_fd == NULL)
		abort();
	pthread_mutex_init(&hub->lock, NULL);
	pthread_cond_init(&hub->resumed, NULL);
	heap_init(&hub->heap, deadline_before, deadline_placed);
	hub->devices = g_hash_table_new(g_int64_hash, g_int64_equal);
	hub->users = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, free);
	hub->notify_fd = -1;
	hub->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	hub->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	*hub_out = hub;
	struct epoll_event event = { .events = EPOLLIN, .data.fd = hub->event_fd };
	int rc = hub->epoll_fd < 0 || hub->event_fd < 0 ||
			 epoll_ctl(hub->epoll_fd, EPOLL_CTL_ADD, hub->event_fd, &event) < 0
		 ? errno
		 : pthread_create(&hub->thread, NULL, hub_thread, hub);
	if (rc != 0) {
		snprintf(error, error_len, "cannot start the push hub: %s", strerror(rc));
		push_hub_free(hub_out);
		return -1;
	}
	hub->thread_started = true;
	return 0;
}

void push_hub_stop(struct push_hub *hub)
{
	struct push_waiter *list = NULL;
	pthread_mutex_lock(&hub->lock);
	hub->stopping = true;
	while (next_deadline(hub) != NULL)
		detach(hub, next_deadline(hub), PUSH_STOPPING, &list);
	resume_list(hub, list);
	while (hub->resuming > 0)
		pthread_cond_wait(&hub->resumed, &hub->lock);
	pthread_mutex_unlock(&hub->lock);
}

bool push_hub_stopping(struct push_hub *hub)
{
	pthread_mutex_lock(&hub->lock);
	bool stopping = hub->stopping;
	pthread_mutex_unlock(&hub->lock);
	return stopping;
}

void push_hub_free(struct push_hub **hub_ptr)
{
	struct push_hub *hub = *hub_ptr;
	if (hub == NULL)
		return;
	if (hub->thread_started) {
		push_hub_stop(hub);
		pthread_mutex_lock(&hub->lock);
		hub->quit = true;
		pthread_mutex_unlock(&hub->lock);
		wake_thread(hub);
		pthread_join(hub->thread, NULL);
	}
	if (hub->epoll_fd >= 0)
		close(hub->epoll_fd);
	if (hub->event_fd >= 0)
		close(hub->event_fd);
	if (hub->notify_fd >= 0) {
		close(hub->notify_fd);
		unlink(hub->notify_path);
	}
	g_hash_table_destroy(hub->devices);
	g_hash_table_destroy(hub->users);
	pthread_cond_destroy(&hub->resumed);
	pthread_mutex_destroy(&hub->lock);
	heap_cleanup(&hub->heap);
	free(hub->by_fd);
	free(hub);
	*hub_ptr = NULL;
}

uint64_t push_hub_sequence(struct push_hub *hub)
{
	return __atomic_add_fetch(&hub->sequence, 1, __ATOMIC_RELAXED);
}

uint64_t push_hub_generation(struct push_hub *hub, int64_t user_id)
{
	/* Read on every Sync: no lock (changed under the lock, read atomically). */
	return __atomic_load_n(generation_of(hub, user_id), __ATOMIC_ACQUIRE);
}

bool push_hub_supersede(struct push_hub *hub, int64_t device_id, uint64_t sequence)
{
	struct push_waiter *list = NULL;
	bool newer = false;
	pthread_mutex_lock(&hub->lock);
	struct push_waiter *parked = g_hash_table_lookup(hub->devices, &device_id);
	if (parked != NULL && parked->sequence > sequence)
		newer = true;
	else if (parked != NULL)
		detach(hub, parked, PUSH_SUPERSEDED, &list);
	resume_list(hub, list);
	pthread_mutex_unlock(&hub->lock);
	return newer;
}

/* Whether one more waiter fits, the device's parked one (replaced) set aside. */
static enum push_park_status check_room(struct push_hub *hub, const struct push_waiter *w,
					const struct push_waiter *replaced)
{
	const struct push_settings *s = &hub->settings;
	if (s->max_parked > 0 && replaced == NULL && hub->counts.parked >= s->max_parked)
		return PUSH_FULL;
	const struct push_user *user = g_hash_table_lookup(hub->users, &w->user_id);
	unsigned count = user != NULL ? user->count : 0;
	if (s->max_parked_per_user > 0 && replaced == NULL && count >= s->max_parked_per_user)
		return PUSH_USER_FULL;
	return PUSH_PARKED;
}

enum push_park_status push_hub_park(struct push_hub *hub, struct push_waiter *w, uint64_t generation)
{
	struct push_waiter *list = NULL;
	enum push_park_status status;
	pthread_mutex_lock(&hub->lock);
	assert(!w->linked); /* a waiter parks once; a caller bug otherwise */
	struct push_waiter *parked = g_hash_table_lookup(hub->devices, &w->device_id);
	if (hub->stopping)
		status = PUSH_FULL;
	else if (parked != NULL && parked->sequence > w->sequence)
		status = PUSH_OLDER;
	else if (*generation_of(hub, w->user_id) != generation)
		status = PUSH_CHANGED_ALREADY;
	else
		status = check_room(hub, w, parked);
	if (status == PUSH_PARKED) {
		if (parked != NULL)
			detach(hub, parked, PUSH_SUPERSEDED, &list);
		link_waiter(hub, w);
		if (next_deadline(hub) == w)
			wake_thread(hub);
	}
	resume_list(hub, list);
	pthread_mutex_unlock(&hub->lock);
	return status;
}

bool push_hub_unpark(struct push_hub *hub, struct push_waiter *w)
{
	pthread_mutex_lock(&hub->lock);
	bool linked = w->linked;
	if (linked)
		unlink_waiter(hub, w, PUSH_WAITING); /* its owner takes it back: no outcome counted */
	pthread_mutex_unlock(&hub->lock);
	return linked;
}

static bool watches(const struct push_waiter *w, int64_t folder_id)
{
	if (folder_id < 0)
		return true;
	for (unsigned i = 0; i < w->folder_count; i++)
		if (w->folders[i] == folder_id)
			return true;
	return false;
}

static void wake_user(struct push_hub *hub, struct push_user *user, int64_t folder_id, struct push_waiter **list)
{
	/* Detaching the last waiter frees user: only waiters are read after the first. */
	struct push_waiter *next;
	for (struct push_waiter *w = user->first; w != NULL; w = next) {
		next = w->user_next;
		if (watches(w, folder_id))
			detach(hub, w, PUSH_CHANGED, list);
	}
}

static void changed_locked(struct push_hub *hub, int64_t user_id, int64_t folder_id, struct push_waiter **list)
{
	if (user_id < 0) {
		for (size_t i = 0; i < PUSH_GENERATION_STRIPES; i++)
			__atomic_add_fetch(&hub->generations[i], 1, __ATOMIC_RELEASE);
		while (next_deadline(hub) != NULL)
			detach(hub, next_deadline(hub), PUSH_CHANGED, list);
		return;
	}
	__atomic_add_fetch(generation_of(hub, user_id), 1, __ATOMIC_RELEASE);
	struct push_user *user = g_hash_table_lookup(hub->users, &user_id);
	if (user != NULL)
		wake_user(hub, user, folder_id, list);
}

void push_hub_changed(void *context, int64_t user_id, int64_t folder_id)
{
	struct push_hub *hub = context;
	struct push_waiter *list = NULL;
	pthread_mutex_lock(&hub->lock);
	changed_locked(hub, user_id, folder_id, &list);
	resume_list(hub, list);
	pthread_mutex_unlock(&hub->lock);
}

/* ---- changes from other programs (easctl deliver, imports): datagrams on push.sock ---- */

struct push_datagram {
	int64_t user_id;
	int64_t folder_id;
};

static int socket_address(const char *data_dir, struct sockaddr_un *address)
{
	memset(address, 0, sizeof(*address));
	address->sun_family = AF_UNIX;
	int n = snprintf(address->sun_path, sizeof(address->sun_path), "%s/%s", data_dir, PUSH_SOCKET_NAME);
	return n > 0 && (size_t)n < sizeof(address->sun_path) ? 0 : -1;
}

/* Whether an easd listens on the socket already (a datagram connect succeeds only on a bound one). */
static bool socket_in_use(const struct sockaddr_un *address)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool in_use = fd >= 0 && connect(fd, (const struct sockaddr *)address, sizeof(*address)) == 0;
	if (fd >= 0)
		close(fd);
	return in_use;
}

bool push_served(const char *data_dir)
{
	struct sockaddr_un address;
	return socket_address(data_dir, &address) == 0 && socket_in_use(&address);
}

int push_hub_listen(struct push_hub *hub, const char *data_dir, char *error, size_t error_len)
{
	struct sockaddr_un address;
	if (socket_address(data_dir, &address) < 0) {
		snprintf(error, error_len, "%s/%s: path too long for a socket", data_dir, PUSH_SOCKET_NAME);
		return -1;
	}
	assert(hub->notify_fd < 0); /* listens once */
	/* Another easd on this data directory: refuse, rather than take its socket away. */
	if (socket_in_use(&address)) {
		snprintf(error, error_len, "%s: another easd serves this data directory", address.sun_path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unlink(address.sun_path); /* left by an easd that did not stop cleanly */
	if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
		snprintf(error, error_len, "%s: %s", address.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* Room for a burst (an import committing thousands of messages) while the thread is busy. */
	int buffer = PUSH_NOTIFY_BUFFER;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
	/* Known as the notify socket before its first event can arrive. */
	pthread_mutex_lock(&hub->lock);
	hub->notify_fd = fd;
	snprintf(hub->notify_path, sizeof(hub->notify_path), "%s", address.sun_path);
	pthread_mutex_unlock(&hub->lock);
	struct epoll_event event = { .events = EPOLLIN, .data.fd = fd };
	if (epoll_ctl(hub->epoll_fd, EPOLL_CTL_ADD, fd, &event) < 0) {
		snprintf(error, error_len, "%s: %s", address.sun_path, strerror(errno));
		return -1; /* closed and unlinked by push_hub_free */
	}
	return 0;
}

static void read_datagrams(struct push_hub *hub, struct push_waiter **list)
{
	struct push_datagram datagram;
	ssize_t n;
	while ((n = recv(hub->notify_fd, &datagram, sizeof(datagram), 0)) >= 0)
		if (n == (ssize_t)sizeof(datagram))
			changed_locked(hub, datagram.user_id, datagram.folder_id, list);
}

void push_notify_changed(void *data_dir, int64_t user_id, int64_t folder_id)
{
	struct sockaddr_un address;
	struct push_datagram datagram = { user_id, folder_id };
	if (socket_address(data_dir, &address) < 0)
		return;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	/* No easd running (ENOENT, ECONNREFUSED), or its queue full: it finds the change at the next request. */
	sendto(fd, &datagram, sizeof(datagram), MSG_DONTWAIT, (struct sockaddr *)&address, sizeof(address));
	close(fd);
}

void push_hub_counts(struct push_hub *hub, struct push_counts *counts_out)
{
	pthread_mutex_lock(&hub->lock);
	*counts_out = hub->counts;
	pthread_mutex_unlock(&hub->lock);
}
