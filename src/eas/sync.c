/*
 * sync.c: the Sync command (MS-ASCMD 2.2.1.21) for every collection.
 *
 * A collection's state is (sync_key, modseq) plus the previous pair, per
 * device and folder. modseq is a cursor into the folder's changes (see
 * store_items.c): everything up to it has reached the device. A request
 * with
 *   - SyncKey 0: a new key, no items, cursor 0 (the next request sends all);
 *   - the current key: the client's commands are applied, then the changes
 *     after the cursor are sent, at most WindowSize of them, with
 *     MoreAvailable when some remain; the new cursor is the last change sent;
 *   - the previous key (our last answer was lost): the changes since the
 *     previous state, under a new key, keeping the previous state so the
 *     answer can itself be repeated; the client's commands are applied
 *     again idempotently (a repeated flag change writes nothing; a repeated
 *     delete finds the tombstone and succeeds);
 *   - any other key: Status 3, and the device starts over from 0.
 * The client's own changes are not echoed back: their modseqs are skipped
 * (but passed) by the cursor. The whole request is one store transaction.
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

/* A client command's answer, when there is one (failures, Fetch, Add). */
struct sync_response {
	const struct sync_command *command;
	int status;
	int64_t item_id;            /* Fetch: the item to send */
};

/* What one collection of the request comes to. */
struct sync_result {
	struct sync_context *ctx;
	struct sync_collection *collection;
	int status;
	const char *reason;
	struct store_folder folder;
	uint64_t sync_key;          /* the key to answer */
	uint64_t since;             /* the client's cursor */
	bool more_available;
	struct sync_response *responses;
	unsigned response_count;
	uint64_t *echoes;           /* modseqs of the client's own changes */
	unsigned echo_count;
	unsigned echo_capacity;
	struct store_item *outgoing;
	unsigned outgoing_count;
	unsigned outgoing_capacity;
	unsigned window;
	uint64_t cursor;
};

struct sync_context {
	struct eas_request *request;
	struct sync_request sync;
	struct sync_result *results;
	unsigned budget;            /* [14.0+] Sync-level WindowSize left */
	uint64_t bytes_left;        /* of LIMIT_SYNC_RESPONSE_BYTES */
};

static unsigned window_of(const struct sync_collection *collection)
{
	unsigned window = collection->window_size == 0 ? SYNC_DEFAULT_WINDOW : collection->window_size;
	return window > SYNC_MAX_WINDOW ? SYNC_MAX_WINDOW : window;
}

static void add_response(struct sync_context *ctx, struct sync_result *result,
			 const struct sync_command *command, int status, int64_t item_id)
{
	if (result->responses == NULL)
		result->responses = arena_calloc(ctx->request->arena, result->collection->command_count,
						 sizeof(*result->responses));
	result->responses[result->response_count++] = (struct sync_response){ command, status, item_id };
}

static void add_echo(struct sync_context *ctx, struct sync_result *result, uint64_t modseq)
{
	if (result->echo_count == result->echo_capacity) {
		unsigned capacity = result->echo_capacity == 0 ? 16 : result->echo_capacity * 2;
		uint64_t *grown = arena_alloc(ctx->request->arena, capacity * sizeof(*grown));
		if (result->echo_count > 0)
			memcpy(grown, result->echoes, result->echo_count * sizeof(*grown));
		result->echoes = grown;
		result->echo_capacity = capacity;
	}
	result->echoes[result->echo_count++] = modseq;
}

/* A change the device made through MoveItems counts as its own. */
static void add_suppressed(void *context, uint64_t modseq)
{
	struct sync_result *result = context;
	add_echo(result->ctx, result, modseq);
}

static bool is_echo(const struct sync_result *result, uint64_t modseq)
{
	for (unsigned i = 0; i < result->echo_count; i++)
		if (result->echoes[i] == modseq)
			return true;
	return false;
}

/* Store status of a command -> item Status; a tombstone counts as deleted. */
static int change_item(struct sync_context *ctx, struct sync_result *result, const struct sync_command *command,
		       const struct store_item *item)
{
	struct eas_request *r = ctx->request;
	bool read = item->read;
	uint8_t flag_status = item->flag_status;
	const char *categories = item->categories;
	if (command->changed_fields & PIM_EMAIL_FIELD_READ)
		read = command->change.read;
	if (command->changed_fields & PIM_EMAIL_FIELD_FLAG)
		flag_status = command->change.flag_status;
	if (command->changed_fields & PIM_EMAIL_FIELD_CATEGORIES) {
		struct buf joined;
		buf_init(&joined, 4096);
		for (unsigned i = 0; i < 8 && command->change.categories[i] != NULL; i++) {
			if (i > 0)
				buf_append_byte(&joined, '\n');
			buf_append_cstr(&joined, command->change.categories[i]);
		}
		categories = arena_strndup(r->arena, joined.data != NULL ? joined.data : (const uint8_t *)"", joined.len);
		buf_cleanup(&joined);
	}
	uint64_t modseq;
	int status = store_item_set_flags(r->session, r->user.id, result->folder.id, item->id, read, flag_status,
					  categories, &modseq);
	if (status == STORE_OK)
		add_echo(ctx, result, modseq);
	return status;
}

static int delete_item(struct sync_context *ctx, struct sync_result *result, const struct store_item *item)
{
	struct eas_request *r = ctx->request;
	uint64_t modseq;
	int64_t trash;
	int status;
	/* DeletesAsMoves (default 1): into Deleted Items, unless already there. */
	if (result->collection->deletes_as_moves && result->folder.type != STORE_FOLDER_DELETED &&
	    store_folder_find_type(r->session, r->user.id, STORE_FOLDER_DELETED, &trash) == STORE_OK)
		status = store_item_move(r->session, r->user.id, result->folder.id, item->id, trash, NULL, &modseq, NULL);
	else
		status = store_item_delete(r->session, r->user.id, result->folder.id, item->id, &modseq);
	if (status == STORE_OK)
		add_echo(ctx, result, modseq);
	return status;
}

static void apply_command(struct sync_context *ctx, struct sync_result *result, const struct sync_command *command)
{
	struct eas_request *r = ctx->request;
	struct store_item item;
	int64_t item_id;
	if (command->kind == SYNC_ADD) {
		/* Email Add is only for Drafts in 16.x; not served yet. */
		add_response(ctx, result, command, SYNC_STATUS_CONVERSION_ERROR, 0);
		return;
	}
	if (eas_server_id_parse(command->server_id, result->folder.id, &item_id) < 0 ||
	    store_item_get(r->session, r->arena, result->folder.id, item_id, &item) != STORE_OK) {
		add_response(ctx, result, command, SYNC_STATUS_NOT_FOUND, 0);
		return;
	}
	int status = STORE_OK;
	if (command->kind == SYNC_FETCH) {
		add_response(ctx, result, command, item.deleted ? SYNC_STATUS_NOT_FOUND : SYNC_STATUS_SUCCESS, item.id);
		return;
	}
	if (item.deleted) {
		/* Already gone: a Delete repeated after a lost answer succeeds. */
		if (command->kind == SYNC_CHANGE)
			add_response(ctx, result, command, SYNC_STATUS_NOT_FOUND, 0);
		return;
	}
	if (command->kind == SYNC_CHANGE && command->has_change)
		status = change_item(ctx, result, command, &item);
	else if (command->kind == SYNC_DELETE)
		status = delete_item(ctx, result, &item);
	if (status != STORE_OK)
		add_response(ctx, result, command, SYNC_STATUS_SERVER_ERROR, 0);
}

static bool take_change(void *context, const struct store_item *item)
{
	struct sync_result *result = context;
	struct sync_context *ctx = result->ctx;
	bool client_has = item->created_modseq <= result->since;
	if (is_echo(result, item->modseq) || (item->deleted && !client_has)) {
		result->cursor = item->modseq; /* passed, nothing to send */
		return true;
	}
	uint64_t weight = item->deleted ? 64 : eas_email_estimated_bytes(&result->collection->options, item->size);
	if (result->outgoing_count == result->window ||
	    (result->outgoing_count > 0 && weight > ctx->bytes_left)) {
		result->more_available = true;
		return false;
	}
	ctx->bytes_left = weight > ctx->bytes_left ? 0 : ctx->bytes_left - weight;
	if (result->outgoing_count == result->outgoing_capacity) {
		unsigned capacity = result->outgoing_capacity == 0 ? 32 : result->outgoing_capacity * 2;
		struct store_item *grown = arena_alloc(ctx->request->arena, capacity * sizeof(*grown));
		if (result->outgoing_count > 0)
			memcpy(grown, result->outgoing, result->outgoing_count * sizeof(*grown));
		result->outgoing = grown;
		result->outgoing_capacity = capacity;
	}
	result->outgoing[result->outgoing_count++] = *item;
	result->cursor = item->modseq;
	return true;
}

/* Server changes in (since, until], at most the window; sets the cursor. */
static int collect_changes(struct sync_context *ctx, struct sync_result *result, uint64_t until)
{
	struct eas_request *r = ctx->request;
	result->window = window_of(result->collection);
	if (ctx->budget < result->window)
		result->window = ctx->budget;
	result->cursor = result->since;
	int status = store_item_changes(r->session, r->arena, result->folder.id, result->since, until, 0,
					take_change, result);
	if (status != STORE_OK)
		return status;
	if (!result->more_available)
		result->cursor = until;
	ctx->budget -= result->outgoing_count;
	return STORE_OK;
}

static void collection_fail(struct sync_result *result, int status, const char *reason)
{
	result->status = status;
	result->reason = reason;
}

/* SyncKey 0: a fresh state under a key this device never had for the folder. */
static void reset_collection(struct sync_context *ctx, struct sync_result *result, const struct store_sync_state *state)
{
	struct eas_request *r = ctx->request;
	uint64_t key = (state->sync_key > state->previous_key ? state->sync_key : state->previous_key) + 1;
	if (store_sync_state_advance(r->session, r->device.id, result->folder.id, key, 0) != STORE_OK ||
	    store_sync_suppress_forget(r->session, r->device.id, result->folder.id, INT64_MAX) != STORE_OK) {
		collection_fail(result, SYNC_STATUS_SERVER_ERROR, "store_error");
		return;
	}
	result->sync_key = key;
}

/* Changes the device knows already: its own in this request (added as
   they are applied) and those it made through MoveItems. */
static int load_suppressed(struct sync_context *ctx, struct sync_result *result, uint64_t until)
{
	struct eas_request *r = ctx->request;
	return store_sync_suppress_list(r->session, r->device.id, result->folder.id, result->since, until,
					add_suppressed, result);
}

/*
 * The device's own changes the cursor did not reach (GetChanges 0, or a
 * window that stopped before them) are remembered, so a later Sync passes
 * them too instead of sending the device what it did itself.
 */
static int remember_echoes(struct sync_context *ctx, struct sync_result *result)
{
	struct eas_request *r = ctx->request;
	for (unsigned i = 0; i < result->echo_count; i++) {
		if (result->echoes[i] <= result->cursor)
			continue;
		int status = store_sync_suppress_add(r->session, r->device.id, result->folder.id, result->echoes[i]);
		if (status != STORE_OK)
			return status;
	}
	return STORE_OK;
}

/*
 * A new key for the new cursor; what it passed of the suppressed list is
 * forgotten. A replay keeps the previous state as it was.
 */
static int advance(struct sync_context *ctx, struct sync_result *result, const struct store_sync_state *state,
		   enum sync_mode mode)
{
	struct eas_request *r = ctx->request;
	result->sync_key = state->sync_key + 1;
	int status;
	if (mode == MODE_REPLAY) {
		struct store_sync_state next = { result->sync_key, result->cursor, state->previous_key,
						 state->previous_modseq };
		status = store_sync_state_put(r->session, r->device.id, result->folder.id, &next);
	} else {
		status = store_sync_state_advance(r->session, r->device.id, result->folder.id, result->sync_key,
						  result->cursor);
	}
	if (status == STORE_OK)
		status = store_sync_suppress_forget(r->session, r->device.id, result->folder.id, result->cursor);
	return status;
}

static void run_collection(struct sync_context *ctx, struct sync_result *result, enum sync_mode mode,
			   const struct store_sync_state *state)
{
	struct eas_request *r = ctx->request;
	struct sync_collection *collection = result->collection;
	uint64_t until;
	result->since = mode == MODE_REPLAY ? state->previous_modseq : state->modseq;
	result->sync_key = state->sync_key;
	result->cursor = result->since;
	for (unsigned i = 0; i < collection->command_count; i++)
		apply_command(ctx, result, &collection->commands[i]);
	bool get_changes = collection->get_changes_given ? collection->get_changes : true;
	int status = store_folder_modseq(r->session, result->folder.id, &until);
	if (status == STORE_OK)
		status = load_suppressed(ctx, result, until);
	if (status == STORE_OK && get_changes)
		status = collect_changes(ctx, result, until);
	/* An idle collection keeps its key; a replay always gets a new one. */
	bool moved = result->cursor != result->since || collection->command_count > 0;
	if (status == STORE_OK && (moved || mode == MODE_REPLAY))
		status = advance(ctx, result, state, mode);
	if (status == STORE_OK)
		status = remember_echoes(ctx, result);
	if (status != STORE_OK)
		collection_fail(result, SYNC_STATUS_SERVER_ERROR, "store_error");
}

static void process_collection(struct sync_context *ctx, struct sync_result *result)
{
	struct eas_request *r = ctx->request;
	struct sync_collection *collection = result->collection;
	struct store_sync_state state = { 0 };
	uint64_t folder_id, key;
	result->status = SYNC_STATUS_SUCCESS;
	if (parse_uint64(collection->collection_id, INT64_MAX, &folder_id) < 0 ||
	    store_folder_get(r->session, r->arena, r->user.id, (int64_t)folder_id, &result->folder) != STORE_OK) {
		collection_fail(result, SYNC_STATUS_HIERARCHY_CHANGED, "collection_unknown");
		return;
	}
	int status = store_sync_state_get(r->session, r->device.id, result->folder.id, &state);
	if (status != STORE_OK && status != STORE_NOT_FOUND) {
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
}

/* Add and Fetch carry the whole item; a Change of a message only its flags. */
static void write_application_data(struct sync_context *ctx, struct wbxml_writer *writer,
				   const struct sync_result *result, const struct store_item *item, bool whole)
{
	struct eas_request *r = ctx->request;
	struct pim_email_state state;
	struct slice mime;
	eas_email_state(r->arena, result->folder.id, item, &state);
	wbxml_writer_start(writer, WBXML_AIRSYNC_APPLICATION_DATA);
	if (!whole ||
	    store_item_content(r->session, r->arena, result->folder.id, item->id, &mime) != STORE_OK ||
	    pim_email_write(writer, r->arena, mime.data, mime.len, &result->collection->options, &state) < 0)
		pim_email_write_flags(writer, &state, r->protocol_version);
	wbxml_writer_end(writer);
}

static void write_commands(struct sync_context *ctx, struct wbxml_writer *writer, const struct sync_result *result)
{
	if (result->outgoing_count == 0)
		return;
	wbxml_writer_start(writer, WBXML_AIRSYNC_COMMANDS);
	for (unsigned i = 0; i < result->outgoing_count; i++) {
		const struct store_item *item = &result->outgoing[i];
		if (item->deleted) {
			wbxml_writer_start(writer, WBXML_AIRSYNC_DELETE);
			eas_server_id_write(writer, WBXML_AIRSYNC_SERVER_ID, result->folder.id, item->id);
			wbxml_writer_end(writer);
			continue;
		}
		bool added = item->created_modseq > result->since;
		wbxml_writer_start(writer, added ? WBXML_AIRSYNC_ADD : WBXML_AIRSYNC_CHANGE);
		eas_server_id_write(writer, WBXML_AIRSYNC_SERVER_ID, result->folder.id, item->id);
		write_application_data(ctx, writer, result, item, added);
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
		if (command->kind == SYNC_ADD)
			wbxml_writer_element_string(writer, WBXML_AIRSYNC_CLIENT_ID, command->client_id.data,
						    command->client_id.len);
		else
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

static void answer_request_status(struct eas_request *request, int status, const char *reason)
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
		/* The log shows the first collection that did not succeed. */
		if (result->status != SYNC_STATUS_SUCCESS && r->eas_status <= SYNC_STATUS_SUCCESS) {
			r->eas_status = result->status;
			r->reason = result->reason;
		}
	}
	wbxml_writer_end(&writer);
	wbxml_writer_end(&writer);
	eas_writer_finish(r, &writer);
	if (r->eas_status == 0)
		r->eas_status = SYNC_STATUS_SUCCESS;
}

void eas_sync(struct eas_request *request)
{
	struct sync_context ctx = { .request = request, .budget = UINT32_MAX,
				    .bytes_left = LIMIT_SYNC_RESPONSE_BYTES };
	const char *reason = NULL;
	/* An empty body or Partial asks for the cached request, which easd does not keep yet. */
	if (request->body.len == 0) {
		answer_request_status(request, SYNC_STATUS_EMPTY_REQUEST, "no_cached_request");
		return;
	}
	int status = sync_request_parse(request, &ctx.sync, &reason);
	if (status != 0) {
		answer_request_status(request, status, reason);
		return;
	}
	if (ctx.sync.partial) {
		answer_request_status(request, SYNC_STATUS_EMPTY_REQUEST, "partial_not_cached");
		return;
	}
	if (ctx.sync.window_size != 0 && request->protocol_version >= 140)
		ctx.budget = ctx.sync.window_size > SYNC_MAX_WINDOW ? SYNC_MAX_WINDOW : ctx.sync.window_size;
	ctx.results = arena_calloc(request->arena, ctx.sync.collection_count + 1, sizeof(*ctx.results));
	/* The transaction serialises requests of one device on one collection
	   (SQLite has one writer): a retry racing its original waits up to the
	   busy timeout, then sees the original's key as the previous one. If
	   the wait runs out, Status 16 asks the device to send it again. */
	if (store_begin(request->session) != STORE_OK) {
		answer_request_status(request, SYNC_STATUS_RETRY, "store_busy");
		return;
	}
	for (unsigned i = 0; i < ctx.sync.collection_count; i++) {
		ctx.results[i].ctx = &ctx;
		ctx.results[i].collection = &ctx.sync.collections[i];
		process_collection(&ctx, &ctx.results[i]);
	}
	write_response(&ctx);
	if (store_commit(request->session) != STORE_OK) {
		request->response.len = 0;
		answer_request_status(request, SYNC_STATUS_SERVER_ERROR, "store_commit_failed");
	}
}
