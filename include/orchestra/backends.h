/*
 * liborchestra - the built-in backends' constructors.
 */
#ifndef ORCHESTRA_BACKENDS_H
#define ORCHESTRA_BACKENDS_H

#include "common.h"
#include "status.h"
#include "types.h"

ORC_BEGIN_DECLS

/** Options for orc_memory_backend_create(). */
typedef struct orc_memory_options {
	unsigned int version;  /**< ORC_MEMORY_OPTIONS_VERSION */
	size_t max_payload;    /**< bytes per output/input; 0 = unlimited */
} orc_memory_options;

#define ORC_MEMORY_OPTIONS_VERSION 1
#define ORC_MEMORY_OPTIONS_INIT { ORC_MEMORY_OPTIONS_VERSION, 0 }

/**
 * @brief An in-memory backend: fast, thread-safe
 * (ORC_BACKEND_CAP_THREADSAFE), gone when freed.
 * @param opts NULL for defaults.
 * @param[out] out Caller owns; free with orc_backend_free().
 * @return ORC_OK, ORC_EINVAL, ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_memory_backend_create(orc_backend **out,
					     const orc_memory_options *opts,
					     orc_error *err);

/**
 * @brief Free any backend through its vtable. Accepts NULL. Free the
 * contexts and runners using it first.
 * @since 0.1
 */
ORC_API void orc_backend_free(orc_backend *b);

/** @brief The backend's name ("memory", ...); borrowed. @since 0.1 */
ORC_API const char *orc_backend_name(const orc_backend *b);

ORC_END_DECLS

#endif
