/*
 * fuzz_wbxml.c: libFuzzer target for the WBXML reader and the XML renderer.
 * Any input must give events or a clean error, never a crash, a leak or a
 * read outside the input; whatever decodes must render as XML.
 */
#include <stddef.h>
#include <stdint.h>

#include "wbxml/wbxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	struct wbxml_limits limits = { .max_elements = 100000 };

	wbxml_reader_init(&reader, data, size, &limits);
	do {
		if (wbxml_reader_next(&reader, &event) < 0)
			return 0;
	} while (event.type != WBXML_EVENT_DONE);

	struct buf xml;
	buf_init(&xml, 0);
	if (wbxml_to_xml(data, size, &limits, NULL, &xml, NULL) != WBXML_OK)
		__builtin_trap(); /* the reader accepted it: rendering must too */
	buf_cleanup(&xml);
	return 0;
}
