/*
 * xml.c: WBXML <-> XML for logs, tests and easctl (see wbxml.h).
 *
 * Rendering walks the reader once and writes as it goes, in the dialect of
 * Exchange logs and libwbxml (namespaces "AirSync:", libwbxml's DOCTYPE) so
 * that libwbxml's xml2wbxml reads it; it is on the path of every logged
 * request and must cost little more than decoding. Parsing uses libxml2's
 * streaming reader, never a hand-written XML parser, and drives the writer.
 *
 * XML cannot say everything WBXML can (opaque bytes, strings that are not
 * UTF-8, the content bit on an empty element); the `wbxml` attribute marks
 * those cases so that decoding and encoding again gives the original bytes.
 */
#include "wbxml/wbxml.h"

#include <assert.h>
#include <glib.h>
#include <libxml/xmlreader.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rendering ---- */

/*
 * Rendering writes straight into out as it reads: tag names come ready-made
 * from the table (prefix included), a leaf's text is checked and escaped in
 * one loop, and nothing is written a byte at a time through a function. The
 * pages a message uses are known only at its end: their declarations are
 * then inserted into the root's start tag, one memmove of the output, which
 * costs less than reading the message twice. On an error out is cut back.
 */

/* A start tag at depth d is indented by 2 d spaces. */
#define SPACES_16 "                "
static const char spaces[] = SPACES_16 SPACES_16 SPACES_16 SPACES_16
	SPACES_16 SPACES_16 SPACES_16 SPACES_16;
_Static_assert(sizeof(spaces) - 1 >= 2 * WBXML_DEPTH_CAP, "indentation for every depth");

struct render {
	struct buf *out;
	const struct wbxml_xml_options *options;
	size_t declarations_at; /* in out: right after the root's name */
	unsigned root_page;
	bool used_pages[WBXML_PAGE_COUNT];
	unsigned depth;        /* open elements, the one being written included */
	bool start_open;       /* "<Name" written, ">" not yet */
	bool skip_end;         /* the END of an element written as <Name/> */
	struct slice piece;    /* the open leaf's text when it came in one piece */
	struct buf text;       /* its pieces joined when it came in several */
	unsigned text_pieces;
	bool text_opaque;
	bool full;             /* out's ceiling was reached */
};

/* Room for n more bytes at the end of out, or NULL past its ceiling. */
static inline uint8_t *room(struct render *r, size_t n)
{
	struct buf *out = r->out;
	if (n > out->cap - out->len && buf_reserve(out, n) < 0) {
		r->full = true;
		return NULL;
	}
	return out->data + out->len;
}

static inline void put(struct render *r, const void *data, size_t n)
{
	uint8_t *p = room(r, n);
	if (p == NULL || n == 0)
		return;
	memcpy(p, data, n);
	r->out->len += n;
}

#define put_literal(r, s) put((r), (s), sizeof(s) - 1)

static inline void put_byte(struct render *r, uint8_t byte)
{
	uint8_t *p = room(r, 1);
	if (p == NULL)
		return;
	*p = byte;
	r->out->len++;
}

/*
 * Copies n bytes of s, which may be read up to padded bytes: where out has
 * that much room, a fixed-size copy (a few vector moves where a copy of the
 * exact length is a call or a slow `rep movs`); near out's ceiling, exactly.
 */
static inline void put_padded(struct render *r, const char *s, size_t n, size_t padded)
{
	struct buf *out = r->out;
	if (padded > out->cap - out->len && buf_reserve(out, padded) < 0) {
		put(r, s, n);
		return;
	}
	memcpy(out->data + out->len, s, padded);
	out->len += n;
}

static void put_printf(struct render *r, const char *format, size_t value)
{
	char text[48];
	int n = snprintf(text, sizeof(text), format, value);
	put(r, text, n > 0 ? (size_t)n : 0);
}

static inline void put_indent(struct render *r, unsigned depth)
{
	if (!r->options->compact)
		put_padded(r, spaces, 2 * (size_t)depth, sizeof(spaces) - 1);
}

static inline void put_newline(struct render *r)
{
	if (!r->options->compact)
		put_byte(r, '\n');
}

static inline const struct wbxml_tag_info *info_of(enum wbxml_tag tag)
{
	/* The reader hands out only tags the table defines. */
	return &wbxml_tag_table[wbxml_tag_page(tag) * 64 + wbxml_tag_token(tag)];
}

/* The root's page is the default namespace: its names go without prefix. */
static inline void put_qname(struct render *r, enum wbxml_tag tag)
{
	const struct wbxml_tag_info *info = info_of(tag);
	size_t skip = wbxml_tag_page(tag) == r->root_page ? info->prefix_len : 0;
	put_padded(r, info->qname + skip, info->qname_len - skip, WBXML_QNAME_PADDING);
}

/* How text bytes are written: as they are, as an entity, refused, or
   as the lead byte of a UTF-8 sequence to check. */
enum text_class { TEXT_PLAIN, TEXT_ENTITY, TEXT_REFUSED, TEXT_UTF8 };

#define P TEXT_PLAIN
#define E TEXT_ENTITY
#define X TEXT_REFUSED
#define U TEXT_UTF8
/* XML 1.0 (2.2) allows no control character but tab, LF and CR. A raw CR
   would read back as LF (2.11), so it is written &#13;. */
static const uint8_t text_classes[256] = {
	X, X, X, X, X, X, X, X, X, P, P, X, X, E, X, X, /* 0x00 */
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, /* 0x10 */
	P, P, P, P, P, P, E, P, P, P, P, P, P, P, P, P, /* 0x20: & */
	P, P, P, P, P, P, P, P, P, P, P, P, E, P, E, P, /* 0x30: < > */
	P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x40 */
	P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x50 */
	P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x60 */
	P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x70 */
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, /* 0x80 */
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, /* 0x90 */
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, /* 0xA0 */
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, /* 0xB0 */
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, /* 0xC0 */
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, /* 0xD0 */
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, /* 0xE0 */
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, /* 0xF0 */
};
#undef P
#undef E
#undef X
#undef U

static void put_entity(struct render *r, uint8_t c)
{
	switch (c) {
	case '&': put_literal(r, "&amp;"); break;
	case '<': put_literal(r, "&lt;"); break;
	case '>': put_literal(r, "&gt;"); break;
	default: put_literal(r, "&#13;"); break;
	}
}

static inline bool is_continuation(uint8_t c)
{
	return (c & 0xC0) == 0x80;
}

/*
 * Length of the UTF-8 sequence at s (lead byte >= 0x80) when it is well
 * formed (RFC 3629: no overlong form, no surrogate, nothing past U+10FFFF)
 * and a character XML 1.0 allows (not U+FFFE or U+FFFF); else 0.
 */
static size_t utf8_char(const uint8_t *s, size_t left)
{
	uint8_t c = s[0];
	if (c >= 0xC2 && c <= 0xDF)
		return left >= 2 && is_continuation(s[1]) ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (left < 3 || !is_continuation(s[1]) || !is_continuation(s[2]))
			return 0;
		if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0) ||
		    (c == 0xEF && s[1] == 0xBF && s[2] >= 0xBE))
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (left < 4 || !is_continuation(s[1]) || !is_continuation(s[2]) || !is_continuation(s[3]))
			return 0;
		if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

/*
 * Whether 8 bytes are all TEXT_PLAIN but for tab and LF: no byte below
 * 0x20 or above 0x7F, no '&', '<' or '>' (the zero-byte test of "Bit
 * Twiddling Hacks", exact for existence). Most text is skipped so, 8 bytes
 * at a time.
 */
static inline bool word_is_plain(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	uint64_t amp = w ^ (ones * '&'), lt = w ^ (ones * '<'), gt = w ^ (ones * '>');
	uint64_t special = ((w - ones * 0x20) & ~w) | ((amp - ones) & ~amp) |
			   ((lt - ones) & ~lt) | ((gt - ones) & ~gt);
	return ((special | w) & highs) == 0;
}

/*
 * Writes data[0..shown) escaped, checking in the same loop that all of
 * data[0..len) is text XML can carry. Returns false when it is not, having
 * written part of it: the caller takes that back.
 */
static bool put_text(struct render *r, const uint8_t *data, size_t len, size_t shown)
{
	size_t plain = 0, i = 0;
	while (i < len) {
		uint64_t word;
		if (len - i >= 8 && (memcpy(&word, data + i, 8), word_is_plain(word))) {
			i += 8;
			continue;
		}
		enum text_class class = text_classes[data[i]];
		size_t n = 1;
		if (class == TEXT_PLAIN) {
			i++;
			continue;
		}
		if (class == TEXT_REFUSED || (class == TEXT_UTF8 && (n = utf8_char(data + i, len - i)) == 0))
			return false;
		if (class == TEXT_ENTITY && i < shown) {
			put(r, data + plain, i - plain);
			put_entity(r, data[i]);
			plain = i + 1;
		}
		i += n;
	}
	put(r, data + plain, shown - plain);
	return true;
}

/* Text beside child elements (EAS has none): escaped, not checked. */
static void put_escaped(struct render *r, const uint8_t *data, size_t len)
{
	size_t plain = 0;
	for (size_t i = 0; i < len; i++) {
		if (text_classes[data[i]] != TEXT_ENTITY)
			continue;
		put(r, data + plain, i - plain);
		put_entity(r, data[i]);
		plain = i + 1;
	}
	put(r, data + plain, len - plain);
}

/*
 * Base64 (RFC 4648, padded, one line), or only the size when longer than
 * max_text. Written here rather than with g_base64_encode_step, whose
 * documented room is larger than what it writes: out may be exactly full.
 */
static void put_binary(struct render *r, const uint8_t *data, size_t len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t max = r->options->max_text;
	if (max > 0 && len > max) {
		put_printf(r, "[%zu bytes]", len);
		return;
	}
	size_t n = (len + 2) / 3 * 4, i = 0;
	uint8_t *p = room(r, n);
	if (p == NULL)
		return;
	for (; len - i >= 3; i += 3, p += 4) {
		uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
		p[0] = alphabet[v >> 18];
		p[1] = alphabet[v >> 12 & 0x3F];
		p[2] = alphabet[v >> 6 & 0x3F];
		p[3] = alphabet[v & 0x3F];
	}
	if (len - i > 0) {
		uint32_t v = (uint32_t)data[i] << 16 | (len - i == 2 ? (uint32_t)data[i + 1] << 8 : 0);
		p[0] = alphabet[v >> 18];
		p[1] = alphabet[v >> 12 & 0x3F];
		p[2] = len - i == 2 ? alphabet[v >> 6 & 0x3F] : '=';
		p[3] = '=';
	}
	r->out->len += n;
}

/* Longest prefix of at most max bytes that does not split a UTF-8 sequence. */
static size_t utf8_cut(const uint8_t *data, size_t len, size_t max)
{
	if (max == 0 || len <= max)
		return len;
	size_t n = max;
	while (n > 0 && is_continuation(data[n]))
		n--;
	return n;
}

/* A string leaf: its text, or base64 with a marker when XML cannot carry it. */
static void put_string(struct render *r, const uint8_t *text, size_t len, bool base64_tag)
{
	size_t mark = r->out->len;
	bool was_full = r->full;
	size_t shown = utf8_cut(text, len, r->options->max_text);
	/* Where base64 is the default the marker says the text is the string. */
	if (base64_tag)
		put_literal(r, " wbxml=\"string\"");
	put_byte(r, '>');
	if (put_text(r, text, len, shown)) {
		if (shown < len)
			put_printf(r, "...[%zu bytes]", len);
		return;
	}
	/* Taking back what was written takes back its failing at the ceiling. */
	r->out->len = mark;
	r->full = was_full;
	put_literal(r, " wbxml=\"base64\">");
	put_binary(r, text, len);
}

/*
 * Closes a leaf element: its text and the marker it needs. The tags
 * libwbxml carries as opaque (WBXML_TAG_LIBWBXML_OPAQUE: ConversationId,
 * Mime, ...) hold base64 of opaque data without a marker, as in its XML.
 */
static void put_leaf(struct render *r, enum wbxml_tag tag)
{
	const uint8_t *text = r->text_pieces == 1 ? r->piece.data : r->text.data;
	size_t len = r->text_pieces == 1 ? r->piece.len : r->text.len;
	bool base64_tag = (info_of(tag)->flags & WBXML_TAG_LIBWBXML_OPAQUE) != 0;

	if (r->text_pieces == 0) {
		put_literal(r, " wbxml=\"content\"/>");
		return;
	}
	if (r->text_opaque) {
		if (base64_tag && len > 0)
			put_byte(r, '>');
		else
			put_literal(r, " wbxml=\"opaque\">");
		put_binary(r, text, len);
	} else if (len == 0) {
		put_literal(r, " wbxml=\"string\"/>");
		return;
	} else {
		put_string(r, text, len, base64_tag);
	}
	put_literal(r, "</");
	put_qname(r, tag);
	put_byte(r, '>');
}

/* A child starts inside an element whose start tag is still open. */
static void close_open_start(struct render *r)
{
	if (!r->start_open)
		return;
	put_byte(r, '>');
	if (r->text_pieces > 0) /* mixed content: EAS has none */
		put_escaped(r, r->text_pieces == 1 ? r->piece.data : r->text.data,
			    r->text_pieces == 1 ? r->piece.len : r->text.len);
	put_newline(r);
	r->start_open = false;
}

static void render_start(struct render *r, const struct wbxml_event *event)
{
	unsigned page = wbxml_tag_page(event->tag);
	close_open_start(r);
	put_indent(r, r->depth);
	put_byte(r, '<');
	if (r->depth == 0)
		r->root_page = page;
	r->used_pages[page] = true;
	put_qname(r, event->tag);
	if (r->depth == 0)
		r->declarations_at = r->out->len;
	r->depth++;
	if (event->empty) {
		put_literal(r, "/>");
		put_newline(r);
		r->skip_end = true;
		return;
	}
	r->start_open = true;
	r->text_pieces = 0;
	r->text_opaque = false;
}

/* A string or opaque piece: borrowed while alone, copied once a second comes. */
static void render_piece(struct render *r, const struct wbxml_event *event)
{
	if (r->text_pieces == 0) {
		/* Field by field: one 16-byte load of what the reader has just
		   stored as two 8-byte halves stalls (no store forwarding). */
		r->piece.data = event->data.data;
		r->piece.len = event->data.len;
	} else {
		if (r->text_pieces == 1) {
			r->text.len = 0;
			buf_append(&r->text, r->piece.data, r->piece.len);
		}
		buf_append(&r->text, event->data.data, event->data.len);
	}
	r->text_pieces++;
	r->text_opaque |= event->type == WBXML_EVENT_OPAQUE;
}

static void render_end(struct render *r, const struct wbxml_event *event)
{
	r->depth--;
	if (r->skip_end) {
		r->skip_end = false;
		return;
	}
	if (r->start_open) {
		put_leaf(r, event->tag);
		r->start_open = false;
	} else {
		put_indent(r, r->depth);
		put_literal(r, "</");
		put_qname(r, event->tag);
		put_byte(r, '>');
	}
	put_newline(r);
}

static void render_event(struct render *r, const struct wbxml_event *event)
{
	switch (event->type) {
	case WBXML_EVENT_START:
		render_start(r, event);
		return;
	case WBXML_EVENT_STRING:
	case WBXML_EVENT_OPAQUE:
		render_piece(r, event);
		return;
	case WBXML_EVENT_END:
		render_end(r, event);
		return;
	case WBXML_EVENT_DONE:
		return;
	}
}

static size_t append_cstr(char *out, size_t at, const char *s)
{
	size_t n = strlen(s);
	memcpy(out + at, s, n);
	return at + n;
}

/*
 * The namespace declarations of the pages used, written into the root's
 * start tag: the root's page as the default namespace, the others with
 * their lower-case name as prefix. Spelled with the trailing colon, as
 * Exchange logs and libwbxml write them (xml2wbxml needs it to recognise
 * an ActiveSync document).
 */
static void insert_declarations(struct render *r)
{
	char declarations[WBXML_PAGE_COUNT * 64];
	size_t n = append_cstr(declarations, 0, " xmlns=\"");
	n = append_cstr(declarations, n, wbxml_namespaces[r->root_page]);
	n = append_cstr(declarations, n, ":\"");
	for (unsigned page = 0; page < WBXML_PAGE_COUNT; page++) {
		if (!r->used_pages[page] || page == r->root_page)
			continue;
		/* The page names are short (17 bytes at most): a bug otherwise. */
		assert(n + 2 * strlen(wbxml_namespaces[page]) + 16 <= sizeof(declarations));
		n = append_cstr(declarations, n, " xmlns:");
		for (const char *c = wbxml_namespaces[page]; *c != '\0'; c++)
			declarations[n++] = g_ascii_tolower(*c);
		n = append_cstr(declarations, n, "=\"");
		n = append_cstr(declarations, n, wbxml_namespaces[page]);
		n = append_cstr(declarations, n, ":\"");
	}
	if (room(r, n) == NULL)
		return;
	uint8_t *at = r->out->data + r->declarations_at;
	memmove(at + n, at, r->out->len - r->declarations_at);
	memcpy(at, declarations, n);
	r->out->len += n;
}

int wbxml_to_xml(const uint8_t *input, size_t len, const struct wbxml_limits *limits,
		 const struct wbxml_xml_options *options, struct buf *out,
		 struct wbxml_error *error_out)
{
	static const struct wbxml_xml_options defaults = { 0 };
	struct render r = { .out = out, .options = options != NULL ? options : &defaults };
	struct wbxml_reader reader;
	struct wbxml_event event;
	size_t start = out->len;
	int status;

	buf_init(&r.text, 0);
	put_literal(&r, "<?xml version=\"1.0\" encoding=\"utf-8\"?>");
	put_newline(&r);
	/* As libwbxml writes it: xml2wbxml knows a document by this (or by a
	   root in AirSync:), and no parser loads it. */
	put_literal(&r, "<!DOCTYPE ActiveSync PUBLIC \"-//MICROSOFT//DTD ActiveSync//EN\" "
			"\"http://www.microsoft.com/\">");
	put_newline(&r);
	wbxml_reader_init(&reader, input, len, limits);
	do {
		status = wbxml_reader_next(&reader, &event);
		if (status < 0) {
			if (error_out != NULL)
				*error_out = reader.error;
			break;
		}
		render_event(&r, &event);
	} while (event.type != WBXML_EVENT_DONE);
	if (status == WBXML_OK)
		insert_declarations(&r);
	if (status == WBXML_OK && r.full) {
		status = WBXML_ERR_LIMIT;
		if (error_out != NULL)
			*error_out = (struct wbxml_error){ .status = status, .offset = len,
							   .reason = "XML longer than the output buffer's ceiling" };
	}
	if (status < 0)
		out->len = start;
	buf_cleanup(&r.text);
	return status;
}

/* ---- parsing ---- */

enum marker {
	MARKER_NONE,
	MARKER_STRING,
	MARKER_BASE64,
	MARKER_OPAQUE,
	MARKER_CONTENT,
};

struct frame {
	enum wbxml_tag tag;
	enum marker marker;
	bool started;        /* has children: written as start ... end */
	bool base64_default; /* unmarked text is base64 of opaque data */
};

struct parse {
	xmlTextReaderPtr xml;
	bool libwbxml_names;
	struct wbxml_writer writer;
	struct frame stack[WBXML_DEPTH_CAP];
	unsigned depth;
	struct buf text;
	struct wbxml_error *error;
	bool libxml_failed;
};

static int parse_fail(struct parse *p, int status, const char *reason, const char *detail)
{
	if (p->error->status != WBXML_OK)
		return p->error->status;
	p->error->status = status;
	/* The parser reads ahead; the node knows the line it started on. */
	xmlNodePtr node = xmlTextReaderCurrentNode(p->xml);
	long line = node != NULL ? xmlGetLineNo(node) : -1;
	if (line < 0)
		line = xmlTextReaderGetParserLineNumber(p->xml);
	p->error->offset = (size_t)line;
	p->error->reason = reason;
	snprintf(p->error->detail, sizeof(p->error->detail), "%s", detail != NULL ? detail : "");
	return status;
}

static void on_libxml_error(void *arg, const char *msg, xmlParserSeverities severity,
			    xmlTextReaderLocatorPtr locator)
{
	struct parse *p = arg;
	if (severity != XML_PARSER_SEVERITY_ERROR && severity != XML_PARSER_SEVERITY_VALIDITY_ERROR)
		return;
	if (p->error->status == WBXML_OK) {
		p->error->status = WBXML_ERR_ENCODE;
		p->error->offset = (size_t)xmlTextReaderLocatorLineNumber(locator);
		p->error->reason = "XML is not well formed";
		snprintf(p->error->detail, sizeof(p->error->detail), "%s", msg);
		size_t n = strlen(p->error->detail);
		if (n > 0 && p->error->detail[n - 1] == '\n')
			p->error->detail[n - 1] = '\0';
	}
	p->libxml_failed = true;
}

static bool only_whitespace(const struct buf *text)
{
	for (size_t i = 0; i < text->len; i++)
		if (!g_ascii_isspace(text->data[i]))
			return false;
	return true;
}

/* Strict base64: the RFC 4648 alphabet with padding; XML whitespace ignored. */
static int decode_base64(struct buf *text, struct buf *bytes_out)
{
	size_t n = 0;
	for (size_t i = 0; i < text->len; i++) {
		uint8_t c = text->data[i];
		if (g_ascii_isspace(c))
			continue;
		if (!g_ascii_isalnum(c) && c != '+' && c != '/' && c != '=')
			return -1;
		text->data[n++] = c;
	}
	text->len = n;
	if (n % 4 != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (text->data[i] == '=' && i < n - 2)
			return -1;
	if (n >= 2 && text->data[n - 2] == '=' && text->data[n - 1] != '=')
		return -1;
	if (buf_reserve(bytes_out, n / 4 * 3 + 3) < 0)
		return -1;
	gint state = 0;
	guint save = 0;
	bytes_out->len = g_base64_decode_step((const gchar *)text->data, n, bytes_out->data, &state, &save);
	return 0;
}

static enum marker marker_of(struct parse *p, const xmlChar *value, int *status_out)
{
	static const char *const names[] = { NULL, "string", "base64", "opaque", "content" };
	*status_out = WBXML_OK;
	for (unsigned i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp((const char *)value, names[i]) == 0)
			return (enum marker)i;
	*status_out = parse_fail(p, WBXML_ERR_ENCODE, "unknown value of the wbxml attribute",
				 (const char *)value);
	return MARKER_NONE;
}

/* Reads the element's attributes: namespace declarations and `wbxml` only. */
static int read_attributes(struct parse *p, struct frame *frame)
{
	int status = WBXML_OK;
	frame->marker = MARKER_NONE;
	while (xmlTextReaderMoveToNextAttribute(p->xml) == 1) {
		if (xmlTextReaderIsNamespaceDecl(p->xml) == 1)
			continue;
		const xmlChar *name = xmlTextReaderConstName(p->xml);
		if (strcmp((const char *)name, "wbxml") != 0) {
			status = parse_fail(p, WBXML_ERR_ENCODE, "attributes are not used by EAS",
					    (const char *)name);
			break;
		}
		frame->marker = marker_of(p, xmlTextReaderConstValue(p->xml), &status);
		if (status < 0)
			break;
	}
	xmlTextReaderMoveToElement(p->xml);
	return status;
}

static int write_leaf(struct parse *p, struct frame *frame)
{
	struct wbxml_writer *w = &p->writer;
	struct buf bytes;

	if (frame->marker == MARKER_NONE && p->text.len == 0) {
		wbxml_writer_empty(w, frame->tag);
		return WBXML_OK;
	}
	if (frame->marker == MARKER_NONE && frame->base64_default)
		frame->marker = MARKER_OPAQUE;
	if (frame->marker == MARKER_CONTENT) {
		if (!only_whitespace(&p->text))
			return parse_fail(p, WBXML_ERR_ENCODE, "wbxml=\"content\" element has text", NULL);
		wbxml_writer_start(w, frame->tag);
		wbxml_writer_end(w);
		return WBXML_OK;
	}
	if (frame->marker == MARKER_NONE || frame->marker == MARKER_STRING) {
		wbxml_writer_start(w, frame->tag);
		wbxml_writer_string(w, p->text.data, p->text.len);
		wbxml_writer_end(w);
		return WBXML_OK;
	}
	buf_init(&bytes, 0);
	if (decode_base64(&p->text, &bytes) < 0) {
		buf_cleanup(&bytes);
		return parse_fail(p, WBXML_ERR_ENCODE, "text is not base64", wbxml_tag_name(frame->tag));
	}
	wbxml_writer_start(w, frame->tag);
	if (frame->marker == MARKER_OPAQUE)
		wbxml_writer_opaque(w, bytes.data, bytes.len);
	else
		wbxml_writer_string(w, bytes.data, bytes.len);
	wbxml_writer_end(w);
	buf_cleanup(&bytes);
	return WBXML_OK;
}

/*
 * The element's tag. In the namespaces spelled with the colon (libwbxml's
 * XML, and ours since it writes them so) the tags libwbxml carries as
 * opaque hold base64 of opaque data; in the colon-less spelling of MS-ASCMD
 * and of files written before, their text is a string as anywhere else.
 */
static int lookup_element(struct parse *p, struct frame *frame)
{
	const char *ns = (const char *)xmlTextReaderConstNamespaceUri(p->xml);
	const char *name = (const char *)xmlTextReaderConstLocalName(p->xml);
	if (ns == NULL)
		return parse_fail(p, WBXML_ERR_UNKNOWN_TAG, "element has no EAS namespace", name);
	size_t ns_len = strlen(ns);
	if (wbxml_tag_lookup(ns, ns_len, name, strlen(name), p->libwbxml_names, &frame->tag) < 0) {
		char both[96];
		snprintf(both, sizeof(both), "%s in %s", name, ns);
		return parse_fail(p, WBXML_ERR_UNKNOWN_TAG, "element not in the EAS code pages", both);
	}
	const struct wbxml_tag_info *info = wbxml_tag_info(wbxml_tag_page(frame->tag), wbxml_tag_token(frame->tag));
	frame->base64_default = ns[ns_len - 1] == ':' && (info->flags & WBXML_TAG_LIBWBXML_OPAQUE) != 0;
	return WBXML_OK;
}

static int on_element(struct parse *p)
{
	struct frame next = { 0 };
	int status;

	if (p->depth > 0) {
		struct frame *parent = &p->stack[p->depth - 1];
		if (!only_whitespace(&p->text))
			return parse_fail(p, WBXML_ERR_ENCODE, "element mixes text and child elements",
					  wbxml_tag_name(parent->tag));
		if (!parent->started) {
			if (parent->marker != MARKER_NONE)
				return parse_fail(p, WBXML_ERR_ENCODE, "wbxml attribute on an element with children",
						  wbxml_tag_name(parent->tag));
			wbxml_writer_start(&p->writer, parent->tag);
			parent->started = true;
		}
	}
	p->text.len = 0;
	if ((status = lookup_element(p, &next)) < 0)
		return status;
	if (p->depth >= WBXML_DEPTH_CAP)
		return parse_fail(p, WBXML_ERR_LIMIT, "elements nested deeper than the limit", NULL);
	struct frame *frame = &p->stack[p->depth++];
	*frame = next;
	if ((status = read_attributes(p, frame)) < 0)
		return status;
	if (xmlTextReaderIsEmptyElement(p->xml) == 1) {
		p->depth--;
		return write_leaf(p, frame);
	}
	return WBXML_OK;
}

static int on_end_element(struct parse *p)
{
	struct frame *frame = &p->stack[--p->depth];
	int status = WBXML_OK;
	if (frame->started) {
		if (!only_whitespace(&p->text))
			return parse_fail(p, WBXML_ERR_ENCODE, "element mixes text and child elements",
					  wbxml_tag_name(frame->tag));
		wbxml_writer_end(&p->writer);
	} else {
		status = write_leaf(p, frame);
	}
	p->text.len = 0;
	return status;
}

static int on_node(struct parse *p)
{
	switch (xmlTextReaderNodeType(p->xml)) {
	case XML_READER_TYPE_ELEMENT:
		return on_element(p);
	case XML_READER_TYPE_END_ELEMENT:
		return on_end_element(p);
	case XML_READER_TYPE_TEXT:
	case XML_READER_TYPE_CDATA:
	case XML_READER_TYPE_WHITESPACE:
	case XML_READER_TYPE_SIGNIFICANT_WHITESPACE: {
		const xmlChar *value = xmlTextReaderConstValue(p->xml);
		if (p->depth > 0 && value != NULL)
			buf_append_cstr(&p->text, (const char *)value);
		return WBXML_OK;
	}
	case XML_READER_TYPE_ENTITY_REFERENCE:
		return parse_fail(p, WBXML_ERR_ENCODE, "entity references are not supported", NULL);
	default:
		return WBXML_OK; /* comments, processing instructions, the DOCTYPE */
	}
}

int wbxml_from_xml(const char *xml, size_t len, bool libwbxml_names, struct buf *out,
		   struct wbxml_error *error_out)
{
	struct wbxml_error ignored;
	struct parse p = { .libwbxml_names = libwbxml_names,
			   .error = error_out != NULL ? error_out : &ignored };
	memset(p.error, 0, sizeof(*p.error));
	if (xml == NULL || len == 0) {
		p.error->status = WBXML_ERR_ENCODE;
		p.error->reason = "XML document is empty";
		return WBXML_ERR_ENCODE;
	}
	if (len > INT32_MAX) {
		p.error->status = WBXML_ERR_LIMIT;
		p.error->reason = "XML document larger than 2 GB";
		return WBXML_ERR_LIMIT;
	}
	/* No network, no DTD loading, no entity substitution (no XXE). */
	p.xml = xmlReaderForMemory(xml, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_HUGE);
	if (p.xml == NULL)
		abort();
	xmlTextReaderSetErrorHandler(p.xml, on_libxml_error, &p);
	buf_init(&p.text, 0);
	size_t start = out->len;
	wbxml_writer_init(&p.writer, out);
	int status = WBXML_OK;
	int more = 0;
	while (status == WBXML_OK && (more = xmlTextReaderRead(p.xml)) == 1)
		status = on_node(&p);
	if (status == WBXML_OK && (more < 0 || p.libxml_failed))
		status = p.error->status != WBXML_OK ? p.error->status
						     : parse_fail(&p, WBXML_ERR_ENCODE, "XML is not well formed", NULL);
	if (status == WBXML_OK) {
		const char *reason;
		status = wbxml_writer_finish(&p.writer, &reason);
		if (status < 0) {
			p.error->status = status;
			p.error->reason = reason;
		}
	}
	if (status < 0)
		out->len = start;
	buf_cleanup(&p.text);
	xmlFreeTextReader(p.xml);
	return status;
}
