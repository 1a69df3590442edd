/*
 * The engine on SQLite: the full life of every task (claim, complete,
 * fan-out) of the layered DAG (100,000 tasks in 100 layers of 1,000,
 * each depending on 2 tasks of the layer before; fixed seed), through
 * orc_workflow_claim() and orc_workflow_complete() on one thread (the
 * engine's fastest path: no handler dispatch), on a file in the current
 * directory, WAL, synchronous NORMAL and then FULL.
 *
 * The baseline is measured in the same run on the same file system: one
 * prepared single-row conditional UPDATE per BEGIN IMMEDIATE
 * transaction (bench_sqlite_raw.h). A task life should cost at most 3
 * of those. A second, smaller run counts what a task life costs in
 * backend calls and SQLite commits, to say where the time goes.
 *
 * Run: meson test -C build --benchmark --suite bench bench_sqlite -v
 *  or: (cd build/tests/bench && ./bench_sqlite)
 * ORC_BENCH_FULL_SECONDS caps the FULL run (default 20 s: each commit
 * waits for the disk; the rate is taken over the tasks done by then).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_sqlite_raw.h"
#include "layered.h"
#include "orchestra/backend.h"
#include "orchestra/backends.h"
#include "orchestra/orchestra.h"

/* Internal to the SQLite backend; see backends/sqlite.c. */
sqlite3 *orc__sqlite_db(orc_backend *b);

#define DB "bench_sqlite.db"
#define RAW_DB "bench_sqlite_raw.db"
#define RAW_SECONDS 2.0
#define TARGET 3.0

/* ---- backend calls, counted by wrapping the instance's methods ---- */

/* update_task calls by kind, with the CPU time spent in them. */
enum { K_CLAIM, K_COMPLETE, K_FANOUT, K_OTHER, K_GROUP, K_COUNT };
static const char *const kind_name[K_COUNT] = {
	"claim", "complete", "fan-out mark", "other update_task",
	"update_tasks (complete + fan-out, one transaction)"
};

static struct {
	orc_backend saved;
	unsigned long long get_wf, upd_wf, get_task, upd_task, list, commits;
	unsigned long long n[K_COUNT];
	double cpu[K_COUNT];
} calls;

static orc_status count_get_workflow(orc_workflow_rec *out, orc_backend *b,
				     const char *wf_id, orc_error *err)
{
	calls.get_wf++;
	return calls.saved.get_workflow(out, b, wf_id, err);
}

static orc_status count_update_workflow(orc_backend *b, const char *wf_id,
					const orc_workflow_update *u,
					orc_workflow_rec *out, orc_error *err)
{
	calls.upd_wf++;
	return calls.saved.update_workflow(b, wf_id, u, out, err);
}

static orc_status count_get_task(orc_task_rec *out, orc_backend *b,
				 const char *wf_id, const char *task_id,
				 uint32_t flags, orc_error *err)
{
	calls.get_task++;
	return calls.saved.get_task(out, b, wf_id, task_id, flags, err);
}

static orc_status count_update_task(orc_backend *b, const char *wf_id,
				    const char *task_id,
				    const orc_task_update *u, orc_task_rec *out,
				    orc_error *err)
{
	int k = (u->set & ORC_SET_DONE_DEP) ? K_FANOUT :
		!(u->set & ORC_SET_STATE) ? K_OTHER :
		u->state == ORC_TASK_RUNNING ? K_CLAIM :
		u->state == ORC_TASK_SUCCEEDED ? K_COMPLETE : K_OTHER;
	double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	orc_status st = calls.saved.update_task(b, wf_id, task_id, u, out,
						err);

	calls.upd_task++;
	calls.n[k]++;
	calls.cpu[k] += clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	return st;
}

static orc_status count_list_tasks(orc_backend *b, const char *wf_id,
				   uint32_t states, uint32_t flags,
				   orc_task_rec_cb cb, void *payload,
				   orc_error *err)
{
	calls.list++;
	return calls.saved.list_tasks(b, wf_id, states, flags, cb, payload,
				      err);
}

static orc_status count_update_tasks(orc_backend *b, const char *wf_id,
				     const orc_task_write *w, size_t n,
				     orc_task_rec *outs, unsigned char *applied,
				     orc_error *err)
{
	double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	orc_status st = calls.saved.update_tasks(b, wf_id, w, n, outs,
						 applied, err);

	calls.n[K_GROUP]++;
	calls.cpu[K_GROUP] += clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	return st;
}

static int count_commit(void *payload)
{
	(void)payload;
	calls.commits++;
	return 0;
}

static void count_calls(orc_backend *b)
{
	memset(&calls, 0, sizeof(calls));
	calls.saved = *b;
	b->get_workflow = count_get_workflow;
	b->update_workflow = count_update_workflow;
	b->get_task = count_get_task;
	b->update_task = count_update_task;
	b->list_tasks = count_list_tasks;
	if (ORC_BACKEND_HAS(b, update_tasks, 2))
		b->update_tasks = count_update_tasks;
	sqlite3_commit_hook(orc__sqlite_db(b), count_commit, NULL);
}

/* ---- the engine run ---- */

struct engine_run {
	size_t done, ntasks;
	double start_s;   /* orc_workflow_start: seeding every task */
	double wall_s, cpu_s;
};

static orc_backend *open_db(orc_sqlite_sync sync)
{
	orc_sqlite_options o = ORC_SQLITE_OPTIONS_INIT;
	orc_backend *b = NULL;
	orc_error err;

	o.synchronous = sync;
	remove_db(DB);
	if (orc_sqlite_backend_open(&b, DB, &o, &err) != ORC_OK)
		die("open", err.message);
	return b;
}

static struct engine_run run_engine(orc_backend *b, const orc_dag *dag,
				    double cap_s, int folded)
{
	struct engine_run r;
	orc_context *ctx = NULL;
	orc_error err;
	orc_status st;
	double t0, c0;

	memset(&r, 0, sizeof(r));
	r.ntasks = orc_dag_task_count(dag);
	if (orc_context_create(&ctx, b, NULL, &err) != ORC_OK)
		die("context", err.message);
	t0 = now_s();
	if (orc_workflow_start(ctx, "bench", dag, NULL, &err) != ORC_OK)
		die("start", err.message);
	r.start_s = now_s() - t0;
	t0 = now_s();
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	st = bench_run_all(&r.done, ctx, cap_s, folded, &err);
	r.wall_s = now_s() - t0;
	r.cpu_s = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	if (st != ORC_OK && st != ORC_ECANCELED)
		die("run", err.message);
	if (st == ORC_ECANCELED && r.done != r.ntasks)
		die("run", "the workflow ended before every task ran");
	orc_context_free(ctx);
	return r;
}

static const char *const mode_name[2] = {
	"orc_workflow_claim + orc_workflow_complete, two calls",
	"orc_workflow_complete_claim, as the runner's workers"
};

/* One engine run against @p raw; @p judged: print the verdict. */
static void report_engine(const char *sync, const struct rate *raw,
			  const orc_dag *dag, double cap_s, int folded,
			  int judged)
{
	orc_backend *b = open_db(strcmp(sync, "FULL") == 0 ?
				 ORC_SQLITE_SYNC_FULL :
				 ORC_SQLITE_SYNC_NORMAL);
	struct engine_run r = run_engine(b, dag, cap_s, folded);
	double rate = (double)r.done / r.wall_s;
	double per_life = raw->wall / rate;

	orc_backend_free(b);
	remove_db(DB);
	printf("  engine (%s): %zu of %zu tasks in %.2f s: %.0f tasks/s "
	       "(%.0f per CPU s); seeding took %.2f s\n", mode_name[folded],
	       r.done, r.ntasks, r.wall_s, rate, (double)r.done / r.cpu_s,
	       r.start_s);
	printf("    one task life = %.2f raw transactions (%.2f by CPU)",
	       per_life, raw->cpu / ((double)r.done / r.cpu_s));
	if (judged)
		printf("  target <= %.0f: %s", TARGET,
		       per_life <= TARGET ? "PASS" : "FAIL");
	printf("\n");
	fflush(stdout);
}

/* Returns the raw baseline's rate per CPU second. The target is judged
 * on the path the runner takes; the two-call path is shown beside it. */
static double report(const char *sync, const orc_dag *dag, double cap_s,
		     int both)
{
	struct rate raw = bench_raw(RAW_DB, sync, RAW_SECONDS);

	printf("synchronous=%s\n", sync);
	printf("  raw baseline: %.0f txn/s (%.0f per CPU s)\n", raw.wall,
	       raw.cpu);
	report_engine(sync, &raw, dag, cap_s, 1, 1);
	if (both)
		report_engine(sync, &raw, dag, cap_s, 0, 0);
	return raw.cpu;
}

/* Backend calls and SQLite commits per task life, on 10 layers, and
 * the CPU time of each kind of update_task in raw transactions. */
static void report_calls(double raw_cpu)
{
	orc_dag *dag = NULL;
	orc_backend *b;
	struct engine_run r;
	double n, in_upd = 0;
	int k;

	if (bench_build_layered(&dag, 10, 1000, 2, 7) != ORC_OK)
		die("dag", "could not build the layered DAG");
	b = open_db(ORC_SQLITE_SYNC_NORMAL);
	count_calls(b);
	r = run_engine(b, dag, 0, 1);
	n = (double)r.done;
	{
		int cur = 0, hi = 0;

		sqlite3_db_status(orc__sqlite_db(b), SQLITE_DBSTATUS_CACHE_WRITE,
				  &cur, &hi, 0);
		printf("pages written per task life: %.2f\n", cur / n);
	}
	/* The seeding commit is not part of a task life. */
	printf("per task life (%zu tasks, 10 layers): %.2f commits; "
	       "update_task %.2f, get_task %.2f, list_tasks %.2f, "
	       "get_workflow %.2f, update_workflow %.2f\n", r.done,
	       (double)(calls.commits - 1) / n, (double)calls.upd_task / n,
	       (double)calls.get_task / n, (double)calls.list / n,
	       (double)calls.get_wf / n, (double)calls.upd_wf / n);
	for (k = 0; k < K_COUNT; k++) {
		if (!calls.n[k])
			continue;
		printf("  %s: %.2f per life, each %.1f us CPU = %.2f raw "
		       "transactions\n", kind_name[k], (double)calls.n[k] / n,
		       1e6 * calls.cpu[k] / (double)calls.n[k],
		       calls.cpu[k] / (double)calls.n[k] * raw_cpu);
		in_upd += calls.cpu[k];
	}
	printf("  the rest (engine, reads, the bench) %.1f us CPU per life "
	       "= %.2f raw transactions\n", 1e6 * (r.cpu_s - in_upd) / n,
	       (r.cpu_s - in_upd) / n * raw_cpu);
	orc_backend_free(b);
	remove_db(DB);
	orc_dag_free(dag);
}

int main(void)
{
	const char *cap = getenv("ORC_BENCH_FULL_SECONDS");
	orc_dag *dag = NULL;
	double raw_cpu;

	if (bench_build_layered(&dag, 100, 1000, 2, 7) != ORC_OK)
		die("dag", "could not build the layered DAG");
	printf("layered DAG: %zu tasks, %zu edges; file %s in the current "
	       "directory\n", orc_dag_task_count(dag),
	       orc_dag_edge_count(dag), DB);
	raw_cpu = report("NORMAL", dag, 0, 1);
	report("FULL", dag, cap && *cap ? atof(cap) : 20.0, 0);
	report_calls(raw_cpu);
	orc_dag_free(dag);
	return 0;
}
