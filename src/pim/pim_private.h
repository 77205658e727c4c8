/*
 * pim_private.h: what the pim files share behind email.h: the parsed
 * message (GMime objects owned by an arena), the walk that names the body
 * parts and numbers the attachments, the text pipeline that streams a
 * part's decoded text through "sinks" so that no body is held twice, and
 * a meeting message's view.
 *
 * Must not: be included from outside src/pim/.
 */
#ifndef PIM_PRIVATE_H
#define PIM_PRIVATE_H

#include <gmime/gmime.h>

#include "pim/email.h"

#include "guard/limits.h"

/*
 * Bytes read from a part at a time, in buffers on the stack: a message of
 * a Sync of 100 items costs no arena memory for reading. GMime's filter
 * streams read their source 4 KB at a time anyway.
 */
#define PIM_CHUNK 4096

/* S/MIME kinds (RFC 8551), for MIMESupport 1 and MessageClass. */
enum pim_smime {
	PIM_SMIME_NONE,
	PIM_SMIME_SIGNED,  /* multipart/signed, clear-signed */
	PIM_SMIME_OPAQUE,  /* application/pkcs7-mime: encrypted or opaque-signed */
};

/* A parsed message; every object is released when the arena is freed. */
struct pim_message {
	GMimeStream *stream;       /* the whole message as stored */
	GMimeMessage *message;
	GMimePart *plain;          /* the text/plain body part, or NULL */
	GMimePart *html;           /* the text/html body part, or NULL */
	GMimeObject **attachments; /* in FileReference order (depth first) */
	unsigned attachment_count;
	uint8_t smime;             /* enum pim_smime */
	GMimePart *calendar;       /* the first text/calendar part (also an attachment), or NULL */
};

/* Calls g_mime_init (and xmlInitParser) once per process. */
void pim_init(void);
/* mime[0..len) as a stream, without a copy (the bytes must outlive the arena's use). */
GMimeStream *pim_memory_stream(struct arena *arena, const uint8_t *mime, size_t len);
/* The source as a stream (email_stream.c); substreams read through the same window. */
GMimeStream *pim_source_stream(struct arena *arena, const struct pim_source *source);
/* Whether stream is a pim_source_stream, and then its bounds in the source. */
bool pim_source_range(GMimeStream *stream, uint64_t *start_out, uint64_t *end_out);
/*
 * Parses the message in stream with GMime's persistent stream mode (each
 * part's content stays a substream, never a copy) and walks its parts.
 * Bytes GMime cannot read as a message become a headerless message with
 * them as its plain text. Returns 0, or -1 for no bytes at all (or more
 * than 4 GB).
 */
int pim_message_parse(struct arena *arena, GMimeStream *stream, struct pim_message *out);
/* g_object_unref(object) when the arena is freed. */
void pim_arena_unref(struct arena *arena, void *object);
/* A valid UTF-8 copy of s in the arena ("" for NULL): bad bytes are read as Latin-1. */
char *pim_utf8_copy(struct arena *arena, const char *s);

/*
 * A consumer of text. write returns 0 to go on, or 1 when it has all it
 * wants (the producer then stops reading).
 */
struct pim_sink {
	int (*write)(struct pim_sink *sink, const char *data, size_t len);
};

/*
 * Streams a text part, transfer-decoded and converted from its charset to
 * UTF-8, into sink. What reaches the sink is valid UTF-8 without NUL, cut
 * between characters. Returns 1 when the sink stopped it, else 0.
 */
int pim_part_text(struct arena *arena, GMimePart *part, struct pim_sink *sink);
/* Decoded size of an attachment (bytes pim_email_attachment would give): one decoding pass. */
uint64_t pim_attachment_size(struct arena *arena, GMimeObject *object);
/*
 * Decoded size of a part guessed from its encoded size when that is past
 * LIMIT_MIME_EXACT_SIZE_BYTES (base64 as 57 bytes per 78-byte line), else
 * exact. For EstimatedDataSize, which MS-ASAIRS lets be an estimate: a
 * Sync should not decode a 100 MB part to say how large it is.
 */
uint64_t pim_part_size_estimate(struct arena *arena, GMimeObject *object);
/* Whether the part's encoded content is past LIMIT_MIME_EXACT_SIZE_BYTES. */
bool pim_part_is_large(GMimePart *part);

/*
 * The text of the element whose START was just read, up to its END:
 * string and opaque pieces alike, joined (a value sent as a million
 * one-byte strings costs its length, not its square), children skipped,
 * copied once into arena and NUL-terminated. Longer than max bytes, or
 * with max 0 and any text, nothing is kept (*text_out is empty) but the
 * element is still read to its END. Returns 0, 1 when the text was longer
 * than max, or a wbxml status.
 */
int pim_read_element_text(struct wbxml_reader *reader, struct arena *arena, size_t max, struct slice *text_out);

/* The message as bytes in arena, every line ending CRLF (SMTP wants no bare LF). */
const uint8_t *pim_message_bytes(struct arena *arena, GMimeMessage *message, size_t *len_out);

/* A meeting message (iMIP, RFC 6047): a plain text and the calendar with its METHOD, as alternatives. */
struct pim_imip {
	const char *from, *from_name; /* from_name may be NULL */
	const char *const *to;
	unsigned to_count;
	const char *subject, *plain, *calendar, *method;
};
/* The whole message, CRLF lines, in arena (itip_answer.c). */
struct slice pim_imip_message(struct arena *arena, const struct pim_imip *m, int64_t now);
/* A text part's text (UTF-8, at most max bytes), NUL-terminated in arena. */
char *pim_part_text_copy(struct arena *arena, GMimePart *part, size_t max);
/*
 * The message's body as text of a type (PIM_BODY_PLAIN or PIM_BODY_HTML,
 * made from the other when the message has only that), at most max bytes,
 * NUL-terminated in arena; "" when it has no text body.
 */
char *pim_message_text(struct arena *arena, const struct pim_message *m, uint8_t type, size_t max);

/*
 * Writes airsyncbase:Body for the first preference that can be met
 * (MS-ASAIRS 2.2.2.9, 2.2.2.3.2), and airsyncbase:NativeBodyType.
 */
void pim_write_body(struct wbxml_writer *writer, struct arena *arena, const struct pim_message *message,
		    const struct pim_options *options);

/* ---- a meeting message (email_meeting.c) ---- */

struct pim_meeting;
/*
 * The meeting the message's calendar part (pim_message.calendar) carries
 * for user (NULL: not known): an invitation or update (METHOD:REQUEST) or
 * a cancellation (METHOD:CANCEL) with a UID, organized by someone else.
 * NULL for anything else (no such part, one that does not parse, another
 * METHOD, the user's own meeting). Lives in arena.
 */
const struct pim_meeting *pim_meeting_read(struct arena *arena, GMimePart *calendar, const char *user);
/* Its MessageClass: IPM.Schedule.Meeting.Request or IPM.Schedule.Meeting.Canceled. */
const char *pim_meeting_class(const struct pim_meeting *meeting);
/*
 * Writes email:MeetingRequest (MS-ASEMAIL 2.2.2.48) for the protocol
 * version; received (Unix seconds) stands in for a missing DTSTAMP.
 */
void pim_meeting_write(struct wbxml_writer *writer, struct arena *arena, const struct pim_meeting *meeting,
		       unsigned protocol_version, int64_t received);

#endif
