/*
 * timezone.h: the TimeZone structure of EAS (MS-ASDTYPE 2.7.6, Windows'
 * TIME_ZONE_INFORMATION: 172 bytes, little-endian, sent as base64) decoded
 * and encoded bit-exactly, and matched to an Olson zone by its rules
 * (bias, daylight saving, transition dates), never by its names and never
 * falling back to GMT: a blob no zone matches resolves to no zone, and
 * whoever keeps it keeps it as sent.
 *
 * Must not: know the store or the Sync engine. Zone data comes from
 * libical's built-in zones (the system's tzdata), read once per process.
 */
#ifndef PIM_TIMEZONE_H
#define PIM_TIMEZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define PIM_TIMEZONE_BYTES 172

/* SYSTEMTIME (MS-DTYP 2.3.13), in its field order. */
struct pim_systemtime {
	uint16_t year, month, day_of_week, day, hour, minute, second, milliseconds;
};

struct pim_timezone {
	int32_t bias;                 /* minutes; UTC = local time + bias */
	uint16_t standard_name[32];   /* UTF-16LE, as sent */
	struct pim_systemtime standard_date; /* the switch to standard time; month 0: no daylight saving */
	int32_t standard_bias;
	uint16_t daylight_name[32];
	struct pim_systemtime daylight_date; /* the switch to daylight time */
	int32_t daylight_bias;
};

/* The structure from its 172 bytes. Returns 0, or -1 for another length. */
int pim_timezone_decode(const uint8_t *bytes, size_t len, struct pim_timezone *out);
void pim_timezone_encode(const struct pim_timezone *zone, uint8_t out[PIM_TIMEZONE_BYTES]);
/* From the base64 text of a TimeZone element. Returns 0, or -1 when it is not 172 bytes of base64. */
int pim_timezone_parse(const char *base64, struct pim_timezone *out);
/* The base64 text, in arena. */
const char *pim_timezone_format(struct arena *arena, const struct pim_timezone *zone);

/*
 * Whether the zone has daylight saving time: both dates name a month
 * (MS-ASDTYPE: month 0 means none; a DaylightBias without dates means
 * nothing, field-notes F-TZ-3) and both rules are valid (month 1-12, a
 * week 1-5 and a weekday 0-6 for a yearly rule, a real date for a dated one).
 */
bool pim_timezone_has_dst(const struct pim_timezone *zone);
/*
 * The same zone with what a device may trust: an invalid daylight rule
 * (week 0, a weekday 7, month 13: field-notes F-TZ-1's swapped fields)
 * dropped (no daylight saving, the standard offset kept), names cut to 31
 * characters. Returns whether anything changed.
 */
bool pim_timezone_sanitise(struct pim_timezone *zone);

/* The offset from UTC (seconds, east positive) at the UTC instant t under the zone's own rules. */
int32_t pim_timezone_offset_at(const struct pim_timezone *zone, int64_t t);

/*
 * The Olson zone whose rules the structure describes this year and next
 * (its offset, its daylight saving and the instants of its switches,
 * within two minutes: the midnight switch written as 23:59:59.999 of the
 * day before matches too), or NULL when none does. Among zones with the
 * same rules the choice is stable (a common zone first). The first call
 * reads every zone (a fraction of a second); later ones only compare.
 */
const char *pim_timezone_resolve(const struct pim_timezone *zone);
/*
 * Frees libical's zone data once easd has read the zones (about 15 MB of
 * a daemon's memory). Only for a program that uses libical for nothing
 * else (easd; not easctl, whose iCalendar times point into those zones).
 * Call before the first resolve.
 */
void pim_timezone_release_libical(void);
/*
 * The structure for an Olson zone's rules in force now (names empty, as
 * Android wants them: field-notes F-TZ-2). Returns 0, or -1 for an
 * unknown zone.
 */
int pim_timezone_for_zone(const char *olson, struct pim_timezone *out);

#endif
