/*
 * liborchestra - the workflow engine: start, claim, heartbeat, complete,
 * fail/retry, fan-out, reconcile, cancel and status, written once against
 * the backend vtable.
 */
#ifndef ORCHESTRA_WORKFLOW_H
#define ORCHESTRA_WORKFLOW_H

#include "common.h"
#include "status.h"
#include "task.h"
#include "types.h"

ORC_BEGIN_DECLS

/** State of a workflow run. */
typedef enum orc_workflow_state {
	ORC_WORKFLOW_PENDING = 0,   /**< being seeded */
	ORC_WORKFLOW_RUNNING = 1,
	ORC_WORKFLOW_SUCCEEDED = 2, /**< every task succeeded */
	ORC_WORKFLOW_FAILED = 3,    /**< a task ran out of attempts */
	ORC_WORKFLOW_CANCELED = 4
} orc_workflow_state;

#define ORC_WORKFLOW_STATE_COUNT 5
#define ORC_WORKFLOW_BIT(s) (1u << (unsigned)(s))

/** @brief "PENDING", "RUNNING", ...; "UNKNOWN" otherwise. @since 0.1 */
ORC_API const char *orc_workflow_state_name(orc_workflow_state s);

/** @brief 1 for SUCCEEDED, FAILED and CANCELED. @since 0.1 */
ORC_API int orc_workflow_state_is_terminal(orc_workflow_state s);

/**
 * @brief A workflow's stored record. Strings marked owned are released
 * by orc_workflow_rec_clear().
 */
typedef struct orc_workflow_rec {
	char id[ORC_ID_MAX + 1];
	orc_workflow_state state;
	int64_t version;      /**< bumped by every write */
	uint32_t ntasks;
	int64_t created_ms, updated_ms;
	char *definition;     /**< orc_dag_save() text; owned */
	char *input;          /**< workflow input JSON or NULL; owned */
	char *error;          /**< first error ("task X: ...") or NULL; owned */
} orc_workflow_rec;

/** @brief Free the record's owned strings. Accepts NULL. @since 0.1 */
ORC_API void orc_workflow_rec_clear(orc_workflow_rec *rec);

/** Options for orc_context_create(). */
typedef struct orc_context_options {
	unsigned int version;    /**< ORC_CONTEXT_OPTIONS_VERSION */
	orc_clock_fn clock;      /**< NULL = CLOCK_REALTIME */
	void *clock_payload;
	uint64_t seed;           /**< retry jitter PRNG seed; 0 = fixed default */
} orc_context_options;

#define ORC_CONTEXT_OPTIONS_VERSION 1
#define ORC_CONTEXT_OPTIONS_INIT { ORC_CONTEXT_OPTIONS_VERSION, NULL, NULL, 0 }

/**
 * @brief Fill @p opts with the defaults of ORC_CONTEXT_OPTIONS_INIT,
 * for callers that cannot use the macro (bindings). Only the fields of
 * @p version are written, so a program built against older headers
 * passes its own version.
 * @param version ORC_CONTEXT_OPTIONS_VERSION.
 * @return ORC_OK, ORC_EINVAL (NULL or unknown version).
 * @since 0.1
 */
ORC_API orc_status orc_context_options_init(orc_context_options *opts,
					    unsigned int version);

/**
 * @brief Create an engine context over @p backend.
 * @param backend Borrowed: must outlive the context. One backend may
 * serve many contexts (one per thread) when it has
 * ORC_BACKEND_CAP_THREADSAFE.
 * @param opts NULL for defaults.
 * @param[out] out Caller owns; free with orc_context_free().
 * @return ORC_OK, ORC_EINVAL (bad backend: version out of range or a
 * required method missing, named in the message), ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_context_create(orc_context **out, orc_backend *backend,
				      const orc_context_options *opts,
				      orc_error *err);

/** @brief Free a context (not its backend). Accepts NULL. @since 0.1 */
ORC_API void orc_context_free(orc_context *ctx);

/** @brief The context's clock, in ms since the epoch. @since 0.1 */
ORC_API int64_t orc_context_now(orc_context *ctx);

/** @brief The backend the context was created with (borrowed). @since 0.1 */
ORC_API orc_backend *orc_context_backend(orc_context *ctx);

/**
 * @brief Start workflow @p wf_id from the validated @p dag.
 *
 * Idempotent: starting an id again with the same definition returns
 * ORC_OK and changes nothing (it finishes seeding if an earlier start
 * crashed half-way); with a different definition it returns ORC_EEXISTS.
 * @param input_json workflow input (JSON text) or NULL; copied.
 * @return ORC_OK, ORC_EINVAL (bad id, DAG not validated, input not
 * JSON), ORC_EEXISTS, ORC_ETOOBIG, ORC_EBACKEND, ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_workflow_start(orc_context *ctx, const char *wf_id,
				      const orc_dag *dag, const char *input_json,
				      orc_error *err);

/** A claimed task. Fixed arrays: no allocation. */
typedef struct orc_claim {
	char task_id[ORC_ID_MAX + 1];
	size_t task_index;        /**< index in the workflow's DAG */
	int64_t token;            /**< fencing token (the version written) */
	int32_t attempt;          /**< 1 for the first attempt */
	int64_t lease_expiry_ms;
} orc_claim;

/**
 * @brief Claim one runnable task: READY, not-before passed. Writes a lease
 * for @p owner of @p lease_ms and returns its fencing token.
 * @param[out] out filled on ORC_OK.
 * @return ORC_OK; ORC_ENOTFOUND when nothing is runnable now (the
 * workflow may still be running: tasks may be RUNNING or backing off);
 * ORC_ECANCELED when the workflow is terminal (see its state); ORC_EINVAL.
 * @since 0.1
 */
ORC_API orc_status orc_workflow_claim(orc_claim *out, orc_context *ctx,
				      const char *wf_id, const char *owner,
				      int64_t lease_ms, orc_error *err);

/**
 * @brief Claim one specific task (the Streams/worker path, where the
 * caller already knows which task is ready).
 * @return as orc_workflow_claim(); ORC_ECONFLICT when the task is not
 * claimable (claimed by someone else, not ready, or backing off).
 * @since 0.1
 */
ORC_API orc_status orc_workflow_claim_task(orc_claim *out, orc_context *ctx,
					   const char *wf_id, const char *task_id,
					   const char *owner, int64_t lease_ms,
					   orc_error *err);

/**
 * @brief The JSON payload a task receives:
 * `{"workflowId", "taskId", "attempt", "input", "dependencies": {id: output}}`.
 * Outputs this context wrote are known; the others are read, one get
 * per dependency, or with one listing of the workflow's SUCCEEDED tasks
 * when 32 or more are unknown (a wide fan-in costs one backend call).
 * @param[out] json_out Caller owns; free with orc_free().
 * @return ORC_OK, ORC_ENOTFOUND, ORC_EBACKEND, ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_workflow_payload(char **json_out, orc_context *ctx,
					const char *wf_id, const orc_claim *claim,
					orc_error *err);

/**
 * @brief Extend a lease. Conditional on @p token; on success *token_io
 * receives the new token (every write bumps the version).
 * @return ORC_OK, ORC_ECONFLICT (lease lost: stop working), ORC_EINVAL.
 * @since 0.1
 */
ORC_API orc_status orc_workflow_heartbeat(int64_t *token_io, orc_context *ctx,
					  const char *wf_id, const char *task_id,
					  int64_t lease_ms, orc_error *err);

/**
 * @brief Complete a task with @p output_json (JSON text or NULL; copied),
 * conditional on @p token, then fan out to its dependents (idempotent)
 * and, when it was the last task, mark the workflow SUCCEEDED.
 * @return ORC_OK, ORC_ECONFLICT (stale token: the lease expired and the
 * task was reclaimed, or it was canceled), ORC_EINVAL (output not JSON),
 * ORC_ETOOBIG, ORC_EBACKEND.
 * @since 0.1
 */
ORC_API orc_status orc_workflow_complete(orc_context *ctx, const char *wf_id,
					 const char *task_id, int64_t token,
					 const char *output_json, orc_error *err);

/**
 * @brief orc_workflow_complete(), then orc_workflow_claim() for the same
 * worker, in one call: a worker that finishes a task and wants the next
 * one. On a backend with atomic groups (memory, SQLite) the claim of a
 * task this context saw become READY is written in the completion's own
 * transaction, so a task life costs one commit instead of two; otherwise
 * the claim follows the completion as orc_workflow_claim() would.
 * Either way a crash between the two leaves the next task claimed by
 * @p owner, exactly as a crash right after orc_workflow_claim() would:
 * its lease expires and reconcile makes it runnable again.
 * @param[out] next filled when *next_st is ORC_OK.
 * @param[out] next_st the claim's status, as orc_workflow_claim()
 * returns it (ORC_OK, ORC_ENOTFOUND, ORC_ECANCELED, ...; @p err then
 * holds the claim's message); when the completion fails, its status,
 * and nothing was claimed.
 * @return the completion's status, as orc_workflow_complete(); also
 * ORC_EINVAL for a bad @p owner or @p lease_ms (nothing written).
 * @since 0.1
 */
ORC_API orc_status orc_workflow_complete_claim(orc_claim *next,
					       orc_status *next_st,
					       orc_context *ctx,
					       const char *wf_id,
					       const char *task_id,
					       int64_t token,
					       const char *output_json,
					       const char *owner,
					       int64_t lease_ms, orc_error *err);

/**
 * @brief Report a failed attempt, conditional on @p token. With attempts
 * left, the task goes back to READY with a not-before time from its retry
 * policy; otherwise it is FAILED, its downstream tasks are CANCELED and
 * the workflow is FAILED keeping the first error. A failed workflow
 * starts nothing new: its other PENDING and READY tasks are CANCELED too
 * (tasks already running may finish).
 * @param[out] final_out may be NULL; set to 1 when no retry is left.
 * @return ORC_OK, ORC_ECONFLICT, ORC_EBACKEND.
 * @since 0.1
 */
ORC_API orc_status orc_workflow_fail(int *final_out, orc_context *ctx,
				     const char *wf_id, const char *task_id,
				     int64_t token, const char *error_message,
				     orc_error *err);

/**
 * @brief Mark dependency @p dep_id of @p task_id done (the fan-out step
 * alone, for Streams handlers and reconcile). Idempotent: marking twice,
 * or out of order, has the effect of once; when the last dependency is
 * marked the task becomes READY. Succeeds without effect when the task is
 * no longer PENDING.
 * @return ORC_OK, ORC_ENOTFOUND (unknown task, or @p dep_id is not one of
 * its dependencies), ORC_ECONFLICT (@p dep_id has not succeeded: only a
 * real success counts), ORC_EBACKEND.
 * @since 0.1
 */
ORC_API orc_status orc_workflow_mark_dep_done(orc_context *ctx,
					      const char *wf_id,
					      const char *task_id,
					      const char *dep_id, orc_error *err);

/** What orc_workflow_reconcile() did. */
typedef struct orc_reconcile_report {
	uint32_t expired;       /**< expired leases re-readied or failed */
	uint32_t fanout_redone; /**< dependencies marked done again */
	uint32_t promoted;      /**< PENDING tasks made READY */
	uint32_t canceled;      /**< tasks canceled (failure or cancel) */
	orc_workflow_state state; /**< workflow state afterwards */
} orc_reconcile_report;

/**
 * @brief Repair after crashes: re-ready (or fail, when attempts ran out)
 * RUNNING tasks whose lease expired, each as a failed attempt: back to
 * READY with the not-before time of its retry policy counted from now
 * (orc_task_rec.not_before_ms), or FAILED with the error "lease of
 * '<owner>' expired"; redo fan-out a crash cut short;
 * cancel what a failure or cancel left claimable; recompute the
 * workflow's state. Safe to run at any time, concurrently with workers.
 * @param[out] report_out may be NULL.
 * @return ORC_OK, ORC_ENOTFOUND, ORC_EBACKEND.
 * @since 0.1
 */
ORC_API orc_status orc_workflow_reconcile(orc_reconcile_report *report_out,
					  orc_context *ctx, const char *wf_id,
					  orc_error *err);

/**
 * @brief Called by orc_workflow_reconcile_live() after each workflow:
 * its id, the status of its reconcile, the report (valid when @p st is
 * ORC_OK) and the error (when it is not). Borrowed for the call.
 * Return non-zero to stop.
 */
typedef int (*orc_reconcile_cb)(const char *wf_id, orc_status st,
				const orc_reconcile_report *rep,
				const orc_error *err, void *payload);

/**
 * @brief orc_workflow_reconcile() every live workflow of the backend
 * (state PENDING or RUNNING). The live ones are found with the
 * backend's list_live primitive, 100 at a time, at a cost proportional
 * to them, or, for a backend without it, by listing every workflow
 * stored. One workflow's failure does not stop
 * the others: it goes to @p cb, which is called after each reconcile,
 * outside any listing, and may use @p ctx (to dispatch what became
 * READY, say).
 * @param[out] count_out may be NULL: workflows reconciled.
 * @param cb may be NULL.
 * @return ORC_OK (also when some workflows failed: see @p cb),
 * ORC_EINVAL, ORC_ENOTSUPPORTED (the backend can list no workflows),
 * ORC_EBACKEND and the other errors of listing, ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_workflow_reconcile_live(size_t *count_out,
					       orc_context *ctx,
					       orc_reconcile_cb cb,
					       void *payload, orc_error *err);

/**
 * @brief Cancel a workflow: no new claims; PENDING and READY tasks become
 * CANCELED. Running tasks may still complete; their results fan out to
 * nothing. Cancelling a terminal workflow returns ORC_OK and changes
 * nothing.
 * @return ORC_OK, ORC_ENOTFOUND, ORC_EBACKEND.
 * @since 0.1
 */
ORC_API orc_status orc_workflow_cancel(orc_context *ctx, const char *wf_id,
				       const char *reason, orc_error *err);

/**
 * @brief A status snapshot: the workflow record and every task record.
 * Read the tasks with orc_snapshot_task(): orc_task_rec may grow (fields
 * are appended), so the records are laid out at the size of the library
 * that filled them, not at the caller's sizeof(orc_task_rec).
 */
typedef struct orc_snapshot {
	orc_workflow_rec workflow;
	size_t ntasks;         /**< as orc_snapshot_task_count() */
	void *task_data;       /**< private: use orc_snapshot_task() */
} orc_snapshot;

/** Ask for task outputs and errors in the snapshot. */
#define ORC_SNAPSHOT_PAYLOADS 0x1u

/**
 * @brief Read the workflow and all its tasks.
 * @param[out] out Caller storage; release with orc_snapshot_clear().
 * @return ORC_OK, ORC_ENOTFOUND, ORC_EBACKEND, ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_workflow_snapshot(orc_snapshot *out, orc_context *ctx,
					 const char *wf_id, uint32_t flags,
					 orc_error *err);

/** @brief Number of task records; 0 for NULL. @since 0.1 */
ORC_API size_t orc_snapshot_task_count(const orc_snapshot *snap);

/**
 * @brief Task @p index of the snapshot, in the definition's task order.
 * Borrowed; valid until orc_snapshot_clear(). NULL when @p snap is NULL
 * or @p index >= orc_snapshot_task_count().
 * @since 0.1
 */
ORC_API const orc_task_rec *orc_snapshot_task(const orc_snapshot *snap,
					      size_t index);

/** @brief Release a snapshot's memory. Accepts NULL. @since 0.1 */
ORC_API void orc_snapshot_clear(orc_snapshot *snap);

ORC_END_DECLS

#endif
