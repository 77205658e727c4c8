/*
 * xml.c: WBXML <-> XML for logs, tests and easctl (see wbxml.h).
 *
 * Rendering walks the reader twice: once to validate the message and learn
 * which namespaces it uses (declared on the root, as MS-ASCMD writes its
 * examples), once to write. Parsing uses libxml2's streaming reader, never a
 * hand-written XML parser, and drives the writer.
 *
 * XML cannot say everything WBXML can (opaque bytes, strings that are not
 * UTF-8, the content bit on an empty element); the `wbxml` attribute marks
 * those cases so that decoding and encoding again gives the original bytes.
 */
#include "wbxml/wbxml.h"

#include <glib.h>
#include <libxml/xmlreader.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rendering ---- */

struct render {
	struct buf *out;
	const struct wbxml_xml_options *options;
	unsigned root_page;
	bool used_pages[WBXML_PAGE_COUNT];
	unsigned depth;        /* open elements, the one being written included */
	bool start_open;       /* "<Name" written, ">" not yet */
	bool skip_end;         /* the END of an element written as <Name/> */
	struct buf text;       /* content of the open leaf element */
	unsigned text_pieces;
	bool text_opaque;
};

static void put_indent(struct render *r, unsigned depth)
{
	if (r->options->compact)
		return;
	for (unsigned i = 0; i < depth; i++)
		buf_append(r->out, "  ", 2);
}

static void put_newline(struct render *r)
{
	if (!r->options->compact)
		buf_append_byte(r->out, '\n');
}

static void put_lower(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++)
		buf_append_byte(out, (uint8_t)g_ascii_tolower(*s));
}

static void put_qname(struct render *r, enum wbxml_tag tag)
{
	if (wbxml_tag_page(tag) != r->root_page) {
		put_lower(r->out, wbxml_tag_namespace(tag));
		buf_append_byte(r->out, ':');
	}
	buf_append_cstr(r->out, wbxml_tag_name(tag));
}

static void put_namespaces(struct render *r)
{
	buf_printf(r->out, " xmlns=\"%s\"", wbxml_namespaces[r->root_page]);
	for (unsigned page = 0; page < WBXML_PAGE_COUNT; page++) {
		if (!r->used_pages[page] || page == r->root_page)
			continue;
		buf_append_cstr(r->out, " xmlns:");
		put_lower(r->out, wbxml_namespaces[page]);
		buf_printf(r->out, "=\"%s\"", wbxml_namespaces[page]);
	}
}

/* True when the bytes are UTF-8 made only of characters XML 1.0 allows. */
static bool xml_can_carry(const uint8_t *data, size_t len)
{
	if (!g_utf8_validate((const char *)data, (gssize)len, NULL))
		return false;
	for (const char *p = (const char *)data; p < (const char *)data + len; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0xFFFE || c == 0xFFFF)
			return false;
	}
	return true;
}

static void put_escaped(struct buf *out, const uint8_t *data, size_t len)
{
	size_t plain = 0;
	for (size_t i = 0; i < len; i++) {
		const char *entity;
		switch (data[i]) {
		case '&': entity = "&amp;"; break;
		case '<': entity = "&lt;"; break;
		case '>': entity = "&gt;"; break;
		case '\r': entity = "&#13;"; break; /* XML parsers turn a raw CR into LF */
		default: continue;
		}
		buf_append(out, data + plain, i - plain);
		buf_append_cstr(out, entity);
		plain = i + 1;
	}
	buf_append(out, data + plain, len - plain);
}

static void put_base64(struct buf *out, const uint8_t *data, size_t len)
{
	gchar *encoded = g_base64_encode(data, len);
	buf_append_cstr(out, encoded);
	g_free(encoded);
}

/* Longest prefix of at most max bytes that does not split a UTF-8 sequence. */
static size_t utf8_cut(const uint8_t *data, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	while (n > 0 && (data[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* Closes a leaf element: its text and the marker it needs. */
static void put_leaf(struct render *r, enum wbxml_tag tag)
{
	const uint8_t *text = r->text.data;
	size_t len = r->text.len;
	size_t max = r->options->max_text;

	if (r->text_pieces == 0) {
		buf_append_cstr(r->out, " wbxml=\"content\"/>");
		return;
	}
	if (r->text_opaque) {
		buf_append_cstr(r->out, " wbxml=\"opaque\">");
		if (max > 0 && len > max)
			buf_printf(r->out, "[%zu bytes]", len);
		else
			put_base64(r->out, text, len);
	} else if (len == 0) {
		buf_append_cstr(r->out, " wbxml=\"string\"/>");
		return;
	} else if (xml_can_carry(text, len)) {
		buf_append_byte(r->out, '>');
		size_t shown = max > 0 ? utf8_cut(text, len, max) : len;
		put_escaped(r->out, text, shown);
		if (shown < len)
			buf_printf(r->out, "...[%zu bytes]", len);
	} else {
		buf_append_cstr(r->out, " wbxml=\"base64\">");
		if (max > 0 && len > max)
			buf_printf(r->out, "[%zu bytes]", len);
		else
			put_base64(r->out, text, len);
	}
	buf_append_cstr(r->out, "</");
	put_qname(r, tag);
	buf_append_byte(r->out, '>');
}

/* A child starts inside an element whose start tag is still open. */
static void close_open_start(struct render *r)
{
	if (!r->start_open)
		return;
	buf_append_byte(r->out, '>');
	if (r->text.len > 0)
		put_escaped(r->out, r->text.data, r->text.len); /* mixed content: EAS has none */
	put_newline(r);
	r->start_open = false;
}

static void render_event(struct render *r, const struct wbxml_event *event)
{
	switch (event->type) {
	case WBXML_EVENT_START:
		close_open_start(r);
		put_indent(r, r->depth);
		buf_append_byte(r->out, '<');
		put_qname(r, event->tag);
		if (r->depth == 0)
			put_namespaces(r);
		r->depth++;
		if (event->empty) {
			buf_append_cstr(r->out, "/>");
			put_newline(r);
			r->skip_end = true;
			return;
		}
		r->start_open = true;
		r->text.len = 0;
		r->text_pieces = 0;
		r->text_opaque = false;
		return;
	case WBXML_EVENT_STRING:
	case WBXML_EVENT_OPAQUE:
		buf_append(&r->text, event->data.data, event->data.len);
		r->text_pieces++;
		r->text_opaque |= event->type == WBXML_EVENT_OPAQUE;
		return;
	case WBXML_EVENT_END:
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
			buf_append_cstr(r->out, "</");
			put_qname(r, event->tag);
			buf_append_byte(r->out, '>');
		}
		put_newline(r);
		return;
	case WBXML_EVENT_DONE:
		return;
	}
}

/* First pass: the whole message must decode before anything is written. */
static int scan_pages(struct render *r, const uint8_t *input, size_t len,
		      const struct wbxml_limits *limits, struct wbxml_error *error_out)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	bool root_seen = false;

	wbxml_reader_init(&reader, input, len, limits);
	do {
		int status = wbxml_reader_next(&reader, &event);
		if (status < 0) {
			if (error_out != NULL)
				*error_out = reader.error;
			return status;
		}
		if (event.type == WBXML_EVENT_START) {
			r->used_pages[wbxml_tag_page(event.tag)] = true;
			if (!root_seen)
				r->root_page = wbxml_tag_page(event.tag);
			root_seen = true;
		}
	} while (event.type != WBXML_EVENT_DONE);
	return WBXML_OK;
}

int wbxml_to_xml(const uint8_t *input, size_t len, const struct wbxml_limits *limits,
		 const struct wbxml_xml_options *options, struct buf *out,
		 struct wbxml_error *error_out)
{
	static const struct wbxml_xml_options defaults = { 0 };
	struct render r = { .out = out, .options = options != NULL ? options : &defaults };
	struct wbxml_reader reader;
	struct wbxml_event event;

	int status = scan_pages(&r, input, len, limits, error_out);
	if (status < 0)
		return status;
	buf_init(&r.text, 0);
	buf_append_cstr(out, "<?xml version=\"1.0\" encoding=\"utf-8\"?>");
	put_newline(&r);
	wbxml_reader_init(&reader, input, len, limits);
	do {
		status = wbxml_reader_next(&reader, &event);
		if (status < 0)
			break; /* cannot happen: the first pass read the same bytes */
		render_event(&r, &event);
	} while (event.type != WBXML_EVENT_DONE);
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
	bool started; /* has children: written as start ... end */
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

static int lookup_element(struct parse *p, enum wbxml_tag *tag_out)
{
	const char *ns = (const char *)xmlTextReaderConstNamespaceUri(p->xml);
	const char *name = (const char *)xmlTextReaderConstLocalName(p->xml);
	if (ns == NULL)
		return parse_fail(p, WBXML_ERR_UNKNOWN_TAG, "element has no EAS namespace", name);
	if (wbxml_tag_lookup(ns, strlen(ns), name, strlen(name), p->libwbxml_names, tag_out) < 0) {
		char both[96];
		snprintf(both, sizeof(both), "%s in %s", name, ns);
		return parse_fail(p, WBXML_ERR_UNKNOWN_TAG, "element not in the EAS code pages", both);
	}
	return WBXML_OK;
}

static int on_element(struct parse *p)
{
	enum wbxml_tag tag;
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
	if ((status = lookup_element(p, &tag)) < 0)
		return status;
	if (p->depth >= WBXML_DEPTH_CAP)
		return parse_fail(p, WBXML_ERR_LIMIT, "elements nested deeper than the limit", NULL);
	struct frame *frame = &p->stack[p->depth++];
	frame->tag = tag;
	frame->started = false;
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
