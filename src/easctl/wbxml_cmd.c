/*
 * wbxml_cmd.c: `easctl wbxml decode|encode [FILE]`, for administrators
 * reading captured requests and for tests writing them.
 */
#include "easctl/easctl.h"
#include "wbxml/wbxml.h"

#include <stdio.h>
#include <string.h>

/* Inputs larger than this are not EAS messages (the HTTP limit is 30 MB). */
#define EASCTL_WBXML_MAX_INPUT ((size_t)256 * 1024 * 1024)

static void print_error(const char *what, const char *where, const struct wbxml_error *error)
{
	fprintf(stderr, "easctl: %s: %s at %s %zu: %s%s%s\n", what, wbxml_status_name(error->status),
		where, error->offset, error->reason != NULL ? error->reason : "error",
		error->detail[0] != '\0' ? ": " : "", error->detail);
}

static int write_all(const struct buf *out)
{
	if (out->len > 0 && fwrite(out->data, 1, out->len, stdout) != out->len)
		return -1;
	return fflush(stdout) == 0 ? 0 : -1;
}

int easctl_wbxml(int argc, char **argv)
{
	if (argc < 1 || argc > 2 || (strcmp(argv[0], "decode") != 0 && strcmp(argv[0], "encode") != 0)) {
		fputs("usage: easctl wbxml decode|encode [FILE]\n", stderr);
		return EASCTL_EXIT_USAGE;
	}
	bool decode = strcmp(argv[0], "decode") == 0;
	const char *path = argc == 2 ? argv[1] : NULL;
	struct buf in, out;
	struct wbxml_error error;
	int status;

	buf_init(&in, EASCTL_WBXML_MAX_INPUT);
	buf_init(&out, 0);
	if (easctl_read_input(path, &in) < 0) {
		buf_cleanup(&in);
		return EASCTL_EXIT_FAILURE;
	}
	if (decode) {
		struct wbxml_limits limits = { .max_total = EASCTL_WBXML_MAX_INPUT,
					       .max_string = EASCTL_WBXML_MAX_INPUT };
		status = wbxml_to_xml(in.data, in.len, &limits, NULL, &out, &error);
		if (status < 0)
			print_error("decode", "byte", &error);
	} else {
		status = wbxml_from_xml((const char *)in.data, in.len, false, &out, &error);
		if (status < 0)
			print_error("encode", "line", &error);
	}
	if (status == 0 && write_all(&out) < 0) {
		fputs("easctl: write error\n", stderr);
		status = -1;
	}
	buf_cleanup(&in);
	buf_cleanup(&out);
	return status == 0 ? 0 : EASCTL_EXIT_FAILURE;
}
