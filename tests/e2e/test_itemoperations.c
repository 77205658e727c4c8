/*
 * test_itemoperations.c: ItemOperations against a real easd: Fetch of an
 * item by ServerId and of an attachment by FileReference (whole, in
 * ranges, inline and multipart, at the byte limits; several MB streamed,
 * and cut short when the item goes away meanwhile), EmptyFolderContents
 * with and without DeleteSubFolders (seen through Sync and FolderSync),
 * the conversation Move, and hostile requests getting per-operation
 * statuses, each followed by an ordinary request that succeeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "e2e.h"
#include "guard/limits.h"
#include "store/store.h"

static const char *const users[] = { "alice:correct horse", "bob:battery staple", NULL };

/* The attachment of the message delivered in setup: ATTACHMENT_SIZE bytes of pattern(). */
#define ATTACHMENT_SIZE 3000

struct fixture {
	struct e2e_server server;
	struct easclient *phone;
	struct easclient_response response;
	struct arena *arena;
	struct wbxml_node *root;      /* the last WBXML answer */
	char inbox[24], trash[24], contacts[24];
	char hierarchy_key[24];
	char plain[48];               /* ServerId of a plain-text message in the Inbox */
	char with_attachment[48];     /* ServerId of a message with one binary attachment */
	char file_reference[64];      /* its attachment's FileReference, as Fetch lists it */
};

/* ---- helpers ---- */

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + 3);
}

/* The RFC 2045 base64 of length bytes of pattern(), in 76-character lines. */
static char *pattern_base64(size_t length)
{
	uint8_t *bytes = malloc(length > 0 ? length : 1);
	for (size_t i = 0; i < length; i++)
		bytes[i] = pattern(i);
	char *flat = g_base64_encode(bytes, length);
	free(bytes);
	size_t n = strlen(flat);
	char *lines = malloc(n + 2 * (n / 76 + 1) + 1);
	size_t out = 0;
	for (size_t i = 0; i < n; i += 76) {
		size_t take = n - i < 76 ? n - i : 76;
		memcpy(lines + out, flat + i, take);
		out += take;
		lines[out++] = '\r';
		lines[out++] = '\n';
	}
	lines[out] = '\0';
	g_free(flat);
	return lines;
}

/* A message with a text body and one attachment of length pattern bytes. */
static char *message_with_attachment(size_t length)
{
	char *data = pattern_base64(length);
	size_t size = strlen(data) + 1024;
	char *mime = malloc(size);
	snprintf(mime, size,
		 "From: Bob <bob@example.org>\r\nTo: alice@localhost\r\nSubject: Data attached\r\n"
		 "Message-ID: <data@example.org>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
		 "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
		 "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe data is attached.\r\n"
		 "--b\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"
		 "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\n\r\n"
		 "%s--b--\r\n",
		 data);
	free(data);
	return mime;
}

/* Stores a message in a folder of user the way LMTP does; *server_id_out gets "folder:item". */
static void deliver_to(struct fixture *f, const char *user_name, const char *folder, const char *mime,
		       char *server_id_out, size_t size)
{
	char path[300], error[256];
	struct store *store;
	struct store_user user;
	int64_t item;
	snprintf(path, sizeof(path), "%s/data", f->server.dir);
	assert_int_equal(store_open(path, 1, &store, error, sizeof(error)), 0);
	struct store_session *session = store_session_acquire(store);
	assert_int_equal(store_user_find(session, f->arena, user_name, &user), STORE_OK);
	struct store_item_meta meta = { .received = time(NULL), .message_id = "" };
	assert_int_equal(store_begin(session), STORE_OK);
	assert_int_equal(store_item_add(session, user.id, strtoll(folder, NULL, 10), (const uint8_t *)mime, strlen(mime),
					&meta, &item),
			 STORE_OK);
	assert_int_equal(store_commit(session), STORE_OK);
	store_session_release(&session);
	store_close(&store);
	if (server_id_out != NULL)
		snprintf(server_id_out, size, "%s:%lld", folder, (long long)item);
}

static void deliver(struct fixture *f, const char *folder, const char *mime, char *server_id_out, size_t size)
{
	deliver_to(f, "alice", folder, mime, server_id_out, size);
}

static const char *plain_message(unsigned n)
{
	static char mime[512];
	snprintf(mime, sizeof(mime),
		 "From: Bob <bob@example.org>\r\nTo: alice@localhost\r\nSubject: Message %u\r\n"
		 "Message-ID: <m%u@example.org>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nBody of message %u.\r\n",
		 n, n, n);
	return mime;
}

static struct wbxml_node *post(struct fixture *f, struct easclient *client, const char *command, const char *xml)
{
	assert_int_equal(easclient_post_xml(client, command, xml, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	f->root = easclient_parse(&f->response, f->arena);
	assert_non_null(f->root);
	return f->root;
}

/* Posts ItemOperations with the operations given as XML (the namespaces are declared here). */
static void post_operations(struct fixture *f, struct easclient *client, const char *operations)
{
	size_t size = strlen(operations) + 512;
	char *xml = malloc(size);
	snprintf(xml, size,
		 "<ItemOperations xmlns=\"ItemOperations\" xmlns:airsync=\"AirSync\" xmlns:airsyncbase=\"AirSyncBase\" "
		 "xmlns:search=\"Search\">%s</ItemOperations>",
		 operations);
	assert_int_equal(easclient_post_xml(client, "ItemOperations", xml, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	free(xml);
}

/* The same, answered in WBXML: the parsed answer, also in f->root. */
static struct wbxml_node *item_operations(struct fixture *f, struct easclient *client, const char *operations)
{
	post_operations(f, client, operations);
	f->root = easclient_parse(&f->response, f->arena);
	assert_non_null(f->root);
	return f->root;
}

static const char *text(struct fixture *f, const struct wbxml_node *node, enum wbxml_tag tag)
{
	return easclient_find_text(node, tag, f->arena);
}

/* The request-level Status: the root's own child, not an operation's. */
static const char *request_status(struct fixture *f)
{
	for (const struct wbxml_node *child = f->root->first_child; child != NULL; child = child->next)
		if (child->tag == WBXML_ITEMOPERATIONS_STATUS)
			return arena_strndup(f->arena, child->text.data, child->text.len);
	fail_msg("no request Status");
	return NULL;
}

/* The n-th answer (0-based) inside Response. */
static const struct wbxml_node *answer(struct fixture *f, unsigned n)
{
	const struct wbxml_node *response = easclient_find(f->root, WBXML_ITEMOPERATIONS_RESPONSE);
	assert_non_null(response);
	const struct wbxml_node *child = response->first_child;
	for (unsigned i = 0; i < n && child != NULL; i++)
		child = child->next;
	assert_non_null(child);
	return child;
}

static const char *answer_status(struct fixture *f, unsigned n)
{
	return text(f, answer(f, n), WBXML_ITEMOPERATIONS_STATUS);
}

static bool log_has(struct fixture *f, const char *http_and_status, const char *reason)
{
	return e2e_log_has(&f->server, (const char *const[]){ "\tItemOperations\t", http_and_status, reason, NULL });
}

static void fetch_item_xml(char *xml, size_t size, const char *folder, const char *server_id, const char *options)
{
	snprintf(xml, size,
		 "<Fetch><Store>Mailbox</Store><airsync:CollectionId>%s</airsync:CollectionId>"
		 "<airsync:ServerId>%s</airsync:ServerId>%s</Fetch>",
		 folder, server_id, options != NULL ? options : "");
}

static void fetch_attachment_xml(char *xml, size_t size, const char *reference, const char *range)
{
	char options[160] = "";
	if (range != NULL)
		snprintf(options, sizeof(options), "<Options><Range>%s</Range></Options>", range);
	snprintf(xml, size,
		 "<Fetch><Store>Mailbox</Store><airsyncbase:FileReference>%s</airsyncbase:FileReference>%s</Fetch>",
		 reference, options);
}

static const char plain_text_preference[] =
	"<Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type></airsyncbase:BodyPreference></Options>";

/* A plain fetch of a known item: what every hostile case ends with. */
static void ordinary_request_succeeds(struct fixture *f)
{
	char xml[512];
	fetch_item_xml(xml, sizeof(xml), f->inbox, f->plain, plain_text_preference);
	item_operations(f, f->phone, xml);
	assert_string_equal(request_status(f), "1");
	assert_string_equal(answer_status(f, 0), "1");
	assert_string_equal(text(f, answer(f, 0), WBXML_EMAIL_SUBJECT), "Message 1");
}

/* The attachment's bytes as Data gave them (base64 decoded). */
static uint8_t *data_bytes(struct fixture *f, const struct wbxml_node *fetch, size_t *len_out)
{
	const char *data = text(f, fetch, WBXML_ITEMOPERATIONS_DATA);
	assert_non_null(data);
	gsize len;
	uint8_t *bytes = g_base64_decode(data, &len);
	*len_out = len;
	return bytes;
}

static void assert_pattern(const uint8_t *bytes, size_t len, size_t first)
{
	for (size_t i = 0; i < len; i++)
		if (bytes[i] != pattern(first + i))
			fail_msg("byte %zu is %u, not %u", first + i, bytes[i], pattern(first + i));
}

static const char *folder_of_type(struct fixture *f, const struct wbxml_node *root, const char *type)
{
	for (const struct wbxml_node *add = easclient_find(root, WBXML_FOLDERHIERARCHY_ADD); add != NULL; add = add->next)
		if (strcmp(text(f, add, WBXML_FOLDERHIERARCHY_TYPE), type) == 0)
			return text(f, add, WBXML_FOLDERHIERARCHY_SERVER_ID);
	fail_msg("no folder of type %s", type);
	return NULL;
}

static struct easclient *device(struct fixture *f, const char *user, const char *password, const char *id,
				bool multipart, bool base64_query)
{
	struct easclient_options options = e2e_client_options(&f->server, user, password, id);
	options.accept_multipart = multipart;
	options.base64_query = base64_query;
	struct easclient *client = easclient_new(&options);
	assert_int_equal(easclient_provision(client, NULL), 0);
	return client;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (e2e_start(&f->server, NULL, users) < 0)
		return -1;
	*state = f;
	f->arena = arena_new(0);
	easclient_response_init(&f->response);
	f->phone = device(f, "alice", "correct horse", "PHONE1", false, false);
	post(f, f->phone, "FolderSync", "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>");
	snprintf(f->hierarchy_key, sizeof(f->hierarchy_key), "%s", text(f, f->root, WBXML_FOLDERHIERARCHY_SYNC_KEY));
	const struct wbxml_node *folders = f->root;
	snprintf(f->inbox, sizeof(f->inbox), "%s", folder_of_type(f, folders, "2"));
	snprintf(f->trash, sizeof(f->trash), "%s", folder_of_type(f, folders, "4"));
	snprintf(f->contacts, sizeof(f->contacts), "%s", folder_of_type(f, folders, "9"));
	deliver(f, f->inbox, plain_message(1), f->plain, sizeof(f->plain));
	char *mime = message_with_attachment(ATTACHMENT_SIZE);
	deliver(f, f->inbox, mime, f->with_attachment, sizeof(f->with_attachment));
	free(mime);
	/* The FileReference as a device learns it: from the item's Attachments. */
	char xml[512];
	fetch_item_xml(xml, sizeof(xml), f->inbox, f->with_attachment, NULL);
	item_operations(f, f->phone, xml);
	const char *reference = text(f, f->root, WBXML_AIRSYNCBASE_FILE_REFERENCE);
	assert_non_null(reference);
	snprintf(f->file_reference, sizeof(f->file_reference), "%s", reference);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	easclient_free(&f->phone);
	easclient_response_cleanup(&f->response);
	arena_free(&f->arena);
	int finished = e2e_finish(&f->server);
	free(f);
	return finished;
}

/* ---- Fetch of an item ---- */

static void fetch_by_server_id_gives_the_item_with_a_plain_text_body(void **state)
{
	struct fixture *f = *state;
	char xml[512];
	fetch_item_xml(xml, sizeof(xml), f->inbox, f->plain, plain_text_preference);
	item_operations(f, f->phone, xml);
	assert_string_equal(request_status(f), "1");
	const struct wbxml_node *fetch = answer(f, 0);
	assert_int_equal(fetch->tag, WBXML_ITEMOPERATIONS_FETCH);
	assert_string_equal(text(f, fetch, WBXML_ITEMOPERATIONS_STATUS), "1");
	assert_string_equal(text(f, fetch, WBXML_AIRSYNC_COLLECTION_ID), f->inbox);
	assert_string_equal(text(f, fetch, WBXML_AIRSYNC_SERVER_ID), f->plain);
	assert_string_equal(text(f, fetch, WBXML_AIRSYNC_CLASS), "Email");
	const struct wbxml_node *properties = easclient_find(fetch, WBXML_ITEMOPERATIONS_PROPERTIES);
	assert_non_null(properties);
	assert_string_equal(text(f, properties, WBXML_EMAIL_SUBJECT), "Message 1");
	const struct wbxml_node *body = easclient_find(properties, WBXML_AIRSYNCBASE_BODY);
	assert_non_null(body);
	assert_string_equal(text(f, body, WBXML_AIRSYNCBASE_TYPE), "1");
	assert_non_null(strstr(text(f, body, WBXML_AIRSYNCBASE_DATA), "Body of message 1."));
	assert_true(log_has(f, "\t200\t1\t", "\tPHONE1\t"));
}

static void fetch_of_an_unknown_item_or_collection_gets_status_6(void **state)
{
	struct fixture *f = *state;
	char xml[2048], one[512], unknown_item[48];
	size_t n = 0;
	snprintf(unknown_item, sizeof(unknown_item), "%s:999999", f->inbox);
	fetch_item_xml(one, sizeof(one), f->inbox, unknown_item, NULL);
	n += (size_t)snprintf(xml + n, sizeof(xml) - n, "%s", one);
	fetch_item_xml(one, sizeof(one), "999999", f->plain, NULL);     /* no such collection */
	n += (size_t)snprintf(xml + n, sizeof(xml) - n, "%s", one);
	fetch_item_xml(one, sizeof(one), f->trash, f->plain, NULL);     /* the item is not in that collection */
	n += (size_t)snprintf(xml + n, sizeof(xml) - n, "%s", one);
	fetch_item_xml(one, sizeof(one), f->inbox, "garbage", NULL);
	snprintf(xml + n, sizeof(xml) - n, "%s", one);
	item_operations(f, f->phone, xml);
	assert_string_equal(request_status(f), "1");
	for (unsigned i = 0; i < 4; i++) {
		assert_string_equal(answer_status(f, i), "6");
		assert_null(easclient_find(answer(f, i), WBXML_ITEMOPERATIONS_PROPERTIES));
	}
	assert_string_equal(text(f, answer(f, 0), WBXML_AIRSYNC_SERVER_ID), unknown_item);
	assert_true(log_has(f, "\t200\t6\t", "item_unknown"));
	ordinary_request_succeeds(f);
}

static void another_users_items_and_attachments_are_not_found(void **state)
{
	struct fixture *f = *state;
	struct easclient *bob = device(f, "bob", "battery staple", "BOBPHONE", false, false);
	char xml[1024], one[512];
	fetch_item_xml(xml, sizeof(xml), f->inbox, f->plain, NULL);
	fetch_attachment_xml(one, sizeof(one), f->file_reference, NULL);
	strcat(xml, one);
	item_operations(f, bob, xml);
	assert_string_equal(answer_status(f, 0), "6");
	assert_string_equal(answer_status(f, 1), "15");
	assert_null(easclient_find(f->root, WBXML_ITEMOPERATIONS_DATA));
	easclient_free(&bob);
	ordinary_request_succeeds(f);
}

/* ---- Fetch of an attachment ---- */

static void fetch_attachment_whole_gives_the_decoded_bytes(void **state)
{
	struct fixture *f = *state;
	char xml[512];
	fetch_attachment_xml(xml, sizeof(xml), f->file_reference, NULL);
	item_operations(f, f->phone, xml);
	const struct wbxml_node *fetch = answer(f, 0);
	assert_string_equal(text(f, fetch, WBXML_ITEMOPERATIONS_STATUS), "1");
	assert_string_equal(text(f, fetch, WBXML_AIRSYNCBASE_FILE_REFERENCE), f->file_reference);
	assert_string_equal(text(f, fetch, WBXML_AIRSYNCBASE_CONTENT_TYPE), "application/octet-stream");
	char total[16];
	snprintf(total, sizeof(total), "%u", ATTACHMENT_SIZE);
	assert_string_equal(text(f, fetch, WBXML_ITEMOPERATIONS_TOTAL), total);
	assert_null(easclient_find(fetch, WBXML_ITEMOPERATIONS_RANGE));
	size_t len;
	uint8_t *bytes = data_bytes(f, fetch, &len);
	assert_int_equal(len, ATTACHMENT_SIZE);
	assert_pattern(bytes, len, 0);
	g_free(bytes);
}

static void fetch_attachment_ranges_give_those_bytes_and_the_range_sent(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *asked, *sent;
		size_t first, length;
	} cases[] = {
		{ "0-9", "0-9", 0, 10 },
		{ "1000-1999", "1000-1999", 1000, 1000 },
		{ "2995-5000", "2995-2999", 2995, 5 },  /* past the end: cut to it */
		{ "2999-2999", "2999-2999", 2999, 1 },
	};
	char xml[8192] = "", one[1024];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fetch_attachment_xml(one, sizeof(one), f->file_reference, cases[i].asked);
		strcat(xml, one);
	}
	item_operations(f, f->phone, xml);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct wbxml_node *fetch = answer(f, i);
		assert_string_equal(text(f, fetch, WBXML_ITEMOPERATIONS_STATUS), "1");
		assert_string_equal(text(f, fetch, WBXML_ITEMOPERATIONS_RANGE), cases[i].sent);
		assert_string_equal(text(f, fetch, WBXML_ITEMOPERATIONS_TOTAL), "3000");
		size_t len;
		uint8_t *bytes = data_bytes(f, fetch, &len);
		assert_int_equal(len, cases[i].length);
		assert_pattern(bytes, len, cases[i].first);
		g_free(bytes);
	}
}

static void range_past_the_end_or_malformed_gets_status_8(void **state)
{
	struct fixture *f = *state;
	static const char *const ranges[] = { "3000-3010", "9-0", "abc", "-5", "5-", "1-2-3", "" };
	char xml[8192] = "", one[1024];
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		fetch_attachment_xml(one, sizeof(one), f->file_reference, ranges[i]);
		strcat(xml, one);
	}
	item_operations(f, f->phone, xml);
	assert_string_equal(request_status(f), "1");
	for (unsigned i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		assert_string_equal(answer_status(f, i), "8");
		assert_null(easclient_find(answer(f, i), WBXML_ITEMOPERATIONS_PROPERTIES));
	}
	assert_true(log_has(f, "\t200\t8\t", "range_past_end"));
	ordinary_request_succeeds(f);
}

static void malformed_or_unknown_file_reference_gets_status_15(void **state)
{
	struct fixture *f = *state;
	char references[6][96];
	snprintf(references[0], sizeof(references[0]), "garbage");
	snprintf(references[1], sizeof(references[1]), "%s", f->with_attachment);          /* no index */
	snprintf(references[2], sizeof(references[2]), "%s:1", f->with_attachment);       /* no second attachment */
	snprintf(references[3], sizeof(references[3]), "%s:0", f->plain);                 /* no attachment at all */
	snprintf(references[4], sizeof(references[4]), "%s:999999:0", f->inbox);          /* no such item */
	snprintf(references[5], sizeof(references[5]), "%s:0:0", f->with_attachment);     /* one part too many */
	char xml[8192] = "", one[1024];
	for (size_t i = 0; i < 6; i++) {
		fetch_attachment_xml(one, sizeof(one), references[i], NULL);
		strcat(xml, one);
	}
	/* An empty FileReference is Status 15 as well (MS-ASAIRS FileReference). */
	strcat(xml, "<Fetch><Store>Mailbox</Store><airsyncbase:FileReference></airsyncbase:FileReference></Fetch>");
	item_operations(f, f->phone, xml);
	assert_string_equal(request_status(f), "1");
	for (unsigned i = 0; i < 7; i++)
		assert_string_equal(answer_status(f, i), "15");
	assert_string_equal(text(f, answer(f, 0), WBXML_AIRSYNCBASE_FILE_REFERENCE), "garbage");
	assert_true(log_has(f, "\t200\t15\t", "file_reference_invalid"));
	ordinary_request_succeeds(f);
}

/* ---- multipart ---- */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

struct multipart {
	uint32_t count;
	const uint8_t *part[8];
	uint32_t length[8];
};

/* Checks the layout (MS-ASCMD 2.2.1.10.1.1) of the last response and splits it. */
static void split_multipart(struct fixture *f, struct multipart *m)
{
	const struct buf *body = &f->response.body;
	const char *type = easclient_header(&f->response, f->arena, "Content-Type");
	assert_non_null(type);
	assert_string_equal(type, "application/vnd.ms-sync.multipart");
	assert_true(body->len >= 12);
	m->count = le32(body->data);
	assert_true(m->count >= 1 && m->count <= 8);
	assert_true(body->len >= 4 + 8 * (size_t)m->count);
	size_t expected_offset = 4 + 8 * (size_t)m->count;
	for (uint32_t i = 0; i < m->count; i++) {
		uint32_t offset = le32(body->data + 4 + 8 * i), length = le32(body->data + 8 + 8 * i);
		assert_int_equal(offset, expected_offset); /* back to back, in order */
		assert_true((size_t)offset + length <= body->len);
		m->part[i] = body->data + offset;
		m->length[i] = length;
		expected_offset += length;
	}
	assert_int_equal(expected_offset, body->len);
}

/* Part 0 as WBXML, into f->root. */
static void parse_part0(struct fixture *f, const struct multipart *m)
{
	struct wbxml_node *root;
	assert_int_equal(wbxml_tree_parse(f->arena, m->part[0], m->length[0], NULL, &root, NULL), WBXML_OK);
	assert_int_equal(root->tag, WBXML_ITEMOPERATIONS_ITEM_OPERATIONS);
	f->root = root;
}

static void multipart_fetch(struct fixture *f, struct easclient *client)
{
	char xml[2048], one[512];
	fetch_attachment_xml(xml, sizeof(xml), f->file_reference, NULL);
	fetch_attachment_xml(one, sizeof(one), f->file_reference, "100-199");
	strcat(xml, one);
	fetch_item_xml(one, sizeof(one), f->inbox, f->plain, plain_text_preference);
	strcat(xml, one);
	post_operations(f, client, xml);
	struct multipart m;
	split_multipart(f, &m);
	assert_int_equal(m.count, 3);
	parse_part0(f, &m);
	assert_string_equal(request_status(f), "1");
	assert_null(easclient_find(f->root, WBXML_ITEMOPERATIONS_DATA));
	assert_string_equal(text(f, answer(f, 0), WBXML_ITEMOPERATIONS_PART), "1");
	assert_string_equal(text(f, answer(f, 1), WBXML_ITEMOPERATIONS_PART), "2");
	assert_string_equal(text(f, answer(f, 1), WBXML_ITEMOPERATIONS_RANGE), "100-199");
	assert_int_equal(m.length[1], ATTACHMENT_SIZE);
	assert_pattern(m.part[1], m.length[1], 0);
	assert_int_equal(m.length[2], 100);
	assert_pattern(m.part[2], m.length[2], 100);
	/* An item's body stays inline. */
	assert_string_equal(text(f, answer(f, 2), WBXML_ITEMOPERATIONS_STATUS), "1");
	assert_non_null(strstr(text(f, answer(f, 2), WBXML_AIRSYNCBASE_DATA), "Body of message 1."));
}

static void multipart_by_header_moves_the_bytes_to_parts(void **state)
{
	struct fixture *f = *state;
	struct easclient *client = device(f, "alice", "correct horse", "MULTI1", true, false);
	multipart_fetch(f, client);
	easclient_free(&client);
}

static void multipart_by_query_options_bit_moves_the_bytes_to_parts(void **state)
{
	struct fixture *f = *state;
	struct easclient *client = device(f, "alice", "correct horse", "MULTI2", true, true);
	multipart_fetch(f, client);
	easclient_free(&client);
}

static void multipart_without_payload_is_the_wbxml_alone(void **state)
{
	struct fixture *f = *state;
	struct easclient *client = device(f, "alice", "correct horse", "MULTI3", true, false);
	char xml[512];
	fetch_attachment_xml(xml, sizeof(xml), "garbage", NULL);
	post_operations(f, client, xml);
	struct multipart m;
	split_multipart(f, &m);
	assert_int_equal(m.count, 1);
	parse_part0(f, &m);
	assert_string_equal(answer_status(f, 0), "15");
	easclient_free(&client);
}

/* ---- EmptyFolderContents ---- */

/* One collection's Sync from key (GetChanges unless 0); the answer in f->root. */
static struct wbxml_node *sync_folder(struct fixture *f, const char *folder, const char *key)
{
	char xml[1024];
	snprintf(xml, sizeof(xml),
		 "<Sync xmlns=\"AirSync\"><Collections><Collection><SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>"
		 "%s<WindowSize>100</WindowSize></Collection></Collections></Sync>",
		 key, folder, strcmp(key, "0") != 0 ? "<GetChanges/>" : "");
	post(f, f->phone, "Sync", xml);
	assert_string_equal(text(f, f->root, WBXML_AIRSYNC_STATUS), "1");
	return f->root;
}

/* Syncs folder from 0 until the device has its adds items; returns the key (caller frees). */
static char *synced_key(struct fixture *f, const char *folder, unsigned adds)
{
	char *key = strdup(text(f, sync_folder(f, folder, "0"), WBXML_AIRSYNC_SYNC_KEY));
	sync_folder(f, folder, key);
	assert_int_equal(easclient_count(f->root, WBXML_AIRSYNC_ADD), adds);
	free(key);
	return strdup(text(f, f->root, WBXML_AIRSYNC_SYNC_KEY));
}

static void empty_folder_xml(char *xml, size_t size, const char *folder, bool delete_subfolders)
{
	snprintf(xml, size, "<EmptyFolderContents><airsync:CollectionId>%s</airsync:CollectionId>%s</EmptyFolderContents>",
		 folder, delete_subfolders ? "<Options><DeleteSubFolders/></Options>" : "");
}

static void empty_folder_contents_deletes_every_item_and_sync_sends_the_deletes(void **state)
{
	struct fixture *f = *state;
	char deleted[3][48], xml[512];
	for (unsigned i = 0; i < 3; i++)
		deliver(f, f->trash, plain_message(10 + i), deleted[i], sizeof(deleted[i]));
	char *key = synced_key(f, f->trash, 3);
	empty_folder_xml(xml, sizeof(xml), f->trash, false);
	item_operations(f, f->phone, xml);
	assert_string_equal(request_status(f), "1");
	const struct wbxml_node *emptied = answer(f, 0);
	assert_int_equal(emptied->tag, WBXML_ITEMOPERATIONS_EMPTY_FOLDER_CONTENTS);
	assert_string_equal(text(f, emptied, WBXML_ITEMOPERATIONS_STATUS), "1");
	assert_string_equal(text(f, emptied, WBXML_AIRSYNC_COLLECTION_ID), f->trash);
	/* The device that emptied the folder learns it through Sync, like any other. */
	sync_folder(f, f->trash, key);
	assert_int_equal(easclient_count(f->root, WBXML_AIRSYNC_DELETE), 3);
	assert_int_equal(easclient_count(f->root, WBXML_AIRSYNC_ADD), 0);
	unsigned seen = 0;
	for (const struct wbxml_node *d = easclient_find(f->root, WBXML_AIRSYNC_DELETE); d != NULL; d = d->next)
		for (unsigned i = 0; i < 3; i++)
			seen += strcmp(text(f, d, WBXML_AIRSYNC_SERVER_ID), deleted[i]) == 0;
	assert_int_equal(seen, 3);
	fetch_item_xml(xml, sizeof(xml), f->trash, deleted[0], NULL);
	item_operations(f, f->phone, xml);
	assert_string_equal(answer_status(f, 0), "6");
	/* Emptying an empty folder succeeds too. */
	empty_folder_xml(xml, sizeof(xml), f->trash, false);
	item_operations(f, f->phone, xml);
	assert_string_equal(answer_status(f, 0), "1");
	free(key);
	ordinary_request_succeeds(f); /* the Inbox kept its items */
}

/* Live items in a folder, counted in the store. */
static uint64_t live_items(struct fixture *f, const char *folder)
{
	char path[300], error[256];
	struct store *store;
	uint64_t count;
	snprintf(path, sizeof(path), "%s/data", f->server.dir);
	assert_int_equal(store_open(path, 1, &store, error, sizeof(error)), 0);
	struct store_session *session = store_session_acquire(store);
	assert_int_equal(store_folder_count(session, strtoll(folder, NULL, 10), &count), STORE_OK);
	store_session_release(&session);
	store_close(&store);
	return count;
}

static void empty_folder_contents_of_a_large_folder_deletes_every_item(void **state)
{
	struct fixture *f = *state;
	char xml[512];
	/* More items than one store read takes while emptying (256), and not a multiple of it. */
	for (unsigned i = 0; i < 600; i++)
		deliver(f, f->trash, plain_message(100 + i), NULL, 0);
	assert_int_equal(live_items(f, f->trash), 600);
	empty_folder_xml(xml, sizeof(xml), f->trash, false);
	item_operations(f, f->phone, xml);
	assert_string_equal(answer_status(f, 0), "1");
	assert_int_equal(live_items(f, f->trash), 0);
	assert_int_equal(live_items(f, f->inbox), 2);
}

/* FolderCreate under parent; returns the new ServerId (in the arena) and advances f->hierarchy_key. */
static const char *create_folder(struct fixture *f, const char *parent, const char *name)
{
	char xml[512];
	snprintf(xml, sizeof(xml),
		 "<FolderCreate xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey><ParentId>%s</ParentId>"
		 "<DisplayName>%s</DisplayName><Type>12</Type></FolderCreate>",
		 f->hierarchy_key, parent, name);
	post(f, f->phone, "FolderCreate", xml);
	assert_string_equal(text(f, f->root, WBXML_FOLDERHIERARCHY_STATUS), "1");
	snprintf(f->hierarchy_key, sizeof(f->hierarchy_key), "%s", text(f, f->root, WBXML_FOLDERHIERARCHY_SYNC_KEY));
	return text(f, f->root, WBXML_FOLDERHIERARCHY_SERVER_ID);
}

/* FolderSync from the device's key; the answer in f->root, the key advanced. */
static void folder_sync(struct fixture *f)
{
	char xml[200];
	snprintf(xml, sizeof(xml), "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey></FolderSync>",
		 f->hierarchy_key);
	post(f, f->phone, "FolderSync", xml);
	assert_string_equal(text(f, f->root, WBXML_FOLDERHIERARCHY_STATUS), "1");
	snprintf(f->hierarchy_key, sizeof(f->hierarchy_key), "%s", text(f, f->root, WBXML_FOLDERHIERARCHY_SYNC_KEY));
}

static void delete_subfolders_deletes_the_subfolders_only_when_asked(void **state)
{
	struct fixture *f = *state;
	char xml[512], kept[48];
	const char *sub = create_folder(f, f->trash, "Old");
	const char *below = create_folder(f, sub, "Older");
	deliver(f, sub, plain_message(20), kept, sizeof(kept));
	/* Without DeleteSubFolders: the subfolders and their items stay (2.2.3.44). */
	empty_folder_xml(xml, sizeof(xml), f->trash, false);
	item_operations(f, f->phone, xml);
	assert_string_equal(answer_status(f, 0), "1");
	folder_sync(f);
	assert_int_equal(easclient_count(f->root, WBXML_FOLDERHIERARCHY_DELETE), 0);
	fetch_item_xml(xml, sizeof(xml), sub, kept, NULL);
	item_operations(f, f->phone, xml);
	assert_string_equal(answer_status(f, 0), "1");
	/* With it: both levels go, and FolderSync says so. */
	empty_folder_xml(xml, sizeof(xml), f->trash, true);
	item_operations(f, f->phone, xml);
	assert_string_equal(answer_status(f, 0), "1");
	folder_sync(f);
	assert_int_equal(easclient_count(f->root, WBXML_FOLDERHIERARCHY_DELETE), 2);
	unsigned seen = 0;
	for (const struct wbxml_node *d = easclient_find(f->root, WBXML_FOLDERHIERARCHY_DELETE); d != NULL; d = d->next) {
		const char *id = text(f, d, WBXML_FOLDERHIERARCHY_SERVER_ID);
		seen += strcmp(id, sub) == 0 || strcmp(id, below) == 0;
	}
	assert_int_equal(seen, 2);
	ordinary_request_succeeds(f);
}

static void empty_folder_contents_of_unknown_or_non_mail_folder_is_refused(void **state)
{
	struct fixture *f = *state;
	char xml[2048], one[256];
	empty_folder_xml(xml, sizeof(xml), "999999", false);
	empty_folder_xml(one, sizeof(one), "abc", false);
	strcat(xml, one);
	empty_folder_xml(one, sizeof(one), f->contacts, false);
	strcat(xml, one);
	strcat(xml, "<EmptyFolderContents><Options><DeleteSubFolders/></Options></EmptyFolderContents>");
	item_operations(f, f->phone, xml);
	assert_string_equal(request_status(f), "1");
	assert_string_equal(answer_status(f, 0), "6");
	assert_string_equal(answer_status(f, 1), "6");
	assert_string_equal(answer_status(f, 2), "156");
	assert_string_equal(answer_status(f, 3), "2");
	assert_string_equal(text(f, answer(f, 0), WBXML_AIRSYNC_COLLECTION_ID), "999999");
	assert_true(log_has(f, "\t200\t6\t", "collection_unknown"));
	ordinary_request_succeeds(f);
}

/* ---- stores, Move, request-level checks ---- */

static void fetch_outside_the_mailbox_store_or_naming_nothing_is_refused(void **state)
{
	struct fixture *f = *state;
	char xml[2048];
	snprintf(xml, sizeof(xml),
		 "<Fetch><Store>Document Library</Store><airsync:CollectionId>%s</airsync:CollectionId>"
		 "<airsync:ServerId>%s</airsync:ServerId></Fetch>"
		 "<Fetch><airsync:CollectionId>%s</airsync:CollectionId><airsync:ServerId>%s</airsync:ServerId></Fetch>"
		 "<Fetch><Store>Mailbox</Store><search:LongId>RgAAAA</search:LongId></Fetch>"
		 "<Fetch><Store>Mailbox</Store></Fetch>"
		 "<Fetch><Store>Mailbox</Store><airsync:CollectionId>%s</airsync:CollectionId></Fetch>"
		 "<Fetch><Store>mailbox</Store><airsync:CollectionId>%s</airsync:CollectionId>"
		 "<airsync:ServerId>%s</airsync:ServerId></Fetch>",
		 f->inbox, f->plain, f->inbox, f->plain, f->inbox, f->inbox, f->plain);
	item_operations(f, f->phone, xml);
	assert_string_equal(request_status(f), "1");
	assert_string_equal(answer_status(f, 0), "9");  /* the store is unknown or unsupported */
	assert_string_equal(answer_status(f, 1), "2");  /* Store is required */
	assert_string_equal(answer_status(f, 2), "6");  /* easd hands out no LongIds yet */
	assert_string_equal(answer_status(f, 3), "2");
	assert_string_equal(answer_status(f, 4), "2");
	assert_string_equal(answer_status(f, 5), "1");  /* the store's name is not case-sensitive */
	assert_true(log_has(f, "\t200\t9\t", "store_unknown"));
	ordinary_request_succeeds(f);
}

static void conversation_move_gets_action_not_supported(void **state)
{
	struct fixture *f = *state;
	char xml[512];
	snprintf(xml, sizeof(xml),
		 "<Move><ConversationId>conversation-1</ConversationId><DstFldId>%s</DstFldId>"
		 "<Options><MoveAlways/></Options></Move>",
		 f->trash);
	item_operations(f, f->phone, xml);
	assert_string_equal(request_status(f), "1");
	const struct wbxml_node *moved = answer(f, 0);
	assert_int_equal(moved->tag, WBXML_ITEMOPERATIONS_MOVE);
	assert_string_equal(text(f, moved, WBXML_ITEMOPERATIONS_STATUS), "156");
	const struct wbxml_node *id = easclient_find(moved, WBXML_ITEMOPERATIONS_CONVERSATION_ID);
	assert_non_null(id);
	assert_int_equal(id->text.len, strlen("conversation-1"));
	assert_memory_equal(id->text.data, "conversation-1", id->text.len);
	assert_true(log_has(f, "\t200\t156\t", "conversation_move_not_supported"));
	ordinary_request_succeeds(f);
}

static void operations_at_the_limit_are_served_one_past_gets_status_2(void **state)
{
	struct fixture *f = *state;
	static const char one[] = "<Fetch><Store>Mailbox</Store><search:LongId>x</search:LongId></Fetch>";
	size_t size = (LIMIT_ITEMOPERATIONS_OPERATIONS + 1) * sizeof(one) + 1;
	char *xml = calloc(1, size);
	for (unsigned i = 0; i < LIMIT_ITEMOPERATIONS_OPERATIONS; i++)
		strcat(xml, one);
	item_operations(f, f->phone, xml);
	assert_string_equal(request_status(f), "1");
	assert_int_equal(easclient_count(f->root, WBXML_ITEMOPERATIONS_FETCH), LIMIT_ITEMOPERATIONS_OPERATIONS);
	strcat(xml, one);
	item_operations(f, f->phone, xml);
	assert_string_equal(request_status(f), "2");
	assert_null(easclient_find(f->root, WBXML_ITEMOPERATIONS_RESPONSE));
	assert_true(log_has(f, "\t200\t2\t", "too_many_operations"));
	free(xml);
	ordinary_request_succeeds(f);
}

/* ---- byte limits (multipart, so the test reads raw bytes) ---- */

static void range_xml(char *xml, size_t size, const char *reference, uint64_t first, uint64_t last)
{
	char range[48];
	snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)first, (unsigned long long)last);
	fetch_attachment_xml(xml, size, reference, range);
}

static void assert_range_part(struct fixture *f, const struct multipart *m, unsigned n, uint64_t first,
			      uint64_t last)
{
	char range[48];
	snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)first, (unsigned long long)last);
	assert_string_equal(answer_status(f, n), "1");
	assert_string_equal(text(f, answer(f, n), WBXML_ITEMOPERATIONS_RANGE), range);
	const char *index = text(f, answer(f, n), WBXML_ITEMOPERATIONS_PART);
	assert_non_null(index);
	unsigned p = (unsigned)strtoul(index, NULL, 10);
	assert_true(p >= 1 && p < m->count);
	assert_int_equal(m->length[p], last - first + 1);
	assert_pattern(m->part[p], m->length[p], first);
}

/*
 * The last attachment Fetch of a request is streamed, past LIMIT_FETCH_BYTES;
 * the ones before it are built in memory, under that limit and the budget.
 */
static void fetch_byte_limits_cut_ranges_and_refuse_whole_attachments(void **state)
{
	struct fixture *f = *state;
	const uint64_t limit = LIMIT_FETCH_BYTES, budget = LIMIT_FETCH_RESPONSE_BYTES;
	struct easclient *client = device(f, "alice", "correct horse", "MULTI4", true, false);
	char big[48], reference[64], xml[2048], one[512];
	char *mime = message_with_attachment(limit + 1);
	deliver(f, f->inbox, mime, big, sizeof(big));
	free(mime);
	snprintf(reference, sizeof(reference), "%s:0", big);
	struct multipart m;

	/* In memory, one byte past LIMIT_FETCH_BYTES whole: Status 11; streamed, a range of exactly the limit. */
	fetch_attachment_xml(xml, sizeof(xml), reference, NULL);
	range_xml(one, sizeof(one), reference, 1, limit);
	strcat(xml, one);
	post_operations(f, client, xml);
	split_multipart(f, &m);
	parse_part0(f, &m);
	assert_string_equal(answer_status(f, 0), "11");
	assert_range_part(f, &m, 1, 1, limit);
	assert_true(log_has(f, "\t200\t11\t", "attachment_too_large"));

	/* In memory, a range one byte longer than the limit is cut to it (best effort, 2.2.3.143.2);
	   streamed, it is not, and the whole attachment comes too. */
	range_xml(xml, sizeof(xml), reference, 0, limit);
	fetch_attachment_xml(one, sizeof(one), reference, NULL);
	strcat(xml, one);
	post_operations(f, client, xml);
	split_multipart(f, &m);
	parse_part0(f, &m);
	assert_range_part(f, &m, 0, 0, limit - 1);
	assert_string_equal(answer_status(f, 1), "1");
	assert_int_equal(m.length[2], limit + 1);
	assert_pattern(m.part[2], m.length[2], 0);

	/* The response's budget: the second range gets exactly what is left, the third nothing;
	   the streamed fourth does not draw on it. */
	range_xml(xml, sizeof(xml), reference, 0, limit - 1);
	range_xml(one, sizeof(one), reference, 0, budget - limit - 1);
	strcat(xml, one);
	range_xml(one, sizeof(one), reference, 0, 0);
	strcat(xml, one);
	range_xml(one, sizeof(one), reference, 5, 9);
	strcat(xml, one);
	post_operations(f, client, xml);
	split_multipart(f, &m);
	parse_part0(f, &m);
	assert_range_part(f, &m, 0, 0, limit - 1);
	assert_range_part(f, &m, 1, 0, budget - limit - 1);
	assert_string_equal(answer_status(f, 2), "11");
	assert_range_part(f, &m, 3, 5, 9);
	assert_true(log_has(f, "\t200\t11\t", "response_bytes_spent"));
	easclient_free(&client);
	ordinary_request_succeeds(f);
}

/* ---- streamed attachments (several MB, read from the store window by window) ---- */

/* Not a multiple of the 64 KB windows, nor of 3 (base64) or 57 (a base64 line). */
#define LARGE_SIZE (5u * 1024 * 1024 + 12345)

static void deliver_large(struct fixture *f, char *reference, size_t size)
{
	char server_id[48];
	char *mime = message_with_attachment(LARGE_SIZE);
	deliver(f, f->inbox, mime, server_id, sizeof(server_id));
	free(mime);
	snprintf(reference, size, "%s:0", server_id);
}

static void streamed_inline(struct fixture *f, const char *reference, const char *range, size_t first,
			    size_t length)
{
	char xml[512], total[24];
	fetch_attachment_xml(xml, sizeof(xml), reference, range);
	item_operations(f, f->phone, xml);
	assert_string_equal(answer_status(f, 0), "1");
	snprintf(total, sizeof(total), "%u", LARGE_SIZE);
	assert_string_equal(text(f, answer(f, 0), WBXML_ITEMOPERATIONS_TOTAL), total);
	size_t len;
	uint8_t *bytes = data_bytes(f, answer(f, 0), &len);
	assert_int_equal(len, length);
	assert_pattern(bytes, len, first);
	g_free(bytes);
}

static void large_attachment_is_streamed_inline_whole_and_by_range(void **state)
{
	struct fixture *f = *state;
	char reference[64], range[64], bytes_out[64];
	deliver_large(f, reference, sizeof(reference));
	streamed_inline(f, reference, NULL, 0, LARGE_SIZE);
	/* The access log counts the bytes as sent, once the response is complete. */
	snprintf(bytes_out, sizeof(bytes_out), "\t%zu\t", f->response.body.len);
	assert_true(e2e_log_has(&f->server, (const char *const[]){ "\tItemOperations\t", "\t200\t1\t", bytes_out, NULL }));
	/* A Range at the end, running past it: cut to the last byte. */
	snprintf(range, sizeof(range), "%u-%u", LARGE_SIZE - 70000, LARGE_SIZE + 5000);
	streamed_inline(f, reference, range, LARGE_SIZE - 70000, 70000);
	snprintf(range, sizeof(range), "%u-%u", LARGE_SIZE - 70000, LARGE_SIZE - 1);
	assert_string_equal(text(f, answer(f, 0), WBXML_ITEMOPERATIONS_RANGE), range);
	/* Past the end: Status 8, as for an attachment built in memory. */
	snprintf(range, sizeof(range), "%u-%u", LARGE_SIZE, LARGE_SIZE + 10);
	char xml[512];
	fetch_attachment_xml(xml, sizeof(xml), reference, range);
	item_operations(f, f->phone, xml);
	assert_string_equal(answer_status(f, 0), "8");
	ordinary_request_succeeds(f);
}

static void large_attachment_is_streamed_as_the_last_part(void **state)
{
	struct fixture *f = *state;
	struct easclient *client = device(f, "alice", "correct horse", "MULTI5", true, false);
	char reference[64], xml[2048], one[512], range[64];
	deliver_large(f, reference, sizeof(reference));
	/* A small attachment in memory, then the large one streamed, then an item after it. */
	fetch_attachment_xml(xml, sizeof(xml), f->file_reference, "0-99");
	fetch_attachment_xml(one, sizeof(one), reference, NULL);
	strcat(xml, one);
	fetch_item_xml(one, sizeof(one), f->inbox, f->plain, plain_text_preference);
	strcat(xml, one);
	post_operations(f, client, xml);
	struct multipart m;
	split_multipart(f, &m);
	assert_int_equal(m.count, 3);
	parse_part0(f, &m);
	assert_string_equal(text(f, answer(f, 0), WBXML_ITEMOPERATIONS_PART), "1");
	assert_int_equal(m.length[1], 100);
	assert_pattern(m.part[1], m.length[1], 0);
	assert_string_equal(text(f, answer(f, 1), WBXML_ITEMOPERATIONS_PART), "2");
	assert_int_equal(m.length[2], LARGE_SIZE);
	assert_pattern(m.part[2], m.length[2], 0);
	assert_string_equal(answer_status(f, 2), "1");
	assert_non_null(strstr(text(f, answer(f, 2), WBXML_AIRSYNCBASE_DATA), "Body of message 1."));
	/* A Range at the end. */
	snprintf(range, sizeof(range), "%u-%u", LARGE_SIZE - 100000, LARGE_SIZE - 1);
	fetch_attachment_xml(xml, sizeof(xml), reference, range);
	post_operations(f, client, xml);
	split_multipart(f, &m);
	parse_part0(f, &m);
	assert_range_part(f, &m, 0, LARGE_SIZE - 100000, LARGE_SIZE - 1);
	easclient_free(&client);
	ordinary_request_succeeds(f);
}

/* A streamed body is sent as it is made, never gzipped, even to a client that asks for gzip. */
static void streamed_attachment_is_not_gzipped(void **state)
{
	struct fixture *f = *state;
	char reference[64], xml[512];
	deliver_large(f, reference, sizeof(reference));
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", "GZIP1");
	options.accept_gzip = true;
	struct easclient *client = easclient_new(&options);
	assert_int_equal(easclient_provision(client, NULL), 0);
	fetch_attachment_xml(xml, sizeof(xml), reference, "0-99999");
	item_operations(f, client, xml);
	assert_null(easclient_header(&f->response, f->arena, "Content-Encoding"));
	size_t len;
	uint8_t *bytes = data_bytes(f, answer(f, 0), &len);
	assert_int_equal(len, 100000);
	assert_pattern(bytes, len, 0);
	g_free(bytes);
	easclient_free(&client);
	ordinary_request_succeeds(f);
}

/* A plain TCP connection with a small receive buffer, so easd stops writing until it is read. */
static int connect_slow(struct fixture *f)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int small = 16 * 1024;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(f->server.port) };
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
	return fd;
}

/* Sends an ItemOperations request for the attachment as device SLOW1 (provisioned by policy_client). */
static void send_fetch(int fd, const char *reference, uint32_t policy_key)
{
	char xml[1024], head[1024];
	struct buf body;
	buf_init(&body, 0);
	snprintf(xml, sizeof(xml),
		 "<ItemOperations xmlns=\"ItemOperations\" xmlns:airsyncbase=\"AirSyncBase\"><Fetch><Store>Mailbox</Store>"
		 "<airsyncbase:FileReference>%s</airsyncbase:FileReference></Fetch></ItemOperations>",
		 reference);
	assert_int_equal(wbxml_from_xml(xml, strlen(xml), false, &body, NULL), 0);
	gchar *credentials = g_base64_encode((const guchar *)"alice:correct horse", 19);
	int n = snprintf(head, sizeof(head),
			 "POST /Microsoft-Server-ActiveSync?Cmd=ItemOperations&User=alice&DeviceId=SLOW1&DeviceType=test "
			 "HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\nMS-ASProtocolVersion: 14.1\r\n"
			 "X-MS-PolicyKey: %u\r\nContent-Type: application/vnd.ms-sync.wbxml\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 credentials, policy_key, body.len);
	g_free(credentials);
	assert_int_equal(write(fd, head, (size_t)n), n);
	assert_int_equal(write(fd, body.data, body.len), (ssize_t)body.len);
	buf_cleanup(&body);
}

static void delete_item(struct fixture *f, const char *server_id)
{
	char path[300], error[256];
	struct store *store;
	struct store_user user;
	snprintf(path, sizeof(path), "%s/data", f->server.dir);
	assert_int_equal(store_open(path, 1, &store, error, sizeof(error)), 0);
	struct store_session *session = store_session_acquire(store);
	assert_int_equal(store_user_find(session, f->arena, "alice", &user), STORE_OK);
	int64_t folder = strtoll(server_id, NULL, 10);
	int64_t item = strtoll(strchr(server_id, ':') + 1, NULL, 10);
	assert_int_equal(store_item_delete(session, user.id, folder, item, NULL), STORE_OK);
	store_session_release(&session);
	store_close(&store);
}

/*
 * The item deleted while its attachment is being sent: easd gives no
 * bytes it no longer has, cuts the response short, and logs why.
 */
static void attachment_deleted_mid_stream_cuts_the_response(void **state)
{
	struct fixture *f = *state;
	char server_id[48], reference[64];
	char *mime = message_with_attachment(20u * 1024 * 1024);
	deliver(f, f->inbox, mime, server_id, sizeof(server_id));
	free(mime);
	snprintf(reference, sizeof(reference), "%s:0", server_id);
	struct easclient *client = device(f, "alice", "correct horse", "SLOW1", false, false);
	int fd = connect_slow(f);
	send_fetch(fd, reference, easclient_policy_key(client));
	char buffer[65536];
	ssize_t n = read(fd, buffer, sizeof(buffer) - 1);
	assert_true(n > 0);
	buffer[n] = '\0';
	assert_non_null(strstr(buffer, "200"));
	const char *length = strcasestr(buffer, "Content-Length:");
	assert_non_null(length);
	uint64_t declared = strtoull(length + 15, NULL, 10);
	usleep(200 * 1000); /* easd fills the socket buffers and waits */
	delete_item(f, server_id);
	uint64_t received = (uint64_t)n;
	while ((n = read(fd, buffer, sizeof(buffer))) > 0)
		received += (uint64_t)n;
	close(fd);
	assert_true(received < declared);
	assert_true(log_has(f, "\t200\t1\t", "attachment_gone"));
	easclient_free(&client);
	ordinary_request_succeeds(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(fetch_by_server_id_gives_the_item_with_a_plain_text_body, setup, teardown),
		cmocka_unit_test_setup_teardown(fetch_of_an_unknown_item_or_collection_gets_status_6, setup, teardown),
		cmocka_unit_test_setup_teardown(another_users_items_and_attachments_are_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(fetch_attachment_whole_gives_the_decoded_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(fetch_attachment_ranges_give_those_bytes_and_the_range_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(range_past_the_end_or_malformed_gets_status_8, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_or_unknown_file_reference_gets_status_15, setup, teardown),
		cmocka_unit_test_setup_teardown(multipart_by_header_moves_the_bytes_to_parts, setup, teardown),
		cmocka_unit_test_setup_teardown(multipart_by_query_options_bit_moves_the_bytes_to_parts, setup, teardown),
		cmocka_unit_test_setup_teardown(multipart_without_payload_is_the_wbxml_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_folder_contents_deletes_every_item_and_sync_sends_the_deletes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(empty_folder_contents_of_a_large_folder_deletes_every_item, setup, teardown),
		cmocka_unit_test_setup_teardown(delete_subfolders_deletes_the_subfolders_only_when_asked, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_folder_contents_of_unknown_or_non_mail_folder_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(fetch_outside_the_mailbox_store_or_naming_nothing_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(conversation_move_gets_action_not_supported, setup, teardown),
		cmocka_unit_test_setup_teardown(operations_at_the_limit_are_served_one_past_gets_status_2, setup, teardown),
		cmocka_unit_test_setup_teardown(fetch_byte_limits_cut_ranges_and_refuse_whole_attachments, setup, teardown),
		cmocka_unit_test_setup_teardown(large_attachment_is_streamed_inline_whole_and_by_range, setup, teardown),
		cmocka_unit_test_setup_teardown(large_attachment_is_streamed_as_the_last_part, setup, teardown),
		cmocka_unit_test_setup_teardown(streamed_attachment_is_not_gzipped, setup, teardown),
		cmocka_unit_test_setup_teardown(attachment_deleted_mid_stream_cuts_the_response, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
