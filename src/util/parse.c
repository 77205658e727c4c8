/* parse.c: the one range-checked number parser (no atoi anywhere). */
#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

bool slice_equals_cstr(struct slice s, const char *cstr)
{
	size_t n = strlen(cstr);
	return s.len == n && (n == 0 || memcmp(s.data, cstr, n) == 0);
}

bool slice_equals(struct slice a, struct slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

int parse_uint64(struct slice text, uint64_t max, uint64_t *value_out)
{
	if (text.len == 0 || text.len > 20)
		return -1;
	uint64_t value = 0;
	for (size_t i = 0; i < text.len; i++) {
		uint8_t c = text.data[i];
		if (c < '0' || c > '9')
			return -1;
		uint64_t digit = c - '0';
		if (digit > max || value > (max - digit) / 10)
			return -1;
		value = value * 10 + digit;
	}
	*value_out = value;
	return 0;
}

char *util_printable(char *dst, size_t len, const char *text)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
		bool plain = *p >= 0x20 && *p != 0x7F && *p != '\\';
		size_t need = plain ? 1 : 4;
		if (n + need + 4 > len) {
			if (len >= 4)
				memcpy(dst + (n < len - 4 ? n : len - 4), "...", 4);
			return dst;
		}
		if (plain)
			dst[n++] = (char)*p;
		else
			n += (size_t)snprintf(dst + n, len - n, "\\x%02X", *p);
	}
	dst[n] = '\0';
	return dst;
}
