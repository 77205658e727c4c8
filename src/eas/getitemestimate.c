/*
 * getitemestimate.c: the GetItemEstimate command (MS-ASCMD 2.2.1.9): how
 * many changes the next Sync of each collection would bring. It reads the
 * collection's state and counts what sync_collect.c would send from it
 * under the FilterType asked (else the sticky one); it changes nothing.
 *
 * 14.0+ put SyncKey and Options in AirSync; 12.1 puts Class and
 * FilterType beside CollectionId: both are read.
 */
#include "eas/sync_private.h"

#include <string.h>

#include "guard/limits.h"

enum estimate_status {
	ESTIMATE_SUCCESS = 1,
	ESTIMATE_INVALID_COLLECTION = 2,
	ESTIMATE_NOT_PRIMED = 3,
	ESTIMATE_INVALID_SYNC_KEY = 4,
};

struct estimate {
	struct slice sync_key, collection_id;
	int status;
	bool filter_given;
	uint8_t filter_type;
	uint64_t count;
};

static int read_collection(struct wbxml_reader *reader, struct estimate *estimate)
{
	struct wbxml_event event;
	memset(estimate, 0, sizeof(*estimate));
	for (unsigned depth = 1; depth > 0;) {
		if (wbxml_reader_next(reader, &event) < 0)
			return -1;
		if (event.type == WBXML_EVENT_END) {
			depth--;
			continue;
		}
		if (event.type != WBXML_EVENT_START)
			continue;
		int status = 0;
		if (event.tag == WBXML_AIRSYNC_SYNC_KEY)
			status = eas_read_text(reader, &estimate->sync_key);
		else if (event.tag == WBXML_GETITEMESTIMATE_COLLECTION_ID)
			status = eas_read_text(reader, &estimate->collection_id);
		else if (event.tag == WBXML_AIRSYNC_OPTIONS)
			depth++; /* FilterType inside (14.0+) */
		else if (event.tag == WBXML_AIRSYNC_FILTER_TYPE) {
			unsigned value;
			status = eas_read_number(reader, 8, 0, &value);
			estimate->filter_type = (uint8_t)value;
			estimate->filter_given = true;
		}
		else
			status = wbxml_reader_skip(reader);
		if (status < 0)
			return -1;
	}
	return 0;
}

/* The FilterType the device's last Sync of the folder asked for. */
static uint8_t sticky_filter(struct eas_request *r, int64_t folder_id)
{
	struct sync_settings settings;
	const char *text;
	sync_settings_defaults(&settings, r->protocol_version);
	if (store_sync_settings_get(r->session, r->arena, r->device.id, folder_id, &text) == STORE_OK)
		sync_settings_decode(text, &settings);
	return settings.filter_type;
}

static void estimate_collection(struct eas_request *r, struct estimate *estimate)
{
	struct store_folder folder;
	struct store_sync_state state;
	int64_t folder_id;
	uint64_t key;
	if (eas_folder_id_parse(estimate->collection_id, &folder_id) < 0 ||
	    eas_folder_get(r, r->arena, folder_id, &folder) != STORE_OK) {
		estimate->status = ESTIMATE_INVALID_COLLECTION;
		return;
	}
	int status = store_sync_state_get(r->session, r->device.id, folder_id, &state);
	if (status == STORE_NOT_FOUND || (status == STORE_OK && parse_uint64(estimate->sync_key, UINT64_MAX, &key) == 0 && key == 0)) {
		estimate->status = ESTIMATE_NOT_PRIMED;
		return;
	}
	if (status != STORE_OK || parse_uint64(estimate->sync_key, UINT64_MAX, &key) < 0 || key != state.sync_key) {
		estimate->status = ESTIMATE_INVALID_SYNC_KEY;
		return;
	}
	if (!estimate->filter_given)
		estimate->filter_type = sticky_filter(r, folder_id);
	if (sync_estimate(r, &folder, &state, estimate->filter_type, &estimate->count) != STORE_OK) {
		estimate->status = ESTIMATE_INVALID_COLLECTION;
		return;
	}
	estimate->status = ESTIMATE_SUCCESS;
}

static void write_estimate(struct wbxml_writer *writer, const struct estimate *estimate)
{
	wbxml_writer_start(writer, WBXML_GETITEMESTIMATE_RESPONSE);
	wbxml_writer_element_uint(writer, WBXML_GETITEMESTIMATE_STATUS, (uint64_t)estimate->status);
	wbxml_writer_start(writer, WBXML_GETITEMESTIMATE_COLLECTION);
	wbxml_writer_element_string(writer, WBXML_GETITEMESTIMATE_COLLECTION_ID, estimate->collection_id.data,
				    estimate->collection_id.len);
	if (estimate->status == ESTIMATE_SUCCESS)
		wbxml_writer_element_uint(writer, WBXML_GETITEMESTIMATE_ESTIMATE, estimate->count);
	wbxml_writer_end(writer);
	wbxml_writer_end(writer);
}

void eas_getitemestimate(struct eas_request *request)
{
	unsigned collections = 0;
	struct wbxml_reader reader;
	struct wbxml_event event;
	struct wbxml_writer writer;
	wbxml_reader_init(&reader, request->body.data, request->body.len, NULL);
	eas_writer_init(request, &writer);
	wbxml_writer_start(&writer, WBXML_GETITEMESTIMATE_GET_ITEM_ESTIMATE);
	for (;;) {
		if (wbxml_reader_next(&reader, &event) < 0 || event.type == WBXML_EVENT_DONE)
			break;
		if (event.type != WBXML_EVENT_START || event.tag != WBXML_GETITEMESTIMATE_COLLECTION)
			continue;
		/* Each costs a few counts over the folder: as many as a Sync may name, the rest unanswered. */
		if (++collections > LIMIT_SYNC_COLLECTIONS) {
			request->reason = "too_many_collections";
			break;
		}
		struct estimate estimate;
		if (read_collection(&reader, &estimate) < 0)
			break;
		estimate_collection(request, &estimate);
		write_estimate(&writer, &estimate);
		if (estimate.status != ESTIMATE_SUCCESS && request->reason == NULL) {
			request->eas_status = estimate.status;
			request->reason = "estimate_failed";
		}
	}
	wbxml_writer_end(&writer);
	eas_writer_finish(request, &writer);
	if (request->eas_status == 0)
		request->eas_status = ESTIMATE_SUCCESS;
}
