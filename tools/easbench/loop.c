/*
 * loop.c: easbench's event loop. curl's multi interface drives every
 * device's connection through curl_multi_socket_action on one epoll set,
 * so 100,000 idle connections cost nothing per turn; a binary heap keeps
 * the devices' own timers (the next request of a looping profile, the
 * hang-up of a parked Ping).
 *
 * The devices are spread over several multi handles (shards of
 * LOOP_SHARD_DEVICES): a multi handle keeps its connections to one host
 * in one list and walks it at every request, which with 10,000 devices
 * on one handle cost more than the requests themselves (wake latencies of
 * seconds, measured). Each epoll event carries its shard with the socket.
 */
#include "easbench.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define EPOLL_BATCH 1024
#define LOOP_SHARD_DEVICES 128
#define LOOP_MAX_SHARDS 4096

struct shard {
	struct bench_loop *loop;
	unsigned index;
	CURLM *multi;
	long timeout_ms;      /* curl's last word: -1 none */
	double timeout_at;
};

struct bench_loop {
	struct shard shards[LOOP_MAX_SHARDS];
	unsigned shard_count;
	int epoll_fd;
	struct heap timers;   /* the devices' own timers, by timer_at */
};

static uint64_t event_key(const struct shard *shard, int fd)
{
	return (uint64_t)shard->index << 32 | (uint32_t)fd;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *context, void *socket_context)
{
	(void)easy;
	struct shard *shard = context;
	struct bench_loop *loop = shard->loop;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL); /* may be closed already */
		curl_multi_assign(shard->multi, fd, NULL);
		return 0;
	}
	struct epoll_event event = { .data.u64 = event_key(shard, fd) };
	event.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	int op = socket_context != NULL ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(loop->epoll_fd, op, fd, &event) < 0)
		fprintf(stderr, "easbench: epoll_ctl: %s\n", strerror(errno));
	curl_multi_assign(shard->multi, fd, shard);
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *context)
{
	(void)multi;
	struct shard *shard = context;
	shard->timeout_ms = timeout_ms;
	shard->timeout_at = timeout_ms < 0 ? 0 : bench_seconds() + timeout_ms / 1000.0;
	return 0;
}

static bool timer_before(const void *a, const void *b);
static void timer_placed(void *item, size_t index);

int bench_loop_new(unsigned devices, struct bench_loop **loop_out)
{
	struct bench_loop *loop = calloc(1, sizeof(*loop));
	if (loop == NULL)
		abort();
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	heap_init(&loop->timers, timer_before, timer_placed);
	loop->shard_count = (devices + LOOP_SHARD_DEVICES - 1) / LOOP_SHARD_DEVICES;
	if (loop->shard_count == 0)
		loop->shard_count = 1;
	if (loop->shard_count > LOOP_MAX_SHARDS)
		loop->shard_count = LOOP_MAX_SHARDS;
	*loop_out = loop;
	for (unsigned i = 0; i < loop->shard_count; i++) {
		struct shard *shard = &loop->shards[i];
		*shard = (struct shard){ .loop = loop, .index = i, .multi = curl_multi_init(), .timeout_ms = -1 };
		if (shard->multi == NULL)
			break;
		curl_multi_setopt(shard->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
		curl_multi_setopt(shard->multi, CURLMOPT_SOCKETDATA, shard);
		curl_multi_setopt(shard->multi, CURLMOPT_TIMERFUNCTION, on_timer);
		curl_multi_setopt(shard->multi, CURLMOPT_TIMERDATA, shard);
	}
	if (loop->epoll_fd < 0 || loop->shards[loop->shard_count - 1].multi == NULL) {
		bench_loop_free(loop_out);
		return -1;
	}
	return 0;
}

void bench_loop_free(struct bench_loop **loop_ptr)
{
	struct bench_loop *loop = *loop_ptr;
	if (loop == NULL)
		return;
	for (unsigned i = 0; i < loop->shard_count; i++)
		if (loop->shards[i].multi != NULL)
			curl_multi_cleanup(loop->shards[i].multi);
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	heap_cleanup(&loop->timers);
	free(loop);
	*loop_ptr = NULL;
}

static struct shard *shard_of(struct bench_loop *loop, const struct bench_device *device)
{
	return &loop->shards[(device->index / LOOP_SHARD_DEVICES) % loop->shard_count];
}

void bench_loop_start(struct bench_loop *loop, struct bench_device *device, void *easy, bench_done_fn *done)
{
	device->easy = easy;
	device->done = done;
	device->in_flight = true;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, device);
	curl_multi_add_handle(shard_of(loop, device)->multi, easy);
}

void bench_loop_abandon(struct bench_loop *loop, struct bench_device *device, bool reset)
{
	if (!device->in_flight)
		return;
	curl_socket_t fd = CURL_SOCKET_BAD;
	/* SO_LINGER 0: the close that follows sends RST instead of FIN. */
	if (reset && curl_easy_getinfo(device->easy, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK && fd != CURL_SOCKET_BAD) {
		struct linger linger = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
	}
	/* A transfer removed before its end takes its connection with it. */
	curl_multi_remove_handle(shard_of(loop, device)->multi, device->easy);
	device->in_flight = false;
}

/* ---- device timers: util's heap on timer_at ---- */

static bool timer_before(const void *a, const void *b)
{
	return ((const struct bench_device *)a)->timer_at < ((const struct bench_device *)b)->timer_at;
}

static void timer_placed(void *item, size_t index)
{
	((struct bench_device *)item)->timer_index = index;
}

static void timer_remove(struct bench_loop *loop, struct bench_device *device)
{
	heap_remove(&loop->timers, device->timer_index);
	device->timer_index = SIZE_MAX;
}

void bench_loop_after(struct bench_loop *loop, struct bench_device *device, unsigned ms, bench_timer_fn *fn)
{
	if (device->timer_index != SIZE_MAX)
		timer_remove(loop, device);
	device->timer_at = bench_seconds() + ms / 1000.0;
	device->timer_fn = fn;
	heap_push(&loop->timers, device);
}

/* ---- running ---- */

static void finish_transfers(struct shard *shard)
{
	CURLMsg *message;
	int left;
	while ((message = curl_multi_info_read(shard->multi, &left)) != NULL) {
		if (message->msg != CURLMSG_DONE)
			continue;
		struct bench_device *device = NULL;
		CURLcode result = message->data.result;
		curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&device);
		curl_multi_remove_handle(shard->multi, message->easy_handle);
		device->in_flight = false;
		device->done(device, (int)result);
	}
}

static void fire_timers(struct bench_loop *loop, double now)
{
	struct bench_device *device;
	while ((device = heap_top(&loop->timers)) != NULL && device->timer_at <= now) {
		timer_remove(loop, device);
		device->timer_fn(device);
	}
}

/*
 * Milliseconds to wait: the nearest of the shards' curl timeouts, a device
 * timer, the next tick and the end of the run. At least 1 when a curl
 * timeout is due: curl may have rounded it down and not be ready yet, and
 * it tells no new timeout until its earliest one changes (so it is kept,
 * not cleared).
 */
static int wait_ms(const struct bench_loop *loop, double now, double next_tick, double deadline)
{
	double until = next_tick < deadline ? next_tick : deadline;
	for (unsigned i = 0; i < loop->shard_count; i++)
		if (loop->shards[i].timeout_ms >= 0 && loop->shards[i].timeout_at < until)
			until = loop->shards[i].timeout_at;
	const struct bench_device *timer = heap_top(&loop->timers);
	if (timer != NULL && timer->timer_at < until)
		until = timer->timer_at;
	double ms = (until - now) * 1000;
	return ms < 1 ? 1 : (int)ms + 1;
}

static void handle_events(struct bench_loop *loop, const struct epoll_event *events, int count)
{
	int running;
	for (int i = 0; i < count; i++) {
		struct shard *shard = &loop->shards[(events[i].data.u64 >> 32) % loop->shard_count];
		int fd = (int)(uint32_t)events[i].data.u64;
		int flags = (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			    (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			    (events[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
		curl_multi_socket_action(shard->multi, fd, flags, &running);
		finish_transfers(shard);
	}
}

void bench_loop_run(struct bench_loop *loop, double deadline, void (*tick)(void *context), void *context)
{
	struct epoll_event events[EPOLL_BATCH];
	double next_tick = bench_seconds() + 1;
	int running;
	while (bench_seconds() < deadline) {
		int count = epoll_wait(loop->epoll_fd, events, EPOLL_BATCH,
				       wait_ms(loop, bench_seconds(), next_tick, deadline));
		handle_events(loop, events, count);
		double now = bench_seconds();
		for (unsigned i = 0; i < loop->shard_count; i++) {
			struct shard *shard = &loop->shards[i];
			if (shard->timeout_ms >= 0 && now >= shard->timeout_at) {
				curl_multi_socket_action(shard->multi, CURL_SOCKET_TIMEOUT, 0, &running);
				finish_transfers(shard);
			}
		}
		fire_timers(loop, now);
		if (now >= next_tick) {
			next_tick = now + 1;
			tick(context);
		}
	}
}
