/*
 * liborchestra - common macros shared by every public header.
 */
#ifndef ORCHESTRA_COMMON_H
#define ORCHESTRA_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define ORC_API __attribute__((visibility("default")))
#define ORC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ORC_API
#define ORC_PRINTF(f, a)
#endif

#ifdef __cplusplus
#define ORC_BEGIN_DECLS extern "C" {
#define ORC_END_DECLS }
#else
#define ORC_BEGIN_DECLS
#define ORC_END_DECLS
#endif

/** Longest task, workflow or lock id, in bytes (not counting the NUL). */
#define ORC_ID_MAX 128
/** Longest lease owner name, in bytes (not counting the NUL). */
#define ORC_OWNER_MAX 128

ORC_BEGIN_DECLS

/**
 * @brief Free memory that liborchestra returned as a `char *` or that
 * lives in a record it filled. Accepts NULL.
 * @since 0.1
 */
ORC_API void orc_free(void *ptr);

/**
 * @brief Allocate with liborchestra's allocator; for backend authors who
 * fill records that the core later releases with orc_free().
 * @return NULL when out of memory.
 * @since 0.1
 */
ORC_API void *orc_malloc(size_t size);

/**
 * @brief Copy a NUL-terminated string with orc_malloc(). NULL in, NULL out.
 * @since 0.1
 */
ORC_API char *orc_strdup(const char *s);

ORC_END_DECLS

#endif
