/*
 * lmtp.h: the LMTP listener (RFC 2033) that delivers inbound mail from the
 * MTA into users' Inboxes. A recipient is user@domain with domain one of
 * the configured local domains. 250 is sent only after the message is
 * committed to the store; unknown recipients get 550 each; a message over
 * max_message_size gets 552.
 *
 * Owns: its listening socket and connection threads (at most
 * LIMIT_LMTP_CONNECTIONS at once). Must not: parse MIME beyond the header
 * lines it adds (Return-Path, Received).
 */
#ifndef MAIL_LMTP_H
#define MAIL_LMTP_H

#include <stddef.h>

#include "config/config.h"
#include "config/live.h"
#include "store/store.h"

#include "guard/limits.h"

struct lmtp_server;

/* Listens on [lmtp] listen. Returns 0, or -1 with a message in error. */
int lmtp_server_start(struct config_live *live, struct store *store, struct lmtp_server **server_out, char *error,
		      size_t error_len);
/* Stops listening, waits for connections in progress; sets *server to NULL. */
void lmtp_server_stop(struct lmtp_server **server);

/*
 * The length of the user name that begins the local part of an address:
 * it ends at the first of [lmtp] recipient_delimiter ("alice+lists" is
 * alice's, as with Postfix's recipient_delimiter); a local part that begins
 * with one is a user name whole. Used by LMTP and easctl deliver alike.
 */
size_t mail_local_part_user_len(const struct easd_config *config, const char *local, size_t len);

/*
 * Delivers one message to user's Inbox in its own transaction (also used by
 * easctl deliver). Returns a store status (STORE_NOT_FOUND: no such user).
 */
int mail_deliver(struct store *store, const char *user, const void *message, size_t len, int64_t now);
/*
 * A meeting message (iMIP) for user updates their default Calendar, in the
 * session's open transaction (invitation.c); any other message changes
 * nothing. Returns a store status.
 */
int mail_invitation_apply(struct store_session *session, struct arena *arena, const struct store_user *user,
			  const void *message, size_t len, int64_t now);

#endif
