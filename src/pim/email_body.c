/*
 * email_body.c: airsyncbase:Body for a message (MS-ASAIRS 2.2.2.9): the
 * choice among the client's BodyPreferences, plain text derived from HTML
 * (libxml2's HTML parser, fed as a stream) and HTML from plain text,
 * truncation, and the Preview.
 *
 * Every body is produced by streaming the part through sinks; only the
 * bytes that will be sent are kept (the first TruncationSize bytes, or the
 * whole body when untruncated, once), and the MIME type is the stored
 * bytes themselves, never decoded. A truncated body of a large part is
 * decoded only as far as its truncation size.
 *
 * Must not: parse MIME (email_mime.c does) or write anything but Body.
 */
#include "pim/pim_private.h"

#include <limits.h>
#include <string.h>

#include <libxml/HTMLparser.h>

/* MS-ASAIRS 2.2.2.35.4: Preview is 0 to 255 characters. */
#define PREVIEW_MAX 255
/* Derived plain text breaks lines as mail does. */
#define LINE_BREAK "\r\n"

/* ---- sinks ---- */

/* Keeps the first keep bytes and counts them all, or with stop_when_full stops once it has them. */
struct collect {
	struct pim_sink sink;
	struct buf data;
	size_t keep;
	bool stop_when_full;
	uint64_t total;
};

static int collect_write(struct pim_sink *sink, const char *data, size_t len)
{
	struct collect *c = (struct collect *)sink;
	c->total += len;
	if (c->data.len < c->keep) {
		size_t n = len < c->keep - c->data.len ? len : c->keep - c->data.len;
		(void)buf_append(&c->data, data, n); /* no ceiling: only out-of-memory fails, and aborts */
	}
	return c->stop_when_full && c->data.len == c->keep ? 1 : 0;
}

static void cleanup_buf(void *b)
{
	buf_cleanup(b);
}

static struct collect *collect_new(struct arena *arena, size_t keep)
{
	struct collect *c = arena_calloc(arena, 1, sizeof(*c));
	c->sink.write = collect_write;
	c->keep = keep;
	buf_init(&c->data, 0);
	arena_on_free(arena, cleanup_buf, &c->data);
	return c;
}

/* The first max characters of text with white space runs made one space. */
struct preview {
	struct pim_sink sink;
	char *text;
	size_t len;
	unsigned chars, max;
	bool space;
};

static int preview_write(struct pim_sink *sink, const char *data, size_t len)
{
	struct preview *p = (struct preview *)sink;
	const char *end = data + len;
	for (const char *c = data; c < end && p->chars < p->max; c = g_utf8_next_char(c)) {
		gunichar u = g_utf8_get_char(c);
		if (g_unichar_isspace(u)) {
			p->space = p->len > 0;
			continue;
		}
		if (p->space) {
			if (p->chars + 2 > p->max) { /* no room for the space and a character */
				p->chars = p->max;
				break;
			}
			p->text[p->len++] = ' ';
			p->space = false;
			p->chars++;
		}
		size_t n = (size_t)(g_utf8_next_char(c) - c);
		memcpy(p->text + p->len, c, n);
		p->len += n;
		p->chars++;
	}
	return p->chars < p->max ? 0 : 1;
}

/* ---- plain text from HTML ---- */

/* The HTML parser's events become text on next. */
struct html_text {
	struct pim_sink sink; /* takes HTML */
	struct pim_sink *next;
	htmlParserCtxtPtr parser;
	unsigned skip;        /* inside script, style or title: not text */
	bool line_start;      /* nothing since the last line break */
	bool space;           /* white space since the last text */
	bool stopped;         /* next has all it wants */
};

static void emit(struct html_text *h, const char *data, size_t len)
{
	if (!h->stopped && h->next->write(h->next, data, len) != 0) {
		h->stopped = true;
		xmlStopParser(h->parser);
	}
}

static void line_break(struct html_text *h)
{
	emit(h, LINE_BREAK, strlen(LINE_BREAK));
	h->line_start = true;
	h->space = false;
}

static bool is_html_space(xmlChar c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

/* Text: each run of white space is one space, none at a line start (HTML 4.01 9.1). */
static void on_characters(void *context, const xmlChar *ch, int len)
{
	struct html_text *h = context;
	int i = 0;
	if (h->skip > 0)
		return;
	while (i < len) {
		int start = i;
		if (is_html_space(ch[i])) {
			while (i < len && is_html_space(ch[i]))
				i++;
			h->space = true;
			continue;
		}
		while (i < len && !is_html_space(ch[i]))
			i++;
		if (h->space && !h->line_start)
			emit(h, " ", 1);
		emit(h, (const char *)ch + start, (size_t)(i - start));
		h->space = false;
		h->line_start = false;
	}
}

static void on_cdata(void *context, const xmlChar *value, int len)
{
	(void)context, (void)value, (void)len; /* script and style bodies */
}

static void on_error(void *context, xmlErrorPtr error)
{
	(void)context, (void)error; /* broken HTML is the norm in mail */
}

static bool name_in(const xmlChar *name, const char *const *names)
{
	for (; *names != NULL; names++)
		if (strcmp((const char *)name, *names) == 0)
			return true;
	return false;
}

/* Not text: their content is code or the window title. */
static const char *const skipped_elements[] = { "script", "style", "title", NULL };
/* Elements that start on a line of their own. */
static const char *const block_elements[] = {
	"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
	"table", "ul", "ol", "dl", "dt", "dd", "hr", "address", "section", "article",
	"header", "footer", NULL,
};

static void on_start(void *context, const xmlChar *name, const xmlChar **attributes)
{
	struct html_text *h = context;
	(void)attributes;
	if (name_in(name, skipped_elements))
		h->skip++;
	else if (h->skip == 0 && strcmp((const char *)name, "br") == 0)
		line_break(h);
	else if (h->skip == 0 && name_in(name, block_elements) && !h->line_start)
		line_break(h);
}

static void on_end(void *context, const xmlChar *name)
{
	struct html_text *h = context;
	if (name_in(name, skipped_elements)) {
		if (h->skip > 0)
			h->skip--;
	} else if (h->skip == 0 && name_in(name, block_elements) && !h->line_start) {
		line_break(h);
	}
}

static int html_text_write(struct pim_sink *sink, const char *data, size_t len)
{
	struct html_text *h = (struct html_text *)sink;
	if (!h->stopped && len <= INT_MAX)
		htmlParseChunk(h->parser, data, (int)len, 0);
	return h->stopped ? 1 : 0;
}

/*
 * Plain text of an HTML part: a client asking for Type 1 gets text even
 * when the message has only HTML, as from Exchange. The HTML is fed
 * to libxml2's push parser as it is decoded; the parser keeps no tree, so
 * only the text reaches memory. The part is already UTF-8: a <meta
 * charset> inside must not make the parser convert it again.
 */
static int html_to_text(struct arena *arena, GMimePart *part, struct pim_sink *next)
{
	htmlSAXHandler sax = { 0 };
	sax.startElement = on_start;
	sax.endElement = on_end;
	sax.characters = on_characters;
	sax.ignorableWhitespace = on_characters;
	sax.cdataBlock = on_cdata;
	sax.initialized = XML_SAX2_MAGIC; /* so that serror is used */
	sax.serror = on_error;
	struct html_text h = { .sink.write = html_text_write, .next = next, .line_start = true };
	h.parser = htmlCreatePushParserCtxt(&sax, &h, NULL, 0, NULL, XML_CHAR_ENCODING_UTF8);
	if (h.parser == NULL)
		return 0;
	htmlCtxtUseOptions(h.parser, HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
					     HTML_PARSE_IGNORE_ENC);
	pim_part_text(arena, part, &h.sink);
	if (!h.stopped)
		htmlParseChunk(h.parser, NULL, 0, 1);
	htmlFreeParserCtxt(h.parser);
	return h.stopped ? 1 : 0;
}

/* ---- HTML from plain text ---- */

struct text_html {
	struct pim_sink sink; /* takes text */
	struct pim_sink *next;
};

/* Escaped text; a line break becomes <br> (a carriage return is dropped). */
static int text_html_write(struct pim_sink *sink, const char *data, size_t len)
{
	struct text_html *t = (struct text_html *)sink;
	char *escaped = g_markup_escape_text(data, (gssize)len);
	const char *start = escaped;
	int status = 0;
	for (const char *c = escaped; status == 0; c++) {
		if (*c != '\0' && *c != '\r' && *c != '\n')
			continue;
		if (c > start)
			status = t->next->write(t->next, start, (size_t)(c - start));
		if (*c == '\n' && status == 0)
			status = t->next->write(t->next, "<br>\n", 5);
		if (*c == '\0')
			break;
		start = c + 1;
	}
	g_free(escaped);
	return status;
}

/* A minimal HTML document around the plain text (or around nothing). */
static int text_to_html(struct arena *arena, GMimePart *plain, struct pim_sink *next)
{
	static const char head[] = "<html><head><meta http-equiv=\"Content-Type\" "
				   "content=\"text/html; charset=utf-8\"></head><body>";
	static const char tail[] = "</body></html>";
	struct text_html t = { .sink.write = text_html_write, .next = next };
	if (next->write(next, head, sizeof(head) - 1) != 0)
		return 1;
	if (plain != NULL && pim_part_text(arena, plain, &t.sink) != 0)
		return 1;
	return next->write(next, tail, sizeof(tail) - 1);
}

/* The part a text type is made from (as produce_text chooses), or NULL. */
static GMimePart *source_part(const struct pim_message *m, uint8_t type)
{
	if (type == PIM_BODY_PLAIN)
		return m->plain != NULL ? m->plain : m->html;
	return m->html != NULL ? m->html : m->plain;
}

/* Streams the body in a text type into sink. Returns 1 when the sink stopped it. */
static int produce_text(struct arena *arena, const struct pim_message *m, uint8_t type, struct pim_sink *sink)
{
	if (type == PIM_BODY_PLAIN) {
		if (m->plain != NULL)
			return pim_part_text(arena, m->plain, sink);
		return m->html != NULL ? html_to_text(arena, m->html, sink) : 0;
	}
	if (m->html != NULL)
		return pim_part_text(arena, m->html, sink);
	return text_to_html(arena, m->plain, sink);
}

char *pim_part_text_copy(struct arena *arena, GMimePart *part, size_t max)
{
	struct collect *c = collect_new(arena, max);
	c->stop_when_full = true;
	pim_part_text(arena, part, &c->sink);
	return arena_strndup(arena, c->data.data != NULL ? c->data.data : (uint8_t *)"", c->data.len);
}

char *pim_message_text(struct arena *arena, const struct pim_message *m, uint8_t type, size_t max)
{
	struct collect *c = collect_new(arena, max);
	c->stop_when_full = true;
	if (source_part(m, type) != NULL)
		produce_text(arena, m, type, &c->sink);
	return arena_strndup(arena, c->data.data != NULL ? c->data.data : (uint8_t *)"", c->data.len);
}

/* ---- choosing and writing ---- */

struct body {
	uint8_t type;
	struct buf *storage; /* holds data; released once written */
	const uint8_t *data;
	size_t len;          /* bytes of data to send */
	uint64_t total;      /* EstimatedDataSize: the whole body */
	bool truncated;
};

/* Where to cut data[0..len) at limit: before the character limit falls in. */
static size_t cut_utf8(const uint8_t *data, size_t len, size_t limit)
{
	if (len <= limit)
		return len;
	size_t n = limit;
	for (int back = 0; back < 3 && n > 0 && (data[n] & 0xC0) == 0x80; back++)
		n--;
	return n;
}

static bool can_produce(const struct pim_message *m, uint8_t type, const struct pim_options *options)
{
	if (type == PIM_BODY_PLAIN || type == PIM_BODY_HTML)
		return true;
	/* MS-ASCMD MIMESupport: 1 only for S/MIME messages, 2 for all. RTF: not produced. */
	if (type == PIM_BODY_MIME)
		return options->mime_support == 2 || (options->mime_support == 1 && m->smime != PIM_SMIME_NONE);
	return false;
}

/*
 * The first keep bytes of the message as stored (all of them when keep is
 * 0): the MIME type is the stored bytes themselves, never decoded.
 */
static void read_mime(struct arena *arena, GMimeStream *stream, size_t keep, struct body *out)
{
	struct collect *c = collect_new(arena, keep > 0 ? keep : SIZE_MAX);
	char chunk[PIM_CHUNK];
	ssize_t n;
	g_mime_stream_reset(stream);
	while (c->data.len < c->keep && (n = g_mime_stream_read(stream, chunk, sizeof(chunk))) > 0)
		collect_write(&c->sink, chunk, (size_t)n);
	out->storage = &c->data;
	out->data = c->data.data;
	out->len = c->data.len;
	out->total = (uint64_t)g_mime_stream_length(stream);
}

/*
 * The body in the preference's type, cut to its TruncationSize (the MIME
 * type falls back to the legacy MIMETruncation when the preference has
 * none). One byte past the limit is kept to find a character boundary.
 * A truncated body of a large part stops decoding there, and its size is
 * the part's estimate (pim_part_size_estimate): what a truncated body of a
 * 100 MB part costs is its truncation size.
 */
static void make_body(struct arena *arena, const struct pim_message *m,
		      const struct pim_body_preference *preference, const struct pim_options *options,
		      struct body *out)
{
	size_t limit = preference->truncation_size;
	out->type = preference->type;
	if (preference->type == PIM_BODY_MIME) {
		if (limit == 0)
			limit = options->mime_truncation;
		read_mime(arena, m->stream, limit > 0 ? limit + 1 : 0, out);
	} else {
		GMimePart *part = source_part(m, preference->type);
		struct collect *c = collect_new(arena, limit > 0 ? limit + 1 : SIZE_MAX);
		c->stop_when_full = limit > 0 && part != NULL && pim_part_is_large(part);
		produce_text(arena, m, preference->type, &c->sink);
		out->storage = &c->data;
		out->data = c->data.data;
		out->total = c->total;
		out->len = c->data.len;
		if (c->stop_when_full && c->data.len == c->keep) {
			uint64_t estimate = pim_part_size_estimate(arena, GMIME_OBJECT(part));
			out->total = estimate > c->total ? estimate : c->total;
		}
	}
	out->truncated = limit > 0 && out->total > limit;
	if (limit > 0)
		out->len = cut_utf8(out->data, out->len, limit);
}

/*
 * The writer has copied the body: its decoded text need not wait for the
 * end of the request (a Sync of 100 items would hold them all).
 */
static void release(struct body *body)
{
	if (body->storage != NULL)
		buf_cleanup(body->storage);
	body->data = NULL;
	body->len = 0;
}

/* Up to max characters of the plain text; only what is needed is decoded. */
static struct slice make_preview(struct arena *arena, const struct pim_message *m, unsigned max)
{
	struct preview p = { .sink.write = preview_write, .max = max };
	p.text = arena_alloc(arena, 4 * (size_t)max + 1);
	produce_text(arena, m, PIM_BODY_PLAIN, &p.sink);
	return (struct slice){ (const uint8_t *)p.text, p.len };
}

/* Data as an inline string: the MIME type may hold NUL bytes, which a string cannot. */
static void write_data(struct wbxml_writer *writer, struct arena *arena, const uint8_t *data, size_t len)
{
	if (len > 0 && memchr(data, '\0', len) != NULL) {
		uint8_t *copy = arena_alloc(arena, len);
		size_t n = 0;
		for (size_t i = 0; i < len; i++)
			if (data[i] != '\0')
				copy[n++] = data[i];
		data = copy;
		len = n;
	}
	wbxml_writer_element_string(writer, WBXML_AIRSYNCBASE_DATA, data, len);
}

/*
 * MS-ASAIRS 2.2.2.9 order: Type, EstimatedDataSize, Truncated, Data,
 * Preview. Truncated is sent only when true (2.2.2.39.1: absent means not
 * truncated). Preview [14.0+] is left out when plain text Data is sent
 * (2.2.2.35.1).
 */
static void write_body(struct wbxml_writer *writer, struct arena *arena, const struct pim_message *m,
		       const struct body *body, bool with_data, unsigned preview, uint8_t version_bit)
{
	wbxml_writer_start(writer, WBXML_AIRSYNCBASE_BODY);
	wbxml_writer_element_uint(writer, WBXML_AIRSYNCBASE_TYPE, body->type);
	wbxml_writer_element_uint(writer, WBXML_AIRSYNCBASE_ESTIMATED_DATA_SIZE, body->total);
	if (body->truncated)
		wbxml_writer_element_uint(writer, WBXML_AIRSYNCBASE_TRUNCATED, 1);
	if (with_data)
		write_data(writer, arena, body->data, body->len);
	if (preview > 0 && pim_has_tag(version_bit, WBXML_AIRSYNCBASE_PREVIEW) &&
	    !(with_data && body->type == PIM_BODY_PLAIN && body->len > 0)) {
		struct slice text = make_preview(arena, m, preview > PREVIEW_MAX ? PREVIEW_MAX : preview);
		if (text.len > 0)
			wbxml_writer_element_string(writer, WBXML_AIRSYNCBASE_PREVIEW, text.data, text.len);
	}
	wbxml_writer_end(writer);
}

/*
 * MS-ASAIRS 2.2.2.3.2: preferences are tried in the client's order; with
 * AllOrNone a type whose body exceeds TruncationSize is not sent and the
 * next preference is tried. When every type was refused that way, the
 * first refused one is announced without Data (Truncated 1 and its size),
 * so the client can fetch it whole. RTF is never produced and MIME only
 * as MIMESupport allows; with nothing else requested, plain text is sent
 * under the first preference's TruncationSize.
 */
void pim_write_body(struct wbxml_writer *writer, struct arena *arena, const struct pim_message *message,
		    const struct pim_options *options)
{
	static const struct pim_body_preference plain = { .type = PIM_BODY_PLAIN };
	uint8_t version_bit = pim_version_bit(options->protocol_version);
	const struct pim_body_preference *preferences = options->preferences;
	unsigned count = options->preference_count < PIM_MAX_BODY_PREFERENCES ? options->preference_count
									      : PIM_MAX_BODY_PREFERENCES;
	struct body body, refused = { 0 };
	unsigned refused_preview = 0;
	if (count == 0) {
		preferences = &plain;
		count = 1;
	}
	for (unsigned i = 0; i < count; i++) {
		const struct pim_body_preference *preference = &preferences[i];
		if (!can_produce(message, preference->type, options))
			continue;
		make_body(arena, message, preference, options, &body);
		if (!(preference->all_or_none && body.truncated)) {
			write_body(writer, arena, message, &body, true, preference->preview, version_bit);
			release(&body);
			return;
		}
		release(&body);
		if (refused.type == 0) {
			refused = body;
			refused_preview = preference->preview;
		}
	}
	if (refused.type != 0) {
		write_body(writer, arena, message, &refused, false, refused_preview, version_bit);
		return;
	}
	struct pim_body_preference fallback = preferences[0];
	fallback.type = PIM_BODY_PLAIN;
	fallback.all_or_none = false;
	make_body(arena, message, &fallback, options, &body);
	write_body(writer, arena, message, &body, true, fallback.preview, version_bit);
	release(&body);
}
