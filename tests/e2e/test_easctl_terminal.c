/*
 * test_easctl_terminal: `easctl user add|passwd` on a terminal, as an
 * administrator types: the real easctl on a pseudo-terminal (forkpty),
 * each answer written once its prompt shows. The pipe form is in
 * tests/cli/run.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct fixture {
	char dir[64];
	char config[128];
	char easctl[512];
	int master;          /* the terminal's other end, easctl's stdin, stdout and stderr */
	pid_t pid;
	char screen[4096];   /* everything easctl wrote to the terminal */
	size_t screen_len;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/easd-tty-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->config, sizeof(f->config), "%s/easd.conf", f->dir);
	FILE *config = fopen(f->config, "w");
	if (config == NULL)
		return -1;
	fprintf(config, "[store]\ndata_dir = %s/data\n", f->dir);
	fclose(config);
	const char *build = getenv("EASD_BUILD");
	snprintf(f->easctl, sizeof(f->easctl), "%s/easctl", build != NULL ? build : "build");
	f->master = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char command[128];
	snprintf(command, sizeof(command), "rm -rf '%s'", f->dir);
	int status = system(command);
	if (f->master >= 0)
		close(f->master);
	free(f);
	return status == 0 ? 0 : -1;
}

/* Starts `easctl -c CONFIG user VERB NAME` on a new terminal. */
static void start(struct fixture *f, const char *verb, const char *name)
{
	f->screen_len = 0;
	f->screen[0] = '\0';
	f->pid = forkpty(&f->master, NULL, NULL, NULL);
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		execl(f->easctl, "easctl", "-c", f->config, "user", verb, name, (char *)NULL);
		_exit(127);
	}
}

/* Reads what easctl writes until the screen holds text (NULL: until easctl closes the terminal); 5 s at most. */
static void wait_for(struct fixture *f, const char *text)
{
	while (text == NULL || strstr(f->screen, text) == NULL) {
		struct pollfd p = { .fd = f->master, .events = POLLIN };
		int ready = poll(&p, 1, 5000);
		if (ready <= 0)
			fail_msg("no '%s' on the terminal within 5 s; it shows: %s", text != NULL ? text : "end", f->screen);
		ssize_t n = read(f->master, f->screen + f->screen_len, sizeof(f->screen) - 1 - f->screen_len);
		if (n <= 0 && text == NULL)
			return; /* EIO: the last holder of the terminal's other end has gone */
		if (n <= 0)
			fail_msg("the terminal closed before '%s': %s", text, f->screen);
		f->screen_len += (size_t)n;
		f->screen[f->screen_len] = '\0';
	}
}

static void type(struct fixture *f, const char *line)
{
	size_t len = strlen(line);
	assert_int_equal(write(f->master, line, len), (ssize_t)len);
	assert_int_equal(write(f->master, "\n", 1), 1);
}

/* Waits for easctl's end; returns its exit status. */
static int finish(struct fixture *f)
{
	wait_for(f, NULL);
	int status;
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	close(f->master);
	f->master = -1;
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* One add or passwd typed at the terminal: the two answers, the exit status. */
static int run(struct fixture *f, const char *verb, const char *name, const char *first, const char *second)
{
	start(f, verb, name);
	wait_for(f, "Password (at least 8 characters): ");
	type(f, first);
	if (second != NULL) {
		wait_for(f, "The same password again: ");
		type(f, second);
	}
	return finish(f);
}

static char *users(struct fixture *f)
{
	char command[700];
	snprintf(command, sizeof(command), "'%s' -c '%s' user list", f->easctl, f->config);
	FILE *list = popen(command, "r");
	assert_non_null(list);
	static char names[256];
	size_t n = fread(names, 1, sizeof(names) - 1, list);
	names[n] = '\0';
	pclose(list);
	return names;
}

static void password_asked_twice_and_not_echoed(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run(f, "add", "alice", "correct horse", "correct horse"), 0);
	assert_null(strstr(f->screen, "correct horse"));
	assert_string_equal(users(f), "alice\n");
	assert_int_equal(run(f, "passwd", "alice", "battery staple", "battery staple"), 0);
	assert_null(strstr(f->screen, "battery staple"));
}

static void passwords_that_differ_are_refused(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run(f, "add", "alice", "correct horse", "correct hose"), 1);
	assert_non_null(strstr(f->screen, "easctl: the two passwords differ; nothing changed"));
	assert_string_equal(users(f), "");
}

/* Refused at the first answer: the confirmation is not asked for. */
static void short_password_is_refused_at_once(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run(f, "add", "alice", "horse", NULL), 1);
	assert_non_null(strstr(f->screen, "the password has 5 characters; it needs at least 8; nothing changed"));
	assert_null(strstr(f->screen, "again"));
	assert_string_equal(users(f), "");
	/* Eight is enough. */
	assert_int_equal(run(f, "add", "alice", "12345678", "12345678"), 0);
	assert_string_equal(users(f), "alice\n");
}

/* A user who exists, or does not, is refused before a password is typed for nothing. */
static void wrong_user_refused_before_the_prompt(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run(f, "add", "alice", "correct horse", "correct horse"), 0);
	start(f, "add", "Alice");
	assert_int_equal(finish(f), 1);
	assert_non_null(strstr(f->screen, "easctl: user alice exists already (user names ignore case)"));
	assert_null(strstr(f->screen, "Password"));
	start(f, "passwd", "bob");
	assert_int_equal(finish(f), 1);
	assert_non_null(strstr(f->screen, "easctl: no user bob"));
	assert_null(strstr(f->screen, "Password"));
}

#define CASE(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(password_asked_twice_and_not_echoed),
		CASE(passwords_that_differ_are_refused),
		CASE(short_password_is_refused_at_once),
		CASE(wrong_user_refused_before_the_prompt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
