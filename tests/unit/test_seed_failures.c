/*
 * The seed system's known failure modes, each shown absent here:
 *  1. fan-out by a counter decremented once per delivery (a redelivered
 *     stream record starts a task early);
 *  2. a completion written without a condition (a worker whose lease was
 *     taken over overwrites the new holder's result);
 *  3. a crashed worker's task stuck in RUNNING forever.
 */
#include "support/checked_backend.h"
#include "support/testutil.h"

#include "orchestra/backend.h"

typedef struct fixture {
	test_clock clock;
	orc_backend *mem;
	checked_backend *cb;
	orc_context *ctx;
	orc_dag *dag;
} fixture;

static int setup(void **state)
{
	orc_context_options copts = ORC_CONTEXT_OPTIONS_INIT;
	orc_retry_policy retry = { 3, ORC_JITTER_NONE, 0, 1.0, 0 };
	fixture *f = calloc(1, sizeof(*f));
	orc_error err;

	f->clock.now = 5000000;
	if (orc_memory_backend_create(&f->mem, NULL, &err) != ORC_OK)
		return -1;
	f->cb = checked_backend_create(f->mem);
	copts.clock = test_clock_now;
	copts.clock_payload = &f->clock;
	if (orc_context_create(&f->ctx, checked_backend_vtable(f->cb), &copts,
			       &err) != ORC_OK)
		return -1;
	f->dag = test_seed_dag(&retry);
	checked_backend_watch(f->cb, "seed", f->dag);
	if (orc_workflow_start(f->ctx, "seed", f->dag, NULL, &err) != ORC_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	if (checked_backend_violations(f->cb))
		fail_msg("invariant violated: %s",
			 checked_backend_first_violation(f->cb));
	orc_context_free(f->ctx);
	checked_backend_free(f->cb);
	orc_backend_free(f->mem);
	orc_dag_free(f->dag);
	free(f);
	return 0;
}

static orc_task_state state_of(fixture *f, const char *id)
{
	orc_task_rec rec;

	memset(&rec, 0, sizeof(rec));
	if (f->mem->get_task(&rec, f->mem, "seed", id, 0, NULL) != ORC_OK)
		fail_msg("no task %s", id);
	return rec.state;
}

static void complete(fixture *f, const char *id, const char *out)
{
	orc_claim cl;
	orc_error err;

	if (orc_workflow_claim_task(&cl, f->ctx, "seed", id, "w", 60000,
				    &err) != ORC_OK)
		fail_msg("claim %s: %s", id, err.message);
	if (orc_workflow_complete(f->ctx, "seed", id, cl.token, out, &err) !=
	    ORC_OK)
		fail_msg("complete %s: %s", id, err.message);
}

static void test_seed_failures__redelivered_fan_out_does_not_start_early(
	void **state)
{
	fixture *f = *state;
	orc_claim cl;
	orc_error err;
	int i;

	complete(f, "A", NULL);
	complete(f, "B1", NULL);
	/* A counter would reach zero after three deliveries of B1's
	 * completion; a set of done ids does not. */
	for (i = 0; i < 5; i++)
		ASSERT_ST(ORC_OK, orc_workflow_mark_dep_done(f->ctx, "seed", "C",
							     "B1", &err));
	assert_int_equal(state_of(f, "C"), ORC_TASK_PENDING);
	assert_int_equal(orc_workflow_claim_task(&cl, f->ctx, "seed", "C", "w",
						 1000, &err), ORC_ECONFLICT);
	complete(f, "B3", NULL);
	for (i = 0; i < 5; i++)
		ASSERT_ST(ORC_OK, orc_workflow_mark_dep_done(f->ctx, "seed", "C",
							     "B3", &err));
	assert_int_equal(state_of(f, "C"), ORC_TASK_PENDING);
	complete(f, "B2", NULL);
	assert_int_equal(state_of(f, "C"), ORC_TASK_READY);
	complete(f, "C", NULL);
	assert_int_equal(checked_backend_successes(f->cb, "seed", "C"), 1);
}

static void test_seed_failures__late_completion_cannot_overwrite(void **state)
{
	fixture *f = *state;
	orc_claim slow, fast;
	orc_reconcile_report rep;
	orc_task_rec rec;
	orc_error err;

	ASSERT_ST(ORC_OK, orc_workflow_claim_task(&slow, f->ctx, "seed", "A",
						  "slow", 1000, &err));
	f->clock.now += 5000; /* slow worker stalls past its lease */
	ASSERT_ST(ORC_OK, orc_workflow_reconcile(&rep, f->ctx, "seed", &err));
	ASSERT_ST(ORC_OK, orc_workflow_claim_task(&fast, f->ctx, "seed", "A",
						  "fast", 1000, &err));
	ASSERT_ST(ORC_OK, orc_workflow_complete(f->ctx, "seed", "A", fast.token,
						"{\"by\":\"fast\"}", &err));
	/* An unconditional write would replace fast's result here. */
	assert_int_equal(orc_workflow_complete(f->ctx, "seed", "A", slow.token,
					       "{\"by\":\"slow\"}", &err),
			 ORC_ECONFLICT);
	memset(&rec, 0, sizeof(rec));
	ASSERT_ST(ORC_OK, f->mem->get_task(&rec, f->mem, "seed", "A",
					   ORC_LIST_PAYLOADS, &err));
	assert_string_equal(rec.output, "{\"by\":\"fast\"}");
	assert_int_equal(rec.state, ORC_TASK_SUCCEEDED);
	orc_task_rec_clear(&rec);
	assert_int_equal(checked_backend_successes(f->cb, "seed", "A"), 1);
	assert_int_equal(checked_backend_claims(f->cb, "seed", "A"), 2);
}

static void test_seed_failures__crashed_worker_task_is_not_stuck(void **state)
{
	fixture *f = *state;
	orc_claim cl;
	orc_reconcile_report rep;
	orc_error err;

	complete(f, "A", NULL);
	ASSERT_ST(ORC_OK, orc_workflow_claim_task(&cl, f->ctx, "seed", "B2",
						  "doomed", 30000, &err));
	/* The worker dies: it never completes, fails or heartbeats. Before
	 * the lease ends, reconcile must leave the task alone. */
	f->clock.now += 29999;
	ASSERT_ST(ORC_OK, orc_workflow_reconcile(&rep, f->ctx, "seed", &err));
	assert_int_equal(rep.expired, 0);
	assert_int_equal(state_of(f, "B2"), ORC_TASK_RUNNING);
	f->clock.now += 1;
	ASSERT_ST(ORC_OK, orc_workflow_reconcile(&rep, f->ctx, "seed", &err));
	assert_int_equal(rep.expired, 1);
	assert_int_equal(state_of(f, "B2"), ORC_TASK_READY);
	complete(f, "B1", NULL);
	complete(f, "B2", NULL);
	complete(f, "B3", NULL);
	complete(f, "C", "{\"done\":true}");
	ASSERT_ST(ORC_OK, orc_workflow_reconcile(&rep, f->ctx, "seed", &err));
	assert_int_equal(rep.state, ORC_WORKFLOW_SUCCEEDED);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_seed_failures__redelivered_fan_out_does_not_start_early),
		T(test_seed_failures__late_completion_cannot_overwrite),
		T(test_seed_failures__crashed_worker_task_is_not_stuck),
	};
	return cmocka_run_group_tests_name("seed_failures", tests, NULL, NULL);
}
