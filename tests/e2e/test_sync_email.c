/*
 * test_sync_email.c: the Sync engine on mail folders against a real easd:
 * initial sync in windows, paging while mail keeps arriving (no message
 * skipped or repeated, by Message-ID), a repeated SyncKey, two devices of
 * one user, client changes and deletes, GetItemEstimate, MoveItems, and
 * malformed requests getting per-collection or per-item statuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "e2e.h"
#include "store/store.h"

static const char *const users[] = { "alice:correct horse", NULL };

struct fixture {
	struct e2e_server server;
	struct easclient *phone;
	struct easclient *tablet;
	struct easclient_response response;
	struct arena *arena;
	char inbox[24];
	char trash[24];
	unsigned empty_responses;
};

/* Puts count messages into alice's Inbox the way LMTP does, numbered from first. */
static void deliver(struct fixture *f, unsigned first, unsigned count)
{
	char path[300], error[256], message[512], message_id[64];
	struct store *store;
	struct store_user user;
	int64_t inbox;
	snprintf(path, sizeof(path), "%s/data", f->server.dir);
	assert_int_equal(store_open(path, 1, &store, error, sizeof(error)), 0);
	struct store_session *session = store_session_acquire(store);
	assert_int_equal(store_user_find(session, f->arena, "alice", &user), STORE_OK);
	assert_int_equal(store_folder_find_type(session, user.id, STORE_FOLDER_INBOX, &inbox), STORE_OK);
	assert_int_equal(store_begin(session), STORE_OK);
	for (unsigned i = first; i < first + count; i++) {
		snprintf(message_id, sizeof(message_id), "m%u@example.org", i);
		int n = snprintf(message, sizeof(message),
				 "From: Bob <bob@example.org>\r\nTo: alice@localhost\r\nSubject: Message %u\r\n"
				 "Message-ID: <%s>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nBody of %u.\r\n",
				 i, message_id, i);
		struct store_mail_meta meta = { .received = time(NULL), .message_id = message_id };
		assert_int_equal(store_mail_add(session, user.id, inbox, (const uint8_t *)message, (size_t)n, &meta, NULL), STORE_OK);
	}
	assert_int_equal(store_commit(session), STORE_OK);
	store_session_release(&session);
	store_close(&store);
}

static const char *folder_of_type(struct fixture *f, const char *type)
{
	static const char xml[] = "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>";
	assert_int_equal(easclient_post_xml(f->phone, "FolderSync", xml, &f->response), 0);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	for (const struct wbxml_node *add = easclient_find(root, WBXML_FOLDERHIERARCHY_ADD); add != NULL; add = add->next)
		if (strcmp(easclient_find_text(add, WBXML_FOLDERHIERARCHY_TYPE, f->arena), type) == 0)
			return easclient_find_text(add, WBXML_FOLDERHIERARCHY_SERVER_ID, f->arena);
	fail_msg("no folder of type %s", type);
	return NULL;
}

static struct easclient *device(struct fixture *f, const char *id)
{
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", id);
	struct easclient *client = easclient_new(&options);
	assert_int_equal(easclient_provision(client, NULL), 0);
	return client;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (e2e_start(&f->server, NULL, users) < 0)
		return -1;
	f->arena = arena_new(0);
	easclient_response_init(&f->response);
	f->phone = device(f, "PHONE1");
	f->tablet = device(f, "TABLET1");
	snprintf(f->inbox, sizeof(f->inbox), "%s", folder_of_type(f, "2"));
	snprintf(f->trash, sizeof(f->trash), "%s", folder_of_type(f, "4"));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	easclient_free(&f->phone);
	easclient_free(&f->tablet);
	easclient_response_cleanup(&f->response);
	arena_free(&f->arena);
	int stopped = e2e_stop(&f->server);
	e2e_cleanup(&f->server);
	free(f);
	return stopped == 0 ? 0 : -1;
}

/*
 * An empty response (MS-ASCMD 2.2.1.21.2): nothing changed and the device
 * keeps its key. Returned as the answer it stands for, and counted.
 */
static struct wbxml_node *nothing_to_say(struct fixture *f, const char *key, const char *folder)
{
	char xml[512];
	struct buf wbxml;
	struct wbxml_node *root = NULL;
	f->empty_responses++;
	snprintf(xml, sizeof(xml),
		 "<Sync xmlns=\"AirSync\"><Collections><Collection><SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>"
		 "<Status>1</Status></Collection></Collections></Sync>", key, folder);
	buf_init(&wbxml, 0);
	assert_int_equal(wbxml_from_xml(xml, strlen(xml), false, &wbxml, NULL), 0);
	/* The tree may point into its input: the bytes live in the arena. */
	uint8_t *bytes = arena_alloc(f->arena, wbxml.len);
	memcpy(bytes, wbxml.data, wbxml.len);
	assert_int_equal(wbxml_tree_parse(f->arena, bytes, wbxml.len, NULL, &root, NULL), 0);
	buf_cleanup(&wbxml);
	return root;
}

/* One collection's Sync; commands is inner XML of <Commands> or NULL. */
static struct wbxml_node *sync(struct fixture *f, struct easclient *client, const char *folder, const char *key,
			       unsigned window, const char *commands)
{
	char xml[8192];
	snprintf(xml, sizeof(xml),
		 "<Sync xmlns=\"AirSync\" xmlns:airsyncbase=\"AirSyncBase\"><Collections><Collection>"
		 "<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>%s<WindowSize>%u</WindowSize>"
		 "<Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"
		 "<airsyncbase:TruncationSize>200</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options>"
		 "%s%s%s</Collection></Collections></Sync>",
		 key, folder, strcmp(key, "0") != 0 ? "<GetChanges/>" : "", window,
		 commands != NULL ? "<Commands>" : "", commands != NULL ? commands : "", commands != NULL ? "</Commands>" : "");
	assert_int_equal(easclient_post_xml(client, "Sync", xml, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	if (f->response.body.len == 0)
		return nothing_to_say(f, key, folder);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	return root;
}

static const char *text(struct fixture *f, const struct wbxml_node *root, enum wbxml_tag tag)
{
	return easclient_find_text(root, tag, f->arena);
}

/* The item's Message-ID, looked up in the store by ServerId "folder:item". */
static const char *message_id_of(struct fixture *f, const char *server_id)
{
	char path[300], error[256];
	struct store *store;
	struct store_item item;
	long long folder, id;
	assert_int_equal(sscanf(server_id, "%lld:%lld", &folder, &id), 2);
	snprintf(path, sizeof(path), "%s/data", f->server.dir);
	assert_int_equal(store_open(path, 1, &store, error, sizeof(error)), 0);
	struct store_session *session = store_session_acquire(store);
	assert_int_equal(store_item_get(session, f->arena, folder, id, &item), STORE_OK);
	store_session_release(&session);
	store_close(&store);
	return item.message_id;
}

/* Syncs until no MoreAvailable, recording every Added Message-ID; returns the last key. */
static char *sync_all(struct fixture *f, const char *key, unsigned window, char **seen, unsigned *count,
		      unsigned deliver_between)
{
	char *current = strdup(key);
	unsigned next_message = 100000;
	for (unsigned round = 0; round < 1000; round++) {
		struct wbxml_node *root = sync(f, f->phone, f->inbox, current, window, NULL);
		assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
		unsigned adds = 0;
		for (const struct wbxml_node *commands = easclient_find(root, WBXML_AIRSYNC_COMMANDS);
		     commands != NULL && adds == 0; commands = NULL)
			for (const struct wbxml_node *add = commands->first_child; add != NULL; add = add->next) {
				assert_int_equal(add->tag, WBXML_AIRSYNC_ADD);
				seen[(*count)++] = strdup(message_id_of(f, text(f, add, WBXML_AIRSYNC_SERVER_ID)));
				adds++;
			}
		assert_true(adds <= window);
		free(current);
		current = strdup(text(f, root, WBXML_AIRSYNC_SYNC_KEY));
		bool more = easclient_find(root, WBXML_AIRSYNC_MORE_AVAILABLE) != NULL;
		if (deliver_between > 0) {
			deliver(f, next_message, deliver_between);
			next_message += deliver_between;
			if (round == 5)
				deliver_between = 0; /* then let it drain */
		} else if (!more) {
			return current;
		}
	}
	fail_msg("sync never finished");
	return NULL;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void assert_unique(char **seen, unsigned count)
{
	qsort(seen, count, sizeof(*seen), compare_strings);
	for (unsigned i = 1; i < count; i++)
		if (strcmp(seen[i - 1], seen[i]) == 0)
			fail_msg("message %s sent twice", seen[i]);
}

static void initial_sync_of_1000_messages_in_windows(void **state)
{
	struct fixture *f = *state;
	deliver(f, 0, 1000);
	struct wbxml_node *root = sync(f, f->phone, f->inbox, "0", 100, NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_null(easclient_find(root, WBXML_AIRSYNC_COMMANDS));
	char **seen = calloc(2000, sizeof(char *));
	unsigned count = 0;
	char *key = sync_all(f, text(f, root, WBXML_AIRSYNC_SYNC_KEY), 100, seen, &count, 0);
	assert_int_equal(count, 1000);
	assert_unique(seen, count);
	/* Nothing left: the next Sync keeps the key and sends nothing. */
	root = sync(f, f->phone, f->inbox, key, 100, NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_SYNC_KEY), key);
	assert_null(easclient_find(root, WBXML_AIRSYNC_COMMANDS));
	for (unsigned i = 0; i < count; i++)
		free(seen[i]);
	free(seen);
	free(key);
}

static void paging_while_mail_arrives_skips_and_repeats_nothing(void **state)
{
	struct fixture *f = *state;
	deliver(f, 0, 300);
	struct wbxml_node *root = sync(f, f->phone, f->inbox, "0", 50, NULL);
	char **seen = calloc(1000, sizeof(char *));
	unsigned count = 0;
	/* 7 deliveries of 10 between pages of 50. */
	char *key = sync_all(f, text(f, root, WBXML_AIRSYNC_SYNC_KEY), 50, seen, &count, 10);
	assert_int_equal(count, 300 + 60);
	assert_unique(seen, count);
	for (unsigned i = 0; i < count; i++)
		free(seen[i]);
	free(seen);
	free(key);
}

static const char *first_server_id(struct fixture *f, const struct wbxml_node *root)
{
	const struct wbxml_node *add = easclient_find(root, WBXML_AIRSYNC_ADD);
	assert_non_null(add);
	return text(f, add, WBXML_AIRSYNC_SERVER_ID);
}

static void repeated_sync_key_gives_the_same_items_again(void **state)
{
	struct fixture *f = *state;
	deliver(f, 0, 5);
	const char *zero = text(f, sync(f, f->phone, f->inbox, "0", 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	struct wbxml_node *first = sync(f, f->phone, f->inbox, zero, 100, NULL);
	assert_int_equal(easclient_count(first, WBXML_AIRSYNC_ADD), 5);
	const char *id = first_server_id(f, first);
	/* The answer was lost: the same key again gives the same items, same ServerIds. */
	struct wbxml_node *again = sync(f, f->phone, f->inbox, zero, 100, NULL);
	assert_int_equal(easclient_count(again, WBXML_AIRSYNC_ADD), 5);
	assert_string_equal(first_server_id(f, again), id);
	const char *key = text(f, again, WBXML_AIRSYNC_SYNC_KEY);
	/* And the new key works on. */
	struct wbxml_node *next = sync(f, f->phone, f->inbox, key, 100, NULL);
	assert_string_equal(text(f, next, WBXML_AIRSYNC_STATUS), "1");
	assert_null(easclient_find(next, WBXML_AIRSYNC_COMMANDS));
}

/* Both devices synced to the end; returns their keys. */
static void both_synced(struct fixture *f, const char **phone_key, const char **tablet_key)
{
	const char *p = text(f, sync(f, f->phone, f->inbox, "0", 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	const char *t = text(f, sync(f, f->tablet, f->inbox, "0", 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	*phone_key = text(f, sync(f, f->phone, f->inbox, p, 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	*tablet_key = text(f, sync(f, f->tablet, f->inbox, t, 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
}

static void flag_on_one_device_appears_on_the_other(void **state)
{
	struct fixture *f = *state;
	const char *phone_key, *tablet_key;
	deliver(f, 0, 3);
	both_synced(f, &phone_key, &tablet_key);
	char id[64], change[512];
	snprintf(id, sizeof(id), "%s:%s", f->inbox, "1");
	snprintf(change, sizeof(change),
		 "<Change><ServerId>%s</ServerId><ApplicationData xmlns:email=\"Email\"><email:Read>1</email:Read>"
		 "<email:Flag><email:Status>2</email:Status></email:Flag></ApplicationData></Change>", id);
	struct wbxml_node *root = sync(f, f->phone, f->inbox, phone_key, 100, change);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	/* Not echoed back to the phone that made it. */
	assert_null(easclient_find(root, WBXML_AIRSYNC_COMMANDS));
	assert_null(easclient_find(root, WBXML_AIRSYNC_RESPONSES));
	root = sync(f, f->tablet, f->inbox, tablet_key, 100, NULL);
	const struct wbxml_node *changed = easclient_find(root, WBXML_AIRSYNC_CHANGE);
	assert_non_null(changed);
	assert_string_equal(text(f, changed, WBXML_AIRSYNC_SERVER_ID), id);
	assert_string_equal(text(f, changed, WBXML_EMAIL_READ), "1");
	assert_string_equal(text(f, changed, WBXML_EMAIL_STATUS), "2");
}

/* GetChanges 0: the change is applied now, and still not sent back later. */
static void own_change_without_getchanges_is_not_echoed_later(void **state)
{
	struct fixture *f = *state;
	const char *phone_key, *tablet_key;
	deliver(f, 0, 3);
	both_synced(f, &phone_key, &tablet_key);
	char xml[1024];
	snprintf(xml, sizeof(xml),
		 "<Sync xmlns=\"AirSync\" xmlns:email=\"Email\"><Collections><Collection><SyncKey>%s</SyncKey>"
		 "<CollectionId>%s</CollectionId><GetChanges>0</GetChanges><Commands><Change><ServerId>%s:1</ServerId>"
		 "<ApplicationData><email:Read>1</email:Read></ApplicationData></Change></Commands>"
		 "</Collection></Collections></Sync>", phone_key, f->inbox, f->inbox);
	assert_int_equal(easclient_post_xml(f->phone, "Sync", xml, &f->response), 0);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	const char *key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	root = sync(f, f->phone, f->inbox, key, 100, NULL);
	assert_null(easclient_find(root, WBXML_AIRSYNC_COMMANDS));
	/* The other device does get it. */
	root = sync(f, f->tablet, f->inbox, tablet_key, 100, NULL);
	assert_non_null(easclient_find(root, WBXML_AIRSYNC_CHANGE));
}

static void delete_on_one_device_removes_it_from_the_other(void **state)
{
	struct fixture *f = *state;
	const char *phone_key, *tablet_key;
	deliver(f, 0, 3);
	both_synced(f, &phone_key, &tablet_key);
	char id[64], command[256];
	snprintf(id, sizeof(id), "%s:%s", f->inbox, "2");
	snprintf(command, sizeof(command), "<Delete><ServerId>%s</ServerId></Delete>", id);
	struct wbxml_node *root = sync(f, f->phone, f->inbox, phone_key, 100, command);
	assert_null(easclient_find(root, WBXML_AIRSYNC_RESPONSES));
	root = sync(f, f->tablet, f->inbox, tablet_key, 100, NULL);
	const struct wbxml_node *deleted = easclient_find(root, WBXML_AIRSYNC_DELETE);
	assert_non_null(deleted);
	assert_string_equal(text(f, deleted, WBXML_AIRSYNC_SERVER_ID), id);
	/* DeletesAsMoves: it is now in Deleted Items. */
	root = sync(f, f->tablet, f->trash, "0", 100, NULL);
	root = sync(f, f->tablet, f->trash, text(f, root, WBXML_AIRSYNC_SYNC_KEY), 100, NULL);
	assert_int_equal(easclient_count(root, WBXML_AIRSYNC_ADD), 1);
}

static void unknown_key_collection_and_item_get_their_status(void **state)
{
	struct fixture *f = *state;
	deliver(f, 0, 1);
	struct wbxml_node *root = sync(f, f->phone, f->inbox, "424242", 100, NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "3");
	root = sync(f, f->phone, "999999", "0", 100, NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "12");
	const char *key = text(f, sync(f, f->phone, f->inbox, "0", 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	root = sync(f, f->phone, f->inbox, key, 100,
		    "<Change><ServerId>nonsense</ServerId><ApplicationData/></Change>"
		    "<Delete><ServerId>1:999999</ServerId></Delete>");
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	const struct wbxml_node *responses = easclient_find(root, WBXML_AIRSYNC_RESPONSES);
	assert_non_null(responses);
	assert_int_equal(easclient_count(responses, WBXML_AIRSYNC_STATUS), 2);
	for (const struct wbxml_node *r = responses->first_child; r != NULL; r = r->next)
		assert_string_equal(text(f, r, WBXML_AIRSYNC_STATUS), "8");
	/* The one good item still came. */
	assert_int_equal(easclient_count(root, WBXML_AIRSYNC_ADD), 1);
}

static void empty_sync_without_cache_gets_13(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_post(f->phone, "Sync", NULL, 0, NULL, &f->response), 0);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "13");
}

static void getitemestimate_counts_what_sync_would_send(void **state)
{
	struct fixture *f = *state;
	deliver(f, 0, 7);
	const char *key = text(f, sync(f, f->phone, f->inbox, "0", 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	char xml[512];
	snprintf(xml, sizeof(xml), "<GetItemEstimate xmlns=\"GetItemEstimate\" xmlns:airsync=\"AirSync\"><Collections>"
		 "<Collection><airsync:SyncKey>%s</airsync:SyncKey><CollectionId>%s</CollectionId></Collection>"
		 "<Collection><airsync:SyncKey>1</airsync:SyncKey><CollectionId>999999</CollectionId></Collection>"
		 "</Collections></GetItemEstimate>", key, f->inbox);
	assert_int_equal(easclient_post_xml(f->phone, "GetItemEstimate", xml, &f->response), 0);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	const struct wbxml_node *response = easclient_find(root, WBXML_GETITEMESTIMATE_RESPONSE);
	assert_string_equal(text(f, response, WBXML_GETITEMESTIMATE_STATUS), "1");
	assert_string_equal(text(f, response, WBXML_GETITEMESTIMATE_ESTIMATE), "7");
	assert_string_equal(text(f, response->next, WBXML_GETITEMESTIMATE_STATUS), "2");
}

static void moveitems_statuses_and_no_echo(void **state)
{
	struct fixture *f = *state;
	deliver(f, 0, 2);
	const char *key = text(f, sync(f, f->phone, f->inbox, "0", 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	struct wbxml_node *root = sync(f, f->phone, f->inbox, key, 100, NULL);
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	const char *id = first_server_id(f, root);
	const char *trash_key = text(f, sync(f, f->phone, f->trash, "0", 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	trash_key = text(f, sync(f, f->phone, f->trash, trash_key, 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	char xml[1024];
	snprintf(xml, sizeof(xml), "<MoveItems xmlns=\"Move\">"
		 "<Move><SrcMsgId>%s</SrcMsgId><SrcFldId>%s</SrcFldId><DstFldId>%s</DstFldId></Move>"
		 "<Move><SrcMsgId>%s</SrcMsgId><SrcFldId>%s</SrcFldId><DstFldId>999999</DstFldId></Move>"
		 "<Move><SrcMsgId>%s</SrcMsgId><SrcFldId>%s</SrcFldId><DstFldId>%s</DstFldId></Move>"
		 "<Move><SrcMsgId>%s:424242</SrcMsgId><SrcFldId>%s</SrcFldId><DstFldId>%s</DstFldId></Move>"
		 "<Move><SrcMsgId>%s</SrcMsgId><SrcFldId>%s</SrcFldId><DstFldId>%s</DstFldId></Move>"
		 "</MoveItems>", id, f->inbox, f->inbox, id, f->inbox, id, f->inbox, f->trash,
		 f->inbox, f->inbox, f->trash, id, f->inbox, f->trash);
	assert_int_equal(easclient_post_xml(f->phone, "MoveItems", xml, &f->response), 0);
	root = easclient_parse(&f->response, f->arena);
	static const char *const statuses[] = { "4", "2", "3", "1", "1" };
	const struct wbxml_node *response = easclient_find(root, WBXML_MOVE_RESPONSE);
	for (unsigned i = 0; i < 5; i++, response = response->next) {
		assert_non_null(response);
		assert_string_equal(text(f, response, WBXML_MOVE_STATUS), statuses[i]);
		/* Only the successful move has a new ServerId; the last finds the item gone. */
		assert_int_equal(easclient_find(response, WBXML_MOVE_DST_MSG_ID) != NULL, i == 2);
	}
	/* The phone made the move: neither folder sends it back. */
	root = sync(f, f->phone, f->inbox, key, 100, NULL);
	assert_null(easclient_find(root, WBXML_AIRSYNC_COMMANDS));
	root = sync(f, f->phone, f->trash, trash_key, 100, NULL);
	assert_null(easclient_find(root, WBXML_AIRSYNC_COMMANDS));
	/* The tablet, which syncs Deleted Items for the first time, gets it. */
	root = sync(f, f->tablet, f->trash, "0", 100, NULL);
	root = sync(f, f->tablet, f->trash, text(f, root, WBXML_AIRSYNC_SYNC_KEY), 100, NULL);
	assert_int_equal(easclient_count(root, WBXML_AIRSYNC_ADD), 1);
}

/* Twenty messages of 1 MB into the Inbox. */
static void deliver_large(struct fixture *f)
{
	char path[300], error[256], message_id[64];
	struct store *store;
	struct store_user user;
	int64_t inbox;
	size_t size = 1024 * 1024;
	char *message = malloc(size);
	snprintf(path, sizeof(path), "%s/data", f->server.dir);
	assert_int_equal(store_open(path, 1, &store, error, sizeof(error)), 0);
	struct store_session *session = store_session_acquire(store);
	assert_int_equal(store_user_find(session, f->arena, "alice", &user), STORE_OK);
	assert_int_equal(store_folder_find_type(session, user.id, STORE_FOLDER_INBOX, &inbox), STORE_OK);
	for (unsigned i = 0; i < 20; i++) {
		int n = snprintf(message, size, "Subject: Large %u\r\n\r\n", i);
		memset(message + n, 'a' + (char)(i % 26), size - (size_t)n);
		for (size_t at = (size_t)n + 76; at < size; at += 78) {
			message[at] = '\r';
			message[at + 1] = '\n';
		}
		snprintf(message_id, sizeof(message_id), "large%u@example.org", i);
		struct store_mail_meta meta = { .received = time(NULL), .message_id = message_id };
		assert_int_equal(store_mail_add(session, user.id, inbox, (const uint8_t *)message, size, &meta, NULL), STORE_OK);
	}
	store_session_release(&session);
	store_close(&store);
	free(message);
}

/* A window of large untruncated messages stops near LIMIT_SYNC_RESPONSE_BYTES (16 MB). */
static void large_messages_are_paged_by_size(void **state)
{
	struct fixture *f = *state;
	deliver_large(f);
	const char *key = text(f, sync(f, f->phone, f->inbox, "0", 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	unsigned total = 0, rounds = 0;
	for (bool more = true; more; rounds++) {
		char xml[1024];
		snprintf(xml, sizeof(xml),
			 "<Sync xmlns=\"AirSync\" xmlns:airsyncbase=\"AirSyncBase\"><Collections><Collection>"
			 "<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId><GetChanges/><WindowSize>100</WindowSize>"
			 "<Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"
			 "</airsyncbase:BodyPreference></Options></Collection></Collections></Sync>", key, f->inbox);
		assert_int_equal(easclient_post_xml(f->phone, "Sync", xml, &f->response), 0);
		assert_int_equal(f->response.http_status, 200);
		assert_true(f->response.body.len < 20u * 1024 * 1024);
		struct wbxml_node *root = easclient_parse(&f->response, f->arena);
		unsigned adds = easclient_count(root, WBXML_AIRSYNC_ADD);
		assert_true(adds >= 1 && adds <= 16);
		total += adds;
		key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
		more = easclient_find(root, WBXML_AIRSYNC_MORE_AVAILABLE) != NULL;
	}
	assert_int_equal(total, 20);
	assert_true(rounds >= 2);
}

/* A device of 16.1, which may create drafts (MS-ASCMD 2.2.3.7.2). */
static struct easclient *device_161(struct fixture *f, const char *id)
{
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", id);
	options.protocol_version = 161;
	struct easclient *client = easclient_new(&options);
	assert_int_equal(easclient_provision(client, NULL), 0);
	return client;
}

/* The draft Add of drafts_are_added_once, as inner XML of <Commands>. */
static void draft_add(char *out, size_t size, const char *client_id, const char *subject)
{
	snprintf(out, size,
		 "<Add><ClientId>%s</ClientId><ApplicationData xmlns:email=\"Email\" xmlns:email2=\"Email2\" "
		 "xmlns:airsyncbase=\"AirSyncBase\"><email:To>bob@example.org</email:To>"
		 "<email2:Bcc>carol@example.org</email2:Bcc><email:Subject>%s</email:Subject>"
		 "<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type><airsyncbase:Data>Draft body.</airsyncbase:Data>"
		 "</airsyncbase:Body><email:Flag><email:Status>2</email:Status></email:Flag></ApplicationData></Add>",
		 client_id, subject);
}

/*
 * 16.1 drafts: the Add answers the new ServerId; the same Add repeated with
 * the previous key (its answer lost) answers the same ServerId and stores
 * nothing twice; another device gets the draft; Adds outside Drafts or
 * from 14.1 get Status 6.
 */
static void drafts_are_added_once(void **state)
{
	struct fixture *f = *state;
	char drafts[24], add[1024];
	struct easclient *laptop = device_161(f, "LAPTOP161");
	snprintf(drafts, sizeof(drafts), "%s", folder_of_type(f, "3"));
	const char *zero = text(f, sync(f, laptop, drafts, "0", 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	draft_add(add, sizeof(add), "c1", "Plans for Friday");
	struct wbxml_node *root = sync(f, laptop, drafts, zero, 100, add);
	const struct wbxml_node *answer = easclient_find(easclient_find(root, WBXML_AIRSYNC_RESPONSES), WBXML_AIRSYNC_ADD);
	assert_non_null(answer);
	assert_string_equal(text(f, answer, WBXML_AIRSYNC_CLIENT_ID), "c1");
	assert_string_equal(text(f, answer, WBXML_AIRSYNC_STATUS), "1");
	const char *server_id = text(f, answer, WBXML_AIRSYNC_SERVER_ID);
	assert_non_null(server_id);
	assert_null(easclient_find(root, WBXML_AIRSYNC_COMMANDS)); /* not echoed */
	/* The answer was lost: the same request again. */
	root = sync(f, laptop, drafts, zero, 100, add);
	answer = easclient_find(easclient_find(root, WBXML_AIRSYNC_RESPONSES), WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, answer, WBXML_AIRSYNC_SERVER_ID), server_id);
	assert_null(easclient_find(root, WBXML_AIRSYNC_COMMANDS));
	const char *key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	/* One draft, with its fields, on another device. */
	const char *phone_zero = text(f, sync(f, f->phone, drafts, "0", 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	root = sync(f, f->phone, drafts, phone_zero, 100, NULL);
	const char *phone_key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	assert_int_equal(easclient_count(easclient_find(root, WBXML_AIRSYNC_COMMANDS), WBXML_AIRSYNC_ADD), 1);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_SERVER_ID), server_id);
	assert_string_equal(text(f, root, WBXML_EMAIL_SUBJECT), "Plans for Friday");
	assert_non_null(strstr(text(f, root, WBXML_EMAIL_TO), "bob@example.org"));
	assert_string_equal(text(f, root, WBXML_EMAIL_STATUS), "2");
	assert_non_null(strstr(text(f, root, WBXML_AIRSYNCBASE_DATA), "Draft body."));
	/* A new ClientId is a new draft; the laptop's next request goes on from its key. */
	draft_add(add, sizeof(add), "c2", "Second");
	root = sync(f, laptop, drafts, key, 100, add);
	answer = easclient_find(easclient_find(root, WBXML_AIRSYNC_RESPONSES), WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, answer, WBXML_AIRSYNC_STATUS), "1");
	assert_string_not_equal(text(f, answer, WBXML_AIRSYNC_SERVER_ID), server_id);
	/* Mail cannot be added to the Inbox, nor by a 14.1 device. */
	const char *inbox_zero = text(f, sync(f, laptop, f->inbox, "0", 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	draft_add(add, sizeof(add), "c3", "Not here");
	root = sync(f, laptop, f->inbox, inbox_zero, 100, add);
	answer = easclient_find(easclient_find(root, WBXML_AIRSYNC_RESPONSES), WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, answer, WBXML_AIRSYNC_STATUS), "6");
	assert_null(easclient_find(answer, WBXML_AIRSYNC_SERVER_ID));
	draft_add(add, sizeof(add), "c4", "From 14.1");
	root = sync(f, f->phone, drafts, phone_key, 100, add);
	answer = easclient_find(easclient_find(root, WBXML_AIRSYNC_RESPONSES), WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, answer, WBXML_AIRSYNC_STATUS), "6");
	easclient_free(&laptop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(initial_sync_of_1000_messages_in_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(paging_while_mail_arrives_skips_and_repeats_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(repeated_sync_key_gives_the_same_items_again, setup, teardown),
		cmocka_unit_test_setup_teardown(flag_on_one_device_appears_on_the_other, setup, teardown),
		cmocka_unit_test_setup_teardown(own_change_without_getchanges_is_not_echoed_later, setup, teardown),
		cmocka_unit_test_setup_teardown(delete_on_one_device_removes_it_from_the_other, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_key_collection_and_item_get_their_status, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_sync_without_cache_gets_13, setup, teardown),
		cmocka_unit_test_setup_teardown(getitemestimate_counts_what_sync_would_send, setup, teardown),
		cmocka_unit_test_setup_teardown(moveitems_statuses_and_no_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(large_messages_are_paged_by_size, setup, teardown),
		cmocka_unit_test_setup_teardown(drafts_are_added_once, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
