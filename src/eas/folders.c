/*
 * folders.c: what FolderCreate, FolderUpdate and FolderDelete share
 * (MS-ASCMD 2.2.1.3, 2.2.1.4, 2.2.1.6): reading their request fields, the
 * checks on names, ids and types, and the one store transaction that
 * checks the hierarchy SyncKey, makes the change and advances the state.
 * Must not: decide a command's own statuses (the command files do) or
 * write a success response.
 *
 * The hierarchy state (foldersync.c) is per device: the current and the
 * previous (sync_key, modseq). These commands use and advance it too
 * (MS-ASCMD 2.2.3.181.1): the device sends its current key and gets a new
 * one, which its next FolderSync then sends.
 */
#include "eas/eas_private.h"
#include "guard/limits.h"

#include <glib.h>
#include <string.h>

static struct slice *field_of(struct eas_folder_fields *fields, enum wbxml_tag tag, bool **present_out)
{
	switch (tag) {
	case WBXML_FOLDERHIERARCHY_SYNC_KEY:
		*present_out = &fields->has_sync_key;
		return &fields->sync_key;
	case WBXML_FOLDERHIERARCHY_SERVER_ID:
		*present_out = &fields->has_server_id;
		return &fields->server_id;
	case WBXML_FOLDERHIERARCHY_PARENT_ID:
		*present_out = &fields->has_parent_id;
		return &fields->parent_id;
	case WBXML_FOLDERHIERARCHY_DISPLAY_NAME:
		*present_out = &fields->has_display_name;
		return &fields->display_name;
	case WBXML_FOLDERHIERARCHY_TYPE:
		*present_out = &fields->has_type;
		return &fields->type;
	default:
		return NULL;
	}
}

/* WBXML may split one text into several strings; only then is it copied. */
static void append(struct arena *arena, struct slice *field, struct slice data)
{
	if (field->len == 0) {
		*field = data;
		return;
	}
	uint8_t *joined = arena_alloc(arena, field->len + data.len);
	memcpy(joined, field->data, field->len);
	if (data.len > 0)
		memcpy(joined + field->len, data.data, data.len);
	*field = (struct slice){ joined, field->len + data.len };
}

int eas_folder_fields_read(struct eas_request *request, struct eas_folder_fields *fields_out)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	struct slice *field = NULL;
	unsigned depth = 0;
	*fields_out = (struct eas_folder_fields){ .has_sync_key = false };
	/* Dispatch has decoded the whole body under the request limits already. */
	wbxml_reader_init(&reader, request->body.data, request->body.len, NULL);
	do {
		if (wbxml_reader_next(&reader, &event) < 0)
			return -1;
		if (event.type == WBXML_EVENT_START) {
			depth++;
			bool *present;
			if (depth > 2 && field != NULL)
				return -1;
			if (depth == 2 && (field = field_of(fields_out, event.tag, &present)) != NULL) {
				if (*present)
					return -1;
				*present = true;
			}
		} else if (event.type == WBXML_EVENT_END) {
			if (--depth == 1)
				field = NULL;
		} else if (event.type != WBXML_EVENT_DONE && field != NULL) {
			append(request->arena, field, event.data);
		}
	} while (event.type != WBXML_EVENT_DONE);
	return 0;
}

int64_t eas_folder_parent_id(struct slice text)
{
	int64_t id;
	if (slice_equals_cstr(text, "0"))
		return 0;
	return eas_folder_id_parse(text, &id) == 0 ? id : -1;
}

const char *eas_folder_name_copy(struct eas_request *request, struct slice text)
{
	if (text.len == 0)
		return NULL;
	/* Stored as a C string and sent to every other device: no NUL, valid UTF-8. */
	if (!g_utf8_validate_len((const char *)text.data, text.len, NULL))
		return NULL;
	if (g_utf8_strlen((const char *)text.data, (gssize)text.len) > LIMIT_FOLDER_NAME_CHARACTERS)
		return NULL;
	return arena_strndup(request->arena, text.data, text.len);
}

bool eas_folder_type_is_default(int type)
{
	/* MS-ASCMD 2.2.3.186.2: "Folder types 2-11 and 19 are reserved for default folder types." */
	return (type >= STORE_FOLDER_INBOX && type <= STORE_FOLDER_JOURNAL) ||
	       type == STORE_FOLDER_RECIPIENT_CACHE;
}

int eas_folder_store_failure(int store_status, const char **reason_out)
{
	*reason_out = store_status == STORE_BUSY ? "store_busy" : "store_error";
	return EAS_FOLDER_SERVER_ERROR;
}

/*
 * Walks up from the new parent to the root, one folder at a time. Meeting
 * folder_id on the way means the move would put the folder below itself
 * and cut its subtree off the root. The walk is bounded by the depth
 * limit, and a parent chain longer than that is refused too, so a chain
 * the walk cannot see to its end can never be closed into a cycle.
 */
static int check_ancestry(struct eas_request *request, int64_t parent_id, int64_t folder_id, const char **reason_out)
{
	unsigned ancestors = 0;
	for (int64_t id = parent_id; id != 0; ancestors++) {
		struct store_folder folder;
		if (id == folder_id) {
			*reason_out = "parent_inside_folder";
			return EAS_FOLDER_BAD_REQUEST;
		}
		if (ancestors + 1 >= LIMIT_FOLDER_DEPTH) {
			*reason_out = "folder_too_deep";
			return EAS_FOLDER_BAD_REQUEST;
		}
		int status = eas_folder_get(request, request->arena, id, &folder);
		if (status == STORE_NOT_FOUND)
			return 0; /* a chain that ends in a deleted folder cannot lead back here */
		if (status != STORE_OK)
			return eas_folder_store_failure(status, reason_out);
		id = folder.parent_id;
	}
	return 0;
}

int eas_folder_check_parent(struct eas_request *request, int64_t parent_id, int64_t folder_id,
			    const char **reason_out)
{
	struct store_folder parent;
	if (parent_id == 0)
		return 0;
	int status = STORE_NOT_FOUND;
	if (parent_id > 0)
		status = eas_folder_get(request, request->arena, parent_id, &parent);
	if (status == STORE_NOT_FOUND) {
		*reason_out = "parent_not_found";
		return EAS_FOLDER_PARENT_NOT_FOUND;
	}
	if (status != STORE_OK)
		return eas_folder_store_failure(status, reason_out);
	/* MS-ASCMD 2.2.1.3 and 2.2.1.6: nothing goes under a recipient information cache. */
	if (parent.type == STORE_FOLDER_RECIPIENT_CACHE) {
		*reason_out = "special_parent";
		return EAS_FOLDER_SPECIAL_PARENT;
	}
	return check_ancestry(request, parent_id, folder_id, reason_out);
}

int eas_folder_check_name(struct eas_request *request, int64_t parent_id, const char *name, int64_t self_id,
			  const char **reason_out)
{
	int64_t existing;
	/* Compared without case, as Exchange does (SQLite NOCASE: ASCII letters only). */
	int status = store_folder_find_name(request->session, request->user.id, parent_id, name, &existing);
	if (status == STORE_NOT_FOUND || (status == STORE_OK && existing == self_id))
		return 0;
	if (status != STORE_OK)
		return eas_folder_store_failure(status, reason_out);
	*reason_out = "folder_exists";
	return EAS_FOLDER_EXISTS;
}

void eas_folder_fail(struct eas_request *request, int status, const char *reason)
{
	eas_answer_status(request, eas_command_find(request->command), status, reason);
}

/*
 * Only the current key is accepted. FolderSync also answers the previous
 * key again (a lost response), but these commands change the hierarchy:
 * a device that repeats one after losing our answer would repeat the
 * change on a view it no longer has. MS-ASCMD gives Status 9 for a key
 * that does not match the server's (2.2.3.181.2, and the Status tables
 * 2.2.3.177.3, .4, .6); the device then runs FolderSync, which does accept
 * the previous key and shows it what its lost command did.
 */
static int check_sync_key(struct eas_request *request, uint64_t key, struct store_sync_state *state_out,
			  const char **reason_out)
{
	int status = store_sync_state_get(request->session, request->device.id, 0, state_out);
	if (status == STORE_NOT_FOUND || (status == STORE_OK && key != state_out->sync_key)) {
		*reason_out = "sync_key_unknown";
		return EAS_FOLDER_INVALID_SYNC_KEY;
	}
	return status == STORE_OK ? 0 : eas_folder_store_failure(status, reason_out);
}

/*
 * The new state's modseq decides what the device's next FolderSync lists:
 * changes in (modseq, now].
 *   - The device was up to date (its modseq was the hierarchy modseq just
 *     before this change): the new state covers the change too, so the
 *     device is not sent its own change back.
 *   - The device was behind (someone else changed the hierarchy since its
 *     last FolderSync): the new state keeps the old modseq. Skipping to
 *     the modseq after our change would hide the other changes from it
 *     for good; keeping the old one means the device gets its own change
 *     once more, as an Add or Update it already has. That is the safe
 *     choice: an echo is harmless, a change never shown is not.
 */
static int advance_state(struct eas_request *request, const struct store_sync_state *state, uint64_t before,
			 uint64_t *sync_key_out, const char **reason_out)
{
	uint64_t after;
	int status = store_hierarchy_modseq(request->session, request->user.id, &after);
	if (status != STORE_OK)
		return eas_folder_store_failure(status, reason_out);
	uint64_t modseq = state->modseq == before ? after : state->modseq;
	/* Above both keys, as FolderSync does: an old key can never match again. */
	uint64_t key = (state->sync_key > state->previous_key ? state->sync_key : state->previous_key) + 1;
	status = store_sync_state_advance(request->session, request->device.id, 0, key, modseq, NULL);
	if (status != STORE_OK)
		return eas_folder_store_failure(status, reason_out);
	*sync_key_out = key;
	return 0;
}

static int run_in_transaction(struct eas_request *request, uint64_t key, eas_folder_change_fn *change,
			      void *context, uint64_t *sync_key_out, const char **reason_out)
{
	struct store_sync_state state;
	uint64_t before;
	int status = check_sync_key(request, key, &state, reason_out);
	if (status != 0)
		return status;
	if ((status = store_hierarchy_modseq(request->session, request->user.id, &before)) != STORE_OK)
		return eas_folder_store_failure(status, reason_out);
	if ((status = change(request, context, reason_out)) != 0)
		return status;
	return advance_state(request, &state, before, sync_key_out, reason_out);
}

int eas_folder_change_run(struct eas_request *request, struct slice sync_key, eas_folder_change_fn *change,
			  void *context, uint64_t *sync_key_out, const char **reason_out)
{
	uint64_t key;
	if (parse_uint64(sync_key, UINT64_MAX, &key) < 0) {
		*reason_out = "sync_key_invalid";
		return EAS_FOLDER_INVALID_SYNC_KEY;
	}
	/* One transaction: the checks see what the change changes, and the
	   change and the new key are kept together or not at all. */
	int status = store_begin(request->session);
	if (status != STORE_OK)
		return eas_folder_store_failure(status, reason_out);
	status = run_in_transaction(request, key, change, context, sync_key_out, reason_out);
	if (status != 0) {
		store_rollback(request->session);
		return status;
	}
	if ((status = store_commit(request->session)) != STORE_OK)
		return eas_folder_store_failure(status, reason_out);
	return 0;
}
