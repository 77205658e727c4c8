/*
 * options.c: what the commands that send mail items share when they read
 * a request and describe an item: the body options of an Options element
 * (Sync, ItemOperations; later Search) and the per-item state the store
 * keeps. Must not: write WBXML or touch the store.
 */
#include "eas/eas_private.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pim/email.h"

bool eas_folder_holds_mail(int type)
{
	/* MS-ASCMD 2.2.3.186.3: Inbox to Outbox, user-created mail and generic folders. */
	return (type >= STORE_FOLDER_INBOX && type <= STORE_FOLDER_OUTBOX) || type == STORE_FOLDER_USER_MAIL ||
	       type == STORE_FOLDER_GENERIC;
}

int eas_read_number(struct wbxml_reader *reader, unsigned max, unsigned fallback, unsigned *out)
{
	struct slice text;
	uint64_t value;
	if (eas_read_text(reader, &text) < 0)
		return -1;
	*out = text.len == 0 || parse_uint64(text, max, &value) < 0 ? fallback : (unsigned)value;
	return 0;
}

static int read_body_preference(struct wbxml_reader *reader, struct pim_options *options)
{
	struct pim_body_preference preference = { 0 };
	struct wbxml_event event;
	unsigned value = 0;
	for (;;) {
		if (wbxml_reader_next(reader, &event) < 0)
			return -1;
		if (event.type == WBXML_EVENT_END)
			break;
		if (event.type != WBXML_EVENT_START)
			continue;
		int status = 0;
		if (event.tag == WBXML_AIRSYNCBASE_TYPE && (status = eas_read_number(reader, 4, 0, &value)) == 0)
			preference.type = (uint8_t)value;
		else if (event.tag == WBXML_AIRSYNCBASE_TRUNCATION_SIZE &&
			 (status = eas_read_number(reader, UINT32_MAX, 0, &value)) == 0)
			preference.truncation_size = value;
		else if (event.tag == WBXML_AIRSYNCBASE_ALL_OR_NONE && (status = eas_read_number(reader, 1, 0, &value)) == 0)
			preference.all_or_none = value == 1;
		else if (event.tag == WBXML_AIRSYNCBASE_PREVIEW && (status = eas_read_number(reader, 255, 0, &value)) == 0)
			preference.preview = (uint16_t)value;
		else if (event.tag != WBXML_AIRSYNCBASE_TYPE && event.tag != WBXML_AIRSYNCBASE_TRUNCATION_SIZE &&
			 event.tag != WBXML_AIRSYNCBASE_ALL_OR_NONE && event.tag != WBXML_AIRSYNCBASE_PREVIEW)
			status = wbxml_reader_skip(reader);
		if (status < 0)
			return -1;
	}
	/* More preferences than PIM_MAX_BODY_PREFERENCES are dropped: there are only four body types. */
	if (preference.type != 0 && options->preference_count < PIM_MAX_BODY_PREFERENCES)
		options->preferences[options->preference_count++] = preference;
	return 0;
}

/* MIMETruncation codes (MS-ASCMD 2.2.3.109): 0 nothing ... 7 100 KB, 8 all. */
static uint32_t mime_truncation_bytes(unsigned code)
{
	static const uint32_t bytes[] = { 1, 4096, 5120, 7168, 10240, 20480, 51200, 102400, 0 };
	return code < sizeof(bytes) / sizeof(bytes[0]) ? bytes[code] : 0;
}

int eas_body_option_read(struct wbxml_reader *reader, enum wbxml_tag tag, struct pim_options *options)
{
	unsigned value = 0;
	switch (tag) {
	case WBXML_AIRSYNC_MIME_SUPPORT:
		if (eas_read_number(reader, 2, 0, &value) < 0)
			return -1;
		options->mime_support = (uint8_t)value;
		return 1;
	case WBXML_AIRSYNC_MIME_TRUNCATION:
		if (eas_read_number(reader, 8, 8, &value) < 0)
			return -1;
		options->mime_truncation = mime_truncation_bytes(value);
		return 1;
	case WBXML_AIRSYNCBASE_BODY_PREFERENCE:
		return read_body_preference(reader, options) < 0 ? -1 : 1;
	default:
		return 0;
	}
}

void eas_email_state(struct arena *arena, int64_t folder_id, const struct store_item *item,
		     struct pim_email_state *state_out)
{
	memset(state_out, 0, sizeof(*state_out));
	state_out->read = item->read;
	state_out->flag_status = item->flag_status;
	state_out->received = item->received;
	/* FileReference is "folder:item:index": MS-ASAIRS leaves its form to the server. */
	char prefix[48];
	snprintf(prefix, sizeof(prefix), "%" PRId64 ":%" PRId64, folder_id, item->id);
	state_out->file_reference_prefix = arena_strndup(arena, prefix, strlen(prefix));
	/* The store keeps categories newline-separated; pim takes at most 7 plus the NULL. */
	unsigned n = 0;
	for (const char *p = item->categories != NULL ? item->categories : ""; *p != '\0' && n < 7;) {
		size_t len = strcspn(p, "\n");
		state_out->categories[n++] = arena_strndup(arena, p, len);
		p += len + (p[len] == '\n');
	}
}
