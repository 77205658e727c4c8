/*
 * calendar_exceptions.c: the occurrences of a series that differ from it
 * (MS-ASCAL 2.2.2.21-2.2.2.23). An exception is named by the original
 * start of its occurrence: ExceptionStartTime up to 14.1, InstanceId in
 * 16.x; easd keeps the former and writes each version its own. Deleting
 * or changing one occurrence only ever changes that occurrence: never the
 * series (seed 001 §1.1, field-notes F-EXC-1).
 */
#include "pim/calendar.h"
#include "pim/pim_private.h"

#include <string.h>

#include "guard/limits.h"

/* An exception whose occurrence has no start that reads (a valid start may be before 1970). */
#define NO_START INT64_MIN

/* The exceptions of a list with their occurrences' starts, each read once. */
struct occurrences {
	const struct wbxml_node **nodes;
	int64_t *starts;
	unsigned count;
};

/*
 * Reads a list's exceptions, at most LIMIT_CALENDAR_EXCEPTIONS + 1 of them
 * (the check refuses an item with more), so that merging two lists costs
 * their product in comparisons of numbers, never of texts.
 */
static void read_occurrences(struct arena *arena, const struct wbxml_node *exceptions, struct occurrences *out)
{
	unsigned max = LIMIT_CALENDAR_EXCEPTIONS + 1;
	out->nodes = arena_calloc(arena, max, sizeof(*out->nodes));
	out->starts = arena_calloc(arena, max, sizeof(*out->starts));
	out->count = 0;
	for (const struct wbxml_node *e = exceptions->first_child; e != NULL && out->count < max; e = e->next) {
		if (e->tag != WBXML_CALENDAR_EXCEPTION)
			continue;
		out->nodes[out->count] = e;
		out->starts[out->count++] = pim_fields_time(e, WBXML_CALENDAR_EXCEPTION_START_TIME, NO_START);
	}
}

/* The last exception of the list for that occurrence (a device that names one twice: the last counts), or -1. */
static int find_occurrence(const struct occurrences *list, int64_t start)
{
	for (unsigned i = list->count; start != NO_START && i-- > 0;)
		if (list->starts[i] == start)
			return (int)i;
	return -1;
}

/*
 * One occurrence's exception as the device sent it; on a received meeting
 * the organizer's fields stay as the stored exception had them (absent
 * ones: inherited from the series).
 */
static void merge_one(struct arena *arena, const struct pim_author *author, const struct wbxml_node *item,
		      struct wbxml_node *into, const struct wbxml_node *stored, const struct wbxml_node *sent)
{
	bool received = calendar_is_received(item, author);
	struct wbxml_node *exception = pim_fields_new(arena, into, WBXML_CALENDAR_EXCEPTION);
	for (const struct wbxml_node *field = sent->first_child; field != NULL; field = field->next)
		if (!received || !calendar_organizer_owns(field->tag))
			pim_fields_adopt(arena, exception, field);
	for (const struct wbxml_node *field = stored != NULL ? stored->first_child : NULL; field != NULL; field = field->next)
		if (received && calendar_organizer_owns(field->tag))
			pim_fields_adopt(arena, exception, field);
	if (pim_fields_find(exception, WBXML_CALENDAR_EXCEPTION_START_TIME) == NULL)
		pim_fields_adopt(arena, exception, pim_fields_find(sent, WBXML_CALENDAR_EXCEPTION_START_TIME));
}

struct wbxml_node *calendar_merge_exceptions(struct arena *arena, const struct pim_author *author,
					     const struct wbxml_node *item, struct wbxml_node *stored,
					     struct wbxml_node *sent)
{
	struct occurrences before, after;
	if (sent->tag != WBXML_CALENDAR_EXCEPTIONS)
		return NULL;
	read_occurrences(arena, stored, &before);
	read_occurrences(arena, sent, &after);
	struct wbxml_node *merged = pim_fields_new(arena, NULL, WBXML_CALENDAR_EXCEPTIONS);
	for (unsigned i = 0; i < before.count; i++)
		if (find_occurrence(&after, before.starts[i]) < 0)
			pim_fields_adopt(arena, merged, before.nodes[i]);
	for (unsigned i = 0; i < after.count; i++) {
		/* Only the last of several for one occurrence, so no stored subtree is taken twice. */
		if (after.starts[i] == NO_START || find_occurrence(&after, after.starts[i]) != (int)i)
			continue;
		int stored_index = find_occurrence(&before, after.starts[i]);
		merge_one(arena, author, item, merged, stored_index >= 0 ? before.nodes[stored_index] : NULL, after.nodes[i]);
	}
	return merged;
}

/* Fields an exception cannot have (MS-ASCAL 2.2.2.21: no TimeZone, no Recurrence; field-notes F-TZ-5). */
static bool exception_field(enum wbxml_tag tag)
{
	return tag != WBXML_CALENDAR_TIMEZONE && tag != WBXML_CALENDAR_RECURRENCE && tag != WBXML_CALENDAR_EXCEPTIONS &&
	       tag != WBXML_CALENDAR_UID && tag != WBXML_CALENDAR_CLIENT_UID;
}

struct wbxml_node *calendar_instance_change(struct arena *arena, struct wbxml_node *sent, const char *instance,
					    bool remove)
{
	int64_t start;
	if (pim_fields_parse_time(instance, &start) < 0)
		return NULL;
	struct wbxml_node *change = pim_fields_new(arena, NULL, WBXML_AIRSYNC_APPLICATION_DATA);
	struct wbxml_node *exception = pim_fields_new(arena, pim_fields_new(arena, change, WBXML_CALENDAR_EXCEPTIONS),
						      WBXML_CALENDAR_EXCEPTION);
	pim_fields_set(arena, exception, WBXML_CALENDAR_EXCEPTION_START_TIME, instance);
	if (remove)
		pim_fields_set(arena, exception, WBXML_CALENDAR_DELETED, "1");
	for (const struct wbxml_node *field = sent != NULL ? sent->first_child : NULL; field != NULL; field = field->next)
		if (exception_field(field->tag) && field->tag != WBXML_CALENDAR_EXCEPTION_START_TIME)
			pim_fields_adopt(arena, exception, field);
	return change;
}

const char *calendar_exceptions_normalise(struct arena *arena, struct wbxml_node *item,
					  const struct pim_recurrence *pattern, const struct pim_timezone *zone)
{
	struct wbxml_node *exceptions = pim_fields_find(item, WBXML_CALENDAR_EXCEPTIONS);
	unsigned count = 0;
	if (exceptions == NULL)
		return NULL;
	for (const struct wbxml_node *e = exceptions->first_child; e != NULL; e = e->next)
		if (++count > LIMIT_CALENDAR_EXCEPTIONS)
			return "too_many_exceptions";
	int64_t first = pim_fields_time(item, WBXML_CALENDAR_START_TIME, 0);
	int64_t last = pattern != NULL ? pim_recurrence_last(pattern, zone, first) : INT64_MAX;
	const char *all_day = pim_fields_text(item, WBXML_CALENDAR_ALL_DAY_EVENT);
	struct wbxml_node *kept = pim_fields_new(arena, NULL, WBXML_CALENDAR_EXCEPTIONS);
	for (struct wbxml_node *e = exceptions->first_child; e != NULL; e = e->next) {
		int64_t at = pim_fields_time(e, WBXML_CALENDAR_EXCEPTION_START_TIME, NO_START);
		if (at != NO_START && (at < first - 86400 || (last != INT64_MAX && at > last + 86400)))
			continue;
		if (pim_fields_find(e, WBXML_CALENDAR_ALL_DAY_EVENT) != NULL && all_day[0] != '\0')
			pim_fields_set(arena, e, WBXML_CALENDAR_ALL_DAY_EVENT, all_day);
		pim_fields_adopt(arena, kept, e);
	}
	pim_fields_remove(item, WBXML_CALENDAR_EXCEPTIONS);
	if (kept->first_child != NULL)
		pim_fields_adopt(arena, item, kept);
	return NULL;
}

void calendar_exceptions_translate(struct wbxml_node *sent)
{
	struct wbxml_node *exceptions = pim_fields_find(sent, WBXML_CALENDAR_EXCEPTIONS);
	for (struct wbxml_node *e = exceptions != NULL ? exceptions->first_child : NULL; e != NULL; e = e->next) {
		struct wbxml_node *instance = pim_fields_find(e, WBXML_AIRSYNCBASE_INSTANCE_ID);
		if (instance != NULL && pim_fields_find(e, WBXML_CALENDAR_EXCEPTION_START_TIME) == NULL)
			instance->tag = WBXML_CALENDAR_EXCEPTION_START_TIME;
	}
}

void calendar_exceptions_write(struct wbxml_writer *writer, unsigned protocol_version, const struct wbxml_node *exceptions)
{
	uint8_t version_bit = pim_version_bit(protocol_version);
	wbxml_writer_start(writer, WBXML_CALENDAR_EXCEPTIONS);
	for (const struct wbxml_node *e = exceptions->first_child; e != NULL; e = e->next) {
		wbxml_writer_start(writer, e->tag);
		for (const struct wbxml_node *field = e->first_child; field != NULL; field = field->next) {
			struct wbxml_node instance = *field;
			/* The same value under 16.x's name, opaque if it came so (a string cannot hold a NUL). */
			if (field->tag == WBXML_CALENDAR_EXCEPTION_START_TIME)
				instance.tag = WBXML_AIRSYNCBASE_INSTANCE_ID;
			pim_fields_write_node(writer, version_bit, &instance);
		}
		wbxml_writer_end(writer);
	}
	wbxml_writer_end(writer);
}
