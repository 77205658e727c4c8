/*
 * email_draft.c: a draft the client creates with a Sync Add in the Drafts
 * folder (EAS 16.0, 16.1: MS-ASEMAIL email2:Bcc, email2:Send; MS-ASAIRS
 * 2.2.2.2 attachment Add), read from its ApplicationData and composed as
 * an RFC 5322 message with GMime.
 *
 * Owns: which draft fields are kept and their ranges; the MIME shape of a
 * draft (body, then attachments in the client's order, so that the
 * numbering pim_email_write gives them is the client's).
 * Must not: store the draft, answer the Sync (src/eas/ maps the status),
 * or write MIME by hand: every header and part goes through GMime.
 *
 * Reading goes on after an invalid value to the end of ApplicationData,
 * keeping nothing more, so that one bad item costs its own Status 6 and
 * not the whole request; only broken WBXML stops at once.
 */
#include "pim/pim_private.h"

#include <string.h>

/* Attachments a draft has room for at first; the array doubles in the arena. */
#define FIRST_ATTACHMENTS 4

struct draft_reader {
	struct wbxml_reader *reader;
	struct arena *arena;
	struct pim_email_draft *draft;
	size_t kept;               /* bytes kept, against LIMIT_DRAFT_BYTES */
	unsigned attachment_room;
};

/* The first invalid value names the failure; reading goes on. */
static void invalid(struct draft_reader *d, const char *reason)
{
	if (d->draft->invalid_reason == NULL)
		d->draft->invalid_reason = reason;
}

static bool failed(const struct draft_reader *d)
{
	return d->draft->invalid_reason != NULL;
}

/*
 * The content of the element whose START was just read, up to its END:
 * strings and opaque data alike (a client may send either for Content or
 * Data), children skipped. Beyond LIMIT_DRAFT_BYTES for the whole draft,
 * or once the draft is invalid, nothing is kept. *text_out is
 * NUL-terminated in the arena. Returns 0 or a wbxml status.
 */
static int read_value(struct draft_reader *d, struct slice *text_out)
{
	size_t room = failed(d) ? 0 : LIMIT_DRAFT_BYTES - d->kept;
	int status = pim_read_element_text(d->reader, d->arena, room, text_out);
	if (status == 1 && room > 0)
		invalid(d, "draft_too_large");
	d->kept += text_out->len;
	return status < 0 ? status : 0;
}

static int read_string(struct draft_reader *d, const char **string_out)
{
	struct slice text;
	int status = read_value(d, &text);
	*string_out = (const char *)text.data;
	return status;
}

/* An element holding a number from 0 to max; another value makes the draft invalid. */
static int read_number(struct draft_reader *d, uint64_t max, const char *reason, uint64_t *value_out)
{
	struct slice text;
	int status = read_value(d, &text);
	if (status == 0 && !failed(d) && parse_uint64(text, max, value_out) < 0)
		invalid(d, reason);
	return status;
}

/* MS-ASAIRS 2.2.2.9: Type and Data; EstimatedDataSize, Truncated, Preview are the server's. */
static int read_body(struct draft_reader *d)
{
	struct wbxml_event event;
	uint64_t type = 0;
	int more, status;
	while ((more = wbxml_reader_next_child(d->reader, &event)) > 0) {
		if (event.tag == WBXML_AIRSYNCBASE_TYPE)
			status = read_number(d, UINT8_MAX, "draft_body_type", &type);
		else if (event.tag == WBXML_AIRSYNCBASE_DATA)
			status = read_string(d, &d->draft->body);
		else
			status = wbxml_reader_skip(d->reader);
		if (status < 0)
			return status;
	}
	if (more < 0)
		return more;
	/* A draft's body is text or HTML; RTF and MIME (3, 4) would need a
	   converter easd does not have, and Type is required. */
	if (type != PIM_BODY_PLAIN && type != PIM_BODY_HTML)
		invalid(d, "draft_body_type");
	d->draft->body_type = (uint8_t)type;
	return 0;
}

/* As for a Change (email_change.c): Status 0 to 2, the task fields not kept. */
static int read_flag(struct draft_reader *d)
{
	struct wbxml_event event;
	uint64_t flag_status = 0;
	int more, status;
	while ((more = wbxml_reader_next_child(d->reader, &event)) > 0) {
		if (event.tag == WBXML_EMAIL_STATUS)
			status = read_number(d, 2, "draft_flag_status", &flag_status);
		else
			status = wbxml_reader_skip(d->reader);
		if (status < 0)
			return status;
	}
	if (more < 0)
		return more;
	d->draft->flag_status = (uint8_t)flag_status;
	return 0;
}

static int read_categories(struct draft_reader *d)
{
	struct wbxml_event event;
	unsigned count = 0;
	int more, status;
	while ((more = wbxml_reader_next_child(d->reader, &event)) > 0) {
		const char *category = "";
		if (event.tag == WBXML_EMAIL_CATEGORY && count < 8)
			status = read_string(d, &category);
		else
			status = wbxml_reader_skip(d->reader);
		if (status < 0)
			return status;
		/* As long as a Change may set one (email_change.c), so both keep the same. */
		if (strlen(category) > LIMIT_CHANGE_VALUE_BYTES)
			invalid(d, "draft_category_too_long");
		else if (category[0] != '\0')
			d->draft->categories[count++] = category;
	}
	if (more < 0)
		return more;
	for (unsigned i = count; i < 8; i++)
		d->draft->categories[i] = NULL;
	return 0;
}

static struct pim_draft_attachment *new_attachment(struct draft_reader *d)
{
	struct pim_email_draft *draft = d->draft;
	draft->attachments = arena_grow(d->arena, draft->attachments, sizeof(*draft->attachments),
					draft->attachment_count, &d->attachment_room, FIRST_ATTACHMENTS);
	return &draft->attachments[draft->attachment_count];
}

/*
 * MS-ASAIRS 2.2.2.2: ClientId, Content, DisplayName and Method are
 * required, ContentId, ContentLocation, ContentType, IsInline optional.
 * Without ClientId the response cannot name the attachment and without
 * Content there is nothing to attach: both make the draft invalid. A
 * missing DisplayName or Method takes a default instead (compose names
 * the part; Method 1).
 */
static int read_attachment_add(struct draft_reader *d)
{
	struct wbxml_event event;
	struct pim_draft_attachment a = {
		.client_id = "", .display_name = "", .content_type = "", .content_id = "",
		.content_location = "", .content = { (const uint8_t *)"", 0 }, .method = 1,
	};
	uint64_t method = 1, is_inline = 0;
	bool has_content = false;
	int more, status;
	while ((more = wbxml_reader_next_child(d->reader, &event)) > 0) {
		switch (event.tag) {
		case WBXML_AIRSYNCBASE_CLIENT_ID: status = read_string(d, &a.client_id); break;
		case WBXML_AIRSYNCBASE_DISPLAY_NAME: status = read_string(d, &a.display_name); break;
		case WBXML_AIRSYNCBASE_CONTENT_TYPE: status = read_string(d, &a.content_type); break;
		case WBXML_AIRSYNCBASE_CONTENT_ID: status = read_string(d, &a.content_id); break;
		case WBXML_AIRSYNCBASE_CONTENT_LOCATION: status = read_string(d, &a.content_location); break;
		case WBXML_AIRSYNCBASE_CONTENT:
			status = read_value(d, &a.content);
			has_content = true;
			break;
		case WBXML_AIRSYNCBASE_METHOD: status = read_number(d, 6, "draft_attachment_method", &method); break;
		case WBXML_AIRSYNCBASE_IS_INLINE: status = read_number(d, 1, "draft_attachment_is_inline", &is_inline); break;
		default: status = wbxml_reader_skip(d->reader); break;
		}
		if (status < 0)
			return status;
	}
	if (more < 0)
		return more;
	if (failed(d))
		return 0;
	if (a.client_id[0] == '\0' || !has_content) {
		invalid(d, "draft_attachment_incomplete");
		return 0;
	}
	if (d->draft->attachment_count == LIMIT_MIME_ATTACHMENTS) {
		invalid(d, "draft_too_many_attachments");
		return 0;
	}
	a.method = (uint8_t)method;
	a.is_inline = is_inline == 1;
	*new_attachment(d) = a;
	d->draft->attachment_count++;
	return 0;
}

/* MS-ASAIRS 2.2.2.8: Add in a request; Delete names a FileReference of an existing item. */
static int read_attachments(struct draft_reader *d)
{
	struct wbxml_event event;
	int more, status;
	while ((more = wbxml_reader_next_child(d->reader, &event)) > 0) {
		if (event.tag == WBXML_AIRSYNCBASE_ADD)
			status = read_attachment_add(d);
		else
			status = wbxml_reader_skip(d->reader);
		if (status < 0)
			return status;
	}
	return more;
}

int pim_email_read_draft(struct wbxml_reader *reader, struct arena *arena, struct pim_email_draft *draft_out)
{
	struct pim_email_draft *draft = draft_out;
	*draft = (struct pim_email_draft){
		.to = "", .cc = "", .bcc = "", .subject = "", .body = "", .importance = 1, .read = true,
	};
	struct draft_reader d = { .reader = reader, .arena = arena, .draft = draft };
	struct wbxml_event event;
	uint64_t number;
	int more, status;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		switch (event.tag) {
		case WBXML_EMAIL_TO: status = read_string(&d, &draft->to); break;
		case WBXML_EMAIL_CC: status = read_string(&d, &draft->cc); break;
		case WBXML_EMAIL2_BCC: status = read_string(&d, &draft->bcc); break;
		case WBXML_EMAIL_SUBJECT: status = read_string(&d, &draft->subject); break;
		case WBXML_EMAIL_IMPORTANCE:
			number = 1;
			status = read_number(&d, 2, "draft_importance", &number);
			draft->importance = (uint8_t)number;
			break;
		case WBXML_EMAIL_READ:
			number = 1;
			status = read_number(&d, 1, "draft_read", &number);
			draft->read = number == 1;
			draft->fields |= PIM_EMAIL_FIELD_READ;
			break;
		case WBXML_EMAIL_FLAG:
			status = read_flag(&d);
			draft->fields |= PIM_EMAIL_FIELD_FLAG;
			break;
		case WBXML_EMAIL_CATEGORIES:
			status = read_categories(&d);
			draft->fields |= PIM_EMAIL_FIELD_CATEGORIES;
			break;
		case WBXML_AIRSYNCBASE_BODY: status = read_body(&d); break;
		case WBXML_AIRSYNCBASE_ATTACHMENTS: status = read_attachments(&d); break;
		default: status = wbxml_reader_skip(reader); break;
		}
		if (status < 0)
			return status;
	}
	if (more < 0)
		return more;
	return failed(&d) ? PIM_DRAFT_INVALID : 0;
}

/* ---- composing ---- */

/* Valid UTF-8 as it is, else cleaned (pim_utf8_copy reads stray bytes as Latin-1). */
static const char *utf8(struct arena *arena, const char *s)
{
	return g_utf8_validate(s, -1, NULL) ? s : pim_utf8_copy(arena, s);
}

/*
 * Text for a header field: UTF-8 with every control character (C0 and
 * DEL) made a space. GMime 3.2 writes a parameter value (a file name)
 * with its CR and LF as they are, so a DisplayName holding "\r\n\r\n"
 * ended the part's header block and its text became the content: a
 * device could forge headers and parts. No header value needs a control
 * character; RFC 5322 folding is GMime's job.
 */
static const char *header_text(struct arena *arena, const char *s)
{
	const char *clean = utf8(arena, s);
	size_t len = strlen(clean), i = 0;
	while (i < len && (unsigned char)clean[i] >= 0x20 && clean[i] != 0x7f)
		i++;
	if (i == len)
		return clean;
	char *out = arena_strndup(arena, clean, len);
	for (; i < len; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = ' ';
	return out;
}

/*
 * Outlook and Exchange separate recipients with ";" (MS-ASEMAIL To: "one
 * or more ... separated by commas", but devices copy what the user typed),
 * and GMime reads ";" as the end of a group and drops what follows. So a
 * ";" outside quotes, comments and angle brackets becomes ",", unless the
 * list has a group ("name: members;"), whose ";" it needs.
 */
/*
 * Walks the list outside quoted strings, comments and angle brackets:
 * returns whether it has a group's ":", and with replace turns each ";"
 * there into ",".
 */
static bool scan_separators(char *list, bool replace)
{
	bool quoted = false, group = false;
	unsigned comment = 0, angle = 0;
	for (char *c = list; *c != '\0'; c++) {
		if (quoted) {
			if (*c == '\\' && c[1] != '\0')
				c++;
			else if (*c == '"')
				quoted = false;
		} else if (*c == '"') {
			quoted = true;
		} else if (*c == '(') {
			comment++;
		} else if (*c == ')' && comment > 0) {
			comment--;
		} else if (comment > 0) {
			continue;
		} else if (*c == '<') {
			angle++;
		} else if (*c == '>' && angle > 0) {
			angle--;
		} else if (angle == 0 && *c == ':') {
			group = true;
		} else if (angle == 0 && *c == ';' && replace) {
			*c = ',';
		}
	}
	return group;
}

static char *commas(struct arena *arena, const char *list)
{
	char *out = arena_strndup(arena, list, strlen(list));
	if (!scan_separators(out, false))
		scan_separators(out, true);
	return out;
}

static void add_addresses(struct arena *arena, InternetAddressList *to, const char *text)
{
	if (text == NULL || text[0] == '\0')
		return;
	InternetAddressList *parsed = internet_address_list_parse(NULL, commas(arena, header_text(arena, text)));
	if (parsed == NULL)
		return;
	internet_address_list_append(to, parsed);
	g_object_unref(parsed);
}

/* The domain of the first mailbox, for the Message-ID; NULL without one. */
static char *from_domain(struct arena *arena, InternetAddressList *from)
{
	if (internet_address_list_length(from) == 0)
		return NULL;
	InternetAddress *address = internet_address_list_get_address(from, 0);
	if (!INTERNET_ADDRESS_IS_MAILBOX(address))
		return NULL;
	const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address));
	const char *at = addr != NULL ? strrchr(addr, '@') : NULL;
	if (at == NULL || at[1] == '\0')
		return NULL;
	return arena_strndup(arena, at + 1, strlen(at + 1));
}

/* Frees the GByteArray but not the bytes: they are the arena's. */
static void release_array(void *array)
{
	g_byte_array_free(array, FALSE);
}

/* GMime content over bytes in the arena, without a copy. */
static GMimeDataWrapper *content_over(struct arena *arena, const void *data, size_t len)
{
	GMimeStream *stream;
	if (len == 0) {
		stream = g_mime_stream_mem_new();
	} else {
		GByteArray *array = g_byte_array_new_take((guint8 *)(uintptr_t)data, len);
		arena_on_free(arena, release_array, array);
		stream = g_mime_stream_mem_new_with_byte_array(array);
		g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
	}
	pim_arena_unref(arena, stream);
	GMimeDataWrapper *wrapper = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
	pim_arena_unref(arena, wrapper);
	return wrapper;
}

/*
 * The body in UTF-8 (RFC 2046 4.1.2), with the transfer encoding GMime
 * finds best for 7-bit transport: 7bit, quoted-printable or base64.
 */
static GMimeObject *body_part(struct arena *arena, const struct pim_email_draft *draft)
{
	const char *text = utf8(arena, draft->body);
	GMimePart *part = GMIME_PART(g_mime_text_part_new_with_subtype(
		draft->body_type == PIM_BODY_HTML ? "html" : "plain"));
	pim_arena_unref(arena, part);
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", "utf-8");
	g_mime_part_set_content(part, content_over(arena, text, strlen(text)));
	g_mime_part_set_content_encoding(part, g_mime_part_get_best_content_encoding(part, GMIME_ENCODING_CONSTRAINT_7BIT));
	return GMIME_OBJECT(part);
}

/*
 * The client's ContentType when GMime reads it as a leaf type, else
 * application/octet-stream. A message/ or multipart/ type would make the
 * base64 bytes be parsed as MIME structure (and RFC 2046 5.2.1 forbids
 * base64 for message/rfc822), so an embedded message (Method 5) is sent
 * as bytes too.
 */
static GMimeContentType *attachment_type(struct arena *arena, const char *given)
{
	GMimeContentType *type = NULL;
	if (given[0] != '\0')
		type = g_mime_content_type_parse(NULL, header_text(arena, given));
	if (type != NULL && (g_mime_content_type_is_type(type, "message", "*") ||
			     g_mime_content_type_is_type(type, "multipart", "*") ||
			     g_mime_content_type_get_media_type(type) == NULL ||
			     g_mime_content_type_get_media_subtype(type) == NULL)) {
		g_object_unref(type);
		type = NULL;
	}
	if (type == NULL)
		type = g_mime_content_type_new("application", "octet-stream");
	pim_arena_unref(arena, type);
	return type;
}

/* RFC 2392: Content-ID is "<id>"; clients send the id with or without the brackets. */
static const char *bare_content_id(struct arena *arena, const char *id)
{
	size_t len = strlen(id);
	if (len >= 2 && id[0] == '<' && id[len - 1] == '>')
		return arena_strndup(arena, id + 1, len - 2);
	return id;
}

static GMimeObject *attachment_part(struct arena *arena, const struct pim_draft_attachment *a, unsigned index)
{
	GMimePart *part = g_mime_part_new();
	pim_arena_unref(arena, part);
	GMimeObject *object = GMIME_OBJECT(part);
	g_mime_object_set_content_type(object, attachment_type(arena, a->content_type));
	g_mime_object_set_disposition(object, a->is_inline ? GMIME_DISPOSITION_INLINE : GMIME_DISPOSITION_ATTACHMENT);
	/* Named always: email_mime.c's walk takes an unnamed inline text part
	   for the body, which would shift every later FileReference. */
	char fallback[32];
	const char *name = header_text(arena, a->display_name);
	if (name[0] == '\0') {
		g_snprintf(fallback, sizeof(fallback), "attachment-%u", index);
		name = fallback;
	}
	g_mime_part_set_filename(part, name);
	if (a->content_id[0] != '\0') {
		const char *id = bare_content_id(arena, header_text(arena, a->content_id));
		if (id[0] != '\0')
			g_mime_object_set_content_id(object, id);
	}
	if (a->content_location[0] != '\0')
		g_mime_part_set_content_location(part, header_text(arena, a->content_location));
	g_mime_part_set_content(part, content_over(arena, a->content.data, a->content.len));
	/* Base64 whatever the type: bytes come back exactly (quoted-printable
	   would let CRLF conversion change line ends). */
	g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
	return object;
}

/*
 * Importance (RFC 2156) and X-Priority as Outlook and Thunderbird write
 * them; normal gets neither. email.c reads them back the same way.
 */
static void set_importance(GMimeObject *message, uint8_t importance)
{
	if (importance == 2) {
		g_mime_object_set_header(message, "Importance", "high", NULL);
		g_mime_object_set_header(message, "X-Priority", "1 (Highest)", NULL);
	} else if (importance == 0) {
		g_mime_object_set_header(message, "Importance", "low", NULL);
		g_mime_object_set_header(message, "X-Priority", "5 (Lowest)", NULL);
	}
}

int pim_email_compose_draft(struct arena *arena, const struct pim_email_draft *draft, const char *from,
			    int64_t now, struct buf *mime_out)
{
	pim_init();
	GMimeMessage *message = g_mime_message_new(TRUE);
	pim_arena_unref(arena, message);
	add_addresses(arena, g_mime_message_get_from(message), from);
	add_addresses(arena, g_mime_message_get_to(message), draft->to);
	add_addresses(arena, g_mime_message_get_cc(message), draft->cc);
	add_addresses(arena, g_mime_message_get_bcc(message), draft->bcc);
	g_mime_message_set_subject(message, header_text(arena, draft->subject), "utf-8");
	GDateTime *date = g_date_time_new_from_unix_utc(now);
	if (date != NULL) {
		g_mime_message_set_date(message, date);
		g_date_time_unref(date);
	}
	char *domain = from_domain(arena, g_mime_message_get_from(message));
	char *message_id = g_mime_utils_generate_message_id(domain != NULL ? domain : "easd.invalid");
	g_mime_message_set_message_id(message, message_id);
	g_free(message_id);
	set_importance(GMIME_OBJECT(message), draft->importance);

	GMimeObject *body = body_part(arena, draft);
	if (draft->attachment_count == 0) {
		g_mime_message_set_mime_part(message, body);
	} else {
		GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
		pim_arena_unref(arena, mixed);
		g_mime_multipart_add(mixed, body);
		for (unsigned i = 0; i < draft->attachment_count; i++)
			g_mime_multipart_add(mixed, attachment_part(arena, &draft->attachments[i], i));
		g_mime_message_set_mime_part(message, GMIME_OBJECT(mixed));
	}

	/* CRLF, as mail arrives over LMTP and as the store keeps it. */
	GMimeFormatOptions *options = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(options, GMIME_NEWLINE_FORMAT_DOS);
	GMimeStream *stream = g_mime_stream_mem_new();
	pim_arena_unref(arena, stream);
	ssize_t written = g_mime_object_write_to_stream(GMIME_OBJECT(message), options, stream);
	g_mime_format_options_free(options);
	if (written < 0)
		return -1;
	GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
	return buf_append(mime_out, bytes->data, bytes->len) == 0 ? 0 : -1;
}
