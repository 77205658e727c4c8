/*
 * class.c: which class a folder holds (MS-ASCMD 2.2.3.186.3 folder types),
 * and the class of folders whose items easd does not sync: they stay
 * empty, and what a client sends to them is refused item by item.
 */
#include "pim/email.h"

static int none_read(const struct pim_class *class, struct wbxml_reader *reader, struct arena *arena, bool add,
		     struct pim_input *out)
{
	(void)class;
	(void)arena;
	(void)add;
	out->invalid = "class_unsupported";
	return wbxml_reader_skip(reader);
}

static int none_create(const struct pim_class *class, struct arena *arena, const struct pim_author *author,
		       const struct pim_input *input, struct pim_update *update)
{
	(void)class;
	(void)arena;
	(void)author;
	(void)input;
	update->invalid = "class_unsupported";
	return 0;
}

static int none_merge(const struct pim_class *class, struct arena *arena, const struct pim_author *author,
		      const struct pim_item *item, const struct pim_input *input, struct pim_update *update)
{
	(void)item;
	return none_create(class, arena, author, input, update);
}

static int none_write(const struct pim_class *class, struct wbxml_writer *writer, struct arena *arena,
		      const struct pim_item *item, const struct pim_options *options, bool whole)
{
	(void)class;
	(void)writer;
	(void)arena;
	(void)item;
	(void)options;
	(void)whole;
	return -1;
}

static int64_t none_filter_start(uint8_t filter_type, int64_t now)
{
	(void)filter_type;
	(void)now;
	return 0;
}

static uint64_t none_estimated_bytes(const struct pim_options *options, uint64_t size)
{
	(void)options;
	return size + 1024;
}

static const struct pim_class class_none = {
	.name = "",
	.read = none_read,
	.create = none_create,
	.merge = none_merge,
	.write = none_write,
	.filter_start = none_filter_start,
	.estimated_bytes = none_estimated_bytes,
};

const struct pim_class *pim_class_for_folder(int folder_type)
{
	switch (folder_type) {
	case 1: /* generic */
	case 2: /* Inbox */
	case 3: /* Drafts */
	case 4: /* Deleted Items */
	case 5: /* Sent Items */
	case 6: /* Outbox */
	case 12: /* user-created mail */
		return &pim_class_email;
	case 7:  /* Tasks */
	case 15: /* user-created tasks */
		return &pim_class_tasks;
	case 8:  /* Calendar */
	case 13: /* user-created calendar */
		return &pim_class_calendar;
	case 9:  /* Contacts */
	case 14: /* user-created contacts */
		return &pim_class_contacts;
	case 10: /* Notes */
	case 17: /* user-created notes */
		return &pim_class_notes;
	default:
		return &class_none;
	}
}
