/*
 * fuzz_wbxml_roundtrip.c: libFuzzer target for decode -> encode -> decode.
 * A message that decodes must encode, and the encoding must decode to the
 * same tree; its XML rendering must encode to the canonical bytes again.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wbxml/wbxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wbxml_limits limits = { .max_elements = 100000 };
	struct arena *arena = arena_new(0);
	struct wbxml_node *first, *second;
	struct buf bytes, xml, again;

	if (wbxml_tree_parse(arena, data, size, &limits, &first, NULL) != WBXML_OK) {
		arena_free(&arena);
		return 0;
	}
	buf_init(&bytes, 0);
	buf_init(&xml, 0);
	buf_init(&again, 0);
	if (wbxml_tree_encode(first, &bytes) != WBXML_OK)
		__builtin_trap();
	if (wbxml_tree_parse(arena, bytes.data, bytes.len, &limits, &second, NULL) != WBXML_OK)
		__builtin_trap();
	if (!wbxml_tree_equal(first, second))
		__builtin_trap();
	/* The canonical bytes survive XML exactly. */
	if (wbxml_to_xml(bytes.data, bytes.len, &limits, NULL, &xml, NULL) != WBXML_OK)
		__builtin_trap();
	if (wbxml_from_xml((const char *)xml.data, xml.len, false, &again, NULL) != WBXML_OK)
		__builtin_trap();
	if (again.len != bytes.len || memcmp(again.data, bytes.data, bytes.len) != 0)
		__builtin_trap();
	buf_cleanup(&bytes);
	buf_cleanup(&xml);
	buf_cleanup(&again);
	arena_free(&arena);
	return 0;
}
