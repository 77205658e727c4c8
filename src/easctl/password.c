/*
 * password.c: the new password of `easctl user add` and `user passwd`.
 * On a terminal it is asked for twice without echo, so a typing mistake
 * that cannot be seen is not stored; from a pipe or a file (scripts,
 * provisioning) it is the first line. Both ways a password shorter than
 * EASCTL_PASSWORD_MIN characters is refused. Must not: leave the terminal
 * without echo, or keep a copy of the password once it is hashed.
 */
#include "easctl/easctl.h"

#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Characters, not bytes: a UTF-8 continuation byte (10xxxxxx) adds none. */
static size_t characters(const char *text)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
		n += (*p & 0xc0) != 0x80;
	return n;
}

/* One line, its line end removed. Returns 0, -1 at end of input, -2 if longer than the buffer. */
static int read_line(char *out, size_t out_len)
{
	if (fgets(out, (int)out_len, stdin) == NULL)
		return -1;
	size_t len = strcspn(out, "\r\n");
	bool complete = out[len] != '\0' || feof(stdin);
	out[len] = '\0';
	if (complete)
		return 0;
	int c;
	while ((c = getchar()) != EOF && c != '\n')
		;
	return -2;
}

/*
 * Asks on standard error and reads a line with echo off. Echo goes off
 * before the prompt shows: TCSAFLUSH drops what was typed before it, so
 * nothing typed after the prompt may be lost. Same returns as read_line.
 */
static int ask(const char *prompt, char *out, size_t out_len)
{
	struct termios saved, quiet;
	bool restore = tcgetattr(STDIN_FILENO, &saved) == 0;
	if (restore) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	fputs(prompt, stderr);
	int status = read_line(out, out_len);
	if (restore)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	fputc('\n', stderr);
	return status;
}

/* Says what is wrong with a password as read, or returns 0 when it may be used. */
static int check(int status, const char *password, size_t out_len)
{
	if (status == -2) {
		fprintf(stderr, "easctl: the password is longer than %zu bytes; nothing changed\n", out_len - 2);
		return -1;
	}
	if (status < 0 || password[0] == '\0') {
		fputs("easctl: no password given; nothing changed\n", stderr);
		return -1;
	}
	size_t n = characters(password);
	if (n < EASCTL_PASSWORD_MIN) {
		fprintf(stderr, "easctl: the password has %zu character%s; it needs at least %d; nothing changed\n",
			n, n == 1 ? "" : "s", EASCTL_PASSWORD_MIN);
		return -1;
	}
	return 0;
}

int easctl_read_new_password(char *out, size_t out_len)
{
	if (!isatty(STDIN_FILENO))
		return check(read_line(out, out_len), out, out_len);
	char prompt[64];
	snprintf(prompt, sizeof(prompt), "Password (at least %d characters): ", EASCTL_PASSWORD_MIN);
	if (check(ask(prompt, out, out_len), out, out_len) < 0)
		return -1;
	char again[EASCTL_PASSWORD_MAX];
	int status = ask("The same password again: ", again, sizeof(again));
	bool same = status == 0 && strcmp(out, again) == 0;
	explicit_bzero(again, sizeof(again));
	if (!same) {
		explicit_bzero(out, out_len);
		fputs("easctl: the two passwords differ; nothing changed\n", stderr);
		return -1;
	}
	return 0;
}
