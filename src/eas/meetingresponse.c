/*
 * meetingresponse.c: MeetingResponse (MS-ASCMD 2.2.1.11): the user
 * accepts, tentatively accepts or declines a meeting, named by the
 * invitation in a mail folder or by the event in a calendar.
 *
 * Each Request: find the event (an invitation whose event is not in the
 * calendar yet makes it, as its delivery would have; an invitation to
 * one occurrence answers that occurrence), record the answer on it
 * (pim/itip_answer.c), then, when a 16.x device asks with SendResponse,
 * send the organizer one iTIP REPLY, and only then move the invitation
 * to Deleted Items (where Exchange puts it): a REPLY the relay did not
 * take leaves the invitation where the device's retry finds it. Earlier
 * versions send the reply themselves through SendMail (MS-ASCMD R268), so
 * easd does not (field-notes F-MTG-3). A repeated answer sends nothing
 * more: each (meeting, occurrence, version, answer) is a send key, and
 * replies count towards [smtp] max_messages_per_hour.
 */
#include "eas/eas_private.h"
#include "guard/limits.h"
#include "mail/submit.h"
#include "pim/itip.h"

#include <stdio.h>
#include <string.h>

/* MeetingResponse Status (MS-ASCMD 2.2.3.177.9). */
enum {
	MEETING_OK = 1,
	MEETING_INVALID_REQUEST = 2,
	MEETING_MAILBOX_ERROR = 3,
	MEETING_SERVER_ERROR = 4,
};

struct answer_request {
	unsigned user_response;
	struct slice collection_id, request_id, instance_id;
	bool send_response;
	int64_t proposed_start, proposed_end; /* 16.1 SendResponse: a new time; 0: none */
	bool proposal_invalid;                /* one time of the two, or not a span: Status 2 for this Request */
};

/* Where the answer went: the event's ServerId for CalendarId (event 0: removed). */
struct answer_result {
	int status;
	int64_t calendar, event;
};

/*
 * SendResponse (MS-ASCMD 2.2.3.163): the answer goes to the organizer; in
 * 16.1 with a new time (ProposedStartTime and ProposedEndTime, both or
 * neither, 2.2.3.140-141). A proposal that is not a time span makes this
 * Request invalid (Status 2), not the command.
 */
static int read_send_response(struct eas_request *r, struct wbxml_reader *reader, struct answer_request *q)
{
	struct wbxml_event event;
	struct slice start = { 0 }, end = { 0 };
	int more;
	q->send_response = true;
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		int status = event.tag == WBXML_MEETINGRESPONSE_PROPOSED_START_TIME ? eas_read_text(reader, &start)
			     : event.tag == WBXML_MEETINGRESPONSE_PROPOSED_END_TIME ? eas_read_text(reader, &end)
										     : wbxml_reader_skip(reader);
		if (status < 0)
			return -1;
	}
	if (more == 0 && (start.len > 0 || end.len > 0))
		q->proposal_invalid = pim_itip_proposal(arena_strndup(r->arena, start.data, start.len),
							arena_strndup(r->arena, end.data, end.len), &q->proposed_start,
							&q->proposed_end) < 0;
	return more;
}

static int read_request(struct eas_request *r, struct wbxml_reader *reader, struct answer_request *q)
{
	struct wbxml_event event;
	int more;
	memset(q, 0, sizeof(*q));
	while ((more = wbxml_reader_next_child(reader, &event)) > 0) {
		int status;
		if (event.tag == WBXML_MEETINGRESPONSE_USER_RESPONSE)
			status = eas_read_number(reader, 3, 0, &q->user_response);
		else if (event.tag == WBXML_MEETINGRESPONSE_COLLECTION_ID)
			status = eas_read_text(reader, &q->collection_id);
		else if (event.tag == WBXML_MEETINGRESPONSE_REQUEST_ID)
			status = eas_read_text(reader, &q->request_id);
		else if (event.tag == WBXML_MEETINGRESPONSE_INSTANCE_ID)
			status = eas_read_text(reader, &q->instance_id);
		else if (event.tag == WBXML_MEETINGRESPONSE_SEND_RESPONSE)
			status = read_send_response(r, reader, q);
		else
			status = wbxml_reader_skip(reader);
		if (status < 0)
			return -1;
	}
	return more;
}

/* An item's whole content into the arena (an event, or an invitation as large as a message may be). */
static int read_content(struct eas_request *r, int64_t folder, int64_t item, struct slice *out)
{
	return eas_content_whole(r, r->arena, folder, item, LIMIT_PIM_ITEM_BYTES + (uint64_t)r->config->max_message_size,
				 out);
}

/* Where a Request's answer goes. */
struct located {
	int64_t calendar, event;      /* the event */
	int64_t folder, invitation;   /* the invitation it was named by (invitation 0: named by the event) */
	int64_t occurrence;           /* an invitation to one occurrence: its original start */
};

/* The event an invitation (a message in a mail folder) is about: found by its UID, or made from it. */
static int event_of_invitation(struct eas_request *r, struct slice message, struct located *at)
{
	struct pim_itip itip;
	pim_itip_read(r->arena, message.data, message.len, r->user.name, &itip);
	if (itip.method != PIM_ITIP_REQUEST || itip.organized_by_user)
		return STORE_NOT_FOUND;
	at->occurrence = itip.recurrence_id;
	int status = store_item_find_id(r->session, at->calendar, itip.uid, &at->event);
	if (status != STORE_NOT_FOUND)
		return status;
	struct pim_update update;
	if (pim_itip_event(r->arena, &itip, r->user.name, r->now, NULL, 0, &update) != 0)
		return STORE_NOT_FOUND;
	struct store_item_meta meta = { .received = update.received, .date = update.date,
					.message_id = update.message_id, .categories = update.categories };
	struct store_meeting_version version = { itip.sequence, itip.dtstamp };
	status = store_item_add(r->session, r->user.id, at->calendar, update.content.data, update.content.len, &meta,
				&at->event);
	return status == STORE_OK ? store_meeting_version_put(r->session, r->user.id, itip.uid, itip.recurrence_id, &version)
				  : status;
}

static int find_event(struct eas_request *r, const struct answer_request *q, struct located *at)
{
	struct store_folder folder;
	struct slice message;
	memset(at, 0, sizeof(*at));
	if (eas_folder_id_parse(q->collection_id, &at->folder) < 0 ||
	    eas_folder_get(r, r->arena, at->folder, &folder) != STORE_OK || folder.deleted ||
	    eas_server_id_parse(q->request_id, at->folder, &at->event) < 0)
		return STORE_NOT_FOUND;
	if (folder.type == STORE_FOLDER_CALENDAR || folder.type == STORE_FOLDER_USER_CALENDAR) {
		at->calendar = at->folder;
		return STORE_OK;
	}
	if (!eas_folder_holds_mail(folder.type))
		return STORE_NOT_FOUND;
	at->invitation = at->event;
	int status = store_folder_find_type(r->session, r->user.id, STORE_FOLDER_CALENDAR, &at->calendar);
	if (status == STORE_OK)
		status = read_content(r, at->folder, at->invitation, &message);
	return status == STORE_OK ? event_of_invitation(r, message, at) : status;
}

/* Records the answer on the event, in the open transaction. */
static int record(struct eas_request *r, const struct answer_request *q, struct located *at,
		  struct pim_itip_meeting *meeting)
{
	struct slice stored;
	struct pim_update update;
	struct store_meeting_version version = { 0, 0 };
	bool remove;
	uint64_t modseq;
	const char *instance = arena_strndup(r->arena, q->instance_id.data, q->instance_id.len);
	int status = read_content(r, at->calendar, at->event, &stored);
	if (status != STORE_OK)
		return status;
	if (pim_itip_answer_event(r->arena, stored.data, stored.len, r->user.name, (enum pim_itip_answer)q->user_response,
				  instance, at->occurrence, r->now, &update, &remove, meeting) < 0)
		return STORE_NOT_FOUND;
	if (store_meeting_version_get(r->session, r->user.id, meeting->uid, meeting->occurrence, &version) == STORE_OK ||
	    store_meeting_version_get(r->session, r->user.id, meeting->uid, 0, &version) == STORE_OK)
		meeting->sequence = version.sequence; /* the REPLY answers the version the user has */
	if (remove)
		status = store_item_delete(r->session, r->user.id, at->calendar, at->event, &modseq);
	else
		status = store_item_set_content(r->session, r->user.id, at->calendar, at->event, update.content.data,
						update.content.len, update.received, &modseq);
	at->event = remove ? 0 : at->event;
	return status;
}

/* The invitation to Deleted Items, once answered (its own transaction: the answer stands if this fails). */
static void put_away(struct eas_request *r, const struct located *at)
{
	int64_t trash, moved;
	uint64_t from_modseq, to_modseq;
	if (at->invitation == 0 || store_begin(r->session) != STORE_OK)
		return;
	int status = store_folder_find_type(r->session, r->user.id, STORE_FOLDER_DELETED, &trash);
	if (status == STORE_OK && trash != at->folder)
		status = store_item_move(r->session, r->user.id, at->folder, at->invitation, trash, &moved, &from_modseq,
					 &to_modseq);
	if (status == STORE_OK)
		status = store_commit(r->session);
	if (status != STORE_OK)
		store_rollback(r->session);
}

/* The hourly sending rate, then the send key. Returns 0 to send, 1 when sent before, or a Status. */
static int claim_reply(struct eas_request *r, const char *key)
{
	const struct easd_config *config = r->config;
	enum store_send_claim found;
	unsigned sent = 0;
	if (store_send_count(r->session, r->user.id, r->now - 3600, &sent) != STORE_OK ||
	    store_send_claim(r->session, r->user.id, key, r->now, 2 * (int64_t)config->smtp_timeout + 60, 14 * 86400,
			     &found) != STORE_OK || found == STORE_SEND_IN_PROGRESS)
		return MEETING_SERVER_ERROR;
	if (found == STORE_SEND_ALREADY_SENT)
		return 1;
	if (config->max_sends_per_hour > 0 && sent >= config->max_sends_per_hour) {
		store_send_abandon(r->session, r->user.id, key);
		fprintf(stderr, "easd: meeting reply not sent user=%s: over [smtp] max_messages_per_hour\n", r->user.name);
		return MEETING_SERVER_ERROR;
	}
	return 0;
}

/* One REPLY to the organizer per meeting, occurrence, version and answer, however often the device asks. */
static int send_reply(struct eas_request *r, const struct answer_request *q, const struct pim_itip_meeting *meeting,
		      bool *relay_failed)
{
	const char *address = meeting->attendee != NULL ? meeting->attendee : eas_user_address(r);
	char key[600], detail[512];
	/* A new proposal is a new message; the same one again is not. */
	snprintf(key, sizeof(key), "r:%s:%lld:%lld:%u:%lld:%lld", meeting->uid, (long long)meeting->occurrence,
		 (long long)meeting->sequence, q->user_response, (long long)meeting->proposed_start,
		 (long long)meeting->proposed_end);
	int claimed = *relay_failed ? MEETING_SERVER_ERROR : claim_reply(r, key);
	if (claimed != 0)
		return claimed == 1 ? MEETING_OK : claimed;
	struct slice reply = pim_itip_reply(r->arena, meeting, address, NULL, (enum pim_itip_answer)q->user_response, r->now);
	struct mail_envelope envelope = { address, &meeting->organizer, 1 };
	if (mail_submit(r->config, &envelope, reply.data, reply.len, detail, sizeof(detail)) != MAIL_SUBMIT_SENT) {
		store_send_abandon(r->session, r->user.id, key);
		fprintf(stderr, "easd: meeting reply not sent user=%s to=%s: %s\n", r->user.name, meeting->organizer, detail);
		*relay_failed = true; /* the other Requests of this command do not wait for the relay again */
		return MEETING_SERVER_ERROR; /* the invitation stays: the device's retry sends it */
	}
	if (store_begin(r->session) != STORE_OK || store_send_done(r->session, r->user.id, key) != STORE_OK ||
	    store_commit(r->session) != STORE_OK)
		store_rollback(r->session);
	return MEETING_OK;
}

/*
 * A time the user proposes goes with a tentative or declining answer, as a
 * COUNTER; an acceptance proposes nothing, and a meeting whose organizer
 * takes no new time (DisallowNewTimeProposal) gets the plain answer.
 */
static void propose(struct eas_request *r, const struct answer_request *q, struct pim_itip_meeting *meeting)
{
	if (q->proposed_start == 0)
		return;
	if (q->user_response == PIM_ITIP_ACCEPT || meeting->proposals_disallowed) {
		char uid[128];
		fprintf(stderr, "easd: meeting time proposal dropped user=%s uid=%s: %s\n", r->user.name,
			util_printable(uid, sizeof(uid), meeting->uid),
			meeting->proposals_disallowed ? "the organizer takes no new time (DisallowNewTimeProposal)"
						      : "an acceptance proposes no other time");
		return;
	}
	meeting->proposed_start = q->proposed_start;
	meeting->proposed_end = q->proposed_end;
}

static struct answer_result answer_one(struct eas_request *r, const struct answer_request *q, bool *relay_failed)
{
	struct answer_result result = { MEETING_OK, 0, 0 };
	struct pim_itip_meeting meeting;
	struct located at;
	if (q->user_response < 1 || q->user_response > 3 || q->proposal_invalid)
		return (struct answer_result){ MEETING_INVALID_REQUEST, 0, 0 };
	int status = store_begin(r->session);
	if (status == STORE_OK)
		status = find_event(r, q, &at);
	if (status == STORE_OK)
		status = record(r, q, &at, &meeting);
	if (status == STORE_OK)
		status = store_commit(r->session);
	if (status != STORE_OK) {
		store_rollback(r->session);
		result.status = status == STORE_NOT_FOUND ? MEETING_INVALID_REQUEST : MEETING_MAILBOX_ERROR;
		return result;
	}
	result.calendar = at.calendar;
	result.event = at.event;
	if (q->send_response && r->protocol_version >= 160) {
		propose(r, q, &meeting);
		result.status = send_reply(r, q, &meeting, relay_failed);
	}
	if (result.status == MEETING_OK)
		put_away(r, &at);
	return result;
}

static void write_result(struct wbxml_writer *writer, const struct answer_request *q, const struct answer_result *result)
{
	wbxml_writer_start(writer, WBXML_MEETINGRESPONSE_RESULT);
	wbxml_writer_element_string(writer, WBXML_MEETINGRESPONSE_REQUEST_ID, q->request_id.data, q->request_id.len);
	wbxml_writer_element_uint(writer, WBXML_MEETINGRESPONSE_STATUS, (uint64_t)result->status);
	if (result->status == MEETING_OK && result->event != 0)
		eas_server_id_write(writer, WBXML_MEETINGRESPONSE_CALENDAR_ID, result->calendar, result->event);
	wbxml_writer_end(writer);
}

void eas_meetingresponse(struct eas_request *r)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	struct wbxml_writer writer;
	struct answer_request q;
	unsigned count = 0;
	bool relay_failed = false;
	wbxml_reader_init(&reader, r->body.data, r->body.len, NULL);
	if (wbxml_reader_next(&reader, &event) < 0) {
		eas_answer_status(r, eas_command_find(r->command), EAS_STATUS_INVALID_XML, "request_invalid");
		return;
	}
	eas_writer_init(r, &writer);
	wbxml_writer_start(&writer, WBXML_MEETINGRESPONSE_MEETING_RESPONSE);
	int more;
	while ((more = wbxml_reader_next_child(&reader, &event)) > 0) {
		if (event.tag != WBXML_MEETINGRESPONSE_REQUEST || ++count > LIMIT_MEETING_RESPONSES ||
		    read_request(r, &reader, &q) < 0)
			break;
		struct answer_result result = answer_one(r, &q, &relay_failed);
		write_result(&writer, &q, &result);
	}
	if (more != 0 || count == 0) {
		/* Answers already recorded stay so; the device learns the request was not what it should be. */
		eas_answer_status(r, eas_command_find(r->command), EAS_STATUS_INVALID_XML,
				  count > LIMIT_MEETING_RESPONSES ? "too_many_requests" : "request_invalid");
		return;
	}
	wbxml_writer_end(&writer);
	eas_writer_finish(r, &writer);
}
