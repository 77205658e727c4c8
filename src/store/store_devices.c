/* store_devices.c: the devices of users, their policy keys and what they say about themselves (see store.h). */
#include "store/store_private.h"

#include <string.h>

static const char *const access_names[] = { "", "allow", "block", "quarantine" };
static const char *const wipe_names[] = { "", "device", "account" };
static const char *const wipe_state_names[] = { "requested", "sent", "done", "failed" };

/* The index of text in names (n of them); 0 when it is none (a value this easd does not know). */
static int name_index(const char *const *names, int n, const char *text)
{
	for (int i = 0; i < n; i++)
		if (text != NULL && strcmp(names[i], text) == 0)
			return i;
	return 0;
}

const char *store_access_name(enum store_access access)
{
	return access_names[access];
}

int store_access_parse(const char *name, enum store_access *access_out)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(access_names[i], name) == 0) {
			*access_out = (enum store_access)i;
			return 0;
		}
	return -1;
}

const char *store_wipe_name(enum store_wipe kind)
{
	return wipe_names[kind];
}

const char *store_wipe_state_name(enum store_wipe_state state)
{
	return wipe_state_names[state];
}

static void read_decisions(struct arena *arena, sqlite3_stmt *stmt, struct store_device *device)
{
	device->access = (struct store_device_access){
		.access = (enum store_access)name_index(access_names, 4, (const char *)sqlite3_column_text(stmt, 12)),
		.by = store_column_text(arena, stmt, 13),
		.reason = store_column_text(arena, stmt, 14),
		.since = sqlite3_column_int64(stmt, 15),
		.until = sqlite3_column_int64(stmt, 16),
	};
	device->wipe = (struct store_device_wipe){
		.kind = (enum store_wipe)name_index(wipe_names, 3, (const char *)sqlite3_column_text(stmt, 17)),
		.state = (enum store_wipe_state)name_index(wipe_state_names, 4,
							   (const char *)sqlite3_column_text(stmt, 18)),
		.requested = sqlite3_column_int64(stmt, 19),
		.answered = sqlite3_column_int64(stmt, 20),
	};
	device->trace_until = sqlite3_column_int64(stmt, 21);
	device->hidden_classes = store_column_text(arena, stmt, 22);
	device->hidden_previous = store_column_text(arena, stmt, 23);
}

/* Reads DEVICE_COLUMNS (store_sqlite.c). */
static void read_device(struct arena *arena, sqlite3_stmt *stmt, struct store_device *device)
{
	device->id = sqlite3_column_int64(stmt, 0);
	device->device_type = store_column_text(arena, stmt, 1);
	device->user_agent = store_column_text(arena, stmt, 2);
	device->first_seen = sqlite3_column_int64(stmt, 3);
	device->last_seen = sqlite3_column_int64(stmt, 4);
	device->policy_key = (uint32_t)sqlite3_column_int64(stmt, 5);
	device->policy_version = store_column_text(arena, stmt, 6);
	device->pending_key = (uint32_t)sqlite3_column_int64(stmt, 7);
	device->pending_version = store_column_text(arena, stmt, 8);
	device->model = store_column_text(arena, stmt, 9);
	device->os = store_column_text(arena, stmt, 10);
	device->friendly_name = store_column_text(arena, stmt, 11);
	read_decisions(arena, stmt, device);
}

static int device_find(struct store_session *session, struct arena *arena, int64_t user_id,
		       const char *device_id, struct store_device *device)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_DEVICE_FIND);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, device_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		read_device(arena, stmt, device);
	return store_row_done(session, stmt, rc, "find device");
}

static int device_insert(struct store_session *session, int64_t user_id, const char *device_id,
			 const char *device_type, const char *user_agent, int64_t now)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_DEVICE_INSERT);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, device_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, device_type, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, user_agent, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, now);
	return store_run(session, stmt, "add device");
}

/*
 * last_seen is written at most once a minute: a device polling every few
 * seconds must not turn every read into a database write.
 */
static int device_seen(struct store_session *session, struct store_device *device,
		       const char *device_type, const char *user_agent, int64_t now)
{
	bool changed = strcmp(device->device_type, device_type) != 0 ||
		       strcmp(device->user_agent, user_agent) != 0;
	if (!changed && now - device->last_seen < 60)
		return STORE_OK;
	sqlite3_stmt *stmt = store_statement(session, SQL_DEVICE_SEEN);
	sqlite3_bind_int64(stmt, 1, device->id);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_text(stmt, 3, device_type, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, user_agent, -1, SQLITE_STATIC);
	device->last_seen = now;
	if (device->first_seen == 0) /* decided about before it first came */
		device->first_seen = now;
	return store_run(session, stmt, "device seen");
}

int store_device_touch(struct store_session *session, struct arena *arena, int64_t user_id,
		       const char *device_id, const char *device_type, const char *user_agent,
		       int64_t now, struct store_device *device_out)
{
	int status = device_find(session, arena, user_id, device_id, device_out);
	if (status == STORE_NOT_FOUND) {
		status = device_insert(session, user_id, device_id, device_type, user_agent, now);
		/* Two first requests of one device may race: the loser reads the winner's row. */
		if (status != STORE_OK && status != STORE_EXISTS)
			return status;
		status = device_find(session, arena, user_id, device_id, device_out);
	} else if (status == STORE_OK) {
		status = device_seen(session, device_out, device_type, user_agent, now);
	}
	if (status != STORE_OK)
		return status;
	device_out->user_id = user_id;
	device_out->device_id = arena_strndup(arena, device_id, strlen(device_id));
	device_out->device_type = arena_strndup(arena, device_type, strlen(device_type));
	device_out->user_agent = arena_strndup(arena, user_agent, strlen(user_agent));
	return STORE_OK;
}

static int set_key(struct store_session *session, enum statement_id id, int64_t device, uint32_t key,
		   const char *version)
{
	sqlite3_stmt *stmt = store_statement(session, id);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_int64(stmt, 2, key);
	sqlite3_bind_text(stmt, 3, version, -1, SQLITE_STATIC);
	return store_run_one(session, stmt, "set policy key");
}

int store_device_set_pending_policy(struct store_session *session, int64_t device, uint32_t key,
				    const char *version)
{
	return set_key(session, SQL_DEVICE_PENDING, device, key, version);
}

int store_device_set_policy(struct store_session *session, int64_t device, uint32_t key,
			    const char *version)
{
	return set_key(session, SQL_DEVICE_POLICY, device, key, version);
}

int store_device_set_information(struct store_session *session, int64_t device,
				 const struct store_device_information *information)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_DEVICE_INFORMATION);
	const char *values[] = { information->model, information->imei, information->friendly_name,
				 information->os, information->os_language, information->phone_number,
				 information->mobile_operator };
	sqlite3_bind_int64(stmt, 1, device);
	for (int i = 0; i < 7; i++)
		sqlite3_bind_text(stmt, i + 2, values[i], -1, SQLITE_STATIC);
	return store_run_one(session, stmt, "device information");
}

int store_device_find(struct store_session *session, struct arena *arena, int64_t user_id, const char *device_id,
		      bool create, struct store_device *device_out)
{
	int status = device_find(session, arena, user_id, device_id, device_out);
	if (status == STORE_NOT_FOUND && create) {
		status = device_insert(session, user_id, device_id, "", "", 0);
		if (status != STORE_OK && status != STORE_EXISTS)
			return status;
		status = device_find(session, arena, user_id, device_id, device_out);
	}
	if (status != STORE_OK)
		return status;
	device_out->user_id = user_id;
	device_out->device_id = arena_strndup(arena, device_id, strlen(device_id));
	return STORE_OK;
}

int store_device_set_access(struct store_session *session, int64_t device, const struct store_device_access *access)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_DEVICE_ACCESS);
	bool none = access->access == STORE_ACCESS_RULES;
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_text(stmt, 2, access_names[access->access], -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, none || access->by == NULL ? "" : access->by, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, none || access->reason == NULL ? "" : access->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, none ? 0 : access->since);
	sqlite3_bind_int64(stmt, 6, none ? 0 : access->until);
	return store_run_one(session, stmt, "set device access");
}

int store_device_set_wipe(struct store_session *session, int64_t device, const struct store_device_wipe *wipe)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_DEVICE_WIPE);
	bool none = wipe->kind == STORE_WIPE_NONE;
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_text(stmt, 2, wipe_names[wipe->kind], -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, none ? "" : wipe_state_names[wipe->state], -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, none ? 0 : wipe->requested);
	sqlite3_bind_int64(stmt, 5, none ? 0 : wipe->answered);
	return store_run_one(session, stmt, "set device wipe");
}

int store_device_set_trace(struct store_session *session, int64_t device, int64_t until)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_DEVICE_TRACE);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_int64(stmt, 2, until);
	return store_run_one(session, stmt, "set device trace");
}

int store_device_set_hidden(struct store_session *session, int64_t device, const char *hidden, const char *previous)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_DEVICE_HIDDEN);
	sqlite3_bind_int64(stmt, 1, device);
	sqlite3_bind_text(stmt, 2, hidden, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, previous, -1, SQLITE_STATIC);
	return store_run_one(session, stmt, "set hidden classes");
}

int store_device_forget(struct store_session *session, int64_t device)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_DEVICE_FORGET);
	sqlite3_bind_int64(stmt, 1, device);
	return store_run_one(session, stmt, "forget device");
}

int store_device_count_before(struct store_session *session, int64_t user_id, int64_t device, uint64_t *count_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_DEVICE_COUNT_BEFORE);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, device);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*count_out = (uint64_t)sqlite3_column_int64(stmt, 0);
	return store_row_done(session, stmt, rc, "count devices");
}

int store_device_list(struct store_session *session, struct arena *arena, int64_t user_id,
		      void (*fn)(void *context, const char *user_name, const struct store_device *device),
		      void *context)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_DEVICE_LIST);
	sqlite3_bind_int64(stmt, 1, user_id);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_device device;
		read_device(arena, stmt, &device);
		device.device_id = store_column_text(arena, stmt, 24);
		device.user_id = sqlite3_column_int64(stmt, 25);
		fn(context, store_column_text(arena, stmt, 26), &device);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? STORE_OK : store_fail(session, "list devices");
}
