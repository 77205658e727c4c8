/*
 * repeats.c: the table of what devices were told (see repeats.h). A
 * GHashTable by device under one mutex; each entry keeps a window of
 * immediate answers and the folders reported as changed (up to
 * REPEAT_FOLDERS: the one reported longest ago makes room), with the key
 * the device had then.
 */
#include "guard/repeats.h"

#include <glib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "guard/limits.h"

/* Folders remembered per device: those it never syncs; more than this keep one another out. */
#define REPEAT_FOLDERS 16

struct folder_report {
	int64_t folder;
	uint64_t sync_key;
	unsigned count;   /* 0: a free slot */
	int64_t reported; /* when it was last told of it */
};

struct device_repeats {
	int64_t device;
	int64_t touched;
	int64_t window_start;
	unsigned immediate;
	struct folder_report folders[REPEAT_FOLDERS];
};

struct guard_repeats {
	pthread_mutex_t lock;
	GHashTable *devices; /* &entry->device -> entry */
	int64_t swept;       /* when the full table was last swept of idle entries */
};

struct guard_repeats *guard_repeats_new(void)
{
	struct guard_repeats *repeats = calloc(1, sizeof(*repeats));
	if (repeats == NULL)
		abort();
	pthread_mutex_init(&repeats->lock, NULL);
	repeats->devices = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, free);
	return repeats;
}

void guard_repeats_free(struct guard_repeats **repeats)
{
	if (*repeats == NULL)
		return;
	g_hash_table_destroy((*repeats)->devices);
	pthread_mutex_destroy(&(*repeats)->lock);
	free(*repeats);
	*repeats = NULL;
}

static gboolean idle_entry(gpointer key, gpointer value, gpointer now)
{
	(void)key;
	const struct device_repeats *entry = value;
	return *(const int64_t *)now - entry->touched > LIMIT_REPEAT_IDLE_SECONDS;
}

/* The device's entry, made when create; NULL when the table is full of active devices. */
static struct device_repeats *entry_of(struct guard_repeats *repeats, int64_t device, int64_t now, bool create)
{
	struct device_repeats *entry = g_hash_table_lookup(repeats->devices, &device);
	if (entry != NULL || !create)
		return entry;
	/* Full: sweep idle entries, at most once a minute (a sweep walks them all, under the lock). */
	if (g_hash_table_size(repeats->devices) >= LIMIT_REPEAT_DEVICES && now - repeats->swept >= 60) {
		repeats->swept = now;
		g_hash_table_foreach_remove(repeats->devices, idle_entry, &now);
	}
	if (g_hash_table_size(repeats->devices) >= LIMIT_REPEAT_DEVICES)
		return NULL;
	entry = calloc(1, sizeof(*entry));
	if (entry == NULL)
		abort();
	entry->device = device;
	g_hash_table_insert(repeats->devices, &entry->device, entry);
	return entry;
}

static struct folder_report *find_folder(struct device_repeats *entry, int64_t folder)
{
	for (unsigned i = 0; i < REPEAT_FOLDERS; i++)
		if (entry->folders[i].count > 0 && entry->folders[i].folder == folder)
			return &entry->folders[i];
	return NULL;
}

/* A free slot, else the one reported longest ago (a device pings a few dozen folders at most). */
static struct folder_report *free_slot(struct device_repeats *entry)
{
	struct folder_report *oldest = &entry->folders[0];
	for (unsigned i = 0; i < REPEAT_FOLDERS; i++) {
		if (entry->folders[i].count == 0)
			return &entry->folders[i];
		if (entry->folders[i].reported < oldest->reported)
			oldest = &entry->folders[i];
	}
	return oldest;
}

unsigned guard_repeats_peek(struct guard_repeats *repeats, int64_t device, int64_t folder, uint64_t sync_key)
{
	pthread_mutex_lock(&repeats->lock);
	struct device_repeats *entry = entry_of(repeats, device, 0, false);
	struct folder_report *report = entry != NULL ? find_folder(entry, folder) : NULL;
	unsigned count = report != NULL && report->sync_key == sync_key ? report->count : 0;
	pthread_mutex_unlock(&repeats->lock);
	return count;
}

unsigned guard_repeats_report(struct guard_repeats *repeats, int64_t device, int64_t folder, uint64_t sync_key,
			      int64_t now)
{
	unsigned count = 0;
	pthread_mutex_lock(&repeats->lock);
	struct device_repeats *entry = entry_of(repeats, device, now, true);
	if (entry != NULL) {
		entry->touched = now;
		struct folder_report *report = find_folder(entry, folder);
		if (report == NULL)
			report = free_slot(entry);
		if (report->folder != folder || report->count == 0 || report->sync_key != sync_key)
			*report = (struct folder_report){ .folder = folder, .sync_key = sync_key };
		report->reported = now;
		count = ++report->count;
	}
	pthread_mutex_unlock(&repeats->lock);
	return count;
}

unsigned guard_repeats_immediate(struct guard_repeats *repeats, int64_t device, int64_t now)
{
	unsigned count = 1;
	pthread_mutex_lock(&repeats->lock);
	struct device_repeats *entry = entry_of(repeats, device, now, true);
	if (entry != NULL) {
		entry->touched = now;
		if (now - entry->window_start >= LIMIT_REPEAT_WINDOW_SECONDS) {
			entry->window_start = now;
			entry->immediate = 0;
		}
		count = ++entry->immediate;
	}
	pthread_mutex_unlock(&repeats->lock);
	return count;
}
