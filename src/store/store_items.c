/*
 * store_items.c: items in folders, versioned by the folder's modseq (see
 * store.h).
 *
 * Every change to an item takes the folder's next modseq and stamps the
 * row; a deleted item stays as a tombstone with the modseq of its
 * deletion. Since each change has its own modseq within a folder, "the
 * changes after M, in modseq order" is an exact, resumable cursor: a Sync
 * that sent the changes up to modseq X continues after X, whatever arrived
 * meanwhile, and never skips or repeats one.
 */
#include "store/store_private.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Takes the folder's next modseq (in the open transaction). */
static int next_folder_modseq(struct store_session *session, int64_t user_id, int64_t folder_id,
			      uint64_t *modseq_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_FOLDER_BUMP);
	sqlite3_bind_int64(stmt, 1, folder_id);
	sqlite3_bind_int64(stmt, 2, user_id);
	return store_query_int64(session, stmt, "folder modseq", (int64_t *)modseq_out);
}

int store_folder_modseq(struct store_session *session, int64_t folder_id, uint64_t *modseq_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_FOLDER_MODSEQ);
	sqlite3_bind_int64(stmt, 1, folder_id);
	return store_query_int64(session, stmt, "folder modseq", (int64_t *)modseq_out);
}

int store_item_add(struct store_session *session, int64_t user_id, int64_t folder_id,
		   const uint8_t *mime, size_t len, const struct store_item_meta *meta,
		   int64_t *item_id_out)
{
	uint64_t modseq;
	int status = next_folder_modseq(session, user_id, folder_id, &modseq);
	if (status != STORE_OK)
		return status;
	sqlite3_stmt *stmt = store_statement(session, SQL_ITEM_INSERT);
	sqlite3_bind_int64(stmt, 1, folder_id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)modseq);
	sqlite3_bind_int64(stmt, 3, meta->received);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)len);
	sqlite3_bind_blob64(stmt, 5, mime, len, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 6, meta->date);
	sqlite3_bind_text(stmt, 7, meta->message_id != NULL ? meta->message_id : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 8, meta->read);
	sqlite3_bind_int(stmt, 9, meta->flag_status);
	sqlite3_bind_text(stmt, 10, meta->categories != NULL ? meta->categories : "", -1, SQLITE_STATIC);
	status = store_run(session, stmt, "add item");
	if (status != STORE_OK)
		return status;
	if (item_id_out != NULL)
		*item_id_out = sqlite3_last_insert_rowid(session->db);
	store_note_change(session, user_id, folder_id);
	return STORE_OK;
}

int store_folder_count(struct store_session *session, int64_t folder_id, uint64_t *count_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_FOLDER_COUNT);
	sqlite3_bind_int64(stmt, 1, folder_id);
	return store_query_int64(session, stmt, "count items", (int64_t *)count_out);
}

static void read_item(struct arena *arena, sqlite3_stmt *stmt, struct store_item *item)
{
	item->id = sqlite3_column_int64(stmt, 0);
	item->folder_id = sqlite3_column_int64(stmt, 1);
	item->modseq = (uint64_t)sqlite3_column_int64(stmt, 2);
	item->created_modseq = (uint64_t)sqlite3_column_int64(stmt, 3);
	item->deleted = sqlite3_column_int(stmt, 4) != 0;
	item->received = sqlite3_column_int64(stmt, 5);
	item->date = sqlite3_column_int64(stmt, 6);
	item->size = (uint64_t)sqlite3_column_int64(stmt, 7);
	item->read = sqlite3_column_int(stmt, 8) != 0;
	item->flag_status = (uint8_t)sqlite3_column_int(stmt, 9);
	item->categories = store_column_text(arena, stmt, 10);
	item->message_id = store_column_text(arena, stmt, 11);
}

/* Calls fn for each item stmt selects (bound already), until it returns false. */
static int walk_items(struct store_session *session, struct arena *arena, sqlite3_stmt *stmt, const char *what,
		      bool (*fn)(void *context, const struct store_item *item), void *context)
{
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_item item;
		read_item(arena, stmt, &item);
		if (!fn(context, &item)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? STORE_OK : store_fail(session, what);
}

int store_item_changes(struct store_session *session, struct arena *arena, int64_t folder_id,
		       uint64_t since, uint64_t until, unsigned limit,
		       bool (*fn)(void *context, const struct store_item *item), void *context)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_ITEM_CHANGES);
	sqlite3_bind_int64(stmt, 1, folder_id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)since);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)until);
	sqlite3_bind_int64(stmt, 4, limit == 0 ? -1 : (sqlite3_int64)limit);
	return walk_items(session, arena, stmt, "item changes", fn, context);
}

int store_item_count_changes(struct store_session *session, int64_t folder_id, uint64_t since,
			     uint64_t until, const struct store_cutoff *cutoff, uint64_t *count_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_ITEM_COUNT_CHANGES);
	sqlite3_bind_int64(stmt, 1, folder_id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)since);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)until);
	sqlite3_bind_int64(stmt, 4, cutoff != NULL ? cutoff->received : 0);
	sqlite3_bind_int64(stmt, 5, cutoff != NULL ? cutoff->item_id : 0);
	return store_query_int64(session, stmt, "count changes", (int64_t *)count_out);
}

static void bind_window(sqlite3_stmt *stmt, int64_t folder_id, uint64_t since, const struct store_cutoff *from,
			const struct store_cutoff *to)
{
	sqlite3_bind_int64(stmt, 1, folder_id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)since);
	sqlite3_bind_int64(stmt, 3, from->received);
	sqlite3_bind_int64(stmt, 4, from->item_id);
	sqlite3_bind_int64(stmt, 5, to->received);
	sqlite3_bind_int64(stmt, 6, to->item_id);
}

int store_item_window(struct store_session *session, struct arena *arena, int64_t folder_id,
		      enum store_window_walk walk, uint64_t since, const struct store_cutoff *from,
		      const struct store_cutoff *to, unsigned limit,
		      bool (*fn)(void *context, const struct store_item *item), void *context)
{
	sqlite3_stmt *stmt = store_statement(session, walk == STORE_WINDOW_LEAVING ? SQL_ITEM_LEAVING : SQL_ITEM_ENTERING);
	bind_window(stmt, folder_id, since, from, to);
	sqlite3_bind_int64(stmt, 7, limit == 0 ? -1 : (sqlite3_int64)limit);
	return walk_items(session, arena, stmt, "window items", fn, context);
}

int store_item_count_window(struct store_session *session, int64_t folder_id, enum store_window_walk walk,
			    uint64_t since, const struct store_cutoff *from, const struct store_cutoff *to,
			    uint64_t *count_out)
{
	sqlite3_stmt *stmt = store_statement(session, walk == STORE_WINDOW_LEAVING ? SQL_ITEM_COUNT_LEAVING
									: SQL_ITEM_COUNT_ENTERING);
	bind_window(stmt, folder_id, since, from, to);
	return store_query_int64(session, stmt, "count window", (int64_t *)count_out);
}

int store_item_get(struct store_session *session, struct arena *arena, int64_t folder_id,
		   int64_t item_id, struct store_item *item_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_ITEM_GET);
	sqlite3_bind_int64(stmt, 1, folder_id);
	sqlite3_bind_int64(stmt, 2, item_id);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		read_item(arena, stmt, item_out);
	return store_row_done(session, stmt, rc, "get item");
}

int store_item_find_id(struct store_session *session, int64_t folder_id, const char *message_id, int64_t *item_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_ITEM_FIND_ID);
	sqlite3_bind_int64(stmt, 1, folder_id);
	sqlite3_bind_text(stmt, 2, message_id, -1, SQLITE_STATIC);
	return store_query_int64(session, stmt, "find item", item_out);
}

int store_item_content_size(struct store_session *session, int64_t folder_id, int64_t item_id,
			    uint64_t *size_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_ITEM_CONTENT_SIZE);
	sqlite3_bind_int64(stmt, 1, folder_id);
	sqlite3_bind_int64(stmt, 2, item_id);
	return store_query_int64(session, stmt, "item content size", (int64_t *)size_out);
}

/*
 * The blob handle stays open on the session for the next read of the same
 * item. SQLite finds an offset in a large value by walking its chain of
 * overflow pages from the start, and keeps the pages it found only in an
 * open handle: reopening it for each 64 KB window of a 137 MB message
 * would read pages quadratically (a minute of system time per fetch).
 *
 * An open handle is an open read transaction, so the session sees the
 * database as it was when the handle opened: it is closed before a write
 * transaction, at commit and rollback, and when the session is given
 * back, which a streamed response does between its bursts (content.c).
 */
void store_content_close_blob(struct store_session *session)
{
	if (session->blob == NULL)
		return;
	sqlite3_blob_close(session->blob);
	session->blob = NULL;
	session->blob_item = 0;
}

static int open_blob(struct store_session *session, int64_t item_id)
{
	if (session->blob != NULL && session->blob_item == item_id)
		return SQLITE_OK;
	store_content_close_blob(session);
	int rc = sqlite3_blob_open(session->db, "main", "items", "content", item_id, 0, &session->blob);
	if (rc != SQLITE_OK) {
		session->blob = NULL; /* sqlite3_blob_open may leave a handle to nothing */
		return rc;
	}
	session->blob_item = item_id;
	return SQLITE_OK;
}

/*
 * SQLite's incremental BLOB I/O (read-only) copies just the pages holding
 * the range, where a SELECT would load the whole value. The size query
 * first checks the item is still a live item of the folder: a blob handle
 * knows only the row id.
 */
int store_item_content_read(struct store_session *session, int64_t folder_id, int64_t item_id,
			    uint64_t offset, void *dst, size_t len)
{
	uint64_t size;
	int status = store_item_content_size(session, folder_id, item_id, &size);
	if (status != STORE_OK)
		return status;
	if (offset > size || len > size - offset || size > INT_MAX) {
		snprintf(session->error, sizeof(session->error), "item content read: %llu bytes at %llu of %llu",
			 (unsigned long long)len, (unsigned long long)offset, (unsigned long long)size);
		return STORE_ERROR;
	}
	if (len == 0)
		return STORE_OK;
	if (open_blob(session, item_id) != SQLITE_OK) {
		/* Deleted between the two steps: its content is NULL now, which no blob handle opens. */
		status = store_fail(session, "item content open");
		return store_item_content_size(session, folder_id, item_id, &size) == STORE_NOT_FOUND ? STORE_NOT_FOUND
												       : status;
	}
	int rc = sqlite3_blob_read(session->blob, dst, (int)len, (int)offset);
	if (rc == SQLITE_OK)
		return STORE_OK;
	store_content_close_blob(session);
	/* SQLITE_ABORT: the row changed through this connection since the handle opened. */
	return rc == SQLITE_ABORT ? STORE_NOT_FOUND : store_fail(session, "item content read");
}

struct flags_change {
	int64_t user_id, folder_id, item_id;
	bool read;
	uint8_t flag_status;
	const char *categories;
	uint64_t modseq;
};

static int set_flags(struct store_session *session, void *context)
{
	struct flags_change *change = context;
	struct store_item item;
	struct arena *arena = arena_new(1024);
	int status = store_item_get(session, arena, change->folder_id, change->item_id, &item);
	bool same = status == STORE_OK && item.read == change->read &&
		    item.flag_status == change->flag_status && strcmp(item.categories, change->categories) == 0;
	arena_free(&arena);
	if (status != STORE_OK || item.deleted)
		return status != STORE_OK ? status : STORE_NOT_FOUND;
	change->modseq = item.modseq;
	if (same)
		return STORE_OK;
	if ((status = next_folder_modseq(session, change->user_id, change->folder_id, &change->modseq)) != STORE_OK)
		return status;
	sqlite3_stmt *stmt = store_statement(session, SQL_ITEM_SET_FLAGS);
	sqlite3_bind_int64(stmt, 1, change->folder_id);
	sqlite3_bind_int64(stmt, 2, change->item_id);
	sqlite3_bind_int(stmt, 3, change->read);
	sqlite3_bind_int(stmt, 4, change->flag_status);
	sqlite3_bind_text(stmt, 5, change->categories, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 6, (sqlite3_int64)change->modseq);
	status = store_run(session, stmt, "set flags");
	if (status == STORE_OK)
		store_note_change(session, change->user_id, change->folder_id);
	return status;
}

int store_item_set_flags(struct store_session *session, int64_t user_id, int64_t folder_id,
			 int64_t item_id, bool read, uint8_t flag_status, const char *categories,
			 uint64_t *modseq_out)
{
	struct flags_change change = { user_id, folder_id, item_id, read, flag_status,
				       categories != NULL ? categories : "", 0 };
	int status = store_in_transaction(session, set_flags, &change);
	if (status == STORE_OK && modseq_out != NULL)
		*modseq_out = change.modseq;
	return status;
}

struct content_change {
	int64_t user_id, folder_id, item_id;
	struct slice content;
	int64_t received;
	uint64_t modseq;
};

static int set_content(struct store_session *session, void *context)
{
	struct content_change *change = context;
	int status = next_folder_modseq(session, change->user_id, change->folder_id, &change->modseq);
	if (status != STORE_OK)
		return status;
	sqlite3_stmt *stmt = store_statement(session, SQL_ITEM_SET_CONTENT);
	sqlite3_bind_int64(stmt, 1, change->folder_id);
	sqlite3_bind_int64(stmt, 2, change->item_id);
	sqlite3_bind_blob64(stmt, 3, change->content.data, change->content.len, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)change->content.len);
	sqlite3_bind_int64(stmt, 5, change->received);
	sqlite3_bind_int64(stmt, 6, (sqlite3_int64)change->modseq);
	status = store_run(session, stmt, "set content");
	if (status == STORE_OK && sqlite3_changes(session->db) == 0)
		return STORE_NOT_FOUND;
	if (status == STORE_OK)
		store_note_change(session, change->user_id, change->folder_id);
	return status;
}

int store_item_set_content(struct store_session *session, int64_t user_id, int64_t folder_id, int64_t item_id,
			   const uint8_t *content, size_t len, int64_t received, uint64_t *modseq_out)
{
	struct content_change change = { user_id, folder_id, item_id, { content, len }, received, 0 };
	int status = store_in_transaction(session, set_content, &change);
	if (status == STORE_OK && modseq_out != NULL)
		*modseq_out = change.modseq;
	return status;
}

struct item_delete {
	int64_t user_id, folder_id, item_id;
	uint64_t modseq;
};

static int delete_item(struct store_session *session, void *context)
{
	struct item_delete *d = context;
	int status = next_folder_modseq(session, d->user_id, d->folder_id, &d->modseq);
	if (status != STORE_OK)
		return status;
	sqlite3_stmt *stmt = store_statement(session, SQL_ITEM_DELETE);
	sqlite3_bind_int64(stmt, 1, d->folder_id);
	sqlite3_bind_int64(stmt, 2, d->item_id);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)d->modseq);
	status = store_run(session, stmt, "delete item");
	if (status == STORE_OK && sqlite3_changes(session->db) == 0)
		return STORE_NOT_FOUND;
	if (status == STORE_OK)
		store_note_change(session, d->user_id, d->folder_id);
	return status;
}

int store_item_delete(struct store_session *session, int64_t user_id, int64_t folder_id,
		      int64_t item_id, uint64_t *modseq_out)
{
	struct item_delete d = { user_id, folder_id, item_id, 0 };
	int status = store_in_transaction(session, delete_item, &d);
	if (status == STORE_OK && modseq_out != NULL)
		*modseq_out = d.modseq;
	return status;
}

struct item_move {
	struct item_delete source;
	int64_t to_folder_id;
	int64_t new_id;
	uint64_t dest_modseq;
};

static int move_item(struct store_session *session, void *context)
{
	struct item_move *move = context;
	uint64_t modseq;
	int status = next_folder_modseq(session, move->source.user_id, move->to_folder_id, &modseq);
	move->dest_modseq = modseq;
	if (status != STORE_OK)
		return status;
	sqlite3_stmt *stmt = store_statement(session, SQL_ITEM_COPY);
	sqlite3_bind_int64(stmt, 1, move->source.folder_id);
	sqlite3_bind_int64(stmt, 2, move->source.item_id);
	sqlite3_bind_int64(stmt, 3, move->to_folder_id);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)modseq);
	status = store_run(session, stmt, "copy item");
	if (status == STORE_OK && sqlite3_changes(session->db) == 0)
		return STORE_NOT_FOUND;
	if (status != STORE_OK)
		return status;
	move->new_id = sqlite3_last_insert_rowid(session->db);
	store_note_change(session, move->source.user_id, move->to_folder_id);
	return delete_item(session, &move->source);
}

int store_item_move(struct store_session *session, int64_t user_id, int64_t folder_id,
		    int64_t item_id, int64_t to_folder_id, int64_t *new_id_out,
		    uint64_t *source_modseq_out, uint64_t *dest_modseq_out)
{
	struct item_move move = { { user_id, folder_id, item_id, 0 }, to_folder_id, 0, 0 };
	int status = store_in_transaction(session, move_item, &move);
	if (status == STORE_OK) {
		if (new_id_out != NULL)
			*new_id_out = move.new_id;
		if (source_modseq_out != NULL)
			*source_modseq_out = move.source.modseq;
		if (dest_modseq_out != NULL)
			*dest_modseq_out = move.dest_modseq;
	}
	return status;
}

int store_sync_suppress_add(struct store_session *session, int64_t device, int64_t folder_id, uint64_t modseq)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_SUPPRESS_ADD);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_int64(stmt, 2, folder_id);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)modseq);
	return store_run(session, stmt, "suppress change");
}

int store_sync_suppress_list(struct store_session *session, int64_t device, int64_t folder_id,
			     uint64_t since, uint64_t until, void (*fn)(void *context, uint64_t modseq),
			     void *context)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_SUPPRESS_LIST);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_int64(stmt, 2, folder_id);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)since);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)until);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		fn(context, (uint64_t)sqlite3_column_int64(stmt, 0));
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? STORE_OK : store_fail(session, "list suppressed");
}

int store_sync_suppress_forget(struct store_session *session, int64_t device, int64_t folder_id, uint64_t upto)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_SUPPRESS_FORGET);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_int64(stmt, 2, folder_id);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)upto);
	return store_run(session, stmt, "forget suppressed");
}
