/*
 * liborchestra - the DAG API: tasks, dependency edges, validation,
 * topological order, JSON load/save, DOT and Mermaid export.
 * Pure: no I/O except orc_dag_load_file().
 */
#ifndef ORCHESTRA_DAG_H
#define ORCHESTRA_DAG_H

#include "common.h"
#include "status.h"
#include "task.h"
#include "types.h"

ORC_BEGIN_DECLS

/** What runs a task. */
typedef enum orc_target_kind {
	ORC_TARGET_NONE = 0,    /**< no target: the runner's default handler */
	ORC_TARGET_HANDLER = 1, /**< a C handler registered by name */
	ORC_TARGET_COMMAND = 2, /**< argv; JSON on stdin, JSON on stdout */
	ORC_TARGET_LAMBDA = 3   /**< a Lambda function ARN (Invoke API) */
} orc_target_kind;

/**
 * @brief A task as given to orc_dag_add_task() or read back with
 * orc_dag_task_get(). Pointers are borrowed in both directions: the DAG
 * copies what it is given, and what it hands out stays valid until the
 * DAG is modified or freed.
 *
 * Versioned like the options structs: start from ORC_TASK_SPEC_INIT or
 * orc_task_spec_init(), also before orc_dag_task_get(). Fields are only
 * appended, each addition bumping ORC_TASK_SPEC_VERSION, and the library
 * reads and writes only the fields of the version a caller declares.
 */
typedef struct orc_task_spec {
	unsigned int version;          /**< ORC_TASK_SPEC_VERSION */
	const char *id;                /**< required; see orc_dag_check_id() */
	orc_target_kind target_kind;
	const char *target;            /**< handler name or Lambda ARN */
	const char *const *argv;       /**< ORC_TARGET_COMMAND: NULL-terminated */
	orc_retry_policy retry;
	int64_t timeout_ms;            /**< 0 = no timeout */
} orc_task_spec;

#define ORC_TASK_SPEC_VERSION 1
/** A spec with no target, the default retry policy and no timeout. */
#define ORC_TASK_SPEC_INIT { ORC_TASK_SPEC_VERSION, NULL, ORC_TARGET_NONE, \
	NULL, NULL, ORC_RETRY_POLICY_INIT, 0 }

/**
 * @brief Fill @p spec with the defaults of ORC_TASK_SPEC_INIT, for
 * callers that cannot use the macro (bindings). Only the fields of
 * @p version are written.
 * @param version ORC_TASK_SPEC_VERSION.
 * @return ORC_OK, ORC_EINVAL (NULL or unknown version).
 * @since 0.1
 */
ORC_API orc_status orc_task_spec_init(orc_task_spec *spec,
				      unsigned int version);

/**
 * @brief Create an empty DAG.
 * @param[out] out Caller owns; free with orc_dag_free(). NULL on failure.
 * @return ORC_OK, ORC_EINVAL, ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_dag_create(orc_dag **out, orc_error *err);

/** @brief Free a DAG. Accepts NULL. @since 0.1 */
ORC_API void orc_dag_free(orc_dag *dag);

/**
 * @brief Check an id against the rule that keeps every backend's keys
 * safe: 1 to ORC_ID_MAX bytes of valid UTF-8, no control characters
 * (U+0000-U+001F, U+007F) and no `#` (the DynamoDB key separator).
 * Quotes, spaces and SQL are fine: backends bind ids as parameters.
 * @return ORC_OK, ORC_EINVAL saying which rule failed.
 * @since 0.1
 */
ORC_API orc_status orc_dag_check_id(const char *id, orc_error *err);

/**
 * @brief Add a task. Everything in @p spec is copied.
 * @return ORC_OK, ORC_EINVAL (spec->version not one this library knows,
 * bad id, bad policy, missing argv for a command), ORC_EEXISTS
 * (duplicate id), ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_dag_add_task(orc_dag *dag, const orc_task_spec *spec,
				    orc_error *err);

/**
 * @brief Declare that @p task_id depends on @p dep_id. @p task_id must
 * have been added already; @p dep_id may name a task added later, and
 * a dependency that is never added is reported by orc_dag_validate().
 * A repeated edge is ignored.
 * @return ORC_OK, ORC_EINVAL (bad id, self-dependency), ORC_ENOTFOUND
 * (@p task_id not added yet), ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_dag_add_dep(orc_dag *dag, const char *task_id,
				   const char *dep_id, orc_error *err);

/**
 * @brief Validate and freeze: every dependency known, no cycle, at least
 * one task. On success the DAG is read-only and may be shared between
 * threads; adding to it afterwards gives ORC_EINVAL.
 * On failure the DAG stays open for building.
 * @return ORC_OK, ORC_EINVAL (empty DAG), ORC_ENOTFOUND (unknown
 * dependency, naming both ids: "task X depends on unknown task Y", for
 * the first such edge in the order added), ORC_ECYCLE (the message names
 * one cycle following dependency edges, "cycle: B -> C -> B" meaning B
 * depends on C and C on B, starting at the cycle's task added first),
 * ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_dag_validate(orc_dag *dag, orc_error *err);

/** @brief 1 when orc_dag_validate() succeeded. @since 0.1 */
ORC_API int orc_dag_is_valid(const orc_dag *dag);

/** @brief Number of tasks. @since 0.1 */
ORC_API size_t orc_dag_task_count(const orc_dag *dag);

/** @brief Number of distinct dependency edges. @since 0.1 */
ORC_API size_t orc_dag_edge_count(const orc_dag *dag);

/**
 * @brief Index of the task with id @p id (indices are insertion order).
 * @return ORC_OK, ORC_EINVAL, ORC_ENOTFOUND.
 * @since 0.1
 */
ORC_API orc_status orc_dag_find(size_t *index_out, const orc_dag *dag,
				const char *id, orc_error *err);

/**
 * @brief Read task @p index into @p out; pointers in it are borrowed from
 * the DAG (valid until it is modified or freed).
 * @param[in,out] out its version must be set (ORC_TASK_SPEC_INIT or
 * orc_task_spec_init()): the fields of that version are filled.
 * @return ORC_OK, ORC_EINVAL (index out of range, unknown
 * out->version).
 * @since 0.1
 */
ORC_API orc_status orc_dag_task_get(orc_task_spec *out, const orc_dag *dag,
				    size_t index, orc_error *err);

/**
 * @brief Dependencies (@p deps = 1) or dependents (@p deps = 0) of task
 * @p index, as task indices. Requires a validated DAG.
 * @param[out] list_out Borrowed; valid until the DAG is freed.
 * @return the number of entries; 0 (and *list_out = NULL) when the DAG is
 * not validated or @p index is out of range.
 * @since 0.1
 */
ORC_API size_t orc_dag_deps(const uint32_t **list_out, const orc_dag *dag,
			    size_t index);
ORC_API size_t orc_dag_dependents(const uint32_t **list_out,
				  const orc_dag *dag, size_t index);

/**
 * @brief Task indices in a topological order (every task after all of its
 * dependencies). Requires a validated DAG. The order is Kahn's algorithm
 * with a FIFO queue: first the tasks without dependencies in insertion
 * order; then, as each task is taken from the queue, those of its
 * dependents for which it was the last unprocessed dependency, in
 * insertion order.
 * @return Borrowed array of orc_dag_task_count() entries, valid until the
 * DAG is freed; NULL when not validated.
 * @since 0.1
 */
ORC_API const uint32_t *orc_dag_topo_order(const orc_dag *dag);

/**
 * @brief Level of each task: 0 for tasks without dependencies, otherwise
 * 1 + the highest level among its dependencies. Requires a validated DAG.
 * @param[out] nlevels_out number of levels (may be NULL).
 * @return Borrowed array indexed by task, valid until the DAG is freed;
 * NULL when not validated.
 * @since 0.1
 */
ORC_API const uint32_t *orc_dag_levels(const orc_dag *dag,
				       uint32_t *nlevels_out);

/**
 * @brief Parse a workflow definition from JSON text and validate it.
 * Accepts the liborchestra format (docs/workflow-format.md) and the seed
 * system's StartWorkflowRequest (`workflowId`, `graph` of `taskId` /
 * `targetLambdaArn` / `dependsOn`).
 * @param[out] out Caller owns; free with orc_dag_free(). NULL on failure.
 * @param[out] wf_id_out When non-NULL, receives the document's workflow
 * id (`id` or `workflowId`) or NULL; caller frees with orc_free().
 * @param source Name used in errors ("<string>" when NULL).
 * @return ORC_OK, ORC_EPARSE (line and column set), ORC_EINVAL (bad
 * field, bad id), ORC_EEXISTS, ORC_ENOTFOUND, ORC_ECYCLE, ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_dag_load(orc_dag **out, char **wf_id_out,
				const char *json, size_t len,
				const char *source, orc_error *err);

/**
 * @brief orc_dag_load() on a file's contents; the source is the path.
 * @return as orc_dag_load(), plus ORC_ENOTFOUND / ORC_ERROR when the
 * file cannot be read (err->detail = errno).
 * @since 0.1
 */
ORC_API orc_status orc_dag_load_file(orc_dag **out, char **wf_id_out,
				     const char *path, orc_error *err);

/**
 * @brief Serialize to the liborchestra format: deterministic output
 * (tasks in insertion order, defaults omitted), so two DAGs are the same
 * definition exactly when their texts are equal.
 * @param[out] json_out Caller owns; free with orc_free().
 * @return ORC_OK, ORC_EINVAL (NULL argument, DAG not validated),
 * ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_dag_save(char **json_out, const orc_dag *dag,
				orc_error *err);

/**
 * @brief Per-task decoration for the DOT and Mermaid exports.
 * @return a state for the task, or -1 for none.
 */
typedef int (*orc_dag_state_fn)(const char *task_id, void *payload);

/**
 * @brief Graphviz DOT text, edges from a dependency to its dependent.
 * When @p state_fn is non-NULL, each node is filled by the
 * orc_task_state it returns: PENDING #e0e0e0, READY #add8e6, RUNNING
 * #ffd700, SUCCEEDED #98fb98, FAILED #fa8072, CANCELED #a9a9a9 (other
 * values: no fill).
 * @param[out] text_out Caller owns; free with orc_free().
 * @return ORC_OK, ORC_EINVAL (not validated), ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_dag_to_dot(char **text_out, const orc_dag *dag,
				  orc_dag_state_fn state_fn, void *payload,
				  orc_error *err);

/**
 * @brief Mermaid `flowchart TD` text; as orc_dag_to_dot(). Nodes are
 * n0, n1, ... (task indices) labelled with the quoted id; with
 * @p state_fn, classes named after the states carry the same colours.
 * @since 0.1
 */
ORC_API orc_status orc_dag_to_mermaid(char **text_out, const orc_dag *dag,
				      orc_dag_state_fn state_fn, void *payload,
				      orc_error *err);

ORC_END_DECLS

#endif
