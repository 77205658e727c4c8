/*
 * calendar_meetings.c: who organizes a meeting. MeetingStatus is a bit
 * field (MS-ASCAL 2.2.2.29: 1 meeting, 2 received, 4 cancelled). On a
 * meeting the user was invited to, the organizer's fields belong to the
 * organizer: an attendee's device may change only what is the user's own
 * (reminder, busy status, categories), and never becomes the organizer by
 * sending a MeetingStatus or leaving the organizer out (seed 001 §1.2,
 * field-notes F-MTG-1).
 */
#include "pim/calendar.h"

#include <strings.h>
#include <string.h>

#define MEETING 1u
#define RECEIVED 2u

static unsigned meeting_status(const struct wbxml_node *item)
{
	unsigned status = 0;
	return pim_fields_number(item, WBXML_CALENDAR_MEETING_STATUS, 15, &status) == 0 ? status : 0;
}

bool calendar_is_user(const char *address, const char *user)
{
	if (address[0] == '\0' || user == NULL || user[0] == '\0')
		return false;
	size_t len = strlen(user);
	if (strcasecmp(address, user) == 0)
		return true;
	return strchr(user, '@') == NULL && strncasecmp(address, user, len) == 0 && address[len] == '@';
}

bool calendar_is_received(const struct wbxml_node *item, const struct pim_author *author)
{
	const char *organizer = pim_fields_text(item, WBXML_CALENDAR_ORGANIZER_EMAIL);
	if ((meeting_status(item) & (MEETING | RECEIVED)) == (MEETING | RECEIVED))
		return true;
	return organizer[0] != '\0' && !calendar_is_user(organizer, author->user);
}

bool calendar_organizer_owns(enum wbxml_tag tag)
{
	switch (tag) {
	case WBXML_CALENDAR_ORGANIZER_NAME:
	case WBXML_CALENDAR_ORGANIZER_EMAIL:
	case WBXML_CALENDAR_ATTENDEES:
	case WBXML_CALENDAR_MEETING_STATUS:
	case WBXML_CALENDAR_RECURRENCE:
	case WBXML_CALENDAR_START_TIME:
	case WBXML_CALENDAR_END_TIME:
	case WBXML_CALENDAR_ALL_DAY_EVENT:
	case WBXML_CALENDAR_TIMEZONE:
	case WBXML_CALENDAR_SUBJECT:
	case WBXML_CALENDAR_LOCATION:
	case WBXML_AIRSYNCBASE_LOCATION:
	case WBXML_AIRSYNCBASE_BODY:
	case WBXML_CALENDAR_UID:
	case WBXML_CALENDAR_DT_STAMP:
	case WBXML_CALENDAR_RESPONSE_REQUESTED:
	case WBXML_CALENDAR_DISALLOW_NEW_TIME_PROPOSAL:
	case WBXML_CALENDAR_ONLINE_MEETING_CONF_LINK:
	case WBXML_CALENDAR_ONLINE_MEETING_EXTERNAL_LINK:
		return true;
	default:
		return false;
	}
}

/* Drops the attendees whose Email is the organizer's. */
static void drop_organizer(struct wbxml_node *attendees, const char *organizer)
{
	struct wbxml_node *previous = NULL;
	for (struct wbxml_node *a = attendees->first_child; a != NULL; a = a->next) {
		if (strcasecmp(pim_fields_text(a, WBXML_CALENDAR_EMAIL), organizer) != 0) {
			previous = a;
			continue;
		}
		if (previous != NULL)
			previous->next = a->next;
		else
			attendees->first_child = a->next;
		if (attendees->last_child == a)
			attendees->last_child = previous;
	}
}

void calendar_meeting_normalise(struct arena *arena, struct wbxml_node *item, const struct pim_author *author)
{
	unsigned status = meeting_status(item);
	struct wbxml_node *attendees = pim_fields_find(item, WBXML_CALENDAR_ATTENDEES);
	if ((status & MEETING) == 0 || (status & RECEIVED) != 0)
		return;
	if (pim_fields_text(item, WBXML_CALENDAR_ORGANIZER_EMAIL)[0] == '\0' && author->user != NULL)
		pim_fields_set(arena, item, WBXML_CALENDAR_ORGANIZER_EMAIL, author->user);
	if (attendees != NULL)
		drop_organizer(attendees, pim_fields_text(item, WBXML_CALENDAR_ORGANIZER_EMAIL));
	if (attendees != NULL && attendees->first_child == NULL)
		pim_fields_remove(item, WBXML_CALENDAR_ATTENDEES);
}
