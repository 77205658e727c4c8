/*
 * ids.c: ServerIds as easd writes them. A folder's is its store id in
 * decimal; an item's is "folder:item", so a ServerId sent with the wrong
 * collection is recognised instead of touching another folder's item.
 */
#include "eas/eas_private.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int eas_folder_id_parse(struct slice text, int64_t *folder_out)
{
	uint64_t value;
	if (parse_uint64(text, INT64_MAX, &value) < 0 || value == 0)
		return -1;
	*folder_out = (int64_t)value;
	return 0;
}

int eas_server_id_parse(struct slice text, int64_t folder_id, int64_t *item_out)
{
	const uint8_t *colon = text.len > 0 ? memchr(text.data, ':', text.len) : NULL;
	int64_t folder;
	uint64_t item;
	if (colon == NULL)
		return -1;
	struct slice left = { text.data, (size_t)(colon - text.data) };
	struct slice right = { colon + 1, text.len - left.len - 1 };
	if (eas_folder_id_parse(left, &folder) < 0 || parse_uint64(right, INT64_MAX, &item) < 0 ||
	    folder != folder_id)
		return -1;
	*item_out = (int64_t)item;
	return 0;
}

void eas_server_id_write(struct wbxml_writer *writer, enum wbxml_tag tag, int64_t folder_id, int64_t item_id)
{
	char id[48];
	snprintf(id, sizeof(id), "%" PRId64 ":%" PRId64, folder_id, item_id);
	wbxml_writer_element_cstr(writer, tag, id);
}
