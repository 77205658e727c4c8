/*
 * recurrence.c: a series' pattern checked and expanded (see recurrence.h).
 *
 * Expansion walks periods (a day, a week, a month, a year, times the
 * Interval) in local days since the epoch, picks each period's days, and
 * turns each into a UTC instant at the series' local start time. A period
 * whose picked day does not exist is clamped (day 31 in April is the 30th),
 * never skipped.
 */
#include "pim/recurrence.h"
#include "pim/fields.h"

#include <string.h>

/* Occurrences and periods walked at most: a pattern without end, or one that never matches, stops here. */
#define MAX_OCCURRENCES 100000u
#define MAX_PERIODS 200000u

const struct pim_recurrence_tags pim_recurrence_calendar_tags = {
	WBXML_CALENDAR_TYPE, WBXML_CALENDAR_INTERVAL, WBXML_CALENDAR_OCCURRENCES, WBXML_CALENDAR_UNTIL,
	WBXML_CALENDAR_DAY_OF_WEEK, WBXML_CALENDAR_DAY_OF_MONTH, WBXML_CALENDAR_WEEK_OF_MONTH,
	WBXML_CALENDAR_MONTH_OF_YEAR, WBXML_CALENDAR_FIRST_DAY_OF_WEEK,
};

const struct pim_recurrence_tags pim_recurrence_tasks_tags = {
	WBXML_TASKS_TYPE, WBXML_TASKS_INTERVAL, WBXML_TASKS_OCCURRENCES, WBXML_TASKS_UNTIL, WBXML_TASKS_DAY_OF_WEEK,
	WBXML_TASKS_DAY_OF_MONTH, WBXML_TASKS_WEEK_OF_MONTH, WBXML_TASKS_MONTH_OF_YEAR, WBXML_TASKS_FIRST_DAY_OF_WEEK,
};

bool pim_recurrence_write(struct wbxml_writer *writer, const struct wbxml_node *recurrence,
			  const struct pim_recurrence_tags *tags, unsigned protocol_version)
{
	if (protocol_version < 141 || strcmp(pim_fields_text(recurrence, tags->type), "1") != 0 ||
	    pim_fields_find(recurrence, tags->first_day_of_week) != NULL)
		return false;
	wbxml_writer_start(writer, recurrence->tag);
	for (const struct wbxml_node *child = recurrence->first_child; child != NULL; child = child->next)
		pim_fields_write_node(writer, pim_version_bit(protocol_version), child);
	wbxml_writer_element_uint(writer, tags->first_day_of_week, PIM_RECURRENCE_FIRST_DAY_OF_WEEK);
	wbxml_writer_end(writer);
	return true;
}

/* A number field: 0 when absent, -1 when present and not a number up to max. */
static int number(const struct wbxml_node *node, enum wbxml_tag tag, unsigned max, unsigned *out)
{
	int status = pim_fields_number(node, tag, max, out);
	if (status == -1)
		*out = 0;
	return status == -2 ? -1 : 0;
}

static const char *check(const struct pim_recurrence *r, bool has_dow, bool has_dom, bool has_week)
{
	switch (r->type) {
	case PIM_RECUR_DAILY:
		return NULL;
	case PIM_RECUR_WEEKLY:
		return has_dow && r->day_of_week != 0 ? NULL : "recurrence_without_day";
	case PIM_RECUR_MONTHLY:
	case PIM_RECUR_YEARLY:
		if (!has_dom || r->day_of_month == 0)
			return "recurrence_without_day";
		return r->type == PIM_RECUR_YEARLY && r->month_of_year == 0 ? "recurrence_without_month" : NULL;
	case PIM_RECUR_MONTHLY_NTH:
	case PIM_RECUR_YEARLY_NTH:
		if (!has_dow || r->day_of_week == 0 || (!has_week && r->day_of_week != 127))
			return "recurrence_without_day";
		return r->type == PIM_RECUR_YEARLY_NTH && r->month_of_year == 0 ? "recurrence_without_month" : NULL;
	default:
		return "recurrence_type_invalid";
	}
}

const char *pim_recurrence_read(const struct wbxml_node *node, const struct pim_recurrence_tags *tags,
				struct pim_recurrence *out)
{
	unsigned type = 0, first_day;
	memset(out, 0, sizeof(*out));
	if (pim_fields_number(node, tags->type, 6, &type) < 0 || type == 4)
		return "recurrence_type_invalid";
	if (number(node, tags->interval, 999, &out->interval) < 0 || number(node, tags->occurrences, 999, &out->occurrences) < 0 ||
	    number(node, tags->day_of_week, 127, &out->day_of_week) < 0 ||
	    number(node, tags->day_of_month, 31, &out->day_of_month) < 0 ||
	    number(node, tags->week_of_month, 5, &out->week_of_month) < 0 ||
	    number(node, tags->month_of_year, 12, &out->month_of_year) < 0 ||
	    number(node, tags->first_day_of_week, 6, &first_day) < 0)
		return "recurrence_invalid";
	out->type = type;
	out->interval = out->interval == 0 ? 1 : out->interval;
	out->first_day_of_week = pim_fields_find(node, tags->first_day_of_week) != NULL ? first_day
											 : PIM_RECURRENCE_FIRST_DAY_OF_WEEK;
	out->until = pim_fields_time(node, tags->until, INT64_MAX);
	bool has_dow = pim_fields_find(node, tags->day_of_week) != NULL;
	if (type == PIM_RECUR_DAILY && has_dow && out->day_of_week != 0)
		out->type = PIM_RECUR_WEEKLY;
	if ((out->type == PIM_RECUR_MONTHLY_NTH || out->type == PIM_RECUR_YEARLY_NTH) && out->week_of_month == 0)
		out->week_of_month = 5;
	return check(out, has_dow, pim_fields_find(node, tags->day_of_month) != NULL,
		     pim_fields_find(node, tags->week_of_month) != NULL);
}

/* ---- calendar arithmetic on days since 1970-01-01 (a Thursday) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since the epoch of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = floor_div(z, 146097);
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* 0 Sunday ... 6 Saturday. */
static unsigned weekday(int64_t day)
{
	return (unsigned)(day + 4 - floor_div(day + 4, 7) * 7);
}

static unsigned month_days(int64_t y, unsigned m)
{
	return (unsigned)(days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) - days_from_civil(y, m, 1));
}

/* The nth (5: last) day of month y/m whose weekday is in mask; -1 when none. */
static int64_t nth_day(int64_t y, unsigned m, unsigned mask, unsigned week)
{
	int64_t first = days_from_civil(y, m, 1), found = -1;
	unsigned seen = 0, len = month_days(y, m);
	for (unsigned i = 0; i < len; i++) {
		if ((mask & (1u << weekday(first + i))) == 0)
			continue;
		found = first + i;
		if (++seen == week && week < 5)
			return found;
	}
	return week == 5 ? found : -1;
}

/* ---- the walk ---- */

struct walk {
	const struct pim_recurrence *pattern;
	const struct pim_timezone *zone;
	int64_t first_day;       /* the series' first local day */
	int64_t time_of_day;     /* its local start time, seconds */
	unsigned count;
	bool (*fn)(void *context, int64_t occurrence);
	void *context;
	bool done;
};

static int64_t to_utc(const struct pim_timezone *zone, int64_t local)
{
	if (zone == NULL)
		return local;
	return local - pim_timezone_offset_at(zone, local - pim_timezone_offset_at(zone, local));
}

/* One candidate day: an occurrence when it is not before the series' start. */
static void visit(struct walk *w, int64_t day)
{
	if (w->done || day < w->first_day)
		return;
	int64_t t = to_utc(w->zone, day * 86400 + w->time_of_day);
	const struct pim_recurrence *r = w->pattern;
	if ((r->until != INT64_MAX && t > r->until) || (r->occurrences != 0 && w->count >= r->occurrences) ||
	    w->count >= MAX_OCCURRENCES) {
		w->done = true;
		return;
	}
	w->count++;
	if (!w->fn(w->context, t))
		w->done = true;
}

/* Period k's candidate days, in order. */
static void period(struct walk *w, unsigned k)
{
	const struct pim_recurrence *r = w->pattern;
	int64_t y, step = (int64_t)k * r->interval;
	unsigned m, d;
	civil_from_days(w->first_day, &y, &m, &d);
	int64_t months = (int64_t)m - 1 + step, year = y + floor_div(months, 12);
	unsigned month = (unsigned)(months - floor_div(months, 12) * 12) + 1;
	switch (r->type) {
	case PIM_RECUR_DAILY:
		visit(w, w->first_day + step);
		break;
	case PIM_RECUR_WEEKLY: {
		int64_t week = w->first_day - (int64_t)((weekday(w->first_day) + 7 - r->first_day_of_week) % 7) + 7 * step;
		for (int i = 0; i < 7; i++)
			if (r->day_of_week & (1u << weekday(week + i)))
				visit(w, week + i);
		break;
	}
	case PIM_RECUR_MONTHLY: {
		unsigned len = month_days(year, month);
		visit(w, days_from_civil(year, month, r->day_of_month < len ? r->day_of_month : len));
		break;
	}
	case PIM_RECUR_MONTHLY_NTH:
		if (nth_day(year, month, r->day_of_week, r->week_of_month) >= 0)
			visit(w, nth_day(year, month, r->day_of_week, r->week_of_month));
		break;
	case PIM_RECUR_YEARLY: {
		unsigned len = month_days(y + step, r->month_of_year);
		visit(w, days_from_civil(y + step, r->month_of_year, r->day_of_month < len ? r->day_of_month : len));
		break;
	}
	default: /* yearly, nth */
		if (nth_day(y + step, r->month_of_year, r->day_of_week, r->week_of_month) >= 0)
			visit(w, nth_day(y + step, r->month_of_year, r->day_of_week, r->week_of_month));
		break;
	}
}

unsigned pim_recurrence_each(const struct pim_recurrence *pattern, const struct pim_timezone *zone, int64_t start,
			     bool (*fn)(void *context, int64_t occurrence), void *context)
{
	int64_t local = start + (zone != NULL ? pim_timezone_offset_at(zone, start) : 0);
	struct walk w = { .pattern = pattern, .zone = zone, .first_day = floor_div(local, 86400),
			  .time_of_day = local - floor_div(local, 86400) * 86400, .fn = fn, .context = context };
	for (unsigned k = 0; k < MAX_PERIODS && !w.done; k++)
		period(&w, k);
	return w.count;
}

static bool keep_last(void *context, int64_t occurrence)
{
	*(int64_t *)context = occurrence;
	return true;
}

int64_t pim_recurrence_last(const struct pim_recurrence *pattern, const struct pim_timezone *zone, int64_t start)
{
	int64_t last = start;
	if (pattern->occurrences == 0 && pattern->until == INT64_MAX)
		return INT64_MAX;
	/* Until bounds the last start: walking a daily series to a far Until would cost a request
	   of thousands of them dearly, and a filter place a little late is harmless. */
	if (pattern->occurrences == 0)
		return pattern->until;
	if (pim_recurrence_each(pattern, zone, start, keep_last, &last) >= MAX_OCCURRENCES)
		return INT64_MAX;
	return last;
}
