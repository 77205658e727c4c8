/*
 * submit.h: hands one message to the site's MTA over SMTP ([smtp] relay,
 * with libcurl), for SendMail, SmartReply and SmartForward. All or
 * nothing: a recipient the relay refuses ends the transaction before DATA,
 * so nobody gets the message and the device can correct it and retry.
 *
 * Owns: nothing between calls (a connection per message). Must not: parse
 * or change the message (pim/ prepared it).
 */
#ifndef MAIL_SUBMIT_H
#define MAIL_SUBMIT_H

#include <stddef.h>

#include "config/config.h"

enum mail_submit_result {
	MAIL_SUBMIT_SENT,              /* the relay took responsibility (250 after DATA) */
	MAIL_SUBMIT_TEMPORARY,         /* relay down, too slow, or a 4xx: retry later */
	MAIL_SUBMIT_RECIPIENT_REFUSED, /* a 5xx to a RCPT TO: sent to nobody */
	MAIL_SUBMIT_REFUSED,           /* a 5xx to MAIL FROM or to the message */
};

struct mail_envelope {
	const char *sender;            /* the reverse path, an address without <> */
	const char *const *recipients;
	size_t recipient_count;
};

/* Initialises libcurl once per process (easd calls it before its threads start). */
void mail_submit_init(void);
/*
 * Submits message[0..len) (CRLF lines) to config's relay. An envelope
 * address with a control character, a space or <> is refused before
 * anything is sent (it would end the SMTP command). detail gets what
 * a log line needs: the relay's answer and the command it answered
 * ("RCPT TO:<x@y>: 550 5.1.1 unknown"), or the connection error.
 */
enum mail_submit_result mail_submit(const struct easd_config *config, const struct mail_envelope *envelope,
				    const void *message, size_t len, char *detail, size_t detail_len);

#endif
