/*
 * test_xml.c: the XML rendering itself, where the round-trip properties of
 * test_roundtrip cannot see it: the exact text (libwbxml's spelling of the
 * namespaces, its DOCTYPE), which strings get a marker (checked against
 * GLib's UTF-8 validation byte sequence by byte sequence), the tags whose
 * text is base64 in the colon spelling, strings in pieces, the cut for
 * logs, and the output buffer's ceiling at and one past the limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "testlib.h"
#include "wbxml/wbxml.h"

#define HEADER "\x03\x01\x6A\x00"
#define PROLOG "<?xml version=\"1.0\" encoding=\"utf-8\"?>" \
	"<!DOCTYPE ActiveSync PUBLIC \"-//MICROSOFT//DTD ActiveSync//EN\" \"http://www.microsoft.com/\">"

static const struct wbxml_xml_options compact = { .compact = true };

/* The compact rendering of bytes, NUL-terminated in out; the status. */
static int render(const void *bytes, size_t len, const struct wbxml_xml_options *options, struct buf *out)
{
	out->len = 0;
	int status = wbxml_to_xml(bytes, len, NULL, options, out, NULL);
	buf_append_byte(out, 0);
	out->len--;
	return status;
}

static void assert_renders(const void *bytes, size_t len, const struct wbxml_xml_options *options,
			   const char *want)
{
	struct buf xml;
	buf_init(&xml, 0);
	assert_int_equal(render(bytes, len, options, &xml), WBXML_OK);
	assert_string_equal((const char *)xml.data, want);
	buf_cleanup(&xml);
}

/* The spec's byte-by-byte example, indented as `easctl wbxml decode` writes it. */
static void example_renders_in_libwbxml_spelling(void **state)
{
	(void)state;
	static const char want[] =
		"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		"<!DOCTYPE ActiveSync PUBLIC \"-//MICROSOFT//DTD ActiveSync//EN\" \"http://www.microsoft.com/\">\n"
		"<Sync xmlns=\"AirSync:\" xmlns:contacts=\"Contacts:\" xmlns:airsyncbase=\"AirSyncBase:\">\n"
		"  <Collections>\n"
		"    <Collection>\n"
		"      <Class>Contacts</Class>\n"
		"      <SyncKey>2</SyncKey>\n"
		"      <CollectionId>2</CollectionId>\n"
		"      <Status>1</Status>\n"
		"      <Commands>\n"
		"        <Add>\n"
		"          <ServerId>2:1</ServerId>\n"
		"          <ApplicationData>\n"
		"            <airsyncbase:Body>\n"
		"              <airsyncbase:Type>1</airsyncbase:Type>\n"
		"              <airsyncbase:EstimatedDataSize>0</airsyncbase:EstimatedDataSize>\n"
		"              <airsyncbase:Truncated>1</airsyncbase:Truncated>\n"
		"            </airsyncbase:Body>\n"
		"            <contacts:FileAs>Funk, Don</contacts:FileAs>\n"
		"            <contacts:FirstName>Don</contacts:FirstName>\n"
		"            <contacts:LastName>Funk</contacts:LastName>\n"
		"            <airsyncbase:NativeBodyType>1</airsyncbase:NativeBodyType>\n"
		"          </ApplicationData>\n"
		"        </Add>\n"
		"      </Commands>\n"
		"    </Collection>\n"
		"  </Collections>\n"
		"</Sync>\n";
	struct buf bytes;
	buf_init(&bytes, 0);
	char *path = testlib_path("tests/data/examples/aswbxml-sync-add-contact.wbxml.hex");
	assert_int_equal(testlib_read_hex(path, &bytes), 0);
	assert_renders(bytes.data, bytes.len, NULL, want);
	free(path);
	buf_cleanup(&bytes);
}

/* ---- which strings XML can carry ---- */

/* The rule as GLib states it: UTF-8, no control character but tab, LF and
   CR (XML 1.0, 2.2), not U+FFFE or U+FFFF. */
static bool glib_says_xml_can_carry(const uint8_t *text, size_t len)
{
	if (!g_utf8_validate((const char *)text, (gssize)len, NULL))
		return false;
	for (const char *p = (const char *)text; p < (const char *)text + len; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0xFFFE || c == 0xFFFF)
			return false;
	}
	return true;
}

/*
 * A Sync holding a SyncKey of these bytes: rendered with a marker exactly
 * when GLib says XML cannot carry them; with round_trip, the XML reads back
 * to the same message. Strings with a NUL cannot be inline strings.
 */
static void check_string(const uint8_t *text, size_t len, bool round_trip)
{
	if (memchr(text, 0, len) != NULL)
		return;
	struct buf bytes, xml, again;
	struct wbxml_writer writer;
	buf_init(&bytes, 0);
	buf_init(&xml, 0);
	buf_init(&again, 0);
	wbxml_writer_init(&writer, &bytes);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_SYNC);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_SYNC_KEY);
	wbxml_writer_string(&writer, text, len);
	wbxml_writer_end(&writer);
	wbxml_writer_end(&writer);
	assert_int_equal(wbxml_writer_finish(&writer, NULL), WBXML_OK);

	assert_int_equal(render(bytes.data, bytes.len, &compact, &xml), WBXML_OK);
	bool marked = strstr((const char *)xml.data, "wbxml=\"base64\"") != NULL;
	if (marked == glib_says_xml_can_carry(text, len)) {
		GString *hex = g_string_new(NULL);
		for (size_t i = 0; i < len; i++)
			g_string_append_printf(hex, " %02X", text[i]);
		fail_msg("bytes%s: marked %d, GLib says XML can carry them %d", hex->str, marked, !marked);
	}
	if (round_trip) {
		assert_int_equal(wbxml_from_xml((const char *)xml.data, xml.len, false, &again, NULL), WBXML_OK);
		assert_true(again.len == bytes.len && memcmp(again.data, bytes.data, bytes.len) == 0);
	}
	buf_cleanup(&bytes);
	buf_cleanup(&xml);
	buf_cleanup(&again);
}

/* Every string of one and two bytes. */
static void short_strings_are_marked_as_glib_says(void **state)
{
	(void)state;
	for (unsigned a = 1; a < 256; a++) {
		uint8_t one[1] = { (uint8_t)a };
		check_string(one, 1, true);
		for (unsigned b = 1; b < 256; b++) {
			uint8_t two[2] = { (uint8_t)a, (uint8_t)b };
			check_string(two, 2, false);
		}
	}
}

/*
 * Three- and four-byte sequences around every boundary (overlong forms,
 * surrogates, U+FFFE and U+FFFF, past U+10FFFF, cut short), between runs of
 * ASCII long enough for the 8-byte fast path, at every offset in a word.
 */
static void long_sequences_are_marked_as_glib_says(void **state)
{
	(void)state;
	static const uint8_t seconds[] = { 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBE, 0xBF, 0xC0 };
	static const uint8_t lasts[] = { 0x41, 0x80, 0xBD, 0xBE, 0xBF, 0xC0 };
	for (unsigned lead = 0xC0; lead < 0x100; lead++) {
		for (size_t s = 0; s < sizeof(seconds); s++) {
			for (size_t l = 0; l < sizeof(lasts); l++) {
				uint8_t text[32];
				unsigned offset = (lead + (unsigned)s + (unsigned)l) % 9;
				memset(text, 'x', sizeof(text));
				text[offset] = (uint8_t)lead;
				text[offset + 1] = seconds[s];
				text[offset + 2] = lasts[l];
				text[offset + 3] = lasts[(l + 2) % sizeof(lasts)];
				check_string(text, sizeof(text), true);
				check_string(text, offset + 2, false); /* cut short at the end */
				check_string(text, offset + 3, false);
			}
		}
	}
}

/* Every byte that is not plain ASCII text, at every place in the words. */
static void special_bytes_at_every_offset(void **state)
{
	(void)state;
	static const uint8_t specials[] = { '&', '<', '>', '\r', '\n', '\t', 0x01, 0x1F, 0x7F, 0x80, 0xC3 };
	for (size_t k = 0; k < sizeof(specials); k++) {
		for (unsigned at = 0; at < 20; at++) {
			uint8_t text[20];
			memset(text, 'y', sizeof(text));
			text[at] = specials[k];
			check_string(text, sizeof(text), true);
		}
	}
}

/* ---- the tags libwbxml carries as opaque ---- */

/* Email2:ConversationId (page 22, token 0x09), alone as the root. */
#define CONVERSATION_ID_OPAQUE HEADER "\x00\x16\x49\xC3\x02\x00\x01\x01"
#define CONVERSATION_ID_STRING HEADER "\x00\x16\x49\x03" "AAE=" "\x00\x01"
#define CONVERSATION_ID_NONE HEADER "\x00\x16\x09"
#define CONVERSATION_ID_EMPTY_OPAQUE HEADER "\x00\x16\x49\xC3\x00\x01"
#define BYTES(literal) literal, sizeof(literal) - 1

struct opaque_case {
	const char *name;
	const char *xml;
	const char *bytes; /* NULL: refused */
	size_t len;
};

static const struct opaque_case opaque_cases[] = {
	{ "colon_base64_is_opaque", "<ConversationId xmlns=\"Email2:\">AAE=</ConversationId>",
	  BYTES(CONVERSATION_ID_OPAQUE) },
	{ "plain_spelling_keeps_a_string", "<ConversationId xmlns=\"Email2\">AAE=</ConversationId>",
	  BYTES(CONVERSATION_ID_STRING) },
	{ "marked_string", "<ConversationId xmlns=\"Email2:\" wbxml=\"string\">AAE=</ConversationId>",
	  BYTES(CONVERSATION_ID_STRING) },
	{ "marked_opaque_in_plain_spelling", "<ConversationId xmlns=\"Email2\" wbxml=\"opaque\">AAE=</ConversationId>",
	  BYTES(CONVERSATION_ID_OPAQUE) },
	{ "no_content", "<ConversationId xmlns=\"Email2:\"/>", BYTES(CONVERSATION_ID_NONE) },
	{ "empty_opaque", "<ConversationId xmlns=\"Email2:\" wbxml=\"opaque\"></ConversationId>",
	  BYTES(CONVERSATION_ID_EMPTY_OPAQUE) },
	{ "colon_text_not_base64", "<ConversationId xmlns=\"Email2:\">not base64</ConversationId>", NULL, 0 },
};

static void colon_spelling_reads_base64_in_opaque_tags(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(opaque_cases) / sizeof(opaque_cases[0]); i++) {
		const struct opaque_case *c = &opaque_cases[i];
		struct buf out;
		struct wbxml_error error;
		buf_init(&out, 0);
		int status = wbxml_from_xml(c->xml, strlen(c->xml), false, &out, &error);
		if (c->bytes == NULL) {
			if (status != WBXML_ERR_ENCODE || strcmp(error.reason, "text is not base64") != 0)
				fail_msg("%s: %s", c->name, wbxml_status_name(status));
		} else if (status != WBXML_OK || out.len != c->len || memcmp(out.data, c->bytes, c->len) != 0) {
			fail_msg("%s: %s, %zu bytes", c->name, wbxml_status_name(status), out.len);
		}
		buf_cleanup(&out);
	}
}

/* What we write for each: bare base64 only for opaque data that has bytes. */
static void opaque_tags_render_bare_base64(void **state)
{
	(void)state;
	assert_renders(BYTES(CONVERSATION_ID_OPAQUE), &compact,
		       PROLOG "<ConversationId xmlns=\"Email2:\">AAE=</ConversationId>");
	assert_renders(BYTES(CONVERSATION_ID_STRING), &compact,
		       PROLOG "<ConversationId xmlns=\"Email2:\" wbxml=\"string\">AAE=</ConversationId>");
	assert_renders(BYTES(CONVERSATION_ID_EMPTY_OPAQUE), &compact,
		       PROLOG "<ConversationId xmlns=\"Email2:\" wbxml=\"opaque\"></ConversationId>");
	assert_renders(BYTES(CONVERSATION_ID_NONE), &compact, PROLOG "<ConversationId xmlns=\"Email2:\"/>");
	/* Elsewhere opaque data keeps its marker: XML alone says a string. */
	assert_renders(BYTES(HEADER "\x45\x4B\xC3\x02\x00\x01\x01\x01"), &compact,
		       PROLOG "<Sync xmlns=\"AirSync:\"><SyncKey wbxml=\"opaque\">AAE=</SyncKey></Sync>");
}

/* ---- pieces, cuts and the ceiling ---- */

/* Several strings in one element are joined; opaque among them makes it opaque. */
static void pieces_are_joined(void **state)
{
	(void)state;
	assert_renders(BYTES(HEADER "\x45\x4B\x03" "a&" "\x00\x03" "b" "\x00\x01\x01"), &compact,
		       PROLOG "<Sync xmlns=\"AirSync:\"><SyncKey>a&amp;b</SyncKey></Sync>");
	assert_renders(BYTES(HEADER "\x45\x4B\x03" "a" "\x00\xC3\x01" "b" "\x01\x01"), &compact,
		       PROLOG "<Sync xmlns=\"AirSync:\"><SyncKey wbxml=\"opaque\">YWI=</SyncKey></Sync>");
	assert_renders(BYTES(HEADER "\x00\x16\x49\x03" "a" "\x00\xC3\x01" "b" "\x01"), &compact,
		       PROLOG "<ConversationId xmlns=\"Email2:\">YWI=</ConversationId>");
}

/* max_text (for logs) cuts strings at a character and opaque data whole. */
static void log_cut_at_max_text(void **state)
{
	(void)state;
	struct wbxml_xml_options cut = { .compact = true, .max_text = 4 };
	assert_renders(BYTES(HEADER "\x45\x4B\x03" "\xE6\x97\xA5\xE6\x9C\xAC" "\x00\x01\x01"), &cut,
		       PROLOG "<Sync xmlns=\"AirSync:\"><SyncKey>\xE6\x97\xA5...[6 bytes]</SyncKey></Sync>");
	assert_renders(BYTES(HEADER "\x45\x4B\x03" "abcd" "\x00\x01\x01"), &cut,
		       PROLOG "<Sync xmlns=\"AirSync:\"><SyncKey>abcd</SyncKey></Sync>");
	assert_renders(BYTES(HEADER "\x45\x4B\xC3\x05" "abcde" "\x01\x01"), &cut,
		       PROLOG "<Sync xmlns=\"AirSync:\"><SyncKey wbxml=\"opaque\">[5 bytes]</SyncKey></Sync>");
}

/*
 * A ceiling on out: the XML fits exactly, or one byte short fails with
 * WBXML_ERR_LIMIT and leaves out as it was (what it held before kept).
 * The second message's string is escaped past the ceiling before a control
 * byte shows it needs base64, which fits: that first try does not count.
 */
static void output_ceiling_at_and_past_the_limit(void **state)
{
	(void)state;
	static const struct {
		const char *bytes;
		size_t len;
	} messages[] = {
		{ BYTES(HEADER "\x45\x4B\x03" "abc" "\x00\x01\x01") },
		{ BYTES(HEADER "\x45\x4B\x03" "&&&&&&&&&&&&&&&&\x01" "\x00\x01\x01") },
	};
	for (size_t m = 0; m < sizeof(messages) / sizeof(messages[0]); m++) {
		const uint8_t *message = (const uint8_t *)messages[m].bytes;
		size_t len = messages[m].len;
		struct buf full, out;
		struct wbxml_error error;
		buf_init(&full, 0);
		assert_int_equal(wbxml_to_xml(message, len, NULL, NULL, &full, NULL), WBXML_OK);

		buf_init(&out, 2 + full.len);
		buf_append(&out, "> ", 2);
		assert_int_equal(wbxml_to_xml(message, len, NULL, NULL, &out, &error), WBXML_OK);
		assert_int_equal(out.len, 2 + full.len);
		assert_memory_equal(out.data + 2, full.data, full.len);
		buf_cleanup(&out);

		buf_init(&out, 2 + full.len - 1);
		buf_append(&out, "> ", 2);
		assert_int_equal(wbxml_to_xml(message, len, NULL, NULL, &out, &error), WBXML_ERR_LIMIT);
		assert_int_equal(error.status, WBXML_ERR_LIMIT);
		assert_int_equal(out.len, 2);
		buf_cleanup(&out);
		buf_cleanup(&full);
	}
}

/* A message that does not decode leaves out as it was, whatever was rendered. */
static void decoding_error_appends_nothing(void **state)
{
	(void)state;
	static const char cut[] = HEADER "\x45\x4B\x03" "abc" "\x00\x01"; /* Sync never ends */
	struct buf out;
	struct wbxml_error error;
	buf_init(&out, 0);
	buf_append(&out, "kept", 4);
	assert_int_equal(wbxml_to_xml((const uint8_t *)cut, sizeof(cut) - 1, NULL, NULL, &out, &error),
			 WBXML_ERR_TRUNCATED);
	assert_int_equal(error.status, WBXML_ERR_TRUNCATED);
	assert_int_equal(out.len, 4);
	buf_cleanup(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(example_renders_in_libwbxml_spelling),
		cmocka_unit_test(short_strings_are_marked_as_glib_says),
		cmocka_unit_test(long_sequences_are_marked_as_glib_says),
		cmocka_unit_test(special_bytes_at_every_offset),
		cmocka_unit_test(colon_spelling_reads_base64_in_opaque_tags),
		cmocka_unit_test(opaque_tags_render_bare_base64),
		cmocka_unit_test(pieces_are_joined),
		cmocka_unit_test(log_cut_at_max_text),
		cmocka_unit_test(output_ceiling_at_and_past_the_limit),
		cmocka_unit_test(decoding_error_appends_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
