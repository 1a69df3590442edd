/*
 * The library's one allocator. Everything liborchestra hands out as
 * memory is released with orc_free(), so callers never mix allocators.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void *orc__malloc(size_t size)
{
	return malloc(size ? size : 1);
}

void *orc__calloc(size_t n, size_t size)
{
	return calloc(n ? n : 1, size ? size : 1);
}

void *orc__realloc(void *ptr, size_t size)
{
	return realloc(ptr, size ? size : 1);
}

char *orc__strndup(const char *s, size_t n)
{
	char *p;

	if (!s)
		return NULL;
	p = orc__malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int orc__strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return 0;
	}
	memcpy(dst, src, n + 1);
	return 1;
}

ORC_API void orc_free(void *ptr)
{
	free(ptr);
}

ORC_API void *orc_malloc(size_t size)
{
	return orc__malloc(size);
}

ORC_API char *orc_strdup(const char *s)
{
	return s ? orc__strndup(s, strlen(s)) : NULL;
}
