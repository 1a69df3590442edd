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
 * @brief Fill @p opts with the defaults of ORC_MEMORY_OPTIONS_INIT,
 * for callers that cannot use the macro (bindings). Only the fields of
 * @p version are written, so a program built against older headers
 * passes its own version.
 * @param version ORC_MEMORY_OPTIONS_VERSION.
 * @return ORC_OK, ORC_EINVAL (NULL or unknown version).
 * @since 0.1
 */
ORC_API orc_status orc_memory_options_init(orc_memory_options *opts,
					   unsigned int version);

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

/** Methods are safe to call from many threads at once: one instance may
 * serve many contexts on many threads. */
#define ORC_BACKEND_CAP_THREADSAFE 0x1u
/** Records can expire by a TTL attribute. */
#define ORC_BACKEND_CAP_TTL 0x2u
/** create_workflow() seeds all records in one transaction. */
#define ORC_BACKEND_CAP_TXN 0x4u

/**
 * @brief The backend's ORC_BACKEND_CAP_* bits: memory and SQLite have
 * ORC_BACKEND_CAP_THREADSAFE | ORC_BACKEND_CAP_TXN, DynamoDB
 * ORC_BACKEND_CAP_TTL only
 * (docs/threading.md). 0 for NULL.
 * @since 0.1
 */
ORC_API uint32_t orc_backend_caps(const orc_backend *b);

/* ---- SQLite backend (block owned by the SQLite backend) ---- */

/**
 * synchronous pragma of the SQLite backend (the database is always in
 * WAL mode). See docs/backends-sqlite.md.
 */
typedef enum orc_sqlite_sync {
	/**
	 * PRAGMA synchronous = NORMAL: the WAL is synced at checkpoints
	 * (each 4 MiB of WAL, as with SQLite's defaults), not at each
	 * commit. The database stays consistent and every committed write
	 * survives a crash of the process (SIGKILL, abort); the commits
	 * since the last checkpoint may be lost on power loss or an OS
	 * crash.
	 */
	ORC_SQLITE_SYNC_NORMAL = 0,
	/**
	 * PRAGMA synchronous = FULL: the WAL is synced at each commit, so a
	 * commit that returned survives power loss too; each write costs an
	 * fsync.
	 */
	ORC_SQLITE_SYNC_FULL = 1
} orc_sqlite_sync;

/** Options for orc_sqlite_backend_open(). */
typedef struct orc_sqlite_options {
	unsigned int version;      /**< ORC_SQLITE_OPTIONS_VERSION */
	orc_sqlite_sync synchronous; /**< default ORC_SQLITE_SYNC_NORMAL */
	/**
	 * How long a write waits for another connection's write lock
	 * before failing with ORC_ETHROTTLED (retryable); 0 = 5000.
	 */
	int busy_timeout_ms;
} orc_sqlite_options;

#define ORC_SQLITE_OPTIONS_VERSION 1
#define ORC_SQLITE_OPTIONS_INIT { ORC_SQLITE_OPTIONS_VERSION, \
	ORC_SQLITE_SYNC_NORMAL, 0 }

/**
 * @brief Fill @p opts with the defaults of ORC_SQLITE_OPTIONS_INIT,
 * for callers that cannot use the macro (bindings). Only the fields of
 * @p version are written, so a program built against older headers
 * passes its own version.
 * @param version ORC_SQLITE_OPTIONS_VERSION.
 * @return ORC_OK, ORC_EINVAL (NULL or unknown version).
 * @since 0.1
 */
ORC_API orc_status orc_sqlite_options_init(orc_sqlite_options *opts,
					   unsigned int version);

/**
 * @brief Open (creating if needed) a SQLite database file as a backend.
 *
 * The file is switched to WAL mode and its schema created or upgraded
 * (PRAGMA user_version). Each write primitive is one BEGIN IMMEDIATE
 * transaction and create_workflow() seeds in one transaction
 * (ORC_BACKEND_CAP_TXN). One instance is one connection, usable from
 * many threads (ORC_BACKEND_CAP_THREADSAFE; calls are serialized);
 * several instances and processes may open the same file. Errors from
 * SQLite carry source "sqlite" and the extended result code in
 * orc_error.detail.
 * @param path a file name, ":memory:" for a private database, or a
 * SQLite "file:" URI ("file:/x.db?mode=ro" reads without writing). A
 * file SQLite may not write is refused unless opened with mode=ro.
 * @param opts NULL for defaults.
 * @param[out] out Caller owns; free with orc_backend_free().
 * @return ORC_OK, ORC_EINVAL (bad options), ORC_EBACKEND (cannot open,
 * not a database, schema newer than this library), ORC_ETHROTTLED (the
 * file stayed locked past the busy timeout), ORC_ENOMEM,
 * ORC_ENOTSUPPORTED (built without SQLite).
 * @since 0.1
 */
ORC_API orc_status orc_sqlite_backend_open(orc_backend **out, const char *path,
					   const orc_sqlite_options *opts,
					   orc_error *err);

/* ---- end of SQLite block ---- */

/* ---- DynamoDB backend (block owned by the DynamoDB backend) ---- */

/** Options for orc_dynamodb_backend_open(). */
typedef struct orc_dynamodb_options {
	unsigned int version;      /**< ORC_DYNAMODB_OPTIONS_VERSION */
	const char *table;         /**< required */
	const char *region;        /**< NULL = AWS_REGION, AWS_DEFAULT_REGION, config */
	const char *endpoint;      /**< NULL = AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, AWS */
	const char *profile;       /**< NULL = AWS_PROFILE or "default" */
	int max_attempts;          /**< 0 = 3 (SDK standard mode) */
	int64_t connect_timeout_ms;/**< 0 = 3000 */
	int64_t request_timeout_ms;/**< 0 = 10000 */
	/** Version 2. A start writes the workflow record first, then the
	 * tasks in BatchWriteItem requests. If the tasks are still missing
	 * this long after (the starter died in between), the next start or
	 * reconcile writes them. 0 = 60000. */
	int64_t seed_grace_ms;
	/** Version 3. How long a finished workflow's record stays: the
	 * write that makes it SUCCEEDED, FAILED or CANCELED also sets its
	 * "ttl" attribute (epoch seconds) to then plus this, for DynamoDB's
	 * Time to Live to delete it. 0 = 30 days; -1 = no ttl written;
	 * at most 100 years. */
	int64_t retention_ms;
	/** Version 3. How a start seeds a workflow of up to 99 tasks:
	 * ORC_DYNAMODB_TXN_AUTO (0) in one TransactWriteItems (the record
	 * and its tasks, all or nothing), until the server answers that it
	 * has no such operation (dynalite): then, for the rest of this
	 * backend's life, the record first and the tasks in batches, as
	 * ORC_DYNAMODB_TXN_OFF always does. The environment variable
	 * ORC_DYNAMODB_TRANSACTIONS=off turns AUTO into OFF. */
	int transactions;
} orc_dynamodb_options;

#define ORC_DYNAMODB_TXN_AUTO 0
#define ORC_DYNAMODB_TXN_OFF 1

#define ORC_DYNAMODB_OPTIONS_VERSION 3
#define ORC_DYNAMODB_OPTIONS_INIT { ORC_DYNAMODB_OPTIONS_VERSION, NULL, \
	NULL, NULL, NULL, 0, 0, 0, 0, 0, 0 }

/**
 * @brief Fill @p opts with the defaults of ORC_DYNAMODB_OPTIONS_INIT,
 * for callers that cannot use the macro (bindings). Only the fields of
 * @p version are written, so a program built against older headers
 * passes its own version.
 * @param version ORC_DYNAMODB_OPTIONS_VERSION.
 * @return ORC_OK, ORC_EINVAL (NULL or unknown version).
 * @since 0.1
 */
ORC_API orc_status orc_dynamodb_options_init(orc_dynamodb_options *opts,
					     unsigned int version);

/**
 * @brief Open a DynamoDB table (the seed's single-table layout) as a
 * backend. Calls curl_global_init(); see docs/threading.md.
 * @param[out] out Caller owns; free with orc_backend_free().
 * @return ORC_OK, ORC_EINVAL, ORC_EAUTH, ORC_EBACKEND, ORC_ENOMEM,
 * ORC_ENOTSUPPORTED (built without the dynamodb part).
 * @since 0.1
 */
ORC_API orc_status orc_dynamodb_backend_open(orc_backend **out,
					     const orc_dynamodb_options *opts,
					     orc_error *err);

/**
 * @brief Create @p opts->table with the layout orc_dynamodb_backend_open()
 * expects: keys pk (hash) and sk (range), both strings; on-demand
 * billing; a stream of NEW_AND_OLD_IMAGES; the global secondary index
 * "orc-live" (hash "live", range "pk") that lists live workflows; TTL on
 * attribute "ttl" where the service supports it. Waits until the table
 * is ACTIVE. A table without the index (the seed's) still works: live
 * workflows are then found by a Scan.
 * @return ORC_OK, ORC_EEXISTS (table exists), ORC_EINVAL, ORC_EAUTH,
 * ORC_EBACKEND, ORC_ENOTSUPPORTED (built without the dynamodb part).
 * @since 0.1
 */
ORC_API orc_status orc_dynamodb_create_table(const orc_dynamodb_options *opts,
					     orc_error *err);

/** ctl() op of the DynamoDB backend: fill an orc_dynamodb_stats. */
#define ORC_DYNAMODB_CTL_STATS 0x4444

/** Request counters of one DynamoDB backend (ORC_DYNAMODB_CTL_STATS). */
typedef struct orc_dynamodb_stats {
	uint64_t calls;     /**< API operations called */
	uint64_t requests;  /**< HTTP requests sent, retries included */
	uint64_t retries;   /**< attempts after the first */
} orc_dynamodb_stats;

/**
 * ctl() op of the DynamoDB backend: what the caller knows of a task's
 * dependencies (an orc_dynamodb_dep_hint), so that marking the last one
 * done and promoting the task is one UpdateItem instead of two. A hint
 * only: the write's condition checks it, and a wrong one costs a
 * refused write, never correctness.
 */
#define ORC_DYNAMODB_CTL_DEP_HINT 0x4445

/** Argument of ORC_DYNAMODB_CTL_DEP_HINT; strings borrowed. */
typedef struct orc_dynamodb_dep_hint {
	const char *wf_id, *task_id;
	uint32_t ndeps;     /**< dependencies of the task */
	uint32_t ndone;     /**< of them known done */
} orc_dynamodb_dep_hint;

/* ---- end of DynamoDB block ---- */

ORC_END_DECLS

#endif
