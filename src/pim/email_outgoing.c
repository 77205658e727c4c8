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
	size_t max;  /* one past it is enough to refuse: a huge To: costs no more */
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
	if (r->max > 0 && r->count > r->max)
		return;
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

static void count_warning(gint64 offset, GMimeParserWarning warning, const gchar *item, gpointer context)
{
	(void)offset;
	(void)item;
	if (warning == GMIME_WARN_INVALID_ADDRESS_LIST)
		(*(size_t *)context)++;
}

/*
 * Entries of an address header GMime could not read: it drops them from
 * the list without a word, so "bob@example.org, bbo@" would go to bob
 * alone while the user believes it went to both. Text where GMime finds no
 * address at all counts as one.
 */
static size_t unreadable_addresses(const char *raw, int readable)
{
	size_t unreadable = 0;
	if (raw == NULL || raw[strspn(raw, " \t\r\n")] == '\0')
		return 0;
	GMimeParserOptions *options = g_mime_parser_options_new();
	g_mime_parser_options_set_warning_callback(options, count_warning, &unreadable);
	InternetAddressList *list = internet_address_list_parse(options, raw);
	if (list != NULL)
		g_object_unref(list);
	g_mime_parser_options_free(options);
	return unreadable > 0 ? unreadable : readable == 0 ? 1 : 0;
}

static void read_recipients(struct arena *arena, GMimeMessage *message, const struct pim_outgoing_options *options,
			    struct pim_outgoing *out)
{
	struct recipients r = { .arena = arena, .max = options->max_recipients };
	static const GMimeAddressType types[] = { GMIME_ADDRESS_TYPE_TO, GMIME_ADDRESS_TYPE_CC, GMIME_ADDRESS_TYPE_BCC };
	static const char *const names[] = { "To", "Cc", "Bcc" };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		InternetAddressList *list = g_mime_message_get_addresses(message, types[i]);
		r.invalid += unreadable_addresses(g_mime_object_get_header(GMIME_OBJECT(message), names[i]),
						  internet_address_list_length(list));
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

static int header_count(GMimeObject *object, const char *name)
{
	GMimeHeaderList *headers = g_mime_object_get_header_list(object);
	int count = 0;
	for (int i = 0; i < g_mime_header_list_get_count(headers); i++)
		count += g_ascii_strcasecmp(g_mime_header_get_name(g_mime_header_list_get_header_at(headers, i)), name) == 0;
	return count;
}

/*
 * From is the user, whatever the device wrote there; its display name
 * stays. Setting it leaves one From header: a second one GMime could not
 * read is in no list, yet would be written.
 */
static void set_from(GMimeMessage *message, const char *sender)
{
	InternetAddressList *from = g_mime_message_get_from(message);
	const char *name = NULL;
	bool one_header = header_count(GMIME_OBJECT(message), "From") == 1;
	for (int i = 0; i < internet_address_list_length(from); i++) {
		InternetAddress *address = internet_address_list_get_address(from, i);
		if (one_header && INTERNET_ADDRESS_IS_MAILBOX(address) &&
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

/* Forwardees join To; one that is no address is counted, not written (it would be read again as To). */
static size_t add_forwardees(GMimeMessage *message, const struct pim_outgoing_options *options)
{
	InternetAddressList *to = g_mime_message_get_addresses(message, GMIME_ADDRESS_TYPE_TO);
	size_t invalid = 0;
	for (size_t i = 0; i < options->forwardee_count; i++) {
		if (!address_is_valid(options->forwardees[i])) {
			invalid++;
			continue;
		}
		InternetAddress *address = internet_address_mailbox_new(NULL, options->forwardees[i]);
		internet_address_list_add(to, address);
		g_object_unref(address);
	}
	return invalid;
}

/*
 * A header cut short (the message ends inside it, or a NUL ends GMime's
 * copy of it) has no line end, and GMime writes what follows straight
 * after it: the headers easd adds ("Subject: HiFrom: ..."), or, after the
 * root part's headers, the body without its blank line, its first lines
 * read as headers.
 */
static void end_header_lines(GMimeObject *object)
{
	if (object == NULL)
		return;
	GMimeHeaderList *headers = g_mime_object_get_header_list(object);
	for (int i = 0; i < g_mime_header_list_get_count(headers); i++) {
		GMimeHeader *header = g_mime_header_list_get_header_at(headers, i);
		const char *raw = g_mime_header_get_raw_value(header);
		if (raw == NULL || (raw[0] != '\0' && raw[strlen(raw) - 1] == '\n'))
			continue;
		char *ended = g_strconcat(raw, "\n", NULL);
		g_mime_header_set_raw_value(header, ended);
		g_free(ended);
	}
}

static bool set_identity(GMimeMessage *message, const struct pim_outgoing_options *options)
{
	bool made = false;
	set_from(message, options->sender);
	/* "Message-ID: <>" is none, and kept would make every such message the same send key. */
	const char *sent_id = g_mime_message_get_message_id(message);
	if (sent_id == NULL || sent_id[0] == '\0') {
		const char *at = strrchr(options->sender, '@');
		char *id = g_mime_utils_generate_message_id(at != NULL ? at + 1 : "localhost");
		g_mime_message_set_message_id(message, id);
		g_free(id);
		made = true;
	}
	if (g_mime_message_get_date(message) == NULL) {
		GDateTime *date = g_date_time_new_from_unix_utc(options->now);
		g_mime_message_set_date(message, date);
		g_date_time_unref(date);
	}
	return made;
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

const uint8_t *pim_message_bytes(struct arena *arena, GMimeMessage *message, size_t *len_out)
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
	end_header_lines(GMIME_OBJECT(message.message));
	end_header_lines(g_mime_message_get_mime_part(message.message));
	bool message_id_made = set_identity(message.message, options);
	size_t invalid_forwardees = add_forwardees(message.message, options);
	if (options->kind != PIM_OUTGOING_NEW && options->original != NULL &&
	    pim_message_parse(arena, pim_memory_stream(arena, options->original, options->original_len), &original) == 0)
		add_original(arena, &message, &original, options->kind);
	read_recipients(arena, message.message, options, out);
	out->invalid_recipients += invalid_forwardees;
	out->message_id = pim_utf8_copy(arena, g_mime_message_get_message_id(message.message));
	out->message_id_made = message_id_made;
	out->date = g_date_time_to_unix(g_mime_message_get_date(message.message));
	out->copy = pim_message_bytes(arena, message.message, &out->copy_len);
	/* GMime removes one header at a time; a second Bcc on the wire would show them all. */
	while (g_mime_object_remove_header(GMIME_OBJECT(message.message), "Bcc"))
		continue;
	out->wire = pim_message_bytes(arena, message.message, &out->wire_len);
	return 0;
}
