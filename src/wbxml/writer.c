/*
 * writer.c: the WBXML builder (see wbxml.h).
 *
 * Appends to a struct buf; the buffer's ceiling bounds the message. Errors
 * are sticky so that a command can build its whole response and check once.
 * Output is the canonical EAS form: header 03 01 6A 00, inline strings,
 * SWITCH_PAGE only when the page changes (MS-ASWBXML 2.1.1).
 */
#include "wbxml/wbxml.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static void writer_fail(struct wbxml_writer *writer, int status, const char *reason)
{
	if (writer->status == WBXML_OK) {
		writer->status = status;
		writer->reason = reason;
	}
}

static void put(struct wbxml_writer *writer, const void *data, size_t len)
{
	if (writer->status == WBXML_OK && buf_append(writer->out, data, len) < 0)
		writer_fail(writer, WBXML_ERR_LIMIT, "response larger than its buffer limit");
}

static void put_byte(struct wbxml_writer *writer, uint8_t byte)
{
	if (writer->status == WBXML_OK && buf_append_byte(writer->out, byte) < 0)
		writer_fail(writer, WBXML_ERR_LIMIT, "response larger than its buffer limit");
}

static void put_mb_u_int32(struct wbxml_writer *writer, uint32_t value)
{
	uint8_t bytes[5];
	size_t n = 0;
	do {
		bytes[4 - n] = (uint8_t)(value & 0x7F) | (n > 0 ? 0x80 : 0);
		value >>= 7;
		n++;
	} while (value != 0);
	put(writer, bytes + 5 - n, n);
}

void wbxml_writer_init(struct wbxml_writer *writer, struct buf *out)
{
	static const uint8_t header[] = { 0x03, 0x01, 0x6A, 0x00 };
	writer->out = out;
	writer->page = 0;
	writer->depth = 0;
	writer->status = WBXML_OK;
	writer->reason = NULL;
	put(writer, header, sizeof(header));
}

static void put_tag(struct wbxml_writer *writer, enum wbxml_tag tag, bool content)
{
	unsigned page = wbxml_tag_page(tag);
	assert(wbxml_tag_name(tag) != NULL);
	if (page != writer->page) {
		uint8_t switch_page[2] = { 0x00, (uint8_t)page };
		put(writer, switch_page, 2);
		writer->page = (uint8_t)page;
	}
	put_byte(writer, (uint8_t)(wbxml_tag_token(tag) | (content ? 0x40 : 0)));
}

void wbxml_writer_start(struct wbxml_writer *writer, enum wbxml_tag tag)
{
	put_tag(writer, tag, true);
	writer->depth++;
}

void wbxml_writer_empty(struct wbxml_writer *writer, enum wbxml_tag tag)
{
	put_tag(writer, tag, false);
}

void wbxml_writer_end(struct wbxml_writer *writer)
{
	if (writer->depth == 0) {
		writer_fail(writer, WBXML_ERR_ENCODE, "END without an open element");
		return;
	}
	writer->depth--;
	put_byte(writer, 0x01);
}

void wbxml_writer_string(struct wbxml_writer *writer, const void *data, size_t len)
{
	/* STR_I ends at the first NUL; a NUL inside would cut the string. */
	if (len > 0 && memchr(data, 0, len) != NULL) {
		writer_fail(writer, WBXML_ERR_ENCODE, "NUL byte inside an inline string");
		return;
	}
	put_byte(writer, 0x03);
	put(writer, data, len);
	put_byte(writer, 0x00);
}

size_t wbxml_writer_string_slot(struct wbxml_writer *writer)
{
	put_byte(writer, 0x03);
	size_t slot = writer->out->len;
	put_byte(writer, 0x00);
	return slot;
}

void wbxml_writer_opaque(struct wbxml_writer *writer, const void *data, size_t len)
{
	if (len > UINT32_MAX) {
		writer_fail(writer, WBXML_ERR_LIMIT, "opaque data longer than 4 GB");
		return;
	}
	put_byte(writer, 0xC3);
	put_mb_u_int32(writer, (uint32_t)len);
	put(writer, data, len);
}

void wbxml_writer_element_string(struct wbxml_writer *writer, enum wbxml_tag tag,
				 const void *data, size_t len)
{
	if (len == 0) {
		wbxml_writer_empty(writer, tag);
		return;
	}
	wbxml_writer_start(writer, tag);
	wbxml_writer_string(writer, data, len);
	wbxml_writer_end(writer);
}

void wbxml_writer_element_cstr(struct wbxml_writer *writer, enum wbxml_tag tag, const char *s)
{
	wbxml_writer_element_string(writer, tag, s, strlen(s));
}

void wbxml_writer_element_uint(struct wbxml_writer *writer, enum wbxml_tag tag, uint64_t value)
{
	char digits[24];
	int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)value);
	wbxml_writer_element_string(writer, tag, digits, (size_t)n);
}

void wbxml_writer_element_opaque(struct wbxml_writer *writer, enum wbxml_tag tag,
				 const void *data, size_t len)
{
	wbxml_writer_start(writer, tag);
	wbxml_writer_opaque(writer, data, len);
	wbxml_writer_end(writer);
}

int wbxml_writer_finish(struct wbxml_writer *writer, const char **reason_out)
{
	if (writer->status == WBXML_OK && writer->depth != 0)
		writer_fail(writer, WBXML_ERR_ENCODE, "elements left open");
	if (reason_out != NULL)
		*reason_out = writer->reason;
	return writer->status;
}
