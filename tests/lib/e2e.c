/* e2e.c: see e2e.h. */
#include "e2e.h"
#include "push/push.h"

#include <errno.h>
#include <glib.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guard/auth.h"
#include "store/store.h"

#define E2E_START_TIMEOUT_MS 10000

static const char base_config[] =
	"[http]\nlisten = 127.0.0.1:0\nport_file = %s/http.port\nthreads = 2\n"
	"[store]\ndata_dir = %s/data\n"
	"[log]\ndir = %s/log\n"
	"[lmtp]\nlisten =\n"
	/* Off: tests running at once would all want the default metrics port (9187). */
	"[metrics]\nlisten =\n";

static int write_config(struct e2e_server *server, const char *extra_config)
{
	FILE *out = fopen(server->config, "w");
	if (out == NULL)
		return -1;
	fprintf(out, base_config, server->dir, server->dir, server->dir);
	if (extra_config != NULL)
		fputs(extra_config, out);
	return fclose(out);
}

static int add_users(struct e2e_server *server, const char *const *users)
{
	struct store *store;
	char error[512], path[300];
	snprintf(path, sizeof(path), "%s/data", server->dir);
	if (store_open(path, 1, &store, error, sizeof(error)) < 0) {
		fprintf(stderr, "e2e: %s\n", error);
		return -1;
	}
	struct store_session *session = store_session_acquire(store);
	int status = 0;
	for (size_t i = 0; users != NULL && users[i] != NULL && status == 0; i++) {
		char name[128], hash[256];
		const char *colon = strchr(users[i], ':');
		snprintf(name, sizeof(name), "%.*s", (int)(colon - users[i]), users[i]);
		if (guard_password_hash(colon + 1, hash, sizeof(hash)) < 0 ||
		    store_user_add(session, name, hash, NULL) != STORE_OK)
			status = -1;
	}
	store_session_release(&session);
	store_close(&store);
	return status;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Waits for the port file easd writes once it listens. */
static int wait_for_port(struct e2e_server *server)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/http.port", server->dir);
	for (int waited = 0; waited < E2E_START_TIMEOUT_MS; waited += 20) {
		FILE *in = fopen(path, "r");
		unsigned port = 0;
		if (in != NULL) {
			int n = fscanf(in, "%u", &port);
			fclose(in);
			if (n == 1 && port > 0) {
				server->port = (uint16_t)port;
				snprintf(server->url, sizeof(server->url), "%s://127.0.0.1:%u",
					 server->https ? "https" : "http", port);
				return 0;
			}
		}
		int status;
		if (waitpid(server->pid, &status, WNOHANG) == server->pid) {
			server->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
			fprintf(stderr, "e2e: easd exited during start-up (status %d)\n", server->exit_status);
			server->pid = 0;
			return -1;
		}
		sleep_ms(20);
	}
	fprintf(stderr, "e2e: easd did not start within %d ms\n", E2E_START_TIMEOUT_MS);
	return -1;
}

/*
 * easd started as another user runs from a copy in the test's directory:
 * the build may lie in a directory only root can enter (a checkout made by
 * mktemp -d is 0700).
 */
static int copy_for_user(const char *from, const char *dir, char *to, size_t to_len)
{
	gchar *bytes = NULL;
	gsize len = 0;
	snprintf(to, to_len, "%s/easd", dir);
	if (!g_file_get_contents(from, &bytes, &len, NULL))
		return -1;
	bool written = g_file_set_contents(to, bytes, (gssize)len, NULL) && chmod(to, 0755) == 0;
	g_free(bytes);
	return written ? 0 : -1;
}

static int launch(struct e2e_server *server)
{
	char path[300], easd[300], built[300];
	const char *build = getenv("EASD_BUILD");
	snprintf(built, sizeof(built), "%s/easd", build != NULL ? build : "build");
	snprintf(easd, sizeof(easd), "%s", built);
	if (server->run_as_uid != 0 && copy_for_user(built, server->dir, easd, sizeof(easd)) < 0) {
		fprintf(stderr, "e2e: cannot copy easd into %s\n", server->dir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/http.port", server->dir);
	unlink(path);
	server->exit_status = -1;
	server->pid = fork();
	if (server->pid < 0)
		return -1;
	if (server->pid == 0) {
		char log[300];
		snprintf(log, sizeof(log), "%s/easd.stderr", server->dir);
		if (freopen(log, "a", stderr) == NULL)
			_exit(127);
		if (server->run_as_uid != 0 &&
		    (setgroups(0, NULL) < 0 || setgid(server->run_as_gid) < 0 || setuid(server->run_as_uid) < 0)) {
			fprintf(stderr, "e2e: cannot become uid %u: %s\n", (unsigned)server->run_as_uid, strerror(errno));
			_exit(127);
		}
		execl(easd, "easd", "-c", server->config, (char *)NULL);
		fprintf(stderr, "e2e: cannot run %s: %s\n", easd, strerror(errno));
		_exit(127);
	}
	return wait_for_port(server);
}

int e2e_prepare(struct e2e_server *server)
{
	memset(server, 0, sizeof(*server));
	server->exit_status = -1;
	const char *tmp = getenv("TMPDIR");
	snprintf(server->dir, sizeof(server->dir), "%s/easd-e2e-XXXXXX", tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(server->dir) == NULL) {
		server->dir[0] = '\0';
		return -1;
	}
	snprintf(server->config, sizeof(server->config), "%s/easd.conf", server->dir);
	return 0;
}

int e2e_start_prepared(struct e2e_server *server, const char *extra_config, const char *const *users)
{
	if (write_config(server, extra_config) < 0 || add_users(server, users) < 0)
		return -1;
	return launch(server);
}

/* The line of text with needle after its first skip bytes (g_free), or NULL. */
static char *line_after(const char *text, size_t skip, const char *needle)
{
	const char *found = text != NULL && strlen(text) > skip ? strstr(text + skip, needle) : NULL;
	if (found == NULL)
		return NULL;
	const char *start = found;
	while (start > text + skip && start[-1] != '\n')
		start--;
	return g_strndup(start, strcspn(start, "\n"));
}

char *e2e_reload(struct e2e_server *server, const char *extra_config, const char *needle)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/easd.stderr", server->dir);
	/* Only lines written after this SIGHUP count. */
	char *before = NULL;
	g_file_get_contents(path, &before, NULL, NULL);
	size_t skip = before != NULL ? strlen(before) : 0;
	g_free(before);
	if ((extra_config != NULL && write_config(server, extra_config) < 0) || kill(server->pid, SIGHUP) < 0)
		return NULL;
	char *line = NULL;
	for (int waited = 0; waited < 5000 && line == NULL; waited += 20) {
		char *text = NULL;
		g_file_get_contents(path, &text, NULL, NULL);
		line = line_after(text, skip, needle);
		g_free(text);
		if (line == NULL)
			sleep_ms(20);
	}
	return line;
}

int e2e_start(struct e2e_server *server, const char *extra_config, const char *const *users)
{
	if (e2e_prepare(server) < 0)
		return -1;
	return e2e_start_prepared(server, extra_config, users);
}

int e2e_restart(struct e2e_server *server, const char *extra_config)
{
	if (e2e_stop(server) != 0 || write_config(server, extra_config) < 0)
		return -1;
	return launch(server);
}

int e2e_crash_restart(struct e2e_server *server)
{
	if (server->pid <= 0)
		return -1;
	kill(server->pid, SIGKILL);
	while (waitpid(server->pid, NULL, 0) < 0 && errno == EINTR)
		continue;
	server->pid = 0;
	return launch(server);
}

int e2e_stop(struct e2e_server *server)
{
	if (server->pid <= 0)
		return -1;
	int status = 0;
	kill(server->pid, SIGTERM);
	pid_t pid;
	while ((pid = waitpid(server->pid, &status, 0)) < 0 && errno == EINTR)
		continue;
	server->pid = 0;
	if (pid >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	/* Say how it ended, with easd's last words, before the directory goes. */
	if (pid < 0)
		fprintf(stderr, "e2e: waitpid: %s\n", strerror(errno));
	else if (WIFSIGNALED(status))
		fprintf(stderr, "e2e: easd ended by signal %d (%s)\n", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		fprintf(stderr, "e2e: easd exited with status %d\n", WEXITSTATUS(status));
	char command[400];
	snprintf(command, sizeof(command), "cat '%s/easd.stderr' >&2", server->dir);
	if (system(command) != 0)
		fprintf(stderr, "e2e: no easd.stderr\n");
	return pid < 0 || !WIFEXITED(status) ? -1 : WEXITSTATUS(status);
}

int e2e_finish(struct e2e_server *server)
{
	int stopped = server->pid > 0 ? e2e_stop(server) : 0;
	if (stopped != 0) {
		fprintf(stderr, "e2e: easd's directory is kept: %s\n", server->dir);
		return -1;
	}
	e2e_cleanup(server);
	return 0;
}

void e2e_cleanup(struct e2e_server *server)
{
	if (server->pid > 0)
		e2e_stop(server);
	if (server->dir[0] != '\0') {
		char command[400];
		snprintf(command, sizeof(command), "rm -rf '%s'", server->dir);
		if (system(command) != 0)
			fprintf(stderr, "e2e: cannot remove %s\n", server->dir);
	}
}

static bool log_has_now(const struct e2e_server *server, const char *const *needles)
{
	char path[300], line[4096];
	snprintf(path, sizeof(path), "%s/log/access.log", server->dir);
	FILE *in = fopen(path, "r");
	if (in == NULL)
		return false;
	bool found = false;
	while (!found && fgets(line, sizeof(line), in) != NULL) {
		found = true;
		for (size_t i = 0; needles[i] != NULL && found; i++)
			found = strstr(line, needles[i]) != NULL;
	}
	fclose(in);
	return found;
}

/* The line is written after the response is sent: give easd a moment. */
bool e2e_log_has(const struct e2e_server *server, const char *const *needles)
{
	for (int waited = 0; waited < 2000; waited += 20) {
		if (log_has_now(server, needles))
			return true;
		sleep_ms(20);
	}
	return false;
}

int e2e_add_folder(const struct e2e_server *server, const char *user, const char *name)
{
	char path[300], error[256];
	struct store *store;
	struct store_user record;
	snprintf(path, sizeof(path), "%s/data", server->dir);
	if (store_open(path, 1, &store, error, sizeof(error)) < 0)
		return -1;
	store_set_change_listener(store, push_notify_changed, path);
	struct store_session *session = store_session_acquire(store);
	struct arena *arena = arena_new(0);
	int status = store_user_find(session, arena, user, &record);
	if (status == STORE_OK)
		status = store_folder_create(session, record.id, 0, name, STORE_FOLDER_USER_MAIL, NULL);
	arena_free(&arena);
	store_session_release(&session);
	store_close(&store);
	return status == STORE_OK ? 0 : -1;
}

struct easclient_options e2e_client_options(const struct e2e_server *server, const char *user,
					    const char *password, const char *device_id)
{
	return (struct easclient_options){
		.base_url = server->url,
		.user = user,
		.password = password,
		.device_id = device_id,
		.device_type = "TestPhone",
		.protocol_version = 141,
		.insecure_tls = server->https,
	};
}
