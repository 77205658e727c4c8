/*
 * test_reader.c: the reader against well-formed and hostile input.
 * Table-driven: bytes in, status and offset out. Every limit is tested at
 * the limit and one past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "wbxml/wbxml.h"

/* Runs the reader to the end; returns the status and the event count. */
static int read_all(const uint8_t *input, size_t len, const struct wbxml_limits *limits,
		    struct wbxml_error *error_out, unsigned *events_out)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	unsigned events = 0;
	wbxml_reader_init(&reader, input, len, limits);
	for (;;) {
		int status = wbxml_reader_next(&reader, &event);
		if (status < 0) {
			*error_out = reader.error;
			if (events_out != NULL)
				*events_out = events;
			return status;
		}
		events++;
		if (event.type == WBXML_EVENT_DONE) {
			if (events_out != NULL)
				*events_out = events;
			return WBXML_OK;
		}
	}
}

struct hostile_case {
	const char *name;
	const char *hex;
	int status;
	size_t offset;
};

/* Header 03 01 6A 00, then a body. 45 = <Sync> with content on page 0. */
static const struct hostile_case hostile_cases[] = {
	{ "empty_input", "", WBXML_ERR_TRUNCATED, 0 },
	{ "header_only", "03 01 6A 00", WBXML_ERR_TRUNCATED, 4 },
	{ "version_1_0_refused", "00 01 6A 00 05", WBXML_ERR_MALFORMED, 0 },
	{ "version_2_0_refused", "04 01 6A 00 05", WBXML_ERR_MALFORMED, 0 },
	{ "public_id_not_unknown", "03 02 6A 00 05", WBXML_ERR_UNSUPPORTED, 1 },
	{ "public_id_in_string_table", "03 00 00 6A 00 05", WBXML_ERR_UNSUPPORTED, 1 },
	{ "charset_latin1", "03 01 04 00 05", WBXML_ERR_UNSUPPORTED, 2 },
	{ "string_table_present", "03 01 6A 02 41 00 05", WBXML_ERR_UNSUPPORTED, 3 },
	{ "mb_u_int32_six_bytes", "03 81 80 80 80 80 01 6A 00 05", WBXML_ERR_MALFORMED, 1 },
	{ "mb_u_int32_past_32_bits", "03 90 80 80 80 01 6A 00 05", WBXML_ERR_MALFORMED, 1 },
	{ "mb_u_int32_truncated", "03 81", WBXML_ERR_TRUNCATED, 1 },
	{ "opaque_4gb_length", "03 01 6A 00 45 C3 8F FF FF FF 7F 41 42", WBXML_ERR_LIMIT, 5 },
	{ "opaque_past_input", "03 01 6A 00 45 C3 10 41 42", WBXML_ERR_TRUNCATED, 5 },
	{ "opaque_length_overlong", "03 01 6A 00 45 C3 80 80 80 80 80 01", WBXML_ERR_MALFORMED, 6 },
	{ "string_unterminated", "03 01 6A 00 45 03 41 42 43", WBXML_ERR_TRUNCATED, 5 },
	{ "attributes", "03 01 6A 00 C5 01 01", WBXML_ERR_UNSUPPORTED, 4 },
	{ "attributes_without_content", "03 01 6A 00 85 01", WBXML_ERR_UNSUPPORTED, 4 },
	{ "entity", "03 01 6A 00 45 02 81 20 01", WBXML_ERR_UNSUPPORTED, 5 },
	{ "string_table_reference", "03 01 6A 00 45 83 00 01", WBXML_ERR_UNSUPPORTED, 5 },
	{ "processing_instruction", "03 01 6A 00 43 05 01 45 01", WBXML_ERR_UNSUPPORTED, 4 },
	{ "extension_inline", "03 01 6A 00 45 40 41 00 01", WBXML_ERR_UNSUPPORTED, 5 },
	{ "extension_table", "03 01 6A 00 45 80 00 01", WBXML_ERR_UNSUPPORTED, 5 },
	{ "extension_byte", "03 01 6A 00 45 C0 01", WBXML_ERR_UNSUPPORTED, 5 },
	{ "literal_tag", "03 01 6A 00 04 00", WBXML_ERR_UNSUPPORTED, 4 },
	{ "literal_tag_with_content", "03 01 6A 00 45 44 00 01 01", WBXML_ERR_UNSUPPORTED, 5 },
	{ "unknown_token_on_page", "03 01 6A 00 51 01", WBXML_ERR_UNKNOWN_TAG, 4 },
	{ "legacy_airsync_version_token", "03 01 6A 00 45 11 01", WBXML_ERR_UNKNOWN_TAG, 5 },
	{ "switch_to_retired_page_3", "03 01 6A 00 00 03 05", WBXML_ERR_UNKNOWN_TAG, 4 },
	{ "switch_past_last_page", "03 01 6A 00 00 1A 05", WBXML_ERR_UNKNOWN_TAG, 4 },
	{ "switch_page_truncated", "03 01 6A 00 00", WBXML_ERR_TRUNCATED, 4 },
	{ "end_without_element", "03 01 6A 00 01", WBXML_ERR_MALFORMED, 4 },
	{ "string_outside_root", "03 01 6A 00 03 41 00 45 01", WBXML_ERR_MALFORMED, 4 },
	{ "opaque_outside_root", "03 01 6A 00 C3 01 41 45 01", WBXML_ERR_MALFORMED, 4 },
	{ "second_root", "03 01 6A 00 45 01 45 01", WBXML_ERR_MALFORMED, 6 },
	{ "second_empty_root", "03 01 6A 00 05 05", WBXML_ERR_MALFORMED, 5 },
	{ "page_switch_after_root", "03 01 6A 00 45 01 00 01", WBXML_ERR_MALFORMED, 6 },
	{ "end_after_root", "03 01 6A 00 45 01 01", WBXML_ERR_MALFORMED, 6 },
	{ "root_never_closed", "03 01 6A 00 45 5C 4F", WBXML_ERR_TRUNCATED, 7 },
};

static void hostile_input_gets_clean_error(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hostile_cases) / sizeof(hostile_cases[0]); i++) {
		const struct hostile_case *c = &hostile_cases[i];
		struct buf input;
		struct wbxml_error error;
		buf_init(&input, 0);
		FILE *hex = fmemopen((void *)c->hex, strlen(c->hex) + 1, "r");
		assert_non_null(hex);
		unsigned byte;
		while (fscanf(hex, "%x", &byte) == 1)
			buf_append_byte(&input, (uint8_t)byte);
		fclose(hex);
		int status = read_all(input.data, input.len, NULL, &error, NULL);
		if (status != c->status || error.offset != c->offset)
			fail_msg("%s: status %s offset %zu (%s), want %s offset %zu", c->name,
				 wbxml_status_name(status), error.offset, error.reason,
				 wbxml_status_name(c->status), c->offset);
		assert_non_null(error.reason);
		buf_cleanup(&input);
	}
}

/* Both empty-element forms: <RebuildResults/> as 19 and as 59 01 (examples/README). */
static void empty_element_both_forms(void **state)
{
	(void)state;
	static const uint8_t bare[] = { 0x03, 0x01, 0x6A, 0x00, 0x00, 0x0F, 0x45, 0x19, 0x01 };
	static const uint8_t with_content[] = { 0x03, 0x01, 0x6A, 0x00, 0x00, 0x0F, 0x45, 0x59, 0x01, 0x01 };
	struct wbxml_reader reader;
	struct wbxml_event event;

	wbxml_reader_init(&reader, bare, sizeof(bare), NULL);
	assert_int_equal(wbxml_reader_next(&reader, &event), WBXML_OK);
	assert_int_equal(event.tag, WBXML_SEARCH_SEARCH);
	assert_int_equal(wbxml_reader_next(&reader, &event), WBXML_OK);
	assert_int_equal(event.type, WBXML_EVENT_START);
	assert_int_equal(event.tag, WBXML_SEARCH_REBUILD_RESULTS);
	assert_true(event.empty);
	assert_int_equal(wbxml_reader_next(&reader, &event), WBXML_OK);
	assert_int_equal(event.type, WBXML_EVENT_END);
	assert_int_equal(event.tag, WBXML_SEARCH_REBUILD_RESULTS);

	wbxml_reader_init(&reader, with_content, sizeof(with_content), NULL);
	assert_int_equal(wbxml_reader_next(&reader, &event), WBXML_OK);
	assert_int_equal(wbxml_reader_next(&reader, &event), WBXML_OK);
	assert_false(event.empty);
	assert_int_equal(wbxml_reader_next(&reader, &event), WBXML_OK);
	assert_int_equal(event.type, WBXML_EVENT_END);
	assert_int_equal(event.tag, WBXML_SEARCH_REBUILD_RESULTS);
}

/* A chain of n nested <Collections> (content bit) elements, closed. */
static void nested_message(struct buf *out, unsigned n)
{
	static const uint8_t header[] = { 0x03, 0x01, 0x6A, 0x00 };
	buf_append(out, header, sizeof(header));
	for (unsigned i = 0; i < n; i++)
		buf_append_byte(out, 0x5C);
	for (unsigned i = 0; i < n; i++)
		buf_append_byte(out, 0x01);
}

static void depth_limit_at_and_past(void **state)
{
	(void)state;
	struct buf input;
	struct wbxml_error error;

	buf_init(&input, 0);
	nested_message(&input, WBXML_DEFAULT_MAX_DEPTH);
	assert_int_equal(read_all(input.data, input.len, NULL, &error, NULL), WBXML_OK);
	input.len = 0;
	nested_message(&input, WBXML_DEFAULT_MAX_DEPTH + 1);
	assert_int_equal(read_all(input.data, input.len, NULL, &error, NULL), WBXML_ERR_LIMIT);
	assert_int_equal(error.offset, 4 + WBXML_DEFAULT_MAX_DEPTH);

	/* A depth bomb of a million levels costs one pass up to the limit. */
	input.len = 0;
	nested_message(&input, 1000000);
	assert_int_equal(read_all(input.data, input.len, NULL, &error, NULL), WBXML_ERR_LIMIT);

	/* A caller cannot raise the depth past the reader's fixed stack. */
	struct wbxml_limits deep = { .max_depth = 1000 };
	input.len = 0;
	nested_message(&input, WBXML_DEPTH_CAP);
	assert_int_equal(read_all(input.data, input.len, &deep, &error, NULL), WBXML_OK);
	input.len = 0;
	nested_message(&input, WBXML_DEPTH_CAP + 1);
	assert_int_equal(read_all(input.data, input.len, &deep, &error, NULL), WBXML_ERR_LIMIT);
	buf_cleanup(&input);
}

/* <Sync> holding n empty <SyncKey/> elements. */
static void wide_message(struct buf *out, unsigned n)
{
	static const uint8_t header[] = { 0x03, 0x01, 0x6A, 0x00, 0x45 };
	buf_append(out, header, sizeof(header));
	for (unsigned i = 0; i < n; i++)
		buf_append_byte(out, 0x0B);
	buf_append_byte(out, 0x01);
}

static void element_limit_at_and_past(void **state)
{
	(void)state;
	struct wbxml_limits limits = { .max_elements = 10 };
	struct buf input;
	struct wbxml_error error;

	buf_init(&input, 0);
	wide_message(&input, 9); /* plus the root: 10 */
	assert_int_equal(read_all(input.data, input.len, &limits, &error, NULL), WBXML_OK);
	input.len = 0;
	wide_message(&input, 10);
	assert_int_equal(read_all(input.data, input.len, &limits, &error, NULL), WBXML_ERR_LIMIT);
	assert_int_equal(error.offset, 4 + 10);
	buf_cleanup(&input);
}

/* <Sync><SyncKey>n bytes</SyncKey></Sync>, as STR_I or OPAQUE. */
static void text_message(struct buf *out, size_t n, bool opaque)
{
	static const uint8_t header[] = { 0x03, 0x01, 0x6A, 0x00, 0x45, 0x4B };
	buf_append(out, header, sizeof(header));
	if (opaque) {
		buf_append_byte(out, 0xC3);
		buf_append_byte(out, (uint8_t)n); /* tests keep n < 128 */
	} else {
		buf_append_byte(out, 0x03);
	}
	for (size_t i = 0; i < n; i++)
		buf_append_byte(out, 'x');
	if (!opaque)
		buf_append_byte(out, 0x00);
	buf_append_byte(out, 0x01);
	buf_append_byte(out, 0x01);
}

static void string_limit_at_and_past(void **state)
{
	(void)state;
	struct wbxml_limits limits = { .max_string = 5 };
	struct buf input;
	struct wbxml_error error;

	buf_init(&input, 0);
	for (int opaque = 0; opaque <= 1; opaque++) {
		input.len = 0;
		text_message(&input, 5, opaque);
		assert_int_equal(read_all(input.data, input.len, &limits, &error, NULL), WBXML_OK);
		input.len = 0;
		text_message(&input, 6, opaque);
		assert_int_equal(read_all(input.data, input.len, &limits, &error, NULL), WBXML_ERR_LIMIT);
		assert_int_equal(error.offset, 6);
	}
	/* An unterminated string longer than the limit is refused, not awaited. */
	input.len = 0;
	text_message(&input, 20, false);
	input.len -= 3;
	assert_int_equal(read_all(input.data, input.len, &limits, &error, NULL), WBXML_ERR_LIMIT);
	buf_cleanup(&input);
}

static void total_limit_at_and_past(void **state)
{
	(void)state;
	struct buf input;
	struct wbxml_error error;

	buf_init(&input, 0);
	text_message(&input, 10, false);
	struct wbxml_limits exact = { .max_total = input.len };
	struct wbxml_limits smaller = { .max_total = input.len - 1 };
	assert_int_equal(read_all(input.data, input.len, &exact, &error, NULL), WBXML_OK);
	assert_int_equal(read_all(input.data, input.len, &smaller, &error, NULL), WBXML_ERR_LIMIT);
	buf_cleanup(&input);
}

/* The reader fed one byte at a time gives the same events as all at once. */
static void byte_by_byte_equals_whole(void **state)
{
	(void)state;
	char *path = testlib_path("tests/data/examples/aswbxml-sync-add-contact.wbxml.hex");
	struct buf input;
	buf_init(&input, 0);
	assert_int_equal(testlib_read_hex(path, &input), 0);
	free(path);

	struct wbxml_reader whole, stream;
	struct wbxml_event a, b;
	wbxml_reader_init(&whole, input.data, input.len, NULL);
	size_t given = 0;
	wbxml_reader_init(&stream, input.data, given, NULL);
	do {
		assert_int_equal(wbxml_reader_next(&whole, &a), WBXML_OK);
		int status;
		while ((status = wbxml_reader_next(&stream, &b)) == WBXML_ERR_TRUNCATED) {
			assert_true(given < input.len);
			wbxml_reader_more(&stream, input.data, ++given);
		}
		assert_int_equal(status, WBXML_OK);
		assert_int_equal(a.type, b.type);
		assert_int_equal(a.offset, b.offset);
		if (a.type == WBXML_EVENT_START || a.type == WBXML_EVENT_END)
			assert_int_equal(a.tag, b.tag);
		if (a.type == WBXML_EVENT_STRING) {
			assert_int_equal(a.data.len, b.data.len);
			assert_memory_equal(a.data.data, b.data.data, a.data.len);
		}
	} while (a.type != WBXML_EVENT_DONE);
	buf_cleanup(&input);
}

static void skip_consumes_subtree(void **state)
{
	(void)state;
	char *path = testlib_path("tests/data/examples/aswbxml-sync-add-contact.wbxml.hex");
	struct buf input;
	buf_init(&input, 0);
	assert_int_equal(testlib_read_hex(path, &input), 0);
	free(path);

	struct wbxml_reader reader;
	struct wbxml_event event;
	wbxml_reader_init(&reader, input.data, input.len, NULL);
	/* Walk to ApplicationData, skip it, and land on the END of Add. */
	do
		assert_int_equal(wbxml_reader_next(&reader, &event), WBXML_OK);
	while (!(event.type == WBXML_EVENT_START && event.tag == WBXML_AIRSYNC_APPLICATION_DATA));
	assert_int_equal(wbxml_reader_skip(&reader), WBXML_OK);
	assert_int_equal(wbxml_reader_next(&reader, &event), WBXML_OK);
	assert_int_equal(event.type, WBXML_EVENT_END);
	assert_int_equal(event.tag, WBXML_AIRSYNC_ADD);
	assert_int_equal(wbxml_reader_depth(&reader), 4);
	buf_cleanup(&input);
}

/* <Sync>text<Collections/><SyncKey>1</SyncKey></Sync>: two children, text passed over. */
static void next_child_walks_children(void **state)
{
	(void)state;
	static const uint8_t input[] = { 0x03, 0x01, 0x6A, 0x00, 0x45, 0x03, 'x', 0x00, 0x1C,
					 0x4B, 0x03, '1', 0x00, 0x01, 0x01 };
	struct wbxml_reader reader;
	struct wbxml_event event;
	wbxml_reader_init(&reader, input, sizeof(input), NULL);
	assert_int_equal(wbxml_reader_next(&reader, &event), WBXML_OK);
	assert_int_equal(wbxml_reader_next_child(&reader, &event), 1);
	assert_int_equal(event.tag, WBXML_AIRSYNC_COLLECTIONS);
	assert_int_equal(wbxml_reader_skip(&reader), WBXML_OK);
	assert_int_equal(wbxml_reader_next_child(&reader, &event), 1);
	assert_int_equal(event.tag, WBXML_AIRSYNC_SYNC_KEY);
	assert_int_equal(wbxml_reader_skip(&reader), WBXML_OK);
	assert_int_equal(wbxml_reader_next_child(&reader, &event), 0);
	assert_int_equal(event.tag, WBXML_AIRSYNC_SYNC);
	/* Cut before the END: the error comes through. */
	wbxml_reader_init(&reader, input, sizeof(input) - 1, NULL);
	assert_int_equal(wbxml_reader_next(&reader, &event), WBXML_OK);
	assert_int_equal(wbxml_reader_next_child(&reader, &event), 1);
	assert_int_equal(wbxml_reader_skip(&reader), WBXML_OK);
	assert_int_equal(wbxml_reader_next_child(&reader, &event), 1);
	assert_int_equal(wbxml_reader_skip(&reader), WBXML_OK);
	assert_int_equal(wbxml_reader_next_child(&reader, &event), WBXML_ERR_TRUNCATED);
}

/* A marked element read again later: same children, on the right code page, and its END. */
static void mark_resumes_inside_element(void **state)
{
	(void)state;
	static const char xml[] =
		"<Sync xmlns=\"AirSync\" xmlns:c=\"Contacts\"><Commands><Add><ApplicationData>"
		"<c:FirstName>Ada</c:FirstName><c:Children><c:Child>A</c:Child></c:Children></ApplicationData>"
		"<ClientId>1</ClientId><ApplicationData/></Add></Commands></Sync>";
	struct buf input;
	struct wbxml_error error;
	struct wbxml_reader reader, again;
	struct wbxml_event event;
	struct wbxml_mark marks[2];
	unsigned count = 0;
	buf_init(&input, 4096);
	assert_int_equal(wbxml_from_xml(xml, sizeof(xml) - 1, false, &input, &error), 0);
	wbxml_reader_init(&reader, input.data, input.len, NULL);
	while (wbxml_reader_next(&reader, &event) == WBXML_OK && event.type != WBXML_EVENT_DONE) {
		if (event.type == WBXML_EVENT_START && event.tag == WBXML_AIRSYNC_APPLICATION_DATA) {
			marks[count++] = wbxml_reader_mark(&reader, &event);
			assert_int_equal(wbxml_reader_skip(&reader), WBXML_OK);
		}
	}
	assert_int_equal(count, 2);
	wbxml_reader_resume(&again, input.data, input.len, NULL, &marks[0]);
	assert_int_equal(wbxml_reader_next_child(&again, &event), 1);
	assert_int_equal(event.tag, WBXML_CONTACTS_FIRST_NAME);
	assert_int_equal(wbxml_reader_skip(&again), WBXML_OK);
	assert_int_equal(wbxml_reader_next_child(&again, &event), 1);
	assert_int_equal(event.tag, WBXML_CONTACTS_CHILDREN);
	assert_int_equal(wbxml_reader_skip(&again), WBXML_OK);
	assert_int_equal(wbxml_reader_next_child(&again, &event), 0);
	assert_int_equal(event.tag, WBXML_AIRSYNC_APPLICATION_DATA);
	/* An empty element: its END at once. */
	wbxml_reader_resume(&again, input.data, input.len, NULL, &marks[1]);
	assert_int_equal(wbxml_reader_next_child(&again, &event), 0);
	assert_int_equal(event.tag, WBXML_AIRSYNC_APPLICATION_DATA);
	buf_cleanup(&input);
}

/* After a hard error the reader keeps failing the same way. */
static void error_is_sticky(void **state)
{
	(void)state;
	static const uint8_t input[] = { 0x03, 0x01, 0x6A, 0x00, 0xC5, 0x01, 0x01 };
	struct wbxml_reader reader;
	struct wbxml_event event;
	wbxml_reader_init(&reader, input, sizeof(input), NULL);
	assert_int_equal(wbxml_reader_next(&reader, &event), WBXML_ERR_UNSUPPORTED);
	assert_int_equal(wbxml_reader_next(&reader, &event), WBXML_ERR_UNSUPPORTED);
	assert_int_equal(reader.error.offset, 4);
}

static void writer_switches_page_only_on_change(void **state)
{
	(void)state;
	struct buf out;
	struct wbxml_writer writer;
	buf_init(&out, 0);
	wbxml_writer_init(&writer, &out);
	wbxml_writer_start(&writer, WBXML_FOLDERHIERARCHY_FOLDER_SYNC);
	wbxml_writer_element_cstr(&writer, WBXML_FOLDERHIERARCHY_SYNC_KEY, "0");
	wbxml_writer_element_uint(&writer, WBXML_FOLDERHIERARCHY_STATUS, 1);
	wbxml_writer_element_string(&writer, WBXML_FOLDERHIERARCHY_DISPLAY_NAME, "", 0);
	wbxml_writer_end(&writer);
	assert_int_equal(wbxml_writer_finish(&writer, NULL), WBXML_OK);
	static const uint8_t want[] = { 0x03, 0x01, 0x6A, 0x00, 0x00, 0x07, 0x56, 0x52, 0x03, '0', 0x00, 0x01,
					0x4C, 0x03, '1', 0x00, 0x01, 0x07, 0x01 };
	assert_int_equal(out.len, sizeof(want));
	assert_memory_equal(out.data, want, sizeof(want));
	buf_cleanup(&out);
}

static void writer_errors_are_reported(void **state)
{
	(void)state;
	struct buf out;
	struct wbxml_writer writer;
	const char *reason;

	buf_init(&out, 0);
	wbxml_writer_init(&writer, &out);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_SYNC);
	wbxml_writer_element_string(&writer, WBXML_AIRSYNC_SYNC_KEY, "a\0b", 3);
	wbxml_writer_end(&writer);
	assert_int_equal(wbxml_writer_finish(&writer, &reason), WBXML_ERR_ENCODE);
	assert_string_equal(reason, "NUL byte inside an inline string");
	buf_cleanup(&out);

	buf_init(&out, 0);
	wbxml_writer_init(&writer, &out);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_SYNC);
	assert_int_equal(wbxml_writer_finish(&writer, &reason), WBXML_ERR_ENCODE);
	buf_cleanup(&out);

	/* The buffer's ceiling bounds the message: at the ceiling fine, past it not. */
	buf_init(&out, 4 + 2);
	wbxml_writer_init(&writer, &out);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_SYNC);
	wbxml_writer_end(&writer);
	assert_int_equal(wbxml_writer_finish(&writer, NULL), WBXML_OK);
	buf_cleanup(&out);
	buf_init(&out, 4 + 1);
	wbxml_writer_init(&writer, &out);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_SYNC);
	wbxml_writer_end(&writer);
	assert_int_equal(wbxml_writer_finish(&writer, &reason), WBXML_ERR_LIMIT);
	buf_cleanup(&out);
}

static void opaque_length_multibyte(void **state)
{
	(void)state;
	struct buf out;
	struct wbxml_writer writer;
	uint8_t payload[300];
	memset(payload, 0xAB, sizeof(payload));
	buf_init(&out, 0);
	wbxml_writer_init(&writer, &out);
	wbxml_writer_element_opaque(&writer, WBXML_COMPOSEMAIL_MIME, payload, sizeof(payload));
	assert_int_equal(wbxml_writer_finish(&writer, NULL), WBXML_OK);
	/* 300 = 0b10_0101100: mb_u_int32 82 2C. */
	static const uint8_t head[] = { 0x03, 0x01, 0x6A, 0x00, 0x00, 0x15, 0x50, 0xC3, 0x82, 0x2C };
	assert_memory_equal(out.data, head, sizeof(head));

	struct wbxml_reader reader;
	struct wbxml_event event;
	wbxml_reader_init(&reader, out.data, out.len, NULL);
	assert_int_equal(wbxml_reader_next(&reader, &event), WBXML_OK);
	assert_int_equal(wbxml_reader_next(&reader, &event), WBXML_OK);
	assert_int_equal(event.type, WBXML_EVENT_OPAQUE);
	assert_int_equal(event.data.len, sizeof(payload));
	buf_cleanup(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hostile_input_gets_clean_error),
		cmocka_unit_test(empty_element_both_forms),
		cmocka_unit_test(depth_limit_at_and_past),
		cmocka_unit_test(element_limit_at_and_past),
		cmocka_unit_test(string_limit_at_and_past),
		cmocka_unit_test(total_limit_at_and_past),
		cmocka_unit_test(byte_by_byte_equals_whole),
		cmocka_unit_test(skip_consumes_subtree),
		cmocka_unit_test(next_child_walks_children),
		cmocka_unit_test(mark_resumes_inside_element),
		cmocka_unit_test(error_is_sticky),
		cmocka_unit_test(writer_switches_page_only_on_change),
		cmocka_unit_test(writer_errors_are_reported),
		cmocka_unit_test(opaque_length_multibyte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
