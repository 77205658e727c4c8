/*
 * commands.c: the command table and the dispatcher every request passes.
 *
 * Dispatch reads in three steps, like each command: check (the command
 * exists, the body is WBXML whose root is the command's, the device is
 * known and provisioned), run (the handler), and the handler encodes. A
 * command not implemented yet answers "not supported" (Status 137 from
 * 14.0, HTTP 501 for 12.1) and is not listed in MS-ASProtocolCommands.
 */
#include "eas/eas_private.h"
#include "guard/limits.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define C(name, handler, root, status, flags) \
	{ name, handler, WBXML_##root, WBXML_##status, flags, NULL }
#define PARKING(name, handler, resume, root, status, flags) \
	{ name, handler, WBXML_##root, WBXML_##status, flags, resume }

static const struct eas_command commands[] = {
	PARKING("Sync", eas_sync, eas_sync_resume, AIRSYNC_SYNC, AIRSYNC_STATUS, EAS_EMPTY_BODY),
	C("SendMail", eas_sendmail, COMPOSEMAIL_SEND_MAIL, COMPOSEMAIL_STATUS, EAS_MIME_BODY_12),
	C("SmartForward", eas_sendmail, COMPOSEMAIL_SMART_FORWARD, COMPOSEMAIL_STATUS, EAS_MIME_BODY_12),
	C("SmartReply", eas_sendmail, COMPOSEMAIL_SMART_REPLY, COMPOSEMAIL_STATUS, EAS_MIME_BODY_12),
	C("GetAttachment", NULL, ITEMOPERATIONS_ITEM_OPERATIONS, ITEMOPERATIONS_STATUS, EAS_EMPTY_BODY),
	C("FolderSync", eas_foldersync, FOLDERHIERARCHY_FOLDER_SYNC, FOLDERHIERARCHY_STATUS, 0),
	C("FolderCreate", eas_foldercreate, FOLDERHIERARCHY_FOLDER_CREATE, FOLDERHIERARCHY_STATUS, 0),
	C("FolderDelete", eas_folderdelete, FOLDERHIERARCHY_FOLDER_DELETE, FOLDERHIERARCHY_STATUS, 0),
	C("FolderUpdate", eas_folderupdate, FOLDERHIERARCHY_FOLDER_UPDATE, FOLDERHIERARCHY_STATUS, 0),
	C("MoveItems", eas_moveitems, MOVE_MOVE_ITEMS, MOVE_STATUS, 0),
	C("GetItemEstimate", eas_getitemestimate, GETITEMESTIMATE_GET_ITEM_ESTIMATE, GETITEMESTIMATE_STATUS, 0),
	C("MeetingResponse", eas_meetingresponse, MEETINGRESPONSE_MEETING_RESPONSE, MEETINGRESPONSE_STATUS, 0),
	C("Search", NULL, SEARCH_SEARCH, SEARCH_STATUS, 0),
	C("Settings", NULL, SETTINGS_SETTINGS, SETTINGS_STATUS, 0),
	PARKING("Ping", eas_ping, eas_ping_resume, PING_PING, PING_STATUS, EAS_EMPTY_BODY),
	C("ItemOperations", eas_itemoperations, ITEMOPERATIONS_ITEM_OPERATIONS, ITEMOPERATIONS_STATUS, 0),
	C("Provision", eas_provision, PROVISION_PROVISION, PROVISION_STATUS, EAS_NO_POLICY),
	C("ResolveRecipients", NULL, RESOLVERECIPIENTS_RESOLVE_RECIPIENTS, RESOLVERECIPIENTS_STATUS, 0),
	C("ValidateCert", NULL, VALIDATECERT_VALIDATE_CERT, VALIDATECERT_STATUS, 0),
	C("Find", NULL, FIND_FIND, FIND_STATUS, 0),
};

const struct eas_command *eas_command_find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static char command_list[512];

static void build_command_list(void)
{
	struct buf list;
	buf_init(&list, sizeof(command_list) - 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].handler != NULL)
			buf_printf(&list, "%s%s", list.len > 0 ? "," : "", commands[i].name);
	memcpy(command_list, list.data, list.len);
	command_list[list.len] = '\0';
	buf_cleanup(&list);
}

bool eas_command_known(const char *name)
{
	return eas_command_find(name) != NULL;
}

const char *eas_protocol_commands(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, build_command_list);
	return command_list;
}

const char *eas_protocol_versions(void)
{
	return "12.1,14.0,14.1,16.0,16.1";
}

unsigned eas_version_parse(const char *text)
{
	static const struct {
		const char *text;
		unsigned value;
	} versions[] = { { "2.5", 25 }, { "12.0", 120 }, { "12.1", 121 }, { "14.0", 140 },
			 { "14.1", 141 }, { "16.0", 160 }, { "16.1", 161 } };
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (strcmp(text, versions[i].text) == 0)
			return versions[i].value;
	return 0;
}

bool eas_version_supported(unsigned version)
{
	return version == 121 || version == 140 || version == 141 || version == 160 || version == 161;
}

int eas_read_text(struct wbxml_reader *reader, struct slice *text_out)
{
	struct wbxml_event event;
	*text_out = SLICE_EMPTY;
	for (;;) {
		if (wbxml_reader_next(reader, &event) < 0)
			return -1;
		if (event.type == WBXML_EVENT_END)
			return 0;
		if (event.type == WBXML_EVENT_STRING || event.type == WBXML_EVENT_OPAQUE)
			*text_out = event.data;
		else if (event.type == WBXML_EVENT_START && wbxml_reader_skip(reader) < 0)
			return -1;
	}
}

void eas_note_class(struct eas_request *request, const char *class)
{
	size_t len = strlen(request->classes), add = strlen(class);
	for (const char *p = request->classes; (p = strstr(p, class)) != NULL; p += add)
		if ((p == request->classes || p[-1] == ',') && (p[add] == ',' || p[add] == '\0'))
			return;
	if (len + (len > 0) + add >= sizeof(request->classes))
		return;
	if (len > 0)
		request->classes[len++] = ',';
	memcpy(request->classes + len, class, add + 1);
}

void eas_note_sync_key_zero(struct eas_request *request, int64_t collection)
{
	if (request->sync_key_zero_count < sizeof(request->sync_key_zero) / sizeof(request->sync_key_zero[0]))
		request->sync_key_zero[request->sync_key_zero_count++] = collection;
}

void eas_add_header(struct eas_request *request, const char *name, const char *value)
{
	if (request->header_count < EAS_MAX_RESPONSE_HEADERS)
		request->headers[request->header_count++] = (struct eas_header){ name, value };
}

void eas_writer_init(struct eas_request *request, struct wbxml_writer *writer)
{
	request->response.len = 0;
	wbxml_writer_init(writer, &request->response);
}

void eas_writer_finish(struct eas_request *request, struct wbxml_writer *writer)
{
	const char *reason;
	if (wbxml_writer_finish(writer, &reason) == WBXML_OK)
		return;
	request->response.len = 0;
	request->http_status = 500;
	request->reason = "response_encoding_failed";
}

void eas_answer_status(struct eas_request *request, const struct eas_command *command, int status,
		       const char *reason)
{
	struct wbxml_writer writer;
	request->http_status = 200;
	request->eas_status = status;
	request->reason = reason;
	eas_writer_init(request, &writer);
	wbxml_writer_start(&writer, command->root);
	wbxml_writer_element_uint(&writer, command->status, (uint64_t)status);
	wbxml_writer_end(&writer);
	eas_writer_finish(request, &writer);
}

void eas_answer_failure(struct eas_request *request, const struct eas_command *command,
			   int status, unsigned http_status_12, const char *reason)
{
	if (request->protocol_version >= 140) {
		eas_answer_status(request, command, status, reason);
		return;
	}
	request->http_status = http_status_12;
	request->reason = reason;
}

/* The media type, without parameters, compared case-insensitively (RFC 9110 8.3.1). */
static bool content_type_is_wbxml(const char *type)
{
	if (type == NULL)
		return false;
	size_t n = strcspn(type, "; \t");
	/* The short form is allowed from 12.1 on (MS-ASHTTP 2.2.1.1.2.2). */
	return (n == 29 && strncasecmp(type, "application/vnd.ms-sync.wbxml", 29) == 0) ||
	       (n == 23 && strncasecmp(type, "application/vnd.ms-sync", 23) == 0);
}

/* The whole body decodes and its root is the command's. Returns 0 or the common status. */
static int check_body(struct eas_request *request, const struct eas_command *command,
		      const char **reason)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	struct wbxml_limits limits = {
		.max_depth = LIMIT_WBXML_DEPTH,
		.max_elements = LIMIT_WBXML_ELEMENTS,
		.max_total = request->config->max_body,
	};
	wbxml_reader_init(&reader, request->body.data, request->body.len, &limits);
	bool first = true;
	do {
		if (wbxml_reader_next(&reader, &event) < 0) {
			*reason = "wbxml_invalid";
			return EAS_STATUS_INVALID_WBXML;
		}
		if (first && event.type == WBXML_EVENT_START && event.tag != command->root) {
			*reason = "wrong_root_element";
			return EAS_STATUS_INVALID_XML;
		}
		first = false;
	} while (event.type != WBXML_EVENT_DONE);
	return 0;
}

static int check_request(struct eas_request *request, const struct eas_command *command,
			 const char **reason)
{
	if (request->body.len == 0) {
		if (command->flags & EAS_EMPTY_BODY)
			return 0;
		*reason = "body_missing";
		return EAS_STATUS_INVALID_CONTENT;
	}
	if ((command->flags & EAS_MIME_BODY_12) && request->protocol_version < 140)
		return 0;
	if (!content_type_is_wbxml(request->content_type)) {
		*reason = "content_type_invalid";
		return EAS_STATUS_INVALID_CONTENT;
	}
	return check_body(request, command, reason);
}

static int touch_device(struct eas_request *request)
{
	return store_device_touch(request->session, request->arena, request->user.id, request->device_id,
				  request->device_type, request->user_agent, request->now, &request->device);
}

void eas_resume(struct eas_request *request, const struct eas_park *park)
{
	const struct eas_command *command = eas_command_find(request->command);
	assert(command != NULL && command->resume != NULL); /* only those park */
	request->http_status = 200;
	command->resume(request, park);
}

void eas_dispatch(struct eas_request *request)
{
	const char *reason = NULL;
	const struct eas_command *command = eas_command_find(request->command);
	request->http_status = 200;
	if (command == NULL) {
		request->http_status = 501;
		request->reason = "command_unknown";
		return;
	}
	int status = check_request(request, command, &reason);
	if (status != 0) {
		eas_answer_failure(request, command, status, 400, reason);
		return;
	}
	if (touch_device(request) != STORE_OK) {
		eas_answer_failure(request, command, EAS_STATUS_SERVER_ERROR_RETRY_LATER, 503, "store_error");
		return;
	}
	if (eas_access_refused(request, command))
		return;
	if (!(command->flags & EAS_NO_POLICY) && (status = eas_policy_status(request)) != 0) {
		/* 12.x learns it must provision from HTTP 449 (Exchange 2007 behaviour). */
		eas_answer_failure(request, command, status, 449, "provisioning_required");
		eas_access_observe(request, command);
		return;
	}
	if (command->handler == NULL)
		eas_answer_failure(request, command, EAS_STATUS_COMMAND_NOT_SUPPORTED, 501, "command_not_implemented");
	else
		command->handler(request);
	eas_access_observe(request, command);
}
