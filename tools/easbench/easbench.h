/*
 * easbench: a device simulator that speaks real EAS to easd. N devices,
 * each its own DeviceId and credentials, spread over users, provision,
 * sync their Inbox and then park Pings (or misbehave the way a profile
 * says), all on one event loop (curl's multi interface on epoll: no
 * thread per device), from several loopback source addresses. An LMTP
 * injector delivers mail at a set rate and each wake is timed from the
 * LMTP 250 to the Ping answer.
 *
 * Files: easbench.c (options, report), loop.c (the event loop and
 * timers), device.c (what a device does, per profile), inject.c (LMTP).
 * Built on the project's EAS client library (tests/lib/easclient.c).
 */
#ifndef EASBENCH_H
#define EASBENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "easclient.h"

enum bench_profile {
	PROFILE_NORMAL,                 /* sync, then park Pings; sync when told of changes */
	PROFILE_HANG_UP,                /* park a Ping, then close the connection (FIN or RST), and again */
	PROFILE_RETRY_STORM,            /* Syncs with a short timeout, re-sent at once when it runs out */
	PROFILE_SYNCKEY0_LOOPER,        /* Sync with SyncKey 0, again and again */
	PROFILE_INVALID_FOLDER_PINGER,  /* Ping "RI" and a folder that does not exist, again at every answer */
	PROFILE_POLICY_REFRESH_IGNORER, /* commands with a stale policy key, whatever easd answers */
	PROFILE_AOSP_PINGER,            /* re-Pings at once on every answer, never syncs */
	PROFILE_BULK_CONTACTS,          /* one Sync adding --contacts N contacts, re-sent as if each answer were lost */
	PROFILE_SENDER,                 /* SendMail after SendMail, each to the next user@example.org */
	PROFILE_POLLER,                 /* no push: a Sync of the Inbox every --interval ms, each timed */
	PROFILE_COUNT_
};

struct bench_options {
	const char *url;
	const char *user_prefix;
	const char *password;
	unsigned users, devices;
	enum bench_profile profile;
	unsigned heartbeat;        /* Ping HeartbeatInterval, seconds */
	unsigned duration;         /* seconds after the last device is set up */
	unsigned sources;          /* loopback source addresses 127.0.0.2 ...; 0: the default route */
	unsigned hang_up_ms;       /* hang-up: how long a Ping stays before the client closes */
	unsigned contacts;         /* bulk-contacts: contacts in the one Sync */
	unsigned setup_rate;       /* devices started per second */
	unsigned interval_ms;      /* poller: from one answer to the next Sync */
	const char *lmtp;          /* host:port, NULL: no injector */
	double rate;               /* messages per second */
	pid_t easd_pid;            /* 0: not sampled */
	const char *json;          /* NULL: no JSON summary */
	bool quiet;                /* no progress line */
};

/* What the run counts; only the loop's thread writes it, the report reads it at the end. */
enum bench_error {
	ERROR_TRANSPORT,    /* curl: connection refused, reset, timed out */
	ERROR_HTTP,         /* an HTTP status other than 200 */
	ERROR_WBXML,        /* a body that does not decode */
	ERROR_STATUS,       /* an EAS Status the profile does not expect */
	ERROR_COUNT_
};

struct bench_counts {
	uint64_t requests, answers;
	uint64_t by_command[8];          /* Provision, FolderSync, Sync, Ping, other */
	uint64_t ping_status[10];        /* Ping Status 0-9 */
	uint64_t hang_ups;
	uint64_t errors[ERROR_COUNT_];
	unsigned ready;                  /* devices set up */
	unsigned parked;                 /* Pings in flight now */
	uint64_t wakes;                  /* Status 2 answers with a delivery to time */
};

/* ---- loop.c ---- */

struct bench_loop;
struct bench_device;
struct bench_run;

typedef void bench_done_fn(struct bench_device *device, int result);
typedef void bench_timer_fn(struct bench_device *device);

/* A loop for that many devices. Returns 0 or -1. */
int bench_loop_new(unsigned devices, struct bench_loop **loop_out);
void bench_loop_free(struct bench_loop **loop);
/* Starts the device's prepared request (easclient_post_start); done is called when it ends. */
void bench_loop_start(struct bench_loop *loop, struct bench_device *device, void *easy, bench_done_fn *done);
/* Abandons the device's request in flight: its connection is closed (FIN, or RST when reset). */
void bench_loop_abandon(struct bench_loop *loop, struct bench_device *device, bool reset);
/* Calls fn for device after ms (one timer per device; a new one replaces it). */
void bench_loop_after(struct bench_loop *loop, struct bench_device *device, unsigned ms, bench_timer_fn *fn);
/* Runs until deadline (bench_seconds), calling tick about once a second. */
void bench_loop_run(struct bench_loop *loop, double deadline, void (*tick)(void *context), void *context);

/* ---- device.c ---- */

/* One simulated device: its connection, where it is, and the loop's hold on it. */
#define WAKE_ANSWERS 8

struct bench_device {
	struct bench_run *run;
	unsigned index, user;
	char user_name[32], device_id[24];
	struct easclient *client;
	struct easclient_response response;
	int step;                 /* what it waits for (device.c's enum) */
	char inbox[24], sync_key[24];
	char contacts[24], contacts_key[24]; /* bulk-contacts: the Contacts folder, at the key of its SyncKey 0 */
	uint64_t next_delivery;   /* the user's deliveries it has accounted for */
	double answers[WAKE_ANSWERS]; /* its last Ping answers with Status 2, for timing wakes */
	unsigned answer_count;
	struct buf body;          /* the request in flight's body, kept until it ends */
	bool pinging;             /* the request in flight is a Ping */
	unsigned messages;        /* sender: SendMails sent, for their ClientIds */
	double sent_at;           /* sender, poller: when the one in flight left */
	/* loop.c */
	void *easy;               /* the client's curl handle, while a request is in flight */
	bench_done_fn *done;
	bool in_flight;
	double timer_at;
	bench_timer_fn *timer_fn;
	size_t timer_index;       /* in the timer heap, or SIZE_MAX */
};

struct bench_run {
	const struct bench_options *options;
	struct bench_loop *loop;
	struct bench_counts counts;
	struct bench_device *devices;
	struct bench_latencies *latencies;
};

/* Creates the devices (not started). */
void bench_devices_new(struct bench_run *run);
void bench_devices_free(struct bench_run *run);
/* Starts device i: provisioning, then what its profile does. */
void bench_device_start(struct bench_run *run, unsigned i);

/* ---- inject.c ---- */

/*
 * The LMTP injector: a thread delivering a small message to user0, user1,
 * ... in turn at rate messages per second, over one LMTP session. Each
 * 250 is timed; bench_injected_since gives a user's deliveries after a
 * device's last look, for wake latencies.
 */
int bench_inject_start(const struct bench_options *options, char *error, size_t error_len);
void bench_inject_stop(void);
/* Delivery times (bench_seconds) of user's messages numbered from *next on; advances *next. Returns how many (<= max). */
unsigned bench_injected_since(unsigned user, uint64_t *next, double *times, unsigned max);
uint64_t bench_injected_total(void);
uint64_t bench_inject_failures(void);

/* ---- easbench.c ---- */

double bench_seconds(void);
/* A latency in seconds (a wake, a SendMail or a poller's Sync answered), for the percentiles. */
void bench_latency_add(struct bench_run *run, double seconds);

#endif
