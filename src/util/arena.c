/*
 * arena.c: per-request bump allocator (see util.h).
 *
 * Chunks form a singly linked list; a request that needs more than the
 * chunk size gets a chunk of its own. Cleanup hooks live in the arena too.
 */
#include "util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16
#define ARENA_DEFAULT_CHUNK (16 * 1024)

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;
	size_t used;
	_Alignas(ARENA_ALIGN) uint8_t data[];
};

struct arena_hook {
	struct arena_hook *next;
	void (*cleanup)(void *);
	void *data;
};

struct arena {
	struct arena_chunk *chunks;
	struct arena_hook *hooks;
	size_t chunk_size;
	size_t used;
};

static struct arena_chunk *arena_chunk_new(size_t size)
{
	struct arena_chunk *chunk = malloc(sizeof(*chunk) + size);
	if (chunk == NULL)
		abort();
	chunk->next = NULL;
	chunk->size = size;
	chunk->used = 0;
	return chunk;
}

struct arena *arena_new(size_t chunk_size)
{
	struct arena *arena = calloc(1, sizeof(*arena));
	if (arena == NULL)
		abort();
	arena->chunk_size = chunk_size == 0 ? ARENA_DEFAULT_CHUNK : chunk_size;
	return arena;
}

void arena_free(struct arena **arena_ptr)
{
	struct arena *arena = *arena_ptr;
	if (arena == NULL)
		return;
	/* Hooks were pushed on the front: this runs them newest first. */
	for (struct arena_hook *hook = arena->hooks; hook != NULL; hook = hook->next)
		hook->cleanup(hook->data);
	struct arena_chunk *chunk = arena->chunks;
	while (chunk != NULL) {
		struct arena_chunk *next = chunk->next;
		free(chunk);
		chunk = next;
	}
	free(arena);
	*arena_ptr = NULL;
}

void *arena_alloc(struct arena *arena, size_t size)
{
	if (size > SIZE_MAX - ARENA_ALIGN)
		abort();
	size_t rounded = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	struct arena_chunk *chunk = arena->chunks;
	if (chunk == NULL || chunk->size - chunk->used < rounded) {
		if (rounded > arena->chunk_size / 4) {
			/* Big allocation: its own chunk, behind the current one so
			   the current chunk's free space is not wasted. */
			struct arena_chunk *big = arena_chunk_new(rounded);
			if (chunk == NULL) {
				arena->chunks = big;
			} else {
				big->next = chunk->next;
				chunk->next = big;
			}
			big->used = rounded;
			arena->used += rounded;
			return big->data;
		}
		chunk = arena_chunk_new(arena->chunk_size);
		chunk->next = arena->chunks;
		arena->chunks = chunk;
	}
	void *p = chunk->data + chunk->used;
	chunk->used += rounded;
	arena->used += rounded;
	return p;
}

void *arena_calloc(struct arena *arena, size_t count, size_t size)
{
	if (size != 0 && count > SIZE_MAX / size)
		abort();
	void *p = arena_alloc(arena, count * size);
	memset(p, 0, count * size);
	return p;
}

void *arena_grow(struct arena *arena, void *array, size_t size, unsigned count, unsigned *capacity,
		 unsigned first)
{
	if (count < *capacity)
		return array;
	if (*capacity > UINT_MAX / 2)
		abort();
	unsigned grown_capacity = *capacity == 0 ? first : *capacity * 2;
	void *grown = arena_calloc(arena, grown_capacity, size);
	if (count > 0)
		memcpy(grown, array, (size_t)count * size);
	*capacity = grown_capacity;
	return grown;
}

char *arena_strndup(struct arena *arena, const void *data, size_t len)
{
	if (len == SIZE_MAX)
		abort();
	char *p = arena_alloc(arena, len + 1);
	if (len > 0)
		memcpy(p, data, len);
	p[len] = '\0';
	return p;
}

void arena_on_free(struct arena *arena, void (*cleanup)(void *), void *data)
{
	struct arena_hook *hook = arena_alloc(arena, sizeof(*hook));
	hook->cleanup = cleanup;
	hook->data = data;
	hook->next = arena->hooks;
	arena->hooks = hook;
}

size_t arena_used(const struct arena *arena)
{
	return arena->used;
}
