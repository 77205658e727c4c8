/*
 * e2e_postfix: a real Postfix for a group of end-to-end tests
 * (tests/lib/postfix.sh: its own configuration and queue, loopback ports).
 * It delivers mail for example.org to easd's LMTP port and keeps mail for
 * other domains in its queue, where a test reads the envelopes; it refuses
 * refused@outside.test. Needs root and the postfix package.
 */
#ifndef E2E_POSTFIX_H
#define E2E_POSTFIX_H

#include "util/util.h"

struct e2e_postfix {
	char dir[256];
	unsigned smtp_port, lmtp_port;
};

/* A free loopback TCP port (0 when none could be had). */
unsigned e2e_free_port(void);
/* Starts Postfix (a group setup). Returns 0, or -1 with a message on stderr. */
int e2e_postfix_start(struct e2e_postfix *postfix);
/* Stops it and removes its folder. Returns 0 or -1. */
int e2e_postfix_stop(struct e2e_postfix *postfix);
/*
 * easd configuration for it (INI text for e2e_start): LMTP on its
 * lmtp_port for example.org, mail submitted to relay_port (0: Postfix),
 * then more (may be NULL). In a static buffer.
 */
const char *e2e_postfix_config(const struct e2e_postfix *postfix, unsigned relay_port, const char *more);
/* Postfix's queue now (postqueue -j: a JSON object per line), in arena. */
const char *e2e_postfix_queue(const struct e2e_postfix *postfix, struct arena *arena);
/* Every message in Postfix's queue, headers and body, one after the other, in arena. */
const char *e2e_postfix_messages(const struct e2e_postfix *postfix, struct arena *arena);
/* Postfix's queue (postqueue -j) once it mentions needle, waited for up to 10 s; NULL if it never does. */
const char *e2e_postfix_queue_with(const struct e2e_postfix *postfix, struct arena *arena, const char *needle);

#endif
