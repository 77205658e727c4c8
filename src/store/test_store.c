/*
 * test_store.c: the SQLite store on a fresh temporary directory: schema
 * migrations, users with their default folders, devices and policy keys,
 * hierarchy changes by modseq, sync states keeping the previous one, mail,
 * device locks, messages sent (claims, retries, the sending rate).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

struct fixture {
	char dir[64];
	struct store *store;
	struct store_session *session;
	struct arena *arena;
	int64_t alice;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char error[256];
	snprintf(f->dir, sizeof(f->dir), "/tmp/easd-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	if (store_open(f->dir, 4, &f->store, error, sizeof(error)) < 0)
		return -1;
	f->session = store_session_acquire(f->store);
	f->arena = arena_new(0);
	if (store_user_add(f->session, "alice", "$y$hash", &f->alice) != STORE_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char command[128];
	store_session_release(&f->session);
	store_close(&f->store);
	arena_free(&f->arena);
	snprintf(command, sizeof(command), "rm -rf '%s'", f->dir);
	int removed = system(command);
	free(f);
	return removed;
}

static void schema_is_migrated_once(void **state)
{
	struct fixture *f = *state;
	struct store *again;
	char error[256];
	assert_int_equal(store_schema_version(f->store), 9);
	/* Opening an up-to-date database applies nothing and keeps the data. */
	assert_int_equal(store_open(f->dir, 1, &again, error, sizeof(error)), 0);
	assert_int_equal(store_schema_version(again), 9);
	struct store_session *session = store_session_acquire(again);
	struct store_user user;
	assert_int_equal(store_user_find(session, f->arena, "ALICE", &user), STORE_OK);
	assert_string_equal(user.name, "alice");
	store_session_release(&session);
	store_close(&again);
}

static void users_are_unique_and_passwords_bump_the_version(void **state)
{
	struct fixture *f = *state;
	struct store_user user;
	assert_int_equal(store_user_add(f->session, "Alice", "$y$other", NULL), STORE_EXISTS);
	assert_int_equal(store_user_find(f->session, f->arena, "alice", &user), STORE_OK);
	uint64_t version = user.credential_version;
	assert_int_equal(store_user_set_password(f->session, "alice", "$y$new"), STORE_OK);
	assert_int_equal(store_user_find(f->session, f->arena, "alice", &user), STORE_OK);
	assert_int_equal(user.credential_version, version + 1);
	assert_string_equal(user.password_hash, "$y$new");
	assert_int_equal(store_user_set_password(f->session, "nobody", "$y$x"), STORE_NOT_FOUND);
	assert_int_equal(store_user_delete(f->session, "nobody"), STORE_NOT_FOUND);
	assert_int_equal(store_user_delete(f->session, "alice"), STORE_OK);
	assert_int_equal(store_user_find(f->session, f->arena, "alice", &user), STORE_NOT_FOUND);
}

struct folder_list {
	unsigned added, updated, deleted;
	char names[16][32];
};

static void count_folder(void *context, const struct store_folder *folder)
{
	struct folder_list *list = context;
	unsigned n = list->added + list->updated + list->deleted;
	if (n < 16)
		snprintf(list->names[n], sizeof(list->names[n]), "%s", folder->name);
	if (folder->deleted)
		list->deleted++;
	else if (folder->added)
		list->added++;
	else
		list->updated++;
}

static void new_user_has_the_default_folders(void **state)
{
	struct fixture *f = *state;
	struct folder_list list = { 0 };
	uint64_t modseq;
	int64_t inbox;
	assert_int_equal(store_hierarchy_modseq(f->session, f->alice, &modseq), STORE_OK);
	assert_int_equal(modseq, 9);
	assert_int_equal(store_folder_changes(f->session, f->arena, f->alice, 0, modseq, count_folder, &list), STORE_OK);
	assert_int_equal(list.added, 9);
	assert_string_equal(list.names[0], "Inbox");
	assert_int_equal(store_folder_find_type(f->session, f->alice, STORE_FOLDER_INBOX, &inbox), STORE_OK);
	assert_int_equal(store_folder_find_type(f->session, f->alice, STORE_FOLDER_JOURNAL, &inbox), STORE_NOT_FOUND);
}

static void hierarchy_changes_by_modseq(void **state)
{
	struct fixture *f = *state;
	uint64_t before, after;
	int64_t projects, temporary, inbox;
	assert_int_equal(store_hierarchy_modseq(f->session, f->alice, &before), STORE_OK);
	assert_int_equal(store_folder_create(f->session, f->alice, 0, "Projects", STORE_FOLDER_USER_MAIL, &projects), STORE_OK);
	assert_int_equal(store_folder_create(f->session, f->alice, 0, "Temporary", STORE_FOLDER_USER_MAIL, &temporary), STORE_OK);
	assert_int_equal(store_folder_delete(f->session, f->alice, temporary), STORE_OK);
	assert_int_equal(store_folder_find_type(f->session, f->alice, STORE_FOLDER_INBOX, &inbox), STORE_OK);
	assert_int_equal(store_folder_rename(f->session, f->alice, inbox, "Posteingang"), STORE_OK);
	assert_int_equal(store_folder_delete(f->session, f->alice, temporary), STORE_NOT_FOUND);
	assert_int_equal(store_hierarchy_modseq(f->session, f->alice, &after), STORE_OK);
	assert_int_equal(after, before + 4);

	/* Created and deleted in the range: invisible. Renamed: an update. */
	struct folder_list list = { 0 };
	assert_int_equal(store_folder_changes(f->session, f->arena, f->alice, before, after, count_folder, &list), STORE_OK);
	assert_int_equal(list.added, 1);
	assert_int_equal(list.updated, 1);
	assert_int_equal(list.deleted, 0);

	/* Seen from after the creation, the deletion is a delete. */
	memset(&list, 0, sizeof(list));
	assert_int_equal(store_folder_changes(f->session, f->arena, f->alice, before + 2, after, count_folder, &list), STORE_OK);
	assert_int_equal(list.deleted, 1);
	assert_int_equal(list.updated, 1);
	assert_int_equal(list.added, 0);
}

static void folder_tree_updates_and_recursive_delete(void **state)
{
	struct fixture *f = *state;
	int64_t work, sub, deep, found;
	struct store_folder folder;
	assert_int_equal(store_folder_create(f->session, f->alice, 0, "Work", STORE_FOLDER_USER_MAIL, &work), STORE_OK);
	assert_int_equal(store_folder_create(f->session, f->alice, work, "Sub", STORE_FOLDER_USER_MAIL, &sub), STORE_OK);
	assert_int_equal(store_folder_create(f->session, f->alice, sub, "Deep", STORE_FOLDER_USER_MAIL, &deep), STORE_OK);
	assert_int_equal(store_folder_find_name(f->session, f->alice, work, "SUB", &found), STORE_OK);
	assert_int_equal(found, sub);
	assert_int_equal(store_folder_find_name(f->session, f->alice, 0, "Sub", &found), STORE_NOT_FOUND);
	/* Move Deep to the top and rename it. */
	assert_int_equal(store_folder_update(f->session, f->alice, deep, 0, "Top"), STORE_OK);
	assert_int_equal(store_folder_get(f->session, f->arena, f->alice, deep, &folder), STORE_OK);
	assert_int_equal(folder.parent_id, 0);
	assert_string_equal(folder.name, "Top");
	/* Deleting Work takes Sub with it, not Top. */
	uint64_t before, after;
	assert_int_equal(store_hierarchy_modseq(f->session, f->alice, &before), STORE_OK);
	assert_int_equal(store_folder_delete(f->session, f->alice, work), STORE_OK);
	assert_int_equal(store_hierarchy_modseq(f->session, f->alice, &after), STORE_OK);
	assert_int_equal(after, before + 1);
	assert_int_equal(store_folder_get(f->session, f->arena, f->alice, sub, &folder), STORE_NOT_FOUND);
	assert_int_equal(store_folder_get(f->session, f->arena, f->alice, deep, &folder), STORE_OK);
	struct folder_list list = { 0 };
	assert_int_equal(store_folder_changes(f->session, f->arena, f->alice, before, after, count_folder, &list), STORE_OK);
	assert_int_equal(list.deleted, 2);
	assert_int_equal(store_folder_update(f->session, f->alice, sub, 0, "Ghost"), STORE_NOT_FOUND);
}

static void device_policy_keys(void **state)
{
	struct fixture *f = *state;
	struct store_device device;
	assert_int_equal(store_device_touch(f->session, f->arena, f->alice, "DEV1", "iPhone", "ua/1", 1000, &device), STORE_OK);
	assert_int_equal(device.policy_key, 0);
	assert_int_equal(device.first_seen, 1000);
	assert_int_equal(store_device_set_pending_policy(f->session, device.id, 77, "v1"), STORE_OK);
	assert_int_equal(store_device_set_policy(f->session, device.id, 88, "v1"), STORE_OK);
	assert_int_equal(store_device_touch(f->session, f->arena, f->alice, "DEV1", "iPhone", "ua/2", 1010, &device), STORE_OK);
	assert_int_equal(device.policy_key, 88);
	assert_int_equal(device.pending_key, 77);
	assert_string_equal(device.policy_version, "v1");
	assert_string_equal(device.user_agent, "ua/2");
	struct store_device_information information = { .model = "iPhone15,2", .os = "iOS 17" };
	assert_int_equal(store_device_set_information(f->session, device.id, &information), STORE_OK);
}

/* An administrator's decisions about a device hold until changed and are read with every touch. */
static void device_decisions_are_kept(void **state)
{
	struct fixture *f = *state;
	struct store_device device;
	/* Decided before it ever connects: a row never seen. */
	assert_int_equal(store_device_find(f->session, f->arena, f->alice, "NEW1", false, &device), STORE_NOT_FOUND);
	assert_int_equal(store_device_find(f->session, f->arena, f->alice, "NEW1", true, &device), STORE_OK);
	assert_int_equal(device.first_seen, 0);
	struct store_device_access block = { STORE_ACCESS_BLOCK, "autoblock:sync_key_zero", "loop", 1000, 4600 };
	assert_int_equal(store_device_set_access(f->session, device.id, &block), STORE_OK);
	struct store_device_wipe wipe = { STORE_WIPE_ACCOUNT, STORE_WIPE_SENT, 1000, 1005 };
	assert_int_equal(store_device_set_wipe(f->session, device.id, &wipe), STORE_OK);
	assert_int_equal(store_device_set_trace(f->session, device.id, 2000), STORE_OK);
	assert_int_equal(store_device_touch(f->session, f->arena, f->alice, "NEW1", "iPhone", "ua", 1100, &device), STORE_OK);
	assert_int_equal(device.first_seen, 1100);
	assert_int_equal(device.access.access, STORE_ACCESS_BLOCK);
	assert_string_equal(device.access.by, "autoblock:sync_key_zero");
	assert_string_equal(device.access.reason, "loop");
	assert_int_equal(device.access.until, 4600);
	assert_int_equal(device.wipe.kind, STORE_WIPE_ACCOUNT);
	assert_int_equal(device.wipe.state, STORE_WIPE_SENT);
	assert_int_equal(device.wipe.answered, 1005);
	assert_int_equal(device.trace_until, 2000);
	/* Cleared: the rules decide again, nothing of the old decision stays. */
	struct store_device_access none = { .access = STORE_ACCESS_RULES, .by = "admin" };
	assert_int_equal(store_device_set_access(f->session, device.id, &none), STORE_OK);
	struct store_device_wipe no_wipe = { .kind = STORE_WIPE_NONE };
	assert_int_equal(store_device_set_wipe(f->session, device.id, &no_wipe), STORE_OK);
	assert_int_equal(store_device_find(f->session, f->arena, f->alice, "NEW1", false, &device), STORE_OK);
	assert_int_equal(device.access.access, STORE_ACCESS_RULES);
	assert_string_equal(device.access.by, "");
	assert_int_equal(device.wipe.kind, STORE_WIPE_NONE);
	enum store_access parsed;
	assert_int_equal(store_access_parse("quarantine", &parsed), 0);
	assert_int_equal(parsed, STORE_ACCESS_QUARANTINE);
	assert_int_equal(store_access_parse("maybe", &parsed), -1);
}

static void count_device(void *context, const char *user_name, const struct store_device *device)
{
	assert_string_equal(user_name, "alice");
	assert_non_null(device->device_id);
	(*(int *)context)++;
}

/* The device cap counts the devices before one that are not blocked; forgetting one frees its place. */
static void devices_are_counted_listed_and_forgotten(void **state)
{
	struct fixture *f = *state;
	struct store_device d1, d2, d3;
	assert_int_equal(store_device_touch(f->session, f->arena, f->alice, "D1", "t", "", 1000, &d1), STORE_OK);
	assert_int_equal(store_device_touch(f->session, f->arena, f->alice, "D2", "t", "", 1000, &d2), STORE_OK);
	assert_int_equal(store_device_touch(f->session, f->arena, f->alice, "D3", "t", "", 1000, &d3), STORE_OK);
	uint64_t count = 99;
	assert_int_equal(store_device_count_before(f->session, f->alice, d3.id, &count), STORE_OK);
	assert_int_equal(count, 2);
	struct store_device_access block = { STORE_ACCESS_BLOCK, "admin", "", 1000, 0 };
	assert_int_equal(store_device_set_access(f->session, d1.id, &block), STORE_OK);
	assert_int_equal(store_device_count_before(f->session, f->alice, d3.id, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(store_device_forget(f->session, d2.id), STORE_OK);
	assert_int_equal(store_device_forget(f->session, d2.id), STORE_NOT_FOUND);
	assert_int_equal(store_device_count_before(f->session, f->alice, d3.id, &count), STORE_OK);
	assert_int_equal(count, 0);
	int listed = 0;
	assert_int_equal(store_device_list(f->session, f->arena, 0, count_device, &listed), STORE_OK);
	assert_int_equal(listed, 2);
}

/* A user's sync switched off, or some classes, is read with the user. */
static void user_sync_can_be_switched_off(void **state)
{
	struct fixture *f = *state;
	struct store_user user;
	assert_int_equal(store_user_find(f->session, f->arena, "alice", &user), STORE_OK);
	assert_false(user.sync_disabled);
	assert_string_equal(user.disabled_classes, "");
	assert_int_equal(store_user_set_sync(f->session, "alice", true, "Contacts"), STORE_OK);
	assert_int_equal(store_user_find(f->session, f->arena, "alice", &user), STORE_OK);
	assert_true(user.sync_disabled);
	assert_string_equal(user.disabled_classes, "Contacts");
	assert_int_equal(store_user_set_sync(f->session, "nobody", true, ""), STORE_NOT_FOUND);
}

static void sync_state_keeps_the_previous_one(void **state)
{
	struct fixture *f = *state;
	struct store_device device;
	struct store_sync_state sync;
	assert_int_equal(store_device_touch(f->session, f->arena, f->alice, "DEV2", "Android", "", 1000, &device), STORE_OK);
	assert_int_equal(store_sync_state_get(f->session, device.id, 0, &sync), STORE_NOT_FOUND);
	assert_int_equal(store_sync_state_advance(f->session, device.id, 0, 1, 9, NULL), STORE_OK);
	assert_int_equal(store_sync_state_advance(f->session, device.id, 0, 2, 12, NULL), STORE_OK);
	assert_int_equal(store_sync_state_get(f->session, device.id, 0, &sync), STORE_OK);
	assert_int_equal(sync.sync_key, 2);
	assert_int_equal(sync.modseq, 12);
	assert_int_equal(sync.previous_key, 1);
	assert_int_equal(sync.previous_modseq, 9);
}

static int64_t published_folder;

static void on_change(void *context, int64_t user_id, int64_t folder_id)
{
	(void)context;
	(void)user_id;
	published_folder = folder_id;
}

static void mail_is_published_at_commit_not_before(void **state)
{
	struct fixture *f = *state;
	int64_t inbox;
	uint64_t count;
	static const char message[] = "Subject: hi\r\n\r\nbody\r\n";
	struct store_item_meta meta = { .received = 5, .message_id = "m1@example.org" };
	store_set_change_listener(f->store, on_change, NULL);
	assert_int_equal(store_folder_find_type(f->session, f->alice, STORE_FOLDER_INBOX, &inbox), STORE_OK);
	published_folder = 0;
	assert_int_equal(store_begin(f->session), STORE_OK);
	assert_int_equal(store_item_add(f->session, f->alice, inbox, (const uint8_t *)message, sizeof(message) - 1, &meta, NULL), STORE_OK);
	assert_int_equal(published_folder, 0);
	assert_int_equal(store_commit(f->session), STORE_OK);
	assert_int_equal(published_folder, inbox);
	/* A rolled-back delivery leaves nothing and publishes nothing. */
	published_folder = 0;
	assert_int_equal(store_begin(f->session), STORE_OK);
	assert_int_equal(store_item_add(f->session, f->alice, inbox, (const uint8_t *)message, sizeof(message) - 1, &meta, NULL), STORE_OK);
	store_rollback(f->session);
	assert_int_equal(published_folder, 0);
	assert_int_equal(store_folder_count(f->session, inbox, &count), STORE_OK);
	assert_int_equal(count, 1);
	/* Another user's folder is not ours. */
	assert_int_equal(store_item_add(f->session, f->alice + 1000, inbox, (const uint8_t *)"x", 1, &meta, NULL), STORE_NOT_FOUND);
}

struct change_log {
	unsigned count;
	int64_t ids[16];
	bool deleted[16];
	uint64_t last_modseq;
};

static bool log_change(void *context, const struct store_item *item)
{
	struct change_log *log = context;
	if (log->count < 16) {
		log->ids[log->count] = item->id;
		log->deleted[log->count] = item->deleted;
	}
	log->count++;
	log->last_modseq = item->modseq;
	return true;
}

static void item_changes_are_a_resumable_cursor(void **state)
{
	struct fixture *f = *state;
	int64_t inbox, trash, ids[5], moved;
	uint64_t modseq, flags_modseq, again_modseq;
	struct store_item_meta meta = { .received = 100, .message_id = "x@y" };
	assert_int_equal(store_folder_find_type(f->session, f->alice, STORE_FOLDER_INBOX, &inbox), STORE_OK);
	assert_int_equal(store_folder_find_type(f->session, f->alice, STORE_FOLDER_DELETED, &trash), STORE_OK);
	for (int i = 0; i < 5; i++)
		assert_int_equal(store_item_add(f->session, f->alice, inbox, (const uint8_t *)"m", 1, &meta, &ids[i]), STORE_OK);
	/* Pages of two: 2 + 2 + 1, each continuing after the last modseq sent. */
	assert_int_equal(store_folder_modseq(f->session, inbox, &modseq), STORE_OK);
	struct change_log page = { 0 };
	assert_int_equal(store_item_changes(f->session, f->arena, inbox, 0, modseq, 2, log_change, &page), STORE_OK);
	assert_int_equal(page.count, 2);
	assert_int_equal(page.ids[0], ids[0]);
	uint64_t cursor = page.last_modseq;
	/* A delivery between pages lands after the cursor's end, not inside it. */
	int64_t late;
	assert_int_equal(store_item_add(f->session, f->alice, inbox, (const uint8_t *)"m", 1, &meta, &late), STORE_OK);
	memset(&page, 0, sizeof(page));
	assert_int_equal(store_item_changes(f->session, f->arena, inbox, cursor, modseq, 0, log_change, &page), STORE_OK);
	assert_int_equal(page.count, 3);
	assert_int_equal(page.ids[2], ids[4]);
	/* Setting the flags it already has writes nothing. */
	assert_int_equal(store_item_set_flags(f->session, f->alice, inbox, ids[1], true, 2, "Red", &flags_modseq), STORE_OK);
	assert_int_equal(store_item_set_flags(f->session, f->alice, inbox, ids[1], true, 2, "Red", &again_modseq), STORE_OK);
	assert_int_equal(again_modseq, flags_modseq);
	/* Delete leaves a tombstone; move leaves one and adds a new item. */
	assert_int_equal(store_item_delete(f->session, f->alice, inbox, ids[2], NULL), STORE_OK);
	assert_int_equal(store_item_delete(f->session, f->alice, inbox, ids[2], NULL), STORE_NOT_FOUND);
	assert_int_equal(store_item_move(f->session, f->alice, inbox, ids[3], trash, &moved, NULL, NULL), STORE_OK);
	struct store_item item;
	assert_int_equal(store_item_get(f->session, f->arena, trash, moved, &item), STORE_OK);
	assert_false(item.deleted);
	assert_int_equal(store_item_get(f->session, f->arena, inbox, ids[3], &item), STORE_OK);
	assert_true(item.deleted);
	uint64_t size;
	uint8_t content;
	assert_int_equal(store_item_content_size(f->session, inbox, ids[3], &size), STORE_NOT_FOUND);
	assert_int_equal(store_item_content_size(f->session, trash, moved, &size), STORE_OK);
	assert_int_equal(size, 1);
	assert_int_equal(store_item_content_read(f->session, trash, moved, 0, &content, 1), STORE_OK);
	assert_int_equal(content, 'm');
	uint64_t count;
	assert_int_equal(store_folder_count(f->session, inbox, &count), STORE_OK);
	assert_int_equal(count, 4);
	/* Since modseq: flags change, deletion, move-out: three changes, in that order. */
	memset(&page, 0, sizeof(page));
	uint64_t now;
	assert_int_equal(store_folder_modseq(f->session, inbox, &now), STORE_OK);
	assert_int_equal(store_item_count_changes(f->session, inbox, modseq + 1, now, NULL, &count), STORE_OK);
	assert_int_equal(count, 3);
}

static void item_content_reads_by_ranges(void **state)
{
	struct fixture *f = *state;
	struct store_item_meta meta = { .received = 100, .message_id = "" };
	int64_t inbox, trash, id, moved;
	uint64_t size;
	uint8_t bytes[5000], got[5000];
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 13 + 1);
	assert_int_equal(store_folder_find_type(f->session, f->alice, STORE_FOLDER_INBOX, &inbox), STORE_OK);
	assert_int_equal(store_folder_find_type(f->session, f->alice, STORE_FOLDER_DELETED, &trash), STORE_OK);
	assert_int_equal(store_item_add(f->session, f->alice, inbox, bytes, sizeof(bytes), &meta, &id), STORE_OK);
	assert_int_equal(store_item_content_size(f->session, inbox, id, &size), STORE_OK);
	assert_int_equal(size, sizeof(bytes));
	/* Ranges at the start, inside, up to the very end, and empty at the end. */
	static const struct { uint64_t offset; size_t len; } ranges[] = { { 0, 1 }, { 1000, 3000 }, { 4999, 1 },
									   { 0, 5000 }, { 5000, 0 } };
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		assert_int_equal(store_item_content_read(f->session, inbox, id, ranges[i].offset, got, ranges[i].len),
				 STORE_OK);
		assert_memory_equal(got, bytes + ranges[i].offset, ranges[i].len);
	}
	/* One byte past the end, or an offset past it, is refused. */
	assert_int_equal(store_item_content_read(f->session, inbox, id, 4999, got, 2), STORE_ERROR);
	assert_int_equal(store_item_content_read(f->session, inbox, id, 5001, got, 0), STORE_ERROR);
	/* Another folder's id, a moved item and a deleted one are not found. */
	assert_int_equal(store_item_content_read(f->session, trash, id, 0, got, 1), STORE_NOT_FOUND);
	assert_int_equal(store_item_move(f->session, f->alice, inbox, id, trash, &moved, NULL, NULL), STORE_OK);
	assert_int_equal(store_item_content_size(f->session, inbox, id, &size), STORE_NOT_FOUND);
	assert_int_equal(store_item_content_read(f->session, inbox, id, 0, got, 1), STORE_NOT_FOUND);
	assert_int_equal(store_item_content_read(f->session, trash, moved, 10, got, 10), STORE_OK);
	assert_memory_equal(got, bytes + 10, 10);
	assert_int_equal(store_item_delete(f->session, f->alice, trash, moved, NULL), STORE_OK);
	assert_int_equal(store_item_content_read(f->session, trash, moved, 0, got, 1), STORE_NOT_FOUND);
}

static void sessions_are_capped(void **state)
{
	struct fixture *f = *state;
	struct store_session *held[4] = { NULL };
	/* The fixture holds one of the four. */
	for (int i = 0; i < 3; i++)
		held[i] = store_session_acquire(f->store);
	for (int i = 0; i < 3; i++)
		assert_non_null(held[i]);
	assert_null(store_session_acquire(f->store));
	store_session_release(&held[0]);
	held[3] = store_session_acquire(f->store);
	assert_non_null(held[3]);
	for (int i = 1; i < 4; i++)
		store_session_release(&held[i]);
}

/*
 * Items received at 100, 200, 300, 300, 400 (two in the same second);
 * a filter window moving over what the device had at a modseq.
 */
static void a_filter_window_moves_item_by_item(void **state)
{
	struct fixture *f = *state;
	static const int64_t received[] = { 100, 200, 300, 300, 400 };
	int64_t inbox, ids[5];
	uint64_t at, count, deleted_modseq;
	assert_int_equal(store_folder_find_type(f->session, f->alice, STORE_FOLDER_INBOX, &inbox), STORE_OK);
	for (int i = 0; i < 5; i++) {
		struct store_item_meta meta = { .received = received[i], .message_id = "" };
		assert_int_equal(store_item_add(f->session, f->alice, inbox, (const uint8_t *)"m", 1, &meta, &ids[i]), STORE_OK);
	}
	assert_int_equal(store_folder_modseq(f->session, inbox, &at), STORE_OK);
	/* Deleted after the device's modseq: it still had it, so it leaves the window too. */
	assert_int_equal(store_item_delete(f->session, f->alice, inbox, ids[1], &deleted_modseq), STORE_OK);
	/* The window shrinks from everything to "from 300 on": 100 and 200 leave, oldest first. */
	struct store_cutoff all = { 0, 0 }, from_300 = { 300, 0 }, after_first_300 = { 300, ids[2] + 1 };
	struct change_log log = { 0 };
	assert_int_equal(store_item_window(f->session, f->arena, inbox, STORE_WINDOW_LEAVING, at, &all, &from_300, 0,
					   log_change, &log), STORE_OK);
	assert_int_equal(log.count, 2);
	assert_int_equal(log.ids[0], ids[0]);
	assert_int_equal(log.ids[1], ids[1]);
	assert_true(log.deleted[1]);
	/* The id splits a second: after the first item of 300, only the second of 300 and 400 remain. */
	struct store_cutoff end = { INT64_MAX, 0 };
	assert_int_equal(store_item_count_window(f->session, inbox, STORE_WINDOW_LEAVING, at, &after_first_300, &end,
						 &count), STORE_OK);
	assert_int_equal(count, 2);
	/* Widening takes live items only, newest first; items created after the modseq are not the window's. */
	memset(&log, 0, sizeof(log));
	assert_int_equal(store_item_window(f->session, f->arena, inbox, STORE_WINDOW_ENTERING, at, &all, &end, 0,
					   log_change, &log), STORE_OK);
	assert_int_equal(log.count, 4);
	assert_int_equal(log.ids[0], ids[4]);
	assert_int_equal(log.ids[1], ids[3]);
	assert_int_equal(log.ids[3], ids[0]);
	assert_int_equal(store_item_count_window(f->session, inbox, STORE_WINDOW_ENTERING, 0, &all, &end,
						 &count), STORE_OK);
	assert_int_equal(count, 0);
	/* A limit stops the walk. */
	memset(&log, 0, sizeof(log));
	assert_int_equal(store_item_window(f->session, f->arena, inbox, STORE_WINDOW_ENTERING, at, &all, &end, 1,
					   log_change, &log), STORE_OK);
	assert_int_equal(log.count, 1);
	/* Changes counted from a cutoff skip what is older. */
	assert_int_equal(store_item_count_changes(f->session, inbox, 0, deleted_modseq, &from_300, &count), STORE_OK);
	assert_int_equal(count, 3);
}

/* A second session waiting for a device's lock, on a thread of its own. */
struct lock_waiter {
	struct store_session *session;
	int64_t device;
	int status;
	pthread_t thread;
};

static void *lock_thread(void *context)
{
	struct lock_waiter *w = context;
	w->status = store_device_lock(w->session, w->device);
	return NULL;
}

static int64_t elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* One device's lock is held by one session at a time; another device's is free; giving the session back unlocks. */
static void device_lock_serialises_one_device_only(void **state)
{
	struct fixture *f = *state;
	struct store_session *other = store_session_acquire(f->store);
	assert_int_equal(store_device_lock(f->session, 7), STORE_OK);
	assert_int_equal(store_device_lock(other, 8), STORE_OK);
	store_device_unlock(other);
	struct lock_waiter w = { .session = other, .device = 7, .status = -100 };
	struct timespec started;
	clock_gettime(CLOCK_MONOTONIC, &started);
	assert_int_equal(pthread_create(&w.thread, NULL, lock_thread, &w), 0);
	usleep(200 * 1000);
	store_device_unlock(f->session);
	pthread_join(w.thread, NULL);
	assert_int_equal(w.status, STORE_OK);
	assert_true(elapsed_ms(&started) >= 200);
	/* The wait is counted, for the session (once) and the store. */
	assert_true(store_session_take_wait_ms(other) >= 150);
	assert_int_equal(store_session_take_wait_ms(other), 0);
	struct store_stats stats;
	store_stats(f->store, &stats);
	assert_int_equal(stats.waits, 1);
	assert_true(stats.wait_ms >= 150);
	assert_int_equal(stats.busy, 0);
	assert_int_equal(stats.sessions_in_use, 2);
	store_session_release(&other); /* unlocks device 7 */
	store_stats(f->store, &stats);
	assert_int_equal(stats.sessions_in_use, 1);
	assert_int_equal(stats.sessions_open, 2);
	assert_int_equal(store_device_lock(f->session, 7), STORE_OK);
	store_device_unlock(f->session);
	store_device_unlock(f->session); /* a second unlock is harmless */
}

/* A lock held past the busy timeout (5 s) gives STORE_BUSY, not a wait for ever. */
static void device_lock_waits_at_most_the_busy_timeout(void **state)
{
	struct fixture *f = *state;
	struct store_session *other = store_session_acquire(f->store);
	struct timespec started;
	assert_int_equal(store_device_lock(f->session, 9), STORE_OK);
	clock_gettime(CLOCK_MONOTONIC, &started);
	assert_int_equal(store_device_lock(other, 9), STORE_BUSY);
	assert_true(elapsed_ms(&started) >= 4900 && elapsed_ms(&started) < 8000);
	struct store_stats stats;
	store_stats(f->store, &stats);
	assert_int_equal(stats.busy, 1);
	store_device_unlock(f->session);
	assert_int_equal(store_device_lock(other, 9), STORE_OK);
	store_session_release(&other);
}

/* A write transaction begun while another runs waits for its end; the wait is counted for its session. */
struct write_waiter {
	struct store_session *session;
	int status;
};

static void *write_thread(void *context)
{
	struct write_waiter *w = context;
	w->status = store_begin(w->session);
	if (w->status == STORE_OK)
		w->status = store_commit(w->session);
	return NULL;
}

static void write_lock_waits_are_counted(void **state)
{
	struct fixture *f = *state;
	struct write_waiter w = { .session = store_session_acquire(f->store), .status = -100 };
	assert_int_equal(store_begin(f->session), STORE_OK);
	pthread_t thread;
	assert_int_equal(pthread_create(&thread, NULL, write_thread, &w), 0);
	usleep(150 * 1000);
	assert_int_equal(store_commit(f->session), STORE_OK);
	pthread_join(thread, NULL);
	assert_int_equal(w.status, STORE_OK);
	assert_true(store_session_take_wait_ms(w.session) >= 100);
	assert_int_equal(store_session_take_wait_ms(f->session), 0);
	struct store_stats stats;
	store_stats(f->store, &stats);
	assert_int_equal(stats.waits, 1);
	assert_int_equal(stats.busy, 0);
	store_session_release(&w.session);
}

/* ---- a meeting's own messages (invitations) ---- */

static void schedule(struct fixture *f, const char *method, int64_t sequence, int64_t now, bool *by_device)
{
	struct store_invitation m = { .user_id = f->alice, .uid = "m-1", .method = method, .sequence = sequence,
				      .due = now + 60, .sender = "alice@example.org", .recipients = "bob@example.org\n",
				      .message = { (const uint8_t *)method, strlen(method) } };
	assert_int_equal(store_begin(f->session), STORE_OK);
	assert_int_equal(store_invitation_add(f->session, &m, now, now - 3600, by_device), STORE_OK);
	assert_int_equal(store_commit(f->session), STORE_OK);
}

/* A newer REQUEST replaces the pending one; what is due comes out once; a device's own message stops easd's. */
static void invitations_follow_the_meeting(void **state)
{
	struct fixture *f = *state;
	int64_t sequence = -1;
	bool by_device = true, announced = true;
	assert_int_equal(store_invitation_next_sequence(f->session, f->alice, "m-1", &sequence), STORE_OK);
	assert_int_equal(sequence, 0);
	assert_int_equal(store_invitation_announced(f->session, f->alice, "m-1", &announced), STORE_OK);
	assert_false(announced);
	schedule(f, "REQUEST", 0, 1000, &by_device);
	assert_false(by_device);
	schedule(f, "REQUEST", 1, 1010, &by_device);
	struct store_invitation due;
	assert_int_equal(store_invitation_next_due(f->session, f->arena, 1069, &due), STORE_NOT_FOUND);
	assert_int_equal(store_invitation_next_due(f->session, f->arena, 1070, &due), STORE_OK);
	assert_int_equal(due.sequence, 1); /* the first was replaced */
	assert_string_equal(due.recipients, "bob@example.org\n");
	assert_int_equal(store_invitation_claim(f->session, due.id, 1200), STORE_OK);
	/* Claimed: announced, and not due again until its lease runs out (an outbox that died while sending). */
	assert_int_equal(store_invitation_announced(f->session, f->alice, "m-1", &announced), STORE_OK);
	assert_true(announced);
	assert_int_equal(store_invitation_next_due(f->session, f->arena, 1199, &due), STORE_NOT_FOUND);
	assert_int_equal(store_invitation_next_due(f->session, f->arena, 1200, &due), STORE_OK);
	assert_int_equal(store_invitation_claim(f->session, due.id, 1300), STORE_OK);
	assert_int_equal(store_invitation_finish(f->session, due.id, STORE_INVITATION_SENT, 1070), STORE_OK);
	/* Finished: not claimed again, not due again. */
	assert_int_equal(store_invitation_claim(f->session, due.id, 1300), STORE_NOT_FOUND);
	assert_int_equal(store_invitation_next_due(f->session, f->arena, 5000, &due), STORE_NOT_FOUND);
	assert_int_equal(store_invitation_announced(f->session, f->alice, "m-1", &announced), STORE_OK);
	assert_true(announced);
	/* The device forwards the meeting to someone else: easd's pending update to bob stays. */
	schedule(f, "REQUEST", 2, 2000, &by_device);
	struct store_invitation forward = { .user_id = f->alice, .uid = "m-1", .method = "REQUEST", .sequence = 2,
					    .recipients = "carol@example.org\n" };
	assert_int_equal(store_invitation_device_sent(f->session, &forward, 2000), STORE_OK);
	assert_int_equal(store_invitation_next_due(f->session, f->arena, 9000, &due), STORE_OK);
	assert_int_equal(due.sequence, 2);
	/* The device sends the update to bob itself: easd's pending one goes, and the next one too. */
	struct store_invitation own = { .user_id = f->alice, .uid = "m-1", .method = "REQUEST", .sequence = 2,
					.recipients = "carol@example.org\nBOB@example.org\n" };
	assert_int_equal(store_invitation_device_sent(f->session, &own, 2001), STORE_OK);
	assert_int_equal(store_invitation_next_due(f->session, f->arena, 9000, &due), STORE_NOT_FOUND);
	schedule(f, "CANCEL", 3, 2100, &by_device);
	assert_true(by_device);
	assert_int_equal(store_invitation_next_due(f->session, f->arena, 9000, &due), STORE_NOT_FOUND);
	assert_int_equal(store_invitation_next_sequence(f->session, f->alice, "m-1", &sequence), STORE_OK);
	assert_int_equal(sequence, 4);
}

/* ---- messages sent ---- */

#define SEND_NOW 1700000000
#define SEND_STALE 300
#define SEND_KEEP 86400

static enum store_send_claim send_claim(struct fixture *f, int64_t user, const char *key, int64_t now)
{
	enum store_send_claim found = (enum store_send_claim)-1;
	assert_int_equal(store_send_claim(f->session, user, key, now, SEND_STALE, SEND_KEEP, &found), STORE_OK);
	return found;
}

/* A retried SendMail whose answer was lost finds its message sent (done commits with the Sent Items copy). */
static void sent_message_is_not_claimed_again(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(send_claim(f, f->alice, "c:DEV:1", SEND_NOW), STORE_SEND_GO);
	assert_int_equal(store_begin(f->session), STORE_OK);
	assert_int_equal(store_send_done(f->session, f->alice, "c:DEV:1"), STORE_OK);
	assert_int_equal(store_commit(f->session), STORE_OK);
	assert_int_equal(send_claim(f, f->alice, "c:DEV:1", SEND_NOW + 1), STORE_SEND_ALREADY_SENT);
	/* However late the retry, short of keep_seconds; and abandoning a sent message changes nothing. */
	assert_int_equal(send_claim(f, f->alice, "c:DEV:1", SEND_NOW + SEND_KEEP), STORE_SEND_ALREADY_SENT);
	assert_int_equal(store_send_abandon(f->session, f->alice, "c:DEV:1"), STORE_OK);
	assert_int_equal(send_claim(f, f->alice, "c:DEV:1", SEND_NOW + SEND_KEEP), STORE_SEND_ALREADY_SENT);
	assert_int_equal(send_claim(f, f->alice, "c:DEV:2", SEND_NOW + 2), STORE_SEND_GO);
}

/*
 * A claim younger than stale_seconds may still be sending: the retry
 * waits. At stale_seconds the attempt is taken for dead and taken over
 * (sent twice rather than lost).
 */
static void claim_in_progress_until_it_is_stale(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(send_claim(f, f->alice, "m:a@example.org", SEND_NOW), STORE_SEND_GO);
	assert_int_equal(send_claim(f, f->alice, "m:a@example.org", SEND_NOW), STORE_SEND_IN_PROGRESS);
	assert_int_equal(send_claim(f, f->alice, "m:a@example.org", SEND_NOW + SEND_STALE - 1),
			 STORE_SEND_IN_PROGRESS);
	assert_int_equal(send_claim(f, f->alice, "m:a@example.org", SEND_NOW + SEND_STALE), STORE_SEND_GO);
	/* The takeover is a claim of its own, in progress from its start. */
	assert_int_equal(send_claim(f, f->alice, "m:a@example.org", SEND_NOW + SEND_STALE + 1),
			 STORE_SEND_IN_PROGRESS);
}

/* A relay that refused the message leaves the key free for the device's retry. */
static void abandoned_claim_may_be_claimed_again(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(send_claim(f, f->alice, "c:DEV:7", SEND_NOW), STORE_SEND_GO);
	assert_int_equal(store_send_abandon(f->session, f->alice, "c:DEV:7"), STORE_OK);
	assert_int_equal(send_claim(f, f->alice, "c:DEV:7", SEND_NOW + 1), STORE_SEND_GO);
	assert_int_equal(send_claim(f, f->alice, "c:DEV:7", SEND_NOW + 2), STORE_SEND_IN_PROGRESS);
	/* Abandoning a key never claimed is harmless. */
	assert_int_equal(store_send_abandon(f->session, f->alice, "c:DEV:none"), STORE_OK);
}

/* The sending rate: attempts started since a time, sent or pending; an abandoned one is gone. */
static void send_count_counts_claims_since_a_time(void **state)
{
	struct fixture *f = *state;
	unsigned count = 99;
	assert_int_equal(store_send_count(f->session, f->alice, 0, &count), STORE_OK);
	assert_int_equal(count, 0);
	assert_int_equal(send_claim(f, f->alice, "k1", SEND_NOW), STORE_SEND_GO);
	assert_int_equal(send_claim(f, f->alice, "k2", SEND_NOW + 100), STORE_SEND_GO);
	assert_int_equal(send_claim(f, f->alice, "k3", SEND_NOW + 200), STORE_SEND_GO);
	assert_int_equal(store_send_done(f->session, f->alice, "k2"), STORE_OK);
	assert_int_equal(store_send_count(f->session, f->alice, SEND_NOW, &count), STORE_OK);
	assert_int_equal(count, 3);
	assert_int_equal(store_send_count(f->session, f->alice, SEND_NOW + 100, &count), STORE_OK);
	assert_int_equal(count, 2);
	assert_int_equal(store_send_count(f->session, f->alice, SEND_NOW + 201, &count), STORE_OK);
	assert_int_equal(count, 0);
	assert_int_equal(store_send_abandon(f->session, f->alice, "k3"), STORE_OK);
	assert_int_equal(store_send_count(f->session, f->alice, SEND_NOW, &count), STORE_OK);
	assert_int_equal(count, 2);
}

/* keep_seconds bounds the table: the next claim forgets older keys, exactly keep_seconds old is kept. */
static void keys_older_than_keep_seconds_are_forgotten(void **state)
{
	struct fixture *f = *state;
	unsigned count;
	assert_int_equal(send_claim(f, f->alice, "old", SEND_NOW), STORE_SEND_GO);
	assert_int_equal(store_send_done(f->session, f->alice, "old"), STORE_OK);
	assert_int_equal(send_claim(f, f->alice, "other", SEND_NOW + SEND_KEEP), STORE_SEND_GO);
	assert_int_equal(store_send_count(f->session, f->alice, 0, &count), STORE_OK);
	assert_int_equal(count, 2);
	assert_int_equal(send_claim(f, f->alice, "another", SEND_NOW + SEND_KEEP + 1), STORE_SEND_GO);
	assert_int_equal(store_send_count(f->session, f->alice, 0, &count), STORE_OK);
	assert_int_equal(count, 2);
	/* Forgotten, a sent key is sendable again. */
	assert_int_equal(send_claim(f, f->alice, "old", SEND_NOW + SEND_KEEP + 2), STORE_SEND_GO);
}

/* Two users' devices may choose the same ClientId: neither blocks, counts nor forgets the other's. */
static void send_keys_are_per_user(void **state)
{
	struct fixture *f = *state;
	int64_t bob;
	unsigned count;
	assert_int_equal(store_user_add(f->session, "bob", "$y$hash", &bob), STORE_OK);
	assert_int_equal(send_claim(f, f->alice, "c:DEV:1", SEND_NOW), STORE_SEND_GO);
	assert_int_equal(store_send_done(f->session, f->alice, "c:DEV:1"), STORE_OK);
	assert_int_equal(send_claim(f, bob, "c:DEV:1", SEND_NOW), STORE_SEND_GO);
	assert_int_equal(send_claim(f, bob, "c:DEV:2", SEND_NOW), STORE_SEND_GO);
	assert_int_equal(store_send_count(f->session, f->alice, 0, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(store_send_count(f->session, bob, 0, &count), STORE_OK);
	assert_int_equal(count, 2);
	/* Bob's claim long after forgets Bob's keys, not Alice's. */
	assert_int_equal(send_claim(f, bob, "c:DEV:3", SEND_NOW + SEND_KEEP + 1), STORE_SEND_GO);
	assert_int_equal(store_send_count(f->session, bob, 0, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(send_claim(f, f->alice, "c:DEV:1", SEND_NOW + 1), STORE_SEND_ALREADY_SENT);
	/* Bob's done and abandon touch Bob's row only. */
	assert_int_equal(store_send_abandon(f->session, bob, "c:DEV:1"), STORE_OK);
	assert_int_equal(send_claim(f, f->alice, "c:DEV:1", SEND_NOW + 2), STORE_SEND_ALREADY_SENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(schema_is_migrated_once, setup, teardown),
		cmocka_unit_test_setup_teardown(users_are_unique_and_passwords_bump_the_version, setup, teardown),
		cmocka_unit_test_setup_teardown(new_user_has_the_default_folders, setup, teardown),
		cmocka_unit_test_setup_teardown(hierarchy_changes_by_modseq, setup, teardown),
		cmocka_unit_test_setup_teardown(folder_tree_updates_and_recursive_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(device_policy_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(sync_state_keeps_the_previous_one, setup, teardown),
		cmocka_unit_test_setup_teardown(a_filter_window_moves_item_by_item, setup, teardown),
		cmocka_unit_test_setup_teardown(mail_is_published_at_commit_not_before, setup, teardown),
		cmocka_unit_test_setup_teardown(item_changes_are_a_resumable_cursor, setup, teardown),
		cmocka_unit_test_setup_teardown(item_content_reads_by_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(sessions_are_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(device_lock_serialises_one_device_only, setup, teardown),
		cmocka_unit_test_setup_teardown(device_lock_waits_at_most_the_busy_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(write_lock_waits_are_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(invitations_follow_the_meeting, setup, teardown),
		cmocka_unit_test_setup_teardown(sent_message_is_not_claimed_again, setup, teardown),
		cmocka_unit_test_setup_teardown(claim_in_progress_until_it_is_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(abandoned_claim_may_be_claimed_again, setup, teardown),
		cmocka_unit_test_setup_teardown(send_count_counts_claims_since_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(keys_older_than_keep_seconds_are_forgotten, setup, teardown),
		cmocka_unit_test_setup_teardown(send_keys_are_per_user, setup, teardown),
		cmocka_unit_test_setup_teardown(device_decisions_are_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(devices_are_counted_listed_and_forgotten, setup, teardown),
		cmocka_unit_test_setup_teardown(user_sync_can_be_switched_off, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
