/*
 * util: the small pieces every folder uses: byte slices, a growable buffer
 * with a ceiling, a per-request arena, one range-checked number parser, a
 * heap of deadlines and the monotonic clock.
 * Nothing here knows about EAS.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Borrowed bytes: a pointer into someone else's buffer and a length. */
struct slice {
	const uint8_t *data;
	size_t len;
};

#define SLICE_EMPTY ((struct slice){ NULL, 0 })

/*
 * A binary min-heap of the caller's items (deadlines, timers): before(a, b)
 * says a comes out first; placed(item, index) is told every move, so an
 * item that keeps its index can be taken out from the middle. Grows
 * without a ceiling (its users bound what they put in); OOM aborts.
 */
struct heap {
	void **items;
	size_t len, cap;
	bool (*before)(const void *a, const void *b);
	void (*placed)(void *item, size_t index);
};
void heap_init(struct heap *heap, bool (*before)(const void *a, const void *b), void (*placed)(void *item, size_t index));
void heap_cleanup(struct heap *heap);
void heap_push(struct heap *heap, void *item);
void heap_remove(struct heap *heap, size_t index);
/* The item that comes out first, or NULL when empty. */
static inline void *heap_top(const struct heap *heap)
{
	return heap->len > 0 ? heap->items[0] : NULL;
}

/* CLOCK_MONOTONIC in milliseconds: deadlines and durations. */
int64_t util_monotonic_ms(void);

static inline struct slice slice_from_cstr(const char *s);
bool slice_equals_cstr(struct slice s, const char *cstr);
bool slice_equals(struct slice a, struct slice b);

/*
 * A growable byte buffer that refuses to grow past its ceiling.
 * Growth beyond the ceiling fails with -1 and leaves the buffer unchanged;
 * real out-of-memory aborts the process (handlers never see it).
 */
struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;
};

/* Empty buffer that may grow to max bytes (0: SIZE_MAX). */
void buf_init(struct buf *b, size_t max);
/* Releases the memory; the buffer may be initialised again. */
void buf_cleanup(struct buf *b);
/* Makes room for n more bytes. Returns 0, or -1 past the ceiling. */
int buf_reserve(struct buf *b, size_t n);
/* Appends n bytes. Returns 0, or -1 past the ceiling. */
int buf_append(struct buf *b, const void *data, size_t n);
int buf_append_byte(struct buf *b, uint8_t byte);
int buf_append_cstr(struct buf *b, const char *s);
/* printf-style append. Returns 0, or -1 past the ceiling. */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * An arena owns everything allocated for one request (or one tool run).
 * Allocations are never freed one by one; arena_free releases all of them
 * and runs the cleanup hooks (library objects registered on the arena) in
 * reverse order of registration.
 */
struct arena;

/* New arena whose chunks are at least chunk_size bytes (0: 16 KB). */
struct arena *arena_new(size_t chunk_size);
/* Runs the cleanup hooks, frees every chunk, sets *arena to NULL. */
void arena_free(struct arena **arena);
/* size bytes, 16-byte aligned, uninitialised. Never fails (aborts on OOM). */
void *arena_alloc(struct arena *arena, size_t size);
/* Zeroed array of count elements of size bytes; aborts on overflow or OOM. */
void *arena_calloc(struct arena *arena, size_t count, size_t size);
/*
 * Room for one more element of size bytes in a growing array of the
 * arena: once count has reached *capacity, a zeroed copy twice as large
 * (first elements at least) replaces it. Returns the array to use from
 * now on (the old one stays in the arena until it is freed).
 */
void *arena_grow(struct arena *arena, void *array, size_t size, unsigned count, unsigned *capacity,
		 unsigned first);
/* NUL-terminated copy of len bytes. */
char *arena_strndup(struct arena *arena, const void *data, size_t len);
/* Calls cleanup(data) when the arena is freed. */
void arena_on_free(struct arena *arena, void (*cleanup)(void *), void *data);
/* Bytes handed out so far (for tests and benchmarks). */
size_t arena_used(const struct arena *arena);

/*
 * Parses a whole slice as a decimal unsigned integer no greater than max.
 * No sign, no spaces, no empty string. Returns 0, or -1 with *value_out
 * untouched.
 */
int parse_uint64(struct slice text, uint64_t max, uint64_t *value_out);

static inline struct slice slice_from_cstr(const char *s)
{
	size_t n = 0;
	while (s[n] != '\0')
		n++;
	return (struct slice){ (const uint8_t *)s, n };
}

/*
 * text for a log line, into dst (len bytes, NUL-terminated): bytes below
 * 0x20, 0x7F and backslash become \xNN, so text a device chose cannot
 * forge a line; cut short with "..." when it does not fit. Returns dst.
 */
char *util_printable(char *dst, size_t len, const char *text);

#endif
