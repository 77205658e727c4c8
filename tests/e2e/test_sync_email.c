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

#include "e2e_mail.h"

/* One Sync with small plain-text bodies; commands is inner XML of <Commands> or NULL. */
static struct wbxml_node *sync(struct e2e_mail *f, struct easclient *client, const char *folder, const char *key,
			       unsigned window, const char *commands)
{
	return e2e_mail_sync(f, client, folder, key, window, E2E_MAIL_BODY_PREFERENCE, commands);
}

/* Puts count messages into alice's Inbox the way LMTP does, numbered from first. */
static void deliver(struct e2e_mail *f, unsigned first, unsigned count)
{
	e2e_mail_deliver(f, STORE_FOLDER_INBOX, "m", first, count);
}

static const char *text(struct e2e_mail *f, const struct wbxml_node *root, enum wbxml_tag tag)
{
	return easclient_find_text(root, tag, f->arena);
}

/* Syncs until no MoreAvailable, recording every Added Message-ID; returns the last key. */
static char *sync_all(struct e2e_mail *f, const char *key, unsigned window, char **seen, unsigned *count,
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
				struct store_item item = e2e_mail_item(f, text(f, add, WBXML_AIRSYNC_SERVER_ID));
				seen[(*count)++] = strdup(item.message_id);
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
	struct e2e_mail *f = *state;
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
	struct e2e_mail *f = *state;
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

static const char *first_server_id(struct e2e_mail *f, const struct wbxml_node *root)
{
	const struct wbxml_node *add = easclient_find(root, WBXML_AIRSYNC_ADD);
	assert_non_null(add);
	return text(f, add, WBXML_AIRSYNC_SERVER_ID);
}

static void repeated_sync_key_gives_the_same_items_again(void **state)
{
	struct e2e_mail *f = *state;
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
static void both_synced(struct e2e_mail *f, const char **phone_key, const char **tablet_key)
{
	const char *p = text(f, sync(f, f->phone, f->inbox, "0", 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	const char *t = text(f, sync(f, f->tablet, f->inbox, "0", 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	*phone_key = text(f, sync(f, f->phone, f->inbox, p, 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	*tablet_key = text(f, sync(f, f->tablet, f->inbox, t, 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
}

static void flag_on_one_device_appears_on_the_other(void **state)
{
	struct e2e_mail *f = *state;
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
	struct e2e_mail *f = *state;
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
	struct e2e_mail *f = *state;
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
	struct e2e_mail *f = *state;
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

static void getitemestimate_counts_what_sync_would_send(void **state)
{
	struct e2e_mail *f = *state;
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
	struct e2e_mail *f = *state;
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
static void deliver_large(struct e2e_mail *f)
{
	char message_id[64];
	size_t size = 1024 * 1024;
	char *message = malloc(size);
	for (unsigned i = 0; i < 20; i++) {
		int n = snprintf(message, size, "Subject: Large %u\r\n\r\n", i);
		memset(message + n, 'a' + (char)(i % 26), size - (size_t)n);
		for (size_t at = (size_t)n + 76; at < size; at += 78) {
			message[at] = '\r';
			message[at + 1] = '\n';
		}
		snprintf(message_id, sizeof(message_id), "large%u@example.org", i);
		e2e_mail_add(f, STORE_FOLDER_INBOX, message, size, message_id, time(NULL));
	}
	free(message);
}

/* A window of large untruncated messages stops near LIMIT_SYNC_RESPONSE_BYTES (16 MB). */
static void large_messages_are_paged_by_size(void **state)
{
	struct e2e_mail *f = *state;
	deliver_large(f);
	const char *key = text(f, sync(f, f->phone, f->inbox, "0", 100, NULL), WBXML_AIRSYNC_SYNC_KEY);
	static const char untruncated[] =
		"<airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type></airsyncbase:BodyPreference>";
	unsigned total = 0, rounds = 0;
	for (bool more = true; more; rounds++) {
		struct wbxml_node *root = e2e_mail_sync(f, f->phone, f->inbox, key, 100, untruncated, NULL);
		assert_true(f->response.body.len < 20u * 1024 * 1024);
		unsigned adds = easclient_count(root, WBXML_AIRSYNC_ADD);
		assert_true(adds >= 1 && adds <= 16);
		total += adds;
		key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
		more = easclient_find(root, WBXML_AIRSYNC_MORE_AVAILABLE) != NULL;
	}
	assert_int_equal(total, 20);
	assert_true(rounds >= 2);
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
	struct e2e_mail *f = *state;
	char drafts[24], add[1024];
	/* 16.1 may create drafts (MS-ASCMD 2.2.3.7.2). */
	struct easclient *laptop = e2e_mail_device(f, "LAPTOP161", 161);
	snprintf(drafts, sizeof(drafts), "%s", e2e_mail_folder_of_type(f, "3"));
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
	/* A ClientId is unique only within a request: the next request's "c1" is a new draft. */
	draft_add(add, sizeof(add), "c1", "Second");
	root = sync(f, laptop, drafts, key, 100, add);
	answer = easclient_find(easclient_find(root, WBXML_AIRSYNC_RESPONSES), WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, answer, WBXML_AIRSYNC_STATUS), "1");
	const char *second_id = text(f, answer, WBXML_AIRSYNC_SERVER_ID);
	assert_string_not_equal(second_id, server_id);
	/* And that answer lost: its own Add is found again, not the first draft. */
	root = sync(f, laptop, drafts, key, 100, add);
	answer = easclient_find(easclient_find(root, WBXML_AIRSYNC_RESPONSES), WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, answer, WBXML_AIRSYNC_SERVER_ID), second_id);
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
		E2E_MAIL_CASE(initial_sync_of_1000_messages_in_windows),
		E2E_MAIL_CASE(paging_while_mail_arrives_skips_and_repeats_nothing),
		E2E_MAIL_CASE(repeated_sync_key_gives_the_same_items_again),
		E2E_MAIL_CASE(flag_on_one_device_appears_on_the_other),
		E2E_MAIL_CASE(own_change_without_getchanges_is_not_echoed_later),
		E2E_MAIL_CASE(delete_on_one_device_removes_it_from_the_other),
		E2E_MAIL_CASE(unknown_key_collection_and_item_get_their_status),
		E2E_MAIL_CASE(getitemestimate_counts_what_sync_would_send),
		E2E_MAIL_CASE(moveitems_statuses_and_no_echo),
		E2E_MAIL_CASE(large_messages_are_paged_by_size),
		E2E_MAIL_CASE(drafts_are_added_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
