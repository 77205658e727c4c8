/* test_util.c: arena, buffer ceiling and the number parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/util.h"

static void arena_allocations_are_aligned_and_distinct(void **state)
{
	(void)state;
	struct arena *arena = arena_new(256);
	uint8_t *previous = NULL;
	for (size_t size = 1; size < 200; size += 7) {
		uint8_t *p = arena_alloc(arena, size);
		assert_int_equal((uintptr_t)p % 16, 0);
		memset(p, 0xEE, size);
		assert_ptr_not_equal(p, previous);
		previous = p;
	}
	/* Larger than the chunk: gets its own chunk. */
	uint8_t *big = arena_alloc(arena, 100000);
	memset(big, 1, 100000);
	assert_true(arena_used(arena) >= 100000);
	arena_free(&arena);
	assert_null(arena);
}

static int order[3];
static int order_count;

static void record(void *data)
{
	order[order_count++] = *(int *)data;
}

/* A growing array keeps what it holds, doubles from first, and gives zeroed room. */
static void arena_grow_doubles_and_keeps(void **state)
{
	(void)state;
	struct arena *arena = arena_new(0);
	int64_t *values = NULL;
	unsigned count = 0, capacity = 0;
	for (int64_t i = 0; i < 1000; i++) {
		values = arena_grow(arena, values, sizeof(*values), count, &capacity, 4);
		assert_int_equal(values[count], 0);
		values[count++] = i * 3;
		assert_true(capacity >= count);
	}
	assert_int_equal(capacity, 1024);
	for (int64_t i = 0; i < 1000; i++)
		assert_int_equal(values[i], i * 3);
	/* With room left, the same array comes back. */
	assert_ptr_equal(arena_grow(arena, values, sizeof(*values), count, &capacity, 4), values);
	arena_free(&arena);
}

static void arena_hooks_run_newest_first(void **state)
{
	(void)state;
	static int one = 1, two = 2, three = 3;
	struct arena *arena = arena_new(0);
	order_count = 0;
	arena_on_free(arena, record, &one);
	arena_on_free(arena, record, &two);
	arena_on_free(arena, record, &three);
	arena_free(&arena);
	assert_int_equal(order_count, 3);
	assert_int_equal(order[0], 3);
	assert_int_equal(order[2], 1);
}

static void buf_ceiling_at_and_past(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(buf_append_byte(&b, 'x'), -1);
	assert_int_equal(b.len, 10);
	assert_int_equal(buf_printf(&b, "%d", 1), -1);
	buf_cleanup(&b);

	buf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf_printf(&b, "%04d", i), 0);
	assert_int_equal(b.len, 4000);
	assert_memory_equal(b.data + 3996, "0999", 4);
	buf_cleanup(&b);
}

struct number_case {
	const char *text;
	uint64_t max;
	int status;
	uint64_t value;
};

static const struct number_case number_cases[] = {
	{ "0", 10, 0, 0 },
	{ "10", 10, 0, 10 },
	{ "11", 10, -1, 0 },
	{ "7", 5, -1, 0 },
	{ "", 10, -1, 0 },
	{ "-1", 10, -1, 0 },
	{ "+1", 10, -1, 0 },
	{ " 1", 10, -1, 0 },
	{ "1a", 10, -1, 0 },
	{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
	{ "18446744073709551616", UINT64_MAX, -1, 0 },
	{ "000000000000000000001", UINT64_MAX, -1, 0 },
	{ "4294967295", UINT32_MAX, 0, UINT32_MAX },
	{ "4294967296", UINT32_MAX, -1, 0 },
};

static void parse_uint64_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(number_cases) / sizeof(number_cases[0]); i++) {
		const struct number_case *c = &number_cases[i];
		uint64_t value = 12345;
		int status = parse_uint64(slice_from_cstr(c->text), c->max, &value);
		if (status != c->status)
			fail_msg("'%s' max %llu: status %d", c->text, (unsigned long long)c->max, status);
		assert_int_equal(value, c->status == 0 ? c->value : 12345);
	}
}

struct heap_item {
	int key;
	size_t index;
};

static bool item_before(const void *a, const void *b)
{
	return ((const struct heap_item *)a)->key < ((const struct heap_item *)b)->key;
}

static void item_placed(void *item, size_t index)
{
	((struct heap_item *)item)->index = index;
}

/* Items come out smallest first, and one taken out from the middle leaves the order intact. */
static void heap_orders_and_removes_from_the_middle(void **state)
{
	(void)state;
	struct heap_item items[200];
	struct heap heap;
	heap_init(&heap, item_before, item_placed);
	for (int i = 0; i < 200; i++) {
		items[i].key = (i * 7919) % 200; /* every key once, shuffled */
		heap_push(&heap, &items[i]);
	}
	for (int i = 0; i < 200; i++)
		assert_ptr_equal(heap.items[items[i].index], &items[i]);
	heap_remove(&heap, items[13].index); /* key (13 * 7919) % 200 = 147 */
	int last = -1;
	for (struct heap_item *top; (top = heap_top(&heap)) != NULL;) {
		assert_true(top->key > last);
		assert_int_not_equal(top->key, 147);
		last = top->key;
		heap_remove(&heap, top->index);
	}
	assert_int_equal(last, 199);
	heap_cleanup(&heap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(arena_allocations_are_aligned_and_distinct),
		cmocka_unit_test(arena_hooks_run_newest_first),
		cmocka_unit_test(arena_grow_doubles_and_keeps),
		cmocka_unit_test(buf_ceiling_at_and_past),
		cmocka_unit_test(parse_uint64_table),
		cmocka_unit_test(heap_orders_and_removes_from_the_middle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
