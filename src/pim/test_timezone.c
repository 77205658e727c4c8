/*
 * test_timezone.c: the TimeZone structure (MS-ASDTYPE 2.7.6): golden
 * vectors decoded and encoded byte for byte (field-notes T01), 24 real
 * zones encoded, resolved back to a zone with the same offsets all year,
 * and the broken blobs clients send (T02-T06, T08).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libical/ical.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pim/timezone.h"

/* field-notes §2.1, computed by the notes' authors. */
static const char BERLIN[] =
	"xP///wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAoAAAAFAAMAAAAAAAAA"
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAMAAAAFAAIAAAAAAAAA"
	"xP///w==";
static const char NEW_YORK[] =
	"LAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAsAAAABAAIAAAAAAAAA"
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAMAAAACAAIAAAAAAAAA"
	"xP///w==";
static const char SYDNEY[] =
	"qP3//wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAAAABAAMAAAAAAAAA"
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAoAAAABAAIAAAAAAAAA"
	"xP///w==";

static struct pim_timezone parsed(const char *base64)
{
	struct pim_timezone zone;
	assert_int_equal(pim_timezone_parse(base64, &zone), 0);
	return zone;
}

/* T01: decode, encode again, the same text; Berlin's StandardDate as MS-ASDTYPE lays it out. */
static void golden_vectors_round_trip(void **state)
{
	(void)state;
	const char *const blobs[] = { BERLIN, NEW_YORK, SYDNEY };
	struct arena *arena = arena_new(0);
	for (size_t i = 0; i < sizeof(blobs) / sizeof(blobs[0]); i++) {
		struct pim_timezone zone = parsed(blobs[i]);
		assert_string_equal(pim_timezone_format(arena, &zone), blobs[i]);
	}
	struct pim_timezone berlin = parsed(BERLIN);
	uint8_t bytes[PIM_TIMEZONE_BYTES];
	static const uint8_t standard_date[16] = { 0, 0, 10, 0, 0, 0, 5, 0, 3, 0 };
	pim_timezone_encode(&berlin, bytes);
	assert_memory_equal(bytes + 68, standard_date, sizeof(standard_date));
	assert_int_equal(berlin.bias, -60);
	assert_int_equal(berlin.daylight_bias, -60);
	assert_int_equal(berlin.daylight_date.month, 3);
	assert_int_equal(berlin.daylight_date.day, 5);
	assert_int_equal(berlin.daylight_date.hour, 2);
	arena_free(&arena);
}

/* T01: easd's own encoding of four zones is the golden one. */
static void zones_encode_to_the_golden_vectors(void **state)
{
	(void)state;
	const char *const zones[][2] = { { "Europe/Berlin", BERLIN }, { "America/New_York", NEW_YORK },
					 { "Australia/Sydney", SYDNEY } };
	struct arena *arena = arena_new(0);
	struct pim_timezone zone;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		assert_int_equal(pim_timezone_for_zone(zones[i][0], &zone), 0);
		assert_string_equal(pim_timezone_format(arena, &zone), zones[i][1]);
	}
	assert_int_equal(pim_timezone_for_zone("Asia/Kolkata", &zone), 0);
	struct pim_timezone kolkata = { .bias = -330 };
	assert_memory_equal(&zone, &kolkata, sizeof(zone));
	assert_int_equal(pim_timezone_for_zone("Nowhere/Atlantis", &zone), -1);
	arena_free(&arena);
}

/* libical's offset of a zone at a UTC instant. */
static int32_t olson_offset(const char *name, int64_t t)
{
	icaltimezone *zone = icaltimezone_get_builtin_timezone(name);
	assert_non_null(zone);
	struct icaltimetype tt = icaltime_from_timet_with_zone((time_t)t, 0, icaltimezone_get_utc_timezone());
	int is_daylight = 0;
	return (int32_t)icaltimezone_get_utc_offset_of_utc_time(zone, &tt, &is_daylight);
}

static int64_t start_of_this_year(void)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	struct tm start = { .tm_year = tm.tm_year, .tm_mday = 1 };
	return (int64_t)timegm(&start);
}

/*
 * 24 zones of both hemispheres, with and without daylight saving, half
 * hours and quarter hours: the encoded blob gives the zone's offset at
 * every hour of the year, and resolves to a zone that does the same.
 */
static void real_zones_encode_and_resolve(void **state)
{
	(void)state;
	static const char *const zones[] = {
		"Europe/Berlin", "Europe/London", "Europe/Lisbon", "Europe/Helsinki", "Europe/Moscow",
		"Europe/Istanbul", "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
		"America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/St_Johns", "America/Sao_Paulo",
		"America/Santiago", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo", "Asia/Shanghai",
		"Australia/Sydney", "Australia/Adelaide", "Australia/Perth", "Pacific/Auckland",
	};
	int64_t start = start_of_this_year();
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct pim_timezone zone;
		assert_int_equal(pim_timezone_for_zone(zones[i], &zone), 0);
		const char *resolved = pim_timezone_resolve(&zone);
		if (resolved == NULL)
			fail_msg("%s does not resolve", zones[i]);
		for (int64_t t = start; t < start + 365 * 86400; t += 3600) {
			int32_t want = olson_offset(zones[i], t);
			if (pim_timezone_offset_at(&zone, t) != want || olson_offset(resolved, t) != want)
				fail_msg("%s (resolved %s) at %lld: blob %d, resolved %d, want %d", zones[i], resolved,
					 (long long)t, pim_timezone_offset_at(&zone, t), olson_offset(resolved, t), want);
		}
	}
	struct pim_timezone berlin = parsed(BERLIN);
	assert_string_equal(pim_timezone_resolve(&berlin), "Europe/Berlin");
}

/* T02-T06: what clients really send. */
static void broken_blobs_are_read_by_their_rules(void **state)
{
	(void)state;
	static const uint8_t zeros[PIM_TIMEZONE_BYTES];
	struct pim_timezone zone;
	int64_t july = start_of_this_year() + 190 * 86400, january = start_of_this_year() + 10 * 86400;
	/* T05: all zero is UTC. */
	assert_int_equal(pim_timezone_decode(zeros, sizeof(zeros), &zone), 0);
	assert_string_equal(pim_timezone_resolve(&zone), "UTC");
	/* T04: a DaylightBias without dates means no daylight saving. */
	memset(&zone, 0, sizeof(zone));
	zone.bias = -330;
	zone.daylight_bias = -60;
	assert_false(pim_timezone_has_dst(&zone));
	assert_int_equal(pim_timezone_offset_at(&zone, july), 330 * 60);
	assert_int_equal(pim_timezone_offset_at(&zone, january), 330 * 60);
	assert_non_null(pim_timezone_resolve(&zone));
	/* T02: week and weekday swapped (F-TZ-1) is no rule: a fixed +01:00, sanitised before any device sees it. */
	zone = parsed(BERLIN);
	zone.standard_date.day_of_week = 5;
	zone.standard_date.day = 0;
	zone.daylight_date.day_of_week = 5;
	zone.daylight_date.day = 0;
	assert_false(pim_timezone_has_dst(&zone));
	assert_int_equal(pim_timezone_offset_at(&zone, july), 3600);
	assert_true(pim_timezone_sanitise(&zone));
	assert_int_equal(zone.standard_date.month, 0);
	assert_int_equal(zone.daylight_date.month, 0);
	assert_false(pim_timezone_sanitise(&zone));
	/* T06: rules no zone has resolve to none, and are followed as they are. */
	memset(&zone, 0, sizeof(zone));
	zone.bias = -60;
	zone.daylight_bias = -60;
	zone.daylight_date = (struct pim_systemtime){ .month = 4, .day_of_week = 0, .day = 2, .hour = 2 };
	zone.standard_date = (struct pim_systemtime){ .month = 9, .day_of_week = 0, .day = 1, .hour = 3 };
	assert_null(pim_timezone_resolve(&zone));
	assert_int_equal(pim_timezone_offset_at(&zone, july), 7200);
	assert_int_equal(pim_timezone_offset_at(&zone, january), 3600);
	/* Not 172 bytes of base64. */
	assert_int_equal(pim_timezone_parse("AAAA", &zone), -1);
	assert_int_equal(pim_timezone_decode(zeros, 171, &zone), -1);
	char almost[233];
	memcpy(almost, BERLIN, sizeof(almost));
	almost[10] = '!';
	assert_int_equal(pim_timezone_parse(almost, &zone), -1);
}

/* T08: a midnight switch written as 23:59:59.999 of the day before (Windows, SOGo) is the same rule. */
static void midnight_switch_in_either_form(void **state)
{
	(void)state;
	struct pim_timezone zone;
	assert_int_equal(pim_timezone_for_zone("America/Santiago", &zone), 0);
	const char *plain = pim_timezone_resolve(&zone);
	assert_non_null(plain);
	struct pim_systemtime *rule = &zone.daylight_date;
	if (rule->hour == 0 && rule->minute == 0) {
		rule->day_of_week = (uint16_t)((rule->day_of_week + 6) % 7);
		*rule = (struct pim_systemtime){ .month = rule->month, .day_of_week = rule->day_of_week, .day = rule->day,
						 .hour = 23, .minute = 59, .second = 59, .milliseconds = 999 };
	}
	assert_non_null(pim_timezone_resolve(&zone));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(golden_vectors_round_trip),
		cmocka_unit_test(zones_encode_to_the_golden_vectors),
		cmocka_unit_test(real_zones_encode_and_resolve),
		cmocka_unit_test(broken_blobs_are_read_by_their_rules),
		cmocka_unit_test(midnight_switch_in_either_form),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
