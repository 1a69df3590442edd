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
} orc__wf_cache;

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
