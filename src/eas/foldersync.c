/*
 * foldersync.c: the FolderSync command (MS-ASCMD 2.2.1.5).
 *
 * The hierarchy state of a device is (sync_key, modseq) plus the previous
 * pair. A request with
 *   - key 0: every live folder, under a key never used before;
 *   - the current key: the folders changed in (modseq, now]; a new key only
 *     when something changed, so an idle device's polls write nothing;
 *   - the previous key (the device lost our last answer): everything since
 *     the previous state, under a new key, and the previous state is kept,
 *     so this answer can itself be repeated and nothing it lost is skipped
 *     (a folder changed again since is in the range, with its current data);
 *   - anything else: Status 9, and the device starts over from 0.
 * Folders of a class switched off (hidden.c) are left out; when a class is
 * switched off or on, its folders are told deleted or added, and the
 * device's record of what it was told (hidden_classes, and the answer
 * before: hidden_previous) moves with its key.
 * Keys are decimal counters; modseqs come from the store (store.h).
 */
#include "eas/eas_private.h"

#include <stdio.h>
#include <string.h>

/* Folder changes gathered before writing (Count comes first in the response). */
struct change_list {
	struct arena *arena;
	unsigned protocol_version;
	struct store_folder *folders;
	unsigned count;
	unsigned capacity;
	/* Classes switched off (hidden.c): hidden now, newly hidden and newly shown since the
	   state the device syncs from. */
	unsigned hidden, newly_hidden, newly_shown;
};

static void append(struct change_list *list, const struct store_folder *folder)
{
	list->folders = arena_grow(list->arena, list->folders, sizeof(*list->folders), list->count, &list->capacity, 32);
	list->folders[list->count++] = *folder;
}

/* A change in the range: a folder of a hidden class is not told, but the deletion of one the device still has. */
static void collect(void *context, const struct store_folder *folder)
{
	struct change_list *list = context;
	/* Notes are a 14.0 class (MS-ASNOTE): older devices do not see their folders. */
	if (list->protocol_version < 140 &&
	    (folder->type == STORE_FOLDER_NOTES || folder->type == STORE_FOLDER_USER_NOTES))
		return;
	if (eas_folder_type_hidden(list->newly_shown, folder->type))
		return; /* told whole by collect_switched */
	if (eas_folder_type_hidden(list->hidden, folder->type) &&
	    !(folder->deleted && eas_folder_type_hidden(list->newly_hidden, folder->type)))
		return;
	append(list, folder);
}

/* Every live folder: those of a class newly hidden are deleted for the device, those newly shown added. */
static void collect_switched(void *context, const struct store_folder *folder)
{
	struct change_list *list = context;
	struct store_folder told = *folder;
	if (eas_folder_type_hidden(list->newly_hidden, folder->type))
		told.deleted = true;
	else if (eas_folder_type_hidden(list->newly_shown, folder->type) &&
		 (list->protocol_version >= 140 ||
		  (folder->type != STORE_FOLDER_NOTES && folder->type != STORE_FOLDER_USER_NOTES)))
		told.added = true;
	else
		return;
	append(list, &told);
}

static void write_folder(struct wbxml_writer *writer, const struct store_folder *folder)
{
	char id[24], parent[24];
	snprintf(id, sizeof(id), "%lld", (long long)folder->id);
	snprintf(parent, sizeof(parent), "%lld", (long long)folder->parent_id);
	if (folder->deleted) {
		wbxml_writer_start(writer, WBXML_FOLDERHIERARCHY_DELETE);
		wbxml_writer_element_cstr(writer, WBXML_FOLDERHIERARCHY_SERVER_ID, id);
		wbxml_writer_end(writer);
		return;
	}
	wbxml_writer_start(writer, folder->added ? WBXML_FOLDERHIERARCHY_ADD : WBXML_FOLDERHIERARCHY_UPDATE);
	wbxml_writer_element_cstr(writer, WBXML_FOLDERHIERARCHY_SERVER_ID, id);
	wbxml_writer_element_cstr(writer, WBXML_FOLDERHIERARCHY_PARENT_ID, parent);
	wbxml_writer_element_cstr(writer, WBXML_FOLDERHIERARCHY_DISPLAY_NAME, folder->name);
	wbxml_writer_element_uint(writer, WBXML_FOLDERHIERARCHY_TYPE, (uint64_t)folder->type);
	wbxml_writer_end(writer);
}

static void write_response(struct eas_request *request, uint64_t sync_key, const struct change_list *list)
{
	struct wbxml_writer writer;
	eas_writer_init(request, &writer);
	wbxml_writer_start(&writer, WBXML_FOLDERHIERARCHY_FOLDER_SYNC);
	wbxml_writer_element_uint(&writer, WBXML_FOLDERHIERARCHY_STATUS, EAS_STATUS_SUCCESS);
	wbxml_writer_element_uint(&writer, WBXML_FOLDERHIERARCHY_SYNC_KEY, sync_key);
	wbxml_writer_start(&writer, WBXML_FOLDERHIERARCHY_CHANGES);
	wbxml_writer_element_uint(&writer, WBXML_FOLDERHIERARCHY_COUNT, list->count);
	for (unsigned i = 0; i < list->count; i++)
		write_folder(&writer, &list->folders[i]);
	wbxml_writer_end(&writer);
	wbxml_writer_end(&writer);
	eas_writer_finish(request, &writer);
	request->eas_status = EAS_STATUS_SUCCESS;
}

/* The SyncKey of the request; -1 if the body has none. */
static int read_sync_key(struct eas_request *request, struct slice *key_out)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	bool in_key = false, found = false;
	wbxml_reader_init(&reader, request->body.data, request->body.len, NULL);
	*key_out = SLICE_EMPTY;
	do {
		if (wbxml_reader_next(&reader, &event) < 0)
			return -1;
		if (event.type == WBXML_EVENT_START && event.tag == WBXML_FOLDERHIERARCHY_SYNC_KEY) {
			in_key = true;
			found = true;
		} else if (event.type == WBXML_EVENT_END) {
			in_key = false;
		} else if (in_key && event.type == WBXML_EVENT_STRING) {
			*key_out = event.data;
		}
	} while (event.type != WBXML_EVENT_DONE);
	return found ? 0 : -1;
}

static void fail(struct eas_request *request, int status, const char *reason)
{
	eas_answer_status(request, eas_command_find("FolderSync"), status, reason);
}

/*
 * Lists (since, until] and answers under sync_key, for a device that was
 * told the classes known are hidden; records what it is told now.
 */
static void answer_changes(struct eas_request *request, uint64_t since, uint64_t until, uint64_t sync_key,
			   unsigned known, unsigned previous)
{
	unsigned hidden = eas_hidden_classes(request);
	struct change_list list = { .arena = request->arena, .protocol_version = request->protocol_version,
				    .hidden = hidden, .newly_hidden = hidden & ~known, .newly_shown = known & ~hidden };
	int status = store_folder_changes(request->session, request->arena, request->user.id, since, until, collect,
					  &list);
	if (status == STORE_OK && (list.newly_hidden | list.newly_shown) != 0)
		status = store_folder_changes(request->session, request->arena, request->user.id, 0, until,
					      collect_switched, &list);
	if (status == STORE_OK && (hidden != eas_class_mask(request->device.hidden_classes) ||
				   previous != eas_class_mask(request->device.hidden_previous)))
		status = store_device_set_hidden(request->session, request->device.id,
						 eas_class_list(request->arena, hidden),
						 eas_class_list(request->arena, previous));
	if (status != STORE_OK) {
		fail(request, EAS_FOLDERSYNC_SERVER_ERROR, "store_error");
		return;
	}
	write_response(request, sync_key, &list);
}

static void full_sync(struct eas_request *request, const struct store_sync_state *state, uint64_t modseq)
{
	/* A key above any this device has seen: an old key can never match again. */
	uint64_t key = (state->sync_key > state->previous_key ? state->sync_key : state->previous_key) + 1;
	if (store_sync_state_advance(request->session, request->device.id, 0, key, modseq, NULL) != STORE_OK) {
		fail(request, EAS_FOLDERSYNC_SERVER_ERROR, "store_error");
		return;
	}
	/* MS-ASHTTP 2.2.4.1.2: tell a (re)starting client what we serve. */
	eas_add_header(request, "MS-ASProtocolVersions", eas_protocol_versions());
	eas_add_header(request, "MS-ASProtocolCommands", eas_protocol_commands());
	unsigned hidden = eas_hidden_classes(request);
	answer_changes(request, 0, modseq, key, hidden, hidden);
}

static void incremental_sync(struct eas_request *request, const struct store_sync_state *state,
			     uint64_t modseq)
{
	uint64_t key = state->sync_key;
	unsigned known = eas_class_mask(request->device.hidden_classes);
	unsigned previous = eas_class_mask(request->device.hidden_previous);
	/* A class switched on or off is a change of the hierarchy too. */
	if (modseq > state->modseq || known != eas_hidden_classes(request)) {
		key++;
		previous = known;
		if (store_sync_state_advance(request->session, request->device.id, 0, key, modseq, NULL) != STORE_OK) {
			fail(request, EAS_FOLDERSYNC_SERVER_ERROR, "store_error");
			return;
		}
	}
	answer_changes(request, state->modseq, modseq, key, known, previous);
}

static void repeated_sync(struct eas_request *request, const struct store_sync_state *state, uint64_t modseq)
{
	struct store_sync_state next = { .sync_key = state->sync_key + 1, .modseq = modseq,
					 .previous_key = state->previous_key, .previous_modseq = state->previous_modseq };
	if (store_sync_state_put(request->session, request->device.id, 0, &next) != STORE_OK) {
		fail(request, EAS_FOLDERSYNC_SERVER_ERROR, "store_error");
		return;
	}
	/* The device lost the answer after its previous key: it knows what it was told before that. */
	unsigned before = eas_class_mask(request->device.hidden_previous);
	answer_changes(request, state->previous_modseq, modseq, next.sync_key, before, before);
}

static void run(struct eas_request *request, struct slice text)
{
	struct store_sync_state state = { 0 };
	uint64_t key, modseq;
	int status = store_sync_state_get(request->session, request->device.id, 0, &state);
	if ((status != STORE_OK && status != STORE_NOT_FOUND) ||
	    store_hierarchy_modseq(request->session, request->user.id, &modseq) != STORE_OK) {
		fail(request, EAS_FOLDERSYNC_SERVER_ERROR, "store_error");
		return;
	}
	if (parse_uint64(text, UINT64_MAX, &key) < 0)
		fail(request, EAS_FOLDERSYNC_INVALID_SYNC_KEY, "sync_key_invalid");
	else if (key == 0) {
		eas_note_sync_key_zero(request, 0);
		full_sync(request, &state, modseq);
	}
	else if (key == state.sync_key)
		incremental_sync(request, &state, modseq);
	else if (key == state.previous_key)
		repeated_sync(request, &state, modseq);
	else
		fail(request, EAS_FOLDERSYNC_INVALID_SYNC_KEY, "sync_key_unknown");
}

void eas_foldersync(struct eas_request *request)
{
	struct slice text;
	if (read_sync_key(request, &text) < 0) {
		fail(request, EAS_FOLDERSYNC_BAD_REQUEST, "sync_key_missing");
		return;
	}
	/* State read, changes listed and state written in one transaction: a
	   retry racing its original sees one or the other, never a mix. */
	if (store_begin(request->session) != STORE_OK) {
		fail(request, EAS_FOLDERSYNC_SERVER_ERROR, "store_busy");
		return;
	}
	run(request, text);
	if (request->eas_status != EAS_STATUS_SUCCESS) {
		store_rollback(request->session);
	} else if (store_commit(request->session) != STORE_OK) {
		request->response.len = 0;
		fail(request, EAS_FOLDERSYNC_SERVER_ERROR, "store_commit_failed");
	}
}
