/*
 * sync_invitations.c: a 16.x device of a meeting's organizer added,
 * changed or deleted the meeting in a Sync. The messages its attendees are
 * to get (pim_itip_organizer_messages) are scheduled in the Sync's own
 * transaction, so none is sent for a change rolled back and none lost for
 * one kept; easd's outbox (mail/outbox.c) sends them once [smtp]
 * invitation_delay has passed, unless the device sent them itself through
 * SendMail meanwhile (sendmail.c records that).
 *
 * Devices before 16.0 send their own invitations (MS-ASCAL 3.1.4.4, and
 * Android's Exchange client does): easd sends nothing for them.
 */
#include "eas/sync_private.h"
#include "guard/limits.h"
#include "pim/itip.h"

#include <stdio.h>
#include <string.h>

/* A device's own message counts for easd's pending one when sent this long before it too (the order of Sync and SendMail varies). */
#define DEVICE_SENT_WINDOW_SECONDS 3600

bool sync_invitations_wanted(const struct sync_context *ctx, const struct sync_result *result)
{
	const struct eas_request *r = ctx->request;
	return result->class == &pim_class_calendar && r->protocol_version >= 160 && r->config->send_invitations;
}

int sync_invitations_before(struct sync_context *ctx, const struct sync_result *result, struct arena *arena,
			    int64_t item_id, struct slice *before_out)
{
	*before_out = SLICE_EMPTY;
	if (!sync_invitations_wanted(ctx, result))
		return STORE_OK;
	return eas_content_whole(ctx->request, arena, result->folder.id, item_id, LIMIT_PIM_ITEM_BYTES, before_out);
}

const char *eas_join_lines(struct arena *arena, const char *const *list, size_t count)
{
	struct buf lines;
	buf_init(&lines, 0);
	for (size_t i = 0; i < count; i++)
		buf_printf(&lines, "%s\n", list[i]);
	const char *text = arena_strndup(arena, lines.data != NULL ? lines.data : (const uint8_t *)"", lines.len);
	buf_cleanup(&lines);
	return text;
}

static int schedule(struct eas_request *r, struct arena *arena, const char *uid, int64_t sequence,
		    const struct pim_itip_outgoing *m)
{
	struct store_invitation invitation = {
		.user_id = r->user.id, .uid = uid, .method = m->method, .sequence = sequence,
		.due = r->now + r->config->invitation_delay, .sender = eas_user_address(r),
		.recipients = eas_join_lines(arena, m->recipients, m->recipient_count), .message = m->message,
	};
	bool by_device = false;
	int status = store_invitation_add(r->session, &invitation, r->now, r->now - DEVICE_SENT_WINDOW_SECONDS, &by_device);
	char printable[128];
	if (status == STORE_OK)
		fprintf(stderr, "easd: meeting %s %s user=%s uid=%s sequence=%lld recipients=%u\n", m->method,
			by_device ? "already sent by the device" : "scheduled", r->user.name,
			util_printable(printable, sizeof(printable), uid), (long long)sequence, m->recipient_count);
	return status;
}

/* A CANCEL of a meeting nobody heard of yet: its pending invitation is dropped, and nothing is sent. */
static int called_off_unannounced(struct eas_request *r, const char *uid, const struct pim_itip_outgoing *m,
				  bool *skip_out)
{
	bool announced = true;
	*skip_out = false;
	if (strcmp(m->method, "CANCEL") != 0)
		return STORE_OK;
	int status = store_invitation_announced(r->session, r->user.id, uid, &announced);
	if (status == STORE_OK && !announced) {
		*skip_out = true;
		status = store_invitation_drop_pending(r->session, r->user.id, uid);
	}
	return status;
}

struct sequence_lookup {
	struct eas_request *request;
	int64_t sequence; /* what the messages carry, for their rows */
};

/* The meeting's next SEQUENCE (pim_itip_change's sequence_of). */
static int next_sequence(void *context, const char *uid, int64_t *sequence_out)
{
	struct sequence_lookup *lookup = context;
	struct eas_request *r = lookup->request;
	if (store_invitation_next_sequence(r->session, r->user.id, uid, sequence_out) != STORE_OK)
		return -1;
	lookup->sequence = *sequence_out;
	return 0;
}

/* The user's messages of the last hour (theirs and the meetings'), against [smtp] max_messages_per_hour. */
static bool over_hourly_rate(struct eas_request *r, const char *uid)
{
	unsigned sent = 0;
	if (r->config->max_sends_per_hour == 0 || store_send_count(r->session, r->user.id, r->now - 3600, &sent) != STORE_OK ||
	    sent < r->config->max_sends_per_hour)
		return false;
	char printable[128];
	fprintf(stderr, "easd: meeting messages not sent user=%s uid=%s: over [smtp] max_messages_per_hour\n",
		r->user.name, util_printable(printable, sizeof(printable), uid));
	return true;
}

int sync_invitations_schedule(struct sync_context *ctx, const struct sync_result *result, struct arena *arena,
			      struct slice before, struct slice after)
{
	struct eas_request *r = ctx->request;
	if (!sync_invitations_wanted(ctx, result) || (before.len == 0 && after.len == 0))
		return STORE_OK;
	struct sequence_lookup lookup = { r, 0 };
	struct pim_itip_change change = { .before = before.data, .before_len = before.len, .after = after.data,
					  .after_len = after.len, .user = r->user.name, .address = eas_user_address(r),
					  .now = r->now, .max_recipients = r->config->max_send_recipients,
					  .sequence_of = next_sequence, .context = &lookup };
	struct pim_itip_outgoing out[2];
	const char *uid = NULL;
	int n = pim_itip_organizer_messages(arena, &change, &uid, out);
	char printable[128];
	if (n == PIM_ITIP_TOO_MANY_ATTENDEES)
		fprintf(stderr, "easd: meeting messages not sent user=%s uid=%s: more attendees than [smtp] max_recipients\n",
			r->user.name, util_printable(printable, sizeof(printable), uid));
	if (n < 0)
		return n == PIM_ITIP_TOO_MANY_ATTENDEES ? STORE_OK : STORE_ERROR;
	int status = STORE_OK;
	for (int i = 0; i < n && status == STORE_OK && !over_hourly_rate(r, uid); i++) {
		bool skip = false;
		status = called_off_unannounced(r, uid, &out[i], &skip);
		if (status == STORE_OK && !skip)
			status = schedule(r, arena, uid, lookup.sequence, &out[i]);
	}
	return status;
}
