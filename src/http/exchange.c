/*
 * exchange.c: one HTTP request, from its first header to its log line.
 *
 * libmicrohttpd calls http_exchange_handle several times per request:
 * once when the headers are in (everything that can be refused is refused
 * then, before any body byte is read: method, path, query, credentials,
 * version, declared size), once per body chunk, and once at the end, when
 * the command runs. The request's arena, store session and log record live
 * until http_exchange_end, which runs on every path, also when the client
 * goes away.
 */
#include "http/http_private.h"
#include "log/trace.h"
#include "metrics/metrics.h"

#include <errno.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#define EAS_PATH "/Microsoft-Server-ActiveSync"
/* Smaller responses are not worth a gzip header and the CPU. */
#define HTTP_GZIP_MIN 1024
/* A streamed body is asked for this much at a time: MHD holds one such
   buffer per streamed response, so this bounds what a download costs. */
#define HTTP_STREAM_BLOCK (64 * 1024)

static int64_t clock_ms(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct http_exchange *http_exchange_new(struct http_server *server)
{
	struct arena *arena = arena_new(0);
	struct http_exchange *x = arena_calloc(arena, 1, sizeof(*x));
	x->slot = HTTP_SLOT_EXCHANGE;
	x->arena = arena;
	x->server = server;
	x->started_ms = clock_ms(CLOCK_REALTIME);
	x->started_monotonic_ms = clock_ms(CLOCK_MONOTONIC);
	x->request.config = config_live_get(server->settings.live);
	buf_init(&x->body, x->request.config->max_body);
	buf_init(&x->request.response, LIMIT_RESPONSE_BYTES);
	x->request.arena = arena;
	x->request.server = server->settings.eas;
	x->request.now = x->started_ms / 1000;
	return x;
}

void *http_exchange_begin(void *cls, const char *uri, struct MHD_Connection *connection)
{
	(void)connection;
	struct http_server *server = cls;
	struct http_exchange *x = http_exchange_new(server);
	x->raw_uri = arena_strndup(x->arena, uri, strnlen(uri, LIMIT_QUERY_BYTES + 512));
	x->request.sequence = push_hub_sequence(server->settings.eas->push);
	return x;
}

static const char *header(struct MHD_Connection *connection, const char *name)
{
	return MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
}

static const char *peer_address(struct arena *arena, struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char text[INET6_ADDRSTRLEN] = "-";
	if (info != NULL && info->client_addr != NULL) {
		const struct sockaddr *sa = info->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text, sizeof(text));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, text, sizeof(text));
	}
	return arena_strndup(arena, text, strlen(text));
}

/*
 * The peer's address, or behind a trusted proxy ([http] trusted_proxies)
 * the last address in X-Forwarded-For: the one that proxy appended. The
 * address matters for throttling failed logins and for the log.
 */
static const char *client_address(struct http_exchange *x, struct MHD_Connection *connection)
{
	const char *peer = peer_address(x->arena, connection);
	const char *forwarded = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-Forwarded-For");
	if (forwarded == NULL || !config_is_trusted_proxy(x->request.config, peer))
		return peer;
	const char *last = strrchr(forwarded, ',');
	last = last != NULL ? last + 1 : forwarded;
	last += strspn(last, " ");
	size_t n = strcspn(last, " ");
	if (n == 0 || n >= INET6_ADDRSTRLEN)
		return peer;
	return arena_strndup(x->arena, last, n);
}

enum MHD_Result http_answer_empty(struct http_exchange *x, struct MHD_Connection *connection,
				    unsigned status, const char *reason)
{
	struct eas_request *r = &x->request;
	r->http_status = status;
	if (reason != NULL && r->reason == NULL)
		r->reason = reason;
	/* A refusal says why in words a person reads (the same word as the log); an empty 200 stays empty. */
	char text[128];
	int len = status >= 400 && r->reason != NULL ? snprintf(text, sizeof(text), "easd: %s\n", r->reason) : 0;
	len = len < 0 || (size_t)len >= sizeof(text) ? 0 : len;
	struct MHD_Response *response = MHD_create_response_from_buffer((size_t)len, text, MHD_RESPMEM_MUST_COPY);
	if (len > 0)
		MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	for (unsigned i = 0; i < r->header_count; i++)
		MHD_add_response_header(response, r->headers[i].name, r->headers[i].value);
	enum MHD_Result result = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return result;
}

static enum MHD_Result answer_unauthorized(struct http_exchange *x, struct MHD_Connection *connection,
					   const char *reason)
{
	x->request.http_status = MHD_HTTP_UNAUTHORIZED;
	x->request.reason = reason;
	struct MHD_Response *response = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result result = MHD_queue_basic_auth_fail_response(connection, "easd", response);
	MHD_destroy_response(response);
	return result;
}

static bool path_is_eas(const char *uri)
{
	size_t n = strlen(EAS_PATH);
	if (strncasecmp(uri, EAS_PATH, n) != 0)
		return false;
	return uri[n] == '\0' || uri[n] == '?' || (uri[n] == '/' && (uri[n + 1] == '\0' || uri[n + 1] == '?'));
}

/*
 * "DOMAIN\user" and "user@localdomain" name the user "user": clients fill
 * the domain field or the e-mail address in, depending on the client.
 */
static const char *normalise_user(struct http_exchange *x, const char *name)
{
	const char *backslash = strrchr(name, '\\');
	if (backslash != NULL)
		name = backslash + 1;
	const char *at = strrchr(name, '@');
	if (at != NULL && config_is_local_domain(x->request.config, at + 1, strlen(at + 1)))
		return arena_strndup(x->arena, name, (size_t)(at - name));
	return arena_strndup(x->arena, name, strlen(name));
}

static const char *slice_text(struct arena *arena, struct slice s)
{
	return arena_strndup(arena, s.data != NULL ? s.data : (const uint8_t *)"", s.len);
}

static int parse_query(struct http_exchange *x, const char **reason)
{
	const char *question = strchr(x->raw_uri, '?');
	if (question == NULL) {
		*reason = "query_missing";
		return -1;
	}
	if (http_query_parse(x->arena, question + 1, strlen(question + 1), &x->query, reason) < 0)
		return -1;
	struct eas_request *r = &x->request;
	r->command = slice_text(x->arena, x->query.command);
	r->device_id = slice_text(x->arena, x->query.device_id);
	r->device_type = slice_text(x->arena, x->query.device_type);
	r->collection_id = slice_text(x->arena, x->query.collection_id);
	r->item_id = slice_text(x->arena, x->query.item_id);
	r->long_id = slice_text(x->arena, x->query.long_id);
	r->occurrence = slice_text(x->arena, x->query.occurrence);
	r->save_in_sent = x->query.save_in_sent;
	return 0;
}

/* Protocol version and policy key: base64 query fields win over headers (MS-ASHTTP 2.2.1.1.1.1). */
static unsigned check_version_and_key(struct http_exchange *x, struct MHD_Connection *connection,
				      const char **reason)
{
	struct eas_request *r = &x->request;
	const char *version = header(connection, "MS-ASProtocolVersion");
	r->protocol_version = x->query.protocol_version != 0 ? x->query.protocol_version
				  : version != NULL ? eas_version_parse(version) : 0;
	if (r->protocol_version == 0 && version == NULL) {
		*reason = "version_missing";
		return MHD_HTTP_BAD_REQUEST;
	}
	if (!eas_version_supported(r->protocol_version)) {
		*reason = "version_unsupported";
		eas_add_header(r, "MS-ASProtocolVersions", eas_protocol_versions());
		return MHD_HTTP_BAD_REQUEST;
	}
	r->has_policy_key = x->query.has_policy_key;
	r->policy_key = x->query.policy_key;
	const char *key = header(connection, "X-MS-PolicyKey");
	if (!r->has_policy_key && key != NULL && key[0] != '\0') {
		uint64_t value;
		if (parse_uint64(slice_from_cstr(key), UINT32_MAX, &value) < 0) {
			*reason = "policy_key_invalid";
			return MHD_HTTP_BAD_REQUEST;
		}
		r->has_policy_key = true;
		r->policy_key = (uint32_t)value;
	}
	return 0;
}

static unsigned check_body_size(struct http_exchange *x, struct MHD_Connection *connection,
				const char **reason)
{
	const char *length = header(connection, MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t declared;
	if (length != NULL && parse_uint64(slice_from_cstr(length), UINT64_MAX, &declared) == 0 &&
	    declared > x->request.config->max_body) {
		*reason = "body_too_large";
		return MHD_HTTP_CONTENT_TOO_LARGE;
	}
	return 0;
}

static unsigned authenticate(struct http_exchange *x, struct MHD_Connection *connection,
			     const char **reason)
{
	char *password = NULL;
	char *user = MHD_basic_auth_get_username_password(connection, &password);
	if (user == NULL) {
		*reason = "no_credentials";
		return MHD_HTTP_UNAUTHORIZED;
	}
	if (strlen(user) > LIMIT_USER_BYTES) {
		MHD_free(user);
		if (password != NULL)
			MHD_free(password);
		*reason = "user_too_long";
		return MHD_HTTP_UNAUTHORIZED;
	}
	x->user_name = normalise_user(x, user);
	struct eas_request *r = &x->request;
	r->session = store_session_acquire(x->server->settings.eas->store);
	int result = GUARD_AUTH_ERROR;
	if (r->session != NULL) {
		result = guard_auth_check(x->server->settings.auth, r->session, x->arena, x->user_name,
					  password != NULL ? password : "", x->client_address, r->now,
					  &r->user, reason);
		metrics_auth_checked(result, *reason);
	}
	MHD_free(user);
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		MHD_free(password);
	}
	if (r->session == NULL || result == GUARD_AUTH_ERROR) {
		*reason = r->session == NULL ? "store_sessions_exhausted" : *reason;
		eas_add_header(r, "Retry-After", "30");
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	/* The session is not held while the body arrives: a slow upload must
	   not pin one of the store's connections (LMTP draws on them too). */
	http_exchange_release_session(x);
	if (result != GUARD_AUTH_OK)
		return MHD_HTTP_UNAUTHORIZED;
	x->user_name = r->user.name;
	return 0;
}

static unsigned check_user_matches(struct http_exchange *x, const char **reason)
{
	if (x->query.user.len == 0)
		return 0;
	const char *claimed = normalise_user(x, slice_text(x->arena, x->query.user));
	if (strcasecmp(claimed, x->request.user.name) == 0)
		return 0;
	*reason = "user_mismatch";
	return MHD_HTTP_FORBIDDEN;
}

/* A guard refusal (guard/usage.h): 503 with how long to wait and which limit (MS-ASHTTP 2.2.2.1.2.13). */
static unsigned refuse(struct http_exchange *x, struct guard_verdict verdict, const char **reason)
{
	char seconds[16];
	snprintf(seconds, sizeof(seconds), "%u", verdict.retry_after);
	eas_add_header(&x->request, "Retry-After", arena_strndup(x->arena, seconds, strlen(seconds)));
	eas_add_header(&x->request, "X-MS-ASThrottle", guard_refusal_throttle(verdict.refusal));
	*reason = guard_refusal_reason(verdict.refusal);
	x->guard = "refused";
	x->tarpit_retry_after = verdict.retry_after;
	x->tarpit_throttle = guard_refusal_throttle(verdict.refusal);
	return MHD_HTTP_SERVICE_UNAVAILABLE;
}

/*
 * The user's caps and budgets, checked before any body byte is read: a
 * device past one costs easd a header parse. 503 is the answer every
 * command shares, 12.1 included, and clients wait Retry-After before they
 * try again (MS-ASHTTP 3.2.5.1.1 leaves the rest to the client); a
 * command's own Status (110, 111) would need the body read first.
 */
static unsigned admit(struct http_exchange *x, const char **reason)
{
	struct eas_request *r = &x->request;
	bool exempt = config_is_guard_exempt(r->config, r->user.name);
	struct guard_verdict verdict = guard_usage_enter(x->server->settings.usage, &r->config->guard, r->user.id,
							 exempt, x->started_monotonic_ms);
	if (verdict.refusal != GUARD_PASS)
		return refuse(x, verdict, reason);
	x->admitted = true;
	x->guard = exempt ? "exempt" : "pass";
	return 0;
}

struct store_session *http_exchange_acquire_session(struct http_exchange *x, struct MHD_Connection *connection,
						    enum MHD_Result *result)
{
	struct eas_request *r = &x->request;
	const char *reason = NULL;
	bool exempt = config_is_guard_exempt(r->config, r->user.name);
	struct guard_verdict verdict = guard_usage_session_take(x->server->settings.usage, &r->config->guard,
								r->user.id, exempt);
	if (verdict.refusal != GUARD_PASS) {
		unsigned status = refuse(x, verdict, &reason);
		*result = http_answer_empty(x, connection, status, reason);
		return NULL;
	}
	x->holds_guard_session = true;
	r->session = store_session_acquire(x->server->settings.eas->store);
	if (r->session == NULL) {
		guard_usage_session_give(x->server->settings.usage, r->user.id);
		x->holds_guard_session = false;
		eas_add_header(r, "Retry-After", "30");
		*result = http_answer_empty(x, connection, MHD_HTTP_SERVICE_UNAVAILABLE, "store_sessions_exhausted");
	}
	return r->session;
}

void http_exchange_run(struct http_exchange *x, const struct eas_park *park)
{
	int64_t start = clock_ms(CLOCK_MONOTONIC);
	if (park != NULL)
		eas_resume(&x->request, park);
	else
		eas_dispatch(&x->request);
	x->busy_ms += (uint64_t)(clock_ms(CLOCK_MONOTONIC) - start);
}

static void options_headers(struct eas_request *r)
{
	eas_add_header(r, "MS-ASProtocolVersions", eas_protocol_versions());
	eas_add_header(r, "MS-ASProtocolCommands", eas_protocol_commands());
	eas_add_header(r, "MS-Server-ActiveSync", EAS_SERVER_VERSION);
	eas_add_header(r, "Allow", "OPTIONS,POST");
	eas_add_header(r, "Public", "OPTIONS,POST");
}

/* Accept-Encoding names gzip without refusing it (gzip;q=0). */
static bool accepts_gzip(const char *encoding)
{
	const char *gzip = encoding != NULL ? strstr(encoding, "gzip") : NULL;
	if (gzip == NULL)
		return false;
	const char *q = strstr(gzip, "q=");
	const char *comma = strchr(gzip, ',');
	bool refused = q != NULL && (comma == NULL || q < comma) && strncmp(q, "q=0", 3) == 0 &&
		       strspn(q + 3, ".0") == strcspn(q + 3, ", ");
	return !refused;
}

/* Everything decided from the headers. Returns 0 to read the body, or an HTTP status. */
static unsigned check_headers(struct http_exchange *x, struct MHD_Connection *connection,
			      const char *method, const char **reason)
{
	struct eas_request *r = &x->request;
	unsigned status;
	x->is_options = strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0;
	if (!x->is_options && strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
		*reason = "method_not_supported";
		eas_add_header(r, "Allow", "OPTIONS,POST");
		return MHD_HTTP_NOT_IMPLEMENTED;
	}
	if (!path_is_eas(x->raw_uri)) {
		*reason = "path_unknown";
		return MHD_HTTP_NOT_FOUND;
	}
	r->command = x->is_options ? "OPTIONS" : NULL;
	if (!x->is_options && parse_query(x, reason) < 0)
		return MHD_HTTP_BAD_REQUEST;
	if (!x->is_options && !eas_command_known(r->command)) {
		*reason = "command_unknown";
		return MHD_HTTP_NOT_IMPLEMENTED;
	}
	if ((status = authenticate(x, connection, reason)) != 0)
		return status;
	if (!x->is_options && (status = check_user_matches(x, reason)) != 0)
		return status;
	if ((status = admit(x, reason)) != 0)
		return status;
	if (x->is_options) {
		options_headers(r);
		return MHD_HTTP_OK;
	}
	if ((status = check_version_and_key(x, connection, reason)) != 0)
		return status;
	if ((status = check_body_size(x, connection, reason)) != 0)
		return status;
	const char *type = header(connection, MHD_HTTP_HEADER_CONTENT_TYPE);
	r->content_type = type != NULL ? arena_strndup(x->arena, type, strlen(type)) : NULL;
	const char *encoding = header(connection, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	x->want_gzip = accepts_gzip(encoding);
	/* MS-ASHTTP 2.2.1.1.2 (the header) or the base64 query's Options bit 0x02 (2.2.1.1.1.1). */
	const char *multipart = header(connection, "MS-ASAcceptMultiPart");
	r->accept_multipart = x->query.accept_multipart || (multipart != NULL && strcasecmp(multipart, "T") == 0);
	return 0;
}

/* gzip of the response body (RFC 1952 via zlib); keeps the plain body if it fails. */
static void gzip_response(struct http_exchange *x)
{
	struct buf *body = &x->request.response;
	z_stream z = { 0 };
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return;
	struct buf packed;
	buf_init(&packed, 0);
	buf_reserve(&packed, deflateBound(&z, body->len));
	z.next_in = body->data;
	z.avail_in = (uInt)body->len;
	z.next_out = packed.data;
	z.avail_out = (uInt)packed.cap;
	int rc = deflate(&z, Z_FINISH);
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		buf_cleanup(&packed);
		return;
	}
	packed.len = z.total_out;
	buf_cleanup(body);
	*body = packed;
	eas_add_header(&x->request, "Content-Encoding", "gzip");
	eas_add_header(&x->request, "Vary", "Accept-Encoding");
}

/*
 * Whether the send buffer has room for the block about to be made, twice
 * over (TLS records, the kernel's own accounting): then the kernel takes
 * it whole, MHD asks for the next one at once, and the stream may keep
 * what it holds (a store session) until then. A client that stops
 * reading fills the buffer, and the stream lets go at the next block
 * instead of holding a session for as long as the client dawdles. Unknown
 * counts as no: holding too little costs time, too long a session.
 */
static bool connection_drained(struct MHD_Connection *connection, size_t block)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	int queued = 0, capacity = 0;
	socklen_t len = sizeof(capacity);
	if (info == NULL || ioctl(info->connect_fd, SIOCOUTQ, &queued) < 0 ||
	    getsockopt(info->connect_fd, SOL_SOCKET, SO_SNDBUF, &capacity, &len) < 0)
		return false;
	/* SO_SNDBUF reports twice the bytes the kernel queues (the rest is its bookkeeping). */
	int room = capacity / 2 - queued;
	return room > 0 && (size_t)room >= 2 * block;
}

/*
 * MHD pulls a streamed body through this, in order, from the connection's
 * thread; it stops calling once the request has ended, before
 * http_exchange_end frees the arena the stream lives in.
 */
static ssize_t read_stream(void *cls, uint64_t position, char *dst, size_t max)
{
	struct http_exchange *x = cls;
	struct eas_stream *stream = x->request.stream;
	ssize_t n = stream->read(stream->context, position, (uint8_t *)dst, max, connection_drained(x->connection, max));
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR; /* MHD cuts the connection; the log line has the reason */
	x->bytes_out += (uint64_t)n;
	return n;
}

/* Not gzipped: compressing would need the whole body, or a deflate state per download. */
/* Sends a command's response with its Content-Type and headers. */
static enum MHD_Result queue_with_headers(struct MHD_Connection *connection, const struct eas_request *r,
					  struct MHD_Response *response)
{
	if (response == NULL)
		return MHD_NO; /* out of memory in MHD: the connection is closed */
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
				r->response_type != NULL ? r->response_type : "application/vnd.ms-sync.wbxml");
	for (unsigned i = 0; i < r->header_count; i++)
		MHD_add_response_header(response, r->headers[i].name, r->headers[i].value);
	enum MHD_Result result = MHD_queue_response(connection, r->http_status, response);
	MHD_destroy_response(response);
	return result;
}

static enum MHD_Result answer_stream(struct http_exchange *x, struct MHD_Connection *connection)
{
	struct eas_request *r = &x->request;
	struct MHD_Response *response = MHD_create_response_from_callback(r->stream->length, HTTP_STREAM_BLOCK,
									   read_stream, x, NULL);
	return queue_with_headers(connection, r, response);
}

static enum MHD_Result answer_command(struct http_exchange *x, struct MHD_Connection *connection)
{
	struct eas_request *r = &x->request;
	if (r->stream != NULL)
		return answer_stream(x, connection);
	if (r->response.len == 0)
		return http_answer_empty(x, connection, r->http_status, NULL);
	/* The body goes to MHD; a traced device's is kept, before gzip, for its trace. */
	if (r->device.trace_until > r->now) {
		uint8_t *copy = arena_alloc(x->arena, r->response.len);
		memcpy(copy, r->response.data, r->response.len);
		x->traced_response = (struct slice){ copy, r->response.len };
	}
	if (x->want_gzip && r->response.len >= HTTP_GZIP_MIN && r->response.len <= UINT32_MAX)
		gzip_response(x);
	/* The body buffer's memory passes to MHD, which frees it after sending. */
	struct MHD_Response *response = MHD_create_response_from_buffer(r->response.len, r->response.data,
									MHD_RESPMEM_MUST_FREE);
	x->bytes_out = r->response.len;
	r->response.data = NULL;
	r->response.len = r->response.cap = 0;
	return queue_with_headers(connection, r, response);
}

/*
 * For the log line of a request refused before its credentials were
 * checked (a bad DeviceId, an unknown command): the user it claims to be,
 * so an administrator can tell whose device sends it.
 */
static void note_claimed_user(struct http_exchange *x, struct MHD_Connection *connection)
{
	char *user = MHD_basic_auth_get_username_password(connection, NULL);
	if (user != NULL && strlen(user) <= LIMIT_USER_BYTES)
		x->user_name = normalise_user(x, user);
	if (user != NULL)
		MHD_free(user);
}

/* A refusal of the guard's caps or budgets is held back [guard] tarpit seconds (at most until it would pass). */
static enum MHD_Result answer_refusal(struct http_exchange *x, struct MHD_Connection *connection, void **con_cls,
				      const char *reason)
{
	unsigned delay_ms = x->request.config->guard_tarpit * 1000;
	if (delay_ms > x->tarpit_retry_after * 1000)
		delay_ms = x->tarpit_retry_after * 1000;
	enum MHD_Result result;
	x->request.reason = reason;
	if (delay_ms > 0 && http_tarpit(x, connection, con_cls, delay_ms, &result) == 0)
		return result;
	return http_answer_empty(x, connection, MHD_HTTP_SERVICE_UNAVAILABLE, reason);
}

static enum MHD_Result on_headers(struct http_exchange *x, struct MHD_Connection *connection,
				  const char *method, void **con_cls)
{
	const char *reason = NULL;
	x->client_address = client_address(x, connection);
	const char *user_agent = header(connection, MHD_HTTP_HEADER_USER_AGENT);
	x->request.user_agent = arena_strndup(x->arena, user_agent != NULL ? user_agent : "",
					      user_agent != NULL ? strnlen(user_agent, LIMIT_USER_AGENT_BYTES) : 0);
	/* A person with a browser, not a device: see page.c. */
	if (path_is_eas(x->raw_uri) && http_page_wanted(method))
		return http_answer_page(x, connection, method);
	unsigned status = check_headers(x, connection, method, &reason);
	if (status != 0 && x->user_name == NULL)
		note_claimed_user(x, connection);
	if (status == MHD_HTTP_UNAUTHORIZED)
		return answer_unauthorized(x, connection, reason);
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE && x->tarpit_throttle != NULL)
		return answer_refusal(x, connection, con_cls, reason);
	if (status != 0)
		return http_answer_empty(x, connection, status, reason);
	return MHD_YES;
}

static enum MHD_Result on_body(struct http_exchange *x, const char *data, size_t *size)
{
	x->bytes_in += *size;
	if (buf_append(&x->body, data, *size) < 0) {
		/* Chunked or lying Content-Length past the limit: libmicrohttpd cannot
		   answer in the middle of an upload, so the connection is closed and
		   the log says why. */
		x->request.http_status = MHD_HTTP_CONTENT_TOO_LARGE;
		x->request.reason = "body_too_large";
		buf_cleanup(&x->body);
		return MHD_NO;
	}
	*size = 0;
	return MHD_YES;
}

enum MHD_Result http_exchange_respond(struct http_exchange *x, struct MHD_Connection *connection, void **con_cls)
{
	/* A streamed body takes a session per window of its own; this one is done. */
	http_exchange_release_session(x);
	if (x->request.park != NULL)
		return http_park(x, connection, con_cls);
	return answer_command(x, connection);
}

enum MHD_Result http_exchange_handle(void *cls, struct MHD_Connection *connection, const char *url,
				     const char *method, const char *version, const char *upload_data,
				     size_t *upload_data_size, void **con_cls)
{
	(void)url;
	(void)version;
	if (*(enum http_slot *)*con_cls == HTTP_SLOT_PARKED)
		return http_parked_resume(cls, connection, con_cls);
	struct http_exchange *x = *con_cls;
	if (!x->headers_done) {
		x->headers_done = true;
		return on_headers(x, connection, method, con_cls);
	}
	if (x->answered) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0)
		return on_body(x, upload_data, upload_data_size);
	x->request.body = (struct slice){ x->body.data, x->body.len };
	enum MHD_Result result;
	if (http_exchange_acquire_session(x, connection, &result) == NULL)
		return result;
	x->connection = connection;
	http_exchange_run(x, NULL);
	return http_exchange_respond(x, connection, con_cls);
}

/* A device under `easctl device trace`: its exchange, bodies as XML, into the log directory's trace folder. */
static void trace_exchange(const struct http_exchange *x, const char *reason)
{
	const struct eas_request *r = &x->request;
	const char *log_dir = x->server->settings.config->log_dir;
	if (r->device.trace_until <= r->now || r->device_id == NULL || log_dir == NULL || log_dir[0] == '\0')
		return;
	struct trace_exchange e = {
		.time_ms = x->started_ms, .user = x->user_name, .device_id = r->device_id, .command = r->command,
		.protocol_version = r->protocol_version, .http_status = r->http_status, .eas_status = r->eas_status,
		.reason = reason, .request = r->body.data, .request_len = r->body.len,
		.response = r->stream != NULL ? NULL : x->traced_response.data, .response_len = x->traced_response.len,
		.streamed = r->stream != NULL ? x->bytes_out : 0,
	};
	if (trace_write(log_dir, &e) < 0)
		fprintf(stderr, "easd: trace of %s (device %s): %s\n", x->user_name, r->device_id, strerror(errno));
}

void http_exchange_free(struct http_exchange *x, enum MHD_RequestTerminationCode code)
{
	struct http_server *server = x->server;
	struct eas_request *r = &x->request;
	const char *reason = r->reason;
	if (code != MHD_REQUEST_TERMINATED_COMPLETED_OK && reason == NULL)
		reason = code == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout" : "client_gone";
	struct access_record record = {
		.time_ms = x->started_ms,
		.client_address = x->client_address,
		.user = x->user_name,
		.device_id = r->device_id,
		.device_type = r->device_type,
		.command = r->command,
		.protocol_version = r->protocol_version,
		.http_status = r->http_status,
		.eas_status = r->eas_status,
		.bytes_in = x->bytes_in,
		.bytes_out = x->bytes_out,
		.milliseconds = (uint64_t)(clock_ms(CLOCK_MONOTONIC) - x->started_monotonic_ms),
		.user_agent = r->user_agent,
		.reason = reason,
		.store_wait_ms = x->store_wait_ms,
		.classes = r->classes,
		.items_added = r->items_added,
		.items_changed = r->items_changed,
		.items_deleted = r->items_deleted,
		.guard = r->access_refusal != NULL ? r->access_refusal : x->guard,
	};
	access_log_write(server->settings.log, &record);
	trace_exchange(x, reason);
	/* Here, where the log line is written, so the metrics and the log count the same requests. */
	metrics_request_done(record.command, record.http_status, record.eas_status, record.milliseconds);
	http_exchange_discard(x);
}

/* The access log has one word (store_error); easd.log gets SQLite's own message, with whose request it was. */
static void log_store_failure(const struct http_exchange *x)
{
	const struct eas_request *r = &x->request;
	const char *error = store_session_error(r->session);
	if (r->reason == NULL || strncmp(r->reason, "store", 5) != 0 || error[0] == '\0')
		return;
	fprintf(stderr, "easd: %s of %s (device %s) answered %s: %s\n", r->command != NULL ? r->command : "-",
		x->user_name != NULL ? x->user_name : "-", r->device_id != NULL ? r->device_id : "-", r->reason, error);
}

void http_exchange_release_session(struct http_exchange *x)
{
	if (x->holds_guard_session)
		guard_usage_session_give(x->server->settings.usage, x->request.user.id);
	x->holds_guard_session = false;
	if (x->request.session == NULL)
		return;
	x->used_store = true;
	x->store_wait_ms += store_session_take_wait_ms(x->request.session);
	log_store_failure(x);
	store_session_release(&x->request.session);
}

void http_exchange_discard(struct http_exchange *x)
{
	http_exchange_release_session(x);
	/* Each part of a parked request counts: the one before the wait and the one after. */
	if (x->used_store)
		metrics_store_waited(x->store_wait_ms);
	if (x->admitted)
		guard_usage_leave(x->server->settings.usage, &x->request.config->guard, x->request.user.id, x->busy_ms,
				  x->bytes_in - x->bytes_charged + x->bytes_out, clock_ms(CLOCK_MONOTONIC));
	config_live_put(x->server->settings.live, x->request.config);
	buf_cleanup(&x->request.response);
	buf_cleanup(&x->body);
	struct arena *arena = x->arena;
	arena_free(&arena);
}

void http_exchange_end(void *cls, struct MHD_Connection *connection, void **con_cls,
		       enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)connection;
	if (*con_cls == NULL)
		return;
	if (*(enum http_slot *)*con_cls == HTTP_SLOT_PARKED)
		http_parked_end(*con_cls, code);
	else
		http_exchange_free(*con_cls, code);
	*con_cls = NULL;
}
