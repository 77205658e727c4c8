/* benchlib.c: see benchlib.h. */
#include "benchlib.h"
#include "e2e.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

static struct buf report;

void bench_say(const char *format, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, format);
	vsnprintf(line, sizeof(line), format, ap);
	va_end(ap);
	if (report.max == 0)
		buf_init(&report, 0);
	buf_append_cstr(&report, line);
	fputs(line, stdout);
	fflush(stdout);
}

int bench_report_write(const char *path)
{
	FILE *out = fopen(path, "w");
	if (out == NULL)
		return -1;
	size_t written = report.len > 0 ? fwrite(report.data, 1, report.len, out) : 0;
	int saved = errno;
	if (fclose(out) != 0 || written != report.len) {
		errno = written != report.len ? saved : errno;
		return -1;
	}
	return 0;
}

void bench_report_free(void)
{
	buf_cleanup(&report);
}

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A "Name: <n> kB" line of /proc/<pid>/status. */
static long status_kb(pid_t pid, const char *name)
{
	char path[64], line[256];
	long kb = -1;
	size_t len = strlen(name);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *in = fopen(path, "r");
	if (in == NULL)
		return -1;
	while (fgets(line, sizeof(line), in) != NULL)
		if (strncmp(line, name, len) == 0 && line[len] == ':' && sscanf(line + len + 1, "%ld", &kb) == 1)
			break;
	fclose(in);
	return kb;
}

long bench_rss_kb(pid_t pid)
{
	return status_kb(pid, "VmRSS");
}

long bench_peak_rss_kb(pid_t pid)
{
	return status_kb(pid, "VmHWM");
}

double bench_cpu_seconds(pid_t pid)
{
	char path[64], line[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *in = fopen(path, "r");
	if (in == NULL)
		return -1;
	char *read = fgets(line, sizeof(line), in);
	fclose(in);
	/* The command name (field 2) may hold spaces: count from the last ')'. */
	const char *p = read != NULL ? strrchr(line, ')') : NULL;
	unsigned long long utime, stime;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

double bench_load_average(void)
{
	double load = -1;
	FILE *in = fopen("/proc/loadavg", "r");
	if (in != NULL) {
		if (fscanf(in, "%lf", &load) != 1)
			load = -1;
		fclose(in);
	}
	return load;
}

void bench_cpu_model(char *model, size_t size)
{
	char line[256];
	snprintf(model, size, "unknown CPU");
	FILE *in = fopen("/proc/cpuinfo", "r");
	if (in == NULL)
		return;
	while (fgets(line, sizeof(line), in) != NULL) {
		const char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
			colon += strspn(colon + 1, " \t") + 1;
			snprintf(model, size, "%.*s", (int)strcspn(colon, "\n"), colon);
			break;
		}
	}
	fclose(in);
}

void bench_choose_build(int argc, char **argv)
{
	char build[512];
	if (argc > 2) {
		setenv("EASD_BUILD", argv[2], 1);
		return;
	}
	if (getenv("EASD_BUILD") != NULL)
		return;
	const char *tail = strstr(argv[0], "/bench/");
	if (tail != NULL && tail > argv[0] && (size_t)(tail - argv[0]) < sizeof(build)) {
		snprintf(build, sizeof(build), "%.*s", (int)(tail - argv[0]), argv[0]);
		setenv("EASD_BUILD", build, 1);
		return;
	}
	setenv("EASD_BUILD", "build", 1);
}

void bench_die(struct e2e_server *easd, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, format, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (easd->dir[0] != '\0')
		fprintf(stderr, "%s: easd's stderr was %s/easd.stderr (removed now)\n", program_invocation_short_name, easd->dir);
	e2e_cleanup(easd);
	exit(1);
}
