/*
 * inject.c: the LMTP injector. One thread, one LMTP session (RFC 2033)
 * to easd's listener: a small message to each user in turn, paced to the
 * rate asked. The moment each 250 arrives is kept per user (the last
 * INJECT_KEPT of them), so a device woken by a Ping can time its wake
 * from the delivery.
 */
#include "easbench.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INJECT_KEPT 256

struct user_deliveries {
	double times[INJECT_KEPT]; /* ring: delivery n is at n % INJECT_KEPT */
	uint64_t count;
};

static struct {
	const struct bench_options *options;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	int fd;
	FILE *in;
	pthread_mutex_t lock;
	struct user_deliveries *users;
	uint64_t total, failures;
} inject = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

static int connect_to(const char *host_port)
{
	char host[128];
	snprintf(host, sizeof(host), "%s", host_port);
	char *colon = strrchr(host, ':');
	if (colon == NULL)
		return -1;
	*colon = '\0';
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *found;
	if (getaddrinfo(host, colon + 1, &hints, &found) != 0)
		return -1;
	int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, found->ai_addr, found->ai_addrlen) < 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(found);
	return fd;
}

/* Reads one reply (its continuation lines too); returns its code, or -1. */
static int reply(void)
{
	char line[512];
	while (fgets(line, sizeof(line), inject.in) != NULL)
		if (strlen(line) >= 4 && line[3] != '-')
			return atoi(line);
	return -1;
}

static int say(const char *text, int expected)
{
	size_t n = strlen(text);
	if (write(inject.fd, text, n) != (ssize_t)n)
		return -1;
	return reply() == expected ? 0 : -1;
}

/* One message to user; returns 0 once easd said 250 for it. */
static int deliver(unsigned user, uint64_t n)
{
	char command[256], message[512];
	snprintf(command, sizeof(command), "RCPT TO:<%s%u@localhost>\r\n", inject.options->user_prefix, user);
	snprintf(message, sizeof(message),
		 "From: easbench <bench@example.org>\r\nTo: %s%u@localhost\r\nSubject: easbench %llu\r\n"
		 "Message-ID: <easbench-%llu-%ld@example.org>\r\n\r\nA message from easbench.\r\n.\r\n",
		 inject.options->user_prefix, user, (unsigned long long)n, (unsigned long long)n, (long)getpid());
	if (say("MAIL FROM:<bench@example.org>\r\n", 250) < 0 || say(command, 250) < 0 || say("DATA\r\n", 354) < 0)
		return -1;
	return say(message, 250);
}

static void record(unsigned user)
{
	pthread_mutex_lock(&inject.lock);
	struct user_deliveries *u = &inject.users[user];
	u->times[u->count % INJECT_KEPT] = bench_seconds();
	u->count++;
	inject.total++;
	pthread_mutex_unlock(&inject.lock);
}

static void *inject_thread(void *context)
{
	(void)context;
	double start = bench_seconds();
	for (uint64_t n = 0; !atomic_load(&inject.stop); n++) {
		double when = start + n / inject.options->rate;
		double wait = when - bench_seconds();
		if (wait > 0)
			usleep((useconds_t)(wait * 1e6));
		unsigned user = (unsigned)(n % inject.options->users);
		if (deliver(user, n) == 0) {
			record(user);
		} else {
			pthread_mutex_lock(&inject.lock);
			inject.failures++;
			pthread_mutex_unlock(&inject.lock);
			say("RSET\r\n", 250);
		}
	}
	say("QUIT\r\n", 221);
	return NULL;
}

int bench_inject_start(const struct bench_options *options, char *error, size_t error_len)
{
	inject.options = options;
	inject.users = calloc(options->users, sizeof(*inject.users));
	if (inject.users == NULL)
		abort();
	if (options->lmtp == NULL || options->rate <= 0)
		return 0;
	inject.fd = connect_to(options->lmtp);
	if (inject.fd < 0 || (inject.in = fdopen(dup(inject.fd), "r")) == NULL || reply() != 220 ||
	    say("LHLO easbench\r\n", 250) < 0) {
		snprintf(error, error_len, "cannot open an LMTP session to %s: %s", options->lmtp, strerror(errno));
		return -1;
	}
	if (pthread_create(&inject.thread, NULL, inject_thread, NULL) != 0) {
		snprintf(error, error_len, "cannot start the injector thread");
		return -1;
	}
	inject.started = true;
	return 0;
}

void bench_inject_stop(void)
{
	if (inject.started) {
		atomic_store(&inject.stop, true);
		pthread_join(inject.thread, NULL);
		inject.started = false;
	}
	if (inject.in != NULL)
		fclose(inject.in);
	if (inject.fd >= 0)
		close(inject.fd);
	free(inject.users);
	inject.users = NULL;
}

unsigned bench_injected_since(unsigned user, uint64_t *next, double *times, unsigned max)
{
	unsigned n = 0;
	pthread_mutex_lock(&inject.lock);
	struct user_deliveries *u = &inject.users[user];
	if (u->count > INJECT_KEPT && *next < u->count - INJECT_KEPT)
		*next = u->count - INJECT_KEPT; /* older ones are forgotten: the device was far behind */
	for (; *next < u->count && n < max; (*next)++)
		times[n++] = u->times[*next % INJECT_KEPT];
	pthread_mutex_unlock(&inject.lock);
	return n;
}

uint64_t bench_injected_total(void)
{
	pthread_mutex_lock(&inject.lock);
	uint64_t total = inject.total;
	pthread_mutex_unlock(&inject.lock);
	return total;
}

uint64_t bench_inject_failures(void)
{
	pthread_mutex_lock(&inject.lock);
	uint64_t failures = inject.failures;
	pthread_mutex_unlock(&inject.lock);
	return failures;
}
