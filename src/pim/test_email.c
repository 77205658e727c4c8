/*
 * test_email.c: messages from tests/data/mail/ written as Email
 * ApplicationData, decoded again with wbxml_tree_parse and compared
 * element by element: body choice per BodyPreference (every type, the
 * truncation limit and one past it, AllOrNone, MIMESupport, Preview),
 * header fields, charsets, attachments, broken and hostile MIME, protocol
 * versions; then attachment ranges, the delivery summary, a client's
 * Read/Flag/Categories changes, and drafts (EAS 16.x Sync Add): read from
 * WBXML, composed as MIME and read back through pim_email_write. Every
 * input is an exact-size heap copy so that ASan sees a read past its end
 * (drafts: freed before composing, so nothing may borrow it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "guard/limits.h"
#include "pim/email.h"
#include "testlib.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* ---- what the fixtures hold ---- */

#define PLAIN_BODY "Hello Bob,\r\n\r\nLunch at noon on Friday? Gr\xc3\xbc\xc3\x9f" "e, Alice\r\n"
#define PLAIN_LEN 55
#define UE_OFFSET 41 /* where the two bytes of the u umlaut start */
#define HTML_HEAD "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body>"
#define HTML_TAIL "</body></html>"
#define PLAIN_AS_HTML HTML_HEAD "Hello Bob,<br>\n<br>\nLunch at noon on Friday? Gr\xc3\xbc\xc3\x9f" "e, Alice<br>\n" HTML_TAIL
#define SHOP_HTML "<html><head><meta charset=\"iso-8859-1\"><title>Order mail</title>\r\n" \
	"<style>p { color: red; }</style>\r\n<script>alert(\"steal\");</script></head>\r\n" \
	"<body><p>Thank you for your order &amp; welcome!</p>\r\n" \
	"<p>Total:   <b>42 \xe2\x82\xac</b><br>Ships   tomorrow.</p>\r\n" \
	"<div>Questions?<br><a href=\"https://example.com\">Contact us</a></div>\r\n</body></html>\r\n"
#define SHOP_TEXT "Thank you for your order & welcome!\r\nTotal: 42 \xe2\x82\xac\r\nShips tomorrow.\r\n" \
	"Questions?\r\nContact us\r\n"
#define MINUTES_TEXT "Minutes of the meeting: all agreed."
#define MINUTES_HTML "<p>Minutes of the <b>meeting</b>: all agreed.</p>"
#define REPORT_PDF "%PDF-1.4\n0123456789abcdefghijklmnopqrstuvwxyz\n%%EOF\n"
#define PNG_SIGNATURE "\x89PNG\r\n\x1a\n"

/* ---- helpers ---- */

struct message {
	uint8_t *data; /* exact-size heap copy */
	size_t len;
};

static struct message load(const char *name)
{
	char relative[128];
	struct buf bytes;
	snprintf(relative, sizeof(relative), "tests/data/mail/%s", name);
	char *path = testlib_path(relative);
	buf_init(&bytes, 0);
	if (testlib_read_file(path, &bytes) != 0)
		fail_msg("cannot read %s (is EASD_SOURCE set?)", path);
	free(path);
	struct message m = { malloc(bytes.len > 0 ? bytes.len : 1), bytes.len };
	memcpy(m.data, bytes.data, bytes.len);
	buf_cleanup(&bytes);
	return m;
}

static void unload(struct message *m)
{
	free(m->data);
	m->data = NULL;
}

static struct pim_email_state default_state(void)
{
	return (struct pim_email_state){
		.received = 1700000000, /* 2023-11-14T22:13:20Z */
		.file_reference_prefix = "5:7",
	};
}

/* Writes the message inside <ApplicationData> and parses the result back. */
static struct wbxml_node *write_item(struct arena *arena, const struct message *m,
				     const struct pim_options *options,
				     const struct pim_email_state *state, int *status_out)
{
	struct buf out;
	struct wbxml_writer writer;
	struct wbxml_node *root = NULL;
	struct wbxml_error error;
	buf_init(&out, 0);
	wbxml_writer_init(&writer, &out);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_APPLICATION_DATA);
	*status_out = pim_email_write(&writer, arena, m->data, m->len, options, state);
	wbxml_writer_end(&writer);
	const char *reason = NULL;
	if (wbxml_writer_finish(&writer, &reason) != 0)
		fail_msg("writer: %s", reason);
	if (wbxml_tree_parse(arena, out.data, out.len, NULL, &root, &error) != 0)
		fail_msg("decode: %s at %zu", error.reason, error.offset);
	buf_cleanup(&out);
	return root;
}

static const struct wbxml_node *child(const struct wbxml_node *node, enum wbxml_tag tag)
{
	for (const struct wbxml_node *c = node != NULL ? node->first_child : NULL; c != NULL; c = c->next)
		if (c->tag == tag)
			return c;
	return NULL;
}

static unsigned count_children(const struct wbxml_node *node, enum wbxml_tag tag)
{
	unsigned n = 0;
	for (const struct wbxml_node *c = node->first_child; c != NULL; c = c->next)
		n += c->tag == tag;
	return n;
}

/* want NULL: the element must be absent. */
static void check_bytes(const char *name, const struct wbxml_node *node, enum wbxml_tag tag,
			const void *want, size_t want_len)
{
	const struct wbxml_node *c = child(node, tag);
	if (want == NULL) {
		if (c != NULL)
			fail_msg("%s: %s present, want absent", name, wbxml_tag_name(tag));
		return;
	}
	if (c == NULL)
		fail_msg("%s: %s absent", name, wbxml_tag_name(tag));
	if (c->text.len == want_len && (want_len == 0 || memcmp(c->text.data, want, want_len) == 0))
		return;
	size_t at = 0;
	while (at < c->text.len && at < want_len && c->text.data[at] == ((const uint8_t *)want)[at])
		at++;
	if (want_len > 200) /* show where it differs, not the whole text */
		fail_msg("%s: %s has %zu bytes, want %zu; first difference at %zu", name, wbxml_tag_name(tag),
			 c->text.len, want_len, at);
	fail_msg("%s: %s is '%.*s' (%zu bytes), want '%.*s' (%zu)", name, wbxml_tag_name(tag),
		 (int)c->text.len, c->text.len > 0 ? (const char *)c->text.data : "", c->text.len,
		 (int)want_len, (const char *)want, want_len);
}

static void check_text(const char *name, const struct wbxml_node *node, enum wbxml_tag tag, const char *want)
{
	check_bytes(name, node, tag, want, want != NULL ? strlen(want) : 0);
}

static void check_uint(const char *name, const struct wbxml_node *node, enum wbxml_tag tag, uint64_t want)
{
	char text[24];
	snprintf(text, sizeof(text), "%llu", (unsigned long long)want);
	check_text(name, node, tag, text);
}

/* ---- bodies, one table ---- */

enum data_kind {
	DATA_TEXT,        /* data as given */
	DATA_NONE,        /* no Data element */
	DATA_FILE_PREFIX, /* the first data_len bytes of the fixture (MIME) */
};

struct body_case {
	const char *name;
	const char *fixture;
	unsigned version;
	struct pim_body_preference preferences[PIM_MAX_BODY_PREFERENCES];
	unsigned preference_count;
	uint8_t mime_support;
	uint32_t mime_truncation;
	/* expected */
	uint8_t type;
	uint64_t estimated;       /* 0: the fixture's size (MIME), else strlen(data) */
	bool truncated;
	enum data_kind data_kind;
	const char *data;
	size_t data_len;          /* DATA_TEXT: 0 means strlen(data) */
	const char *preview;      /* NULL: no Preview */
	uint8_t native;
};

#define PREF(...) { __VA_ARGS__ }

static const struct body_case body_cases[] = {
	{ "plain_type_sends_the_whole_text_part", "plain.eml", 141, { PREF(.type = 1) }, 1, 0, 0,
	  1, PLAIN_LEN, false, DATA_TEXT, PLAIN_BODY, 0, NULL, 1 },
	{ "no_preference_means_whole_plain_text", "plain.eml", 141, { PREF(0) }, 0, 0, 0,
	  1, PLAIN_LEN, false, DATA_TEXT, PLAIN_BODY, 0, NULL, 1 },
	{ "truncation_at_the_body_size_is_not_truncated", "plain.eml", 141,
	  { PREF(.type = 1, .truncation_size = PLAIN_LEN) }, 1, 0, 0,
	  1, PLAIN_LEN, false, DATA_TEXT, PLAIN_BODY, 0, NULL, 1 },
	{ "truncation_one_below_the_body_size_truncates", "plain.eml", 141,
	  { PREF(.type = 1, .truncation_size = PLAIN_LEN - 1) }, 1, 0, 0,
	  1, PLAIN_LEN, true, DATA_TEXT, PLAIN_BODY, PLAIN_LEN - 1, NULL, 1 },
	{ "truncation_inside_a_character_cuts_before_it", "plain.eml", 141,
	  { PREF(.type = 1, .truncation_size = UE_OFFSET + 1) }, 1, 0, 0,
	  1, PLAIN_LEN, true, DATA_TEXT, PLAIN_BODY, UE_OFFSET, NULL, 1 },
	{ "truncation_after_a_character_keeps_it", "plain.eml", 141,
	  { PREF(.type = 1, .truncation_size = UE_OFFSET + 2) }, 1, 0, 0,
	  1, PLAIN_LEN, true, DATA_TEXT, PLAIN_BODY, UE_OFFSET + 2, NULL, 1 },
	{ "html_type_of_plain_message_is_escaped_document", "plain.eml", 141, { PREF(.type = 2) }, 1, 0, 0,
	  2, sizeof(PLAIN_AS_HTML) - 1, false, DATA_TEXT, PLAIN_AS_HTML, 0, NULL, 1 },
	{ "html_type_of_html_message_is_the_decoded_part", "html_only.eml", 141, { PREF(.type = 2) }, 1, 0, 0,
	  2, sizeof(SHOP_HTML) - 1, false, DATA_TEXT, SHOP_HTML, 0, NULL, 2 },
	{ "plain_type_of_html_message_is_its_text_without_script", "html_only.eml", 141, { PREF(.type = 1) },
	  1, 0, 0, 1, sizeof(SHOP_TEXT) - 1, false, DATA_TEXT, SHOP_TEXT, 0, NULL, 2 },
	{ "alternative_gives_its_plain_part", "alternative.eml", 141, { PREF(.type = 1) }, 1, 0, 0,
	  1, sizeof(MINUTES_TEXT) - 1, false, DATA_TEXT, MINUTES_TEXT, 0, NULL, 2 },
	{ "alternative_gives_its_html_part", "alternative.eml", 141, { PREF(.type = 2) }, 1, 0, 0,
	  2, sizeof(MINUTES_HTML) - 1, false, DATA_TEXT, MINUTES_HTML, 0, NULL, 2 },
	{ "latin1_body_arrives_as_utf8", "latin1.eml", 141, { PREF(.type = 1) }, 1, 0, 0,
	  1, 0, false, DATA_TEXT, "Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e\r\n", 0, NULL, 1 },
	{ "undeclared_8bit_is_read_as_latin1_keeping_utf8", "undeclared_8bit.eml", 141, { PREF(.type = 1) },
	  1, 0, 0, 1, 0, false, DATA_TEXT, "Na\xc3\xafve r\xc3\xa9sum\xc3\xa9 and valid \xc3\xbc\r\n", 0, NULL, 1 },
	{ "nul_bytes_are_dropped_from_text", "nul.eml", 141, { PREF(.type = 1) }, 1, 0, 0,
	  1, 0, false, DATA_TEXT, "abcdef\r\nghi\r\n", 0, NULL, 1 },
	{ "all_or_none_too_big_falls_back_to_next_preference", "alternative.eml", 141,
	  { PREF(.type = 2, .truncation_size = 10, .all_or_none = true), PREF(.type = 1) }, 2, 0, 0,
	  1, sizeof(MINUTES_TEXT) - 1, false, DATA_TEXT, MINUTES_TEXT, 0, NULL, 2 },
	{ "all_or_none_that_fits_is_sent_whole", "alternative.eml", 141,
	  { PREF(.type = 2, .truncation_size = sizeof(MINUTES_HTML) - 1, .all_or_none = true), PREF(.type = 1) },
	  2, 0, 0, 2, sizeof(MINUTES_HTML) - 1, false, DATA_TEXT, MINUTES_HTML, 0, NULL, 2 },
	{ "all_or_none_everywhere_announces_first_without_data", "alternative.eml", 141,
	  { PREF(.type = 2, .truncation_size = 10, .all_or_none = true),
	    PREF(.type = 1, .truncation_size = 5, .all_or_none = true) }, 2, 0, 0,
	  2, sizeof(MINUTES_HTML) - 1, true, DATA_NONE, NULL, 0, NULL, 2 },
	{ "all_or_none_without_truncation_size_is_ignored", "alternative.eml", 141,
	  { PREF(.type = 2, .all_or_none = true) }, 1, 0, 0,
	  2, sizeof(MINUTES_HTML) - 1, false, DATA_TEXT, MINUTES_HTML, 0, NULL, 2 },
	{ "mime_type_refused_under_mime_support_0", "plain.eml", 141,
	  { PREF(.type = 4), PREF(.type = 1) }, 2, 0, 0,
	  1, PLAIN_LEN, false, DATA_TEXT, PLAIN_BODY, 0, NULL, 1 },
	{ "mime_type_under_mime_support_2_is_the_stored_message", "plain.eml", 141,
	  { PREF(.type = 4), PREF(.type = 1) }, 2, 2, 0,
	  4, 0, false, DATA_FILE_PREFIX, NULL, 495, NULL, 1 },
	{ "mime_support_1_refuses_mime_for_plain_message", "plain.eml", 141,
	  { PREF(.type = 4), PREF(.type = 2) }, 2, 1, 0,
	  2, sizeof(PLAIN_AS_HTML) - 1, false, DATA_TEXT, PLAIN_AS_HTML, 0, NULL, 1 },
	{ "mime_support_1_gives_mime_for_smime_message", "smime_signed.eml", 141,
	  { PREF(.type = 4), PREF(.type = 2) }, 2, 1, 0,
	  4, 0, false, DATA_FILE_PREFIX, NULL, 539, NULL, 1 },
	{ "mime_type_truncated_by_its_truncation_size", "plain.eml", 141,
	  { PREF(.type = 4, .truncation_size = 100) }, 1, 2, 0,
	  4, 0, true, DATA_FILE_PREFIX, NULL, 100, NULL, 1 },
	{ "mime_type_truncated_by_mime_truncation", "plain.eml", 141, { PREF(.type = 4) }, 1, 2, 4096,
	  4, 0, false, DATA_FILE_PREFIX, NULL, 495, NULL, 1 },
	{ "mime_truncation_applies_without_truncation_size", "plain.eml", 141, { PREF(.type = 4) }, 1, 2, 50,
	  4, 0, true, DATA_FILE_PREFIX, NULL, 50, NULL, 1 },
	{ "mime_type_drops_nul_bytes_but_counts_them", "nul.eml", 141, { PREF(.type = 4) }, 1, 2, 0,
	  4, 101, false, DATA_TEXT,
	  "From: n@example.com\r\nSubject: Nul bytes\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
	  "abcdef\r\nghi\r\n", 0, NULL, 1 },
	{ "rtf_only_falls_back_to_plain_text", "plain.eml", 141, { PREF(.type = 3, .truncation_size = 5) }, 1, 0, 0,
	  1, PLAIN_LEN, true, DATA_TEXT, "Hello", 0, NULL, 1 },
	{ "preview_is_the_collapsed_plain_text", "alternative.eml", 141, { PREF(.type = 2, .preview = 20) }, 1, 0, 0,
	  2, sizeof(MINUTES_HTML) - 1, false, DATA_TEXT, MINUTES_HTML, 0, "Minutes of the meeti", 2 },
	{ "preview_of_html_message_comes_from_its_text", "html_only.eml", 141, { PREF(.type = 2, .preview = 30) },
	  1, 0, 0, 2, sizeof(SHOP_HTML) - 1, false, DATA_TEXT, SHOP_HTML, 0, "Thank you for your order & wel", 2 },
	{ "preview_joins_lines_with_one_space", "plain.eml", 141, { PREF(.type = 2, .preview = 16) }, 1, 0, 0,
	  2, sizeof(PLAIN_AS_HTML) - 1, false, DATA_TEXT, PLAIN_AS_HTML, 0, "Hello Bob, Lunch", 1 },
	{ "preview_does_not_end_in_a_space", "plain.eml", 141, { PREF(.type = 2, .preview = 11) }, 1, 0, 0,
	  2, sizeof(PLAIN_AS_HTML) - 1, false, DATA_TEXT, PLAIN_AS_HTML, 0, "Hello Bob,", 1 },
	{ "preview_left_out_beside_plain_text_data", "plain.eml", 141, { PREF(.type = 1, .preview = 20) }, 1, 0, 0,
	  1, PLAIN_LEN, false, DATA_TEXT, PLAIN_BODY, 0, NULL, 1 },
	{ "preview_kept_when_plain_text_has_no_data", "alternative.eml", 141,
	  { PREF(.type = 1, .truncation_size = 5, .all_or_none = true, .preview = 7) }, 1, 0, 0,
	  1, sizeof(MINUTES_TEXT) - 1, true, DATA_NONE, NULL, 0, "Minutes", 2 },
	{ "preview_above_255_is_cut_to_255", "plain.eml", 141, { PREF(.type = 2, .preview = 1000) }, 1, 0, 0,
	  2, sizeof(PLAIN_AS_HTML) - 1, false, DATA_TEXT, PLAIN_AS_HTML, 0,
	  "Hello Bob, Lunch at noon on Friday? Gr\xc3\xbc\xc3\x9f" "e, Alice", 1 },
	{ "version_121_has_no_preview", "alternative.eml", 121, { PREF(.type = 2, .preview = 20) }, 1, 0, 0,
	  2, sizeof(MINUTES_HTML) - 1, false, DATA_TEXT, MINUTES_HTML, 0, NULL, 2 },
	{ "broken_boundary_keeps_the_first_part", "broken_boundary.eml", 141, { PREF(.type = 1) }, 1, 0, 0,
	  1, 0, false, DATA_TEXT, "First part survives.", 0, NULL, 1 },
	{ "headerless_bytes_are_the_body", "no_headers.eml", 141, { PREF(.type = 1) }, 1, 0, 0,
	  1, 0, false, DATA_TEXT, "Just a body without any header.\r\n", 0, NULL, 1 },
};

static void body_case_run(void **state)
{
	const struct body_case *c = *state;
	struct message m = load(c->fixture);
	struct arena *arena = arena_new(0);
	struct pim_options options = {
		.protocol_version = c->version, .preference_count = c->preference_count,
		.mime_support = c->mime_support, .mime_truncation = c->mime_truncation,
	};
	memcpy(options.preferences, c->preferences, sizeof(options.preferences));
	struct pim_email_state item_state = default_state();
	int status;
	const struct wbxml_node *root = write_item(arena, &m, &options, &item_state, &status);
	assert_int_equal(status, 0);
	const struct wbxml_node *body = child(root, WBXML_AIRSYNCBASE_BODY);
	if (body == NULL || count_children(root, WBXML_AIRSYNCBASE_BODY) != 1)
		fail_msg("%s: want one Body", c->name);
	check_uint(c->name, body, WBXML_AIRSYNCBASE_TYPE, c->type);
	uint64_t estimated = c->estimated;
	if (estimated == 0)
		estimated = c->data_kind == DATA_FILE_PREFIX ? m.len : strlen(c->data);
	check_uint(c->name, body, WBXML_AIRSYNCBASE_ESTIMATED_DATA_SIZE, estimated);
	check_text(c->name, body, WBXML_AIRSYNCBASE_TRUNCATED, c->truncated ? "1" : NULL);
	if (c->data_kind == DATA_NONE)
		check_bytes(c->name, body, WBXML_AIRSYNCBASE_DATA, NULL, 0);
	else if (c->data_kind == DATA_FILE_PREFIX)
		check_bytes(c->name, body, WBXML_AIRSYNCBASE_DATA, m.data, c->data_len);
	else
		check_bytes(c->name, body, WBXML_AIRSYNCBASE_DATA, c->data, c->data_len != 0 ? c->data_len : strlen(c->data));
	check_text(c->name, body, WBXML_AIRSYNCBASE_PREVIEW, c->preview);
	check_uint(c->name, root, WBXML_AIRSYNCBASE_NATIVE_BODY_TYPE, c->native);
	arena_free(&arena);
	unload(&m);
}

/* ---- whole items ---- */

static const struct wbxml_node *write_fixture(struct arena *arena, const char *fixture, unsigned version,
					      const struct pim_email_state *state)
{
	struct message m = load(fixture);
	struct pim_options options = { .protocol_version = version };
	int status;
	const struct wbxml_node *root = write_item(arena, &m, &options, state, &status);
	assert_int_equal(status, 0);
	unload(&m);
	return root;
}

static void headers_are_decoded_in_exchange_order(void **unused)
{
	(void)unused;
	static const enum wbxml_tag order[] = {
		WBXML_EMAIL_TO, WBXML_EMAIL_CC, WBXML_EMAIL_FROM, WBXML_EMAIL_SUBJECT, WBXML_EMAIL_REPLY_TO,
		WBXML_EMAIL_DATE_RECEIVED, WBXML_EMAIL_DISPLAY_TO, WBXML_EMAIL_THREAD_TOPIC,
		WBXML_EMAIL_IMPORTANCE, WBXML_EMAIL_READ, WBXML_AIRSYNCBASE_BODY, WBXML_EMAIL_MESSAGE_CLASS,
		WBXML_EMAIL_INTERNET_CPID, WBXML_EMAIL_FLAG, WBXML_EMAIL_CONTENT_CLASS,
		WBXML_AIRSYNCBASE_NATIVE_BODY_TYPE, WBXML_EMAIL2_CONVERSATION_ID,
		WBXML_EMAIL2_CONVERSATION_INDEX,
	};
	struct arena *arena = arena_new(0);
	struct pim_email_state state = default_state();
	const struct wbxml_node *root = write_fixture(arena, "plain.eml", 141, &state);
	const char *n = "plain";
	check_text(n, root, WBXML_EMAIL_TO, "Bob Builder <bob@example.org>, \"Carol, C.\" <carol@example.org>");
	check_text(n, root, WBXML_EMAIL_CC, "dave@example.net");
	check_text(n, root, WBXML_EMAIL_FROM, "Alice Liddell <alice@example.com>");
	check_text(n, root, WBXML_EMAIL_SUBJECT, "Re: Fwd: Lunch on Friday");
	check_text(n, root, WBXML_EMAIL_REPLY_TO, "Alice at home <alice@home.example>");
	check_text(n, root, WBXML_EMAIL_DATE_RECEIVED, "2023-11-14T22:13:20.000Z");
	check_text(n, root, WBXML_EMAIL_DISPLAY_TO, "Bob Builder; Carol, C.");
	check_text(n, root, WBXML_EMAIL_THREAD_TOPIC, "Lunch on Friday");
	check_text(n, root, WBXML_EMAIL_IMPORTANCE, "2"); /* X-Priority: 1 */
	check_text(n, root, WBXML_EMAIL_READ, "0");
	check_text(n, root, WBXML_EMAIL_MESSAGE_CLASS, "IPM.Note");
	check_text(n, root, WBXML_EMAIL_INTERNET_CPID, "65001");
	check_text(n, root, WBXML_EMAIL_CONTENT_CLASS, "urn:content-classes:message");
	assert_int_equal(child(root, WBXML_EMAIL_FLAG)->content, WBXML_CONTENT_NONE); /* <Flag/>: not flagged */
	assert_null(child(root, WBXML_EMAIL_CATEGORIES));
	assert_null(child(root, WBXML_AIRSYNCBASE_ATTACHMENTS));
	const struct wbxml_node *c = root->first_child;
	for (size_t i = 0; i < COUNT(order); i++, c = c->next)
		if (c == NULL || c->tag != order[i])
			fail_msg("element %zu is %s, want %s", i, c != NULL ? wbxml_tag_name(c->tag) : "none",
				 wbxml_tag_name(order[i]));
	assert_null(c);
	arena_free(&arena);
}

static void importance_comes_from_importance_header(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct pim_email_state state = default_state();
	check_text("html_only", write_fixture(arena, "html_only.eml", 141, &state), WBXML_EMAIL_IMPORTANCE, "0");
	check_text("alternative", write_fixture(arena, "alternative.eml", 141, &state), WBXML_EMAIL_IMPORTANCE, "1");
	arena_free(&arena);
}

static void state_gives_read_flag_and_categories(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct pim_email_state state = default_state();
	state.read = true;
	state.flag_status = 2;
	state.categories[0] = "Red";
	state.categories[1] = "Blue";
	const struct wbxml_node *root = write_fixture(arena, "plain.eml", 141, &state);
	check_text("active", root, WBXML_EMAIL_READ, "1");
	const struct wbxml_node *flag = child(root, WBXML_EMAIL_FLAG);
	check_text("active", flag, WBXML_EMAIL_STATUS, "2");
	check_text("active", flag, WBXML_EMAIL_FLAG_TYPE, "Flag for follow up");
	const struct wbxml_node *categories = child(root, WBXML_EMAIL_CATEGORIES);
	assert_non_null(categories);
	assert_int_equal(count_children(categories, WBXML_EMAIL_CATEGORY), 2);
	check_text("categories", categories, WBXML_EMAIL_CATEGORY, "Red");
	assert_int_equal(categories->last_child->text.len, 4);
	assert_memory_equal(categories->last_child->text.data, "Blue", 4);
	state.flag_status = 1;
	flag = child(write_fixture(arena, "plain.eml", 141, &state), WBXML_EMAIL_FLAG);
	check_text("complete", flag, WBXML_EMAIL_STATUS, "1");
	check_text("complete", flag, WBXML_EMAIL_FLAG_TYPE, NULL);
	arena_free(&arena);
}

/* 12.1 has no Categories, no Email2 conversation elements (nor Preview, see the body table). */
static void version_121_leaves_out_14_0_elements(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct pim_email_state state = default_state();
	state.categories[0] = "Red";
	const struct wbxml_node *root = write_fixture(arena, "plain.eml", 121, &state);
	assert_null(child(root, WBXML_EMAIL_CATEGORIES));
	assert_null(child(root, WBXML_EMAIL2_CONVERSATION_ID));
	assert_null(child(root, WBXML_EMAIL2_CONVERSATION_INDEX));
	assert_non_null(child(root, WBXML_EMAIL_FLAG));
	root = write_fixture(arena, "plain.eml", 161, &state);
	assert_non_null(child(root, WBXML_EMAIL_CATEGORIES));
	assert_non_null(child(root, WBXML_EMAIL2_CONVERSATION_ID));
	arena_free(&arena);
}

/* ConversationId: MD5 of the subject without Re:/Fwd:; ConversationIndex: FILETIME bits 16-55 of Date. */
static void conversation_comes_from_topic_and_date(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct pim_email_state state = default_state();
	const struct wbxml_node *root = write_fixture(arena, "plain.eml", 141, &state);
	uint8_t md5[16];
	gsize md5_len = sizeof(md5);
	GChecksum *checksum = g_checksum_new(G_CHECKSUM_MD5);
	g_checksum_update(checksum, (const guchar *)"Lunch on Friday", 15);
	g_checksum_get_digest(checksum, md5, &md5_len);
	g_checksum_free(checksum);
	const struct wbxml_node *id = child(root, WBXML_EMAIL2_CONVERSATION_ID);
	assert_int_equal(id->content, WBXML_CONTENT_OPAQUE);
	check_bytes("id", root, WBXML_EMAIL2_CONVERSATION_ID, md5, 16);
	/* FILETIME of the Date header: 100 ns units since 1601 (MS-DTYP 2.3.3). */
	uint64_t filetime = (1700000000ull + 11644473600ull) * 10000000ull;
	uint8_t index[5];
	for (int i = 0; i < 5; i++)
		index[i] = (uint8_t)(filetime >> (48 - 8 * i));
	check_bytes("index", root, WBXML_EMAIL2_CONVERSATION_INDEX, index, 5);
	arena_free(&arena);
}

/* Replies and forwards in several languages share the original's topic and ConversationId. */
static void reply_prefixes_are_not_part_of_the_topic(void **unused)
{
	(void)unused;
	static const struct {
		const char *subject, *topic;
	} cases[] = {
		{ "Lunch on Friday", "Lunch on Friday" },
		{ "AW: Re[2]: Lunch on Friday", "Lunch on Friday" },
		{ "FW: fwd:Lunch on Friday", "Lunch on Friday" },
		{ "SV:  WG: Lunch on Friday", "Lunch on Friday" },
		{ "Reply: not a prefix", "Reply: not a prefix" },
		{ "Re[x]: not a counter", "Re[x]: not a counter" },
		{ "Re: ", NULL },
	};
	const struct wbxml_node *first_id = NULL;
	struct arena *arena = arena_new(0);
	for (size_t i = 0; i < COUNT(cases); i++) {
		char text[256];
		int len = snprintf(text, sizeof(text), "Subject: %s\r\n\r\nx\r\n", cases[i].subject);
		struct message m = { malloc((size_t)len), (size_t)len };
		memcpy(m.data, text, (size_t)len);
		struct pim_options options = { .protocol_version = 141 };
		struct pim_email_state state = default_state();
		int status;
		const struct wbxml_node *root = write_item(arena, &m, &options, &state, &status);
		check_text(cases[i].subject, root, WBXML_EMAIL_THREAD_TOPIC, cases[i].topic);
		const struct wbxml_node *id = child(root, WBXML_EMAIL2_CONVERSATION_ID);
		if (i == 0)
			first_id = id;
		else if (cases[i].topic != NULL && strcmp(cases[i].topic, cases[0].topic) == 0)
			check_bytes(cases[i].subject, root, WBXML_EMAIL2_CONVERSATION_ID, first_id->text.data, 16);
		unload(&m);
	}
	arena_free(&arena);
}

static void encoded_words_and_charsets_become_utf8(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct pim_email_state state = default_state();
	const struct wbxml_node *root = write_fixture(arena, "latin1.eml", 141, &state);
	/* windows-1252 =80 is the euro sign; ISO-8859-2 =B3 is l with stroke. */
	check_text("latin1", root, WBXML_EMAIL_SUBJECT, "Preis \xe2\x82\xac 100 f\xc3\xbcr Caf\xc3\xa9");
	check_text("latin1", root, WBXML_EMAIL_FROM, "Pawe\xc5\x82 Nowak <pawel@example.pl>");
	check_text("latin1", root, WBXML_EMAIL_DISPLAY_TO, "ivan@example.org");
	arena_free(&arena);
}

struct attachment_expect {
	const char *name, *reference, *content_id;
	uint64_t size;
	bool inline_part;
};

static void check_attachments(const char *name, const struct wbxml_node *root,
			      const struct attachment_expect *want, size_t count)
{
	const struct wbxml_node *list = child(root, WBXML_AIRSYNCBASE_ATTACHMENTS);
	if (list == NULL || count_children(list, WBXML_AIRSYNCBASE_ATTACHMENT) != count)
		fail_msg("%s: want %zu attachments", name, count);
	const struct wbxml_node *a = list->first_child;
	for (size_t i = 0; i < count; i++, a = a->next) {
		check_text(name, a, WBXML_AIRSYNCBASE_DISPLAY_NAME, want[i].name);
		check_text(name, a, WBXML_AIRSYNCBASE_FILE_REFERENCE, want[i].reference);
		check_text(name, a, WBXML_AIRSYNCBASE_METHOD, "1");
		check_uint(name, a, WBXML_AIRSYNCBASE_ESTIMATED_DATA_SIZE, want[i].size);
		check_text(name, a, WBXML_AIRSYNCBASE_CONTENT_ID, want[i].content_id);
		check_text(name, a, WBXML_AIRSYNCBASE_IS_INLINE, want[i].inline_part ? "1" : NULL);
	}
}

/* Depth first: the inline image of multipart/related, then the two attached files. */
static void attachments_are_numbered_depth_first(void **unused)
{
	(void)unused;
	static const struct attachment_expect want[] = {
		{ "attachment-0", "5:7:0", "logo@example.com", 8, true },
		{ "report.pdf", "5:7:1", NULL, sizeof(REPORT_PDF) - 1, false },
		{ "notes \xc3\xbc.txt", "5:7:2", NULL, 10, false }, /* RFC 2231 filename* */
	};
	struct arena *arena = arena_new(0);
	struct pim_email_state state = default_state();
	const struct wbxml_node *root = write_fixture(arena, "attachments.eml", 141, &state);
	check_attachments("attachments", root, want, COUNT(want));
	/* The body is the alternative inside related: the cid image is not the body. */
	const struct wbxml_node *body = child(root, WBXML_AIRSYNCBASE_BODY);
	check_text("attachments", body, WBXML_AIRSYNCBASE_DATA, "See the picture and the report.");
	check_text("attachments", root, WBXML_AIRSYNCBASE_NATIVE_BODY_TYPE, "2");
	arena_free(&arena);
}

static void forwarded_message_and_signature_are_attachments(void **unused)
{
	(void)unused;
	static const struct attachment_expect forwarded[] = { { "attachment-0.eml", "5:7:0", NULL, 91, false } };
	static const struct attachment_expect signature[] = { { "smime.p7s", "5:7:0", NULL, 52, false } };
	static const struct attachment_expect cut[] = { { "cut.bin", "5:7:0", NULL, 9, false } };
	struct arena *arena = arena_new(0);
	struct pim_email_state state = default_state();
	const struct wbxml_node *root = write_fixture(arena, "forward.eml", 141, &state);
	check_attachments("forward", root, forwarded, 1);
	check_text("forward", child(root, WBXML_AIRSYNCBASE_BODY), WBXML_AIRSYNCBASE_DATA, "See below.");
	root = write_fixture(arena, "smime_signed.eml", 141, &state);
	check_attachments("smime", root, signature, 1);
	check_text("smime", root, WBXML_EMAIL_MESSAGE_CLASS, "IPM.Note.SMIME.MultipartSigned");
	root = write_fixture(arena, "broken_boundary.eml", 141, &state);
	check_attachments("broken", root, cut, 1); /* the base64 that was there */
	arena_free(&arena);
}

static void hostile_bytes_still_give_an_item(void **unused)
{
	(void)unused;
	static const char *const fixtures[] = { "garbage.eml", "nul.eml", "no_headers.eml", "broken_boundary.eml" };
	for (size_t i = 0; i < COUNT(fixtures); i++) {
		struct arena *arena = arena_new(0);
		struct pim_email_state state = default_state();
		const struct wbxml_node *root = write_fixture(arena, fixtures[i], 141, &state);
		const struct wbxml_node *data = child(child(root, WBXML_AIRSYNCBASE_BODY), WBXML_AIRSYNCBASE_DATA);
		if (data == NULL || memchr(data->text.data, '\0', data->text.len) != NULL ||
		    !g_utf8_validate((const char *)data->text.data, (gssize)data->text.len, NULL))
			fail_msg("%s: want UTF-8 Data without NUL", fixtures[i]);
		assert_non_null(child(root, WBXML_EMAIL_SUBJECT));
		arena_free(&arena);
	}
}

/*
 * Parts are read a few KB at a time: a character cut between two reads
 * must come out whole, whatever the transfer encoding, for text and for
 * text derived from HTML.
 */
static void characters_survive_read_boundaries(void **unused)
{
	(void)unused;
	static const char *const encodings[] = { "8bit", "base64" };
	for (size_t lead = 4090; lead < 4100; lead++) {
		for (size_t e = 0; e < COUNT(encodings); e++) {
			for (int html = 0; html < 2; html++) {
				GString *text = g_string_new(NULL), *mime = g_string_new(NULL);
				for (size_t i = 0; i < lead; i++)
					g_string_append_c(text, 'a');
				for (int i = 0; i < 3000; i++)
					g_string_append(text, "\xe2\x82\xac\xc3\xbc\xf0\x9f\x98\x80");
				g_string_append_printf(mime, "Subject: long\r\nContent-Type: text/%s; charset=utf-8\r\n"
						       "Content-Transfer-Encoding: %s\r\n\r\n",
						       html ? "html" : "plain", encodings[e]);
				if (e == 0) {
					g_string_append_len(mime, text->str, (gssize)text->len);
				} else {
					char *b64 = g_base64_encode((const guchar *)text->str, text->len);
					g_string_append(mime, b64);
					g_free(b64);
				}
				struct message m = { malloc(mime->len), mime->len };
				memcpy(m.data, mime->str, mime->len);
				if (html) /* libxml2 puts bare text in an implied <p>, which ends a line */
					g_string_append(text, "\r\n");
				struct arena *arena = arena_new(0);
				struct pim_options options = { .protocol_version = 141, .preference_count = 1,
								     .preferences = { { .type = PIM_BODY_PLAIN } } };
				struct pim_email_state state = default_state();
				int status;
				const struct wbxml_node *root = write_item(arena, &m, &options, &state, &status);
				char name[64];
				snprintf(name, sizeof(name), "%s %s lead %zu", encodings[e], html ? "html" : "plain", lead);
				check_bytes(name, child(root, WBXML_AIRSYNCBASE_BODY), WBXML_AIRSYNCBASE_DATA,
					    text->str, text->len);
				arena_free(&arena);
				unload(&m);
				g_string_free(text, TRUE);
				g_string_free(mime, TRUE);
			}
		}
	}
}

/* Nothing to parse: -1 and nothing written into the ApplicationData. */
static void empty_input_is_not_a_message(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct message m = { malloc(1), 0 };
	struct pim_options options = { .protocol_version = 141 };
	struct pim_email_state state = default_state();
	int status;
	const struct wbxml_node *root = write_item(arena, &m, &options, &state, &status);
	assert_int_equal(status, -1);
	assert_null(root->first_child);
	struct pim_email_summary summary;
	assert_int_equal(pim_email_summary(arena, m.data, 0, &summary), -1);
	assert_string_equal(summary.subject, "");
	unload(&m);
	arena_free(&arena);
}

/* The writer's buffer ceiling is the response limit: a body past it fails the writer, not the process. */
static void response_ceiling_fails_the_writer(void **unused)
{
	(void)unused;
	struct message m = load("plain.eml");
	struct arena *arena = arena_new(0);
	struct buf out;
	struct wbxml_writer writer;
	struct pim_options options = { .protocol_version = 141 };
	struct pim_email_state state = default_state();
	buf_init(&out, 64);
	wbxml_writer_init(&writer, &out);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_APPLICATION_DATA);
	assert_int_equal(pim_email_write(&writer, arena, m.data, m.len, &options, &state), 0);
	wbxml_writer_end(&writer);
	assert_int_equal(wbxml_writer_finish(&writer, NULL), WBXML_ERR_LIMIT);
	buf_cleanup(&out);
	arena_free(&arena);
	unload(&m);
}

/* ---- attachments by range ---- */

struct range_case {
	const char *name;
	const char *fixture;
	unsigned index;
	uint64_t start, end;
	size_t ceiling;         /* of out; 0: none */
	int status;
	const char *bytes;
	size_t bytes_len;
	uint64_t total;
	const char *content_type;
};

static const struct range_case range_cases[] = {
	{ "first_ten_bytes", "attachments.eml", 1, 0, 9, 0, 0, REPORT_PDF, 10, 52, "application/pdf" },
	{ "middle_range", "attachments.eml", 1, 9, 18, 0, 0, "0123456789", 10, 52, "application/pdf" },
	{ "last_byte", "attachments.eml", 1, 51, 51, 0, 0, "\n", 1, 52, "application/pdf" },
	{ "range_past_the_end_gives_nothing", "attachments.eml", 1, 52, 60, 0, 0, "", 0, 52, "application/pdf" },
	{ "range_running_past_the_end_stops_there", "attachments.eml", 1, 46, 1000, 0, 0, "%%EOF\n", 6, 52,
	  "application/pdf" },
	{ "whole_attachment", "attachments.eml", 1, 0, UINT64_MAX, 0, 0, REPORT_PDF, 52, 52, "application/pdf" },
	{ "end_before_start_gives_nothing", "attachments.eml", 1, 10, 5, 0, 0, "", 0, 52, "application/pdf" },
	{ "inline_image_decoded", "attachments.eml", 0, 0, UINT64_MAX, 0, 0, PNG_SIGNATURE, 8, 8, "image/png" },
	{ "quoted_printable_text_decoded_raw", "attachments.eml", 2, 0, UINT64_MAX, 0, 0, "Note one=1", 10, 10,
	  "text/plain" },
	{ "forwarded_message_whole", "forward.eml", 0, 0, 17, 0, 0, "From: Mo <mo@examp", 18, 91,
	  "message/rfc822" },
	{ "no_such_attachment", "attachments.eml", 3, 0, UINT64_MAX, 0, -1, "", 0, 0, "" },
	{ "message_without_attachments", "plain.eml", 0, 0, UINT64_MAX, 0, -1, "", 0, 0, "" },
	{ "ceiling_at_the_range_is_enough", "attachments.eml", 1, 0, 9, 10, 0, REPORT_PDF, 10, 52,
	  "application/pdf" },
	{ "ceiling_one_below_the_range_fails", "attachments.eml", 1, 0, 9, 9, -1, NULL, 0, 0, "application/pdf" },
};

static void range_case_run(void **state)
{
	const struct range_case *c = *state;
	struct message m = load(c->fixture);
	struct arena *arena = arena_new(0);
	struct buf out;
	uint64_t total = 12345;
	const char *content_type = NULL;
	struct pim_source source;
	pim_source_memory(&source, m.data, m.len);
	buf_init(&out, c->ceiling);
	int status = pim_email_attachment(arena, &source, c->index, c->start, c->end, &out, &total,
					  &content_type);
	if (status != c->status)
		fail_msg("%s: status %d, want %d", c->name, status, c->status);
	assert_string_equal(content_type, c->content_type);
	if (c->bytes != NULL) {
		if (out.len != c->bytes_len || (c->bytes_len > 0 && memcmp(out.data, c->bytes, c->bytes_len) != 0))
			fail_msg("%s: got %zu bytes '%.*s'", c->name, out.len, (int)out.len, (const char *)out.data);
		assert_int_equal(total, c->total);
	}
	buf_cleanup(&out);
	arena_free(&arena);
	unload(&m);
}

/* The size listed in Attachments is the size a fetch gives. */
static void listed_sizes_match_fetched_sizes(void **unused)
{
	(void)unused;
	static const char *const fixtures[] = { "attachments.eml", "forward.eml", "smime_signed.eml",
						"broken_boundary.eml" };
	for (size_t f = 0; f < COUNT(fixtures); f++) {
		struct message m = load(fixtures[f]);
		struct arena *arena = arena_new(0);
		struct pim_email_state state = default_state();
		const struct wbxml_node *root = write_fixture(arena, fixtures[f], 141, &state);
		unsigned i = 0;
		for (const struct wbxml_node *a = child(root, WBXML_AIRSYNCBASE_ATTACHMENTS)->first_child; a != NULL;
		     a = a->next, i++) {
			struct buf out;
			uint64_t total;
			const char *type;
			char size[24];
			struct pim_source source;
			pim_source_memory(&source, m.data, m.len);
			buf_init(&out, 0);
			assert_int_equal(pim_email_attachment(arena, &source, i, 0, UINT64_MAX, &out, &total, &type), 0);
			assert_int_equal(out.len, total);
			snprintf(size, sizeof(size), "%llu", (unsigned long long)total);
			check_text(fixtures[f], a, WBXML_AIRSYNCBASE_ESTIMATED_DATA_SIZE, size);
			buf_cleanup(&out);
		}
		arena_free(&arena);
		unload(&m);
	}
}

/* ---- summary ---- */

struct summary_case {
	const char *fixture;
	int status;
	const char *message_id, *subject;
	int64_t date;
};

static const struct summary_case summary_cases[] = {
	{ "plain.eml", 0, "lunch-1@example.com", "Re: Fwd: Lunch on Friday", 1700000000 },
	{ "latin1.eml", 0, "", "Preis \xe2\x82\xac 100 f\xc3\xbcr Caf\xc3\xa9", 1700204400 },
	{ "alternative.eml", 0, "minutes@example.net", "Minutes", 1700037000 }, /* +0100 */
	{ "no_headers.eml", 0, "", "", 0 },
	{ "garbage.eml", 0, "", "", 0 },
	{ "nul.eml", 0, "", "Nul", 0 },
};

static void summary_gives_id_subject_and_date(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < COUNT(summary_cases); i++) {
		const struct summary_case *c = &summary_cases[i];
		struct message m = load(c->fixture);
		struct arena *arena = arena_new(0);
		struct pim_email_summary summary;
		assert_int_equal(pim_email_summary(arena, m.data, m.len, &summary), c->status);
		if (strcmp(summary.message_id, c->message_id) != 0 || strcmp(summary.subject, c->subject) != 0 ||
		    summary.date != c->date)
			fail_msg("%s: '%s' '%s' %lld", c->fixture, summary.message_id, summary.subject,
				 (long long)summary.date);
		arena_free(&arena);
		unload(&m);
	}
}

/* ---- a client's changes ---- */

#define CHANGE(body) "<ApplicationData xmlns=\"AirSync\" xmlns:email=\"Email\" xmlns:tasks=\"Tasks\">" \
	body "</ApplicationData>"

struct change_case {
	const char *name;
	const char *xml;
	int status;
	bool read;
	uint8_t flag_status;
	const char *categories[9]; /* NULL-terminated */
};

/* Every case starts from: unread, flagged active, categories {Old}. */
static const struct change_case change_cases[] = {
	{ "read_set", CHANGE("<email:Read>1</email:Read>"), 0, true, 2, { "Old" } },
	{ "read_cleared", CHANGE("<email:Read>0</email:Read>"), 0, false, 2, { "Old" } },
	{ "flag_set_with_task_fields", CHANGE("<email:Flag><email:Status>2</email:Status><email:FlagType>"
					      "Flag for follow up</email:FlagType><tasks:StartDate>"
					      "2023-11-20T00:00:00.000Z</tasks:StartDate></email:Flag>"),
	  0, false, 2, { "Old" } },
	{ "flag_completed", CHANGE("<email:Flag><email:Status>1</email:Status><email:CompleteTime>"
				   "2023-11-21T00:00:00.000Z</email:CompleteTime></email:Flag>"),
	  0, false, 1, { "Old" } },
	{ "flag_cleared_by_empty_element", CHANGE("<email:Flag/>"), 0, false, 0, { "Old" } },
	{ "flag_cleared_by_status_0", CHANGE("<email:Flag><email:Status>0</email:Status></email:Flag>"),
	  0, false, 0, { "Old" } },
	{ "categories_replaced", CHANGE("<email:Categories><email:Category>Red</email:Category>"
					"<email:Category>Green</email:Category></email:Categories>"),
	  0, false, 2, { "Red", "Green" } },
	{ "categories_emptied", CHANGE("<email:Categories/>"), 0, false, 2, { NULL } },
	{ "categories_past_eight_dropped",
	  CHANGE("<email:Categories><email:Category>1</email:Category><email:Category>2</email:Category>"
		 "<email:Category>3</email:Category><email:Category>4</email:Category><email:Category>5"
		 "</email:Category><email:Category>6</email:Category><email:Category>7</email:Category>"
		 "<email:Category>8</email:Category><email:Category>9</email:Category></email:Categories>"),
	  0, false, 2, { "1", "2", "3", "4", "5", "6", "7", "8" } },
	{ "all_three_at_once", CHANGE("<email:Read>1</email:Read><email:Flag/><email:Categories>"
				      "<email:Category>Blue</email:Category></email:Categories>"),
	  0, true, 0, { "Blue" } },
	{ "other_fields_skipped_and_absent_ones_kept", CHANGE("<email:Subject>x</email:Subject>"
							      "<email:Importance>2</email:Importance>"),
	  0, false, 2, { "Old" } },
	{ "read_2_refused_and_nothing_changed", CHANGE("<email:Categories/><email:Read>2</email:Read>"),
	  WBXML_ERR_MALFORMED, false, 2, { "Old" } },
	{ "flag_status_3_refused", CHANGE("<email:Flag><email:Status>3</email:Status></email:Flag>"),
	  WBXML_ERR_MALFORMED, false, 2, { "Old" } },
};

static void change_case_run(void **state)
{
	const struct change_case *c = *state;
	struct arena *arena = arena_new(0);
	struct buf wbxml;
	struct wbxml_error error;
	struct wbxml_reader reader;
	struct wbxml_event event;
	buf_init(&wbxml, 0);
	if (wbxml_from_xml(c->xml, strlen(c->xml), false, &wbxml, &error) != 0)
		fail_msg("%s: bad test XML: %s", c->name, error.reason);
	uint8_t *input = malloc(wbxml.len);
	memcpy(input, wbxml.data, wbxml.len);
	wbxml_reader_init(&reader, input, wbxml.len, NULL);
	assert_int_equal(wbxml_reader_next(&reader, &event), 0);
	assert_int_equal(event.tag, WBXML_AIRSYNC_APPLICATION_DATA);
	struct pim_email_state item = default_state();
	item.flag_status = 2;
	item.categories[0] = "Old";
	unsigned fields = 0;
	int status = pim_email_read_change(&reader, arena, &item, &fields);
	if (status != c->status)
		fail_msg("%s: status %d, want %d", c->name, status, c->status);
	if (status == 0) {
		assert_int_equal(wbxml_reader_next(&reader, &event), 0);
		assert_int_equal(event.type, WBXML_EVENT_DONE);
	}
	if (item.read != c->read || item.flag_status != c->flag_status)
		fail_msg("%s: read %d flag %u", c->name, item.read, item.flag_status);
	/* Each field named in the XML is reported as sent; a failed change reports none. */
	assert_int_equal((fields & PIM_EMAIL_FIELD_READ) != 0, status == 0 && strstr(c->xml, "email:Read") != NULL);
	assert_int_equal((fields & PIM_EMAIL_FIELD_FLAG) != 0, status == 0 && strstr(c->xml, "email:Flag") != NULL);
	assert_int_equal((fields & PIM_EMAIL_FIELD_CATEGORIES) != 0,
			 status == 0 && strstr(c->xml, "email:Categories") != NULL);
	for (size_t i = 0; i < 8; i++) {
		const char *got = item.categories[i], *want = c->categories[i];
		if ((got == NULL) != (want == NULL) || (got != NULL && strcmp(got, want) != 0))
			fail_msg("%s: category %zu is %s, want %s", c->name, i, got ? got : "none", want ? want : "none");
	}
	free(input);
	buf_cleanup(&wbxml);
	arena_free(&arena);
}

/* A change cut off inside ApplicationData is an error, never a partial update. */
static void truncated_change_is_refused(void **unused)
{
	(void)unused;
	const char *xml = CHANGE("<email:Read>1</email:Read><email:Flag/>");
	struct buf wbxml;
	struct wbxml_reader reader;
	struct wbxml_event event;
	struct arena *arena = arena_new(0);
	buf_init(&wbxml, 0);
	assert_int_equal(wbxml_from_xml(xml, strlen(xml), false, &wbxml, NULL), 0);
	for (size_t cut = 5; cut < wbxml.len; cut++) {
		uint8_t *input = malloc(cut);
		memcpy(input, wbxml.data, cut);
		wbxml_reader_init(&reader, input, cut, NULL);
		struct pim_email_state item = default_state();
		if (wbxml_reader_next(&reader, &event) == 0) {
			assert_true(pim_email_read_change(&reader, arena, &item, NULL) < 0);
			assert_false(item.read);
		}
		free(input);
	}
	buf_cleanup(&wbxml);
	arena_free(&arena);
}

/*
 * A category sent as many one-byte strings is joined at the cost of its
 * length; past LIMIT_CHANGE_VALUE_BYTES the change is refused, not kept.
 */
static void change_values_in_pieces_are_bounded(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	for (size_t pieces = LIMIT_CHANGE_VALUE_BYTES; pieces <= LIMIT_CHANGE_VALUE_BYTES + 1; pieces++) {
		struct buf wbxml;
		struct wbxml_writer writer;
		struct wbxml_reader reader;
		struct wbxml_event event;
		buf_init(&wbxml, 0);
		wbxml_writer_init(&writer, &wbxml);
		wbxml_writer_start(&writer, WBXML_AIRSYNC_APPLICATION_DATA);
		wbxml_writer_start(&writer, WBXML_EMAIL_CATEGORIES);
		wbxml_writer_start(&writer, WBXML_EMAIL_CATEGORY);
		for (size_t i = 0; i < pieces; i++)
			wbxml_writer_string(&writer, "x", 1);
		wbxml_writer_end(&writer);
		wbxml_writer_end(&writer);
		wbxml_writer_end(&writer);
		assert_int_equal(wbxml_writer_finish(&writer, NULL), 0);
		wbxml_reader_init(&reader, wbxml.data, wbxml.len, NULL);
		assert_int_equal(wbxml_reader_next(&reader, &event), 0);
		struct pim_email_state item = default_state();
		unsigned fields = 0;
		int status = pim_email_read_change(&reader, arena, &item, &fields);
		if (pieces <= LIMIT_CHANGE_VALUE_BYTES) {
			assert_int_equal(status, 0);
			assert_int_equal(strlen(item.categories[0]), pieces);
		} else {
			assert_int_equal(status, WBXML_ERR_LIMIT);
			assert_null(item.categories[0]);
		}
		buf_cleanup(&wbxml);
	}
	arena_free(&arena);
}

/* ---- drafts (Sync Add in Drafts, 16.x) ---- */

#define DRAFT(body) "<ApplicationData xmlns=\"AirSync\" xmlns:email=\"Email\" xmlns:email2=\"Email2\" " \
	"xmlns:airsyncbase=\"AirSyncBase\">" body "</ApplicationData>"

/* Bytes no text encoding would carry unchanged: NUL, CR, LF alone, 8-bit. */
static const uint8_t draft_binary[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0x00, 0x00, 0xff, 0xfe,
					'\r', 0x00, '\n', '\n', '\r', 0x80, 0x7f, 0x00 };
#define DRAFT_BINARY_BASE64 "iVBORw0KGgoAAP/+DQAKCg2AfwA="

/*
 * Reads the draft from WBXML given as XML (or as bytes when xml is NULL).
 * The input is freed before returning: every kept field must be the
 * arena's. *done_out: the reader ended exactly after ApplicationData.
 */
static int read_draft_bytes(struct arena *arena, const uint8_t *bytes, size_t len,
			    const struct wbxml_limits *limits, struct pim_email_draft *draft, bool *done_out)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	uint8_t *input = malloc(len);
	memcpy(input, bytes, len);
	wbxml_reader_init(&reader, input, len, limits);
	int status = wbxml_reader_next(&reader, &event);
	if (status == 0) {
		assert_int_equal(event.tag, WBXML_AIRSYNC_APPLICATION_DATA);
		status = pim_email_read_draft(&reader, arena, draft);
	}
	if (done_out != NULL)
		*done_out = wbxml_reader_next(&reader, &event) == 0 && event.type == WBXML_EVENT_DONE;
	memset(input, 0xAA, len);
	free(input);
	return status;
}

static int read_draft_xml(struct arena *arena, const char *xml, struct pim_email_draft *draft, bool *done_out)
{
	struct buf wbxml;
	struct wbxml_error error;
	buf_init(&wbxml, 0);
	if (wbxml_from_xml(xml, strlen(xml), false, &wbxml, &error) != 0)
		fail_msg("bad test XML: %s %s", error.reason, error.detail);
	int status = read_draft_bytes(arena, wbxml.data, wbxml.len, NULL, draft, done_out);
	buf_cleanup(&wbxml);
	return status;
}

/* Composes the draft and writes it back as Email ApplicationData (16.1, body of type body_type). */
static const struct wbxml_node *compose_and_write(struct arena *arena, const struct pim_email_draft *draft,
						  const char *from, uint8_t body_type, struct message *mime_out)
{
	struct buf mime;
	buf_init(&mime, 0);
	assert_int_equal(pim_email_compose_draft(arena, draft, from, 1700000000, &mime), 0);
	*mime_out = (struct message){ malloc(mime.len), mime.len };
	memcpy(mime_out->data, mime.data, mime.len);
	buf_cleanup(&mime);
	struct pim_options options = { .protocol_version = 161, .preference_count = 1,
					     .preferences = { { .type = body_type } } };
	struct pim_email_state state = default_state();
	int status;
	const struct wbxml_node *root = write_item(arena, mime_out, &options, &state, &status);
	assert_int_equal(status, 0);
	return root;
}

/*
 * The header block of the composed message after a CRLF, NUL-terminated,
 * so that every field can be looked for as "\r\nName: value\r\n".
 */
static char *header_block(const struct message *m)
{
	const char *end = g_strstr_len((const char *)m->data, (gssize)m->len, "\r\n\r\n");
	assert_non_null(end);
	char *block = g_strndup((const char *)m->data, (gsize)(end - (const char *)m->data + 2));
	char *headers = g_strconcat("\r\n", block, NULL);
	g_free(block);
	return headers;
}

#define SUBJECT_UTF8 "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac"
#define HTML_DRAFT "<html><body><p>Caf\xc3\xa9 at <b>noon</b>?</p><img src=\"cid:logo@example\"></body></html>"

/* A draft with every field a device can set. */
static const char every_field_xml[] = DRAFT(
	"<email:To>\"Bob Smith\" &lt;bob@example.com&gt;; carol@example.org</email:To>"
	"<email:Cc>dave@example.net</email:Cc>"
	"<email2:Bcc>eve@example.com, \"Frank, Jr.\" &lt;frank@example.com&gt;</email2:Bcc>"
	"<email:Subject>" SUBJECT_UTF8 "</email:Subject>"
	"<email:Importance>2</email:Importance>"
	"<email:Read>0</email:Read>"
	"<email:Flag><email:Status>2</email:Status><email:FlagType>Follow up</email:FlagType></email:Flag>"
	"<email:Categories><email:Category>Red</email:Category><email:Category>Blue</email:Category>"
	"</email:Categories>"
	"<airsyncbase:Body><airsyncbase:Type>2</airsyncbase:Type><airsyncbase:EstimatedDataSize>9"
	"</airsyncbase:EstimatedDataSize><airsyncbase:Data>" "&lt;html&gt;&lt;body&gt;&lt;p&gt;Caf\xc3\xa9 at "
	"&lt;b&gt;noon&lt;/b&gt;?&lt;/p&gt;&lt;img src=\"cid:logo@example\"&gt;&lt;/body&gt;&lt;/html&gt;"
	"</airsyncbase:Data></airsyncbase:Body>"
	"<email2:Send/>"
	"<airsyncbase:Attachments>"
	"<airsyncbase:Add><airsyncbase:ClientId>c1</airsyncbase:ClientId>"
	"<airsyncbase:DisplayName>pixel.png</airsyncbase:DisplayName><airsyncbase:Method>1</airsyncbase:Method>"
	"<airsyncbase:ContentType>image/png</airsyncbase:ContentType>"
	"<airsyncbase:Content wbxml=\"opaque\">" DRAFT_BINARY_BASE64 "</airsyncbase:Content></airsyncbase:Add>"
	"<airsyncbase:Delete><airsyncbase:FileReference>1:2:0</airsyncbase:FileReference></airsyncbase:Delete>"
	"<airsyncbase:Add><airsyncbase:ClientId>c2</airsyncbase:ClientId>"
	"<airsyncbase:DisplayName>Logo \xc3\xbc.txt</airsyncbase:DisplayName><airsyncbase:Method>1</airsyncbase:Method>"
	"<airsyncbase:ContentId>&lt;logo@example&gt;</airsyncbase:ContentId>"
	"<airsyncbase:IsInline>1</airsyncbase:IsInline>"
	"<airsyncbase:Content>line one\nline two\n</airsyncbase:Content></airsyncbase:Add>"
	"</airsyncbase:Attachments>");

/* What the draft reader makes of it. */
static void check_every_field_read(const struct pim_email_draft *d)
{
	assert_string_equal(d->to, "\"Bob Smith\" <bob@example.com>; carol@example.org");
	assert_string_equal(d->bcc, "eve@example.com, \"Frank, Jr.\" <frank@example.com>");
	assert_string_equal(d->subject, SUBJECT_UTF8);
	assert_int_equal(d->importance, 2);
	assert_int_equal(d->body_type, PIM_BODY_HTML);
	assert_string_equal(d->body, HTML_DRAFT);
	assert_int_equal(d->fields, PIM_EMAIL_FIELD_READ | PIM_EMAIL_FIELD_FLAG | PIM_EMAIL_FIELD_CATEGORIES);
	assert_false(d->read);
	assert_int_equal(d->flag_status, 2);
	assert_string_equal(d->categories[0], "Red");
	assert_string_equal(d->categories[1], "Blue");
	assert_null(d->categories[2]);
	assert_int_equal(d->attachment_count, 2);
	assert_string_equal(d->attachments[0].client_id, "c1");
	assert_int_equal(d->attachments[0].content.len, sizeof(draft_binary));
	assert_memory_equal(d->attachments[0].content.data, draft_binary, sizeof(draft_binary));
	assert_string_equal(d->attachments[1].client_id, "c2");
	assert_true(d->attachments[1].is_inline);
	assert_null(d->invalid_reason);
}

/* The bytes of each attachment come back exactly, by the index the draft gave them. */
static void check_every_field_fetched(struct arena *arena, const struct message *mime)
{
	struct buf fetched;
	uint64_t total;
	const char *type;
	struct pim_source source;
	pim_source_memory(&source, mime->data, mime->len);
	buf_init(&fetched, 0);
	assert_int_equal(pim_email_attachment(arena, &source, 0, 0, UINT64_MAX, &fetched, &total, &type), 0);
	assert_int_equal(fetched.len, sizeof(draft_binary));
	assert_memory_equal(fetched.data, draft_binary, sizeof(draft_binary));
	assert_string_equal(type, "image/png");
	fetched.len = 0;
	assert_int_equal(pim_email_attachment(arena, &source, 1, 0, UINT64_MAX, &fetched, &total, &type), 0);
	assert_int_equal(fetched.len, 18);
	assert_memory_equal(fetched.data, "line one\nline two\n", 18);
	assert_string_equal(type, "application/octet-stream");
	buf_cleanup(&fetched);
}

/* What pim_email_write does not show: Bcc, X-Priority, Date, Message-ID. */
static void check_every_field_headers(struct arena *arena, const struct message *mime)
{
	char *headers = header_block(mime);
	assert_non_null(strstr(headers, "\r\nBcc: eve@example.com, \"Frank, Jr.\" <frank@example.com>\r\n"));
	assert_non_null(strstr(headers, "\r\nX-Priority: 1 (Highest)\r\n"));
	assert_non_null(strstr(headers, "\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
	assert_non_null(strstr(headers, "@example.com>\r\n"));
	g_free(headers);
	struct pim_email_summary summary;
	assert_int_equal(pim_email_summary(arena, mime->data, mime->len, &summary), 0);
	assert_true(g_str_has_suffix(summary.message_id, "@example.com"));
	assert_int_equal(summary.date, 1700000000);
}

static void draft_with_every_field_reads_back(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct pim_email_draft draft;
	bool done;
	assert_int_equal(read_draft_xml(arena, every_field_xml, &draft, &done), 0);
	assert_true(done);
	check_every_field_read(&draft);
	struct message mime;
	const struct wbxml_node *root = compose_and_write(arena, &draft, "Alice <alice@example.com>", PIM_BODY_HTML, &mime);
	const char *name = "every_field";
	check_text(name, root, WBXML_EMAIL_SUBJECT, SUBJECT_UTF8);
	check_text(name, root, WBXML_EMAIL_TO, "Bob Smith <bob@example.com>, carol@example.org");
	check_text(name, root, WBXML_EMAIL_CC, "dave@example.net");
	check_text(name, root, WBXML_EMAIL_FROM, "Alice <alice@example.com>");
	check_text(name, root, WBXML_EMAIL_DISPLAY_TO, "Bob Smith; carol@example.org");
	check_uint(name, root, WBXML_EMAIL_IMPORTANCE, 2);
	const struct wbxml_node *body = child(root, WBXML_AIRSYNCBASE_BODY);
	check_uint(name, body, WBXML_AIRSYNCBASE_TYPE, PIM_BODY_HTML);
	check_text(name, body, WBXML_AIRSYNCBASE_DATA, HTML_DRAFT);
	check_uint(name, root, WBXML_AIRSYNCBASE_NATIVE_BODY_TYPE, PIM_BODY_HTML);
	static const struct attachment_expect attachments[] = {
		{ "pixel.png", "5:7:0", NULL, sizeof(draft_binary), false },
		{ "Logo \xc3\xbc.txt", "5:7:1", "logo@example", 18, true },
	};
	check_attachments(name, root, attachments, COUNT(attachments));
	check_every_field_fetched(arena, &mime);
	check_every_field_headers(arena, &mime);
	unload(&mime);
	arena_free(&arena);
}

#define PLAIN_DRAFT "Hi Bob,\r\n\r\nSee you at noon. Gr\xc3\xbc\xc3\x9f" "e\r\n-- \r\nAlice\r\n"

static void plain_draft_keeps_its_text(void **unused)
{
	(void)unused;
	const char *xml = DRAFT("<email:To>bob@example.com</email:To><email:Subject>Lunch</email:Subject>"
				"<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type><airsyncbase:Data>"
				PLAIN_DRAFT "</airsyncbase:Data></airsyncbase:Body>");
	struct arena *arena = arena_new(0);
	struct pim_email_draft draft;
	assert_int_equal(read_draft_xml(arena, xml, &draft, NULL), 0);
	assert_int_equal(draft.fields, 0);
	assert_true(draft.read);
	assert_int_equal(draft.importance, 1);
	struct message mime;
	const struct wbxml_node *root = compose_and_write(arena, &draft, NULL, PIM_BODY_PLAIN, &mime);
	check_text("plain", root, WBXML_EMAIL_SUBJECT, "Lunch");
	check_text("plain", root, WBXML_EMAIL_TO, "bob@example.com");
	check_text("plain", root, WBXML_EMAIL_FROM, NULL);
	check_uint("plain", root, WBXML_EMAIL_IMPORTANCE, 1);
	check_text("plain", child(root, WBXML_AIRSYNCBASE_BODY), WBXML_AIRSYNCBASE_DATA, PLAIN_DRAFT);
	check_uint("plain", root, WBXML_AIRSYNCBASE_NATIVE_BODY_TYPE, PIM_BODY_PLAIN);
	assert_null(child(root, WBXML_AIRSYNCBASE_ATTACHMENTS));
	char *headers = header_block(&mime);
	assert_null(strstr(headers, "X-Priority"));
	assert_null(strstr(headers, "\r\nFrom:"));
	assert_non_null(strstr(headers, "charset=utf-8"));
	g_free(headers);
	unload(&mime);
	arena_free(&arena);
}

/* A group's ";" is its end, not a separator; low importance has its headers. */
static void group_and_low_importance(void **unused)
{
	(void)unused;
	const char *xml = DRAFT("<email:To>team: ann@example.com, ben@example.com;, cy@example.com</email:To>"
				"<email:Cc>not an address at all</email:Cc>"
				"<email:Importance>0</email:Importance>");
	struct arena *arena = arena_new(0);
	struct pim_email_draft draft;
	assert_int_equal(read_draft_xml(arena, xml, &draft, NULL), 0);
	struct message mime;
	const struct wbxml_node *root = compose_and_write(arena, &draft, "alice", PIM_BODY_PLAIN, &mime);
	check_text("group", root, WBXML_EMAIL_TO, "team: ann@example.com, ben@example.com;, cy@example.com");
	check_text("group", root, WBXML_EMAIL_CC, NULL);
	check_uint("group", root, WBXML_EMAIL_IMPORTANCE, 0);
	char *headers = header_block(&mime);
	assert_non_null(strstr(headers, "\r\nImportance: low\r\n"));
	g_free(headers);
	unload(&mime);
	arena_free(&arena);
}

/* No field at all is still a message: Date, Message-ID, an empty text/plain body. */
static void empty_draft_is_a_valid_message(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct pim_email_draft draft;
	bool done;
	assert_int_equal(read_draft_xml(arena, "<ApplicationData xmlns=\"AirSync\"/>", &draft, &done), 0);
	assert_true(done);
	assert_int_equal(draft.body_type, 0);
	assert_int_equal(draft.attachment_count, 0);
	struct message mime;
	const struct wbxml_node *root = compose_and_write(arena, &draft, "", PIM_BODY_PLAIN, &mime);
	check_text("empty", root, WBXML_EMAIL_SUBJECT, "");
	check_text("empty", root, WBXML_EMAIL_TO, NULL);
	check_text("empty", child(root, WBXML_AIRSYNCBASE_BODY), WBXML_AIRSYNCBASE_DATA, "");
	struct pim_email_summary summary;
	assert_int_equal(pim_email_summary(arena, mime.data, mime.len, &summary), 0);
	assert_true(g_str_has_suffix(summary.message_id, "@easd.invalid"));
	assert_int_equal(summary.date, 1700000000);
	unload(&mime);
	arena_free(&arena);
}

/*
 * CR and LF in a header value would end the header block: GMime writes a
 * file name's as they are. They become spaces, and the forged part stays
 * the attachment's name. (XML reads each CRLF as one LF.)
 */
static void header_injection_is_neutralised(void **unused)
{
	(void)unused;
	const char *xml = DRAFT("<email:Subject>Hi\r\nBcc: spy@example.com</email:Subject>"
				"<airsyncbase:Attachments><airsyncbase:Add><airsyncbase:ClientId>1</airsyncbase:ClientId>"
				"<airsyncbase:DisplayName>a.txt\r\n\r\n--forged\r\nContent-Type: text/html\r\n\r\n"
				"</airsyncbase:DisplayName><airsyncbase:ContentId>x\r\nX-Evil: 1</airsyncbase:ContentId>"
				"<airsyncbase:Content>bytes</airsyncbase:Content></airsyncbase:Add></airsyncbase:Attachments>");
	struct arena *arena = arena_new(0);
	struct pim_email_draft draft;
	assert_int_equal(read_draft_xml(arena, xml, &draft, NULL), 0);
	struct message mime;
	const struct wbxml_node *root = compose_and_write(arena, &draft, NULL, PIM_BODY_PLAIN, &mime);
	check_text("injection", root, WBXML_EMAIL_SUBJECT, "Hi Bcc: spy@example.com");
	static const struct attachment_expect attachments[] = {
		{ "a.txt  --forged Content-Type: text/html  ", "5:7:0", "x X-Evil: 1", 5, false },
	};
	check_attachments("injection", root, attachments, COUNT(attachments));
	char *headers = header_block(&mime);
	assert_null(strstr(headers, "\r\nBcc:"));
	g_free(headers);
	assert_null(g_strstr_len((const char *)mime.data, (gssize)mime.len, "\r\nX-Evil"));
	assert_null(g_strstr_len((const char *)mime.data, (gssize)mime.len, "\r\n--forged"));
	unload(&mime);
	arena_free(&arena);
}

struct draft_case {
	const char *name;
	const char *xml;
	int status;
	const char *reason; /* PIM_DRAFT_INVALID: invalid_reason */
};

#define ADD(inner) "<airsyncbase:Add>" inner "</airsyncbase:Add>"
#define ATTACHMENTS(inner) "<airsyncbase:Attachments>" inner "</airsyncbase:Attachments>"
#define CONTENT "<airsyncbase:Content wbxml=\"opaque\">AAE=</airsyncbase:Content>"

static const struct draft_case draft_cases[] = {
	{ "draft_body_type_4_is_invalid", DRAFT("<airsyncbase:Body><airsyncbase:Type>4</airsyncbase:Type>"
						"<airsyncbase:Data>MIME</airsyncbase:Data></airsyncbase:Body>"
						"<email:Subject>after</email:Subject>"),
	  PIM_DRAFT_INVALID, "draft_body_type" },
	{ "draft_body_type_3_is_invalid", DRAFT("<airsyncbase:Body><airsyncbase:Type>3</airsyncbase:Type>"
						"</airsyncbase:Body>"), PIM_DRAFT_INVALID, "draft_body_type" },
	{ "draft_body_without_type_is_invalid", DRAFT("<airsyncbase:Body><airsyncbase:Data>x</airsyncbase:Data>"
						      "</airsyncbase:Body>"), PIM_DRAFT_INVALID, "draft_body_type" },
	{ "draft_body_type_not_a_number", DRAFT("<airsyncbase:Body><airsyncbase:Type>1x</airsyncbase:Type>"
						"</airsyncbase:Body>"), PIM_DRAFT_INVALID, "draft_body_type" },
	{ "draft_body_without_data_is_empty", DRAFT("<airsyncbase:Body><airsyncbase:Type>2</airsyncbase:Type>"
						    "</airsyncbase:Body>"), 0, NULL },
	{ "draft_importance_3_is_invalid", DRAFT("<email:Importance>3</email:Importance>"),
	  PIM_DRAFT_INVALID, "draft_importance" },
	{ "draft_read_2_is_invalid", DRAFT("<email:Read>2</email:Read>"), PIM_DRAFT_INVALID, "draft_read" },
	{ "draft_flag_status_3_is_invalid", DRAFT("<email:Flag><email:Status>3</email:Status></email:Flag>"),
	  PIM_DRAFT_INVALID, "draft_flag_status" },
	{ "draft_attachment_without_client_id", DRAFT(ATTACHMENTS(ADD(CONTENT))),
	  PIM_DRAFT_INVALID, "draft_attachment_incomplete" },
	{ "draft_attachment_without_content", DRAFT(ATTACHMENTS(ADD("<airsyncbase:ClientId>1</airsyncbase:ClientId>"))),
	  PIM_DRAFT_INVALID, "draft_attachment_incomplete" },
	{ "draft_attachment_empty_content_is_a_file", DRAFT(ATTACHMENTS(ADD(
		"<airsyncbase:ClientId>1</airsyncbase:ClientId><airsyncbase:Content/>"))), 0, NULL },
	{ "draft_attachment_method_7_is_invalid", DRAFT(ATTACHMENTS(ADD(
		"<airsyncbase:ClientId>1</airsyncbase:ClientId><airsyncbase:Method>7</airsyncbase:Method>" CONTENT))),
	  PIM_DRAFT_INVALID, "draft_attachment_method" },
	{ "draft_attachment_is_inline_2_is_invalid", DRAFT(ATTACHMENTS(ADD(
		"<airsyncbase:ClientId>1</airsyncbase:ClientId><airsyncbase:IsInline>2</airsyncbase:IsInline>" CONTENT))),
	  PIM_DRAFT_INVALID, "draft_attachment_is_inline" },
	{ "draft_first_invalid_value_is_the_reason", DRAFT("<email:Read>5</email:Read><email:Importance>9</email:Importance>"),
	  PIM_DRAFT_INVALID, "draft_read" },
	{ "draft_unknown_elements_are_skipped", DRAFT("<email:DateReceived>2023-11-14T22:13:20.000Z</email:DateReceived>"
						      "<email:MessageClass>IPM.Note</email:MessageClass>"
						      "<email2:ConversationId wbxml=\"opaque\">AAE=</email2:ConversationId>"),
	  0, NULL },
	{ "draft_categories_past_eight_dropped", DRAFT("<email:Categories><email:Category>1</email:Category>"
		"<email:Category>2</email:Category><email:Category>3</email:Category><email:Category>4</email:Category>"
		"<email:Category>5</email:Category><email:Category>6</email:Category><email:Category>7</email:Category>"
		"<email:Category>8</email:Category><email:Category>9</email:Category></email:Categories>"), 0, NULL },
};

/* An invalid value costs the item, never the request: the reader is past ApplicationData. */
static void draft_case_run(void **state)
{
	const struct draft_case *c = *state;
	struct arena *arena = arena_new(0);
	struct pim_email_draft draft;
	bool done;
	int status = read_draft_xml(arena, c->xml, &draft, &done);
	if (status != c->status)
		fail_msg("%s: status %d, want %d (%s)", c->name, status, c->status,
			 draft.invalid_reason ? draft.invalid_reason : "-");
	if (!done)
		fail_msg("%s: the reader did not end after ApplicationData", c->name);
	if ((c->reason == NULL) != (draft.invalid_reason == NULL) ||
	    (c->reason != NULL && strcmp(c->reason, draft.invalid_reason) != 0))
		fail_msg("%s: reason %s, want %s", c->name, draft.invalid_reason ? draft.invalid_reason : "none",
			 c->reason ? c->reason : "none");
	if (status == 0) {
		/* Whatever was read composes into a message the converter reads. */
		struct message mime;
		compose_and_write(arena, &draft, NULL, PIM_BODY_PLAIN, &mime);
		unload(&mime);
	}
	arena_free(&arena);
}

/* Writes an ApplicationData of count attachments of size bytes each, the content in pieces of piece bytes. */
static void write_attachments(struct buf *out, unsigned count, size_t size, size_t piece)
{
	struct wbxml_writer writer;
	uint8_t *content = calloc(1, piece > 0 ? piece : 1);
	wbxml_writer_init(&writer, out);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_APPLICATION_DATA);
	wbxml_writer_start(&writer, WBXML_AIRSYNCBASE_ATTACHMENTS);
	for (unsigned i = 0; i < count; i++) {
		char id[16];
		snprintf(id, sizeof(id), "%u", i);
		wbxml_writer_start(&writer, WBXML_AIRSYNCBASE_ADD);
		wbxml_writer_element_cstr(&writer, WBXML_AIRSYNCBASE_CLIENT_ID, id);
		wbxml_writer_start(&writer, WBXML_AIRSYNCBASE_CONTENT);
		for (size_t done = 0; done < size; done += piece)
			wbxml_writer_opaque(&writer, content, size - done < piece ? size - done : piece);
		wbxml_writer_end(&writer);
		wbxml_writer_end(&writer);
	}
	wbxml_writer_end(&writer);
	wbxml_writer_end(&writer);
	assert_int_equal(wbxml_writer_finish(&writer, NULL), 0);
	free(content);
}

/* LIMIT_MIME_ATTACHMENTS attachments are a draft; one more is invalid. */
static void draft_attachment_count_limit(void **unused)
{
	(void)unused;
	for (unsigned extra = 0; extra < 2; extra++) {
		struct arena *arena = arena_new(0);
		struct buf wbxml;
		struct pim_email_draft draft;
		bool done;
		buf_init(&wbxml, 0);
		write_attachments(&wbxml, LIMIT_MIME_ATTACHMENTS + extra, 3, 3);
		int status = read_draft_bytes(arena, wbxml.data, wbxml.len, NULL, &draft, &done);
		assert_true(done);
		if (extra == 0) {
			assert_int_equal(status, 0);
			assert_int_equal(draft.attachment_count, LIMIT_MIME_ATTACHMENTS);
			assert_string_equal(draft.attachments[LIMIT_MIME_ATTACHMENTS - 1].client_id, "499");
			struct message mime;
			const struct wbxml_node *root = compose_and_write(arena, &draft, NULL, PIM_BODY_PLAIN, &mime);
			assert_int_equal(count_children(child(root, WBXML_AIRSYNCBASE_ATTACHMENTS), WBXML_AIRSYNCBASE_ATTACHMENT),
					 LIMIT_MIME_ATTACHMENTS);
			unload(&mime);
		} else {
			assert_int_equal(status, PIM_DRAFT_INVALID);
			assert_string_equal(draft.invalid_reason, "draft_too_many_attachments");
		}
		buf_cleanup(&wbxml);
		arena_free(&arena);
	}
}

/*
 * LIMIT_DRAFT_BYTES of content are kept, one byte more is invalid. The
 * content comes in 1 MiB pieces, below the reader's string limit, and the
 * pieces are joined.
 */
static void draft_byte_limit(void **unused)
{
	(void)unused;
	const struct wbxml_limits limits = { .max_total = (size_t)64 * 1024 * 1024 };
	for (unsigned extra = 0; extra < 2; extra++) {
		struct arena *arena = arena_new(0);
		struct buf wbxml;
		struct pim_email_draft draft;
		bool done;
		buf_init(&wbxml, 0);
		write_attachments(&wbxml, 1, LIMIT_DRAFT_BYTES - 1 + extra, 1024 * 1024);
		/* One byte of ClientId is kept too: the content fills the rest. */
		int status = read_draft_bytes(arena, wbxml.data, wbxml.len, &limits, &draft, &done);
		assert_true(done);
		if (extra == 0) {
			assert_int_equal(status, 0);
			assert_int_equal(draft.attachments[0].content.len, LIMIT_DRAFT_BYTES - 1);
		} else {
			assert_int_equal(status, PIM_DRAFT_INVALID);
			assert_string_equal(draft.invalid_reason, "draft_too_large");
		}
		buf_cleanup(&wbxml);
		arena_free(&arena);
	}
}

/* Cut anywhere, a draft is an error (never a crash, a leak or a partial success). */
static void truncated_draft_is_refused(void **unused)
{
	(void)unused;
	const char *xml = DRAFT("<email:To>bob@example.com</email:To><airsyncbase:Body><airsyncbase:Type>1"
				"</airsyncbase:Type><airsyncbase:Data>Hi</airsyncbase:Data></airsyncbase:Body>"
				ATTACHMENTS(ADD("<airsyncbase:ClientId>1</airsyncbase:ClientId>" CONTENT)));
	struct buf wbxml;
	buf_init(&wbxml, 0);
	assert_int_equal(wbxml_from_xml(xml, strlen(xml), false, &wbxml, NULL), 0);
	struct arena *arena = arena_new(0);
	for (size_t cut = 5; cut < wbxml.len; cut++) {
		struct pim_email_draft draft;
		int status = read_draft_bytes(arena, wbxml.data, cut, NULL, &draft, NULL);
		if (status >= 0)
			fail_msg("cut at %zu of %zu: status %d", cut, wbxml.len, status);
		assert_true(status != PIM_DRAFT_INVALID);
	}
	struct pim_email_draft draft;
	assert_int_equal(read_draft_bytes(arena, wbxml.data, wbxml.len, NULL, &draft, NULL), 0);
	arena_free(&arena);
	buf_cleanup(&wbxml);
}

/* mime_out's ceiling fails the compose instead of growing past it. */
static void draft_compose_respects_the_ceiling(void **unused)
{
	(void)unused;
	struct arena *arena = arena_new(0);
	struct pim_email_draft draft;
	assert_int_equal(read_draft_xml(arena, DRAFT("<email:Subject>x</email:Subject>"), &draft, NULL), 0);
	struct buf small;
	buf_init(&small, 64);
	assert_int_equal(pim_email_compose_draft(arena, &draft, NULL, 0, &small), -1);
	buf_cleanup(&small);
	arena_free(&arena);
}

/* ---- read from a pim_source (the store's ranges) ---- */

/* A source over bytes in memory that counts what it is asked for, in windows of at most window_max. */
struct counted_source {
	const uint8_t *data;
	uint64_t bytes_read;
	uint64_t reads;
};

static int counted_read(void *context, uint64_t offset, void *dst, size_t len)
{
	struct counted_source *c = context;
	memcpy(dst, c->data + offset, len);
	c->bytes_read += len;
	c->reads++;
	return 0;
}

/* The WBXML pim_email_write or pim_email_write_source makes of m (source NULL: the former). */
static void write_bytes(struct arena *arena, const struct message *m, const struct pim_source *source,
			const struct pim_options *options, struct buf *out)
{
	struct pim_email_state state = default_state();
	struct wbxml_writer writer;
	buf_init(out, 0);
	wbxml_writer_init(&writer, out);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_APPLICATION_DATA);
	if (source != NULL)
		assert_int_equal(pim_email_write_source(&writer, arena, source, options, &state), 0);
	else
		assert_int_equal(pim_email_write(&writer, arena, m->data, m->len, options, &state), 0);
	wbxml_writer_end(&writer);
	assert_int_equal(wbxml_writer_finish(&writer, NULL), 0);
}

static void source_gives_the_same_item_as_memory(void **unused)
{
	(void)unused;
	static const char *const fixtures[] = { "plain.eml", "alternative.eml", "attachments.eml", "forward.eml",
						"smime_signed.eml", "broken_boundary.eml", "garbage.eml",
						"no_headers.eml", "latin1.eml", "html_only.eml", "nul.eml" };
	static const struct pim_options option_sets[] = {
		{ .protocol_version = 161 },
		{ .protocol_version = 161, .preferences = { { .type = 2, .truncation_size = 20, .preview = 50 } },
		  .preference_count = 1 },
		{ .protocol_version = 141, .preferences = { { .type = 4, .truncation_size = 100 } }, .preference_count = 1,
		  .mime_support = 2 },
		{ .protocol_version = 141, .preferences = { { .type = 4 } }, .preference_count = 1, .mime_support = 2 },
	};
	for (size_t f = 0; f < COUNT(fixtures); f++) {
		struct message m = load(fixtures[f]);
		for (size_t o = 0; o < COUNT(option_sets); o++) {
			struct arena *arena = arena_new(0);
			struct pim_source source;
			struct buf from_memory, from_source;
			pim_source_memory(&source, m.data, m.len);
			write_bytes(arena, &m, NULL, &option_sets[o], &from_memory);
			write_bytes(arena, &m, &source, &option_sets[o], &from_source);
			if (from_memory.len != from_source.len || memcmp(from_memory.data, from_source.data, from_memory.len) != 0)
				fail_msg("%s, options %zu: the source gives other WBXML", fixtures[f], o);
			buf_cleanup(&from_memory);
			buf_cleanup(&from_source);
			arena_free(&arena);
		}
		unload(&m);
	}
}

/* A message whose plain text body is size bytes of "0123456789...", in base64. */
static struct message huge_body_message(size_t size)
{
	char *text = malloc(size);
	for (size_t i = 0; i < size; i++)
		text[i] = (char)('0' + i % 10);
	char *encoded = g_base64_encode((const guchar *)text, size);
	free(text);
	static const char head[] = "From: a@example.org\r\nSubject: Huge\r\nMIME-Version: 1.0\r\n"
				   "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: base64\r\n\r\n";
	size_t encoded_len = strlen(encoded);
	struct buf b;
	buf_init(&b, 0);
	buf_append_cstr(&b, head);
	for (size_t i = 0; i < encoded_len; i += 76) {
		buf_append(&b, encoded + i, encoded_len - i < 76 ? encoded_len - i : 76);
		buf_append_cstr(&b, "\r\n");
	}
	g_free(encoded);
	struct message m = { malloc(b.len), b.len };
	memcpy(m.data, b.data, b.len);
	buf_cleanup(&b);
	return m;
}

/*
 * A truncated body of a 20 MB part decodes about its truncation size. The
 * parse reads every byte once (a MIME parser must scan for the end of a
 * part) but keeps none; the body then reads one window, not the part
 * again, and the EstimatedDataSize is the encoded size, estimated (within
 * 3 % of the real one). The arena holds kilobytes.
 */
static void truncated_body_of_a_huge_part_reads_only_its_start(void **unused)
{
	(void)unused;
	const size_t size = 20u * 1024 * 1024;
	struct message m = huge_body_message(size);
	struct counted_source counted = { .data = m.data };
	struct pim_source source = { .size = m.len, .read = counted_read, .context = &counted };
	struct pim_options options = { .protocol_version = 161,
					     .preferences = { { .type = 1, .truncation_size = 100 } },
					     .preference_count = 1 };
	struct pim_email_state state = default_state();
	struct arena *arena = arena_new(0);
	struct buf out;
	struct wbxml_writer writer;
	struct wbxml_node *root;
	buf_init(&out, 0);
	wbxml_writer_init(&writer, &out);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_APPLICATION_DATA);
	assert_int_equal(pim_email_write_source(&writer, arena, &source, &options, &state), 0);
	wbxml_writer_end(&writer);
	assert_int_equal(wbxml_writer_finish(&writer, NULL), 0);
	assert_int_equal(wbxml_tree_parse(arena, out.data, out.len, NULL, &root, NULL), 0);
	const struct wbxml_node *body = child(root, WBXML_AIRSYNCBASE_BODY);
	check_text("huge", body, WBXML_AIRSYNCBASE_TRUNCATED, "1");
	check_bytes("huge", body, WBXML_AIRSYNCBASE_DATA,
		    "0123456789012345678901234567890123456789012345678901234567890123456789"
		    "012345678901234567890123456789", 100);
	const struct wbxml_node *estimated = child(body, WBXML_AIRSYNCBASE_ESTIMATED_DATA_SIZE);
	assert_non_null(estimated);
	uint64_t estimate = strtoull(arena_strndup(arena, estimated->text.data, estimated->text.len), NULL, 10);
	assert_true(estimate > size / 100 * 97 && estimate < size / 100 * 103);
	if (counted.bytes_read > m.len + 1024 * 1024)
		fail_msg("read %llu bytes of %zu", (unsigned long long)counted.bytes_read, m.len);
	if (arena_used(arena) > 1024 * 1024)
		fail_msg("the arena holds %zu bytes", arena_used(arena));
	buf_cleanup(&out);
	arena_free(&arena);
	unload(&m);
}

/* A one-part 7bit message whose body is size bytes of digits. */
static struct message plain_body_message(size_t size)
{
	static const char head[] = "From: a@example.org\r\nSubject: Edge\r\nContent-Type: text/plain\r\n\r\n";
	struct message m = { malloc(sizeof(head) - 1 + size), sizeof(head) - 1 + size };
	memcpy(m.data, head, sizeof(head) - 1);
	for (size_t i = 0; i < size; i++)
		m.data[sizeof(head) - 1 + i] = (uint8_t)('0' + i % 10);
	return m;
}

/*
 * LIMIT_MIME_EXACT_SIZE_BYTES: a part of exactly that many encoded bytes
 * is decoded whole for its size (the parse's pass and the body's), one
 * byte more and the truncated body stops after its first window.
 */
static void exact_size_limit_decides_whether_a_body_is_decoded_whole(void **unused)
{
	(void)unused;
	static const struct { size_t size; bool whole; } cases[] = {
		{ LIMIT_MIME_EXACT_SIZE_BYTES, true },
		{ LIMIT_MIME_EXACT_SIZE_BYTES + 1, false },
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		struct message m = plain_body_message(cases[i].size);
		struct counted_source counted = { .data = m.data };
		struct pim_source source = { .size = m.len, .read = counted_read, .context = &counted };
		struct pim_options options = { .protocol_version = 161,
						     .preferences = { { .type = 1, .truncation_size = 10 } },
						     .preference_count = 1 };
		struct arena *arena = arena_new(0);
		struct buf out;
		write_bytes(arena, &m, &source, &options, &out);
		bool whole = counted.bytes_read >= 2 * cases[i].size;
		if (whole != cases[i].whole)
			fail_msg("%zu bytes: read %llu", cases[i].size, (unsigned long long)counted.bytes_read);
		struct wbxml_node *root;
		assert_int_equal(wbxml_tree_parse(arena, out.data, out.len, NULL, &root, NULL), 0);
		char size[24];
		snprintf(size, sizeof(size), "%zu", cases[i].size);
		check_text("edge", child(root, WBXML_AIRSYNCBASE_BODY), WBXML_AIRSYNCBASE_ESTIMATED_DATA_SIZE, size);
		buf_cleanup(&out);
		arena_free(&arena);
		unload(&m);
	}
}

/* An attachment's encoded range, decoded window by window (as ItemOperations streams it), is the attachment. */
static void located_attachments_decode_window_by_window(void **unused)
{
	(void)unused;
	static const char *const fixtures[] = { "attachments.eml", "smime_signed.eml", "broken_boundary.eml" };
	static const size_t windows[] = { 1, 3, 7, 4096 };
	for (size_t f = 0; f < COUNT(fixtures); f++) {
		struct message m = load(fixtures[f]);
		struct pim_source source;
		pim_source_memory(&source, m.data, m.len);
		struct arena *arena = arena_new(0);
		struct pim_attachment found;
		for (unsigned index = 0; pim_email_attachment_find(arena, &source, index, &found) == 0; index++) {
			struct buf whole;
			uint64_t total;
			const char *type;
			buf_init(&whole, 0);
			assert_int_equal(pim_email_attachment(arena, &source, index, 0, UINT64_MAX, &whole, &total, &type), 0);
			assert_int_equal(found.size, total);
			assert_string_equal(found.content_type, type);
			assert_true(found.streamable);
			for (size_t w = 0; w < COUNT(windows); w++) {
				struct pim_decoder *decoder = pim_decoder_new(arena, found.encoding);
				struct buf decoded;
				buf_init(&decoded, 0);
				for (uint64_t at = found.encoded_start; at < found.encoded_end; at += windows[w]) {
					size_t n = found.encoded_end - at < windows[w] ? (size_t)(found.encoded_end - at)
										: windows[w];
					struct slice out = pim_decoder_step(decoder, m.data + at, n, at + n == found.encoded_end);
					buf_append(&decoded, out.data, out.len);
				}
				if (decoded.len != whole.len || memcmp(decoded.data, whole.data, whole.len) != 0)
					fail_msg("%s attachment %u, windows of %zu: other bytes", fixtures[f], index, windows[w]);
				buf_cleanup(&decoded);
			}
			buf_cleanup(&whole);
		}
		arena_free(&arena);
		unload(&m);
	}
}

/* ---- the runner ---- */

#define CASE(function) cmocka_unit_test(function)

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		CASE(headers_are_decoded_in_exchange_order),
		CASE(importance_comes_from_importance_header),
		CASE(state_gives_read_flag_and_categories),
		CASE(version_121_leaves_out_14_0_elements),
		CASE(conversation_comes_from_topic_and_date),
		CASE(reply_prefixes_are_not_part_of_the_topic),
		CASE(encoded_words_and_charsets_become_utf8),
		CASE(attachments_are_numbered_depth_first),
		CASE(forwarded_message_and_signature_are_attachments),
		CASE(hostile_bytes_still_give_an_item),
		CASE(characters_survive_read_boundaries),
		CASE(empty_input_is_not_a_message),
		CASE(response_ceiling_fails_the_writer),
		CASE(listed_sizes_match_fetched_sizes),
		CASE(summary_gives_id_subject_and_date),
		CASE(truncated_change_is_refused),
		CASE(change_values_in_pieces_are_bounded),
		CASE(draft_with_every_field_reads_back),
		CASE(plain_draft_keeps_its_text),
		CASE(group_and_low_importance),
		CASE(empty_draft_is_a_valid_message),
		CASE(header_injection_is_neutralised),
		CASE(draft_attachment_count_limit),
		CASE(draft_byte_limit),
		CASE(truncated_draft_is_refused),
		CASE(draft_compose_respects_the_ceiling),
		CASE(source_gives_the_same_item_as_memory),
		CASE(truncated_body_of_a_huge_part_reads_only_its_start),
		CASE(located_attachments_decode_window_by_window),
		CASE(exact_size_limit_decides_whether_a_body_is_decoded_whole),
	};
	size_t count = COUNT(fixed) + COUNT(body_cases) + COUNT(range_cases) + COUNT(change_cases) +
		       COUNT(draft_cases);
	struct CMUnitTest *tests = calloc(count, sizeof(*tests));
	size_t n = COUNT(fixed);
	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < COUNT(body_cases); i++)
		tests[n++] = (struct CMUnitTest){ body_cases[i].name, body_case_run, NULL, NULL, (void *)&body_cases[i] };
	for (size_t i = 0; i < COUNT(range_cases); i++)
		tests[n++] = (struct CMUnitTest){ range_cases[i].name, range_case_run, NULL, NULL, (void *)&range_cases[i] };
	for (size_t i = 0; i < COUNT(change_cases); i++)
		tests[n++] = (struct CMUnitTest){ change_cases[i].name, change_case_run, NULL, NULL,
						   (void *)&change_cases[i] };
	for (size_t i = 0; i < COUNT(draft_cases); i++)
		tests[n++] = (struct CMUnitTest){ draft_cases[i].name, draft_case_run, NULL, NULL,
						   (void *)&draft_cases[i] };
	int failed = _cmocka_run_group_tests("email", tests, count, NULL, NULL);
	free(tests);
	return failed;
}
