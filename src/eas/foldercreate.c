/*
 * foldercreate.c: the FolderCreate command (MS-ASCMD 2.2.1.3): a new
 * folder under the mailbox root or one of the user's folders, answered
 * with its ServerId and a new hierarchy SyncKey. Must not: create a
 * default folder (types 2-11, 19) or a folder under the recipient
 * information cache; folders.c owns the SyncKey and the transaction.
 */
#include "eas/eas_private.h"

#include <stdio.h>

struct folder_create {
	int64_t parent_id;
	const char *name;
	int type;
	int64_t id; /* set by the change */
};

/* Check: every element is required (MS-ASCMD 2.2.3.72); anything malformed is Status 10. */
static int check(struct eas_request *request, const struct eas_folder_fields *fields,
		 struct folder_create *create, const char **reason_out)
{
	uint64_t type;
	if (!fields->has_sync_key || !fields->has_parent_id || !fields->has_display_name || !fields->has_type) {
		*reason_out = "element_missing";
		return EAS_FOLDER_BAD_REQUEST;
	}
	/* MS-ASCMD 2.2.3.186.2: a device may create the user types 1 and 12-17 only;
	   the others are default folders (2-11, 19) or no type at all. */
	if (parse_uint64(fields->type, 255, &type) < 0 ||
	    (type != STORE_FOLDER_GENERIC && (type < STORE_FOLDER_USER_MAIL || type > STORE_FOLDER_USER_NOTES))) {
		*reason_out = "folder_type_invalid";
		return EAS_FOLDER_BAD_REQUEST;
	}
	create->type = (int)type;
	if ((create->name = eas_folder_name_copy(request, fields->display_name)) == NULL) {
		*reason_out = "display_name_invalid";
		return EAS_FOLDER_BAD_REQUEST;
	}
	/* A ParentId we never handed out names no folder (Status 5 once the SyncKey is checked). */
	create->parent_id = eas_folder_parent_id(fields->parent_id);
	return 0;
}

/* Run: inside the transaction folders.c opened. */
static int create_folder(struct eas_request *request, void *context, const char **reason_out)
{
	struct folder_create *create = context;
	int status = eas_folder_check_parent(request, create->parent_id, 0, reason_out);
	if (status == 0)
		status = eas_folder_check_name(request, create->parent_id, create->name, 0, reason_out);
	if (status != 0)
		return status;
	status = store_folder_create(request->session, request->user.id, create->parent_id, create->name,
				     create->type, &create->id);
	return status == STORE_OK ? 0 : eas_folder_store_failure(status, reason_out);
}

/* Encode: FolderCreate{Status, SyncKey, ServerId} in schema order (MS-ASCMD 2.2.3.72). */
static void answer(struct eas_request *request, uint64_t sync_key, int64_t id)
{
	struct wbxml_writer writer;
	char server_id[24];
	snprintf(server_id, sizeof(server_id), "%lld", (long long)id);
	eas_writer_init(request, &writer);
	wbxml_writer_start(&writer, WBXML_FOLDERHIERARCHY_FOLDER_CREATE);
	wbxml_writer_element_uint(&writer, WBXML_FOLDERHIERARCHY_STATUS, EAS_STATUS_SUCCESS);
	wbxml_writer_element_uint(&writer, WBXML_FOLDERHIERARCHY_SYNC_KEY, sync_key);
	wbxml_writer_element_cstr(&writer, WBXML_FOLDERHIERARCHY_SERVER_ID, server_id);
	wbxml_writer_end(&writer);
	eas_writer_finish(request, &writer);
	request->eas_status = EAS_STATUS_SUCCESS;
}

void eas_foldercreate(struct eas_request *request)
{
	struct eas_folder_fields fields;
	struct folder_create create = { 0 };
	const char *reason = NULL;
	uint64_t sync_key;
	if (eas_folder_fields_read(request, &fields) < 0) {
		eas_folder_fail(request, EAS_FOLDER_BAD_REQUEST, "request_malformed");
		return;
	}
	int status = check(request, &fields, &create, &reason);
	if (status == 0)
		status = eas_folder_change_run(request, fields.sync_key, create_folder, &create, &sync_key, &reason);
	if (status != 0) {
		eas_folder_fail(request, status, reason);
		return;
	}
	answer(request, sync_key, create.id);
}
