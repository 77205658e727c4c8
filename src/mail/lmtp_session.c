/*
 * lmtp_session.c: the LMTP dialogue of one connection (RFC 2033 on top of
 * RFC 5321), see lmtp_private.h.
 *
 * Bytes are cut into lines here, so the listener, the tests and the fuzzer
 * share one reader. A command line is kept whole (LIMIT_LMTP_LINE_BYTES); a
 * message line of any length streams through in pieces of the same size,
 * and max_message_size bounds the memory of the message. Each verb has a
 * function that checks the command against the state, then acts; replies
 * go to session->reply in order, which is all PIPELINING needs.
 *
 * Must not: reply 250 to a recipient before its deliver function returned
 * STORE_OK (the copy is committed by then, RFC 2033 4.2).
 */
#include "mail/lmtp_private.h"
#include "mail/lmtp.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "metrics/metrics.h"
#include "store/store.h"

/* The reader keeps a line's CR with it, so a full buffer is one byte longer. */
#define LINE_CAPACITY (LIMIT_LMTP_LINE_BYTES + 1)

static void reply_va(struct lmtp_session *session, const char *format, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void reply_va(struct lmtp_session *session, const char *format, va_list ap)
{
	char line[LMTP_REPLY_LINE_MAX];
	int n = vsnprintf(line, sizeof(line) - 2, format, ap);
	/* Replies quote at most one path (LIMIT_LMTP_PATH_BYTES) or host name. */
	assert(n >= 0 && (size_t)n < sizeof(line) - 2);
	memcpy(line + n, "\r\n", 2);
	int status = buf_append(&session->reply, line, (size_t)n + 2);
	assert(status == 0); /* bounded by LMTP_REPLY_MAX, see lmtp_private.h */
	(void)status;
}

static void reply(struct lmtp_session *session, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

static void reply(struct lmtp_session *session, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	reply_va(session, format, ap);
	va_end(ap);
}

/* A rejected command: an MTA that keeps sending them is broken or hostile. */
static void reply_error(struct lmtp_session *session, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

static void reply_error(struct lmtp_session *session, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	reply_va(session, format, ap);
	va_end(ap);
	if (++session->errors >= LIMIT_LMTP_ERRORS) {
		reply(session, "421 4.7.0 too many errors, closing connection");
		session->closed = true;
	}
}

static void log_line(struct lmtp_session *session, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

static void log_line(struct lmtp_session *session, const char *format, ...)
{
	if (session->settings.log == NULL)
		return;
	char line[LMTP_REPLY_LINE_MAX];
	va_list ap;
	va_start(ap, format);
	vsnprintf(line, sizeof(line), format, ap);
	va_end(ap);
	session->settings.log(session->settings.context, line);
}

static int64_t now(const struct lmtp_session *session)
{
	if (session->settings.clock != NULL)
		return session->settings.clock(session->settings.context);
	return (int64_t)time(NULL);
}

/* ---- transaction ---- */

static void transaction_reset(struct lmtp_session *session)
{
	arena_free(&session->arena);
	session->sender = NULL;
	session->recipient_count = 0;
	session->in_data = false;
	session->data_mid_line = false;
	session->message_too_big = false;
	session->header_len = 0;
	buf_cleanup(&session->message);
}

void lmtp_session_init(struct lmtp_session *session, const struct lmtp_session_settings *settings)
{
	memset(session, 0, sizeof(*session));
	session->settings = *settings;
	buf_init(&session->message, 0);
	buf_init(&session->reply, LMTP_REPLY_MAX);
	reply(session, "220 %s LMTP easd ready", settings->host_name);
}

void lmtp_session_cleanup(struct lmtp_session *session)
{
	transaction_reset(session);
	buf_cleanup(&session->reply);
}

void lmtp_format_date(int64_t when, char *out, size_t out_len)
{
	/* Our own names: strftime's %a and %b follow the locale, RFC 5322 3.3 does not. */
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)when;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(out, out_len, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
		 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

/* ---- syntax helpers ---- */

/* Printable ASCII without space: what a host name or a path may hold here. */
static bool is_graphic(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] <= ' ' || (unsigned char)text[i] >= 0x7f)
			return false;
	return true;
}

/* RFC 5322 3.2.3 atext and dots: a dot-atom local part. Quoted ones are refused. */
static bool is_local_part(const char *text, size_t len)
{
	static const char specials[] = "!#$%&'*+-/=?^_`{|}~.";
	if (len == 0 || text[0] == '.' || text[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (c == '\0' || strchr(specials, c) == NULL))
			return false;
	}
	return true;
}

/*
 * "FROM:<path> params" or "TO:<path> params": checks the keyword, returns
 * the path (without <>) and what follows it. Tolerates a space after the
 * colon, as many clients send one. Returns 0 or -1.
 */
static int parse_path(const char *args, const char *keyword, const char **path_out,
		      size_t *path_len_out, const char **rest_out)
{
	size_t keyword_len = strlen(keyword);
	if (strncasecmp(args, keyword, keyword_len) != 0)
		return -1;
	const char *p = args + keyword_len;
	while (*p == ' ')
		p++;
	if (*p != '<')
		return -1;
	const char *end = strchr(p + 1, '>');
	if (end == NULL)
		return -1;
	size_t len = (size_t)(end - (p + 1));
	if (len > LIMIT_LMTP_PATH_BYTES || !is_graphic(p + 1, len) || memchr(p + 1, '<', len) != NULL)
		return -1;
	const char *rest = end + 1;
	if (*rest != '\0' && *rest != ' ')
		return -1;
	while (*rest == ' ')
		rest++;
	*path_out = p + 1;
	*path_len_out = len;
	*rest_out = rest;
	return 0;
}

/* ---- LHLO ---- */

static void command_lhlo(struct lmtp_session *session, const char *args)
{
	size_t len = strlen(args);
	if (len == 0 || len > LIMIT_LMTP_HOST_NAME_BYTES || !is_graphic(args, len)) {
		reply_error(session, "501 5.5.4 LHLO needs a host name");
		return;
	}
	/* RFC 5321 4.1.4: a repeated greeting resets the transaction. */
	transaction_reset(session);
	memcpy(session->client_name, args, len + 1);
	reply(session, "250-%s", session->settings.host_name);
	reply(session, "250-PIPELINING");
	reply(session, "250-ENHANCEDSTATUSCODES");
	reply(session, "250-8BITMIME");
	reply(session, "250 SIZE %llu", (unsigned long long)session->settings.config->max_message_size);
}

/* ---- MAIL ---- */

/* SIZE (RFC 1870) and BODY (RFC 6152); anything else is refused. */
static int check_mail_parameter(struct lmtp_session *session, const char *parameter, size_t len)
{
	uint64_t declared;
	if (len > 5 && strncasecmp(parameter, "SIZE=", 5) == 0) {
		struct slice value = { (const uint8_t *)parameter + 5, len - 5 };
		if (parse_uint64(value, UINT64_MAX, &declared) < 0) {
			reply_error(session, "501 5.5.4 bad SIZE value");
			return -1;
		}
		if (declared > session->settings.config->max_message_size) {
			reply(session, "552 5.3.4 message size exceeds fixed maximum message size");
			return -1;
		}
		return 0;
	}
	if ((len == 9 && strncasecmp(parameter, "BODY=7BIT", 9) == 0) ||
	    (len == 13 && strncasecmp(parameter, "BODY=8BITMIME", 13) == 0))
		return 0;
	reply_error(session, "555 5.5.4 unsupported MAIL parameter");
	return -1;
}

static void command_mail(struct lmtp_session *session, const char *args)
{
	if (session->client_name[0] == '\0') {
		reply_error(session, "503 5.5.1 send LHLO first");
		return;
	}
	if (session->sender != NULL) {
		reply_error(session, "503 5.5.1 nested MAIL command");
		return;
	}
	const char *path, *rest;
	size_t path_len;
	if (parse_path(args, "FROM:", &path, &path_len, &rest) < 0) {
		reply_error(session, "501 5.1.7 bad sender address syntax");
		return;
	}
	while (*rest != '\0') {
		size_t len = strcspn(rest, " ");
		if (check_mail_parameter(session, rest, len) < 0)
			return;
		rest += len;
		while (*rest == ' ')
			rest++;
	}
	session->arena = arena_new(4096);
	session->sender = arena_strndup(session->arena, path, path_len);
	reply(session, "250 2.1.0 sender ok");
}

/* ---- RCPT ---- */

static void accept_recipient(struct lmtp_session *session, const char *path, size_t path_len,
			     size_t local_len)
{
	struct lmtp_recipient *recipient = &session->recipients[session->recipient_count];
	recipient->address = arena_strndup(session->arena, path, path_len);
	size_t user_len = mail_local_part_user_len(session->settings.config, path, local_len);
	recipient->user = arena_strndup(session->arena, path, user_len);
	int status = session->settings.find_recipient(session->settings.context, recipient->user);
	if (status == STORE_NOT_FOUND) {
		reply(session, "550 5.1.1 <%s> no such user", recipient->address);
		return;
	}
	if (status != STORE_OK) {
		reply(session, "451 4.3.0 <%s> cannot look up the user now, try later", recipient->address);
		return;
	}
	session->recipient_count++;
	reply(session, "250 2.1.5 <%s> recipient ok", recipient->address);
}

static void command_rcpt(struct lmtp_session *session, const char *args)
{
	if (session->sender == NULL) {
		reply_error(session, "503 5.5.1 need MAIL before RCPT");
		return;
	}
	const char *path, *rest;
	size_t path_len;
	if (parse_path(args, "TO:", &path, &path_len, &rest) < 0) {
		reply_error(session, "501 5.1.3 bad recipient address syntax");
		return;
	}
	if (*rest != '\0') {
		reply_error(session, "555 5.5.4 RCPT parameters are not supported");
		return;
	}
	const char *at = memrchr(path, '@', path_len);
	if (at == NULL || !is_local_part(path, (size_t)(at - path)) || at + 1 == path + path_len) {
		reply_error(session, "501 5.1.3 bad recipient address syntax");
		return;
	}
	size_t local_len = (size_t)(at - path);
	if (!config_is_local_domain(session->settings.config, at + 1, path_len - local_len - 1)) {
		reply(session, "550 5.1.1 <%.*s> not a local domain", (int)path_len, path);
		return;
	}
	if (session->recipient_count == LIMIT_LMTP_RECIPIENTS) {
		/* RFC 5321 4.5.3.1.10: the client sends the rest in another transaction. */
		reply(session, "452 4.5.3 too many recipients");
		return;
	}
	accept_recipient(session, path, path_len, local_len);
}

/* ---- DATA ---- */

static void command_data(struct lmtp_session *session, const char *args)
{
	if (args[0] != '\0') {
		reply_error(session, "501 5.5.4 DATA takes no parameters");
		return;
	}
	if (session->sender == NULL || session->recipient_count == 0) {
		reply_error(session, "503 5.5.1 need MAIL and a valid RCPT before DATA");
		return;
	}
	char date[64];
	lmtp_format_date(now(session), date, sizeof(date));
	buf_init(&session->message, 0);
	buf_printf(&session->message, "Return-Path: <%s>\r\nReceived: from %s by easd with LMTP; %s\r\n",
		   session->sender, session->client_name, date);
	session->header_len = session->message.len;
	session->message.max = session->header_len + session->settings.config->max_message_size;
	session->in_data = true;
	session->data_mid_line = false;
	reply(session, "354 send the message, end with <CRLF>.<CRLF>");
}

/* Past max_message_size the rest is read and dropped (RFC 1870 6.3). */
static void append_body(struct lmtp_session *session, const void *data, size_t len)
{
	if (session->message_too_big)
		return;
	if (buf_append(&session->message, data, len) < 0) {
		session->message_too_big = true;
		buf_cleanup(&session->message);
	}
}

static void deliver_one(struct lmtp_session *session, const struct lmtp_recipient *recipient,
			int64_t received)
{
	size_t size = session->message.len - session->header_len;
	int status = session->settings.deliver(session->settings.context, recipient->user,
					       session->message.data, session->message.len, received);
	if (status == STORE_OK) {
		log_line(session, "delivered to %s (%zu bytes)", recipient->user, size);
		reply(session, "250 2.0.0 <%s> delivered", recipient->address);
	} else if (status == STORE_NOT_FOUND) {
		log_line(session, "not delivered to %s: no such user", recipient->user);
		reply(session, "550 5.1.1 <%s> no such user", recipient->address);
	} else {
		log_line(session, "not delivered to %s: store status %d", recipient->user, status);
		reply(session, "451 4.3.0 <%s> temporary failure, try later", recipient->address);
	}
	metrics_lmtp_delivery(status == STORE_OK ? METRICS_LMTP_DELIVERED
			      : status == STORE_NOT_FOUND ? METRICS_LMTP_REFUSED : METRICS_LMTP_FAILED);
}

/* RFC 2033 4.2: one reply per accepted recipient, in RCPT order. */
static void finish_data(struct lmtp_session *session)
{
	int64_t received = now(session);
	for (size_t i = 0; i < session->recipient_count; i++) {
		const struct lmtp_recipient *recipient = &session->recipients[i];
		if (!session->message_too_big) {
			deliver_one(session, recipient, received);
			continue;
		}
		log_line(session, "not delivered to %s: message over %llu bytes", recipient->user,
			 (unsigned long long)session->settings.config->max_message_size);
		reply(session, "552 5.3.4 <%s> message too big", recipient->address);
		metrics_lmtp_delivery(METRICS_LMTP_REFUSED);
	}
	transaction_reset(session);
}

/* A piece of a message line; line_end: the line's CRLF (or bare LF) followed it. */
static void data_fragment(struct lmtp_session *session, const uint8_t *data, size_t len, bool line_end)
{
	/* RFC 5321 4.5.2: "." alone ends the message; a leading dot was doubled. */
	if (!session->data_mid_line && len > 0 && data[0] == '.') {
		if (line_end && len == 1) {
			finish_data(session);
			return;
		}
		data++;
		len--;
	}
	append_body(session, data, len);
	if (line_end)
		append_body(session, "\r\n", 2);
	session->data_mid_line = !line_end;
}

/* ---- other verbs ---- */

static void command_rset(struct lmtp_session *session, const char *args)
{
	(void)args;
	transaction_reset(session);
	reply(session, "250 2.0.0 ok");
}

static void command_noop(struct lmtp_session *session, const char *args)
{
	(void)args; /* RFC 5321 4.1.1.9: the argument is ignored */
	reply(session, "250 2.0.0 ok");
}

static void command_quit(struct lmtp_session *session, const char *args)
{
	(void)args;
	reply(session, "221 2.0.0 %s closing connection", session->settings.host_name);
	session->closed = true;
}

static void command_vrfy(struct lmtp_session *session, const char *args)
{
	(void)args; /* RFC 5321 3.5.3: 252 neither confirms nor denies a user */
	reply(session, "252 2.5.0 cannot VRFY user, but will accept message for local recipients");
}

struct lmtp_command {
	const char *verb;
	void (*run)(struct lmtp_session *session, const char *args);
};

static const struct lmtp_command commands[] = {
	{ "LHLO", command_lhlo }, { "MAIL", command_mail }, { "RCPT", command_rcpt },
	{ "DATA", command_data }, { "RSET", command_rset }, { "NOOP", command_noop },
	{ "QUIT", command_quit }, { "VRFY", command_vrfy },
};

/* One command line, without its line end and NUL-terminated. */
static void command_line(struct lmtp_session *session, char *line, size_t len)
{
	if (memchr(line, '\0', len) != NULL) {
		reply_error(session, "500 5.5.2 NUL byte in command line");
		return;
	}
	while (len > 0 && line[len - 1] == ' ')
		line[--len] = '\0';
	size_t verb_len = strcspn(line, " ");
	const char *args = line[verb_len] == ' ' ? line + verb_len + 1 : line + verb_len;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (verb_len == strlen(commands[i].verb) &&
		    strncasecmp(line, commands[i].verb, verb_len) == 0) {
			commands[i].run(session, args);
			return;
		}
	}
	reply_error(session, "500 5.5.1 unknown command");
}

/* ---- the line reader ---- */

static void line_complete(struct lmtp_session *session)
{
	size_t len = session->line_len;
	session->line_len = 0;
	if (len > 0 && session->line[len - 1] == '\r')
		len--;
	session->line[len] = '\0';
	if (session->in_data) {
		data_fragment(session, session->line, len, true);
	} else if (session->line_too_long || len > LIMIT_LMTP_LINE_BYTES) {
		session->line_too_long = false;
		reply_error(session, "500 5.5.2 line too long");
	} else {
		command_line(session, (char *)session->line, len);
	}
}

/*
 * The buffer is full and no line end came: a message line goes on in
 * pieces (keeping a final CR, which may start the CRLF); a command line is
 * dropped until its end.
 */
static void line_overflow(struct lmtp_session *session)
{
	if (!session->in_data) {
		session->line_too_long = true;
		session->line_len = 0;
		return;
	}
	size_t keep = session->line[session->line_len - 1] == '\r' ? 1 : 0;
	data_fragment(session, session->line, session->line_len - keep, false);
	session->line[0] = '\r';
	session->line_len = keep;
}

/*
 * Reads up to one line end. Returns the bytes consumed; 0 only when the
 * buffer was exactly full, which line_overflow then empties.
 */
static size_t read_line(struct lmtp_session *session, const uint8_t *data, size_t len)
{
	const uint8_t *newline = memchr(data, '\n', len);
	size_t take = newline != NULL ? (size_t)(newline - data) : len;
	if (session->line_too_long) {
		if (newline == NULL)
			return take;
		line_complete(session);
		return take + 1;
	}
	size_t room = LINE_CAPACITY - session->line_len;
	if (take > room) {
		memcpy(session->line + session->line_len, data, room);
		session->line_len = LINE_CAPACITY;
		line_overflow(session);
		return room;
	}
	memcpy(session->line + session->line_len, data, take);
	session->line_len += take;
	if (newline == NULL)
		return take;
	line_complete(session);
	return take + 1;
}

size_t lmtp_session_feed(struct lmtp_session *session, const uint8_t *data, size_t len)
{
	size_t used = 0;
	while (used < len && !session->closed && session->reply.len < LMTP_REPLY_FLUSH)
		used += read_line(session, data + used, len - used);
	return used;
}
