/*
 * benchlib: what the benchmarks share: the report (each line shown at
 * once, since the phases take a while, and kept for bench/results/), and
 * what they measure about easd from /proc (proc(5)) with a monotonic clock.
 */
#ifndef BENCHLIB_H
#define BENCHLIB_H

#include <stddef.h>
#include <sys/types.h>

/* Adds a line (or part of one) to the report and shows it on stdout. */
void bench_say(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* Writes the report to path. Returns 0, or -1 with errno set. */
int bench_report_write(const char *path);
/* Forgets the report. */
void bench_report_free(void);

struct e2e_server;
/*
 * Says why the benchmark stops (prefixed with the program's name, and
 * where easd's stderr was), stops easd and removes its directory, and
 * exits with status 1.
 */
void bench_die(struct e2e_server *easd, const char *format, ...) __attribute__((format(printf, 2, 3), noreturn));

/* Seconds on CLOCK_MONOTONIC. */
double bench_now(void);
/* The process's VmRSS in kB, or -1 when it cannot be read. */
long bench_rss_kb(pid_t pid);
/* Its peak RSS so far (VmHWM) in kB, or -1. */
long bench_peak_rss_kb(pid_t pid);
/* utime + stime of all its threads in seconds, or -1 when it cannot be read. */
double bench_cpu_seconds(pid_t pid);
/* The 1-minute load average (other work on the machine skews every figure), or -1. */
double bench_load_average(void);
/* The CPU's model name from /proc/cpuinfo, or "unknown CPU". */
void bench_cpu_model(char *model, size_t size);
/*
 * Sets EASD_BUILD, where the benchmark finds easd: argv[2] when given,
 * else the environment's, else the build directory the benchmark program
 * itself is in ($(BUILD)/bench/<name>), else "build".
 */
void bench_choose_build(int argc, char **argv);

#endif
