/*
 * fuzz_pim_fields.c: libFuzzer target for the classes kept as their fields
 * (src/pim fields.c, contacts.c, calendar.c, tasks.c, notes.c). The input
 * is WBXML whose root stands for a Sync's ApplicationData. Each class
 * reads it as an Add; what reads has consumed the root element, and an
 * item the class takes is stored, written for a 14.1 and a 16.1 device,
 * and has the same input merged into it as a Change, all without error.
 * An event is also taken as a meeting the user organizes, added, changed
 * and deleted: the iTIP messages of each (itip_organizer.c) are built.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pim/email.h"
#include "pim/itip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads the input as ApplicationData; 1 when the class took it (then *input is set). */
static int read_input(const struct pim_class *class, struct arena *arena, const uint8_t *data, size_t size,
		      struct pim_input *input)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	wbxml_reader_init(&reader, data, size, NULL);
	if (wbxml_reader_next(&reader, &event) != 0 || event.type != WBXML_EVENT_START)
		return 0;
	int status = class->read(class, &reader, arena, true, input);
	if (status < 0)
		return 0;
	/* A read that succeeds stops after the root's END. */
	if (wbxml_reader_depth(&reader) != 0)
		__builtin_trap();
	return input->invalid == NULL;
}

static void write_for(const struct pim_class *class, struct arena *arena, const struct pim_item *item, unsigned version)
{
	struct pim_options options = { .protocol_version = version, .preference_count = 1,
				       .preferences = { { .type = 1, .truncation_size = 64 } } };
	struct buf out;
	struct wbxml_writer writer;
	buf_init(&out, 0);
	wbxml_writer_init(&writer, &out);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_APPLICATION_DATA);
	if (class->write(class, &writer, arena, item, &options, true) != 0)
		__builtin_trap();
	wbxml_writer_end(&writer);
	if (wbxml_writer_finish(&writer, NULL) != 0)
		__builtin_trap();
	buf_cleanup(&out);
}

static int sequence_one(void *context, const char *uid, int64_t *sequence_out)
{
	(void)context;
	(void)uid;
	*sequence_out = 1;
	return 0;
}

/* The event as the user's own meeting: what attendees are told when it is added, changed into itself and deleted. */
static void organizer_messages(struct arena *arena, struct slice before, struct slice after)
{
	struct pim_itip_outgoing out[2];
	const char *uid;
	const struct slice changes[][2] = { { SLICE_EMPTY, after }, { before, after }, { after, SLICE_EMPTY } };
	for (size_t i = 0; i < 3; i++) {
		struct pim_itip_change change = { .before = changes[i][0].data, .before_len = changes[i][0].len,
						  .after = changes[i][1].data, .after_len = changes[i][1].len,
						  .user = "user@example.com", .address = "user@example.com", .name = "User",
						  .now = 1700000000, .max_recipients = 50, .sequence_of = sequence_one };
		int n = pim_itip_organizer_messages(arena, &change, &uid, out);
		for (int m = 0; m < n; m++)
			if (m >= 2 || out[m].message.len == 0 || out[m].recipient_count == 0 ||
			    out[m].recipient_count > 100)
				__builtin_trap();
	}
}

static void run_class(const struct pim_class *class, const uint8_t *data, size_t size)
{
	struct arena *arena = arena_new(0);
	struct pim_options options = { .protocol_version = 141 };
	struct pim_supported supported = { .given = true, .count = 1, .tags = { WBXML_CONTACTS_JOB_TITLE } };
	struct pim_author author = { .protocol_version = 141, .folder_type = 9, .user = "user@example.com",
				     .now = 1700000000, .options = &options, .supported = &supported };
	struct pim_input input;
	struct pim_update update;
	if (read_input(class, arena, data, size, &input) && class->create(class, arena, &author, &input, &update) == 0 &&
	    update.invalid == NULL) {
		struct slice content = update.content;
		struct pim_source source;
		pim_source_memory(&source, content.data, content.len);
		struct pim_email_state state = { .received = update.received };
		struct pim_item item = { &source, &state };
		write_for(class, arena, &item, 141);
		write_for(class, arena, &item, 161);
		if (read_input(class, arena, data, size, &input) &&
		    class->merge(class, arena, &author, &item, &input, &update) != 0)
			__builtin_trap();
		if (class == &pim_class_calendar && !update.keep_content)
			organizer_messages(arena, content, update.content);
	}
	arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_class(&pim_class_contacts, data, size);
	run_class(&pim_class_calendar, data, size);
	run_class(&pim_class_tasks, data, size);
	run_class(&pim_class_notes, data, size);
	return 0;
}
