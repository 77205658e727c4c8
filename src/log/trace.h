/*
 * trace.h: a device's protocol on demand (`easctl device trace`): each of
 * its requests and answers, bodies as XML, appended to
 * <log dir>/trace/<user>-<device>.log while the device's trace_until is
 * ahead. For the administrator chasing one device's misbehaviour without
 * a packet capture or a debug build. The file is 0600: bodies carry
 * mail, contacts and meetings; credentials are never written.
 *
 * Owns: nothing between calls (each exchange opens, appends, closes; a
 * trace is rare and short).
 */
#ifndef LOG_TRACE_H
#define LOG_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* The trace folder in the log directory. */
#define TRACE_DIR_NAME "trace"
/* Bytes a trace file may reach; past it the device's exchanges are no longer written. */
#define TRACE_FILE_MAX ((int64_t)256 << 20)
/* Bytes of one string in a body's XML; longer ones are cut (a message body is not the point). */
#define TRACE_TEXT_MAX 4096

struct trace_exchange {
	int64_t time_ms;               /* Unix milliseconds at arrival */
	const char *user, *device_id, *command;
	unsigned protocol_version;     /* 141 */
	unsigned http_status;
	int eas_status;                /* 0: none */
	const char *reason;            /* NULL: none */
	const uint8_t *request;        /* the request body */
	size_t request_len;
	const uint8_t *response;       /* the response body held in memory; NULL when streamed */
	size_t response_len;
	uint64_t streamed;             /* bytes of a streamed response (an attachment) */
};

/* Appends the exchange to the device's trace under log_dir. Returns 0, or -1 (errno) when nothing was written. */
int trace_write(const char *log_dir, const struct trace_exchange *exchange);

#endif
