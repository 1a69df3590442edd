/*
 * Internal helpers shared by the library's files. Never installed; every
 * symbol here is hidden (orc__ prefix, no ORC_API), except the few that
 * private.h exports for liborchestra-aws.
 */
#ifndef ORCHESTRA_INTERNAL_H
#define ORCHESTRA_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "orchestra/common.h"
#include "orchestra/status.h"

/* Return ORC_EINVAL naming the failed expression; never assert. */
#define ORC_CHECK_ARG(expr, err)                                          \
	do {                                                              \
		if (!(expr))                                              \
			return orc_error_set((err), ORC_EINVAL,           \
					     "invalid argument: %s", #expr); \
	} while (0)

#define ORC_UNUSED(x) ((void)(x))

/* Bounds of a task's numbers (docs/workflow-format.md): far past any
 * real use, and small enough that the engine's arithmetic on them (a
 * deadline is now + a timeout) cannot overflow. */
#define ORC__MAX_MS INT64_C(2592000000)        /* 30 days */
#define ORC__MAX_MS_TEXT "2592000000 (30 days)"
#define ORC__MAX_ATTEMPTS 1000
#define ORC__MAX_BACKOFF_RATE 100.0

/* a + b for a, b >= 0, at most INT64_MAX: user numbers never wrap. */
static inline int64_t orc__add_sat(int64_t a, int64_t b)
{
	return b > 0 && a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* Allocation wrappers; a test build can make them fail (OOM tests). */
void *orc__malloc(size_t size);
void *orc__calloc(size_t n, size_t size);
void *orc__realloc(void *ptr, size_t size);
char *orc__strndup(const char *s, size_t n);

/* orc_error_set() with a va_list. */
orc_status orc__error_vset(orc_error *err, orc_status code, const char *fmt,
			   va_list ap);

/* Set line/column/position/source on an error already filled. */
void orc__error_locate(orc_error *err, const char *source, int line,
		       int column, size_t position);

/* Copy src into a fixed array, NUL-terminated; returns 1 when it fit. */
int orc__strlcpy(char *dst, const char *src, size_t size);

/* Versioned structs (options, task specs; lib/options.c). @p ends[v] is
 * the size of version v (ends[0] unused), @p nends the current version
 * + 1. A caller built against older headers passes a shorter struct, so
 * only ends[version] bytes are ever read or written. */
#define ORC__ENDS_CHECK(ends, current)                                     \
	_Static_assert(sizeof(ends) / sizeof((ends)[0]) == (current) + 1,  \
		       #ends ": give the size of each new version")
/* Fill @p s with the defaults @p def of @p version's fields. */
orc_status orc__struct_init(void *s, const void *def, unsigned int version,
			    const size_t *ends, size_t nends);
/* @p dst holds the defaults; copy over it the fields of the version that
 * @p src (may be NULL: defaults) declares, or ORC_EINVAL naming @p what
 * and the versions this library knows. */
orc_status orc__struct_read(void *dst, const void *src, const size_t *ends,
			    size_t nends, const char *what, orc_error *err);

/* Validated DAGs are shared read-only by reference count (atomic). */
struct orc_dag;
struct orc_dag *orc__dag_ref(const struct orc_dag *dag);

/* Monotonic-free wall clock in ms since the epoch. */
int64_t orc__now_ms(void);
/* Sleep at least @p ms milliseconds (signals do not cut it short). */
void orc__sleep_ms(int64_t ms);

/* splitmix64 step: small, seedable, no global state. */
static inline uint64_t orc__rand_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform double in [0, 1). */
static inline double orc__rand_unit(uint64_t *state)
{
	return (double)(orc__rand_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* FNV-1a over a NUL-terminated string; for hash tables. */
static inline uint64_t orc__hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The few of them that liborchestra-aws calls, exported privately. */
#include "private.h"

#endif
