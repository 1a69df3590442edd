/*
 * DAG benchmarks:
 * 1. 1,000,000 tasks, each depending on 4 distinct random earlier tasks
 *    (fixed seed): time of orc_dag_validate() (which includes the
 *    topological sort and levels) against the 1.0 s target.
 * 2. 100,000 tasks in 100 layers of 1,000 with 2 deps each: bytes per
 *    task held by the validated DAG, measured with mallinfo2().
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "orchestra/orchestra.h"

#include "bench/layered.h"

#define BIG_TASKS 1000000u
#define BIG_DEPS 4u
#define SEED 0x5eed2026ULL

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	/* hblkhd: large arrays are mmapped and not in uordblks. */
	return mi.uordblks + mi.hblkhd;
}

static int bench_big(void)
{
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	orc_dag *dag = NULL;
	orc_error err;
	uint64_t seed = SEED;
	uint32_t i, k, q, picked[BIG_DEPS];
	char id[32], dep[32];
	double t0, t1, t2;
	int pass;

	t0 = now_s();
	if (orc_dag_create(&dag, &err) != ORC_OK)
		goto fail;
	spec.id = id;
	spec.target_kind = ORC_TARGET_HANDLER;
	spec.target = "noop";
	for (i = 0; i < BIG_TASKS; i++) {
		snprintf(id, sizeof(id), "t%u", i);
		if (orc_dag_add_task(dag, &spec, &err) != ORC_OK)
			goto fail;
		for (k = 0; k < BIG_DEPS && k < i; k++) {
			do {
				picked[k] = (uint32_t)(bench_rand(&seed) % i);
				for (q = 0; q < k; q++)
					if (picked[q] == picked[k])
						break;
			} while (q < k);
			snprintf(dep, sizeof(dep), "t%u", picked[k]);
			if (orc_dag_add_dep(dag, id, dep, &err) != ORC_OK)
				goto fail;
		}
	}
	t1 = now_s();
	if (orc_dag_validate(dag, &err) != ORC_OK)
		goto fail;
	t2 = now_s();
	pass = t2 - t1 <= 1.0;
	printf("big: tasks %zu edges %zu build %.3f s validate %.3f s "
	       "(target 1.0 s) %s\n",
	       orc_dag_task_count(dag), orc_dag_edge_count(dag), t1 - t0,
	       t2 - t1, pass ? "PASS" : "FAIL");
	orc_dag_free(dag);
	return pass;
fail:
	fprintf(stderr, "big: %s\n", err.message);
	orc_dag_free(dag);
	return 0;
}

static int bench_layered(void)
{
	orc_dag *dag = NULL;
	size_t before, after;
	double per_task;
	int pass;

	before = heap_bytes();
	if (bench_build_layered(&dag, 100, 1000, 2, SEED) != ORC_OK)
		return 0;
	after = heap_bytes();
	per_task = (double)(after - before) / (double)orc_dag_task_count(dag);
	pass = per_task <= 90.0;
	printf("layered: tasks %zu edges %zu DAG bytes/task %.1f "
	       "(target 90) %s\n",
	       orc_dag_task_count(dag), orc_dag_edge_count(dag), per_task,
	       pass ? "PASS" : "FAIL");
	orc_dag_free(dag);
	return pass;
}

int main(void)
{
	int ok = bench_layered();

	ok = bench_big() && ok;
	return ok ? 0 : 1;
}
