/*
 * procstat: what the benchmarks measure about a process, from /proc
 * (proc(5)), and a monotonic clock.
 */
#ifndef PROCSTAT_H
#define PROCSTAT_H

#include <sys/types.h>

/* Seconds on CLOCK_MONOTONIC. */
double procstat_now(void);
/* The process's VmRSS in kB, or -1 when it cannot be read. */
long procstat_rss_kb(pid_t pid);
/* utime + stime of all its threads in seconds, or -1 when it cannot be read. */
double procstat_cpu_seconds(pid_t pid);

#endif
