/*
 * timezone.c: the TimeZone structure (see timezone.h).
 *
 * Matching is by instants, as AOSP's client does it: the blob's switches in
 * two years are computed from its rules and compared with each Olson
 * zone's, read once from libical (pthread_once) into a table that the
 * request threads only read. Comparing instants instead of rule fields
 * makes every way of writing one rule match: week 4 or "last" in a year
 * where they agree, a midnight switch as 00:00 or as 23:59:59.999 of the
 * day before (field-notes F-TZ-4).
 */
#include "pim/timezone.h"

#include <glib.h>
#include <libical/ical.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Switches of the blob and of a zone agree within this many seconds. */
#define MATCH_SECONDS 120
/* Years the table covers from the year of its first use: a rule must hold in both. */
#define TABLE_YEARS 2

/* ---- the 172 bytes ---- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static int32_t get32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, int32_t v)
{
	uint32_t u = (uint32_t)v;
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(u >> (8 * i));
}

static void get_systemtime(const uint8_t *p, struct pim_systemtime *t)
{
	uint16_t *fields[] = { &t->year, &t->month, &t->day_of_week, &t->day,
			       &t->hour, &t->minute, &t->second, &t->milliseconds };
	for (int i = 0; i < 8; i++)
		*fields[i] = get16(p + 2 * i);
}

static void put_systemtime(uint8_t *p, const struct pim_systemtime *t)
{
	const uint16_t fields[] = { t->year, t->month, t->day_of_week, t->day, t->hour, t->minute, t->second,
				    t->milliseconds };
	for (int i = 0; i < 8; i++)
		put16(p + 2 * i, fields[i]);
}

/* Offsets in the structure (MS-ASDTYPE 2.7.6). */
enum { AT_BIAS = 0, AT_STANDARD_NAME = 4, AT_STANDARD_DATE = 68, AT_STANDARD_BIAS = 84, AT_DAYLIGHT_NAME = 88,
       AT_DAYLIGHT_DATE = 152, AT_DAYLIGHT_BIAS = 168 };

int pim_timezone_decode(const uint8_t *bytes, size_t len, struct pim_timezone *out)
{
	if (len != PIM_TIMEZONE_BYTES)
		return -1;
	out->bias = get32(bytes + AT_BIAS);
	for (int i = 0; i < 32; i++) {
		out->standard_name[i] = get16(bytes + AT_STANDARD_NAME + 2 * i);
		out->daylight_name[i] = get16(bytes + AT_DAYLIGHT_NAME + 2 * i);
	}
	get_systemtime(bytes + AT_STANDARD_DATE, &out->standard_date);
	out->standard_bias = get32(bytes + AT_STANDARD_BIAS);
	get_systemtime(bytes + AT_DAYLIGHT_DATE, &out->daylight_date);
	out->daylight_bias = get32(bytes + AT_DAYLIGHT_BIAS);
	return 0;
}

void pim_timezone_encode(const struct pim_timezone *zone, uint8_t out[PIM_TIMEZONE_BYTES])
{
	put32(out + AT_BIAS, zone->bias);
	for (int i = 0; i < 32; i++) {
		put16(out + AT_STANDARD_NAME + 2 * i, zone->standard_name[i]);
		put16(out + AT_DAYLIGHT_NAME + 2 * i, zone->daylight_name[i]);
	}
	put_systemtime(out + AT_STANDARD_DATE, &zone->standard_date);
	put32(out + AT_STANDARD_BIAS, zone->standard_bias);
	put_systemtime(out + AT_DAYLIGHT_DATE, &zone->daylight_date);
	put32(out + AT_DAYLIGHT_BIAS, zone->daylight_bias);
}

int pim_timezone_parse(const char *base64, struct pim_timezone *out)
{
	/* 172 bytes are 232 characters of base64; GLib's decoder skips what is not base64, so check first. */
	size_t len = strlen(base64);
	if (len != 232 || strspn(base64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != len)
		return -1;
	gsize decoded_len = 0;
	guchar *decoded = g_base64_decode(base64, &decoded_len);
	int status = decoded != NULL ? pim_timezone_decode(decoded, decoded_len, out) : -1;
	g_free(decoded);
	return status;
}

const char *pim_timezone_format(struct arena *arena, const struct pim_timezone *zone)
{
	uint8_t bytes[PIM_TIMEZONE_BYTES];
	pim_timezone_encode(zone, bytes);
	gchar *text = g_base64_encode(bytes, sizeof(bytes));
	const char *copy = arena_strndup(arena, text, strlen(text));
	g_free(text);
	return copy;
}

/* ---- rules ---- */

static bool leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return month == 2 && leap(year) ? 29 : days[month - 1];
}

static bool rule_valid(const struct pim_systemtime *t)
{
	if (t->month < 1 || t->month > 12 || t->hour > 23 || t->minute > 59 || t->second > 59 || t->milliseconds > 999)
		return false;
	if (t->year != 0)
		return t->day >= 1 && t->day <= days_in_month(t->year, t->month);
	return t->day >= 1 && t->day <= 5 && t->day_of_week <= 6;
}

bool pim_timezone_has_dst(const struct pim_timezone *zone)
{
	return zone->standard_date.month != 0 && zone->daylight_date.month != 0 && rule_valid(&zone->standard_date) &&
	       rule_valid(&zone->daylight_date);
}

bool pim_timezone_sanitise(struct pim_timezone *zone)
{
	bool changed = false;
	bool dst_given = zone->standard_date.month != 0 || zone->daylight_date.month != 0;
	if (dst_given && !pim_timezone_has_dst(zone)) {
		memset(&zone->standard_date, 0, sizeof(zone->standard_date));
		memset(&zone->daylight_date, 0, sizeof(zone->daylight_date));
		zone->daylight_bias = 0;
		changed = true;
	}
	/* R107-R109: at most 31 characters and a NUL. */
	if (zone->standard_name[31] != 0 || zone->daylight_name[31] != 0) {
		zone->standard_name[31] = 0;
		zone->daylight_name[31] = 0;
		changed = true;
	}
	return changed;
}

/* Seconds since the epoch of a date and time read as UTC. */
static int64_t epoch(int year, int month, int day, int hour, int minute, int second)
{
	struct tm tm = { .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day, .tm_hour = hour,
			 .tm_min = minute, .tm_sec = second };
	return (int64_t)timegm(&tm);
}

/* The UTC instant of a rule's switch in year, the local time before it being UTC + offset_before. */
static bool rule_instant(const struct pim_systemtime *rule, int year, int32_t offset_before, int64_t *out)
{
	int day = rule->day;
	if (rule->year != 0) {
		if (rule->year != year)
			return false;
	} else {
		/* The weekday of the 1st, then the nth such weekday; week 5 is the last one. */
		int first = (int)((epoch(year, rule->month, 1, 0, 0, 0) / 86400 + 4) % 7); /* 1970-01-01 was a Thursday */
		day = 1 + (rule->day_of_week - first + 7) % 7 + 7 * (rule->day - 1);
		while (day > days_in_month(year, rule->month))
			day -= 7;
	}
	int64_t local = epoch(year, rule->month, day, rule->hour, rule->minute, rule->second) +
			(rule->milliseconds >= 500 ? 1 : 0);
	*out = local - offset_before;
	return true;
}

/* Seconds east of UTC for a bias and its period's own; nonsense beyond a day is held at a day. */
static int32_t offset_of(int32_t bias, int32_t period_bias)
{
	int64_t seconds = -((int64_t)bias + period_bias) * 60;
	return (int32_t)(seconds > 86400 ? 86400 : seconds < -86400 ? -86400 : seconds);
}

static int32_t standard_offset(const struct pim_timezone *zone)
{
	return offset_of(zone->bias, zone->standard_bias);
}

static int32_t daylight_offset(const struct pim_timezone *zone)
{
	return offset_of(zone->bias, zone->daylight_bias);
}

/* The year's switches into and out of daylight time. Returns false without daylight saving. */
static bool switches(const struct pim_timezone *zone, int year, int64_t *start, int64_t *end)
{
	return pim_timezone_has_dst(zone) &&
	       rule_instant(&zone->daylight_date, year, standard_offset(zone), start) &&
	       rule_instant(&zone->standard_date, year, daylight_offset(zone), end);
}

int32_t pim_timezone_offset_at(const struct pim_timezone *zone, int64_t t)
{
	time_t seconds = (time_t)t;
	struct tm tm;
	int64_t start, end;
	gmtime_r(&seconds, &tm);
	if (!switches(zone, tm.tm_year + 1900, &start, &end))
		return standard_offset(zone);
	/* Southern zones switch into daylight time late in the year and out early (F-TZ-4). */
	bool in_daylight = start < end ? t >= start && t < end : t >= start || t < end;
	return in_daylight ? daylight_offset(zone) : standard_offset(zone);
}

/* ---- Olson zones, from libical ---- */

struct zone_rules {
	const char *name;
	int32_t standard, daylight;      /* seconds east of UTC */
	int64_t start[TABLE_YEARS];      /* into daylight time; 0 when none that year */
	int64_t end[TABLE_YEARS];        /* back to standard */
	struct pim_systemtime start_rule, end_rule; /* as a yearly rule, for encoding */
	bool usable;                     /* at most one switch each way a year */
};

static struct {
	pthread_once_t once;
	struct zone_rules *zones;
	size_t count;
	int year;                        /* the first year of the table */
	bool release;                    /* free libical's zones once read (pim_timezone_release_libical) */
} table = { .once = PTHREAD_ONCE_INIT };

static void build_table(void);

void pim_timezone_release_libical(void)
{
	table.release = true;
	/* Read now, not at the first lookup: that may come while an event being read holds one of the zones freed. */
	pthread_once(&table.once, build_table);
}

/* Zones chosen first when several share a rule: where most users are. */
static const char *const preferred[] = {
	"UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Helsinki", "Europe/Moscow",
	"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
	"America/Anchorage", "Pacific/Honolulu", "America/Halifax", "America/Sao_Paulo", "Asia/Jerusalem",
	"Asia/Dubai", "Asia/Kolkata", "Asia/Shanghai", "Asia/Singapore", "Asia/Tokyo", "Australia/Brisbane",
	"Australia/Sydney", "Australia/Adelaide", "Australia/Perth", "Pacific/Auckland", "Africa/Johannesburg",
};

static int32_t zone_offset(icaltimezone *zone, int64_t t, int *is_daylight)
{
	struct icaltimetype tt = icaltime_from_timet_with_zone((time_t)t, 0, icaltimezone_get_utc_timezone());
	*is_daylight = 0;
	return (int32_t)icaltimezone_get_utc_offset_of_utc_time(zone, &tt, is_daylight);
}

/* The first second in (from, to] at which the offset differs from the one at from. */
static int64_t find_switch(icaltimezone *zone, int64_t from, int64_t to)
{
	int is_daylight;
	int32_t before = zone_offset(zone, from, &is_daylight);
	while (to - from > 1) {
		int64_t middle = from + (to - from) / 2;
		if (zone_offset(zone, middle, &is_daylight) == before)
			from = middle;
		else
			to = middle;
	}
	return to;
}

/* The yearly rule a switch at t follows, the local time before it being UTC + offset_before. */
static void rule_of(int64_t t, int32_t offset_before, struct pim_systemtime *rule)
{
	time_t local = (time_t)(t + offset_before);
	struct tm tm;
	gmtime_r(&local, &tm);
	int month = tm.tm_mon + 1;
	*rule = (struct pim_systemtime){ .month = (uint16_t)month, .day_of_week = (uint16_t)tm.tm_wday,
					 .day = (uint16_t)((tm.tm_mday - 1) / 7 + 1), .hour = (uint16_t)tm.tm_hour,
					 .minute = (uint16_t)tm.tm_min, .second = (uint16_t)tm.tm_sec };
	/* In the last seven days of the month: "last" (week 5), which holds every year. */
	if (tm.tm_mday + 7 > days_in_month(tm.tm_year + 1900, month))
		rule->day = 5;
}

/* The table's year (0 or 1) of a UTC instant. */
static int year_index(int64_t t)
{
	time_t seconds = (time_t)t;
	struct tm tm;
	gmtime_r(&seconds, &tm);
	int index = tm.tm_year + 1900 - table.year;
	return index < 0 ? 0 : index >= TABLE_YEARS ? TABLE_YEARS - 1 : index;
}

/*
 * Reads one zone's switches, day by day and then to the second. A zone
 * with more than one switch each way a year (or whose rules change in
 * the table's years) is kept for its offsets only.
 */
static void read_zone(icaltimezone *zone, struct zone_rules *rules)
{
	int is_daylight;
	int64_t from = epoch(table.year, 1, 1, 0, 0, 0), last = epoch(table.year + TABLE_YEARS, 1, 1, 0, 0, 0);
	int32_t offset = zone_offset(zone, from, &is_daylight);
	rules->standard = rules->daylight = offset;
	rules->usable = true;
	for (int64_t t = from; t < last; t += 86400) {
		int32_t next = zone_offset(zone, t + 86400, &is_daylight);
		if (next == offset)
			continue;
		int64_t at = find_switch(zone, t, t + 86400);
		int64_t *slot = next > offset ? &rules->start[year_index(at)] : &rules->end[year_index(at)];
		if (*slot != 0)
			rules->usable = false;
		*slot = at;
		rule_of(at, offset, next > offset ? &rules->start_rule : &rules->end_rule);
		rules->standard = next < rules->standard ? next : rules->standard;
		rules->daylight = next > rules->daylight ? next : rules->daylight;
		offset = next;
	}
	for (int i = 0; i < TABLE_YEARS; i++)
		if ((rules->start[i] == 0) != (rules->end[i] == 0))
			rules->usable = false;
}

static int preference(const char *name)
{
	for (size_t i = 0; i < sizeof(preferred) / sizeof(preferred[0]); i++)
		if (strcmp(name, preferred[i]) == 0)
			return (int)i;
	return (int)(sizeof(preferred) / sizeof(preferred[0]));
}

static int compare_preference(const void *a, const void *b)
{
	const struct zone_rules *x = a, *y = b;
	int px = preference(x->name), py = preference(y->name);
	return px != py ? px - py : strcmp(x->name, y->name);
}

static void build_table(void)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	table.year = tm.tm_year + 1900;
	icalarray *zones = icaltimezone_get_builtin_timezones();
	table.zones = calloc(zones->num_elements + 1, sizeof(*table.zones));
	if (table.zones == NULL)
		return;
	for (size_t i = 0; i < zones->num_elements; i++) {
		icaltimezone *zone = icalarray_element_at(zones, i);
		struct zone_rules *rules = &table.zones[table.count];
		/* Reading a zone loads it, and libical then replaces its location: copy the name after. */
		read_zone(zone, rules);
		const char *name = icaltimezone_get_location(zone);
		if (name != NULL && (rules->name = strdup(name)) != NULL)
			table.count++;
	}
	/* UTC itself is not among the built-in zones: an all-zero blob is UTC. */
	table.zones[table.count++] = (struct zone_rules){ .name = "UTC", .usable = true };
	qsort(table.zones, table.count, sizeof(*table.zones), compare_preference);
	if (table.release) {
		icaltimezone_free_builtin_timezones();
		malloc_trim(0);
	}
}

static const struct zone_rules *zones_ready(size_t *count)
{
	pthread_once(&table.once, build_table);
	*count = table.count;
	return table.zones;
}

static bool near(int64_t a, int64_t b)
{
	return (a > b ? a - b : b - a) <= MATCH_SECONDS;
}

static bool matches(const struct pim_timezone *zone, const struct zone_rules *rules)
{
	bool dst = pim_timezone_has_dst(zone);
	if (!rules->usable || rules->standard != standard_offset(zone))
		return false;
	if (!dst)
		return rules->daylight == rules->standard;
	if (rules->daylight != daylight_offset(zone))
		return false;
	for (int i = 0; i < TABLE_YEARS; i++) {
		int64_t start, end;
		if (!switches(zone, table.year + i, &start, &end) || !near(start, rules->start[i]) ||
		    !near(end, rules->end[i]))
			return false;
	}
	return true;
}

const char *pim_timezone_resolve(const struct pim_timezone *zone)
{
	size_t count;
	const struct zone_rules *zones = zones_ready(&count);
	for (size_t i = 0; zones != NULL && i < count; i++)
		if (matches(zone, &zones[i]))
			return zones[i].name;
	return NULL;
}

int pim_timezone_for_zone(const char *olson, struct pim_timezone *out)
{
	size_t count;
	const struct zone_rules *zones = zones_ready(&count);
	for (size_t i = 0; zones != NULL && i < count; i++) {
		const struct zone_rules *rules = &zones[i];
		if (strcmp(rules->name, olson) != 0)
			continue;
		memset(out, 0, sizeof(*out));
		out->bias = -rules->standard / 60;
		if (rules->daylight != rules->standard && rules->usable) {
			out->daylight_bias = -(rules->daylight - rules->standard) / 60;
			out->standard_date = rules->end_rule;
			out->daylight_date = rules->start_rule;
		}
		return 0;
	}
	return -1;
}
