/*
 * fuzz_outgoing.c: libFuzzer target for a message a device sends (src/pim
 * email_outgoing.c). The first byte chooses the kind (its value modulo 3:
 * SendMail, SmartReply, SmartForward), whether the device says it is a
 * reply (0x04) and whether 16.x Forwardees come with it (0x08); the rest
 * is the device's MIME, then, after the first "\n--ORIGINAL--\n", the
 * stored original. Whatever the bytes, a message that is not empty is
 * prepared, and what goes to the relay keeps the promises of email.h:
 * CRLF lines only, no Bcc header, one From: the user's, a Message-ID, and
 * envelope recipients that are valid addresses, each once, without the
 * sender of a reply unless nobody else is left.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "guard/limits.h"
#include "pim/email.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENDER "alice@example.org"
#define SEPARATOR "\n--ORIGINAL--\n"

static const char *const forwardees[] = { "fwd@example.net", "Alice@Example.org", "not valid" };

static void check_line_endings(const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			__builtin_trap();
}

/* The length of the header field starting at data[at] (its folded lines too, not the last CRLF). */
static size_t field_length(const uint8_t *data, size_t end, size_t at)
{
	size_t i = at;
	while (i < end) {
		const uint8_t *eol = memmem(data + i, end - i, "\r\n", 2);
		if (eol == NULL)
			return end - at;
		i = (size_t)(eol - data) + 2;
		if (i >= end || (data[i] != ' ' && data[i] != '\t'))
			return (size_t)(eol - data) - at;
	}
	return end - at;
}

/* The field at data[at] is called name, blanks before its colon allowed (RFC 5322 4.5). */
static bool field_is(const uint8_t *data, size_t len, const char *name)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp((const char *)data, name, n) != 0)
		return false;
	while (n < len && (data[n] == ' ' || data[n] == '\t'))
		n++;
	return n < len && data[n] == ':';
}

/*
 * The From field read back as GMime (and a relay) reads it: the user's
 * mailbox alone. Its bytes need not hold the address as written, as
 * RFC 5322 3.4.1 lets blanks surround the "@" ("alice @example.org").
 */
static bool from_is_the_user(struct arena *arena, const uint8_t *field, size_t len)
{
	const uint8_t *colon = memchr(field, ':', len);
	char *value = arena_strndup(arena, colon + 1, len - (size_t)(colon + 1 - field));
	InternetAddressList *list = internet_address_list_parse(NULL, value);
	bool user = list != NULL && internet_address_list_length(list) == 1;
	if (user) {
		InternetAddress *address = internet_address_list_get_address(list, 0);
		user = INTERNET_ADDRESS_IS_MAILBOX(address) &&
		       strcasecmp(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address)), SENDER) == 0;
	}
	if (list != NULL)
		g_object_unref(list);
	return user;
}

/* The top-level header block: no Bcc, and one From, the user's. */
static void check_headers(struct arena *arena, const uint8_t *wire, size_t len)
{
	const uint8_t *blank = memmem(wire, len, "\r\n\r\n", 4);
	size_t end = blank != NULL ? (size_t)(blank - wire) + 2 : len;
	unsigned from = 0;
	for (size_t at = 0; at < end;) {
		size_t field = field_length(wire, end, at);
		if (field_is(wire + at, field, "Bcc"))
			__builtin_trap();
		if (field_is(wire + at, field, "From")) {
			from++;
			if (!from_is_the_user(arena, wire + at, field))
				__builtin_trap();
		}
		at += field + 2;
	}
	if (from != 1)
		__builtin_trap();
}

static bool address_is_valid(const char *address)
{
	size_t len = strlen(address);
	if (len == 0 || len > LIMIT_SEND_ADDRESS_BYTES || strchr(address, '@') == NULL)
		return false;
	for (const char *c = address; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '<' || *c == '>')
			return false;
	return true;
}

static void check_recipients(const struct pim_outgoing *out, bool reply)
{
	for (size_t i = 0; i < out->recipient_count; i++) {
		if (!address_is_valid(out->recipients[i]))
			__builtin_trap();
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(out->recipients[i], out->recipients[j]) == 0)
				__builtin_trap();
		if (reply && out->recipient_count > 1 && strcasecmp(out->recipients[i], SENDER) == 0)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	struct pim_outgoing_options options = {
		.kind = (enum pim_outgoing_kind)(data[0] % 3),
		.is_reply = (data[0] & 0x04) != 0,
		.sender = SENDER,
		.forwardees = (data[0] & 0x08) != 0 ? forwardees : NULL,
		.forwardee_count = (data[0] & 0x08) != 0 ? sizeof(forwardees) / sizeof(forwardees[0]) : 0,
		.now = 1700000000,
	};
	const uint8_t *mime = data + 1;
	size_t len = size - 1;
	const uint8_t *separator = memmem(mime, len, SEPARATOR, strlen(SEPARATOR));
	if (separator != NULL) {
		options.original = separator + strlen(SEPARATOR);
		options.original_len = (size_t)(data + size - options.original);
		len = (size_t)(separator - mime);
	}
	struct arena *arena = arena_new(0);
	struct pim_outgoing out;
	int status = pim_outgoing_prepare(arena, mime, len, &options, &out);
	if ((status == 0) != (len > 0))
		__builtin_trap();
	if (status == 0) {
		check_line_endings(out.wire, out.wire_len);
		check_line_endings(out.copy, out.copy_len);
		check_headers(arena, out.wire, out.wire_len);
		if (out.message_id == NULL || out.message_id[0] == '\0' || !g_utf8_validate(out.message_id, -1, NULL))
			__builtin_trap();
		check_recipients(&out, options.is_reply || options.kind == PIM_OUTGOING_REPLY);
	}
	arena_free(&arena);
	return 0;
}
