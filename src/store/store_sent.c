/*
 * store_sent.c: the messages devices submitted (see store.h): one row per
 * send key, so that a retried SendMail whose answer was lost sends nothing
 * more, and the rows of the last hour count the user's sending rate; and
 * the meeting updates applied (which iTIP message is newer).
 */
#include "store/store_private.h"

struct claim {
	int64_t user_id;
	const char *key;
	int64_t now, stale_seconds, keep_seconds;
	enum store_send_claim result;
};

static int find(struct store_session *session, const struct claim *claim, int64_t *state_out, int64_t *started_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_SENT_FIND);
	sqlite3_bind_int64(stmt, 1, claim->user_id);
	sqlite3_bind_text(stmt, 2, claim->key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*state_out = sqlite3_column_int64(stmt, 0);
		*started_out = sqlite3_column_int64(stmt, 1);
	}
	return store_row_done(session, stmt, rc, "find sent message");
}

static int claim_in_transaction(struct store_session *session, void *context)
{
	struct claim *claim = context;
	sqlite3_stmt *stmt = store_statement(session, SQL_SENT_PRUNE);
	sqlite3_bind_int64(stmt, 1, claim->user_id);
	sqlite3_bind_int64(stmt, 2, claim->now - claim->keep_seconds);
	int status = store_run(session, stmt, "forget sent messages");
	int64_t state = 0, started = 0;
	if (status == STORE_OK)
		status = find(session, claim, &state, &started);
	if (status == STORE_OK && state == 1) {
		claim->result = STORE_SEND_ALREADY_SENT;
		return STORE_OK;
	}
	if (status == STORE_OK && started > claim->now - claim->stale_seconds) {
		claim->result = STORE_SEND_IN_PROGRESS;
		return STORE_OK;
	}
	if (status != STORE_OK && status != STORE_NOT_FOUND)
		return status;
	stmt = store_statement(session, SQL_SENT_CLAIM);
	sqlite3_bind_int64(stmt, 1, claim->user_id);
	sqlite3_bind_text(stmt, 2, claim->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, claim->now);
	claim->result = STORE_SEND_GO;
	return store_run(session, stmt, "claim sent message");
}

int store_send_claim(struct store_session *session, int64_t user_id, const char *key, int64_t now,
		     int64_t stale_seconds, int64_t keep_seconds, enum store_send_claim *claim_out)
{
	struct claim claim = { user_id, key, now, stale_seconds, keep_seconds, STORE_SEND_GO };
	int status = store_in_transaction(session, claim_in_transaction, &claim);
	*claim_out = claim.result;
	return status;
}

static int update(struct store_session *session, enum statement_id id, int64_t user_id, const char *key,
		  const char *what)
{
	sqlite3_stmt *stmt = store_statement(session, id);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, key, -1, SQLITE_STATIC);
	return store_run(session, stmt, what);
}

int store_send_done(struct store_session *session, int64_t user_id, const char *key)
{
	return update(session, SQL_SENT_DONE, user_id, key, "mark message sent");
}

int store_send_abandon(struct store_session *session, int64_t user_id, const char *key)
{
	return update(session, SQL_SENT_DROP, user_id, key, "abandon sent message");
}

int store_send_count(struct store_session *session, int64_t user_id, int64_t since, unsigned *count_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_SENT_COUNT);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, since);
	int64_t count = 0;
	int status = store_query_int64(session, stmt, "count sent messages", &count);
	*count_out = (unsigned)count;
	return status;
}

int store_meeting_version_get(struct store_session *session, int64_t user_id, const char *uid, int64_t recurrence_id,
			      struct store_meeting_version *version_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_MEETING_GET);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, recurrence_id);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		version_out->sequence = sqlite3_column_int64(stmt, 0);
		version_out->dtstamp = sqlite3_column_int64(stmt, 1);
	}
	return store_row_done(session, stmt, rc, "find meeting update");
}

int store_meeting_version_put(struct store_session *session, int64_t user_id, const char *uid, int64_t recurrence_id,
			      const struct store_meeting_version *version)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_MEETING_PUT);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, recurrence_id);
	sqlite3_bind_int64(stmt, 4, version->sequence);
	sqlite3_bind_int64(stmt, 5, version->dtstamp);
	return store_run(session, stmt, "record meeting update");
}
