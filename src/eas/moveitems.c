/*
 * moveitems.c: the MoveItems command (MS-ASCMD 2.2.1.12). Each Move is
 * answered on its own (Status 3 is success here). The moved item gets a
 * new ServerId; the device renames its copy itself, so the move is
 * recorded as the device's own change in both folders and its next Sync
 * does not send it back as a Delete and an Add.
 */
#include "eas/eas_private.h"
#include "pim/pim.h"

#include <string.h>

enum move_status {
	MOVE_INVALID_SOURCE = 1,
	MOVE_INVALID_DESTINATION = 2,
	MOVE_SUCCESS = 3,
	MOVE_SAME_FOLDER = 4,
	MOVE_CANNOT_MOVE = 5,
};

struct move {
	struct slice message_id, source, destination;
};

static int read_move(struct wbxml_reader *reader, struct move *move)
{
	struct wbxml_event event;
	memset(move, 0, sizeof(*move));
	int more;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		int status;
		if (event.tag == WBXML_MOVE_SRC_MSG_ID)
			status = eas_read_text(reader, &move->message_id);
		else if (event.tag == WBXML_MOVE_SRC_FLD_ID)
			status = eas_read_text(reader, &move->source);
		else if (event.tag == WBXML_MOVE_DST_FLD_ID)
			status = eas_read_text(reader, &move->destination);
		else
			status = wbxml_reader_skip(reader);
		if (status < 0)
			return -1;
	}
	return more < 0 ? -1 : 0;
}

/*
 * Only a folder the device syncs: one it has never synced must still bring
 * the moved item when it first does.
 */
static int suppress(struct eas_request *r, int64_t folder_id, uint64_t modseq)
{
	struct store_sync_state state;
	int status = store_sync_state_get(r->session, r->device.id, folder_id, &state);
	if (status == STORE_NOT_FOUND)
		return STORE_OK;
	return status == STORE_OK ? store_sync_suppress_add(r->session, r->device.id, folder_id, modseq) : status;
}

/* Runs one move; returns its status and the new item id. */
static int run_move(struct eas_request *r, const struct move *move, int64_t *destination_out, int64_t *new_id_out)
{
	struct store_folder source, destination;
	struct store_item item;
	int64_t source_id, destination_id, item_id;
	uint64_t source_modseq, destination_modseq;
	if (eas_folder_id_parse(move->source, &source_id) < 0 ||
	    eas_folder_get(r, r->arena, source_id, &source) != STORE_OK ||
	    eas_server_id_parse(move->message_id, source_id, &item_id) < 0 ||
	    store_item_get(r->session, r->arena, source_id, item_id, &item) != STORE_OK || item.deleted)
		return MOVE_INVALID_SOURCE;
	if (eas_folder_id_parse(move->destination, &destination_id) < 0 ||
	    eas_folder_get(r, r->arena, destination_id, &destination) != STORE_OK)
		return MOVE_INVALID_DESTINATION;
	if (source_id == destination_id)
		return MOVE_SAME_FOLDER;
	/* Within one class: mail to mail, a contact to another address book, an event to another calendar. */
	const struct pim_class *class = pim_class_for_folder(source.type);
	if (class != pim_class_for_folder(destination.type) || class->name[0] == '\0')
		return MOVE_CANNOT_MOVE;
	int status = store_item_move(r->session, r->user.id, source_id, item_id, destination_id, new_id_out,
				     &source_modseq, &destination_modseq);
	if (status == STORE_NOT_FOUND)
		return MOVE_INVALID_SOURCE;
	if (status != STORE_OK || suppress(r, source_id, source_modseq) != STORE_OK ||
	    suppress(r, destination_id, destination_modseq) != STORE_OK)
		return MOVE_CANNOT_MOVE;
	*destination_out = destination_id;
	return MOVE_SUCCESS;
}

static int answer_move(struct eas_request *r, struct wbxml_reader *reader, struct wbxml_writer *writer)
{
	struct move move;
	int64_t destination = 0, new_id = 0;
	if (read_move(reader, &move) < 0)
		return -1;
	int status = run_move(r, &move, &destination, &new_id);
	wbxml_writer_start(writer, WBXML_MOVE_RESPONSE);
	wbxml_writer_element_string(writer, WBXML_MOVE_SRC_MSG_ID, move.message_id.data, move.message_id.len);
	wbxml_writer_element_uint(writer, WBXML_MOVE_STATUS, (uint64_t)status);
	if (status == MOVE_SUCCESS)
		eas_server_id_write(writer, WBXML_MOVE_DST_MSG_ID, destination, new_id);
	wbxml_writer_end(writer);
	if (status != MOVE_SUCCESS && r->reason == NULL) {
		r->eas_status = status;
		r->reason = "move_failed";
	}
	return 0;
}

void eas_moveitems(struct eas_request *request)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	struct wbxml_writer writer;
	wbxml_reader_init(&reader, request->body.data, request->body.len, NULL);
	eas_writer_init(request, &writer);
	wbxml_writer_start(&writer, WBXML_MOVE_MOVE_ITEMS);
	if (store_begin(request->session) != STORE_OK) {
		eas_answer_status(request, eas_command_find("MoveItems"), EAS_STATUS_SERVER_ERROR_RETRY_LATER, "store_busy");
		return;
	}
	wbxml_reader_next(&reader, &event); /* the root, checked by dispatch */
	for (;;) {
		if (wbxml_reader_next(&reader, &event) < 0)
			break;
		if (event.type == WBXML_EVENT_DONE || event.type == WBXML_EVENT_END)
			break;
		if (event.type != WBXML_EVENT_START)
			continue;
		int status = event.tag == WBXML_MOVE_MOVE ? answer_move(request, &reader, &writer)
							  : wbxml_reader_skip(&reader);
		if (status < 0)
			break;
	}
	wbxml_writer_end(&writer);
	if (store_commit(request->session) != STORE_OK) {
		eas_answer_status(request, eas_command_find("MoveItems"), EAS_STATUS_SERVER_ERROR_RETRY_LATER, "store_commit_failed");
		return;
	}
	eas_writer_finish(request, &writer);
	if (request->eas_status == 0)
		request->eas_status = MOVE_SUCCESS;
}
