/*
 * backup_cmd.c: `easctl backup [--force] FILE` and `easctl restore FILE`.
 * A backup is taken from the live database while easd serves it; a
 * restore replaces the database of a stopped easd, and only with a file
 * that checks out. The copying is the store's (store_backup.c); this file
 * decides what may be overwritten and says what happened.
 */
#include "easctl/easctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "push/push.h"
#include "store/store.h"

/* What a backup holds, after the words saying what was done with it. */
static void print_info(const struct store_backup_info *info)
{
	printf(": %" PRIu64 " bytes, schema version %d, %" PRId64 " user%s\n", info->size, info->schema_version,
	       info->users, info->users == 1 ? "" : "s");
}

/* Backing up a data directory without a database would create an empty one and copy that. */
static int database_exists(const struct easd_config *config)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", config->data_dir, STORE_DATABASE_NAME);
	if (stat(path, &st) == 0)
		return 0;
	fprintf(stderr, "easctl: backup: %s: %s (is [store] data_dir right?)\n", path, strerror(errno));
	return -1;
}

static int backup(const struct easd_config *config, const char *path, bool force)
{
	struct stat st;
	if (!force && lstat(path, &st) == 0) {
		fprintf(stderr, "easctl: backup: %s exists; --force replaces it\n", path);
		return EASCTL_EXIT_FAILURE;
	}
	if (database_exists(config) < 0)
		return EASCTL_EXIT_FAILURE;
	char error[1024];
	struct store_backup_info info;
	/* Not through store_open: a newer easctl would migrate the database under the easd that runs. */
	int status = store_backup(config->data_dir, path, &info, error, sizeof(error));
	if (status < 0) {
		fprintf(stderr, "easctl: backup: %s\n", error);
		return EASCTL_EXIT_FAILURE;
	}
	printf("backup %s", path);
	print_info(&info);
	return 0;
}

static int restore(const struct easd_config *config, const char *path)
{
	struct store_backup_info info;
	char error[1024];
	if (store_backup_check(path, &info, error, sizeof(error)) < 0) {
		fprintf(stderr, "easctl: restore: %s; nothing was changed\n", error);
		return EASCTL_EXIT_FAILURE;
	}
	/* easd keeps the database open: replacing it under easd would lose what it writes next. */
	if (push_served(config->data_dir)) {
		fprintf(stderr, "easctl: restore: an easd serves %s; stop it first (nothing was changed)\n",
			config->data_dir);
		return EASCTL_EXIT_FAILURE;
	}
	if (store_restore(config->data_dir, path, error, sizeof(error)) < 0) {
		fprintf(stderr, "easctl: restore: %s; the database was not replaced\n", error);
		return EASCTL_EXIT_FAILURE;
	}
	printf("restored %s into %s/%s", path, config->data_dir, STORE_DATABASE_NAME);
	print_info(&info);
	if (info.schema_version < info.latest_version)
		printf("easd migrates it from schema version %d to %d when it next starts\n", info.schema_version,
		       info.latest_version);
	return 0;
}

int easctl_backup(const struct easd_config *config, int argc, char **argv)
{
	bool force = argc == 2 && strcmp(argv[0], "--force") == 0;
	if (argc != (force ? 2 : 1) || argv[argc - 1][0] == '\0' || argv[argc - 1][0] == '-') {
		fputs("usage: easctl backup [--force] FILE\n", stderr);
		return EASCTL_EXIT_USAGE;
	}
	return backup(config, argv[argc - 1], force);
}

int easctl_restore(const struct easd_config *config, int argc, char **argv)
{
	if (argc != 1 || argv[0][0] == '\0' || argv[0][0] == '-') {
		fputs("usage: easctl restore FILE\n", stderr);
		return EASCTL_EXIT_USAGE;
	}
	return restore(config, argv[0]);
}
