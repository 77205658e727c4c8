/*
 * contacts.c: Contacts (MS-ASCNTC) as an entry of the class table. What
 * differs from the other field classes: birthdays and anniversaries are
 * dates, and a contact always has a name to file it under.
 */
#include "pim/fields.h"

#include <stdio.h>
#include <string.h>

static enum pim_omitted contacts_omitted(enum wbxml_tag tag, unsigned protocol_version)
{
	(void)protocol_version;
	/* MS-ASCMD 2.2.3.24 R878: a Change without Body or Picture leaves them as they are. */
	if (tag == WBXML_AIRSYNCBASE_BODY || tag == WBXML_CONTACTS_PICTURE)
		return PIM_OMITTED_KEPT;
	return PIM_OMITTED_BY_SUPPORTED;
}

/*
 * A birthday is a date (MS-ASCNTC 2.2.2.6: the time "SHOULD be ignored").
 * Clients send midnight in their own zone as UTC, 00:00Z, 08:00Z, 11:59Z
 * or noon (field-notes F-CNT-1); the date meant is the UTC date rounded
 * to the nearest midnight (AOSP's rule: +1 day from 12:00 UTC on), kept
 * as that day's 00:00:00.000Z, which every client reads as the same day.
 * Returns 0, or -1 for a value that is no date.
 */
static int normalise_date(struct arena *arena, struct wbxml_node *item, enum wbxml_tag tag)
{
	const char *text = pim_fields_text(item, tag);
	int64_t t;
	if (pim_fields_find(item, tag) == NULL)
		return 0;
	if (pim_fields_parse_time(text, &t) < 0)
		return -1;
	int64_t day = (t + 12 * 3600) / 86400 - ((t + 12 * 3600) % 86400 < 0);
	pim_fields_set(arena, item, tag, pim_fields_format_time(arena, day * 86400));
	return 0;
}

/* FileAs when the device gave none (field-notes F-CNT-3): "Last, First", else whatever names the contact. */
static void file_as(struct arena *arena, struct wbxml_node *item)
{
	const char *last = pim_fields_text(item, WBXML_CONTACTS_LAST_NAME);
	const char *first = pim_fields_text(item, WBXML_CONTACTS_FIRST_NAME);
	const char *fallbacks[] = { pim_fields_text(item, WBXML_CONTACTS_COMPANY_NAME),
				    pim_fields_text(item, WBXML_CONTACTS_EMAIL1_ADDRESS),
				    pim_fields_text(item, WBXML_CONTACTS_MOBILE_PHONE_NUMBER) };
	char name[512];
	if (pim_fields_text(item, WBXML_CONTACTS_FILE_AS)[0] != '\0')
		return;
	if (last[0] != '\0' || first[0] != '\0') {
		snprintf(name, sizeof(name), "%s%s%s", last, last[0] != '\0' && first[0] != '\0' ? ", " : "", first);
		pim_fields_set(arena, item, WBXML_CONTACTS_FILE_AS, name);
		return;
	}
	for (unsigned i = 0; i < sizeof(fallbacks) / sizeof(fallbacks[0]); i++)
		if (fallbacks[i][0] != '\0') {
			pim_fields_set(arena, item, WBXML_CONTACTS_FILE_AS, fallbacks[i]);
			return;
		}
}

static const char *contacts_check(struct arena *arena, struct wbxml_node *item, const struct pim_author *author)
{
	/* Only the server sets these (MS-ASCNTC 2.2.2.2, 2.2.2.66: RI results). */
	pim_fields_remove(item, WBXML_CONTACTS_ALIAS);
	pim_fields_remove(item, WBXML_CONTACTS_WEIGHTED_RANK);
	/* A picture past the limit is dropped, not the contact: refusing it would make the phone send it for ever. */
	const struct wbxml_node *picture = pim_fields_find(item, WBXML_CONTACTS_PICTURE);
	if (picture != NULL && author->max_picture > 0 && picture->text.len > author->max_picture)
		pim_fields_remove(item, WBXML_CONTACTS_PICTURE);
	if (normalise_date(arena, item, WBXML_CONTACTS_BIRTHDAY) < 0)
		return "birthday_invalid";
	if (normalise_date(arena, item, WBXML_CONTACTS_ANNIVERSARY) < 0)
		return "anniversary_invalid";
	file_as(arena, item);
	return NULL;
}

static int64_t contacts_place(const struct wbxml_node *item, const struct pim_author *author)
{
	(void)item;
	(void)author;
	return 0;
}

static const struct pim_fields_spec contacts_spec = {
	.omitted = contacts_omitted,
	.check = contacts_check,
	.place = contacts_place,
};

const struct pim_class pim_class_contacts = {
	.name = "Contacts",
	.read = pim_fields_read,
	.create = pim_fields_create,
	.merge = pim_fields_merge,
	.write = pim_fields_write,
	.filter_start = pim_fields_no_filter,
	.estimated_bytes = pim_fields_estimated_bytes,
	.fields = &contacts_spec,
};
