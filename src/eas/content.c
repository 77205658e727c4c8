/*
 * content.c: a stored message read by ranges for pim/, and an attachment
 * streamed into a response as it is sent.
 *
 * The stream holds no store session while the client is behind: the
 * store has few connections (64 by default) and a phone on a slow link
 * takes minutes over 100 MB. A window takes a session, reads the next raw
 * bytes of the attachment's encoded range in the stored message, and
 * keeps the session only while http/ says the connection drains as fast
 * as it is fed (the next window is asked for at once); reading on through
 * the same session is what keeps SQLite's place in the content (see
 * store_item_content_read), reopening it per window costs quadratic page
 * reads. A persistent decoder carries the transfer encoding's state from
 * one window to the next. The parse that located the range happened once,
 * in the handler.
 *
 * Owns: the stream's state and buffers, in the request's arena. Must not:
 * parse MIME (pim/ located the range) or talk HTTP (http/ pulls).
 */
#include "eas/eas_private.h"
#include "pim/email.h"

#include <glib.h>
#include <string.h>

/* ---- the message as a pim_source ---- */

struct content_source {
	struct eas_request *request;
	int64_t folder_id, item_id;
};

static int source_read(void *context, uint64_t offset, void *dst, size_t len)
{
	struct content_source *c = context;
	return store_item_content_read(c->request->session, c->folder_id, c->item_id, offset, dst, len) == STORE_OK
		       ? 0
		       : -1;
}

int eas_content_source(struct eas_request *request, struct arena *arena, int64_t folder_id, int64_t item_id,
		       struct pim_source *source_out)
{
	uint64_t size;
	int status = store_item_content_size(request->session, folder_id, item_id, &size);
	if (status != STORE_OK)
		return status;
	struct content_source *c = arena_calloc(arena, 1, sizeof(*c));
	*c = (struct content_source){ request, folder_id, item_id };
	*source_out = (struct pim_source){ .size = size, .read = source_read, .context = c };
	return STORE_OK;
}

int eas_content_whole(struct eas_request *request, struct arena *arena, int64_t folder_id, int64_t item_id,
		      uint64_t max, struct slice *out)
{
	uint64_t size;
	int status = store_item_content_size(request->session, folder_id, item_id, &size);
	if (status != STORE_OK)
		return status;
	if (size > max)
		return STORE_ERROR;
	uint8_t *data = arena_alloc(arena, size + 1);
	*out = (struct slice){ data, size };
	return size > 0 ? store_item_content_read(request->session, folder_id, item_id, 0, data, size) : STORE_OK;
}

/* ---- the streamed response ---- */

/* Encoded bytes read per window while the session is held: 64 KB decode
   to at most 64 KB, 87 KB of base64. */
#define CONTENT_WINDOW (64 * 1024)
/*
 * Encoded bytes read when the session had to be taken again (the client
 * fell behind): SQLite then walks the content's overflow pages from the
 * start to the offset, a cost per reopening that grows with the offset.
 * Reading 1 MB per reopening cuts that walk 16-fold (a slow client's last
 * 10 MB of a 143 MB message: 4.5 s of easd CPU with 64 KB windows, 0.3 to
 * 0.6 s with these) for about 2.5 MB of buffers, touched only once a client
 * has fallen behind (the first window is an ordinary one).
 */
#define CONTENT_REOPEN_WINDOW (1024 * 1024)

struct content_stream {
	struct eas_request *request;
	struct store_session *session; /* held between windows only while the client keeps up */
	struct eas_stream stream;
	struct buf around;          /* the body before the payload, then after it */
	size_t mark;                /* where in around the payload goes */
	struct eas_content_payload payload;
	uint64_t payload_bytes;     /* on the wire: the bytes, or their base64 */
	struct pim_decoder *decoder;
	uint64_t raw_position;      /* next encoded byte to read */
	uint64_t decoded;           /* decoded bytes seen, including those skipped before first */
	uint64_t kept;              /* decoded bytes of [first, first + length) passed on */
	int base64_state, base64_save;
	uint8_t *window;
	struct buf pending;         /* payload bytes made but not yet given */
	size_t pending_given;
};

uint64_t eas_content_payload_bytes(const struct eas_content_payload *payload)
{
	return payload->base64 ? (payload->length + 2) / 3 * 4 : payload->length;
}

/* The part of the decoded bytes that lies in [first, first + length). */
static struct slice wanted(struct content_stream *s, struct slice decoded)
{
	uint64_t start = s->decoded, end = s->decoded + decoded.len;
	uint64_t first = s->payload.first, last = s->payload.first + s->payload.length;
	s->decoded = end;
	if (end <= first || start >= last)
		return (struct slice){ decoded.data, 0 };
	uint64_t from = first > start ? first - start : 0;
	uint64_t to = (last < end ? last : end) - start;
	return (struct slice){ decoded.data + from, (size_t)(to - from) };
}

/* Adds kept bytes to pending, in base64 when the payload is inline Data. */
static void make_pending(struct content_stream *s, struct slice bytes)
{
	s->kept += bytes.len;
	bool done = s->kept == s->payload.length;
	if (!s->payload.base64) {
		buf_append(&s->pending, bytes.data, bytes.len);
		return;
	}
	/* MS-ASCMD 2.2.3.39.2: one base64 string, without line breaks. */
	buf_reserve(&s->pending, bytes.len / 3 * 4 + 16);
	s->pending.len += g_base64_encode_step(bytes.data, bytes.len, FALSE, (char *)s->pending.data + s->pending.len,
					       &s->base64_state, &s->base64_save);
	if (done)
		s->pending.len += g_base64_encode_close(FALSE, (char *)s->pending.data + s->pending.len,
							&s->base64_state, &s->base64_save);
}

/*
 * Reads and decodes the next window into pending, with a store session
 * taken for the read alone. Returns 0, or -1 with the request's reason.
 */
static int refill(struct content_stream *s)
{
	struct eas_request *r = s->request;
	uint64_t left = s->payload.encoded_end - s->raw_position;
	bool reopening = s->session == NULL && s->raw_position > s->payload.encoded_start;
	size_t window = reopening ? CONTENT_REOPEN_WINDOW : CONTENT_WINDOW;
	size_t n = left < window ? (size_t)left : window;
	s->pending.len = s->pending_given = 0;
	if (n == 0) {
		/* Everything decoded and still short: the stored bytes are not those the handler counted. */
		r->reason = "attachment_changed";
		return -1;
	}
	if (s->session == NULL)
		s->session = store_session_acquire(r->server->store);
	if (s->session == NULL) {
		r->reason = "store_sessions_exhausted";
		return -1;
	}
	int status = store_item_content_read(s->session, s->payload.folder_id, s->payload.item_id, s->raw_position,
					     s->window, n);
	if (status != STORE_OK) {
		/* Deleted or moved since the handler located the attachment. */
		r->reason = status == STORE_NOT_FOUND ? "attachment_gone" : "store_error";
		return -1;
	}
	s->raw_position += n;
	struct slice decoded = pim_decoder_step(s->decoder, s->window, n, s->raw_position == s->payload.encoded_end);
	make_pending(s, wanted(s, decoded));
	return 0;
}

static size_t copy_out(uint8_t *dst, size_t max, const uint8_t *from, size_t len)
{
	size_t n = len < max ? len : max;
	memcpy(dst, from, n);
	return n;
}

/* Before the payload, the payload, after it: one segment per call. */
static ssize_t read_segment(struct content_stream *s, uint64_t position, uint8_t *dst, size_t max)
{
	if (position < s->mark)
		return (ssize_t)copy_out(dst, max, s->around.data + position, s->mark - (size_t)position);
	if (position - s->mark >= s->payload_bytes) {
		size_t after = s->mark + (size_t)(position - s->mark - s->payload_bytes);
		return (ssize_t)copy_out(dst, max, s->around.data + after, s->around.len - after);
	}
	while (s->pending_given == s->pending.len)
		if (refill(s) < 0)
			return -1;
	size_t n = copy_out(dst, max, s->pending.data + s->pending_given, s->pending.len - s->pending_given);
	s->pending_given += n;
	return (ssize_t)n;
}

static ssize_t stream_read(void *context, uint64_t position, uint8_t *dst, size_t max, bool drained)
{
	struct content_stream *s = context;
	ssize_t n = read_segment(s, position, dst, max);
	if (!drained || n < 0)
		store_session_release(&s->session);
	return n;
}

/* The request's end (complete, cut or abandoned) gives back a session still held. */
static void release_session(void *context)
{
	struct content_stream *s = context;
	store_session_release(&s->session);
}

static void cleanup_buf(void *b)
{
	buf_cleanup(b);
}

void eas_content_stream(struct eas_request *request, size_t mark, const struct eas_content_payload *payload)
{
	struct arena *arena = request->arena;
	struct content_stream *s = arena_calloc(arena, 1, sizeof(*s));
	s->request = request;
	s->around = request->response;
	arena_on_free(arena, cleanup_buf, &s->around);
	buf_init(&request->response, 0);
	s->mark = mark;
	s->payload = *payload;
	s->payload_bytes = eas_content_payload_bytes(payload);
	s->decoder = pim_decoder_new(arena, payload->encoding);
	s->raw_position = payload->encoded_start;
	s->window = arena_alloc(arena, CONTENT_REOPEN_WINDOW);
	buf_init(&s->pending, 0);
	arena_on_free(arena, cleanup_buf, &s->pending);
	arena_on_free(arena, release_session, s);
	s->stream = (struct eas_stream){ .length = s->around.len + s->payload_bytes, .read = stream_read, .context = s };
	request->stream = &s->stream;
}
