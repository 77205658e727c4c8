/*
 * interchange.c: iCalendar and vCard files for easctl import and export
 * (see interchange.h): the entry points, and the field helpers the two
 * formats share.
 */
#include "pim/interchange.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "guard/limits.h"

struct wbxml_node *pim_interchange_decode(struct arena *arena, const char *base64)
{
	gsize len = 0;
	struct wbxml_node *root = NULL;
	struct wbxml_error error;
	guchar *bytes = g_base64_decode(base64, &len);
	if (bytes != NULL && len > 0 && len <= LIMIT_PIM_ITEM_BYTES) {
		uint8_t *copy = arena_alloc(arena, len);
		memcpy(copy, bytes, len);
		if (wbxml_tree_parse(arena, copy, len, NULL, &root, &error) != 0 ||
		    root->tag != WBXML_AIRSYNC_APPLICATION_DATA)
			root = NULL;
	}
	g_free(bytes);
	return root;
}

const char *pim_interchange_encode(struct arena *arena, const struct wbxml_node *fields)
{
	struct buf bytes;
	buf_init(&bytes, 0);
	const char *text = "";
	if (wbxml_tree_encode(fields, &bytes) == 0) {
		gchar *base64 = g_base64_encode(bytes.data, bytes.len);
		text = arena_strndup(arena, base64, strlen(base64));
		g_free(base64);
	}
	buf_cleanup(&bytes);
	return text;
}

void pim_interchange_set(struct arena *arena, struct wbxml_node *item, enum wbxml_tag tag, const char *value)
{
	if (value != NULL && value[0] != '\0')
		pim_fields_set(arena, item, tag, value);
}

void pim_interchange_body(struct arena *arena, struct wbxml_node *item, const char *text)
{
	if (text == NULL || text[0] == '\0')
		return;
	struct wbxml_node *body = pim_fields_new(arena, item, WBXML_AIRSYNCBASE_BODY);
	pim_fields_set(arena, body, WBXML_AIRSYNCBASE_TYPE, "1");
	pim_fields_set(arena, body, WBXML_AIRSYNCBASE_DATA, text);
}

const char *pim_interchange_body_text(const struct wbxml_node *item)
{
	const struct wbxml_node *body = pim_fields_find(item, WBXML_AIRSYNCBASE_BODY);
	return body != NULL ? pim_fields_text(body, WBXML_AIRSYNCBASE_DATA) : "";
}

int pim_import(struct arena *arena, const char *text, size_t len, pim_import_fn *fn, void *context, char *error,
	       size_t error_len)
{
	size_t skip = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; /* a byte-order mark */
	if (len - skip >= 11 && g_ascii_strncasecmp(text + skip, "BEGIN:VCARD", 11) == 0)
		return pim_vcard_import(arena, text + skip, len - skip, fn, context, error, error_len);
	if (len - skip >= 15 && g_ascii_strncasecmp(text + skip, "BEGIN:VCALENDAR", 15) == 0)
		return pim_ical_import(arena, text + skip, len - skip, fn, context, error, error_len);
	snprintf(error, error_len, "line 1: neither an iCalendar (BEGIN:VCALENDAR) nor a vCard (BEGIN:VCARD) file");
	return -1;
}

void pim_export_begin(struct buf *out, const struct pim_class *class)
{
	if (class != &pim_class_contacts)
		buf_append_cstr(out, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//easd//easctl export//EN\r\n");
}

int pim_export_item(struct buf *out, struct arena *arena, const struct pim_class *class, const struct pim_item *item)
{
	struct wbxml_node *fields = pim_fields_tree(arena, item);
	if (fields == NULL)
		return -1;
	if (class == &pim_class_contacts)
		pim_vcard_export(out, arena, fields);
	else
		/* DTSTAMP: when the file is written (RFC 5545 3.8.7.2); a note's own time is when it changed. */
		pim_ical_export(out, arena, class, fields, class == &pim_class_notes ? item->state->received : (int64_t)time(NULL));
	return 0;
}

void pim_export_end(struct buf *out, const struct pim_class *class)
{
	if (class != &pim_class_contacts)
		buf_append_cstr(out, "END:VCALENDAR\r\n");
}
