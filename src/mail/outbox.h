/*
 * outbox.h: the mail easd sends of its own accord: the iTIP messages about
 * meetings users organize (store.h, store_invitation_*), scheduled by the
 * Sync that changed the meeting. A thread of its own sends each once due
 * through [smtp] relay, so no request waits for the relay. A relay that is
 * down is tried again (after a minute, doubling up to an hour) for two
 * days; a message it refuses is given up at once; both with a line in
 * easd.log. A message is claimed (a lease of twice [smtp] timeout) before
 * it is sent: one whose sending was cut short, or whose outcome could not
 * be written, goes again once the lease runs out: twice rather than never,
 * and never in a loop. When the relay refuses one recipient, each of the
 * others gets it alone.
 *
 * Owns: its thread and one store session at a time.
 */
#ifndef MAIL_OUTBOX_H
#define MAIL_OUTBOX_H

#include "config/live.h"
#include "store/store.h"

struct mail_outbox;

/* Starts the thread. Returns 0, or -1 with a message in error. */
int mail_outbox_start(struct config_live *live, struct store *store, struct mail_outbox **outbox_out, char *error,
		      size_t error_len);
/* Ends the thread (a submission in progress finishes first); sets *outbox to NULL. */
void mail_outbox_stop(struct mail_outbox **outbox);

#endif
