/*
 * test_lmtp.c: the LMTP session (lmtp_session.c) without sockets or store:
 * a fake recipient lookup (alice, bob, carol exist in example.org) and a
 * fake delivery that records each copy. Whole dialogues are fed in one
 * write, as a pipelining MTA sends them, and compared reply for reply;
 * every limit is tried at its value and one past it; the same dialogue fed
 * byte by byte must give the same replies and the same stored messages.
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

#include "mail/lmtp_private.h"
#include "store/store.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))
#define MAX_MESSAGE 1000
#define MAX_DELIVERIES (LIMIT_LMTP_RECIPIENTS + 1)
#define FIXED_NOW 1700000000 /* Tue, 14 Nov 2023 22:13:20 +0000 */

/* ---- the dialogue's pieces ---- */

#define LHLO "LHLO mta.example.net\r\n"
#define LHLO_REPLY "250-mx.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n" \
	"250 SIZE 1000\r\n"
#define MAIL "MAIL FROM:<sender@example.net>\r\n"
#define MAIL_OK "250 2.1.0 sender ok\r\n"
#define RCPT(a) "RCPT TO:<" a ">\r\n"
#define RCPT_OK(a) "250 2.1.5 <" a "> recipient ok\r\n"
#define NO_USER(a) "550 5.1.1 <" a "> no such user\r\n"
#define DATA "DATA\r\n"
#define DATA_GO "354 send the message, end with <CRLF>.<CRLF>\r\n"
#define DELIVERED(a) "250 2.0.0 <" a "> delivered\r\n"
#define TOO_BIG(a) "552 5.3.4 <" a "> message too big\r\n"
#define OK "250 2.0.0 ok\r\n"
#define BYE "221 2.0.0 mx.test closing connection\r\n"
#define OUT_OF_SEQUENCE "503 5.5.1 "
#define UNKNOWN "500 5.5.1 unknown command\r\n"
#define TOO_LONG "500 5.5.2 line too long\r\n"
#define HEADERS "Return-Path: <sender@example.net>\r\n" \
	"Received: from mta.example.net by easd with LMTP; Tue, 14 Nov 2023 22:13:20 +0000\r\n"

/* ---- fakes ---- */

struct fake {
	const char *failing_user; /* deliver gives STORE_ERROR for this user */
	int lookup_status;        /* non-zero: every lookup gives it */
	size_t count;
	char *user[MAX_DELIVERIES];
	char *message[MAX_DELIVERIES];
	size_t len[MAX_DELIVERIES];
	int64_t received[MAX_DELIVERIES];
	size_t log_lines;
	char last_log[256];
};

static int fake_find(void *context, const char *user)
{
	static const char *const users[] = { "alice", "bob", "carol" };
	struct fake *fake = context;
	if (fake->lookup_status != 0)
		return fake->lookup_status;
	for (size_t i = 0; i < COUNT(users); i++)
		if (strcasecmp(users[i], user) == 0)
			return STORE_OK;
	return STORE_NOT_FOUND;
}

static int fake_deliver(void *context, const char *user, const void *message, size_t len, int64_t now)
{
	struct fake *fake = context;
	if (fake->failing_user != NULL && strcmp(fake->failing_user, user) == 0)
		return STORE_ERROR;
	assert_true(fake->count < MAX_DELIVERIES);
	fake->user[fake->count] = strdup(user);
	fake->message[fake->count] = malloc(len + 1);
	memcpy(fake->message[fake->count], message, len);
	fake->message[fake->count][len] = '\0';
	fake->len[fake->count] = len;
	fake->received[fake->count] = now;
	fake->count++;
	return STORE_OK;
}

static void fake_log(void *context, const char *line)
{
	struct fake *fake = context;
	fake->log_lines++;
	snprintf(fake->last_log, sizeof(fake->last_log), "%s", line);
}

static int64_t fake_clock(void *context)
{
	(void)context;
	return FIXED_NOW;
}

/* ---- harness: a config, a session, the replies so far ---- */

/* A dialogue of the table: input, the exact replies, what is stored. */
struct dialogue {
	const char *name;
	const char *input;
	const char *replies;
	size_t deliveries;
	const char *stored;        /* every stored copy; NULL: not checked */
	const char *failing_user;
	int lookup_status;
	bool closes;
};

struct harness {
	const struct dialogue *dialogue;
	struct easd_config config;
	char *domains[2];
	struct fake fake;
	struct lmtp_session session;
	struct buf replies;
	char greeting[128];
};

static int setup(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	h->dialogue = *state;
	h->domains[0] = "example.org";
	h->config.local_domains = h->domains;
	h->config.max_message_size = MAX_MESSAGE;
	h->config.recipient_delimiter = "+";
	if (h->dialogue != NULL) {
		h->fake.failing_user = h->dialogue->failing_user;
		h->fake.lookup_status = h->dialogue->lookup_status;
	}
	struct lmtp_session_settings settings = {
		.config = &h->config, .host_name = "mx.test", .find_recipient = fake_find,
		.deliver = fake_deliver, .log = fake_log, .clock = fake_clock, .context = &h->fake,
	};
	lmtp_session_init(&h->session, &settings);
	snprintf(h->greeting, sizeof(h->greeting), "%.*s", (int)h->session.reply.len,
		 (const char *)h->session.reply.data);
	h->session.reply.len = 0;
	buf_init(&h->replies, 0);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct harness *h = *state;
	lmtp_session_cleanup(&h->session);
	buf_cleanup(&h->replies);
	for (size_t i = 0; i < h->fake.count; i++) {
		free(h->fake.user[i]);
		free(h->fake.message[i]);
	}
	free(h);
	return 0;
}

/* Feeds input in pieces of chunk bytes, as the listener does, collecting replies. */
static void feed_chunked(struct harness *h, const void *input, size_t len, size_t chunk)
{
	const uint8_t *p = input;
	while (len > 0 && !h->session.closed) {
		size_t n = len < chunk ? len : chunk;
		size_t used = lmtp_session_feed(&h->session, p, n);
		assert_true(used > 0 || h->session.reply.len >= LMTP_REPLY_FLUSH || h->session.closed);
		assert_true(h->session.reply.len <= LMTP_REPLY_MAX);
		buf_append(&h->replies, h->session.reply.data, h->session.reply.len);
		h->session.reply.len = 0;
		p += used;
		len -= used;
	}
}

static void feed(struct harness *h, const char *input)
{
	feed_chunked(h, input, strlen(input), SIZE_MAX);
}

/* The replies so far equal expected; then forgets them. */
static void expect_replies(struct harness *h, const char *expected)
{
	size_t len = strlen(expected);
	if (h->replies.len != len || memcmp(h->replies.data, expected, len) != 0)
		fail_msg("replies:\n%.*s\nwant:\n%s", (int)h->replies.len, (const char *)h->replies.data,
			 expected);
	h->replies.len = 0;
}

static void expect_dialogue(struct harness *h, const char *input, const char *expected)
{
	feed(h, input);
	expect_replies(h, expected);
}

/* ---- the table ---- */

static const struct dialogue dialogues[] = {
	{ .name = "two_recipients_each_get_250_after_their_delivery",
	  .input = LHLO MAIL RCPT("alice@example.org") RCPT("bob@example.org") DATA
		   "Subject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n",
	  .replies = LHLO_REPLY MAIL_OK RCPT_OK("alice@example.org") RCPT_OK("bob@example.org") DATA_GO
		     DELIVERED("alice@example.org") DELIVERED("bob@example.org") BYE,
	  .deliveries = 2, .stored = HEADERS "Subject: hi\r\n\r\nhello\r\n", .closes = true },
	{ .name = "unknown_recipient_gets_550_and_the_others_are_delivered",
	  .input = LHLO MAIL RCPT("alice@example.org") RCPT("nobody@example.org")
		   RCPT("bob@other.example") RCPT("carol@EXAMPLE.ORG") DATA "x\r\n.\r\n",
	  .replies = LHLO_REPLY MAIL_OK RCPT_OK("alice@example.org") NO_USER("nobody@example.org")
		     "550 5.1.1 <bob@other.example> not a local domain\r\n" RCPT_OK("carol@EXAMPLE.ORG")
		     DATA_GO DELIVERED("alice@example.org") DELIVERED("carol@EXAMPLE.ORG"),
	  .deliveries = 2, .stored = HEADERS "x\r\n" },
	{ .name = "a_plus_tag_is_delivered_to_its_user",
	  .input = LHLO MAIL RCPT("alice+lists@example.org") RCPT("nobody+x@example.org") RCPT("+x@example.org")
		   DATA "x\r\n.\r\n",
	  .replies = LHLO_REPLY MAIL_OK RCPT_OK("alice+lists@example.org") NO_USER("nobody+x@example.org")
		     NO_USER("+x@example.org") DATA_GO DELIVERED("alice+lists@example.org"),
	  .deliveries = 1, .stored = HEADERS "x\r\n" },
	{ .name = "leading_dots_are_unstuffed",
	  .input = LHLO MAIL RCPT("alice@example.org") DATA
		   "..hidden\r\n...\r\n.. \r\nmid.dot\r\n. x\r\n.\r\n",
	  .replies = LHLO_REPLY MAIL_OK RCPT_OK("alice@example.org") DATA_GO DELIVERED("alice@example.org"),
	  .deliveries = 1, .stored = HEADERS ".hidden\r\n..\r\n. \r\nmid.dot\r\n x\r\n" },
	{ .name = "bare_lf_lines_are_accepted_and_stored_with_crlf",
	  .input = "LHLO mta.example.net\nMAIL FROM:<sender@example.net>\nRCPT TO:<alice@example.org>\n"
		   "DATA\nSubject: lf\n\n..body\r\nmixed\n.\nNOOP\n",
	  .replies = LHLO_REPLY MAIL_OK RCPT_OK("alice@example.org") DATA_GO DELIVERED("alice@example.org") OK,
	  .deliveries = 1, .stored = HEADERS "Subject: lf\r\n\r\n.body\r\nmixed\r\n" },
	{ .name = "null_sender_is_accepted_and_kept_in_return_path",
	  .input = LHLO "MAIL FROM:<>\r\n" RCPT("alice@example.org") DATA "bounce\r\n.\r\n",
	  .replies = LHLO_REPLY MAIL_OK RCPT_OK("alice@example.org") DATA_GO DELIVERED("alice@example.org"),
	  .deliveries = 1,
	  .stored = "Return-Path: <>\r\nReceived: from mta.example.net by easd with LMTP; "
		    "Tue, 14 Nov 2023 22:13:20 +0000\r\nbounce\r\n" },
	{ .name = "mail_size_at_the_limit_250_one_past_552",
	  .input = LHLO "MAIL FROM:<a@b> SIZE=1000 BODY=8BITMIME\r\nRSET\r\n"
		   "MAIL FROM:<a@b> SIZE=1001\r\n" RCPT("alice@example.org")
		   "MAIL FROM:<a@b> SIZE=99999999999999999999\r\nMAIL FROM:<a@b> SIZE=\r\n",
	  .replies = LHLO_REPLY MAIL_OK OK "552 5.3.4 message size exceeds fixed maximum message size\r\n"
		     OUT_OF_SEQUENCE "need MAIL before RCPT\r\n" "501 5.5.4 bad SIZE value\r\n"
		     "555 5.5.4 unsupported MAIL parameter\r\n" },
	{ .name = "commands_out_of_sequence_get_503",
	  .input = MAIL RCPT("alice@example.org") DATA LHLO RCPT("alice@example.org") DATA MAIL DATA MAIL,
	  .replies = OUT_OF_SEQUENCE "send LHLO first\r\n" OUT_OF_SEQUENCE "need MAIL before RCPT\r\n"
		     OUT_OF_SEQUENCE "need MAIL and a valid RCPT before DATA\r\n" LHLO_REPLY
		     OUT_OF_SEQUENCE "need MAIL before RCPT\r\n"
		     OUT_OF_SEQUENCE "need MAIL and a valid RCPT before DATA\r\n" MAIL_OK
		     OUT_OF_SEQUENCE "need MAIL and a valid RCPT before DATA\r\n"
		     OUT_OF_SEQUENCE "nested MAIL command\r\n" },
	{ .name = "data_with_only_rejected_recipients_gets_503",
	  .input = LHLO MAIL RCPT("nobody@example.org") DATA "NOOP\r\n",
	  .replies = LHLO_REPLY MAIL_OK NO_USER("nobody@example.org")
		     OUT_OF_SEQUENCE "need MAIL and a valid RCPT before DATA\r\n" OK },
	{ .name = "rset_forgets_sender_and_recipients",
	  .input = LHLO MAIL RCPT("alice@example.org") "RSET\r\n" DATA RCPT("alice@example.org")
		   MAIL RCPT("bob@example.org") DATA "after rset\r\n.\r\n",
	  .replies = LHLO_REPLY MAIL_OK RCPT_OK("alice@example.org") OK
		     OUT_OF_SEQUENCE "need MAIL and a valid RCPT before DATA\r\n"
		     OUT_OF_SEQUENCE "need MAIL before RCPT\r\n" MAIL_OK RCPT_OK("bob@example.org") DATA_GO
		     DELIVERED("bob@example.org"),
	  .deliveries = 1, .stored = HEADERS "after rset\r\n" },
	{ .name = "lhlo_again_resets_the_transaction",
	  .input = LHLO MAIL LHLO RCPT("alice@example.org"),
	  .replies = LHLO_REPLY MAIL_OK LHLO_REPLY OUT_OF_SEQUENCE "need MAIL before RCPT\r\n" },
	{ .name = "store_failure_gives_451_for_that_recipient_only",
	  .input = LHLO MAIL RCPT("alice@example.org") RCPT("bob@example.org") RCPT("carol@example.org")
		   DATA "x\r\n.\r\n",
	  .replies = LHLO_REPLY MAIL_OK RCPT_OK("alice@example.org") RCPT_OK("bob@example.org")
		     RCPT_OK("carol@example.org") DATA_GO DELIVERED("alice@example.org")
		     "451 4.3.0 <bob@example.org> temporary failure, try later\r\n"
		     DELIVERED("carol@example.org"),
	  .deliveries = 2, .stored = HEADERS "x\r\n", .failing_user = "bob" },
	{ .name = "lookup_failure_gives_451_at_rcpt",
	  .input = LHLO MAIL RCPT("alice@example.org"),
	  .replies = LHLO_REPLY MAIL_OK
		     "451 4.3.0 <alice@example.org> cannot look up the user now, try later\r\n",
	  .lookup_status = STORE_BUSY },
	{ .name = "too_many_errors_close_the_connection",
	  .input = "A\r\nB\r\nC\r\nD\r\nE\r\nF\r\nG\r\nH\r\nI\r\nNOOP\r\nEHLO x\r\nNOOP\r\n",
	  .replies = UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN OK UNKNOWN
		     "421 4.7.0 too many errors, closing connection\r\n",
	  .closes = true },
	{ .name = "recipient_syntax_errors_get_501_or_555",
	  .input = LHLO MAIL "RCPT TO:alice@example.org\r\nRCPT TO:<\"a b\"@example.org>\r\n"
		   "RCPT TO:<alice>\r\nRCPT TO:<.alice@example.org>\r\nRCPT TO:<alice@>\r\n"
		   "RCPT TO:<alice@example.org> NOTIFY=NEVER\r\nrcpt to: <alice@example.org>\r\n",
	  .replies = LHLO_REPLY MAIL_OK "501 5.1.3 bad recipient address syntax\r\n"
		     "501 5.1.3 bad recipient address syntax\r\n" "501 5.1.3 bad recipient address syntax\r\n"
		     "501 5.1.3 bad recipient address syntax\r\n" "501 5.1.3 bad recipient address syntax\r\n"
		     "555 5.5.4 RCPT parameters are not supported\r\n" RCPT_OK("alice@example.org") },
	{ .name = "sender_syntax_errors_get_501",
	  .input = LHLO "MAIL FROM:a@b\r\nMAIL FROM:<a b@c>\r\nMAIL TO:<a@b>\r\nMAIL\r\nLHLO\r\n",
	  .replies = LHLO_REPLY "501 5.1.7 bad sender address syntax\r\n"
		     "501 5.1.7 bad sender address syntax\r\n" "501 5.1.7 bad sender address syntax\r\n"
		     "501 5.1.7 bad sender address syntax\r\n" "501 5.5.4 LHLO needs a host name\r\n" },
	{ .name = "noop_vrfy_rset_quit_answer_without_lhlo",
	  .input = "NOOP\r\nnoop ignored argument\r\nVRFY alice\r\nRSET\r\nQUIT\r\nNOOP\r\n",
	  .replies = OK OK "252 2.5.0 cannot VRFY user, but will accept message for local recipients\r\n"
		     OK BYE,
	  .closes = true },
	{ .name = "ehlo_helo_and_smtp_verbs_are_unknown_in_lmtp",
	  .input = "EHLO x\r\nHELO x\r\nBDAT 10\r\n\r\nLHLOX\r\n",
	  .replies = UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN },
	{ .name = "nul_byte_in_a_command_gets_500",
	  .input = "NO\0OP\r\nNOOP\r\n",
	  .replies = "500 5.5.2 NUL byte in command line\r\n" OK },
	{ .name = "data_with_a_parameter_gets_501",
	  .input = LHLO MAIL RCPT("alice@example.org") "DATA now\r\n" DATA ".\r\n",
	  .replies = LHLO_REPLY MAIL_OK RCPT_OK("alice@example.org") "501 5.5.4 DATA takes no parameters\r\n"
		     DATA_GO DELIVERED("alice@example.org"),
	  .deliveries = 1, .stored = HEADERS },
};

/* The NUL in nul_byte_in_a_command_gets_500 needs the input's real length. */
static size_t dialogue_length(const struct dialogue *d)
{
	if (strcmp(d->name, "nul_byte_in_a_command_gets_500") == 0)
		return sizeof("NO\0OP\r\nNOOP\r\n") - 1;
	return strlen(d->input);
}

static void check_dialogue(struct harness *h, size_t chunk)
{
	const struct dialogue *d = h->dialogue;
	feed_chunked(h, d->input, dialogue_length(d), chunk);
	expect_replies(h, d->replies);
	assert_int_equal(h->fake.count, d->deliveries);
	for (size_t i = 0; i < h->fake.count && d->stored != NULL; i++) {
		assert_string_equal(h->fake.message[i], d->stored);
		assert_int_equal(h->fake.received[i], FIXED_NOW);
	}
	assert_int_equal(h->fake.log_lines, d->deliveries + (d->failing_user != NULL ? 1 : 0));
	assert_int_equal(h->session.closed, d->closes);
}

static void dialogue_in_one_write(void **state)
{
	check_dialogue(*state, SIZE_MAX);
}

/* Splitting must not matter: a CRLF or "." cut between two reads included. */
static void dialogue_byte_by_byte(void **state)
{
	check_dialogue(*state, 1);
}

/* ---- cases that build their input ---- */

static void greeting_is_220_with_host_name(void **state)
{
	struct harness *h = *state;
	assert_string_equal(h->greeting, "220 mx.test LMTP easd ready\r\n");
}

/* A message of size bytes as stored (lines of 'x', CRLF, no dot-stuffing needed). */
static char *message_of_size(size_t size)
{
	char *body = malloc(size + 1);
	memset(body, 'x', size);
	for (size_t i = 78; i + 1 < size; i += 80) {
		body[i] = '\r';
		body[i + 1] = '\n';
	}
	body[size - 2] = '\r';
	body[size - 1] = '\n';
	body[size] = '\0';
	return body;
}

static void send_message(struct harness *h, const char *body)
{
	feed(h, LHLO MAIL RCPT("alice@example.org") RCPT("bob@example.org") DATA);
	feed(h, body);
	feed(h, ".\r\n");
}

static void message_at_the_limit_is_delivered(void **state)
{
	struct harness *h = *state;
	char *body = message_of_size(MAX_MESSAGE);
	send_message(h, body);
	expect_replies(h, LHLO_REPLY MAIL_OK RCPT_OK("alice@example.org") RCPT_OK("bob@example.org")
		       DATA_GO DELIVERED("alice@example.org") DELIVERED("bob@example.org"));
	assert_int_equal(h->fake.count, 2);
	assert_int_equal(h->fake.len[0], strlen(HEADERS) + MAX_MESSAGE);
	assert_string_equal(h->fake.message[1] + strlen(HEADERS), body);
	assert_string_equal(h->fake.last_log, "delivered to bob (1000 bytes)");
	free(body);
}

/* The rest is read and dropped; every recipient gets 552; the next message goes through. */
static void message_one_past_the_limit_is_552_for_every_recipient(void **state)
{
	struct harness *h = *state;
	char *body = message_of_size(MAX_MESSAGE + 1);
	send_message(h, body);
	expect_replies(h, LHLO_REPLY MAIL_OK RCPT_OK("alice@example.org") RCPT_OK("bob@example.org")
		       DATA_GO TOO_BIG("alice@example.org") TOO_BIG("bob@example.org"));
	assert_int_equal(h->fake.count, 0);
	assert_string_equal(h->fake.last_log, "not delivered to bob: message over 1000 bytes");
	expect_dialogue(h, MAIL RCPT("alice@example.org") DATA "small\r\n.\r\n",
			MAIL_OK RCPT_OK("alice@example.org") DATA_GO DELIVERED("alice@example.org"));
	assert_int_equal(h->fake.count, 1);
	free(body);
}

/* Memory stays bounded: a 1 MB line past the limit is dropped as it comes. */
static void huge_message_line_is_dropped_without_buffering(void **state)
{
	struct harness *h = *state;
	size_t size = 1024 * 1024;
	char *body = malloc(size + 3);
	memset(body, 'y', size);
	memcpy(body + size, "\r\n", 3);
	feed(h, LHLO MAIL RCPT("alice@example.org") DATA);
	feed(h, body);
	assert_true(h->session.message.cap <= 2 * (MAX_MESSAGE + 512));
	feed(h, ".\r\n");
	expect_replies(h, LHLO_REPLY MAIL_OK RCPT_OK("alice@example.org") DATA_GO TOO_BIG("alice@example.org"));
	free(body);
}

/* A line of len bytes plus CRLF: "NOOP " and padding. */
static char *noop_line(size_t len)
{
	char *line = malloc(len + 3);
	memset(line, 'p', len);
	memcpy(line, "NOOP ", 5);
	memcpy(line + len, "\r\n", 3);
	return line;
}

static void command_line_at_the_limit_is_accepted(void **state)
{
	struct harness *h = *state;
	char *line = noop_line(LIMIT_LMTP_LINE_BYTES);
	expect_dialogue(h, line, OK);
	memcpy(line + LIMIT_LMTP_LINE_BYTES, "\n", 2); /* bare LF: the same line without its CR */
	expect_dialogue(h, line, OK);
	free(line);
}

static void command_line_one_past_the_limit_gets_500(void **state)
{
	struct harness *h = *state;
	char *line = noop_line(LIMIT_LMTP_LINE_BYTES + 1);
	expect_dialogue(h, line, TOO_LONG);
	memcpy(line + LIMIT_LMTP_LINE_BYTES + 1, "\n", 2);
	expect_dialogue(h, line, TOO_LONG);
	free(line);
	/* Much longer, cut across many reads: one reply, then the next command works. */
	line = noop_line(100000);
	feed_chunked(h, line, strlen(line), 4000);
	expect_dialogue(h, "NOOP\r\n", TOO_LONG OK);
	free(line);
}

static void hundred_recipients_accepted_the_next_gets_452(void **state)
{
	struct harness *h = *state;
	struct buf input, expected;
	buf_init(&input, 0);
	buf_init(&expected, 0);
	buf_append_cstr(&input, LHLO MAIL);
	buf_append_cstr(&expected, LHLO_REPLY MAIL_OK);
	for (size_t i = 0; i <= LIMIT_LMTP_RECIPIENTS; i++)
		buf_append_cstr(&input, RCPT("alice@example.org"));
	for (size_t i = 0; i < LIMIT_LMTP_RECIPIENTS; i++)
		buf_append_cstr(&expected, RCPT_OK("alice@example.org"));
	buf_append_cstr(&expected, "452 4.5.3 too many recipients\r\n" DATA_GO);
	for (size_t i = 0; i < LIMIT_LMTP_RECIPIENTS; i++)
		buf_append_cstr(&expected, DELIVERED("alice@example.org"));
	buf_append_cstr(&input, DATA "hi\r\n.\r\n");
	buf_append_byte(&input, 0);
	buf_append_byte(&expected, 0);
	expect_dialogue(h, (const char *)input.data, (const char *)expected.data);
	assert_int_equal(h->fake.count, LIMIT_LMTP_RECIPIENTS);
	buf_cleanup(&input);
	buf_cleanup(&expected);
}

/*
 * Message lines around and far past the reader's buffer (LIMIT_LMTP_LINE_BYTES + 1)
 * stream through unchanged, a stuffed dot at their start removed and a CR
 * at a piece boundary kept with its LF.
 */
static void long_message_lines_stream_through(void **state)
{
	struct harness *h = *state;
	h->config.max_message_size = 1000000;
	struct buf input, stored;
	buf_init(&input, 0);
	buf_init(&stored, 0);
	const size_t lengths[] = { LIMIT_LMTP_LINE_BYTES - 1, LIMIT_LMTP_LINE_BYTES, LIMIT_LMTP_LINE_BYTES + 1,
				   LIMIT_LMTP_LINE_BYTES + 2, 3 * LIMIT_LMTP_LINE_BYTES, 70000 };
	for (size_t i = 0; i < COUNT(lengths); i++) {
		for (int dotted = 0; dotted < 2; dotted++) {
			buf_append_cstr(&input, dotted ? ".." : "");
			buf_append_cstr(&stored, dotted ? "." : "");
			for (size_t j = 0; j < lengths[i]; j++) {
				char c = (char)('a' + (i + j) % 26);
				buf_append_byte(&input, (uint8_t)c);
				buf_append_byte(&stored, (uint8_t)c);
			}
			buf_append_cstr(&input, "\r\n");
			buf_append_cstr(&stored, "\r\n");
		}
	}
	/* A lone CR just where the buffer fills, then more text on the same line. */
	for (size_t j = 0; j < LIMIT_LMTP_LINE_BYTES; j++) {
		buf_append_byte(&input, 'z');
		buf_append_byte(&stored, 'z');
	}
	buf_append_cstr(&input, "\rtail\r\n.\r\n");
	buf_append_cstr(&stored, "\rtail\r\n");
	for (size_t chunk = 1; chunk <= 4096; chunk *= 4096) {
		feed(h, LHLO MAIL RCPT("alice@example.org") DATA);
		feed_chunked(h, input.data, input.len, chunk);
	}
	assert_int_equal(h->fake.count, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(h->fake.len[i], strlen(HEADERS) + stored.len);
		assert_memory_equal(h->fake.message[i] + strlen(HEADERS), stored.data, stored.len);
	}
	buf_cleanup(&input);
	buf_cleanup(&stored);
}

/* Thousands of pipelined commands in one write: the session pauses to let replies out. */
static void feed_pauses_when_replies_pile_up(void **state)
{
	struct harness *h = *state;
	size_t count = 5000;
	struct buf input;
	buf_init(&input, 0);
	for (size_t i = 0; i < count; i++)
		buf_append_cstr(&input, "NOOP\r\n");
	size_t used = lmtp_session_feed(&h->session, input.data, input.len);
	assert_true(used < input.len);
	assert_true(h->session.reply.len >= LMTP_REPLY_FLUSH);
	assert_int_equal(lmtp_session_feed(&h->session, input.data + used, input.len - used), 0);
	buf_append(&h->replies, h->session.reply.data, h->session.reply.len);
	h->session.reply.len = 0;
	feed_chunked(h, input.data + used, input.len - used, SIZE_MAX);
	assert_int_equal(h->replies.len, count * strlen(OK));
	buf_cleanup(&input);
}

static void quit_stops_reading(void **state)
{
	struct harness *h = *state;
	const char input[] = "QUIT\r\nNOOP\r\n";
	assert_int_equal(lmtp_session_feed(&h->session, (const uint8_t *)input, sizeof(input) - 1), 6);
	assert_true(h->session.closed);
	assert_int_equal(lmtp_session_feed(&h->session, (const uint8_t *)input + 6, 6), 0);
}

static void date_is_rfc5322_in_utc(void **state)
{
	(void)state;
	char date[64];
	lmtp_format_date(FIXED_NOW, date, sizeof(date));
	assert_string_equal(date, "Tue, 14 Nov 2023 22:13:20 +0000");
	lmtp_format_date(0, date, sizeof(date));
	assert_string_equal(date, "Thu, 01 Jan 1970 00:00:00 +0000");
}

#define CASE(function) { #function, function, setup, teardown, NULL }

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		CASE(greeting_is_220_with_host_name),
		CASE(message_at_the_limit_is_delivered),
		CASE(message_one_past_the_limit_is_552_for_every_recipient),
		CASE(huge_message_line_is_dropped_without_buffering),
		CASE(command_line_at_the_limit_is_accepted),
		CASE(command_line_one_past_the_limit_gets_500),
		CASE(hundred_recipients_accepted_the_next_gets_452),
		CASE(long_message_lines_stream_through),
		CASE(feed_pauses_when_replies_pile_up),
		CASE(quit_stops_reading),
		CASE(date_is_rfc5322_in_utc),
	};
	size_t count = COUNT(fixed) + 2 * COUNT(dialogues);
	struct CMUnitTest *tests = calloc(count, sizeof(*tests));
	char (*names)[128] = calloc(2 * COUNT(dialogues), sizeof(*names));
	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < COUNT(dialogues); i++) {
		for (size_t split = 0; split < 2; split++) {
			size_t n = 2 * i + split;
			snprintf(names[n], sizeof(names[n]), "%s%s", dialogues[i].name,
				 split ? "_byte_by_byte" : "");
			tests[COUNT(fixed) + n] = (struct CMUnitTest){
				names[n], split ? dialogue_byte_by_byte : dialogue_in_one_write, setup, teardown,
				(void *)&dialogues[i],
			};
		}
	}
	int failed = _cmocka_run_group_tests("lmtp", tests, count, NULL, NULL);
	free(tests);
	free(names);
	return failed;
}
