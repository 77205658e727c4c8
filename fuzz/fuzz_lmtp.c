/*
 * fuzz_lmtp.c: libFuzzer target for the LMTP session (lmtp_session.c).
 * The input is what an MTA sends on one connection. It is fed twice: in
 * one write, and cut into pieces whose size the first byte picks (down to
 * one byte, so every line end and "." falls across a cut). Both runs must
 * give the same replies and store the same messages; every reply must be
 * a well-formed reply line; no message may pass max_message_size; replies
 * waiting must stay under LMTP_REPLY_MAX.
 *
 * Fakes: every user exists but those starting with 'x'; lookups of users
 * starting with 'z' fail; deliveries to users starting with 'f' fail.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mail/lmtp_private.h"
#include "store/store.h"

#define FUZZ_MAX_MESSAGE 300

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	uint64_t digest;       /* of every delivery, in order */
	size_t deliveries;
	struct buf replies;
};

static uint64_t fnv(uint64_t hash, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++)
		hash = (hash ^ p[i]) * 0x100000001b3ull;
	return hash;
}

static int fake_find(void *context, const char *user)
{
	(void)context;
	if (user[0] == 'x')
		return STORE_NOT_FOUND;
	return user[0] == 'z' ? STORE_BUSY : STORE_OK;
}

static int fake_deliver(void *context, const char *user, const void *message, size_t len, int64_t now)
{
	struct run *run = context;
	if (user[0] == 'f')
		return STORE_ERROR;
	/* Our two header lines are at most ~600 bytes (path, LHLO name, date). */
	if (len > FUZZ_MAX_MESSAGE + 2 * LIMIT_LMTP_PATH_BYTES + LIMIT_LMTP_HOST_NAME_BYTES)
		__builtin_trap();
	run->digest = fnv(fnv(run->digest, user, strlen(user) + 1), message, len);
	run->digest = fnv(run->digest, &now, sizeof(now));
	run->deliveries++;
	return STORE_OK;
}

static int64_t fake_clock(void *context)
{
	(void)context;
	return 1700000000;
}

/* Every line: a code 2xx-5xx, ' ' or '-', text, CRLF. */
static void check_replies(const struct buf *replies)
{
	size_t i = 0;
	while (i < replies->len) {
		const uint8_t *line = replies->data + i;
		const uint8_t *end = memchr(line, '\n', replies->len - i);
		if (end == NULL || end - line < 5 || end[-1] != '\r')
			__builtin_trap();
		if (line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9' || (line[3] != ' ' && line[3] != '-'))
			__builtin_trap();
		if (memchr(line, '\r', (size_t)(end - line) - 1) != NULL)
			__builtin_trap(); /* the MTA's text must not break our reply lines */
		i += (size_t)(end - line) + 1;
	}
}

static void run_session(struct run *run, const struct easd_config *config, const uint8_t *data,
			size_t size, size_t chunk)
{
	struct lmtp_session_settings settings = {
		.config = config, .host_name = "fuzz.test", .find_recipient = fake_find,
		.deliver = fake_deliver, .clock = fake_clock, .context = run,
	};
	struct lmtp_session session;
	buf_init(&run->replies, 0);
	lmtp_session_init(&session, &settings);
	while (size > 0 && !session.closed) {
		size_t used = lmtp_session_feed(&session, data, size < chunk ? size : chunk);
		if (session.reply.len > LMTP_REPLY_MAX)
			__builtin_trap();
		if (used == 0 && session.reply.len < LMTP_REPLY_FLUSH && !session.closed)
			__builtin_trap(); /* no progress */
		buf_append(&run->replies, session.reply.data, session.reply.len);
		session.reply.len = 0;
		data += used;
		size -= used;
	}
	lmtp_session_cleanup(&session);
	check_replies(&run->replies);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	char *domains[] = { "example.org", NULL };
	struct easd_config config = { .local_domains = domains, .max_message_size = FUZZ_MAX_MESSAGE,
				      .recipient_delimiter = "+" };
	size_t chunk = (size_t)(data[0] % 16) + 1;
	struct run whole = { 0 }, pieces = { 0 };
	run_session(&whole, &config, data + 1, size - 1, SIZE_MAX);
	run_session(&pieces, &config, data + 1, size - 1, chunk);
	if (whole.digest != pieces.digest || whole.deliveries != pieces.deliveries ||
	    whole.replies.len != pieces.replies.len ||
	    memcmp(whole.replies.data, pieces.replies.data, whole.replies.len) != 0)
		__builtin_trap();
	buf_cleanup(&whole.replies);
	buf_cleanup(&pieces.replies);
	return 0;
}
