/*
 * test_outgoing.c: a device's message made ready for the relay
 * (pim_outgoing_prepare): From, Message-ID and Date, the envelope
 * recipients (groups, duplicates, invalid addresses, the sender of a
 * reply), Bcc kept out of the wire, CRLF lines, and what SmartReply and
 * SmartForward take from the original. Every input, and the original, is
 * an exact-size heap copy freed before the result is read, so that ASan
 * sees a read past its end and nothing may borrow it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "guard/limits.h"
#include "pim/email.h"
#include "testlib.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

#define SENDER "alice@example.org"
#define NOW 1700000000 /* 2023-11-14T22:13:20Z */
#define NOW_DATE "Tue, 14 Nov 2023 22:13:20 +0000"

/* Addresses at LIMIT_SEND_ADDRESS_BYTES and one past it. */
#define A10 "aaaaaaaaaa"
#define A60 A10 A10 A10 A10 A10 A10
#define ADDRESS_254 A60 A60 A60 A60 "aa@example.org"
#define ADDRESS_255 "a" ADDRESS_254
_Static_assert(sizeof(ADDRESS_254) - 1 == LIMIT_SEND_ADDRESS_BYTES, "ADDRESS_254 is at the limit");

/* The original of the replies and forwards: bare LF lines, as a store may hold them. */
#define ORIGINAL_ID "orig@example.net"
#define ORIGINAL_PLAIN "From: Bob <bob@example.org>\n" \
	"To: alice@example.org\n" \
	"Subject: Plans\n" \
	"Message-ID: <" ORIGINAL_ID ">\n" \
	"References: <a@example.net>\n <b@example.net>\n" \
	"Content-Type: text/plain; charset=us-ascii\n" \
	"\n" \
	"Line one\n" \
	"Line two\n"
#define ORIGINAL_WITH_PDF "From: Bob <bob@example.org>\n" \
	"Subject: Report\n" \
	"Message-ID: <" ORIGINAL_ID ">\n" \
	"Content-Type: multipart/mixed; boundary=m\n" \
	"\n" \
	"--m\n" \
	"Content-Type: text/plain\n" \
	"\n" \
	"Original text\n" \
	"--m\n" \
	"Content-Type: application/pdf; name=report.pdf\n" \
	"Content-Disposition: attachment; filename=report.pdf\n" \
	"Content-Transfer-Encoding: base64\n" \
	"\n" \
	"JVBERi0xLjQK\n" \
	"--m--\n"
#define PDF_CONTENT "%PDF-1.4\n"

/* ---- helpers ---- */

struct prepared {
	struct arena *arena;
	struct pim_outgoing out;
	int status;
};

static struct pim_outgoing_options options_of(enum pim_outgoing_kind kind, const char *original)
{
	return (struct pim_outgoing_options){
		.kind = kind,
		.sender = SENDER,
		.original = (const uint8_t *)original,
		.original_len = original != NULL ? strlen(original) : 0,
		.now = NOW,
	};
}

static uint8_t *heap_copy(const void *data, size_t len)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	memcpy(copy, data, len);
	return copy;
}

static void prepare_bytes(struct prepared *p, const void *mime, size_t len,
			  const struct pim_outgoing_options *options)
{
	struct pim_outgoing_options copy = *options;
	uint8_t *data = heap_copy(mime, len);
	uint8_t *original = options->original != NULL ? heap_copy(options->original, options->original_len) : NULL;
	copy.original = original;
	p->arena = arena_new(0);
	p->status = pim_outgoing_prepare(p->arena, data, len, &copy, &p->out);
	free(data);
	free(original);
}

static void prepare(struct prepared *p, const char *mime, const struct pim_outgoing_options *options)
{
	prepare_bytes(p, mime, strlen(mime), options);
	if (p->status != 0)
		fail_msg("prepare: %d", p->status);
}

static void prepared_free(struct prepared *p)
{
	arena_free(&p->arena);
}

/* The length of the header block, up to and with its blank line. */
static size_t header_block(const uint8_t *data, size_t len)
{
	const uint8_t *end = memmem(data, len, "\r\n\r\n", 4);
	return end != NULL ? (size_t)(end - data) + 4 : len;
}

/* The header line at data[at] is called name (RFC 5322 4.5 lets blanks precede the colon). */
static bool header_is(const uint8_t *data, size_t end, size_t at, const char *name)
{
	size_t name_len = strlen(name);
	if (end - at <= name_len || strncasecmp((const char *)data + at, name, name_len) != 0)
		return false;
	size_t colon = at + name_len;
	while (colon < end && (data[colon] == ' ' || data[colon] == '\t'))
		colon++;
	return colon < end && data[colon] == ':';
}

/* The next line's start after data[at], or end. */
static size_t next_line(const uint8_t *data, size_t end, size_t at)
{
	const uint8_t *eol = memmem(data + at, end - at, "\r\n", 2);
	return eol != NULL ? (size_t)(eol - data) + 2 : end;
}

/* The first top-level header called name, unfolded and trimmed, in arena; NULL when there is none. */
static const char *header_value(struct arena *arena, const uint8_t *data, size_t len, const char *name)
{
	size_t end = header_block(data, len);
	for (size_t at = 0; at < end; at = next_line(data, end, at)) {
		if (!header_is(data, end, at, name))
			continue;
		struct buf value;
		buf_init(&value, 0);
		size_t line = (size_t)((const uint8_t *)memchr(data + at, ':', end - at) - data) + 1;
		do {
			size_t stop = next_line(data, end, line);
			bool crlf = stop - line >= 2 && data[stop - 2] == '\r' && data[stop - 1] == '\n';
			buf_append(&value, data + line, stop - line - (crlf ? 2 : 0));
			line = stop;
		} while (line < end && (data[line] == ' ' || data[line] == '\t'));
		size_t skip = 0;
		while (skip < value.len && (value.data[skip] == ' ' || value.data[skip] == '\t'))
			skip++;
		char *copy = arena_strndup(arena, value.data + skip, value.len - skip);
		buf_cleanup(&value);
		return copy;
	}
	return NULL;
}

static unsigned header_count(const uint8_t *data, size_t len, const char *name)
{
	size_t end = header_block(data, len);
	unsigned count = 0;
	for (size_t at = 0; at < end; at = next_line(data, end, at))
		count += header_is(data, end, at, name);
	return count;
}

static const char *wire_header(const struct prepared *p, const char *name)
{
	return header_value(p->arena, p->out.wire, p->out.wire_len, name);
}

/* The wire's header name is expected; on failure the wire is shown. */
static void check_wire_header(const struct prepared *p, const char *name, const char *expected)
{
	const char *value = wire_header(p, name);
	if (value == NULL || strcmp(value, expected) != 0)
		fail_msg("%s: \"%s\", expected \"%s\" in:\n%.*s", name, value != NULL ? value : "(none)", expected,
			 (int)p->out.wire_len, (const char *)p->out.wire);
}

/* Where needle first is in the wire, or -1. */
static long wire_find(const struct prepared *p, const char *needle)
{
	const uint8_t *at = memmem(p->out.wire, p->out.wire_len, needle, strlen(needle));
	return at != NULL ? (long)(at - p->out.wire) : -1;
}

static bool has_bare_lf(const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			return true;
	return false;
}

static void check_crlf_only(const char *what, const uint8_t *data, size_t len)
{
	if (has_bare_lf(data, len))
		fail_msg("%s has a bare LF:\n%.*s", what, (int)len, (const char *)data);
	if (memmem(data, len, "\r\r\n", 3) != NULL)
		fail_msg("%s has a doubled CR:\n%.*s", what, (int)len, (const char *)data);
}

/* Attachment index of the wire, decoded as a device would fetch it. */
static void check_wire_attachment(const struct prepared *p, unsigned index, const char *content)
{
	struct pim_source source;
	struct buf bytes;
	uint64_t total;
	const char *type;
	pim_source_memory(&source, p->out.wire, p->out.wire_len);
	buf_init(&bytes, 0);
	if (pim_email_attachment(p->arena, &source, index, 0, UINT64_MAX, &bytes, &total, &type) != 0)
		fail_msg("no attachment %u in:\n%.*s", index, (int)p->out.wire_len, (const char *)p->out.wire);
	assert_int_equal(bytes.len, strlen(content));
	assert_memory_equal(bytes.data, content, bytes.len);
	buf_cleanup(&bytes);
}

/* ---- From, Message-ID, Date ---- */

static void missing_from_becomes_the_users_address(void **unused)
{
	(void)unused;
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_NEW, NULL);
	struct prepared p;
	prepare(&p, "To: bob@example.org\r\nSubject: Hi\r\n\r\nHello\r\n", &options);
	check_wire_header(&p, "From", SENDER);
	assert_int_equal(header_count(p.out.wire, p.out.wire_len, "From"), 1);
	prepared_free(&p);
}

/* Only the address is the device's to choose wrongly: the name it shows stays. */
static void someone_elses_from_is_replaced_keeping_the_display_name(void **unused)
{
	(void)unused;
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_NEW, NULL);
	struct prepared p;
	prepare(&p, "From: Alice Liddell <alice@wonderland.example>\r\nTo: bob@example.org\r\n\r\nHello\r\n", &options);
	check_wire_header(&p, "From", "Alice Liddell <" SENDER ">");
	assert_int_equal(wire_find(&p, "wonderland"), -1);
	prepared_free(&p);
	/* Several mailboxes become the user alone, under the first name. */
	prepare(&p, "From: Bob <bob@example.org>, Carol <carol@example.org>\r\nTo: dave@example.org\r\n\r\nx\r\n",
		&options);
	check_wire_header(&p, "From", "Bob <" SENDER ">");
	assert_int_equal(wire_find(&p, "carol"), -1);
	prepared_free(&p);
}

/* The address compares without case; the header is then written back exactly as it came. */
static void from_already_the_user_is_left_unchanged(void **unused)
{
	(void)unused;
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_NEW, NULL);
	struct prepared p;
	prepare(&p, "From: \"Liddell, Alice\" <Alice@Example.ORG>\r\nTo: bob@example.org\r\n\r\nHello\r\n", &options);
	check_wire_header(&p, "From", "\"Liddell, Alice\" <Alice@Example.ORG>");
	prepared_free(&p);
}

/* A second From header, even one GMime cannot read, does not reach the relay beside the user's. */
static void second_from_header_is_not_kept(void **unused)
{
	(void)unused;
	static const char *const messages[] = {
		"From: alice@example.org\r\nTo: bob@example.org\r\nFrom: bob@\r\n\r\nHello\r\n",
		"From: alice@example.org\r\nTo: bob@example.org\r\nFrom: The Boss\r\n\r\nHello\r\n",
		"From: alice@example.org\r\nTo: carol@example.org\r\nFrom: Bob <bob@example.org>\r\n\r\nHello\r\n",
	};
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_NEW, NULL);
	for (size_t i = 0; i < COUNT(messages); i++) {
		struct prepared p;
		prepare(&p, messages[i], &options);
		check_wire_header(&p, "From", SENDER);
		assert_int_equal(header_count(p.out.wire, p.out.wire_len, "From"), 1);
		prepared_free(&p);
	}
}

static void message_id_and_date_are_added_when_missing(void **unused)
{
	(void)unused;
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_NEW, NULL);
	struct prepared p;
	prepare(&p, "To: bob@example.org\r\n\r\nHello\r\n", &options);
	const char *id = p.out.message_id;
	assert_non_null(id);
	size_t len = strlen(id);
	/* The Message-ID's domain is the user's (RFC 5322 3.6.4 wants it unique, the domain makes it so). */
	assert_true(len > strlen("@example.org"));
	assert_string_equal(id + len - strlen("@example.org"), "@example.org");
	char bracketed[256];
	snprintf(bracketed, sizeof(bracketed), "<%s>", id);
	check_wire_header(&p, "Message-ID", bracketed);
	check_wire_header(&p, "Date", NOW_DATE);
	assert_int_equal(p.out.date, NOW);
	prepared_free(&p);
}

static void message_id_and_date_of_the_device_are_kept(void **unused)
{
	(void)unused;
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_NEW, NULL);
	struct prepared p;
	prepare(&p, "To: bob@example.org\r\nMessage-ID: <dev.1@phone.example>\r\n"
		    "Date: Tue, 14 Nov 2023 22:13:20 +0100\r\n\r\nHello\r\n", &options);
	assert_string_equal(p.out.message_id, "dev.1@phone.example");
	check_wire_header(&p, "Message-ID", "<dev.1@phone.example>");
	assert_int_equal(header_count(p.out.wire, p.out.wire_len, "Message-ID"), 1);
	check_wire_header(&p, "Date", "Tue, 14 Nov 2023 22:13:20 +0100");
	assert_int_equal(p.out.date, NOW - 3600);
	prepared_free(&p);
}

/*
 * An empty Message-ID is none: kept, it would leave the message without
 * one and give every such message the same send key ("m:"), so that the
 * second within a day would be taken for a retry of the first and not sent.
 */
static void empty_message_id_is_replaced(void **unused)
{
	(void)unused;
	static const char *const messages[] = {
		"To: bob@example.org\r\nMessage-ID: \r\n\r\nHello\r\n",
		"To: bob@example.org\r\nMessage-ID: <>\r\n\r\nHello\r\n",
		"To: bob@example.org\r\nMessage-ID:   \t\r\n\r\nHello\r\n",
	};
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_NEW, NULL);
	for (size_t i = 0; i < COUNT(messages); i++) {
		struct prepared p;
		char bracketed[256];
		prepare(&p, messages[i], &options);
		if (p.out.message_id == NULL || strchr(p.out.message_id, '@') == NULL)
			fail_msg("message %zu: Message-ID \"%s\"", i, p.out.message_id);
		snprintf(bracketed, sizeof(bracketed), "<%s>", p.out.message_id);
		check_wire_header(&p, "Message-ID", bracketed);
		assert_int_equal(header_count(p.out.wire, p.out.wire_len, "Message-ID"), 1);
		prepared_free(&p);
	}
}

/*
 * A message that ends inside its headers (no line end after the last)
 * still gets From, Message-ID and Date as headers of their own, not
 * glued to its last header ("Subject: HiFrom: ...").
 */
static void message_ending_inside_its_headers_gets_its_own_from(void **unused)
{
	(void)unused;
	static const char *const messages[] = {
		"To: bob@example.org",
		"To: bob@example.org\r\nSubject: Hi",
		"Subject: Hi\nTo: bob@example.org\nCc:",
	};
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_NEW, NULL);
	for (size_t i = 0; i < COUNT(messages); i++) {
		struct prepared p;
		prepare(&p, messages[i], &options);
		check_wire_header(&p, "From", SENDER);
		check_wire_header(&p, "To", "bob@example.org");
		assert_non_null(wire_header(&p, "Message-ID"));
		check_wire_header(&p, "Date", NOW_DATE);
		if (i > 0)
			check_wire_header(&p, "Subject", "Hi");
		check_crlf_only("wire", p.out.wire, p.out.wire_len);
		prepared_free(&p);
	}
}

/*
 * A NUL ends GMime's copy of a header, line end and all: whether the
 * header is the message's (Subject) or its root part's (Content-Type),
 * the body still follows a blank line, and a body line is no header.
 */
static void nul_in_a_header_keeps_the_body_out_of_the_headers(void **unused)
{
	(void)unused;
	static const char cut_subject[] = "To: bob@example.org\r\nSubject: Hi\0junk\r\n\r\n"
					  "Bcc: body@example.net\r\nText\r\n";
	static const char cut_type[] = "To: bob@example.org\r\nSubject: Hi\r\nContent-Type: text/plain\0junk\r\n\r\n"
				       "Bcc: body@example.net\r\nText\r\n";
	static const struct { const char *bytes; size_t len; } inputs[] = {
		{ cut_subject, sizeof(cut_subject) - 1 },
		{ cut_type, sizeof(cut_type) - 1 },
	};
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_NEW, NULL);
	for (size_t i = 0; i < COUNT(inputs); i++) {
		struct prepared p;
		prepare_bytes(&p, inputs[i].bytes, inputs[i].len, &options);
		assert_int_equal(p.status, 0);
		check_wire_header(&p, "From", SENDER);
		check_wire_header(&p, "Subject", "Hi");
		assert_int_equal(header_count(p.out.wire, p.out.wire_len, "Bcc"), 0);
		assert_true(wire_find(&p, "\r\n\r\nBcc: body@example.net\r\nText\r\n") > 0);
		assert_int_equal(p.out.recipient_count, 1);
		prepared_free(&p);
	}
}

/* ---- envelope recipients ---- */

struct recipient_case {
	const char *name;
	const char *headers;             /* the message's, before its blank line */
	enum pim_outgoing_kind kind;
	bool is_reply;
	const char *forwardees[3];
	const char *recipients[5];       /* expected, in order, NULL-terminated */
	size_t invalid;
};

static const struct recipient_case recipient_cases[] = {
	{ "to_cc_and_bcc_are_all_recipients",
	  "To: Bob <bob@example.org>\r\nCc: carol@example.org\r\nBcc: dave@example.org\r\n", PIM_OUTGOING_NEW, false,
	  { NULL }, { "bob@example.org", "carol@example.org", "dave@example.org" }, 0 },
	{ "group_members_are_recipients",
	  "To: Team: bob@example.org, Carol <carol@example.org>;, dave@example.org\r\n", PIM_OUTGOING_NEW, false,
	  { NULL }, { "bob@example.org", "carol@example.org", "dave@example.org" }, 0 },
	{ "an_empty_group_is_no_recipient_and_not_invalid",
	  "To: undisclosed-recipients:;\r\nBcc: bob@example.org\r\n", PIM_OUTGOING_NEW, false,
	  { NULL }, { "bob@example.org" }, 0 },
	{ "duplicates_are_listed_once_whatever_their_case",
	  "To: bob@example.org, Bob <BOB@Example.org>\r\nCc: bob@EXAMPLE.ORG, carol@example.org\r\n"
	  "Bcc: Carol@example.org\r\n", PIM_OUTGOING_NEW, false,
	  { NULL }, { "bob@example.org", "carol@example.org" }, 0 },
	{ "unparsable_to_counts_as_invalid",
	  "To: not an address\r\n", PIM_OUTGOING_NEW, false, { NULL }, { NULL }, 1 },
	{ "an_unreadable_entry_among_good_ones_is_invalid",
	  "To: bob@example.org, not an address\r\n", PIM_OUTGOING_NEW, false, { NULL }, { "bob@example.org" }, 1 },
	{ "address_without_domain_is_invalid",
	  "To: bob@example.org, nobody\r\n", PIM_OUTGOING_NEW, false, { NULL }, { "bob@example.org" }, 1 },
	{ "empty_cc_is_not_an_invalid_recipient",
	  "To: bob@example.org\r\nCc: \r\n", PIM_OUTGOING_NEW, false, { NULL }, { "bob@example.org" }, 0 },
	{ "address_of_254_bytes_is_valid",
	  "To: " ADDRESS_254 "\r\n", PIM_OUTGOING_NEW, false, { NULL }, { ADDRESS_254 }, 0 },
	{ "address_of_255_bytes_is_invalid",
	  "To: bob@example.org\r\nCc: " ADDRESS_255 "\r\n", PIM_OUTGOING_NEW, false,
	  { NULL }, { "bob@example.org" }, 1 },
	{ "new_message_may_go_to_its_sender",
	  "To: bob@example.org\r\nCc: alice@example.org\r\n", PIM_OUTGOING_NEW, false,
	  { NULL }, { "bob@example.org", SENDER }, 0 },
	{ "smart_reply_drops_the_sender",
	  "To: bob@example.org\r\nCc: Alice <ALICE@example.org>, carol@example.org\r\n", PIM_OUTGOING_REPLY, false,
	  { NULL }, { "bob@example.org", "carol@example.org" }, 0 },
	{ "smart_reply_to_oneself_keeps_the_sender",
	  "To: alice@example.org\r\n", PIM_OUTGOING_REPLY, false, { NULL }, { SENDER }, 0 },
	{ "in_reply_to_makes_a_new_message_a_reply",
	  "In-Reply-To: <x@example.net>\r\nTo: bob@example.org, alice@example.org\r\n", PIM_OUTGOING_NEW, false,
	  { NULL }, { "bob@example.org" }, 0 },
	{ "in_reply_to_oneself_keeps_the_sender",
	  "In-Reply-To: <x@example.net>\r\nTo: Alice@Example.org\r\n", PIM_OUTGOING_NEW, false,
	  { NULL }, { "Alice@Example.org" }, 0 },
	{ "is_reply_drops_the_sender",
	  "To: alice@example.org\r\nCc: bob@example.org\r\n", PIM_OUTGOING_NEW, true,
	  { NULL }, { "bob@example.org" }, 0 },
	{ "is_reply_to_oneself_keeps_the_sender",
	  "To: alice@example.org\r\nBcc: alice@example.org\r\n", PIM_OUTGOING_NEW, true, { NULL }, { SENDER }, 0 },
	{ "forwardees_are_recipients_once",
	  "To: bob@example.org\r\n", PIM_OUTGOING_FORWARD, false,
	  { "fwd@example.net", "BOB@example.org" }, { "bob@example.org", "fwd@example.net" }, 0 },
	{ "invalid_forwardee_counts_as_invalid",
	  "To: bob@example.org\r\n", PIM_OUTGOING_FORWARD, false,
	  { "not a forwardee" }, { "bob@example.org" }, 1 },
};

static void recipient_case_run(void **state)
{
	const struct recipient_case *c = *state;
	struct pim_outgoing_options options = options_of(c->kind, NULL);
	size_t forwardees = 0;
	while (forwardees < COUNT(c->forwardees) && c->forwardees[forwardees] != NULL)
		forwardees++;
	options.is_reply = c->is_reply;
	options.forwardees = c->forwardees;
	options.forwardee_count = forwardees;
	char mime[1024];
	snprintf(mime, sizeof(mime), "%s\r\nHello\r\n", c->headers);
	struct prepared p;
	prepare(&p, mime, &options);
	size_t expected = 0;
	while (expected < COUNT(c->recipients) && c->recipients[expected] != NULL)
		expected++;
	if (p.out.recipient_count != expected)
		fail_msg("%s: %zu recipients, expected %zu", c->name, p.out.recipient_count, expected);
	for (size_t i = 0; i < expected; i++)
		assert_string_equal(p.out.recipients[i], c->recipients[i]);
	assert_int_equal(p.out.invalid_recipients, c->invalid);
	prepared_free(&p);
}

/* A forwardee is written into To as well, so that the recipients see who got the message. */
static void forwardees_are_added_to_the_to_header(void **unused)
{
	(void)unused;
	static const char *const forwardees[] = { "fwd@example.net", "other@example.net" };
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_FORWARD, ORIGINAL_PLAIN);
	options.forwardees = forwardees;
	options.forwardee_count = COUNT(forwardees);
	struct prepared p;
	prepare(&p, "To: bob@example.org\r\n\r\nSee below.\r\n", &options);
	check_wire_header(&p, "To", "bob@example.org, fwd@example.net, other@example.net");
	assert_int_equal(p.out.recipient_count, 3);
	prepared_free(&p);
}

/* ---- Bcc and line endings ---- */

static void bcc_is_in_the_copy_but_not_on_the_wire(void **unused)
{
	(void)unused;
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_NEW, NULL);
	struct prepared p;
	prepare(&p, "To: bob@example.org\r\nBcc: Hidden <hidden@example.net>\r\nSubject: Hi\r\n\r\nHello\r\n", &options);
	assert_int_equal(header_count(p.out.wire, p.out.wire_len, "Bcc"), 0);
	assert_int_equal(wire_find(&p, "hidden@example.net"), -1);
	assert_string_equal(header_value(p.arena, p.out.copy, p.out.copy_len, "Bcc"), "Hidden <hidden@example.net>");
	assert_int_equal(p.out.recipient_count, 2);
	assert_string_equal(p.out.recipients[1], "hidden@example.net");
	/* The copy is the wire and its Bcc, nothing else. */
	assert_int_equal(p.out.copy_len, p.out.wire_len + strlen("Bcc: Hidden <hidden@example.net>\r\n"));
	prepared_free(&p);
}

/*
 * RFC 5322 allows one Bcc, but a device may write two, and GMime removes
 * one header at a time: a second Bcc left on the wire would show the
 * hidden recipients to everyone.
 */
static void every_bcc_header_is_kept_off_the_wire(void **unused)
{
	(void)unused;
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_NEW, NULL);
	struct prepared p;
	prepare(&p, "To: bob@example.org\r\nBcc : one@example.net\r\nSubject: Hi\r\nbcc:\r\n two@example.net\r\n"
		    "BCC: three@example.net\r\n\r\nHello\r\n", &options);
	assert_int_equal(header_count(p.out.wire, p.out.wire_len, "Bcc"), 0);
	assert_int_equal(wire_find(&p, "@example.net"), -1);
	assert_int_equal(header_count(p.out.copy, p.out.copy_len, "Bcc"), 3);
	assert_int_equal(p.out.recipient_count, 4);
	prepared_free(&p);
}

/* SMTP wants CRLF (RFC 5321 2.3.8): bare LF from the device and from the stored original alike. */
static void wire_lines_end_in_crlf_even_from_bare_lf(void **unused)
{
	(void)unused;
	static const char *const messages[] = {
		"To: bob@example.org\nSubject: Bare\n\nLine one\nLine two\n",
		"To: bob@example.org\r\nSubject: Mixed\r\n\r\nLine one\nLine two\r\n",
		"To: bob@example.org\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\n"
		"Text\n--q\nContent-Type: application/octet-stream; name=a.bin\nContent-Transfer-Encoding: base64\n\n"
		"AAEC\nAwQF\n--q--\n",
	};
	static const enum pim_outgoing_kind kinds[] = { PIM_OUTGOING_NEW, PIM_OUTGOING_REPLY, PIM_OUTGOING_FORWARD };
	for (size_t i = 0; i < COUNT(messages); i++) {
		for (size_t k = 0; k < COUNT(kinds); k++) {
			struct pim_outgoing_options options = options_of(kinds[k], ORIGINAL_WITH_PDF);
			struct prepared p;
			prepare(&p, messages[i], &options);
			check_crlf_only("wire", p.out.wire, p.out.wire_len);
			check_crlf_only("copy", p.out.copy, p.out.copy_len);
			prepared_free(&p);
		}
	}
}

/* ---- SmartReply ---- */

/* RFC 5322 3.6.4: In-Reply-To names the original, References carries on its chain. */
static void smart_reply_threads_under_the_original(void **unused)
{
	(void)unused;
	static const struct { const char *original, *references; } cases[] = {
		{ ORIGINAL_PLAIN, "<a@example.net> <b@example.net> <" ORIGINAL_ID ">" },
		{ "Message-ID: <" ORIGINAL_ID ">\nContent-Type: text/plain\n\nLine one\n", "<" ORIGINAL_ID ">" },
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		struct pim_outgoing_options options = options_of(PIM_OUTGOING_REPLY, cases[i].original);
		struct prepared p;
		prepare(&p, "To: bob@example.org\r\nSubject: Re: Plans\r\n\r\nSounds good.\r\n", &options);
		check_wire_header(&p, "In-Reply-To", "<" ORIGINAL_ID ">");
		check_wire_header(&p, "References", cases[i].references);
		prepared_free(&p);
	}
}

/* A device that threaded its reply itself knows better than the stored original. */
static void in_reply_to_of_the_device_is_kept(void **unused)
{
	(void)unused;
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_REPLY, ORIGINAL_PLAIN);
	struct prepared p;
	prepare(&p, "To: bob@example.org\r\nIn-Reply-To: <mine@phone.example>\r\nReferences: <mine@phone.example>\r\n"
		    "\r\nSounds good.\r\n", &options);
	check_wire_header(&p, "In-Reply-To", "<mine@phone.example>");
	check_wire_header(&p, "References", "<mine@phone.example>");
	assert_int_equal(header_count(p.out.wire, p.out.wire_len, "In-Reply-To"), 1);
	prepared_free(&p);
}

/* The original's lines follow the device's text, each after "> " (RFC 3676 4.5). */
static void smart_reply_quotes_the_original_text(void **unused)
{
	(void)unused;
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_REPLY, ORIGINAL_PLAIN);
	struct prepared p;
	prepare(&p, "To: bob@example.org\r\nSubject: Re: Plans\r\n\r\nSounds good.\r\n", &options);
	long mine = wire_find(&p, "Sounds good.\r\n");
	long quoted = wire_find(&p, "\r\n> Line one\r\n> Line two\r\n");
	assert_true(mine > 0);
	assert_true(quoted > mine);
	assert_int_equal(wire_find(&p, "\nLine one"), -1);
	prepared_free(&p);
}

/*
 * With an HTML part the original's HTML goes inside it, in a blockquote
 * before the device's </body>; the plain part quotes the original's text.
 */
static void smart_reply_puts_the_original_html_in_a_blockquote(void **unused)
{
	(void)unused;
	static const char original[] = "Message-ID: <" ORIGINAL_ID ">\nContent-Type: text/html\n\n"
				       "<p>Original <b>words</b></p>\n";
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_REPLY, original);
	struct prepared p;
	prepare(&p, "To: bob@example.org\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
		    "--b\r\nContent-Type: text/plain\r\n\r\nYes.\r\n"
		    "--b\r\nContent-Type: text/html\r\n\r\n<html><body><p>Yes.</p></body></html>\r\n--b--\r\n", &options);
	long open = wire_find(&p, "<p>Yes.</p><blockquote type=\"cite\">");
	long words = wire_find(&p, "<p>Original <b>words</b></p>");
	long close = wire_find(&p, "</blockquote></body></html>");
	if (open < 0 || words < open || close < words)
		fail_msg("no blockquote around the original:\n%.*s", (int)p.out.wire_len, (const char *)p.out.wire);
	assert_true(wire_find(&p, "> Original words") > 0);
	prepared_free(&p);
}

static void smart_reply_attaches_nothing_of_the_original(void **unused)
{
	(void)unused;
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_REPLY, ORIGINAL_WITH_PDF);
	struct prepared p;
	prepare(&p, "To: bob@example.org\r\n\r\nThanks.\r\n", &options);
	assert_int_equal(wire_find(&p, "report.pdf"), -1);
	assert_true(wire_find(&p, "> Original text\r\n") > 0);
	prepared_free(&p);
}

/* ---- SmartForward ---- */

/* A one-part message becomes multipart/mixed: its text (with the original's, unquoted), then the attachment. */
static void smart_forward_adds_the_original_text_and_attachment(void **unused)
{
	(void)unused;
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_FORWARD, ORIGINAL_WITH_PDF);
	struct prepared p;
	prepare(&p, "To: carol@example.org\r\nSubject: Fwd: Report\r\n\r\nSee below.\r\n", &options);
	const char *type = wire_header(&p, "Content-Type");
	assert_non_null(type);
	assert_true(strncmp(type, "multipart/mixed;", 16) == 0);
	long mine = wire_find(&p, "See below.\r\n");
	long theirs = wire_find(&p, "\r\nOriginal text\r\n");
	assert_true(mine > 0);
	assert_true(theirs > mine);
	assert_int_equal(wire_find(&p, "> Original"), -1);
	check_wire_attachment(&p, 0, PDF_CONTENT);
	assert_null(wire_header(&p, "In-Reply-To"));
	prepared_free(&p);
}

/* The device's own attachments come first, the original's after, in the same multipart/mixed. */
static void smart_forward_into_a_mixed_message_keeps_both_attachments(void **unused)
{
	(void)unused;
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_FORWARD, ORIGINAL_WITH_PDF);
	struct prepared p;
	prepare(&p, "To: carol@example.org\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
		    "--q\r\nContent-Type: text/plain\r\n\r\nMine\r\n"
		    "--q\r\nContent-Type: image/png; name=a.png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
		    "iVBORw0KGgo=\r\n--q--\r\n", &options);
	check_wire_attachment(&p, 0, "\x89PNG\r\n\x1a\n");
	check_wire_attachment(&p, 1, PDF_CONTENT);
	assert_true(wire_find(&p, "multipart/mixed") > 0);
	assert_int_equal(wire_find(&p, "boundary=m"), -1);
	prepared_free(&p);
}

/* A stored original that is gone (NULL) or empty leaves the device's message as it is. */
static void missing_original_adds_nothing(void **unused)
{
	(void)unused;
	static const enum pim_outgoing_kind kinds[] = { PIM_OUTGOING_REPLY, PIM_OUTGOING_FORWARD };
	for (size_t k = 0; k < COUNT(kinds); k++) {
		for (int empty = 0; empty <= 1; empty++) {
			struct pim_outgoing_options options = options_of(kinds[k], empty ? "" : NULL);
			struct prepared p;
			prepare(&p, "To: bob@example.org\r\n\r\nOnly mine.\r\n", &options);
			assert_null(wire_header(&p, "In-Reply-To"));
			assert_int_equal(wire_find(&p, "multipart"), -1);
			assert_true(wire_find(&p, "\r\n\r\nOnly mine.\r\n") > 0);
			prepared_free(&p);
		}
	}
}

/* ---- what is no message ---- */

static void empty_input_is_refused(void **unused)
{
	(void)unused;
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_NEW, NULL);
	struct prepared p;
	prepare_bytes(&p, "", 0, &options);
	assert_int_equal(p.status, -1);
	assert_null(p.out.wire);
	assert_int_equal(p.out.recipient_count, 0);
	prepared_free(&p);
}

/*
 * Bytes GMime cannot read as headers become the text of a message with
 * easd's headers only: no crash, no recipient, and the bytes are kept.
 */
static void bytes_without_headers_make_a_message_without_recipients(void **unused)
{
	(void)unused;
	static const struct { const char *bytes; size_t len; } inputs[] = {
		{ "\x01\x02\xff binary\n\0more\n", 18 },
		{ "\n\n\n", 3 },
		{ ":", 1 },
		{ "Content-Type: multipart/mixed; boundary=x\n\n--x\n--x--", 52 },
	};
	static const enum pim_outgoing_kind kinds[] = { PIM_OUTGOING_NEW, PIM_OUTGOING_REPLY, PIM_OUTGOING_FORWARD };
	for (size_t i = 0; i < COUNT(inputs); i++) {
		for (size_t k = 0; k < COUNT(kinds); k++) {
			struct pim_outgoing_options options = options_of(kinds[k], ORIGINAL_WITH_PDF);
			struct prepared p;
			prepare_bytes(&p, inputs[i].bytes, inputs[i].len, &options);
			assert_int_equal(p.status, 0);
			assert_int_equal(p.out.recipient_count, 0);
			check_wire_header(&p, "From", SENDER);
			check_crlf_only("wire", p.out.wire, p.out.wire_len);
			prepared_free(&p);
		}
	}
	struct pim_outgoing_options options = options_of(PIM_OUTGOING_NEW, NULL);
	struct prepared p;
	prepare_bytes(&p, inputs[0].bytes, inputs[0].len, &options);
	assert_true(wire_find(&p, "binary\r\n") > 0);
	prepared_free(&p);
}

/* ---- the runner ---- */

#define CASE(function) cmocka_unit_test(function)

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		CASE(missing_from_becomes_the_users_address),
		CASE(someone_elses_from_is_replaced_keeping_the_display_name),
		CASE(from_already_the_user_is_left_unchanged),
		CASE(second_from_header_is_not_kept),
		CASE(message_id_and_date_are_added_when_missing),
		CASE(message_id_and_date_of_the_device_are_kept),
		CASE(empty_message_id_is_replaced),
		CASE(message_ending_inside_its_headers_gets_its_own_from),
		CASE(nul_in_a_header_keeps_the_body_out_of_the_headers),
		CASE(forwardees_are_added_to_the_to_header),
		CASE(bcc_is_in_the_copy_but_not_on_the_wire),
		CASE(every_bcc_header_is_kept_off_the_wire),
		CASE(wire_lines_end_in_crlf_even_from_bare_lf),
		CASE(smart_reply_threads_under_the_original),
		CASE(in_reply_to_of_the_device_is_kept),
		CASE(smart_reply_quotes_the_original_text),
		CASE(smart_reply_puts_the_original_html_in_a_blockquote),
		CASE(smart_reply_attaches_nothing_of_the_original),
		CASE(smart_forward_adds_the_original_text_and_attachment),
		CASE(smart_forward_into_a_mixed_message_keeps_both_attachments),
		CASE(missing_original_adds_nothing),
		CASE(empty_input_is_refused),
		CASE(bytes_without_headers_make_a_message_without_recipients),
	};
	size_t count = COUNT(fixed) + COUNT(recipient_cases);
	struct CMUnitTest *tests = calloc(count, sizeof(*tests));
	size_t n = COUNT(fixed);
	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < COUNT(recipient_cases); i++)
		tests[n++] = (struct CMUnitTest){ recipient_cases[i].name, recipient_case_run, NULL, NULL,
						   (void *)&recipient_cases[i] };
	int failed = _cmocka_run_group_tests("outgoing", tests, count, NULL, NULL);
	free(tests);
	return failed;
}
