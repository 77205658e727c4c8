/* e2e_mail.c: see e2e_mail.h. */
#include "e2e_mail.h"
#include "push/push.h"

#include <pthread.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <glib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY 86400

static const char *const users[] = { "alice:correct horse", "bob:battery staple", NULL };

int e2e_mail_setup(void **state)
{
	return e2e_mail_setup_with(state, NULL);
}

int e2e_mail_setup_with(void **state, const char *extra_config)
{
	struct e2e_mail *mail = calloc(1, sizeof(*mail));
	if (e2e_start(&mail->server, extra_config, users) < 0) {
		free(mail);
		return -1;
	}
	mail->arena = arena_new(0);
	easclient_response_init(&mail->response);
	mail->phone = e2e_mail_device(mail, "PHONE1", 0);
	mail->tablet = e2e_mail_device(mail, "TABLET1", 0);
	snprintf(mail->inbox, sizeof(mail->inbox), "%s", e2e_mail_folder_of_type(mail, "2"));
	snprintf(mail->trash, sizeof(mail->trash), "%s", e2e_mail_folder_of_type(mail, "4"));
	*state = mail;
	return 0;
}

int e2e_mail_teardown(void **state)
{
	struct e2e_mail *mail = *state;
	easclient_free(&mail->phone);
	easclient_free(&mail->tablet);
	easclient_response_cleanup(&mail->response);
	arena_free(&mail->arena);
	int finished = e2e_finish(&mail->server);
	free(mail);
	return finished;
}

struct easclient *e2e_mail_device(struct e2e_mail *mail, const char *device_id, unsigned protocol_version)
{
	struct easclient_options options = e2e_client_options(&mail->server, "alice", "correct horse", device_id);
	if (protocol_version != 0)
		options.protocol_version = protocol_version;
	struct easclient *client = easclient_new(&options);
	assert_int_equal(easclient_provision(client, NULL), 0);
	return client;
}

const char *e2e_mail_folder_of_type(struct e2e_mail *mail, const char *type)
{
	static const char xml[] = "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>";
	assert_int_equal(easclient_post_xml(mail->phone, "FolderSync", xml, &mail->response), 0);
	struct wbxml_node *root = easclient_parse(&mail->response, mail->arena);
	const struct wbxml_node *add = easclient_find(root, WBXML_FOLDERHIERARCHY_ADD);
	for (; add != NULL; add = add->next)
		if (strcmp(easclient_find_text(add, WBXML_FOLDERHIERARCHY_TYPE, mail->arena), type) == 0)
			return easclient_find_text(add, WBXML_FOLDERHIERARCHY_SERVER_ID, mail->arena);
	fail_msg("no folder of type %s", type);
	return NULL;
}

char *e2e_mail_format(struct e2e_mail *mail, const char *pattern, ...)
{
	va_list args;
	va_start(args, pattern);
	int len = vsnprintf(NULL, 0, pattern, args);
	va_end(args);
	assert_true(len >= 0);
	char *text = arena_alloc(mail->arena, (size_t)len + 1);
	va_start(args, pattern);
	vsnprintf(text, (size_t)len + 1, pattern, args);
	va_end(args);
	return text;
}

/* easd's store opened beside the running server, as easctl does, telling easd of its changes. */
static struct store *store_of(struct e2e_mail *mail)
{
	char error[256];
	struct store *store;
	snprintf(mail->data_dir, sizeof(mail->data_dir), "%s/data", mail->server.dir);
	assert_int_equal(store_open(mail->data_dir, 1, &store, error, sizeof(error)), 0);
	store_set_change_listener(store, push_notify_changed, mail->data_dir);
	return store;
}

/* A transaction on alice's folder of folder_type, for mailbox_add. */
struct mailbox {
	struct store *store;
	struct store_session *session;
	int64_t user_id;
	int64_t folder_id;
};

static void mailbox_open(struct e2e_mail *mail, int folder_type, struct mailbox *box)
{
	struct store_user user;
	box->store = store_of(mail);
	box->session = store_session_acquire(box->store);
	assert_int_equal(store_user_find(box->session, mail->arena, "alice", &user), STORE_OK);
	box->user_id = user.id;
	assert_int_equal(store_folder_find_type(box->session, user.id, folder_type, &box->folder_id), STORE_OK);
	assert_int_equal(store_begin(box->session), STORE_OK);
}

static void mailbox_add(struct mailbox *box, const void *mime, size_t len, const char *message_id, int64_t received)
{
	struct store_item_meta meta = { .received = received, .message_id = message_id };
	assert_int_equal(store_item_add(box->session, box->user_id, box->folder_id, mime, len, &meta, NULL), STORE_OK);
}

/* A short message that names itself in its subject and body. */
static void mailbox_add_small(struct mailbox *box, const char *message_id, int64_t received)
{
	char message[512];
	int n = snprintf(message, sizeof(message),
			 "From: Bob <bob@example.org>\r\nTo: alice@localhost\r\nSubject: Message %s\r\n"
			 "Message-ID: <%s>\r\n\r\nBody of %s.\r\n", message_id, message_id, message_id);
	mailbox_add(box, message, (size_t)n, message_id, received);
}

static void mailbox_commit(struct mailbox *box)
{
	assert_int_equal(store_commit(box->session), STORE_OK);
	store_session_release(&box->session);
	store_close(&box->store);
}

void e2e_mail_add(struct e2e_mail *mail, int folder_type, const void *mime, size_t len, const char *message_id,
		  int64_t received)
{
	struct mailbox box;
	mailbox_open(mail, folder_type, &box);
	mailbox_add(&box, mime, len, message_id, received);
	mailbox_commit(&box);
}

void e2e_mail_deliver(struct e2e_mail *mail, int folder_type, const char *prefix, unsigned first, unsigned count)
{
	char message_id[64];
	struct mailbox box;
	mailbox_open(mail, folder_type, &box);
	for (unsigned i = first; i < first + count; i++) {
		snprintf(message_id, sizeof(message_id), "%s%u@example.org", prefix, i);
		mailbox_add_small(&box, message_id, time(NULL));
	}
	mailbox_commit(&box);
}

void e2e_mail_deliver_aged(struct e2e_mail *mail, int folder_type, const char *prefix, const unsigned *ages_in_days,
			   unsigned count)
{
	char message_id[64];
	struct mailbox box;
	int64_t now = time(NULL);
	mailbox_open(mail, folder_type, &box);
	for (unsigned i = 0; i < count; i++) {
		unsigned age = ages_in_days[i];
		snprintf(message_id, sizeof(message_id), "%s-%ud@example.org", prefix, age);
		mailbox_add_small(&box, message_id, age == 0 ? now : now - (int64_t)age * DAY + 3600);
	}
	mailbox_commit(&box);
}

struct store_item e2e_mail_item(struct e2e_mail *mail, const char *server_id)
{
	struct store_item item;
	long long folder, id;
	assert_int_equal(sscanf(server_id, "%lld:%lld", &folder, &id), 2);
	struct store *store = store_of(mail);
	struct store_session *session = store_session_acquire(store);
	assert_int_equal(store_item_get(session, mail->arena, folder, id, &item), STORE_OK);
	store_session_release(&session);
	store_close(&store);
	return item;
}

const char *e2e_mail_collection(struct e2e_mail *mail, const char *folder, const char *key, unsigned window,
				const char *options, const char *commands)
{
	return e2e_mail_format(mail,
			       "<Collection><SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>%s"
			       "<WindowSize>%u</WindowSize>%s%s%s%s%s%s</Collection>",
			       key, folder, strcmp(key, "0") != 0 ? "<GetChanges/>" : "", window,
			       options != NULL ? "<Options>" : "", options != NULL ? options : "",
			       options != NULL ? "</Options>" : "", commands != NULL ? "<Commands>" : "",
			       commands != NULL ? commands : "", commands != NULL ? "</Commands>" : "");
}

struct wbxml_node *e2e_mail_post_sync(struct e2e_mail *mail, struct easclient *client, const char *collections,
				      const char *after)
{
	if (collections == NULL) {
		assert_int_equal(easclient_post(client, "Sync", NULL, 0, NULL, &mail->response), 0);
	} else {
		const char *xml = e2e_mail_format(mail,
						  "<Sync xmlns=\"AirSync\" xmlns:airsyncbase=\"AirSyncBase\""
						  " xmlns:email=\"Email\"><Collections>%s</Collections>%s</Sync>",
						  collections, after != NULL ? after : "");
		assert_int_equal(easclient_post_xml(client, "Sync", xml, &mail->response), 0);
	}
	assert_int_equal(mail->response.http_status, 200);
	if (mail->response.body.len == 0) {
		mail->empty_responses++;
		return NULL;
	}
	struct wbxml_node *root = easclient_parse(&mail->response, mail->arena);
	assert_non_null(root);
	return root;
}

struct wbxml_node *e2e_mail_empty_answer(struct e2e_mail *mail, const char *key, const char *folder)
{
	const char *xml = e2e_mail_format(mail,
					  "<Sync xmlns=\"AirSync\"><Collections><Collection><SyncKey>%s</SyncKey>"
					  "<CollectionId>%s</CollectionId><Status>1</Status>"
					  "</Collection></Collections></Sync>",
					  key, folder);
	struct buf wbxml;
	struct wbxml_node *root = NULL;
	buf_init(&wbxml, 0);
	assert_int_equal(wbxml_from_xml(xml, strlen(xml), false, &wbxml, NULL), 0);
	/* The tree may point into its input: the bytes live in the arena. */
	uint8_t *bytes = arena_alloc(mail->arena, wbxml.len);
	memcpy(bytes, wbxml.data, wbxml.len);
	assert_int_equal(wbxml_tree_parse(mail->arena, bytes, wbxml.len, NULL, &root, NULL), 0);
	buf_cleanup(&wbxml);
	return root;
}

struct wbxml_node *e2e_mail_sync(struct e2e_mail *mail, struct easclient *client, const char *folder, const char *key,
				 unsigned window, const char *options, const char *commands)
{
	const char *collection = e2e_mail_collection(mail, folder, key, window, options, commands);
	struct wbxml_node *root = e2e_mail_post_sync(mail, client, collection, NULL);
	return root != NULL ? root : e2e_mail_empty_answer(mail, key, folder);
}

const char *e2e_mail_sync_inbox(struct e2e_mail *mail, struct easclient *client)
{
	static const char xml[] = "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>";
	assert_int_equal(easclient_post_xml(client, "FolderSync", xml, &mail->response), 0);
	assert_int_equal(mail->response.http_status, 200);
	struct wbxml_node *root = e2e_mail_sync(mail, client, mail->inbox, "0", 100, NULL, NULL);
	const char *key = easclient_find_text(root, WBXML_AIRSYNC_SYNC_KEY, mail->arena);
	for (int i = 0; i < 10; i++) {
		root = e2e_mail_sync(mail, client, mail->inbox, key, 100, E2E_MAIL_BODY_PREFERENCE, NULL);
		key = easclient_find_text(root, WBXML_AIRSYNC_SYNC_KEY, mail->arena);
		if (easclient_find(root, WBXML_AIRSYNC_MORE_AVAILABLE) == NULL)
			return key;
	}
	fail_msg("the Inbox never finished syncing");
	return NULL;
}

/* ---- requests in flight ---- */

struct e2e_call {
	struct easclient *client;
	struct easclient_response response;
	const char *command;
	const char *xml;
	pthread_t thread;
	int result;
	bool done;
	pthread_mutex_t lock;
};

int64_t e2e_mail_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *call_thread(void *context)
{
	struct e2e_call *call = context;
	int result = call->xml != NULL ? easclient_post_xml(call->client, call->command, call->xml, &call->response)
				       : easclient_post(call->client, call->command, NULL, 0, NULL, &call->response);
	pthread_mutex_lock(&call->lock);
	call->result = result;
	call->done = true;
	pthread_mutex_unlock(&call->lock);
	return NULL;
}

struct e2e_call *e2e_mail_call_start(struct e2e_mail *mail, const char *device_id, struct easclient *like,
				     const char *command, const char *xml, unsigned timeout_ms)
{
	return e2e_mail_call_start_as(mail, "alice", "correct horse", device_id, like, command, xml, timeout_ms);
}

struct e2e_call *e2e_mail_call_start_as(struct e2e_mail *mail, const char *user, const char *password,
					const char *device_id, struct easclient *like, const char *command,
					const char *xml, unsigned timeout_ms)
{
	struct e2e_call *call = calloc(1, sizeof(*call));
	struct easclient_options options = e2e_client_options(&mail->server, user, password, device_id);
	options.timeout_ms = timeout_ms;
	call->client = easclient_new(&options);
	easclient_set_policy_key(call->client, easclient_policy_key(like));
	easclient_response_init(&call->response);
	call->command = command;
	call->xml = xml;
	pthread_mutex_init(&call->lock, NULL);
	assert_int_equal(pthread_create(&call->thread, NULL, call_thread, call), 0);
	return call;
}

bool e2e_mail_call_done(struct e2e_call *call)
{
	pthread_mutex_lock(&call->lock);
	bool done = call->done;
	pthread_mutex_unlock(&call->lock);
	return done;
}

void e2e_mail_call_assert_waiting(struct e2e_call *call, unsigned ms)
{
	usleep(ms * 1000);
	assert_false(e2e_mail_call_done(call));
}

/* Waits for the thread, then frees the call; returns the transport result. */
static int call_end(struct e2e_call *call, int64_t within_ms, struct easclient_response *response_out)
{
	int64_t deadline = e2e_mail_now_ms() + within_ms;
	while (!e2e_mail_call_done(call) && e2e_mail_now_ms() < deadline)
		usleep(10 * 1000);
	assert_true(e2e_mail_call_done(call));
	pthread_join(call->thread, NULL);
	int result = call->result;
	*response_out = call->response;
	easclient_free(&call->client);
	pthread_mutex_destroy(&call->lock);
	free(call);
	return result;
}

struct wbxml_node *e2e_mail_call_finish(struct e2e_mail *mail, struct e2e_call *call, int64_t within_ms)
{
	struct easclient_response response;
	int result = call_end(call, within_ms, &response);
	assert_int_equal(result, 0);
	assert_int_equal(response.http_status, 200);
	struct wbxml_node *root = NULL;
	if (response.body.len > 0) {
		/* The tree may point into its input: the bytes move to the arena first. */
		uint8_t *bytes = arena_alloc(mail->arena, response.body.len);
		memcpy(bytes, response.body.data, response.body.len);
		assert_int_equal(wbxml_tree_parse(mail->arena, bytes, response.body.len, NULL, &root, NULL), 0);
	}
	easclient_response_cleanup(&response);
	return root;
}

int e2e_mail_call_end(struct e2e_call *call, int64_t within_ms)
{
	struct easclient_response response;
	int result = call_end(call, within_ms, &response);
	easclient_response_cleanup(&response);
	return result;
}

void e2e_mail_call_abandoned(struct e2e_call *call, int64_t within_ms)
{
	struct easclient_response response;
	int result = call_end(call, within_ms, &response);
	easclient_response_cleanup(&response);
	assert_int_not_equal(result, 0); /* curl gave up: the client hung up */
}

const char *e2e_mail_easctl(struct e2e_mail *f, const char *args)
{
	const char *build = getenv("EASD_BUILD");
	gchar *command = g_strdup_printf("%s/easctl -c %s %s", build != NULL ? build : "build", f->server.config, args);
	gchar *out = NULL, *err = NULL;
	gint status = -1;
	gchar **argv = g_strsplit(command, " ", -1);
	assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, NULL));
	if (status != 0)
		fprintf(stderr, "easctl %s: %s%s\n", args, out, err);
	assert_int_equal(status, 0);
	const char *text = e2e_mail_format(f, "%s", out);
	g_strfreev(argv);
	g_free(command);
	g_free(out);
	g_free(err);
	return text;
}
