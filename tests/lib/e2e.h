/*
 * e2e: starts a real easd on loopback (port 0, the bound port read from a
 * port file) with a fresh data directory, for the end-to-end tests.
 */
#ifndef E2E_H
#define E2E_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "easclient.h"

struct e2e_server {
	pid_t pid;
	char dir[256];       /* temporary directory: config, data/, log/ */
	char config[300];
	char url[64];
	uint16_t port;
	uint16_t lmtp_port;  /* 0: LMTP off */
	bool https;          /* set between e2e_prepare and e2e_start_prepared: url is https:// */
	int exit_status;     /* easd's exit status when it exited during start-up, else -1 */
	uid_t run_as_uid;    /* set between e2e_prepare and a start: easd is started as this user (the */
	gid_t run_as_gid;    /* tests run as root), no supplementary groups; 0: as the tests run */
};

/*
 * Writes a configuration (defaults for tests, then extra_config appended:
 * INI text, may be NULL), creates the users given as "name:password"
 * strings (NULL-terminated list), starts easd and waits until it serves.
 * Returns 0 or -1 (message on stderr).
 */
int e2e_start(struct e2e_server *server, const char *extra_config, const char *const *users);
/*
 * The two halves of e2e_start, for tests that put files (TLS certificates)
 * into server->dir before easd starts: e2e_prepare clears *server and
 * creates the directory; e2e_start_prepared then does the rest. Both
 * return 0 or -1; after either, e2e_cleanup removes the directory.
 */
int e2e_prepare(struct e2e_server *server);
int e2e_start_prepared(struct e2e_server *server, const char *extra_config, const char *const *users);
/* Replaces the configuration's extra part and restarts easd on the same data. */
int e2e_restart(struct e2e_server *server, const char *extra_config);
/*
 * Writes the configuration with this extra part (NULL: leaves the file as
 * it is), sends SIGHUP, and waits up to 5 s for a line on easd's stderr
 * with needle written after the signal. Returns that line (g_free), or NULL.
 */
char *e2e_reload(struct e2e_server *server, const char *extra_config, const char *needle);
/* Kills easd (SIGKILL: no clean stop, as a power cut) and starts it again on its data. */
int e2e_crash_restart(struct e2e_server *server);
/* SIGTERM, waits; returns easd's exit status (0 for a clean stop), or -1. */
int e2e_stop(struct e2e_server *server);
/* Stops if running and removes the directory. */
/*
 * The end of a test: stops easd and removes its directory. When easd did
 * not end cleanly (e2e_stop showed how) the directory is kept and -1
 * returned, so the teardown fails. Returns 0 or -1.
 */
int e2e_finish(struct e2e_server *server);
void e2e_cleanup(struct e2e_server *server);

/* Whether log/access.log has (within 2 s) a line containing every one of the strings (NULL-terminated). */
bool e2e_log_has(const struct e2e_server *server, const char *const *needles);

/* Client options for a user and device on this server (accepting its self-signed certificate when https). */
/* Creates a mail folder for user behind easd's back, as an admin or another device would. Returns 0 or -1. */
int e2e_add_folder(const struct e2e_server *server, const char *user, const char *name);

struct easclient_options e2e_client_options(const struct e2e_server *server, const char *user,
					    const char *password, const char *device_id);

#endif
