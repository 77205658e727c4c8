/*
 * itemoperations.c: the ItemOperations command (MS-ASCMD 2.2.1.10).
 *
 *   Fetch{Store Mailbox, airsync:CollectionId + airsync:ServerId}: a mail
 *     item with the same elements Sync sends, its body per the Options
 *     (BodyPreference, MIMESupport);
 *   Fetch{Store Mailbox, airsyncbase:FileReference}: an attachment, whole
 *     or a byte Range of it; the reference is "folder:item:index" as
 *     pim_email_write numbers attachments;
 *   EmptyFolderContents{airsync:CollectionId, Options{DeleteSubFolders}?}:
 *     deletes every item of a mail folder (tombstones: Sync then sends
 *     Deletes) and with the option its subfolders, in one transaction;
 *   Move{ConversationId, DstFldId}: conversations are not served.
 *
 * Check: the request is read into a list of at most
 * LIMIT_ITEMOPERATIONS_OPERATIONS operations. Run and encode: one
 * operation at a time, in request order, each with its own Status, after
 * the request-level Status 1. What an operation loads lives in a scratch
 * arena freed once it is written, so the request holds one message at a
 * time; the fetched bytes of one response stop at
 * LIMIT_FETCH_RESPONSE_BYTES.
 *
 * Messages are read by ranges (eas_content_source), never copied whole.
 * The last attachment Fetch of a request is streamed: its bytes are not
 * in the response when the handler returns but read from the store and
 * decoded a window at a time while it is sent (content.c), so a 100 MB
 * attachment costs no memory and LIMIT_FETCH_BYTES does not apply to it
 * (LIMIT_FETCH_STREAM_BYTES does). Earlier attachment Fetches of the same
 * request are built in memory under LIMIT_FETCH_BYTES and the budget. The
 * last one is chosen because its bytes then come last in a multipart body
 * (the streamed part is the last part) and nothing that would need
 * memory follows it. A forwarded message (message/rfc822) is written anew
 * by GMime, not a range of the stored bytes, so it is always built in
 * memory.
 *
 * Multipart (MS-ASCMD 2.2.1.10.1, asked for with MS-ASAcceptMultiPart: T
 * or the query's Options bit): part 0 is the WBXML; each attachment's
 * bytes are a part of their own and Part names it where Data would be.
 * The bodies of fetched items stay inline (pim_email_write writes them).
 *
 * Must not: parse MIME (pim/ does), or reach a folder of another user:
 * every id is looked up among the user's folders first.
 */
#include "eas/eas_private.h"
#include "guard/limits.h"
#include "pim/email.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Operation statuses (MS-ASCMD 2.2.3.177.8; data/status.tsv, ItemOperations). */
enum operation_status {
	OPERATION_SUCCESS = 1,
	OPERATION_PROTOCOL_ERROR = 2,
	OPERATION_SERVER_ERROR = 3,
	OPERATION_NOT_FOUND = 6,            /* "the object was not found or access denied", item scope */
	OPERATION_INVALID_RANGE = 8,
	OPERATION_UNKNOWN_STORE = 9,
	OPERATION_TOO_LARGE = 11,
	OPERATION_INVALID_ATTACHMENT = 15,  /* the attachment or its FileReference is invalid */
	OPERATION_ACTION_NOT_SUPPORTED = 156,
};

enum operation_kind {
	OPERATION_FETCH,
	OPERATION_EMPTY_FOLDER_CONTENTS,
	OPERATION_MOVE,
};

/* An element's text, borrowed from the body; given false when absent. */
struct field {
	bool given;
	struct slice text;
};

struct operation {
	enum operation_kind kind;
	struct field store, collection_id, server_id, file_reference, long_id, range, conversation_id;
	bool delete_subfolders;
	struct pim_options options;
};

/* A multipart part after part 0: where its bytes are in context.parts. */
struct part {
	size_t offset, length;
};

struct context {
	struct eas_request *request;
	const struct operation *streamed_op; /* the last attachment Fetch, or NULL */
	bool streaming;                      /* its payload was located: the response streams it */
	struct eas_content_payload payload;
	size_t payload_mark;                 /* inline: where in the WBXML its Data goes */
	struct wbxml_writer writer;
	struct operation *operations;
	unsigned operation_count, operation_capacity;
	bool multipart;
	struct buf parts;           /* multipart: the attachments' bytes, one after the other */
	struct part *part_list;
	unsigned part_count;
	uint64_t bytes_left;        /* of LIMIT_FETCH_RESPONSE_BYTES */
	bool payload_sent;
};

/* ---- check: the request ---- */

static struct field *field_of(struct operation *op, enum wbxml_tag tag)
{
	switch (tag) {
	case WBXML_ITEMOPERATIONS_STORE: return &op->store;
	case WBXML_AIRSYNC_COLLECTION_ID: return &op->collection_id;
	case WBXML_AIRSYNC_SERVER_ID: return &op->server_id;
	case WBXML_AIRSYNCBASE_FILE_REFERENCE: return &op->file_reference;
	case WBXML_SEARCH_LONG_ID: return &op->long_id;
	case WBXML_ITEMOPERATIONS_CONVERSATION_ID: return &op->conversation_id;
	default: return NULL;
	}
}

/* Options of any operation: Range and the body options (Fetch), DeleteSubFolders (an empty element, 2.2.3.44). */
static int read_options(struct wbxml_reader *reader, struct operation *op)
{
	struct wbxml_event event;
	int more;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		int status;
		if (event.tag == WBXML_ITEMOPERATIONS_RANGE) {
			op->range.given = true;
			status = eas_read_text(reader, &op->range.text);
		} else if (event.tag == WBXML_ITEMOPERATIONS_DELETE_SUB_FOLDERS) {
			op->delete_subfolders = true;
			status = wbxml_reader_skip(reader);
		} else if ((status = eas_body_option_read(reader, event.tag, &op->options)) == 0) {
			status = wbxml_reader_skip(reader);
		}
		if (status < 0)
			return -1;
	}
	return more < 0 ? -1 : 0;
}

static int read_operation(struct wbxml_reader *reader, struct operation *op)
{
	struct wbxml_event event;
	int more;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		struct field *field = field_of(op, event.tag);
		int status;
		if (event.tag == WBXML_ITEMOPERATIONS_OPTIONS) {
			status = read_options(reader, op);
		} else if (field != NULL) {
			field->given = true;
			status = eas_read_text(reader, &field->text);
		} else {
			status = wbxml_reader_skip(reader);
		}
		if (status < 0)
			return -1;
	}
	return more < 0 ? -1 : 0;
}

static bool operation_kind_of(enum wbxml_tag tag, enum operation_kind *kind_out)
{
	switch (tag) {
	case WBXML_ITEMOPERATIONS_FETCH: *kind_out = OPERATION_FETCH; return true;
	case WBXML_ITEMOPERATIONS_EMPTY_FOLDER_CONTENTS: *kind_out = OPERATION_EMPTY_FOLDER_CONTENTS; return true;
	case WBXML_ITEMOPERATIONS_MOVE: *kind_out = OPERATION_MOVE; return true;
	default: return false;
	}
}

/* A new zeroed operation; NULL past LIMIT_ITEMOPERATIONS_OPERATIONS. */
static struct operation *add_operation(struct context *ctx)
{
	if (ctx->operation_count == LIMIT_ITEMOPERATIONS_OPERATIONS)
		return NULL;
	ctx->operations = arena_grow(ctx->request->arena, ctx->operations, sizeof(*ctx->operations),
				     ctx->operation_count, &ctx->operation_capacity, 4);
	return &ctx->operations[ctx->operation_count++];
}

/* Reads the root's operations. Returns 0, or -1 with *reason_out (the request's Status 2). */
static int read_request(struct context *ctx, const char **reason_out)
{
	struct eas_request *r = ctx->request;
	struct wbxml_reader reader;
	struct wbxml_event event;
	enum operation_kind kind;
	*reason_out = "request_invalid";
	wbxml_reader_init(&reader, r->body.data, r->body.len, NULL);
	if (wbxml_reader_next(&reader, &event) < 0 || event.type != WBXML_EVENT_START)
		return -1;
	for (;;) {
		if (wbxml_reader_next(&reader, &event) < 0)
			return -1;
		if (event.type == WBXML_EVENT_END || event.type == WBXML_EVENT_DONE)
			return 0;
		if (event.type != WBXML_EVENT_START)
			continue;
		if (!operation_kind_of(event.tag, &kind)) {
			if (wbxml_reader_skip(&reader) < 0)
				return -1;
			continue;
		}
		struct operation *op = add_operation(ctx);
		if (op == NULL) {
			*reason_out = "too_many_operations";
			return -1;
		}
		op->kind = kind;
		op->options.protocol_version = r->protocol_version;
		if (read_operation(&reader, op) < 0)
			return -1;
	}
}

/* ---- run: helpers ---- */

static void note_status(struct context *ctx, int status, const char *reason)
{
	/* The log shows the first operation that did not succeed. */
	if (status != OPERATION_SUCCESS && ctx->request->eas_status <= OPERATION_SUCCESS) {
		ctx->request->eas_status = status;
		ctx->request->reason = reason;
	}
}

/* A store failure other than "not found" is the server's. */
static int store_failure(int store_status, int not_found_status, const char **reason_out)
{
	*reason_out = store_status == STORE_NOT_FOUND ? *reason_out : "store_error";
	return store_status == STORE_NOT_FOUND ? not_found_status : OPERATION_SERVER_ERROR;
}

/* 156 is a common status from 14.0 on; 12.1 knows no closer word than a protocol error. */
static int not_supported_status(const struct eas_request *r)
{
	return r->protocol_version >= 140 ? OPERATION_ACTION_NOT_SUPPORTED : OPERATION_PROTOCOL_ERROR;
}

static bool slice_equals_nocase(struct slice s, const char *cstr)
{
	size_t n = strlen(cstr);
	return s.len == n && strncasecmp((const char *)s.data, cstr, n) == 0;
}

/*
 * Whether a payload of weight bytes still fits the response, and takes it
 * if so. The first always fits, however large: a device must be able to
 * fetch any single item.
 */
static bool take_budget(struct context *ctx, uint64_t weight)
{
	if (ctx->payload_sent && weight > ctx->bytes_left)
		return false;
	ctx->bytes_left = weight > ctx->bytes_left ? 0 : ctx->bytes_left - weight;
	ctx->payload_sent = true;
	return true;
}

static void write_field(struct wbxml_writer *writer, enum wbxml_tag tag, const struct field *field)
{
	if (field->given)
		wbxml_writer_element_string(writer, tag, field->text.data, field->text.len);
}

/* ---- Fetch of an item ---- */

struct item_fetch {
	struct store_folder folder;
	const struct pim_class *class; /* the folder's */
	struct store_item item;
	struct pim_source source;
};

static int check_item(struct context *ctx, struct arena *scratch, const struct operation *op,
		      struct item_fetch *fetch, const char **reason)
{
	struct eas_request *r = ctx->request;
	int64_t folder_id, item_id;
	int status;
	*reason = "collection_unknown";
	if (eas_folder_id_parse(op->collection_id.text, &folder_id) < 0)
		return OPERATION_NOT_FOUND;
	if ((status = eas_folder_get(r, scratch, folder_id, &fetch->folder)) != STORE_OK)
		return store_failure(status, OPERATION_NOT_FOUND, reason);
	*reason = "item_unknown";
	if (eas_server_id_parse(op->server_id.text, folder_id, &item_id) < 0)
		return OPERATION_NOT_FOUND;
	if ((status = store_item_get(r->session, scratch, folder_id, item_id, &fetch->item)) != STORE_OK)
		return store_failure(status, OPERATION_NOT_FOUND, reason);
	if (fetch->item.deleted)
		return OPERATION_NOT_FOUND;
	fetch->class = pim_class_for_folder(fetch->folder.type);
	if (!take_budget(ctx, fetch->class->estimated_bytes(&op->options, fetch->item.size))) {
		*reason = "response_bytes_spent";
		return OPERATION_TOO_LARGE;
	}
	if ((status = eas_content_source(r, scratch, folder_id, item_id, &fetch->source)) != STORE_OK)
		return store_failure(status, OPERATION_NOT_FOUND, reason);
	*reason = NULL;
	return OPERATION_SUCCESS;
}

/* Fetch{Status, CollectionId, ServerId, Class, Properties{the item's elements, as its class writes them}} (2.2.3.67.1). */
static void fetch_item(struct context *ctx, const struct operation *op)
{
	struct wbxml_writer *writer = &ctx->writer;
	struct arena *scratch = arena_new(0);
	struct item_fetch fetch;
	const char *reason;
	int status = check_item(ctx, scratch, op, &fetch, &reason);
	note_status(ctx, status, reason);
	wbxml_writer_start(writer, WBXML_ITEMOPERATIONS_FETCH);
	wbxml_writer_element_uint(writer, WBXML_ITEMOPERATIONS_STATUS, (uint64_t)status);
	write_field(writer, WBXML_AIRSYNC_COLLECTION_ID, &op->collection_id);
	write_field(writer, WBXML_AIRSYNC_SERVER_ID, &op->server_id);
	if (status == OPERATION_SUCCESS) {
		struct pim_email_state state;
		struct pim_item item = { &fetch.source, &state };
		eas_email_state(scratch, fetch.folder.id, &fetch.item, &state);
		state.user = ctx->request->user.name;
		wbxml_writer_element_cstr(writer, WBXML_AIRSYNC_CLASS, fetch.class->name);
		wbxml_writer_start(writer, WBXML_ITEMOPERATIONS_PROPERTIES);
		fetch.class->write(fetch.class, writer, scratch, &item, &op->options, true);
		wbxml_writer_end(writer);
	}
	wbxml_writer_end(writer);
	arena_free(&scratch);
}

/* ---- Fetch of an attachment ---- */

/* "folder:item:index", each part decimal. Returns 0 or -1. */
static int parse_file_reference(struct slice text, int64_t *folder_out, int64_t *item_out, unsigned *index_out)
{
	const uint8_t *colon = text.len > 0 ? memchr(text.data, ':', text.len) : NULL;
	const uint8_t *last = NULL;
	for (size_t i = text.len; i > 0 && last == NULL; i--)
		if (text.data[i - 1] == ':')
			last = text.data + i - 1;
	uint64_t index;
	if (colon == NULL || last == colon)
		return -1;
	struct slice server_id = { text.data, (size_t)(last - text.data) };
	struct slice folder = { text.data, (size_t)(colon - text.data) };
	struct slice number = { last + 1, text.len - server_id.len - 1 };
	if (eas_folder_id_parse(folder, folder_out) < 0 || eas_server_id_parse(server_id, *folder_out, item_out) < 0 ||
	    parse_uint64(number, LIMIT_MIME_ATTACHMENTS - 1, &index) < 0)
		return -1;
	*index_out = (unsigned)index;
	return 0;
}

/* Range "m-n", zero-based and inclusive, m <= n (2.2.3.143.2). Returns 0 or -1. */
static int parse_range(struct slice text, uint64_t *first_out, uint64_t *last_out)
{
	const uint8_t *dash = text.len > 0 ? memchr(text.data, '-', text.len) : NULL;
	if (dash == NULL)
		return -1;
	struct slice first = { text.data, (size_t)(dash - text.data) };
	struct slice last = { dash + 1, text.len - first.len - 1 };
	if (parse_uint64(first, INT64_MAX, first_out) < 0 || parse_uint64(last, INT64_MAX, last_out) < 0 ||
	    *first_out > *last_out)
		return -1;
	return 0;
}

/* What an attachment Fetch answers. */
struct attachment {
	const char *content_type;
	uint64_t total;              /* the attachment's decoded size */
	uint64_t first, length;      /* the bytes returned */
	struct buf data;             /* inline: those bytes; multipart and streamed: empty */
	unsigned part;               /* multipart: the part holding them */
	bool streamed;               /* the bytes are ctx->payload, sent after the handler */
};

/* Where the FileReference points. */
struct reference {
	int64_t folder_id, item_id;
	unsigned index;
	struct pim_source source;    /* the message, read through the request's session */
};

/* The message the FileReference names, read from the store (state in scratch). Returns a status. */
static int load_message(struct context *ctx, struct arena *scratch, const struct operation *op,
			struct reference *ref, const char **reason)
{
	struct eas_request *r = ctx->request;
	struct store_folder folder;
	struct store_item item;
	int64_t folder_id, item_id;
	int status;
	/* MS-ASAIRS FileReference: an empty one gets Status 15 too. */
	*reason = "file_reference_invalid";
	if (parse_file_reference(op->file_reference.text, &folder_id, &item_id, &ref->index) < 0)
		return OPERATION_INVALID_ATTACHMENT;
	*reason = "attachment_unknown";
	if ((status = eas_folder_get(r, scratch, folder_id, &folder)) != STORE_OK ||
	    (status = store_item_get(r->session, scratch, folder_id, item_id, &item)) != STORE_OK)
		return store_failure(status, OPERATION_INVALID_ATTACHMENT, reason);
	if (item.deleted)
		return OPERATION_INVALID_ATTACHMENT;
	if ((status = eas_content_source(r, scratch, folder_id, item_id, &ref->source)) != STORE_OK)
		return store_failure(status, OPERATION_INVALID_ATTACHMENT, reason);
	ref->folder_id = folder_id;
	ref->item_id = item_id;
	return OPERATION_SUCCESS;
}

/*
 * The bytes wanted, cut to what this Fetch may return: LIMIT_FETCH_BYTES,
 * and after the first payload what the response has left. Returns a status.
 */
static int wanted_range(struct context *ctx, const struct operation *op, uint64_t *first_out,
			uint64_t *last_out, const char **reason)
{
	uint64_t cap = LIMIT_FETCH_BYTES;
	if (ctx->payload_sent && ctx->bytes_left < cap)
		cap = ctx->bytes_left;
	*first_out = 0;
	*last_out = UINT64_MAX;
	if (op->range.given && parse_range(op->range.text, first_out, last_out) < 0) {
		*reason = "range_invalid";
		return OPERATION_INVALID_RANGE;
	}
	if (cap == 0) {
		*reason = "response_bytes_spent";
		return OPERATION_TOO_LARGE;
	}
	if (*last_out - *first_out >= cap)
		*last_out = *first_out + cap - 1;
	return OPERATION_SUCCESS;
}

/* Decodes the attachment into out (the parts in a multipart response). Returns a status. */
static int extract(struct context *ctx, struct arena *scratch, const struct operation *op,
		   const struct reference *ref, struct buf *out, struct attachment *a, const char **reason)
{
	uint64_t last;
	int status = wanted_range(ctx, op, &a->first, &last, reason);
	if (status != OPERATION_SUCCESS)
		return status;
	size_t before = out->len;
	if (pim_email_attachment(scratch, &ref->source, ref->index, a->first, last, out, &a->total,
				 &a->content_type) < 0) {
		*reason = "attachment_unknown";
		status = OPERATION_INVALID_ATTACHMENT;
	} else if (op->range.given && a->first >= a->total) {
		*reason = "range_past_end";
		status = OPERATION_INVALID_RANGE;
	} else if (!op->range.given && out->len - before < a->total) {
		/* Without a Range the client wants it whole (2.2.3.143.2); with one it gets what fits. */
		*reason = a->total > LIMIT_FETCH_BYTES ? "attachment_too_large" : "response_bytes_spent";
		status = OPERATION_TOO_LARGE;
	}
	a->length = out->len - before;
	/* The scratch arena goes before the answer is written; the type must outlive it. */
	a->content_type = arena_strndup(ctx->request->arena, a->content_type, strlen(a->content_type));
	if (status != OPERATION_SUCCESS) {
		out->len = before;
		return status;
	}
	take_budget(ctx, a->length);
	if (ctx->multipart) {
		ctx->part_list[ctx->part_count] = (struct part){ before, a->length };
		a->part = ++ctx->part_count;
	}
	return OPERATION_SUCCESS;
}

/*
 * The streamed Fetch's range of a total-byte attachment: the whole, or the
 * Range asked for, cut to the attachment and to LIMIT_FETCH_STREAM_BYTES.
 * Returns a status; *length_out may be 0 (an empty attachment).
 */
static int streamed_range(const struct operation *op, uint64_t total, uint64_t *first_out, uint64_t *length_out,
			  const char **reason)
{
	uint64_t first, last;
	if (!op->range.given) {
		if (total > LIMIT_FETCH_STREAM_BYTES) {
			*reason = "attachment_too_large";
			return OPERATION_TOO_LARGE;
		}
		*first_out = 0;
		*length_out = total;
		return OPERATION_SUCCESS;
	}
	if (parse_range(op->range.text, &first, &last) < 0) {
		*reason = "range_invalid";
		return OPERATION_INVALID_RANGE;
	}
	if (first >= total) {
		*reason = "range_past_end";
		return OPERATION_INVALID_RANGE;
	}
	if (last >= total)
		last = total - 1;
	if (last - first >= LIMIT_FETCH_STREAM_BYTES)
		last = first + LIMIT_FETCH_STREAM_BYTES - 1;
	*first_out = first;
	*length_out = last - first + 1;
	return OPERATION_SUCCESS;
}

/*
 * The streamed Fetch: the attachment is located and counted (one decoding
 * pass, nothing kept), and its bytes left for content.c to send. One that
 * is not a range of the stored bytes is built in memory like the others.
 */
static int locate_streamed(struct context *ctx, struct arena *scratch, const struct operation *op,
			   const struct reference *ref, struct attachment *a, const char **reason)
{
	struct pim_attachment found;
	if (pim_email_attachment_find(scratch, &ref->source, ref->index, &found) < 0) {
		*reason = "attachment_unknown";
		return OPERATION_INVALID_ATTACHMENT;
	}
	if (!found.streamable)
		return extract(ctx, scratch, op, ref, ctx->multipart ? &ctx->parts : &a->data, a, reason);
	a->content_type = arena_strndup(ctx->request->arena, found.content_type, strlen(found.content_type));
	a->total = found.size;
	int status = streamed_range(op, found.size, &a->first, &a->length, reason);
	if (status != OPERATION_SUCCESS)
		return status;
	a->streamed = true;
	/* No attachment part follows: this is the request's last attachment Fetch. */
	if (ctx->multipart)
		a->part = ctx->part_count + 1;
	ctx->streaming = true;
	ctx->payload = (struct eas_content_payload){
		.folder_id = ref->folder_id, .item_id = ref->item_id,
		.encoded_start = found.encoded_start, .encoded_end = found.encoded_end, .encoding = found.encoding,
		.first = a->first, .length = a->length, .base64 = !ctx->multipart,
	};
	return OPERATION_SUCCESS;
}

static int check_attachment(struct context *ctx, struct arena *scratch, const struct operation *op,
			    struct attachment *a, const char **reason)
{
	struct reference ref;
	int status = load_message(ctx, scratch, op, &ref, reason);
	if (status != OPERATION_SUCCESS)
		return status;
	*reason = NULL;
	if (op == ctx->streamed_op)
		return locate_streamed(ctx, scratch, op, &ref, a, reason);
	return extract(ctx, scratch, op, &ref, ctx->multipart ? &ctx->parts : &a->data, a, reason);
}

/* Data is a string holding the bytes in base64 (MS-ASCMD 2.2.3.39.2). */
static void write_base64(struct wbxml_writer *writer, enum wbxml_tag tag, const struct buf *data)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct buf text;
	buf_init(&text, 0);
	buf_reserve(&text, (data->len + 2) / 3 * 4);
	for (size_t i = 0; i < data->len; i += 3) {
		size_t n = data->len - i < 3 ? data->len - i : 3;
		uint32_t group = (uint32_t)data->data[i] << 16;
		if (n > 1)
			group |= (uint32_t)data->data[i + 1] << 8;
		if (n > 2)
			group |= data->data[i + 2];
		char quad[4] = { alphabet[group >> 18], alphabet[(group >> 12) & 63],
				 n > 1 ? alphabet[(group >> 6) & 63] : '=', n > 2 ? alphabet[group & 63] : '=' };
		memcpy(text.data + text.len, quad, 4);
		text.len += 4;
	}
	wbxml_writer_element_string(writer, tag, text.data, text.len);
	buf_cleanup(&text);
}

/* Fetch{Status, FileReference, Properties{ContentType, Range?, Total, Data | Part}} (2.2.3.139.2). */
static void write_attachment(struct context *ctx, const struct operation *op, const struct attachment *a)
{
	struct wbxml_writer *writer = &ctx->writer;
	wbxml_writer_start(writer, WBXML_ITEMOPERATIONS_PROPERTIES);
	wbxml_writer_element_cstr(writer, WBXML_AIRSYNCBASE_CONTENT_TYPE, a->content_type);
	if (op->range.given) {
		/* The range actually returned is the authoritative one (2.2.3.143.2). */
		char range[48];
		snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, a->first, a->first + a->length - 1);
		wbxml_writer_element_cstr(writer, WBXML_ITEMOPERATIONS_RANGE, range);
	}
	wbxml_writer_element_uint(writer, WBXML_ITEMOPERATIONS_TOTAL, a->total);
	if (ctx->multipart) {
		wbxml_writer_element_uint(writer, WBXML_ITEMOPERATIONS_PART, a->part);
	} else if (a->streamed) {
		wbxml_writer_start(writer, WBXML_ITEMOPERATIONS_DATA);
		ctx->payload_mark = wbxml_writer_string_slot(writer);
		wbxml_writer_end(writer);
	} else {
		write_base64(writer, WBXML_ITEMOPERATIONS_DATA, &a->data);
	}
	wbxml_writer_end(writer);
}

static void fetch_attachment(struct context *ctx, const struct operation *op)
{
	struct wbxml_writer *writer = &ctx->writer;
	struct arena *scratch = arena_new(0);
	struct attachment a = { 0 };
	const char *reason;
	buf_init(&a.data, LIMIT_FETCH_BYTES);
	int status = check_attachment(ctx, scratch, op, &a, &reason);
	/* The message is not needed any more; its bytes are in a.data or the parts. */
	arena_free(&scratch);
	note_status(ctx, status, reason);
	wbxml_writer_start(writer, WBXML_ITEMOPERATIONS_FETCH);
	wbxml_writer_element_uint(writer, WBXML_ITEMOPERATIONS_STATUS, (uint64_t)status);
	write_field(writer, WBXML_AIRSYNCBASE_FILE_REFERENCE, &op->file_reference);
	if (status == OPERATION_SUCCESS)
		write_attachment(ctx, op, &a);
	wbxml_writer_end(writer);
	buf_cleanup(&a.data);
}

/* ---- Fetch: which kind ---- */

/* Fetch{Status} and the ids the client gave, for a Fetch that names nothing easd serves. */
static void fetch_refused(struct context *ctx, const struct operation *op, int status, const char *reason)
{
	struct wbxml_writer *writer = &ctx->writer;
	note_status(ctx, status, reason);
	wbxml_writer_start(writer, WBXML_ITEMOPERATIONS_FETCH);
	wbxml_writer_element_uint(writer, WBXML_ITEMOPERATIONS_STATUS, (uint64_t)status);
	write_field(writer, WBXML_AIRSYNC_COLLECTION_ID, &op->collection_id);
	write_field(writer, WBXML_AIRSYNC_SERVER_ID, &op->server_id);
	write_field(writer, WBXML_SEARCH_LONG_ID, &op->long_id);
	wbxml_writer_end(writer);
}

static void fetch(struct context *ctx, const struct operation *op)
{
	/* Store is required (2.2.3.178.2); "Document Library" is not served. */
	if (!op->store.given)
		fetch_refused(ctx, op, OPERATION_PROTOCOL_ERROR, "store_missing");
	else if (!slice_equals_nocase(op->store.text, "Mailbox"))
		fetch_refused(ctx, op, OPERATION_UNKNOWN_STORE, "store_unknown");
	else if (op->file_reference.given)
		fetch_attachment(ctx, op);
	else if (op->long_id.given) /* only Search hands out LongIds, and easd does not serve it yet */
		fetch_refused(ctx, op, OPERATION_NOT_FOUND, "long_id_unknown");
	else if (op->collection_id.given && op->server_id.given)
		fetch_item(ctx, op);
	else
		fetch_refused(ctx, op, OPERATION_PROTOCOL_ERROR, "fetch_names_nothing");
}

/* ---- EmptyFolderContents ---- */

/* Items taken per store read while emptying a folder: bounds memory, not the work. */
#define EMPTY_FOLDER_PAGE 256

struct item_page {
	int64_t ids[EMPTY_FOLDER_PAGE];
	unsigned count;             /* live items among the rows */
	unsigned rows;
	uint64_t last_modseq;
};

static bool take_live_item(void *context, const struct store_item *item)
{
	struct item_page *page = context;
	page->rows++;
	page->last_modseq = item->modseq;
	if (!item->deleted)
		page->ids[page->count++] = item->id;
	return true;
}

/*
 * Deletes every live item, a page at a time. A deleted item takes a
 * modseq past until, so the walk never meets it again.
 */
static int delete_items(struct eas_request *r, int64_t folder_id)
{
	uint64_t since = 0, until;
	int status = store_folder_modseq(r->session, folder_id, &until);
	while (status == STORE_OK) {
		struct item_page page = { .count = 0 };
		struct arena *scratch = arena_new(0);
		status = store_item_changes(r->session, scratch, folder_id, since, until, EMPTY_FOLDER_PAGE,
					    take_live_item, &page);
		arena_free(&scratch);
		for (unsigned i = 0; status == STORE_OK && i < page.count; i++)
			status = store_item_delete(r->session, r->user.id, folder_id, page.ids[i], NULL);
		if (page.rows < EMPTY_FOLDER_PAGE)
			break;
		since = page.last_modseq;
	}
	return status;
}

struct children {
	struct arena *arena;
	int64_t parent_id;
	int64_t *ids;
	unsigned count, capacity;
};

static void take_child(void *context, const struct store_folder *folder)
{
	struct children *c = context;
	if (folder->deleted || folder->parent_id != c->parent_id)
		return;
	c->ids = arena_grow(c->arena, c->ids, sizeof(*c->ids), c->count, &c->capacity, 16);
	c->ids[c->count++] = folder->id;
}

/* Deletes the folder's children; store_folder_delete takes each one's subtree with it. */
static int delete_subfolders(struct eas_request *r, struct arena *scratch, int64_t folder_id)
{
	struct children children = { .arena = scratch, .parent_id = folder_id };
	uint64_t until;
	int status = store_hierarchy_modseq(r->session, r->user.id, &until);
	/* Since 0: every live folder, the one listing of the hierarchy the store has. */
	if (status == STORE_OK)
		status = store_folder_changes(r->session, scratch, r->user.id, 0, until, take_child, &children);
	for (unsigned i = 0; status == STORE_OK && i < children.count; i++)
		status = store_folder_delete(r->session, r->user.id, children.ids[i]);
	return status;
}

static int empty_folder(struct context *ctx, struct arena *scratch, const struct operation *op, const char **reason)
{
	struct eas_request *r = ctx->request;
	struct store_folder folder;
	int64_t folder_id;
	int status;
	*reason = "collection_unknown";
	if (!op->collection_id.given) {
		*reason = "collection_id_missing";
		return OPERATION_PROTOCOL_ERROR;
	}
	if (eas_folder_id_parse(op->collection_id.text, &folder_id) < 0)
		return OPERATION_NOT_FOUND;
	if ((status = eas_folder_get(r, scratch, folder_id, &folder)) != STORE_OK)
		return store_failure(status, OPERATION_NOT_FOUND, reason);
	/* Mail folders only: clients empty Deleted Items (2.2.3.58). */
	if (!eas_folder_holds_mail(folder.type)) {
		*reason = "folder_not_mail";
		return not_supported_status(r);
	}
	*reason = "store_error";
	if (store_begin(r->session) != STORE_OK)
		return OPERATION_SERVER_ERROR;
	status = delete_items(r, folder_id);
	if (status == STORE_OK && op->delete_subfolders)
		status = delete_subfolders(r, scratch, folder_id);
	if (status != STORE_OK) {
		store_rollback(r->session);
		return OPERATION_SERVER_ERROR;
	}
	if (store_commit(r->session) != STORE_OK)
		return OPERATION_SERVER_ERROR;
	*reason = NULL;
	return OPERATION_SUCCESS;
}

/* EmptyFolderContents{Status, CollectionId} (2.2.3.58). */
static void empty_folder_contents(struct context *ctx, const struct operation *op)
{
	struct wbxml_writer *writer = &ctx->writer;
	struct arena *scratch = arena_new(0);
	const char *reason;
	int status = empty_folder(ctx, scratch, op, &reason);
	arena_free(&scratch);
	note_status(ctx, status, reason);
	wbxml_writer_start(writer, WBXML_ITEMOPERATIONS_EMPTY_FOLDER_CONTENTS);
	wbxml_writer_element_uint(writer, WBXML_ITEMOPERATIONS_STATUS, (uint64_t)status);
	write_field(writer, WBXML_AIRSYNC_COLLECTION_ID, &op->collection_id);
	wbxml_writer_end(writer);
}

/* ---- Move ---- */

/*
 * Moving a conversation [14.0+] needs every message of the conversation
 * found by its ConversationId, which the store does not index: Status 156
 * (MS-ASCMD 2.2.3.177.8, "action not supported"; MS-ASCON 2.2.2.10), which
 * a client does not retry. The ConversationId is opaque and echoed as such.
 */
static void move(struct context *ctx, const struct operation *op)
{
	struct wbxml_writer *writer = &ctx->writer;
	int status = not_supported_status(ctx->request);
	note_status(ctx, status, "conversation_move_not_supported");
	wbxml_writer_start(writer, WBXML_ITEMOPERATIONS_MOVE);
	wbxml_writer_element_uint(writer, WBXML_ITEMOPERATIONS_STATUS, (uint64_t)status);
	if (op->conversation_id.given)
		wbxml_writer_element_opaque(writer, WBXML_ITEMOPERATIONS_CONVERSATION_ID, op->conversation_id.text.data,
					    op->conversation_id.text.len);
	wbxml_writer_end(writer);
}

/* ---- encode: the response ---- */

static void put_le32(uint8_t *p, size_t value)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(value >> (8 * i));
}

_Static_assert((uint64_t)LIMIT_RESPONSE_BYTES + LIMIT_FETCH_STREAM_BYTES <= INT32_MAX,
	       "multipart offsets are 32-bit signed integers");

/*
 * The multipart body (MS-ASCMD 2.2.1.10.1.1): PartsCount, then Offset and
 * Length of each part, as 32-bit little-endian integers, then the parts;
 * part 0 is the WBXML. Built in place in ctx->parts, which then becomes
 * the response, so the attachments' bytes are never copied twice. A
 * streamed payload is the last part: listed here, sent after the rest.
 */
static void assemble_multipart(struct context *ctx)
{
	struct eas_request *r = ctx->request;
	size_t count = 1 + ctx->part_count + (ctx->streaming ? 1 : 0);
	size_t header = 4 + 8 * count;
	size_t wbxml = r->response.len;
	if (buf_reserve(&ctx->parts, header + wbxml) < 0) {
		r->response.len = 0;
		r->http_status = 500;
		r->reason = "response_too_large";
		return;
	}
	uint8_t *body = ctx->parts.data;
	memmove(body + header + wbxml, body, ctx->parts.len);
	memcpy(body + header, r->response.data, wbxml);
	put_le32(body, count);
	put_le32(body + 4, header);
	put_le32(body + 8, wbxml);
	for (unsigned i = 0; i < ctx->part_count; i++) {
		put_le32(body + 12 + 8 * i, header + wbxml + ctx->part_list[i].offset);
		put_le32(body + 16 + 8 * i, ctx->part_list[i].length);
	}
	if (ctx->streaming) {
		put_le32(body + 12 + 8 * ctx->part_count, header + wbxml + ctx->parts.len);
		put_le32(body + 16 + 8 * ctx->part_count, (size_t)ctx->payload.length);
	}
	ctx->parts.len += header + wbxml;
	buf_cleanup(&r->response);
	r->response = ctx->parts;
	buf_init(&ctx->parts, LIMIT_RESPONSE_BYTES);
	r->response_type = "application/vnd.ms-sync.multipart";
}

static void finish(struct context *ctx)
{
	struct eas_request *r = ctx->request;
	eas_writer_finish(r, &ctx->writer);
	if (ctx->multipart && r->response.len > 0)
		assemble_multipart(ctx);
	buf_cleanup(&ctx->parts);
	/* An empty response failed to encode (or assemble): nothing to stream into. */
	if (ctx->streaming && r->response.len > 0)
		eas_content_stream(r, ctx->multipart ? r->response.len : ctx->payload_mark, &ctx->payload);
	if (r->eas_status == 0)
		r->eas_status = OPERATION_SUCCESS;
}

void eas_itemoperations(struct eas_request *request)
{
	struct context ctx = { .request = request, .multipart = request->accept_multipart,
			       .bytes_left = LIMIT_FETCH_RESPONSE_BYTES };
	const char *reason;
	buf_init(&ctx.parts, LIMIT_RESPONSE_BYTES);
	int read = read_request(&ctx, &reason);
	eas_writer_init(request, &ctx.writer);
	wbxml_writer_start(&ctx.writer, WBXML_ITEMOPERATIONS_ITEM_OPERATIONS);
	/* A request-level failure is the root's Status alone (2.2.3.177.8, "global" scope). */
	if (read < 0) {
		request->eas_status = OPERATION_PROTOCOL_ERROR;
		request->reason = reason;
		wbxml_writer_element_uint(&ctx.writer, WBXML_ITEMOPERATIONS_STATUS, OPERATION_PROTOCOL_ERROR);
		wbxml_writer_end(&ctx.writer);
		finish(&ctx);
		return;
	}
	ctx.part_list = arena_calloc(request->arena, ctx.operation_count + 1, sizeof(*ctx.part_list));
	/* The last attachment Fetch that nothing after it may delete: the stream
	   reads the message after the transaction, while it is sent. */
	for (unsigned i = 0; i < ctx.operation_count; i++)
		if (ctx.operations[i].kind == OPERATION_FETCH && ctx.operations[i].file_reference.given)
			ctx.streamed_op = &ctx.operations[i];
		else if (ctx.operations[i].kind == OPERATION_EMPTY_FOLDER_CONTENTS)
			ctx.streamed_op = NULL;
	wbxml_writer_element_uint(&ctx.writer, WBXML_ITEMOPERATIONS_STATUS, OPERATION_SUCCESS);
	if (ctx.operation_count > 0)
		wbxml_writer_start(&ctx.writer, WBXML_ITEMOPERATIONS_RESPONSE);
	for (unsigned i = 0; i < ctx.operation_count; i++) {
		const struct operation *op = &ctx.operations[i];
		if (op->kind == OPERATION_FETCH)
			fetch(&ctx, op);
		else if (op->kind == OPERATION_EMPTY_FOLDER_CONTENTS)
			empty_folder_contents(&ctx, op);
		else
			move(&ctx, op);
	}
	if (ctx.operation_count > 0)
		wbxml_writer_end(&ctx.writer);
	wbxml_writer_end(&ctx.writer);
	finish(&ctx);
}
