/*
 * query.c: parses the request line's query (MS-ASHTTP 2.2.1.1.1) in its
 * plain-text form (2.2.1.1.1.2) and its base64 form (2.2.1.1.1.1) into one
 * struct http_query. It checks syntax and lengths only; it must not judge
 * the command, the user, the device or the protocol version, and it must
 * not log (the caller logs the reason once, from the request context).
 *
 * Reasons returned in *reason_out (static strings, for the log line):
 *   query_empty                nothing after the '?'
 *   query_too_long             more than LIMIT_QUERY_BYTES raw bytes
 *   command_missing            plain form without Cmd
 *   command_invalid            Cmd empty, too long, not letters only
 *   device_id_missing          plain form without DeviceId
 *   device_id_invalid          DeviceId empty, too long, not letters/digits;
 *                              base64 form: length 0, or not 1-32 letters/
 *                              digits and over 16 bytes (too long for hex)
 *   device_type_missing        plain form without DeviceType
 *   device_type_invalid        DeviceType empty, too long, not VCHAR
 *   user_invalid               User too long, control character, not UTF-8
 *   parameter_duplicated       a known parameter (or tag) given twice
 *   parameter_invalid          other parameter too long, control character,
 *                              not UTF-8, bad escape; SaveInSent not T/F;
 *                              Options length not 1
 *   base64_invalid             bad escape, byte outside the RFC 4648
 *                              alphabet, misplaced or extra padding
 *   base64_truncated           decoded bytes end inside a field
 *   version_invalid            protocol version byte 0
 *   command_code_unknown       command code without a name (5-8, > 23)
 *   policy_key_length_invalid  policy key length not 0 or 4
 *   parameter_tag_unknown      tag 2, 5 or above 8
 */
#include "http/query.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include <glib.h>

/* MS-ASHTTP 2.2.1.1.1.1.2; codes 5 to 8 are unassigned. */
static const char *const command_names[] = {
	[0] = "Sync", [1] = "SendMail", [2] = "SmartForward", [3] = "SmartReply",
	[4] = "GetAttachment", [9] = "FolderSync", [10] = "FolderCreate",
	[11] = "FolderDelete", [12] = "FolderUpdate", [13] = "MoveItems",
	[14] = "GetItemEstimate", [15] = "MeetingResponse", [16] = "Search",
	[17] = "Settings", [18] = "Ping", [19] = "ItemOperations", [20] = "Provision",
	[21] = "ResolveRecipients", [22] = "ValidateCert", [23] = "Find",
};

const char *http_command_name(uint8_t code)
{
	if (code >= sizeof(command_names) / sizeof(command_names[0]))
		return NULL;
	return command_names[code];
}

/* ---- what each parameter may hold ---- */

enum byte_class {
	BYTES_ALPHA,    /* command-name = 1*ALPHA */
	BYTES_DEVICE_ID, /* device-id = 1*32(ALPHA / DIGIT) (MS-ASHTTP), and '-' and '_', which real clients use */
	BYTES_VCHAR,    /* device-type = 1*VCHAR: 0x21-0x7E */
	BYTES_TEXT,     /* no C0 control, no DEL, valid UTF-8 */
	BYTES_T_OR_F,   /* SaveInSent */
	BYTES_ANY,      /* Options bit mask */
};

enum value_kind {
	KIND_COMMAND,
	KIND_DEVICE_ID,
	KIND_DEVICE_TYPE,
	KIND_USER,
	KIND_TEXT,
	KIND_SAVE_IN_SENT,
	KIND_OPTIONS,
};

struct value_rule {
	size_t min, max;
	enum byte_class bytes;
	const char *reason;
};

/*
 * User and the command parameters are UTF-8 text rather than VCHAR: user
 * names and attachment names are not always ASCII, but nothing downstream
 * (the log, libxml2) should ever see invalid UTF-8 or control characters.
 */
static const struct value_rule value_rules[] = {
	[KIND_COMMAND] = { 1, LIMIT_COMMAND_BYTES, BYTES_ALPHA, "command_invalid" },
	[KIND_DEVICE_ID] = { 1, LIMIT_DEVICE_ID_BYTES, BYTES_DEVICE_ID, "device_id_invalid" },
	[KIND_DEVICE_TYPE] = { 1, LIMIT_DEVICE_TYPE_BYTES, BYTES_VCHAR, "device_type_invalid" },
	[KIND_USER] = { 0, LIMIT_USER_BYTES, BYTES_TEXT, "user_invalid" },
	[KIND_TEXT] = { 0, LIMIT_PARAMETER_BYTES, BYTES_TEXT, "parameter_invalid" },
	[KIND_SAVE_IN_SENT] = { 1, 1, BYTES_T_OR_F, "parameter_invalid" },
	[KIND_OPTIONS] = { 1, 1, BYTES_ANY, "parameter_invalid" },
};

#define NO_TAG (-1)

/* The parameters either form may carry; the index is the "seen" bit. */
struct query_field {
	const char *name;       /* plain-form name; NULL: base64 form only */
	int tag;                /* base64 tag (2.2.1.1.1.1.3); NO_TAG: plain form only */
	enum value_kind kind;
	size_t offset;          /* of its struct slice in struct http_query */
};

#define FIELD_AT(member) offsetof(struct http_query, member)

static const struct query_field query_fields[] = {
	{ "Cmd", NO_TAG, KIND_COMMAND, FIELD_AT(command) },
	{ "DeviceId", NO_TAG, KIND_DEVICE_ID, FIELD_AT(device_id) },
	{ "DeviceType", NO_TAG, KIND_DEVICE_TYPE, FIELD_AT(device_type) },
	{ "User", 8, KIND_USER, FIELD_AT(user) },
	{ "AttachmentName", 0, KIND_TEXT, FIELD_AT(attachment_name) },
	{ "CollectionId", 1, KIND_TEXT, FIELD_AT(collection_id) },
	{ "ItemId", 3, KIND_TEXT, FIELD_AT(item_id) },
	{ "LongId", 4, KIND_TEXT, FIELD_AT(long_id) },
	{ "Occurrence", 6, KIND_TEXT, FIELD_AT(occurrence) },
	{ "SaveInSent", NO_TAG, KIND_SAVE_IN_SENT, 0 },
	{ NULL, 7, KIND_OPTIONS, 0 },
};

#define FIELD_COUNT (sizeof(query_fields) / sizeof(query_fields[0]))
#define FIELD_CMD 0
#define FIELD_DEVICE_ID 1
#define FIELD_DEVICE_TYPE 2

/* Options bits (2.2.1.1.1.1.3); other bits are reserved and ignored. */
#define OPTION_SAVE_IN_SENT 0x01
#define OPTION_ACCEPT_MULTIPART 0x02

static bool byte_in_class(uint8_t c, enum byte_class bytes)
{
	switch (bytes) {
	case BYTES_ALPHA:
		return g_ascii_isalpha(c);
	case BYTES_DEVICE_ID:
		return g_ascii_isalnum(c) || c == '-' || c == '_';
	case BYTES_VCHAR:
		return c >= 0x21 && c <= 0x7E;
	case BYTES_TEXT:
		return c >= 0x20 && c != 0x7F;
	case BYTES_T_OR_F:
		return c == 'T' || c == 'F';
	case BYTES_ANY:
		return true;
	}
	return false;
}

static bool value_is_valid(enum value_kind kind, struct slice value)
{
	const struct value_rule *rule = &value_rules[kind];
	if (value.len < rule->min || value.len > rule->max)
		return false;
	for (size_t i = 0; i < value.len; i++) {
		if (!byte_in_class(value.data[i], rule->bytes))
			return false;
	}
	if (rule->bytes == BYTES_TEXT && value.len > 0)
		return g_utf8_validate_len((const char *)value.data, value.len, NULL);
	return true;
}

static struct slice arena_slice(struct arena *arena, const uint8_t *data, size_t len)
{
	/* NUL-terminated, so a caller may also use .data as a C string. */
	return (struct slice){ (const uint8_t *)arena_strndup(arena, data, len), len };
}

/* Validates one value and stores a copy of it (or its flags) in *query. */
static int field_store(struct arena *arena, const struct query_field *field, struct slice value,
		       struct http_query *query, const char **reason_out)
{
	if (!value_is_valid(field->kind, value)) {
		*reason_out = value_rules[field->kind].reason;
		return -1;
	}
	switch (field->kind) {
	case KIND_SAVE_IN_SENT:
		query->save_in_sent = value.data[0] == 'T';
		break;
	case KIND_OPTIONS:
		query->save_in_sent = (value.data[0] & OPTION_SAVE_IN_SENT) != 0;
		query->accept_multipart = (value.data[0] & OPTION_ACCEPT_MULTIPART) != 0;
		break;
	default:
		*(struct slice *)((char *)query + field->offset) =
			arena_slice(arena, value.data, value.len);
		break;
	}
	return 0;
}

/* Marks field index i as seen; a second sighting is an error. */
static int field_mark_seen(unsigned *seen, size_t i, const char **reason_out)
{
	if (*seen & (1u << i)) {
		*reason_out = "parameter_duplicated";
		return -1;
	}
	*seen |= 1u << i;
	return 0;
}

/* ---- plain-text form (2.2.1.1.1.2) ---- */

/* Names compare case-insensitively: clients send "DeviceID", "deviceId", ... */
static const struct query_field *field_by_name(const char *name, size_t len, size_t *index_out)
{
	for (size_t i = 0; i < FIELD_COUNT; i++) {
		const char *known = query_fields[i].name;
		if (known != NULL && strlen(known) == len && g_ascii_strncasecmp(known, name, len) == 0) {
			*index_out = i;
			return &query_fields[i];
		}
	}
	return NULL;
}

/* One "name=value" (or bare "name") segment; unknown names are ignored. */
static int plain_parameter(struct arena *arena, const char *start, const char *end, unsigned *seen,
			   struct http_query *query, const char **reason_out)
{
	const char *equals = memchr(start, '=', (size_t)(end - start));
	const char *name_end = equals != NULL ? equals : end;
	const char *value_start = equals != NULL ? equals + 1 : end;
	size_t field_index;
	const struct query_field *field = field_by_name(start, (size_t)(name_end - start), &field_index);
	if (field == NULL)
		return 0;
	if (field_mark_seen(seen, field_index, reason_out) < 0)
		return -1;
	/* GLib refuses bad escapes and %00; '+' stays '+' (it is not a form post). */
	char *decoded = g_uri_unescape_segment(value_start, end, NULL);
	if (decoded == NULL) {
		*reason_out = value_rules[field->kind].reason;
		return -1;
	}
	struct slice value = { (const uint8_t *)decoded, strlen(decoded) };
	int status = field_store(arena, field, value, query, reason_out);
	g_free(decoded);
	return status;
}

static int plain_parse(struct arena *arena, const char *raw, size_t len, struct http_query *query,
		       const char **reason_out)
{
	static const char *const missing[] = {
		[FIELD_CMD] = "command_missing",
		[FIELD_DEVICE_ID] = "device_id_missing",
		[FIELD_DEVICE_TYPE] = "device_type_missing",
	};
	unsigned seen = 0;
	const char *end = raw + len;
	for (const char *start = raw; start < end;) {
		const char *amp = memchr(start, '&', (size_t)(end - start));
		const char *stop = amp != NULL ? amp : end;
		/* Empty segments ("a=1&&b=2", a trailing '&') carry nothing. */
		if (stop > start && plain_parameter(arena, start, stop, &seen, query, reason_out) < 0)
			return -1;
		start = stop + 1;
	}
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		if (!(seen & (1u << i))) {
			*reason_out = missing[i];
			return -1;
		}
	}
	return 0;
}

/* ---- base64 form (2.2.1.1.1.1) ---- */

static bool is_base64_char(char c)
{
	return g_ascii_isalnum(c) || c == '+' || c == '/';
}

/*
 * RFC 4648 section 4 alphabet, then at most two '=' and nothing after them.
 * Padding may be missing (some clients strip it), but when present it must
 * complete a 4-character group. A lone character in the last group carries
 * fewer than 8 bits, so no byte: invalid either way.
 */
static bool base64_is_valid(const char *text, size_t len, size_t *data_len_out)
{
	size_t n = 0;
	while (n < len && is_base64_char(text[n]))
		n++;
	size_t padding = len - n;
	for (size_t i = n; i < len; i++) {
		if (text[i] != '=')
			return false;
	}
	if (padding > 2 || n % 4 == 1 || (padding > 0 && len % 4 != 0))
		return false;
	*data_len_out = n;
	return true;
}

/*
 * Percent-decodes (clients escape '+', '/' and '='), checks the alphabet,
 * and decodes into out, which holds LIMIT_QUERY_BYTES / 4 * 3 + 3 bytes.
 */
static int base64_decode(const char *raw, size_t len, uint8_t *out, size_t *out_len,
			 const char **reason_out)
{
	char *text = g_uri_unescape_segment(raw, raw + len, NULL);
	size_t data_len;
	if (text == NULL || !base64_is_valid(text, strlen(text), &data_len)) {
		g_free(text);
		*reason_out = "base64_invalid";
		return -1;
	}
	/* GLib keeps a partial last group in its state; padding flushes it. */
	static const char padding[] = "==";
	gint state = 0;
	guint save = 0;
	size_t n = g_base64_decode_step(text, data_len, out, &state, &save);
	if (data_len % 4 != 0)
		n += g_base64_decode_step(padding, 4 - data_len % 4, out + n, &state, &save);
	g_free(text);
	*out_len = n;
	return 0;
}

/* A cursor over the decoded bytes; running off the end is "truncated". */
struct reader {
	const uint8_t *data;
	size_t len;
	size_t at;
};

static int read_bytes(struct reader *r, size_t n, struct slice *out, const char **reason_out)
{
	if (r->len - r->at < n) {
		*reason_out = "base64_truncated";
		return -1;
	}
	*out = (struct slice){ r->data + r->at, n };
	r->at += n;
	return 0;
}

static int read_byte(struct reader *r, uint8_t *out, const char **reason_out)
{
	struct slice byte;
	if (read_bytes(r, 1, &byte, reason_out) < 0)
		return -1;
	*out = byte.data[0];
	return 0;
}

/* A length byte, then that many bytes. */
static int read_counted(struct reader *r, struct slice *out, const char **reason_out)
{
	uint8_t len;
	if (read_byte(r, &len, reason_out) < 0)
		return -1;
	return read_bytes(r, len, out, reason_out);
}

/*
 * The device id is a string or, from Windows Mobile and Windows Phone, a
 * binary GUID. Binary ids are shown as uppercase hex, so a 16-byte GUID
 * becomes 32 characters and still fits the plain form's 1*32 rule.
 */
static int device_id_store(struct arena *arena, struct slice id, struct http_query *query,
			   const char **reason_out)
{
	if (value_is_valid(KIND_DEVICE_ID, id)) {
		query->device_id = arena_slice(arena, id.data, id.len);
		return 0;
	}
	if (id.len == 0 || id.len * 2 > LIMIT_DEVICE_ID_BYTES) {
		*reason_out = "device_id_invalid";
		return -1;
	}
	static const char hex[] = "0123456789ABCDEF";
	char *text = arena_alloc(arena, id.len * 2 + 1);
	for (size_t i = 0; i < id.len; i++) {
		text[2 * i] = hex[id.data[i] >> 4];
		text[2 * i + 1] = hex[id.data[i] & 0x0F];
	}
	text[id.len * 2] = '\0';
	query->device_id = (struct slice){ (const uint8_t *)text, id.len * 2 };
	return 0;
}

/* Version, command code and locale: the first four bytes. */
static int base64_prefix(struct reader *r, struct http_query *query, const char **reason_out)
{
	uint8_t code;
	struct slice locale;
	if (read_byte(r, &query->protocol_version, reason_out) < 0 ||
	    read_byte(r, &code, reason_out) < 0 || read_bytes(r, 2, &locale, reason_out) < 0)
		return -1;
	/* Any non-zero version is kept: the caller knows which ones it serves. */
	if (query->protocol_version == 0) {
		*reason_out = "version_invalid";
		return -1;
	}
	const char *name = http_command_name(code);
	if (name == NULL) {
		*reason_out = "command_code_unknown";
		return -1;
	}
	query->command = slice_from_cstr(name);
	query->locale = (uint16_t)(locale.data[0] | locale.data[1] << 8);
	return 0;
}

/* Policy key length 0 or 4, then the key, little-endian (as grommunio-sync reads it). */
static int base64_policy_key(struct reader *r, struct http_query *query, const char **reason_out)
{
	struct slice key;
	if (read_counted(r, &key, reason_out) < 0)
		return -1;
	if (key.len != 0 && key.len != 4) {
		*reason_out = "policy_key_length_invalid";
		return -1;
	}
	query->has_policy_key = key.len == 4;
	if (query->has_policy_key)
		query->policy_key = (uint32_t)key.data[0] | (uint32_t)key.data[1] << 8 |
				    (uint32_t)key.data[2] << 16 | (uint32_t)key.data[3] << 24;
	return 0;
}

/* Everything before the Encoded Parameters. */
static int base64_header(struct arena *arena, struct reader *r, struct http_query *query,
			 const char **reason_out)
{
	struct slice device_id, device_type;
	if (base64_prefix(r, query, reason_out) < 0 || read_counted(r, &device_id, reason_out) < 0 ||
	    device_id_store(arena, device_id, query, reason_out) < 0 ||
	    base64_policy_key(r, query, reason_out) < 0 || read_counted(r, &device_type, reason_out) < 0)
		return -1;
	return field_store(arena, &query_fields[FIELD_DEVICE_TYPE], device_type, query, reason_out);
}

static const struct query_field *field_by_tag(uint8_t tag, size_t *index_out)
{
	for (size_t i = 0; i < FIELD_COUNT; i++) {
		if (query_fields[i].tag == tag) {
			*index_out = i;
			return &query_fields[i];
		}
	}
	return NULL;
}

/* Encoded Parameters (2.2.1.1.1.1.1): tag, length, value, to the end. */
static int base64_parameters(struct arena *arena, struct reader *r, struct http_query *query,
			     const char **reason_out)
{
	unsigned seen = 0;
	while (r->at < r->len) {
		uint8_t tag;
		size_t field_index;
		struct slice value;
		if (read_byte(r, &tag, reason_out) < 0)
			return -1;
		const struct query_field *field = field_by_tag(tag, &field_index);
		if (field == NULL) {
			*reason_out = "parameter_tag_unknown";
			return -1;
		}
		if (field_mark_seen(&seen, field_index, reason_out) < 0 || read_counted(r, &value, reason_out) < 0 ||
		    field_store(arena, field, value, query, reason_out) < 0)
			return -1;
	}
	return 0;
}

static int base64_parse(struct arena *arena, const char *raw, size_t len, struct http_query *query,
			const char **reason_out)
{
	uint8_t decoded[LIMIT_QUERY_BYTES / 4 * 3 + 3];
	size_t decoded_len;
	if (base64_decode(raw, len, decoded, &decoded_len, reason_out) < 0)
		return -1;
	struct reader r = { decoded, decoded_len, 0 };
	query->base64_form = true;
	if (base64_header(arena, &r, query, reason_out) < 0)
		return -1;
	return base64_parameters(arena, &r, query, reason_out);
}

/* ---- which form ---- */

/*
 * A base64 token has no '&' and no '=' except trailing padding, so either
 * means name=value pairs; so does a lone "Cmd=". Deciding on this rather
 * than on the presence of Cmd lets a plain query without Cmd be reported as
 * command_missing instead of base64_invalid.
 */
static bool looks_plain(const char *raw, size_t len)
{
	if (memchr(raw, '&', len) != NULL)
		return true;
	const char *equals = memchr(raw, '=', len);
	if (equals == NULL)
		return false;
	if (equals - raw == 3 && g_ascii_strncasecmp(raw, "Cmd", 3) == 0)
		return true;
	for (const char *p = equals; p < raw + len; p++) {
		if (*p != '=')
			return true;
	}
	return false;
}

int http_query_parse(struct arena *arena, const char *raw, size_t len,
		     struct http_query *query_out, const char **reason_out)
{
	const char *unused_reason;
	if (reason_out == NULL)
		reason_out = &unused_reason;
	assert(raw != NULL || len == 0);
	if (len == 0) {
		*reason_out = "query_empty";
		return -1;
	}
	if (len > LIMIT_QUERY_BYTES) {
		*reason_out = "query_too_long";
		return -1;
	}
	/* Built aside, so a failed parse leaves *query_out untouched. */
	struct http_query query = { 0 };
	int status = looks_plain(raw, len) ? plain_parse(arena, raw, len, &query, reason_out)
					   : base64_parse(arena, raw, len, &query, reason_out);
	if (status < 0)
		return -1;
	*query_out = query;
	return 0;
}
