/*
 * easctl: the administration tool. One file per subcommand; this header is
 * what they share. Exit codes: 0 success, 1 failure, 2 usage error.
 */
#ifndef EASCTL_H
#define EASCTL_H

#include "util/util.h"

#define EASCTL_EXIT_FAILURE 1
#define EASCTL_EXIT_USAGE 2

#include "config/config.h"

/* easctl wbxml decode|encode [FILE] */
int easctl_wbxml(int argc, char **argv);
/* easctl user add|passwd|del|list ... (works on config's data_dir) */
int easctl_user(const struct easd_config *config, int argc, char **argv);
/* easctl deliver USER < message */
int easctl_deliver(const struct easd_config *config, int argc, char **argv);

/* easctl import USER FILE; easctl export USER CLASS [FILE] */
int easctl_import(const struct easd_config *config, int argc, char **argv);
int easctl_export(const struct easd_config *config, int argc, char **argv);

/* easctl backup [--force] FILE; easctl restore FILE */
int easctl_backup(const struct easd_config *config, int argc, char **argv);
int easctl_restore(const struct easd_config *config, int argc, char **argv);

/* easctl throttle show [--json] | clear [USER]: the running easd's [guard] state */
int easctl_throttle(const struct easd_config *config, int argc, char **argv);

/* easctl device list|show|allow|block|quarantine|unblock|wipe|forget */
int easctl_device(const struct easd_config *config, int argc, char **argv);

struct store;
struct store_session;
/* Opens the configured store and a session. Returns 0, or -1 with the reason printed. */
int easctl_open_store(const struct easd_config *config, struct store **store_out, struct store_session **session_out);
void easctl_close_store(struct store **store, struct store_session **session);

/*
 * easctl report [--since DURATION|all] [--by user|device|command] [--top N] [--json] [FILE...]:
 * per group of the access log ([log] dir's access.log and access.log.1, or FILEs) its
 * requests, time in easd, bytes, errors and refusals, and the patterns of a device in a loop,
 * on stdout. Returns 0, EASCTL_EXIT_FAILURE when a log cannot be read or
 * EASCTL_EXIT_USAGE (message printed).
 */
int easctl_report(const struct easd_config *config, int argc, char **argv);

/* A password's bounds: 8 characters is NIST SP 800-63B's floor for one a person chooses;
   the buffer bounds the line read (yescrypt takes any length). */
#define EASCTL_PASSWORD_MIN 8
#define EASCTL_PASSWORD_MAX 256

/*
 * The new password for user add|passwd into out (EASCTL_PASSWORD_MAX bytes):
 * asked twice on a terminal, else the first line of stdin. Returns 0, or -1
 * with the reason printed (none, too short, too long, the two differ).
 */
int easctl_read_new_password(char *out, size_t out_len);

/* Writes text as a JSON string on stdout: quotes, backslashes, control bytes and bytes past
   ASCII escaped, so what a device sent (any bytes) never breaks the document. */
void easctl_json_string(const char *text);

/* Reads a file ("-" or NULL: standard input) into out. Returns 0 or -1 (message printed). */
int easctl_read_input(const char *path, struct buf *out);

#endif
