/*
 * tree.c: a whole message as nodes in an arena, for tests and tools.
 * Built from the reader's events and written back with the writer; no
 * recursion (nodes know their parent), so depth costs no C stack.
 */
#include "wbxml/wbxml.h"

#include <string.h>

struct wbxml_node *wbxml_tree_add(struct arena *arena, struct wbxml_node *parent,
				  enum wbxml_tag tag, enum wbxml_content content,
				  const void *text, size_t len)
{
	struct wbxml_node *node = arena_calloc(arena, 1, sizeof(*node));
	node->tag = tag;
	node->content = content;
	if (len > 0)
		node->text = (struct slice){ (const uint8_t *)arena_strndup(arena, text, len), len };
	node->parent = parent;
	if (parent != NULL) {
		if (parent->last_child != NULL)
			parent->last_child->next = node;
		else
			parent->first_child = node;
		parent->last_child = node;
		parent->content = WBXML_CONTENT_CHILDREN;
	}
	return node;
}

/* Joins a text event onto the node; kinds mixed in one element become opaque. */
static void add_text(struct arena *arena, struct wbxml_node *node, const struct wbxml_event *event)
{
	enum wbxml_content kind = event->type == WBXML_EVENT_OPAQUE ? WBXML_CONTENT_OPAQUE
								    : WBXML_CONTENT_STRING;
	if (node->content == WBXML_CONTENT_EMPTY) {
		node->content = kind;
		node->text = (struct slice){
			(const uint8_t *)arena_strndup(arena, event->data.data, event->data.len),
			event->data.len };
		return;
	}
	if (node->content == WBXML_CONTENT_CHILDREN)
		return; /* mixed content: EAS has none; keep the children */
	if (kind == WBXML_CONTENT_OPAQUE)
		node->content = WBXML_CONTENT_OPAQUE;
	uint8_t *joined = arena_alloc(arena, node->text.len + event->data.len + 1);
	if (node->text.len > 0)
		memcpy(joined, node->text.data, node->text.len);
	if (event->data.len > 0)
		memcpy(joined + node->text.len, event->data.data, event->data.len);
	joined[node->text.len + event->data.len] = '\0';
	node->text = (struct slice){ joined, node->text.len + event->data.len };
}

int wbxml_tree_parse(struct arena *arena, const uint8_t *input, size_t len,
		     const struct wbxml_limits *limits, struct wbxml_node **root_out,
		     struct wbxml_error *error_out)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	struct wbxml_node *root = NULL, *current = NULL;

	wbxml_reader_init(&reader, input, len, limits);
	for (;;) {
		int status = wbxml_reader_next(&reader, &event);
		if (status < 0) {
			if (error_out != NULL)
				*error_out = reader.error;
			return status;
		}
		switch (event.type) {
		case WBXML_EVENT_START: {
			enum wbxml_content content = event.empty ? WBXML_CONTENT_NONE : WBXML_CONTENT_EMPTY;
			struct wbxml_node *node = wbxml_tree_add(arena, current, event.tag, content, NULL, 0);
			if (root == NULL)
				root = node;
			current = node;
			break;
		}
		case WBXML_EVENT_END:
			current = current->parent;
			break;
		case WBXML_EVENT_STRING:
		case WBXML_EVENT_OPAQUE:
			add_text(arena, current, &event);
			break;
		case WBXML_EVENT_DONE:
			*root_out = root;
			return WBXML_OK;
		}
	}
}

static void write_leave(struct wbxml_writer *writer, const struct wbxml_node *node)
{
	if (node->content != WBXML_CONTENT_NONE)
		wbxml_writer_end(writer);
}

static void write_enter(struct wbxml_writer *writer, const struct wbxml_node *node)
{
	switch (node->content) {
	case WBXML_CONTENT_NONE:
		wbxml_writer_empty(writer, node->tag);
		return;
	case WBXML_CONTENT_EMPTY:
	case WBXML_CONTENT_CHILDREN:
		wbxml_writer_start(writer, node->tag);
		return;
	case WBXML_CONTENT_STRING:
		wbxml_writer_start(writer, node->tag);
		wbxml_writer_string(writer, node->text.data, node->text.len);
		return;
	case WBXML_CONTENT_OPAQUE:
		wbxml_writer_start(writer, node->tag);
		wbxml_writer_opaque(writer, node->text.data, node->text.len);
		return;
	}
}

int wbxml_tree_encode(const struct wbxml_node *root, struct buf *out)
{
	struct wbxml_writer writer;
	wbxml_writer_init(&writer, out);
	/* The walk stops when it leaves root, whatever root's siblings. */
	const struct wbxml_node *node = root;
	while (node != NULL) {
		write_enter(&writer, node);
		if (node->first_child != NULL) {
			node = node->first_child;
			continue;
		}
		for (;;) {
			write_leave(&writer, node);
			if (node == root) {
				node = NULL;
				break;
			}
			if (node->next != NULL) {
				node = node->next;
				break;
			}
			node = node->parent;
		}
	}
	return wbxml_writer_finish(&writer, NULL);
}

static bool node_equal(const struct wbxml_node *a, const struct wbxml_node *b)
{
	if (a->tag != b->tag || a->content != b->content)
		return false;
	if (a->content != WBXML_CONTENT_STRING && a->content != WBXML_CONTENT_OPAQUE)
		return true;
	return a->text.len == b->text.len &&
	       (a->text.len == 0 || memcmp(a->text.data, b->text.data, a->text.len) == 0);
}

bool wbxml_tree_equal(const struct wbxml_node *a, const struct wbxml_node *b)
{
	const struct wbxml_node *root_a = a;
	while (a != NULL && b != NULL) {
		if (!node_equal(a, b))
			return false;
		if ((a->first_child == NULL) != (b->first_child == NULL))
			return false;
		if (a->first_child != NULL) {
			a = a->first_child;
			b = b->first_child;
			continue;
		}
		/* Leave finished nodes until one has a next sibling. */
		while (a != root_a && a->next == NULL) {
			if (b->next != NULL)
				return false;
			a = a->parent;
			b = b->parent;
		}
		if (a == root_a)
			return true;
		if (b->next == NULL)
			return false;
		a = a->next;
		b = b->next;
	}
	return a == b;
}
