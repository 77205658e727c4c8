/*
 * deliver_cmd.c: `easctl deliver USER [FILE]`: puts a message into USER's
 * Inbox through the same path as LMTP (mail_deliver), for imports and
 * tests.
 */
#include "easctl/easctl.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mail/lmtp.h"
#include "push/push.h"

int easctl_deliver(const struct easd_config *config, int argc, char **argv)
{
	if (argc < 1 || argc > 2) {
		fputs("usage: easctl deliver USER [FILE]\n", stderr);
		return EASCTL_EXIT_USAGE;
	}
	struct buf message;
	buf_init(&message, config->max_message_size);
	if (easctl_read_input(argc == 2 ? argv[1] : NULL, &message) < 0) {
		buf_cleanup(&message);
		return EASCTL_EXIT_FAILURE;
	}
	struct store *store;
	char error[512];
	if (store_open(config->data_dir, 1, &store, error, sizeof(error)) < 0) {
		fprintf(stderr, "easctl: store: %s\n", error);
		buf_cleanup(&message);
		return EASCTL_EXIT_FAILURE;
	}
	/* A running easd hears of the new message and wakes the user's Pings. */
	store_set_change_listener(store, push_notify_changed, config->data_dir);
	int status = mail_deliver(store, argv[0], message.data, message.len, (int64_t)time(NULL));
	if (status == STORE_NOT_FOUND)
		fprintf(stderr, "easctl: no user %s\n", argv[0]);
	else if (status != STORE_OK)
		fprintf(stderr, "easctl: delivery failed (store status %d)\n", status);
	store_close(&store);
	buf_cleanup(&message);
	return status == STORE_OK ? 0 : EASCTL_EXIT_FAILURE;
}
