/*
 * test_malformed.c: every valid test message cut at every byte, and every
 * byte of it replaced, must give a clean error (or, for some replacements,
 * another valid message), never a crash; run under ASan/UBSan by make check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "wbxml/wbxml.h"

#define RANDOM_MESSAGES 200

/* The examples plus random trees: the valid messages the tests cut up. */
static unsigned load_messages(struct buf *messages, unsigned max)
{
	unsigned n = 0;
	char *dir_path = testlib_path("tests/data/examples");
	DIR *dir = opendir(dir_path);
	assert_non_null(dir);
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL && n < max) {
		const char *suffix = strstr(entry->d_name, ".wbxml.hex");
		if (suffix == NULL || suffix[strlen(".wbxml.hex")] != '\0')
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir_path, entry->d_name);
		buf_init(&messages[n], 0);
		assert_int_equal(testlib_read_hex(path, &messages[n]), 0);
		n++;
	}
	closedir(dir);
	free(dir_path);
	assert_true(n >= 9);

	struct testlib_rng rng;
	struct testlib_tree_options options = { .max_depth = 6, .max_children = 4, .focus_page = -1 };
	testlib_rng_init(&rng, 7);
	for (unsigned i = 0; i < RANDOM_MESSAGES && n < max; i++, n++) {
		struct arena *arena = arena_new(0);
		buf_init(&messages[n], 0);
		assert_int_equal(wbxml_tree_encode(testlib_random_tree(arena, &rng, &options), &messages[n]), 0);
		arena_free(&arena);
	}
	return n;
}

/*
 * Decodes; when the damaged bytes still form a message, that message must
 * be self-consistent: encoding its tree and decoding again gives the tree.
 */
static int decode(const uint8_t *input, size_t len, struct wbxml_error *error_out)
{
	struct arena *arena = arena_new(0);
	struct wbxml_node *root, *again;
	int status = wbxml_tree_parse(arena, input, len, NULL, &root, error_out);
	if (status == WBXML_OK) {
		struct buf bytes;
		buf_init(&bytes, 0);
		assert_int_equal(wbxml_tree_encode(root, &bytes), WBXML_OK);
		assert_int_equal(wbxml_tree_parse(arena, bytes.data, bytes.len, NULL, &again, NULL), WBXML_OK);
		assert_true(wbxml_tree_equal(root, again));
		buf_cleanup(&bytes);
	}
	arena_free(&arena);
	return status;
}

static void every_prefix_is_truncated(void **state)
{
	(void)state;
	struct buf messages[RANDOM_MESSAGES + 32];
	unsigned n = load_messages(messages, RANDOM_MESSAGES + 32);
	for (unsigned m = 0; m < n; m++) {
		struct wbxml_error error;
		assert_int_equal(decode(messages[m].data, messages[m].len, &error), WBXML_OK);
		for (size_t cut = 0; cut < messages[m].len; cut++) {
			/* A copy of exactly cut bytes, so ASan sees any read past it. */
			uint8_t *prefix = malloc(cut + 1);
			memcpy(prefix, messages[m].data, cut);
			int status = decode(prefix, cut, &error);
			if (status != WBXML_ERR_TRUNCATED)
				fail_msg("message %u cut at %zu: %s (%s)", m, cut, wbxml_status_name(status),
					 error.reason);
			assert_true(error.offset <= cut);
			free(prefix);
		}
		buf_cleanup(&messages[m]);
	}
}

static void every_byte_replaced_is_handled(void **state)
{
	(void)state;
	static const uint8_t replacements[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x40, 0x43, 0x7F,
						0x80, 0x83, 0xC3, 0xFF };
	struct buf messages[RANDOM_MESSAGES + 32];
	unsigned n = load_messages(messages, RANDOM_MESSAGES + 32);
	unsigned errors = 0, valid = 0;
	for (unsigned m = 0; m < n; m++) {
		uint8_t *copy = malloc(messages[m].len);
		for (size_t at = 0; at < messages[m].len; at++) {
			for (size_t r = 0; r < sizeof(replacements); r++) {
				struct wbxml_error error;
				memcpy(copy, messages[m].data, messages[m].len);
				copy[at] = replacements[r];
				if (decode(copy, messages[m].len, &error) < 0) {
					assert_non_null(error.reason);
					assert_true(error.offset <= messages[m].len);
					errors++;
				} else {
					valid++;
				}
			}
		}
		free(copy);
		buf_cleanup(&messages[m]);
	}
	/* Both outcomes occur: damage to structure is caught, damage inside a
	   string leaves a valid message. */
	assert_true(errors > 0 && valid > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_prefix_is_truncated),
		cmocka_unit_test(every_byte_replaced_is_handled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
