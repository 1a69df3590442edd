/*
 * A backend decorator for engine tests: forwards every call to a real
 * backend, counts calls per method, and checks the engine's invariants
 * on every write as it happens:
 *  - every state change the engine asks for is allowed by the state
 *    machine from every state its condition admits;
 *  - a task is moved to RUNNING only when all its dependencies have
 *    SUCCEEDED (no early start);
 *  - each task of each workflow is moved to SUCCEEDED at most once.
 * Violations are counted and the first one is described.
 */
#ifndef ORC_TEST_CHECKED_BACKEND_H
#define ORC_TEST_CHECKED_BACKEND_H

#include "orchestra/backend.h"
#include "orchestra/dag.h"

enum checked_method {
	CK_CREATE_WORKFLOW, CK_GET_WORKFLOW, CK_UPDATE_WORKFLOW, CK_GET_TASK,
	CK_UPDATE_TASK, CK_LIST_TASKS, CK_GET_LOCK, CK_PUT_LOCK,
	CK_LIST_WORKFLOWS, CK_UPDATE_TASKS, CK_METHODS
};

typedef struct checked_backend checked_backend;

/* Wrap @p inner (borrowed; freed by the caller after the wrapper). */
checked_backend *checked_backend_create(orc_backend *inner);
/* The vtable to hand to the engine. */
orc_backend *checked_backend_vtable(checked_backend *cb);
/* Declare the DAG of a workflow so writes can be checked (borrowed). */
void checked_backend_watch(checked_backend *cb, const char *wf_id,
			   const orc_dag *dag);
unsigned long checked_backend_calls(checked_backend *cb,
				    enum checked_method m);
unsigned long checked_backend_violations(checked_backend *cb);
const char *checked_backend_first_violation(checked_backend *cb);
/* How many times task @p task_id of @p wf_id was moved to SUCCEEDED. */
unsigned checked_backend_successes(checked_backend *cb, const char *wf_id,
				   const char *task_id);
/* How many times task was moved to RUNNING (claims). */
unsigned checked_backend_claims(checked_backend *cb, const char *wf_id,
				const char *task_id);
/* Fenced writes (complete/fail of a RUNNING task) refused as stale:
 * each is a worker that lost its lease and was stopped by fencing. */
unsigned long checked_backend_stale_writes(checked_backend *cb);
void checked_backend_free(checked_backend *cb);

#endif
