/*
 * sync_apply.c: the client's commands of a Sync collection (MS-ASCMD
 * 2.2.3.32): Add, Change, Delete (of an item, or with InstanceId of one
 * occurrence), Fetch. The folder's class reads each ApplicationData (kept
 * as a mark into the request until then), makes the item of an Add and
 * merges a Change; this file stores what it says. Each command stands
 * alone: one that fails gets its own Status in Responses and the others go
 * on. Every change the client makes is remembered as an echo so the server
 * does not send it back.
 *
 * Applying is idempotent, so a request repeated after a lost answer does
 * no harm: a change that sets what is already there writes nothing (and is
 * no conflict), a delete that finds a tombstone succeeds, an Add whose
 * ClientId created an item before answers that item's ServerId again.
 */
#include "eas/sync_private.h"

#include <stdio.h>
#include <string.h>

#include "guard/limits.h"

/* The log's word for an item that failed, so an administrator sees which device sends what. */
static const char *item_reason(int status)
{
	switch (status) {
	case SYNC_STATUS_CONVERSION_ERROR: return "item_invalid";
	case SYNC_STATUS_CONFLICT: return "item_conflict";
	case SYNC_STATUS_NOT_FOUND: return "item_not_found";
	default: return "item_failed";
	}
}

/* detail: the class's word for a refused item (Status 6), NULL for the status's own. */
static void add_response_because(struct sync_context *ctx, struct sync_result *result,
				 const struct sync_command *command, int status, int64_t item_id, const char *detail)
{
	if (status != SYNC_STATUS_SUCCESS && result->item_reason == NULL)
		result->item_reason = detail != NULL && status == SYNC_STATUS_CONVERSION_ERROR ? detail : item_reason(status);
	if (result->responses == NULL)
		result->responses = arena_calloc(ctx->request->arena, result->collection->command_count,
						 sizeof(*result->responses));
	result->responses[result->response_count++] = (struct sync_response){ command, status, item_id };
}

static void add_response(struct sync_context *ctx, struct sync_result *result,
			 const struct sync_command *command, int status, int64_t item_id)
{
	add_response_because(ctx, result, command, status, item_id, NULL);
}

/* Fibonacci hashing: ids are sequential, the multiplier spreads them over the slots. */
static unsigned id_slot(int64_t id, unsigned capacity)
{
	return (unsigned)(((uint64_t)id * 0x9E3779B97F4A7C15u) >> 32) & (capacity - 1);
}

static void id_set_place(int64_t *slots, unsigned capacity, int64_t id)
{
	unsigned i = id_slot(id, capacity);
	while (slots[i] != 0 && slots[i] != id)
		i = (i + 1) & (capacity - 1);
	slots[i] = id;
}

void sync_id_set_add(struct arena *arena, struct sync_id_set *set, int64_t id)
{
	if (sync_id_set_has(set, id))
		return;
	/* At most half full, so a probe ends soon. */
	if ((set->count + 1) * 2 > set->capacity) {
		unsigned capacity = set->capacity == 0 ? 32 : set->capacity * 2;
		int64_t *slots = arena_calloc(arena, capacity, sizeof(*slots));
		for (unsigned i = 0; i < set->capacity; i++)
			if (set->slots[i] != 0)
				id_set_place(slots, capacity, set->slots[i]);
		set->slots = slots;
		set->capacity = capacity;
	}
	id_set_place(set->slots, set->capacity, id);
	set->count++;
}

bool sync_id_set_has(const struct sync_id_set *set, int64_t id)
{
	if (set->capacity == 0)
		return false;
	for (unsigned i = id_slot(id, set->capacity); set->slots[i] != 0; i = (i + 1) & (set->capacity - 1))
		if (set->slots[i] == id)
			return true;
	return false;
}

void sync_add_echo(struct sync_result *result, uint64_t modseq)
{
	sync_id_set_add(result->ctx->request->arena, &result->echoes, (int64_t)modseq);
}

bool sync_is_echo(const struct sync_result *result, uint64_t modseq)
{
	return sync_id_set_has(&result->echoes, (int64_t)modseq);
}

bool sync_is_own_item(const struct sync_result *result, int64_t item_id)
{
	return sync_id_set_has(&result->own_items, item_id);
}

/*
 * Whether the device has the item as it is: no change since its cursor
 * but its own. Only then is its change an echo not to send back; else the
 * item goes out whole with the changes, so the device also learns what the
 * server changed beside it.
 */
static bool device_is_current(const struct sync_result *result, const struct store_item *item)
{
	return item->modseq <= result->since || sync_is_echo(result, item->modseq);
}

/*
 * iOS 8.2 and later send an empty Picture in every Change of a contact
 * whose picture they did not make (field-notes F-CNT-2, Horde's
 * QUIRK_INCORRECTLY_SENDS_EMPTY_PICTURE_TAG): it clears nothing.
 */
static bool sends_empty_pictures(const struct store_device *device)
{
	return strncmp(device->device_type, "iP", 2) == 0 ||
	       (device->user_agent != NULL && strncmp(device->user_agent, "Apple-", 6) == 0);
}

/* What the class needs to know of the device that writes. */
static void author_of(const struct sync_context *ctx, const struct sync_result *result, struct pim_author *author)
{
	const struct eas_request *r = ctx->request;
	*author = (struct pim_author){ .protocol_version = r->protocol_version, .folder_type = result->folder.type,
				       .user = r->user.name, .now = r->now,
				       .options = &result->collection->settings.options,
				       .supported = &result->collection->settings.supported,
				       .keep_omitted = !r->config->delete_omitted,
				       .empty_picture_echo = sends_empty_pictures(&r->device),
				       .max_picture = r->config->max_picture_size };
}

/* The command's ApplicationData as the folder's class reads it. Returns 0, or -1 with input->invalid set. */
static int read_input(struct sync_context *ctx, const struct sync_result *result, const struct sync_command *command,
		      struct arena *arena, struct pim_input *input)
{
	struct eas_request *r = ctx->request;
	struct wbxml_reader reader;
	memset(input, 0, sizeof(*input));
	const char *instance = command->instance_id.len > 0
				       ? arena_strndup(arena, command->instance_id.data, command->instance_id.len)
				       : NULL;
	/* The Delete of one occurrence sends nothing else. */
	if (command->kind == SYNC_DELETE) {
		*input = (struct pim_input){ .instance = instance, .remove_instance = true };
		return 0;
	}
	if (!command->has_data) {
		input->invalid = "item_without_data";
		return -1;
	}
	wbxml_reader_resume(&reader, r->body.data, r->body.len, NULL, &command->data);
	if (result->class->read(result->class, &reader, arena, command->kind == SYNC_ADD, input) < 0 && input->invalid == NULL)
		input->invalid = "item_invalid";
	input->instance = instance;
	return input->invalid != NULL ? -1 : 0;
}

/* The item as the class reads it: its state, and its content by ranges. */
static void item_view(struct sync_context *ctx, const struct sync_result *result, const struct store_item *item,
		      struct arena *arena, struct pim_item *view)
{
	struct pim_email_state *state = arena_calloc(arena, 1, sizeof(*state));
	struct pim_source *source = arena_calloc(arena, 1, sizeof(*source));
	eas_email_state(arena, result->folder.id, item, state);
	state->user = ctx->request->user.name;
	view->state = state;
	view->content = eas_content_source(ctx->request, arena, result->folder.id, item->id, source) == STORE_OK
				? source
				: NULL;
}

/* Stores what a Change made of the item; *modseq_out: its modseq after. */
static int store_update(struct sync_context *ctx, const struct sync_result *result, const struct store_item *item,
			const struct pim_update *update, uint64_t *modseq_out)
{
	struct eas_request *r = ctx->request;
	if (update->keep_content)
		return store_item_set_flags(r->session, r->user.id, result->folder.id, item->id, update->read,
					    update->flag_status, update->categories, modseq_out);
	return store_item_set_content(r->session, r->user.id, result->folder.id, item->id, update->content.data,
				      update->content.len, update->received, modseq_out);
}

/* A Change merged into the item by its class; a refused one gets Status 6 and changes nothing. */
static void change_item(struct sync_context *ctx, struct sync_result *result, const struct sync_command *command,
			const struct store_item *item)
{
	struct arena *scratch = arena_new(0);
	struct pim_author author;
	struct pim_input input;
	struct pim_update update = { 0 };
	struct pim_item view;
	struct slice before;
	uint64_t modseq;
	author_of(ctx, result, &author);
	item_view(ctx, result, item, scratch, &view);
	if (sync_invitations_before(ctx, result, scratch, item->id, &before) != STORE_OK)
		before = SLICE_EMPTY;
	/* Read whole for the meeting's messages: the class merges from those bytes, not from the store again. */
	if (before.len > 0 && view.content != NULL) {
		struct pim_source *whole = arena_calloc(scratch, 1, sizeof(*whole));
		pim_source_memory(whole, before.data, before.len);
		view.content = whole;
	}
	int status = read_input(ctx, result, command, scratch, &input) < 0 ? SYNC_STATUS_CONVERSION_ERROR
		     : result->class->merge(result->class, scratch, &author, &view, &input, &update) < 0 ? SYNC_STATUS_SERVER_ERROR
		     : update.invalid != NULL ? SYNC_STATUS_CONVERSION_ERROR
									   : SYNC_STATUS_SUCCESS;
	bool current = device_is_current(result, item);
	/* What the device asks is already there (also a repeated request): no write, no conflict. */
	if (status == SYNC_STATUS_SUCCESS && update.unchanged) {
		if (current)
			sync_add_echo(result, item->modseq);
	} else if (status == SYNC_STATUS_SUCCESS && !current && result->collection->settings.conflict == SYNC_SERVER_WINS) {
		/* Server wins (the default): the change is refused, the server's version goes out. */
		add_response(ctx, result, command, SYNC_STATUS_CONFLICT, 0);
	} else if (status == SYNC_STATUS_SUCCESS && (store_update(ctx, result, item, &update, &modseq) != STORE_OK ||
						     (!update.keep_content && sync_invitations_schedule(ctx, result, scratch, before,
												update.content) != STORE_OK))) {
		add_response(ctx, result, command, SYNC_STATUS_SERVER_ERROR, 0);
	} else if (status == SYNC_STATUS_SUCCESS) {
		if (current)
			sync_add_echo(result, modseq);
	} else {
		add_response_because(ctx, result, command, status, 0, input.invalid != NULL ? input.invalid : update.invalid);
	}
	arena_free(&scratch);
}

static void delete_item(struct sync_context *ctx, struct sync_result *result, const struct sync_command *command,
			const struct store_item *item)
{
	struct eas_request *r = ctx->request;
	uint64_t modseq;
	int64_t trash;
	struct slice before;
	int status;
	/* The event and its messages in a scratch arena: a Sync may delete thousands. */
	struct arena *scratch = arena_new(0);
	if (sync_invitations_before(ctx, result, scratch, item->id, &before) != STORE_OK)
		before = SLICE_EMPTY;
	/* DeletesAsMoves (default 1): into Deleted Items, unless already there. */
	if (result->collection->settings.deletes_as_moves && result->folder.type != STORE_FOLDER_DELETED &&
	    store_folder_find_type(r->session, r->user.id, STORE_FOLDER_DELETED, &trash) == STORE_OK)
		status = store_item_move(r->session, r->user.id, result->folder.id, item->id, trash, NULL, &modseq, NULL);
	else
		status = store_item_delete(r->session, r->user.id, result->folder.id, item->id, &modseq);
	if (status == STORE_OK)
		status = sync_invitations_schedule(ctx, result, scratch, before, SLICE_EMPTY);
	arena_free(&scratch);
	if (status == STORE_OK)
		sync_add_echo(result, modseq);
	else
		add_response(ctx, result, command, SYNC_STATUS_SERVER_ERROR, 0);
}

/*
 * The item an earlier answer's Add of this ClientId created, if it is
 * still there. If it has not changed since that answer the device has it
 * as it is; else the changes send it (as a Change: it is the device's own).
 */
static int added_before(struct sync_context *ctx, struct sync_result *result, const char *client_id,
			int64_t *item_id_out)
{
	struct eas_request *r = ctx->request;
	struct store_client_id map;
	struct store_item item;
	int status = store_client_id_find(r->session, r->device.id, result->folder.id, client_id, result->client_key,
					  &map);
	if (status == STORE_OK)
		status = store_item_get(r->session, r->arena, result->folder.id, map.item_id, &item);
	if (status != STORE_OK)
		return status;
	if (item.deleted)
		return STORE_NOT_FOUND;
	if (item.modseq == map.modseq)
		sync_add_echo(result, item.modseq);
	*item_id_out = item.id;
	return STORE_OK;
}

/* Stores what the class made of an Add; *modseq_out: the new item's, the client's own. */
static int store_new_item(struct sync_context *ctx, struct sync_result *result, const struct pim_update *update,
			  int64_t *item_id_out, uint64_t *modseq_out)
{
	struct eas_request *r = ctx->request;
	struct store_item item;
	struct store_item_meta meta = { .received = update->received, .date = update->date,
					.message_id = update->message_id, .read = update->read,
					.flag_status = update->flag_status, .categories = update->categories };
	int status = store_item_add(r->session, r->user.id, result->folder.id, update->content.data,
				    update->content.len, &meta, item_id_out);
	if (status == STORE_OK)
		status = store_item_get(r->session, r->arena, result->folder.id, *item_id_out, &item);
	if (status == STORE_OK) {
		*modseq_out = item.modseq;
		sync_add_echo(result, item.modseq);
	}
	return status;
}

/* The class reads the Add and says what to store: Status 6 when it refuses it, 5 when it fails. */
static int create_item(struct sync_context *ctx, struct sync_result *result, const struct sync_command *command,
		       struct store_client_id *map, const char **detail_out)
{
	struct arena *scratch = arena_new(0);
	struct pim_author author;
	struct pim_input input;
	struct pim_update update = { 0 };
	author_of(ctx, result, &author);
	int status = read_input(ctx, result, command, scratch, &input) < 0 ? SYNC_STATUS_CONVERSION_ERROR
		     : result->class->create(result->class, scratch, &author, &input, &update) < 0 ? SYNC_STATUS_SERVER_ERROR
		     : update.invalid != NULL ? SYNC_STATUS_CONVERSION_ERROR
					      : SYNC_STATUS_SUCCESS;
	if (status == SYNC_STATUS_SUCCESS && update.client_uid &&
	    store_item_find_id(ctx->request->session, result->folder.id, update.message_id, &map->item_id) == STORE_OK)
		map->modseq = 0; /* the device's repeated Add of an event the folder has: that event */
	else if (status == SYNC_STATUS_SUCCESS &&
		 (store_new_item(ctx, result, &update, &map->item_id, &map->modseq) != STORE_OK ||
		  sync_invitations_schedule(ctx, result, scratch, SLICE_EMPTY, update.content) != STORE_OK))
		status = SYNC_STATUS_SERVER_ERROR;
	/* Static text: it outlives the scratch arena. */
	*detail_out = input.invalid != NULL ? input.invalid : update.invalid;
	arena_free(&scratch);
	return status;
}

/* FNV-1a of bytes, never 0 (a free slot). */
static int64_t bytes_hash(struct slice bytes)
{
	uint64_t hash = 14695981039346656037u;
	for (size_t i = 0; i < bytes.len; i++)
		hash = (hash ^ bytes.data[i]) * 1099511628211u;
	return (int64_t)(hash >> 1) | 1;
}

/* Counts one more of key; returns how many there have been, this one included. */
static unsigned count_one(struct arena *arena, struct sync_id_counts *counts, int64_t key)
{
	if ((counts->used + 1) * 2 > counts->capacity) {
		struct sync_id_counts grown = { .capacity = counts->capacity == 0 ? 32 : counts->capacity * 2 };
		grown.keys = arena_calloc(arena, grown.capacity, sizeof(*grown.keys));
		grown.counts = arena_calloc(arena, grown.capacity, sizeof(*grown.counts));
		for (unsigned i = 0; i < counts->capacity; i++) {
			if (counts->keys[i] == 0)
				continue;
			unsigned j = id_slot(counts->keys[i], grown.capacity);
			while (grown.keys[j] != 0)
				j = (j + 1) & (grown.capacity - 1);
			grown.keys[j] = counts->keys[i];
			grown.counts[j] = counts->counts[i];
		}
		grown.used = counts->used;
		*counts = grown;
	}
	unsigned i = id_slot(key, counts->capacity);
	while (counts->keys[i] != 0 && counts->keys[i] != key)
		i = (i + 1) & (counts->capacity - 1);
	if (counts->keys[i] == 0) {
		counts->keys[i] = key;
		counts->used++;
	}
	return ++counts->counts[i];
}

/*
 * The key an Add's ClientId is kept under. A ClientId is unique only
 * within its request (MS-ASCMD 2.2.3.28.2), and some clients repeat one
 * even there (AOSP's millisecond ids, field-notes §6): the nth Add of it in
 * a request is kept as "<ClientId>\x1f<n>" (a byte no ClientId has). Each
 * Add gets its own item, and a retry of the request maps each to the same
 * one again. NULL past LIMIT_CLIENT_ID_REPEATS of one id.
 */
static const char *client_id_key(struct sync_context *ctx, struct sync_result *result, struct slice client_id)
{
	struct arena *arena = ctx->request->arena;
	unsigned n = count_one(arena, &result->client_ids, bytes_hash(client_id));
	if (n > LIMIT_CLIENT_ID_REPEATS)
		return NULL;
	if (n == 1)
		return arena_strndup(arena, client_id.data, client_id.len);
	char suffix[16];
	int len = snprintf(suffix, sizeof(suffix), "\x1f%u", n);
	char *key = arena_alloc(arena, client_id.len + (size_t)len + 1);
	memcpy(key, client_id.data, client_id.len);
	memcpy(key + client_id.len, suffix, (size_t)len + 1);
	return key;
}

/*
 * Add: an item the folder's class makes of the ApplicationData. The
 * ClientId map makes a repeated Add find its item; it is kept with the key
 * of this answer.
 */
static void add_item(struct sync_context *ctx, struct sync_result *result, const struct sync_command *command)
{
	struct eas_request *r = ctx->request;
	struct store_client_id map = { 0 };
	const char *detail = NULL;
	if (command->client_id.len == 0 || command->client_id.len > LIMIT_CLIENT_ID_BYTES) {
		add_response(ctx, result, command, SYNC_STATUS_CONVERSION_ERROR, 0);
		return;
	}
	const char *client_id = client_id_key(ctx, result, command->client_id);
	if (client_id == NULL) {
		add_response_because(ctx, result, command, SYNC_STATUS_CONVERSION_ERROR, 0, "client_id_repeated");
		return;
	}
	int status = added_before(ctx, result, client_id, &map.item_id);
	if (status == STORE_NOT_FOUND) /* else the store fails: no second item on a guess */
		status = create_item(ctx, result, command, &map, &detail);
	else
		status = status == STORE_OK ? SYNC_STATUS_SUCCESS : SYNC_STATUS_SERVER_ERROR;
	if (status == SYNC_STATUS_SUCCESS && map.modseq != 0 &&
	    store_client_id_put(r->session, r->device.id, result->folder.id, client_id, &map, result->sync_key + 1) !=
		    STORE_OK)
		status = SYNC_STATUS_SERVER_ERROR;
	if (status != SYNC_STATUS_SUCCESS) {
		add_response_because(ctx, result, command, status, 0, detail);
		return;
	}
	sync_id_set_add(r->arena, &result->own_items, map.item_id);
	add_response(ctx, result, command, SYNC_STATUS_SUCCESS, map.item_id);
}

static void apply_command(struct sync_context *ctx, struct sync_result *result, const struct sync_command *command)
{
	struct eas_request *r = ctx->request;
	struct store_item item;
	int64_t item_id;
	bool one_occurrence = command->kind == SYNC_DELETE && command->instance_id.len > 0;
	r->items_added += command->kind == SYNC_ADD;
	r->items_changed += command->kind == SYNC_CHANGE || one_occurrence;
	r->items_deleted += command->kind == SYNC_DELETE && !one_occurrence;
	if (command->kind == SYNC_ADD) {
		add_item(ctx, result, command);
		return;
	}
	if (eas_server_id_parse(command->server_id, result->folder.id, &item_id) < 0 ||
	    store_item_get(r->session, r->arena, result->folder.id, item_id, &item) != STORE_OK) {
		add_response(ctx, result, command, SYNC_STATUS_NOT_FOUND, 0);
		return;
	}
	if (command->kind == SYNC_FETCH)
		add_response(ctx, result, command, item.deleted ? SYNC_STATUS_NOT_FOUND : SYNC_STATUS_SUCCESS, item.id);
	else if (item.deleted && command->kind == SYNC_CHANGE)
		add_response(ctx, result, command, SYNC_STATUS_NOT_FOUND, 0);
	else if (item.deleted)
		return; /* already gone: a Delete repeated after a lost answer succeeds */
	else if ((command->kind == SYNC_CHANGE && command->has_data) ||
		 (command->kind == SYNC_DELETE && command->instance_id.len > 0))
		/* The Delete of one occurrence (16.x InstanceId) changes its series (field-notes F-EXC-1). */
		change_item(ctx, result, command, &item);
	else if (command->kind == SYNC_DELETE)
		delete_item(ctx, result, command, &item);
}

void sync_apply_commands(struct sync_context *ctx, struct sync_result *result)
{
	for (unsigned i = 0; i < result->collection->command_count; i++)
		apply_command(ctx, result, &result->collection->commands[i]);
}
