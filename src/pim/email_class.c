/*
 * email_class.c: Email as an entry of the class table. A message's MIME
 * never changes after delivery; a Change sets only the state the store
 * keeps beside it (Read, Flag, Categories: MS-ASEMAIL 3.2.5.4), and the one
 * mail a client may create is a draft (16.0+, in Drafts: MS-ASCMD
 * 2.2.3.7.2), composed as MIME here.
 */
#include "pim/email.h"

#include <string.h>

#include "guard/limits.h"

/* The Drafts folder type (MS-ASCMD 2.2.3.186.3). */
#define FOLDER_DRAFTS 3

/* A Change: the fields it carried and their values. */
struct email_change {
	unsigned fields;               /* enum pim_email_field */
	struct pim_email_state state;
};

static int email_read(const struct pim_class *class, struct wbxml_reader *reader, struct arena *arena, bool add,
		      struct pim_input *out)
{
	(void)class;
	memset(out, 0, sizeof(*out));
	if (add) {
		struct pim_email_draft *draft = arena_calloc(arena, 1, sizeof(*draft));
		int status = pim_email_read_draft(reader, arena, draft);
		out->data = draft;
		if (status == PIM_DRAFT_INVALID)
			out->invalid = draft->invalid_reason;
		return status == PIM_DRAFT_INVALID ? 0 : status;
	}
	struct email_change *change = arena_calloc(arena, 1, sizeof(*change));
	out->data = change;
	return pim_email_read_change(reader, arena, &change->state, &change->fields);
}

/* Categories as the store keeps them: newline-separated, in arena. */
static const char *joined_categories(struct arena *arena, const char *const categories[8])
{
	struct buf joined;
	/* Each category is at most LIMIT_CHANGE_VALUE_BYTES (the readers refuse longer): all fit. */
	buf_init(&joined, 8 * (LIMIT_CHANGE_VALUE_BYTES + 1));
	for (unsigned i = 0; i < 8 && categories[i] != NULL; i++) {
		if (i > 0)
			buf_append_byte(&joined, '\n');
		buf_append_cstr(&joined, categories[i]);
	}
	const char *copy = arena_strndup(arena, joined.data != NULL ? (const char *)joined.data : "", joined.len);
	buf_cleanup(&joined);
	return copy;
}

static int email_create(const struct pim_class *class, struct arena *arena, const struct pim_author *author,
			const struct pim_input *input, struct pim_update *update)
{
	(void)class;
	const struct pim_email_draft *draft = input->data;
	memset(update, 0, sizeof(*update));
	if (author->protocol_version < 160 || author->folder_type != FOLDER_DRAFTS) {
		update->invalid = "add_not_allowed";
		return 0;
	}
	struct buf mime;
	struct pim_email_summary summary;
	buf_init(&mime, LIMIT_MESSAGE_BYTES_DEFAULT);
	int status = pim_email_compose_draft(arena, draft, author->user, author->now, &mime);
	if (status == 0) {
		update->content = (struct slice){ (const uint8_t *)arena_strndup(arena, mime.data, mime.len), mime.len };
		pim_email_summary(arena, update->content.data, update->content.len, &summary);
		update->message_id = summary.message_id;
	}
	buf_cleanup(&mime);
	update->received = author->now;
	update->date = author->now;
	update->read = draft->read;
	update->flag_status = draft->flag_status;
	update->categories = joined_categories(arena, draft->categories);
	return status;
}

static int email_merge(const struct pim_class *class, struct arena *arena, const struct pim_author *author,
		       const struct pim_item *item, const struct pim_input *input, struct pim_update *update)
{
	(void)class;
	(void)author;
	const struct email_change *change = input->data;
	const struct pim_email_state *stored = item->state;
	memset(update, 0, sizeof(*update));
	if (input->instance != NULL || change == NULL) {
		update->invalid = "instance_unsupported";
		return 0;
	}
	update->keep_content = true;
	update->read = change->fields & PIM_EMAIL_FIELD_READ ? change->state.read : stored->read;
	update->flag_status = change->fields & PIM_EMAIL_FIELD_FLAG ? change->state.flag_status : stored->flag_status;
	const char *const *categories =
		change->fields & PIM_EMAIL_FIELD_CATEGORIES ? change->state.categories : stored->categories;
	update->categories = joined_categories(arena, categories);
	update->unchanged = update->read == stored->read && update->flag_status == stored->flag_status &&
			    strcmp(update->categories, joined_categories(arena, stored->categories)) == 0;
	return 0;
}

/* Content that gives no message still gives its flags. */
static int email_write(const struct pim_class *class, struct wbxml_writer *writer, struct arena *arena,
		       const struct pim_item *item, const struct pim_options *options, bool whole)
{
	(void)class;
	if (!whole || item->content == NULL ||
	    pim_email_write_source(writer, arena, item->content, options, item->state) < 0)
		pim_email_write_flags(writer, item->state, options->protocol_version);
	return 0;
}

/* MS-ASCMD 2.2.3.68.2: mail windows are 1 day, 3 days, 1 week, 2 weeks, 1 month. */
static int64_t email_filter_start(uint8_t filter_type, int64_t now)
{
	static const int64_t days[] = { [1] = 1, [2] = 3, [3] = 7, [4] = 14, [5] = 31 };
	if (filter_type == 0 || filter_type >= sizeof(days) / sizeof(days[0]))
		return 0;
	int64_t start = now - days[filter_type] * 86400;
	return start > 0 ? start : 0;
}

/*
 * The largest body the options allow (the whole message for MIME or no
 * truncation), plus the headers: bounds responses by bytes before the
 * message is converted.
 */
uint64_t pim_email_estimated_bytes(const struct pim_options *options, uint64_t size)
{
	uint64_t largest = 0;
	for (unsigned i = 0; i < options->preference_count; i++) {
		uint32_t truncation = options->preferences[i].truncation_size;
		if (truncation == 0 || options->preferences[i].type == PIM_BODY_MIME) {
			largest = size;
			break;
		}
		if (truncation > largest)
			largest = truncation;
	}
	if (options->preference_count == 0 || largest > size)
		largest = size;
	/* The headers, attachment list and flags around the body. */
	return largest + 1024;
}

const struct pim_class pim_class_email = {
	.name = "Email",
	.read = email_read,
	.create = email_create,
	.merge = email_merge,
	.write = email_write,
	.filter_start = email_filter_start,
	.estimated_bytes = pim_email_estimated_bytes,
};
