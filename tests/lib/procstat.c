/* procstat.c: see procstat.h. */
#include "procstat.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double procstat_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long procstat_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *in = fopen(path, "r");
	if (in == NULL)
		return -1;
	while (fgets(line, sizeof(line), in) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(in);
	return kb;
}

double procstat_cpu_seconds(pid_t pid)
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
