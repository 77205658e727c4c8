/*
 * test_fields.c: the classes kept as their fields, below Sync: birthdays
 * as the dates clients mean (field-notes T48) without drift over round
 * trips (T50), FileAs made when missing (T53), and merges that keep what
 * a Supported list protects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "pim/email.h"
#include "pim/fields.h"

static const struct pim_options options = { .protocol_version = 141 };

/* A contact of one field, made as an Add would make it; returns its stored fields. */
static struct wbxml_node *added(struct arena *arena, enum wbxml_tag tag, const char *value, struct pim_update *update)
{
	struct pim_author author = { .protocol_version = 141, .now = 1700000000, .options = &options };
	struct wbxml_node *fields = pim_fields_new(arena, NULL, WBXML_AIRSYNC_APPLICATION_DATA);
	pim_fields_set(arena, fields, WBXML_CONTACTS_FIRST_NAME, "Ada");
	pim_fields_set(arena, fields, tag, value);
	struct pim_input input = { .data = fields };
	assert_int_equal(pim_class_contacts.create(&pim_class_contacts, arena, &author, &input, update), 0);
	if (update->invalid != NULL)
		return NULL;
	struct pim_source *source = arena_calloc(arena, 1, sizeof(*source));
	pim_source_memory(source, update->content.data, update->content.len);
	struct pim_email_state *state = arena_calloc(arena, 1, sizeof(*state));
	struct pim_item item = { source, state };
	return pim_fields_tree(arena, &item);
}

/* T48: what each client sends for 2 June 1980 is 2 June 1980; noon UTC is the next day (AOSP's rule). */
static void birthdays_are_the_dates_meant(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{ "1980-06-01T22:00:00.000Z", "1980-06-02T00:00:00.000Z" }, /* midnight in Berlin as UTC */
		{ "1980-06-02T04:00:00.000Z", "1980-06-02T00:00:00.000Z" }, /* midnight in New York */
		{ "1980-06-02T00:00:00.000Z", "1980-06-02T00:00:00.000Z" }, /* Samsung */
		{ "1980-06-02T08:00:00.000Z", "1980-06-02T00:00:00.000Z" }, /* AOSP's own */
		{ "1980-06-02T11:59:00.000Z", "1980-06-02T00:00:00.000Z" },
		{ "1980-06-02T12:00:00Z", "1980-06-03T00:00:00.000Z" },     /* Gmail's noon: the rule's one miss */
		{ "1815-12-10T00:00:00.000Z", "1815-12-10T00:00:00.000Z" }, /* before 1970 */
		{ "19800602T000000Z", "1980-06-02T00:00:00.000Z" },
	};
	struct arena *arena = arena_new(0);
	struct pim_update update;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wbxml_node *fields = added(arena, WBXML_CONTACTS_BIRTHDAY, cases[i][0], &update);
		assert_non_null(fields);
		assert_string_equal(pim_fields_text(fields, WBXML_CONTACTS_BIRTHDAY), cases[i][1]);
		/* T50: what easd sends, sent back, is the same day: no drift however often. */
		for (int round = 0; round < 10; round++)
			fields = added(arena, WBXML_CONTACTS_BIRTHDAY, pim_fields_text(fields, WBXML_CONTACTS_BIRTHDAY), &update);
		assert_string_equal(pim_fields_text(fields, WBXML_CONTACTS_BIRTHDAY), cases[i][1]);
	}
	/* T74: not a date: Status 6, with its reason. */
	assert_null(added(arena, WBXML_CONTACTS_BIRTHDAY, "not-a-date", &update));
	assert_string_equal(update.invalid, "birthday_invalid");
	arena_free(&arena);
}

/* T53: a contact made on a phone without FileAs files under "Last, First", or whatever names it. */
static void file_as_is_made_when_missing(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	struct pim_update update;
	assert_string_equal(pim_fields_text(added(arena, WBXML_CONTACTS_LAST_NAME, "Lovelace", &update),
					    WBXML_CONTACTS_FILE_AS), "Lovelace, Ada");
	assert_string_equal(pim_fields_text(added(arena, WBXML_CONTACTS_FILE_AS, "Countess", &update),
					    WBXML_CONTACTS_FILE_AS), "Countess");
	arena_free(&arena);
}

/* T56, T16: a weekly task or event goes out with the FirstDayOfWeek easd expands it with; 14.0 has no such element. */
static void weekly_patterns_go_out_with_their_first_day(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	struct pim_author author = { .protocol_version = 141, .now = 1700000000, .options = &options };
	struct wbxml_node *fields = pim_fields_new(arena, NULL, WBXML_AIRSYNC_APPLICATION_DATA);
	pim_fields_set(arena, fields, WBXML_TASKS_SUBJECT, "Report");
	struct wbxml_node *recurrence = pim_fields_new(arena, fields, WBXML_TASKS_RECURRENCE);
	pim_fields_set(arena, recurrence, WBXML_TASKS_TYPE, "1");
	pim_fields_set(arena, recurrence, WBXML_TASKS_DAY_OF_WEEK, "2");
	pim_fields_set(arena, recurrence, WBXML_TASKS_START, "2026-03-02T00:00:00.000Z");
	struct pim_input input = { .data = fields };
	struct pim_update update;
	assert_int_equal(pim_class_tasks.create(&pim_class_tasks, arena, &author, &input, &update), 0);
	assert_null(update.invalid);
	struct pim_source source;
	struct pim_email_state item_state = { 0 };
	pim_source_memory(&source, update.content.data, update.content.len);
	struct pim_item item = { &source, &item_state };
	for (unsigned version = 140; version <= 141; version++) {
		struct pim_options for_version = { .protocol_version = version };
		struct buf out;
		struct wbxml_writer writer;
		struct wbxml_node *root;
		buf_init(&out, 0);
		wbxml_writer_init(&writer, &out);
		wbxml_writer_start(&writer, WBXML_AIRSYNC_APPLICATION_DATA);
		assert_int_equal(pim_class_tasks.write(&pim_class_tasks, &writer, arena, &item, &for_version, true), 0);
		wbxml_writer_end(&writer);
		assert_int_equal(wbxml_writer_finish(&writer, NULL), 0);
		/* The tree may point into its input: the bytes move to the arena first. */
		uint8_t *bytes = arena_alloc(arena, out.len);
		memcpy(bytes, out.data, out.len);
		assert_int_equal(wbxml_tree_parse(arena, bytes, out.len, NULL, &root, NULL), 0);
		const struct wbxml_node *sent = pim_fields_find(root, WBXML_TASKS_RECURRENCE);
		assert_non_null(sent);
		if (version == 141)
			assert_string_equal(pim_fields_text(sent, WBXML_TASKS_FIRST_DAY_OF_WEEK), "1");
		else
			assert_null(pim_fields_find(sent, WBXML_TASKS_FIRST_DAY_OF_WEEK));
		buf_cleanup(&out);
	}
	arena_free(&arena);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(birthdays_are_the_dates_meant),
		cmocka_unit_test(file_as_is_made_when_missing),
		cmocka_unit_test(weekly_patterns_go_out_with_their_first_day),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
