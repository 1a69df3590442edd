/*
 * A layered DAG for benchmarks: @p layers layers of @p width tasks, ids
 * "t<index>" (index = layer * width + position), handler "noop"; every
 * task after the first layer depends on @p deps distinct tasks of the
 * layer before, chosen with a splitmix64 stream seeded by @p seed.
 */
#ifndef ORC_BENCH_LAYERED_H
#define ORC_BENCH_LAYERED_H

#include <stdio.h>
#include <time.h>

#include "orchestra/orchestra.h"

static inline uint64_t bench_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static orc_status bench_build_layered(orc_dag **out, uint32_t layers,
				      uint32_t width, uint32_t deps,
				      uint64_t seed)
{
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	orc_dag *dag = NULL;
	orc_error err;
	orc_status st;
	uint32_t l, j, k, q, picked[64];
	char id[32], dep[32];

	*out = NULL;
	if (deps > width || deps > 64)
		return ORC_EINVAL;
	if ((st = orc_dag_create(&dag, &err)) != ORC_OK)
		return st;
	spec.id = id;
	spec.target_kind = ORC_TARGET_HANDLER;
	spec.target = "noop";
	for (l = 0; l < layers; l++) {
		for (j = 0; j < width; j++) {
			snprintf(id, sizeof(id), "t%u", l * width + j);
			if ((st = orc_dag_add_task(dag, &spec, &err)) != ORC_OK)
				goto fail;
			for (k = 0; l > 0 && k < deps; k++) {
				/* Draw until distinct from those picked. */
				do {
					picked[k] = (uint32_t)(bench_rand(&seed) %
							       width);
					for (q = 0; q < k; q++)
						if (picked[q] == picked[k])
							break;
				} while (q < k);
				snprintf(dep, sizeof(dep), "t%u",
					 (l - 1) * width + picked[k]);
				if ((st = orc_dag_add_dep(dag, id, dep,
							  &err)) != ORC_OK)
					goto fail;
			}
		}
	}
	if ((st = orc_dag_validate(dag, &err)) != ORC_OK)
		goto fail;
	*out = dag;
	return ORC_OK;
fail:
	fprintf(stderr, "bench_build_layered: %s\n", err.message);
	orc_dag_free(dag);
	return st;
}

/*
 * The measured loop of the engine benchmarks: the full life of every
 * task of workflow "bench" (claim, then complete with its fan-out) on
 * one thread, until the workflow ends (ORC_ECANCELED) or, when @p cap_s
 * > 0, that many seconds have passed (ORC_OK; checked each 256 tasks).
 * With @p folded, as the runner's workers do: each completion claims
 * the next task (orc_workflow_complete_claim); otherwise one call of
 * orc_workflow_claim() and one of orc_workflow_complete() per task.
 * Kept out of line so profilers can isolate it
 * (callgrind --toggle-collect='bench_run_all*').
 */
__attribute__((noinline, unused)) static orc_status
bench_run_all(size_t *done, orc_context *ctx, double cap_s, int folded,
	      orc_error *err)
{
	struct timespec t0, t;
	orc_claim cl, next;
	orc_status st, next_st = ORC_ENOTFOUND;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (next_st == ORC_OK)
			cl = next;
		else if ((st = orc_workflow_claim(&cl, ctx, "bench", "w",
						  600000, err)) != ORC_OK)
			return st;
		if (folded)
			st = orc_workflow_complete_claim(&next, &next_st, ctx,
							 "bench", cl.task_id,
							 cl.token, NULL, "w",
							 600000, err);
		else
			st = orc_workflow_complete(ctx, "bench", cl.task_id,
						   cl.token, NULL, err);
		if (st != ORC_OK)
			return st;
		if (next_st != ORC_OK && next_st != ORC_ENOTFOUND &&
		    next_st != ORC_ECANCELED)
			return next_st;
		if ((++*done & 255) != 0 || cap_s <= 0)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) +
		    (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > cap_s)
			return ORC_OK;
	}
}

#endif
