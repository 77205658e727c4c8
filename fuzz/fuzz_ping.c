/*
 * fuzz_ping.c: libFuzzer target for the Ping request reader (src/eas
 * ping.c, eas_ping_read). Whatever the bytes: the read ends, never lists
 * more folders than [push] max_folders, never lists one twice, and a
 * dropped folder id is named within the log's bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "eas/eas_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct easd_config config;
	static bool ready;
	if (!ready) {
		config_init(&config);
		config.ping_max_folders = 8; /* small, so the limit is reached often */
		ready = true;
	}
	struct eas_server server = { 0 };
	struct arena *arena = arena_new(0);
	struct eas_request request = { .arena = arena, .server = &server, .config = &config, .body = { data, size } };
	struct eas_ping_parameters parameters = { 0 };
	if (eas_ping_read(&request, &parameters) == 0) {
		if (parameters.folder_count > config.ping_max_folders)
			__builtin_trap();
		for (unsigned i = 0; i < parameters.folder_count; i++)
			for (unsigned j = i + 1; j < parameters.folder_count; j++)
				if (parameters.folders[i] == parameters.folders[j])
					__builtin_trap();
		if (request.reason != NULL && strlen(request.reason) > 95)
			__builtin_trap();
	}
	arena_free(&arena);
	return 0;
}
