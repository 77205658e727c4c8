/*
 * folderupdate.c: the FolderUpdate command (MS-ASCMD 2.2.1.6): renames a
 * user's folder and/or moves it under another parent, answered with a new
 * hierarchy SyncKey. Must not: change a default folder, or make a folder
 * its own ancestor; folders.c owns the SyncKey and the transaction.
 */
#include "eas/eas_private.h"

struct folder_update {
	int64_t id;        /* -1: not an id of ours */
	int64_t parent_id; /* -1: not an id of ours */
	const char *name;
};

/*
 * Check: SyncKey, ServerId, ParentId and DisplayName are all required
 * (MS-ASCMD 2.2.3.77; 2.2.3.181.1 names Status 10 for a missing SyncKey,
 * and a request missing the others is just as incorrectly formatted).
 */
static int check(struct eas_request *request, const struct eas_folder_fields *fields,
		 struct folder_update *update, const char **reason_out)
{
	if (!fields->has_sync_key || !fields->has_server_id || !fields->has_parent_id || !fields->has_display_name) {
		*reason_out = fields->has_sync_key ? "element_missing" : "sync_key_missing";
		return EAS_FOLDER_BAD_REQUEST;
	}
	if ((update->name = eas_folder_name_copy(request, fields->display_name)) == NULL) {
		*reason_out = "display_name_invalid";
		return EAS_FOLDER_BAD_REQUEST;
	}
	/* Ids we never handed out name no folder: Status 4 or 5 once the SyncKey is checked. */
	if (eas_folder_id_parse(fields->server_id, &update->id) < 0)
		update->id = -1;
	update->parent_id = eas_folder_parent_id(fields->parent_id);
	return 0;
}

/* The folder exists and a device may change it (MS-ASCMD 2.2.3.177.6). */
static int check_folder(struct eas_request *request, int64_t id, struct store_folder *folder_out,
			const char **reason_out)
{
	struct store_folder folder;
	int status = STORE_NOT_FOUND;
	if (id > 0)
		status = eas_folder_get(request, request->arena, id, &folder);
	if (status == STORE_NOT_FOUND) {
		*reason_out = "folder_not_found";
		return EAS_FOLDER_NOT_FOUND;
	}
	if (status != STORE_OK)
		return eas_folder_store_failure(status, reason_out);
	if (folder.type == STORE_FOLDER_RECIPIENT_CACHE) {
		*reason_out = "recipient_cache";
		return EAS_FOLDERUPDATE_RECIPIENT_CACHE;
	}
	if (eas_folder_type_is_default(folder.type)) {
		*reason_out = "special_folder";
		return EAS_FOLDERUPDATE_SPECIAL_FOLDER;
	}
	*folder_out = folder;
	return 0;
}

/* Run: inside the transaction folders.c opened. */
static int update_folder(struct eas_request *request, void *context, const char **reason_out)
{
	struct folder_update *update = context;
	struct store_folder folder = { 0 };
	int status = check_folder(request, update->id, &folder, reason_out);
	/* A move under the folder itself or below it has no status of its own in
	   MS-ASCMD 2.2.3.177.6: 10 ("fix the request"), not 5, which would send
	   the device to FolderSync and the same request again. A rename in place
	   moves nothing and needs no check. */
	if (status == 0 && update->parent_id != folder.parent_id)
		status = eas_folder_check_parent(request, update->parent_id, update->id, reason_out);
	/* The folder itself may keep its name or change its case. */
	if (status == 0)
		status = eas_folder_check_name(request, update->parent_id, update->name, update->id, reason_out);
	if (status != 0)
		return status;
	status = store_folder_update(request->session, request->user.id, update->id, update->parent_id, update->name);
	return status == STORE_OK ? 0 : eas_folder_store_failure(status, reason_out);
}

/* Encode: FolderUpdate{Status, SyncKey} (MS-ASCMD 2.2.3.77). */
static void answer(struct eas_request *request, uint64_t sync_key)
{
	struct wbxml_writer writer;
	eas_writer_init(request, &writer);
	wbxml_writer_start(&writer, WBXML_FOLDERHIERARCHY_FOLDER_UPDATE);
	wbxml_writer_element_uint(&writer, WBXML_FOLDERHIERARCHY_STATUS, EAS_STATUS_SUCCESS);
	wbxml_writer_element_uint(&writer, WBXML_FOLDERHIERARCHY_SYNC_KEY, sync_key);
	wbxml_writer_end(&writer);
	eas_writer_finish(request, &writer);
	request->eas_status = EAS_STATUS_SUCCESS;
}

void eas_folderupdate(struct eas_request *request)
{
	struct eas_folder_fields fields;
	struct folder_update update = { 0 };
	const char *reason = NULL;
	uint64_t sync_key;
	if (eas_folder_fields_read(request, &fields) < 0) {
		eas_folder_fail(request, EAS_FOLDER_BAD_REQUEST, "request_malformed");
		return;
	}
	int status = check(request, &fields, &update, &reason);
	if (status == 0)
		status = eas_folder_change_run(request, fields.sync_key, update_folder, &update, &sync_key, &reason);
	if (status != 0) {
		eas_folder_fail(request, status, reason);
		return;
	}
	answer(request, sync_key);
}
