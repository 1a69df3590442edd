/*
 * Randomized workflows: random DAGs of 1..200 tasks run by 8 runner
 * threads with injected handler failures and lease expiries. Every write
 * goes through the checked backend (exactly one success per task, no
 * early start, legal transitions), and each final state is checked:
 * a succeeded workflow has every task succeeded; an exhausted retry
 * leaves its task FAILED, its downstream CANCELED and the workflow
 * FAILED with that task's error.
 *
 * The same runs go to the in-memory backend (2000 workflows) and to one
 * SQLite file (300 workflows): there they also exercise its integer
 * keys, grouped claims and the READY bound that listings start from.
 *
 * Seeds are fixed (ORC_RANDOM_SEED overrides the base, and
 * ORC_RANDOM_WORKFLOWS the count); a failure prints the seed to replay.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "support/checked_backend.h"
#include "support/testutil.h"

#if ORC_HAVE_SQLITE
#include "orchestra/backends.h"
#include "sqlite/sqlite_files.h"
#endif

#define DEFAULT_SEED 20261126ULL
#define DEFAULT_WORKFLOWS 2000
#define DEFAULT_WORKFLOWS_SQLITE 300
#define LEASE_MS 1000

typedef struct world {
	uint64_t seed;
	atomic_llong clock;
	uint32_t fail_per_mille;    /* chance an attempt fails */
	uint32_t stall_per_mille;   /* chance an attempt outlives its lease */
} world;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	while (*s)
		h = mix(h ^ (unsigned char)*s++);
	return h;
}

static int64_t world_now(void *payload)
{
	return atomic_load(&((world *)payload)->clock);
}

static void world_idle(int64_t ms, void *payload)
{
	struct timespec ts = { 0, 20000 };

	atomic_fetch_add(&((world *)payload)->clock, ms);
	nanosleep(&ts, NULL); /* let real work happen between polls */
}

/* Outcome of one attempt: a pure function of (seed, task, attempt), so
 * a replay with the same seed injects the same faults. */
static orc_status random_handler(orc_handler_call *call, void *payload)
{
	world *w = payload;
	uint64_t h = mix(hash_str(w->seed, orc_call_task_id(call)) ^
			 (uint64_t)orc_call_attempt(call));

	if (h % 1000 < w->stall_per_mille) {
		/* Outlive the lease, then linger so that idle workers
		 * reconcile and reclaim the task before we report. */
		struct timespec ts = { 0, 3000000 };

		atomic_fetch_add(&w->clock, LEASE_MS + 1);
		nanosleep(&ts, NULL);
	}
	if ((h >> 20) % 1000 < w->fail_per_mille) {
		orc_call_set_error(call, "injected failure of %s attempt %d",
				   orc_call_task_id(call),
				   (int)orc_call_attempt(call));
		return ORC_EUSER;
	}
	return orc_call_set_output(call, "{\"ok\":true}", NULL);
}

static orc_dag *random_dag(uint64_t *rng)
{
	orc_dag *dag = NULL;
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	uint32_t n = 1 + (uint32_t)(mix((*rng)++) % 200), i, k;
	char id[16], dep[16];

	if (orc_dag_create(&dag, NULL) != ORC_OK)
		return NULL;
	for (i = 0; i < n; i++) {
		uint64_t r = mix((*rng)++);

		snprintf(id, sizeof(id), "t%u", i);
		spec.id = id;
		spec.retry.max_attempts = 1 + (int32_t)(r % 3);
		spec.retry.interval_ms = (int64_t)((r >> 8) % 5);
		spec.retry.backoff_rate = 1.0 + (double)((r >> 16) % 3);
		spec.retry.jitter = (r >> 24) & 1 ? ORC_JITTER_FULL
						   : ORC_JITTER_NONE;
		if (orc_dag_add_task(dag, &spec, NULL) != ORC_OK)
			goto fail;
		/* Up to 3 dependencies on earlier tasks: acyclic by build. */
		for (k = 0; i > 0 && k < (uint32_t)((r >> 32) % 4); k++) {
			snprintf(dep, sizeof(dep), "t%u",
				 (uint32_t)(mix((*rng)++) % i));
			if (orc_dag_add_dep(dag, id, dep, NULL) != ORC_OK)
				goto fail;
		}
	}
	if (orc_dag_validate(dag, NULL) != ORC_OK)
		goto fail;
	return dag;
fail:
	orc_dag_free(dag);
	return NULL;
}

/* Return NULL when the final state is right, else what is wrong. */
static const char *check_final(const orc_dag *dag, const orc_snapshot *snap,
			       const orc_run_result *res, char *buf,
			       size_t len)
{
	size_t n = orc_dag_task_count(dag), i, j;
	int any_failed = 0;

	if (snap->workflow.state != res->state)
		return "run result and stored state disagree";
	for (i = 0; i < n; i++) {
		const orc_task_rec *t = orc_snapshot_task(snap, i);
		orc_task_state s = t->state;

		if (s == ORC_TASK_PENDING || s == ORC_TASK_READY ||
		    s == ORC_TASK_RUNNING) {
			snprintf(buf, len, "task %s left %s", t->id,
				 orc_task_state_name(s));
			return buf;
		}
		if (s == ORC_TASK_FAILED) {
			const uint32_t *succ;
			size_t ns = orc_dag_dependents(&succ, dag, i);

			any_failed = 1;
			for (j = 0; j < ns; j++) {
				const orc_task_rec *d =
					orc_snapshot_task(snap, succ[j]);

				if (d->state != ORC_TASK_CANCELED) {
					snprintf(buf, len,
						 "task %s downstream of failed %s is %s",
						 d->id, t->id,
						 orc_task_state_name(d->state));
					return buf;
				}
			}
		}
	}
	if (res->state == ORC_WORKFLOW_SUCCEEDED) {
		for (i = 0; i < n; i++)
			if (orc_snapshot_task(snap, i)->state !=
			    ORC_TASK_SUCCEEDED)
				return "succeeded workflow with unfinished task";
		return NULL;
	}
	if (res->state != ORC_WORKFLOW_FAILED || !any_failed)
		return "an exhausted retry did not fail the workflow";
	/* The kept error names a failed task and carries its message. */
	for (i = 0; i < n; i++) {
		const orc_task_rec *t = orc_snapshot_task(snap, i);
		char want[600];

		if (t->state != ORC_TASK_FAILED)
			continue;
		snprintf(want, sizeof(want), "task %s: %s", t->id,
			 t->error ? t->error : "");
		if (res->error && strcmp(res->error, want) == 0)
			return NULL;
	}
	snprintf(buf, len, "workflow error '%s' names no failed task",
		 res->error ? res->error : "(null)");
	return buf;
}

/* A workflow that never ends (a READY task nobody can find, a lost
 * wake-up) would hang the suite: each run gets WATCHDOG_S seconds of
 * real time, then the test fails naming the seed. */
#define WATCHDOG_S 120
static char watchdog_msg[96];

static void watchdog(int sig)
{
	(void)sig;
	if (write(2, watchdog_msg, strlen(watchdog_msg)) < 0)
		_exit(2);
	_exit(1);
}

/* Run @p count random workflows on @p store (shared by all of them,
 * each under its own id) and check each one. */
static void run_random(orc_backend *store, unsigned count)
{
	const char *env = getenv("ORC_RANDOM_SEED");
	uint64_t base = env ? strtoull(env, NULL, 10) : DEFAULT_SEED;
	unsigned succeeded = 0, failed = 0, k;
	unsigned long tasks = 0, stale = 0;

	env = getenv("ORC_RANDOM_WORKFLOWS");
	if (env)
		count = (unsigned)strtoul(env, NULL, 10);
	for (k = 0; k < count; k++) {
		uint64_t seed = base + k, rng = seed;
		world w;
		orc_runner_options o = ORC_RUNNER_OPTIONS_INIT;
		orc_backend *mem = store;
		checked_backend *cb;
		char id[16];
		orc_runner *runner = NULL;
		orc_context *ctx = NULL;
		orc_dag *dag;
		orc_run_result res;
		orc_snapshot snap;
		orc_error err;
		orc_status st;
		const char *bad;
		char buf[700];

		w.seed = seed;
		atomic_init(&w.clock, 1700000000000LL);
		w.fail_per_mille = 2 + (uint32_t)(mix(seed) % 40);
		w.stall_per_mille = (uint32_t)(mix(seed + 1) % 25);
		dag = random_dag(&rng);
		if (!dag)
			fail_msg("seed %llu: could not build DAG",
				 (unsigned long long)seed);
		snprintf(id, sizeof(id), "r%u", k);
		if (!store)
			assert_int_equal(orc_memory_backend_create(&mem, NULL,
								   NULL),
					 ORC_OK);
		cb = checked_backend_create(mem);
		checked_backend_watch(cb, id, dag);
		o.threads = 8;
		o.lease_ms = LEASE_MS;
		o.clock = world_now;
		o.clock_payload = &w;
		o.idle = world_idle;
		o.idle_payload = &w;
		o.seed = seed;
		assert_int_equal(orc_runner_create(&runner,
						   checked_backend_vtable(cb),
						   &o, NULL), ORC_OK);
		assert_int_equal(orc_runner_register(runner, NULL,
						     random_handler, &w, NULL),
				 ORC_OK);
		snprintf(watchdog_msg, sizeof(watchdog_msg), "seed %llu: the "
			 "workflow did not end within %d s\n",
			 (unsigned long long)seed, WATCHDOG_S);
		signal(SIGALRM, watchdog);
		alarm(WATCHDOG_S);
		st = orc_runner_run(&res, runner, id, dag, NULL, &err);
		alarm(0);
		if (st != ORC_OK)
			fail_msg("seed %llu: run failed: %s",
				 (unsigned long long)seed, err.message);
		if (checked_backend_violations(cb))
			fail_msg("seed %llu: %s", (unsigned long long)seed,
				 checked_backend_first_violation(cb));
		assert_int_equal(orc_context_create(&ctx, mem, NULL, NULL),
				 ORC_OK);
		assert_int_equal(orc_workflow_snapshot(&snap, ctx, id,
						       ORC_SNAPSHOT_PAYLOADS,
						       &err), ORC_OK);
		bad = check_final(dag, &snap, &res, buf, sizeof(buf));
		if (bad)
			fail_msg("seed %llu (%zu tasks): %s",
				 (unsigned long long)seed,
				 orc_dag_task_count(dag), bad);
		if (res.state == ORC_WORKFLOW_SUCCEEDED)
			succeeded++;
		else
			failed++;
		tasks += orc_dag_task_count(dag);
		stale += checked_backend_stale_writes(cb);
		orc_snapshot_clear(&snap);
		orc_run_result_clear(&res);
		orc_context_free(ctx);
		orc_runner_free(runner);
		checked_backend_free(cb);
		if (!store)
			orc_backend_free(mem);
		orc_dag_free(dag);
	}
	/* Both outcomes must be exercised, or the test proves too little. */
	assert_true(succeeded > count / 10);
	assert_true(failed > count / 10);
	print_message("# %u workflows (%lu tasks) from seed %llu: %u succeeded, %u failed, %lu stale writes fenced off\n",
		      count, tasks, (unsigned long long)base, succeeded, failed,
		      stale);
	/* Lease expiries must really have happened and been fenced. */
	assert_true(stale > count / 20);
}

static void test_random__workflows_hold_invariants(void **state)
{
	(void)state;
	run_random(NULL, DEFAULT_WORKFLOWS);
}

#if ORC_HAVE_SQLITE
static void test_random__workflows_hold_invariants_on_sqlite(void **state)
{
	char dir[256], path[300];
	orc_backend *b = NULL;
	orc_error err;

	(void)state;
	assert_int_equal(sqlite_test_dir_create(dir, sizeof(dir), "random"),
			 0);
	snprintf(path, sizeof(path), "%s/random.db", dir);
	if (orc_sqlite_backend_open(&b, path, NULL, &err) != ORC_OK)
		fail_msg("open %s: %s", path, err.message);
	run_random(b, DEFAULT_WORKFLOWS_SQLITE);
	orc_backend_free(b);
	sqlite_files_remove(path);
	assert_int_equal(sqlite_test_dir_remove(dir), 0);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random__workflows_hold_invariants),
#if ORC_HAVE_SQLITE
		cmocka_unit_test(test_random__workflows_hold_invariants_on_sqlite),
#endif
	};
	return cmocka_run_group_tests_name("random", tests, NULL, NULL);
}
