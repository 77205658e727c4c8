/*
 * folderdelete.c: the FolderDelete command (MS-ASCMD 2.2.1.4): deletes a
 * user's folder with every folder below it, answered with a new hierarchy
 * SyncKey. Other devices see a Delete for each in their next FolderSync.
 * Must not: delete a default folder; folders.c owns the SyncKey and the
 * transaction.
 */
#include "eas/eas_private.h"

/* Check: SyncKey and ServerId are required (MS-ASCMD 2.2.3.73). Returns 0 or Status 10. */
static int check(const struct eas_folder_fields *fields, int64_t *id_out, const char **reason_out)
{
	if (!fields->has_sync_key || !fields->has_server_id) {
		*reason_out = fields->has_sync_key ? "element_missing" : "sync_key_missing";
		return EAS_FOLDER_BAD_REQUEST;
	}
	/* An id we never handed out names no folder: Status 4 once the SyncKey is checked. */
	if (eas_folder_id_parse(fields->server_id, id_out) < 0)
		*id_out = -1;
	return 0;
}

/* Run: inside the transaction folders.c opened. */
static int delete_folder(struct eas_request *request, void *context, const char **reason_out)
{
	const int64_t *id = context;
	struct store_folder folder;
	int status = STORE_NOT_FOUND;
	if (*id > 0)
		status = eas_folder_get(request, request->arena, *id, &folder);
	if (status == STORE_NOT_FOUND) {
		*reason_out = "folder_not_found";
		return EAS_FOLDER_NOT_FOUND;
	}
	if (status != STORE_OK)
		return eas_folder_store_failure(status, reason_out);
	/* MS-ASCMD 2.2.3.177.4 Status 3: Inbox, Outbox, Contacts, Drafts, the recipient information cache, ... */
	if (eas_folder_type_is_default(folder.type)) {
		*reason_out = "special_folder";
		return EAS_FOLDERDELETE_SPECIAL_FOLDER;
	}
	/* The subfolders go with it, under the same modseq (store.h). */
	status = store_folder_delete(request->session, request->user.id, *id);
	return status == STORE_OK ? 0 : eas_folder_store_failure(status, reason_out);
}

/* Encode: FolderDelete{Status, SyncKey} (MS-ASCMD 2.2.3.73). */
static void answer(struct eas_request *request, uint64_t sync_key)
{
	struct wbxml_writer writer;
	eas_writer_init(request, &writer);
	wbxml_writer_start(&writer, WBXML_FOLDERHIERARCHY_FOLDER_DELETE);
	wbxml_writer_element_uint(&writer, WBXML_FOLDERHIERARCHY_STATUS, EAS_STATUS_SUCCESS);
	wbxml_writer_element_uint(&writer, WBXML_FOLDERHIERARCHY_SYNC_KEY, sync_key);
	wbxml_writer_end(&writer);
	eas_writer_finish(request, &writer);
	request->eas_status = EAS_STATUS_SUCCESS;
}

void eas_folderdelete(struct eas_request *request)
{
	struct eas_folder_fields fields;
	const char *reason = NULL;
	int64_t id = 0;
	uint64_t sync_key;
	if (eas_folder_fields_read(request, &fields) < 0) {
		eas_folder_fail(request, EAS_FOLDER_BAD_REQUEST, "request_malformed");
		return;
	}
	int status = check(&fields, &id, &reason);
	if (status == 0)
		status = eas_folder_change_run(request, fields.sync_key, delete_folder, &id, &sync_key, &reason);
	if (status != 0) {
		eas_folder_fail(request, status, reason);
		return;
	}
	answer(request, sync_key);
}
