/*
 * fuzz_email_draft.c: libFuzzer target for a client's draft (src/pim
 * email_draft.c). The input is WBXML whose root stands for
 * ApplicationData. It is read as a draft; a draft that reads is composed
 * as MIME and written back as Email ApplicationData. Whatever the bytes:
 * a read that returns 0 or PIM_DRAFT_INVALID has consumed the root
 * element (the request could go on), an invalid draft names its reason,
 * and a valid one composes, writes without error, lists exactly its
 * attachments and gives back the first one's bytes unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "guard/limits.h"
#include "pim/email.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned count_attachments(const struct wbxml_node *root)
{
	unsigned n = 0;
	for (const struct wbxml_node *c = root->first_child; c != NULL; c = c->next) {
		if (c->tag != WBXML_AIRSYNCBASE_ATTACHMENTS)
			continue;
		for (const struct wbxml_node *a = c->first_child; a != NULL; a = a->next)
			n += a->tag == WBXML_AIRSYNCBASE_ATTACHMENT;
	}
	return n;
}

static void check_composed(struct arena *arena, const struct pim_email_draft *draft)
{
	static const struct pim_options options = {
		.protocol_version = 161, .preference_count = 1, .preferences = { { .type = PIM_BODY_HTML } },
	};
	struct pim_email_state state = { .received = 1700000000, .file_reference_prefix = "1:2" };
	struct buf mime, out;
	struct wbxml_writer writer;
	struct wbxml_node *root;
	buf_init(&mime, 0);
	if (pim_email_compose_draft(arena, draft, "user@example.com", 1700000000, &mime) != 0)
		__builtin_trap();
	buf_init(&out, 0);
	wbxml_writer_init(&writer, &out);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_APPLICATION_DATA);
	if (pim_email_write(&writer, arena, mime.data, mime.len, &options, &state) != 0)
		__builtin_trap();
	wbxml_writer_end(&writer);
	if (wbxml_writer_finish(&writer, NULL) != 0 ||
	    wbxml_tree_parse(arena, out.data, out.len, NULL, &root, NULL) != 0)
		__builtin_trap();
	if (count_attachments(root) != draft->attachment_count)
		__builtin_trap();
	if (draft->attachment_count > 0) {
		struct buf fetched;
		uint64_t total;
		const char *type;
		const struct slice content = draft->attachments[0].content;
		struct pim_source source;
		pim_source_memory(&source, mime.data, mime.len);
		buf_init(&fetched, 0);
		if (pim_email_attachment(arena, &source, 0, 0, UINT64_MAX, &fetched, &total, &type) != 0 ||
		    fetched.len != content.len || (content.len > 0 && memcmp(fetched.data, content.data, content.len) != 0))
			__builtin_trap();
		buf_cleanup(&fetched);
	}
	buf_cleanup(&out);
	buf_cleanup(&mime);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wbxml_limits limits = { .max_depth = LIMIT_WBXML_DEPTH, .max_elements = 100000 };
	struct wbxml_reader reader;
	struct wbxml_event event;
	struct pim_email_draft draft;
	wbxml_reader_init(&reader, data, size, &limits);
	if (wbxml_reader_next(&reader, &event) < 0 || event.type != WBXML_EVENT_START)
		return 0;
	struct arena *arena = arena_new(0);
	int status = pim_email_read_draft(&reader, arena, &draft);
	if (status == 0 || status == PIM_DRAFT_INVALID) {
		if (wbxml_reader_depth(&reader) != 0)
			__builtin_trap();
		if ((status == PIM_DRAFT_INVALID) != (draft.invalid_reason != NULL))
			__builtin_trap();
		if (draft.attachment_count > LIMIT_MIME_ATTACHMENTS)
			__builtin_trap();
	}
	if (status == 0)
		check_composed(arena, &draft);
	arena_free(&arena);
	return 0;
}
