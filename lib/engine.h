/*
 * Engine steps shared by workflow.c and reconcile.c. Each is one or a
 * few conditional single-record writes.
 */
#ifndef ORCHESTRA_ENGINE_H
#define ORCHESTRA_ENGINE_H

#include "context.h"

const char *orc__task_id_at(const orc_dag *dag, size_t i);
void orc__task_update_init(orc_task_update *u, int64_t now);

/* Mark @p dep done on @p task and promote it when complete; a task no
 * longer PENDING is left alone. *promoted (may be NULL) set when it
 * became READY. */
orc_status orc__mark_done(orc_context *ctx, orc__wf_cache *wf, size_t task,
			  size_t dep, int64_t now, int *promoted,
			  orc_error *err);

/* Claim @p task_id as it is known to be, READY at @p version after
 * @p attempt attempts (a dispatcher read it), without reading it again:
 * the write's condition checks what the caller believes. ORC_ECONFLICT
 * when the task is elsewhere. */
orc_status orc__claim_at(orc_claim *out, orc_context *ctx,
			 orc__wf_cache *wf, size_t idx, int64_t version,
			 int32_t attempt, const char *owner, int64_t lease_ms,
			 orc_error *err);

/* Move a live workflow to a final state; keeps the first one. */
orc_status orc__finish_workflow(orc_context *ctx, const char *wf_id,
				orc_workflow_state state, const char *error,
				orc_error *err);

/* Cancel PENDING/READY descendants of @p task. */
orc_status orc__cancel_downstream(orc_context *ctx, orc__wf_cache *wf,
				  size_t task, uint32_t *count, orc_error *err);

/* A RUNNING task at @p version back to READY with backoff, or FAILED
 * (then downstream canceled, workflow FAILED) when out of attempts. */
orc_status orc__retry_or_fail(int *final_out, orc_context *ctx,
			      orc__wf_cache *wf, size_t idx, int64_t version,
			      int32_t attempt, const char *message,
			      uint32_t *canceled, orc_error *err);

/* Cancel every PENDING/READY task of a workflow. */
orc_status orc__cancel_claimable(orc_context *ctx, const char *wf_id,
				 uint32_t *count, orc_error *err);

/* Have the backend write tasks of a started workflow that are missing. */
orc_status orc__reseed(orc_context *ctx, orc__wf_cache *wf, orc_error *err);

/* Task @p i of a snapshot this library filled (records at its own
 * sizeof; the public accessor is orc_snapshot_task()). */
static inline orc_task_rec *orc__snap_task(const orc_snapshot *snap,
					   size_t i)
{
	return (orc_task_rec *)snap->task_data + i;
}

/* orc_workflow_snapshot() that counts missing task records in
 * @p missing instead of failing (they show as PENDING). */
orc_status orc__snapshot(orc_snapshot *out, orc_context *ctx,
			 const char *wf_id, uint32_t flags, size_t *missing,
			 orc_error *err);

/* The longest lease a claim takes: expiries are now + lease. */
#define ORC__LEASE_MAX_MS (INT64_C(10) * 366 * 24 * 3600 * 1000)

/* The lease for a claim of task @p idx: @p lease_ms, or the task's
 * timeout and a second when longer (a healthy task must not be
 * reclaimed), at most ORC__LEASE_MAX_MS. */
int64_t orc__task_lease_ms(const orc_dag *dag, size_t idx, int64_t lease_ms);

/* For a driver that wakes on its own completions (lib/runner.c): claim
 * only tasks our own writes made READY, never listing; ORC_ENOTFOUND
 * (no message) when there is none, ORC_ECANCELED when we ended the
 * workflow. Leases per orc__task_lease_ms(). */
orc_status orc__claim_hinted(orc_claim *out, orc_context *ctx,
			     const char *wf_id, const char *owner,
			     int64_t lease_ms, orc_error *err);

/* orc_workflow_complete_claim() whose next claim is orc__claim_hinted(). */
orc_status orc__complete_claim_hinted(orc_claim *next, orc_status *next_st,
				      orc_context *ctx, const char *wf_id,
				      const char *task_id, int64_t token,
				      const char *output_json,
				      const char *owner, int64_t lease_ms,
				      orc_error *err);

#endif
