/* testlib.c: see testlib.h. */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *testlib_path(const char *relative)
{
	const char *root = getenv("EASD_SOURCE");
	if (root == NULL || root[0] == '\0')
		root = ".";
	size_t n = strlen(root) + 1 + strlen(relative) + 1;
	char *path = malloc(n);
	if (path == NULL)
		abort();
	snprintf(path, n, "%s/%s", root, relative);
	return path;
}

int testlib_read_file(const char *path, struct buf *out)
{
	FILE *in = fopen(path, "rb");
	if (in == NULL)
		return -1;
	uint8_t chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		buf_append(out, chunk, n);
	int failed = ferror(in);
	fclose(in);
	return failed ? -1 : 0;
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int testlib_read_hex(const char *path, struct buf *out)
{
	struct buf text;
	buf_init(&text, 0);
	if (testlib_read_file(path, &text) < 0) {
		buf_cleanup(&text);
		return -1;
	}
	int status = 0, high = -1;
	for (size_t i = 0; i < text.len && status == 0; i++) {
		int c = text.data[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		int v = hex_value(c);
		if (v < 0) {
			status = -1;
		} else if (high < 0) {
			high = v;
		} else {
			buf_append_byte(out, (uint8_t)(high << 4 | v));
			high = -1;
		}
	}
	if (high >= 0)
		status = -1;
	buf_cleanup(&text);
	return status;
}

void testlib_rng_init(struct testlib_rng *rng, uint64_t seed)
{
	rng->state = seed != 0 ? seed : 0x9E3779B97F4A7C15ull;
}

uint32_t testlib_rand(struct testlib_rng *rng)
{
	uint64_t x = rng->state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng->state = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

uint32_t testlib_rand_below(struct testlib_rng *rng, uint32_t n)
{
	return (uint32_t)(((uint64_t)testlib_rand(rng) * n) >> 32);
}

static bool tag_allowed(enum wbxml_tag tag, const struct testlib_tree_options *options)
{
	const struct wbxml_tag_info *info = wbxml_tag_info(wbxml_tag_page(tag), wbxml_tag_token(tag));
	if (info == NULL)
		return false;
	if (!options->libwbxml_safe)
		return true;
	return (info->flags & WBXML_TAG_LIBWBXML_UNKNOWN) == 0 &&
	       (!options->libwbxml_spec_names || info->libwbxml_name == NULL);
}

static bool page_has_allowed_tag(unsigned page, const struct testlib_tree_options *options)
{
	for (unsigned token = 5; token < 64; token++)
		if (tag_allowed((enum wbxml_tag)(page << 8 | token), options))
			return true;
	return false;
}

enum wbxml_tag testlib_random_tag(struct testlib_rng *rng, int page,
				  const struct testlib_tree_options *options)
{
	/* A page with nothing allowed (Find for libwbxml) falls back to any page. */
	if (page >= 0 && !page_has_allowed_tag((unsigned)page, options))
		page = -1;
	for (;;) {
		unsigned p = page >= 0 ? (unsigned)page : testlib_rand_below(rng, WBXML_PAGE_COUNT);
		unsigned token = 5 + testlib_rand_below(rng, 64 - 5);
		enum wbxml_tag tag = (enum wbxml_tag)(p << 8 | token);
		if (tag_allowed(tag, options))
			return tag;
	}
}

/* Text pieces chosen to exercise escaping, UTF-8 and the XML markers. */
static const char *const words[] = {
	"Funk, Don", "2:1", "0", "1", "20090701T100000Z", "a&b", "<tag>", "x > y",
	"caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x93\xa7 mail", "line\nbreak",
	"tab\there", "quote \" and '", "{81412D3C-2A24-4E9D-B20E-11F7BBE92799}",
	"user@example.com", "Contacts", "AirSync", "]]>",
};
static const char *const unsafe_words[] = {
	"", " lead", "trail ", "cr\r\nlf", "bad\xff utf8", "ctl\x01", "   ",
};

static void random_string(struct testlib_rng *rng, struct buf *out, bool libwbxml_safe)
{
	unsigned pieces = 1 + testlib_rand_below(rng, 3);
	out->len = 0;
	if (!libwbxml_safe && testlib_rand_below(rng, 6) == 0) {
		buf_append_cstr(out, unsafe_words[testlib_rand_below(rng, sizeof(unsafe_words) / sizeof(unsafe_words[0]))]);
		return;
	}
	for (unsigned i = 0; i < pieces; i++) {
		if (i > 0)
			buf_append_byte(out, ' ');
		buf_append_cstr(out, words[testlib_rand_below(rng, sizeof(words) / sizeof(words[0]))]);
	}
}

static void random_bytes(struct testlib_rng *rng, struct buf *out)
{
	unsigned n = testlib_rand_below(rng, 40);
	out->len = 0;
	for (unsigned i = 0; i < n; i++)
		buf_append_byte(out, (uint8_t)testlib_rand(rng));
}

/* libwbxml takes what such a tag holds for base64 text: no children. */
static bool opaque_in_libwbxml(enum wbxml_tag tag)
{
	const struct wbxml_tag_info *info = wbxml_tag_info(wbxml_tag_page(tag), wbxml_tag_token(tag));
	return (info->flags & WBXML_TAG_LIBWBXML_OPAQUE) != 0;
}

static void random_leaf(struct arena *arena, struct testlib_rng *rng, struct wbxml_node *parent,
			enum wbxml_tag tag, bool libwbxml_safe)
{
	struct buf text;
	buf_init(&text, 0);
	bool wants_opaque = opaque_in_libwbxml(tag);
	unsigned pick = testlib_rand_below(rng, 10);
	if (libwbxml_safe) {
		if (wants_opaque) {
			random_bytes(rng, &text);
			if (text.len == 0)
				buf_append_byte(&text, 0x2A);
			wbxml_tree_add(arena, parent, tag, WBXML_CONTENT_OPAQUE, text.data, text.len);
		} else if (pick < 2) {
			wbxml_tree_add(arena, parent, tag, WBXML_CONTENT_NONE, NULL, 0);
		} else {
			random_string(rng, &text, true);
			wbxml_tree_add(arena, parent, tag, WBXML_CONTENT_STRING, text.data, text.len);
		}
	} else if (pick < 2) {
		wbxml_tree_add(arena, parent, tag, WBXML_CONTENT_NONE, NULL, 0);
	} else if (pick < 3) {
		wbxml_tree_add(arena, parent, tag, WBXML_CONTENT_EMPTY, NULL, 0);
	} else if (pick < 5) {
		random_bytes(rng, &text);
		wbxml_tree_add(arena, parent, tag, WBXML_CONTENT_OPAQUE, text.data, text.len);
	} else {
		random_string(rng, &text, false);
		wbxml_tree_add(arena, parent, tag, WBXML_CONTENT_STRING, text.data, text.len);
	}
	buf_cleanup(&text);
}

static enum wbxml_tag pick_tag(struct testlib_rng *rng, const struct testlib_tree_options *options)
{
	int page = options->focus_page;
	if (page >= 0 && testlib_rand_below(rng, 10) < 3)
		page = -1;
	return testlib_random_tag(rng, page, options);
}

static void random_children(struct arena *arena, struct testlib_rng *rng, struct wbxml_node *parent,
			    unsigned depth, const struct testlib_tree_options *options)
{
	unsigned n = 1 + testlib_rand_below(rng, options->max_children);
	for (unsigned i = 0; i < n; i++) {
		enum wbxml_tag tag = pick_tag(rng, options);
		if (depth < options->max_depth && testlib_rand_below(rng, 3) == 0 &&
		    !(options->libwbxml_safe && opaque_in_libwbxml(tag))) {
			struct wbxml_node *node = wbxml_tree_add(arena, parent, tag, WBXML_CONTENT_CHILDREN, NULL, 0);
			random_children(arena, rng, node, depth + 1, options);
		} else {
			random_leaf(arena, rng, parent, tag, options->libwbxml_safe);
		}
	}
}

struct wbxml_node *testlib_random_tree(struct arena *arena, struct testlib_rng *rng,
				       const struct testlib_tree_options *options)
{
	enum wbxml_tag tag;
	do
		tag = options->focus_page >= 0 ? testlib_random_tag(rng, options->focus_page, options)
					       : pick_tag(rng, options);
	while (options->libwbxml_safe && opaque_in_libwbxml(tag));
	struct wbxml_node *root = wbxml_tree_add(arena, NULL, tag, WBXML_CONTENT_CHILDREN, NULL, 0);
	random_children(arena, rng, root, 1, options);
	return root;
}

void testlib_dump_tree(const struct wbxml_node *root)
{
	struct buf wbxml, xml;
	buf_init(&wbxml, 0);
	buf_init(&xml, 0);
	if (wbxml_tree_encode(root, &wbxml) == 0 &&
	    wbxml_to_xml(wbxml.data, wbxml.len, NULL, NULL, &xml, NULL) == 0)
		fprintf(stderr, "%.*s", (int)xml.len, (const char *)xml.data);
	else
		fputs("(tree cannot be encoded)\n", stderr);
	buf_cleanup(&wbxml);
	buf_cleanup(&xml);
}
