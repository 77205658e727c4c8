/*
 * sync_request.c: reads a Sync request (MS-ASCMD 2.2.1.21) into struct
 * sync_request. Only what easd uses is kept; unknown elements are skipped
 * whole. Counts are bounded (LIMIT_SYNC_*) before anything is allocated
 * for them.
 */
#include "eas/sync_private.h"

#include <string.h>

#include "guard/limits.h"

/*
 * A new Options block replaces the sticky one whole: what it leaves out
 * takes the default. A second block for the SMS class (14.0+) is read and
 * dropped: easd keeps no SMS.
 */
static int read_options(struct wbxml_reader *reader, struct sync_collection *collection)
{
	struct sync_settings settings = collection->settings;
	struct wbxml_event event;
	struct slice class = { 0 };
	unsigned value = 0;
	int more;
	settings.filter_type = 0;
	settings.conflict = SYNC_SERVER_WINS;
	memset(&settings.options, 0, sizeof(settings.options));
	settings.options.protocol_version = collection->settings.options.protocol_version;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		int status;
		if (event.tag == WBXML_AIRSYNC_FILTER_TYPE) {
			status = eas_read_number(reader, 8, 0, &value);
			settings.filter_type = (uint8_t)value;
		} else if (event.tag == WBXML_AIRSYNC_CONFLICT) {
			status = eas_read_number(reader, 1, SYNC_SERVER_WINS, &value);
			settings.conflict = (uint8_t)value;
		} else if (event.tag == WBXML_AIRSYNC_CLASS) {
			status = eas_read_text(reader, &class);
		} else if ((status = eas_body_option_read(reader, event.tag, &settings.options)) == 0) {
			status = wbxml_reader_skip(reader);
		}
		if (status < 0)
			return -1;
	}
	if (more < 0)
		return -1;
	if (class.len == 3 && memcmp(class.data, "SMS", 3) == 0)
		return 0;
	collection->settings = settings;
	collection->options_given = true;
	return 0;
}

static struct sync_command *add_command(struct eas_request *request, struct sync_collection *collection)
{
	if (collection->command_count == request->config->max_sync_commands)
		return NULL;
	collection->commands = arena_grow(request->arena, collection->commands, sizeof(*collection->commands),
					  collection->command_count, &collection->command_capacity, 16);
	struct sync_command *command = &collection->commands[collection->command_count++];
	memset(command, 0, sizeof(*command));
	return command;
}

static int read_command(struct wbxml_reader *reader, struct sync_command *command)
{
	struct wbxml_event event;
	int more;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		int status;
		if (event.tag == WBXML_AIRSYNC_SERVER_ID)
			status = eas_read_text(reader, &command->server_id);
		else if (event.tag == WBXML_AIRSYNC_CLIENT_ID)
			status = eas_read_text(reader, &command->client_id);
		else if (event.tag == WBXML_AIRSYNCBASE_INSTANCE_ID)
			status = eas_read_text(reader, &command->instance_id);
		else if (event.tag == WBXML_AIRSYNC_APPLICATION_DATA && !command->has_data &&
			 (command->kind == SYNC_ADD || command->kind == SYNC_CHANGE)) {
			command->has_data = true;
			command->data = wbxml_reader_mark(reader, &event);
			status = wbxml_reader_skip(reader);
		} else
			status = wbxml_reader_skip(reader);
		if (status < 0)
			return -1;
	}
	return more < 0 ? -1 : 0;
}

static int read_commands(struct eas_request *request, struct wbxml_reader *reader,
			 struct sync_collection *collection, const char **reason)
{
	struct wbxml_event event;
	int more;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		enum sync_command_kind kind;
		switch (event.tag) {
		case WBXML_AIRSYNC_ADD: kind = SYNC_ADD; break;
		case WBXML_AIRSYNC_CHANGE: kind = SYNC_CHANGE; break;
		case WBXML_AIRSYNC_DELETE: kind = SYNC_DELETE; break;
		case WBXML_AIRSYNC_FETCH: kind = SYNC_FETCH; break;
		default:
			if (wbxml_reader_skip(reader) < 0)
				return -1;
			continue;
		}
		struct sync_command *command = add_command(request, collection);
		if (command == NULL) {
			*reason = "too_many_commands";
			return -1;
		}
		command->kind = kind;
		if (read_command(reader, command) < 0)
			return -1;
	}
	return more < 0 ? -1 : 0;
}

/* Supported: the elements a device syncs in the folder; more than PIM_SUPPORTED_MAX are dropped. */
static int read_supported(struct wbxml_reader *reader, struct sync_collection *collection)
{
	struct pim_supported *supported = &collection->settings.supported;
	struct wbxml_event event;
	int more;
	memset(supported, 0, sizeof(*supported));
	supported->given = true;
	collection->supported_given = true;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		if (supported->count < PIM_SUPPORTED_MAX)
			supported->tags[supported->count++] = (uint16_t)event.tag;
		if (wbxml_reader_skip(reader) < 0)
			return -1;
	}
	return more < 0 ? -1 : 0;
}

static int read_collection(struct eas_request *request, struct wbxml_reader *reader,
			   struct sync_collection *collection, const char **reason)
{
	struct wbxml_event event;
	int more;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		int status;
		unsigned value = 0;
		switch (event.tag) {
		case WBXML_AIRSYNC_SYNC_KEY: status = eas_read_text(reader, &collection->sync_key); break;
		case WBXML_AIRSYNC_COLLECTION_ID: status = eas_read_text(reader, &collection->collection_id); break;
		case WBXML_AIRSYNC_GET_CHANGES:
			/* An empty <GetChanges/> means true (MS-ASCMD 2.2.3.84). */
			status = eas_read_number(reader, 1, 1, &value);
			collection->settings.get_changes = value == 1;
			collection->settings.get_changes_given = true;
			break;
		case WBXML_AIRSYNC_WINDOW_SIZE:
			status = eas_read_number(reader, UINT32_MAX, SYNC_DEFAULT_WINDOW, &collection->settings.window_size);
			break;
		case WBXML_AIRSYNC_DELETES_AS_MOVES:
			status = eas_read_number(reader, 1, 1, &value);
			collection->settings.deletes_as_moves = value == 1;
			break;
		case WBXML_AIRSYNC_OPTIONS: status = read_options(reader, collection); break;
		case WBXML_AIRSYNC_SUPPORTED: status = read_supported(reader, collection); break;
		case WBXML_AIRSYNC_COMMANDS: status = read_commands(request, reader, collection, reason); break;
		default: status = wbxml_reader_skip(reader); break;
		}
		if (status < 0)
			return -1;
	}
	return more < 0 ? -1 : 0;
}

struct sync_collection *sync_collection_add(struct eas_request *request, struct sync_request *sync)
{
	if (sync->collection_count == LIMIT_SYNC_COLLECTIONS)
		return NULL;
	sync->collections = arena_grow(request->arena, sync->collections, sizeof(*sync->collections),
				       sync->collection_count, &sync->collection_capacity, 8);
	struct sync_collection *collection = &sync->collections[sync->collection_count++];
	memset(collection, 0, sizeof(*collection));
	sync_settings_defaults(&collection->settings, request->protocol_version);
	return collection;
}

static int read_collections(struct eas_request *request, struct wbxml_reader *reader,
			    struct sync_request *sync, const char **reason)
{
	struct wbxml_event event;
	int more;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		if (event.tag != WBXML_AIRSYNC_COLLECTION) {
			if (wbxml_reader_skip(reader) < 0)
				return -1;
			continue;
		}
		struct sync_collection *collection = sync_collection_add(request, sync);
		if (collection == NULL) {
			*reason = "too_many_collections";
			return -2;
		}
		if (read_collection(request, reader, collection, reason) < 0)
			return -1;
		int64_t folder;
		if (slice_equals_cstr(collection->sync_key, "0") && eas_folder_id_parse(collection->collection_id, &folder) == 0)
			eas_note_sync_key_zero(request, folder);
	}
	return more < 0 ? -1 : 0;
}

/* Wait or HeartbeatInterval: a number, and not both (MS-ASCMD 2.2.3.198 R4747: Status 4). */
static int read_wait(struct wbxml_reader *reader, enum wbxml_tag tag, struct sync_request *sync, const char **reason)
{
	struct slice text;
	bool wait = tag == WBXML_AIRSYNC_WAIT;
	if (sync->has_wait || sync->has_heartbeat) {
		*reason = "wait_and_heartbeat";
		return -1;
	}
	if (eas_read_text(reader, &text) < 0 ||
	    parse_uint64(text, UINT32_MAX, wait ? &sync->wait_minutes : &sync->heartbeat_seconds) < 0) {
		*reason = "wait_invalid";
		return -1;
	}
	sync->has_wait = wait;
	sync->has_heartbeat = !wait;
	return 0;
}

int sync_request_parse(struct eas_request *request, struct sync_request *sync, const char **reason)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	memset(sync, 0, sizeof(*sync));
	wbxml_reader_init(&reader, request->body.data, request->body.len, NULL);
	if (wbxml_reader_next(&reader, &event) < 0 || event.type != WBXML_EVENT_START)
		goto malformed;
	for (;;) {
		if (wbxml_reader_next(&reader, &event) < 0)
			goto malformed;
		if (event.type == WBXML_EVENT_END || event.type == WBXML_EVENT_DONE)
			return 0;
		if (event.type != WBXML_EVENT_START)
			continue;
		int status;
		switch (event.tag) {
		case WBXML_AIRSYNC_COLLECTIONS:
			status = event.empty ? wbxml_reader_skip(&reader) : read_collections(request, &reader, sync, reason);
			if (status == -2)
				return SYNC_STATUS_TOO_MANY_COLLECTIONS;
			break;
		case WBXML_AIRSYNC_WINDOW_SIZE:
			status = eas_read_number(&reader, UINT32_MAX, SYNC_DEFAULT_WINDOW, &sync->window_size);
			break;
		case WBXML_AIRSYNC_PARTIAL:
			sync->partial = true;
			status = wbxml_reader_skip(&reader);
			break;
		case WBXML_AIRSYNC_WAIT:
		case WBXML_AIRSYNC_HEARTBEAT_INTERVAL:
			status = read_wait(&reader, event.tag, sync, reason);
			break;
		default:
			status = wbxml_reader_skip(&reader);
			break;
		}
		if (status < 0)
			goto malformed;
	}
malformed:
	if (*reason == NULL)
		*reason = "request_invalid";
	return SYNC_STATUS_PROTOCOL_ERROR;
}
