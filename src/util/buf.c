/* buf.c: growable byte buffer with a ceiling (see util.h). */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max == 0 ? SIZE_MAX : max;
}

void buf_cleanup(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int buf_reserve(struct buf *b, size_t n)
{
	if (n <= b->cap - b->len)
		return 0;
	if (n > b->max - b->len)
		return -1;
	size_t want = b->len + n;
	size_t cap = b->cap < 256 ? 256 : b->cap;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	if (cap > b->max)
		cap = b->max;
	uint8_t *data = realloc(b->data, cap);
	if (data == NULL)
		abort();
	b->data = data;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	return 0;
}

int buf_append_byte(struct buf *b, uint8_t byte)
{
	if (b->len == b->cap && buf_reserve(b, 1) < 0)
		return -1;
	b->data[b->len++] = byte;
	return 0;
}

int buf_append_cstr(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	if ((size_t)n < sizeof(small))
		return buf_append(b, small, (size_t)n);
	if (buf_reserve(b, (size_t)n + 1) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}
