/* test_sync_parts.c: the Sync engine's pieces: settings and the cached request as text, filter cutoffs, id sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "eas/sync_private.h"

static void settings_survive_the_round_trip(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	struct sync_settings settings, decoded;
	sync_settings_defaults(&settings, 161);
	settings.window_size = 250;
	settings.deletes_as_moves = false;
	settings.get_changes_given = true;
	settings.get_changes = false;
	settings.filter_type = 3;
	settings.conflict = SYNC_CLIENT_WINS;
	settings.options.mime_support = 2;
	settings.options.mime_truncation = 4096;
	settings.options.preferences[0] = (struct pim_body_preference){ PIM_BODY_HTML, 5120, true, 255 };
	settings.options.preferences[1] = (struct pim_body_preference){ PIM_BODY_PLAIN, 0, false, 0 };
	settings.options.preference_count = 2;
	const char *text = sync_settings_encode(arena, &settings);
	sync_settings_defaults(&decoded, 161);
	assert_int_equal(sync_settings_decode(text, &decoded), 0);
	assert_string_equal(sync_settings_encode(arena, &decoded), text);
	assert_int_equal(decoded.window_size, 250);
	assert_false(decoded.deletes_as_moves);
	assert_true(decoded.get_changes_given);
	assert_false(decoded.get_changes);
	assert_int_equal(decoded.filter_type, 3);
	assert_int_equal(decoded.conflict, SYNC_CLIENT_WINS);
	assert_int_equal(decoded.options.mime_truncation, 4096);
	assert_int_equal(decoded.options.preference_count, 2);
	assert_int_equal(decoded.options.preferences[0].truncation_size, 5120);
	assert_true(decoded.options.preferences[0].all_or_none);
	assert_int_equal(decoded.options.preferences[0].preview, 255);
	arena_free(&arena);
}

static void unknown_names_and_bad_values_are_skipped(void **state)
{
	(void)state;
	struct sync_settings settings;
	sync_settings_defaults(&settings, 140);
	assert_int_equal(sync_settings_decode("v1 f=9 c=7 w=100000 zz=1 p=9/1/0/0 p=1/200/0/999 p=2/100/1/0 noequals", &settings), 0);
	assert_int_equal(settings.filter_type, 0);
	assert_int_equal(settings.conflict, SYNC_SERVER_WINS);
	assert_int_equal(settings.window_size, SYNC_MAX_WINDOW);
	assert_int_equal(settings.options.preference_count, 1);
	assert_int_equal(settings.options.preferences[0].type, PIM_BODY_HTML);
	assert_true(settings.deletes_as_moves);
}

static void foreign_text_is_refused_and_changes_nothing(void **state)
{
	(void)state;
	struct sync_settings settings, before;
	sync_settings_defaults(&settings, 140);
	settings.filter_type = 2;
	before = settings;
	assert_int_equal(sync_settings_decode("", &settings), -1);
	assert_int_equal(sync_settings_decode("v2 f=1", &settings), -1);
	assert_int_equal(sync_settings_decode("v10 f=1", &settings), -1);
	assert_int_equal(settings.filter_type, before.filter_type);
}

static void cache_survives_the_round_trip(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	struct sync_cache cache = { .window_size = 30, .ids = { 5, 12, 900000000000 }, .count = 3 }, decoded;
	const char *text = sync_cache_encode(arena, &cache);
	assert_string_equal(text, "v1 w=30 c=5 c=12 c=900000000000");
	assert_int_equal(sync_cache_decode(text, &decoded), 0);
	assert_int_equal(decoded.window_size, 30);
	assert_int_equal(decoded.count, 3);
	assert_int_equal(decoded.ids[2], 900000000000);
	/* Nonsense ids are dropped; the cache never names more than a request may. */
	assert_int_equal(sync_cache_decode("v1 c=-4 c=x c=7 w=9999", &decoded), 0);
	assert_int_equal(decoded.count, 1);
	assert_int_equal(decoded.ids[0], 7);
	assert_int_equal(decoded.window_size, SYNC_MAX_WINDOW);
	assert_int_equal(sync_cache_decode("garbage", &decoded), -1);
	assert_int_equal(sync_cache_decode("v10 c=7", &decoded), -1);
	/* The wait of a long-poll Sync is part of what an empty Sync repeats; bounded when read. */
	struct sync_cache waiting = { .window_size = 0, .wait_seconds = 480, .ids = { 5 }, .count = 1 };
	text = sync_cache_encode(arena, &waiting);
	assert_string_equal(text, "v1 w=0 h=480 c=5");
	assert_int_equal(sync_cache_decode(text, &decoded), 0);
	assert_int_equal(decoded.wait_seconds, 480);
	assert_int_equal(sync_cache_decode("v1 h=99999999 c=5", &decoded), 0);
	assert_int_equal(decoded.wait_seconds, 86400);
	arena_free(&arena);
}

static void filter_cutoffs_are_the_mail_windows(void **state)
{
	(void)state;
	const int64_t now = 1800000000;
	assert_int_equal(sync_filter_cutoff(&pim_class_email, 0, now).received, 0);
	assert_int_equal(sync_filter_cutoff(&pim_class_email, 1, now).received, now - 86400);
	assert_int_equal(sync_filter_cutoff(&pim_class_email, 2, now).received, now - 3 * 86400);
	assert_int_equal(sync_filter_cutoff(&pim_class_email, 3, now).received, now - 7 * 86400);
	assert_int_equal(sync_filter_cutoff(&pim_class_email, 4, now).received, now - 14 * 86400);
	assert_int_equal(sync_filter_cutoff(&pim_class_email, 5, now).received, now - 31 * 86400);
	/* 3 and 6 months are calendar windows, 8 is for tasks: mail gets everything. */
	for (uint8_t type = 6; type <= 9; type++)
		assert_int_equal(sync_filter_cutoff(&pim_class_email, type, now).received, 0);
	assert_int_equal(sync_filter_cutoff(&pim_class_email, 5, 1000).received, 0);
}

/* Thousands of ids, sequential and scattered, through several growths: each found, nothing else. */
static void id_set_holds_exactly_what_was_added(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	struct sync_id_set set = { 0 };
	assert_false(sync_id_set_has(&set, 1));
	for (int64_t id = 1; id <= 5000; id++) {
		sync_id_set_add(arena, &set, id * 7);
		sync_id_set_add(arena, &set, id * 7); /* twice: kept once */
	}
	sync_id_set_add(arena, &set, INT64_MAX);
	assert_int_equal(set.count, 5001);
	assert_true(set.count * 2 <= set.capacity);
	for (int64_t id = 1; id <= 35000; id++)
		assert_int_equal(sync_id_set_has(&set, id), id % 7 == 0);
	assert_true(sync_id_set_has(&set, INT64_MAX));
	arena_free(&arena);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(settings_survive_the_round_trip),
		cmocka_unit_test(unknown_names_and_bad_values_are_skipped),
		cmocka_unit_test(foreign_text_is_refused_and_changes_nothing),
		cmocka_unit_test(cache_survives_the_round_trip),
		cmocka_unit_test(filter_cutoffs_are_the_mail_windows),
		cmocka_unit_test(id_set_holds_exactly_what_was_added),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
