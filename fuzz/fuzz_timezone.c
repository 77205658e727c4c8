/*
 * fuzz_timezone.c: libFuzzer target for the TimeZone structure (src/pim
 * timezone.c). Whatever the bytes: 172 of them decode and encode back to
 * the same bytes, the rules give an offset at any instant, a sanitised
 * zone stays sanitised, and resolving returns a zone or none; the same
 * bytes read as base64 text are refused or decode.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pim/timezone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pim_timezone zone;
	uint8_t again[PIM_TIMEZONE_BYTES];
	if (pim_timezone_decode(data, size, &zone) == 0) {
		pim_timezone_encode(&zone, again);
		if (memcmp(again, data, sizeof(again)) != 0)
			__builtin_trap();
		for (int64_t t = -86400LL * 365 * 400; t < 86400LL * 365 * 400; t += 86400LL * 365 * 7 + 12345)
			(void)pim_timezone_offset_at(&zone, t);
		(void)pim_timezone_resolve(&zone);
		pim_timezone_sanitise(&zone);
		if (pim_timezone_sanitise(&zone))
			__builtin_trap();
	}
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (pim_timezone_parse(text, &zone) == 0)
		(void)pim_timezone_has_dst(&zone);
	free(text);
	return 0;
}
