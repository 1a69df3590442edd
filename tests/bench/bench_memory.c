/*
 * In-memory backend benchmark on the layered DAG (100,000 tasks in 100
 * layers of 1,000, each depending on 2 tasks of the layer before; fixed
 * seed): the full life of every task (claim, complete, fan-out) on one
 * thread, bytes of engine + backend state per task, and Dask's
 * synchronous scheduler on the same DAG in the same run as a baseline.
 *
 * Run: meson test -C build --benchmark --suite bench bench_memory -v
 *  or: build/tests/bench/bench_memory [SOURCE_DIR]
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "layered.h"
#include "orchestra/orchestra.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static double dask_rate(const orc_dag *dag, const char *srcdir)
{
	char *json = NULL, cmd[1024];
	const char *path = "bench_memory_dag.json";
	double rate = 0;
	FILE *f;

	if (orc_dag_save(&json, dag, NULL) != ORC_OK)
		return 0;
	f = fopen(path, "w");
	if (!f) {
		orc_free(json);
		return 0;
	}
	fputs(json, f);
	fclose(f);
	orc_free(json);
	/* Debian's interpreter, where python3-dask lives, even when another
	 * python3 comes first in PATH. */
	snprintf(cmd, sizeof(cmd), "%s %s/tests/bench/dask_baseline.py %s",
		 access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" :
		 "python3", srcdir, path);
	f = popen(cmd, "r");
	if (f) {
		if (fscanf(f, "%lf", &rate) != 1)
			rate = 0;
		pclose(f);
	}
	remove(path);
	return rate;
}

int main(int argc, char **argv)
{
	const char *srcdir = argc > 1 ? argv[1] : getenv("ORC_SOURCE_ROOT");
	orc_backend *mem = NULL;
	orc_context *ctx = NULL;
	orc_dag *dag = NULL;
	orc_error err;
	orc_status st;
	size_t n, heap0, heap_dag, heap_end, done = 0;
	double t0, secs, rate, base;
	char *def = NULL;
	size_t def_len;

	heap0 = heap_bytes();
	if (bench_build_layered(&dag, 100, 1000, 2, 7) != ORC_OK) {
		fprintf(stderr, "could not build the layered DAG\n");
		return 1;
	}
	n = orc_dag_task_count(dag);
	heap_dag = heap_bytes();
	orc_dag_save(&def, dag, NULL);
	def_len = def ? strlen(def) : 0;
	orc_free(def);
	if ((st = orc_memory_backend_create(&mem, NULL, &err)) != ORC_OK ||
	    (st = orc_context_create(&ctx, mem, NULL, &err)) != ORC_OK ||
	    (st = orc_workflow_start(ctx, "bench", dag, NULL, &err)) != ORC_OK) {
		fprintf(stderr, "setup: %s\n", err.message);
		return 1;
	}
	t0 = now_s();
	st = bench_run_all(&done, ctx, 0, 1, &err);
	secs = now_s() - t0;
	heap_end = heap_bytes();
	if (done != n || st != ORC_ECANCELED) {
		fprintf(stderr, "run stopped after %zu of %zu tasks: %s\n",
			done, n, err.message);
		return 1;
	}
	rate = (double)n / secs;
	printf("layered DAG: %zu tasks, %zu edges\n", n, orc_dag_edge_count(dag));
	printf("memory backend, 1 thread: %.0f tasks/s (%.3f s)  target >= 1000000: %s\n",
	       rate, secs, rate >= 1e6 ? "PASS" : "FAIL");
	printf("state: %.1f bytes/task (DAG %.1f + engine/backend %.1f), "
	       "of which the stored definition text is %.1f\n",
	       (double)(heap_end - heap0) / (double)n,
	       (double)(heap_dag - heap0) / (double)n,
	       (double)(heap_end - heap_dag) / (double)n,
	       (double)def_len / (double)n);
	printf("state without the definition text: %.1f bytes/task  target <= 256: %s\n",
	       (double)(heap_end - heap0 - def_len) / (double)n,
	       (double)(heap_end - heap0 - def_len) / (double)n <= 256 ?
	       "PASS" : "FAIL");
	base = srcdir ? dask_rate(dag, srcdir) : 0;
	if (base > 0)
		printf("dask get_sync, same DAG: %.0f tasks/s; liborchestra is %.1fx faster\n",
		       base, rate / base);
	else
		printf("dask baseline not measured (python3-dask missing or no source dir)\n");
	orc_context_free(ctx);
	orc_backend_free(mem);
	orc_dag_free(dag);
	return 0;
}
