/*
 * easctl.c: entry point of the administration tool; dispatches to the
 * subcommand files.
 */
#include "easctl/easctl.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where a package installs easd's configuration. */
#define EASCTL_SYSTEM_CONFIG "/etc/easd/easd.conf"

/* Each command and its lines of the usage, for `easctl COMMAND --help`. */
static const struct {
	const char *command;
	const char *text;
} commands[] = {
	{ "user", "  user add NAME           add a user; the password is asked twice on a terminal, else\n"
		  "                          it is stdin's first line; at least 8 characters\n"
		  "  user passwd NAME        change a password (same input)\n"
		  "  user del NAME           delete a user and everything it owns\n"
		  "  user disable NAME [CLASS...]  switch the user's sync off (devices told 126), or only\n"
		  "                          those classes (Email, Calendar, Contacts, Tasks, Notes);\n"
		  "                          user enable NAME [CLASS...]: back on\n"
		  "  user list               list users\n" },
	{ "device", "  device list [USER]      devices, what each may do (and why), wipes; --json\n"
		    "  device show USER DEVICE one device in full; --json\n"
		    "  device allow|block|quarantine USER DEVICE [--minutes N] [--reason TEXT]\n"
		    "                          decide for a device (also before it first connects)\n"
		    "  device unblock USER DEVICE  [access] rules decide again\n"
		    "  device wipe USER DEVICE [--account] [--cancel]  remote wipe through Provision\n"
		    "  device forget USER DEVICE   drop the device, its sync state and decisions\n"
		    "  device trace USER DEVICE [--minutes N] [--off]  its requests and answers as XML\n"
		    "                          into the log directory's trace/ (default 10 minutes)\n" },
	{ "throttle", "  throttle show [--json]  each user's requests in progress and budgets left, in the\n"
		      "                          running easd ([guard]; through [metrics] listen)\n"
		      "  throttle clear [USER]   refill the budgets of USER, or of every user\n" },
	{ "deliver", "  deliver USER [FILE]     deliver a message (file or stdin) to USER's Inbox; USER may\n"
		     "                          be an address of a local domain, as over LMTP\n" },
	{ "import", "  import USER FILE        an iCalendar (.ics) or vCard (.vcf) file into USER's default\n"
		    "                          Calendar, Tasks, Notes or Contacts; all of it or nothing\n" },
	{ "export", "  export USER CLASS [FILE] contacts (vCard), calendar, tasks or notes (iCalendar) of USER\n" },
	{ "backup", "  backup [--force] FILE   a consistent copy of the database into FILE, also while easd\n"
		    "                          runs; --force replaces an existing FILE\n" },
	{ "restore", "  restore FILE            replace the database by the backup FILE once it checks out;\n"
		     "                          easd must be stopped, and migrates an older one at its start\n" },
	{ "report", "  report [--since DURATION] [--by user|device|command] [--top N] [--json] [FILE...]\n"
		    "                          which device loads easd, from the access log ([log] dir's\n"
		    "                          access.log and access.log.1, or FILEs): requests, time in\n"
		    "                          easd, bytes, errors, guard refusals and items per device\n"
		    "                          (or user, command), then the patterns of a device in a loop;\n"
		    "                          --since 30s, 15m, 1h (default), 2d or all; --top N rows and\n"
		    "                          patterns (20; 0: all)\n" },
	{ "wbxml", "  wbxml decode [FILE]     WBXML (file or stdin) to XML on stdout\n"
		   "  wbxml encode [FILE]     XML (file or stdin) to WBXML on stdout\n" },
};

static void usage(FILE *out)
{
	fputs("usage: easctl [-c FILE] COMMAND [ARGS]\n"
	      "\n"
	      "  -c FILE                 easd's configuration (data and log directory); without it\n"
	      "                          $EASD_CONFIG, else " EASCTL_SYSTEM_CONFIG " if it exists\n"
	      "  --version               the release\n"
	      "  COMMAND --help          one command's usage\n"
	      "\n"
	      "commands:\n",
	      out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fputs(commands[i].text, out);
}

/* `easctl COMMAND --help` (or -h): that command's lines. Returns -1 when the command is not one. */
static int command_help(const char *command)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].command, command) == 0) {
			printf("usage: easctl [-c FILE]\n%s", commands[i].text);
			return 0;
		}
	return -1;
}

int easctl_open_store(const struct easd_config *config, struct store **store_out, struct store_session **session_out)
{
	char error[512];
	if (store_open(config->data_dir, 1, store_out, error, sizeof(error)) < 0) {
		fprintf(stderr, "easctl: store: %s\n", error);
		return -1;
	}
	*session_out = store_session_acquire(*store_out);
	if (*session_out == NULL) {
		fprintf(stderr, "easctl: cannot open a store session\n");
		store_close(store_out);
		return -1;
	}
	return 0;
}

void easctl_close_store(struct store **store, struct store_session **session)
{
	store_session_release(session);
	store_close(store);
}

void easctl_json_string(const char *text)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)text; p != NULL && *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7F)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
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

static int run(const struct easd_config *config, int argc, char **argv)
{
	if (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "help") == 0) {
		if (argc > 1 && command_help(argv[1]) == 0)
			return 0;
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[0], "--version") == 0 || strcmp(argv[0], "-V") == 0) {
		printf("easctl %s\n", EASD_VERSION);
		return 0;
	}
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) && command_help(argv[0]) == 0)
		return 0;
	if (strcmp(argv[0], "wbxml") == 0)
		return easctl_wbxml(argc - 1, argv + 1);
	if (strcmp(argv[0], "user") == 0)
		return easctl_user(config, argc - 1, argv + 1);
	if (strcmp(argv[0], "throttle") == 0)
		return easctl_throttle(config, argc - 1, argv + 1);
	if (strcmp(argv[0], "device") == 0)
		return easctl_device(config, argc - 1, argv + 1);
	if (strcmp(argv[0], "deliver") == 0)
		return easctl_deliver(config, argc - 1, argv + 1);
	if (strcmp(argv[0], "import") == 0)
		return easctl_import(config, argc - 1, argv + 1);
	if (strcmp(argv[0], "export") == 0)
		return easctl_export(config, argc - 1, argv + 1);
	if (strcmp(argv[0], "backup") == 0)
		return easctl_backup(config, argc - 1, argv + 1);
	if (strcmp(argv[0], "restore") == 0)
		return easctl_restore(config, argc - 1, argv + 1);
	if (strcmp(argv[0], "report") == 0)
		return easctl_report(config, argc - 1, argv + 1);
	fprintf(stderr, "easctl: unknown command '%s'\n", argv[0]);
	usage(stderr);
	return EASCTL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct easd_config config;
	const char *config_path = NULL;
	int first = 1;
	if (argc >= 3 && strcmp(argv[1], "-c") == 0) {
		config_path = argv[2];
		first = 3;
	}
	if (argc <= first) {
		usage(stderr);
		return EASCTL_EXIT_USAGE;
	}
	/* Without -c: $EASD_CONFIG, else the installed configuration when there is one (wbxml needs none). */
	bool needs_config = strcmp(argv[first], "wbxml") != 0;
	if (config_path == NULL && needs_config && getenv("EASD_CONFIG") != NULL && getenv("EASD_CONFIG")[0] != '\0')
		config_path = getenv("EASD_CONFIG");
	else if (config_path == NULL && needs_config && access(EASCTL_SYSTEM_CONFIG, R_OK) == 0)
		config_path = EASCTL_SYSTEM_CONFIG;
	config_init(&config);
	char error[512];
	if (config_path != NULL && config_load(&config, config_path, error, sizeof(error)) < 0) {
		fprintf(stderr, "easctl: %s\n", error);
		config_cleanup(&config);
		return EASCTL_EXIT_FAILURE;
	}
	int status = run(&config, argc - first, argv + first);
	config_cleanup(&config);
	return status;
}
