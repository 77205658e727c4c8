/*
 * sendmail.c: SendMail, SmartReply and SmartForward (MS-ASCMD 2.2.1.17 to
 * 2.2.1.19): a device's message leaves through the site's MTA.
 *
 * In three steps, like every command: check (the request reads, the
 * message fits the limits and has recipients, the user is under the
 * hourly rate), claim (the send key is taken in the store, so a retried
 * request whose answer was lost sends nothing more), and submit: the relay
 * takes the message, then the claim is marked sent and the copy goes to
 * Sent Items in one transaction. A message the relay did not take gives
 * its claim back and the device a status that keeps it in the Outbox;
 * nothing is ever reported sent that was not.
 *
 * Success is HTTP 200 with no body; failures carry <Status> (14.0 and
 * later) or an HTTP status (12.1, which has no ComposeMail body).
 */
#include "eas/eas_private.h"
#include "mail/submit.h"
#include "pim/itip.h"
#include "pim/email.h"

#include <stdio.h>
#include <string.h>

/* A claim older than this belongs to an attempt that died: the relay has long given up on it. */
#define STALE_CLAIM_SECONDS(config) (2 * (int64_t)(config)->smtp_timeout + 60)
/* Send keys are remembered this long: devices retry within minutes, at worst days. */
#define SEND_KEY_KEEP_SECONDS (14 * 86400)

static void answer(struct eas_request *r, int status, const char *reason)
{
	if (r->protocol_version >= 140) {
		eas_answer_status(r, eas_command_find(r->command), status, reason);
		return;
	}
	/* 12.1: 503 is "try again later", 500 a failure the device shows. */
	r->http_status = status == EAS_STATUS_SUBMISSION_FAILED || status == EAS_STATUS_SERVER_ERROR_RETRY_LATER ? 503 : 500;
	r->eas_status = status;
	r->reason = reason;
}

static void log_send(const struct eas_request *r, const char *what, const struct pim_outgoing *out, const char *detail)
{
	fprintf(stderr, "easd: sendmail: %s user=%s device=%s message-id=<%s> recipients=%zu size=%zu: %s\n", what,
		r->user.name, r->device_id, out->message_id, out->recipient_count, out->wire_len, detail);
}

const char *eas_user_address(struct eas_request *r)
{
	if (strchr(r->user.name, '@') != NULL)
		return r->user.name;
	const char *domain = r->config->local_domains[0] != NULL ? r->config->local_domains[0] : "localhost";
	size_t len = strlen(r->user.name) + 1 + strlen(domain) + 1;
	char *address = arena_alloc(r->arena, len);
	snprintf(address, len, "%s@%s", r->user.name, domain);
	return address;
}

/* The stored original of a SmartReply or SmartForward. Returns 0 or the status. */
static int load_original(struct eas_request *r, const struct eas_compose *c, struct slice *out)
{
	struct store_folder folder;
	int64_t folder_id, item_id;
	uint64_t size;
	*out = SLICE_EMPTY;
	if (c->long_id.len > 0 || eas_folder_id_parse(c->folder_id, &folder_id) < 0 ||
	    eas_folder_get(r, r->arena, folder_id, &folder) != STORE_OK || folder.deleted ||
	    eas_server_id_parse(c->item_id, folder_id, &item_id) < 0)
		return EAS_STATUS_ITEM_NOT_FOUND; /* easd hands out no LongIds (no Search) */
	if (!eas_folder_holds_mail(folder.type))
		return 0; /* a calendar item forwarded: the device's message goes alone */
	int status = store_item_content_size(r->session, folder_id, item_id, &size);
	if (status == STORE_NOT_FOUND)
		return EAS_STATUS_ITEM_NOT_FOUND;
	if (status != STORE_OK)
		return EAS_STATUS_SERVER_ERROR_RETRY_LATER;
	if (size > r->config->max_send_size)
		return EAS_STATUS_ATTACHMENT_TOO_LARGE;
	uint8_t *data = arena_alloc(r->arena, size + 1);
	if (size > 0 && store_item_content_read(r->session, folder_id, item_id, 0, data, size) != STORE_OK)
		return EAS_STATUS_SERVER_ERROR_RETRY_LATER;
	*out = (struct slice){ data, size };
	return 0;
}

/* Builds the message to send. Returns 0 or the status (with *reason). */
static int prepare(struct eas_request *r, const struct eas_compose *c, struct pim_outgoing *out, const char **reason)
{
	const struct easd_config *config = r->config;
	struct slice original = SLICE_EMPTY;
	bool smart = (c->reply || c->forward) && !c->replace_mime;
	int status = smart ? load_original(r, c, &original) : 0;
	if (status != 0) {
		*reason = status == EAS_STATUS_ITEM_NOT_FOUND ? "original_not_found" : "original_unreadable";
		return status;
	}
	struct pim_outgoing_options options = {
		.kind = !smart ? PIM_OUTGOING_NEW : c->reply ? PIM_OUTGOING_REPLY : PIM_OUTGOING_FORWARD,
		.is_reply = c->reply, .sender = eas_user_address(r),
		.original = original.data, .original_len = original.len,
		.forwardees = c->forwardees, .forwardee_count = c->forwardee_count, .now = r->now,
		.max_recipients = config->max_send_recipients,
	};
	if (pim_outgoing_prepare(r->arena, c->mime.data, c->mime.len, &options, out) < 0)
		return *reason = "mime_invalid", EAS_STATUS_INVALID_MIME;
	if (out->wire_len > config->max_send_size)
		return *reason = "message_too_large", EAS_STATUS_ATTACHMENT_TOO_LARGE;
	if (out->invalid_recipients > 0)
		return *reason = "recipient_invalid", EAS_STATUS_INVALID_RECIPIENTS;
	if (out->recipient_count == 0)
		return *reason = "no_recipient", EAS_STATUS_NO_RECIPIENT;
	if (out->recipient_count > config->max_send_recipients)
		return *reason = "too_many_recipients", EAS_STATUS_SEND_QUOTA_EXCEEDED;
	return 0;
}

/*
 * The key a retry of this request has too: the device's ClientId, else
 * its Message-ID, else (12.1 without either) a hash of the message it sent.
 */
static const char *send_key(struct eas_request *r, const struct eas_compose *c, const struct pim_outgoing *out)
{
	size_t len = 24 + strlen(r->device_id) + c->client_id.len + strlen(out->message_id);
	char *key = arena_alloc(r->arena, len);
	uint64_t hash = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < c->mime.len; i++)
		hash = (hash ^ c->mime.data[i]) * 0x100000001b3ull;
	if (c->client_id.len > 0)
		snprintf(key, len, "c:%s:%.*s", r->device_id, (int)c->client_id.len, (const char *)c->client_id.data);
	else if (!out->message_id_made)
		snprintf(key, len, "m:%s", out->message_id);
	else
		snprintf(key, len, "h:%s:%016llx", r->device_id, (unsigned long long)hash);
	return key;
}

/* The hourly rate, then the claim. Returns 0 to send, or the status (with *reason; 1: sent before). */
static int claim(struct eas_request *r, const char *key, const char **reason)
{
	const struct easd_config *config = r->config;
	unsigned sent = 0;
	enum store_send_claim found;
	if (store_send_count(r->session, r->user.id, r->now - 3600, &sent) != STORE_OK ||
	    store_send_claim(r->session, r->user.id, key, r->now, STALE_CLAIM_SECONDS(config), SEND_KEY_KEEP_SECONDS,
			     &found) != STORE_OK)
		return *reason = "store_error", EAS_STATUS_SERVER_ERROR_RETRY_LATER;
	if (found == STORE_SEND_ALREADY_SENT)
		return *reason = "already_sent", 1;
	if (found == STORE_SEND_IN_PROGRESS)
		return *reason = "send_in_progress", EAS_STATUS_SERVER_ERROR_RETRY_LATER;
	if (config->max_sends_per_hour > 0 && sent >= config->max_sends_per_hour) {
		store_send_abandon(r->session, r->user.id, key);
		return *reason = "send_rate_exceeded", EAS_STATUS_SEND_QUOTA_EXCEEDED;
	}
	return 0;
}

/*
 * A device that sends the invitation, update or cancellation of a meeting
 * the user organizes itself: easd's own pending messages about it are to
 * be dropped, and later ones for a while too (sync_invitations.c). Read
 * before the transaction that records the send, so the message is not
 * parsed while the store's write lock is held. Returns whether it is one.
 */
static bool device_invitation(struct eas_request *r, const struct pim_outgoing *out, struct store_invitation *message_out)
{
	struct pim_itip itip;
	pim_itip_read(r->arena, out->wire, out->wire_len, r->user.name, &itip);
	if ((itip.method != PIM_ITIP_REQUEST && itip.method != PIM_ITIP_CANCEL) || !itip.organized_by_user ||
	    itip.uid == NULL || itip.uid[0] == '\0')
		return false;
	*message_out = (struct store_invitation){
		.user_id = r->user.id, .uid = itip.uid, .method = itip.method == PIM_ITIP_REQUEST ? "REQUEST" : "CANCEL",
		.sequence = itip.sequence, .due = r->now,
		.recipients = eas_join_lines(r->arena, (const char *const *)out->recipients, out->recipient_count),
	};
	char uid[128];
	fprintf(stderr, "easd: meeting %s sent by the device user=%s uid=%s recipients=%zu\n", message_out->method,
		r->user.name, util_printable(uid, sizeof(uid), itip.uid), out->recipient_count);
	return true;
}

/* Marks the claim sent, keeps the copy and a device's own meeting message (NULL: none), in one transaction. */
static int record_sent(struct eas_request *r, const char *key, bool save_in_sent, const struct pim_outgoing *out,
		       const struct store_invitation *device_message)
{
	int64_t sent_items = 0;
	int status = save_in_sent ? store_folder_find_type(r->session, r->user.id, STORE_FOLDER_SENT, &sent_items)
				  : STORE_OK;
	if (status == STORE_OK)
		status = store_begin(r->session);
	if (status != STORE_OK)
		return status;
	status = store_send_done(r->session, r->user.id, key);
	if (status == STORE_OK && device_message != NULL)
		status = store_invitation_device_sent(r->session, device_message, r->now);
	if (status == STORE_OK && save_in_sent) {
		struct store_item_meta meta = { .received = r->now, .date = out->date, .message_id = out->message_id,
						.read = true };
		status = store_item_add(r->session, r->user.id, sent_items, out->copy, out->copy_len, &meta, NULL);
	}
	if (status == STORE_OK)
		return store_commit(r->session);
	store_rollback(r->session);
	return status;
}

static const int submit_status[] = {
	[MAIL_SUBMIT_SENT] = 0,
	[MAIL_SUBMIT_TEMPORARY] = EAS_STATUS_SUBMISSION_FAILED,
	[MAIL_SUBMIT_RECIPIENT_REFUSED] = EAS_STATUS_RECIPIENT_UNRESOLVED,
	[MAIL_SUBMIT_REFUSED] = EAS_STATUS_SUBMISSION_FAILED,
};
static const char *const submit_reason[] = {
	[MAIL_SUBMIT_SENT] = NULL,
	[MAIL_SUBMIT_TEMPORARY] = "relay_unavailable",
	[MAIL_SUBMIT_RECIPIENT_REFUSED] = "relay_refused_recipient",
	[MAIL_SUBMIT_REFUSED] = "relay_refused",
};

static void submit_claimed(struct eas_request *r, const struct eas_compose *c, const struct pim_outgoing *out)
{
	const char *reason = NULL, *key = send_key(r, c, out);
	int status = claim(r, key, &reason);
	if (status != 0) {
		if (status == 1)
			r->reason = reason; /* the answer was lost: the device hears "sent" again */
		else
			answer(r, status, reason);
		return;
	}
	char detail[512];
	struct mail_envelope envelope = { eas_user_address(r), out->recipients, out->recipient_count };
	enum mail_submit_result result = mail_submit(r->config, &envelope, out->wire, out->wire_len, detail,
						     sizeof(detail));
	if (result != MAIL_SUBMIT_SENT) {
		store_send_abandon(r->session, r->user.id, key);
		log_send(r, "not sent", out, detail);
		answer(r, submit_status[result], submit_reason[result]);
		return;
	}
	log_send(r, "sent", out, detail);
	struct store_invitation device_message;
	bool meeting = device_invitation(r, out, &device_message);
	if (record_sent(r, key, c->save_in_sent, out, meeting ? &device_message : NULL) != STORE_OK) {
		/* It left: saying otherwise would have the device send it again. */
		fprintf(stderr, "easd: sendmail: message-id=<%s> sent but not recorded (no Sent Items copy)\n",
			out->message_id);
		r->reason = "sent_not_recorded";
	}
}

/* The handler of all three: the command's name says which (eas_compose_read). */
void eas_sendmail(struct eas_request *r)
{
	struct eas_compose compose;
	struct pim_outgoing out;
	const char *reason = "request_invalid";
	int status = eas_compose_read(r, &compose);
	if (status == 0 && compose.mime.len > r->config->max_send_size) {
		status = EAS_STATUS_ATTACHMENT_TOO_LARGE;
		reason = "message_too_large";
	}
	if (status == 0)
		status = prepare(r, &compose, &out, &reason);
	if (status != 0) {
		answer(r, status, reason);
		return;
	}
	submit_claimed(r, &compose, &out);
}
