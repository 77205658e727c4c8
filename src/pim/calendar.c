/*
 * calendar.c: Calendar (MS-ASCAL) as an entry of the class table. An event
 * is kept as sent; its place in filter windows is when it ends (a series:
 * when its last occurrence can end, never for one without an end), so a
 * window "from two weeks ago" holds what ends after then. 14.x and 16.x
 * name the location differently (calendar:Location, airsyncbase:Location):
 * each version gets the other's when it has none of its own.
 */
#include "pim/fields.h"

#include <stdint.h>
#include <string.h>

/* The place of an event that never ends: in every window. */
#define FOREVER INT64_MAX

static enum pim_omitted calendar_omitted(enum wbxml_tag tag, unsigned protocol_version)
{
	/* R878 (Body), R876 (Exceptions); 16.x: "All Calendar class properties are ghosted by default" (R7309). */
	if (tag == WBXML_AIRSYNCBASE_BODY || tag == WBXML_CALENDAR_EXCEPTIONS || protocol_version >= 160)
		return PIM_OMITTED_KEPT;
	return PIM_OMITTED_BY_SUPPORTED;
}

static const char *calendar_check(struct arena *arena, struct wbxml_node *item, const struct pim_author *author)
{
	(void)arena;
	(void)author;
	static const enum wbxml_tag times[] = { WBXML_CALENDAR_START_TIME, WBXML_CALENDAR_END_TIME, WBXML_CALENDAR_DT_STAMP };
	int64_t t;
	for (unsigned i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		if (pim_fields_find(item, times[i]) != NULL && pim_fields_parse_time(pim_fields_text(item, times[i]), &t) < 0)
			return "time_invalid";
	return NULL;
}

static int64_t calendar_place(const struct wbxml_node *item, const struct pim_author *author)
{
	(void)author;
	const struct wbxml_node *recurrence = pim_fields_find(item, WBXML_CALENDAR_RECURRENCE);
	int64_t end = pim_fields_time(item, WBXML_CALENDAR_END_TIME, pim_fields_time(item, WBXML_CALENDAR_START_TIME, 0));
	if (recurrence == NULL)
		return end;
	/* A series with Until ends then (plus the event's length at most a day or so: kept simple, the
	   window's edge may keep a finished series a little longer); Occurrences is expanded later. */
	int64_t until = pim_fields_time(recurrence, WBXML_CALENDAR_UNTIL, FOREVER);
	return until == FOREVER || until < end ? FOREVER : until + 86400;
}

/* MS-ASCMD 2.2.3.68.2: calendar windows are 2 weeks, 1, 3 and 6 months back. */
static int64_t calendar_filter_start(uint8_t filter_type, int64_t now)
{
	static const int64_t days[] = { [4] = 14, [5] = 31, [6] = 92, [7] = 183 };
	if (filter_type >= sizeof(days) / sizeof(days[0]) || days[filter_type] == 0)
		return 0;
	int64_t start = now - days[filter_type] * 86400;
	return start > 0 ? start : 0;
}

/*
 * The location is kept in 16.x's form, airsyncbase:Location: a 14.x
 * calendar:Location becomes its DisplayName (empty, it clears the location).
 */
static void calendar_translate(struct arena *arena, struct wbxml_node *sent)
{
	struct wbxml_node *old = pim_fields_find(sent, WBXML_CALENDAR_LOCATION);
	if (old == NULL)
		return;
	pim_fields_remove(sent, WBXML_CALENDAR_LOCATION);
	pim_fields_remove(sent, WBXML_AIRSYNCBASE_LOCATION);
	struct wbxml_node *location =
		wbxml_tree_add(arena, sent, WBXML_AIRSYNCBASE_LOCATION, WBXML_CONTENT_NONE, NULL, 0);
	if (old->text.len > 0)
		wbxml_tree_add(arena, location, WBXML_AIRSYNCBASE_DISPLAY_NAME, WBXML_CONTENT_STRING, old->text.data,
			       old->text.len);
}

/* A location named as stored, sent back by a 14.x device (a name only), is no change to its address or place. */
static bool calendar_same(const struct wbxml_node *stored, const struct wbxml_node *sent)
{
	if (sent->tag != WBXML_AIRSYNCBASE_LOCATION || sent->first_child == NULL || sent->first_child->next != NULL)
		return false;
	return strcmp(pim_fields_text(stored, WBXML_AIRSYNCBASE_DISPLAY_NAME),
		      pim_fields_text(sent, WBXML_AIRSYNCBASE_DISPLAY_NAME)) == 0;
}

/* 14.x devices get the location's name as calendar:Location. */
static void calendar_write_extra(struct wbxml_writer *writer, struct arena *arena, const struct wbxml_node *item,
				 const struct pim_item *stored, const struct pim_options *options)
{
	(void)arena;
	(void)stored;
	const struct wbxml_node *location = pim_fields_find(item, WBXML_AIRSYNCBASE_LOCATION);
	if (options->protocol_version < 160 && location != NULL) {
		const char *display = pim_fields_text(location, WBXML_AIRSYNCBASE_DISPLAY_NAME);
		if (display[0] != '\0')
			wbxml_writer_element_cstr(writer, WBXML_CALENDAR_LOCATION, display);
	}
}

static const struct pim_fields_spec calendar_spec = {
	.omitted = calendar_omitted,
	.check = calendar_check,
	.place = calendar_place,
	.translate = calendar_translate,
	.same = calendar_same,
	.write_extra = calendar_write_extra,
};

const struct pim_class pim_class_calendar = {
	.name = "Calendar",
	.read = pim_fields_read,
	.create = pim_fields_create,
	.merge = pim_fields_merge,
	.write = pim_fields_write,
	.filter_start = calendar_filter_start,
	.estimated_bytes = pim_fields_estimated_bytes,
	.place_moves = true,
	.fields = &calendar_spec,
};
