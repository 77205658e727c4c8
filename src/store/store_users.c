/* store_users.c: users and their devices (see store.h). */
#include "store/store_private.h"

#include <string.h>

struct user_add {
	const char *name;
	const char *password_hash;
	int64_t id;
};

static int user_add(struct store_session *session, void *context)
{
	struct user_add *add = context;
	sqlite3_stmt *stmt = store_statement(session, SQL_USER_INSERT);
	sqlite3_bind_text(stmt, 1, add->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, add->password_hash, -1, SQLITE_STATIC);
	int status = store_run(session, stmt, "add user");
	if (status != STORE_OK)
		return status;
	add->id = sqlite3_last_insert_rowid(session->db);
	return store_folders_create_defaults(session, add->id);
}

int store_user_add(struct store_session *session, const char *name, const char *password_hash,
		   int64_t *id_out)
{
	struct user_add add = { name, password_hash, 0 };
	int status = store_in_transaction(session, user_add, &add);
	if (status == STORE_OK && id_out != NULL)
		*id_out = add.id;
	return status;
}

int store_user_set_password(struct store_session *session, const char *name, const char *password_hash)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_USER_PASSWORD);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, password_hash, -1, SQLITE_STATIC);
	return store_run_one(session, stmt, "set password");
}

int store_user_delete(struct store_session *session, const char *name)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_USER_DELETE);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	return store_run_one(session, stmt, "delete user");
}

static void read_user(struct arena *arena, sqlite3_stmt *stmt, struct store_user *user)
{
	user->id = sqlite3_column_int64(stmt, 0);
	user->name = store_column_text(arena, stmt, 1);
	user->password_hash = store_column_text(arena, stmt, 2);
	user->credential_version = (uint64_t)sqlite3_column_int64(stmt, 3);
	user->sync_disabled = sqlite3_column_int(stmt, 4) != 0;
	user->disabled_classes = store_column_text(arena, stmt, 5);
}

int store_user_set_sync(struct store_session *session, const char *name, bool disabled, const char *classes)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_USER_SYNC);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 2, disabled);
	sqlite3_bind_text(stmt, 3, classes, -1, SQLITE_STATIC);
	return store_run_one(session, stmt, "set user sync");
}

int store_user_find(struct store_session *session, struct arena *arena, const char *name,
		    struct store_user *user_out)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_USER_FIND);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		read_user(arena, stmt, user_out);
	return store_row_done(session, stmt, rc, "find user");
}

int store_user_list(struct store_session *session, struct arena *arena,
		    void (*fn)(void *context, const struct store_user *user), void *context)
{
	sqlite3_stmt *stmt = store_statement(session, SQL_USER_LIST);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_user user;
		read_user(arena, stmt, &user);
		fn(context, &user);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? STORE_OK : store_fail(session, "list users");
}
