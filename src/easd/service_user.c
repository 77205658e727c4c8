/*
 * service_user.c: becoming [service] user after start-up (see
 * service_user.h).
 *
 * The files handed over are the ones easd goes on using as the user: the
 * store opens more SQLite connections as requests need them (each opens
 * easd.sqlite, -wal and -shm), SQLite makes a new -wal after a checkpoint,
 * SIGHUP creates a new access.log and easd.log in the log directory, and
 * stopping removes push.sock. So both directories and those files become
 * the user's; nothing else in them is touched.
 */
#include "easd/service_user.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/access.h"
#include "log/errorlog.h"
#include "push/push.h"
#include "store/store.h"

/* SQLite's names for the WAL and its index: the database's name and a suffix. */
static const char *const data_files[] = {
	STORE_DATABASE_NAME, STORE_DATABASE_NAME "-wal", STORE_DATABASE_NAME "-shm", PUSH_SOCKET_NAME, NULL,
};
static const char *const log_files[] = { ACCESS_LOG_NAME, ERROR_LOG_NAME, NULL };

int easd_user_find(const char *name, struct easd_user *user_out, char *error, size_t error_len)
{
	memset(user_out, 0, sizeof(*user_out));
	if (name[0] == '\0')
		return 0;
	errno = 0;
	const struct passwd *entry = getpwnam(name);
	if (entry == NULL) {
		/* getpwnam(3): 0, ENOENT, ESRCH, EBADF or EPERM all mean "not found". */
		bool absent = errno == 0 || errno == ENOENT || errno == ESRCH || errno == EBADF || errno == EPERM;
		snprintf(error, error_len, "[service] user '%s': %s", name,
			 absent ? "no such user on this system" : strerror(errno));
		return -1;
	}
	if (snprintf(user_out->name, sizeof(user_out->name), "%s", entry->pw_name) >= (int)sizeof(user_out->name)) {
		snprintf(error, error_len, "[service] user '%s': name too long", name);
		return -1;
	}
	user_out->uid = entry->pw_uid;
	user_out->gid = entry->pw_gid;
	uid_t running = geteuid();
	if (running == entry->pw_uid)
		return 0;
	if (running != 0) {
		snprintf(error, error_len,
			 "[service] user is %s (uid %u), but easd runs as uid %u, and only root can become another "
			 "user: start easd as %s%s",
			 user_out->name, (unsigned)user_out->uid, (unsigned)running, user_out->name,
			 user_out->uid != 0 ? " or as root" : "");
		return -1;
	}
	user_out->switch_to = true;
	return 0;
}

/*
 * One of easd's files in dir_fd, to the user. fstatat and fchownat with
 * AT_SYMLINK_NOFOLLOW rather than open and fchown: closing any descriptor
 * of easd.sqlite or its -shm would drop the POSIX locks SQLite holds on it
 * (fcntl locks belong to the process and the file, not the descriptor),
 * and another program (easctl) would then take the database for unused.
 * A missing file is fine (no -wal yet). Only a regular file or a socket
 * with one link is handed over: a symbolic link or a hard link put there
 * in place of easd's file would make root give away a file of the system.
 */
static int hand_file(int dir_fd, const char *dir, const char *name, const struct easd_user *user, char *error,
		     size_t error_len)
{
	struct stat st;
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(error, error_len, "cannot hand %s/%s to %s: %s", dir, name, user->name, strerror(errno));
		return -1;
	}
	if (!(S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode)) || st.st_nlink != 1) {
		snprintf(error, error_len, "cannot hand %s/%s to %s: %s", dir, name, user->name,
			 S_ISLNK(st.st_mode) ? "it is a symbolic link"
			 : st.st_nlink != 1 ? "it has other hard links" : "it is not a regular file");
		return -1;
	}
	if (fchownat(dir_fd, name, user->uid, user->gid, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(error, error_len, "cannot hand %s/%s to %s: %s", dir, name, user->name, strerror(errno));
		return -1;
	}
	return 0;
}

/* A directory (itself, not where a symbolic link in its place points) and easd's files in it, to the user. */
static int hand_directory(const char *what, const char *dir, const char *const *names, const struct easd_user *user,
			  char *error, size_t error_len)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		/* Linux says ENOTDIR (O_DIRECTORY) or ELOOP (O_NOFOLLOW) for a symbolic link: say which it is. */
		int saved = errno;
		struct stat st;
		bool link = lstat(dir, &st) == 0 && S_ISLNK(st.st_mode);
		snprintf(error, error_len, "cannot hand the %s %s to %s: %s", what, dir, user->name,
			 link ? "it is a symbolic link (name the directory itself in easd.conf)" : strerror(saved));
		return -1;
	}
	int status = 0;
	for (size_t i = 0; names[i] != NULL && status == 0; i++)
		status = hand_file(fd, dir, names[i], user, error, error_len);
	if (status == 0 && fchown(fd, user->uid, user->gid) < 0) {
		snprintf(error, error_len, "cannot hand the %s %s to %s: %s", what, dir, user->name, strerror(errno));
		status = -1;
	}
	close(fd);
	return status;
}

/*
 * As the user now: the directory is writable (new files) and each regular
 * file there read-write. Root passed start()'s checks whatever the modes
 * were; a mode that shuts the owner out (a directory 0550) shows here,
 * not at the first request. access(2), not open: see hand_file on locks.
 */
static int check_as_user(const char *what, const char *dir, const char *const *names, const struct easd_user *user,
			 char *error, size_t error_len)
{
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(error, error_len, "as %s, cannot write the %s %s: %s", user->name, what, dir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; names[i] != NULL; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (access(path, R_OK | W_OK) < 0) {
			snprintf(error, error_len, "as %s, cannot write %s: %s", user->name, path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int easd_user_switch(const struct easd_user *user, const char *data_dir, const char *log_dir, char *error,
		     size_t error_len)
{
	if (hand_directory("data directory", data_dir, data_files, user, error, error_len) < 0 ||
	    hand_directory("log directory", log_dir, log_files, user, error, error_len) < 0)
		return -1;
	/* Groups before the uid: once it is not root, easd can change neither. */
	if (initgroups(user->name, user->gid) < 0 || setgid(user->gid) < 0 || setuid(user->uid) < 0) {
		snprintf(error, error_len, "cannot become %s (uid %u, gid %u): %s", user->name, (unsigned)user->uid,
			 (unsigned)user->gid, strerror(errno));
		return -1;
	}
	/*
	 * setuid from root sets the real, effective and saved uids and drops
	 * every capability, so root is gone for good. Unless something kept it
	 * (SECBIT_NO_SETUID_FIXUP inherited from a parent, a capability left
	 * behind): then refuse to serve rather than serve as a root in disguise.
	 */
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	if (setuid(0) == 0 || getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0 ||
	    ruid != user->uid || euid != user->uid || suid != user->uid || rgid != user->gid ||
	    egid != user->gid || sgid != user->gid) {
		snprintf(error, error_len, "switched to %s (uid %u) but could become root again: refusing to serve",
			 user->name, (unsigned)user->uid);
		return -1;
	}
	if (check_as_user("data directory", data_dir, data_files, user, error, error_len) < 0 ||
	    check_as_user("log directory", log_dir, log_files, user, error, error_len) < 0)
		return -1;
	return 0;
}
