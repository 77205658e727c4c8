/*
 * sync.c: the Sync command (MS-ASCMD 2.2.1.21) for every collection.
 *
 * A collection's state is (sync_key, modseq, cutoff) plus the previous
 * one, per device and folder. modseq is a cursor into the folder's changes
 * (see store_items.c): everything up to it has reached the device; cutoff
 * is where its filter window starts (sync_collect.c). A request with
 *   - SyncKey 0: a new key, no items, cursor 0 (the next request sends all);
 *   - the current key: the client's commands are applied (sync_apply.c),
 *     then what the server has for the device is sent (sync_collect.c), at
 *     most WindowSize of it, with MoreAvailable when some remains;
 *   - the previous key (our last answer was lost): the changes since the
 *     previous state, under a new key, keeping the previous state so the
 *     answer can itself be repeated; the client's commands are applied
 *     again idempotently (a repeated flag change writes nothing; a repeated
 *     delete finds the tombstone and succeeds);
 *   - any other key: Status 3, and the device starts over from 0.
 * The client's own changes are not echoed back: their modseqs are skipped
 * (but passed) by the cursor. The whole request is one store transaction.
 *
 * Options are sticky per device and collection, and the collection set of
 * the last request is cached for empty and Partial requests
 * (sync_settings.c keeps both as text in the store).
 */
#include "eas/sync_private.h"
#include "guard/limits.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum sync_mode {
	MODE_NORMAL,
	MODE_REPLAY,
};

static void collection_fail(struct sync_result *result, int status, const char *reason)
{
	result->status = status;
	result->reason = reason;
}

/* SyncKey 0: a fresh state under a key this device never had for the folder. */
static void reset_collection(struct sync_context *ctx, struct sync_result *result, const struct store_sync_state *state)
{
	uint64_t key = (state->sync_key > state->previous_key ? state->sync_key : state->previous_key) + 1;
	if (sync_write_state_advance(ctx, result->folder.id, key, 0, &result->wanted) != STORE_OK ||
	    sync_write_suppress_forget(ctx, result->folder.id, INT64_MAX) != STORE_OK) {
		collection_fail(result, SYNC_STATUS_SERVER_ERROR, "store_error");
		return;
	}
	result->sync_key = key;
}

/* A change the device made through MoveItems counts as its own. */
static void add_suppressed(void *context, uint64_t modseq)
{
	sync_add_echo(context, modseq);
}

/* Changes the device made outside Sync (MoveItems) after its cursor, known to it already. */
static int load_suppressed(struct sync_context *ctx, struct sync_result *result)
{
	struct eas_request *r = ctx->request;
	return store_sync_suppress_list(r->session, r->device.id, result->folder.id, result->since, INT64_MAX,
					add_suppressed, result);
}

/*
 * The device's own changes the cursor did not reach (GetChanges 0, or a
 * window that stopped before them) are remembered, so a later Sync passes
 * them too instead of sending the device what it did itself.
 */
static int remember_echoes(struct sync_context *ctx, struct sync_result *result)
{
	for (unsigned i = 0; i < result->echoes.capacity; i++) {
		int64_t modseq = result->echoes.slots[i];
		if (modseq == 0 || (uint64_t)modseq <= result->cursor)
			continue;
		int status = sync_write_suppress_add(ctx, result->folder.id, (uint64_t)modseq);
		if (status != STORE_OK)
			return status;
	}
	return STORE_OK;
}

/*
 * A new key for the new cursor and window; what it passed of the
 * suppressed list is forgotten. A replay keeps the previous state as it was.
 */
static int advance(struct sync_context *ctx, struct sync_result *result, const struct store_sync_state *state,
		   enum sync_mode mode)
{
	result->sync_key = state->sync_key + 1;
	int status;
	if (mode == MODE_REPLAY) {
		struct store_sync_state next = { .sync_key = result->sync_key, .modseq = result->cursor,
						 .cutoff = result->cutoff, .previous_key = state->previous_key,
						 .previous_modseq = state->previous_modseq,
						 .previous_cutoff = state->previous_cutoff };
		status = sync_write_state_put(ctx, result->folder.id, &next);
	} else {
		status = sync_write_state_advance(ctx, result->folder.id, result->sync_key, result->cursor, &result->cutoff);
		/* ClientIds of answers before this one: the device has those answers. */
		if (status == STORE_OK)
			status = sync_write_client_id_forget(ctx, result->folder.id, result->sync_key);
	}
	if (status == STORE_OK)
		status = sync_write_suppress_forget(ctx, result->folder.id, result->cursor);
	return status;
}

static void run_collection(struct sync_context *ctx, struct sync_result *result, enum sync_mode mode,
			   const struct store_sync_state *state)
{
	struct eas_request *r = ctx->request;
	const struct sync_settings *settings = &result->collection->settings;
	uint64_t until;
	result->since = mode == MODE_REPLAY ? state->previous_modseq : state->modseq;
	result->cutoff = mode == MODE_REPLAY ? state->previous_cutoff : state->cutoff;
	result->client_key = mode == MODE_REPLAY ? state->previous_key : state->sync_key;
	result->sync_key = state->sync_key;
	result->cursor = result->since;
	/* The folder's end is read after the commands, so the cursor passes the device's own changes. */
	int status = load_suppressed(ctx, result);
	if (status == STORE_OK) {
		sync_apply_commands(ctx, result);
		status = store_folder_modseq(r->session, result->folder.id, &until);
	}
	if (status == STORE_OK && (!settings->get_changes_given || settings->get_changes))
		status = sync_collect(ctx, result, until);
	/* An idle collection keeps its key; a replay always gets a new one. */
	bool moved = result->cursor != result->since || result->outgoing_count > 0 ||
		     result->collection->command_count > 0;
	if (status == STORE_OK && (moved || mode == MODE_REPLAY))
		status = advance(ctx, result, state, mode);
	else
		result->key_kept = true;
	if (status == STORE_OK)
		status = remember_echoes(ctx, result);
	if (status != STORE_OK)
		collection_fail(result, SYNC_STATUS_SERVER_ERROR, "store_error");
}

/*
 * The collection's settings: the request's, with the sticky Options of an
 * earlier request when this one has none (MS-ASCMD 2.2.3.125.6), and all
 * of them for a collection taken from the cached request.
 */
static int load_settings(struct sync_context *ctx, struct sync_result *result, bool from_cache,
			 const char **stored_out)
{
	struct eas_request *r = ctx->request;
	struct sync_collection *collection = result->collection;
	struct sync_settings stored = collection->settings;
	int status = store_sync_settings_get(r->session, r->arena, r->device.id, result->folder.id, stored_out);
	if (status == STORE_NOT_FOUND)
		*stored_out = "";
	else if (status != STORE_OK)
		return status;
	/* Supported counts only with SyncKey 0 (MS-ASCMD 2.2.3.179 R4551: else ignored, no error); a
	   SyncKey 0 without one starts the folder over with none. */
	bool restart = slice_equals_cstr(collection->sync_key, "0");
	bool new_supported = collection->supported_given && restart;
	if (!new_supported)
		memset(&collection->settings.supported, 0, sizeof(collection->settings.supported));
	if (sync_settings_decode(*stored_out, &stored) == 0) {
		if (!restart)
			collection->settings.supported = stored.supported;
		if (from_cache) {
			collection->settings = stored;
		} else if (!collection->options_given) {
			collection->settings.filter_type = stored.filter_type;
			collection->settings.conflict = stored.conflict;
			collection->settings.options = stored.options;
		}
	}
	result->wanted = sync_filter_cutoff(result->class, collection->settings.filter_type, r->now);
	return STORE_OK;
}

/* Keeps the settings for the next request, when they changed. */
static int save_settings(struct sync_context *ctx, struct sync_result *result, const char *stored)
{
	struct eas_request *r = ctx->request;
	const char *text = sync_settings_encode(r->arena, &result->collection->settings);
	if (strcmp(text, stored) == 0)
		return STORE_OK;
	return sync_write_settings(ctx, result->folder.id, text);
}

static void process_collection(struct sync_context *ctx, struct sync_result *result)
{
	bool from_cache = result->collection->from_cache;
	struct eas_request *r = ctx->request;
	struct sync_collection *collection = result->collection;
	struct store_sync_state state = { 0 };
	const char *stored;
	uint64_t folder_id, key;
	result->status = SYNC_STATUS_SUCCESS;
	if (parse_uint64(collection->collection_id, INT64_MAX, &folder_id) < 0 ||
	    eas_folder_get(r, r->arena, (int64_t)folder_id, &result->folder) != STORE_OK) {
		collection_fail(result, SYNC_STATUS_HIERARCHY_CHANGED, "collection_unknown");
		return;
	}
	result->class = pim_class_for_folder(result->folder.type);
	eas_note_class(r, result->class->name);
	if (collection->supported_given && result->class->no_supported) {
		collection_fail(result, SYNC_STATUS_PROTOCOL_ERROR, "supported_not_allowed");
		return;
	}
	int status = store_sync_state_get(r->session, r->device.id, result->folder.id, &state);
	if ((status != STORE_OK && status != STORE_NOT_FOUND) ||
	    load_settings(ctx, result, from_cache, &stored) != STORE_OK) {
		collection_fail(result, SYNC_STATUS_SERVER_ERROR, "store_error");
		return;
	}
	if (parse_uint64(collection->sync_key, UINT64_MAX, &key) < 0) {
		collection_fail(result, SYNC_STATUS_INVALID_SYNC_KEY, "sync_key_invalid");
		return;
	}
	if (key == 0)
		reset_collection(ctx, result, &state);
	else if (key == state.sync_key)
		run_collection(ctx, result, MODE_NORMAL, &state);
	else if (key == state.previous_key)
		run_collection(ctx, result, MODE_REPLAY, &state);
	else
		collection_fail(result, SYNC_STATUS_INVALID_SYNC_KEY, "sync_key_unknown");
	if (result->status == SYNC_STATUS_SUCCESS && save_settings(ctx, result, stored) != STORE_OK)
		collection_fail(result, SYNC_STATUS_SERVER_ERROR, "store_error");
}

/*
 * Add and Fetch carry the whole item, read from the store by ranges (a
 * truncated body reads about its truncation size); a Change what the
 * class sends of a change (a message: its flags). Each item has its own
 * scratch arena, so a window of large messages does not pile up their
 * read buffers and GMime objects.
 */
static void write_application_data(struct sync_context *ctx, struct wbxml_writer *writer,
				   const struct sync_result *result, const struct store_item *item, bool whole)
{
	struct eas_request *r = ctx->request;
	struct arena *scratch = arena_new(0);
	struct pim_email_state state;
	struct pim_source source;
	struct pim_item view = { &source, &state };
	eas_email_state(scratch, result->folder.id, item, &state);
	state.user = r->user.name; /* an invitation from someone else is one to answer */
	if (eas_content_source(r, scratch, result->folder.id, item->id, &source) != STORE_OK)
		view.content = NULL;
	wbxml_writer_start(writer, WBXML_AIRSYNC_APPLICATION_DATA);
	result->class->write(result->class, writer, scratch, &view, &result->collection->settings.options, whole);
	wbxml_writer_end(writer);
	arena_free(&scratch);
}

static void write_commands(struct sync_context *ctx, struct wbxml_writer *writer, const struct sync_result *result)
{
	static const enum wbxml_tag tags[] = { [SEND_ADD] = WBXML_AIRSYNC_ADD, [SEND_CHANGE] = WBXML_AIRSYNC_CHANGE,
					       [SEND_DELETE] = WBXML_AIRSYNC_DELETE,
					       [SEND_SOFT_DELETE] = WBXML_AIRSYNC_SOFT_DELETE };
	if (result->outgoing_count == 0)
		return;
	wbxml_writer_start(writer, WBXML_AIRSYNC_COMMANDS);
	for (unsigned i = 0; i < result->outgoing_count; i++) {
		const struct sync_outgoing *outgoing = &result->outgoing[i];
		wbxml_writer_start(writer, tags[outgoing->kind]);
		eas_server_id_write(writer, WBXML_AIRSYNC_SERVER_ID, result->folder.id, outgoing->item.id);
		if (outgoing->kind == SEND_ADD || outgoing->kind == SEND_CHANGE)
			write_application_data(ctx, writer, result, &outgoing->item, outgoing->kind == SEND_ADD);
		wbxml_writer_end(writer);
	}
	wbxml_writer_end(writer);
}

static void write_responses(struct sync_context *ctx, struct wbxml_writer *writer, const struct sync_result *result)
{
	static const enum wbxml_tag tags[] = { [SYNC_ADD] = WBXML_AIRSYNC_ADD, [SYNC_CHANGE] = WBXML_AIRSYNC_CHANGE,
					       [SYNC_DELETE] = WBXML_AIRSYNC_DELETE, [SYNC_FETCH] = WBXML_AIRSYNC_FETCH };
	if (result->response_count == 0)
		return;
	wbxml_writer_start(writer, WBXML_AIRSYNC_RESPONSES);
	for (unsigned i = 0; i < result->response_count; i++) {
		const struct sync_response *response = &result->responses[i];
		const struct sync_command *command = response->command;
		wbxml_writer_start(writer, tags[command->kind]);
		if (command->kind == SYNC_ADD) {
			wbxml_writer_element_string(writer, WBXML_AIRSYNC_CLIENT_ID, command->client_id.data,
						    command->client_id.len);
			if (response->status == SYNC_STATUS_SUCCESS)
				eas_server_id_write(writer, WBXML_AIRSYNC_SERVER_ID, result->folder.id, response->item_id);
		} else
			wbxml_writer_element_string(writer, WBXML_AIRSYNC_SERVER_ID, command->server_id.data,
						    command->server_id.len);
		wbxml_writer_element_uint(writer, WBXML_AIRSYNC_STATUS, (uint64_t)response->status);
		if (command->kind == SYNC_FETCH && response->status == SYNC_STATUS_SUCCESS) {
			struct store_item item;
			if (store_item_get(ctx->request->session, ctx->request->arena, result->folder.id,
					   response->item_id, &item) == STORE_OK)
				write_application_data(ctx, writer, result, &item, true);
		}
		wbxml_writer_end(writer);
	}
	wbxml_writer_end(writer);
}

static void write_collection(struct sync_context *ctx, struct wbxml_writer *writer, const struct sync_result *result)
{
	const struct sync_collection *collection = result->collection;
	wbxml_writer_start(writer, WBXML_AIRSYNC_COLLECTION);
	if (result->status == SYNC_STATUS_SUCCESS)
		wbxml_writer_element_uint(writer, WBXML_AIRSYNC_SYNC_KEY, result->sync_key);
	else
		wbxml_writer_element_string(writer, WBXML_AIRSYNC_SYNC_KEY, collection->sync_key.data,
					    collection->sync_key.len);
	wbxml_writer_element_string(writer, WBXML_AIRSYNC_COLLECTION_ID, collection->collection_id.data,
				    collection->collection_id.len);
	wbxml_writer_element_uint(writer, WBXML_AIRSYNC_STATUS, (uint64_t)result->status);
	if (result->status == SYNC_STATUS_SUCCESS) {
		if (result->more_available)
			wbxml_writer_empty(writer, WBXML_AIRSYNC_MORE_AVAILABLE);
		write_commands(ctx, writer, result);
		write_responses(ctx, writer, result);
	}
	wbxml_writer_end(writer);
}

void sync_answer_status(struct eas_request *request, int status, const char *reason)
{
	struct wbxml_writer writer;
	eas_writer_init(request, &writer);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_SYNC);
	wbxml_writer_element_uint(&writer, WBXML_AIRSYNC_STATUS, (uint64_t)status);
	wbxml_writer_end(&writer);
	eas_writer_finish(request, &writer);
	request->eas_status = status;
	request->reason = reason;
}

static void write_response(struct sync_context *ctx)
{
	struct eas_request *r = ctx->request;
	struct wbxml_writer writer;
	eas_writer_init(r, &writer);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_SYNC);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_COLLECTIONS);
	for (unsigned i = 0; i < ctx->sync.collection_count; i++) {
		const struct sync_result *result = &ctx->results[i];
		write_collection(ctx, &writer, result);
		/* The log shows the first collection that did not succeed, else the first item. */
		if (result->status != SYNC_STATUS_SUCCESS && r->eas_status <= SYNC_STATUS_SUCCESS) {
			r->eas_status = result->status;
			r->reason = result->reason;
		} else if (result->item_reason != NULL && r->reason == NULL) {
			r->reason = result->item_reason;
		}
	}
	wbxml_writer_end(&writer);
	wbxml_writer_end(&writer);
	eas_writer_finish(r, &writer);
	if (r->eas_status == 0)
		r->eas_status = SYNC_STATUS_SUCCESS;
}

static bool names_collection(const struct sync_request *sync, int64_t id)
{
	for (unsigned i = 0; i < sync->collection_count; i++) {
		uint64_t named;
		if (parse_uint64(sync->collections[i].collection_id, INT64_MAX, &named) == 0 && (int64_t)named == id)
			return true;
	}
	return false;
}

struct sync_collection *sync_add_collection(struct sync_context *ctx, int64_t id, uint64_t key)
{
	struct eas_request *r = ctx->request;
	struct sync_collection *collection = sync_collection_add(r, &ctx->sync);
	if (collection == NULL)
		return NULL;
	char text[24];
	int len = snprintf(text, sizeof(text), "%" PRId64, id);
	collection->collection_id = (struct slice){ (const uint8_t *)arena_strndup(r->arena, text, (size_t)len), (size_t)len };
	len = snprintf(text, sizeof(text), "%" PRIu64, key);
	collection->sync_key = (struct slice){ (const uint8_t *)arena_strndup(r->arena, text, (size_t)len), (size_t)len };
	collection->from_cache = true;
	return collection;
}

/* A cached collection the request leaves out, at the device's current key, with its stored settings. */
static int add_cached_collection(struct sync_context *ctx, int64_t id)
{
	struct eas_request *r = ctx->request;
	struct store_sync_state state;
	int status = store_sync_state_get(r->session, r->device.id, id, &state);
	if (status == STORE_NOT_FOUND)
		return STORE_OK; /* forgotten since: the device starts it over itself */
	if (status != STORE_OK)
		return status;
	sync_add_collection(ctx, id, state.sync_key);
	return STORE_OK;
}

/* The request as it stands for the next empty or Partial one. */
static int save_cache(struct sync_context *ctx, const char *stored)
{
	struct eas_request *r = ctx->request;
	struct sync_cache *cache = arena_calloc(r->arena, 1, sizeof(*cache));
	cache->window_size = ctx->sync.window_size;
	cache->wait_seconds = ctx->sync.wait_seconds;
	for (unsigned i = 0; i < ctx->sync.collection_count; i++) {
		uint64_t id;
		if (parse_uint64(ctx->sync.collections[i].collection_id, INT64_MAX, &id) == 0 && id > 0)
			cache->ids[cache->count++] = (int64_t)id;
	}
	const char *text = sync_cache_encode(r->arena, cache);
	if (strcmp(text, stored) == 0)
		return STORE_OK;
	return sync_write_cache(ctx, text);
}

/*
 * The collections to run (MS-ASCMD 2.2.1.21.1, 2.2.3.131): an empty request
 * stands for the cached one, a Partial one (or one without Collections)
 * adds the cached collections it leaves out. Every request with a body
 * becomes the new cache. Returns 0, or a Sync status with *reason set.
 */
static int gather_collections(struct sync_context *ctx, bool empty, const char **reason)
{
	struct eas_request *r = ctx->request;
	struct sync_cache *cache = arena_calloc(r->arena, 1, sizeof(*cache));
	const char *stored = "";
	int status = store_request_cache_get(r->session, r->arena, r->device.id, STORE_CACHE_SYNC, &stored);
	if (status != STORE_OK && status != STORE_NOT_FOUND) {
		*reason = "store_error";
		return SYNC_STATUS_SERVER_ERROR;
	}
	bool cached = status == STORE_OK && sync_cache_decode(stored, cache) == 0;
	if (cached && (empty || ctx->sync.partial || ctx->sync.collection_count == 0)) {
		for (unsigned i = 0; i < cache->count; i++)
			if (!names_collection(&ctx->sync, cache->ids[i]) && add_cached_collection(ctx, cache->ids[i]) != STORE_OK) {
				*reason = "store_error";
				return SYNC_STATUS_SERVER_ERROR;
			}
		if (ctx->sync.window_size == 0)
			ctx->sync.window_size = cache->window_size;
		/* The wait is part of the request an empty or Partial one repeats (MS-ASCMD 2.2.3.131 R3646). */
		if (!ctx->sync.has_wait && !ctx->sync.has_heartbeat)
			ctx->sync.wait_seconds = cache->wait_seconds;
	}
	if (ctx->sync.collection_count == 0) {
		*reason = empty ? "no_cached_request" : "no_collections";
		return SYNC_STATUS_EMPTY_REQUEST;
	}
	if (!empty && !ctx->resumed && save_cache(ctx, stored) != STORE_OK) {
		*reason = "store_error";
		return SYNC_STATUS_SERVER_ERROR;
	}
	return 0;
}

/*
 * Nothing to tell: every collection succeeded, keeps its key and has no
 * command or answer. The response is then empty (MS-ASCMD 2.2.1.21.2) and
 * the device keeps its keys.
 */
static bool nothing_to_say(const struct sync_context *ctx)
{
	for (unsigned i = 0; i < ctx->sync.collection_count; i++) {
		const struct sync_result *result = &ctx->results[i];
		if (result->status != SYNC_STATUS_SUCCESS || !result->key_kept || result->outgoing_count > 0 ||
		    result->response_count > 0 || result->more_available)
			return false;
	}
	return true;
}

/* Runs every collection inside the one transaction; returns 0 or a request-level status. */
static int run_collections(struct sync_context *ctx, bool empty, const char **reason)
{
	struct eas_request *r = ctx->request;
	int status = gather_collections(ctx, empty, reason);
	if (status != 0)
		return status;
	if (ctx->sync.window_size != 0 && r->protocol_version >= 140)
		ctx->budget = ctx->sync.window_size > SYNC_MAX_WINDOW ? SYNC_MAX_WINDOW : ctx->sync.window_size;
	ctx->results = arena_calloc(r->arena, ctx->sync.collection_count, sizeof(*ctx->results));
	for (unsigned i = 0; i < ctx->sync.collection_count; i++) {
		ctx->results[i].ctx = ctx;
		ctx->results[i].collection = &ctx->sync.collections[i];
		process_collection(ctx, &ctx->results[i]);
	}
	ctx->quiet = nothing_to_say(ctx);
	if (ctx->quiet)
		r->eas_status = SYNC_STATUS_SUCCESS;
	else
		write_response(ctx);
	return 0;
}

/*
 * Whether the request needs its writes at once: client commands (what is
 * sent must see them), or a collection named twice (its second run must
 * see the first one's new state, as it always has).
 */
static bool needs_immediate_writes(const struct sync_request *sync)
{
	for (unsigned i = 0; i < sync->collection_count; i++) {
		if (sync->collections[i].command_count > 0)
			return true;
		for (unsigned j = i + 1; j < sync->collection_count; j++)
			if (slice_equals(sync->collections[i].collection_id, sync->collections[j].collection_id))
				return true;
	}
	return false;
}

/*
 * One transaction: a write transaction when the client sent commands; a
 * read transaction otherwise, its writes queued and made after it in a
 * short one (sync_writes.c), so converting and encoding never hold the
 * database's write lock. Returns 0, or a Sync status with *reason set.
 */
static int run_transaction(struct sync_context *ctx, bool empty, const char **reason)
{
	struct store_session *session = ctx->request->session;
	ctx->deferring = !needs_immediate_writes(&ctx->sync);
	ctx->writes_tail = &ctx->writes;
	if ((ctx->deferring ? store_begin_read(session) : store_begin(session)) != STORE_OK) {
		*reason = "store_busy";
		return SYNC_STATUS_RETRY;
	}
	int status = run_collections(ctx, empty, reason);
	if (status != 0) {
		store_rollback(session);
		return status;
	}
	if (store_commit(session) != STORE_OK || sync_writes_flush(ctx) != STORE_OK) {
		ctx->request->response.len = 0;
		ctx->quiet = false;
		*reason = "store_commit_failed";
		return SYNC_STATUS_SERVER_ERROR;
	}
	return 0;
}

void sync_run(struct sync_context *ctx, bool empty)
{
	struct eas_request *request = ctx->request;
	const char *reason = NULL;
	/* One device's Syncs never run side by side: a retry racing its
	   original waits for it (up to the busy timeout, else Status 16) and
	   then finds the original's key as the previous one. Other devices
	   are not held up. */
	if (store_device_lock(request->session, request->device.id) != STORE_OK) {
		sync_answer_status(request, SYNC_STATUS_RETRY, "device_busy");
		return;
	}
	int status = run_transaction(ctx, empty, &reason);
	store_device_unlock(request->session);
	if (status != 0)
		sync_answer_status(request, status, reason);
}

void eas_sync(struct eas_request *request)
{
	struct sync_context ctx = { .request = request, .budget = UINT32_MAX,
				    .bytes_left = LIMIT_SYNC_RESPONSE_BYTES };
	const char *reason = NULL;
	bool empty = request->body.len == 0;
	int status = empty ? 0 : sync_request_parse(request, &ctx.sync, &reason);
	if (status != 0) {
		sync_answer_status(request, status, reason);
		return;
	}
	if (sync_wait_check(&ctx) < 0)
		return;
	uint64_t generation = push_hub_generation(request->server->push, request->user.id);
	sync_run(&ctx, empty);
	sync_wait_park(&ctx, generation, 0);
}
