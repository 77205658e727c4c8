/*
 * submit.c: SMTP submission with libcurl (see submit.h). libcurl speaks
 * the protocol; this file chooses the relay's address and TLS, and turns
 * the outcome into what the device is told: sent, retry later, or refused.
 */
#include "mail/submit.h"

#include <curl/curl.h>
#include <errno.h>
#include <time.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void mail_submit_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, init_once);
}

/* The message, read by libcurl a piece at a time. */
struct upload {
	const char *data;
	size_t len, sent;
};

static size_t read_message(char *buffer, size_t size, size_t count, void *context)
{
	struct upload *upload = context;
	size_t n = size * count;
	if (n > upload->len - upload->sent)
		n = upload->len - upload->sent;
	memcpy(buffer, upload->data + upload->sent, n);
	upload->sent += n;
	return n;
}

/*
 * The last command sent and reply line, for the log (never AUTH's
 * secrets); the first refusal (4xx or 5xx) is kept as it was, since
 * libcurl goes on with QUIT after it.
 */
struct transcript {
	char command[160];
	char reply[200];
	bool refused;
	bool in_auth;  /* between AUTH and its last 334: lines out are credentials */
};

static void copy_line(char *to, size_t size, const char *data, size_t len)
{
	while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	if (len >= size)
		len = size - 1;
	for (size_t i = 0; i < len; i++)
		to[i] = (data[i] < 0x20 || data[i] == 0x7f) ? '?' : data[i];
	to[len] = '\0';
}

static int on_debug(CURL *handle, curl_infotype type, char *data, size_t size, void *context)
{
	(void)handle;
	struct transcript *t = context;
	if (type == CURLINFO_HEADER_OUT && !t->refused) {
		/* AUTH PLAIN and LOGIN send the credentials as lines of their own, answers to 334. */
		t->in_auth |= size >= 4 && strncmp(data, "AUTH", 4) == 0;
		if (t->in_auth)
			snprintf(t->command, sizeof(t->command), "AUTH");
		else
			copy_line(t->command, sizeof(t->command), data, size);
	} else if (type == CURLINFO_HEADER_IN && !t->refused) {
		t->in_auth = t->in_auth && size >= 3 && strncmp(data, "334", 3) == 0;
		/* A multi-line reply ends with its last line: keep the last. */
		copy_line(t->reply, sizeof(t->reply), data, size);
		/* A refused EHLO only makes libcurl fall back to HELO. */
		t->refused = (t->reply[0] == '4' || t->reply[0] == '5') && strncmp(t->command, "EHLO", 4) != 0;
	}
	return 0;
}

/* The first line of the password file, or "" (with *ok false when it cannot be read). */
static void read_password(const char *path, char *out, size_t size, bool *ok)
{
	out[0] = '\0';
	*ok = true;
	if (path[0] == '\0')
		return;
	FILE *file = fopen(path, "r");
	if (file == NULL || fgets(out, (int)size, file) == NULL)
		*ok = false;
	if (file != NULL)
		fclose(file);
	out[strcspn(out, "\r\n")] = '\0';
}

static void set_relay(CURL *curl, const struct easd_config *config, char *url, size_t url_len)
{
	char host[256];
	uint16_t port = 25;
	config_split_listen(config->smtp_relay, host, sizeof(host), &port); /* checked when loaded */
	bool ipv6 = strchr(host, ':') != NULL;
	snprintf(url, url_len, "%s://%s%s%s:%u", config->smtp_security == CONFIG_SMTP_TLS ? "smtps" : "smtp",
		 ipv6 ? "[" : "", host, ipv6 ? "]" : "", (unsigned)port);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	if (config->smtp_security == CONFIG_SMTP_STARTTLS)
		curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (config->smtp_ca_file[0] != '\0')
		curl_easy_setopt(curl, CURLOPT_CAINFO, config->smtp_ca_file);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)config->smtp_timeout);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)(config->smtp_timeout < 10 ? config->smtp_timeout : 10));
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
}

static enum mail_submit_result classify(CURLcode code, const struct transcript *t,
					const char *error, char *detail, size_t detail_len)
{
	if (code == CURLE_OK) {
		snprintf(detail, detail_len, "%s", t->reply);
		return MAIL_SUBMIT_SENT;
	}
	if (!t->refused) {
		snprintf(detail, detail_len, "%s", error[0] != '\0' ? error : curl_easy_strerror(code));
		return MAIL_SUBMIT_TEMPORARY;
	}
	snprintf(detail, detail_len, "%s: %s", t->command, t->reply);
	if (t->reply[0] == '4')
		return MAIL_SUBMIT_TEMPORARY;
	return strncmp(t->command, "RCPT", 4) == 0 ? MAIL_SUBMIT_RECIPIENT_REFUSED : MAIL_SUBMIT_REFUSED;
}

/* An envelope address goes into the SMTP dialogue as it is: nothing in it may end the path or the command. */
static bool envelope_address_ok(const char *address)
{
	size_t len = strlen(address);
	if (len == 0 || len > 254 || strchr(address, '@') == NULL)
		return false;
	for (const char *c = address; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '<' || *c == '>')
			return false;
	return true;
}

static enum mail_submit_result submit_now(const struct easd_config *config, const struct mail_envelope *envelope,
					  const void *message, size_t len, char *detail, size_t detail_len);

static bool envelope_ok(const struct mail_envelope *envelope)
{
	bool ok = envelope_address_ok(envelope->sender) && envelope->recipient_count > 0;
	for (size_t i = 0; ok && i < envelope->recipient_count; i++)
		ok = envelope_address_ok(envelope->recipients[i]);
	return ok;
}

/*
 * Submissions in progress, in all threads. A submission runs on the HTTP
 * worker that serves the request, and a relay that stalls holds it for up
 * to [smtp] timeout, with every connection that worker serves: so no more
 * than config_parallel_sends run at once (one worker stays free), and one
 * that finds them all busy waits at most SUBMIT_SLOT_WAIT_MS, then is told
 * to retry. With a relay that answers, slots free in milliseconds.
 */
#define SUBMIT_SLOT_WAIT_MS 2000
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot_freed;
static pthread_once_t slot_freed_once = PTHREAD_ONCE_INIT;
static unsigned slots_taken;

/* The wait is timed on the monotonic clock: a clock set back must not stretch it. */
static void init_slot_freed(void)
{
	pthread_condattr_t attributes;
	pthread_condattr_init(&attributes);
	pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
	pthread_cond_init(&slot_freed, &attributes);
	pthread_condattr_destroy(&attributes);
}

static bool take_slot(unsigned limit)
{
	struct timespec until;
	pthread_once(&slot_freed_once, init_slot_freed);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += SUBMIT_SLOT_WAIT_MS / 1000;
	until.tv_nsec += (SUBMIT_SLOT_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&slots_lock);
	int rc = 0;
	while (slots_taken >= limit && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&slot_freed, &slots_lock, &until);
	bool taken = slots_taken < limit;
	slots_taken += taken;
	pthread_mutex_unlock(&slots_lock);
	return taken;
}

static void give_slot(void)
{
	pthread_mutex_lock(&slots_lock);
	slots_taken--;
	pthread_cond_signal(&slot_freed);
	pthread_mutex_unlock(&slots_lock);
}

enum mail_submit_result mail_submit(const struct easd_config *config, const struct mail_envelope *envelope,
				    const void *message, size_t len, char *detail, size_t detail_len)
{
	unsigned limit = config_parallel_sends(config);
	if (!take_slot(limit)) {
		snprintf(detail, detail_len, "the relay is slow: %u submission%s already in progress ([smtp] max_parallel)",
			 limit, limit == 1 ? "" : "s");
		return MAIL_SUBMIT_TEMPORARY;
	}
	enum mail_submit_result result = submit_now(config, envelope, message, len, detail, detail_len);
	give_slot();
	return result;
}

/* One submission over its own connection (mail_submit). */
static enum mail_submit_result submit_now(const struct easd_config *config, const struct mail_envelope *envelope,
					  const void *message, size_t len, char *detail, size_t detail_len)
{
	char password[256], url[300], from[300], error[CURL_ERROR_SIZE] = "";
	bool password_ok;
	if (!envelope_ok(envelope)) {
		snprintf(detail, detail_len, "an envelope address is empty, too long or has a control character or <>");
		return MAIL_SUBMIT_REFUSED;
	}
	read_password(config->smtp_password_file, password, sizeof(password), &password_ok);
	if (!password_ok) {
		snprintf(detail, detail_len, "cannot read [smtp] password_file %s", config->smtp_password_file);
		return MAIL_SUBMIT_TEMPORARY;
	}
	CURL *curl = curl_easy_init();
	struct curl_slist *recipients = NULL;
	for (size_t i = 0; i < envelope->recipient_count; i++) {
		char path[300];
		snprintf(path, sizeof(path), "<%s>", envelope->recipients[i]);
		recipients = curl_slist_append(recipients, path);
	}
	if (curl == NULL || recipients == NULL) {
		curl_slist_free_all(recipients);
		curl_easy_cleanup(curl);
		snprintf(detail, detail_len, "libcurl: out of memory");
		return MAIL_SUBMIT_TEMPORARY;
	}
	struct upload upload = { message, len, 0 };
	struct transcript transcript = { "", "", false, false };
	set_relay(curl, config, url, sizeof(url));
	if (config->smtp_user[0] != '\0') {
		curl_easy_setopt(curl, CURLOPT_USERNAME, config->smtp_user);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, password);
	}
	snprintf(from, sizeof(from), "<%s>", envelope->sender);
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients);
	curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_message);
	curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
	curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
	curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L); /* feeds on_debug only */
	curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &transcript);
	CURLcode code = curl_easy_perform(curl);
	enum mail_submit_result result = classify(code, &transcript, error, detail, detail_len);
	curl_slist_free_all(recipients);
	curl_easy_cleanup(curl);
	return result;
}
