/*
 * liborchestra - the backend vtable, for backend authors.
 *
 * Not included by <orchestra/orchestra.h>. Stable within a minor release
 * (docs/api-stability.md). docs/backends.md walks through writing one.
 *
 * A backend stores three kinds of record: workflows, tasks and leases
 * (locks). The engine needs nothing else, and its correctness never
 * depends on multi-record transactions: every required primitive below
 * touches one record, atomically. Correctness comes from the
 * conditions, so a backend only has to make each single-record
 * read-check-write atomic (a row transaction, a conditional PutItem, a
 * mutex). The one multi-record primitive, the optional update_tasks()
 * (version 2), is an optimisation: when a backend provides it, the
 * engine writes a completion and its fan-out marks (and, for
 * orc_workflow_complete_claim(), the next claim) as one atomic group;
 * without it the engine writes them one at a time, and reconcile
 * repairs a group a crash cut short.
 *
 * Conventions for every method:
 *  - return ORC_OK or an orc_status, and fill @p err through
 *    orc_error_set() on failure (err may be NULL);
 *  - never print, exit or abort;
 *  - copy every input: nothing given to a method is kept by reference;
 *  - strings put into out records are allocated with orc_malloc() /
 *    orc_strdup() and released by the core with orc_free().
 */
#ifndef ORCHESTRA_BACKEND_H
#define ORCHESTRA_BACKEND_H

#include "backends.h"
#include "common.h"
#include "status.h"
#include "task.h"
#include "types.h"
#include "workflow.h"

ORC_BEGIN_DECLS

#define ORC_BACKEND_VERSION 4

/* The ORC_BACKEND_CAP_* bits are in backends.h, with orc_backend_caps(),
 * so that users see them through <orchestra/orchestra.h>. */

/** One task to seed: id, dependency ids, and target for display. */
typedef struct orc_task_seed {
	const char *id;
	uint32_t ndeps;
	const char *const *deps;  /**< ndeps dependency ids */
	const char *target;       /**< may be NULL; backends may store it */
} orc_task_seed;

/** Fields of orc_task_update that are written. */
#define ORC_SET_STATE     0x001u
#define ORC_SET_ATTEMPT   0x002u
#define ORC_SET_LEASE     0x004u /**< owner and lease_expiry_ms */
#define ORC_SET_NOT_BEFORE 0x008u
#define ORC_SET_STARTED   0x010u
#define ORC_SET_ENDED     0x020u
#define ORC_SET_OUTPUT    0x040u
#define ORC_SET_ERROR     0x080u
#define ORC_SET_DONE_DEP  0x100u /**< add done_dep to the done set */
#define ORC_SET_PROMOTE   0x200u /**< see orc_task_update */

/**
 * @brief One conditional single-task write.
 *
 * Condition (all given parts must hold, else ORC_ECONFLICT and nothing is
 * written): the record exists (else ORC_ENOTFOUND); its state is in
 * if_states (0 = any); its version equals if_version (-1 = any).
 *
 * Effect, all or nothing: each field named in @c set is written. Then
 *  - ORC_SET_DONE_DEP adds done_dep to the task's set of done dependency
 *    ids. It is a set: adding an id already there leaves ndone as it is;
 *    if nothing else changes, the backend may skip the write entirely.
 *  - ORC_SET_PROMOTE: if, after the above, the state is PENDING and
 *    ndone == ndeps, the state becomes READY in the same write. (A backend
 *    that cannot do this in one atomic write may issue a second write
 *    conditioned on the first one's version: promotion is idempotent and
 *    reconcile repeats it.)
 *  - any write bumps version by exactly 1 and sets updated_ms = now_ms.
 */
typedef struct orc_task_update {
	uint32_t if_states;       /**< ORC_TASK_BIT mask; 0 = any */
	int64_t if_version;       /**< -1 = any */
	uint32_t set;             /**< ORC_SET_* flags */
	orc_task_state state;
	int32_t attempt;
	const char *owner;        /**< ORC_SET_LEASE; "" clears */
	int64_t lease_expiry_ms;  /**< ORC_SET_LEASE */
	int64_t not_before_ms;
	int64_t started_ms;
	int64_t ended_ms;
	const char *output;       /**< JSON text; NULL clears */
	const char *error;        /**< NULL clears */
	const char *done_dep;     /**< ORC_SET_DONE_DEP: a dependency id */
	uint32_t done_dep_index;  /**< its position in the seed's deps[] */
	int64_t now_ms;
	/** Version 3, a hint: 1 + the task's position in the seeds given
	 * to create_workflow(), or 0 when unknown. A backend may use it to
	 * find the record without a lookup by id, and must still write the
	 * task named by id when the hint is wrong. The core sets it only
	 * for backends of version 3 or later. */
	uint32_t seed_pos;
} orc_task_update;

/** Fields of orc_workflow_update that are written. */
#define ORC_WSET_STATE 0x1u
#define ORC_WSET_ERROR 0x2u

/** One conditional workflow write; conditions as orc_task_update. */
typedef struct orc_workflow_update {
	uint32_t if_states;       /**< ORC_WORKFLOW_BIT mask; 0 = any */
	int64_t if_version;       /**< -1 = any */
	uint32_t set;             /**< ORC_WSET_* */
	orc_workflow_state state;
	const char *error;
	int64_t now_ms;
} orc_workflow_update;

/** A named lease (orc_lock_*); expected versions start at 1. */
typedef struct orc_lock_rec {
	char name[ORC_ID_MAX + 1];
	char owner[ORC_OWNER_MAX + 1];  /**< "" when released */
	int64_t version;
	int64_t expiry_ms;
} orc_lock_rec;

/** One write of a group given to update_tasks() (version 2). */
typedef struct orc_task_write {
	const char *task_id;
	const orc_task_update *update;
	/** Non-zero: a failed condition skips this write alone instead of
	 * failing the group (a fan-out mark to a task that is no longer
	 * PENDING). */
	int optional;
	/** Version 3: non-zero when the caller reads only @c state and
	 * @c version of this write's record in @c outs, and only when the
	 * write was applied; the backend may leave the rest (and the whole
	 * record of a skipped write) unfilled, to save a read. The core
	 * sets it only for backends of version 3 or later. */
	int brief;
} orc_task_write;

/** Flags for list_tasks(). */
#define ORC_LIST_PAYLOADS 0x1u  /**< fill output and error */

/** What list_live() lists (version 4). Values are appended, never
 * reused. */
#define ORC_LIVE_WORKFLOWS 1  /**< workflow records not in a final state */

/**
 * @brief A listing of live records (version 4), see list_live().
 *
 * A cursor, so a caller can walk any number of live records in pages of
 * bounded memory: pass the id of the last record of a page as @c after.
 */
typedef struct orc_live_query {
	int kind;            /**< ORC_LIVE_WORKFLOWS */
	/** NULL or "": from the first; else only ids greater than this
	 * one (byte order, as strcmp()). */
	const char *after;
	size_t limit;        /**< at most this many records; 0 = all */
} orc_live_query;

/**
 * @brief Called once per record by list methods, with a record that is
 * borrowed for the duration of the call (copy what you keep; the core
 * frees nothing in it). Return 0 to continue, non-zero to stop.
 * The callback must not call back into the same backend.
 */
typedef int (*orc_task_rec_cb)(const orc_task_rec *rec, void *payload);
typedef int (*orc_workflow_rec_cb)(const orc_workflow_rec *rec, void *payload);

/**
 * @brief The vtable. Embed it as the first member of your backend's
 * struct and fill it with orc_backend_init() then your methods.
 */
struct orc_backend {
	unsigned int version;   /**< ORC_BACKEND_VERSION this was built for */
	const char *name;       /**< "memory", "sqlite", "dynamodb", ... */
	uint32_t caps;          /**< ORC_BACKEND_CAP_* */

	/* ---- required, version 1 ---- */

	/**
	 * Must provide. Seed a workflow: every task record (state
	 * PENDING, version 1, attempt 0, ndeps from the seed, ndone 0, or
	 * READY when ndeps is 0) and the workflow record @p wf (state as
	 * given, version 1), in one of two orders:
	 *  - tasks first, the workflow record last. A task that already
	 *    exists is left as it is, so a start that crashed half-way is
	 *    finished by the next call. If the workflow record exists,
	 *    write nothing and return ORC_EEXISTS.
	 *  - the workflow record first, only if absent, then the tasks (for
	 *    stores that cannot condition many items at once: DynamoDB).
	 *    Only the call that wrote the record writes tasks
	 *    unconditionally; any other call returns ORC_EEXISTS, and once
	 *    the backend's grace for the first caller is over it first
	 *    writes the tasks still missing, each only if absent. The
	 *    engine's reconcile calls create_workflow again when tasks are
	 *    missing. Task records found without a workflow record are
	 *    leftovers that no engine path can have advanced (every one
	 *    reads the workflow record first), and may be overwritten.
	 * With ORC_BACKEND_CAP_TXN everything is one transaction and
	 * neither partial state is ever seen. Strings of @p wf (definition,
	 * input) are copied.
	 * Returns ORC_OK, ORC_EEXISTS, ORC_ETOOBIG, ORC_EBACKEND, ORC_ENOMEM.
	 */
	orc_status (*create_workflow)(orc_backend *b, const orc_workflow_rec *wf,
				      const orc_task_seed *tasks, size_t ntasks,
				      orc_error *err);

	/**
	 * Must provide. Read a workflow record into @p out (strings
	 * allocated, released by the caller with orc_workflow_rec_clear()).
	 * Returns ORC_OK, ORC_ENOTFOUND, ORC_EBACKEND, ORC_ENOMEM.
	 */
	orc_status (*get_workflow)(orc_workflow_rec *out, orc_backend *b,
				   const char *wf_id, orc_error *err);

	/**
	 * Must provide. Conditional write of a workflow record (see
	 * orc_workflow_update). @p out, when non-NULL, receives the record
	 * as written (ORC_OK) or as found (ORC_ECONFLICT), without
	 * definition and input (left NULL).
	 * Returns ORC_OK, ORC_ENOTFOUND, ORC_ECONFLICT, ORC_EBACKEND.
	 */
	orc_status (*update_workflow)(orc_backend *b, const char *wf_id,
				      const orc_workflow_update *u,
				      orc_workflow_rec *out, orc_error *err);

	/**
	 * Must provide. Read one task into @p out; output and error are
	 * filled (allocated) only when @p flags has ORC_LIST_PAYLOADS.
	 * Returns ORC_OK, ORC_ENOTFOUND, ORC_EBACKEND, ORC_ENOMEM.
	 */
	orc_status (*get_task)(orc_task_rec *out, orc_backend *b,
			       const char *wf_id, const char *task_id,
			       uint32_t flags, orc_error *err);

	/**
	 * Must provide. Conditional write of one task (see orc_task_update),
	 * atomic. @p out, when non-NULL, receives the record as written
	 * (ORC_OK) or as found (ORC_ECONFLICT), without payloads.
	 * Returns ORC_OK, ORC_ENOTFOUND, ORC_ECONFLICT, ORC_ETOOBIG,
	 * ORC_EBACKEND.
	 */
	orc_status (*update_task)(orc_backend *b, const char *wf_id,
				  const char *task_id, const orc_task_update *u,
				  orc_task_rec *out, orc_error *err);

	/**
	 * Must provide. Call @p cb for each task of @p wf_id whose state is
	 * in @p states (0 = all), in any order, each record read atomically
	 * (the list as a whole need not be a snapshot). Stops early when
	 * cb returns non-zero. A backend should answer a READY-only listing
	 * without scanning every task: the engine claims through it.
	 * Returns ORC_OK (also when stopped early or when there are no
	 * tasks), ORC_EBACKEND.
	 */
	orc_status (*list_tasks)(orc_backend *b, const char *wf_id,
				 uint32_t states, uint32_t flags,
				 orc_task_rec_cb cb, void *payload,
				 orc_error *err);

	/**
	 * Must provide. Read a lease record. Returns ORC_OK, ORC_ENOTFOUND,
	 * ORC_EBACKEND.
	 */
	orc_status (*get_lock)(orc_lock_rec *out, orc_backend *b,
			       const char *name, orc_error *err);

	/**
	 * Must provide. Write @p rec (its version must be expected + 1) if
	 * the stored version equals @p expected_version, or if no record
	 * exists and @p expected_version is 0. Returns ORC_OK, ORC_ECONFLICT,
	 * ORC_EBACKEND.
	 */
	orc_status (*put_lock)(orc_backend *b, const orc_lock_rec *rec,
			       int64_t expected_version, orc_error *err);

	/** Must provide. Release everything, including @p b itself. */
	void (*free)(orc_backend *b);

	/* ---- optional, version 1: NULL = unsupported ---- */

	/**
	 * May provide; if NULL, `orchestra list` reports ORC_ENOTSUPPORTED.
	 * Calls @p cb for each workflow record (definition and input NULL).
	 */
	orc_status (*list_workflows)(orc_backend *b, orc_workflow_rec_cb cb,
				     void *payload, orc_error *err);

	/**
	 * May provide; if NULL, every op is ORC_ENOTSUPPORTED. Backend-
	 * specific control; unknown @p op must return ORC_ENOTSUPPORTED.
	 */
	orc_status (*ctl)(orc_backend *b, int op, void *arg, orc_error *err);

	/* version 1 ends here */

	/* ---- optional, version 2: NULL = unsupported ---- */

	/**
	 * May provide; if NULL the engine writes one task at a time (and
	 * reconcile repairs a fan-out cut short by a crash). Apply @p n
	 * writes to tasks of @p wf_id as one atomic unit, each with the
	 * conditions and effects of update_task(). Every write names a
	 * different task. If a required write's condition fails, or its
	 * task is missing, nothing at all is written and the call returns
	 * ORC_ECONFLICT or ORC_ENOTFOUND for the first such write; an
	 * optional write whose condition fails is skipped. The engine
	 * completes a task and marks it done in its dependents with one
	 * call, the completion required, the marks optional.
	 * @param outs NULL, or @p n records: each as written, or as found
	 * when skipped (payloads not filled).
	 * @param applied NULL, or @p n flags: 1 written, 0 skipped.
	 * Returns ORC_OK, ORC_ECONFLICT, ORC_ENOTFOUND, ORC_ETOOBIG,
	 * ORC_EINVAL, ORC_EBACKEND, ORC_ENOMEM.
	 */
	orc_status (*update_tasks)(orc_backend *b, const char *wf_id,
				   const orc_task_write *writes, size_t n,
				   orc_task_rec *outs, unsigned char *applied,
				   orc_error *err);

	/* version 2 ends here. Version 3 adds no method: it adds
	 * orc_task_update.seed_pos and orc_task_write.brief. */

	/* ---- optional, version 4: NULL = unsupported ---- */

	/**
	 * May provide; if NULL the core lists workflows with
	 * list_workflows() and keeps the live ones, which reads every
	 * workflow ever stored. Lists live records at a cost proportional
	 * to the live ones, not to everything stored: reconcile of a whole
	 * backend goes through it.
	 *
	 * For ORC_LIVE_WORKFLOWS, "live" is a workflow record whose state is
	 * not final (PENDING or RUNNING; orc_workflow_state_is_terminal()
	 * false). @p cb receives each one with id and state filled (a
	 * backend that does not keep the state in its listing says
	 * RUNNING), created_ms where the backend keeps it; the other
	 * numbers may be 0, the strings are NULL.
	 * Order: ascending id, byte order. Paging: only ids after
	 * @c q->after, at most @c q->limit records; a caller pages by
	 * passing the last id it got.
	 * Consistency: every workflow that became live before the call
	 * starts and is still live when it ends is listed, except that a
	 * backend answering from an eventually consistent index may miss
	 * one that became live within its documented propagation delay
	 * (DynamoDB: a global secondary index, usually under a second), and
	 * may list one that ended within that delay. A workflow that starts
	 * or ends during the call may or may not be listed. Each record is
	 * read atomically; the list as a whole need not be a snapshot.
	 * The kind is there so that the same primitive can later list
	 * other live records (runnable tasks across workflows) with their
	 * own callback, appended to orc_live_query.
	 * Returns ORC_OK (also when stopped early or when nothing is
	 * live), ORC_EINVAL (NULL @p q or @p cb), ORC_ENOTSUPPORTED (a kind
	 * the backend does not know), ORC_EBACKEND, ORC_ENOMEM.
	 */
	orc_status (*list_live)(orc_backend *b, const orc_live_query *q,
				orc_workflow_rec_cb cb, void *payload,
				orc_error *err);

	/* version 4 ends here. Append only, bump ORC_BACKEND_VERSION. */
};

/** True when backend @p b provides optional method @p m of version @p v. */
#define ORC_BACKEND_HAS(b, m, v) ((b)->version >= (v) && (b)->m != NULL)

/**
 * @brief Zero @p b and set its version; call before filling methods.
 * @return ORC_OK, ORC_EINVAL (NULL, or version 0 or newer than this
 * library's ORC_BACKEND_VERSION).
 * @since 0.1
 */
ORC_API orc_status orc_backend_init(orc_backend *b, unsigned int version);

/**
 * @brief Check a backend as the core does on attach: version in range
 * and every required method present.
 * @return ORC_OK, ORC_EINVAL naming the missing method.
 * @since 0.1
 */
ORC_API orc_status orc_backend_check(const orc_backend *b, orc_error *err);

ORC_END_DECLS

#endif
