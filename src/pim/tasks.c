/*
 * tasks.c: Tasks (MS-ASTASK) as an entry of the class table: the values
 * the spec refuses get Status 6, a completed task has its completion date,
 * and the incomplete-tasks filter (FilterType 8) places a task by whether
 * it is done.
 */
#include "pim/fields.h"
#include "pim/recurrence.h"

#include <string.h>

/* FilterType 8: incomplete tasks only (MS-ASCMD 2.2.3.68.2). */
#define FILTER_INCOMPLETE 8

static enum pim_omitted tasks_omitted(enum wbxml_tag tag, unsigned protocol_version)
{
	(void)protocol_version;
	/* R878 (Body); MS-ASTASK 3.2.5.3.1 R369, 3.2.5.3.2 R370 (Importance, ReminderSet). */
	if (tag == WBXML_AIRSYNCBASE_BODY || tag == WBXML_TASKS_IMPORTANCE || tag == WBXML_TASKS_REMINDER_SET)
		return PIM_OMITTED_KEPT;
	return PIM_OMITTED_BY_SUPPORTED;
}

/* The pattern's rules (FirstDayOfWeek 0 to 6 among them, R171), and Start, which tasks require (R37011). */
static const char *check_recurrence(const struct wbxml_node *item)
{
	const struct wbxml_node *recurrence = pim_fields_find(item, WBXML_TASKS_RECURRENCE);
	struct pim_recurrence pattern;
	if (recurrence == NULL)
		return NULL;
	if (pim_fields_find(recurrence, WBXML_TASKS_START) == NULL)
		return "recurrence_without_start";
	return pim_recurrence_read(recurrence, &pim_recurrence_tasks_tags, &pattern);
}

static const char *tasks_check(struct arena *arena, struct wbxml_node *item, const struct pim_author *author)
{
	unsigned complete = 0, reminder_set;
	/* Complete is required; a client that leaves it out means an open task. */
	int status = pim_fields_number(item, WBXML_TASKS_COMPLETE, 1, &complete);
	if (status == -2)
		return "complete_invalid";
	if (status == -1)
		pim_fields_set(arena, item, WBXML_TASKS_COMPLETE, "0");
	/* MS-ASTASK 2.2.2.23: ReminderSet is 0 or 1, anything else Status 6 (R252). */
	if (pim_fields_number(item, WBXML_TASKS_REMINDER_SET, 1, &reminder_set) == -2)
		return "reminder_set_invalid";
	const char *recurrence = check_recurrence(item);
	if (recurrence != NULL)
		return recurrence;
	/* DateCompleted MUST come with Complete 1 (R124): when it is done, if the client did not say. */
	if (complete == 1 && pim_fields_text(item, WBXML_TASKS_DATE_COMPLETED)[0] == '\0')
		pim_fields_set(arena, item, WBXML_TASKS_DATE_COMPLETED, pim_fields_format_time(arena, author->now));
	if (complete == 0)
		pim_fields_remove(item, WBXML_TASKS_DATE_COMPLETED);
	return NULL;
}

/* An open task is at 1, a done one at 0: the incomplete filter starts at 1. */
static int64_t tasks_place(const struct wbxml_node *item, const struct pim_author *author)
{
	(void)author;
	return strcmp(pim_fields_text(item, WBXML_TASKS_COMPLETE), "1") == 0 ? 0 : 1;
}

static int64_t tasks_filter_start(uint8_t filter_type, int64_t now)
{
	(void)now;
	return filter_type == FILTER_INCOMPLETE ? 1 : 0;
}

static bool tasks_write_field(struct wbxml_writer *writer, struct arena *arena, const struct wbxml_node *item,
			      const struct wbxml_node *field, const struct pim_options *options)
{
	(void)arena;
	(void)item;
	return field->tag == WBXML_TASKS_RECURRENCE &&
	       pim_recurrence_write(writer, field, &pim_recurrence_tasks_tags, options->protocol_version);
}

static const struct pim_fields_spec tasks_spec = {
	.omitted = tasks_omitted,
	.check = tasks_check,
	.place = tasks_place,
	.write_field = tasks_write_field,
};

const struct pim_class pim_class_tasks = {
	.name = "Tasks",
	.read = pim_fields_read,
	.create = pim_fields_create,
	.merge = pim_fields_merge,
	.write = pim_fields_write,
	.filter_start = tasks_filter_start,
	.estimated_bytes = pim_fields_estimated_bytes,
	.place_moves = true,
	.fields = &tasks_spec,
};
