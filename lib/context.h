/*
 * The engine context (internal layout) and its per-workflow cache of
 * validated definitions.
 */
#ifndef ORCHESTRA_CONTEXT_H
#define ORCHESTRA_CONTEXT_H

#include "orchestra/backend.h"
#include "orchestra/dag.h"
#include "orchestra/workflow.h"

/* A loaded workflow: definition shared by reference, plus the facts the
 * engine may remember because they never change once true. */
typedef struct orc__wf_cache {
	struct orc__wf_cache *next;
	char id[ORC_ID_MAX + 1];
	orc_dag *dag;          /* a reference (orc__dag_ref) */
	char *input;           /* workflow input JSON or NULL */
	uint32_t *sinks;       /* tasks without dependents */
	size_t nsinks;
	size_t sinks_done;     /* sinks[0..sinks_done) seen SUCCEEDED */

	/* What this context's own writes taught it, so a single process
	 * running a workflow skips reads it would otherwise repeat. Each
	 * fact is checked by the next conditional write or is final. */
	uint32_t *hint_ver;    /* per task: the version at which our
				  writes saw it READY, 0 = none (allocated
				  at the first hint) */
	uint64_t *hint_bits;   /* per 64 tasks: which have a hint */
	size_t nhints;
	size_t hint_from;      /* where orc_workflow_claim looks first:
				  after the task it claimed last */
	char **outputs;        /* per task: output of a task we completed,
				  kept until each dependent has read it
				  (allocated at the first output) */
	uint32_t *reads_left;  /* per task: dependents yet to read it */
	unsigned char *done;   /* per task 2 bits: we completed it; its
				  output is null */
	int created;           /* this context's start seeded it */
	int64_t created_ms;    /* the workflow record's, 0 = unknown */
	int ended;             /* we wrote the final workflow state */
	orc_workflow_state end_state;
} orc__wf_cache;

/* Remember that @p task became READY at @p version (best effort:
 * dropping a hint only costs a listing later). */
void orc__hint_push(orc__wf_cache *wf, uint32_t task, int64_t version);

/* The hinted task nearest at or after @p from in definition order,
 * wrapping around: claims go through a workflow's tasks in order, so a
 * worker's writes stay on few pages of a backend's storage. 0 when
 * there is no hint. */
int orc__hint_next(uint32_t *task, int64_t *version, const orc__wf_cache *wf,
		   size_t from);

/* Forget the hint for @p task (taken, or found stale). */
void orc__hint_drop(orc__wf_cache *wf, uint32_t task);

/* Remember a completion of ours: its output (copied) for the
 * dependents' payloads, and that the task SUCCEEDED. Best effort: out of
 * memory just means reading it back later. */
void orc__remember_output(orc__wf_cache *wf, size_t task, const char *json);

/* Whether we completed @p task (so it SUCCEEDED). */
int orc__known_done(const orc__wf_cache *wf, size_t task);

/* The output of a task we completed, if still kept; NULL = read it. */
const char *orc__known_output(const orc__wf_cache *wf, size_t task);

#define ORC__CACHE_MAX 16

struct orc_context {
	orc_backend *backend;
	orc_clock_fn clock;
	void *clock_payload;
	uint64_t rng;
	orc__wf_cache *cache;  /* most recently used first */
	size_t ncache;
};

/* The cached workflow, loading its stored definition on a miss. */
orc_status orc__context_workflow(orc__wf_cache **out, orc_context *ctx,
				 const char *wf_id, orc_error *err);

/* Put a definition the caller already holds into the cache. */
orc_status orc__context_put(orc__wf_cache **out, orc_context *ctx,
			    const char *wf_id, const orc_dag *dag,
			    const char *input, orc_error *err);

#endif
