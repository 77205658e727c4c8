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

#define LINE_MAX_BYTES 4096

struct error_log {
	char path[4096];
	int file;              /* easd.log, O_APPEND */
	int terminal;          /* the original standard error */
	bool journal;          /* the terminal is systemd's journal: it stamps lines itself */
	int pipe_read;
	pthread_t thread;
	pthread_mutex_t lock;  /* keeps a write from racing a reopen */
	char line[LINE_MAX_BYTES];
	size_t len;
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

/* One line (with its newline) out, stamped "2026-12-03T17:41:46.123Z ". */
static void emit(struct error_log *log, const char *line, size_t len)
{
	struct timespec now;
	struct tm tm;
	char stamp[40];
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	int n = snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
	pthread_mutex_lock(&log->lock);
	char out[sizeof(stamp) + LINE_MAX_BYTES];
	memcpy(out, stamp, (size_t)n);
	memcpy(out + n, line, len);
	if (log->file >= 0)
		write_all(log->file, out, (size_t)n + len);
	pthread_mutex_unlock(&log->lock);
	write_all(log->terminal, log->journal ? line : out, log->journal ? len : (size_t)n + len);
}

/* Splits what arrives into lines; a line longer than the buffer goes out in pieces. */
static void *run(void *context)
{
	struct error_log *log = context;
	char chunk[LINE_MAX_BYTES];
	ssize_t n;
	while ((n = read(log->pipe_read, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			log->line[log->len++] = chunk[i];
			if (chunk[i] == '\n' || log->len == sizeof(log->line)) {
				emit(log, log->line, log->len);
				log->len = 0;
			}
		}
	}
	if (log->len > 0)
		emit(log, log->line, log->len);
	return NULL;
}

static int open_file(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

struct error_log *error_log_start(const char *dir, char *error, size_t error_len)
{
	struct error_log *log = calloc(1, sizeof(*log));
	int fds[2] = { -1, -1 };
	if (log == NULL)
		abort();
	snprintf(log->path, sizeof(log->path), "%s/easd.log", dir);
	log->file = open_file(log->path);
	log->terminal = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (log->file < 0 || log->terminal < 0 || pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(error, error_len, "%s: %s", log->path, strerror(errno));
		goto failed;
	}
	log->journal = is_journal(log->terminal);
	log->pipe_read = fds[0];
	pthread_mutex_init(&log->lock, NULL);
	if (pthread_create(&log->thread, NULL, run, log) != 0) {
		snprintf(error, error_len, "cannot start the error log: %s", strerror(errno));
		goto failed;
	}
	int duplicated = dup2(fds[1], STDERR_FILENO);
	int saved = errno;
	close(fds[1]); /* the thread sees the end of the pipe when descriptor 2 lets it go */
	fds[1] = -1;
	if (duplicated < 0) {
		pthread_join(log->thread, NULL);
		snprintf(error, error_len, "cannot start the error log: %s", strerror(saved));
		goto failed;
	}
	return log;
failed:
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (log->file >= 0)
		close(log->file);
	if (log->terminal >= 0)
		close(log->terminal);
	free(log);
	return NULL;
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
	/* Descriptor 2 becomes the terminal again: the pipe's last writer is gone and the thread reads its end. */
	dup2(log->terminal, STDERR_FILENO);
	pthread_join(log->thread, NULL);
	close(log->pipe_read);
	close(log->file);
	close(log->terminal);
	pthread_mutex_destroy(&log->lock);
	free(log);
	*log_in = NULL;
}
