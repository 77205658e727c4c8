/*
 * access.h: the access log, one line per request, W3C extended format
 * (tab-separated, a #Fields header), in <log dir>/access.log. It is what an
 * administrator reads first when a device misbehaves.
 *
 * Owns: the log file descriptor. Lines are written with one write(2) on an
 * O_APPEND descriptor (whole lines, no interleaving, no fsync), so the
 * request path pays one system call. access_log_reopen (SIGHUP) follows
 * logrotate's rename.
 */
#ifndef LOG_ACCESS_H
#define LOG_ACCESS_H

#include <stdint.h>

struct access_log;

/* The file's name in the log directory. */
#define ACCESS_LOG_NAME "access.log"

struct access_record {
	int64_t time_ms;            /* Unix milliseconds at arrival */
	const char *client_address;
	const char *user;           /* "-" when unknown */
	const char *device_id;
	const char *device_type;
	const char *command;
	unsigned protocol_version;  /* 141 for 14.1; 0 unknown */
	unsigned http_status;
	int eas_status;             /* 0: none */
	uint64_t bytes_in, bytes_out;
	uint64_t milliseconds;
	const char *user_agent;
	const char *reason;         /* why it failed, NULL when it did not */
	uint64_t store_wait_ms;     /* waited for the store's locks */
	const char *classes;        /* "Email,Contacts"; NULL or "": none */
	unsigned items_added, items_changed, items_deleted; /* the client's commands */
	const char *guard;          /* the guard's decision: pass, exempt, refused, blocked ...; NULL: not reached */
};

/* Opens (creating dir/access.log). NULL dir: standard error. Returns NULL with errno. */
struct access_log *access_log_open(const char *dir);
void access_log_close(struct access_log **log);
/* Reopens the file (after logrotate moved it). Returns 0 or -1. */
int access_log_reopen(struct access_log *log);
void access_log_write(struct access_log *log, const struct access_record *record);

#endif
