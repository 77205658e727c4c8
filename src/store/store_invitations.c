/*
 * store_invitations.c: the iTIP messages about meetings a user organizes
 * (see store.h). A row is written in the transaction of the calendar
 * change that makes it, so a change is never stored without its message
 * nor the message sent for a change that was rolled back; easd's outbox
 * (mail/outbox.c) sends the due ones.
 */
#include "store/store_private.h"

#include <string.h>

/* Rows in a final state are forgotten after this long (only the SEQUENCE needs them, and only while the meeting lives). */
#define INVITATION_KEEP_SECONDS (400 * 86400)

int store_invitation_next_sequence(struct store_session *session, int64_t user_id, const char *uid, int64_t *sequence_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_INVITATION_SEQUENCE);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
	return store_query_int64(session, stmt, "next invitation sequence", sequence_out);
}

static int drop_pending(struct store_session *session, int64_t user_id, const char *uid, const char *method)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_INVITATION_DROP_PENDING);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, method, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, STORE_INVITATION_DROPPED);
	return store_run(session, stmt, "drop pending invitations");
}

int store_invitation_drop_pending(struct store_session *session, int64_t user_id, const char *uid)
{
	return drop_pending(session, user_id, uid, "");
}

static int count(struct store_session *session, enum statement_id id, int64_t user_id, const char *uid,
		 const char *method, int64_t since, int64_t *count_out)
{
	sqlite3_stmt *stmt = store_statement(session, id);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
	if (method != NULL) {
		sqlite3_bind_text(stmt, 3, method, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 4, since);
	}
	return store_query_int64(session, stmt, "count invitations", count_out);
}

static int insert(struct store_session *session, const struct store_invitation *invitation,
		  enum store_invitation_state state, int64_t now)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_INVITATION_ADD);
	sqlite3_bind_int64(stmt, 1, invitation->user_id);
	sqlite3_bind_text(stmt, 2, invitation->uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, invitation->method, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, invitation->sequence);
	sqlite3_bind_int64(stmt, 5, state);
	sqlite3_bind_int64(stmt, 6, now);
	sqlite3_bind_int64(stmt, 7, invitation->due);
	sqlite3_bind_text(stmt, 8, invitation->sender != NULL ? invitation->sender : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 9, invitation->recipients != NULL ? invitation->recipients : "", -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 10, invitation->message.len > 0 ? invitation->message.data : (const void *)"",
			  (int)invitation->message.len, SQLITE_STATIC);
	int status = store_run(session, stmt, "schedule invitation");
	if (status != STORE_OK)
		return status;
	stmt = store_statement(session, SQL_INVITATION_PRUNE);
	sqlite3_bind_int64(stmt, 1, invitation->user_id);
	sqlite3_bind_int64(stmt, 2, now - INVITATION_KEEP_SECONDS);
	return store_run(session, stmt, "forget old invitations");
}

int store_invitation_add(struct store_session *session, const struct store_invitation *invitation, int64_t now,
			 int64_t device_since, bool *by_device_out)
{
	int64_t sent_by_device = 0;
	int status = count(session, SQL_INVITATION_BY_DEVICE, invitation->user_id, invitation->uid, invitation->method,
			   device_since, &sent_by_device);
	/* A REQUEST carries the whole meeting: the pending one it follows need not go. A CANCEL to
	   attendees taken off is for them alone, and stays. */
	if (status == STORE_OK && strcmp(invitation->method, "REQUEST") == 0)
		status = drop_pending(session, invitation->user_id, invitation->uid, invitation->method);
	*by_device_out = sent_by_device > 0;
	if (status == STORE_OK)
		status = insert(session, invitation, *by_device_out ? STORE_INVITATION_BY_DEVICE : STORE_INVITATION_PENDING,
				now);
	return status;
}

int store_invitation_announced(struct store_session *session, int64_t user_id, const char *uid, bool *announced_out)
{
	int64_t n = 0;
	int status = count(session, SQL_INVITATION_EVER_SENT, user_id, uid, NULL, 0, &n);
	*announced_out = n > 0;
	return status;
}

int store_invitation_device_sent(struct store_session *session, int64_t user_id, const char *uid, const char *method,
				 int64_t sequence, int64_t now)
{
	struct store_invitation record = { .user_id = user_id, .uid = uid, .method = method, .sequence = sequence,
					   .due = now };
	/* Whatever easd had pending for the meeting: the device tells its attendees itself. */
	int status = drop_pending(session, user_id, uid, "");
	return status == STORE_OK ? insert(session, &record, STORE_INVITATION_BY_DEVICE, now) : status;
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

int store_invitation_finish(struct store_session *session, int64_t id, enum store_invitation_state state,
			    unsigned attempts, int64_t due)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_INVITATION_FINISH);
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, state);
	sqlite3_bind_int64(stmt, 3, attempts);
	sqlite3_bind_int64(stmt, 4, due);
	return store_run(session, stmt, "record invitation outcome");
}
