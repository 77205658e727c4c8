/*
 * fields.c: the engine of the classes kept as their fields (see fields.h).
 *
 * A Change merges field by field, never replaces the item: a field the
 * Change carries replaces the stored one (an empty one clears it); a field
 * it leaves out is kept or deleted as the class and the device's Supported
 * list say (MS-ASCMD 2.2.3.24, 2.2.3.179; field-notes §1.1). Lossy echoes
 * never destroy data: a body the device writes back as it was sent to it
 * (truncated, or flattened to plain text: field-notes F-BODY-1), a body
 * without Data (R878), or the empty Picture iOS sends for a picture it did
 * not make (F-CNT-2) leave the stored one as it was.
 */
#include "pim/fields.h"
#include "pim/pim_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guard/limits.h"

/* ---- the tree of a device's ApplicationData ---- */

/*
 * Reads the children of the element just started into root. Text is
 * gathered in one buffer per element (pieces join in linear time) and kept
 * only in elements without children. Returns 0, 1 past the item limits,
 * or a wbxml status.
 */
static int read_tree(struct wbxml_reader *reader, struct arena *arena, struct wbxml_node *root)
{
	struct wbxml_node *current = root;
	struct wbxml_event event;
	struct buf text;
	unsigned elements = 0;
	int status = 0;
	buf_init(&text, LIMIT_PIM_ITEM_BYTES);
	while (status == 0 && (status = wbxml_reader_next(reader, &event)) == 0) {
		if (event.type == WBXML_EVENT_START) {
			enum wbxml_content content = event.empty ? WBXML_CONTENT_NONE : WBXML_CONTENT_EMPTY;
			current = wbxml_tree_add(arena, current, event.tag, content, NULL, 0);
			text.len = 0;
			status = ++elements > LIMIT_PIM_ITEM_ELEMENTS ? 1 : 0;
		} else if (event.type == WBXML_EVENT_STRING || event.type == WBXML_EVENT_OPAQUE) {
			status = buf_append(&text, event.data.data, event.data.len) < 0 ? 1 : 0;
			if (current->first_child == NULL)
				current->content = event.type == WBXML_EVENT_OPAQUE ? WBXML_CONTENT_OPAQUE : WBXML_CONTENT_STRING;
		} else if (event.type == WBXML_EVENT_END) {
			if (current->first_child == NULL && text.len > 0)
				current->text = (struct slice){ (const uint8_t *)arena_strndup(arena, text.data, text.len), text.len };
			text.len = 0;
			if (current == root)
				break;
			current = current->parent;
		} else {
			status = WBXML_ERR_MALFORMED;
		}
	}
	buf_cleanup(&text);
	return status;
}

struct wbxml_node *pim_fields_new(struct arena *arena, struct wbxml_node *parent, enum wbxml_tag tag)
{
	return wbxml_tree_add(arena, parent, tag, WBXML_CONTENT_EMPTY, NULL, 0);
}

static bool is_empty(const struct wbxml_node *node)
{
	return node->first_child == NULL && node->text.len == 0;
}

struct wbxml_node *pim_fields_find(const struct wbxml_node *item, enum wbxml_tag tag)
{
	for (struct wbxml_node *node = item->first_child; node != NULL; node = node->next)
		if (node->tag == tag)
			return node;
	return NULL;
}

static struct wbxml_node *find_child(const struct wbxml_node *parent, enum wbxml_tag tag)
{
	return parent != NULL ? pim_fields_find(parent, tag) : NULL;
}

const char *pim_fields_text(const struct wbxml_node *item, enum wbxml_tag tag)
{
	const struct wbxml_node *node = pim_fields_find(item, tag);
	/* Text was copied NUL-terminated (arena_strndup); opaque bytes with a NUL inside are no text. */
	if (node == NULL || node->first_child != NULL || node->text.len == 0 ||
	    memchr(node->text.data, '\0', node->text.len) != NULL)
		return "";
	return (const char *)node->text.data;
}

void pim_fields_remove(struct wbxml_node *item, enum wbxml_tag tag)
{
	struct wbxml_node *previous = NULL;
	for (struct wbxml_node *node = item->first_child; node != NULL; previous = node, node = node->next) {
		if (node->tag != tag)
			continue;
		if (previous != NULL)
			previous->next = node->next;
		else
			item->first_child = node->next;
		if (item->last_child == node)
			item->last_child = previous;
		return;
	}
}

void pim_fields_set(struct arena *arena, struct wbxml_node *item, enum wbxml_tag tag, const char *text)
{
	pim_fields_remove(item, tag);
	wbxml_tree_add(arena, item, tag, WBXML_CONTENT_STRING, text, strlen(text));
}

int pim_fields_number(const struct wbxml_node *item, enum wbxml_tag tag, unsigned max, unsigned *value_out)
{
	const struct wbxml_node *node = pim_fields_find(item, tag);
	uint64_t value;
	if (node == NULL)
		return -1;
	if (node->first_child != NULL || parse_uint64(node->text, max, &value) < 0)
		return -2;
	*value_out = (unsigned)value;
	return 0;
}

int pim_fields_parse_time(const char *text, int64_t *time_out)
{
	struct tm tm = { 0 };
	int consumed = 0;
	/* MS-ASDTYPE dateTime (the fraction and the Z optional, as clients send it), or the compact form. */
	if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, &consumed) == 6 && consumed == 19) {
		const char *rest = text + consumed;
		if (*rest == '.')
			rest += 1 + strspn(rest + 1, "0123456789");
		if (strcmp(rest, "Z") != 0 && *rest != '\0')
			return -1;
	} else if (strlen(text) != 16 || sscanf(text, "%4d%2d%2dT%2d%2d%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
						&tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 || consumed != 16) {
		return -1;
	}
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1601)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*time_out = (int64_t)timegm(&tm);
	return 0;
}

static const char *time_text(struct arena *arena, int64_t t, const char *pattern)
{
	time_t seconds = (time_t)t;
	struct tm tm;
	char text[40];
	gmtime_r(&seconds, &tm);
	strftime(text, sizeof(text), pattern, &tm);
	return arena_strndup(arena, text, strlen(text));
}

const char *pim_fields_format_time(struct arena *arena, int64_t t)
{
	return time_text(arena, t, "%Y-%m-%dT%H:%M:%S.000Z");
}

const char *pim_fields_compact_time(struct arena *arena, int64_t t)
{
	return time_text(arena, t, "%Y%m%dT%H%M%SZ");
}

int64_t pim_fields_time(const struct wbxml_node *item, enum wbxml_tag tag, int64_t fallback)
{
	int64_t t;
	return pim_fields_parse_time(pim_fields_text(item, tag), &t) == 0 ? t : fallback;
}

void pim_fields_adopt(struct arena *arena, struct wbxml_node *parent, const struct wbxml_node *original)
{
	struct wbxml_node *node = arena_alloc(arena, sizeof(*node));
	*node = *original;
	for (struct wbxml_node *child = node->first_child; child != NULL; child = child->next)
		child->parent = node;
	node->next = NULL;
	node->parent = parent;
	if (parent->last_child != NULL)
		parent->last_child->next = node;
	else
		parent->first_child = node;
	parent->last_child = node;
	parent->content = WBXML_CONTENT_CHILDREN;
}

/* ---- normalising what a device sent ---- */

/* Body Type (MS-ASAIRS 2.2.2.22.1): 1 plain, 2 HTML, 3 RTF; 0 when absent or another value. */
static unsigned body_type(const struct wbxml_node *body)
{
	unsigned type = 0;
	return body != NULL && pim_fields_number(body, WBXML_AIRSYNCBASE_TYPE, 3, &type) == 0 ? type : 0;
}

/* A body keeps its Type and Data only (Truncated, EstimatedDataSize and Preview are the sender's view). */
static struct wbxml_node *normal_body(struct arena *arena, const struct wbxml_node *body, const char **invalid)
{
	unsigned type = body_type(body);
	const struct wbxml_node *data = find_child(body, WBXML_AIRSYNCBASE_DATA);
	if (type == 0) {
		*invalid = "body_type_invalid";
		return NULL;
	}
	if (data == NULL)
		return NULL;
	struct wbxml_node *copy = wbxml_tree_add(arena, NULL, WBXML_AIRSYNCBASE_BODY, WBXML_CONTENT_EMPTY, NULL, 0);
	char digit[2] = { (char)('0' + type), '\0' };
	wbxml_tree_add(arena, copy, WBXML_AIRSYNCBASE_TYPE, WBXML_CONTENT_STRING, digit, 1);
	wbxml_tree_add(arena, copy, WBXML_AIRSYNCBASE_DATA, WBXML_CONTENT_STRING, data->text.data, data->text.len);
	return copy;
}

/*
 * The fields as one device sent them: each top-level field once (the last
 * one sent), the body normalised, what only the server sets dropped. A
 * body without Data is dropped here (a Change then keeps the stored one).
 */
static struct wbxml_node *normalise(struct arena *arena, struct wbxml_node *sent, const char **invalid)
{
	struct wbxml_node *item = wbxml_tree_add(arena, NULL, WBXML_AIRSYNC_APPLICATION_DATA, WBXML_CONTENT_EMPTY,
						 NULL, 0);
	struct wbxml_node *next;
	for (struct wbxml_node *node = sent->first_child; node != NULL; node = next) {
		next = node->next;
		if (node->tag == WBXML_AIRSYNCBASE_NATIVE_BODY_TYPE)
			continue;
		if (node->tag == WBXML_AIRSYNCBASE_BODY && (node = normal_body(arena, node, invalid)) == NULL)
			continue;
		pim_fields_remove(item, node->tag);
		pim_fields_adopt(arena, item, node);
	}
	return item;
}

int pim_fields_read(const struct pim_class *class, struct wbxml_reader *reader, struct arena *arena, bool add,
		    struct pim_input *out)
{
	(void)add;
	memset(out, 0, sizeof(*out));
	struct wbxml_node *sent = wbxml_tree_add(arena, NULL, WBXML_AIRSYNC_APPLICATION_DATA, WBXML_CONTENT_EMPTY,
						 NULL, 0);
	int status = read_tree(reader, arena, sent);
	if (status == 1)
		out->invalid = "item_too_large";
	if (status != 0)
		return status < 0 ? status : 0;
	if (class->fields->translate != NULL)
		class->fields->translate(arena, sent);
	out->data = normalise(arena, sent, &out->invalid);
	return 0;
}

/* ---- stored form ---- */

static int encode(struct arena *arena, const struct wbxml_node *item, struct slice *out)
{
	struct buf bytes;
	buf_init(&bytes, LIMIT_PIM_ITEM_BYTES + 64 * 1024);
	int status = wbxml_tree_encode(item, &bytes);
	if (status == 0)
		*out = (struct slice){ (const uint8_t *)arena_strndup(arena, bytes.data, bytes.len), bytes.len };
	buf_cleanup(&bytes);
	return status == 0 ? 0 : -1;
}

/* The stored item's fields, or NULL when its content is gone or not ours. */
static struct wbxml_node *decode(struct arena *arena, const struct pim_item *item, struct slice *bytes_out)
{
	const struct pim_source *source = item->content;
	struct wbxml_node *root;
	struct wbxml_error error;
	if (source == NULL || source->size == 0 || source->size > 2 * (uint64_t)LIMIT_PIM_ITEM_BYTES)
		return NULL;
	uint8_t *bytes = arena_alloc(arena, (size_t)source->size);
	if (source->read(source->context, 0, bytes, (size_t)source->size) < 0 ||
	    wbxml_tree_parse(arena, bytes, (size_t)source->size, NULL, &root, &error) != 0)
		return NULL;
	*bytes_out = (struct slice){ bytes, (size_t)source->size };
	return root;
}

/* The class checks the item and places it; the item becomes the content to store. */
static int finish(const struct pim_class *class, struct arena *arena, const struct pim_author *author,
		  struct wbxml_node *item, struct pim_update *update)
{
	update->invalid = class->fields->check(arena, item, author);
	if (update->invalid != NULL)
		return 0;
	update->received = class->fields->place(item, author);
	update->message_id = "";
	update->categories = "";
	if (encode(arena, item, &update->content) < 0)
		update->invalid = "item_too_large";
	return 0;
}

int pim_fields_create(const struct pim_class *class, struct arena *arena, const struct pim_author *author,
		      const struct pim_input *input, struct pim_update *update)
{
	memset(update, 0, sizeof(*update));
	struct wbxml_node *item = input->data;
	/* An Add's empty field says nothing. */
	struct wbxml_node *next;
	for (struct wbxml_node *node = item->first_child; node != NULL; node = next) {
		next = node->next;
		if (is_empty(node))
			pim_fields_remove(item, node->tag);
	}
	return finish(class, arena, author, item, update);
}

/* ---- bodies ---- */

/* The body as a one-part message, so that email's body writer converts and truncates it. */
static void body_message(struct arena *arena, const struct wbxml_node *body, struct pim_message *m)
{
	const struct wbxml_node *data = find_child(body, WBXML_AIRSYNCBASE_DATA);
	bool html = body_type(body) == PIM_BODY_HTML;
	pim_init();
	GMimeTextPart *part = g_mime_text_part_new_with_subtype(html ? "html" : "plain");
	pim_arena_unref(arena, part);
	g_mime_text_part_set_text(part, data != NULL && data->text.len > 0 ? (const char *)data->text.data : "");
	memset(m, 0, sizeof(*m));
	if (html)
		m->html = GMIME_PART(part);
	else
		m->plain = GMIME_PART(part);
}

static void write_body(struct wbxml_writer *writer, struct arena *arena, const struct wbxml_node *body,
		       const struct pim_options *options)
{
	const struct wbxml_node *data = find_child(body, WBXML_AIRSYNCBASE_DATA);
	if (body_type(body) == PIM_BODY_RTF) {
		/* RTF is neither converted nor cut: it goes as it came. */
		size_t len = data != NULL ? data->text.len : 0;
		wbxml_writer_start(writer, WBXML_AIRSYNCBASE_BODY);
		wbxml_writer_element_uint(writer, WBXML_AIRSYNCBASE_TYPE, PIM_BODY_RTF);
		wbxml_writer_element_uint(writer, WBXML_AIRSYNCBASE_ESTIMATED_DATA_SIZE, len);
		if (data != NULL && data->content == WBXML_CONTENT_OPAQUE)
			wbxml_writer_element_opaque(writer, WBXML_AIRSYNCBASE_DATA, data->text.data, len);
		else
			wbxml_writer_element_string(writer, WBXML_AIRSYNCBASE_DATA, data != NULL ? data->text.data : NULL, len);
		wbxml_writer_end(writer);
		return;
	}
	struct pim_message m;
	struct pim_options text_only = *options;
	text_only.mime_support = 0; /* MIME is a message's form, not a contact's */
	body_message(arena, body, &m);
	pim_write_body(writer, arena, &m, &text_only);
}

/* The Data a device was sent of the body under options, in arena; *type_out its Type. */
static struct slice rendered_body(struct arena *arena, const struct wbxml_node *body,
				  const struct pim_options *options, unsigned *type_out)
{
	struct buf out;
	struct wbxml_writer writer;
	struct wbxml_node *root = NULL;
	struct wbxml_error error;
	struct slice data = { 0 };
	buf_init(&out, 2 * (size_t)LIMIT_PIM_ITEM_BYTES);
	wbxml_writer_init(&writer, &out);
	write_body(&writer, arena, body, options);
	if (wbxml_writer_finish(&writer, NULL) == 0 &&
	    wbxml_tree_parse(arena, out.data, out.len, NULL, &root, &error) == 0) {
		const struct wbxml_node *node = find_child(root, WBXML_AIRSYNCBASE_DATA);
		*type_out = body_type(root);
		if (node != NULL)
			data = node->text;
	}
	buf_cleanup(&out);
	return data;
}

/* The text with each run of white space as one space and none at the ends, in arena. */
static struct slice squeezed(struct arena *arena, struct slice text)
{
	char *out = arena_alloc(arena, text.len + 1);
	size_t n = 0;
	bool space = false;
	for (size_t i = 0; i < text.len; i++) {
		bool white = text.data[i] == ' ' || text.data[i] == '\t' || text.data[i] == '\r' || text.data[i] == '\n';
		if (white) {
			space = n > 0;
			continue;
		}
		if (space)
			out[n++] = ' ';
		space = false;
		out[n++] = (char)text.data[i];
	}
	return (struct slice){ (const uint8_t *)out, n };
}

/* Equal but for white space: devices rewrap lines and change line ends. */
static bool same_text(struct arena *arena, struct slice a, struct slice b)
{
	return slice_equals(squeezed(arena, a), squeezed(arena, b));
}

/*
 * Whether a body a device sends is a copy of the stored one as that device
 * got it (cut to its TruncationSize, or converted to its type), or the
 * plain-text rendering of a richer one: then it says nothing new.
 */
static bool body_is_echo(struct arena *arena, const struct wbxml_node *stored, const struct wbxml_node *sent,
			 const struct pim_author *author)
{
	static const struct pim_options plain = { .preference_count = 0 };
	struct slice text = find_child(sent, WBXML_AIRSYNCBASE_DATA)->text;
	unsigned type = 0;
	struct slice as_sent = rendered_body(arena, stored, author->options, &type);
	if (type == body_type(sent) && same_text(arena, as_sent, text))
		return true;
	if (body_type(sent) != PIM_BODY_PLAIN || body_type(stored) == PIM_BODY_PLAIN)
		return false;
	as_sent = rendered_body(arena, stored, &plain, &type);
	return same_text(arena, as_sent, text);
}

/* ---- merging a Change ---- */

static bool listed(const struct pim_supported *supported, enum wbxml_tag tag)
{
	for (unsigned i = 0; i < supported->count; i++)
		if (supported->tags[i] == (uint16_t)tag)
			return true;
	return false;
}

/*
 * Whether a stored field the Change leaves out stays (MS-ASCMD 2.2.3.179,
 * field-notes §1.1). A field the device's version does not have was never
 * sent to it, so leaving it out says nothing: it stays.
 */
static bool omitted_stays(const struct pim_class *class, const struct pim_author *author, enum wbxml_tag tag)
{
	if (!pim_has_tag(pim_version_bit(author->protocol_version), tag))
		return true;
	switch (class->fields->omitted(tag, author->protocol_version)) {
	case PIM_OMITTED_KEPT: return true;
	case PIM_OMITTED_DELETED: return false;
	default: break;
	}
	const struct pim_supported *supported = author->supported;
	if (supported == NULL || !supported->given)
		return author->keep_omitted;
	/* An empty Supported ghosts everything; a listed field is the device's to delete. */
	return supported->count == 0 || !listed(supported, tag);
}

static bool owned(const struct pim_class *class, const struct pim_author *author, const struct wbxml_node *item,
		  enum wbxml_tag tag)
{
	return class->fields->owned != NULL && class->fields->owned(item, tag, author);
}

/*
 * What the field becomes when the Change carries it: the sent one, the
 * stored one (the server's, or an echo), a merge of both, or none (cleared).
 */
static struct wbxml_node *resolve(const struct pim_class *class, struct arena *arena, const struct pim_author *author,
				  const struct wbxml_node *item, struct wbxml_node *stored, struct wbxml_node *sent)
{
	struct wbxml_node *merged;
	if (owned(class, author, item, stored->tag))
		return stored;
	if (sent->tag == WBXML_CONTACTS_PICTURE && is_empty(sent) && author->empty_picture_echo)
		return stored;
	if (is_empty(sent))
		return NULL;
	if (class->fields->same != NULL && class->fields->same(stored, sent))
		return stored;
	if (class->fields->merge_field != NULL &&
	    (merged = class->fields->merge_field(arena, author, item, stored, sent)) != NULL)
		return merged;
	if (sent->tag == WBXML_AIRSYNCBASE_BODY && stored != NULL && body_is_echo(arena, stored, sent, author))
		return stored;
	return sent;
}

/* A Change or Delete of one occurrence, as the class makes it a Change of the item; NULL when it has no occurrences. */
static struct wbxml_node *occurrence_change(const struct pim_class *class, struct arena *arena,
					    const struct pim_input *input)
{
	if (class->fields->instance == NULL)
		return NULL;
	return class->fields->instance(arena, input->data, input->instance, input->remove_instance);
}

int pim_fields_merge(const struct pim_class *class, struct arena *arena, const struct pim_author *author,
		     const struct pim_item *item, const struct pim_input *input, struct pim_update *update)
{
	struct wbxml_node *sent = input->instance != NULL ? occurrence_change(class, arena, input) : input->data;
	struct slice before;
	memset(update, 0, sizeof(*update));
	if (sent == NULL) {
		update->invalid = "instance_unsupported";
		return 0;
	}
	struct wbxml_node *stored = decode(arena, item, &before);
	if (stored == NULL)
		return -1;
	struct wbxml_node *merged = wbxml_tree_add(arena, NULL, WBXML_AIRSYNC_APPLICATION_DATA, WBXML_CONTENT_EMPTY,
						   NULL, 0);
	struct wbxml_node *next, *node;
	for (node = stored->first_child; node != NULL; node = next) {
		next = node->next;
		/* A change of one occurrence leaves the rest of the item as it is. */
		struct wbxml_node *change = pim_fields_find(sent, node->tag);
		struct wbxml_node *kept = change != NULL ? resolve(class, arena, author, stored, node, change)
					  : input->instance != NULL || owned(class, author, stored, node->tag) ||
							  omitted_stays(class, author, node->tag)
						  ? node
						  : NULL;
		if (kept != NULL)
			pim_fields_adopt(arena, merged, kept);
	}
	for (node = sent->first_child; node != NULL; node = next) {
		next = node->next;
		if (pim_fields_find(stored, node->tag) != NULL || is_empty(node) || owned(class, author, stored, node->tag))
			continue;
		/* A field kept in parts is merged into none, so its parts get their own rules too. */
		struct wbxml_node *none = pim_fields_new(arena, NULL, node->tag), *parts = NULL;
		if (class->fields->merge_field != NULL)
			parts = class->fields->merge_field(arena, author, stored, none, node);
		pim_fields_adopt(arena, merged, parts != NULL ? parts : node);
	}
	if (finish(class, arena, author, merged, update) < 0 || update->invalid != NULL)
		return 0;
	update->unchanged = slice_equals(update->content, before);
	return 0;
}

/* ---- writing for a device ---- */

void pim_fields_write_node(struct wbxml_writer *writer, uint8_t version_bit, const struct wbxml_node *node)
{
	if (!pim_has_tag(version_bit, node->tag))
		return;
	switch (node->content) {
	case WBXML_CONTENT_NONE:
		wbxml_writer_empty(writer, node->tag);
		return;
	case WBXML_CONTENT_OPAQUE:
		wbxml_writer_element_opaque(writer, node->tag, node->text.data, node->text.len);
		return;
	case WBXML_CONTENT_CHILDREN:
		wbxml_writer_start(writer, node->tag);
		for (const struct wbxml_node *child = node->first_child; child != NULL; child = child->next)
			pim_fields_write_node(writer, version_bit, child);
		wbxml_writer_end(writer);
		return;
	default:
		wbxml_writer_element_string(writer, node->tag, node->text.data, node->text.len);
		return;
	}
}

struct wbxml_node *pim_fields_tree(struct arena *arena, const struct pim_item *item)
{
	struct slice bytes;
	return decode(arena, item, &bytes);
}

int pim_fields_write(const struct pim_class *class, struct wbxml_writer *writer, struct arena *arena,
		     const struct pim_item *item, const struct pim_options *options, bool whole)
{
	(void)whole; /* a Change of these classes carries the whole item */
	struct slice bytes;
	struct wbxml_node *fields = decode(arena, item, &bytes);
	if (fields == NULL)
		return -1;
	uint8_t version_bit = pim_version_bit(options->protocol_version);
	for (const struct wbxml_node *node = fields->first_child; node != NULL; node = node->next) {
		if (class->fields->write_field != NULL && class->fields->write_field(writer, arena, fields, node, options))
			continue;
		if (node->tag == WBXML_AIRSYNCBASE_BODY)
			write_body(writer, arena, node, options);
		else
			pim_fields_write_node(writer, version_bit, node);
	}
	if (class->fields->write_extra != NULL)
		class->fields->write_extra(writer, arena, fields, item, options);
	return 0;
}

uint64_t pim_fields_estimated_bytes(const struct pim_options *options, uint64_t size)
{
	(void)options;
	return size + 256;
}

int64_t pim_fields_no_filter(uint8_t filter_type, int64_t now)
{
	(void)filter_type;
	(void)now;
	return 0;
}
