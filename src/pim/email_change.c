/*
 * email_change.c: a client's Change of an e-mail (MS-ASCMD 2.2.3.24 inside
 * Sync): the only fields a client may change on a received message, Read,
 * Flag and Categories (MS-ASEMAIL 3.2.5.4).
 *
 * Must not: apply the change (the caller stores the new state) or accept
 * a value outside the spec's range.
 */
#include "pim/pim_private.h"

#include <string.h>

#include "guard/limits.h"

/* Categories kept per message (struct pim_email_state has room for 8). */
#define MAX_CATEGORIES 8

/* A value of a Change, at most LIMIT_CHANGE_VALUE_BYTES (a longer one fails the change). */
static int read_text(struct wbxml_reader *reader, struct arena *arena, struct slice *text_out)
{
	int status = pim_read_element_text(reader, arena, LIMIT_CHANGE_VALUE_BYTES, text_out);
	return status == 1 ? WBXML_ERR_LIMIT : status;
}

/* An element holding a number from 0 to max. */
static int read_number(struct wbxml_reader *reader, struct arena *arena, uint64_t max, uint64_t *value_out)
{
	struct slice text;
	int status = read_text(reader, arena, &text);
	if (status < 0)
		return status;
	return parse_uint64(text, max, value_out) == 0 ? 0 : WBXML_ERR_MALFORMED;
}

/*
 * MS-ASEMAIL 3.2.5.4.2: an empty Flag, or Status 0, clears the flag (so
 * does a Flag without Status);
 * Status 1 completes it, 2 sets it. A Status above 2 is refused (2.2.2.74:
 * the server answers Sync Status 6). The task fields beside Status
 * (FlagType, dates, reminders) are not kept.
 */
static int read_flag(struct wbxml_reader *reader, struct arena *arena, uint8_t *flag_status)
{
	struct wbxml_event event;
	uint64_t status_value = 0;
	int more, status;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		if (event.tag == WBXML_EMAIL_STATUS)
			status = read_number(reader, arena, 2, &status_value);
		else
			status = wbxml_reader_skip(reader);
		if (status < 0)
			return status;
	}
	if (more < 0)
		return more;
	*flag_status = (uint8_t)status_value;
	return 0;
}

/* The new list replaces the old; beyond MAX_CATEGORIES they are dropped. */
static int read_categories(struct wbxml_reader *reader, struct arena *arena, const char **categories)
{
	struct wbxml_event event;
	unsigned count = 0;
	int more, status;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		if (event.tag != WBXML_EMAIL_CATEGORY) {
			status = wbxml_reader_skip(reader);
		} else {
			struct slice text;
			status = read_text(reader, arena, &text);
			if (status == 0 && text.len > 0 && count < MAX_CATEGORIES)
				categories[count++] = arena_strndup(arena, text.data, text.len);
		}
		if (status < 0)
			return status;
	}
	if (more < 0)
		return more;
	for (unsigned i = count; i < MAX_CATEGORIES; i++)
		categories[i] = NULL;
	return 0;
}

/* The new state is built aside and kept only when the whole change reads. */
int pim_email_read_change(struct wbxml_reader *reader, struct arena *arena, struct pim_email_state *state,
			  unsigned *fields_out)
{
	struct pim_email_state next = *state;
	struct wbxml_event event;
	uint64_t read = 0;
	unsigned fields = 0;
	int more, status;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		if (event.tag == WBXML_EMAIL_READ) {
			status = read_number(reader, arena, 1, &read);
			next.read = read == 1;
			fields |= PIM_EMAIL_FIELD_READ;
		} else if (event.tag == WBXML_EMAIL_FLAG) {
			status = read_flag(reader, arena, &next.flag_status);
			fields |= PIM_EMAIL_FIELD_FLAG;
		} else if (event.tag == WBXML_EMAIL_CATEGORIES) {
			status = read_categories(reader, arena, next.categories);
			fields |= PIM_EMAIL_FIELD_CATEGORIES;
		} else {
			status = wbxml_reader_skip(reader);
		}
		if (status < 0)
			return status;
	}
	if (more < 0)
		return more;
	*state = next;
	if (fields_out != NULL)
		*fields_out = fields;
	return 0;
}
