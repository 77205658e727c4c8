/*
 * autoblock.h: spots a device that misbehaves in a loop and says when to
 * block it (ARCHITECTURE.md's failure table; field-notes 2.12, 2.13):
 * SyncKey 0 again and again for one collection, the same Sync sent again
 * and again, the same command failing the same way, the provisioning
 * answers a device never acts on, a User-Agent that keeps changing, too
 * many commands, and a Ping answered at once, again and again.
 *
 * Each rule counts events per device in a fixed window: an event has a
 * key (the collection, the body's digest, the command and status), and
 * the rule fires when one key reaches the threshold inside the window
 * that began with that key's first event. The caller (eas/) records the
 * block in the store; this file decides only, in memory.
 *
 * Owns: a table of devices (one mutex, bounded: LIMIT_AUTOBLOCK_DEVICES;
 * entries idle longer than their longest window make room). A restart
 * forgets the counts, not the blocks (those are in the store).
 */
#ifndef GUARD_AUTOBLOCK_H
#define GUARD_AUTOBLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum guard_autoblock_rule {
	AUTOBLOCK_SYNC_KEY_ZERO,      /* one collection (or the hierarchy) restarted at SyncKey 0 */
	AUTOBLOCK_SAME_SYNC,          /* the same non-empty Sync body */
	AUTOBLOCK_SAME_FAILURE,       /* one command failing with one status */
	AUTOBLOCK_NEVER_PROVISIONS,   /* told to provision (449, 142, 143, 144), never does */
	AUTOBLOCK_USER_AGENT_CHANGES, /* a User-Agent unlike the one before */
	AUTOBLOCK_COMMAND_RATE,       /* any command */
	AUTOBLOCK_PING_LOOP,          /* a Ping answered without waiting */
	AUTOBLOCK_RULES
};

/* One rule's setting; threshold 0 switches it off. */
struct guard_autoblock_limit {
	unsigned threshold;      /* events of one key inside the window that block */
	unsigned window_seconds;
	unsigned block_seconds;  /* how long the block lasts */
};

struct guard_autoblock_limits {
	struct guard_autoblock_limit rule[AUTOBLOCK_RULES];
};

/* The rule's name in easd.conf's [autoblock] and in the store ("sync_key_zero", ...). */
const char *guard_autoblock_rule_name(enum guard_autoblock_rule rule);

/* What one finished request showed of its device. */
struct guard_observation {
	int64_t device;               /* the store's key of the device */
	const char *command;          /* "Sync" */
	unsigned http_status;
	int eas_status;               /* 0: none */
	const char *user_agent;
	uint64_t body_digest;         /* Sync with a body: a digest of it; 0 otherwise */
	const int64_t *sync_key_zero; /* collections the request asked at SyncKey 0 (0: the hierarchy) */
	size_t sync_key_zero_count;
	bool policy_refused;          /* answered 449, 142, 143 or 144 */
	bool ping_immediate;          /* a Ping answered without waiting */
};

/* Why a device is to be blocked. */
struct guard_autoblock_verdict {
	enum guard_autoblock_rule rule;
	unsigned block_seconds;
	char reason[160]; /* for the administrator: "SyncKey 0 for collection 7, 10 times in 600 s" */
};

struct guard_autoblock;

struct guard_autoblock *guard_autoblock_new(void);
void guard_autoblock_free(struct guard_autoblock **autoblock);

/*
 * Counts what the request showed at now_ms (Unix milliseconds) under the
 * limits in force. Returns true with *verdict filled when a rule fired;
 * the device's counts then start again (a block lifted early does not
 * fire at once again).
 */
bool guard_autoblock_observe(struct guard_autoblock *autoblock, const struct guard_autoblock_limits *limits,
			     const struct guard_observation *observation, int64_t now_ms,
			     struct guard_autoblock_verdict *verdict);

/* Forgets a device's counts (the administrator lifted its block). */
void guard_autoblock_forget(struct guard_autoblock *autoblock, int64_t device);

#endif
