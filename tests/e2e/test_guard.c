/*
 * test_guard.c: one user's devices cannot take what every user shares
 * (issue 12, guard/usage.c), through a real easd:
 *   - 40 requests of one user at once: 16 are taken, 24 are told at once
 *     to come back (HTTP 503, Retry-After, X-MS-ASThrottle) before their
 *     bodies are read, another user is served meanwhile, and the 16 are
 *     answered;
 *   - the request and byte budgets at their value and one past it, with
 *     the wait the device is told; an exempt user passes; SIGHUP changes
 *     the limits of the running easd;
 *   - each refusal's access log line names the limit and the guard's decision;
 *   - a refusal is held back [guard] tarpit seconds, with no thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e2e_mail.h"

#define BODY_BYTES 100

/* A request of user whose headers are sent and whose body is not (yet): in progress for easd. */
static int start_request(struct e2e_mail *f, const char *user, const char *device_id)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(f->server.port),
				       .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
	gchar *credentials = g_strdup_printf("%s:%s", user, strcmp(user, "alice") == 0 ? "correct horse" : "battery staple");
	gchar *basic = g_base64_encode((const guchar *)credentials, strlen(credentials));
	gchar *head = g_strdup_printf("POST /Microsoft-Server-ActiveSync?Cmd=FolderSync&User=%s&DeviceId=%s"
				      "&DeviceType=raw HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic %s\r\n"
				      "MS-ASProtocolVersion: 14.1\r\nContent-Type: application/vnd.ms-sync.wbxml\r\n"
				      "Content-Length: %d\r\n\r\n", user, device_id, basic, BODY_BYTES);
	assert_int_equal(write(fd, head, strlen(head)), (ssize_t)strlen(head));
	g_free(head);
	g_free(basic);
	g_free(credentials);
	return fd;
}

/* What came back within ms (the status line and headers), "" when nothing did. */
static const char *answer_of(struct e2e_mail *f, int fd, int ms)
{
	char text[2048];
	size_t len = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (len < sizeof(text) - 1 && poll(&p, 1, ms) == 1) {
		ssize_t n = read(fd, text + len, sizeof(text) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		text[len] = '\0';
		if (strstr(text, "\r\n\r\n") != NULL)
			break;
	}
	text[len] = '\0';
	return e2e_mail_format(f, "%s", text);
}

/* The body: bytes that are no WBXML, which FolderSync answers with Status 102 (HTTP 200). */
static void finish_request(int fd)
{
	char body[BODY_BYTES];
	memset(body, 'x', sizeof(body));
	assert_int_equal(write(fd, body, sizeof(body)), (ssize_t)sizeof(body));
}

static long options_status(struct e2e_mail *f, struct easclient *client)
{
	assert_int_equal(easclient_options(client, &f->response), 0);
	return f->response.http_status;
}

/* A device of bob's (alice's are the fixture's). */
static struct easclient *client_of(struct e2e_mail *f, const char *device_id)
{
	struct easclient_options options = e2e_client_options(&f->server, "bob", "battery staple", device_id);
	return easclient_new(&options);
}

/* Seed 000: a broken client opens 40 requests for one user. */
static void forty_requests_at_once_sixteen_are_taken(void **state)
{
	struct e2e_mail *f = *state;
	int fds[40];
	/* The fixture's last request may still be ending in easd (the answer is out before its log
	   line, where it stops counting): let it end, or it would be the 16th. */
	g_usleep(300 * 1000);
	for (int i = 0; i < 16; i++)
		fds[i] = start_request(f, "alice", "RAW1");
	for (int i = 0; i < 16; i++)
		assert_string_equal(answer_of(f, fds[i], i == 15 ? 300 : 0), "");
	/* The 24 refusals are each held back [guard] tarpit (2 s), at once, with no thread. */
	int64_t started = e2e_mail_now_ms();
	for (int i = 16; i < 40; i++)
		fds[i] = start_request(f, "alice", "RAW1");
	for (int i = 16; i < 40; i++) {
		const char *answer = answer_of(f, fds[i], 5000);
		assert_non_null(strstr(answer, "HTTP/1.1 503"));
		assert_non_null(strstr(answer, "Retry-After: 10\r\n"));
		assert_non_null(strstr(answer, "X-MS-ASThrottle: MaxConcurrency\r\n"));
	}
	int64_t held = e2e_mail_now_ms() - started;
	assert_true(held >= 1900 && held < 4500);
	/* Other users are served meanwhile. */
	struct easclient *bob = client_of(f, "BOBPHONE");
	assert_int_equal(options_status(f, bob), 200);
	/* The 16 are answered once their bodies are in. */
	for (int i = 0; i < 16; i++)
		finish_request(fds[i]);
	for (int i = 0; i < 16; i++)
		assert_non_null(strstr(answer_of(f, fds[i], 5000), "HTTP/1.1 200"));
	for (int i = 0; i < 40; i++)
		close(fds[i]);
	/* Once they ended, alice's next request is taken again (each ends in easd just after its
	   answer is out: let them). */
	g_usleep(300 * 1000);
	assert_int_equal(options_status(f, f->phone), 200);
	const char *const refused[] = { "\talice\tRAW1\traw\tFolderSync\t", "\t503\t", "\trequests_in_progress\t",
					"\trefused\n", NULL };
	assert_true(e2e_log_has(&f->server, refused));
	const char *const taken[] = { "\talice\tRAW1\traw\tFolderSync\t", "\t200\t102\t", "\tpass\n", NULL };
	assert_true(e2e_log_has(&f->server, taken));
	easclient_free(&bob);
}

/* 5 requests a minute: bob's 5 pass, the 6th waits 12 s (a fifth of a minute); alice, exempt, passes on. */
static void the_request_budget_at_its_value_and_one_past(void **state)
{
	struct e2e_mail *f = *state;
	char *line = e2e_reload(&f->server, "[guard]\nrequests_per_minute = 5\nexempt = alice\n", "SIGHUP: reloaded");
	assert_non_null(line);
	assert_non_null(strstr(line, "[guard] requests_per_minute"));
	g_free(line);
	struct easclient *bob = client_of(f, "BOBPHONE");
	for (int i = 0; i < 5; i++)
		assert_int_equal(options_status(f, bob), 200);
	assert_int_equal(options_status(f, bob), 503);
	assert_string_equal(easclient_header(&f->response, f->arena, "Retry-After"), "12");
	assert_string_equal(easclient_header(&f->response, f->arena, "X-MS-ASThrottle"), "RecentCommands");
	for (int i = 0; i < 8; i++)
		assert_int_equal(options_status(f, f->phone), 200);
	const char *const exempt[] = { "\talice\t", "\tOPTIONS\t", "\texempt\n", NULL };
	assert_true(e2e_log_has(&f->server, exempt));
	const char *const refused[] = { "\tbob\t", "\tOPTIONS\t", "\t503\t", "\trequest_budget\t", "\trefused\n", NULL };
	assert_true(e2e_log_has(&f->server, refused));
	/* Lifted by the next reload: the limit in force is the file's. */
	line = e2e_reload(&f->server, "[guard]\nrequests_per_minute = 0\n", "SIGHUP: reloaded");
	g_free(line);
	assert_int_equal(options_status(f, bob), 200);
	easclient_free(&bob);
}

/* 300 bytes a minute: a 100-byte body three times passes, a fourth request does not, for a while. */
static void the_byte_budget_at_its_value_and_one_past(void **state)
{
	struct e2e_mail *f = *state;
	g_free(e2e_reload(&f->server, "[guard]\nbytes_per_minute = 300\n", "SIGHUP: reloaded"));
	/* What bob's FolderSync of 100 bytes answers (Status 102, a few bytes) counts too: 100 and a few each. */
	int fd = start_request(f, "bob", "BOBRAW");
	finish_request(fd);
	assert_non_null(strstr(answer_of(f, fd, 5000), "HTTP/1.1 200"));
	close(fd);
	fd = start_request(f, "bob", "BOBRAW");
	finish_request(fd);
	assert_non_null(strstr(answer_of(f, fd, 5000), "HTTP/1.1 200"));
	close(fd);
	/* Now past 200 and under 300: one more passes, and takes the budget past 300. */
	fd = start_request(f, "bob", "BOBRAW");
	finish_request(fd);
	assert_non_null(strstr(answer_of(f, fd, 5000), "HTTP/1.1 200"));
	close(fd);
	fd = start_request(f, "bob", "BOBRAW");
	const char *answer = answer_of(f, fd, 5000);
	close(fd);
	assert_non_null(strstr(answer, "HTTP/1.1 503"));
	assert_non_null(strstr(answer, "X-MS-ASThrottle: BytesTransferred\r\n"));
	const char *const refused[] = { "\tbob\tBOBRAW\t", "\t503\t", "\tbyte_budget\t", "\trefused\n", NULL };
	assert_true(e2e_log_has(&f->server, refused));
}

/* A refusal is held [guard] tarpit seconds before it is given; 0 gives it at once. */
static void a_refusal_is_held_back_for_the_tarpit(void **state)
{
	struct e2e_mail *f = *state;
	g_free(e2e_reload(&f->server, "[guard]\nrequests_per_minute = 1\ntarpit = 1\n", "SIGHUP: reloaded"));
	struct easclient *bob = client_of(f, "BOBPHONE");
	assert_int_equal(options_status(f, bob), 200);
	int64_t started = e2e_mail_now_ms();
	assert_int_equal(options_status(f, bob), 503);
	int64_t held = e2e_mail_now_ms() - started;
	assert_true(held >= 950 && held < 3000);
	g_free(e2e_reload(&f->server, "[guard]\nrequests_per_minute = 1\ntarpit = 0\n", "SIGHUP: reloaded"));
	started = e2e_mail_now_ms();
	assert_int_equal(options_status(f, bob), 503);
	assert_true(e2e_mail_now_ms() - started < 900);
	const char *const refused[] = { "\tbob\t", "\tOPTIONS\t", "\t503\t", "\trequest_budget\t", "\trefused\n", NULL };
	assert_true(e2e_log_has(&f->server, refused));
	easclient_free(&bob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		E2E_MAIL_CASE(forty_requests_at_once_sixteen_are_taken),
		E2E_MAIL_CASE(the_request_budget_at_its_value_and_one_past),
		E2E_MAIL_CASE(the_byte_budget_at_its_value_and_one_past),
		E2E_MAIL_CASE(a_refusal_is_held_back_for_the_tarpit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
