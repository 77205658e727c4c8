/*
 * sync_apply.c: the client's commands of a Sync collection (MS-ASCMD
 * 2.2.3.32): Change (Read, Flag, Categories), Delete, Fetch, Add. Each
 * command stands alone: one that fails gets its own Status in Responses
 * and the others go on. Every change the client makes is remembered as an
 * echo so the server does not send it back.
 *
 * Applying is idempotent, so a request repeated after a lost answer does
 * no harm: a change that sets what is already there writes nothing (and is
 * no conflict), a delete that finds a tombstone succeeds.
 */
#include "eas/sync_private.h"

#include <string.h>

static void add_response(struct sync_context *ctx, struct sync_result *result,
			 const struct sync_command *command, int status, int64_t item_id)
{
	if (result->responses == NULL)
		result->responses = arena_calloc(ctx->request->arena, result->collection->command_count,
						 sizeof(*result->responses));
	result->responses[result->response_count++] = (struct sync_response){ command, status, item_id };
}

void sync_add_echo(struct sync_result *result, uint64_t modseq)
{
	if (result->echo_count == result->echo_capacity) {
		unsigned capacity = result->echo_capacity == 0 ? 16 : result->echo_capacity * 2;
		uint64_t *grown = arena_alloc(result->ctx->request->arena, capacity * sizeof(*grown));
		if (result->echo_count > 0)
			memcpy(grown, result->echoes, result->echo_count * sizeof(*grown));
		result->echoes = grown;
		result->echo_capacity = capacity;
	}
	result->echoes[result->echo_count++] = modseq;
}

bool sync_is_echo(const struct sync_result *result, uint64_t modseq)
{
	for (unsigned i = 0; i < result->echo_count; i++)
		if (result->echoes[i] == modseq)
			return true;
	return false;
}

/* Categories as the store keeps them: newline-separated, in arena. */
static const char *joined_categories(struct arena *arena, const struct pim_email_state *change)
{
	struct buf joined;
	buf_init(&joined, 4096);
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
 * The server changed the item after the device last saw it. With "server
 * wins" (the default) the client's change is refused with Status 7 and the
 * server's version goes out with the changes.
 */
static bool server_wins(const struct sync_result *result, const struct store_item *item)
{
	return result->collection->settings.conflict == SYNC_SERVER_WINS && item->modseq > result->since &&
	       !sync_is_echo(result, item->modseq);
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
	bool same = read == item->read && flag_status == item->flag_status && strcmp(categories, item->categories) == 0;
	if (same) {
		/* What the device asks is already there (also a repeated request):
		   whatever last changed the item, the device now has it. */
		sync_add_echo(result, item->modseq);
		return;
	}
	if (server_wins(result, item)) {
		add_response(ctx, result, command, SYNC_STATUS_CONFLICT, 0);
		return;
	}
	uint64_t modseq;
	if (store_item_set_flags(r->session, r->user.id, result->folder.id, item->id, read, flag_status, categories,
				 &modseq) == STORE_OK)
		sync_add_echo(result, modseq);
	else
		add_response(ctx, result, command, SYNC_STATUS_SERVER_ERROR, 0);
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
