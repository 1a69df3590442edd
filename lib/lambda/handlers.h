/*
 * Internals shared by the Lambda handlers: event parsers (events.c,
 * stream.c, exposed for the fuzzers), the per-invocation environment,
 * dispatch, and log and metric lines (log.c).
 */
#ifndef ORC_LAMBDA_HANDLERS_INT_H
#define ORC_LAMBDA_HANDLERS_INT_H

#include <jansson.h>

#include "orchestra/dag.h"
#include "orchestra/lambda_handlers.h"
#include "orchestra/workflow.h"

/* ---- events.c: start event, TaskExecutionRequest ---- */

typedef enum orc__lh_kind {
	ORC__LH_START = 1,
	ORC__LH_STREAM = 2,
	ORC__LH_RECONCILE = 3
} orc__lh_kind;

/* Which orchestrator event @p root is; ORC_EINVAL naming the shapes
 * accepted otherwise. */
orc_status orc__lh_classify(orc__lh_kind *out, json_t *root, orc_error *err);

/* Parse JSON text into an object; ORC_EPARSE with line and column. */
orc_status orc__lh_parse_object(json_t **out, const char *text, size_t len,
				const char *what, orc_error *err);

typedef struct orc__lh_start {
	orc_dag *dag;          /* validated; owned */
	char wf_id[ORC_ID_MAX + 1];
	char *input;           /* JSON text or NULL; owned (free()) */
	char *correlation_id;  /* or NULL; owned (orc_free()) */
} orc__lh_start;

/* A start event: the definition (orc_dag_load()), its id or
 * @p default_id, the input. */
orc_status orc__lh_parse_start(orc__lh_start *out, const char *event,
			       size_t len, const char *default_id,
			       orc_error *err);
void orc__lh_start_clear(orc__lh_start *s);

typedef struct orc__lh_task_req {
	char wf_id[ORC_ID_MAX + 1];
	char task_id[ORC_ID_MAX + 1];
	char *target;           /* targetLambdaArn or NULL; owned */
	char *correlation_id;   /* or NULL; owned */
	int64_t expected_version; /* -1 when absent */
	int64_t deadline_ms;    /* 0 when absent */
	/* What the dispatcher saw at expectedVersion (our own keys):
	 * attempts made, -1 when absent; not-before time, 0 = none. */
	int64_t attempts_made;
	int64_t not_before_ms;
} orc__lh_task_req;

orc_status orc__lh_parse_task_req(orc__lh_task_req *out, const char *event,
				  size_t len, orc_error *err);
void orc__lh_task_req_clear(orc__lh_task_req *r);

/* A task as a dispatcher saw it: READY at version (-1 = unknown) after
 * attempts_made attempts, due at not_before_ms. */
typedef struct orc__lh_seen {
	int64_t version;
	int32_t attempts_made;
	int64_t not_before_ms;
} orc__lh_seen;

/* The TaskExecutionRequest for a task; malloc'd. NULL on ENOMEM. */
char *orc__lh_task_req_json(const char *wf_id, const char *task_id,
			    const char *target, const orc__lh_seen *seen,
			    const char *correlation_id);

/* ---- stream.c: DynamoDB Streams records ---- */

typedef enum orc__lh_rec_kind {
	ORC__REC_TASK = 1,
	ORC__REC_WORKFLOW = 2,
	ORC__REC_OTHER = 3      /* not a record of ours (leases, ...) */
} orc__lh_rec_kind;

/* One record; strings borrowed from the batch's JSON. */
typedef struct orc__lh_record {
	const char *event_id;   /* NULL when missing */
	int bad;                /* 1: unusable; why says so */
	char why[200];
	orc__lh_rec_kind kind;
	int remove;             /* eventName REMOVE */
	char wf_id[ORC_ID_MAX + 1];
	char task_id[ORC_ID_MAX + 1];
	int insert;             /* eventName INSERT */
	int old_state, new_state; /* task or workflow state; -1 = none */
	int64_t new_version;    /* -1 = none */
	int32_t attempt;        /* the new image's attempts made */
	int64_t not_before_ms;  /* the new image's; 0 = none */
	json_t *done_deps;      /* the new image's done set (strings), or
				   NULL; borrowed */
	int64_t created_ms, updated_ms; /* from the new image; 0 = none */
} orc__lh_record;

typedef struct orc__lh_batch {
	json_t *root;
	size_t n;
	orc__lh_record *recs;
} orc__lh_batch;

/* A Streams event: ORC_EPARSE / ORC_EINVAL when it is not one at all;
 * otherwise each record parsed on its own (bad ones flagged). */
orc_status orc__lh_parse_stream(orc__lh_batch *out, const char *event,
				size_t len, orc_error *err);
void orc__lh_batch_clear(orc__lh_batch *b);

/* ---- kept across warm invocations ---- */

/* A fan-out whose marks the orchestrator has not seen in the stream yet
 * (bit i: the task's i-th dependent, the first 64). */
typedef struct orc__lh_pending {
	char wf[ORC_ID_MAX + 1], task[ORC_ID_MAX + 1];
	uint64_t missing;
	int64_t due_ms;         /* repaired when still missing by then */
} orc__lh_pending;

#define ORC__LH_PENDING_MAX 64
/* How long the marks of a completion may take to show in the stream
 * before the orchestrator writes them itself. */
#define ORC__LH_MARK_GRACE_MS 5000

struct orc_lambda_handlers {
	const orc_lambda_handler_config *cfg;
	/* The engine context of every invocation: it caches definitions
	 * (immutable), the outputs and dependency facts of this process's
	 * own writes, each checked by the next conditional write. */
	orc_context *ctx;
	orc__lh_pending pending[ORC__LH_PENDING_MAX];
	size_t npending;
};

/* ---- per invocation ---- */

typedef struct orc__lh_env {
	orc_lambda_handlers *keep; /* NULL: a context for this call only */
	const orc_lambda_handler_config *cfg;
	const orc_lambda_context *lctx;
	const char *handler;    /* "orchestrator", "worker" */
	orc_context *ctx;
	char owner[ORC_OWNER_MAX + 1];
} orc__lh_env;

/* Check the config; the engine context is @p keep's, or one for this
 * call when @p keep is NULL. */
orc_status orc__lh_env_open(orc__lh_env *env, const char *handler,
			    orc_lambda_handlers *keep,
			    const orc_lambda_handler_config *cfg,
			    const orc_lambda_context *lctx, orc_error *err);
void orc__lh_env_close(orc__lh_env *env);
int64_t orc__lh_now(const orc__lh_env *env);

/* Invoke through the config's hook or client. */
orc_status orc__lh_invoke(const orc__lh_env *env, const char *function,
			  orc_lambda_invocation type, const char *request,
			  char **response_out, orc_error *err);

/* The target of a task: definition, then @p requested, then the map. */
const char *orc__lh_task_target(const orc__lh_env *env, const orc_dag *dag,
				size_t index, const char *requested);

/* Dispatch one task to the worker (Event); @p seen may be NULL. */
orc_status orc__lh_dispatch(const orc__lh_env *env, const orc_dag *dag,
			    const char *wf_id, const char *task_id,
			    const orc__lh_seen *seen,
			    const char *correlation_id, orc_error *err);

/* Dispatch every READY task of @p wf_id due now; ids appended to
 * @p ids (may be NULL). */
orc_status orc__lh_dispatch_ready(const orc__lh_env *env, const char *wf_id,
				  const char *correlation_id, json_t *ids,
				  orc_error *err);

/* How long a worker waits for a retry's backoff (config, default). */
#define ORC__LH_RETRY_WAIT_MS 10000
int64_t orc__lh_retry_wait_ms(const orc_lambda_handler_config *cfg);

/* @p obj (may be NULL) as compact JSON text from the library's allocator
 * (released with orc_free()), or NULL when out of memory. */
char *orc__lh_dumps(const json_t *obj);

/* Answer with @p obj (stolen) as JSON text for orc_free(). */
orc_status orc__lh_answer(char **response_out, json_t *obj, orc_error *err);

/* ---- log.c ---- */

/* One structured log line; @p fields (stolen, may be NULL) merged in. */
void orc__lh_log(const orc__lh_env *env, const char *level,
		 const char *message, json_t *fields);

/* EMF lines. */
void orc__lh_metric_task(const orc__lh_env *env, const char *wf_id,
			 const char *task_id, const char *outcome,
			 int32_t attempt, int64_t duration_ms);
void orc__lh_metric_workflow(const orc__lh_env *env, const char *wf_id,
			     const char *outcome, int64_t duration_ms);

/* After a task ended: if its workflow is terminal, its duration metric
 * (a duplicate is possible when two sinks finish together). */
void orc__lh_workflow_ended(const orc__lh_env *env, const char *wf_id);

#endif
