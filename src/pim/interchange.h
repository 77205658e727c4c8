/*
 * interchange.h: what the iCalendar (ical.c) and vCard (vcard.c) files
 * share: an item is the same field tree the classes keep (fields.h), read
 * from a file's properties or written as them. Every file easd writes also
 * carries each item's fields whole (X-EAS-DATA, base64 of the stored
 * form), which an import takes as they are: a round trip is exact, and
 * fields the format has no property for are not lost.
 *
 * Must not: be included from outside src/pim/.
 */
#ifndef PIM_INTERCHANGE_H
#define PIM_INTERCHANGE_H

#include "pim/fields.h"

#include <libical/ical.h>

#define PIM_EXTRA_PROPERTY "X-EAS-DATA"

/* A field tree from X-EAS-DATA's base64, or NULL when it does not decode. */
struct wbxml_node *pim_interchange_decode(struct arena *arena, const char *base64);
/* The item's stored form as X-EAS-DATA's base64, in arena. */
const char *pim_interchange_encode(struct arena *arena, const struct wbxml_node *fields);
/* A new top-level text field of the item (nothing for an empty value). */
void pim_interchange_set(struct arena *arena, struct wbxml_node *item, enum wbxml_tag tag, const char *value);
/* A body of plain text. */
void pim_interchange_body(struct arena *arena, struct wbxml_node *item, const char *text);
/* The plain text of the item's body ("" without one; HTML as it is). */
const char *pim_interchange_body_text(const struct wbxml_node *item);

/* ---- ical.c's reading of events, shared with itip.c ---- */

/* A time of the file as UTC seconds (a date: its midnight UTC), its zone resolved by libical. */
int64_t pim_ical_seconds(struct icaltimetype t);
/* The fields of a VEVENT: times and zone, all-day, subject, location, body, recurrence, categories, UID. */
struct wbxml_node *pim_ical_event_fields(struct arena *arena, icalcomponent *event);
/* A VEVENT's properties of the fields: summary, times, location, recurrence, deleted occurrences (EXDATE). */
void pim_ical_event_properties(icalcomponent *event, const struct wbxml_node *fields);
/* An occurrence of series (its original start) deleted (modified NULL) or changed as modified says. */
void pim_ical_add_exception(struct arena *arena, struct wbxml_node *series, int64_t original, icalcomponent *modified);

int pim_vcard_import(struct arena *arena, const char *text, size_t len, pim_import_fn *fn, void *context,
		     char *error, size_t error_len);
void pim_vcard_export(struct buf *out, struct arena *arena, const struct wbxml_node *fields);
int pim_ical_import(struct arena *arena, const char *text, size_t len, pim_import_fn *fn, void *context,
		    char *error, size_t error_len);
void pim_ical_export(struct buf *out, struct arena *arena, const struct pim_class *class,
		     const struct wbxml_node *fields, int64_t modified);

#endif
