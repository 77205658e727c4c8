/*
 * compose_request.c: what SendMail, SmartReply and SmartForward ask
 * (MS-ASCMD 2.2.1.17 to 2.2.1.19). From 14.0 the request is ComposeMail
 * WBXML: ClientId, SaveInSentItems, Source, ReplaceMime, Mime and, from
 * 16.0, Forwardees. In 12.1 the body is the MIME message itself
 * (message/rfc822) and the rest comes in the query.
 */
#include "eas/eas_private.h"
#include "guard/limits.h"

#include <string.h>

static void release_buf(void *b)
{
	buf_cleanup(b);
}

/*
 * The text of the element just started, every string and opaque piece
 * joined (an encoder may split a large Mime), up to its END; at most max
 * bytes. One piece is used in place; more are appended to one buffer that
 * grows by doubling, so a million tiny pieces cost their length, not its
 * square. Returns 0, or -1 (WBXML that does not decode, or past max).
 */
static int read_joined(struct wbxml_reader *reader, struct arena *arena, size_t max, struct slice *out)
{
	struct wbxml_event event;
	struct buf *joined = NULL;
	*out = SLICE_EMPTY;
	while (wbxml_reader_next(reader, &event) == 0) {
		if (event.type == WBXML_EVENT_END)
			return 0;
		if (event.type == WBXML_EVENT_START) {
			if (wbxml_reader_skip(reader) < 0)
				return -1;
			continue;
		}
		if (event.type != WBXML_EVENT_STRING && event.type != WBXML_EVENT_OPAQUE)
			continue;
		if (out->len == 0 && joined == NULL) {
			*out = event.data;
			continue;
		}
		if (joined == NULL) {
			joined = arena_alloc(arena, sizeof(*joined));
			buf_init(joined, max);
			arena_on_free(arena, release_buf, joined);
			if (buf_append(joined, out->data, out->len) < 0)
				return -1;
		}
		if (buf_append(joined, event.data.data, event.data.len) < 0)
			return -1;
		*out = (struct slice){ joined->data, joined->len };
	}
	return -1;
}

static int read_source(struct wbxml_reader *reader, struct eas_compose *c)
{
	struct wbxml_event event;
	int more;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		int status;
		if (event.tag == WBXML_COMPOSEMAIL_FOLDER_ID)
			status = eas_read_text(reader, &c->folder_id);
		else if (event.tag == WBXML_COMPOSEMAIL_ITEM_ID)
			status = eas_read_text(reader, &c->item_id);
		else if (event.tag == WBXML_COMPOSEMAIL_LONG_ID)
			status = eas_read_text(reader, &c->long_id);
		else
			status = wbxml_reader_skip(reader); /* InstanceId: an occurrence, for meeting forwards */
		if (status < 0)
			return -1;
	}
	return more;
}

/* Forwardee{Name?, Email}: the addresses, at most one more than a message may have. */
static int read_forwardees(struct eas_request *r, struct wbxml_reader *reader, struct eas_compose *c)
{
	size_t capacity = (size_t)r->config->max_send_recipients + 1;
	struct wbxml_event event;
	int more;
	c->forwardees = arena_alloc(r->arena, capacity * sizeof(*c->forwardees));
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		if (event.tag != WBXML_COMPOSEMAIL_FORWARDEE) {
			if (wbxml_reader_skip(reader) < 0)
				return -1;
			continue;
		}
		struct wbxml_event field;
		int fields;
		while ((fields = wbxml_reader_next_child(reader, &field)) > 0) {
			struct slice email;
			if (field.tag != WBXML_COMPOSEMAIL_EMAIL) {
				if (wbxml_reader_skip(reader) < 0)
					return -1;
			} else if (eas_read_text(reader, &email) < 0) {
				return -1;
			} else if (c->forwardee_count < capacity) {
				c->forwardees[c->forwardee_count++] = arena_strndup(r->arena, email.data, email.len);
			}
		}
		if (fields < 0)
			return -1;
	}
	return more;
}

static int read_field(struct eas_request *r, struct wbxml_reader *reader, enum wbxml_tag tag, struct eas_compose *c)
{
	bool smart = c->reply || c->forward;
	switch (tag) {
	case WBXML_COMPOSEMAIL_CLIENT_ID: return eas_read_text(reader, &c->client_id);
	case WBXML_COMPOSEMAIL_MIME: return read_joined(reader, r->arena, r->config->max_send_size + 1, &c->mime);
	case WBXML_COMPOSEMAIL_SAVE_IN_SENT_ITEMS: c->save_in_sent = true; return wbxml_reader_skip(reader);
	case WBXML_COMPOSEMAIL_REPLACE_MIME: c->replace_mime = smart; return wbxml_reader_skip(reader);
	case WBXML_COMPOSEMAIL_SOURCE: return smart ? read_source(reader, c) : -1;
	case WBXML_COMPOSEMAIL_FORWARDEES: return c->forward ? read_forwardees(r, reader, c) : -1;
	default: return wbxml_reader_skip(reader); /* AccountId: easd has one account per user */
	}
}

static int read_wbxml(struct eas_request *r, struct eas_compose *c)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	wbxml_reader_init(&reader, r->body.data, r->body.len, NULL);
	if (wbxml_reader_next(&reader, &event) < 0 || event.type != WBXML_EVENT_START)
		return EAS_STATUS_INVALID_XML;
	int more;
	while ((more = wbxml_reader_next_child(&reader, &event)) > 0)
		if (read_field(r, &reader, event.tag, c) < 0)
			return EAS_STATUS_INVALID_XML;
	if (more < 0 || c->mime.len == 0)
		return EAS_STATUS_INVALID_XML;
	if (c->client_id.len > LIMIT_PARAMETER_BYTES)
		return EAS_STATUS_INVALID_XML;
	return 0;
}

int eas_compose_read(struct eas_request *r, struct eas_compose *c)
{
	memset(c, 0, sizeof(*c));
	c->reply = strcmp(r->command, "SmartReply") == 0;
	c->forward = strcmp(r->command, "SmartForward") == 0;
	if (r->protocol_version >= 140)
		return read_wbxml(r, c);
	/* 12.1: the body is the message; Source and SaveInSent are query parameters (MS-ASHTTP 2.2.1.1.1.1.2). */
	c->mime = r->body;
	c->save_in_sent = r->save_in_sent;
	c->folder_id = slice_from_cstr(r->collection_id);
	c->item_id = slice_from_cstr(r->item_id);
	c->long_id = slice_from_cstr(r->long_id);
	return 0;
}
