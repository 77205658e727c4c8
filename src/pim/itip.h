/*
 * itip.h: a meeting message (iTIP, RFC 5546) as mail carries it (iMIP,
 * RFC 6047: a text/calendar part with a METHOD), read into the calendar
 * class's fields and applied to the attendee's stored event: a REQUEST
 * adds or updates the meeting (the organizer's fields replaced, the user's
 * own kept), a CANCEL of one occurrence deletes that occurrence only, a
 * CANCEL of the series marks the meeting cancelled.
 *
 * Which update is newer (SEQUENCE, then DTSTAMP: RFC 5546 2.1.5) is the
 * caller's to decide, with what it recorded of earlier ones. Must not:
 * know the store.
 */
#ifndef PIM_ITIP_H
#define PIM_ITIP_H

#include <stdint.h>

#include "pim/pim.h"

enum pim_itip_method {
	PIM_ITIP_NONE,    /* no text/calendar part, or none that parses */
	PIM_ITIP_REQUEST, /* an invitation or an update */
	PIM_ITIP_CANCEL,
	PIM_ITIP_OTHER,   /* REPLY, COUNTER, PUBLISH...: the calendar is not changed */
};

struct pim_itip {
	enum pim_itip_method method;
	const char *uid;               /* the meeting's UID */
	int64_t sequence;              /* SEQUENCE (0 when absent) */
	int64_t dtstamp;               /* DTSTAMP, Unix seconds (0 when absent) */
	int64_t recurrence_id;         /* 0: the series; else the occurrence's original start */
	const char *organizer;         /* ORGANIZER's address, "" when none */
	bool organized_by_user;        /* the user's own meeting: their devices keep its calendar */
	struct wbxml_node *fields;     /* REQUEST: the event as calendar fields, a received meeting */
};

/* Reads the message's first text/calendar part that holds a VEVENT; user is the recipient (a login or an address). */
void pim_itip_read(struct arena *arena, const uint8_t *mime, size_t len, const char *user, struct pim_itip *out);
/*
 * The event itip makes of stored (the user's event of that UID, NULL when
 * there is none): new fields to store, or NULL when there is nothing to
 * change (a cancellation of a meeting the user does not have).
 */
struct wbxml_node *pim_itip_apply(struct arena *arena, const struct pim_itip *itip, const struct wbxml_node *stored);

/*
 * The same for the store: stored is the user's event of that UID as
 * stored (NULL: none); *update_out is what to store (its message_id the
 * UID, to find the event again). Returns 0, 1 when nothing changes, 2
 * when the message does not come from the stored meeting's organizer
 * (changes nothing), or -1 when the calendar refuses the result
 * (update_out->invalid says why, if it can).
 */
int pim_itip_event(struct arena *arena, const struct pim_itip *itip, const char *user, int64_t now,
		   const uint8_t *stored, size_t stored_len, struct pim_update *update_out);

/* ---- the user's answer (MeetingResponse; itip_answer.c) ---- */

/* UserResponse (MS-ASCMD 2.2.3.182): 1 accept, 2 tentative, 3 decline. */
enum pim_itip_answer {
	PIM_ITIP_ACCEPT = 1,
	PIM_ITIP_TENTATIVE = 2,
	PIM_ITIP_DECLINE = 3,
};

/* What a REPLY to the organizer says of the meeting, read from the user's event. */
struct pim_itip_meeting {
	const char *uid, *organizer, *subject;
	const char *attendee;        /* the user's address as the organizer invited it; NULL: not among the attendees */
	int64_t start, end;          /* of the series, or of the occurrence answered */
	int64_t occurrence;          /* 0: the series */
	int64_t sequence;            /* the organizer's last SEQUENCE applied */
	bool proposals_disallowed;   /* DisallowNewTimeProposal: the organizer takes no other time */
	/* A new time the user proposes (16.1 SendResponse), set by the caller: the
	   message is then a COUNTER (RFC 5546 3.2.7). 0: none. */
	int64_t proposed_start, proposed_end;
};

/*
 * The user's answer on their stored event (one occurrence when instance,
 * its original start as MS-ASDTYPE dateTime, is not NULL or empty, or
 * else when occurrence, the same in Unix seconds, is not 0): ResponseType, BusyStatus (accepted: busy, tentative:
 * tentative, declined: free), AppointmentReplyTime, their own attendee
 * status. A declined series is to be removed (*remove_out; update_out is
 * then not filled); a declined occurrence becomes a deleted one. Fills
 * *meeting_out for the REPLY. Returns 0, or -1 when stored is no event
 * that can be answered (not a meeting, or the user organizes it; an
 * instance that is no time).
 */
int pim_itip_answer_event(struct arena *arena, const uint8_t *stored, size_t stored_len, const char *user,
			  enum pim_itip_answer answer, const char *instance, int64_t occurrence, int64_t now,
			  struct pim_update *update_out,
			  bool *remove_out, struct pim_itip_meeting *meeting_out);
/*
 * A new time proposed for a meeting (MS-ASCMD ProposedStartTime and
 * ProposedEndTime, Compact DateTime) as Unix seconds. Returns 0, or -1
 * when the pair is not a time span (one missing, not a time, ends first).
 */
int pim_itip_proposal(const char *start, const char *end, int64_t *start_out, int64_t *end_out);
/*
 * The iTIP REPLY (RFC 5546 3.2.3) from the user (address, display name
 * may be NULL) to the organizer, as a whole MIME message with CRLF lines,
 * in arena; a COUNTER (3.2.7) with the proposed times when meeting has
 * them, the user's answer in its PARTSTAT.
 */
struct slice pim_itip_reply(struct arena *arena, const struct pim_itip_meeting *meeting, const char *address,
			    const char *name, enum pim_itip_answer answer, int64_t now);

/* ---- the user's own meetings (itip_organizer.c) ---- */

/* A change one of the user's devices made to an event. */
struct pim_itip_change {
	const uint8_t *before;     /* the event as stored before; before_len 0: it was added */
	size_t before_len;
	const uint8_t *after;      /* as stored after; after_len 0: it was deleted */
	size_t after_len;
	const char *user;          /* the login */
	const char *address;       /* the user's address: ORGANIZER and From */
	const char *name;          /* the user's display name, may be NULL */
	int64_t sequence;          /* of the messages: filled in from sequence_of */
	int64_t now;
	unsigned max_recipients;   /* more attendees than this: no message at all */
	/* The SEQUENCE of the meeting's next messages, asked once the UID is known. Returns 0, or -1 (nothing is built). */
	int (*sequence_of)(void *context, const char *uid, int64_t *sequence_out);
	void *context;
};

/* One message that change sends. */
struct pim_itip_outgoing {
	const char *method;             /* "REQUEST" or "CANCEL" */
	const char *const *recipients;
	unsigned recipient_count;
	struct slice message;           /* the whole MIME message, CRLF lines */
};

/*
 * What the attendees of a meeting the user organizes are told of change:
 * nothing (not such a meeting, no attendees, or nothing they see changed:
 * a reminder, a category, a reply recorded), a REQUEST with the whole
 * meeting to its attendees, a CANCEL to attendees taken off, or a CANCEL
 * to all when the meeting is deleted, cancelled or no longer a meeting.
 * Fills out (in arena) and returns how many (0 to 2), or
 * PIM_ITIP_TOO_MANY_ATTENDEES (none built), or -1 when sequence_of failed;
 * *uid_out is the meeting's UID when any.
 */
#define PIM_ITIP_TOO_MANY_ATTENDEES (-2)
int pim_itip_organizer_messages(struct arena *arena, const struct pim_itip_change *change, const char **uid_out,
				     struct pim_itip_outgoing out[2]);

#endif
