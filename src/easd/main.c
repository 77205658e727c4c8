/*
 * main.c: the easd daemon. Reads the configuration, opens the store and
 * the log, starts the HTTP server (and the metrics and LMTP listeners),
 * becomes [service] user when started as root (easd/service_user.h),
 * then waits for signals: SIGTERM/SIGINT stop cleanly (requests in flight
 * finish, the store is closed), SIGHUP reopens the logs (logrotate),
 * loads easd.conf again (what can change live does, config/live.h) and
 * reloads the TLS certificate (renewals).
 *
 * Start-up failures print one clear line and exit non-zero.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "eas/eas.h"
#include "easd/service_user.h"
#include "guard/auth.h"
#include "http/server.h"
#include "log/access.h"
#include "log/errorlog.h"
#include "mail/lmtp.h"
#include "mail/outbox.h"
#include "mail/submit.h"
#include "metrics/metrics.h"
#include "push/push.h"
#include "pim/timezone.h"
#include "store/store.h"

#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_SECONDS 5

struct daemon {
	const char *config_path;          /* NULL: built-in defaults */
	struct config_live *live;         /* the configuration in force; SIGHUP replaces it */
	const struct easd_config *boot;   /* the one easd started with: listeners, directories, limits read at start */
	struct store *store;
	struct access_log *log;
	struct error_log *errors;  /* timestamped stderr and easd.log */
	struct guard_auth *auth;
	struct guard_usage *usage;
	struct eas_server eas;
	struct push_hub *push;
	struct guard_repeats *repeats;
	struct guard_autoblock *autoblock;
	struct http_server *http;
	struct metrics_server *metrics;
	struct lmtp_server *lmtp;
	struct mail_outbox *outbox;
};

static void usage(FILE *out)
{
	fputs("usage: easd [-c FILE]\n"
	      "  -c, --config FILE   configuration (default: none, built-in defaults; see easd.conf.example)\n"
	      "  -h, --help          this text\n"
	      "  -V, --version       the release\n"
	      "easd serves Exchange ActiveSync until SIGTERM; SIGHUP reopens access.log and easd.log,\n"
	      "loads the configuration file again (what can change live does) and reloads the\n"
	      "TLS certificate and key.\n",
	      out);
}

static int write_port_file(const char *path, uint16_t port)
{
	FILE *out = fopen(path, "w");
	if (out == NULL)
		return -1;
	fprintf(out, "%u\n", port);
	return fclose(out);
}

/*
 * Every parked Ping holds a socket, so the soft descriptor limit (often
 * 1024) is raised to the hard one (often 524288 under systemd; doc/running.md
 * says how to raise that). Returns the limit in force.
 */
static unsigned raise_descriptor_limit(void)
{
	struct rlimit limit;
	if (getrlimit(RLIMIT_NOFILE, &limit) < 0)
		return 1024;
	if (limit.rlim_cur < limit.rlim_max) {
		limit.rlim_cur = limit.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &limit) < 0)
			getrlimit(RLIMIT_NOFILE, &limit);
	}
	return limit.rlim_cur > (1u << 24) ? 1u << 24 : (unsigned)limit.rlim_cur;
}

/*
 * easd writes its data directory (the database, its -wal and -shm,
 * push.sock) and its log directory (access.log, a new one after each
 * rotation). Without this check an easd that cannot write them starts and
 * fails later: every write a request makes answered Status 111, or the log
 * lost at the first rotation. So a file is created in each and removed
 * (the directory made first if missing, as the store and the log do).
 */
static int check_writable_directory(const char *what, const char *dir)
{
	char path[4096];
	int fd = -1;
	if (mkdir(dir, 0750) == 0 || errno == EEXIST) {
		if (snprintf(path, sizeof(path), "%s/.easd-write-check-XXXXXX", dir) < (int)sizeof(path))
			fd = mkstemp(path);
		else
			errno = ENAMETOOLONG;
	}
	if (fd < 0) {
		fprintf(stderr, "easd: cannot write the %s %s: %s\n", what, dir, strerror(errno));
		return -1;
	}
	close(fd);
	unlink(path);
	return 0;
}

/* SQLite opens a database file it may not write read-only without a word: every write would fail. */
static int check_writable_database(const char *data_dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", data_dir, STORE_DATABASE_NAME);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) {
		fprintf(stderr, "easd: cannot write the database %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

/* The Prometheus listener ([metrics]), on its own port and thread; its port in [metrics] port_file. */
static int start_metrics(struct daemon *d)
{
	char error[512];
	struct metrics_server_settings settings = { d->boot, d->store, d->push, d->usage, d->live };
	if (metrics_server_start(&settings, &d->metrics, error, sizeof(error)) < 0) {
		fprintf(stderr, "easd: metrics: %s\n", error);
		return -1;
	}
	const char *port_file = d->boot->metrics_port_file;
	if (port_file[0] != '\0' && write_port_file(port_file, metrics_server_port(d->metrics)) < 0) {
		fprintf(stderr, "easd: %s: %s\n", port_file, strerror(errno));
		return -1;
	}
	return 0;
}

/* Mail in (LMTP, when [lmtp] listen is set) and out (the outbox of meeting messages). */
static int start_mail(struct daemon *d)
{
	char error[512];
	if (d->boot->lmtp_listen[0] != '\0' &&
	    lmtp_server_start(d->live, d->store, &d->lmtp, error, sizeof(error)) < 0) {
		fprintf(stderr, "easd: lmtp: %s\n", error);
		return -1;
	}
	if (mail_outbox_start(d->live, d->store, &d->outbox, error, sizeof(error)) < 0) {
		fprintf(stderr, "easd: outbox: %s\n", error);
		return -1;
	}
	return 0;
}

static int start(struct daemon *d)
{
	char error[512];
	if (check_writable_directory("data directory", d->boot->data_dir) < 0 ||
	    check_writable_database(d->boot->data_dir) < 0 ||
	    check_writable_directory("log directory", d->boot->log_dir) < 0)
		return -1;
	d->errors = error_log_start(d->boot->log_dir, error, sizeof(error));
	if (d->errors == NULL) {
		fprintf(stderr, "easd: log: %s\n", error);
		return -1;
	}
	if (store_open(d->boot->data_dir, 0, &d->store, error, sizeof(error)) < 0) {
		fprintf(stderr, "easd: store: %s\n", error);
		return -1;
	}
	d->log = access_log_open(d->boot->log_dir);
	if (d->log == NULL) {
		fprintf(stderr, "easd: log: %s/access.log: %s\n", d->boot->log_dir, strerror(errno));
		return -1;
	}
	d->auth = guard_auth_new(d->boot);
	d->usage = guard_usage_new();
	/* easd reads libical's zones once, into its own table (pim/timezone.c), and needs them no more. */
	pim_timezone_release_libical();
	struct push_settings push = { d->boot->max_parked, d->boot->max_parked_per_user };
	if (push_hub_start(&push, raise_descriptor_limit(), &d->push, error, sizeof(error)) < 0) {
		fprintf(stderr, "easd: push: %s\n", error);
		return -1;
	}
	if (push_hub_listen(d->push, d->boot->data_dir, error, sizeof(error)) < 0) {
		fprintf(stderr, "easd: push: %s\n", error);
		return -1;
	}
	store_set_change_listener(d->store, push_hub_changed, d->push);
	d->repeats = guard_repeats_new();
	d->autoblock = guard_autoblock_new();
	d->eas = (struct eas_server){ .store = d->store, .push = d->push, .repeats = d->repeats,
				      .autoblock = d->autoblock };
	struct http_server_settings http = { d->boot, d->live, &d->eas, d->auth, d->usage, d->log };
	if (http_server_start(&http, &d->http, error, sizeof(error)) < 0) {
		fprintf(stderr, "easd: http: %s\n", error);
		return -1;
	}
	if (d->boot->metrics_listen[0] != '\0' && start_metrics(d) < 0)
		return -1;
	if (d->boot->port_file[0] != '\0' &&
	    write_port_file(d->boot->port_file, http_server_port(d->http)) < 0) {
		fprintf(stderr, "easd: %s: %s\n", d->boot->port_file, strerror(errno));
		return -1;
	}
	if (start_mail(d) < 0)
		return -1;
	/* Whether TLS is on, said at once: a proxy in front, or devices told to use plain HTTP, is a choice to see. */
	fprintf(stderr, "easd %s: serving EAS on %s (port %u, %s)%s%s, store %s\n", EASD_VERSION, d->boot->http_listen,
		http_server_port(d->http), d->boot->tls_certificate[0] != '\0' ? "HTTPS" : "plain HTTP, no TLS",
		d->lmtp != NULL ? ", LMTP on " : "", d->lmtp != NULL ? d->boot->lmtp_listen : "", d->boot->data_dir);
	return 0;
}

/*
 * Started as root with [service] user set: everything that needs root is
 * done (listeners bound, store and logs open), so the rest runs as the user.
 */
static int become_service_user(struct daemon *d, const struct easd_user *user)
{
	char error[1024];
	if (easd_user_switch(user, d->boot->data_dir, d->boot->log_dir, error, sizeof(error)) < 0) {
		fprintf(stderr, "easd: %s\n", error);
		return -1;
	}
	fprintf(stderr, "easd: running as user %s (uid %u)\n", user->name, (unsigned)user->uid);
	return 0;
}

static void stop(struct daemon *d)
{
	lmtp_server_stop(&d->lmtp);
	metrics_server_stop(&d->metrics);
	mail_outbox_stop(&d->outbox);
	http_server_stop(&d->http, SHUTDOWN_GRACE_SECONDS);
	if (d->store != NULL)
		store_set_change_listener(d->store, NULL, NULL);
	push_hub_free(&d->push);
	guard_repeats_free(&d->repeats);
	guard_autoblock_free(&d->autoblock);
	guard_auth_free(&d->auth);
	guard_usage_free(&d->usage);
	access_log_close(&d->log);
	store_close(&d->store);
	config_live_put(d->live, d->boot);
	config_live_free(&d->live);
	error_log_stop(&d->errors);
}

/* Half systemd's watchdog interval (WatchdogSec=), in milliseconds; 0 when it is off. */
static long watchdog_beat_ms(void)
{
	uint64_t usec = 0;
	return sd_watchdog_enabled(0, &usec) > 0 ? (long)(usec / 2000) : 0;
}

/* The next signal; with a watchdog, WATCHDOG=1 each beat while none comes (the main loop is alive). */
static int next_signal(const sigset_t *signals, long beat_ms)
{
	for (;;) {
		if (beat_ms == 0) {
			int signal_number;
			if (sigwait(signals, &signal_number) == 0)
				return signal_number;
			continue;
		}
		struct timespec timeout = { beat_ms / 1000, (beat_ms % 1000) * 1000000 };
		int signal_number = sigtimedwait(signals, NULL, &timeout);
		if (signal_number > 0)
			return signal_number;
		if (errno == EAGAIN)
			sd_notify(0, "WATCHDOG=1");
	}
}

/*
 * easd.conf again: requests that begin from now on see the new values
 * (config/live.h). A file that does not load keeps the configuration in
 * force; keys read only at start keep their values until a restart. Each
 * outcome is said in one line.
 */
static void reload_configuration(struct daemon *d)
{
	if (d->config_path == NULL) {
		fputs("easd: SIGHUP: no configuration file (-c), so no configuration to reload\n", stderr);
		return;
	}
	struct easd_config next;
	config_init(&next);
	char error[512];
	if (config_load(&next, d->config_path, error, sizeof(error)) < 0) {
		fprintf(stderr, "easd: SIGHUP: kept the configuration in force: %s\n", error);
		config_cleanup(&next);
		return;
	}
	char changed[2048], kept[1024];
	const struct easd_config *current = config_live_get(d->live);
	config_reload_merge(current, &next, changed, sizeof(changed), kept, sizeof(kept));
	config_live_put(d->live, current);
	guard_auth_configure(d->auth, &next);
	config_live_replace(d->live, &next);
	fprintf(stderr, "easd: SIGHUP: reloaded %s: %s%s\n", d->config_path, changed[0] != '\0' ? "changed " : "",
		changed[0] != '\0' ? changed : "nothing changed");
	if (kept[0] != '\0')
		fprintf(stderr, "easd: SIGHUP: kept until easd restarts (read only at start): %s\n", kept);
}

/* A renewed certificate, from the files the configuration in force names. */
static void reload_tls(struct daemon *d)
{
	char report[1024];
	const struct easd_config *config = config_live_get(d->live);
	bool kept = http_server_reload_tls(d->http, config, report, sizeof(report)) < 0;
	config_live_put(d->live, config);
	fprintf(stderr, "easd: SIGHUP: %s%s\n", kept ? "kept the TLS certificate in use: " : "", report);
}

/* Logs first, so that what the reload says lands in the new easd.log. */
static void reload(struct daemon *d)
{
	sd_notify(0, "RELOADING=1");
	if (access_log_reopen(d->log) < 0)
		fprintf(stderr, "easd: cannot reopen the access log: %s\n", strerror(errno));
	if (error_log_reopen(d->errors) < 0)
		fprintf(stderr, "easd: cannot reopen easd.log: %s\n", strerror(errno));
	reload_configuration(d);
	if (d->boot->tls_certificate[0] != '\0')
		reload_tls(d);
	sd_notify(0, "READY=1");
}

/* The main thread only waits for signals; the servers run on their own threads. */
static void wait_for_signals(struct daemon *d, const sigset_t *signals)
{
	long beat_ms = watchdog_beat_ms();
	for (;;) {
		int signal_number = next_signal(signals, beat_ms);
		if (signal_number == SIGHUP) {
			reload(d);
			continue;
		}
		fprintf(stderr, "easd: %s, stopping\n", strsignal(signal_number));
		return;
	}
}

/* -c FILE over the defaults, made the configuration in force. Returns 0, or -1 having said why. */
static int load_configuration(struct daemon *d)
{
	struct easd_config config;
	config_init(&config);
	char error[512];
	if (d->config_path != NULL && config_load(&config, d->config_path, error, sizeof(error)) < 0) {
		fprintf(stderr, "easd: %s\n", error);
		config_cleanup(&config);
		return -1;
	}
	d->live = config_live_new(&config);
	d->boot = config_live_get(d->live);
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = { 0 };
	static const struct option options[] = {
		{ "config", 1, 0, 'c' }, { "help", 0, 0, 'h' }, { "version", 0, 0, 'V' }, { 0, 0, 0, 0 },
	};
	int option;
	while ((option = getopt_long(argc, argv, "c:hV", options, NULL)) != -1) {
		if (option == 'c') {
			d.config_path = optarg;
		} else if (option == 'V') {
			printf("easd %s\n", EASD_VERSION);
			return 0;
		} else {
			usage(option == 'h' ? stdout : stderr);
			return option == 'h' ? 0 : 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (load_configuration(&d) < 0)
		return 1;
	/* An unknown [service] user, or one easd cannot become, stops it before anything is opened. */
	struct easd_user service_user;
	char error[512];
	if (easd_user_find(d.boot->service_user, &service_user, error, sizeof(error)) < 0) {
		fprintf(stderr, "easd: %s\n", error);
		stop(&d);
		return 1;
	}
	/* Block the signals before any thread starts, so only sigwait sees them. */
	sigset_t signals;
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	mail_submit_init(); /* libcurl's global set-up is not thread-safe: before the threads */
	if (start(&d) < 0 || (service_user.switch_to && become_service_user(&d, &service_user) < 0)) {
		stop(&d);
		return 1;
	}
	/* systemd (Type=notify) learns easd serves; without NOTIFY_SOCKET these do nothing. */
	sd_notifyf(0, "READY=1\nSTATUS=serving EAS on port %u", http_server_port(d.http));
	wait_for_signals(&d, &signals);
	sd_notify(0, "STOPPING=1");
	stop(&d);
	return 0;
}
