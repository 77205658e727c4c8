/*
 * autoblock.c: counts what each device repeats and says when to block it
 * (see autoblock.h). A GHashTable by device under one mutex; each entry
 * keeps, per rule, a few keys with the count and the start of their
 * window: KEYED_SLOTS keys for the rules that tell keys apart
 * (collections, Sync bodies, failures), one for the others (their key is
 * always 0): 480 bytes a device, about 512 with its place in the table.
 *
 * It decides only: it neither blocks nor logs, and keeps nothing on disk.
 * An entry idle for longer than the longest window in force has nothing
 * left to count and goes at the next sweep, so the table follows the
 * devices in use; it never holds more than LIMIT_AUTOBLOCK_DEVICES.
 */
#include "guard/autoblock.h"
#include "guard/limits.h"

#include <assert.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys counted at once by a rule that tells keys apart: a loop over more
   collections than this is still seen through the ones it counts. */
#define KEYED_SLOTS 8
/* Idle devices are swept out at most this often (a sweep walks the whole
   table under the lock) ... */
#define SWEEP_INTERVAL_MS 60000
/* ... or, when the table is full and a new device arrives, this often. */
#define FULL_SWEEP_INTERVAL_MS 1000
/* Bytes of a device-supplied string (User-Agent, command) quoted in a reason. */
#define QUOTED_BYTES 64

/* One key's window: 16 bytes. The window's start is kept in Unix seconds
   (the windows are whole seconds), wrapping, compared by difference. */
struct key_count {
	uint64_t key;
	uint32_t first; /* when its window began */
	uint32_t count; /* 0: a free slot */
};

/* Where each rule's keys are in a device's slots[]. */
static const struct {
	unsigned char first, count;
} rule_slots[AUTOBLOCK_RULES] = {
	[AUTOBLOCK_SYNC_KEY_ZERO] = { 0, KEYED_SLOTS },
	[AUTOBLOCK_SAME_SYNC] = { KEYED_SLOTS, KEYED_SLOTS },
	[AUTOBLOCK_SAME_FAILURE] = { 2 * KEYED_SLOTS, KEYED_SLOTS },
	[AUTOBLOCK_NEVER_PROVISIONS] = { 3 * KEYED_SLOTS, 1 },
	[AUTOBLOCK_USER_AGENT_CHANGES] = { 3 * KEYED_SLOTS + 1, 1 },
	[AUTOBLOCK_COMMAND_RATE] = { 3 * KEYED_SLOTS + 2, 1 },
	[AUTOBLOCK_PING_LOOP] = { 3 * KEYED_SLOTS + 3, 1 },
};
#define SLOTS (3 * KEYED_SLOTS + 4)

struct device_counts {
	int64_t device;
	int64_t touched_ms;
	uint64_t user_agent; /* FNV-1a of the last User-Agent seen */
	bool has_user_agent;
	struct key_count slots[SLOTS];
};

/* Memory per device is a goal (a full table is about 100 MB): pinned here. */
_Static_assert(sizeof(struct device_counts) <= 480, "a device's counts fit in 480 bytes");

struct guard_autoblock {
	pthread_mutex_t lock;
	GHashTable *devices; /* &entry->device -> entry */
	int64_t swept_ms;    /* when idle entries were last swept out */
};

const char *guard_autoblock_rule_name(enum guard_autoblock_rule rule)
{
	static const char *const names[AUTOBLOCK_RULES] = {
		"sync_key_zero",      "same_sync",    "same_failure", "never_provisions",
		"user_agent_changes", "command_rate", "ping_loop",
	};
	if ((unsigned)rule >= AUTOBLOCK_RULES)
		return "unknown";
	return names[rule];
}

struct guard_autoblock *guard_autoblock_new(void)
{
	struct guard_autoblock *autoblock = calloc(1, sizeof(*autoblock));
	if (autoblock == NULL)
		abort();
	pthread_mutex_init(&autoblock->lock, NULL);
	autoblock->devices = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, free);
	return autoblock;
}

void guard_autoblock_free(struct guard_autoblock **autoblock)
{
	if (*autoblock == NULL)
		return;
	g_hash_table_destroy((*autoblock)->devices);
	pthread_mutex_destroy(&(*autoblock)->lock);
	free(*autoblock);
	*autoblock = NULL;
}

#define FNV_OFFSET 0xcbf29ce484222325ull

static uint64_t fnv1a(uint64_t hash, const void *data, size_t size)
{
	const unsigned char *byte = data;
	for (size_t i = 0; i < size; i++)
		hash = (hash ^ byte[i]) * 0x100000001b3ull;
	return hash;
}

/* The milliseconds between a and b, whichever is later (a wall clock can
   step back), without overflow. */
static uint64_t distance_ms(int64_t a, int64_t b)
{
	return a > b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
}

/*
 * Whether a window that began at first is over at now (Unix seconds, mod
 * 2^32). Requests of one device end on several threads, so an event may
 * come a little before one already counted: it still belongs to the
 * window. A wall clock stepped back a whole window ends it, as one
 * stepped forward does.
 */
static bool window_over(uint32_t first, uint32_t now, unsigned window_seconds)
{
	uint32_t ahead = now - first, behind = first - now;
	return behind < ahead ? behind >= window_seconds : ahead >= window_seconds;
}

/* The longest window of a rule in force: an entry idle that long has nothing left to count. */
static int64_t longest_window_ms(const struct guard_autoblock_limits *limits)
{
	unsigned longest = 0;
	for (int rule = 0; rule < AUTOBLOCK_RULES; rule++)
		if (limits->rule[rule].threshold > 0 && limits->rule[rule].window_seconds > longest)
			longest = limits->rule[rule].window_seconds;
	return (int64_t)longest * 1000;
}

struct sweep_context {
	int64_t now_ms, idle_ms;
};

static gboolean idle_entry(gpointer key, gpointer value, gpointer context)
{
	(void)key;
	const struct device_counts *entry = value;
	const struct sweep_context *sweep = context;
	return distance_ms(sweep->now_ms, entry->touched_ms) > (uint64_t)sweep->idle_ms;
}

static void sweep(struct guard_autoblock *autoblock, const struct guard_autoblock_limits *limits, int64_t now_ms)
{
	struct sweep_context context = { now_ms, longest_window_ms(limits) };
	autoblock->swept_ms = now_ms;
	g_hash_table_foreach_remove(autoblock->devices, idle_entry, &context);
}

/* The device's entry, made if need be; NULL when the table is full of devices in use. */
static struct device_counts *entry_of(struct guard_autoblock *autoblock, const struct guard_autoblock_limits *limits,
				      int64_t device, int64_t now_ms)
{
	if (distance_ms(now_ms, autoblock->swept_ms) >= SWEEP_INTERVAL_MS)
		sweep(autoblock, limits, now_ms);
	struct device_counts *entry = g_hash_table_lookup(autoblock->devices, &device);
	if (entry != NULL)
		return entry;
	if (g_hash_table_size(autoblock->devices) >= LIMIT_AUTOBLOCK_DEVICES &&
	    distance_ms(now_ms, autoblock->swept_ms) >= FULL_SWEEP_INTERVAL_MS)
		sweep(autoblock, limits, now_ms);
	if (g_hash_table_size(autoblock->devices) >= LIMIT_AUTOBLOCK_DEVICES)
		return NULL;
	entry = calloc(1, sizeof(*entry));
	if (entry == NULL)
		abort();
	entry->device = device;
	g_hash_table_insert(autoblock->devices, &entry->device, entry);
	return entry;
}

/*
 * The slot that counts key: its own, else a free one, else the one whose
 * window ended longest ago; NULL when every slot counts a key whose
 * window is still open. Keeping those rather than making room for the
 * new key is what lets a loop over more keys than slots be seen (a
 * device asking SyncKey 0 for 20 folders in turn would otherwise push
 * each count out before it grew); a loop on one key among many that come
 * once gets a slot when theirs end, at most one window late.
 */
static struct key_count *slot_for(struct key_count *slots, unsigned count, uint64_t key, uint32_t now,
				  unsigned window_seconds)
{
	struct key_count *free_slot = NULL, *ended = NULL;
	for (unsigned i = 0; i < count; i++) {
		struct key_count *slot = &slots[i];
		if (slot->count == 0) {
			if (free_slot == NULL)
				free_slot = slot;
		} else if (slot->key == key) {
			return slot;
		} else if (window_over(slot->first, now, window_seconds) &&
			   (ended == NULL || (uint32_t)(now - slot->first) > (uint32_t)(now - ended->first))) {
			ended = slot;
		}
	}
	if (free_slot != NULL)
		return free_slot;
	return ended;
}

/* Counts an event of rule with key at now; returns the count when it reaches the threshold, else 0. */
static unsigned count_event(struct device_counts *entry, const struct guard_autoblock_limits *limits,
			    enum guard_autoblock_rule rule, uint64_t key, uint32_t now)
{
	const struct guard_autoblock_limit *limit = &limits->rule[rule];
	if (limit->threshold == 0)
		return 0;
	struct key_count *slot = slot_for(&entry->slots[rule_slots[rule].first], rule_slots[rule].count, key, now,
					  limit->window_seconds);
	if (slot == NULL)
		return 0;
	if (slot->count == 0 || slot->key != key || window_over(slot->first, now, limit->window_seconds))
		*slot = (struct key_count){ .key = key, .first = now };
	slot->count++;
	return slot->count >= limit->threshold ? slot->count : 0;
}

static bool is_command(const struct guard_observation *observation, const char *command)
{
	return observation->command != NULL && strcmp(observation->command, command) == 0;
}

/*
 * Whether the request failed. A policy refusal is not a failure here: it
 * is never_provisions' to count. EAS Status 1 is success for nearly
 * every command (MS-ASCMD 2.2.3.177), but not for all: Ping's Status 2
 * (changes found) is its ordinary answer, and MoveItems says success
 * with Status 3 (its 1 is an invalid source folder).
 */
static bool failed(const struct guard_observation *observation)
{
	if (observation->policy_refused)
		return false;
	if (observation->http_status >= 400)
		return true;
	int status = observation->eas_status;
	if (status == 0)
		return false;
	if (is_command(observation, "Ping"))
		return status != 1 && status != 2;
	if (is_command(observation, "MoveItems"))
		return status != 3;
	return status != 1;
}

/* One key per command, EAS Status and HTTP status. */
static uint64_t failure_key(const struct guard_observation *observation)
{
	const char *command = observation->command != NULL ? observation->command : "";
	uint64_t key = fnv1a(FNV_OFFSET, command, strlen(command) + 1);
	key = fnv1a(key, &observation->eas_status, sizeof(observation->eas_status));
	return fnv1a(key, &observation->http_status, sizeof(observation->http_status));
}

/* A device-supplied string fit to quote: printable ASCII, '?' for the rest and for quotes, "..." when cut. */
static void quotable(char out[QUOTED_BYTES], const char *in)
{
	size_t n = 0;
	for (; in != NULL && in[n] != '\0' && n < QUOTED_BYTES - 1; n++) {
		unsigned char c = (unsigned char)in[n];
		out[n] = c < 0x20 || c > 0x7e || c == '"' || c == '\\' ? '?' : (char)c;
	}
	out[n] = '\0';
	if (in != NULL && in[n] != '\0')
		memcpy(&out[QUOTED_BYTES - 4], "...", 4);
}

static void describe_failure(char *reason, size_t size, const struct guard_observation *observation,
			     unsigned times, unsigned window)
{
	char command[QUOTED_BYTES];
	quotable(command, observation->command);
	if (observation->eas_status != 0)
		snprintf(reason, size, "%s failed with status %d (HTTP %u) %u times in %u s", command,
			 observation->eas_status, observation->http_status, times, window);
	else
		snprintf(reason, size, "%s failed with HTTP %u %u times in %u s", command, observation->http_status,
			 times, window);
}

/* Says for the administrator why the device is blocked; collection is the one at SyncKey 0. */
static void describe(struct guard_autoblock_verdict *verdict, const struct guard_observation *observation,
		     int64_t collection, unsigned times, unsigned window)
{
	char *reason = verdict->reason;
	size_t size = sizeof(verdict->reason);
	char user_agent[QUOTED_BYTES];
	switch (verdict->rule) {
	case AUTOBLOCK_SYNC_KEY_ZERO:
		if (collection == 0)
			snprintf(reason, size, "SyncKey 0 for the folder hierarchy, %u times in %u s", times, window);
		else
			snprintf(reason, size, "SyncKey 0 for collection %lld, %u times in %u s", (long long)collection,
				 times, window);
		break;
	case AUTOBLOCK_SAME_SYNC:
		snprintf(reason, size, "the same Sync %u times in %u s", times, window);
		break;
	case AUTOBLOCK_SAME_FAILURE:
		describe_failure(reason, size, observation, times, window);
		break;
	case AUTOBLOCK_NEVER_PROVISIONS:
		snprintf(reason, size, "told to provision %u times in %u s and never did", times, window);
		break;
	case AUTOBLOCK_USER_AGENT_CHANGES:
		quotable(user_agent, observation->user_agent);
		snprintf(reason, size, "User-Agent changed %u times in %u s (now \"%s\")", times, window, user_agent);
		break;
	case AUTOBLOCK_COMMAND_RATE:
		snprintf(reason, size, "%u commands in %u s", times, window);
		break;
	case AUTOBLOCK_PING_LOOP:
	default:
		snprintf(reason, size, "Ping answered at once %u times in %u s", times, window);
		break;
	}
}

/* Fills the verdict of rule, which fired at its times-th event; the device's counts start again. */
static bool fire(struct device_counts *entry, const struct guard_autoblock_limits *limits,
		 enum guard_autoblock_rule rule, const struct guard_observation *observation, int64_t collection,
		 unsigned times, struct guard_autoblock_verdict *verdict)
{
	verdict->rule = rule;
	verdict->block_seconds = limits->rule[rule].block_seconds;
	describe(verdict, observation, collection, times, limits->rule[rule].window_seconds);
	memset(entry->slots, 0, sizeof(entry->slots));
	return true;
}

/* Remembers the User-Agent; returns whether it differs from the one before (NULL: none sent, nothing changes). */
static bool user_agent_changed(struct device_counts *entry, const char *user_agent)
{
	if (user_agent == NULL)
		return false;
	uint64_t digest = fnv1a(FNV_OFFSET, user_agent, strlen(user_agent));
	bool changed = entry->has_user_agent && digest != entry->user_agent;
	entry->user_agent = digest;
	entry->has_user_agent = true;
	return changed;
}

/* Each rule in turn (the enum's order) counts what the request showed; the first to fire decides. */
static bool judge(struct device_counts *entry, const struct guard_autoblock_limits *limits,
		  const struct guard_observation *o, uint32_t now, struct guard_autoblock_verdict *verdict)
{
	bool new_user_agent = user_agent_changed(entry, o->user_agent);
	unsigned times;
	for (size_t i = 0; i < o->sync_key_zero_count; i++) {
		int64_t collection = o->sync_key_zero[i];
		if ((times = count_event(entry, limits, AUTOBLOCK_SYNC_KEY_ZERO, (uint64_t)collection, now)) > 0)
			return fire(entry, limits, AUTOBLOCK_SYNC_KEY_ZERO, o, collection, times, verdict);
	}
	if (o->body_digest != 0 && is_command(o, "Sync") &&
	    (times = count_event(entry, limits, AUTOBLOCK_SAME_SYNC, o->body_digest, now)) > 0)
		return fire(entry, limits, AUTOBLOCK_SAME_SYNC, o, 0, times, verdict);
	if (failed(o) && (times = count_event(entry, limits, AUTOBLOCK_SAME_FAILURE, failure_key(o), now)) > 0)
		return fire(entry, limits, AUTOBLOCK_SAME_FAILURE, o, 0, times, verdict);
	if (o->policy_refused && (times = count_event(entry, limits, AUTOBLOCK_NEVER_PROVISIONS, 0, now)) > 0)
		return fire(entry, limits, AUTOBLOCK_NEVER_PROVISIONS, o, 0, times, verdict);
	if (new_user_agent && (times = count_event(entry, limits, AUTOBLOCK_USER_AGENT_CHANGES, 0, now)) > 0)
		return fire(entry, limits, AUTOBLOCK_USER_AGENT_CHANGES, o, 0, times, verdict);
	if ((times = count_event(entry, limits, AUTOBLOCK_COMMAND_RATE, 0, now)) > 0)
		return fire(entry, limits, AUTOBLOCK_COMMAND_RATE, o, 0, times, verdict);
	if (o->ping_immediate && (times = count_event(entry, limits, AUTOBLOCK_PING_LOOP, 0, now)) > 0)
		return fire(entry, limits, AUTOBLOCK_PING_LOOP, o, 0, times, verdict);
	return false;
}

static bool any_rule_on(const struct guard_autoblock_limits *limits)
{
	for (int rule = 0; rule < AUTOBLOCK_RULES; rule++)
		if (limits->rule[rule].threshold > 0)
			return true;
	return false;
}

bool guard_autoblock_observe(struct guard_autoblock *autoblock, const struct guard_autoblock_limits *limits,
			     const struct guard_observation *observation, int64_t now_ms,
			     struct guard_autoblock_verdict *verdict)
{
	assert(observation != NULL && verdict != NULL);
	if (limits == NULL || !any_rule_on(limits))
		return false;
	/* Unix seconds mod 2^32 (floored, also before 1970): windows compare differences only. */
	uint32_t now = (uint32_t)(uint64_t)(now_ms / 1000 - (now_ms % 1000 < 0));
	bool fired = false;
	pthread_mutex_lock(&autoblock->lock);
	struct device_counts *entry = entry_of(autoblock, limits, observation->device, now_ms);
	if (entry != NULL) {
		entry->touched_ms = now_ms;
		fired = judge(entry, limits, observation, now, verdict);
	}
	pthread_mutex_unlock(&autoblock->lock);
	return fired;
}

void guard_autoblock_forget(struct guard_autoblock *autoblock, int64_t device)
{
	pthread_mutex_lock(&autoblock->lock);
	g_hash_table_remove(autoblock->devices, &device);
	pthread_mutex_unlock(&autoblock->lock);
}
