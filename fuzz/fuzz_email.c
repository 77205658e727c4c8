/*
 * fuzz_email.c: libFuzzer target for a stored message read as an e-mail
 * item (src/pim). The input is the MIME as the store keeps it. It is
 * written as ApplicationData under two fixed option sets (14.1 with HTML,
 * AllOrNone plain and a preview; 12.1 with MIME for S/MIME), its first
 * attachments are fetched by range, and its summary is taken. Whatever the
 * bytes, the writer must end without error (no NUL in a string, balanced
 * elements), the result must decode, every Data and Preview must be UTF-8
 * when it is text, and a fetched range must fit what was asked.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "pim/email.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct pim_options option_sets[] = {
	{ .protocol_version = 141, .mime_support = 0, .preference_count = 2,
	  .preferences = { { .type = PIM_BODY_HTML, .truncation_size = 512, .preview = 100 },
			   { .type = PIM_BODY_PLAIN, .truncation_size = 64, .all_or_none = true } } },
	{ .protocol_version = 121, .mime_support = 1, .mime_truncation = 300, .preference_count = 3,
	  .preferences = { { .type = PIM_BODY_MIME }, { .type = PIM_BODY_RTF },
			   { .type = PIM_BODY_PLAIN, .truncation_size = 100, .all_or_none = true } } },
};

static const struct wbxml_node *find(const struct wbxml_node *node, enum wbxml_tag tag)
{
	for (const struct wbxml_node *c = node != NULL ? node->first_child : NULL; c != NULL; c = c->next)
		if (c->tag == tag)
			return c;
	return NULL;
}

static void check_text(const struct wbxml_node *node)
{
	if (node != NULL && !g_utf8_validate((const char *)node->text.data, (gssize)node->text.len, NULL))
		__builtin_trap();
}

static void write_item(struct arena *arena, const uint8_t *data, size_t size,
		       const struct pim_options *options)
{
	struct pim_email_state state = {
		.received = 1700000000, .flag_status = 2, .file_reference_prefix = "1:2",
		.categories = { "Red" },
	};
	struct buf out;
	struct wbxml_writer writer;
	struct wbxml_node *root;
	buf_init(&out, 0);
	wbxml_writer_init(&writer, &out);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_APPLICATION_DATA);
	int status = pim_email_write(&writer, arena, data, size, options, &state);
	wbxml_writer_end(&writer);
	if (wbxml_writer_finish(&writer, NULL) != 0 || (status != 0 && size > 0))
		__builtin_trap();
	if (wbxml_tree_parse(arena, out.data, out.len, NULL, &root, NULL) != 0)
		__builtin_trap();
	const struct wbxml_node *body = find(root, WBXML_AIRSYNCBASE_BODY);
	const struct wbxml_node *type = find(body, WBXML_AIRSYNCBASE_TYPE);
	if (type != NULL && type->text.len == 1 && type->text.data[0] != '4')
		check_text(find(body, WBXML_AIRSYNCBASE_DATA));
	check_text(find(body, WBXML_AIRSYNCBASE_PREVIEW));
	check_text(find(root, WBXML_EMAIL_SUBJECT));
	buf_cleanup(&out);
}

static void fetch(struct arena *arena, const uint8_t *data, size_t size, unsigned index)
{
	struct buf out;
	uint64_t total;
	const char *type;
	struct pim_source source;
	pim_source_memory(&source, data, size);
	buf_init(&out, 0);
	if (pim_email_attachment(arena, &source, index, 3, 40, &out, &total, &type) == 0) {
		uint64_t want = total > 40 ? 38 : total > 3 ? total - 3 : 0;
		if (out.len != want || type == NULL)
			__builtin_trap();
	}
	buf_cleanup(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *arena = arena_new(0);
	struct pim_email_summary summary;
	for (size_t i = 0; i < sizeof(option_sets) / sizeof(option_sets[0]); i++)
		write_item(arena, data, size, &option_sets[i]);
	fetch(arena, data, size, 0);
	fetch(arena, data, size, 1);
	if (pim_email_summary(arena, data, size, &summary) == 0 &&
	    !g_utf8_validate(summary.subject, -1, NULL))
		__builtin_trap();
	arena_free(&arena);
	return 0;
}
