/*
 * calendar.h: what the calendar class's files share: calendar.c (the
 * class: times, all-day events, locations), calendar_exceptions.c (one
 * occurrence changed or deleted), calendar_meetings.c (organizer and
 * attendees).
 *
 * Must not: be included from outside src/pim/.
 */
#ifndef PIM_CALENDAR_H
#define PIM_CALENDAR_H

#include "pim/fields.h"
#include "pim/recurrence.h"
#include "pim/timezone.h"

/* ---- calendar_exceptions.c ---- */

/*
 * Exceptions merged one occurrence at a time (MS-ASCMD 2.2.3.24 R877: an
 * Exception a Change leaves out stays as it is), by the original start of
 * the occurrence; item is the stored event (a received meeting's
 * occurrences keep the organizer's fields).
 */
struct wbxml_node *calendar_merge_exceptions(struct arena *arena, const struct pim_author *author,
					     const struct wbxml_node *item, struct wbxml_node *stored,
					     struct wbxml_node *sent);
/* A 16.x Change or Delete of one occurrence (InstanceId) as a Change of the series' Exceptions. */
struct wbxml_node *calendar_instance_change(struct arena *arena, struct wbxml_node *sent, const char *instance,
					    bool remove);
/*
 * After a Change of the series: exceptions of occurrences the series no
 * longer has (its Until moved earlier, its count cut: field-notes T26) are
 * dropped, a day's margin either side for zones; an exception's
 * AllDayEvent follows the series' (MS-ASCAL R2009, T31). Returns NULL, or
 * why the item is refused (more than LIMIT_CALENDAR_EXCEPTIONS).
 */
const char *calendar_exceptions_normalise(struct arena *arena, struct wbxml_node *item,
					  const struct pim_recurrence *pattern, const struct pim_timezone *zone);
/* 16.x names an exception's occurrence by InstanceId, earlier versions by ExceptionStartTime: kept as the latter. */
void calendar_exceptions_translate(struct wbxml_node *sent);
/* Writes the Exceptions for a 16.x device, each occurrence named by InstanceId. */
void calendar_exceptions_write(struct wbxml_writer *writer, unsigned protocol_version, const struct wbxml_node *exceptions);

/* ---- calendar_meetings.c ---- */

/* Whether an address is the user's: the user's name, or it before the @ of an address. */
bool calendar_is_user(const char *address, const char *user);
/* Whether the event is a meeting the user was invited to (MeetingStatus "received", or another organizer). */
bool calendar_is_received(const struct wbxml_node *item, const struct pim_author *author);
/* The fields of a received meeting that are the organizer's: a device's Change leaves them as they are. */
bool calendar_organizer_owns(enum wbxml_tag tag);
/*
 * A meeting the user organizes: the organizer is the user when the device
 * left it out (iOS, Android: field-notes F-MTG-1), and is not listed
 * among the attendees (F-MTG-2).
 */
void calendar_meeting_normalise(struct arena *arena, struct wbxml_node *item, const struct pim_author *author);

#endif
