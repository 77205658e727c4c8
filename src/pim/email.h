/*
 * email.h: an e-mail message (the original MIME, as stored) as EAS Email
 * ApplicationData (MS-ASEMAIL, MS-ASAIRS), built with GMime; and the
 * client's changes to a message's flags.
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

#include "util/util.h"
#include "wbxml/wbxml.h"

/* Body types (MS-ASAIRS 2.2.2.22.1). */
enum pim_body_type {
	PIM_BODY_PLAIN = 1,
	PIM_BODY_HTML = 2,
	PIM_BODY_RTF = 3,
	PIM_BODY_MIME = 4,
};

/* One airsyncbase:BodyPreference. */
struct pim_body_preference {
	uint8_t type;             /* enum pim_body_type */
	uint32_t truncation_size; /* bytes; 0: no truncation */
	bool all_or_none;         /* larger than truncation_size: not in this type at all */
	uint16_t preview;         /* characters of plain-text Preview [14.0+]; 0: none */
};

#define PIM_MAX_BODY_PREFERENCES 4

struct pim_email_options {
	unsigned protocol_version;  /* 121, 140, 141, 160, 161 */
	struct pim_body_preference preferences[PIM_MAX_BODY_PREFERENCES];
	unsigned preference_count;  /* 0: plain text, untruncated */
	uint8_t mime_support;       /* 0 never MIME, 1 for S/MIME only, 2 always */
	uint32_t mime_truncation;   /* bytes for a MIME body; 0: none */
};

/* What the store keeps about a message besides its MIME. */
struct pim_email_state {
	bool read;
	uint8_t flag_status;        /* 0 none, 1 complete, 2 active (MS-ASEMAIL Flag Status) */
	const char *categories[8];  /* NULL-terminated when fewer */
	int64_t received;           /* Unix seconds: DateReceived */
	const char *file_reference_prefix; /* "folder:item" — attachment i is "<prefix>:<i>" */
};

/*
 * A message read by ranges, so that it need not be in memory whole: read
 * copies len bytes from offset (inside [0, size)) into dst and returns 0,
 * or -1 when it cannot (the message then reads as cut short there).
 * GMime keeps each part as a range of the source, and decodes only what
 * is asked for. The source and its context must outlive the arena's use.
 */
struct pim_source {
	uint64_t size;
	int (*read)(void *context, uint64_t offset, void *dst, size_t len);
	void *context;
};

/* A source reading mime[0..len), which must outlive it (tests, fuzzing). */
void pim_source_memory(struct pim_source *source, const uint8_t *mime, size_t len);

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
		    const struct pim_email_options *options, const struct pim_email_state *state);
/*
 * The same from a source: only the parts' headers and what the body
 * options need are read (a truncated body reads about its truncation
 * size of a large part), a window at a time.
 */
int pim_email_write_source(struct wbxml_writer *writer, struct arena *arena, const struct pim_source *source,
			   const struct pim_email_options *options, const struct pim_email_state *state);

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

#endif
