/*
 * sync_wait.c: Sync with Wait (minutes, 12.1+) or HeartbeatInterval
 * (seconds, 14.0+): when there is nothing to send, the request waits for
 * a change instead of answering the empty response (MS-ASCMD 3.1.5.4).
 *
 * It parks like Ping (http/park.c, push/): on the request's collections,
 * at the keys the device holds (a quiet Sync keeps them). When a watched
 * folder changes, the same collections are looked at again: if the
 * device's next Sync would get something (its own changes aside; [push]
 * wake = new_items: only new items), the Sync runs as if the device had
 * sent those collections at those keys, and answers; otherwise it parks
 * again until the same deadline. If the device synced one of them over
 * another connection meanwhile, the keys held are stale: the answer is
 * the empty response. At the deadline, or when a newer long
 * poll of the device arrives, or easd stops, the answer is the empty
 * response (MS-ASCMD 2.2.1.21.2, 4.5.10).
 */
#include "eas/sync_private.h"


/* MS-ASCMD 2.2.3.198 R4745: Wait is 1 to 59 minutes. */
#define SYNC_WAIT_MIN_MINUTES 1
#define SYNC_WAIT_MAX_MINUTES 59

/* <Sync><Status>14</Status><Limit>bound</Limit></Sync> (MS-ASCMD 2.2.3.97: no Collections). */
static void answer_limit(struct eas_request *r, uint64_t bound)
{
	struct wbxml_writer writer;
	eas_writer_init(r, &writer);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_SYNC);
	wbxml_writer_element_uint(&writer, WBXML_AIRSYNC_STATUS, SYNC_STATUS_INVALID_WAIT);
	wbxml_writer_element_uint(&writer, WBXML_AIRSYNC_LIMIT, bound);
	wbxml_writer_end(&writer);
	eas_writer_finish(r, &writer);
	r->eas_status = SYNC_STATUS_INVALID_WAIT;
	r->reason = "wait_out_of_range";
}

/* The value if inside [low, high], else answers 14 with the nearest bound (R3227-R3230) and returns 0. */
static uint64_t within(struct eas_request *r, uint64_t value, uint64_t low, uint64_t high)
{
	if (value >= low && value <= high)
		return value;
	answer_limit(r, value < low ? low : high);
	return 0;
}

int sync_wait_check(struct sync_context *ctx)
{
	struct eas_request *r = ctx->request;
	const struct easd_config *config = r->config;
	struct sync_request *sync = &ctx->sync;
	if (sync->has_wait) {
		uint64_t minutes = within(r, sync->wait_minutes, SYNC_WAIT_MIN_MINUTES, SYNC_WAIT_MAX_MINUTES);
		if (minutes == 0)
			return -1;
		sync->wait_seconds = (unsigned)minutes * 60;
	} else if (sync->has_heartbeat) {
		uint64_t seconds = within(r, sync->heartbeat_seconds, config->heartbeat_min, config->heartbeat_max);
		if (seconds == 0)
			return -1;
		sync->wait_seconds = (unsigned)seconds;
	}
	/* A new long poll of the device ends its parked one (a Ping or an earlier Sync). */
	if (sync->wait_seconds > 0)
		push_hub_supersede(r->server->push, r->device.id, r->sequence);
	return 0;
}

void sync_wait_park(struct sync_context *ctx, uint64_t generation, int64_t deadline_ms)
{
	struct eas_request *r = ctx->request;
	if (!ctx->quiet || ctx->sync.wait_seconds == 0 || ctx->results == NULL)
		return;
	/* A newer long poll of the device is parked already: this one answers now. */
	if (push_hub_supersede(r->server->push, r->device.id, r->sequence))
		return;
	struct eas_park *park = arena_calloc(r->arena, 1, sizeof(*park));
	unsigned count = ctx->sync.collection_count;
	park->folders = arena_calloc(r->arena, count, sizeof(*park->folders));
	park->sync_keys = arena_calloc(r->arena, count, sizeof(*park->sync_keys));
	for (unsigned i = 0; i < count; i++) {
		park->folders[i] = ctx->results[i].folder.id;
		park->sync_keys[i] = ctx->results[i].sync_key;
	}
	park->folder_count = count;
	park->window_size = ctx->sync.window_size;
	park->wait_seconds = ctx->sync.wait_seconds;
	park->generation = generation;
	int64_t wait = (int64_t)ctx->sync.wait_seconds - LIMIT_PUSH_EARLY_SECONDS;
	park->deadline_ms = deadline_ms != 0 ? deadline_ms : util_monotonic_ms() + (wait > 0 ? wait : 1) * 1000;
	r->park = park;
}

/*
 * Whether a watched collection has something for the device (what a wake
 * has to confirm). *stale_out: the device synced one of them meanwhile
 * over another connection, so the keys this request holds are not its
 * current ones any more: it gets the empty response (running at the old
 * key would replay, and leave the device's newer key unknown).
 */
static int pending(struct eas_request *r, const struct eas_park *park, bool *pending_out, bool *stale_out)
{
	*pending_out = *stale_out = false;
	for (unsigned i = 0; i < park->folder_count && !*pending_out; i++) {
		struct store_sync_state state;
		int status = store_sync_state_get(r->session, r->device.id, park->folders[i], &state);
		if (status == STORE_NOT_FOUND || (status == STORE_OK && state.sync_key != park->sync_keys[i])) {
			*stale_out = true;
			return STORE_OK;
		}
		if (status == STORE_OK)
			status = sync_pending_change(r, park->folders[i], &state,
						     r->config->wake_on_new_items_only, pending_out);
		if (status != STORE_OK)
			return status;
	}
	return STORE_OK;
}

void eas_sync_resume(struct eas_request *r, const struct eas_park *park)
{
	struct sync_context ctx = { .request = r, .budget = UINT32_MAX, .bytes_left = LIMIT_SYNC_RESPONSE_BYTES,
				    .resumed = true };
	bool changed = false;
	r->eas_status = SYNC_STATUS_SUCCESS;
	if (r->wake != PUSH_CHANGED) {
		/* The empty response: the device keeps its keys and asks again. */
		r->reason = r->wake == PUSH_SUPERSEDED ? "sync_superseded" : r->wake == PUSH_STOPPING ? "server_stopping" : NULL;
		return;
	}
	uint64_t generation = push_hub_generation(r->server->push, r->user.id);
	bool stale;
	if (pending(r, park, &changed, &stale) != STORE_OK) {
		sync_answer_status(r, SYNC_STATUS_SERVER_ERROR, "store_error");
		return;
	}
	if (stale) {
		r->reason = "sync_keys_moved_on";
		return; /* the empty response */
	}
	ctx.sync.window_size = park->window_size;
	ctx.sync.wait_seconds = park->wait_seconds;
	for (unsigned i = 0; i < park->folder_count; i++)
		sync_add_collection(&ctx, park->folders[i], park->sync_keys[i]);
	if (!changed) {
		r->park = arena_calloc(r->arena, 1, sizeof(*r->park));
		*r->park = *park;
		r->park->generation = generation;
		return;
	}
	sync_run(&ctx, false);
	sync_wait_park(&ctx, generation, park->deadline_ms);
}
