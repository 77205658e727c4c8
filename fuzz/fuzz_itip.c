/*
 * fuzz_itip.c: libFuzzer target for meeting messages in mail (src/pim
 * itip.c: GMime finds the text/calendar part, libical reads it). Whatever
 * the bytes: the message is read, and a REQUEST or CANCEL gives an event
 * the calendar class stores or refuses, alone and applied again over
 * itself (an update of a meeting the user has), without crash or leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "pim/itip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *arena = arena_new(0);
	struct pim_itip itip;
	struct pim_update first, again;
	pim_itip_read(arena, data, size, "alice", &itip);
	if (pim_itip_event(arena, &itip, "alice", 1700000000, NULL, 0, &first) == 0)
		pim_itip_event(arena, &itip, "alice", 1700000000, first.content.data, first.content.len, &again);
	arena_free(&arena);
	return 0;
}
