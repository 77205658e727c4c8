/*
 * sync_apply.c: the client's commands of a Sync collection (MS-ASCMD
 * 2.2.3.32): Change (Read, Flag, Categories), Delete, Fetch, Add. Each
 * command stands alone: one that fails gets its own Status in Responses
 * and the others go on. Every change the client makes is remembered as an
 * echo so the server does not send it back.
 *
 * Applying is idempotent, so a request repeated after a lost answer does
 * no harm: a change that sets what is already there writes nothing (and is
 * no conflict), a delete that finds a tombstone succeeds, an Add whose
 * ClientId created an item before answers that item's ServerId again.
 */
#include "eas/sync_private.h"

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

static void add_response(struct sync_context *ctx, struct sync_result *result,
			 const struct sync_command *command, int status, int64_t item_id)
{
	if (status != SYNC_STATUS_SUCCESS && result->item_reason == NULL)
		result->item_reason = item_reason(status);
	if (result->responses == NULL)
		result->responses = arena_calloc(ctx->request->arena, result->collection->command_count,
						 sizeof(*result->responses));
	result->responses[result->response_count++] = (struct sync_response){ command, status, item_id };
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

/* Categories as the store keeps them: newline-separated, in arena. */
static const char *joined_categories(struct arena *arena, const struct pim_email_state *change)
{
	struct buf joined;
	/* Each category is at most LIMIT_CHANGE_VALUE_BYTES (the readers refuse longer): all fit. */
	buf_init(&joined, 8 * (LIMIT_CHANGE_VALUE_BYTES + 1));
	for (unsigned i = 0; i < 8 && change->categories[i] != NULL; i++) {
		if (i > 0)
			buf_append_byte(&joined, '\n');
		buf_append_cstr(&joined, change->categories[i]);
	}
	const char *copy = arena_strndup(arena, joined.data != NULL ? (const char *)joined.data : "", joined.len);
	buf_cleanup(&joined);
	return copy;
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

static void change_item(struct sync_context *ctx, struct sync_result *result, const struct sync_command *command,
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
	if (command->changed_fields & PIM_EMAIL_FIELD_CATEGORIES)
		categories = joined_categories(r->arena, &command->change);
	bool current = device_is_current(result, item);
	/* What the device asks is already there (also a repeated request): no write, no conflict. */
	if (read == item->read && flag_status == item->flag_status && strcmp(categories, item->categories) == 0) {
		if (current)
			sync_add_echo(result, item->modseq);
		return;
	}
	/* Server wins (the default): the change is refused, the server's version goes out. */
	if (!current && result->collection->settings.conflict == SYNC_SERVER_WINS) {
		add_response(ctx, result, command, SYNC_STATUS_CONFLICT, 0);
		return;
	}
	uint64_t modseq;
	if (store_item_set_flags(r->session, r->user.id, result->folder.id, item->id, read, flag_status, categories,
				 &modseq) != STORE_OK)
		add_response(ctx, result, command, SYNC_STATUS_SERVER_ERROR, 0);
	else if (current)
		sync_add_echo(result, modseq);
}

static void delete_item(struct sync_context *ctx, struct sync_result *result, const struct sync_command *command,
			const struct store_item *item)
{
	struct eas_request *r = ctx->request;
	uint64_t modseq;
	int64_t trash;
	int status;
	/* DeletesAsMoves (default 1): into Deleted Items, unless already there. */
	if (result->collection->settings.deletes_as_moves && result->folder.type != STORE_FOLDER_DELETED &&
	    store_folder_find_type(r->session, r->user.id, STORE_FOLDER_DELETED, &trash) == STORE_OK)
		status = store_item_move(r->session, r->user.id, result->folder.id, item->id, trash, NULL, &modseq, NULL);
	else
		status = store_item_delete(r->session, r->user.id, result->folder.id, item->id, &modseq);
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

/* Stores the composed draft with the flags the client gave; *modseq_out: the item's last change, the client's own. */
static int store_draft(struct sync_context *ctx, struct sync_result *result, const struct pim_email_draft *draft,
		       const struct buf *mime, int64_t *item_id_out, uint64_t *modseq_out)
{
	struct eas_request *r = ctx->request;
	struct pim_email_summary summary;
	struct store_item item;
	pim_email_summary(r->arena, mime->data, mime->len, &summary);
	struct store_mail_meta meta = { .received = r->now, .date = r->now, .message_id = summary.message_id };
	struct pim_email_state flags = { .read = draft->read, .flag_status = draft->flag_status };
	memcpy(flags.categories, draft->categories, sizeof(flags.categories));
	int status = store_mail_add(r->session, r->user.id, result->folder.id, mime->data, mime->len, &meta, item_id_out);
	if (status == STORE_OK)
		status = store_item_get(r->session, r->arena, result->folder.id, *item_id_out, &item);
	if (status != STORE_OK)
		return status;
	sync_add_echo(result, item.modseq);
	status = store_item_set_flags(r->session, r->user.id, result->folder.id, item.id, flags.read,
				      flags.flag_status, joined_categories(r->arena, &flags), modseq_out);
	if (status == STORE_OK)
		sync_add_echo(result, *modseq_out);
	return status;
}

static bool draft_allowed(const struct eas_request *r, const struct sync_result *result,
			  const struct sync_command *command)
{
	return r->protocol_version >= 160 && result->folder.type == STORE_FOLDER_DRAFTS && command->draft != NULL &&
	       command->draft_invalid == NULL && command->client_id.len > 0 &&
	       command->client_id.len <= LIMIT_CLIENT_ID_BYTES;
}

/*
 * Add: a draft, the only mail a client may create (16.0+, in Drafts;
 * MS-ASCMD 2.2.3.7.2). The ClientId map makes a repeated Add find its
 * item; it is kept with the key of this answer.
 */
static void add_draft(struct sync_context *ctx, struct sync_result *result, const struct sync_command *command)
{
	struct eas_request *r = ctx->request;
	struct store_client_id map = { 0 };
	if (!draft_allowed(r, result, command)) {
		add_response(ctx, result, command, SYNC_STATUS_CONVERSION_ERROR, 0);
		return;
	}
	const char *client_id = arena_strndup(r->arena, (const char *)command->client_id.data, command->client_id.len);
	int status = added_before(ctx, result, client_id, &map.item_id);
	if (status == STORE_OK) {
		sync_id_set_add(r->arena, &result->own_items, map.item_id);
		add_response(ctx, result, command, SYNC_STATUS_SUCCESS, map.item_id);
		return;
	}
	struct buf mime;
	buf_init(&mime, LIMIT_MESSAGE_BYTES_DEFAULT);
	if (status == STORE_NOT_FOUND) /* else the store fails: no second draft on a guess */
		status = pim_email_compose_draft(r->arena, command->draft, r->user.name, r->now, &mime) == 0
				 ? store_draft(ctx, result, command->draft, &mime, &map.item_id, &map.modseq)
				 : STORE_ERROR;
	buf_cleanup(&mime);
	if (status == STORE_OK)
		status = store_client_id_put(r->session, r->device.id, result->folder.id, client_id, &map,
					     result->sync_key + 1);
	if (status != STORE_OK) {
		add_response(ctx, result, command, SYNC_STATUS_SERVER_ERROR, 0);
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
	if (command->kind == SYNC_ADD) {
		add_draft(ctx, result, command);
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
	else if (command->kind == SYNC_CHANGE && command->has_change)
		change_item(ctx, result, command, &item);
	else if (command->kind == SYNC_DELETE)
		delete_item(ctx, result, command, &item);
}

void sync_apply_commands(struct sync_context *ctx, struct sync_result *result)
{
	for (unsigned i = 0; i < result->collection->command_count; i++)
		apply_command(ctx, result, &result->collection->commands[i]);
}
