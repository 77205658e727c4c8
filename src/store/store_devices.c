/* store_devices.c: the devices of users, their policy keys and what they say about themselves (see store.h). */
#include "store/store_private.h"

#include <string.h>

/* Runs a one-statement update of one device; STORE_NOT_FOUND when no row changed. */
static int update_device(struct store_session *session, sqlite3_stmt *stmt, const char *what)
{
	int status = store_run(session, stmt, what);
	if (status == STORE_OK && sqlite3_changes(session->db) == 0)
		return STORE_NOT_FOUND;
	return status;
}

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
	return update_device(session, stmt, "set policy key");
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
	return update_device(session, stmt, "device information");
}
