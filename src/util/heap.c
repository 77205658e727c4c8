/* heap.c: the binary min-heap of deadlines and timers (see util.h). */
#include "util.h"

#include <stdlib.h>

void heap_init(struct heap *heap, bool (*before)(const void *a, const void *b), void (*placed)(void *item, size_t index))
{
	*heap = (struct heap){ .before = before, .placed = placed };
}

void heap_cleanup(struct heap *heap)
{
	free(heap->items);
	heap->items = NULL;
	heap->len = heap->cap = 0;
}

static void place(struct heap *heap, size_t i, void *item)
{
	heap->items[i] = item;
	heap->placed(item, i);
}

/* Moves the item at i up or down to where it belongs. */
static void settle(struct heap *heap, size_t i)
{
	void *item = heap->items[i];
	while (i > 0 && heap->before(item, heap->items[(i - 1) / 2])) {
		place(heap, i, heap->items[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= heap->len)
			break;
		if (child + 1 < heap->len && heap->before(heap->items[child + 1], heap->items[child]))
			child++;
		if (!heap->before(heap->items[child], item))
			break;
		place(heap, i, heap->items[child]);
		i = child;
	}
	place(heap, i, item);
}

void heap_push(struct heap *heap, void *item)
{
	if (heap->len == heap->cap) {
		heap->cap = heap->cap == 0 ? 64 : heap->cap * 2;
		heap->items = realloc(heap->items, heap->cap * sizeof(*heap->items));
		if (heap->items == NULL)
			abort();
	}
	heap->items[heap->len++] = item;
	settle(heap, heap->len - 1);
}

void heap_remove(struct heap *heap, size_t index)
{
	void *last = heap->items[--heap->len];
	if (index == heap->len)
		return;
	heap->items[index] = last;
	settle(heap, index);
}
