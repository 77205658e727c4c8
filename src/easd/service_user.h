/*
 * service_user.h: [service] user, the account easd serves as when it is
 * started as root. The name is looked up before anything is opened; the
 * switch happens once start() has bound every listener (443 needs root
 * without the capability) and opened the store and the logs.
 *
 * Owns: nothing past each call. Must not: follow a symbolic link, or give
 * away a file with another name, while it hands easd's files over as root.
 */
#ifndef EASD_SERVICE_USER_H
#define EASD_SERVICE_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct easd_user {
	char name[256];
	uid_t uid;
	gid_t gid;        /* the user's primary group */
	bool switch_to;   /* easd runs as root and becomes this user after start-up */
};

/*
 * Looks up name ([service] user; empty: no change) for this process.
 * Returns 0 with user_out filled: switch_to is true only when easd runs
 * as root and name is another user. Returns -1 with a message in error
 * when there is no such user, or when easd runs neither as root nor as
 * that user.
 */
int easd_user_find(const char *name, struct easd_user *user_out, char *error, size_t error_len);

/*
 * Hands data_dir and log_dir, and easd's files in them (the database, its
 * -wal and -shm, push.sock, access.log, easd.log), to user and its primary
 * group; then takes the user's groups, its group and its uid, and checks
 * that root cannot be had back and that the user can write what easd
 * writes later. Every thread switches with the main one (glibc applies
 * setgroups, setgid and setuid to the whole process). Returns 0, or -1 with
 * a message in error: easd may then still be root, and must exit.
 */
int easd_user_switch(const struct easd_user *user, const char *data_dir, const char *log_dir, char *error,
		     size_t error_len);

#endif
