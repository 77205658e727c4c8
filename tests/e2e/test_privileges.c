/*
 * test_privileges.c: [service] user, against a real easd (issue 14).
 * Started as root, easd binds, opens its store and its logs, hands its
 * files to the user and becomes it: every thread runs as the user with no
 * capability, the store writes as the user, SIGHUP creates the new logs as
 * the user, it stops with status 0, and a later start as the user itself
 * serves on the same files. A user that does not exist, or one easd
 * cannot become, stops the start-up with one line.
 *
 * The tests run as root (they start easd as root, and as nobody); a case
 * that needs root is skipped without it. nobody must be able to reach the
 * server's directory, so it is made 755.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <glib.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "log/access.h"
#include "log/errorlog.h"
#include "push/push.h"
#include "store/store.h"

static const char *const users[] = { "alice:correct horse", NULL };
static const char foldersync_zero[] = "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>";

struct fixture {
	struct e2e_server server;
	struct easclient_response response;
	struct arena *arena;
	uid_t uid; /* nobody's */
	gid_t gid;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	f->server.exit_status = -1;
	easclient_response_init(&f->response);
	f->arena = arena_new(0);
	const struct passwd *nobody = getpwnam("nobody");
	f->uid = nobody != NULL ? nobody->pw_uid : 0;
	f->gid = nobody != NULL ? nobody->pw_gid : 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	easclient_response_cleanup(&f->response);
	arena_free(&f->arena);
	int finished = e2e_finish(&f->server);
	free(f);
	return finished;
}

/* Only root can start easd as root, or as nobody. */
static void need_root_and_nobody(const struct fixture *f)
{
	if (geteuid() != 0 || f->uid == 0) {
		fprintf(stderr, "skipped: needs to run as root, with a user nobody\n");
		skip();
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static char *path_in(const struct e2e_server *server, const char *name)
{
	return g_strdup_printf("%s/%s", server->dir, name);
}

static char *stderr_text(const struct e2e_server *server)
{
	char *path = path_in(server, "easd.stderr"), *text = NULL;
	if (!g_file_get_contents(path, &text, NULL, NULL))
		text = g_strdup("(no easd.stderr)");
	g_free(path);
	return text;
}

/* easd may say it after it serves (the port file the start waits for comes first): up to 5 s. */
static void assert_stderr_has(const struct e2e_server *server, const char *needle)
{
	char *text = stderr_text(server);
	for (int i = 0; i < 100 && strstr(text, needle) == NULL; i++) {
		g_free(text);
		sleep_ms(50);
		text = stderr_text(server);
	}
	if (strstr(text, needle) == NULL)
		fail_msg("expected \"%s\" on easd's stderr, got:\n%s", needle, text);
	g_free(text);
}

/* Provision, then FolderSync from 0, as alice on a fresh device: the store reads and writes. */
static void ordinary_request_succeeds(struct fixture *f, const char *device_id)
{
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", device_id);
	struct easclient *client = easclient_new(&options);
	assert_int_equal(easclient_provision(client, &f->response), 0);
	assert_int_equal(easclient_post_xml(client, "FolderSync", foldersync_zero, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	struct wbxml_node *root = easclient_parse(&f->response, f->arena);
	assert_non_null(root);
	assert_string_equal(easclient_find_text(root, WBXML_FOLDERHIERARCHY_STATUS, f->arena), "1");
	assert_string_equal(easclient_find_text(root, WBXML_FOLDERHIERARCHY_COUNT, f->arena), "9");
	easclient_free(&client);
	assert_true(e2e_log_has(&f->server, (const char *const[]){ device_id, "FolderSync", "\t200\t", NULL }));
}

/* The value of a "Name:" line of a status file ("Uid:\t65534\t65534\t65534\t65534"), or NULL. */
static const char *status_field(const char *text, const char *name)
{
	size_t len = strlen(name);
	for (const char *line = text; line != NULL; line = strchr(line, '\n')) {
		line += *line == '\n';
		if (strncmp(line, name, len) == 0)
			return line + len;
	}
	return NULL;
}

/* Whether the field holds exactly count copies of value (the real, effective, saved and file ids). */
static bool field_is_all(const char *field, unsigned value, int count)
{
	for (int i = 0; i < count; i++) {
		char *end;
		if (field == NULL || strtoul(field, &end, 10) != value || end == field)
			return false;
		field = end;
	}
	return true;
}

/* No supplementary group 0 left over from root. */
static bool groups_without_root(const char *field)
{
	for (char *end; field != NULL && *(field += strspn(field, " \t")) != '\0' && *field != '\n'; field = end)
		if (strtoul(field, &end, 10) == 0 || end == field)
			return false;
	return true;
}

/* Every thread of pid (the HTTP threads, the push hub's, ...): nobody's ids, no capability. */
static void assert_every_thread_runs_as(pid_t pid, uid_t uid, gid_t gid)
{
	char *tasks = g_strdup_printf("/proc/%d/task", (int)pid);
	DIR *dir = opendir(tasks);
	assert_non_null(dir);
	unsigned threads = 0;
	for (const struct dirent *entry; (entry = readdir(dir)) != NULL;) {
		if (entry->d_name[0] == '.')
			continue;
		char *path = g_strdup_printf("%s/%s/status", tasks, entry->d_name), *text = NULL;
		assert_true(g_file_get_contents(path, &text, NULL, NULL));
		if (!field_is_all(status_field(text, "Uid:"), uid, 4) || !field_is_all(status_field(text, "Gid:"), gid, 4) ||
		    !field_is_all(status_field(text, "CapEff:"), 0, 1) || !field_is_all(status_field(text, "CapPrm:"), 0, 1) ||
		    !groups_without_root(status_field(text, "Groups:")))
			fail_msg("thread %s of easd is not nobody's alone:\n%s", entry->d_name, text);
		threads++;
		g_free(text);
		g_free(path);
	}
	closedir(dir);
	g_free(tasks);
	assert_true(threads >= 3); /* the main thread and at least the two HTTP threads */
}

/* name (in the server's directory) is there and nobody's, user and group. */
static void assert_owned_by_nobody(const struct fixture *f, const char *name)
{
	char *path = path_in(&f->server, name);
	struct stat st;
	if (lstat(path, &st) < 0)
		fail_msg("%s: missing", path);
	if (st.st_uid != f->uid || st.st_gid != f->gid)
		fail_msg("%s: owned by %u:%u, not nobody's %u:%u", path, (unsigned)st.st_uid, (unsigned)st.st_gid,
			 (unsigned)f->uid, (unsigned)f->gid);
	g_free(path);
}

/* Renames log/name to log/name.1 (as logrotate does). */
static void rotate(const struct fixture *f, const char *name)
{
	char *log = g_strdup_printf("%s/log/%s", f->server.dir, name);
	char *rotated = g_strdup_printf("%s.1", log);
	assert_int_equal(rename(log, rotated), 0);
	g_free(rotated);
	g_free(log);
}

/* Waits up to 2 s for log/name to be there again. */
static bool log_back(const struct fixture *f, const char *name)
{
	char *log = g_strdup_printf("%s/log/%s", f->server.dir, name);
	struct stat st;
	bool there = false;
	for (int waited = 0; waited < 2000 && !(there = stat(log, &st) == 0); waited += 20)
		sleep_ms(20);
	g_free(log);
	return there;
}

static void start_as_root_serving_as_nobody(struct fixture *f)
{
	assert_int_equal(e2e_prepare(&f->server), 0);
	assert_int_equal(chmod(f->server.dir, 0755), 0);
	assert_int_equal(e2e_start_prepared(&f->server, "[service]\nuser = nobody\n", users), 0);
	char *said = g_strdup_printf("easd: running as user nobody (uid %u)\n", (unsigned)f->uid);
	assert_stderr_has(&f->server, said);
	g_free(said);
}

/* The data and the log directory, and every file easd uses in them, are nobody's. */
static void assert_files_are_nobodys(struct fixture *f)
{
	static const char *const names[] = {
		"data", "data/" STORE_DATABASE_NAME, "data/" STORE_DATABASE_NAME "-wal", "data/" STORE_DATABASE_NAME "-shm",
		"data/" PUSH_SOCKET_NAME, "log", "log/" ACCESS_LOG_NAME, "log/" ERROR_LOG_NAME,
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_owned_by_nobody(f, names[i]);
}

/*
 * Issue 14: started as root with [service] user = nobody, easd serves as
 * nobody: the threads, the store's writes, the logs SIGHUP creates, a
 * clean stop (push.sock removed by nobody).
 */
static void started_as_root_serves_as_the_service_user(void **state)
{
	struct fixture *f = *state;
	need_root_and_nobody(f);
	start_as_root_serving_as_nobody(f);
	assert_every_thread_runs_as(f->server.pid, f->uid, f->gid);
	/* The connections the store opens for requests open (and write) as nobody. */
	ordinary_request_succeeds(f, "NOBODY1");
	assert_files_are_nobodys(f);

	rotate(f, ACCESS_LOG_NAME);
	rotate(f, ERROR_LOG_NAME);
	assert_int_equal(kill(f->server.pid, SIGHUP), 0);
	assert_true(log_back(f, ACCESS_LOG_NAME));
	assert_true(log_back(f, ERROR_LOG_NAME));
	assert_owned_by_nobody(f, "log/" ACCESS_LOG_NAME);
	assert_owned_by_nobody(f, "log/" ERROR_LOG_NAME);
	ordinary_request_succeeds(f, "NOBODY2");
	assert_every_thread_runs_as(f->server.pid, f->uid, f->gid);

	assert_int_equal(e2e_stop(&f->server), 0);
	char *socket_path = path_in(&f->server, "data/" PUSH_SOCKET_NAME);
	assert_int_equal(access(socket_path, F_OK), -1);
	g_free(socket_path);
}

/*
 * What root handed over is all nobody needs: started as nobody itself
 * (as systemd's User= does), with the same [service] user, easd serves on
 * the same files and switches nothing.
 */
static void started_as_the_service_user_itself_changes_nothing(void **state)
{
	struct fixture *f = *state;
	need_root_and_nobody(f);
	start_as_root_serving_as_nobody(f);
	ordinary_request_succeeds(f, "ROOTSTART");
	assert_int_equal(e2e_stop(&f->server), 0);

	/* nobody writes the port file, in the server's directory. */
	assert_int_equal(chown(f->server.dir, f->uid, f->gid), 0);
	char *stderr_path = path_in(&f->server, "easd.stderr");
	unlink(stderr_path);
	g_free(stderr_path);
	f->server.run_as_uid = f->uid;
	f->server.run_as_gid = f->gid;
	assert_int_equal(e2e_start_prepared(&f->server, "[service]\nuser = nobody\n", NULL), 0);
	assert_every_thread_runs_as(f->server.pid, f->uid, f->gid);
	ordinary_request_succeeds(f, "NOBODYSTART");
	char *text = stderr_text(&f->server);
	assert_null(strstr(text, "running as user"));
	g_free(text);
}

/* easd.stderr is exactly one line, and it says expected. */
static void assert_one_line(const struct e2e_server *server, const char *expected)
{
	char *text = stderr_text(server);
	const char *newline = strchr(text, '\n');
	if (strstr(text, expected) == NULL || newline == NULL || newline[1] != '\0')
		fail_msg("expected one line saying \"%s\", got:\n%s", expected, text);
	g_free(text);
}

/* A user this system does not have: one line, status 1, and nothing made or opened (no log directory). */
static void unknown_service_user_stops_start_up(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(e2e_prepare(&f->server), 0);
	assert_int_equal(e2e_start_prepared(&f->server, "[service]\nuser = easd-no-such-user\n", users), -1);
	assert_int_equal(f->server.exit_status, 1);
	assert_one_line(&f->server, "easd: [service] user 'easd-no-such-user': no such user on this system");
	char *log_dir = path_in(&f->server, "log");
	assert_int_equal(access(log_dir, F_OK), -1);
	g_free(log_dir);

	/* The administrator fixes the name: the same directory starts and serves. */
	char *stderr_path = path_in(&f->server, "easd.stderr");
	unlink(stderr_path);
	g_free(stderr_path);
	assert_int_equal(e2e_start_prepared(&f->server, "[service]\nuser =\n", NULL), 0);
	ordinary_request_succeeds(f, "FIXED1");
}

/* Started as nobody with [service] user = root: only root switches users, so one line and status 1. */
static void service_user_easd_cannot_become_stops_start_up(void **state)
{
	struct fixture *f = *state;
	need_root_and_nobody(f);
	assert_int_equal(e2e_prepare(&f->server), 0);
	assert_int_equal(chmod(f->server.dir, 0755), 0);
	f->server.run_as_uid = f->uid;
	f->server.run_as_gid = f->gid;
	assert_int_equal(e2e_start_prepared(&f->server, "[service]\nuser = root\n", users), -1);
	assert_int_equal(f->server.exit_status, 1);
	char *expected = g_strdup_printf("easd: [service] user is root (uid 0), but easd runs as uid %u, and only "
					 "root can become another user: start easd as root", (unsigned)f->uid);
	assert_one_line(&f->server, expected);
	g_free(expected);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(started_as_root_serves_as_the_service_user, setup, teardown),
		cmocka_unit_test_setup_teardown(started_as_the_service_user_itself_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_service_user_stops_start_up, setup, teardown),
		cmocka_unit_test_setup_teardown(service_user_easd_cannot_become_stops_start_up, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
