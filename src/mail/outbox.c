/* outbox.c: see outbox.h. */
#include "mail/outbox.h"
#include "mail/submit.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How often the outbox looks for due messages: they are due minutes after the change, so a second is prompt. */
#define OUTBOX_POLL_MS 1000
/* Messages sent per look, so a stop is never long in coming. */
#define OUTBOX_BATCH 50
#define OUTBOX_RETRY_FIRST_SECONDS 60
#define OUTBOX_RETRY_MAX_SECONDS 3600
/* 1, 2, 4 ... 60 minutes, then hourly: about two days of attempts. */
#define OUTBOX_MAX_ATTEMPTS 54
#define OUTBOX_MAX_RECIPIENTS 10000

struct mail_outbox {
	struct config_live *live;
	struct store *store;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
};

/* The recipients, one per line in the store, as an array in arena. */
static size_t split_lines(struct arena *arena, const char *text, const char ***out)
{
	size_t count = 0;
	*out = arena_calloc(arena, OUTBOX_MAX_RECIPIENTS, sizeof(**out));
	while (*text != '\0' && count < OUTBOX_MAX_RECIPIENTS) {
		size_t len = strcspn(text, "\n");
		if (len > 0)
			(*out)[count++] = arena_strndup(arena, text, len);
		text += len + (text[len] == '\n');
	}
	return count;
}

/* The next attempt's time, or 0 to give up: the relay refused, or two days of trying passed. */
static int64_t retry_at(const struct store_invitation *m, enum mail_submit_result result, int64_t now)
{
	if (result != MAIL_SUBMIT_TEMPORARY || m->attempts + 1 >= OUTBOX_MAX_ATTEMPTS)
		return 0;
	int64_t wait = (int64_t)OUTBOX_RETRY_FIRST_SECONDS << (m->attempts < 6 ? m->attempts : 6);
	return now + (wait > OUTBOX_RETRY_MAX_SECONDS ? OUTBOX_RETRY_MAX_SECONDS : wait);
}

/* Records a claimed attempt's outcome. Returns 0, or -1 when the store failed (the batch stops; the claim's lease runs out). */
static int record(struct store_session *session, const struct store_invitation *m, enum mail_submit_result result,
		  const char *detail, int64_t now)
{
	int64_t next = result == MAIL_SUBMIT_SENT ? now : retry_at(m, result, now);
	enum store_invitation_state state = result == MAIL_SUBMIT_SENT ? STORE_INVITATION_SENT
					    : next != 0			   ? STORE_INVITATION_PENDING
									   : STORE_INVITATION_FAILED;
	char uid[128];
	util_printable(uid, sizeof(uid), m->uid);
	const char *outcome = state == STORE_INVITATION_SENT ? "sent" : state == STORE_INVITATION_PENDING ? "not sent yet" : "given up";
	fprintf(stderr, "easd: meeting %s %s uid=%s sequence=%lld from=%s%s%s\n", m->method, outcome, uid,
		(long long)m->sequence, m->sender, result == MAIL_SUBMIT_SENT ? "" : ": ",
		result == MAIL_SUBMIT_SENT ? "" : detail);
	if (store_invitation_finish(session, m->id, state, next) == STORE_OK)
		return 0;
	fprintf(stderr, "easd: outbox: cannot record the meeting %s uid=%s: %s\n", m->method, uid,
		store_session_error(session));
	return -1;
}

/* To everyone at once; when the relay refuses one address, to each of the others alone (one bad attendee stops nobody else). */
static enum mail_submit_result submit_to_each(const struct easd_config *config, const struct store_invitation *m,
					      const char **recipients, size_t count, char *detail, size_t detail_len)
{
	struct mail_envelope envelope = { m->sender, recipients, count };
	enum mail_submit_result result = mail_submit(config, &envelope, m->message.data, m->message.len, detail, detail_len);
	if (result != MAIL_SUBMIT_RECIPIENT_REFUSED || count < 2)
		return result;
	unsigned sent = 0;
	for (size_t i = 0; i < count; i++) {
		char one[512];
		struct mail_envelope single = { m->sender, &recipients[i], 1 };
		if (mail_submit(config, &single, m->message.data, m->message.len, one, sizeof(one)) == MAIL_SUBMIT_SENT)
			sent++;
		else
			fprintf(stderr, "easd: meeting %s not sent to %s: %s\n", m->method, recipients[i], one);
	}
	return sent > 0 ? MAIL_SUBMIT_SENT : MAIL_SUBMIT_RECIPIENT_REFUSED;
}

/* Sends the message due first. Returns 1 when there was one, 0 when none is due, -1 when the store failed. */
static int send_one(struct mail_outbox *o, struct store_session *session, struct arena *arena)
{
	struct store_invitation m;
	int64_t now = (int64_t)time(NULL);
	int status = store_invitation_next_due(session, arena, now, &m);
	if (status != STORE_OK)
		return status == STORE_NOT_FOUND ? 0 : -1;
	const char **recipients;
	size_t count = split_lines(arena, m.recipients, &recipients);
	const struct easd_config *config = config_live_get(o->live);
	/* Claimed first, in a write of its own: a message is never sent again because its outcome could not be
	   written, only once its lease (longer than a submission can take) has run out. */
	status = store_invitation_claim(session, m.id, now + 2 * (int64_t)config->smtp_timeout + 60);
	if (status == STORE_OK) {
		char detail[512] = "";
		enum mail_submit_result result = submit_to_each(config, &m, recipients, count, detail, sizeof(detail));
		status = record(session, &m, result, detail, (int64_t)time(NULL)) == 0 ? STORE_OK : STORE_ERROR;
	}
	config_live_put(o->live, config);
	return status == STORE_OK || status == STORE_NOT_FOUND ? 1 : -1;
}

static void send_due(struct mail_outbox *o)
{
	struct store_session *session = store_session_acquire(o->store);
	if (session == NULL)
		return; /* every connection busy: the next look */
	for (int i = 0; i < OUTBOX_BATCH; i++) {
		struct arena *arena = arena_new(0);
		int sent = send_one(o, session, arena);
		arena_free(&arena);
		pthread_mutex_lock(&o->lock);
		bool stopping = o->stopping;
		pthread_mutex_unlock(&o->lock);
		if (sent <= 0 || stopping)
			break;
	}
	store_session_release(&session);
}

static void *outbox_main(void *argument)
{
	struct mail_outbox *o = argument;
	pthread_mutex_lock(&o->lock);
	while (!o->stopping) {
		pthread_mutex_unlock(&o->lock);
		send_due(o);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += OUTBOX_POLL_MS / 1000;
		pthread_mutex_lock(&o->lock);
		while (!o->stopping && pthread_cond_timedwait(&o->wake, &o->lock, &until) != ETIMEDOUT)
			continue;
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

int mail_outbox_start(struct config_live *live, struct store *store, struct mail_outbox **outbox_out, char *error,
		      size_t error_len)
{
	struct mail_outbox *o = calloc(1, sizeof(*o));
	if (o == NULL)
		abort();
	*o = (struct mail_outbox){ .live = live, .store = store };
	pthread_mutex_init(&o->lock, NULL);
	pthread_condattr_t attributes;
	pthread_condattr_init(&attributes);
	pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
	pthread_cond_init(&o->wake, &attributes);
	pthread_condattr_destroy(&attributes);
	int status = pthread_create(&o->thread, NULL, outbox_main, o);
	if (status != 0) {
		snprintf(error, error_len, "cannot start the outbox thread: %s", strerror(status));
		pthread_cond_destroy(&o->wake);
		pthread_mutex_destroy(&o->lock);
		free(o);
		return -1;
	}
	*outbox_out = o;
	return 0;
}

void mail_outbox_stop(struct mail_outbox **outbox)
{
	struct mail_outbox *o = *outbox;
	if (o == NULL)
		return;
	pthread_mutex_lock(&o->lock);
	o->stopping = true;
	pthread_cond_signal(&o->wake);
	pthread_mutex_unlock(&o->lock);
	pthread_join(o->thread, NULL);
	pthread_cond_destroy(&o->wake);
	pthread_mutex_destroy(&o->lock);
	free(o);
	*outbox = NULL;
}
