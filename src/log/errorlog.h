/*
 * errorlog.h: easd's own messages (start-up, errors, each LMTP delivery,
 * each message sent, meeting updates) with a timestamp, on standard error
 * and in <log dir>/easd.log. Every file goes on writing its lines with
 * fprintf(stderr, ...); error_log_start points the stderr stream at a
 * line-buffered stream of its own whose lines are stamped (UTC,
 * milliseconds) and written, by the thread that wrote them, to the file
 * and to descriptor 2. Descriptor 2 itself is left alone, so what the C
 * library or a sanitizer writes there when the process dies still gets
 * out. Under systemd, whose journal stamps lines itself (JOURNAL_STREAM
 * names descriptor 2), lines go there unstamped.
 *
 * Owns: the stream and the file.
 */
#ifndef LOG_ERRORLOG_H
#define LOG_ERRORLOG_H

#include <stddef.h>

struct error_log;

/* The file's name in the log directory. */
#define ERROR_LOG_NAME "easd.log"

/* Starts it (dir: the log directory). Returns NULL with a message in error; stderr is then as it was. */
struct error_log *error_log_start(const char *dir, char *error, size_t error_len);
/* Reopens easd.log (after logrotate moved it). Returns 0 or -1 (errno). */
int error_log_reopen(struct error_log *log);
/* Gives stderr back and closes the file; sets *log to NULL. */
void error_log_stop(struct error_log **log);

#endif
