/*
 * email.h: an e-mail message (the original MIME, as stored) as EAS Email
 * ApplicationData (MS-ASEMAIL, MS-ASAIRS), built with GMime; the
 * client's changes to a message's flags; and a draft the client creates
 * (EAS 16.0+), read from its ApplicationData and composed as MIME.
 *
 * Must not: know HTTP or the store. The caller gives the MIME bytes (in
 * memory, or as a pim_source read by ranges) and the per-item state the
 * store keeps (read, flag, categories), and a writer positioned inside
 * <ApplicationData>.
 */
#ifndef PIM_EMAIL_H
#define PIM_EMAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pim/pim.h"

/*
 * Writes the Email elements of the message into writer (To, Cc, From,
 * Subject, ReplyTo, DateReceived, DisplayTo, Importance, Read,
 * MessageClass, InternetCPID, ContentClass, Flag, Categories,
 * ConversationId/Index, airsyncbase:Body per the options, NativeBodyType,
 * airsyncbase:Attachments). Broken MIME still gives an item (the parts
 * GMime could read; bytes without any header block become a plain-text
 * body). Returns 0, or -1 for empty input (then nothing was written).
 */
int pim_email_write(struct wbxml_writer *writer, struct arena *arena, const uint8_t *mime, size_t len,
		    const struct pim_options *options, const struct pim_email_state *state);
/*
 * The same from a source: only the parts' headers and what the body
 * options need are read (a truncated body reads about its truncation
 * size of a large part), a window at a time.
 */
int pim_email_write_source(struct wbxml_writer *writer, struct arena *arena, const struct pim_source *source,
			   const struct pim_options *options, const struct pim_email_state *state);

/*
 * One attachment by its index (as numbered in FileReference): the decoded
 * bytes from range_start to range_end inclusive (UINT64_MAX: to the end)
 * appended to out, its full decoded size and content type. Returns 0, or
 * -1 when there is no such attachment.
 */
int pim_email_attachment(struct arena *arena, const struct pim_source *source, unsigned index,
			 uint64_t range_start, uint64_t range_end, struct buf *out,
			 uint64_t *total_out, const char **content_type_out);

/*
 * An attachment located for streaming: its encoded bytes are
 * [encoded_start, encoded_end) of the source, in a transfer encoding a
 * pim_decoder undoes, so they can be read and decoded a window at a time
 * later, without parsing the message again.
 */
struct pim_attachment {
	const char *content_type;   /* in the arena */
	uint64_t size;              /* decoded bytes (one decoding pass, nothing kept) */
	bool streamable;            /* false: a forwarded message, which GMime writes anew */
	uint64_t encoded_start, encoded_end;
	int encoding;               /* for pim_decoder_new */
};

/* Attachment index of the source. Returns 0, or -1 when there is no such attachment. */
int pim_email_attachment_find(struct arena *arena, const struct pim_source *source, unsigned index,
			      struct pim_attachment *out);

/* Undoes a transfer encoding window by window; its state lives in the arena. */
struct pim_decoder;
struct pim_decoder *pim_decoder_new(struct arena *arena, int encoding);
/*
 * Decodes the next len encoded bytes (final: the last ones; what the
 * decoder held back is flushed). The result is valid until the next call;
 * it may be empty.
 */
struct slice pim_decoder_step(struct pim_decoder *decoder, const uint8_t *in, size_t len, bool final);

/* What a message of size bytes weighs in a response under the options, at most. */
uint64_t pim_email_estimated_bytes(const struct pim_options *options, uint64_t size);

/* Fields the store indexes at delivery. Strings in arena; missing ones empty. */
struct pim_email_summary {
	const char *message_id;
	const char *subject;
	int64_t date;               /* Date header, Unix seconds; 0 when absent or broken */
};
int pim_email_summary(struct arena *arena, const uint8_t *mime, size_t len,
		      struct pim_email_summary *summary_out);

/* Which fields a client's Change carried (pim_email_read_change). */
enum pim_email_field {
	PIM_EMAIL_FIELD_READ = 1 << 0,
	PIM_EMAIL_FIELD_FLAG = 1 << 1,
	PIM_EMAIL_FIELD_CATEGORIES = 1 << 2,
};

/*
 * Reads a client's Change ApplicationData for a message (Read, Flag,
 * Categories) from reader, positioned just after <ApplicationData>'s
 * START, up to and including its END. The fields the change carries are
 * set in *state and named in *fields_out (enum pim_email_field); the others
 * keep their value. Returns 0, or a wbxml status (then *state is untouched).
 */
int pim_email_read_change(struct wbxml_reader *reader, struct arena *arena, struct pim_email_state *state,
			  unsigned *fields_out);

/*
 * Writes only what a Change of a message carries (MS-ASEMAIL 2.2.2.50,
 * 2.2.2.31, 2.2.2.14): Read, Flag and Categories (14.0+).
 */
void pim_email_write_flags(struct wbxml_writer *writer, const struct pim_email_state *state,
			   unsigned protocol_version);

/* ---- drafts: a Sync Add in the Drafts folder (EAS 16.0, 16.1) ---- */

/* One attachment a draft adds: airsyncbase:Attachments/Add (MS-ASAIRS 2.2.2.2). */
struct pim_draft_attachment {
	const char *client_id;        /* the client's id (MS-ASAIRS 2.2.2.14), never empty */
	const char *display_name;     /* the file name; "" when not sent */
	const char *content_type;     /* as sent, "" when not sent; compose checks it */
	const char *content_id;       /* as sent, "" when not sent */
	const char *content_location; /* as sent, "" when not sent */
	struct slice content;         /* the attachment's bytes, in the arena */
	uint8_t method;               /* MS-ASAIRS 2.2.2.31.1: 1 normal (default), 5 embedded message, 6 OLE */
	bool is_inline;
};

/*
 * A draft as the client sent it. Every string and byte is in the arena
 * given to pim_email_read_draft (nothing borrows the request body); a
 * string field not sent is "".
 */
struct pim_email_draft {
	const char *to;                /* email:To, an RFC 5322 address list as typed */
	const char *cc;                /* email:Cc */
	const char *bcc;               /* email2:Bcc (Email2 page, token 0x16; 16.0+) */
	const char *subject;           /* email:Subject */
	uint8_t importance;            /* email:Importance: 0 low, 1 normal (default), 2 high */
	uint8_t body_type;             /* 0: no airsyncbase:Body; PIM_BODY_PLAIN or PIM_BODY_HTML */
	const char *body;              /* airsyncbase:Data of the Body; "" when none */
	unsigned fields;               /* enum pim_email_field: which of Read, Flag, Categories were sent */
	bool read;                     /* email:Read; true when not sent (the user wrote it) */
	uint8_t flag_status;           /* email:Flag Status: 0 none (default), 1 complete, 2 active */
	const char *categories[8];     /* email:Categories, NULL-terminated when fewer; more are dropped */
	struct pim_draft_attachment *attachments; /* in the client's order */
	unsigned attachment_count;
	const char *invalid_reason;    /* set with PIM_DRAFT_INVALID: static text for the log */
};

/* pim_email_read_draft's own failure (beside the wbxml statuses). */
enum pim_draft_status {
	/* A field is outside the spec or a limit, the rest of the ApplicationData
	   was read and passed over: answer this item Sync Status 6 (MS-ASCMD
	   2.2.3.177.17, "error in client/server conversion") and go on with the
	   request's next command. */
	PIM_DRAFT_INVALID = -100,
};

/*
 * Reads a client's Add ApplicationData for a draft from reader, positioned
 * just after <ApplicationData>'s START, up to and including its END: To,
 * Cc, email2:Bcc, Subject, Importance, airsyncbase:Body (Type 1 or 2 and
 * Data), Read, Flag, Categories, airsyncbase:Attachments/Add. Other
 * elements (airsyncbase:Attachments/Delete, which has nothing to delete in
 * an Add, email2:Send misplaced here, read-only fields a client may echo)
 * are passed over.
 *
 * Returns 0 with *draft_out filled; PIM_DRAFT_INVALID when a value is
 * invalid (a Body Type other than 1 or 2, Importance, Read, IsInline,
 * Method or Flag Status out of range, an attachment Add without ClientId
 * or Content, more than LIMIT_MIME_ATTACHMENTS attachments, more than
 * LIMIT_DRAFT_BYTES kept): the reader is then past ApplicationData's END
 * and draft_out->invalid_reason says why; or a negative wbxml status when
 * the WBXML itself is broken (truncated, malformed, a wbxml limit): the
 * reader is unusable and the request fails as a whole, as for any Sync
 * whose body does not decode.
 */
int pim_email_read_draft(struct wbxml_reader *reader, struct arena *arena, struct pim_email_draft *draft_out);

/*
 * Composes the draft as an RFC 5322 message with GMime and appends it to
 * mime_out: From the user's mailbox (from, e.g. "alice@example.com"; NULL,
 * "" or an address GMime cannot read: no From), To, Cc and Bcc as GMime
 * reads them (what it cannot read is left out; no recipient at all is fine
 * for a draft), Subject (RFC 2047-encoded as needed), Date (now, Unix
 * seconds), a new Message-ID, Importance and X-Priority when not normal;
 * the body as a text/plain or text/html part in UTF-8 (an empty text/plain
 * without a body), and with attachments a multipart/mixed whose first part
 * is the body, then each attachment in the draft's order, base64, always
 * named (display name, else "attachment-<i>") so that it can never be
 * taken for the body: attachment i of the draft is attachment i for
 * pim_email_write's FileReference and pim_email_attachment. An inline one
 * gets Content-Disposition inline and its Content-ID. In every header
 * field a control character becomes a space (no forged header or part),
 * and in an address list a ";" outside quotes separates like "," (unless
 * the list has a group).
 *
 * Returns 0, or -1 when mime_out's ceiling is reached (mime_out may then
 * hold part of the message). GMime objects are released with the arena.
 */
int pim_email_compose_draft(struct arena *arena, const struct pim_email_draft *draft, const char *from,
			    int64_t now, struct buf *mime_out);

/* ---- a message a device sends (SendMail, SmartReply, SmartForward) ---- */

enum pim_outgoing_kind {
	PIM_OUTGOING_NEW,     /* SendMail, or a reply or forward the device composed whole (ReplaceMime) */
	PIM_OUTGOING_REPLY,   /* SmartReply: the original's text is quoted under the device's */
	PIM_OUTGOING_FORWARD, /* SmartForward: the original's text follows, its attachments are attached */
};

struct pim_outgoing_options {
	enum pim_outgoing_kind kind;
	bool is_reply;                 /* a reply, even composed whole: the sender's own address is no recipient */
	const char *sender;            /* the user's address: From, the envelope sender, the Message-ID's domain */
	const uint8_t *original;       /* REPLY and FORWARD: the stored message */
	size_t original_len;
	const char *const *forwardees; /* 16.x Forwardees: added to To */
	size_t forwardee_count;
	int64_t now;                   /* Date when the message has none */
	size_t max_recipients;         /* recipients are collected up to one past this (0: no limit) */
};

struct pim_outgoing {
	const uint8_t *wire;           /* for the relay: CRLF lines, no Bcc header */
	size_t wire_len;
	const uint8_t *copy;           /* for Sent Items: the same with Bcc */
	size_t copy_len;
	const char **recipients;       /* the envelope: To, Cc, Bcc (and forwardees), each once */
	size_t recipient_count;
	size_t invalid_recipients;     /* addresses that are no user@domain */
	const char *message_id;        /* without <> */
	bool message_id_made;          /* easd made it: the device's message had none */
	int64_t date;                  /* Unix seconds */
};

/*
 * Makes a device's message ready to submit: From is the user's address
 * (its display name kept), Message-ID and Date are added when missing, a
 * reply gets In-Reply-To and References, SmartReply and SmartForward add
 * the original, and the envelope recipients are read from the headers. A
 * reply (Reply All) never lists the sender among the envelope recipients
 * unless nobody else is. Everything lives in arena. Returns 0, or -1 for
 * an empty message.
 */
int pim_outgoing_prepare(struct arena *arena, const uint8_t *mime, size_t len,
			 const struct pim_outgoing_options *options, struct pim_outgoing *out);

#endif
