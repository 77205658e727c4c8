/*
 * deliver.c: one message into a user's Inbox, committed before returning.
 * LMTP and easctl deliver both come through here, so both publish the
 * change the same way (at commit, see store_set_change_listener), and a
 * meeting message updates the calendar in the same commit.
 */
#include "mail/lmtp.h"
#include "pim/email.h"

int mail_deliver(struct store *store, const char *user, const void *message, size_t len, int64_t now)
{
	struct store_session *session = store_session_acquire(store);
	if (session == NULL)
		return STORE_LIMIT;
	struct arena *arena = arena_new(0);
	struct store_user record;
	int64_t inbox;
	int status = store_user_find(session, arena, user, &record);
	if (status == STORE_OK)
		status = store_folder_find_type(session, record.id, STORE_FOLDER_INBOX, &inbox);
	if (status == STORE_OK)
		status = store_begin(session);
	if (status == STORE_OK) {
		/* Message-ID and Date are indexed at delivery (dedup, filter windows). */
		struct pim_email_summary summary = { .message_id = "" };
		pim_email_summary(arena, message, len, &summary);
		struct store_item_meta meta = { .received = now, .date = summary.date,
						.message_id = summary.message_id != NULL ? summary.message_id : "" };
		status = store_item_add(session, record.id, inbox, message, len, &meta, NULL);
		if (status == STORE_OK)
			status = mail_invitation_apply(session, arena, &record, message, len, now);
		status = status == STORE_OK ? store_commit(session) : status;
	}
	store_session_release(&session);
	arena_free(&arena);
	return status;
}
