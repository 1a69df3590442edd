/*
 * liborchestra - the Amazon States Language emitter: a validated DAG in,
 * a Step Functions state machine definition (JSON text) out.
 * Pure: no I/O. docs/asl.md describes the emitted machine.
 */
#ifndef ORCHESTRA_ASL_H
#define ORCHESTRA_ASL_H

#include "common.h"
#include "status.h"
#include "types.h"

ORC_BEGIN_DECLS

/**
 * How the DAG is laid out as nested Parallel states. A state machine can
 * only express series-parallel orders; a DAG whose order is not one needs
 * synchronisation points that make some tasks wait for tasks they do not
 * depend on ("false dependencies").
 */
typedef enum orc_asl_strategy {
	/**
	 * Series-parallel decomposition: exact (no false dependency) when
	 * the DAG's order is series-parallel; otherwise the DAG is cut only
	 * where it is not, each cut chosen to add as few false dependencies
	 * as a greedy search finds; the levels layout is used instead when
	 * it has fewer. The default.
	 */
	ORC_ASL_STRATEGY_SP = 0,
	/**
	 * One Parallel per topological level (orc_dag_levels()): simple and
	 * predictable, but every task waits for the whole previous level.
	 */
	ORC_ASL_STRATEGY_LEVELS = 1,
	/**
	 * As ORC_ASL_STRATEGY_SP, but each cut is chosen first to delay
	 * tasks least (with equal task durations, no task starts later than
	 * its level), then for fewest false dependencies: more false
	 * dependencies than "sp", shorter runs.
	 */
	ORC_ASL_STRATEGY_SP_LATENCY = 2
} orc_asl_strategy;

/** Query language of the emitted machine. */
typedef enum orc_asl_query_language {
	ORC_ASL_JSONPATH = 0, /**< Parameters / ResultSelector / ResultPath */
	ORC_ASL_JSONATA = 1   /**< QueryLanguage JSONata: Arguments, Output */
} orc_asl_query_language;

/** Step Functions workflow type; noted in the top-level Comment. */
typedef enum orc_asl_type {
	ORC_ASL_STANDARD = 0,
	ORC_ASL_EXPRESS = 1 /**< no activities: see default_resource */
} orc_asl_type;

#define ORC_ASL_OPTIONS_VERSION 2

/** How a task that failed after its retries ends the execution. */
typedef enum orc_asl_fail_states {
	/** A Catch on each Task state to a Fail state of its own, whose
	 * Error is ORC_EUSER and Cause names the task (default). */
	ORC_ASL_FAIL_PER_TASK = 0,
	/** No Catch and no Fail state: the task's own error (after its
	 * Retry) fails the execution, through any enclosing Parallel. One
	 * state per task plus one per Parallel, as a hand-written machine
	 * has; the execution's error is the task's, not named by it. */
	ORC_ASL_FAIL_NONE = 1
} orc_asl_fail_states;

/**
 * @brief Options for orc_asl_emit(). Start from ORC_ASL_OPTIONS_INIT or
 * orc_asl_options_init(); strings are borrowed for the call only.
 */
typedef struct orc_asl_options {
	unsigned int version;            /**< ORC_ASL_OPTIONS_VERSION */
	orc_asl_strategy strategy;
	orc_asl_query_language query_language;
	orc_asl_type type;
	/**
	 * What runs tasks whose target is not ORC_TARGET_LAMBDA (handler,
	 * command, none): a Lambda function ARN (invoked like a Lambda task,
	 * with the same payload: e.g. a liborchestra Lambda worker) or a
	 * Step Functions activity ARN (…:activity:…; Standard only). NULL:
	 * such tasks are refused with ORC_EINVAL.
	 */
	const char *default_resource;
	/** Extra text for the top-level Comment; NULL for none. */
	const char *comment;
	/** Workflow id named in the Comment (e.g. from orc_dag_load()). */
	const char *workflow_id;
	/** Version 2. How a task that failed after its retries ends the
	 * execution (see orc_asl_fail_states). */
	orc_asl_fail_states fail_states;
} orc_asl_options;

#define ORC_ASL_OPTIONS_INIT { ORC_ASL_OPTIONS_VERSION, \
	ORC_ASL_STRATEGY_SP, ORC_ASL_JSONPATH, ORC_ASL_STANDARD, NULL, NULL, \
	NULL, ORC_ASL_FAIL_PER_TASK }

/**
 * @brief What orc_asl_emit() produced.
 */
typedef struct orc_asl_report {
	size_t states;          /**< all states, Fail states included */
	size_t task_states;     /**< one per task */
	size_t parallel_states; /**< Parallel blocks */
	size_t fail_states;     /**< one per task: its Catch target */
	/**
	 * Pairs (u, v), u not an ancestor of v in the DAG, where the machine
	 * makes v wait for u. 0 when the DAG is series-parallel and the
	 * strategy is ORC_ASL_STRATEGY_SP.
	 */
	size_t false_dependencies;
	/**
	 * The strategy used: ORC_ASL_STRATEGY_LEVELS when an "sp" strategy
	 * fell back to it.
	 */
	orc_asl_strategy strategy;
	/** 1 when the DAG's order (transitive closure) is series-parallel. */
	int series_parallel;
} orc_asl_report;

/**
 * @brief Fill @p opts with the defaults of ORC_ASL_OPTIONS_INIT (for
 * bindings); only the fields of @p version are written.
 * @param version ORC_ASL_OPTIONS_VERSION.
 * @return ORC_OK, ORC_EINVAL (NULL or unknown version).
 * @since 0.1
 */
ORC_API orc_status orc_asl_options_init(orc_asl_options *opts,
					unsigned int version);

/**
 * @brief "sp", "levels" or "sp-latency"; NULL for an unknown value.
 * @since 0.1
 */
ORC_API const char *orc_asl_strategy_name(orc_asl_strategy strategy);

/**
 * @brief Parse "sp", "levels" or "sp-latency".
 * @return ORC_OK, ORC_EINVAL (NULL or unknown name).
 * @since 0.1
 */
ORC_API orc_status orc_asl_strategy_parse(orc_asl_strategy *out,
					  const char *name, orc_error *err);

/**
 * @brief Translate a validated DAG into an Amazon States Language state
 * machine. Each task becomes one Task state invoking its Lambda function
 * (`arn:aws:states:::lambda:invoke`) with the payload the library's worker
 * gives a task (workflowId, taskId, attempt, input, dependencies), its
 * retry policy as Retry, its timeout as TimeoutSeconds and a Catch that
 * ends the execution in a Fail state naming the task. The output is
 * deterministic: the same DAG and options give the same text.
 * @param[out] json_out Caller owns; free with orc_free(). NULL on failure.
 * @param[out] report_out Filled on success; may be NULL.
 * @param opts NULL for the defaults.
 * @return ORC_OK; ORC_EINVAL (NULL argument, DAG not validated, bad
 * option, a non-Lambda task without opts->default_resource, an activity
 * with ORC_ASL_EXPRESS); ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_asl_emit(char **json_out, orc_asl_report *report_out,
				const orc_dag *dag,
				const orc_asl_options *opts, orc_error *err);

ORC_END_DECLS

#endif
