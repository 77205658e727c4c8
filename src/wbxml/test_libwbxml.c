/*
 * test_libwbxml.c: cross-check of our codec against libwbxml2 0.11.8, an
 * independent implementation, in both directions:
 *
 *   we encode, libwbxml decodes to XML, that XML reads back to our tree;
 *   we render XML the way libwbxml writes it, libwbxml encodes it, we
 *   decode its bytes to our tree (they are the very bytes we write);
 *   libwbxml encodes our own XML (wbxml_to_xml, as `easctl wbxml decode`
 *   writes it) to the very bytes it was rendered from.
 *
 * The messages are random trees (fixed seeds) focused on each code page
 * libwbxml knows, and the specification's examples. Where libwbxml departs
 * from MS-ASWBXML (older tag names, tokens it does not know, opaque
 * content, what its XML cannot say) the specification wins: each departure
 * is a test case below that pins what libwbxml does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "wbxml/wbxml.h"

/*
 * libwbxml's headers clash with ours on two names: the include guard
 * WBXML_H (its wbxml.h, which only includes the four headers below) and the
 * enumerator WBXML_OK. Our wbxml.h comes first, so its guard makes
 * wbxml_conv.h skip libwbxml's wbxml.h; libwbxml's WBXML_OK is renamed
 * LIBWBXML_OK while its headers are read.
 */
#define WBXML_OK LIBWBXML_OK
#include <wbxml/wbxml_config.h>
#include <wbxml/wbxml_defines.h>
#include <wbxml/wbxml_errors.h>
#include <wbxml/wbxml_conv.h>
#undef WBXML_OK

#define CROSS_SEED 20261124u
#define MESSAGES_PER_PAGE 5
#define MIN_MESSAGES 50

/* What libwbxml writes before the root element (compact generation). */
static const char libwbxml_prolog[] =
	"<?xml version=\"1.0\"?><!DOCTYPE ActiveSync PUBLIC \"-//MICROSOFT//DTD ActiveSync//EN\" "
	"\"http://www.microsoft.com/\">";

/* MS-ASWBXML 2.1.2.1: WBXML 1.3, public id 1 (unknown), UTF-8, no string table. */
static const uint8_t eas_header[] = { 0x03, 0x01, 0x6A, 0x00 };

/* ---- libwbxml ---- */

/*
 * libwbxml's XML for a message (ActiveSync language, compact), appended to
 * xml_out. Returns libwbxml's status (LIBWBXML_OK or a WBXML_ERROR_*).
 */
static WBXMLError libwbxml_decode(const struct buf *wbxml, struct buf *xml_out)
{
	WBXMLConvWBXML2XML *conv = NULL;
	WB_UTINY *xml = NULL;
	WB_ULONG xml_len = 0;

	WBXMLError status = wbxml_conv_wbxml2xml_create(&conv);
	if (status != LIBWBXML_OK)
		return status;
	wbxml_conv_wbxml2xml_set_language(conv, WBXML_LANG_ACTIVESYNC);
	wbxml_conv_wbxml2xml_set_gen_type(conv, WBXML_GEN_XML_COMPACT);
	status = wbxml_conv_wbxml2xml_run(conv, wbxml->data, (WB_ULONG)wbxml->len, &xml, &xml_len);
	wbxml_conv_wbxml2xml_destroy(conv);
	if (status == LIBWBXML_OK)
		buf_append(xml_out, xml, xml_len);
	free(xml); /* malloc'ed; the installed headers declare no free function */
	return status;
}

/*
 * libwbxml's WBXML for an XML document, appended to wbxml_out: version 1.3,
 * anonymous (public id 1) and without a string table, as EAS requires.
 */
static WBXMLError libwbxml_encode(struct buf *xml, struct buf *wbxml_out)
{
	WBXMLConvXML2WBXML *conv = NULL;
	WB_UTINY *wbxml = NULL;
	WB_ULONG wbxml_len = 0;

	WBXMLError status = wbxml_conv_xml2wbxml_create(&conv);
	if (status != LIBWBXML_OK)
		return status;
	wbxml_conv_xml2wbxml_disable_string_table(conv);
	wbxml_conv_xml2wbxml_disable_public_id(conv);
	wbxml_conv_xml2wbxml_set_version(conv, WBXML_VERSION_13);
	status = wbxml_conv_xml2wbxml_run(conv, xml->data, (WB_ULONG)xml->len, &wbxml, &wbxml_len);
	wbxml_conv_xml2wbxml_destroy(conv);
	if (status == LIBWBXML_OK)
		buf_append(wbxml_out, wbxml, wbxml_len);
	free(wbxml);
	return status;
}

/* ---- trees ---- */

static const struct wbxml_tag_info *tag_info(enum wbxml_tag tag)
{
	return wbxml_tag_info(wbxml_tag_page(tag), wbxml_tag_token(tag));
}

static bool tag_has_flag(enum wbxml_tag tag, unsigned flag)
{
	const struct wbxml_tag_info *info = tag_info(tag);
	return info != NULL && (info->flags & flag) != 0;
}

/* The name libwbxml 0.11.8 uses for a tag it knows. */
static const char *libwbxml_name(enum wbxml_tag tag)
{
	const struct wbxml_tag_info *info = tag_info(tag);
	return info->libwbxml_name != NULL ? info->libwbxml_name : info->name;
}

/* Next node of a depth-first walk of root's tree, or NULL after the last. */
static const struct wbxml_node *walk_next(const struct wbxml_node *root, const struct wbxml_node *node)
{
	if (node->first_child != NULL)
		return node->first_child;
	while (node != root && node->next == NULL)
		node = node->parent;
	return node == root ? NULL : node->next;
}

/*
 * The node as libwbxml's XML describes it. Two differences are only of
 * representation, XML having no way to say them:
 *  - the content bit on an element with nothing inside, and an empty
 *    inline string, both become <Tag/>, an element without content;
 *  - where libwbxml expects opaque data (WBXML_TAG_LIBWBXML_OPAQUE) its XML
 *    holds base64 of the bytes, opaque or not, which reads back (namespace
 *    with the colon) as opaque bytes.
 * Each has its own test case below.
 */
static struct wbxml_node *add_as_libwbxml_sees_it(struct arena *arena, struct wbxml_node *parent,
						   const struct wbxml_node *node)
{
	enum wbxml_content content = node->content;
	if (content == WBXML_CONTENT_EMPTY ||
	    ((content == WBXML_CONTENT_STRING || content == WBXML_CONTENT_OPAQUE) && node->text.len == 0))
		return wbxml_tree_add(arena, parent, node->tag, WBXML_CONTENT_NONE, NULL, 0);
	if (content == WBXML_CONTENT_STRING && tag_has_flag(node->tag, WBXML_TAG_LIBWBXML_OPAQUE))
		content = WBXML_CONTENT_OPAQUE;
	return wbxml_tree_add(arena, parent, node->tag, content, node->text.data, node->text.len);
}

/* A copy of the tree as it reads back from libwbxml's XML (see above). */
static struct wbxml_node *as_libwbxml_sees_it(struct arena *arena, const struct wbxml_node *root)
{
	struct wbxml_node *copy_root = NULL, *copy_parent = NULL;
	const struct wbxml_node *node = root;
	for (;;) {
		struct wbxml_node *copy = add_as_libwbxml_sees_it(arena, copy_parent, node);
		if (copy_root == NULL)
			copy_root = copy;
		if (node->first_child != NULL) {
			copy_parent = copy;
			node = node->first_child;
			continue;
		}
		while (node != root && node->next == NULL) {
			node = node->parent;
			copy_parent = copy_parent->parent;
		}
		if (node == root)
			return copy_root;
		node = node->next;
	}
}

/* ---- XML as libwbxml writes it ---- */

static void put_escaped(struct buf *out, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (data[i]) {
		case '&': buf_append_cstr(out, "&amp;"); break;
		case '<': buf_append_cstr(out, "&lt;"); break;
		case '>': buf_append_cstr(out, "&gt;"); break;
		case '\r': buf_append_cstr(out, "&#13;"); break;
		default: buf_append_byte(out, data[i]); break;
		}
	}
}

/*
 * A start tag, and for a leaf the whole element. Like libwbxml's own output:
 * its older names, the namespace with a trailing colon declared where the
 * page changes from the parent's, opaque content as base64 text.
 */
static void put_start(struct buf *out, const struct wbxml_node *node)
{
	const char *name = libwbxml_name(node->tag);
	buf_printf(out, "<%s", name);
	if (node->parent == NULL || wbxml_tag_page(node->parent->tag) != wbxml_tag_page(node->tag))
		buf_printf(out, " xmlns=\"%s:\"", wbxml_tag_namespace(node->tag));
	switch (node->content) {
	case WBXML_CONTENT_NONE:
	case WBXML_CONTENT_EMPTY:
		buf_append_cstr(out, "/>");
		return;
	case WBXML_CONTENT_CHILDREN:
		buf_append_byte(out, '>');
		return;
	case WBXML_CONTENT_STRING:
		buf_append_byte(out, '>');
		put_escaped(out, node->text.data, node->text.len);
		break;
	case WBXML_CONTENT_OPAQUE: {
		gchar *base64 = g_base64_encode(node->text.data, node->text.len);
		buf_printf(out, ">%s", base64);
		g_free(base64);
		break;
	}
	}
	buf_printf(out, "</%s>", name);
}

/* The tree as an XML document in libwbxml's dialect. */
static void render_for_libwbxml(const struct wbxml_node *root, struct buf *out)
{
	buf_append_cstr(out, libwbxml_prolog);
	const struct wbxml_node *node = root;
	for (;;) {
		put_start(out, node);
		if (node->first_child != NULL) {
			node = node->first_child;
			continue;
		}
		while (node != root && node->next == NULL) {
			node = node->parent;
			buf_printf(out, "</%s>", libwbxml_name(node->tag));
		}
		if (node == root)
			return;
		node = node->next;
	}
}

/* ---- failure reports ---- */

static void fail_with_tree(const char *what, uint64_t seed, const struct wbxml_node *tree,
			   const struct buf *xml)
{
	fprintf(stderr, "%s: seed %llu, tree:\n", what, (unsigned long long)seed);
	testlib_dump_tree(tree);
	if (xml != NULL && xml->len > 0)
		fprintf(stderr, "\nXML exchanged with libwbxml:\n%.*s\n", (int)xml->len, (const char *)xml->data);
	fail_msg("%s (seed %llu)", what, (unsigned long long)seed);
}

static bool has_prefix(const struct buf *b, const void *prefix, size_t len)
{
	return b->len >= len && memcmp(b->data, prefix, len) == 0;
}

/* The XML after libwbxml's prolog, NUL-terminated in the arena. */
static const char *after_prolog(struct arena *arena, const struct buf *xml)
{
	size_t n = strlen(libwbxml_prolog);
	assert_true(has_prefix(xml, libwbxml_prolog, n));
	return arena_strndup(arena, xml->data + n, xml->len - n);
}

static bool same_bytes(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static bool contains(const struct buf *b, const char *needle)
{
	return memmem(b->data, b->len, needle, strlen(needle)) != NULL;
}

/* Whether libwbxml encodes the XML (ours) to exactly these bytes. */
static bool libwbxml_encodes_to(struct buf *xml, const struct buf *bytes)
{
	struct buf theirs;
	buf_init(&theirs, 0);
	bool same = libwbxml_encode(xml, &theirs) == LIBWBXML_OK && same_bytes(&theirs, bytes);
	buf_cleanup(&theirs);
	return same;
}

/* ---- the two directions ---- */

/*
 * We encode, libwbxml decodes: its XML, read with libwbxml's names
 * accepted, is the tree as libwbxml sees it.
 */
static void check_we_encode_libwbxml_decodes(struct arena *arena, const struct wbxml_node *tree,
					     uint64_t seed)
{
	struct buf bytes, xml, again;
	struct wbxml_error error;
	struct wbxml_node *decoded;
	buf_init(&bytes, 0);
	buf_init(&xml, 0);
	buf_init(&again, 0);

	if (wbxml_tree_encode(tree, &bytes) != WBXML_OK)
		fail_with_tree("we cannot encode the tree", seed, tree, NULL);
	WBXMLError status = libwbxml_decode(&bytes, &xml);
	if (status != LIBWBXML_OK) {
		fprintf(stderr, "libwbxml: %s\n", (const char *)wbxml_errors_string(status));
		fail_with_tree("libwbxml cannot decode our bytes", seed, tree, NULL);
	}
	if (wbxml_from_xml((const char *)xml.data, xml.len, true, &again, &error) != WBXML_OK) {
		fprintf(stderr, "line %zu: %s %s\n", error.offset, error.reason, error.detail);
		fail_with_tree("we cannot read libwbxml's XML", seed, tree, &xml);
	}
	if (wbxml_tree_parse(arena, again.data, again.len, NULL, &decoded, &error) != WBXML_OK)
		fail_with_tree("libwbxml's XML gives bytes we cannot parse", seed, tree, &xml);
	if (!wbxml_tree_equal(as_libwbxml_sees_it(arena, tree), decoded))
		fail_with_tree("libwbxml decodes our bytes to another tree", seed, tree, &xml);
	buf_cleanup(&bytes);
	buf_cleanup(&xml);
	buf_cleanup(&again);
}

/*
 * libwbxml encodes the tree from XML in its own dialect, we decode: its
 * header is the EAS one and its bytes give the original tree (base64 of an
 * opaque tag becomes opaque bytes again). They are even our bytes.
 */
static void check_libwbxml_encodes_we_decode(struct arena *arena, const struct wbxml_node *tree,
					     uint64_t seed)
{
	struct buf xml, bytes;
	struct wbxml_error error;
	struct wbxml_node *decoded;
	buf_init(&xml, 0);
	buf_init(&bytes, 0);

	render_for_libwbxml(tree, &xml);
	WBXMLError status = libwbxml_encode(&xml, &bytes);
	if (status != LIBWBXML_OK) {
		fprintf(stderr, "libwbxml: %s\n", (const char *)wbxml_errors_string(status));
		fail_with_tree("libwbxml cannot encode the XML", seed, tree, &xml);
	}
	if (!has_prefix(&bytes, eas_header, sizeof(eas_header)))
		fail_with_tree("libwbxml's header is not 03 01 6A 00", seed, tree, &xml);
	if (wbxml_tree_parse(arena, bytes.data, bytes.len, NULL, &decoded, &error) != WBXML_OK) {
		fprintf(stderr, "offset %zu: %s %s\n", error.offset, error.reason, error.detail);
		fail_with_tree("we cannot parse libwbxml's bytes", seed, tree, &xml);
	}
	if (!wbxml_tree_equal(tree, decoded))
		fail_with_tree("libwbxml's bytes decode to another tree", seed, tree, &xml);
	/* Both encoders write the canonical form: the same bytes. */
	struct buf ours;
	buf_init(&ours, 0);
	assert_int_equal(wbxml_tree_encode(tree, &ours), WBXML_OK);
	if (!same_bytes(&ours, &bytes))
		fail_with_tree("libwbxml's bytes differ from ours", seed, tree, &xml);
	buf_cleanup(&ours);
	buf_cleanup(&xml);
	buf_cleanup(&bytes);
}

/* ---- random messages on every page ---- */

/*
 * A page libwbxml knows at least one tag of. Page 25 (Find, EAS 16.1) is
 * unknown to it as a whole, and testlib_random_tree cannot draw a
 * libwbxml-safe tag there; its messages are in
 * unknown_tokens_lose_their_identity_in_libwbxml instead.
 */
static bool libwbxml_knows_page(unsigned page)
{
	for (unsigned token = 5; token < 64; token++) {
		const struct wbxml_tag_info *info = wbxml_tag_info(page, token);
		if (info != NULL && (info->flags & WBXML_TAG_LIBWBXML_UNKNOWN) == 0)
			return true;
	}
	return false;
}

static void mark_pages(const struct wbxml_node *tree, bool pages_seen[WBXML_PAGE_COUNT])
{
	for (const struct wbxml_node *node = tree; node != NULL; node = walk_next(tree, node))
		pages_seen[wbxml_tag_page(node->tag)] = true;
}

static void random_messages_agree_with_libwbxml_both_ways(void **state)
{
	(void)state;
	bool pages_seen[WBXML_PAGE_COUNT] = { false };
	unsigned messages = 0;

	for (unsigned page = 0; page < WBXML_PAGE_COUNT; page++) {
		if (!libwbxml_knows_page(page))
			continue;
		for (unsigned i = 0; i < MESSAGES_PER_PAGE; i++) {
			uint64_t seed = CROSS_SEED + page * 100u + i;
			struct testlib_tree_options options = {
				.max_depth = 4, .max_children = 5, .focus_page = (int)page,
				.libwbxml_safe = true,
			};
			struct testlib_rng rng;
			struct arena *arena = arena_new(0);
			testlib_rng_init(&rng, seed);
			struct wbxml_node *tree = testlib_random_tree(arena, &rng, &options);
			check_we_encode_libwbxml_decodes(arena, tree, seed);
			check_libwbxml_encodes_we_decode(arena, tree, seed);
			mark_pages(tree, pages_seen);
			messages++;
			arena_free(&arena);
		}
	}
	assert_true(messages >= MIN_MESSAGES);
	/* Every page libwbxml knows; page 3 has no tags, page 25 none it knows. */
	unsigned pages = 0;
	for (unsigned page = 0; page < WBXML_PAGE_COUNT; page++) {
		bool expected = wbxml_page_has_tags(page) && page != 25;
		if (pages_seen[page] != expected)
			fail_msg("page %u (%s): seen %d, expected %d", page, wbxml_namespaces[page],
				 pages_seen[page], expected);
		assert_int_equal(libwbxml_knows_page(page), expected);
		pages += pages_seen[page];
	}
	printf("cross-checked %u random messages on %u pages\n", messages, pages);
}

/*
 * Our XML, indented as `easctl wbxml decode` writes it, of messages that
 * libwbxml can represent under the specification's names: it has no
 * marker, and libwbxml encodes it to the bytes it was rendered from
 * (`easctl wbxml decode | xml2wbxml -a -n` gives the message back).
 */
static void check_libwbxml_encodes_our_xml(const struct wbxml_node *tree, uint64_t seed)
{
	struct buf bytes, xml;
	buf_init(&bytes, 0);
	buf_init(&xml, 0);

	assert_int_equal(wbxml_tree_encode(tree, &bytes), WBXML_OK);
	assert_int_equal(wbxml_to_xml(bytes.data, bytes.len, NULL, NULL, &xml, NULL), WBXML_OK);
	if (contains(&xml, "wbxml="))
		fail_with_tree("our XML needs a marker", seed, tree, &xml);
	if (!libwbxml_encodes_to(&xml, &bytes))
		fail_with_tree("libwbxml encodes our XML to other bytes", seed, tree, &xml);
	buf_cleanup(&bytes);
	buf_cleanup(&xml);
}

static void our_xml_encodes_to_the_same_bytes_in_libwbxml(void **state)
{
	(void)state;
	unsigned messages = 0;

	for (unsigned page = 0; page < WBXML_PAGE_COUNT; page++) {
		if (!libwbxml_knows_page(page))
			continue;
		for (unsigned i = 0; i < MESSAGES_PER_PAGE; i++) {
			uint64_t seed = CROSS_SEED + 5000u + page * 100u + i;
			struct testlib_tree_options options = {
				.max_depth = 4, .max_children = 5, .focus_page = (int)page,
				.libwbxml_safe = true, .libwbxml_spec_names = true,
			};
			struct testlib_rng rng;
			struct arena *arena = arena_new(0);
			testlib_rng_init(&rng, seed);
			check_libwbxml_encodes_our_xml(testlib_random_tree(arena, &rng, &options), seed);
			messages++;
			arena_free(&arena);
		}
	}
	assert_true(messages >= MIN_MESSAGES);
	printf("libwbxml encoded our XML of %u random messages to the same bytes\n", messages);
}

/* ---- the specification's examples ---- */

/*
 * One example message: libwbxml decodes its bytes to our tree (as libwbxml
 * sees it), and encodes that XML back to the very same bytes.
 */
static void check_example(const char *path, const char *name)
{
	struct arena *arena = arena_new(0);
	struct buf bytes, xml, again, theirs;
	struct wbxml_node *ours, *read;
	buf_init(&bytes, 0);
	buf_init(&xml, 0);
	buf_init(&again, 0);
	buf_init(&theirs, 0);

	assert_int_equal(testlib_read_hex(path, &bytes), 0);
	assert_int_equal(wbxml_tree_parse(arena, bytes.data, bytes.len, NULL, &ours, NULL), WBXML_OK);
	if (libwbxml_decode(&bytes, &xml) != LIBWBXML_OK)
		fail_msg("%s: libwbxml cannot decode it", name);
	if (wbxml_from_xml((const char *)xml.data, xml.len, true, &again, NULL) != WBXML_OK)
		fail_msg("%s: we cannot read libwbxml's XML:\n%.*s", name, (int)xml.len, (const char *)xml.data);
	assert_int_equal(wbxml_tree_parse(arena, again.data, again.len, NULL, &read, NULL), WBXML_OK);
	if (!wbxml_tree_equal(as_libwbxml_sees_it(arena, ours), read))
		fail_msg("%s: libwbxml decodes it to another tree:\n%.*s", name, (int)xml.len, (const char *)xml.data);
	assert_int_equal(libwbxml_encode(&xml, &theirs), LIBWBXML_OK);
	if (!same_bytes(&theirs, &bytes))
		fail_msg("%s: libwbxml encodes its own XML to other bytes:\n%.*s", name, (int)xml.len,
			 (const char *)xml.data);
	/* And ours, as easctl writes it, to the same bytes too. */
	xml.len = 0;
	assert_int_equal(wbxml_to_xml(bytes.data, bytes.len, NULL, NULL, &xml, NULL), WBXML_OK);
	if (!libwbxml_encodes_to(&xml, &bytes))
		fail_msg("%s: libwbxml encodes our XML to other bytes:\n%.*s", name, (int)xml.len,
			 (const char *)xml.data);

	buf_cleanup(&bytes);
	buf_cleanup(&xml);
	buf_cleanup(&again);
	buf_cleanup(&theirs);
	arena_free(&arena);
}

static void example_bytes_decode_alike_in_libwbxml(void **state)
{
	(void)state;
	char *dir_path = testlib_path("tests/data/examples");
	GDir *dir = g_dir_open(dir_path, 0, NULL);
	assert_non_null(dir);
	unsigned examples = 0;
	const char *entry;

	while ((entry = g_dir_read_name(dir)) != NULL) {
		if (!g_str_has_suffix(entry, ".wbxml.hex"))
			continue;
		char *path = g_build_filename(dir_path, entry, NULL);
		check_example(path, entry);
		g_free(path);
		examples++;
	}
	g_dir_close(dir);
	free(dir_path);
	assert_true(examples >= 9);
}

/* ---- where libwbxml departs from the specification ---- */

/* A message of one element, the root, with the given content. */
static struct wbxml_node *one_element(struct arena *arena, enum wbxml_tag tag,
				      enum wbxml_content content, const char *text)
{
	return wbxml_tree_add(arena, NULL, tag, content, text, text != NULL ? strlen(text) : 0);
}

/* A Sync holding one child: the smallest message around a tag. */
static struct wbxml_node *sync_with(struct arena *arena, enum wbxml_tag tag, enum wbxml_content content,
				    const void *text, size_t len)
{
	struct wbxml_node *sync = one_element(arena, WBXML_AIRSYNC_SYNC, WBXML_CONTENT_CHILDREN, NULL);
	wbxml_tree_add(arena, sync, tag, content, text, len);
	return sync;
}

/* libwbxml's prolog and body: a document as libwbxml writes one. */
static void libwbxml_document(const char *body, struct buf *out)
{
	buf_init(out, 0);
	buf_append_cstr(out, libwbxml_prolog);
	buf_append_cstr(out, body);
}

/* Encodes the tree into bytes_out; returns libwbxml's XML for it, after the prolog. */
static const char *libwbxml_view(struct arena *arena, const struct wbxml_node *tree, struct buf *bytes_out)
{
	struct buf xml;
	buf_init(&xml, 0);
	assert_int_equal(wbxml_tree_encode(tree, bytes_out), WBXML_OK);
	assert_int_equal(libwbxml_decode(bytes_out, &xml), LIBWBXML_OK);
	const char *body = after_prolog(arena, &xml);
	buf_cleanup(&xml);
	return body;
}

/* libwbxml's encoding of a document with this body; its status. */
static WBXMLError libwbxml_encode_body(const char *body, struct buf *bytes_out)
{
	struct buf xml;
	libwbxml_document(body, &xml);
	WBXMLError status = libwbxml_encode(&xml, bytes_out);
	buf_cleanup(&xml);
	return status;
}

/* Our tree of the bytes of libwbxml's encoding of a document with this body. */
static struct wbxml_node *libwbxml_tree_of(struct arena *arena, const char *body)
{
	struct buf bytes;
	struct wbxml_node *tree;
	buf_init(&bytes, 0);
	assert_int_equal(libwbxml_encode_body(body, &bytes), LIBWBXML_OK);
	assert_true(has_prefix(&bytes, eas_header, sizeof(eas_header)));
	assert_int_equal(wbxml_tree_parse(arena, bytes.data, bytes.len, NULL, &tree, NULL), WBXML_OK);
	buf_cleanup(&bytes);
	return tree;
}

/* Our status reading libwbxml's XML with this body; *tree_out on success. */
static int our_reading_of(struct arena *arena, const char *body, bool libwbxml_names,
			  struct wbxml_node **tree_out)
{
	struct buf xml, bytes;
	struct wbxml_error error;
	libwbxml_document(body, &xml);
	buf_init(&bytes, 0);
	int status = wbxml_from_xml((const char *)xml.data, xml.len, libwbxml_names, &bytes, &error);
	if (status == WBXML_OK)
		status = wbxml_tree_parse(arena, bytes.data, bytes.len, NULL, tree_out, &error);
	buf_cleanup(&xml);
	buf_cleanup(&bytes);
	return status;
}

/* Our compact XML for the bytes, which must read back to the same bytes. */
static void our_xml_round_trip(const struct buf *bytes, struct buf *xml_out)
{
	struct buf again;
	buf_init(&again, 0);
	struct wbxml_xml_options options = { .compact = true };
	assert_int_equal(wbxml_to_xml(bytes->data, bytes->len, NULL, &options, xml_out, NULL), WBXML_OK);
	assert_int_equal(wbxml_from_xml((const char *)xml_out->data, xml_out->len, false, &again, NULL), WBXML_OK);
	assert_true(same_bytes(&again, bytes));
	buf_cleanup(&again);
}

/* Calls check on every defined tag the predicate wants. Returns how many. */
static unsigned for_each_tag(bool (*wanted)(const struct wbxml_tag_info *info),
			     void (*check)(enum wbxml_tag tag))
{
	unsigned count = 0;
	for (unsigned page = 0; page < WBXML_PAGE_COUNT; page++) {
		for (unsigned token = 5; token < 64; token++) {
			const struct wbxml_tag_info *info = wbxml_tag_info(page, token);
			if (info != NULL && wanted(info)) {
				check((enum wbxml_tag)(page << 8 | token));
				count++;
			}
		}
	}
	return count;
}

static bool renamed_in_libwbxml(const struct wbxml_tag_info *info)
{
	return info->libwbxml_name != NULL;
}

static bool unknown_to_libwbxml(const struct wbxml_tag_info *info)
{
	return (info->flags & WBXML_TAG_LIBWBXML_UNKNOWN) != 0;
}

static bool opaque_in_libwbxml(const struct wbxml_tag_info *info)
{
	return (info->flags & WBXML_TAG_LIBWBXML_OPAQUE) != 0;
}

static bool lookup_on_page(unsigned page, const char *name, enum wbxml_tag *tag_out)
{
	for (unsigned token = 5; token < 64; token++) {
		enum wbxml_tag tag = (enum wbxml_tag)(page << 8 | token);
		const struct wbxml_tag_info *info = wbxml_tag_info(page, token);
		if (info == NULL || (info->flags & WBXML_TAG_LIBWBXML_UNKNOWN) != 0)
			continue;
		if (strcmp(libwbxml_name(tag), name) == 0) {
			*tag_out = tag;
			return true;
		}
	}
	return false;
}

/*
 * The tag libwbxml 0.11.8 encodes for an element name: it looks the name up
 * among the names it knows on the page of the element's namespace, then on
 * every page from 0 on (wbxml_tree_add_xml_elt and
 * wbxml_tables_get_tag_from_xml in its sources). Returns false when no page
 * has the name.
 */
static bool libwbxml_lookup(unsigned page, const char *name, enum wbxml_tag *tag_out)
{
	if (lookup_on_page(page, name, tag_out))
		return true;
	for (unsigned p = 0; p < WBXML_PAGE_COUNT; p++)
		if (lookup_on_page(p, name, tag_out))
			return true;
	return false;
}

/* The first element of the tree that has no children. */
static const struct wbxml_node *first_leaf(const struct wbxml_node *node)
{
	while (node->first_child != NULL)
		node = node->first_child;
	return node;
}

/*
 * What libwbxml makes of the specification's name for a tag it does not
 * know by that name (body holds it, as the first leaf): a name it has on
 * no page needs a literal, which needs the string table EAS forbids, so it
 * fails; a name it has on another page silently becomes that other tag
 * (Email:Status is encoded as AirSync:Status).
 */
static void assert_libwbxml_misreads_spec_name(enum wbxml_tag tag, const char *body)
{
	struct arena *arena = arena_new(0);
	struct buf bytes;
	enum wbxml_tag other;
	buf_init(&bytes, 0);
	if (!libwbxml_lookup(wbxml_tag_page(tag), wbxml_tag_name(tag), &other)) {
		WBXMLError status = libwbxml_encode_body(body, &bytes);
		if (status != WBXML_ERROR_STRTBL_DISABLED)
			fail_msg("%s:%s: libwbxml status %d, expected a literal refused",
				 wbxml_tag_namespace(tag), wbxml_tag_name(tag), status);
	} else {
		const struct wbxml_node *leaf = first_leaf(libwbxml_tree_of(arena, body));
		if (leaf->tag != other || other == tag)
			fail_msg("%s:%s: libwbxml encodes 0x%04x, expected 0x%04x", wbxml_tag_namespace(tag),
				 wbxml_tag_name(tag), leaf->tag, other);
	}
	buf_cleanup(&bytes);
	arena_free(&arena);
}

/*
 * The one renamed tag whose specification name libwbxml knows as well: it
 * decodes Provision 0x10 as DeviceEncryptionEnabled, yet encodes
 * RequireStorageCardEncryption to the same token.
 */
static bool libwbxml_knows_spec_name_too(enum wbxml_tag tag)
{
	return tag == WBXML_PROVISION_REQUIRE_STORAGE_CARD_ENCRYPTION;
}

/* "x" in libwbxml's XML: base64 for the one renamed opaque tag, ComposeMail:Mime. */
static const char *x_in_libwbxml_xml(const struct wbxml_tag_info *info)
{
	return (info->flags & WBXML_TAG_LIBWBXML_OPAQUE) != 0 ? "eA==" : "x";
}

/*
 * libwbxml decodes the token to its older name; we read that name only with
 * libwbxml_names, to the same token; libwbxml encodes it to the same bytes.
 */
static void check_libwbxml_uses_older_name(struct arena *arena, const struct wbxml_node *tree)
{
	const struct wbxml_tag_info *info = tag_info(tree->tag);
	const char *old_name = info->libwbxml_name;
	struct buf bytes;
	struct wbxml_node *read;
	buf_init(&bytes, 0);

	const char *body = libwbxml_view(arena, tree, &bytes);
	char *want = g_strdup_printf("<%s xmlns=\"%s:\">%s</%s>", old_name, wbxml_tag_namespace(tree->tag),
				     x_in_libwbxml_xml(info), old_name);
	if (strcmp(body, want) != 0)
		fail_msg("%s: libwbxml gives %s, expected %s", info->name, body, want);
	assert_int_equal(our_reading_of(arena, body, true, &read), WBXML_OK);
	assert_true(wbxml_tree_equal(as_libwbxml_sees_it(arena, tree), read));
	assert_int_equal(our_reading_of(arena, body, false, &read), WBXML_ERR_UNKNOWN_TAG);
	assert_true(wbxml_tree_equal(libwbxml_tree_of(arena, body), tree));

	g_free(want);
	buf_cleanup(&bytes);
}

/*
 * We write the specification's name, in libwbxml's dialect otherwise (the
 * namespace with its colon, opaque Mime as bare base64); libwbxml misreads
 * that name, but for one tag.
 */
static void check_spec_name_wins(struct arena *arena, const struct wbxml_node *tree)
{
	const struct wbxml_tag_info *info = tag_info(tree->tag);
	const char *ns = wbxml_tag_namespace(tree->tag);
	const char *text = x_in_libwbxml_xml(info);
	struct buf bytes, ours;
	buf_init(&bytes, 0);
	buf_init(&ours, 0);

	assert_int_equal(wbxml_tree_encode(tree, &bytes), WBXML_OK);
	our_xml_round_trip(&bytes, &ours);
	char *spec = g_strdup_printf("<%s xmlns=\"%s:\">%s</%s>", info->name, ns, text, info->name);
	assert_true(contains(&ours, spec));
	if (libwbxml_knows_spec_name_too(tree->tag))
		assert_true(wbxml_tree_equal(libwbxml_tree_of(arena, spec), tree));
	else
		assert_libwbxml_misreads_spec_name(tree->tag, spec);

	g_free(spec);
	buf_cleanup(&bytes);
	buf_cleanup(&ours);
}

/* One renamed tag alone, with "x" as content (opaque where libwbxml wants it). */
static void check_older_name(enum wbxml_tag tag)
{
	const struct wbxml_tag_info *info = tag_info(tag);
	bool opaque = (info->flags & WBXML_TAG_LIBWBXML_OPAQUE) != 0;
	struct arena *arena = arena_new(0);
	assert_int_equal(info->flags & WBXML_TAG_LIBWBXML_UNKNOWN, 0);
	struct wbxml_node *tree = one_element(arena, tag, opaque ? WBXML_CONTENT_OPAQUE : WBXML_CONTENT_STRING, "x");
	check_libwbxml_uses_older_name(arena, tree);
	check_spec_name_wins(arena, tree);
	arena_free(&arena);
}

/*
 * libwbxml 0.11.8 knows 67 tags by older names (Contacts:HomeCity for
 * HomeAddressCity, Email:FlagStatus for Status, Calendar:Recurrence_Type
 * for Type...). The specification wins: our XML uses its names, and
 * libwbxml's are accepted only when asked (libwbxml_names).
 */
static void older_libwbxml_names_lose_to_spec_names(void **state)
{
	(void)state;
	assert_int_equal(for_each_tag(renamed_in_libwbxml, check_older_name), 67);
}

/* One token libwbxml does not know, in a Sync and as the root. */
static void check_unknown_token(enum wbxml_tag tag)
{
	const char *name = wbxml_tag_name(tag);
	struct arena *arena = arena_new(0);
	struct buf bytes, ours;
	struct wbxml_node *decoded;
	buf_init(&bytes, 0);
	buf_init(&ours, 0);

	/* Inside a Sync it becomes <unknown> in Sync's namespace: we refuse that. */
	struct wbxml_node *sync = sync_with(arena, tag, WBXML_CONTENT_STRING, "1", 1);
	const char *body = libwbxml_view(arena, sync, &bytes);
	assert_string_equal(body, "<Sync xmlns=\"AirSync:\"><unknown>1</unknown></Sync>");
	assert_int_equal(our_reading_of(arena, body, true, &decoded), WBXML_ERR_UNKNOWN_TAG);

	/* We keep it, under its name. */
	our_xml_round_trip(&bytes, &ours);
	char *ours_leaf = g_strdup_printf(":%s>1</", name);
	assert_true(contains(&ours, ours_leaf));
	assert_int_equal(wbxml_tree_parse(arena, bytes.data, bytes.len, NULL, &decoded, NULL), WBXML_OK);
	assert_true(wbxml_tree_equal(sync, decoded));

	/* libwbxml misreads the name; as the root it writes FolderHierarchy's namespace. */
	char *spec = g_strdup_printf("<Sync xmlns=\"AirSync:\"><%s xmlns=\"%s:\">1</%s></Sync>", name,
				     wbxml_tag_namespace(tag), name);
	assert_libwbxml_misreads_spec_name(tag, spec);
	bytes.len = 0;
	body = libwbxml_view(arena, one_element(arena, tag, WBXML_CONTENT_STRING, "1"), &bytes);
	assert_string_equal(body, "<unknown xmlns=\"FolderHierarchy:\">1</unknown>");

	g_free(ours_leaf);
	g_free(spec);
	buf_cleanup(&bytes);
	buf_cleanup(&ours);
	arena_free(&arena);
}

/*
 * libwbxml 0.11.8 does not know 25 tokens of EAS 16.x: the whole Find page
 * (25), MeetingResponse ProposedStartTime and ProposedEndTime (0x10, 0x11)
 * and Provision AccountOnlyRemoteWipe (0x3B). It decodes each as an element
 * named "unknown" (in the parent's namespace, or FolderHierarchy's at the
 * root), so the tag cannot be told any more; we round-trip every one. Given
 * the specification's name it fails, or encodes another tag of that name
 * (Find:Status becomes AirSync:Status, Find:Query Search:Query).
 */
static void unknown_tokens_lose_their_identity_in_libwbxml(void **state)
{
	(void)state;
	assert_int_equal(for_each_tag(unknown_to_libwbxml, check_unknown_token), 25);
	/* These are the Find page's messages: libwbxml knows none of its tags. */
	for (unsigned token = 5; token < 64; token++)
		if (wbxml_tag_info(25, token) != NULL)
			assert_true(tag_has_flag((enum wbxml_tag)(25 << 8 | token), WBXML_TAG_LIBWBXML_UNKNOWN));
}

/* One tag whose content libwbxml takes for opaque data. */
static void check_opaque_tag(enum wbxml_tag tag)
{
	static const char raw[] = "\x00\xFF\x10" "A"; /* base64 AP8QQQ== */
	const char *name = libwbxml_name(tag);
	const char *spec_name = wbxml_tag_name(tag);
	const char *ns = wbxml_tag_namespace(tag);
	struct arena *arena = arena_new(0);
	struct buf bytes, ours;
	struct wbxml_node *read;
	buf_init(&bytes, 0);
	buf_init(&ours, 0);

	/* Opaque bytes: base64 in libwbxml's XML, opaque again from it. */
	struct wbxml_node *tree = wbxml_tree_add(arena, NULL, tag, WBXML_CONTENT_OPAQUE, raw, 4);
	const char *body = libwbxml_view(arena, tree, &bytes);
	char *want = g_strdup_printf("<%s xmlns=\"%s:\">AP8QQQ==</%s>", name, ns, name);
	assert_string_equal(body, want);
	assert_true(wbxml_tree_equal(libwbxml_tree_of(arena, body), tree));
	assert_int_equal(our_reading_of(arena, body, true, &read), WBXML_OK);
	assert_true(wbxml_tree_equal(read, tree));
	/* Ours says it the same way, and libwbxml reads ours back to the bytes. */
	our_xml_round_trip(&bytes, &ours);
	g_free(want);
	want = g_strdup_printf("<%s xmlns=\"%s:\">AP8QQQ==</%s>", spec_name, ns, spec_name);
	assert_true(contains(&ours, want));
	if (strcmp(name, spec_name) == 0)
		assert_true(libwbxml_encodes_to(&ours, &bytes));

	/* A string: base64 of its bytes in libwbxml's XML, opaque from it;
	   ours marks it a string. */
	bytes.len = ours.len = 0;
	g_free(want);
	want = g_strdup_printf("<%s xmlns=\"%s:\">dGV4dA==</%s>", name, ns, name);
	body = libwbxml_view(arena, one_element(arena, tag, WBXML_CONTENT_STRING, "text"), &bytes);
	assert_string_equal(body, want);
	assert_true(wbxml_tree_equal(libwbxml_tree_of(arena, body),
				     one_element(arena, tag, WBXML_CONTENT_OPAQUE, "text")));
	assert_int_equal(our_reading_of(arena, body, true, &read), WBXML_OK);
	assert_true(wbxml_tree_equal(read, one_element(arena, tag, WBXML_CONTENT_OPAQUE, "text")));
	our_xml_round_trip(&bytes, &ours);
	assert_true(contains(&ours, " wbxml=\"string\">text</"));

	g_free(want);
	buf_cleanup(&bytes);
	buf_cleanup(&ours);
	arena_free(&arena);
}

/*
 * libwbxml 0.11.8 decides by tag where content is opaque: for 8 tags
 * (ResolveRecipients:Data, Search:ConversationId, Gal:Data,
 * AirSyncBase:Content, ItemOperations:ConversationId, ComposeMail:Mime,
 * Email2:ConversationId and ConversationIndex) its XML holds base64 and it
 * encodes that text as opaque. Our XML does the same for opaque data there
 * (so that xml2wbxml takes it), and reads such XML back to opaque data; we
 * keep what the message carried: a string stays a string
 * (wbxml="string"), where libwbxml turns it into opaque bytes.
 */
static void opaque_tags_travel_as_base64_in_libwbxml(void **state)
{
	(void)state;
	assert_int_equal(for_each_tag(opaque_in_libwbxml, check_opaque_tag), 8);
}

/*
 * Representation: an element without content (GetChanges) is <GetChanges/>
 * both ways, but the content bit on an element with nothing inside
 * (<Class wbxml="content"/> in our XML) is <Class/> in libwbxml's too, and
 * comes back without the content bit. as_libwbxml_sees_it allows this.
 */
static void libwbxml_drops_the_content_bit_of_an_empty_element(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	struct buf bytes, ours;
	buf_init(&bytes, 0);
	buf_init(&ours, 0);

	struct wbxml_node *tree = sync_with(arena, WBXML_AIRSYNC_GET_CHANGES, WBXML_CONTENT_NONE, NULL, 0);
	wbxml_tree_add(arena, tree, WBXML_AIRSYNC_CLASS, WBXML_CONTENT_EMPTY, NULL, 0);
	const char *body = libwbxml_view(arena, tree, &bytes);
	assert_string_equal(body, "<Sync xmlns=\"AirSync:\"><GetChanges/><Class/></Sync>");
	struct wbxml_node *theirs = libwbxml_tree_of(arena, body);
	assert_int_equal(theirs->first_child->content, WBXML_CONTENT_NONE);
	assert_int_equal(theirs->last_child->content, WBXML_CONTENT_NONE);
	assert_true(wbxml_tree_equal(as_libwbxml_sees_it(arena, tree), theirs));
	assert_false(wbxml_tree_equal(tree, theirs));
	our_xml_round_trip(&bytes, &ours);
	assert_true(contains(&ours, "<GetChanges/><Class wbxml=\"content\"/>"));

	buf_cleanup(&bytes);
	buf_cleanup(&ours);
	arena_free(&arena);
}

/*
 * Representation: an empty inline string (<SyncKey wbxml="string"/> in our
 * XML) is <SyncKey/> in libwbxml's, an element without content.
 */
static void libwbxml_writes_an_empty_string_as_an_empty_element(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	struct buf bytes, ours;
	buf_init(&bytes, 0);
	buf_init(&ours, 0);

	struct wbxml_node *tree = sync_with(arena, WBXML_AIRSYNC_SYNC_KEY, WBXML_CONTENT_STRING, NULL, 0);
	const char *body = libwbxml_view(arena, tree, &bytes);
	assert_string_equal(body, "<Sync xmlns=\"AirSync:\"><SyncKey/></Sync>");
	struct wbxml_node *theirs = libwbxml_tree_of(arena, body);
	assert_int_equal(theirs->first_child->content, WBXML_CONTENT_NONE);
	assert_true(wbxml_tree_equal(as_libwbxml_sees_it(arena, tree), theirs));
	our_xml_round_trip(&bytes, &ours);
	assert_true(contains(&ours, "<SyncKey wbxml=\"string\"/>"));

	buf_cleanup(&bytes);
	buf_cleanup(&ours);
	arena_free(&arena);
}

/*
 * Not representation but loss: libwbxml (without
 * enable_preserve_whitespaces, its default) trims white space at the edges
 * of a string both ways, so " x\t" becomes "x". We keep the string as sent;
 * the random messages (libwbxml_safe) have no such strings.
 */
static void libwbxml_trims_white_space_at_the_edges_of_strings(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	struct buf bytes, ours;
	buf_init(&bytes, 0);
	buf_init(&ours, 0);

	struct wbxml_node *tree = sync_with(arena, WBXML_AIRSYNC_SYNC_KEY, WBXML_CONTENT_STRING, " x\t", 3);
	const char *body = libwbxml_view(arena, tree, &bytes);
	assert_string_equal(body, "<Sync xmlns=\"AirSync:\"><SyncKey>x</SyncKey></Sync>");
	struct wbxml_node *theirs = libwbxml_tree_of(arena, "<Sync xmlns=\"AirSync:\"><SyncKey> x\t</SyncKey></Sync>");
	assert_true(wbxml_tree_equal(theirs, sync_with(arena, WBXML_AIRSYNC_SYNC_KEY, WBXML_CONTENT_STRING, "x", 1)));
	our_xml_round_trip(&bytes, &ours);
	assert_true(contains(&ours, "<SyncKey> x\t</SyncKey>"));

	buf_cleanup(&bytes);
	buf_cleanup(&ours);
	arena_free(&arena);
}

/*
 * Loss: libwbxml writes a carriage return into its XML as is, and XML
 * parsers turn CR LF into LF (XML 1.0, 2.11), so "a\r\nb" reads back as
 * "a\nb" (a MIME body loses its CRLF line ends). Our XML writes &#13;.
 */
static void libwbxml_writes_carriage_returns_raw(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	struct buf bytes, ours;
	struct wbxml_node *read;
	buf_init(&bytes, 0);
	buf_init(&ours, 0);

	struct wbxml_node *tree = sync_with(arena, WBXML_AIRSYNC_SYNC_KEY, WBXML_CONTENT_STRING, "a\r\nb", 4);
	const char *body = libwbxml_view(arena, tree, &bytes);
	assert_string_equal(body, "<Sync xmlns=\"AirSync:\"><SyncKey>a\r\nb</SyncKey></Sync>");
	assert_int_equal(our_reading_of(arena, body, true, &read), WBXML_OK);
	assert_true(wbxml_tree_equal(read, sync_with(arena, WBXML_AIRSYNC_SYNC_KEY, WBXML_CONTENT_STRING, "a\nb", 3)));
	our_xml_round_trip(&bytes, &ours);
	assert_true(contains(&ours, "<SyncKey>a&#13;\nb</SyncKey>"));

	buf_cleanup(&bytes);
	buf_cleanup(&ours);
	arena_free(&arena);
}

/*
 * Bytes XML cannot carry are copied into libwbxml's XML as they are: opaque
 * data on a tag it expects a string in (NUL and control bytes), a string
 * that is not UTF-8, a control character. The result is not XML and we
 * refuse it. Our XML marks them (wbxml="opaque", wbxml="base64").
 */
static void libwbxml_copies_bytes_xml_cannot_carry_raw(void **state)
{
	(void)state;
	static const struct {
		enum wbxml_content content;
		const char *bytes;
		size_t len;
		const char *ours;
	} cases[] = {
		{ WBXML_CONTENT_OPAQUE, "\x00\x01\x02" "ABC", 6, "<SyncKey wbxml=\"opaque\">AAECQUJD</SyncKey>" },
		{ WBXML_CONTENT_STRING, "bad\xFF", 4, "<SyncKey wbxml=\"base64\">YmFk/w==</SyncKey>" },
		{ WBXML_CONTENT_STRING, "ctl\x01", 4, "<SyncKey wbxml=\"base64\">Y3RsAQ==</SyncKey>" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct arena *arena = arena_new(0);
		struct buf bytes, xml, again, ours, raw;
		buf_init(&bytes, 0);
		buf_init(&xml, 0);
		buf_init(&again, 0);
		buf_init(&ours, 0);
		buf_init(&raw, 0);

		struct wbxml_node *tree = sync_with(arena, WBXML_AIRSYNC_SYNC_KEY, cases[i].content,
						    cases[i].bytes, cases[i].len);
		assert_int_equal(wbxml_tree_encode(tree, &bytes), WBXML_OK);
		assert_int_equal(libwbxml_decode(&bytes, &xml), LIBWBXML_OK);
		buf_append_cstr(&raw, "<SyncKey>");
		buf_append(&raw, cases[i].bytes, cases[i].len);
		buf_append_cstr(&raw, "</SyncKey>");
		assert_non_null(memmem(xml.data, xml.len, raw.data, raw.len));
		assert_int_equal(wbxml_from_xml((const char *)xml.data, xml.len, true, &again, NULL),
				 WBXML_ERR_ENCODE);
		our_xml_round_trip(&bytes, &ours);
		assert_true(contains(&ours, cases[i].ours));

		buf_cleanup(&bytes);
		buf_cleanup(&xml);
		buf_cleanup(&again);
		buf_cleanup(&ours);
		buf_cleanup(&raw);
		arena_free(&arena);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(random_messages_agree_with_libwbxml_both_ways),
		cmocka_unit_test(our_xml_encodes_to_the_same_bytes_in_libwbxml),
		cmocka_unit_test(example_bytes_decode_alike_in_libwbxml),
		cmocka_unit_test(older_libwbxml_names_lose_to_spec_names),
		cmocka_unit_test(unknown_tokens_lose_their_identity_in_libwbxml),
		cmocka_unit_test(opaque_tags_travel_as_base64_in_libwbxml),
		cmocka_unit_test(libwbxml_drops_the_content_bit_of_an_empty_element),
		cmocka_unit_test(libwbxml_writes_an_empty_string_as_an_empty_element),
		cmocka_unit_test(libwbxml_trims_white_space_at_the_edges_of_strings),
		cmocka_unit_test(libwbxml_writes_carriage_returns_raw),
		cmocka_unit_test(libwbxml_copies_bytes_xml_cannot_carry_raw),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
