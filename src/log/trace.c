/* trace.c: a device's protocol on demand (see trace.h). */
#include "log/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"
#include "wbxml/wbxml.h"

/* user-device.log, with anything but letters, digits, '.', '-' and '_' made '_' (no path from a name). */
static void file_name(char *out, size_t len, const char *user, const char *device_id)
{
	snprintf(out, len, "%s-%s.log", user, device_id);
	for (char *p = out; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '-' || *p == '_'))
			*p = '_';
	if (out[0] == '.')
		out[0] = '_';
}

/* A body as XML when it is WBXML, else its size (MIME of 12.1's SendMail, a streamed attachment). */
static void append_body(struct buf *out, const char *label, const uint8_t *data, size_t len)
{
	if (len == 0) {
		buf_printf(out, "%s: (empty)\n", label);
		return;
	}
	struct wbxml_xml_options options = { .compact = false, .max_text = TRACE_TEXT_MAX };
	struct wbxml_error error;
	size_t before = out->len;
	buf_printf(out, "%s:\n", label);
	if (wbxml_to_xml(data, len, NULL, &options, out, &error) != 0) {
		out->len = before;
		buf_printf(out, "%s: %zu bytes, not WBXML\n", label, len);
	}
}

static void format(struct buf *out, const struct trace_exchange *e)
{
	char when[32] = "";
	time_t seconds = (time_t)(e->time_ms / 1000);
	struct tm tm;
	if (gmtime_r(&seconds, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(out, "==== %s.%03dZ %s, EAS %u.%u\n", when, (int)(e->time_ms % 1000), e->command,
		   e->protocol_version / 10, e->protocol_version % 10);
	append_body(out, "request", e->request, e->request_len);
	buf_printf(out, "---- HTTP %u, Status %d%s%s\n", e->http_status, e->eas_status, e->reason != NULL ? ", " : "",
		   e->reason != NULL ? e->reason : "");
	if (e->response == NULL && e->streamed > 0)
		buf_printf(out, "response: %llu bytes streamed\n", (unsigned long long)e->streamed);
	else
		append_body(out, "response", e->response, e->response_len);
}

int trace_write(const char *log_dir, const struct trace_exchange *e)
{
	char dir[4096], name[512], path[4608];
	snprintf(dir, sizeof(dir), "%s/%s", log_dir, TRACE_DIR_NAME);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	file_name(name, sizeof(name), e->user, e->device_id);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size >= TRACE_FILE_MAX) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	struct buf out;
	buf_init(&out, 0);
	format(&out, e);
	ssize_t written = write(fd, out.data, out.len);
	buf_cleanup(&out);
	close(fd);
	return written < 0 ? -1 : 0;
}
