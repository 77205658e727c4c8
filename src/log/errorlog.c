/* errorlog.c: timestamped standard error and <log dir>/easd.log (see errorlog.h). */
#include "log/errorlog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct error_log {
	char path[4096];
	int file;               /* easd.log, O_APPEND */
	bool journal;           /* descriptor 2 is systemd's journal: it stamps lines itself */
	bool at_line_start;     /* the next byte begins a line (the stream's lock orders the writes) */
	pthread_mutex_t lock;   /* keeps a write from racing a reopen */
	FILE *stream, *original;
};

/* Whether fd is the stream JOURNAL_STREAM ("device:inode") names. */
static bool is_journal(int fd)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long device, inode;
	struct stat st;
	return stream != NULL && sscanf(stream, "%llu:%llu", &device, &inode) == 2 && fstat(fd, &st) == 0 &&
	       (unsigned long long)st.st_dev == device && (unsigned long long)st.st_ino == inode;
}

static void write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

/* "2026-12-03T17:41:46.123Z " into stamp; returns its length. */
static size_t format_stamp(char *stamp, size_t size)
{
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	int n = snprintf(stamp, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
	return n > 0 ? (size_t)n : 0;
}

/* One piece of a line out: a stamp first when it begins one. */
static void emit(struct error_log *log, const char *data, size_t len)
{
	char stamp[40];
	size_t n = log->at_line_start ? format_stamp(stamp, sizeof(stamp)) : 0;
	log->at_line_start = len > 0 && data[len - 1] == '\n';
	pthread_mutex_lock(&log->lock);
	if (log->file >= 0) {
		write_all(log->file, stamp, n);
		write_all(log->file, data, len);
	}
	pthread_mutex_unlock(&log->lock);
	if (!log->journal)
		write_all(STDERR_FILENO, stamp, n);
	write_all(STDERR_FILENO, data, len);
}

/* The stream's writes (line-buffered): split at each newline, so that every line gets its stamp. */
static ssize_t stream_write(void *cookie, const char *data, size_t size)
{
	struct error_log *log = cookie;
	size_t done = 0;
	while (done < size) {
		const char *newline = memchr(data + done, '\n', size - done);
		size_t len = newline != NULL ? (size_t)(newline - (data + done)) + 1 : size - done;
		emit(log, data + done, len);
		done += len;
	}
	return (ssize_t)size;
}

static int open_file(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

struct error_log *error_log_start(const char *dir, char *error, size_t error_len)
{
	struct error_log *log = calloc(1, sizeof(*log));
	if (log == NULL)
		abort();
	snprintf(log->path, sizeof(log->path), "%s/%s", dir, ERROR_LOG_NAME);
	log->file = open_file(log->path);
	log->stream = log->file >= 0 ? fopencookie(log, "w", (cookie_io_functions_t){ .write = stream_write }) : NULL;
	if (log->stream == NULL || setvbuf(log->stream, NULL, _IOLBF, 4096) != 0) {
		snprintf(error, error_len, "%s: %s", log->path, strerror(errno));
		if (log->stream != NULL)
			fclose(log->stream);
		if (log->file >= 0)
			close(log->file);
		free(log);
		return NULL;
	}
	pthread_mutex_init(&log->lock, NULL);
	log->journal = is_journal(STDERR_FILENO);
	log->at_line_start = true;
	log->original = stderr;
	stderr = log->stream;
	return log;
}

int error_log_reopen(struct error_log *log)
{
	int fd = open_file(log->path);
	if (fd < 0)
		return -1;
	pthread_mutex_lock(&log->lock);
	int old = log->file;
	log->file = fd;
	pthread_mutex_unlock(&log->lock);
	close(old);
	return 0;
}

void error_log_stop(struct error_log **log_in)
{
	struct error_log *log = *log_in;
	if (log == NULL)
		return;
	stderr = log->original;
	fclose(log->stream); /* writes what the buffer still holds */
	close(log->file);
	pthread_mutex_destroy(&log->lock);
	free(log);
	*log_in = NULL;
}
