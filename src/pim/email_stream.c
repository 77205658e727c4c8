/*
 * email_stream.c: a stored message read by ranges, as a GMimeStream, and
 * the transfer decoder a streamed attachment is fed through.
 *
 * The stream reads its pim_source through one window of at most
 * PIM_SOURCE_WINDOW bytes, shared by the message's stream and every
 * substream GMime's persistent parser makes of it (one per part): the
 * parser's 4 KB reads and a part's decoding cost one source read per
 * window, and a 100 MB message costs the window, not its size.
 *
 * Owns: the window (in the caller's arena) and the stream objects (unref'd
 * when the arena is freed). Must not: know where the source's bytes live.
 */
#include "pim/pim_private.h"

#include <errno.h>
#include <string.h>

/* Large enough that SQLite's per-read cost (a query and a blob handle) is noise. */
#define PIM_SOURCE_WINDOW (64 * 1024)

/* What the message's stream and its substreams share. */
struct window {
	struct pim_source source;
	uint8_t *data;
	uint64_t start;     /* source offset of data[0] */
	size_t len;         /* bytes held */
	size_t capacity;
};

typedef struct {
	GMimeStream parent;
	struct window *window;
} PimSourceStream;

typedef struct {
	GMimeStreamClass parent_class;
} PimSourceStreamClass;

static GType pim_source_stream_get_type(void);
G_DEFINE_TYPE(PimSourceStream, pim_source_stream, GMIME_TYPE_STREAM)

static GMimeStream *source_stream_new(struct window *window, gint64 start, gint64 end)
{
	PimSourceStream *stream = g_object_new(pim_source_stream_get_type(), NULL);
	stream->window = window;
	g_mime_stream_construct(GMIME_STREAM(stream), start, end);
	return GMIME_STREAM(stream);
}

/* The end of the stream's bytes in the source. */
static gint64 bound_end(GMimeStream *stream)
{
	struct window *w = ((PimSourceStream *)stream)->window;
	return stream->bound_end != -1 ? stream->bound_end : (gint64)w->source.size;
}

/* Makes the window hold the byte at offset. Returns 0, or -1 when the source fails. */
static int fill(struct window *w, uint64_t offset)
{
	if (offset >= w->start && offset < w->start + w->len)
		return 0;
	size_t n = w->source.size - offset < w->capacity ? (size_t)(w->source.size - offset) : w->capacity;
	w->len = 0;
	if (w->source.read(w->source.context, offset, w->data, n) < 0)
		return -1;
	w->start = offset;
	w->len = n;
	return 0;
}

static ssize_t stream_read(GMimeStream *stream, char *buf, size_t len)
{
	struct window *w = ((PimSourceStream *)stream)->window;
	gint64 end = bound_end(stream);
	if (stream->position >= end)
		return 0;
	if (fill(w, (uint64_t)stream->position) < 0) {
		errno = EIO;
		return -1;
	}
	size_t at = (size_t)((uint64_t)stream->position - w->start);
	size_t n = w->len - at;
	if ((gint64)n > end - stream->position)
		n = (size_t)(end - stream->position);
	if (n > len)
		n = len;
	memcpy(buf, w->data + at, n);
	stream->position += (gint64)n;
	return (ssize_t)n;
}

static ssize_t stream_write(GMimeStream *stream, const char *buf, size_t len)
{
	(void)stream, (void)buf, (void)len;
	errno = EBADF; /* a stored message is never written */
	return -1;
}

static int stream_flush(GMimeStream *stream)
{
	(void)stream;
	return 0;
}

static int stream_close(GMimeStream *stream)
{
	(void)stream;
	return 0;
}

static gboolean stream_eos(GMimeStream *stream)
{
	return stream->position >= bound_end(stream);
}

static int stream_reset(GMimeStream *stream)
{
	stream->position = stream->bound_start;
	return 0;
}

static gint64 stream_seek(GMimeStream *stream, gint64 offset, GMimeSeekWhence whence)
{
	gint64 end = bound_end(stream);
	gint64 target = whence == GMIME_STREAM_SEEK_SET ? stream->bound_start + offset
			: whence == GMIME_STREAM_SEEK_CUR ? stream->position + offset
			: end + offset;
	if (target < stream->bound_start || target > end) {
		errno = EINVAL;
		return -1;
	}
	stream->position = target;
	return target;
}

static gint64 stream_tell(GMimeStream *stream)
{
	return stream->position;
}

static gint64 stream_length(GMimeStream *stream)
{
	return bound_end(stream) - stream->bound_start;
}

static GMimeStream *stream_substream(GMimeStream *stream, gint64 start, gint64 end)
{
	return source_stream_new(((PimSourceStream *)stream)->window, start, end);
}

static void pim_source_stream_class_init(PimSourceStreamClass *klass)
{
	GMimeStreamClass *stream = GMIME_STREAM_CLASS(klass);
	stream->read = stream_read;
	stream->write = stream_write;
	stream->flush = stream_flush;
	stream->close = stream_close;
	stream->eos = stream_eos;
	stream->reset = stream_reset;
	stream->seek = stream_seek;
	stream->tell = stream_tell;
	stream->length = stream_length;
	stream->substream = stream_substream;
}

static void pim_source_stream_init(PimSourceStream *stream)
{
	stream->window = NULL;
}

GMimeStream *pim_source_stream(struct arena *arena, const struct pim_source *source)
{
	pim_init();
	struct window *w = arena_calloc(arena, 1, sizeof(*w));
	w->source = *source;
	w->capacity = source->size < PIM_SOURCE_WINDOW ? (size_t)source->size : PIM_SOURCE_WINDOW;
	w->data = arena_alloc(arena, w->capacity > 0 ? w->capacity : 1);
	GMimeStream *stream = source_stream_new(w, 0, (gint64)source->size);
	pim_arena_unref(arena, stream);
	return stream;
}

bool pim_source_range(GMimeStream *stream, uint64_t *start_out, uint64_t *end_out)
{
	if (!G_TYPE_CHECK_INSTANCE_TYPE(stream, pim_source_stream_get_type()))
		return false;
	*start_out = (uint64_t)stream->bound_start;
	*end_out = (uint64_t)bound_end(stream);
	return true;
}

/* ---- bytes in memory as a source (tests, fuzzing) ---- */

static int memory_read(void *context, uint64_t offset, void *dst, size_t len)
{
	memcpy(dst, (const uint8_t *)context + offset, len);
	return 0;
}

void pim_source_memory(struct pim_source *source, const uint8_t *mime, size_t len)
{
	*source = (struct pim_source){ .size = len, .read = memory_read, .context = (void *)(uintptr_t)mime };
}

/* ---- the transfer decoder ---- */

struct pim_decoder {
	GMimeFilter *filter; /* NULL: the encoding is the bytes themselves */
};

struct pim_decoder *pim_decoder_new(struct arena *arena, int encoding)
{
	pim_init();
	struct pim_decoder *decoder = arena_calloc(arena, 1, sizeof(*decoder));
	if (encoding == GMIME_CONTENT_ENCODING_BASE64 || encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
		decoder->filter = g_mime_filter_basic_new((GMimeContentEncoding)encoding, FALSE);
		pim_arena_unref(arena, decoder->filter);
	}
	return decoder;
}

struct slice pim_decoder_step(struct pim_decoder *decoder, const uint8_t *in, size_t len, bool final)
{
	if (decoder->filter == NULL)
		return (struct slice){ in, len };
	char *out;
	size_t out_len, out_prespace;
	/* GMimeFilterBasic keeps the base64 quantum, the QP soft break and the
	   uuencode line state between calls; complete flushes what is left. */
	if (final)
		g_mime_filter_complete(decoder->filter, (char *)(uintptr_t)in, len, 0, &out, &out_len, &out_prespace);
	else
		g_mime_filter_filter(decoder->filter, (char *)(uintptr_t)in, len, 0, &out, &out_len, &out_prespace);
	return (struct slice){ (const uint8_t *)out, out_len };
}
