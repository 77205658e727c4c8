/*
 * ping.c: the Ping command (MS-ASCMD 2.2.1.13): the device names folders
 * and a HeartbeatInterval, and easd answers when one of them has
 * something for the device (Status 2, listing them) or when the interval
 * is over (Status 1). In between the request is parked (http/ and push/):
 * it holds no thread, no store session and no body.
 *
 * What wakes a Ping: any change the device's next Sync of the folder would
 * get, except its own (R5636: "the last SyncKey returned to the client";
 * its own Sync changes are behind its cursor, its MoveItems suppressed).
 * That goes beyond R5638-R5641, which asks only for new items, the way
 * Exchange and every peer do; [push] wake = new_items restricts it.
 *
 * Never an answer the client will repeat at once in a loop (field-notes
 * 5): a folder the device cannot sync (the recipient information cache,
 * a folder it never synced) is dropped from the watch set and named in
 * the log instead of being answered; out-of-range intervals get the bound
 * the client adopts (R4247/R4248), too many folders MaxFolders.
 */
#include "eas/sync_private.h"
#include "guard/limits.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ping_status {
	PING_EXPIRED = 1,
	PING_CHANGES = 2,
	PING_MISSING_PARAMETERS = 3,
	PING_SYNTAX_ERROR = 4,
	PING_HEARTBEAT_OUT_OF_RANGE = 5,
	PING_TOO_MANY_FOLDERS = 6,
	PING_HIERARCHY_CHANGED = 7,
	PING_SERVER_ERROR = 8,
};


/* An answer: the status and what it carries. */
struct ping_answer {
	int status;
	const char *reason;
	uint64_t heartbeat;         /* Status 5: the bound */
	const int64_t *changed;     /* Status 2 */
	unsigned changed_count;
};

static void answer(struct eas_request *r, const struct ping_answer *a)
{
	struct wbxml_writer writer;
	r->http_status = 200;
	r->eas_status = a->status;
	if (a->reason != NULL)
		r->reason = a->reason;
	eas_writer_init(r, &writer);
	wbxml_writer_start(&writer, WBXML_PING_PING);
	wbxml_writer_element_uint(&writer, WBXML_PING_STATUS, (uint64_t)a->status);
	if (a->status == PING_CHANGES) {
		wbxml_writer_start(&writer, WBXML_PING_FOLDERS);
		for (unsigned i = 0; i < a->changed_count; i++) {
			char id[24];
			int len = snprintf(id, sizeof(id), "%" PRId64, a->changed[i]);
			wbxml_writer_element_string(&writer, WBXML_PING_FOLDER, (const uint8_t *)id, (size_t)len);
		}
		wbxml_writer_end(&writer);
	}
	if (a->status == PING_TOO_MANY_FOLDERS)
		wbxml_writer_element_uint(&writer, WBXML_PING_MAX_FOLDERS, r->config->ping_max_folders);
	if (a->status == PING_HEARTBEAT_OUT_OF_RANGE)
		wbxml_writer_element_uint(&writer, WBXML_PING_HEARTBEAT_INTERVAL, a->heartbeat);
	wbxml_writer_end(&writer);
	eas_writer_finish(r, &writer);
}

static void answer_status(struct eas_request *r, int status, const char *reason)
{
	answer(r, &(struct ping_answer){ .status = status, .reason = reason });
}

/*
 * An answer the device can only fix by changing its request (Status 3 to
 * 8). A device that keeps sending what gets one (Android re-Pings at
 * once, with no back-off) gets it LIMIT_REPEAT_DELAY_SECONDS late once it
 * had LIMIT_REPEAT_IMMEDIATE of them in a minute: the request is parked
 * (no thread) with the answer it will get, and the loop slows to one
 * request a minute. The log says "ping_repeated:" and the reason.
 */
static void refuse(struct eas_request *r, const struct ping_answer *a)
{
	if (r->wake != PUSH_WAITING ||
	    guard_repeats_immediate(r->server->repeats, r->device.id, r->now) <= LIMIT_REPEAT_IMMEDIATE) {
		answer(r, a);
		return;
	}
	struct eas_park *park = arena_calloc(r->arena, 1, sizeof(*park));
	park->folders = arena_calloc(r->arena, 1, sizeof(*park->folders)); /* none watched */
	park->generation = push_hub_generation(r->server->push, r->user.id);
	park->deadline_ms = util_monotonic_ms() + LIMIT_REPEAT_DELAY_SECONDS * 1000;
	park->answer_status = a->status;
	park->answer_value = a->heartbeat;
	char reason[96];
	int len = snprintf(reason, sizeof(reason), "ping_repeated:%s", a->reason != NULL ? a->reason : "-");
	r->reason = arena_strndup(r->arena, reason, (size_t)len);
	r->park = park;
}

static void refuse_status(struct eas_request *r, int status, const char *reason)
{
	refuse(r, &(struct ping_answer){ .status = status, .reason = reason });
}

/* Names the first folder dropped from the watch set in the log ("ping_folder_not_synced:12"). */
static void note_dropped(struct eas_request *r, const char *why, const char *folder)
{
	if (r->reason != NULL)
		return;
	char text[96];
	int len = snprintf(text, sizeof(text), "%s:%s", why, folder);
	r->reason = arena_strndup(r->arena, text, (size_t)len);
}

static void note_dropped_id(struct eas_request *r, const char *why, int64_t folder_id)
{
	char id[24];
	snprintf(id, sizeof(id), "%" PRId64, folder_id);
	note_dropped(r, why, id);
}

/* ---- reading the request ---- */

/* One Folder: its Id (Class is not checked: a folder is pinged whatever class the device claims). */
static int read_folder(struct eas_request *r, struct wbxml_reader *reader, struct eas_ping_parameters *p)
{
	struct wbxml_event event;
	struct slice id = SLICE_EMPTY;
	bool has_id = false;
	int next;
	while ((next = wbxml_reader_next_child(reader, &event)) > 0) {
		if (event.tag == WBXML_PING_ID && !has_id) {
			has_id = true;
			if (eas_read_text(reader, &id) < 0)
				return -1;
		} else if (event.tag == WBXML_PING_CLASS) {
			if (wbxml_reader_skip(reader) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	int64_t folder;
	if (next < 0 || !has_id || id.len == 0)
		return -1;
	/* Not an id easd gives ("RI" from Samsung): FolderSync would not help, so not Status 7. */
	if (eas_folder_id_parse(id, &folder) < 0) {
		note_dropped(r, "ping_folder_unknown", arena_strndup(r->arena, id.data, id.len < 32 ? id.len : 32));
		return 0;
	}
	for (unsigned i = 0; i < p->folder_count; i++)
		if (p->folders[i] == folder)
			return -1; /* the same folder twice (MS-ASCMD 2.2.3.90 R6699) */
	if (p->folder_count == r->config->ping_max_folders) {
		p->too_many = true;
		return 0;
	}
	p->folders = arena_grow(r->arena, p->folders, sizeof(*p->folders), p->folder_count, &p->capacity, 16);
	p->folders[p->folder_count++] = folder;
	return 0;
}

static int read_folders(struct eas_request *r, struct wbxml_reader *reader, struct eas_ping_parameters *p)
{
	struct wbxml_event event;
	int next;
	while ((next = wbxml_reader_next_child(reader, &event)) > 0)
		if (event.tag != WBXML_PING_FOLDER || read_folder(r, reader, p) < 0)
			return -1;
	/* A folder dropped at reading (an id easd never gave) still counts as listed. */
	return next == 0 && (p->folder_count > 0 || p->too_many || r->reason != NULL) ? 0 : -1;
}

int eas_ping_read(struct eas_request *r, struct eas_ping_parameters *p)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	wbxml_reader_init(&reader, r->body.data, r->body.len, NULL);
	if (wbxml_reader_next(&reader, &event) < 0 || event.type != WBXML_EVENT_START)
		return -1;
	int next;
	while ((next = wbxml_reader_next_child(&reader, &event)) > 0) {
		if (event.tag == WBXML_PING_HEARTBEAT_INTERVAL && !p->has_heartbeat) {
			struct slice text;
			p->has_heartbeat = true;
			if (eas_read_text(&reader, &text) < 0 || parse_uint64(text, UINT32_MAX, &p->heartbeat) < 0)
				return -1;
		} else if (event.tag == WBXML_PING_FOLDERS && !p->has_folders) {
			p->has_folders = true;
			if (read_folders(r, &reader, p) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return next == 0 ? 0 : -1;
}

/* ---- the cache: "1 <heartbeat> <folder>,<folder>,..." ---- */

static const char *cache_encode(struct eas_request *r, const struct eas_ping_parameters *p)
{
	struct buf text;
	buf_init(&text, 0);
	buf_printf(&text, "1 %" PRIu64 " ", p->heartbeat);
	for (unsigned i = 0; i < p->folder_count; i++)
		buf_printf(&text, "%s%" PRId64, i > 0 ? "," : "", p->folders[i]);
	const char *copy = arena_strndup(r->arena, text.data, text.len);
	buf_cleanup(&text);
	return copy;
}

/* Fills what the request left out from the cache text. Returns 0, or -1 for text it did not write. */
static int cache_decode(struct eas_request *r, const char *text, struct eas_ping_parameters *p)
{
	uint64_t heartbeat;
	int used = 0;
	if (sscanf(text, "1 %" SCNu64 " %n", &heartbeat, &used) != 1 || used == 0)
		return -1;
	if (!p->has_heartbeat) {
		p->has_heartbeat = true;
		p->heartbeat = heartbeat;
	}
	if (p->has_folders)
		return 0;
	for (const char *c = text + used; *c != '\0';) {
		char *end;
		long long id = strtoll(c, &end, 10);
		if (end == c)
			return -1;
		p->folders = arena_grow(r->arena, p->folders, sizeof(*p->folders), p->folder_count, &p->capacity, 16);
		p->folders[p->folder_count++] = id;
		c = *end == ',' ? end + 1 : end;
	}
	p->has_folders = p->folder_count > 0;
	return 0;
}

/*
 * Completes the parameters from the cache (R5632, R5634: an empty Ping, or
 * one without HeartbeatInterval or Folders, uses the last ones), and
 * caches what the request brought. Returns 0 or a Ping status.
 */
static int complete_parameters(struct eas_request *r, struct eas_ping_parameters *p)
{
	const char *stored = "";
	struct eas_ping_parameters given = *p;
	int status = store_request_cache_get(r->session, r->arena, r->device.id, STORE_CACHE_PING, &stored);
	if (status != STORE_OK && status != STORE_NOT_FOUND)
		return PING_SERVER_ERROR;
	if (status == STORE_OK && cache_decode(r, stored, p) < 0)
		*p = given; /* unreadable: as if there were none */
	if (!p->has_heartbeat || !p->has_folders)
		return PING_MISSING_PARAMETERS;
	if (!given.has_heartbeat && !given.has_folders)
		return 0;
	const char *text = cache_encode(r, p);
	if (strcmp(text, stored) != 0 && store_request_cache_put(r->session, r->device.id, STORE_CACHE_PING, text) != STORE_OK)
		return PING_SERVER_ERROR;
	return 0;
}

/* ---- watching ---- */

/* Whether the device's folder list is behind the user's (R4257: Exchange answers 7 at once then). */
static int hierarchy_status(struct eas_request *r)
{
	struct store_sync_state state;
	uint64_t modseq;
	int status = store_sync_state_get(r->session, r->device.id, 0, &state);
	if (status == STORE_NOT_FOUND)
		return PING_HIERARCHY_CHANGED;
	if (status != STORE_OK || store_hierarchy_modseq(r->session, r->user.id, &modseq) != STORE_OK)
		return PING_SERVER_ERROR;
	return state.modseq < modseq ? PING_HIERARCHY_CHANGED : 0;
}

/*
 * One folder of a device whose hierarchy is current: 0 when the device
 * cannot be told about it (dropped, *reason says why), 1 watched, 2
 * watched with a change waiting; -1 on a store failure.
 */
static int folder_state(struct eas_request *r, int64_t folder_id, const char **reason, uint64_t *sync_key_out)
{
	struct store_folder folder;
	struct store_sync_state state;
	int status = eas_folder_get(r, r->arena, folder_id, &folder);
	/* Gone, though the device's hierarchy is current: 7 would only bring the same Ping back. */
	if (status == STORE_NOT_FOUND) {
		*reason = "ping_folder_unknown";
		return 0;
	}
	if (status != STORE_OK)
		return -1;
	/* The recipient information cache is not pinged (MS-ASCMD 2.2.3.30.6); Samsung does anyway. */
	if (folder.type == STORE_FOLDER_RECIPIENT_CACHE) {
		*reason = "ping_folder_not_pingable";
		return 0;
	}
	/* A folder never synced has no key to be behind (R5636); "changed" would loop (field-notes T60). */
	status = store_sync_state_get(r->session, r->device.id, folder_id, &state);
	if (status == STORE_NOT_FOUND || (status == STORE_OK && state.sync_key == 0)) {
		*reason = "ping_folder_not_synced";
		return 0;
	}
	bool pending;
	if (status != STORE_OK ||
	    sync_pending_change(r, folder_id, &state, r->config->wake_on_new_items_only, &pending) != STORE_OK)
		return -1;
	*sync_key_out = state.sync_key;
	/* Told of it LIMIT_REPEAT_CHANGED times and never synced it: a loop (field-notes T65), not news. */
	if (pending && guard_repeats_peek(r->server->repeats, r->device.id, folder_id, state.sync_key) >=
			       LIMIT_REPEAT_CHANGED) {
		*reason = "ping_folder_not_syncing";
		return 0;
	}
	return pending ? 2 : 1;
}

/*
 * Answers at once when there is something to say (changes, a folder gone,
 * the hierarchy behind), else parks the request on the folders it can
 * watch, until deadline_ms. The generation is taken before the first
 * look, so a change committed during the check wakes the parked request.
 */
static void watch(struct eas_request *r, const int64_t *folders, unsigned count, int64_t deadline_ms)
{
	struct eas_park *park = arena_calloc(r->arena, 1, sizeof(*park));
	int64_t *changed = arena_calloc(r->arena, count + 1, sizeof(*changed));
	unsigned changed_count = 0;
	park->generation = push_hub_generation(r->server->push, r->user.id);
	park->folders = arena_calloc(r->arena, count + 1, sizeof(*park->folders));
	park->folders[park->folder_count++] = 0; /* the hierarchy: a folder created or deleted answers 7 */
	int status = hierarchy_status(r);
	for (unsigned i = 0; i < count && status == 0; i++) {
		const char *why = NULL;
		uint64_t sync_key = 0;
		int state = folder_state(r, folders[i], &why, &sync_key);
		if (state < 0)
			status = PING_SERVER_ERROR;
		else if (state == 0)
			note_dropped_id(r, why, folders[i]);
		else
			park->folders[park->folder_count++] = folders[i];
		if (state == 2) {
			changed[changed_count++] = folders[i];
			guard_repeats_report(r->server->repeats, r->device.id, folders[i], sync_key, r->now);
		}
	}
	if (status != 0) {
		refuse_status(r, status, status == PING_SERVER_ERROR ? "store_error" : "hierarchy_changed");
		return;
	}
	if (changed_count > 0) {
		answer(r, &(struct ping_answer){ .status = PING_CHANGES, .changed = changed, .changed_count = changed_count });
		return;
	}
	park->deadline_ms = deadline_ms;
	r->park = park;
}

/* Status 5 with the nearest bound, or 0 when the interval is inside them. */
static int check_heartbeat(struct eas_request *r, uint64_t heartbeat)
{
	const struct easd_config *config = r->config;
	if (heartbeat >= config->heartbeat_min && heartbeat <= config->heartbeat_max)
		return 0;
	uint64_t bound = heartbeat < config->heartbeat_min ? config->heartbeat_min : config->heartbeat_max;
	refuse(r, &(struct ping_answer){ .status = PING_HEARTBEAT_OUT_OF_RANGE, .heartbeat = bound,
					 .reason = "heartbeat_out_of_range" });
	return -1;
}

void eas_ping(struct eas_request *r)
{
	struct eas_ping_parameters p = { 0 };
	/* A newer Ping (or Sync with Wait) of this device arrived first: this one is stale. */
	if (push_hub_supersede(r->server->push, r->device.id, r->sequence)) {
		answer_status(r, PING_EXPIRED, "ping_superseded");
		return;
	}
	if (r->body.len > 0 && (eas_ping_read(r, &p) < 0 || (!p.has_heartbeat && !p.has_folders))) {
		refuse_status(r, PING_SYNTAX_ERROR, "ping_invalid");
		return;
	}
	if (p.too_many) {
		refuse(r, &(struct ping_answer){ .status = PING_TOO_MANY_FOLDERS, .reason = "ping_too_many_folders" });
		return;
	}
	int status = complete_parameters(r, &p);
	if (status != 0) {
		refuse_status(r, status, status == PING_MISSING_PARAMETERS ? "ping_parameters_missing" : "store_error");
		return;
	}
	if (check_heartbeat(r, p.heartbeat) < 0)
		return;
	int64_t interval = (int64_t)p.heartbeat - LIMIT_PUSH_EARLY_SECONDS;
	watch(r, p.folders, p.folder_count, util_monotonic_ms() + (interval > 0 ? interval : 1) * 1000);
}

/*
 * The wait ended. A change (or what may be one: the hub wakes on any
 * change to a watched folder) is looked at again over the folders being
 * watched; if it was the device's own, or nothing the device would get,
 * the request parks again until the same deadline.
 */
void eas_ping_resume(struct eas_request *r, const struct eas_park *park)
{
	if (park->answer_status != 0) {
		answer(r, &(struct ping_answer){ .status = park->answer_status, .heartbeat = park->answer_value });
		return;
	}
	if (r->wake != PUSH_CHANGED) {
		answer_status(r, PING_EXPIRED, r->wake == PUSH_SUPERSEDED ? "ping_superseded"
					       : r->wake == PUSH_STOPPING ? "server_stopping" : NULL);
		return;
	}
	/* folders[0] is the hierarchy, watched by watch() itself. */
	watch(r, park->folders + 1, park->folder_count - 1, park->deadline_ms);
}
