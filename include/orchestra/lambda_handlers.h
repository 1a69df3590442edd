/*
 * liborchestra - the Lambda handlers: an orchestrator (start, DynamoDB
 * Streams fan-out, reconcile) and a worker (the seed's
 * TaskExecutionRequest), each a thin wrapper over the engine that plugs
 * into orc_lambda_runtime_run(). docs/lambda.md, "Handlers".
 *
 * Built with the lambda part; without it both handlers return
 * ORC_ENOTSUPPORTED.
 *
 * Threads: a handler call uses its configuration's backend and client,
 * which are not internally synchronized; call the handlers of one
 * configuration from one thread at a time (the runtime loop does).
 */
#ifndef ORCHESTRA_LAMBDA_HANDLERS_H
#define ORCHESTRA_LAMBDA_HANDLERS_H

#include "common.h"
#include "lambda.h"
#include "status.h"
#include "types.h"

ORC_BEGIN_DECLS

/**
 * @brief How the handlers invoke a function, when not through a
 * orc_lambda_client: same contract as orc_lambda_invoke() (*response_out
 * allocated with orc_malloc() or orc_strdup(), released by the handlers
 * with orc_free(); ORC_EUSER with the error payload for a function
 * error). For embedding (another transport) and for tests.
 */
typedef orc_status (*orc_lambda_invoke_fn)(const char *function,
					   orc_lambda_invocation type,
					   const char *request, void *payload,
					   char **response_out, orc_error *err);

/** @brief Receives one log line (JSON, no newline); borrowed. */
typedef void (*orc_lambda_log_fn)(const char *line, void *payload);

/**
 * A C task handler linked into the worker: it is called in-process, as
 * Lambda would call it, with the task's payload as the event. Its
 * response becomes the task's output; any other status fails the
 * attempt with {"errorMessage", "errorType"} kept as the task's error.
 */
typedef struct orc_lambda_target {
	/** A task target: a handler name, a Lambda ARN, or a function
	 * name (matches ARNs of that function, any qualifier); NULL: every
	 * task that no other entry matches. */
	const char *target;
	orc_lambda_handler_fn fn;
	void *userdata;
} orc_lambda_target;

/** Target of a task whose definition names none (the orchestrator's
 * map, used when it dispatches and by the worker). */
typedef struct orc_lambda_task_target {
	const char *task_id;
	const char *target;
} orc_lambda_task_target;

/** The worker's lease when neither the configuration nor the task's
 * timeoutMs gives a shorter one: with the template's reconcile every
 * minute, a dead worker's task runs again within 105 s. */
#define ORC_LAMBDA_LEASE_DEFAULT_MS 45000

/** Worker flag: after completing a task, dispatch the tasks it made
 * runnable, so a workflow runs with no stream at all. */
#define ORC_LAMBDA_DISPATCH_NEXT 0x1u

/**
 * @brief Configuration of both handlers, given as their userdata. Every
 * pointer is borrowed and must outlive the handler calls.
 */
typedef struct orc_lambda_handler_config {
	unsigned int version;     /**< ORC_LAMBDA_HANDLER_CONFIG_VERSION */
	orc_backend *backend;     /**< required */
	/** Invoke client; may be NULL when @c invoke is set. */
	orc_lambda_client *client;
	/** The worker function (name or ARN) tasks are dispatched to:
	 * required by the orchestrator and by a worker with
	 * ORC_LAMBDA_DISPATCH_NEXT. */
	const char *worker_function;
	/** Targets of tasks whose definition has none; may be NULL. */
	const orc_lambda_task_target *task_targets;
	size_t ntask_targets;
	/** C handlers linked into the worker; may be NULL. */
	const orc_lambda_target *targets;
	size_t ntargets;
	uint32_t flags;           /**< ORC_LAMBDA_DISPATCH_NEXT */
	/** Worker lease; 0 = the task's timeoutMs when shorter than
	 * ORC_LAMBDA_LEASE_DEFAULT_MS, else that default; never past the
	 * invocation's deadline plus 5 s. Renewed by heartbeats every third
	 * of it while the target runs. */
	int64_t lease_ms;
	/** A failed attempt whose retry is due within this many ms (and
	 * within the deadline) is retried in the same invocation; a later
	 * one is left READY for the reconcile schedule. 0 = 10000; < 0 =
	 * never wait. */
	int64_t max_retry_wait_ms;
	/** NULL = orc_lambda_invoke() on @c client. */
	orc_lambda_invoke_fn invoke;
	void *invoke_payload;
	/** NULL = one line each on stdout (CloudWatch Logs). */
	orc_lambda_log_fn log;
	void *log_payload;
	/** NULL = real time. */
	orc_clock_fn clock;
	void *clock_payload;
	/** Waits before an in-process retry; NULL = nanosleep. */
	void (*sleep)(int64_t ms, void *payload);
	void *sleep_payload;
	/** CloudWatch namespace of the metrics; NULL = "liborchestra". */
	const char *metrics_namespace;
} orc_lambda_handler_config;

#define ORC_LAMBDA_HANDLER_CONFIG_VERSION 1
#define ORC_LAMBDA_HANDLER_CONFIG_INIT { ORC_LAMBDA_HANDLER_CONFIG_VERSION, \
	NULL, NULL, NULL, NULL, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, NULL, \
	NULL, NULL, NULL, NULL, NULL }

/**
 * @brief Fill @p cfg with the defaults of ORC_LAMBDA_HANDLER_CONFIG_INIT
 * (for bindings); only the fields of @p version are written.
 * @return ORC_OK, ORC_EINVAL (NULL or unknown version).
 * @since 0.1
 */
ORC_API orc_status orc_lambda_handler_config_init(
	orc_lambda_handler_config *cfg, unsigned int version);

/**
 * @brief The orchestrator, an orc_lambda_handler_fn whose userdata is a
 * const orc_lambda_handler_config *. Events:
 *
 * - `{"mode":"start", ...}` (or any workflow definition with `tasks` or
 *   `graph`): a definition as orc_dag_load() reads it, including the
 *   seed's StartWorkflowRequest and its `lambdas` map; `workflowId` or
 *   `id` names the run (the invocation's request id when absent, so a
 *   retried invocation starts nothing twice), `input` is the workflow
 *   input. Starts the workflow and dispatches its runnable tasks.
 *   Answers {"workflowId", "state", "dispatched": [ids]}.
 * - a DynamoDB Streams batch (`Records`, NEW_AND_OLD_IMAGES): a task
 *   that became SUCCEEDED is fanned out (orc_workflow_mark_dep_done(),
 *   idempotent), a task that went PENDING -> READY and still is at that
 *   version is dispatched. Answers {"batchItemFailures": [{"itemIdentifier":
 *   eventID}]} naming the records it could not process.
 * - `{"mode":"reconcile"}` (optionally `workflowId`): reconciles one or
 *   every live workflow and dispatches every runnable task.
 *
 * A dispatch is an Event invocation of the worker with the seed's
 * TaskExecutionRequest.
 * @return ORC_OK; ORC_EINVAL (bad config, unknown event), ORC_EPARSE,
 * the start's errors (ORC_EEXISTS, ORC_ECYCLE, ...), ORC_EBACKEND and
 * the dispatch's errors. A Streams batch fails as a whole (a non-OK
 * status) only when a record it could not process has no eventID.
 * @since 0.1
 */
ORC_API orc_status orc_lambda_orchestrator_handler(
	const char *event, size_t len, const orc_lambda_context *ctx,
	void *userdata, char **response_out, orc_error *err);

/**
 * @brief The worker, an orc_lambda_handler_fn whose userdata is a
 * const orc_lambda_handler_config *. The event is the seed's
 * TaskExecutionRequest: `workflowId`, `taskId` (required),
 * `targetLambdaArn`, `expectedVersion`, `deadlineMs` (epoch ms: the
 * lease ends there at the latest; a request past it is dropped),
 * `correlationId`.
 *
 * Claims the task under the version lock (a task not READY at
 * `expectedVersion`, when given, is left alone), builds its payload,
 * runs the target (a C handler of @c targets, else a RequestResponse
 * invocation), then completes or fails it; a function error fails the
 * attempt with its error payload kept. With ORC_LAMBDA_DISPATCH_NEXT it
 * then dispatches what became runnable.
 *
 * The target is the definition's; a task without one takes the
 * request's `targetLambdaArn`, then @c task_targets. A request whose
 * `targetLambdaArn` differs from the definition's is refused.
 * Answers {"workflowId", "taskId", "state", "attempt", "dispatched"} or
 * {"workflowId", "taskId", "skipped": reason}.
 * @return ORC_OK (also for a skipped request: invoking again would not
 * help); ORC_EINVAL, ORC_EPARSE (bad request or config); ORC_EBACKEND
 * and other storage errors, so that Lambda retries the event.
 * @since 0.1
 */
ORC_API orc_status orc_lambda_worker_handler(const char *event, size_t len,
					     const orc_lambda_context *ctx,
					     void *userdata,
					     char **response_out,
					     orc_error *err);

/** Both handlers of one configuration with what they keep across warm
 * invocations of a process. */
typedef struct orc_lambda_handlers orc_lambda_handlers;

/**
 * @brief Handlers that keep one engine context across invocations: the
 * definitions of the workflows they saw (immutable, so never read
 * again), the outputs and dependency facts of their own writes, and the
 * orchestrator's fan-outs not yet seen in the stream. Give it as the
 * userdata of orc_lambda_handlers_orchestrator() or
 * orc_lambda_handlers_worker(); the same handlers with a
 * orc_lambda_handler_config as userdata start from nothing on every
 * invocation.
 * @param[out] out Caller owns; free with orc_lambda_handlers_free().
 * @param cfg Borrowed; must outlive the handlers.
 * @return ORC_OK; ORC_EINVAL (bad config), ORC_ENOMEM,
 * ORC_ENOTSUPPORTED (built without the lambda part).
 * Threads: as the handlers, one call at a time.
 * @since 0.1
 */
ORC_API orc_status orc_lambda_handlers_create(
	orc_lambda_handlers **out, const orc_lambda_handler_config *cfg,
	orc_error *err);

/** @brief Free handlers; NULL is allowed. @since 0.1 */
ORC_API void orc_lambda_handlers_free(orc_lambda_handlers *h);

/** @brief orc_lambda_orchestrator_handler() whose userdata is an
 * orc_lambda_handlers *. @since 0.1 */
ORC_API orc_status orc_lambda_handlers_orchestrator(
	const char *event, size_t len, const orc_lambda_context *ctx,
	void *userdata, char **response_out, orc_error *err);

/** @brief orc_lambda_worker_handler() whose userdata is an
 * orc_lambda_handlers *. @since 0.1 */
ORC_API orc_status orc_lambda_handlers_worker(
	const char *event, size_t len, const orc_lambda_context *ctx,
	void *userdata, char **response_out, orc_error *err);

ORC_END_DECLS

#endif
