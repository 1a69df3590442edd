#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "aws/buf.h"

void orc__buf_free(orc__buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}

void orc__buf_reset(orc__buf *b)
{
	b->len = 0;
	b->oom = 0;
	if (b->data)
		b->data[0] = '\0';
}

int orc__buf_reserve(orc__buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->oom)
		return 0;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 1;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	p = orc__realloc(b->data, cap);
	if (!p) {
		b->oom = 1;
		return 0;
	}
	b->data = p;
	b->cap = cap;
	return 1;
}

void orc__buf_add(orc__buf *b, const void *p, size_t n)
{
	if (!orc__buf_reserve(b, n))
		return;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void orc__buf_puts(orc__buf *b, const char *s)
{
	orc__buf_add(b, s, strlen(s));
}

void orc__buf_putc(orc__buf *b, char c)
{
	orc__buf_add(b, &c, 1);
}

void orc__buf_printf(orc__buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if (!orc__buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *orc__buf_take(orc__buf *b)
{
	char *p;

	if (b->oom) {
		orc__buf_free(b);
		return NULL;
	}
	if (!b->data && !orc__buf_reserve(b, 0))
		return NULL;
	if (!b->data)
		return NULL;
	b->data[b->len] = '\0';
	p = b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void orc__buf_hex(orc__buf *b, const unsigned char *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	if (!orc__buf_reserve(b, 2 * n))
		return;
	for (i = 0; i < n; i++) {
		b->data[b->len++] = hx[p[i] >> 4];
		b->data[b->len++] = hx[p[i] & 15];
	}
	b->data[b->len] = '\0';
}
