/*
 * email_outgoing.c: a message a device sends, made ready for the relay
 * (see pim_outgoing_prepare in email.h). The device's MIME is kept as it
 * came (GMime's persistent parse writes untouched parts back byte for
 * byte); only the headers easd answers for change, and SmartReply and
 * SmartForward add the original from the store.
 *
 * Must not: know SMTP or the store.
 */
#include "pim/pim_private.h"

#include <string.h>
#include <strings.h>

/* ---- envelope recipients ---- */

struct recipients {
	struct arena *arena;
	const char **list;
	size_t count, capacity;
	size_t invalid;
};

/* user@domain within RFC 5321's bounds, without spaces, controls or brackets. */
static bool address_is_valid(const char *address)
{
	size_t len = strlen(address);
	const char *at = strrchr(address, '@');
	if (len == 0 || len > LIMIT_SEND_ADDRESS_BYTES || at == NULL || at == address || at[1] == '\0')
		return false;
	for (const char *c = address; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '<' || *c == '>')
			return false;
	return true;
}

static void add_recipient(struct recipients *r, const char *address)
{
	if (address == NULL || !address_is_valid(address)) {
		r->invalid++;
		return;
	}
	for (size_t i = 0; i < r->count; i++)
		if (strcasecmp(r->list[i], address) == 0)
			return;
	if (r->count == r->capacity) {
		size_t capacity = r->capacity == 0 ? 8 : r->capacity * 2;
		const char **list = arena_alloc(r->arena, capacity * sizeof(*list));
		if (r->count > 0)
			memcpy(list, r->list, r->count * sizeof(*list));
		r->list = list;
		r->capacity = capacity;
	}
	r->list[r->count++] = arena_strndup(r->arena, address, strlen(address));
}

/* Mailboxes of the list, and of the groups in it (RFC 5322 3.4). */
static void add_list(struct recipients *r, InternetAddressList *list, int depth)
{
	for (int i = 0; list != NULL && i < internet_address_list_length(list); i++) {
		InternetAddress *address = internet_address_list_get_address(list, i);
		if (INTERNET_ADDRESS_IS_MAILBOX(address))
			add_recipient(r, internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address)));
		else if (INTERNET_ADDRESS_IS_GROUP(address) && depth == 0)
			add_list(r, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(address)), 1);
	}
}

/* A reply does not go back to its sender (Reply All lists them) while anyone else receives it. */
static void drop_sender(struct recipients *r, const char *sender)
{
	size_t kept = 0;
	for (size_t i = 0; i < r->count; i++)
		if (strcasecmp(r->list[i], sender) != 0)
			r->list[kept++] = r->list[i];
	if (kept > 0)
		r->count = kept;
}

static void read_recipients(struct arena *arena, GMimeMessage *message, const struct pim_outgoing_options *options,
			    struct pim_outgoing *out)
{
	struct recipients r = { .arena = arena };
	static const GMimeAddressType types[] = { GMIME_ADDRESS_TYPE_TO, GMIME_ADDRESS_TYPE_CC, GMIME_ADDRESS_TYPE_BCC };
	static const char *const names[] = { "To", "Cc", "Bcc" };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		InternetAddressList *list = g_mime_message_get_addresses(message, types[i]);
		const char *raw = g_mime_object_get_header(GMIME_OBJECT(message), names[i]);
		/* Text where GMime finds no address at all is a recipient the user mistyped. */
		if (internet_address_list_length(list) == 0 && raw != NULL && raw[strspn(raw, " \t\r\n")] != '\0')
			r.invalid++;
		add_list(&r, list, 0);
	}
	bool reply = options->is_reply || options->kind == PIM_OUTGOING_REPLY ||
		     g_mime_object_get_header(GMIME_OBJECT(message), "In-Reply-To") != NULL;
	if (reply)
		drop_sender(&r, options->sender);
	out->recipients = r.list;
	out->recipient_count = r.count;
	out->invalid_recipients = r.invalid;
}

/* ---- headers easd answers for ---- */

/* From is the user, whatever the device wrote there; its display name stays. */
static void set_from(GMimeMessage *message, const char *sender)
{
	InternetAddressList *from = g_mime_message_get_from(message);
	const char *name = NULL;
	for (int i = 0; i < internet_address_list_length(from); i++) {
		InternetAddress *address = internet_address_list_get_address(from, i);
		if (INTERNET_ADDRESS_IS_MAILBOX(address) &&
		    strcasecmp(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address)), sender) == 0 &&
		    internet_address_list_length(from) == 1)
			return;
		if (name == NULL)
			name = internet_address_get_name(address);
	}
	InternetAddress *user = internet_address_mailbox_new(name, sender);
	internet_address_list_clear(from);
	internet_address_list_add(from, user);
	g_object_unref(user);
}

static void add_forwardees(GMimeMessage *message, const struct pim_outgoing_options *options)
{
	InternetAddressList *to = g_mime_message_get_addresses(message, GMIME_ADDRESS_TYPE_TO);
	for (size_t i = 0; i < options->forwardee_count; i++) {
		InternetAddress *address = internet_address_mailbox_new(NULL, options->forwardees[i]);
		internet_address_list_add(to, address);
		g_object_unref(address);
	}
}

static void set_identity(GMimeMessage *message, const struct pim_outgoing_options *options)
{
	set_from(message, options->sender);
	if (g_mime_message_get_message_id(message) == NULL) {
		const char *at = strrchr(options->sender, '@');
		char *id = g_mime_utils_generate_message_id(at != NULL ? at + 1 : "localhost");
		g_mime_message_set_message_id(message, id);
		g_free(id);
	}
	if (g_mime_message_get_date(message) == NULL) {
		GDateTime *date = g_date_time_new_from_unix_utc(options->now);
		g_mime_message_set_date(message, date);
		g_date_time_unref(date);
	}
}

/* In-Reply-To and References name the original (RFC 5322 3.6.4), unless the device set them. */
static void set_thread(GMimeMessage *message, GMimeMessage *original)
{
	const char *id = g_mime_message_get_message_id(original);
	if (id == NULL || g_mime_object_get_header(GMIME_OBJECT(message), "In-Reply-To") != NULL)
		return;
	char *quoted = g_strdup_printf("<%s>", id);
	const char *references = g_mime_object_get_header(GMIME_OBJECT(original), "References");
	char *chain = references != NULL ? g_strdup_printf("%s %s", references, quoted) : g_strdup(quoted);
	g_mime_object_set_header(GMIME_OBJECT(message), "In-Reply-To", quoted, NULL);
	g_mime_object_set_header(GMIME_OBJECT(message), "References", chain, NULL);
	g_free(chain);
	g_free(quoted);
}

/* ---- the original under the device's text ---- */

static void set_part_text(GMimePart *part, const char *text)
{
	g_mime_text_part_set_text(GMIME_TEXT_PART(part), text);
	g_mime_part_set_content_encoding(part, g_mime_part_get_best_content_encoding(part, GMIME_ENCODING_CONSTRAINT_7BIT));
}

/* "> " before each line of text (RFC 3676 4.5 quoting). */
static void append_quoted(GString *out, const char *text)
{
	while (*text != '\0') {
		size_t line = strcspn(text, "\n");
		g_string_append(out, "> ");
		g_string_append_len(out, text, (gssize)line);
		g_string_append(out, "\r\n");
		text += line;
		if (*text == '\n')
			text++;
	}
}

static void add_plain(struct arena *arena, struct pim_message *message, const struct pim_message *original, bool quote)
{
	if (message->plain == NULL || !GMIME_IS_TEXT_PART(message->plain))
		return;
	GString *text = g_string_new(pim_message_text(arena, message, PIM_BODY_PLAIN, LIMIT_SEND_ORIGINAL_TEXT_BYTES));
	const char *theirs = pim_message_text(arena, original, PIM_BODY_PLAIN, LIMIT_SEND_ORIGINAL_TEXT_BYTES);
	g_string_append(text, "\r\n\r\n");
	if (quote)
		append_quoted(text, theirs);
	else
		g_string_append(text, theirs);
	set_part_text(message->plain, text->str);
	g_string_free(text, TRUE);
}

/* The original's HTML goes before the device's </body> (or at its end), in a blockquote for a reply. */
static void add_html(struct arena *arena, struct pim_message *message, const struct pim_message *original, bool quote)
{
	if (message->html == NULL || !GMIME_IS_TEXT_PART(message->html))
		return;
	const char *mine = pim_message_text(arena, message, PIM_BODY_HTML, LIMIT_SEND_ORIGINAL_TEXT_BYTES);
	const char *theirs = pim_message_text(arena, original, PIM_BODY_HTML, LIMIT_SEND_ORIGINAL_TEXT_BYTES);
	const char *end = g_strrstr(mine, "</body>");
	if (end == NULL)
		end = g_strrstr(mine, "</BODY>");
	size_t head = end != NULL ? (size_t)(end - mine) : strlen(mine);
	GString *html = g_string_new_len(mine, (gssize)head);
	g_string_append(html, quote ? "<blockquote type=\"cite\">" : "<br>");
	g_string_append(html, theirs);
	g_string_append(html, quote ? "</blockquote>" : "");
	g_string_append(html, mine + head);
	set_part_text(message->html, html->str);
	g_string_free(html, TRUE);
}

/* The multipart/mixed at the message's root, made so when it is not. */
static GMimeMultipart *mixed_root(GMimeMessage *message)
{
	GMimeObject *root = g_mime_message_get_mime_part(message);
	if (GMIME_IS_MULTIPART(root) && g_mime_content_type_is_type(g_mime_object_get_content_type(root), "multipart", "mixed"))
		return GMIME_MULTIPART(root);
	GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
	if (root != NULL)
		g_mime_multipart_add(mixed, root);
	g_mime_message_set_mime_part(message, GMIME_OBJECT(mixed));
	g_object_unref(mixed);
	return mixed;
}

static void add_original(struct arena *arena, struct pim_message *message, const struct pim_message *original,
			 enum pim_outgoing_kind kind)
{
	bool reply = kind == PIM_OUTGOING_REPLY;
	add_plain(arena, message, original, reply);
	add_html(arena, message, original, reply);
	if (reply) {
		set_thread(message->message, original->message);
		return;
	}
	if (original->attachment_count == 0)
		return;
	GMimeMultipart *mixed = mixed_root(message->message);
	for (unsigned i = 0; i < original->attachment_count; i++)
		g_mime_multipart_add(mixed, original->attachments[i]);
}

/* ---- writing ---- */

/* The message as bytes in arena, every line ending CRLF (SMTP wants no bare LF). */
static const uint8_t *write_message(struct arena *arena, GMimeMessage *message, size_t *len_out)
{
	GMimeStream *stream = g_mime_stream_mem_new();
	GMimeFormatOptions *format = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(format, GMIME_NEWLINE_FORMAT_DOS);
	g_mime_object_write_to_stream(GMIME_OBJECT(message), format, stream);
	g_mime_format_options_free(format);
	GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
	size_t bare = 0;
	for (guint i = 0; i < bytes->len; i++)
		bare += bytes->data[i] == '\n' && (i == 0 || bytes->data[i - 1] != '\r');
	uint8_t *out = arena_alloc(arena, bytes->len + bare + 1);
	size_t n = 0;
	for (guint i = 0; i < bytes->len; i++) {
		if (bytes->data[i] == '\n' && (i == 0 || bytes->data[i - 1] != '\r'))
			out[n++] = '\r';
		out[n++] = bytes->data[i];
	}
	g_object_unref(stream);
	*len_out = n;
	return out;
}

int pim_outgoing_prepare(struct arena *arena, const uint8_t *mime, size_t len,
			 const struct pim_outgoing_options *options, struct pim_outgoing *out)
{
	struct pim_message message, original;
	memset(out, 0, sizeof(*out));
	pim_init();
	if (len == 0 || pim_message_parse(arena, pim_memory_stream(arena, mime, len), &message) < 0)
		return -1;
	set_identity(message.message, options);
	add_forwardees(message.message, options);
	if (options->kind != PIM_OUTGOING_NEW && options->original != NULL &&
	    pim_message_parse(arena, pim_memory_stream(arena, options->original, options->original_len), &original) == 0)
		add_original(arena, &message, &original, options->kind);
	read_recipients(arena, message.message, options, out);
	out->message_id = pim_utf8_copy(arena, g_mime_message_get_message_id(message.message));
	out->date = g_date_time_to_unix(g_mime_message_get_date(message.message));
	out->copy = write_message(arena, message.message, &out->copy_len);
	g_mime_object_remove_header(GMIME_OBJECT(message.message), "Bcc");
	out->wire = write_message(arena, message.message, &out->wire_len);
	return 0;
}
