/*
 * push: parked long polls (Ping, Sync with Wait). A parked request is a
 * small waiter record; the hub links it by user and device, keeps its
 * deadline in one heap, watches its socket for hang-ups in one epoll set,
 * and ends it exactly once with an outcome: a watched folder changed, the
 * deadline passed, a newer long poll of the device arrived, the client
 * hung up, or easd is stopping. One thread serves every deadline and
 * socket; no parked request holds a thread, a store session or a request
 * body.
 *
 * Owns: the links, the heap and the epoll set. The waiter's memory belongs
 * to whoever parked it (http/); the hub only links it, and after it called
 * the waiter's resume function it never touches the waiter again. Must
 * not: know HTTP, EAS or the store (it hears of changes through
 * push_hub_changed, the store's change listener).
 */
#ifndef PUSH_H
#define PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum push_outcome {
	PUSH_WAITING = 0, /* still parked */
	PUSH_CHANGED,     /* a watched folder changed (or may have: the waiter checks) */
	PUSH_EXPIRED,     /* the deadline passed */
	PUSH_SUPERSEDED,  /* a newer long poll of the same device */
	PUSH_GONE,        /* the client closed its connection */
	PUSH_STOPPING,    /* easd is stopping */
};

enum push_park_status {
	PUSH_PARKED = 0,      /* parked: resume will be called exactly once */
	PUSH_CHANGED_ALREADY, /* a change may have come since the generation: check again, not parked */
	PUSH_OLDER,           /* the device has a newer long poll: answer this one as superseded */
	PUSH_USER_FULL,       /* the user has [push] max_parked_per_user parked already */
	PUSH_FULL,            /* easd holds [push] max_parked already, or is stopping */
};

/* A parked request as the hub sees it. The caller fills the first block. */
struct push_waiter {
	int64_t user_id;
	int64_t device_id;      /* the store's device key: one waiter per device */
	uint64_t sequence;      /* push_hub_sequence() at the request's arrival: newer wins */
	int64_t deadline_ms;    /* CLOCK_MONOTONIC milliseconds */
	int fd;                 /* the client's socket, watched for hang-ups; -1: not watched */
	unsigned folder_count;
	const int64_t *folders; /* watched folder ids; 0 is the folder hierarchy */
	/* Called once, from any thread, without the hub's lock, after the
	   waiter left every link; outcome says why. */
	void (*resume)(struct push_waiter *waiter);

	/* The hub's. */
	enum push_outcome outcome;
	bool linked;
	size_t heap_index;
	struct push_waiter *user_next, *user_prev;
};

struct push_settings {
	unsigned max_parked;          /* in all; 0: no limit */
	unsigned max_parked_per_user; /* 0: no limit */
};

/* What the hub holds now (metrics, tests). */
struct push_counts {
	unsigned parked;
	uint64_t parked_total, changed, expired, superseded, gone, stopped;
};

struct push_hub;

/*
 * Starts the hub and its thread. fd_limit is the process's descriptor
 * limit (sockets above it cannot exist). Returns 0, or -1 with a message.
 */
int push_hub_start(const struct push_settings *settings, unsigned fd_limit, struct push_hub **hub_out,
		   char *error, size_t error_len);
/*
 * Ends every parked waiter with PUSH_STOPPING and refuses new ones; returns
 * once every resume call made so far has returned. The hub stays usable
 * for push_hub_unpark until push_hub_free.
 */
void push_hub_stop(struct push_hub *hub);
/* Whether push_hub_stop was called: nothing is parked any more. */
bool push_hub_stopping(struct push_hub *hub);
/* Stops the thread and frees the hub; sets *hub to NULL. */
void push_hub_free(struct push_hub **hub);

/* A number that grows with every call: the order of requests as they arrived. */
uint64_t push_hub_sequence(struct push_hub *hub);
/*
 * The user's change generation. Taken before the "anything new?" check
 * that precedes parking, it lets push_hub_park see a change committed in
 * between (it then answers PUSH_CHANGED_ALREADY), so none is missed.
 */
uint64_t push_hub_generation(struct push_hub *hub, int64_t user_id);
/*
 * Ends the device's parked waiter with PUSH_SUPERSEDED if it is older than
 * sequence. Returns true when the parked one is newer (the caller's
 * request is the stale one).
 */
bool push_hub_supersede(struct push_hub *hub, int64_t device_id, uint64_t sequence);
/* Parks waiter (superseding an older one of its device). See enum push_park_status. */
enum push_park_status push_hub_park(struct push_hub *hub, struct push_waiter *waiter, uint64_t generation);
/*
 * Takes waiter out of the hub if it is still linked (its connection ended
 * another way). Returns true if it was; false if its resume was already
 * called or is being called.
 */
bool push_hub_unpark(struct push_hub *hub, struct push_waiter *waiter);
/*
 * The store's change listener: folder_id of user_id changed (folder 0:
 * the hierarchy; -1: any folder of the user; user -1: every user). Ends
 * the waiters that watch it with PUSH_CHANGED.
 */
void push_hub_changed(void *hub, int64_t user_id, int64_t folder_id);
/*
 * Changes committed by other programs on the same store (easctl deliver,
 * an import) reach the running easd as datagrams on a socket in the data
 * directory. push_hub_listen binds it (replacing a stale one); returns 0,
 * or -1 with a message. push_notify_changed is a store change listener
 * for those programs (its context: the data directory); it never blocks
 * and does nothing when no easd listens.
 */
#define PUSH_SOCKET_NAME "push.sock"
int push_hub_listen(struct push_hub *hub, const char *data_dir, char *error, size_t error_len);
void push_notify_changed(void *data_dir, int64_t user_id, int64_t folder_id);
/*
 * Whether an easd serves data_dir now: one listens on its push.sock (a
 * socket left by an easd that died does not count). What easctl restore
 * asks before it replaces the database.
 */
bool push_served(const char *data_dir);

/* A snapshot of the counts. */
void push_hub_counts(struct push_hub *hub, struct push_counts *counts_out);

#endif
