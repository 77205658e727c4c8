/*
 * sync_writes.c: the writes a Sync makes to the device's own rows (its
 * sync states, sticky settings, cached request, suppressed changes and
 * ClientId maps), run at once or queued.
 *
 * A request with client commands changes items, and what it sends must
 * see those changes, so it runs in one write transaction and its writes
 * run at once. A request without (every no-change Sync, every Sync that
 * only fetches changes, which push multiplies) runs in a read transaction:
 * what it reads, converts and encodes holds no write lock, and its few
 * writes are queued here and made at the end in one short write
 * transaction (none at all when nothing changed). Queuing is safe because
 * these rows are the device's own, and its Syncs are serialised by its
 * lock (store_device_lock), held from the first read to the last write;
 * MoveItems adds suppressed changes past any cursor the queue moves to.
 * A request naming a collection twice does not queue (sync.c): its second
 * run must see the first one's state.
 */
#include "eas/sync_private.h"

enum write_kind {
	WRITE_STATE_ADVANCE,
	WRITE_STATE_PUT,
	WRITE_CLIENT_ID_FORGET,
	WRITE_SUPPRESS_FORGET,
	WRITE_SUPPRESS_ADD,
	WRITE_SETTINGS,
	WRITE_CACHE,
};

struct sync_write {
	enum write_kind kind;
	int64_t folder_id;
	uint64_t number;              /* key, modseq or bound, as the kind says */
	uint64_t modseq;              /* WRITE_STATE_ADVANCE */
	struct store_cutoff cutoff;   /* WRITE_STATE_ADVANCE */
	struct store_sync_state state; /* WRITE_STATE_PUT */
	const char *text;             /* settings or cache, in the request's arena */
	struct sync_write *next;
};

static int run(struct sync_context *ctx, const struct sync_write *w)
{
	struct eas_request *r = ctx->request;
	int64_t device = r->device.id;
	switch (w->kind) {
	case WRITE_STATE_ADVANCE:
		return store_sync_state_advance(r->session, device, w->folder_id, w->number, w->modseq, &w->cutoff);
	case WRITE_STATE_PUT:
		return store_sync_state_put(r->session, device, w->folder_id, &w->state);
	case WRITE_CLIENT_ID_FORGET:
		return store_client_id_forget(r->session, device, w->folder_id, w->number);
	case WRITE_SUPPRESS_FORGET:
		return store_sync_suppress_forget(r->session, device, w->folder_id, w->number);
	case WRITE_SUPPRESS_ADD:
		return store_sync_suppress_add(r->session, device, w->folder_id, w->number);
	case WRITE_SETTINGS:
		return store_sync_settings_put(r->session, device, w->folder_id, w->text);
	case WRITE_CACHE:
		return store_request_cache_put(r->session, device, STORE_CACHE_SYNC, w->text);
	}
	return STORE_ERROR;
}

/* Runs w now, or queues a copy (in order) when the request defers its writes. */
static int write(struct sync_context *ctx, const struct sync_write *w)
{
	if (!ctx->deferring)
		return run(ctx, w);
	struct sync_write *copy = arena_alloc(ctx->request->arena, sizeof(*copy));
	*copy = *w;
	copy->next = NULL;
	*ctx->writes_tail = copy;
	ctx->writes_tail = &copy->next;
	return STORE_OK;
}

int sync_write_state_advance(struct sync_context *ctx, int64_t folder_id, uint64_t key, uint64_t modseq,
			     const struct store_cutoff *cutoff)
{
	return write(ctx, &(struct sync_write){ .kind = WRITE_STATE_ADVANCE, .folder_id = folder_id, .number = key,
						.modseq = modseq, .cutoff = *cutoff });
}

int sync_write_state_put(struct sync_context *ctx, int64_t folder_id, const struct store_sync_state *state)
{
	return write(ctx, &(struct sync_write){ .kind = WRITE_STATE_PUT, .folder_id = folder_id, .state = *state });
}

int sync_write_client_id_forget(struct sync_context *ctx, int64_t folder_id, uint64_t below_key)
{
	return write(ctx, &(struct sync_write){ .kind = WRITE_CLIENT_ID_FORGET, .folder_id = folder_id,
						.number = below_key });
}

int sync_write_suppress_forget(struct sync_context *ctx, int64_t folder_id, uint64_t upto)
{
	return write(ctx, &(struct sync_write){ .kind = WRITE_SUPPRESS_FORGET, .folder_id = folder_id, .number = upto });
}

int sync_write_suppress_add(struct sync_context *ctx, int64_t folder_id, uint64_t modseq)
{
	return write(ctx, &(struct sync_write){ .kind = WRITE_SUPPRESS_ADD, .folder_id = folder_id, .number = modseq });
}

int sync_write_settings(struct sync_context *ctx, int64_t folder_id, const char *text)
{
	return write(ctx, &(struct sync_write){ .kind = WRITE_SETTINGS, .folder_id = folder_id, .text = text });
}

int sync_write_cache(struct sync_context *ctx, const char *text)
{
	return write(ctx, &(struct sync_write){ .kind = WRITE_CACHE, .text = text });
}

int sync_writes_flush(struct sync_context *ctx)
{
	struct eas_request *r = ctx->request;
	if (ctx->writes == NULL)
		return STORE_OK;
	int status = store_begin(r->session);
	for (const struct sync_write *w = ctx->writes; w != NULL && status == STORE_OK; w = w->next)
		status = run(ctx, w);
	if (status != STORE_OK) {
		store_rollback(r->session);
		return status;
	}
	return store_commit(r->session);
}
