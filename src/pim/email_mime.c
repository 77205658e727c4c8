/*
 * email_mime.c: a stored message read with GMime: parsing in place, the
 * walk that names the body parts and numbers the attachments, decoded
 * streams of a part, and the two calls that need nothing more
 * (pim_email_attachment, pim_email_summary).
 *
 * Owns: every GMime object it creates, registered on the caller's arena.
 * Must not: copy a whole message or hold a decoded part in memory; parts
 * are read through filter streams, a chunk at a time.
 */
#include "pim/pim_private.h"

#include <pthread.h>
#include <string.h>

#include <libxml/parser.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libraries(void)
{
	g_mime_init();
	xmlInitParser();
}

void pim_init(void)
{
	pthread_once(&init_once, init_libraries);
}

static void unref_object(void *object)
{
	g_object_unref(object);
}

void pim_arena_unref(struct arena *arena, void *object)
{
	arena_on_free(arena, unref_object, object);
}

/* Frees the array but not the bytes: they are the caller's. */
static void release_array(void *array)
{
	g_byte_array_free(array, FALSE);
}

/*
 * Copies in[0..len) to out as valid UTF-8 without NUL (a WBXML inline
 * string ends at its first NUL, WBXML 1.3 STR_I). A byte that starts no valid
 * character is read as Latin-1, the usual charset of undeclared 8-bit
 * mail; NUL is dropped. Unless final, an incomplete character at the end
 * stays in in[*used_out..len) for the next call. out must hold 2 * len
 * bytes. Returns the bytes written.
 */
static size_t utf8_clean(const char *in, size_t len, bool final, char *out, size_t *used_out)
{
	size_t i = 0, n = 0;
	while (i < len) {
		const char *end;
		g_utf8_validate_len(in + i, len - i, &end);
		size_t valid = (size_t)(end - (in + i));
		memcpy(out + n, in + i, valid);
		n += valid;
		i += valid;
		if (i == len)
			break;
		if (in[i] == '\0') {
			i++;
			continue;
		}
		if (!final && len - i < 4 &&
		    g_utf8_get_char_validated(in + i, (gssize)(len - i)) == (gunichar)-2)
			break;
		n += (size_t)g_unichar_to_utf8((guchar)in[i], out + n);
		i++;
	}
	*used_out = i;
	return n;
}

char *pim_utf8_copy(struct arena *arena, const char *s)
{
	if (s == NULL)
		return arena_strndup(arena, "", 0);
	size_t len = strlen(s), used;
	char *out = arena_alloc(arena, 2 * len + 1);
	size_t n = utf8_clean(s, len, true, out, &used);
	out[n] = '\0';
	return out;
}

/* ---- the walk ---- */

static uint8_t smime_kind(GMimeObject *root)
{
	GMimeContentType *type = g_mime_object_get_content_type(root);
	if (g_mime_content_type_is_type(type, "application", "pkcs7-mime") ||
	    g_mime_content_type_is_type(type, "application", "x-pkcs7-mime"))
		return PIM_SMIME_OPAQUE;
	if (!g_mime_content_type_is_type(type, "multipart", "signed"))
		return PIM_SMIME_NONE;
	/* RFC 8551 3.5.3: protocol is application/pkcs7-signature; PGP/MIME
	   (RFC 3156) uses multipart/signed too, and is not S/MIME. */
	const char *protocol = g_mime_content_type_get_parameter(type, "protocol");
	if (protocol != NULL && g_ascii_strncasecmp(protocol, "application/pgp", 15) == 0)
		return PIM_SMIME_NONE;
	return PIM_SMIME_SIGNED;
}

static void add_attachment(struct pim_message *m, GMimeObject *object)
{
	if (m->attachment_count < LIMIT_MIME_ATTACHMENTS)
		m->attachments[m->attachment_count++] = object;
}

/*
 * A leaf is the plain or HTML body when it is the first text/plain or
 * text/html part that is neither marked as an attachment nor named (RFC
 * 2183). It is an attachment when it is marked or named, when it is not
 * text/plain or text/html (images, documents, a forwarded message/rfc822,
 * an S/MIME signature), or when it has a Content-ID (an inline image
 * referenced from the HTML, RFC 2392). A further unnamed inline text part
 * (Apple Mail splits an HTML body around inline images) is neither.
 */
static void classify(struct pim_message *m, GMimeObject *object)
{
	if (GMIME_IS_MESSAGE_PART(object)) {
		add_attachment(m, object);
		return;
	}
	if (!GMIME_IS_PART(object))
		return;
	GMimePart *part = GMIME_PART(object);
	GMimeContentType *type = g_mime_object_get_content_type(object);
	GMimeContentDisposition *disposition = g_mime_object_get_content_disposition(object);
	bool marked = disposition != NULL && g_mime_content_disposition_is_attachment(disposition);
	bool named = g_mime_part_get_filename(part) != NULL;
	bool plain = g_mime_content_type_is_type(type, "text", "plain");
	bool html = g_mime_content_type_is_type(type, "text", "html");
	/* A meeting (iMIP, RFC 6047): noted here so that other mail is never read for one. */
	if (m->calendar == NULL && g_mime_content_type_is_type(type, "text", "calendar"))
		m->calendar = part;
	if (!marked && !named && plain && m->plain == NULL) {
		m->plain = part;
		return;
	}
	if (!marked && !named && html && m->html == NULL) {
		m->html = part;
		return;
	}
	if (marked || named || (!plain && !html) || g_mime_object_get_content_id(object) != NULL)
		add_attachment(m, object);
}

struct walk_frame {
	GMimeMultipart *multipart;
	int next;
};

/* Depth first, iteratively: the stack is bounded by LIMIT_MIME_DEPTH. */
static void walk_parts(struct arena *arena, struct pim_message *m)
{
	GMimeObject *object = g_mime_message_get_mime_part(m->message);
	struct walk_frame stack[LIMIT_MIME_DEPTH];
	unsigned depth = 0;
	m->attachments = arena_calloc(arena, LIMIT_MIME_ATTACHMENTS, sizeof(*m->attachments));
	if (object == NULL)
		return;
	m->smime = smime_kind(object);
	while (object != NULL) {
		if (!GMIME_IS_MULTIPART(object))
			classify(m, object);
		else if (depth < LIMIT_MIME_DEPTH)
			stack[depth++] = (struct walk_frame){ GMIME_MULTIPART(object), 0 };
		object = NULL;
		while (object == NULL && depth > 0) {
			struct walk_frame *top = &stack[depth - 1];
			if (top->next < g_mime_multipart_get_count(top->multipart))
				object = g_mime_multipart_get_part(top->multipart, top->next++);
			else
				depth--;
		}
	}
}

/*
 * GMime gives up when the bytes do not start with a header block (a file
 * of binary junk, a body without headers). The MTA delivered them, so the
 * device still gets an item: everything becomes its plain text body
 * (undeclared charset, read as UTF-8 or Latin-1), a substream, not a copy.
 */
static GMimeMessage *headless_message(struct arena *arena, GMimeStream *stream)
{
	GMimeMessage *message = g_mime_message_new(FALSE);
	pim_arena_unref(arena, message);
	GMimeTextPart *part = g_mime_text_part_new();
	pim_arena_unref(arena, part);
	GMimeStream *content = g_mime_stream_substream(stream, 0, g_mime_stream_length(stream));
	pim_arena_unref(arena, content);
	GMimeDataWrapper *wrapper = g_mime_data_wrapper_new_with_stream(content, GMIME_CONTENT_ENCODING_DEFAULT);
	pim_arena_unref(arena, wrapper);
	g_mime_part_set_content(GMIME_PART(part), wrapper);
	g_mime_message_set_mime_part(message, GMIME_OBJECT(part));
	return message;
}

/*
 * A GByteArray wraps the caller's bytes (the stream does not own it, so
 * neither frees them). Nothing writes to the stream, so the const bytes
 * stay untouched.
 */
GMimeStream *pim_memory_stream(struct arena *arena, const uint8_t *mime, size_t len)
{
	pim_init();
	GByteArray *array = g_byte_array_new_take((guint8 *)(uintptr_t)mime, len);
	arena_on_free(arena, release_array, array);
	GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(array);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
	pim_arena_unref(arena, stream);
	return stream;
}

/*
 * Persistent stream mode: each part's content is kept as a substream of
 * the message's stream rather than copied, so parsing a 100 MB message
 * costs its headers, and a part's bytes are read only when decoded.
 */
static GMimeMessage *parse_message(struct arena *arena, GMimeStream *stream)
{
	gint64 len = g_mime_stream_length(stream);
	if (len <= 0 || len > G_MAXUINT)
		return NULL;
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	pim_arena_unref(arena, parser);
	g_mime_parser_set_persist_stream(parser, TRUE);
	GMimeMessage *message = g_mime_parser_construct_message(parser, NULL);
	if (message == NULL)
		return headless_message(arena, stream);
	pim_arena_unref(arena, message);
	return message;
}

int pim_message_parse(struct arena *arena, GMimeStream *stream, struct pim_message *out)
{
	memset(out, 0, sizeof(*out));
	out->stream = stream;
	out->message = parse_message(arena, stream);
	if (out->message == NULL)
		return -1;
	walk_parts(arena, out);
	return 0;
}

/* ---- decoded streams ---- */

static bool is_utf8(const char *charset)
{
	return g_ascii_strcasecmp(charset, "utf-8") == 0 || g_ascii_strcasecmp(charset, "utf8") == 0 ||
	       g_ascii_strcasecmp(charset, "us-ascii") == 0;
}

static void add_filter(struct arena *arena, GMimeStream *stream, GMimeFilter *filter)
{
	if (filter == NULL)
		return;
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(stream), filter);
	pim_arena_unref(arena, filter);
}

/*
 * The part's content with its transfer encoding undone and, with to_utf8,
 * converted from its charset (an unknown charset passes through, and
 * utf8_clean reads it as Latin-1). NULL when the part has no content.
 */
static GMimeStream *decoded_stream(struct arena *arena, GMimePart *part, bool to_utf8)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GMimeStream *source = content != NULL ? g_mime_data_wrapper_get_stream(content) : NULL;
	if (source == NULL)
		return NULL;
	GMimeStream *stream = g_mime_stream_filter_new(source);
	pim_arena_unref(arena, stream);
	GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding(content);
	if (encoding == GMIME_CONTENT_ENCODING_BASE64 || encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    encoding == GMIME_CONTENT_ENCODING_UUENCODE)
		add_filter(arena, stream, g_mime_filter_basic_new(encoding, FALSE));
	const char *charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
	if (to_utf8 && charset != NULL && !is_utf8(charset))
		add_filter(arena, stream, g_mime_filter_charset_new(charset, "UTF-8"));
	g_mime_stream_reset(stream);
	return stream;
}

/*
 * One read of a filter stream. A read may give 0 bytes before the end
 * (base64 of nothing but line breaks filters to nothing), so 0 means the
 * end only when the stream says so; each read consumes source bytes, so
 * the loop ends. Returns the bytes read, 0 at the end.
 */
static size_t read_some(GMimeStream *stream, char *buffer, size_t size)
{
	for (;;) {
		ssize_t n = g_mime_stream_read(stream, buffer, size);
		if (n > 0)
			return (size_t)n;
		if (n < 0 || g_mime_stream_eos(stream))
			return 0;
	}
}

int pim_part_text(struct arena *arena, GMimePart *part, struct pim_sink *sink)
{
	GMimeStream *stream = decoded_stream(arena, part, true);
	if (stream == NULL)
		return 0;
	char in[PIM_CHUNK + 4], out[2 * (PIM_CHUNK + 4)];
	size_t carry = 0, n, used, len;
	while ((n = read_some(stream, in + carry, PIM_CHUNK)) > 0) {
		len = utf8_clean(in, carry + n, false, out, &used);
		carry = carry + n - used;
		memmove(in, in + used, carry);
		if (len > 0 && sink->write(sink, out, len) != 0)
			return 1;
	}
	len = utf8_clean(in, carry, true, out, &used);
	return len > 0 ? sink->write(sink, out, len) : 0;
}

/* The bytes of an attachment as a stream: decoded content, or the embedded message. */
static GMimeStream *attachment_stream(struct arena *arena, GMimeObject *object)
{
	if (GMIME_IS_PART(object))
		return decoded_stream(arena, GMIME_PART(object), false);
	GMimeMessage *message = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
	if (message == NULL)
		return NULL;
	GMimeStream *stream = g_mime_stream_mem_new();
	pim_arena_unref(arena, stream);
	g_mime_object_write_to_stream(GMIME_OBJECT(message), NULL, stream);
	g_mime_stream_reset(stream);
	return stream;
}

uint64_t pim_attachment_size(struct arena *arena, GMimeObject *object)
{
	GMimeStream *counter = g_mime_stream_null_new();
	pim_arena_unref(arena, counter);
	if (GMIME_IS_PART(object)) {
		GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(object));
		if (content != NULL)
			g_mime_data_wrapper_write_to_stream(content, counter);
	} else if (GMIME_IS_MESSAGE_PART(object)) {
		GMimeMessage *message = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
		if (message != NULL)
			g_mime_object_write_to_stream(GMIME_OBJECT(message), NULL, counter);
	}
	return GMIME_STREAM_NULL(counter)->written;
}

/* The part's transfer-encoded bytes as stored, or NULL. */
static GMimeStream *encoded_stream(GMimePart *part)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	return content != NULL ? g_mime_data_wrapper_get_stream(content) : NULL;
}

bool pim_part_is_large(GMimePart *part)
{
	GMimeStream *stream = encoded_stream(part);
	return stream != NULL && g_mime_stream_length(stream) > (gint64)LIMIT_MIME_EXACT_SIZE_BYTES;
}

uint64_t pim_part_size_estimate(struct arena *arena, GMimeObject *object)
{
	if (!GMIME_IS_PART(object) || !pim_part_is_large(GMIME_PART(object)))
		return pim_attachment_size(arena, object);
	GMimePart *part = GMIME_PART(object);
	uint64_t encoded = (uint64_t)g_mime_stream_length(encoded_stream(part));
	/* RFC 2045 6.8: 76 characters and CRLF carry 57 bytes. */
	if (g_mime_data_wrapper_get_encoding(g_mime_part_get_content(part)) == GMIME_CONTENT_ENCODING_BASE64)
		return encoded / 78 * 57;
	return encoded;
}

/* ---- the calls of email.h that need no writer ---- */

/* The source's message and its attachment index, with its content type. NULL when there is none. */
static GMimeObject *find_attachment(struct arena *arena, const struct pim_source *source, unsigned index,
				    const char **content_type_out)
{
	struct pim_message m;
	*content_type_out = "";
	if (pim_message_parse(arena, pim_source_stream(arena, source), &m) < 0 || index >= m.attachment_count)
		return NULL;
	GMimeObject *object = m.attachments[index];
	char *type = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(object));
	*content_type_out = pim_utf8_copy(arena, type);
	g_free(type);
	return object;
}

int pim_email_attachment(struct arena *arena, const struct pim_source *source, unsigned index,
			 uint64_t range_start, uint64_t range_end, struct buf *out,
			 uint64_t *total_out, const char **content_type_out)
{
	*total_out = 0;
	GMimeObject *object = find_attachment(arena, source, index, content_type_out);
	if (object == NULL)
		return -1;
	GMimeStream *stream = attachment_stream(arena, object);
	if (stream == NULL)
		return 0;
	char chunk[PIM_CHUNK];
	uint64_t position = 0;
	size_t n;
	while ((n = read_some(stream, chunk, PIM_CHUNK)) > 0) {
		/* The part of [range_start, range_end] inside this chunk. */
		uint64_t first = range_start > position ? range_start : position;
		uint64_t last = position + n - 1 < range_end ? position + n - 1 : range_end;
		if (first <= last && buf_append(out, chunk + (first - position), (size_t)(last - first + 1)) < 0)
			return -1;
		position += n;
	}
	*total_out = position;
	return 0;
}

int pim_email_attachment_find(struct arena *arena, const struct pim_source *source, unsigned index,
			      struct pim_attachment *out)
{
	memset(out, 0, sizeof(*out));
	GMimeObject *object = find_attachment(arena, source, index, &out->content_type);
	if (object == NULL)
		return -1;
	out->size = pim_attachment_size(arena, object);
	GMimeStream *encoded = GMIME_IS_PART(object) ? encoded_stream(GMIME_PART(object)) : NULL;
	if (encoded != NULL && pim_source_range(encoded, &out->encoded_start, &out->encoded_end)) {
		out->streamable = true;
		out->encoding = g_mime_data_wrapper_get_encoding(g_mime_part_get_content(GMIME_PART(object)));
	}
	return 0;
}

int pim_email_summary(struct arena *arena, const uint8_t *mime, size_t len,
		      struct pim_email_summary *summary_out)
{
	summary_out->message_id = "";
	summary_out->subject = "";
	summary_out->date = 0;
	GMimeMessage *message = len > 0 ? parse_message(arena, pim_memory_stream(arena, mime, len)) : NULL;
	if (message == NULL)
		return -1;
	summary_out->message_id = pim_utf8_copy(arena, g_mime_message_get_message_id(message));
	summary_out->subject = pim_utf8_copy(arena, g_mime_message_get_subject(message));
	GDateTime *date = g_mime_message_get_date(message);
	if (date != NULL)
		summary_out->date = g_date_time_to_unix(date);
	return 0;
}
