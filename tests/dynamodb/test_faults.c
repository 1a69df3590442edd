/*
 * Whole engine runs through the fault-injecting proxy in front of
 * dynalite: throttling answers, 500s after the write was applied,
 * connections dropped before the request reached dynalite and dropped
 * after it was applied, placed at random with fixed seeds. Every run
 * must complete with each task's handler succeeding exactly once and the
 * outputs flowing to the dependents. A failure names its seed;
 * ORC_TEST_SEED=<n> runs that seed alone.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "ddb_support.h"
#include "dynalite.h"
#include "support/testutil.h"

#define NTASKS 5
static const char *const ids[NTASKS] = { "A", "B1", "B2", "B3", "C" };

struct counts {
	atomic_int ok[NTASKS];
};

/* Output {"t":"<id>"}; C checks that every B output reached it. */
static orc_status handler(orc_handler_call *call, void *payload)
{
	struct counts *c = payload;
	const char *id = orc_call_task_id(call);
	char out[64];
	orc_status st;
	int i;

	if (strcmp(id, "C") == 0) {
		const char *p = orc_call_payload(call);

		for (i = 1; i <= 3; i++) {
			snprintf(out, sizeof(out), "\"t\":\"%s\"", ids[i]);
			if (!strstr(p, out)) {
				orc_call_set_error(call, "C: no %s output",
						   ids[i]);
				return ORC_EUSER;
			}
		}
	}
	snprintf(out, sizeof(out), "{\"t\":\"%s\"}", id);
	st = orc_call_set_output(call, out, NULL);
	for (i = 0; st == ORC_OK && i < NTASKS; i++)
		if (strcmp(id, ids[i]) == 0)
			atomic_fetch_add(&c->ok[i], 1);
	return st;
}

/* One run of the seed DAG with @p rate_pct % of requests faulted. */
static void faulty_run(unsigned long long seed, unsigned threads,
		       int rate_pct, int by_kind[FAULT_KINDS])
{
	orc_retry_policy rp = { 1, ORC_JITTER_NONE, 10, 1.0, 0 };
	orc_runner_options ro = ORC_RUNNER_OPTIONS_INIT;
	orc_dag *dag = test_seed_dag(&rp);
	struct counts c;
	struct fixture f;
	orc_run_result res;
	orc_runner *r = NULL;
	orc_task_rec t;
	orc_error err;
	orc_status st;
	char wf_id[32];
	int i;

	assert_non_null(dag);
	for (i = 0; i < NTASKS; i++)
		atomic_init(&c.ok[i], 0);
	/* Ten attempts: a call fails for good only after ten faults in a
	 * row, about 1e-6 at 25 %. */
	fixture_open(&f, 10);
	f.px.rate_pct = rate_pct;
	f.px.rng = seed * 0x9e3779b97f4a7c15ull + 1;
	ro.threads = threads;
	ro.seed = seed;
	snprintf(wf_id, sizeof(wf_id), "wf-%llu-%u", seed, threads);
	memset(&err, 0, sizeof(err));
	st = orc_runner_create(&r, f.viaproxy, &ro, &err);
	for (i = 0; st == ORC_OK && i < NTASKS; i++)
		st = orc_runner_register(r, ids[i], handler, &c, &err);
	memset(&res, 0, sizeof(res));
	if (st == ORC_OK)
		st = orc_runner_run(&res, r, wf_id, dag, "{\"in\":1}", &err);
	orc_runner_free(r);
	orc_dag_free(dag);
	if (st != ORC_OK)
		fail_msg("seed %llu, %u threads: run: %s (%s)", seed, threads,
			 orc_status_name(st), err.message);
	if (res.state != ORC_WORKFLOW_SUCCEEDED)
		fail_msg("seed %llu, %u threads: workflow %s: %s", seed,
			 threads, orc_workflow_state_name(res.state),
			 res.error ? res.error : "");
	orc_run_result_clear(&res);
	for (i = 0; i < NTASKS; i++) {
		int n = atomic_load(&c.ok[i]);

		if (n != 1)
			fail_msg("seed %llu, %u threads: task %s succeeded "
				 "%d times", seed, threads, ids[i], n);
		st = f.direct->get_task(&t, f.direct, wf_id, ids[i],
					ORC_LIST_PAYLOADS, &err);
		if (st != ORC_OK || t.state != ORC_TASK_SUCCEEDED ||
		    t.attempt != 1 || !t.output || !strstr(t.output, ids[i]))
			fail_msg("seed %llu, %u threads: task %s stored as "
				 "%s, attempt %d (%s)", seed, threads, ids[i],
				 orc_task_state_name(t.state), (int)t.attempt,
				 st != ORC_OK ? err.message : "");
		orc_task_rec_clear(&t);
	}
	for (i = 0; i < FAULT_KINDS; i++)
		by_kind[i] += f.px.by_kind[i];
	fixture_close(&f);
}

static void test_faults__whole_runs_succeed_each_task_once(void **state)
{
	const char *one = getenv("ORC_TEST_SEED");
	int by_kind[FAULT_KINDS] = { 0 };
	unsigned long long seed;
	int k;

	(void)state;
	if (one && *one) {
		seed = strtoull(one, NULL, 10);
		faulty_run(seed, 0, 25, by_kind);
		faulty_run(seed, 3, 25, by_kind);
		return;
	}
	/* The engine on the caller's thread, then with worker threads and
	 * the lease keeper writing beside them. */
	for (seed = 1; seed <= 24; seed++)
		faulty_run(seed, seed % 2 ? 0 : 3, seed <= 16 ? 25 : 40,
			   by_kind);
	/* Every kind of fault was met. */
	for (k = FWD_DROP; k < FAULT_KINDS; k++)
		if (by_kind[k] < 20)
			fail_msg("fault kind %d injected only %d times", k,
				 by_kind[k]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_faults__whole_runs_succeed_each_task_once),
	};

	return cmocka_run_group_tests_name("dynamodb_faults", tests, ddb_setup,
					   ddb_teardown);
}
