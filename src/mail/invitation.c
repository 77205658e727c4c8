/*
 * invitation.c: a meeting message delivered to a user (iMIP, RFC 6047)
 * updates their calendar in the same transaction that puts it in their
 * Inbox, so a device sees both or neither. Updates apply in the order the
 * organizer made them (SEQUENCE, then DTSTAMP: RFC 5546 2.1.5), whatever
 * order they arrive in: one older than what was applied to the series or
 * to that occurrence changes nothing. The calendar's rules are pim/'s
 * (itip.h); this file finds the event and records the versions.
 */
#include "mail/lmtp.h"
#include "pim/itip.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A text from outside for a log line: control characters (a UID may hold newlines) become '?', at most 200 bytes. */
static const char *printable(struct arena *arena, const char *text)
{
	size_t len = strnlen(text, 200);
	char *copy = arena_strndup(arena, text, len);
	for (char *c = copy; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return copy;
}

static bool newer(const struct store_meeting_version *a, const struct store_meeting_version *b)
{
	return a->sequence > b->sequence || (a->sequence == b->sequence && a->dtstamp > b->dtstamp);
}

/* Whether an update of this version is older than (or the same as) one applied to the series or the occurrence. */
static int is_stale(struct store_session *session, int64_t user_id, const struct pim_itip *itip, bool *stale_out)
{
	struct store_meeting_version incoming = { itip->sequence, itip->dtstamp }, applied;
	int64_t ids[2] = { 0, itip->recurrence_id };
	*stale_out = false;
	for (int i = 0; i < (itip->recurrence_id != 0 ? 2 : 1); i++) {
		int status = store_meeting_version_get(session, user_id, itip->uid, ids[i], &applied);
		if (status == STORE_NOT_FOUND)
			continue;
		if (status != STORE_OK)
			return status;
		if (!newer(&incoming, &applied))
			*stale_out = true;
	}
	return STORE_OK;
}

/* The user's stored event of the UID, if any: its id and content. */
static int find_event(struct store_session *session, struct arena *arena, int64_t calendar, const char *uid,
		      int64_t *item_out, struct slice *content_out)
{
	uint64_t size;
	*item_out = 0;
	*content_out = SLICE_EMPTY;
	int status = store_item_find_id(session, calendar, uid, item_out);
	if (status == STORE_OK)
		status = store_item_content_size(session, calendar, *item_out, &size);
	if (status != STORE_OK)
		return status;
	uint8_t *data = arena_alloc(arena, size + 1);
	status = store_item_content_read(session, calendar, *item_out, 0, data, size);
	*content_out = (struct slice){ data, size };
	return status;
}

static int store_event(struct store_session *session, int64_t user_id, int64_t calendar, int64_t item,
		       const struct pim_update *update)
{
	uint64_t modseq;
	if (item != 0)
		return store_item_set_content(session, user_id, calendar, item, update->content.data, update->content.len,
					      update->received, &modseq);
	struct store_item_meta meta = { .received = update->received, .date = update->date,
					.message_id = update->message_id, .categories = update->categories };
	return store_item_add(session, user_id, calendar, update->content.data, update->content.len, &meta, NULL);
}

static int apply(struct store_session *session, struct arena *arena, const struct store_user *user,
		 const struct pim_itip *itip, int64_t now)
{
	int64_t calendar, item;
	struct slice stored;
	bool stale;
	int status = store_folder_find_type(session, user->id, STORE_FOLDER_CALENDAR, &calendar);
	if (status == STORE_OK)
		status = is_stale(session, user->id, itip, &stale);
	if (status != STORE_OK || stale) {
		if (status == STORE_OK)
			fprintf(stderr, "easd: meeting: user=%s uid=%s sequence=%lld: not newer than what was applied, ignored\n",
				user->name, printable(arena, itip->uid), (long long)itip->sequence);
		return status;
	}
	status = find_event(session, arena, calendar, itip->uid, &item, &stored);
	if (status != STORE_OK && status != STORE_NOT_FOUND)
		return status;
	struct pim_update update;
	int made = pim_itip_event(arena, itip, user->name, now, item != 0 ? stored.data : NULL, stored.len, &update);
	if (made == 2) {
		fprintf(stderr, "easd: meeting: user=%s uid=%s: from %s, not the meeting's organizer, ignored\n",
			user->name, printable(arena, itip->uid), printable(arena, itip->organizer));
		return STORE_OK;
	}
	if (made < 0) {
		/* The message is delivered all the same: the user reads it, the calendar stays as it was. */
		fprintf(stderr, "easd: meeting: user=%s uid=%s: the calendar refuses it (%s)\n", user->name,
			printable(arena, itip->uid),
			update.invalid != NULL ? update.invalid : "cannot be stored");
		return STORE_OK;
	}
	status = made == 0 ? store_event(session, user->id, calendar, item, &update) : STORE_OK;
	struct store_meeting_version version = { itip->sequence, itip->dtstamp };
	return status == STORE_OK ? store_meeting_version_put(session, user->id, itip->uid, itip->recurrence_id, &version)
				  : status;
}

int mail_invitation_apply(struct store_session *session, struct arena *arena, const struct store_user *user,
			  const void *message, size_t len, int64_t now)
{
	struct pim_itip itip;
	pim_itip_read(arena, message, len, user->name, &itip);
	/* The organizer's own copy (a user who invited others): their calendar is their devices'. */
	if ((itip.method != PIM_ITIP_REQUEST && itip.method != PIM_ITIP_CANCEL) || itip.organized_by_user)
		return STORE_OK;
	return apply(session, arena, user, &itip, now);
}
