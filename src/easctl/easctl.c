/*
 * easctl.c: entry point of the administration tool; dispatches to the
 * subcommand files.
 */
#include "easctl/easctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fputs("usage: easctl COMMAND [ARGS]\n"
	      "\n"
	      "commands:\n"
	      "  wbxml decode [FILE]   WBXML (file or stdin) to XML on stdout\n"
	      "  wbxml encode [FILE]   XML (file or stdin) to WBXML on stdout\n",
	      out);
}

int easctl_read_input(const char *path, struct buf *out)
{
	FILE *in = stdin;
	if (path != NULL && strcmp(path, "-") != 0) {
		in = fopen(path, "rb");
		if (in == NULL) {
			fprintf(stderr, "easctl: %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	uint8_t chunk[65536];
	size_t n;
	int status = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0) {
		if (buf_append(out, chunk, n) < 0) {
			fprintf(stderr, "easctl: %s: input larger than %zu bytes\n",
				path != NULL ? path : "stdin", out->max);
			status = -1;
			break;
		}
	}
	if (ferror(in)) {
		fprintf(stderr, "easctl: %s: read error\n", path != NULL ? path : "stdin");
		status = -1;
	}
	if (in != stdin)
		fclose(in);
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EASCTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "wbxml") == 0)
		return easctl_wbxml(argc - 2, argv + 2);
	fprintf(stderr, "easctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EASCTL_EXIT_USAGE;
}
