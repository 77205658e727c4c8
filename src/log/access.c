/* access.c: the access log (see access.h). */
#include "log/access.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

/* IIS-compatible names where IIS has the field (Log Parser queries work). */
static const char fields[] =
	"#Fields: date time c-ip cs-username x-device-id x-device-type x-command "
	"x-protocol-version sc-status x-eas-status cs-bytes sc-bytes time-taken "
	"cs(User-Agent) x-reason x-store-wait x-class x-added x-changed x-deleted x-guard\n";

struct access_log {
	char *path;      /* NULL: standard error */
	int fd;
	pthread_mutex_t lock; /* keeps a write from racing a reopen */
};

static int open_file(struct access_log *log)
{
	int fd = open(log->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size == 0) {
		char header[512];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		int n = snprintf(header, sizeof(header), "#Software: easd\n#Version: 1.0\n#Date: %04d-%02d-%02d %02d:%02d:%02d\n%s",
				 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fields);
		if (write(fd, header, (size_t)n) < 0) {
			close(fd);
			return -1;
		}
	}
	log->fd = fd;
	return 0;
}

struct access_log *access_log_open(const char *dir)
{
	struct access_log *log = calloc(1, sizeof(*log));
	if (log == NULL)
		abort();
	pthread_mutex_init(&log->lock, NULL);
	log->fd = STDERR_FILENO;
	if (dir == NULL)
		return log;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		goto failed;
	size_t n = strlen(dir) + sizeof("/" ACCESS_LOG_NAME);
	log->path = malloc(n);
	if (log->path == NULL)
		abort();
	snprintf(log->path, n, "%s/%s", dir, ACCESS_LOG_NAME);
	if (open_file(log) == 0)
		return log;
failed:;
	int saved = errno;
	free(log->path);
	pthread_mutex_destroy(&log->lock);
	free(log);
	errno = saved;
	return NULL;
}

void access_log_close(struct access_log **log_ptr)
{
	struct access_log *log = *log_ptr;
	if (log == NULL)
		return;
	if (log->path != NULL)
		close(log->fd);
	free(log->path);
	pthread_mutex_destroy(&log->lock);
	free(log);
	*log_ptr = NULL;
}

int access_log_reopen(struct access_log *log)
{
	if (log->path == NULL)
		return 0;
	pthread_mutex_lock(&log->lock);
	int old = log->fd;
	int status = open_file(log);
	if (status == 0)
		close(old);
	pthread_mutex_unlock(&log->lock);
	return status;
}

/* A field's first bytes only: a hostile value cannot push the others off the line. */
#define ACCESS_FIELD_MAX 256

/*
 * Device-supplied strings are escaped: anything outside printable ASCII,
 * and the tab, space and backslash that would break the columns, becomes
 * \xHH. An empty value is "-", as W3C logs write it; a longer value than
 * ACCESS_FIELD_MAX ends in "...".
 */
static void put_field(struct buf *line, const char *value)
{
	if (value == NULL || value[0] == '\0') {
		buf_append_byte(line, '-');
	} else {
		size_t n = 0;
		for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++, n++) {
			if (n == ACCESS_FIELD_MAX) {
				buf_append_cstr(line, "...");
				break;
			}
			if (*p <= ' ' || *p >= 0x7F || *p == '\\')
				buf_printf(line, "\\x%02X", *p);
			else
				buf_append_byte(line, *p);
		}
	}
	buf_append_byte(line, '\t');
}

void access_log_write(struct access_log *log, const struct access_record *r)
{
	struct buf line;
	char version[24] = "-", eas_status[12] = "-";
	time_t seconds = (time_t)(r->time_ms / 1000);
	struct tm tm;
	gmtime_r(&seconds, &tm);
	buf_init(&line, 8192);
	buf_printf(&line, "%04d-%02d-%02d\t%02d:%02d:%02d.%03d\t", tm.tm_year + 1900, tm.tm_mon + 1,
		   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(r->time_ms % 1000));
	if (r->protocol_version != 0)
		snprintf(version, sizeof(version), "%u.%u", r->protocol_version / 10, r->protocol_version % 10);
	if (r->eas_status != 0)
		snprintf(eas_status, sizeof(eas_status), "%d", r->eas_status);
	put_field(&line, r->client_address);
	put_field(&line, r->user);
	put_field(&line, r->device_id);
	put_field(&line, r->device_type);
	put_field(&line, r->command);
	put_field(&line, version);
	buf_printf(&line, "%u\t%s\t%llu\t%llu\t%llu\t", r->http_status, eas_status,
		   (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out,
		   (unsigned long long)r->milliseconds);
	put_field(&line, r->user_agent);
	put_field(&line, r->reason);
	buf_printf(&line, "%llu\t", (unsigned long long)r->store_wait_ms);
	put_field(&line, r->classes != NULL && r->classes[0] != '\0' ? r->classes : NULL);
	buf_printf(&line, "%u\t%u\t%u\t", r->items_added, r->items_changed, r->items_deleted);
	put_field(&line, r->guard);
	line.data[line.len - 1] = '\n';
	pthread_mutex_lock(&log->lock);
	ssize_t written = write(log->fd, line.data, line.len);
	pthread_mutex_unlock(&log->lock);
	(void)written; /* a full disk must not fail the request */
	buf_cleanup(&line);
}
