/*
 * errorlog.h: easd's own messages (start-up, errors, each LMTP delivery,
 * each message sent, meeting updates) with a timestamp, on standard error
 * and in <log dir>/easd.log. Every file writes its lines to stderr as
 * before; error_log_start puts a pipe in place of descriptor 2, and one
 * thread stamps each line (UTC, milliseconds) and writes it to the file
 * and to the original standard error. Under systemd, whose journal stamps
 * lines itself (JOURNAL_STREAM names standard error), standard error gets
 * them unstamped.
 *
 * Owns: the pipe, the thread, the file. A line longer than the pipe's
 * atomic size (4 KB) may be split; easd's lines are far shorter.
 */
#ifndef LOG_ERRORLOG_H
#define LOG_ERRORLOG_H

#include <stddef.h>

struct error_log;

/* Starts it (dir: the log directory). Returns NULL with a message in error; stderr is then as it was. */
struct error_log *error_log_start(const char *dir, char *error, size_t error_len);
/* Reopens easd.log (after logrotate moved it). Returns 0 or -1 (errno). */
int error_log_reopen(struct error_log *log);
/* Writes what is pending, gives descriptor 2 back, stops the thread; sets *log to NULL. */
void error_log_stop(struct error_log **log);

#endif
