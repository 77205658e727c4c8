/*
 * park.c: parking a request whose command waits (Ping, Sync with Wait),
 * and taking it up again.
 *
 * Parking suspends the connection (libmicrohttpd stops watching it and
 * its timeout), copies what must survive into one small record, frees
 * the exchange's arena, body and response, and hands the record to the
 * push hub, which watches the socket for hang-ups and ends the wait once.
 * The connection is suspended before the hub can see the record, so the
 * hub's resume always finds it suspended (libmicrohttpd 0.9.75 suspends
 * at once and takes a resume from any thread).
 *
 * When the wait ends, MHD calls the handler again with the record; a new
 * exchange is built from it, and the command goes on (eas_resume) with a
 * store session of its own: it answers, or parks again.
 */
#include "http/http_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_parked {
	enum http_slot slot; /* HTTP_SLOT_PARKED */
	struct push_waiter waiter;
	struct http_server *server;
	struct MHD_Connection *connection;
	bool counted;        /* in server->parked */
	bool refused;        /* the hub had no room: answer 503 */
	bool tarpit;         /* a guard refusal held back (http_tarpit): answer it, run nothing */
	unsigned retry_after;
	const char *throttle; /* static text */
	int64_t started_ms, started_monotonic_ms;
	uint64_t bytes_in, sequence;
	unsigned protocol_version;
	bool want_gzip;
	int64_t user_id;
	int64_t device_key;
	const char *client_address, *user_name, *device_id, *device_type, *command, *user_agent, *reason;
	struct eas_park park;
	_Alignas(8) char tail[]; /* folders, sync keys, then the strings */
};

static size_t text_size(const char *text)
{
	return text != NULL ? strlen(text) + 1 : 0;
}

/* Copies text to *cursor (NULL stays NULL). */
static const char *keep_text(char **cursor, const char *text)
{
	if (text == NULL)
		return NULL;
	size_t n = strlen(text) + 1;
	char *copy = memcpy(*cursor, text, n);
	*cursor += n;
	return copy;
}

static struct http_parked *parked_new(struct http_exchange *x, struct MHD_Connection *connection)
{
	const struct eas_request *r = &x->request;
	const struct eas_park *park = r->park;
	const char *texts[] = { x->client_address, x->user_name, r->device_id, r->device_type,
				r->command, r->user_agent, r->reason };
	size_t numbers = park->folder_count * sizeof(int64_t) * (park->sync_keys != NULL ? 2 : 1);
	size_t size = sizeof(struct http_parked) + numbers;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		size += text_size(texts[i]);
	struct http_parked *p = calloc(1, size);
	if (p == NULL)
		abort();
	*p = (struct http_parked){ .slot = HTTP_SLOT_PARKED, .server = x->server, .connection = connection,
				   .started_ms = x->started_ms, .started_monotonic_ms = x->started_monotonic_ms,
				   .bytes_in = x->bytes_in, .sequence = r->sequence,
				   .protocol_version = r->protocol_version, .want_gzip = x->want_gzip,
				   .user_id = r->user.id, .device_key = r->device.id, .park = *park,
				   .tarpit = x->tarpit, .retry_after = x->tarpit_retry_after,
				   .throttle = x->tarpit_throttle };
	char *cursor = p->tail;
	p->park.folders = (int64_t *)(void *)cursor;
	if (park->folder_count > 0) /* a tarpit watches none, and has no array */
		memcpy(cursor, park->folders, park->folder_count * sizeof(int64_t));
	cursor += park->folder_count * sizeof(int64_t);
	if (park->sync_keys != NULL) {
		p->park.sync_keys = memcpy(cursor, park->sync_keys, park->folder_count * sizeof(uint64_t));
		cursor += park->folder_count * sizeof(uint64_t);
	}
	const char **fields[] = { &p->client_address, &p->user_name, &p->device_id, &p->device_type,
				  &p->command, &p->user_agent, &p->reason };
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		*fields[i] = keep_text(&cursor, texts[i]);
	return p;
}

static void on_wait_over(struct push_waiter *waiter);

static void waiter_init(struct http_parked *p, struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	p->waiter = (struct push_waiter){ .user_id = p->user_id, .device_id = p->device_key, .sequence = p->sequence,
					  .deadline_ms = p->park.deadline_ms,
					  .fd = info != NULL ? info->connect_fd : -1,
					  .folder_count = p->park.folder_count, .folders = p->park.folders,
					  .resume = on_wait_over };
}

/* The hub's resume: from any thread, once. */
static void on_wait_over(struct push_waiter *waiter)
{
	struct http_parked *p = (struct http_parked *)((char *)waiter - offsetof(struct http_parked, waiter));
	MHD_resume_connection(p->connection);
}

/* easd is stopping (or the connection could not be suspended): the command goes on at once, as if
   its wait had ended (MHD must not stop with a connection suspended). */
static enum MHD_Result go_on(struct http_exchange *x, struct MHD_Connection *connection, void **con_cls,
			     const struct eas_park *park);

static enum MHD_Result end_at_once(struct http_exchange *x, struct MHD_Connection *connection, void **con_cls)
{
	struct eas_request *r = &x->request;
	struct eas_park park = *r->park;
	r->park = NULL;
	r->wake = PUSH_STOPPING; /* a command does not park again then: never suspend now */
	return go_on(x, connection, con_cls, &park);
}

enum MHD_Result http_park(struct http_exchange *x, struct MHD_Connection *connection, void **con_cls)
{
	if (push_hub_stopping(x->server->settings.eas->push))
		return end_at_once(x, connection, con_cls);
	MHD_suspend_connection(connection);
	/* A pending resume cancels a suspend (MHD 0.9.75): none should be pending, but a
	   request the hub would resume while MHD runs it again must never be parked. */
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_SUSPENDED);
	if (info == NULL || info->suspended != MHD_YES)
		return end_at_once(x, connection, con_cls);
	struct http_parked *p = parked_new(x, connection);
	waiter_init(p, connection);
	enum push_park_status status = push_hub_park(x->server->settings.eas->push, &p->waiter, p->park.generation);
	if (status == PUSH_PARKED) {
		p->counted = true;
		__atomic_add_fetch(&x->server->parked, 1, __ATOMIC_RELAXED);
	} else {
		/* Not parked: taken up again at once, with what to do. */
		p->waiter.outcome = status == PUSH_CHANGED_ALREADY ? PUSH_CHANGED
				    : status == PUSH_OLDER	  ? PUSH_SUPERSEDED
								  : PUSH_WAITING;
		p->refused = status == PUSH_FULL || status == PUSH_USER_FULL;
		MHD_resume_connection(connection);
	}
	http_exchange_discard(x);
	*con_cls = p;
	return MHD_YES;
}

/*
 * A guard refusal held back before it is given, parked like a Ping (no
 * thread, a descriptor and a small record): a device that ignores
 * Retry-After and asks again at once gets one answer per connection per
 * delay instead of thousands a second, and its refusals stop taking the
 * HTTP threads every user shares (bench/results/storm.txt). Each tarpit
 * has a hub key of its own (negative: no device's), so none supersedes
 * another; [push] max_parked_per_user bounds them, and past it the
 * refusal is given at once. Returns -1 when easd is stopping: the caller
 * answers at once.
 */
int http_tarpit(struct http_exchange *x, struct MHD_Connection *connection, void **con_cls, unsigned delay_ms,
		enum MHD_Result *result)
{
	static int64_t last_key;
	struct eas_request *r = &x->request;
	struct push_hub *hub = x->server->settings.eas->push;
	if (push_hub_stopping(hub))
		return -1;
	struct eas_park park = { .deadline_ms = util_monotonic_ms() + delay_ms,
				 .generation = push_hub_generation(hub, r->user.id) };
	r->park = &park;
	r->device.id = -__atomic_add_fetch(&last_key, 1, __ATOMIC_RELAXED);
	x->tarpit = true;
	*result = http_park(x, connection, con_cls);
	return 0;
}

/* A new exchange in the parked request's place; p is freed. */
static struct http_exchange *exchange_from_parked(struct http_parked *p, struct eas_park *park_out)
{
	struct http_exchange *x = http_exchange_new(p->server);
	struct eas_request *r = &x->request;
	struct arena *a = x->arena;
	if (p->counted)
		__atomic_sub_fetch(&p->server->parked, 1, __ATOMIC_RELAXED);
	x->started_ms = p->started_ms;
	x->started_monotonic_ms = p->started_monotonic_ms;
	x->headers_done = true;
	x->bytes_in = p->bytes_in;
	x->want_gzip = p->want_gzip;
	x->connection = p->connection;
	x->client_address = p->client_address != NULL ? arena_strndup(a, p->client_address, strlen(p->client_address)) : NULL;
	x->user_name = p->user_name != NULL ? arena_strndup(a, p->user_name, strlen(p->user_name)) : NULL;
	const char **texts[] = { &r->device_id, &r->device_type, &r->command, &r->user_agent, &r->reason };
	const char *values[] = { p->device_id, p->device_type, p->command, p->user_agent, p->reason };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		*texts[i] = values[i] != NULL ? arena_strndup(a, values[i], strlen(values[i])) : NULL;
	r->sequence = p->sequence;
	r->protocol_version = p->protocol_version;
	r->user = (struct store_user){ .id = p->user_id, .name = x->user_name };
	r->device = (struct store_device){ .id = p->device_key, .user_id = p->user_id, .device_id = r->device_id,
					   .device_type = r->device_type };
	r->wake = p->waiter.outcome;
	x->bytes_charged = p->bytes_in;
	if (p->tarpit) {
		x->guard = "refused"; /* never admitted: nothing to resume */
	} else {
		/* Admitted when it arrived: in progress again, its body already charged. */
		x->admitted = true;
		x->guard = "pass";
		guard_usage_resume(p->server->settings.usage, p->user_id, x->started_monotonic_ms);
	}
	*park_out = p->park;
	park_out->folders = arena_calloc(a, p->park.folder_count, sizeof(int64_t));
	if (p->park.folder_count > 0)
		memcpy(park_out->folders, p->park.folders, p->park.folder_count * sizeof(int64_t));
	if (p->park.sync_keys != NULL) {
		park_out->sync_keys = arena_calloc(a, p->park.folder_count, sizeof(uint64_t));
		memcpy(park_out->sync_keys, p->park.sync_keys, p->park.folder_count * sizeof(uint64_t));
	}
	free(p);
	return x;
}

enum MHD_Result http_parked_resume(struct http_server *server, struct MHD_Connection *connection, void **con_cls)
{
	(void)server;
	struct http_parked *p = *con_cls;
	bool refused = p->refused, tarpit = p->tarpit;
	unsigned retry_after = p->retry_after;
	const char *throttle = p->throttle;
	struct eas_park park;
	struct http_exchange *x = exchange_from_parked(p, &park);
	struct eas_request *r = &x->request;
	*con_cls = x;
	if (r->wake == PUSH_GONE) {
		r->http_status = HTTP_CLIENT_GONE;
		r->reason = "client_gone";
		return MHD_NO;
	}
	if (tarpit) {
		char seconds[16];
		snprintf(seconds, sizeof(seconds), "%u", retry_after);
		eas_add_header(r, "Retry-After", arena_strndup(x->arena, seconds, strlen(seconds)));
		eas_add_header(r, "X-MS-ASThrottle", throttle);
		x->answered = true; /* what is left of its body is not read */
		return http_answer_empty(x, connection, MHD_HTTP_SERVICE_UNAVAILABLE, r->reason);
	}
	if (refused) {
		eas_add_header(r, "Retry-After", "60");
		return http_answer_empty(x, connection, MHD_HTTP_SERVICE_UNAVAILABLE, "too_many_parked");
	}
	return go_on(x, connection, con_cls, &park);
}

/* The command goes on after its wait, with a store session of its own: it answers, or parks again. */
static enum MHD_Result go_on(struct http_exchange *x, struct MHD_Connection *connection, void **con_cls,
			     const struct eas_park *park)
{
	enum MHD_Result result;
	if (http_exchange_acquire_session(x, connection, &result) == NULL)
		return result;
	http_exchange_run(x, park);
	return http_exchange_respond(x, connection, con_cls);
}

/* MHD found the connection closed when it took it up again (or it stops with it suspended). */
void http_parked_end(struct http_parked *p, enum MHD_RequestTerminationCode code)
{
	push_hub_unpark(p->server->settings.eas->push, &p->waiter);
	struct eas_park park;
	struct http_exchange *x = exchange_from_parked(p, &park);
	x->request.http_status = HTTP_CLIENT_GONE;
	x->request.reason = "client_gone";
	http_exchange_free(x, code);
}
