/*
 * user_cmd.c: `easctl user add|passwd|del|disable|enable|list`. Works on the store in the
 * configured data directory; safe while easd runs (SQLite locking, and
 * easd notices a password change through the credential version).
 */
#include "easctl/easctl.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "guard/auth.h"
#include "store/store.h"

/* A user name: what a phone's account field can hold, without separators. */
static bool valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64)
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
		    strchr("._-", *p) == NULL)
			return false;
	return true;
}

/*
 * The user as stored under name (names ignore case). Returns 0 and the
 * stored spelling, 1 if there is none, -1 (message printed) on a store error.
 */
static int find_user(struct store_session *session, struct arena *arena, const char *name, const char **stored_out)
{
	struct store_user user;
	int status = store_user_find(session, arena, name, &user);
	if (status == STORE_NOT_FOUND)
		return 1;
	if (status != STORE_OK) {
		fprintf(stderr, "easctl: store: %s\n", store_session_error(session));
		return -1;
	}
	*stored_out = user.name;
	return 0;
}

/* Refuses before the password is asked for: "Alice" when alice exists is alice. */
static int check_user(struct store_session *session, const char *name, bool add)
{
	struct arena *arena = arena_new(0);
	const char *stored = NULL;
	int found = find_user(session, arena, name, &stored);
	if (found == 0 && add)
		fprintf(stderr, "easctl: user %s exists already%s\n", stored,
			strcmp(stored, name) != 0 ? " (user names ignore case)" : "");
	else if (found == 1 && !add)
		fprintf(stderr, "easctl: no user %s\n", name);
	arena_free(&arena);
	bool refused = found < 0 || (add ? found == 0 : found == 1);
	return refused ? -1 : 0;
}

static int set_password(struct store_session *session, const char *name, bool add)
{
	if (check_user(session, name, add) < 0)
		return EASCTL_EXIT_FAILURE;
	char password[EASCTL_PASSWORD_MAX], hash[256];
	int status = easctl_read_new_password(password, sizeof(password));
	int hashed = status == 0 ? guard_password_hash(password, hash, sizeof(hash)) : 0;
	explicit_bzero(password, sizeof(password));
	if (status < 0)
		return EASCTL_EXIT_FAILURE;
	if (hashed < 0) {
		fputs("easctl: cannot hash the password\n", stderr);
		return EASCTL_EXIT_FAILURE;
	}
	status = add ? store_user_add(session, name, hash, NULL) : store_user_set_password(session, name, hash);
	/* Added or deleted by another easctl meanwhile: check_user says so, in the same words. */
	if (status == STORE_EXISTS || status == STORE_NOT_FOUND)
		check_user(session, name, add);
	else if (status != STORE_OK)
		fprintf(stderr, "easctl: store: %s\n", store_session_error(session));
	return status == STORE_OK ? 0 : EASCTL_EXIT_FAILURE;
}

/* One name a line; what is switched off follows it, so a plain list stays a list of names. */
static void print_user(void *context, const struct store_user *user)
{
	(void)context;
	printf("%s%s%s%s\n", user->name, user->sync_disabled ? "  (sync disabled)" : "",
	       user->disabled_classes[0] != '\0' ? "  classes off: " : "", user->disabled_classes);
}

static int list_users(struct store_session *session)
{
	struct arena *arena = arena_new(0);
	int status = store_user_list(session, arena, print_user, NULL);
	arena_free(&arena);
	if (status != STORE_OK)
		fprintf(stderr, "easctl: store: %s\n", store_session_error(session));
	return status == STORE_OK ? 0 : EASCTL_EXIT_FAILURE;
}

static int delete_user(struct store_session *session, const char *name)
{
	int status = store_user_delete(session, name);
	if (status == STORE_NOT_FOUND)
		fprintf(stderr, "easctl: no user %s\n", name);
	else if (status != STORE_OK)
		fprintf(stderr, "easctl: store: %s\n", store_session_error(session));
	return status == STORE_OK ? 0 : EASCTL_EXIT_FAILURE;
}

/* Takes class out of the list ("Contacts,Notes" without "Notes"). */
static void remove_class(char *list, const char *class)
{
	char kept[64] = "";
	for (char *p = list; *p != '\0';) {
		size_t len = strcspn(p, ",");
		if (len != strlen(class) || strncmp(p, class, len) != 0)
			snprintf(kept + strlen(kept), sizeof(kept) - strlen(kept), "%s%.*s", kept[0] != '\0' ? "," : "",
				 (int)len, p);
		p += len + (p[len] == ',');
	}
	strcpy(list, kept);
}

static void report_sync(int status, struct store_session *session, const char *name, bool disable,
			const char *classes_off, const char *stored)
{
	if (status == STORE_NOT_FOUND)
		fprintf(stderr, "easctl: no user %s\n", name);
	else if (status != STORE_OK)
		fprintf(stderr, "easctl: store: %s\n", store_session_error(session));
	else if (classes_off != NULL)
		printf("%s: classes off: %s (devices are told at their next FolderSync)\n", stored,
		       classes_off[0] != '\0' ? classes_off : "none");
	else
		printf("%s: sync %s\n", stored, disable ? "disabled (devices are told so at their next request)" : "enabled");
}

/*
 * disable NAME: every device of the user is answered UserDisabledForSync
 * (126) until enable NAME. With classes: only those classes are switched
 * off (their folders leave the user's devices) or back on.
 */
static int set_sync(struct store_session *session, const char *name, bool disable, int class_count, char **classes)
{
	char named[64], next[64], joined[160];
	gchar *words = g_strjoinv(",", classes);
	int valid = config_classes_normalize(words, named, sizeof(named));
	g_free(words);
	if (valid < 0) {
		fputs("easctl: classes are Email, Calendar, Contacts, Tasks and Notes\n", stderr);
		return EASCTL_EXIT_USAGE;
	}
	struct arena *arena = arena_new(0);
	struct store_user user = { .name = name };
	int status = store_user_find(session, arena, name, &user);
	if (status == STORE_OK) {
		/* The classes now off: the user's, with the named ones added or taken away. */
		snprintf(joined, sizeof(joined), "%s,%s", user.disabled_classes, disable ? named : "");
		config_classes_normalize(joined, next, sizeof(next));
		for (char *c = strtok(named, ","); !disable && c != NULL; c = strtok(NULL, ","))
			remove_class(next, c);
		status = store_user_set_sync(session, user.name, class_count > 0 ? user.sync_disabled : disable, next);
	}
	report_sync(status, session, name, disable, class_count > 0 ? next : NULL, user.name);
	arena_free(&arena);
	return status == STORE_OK ? 0 : EASCTL_EXIT_FAILURE;
}

static bool named_command(const char *command)
{
	static const char *const commands[] = { "add", "passwd", "del", "disable", "enable" };
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i], command) == 0)
			return true;
	return false;
}

int easctl_user(const struct easd_config *config, int argc, char **argv)
{
	bool list = argc == 1 && strcmp(argv[0], "list") == 0;
	bool switching = argc >= 2 && (strcmp(argv[0], "disable") == 0 || strcmp(argv[0], "enable") == 0);
	bool named = (argc == 2 && named_command(argv[0])) || switching;
	if (!list && !named) {
		fputs("usage: easctl user add|passwd|del NAME, easctl user disable|enable NAME [CLASS...], "
		      "easctl user list\n", stderr);
		return EASCTL_EXIT_USAGE;
	}
	if (named && strcmp(argv[0], "add") == 0 && !valid_name(argv[1])) {
		fprintf(stderr, "easctl: '%s': a user name is 1 to 64 letters, digits, '.', '_' or '-'\n", argv[1]);
		return EASCTL_EXIT_FAILURE;
	}
	struct store *store;
	struct store_session *session;
	if (easctl_open_store(config, &store, &session) < 0)
		return EASCTL_EXIT_FAILURE;
	int status;
	if (list)
		status = list_users(session);
	else if (strcmp(argv[0], "del") == 0)
		status = delete_user(session, argv[1]);
	else if (switching)
		status = set_sync(session, argv[1], strcmp(argv[0], "disable") == 0, argc - 2, argv + 2);
	else
		status = set_password(session, argv[1], strcmp(argv[0], "add") == 0);
	easctl_close_store(&store, &session);
	return status;
}
