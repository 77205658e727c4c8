/*
 * store_invitations.c: the iTIP messages about meetings a user organizes
 * (see store.h). A row is written in the transaction of the calendar
 * change that makes it, so a change is never stored without its message
 * nor the message sent for a change that was rolled back; easd's outbox
 * (mail/outbox.c) claims the due ones, sends them, and records how it went.
 *
 * Rows stay (the meeting's SEQUENCE and whether attendees heard of it
 * depend on them); a row no longer to be sent keeps neither its message
 * nor its envelope, so each is a few dozen bytes.
 */
#include "store/store_private.h"

#include <string.h>
#include <strings.h>

int store_invitation_next_sequence(struct store_session *session, int64_t user_id, const char *uid, int64_t *sequence_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_INVITATION_SEQUENCE);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
	return store_query_int64(session, stmt, "next invitation sequence", sequence_out);
}

/* Whether every line of some is a line of all (addresses, one per line, case-insensitive). */
static bool lines_within(const char *some, const char *all)
{
	size_t all_len = strlen(all);
	while (*some != '\0') {
		size_t len = strcspn(some, "\n");
		bool found = false;
		for (const char *p = all; !found && p < all + all_len; p += strcspn(p, "\n") + 1)
			found = strcspn(p, "\n") == len && strncasecmp(p, some, len) == 0;
		if (len > 0 && !found)
			return false;
		some += len + (some[len] == '\n');
	}
	return true;
}

/* Drops the meeting's pending messages of method ("": any) whose recipients all are among covered (NULL: any). */
static int drop_pending(struct store_session *session, int64_t user_id, const char *uid, const char *method,
			const char *covered)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_INVITATION_PENDING);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, method, -1, SQLITE_STATIC);
	int64_t ids[64];
	unsigned count = 0;
	int rc;
	while (count < 64 && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
		if (covered == NULL || lines_within((const char *)sqlite3_column_text(stmt, 1), covered))
			ids[count++] = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	int status = STORE_OK;
	for (unsigned i = 0; i < count && status == STORE_OK; i++) {
		stmt = store_statement(session, SQL_INVITATION_DROP);
		sqlite3_bind_int64(stmt, 1, ids[i]);
		status = store_run(session, stmt, "drop pending invitation");
	}
	return status;
}

int store_invitation_drop_pending(struct store_session *session, int64_t user_id, const char *uid)
{
	return drop_pending(session, user_id, uid, "", NULL);
}

/* Whether a device's own message since since reached everyone invitation is for. */
static int sent_by_device(struct store_session *session, const struct store_invitation *invitation, int64_t since,
			  bool *out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_INVITATION_BY_DEVICE);
	sqlite3_bind_int64(stmt, 1, invitation->user_id);
	sqlite3_bind_text(stmt, 2, invitation->uid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, since);
	int rc;
	*out = false;
	while (!*out && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*out = lines_within(invitation->recipients, (const char *)sqlite3_column_text(stmt, 0));
	if (*out)
		rc = SQLITE_DONE;
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? STORE_OK : store_fail(session, "find invitations sent by the device");
}

static int insert(struct store_session *session, const struct store_invitation *invitation,
		  enum store_invitation_state state, int64_t now)
{
	bool keep = state == STORE_INVITATION_PENDING;
	sqlite3_stmt *stmt = store_statement(session, SQL_INVITATION_ADD);
	sqlite3_bind_int64(stmt, 1, invitation->user_id);
	sqlite3_bind_text(stmt, 2, invitation->uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, invitation->method, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, invitation->sequence);
	sqlite3_bind_int64(stmt, 5, state);
	sqlite3_bind_int64(stmt, 6, now);
	sqlite3_bind_int64(stmt, 7, invitation->due);
	sqlite3_bind_text(stmt, 8, invitation->sender != NULL ? invitation->sender : "", -1, SQLITE_STATIC);
	/* A device's own message keeps its recipients: what it covers (sent_by_device). */
	sqlite3_bind_text(stmt, 9, invitation->recipients != NULL && (keep || state == STORE_INVITATION_BY_DEVICE)
					   ? invitation->recipients : "", -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 10, keep && invitation->message.len > 0 ? invitation->message.data : (const void *)"",
			  keep ? (int)invitation->message.len : 0, SQLITE_STATIC);
	return store_run(session, stmt, "schedule invitation");
}

int store_invitation_add(struct store_session *session, const struct store_invitation *invitation, int64_t now,
			 int64_t device_since, bool *by_device_out)
{
	int status = sent_by_device(session, invitation, device_since, by_device_out);
	/* A REQUEST carries the whole meeting: the pending one it follows need not go. A CANCEL to
	   attendees taken off is for them alone, and stays. */
	if (status == STORE_OK && strcmp(invitation->method, "REQUEST") == 0)
		status = drop_pending(session, invitation->user_id, invitation->uid, "REQUEST", NULL);
	if (status == STORE_OK)
		status = insert(session, invitation, *by_device_out ? STORE_INVITATION_BY_DEVICE : STORE_INVITATION_PENDING,
				now);
	return status;
}

int store_invitation_announced(struct store_session *session, int64_t user_id, const char *uid, bool *announced_out)
{
	int64_t n = 0;
	sqlite3_stmt *stmt = store_statement(session, SQL_INVITATION_ANNOUNCED);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
	int status = store_query_int64(session, stmt, "count invitations", &n);
	*announced_out = n > 0;
	return status;
}

int store_invitation_device_sent(struct store_session *session, const struct store_invitation *message, int64_t now)
{
	/* What easd had pending for those same people: the device told them itself. */
	int status = drop_pending(session, message->user_id, message->uid, "", message->recipients);
	return status == STORE_OK ? insert(session, message, STORE_INVITATION_BY_DEVICE, now) : status;
}

int store_invitation_next_due(struct store_session *session, struct arena *arena, int64_t now,
			      struct store_invitation *out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_INVITATION_DUE);
	sqlite3_bind_int64(stmt, 1, now);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*out = (struct store_invitation){
			.id = sqlite3_column_int64(stmt, 0), .user_id = sqlite3_column_int64(stmt, 1),
			.uid = store_column_text(arena, stmt, 2), .method = store_column_text(arena, stmt, 3),
			.sequence = sqlite3_column_int64(stmt, 4), .due = sqlite3_column_int64(stmt, 5),
			.attempts = (unsigned)sqlite3_column_int64(stmt, 6), .sender = store_column_text(arena, stmt, 7),
			.recipients = store_column_text(arena, stmt, 8),
		};
		size_t len = (size_t)sqlite3_column_bytes(stmt, 9);
		uint8_t *data = arena_alloc(arena, len + 1);
		if (len > 0)
			memcpy(data, sqlite3_column_blob(stmt, 9), len);
		out->message = (struct slice){ data, len };
	}
	return store_row_done(session, stmt, rc, "find due invitation");
}

int store_invitation_claim(struct store_session *session, int64_t id, int64_t lease_until)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_INVITATION_CLAIM);
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, lease_until);
	int status = store_run(session, stmt, "claim invitation");
	return status == STORE_OK && sqlite3_changes(session->db) != 1 ? STORE_NOT_FOUND : status;
}

int store_invitation_finish(struct store_session *session, int64_t id, enum store_invitation_state state, int64_t due)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_INVITATION_FINISH);
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, state);
	sqlite3_bind_int64(stmt, 3, due);
	return store_run(session, stmt, "record invitation outcome");
}
