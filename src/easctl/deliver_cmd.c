/*
 * deliver_cmd.c: `easctl deliver USER [FILE]`: puts a message into USER's
 * Inbox through the same path as LMTP (mail_deliver), for imports and
 * tests. USER may be an address as LMTP takes it (alice+tag@localhost for
 * a domain of [lmtp] local_domains), so what works over LMTP works here.
 */
#include "easctl/easctl.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mail/lmtp.h"
#include "push/push.h"

/* "localhost, example.org": [lmtp] local_domains, for a refusal. */
static void print_local_domains(const struct easd_config *config)
{
	for (char **d = config->local_domains; d != NULL && *d != NULL; d++)
		fprintf(stderr, "%s%s", d == config->local_domains ? "" : ", ", *d);
	if (config->local_domains == NULL || config->local_domains[0] == NULL)
		fputs("none", stderr);
}

/*
 * The user a recipient names: a user name as it is, or the user of an
 * address of a local domain (mail_local_part_user_len, as LMTP does).
 * Returns 0 with the name in out, or -1 with the reason printed.
 */
static int recipient_user(const struct easd_config *config, const char *recipient, char *out, size_t out_len)
{
	const char *at = strrchr(recipient, '@');
	size_t len = at != NULL ? (size_t)(at - recipient) : strlen(recipient);
	if (at != NULL && (len == 0 || at[1] == '\0')) {
		fprintf(stderr, "easctl: %s: not a user name or an address\n", recipient);
		return -1;
	}
	if (at != NULL && !config_is_local_domain(config, at + 1, strlen(at + 1))) {
		fprintf(stderr, "easctl: %s: %s is not a local domain ([lmtp] local_domains: ", recipient, at + 1);
		print_local_domains(config);
		fputs(")\n", stderr);
		return -1;
	}
	if (at != NULL)
		len = mail_local_part_user_len(config, recipient, len);
	if (len >= out_len) { /* longer than any address LMTP takes: nobody's */
		fprintf(stderr, "easctl: no user %s\n", recipient);
		return -1;
	}
	memcpy(out, recipient, len);
	out[len] = '\0';
	return 0;
}

/* Nothing, or only blank lines: a mistake (an empty file, </dev/null), never mail. */
static bool empty_message(const struct buf *message)
{
	for (size_t i = 0; i < message->len; i++) {
		uint8_t c = message->data[i];
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			return false;
	}
	return true;
}

static int deliver(const struct easd_config *config, const char *user, const char *recipient,
		   const struct buf *message)
{
	struct store *store;
	char error[512];
	if (store_open(config->data_dir, 1, &store, error, sizeof(error)) < 0) {
		fprintf(stderr, "easctl: store: %s\n", error);
		return EASCTL_EXIT_FAILURE;
	}
	/* A running easd hears of the new message and wakes the user's Pings. */
	store_set_change_listener(store, push_notify_changed, config->data_dir);
	int status = mail_deliver(store, user, message->data, message->len, (int64_t)time(NULL));
	if (status == STORE_NOT_FOUND && strcmp(user, recipient) != 0)
		fprintf(stderr, "easctl: no user %s (for %s)\n", user, recipient);
	else if (status == STORE_NOT_FOUND)
		fprintf(stderr, "easctl: no user %s\n", user);
	else if (status != STORE_OK)
		fprintf(stderr, "easctl: delivery failed (store status %d)\n", status);
	store_close(&store);
	return status == STORE_OK ? 0 : EASCTL_EXIT_FAILURE;
}

int easctl_deliver(const struct easd_config *config, int argc, char **argv)
{
	if (argc < 1 || argc > 2) {
		fputs("usage: easctl deliver USER [FILE]\n", stderr);
		return EASCTL_EXIT_USAGE;
	}
	char user[LIMIT_LMTP_PATH_BYTES + 1];
	if (recipient_user(config, argv[0], user, sizeof(user)) < 0)
		return EASCTL_EXIT_FAILURE;
	struct buf message;
	buf_init(&message, config->max_message_size);
	int status = EASCTL_EXIT_FAILURE;
	bool read = easctl_read_input(argc == 2 ? argv[1] : NULL, &message) == 0;
	if (read && empty_message(&message))
		fputs("easctl: empty message: nothing delivered\n", stderr);
	else if (read)
		status = deliver(config, user, argv[0], &message);
	buf_cleanup(&message);
	return status;
}
