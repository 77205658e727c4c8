/*
 * device.c: what one simulated device does. Every device first provisions
 * (both phases), runs FolderSync and syncs its Inbox to the end, as a
 * phone does when an account is added; then its profile decides (see
 * enum bench_profile). Requests are built from XML with the project's
 * codec and sent through the event loop; each answer moves the device on.
 */
#include "easbench.h"

#include <curl/curl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum step {
	STEP_PROVISION,       /* phase one: the policy and a temporary key */
	STEP_ACKNOWLEDGE,     /* phase two: the final key */
	STEP_FOLDER_SYNC,
	STEP_SYNC_START,      /* SyncKey 0 */
	STEP_SYNC,            /* to the end, and after each wake */
	STEP_PING,
	STEP_LOOP,            /* a misbehaving profile's request */
};

enum command_kind { KIND_PROVISION, KIND_FOLDER_SYNC, KIND_SYNC, KIND_PING, KIND_OTHER };

static void next_request(struct bench_device *device);

static struct wbxml_node *parse(struct bench_device *device, struct arena *arena)
{
	struct wbxml_node *root = easclient_parse(&device->response, arena);
	if (root == NULL)
		device->run->counts.errors[ERROR_WBXML]++;
	return root;
}

static const char *find_text(const struct wbxml_node *root, enum wbxml_tag tag, struct arena *arena)
{
	return root != NULL ? easclient_find_text(root, tag, arena) : NULL;
}

/* Sends command with the body encoded from xml (kept in the device until the answer). */
static void send_xml(struct bench_device *device, const char *command, const char *xml, bench_done_fn *done)
{
	struct buf *body = &device->body;
	body->len = 0;
	if (wbxml_from_xml(xml, strlen(xml), false, body, NULL) != WBXML_OK) {
		fprintf(stderr, "easbench: cannot encode %s\n", xml);
		exit(1);
	}
	struct bench_counts *counts = &device->run->counts;
	static const char *const kinds[] = { "Provision", "FolderSync", "Sync", "Ping" };
	unsigned kind = KIND_OTHER;
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i], command) == 0)
			kind = i;
	counts->requests++;
	counts->by_command[kind]++;
	void *easy = easclient_post_start(device->client, command, body->data, body->len, NULL, &device->response);
	bench_loop_start(device->run->loop, device, easy, done);
}

/* The common part of every answer: the transport and HTTP status. Returns whether there is a body to read. */
static bool answered(struct bench_device *device, int result)
{
	struct bench_counts *counts = &device->run->counts;
	if (easclient_post_done(device->client, result, &device->response) < 0) {
		counts->errors[ERROR_TRANSPORT]++;
		if (getenv("EASBENCH_DEBUG") != NULL)
			fprintf(stderr, "easbench: %s: transport: %s (step %d)\n", device->device_id,
				curl_easy_strerror((CURLcode)result), device->step);
		return false;
	}
	counts->answers++;
	if (device->response.http_status != 200) {
		counts->errors[ERROR_HTTP]++;
		return false;
	}
	return true;
}

/* ---- set-up: Provision, FolderSync, the Inbox to the end ---- */

static const char provision_xml[] = "<Provision xmlns=\"Provision\"><Policies><Policy>"
				    "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>%s</Policy></Policies></Provision>";

static void retry_later(struct bench_device *device)
{
	bench_loop_after(device->run->loop, device, 1000, next_request);
}

static void on_setup_answer(struct bench_device *device, int result);

static void send_sync(struct bench_device *device, bench_done_fn *done)
{
	char xml[768];
	bool start = strcmp(device->sync_key, "0") == 0;
	snprintf(xml, sizeof(xml),
		 "<Sync xmlns=\"AirSync\" xmlns:airsyncbase=\"AirSyncBase\"><Collections><Collection>"
		 "<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>%s<WindowSize>512</WindowSize>"
		 "<Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"
		 "<airsyncbase:TruncationSize>200</airsyncbase:TruncationSize></airsyncbase:BodyPreference>"
		 "</Options></Collection></Collections></Sync>",
		 device->sync_key, device->inbox, start ? "" : "<GetChanges/>");
	send_xml(device, "Sync", xml, done);
}

static void send_setup(struct bench_device *device)
{
	char xml[512];
	switch (device->step) {
	case STEP_PROVISION:
		snprintf(xml, sizeof(xml), provision_xml, "");
		send_xml(device, "Provision", xml, on_setup_answer);
		break;
	case STEP_ACKNOWLEDGE: {
		char ack[96];
		snprintf(ack, sizeof(ack), "<PolicyKey>%u</PolicyKey><Status>1</Status>", easclient_policy_key(device->client));
		snprintf(xml, sizeof(xml), provision_xml, ack);
		send_xml(device, "Provision", xml, on_setup_answer);
		break;
	}
	case STEP_FOLDER_SYNC:
		send_xml(device, "FolderSync", "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>",
			 on_setup_answer);
		break;
	default:
		send_sync(device, on_setup_answer);
		break;
	}
}

/* The Inbox (Type 2) and Contacts (Type 9) in a FolderSync answer. */
static bool find_inbox(struct bench_device *device, const struct wbxml_node *root, struct arena *arena)
{
	const struct wbxml_node *add = root != NULL ? easclient_find(root, WBXML_FOLDERHIERARCHY_ADD) : NULL;
	for (; add != NULL; add = add->next) {
		const char *type = easclient_find_text(add, WBXML_FOLDERHIERARCHY_TYPE, arena);
		const char *id = easclient_find_text(add, WBXML_FOLDERHIERARCHY_SERVER_ID, arena);
		if (type != NULL && strcmp(type, "2") == 0)
			snprintf(device->inbox, sizeof(device->inbox), "%s", id);
		else if (type != NULL && strcmp(type, "9") == 0)
			snprintf(device->contacts, sizeof(device->contacts), "%s", id);
	}
	return device->inbox[0] != '\0';
}

/* Moves the set-up on after an answer; returns false when it cannot (the step is tried again later). */
static bool setup_step(struct bench_device *device, const struct wbxml_node *root, struct arena *arena)
{
	const char *key;
	switch (device->step) {
	case STEP_PROVISION:
	case STEP_ACKNOWLEDGE:
		key = find_text(root, WBXML_PROVISION_POLICY_KEY, arena);
		if (key == NULL)
			return false;
		easclient_set_policy_key(device->client, (uint32_t)strtoul(key, NULL, 10));
		device->step++;
		return true;
	case STEP_FOLDER_SYNC:
		if (!find_inbox(device, root, arena))
			return false;
		device->step = STEP_SYNC_START;
		return true;
	default:
		/* An empty answer (no root): nothing more, the key stays. */
		key = root != NULL ? find_text(root, WBXML_AIRSYNC_SYNC_KEY, arena) : NULL;
		if (root != NULL && key == NULL)
			return false;
		if (key != NULL)
			snprintf(device->sync_key, sizeof(device->sync_key), "%s", key);
		bool more = root != NULL && easclient_find(root, WBXML_AIRSYNC_MORE_AVAILABLE) != NULL;
		if (device->step == STEP_SYNC && !more) {
			double skipped[64];
			/* Mail delivered before it was ready reached it by this Sync: no wake to time. */
			while (bench_injected_since(device->user, &device->next_delivery, skipped, 64) > 0)
				;
			device->run->counts.ready++;
			device->step = STEP_PING;
		} else {
			device->step = STEP_SYNC;
		}
		return true;
	}
}

static void on_setup_answer(struct bench_device *device, int result)
{
	if (!answered(device, result)) {
		retry_later(device);
		return;
	}
	struct arena *arena = arena_new(0);
	struct wbxml_node *root = device->response.body.len > 0 ? parse(device, arena) : NULL;
	bool moved = (root != NULL || device->step >= STEP_SYNC_START) && setup_step(device, root, arena);
	arena_free(&arena);
	if (!moved) {
		device->run->counts.errors[ERROR_STATUS]++;
		retry_later(device);
		return;
	}
	next_request(device);
}

/* ---- after the set-up: push, or the profile's misbehaviour ---- */

static void on_ping_answer(struct bench_device *device, int result);
static void on_loop_answer(struct bench_device *device, int result);
static void on_wake_sync(struct bench_device *device, int result);

static void send_ping(struct bench_device *device)
{
	char xml[512];
	const struct bench_options *options = device->run->options;
	if (options->profile == PROFILE_INVALID_FOLDER_PINGER)
		snprintf(xml, sizeof(xml), "<Ping xmlns=\"Ping\"><HeartbeatInterval>%u</HeartbeatInterval><Folders>"
			 "<Folder><Id>RI</Id><Class>Email</Class></Folder><Folder><Id>999999</Id><Class>Email</Class>"
			 "</Folder></Folders></Ping>", options->heartbeat);
	else
		snprintf(xml, sizeof(xml), "<Ping xmlns=\"Ping\"><HeartbeatInterval>%u</HeartbeatInterval><Folders>"
			 "<Folder><Id>%s</Id><Class>Email</Class></Folder></Folders></Ping>", options->heartbeat,
			 device->inbox);
	device->run->counts.parked++;
	device->pinging = true;
	send_xml(device, "Ping", xml, on_ping_answer);
	if (options->profile == PROFILE_HANG_UP)
		bench_loop_after(device->run->loop, device, options->hang_up_ms, next_request);
}

/* The hang-up profile's timer: the parked Ping's client closes, FIN or RST by turns, and pings again. */
static void hang_up(struct bench_device *device)
{
	struct bench_run *run = device->run;
	bench_loop_abandon(run->loop, device, device->index % 2 == 1);
	device->pinging = false;
	easclient_post_done(device->client, -1, &device->response);
	run->counts.parked--;
	run->counts.hang_ups++;
	send_ping(device);
}

/*
 * Times the wakes: each delivery to the device's user is matched to the
 * first Ping answer (Status 2) at or after it. easd answers once the
 * delivery commits, before its LMTP 250 reaches the injector, so an
 * answer may come a little before the 250 is recorded: such a wake
 * counts as 0 ms, and a delivery not yet matched waits for the next
 * answer.
 */
#define WAKE_EARLY_SECONDS 0.05

static void time_wake(struct bench_device *device)
{
	double now = bench_seconds();
	device->answers[device->answer_count++ % WAKE_ANSWERS] = now;
	for (;;) {
		double t;
		uint64_t peek = device->next_delivery;
		if (bench_injected_since(device->user, &peek, &t, 1) == 0)
			return;
		double matched = -1;
		unsigned kept = device->answer_count < WAKE_ANSWERS ? device->answer_count : WAKE_ANSWERS;
		for (unsigned i = device->answer_count - kept; i < device->answer_count; i++) {
			double a = device->answers[i % WAKE_ANSWERS];
			if (a >= t - WAKE_EARLY_SECONDS && (matched < 0 || a < matched))
				matched = a;
		}
		if (matched < 0)
			return; /* delivered after every answer so far: the next one times it */
		device->next_delivery = peek;
		bench_latency_add(device->run, matched > t ? matched - t : 0);
		device->run->counts.wakes++;
	}
}

static void on_ping_answer(struct bench_device *device, int result)
{
	struct bench_run *run = device->run;
	run->counts.parked--;
	device->pinging = false;
	if (!answered(device, result)) {
		retry_later(device);
		return;
	}
	struct arena *arena = arena_new(0);
	const char *status = find_text(parse(device, arena), WBXML_PING_STATUS, arena);
	unsigned value = status != NULL ? (unsigned)strtoul(status, NULL, 10) : 0;
	arena_free(&arena);
	run->counts.ping_status[value < 10 ? value : 0]++;
	enum bench_profile profile = run->options->profile;
	if (profile == PROFILE_AOSP_PINGER || profile == PROFILE_INVALID_FOLDER_PINGER) {
		send_ping(device); /* AOSP's PingTask: again at once, whatever the answer */
		return;
	}
	if (value == 2) {
		time_wake(device);
		send_sync(device, on_wake_sync);
		return;
	}
	if (value != 1)
		run->counts.errors[ERROR_STATUS]++;
	if (value == 1)
		send_ping(device);
	else
		retry_later(device);
}

static void on_wake_sync(struct bench_device *device, int result)
{
	if (answered(device, result) && device->response.body.len > 0) {
		struct arena *arena = arena_new(0);
		const char *key = find_text(parse(device, arena), WBXML_AIRSYNC_SYNC_KEY, arena);
		if (key != NULL)
			snprintf(device->sync_key, sizeof(device->sync_key), "%s", key);
		arena_free(&arena);
	}
	send_ping(device);
}

/*
 * bulk-contacts (seed 003): the phone's whole address book in one Sync,
 * sent again each time as if its answer were lost: always the same bytes
 * at the same key, which easd must answer without storing anything twice.
 */
static void send_bulk_contacts(struct bench_device *device)
{
	if (device->contacts_key[0] == '\0') {
		char xml[256];
		snprintf(xml, sizeof(xml), "<Sync xmlns=\"AirSync\"><Collections><Collection><SyncKey>0</SyncKey>"
			 "<CollectionId>%s</CollectionId></Collection></Collections></Sync>", device->contacts);
		send_xml(device, "Sync", xml, on_loop_answer);
		return;
	}
	struct buf xml;
	buf_init(&xml, 0);
	buf_printf(&xml, "<Sync xmlns=\"AirSync\" xmlns:c=\"Contacts\"><Collections><Collection><SyncKey>%s</SyncKey>"
			 "<CollectionId>%s</CollectionId><Commands>", device->contacts_key, device->contacts);
	for (unsigned i = 0; i < device->run->options->contacts; i++)
		buf_printf(&xml, "<Add><ClientId>new_%u</ClientId><ApplicationData><c:FirstName>First%u</c:FirstName>"
				 "<c:LastName>%s %u</c:LastName><c:Email1Address>p%u@example.org</c:Email1Address>"
				 "<c:MobilePhoneNumber>+1555%07u</c:MobilePhoneNumber></ApplicationData></Add>",
			   i, i, device->device_id, i, i, i);
	buf_printf(&xml, "</Commands></Collection></Collections></Sync>");
	buf_append_byte(&xml, '\0');
	send_xml(device, "Sync", (const char *)xml.data, on_loop_answer);
	buf_cleanup(&xml);
}

/* sender: a small message with a ClientId of its own, to the next user (a local recipient: Postfix gives it back). */
static void send_message(struct bench_device *device)
{
	const struct bench_options *o = device->run->options;
	char xml[1024];
	snprintf(xml, sizeof(xml),
		 "<SendMail xmlns=\"ComposeMail\"><ClientId>%s-%u</ClientId><Mime>From: %s@example.org\r\n"
		 "To: %s%u@example.org\r\nSubject: easbench %u\r\n\r\nA message from easbench.\r\n</Mime></SendMail>",
		 device->device_id, device->messages, device->user_name, o->user_prefix, (device->user + 1) % o->users,
		 device->messages);
	device->messages++;
	device->sent_at = bench_seconds();
	send_xml(device, "SendMail", xml, on_loop_answer);
}

/* The profiles that are not about Ping: one request after another, answers counted. */
static void send_loop_request(struct bench_device *device)
{
	switch (device->run->options->profile) {
	case PROFILE_SENDER:
		send_message(device);
		break;
	case PROFILE_BULK_CONTACTS:
		send_bulk_contacts(device);
		break;
	case PROFILE_SYNCKEY0_LOOPER:
		snprintf(device->sync_key, sizeof(device->sync_key), "0");
		send_sync(device, on_loop_answer);
		break;
	case PROFILE_POLICY_REFRESH_IGNORER:
		easclient_set_policy_key(device->client, 1); /* a key easd never gave */
		send_xml(device, "FolderSync", "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>",
			 on_loop_answer);
		break;
	default: /* retry storm: the same key until an answer comes in time */
		send_sync(device, on_loop_answer);
		break;
	}
}

static void on_loop_answer(struct bench_device *device, int result)
{
	enum bench_profile profile = device->run->options->profile;
	bool keyed = profile == PROFILE_RETRY_STORM || (profile == PROFILE_BULK_CONTACTS && device->contacts_key[0] == '\0');
	bool ok = answered(device, result);
	if (ok && profile == PROFILE_SENDER) {
		/* Sent is an empty 200; a body carries the Status of a failure. */
		if (device->response.body.len == 0)
			bench_latency_add(device->run, bench_seconds() - device->sent_at);
		else
			device->run->counts.errors[ERROR_STATUS]++;
	}
	if (ok && device->response.body.len > 0 && keyed) {
		struct arena *arena = arena_new(0);
		const char *key = find_text(parse(device, arena), WBXML_AIRSYNC_SYNC_KEY, arena);
		if (key != NULL && profile == PROFILE_RETRY_STORM)
			snprintf(device->sync_key, sizeof(device->sync_key), "%s", key);
		else if (key != NULL)
			snprintf(device->contacts_key, sizeof(device->contacts_key), "%s", key);
		arena_free(&arena);
	}
	send_loop_request(device);
}

/*
 * poller: a device without push (Ping switched off, or a client that only
 * polls) syncs its Inbox every --interval ms, counted from each answer to
 * the next request, and each answer is timed: what easd gives devices in
 * order, measured while others misbehave. The first Syncs are spread over
 * one interval so that devices set up together do not poll in step.
 */
static void on_poll_answer(struct bench_device *device, int result);

static void send_poll(struct bench_device *device)
{
	device->sent_at = bench_seconds();
	send_sync(device, on_poll_answer);
}

static void on_poll_answer(struct bench_device *device, int result)
{
	struct bench_run *run = device->run;
	if (answered(device, result)) {
		bench_latency_add(run, bench_seconds() - device->sent_at);
		struct arena *arena = arena_new(0);
		/* An empty answer: nothing new, the key stays. */
		struct wbxml_node *root = device->response.body.len > 0 ? parse(device, arena) : NULL;
		const char *status = find_text(root, WBXML_AIRSYNC_STATUS, arena);
		const char *key = find_text(root, WBXML_AIRSYNC_SYNC_KEY, arena);
		if (status != NULL && strcmp(status, "1") != 0)
			run->counts.errors[ERROR_STATUS]++;
		if (key != NULL)
			snprintf(device->sync_key, sizeof(device->sync_key), "%s", key);
		arena_free(&arena);
	}
	bench_loop_after(run->loop, device, run->options->interval_ms, send_poll);
}

static void start_polling(struct bench_device *device)
{
	const struct bench_options *o = device->run->options;
	bench_loop_after(device->run->loop, device, (unsigned)((uint64_t)o->interval_ms * device->index / o->devices),
			 send_poll);
}

/* The device's next request, from where it is. */
static void next_request(struct bench_device *device)
{
	enum bench_profile profile = device->run->options->profile;
	if (device->in_flight && device->pinging && profile == PROFILE_HANG_UP) {
		hang_up(device);
		return;
	}
	/* A timer set for a request that has been answered since (a hang-up's): one request at a time. */
	if (device->in_flight)
		return;
	if (device->step < STEP_PING)
		send_setup(device);
	else if (profile == PROFILE_POLLER)
		start_polling(device);
	else if (profile == PROFILE_SYNCKEY0_LOOPER || profile == PROFILE_POLICY_REFRESH_IGNORER ||
		 profile == PROFILE_RETRY_STORM || profile == PROFILE_BULK_CONTACTS || profile == PROFILE_SENDER)
		send_loop_request(device);
	else
		send_ping(device);
}

/* ---- the devices ---- */

void bench_devices_new(struct bench_run *run)
{
	const struct bench_options *o = run->options;
	run->devices = calloc(o->devices, sizeof(*run->devices));
	if (run->devices == NULL)
		abort();
	for (unsigned i = 0; i < o->devices; i++) {
		struct bench_device *device = &run->devices[i];
		device->run = run;
		device->index = i;
		device->user = i % o->users;
		device->timer_index = SIZE_MAX;
		snprintf(device->user_name, sizeof(device->user_name), "%s%u", o->user_prefix, device->user);
		snprintf(device->device_id, sizeof(device->device_id), "BENCH%u", i);
		snprintf(device->sync_key, sizeof(device->sync_key), "0");
		struct easclient_options options = { .base_url = o->url, .user = device->user_name,
						     .password = o->password, .device_id = device->device_id,
						     .device_type = "easbench", .user_agent = "easbench/1.0" };
		/* A Ping waits its heartbeat; a retry storm gives up quickly. */
		options.timeout_ms = o->profile == PROFILE_RETRY_STORM ? o->hang_up_ms : (o->heartbeat + 60) * 1000;
		device->client = easclient_new(&options);
		if (o->sources > 0) {
			char source[32];
			snprintf(source, sizeof(source), "host!127.0.0.%u", 2 + i % o->sources);
			easclient_set_source(device->client, source);
		}
		easclient_response_init(&device->response);
		buf_init(&device->body, 0);
	}
}

void bench_devices_free(struct bench_run *run)
{
	for (unsigned i = 0; i < run->options->devices; i++) {
		struct bench_device *device = &run->devices[i];
		if (device->in_flight)
			bench_loop_abandon(run->loop, device, false);
		easclient_free(&device->client);
		easclient_response_cleanup(&device->response);
		buf_cleanup(&device->body);
	}
	free(run->devices);
	run->devices = NULL;
}

void bench_device_start(struct bench_run *run, unsigned i)
{
	next_request(&run->devices[i]);
}
