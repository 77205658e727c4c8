/*
 * wbxml: the WBXML codec for EAS (WBXML 1.3 as profiled by MS-ASWBXML).
 *
 * Owns: the code pages, a streaming pull reader that hands out events
 * without allocating, a writer that appends to a struct buf, a tree
 * builder for tests and tools, and XML rendering and parsing.
 * Must not: know any EAS command. Callers decide what a tag means.
 *
 * Everything a device controls is bounded by struct wbxml_limits; input is
 * never trusted to be well formed, and an error names the byte offset and
 * the reason.
 */
#ifndef WBXML_H
#define WBXML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"
#include "wbxml/wbxml_codepages.h"

/* The reader's stack is a fixed array of this many levels (no recursion). */
#define WBXML_DEPTH_CAP 64

/* Limits on one message; a zero field takes the default. */
struct wbxml_limits {
	uint32_t max_depth;    /* nesting; default 32 (EAS needs about 12), at most WBXML_DEPTH_CAP */
	uint32_t max_elements; /* elements in the message; default 4,000,000 */
	uint32_t max_string;   /* bytes in one inline string or opaque; default 32 MiB */
	size_t max_total;      /* bytes in the message; default 32 MiB */
};

#define WBXML_DEFAULT_MAX_DEPTH 32u
#define WBXML_DEFAULT_MAX_ELEMENTS 4000000u
#define WBXML_DEFAULT_MAX_STRING (32u * 1024 * 1024)
#define WBXML_DEFAULT_MAX_TOTAL ((size_t)32 * 1024 * 1024)

enum wbxml_status {
	WBXML_OK = 0,
	/* The input ends inside the message. The reader keeps its place: give
	   it more bytes with wbxml_reader_more, or treat this as truncation. */
	WBXML_ERR_TRUNCATED = -1,
	WBXML_ERR_MALFORMED = -2,   /* not WBXML */
	WBXML_ERR_UNSUPPORTED = -3, /* WBXML that EAS never uses */
	WBXML_ERR_UNKNOWN_TAG = -4, /* page or token not in the code pages */
	WBXML_ERR_LIMIT = -5,       /* a wbxml_limits bound was crossed */
	WBXML_ERR_ENCODE = -6,      /* writer or XML input could not be encoded */
};

struct wbxml_error {
	int status;          /* enum wbxml_status */
	size_t offset;       /* byte offset of the failing token (XML: line) */
	const char *reason;  /* static text, e.g. "attributes are not used by EAS" */
	char detail[96];     /* extra words (a tag name) or empty */
};

/* Short name of a status ("truncated", "limit", ...), for logs. */
const char *wbxml_status_name(int status);

enum wbxml_event_type {
	WBXML_EVENT_START,  /* tag, empty */
	WBXML_EVENT_END,    /* tag */
	WBXML_EVENT_STRING, /* data: an inline string, without its NUL */
	WBXML_EVENT_OPAQUE, /* data: opaque bytes */
	WBXML_EVENT_DONE,   /* the root element has ended and the input with it */
};

struct wbxml_event {
	enum wbxml_event_type type;
	enum wbxml_tag tag;
	/* START: the tag had no content bit (<Tag/>). Its END follows at once,
	   so every START has an END and walkers need no special case. */
	bool empty;
	struct slice data; /* borrowed from the input buffer */
	size_t offset;     /* where the token starts */
};

/*
 * The pull reader. Embed it (no allocation); it holds a pointer to the
 * input, a fixed stack and counters: a few hundred bytes whatever the
 * message size.
 */
struct wbxml_reader {
	const uint8_t *input;
	size_t len;
	size_t pos;
	struct wbxml_limits limits;
	uint32_t elements;
	uint16_t depth;
	uint8_t page;
	uint8_t state;
	bool pending_end;
	enum wbxml_tag pending_tag;
	uint16_t stack[WBXML_DEPTH_CAP];
	struct wbxml_error error;
};

/* Reads input[0..len); limits NULL or zero fields take the defaults. */
void wbxml_reader_init(struct wbxml_reader *reader, const uint8_t *input, size_t len,
		       const struct wbxml_limits *limits);
/*
 * Next event. Returns WBXML_OK with *event_out filled, or a negative
 * enum wbxml_status with reader->error set. After an error other than
 * WBXML_ERR_TRUNCATED every further call fails the same way.
 */
int wbxml_reader_next(struct wbxml_reader *reader, struct wbxml_event *event_out);
/*
 * The input grew: input[0..len) starts with the bytes given before (it may
 * live at a new address). Continues after WBXML_ERR_TRUNCATED. Slices from
 * earlier events point into the old address.
 */
void wbxml_reader_more(struct wbxml_reader *reader, const uint8_t *input, size_t len);
/*
 * Inside an element: the next child element. Returns 1 with *event_out its
 * START, 0 at the element's own END (consumed), or a negative status;
 * text between children is passed over. Reaching the end of the message
 * inside an element is WBXML_ERR_MALFORMED.
 */
int wbxml_reader_next_child(struct wbxml_reader *reader, struct wbxml_event *event_out);
/* After a START event: consumes events up to and including its END. */
int wbxml_reader_skip(struct wbxml_reader *reader);
/*
 * A place in a message to read again later: an element just started
 * (wbxml_reader_mark right after its START event). wbxml_reader_resume
 * makes a reader over the same input that is inside that element, as the
 * first reader was: its children and its END come next. A request's
 * commands can so be read once to check them and again once the reader
 * knows what they mean (a Sync's ApplicationData, whose class comes from
 * its folder). A few bytes, not a copy of the reader.
 */
struct wbxml_mark {
	size_t pos;
	uint32_t elements;
	uint16_t tag;
	uint8_t page;
	bool empty;
};
struct wbxml_mark wbxml_reader_mark(const struct wbxml_reader *reader, const struct wbxml_event *start);
void wbxml_reader_resume(struct wbxml_reader *reader, const uint8_t *input, size_t len,
			 const struct wbxml_limits *limits, const struct wbxml_mark *mark);

/* Number of open elements. */
static inline unsigned wbxml_reader_depth(const struct wbxml_reader *reader)
{
	return reader->depth;
}

/*
 * The writer appends a message to a struct buf whose ceiling bounds it.
 * Errors are sticky: after the first one the writer ignores further calls
 * and wbxml_writer_finish reports it. SWITCH_PAGE is written only when the
 * page changes; strings go inline, binary data as opaque.
 */
struct wbxml_writer {
	struct buf *out;
	uint8_t page;
	uint16_t depth;
	int status;
	const char *reason;
};

/* Starts a message (writes the header) at the end of out. */
void wbxml_writer_init(struct wbxml_writer *writer, struct buf *out);
/* An element with content; close it with wbxml_writer_end. */
void wbxml_writer_start(struct wbxml_writer *writer, enum wbxml_tag tag);
/* An element without content (<Tag/>). */
void wbxml_writer_empty(struct wbxml_writer *writer, enum wbxml_tag tag);
void wbxml_writer_end(struct wbxml_writer *writer);
/* Inline string content. A NUL inside the bytes is an error. */
void wbxml_writer_string(struct wbxml_writer *writer, const void *data, size_t len);
void wbxml_writer_opaque(struct wbxml_writer *writer, const void *data, size_t len);
/*
 * Inline string content written later, outside the buffer (a body
 * streamed as the response is sent): writes an empty string and returns
 * the offset in out where its bytes belong, between STR_I and the
 * terminating NUL. Whoever inserts them there must send no NUL.
 */
size_t wbxml_writer_string_slot(struct wbxml_writer *writer);
/* <Tag>data</Tag>, or <Tag/> when len is 0. */
void wbxml_writer_element_string(struct wbxml_writer *writer, enum wbxml_tag tag,
				 const void *data, size_t len);
void wbxml_writer_element_cstr(struct wbxml_writer *writer, enum wbxml_tag tag, const char *s);
void wbxml_writer_element_uint(struct wbxml_writer *writer, enum wbxml_tag tag, uint64_t value);
void wbxml_writer_element_opaque(struct wbxml_writer *writer, enum wbxml_tag tag,
				 const void *data, size_t len);
/*
 * Returns 0 when the message is complete (every element ended), or the
 * first error (WBXML_ERR_LIMIT: the buffer ceiling; WBXML_ERR_ENCODE: a NUL
 * in a string, unbalanced ends) with *reason_out set when not NULL.
 */
int wbxml_writer_finish(struct wbxml_writer *writer, const char **reason_out);

/*
 * A whole message as a tree, for tests and tools (command handlers walk the
 * reader instead). Nodes live in the arena given to wbxml_tree_parse.
 */
enum wbxml_content {
	WBXML_CONTENT_NONE,   /* <Tag/>, no content bit */
	WBXML_CONTENT_EMPTY,  /* content bit, nothing inside */
	WBXML_CONTENT_CHILDREN,
	WBXML_CONTENT_STRING,
	WBXML_CONTENT_OPAQUE,
};

struct wbxml_node {
	enum wbxml_tag tag;
	enum wbxml_content content;
	struct slice text; /* STRING or OPAQUE: the bytes (pieces joined) */
	struct wbxml_node *parent;
	struct wbxml_node *first_child;
	struct wbxml_node *last_child;
	struct wbxml_node *next;
};

/* Parses a message. Returns 0 and *root_out, or a status with *error_out. */
int wbxml_tree_parse(struct arena *arena, const uint8_t *input, size_t len,
		     const struct wbxml_limits *limits, struct wbxml_node **root_out,
		     struct wbxml_error *error_out);
/* New node under parent (NULL: a root) in the arena. */
struct wbxml_node *wbxml_tree_add(struct arena *arena, struct wbxml_node *parent,
				  enum wbxml_tag tag, enum wbxml_content content,
				  const void *text, size_t len);
/* Appends the tree as a message to out. Returns 0 or the writer's error. */
int wbxml_tree_encode(const struct wbxml_node *root, struct buf *out);
/* Same tags, content kinds and bytes, in the same order. */
bool wbxml_tree_equal(const struct wbxml_node *a, const struct wbxml_node *b);

/*
 * XML rendering, in the dialect of Exchange logs and libwbxml's wbxml2xml:
 * namespaces are the page names with a trailing colon ("AirSync:"), the
 * root's page the default one, the others declared on the root with their
 * lower-case name as prefix (xmlns:airsyncbase="AirSyncBase:"), and
 * libwbxml's DOCTYPE, so that its xml2wbxml -a -n reads it.
 */
struct wbxml_xml_options {
	bool compact;      /* no indentation or newlines */
	size_t max_text;   /* cut longer strings (for logs); 0: no cut */
};

/*
 * Renders a message as XML, appended to out. Content XML cannot carry is
 * marked with a `wbxml` attribute so that wbxml_from_xml gives back the
 * same bytes (see doc/wbxml.md):
 *   wbxml="opaque"  the text is base64 of opaque data (not marked in the
 *                   tags libwbxml carries as opaque, WBXML_TAG_LIBWBXML_OPAQUE:
 *                   there bare text is base64, as in libwbxml's XML)
 *   wbxml="base64"  the text is base64 of an inline string that is not
 *                   UTF-8 or holds characters XML cannot carry
 *   wbxml="string"  an inline string: an empty one (<Tag wbxml="string"/>),
 *                   or one in a tag whose bare text is base64
 *   wbxml="content" the content bit with nothing inside
 * Returns 0, or a reader status with *error_out, or WBXML_ERR_LIMIT when
 * out's ceiling is reached; on an error nothing is appended.
 */
int wbxml_to_xml(const uint8_t *input, size_t len, const struct wbxml_limits *limits,
		 const struct wbxml_xml_options *options, struct buf *out,
		 struct wbxml_error *error_out);
/*
 * Parses XML with libxml2 and appends its WBXML encoding to out. Elements
 * must be in EAS namespaces, with or without the trailing colon; with it,
 * the bare text of the tags libwbxml carries as opaque is base64 of opaque
 * data (as wbxml_to_xml and libwbxml write it), without it a string (as
 * MS-ASCMD writes it, and easctl did before it wrote the colon). With
 * libwbxml_names libwbxml's older tag names are accepted too. Returns 0, or
 * WBXML_ERR_ENCODE / WBXML_ERR_UNKNOWN_TAG / WBXML_ERR_LIMIT with
 * *error_out (offset is the XML line).
 */
int wbxml_from_xml(const char *xml, size_t len, bool libwbxml_names, struct buf *out,
		   struct wbxml_error *error_out);

#endif
