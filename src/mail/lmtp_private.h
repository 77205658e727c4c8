/*
 * lmtp_private.h: the LMTP protocol (RFC 2033) as a state machine fed the
 * bytes of one connection, shared by the listener (lmtp.c), its unit tests
 * and the fuzz target.
 *
 * Owns: one connection's protocol state, its pending line, the message
 * being received and the replies not yet sent. Must not: touch sockets,
 * threads or the store; recipients are looked up and messages delivered
 * through the functions in struct lmtp_session_settings, so the tests and
 * the fuzzer run without either.
 */
#ifndef MAIL_LMTP_PRIVATE_H
#define MAIL_LMTP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/util.h"

/* Limits on what the MTA sends: LIMIT_LMTP_* in guard/limits.h. */
#include "guard/limits.h"

/* Replies waiting to be sent. lmtp_session_feed pauses once they reach
   LMTP_REPLY_FLUSH; one more line adds at most the end-of-DATA replies
   (LIMIT_LMTP_RECIPIENTS lines of LMTP_REPLY_LINE_MAX), so LMTP_REPLY_MAX
   is never reached. */
#define LMTP_REPLY_LINE_MAX 512
#define LMTP_REPLY_FLUSH 16384
#define LMTP_REPLY_MAX (LMTP_REPLY_FLUSH + (LIMIT_LMTP_RECIPIENTS + 8) * LMTP_REPLY_LINE_MAX)

/* Looks up a recipient's local part. Returns STORE_OK, STORE_NOT_FOUND or another store status. */
typedef int lmtp_recipient_fn(void *context, const char *user);
/* Delivers and commits one copy. Returns STORE_OK or a store status. */
typedef int lmtp_deliver_fn(void *context, const char *user, const void *message, size_t len,
			    int64_t now);
/* One line about a delivery, without newline. */
typedef void lmtp_log_fn(void *context, const char *line);
/* Unix seconds. */
typedef int64_t lmtp_clock_fn(void *context);

struct lmtp_session_settings {
	const struct easd_config *config; /* local_domains and max_message_size */
	const char *host_name;            /* ours, in the greeting and the LHLO reply */
	lmtp_recipient_fn *find_recipient;
	lmtp_deliver_fn *deliver;
	lmtp_log_fn *log;                 /* NULL: silent */
	lmtp_clock_fn *clock;             /* NULL: time(NULL) */
	void *context;                    /* passed to the four functions */
};

struct lmtp_recipient {
	const char *address; /* user@domain as the MTA wrote it */
	const char *user;    /* its local part */
};

struct lmtp_session {
	struct lmtp_session_settings settings;
	/* The line being read: at most LIMIT_LMTP_LINE_BYTES + CR, and a NUL. */
	uint8_t line[LIMIT_LMTP_LINE_BYTES + 2];
	size_t line_len;
	bool line_too_long;       /* discarding the rest of a command line */
	/* Connection. */
	char client_name[LIMIT_LMTP_HOST_NAME_BYTES + 1]; /* from LHLO; empty: none yet */
	unsigned errors;
	bool closed;
	/* Transaction: MAIL, RCPT, DATA. The strings live in arena. */
	struct arena *arena;
	const char *sender;       /* NULL: no MAIL yet; "" is the null reverse path */
	struct lmtp_recipient recipients[LIMIT_LMTP_RECIPIENTS];
	size_t recipient_count;
	/* DATA. */
	bool in_data;
	bool data_mid_line;       /* the last fragment did not end its line */
	bool message_too_big;
	size_t header_len;        /* the Return-Path and Received lines we added */
	struct buf message;       /* headers we add, then the unstuffed message */
	/* Replies for the caller to send, then empty. */
	struct buf reply;
};

/* Starts a session; the greeting (220) is waiting in session->reply. */
void lmtp_session_init(struct lmtp_session *session, const struct lmtp_session_settings *settings);
void lmtp_session_cleanup(struct lmtp_session *session);

/*
 * Reads bytes of the connection: commands, and after DATA the message,
 * delivering it when it ends. Stops early once LMTP_REPLY_FLUSH bytes of
 * replies wait in session->reply or the session closes (QUIT, too many
 * errors). Returns the bytes consumed; the caller sends and empties
 * session->reply and feeds the rest. Consumes at least one byte when the
 * session is open and fewer than LMTP_REPLY_FLUSH reply bytes wait.
 */
size_t lmtp_session_feed(struct lmtp_session *session, const uint8_t *data, size_t len);

/* RFC 5322 date-time in UTC ("Tue, 14 Nov 2023 22:13:20 +0000") into out (at least 32 bytes). */
void lmtp_format_date(int64_t when, char *out, size_t out_len);

#endif
