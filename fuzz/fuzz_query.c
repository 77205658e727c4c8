/*
 * fuzz_query.c: libFuzzer target for the request query parser, both forms.
 * Any bytes must give a query or a reason, never a crash, a leak or a read
 * outside the input; what parses must keep the promises of query.h.
 */
#include <stddef.h>
#include <stdint.h>

#include "http/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *arena = arena_new(0);
	struct http_query query;
	const char *reason = NULL;

	if (http_query_parse(arena, (const char *)data, size, &query, &reason) == 0) {
		if (query.command.len == 0 || query.device_id.len == 0 ||
		    query.device_id.len > LIMIT_DEVICE_ID_BYTES || query.device_type.len == 0 ||
		    query.device_type.len > LIMIT_DEVICE_TYPE_BYTES || query.user.len > LIMIT_USER_BYTES)
			__builtin_trap();
	} else if (reason == NULL) {
		__builtin_trap(); /* every failure names its reason */
	}
	/* "never allocates more than a small multiple of len" (query.h) */
	if (arena_used(arena) > 2 * size + 256)
		__builtin_trap();
	arena_free(&arena);
	return 0;
}
