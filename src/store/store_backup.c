/*
 * store_backup.c: copies of the whole database (see store.h): a backup of
 * the live database while easd serves it, the check of a backup file, and
 * its restore in place of a stopped easd's database.
 *
 * Copying easd.sqlite with cp is no backup: in WAL mode the latest commits
 * are in easd.sqlite-wal until a checkpoint moves them into the file, and a
 * checkpoint may rewrite pages of the file while cp reads it. SQLite's
 * online backup API reads one snapshot through a connection instead. A copy
 * is written beside its destination and renamed into place once synced, so
 * a crash leaves the old file or the new one, never half of one.
 *
 * Must not: know whether an easd runs (the caller asks push), or print.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_private.h"

/* A locked source or destination is tried again 100 ms later, for 10 seconds. */
#define BACKUP_BUSY_TRIES 100
#define BACKUP_BUSY_SLEEP_MS 100
/* A backup holds every password hash and message: its owner's only. */
#define BACKUP_FILE_MODE 0600
/* A restored database where none was before: as the store creates its directory. */
#define RESTORE_FILE_MODE 0640

/* path followed by suffix, in a new string the caller frees. */
static char *path_with(const char *path, const char *suffix)
{
	size_t n = strlen(path) + strlen(suffix) + 1;
	char *out = malloc(n);
	if (out == NULL)
		abort();
	snprintf(out, n, "%s%s", path, suffix);
	return out;
}

/* Removes path and what SQLite keeps beside it (-journal, -wal, -shm); an absent one is fine. */
static int remove_with_journals(const char *path, bool main_file)
{
	static const char *const suffixes[] = { "-journal", "-wal", "-shm" };
	int status = main_file && unlink(path) < 0 && errno != ENOENT ? -1 : 0;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char *journal = path_with(path, suffixes[i]);
		if (unlink(journal) < 0 && errno != ENOENT)
			status = -1;
		free(journal);
	}
	return status;
}

/* fsync of a file or directory by name; errno tells why it failed. */
static int sync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int status = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return status;
}

/* A rename is durable once the directory holding the name is synced. */
static int sync_directory_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *directory = slash == NULL ? strdup(".") : strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (directory == NULL)
		abort();
	int status = sync_path(directory);
	free(directory);
	return status;
}

static int query_int64(sqlite3 *db, const char *sql, int64_t *value_out)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*value_out = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Fills info (all but size) from an open database; -1 when it is not easd's. */
static int describe(sqlite3 *db, const char *path, struct store_backup_info *info, char *error, size_t error_len)
{
	int64_t version = 0, tables = 0;
	info->latest_version = store_schema_latest();
	if (query_int64(db, "PRAGMA user_version", &version) < 0 ||
	    query_int64(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'users'",
			&tables) < 0) {
		snprintf(error, error_len, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	info->schema_version = (int)version;
	if (tables == 0) {
		snprintf(error, error_len, "%s: no users table: not an easd database", path);
		return -1;
	}
	if (query_int64(db, "SELECT count(*) FROM users", &info->users) < 0) {
		snprintf(error, error_len, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/*
 * The whole source in one step: one read transaction, so the copy is one
 * snapshot however long it takes, and in WAL mode writers go on meanwhile.
 * Stepping in pieces would start over after each commit of another
 * connection, and might never end under steady mail.
 */
static int backup_all(sqlite3 *dest, sqlite3 *source)
{
	sqlite3_backup *backup = sqlite3_backup_init(dest, "main", source, "main");
	if (backup == NULL)
		return sqlite3_errcode(dest);
	int rc;
	for (int tries = 1; (rc = sqlite3_backup_step(backup, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED; tries++) {
		if (tries == BACKUP_BUSY_TRIES)
			break;
		sqlite3_sleep(BACKUP_BUSY_SLEEP_MS);
	}
	int finished = sqlite3_backup_finish(backup);
	if (rc != SQLITE_DONE)
		return finished != SQLITE_OK ? finished : rc;
	return finished;
}

/*
 * Copies the database open on source into a new file at to, with mode. The
 * copy is switched to rollback-journal mode: one file, readable without a
 * -wal (the backup API copies the source's WAL flag with its first page).
 * info, when not NULL, gets what the copy holds.
 */
static int copy_database(sqlite3 *source, const char *to, mode_t mode, struct store_backup_info *info,
			 char *error, size_t error_len)
{
	remove_with_journals(to, true); /* left by a copy that did not finish */
	/* Created here for its mode (umask aside); closed before SQLite takes any lock on it. */
	int fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0 || fchmod(fd, mode) < 0) {
		snprintf(error, error_len, "%s: %s", to, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	sqlite3 *dest = NULL;
	int rc = sqlite3_open_v2(to, &dest, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = backup_all(dest, source);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(dest, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		bool said = dest != NULL && sqlite3_errcode(dest) != SQLITE_OK;
		snprintf(error, error_len, "%s: %s", to, said ? sqlite3_errmsg(dest) : sqlite3_errstr(rc));
	}
	int status = rc == SQLITE_OK ? 0 : -1;
	if (status == 0 && info != NULL)
		status = describe(dest, to, info, error, error_len);
	sqlite3_close(dest);
	return status;
}

/* Syncs the copy at tmp and renames it to path, durably; *size_out gets its size. */
static int put_in_place(const char *tmp, const char *path, uint64_t *size_out, char *error, size_t error_len)
{
	struct stat st;
	if (sync_path(tmp) < 0 || stat(tmp, &st) < 0) {
		snprintf(error, error_len, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (rename(tmp, path) < 0) {
		snprintf(error, error_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (sync_directory_of(path) < 0) {
		snprintf(error, error_len, "%s: cannot sync its directory: %s", path, strerror(errno));
		return -1;
	}
	*size_out = (uint64_t)st.st_size;
	return 0;
}

int store_backup(const char *data_dir, const char *path, struct store_backup_info *info_out,
		 char *error, size_t error_len)
{
	memset(info_out, 0, sizeof(*info_out));
	sqlite3 *source = NULL;
	char *live = path_with(data_dir, "/" STORE_DATABASE_NAME);
	int opened = sqlite3_open_v2(live, &source, SQLITE_OPEN_READONLY, NULL);
	if (opened != SQLITE_OK)
		snprintf(error, error_len, "%s: %s", live, source != NULL ? sqlite3_errmsg(source) : "out of memory");
	free(live);
	if (opened != SQLITE_OK) {
		sqlite3_close(source);
		return -1;
	}
	sqlite3_busy_timeout(source, STORE_BUSY_TIMEOUT_MS);
	char *tmp = path_with(path, ".tmp");
	int status = copy_database(source, tmp, BACKUP_FILE_MODE, info_out, error, error_len);
	sqlite3_close(source);
	if (status == 0)
		status = put_in_place(tmp, path, &info_out->size, error, error_len);
	if (status < 0)
		remove_with_journals(tmp, true);
	free(tmp);
	return status;
}

static int open_read_only(const char *path, sqlite3 **db_out, char *error, size_t error_len)
{
	if (sqlite3_open_v2(path, db_out, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
		return 0;
	snprintf(error, error_len, "%s: %s", path, *db_out != NULL ? sqlite3_errmsg(*db_out) : "out of memory");
	sqlite3_close(*db_out);
	*db_out = NULL;
	return -1;
}

/* PRAGMA integrity_check answers one row "ok", or rows naming the damage (the first is enough). */
static int check_integrity(sqlite3 *db, const char *path, char *error, size_t error_len)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check(1)", -1, &stmt, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		snprintf(error, error_len, "%s: cannot be read as an SQLite database: %s", path, sqlite3_errmsg(db));
		sqlite3_finalize(stmt);
		return -1;
	}
	const char *answer = (const char *)sqlite3_column_text(stmt, 0);
	bool ok = answer != NULL && strcmp(answer, "ok") == 0;
	if (!ok)
		snprintf(error, error_len, "%s: fails SQLite's integrity check: %s", path, answer != NULL ? answer : "?");
	sqlite3_finalize(stmt);
	return ok ? 0 : -1;
}

int store_backup_check(const char *path, struct store_backup_info *info_out, char *error, size_t error_len)
{
	memset(info_out, 0, sizeof(*info_out));
	struct stat st;
	if (stat(path, &st) < 0) {
		snprintf(error, error_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(error, error_len, "%s: not a regular file", path);
		return -1;
	}
	info_out->size = (uint64_t)st.st_size;
	sqlite3 *db = NULL;
	if (open_read_only(path, &db, error, error_len) < 0)
		return -1;
	int status = check_integrity(db, path, error, error_len);
	if (status == 0)
		status = describe(db, path, info_out, error, error_len);
	sqlite3_close(db);
	if (status == 0 && info_out->schema_version > info_out->latest_version) {
		snprintf(error, error_len, "%s: schema version %d is newer than this release's (%d): restore it with the release that wrote it",
			 path, info_out->schema_version, info_out->latest_version);
		status = -1;
	}
	return status;
}

/*
 * The restored file gets the replaced one's owner and mode: easctl runs as
 * root, easd often does not, and a database easd cannot write would fail
 * every request that writes.
 */
static int take_ownership_of(const char *tmp, const struct stat *old, char *error, size_t error_len)
{
	struct stat st;
	if (stat(tmp, &st) < 0 ||
	    ((st.st_uid != old->st_uid || st.st_gid != old->st_gid) && chown(tmp, old->st_uid, old->st_gid) < 0)) {
		snprintf(error, error_len, "%s: cannot give it the owner of the database it replaces: %s", tmp,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* The database's -wal written into it and emptied (PRAGMA wal_checkpoint(TRUNCATE)); best effort. */
static void checkpoint(const char *database)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(database, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK)
		sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	sqlite3_close(db);
}

int store_restore(const char *data_dir, const char *path, char *error, size_t error_len)
{
	if (mkdir(data_dir, 0750) < 0 && errno != EEXIST) {
		snprintf(error, error_len, "%s: %s", data_dir, strerror(errno));
		return -1;
	}
	char *live = path_with(data_dir, "/" STORE_DATABASE_NAME);
	char *tmp = path_with(live, ".tmp");
	struct stat old;
	bool replacing = stat(live, &old) == 0;
	sqlite3 *source = NULL;
	int status = open_read_only(path, &source, error, error_len);
	if (status == 0)
		status = copy_database(source, tmp, replacing ? old.st_mode & 07777 : RESTORE_FILE_MODE, NULL,
				       error, error_len);
	sqlite3_close(source);
	if (status == 0 && replacing)
		status = take_ownership_of(tmp, &old, error, error_len);
	/* Before the rename: a -wal left beside the new file would be replayed into it. Its commits are
	   moved into the old file first, so that if the rename fails the old database is whole. */
	if (status == 0 && replacing)
		checkpoint(live);
	if (status == 0 && remove_with_journals(live, false) < 0) {
		snprintf(error, error_len, "%s: cannot remove its -wal or -shm: %s", live, strerror(errno));
		status = -1;
	}
	uint64_t size;
	if (status == 0)
		status = put_in_place(tmp, live, &size, error, error_len);
	if (status < 0)
		remove_with_journals(tmp, true);
	free(tmp);
	free(live);
	return status;
}
