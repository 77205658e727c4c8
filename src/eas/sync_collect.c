/*
 * sync_collect.c: what the server sends a device in one collection.
 *
 * The device's state is a cursor (modseq M: every change up to M reached
 * it) and a filter window (cutoff C: of those, the items from C on, by
 * (received, id)). So the device holds exactly the items created by M,
 * live at M, from C on. A response moves that to (M', C'), C' being the
 * filter's cutoff now:
 *   1. the window's move, over the items the device had at M: when it
 *      shrank (time passed, or a smaller FilterType), SoftDelete those in
 *      [C, C'), oldest first; when it widened, Add those in [C', C),
 *      newest first;
 *   2. then the changes after M, in modseq order: a change to an item the
 *      device holds is a Change (Delete for a tombstone), a live item it
 *      does not hold but the window takes is an Add, the rest is passed.
 * Both stop at the window (WindowSize) or the byte budget with
 * MoreAvailable, and the cutoff and cursor record exactly how far they
 * got, so the next request goes on from there: nothing skipped, nothing
 * twice. Step 2 waits until step 1 is done.
 *
 * One redundancy is accepted: when the window widens, an item of [C', C)
 * changed after M is sent as an Add in step 1 and again as a Change in
 * step 2 (a Delete if it was deleted meanwhile), which devices take
 * without harm.
 */
#include "eas/sync_private.h"

#include <string.h>

static int cutoff_compare(const struct store_cutoff *a, const struct store_cutoff *b)
{
	if (a->received != b->received)
		return a->received < b->received ? -1 : 1;
	if (a->item_id != b->item_id)
		return a->item_id < b->item_id ? -1 : 1;
	return 0;
}

static bool in_window(const struct store_item *item, const struct store_cutoff *cutoff)
{
	struct store_cutoff position = { item->received, item->id };
	return cutoff_compare(&position, cutoff) >= 0;
}

static unsigned window_of(const struct sync_settings *settings)
{
	unsigned window = settings->window_size == 0 ? SYNC_DEFAULT_WINDOW : settings->window_size;
	return window > SYNC_MAX_WINDOW ? SYNC_MAX_WINDOW : window;
}

/* Queues one command for the response, or says the window is full (MoreAvailable). */
static bool send(struct sync_result *result, enum sync_send_kind kind, const struct store_item *item)
{
	struct sync_context *ctx = result->ctx;
	bool whole = kind == SEND_ADD;
	uint64_t weight = !whole ? 64 : result->class->estimated_bytes(&result->collection->settings.options, item->size);
	if (result->outgoing_count == result->window || (result->outgoing_count > 0 && weight > ctx->bytes_left)) {
		result->more_available = true;
		return false;
	}
	ctx->bytes_left = weight > ctx->bytes_left ? 0 : ctx->bytes_left - weight;
	result->outgoing = arena_grow(ctx->request->arena, result->outgoing, sizeof(*result->outgoing),
				      result->outgoing_count, &result->outgoing_capacity, 32);
	result->outgoing[result->outgoing_count++] = (struct sync_outgoing){ kind, *item };
	return true;
}

static bool take_leaving(void *context, const struct store_item *item)
{
	struct sync_result *result = context;
	if (!send(result, SEND_SOFT_DELETE, item))
		return false;
	result->cutoff = (struct store_cutoff){ item->received, item->id + 1 };
	return true;
}

static bool take_entering(void *context, const struct store_item *item)
{
	struct sync_result *result = context;
	if (!send(result, SEND_ADD, item))
		return false;
	result->cutoff = (struct store_cutoff){ item->received, item->id };
	return true;
}

/* Step 1: the filter window's move. */
static int move_window(struct sync_context *ctx, struct sync_result *result)
{
	struct eas_request *r = ctx->request;
	int order = cutoff_compare(&result->wanted, &result->cutoff);
	if (order == 0)
		return STORE_OK;
	/* One more than fits, so a full window knows whether more remain. */
	unsigned limit = result->window - result->outgoing_count + 1;
	int status;
	if (order > 0)
		status = store_item_window(r->session, r->arena, result->folder.id, STORE_WINDOW_LEAVING, result->since,
					   &result->cutoff, &result->wanted, limit, take_leaving, result);
	else
		status = store_item_window(r->session, r->arena, result->folder.id, STORE_WINDOW_ENTERING,
					   result->since, &result->wanted, &result->cutoff, limit, take_entering, result);
	if (status == STORE_OK && !result->more_available)
		result->cutoff = result->wanted;
	return status;
}

/* Step 2, per change: the cursor passes what is not sent (echoes, items outside the window). */
static bool take_change(void *context, const struct store_item *item)
{
	struct sync_result *result = context;
	bool inside = in_window(item, &result->cutoff);
	bool known = item->created_modseq <= result->since || sync_is_own_item(result, item->id);
	/* An item a change moved out of the window (an event moved back, a task done) stays on the
	   device and gets the change: a SoftDelete would lose it when it moves back in. */
	bool device_has = known && (inside || result->class->place_moves);
	if (sync_is_echo(result, item->modseq) || (!device_has && (item->deleted || !inside))) {
		result->cursor = item->modseq;
		return true;
	}
	enum sync_send_kind kind = item->deleted ? SEND_DELETE : device_has ? SEND_CHANGE : SEND_ADD;
	if (!send(result, kind, item))
		return false;
	result->cursor = item->modseq;
	return true;
}

int sync_collect(struct sync_context *ctx, struct sync_result *result, uint64_t until)
{
	struct eas_request *r = ctx->request;
	result->window = window_of(&result->collection->settings);
	if (ctx->budget < result->window)
		result->window = ctx->budget;
	int status = move_window(ctx, result);
	if (status == STORE_OK && !result->more_available) {
		status = store_item_changes(r->session, r->arena, result->folder.id, result->since, until, 0,
					    take_change, result);
		if (status == STORE_OK && !result->more_available)
			result->cursor = until;
	}
	ctx->budget -= result->outgoing_count;
	return status;
}

int sync_estimate(struct eas_request *r, const struct store_folder *folder, const struct store_sync_state *state,
		  uint8_t filter_type, uint64_t *count_out)
{
	int64_t folder_id = folder->id;
	struct store_cutoff wanted = sync_filter_cutoff(pim_class_for_folder(folder->type), filter_type, r->now);
	int order = cutoff_compare(&wanted, &state->cutoff);
	uint64_t until, moving = 0, changes = 0;
	int status = store_folder_modseq(r->session, folder_id, &until);
	if (status == STORE_OK && order > 0)
		status = store_item_count_window(r->session, folder_id, STORE_WINDOW_LEAVING, state->modseq,
						 &state->cutoff, &wanted, &moving);
	else if (status == STORE_OK && order < 0)
		status = store_item_count_window(r->session, folder_id, STORE_WINDOW_ENTERING, state->modseq, &wanted,
						 &state->cutoff, &moving);
	if (status == STORE_OK)
		status = store_item_count_changes(r->session, folder_id, state->modseq, until, &wanted, &changes);
	*count_out = moving + changes;
	return status;
}

struct pending_walk {
	struct arena *arena;
	struct sync_id_set own;      /* the device's own changes (MoveItems) past its cursor */
	const struct store_cutoff *cutoff;
	uint64_t since;
	bool adds_only;
	bool found;
};

static void note_own(void *context, uint64_t modseq)
{
	struct pending_walk *walk = context;
	sync_id_set_add(walk->arena, &walk->own, (int64_t)modseq);
}

/* Stops at the first change take_change would send. */
static bool find_pending(void *context, const struct store_item *item)
{
	struct pending_walk *walk = context;
	if (sync_id_set_has(&walk->own, (int64_t)item->modseq))
		return true;
	struct store_cutoff position = { item->received, item->id };
	bool inside = cutoff_compare(&position, walk->cutoff) >= 0;
	bool device_has = item->created_modseq <= walk->since && inside;
	bool sent = device_has || (!item->deleted && inside);
	bool add = !device_has && !item->deleted && inside;
	walk->found = walk->adds_only ? add : sent;
	return !walk->found;
}

int sync_pending_change(struct eas_request *r, int64_t folder_id, const struct store_sync_state *state,
			bool adds_only, bool *pending_out)
{
	struct pending_walk walk = { .arena = r->arena, .cutoff = &state->cutoff, .since = state->modseq,
				     .adds_only = adds_only };
	uint64_t until;
	*pending_out = false;
	int status = store_folder_modseq(r->session, folder_id, &until);
	if (status != STORE_OK || until <= state->modseq)
		return status;
	status = store_sync_suppress_list(r->session, r->device.id, folder_id, state->modseq, until, note_own, &walk);
	if (status == STORE_OK)
		status = store_item_changes(r->session, r->arena, folder_id, state->modseq, until, 0, find_pending,
					    &walk);
	*pending_out = walk.found;
	return status;
}
