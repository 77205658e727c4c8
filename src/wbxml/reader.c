/*
 * reader.c: the streaming WBXML pull reader (see wbxml.h).
 *
 * One call, one token. The reader works on a cursor and commits it only when
 * a whole token was read, so running out of bytes leaves it where it was
 * (WBXML_ERR_TRUNCATED) and wbxml_reader_more can continue. Nothing is
 * allocated: strings and opaque data are slices of the input, open elements
 * sit in a fixed array of WBXML_DEPTH_CAP entries.
 *
 * EAS uses a small part of WBXML 1.3 (MS-ASWBXML 2.1.1): SWITCH_PAGE, END,
 * STR_I, OPAQUE and tags with the content bit. Attributes, entities, string
 * table references, processing instructions and extensions are refused.
 */
#include "wbxml/wbxml.h"

#include <stdio.h>
#include <string.h>

/* Global tokens (WBXML 1.3 section 7.1). */
enum {
	TOKEN_SWITCH_PAGE = 0x00,
	TOKEN_END = 0x01,
	TOKEN_ENTITY = 0x02,
	TOKEN_STR_I = 0x03,
	TOKEN_LITERAL = 0x04,
	TOKEN_EXT_I_0 = 0x40,
	TOKEN_EXT_I_2 = 0x42,
	TOKEN_PI = 0x43,
	TOKEN_EXT_T_0 = 0x80,
	TOKEN_EXT_T_2 = 0x82,
	TOKEN_STR_T = 0x83,
	TOKEN_EXT_0 = 0xC0,
	TOKEN_EXT_2 = 0xC2,
	TOKEN_OPAQUE = 0xC3,
};

#define TAG_CONTENT_BIT 0x40
#define TAG_ATTRIBUTE_BIT 0x80
#define CHARSET_UTF8 106 /* IANA MIBenum */

enum reader_state {
	STATE_HEADER,
	STATE_BODY,
	STATE_AFTER_ROOT,
	STATE_FAILED,
};

const char *wbxml_status_name(int status)
{
	switch (status) {
	case WBXML_OK: return "ok";
	case WBXML_ERR_TRUNCATED: return "truncated";
	case WBXML_ERR_MALFORMED: return "malformed";
	case WBXML_ERR_UNSUPPORTED: return "unsupported";
	case WBXML_ERR_UNKNOWN_TAG: return "unknown_tag";
	case WBXML_ERR_LIMIT: return "limit";
	case WBXML_ERR_ENCODE: return "encode";
	default: return "unknown";
	}
}

static int fail(struct wbxml_reader *reader, int status, size_t offset, const char *reason)
{
	reader->error.status = status;
	reader->error.offset = offset;
	reader->error.reason = reason;
	reader->error.detail[0] = '\0';
	/* Truncation is the one error more input can cure. */
	if (status != WBXML_ERR_TRUNCATED)
		reader->state = STATE_FAILED;
	return status;
}

/*
 * mb_u_int32 (WBXML 1.3 section 5.1): big-endian base-128, high bit set on
 * every byte but the last. At most five bytes, and the value must fit in 32
 * bits; longer forms are refused rather than wrapped.
 */
static int read_mb_u_int32(struct wbxml_reader *reader, size_t *cursor, uint32_t *value_out)
{
	size_t start = *cursor;
	uint32_t value = 0;
	for (size_t i = 0; i < 5; i++) {
		if (start + i >= reader->len)
			return fail(reader, WBXML_ERR_TRUNCATED, start, "input ends inside a multi-byte integer");
		uint8_t byte = reader->input[start + i];
		if (i == 4 && (value >> 25) != 0)
			return fail(reader, WBXML_ERR_MALFORMED, start, "multi-byte integer does not fit in 32 bits");
		value = (value << 7) | (byte & 0x7F);
		if ((byte & 0x80) == 0) {
			*cursor = start + i + 1;
			*value_out = value;
			return WBXML_OK;
		}
	}
	return fail(reader, WBXML_ERR_MALFORMED, start, "multi-byte integer longer than 5 bytes");
}

static void apply_limits(struct wbxml_limits *limits, const struct wbxml_limits *given)
{
	struct wbxml_limits zero = { 0 };
	if (given == NULL)
		given = &zero;
	limits->max_depth = given->max_depth ? given->max_depth : WBXML_DEFAULT_MAX_DEPTH;
	if (limits->max_depth > WBXML_DEPTH_CAP)
		limits->max_depth = WBXML_DEPTH_CAP;
	limits->max_elements = given->max_elements ? given->max_elements : WBXML_DEFAULT_MAX_ELEMENTS;
	limits->max_string = given->max_string ? given->max_string : WBXML_DEFAULT_MAX_STRING;
	limits->max_total = given->max_total ? given->max_total : WBXML_DEFAULT_MAX_TOTAL;
}

void wbxml_reader_init(struct wbxml_reader *reader, const uint8_t *input, size_t len,
		       const struct wbxml_limits *limits)
{
	memset(reader, 0, sizeof(*reader));
	apply_limits(&reader->limits, limits);
	reader->state = STATE_HEADER;
	wbxml_reader_more(reader, input, len);
}

void wbxml_reader_more(struct wbxml_reader *reader, const uint8_t *input, size_t len)
{
	reader->input = input;
	reader->len = len;
	if (len > reader->limits.max_total && reader->state != STATE_FAILED)
		fail(reader, WBXML_ERR_LIMIT, reader->limits.max_total, "message larger than the size limit");
}

/* Version, public id, charset, string table (WBXML 1.3 section 5.4). */
static int read_header(struct wbxml_reader *reader)
{
	size_t cursor = 0;
	uint32_t public_id, charset, table_len;
	int status;

	if (reader->len < 1)
		return fail(reader, WBXML_ERR_TRUNCATED, 0, "input ends inside the header");
	/* MS-ASWBXML uses 1.3; 1.1 and 1.2 share the header layout. */
	uint8_t version = reader->input[cursor++];
	if (version < 0x01 || version > 0x03)
		return fail(reader, WBXML_ERR_MALFORMED, 0, "WBXML version is not 1.1 to 1.3");
	if ((status = read_mb_u_int32(reader, &cursor, &public_id)) < 0)
		return status;
	if (public_id != 1)
		return fail(reader, WBXML_ERR_UNSUPPORTED, 1, "public identifier is not 1 (unknown)");
	size_t charset_offset = cursor;
	if ((status = read_mb_u_int32(reader, &cursor, &charset)) < 0)
		return status;
	if (charset != CHARSET_UTF8)
		return fail(reader, WBXML_ERR_UNSUPPORTED, charset_offset, "charset is not UTF-8");
	size_t table_offset = cursor;
	if ((status = read_mb_u_int32(reader, &cursor, &table_len)) < 0)
		return status;
	if (table_len != 0)
		return fail(reader, WBXML_ERR_UNSUPPORTED, table_offset, "string table is not used by EAS");
	reader->pos = cursor;
	reader->state = STATE_BODY;
	return WBXML_OK;
}

static int read_string(struct wbxml_reader *reader, size_t start, struct wbxml_event *event)
{
	size_t from = start + 1;
	size_t avail = reader->len - from;
	size_t scan = avail;
	if (scan > (size_t)reader->limits.max_string + 1)
		scan = (size_t)reader->limits.max_string + 1;
	const uint8_t *nul = memchr(reader->input + from, 0, scan);
	if (nul == NULL) {
		if (avail > reader->limits.max_string)
			return fail(reader, WBXML_ERR_LIMIT, start, "inline string longer than the limit");
		return fail(reader, WBXML_ERR_TRUNCATED, start, "input ends inside an inline string");
	}
	size_t n = (size_t)(nul - (reader->input + from));
	if (n > reader->limits.max_string)
		return fail(reader, WBXML_ERR_LIMIT, start, "inline string longer than the limit");
	event->type = WBXML_EVENT_STRING;
	event->data = (struct slice){ reader->input + from, n };
	reader->pos = from + n + 1;
	return WBXML_OK;
}

static int read_opaque(struct wbxml_reader *reader, size_t start, struct wbxml_event *event)
{
	size_t cursor = start + 1;
	uint32_t n;
	int status = read_mb_u_int32(reader, &cursor, &n);
	if (status < 0)
		return status;
	/* Checked before anything trusts the length: a 4 GB prefix stops here. */
	if (n > reader->limits.max_string)
		return fail(reader, WBXML_ERR_LIMIT, start, "opaque data longer than the limit");
	if (n > reader->len - cursor)
		return fail(reader, WBXML_ERR_TRUNCATED, start, "input ends inside opaque data");
	event->type = WBXML_EVENT_OPAQUE;
	event->data = (struct slice){ reader->input + cursor, n };
	reader->pos = cursor + n;
	return WBXML_OK;
}

static int read_tag(struct wbxml_reader *reader, size_t start, uint8_t byte,
		    struct wbxml_event *event)
{
	if (byte & TAG_ATTRIBUTE_BIT)
		return fail(reader, WBXML_ERR_UNSUPPORTED, start, "attributes are not used by EAS");
	unsigned token = byte & 0x3F;
	if (wbxml_tag_info(reader->page, token) == NULL) {
		fail(reader, WBXML_ERR_UNKNOWN_TAG, start, "token not defined on the current code page");
		snprintf(reader->error.detail, sizeof(reader->error.detail), "page %u token 0x%02X",
			 reader->page, token);
		return WBXML_ERR_UNKNOWN_TAG;
	}
	if (reader->state == STATE_AFTER_ROOT)
		return fail(reader, WBXML_ERR_MALFORMED, start, "second root element");
	if (reader->elements >= reader->limits.max_elements)
		return fail(reader, WBXML_ERR_LIMIT, start, "more elements than the limit");
	enum wbxml_tag tag = (enum wbxml_tag)(reader->page << 8 | token);
	bool has_content = (byte & TAG_CONTENT_BIT) != 0;
	if (has_content) {
		if (reader->depth >= reader->limits.max_depth)
			return fail(reader, WBXML_ERR_LIMIT, start, "elements nested deeper than the limit");
		reader->stack[reader->depth++] = (uint16_t)tag;
	} else {
		reader->pending_end = true;
		reader->pending_tag = tag;
	}
	reader->elements++;
	event->type = WBXML_EVENT_START;
	event->tag = tag;
	event->empty = !has_content;
	reader->pos = start + 1;
	return WBXML_OK;
}

static void end_event(struct wbxml_reader *reader, enum wbxml_tag tag, struct wbxml_event *event)
{
	event->type = WBXML_EVENT_END;
	event->tag = tag;
	if (reader->depth == 0)
		reader->state = STATE_AFTER_ROOT;
}

static int read_global(struct wbxml_reader *reader, size_t start, uint8_t byte)
{
	switch (byte) {
	case TOKEN_ENTITY:
		return fail(reader, WBXML_ERR_UNSUPPORTED, start, "entities are not used by EAS");
	case TOKEN_STR_T:
		return fail(reader, WBXML_ERR_UNSUPPORTED, start, "string table references are not used by EAS");
	case TOKEN_PI:
		return fail(reader, WBXML_ERR_UNSUPPORTED, start, "processing instructions are not used by EAS");
	default:
		break;
	}
	if ((byte & 0x3F) == TOKEN_LITERAL)
		return fail(reader, WBXML_ERR_UNSUPPORTED, start, "literal tags are not used by EAS");
	if ((byte >= TOKEN_EXT_I_0 && byte <= TOKEN_EXT_I_2) ||
	    (byte >= TOKEN_EXT_T_0 && byte <= TOKEN_EXT_T_2) ||
	    (byte >= TOKEN_EXT_0 && byte <= TOKEN_EXT_2))
		return fail(reader, WBXML_ERR_UNSUPPORTED, start, "extension tokens are not used by EAS");
	return fail(reader, WBXML_ERR_MALFORMED, start, "token is not a tag");
}

static int read_switch_page(struct wbxml_reader *reader, size_t start)
{
	if (start + 1 >= reader->len)
		return fail(reader, WBXML_ERR_TRUNCATED, start, "input ends inside SWITCH_PAGE");
	uint8_t page = reader->input[start + 1];
	if (!wbxml_page_has_tags(page)) {
		fail(reader, WBXML_ERR_UNKNOWN_TAG, start, "SWITCH_PAGE to a code page EAS does not define");
		snprintf(reader->error.detail, sizeof(reader->error.detail), "page %u", page);
		return WBXML_ERR_UNKNOWN_TAG;
	}
	reader->page = page;
	reader->pos = start + 2;
	return WBXML_OK;
}

int wbxml_reader_next(struct wbxml_reader *reader, struct wbxml_event *event)
{
	int status;

	if (reader->state == STATE_FAILED)
		return reader->error.status;
	if (reader->state == STATE_HEADER && (status = read_header(reader)) < 0)
		return status;
	if (reader->pending_end) {
		reader->pending_end = false;
		event->offset = reader->pos;
		end_event(reader, reader->pending_tag, event);
		return WBXML_OK;
	}
	for (;;) {
		size_t start = reader->pos;
		event->offset = start;
		if (start >= reader->len) {
			if (reader->state == STATE_AFTER_ROOT) {
				event->type = WBXML_EVENT_DONE;
				return WBXML_OK;
			}
			return fail(reader, WBXML_ERR_TRUNCATED, start, "input ends before the root element does");
		}
		uint8_t byte = reader->input[start];
		if (byte == TOKEN_SWITCH_PAGE) {
			if (reader->state == STATE_AFTER_ROOT)
				return fail(reader, WBXML_ERR_MALFORMED, start, "data after the root element");
			if ((status = read_switch_page(reader, start)) < 0)
				return status;
			continue;
		}
		if (byte == TOKEN_END) {
			if (reader->depth == 0)
				return fail(reader, WBXML_ERR_MALFORMED, start, "END without an open element");
			reader->pos = start + 1;
			reader->depth--;
			end_event(reader, (enum wbxml_tag)reader->stack[reader->depth], event);
			return WBXML_OK;
		}
		if (byte == TOKEN_STR_I || byte == TOKEN_OPAQUE) {
			if (reader->depth == 0)
				return fail(reader, WBXML_ERR_MALFORMED, start, "content outside the root element");
			return byte == TOKEN_STR_I ? read_string(reader, start, event)
						   : read_opaque(reader, start, event);
		}
		if ((byte & 0x3F) < 0x05)
			return read_global(reader, start, byte);
		return read_tag(reader, start, byte, event);
	}
}

struct wbxml_mark wbxml_reader_mark(const struct wbxml_reader *reader, const struct wbxml_event *start)
{
	return (struct wbxml_mark){ .pos = reader->pos, .elements = reader->elements, .tag = (uint16_t)start->tag,
				    .page = reader->page, .empty = start->empty };
}

void wbxml_reader_resume(struct wbxml_reader *reader, const uint8_t *input, size_t len,
			 const struct wbxml_limits *limits, const struct wbxml_mark *mark)
{
	wbxml_reader_init(reader, input, len, limits);
	if (reader->state == STATE_FAILED)
		return;
	reader->state = STATE_BODY;
	reader->pos = mark->pos;
	reader->page = mark->page;
	reader->elements = mark->elements;
	if (mark->empty) {
		reader->pending_end = true;
		reader->pending_tag = (enum wbxml_tag)mark->tag;
	} else {
		reader->stack[reader->depth++] = mark->tag;
	}
}

int wbxml_reader_next_child(struct wbxml_reader *reader, struct wbxml_event *event)
{
	for (;;) {
		int status = wbxml_reader_next(reader, event);
		if (status < 0)
			return status;
		if (event->type == WBXML_EVENT_DONE)
			return WBXML_ERR_MALFORMED;
		if (event->type == WBXML_EVENT_END)
			return 0;
		if (event->type == WBXML_EVENT_START)
			return 1;
	}
}

int wbxml_reader_skip(struct wbxml_reader *reader)
{
	struct wbxml_event event;
	unsigned open = 1;
	while (open > 0) {
		int status = wbxml_reader_next(reader, &event);
		if (status < 0)
			return status;
		if (event.type == WBXML_EVENT_START)
			open++;
		else if (event.type == WBXML_EVENT_END)
			open--;
	}
	return WBXML_OK;
}
