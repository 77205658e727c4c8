/*
 * fuzz_import.c: libFuzzer target for easctl import's readers (src/pim
 * vcard.c, ical.c with libical). Whatever the bytes: the file is read or
 * refused with a line, and every item it gives goes through its class's
 * Add checks and is written back as vCard or iCalendar without error.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pim/email.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int take(void *context, const struct pim_class *class, void *fields, unsigned line)
{
	struct arena *arena = context;
	struct pim_author author = { .protocol_version = 161, .user = "user", .now = 1700000000 };
	struct pim_input input = { .data = fields };
	struct pim_update update;
	(void)line;
	if (class->create(class, arena, &author, &input, &update) == 0 && update.invalid == NULL) {
		struct slice content = update.content;
		struct pim_source source;
		pim_source_memory(&source, content.data, content.len);
		struct pim_email_state state = { .received = update.received };
		struct pim_item item = { &source, &state };
		struct buf out;
		buf_init(&out, 0);
		pim_export_begin(&out, class);
		if (pim_export_item(&out, arena, class, &item) != 0)
			__builtin_trap();
		pim_export_end(&out, class);
		buf_cleanup(&out);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *arena = arena_new(0);
	char error[256];
	pim_import(arena, (const char *)data, size, take, arena, error, sizeof(error));
	arena_free(&arena);
	return 0;
}
