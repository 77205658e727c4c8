/*
 * notes.c: Notes (MS-ASNOTE, 14.0+) as an entry of the class table. A note
 * is a sticky note (MessageClass IPM.StickyNote or IPM.StickyNote.*), its
 * LastModifiedDate is the server's (a client's is ignored, R84), a Change
 * without Body or Subject keeps them (R113) and one without Categories
 * clears them (R112). Notes take no Supported list (R114: Status 4).
 */
#include "pim/fields.h"

#include <string.h>

#define STICKY_NOTE "IPM.StickyNote"

static enum pim_omitted notes_omitted(enum wbxml_tag tag, unsigned protocol_version)
{
	(void)protocol_version;
	if (tag == WBXML_AIRSYNCBASE_BODY || tag == WBXML_NOTES_SUBJECT || tag == WBXML_NOTES_MESSAGE_CLASS)
		return PIM_OMITTED_KEPT;
	return PIM_OMITTED_DELETED;
}

/*
 * A note without MessageClass is taken as a plain sticky note (the lenient
 * reading: a client that forgets it still syncs); another class is not a
 * note (R57, R119: Status 6).
 */
static const char *notes_check(struct arena *arena, struct wbxml_node *item, const struct pim_author *author)
{
	(void)author;
	const char *message_class = pim_fields_text(item, WBXML_NOTES_MESSAGE_CLASS);
	size_t len = strlen(STICKY_NOTE);
	pim_fields_remove(item, WBXML_NOTES_LAST_MODIFIED_DATE);
	if (message_class[0] == '\0')
		pim_fields_set(arena, item, WBXML_NOTES_MESSAGE_CLASS, STICKY_NOTE);
	else if (strncmp(message_class, STICKY_NOTE, len) != 0 || (message_class[len] != '\0' && message_class[len] != '.'))
		return "message_class_invalid";
	return NULL;
}

/* Notes have no filter: their place is when they last changed, which LastModifiedDate says. */
static int64_t notes_place(const struct wbxml_node *item, const struct pim_author *author)
{
	(void)item;
	return author->now;
}

static void notes_write_extra(struct wbxml_writer *writer, struct arena *arena, const struct wbxml_node *item,
			      const struct pim_item *stored, const struct pim_options *options)
{
	(void)item;
	(void)options;
	wbxml_writer_element_cstr(writer, WBXML_NOTES_LAST_MODIFIED_DATE,
				  pim_fields_format_time(arena, stored->state->received));
}

static const struct pim_fields_spec notes_spec = {
	.omitted = notes_omitted,
	.check = notes_check,
	.place = notes_place,
	.write_extra = notes_write_extra,
};

const struct pim_class pim_class_notes = {
	.name = "Notes",
	.read = pim_fields_read,
	.create = pim_fields_create,
	.merge = pim_fields_merge,
	.write = pim_fields_write,
	.filter_start = pim_fields_no_filter,
	.estimated_bytes = pim_fields_estimated_bytes,
	.no_supported = true,
	.fields = &notes_spec,
};
