/*
 * repeats.h: what easd told each device lately, so an answer the device
 * would act on in a loop is not given again and again (field-notes 5:
 * Android re-Pings at once on Status 1, 3, 4, 5 and 8; a device told of
 * changes in a folder it never syncs is told again at once, for ever).
 *
 * Owns: a table of devices (one mutex, bounded: LIMIT_REPEAT_DEVICES;
 * entries idle for LIMIT_REPEAT_IDLE_SECONDS make room for new ones).
 * In memory: a restart forgets, which costs a looping device a few more
 * answers.
 */
#ifndef GUARD_REPEATS_H
#define GUARD_REPEATS_H

#include <stdint.h>

struct guard_repeats;

struct guard_repeats *guard_repeats_new(void);
void guard_repeats_free(struct guard_repeats **repeats);

/*
 * How many times in a row the device was told folder changed while its
 * key for it stayed sync_key (0: never, or it synced since). report
 * counts this telling; peek only looks.
 */
unsigned guard_repeats_report(struct guard_repeats *repeats, int64_t device, int64_t folder, uint64_t sync_key,
			      int64_t now);
unsigned guard_repeats_peek(struct guard_repeats *repeats, int64_t device, int64_t folder, uint64_t sync_key);

/*
 * Counts an answer the device may repeat at once (an error it cannot fix
 * by itself) at time now; returns how many it got in the last
 * LIMIT_REPEAT_WINDOW_SECONDS, this one included.
 */
unsigned guard_repeats_immediate(struct guard_repeats *repeats, int64_t device, int64_t now);

#endif
