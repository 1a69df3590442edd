/*
 * liborchestra - status codes and the per-call error struct.
 */
#ifndef ORCHESTRA_STATUS_H
#define ORCHESTRA_STATUS_H

#include "common.h"

ORC_BEGIN_DECLS

/**
 * @brief Result of every fallible call. ORC_OK is 0, errors are positive.
 * Numbers are fixed: codes are appended, never removed or reused.
 * docs/errors.md gives each code's causes and fixes.
 */
typedef enum orc_status {
	ORC_OK = 0,
	ORC_ERROR = 1,         /**< unexpected failure */
	ORC_ENOMEM = 2,        /**< out of memory */
	ORC_EINVAL = 3,        /**< invalid argument (NULL, bad id, bad option) */
	ORC_EPARSE = 4,        /**< malformed JSON or definition; line/column set */
	ORC_ENOTFOUND = 5,     /**< no such workflow, task, lock or handler */
	ORC_EEXISTS = 6,       /**< duplicate id or registration */
	ORC_ECYCLE = 7,        /**< the DAG has a cycle; the message names it */
	ORC_ECONFLICT = 8,     /**< version or fencing token mismatch */
	ORC_ELOCKED = 9,       /**< live lease held elsewhere */
	ORC_ETOOBIG = 10,      /**< payload over the backend's limit */
	ORC_EBACKEND = 11,     /**< storage failed */
	ORC_ETHROTTLED = 12,   /**< retryable throttling */
	ORC_ETIMEOUT = 13,     /**< deadline passed */
	ORC_EAUTH = 14,        /**< credentials missing or refused */
	ORC_ENOTSUPPORTED = 15,/**< backend or build lacks the feature */
	ORC_ECANCELED = 16,    /**< the workflow was canceled */
	ORC_EUSER = 17         /**< returned by a user callback */
} orc_status;

/** Highest status code defined by this version. */
#define ORC_STATUS_MAX ORC_EUSER

/**
 * @brief Error details of one failed call. Filled only on failure; test
 * the returned orc_status, never err->code alone. Fixed arrays, so it can
 * be filled when out of memory. Its size is part of the ABI.
 */
typedef struct orc_error {
	orc_status code;
	int line;          /**< 1-based; 0 = not applicable */
	int column;        /**< 1-based; 0 = not applicable */
	size_t position;   /**< byte offset into the input, when line is set */
	int detail;        /**< HTTP status, SQLite extended rc, errno; 0 = none */
	char source[80];   /**< "<string>", a file name, "sqlite", ... */
	char message[256]; /**< readable text, NUL-terminated */
	/** A name for the error chosen by user code, "" when none: the
	 * errorType a Lambda handler reports (orc_lambda_set_error_type());
	 * orc_status_name(code) stands in when empty. */
	char type[72];
} orc_error;

/**
 * @brief Static text for a status. Never NULL; thread-safe.
 * @since 0.1
 */
ORC_API const char *orc_strerror(orc_status st);

/**
 * @brief The enum constant's name ("ORC_ECONFLICT"), for logs and the
 * ASL `Error` field. Never NULL ("ORC_UNKNOWN" for unknown values).
 * @since 0.1
 */
ORC_API const char *orc_status_name(orc_status st);

/**
 * @brief Fill @p err (may be NULL) with @p code and a printf-style
 * message; line, column, position and detail are reset to 0 and source
 * to "". Returns @p code, so `return orc_error_set(err, ...)` works.
 * @since 0.1
 */
ORC_API orc_status orc_error_set(orc_error *err, orc_status code,
				 const char *fmt, ...) ORC_PRINTF(3, 4);

ORC_END_DECLS

#endif
