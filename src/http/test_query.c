/*
 * test_query.c: the request query in both forms (MS-ASHTTP 2.2.1.1.1):
 * the spec's worked vector, vectors built field by field, plain queries as
 * clients really send them, every rejection reason, every length limit at
 * and one past it, and cut or damaged base64 queries, which must fail
 * cleanly. Every input is parsed from an exact-size heap copy so that
 * ASan (make check) sees any read past its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "http/query.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* Long values, built by the compiler. */
#define A8 "aaaaaaaa"
#define A16 A8 A8
#define A32 A16 A16
#define A64 A32 A32
#define A128 A64 A64
#define A255 A128 A64 A32 A16 A8 "aaaaaaa"
#define FF16 "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"

/* Every reason query.c documents; each must be proved by some case below. */
static const char *const documented_reasons[] = {
	"query_empty", "query_too_long", "command_missing", "command_invalid",
	"device_id_missing", "device_id_invalid", "device_type_missing",
	"device_type_invalid", "user_invalid", "parameter_duplicated",
	"parameter_invalid", "base64_invalid", "base64_truncated", "version_invalid",
	"command_code_unknown", "policy_key_length_invalid", "parameter_tag_unknown",
};

/* What a successful parse must give; NULL strings mean an empty slice. */
struct expect {
	bool base64_form;
	const char *command, *user, *device_id, *device_type;
	uint8_t protocol_version;
	bool has_policy_key;
	uint32_t policy_key;
	uint16_t locale;
	const char *attachment_name, *collection_id, *item_id, *long_id, *occurrence;
	bool save_in_sent, accept_multipart;
};

static void check_slice(const char *name, const char *field, struct slice got, const char *want)
{
	size_t want_len = want != NULL ? strlen(want) : 0;
	if (got.len != want_len || (want_len > 0 && memcmp(got.data, want, want_len) != 0))
		fail_msg("%s: %s is '%.*s', want '%s'", name, field, (int)got.len,
			 got.data != NULL ? (const char *)got.data : "", want != NULL ? want : "");
	/* Copies are NUL-terminated: a caller may log .data as a C string. */
	if (got.len > 0 && got.data[got.len] != '\0')
		fail_msg("%s: %s is not NUL-terminated", name, field);
}

static void check_expect(const char *name, const struct http_query *q, const struct expect *e)
{
	check_slice(name, "command", q->command, e->command);
	check_slice(name, "user", q->user, e->user);
	check_slice(name, "device_id", q->device_id, e->device_id);
	check_slice(name, "device_type", q->device_type, e->device_type);
	check_slice(name, "attachment_name", q->attachment_name, e->attachment_name);
	check_slice(name, "collection_id", q->collection_id, e->collection_id);
	check_slice(name, "item_id", q->item_id, e->item_id);
	check_slice(name, "long_id", q->long_id, e->long_id);
	check_slice(name, "occurrence", q->occurrence, e->occurrence);
	if (q->base64_form != e->base64_form || q->protocol_version != e->protocol_version ||
	    q->has_policy_key != e->has_policy_key || q->policy_key != e->policy_key ||
	    q->locale != e->locale || q->save_in_sent != e->save_in_sent ||
	    q->accept_multipart != e->accept_multipart)
		fail_msg("%s: base64 %d version %u key %d/%u locale 0x%04x save %d multipart %d", name,
			 q->base64_form, q->protocol_version, q->has_policy_key, q->policy_key, q->locale,
			 q->save_in_sent, q->accept_multipart);
}

/* Parses an exact-size copy of raw, freed before the result is looked at. */
static int parse_exact(struct arena *arena, const char *raw, size_t len, struct http_query *q,
		       const char **reason_out)
{
	char *copy = malloc(len > 0 ? len : 1);
	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, raw, len);
	int status = http_query_parse(arena, copy, len, q, reason_out);
	free(copy);
	return status;
}

/* want_reason NULL: must succeed and match *e; else must fail with it. */
static void run_case(const char *name, const char *raw, size_t len, const char *want_reason,
		     const struct expect *e)
{
	struct arena *arena = arena_new(0);
	struct http_query q, untouched;
	memset(&q, 0xA5, sizeof(q));
	memcpy(&untouched, &q, sizeof(q));
	const char *reason = NULL;
	int status = parse_exact(arena, raw, len, &q, &reason);
	if (want_reason == NULL) {
		if (status != 0)
			fail_msg("%s: failed with %s", name, reason);
		check_expect(name, &q, e);
	} else {
		if (status != -1 || reason == NULL || strcmp(reason, want_reason) != 0)
			fail_msg("%s: status %d reason %s, want %s", name, status,
				 reason != NULL ? reason : "(none)", want_reason);
		if (memcmp(&q, &untouched, sizeof(q)) != 0)
			fail_msg("%s: a failed parse wrote *query_out", name);
	}
	/* http_query_parse promises no more than a small multiple of len. */
	if (arena_used(arena) > 2 * len + 256)
		fail_msg("%s: %zu arena bytes for a %zu-byte query", name, arena_used(arena), len);
	arena_free(&arena);
}

/* ---- queries given as text ---- */

struct text_case {
	const char *name;
	const char *raw;
	const char *reason;
	struct expect expect;
};

#define SPEC_VECTOR "jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l"
#define SPEC_EXPECT                                                                              \
	{ .base64_form = true, .command = "Sync", .device_id = "v140Device",                     \
	  .device_type = "SmartPhone", .protocol_version = 140, .locale = 0x0409 }
#define PLAIN_TAIL "&DeviceId=ABC123&DeviceType=iPhone"

static const struct text_case text_cases[] = {
	{ "spec_vector_decodes", SPEC_VECTOR, NULL, SPEC_EXPECT },
	{ "spec_vector_percent_encoded", "jAAJBAp2MTQwRGV2aWNl%41ApTbWFydFBob25l", NULL, SPEC_EXPECT },
	{ "plain_in_spec_order", "Cmd=Sync&User=alice&DeviceId=ABC123&DeviceType=iPhone", NULL,
	  { .command = "Sync", .user = "alice", .device_id = "ABC123", .device_type = "iPhone" } },
	{ "plain_reordered_case_varied_percent_encoded",
	  "DEVICEID=ABC123&devicetype=iPhone&user=DOMAIN%5Calice&CMD=SmartReply&itemid=5%3A12"
	  "&CollectionID=5&saveinsent=T&LongId=Rg%2FA%2BB&Occurrence=2024-01-02T09%3A00%3A00.000Z",
	  NULL,
	  { .command = "SmartReply", .user = "DOMAIN\\alice", .device_id = "ABC123",
	    .device_type = "iPhone", .collection_id = "5", .item_id = "5:12", .long_id = "Rg/A+B",
	    .occurrence = "2024-01-02T09:00:00.000Z", .save_in_sent = true } },
	{ "plain_plus_stays_plus", "Cmd=SendMail&User=alice+test%40example.com" PLAIN_TAIL
	  "&SaveInSent=F", NULL,
	  { .command = "SendMail", .user = "alice+test@example.com", .device_id = "ABC123",
	    .device_type = "iPhone" } },
	{ "plain_utf8_user_and_attachment", "Cmd=GetAttachment&User=m%C3%BCller" PLAIN_TAIL
	  "&AttachmentName=5%3A12%2F1%2Fr%C3%A9sum%C3%A9.pdf", NULL,
	  { .command = "GetAttachment", .user = "m\xc3\xbcller", .device_id = "ABC123",
	    .device_type = "iPhone", .attachment_name = "5:12/1/r\xc3\xa9sum\xc3\xa9.pdf" } },
	{ "plain_unknown_and_empty_segments_ignored", "&Cmd=Ping&&Foo=%zz&Bar" PLAIN_TAIL "&", NULL,
	  { .command = "Ping", .device_id = "ABC123", .device_type = "iPhone" } },
	{ "plain_user_optional_and_may_be_empty", "Cmd=Ping&User=" PLAIN_TAIL, NULL,
	  { .command = "Ping", .device_id = "ABC123", .device_type = "iPhone" } },
	{ "plain_device_type_punctuation", "Cmd=Sync&DeviceId=ABC123&DeviceType=WP8%2F1.0_x", NULL,
	  { .command = "Sync", .device_id = "ABC123", .device_type = "WP8/1.0_x" } },
	{ "query_empty", "", "query_empty", { 0 } },
	{ "command_missing", "User=alice" PLAIN_TAIL, "command_missing", { 0 } },
	{ "command_empty", "Cmd=" PLAIN_TAIL, "command_invalid", { 0 } },
	{ "command_bare_name", "Cmd" PLAIN_TAIL, "command_invalid", { 0 } },
	{ "command_alone_empty", "Cmd=", "command_invalid", { 0 } },
	{ "command_with_digit", "Cmd=Sync2" PLAIN_TAIL, "command_invalid", { 0 } },
	{ "command_bad_escape", "Cmd=Sy%2" PLAIN_TAIL, "command_invalid", { 0 } },
	{ "device_id_missing", "Cmd=Sync&DeviceType=iPhone", "device_id_missing", { 0 } },
	{ "device_id_empty", "Cmd=Sync&DeviceId=&DeviceType=iPhone", "device_id_invalid", { 0 } },
	{ "device_id_hyphen_and_underscore", "Cmd=Sync&DeviceId=pyactivesync-cli_1&DeviceType=iPhone", NULL,
	  { .command = "Sync", .device_id = "pyactivesync-cli_1", .device_type = "iPhone" } },
	{ "device_id_dot", "Cmd=Sync&DeviceId=AB.12&DeviceType=iPhone", "device_id_invalid", { 0 } },
	{ "device_id_space", "Cmd=Sync&DeviceId=AB%2012&DeviceType=iPhone", "device_id_invalid", { 0 } },
	{ "device_id_escaped_nul", "Cmd=Sync&DeviceId=AB%00&DeviceType=iPhone", "device_id_invalid", { 0 } },
	{ "device_type_missing", "Cmd=Sync&DeviceId=ABC123", "device_type_missing", { 0 } },
	{ "device_type_space", "Cmd=Sync&DeviceId=ABC123&DeviceType=Windows%20Mail",
	  "device_type_invalid", { 0 } },
	{ "device_type_empty", "Cmd=Sync&DeviceId=ABC123&DeviceType=", "device_type_invalid", { 0 } },
	{ "user_control_character", "Cmd=Sync&User=ali%0Ace" PLAIN_TAIL, "user_invalid", { 0 } },
	{ "user_not_utf8", "Cmd=Sync&User=m%FCller" PLAIN_TAIL, "user_invalid", { 0 } },
	{ "user_delete_character", "Cmd=Sync&User=a%7F" PLAIN_TAIL, "user_invalid", { 0 } },
	{ "cmd_duplicated_other_case", "Cmd=Sync&cmd=Ping" PLAIN_TAIL, "parameter_duplicated", { 0 } },
	{ "save_in_sent_duplicated", "Cmd=SendMail&SaveInSent=T&SaveInSent=T" PLAIN_TAIL,
	  "parameter_duplicated", { 0 } },
	{ "save_in_sent_not_t_or_f", "Cmd=SendMail&SaveInSent=Y" PLAIN_TAIL, "parameter_invalid", { 0 } },
	{ "save_in_sent_lower_case", "Cmd=SendMail&SaveInSent=t" PLAIN_TAIL, "parameter_invalid", { 0 } },
	{ "save_in_sent_empty", "Cmd=SendMail&SaveInSent=" PLAIN_TAIL, "parameter_invalid", { 0 } },
	{ "item_id_control_character", "Cmd=SmartReply&ItemId=5%0D%0A12" PLAIN_TAIL,
	  "parameter_invalid", { 0 } },
	{ "item_id_bad_escape", "Cmd=SmartReply&ItemId=%zz" PLAIN_TAIL, "parameter_invalid", { 0 } },
	{ "base64_outside_alphabet", "jAAJBAp2MTQwRGV2aWNl*ApTbWFydFBob25l", "base64_invalid", { 0 } },
	{ "base64_url_alphabet", "jAAJBAp2MTQwRGV2aWNl-ApTbWFydFBob25_", "base64_invalid", { 0 } },
	{ "base64_bad_escape", "jAAJBAp2MTQwRGV2aWNl%zzApTbWFydFBob25l", "base64_invalid", { 0 } },
	{ "base64_lone_last_character", "jAAJB", "base64_invalid", { 0 } },
	{ "base64_padding_short_group", "jAAJBA=", "base64_invalid", { 0 } },
	{ "base64_three_padding", "jAAJB===", "base64_invalid", { 0 } },
	{ "base64_four_padding", "jAAJBAp2====", "base64_invalid", { 0 } },
	{ "base64_only_padding", "%3D%3D", "base64_invalid", { 0 } },
	{ "base64_space", "jAAJ BAp2", "base64_invalid", { 0 } },
	{ "base64_too_short", "jAA=", "base64_truncated", { 0 } },
};

static void text_case_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(text_cases); i++) {
		const struct text_case *c = &text_cases[i];
		run_case(c->name, c->raw, strlen(c->raw), c->reason, &c->expect);
	}
}

/* ---- base64 queries built field by field (2.2.1.1.1.1) ---- */

struct bytes {
	const char *data;
	size_t len;
};

#define BYTES(s) { (s), sizeof(s) - 1 }

struct vector_case {
	const char *name;
	uint8_t version, code;
	uint16_t locale;
	struct bytes device_id, policy_key, device_type, parameters;
	bool strip_padding, percent_encode;
	const char *reason;
	struct expect expect;
};

/*
 * Pieces of vectors like the spec's. They never overlap, so no case sets a
 * member twice (-Woverride-init).
 */
#define HEAD(v, c) .version = (v), .code = (c), .locale = 0x0409
#define SPEC_DEVICE .device_id = BYTES("v140Device"), .device_type = BYTES("SmartPhone")
#define RESULT(v, name) .base64_form = true, .command = (name), .protocol_version = (v), .locale = 0x0409
#define SPEC_RESULT_DEVICE .device_id = "v140Device", .device_type = "SmartPhone"
#define GUID_BYTES "\x6f\x9a\x2b\x4c\xd1\xe3\x4f\x5a\x8b\x7c\x9d\x0e\x1f\x2a\x3b\xff"
#define GUID_HEX "6F9A2B4CD1E34F5A8B7C9D0E1F2A3BFF"

static const struct vector_case vector_cases[] = {
	{ "spec_vector_rebuilt", HEAD(140, 0), SPEC_DEVICE,
	  .expect = { RESULT(140, "Sync"), SPEC_RESULT_DEVICE } },
	{ "every_tag_and_policy_key", .version = 161, .code = 3, .locale = 0x0407,
	  .device_id = BYTES("Appl5K14358AQ"), .policy_key = BYTES("\x78\x56\x34\x12"),
	  .device_type = BYTES("iPhone"),
	  .parameters = BYTES("\x00\x07" "att/1:2" "\x01\x01" "5" "\x03\x04" "5:12"
			      "\x04\x08" "RgAAAAAB" "\x06\x18" "2024-01-02T09:00:00.000Z"
			      "\x07\x01\x03" "\x08\x11" "alice@example.com"),
	  .expect = { .base64_form = true, .command = "SmartReply", .user = "alice@example.com",
		      .device_id = "Appl5K14358AQ", .device_type = "iPhone", .protocol_version = 161,
		      .has_policy_key = true, .policy_key = 0x12345678, .locale = 0x0407,
		      .attachment_name = "att/1:2", .collection_id = "5", .item_id = "5:12",
		      .long_id = "RgAAAAAB", .occurrence = "2024-01-02T09:00:00.000Z",
		      .save_in_sent = true, .accept_multipart = true } },
	{ "policy_key_is_little_endian", HEAD(140, 0), SPEC_DEVICE, .policy_key = BYTES("\x01\x00\x00\x00"),
	  .expect = { RESULT(140, "Sync"), SPEC_RESULT_DEVICE, .has_policy_key = true, .policy_key = 1 } },
	{ "policy_key_high_bytes", HEAD(140, 20), SPEC_DEVICE, .policy_key = BYTES("\xfe\xff\xff\xff"),
	  .expect = { RESULT(140, "Provision"), SPEC_RESULT_DEVICE, .has_policy_key = true,
		      .policy_key = 0xFFFFFFFE } },
	{ "policy_key_zero_is_present", HEAD(140, 18), SPEC_DEVICE, .policy_key = BYTES("\x00\x00\x00\x00"),
	  .expect = { RESULT(140, "Ping"), SPEC_RESULT_DEVICE, .has_policy_key = true } },
	{ "options_save_in_sent_only", HEAD(140, 1), SPEC_DEVICE, .parameters = BYTES("\x07\x01\x01"),
	  .expect = { RESULT(140, "SendMail"), SPEC_RESULT_DEVICE, .save_in_sent = true } },
	{ "options_accept_multipart_only", HEAD(140, 19), SPEC_DEVICE, .parameters = BYTES("\x07\x01\x02"),
	  .expect = { RESULT(140, "ItemOperations"), SPEC_RESULT_DEVICE, .accept_multipart = true } },
	{ "options_reserved_bits_ignored", HEAD(140, 19), SPEC_DEVICE, .parameters = BYTES("\x07\x01\xfc"),
	  .expect = { RESULT(140, "ItemOperations"), SPEC_RESULT_DEVICE } },
	{ "user_tag_may_be_empty", HEAD(140, 0), SPEC_DEVICE, .parameters = BYTES("\x08\x00"),
	  .expect = { RESULT(140, "Sync"), SPEC_RESULT_DEVICE } },
	{ "parameter_of_255_bytes", HEAD(140, 2), SPEC_DEVICE, .parameters = BYTES("\x01\xff" A255),
	  .expect = { RESULT(140, "SmartForward"), SPEC_RESULT_DEVICE, .collection_id = A255 } },
	{ "guid_device_id_as_hex", HEAD(141, 9), .device_id = BYTES(GUID_BYTES),
	  .device_type = BYTES("WP8"),
	  .expect = { RESULT(141, "FolderSync"), .device_id = GUID_HEX, .device_type = "WP8" } },
	{ "guid_device_id_percent_encoded_unpadded", HEAD(141, 9), .device_id = BYTES(GUID_BYTES),
	  .device_type = BYTES("WP8"), .percent_encode = true, .strip_padding = true,
	  .expect = { RESULT(141, "FolderSync"), .device_id = GUID_HEX, .device_type = "WP8" } },
	{ "short_binary_device_id_as_hex", HEAD(140, 0), .device_id = BYTES("ab.1"),
	  .device_type = BYTES("SmartPhone"),
	  .expect = { RESULT(140, "Sync"), .device_id = "61622E31", .device_type = "SmartPhone" } },
	{ "unpadded_token", HEAD(140, 0), .device_id = BYTES("v140Device"), .device_type = BYTES("SP"),
	  .strip_padding = true,
	  .expect = { RESULT(140, "Sync"), .device_id = "v140Device", .device_type = "SP" } },
	{ "version_121_kept", HEAD(121, 0), SPEC_DEVICE, .expect = { RESULT(121, "Sync"), SPEC_RESULT_DEVICE } },
	{ "version_160_kept", HEAD(160, 0), SPEC_DEVICE, .expect = { RESULT(160, "Sync"), SPEC_RESULT_DEVICE } },
	{ "unknown_version_kept_for_caller", HEAD(255, 0), SPEC_DEVICE,
	  .expect = { RESULT(255, "Sync"), SPEC_RESULT_DEVICE } },
	{ "last_command_code_find", HEAD(140, 23), SPEC_DEVICE,
	  .expect = { RESULT(140, "Find"), SPEC_RESULT_DEVICE } },
	{ "version_zero", HEAD(0, 0), SPEC_DEVICE, .reason = "version_invalid" },
	{ "command_code_5_unassigned", HEAD(140, 5), SPEC_DEVICE, .reason = "command_code_unknown" },
	{ "command_code_8_unassigned", HEAD(140, 8), SPEC_DEVICE, .reason = "command_code_unknown" },
	{ "command_code_24_past_table", HEAD(140, 24), SPEC_DEVICE, .reason = "command_code_unknown" },
	{ "command_code_255", HEAD(140, 255), SPEC_DEVICE, .reason = "command_code_unknown" },
	{ "device_id_length_zero", HEAD(140, 0), .device_id = BYTES(""), .device_type = BYTES("SP"),
	  .reason = "device_id_invalid" },
	{ "policy_key_length_1", HEAD(140, 0), SPEC_DEVICE, .policy_key = BYTES("\x01"),
	  .reason = "policy_key_length_invalid" },
	{ "policy_key_length_3", HEAD(140, 0), SPEC_DEVICE, .policy_key = BYTES("\x01\x02\x03"),
	  .reason = "policy_key_length_invalid" },
	{ "policy_key_length_5", HEAD(140, 0), SPEC_DEVICE, .policy_key = BYTES("\x01\x02\x03\x04\x05"),
	  .reason = "policy_key_length_invalid" },
	{ "device_type_length_zero", HEAD(140, 0), .device_id = BYTES("v140Device"),
	  .device_type = BYTES(""), .reason = "device_type_invalid" },
	{ "device_type_space", HEAD(140, 0), .device_id = BYTES("v140Device"),
	  .device_type = BYTES("Smart Phone"), .reason = "device_type_invalid" },
	{ "tag_2_undefined", HEAD(140, 0), SPEC_DEVICE, .parameters = BYTES("\x02\x01" "x"),
	  .reason = "parameter_tag_unknown" },
	{ "tag_5_undefined", HEAD(140, 0), SPEC_DEVICE, .parameters = BYTES("\x05\x01" "x"),
	  .reason = "parameter_tag_unknown" },
	{ "tag_9_past_table", HEAD(140, 0), SPEC_DEVICE, .parameters = BYTES("\x09\x01" "x"),
	  .reason = "parameter_tag_unknown" },
	{ "tag_255", HEAD(140, 0), SPEC_DEVICE, .parameters = BYTES("\xff\x01" "x"),
	  .reason = "parameter_tag_unknown" },
	{ "tag_without_length", HEAD(140, 0), SPEC_DEVICE, .parameters = BYTES("\x01"),
	  .reason = "base64_truncated" },
	{ "length_past_end", HEAD(140, 0), SPEC_DEVICE, .parameters = BYTES("\x01\x05" "ab"),
	  .reason = "base64_truncated" },
	{ "tag_duplicated", HEAD(140, 3), SPEC_DEVICE, .parameters = BYTES("\x01\x01" "5" "\x01\x01" "6"),
	  .reason = "parameter_duplicated" },
	{ "options_duplicated", HEAD(140, 1), SPEC_DEVICE, .parameters = BYTES("\x07\x01\x01\x07\x01\x01"),
	  .reason = "parameter_duplicated" },
	{ "options_length_0", HEAD(140, 1), SPEC_DEVICE, .parameters = BYTES("\x07\x00"),
	  .reason = "parameter_invalid" },
	{ "options_length_2", HEAD(140, 1), SPEC_DEVICE, .parameters = BYTES("\x07\x02\x01\x00"),
	  .reason = "parameter_invalid" },
	{ "item_id_control_character", HEAD(140, 3), SPEC_DEVICE, .parameters = BYTES("\x03\x02" "5\n"),
	  .reason = "parameter_invalid" },
	{ "user_tag_control_character", HEAD(140, 0), SPEC_DEVICE, .parameters = BYTES("\x08\x02" "a\x01"),
	  .reason = "user_invalid" },
	{ "user_tag_not_utf8", HEAD(140, 0), SPEC_DEVICE, .parameters = BYTES("\x08\x02" "a\xfc"),
	  .reason = "user_invalid" },
	/* Limits at and one past: 32 letters/digits, 16 binary bytes, 64 VCHAR. */
	{ "device_id_32_alnum", HEAD(140, 0), .device_id = BYTES(A32), .device_type = BYTES("SP"),
	  .expect = { RESULT(140, "Sync"), .device_id = A32, .device_type = "SP" } },
	{ "device_id_33_alnum", HEAD(140, 0), .device_id = BYTES(A32 "a"), .device_type = BYTES("SP"),
	  .reason = "device_id_invalid" },
	{ "device_id_16_binary", HEAD(140, 0), .device_id = BYTES(FF16), .device_type = BYTES("SP"),
	  .expect = { RESULT(140, "Sync"), .device_id = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
		      .device_type = "SP" } },
	{ "device_id_17_binary", HEAD(140, 0), .device_id = BYTES(FF16 "\xff"), .device_type = BYTES("SP"),
	  .reason = "device_id_invalid" },
	{ "device_type_64", HEAD(140, 0), .device_id = BYTES("v140Device"), .device_type = BYTES(A64),
	  .expect = { RESULT(140, "Sync"), .device_id = "v140Device", .device_type = A64 } },
	{ "device_type_65", HEAD(140, 0), .device_id = BYTES("v140Device"), .device_type = BYTES(A64 "a"),
	  .reason = "device_type_invalid" },
};

static void append_counted(struct buf *out, struct bytes field)
{
	assert_true(field.len <= 255);
	assert_int_equal(buf_append_byte(out, (uint8_t)field.len), 0);
	assert_int_equal(buf_append(out, field.data, field.len), 0);
}

/* The decoded bytes of a vector case, in the order of 2.2.1.1.1.1. */
static void vector_bytes(const struct vector_case *c, struct buf *out)
{
	buf_init(out, 0);
	assert_int_equal(buf_append_byte(out, c->version), 0);
	assert_int_equal(buf_append_byte(out, c->code), 0);
	assert_int_equal(buf_append_byte(out, (uint8_t)(c->locale & 0xFF)), 0);
	assert_int_equal(buf_append_byte(out, (uint8_t)(c->locale >> 8)), 0);
	append_counted(out, c->device_id);
	append_counted(out, c->policy_key);
	append_counted(out, c->device_type);
	assert_int_equal(buf_append(out, c->parameters.data, c->parameters.len), 0);
}

/* Base64 text of bytes, as a client might send it: unpadded, escaped. */
static void encode_token(const uint8_t *data, size_t len, bool strip_padding, bool percent_encode,
			 struct buf *out)
{
	gchar *token = g_base64_encode(data, len);
	size_t n = strlen(token);
	while (strip_padding && n > 0 && token[n - 1] == '=')
		n--;
	buf_init(out, 0);
	for (size_t i = 0; i < n; i++) {
		if (percent_encode && strchr("+/=", token[i]) != NULL)
			assert_int_equal(buf_printf(out, "%%%02X", (unsigned)(uint8_t)token[i]), 0);
		else
			assert_int_equal(buf_append_byte(out, (uint8_t)token[i]), 0);
	}
	g_free(token);
}

static void vector_case_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(vector_cases); i++) {
		const struct vector_case *c = &vector_cases[i];
		struct buf bytes, token;
		vector_bytes(c, &bytes);
		encode_token(bytes.data, bytes.len, c->strip_padding, c->percent_encode, &token);
		if (strcmp(c->name, "spec_vector_rebuilt") == 0) {
			assert_int_equal(token.len, strlen(SPEC_VECTOR));
			assert_memory_equal(token.data, SPEC_VECTOR, token.len);
		}
		/* An escaping case must really contain escapes. */
		if (c->percent_encode)
			assert_non_null(memchr(token.data, '%', token.len));
		run_case(c->name, (const char *)token.data, token.len, c->reason, &c->expect);
		buf_cleanup(&token);
		buf_cleanup(&bytes);
	}
}

/* ---- plain-form limits at and one past (query.h) ---- */

struct limit_case {
	const char *name;
	const char *before;
	const char *fill;     /* repeated count times between before and after */
	size_t count;
	const char *after;
	const char *reason;
};

#define PAD_BEFORE "Cmd=Sync&DeviceId=a&DeviceType=b&Pad="
#define PAD_COUNT (LIMIT_QUERY_BYTES - (sizeof(PAD_BEFORE) - 1))

static const struct limit_case limit_cases[] = {
	{ "query_4096_bytes", PAD_BEFORE, "p", PAD_COUNT, "", NULL },
	{ "query_4097_bytes", PAD_BEFORE, "p", PAD_COUNT + 1, "", "query_too_long" },
	{ "command_32_letters", "Cmd=", "C", LIMIT_COMMAND_BYTES, PLAIN_TAIL, NULL },
	{ "command_33_letters", "Cmd=", "C", LIMIT_COMMAND_BYTES + 1, PLAIN_TAIL, "command_invalid" },
	{ "device_id_32", "Cmd=Sync&DeviceType=x&DeviceId=", "7", LIMIT_DEVICE_ID_BYTES, "", NULL },
	{ "device_id_33", "Cmd=Sync&DeviceType=x&DeviceId=", "7", LIMIT_DEVICE_ID_BYTES + 1, "",
	  "device_id_invalid" },
	{ "device_type_64", "Cmd=Sync&DeviceId=a&DeviceType=", "t", LIMIT_DEVICE_TYPE_BYTES, "", NULL },
	{ "device_type_65", "Cmd=Sync&DeviceId=a&DeviceType=", "t", LIMIT_DEVICE_TYPE_BYTES + 1, "",
	  "device_type_invalid" },
	/* The limits apply to decoded values, not to their escaped length. */
	{ "device_type_64_escaped", "Cmd=Sync&DeviceId=a&DeviceType=", "%41", LIMIT_DEVICE_TYPE_BYTES, "",
	  NULL },
	{ "device_type_65_escaped", "Cmd=Sync&DeviceId=a&DeviceType=", "%41", LIMIT_DEVICE_TYPE_BYTES + 1,
	  "", "device_type_invalid" },
	{ "user_256", "Cmd=Sync&User=", "u", LIMIT_USER_BYTES, PLAIN_TAIL, NULL },
	{ "user_257", "Cmd=Sync&User=", "u", LIMIT_USER_BYTES + 1, PLAIN_TAIL, "user_invalid" },
	{ "attachment_name_1024", "Cmd=GetAttachment&AttachmentName=", "n", LIMIT_PARAMETER_BYTES,
	  PLAIN_TAIL, NULL },
	{ "attachment_name_1025", "Cmd=GetAttachment&AttachmentName=", "n", LIMIT_PARAMETER_BYTES + 1,
	  PLAIN_TAIL, "parameter_invalid" },
	{ "collection_id_1024", "Cmd=SmartReply&CollectionId=", "1", LIMIT_PARAMETER_BYTES, PLAIN_TAIL, NULL },
	{ "collection_id_1025", "Cmd=SmartReply&CollectionId=", "1", LIMIT_PARAMETER_BYTES + 1, PLAIN_TAIL,
	  "parameter_invalid" },
	{ "item_id_1024", "Cmd=SmartReply&ItemId=", "i", LIMIT_PARAMETER_BYTES, PLAIN_TAIL, NULL },
	{ "item_id_1025", "Cmd=SmartReply&ItemId=", "i", LIMIT_PARAMETER_BYTES + 1, PLAIN_TAIL,
	  "parameter_invalid" },
	{ "long_id_1024", "Cmd=SmartReply&LongId=", "l", LIMIT_PARAMETER_BYTES, PLAIN_TAIL, NULL },
	{ "long_id_1025", "Cmd=SmartReply&LongId=", "l", LIMIT_PARAMETER_BYTES + 1, PLAIN_TAIL,
	  "parameter_invalid" },
	{ "occurrence_1024", "Cmd=SmartReply&Occurrence=", "o", LIMIT_PARAMETER_BYTES, PLAIN_TAIL, NULL },
	{ "occurrence_1025", "Cmd=SmartReply&Occurrence=", "o", LIMIT_PARAMETER_BYTES + 1, PLAIN_TAIL,
	  "parameter_invalid" },
};

static void limit_case_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(limit_cases); i++) {
		const struct limit_case *c = &limit_cases[i];
		struct buf raw;
		buf_init(&raw, 0);
		assert_int_equal(buf_append_cstr(&raw, c->before), 0);
		for (size_t n = 0; n < c->count; n++)
			assert_int_equal(buf_append_cstr(&raw, c->fill), 0);
		assert_int_equal(buf_append_cstr(&raw, c->after), 0);

		struct arena *arena = arena_new(0);
		struct http_query q;
		const char *reason = NULL;
		int status = parse_exact(arena, (const char *)raw.data, raw.len, &q, &reason);
		if (c->reason == NULL && status != 0)
			fail_msg("%s: failed with %s", c->name, reason);
		if (c->reason != NULL && (status != -1 || strcmp(reason, c->reason) != 0))
			fail_msg("%s: status %d reason %s, want %s", c->name, status,
				 reason != NULL ? reason : "(none)", c->reason);
		arena_free(&arena);
		buf_cleanup(&raw);
	}
}

/* ---- damaged base64 queries ---- */

/* Offsets where a cut leaves whole Encoded Parameters: those prefixes are valid. */
static bool is_parameter_boundary(const struct vector_case *c, size_t header_len, size_t cut)
{
	size_t at = 0;
	while (at < c->parameters.len) {
		if (header_len + at == cut)
			return true;
		at += 2 + (uint8_t)c->parameters.data[at + 1];
	}
	return header_len + at == cut;
}

static void cut_at_every_byte(const struct vector_case *c)
{
	struct buf bytes;
	vector_bytes(c, &bytes);
	size_t header_len = bytes.len - c->parameters.len;
	for (size_t cut = 0; cut < bytes.len; cut++) {
		struct buf token;
		encode_token(bytes.data, cut, false, false, &token);
		struct arena *arena = arena_new(0);
		struct http_query q;
		const char *reason = NULL;
		int status = parse_exact(arena, (const char *)token.data, token.len, &q, &reason);
		const char *want = cut == 0 ? "query_empty" : "base64_truncated";
		if (is_parameter_boundary(c, header_len, cut)) {
			if (status != 0)
				fail_msg("%s cut at %zu (whole parameters): %s", c->name, cut, reason);
		} else if (status != -1 || strcmp(reason, want) != 0) {
			fail_msg("%s cut at %zu: status %d reason %s", c->name, cut, status,
				 reason != NULL ? reason : "(none)");
		}
		arena_free(&arena);
		buf_cleanup(&token);
	}
	buf_cleanup(&bytes);
}

/* Every valid built vector (the spec's among them) cut after each decoded byte. */
static void truncation_at_every_byte_fails(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(vector_cases); i++) {
		if (vector_cases[i].reason == NULL)
			cut_at_every_byte(&vector_cases[i]);
	}
}

/* Any byte replaced by any value: a result or a documented reason, nothing else. */
static void every_byte_replaced_is_handled(void **state)
{
	(void)state;
	struct buf bytes;
	vector_bytes(&vector_cases[0], &bytes);
	unsigned valid = 0, errors = 0;
	for (size_t at = 0; at < bytes.len; at++) {
		uint8_t original = bytes.data[at];
		for (unsigned value = 0; value < 256; value++) {
			bytes.data[at] = (uint8_t)value;
			struct buf token;
			encode_token(bytes.data, bytes.len, false, false, &token);
			struct arena *arena = arena_new(0);
			struct http_query q;
			const char *reason = NULL;
			if (parse_exact(arena, (const char *)token.data, token.len, &q, &reason) == 0) {
				assert_true(q.device_id.len > 0 && q.device_id.len <= LIMIT_DEVICE_ID_BYTES);
				assert_true(q.device_type.len > 0 && q.device_type.len <= LIMIT_DEVICE_TYPE_BYTES);
				valid++;
			} else {
				assert_non_null(reason);
				size_t r = 0;
				while (r < COUNT(documented_reasons) && strcmp(documented_reasons[r], reason) != 0)
					r++;
				if (r == COUNT(documented_reasons))
					fail_msg("byte %zu = %u: undocumented reason %s", at, value, reason);
				errors++;
			}
			arena_free(&arena);
			buf_cleanup(&token);
		}
		bytes.data[at] = original;
	}
	assert_true(valid > 0 && errors > 0);
	buf_cleanup(&bytes);
}

/* ---- the command table and the reason list ---- */

static void command_codes_map_to_names(void **state)
{
	(void)state;
	static const char *const names[24] = {
		"Sync", "SendMail", "SmartForward", "SmartReply", "GetAttachment", NULL, NULL, NULL, NULL,
		"FolderSync", "FolderCreate", "FolderDelete", "FolderUpdate", "MoveItems",
		"GetItemEstimate", "MeetingResponse", "Search", "Settings", "Ping", "ItemOperations",
		"Provision", "ResolveRecipients", "ValidateCert", "Find",
	};
	for (unsigned code = 0; code < 256; code++) {
		const char *want = code < COUNT(names) ? names[code] : NULL;
		const char *got = http_command_name((uint8_t)code);
		if (want == NULL ? got != NULL : got == NULL || strcmp(got, want) != 0)
			fail_msg("code %u: %s, want %s", code, got != NULL ? got : "NULL",
				 want != NULL ? want : "NULL");
	}
}

static bool some_case_proves(const char *reason)
{
	for (size_t i = 0; i < COUNT(text_cases); i++) {
		if (text_cases[i].reason != NULL && strcmp(text_cases[i].reason, reason) == 0)
			return true;
	}
	for (size_t i = 0; i < COUNT(vector_cases); i++) {
		if (vector_cases[i].reason != NULL && strcmp(vector_cases[i].reason, reason) == 0)
			return true;
	}
	for (size_t i = 0; i < COUNT(limit_cases); i++) {
		if (limit_cases[i].reason != NULL && strcmp(limit_cases[i].reason, reason) == 0)
			return true;
	}
	return false;
}

static void every_documented_reason_has_a_case(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(documented_reasons); i++) {
		if (!some_case_proves(documented_reasons[i]))
			fail_msg("no case proves %s", documented_reasons[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_case_table),
		cmocka_unit_test(vector_case_table),
		cmocka_unit_test(limit_case_table),
		cmocka_unit_test(truncation_at_every_byte_fails),
		cmocka_unit_test(every_byte_replaced_is_handled),
		cmocka_unit_test(command_codes_map_to_names),
		cmocka_unit_test(every_documented_reason_has_a_case),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
