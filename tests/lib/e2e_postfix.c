/* e2e_postfix.c: see e2e_postfix.h. */
#include "e2e_postfix.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

unsigned e2e_free_port(void)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(address);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&address, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	close(fd);
	return ntohs(address.sin_port);
}

static int script(const struct e2e_postfix *postfix, const char *command, const char *arguments)
{
	char line[1024];
	const char *source = getenv("EASD_SOURCE");
	snprintf(line, sizeof(line), "%s/tests/lib/postfix.sh %s %s %s", source != NULL ? source : ".", command,
		 postfix->dir, arguments);
	return system(line) == 0 ? 0 : -1;
}

int e2e_postfix_start(struct e2e_postfix *postfix)
{
	char ports[64];
	snprintf(postfix->dir, sizeof(postfix->dir), "/tmp/easd-postfix-XXXXXX");
	postfix->smtp_port = e2e_free_port();
	postfix->lmtp_port = e2e_free_port();
	snprintf(ports, sizeof(ports), "%u %u", postfix->smtp_port, postfix->lmtp_port);
	if (mkdtemp(postfix->dir) == NULL || postfix->smtp_port == 0 || postfix->lmtp_port == 0 ||
	    script(postfix, "start", ports) < 0) {
		fprintf(stderr, "e2e_postfix: cannot start Postfix (needs root and the postfix package)\n");
		return -1;
	}
	return 0;
}

int e2e_postfix_stop(struct e2e_postfix *postfix)
{
	char line[300];
	script(postfix, "stop", "");
	snprintf(line, sizeof(line), "rm -rf %s", postfix->dir);
	return system(line) == 0 ? 0 : -1;
}

const char *e2e_postfix_config(const struct e2e_postfix *postfix, unsigned relay_port, const char *more)
{
	static char config[1024];
	snprintf(config, sizeof(config),
		 "[lmtp]\nlisten = 127.0.0.1:%u\nlocal_domains = example.org\n"
		 "[smtp]\nrelay = 127.0.0.1:%u\ntimeout = 10\n%s",
		 postfix->lmtp_port, relay_port != 0 ? relay_port : postfix->smtp_port, more != NULL ? more : "");
	return config;
}

/* What tests/lib/postfix.sh ACTION prints for this Postfix, in arena. */
static const char *run_script(const struct e2e_postfix *postfix, struct arena *arena, const char *action)
{
	char command[400];
	const char *source = getenv("EASD_SOURCE");
	snprintf(command, sizeof(command), "%s/tests/lib/postfix.sh %s %s", source != NULL ? source : ".", action,
		 postfix->dir);
	FILE *pipe = popen(command, "r");
	if (pipe == NULL)
		return "";
	struct buf out;
	buf_init(&out, 0);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0)
		buf_append(&out, chunk, n);
	pclose(pipe);
	const char *text = arena_strndup(arena, out.data != NULL ? out.data : (const uint8_t *)"", out.len);
	buf_cleanup(&out);
	return text;
}

const char *e2e_postfix_queue(const struct e2e_postfix *postfix, struct arena *arena)
{
	return run_script(postfix, arena, "queue");
}

const char *e2e_postfix_messages(const struct e2e_postfix *postfix, struct arena *arena)
{
	return run_script(postfix, arena, "messages");
}

const char *e2e_postfix_queue_with(const struct e2e_postfix *postfix, struct arena *arena, const char *needle)
{
	for (int i = 0; i < 100; i++) {
		const char *text = e2e_postfix_queue(postfix, arena);
		if (strstr(text, needle) != NULL)
			return text;
		usleep(100 * 1000);
	}
	return NULL;
}
