/*
 * test_recurrence.c: patterns checked (field-notes T14) and expanded with
 * Outlook's semantics: day 29/30/31 in shorter months (T11, T12), the nth
 * and last weekday (T15), weekly with Interval and FirstDayOfWeek, yearly,
 * a series across a daylight-saving switch in its zone (T07), and the last
 * occurrence of Until and Occurrences series.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pim/recurrence.h"

/* A Recurrence element from "Tag=value" pairs of the Calendar page, NULL-terminated. */
static struct wbxml_node *pattern_node(struct arena *arena, const char *const *pairs)
{
	static const struct { const char *name; enum wbxml_tag tag; } names[] = {
		{ "Type", WBXML_CALENDAR_TYPE }, { "Interval", WBXML_CALENDAR_INTERVAL },
		{ "Occurrences", WBXML_CALENDAR_OCCURRENCES }, { "Until", WBXML_CALENDAR_UNTIL },
		{ "DayOfWeek", WBXML_CALENDAR_DAY_OF_WEEK }, { "DayOfMonth", WBXML_CALENDAR_DAY_OF_MONTH },
		{ "WeekOfMonth", WBXML_CALENDAR_WEEK_OF_MONTH }, { "MonthOfYear", WBXML_CALENDAR_MONTH_OF_YEAR },
		{ "FirstDayOfWeek", WBXML_CALENDAR_FIRST_DAY_OF_WEEK },
	};
	struct wbxml_node *node = wbxml_tree_add(arena, NULL, WBXML_CALENDAR_RECURRENCE, WBXML_CONTENT_EMPTY, NULL, 0);
	for (; *pairs != NULL; pairs++) {
		const char *equals = strchr(*pairs, '=');
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == (size_t)(equals - *pairs) && strncmp(names[i].name, *pairs, (size_t)(equals - *pairs)) == 0)
				wbxml_tree_add(arena, node, names[i].tag, WBXML_CONTENT_STRING, equals + 1, strlen(equals + 1));
	}
	return node;
}

static int64_t utc(int year, int month, int day, int hour, int minute)
{
	struct tm tm = { .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day, .tm_hour = hour, .tm_min = minute };
	return (int64_t)timegm(&tm);
}

struct collected {
	int64_t times[64];
	unsigned count;
};

static bool collect(void *context, int64_t occurrence)
{
	struct collected *c = context;
	c->times[c->count++] = occurrence;
	return c->count < 64;
}

/* The occurrences of pairs starting at start, as "YYYY-MM-DD HH:MM" joined by spaces. */
static const char *expand(struct arena *arena, const char *const *pairs, int64_t start, const struct pim_timezone *zone)
{
	struct pim_recurrence pattern;
	struct collected c = { .count = 0 };
	const char *invalid = pim_recurrence_read(pattern_node(arena, pairs), &pim_recurrence_calendar_tags, &pattern);
	if (invalid != NULL)
		return invalid;
	pim_recurrence_each(&pattern, zone, start, collect, &c);
	char *out = arena_alloc(arena, 20 * c.count + 1);
	out[0] = '\0';
	for (unsigned i = 0; i < c.count; i++) {
		time_t t = (time_t)c.times[i];
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(out + strlen(out), 20, i == 0 ? "%Y-%m-%d %H:%M" : " %Y-%m-%d %H:%M", &tm);
	}
	return out;
}

/* T11, T12: day 31, 30 and 29 fall on the last day of shorter months. */
static void monthly_days_clamp_to_the_month(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	const char *const day31[] = { "Type=2", "DayOfMonth=31", "Interval=1", "Occurrences=6", NULL };
	assert_string_equal(expand(arena, day31, utc(2026, 1, 31, 9, 0), NULL),
			    "2026-01-31 09:00 2026-02-28 09:00 2026-03-31 09:00 2026-04-30 09:00 2026-05-31 09:00 "
			    "2026-06-30 09:00");
	const char *const day30[] = { "Type=2", "DayOfMonth=30", "Interval=12", "Occurrences=3", NULL };
	assert_string_equal(expand(arena, day30, utc(2026, 2, 28, 9, 0), NULL),
			    "2026-02-28 09:00 2027-02-28 09:00 2028-02-29 09:00");
	const char *const yearly29[] = { "Type=5", "DayOfMonth=29", "MonthOfYear=2", "Occurrences=3", NULL };
	assert_string_equal(expand(arena, yearly29, utc(2028, 2, 29, 9, 0), NULL),
			    "2028-02-29 09:00 2029-02-28 09:00 2030-02-28 09:00");
	arena_free(&arena);
}

/* T15 and its kin: the nth (last) weekday is one day a month; the last day of the month. */
static void nth_and_last_days(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	const char *const last_weekday[] = { "Type=3", "DayOfWeek=62", "WeekOfMonth=5", "Occurrences=3", NULL };
	assert_string_equal(expand(arena, last_weekday, utc(2026, 5, 1, 9, 0), NULL),
			    "2026-05-29 09:00 2026-06-30 09:00 2026-07-31 09:00");
	const char *const second_tuesday[] = { "Type=3", "DayOfWeek=4", "WeekOfMonth=2", "Occurrences=2", NULL };
	assert_string_equal(expand(arena, second_tuesday, utc(2026, 3, 1, 9, 0), NULL), "2026-03-10 09:00 2026-04-14 09:00");
	/* Android's last day of the month: Type 3, DayOfWeek 127, no WeekOfMonth. */
	const char *const last_day[] = { "Type=3", "DayOfWeek=127", "Occurrences=2", NULL };
	assert_string_equal(expand(arena, last_day, utc(2026, 2, 1, 9, 0), NULL), "2026-02-28 09:00 2026-03-31 09:00");
	const char *const thanksgiving[] = { "Type=6", "DayOfWeek=16", "WeekOfMonth=4", "MonthOfYear=11",
					     "Occurrences=2", NULL };
	assert_string_equal(expand(arena, thanksgiving, utc(2026, 1, 1, 17, 0), NULL), "2026-11-26 17:00 2027-11-25 17:00");
	arena_free(&arena);
}

/* Weekly every other week on Sunday and Monday: which Sunday pairs with which Monday is FirstDayOfWeek's (T16). */
static void weekly_with_interval_and_first_day(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	/* 2026-03-01 is a Sunday. */
	const char *const from_sunday[] = { "Type=1", "DayOfWeek=3", "Interval=2", "FirstDayOfWeek=0", "Occurrences=4", NULL };
	assert_string_equal(expand(arena, from_sunday, utc(2026, 3, 1, 8, 0), NULL),
			    "2026-03-01 08:00 2026-03-02 08:00 2026-03-15 08:00 2026-03-16 08:00");
	const char *const from_monday[] = { "Type=1", "DayOfWeek=3", "Interval=2", "FirstDayOfWeek=1", "Occurrences=4", NULL };
	assert_string_equal(expand(arena, from_monday, utc(2026, 3, 1, 8, 0), NULL),
			    "2026-03-01 08:00 2026-03-09 08:00 2026-03-15 08:00 2026-03-23 08:00");
	/* Type 0 with DayOfWeek 62: every weekday. */
	const char *const weekdays[] = { "Type=0", "DayOfWeek=62", "Occurrences=6", NULL };
	assert_string_equal(expand(arena, weekdays, utc(2026, 3, 5, 8, 0), NULL),
			    "2026-03-05 08:00 2026-03-06 08:00 2026-03-09 08:00 2026-03-10 08:00 2026-03-11 08:00 "
			    "2026-03-12 08:00");
	const char *const daily_until[] = { "Type=0", "Interval=3", "Until=20260310T235959Z", NULL };
	assert_string_equal(expand(arena, daily_until, utc(2026, 3, 1, 8, 0), NULL),
			    "2026-03-01 08:00 2026-03-04 08:00 2026-03-07 08:00 2026-03-10 08:00");
	arena_free(&arena);
}

/* T14: what clients send wrong gets its reason; what Android sends right is taken. */
static void invalid_patterns_are_refused(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	const char *const *rows[] = {
		(const char *const[]){ "Type=1", "DayOfWeek=0", NULL },
		(const char *const[]){ "Type=1", NULL },
		(const char *const[]){ "Type=4", NULL },
		(const char *const[]){ "Type=1", "DayOfWeek=128", NULL },
		(const char *const[]){ "Type=3", "DayOfWeek=2", "WeekOfMonth=6", NULL },
		(const char *const[]){ "Type=2", NULL },
		(const char *const[]){ "Type=x", NULL },
	};
	struct pim_recurrence pattern;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (pim_recurrence_read(pattern_node(arena, rows[i]), &pim_recurrence_calendar_tags, &pattern) == NULL)
			fail_msg("row %zu was taken", i);
	arena_free(&arena);
}

/* T07: a weekly 10:00 in Sydney stays 10:00 local across the April switch. */
static void series_keeps_its_local_time_across_dst(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	struct pim_timezone sydney;
	assert_int_equal(pim_timezone_for_zone("Australia/Sydney", &sydney), 0);
	const char *const weekly[] = { "Type=1", "DayOfWeek=4", "Occurrences=3", NULL };
	/* Tuesday 31 March 10:00 AEDT is 23:00 UTC the day before. */
	assert_string_equal(expand(arena, weekly, utc(2026, 3, 30, 23, 0), &sydney),
			    "2026-03-30 23:00 2026-04-07 00:00 2026-04-14 00:00");
	arena_free(&arena);
}

/* The last occurrence: of a count, of an end date, none without either. */
static void last_occurrence(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	struct pim_recurrence pattern;
	const char *const counted[] = { "Type=0", "Occurrences=10", NULL };
	assert_null(pim_recurrence_read(pattern_node(arena, counted), &pim_recurrence_calendar_tags, &pattern));
	assert_int_equal(pim_recurrence_last(&pattern, NULL, utc(2026, 1, 1, 9, 0)), utc(2026, 1, 10, 9, 0));
	const char *const forever[] = { "Type=0", NULL };
	assert_null(pim_recurrence_read(pattern_node(arena, forever), &pim_recurrence_calendar_tags, &pattern));
	assert_true(pim_recurrence_last(&pattern, NULL, utc(2026, 1, 1, 9, 0)) == INT64_MAX);
	arena_free(&arena);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(monthly_days_clamp_to_the_month),
		cmocka_unit_test(nth_and_last_days),
		cmocka_unit_test(weekly_with_interval_and_first_day),
		cmocka_unit_test(invalid_patterns_are_refused),
		cmocka_unit_test(series_keeps_its_local_time_across_dst),
		cmocka_unit_test(last_occurrence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
