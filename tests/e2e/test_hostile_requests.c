/*
 * test_hostile_requests.c: requests a broken or hostile client sends, each
 * against a real easd: bad and missing credentials, guessing until
 * throttled and locked, a User= that is not the login, bodies that are not
 * WBXML, cut short, of the wrong type or too large, bad queries and device
 * ids, unknown and unimplemented commands, bad versions and policy keys,
 * wrong paths and methods. Each case asserts the HTTP status, the EAS
 * Status where there is one and the access-log reason, then that an
 * ordinary request (Provision, FolderSync from 0) still succeeds.
 *
 * What easclient cannot send (no credentials, chosen or missing EAS
 * headers, other paths and methods, another source address) goes through
 * raw_send, a few lines of libcurl kept in this file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "e2e.h"

static const char *const users[] = { "alice:correct horse", "bob:battery staple", NULL };

struct fixture {
	struct e2e_server server;
	struct easclient *client; /* alice, device DEV1, 14.1, plain query */
	struct easclient_response response;
	struct arena *arena;
	struct buf foldersync_body; /* foldersync_zero as WBXML */
};

static const char foldersync_zero[] = "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>";
static const char provision_download[] = "<Provision xmlns=\"Provision\"><Policies><Policy>"
					 "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>";
static const char settings_device_information[] =
	"<Settings xmlns=\"Settings\"><DeviceInformation><Set><Model>TestPhone</Model>"
	"</Set></DeviceInformation></Settings>";

#define WBXML_CONTENT_TYPE "Content-Type: application/vnd.ms-sync.wbxml"
#define FOLDERSYNC_TARGET "/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=alice&DeviceId=RAW1&DeviceType=TestPhone"

/* Extra configuration comes in as the test's initial state (NULL: none). */
static int setup(void **state)
{
	const char *extra_config = *state;
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL || e2e_start(&f->server, extra_config, users) < 0)
		return -1;
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", "DEV1");
	f->client = easclient_new(&options);
	easclient_response_init(&f->response);
	f->arena = arena_new(0);
	buf_init(&f->foldersync_body, 0);
	if (wbxml_from_xml(foldersync_zero, strlen(foldersync_zero), false, &f->foldersync_body, NULL) != WBXML_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	easclient_free(&f->client);
	easclient_response_cleanup(&f->response);
	arena_free(&f->arena);
	buf_cleanup(&f->foldersync_body);
	int finished = e2e_finish(&f->server);
	free(f);
	return finished;
}

/* ---- helpers ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static const char *status_of(struct fixture *f, enum wbxml_tag tag)
{
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	return easclient_find_text(root, tag, f->arena);
}

static bool log_has(struct fixture *f, const char *const *needles)
{
	return e2e_log_has(&f->server, needles);
}

/* Access-log lines holding every needle, polled until there are at least expected (2 s). */
static unsigned log_count(struct fixture *f, const char *const *needles, unsigned expected)
{
	char path[300], line[4096];
	snprintf(path, sizeof(path), "%s/log/access.log", f->server.dir);
	unsigned count = 0;
	for (int waited = 0; waited <= 2000; waited += 20) {
		FILE *in = fopen(path, "r");
		count = 0;
		while (in != NULL && fgets(line, sizeof(line), in) != NULL) {
			bool all = true;
			for (size_t i = 0; needles[i] != NULL && all; i++)
				all = strstr(line, needles[i]) != NULL;
			count += all;
		}
		if (in != NULL)
			fclose(in);
		if (count >= expected)
			break;
		sleep_ms(20);
	}
	return count;
}

/* The ending of every case: a good client provisions and lists its folders. */
static void ordinary_request_succeeds(struct fixture *f)
{
	assert_int_equal(easclient_provision(f->client, &f->response), 0);
	assert_int_equal(easclient_post_xml(f->client, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "1");
}

static struct easclient *client_for(struct fixture *f, const char *user, const char *password,
				    const char *device_id, unsigned version)
{
	struct easclient_options options = e2e_client_options(&f->server, user, password, device_id);
	options.protocol_version = version;
	return easclient_new(&options);
}

struct raw_request {
	const char *method;          /* NULL: POST */
	const char *target;          /* path and query; NULL: FOLDERSYNC_TARGET */
	const char *user;            /* NULL: no Authorization header */
	const char *password;
	const char *const *headers;  /* NULL-terminated "Name: value" lines, sent as given */
	const void *body;            /* NULL: empty body */
	size_t len;
	const char *source_address;  /* local address to connect from; NULL: any */
	bool may_be_cut;             /* the server may close the connection instead of answering */
};

static size_t on_data(char *data, size_t size, size_t count, void *context)
{
	buf_append(context, data, size * count);
	return size * count;
}

/* Sends exactly what request says (plus Host, User-Agent, Accept, Content-Length). */
static void raw_send(struct fixture *f, const struct raw_request *request)
{
	char url[1024];
	snprintf(url, sizeof(url), "%s%s", f->server.url, request->target != NULL ? request->target : FOLDERSYNC_TARGET);
	const char *method = request->method != NULL ? request->method : "POST";
	bool has_type = false;
	struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
	for (size_t i = 0; request->headers != NULL && request->headers[i] != NULL; i++) {
		headers = curl_slist_append(headers, request->headers[i]);
		has_type |= strncasecmp(request->headers[i], "Content-Type:", 13) == 0;
	}
	if (!has_type) /* libcurl would add a form content type to a POST */
		headers = curl_slist_append(headers, "Content-Type:");
	CURL *curl = curl_easy_init();
	assert_non_null(curl);
	f->response.body.len = 0;
	f->response.headers.len = 0;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "hostile/1.0");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &f->response.body);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &f->response.headers);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	if (request->user != NULL) {
		curl_easy_setopt(curl, CURLOPT_USERNAME, request->user);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, request->password);
	}
	if (request->source_address != NULL)
		curl_easy_setopt(curl, CURLOPT_INTERFACE, request->source_address);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request->body != NULL ? request->body : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)request->len);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L); /* else curl waits for the body HEAD never has */
	} else {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	}
	CURLcode rc = curl_easy_perform(curl);
	if (rc != CURLE_OK && !request->may_be_cut)
		fprintf(stderr, "raw_send %s %s: %s\n", method, url, curl_easy_strerror(rc));
	assert_true(rc == CURLE_OK || request->may_be_cut);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &f->response.http_status);
	curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
}

/* A raw POST of a well-formed FolderSync, authenticated as alice, with these headers. */
static void raw_foldersync(struct fixture *f, const char *const *headers)
{
	raw_send(f, &(struct raw_request){ .user = "alice", .password = "correct horse", .headers = headers,
					   .body = f->foldersync_body.data, .len = f->foldersync_body.len });
}

static const char *header_of(struct fixture *f, const char *name)
{
	return easclient_header(&f->response, f->arena, name);
}

/* The response's status line and headers without Date, which differs between any two answers. */
static const char *headers_without_date(struct fixture *f)
{
	struct buf kept;
	buf_init(&kept, 0);
	const char *p = (const char *)f->response.headers.data;
	const char *end = p + f->response.headers.len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol != NULL ? eol + 1 : end;
		if (strncasecmp(p, "Date:", 5) != 0)
			buf_append(&kept, p, (size_t)(next - p));
		p = next;
	}
	const char *copy = arena_strndup(f->arena, kept.data != NULL ? kept.data : (const uint8_t *)"", kept.len);
	buf_cleanup(&kept);
	return copy;
}

/* ---- credentials ---- */

static void wrong_password_gets_401(void **state)
{
	struct fixture *f = *state;
	struct easclient *guesser = client_for(f, "alice", "wrong horse", "DEV1", 141);
	assert_int_equal(easclient_post_xml(guesser, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 401);
	assert_true(log_has(f, (const char *const[]){ "\talice\t", "FolderSync", "\t401\t", "bad_password", NULL }));
	easclient_free(&guesser);
	ordinary_request_succeeds(f);
}

static void unknown_user_gets_401_like_wrong_password(void **state)
{
	struct fixture *f = *state;
	struct easclient *guesser = client_for(f, "alice", "wrong horse", "DEV1", 141);
	assert_int_equal(easclient_post_xml(guesser, "FolderSync", foldersync_zero, &f->response), 0);
	long wrong_status = f->response.http_status;
	const char *wrong_headers = headers_without_date(f);
	size_t wrong_body_len = f->response.body.len;
	easclient_free(&guesser);

	struct easclient *stranger = client_for(f, "mallory", "wrong horse", "DEV1", 141);
	assert_int_equal(easclient_post_xml(stranger, "FolderSync", foldersync_zero, &f->response), 0);
	easclient_free(&stranger);
	assert_int_equal(wrong_status, 401);
	assert_int_equal(f->response.http_status, 401);
	/* Nothing tells a guesser whether the name exists. */
	assert_string_equal(headers_without_date(f), wrong_headers);
	assert_int_equal(f->response.body.len, wrong_body_len);
	assert_true(log_has(f, (const char *const[]){ "\tmallory\t", "\t401\t", "unknown_user", NULL }));
	ordinary_request_succeeds(f);
}

static void missing_credentials_gets_401_with_basic_challenge(void **state)
{
	struct fixture *f = *state;
	raw_send(f, &(struct raw_request){ .headers = (const char *const[]){ "MS-ASProtocolVersion: 14.1", WBXML_CONTENT_TYPE, NULL },
					   .body = f->foldersync_body.data, .len = f->foldersync_body.len });
	assert_int_equal(f->response.http_status, 401);
	const char *challenge = header_of(f, "WWW-Authenticate");
	assert_non_null(challenge);
	assert_int_equal(strncmp(challenge, "Basic realm=", 12), 0);
	assert_true(log_has(f, (const char *const[]){ "\t401\t", "no_credentials", NULL }));
	ordinary_request_succeeds(f);
}

static void user_in_query_must_match_login(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_post_query(f->client, "Cmd=FolderSync&User=bob&DeviceId=DEV1&DeviceType=TestPhone",
					      f->foldersync_body.data, f->foldersync_body.len, &f->response), 0);
	assert_int_equal(f->response.http_status, 403);
	assert_true(log_has(f, (const char *const[]){ "\talice\t", "\t403\t", "user_mismatch", NULL }));
	ordinary_request_succeeds(f);
}

/* Clients put the Windows domain or the e-mail address in the login; localhost is the default local domain. */
static void user_in_domain_form_is_accepted(void **state)
{
	struct fixture *f = *state;
	static const char *const logins[] = { "DOMAIN\\alice", "alice@localhost", "ALICE@LOCALHOST" };
	for (size_t i = 0; i < sizeof(logins) / sizeof(logins[0]); i++) {
		struct easclient *client = client_for(f, logins[i], "correct horse", "DOMDEV", 141);
		assert_int_equal(easclient_provision(client, &f->response), 0);
		assert_int_equal(easclient_post_xml(client, "FolderSync", foldersync_zero, &f->response), 0);
		assert_int_equal(f->response.http_status, 200);
		assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "1");
		easclient_free(&client);
	}
	/* A domain that is not local is part of the name: no such user. */
	struct easclient *foreign = client_for(f, "alice@elsewhere.example", "correct horse", "DOMDEV", 141);
	assert_int_equal(easclient_post_xml(foreign, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 401);
	assert_true(log_has(f, (const char *const[]){ "alice@elsewhere.example", "\t401\t", "unknown_user", NULL }));
	easclient_free(&foreign);
	ordinary_request_succeeds(f);
}

/* Waits until just after a second starts: the back-off is counted in whole seconds. */
static void wait_for_second_start(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	sleep_ms(1000 - now.tv_nsec / 1000000 + 10);
}

static void post_as(struct fixture *f, const char *user, const char *password, const char *source_address)
{
	char target[256];
	snprintf(target, sizeof(target),
		 "/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=%s&DeviceId=LOCKDEV&DeviceType=TestPhone", user);
	raw_send(f, &(struct raw_request){ .target = target, .user = user, .password = password,
					   .headers = (const char *const[]){ "MS-ASProtocolVersion: 14.1", WBXML_CONTENT_TYPE, NULL },
					   .body = f->foldersync_body.data, .len = f->foldersync_body.len,
					   .source_address = source_address });
}

/* One raw EAS request as user from source_address with the given policy key; returns the HTTP status. */
static long raw_eas(struct fixture *f, const char *user, const char *password, const char *source_address,
		    const char *command, const char *xml, uint32_t policy_key)
{
	char target[256], key_header[64];
	snprintf(target, sizeof(target), "/Microsoft-Server-ActiveSync?Cmd=%s&User=%s&DeviceId=OTHERADDR&DeviceType=TestPhone",
		 command, user);
	snprintf(key_header, sizeof(key_header), "X-MS-PolicyKey: %u", policy_key);
	struct buf body;
	buf_init(&body, 0);
	assert_int_equal(wbxml_from_xml(xml, strlen(xml), false, &body, NULL), WBXML_OK);
	raw_send(f, &(struct raw_request){ .target = target, .user = user, .password = password,
					   .headers = (const char *const[]){ "MS-ASProtocolVersion: 14.1", WBXML_CONTENT_TYPE, key_header, NULL },
					   .body = body.data, .len = body.len, .source_address = source_address });
	buf_cleanup(&body);
	return f->response.http_status;
}

static uint32_t policy_key_of(struct fixture *f)
{
	const char *text = status_of(f, WBXML_PROVISION_POLICY_KEY);
	assert_non_null(text);
	uint64_t key;
	assert_int_equal(parse_uint64(slice_from_cstr(text), UINT32_MAX, &key), 0);
	return (uint32_t)key;
}

/* easclient's ordinary request, from another source address. */
static void ordinary_request_from_succeeds(struct fixture *f, const char *user, const char *password,
					   const char *source_address)
{
	assert_int_equal(raw_eas(f, user, password, source_address, "Provision", provision_download, 0), 200);
	uint32_t temporary = policy_key_of(f);
	char ack[512];
	snprintf(ack, sizeof(ack), "<Provision xmlns=\"Provision\"><Policies><Policy>"
		 "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType><PolicyKey>%u</PolicyKey>"
		 "<Status>1</Status></Policy></Policies></Provision>", temporary);
	assert_int_equal(raw_eas(f, user, password, source_address, "Provision", ack, temporary), 200);
	uint32_t final_key = policy_key_of(f);
	assert_int_equal(raw_eas(f, user, password, source_address, "FolderSync", foldersync_zero, final_key), 200);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "1");
}

static const char throttle_config[] = "[auth]\nslow_after = 2\nlockout_after = 4\nlockout_seconds = 60\n";

/*
 * Counters are per user and per client address. All of 127.0.0.0/8 is on
 * the loopback interface on Linux, so connecting from 127.0.0.2 gives easd
 * a second client address without another host.
 */
static void repeated_failures_are_throttled_then_locked(void **state)
{
	struct fixture *f = *state;
	const char *const bad_password[] = { "\talice\t", "\t401\t", "bad_password", NULL };
	post_as(f, "alice", "wrong horse", NULL);
	assert_int_equal(f->response.http_status, 401);
	/* The second failure and the next try must fall in the same second for the 1 s back-off to show. */
	wait_for_second_start();
	post_as(f, "alice", "wrong horse", NULL);
	assert_int_equal(f->response.http_status, 401);
	post_as(f, "alice", "correct horse", NULL);
	assert_int_equal(f->response.http_status, 401);
	assert_true(log_has(f, (const char *const[]){ "\talice\t", "\t401\t", "throttled", NULL }));
	assert_int_equal(log_count(f, bad_password, 2), 2);

	/* Past each back-off (1 s, then 2 s) a guess is checked again and counts. */
	sleep_ms(1100);
	post_as(f, "alice", "wrong horse", NULL);
	assert_int_equal(f->response.http_status, 401);
	sleep_ms(2100);
	post_as(f, "alice", "wrong horse", NULL);
	assert_int_equal(f->response.http_status, 401);
	assert_int_equal(log_count(f, bad_password, 4), 4);

	/* Four failures: locked, even with the right password, and for anyone from that address. */
	post_as(f, "alice", "correct horse", NULL);
	assert_int_equal(f->response.http_status, 401);
	assert_true(log_has(f, (const char *const[]){ "\talice\t", "\t401\t", "locked", NULL }));
	post_as(f, "bob", "battery staple", NULL);
	assert_int_equal(f->response.http_status, 401);
	assert_true(log_has(f, (const char *const[]){ "\tbob\t", "\t401\t", "locked", NULL }));

	/* From another address: alice is still locked (per user), bob is served. */
	post_as(f, "alice", "correct horse", "127.0.0.2");
	assert_int_equal(f->response.http_status, 401);
	assert_int_equal(log_count(f, (const char *const[]){ "127.0.0.2", "\talice\t", "\t401\t", "locked", NULL }, 1), 1);
	ordinary_request_from_succeeds(f, "bob", "battery staple", "127.0.0.2");
}

/* ---- bodies ---- */

static void malformed_wbxml_gets_status_102(void **state)
{
	struct fixture *f = *state;
	/* XML text where WBXML was announced. */
	assert_int_equal(easclient_provision(f->client, NULL), 0);
	assert_int_equal(easclient_post(f->client, "FolderSync", foldersync_zero, strlen(foldersync_zero), NULL, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "102");
	assert_true(log_has(f, (const char *const[]){ "FolderSync", "\t200\t102\t", "wbxml_invalid", NULL }));
	/* A valid FolderSync followed by junk. */
	struct buf junk;
	buf_init(&junk, 0);
	buf_append(&junk, f->foldersync_body.data, f->foldersync_body.len);
	buf_append(&junk, "\x56\x01", 2);
	assert_int_equal(easclient_post(f->client, "FolderSync", junk.data, junk.len, NULL, &f->response), 0);
	buf_cleanup(&junk);
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "102");
	ordinary_request_succeeds(f);
}

/* 12.1 has no common Status codes: an undecodable body is HTTP 400. */
static void malformed_wbxml_on_12_1_gets_400(void **state)
{
	struct fixture *f = *state;
	struct easclient *old = client_for(f, "alice", "correct horse", "OLD121", 121);
	assert_int_equal(easclient_provision(old, NULL), 0);
	assert_int_equal(easclient_post(old, "FolderSync", foldersync_zero, strlen(foldersync_zero), NULL, &f->response), 0);
	assert_int_equal(f->response.http_status, 400);
	assert_true(log_has(f, (const char *const[]){ "FolderSync", "\t12.1\t400\t", "wbxml_invalid", NULL }));
	/* The same device, with a good body, is served. */
	assert_int_equal(easclient_post_xml(old, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "1");
	easclient_free(&old);
	ordinary_request_succeeds(f);
}

static void wrong_content_type_gets_status_101(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_provision(f->client, NULL), 0);
	assert_int_equal(easclient_post(f->client, "FolderSync", f->foldersync_body.data, f->foldersync_body.len,
					"text/plain", &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "101");
	assert_true(log_has(f, (const char *const[]){ "FolderSync", "\t200\t101\t", "content_type_invalid", NULL }));
	/* The short form is allowed from 12.1 on (MS-ASHTTP 2.2.1.1.2.2). */
	assert_int_equal(easclient_post(f->client, "FolderSync", f->foldersync_body.data, f->foldersync_body.len,
					"application/vnd.ms-sync", &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "1");
	/* Media types are case-insensitive and may carry parameters; a longer name is another type. */
	static const struct {
		const char *type;
		const char *status;
	} types[] = {
		{ "Application/VND.MS-SYNC.WBXML; charset=utf-8", "1" },
		{ "application/vnd.ms-syncXYZ", "101" },
		{ "application/vnd.ms-sync.multipart", "101" },
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_int_equal(easclient_post(f->client, "FolderSync", f->foldersync_body.data,
						f->foldersync_body.len, types[i].type, &f->response), 0);
		assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), types[i].status);
	}
	ordinary_request_succeeds(f);
}

static void wrong_root_element_gets_status_103(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_provision(f->client, NULL), 0);
	assert_int_equal(easclient_post_xml(f->client, "FolderSync", provision_download, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	assert_int_equal(root->tag, WBXML_FOLDERHIERARCHY_FOLDER_SYNC);
	assert_string_equal(easclient_find_text(root, WBXML_FOLDERHIERARCHY_STATUS, f->arena), "103");
	assert_true(log_has(f, (const char *const[]){ "FolderSync", "\t200\t103\t", "wrong_root_element", NULL }));
	ordinary_request_succeeds(f);
}

/* Every cut of a good body, from one byte to all but the last. */
static void truncated_body_gets_status_102(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_provision(f->client, NULL), 0);
	for (size_t len = 1; len < f->foldersync_body.len; len++) {
		assert_int_equal(easclient_post(f->client, "FolderSync", f->foldersync_body.data, len, NULL, &f->response), 0);
		assert_int_equal(f->response.http_status, 200);
		const char *status = status_of(f, WBXML_FOLDERHIERARCHY_STATUS);
		if (strcmp(status, "102") != 0)
			fprintf(stderr, "cut at %zu of %zu bytes: Status %s\n", len, f->foldersync_body.len, status);
		assert_string_equal(status, "102");
	}
	assert_int_equal(log_count(f, (const char *const[]){ "FolderSync", "\t200\t102\t", "wbxml_invalid", NULL },
				   (unsigned)f->foldersync_body.len - 1),
			 f->foldersync_body.len - 1);
	ordinary_request_succeeds(f);
}

static void empty_body_for_foldersync_gets_status_101(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_provision(f->client, NULL), 0);
	assert_int_equal(easclient_post(f->client, "FolderSync", NULL, 0, NULL, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "101");
	assert_true(log_has(f, (const char *const[]){ "FolderSync", "\t200\t101\t", "body_missing", NULL }));
	ordinary_request_succeeds(f);
}

static const char small_body_config[] = "[http]\nmax_body = 1000\n";

/* At the limit and one past it, declared by Content-Length and sent chunked (no length known up front). */
static void body_over_the_limit_gets_413(void **state)
{
	struct fixture *f = *state;
	uint8_t junk[2000];
	memset(junk, 'x', sizeof(junk));
	assert_int_equal(easclient_provision(f->client, NULL), 0);
	assert_int_equal(easclient_post(f->client, "FolderSync", junk, sizeof(junk), NULL, &f->response), 0);
	assert_int_equal(f->response.http_status, 413);
	assert_true(log_has(f, (const char *const[]){ "FolderSync", "\t413\t", "body_too_large", NULL }));
	assert_int_equal(easclient_post(f->client, "FolderSync", junk, 1001, NULL, &f->response), 0);
	assert_int_equal(f->response.http_status, 413);
	/* Exactly the limit is read; it is not WBXML, so Status 102. */
	assert_int_equal(easclient_post(f->client, "FolderSync", junk, 1000, NULL, &f->response), 0);
	assert_int_not_equal(f->response.http_status, 413);
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "102");

	char key_header[64];
	snprintf(key_header, sizeof(key_header), "X-MS-PolicyKey: %u", easclient_policy_key(f->client));
	const char *const chunked[] = { "MS-ASProtocolVersion: 14.1", WBXML_CONTENT_TYPE, key_header,
					"Transfer-Encoding: chunked", NULL };
	/* Chunked, so the size shows only while reading: libmicrohttpd cannot
	   answer mid-upload, so easd closes the connection and logs 413. */
	raw_send(f, &(struct raw_request){ .target = "/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=alice&DeviceId=DEV1&DeviceType=TestPhone",
					   .user = "alice", .password = "correct horse", .headers = chunked,
					   .body = junk, .len = sizeof(junk), .may_be_cut = true });
	assert_int_not_equal(f->response.http_status, 200);
	assert_int_equal(log_count(f, (const char *const[]){ "FolderSync", "\t413\t", "body_too_large", NULL }, 3), 3);
	raw_send(f, &(struct raw_request){ .target = "/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=alice&DeviceId=DEV1&DeviceType=TestPhone",
					   .user = "alice", .password = "correct horse", .headers = chunked,
					   .body = junk, .len = 1000 });
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "102");
	ordinary_request_succeeds(f);
}

/* ---- query ---- */

static void bad_base64_query_gets_400(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_post_query(f->client, "!!!notbase64", f->foldersync_body.data, f->foldersync_body.len,
					      &f->response), 0);
	assert_int_equal(f->response.http_status, 400);
	assert_true(log_has(f, (const char *const[]){ "\t400\t", "base64_invalid", NULL }));
	ordinary_request_succeeds(f);
}

static void missing_device_id_gets_400(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_post_query(f->client, "Cmd=FolderSync&User=alice&DeviceType=TestPhone",
					      f->foldersync_body.data, f->foldersync_body.len, &f->response), 0);
	assert_int_equal(f->response.http_status, 400);
	assert_true(log_has(f, (const char *const[]){ "\t400\t", "device_id_missing", NULL }));
	ordinary_request_succeeds(f);
}

/* MS-ASHTTP 2.2.1.1.1.2.3: 1*32(ALPHA / DIGIT). */
static void overlong_device_id_gets_400(void **state)
{
	struct fixture *f = *state;
	static const char id_32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
	static const char id_33[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456";
	struct easclient *overlong = client_for(f, "alice", "correct horse", id_33, 141);
	assert_int_equal(easclient_post_xml(overlong, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 400);
	/* The log names the user the device claims to be, so the administrator knows whose it is. */
	assert_true(log_has(f, (const char *const[]){ "\talice\t", "\t400\t", "device_id_invalid", NULL }));
	/* The refusal says why, for a person trying a client by hand. */
	buf_append_byte(&f->response.body, '\0');
	assert_string_equal((const char *)f->response.body.data, "easd: device_id_invalid\n");
	easclient_free(&overlong);
	struct easclient *longest = client_for(f, "alice", "correct horse", id_32, 141);
	assert_int_equal(easclient_provision(longest, NULL), 0);
	assert_int_equal(easclient_post_xml(longest, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(status_of(f, WBXML_FOLDERHIERARCHY_STATUS), "1");
	assert_true(log_has(f, (const char *const[]){ id_32, "FolderSync", "\t200\t1\t", NULL }));
	easclient_free(&longest);
	ordinary_request_succeeds(f);
}

/* ---- commands ---- */

static void unknown_command_gets_501(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_provision(f->client, NULL), 0);
	assert_int_equal(easclient_post_xml(f->client, "Frobnicate", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 501);
	assert_true(log_has(f, (const char *const[]){ "\talice\t", "Frobnicate", "\t501\t", "command_unknown", NULL }));
	ordinary_request_succeeds(f);
}

static void not_implemented_command_gets_137(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(easclient_provision(f->client, NULL), 0);
	assert_int_equal(easclient_post_xml(f->client, "Settings", settings_device_information, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	assert_int_equal(root->tag, WBXML_SETTINGS_SETTINGS);
	assert_string_equal(easclient_find_text(root, WBXML_SETTINGS_STATUS, f->arena), "137");
	assert_true(log_has(f, (const char *const[]){ "Settings", "\t14.1\t200\t137\t", "command_not_implemented", NULL }));
	/* 12.1 has no Status 137: HTTP 501. */
	struct easclient *old = client_for(f, "alice", "correct horse", "OLD121", 121);
	assert_int_equal(easclient_provision(old, NULL), 0);
	assert_int_equal(easclient_post_xml(old, "Settings", settings_device_information, &f->response), 0);
	assert_int_equal(f->response.http_status, 501);
	assert_true(log_has(f, (const char *const[]){ "Settings", "\t12.1\t501\t", "command_not_implemented", NULL }));
	easclient_free(&old);
	ordinary_request_succeeds(f);
}

/* ---- headers ---- */

static void unsupported_protocol_version_gets_400(void **state)
{
	struct fixture *f = *state;
	static const char *const versions[] = { "MS-ASProtocolVersion: 2.5", "MS-ASProtocolVersion: 99.9",
						"MS-ASProtocolVersion: 12.0" };
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		raw_foldersync(f, (const char *const[]){ versions[i], WBXML_CONTENT_TYPE, NULL });
		assert_int_equal(f->response.http_status, 400);
		const char *supported = header_of(f, "MS-ASProtocolVersions");
		assert_non_null(supported);
		assert_string_equal(supported, "12.1,14.0,14.1,16.0,16.1");
	}
	assert_int_equal(log_count(f, (const char *const[]){ "FolderSync", "\t400\t", "version_unsupported", NULL }, 3), 3);
	/* The base64 query carries the version in its first byte: 12.0 there too. */
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", "B64OLD");
	options.base64_query = true;
	options.protocol_version = 120;
	struct easclient *old = easclient_new(&options);
	assert_int_equal(easclient_post_xml(old, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 400);
	assert_non_null(header_of(f, "MS-ASProtocolVersions"));
	assert_true(log_has(f, (const char *const[]){ "B64OLD", "\t12.0\t400\t", "version_unsupported", NULL }));
	easclient_free(&old);
	ordinary_request_succeeds(f);
}

static void missing_protocol_version_gets_400(void **state)
{
	struct fixture *f = *state;
	raw_foldersync(f, (const char *const[]){ WBXML_CONTENT_TYPE, NULL });
	assert_int_equal(f->response.http_status, 400);
	assert_true(log_has(f, (const char *const[]){ "FolderSync", "\t400\t", "version_missing", NULL }));
	ordinary_request_succeeds(f);
}

static void bad_policy_key_header_gets_400(void **state)
{
	struct fixture *f = *state;
	static const char *const keys[] = { "X-MS-PolicyKey: abc", "X-MS-PolicyKey: 4294967296", "X-MS-PolicyKey: -1" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		raw_foldersync(f, (const char *const[]){ "MS-ASProtocolVersion: 14.1", WBXML_CONTENT_TYPE, keys[i], NULL });
		assert_int_equal(f->response.http_status, 400);
	}
	assert_int_equal(log_count(f, (const char *const[]){ "FolderSync", "\t400\t", "policy_key_invalid", NULL }, 3), 3);
	ordinary_request_succeeds(f);
}

static void wrong_path_gets_404(void **state)
{
	struct fixture *f = *state;
	static const char *const targets[] = {
		"/Microsoft-Server-ActiveSyncX?Cmd=FolderSync&User=alice&DeviceId=RAW1&DeviceType=TestPhone",
		"/Microsoft-Server-ActiveSync/extra?Cmd=FolderSync&User=alice&DeviceId=RAW1&DeviceType=TestPhone",
		"/?Cmd=FolderSync&User=alice&DeviceId=RAW1&DeviceType=TestPhone",
	};
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		raw_send(f, &(struct raw_request){ .target = targets[i], .user = "alice", .password = "correct horse",
						   .headers = (const char *const[]){ "MS-ASProtocolVersion: 14.1", WBXML_CONTENT_TYPE, NULL },
						   .body = f->foldersync_body.data, .len = f->foldersync_body.len });
		assert_int_equal(f->response.http_status, 404);
	}
	assert_int_equal(log_count(f, (const char *const[]){ "\t404\t", "path_unknown", NULL }, 3), 3);
	ordinary_request_succeeds(f);
}

static void other_methods_get_501_with_allow(void **state)
{
	struct fixture *f = *state;
	static const char *const methods[] = { "PUT", "DELETE", "PATCH" };
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		raw_send(f, &(struct raw_request){ .method = methods[i], .user = "alice", .password = "correct horse",
						   .headers = (const char *const[]){ "MS-ASProtocolVersion: 14.1", NULL } });
		assert_int_equal(f->response.http_status, 501);
		const char *allow = header_of(f, "Allow");
		assert_non_null(allow);
		assert_string_equal(allow, "OPTIONS,POST");
	}
	assert_int_equal(log_count(f, (const char *const[]){ "\t501\t", "method_not_supported", NULL }, 3), 3);
	ordinary_request_succeeds(f);
}

/* The page says what the URL is for and where to go; nothing asks for a password. */
static void assert_browser_page(struct fixture *f)
{
	assert_int_equal(f->response.http_status, 200);
	assert_string_equal(header_of(f, "Content-Type"), "text/html; charset=utf-8");
	assert_null(header_of(f, "WWW-Authenticate"));
	assert_null(header_of(f, "MS-Server-ActiveSync"));
	buf_append_byte(&f->response.body, '\0');
	const char *body = (const char *)f->response.body.data;
	assert_non_null(strstr(body, "<title>Exchange ActiveSync</title>"));
	assert_non_null(strstr(body, "phones and mail programs"));
	assert_non_null(strstr(body, "add an Exchange account in the account settings"));
}

/* A person opening the URL in a browser gets a page, with or without credentials; each is logged. */
static void browser_get_gets_a_page(void **state)
{
	struct fixture *f = *state;
	static const char *const targets[] = { "/Microsoft-Server-ActiveSync", "/microsoft-server-activesync/" };
	for (size_t i = 0; i < 2; i++) {
		raw_send(f, &(struct raw_request){ .method = "GET", .target = targets[i] });
		assert_browser_page(f);
	}
	raw_send(f, &(struct raw_request){ .method = "GET", .user = "alice", .password = "wrong horse" });
	assert_browser_page(f);
	size_t page_bytes = f->response.body.len - 1;
	raw_send(f, &(struct raw_request){ .method = "HEAD", .target = targets[0] });
	assert_int_equal(f->response.http_status, 200);
	assert_int_equal(f->response.body.len, 0);
	char page_line[64];
	snprintf(page_line, sizeof(page_line), "\t200\t-\t0\t%zu\t", page_bytes);
	assert_int_equal(log_count(f, (const char *const[]){ page_line, "\thostile/1.0\tbrowser_page", NULL }, 3), 3);
	assert_int_equal(log_count(f, (const char *const[]){ "\t200\t-\t0\t0\t", "browser_page", NULL }, 1), 1);
	/* Not a login: the wrong password counted nowhere, and the page is not for other paths. */
	assert_false(log_has(f, (const char *const[]){ "bad_password", NULL }));
	raw_send(f, &(struct raw_request){ .method = "GET", .target = "/" });
	assert_int_equal(f->response.http_status, 501);
	ordinary_request_succeeds(f);
}

#define CASE(test) cmocka_unit_test_setup_teardown(test, setup, teardown)
#define CASE_WITH_CONFIG(test, config) cmocka_unit_test_prestate_setup_teardown(test, setup, teardown, (void *)(config))

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		CASE(wrong_password_gets_401),
		CASE(unknown_user_gets_401_like_wrong_password),
		CASE(missing_credentials_gets_401_with_basic_challenge),
		CASE(user_in_query_must_match_login),
		CASE(user_in_domain_form_is_accepted),
		CASE_WITH_CONFIG(repeated_failures_are_throttled_then_locked, throttle_config),
		CASE(malformed_wbxml_gets_status_102),
		CASE(malformed_wbxml_on_12_1_gets_400),
		CASE(wrong_content_type_gets_status_101),
		CASE(wrong_root_element_gets_status_103),
		CASE(truncated_body_gets_status_102),
		CASE(empty_body_for_foldersync_gets_status_101),
		CASE_WITH_CONFIG(body_over_the_limit_gets_413, small_body_config),
		CASE(bad_base64_query_gets_400),
		CASE(missing_device_id_gets_400),
		CASE(overlong_device_id_gets_400),
		CASE(unknown_command_gets_501),
		CASE(not_implemented_command_gets_137),
		CASE(unsupported_protocol_version_gets_400),
		CASE(missing_protocol_version_gets_400),
		CASE(bad_policy_key_header_gets_400),
		CASE(wrong_path_gets_404),
		CASE(other_methods_get_501_with_allow),
		CASE(browser_get_gets_a_page),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return failed;
}
