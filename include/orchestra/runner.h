/*
 * liborchestra - the in-process runner: C handlers registered by target
 * name, run on a thread pool (or deterministically on the caller's
 * thread) against any backend.
 */
#ifndef ORCHESTRA_RUNNER_H
#define ORCHESTRA_RUNNER_H

#include "common.h"
#include "dag.h"
#include "status.h"
#include "types.h"
#include "workflow.h"

ORC_BEGIN_DECLS

/**
 * @brief A task handler. Read the call with orc_call_*(); set the output
 * with orc_call_set_output(). Return ORC_OK for success; any other status
 * is a failed attempt (retried per the task's policy), with the message
 * set by orc_call_set_error() or the status text.
 * Called from runner threads: a handler registered for a multi-threaded
 * run must be safe to call concurrently with itself.
 */
typedef orc_status (*orc_handler_fn)(orc_handler_call *call, void *payload);

/** @brief Workflow id of the call (borrowed, valid during the call). */
ORC_API const char *orc_call_workflow_id(const orc_handler_call *call);
/** @brief Task id of the call (borrowed, valid during the call). */
ORC_API const char *orc_call_task_id(const orc_handler_call *call);
/** @brief Attempt number, 1 for the first. */
ORC_API int32_t orc_call_attempt(const orc_handler_call *call);
/**
 * @brief The task's payload JSON text (orc_workflow_payload() shape);
 * borrowed, valid during the call.
 */
ORC_API const char *orc_call_payload(const orc_handler_call *call);
/**
 * @brief Set the task's output (JSON text, copied and checked).
 * @return ORC_OK, ORC_EINVAL (not JSON), ORC_ENOMEM.
 */
ORC_API orc_status orc_call_set_output(orc_handler_call *call,
				       const char *json, orc_error *err);
/** @brief Set the failure message for a non-OK return (copied). */
ORC_API void orc_call_set_error(orc_handler_call *call, const char *fmt, ...)
	ORC_PRINTF(2, 3);

/**
 * What a runner's worker just wrote, for progress displays
 * (orc_runner_options.on_event). Strings are borrowed, valid during the
 * callback.
 * @since 0.2
 */
typedef struct orc_run_event {
	const char *task_id;
	/** RUNNING: claimed, the handler starts; SUCCEEDED: completed;
	 * READY: the attempt failed and will be retried; FAILED: it failed
	 * with no attempt left. */
	orc_task_state state;
	int32_t attempt;
	const char *output;    /**< SUCCEEDED: the output JSON or NULL */
	const char *error;     /**< READY, FAILED: the attempt's error */
} orc_run_event;

/** @brief Event callback; see orc_runner_options.on_event. */
typedef void (*orc_run_event_fn)(const orc_run_event *ev, void *payload);

/**
 * Options for orc_runner_create().
 *
 * How a run waits (docs/threading.md): with threads > 0 and no idle
 * callback, workers share what their own writes made READY and wait on
 * a condition variable for each other's completions; storage is looked
 * at for other processes' changes (reconcile of expired leases, tasks
 * others made READY, an end written elsewhere) only every quarter of
 * lease_ms, when a failed attempt's retry is due, and once when nothing
 * of this run is in flight, so a run's requests do not grow with how
 * long its tasks take. With threads == 0 or an idle callback the runner
 * polls as version 1 did.
 */
typedef struct orc_runner_options {
	unsigned int version;   /**< ORC_RUNNER_OPTIONS_VERSION */
	unsigned int threads;   /**< 0 = deterministic, on the caller's thread */
	/** Per claim, unless the task's timeout is longer; 0 = 30000. With
	 * threads > 0 a keeper thread renews the lease of every running task
	 * each sixth of it, so a handler may run longer than its lease; the
	 * deterministic mode does not renew. */
	int64_t lease_ms;
	const char *owner;      /**< lease owner prefix; NULL = "runner" */
	orc_clock_fn clock;     /**< NULL = real time */
	void *clock_payload;
	uint64_t seed;          /**< retry jitter seed */
	/** Sleep between polls when nothing is runnable; NULL = nanosleep.
	 * Deterministic tests pass a function that advances their clock. */
	void (*idle)(int64_t ms, void *payload);
	void *idle_payload;
	/* ---- version 2 ---- */
	/** How long a run keeps trying after storage calls start failing
	 * with transient errors (ORC_ETHROTTLED, ORC_ETIMEOUT, and
	 * ORC_EBACKEND from an HTTP storage service with a 5xx answer or no
	 * answer, see orc_runner_error_is_transient()), with capped
	 * exponential backoff, before orc_runner_run() returns the last
	 * error. Each success starts the count again. 0 = 300000 (5
	 * minutes); -1 = give up at the first such error. */
	int64_t storage_timeout_ms;
	/** Called after each durable state change made by this runner's
	 * workers (claim, completion, failed attempt), from worker
	 * threads, one call at a time and in the order of the writes, with
	 * the runner's lock held: keep it short and do not call the runner
	 * from it. NULL = none. */
	orc_run_event_fn on_event;
	void *event_payload;
} orc_runner_options;

#define ORC_RUNNER_OPTIONS_VERSION 2
#define ORC_RUNNER_OPTIONS_INIT { ORC_RUNNER_OPTIONS_VERSION, 0, 0, NULL, \
	NULL, NULL, 0, NULL, NULL, 0, NULL, NULL }

/**
 * @brief Fill @p opts with the defaults of ORC_RUNNER_OPTIONS_INIT,
 * for callers that cannot use the macro (bindings). Only the fields of
 * @p version are written, so a program built against older headers
 * passes its own version.
 * @param version ORC_RUNNER_OPTIONS_VERSION.
 * @return ORC_OK, ORC_EINVAL (NULL or unknown version).
 * @since 0.1
 */
ORC_API orc_status orc_runner_options_init(orc_runner_options *opts,
					   unsigned int version);

/**
 * @brief Create a runner over @p backend (borrowed; must outlive it).
 * @param opts NULL = defaults (deterministic single-thread mode).
 * @param[out] out Caller owns; free with orc_runner_free().
 * @return ORC_OK, ORC_EINVAL, ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_runner_create(orc_runner **out, orc_backend *backend,
				     const orc_runner_options *opts,
				     orc_error *err);

/** @brief Free a runner. Accepts NULL. @since 0.1 */
ORC_API void orc_runner_free(orc_runner *runner);

/**
 * @brief Register @p fn for tasks whose target is @p target (a handler
 * name, or any target string: a Lambda ARN can be served in-process).
 * @p target NULL registers the default handler, used for tasks that have
 * no target or whose target has no handler of its own.
 * @return ORC_OK, ORC_EEXISTS, ORC_EINVAL, ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_runner_register(orc_runner *runner, const char *target,
				       orc_handler_fn fn, void *payload,
				       orc_error *err);

/**
 * @brief Whether a storage error is transient, so that trying again
 * later may succeed: ORC_ETHROTTLED, ORC_ETIMEOUT, and ORC_EBACKEND
 * that an HTTP storage service reported (@p err->source set and not
 * "sqlite") with an HTTP 5xx status in @p err->detail or no answer at
 * all (detail 0). Everything else (conflicts, bad input, auth, SQLite
 * I/O errors) is not. @p err may be NULL (then only the status counts).
 * @since 0.2
 */
ORC_API int orc_runner_error_is_transient(orc_status st,
					  const orc_error *err);

/** Result of a run. */
typedef struct orc_run_result {
	orc_workflow_state state;
	char *error;     /**< first error or NULL; owned, orc_run_result_clear() */
	uint64_t attempts; /**< handler calls made by this run */
} orc_run_result;

/** @brief Free the result's owned strings. Accepts NULL. @since 0.1 */
ORC_API void orc_run_result_clear(orc_run_result *res);

/**
 * @brief Start (or continue) workflow @p wf_id and run it to a terminal
 * state. Starting is idempotent (see orc_workflow_start()); an existing
 * run is reconciled first, so this also resumes after a crash.
 * @param dag the definition; NULL to resume an existing run from its
 * stored definition.
 * @return ORC_OK when the workflow reached a terminal state (see
 * out->state: FAILED is not an error of the call); ORC_ENOTFOUND (no
 * handler for a task's target, or no such workflow to resume);
 * ORC_EEXISTS; ORC_EBACKEND; ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_runner_run(orc_run_result *out, orc_runner *runner,
				  const char *wf_id, const orc_dag *dag,
				  const char *input_json, orc_error *err);

ORC_END_DECLS

#endif
