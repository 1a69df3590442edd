/*
 * A growable byte buffer for building requests, canonical strings and
 * JSON bodies. Internal to lib/aws and the DynamoDB backend.
 */
#ifndef ORC_AWS_BUF_H
#define ORC_AWS_BUF_H

#include <stddef.h>

typedef struct orc__buf {
	char *data;   /* always NUL-terminated when len > 0 or cap > 0 */
	size_t len, cap;
	int oom;      /* sticky: after a failed append, appends do nothing */
} orc__buf;

#define ORC__BUF_INIT { NULL, 0, 0, 0 }

void orc__buf_free(orc__buf *b);
void orc__buf_reset(orc__buf *b);
int orc__buf_reserve(orc__buf *b, size_t extra);
void orc__buf_add(orc__buf *b, const void *p, size_t n);
void orc__buf_puts(orc__buf *b, const char *s);
void orc__buf_putc(orc__buf *b, char c);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void orc__buf_printf(orc__buf *b, const char *fmt, ...);
/* Detach the data (never NULL unless out of memory); the buffer is reset. */
char *orc__buf_take(orc__buf *b);
/* Append lowercase hex of n bytes. */
void orc__buf_hex(orc__buf *b, const unsigned char *p, size_t n);

#endif
