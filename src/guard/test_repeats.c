/*
 * test_repeats.c: what easd remembers of what it told each device
 * (guard/repeats.c): folders reported changed while the device's key
 * stayed the same, several at once, forgotten once it syncs; immediate
 * answers counted in a window.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "guard/limits.h"
#include "guard/repeats.h"

/* A device pinging two folders it never syncs: each is counted on its own (they do not push each other out). */
static void two_folders_never_synced_are_both_counted(void **state)
{
	(void)state;
	struct guard_repeats *repeats = guard_repeats_new();
	for (unsigned i = 1; i <= 5; i++) {
		assert_int_equal(guard_repeats_report(repeats, 7, 10, 4, 100 + i), i);
		assert_int_equal(guard_repeats_report(repeats, 7, 11, 9, 100 + i), i);
	}
	assert_int_equal(guard_repeats_peek(repeats, 7, 10, 4), 5);
	assert_int_equal(guard_repeats_peek(repeats, 7, 11, 9), 5);
	/* Another device, another count. */
	assert_int_equal(guard_repeats_peek(repeats, 8, 10, 4), 0);
	guard_repeats_free(&repeats);
	assert_null(repeats);
}

/* The device synced the folder (its key moved): the count starts again. */
static void a_new_key_starts_the_count_again(void **state)
{
	(void)state;
	struct guard_repeats *repeats = guard_repeats_new();
	for (unsigned i = 0; i < LIMIT_REPEAT_CHANGED; i++)
		guard_repeats_report(repeats, 7, 10, 4, 100);
	assert_int_equal(guard_repeats_peek(repeats, 7, 10, 4), LIMIT_REPEAT_CHANGED);
	assert_int_equal(guard_repeats_peek(repeats, 7, 10, 5), 0);
	assert_int_equal(guard_repeats_report(repeats, 7, 10, 5, 101), 1);
	guard_repeats_free(&repeats);
}

/* More folders than it keeps: the one reported longest ago makes room, the others stay. */
static void the_oldest_report_makes_room(void **state)
{
	(void)state;
	struct guard_repeats *repeats = guard_repeats_new();
	for (int64_t folder = 1; folder <= 40; folder++)
		guard_repeats_report(repeats, 7, folder, 1, folder);
	assert_int_equal(guard_repeats_peek(repeats, 7, 1, 1), 0);
	assert_int_equal(guard_repeats_peek(repeats, 7, 40, 1), 1);
	guard_repeats_free(&repeats);
}

/* Immediate answers are counted per device in a window of LIMIT_REPEAT_WINDOW_SECONDS. */
static void immediate_answers_count_in_a_window(void **state)
{
	(void)state;
	struct guard_repeats *repeats = guard_repeats_new();
	for (unsigned i = 1; i <= LIMIT_REPEAT_IMMEDIATE + 2; i++)
		assert_int_equal(guard_repeats_immediate(repeats, 7, 1000), i);
	assert_int_equal(guard_repeats_immediate(repeats, 8, 1000), 1);
	assert_int_equal(guard_repeats_immediate(repeats, 7, 1000 + LIMIT_REPEAT_WINDOW_SECONDS), 1);
	guard_repeats_free(&repeats);
}

/* At LIMIT_REPEAT_DEVICES a new device is not remembered until idle ones can be swept out. */
static void a_full_table_makes_room_from_idle_devices(void **state)
{
	(void)state;
	struct guard_repeats *repeats = guard_repeats_new();
	for (int64_t device = 1; device <= LIMIT_REPEAT_DEVICES; device++)
		guard_repeats_immediate(repeats, device, 0);
	int64_t late = LIMIT_REPEAT_DEVICES + 1;
	assert_int_equal(guard_repeats_immediate(repeats, late, 10), 1);
	assert_int_equal(guard_repeats_immediate(repeats, late, 10), 1); /* not remembered: no room */
	int64_t later = LIMIT_REPEAT_IDLE_SECONDS + 100;
	assert_int_equal(guard_repeats_immediate(repeats, late, later), 1);
	assert_int_equal(guard_repeats_immediate(repeats, late, later), 2);
	guard_repeats_free(&repeats);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_folders_never_synced_are_both_counted),
		cmocka_unit_test(a_new_key_starts_the_count_again),
		cmocka_unit_test(the_oldest_report_makes_room),
		cmocka_unit_test(immediate_answers_count_in_a_window),
		cmocka_unit_test(a_full_table_makes_room_from_idle_devices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
