/*
 * test_sync_options.c: what a Sync collection's Options and the request's
 * shape do, against a real easd: the FilterType window (items leaving as
 * SoftDelete, coming back as Add, paged by WindowSize, sticky across
 * requests, counted by GetItemEstimate), the empty and Partial Sync of a
 * cached request, Conflict (server wins by default, client wins on
 * request, an identical change is no conflict), and out-of-range option
 * values. Every expected command list is written out by Message-ID.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "e2e_mail.h"

/* Puts one message per age (in days) into alice's Inbox: Message-ID "<prefix>-<age>d@example.org". */
static void deliver(struct e2e_mail *f, const char *prefix, const unsigned *ages, unsigned count)
{
	e2e_mail_deliver_aged(f, STORE_FOLDER_INBOX, prefix, ages, count);
}

/* Options with a FilterType (as sent: it may be malformed). */
static const char *filter(struct e2e_mail *f, const char *filter_type)
{
	return e2e_mail_format(f, "<FilterType>%s</FilterType>" E2E_MAIL_BODY_PREFERENCE, filter_type);
}

static const char *text(struct e2e_mail *f, const struct wbxml_node *root, enum wbxml_tag tag)
{
	return easclient_find_text(root, tag, f->arena);
}

/* A direct child's text, or NULL (Status exists at several depths). */
static const char *child_text(struct e2e_mail *f, const struct wbxml_node *node, enum wbxml_tag tag)
{
	for (const struct wbxml_node *child = node->first_child; child != NULL; child = child->next)
		if (child->tag == tag)
			return arena_strndup(f->arena, child->text.data, child->text.len);
	return NULL;
}

/* The response's Collection for that folder, or NULL. */
static const struct wbxml_node *collection_of(struct e2e_mail *f, const struct wbxml_node *root, const char *folder)
{
	const struct wbxml_node *collections = easclient_find(root, WBXML_AIRSYNC_COLLECTIONS);
	assert_non_null(collections);
	for (const struct wbxml_node *c = collections->first_child; c != NULL; c = c->next) {
		const char *id = child_text(f, c, WBXML_AIRSYNC_COLLECTION_ID);
		if (id != NULL && strcmp(id, folder) == 0)
			return c;
	}
	return NULL;
}

/* The item's Message-ID without "@example.org": "first-2d". */
static const char *message_id_of(struct e2e_mail *f, const char *server_id)
{
	const char *message_id = e2e_mail_item(f, server_id).message_id;
	const char *at = strchr(message_id, '@');
	return arena_strndup(f->arena, message_id, at != NULL ? (size_t)(at - message_id) : strlen(message_id));
}

/*
 * The Commands under node (a response or one of its collections) as
 * "Add first-1d, SoftDelete first-5d", in the order sent; "" for none.
 */
static const char *commands_of(struct e2e_mail *f, const struct wbxml_node *node)
{
	const struct wbxml_node *commands = easclient_find(node, WBXML_AIRSYNC_COMMANDS);
	const char *list = "";
	if (commands == NULL)
		return list;
	for (const struct wbxml_node *command = commands->first_child; command != NULL; command = command->next) {
		const char *kind = command->tag == WBXML_AIRSYNC_ADD ? "Add"
				   : command->tag == WBXML_AIRSYNC_CHANGE ? "Change"
				   : command->tag == WBXML_AIRSYNC_DELETE ? "Delete"
				   : command->tag == WBXML_AIRSYNC_SOFT_DELETE ? "SoftDelete" : "?";
		const char *server_id = text(f, command, WBXML_AIRSYNC_SERVER_ID);
		assert_non_null(server_id);
		list = e2e_mail_format(f, "%s%s%s %s", list, list[0] != '\0' ? ", " : "", kind,
				       message_id_of(f, server_id));
	}
	return list;
}

/* The ServerId of the command that carries that message, or NULL. */
static const char *server_id_of(struct e2e_mail *f, const struct wbxml_node *root, const char *message_id)
{
	const struct wbxml_node *commands = easclient_find(root, WBXML_AIRSYNC_COMMANDS);
	for (const struct wbxml_node *command = commands != NULL ? commands->first_child : NULL; command != NULL;
	     command = command->next) {
		const char *server_id = text(f, command, WBXML_AIRSYNC_SERVER_ID);
		if (strcmp(message_id_of(f, server_id), message_id) == 0)
			return server_id;
	}
	return NULL;
}

static const char *key_of(struct e2e_mail *f, const struct wbxml_node *node)
{
	return text(f, node, WBXML_AIRSYNC_SYNC_KEY);
}

static bool more_available(const struct wbxml_node *node)
{
	return easclient_find(node, WBXML_AIRSYNC_MORE_AVAILABLE) != NULL;
}

/* SyncKey 0 then one Sync under options; returns the response of the second. */
static struct wbxml_node *first_sync(struct e2e_mail *f, struct easclient *client, const char *folder,
				     const char *options)
{
	struct wbxml_node *root = e2e_mail_sync(f, client, folder, "0", 100, options, NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_null(easclient_find(root, WBXML_AIRSYNC_COMMANDS));
	root = e2e_mail_sync(f, client, folder, key_of(f, root), 100, options, NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_false(more_available(root));
	return root;
}

static const unsigned six_ages[] = { 1, 2, 5, 10, 20, 40 };

/* 1a: ages 1 to 40 days, synced with FilterType 3 (1 week); returns the key. */
static const char *synced_for_a_week(struct e2e_mail *f)
{
	deliver(f, "first", six_ages, 6);
	struct wbxml_node *root = first_sync(f, f->phone, f->inbox, filter(f, "3"));
	assert_string_equal(commands_of(f, root), "Add first-1d, Add first-2d, Add first-5d");
	return key_of(f, root);
}

/* 1b: narrowed to FilterType 1 (1 day); returns the response. */
static struct wbxml_node *narrowed_to_a_day(struct e2e_mail *f, const char *key)
{
	struct wbxml_node *root = e2e_mail_sync(f, f->phone, f->inbox, key, 100, filter(f, "1"), NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	/* MS-ASCMD 2.2.3.169: out of the window, oldest first; nothing else. */
	assert_string_equal(commands_of(f, root), "SoftDelete first-5d, SoftDelete first-2d");
	assert_null(easclient_find(root, WBXML_AIRSYNC_DELETE));
	assert_null(easclient_find(root, WBXML_AIRSYNC_APPLICATION_DATA));
	assert_false(more_available(root));
	assert_string_not_equal(key_of(f, root), key);
	return root;
}

static void filter_type_week_sends_only_the_last_week(void **state)
{
	struct e2e_mail *f = *state;
	const char *key = synced_for_a_week(f);
	/* Nothing more under the same filter: the older ones stay away. */
	unsigned empty = f->empty_responses;
	e2e_mail_sync(f, f->phone, f->inbox, key, 100, filter(f, "3"), NULL);
	assert_int_equal(f->empty_responses, empty + 1);
}

static void narrower_filter_soft_deletes_what_left_the_window(void **state)
{
	struct e2e_mail *f = *state;
	const char *key = synced_for_a_week(f);
	struct wbxml_node *root = narrowed_to_a_day(f, key);
	const char *two_days = server_id_of(f, root, "first-2d");
	assert_non_null(two_days);
	/* The answer was lost: the same key again gives the same SoftDeletes. */
	root = narrowed_to_a_day(f, key);
	assert_string_equal(server_id_of(f, root, "first-2d"), two_days);
	/* Soft: the server keeps the message, and a Fetch still brings it. */
	assert_false(e2e_mail_item(f, two_days).deleted);
	root = e2e_mail_sync(f, f->phone, f->inbox, key_of(f, root), 100, filter(f, "1"),
			     e2e_mail_format(f, "<Fetch><ServerId>%s</ServerId></Fetch>", two_days));
	const struct wbxml_node *fetch = easclient_find(easclient_find(root, WBXML_AIRSYNC_RESPONSES), WBXML_AIRSYNC_FETCH);
	assert_non_null(fetch);
	assert_string_equal(text(f, fetch, WBXML_AIRSYNC_SERVER_ID), two_days);
	assert_string_equal(text(f, fetch, WBXML_AIRSYNC_STATUS), "1");
	assert_non_null(easclient_find(fetch, WBXML_AIRSYNC_APPLICATION_DATA));
	assert_string_equal(commands_of(f, root), "");
}

static void wider_filter_brings_them_back_once_newest_first(void **state)
{
	struct e2e_mail *f = *state;
	const char *key = key_of(f, narrowed_to_a_day(f, synced_for_a_week(f)));
	struct wbxml_node *root = e2e_mail_sync(f, f->phone, f->inbox, key, 100, filter(f, "0"), NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_string_equal(commands_of(f, root),
			    "Add first-2d, Add first-5d, Add first-10d, Add first-20d, Add first-40d");
	assert_false(more_available(root));
	/* Whole items, as any Add. */
	assert_int_equal(easclient_count(root, WBXML_AIRSYNC_APPLICATION_DATA), 5);
	unsigned empty = f->empty_responses;
	root = e2e_mail_sync(f, f->phone, f->inbox, key_of(f, root), 100, filter(f, "0"), NULL);
	assert_int_equal(f->empty_responses, empty + 1);
}

static void filter_month_after_day_stops_at_the_month(void **state)
{
	struct e2e_mail *f = *state;
	const char *key = key_of(f, narrowed_to_a_day(f, synced_for_a_week(f)));
	struct wbxml_node *root = e2e_mail_sync(f, f->phone, f->inbox, key, 100, filter(f, "5"), NULL);
	assert_string_equal(commands_of(f, root), "Add first-2d, Add first-5d, Add first-10d, Add first-20d");
}

/* 1d: five messages leave under WindowSize 2; one arrives meanwhile. */
static void leaving_items_are_paged_by_window_size(void **state)
{
	struct e2e_mail *f = *state;
	static const unsigned ages[] = { 0, 2, 5, 10, 20, 40 };
	static const unsigned fresh[] = { 0 };
	deliver(f, "first", ages, 6);
	struct wbxml_node *root = first_sync(f, f->phone, f->inbox, filter(f, "0"));
	assert_int_equal(easclient_count(root, WBXML_AIRSYNC_ADD), 6);
	const char *key = key_of(f, root);

	root = e2e_mail_sync(f, f->phone, f->inbox, key, 2, filter(f, "1"), NULL);
	assert_string_equal(commands_of(f, root), "SoftDelete first-40d, SoftDelete first-20d");
	assert_true(more_available(root));
	deliver(f, "late", fresh, 1);
	root = e2e_mail_sync(f, f->phone, f->inbox, key_of(f, root), 2, filter(f, "1"), NULL);
	assert_string_equal(commands_of(f, root), "SoftDelete first-10d, SoftDelete first-5d");
	assert_true(more_available(root));
	/* The window's move first, then the changes. */
	root = e2e_mail_sync(f, f->phone, f->inbox, key_of(f, root), 2, filter(f, "1"), NULL);
	assert_string_equal(commands_of(f, root), "SoftDelete first-2d, Add late-0d");
	assert_false(more_available(root));
	unsigned empty = f->empty_responses;
	e2e_mail_sync(f, f->phone, f->inbox, key_of(f, root), 2, filter(f, "1"), NULL);
	assert_int_equal(f->empty_responses, empty + 1);
}

/* 1e: a Sync without Options keeps the FilterType of the last one that had them. */
static void filter_type_is_sticky_without_options(void **state)
{
	struct e2e_mail *f = *state;
	static const unsigned ages[] = { 0, 3 };
	deliver(f, "first", ages, 2);
	struct wbxml_node *root = first_sync(f, f->phone, f->inbox, filter(f, "1"));
	assert_string_equal(commands_of(f, root), "Add first-0d");
	deliver(f, "late", ages, 2);
	root = e2e_mail_sync(f, f->phone, f->inbox, key_of(f, root), 100, NULL, NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_string_equal(commands_of(f, root), "Add late-0d");
	/* Still 1 day: no SoftDelete of what the device has, no Add of the old. */
	const char *key = key_of(f, root);
	unsigned empty = f->empty_responses;
	root = e2e_mail_sync(f, f->phone, f->inbox, key, 100, NULL, NULL);
	assert_int_equal(f->empty_responses, empty + 1);
	/* The older ones were only filtered: widening brings both, newest first. */
	root = e2e_mail_sync(f, f->phone, f->inbox, key, 100, filter(f, "0"), NULL);
	assert_string_equal(commands_of(f, root), "Add late-3d, Add first-3d");
}

static const char *estimate(struct e2e_mail *f, const char *key, const char *options)
{
	const char *xml =
		e2e_mail_format(f,
				"<GetItemEstimate xmlns=\"GetItemEstimate\" xmlns:airsync=\"AirSync\"><Collections>"
				"<Collection><airsync:SyncKey>%s</airsync:SyncKey><CollectionId>%s</CollectionId>%s"
				"</Collection></Collections></GetItemEstimate>",
				key, f->inbox, options != NULL ? options : "");
	assert_int_equal(easclient_post_xml(f->phone, "GetItemEstimate", xml, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	const struct wbxml_node *response = easclient_find(root, WBXML_GETITEMESTIMATE_RESPONSE);
	assert_non_null(response);
	assert_string_equal(text(f, response, WBXML_GETITEMESTIMATE_STATUS), "1");
	return text(f, response, WBXML_GETITEMESTIMATE_ESTIMATE);
}

static const char *estimate_filter(struct e2e_mail *f, const char *key, const char *filter_type)
{
	const char *options = e2e_mail_format(f, "<airsync:Options><airsync:FilterType>%s</airsync:FilterType>"
					      "</airsync:Options>", filter_type);
	return estimate(f, key, options);
}

/* 1f: the estimate under a FilterType counts what leaves and what comes inside it. */
static void getitemestimate_honours_the_filter_type(void **state)
{
	struct e2e_mail *f = *state;
	static const unsigned late[] = { 0, 5 };
	deliver(f, "first", six_ages, 6);
	const char *key = key_of(f, first_sync(f, f->phone, f->inbox, filter(f, "0")));
	deliver(f, "late", late, 2);
	/* Sticky FilterType 0: the two new ones. */
	assert_string_equal(estimate(f, key, NULL), "2");
	assert_string_equal(estimate_filter(f, key, "0"), "2");
	/* 1 day: five leave, one of the two new is inside. */
	assert_string_equal(estimate_filter(f, key, "1"), "6");
	/* 1 week: 10, 20, 40 leave; both new are inside. */
	assert_string_equal(estimate_filter(f, key, "3"), "5");
	/* Estimating changed nothing, and the Sync sends what was counted. */
	struct wbxml_node *root = e2e_mail_sync(f, f->phone, f->inbox, key, 100, filter(f, "1"), NULL);
	assert_string_equal(commands_of(f, root),
			    "SoftDelete first-40d, SoftDelete first-20d, SoftDelete first-10d, SoftDelete first-5d, "
			    "SoftDelete first-2d, Add late-0d");
	/* Now sticky 1: nothing left to send. */
	assert_string_equal(estimate(f, key_of(f, root), NULL), "0");
}

/* ---- empty Sync and Partial ---- */

/* 2a */
static void empty_sync_without_cached_request_gets_13(void **state)
{
	struct e2e_mail *f = *state;
	struct wbxml_node *root = e2e_mail_post_sync(f, f->phone, NULL, NULL);
	assert_non_null(root);
	assert_int_equal(root->tag, WBXML_AIRSYNC_SYNC);
	/* Request level: Sync's own Status, no Collections. */
	assert_string_equal(child_text(f, root, WBXML_AIRSYNC_STATUS), "13");
	assert_null(easclient_find(root, WBXML_AIRSYNC_COLLECTIONS));
	/* An ordinary Sync still works. */
	root = e2e_mail_sync(f, f->phone, f->inbox, "0", 100, filter(f, "0"), NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
}

/* root's Inbox collection, which must have Status 1 and exactly those commands (see commands_of). */
static const struct wbxml_node *inbox_answered(struct e2e_mail *f, const struct wbxml_node *root, const char *commands)
{
	const struct wbxml_node *in = collection_of(f, root, f->inbox);
	assert_non_null(in);
	assert_string_equal(child_text(f, in, WBXML_AIRSYNC_STATUS), "1");
	assert_string_equal(commands_of(f, in), commands);
	return in;
}

/* A Sync of Inbox and Deleted Items together, to the end; their keys out. */
static void both_folders_synced(struct e2e_mail *f, const char **inbox_key, const char **trash_key)
{
	const char *options = filter(f, "0");
	struct wbxml_node *root =
		e2e_mail_post_sync(f, f->phone,
				   e2e_mail_format(f, "%s%s", e2e_mail_collection(f, f->inbox, "0", 100, options, NULL),
						   e2e_mail_collection(f, f->trash, "0", 100, options, NULL)),
				   NULL);
	assert_non_null(root);
	const char *inbox = key_of(f, collection_of(f, root, f->inbox));
	const char *trash = key_of(f, collection_of(f, root, f->trash));
	root = e2e_mail_post_sync(f, f->phone,
				  e2e_mail_format(f, "%s%s",
						  e2e_mail_collection(f, f->inbox, inbox, 100, options, NULL),
						  e2e_mail_collection(f, f->trash, trash, 100, options, NULL)),
				  NULL);
	assert_non_null(root);
	const struct wbxml_node *in = inbox_answered(f, root, "Add first-0d");
	*inbox_key = key_of(f, in);
	const struct wbxml_node *trash_collection = collection_of(f, root, f->trash);
	assert_non_null(trash_collection);
	*trash_key = key_of(f, trash_collection);
}

static const unsigned fresh_one[] = { 0 };

/* 2b */
static void empty_sync_repeats_the_cached_request(void **state)
{
	struct e2e_mail *f = *state;
	const char *inbox_key, *trash_key;
	deliver(f, "first", fresh_one, 1);
	both_folders_synced(f, &inbox_key, &trash_key);
	/* Nothing new: an empty answer to the empty request. */
	assert_null(e2e_mail_post_sync(f, f->phone, NULL, NULL));
	/* New mail: the empty request stands for both collections at their current keys. */
	deliver(f, "late", fresh_one, 1);
	struct wbxml_node *root = e2e_mail_post_sync(f, f->phone, NULL, NULL);
	assert_non_null(root);
	const struct wbxml_node *in = inbox_answered(f, root, "Add late-0d");
	const char *new_key = key_of(f, in);
	assert_string_not_equal(new_key, inbox_key);
	/* Deleted Items had nothing: when listed, it keeps its key. */
	const struct wbxml_node *trash = collection_of(f, root, f->trash);
	if (trash != NULL) {
		assert_string_equal(key_of(f, trash), trash_key);
		assert_string_equal(commands_of(f, trash), "");
	}
	/* The cached collection's Options applied: the body came truncated as asked. */
	assert_non_null(easclient_find(in, WBXML_AIRSYNCBASE_BODY));
	/* The new key goes on. */
	unsigned empty = f->empty_responses;
	e2e_mail_sync(f, f->phone, f->inbox, new_key, 100, filter(f, "0"), NULL);
	assert_int_equal(f->empty_responses, empty + 1);
}

/* 2c */
static void partial_sync_adds_the_cached_collections(void **state)
{
	struct e2e_mail *f = *state;
	const char *inbox_key, *trash_key;
	deliver(f, "first", fresh_one, 1);
	both_folders_synced(f, &inbox_key, &trash_key);
	deliver(f, "late", fresh_one, 1);
	struct wbxml_node *root = e2e_mail_post_sync(
		f, f->phone, e2e_mail_collection(f, f->trash, trash_key, 100, filter(f, "0"), NULL), "<Partial/>");
	assert_non_null(root);
	const struct wbxml_node *in = inbox_answered(f, root, "Add late-0d");
	const char *new_key = key_of(f, in);
	assert_string_not_equal(new_key, inbox_key);
	const struct wbxml_node *trash = collection_of(f, root, f->trash);
	assert_non_null(trash);
	assert_string_equal(child_text(f, trash, WBXML_AIRSYNC_STATUS), "1");
	assert_string_equal(commands_of(f, trash), "");
	/* The cache still holds both: an empty request now has nothing to say. */
	assert_null(e2e_mail_post_sync(f, f->phone, NULL, NULL));
	deliver(f, "later", fresh_one, 1);
	root = e2e_mail_post_sync(f, f->phone, NULL, NULL);
	assert_non_null(root);
	in = collection_of(f, root, f->inbox);
	assert_non_null(in);
	assert_string_equal(commands_of(f, in), "Add later-0d");
}

/* 2d */
static void idle_collections_get_an_empty_response_and_keep_their_keys(void **state)
{
	struct e2e_mail *f = *state;
	const char *inbox_key, *trash_key;
	deliver(f, "first", fresh_one, 1);
	both_folders_synced(f, &inbox_key, &trash_key);
	const char *options = filter(f, "0");
	unsigned empty = f->empty_responses;
	assert_null(e2e_mail_post_sync(f, f->phone,
				       e2e_mail_format(f, "%s%s",
						       e2e_mail_collection(f, f->inbox, inbox_key, 100, options, NULL),
						       e2e_mail_collection(f, f->trash, trash_key, 100, options, NULL)),
				       NULL));
	assert_int_equal(f->response.body.len, 0);
	assert_int_equal(f->empty_responses, empty + 1);
	/* The same keys still work, each alone. */
	e2e_mail_sync(f, f->phone, f->trash, trash_key, 100, options, NULL);
	assert_int_equal(f->empty_responses, empty + 2);
	deliver(f, "late", fresh_one, 1);
	struct wbxml_node *root = e2e_mail_sync(f, f->phone, f->inbox, inbox_key, 100, options, NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_string_equal(commands_of(f, root), "Add late-0d");
}

/* ---- Conflict ---- */

/* Both devices synced over three fresh messages; their keys out, the phone's ServerId of the first. */
static const char *both_devices_synced(struct e2e_mail *f, const char **phone_key, const char **tablet_key)
{
	static const unsigned ages[] = { 0, 1, 2 };
	deliver(f, "first", ages, 3);
	struct wbxml_node *root = first_sync(f, f->phone, f->inbox, filter(f, "0"));
	assert_string_equal(commands_of(f, root), "Add first-0d, Add first-1d, Add first-2d");
	*phone_key = key_of(f, root);
	const char *id = server_id_of(f, root, "first-0d");
	root = first_sync(f, f->tablet, f->inbox, filter(f, "0"));
	assert_int_equal(easclient_count(root, WBXML_AIRSYNC_ADD), 3);
	*tablet_key = key_of(f, root);
	return id;
}

static const char *change_read(struct e2e_mail *f, const char *id, const char *read)
{
	return e2e_mail_format(f, "<Change><ServerId>%s</ServerId><ApplicationData><email:Read>%s</email:Read>"
			       "</ApplicationData></Change>", id, read);
}

static const char *change_flag(struct e2e_mail *f, const char *id, const char *status)
{
	return e2e_mail_format(f, "<Change><ServerId>%s</ServerId><ApplicationData><email:Flag>"
			       "<email:Status>%s</email:Status></email:Flag></ApplicationData></Change>", id, status);
}

/* The tablet flags the message; returns its new key. */
static const char *tablet_flags(struct e2e_mail *f, const char *tablet_key, const char *id)
{
	struct wbxml_node *root =
		e2e_mail_sync(f, f->tablet, f->inbox, tablet_key, 100, filter(f, "0"), change_flag(f, id, "2"));
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_null(easclient_find(root, WBXML_AIRSYNC_RESPONSES));
	assert_int_equal(e2e_mail_item(f, id).flag_status, 2);
	return key_of(f, root);
}

/* The Response to a change of id: Status 7 and the server's version in Commands. */
static void assert_server_won(struct e2e_mail *f, const struct wbxml_node *root, const char *id)
{
	const struct wbxml_node *inbox = collection_of(f, root, f->inbox);
	assert_non_null(inbox);
	assert_string_equal(child_text(f, inbox, WBXML_AIRSYNC_STATUS), "1");
	const struct wbxml_node *responses = easclient_find(root, WBXML_AIRSYNC_RESPONSES);
	assert_non_null(responses);
	const struct wbxml_node *response = responses->first_child;
	assert_non_null(response);
	assert_null(response->next);
	assert_int_equal(response->tag, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, response, WBXML_AIRSYNC_SERVER_ID), id);
	assert_string_equal(text(f, response, WBXML_AIRSYNC_STATUS), "7");
	assert_string_equal(commands_of(f, root), "Change first-0d");
	const struct wbxml_node *change = easclient_find(root, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, change, WBXML_AIRSYNC_SERVER_ID), id);
	assert_string_equal(text(f, change, WBXML_EMAIL_READ), "0");
	assert_string_equal(text(f, change, WBXML_EMAIL_STATUS), "2");
	/* The server's item is as the tablet left it. */
	struct store_item item = e2e_mail_item(f, id);
	assert_false(item.read);
	assert_int_equal(item.flag_status, 2);
}

/* 3, default: server wins. */
static void conflicting_change_gets_7_and_the_servers_version(void **state)
{
	struct e2e_mail *f = *state;
	const char *phone_key, *tablet_key;
	const char *id = both_devices_synced(f, &phone_key, &tablet_key);
	tablet_key = tablet_flags(f, tablet_key, id);
	struct wbxml_node *root =
		e2e_mail_sync(f, f->phone, f->inbox, phone_key, 100, filter(f, "0"), change_read(f, id, "1"));
	assert_server_won(f, root, id);
	/* The log names the device and what its item ran into. */
	static const char *const logged[] = { "\tPHONE1\t", "\tSync\t", "\t200\t1\t", "\titem_conflict\t", NULL };
	assert_true(e2e_log_has(&f->server, logged));
	/* The phone now has the server's version: nothing more for it. */
	unsigned empty = f->empty_responses;
	e2e_mail_sync(f, f->phone, f->inbox, key_of(f, root), 100, filter(f, "0"), NULL);
	assert_int_equal(f->empty_responses, empty + 1);
	/* Nothing for the tablet either. (Its own flag change lies past the
	   cursor of the request that made it, so this answer may pass it under
	   a new key, with no command.) */
	root = e2e_mail_sync(f, f->tablet, f->inbox, tablet_key, 100, filter(f, "0"), NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_string_equal(commands_of(f, root), "");
}

/* 3, Conflict 0: client wins. */
static void client_wins_applies_the_conflicting_change(void **state)
{
	struct e2e_mail *f = *state;
	const char *phone_key, *tablet_key;
	const char *id = both_devices_synced(f, &phone_key, &tablet_key);
	tablet_key = tablet_flags(f, tablet_key, id);
	struct wbxml_node *root =
		e2e_mail_sync(f, f->phone, f->inbox, phone_key, 100, "<Conflict>0</Conflict>" E2E_MAIL_BODY_PREFERENCE,
			      change_read(f, id, "1"));
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_null(easclient_find(root, WBXML_AIRSYNC_RESPONSES));
	struct store_item item = e2e_mail_item(f, id);
	assert_true(item.read);
	/* The tablet gets the phone's read flag (beside its own flag). */
	root = e2e_mail_sync(f, f->tablet, f->inbox, tablet_key, 100, filter(f, "0"), NULL);
	assert_string_equal(commands_of(f, root), "Change first-0d");
	const struct wbxml_node *change = easclient_find(root, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, change, WBXML_EMAIL_READ), "1");
	assert_string_equal(text(f, change, WBXML_EMAIL_STATUS), "2");
}

/* The flag status a Change of id carries in root's Commands, or NULL when none. */
static const char *changed_flag(struct e2e_mail *f, const struct wbxml_node *root, const char *id)
{
	const struct wbxml_node *commands = easclient_find(root, WBXML_AIRSYNC_COMMANDS);
	for (const struct wbxml_node *command = commands != NULL ? commands->first_child : NULL; command != NULL;
	     command = command->next)
		if (command->tag == WBXML_AIRSYNC_CHANGE && strcmp(text(f, command, WBXML_AIRSYNC_SERVER_ID), id) == 0) {
			const char *status = text(f, command, WBXML_EMAIL_STATUS);
			return status != NULL ? status : "";
		}
	return NULL;
}

/*
 * Client wins replaces what the client changed, no more: a mail Change
 * carries only the fields it sets (MS-ASEMAIL 2.2.2.34: no Flag element,
 * no change to the flag). The tablet's flag stays on the server beside the
 * phone's read flag, so the phone must still be sent it, in this answer or
 * the next, or phone and server disagree for good.
 */
static void client_wins_still_sends_the_servers_other_fields(void **state)
{
	struct e2e_mail *f = *state;
	const char *phone_key, *tablet_key;
	const char *id = both_devices_synced(f, &phone_key, &tablet_key);
	tablet_flags(f, tablet_key, id);
	struct wbxml_node *root =
		e2e_mail_sync(f, f->phone, f->inbox, phone_key, 100, "<Conflict>0</Conflict>" E2E_MAIL_BODY_PREFERENCE,
			      change_read(f, id, "1"));
	assert_null(easclient_find(root, WBXML_AIRSYNC_RESPONSES));
	const char *flag = changed_flag(f, root, id);
	if (flag == NULL)
		flag = changed_flag(f, e2e_mail_sync(f, f->phone, f->inbox, key_of(f, root), 100, NULL, NULL), id);
	assert_non_null(flag);
	assert_string_equal(flag, "2");
}

/* 3: the phone asks for what the server already has (Flag 2). */
static void change_identical_to_the_servers_is_no_conflict(void **state)
{
	struct e2e_mail *f = *state;
	const char *phone_key, *tablet_key;
	const char *id = both_devices_synced(f, &phone_key, &tablet_key);
	tablet_flags(f, tablet_key, id);
	struct wbxml_node *root =
		e2e_mail_sync(f, f->phone, f->inbox, phone_key, 100, filter(f, "0"), change_flag(f, id, "2"));
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_null(easclient_find(root, WBXML_AIRSYNC_RESPONSES));
	/* easd keeps no per-field history: the tablet's change may have carried
	   more than the flag, so the item goes out whole, with the server's values. */
	const char *flag = changed_flag(f, root, id);
	assert_true(flag == NULL || strcmp(flag, "2") == 0);
	assert_int_equal(e2e_mail_item(f, id).flag_status, 2);
	unsigned empty = f->empty_responses;
	e2e_mail_sync(f, f->phone, f->inbox, key_of(f, root), 100, filter(f, "0"), NULL);
	assert_int_equal(f->empty_responses, empty + 1);
}

/*
 * The tablet marks the message read and flags it; the phone sets the same
 * flag. No conflict (the phone asks for what is there), but the phone
 * still lacks the read flag and must be sent it.
 */
static void identical_change_still_sends_the_servers_other_fields(void **state)
{
	struct e2e_mail *f = *state;
	const char *phone_key, *tablet_key;
	const char *id = both_devices_synced(f, &phone_key, &tablet_key);
	const char *both = e2e_mail_format(f, "<Change><ServerId>%s</ServerId><ApplicationData>"
					   "<email:Read>1</email:Read>"
					   "<email:Flag><email:Status>2</email:Status></email:Flag>"
					   "</ApplicationData></Change>", id);
	struct wbxml_node *root = e2e_mail_sync(f, f->tablet, f->inbox, tablet_key, 100, filter(f, "0"), both);
	assert_null(easclient_find(root, WBXML_AIRSYNC_RESPONSES));
	root = e2e_mail_sync(f, f->phone, f->inbox, phone_key, 100, filter(f, "0"), change_flag(f, id, "2"));
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_null(easclient_find(root, WBXML_AIRSYNC_RESPONSES));
	const struct wbxml_node *change = easclient_find(root, WBXML_AIRSYNC_CHANGE);
	if (change == NULL)
		change = easclient_find(e2e_mail_sync(f, f->phone, f->inbox, key_of(f, root), 100, NULL, NULL),
					WBXML_AIRSYNC_CHANGE);
	assert_non_null(change);
	assert_string_equal(text(f, change, WBXML_AIRSYNC_SERVER_ID), id);
	assert_string_equal(text(f, change, WBXML_EMAIL_READ), "1");
}

/* ---- malformed Options ---- */

/*
 * FilterType beyond 8 or not a number is read as 0 (eas_read_number's
 * fallback): the whole folder, no protocol error. 6 to 8 are calendar and
 * task windows: for mail they too mean the whole folder.
 */
static void filter_type_out_of_range_means_all_items(void **state)
{
	struct e2e_mail *f = *state;
	static const unsigned ages[] = { 1, 10, 40, 200 };
	deliver(f, "first", ages, 4);
	struct wbxml_node *root = first_sync(f, f->phone, f->inbox, filter(f, "9"));
	assert_string_equal(commands_of(f, root), "Add first-1d, Add first-10d, Add first-40d, Add first-200d");
	const char *phone_key = key_of(f, root);
	root = first_sync(f, f->tablet, f->inbox, filter(f, "soon"));
	assert_string_equal(commands_of(f, root), "Add first-1d, Add first-10d, Add first-40d, Add first-200d");
	const char *tablet_key = key_of(f, root);
	/* 7 (6 months, calendar only) keeps the 200-day-old one. */
	root = e2e_mail_sync(f, f->tablet, f->inbox, tablet_key, 100, filter(f, "7"), NULL);
	assert_string_equal(commands_of(f, root), "");
	tablet_key = key_of(f, root);
	root = e2e_mail_sync(f, f->tablet, f->inbox, tablet_key, 100, filter(f, "99999999999999999999999"), NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_string_equal(commands_of(f, root), "");
	tablet_key = key_of(f, root);
	root = e2e_mail_sync(f, f->tablet, f->inbox, tablet_key, 100, filter(f, "-1"), NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	assert_string_equal(commands_of(f, root), "");
	/* GetItemEstimate reads it the same way. */
	assert_string_equal(estimate_filter(f, phone_key, "9"), "0");
	assert_string_equal(estimate_filter(f, phone_key, "1"), "3");
	/* And an ordinary filter still works on. */
	root = e2e_mail_sync(f, f->phone, f->inbox, phone_key, 100, filter(f, "1"), NULL);
	assert_string_equal(commands_of(f, root), "SoftDelete first-200d, SoftDelete first-40d, SoftDelete first-10d");
}

/* Conflict is 0 or 1 (MS-ASCMD 2.2.3.34); anything else is the default, server wins. */
static void conflict_out_of_range_means_server_wins(void **state)
{
	struct e2e_mail *f = *state;
	const char *phone_key, *tablet_key;
	const char *id = both_devices_synced(f, &phone_key, &tablet_key);
	tablet_flags(f, tablet_key, id);
	struct wbxml_node *root =
		e2e_mail_sync(f, f->phone, f->inbox, phone_key, 100, "<Conflict>5</Conflict>" E2E_MAIL_BODY_PREFERENCE,
			      change_read(f, id, "1"));
	assert_server_won(f, root, id);
	/* Not a number: the same. The lost answer is repeated under the old key. */
	root = e2e_mail_sync(f, f->phone, f->inbox, phone_key, 100, "<Conflict>yes</Conflict>" E2E_MAIL_BODY_PREFERENCE,
			     change_read(f, id, "1"));
	assert_server_won(f, root, id);
	/* The stored Conflict is the default too: without Options, still server wins. */
	root = e2e_mail_sync(f, f->phone, f->inbox, phone_key, 100, NULL, change_read(f, id, "1"));
	assert_server_won(f, root, id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		E2E_MAIL_CASE(filter_type_week_sends_only_the_last_week),
		E2E_MAIL_CASE(narrower_filter_soft_deletes_what_left_the_window),
		E2E_MAIL_CASE(wider_filter_brings_them_back_once_newest_first),
		E2E_MAIL_CASE(filter_month_after_day_stops_at_the_month),
		E2E_MAIL_CASE(leaving_items_are_paged_by_window_size),
		E2E_MAIL_CASE(filter_type_is_sticky_without_options),
		E2E_MAIL_CASE(getitemestimate_honours_the_filter_type),
		E2E_MAIL_CASE(empty_sync_without_cached_request_gets_13),
		E2E_MAIL_CASE(empty_sync_repeats_the_cached_request),
		E2E_MAIL_CASE(partial_sync_adds_the_cached_collections),
		E2E_MAIL_CASE(idle_collections_get_an_empty_response_and_keep_their_keys),
		E2E_MAIL_CASE(conflicting_change_gets_7_and_the_servers_version),
		E2E_MAIL_CASE(client_wins_applies_the_conflicting_change),
		E2E_MAIL_CASE(client_wins_still_sends_the_servers_other_fields),
		E2E_MAIL_CASE(change_identical_to_the_servers_is_no_conflict),
		E2E_MAIL_CASE(identical_change_still_sends_the_servers_other_fields),
		E2E_MAIL_CASE(filter_type_out_of_range_means_all_items),
		E2E_MAIL_CASE(conflict_out_of_range_means_server_wins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
