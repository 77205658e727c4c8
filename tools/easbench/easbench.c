/*
 * easbench.c: options, the run, and the report (see easbench.h).
 *
 * The report: requests and answers, Ping statuses, errors by kind, the
 * profile's latencies (a wake: LMTP 250 to the Ping answer; sender: a
 * SendMail; poller: a Sync; p50, p90, p99, max), and
 * easd's RSS, descriptors, threads and CPU sampled from /proc; a progress
 * line each second on a terminal, and a JSON summary on request.
 */
#include "easbench.h"

#include <curl/curl.h>
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"

static const char *const profile_names[PROFILE_COUNT_] = {
	[PROFILE_NORMAL] = "normal",
	[PROFILE_HANG_UP] = "hang-up",
	[PROFILE_RETRY_STORM] = "retry-storm",
	[PROFILE_SYNCKEY0_LOOPER] = "synckey0-looper",
	[PROFILE_INVALID_FOLDER_PINGER] = "invalid-folder-pinger",
	[PROFILE_POLICY_REFRESH_IGNORER] = "policy-refresh-ignorer",
	[PROFILE_AOSP_PINGER] = "aosp-pinger",
	[PROFILE_BULK_CONTACTS] = "bulk-contacts",
	[PROFILE_SENDER] = "sender",
	[PROFILE_POLLER] = "poller",
};

struct bench_latencies {
	double *values;
	size_t count, capacity;
};

/* What is sampled of easd each second. */
struct easd_sample {
	long rss_kb, rss_peak_kb, rss_at_ready_kb;
	unsigned fds, threads;
	double cpu_at_ready, cpu_now;
};

double bench_seconds(void)
{
	return bench_now();
}

void bench_latency_add(struct bench_run *run, double seconds)
{
	struct bench_latencies *l = run->latencies;
	if (l->count == l->capacity) {
		l->capacity = l->capacity == 0 ? 4096 : l->capacity * 2;
		l->values = realloc(l->values, l->capacity * sizeof(*l->values));
		if (l->values == NULL)
			abort();
	}
	l->values[l->count++] = seconds;
}

static void usage(FILE *out)
{
	fputs("usage: easbench [options]\n"
	      "  --url URL            easd (default http://127.0.0.1:8080)\n"
	      "  --users N            users PREFIX0 .. PREFIX<N-1>, which must exist (default 10)\n"
	      "  --user-prefix P      (default bench)     --password PW (default benchmark)\n"
	      "  --devices N          devices, spread over the users in turn (default 10)\n"
	      "  --profile NAME       normal, hang-up, retry-storm, synckey0-looper, invalid-folder-pinger,\n"
	      "                       policy-refresh-ignorer, aosp-pinger, bulk-contacts, sender, poller\n"
	      "                       (default normal); sender mails user@example.org: easd's local domain;\n"
	      "                       poller syncs its Inbox every --interval ms, each answer timed\n"
	      "  --heartbeat S        Ping HeartbeatInterval (default 480)\n"
	      "  --duration S         seconds to run once every device is set up (default 60)\n"
	      "  --sources K          connect from 127.0.0.2 .. 127.0.0.<K+1> (28,000 ports each; default 0: any)\n"
	      "  --hang-up-ms MS      hang-up: a Ping's life before the client closes; retry-storm: the\n"
	      "                       client's timeout (default 1000)\n"
	      "  --setup-rate R       devices started per second (default 2000)\n"
	      "  --interval MS        poller: from an answer to the next Sync (default 2000)\n"
	      "  --contacts N         bulk-contacts: contacts in the one Sync each device sends (default 1000)\n"
	      "  --lmtp HOST:PORT     deliver mail there ...  --rate R   ... R messages per second\n"
	      "  --easd-pid PID       sample easd's RSS, descriptors, threads and CPU\n"
	      "  --json FILE          a JSON summary\n"
	      "  --quiet              no progress line\n"
	      "EASBENCH_DEBUG=1 in the environment names each transport error on stderr.\n",
	      out);
}

static int parse_profile(const char *name, enum bench_profile *out)
{
	for (int i = 0; i < PROFILE_COUNT_; i++)
		if (strcmp(profile_names[i], name) == 0) {
			*out = (enum bench_profile)i;
			return 0;
		}
	return -1;
}

static int parse_options(int argc, char **argv, struct bench_options *o)
{
	static const struct option long_options[] = {
		{ "url", 1, 0, 'u' }, { "users", 1, 0, 'U' }, { "user-prefix", 1, 0, 'P' }, { "password", 1, 0, 'w' },
		{ "devices", 1, 0, 'd' }, { "profile", 1, 0, 'p' }, { "heartbeat", 1, 0, 'H' }, { "duration", 1, 0, 't' },
		{ "sources", 1, 0, 's' }, { "hang-up-ms", 1, 0, 'h' }, { "setup-rate", 1, 0, 'S' },
		{ "lmtp", 1, 0, 'l' }, { "rate", 1, 0, 'r' }, { "easd-pid", 1, 0, 'e' }, { "json", 1, 0, 'j' },
		{ "quiet", 0, 0, 'q' }, { "contacts", 1, 0, 'c' }, { "interval", 1, 0, 'i' },
		{ "help", 0, 0, '?' }, { 0, 0, 0, 0 },
	};
	*o = (struct bench_options){ .url = "http://127.0.0.1:8080", .user_prefix = "bench", .password = "benchmark",
				     .users = 10, .devices = 10, .heartbeat = 480, .duration = 60, .hang_up_ms = 1000,
				     .setup_rate = 2000, .contacts = 1000,
				     .interval_ms = 2000 };
	int c;
	while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (c) {
		case 'u': o->url = optarg; break;
		case 'U': o->users = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'P': o->user_prefix = optarg; break;
		case 'w': o->password = optarg; break;
		case 'd': o->devices = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'p': if (parse_profile(optarg, &o->profile) < 0) return -1; break;
		case 'H': o->heartbeat = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': o->duration = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': o->sources = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': o->hang_up_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'S': o->setup_rate = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'l': o->lmtp = optarg; break;
		case 'r': o->rate = strtod(optarg, NULL); break;
		case 'e': o->easd_pid = (pid_t)strtol(optarg, NULL, 10); break;
		case 'j': o->json = optarg; break;
		case 'q': o->quiet = true; break;
		case 'c': o->contacts = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'i': o->interval_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		default: return -1;
		}
	}
	return o->users > 0 && o->devices > 0 && o->setup_rate > 0 && o->interval_ms > 0 && o->sources < 250 && optind == argc ? 0 : -1;
}

/* ---- easd from /proc ---- */

static unsigned count_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *dir = opendir(path);
	unsigned n = 0;
	if (dir == NULL)
		return 0;
	for (struct dirent *entry; (entry = readdir(dir)) != NULL;)
		n += entry->d_name[0] != '.';
	closedir(dir);
	return n;
}

static unsigned count_threads(pid_t pid)
{
	char path[64], line[128];
	unsigned threads = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *in = fopen(path, "r");
	if (in == NULL)
		return 0;
	while (fgets(line, sizeof(line), in) != NULL)
		if (sscanf(line, "Threads: %u", &threads) == 1)
			break;
	fclose(in);
	return threads;
}

static void sample(const struct bench_options *o, struct easd_sample *s)
{
	if (o->easd_pid == 0)
		return;
	s->rss_kb = bench_rss_kb(o->easd_pid);
	if (s->rss_kb > s->rss_peak_kb)
		s->rss_peak_kb = s->rss_kb;
	s->fds = count_fds(o->easd_pid);
	s->threads = count_threads(o->easd_pid);
	s->cpu_now = bench_cpu_seconds(o->easd_pid);
}

struct progress {
	struct bench_run *run;
	struct easd_sample easd;
	double started;
	bool tty;
};

static void tick(void *context)
{
	struct progress *p = context;
	const struct bench_counts *c = &p->run->counts;
	sample(p->run->options, &p->easd);
	if (!p->tty)
		return;
	fprintf(stderr, "\r%5.0f s  ready %u/%u  parked %u  requests %llu  answers %llu  wakes %llu  hang-ups %llu"
		"  errors %llu  easd %ld kB %u fds   ", bench_seconds() - p->started, c->ready, p->run->options->devices,
		c->parked, (unsigned long long)c->requests, (unsigned long long)c->answers, (unsigned long long)c->wakes,
		(unsigned long long)c->hang_ups,
		(unsigned long long)(c->errors[0] + c->errors[1] + c->errors[2] + c->errors[3]), p->easd.rss_kb,
		p->easd.fds);
	fflush(stderr);
}

/* ---- the report ---- */

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double percentile(const struct bench_latencies *l, double p)
{
	if (l->count == 0)
		return 0;
	size_t i = (size_t)(p * (double)(l->count - 1) + 0.5);
	return l->values[i];
}

/* The text report's line of latencies, in the words of the profile. */
static void report_latencies(const struct bench_options *o, const struct bench_latencies *l, double ran, FILE *out)
{
	double per_second = ran > 0 ? (double)l->count / ran : 0.0;
	if (o->profile == PROFILE_SENDER)
		fprintf(out, "  messages sent %zu (%.1f per second); SendMail answered in", l->count, per_second);
	else if (o->profile == PROFILE_POLLER)
		fprintf(out, "  mail injected %llu (%llu failed); Syncs answered %zu (%.1f per second) in",
			(unsigned long long)bench_injected_total(), (unsigned long long)bench_inject_failures(), l->count,
			per_second);
	else
		fprintf(out, "  mail injected %llu (%llu failed); wakes timed %zu:", (unsigned long long)bench_injected_total(),
			(unsigned long long)bench_inject_failures(), l->count);
	fprintf(out, " p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n", percentile(l, 0.5) * 1e3,
		percentile(l, 0.9) * 1e3, percentile(l, 0.99) * 1e3, percentile(l, 1.0) * 1e3);
}

static void report(const struct bench_run *run, const struct progress *p, double setup_seconds, double ran,
		   FILE *out, bool json)
{
	const struct bench_options *o = run->options;
	const struct bench_counts *c = &run->counts;
	const struct bench_latencies *l = run->latencies;
	const struct easd_sample *e = &p->easd;
	if (json) {
		fprintf(out, "{\"profile\": \"%s\", \"devices\": %u, \"users\": %u, \"ready\": %u, \"setup_seconds\": %.2f, "
			"\"seconds\": %.1f, \"requests\": %llu, \"answers\": %llu, \"parked_at_end\": %u, \"hang_ups\": %llu, "
			"\"ping_status\": [%llu, %llu, %llu, %llu, %llu, %llu, %llu, %llu, %llu], "
			"\"errors\": {\"transport\": %llu, \"http\": %llu, \"wbxml\": %llu, \"status\": %llu}, "
			"\"injected\": %llu, \"inject_failures\": %llu, \"timed\": %zu, "
			"\"latency_ms\": {\"p50\": %.2f, \"p90\": %.2f, \"p99\": %.2f, \"max\": %.2f}, "
			"\"easd\": {\"rss_kb_ready\": %ld, \"rss_kb_end\": %ld, \"rss_kb_peak\": %ld, \"fds\": %u, "
			"\"threads\": %u, \"cpu_seconds_after_ready\": %.2f}}\n",
			profile_names[o->profile], o->devices, o->users, c->ready, setup_seconds, ran,
			(unsigned long long)c->requests, (unsigned long long)c->answers, c->parked,
			(unsigned long long)c->hang_ups, (unsigned long long)c->ping_status[0],
			(unsigned long long)c->ping_status[1], (unsigned long long)c->ping_status[2],
			(unsigned long long)c->ping_status[3], (unsigned long long)c->ping_status[4],
			(unsigned long long)c->ping_status[5], (unsigned long long)c->ping_status[6],
			(unsigned long long)c->ping_status[7], (unsigned long long)c->ping_status[8],
			(unsigned long long)c->errors[0], (unsigned long long)c->errors[1], (unsigned long long)c->errors[2],
			(unsigned long long)c->errors[3], (unsigned long long)bench_injected_total(),
			(unsigned long long)bench_inject_failures(), l->count, percentile(l, 0.5) * 1e3,
			percentile(l, 0.9) * 1e3, percentile(l, 0.99) * 1e3, percentile(l, 1.0) * 1e3, e->rss_at_ready_kb,
			e->rss_kb, e->rss_peak_kb, e->fds, e->threads, e->cpu_now - e->cpu_at_ready);
		return;
	}
	fprintf(out, "easbench: profile %s, %u devices over %u users, %u ready after %.1f s, then %.1f s\n",
		profile_names[o->profile], o->devices, o->users, c->ready, setup_seconds, ran);
	fprintf(out, "  requests %llu, answers %llu, Pings parked at the end %u, hang-ups %llu\n",
		(unsigned long long)c->requests, (unsigned long long)c->answers, c->parked, (unsigned long long)c->hang_ups);
	fprintf(out, "  Ping statuses:");
	for (int i = 1; i <= 8; i++)
		if (c->ping_status[i] > 0)
			fprintf(out, " %d: %llu", i, (unsigned long long)c->ping_status[i]);
	fprintf(out, "\n  errors: transport %llu, HTTP %llu, WBXML %llu, unexpected Status %llu\n",
		(unsigned long long)c->errors[0], (unsigned long long)c->errors[1], (unsigned long long)c->errors[2],
		(unsigned long long)c->errors[3]);
	report_latencies(o, l, ran, out);
	if (o->easd_pid != 0)
		fprintf(out, "  easd: RSS %ld kB when all were ready, %ld kB at the end (peak %ld kB), %u descriptors, "
			"%u threads, %.2f s of CPU after all were ready\n", e->rss_at_ready_kb, e->rss_kb, e->rss_peak_kb,
			e->fds, e->threads, e->cpu_now - e->cpu_at_ready);
}

/* ---- the run ---- */

static void raise_descriptor_limit(void)
{
	struct rlimit limit;
	if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
}

/* Starts the devices at the set-up rate and waits until they are ready (or ten minutes). */
static double set_up(struct bench_run *run, struct progress *p)
{
	const struct bench_options *o = run->options;
	double start = bench_seconds();
	unsigned started = 0;
	while (run->counts.ready < o->devices && bench_seconds() - start < 600) {
		unsigned due = (unsigned)((bench_seconds() - start) * o->setup_rate) + 1;
		for (; started < o->devices && started < due; started++)
			bench_device_start(run, started);
		bench_loop_run(run->loop, bench_seconds() + 0.01, tick, p);
	}
	return bench_seconds() - start;
}

int main(int argc, char **argv)
{
	struct bench_options options;
	struct bench_latencies latencies = { 0 };
	struct bench_run run = { .options = &options, .latencies = &latencies };
	char error[256];
	if (parse_options(argc, argv, &options) < 0) {
		usage(stderr);
		return 2;
	}
	raise_descriptor_limit();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (bench_loop_new(options.devices, &run.loop) < 0 || bench_inject_start(&options, error, sizeof(error)) < 0) {
		fprintf(stderr, "easbench: %s\n", run.loop == NULL ? "cannot start the event loop" : error);
		return 1;
	}
	bench_devices_new(&run);
	struct progress progress = { .run = &run, .started = bench_seconds(), .tty = !options.quiet && isatty(2) };
	double setup = set_up(&run, &progress);
	sample(&options, &progress.easd);
	progress.easd.rss_at_ready_kb = progress.easd.rss_kb;
	progress.easd.cpu_at_ready = progress.easd.cpu_now;
	double began = bench_seconds();
	bench_loop_run(run.loop, began + options.duration, tick, &progress);
	double ran = bench_seconds() - began;
	sample(&options, &progress.easd);
	if (progress.tty)
		fputc('\n', stderr);
	bench_inject_stop();
	qsort(latencies.values, latencies.count, sizeof(double), compare_doubles);
	report(&run, &progress, setup, ran, stdout, false);
	FILE *json = options.json != NULL ? fopen(options.json, "w") : NULL;
	if (json != NULL) {
		report(&run, &progress, setup, ran, json, true);
		fclose(json);
	}
	bench_devices_free(&run);
	bench_loop_free(&run.loop);
	free(latencies.values);
	curl_global_cleanup();
	return run.counts.ready == options.devices ? 0 : 1;
}
