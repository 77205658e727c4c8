/*
 * recurrence.h: a series' pattern (MS-ASCAL 2.2.2.37 Recurrence, MS-ASTASK
 * 2.2.2.18) checked and expanded the way Outlook expands it: a day 29, 30
 * or 31 falls on the last day of a shorter month (seed 001 §1.10,
 * field-notes F-REC-1), "the nth weekday" is one day a month. The pattern
 * as sent is what devices get back; easd expands only for itself (filter
 * windows, which occurrence an exception names).
 *
 * Must not: know the store. Times are Unix seconds (UTC); occurrences are
 * computed in the event's local time when a zone is given.
 */
#ifndef PIM_RECURRENCE_H
#define PIM_RECURRENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "pim/timezone.h"
#include "wbxml/wbxml.h"

/* The week starts on Monday when the device did not say (FirstDayOfWeek, MS-ASCAL 2.2.2.23). */
#define PIM_RECURRENCE_FIRST_DAY_OF_WEEK 1

enum pim_recurrence_type {
	PIM_RECUR_DAILY = 0,
	PIM_RECUR_WEEKLY = 1,
	PIM_RECUR_MONTHLY = 2,
	PIM_RECUR_MONTHLY_NTH = 3,
	PIM_RECUR_YEARLY = 5,
	PIM_RECUR_YEARLY_NTH = 6,
};

struct pim_recurrence {
	unsigned type;              /* enum pim_recurrence_type */
	unsigned interval;          /* at least 1 */
	unsigned occurrences;       /* 0: not limited by a count */
	int64_t until;              /* INT64_MAX: no end date */
	unsigned day_of_week;       /* bitmask, Sunday 1 ... Saturday 64; 127: any day */
	unsigned day_of_month;      /* 1-31 */
	unsigned week_of_month;     /* 1-4, 5: the last */
	unsigned month_of_year;     /* 1-12 */
	unsigned first_day_of_week; /* 0 Sunday ... 6 Saturday */
};

/* The tags of the pattern's fields in a class's code page. */
struct pim_recurrence_tags {
	enum wbxml_tag type, interval, occurrences, until, day_of_week, day_of_month, week_of_month, month_of_year,
		first_day_of_week;
};
extern const struct pim_recurrence_tags pim_recurrence_calendar_tags, pim_recurrence_tasks_tags;

/*
 * Writes a weekly Recurrence that has no FirstDayOfWeek with the one easd
 * expands it with (MS-ASCAL 3.2.5 R52523, MS-ASTASK R167: the server MUST
 * return it; 14.1 and later). Returns false, writing nothing, for any
 * other pattern (written as stored).
 */
bool pim_recurrence_write(struct wbxml_writer *writer, const struct wbxml_node *recurrence,
			  const struct pim_recurrence_tags *tags, unsigned protocol_version);

/*
 * Reads and checks a Recurrence element (field-notes F-REC-2): NULL, or
 * static text saying why it is refused (Sync Status 6). Type 0 with
 * DayOfWeek is a weekly pattern (MS-ASCAL R3892312); Type 3 with
 * DayOfWeek 127 and no WeekOfMonth is the last day of the month (what
 * Android sends).
 */
const char *pim_recurrence_read(const struct wbxml_node *recurrence, const struct pim_recurrence_tags *tags,
				struct pim_recurrence *out);

/*
 * Calls fn with the UTC start of each occurrence of a series starting at
 * start (UTC), in order, computed in zone's local time (NULL: UTC), until
 * fn returns false, the pattern ends, or 100,000 occurrences (a pattern
 * without end is not walked for ever). Returns how many fn was given.
 */
unsigned pim_recurrence_each(const struct pim_recurrence *pattern, const struct pim_timezone *zone, int64_t start,
			     bool (*fn)(void *context, int64_t occurrence), void *context);
/*
 * The start of the series' last occurrence (a series with Until: Until,
 * which bounds it, without walking), or INT64_MAX when it has no end.
 */
int64_t pim_recurrence_last(const struct pim_recurrence *pattern, const struct pim_timezone *zone, int64_t start);

#endif
