/*
 * test_roundtrip.c: property tests over random trees drawn from the whole
 * code page table (fixed seed, printed with the tree on failure):
 * tree -> WBXML -> tree is the identity, and WBXML -> XML -> WBXML gives
 * the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "testlib.h"
#include "wbxml/wbxml.h"

#define ROUNDTRIP_TREES 10000
#define ROUNDTRIP_SEED 20261123u

static const struct testlib_tree_options tree_options = {
	.max_depth = 8, .max_children = 5, .focus_page = -1, .libwbxml_safe = false,
};

static void fail_with_tree(const char *what, uint64_t seed, unsigned index,
			   const struct wbxml_node *tree)
{
	fprintf(stderr, "%s: seed %llu, tree %u:\n", what, (unsigned long long)seed, index);
	testlib_dump_tree(tree);
	fail_msg("%s", what);
}

static void random_trees_survive_encode_decode(void **state)
{
	(void)state;
	struct testlib_rng rng;
	testlib_rng_init(&rng, ROUNDTRIP_SEED);
	unsigned tags_seen = 0;
	bool seen[WBXML_PAGE_COUNT * 64] = { false };

	for (unsigned i = 0; i < ROUNDTRIP_TREES; i++) {
		struct arena *arena = arena_new(0);
		struct buf bytes;
		struct wbxml_node *decoded;
		struct wbxml_error error;
		buf_init(&bytes, 0);
		struct wbxml_node *tree = testlib_random_tree(arena, &rng, &tree_options);
		if (wbxml_tree_encode(tree, &bytes) != WBXML_OK)
			fail_with_tree("encode failed", ROUNDTRIP_SEED, i, tree);
		if (wbxml_tree_parse(arena, bytes.data, bytes.len, NULL, &decoded, &error) != WBXML_OK)
			fail_with_tree(error.reason, ROUNDTRIP_SEED, i, tree);
		if (!wbxml_tree_equal(tree, decoded))
			fail_with_tree("decoded tree differs", ROUNDTRIP_SEED, i, tree);
		for (const struct wbxml_node *n = tree; n != NULL;) {
			unsigned index = wbxml_tag_page(n->tag) * 64 + wbxml_tag_token(n->tag);
			tags_seen += !seen[index];
			seen[index] = true;
			if (n->first_child != NULL) {
				n = n->first_child;
				continue;
			}
			while (n != NULL && n->next == NULL)
				n = n->parent;
			if (n != NULL)
				n = n->next;
		}
		buf_cleanup(&bytes);
		arena_free(&arena);
	}
	/* The trees drew every tag of the table at least once. */
	assert_int_equal(tags_seen, WBXML_TAG_COUNT);
}

static void random_trees_survive_xml(void **state)
{
	(void)state;
	struct testlib_rng rng;
	testlib_rng_init(&rng, ROUNDTRIP_SEED + 1);

	for (unsigned i = 0; i < ROUNDTRIP_TREES; i++) {
		struct arena *arena = arena_new(0);
		struct buf bytes, xml, again;
		struct wbxml_error error;
		buf_init(&bytes, 0);
		buf_init(&xml, 0);
		buf_init(&again, 0);
		struct wbxml_node *tree = testlib_random_tree(arena, &rng, &tree_options);
		assert_int_equal(wbxml_tree_encode(tree, &bytes), WBXML_OK);
		/* Compact and indented renderings both carry the same bytes. */
		struct wbxml_xml_options options = { .compact = (i % 2) == 0 };
		if (wbxml_to_xml(bytes.data, bytes.len, NULL, &options, &xml, &error) != WBXML_OK)
			fail_with_tree(error.reason, ROUNDTRIP_SEED + 1, i, tree);
		if (wbxml_from_xml((const char *)xml.data, xml.len, false, &again, &error) != WBXML_OK) {
			fprintf(stderr, "%.*s\nline %zu: %s %s\n", (int)xml.len, (const char *)xml.data,
				error.offset, error.reason, error.detail);
			fail_with_tree("XML does not parse back", ROUNDTRIP_SEED + 1, i, tree);
		}
		if (again.len != bytes.len || memcmp(again.data, bytes.data, bytes.len) != 0) {
			fprintf(stderr, "%.*s\n", (int)xml.len, (const char *)xml.data);
			fail_with_tree("XML gives other bytes", ROUNDTRIP_SEED + 1, i, tree);
		}
		buf_cleanup(&bytes);
		buf_cleanup(&xml);
		buf_cleanup(&again);
		arena_free(&arena);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(random_trees_survive_encode_decode),
		cmocka_unit_test(random_trees_survive_xml),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
