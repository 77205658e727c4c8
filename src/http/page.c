/*
 * page.c: the answer to a person who opens the EAS URL in a web browser
 * (GET or HEAD on /Microsoft-Server-ActiveSync): a short page saying what
 * the address is for and where it goes instead. Must not: authenticate,
 * take a store session, or say more than the URL's well-known path does
 * (no release, no user).
 *
 * Status 200, before any credentials. Exchange answers a browser 401, and
 * once it has logged in an error page; here that would ask a person to
 * type their password into a browser, possibly over plain HTTP, only to
 * be told to use a phone, and each mistyped one would count towards the
 * login throttle and lockout (src/guard). Devices never GET: MS-ASHTTP
 * 2.2.1 defines only POST and OPTIONS, which are unchanged, so no client
 * behaviour depends on what a GET gets.
 */
#include "http/http_private.h"

#include <string.h>

static const char page[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\">\n"
	"<head><meta charset=\"utf-8\"><title>Exchange ActiveSync</title></head>\n"
	"<body>\n"
	"<h1>Exchange ActiveSync</h1>\n"
	"<p>This address is an Exchange ActiveSync server: phones and mail programs use it to keep\n"
	"mail, calendars, contacts, tasks and notes in step. There is nothing to see in a web browser.</p>\n"
	"<p>To use it, add an Exchange account in the account settings of your phone or mail program\n"
	"with your e-mail address, this server's name, your user name and your password.</p>\n"
	"</body>\n"
	"</html>\n";

bool http_page_wanted(const char *method)
{
	return strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

enum MHD_Result http_answer_page(struct http_exchange *x, struct MHD_Connection *connection, const char *method)
{
	struct eas_request *r = &x->request;
	r->http_status = MHD_HTTP_OK;
	/* The log line and the metrics count it apart from EAS commands (command "-"). */
	r->reason = "browser_page";
	struct MHD_Response *response =
		MHD_create_response_from_buffer(sizeof(page) - 1, (void *)page, MHD_RESPMEM_PERSISTENT);
	if (response == NULL)
		return MHD_NO;
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
	MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	/* MHD sends HEAD the headers only. */
	x->bytes_out = strcmp(method, MHD_HTTP_METHOD_HEAD) != 0 ? sizeof(page) - 1 : 0;
	enum MHD_Result result = MHD_queue_response(connection, MHD_HTTP_OK, response);
	MHD_destroy_response(response);
	return result;
}
