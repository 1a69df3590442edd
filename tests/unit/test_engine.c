/*
 * The workflow engine against the in-memory backend, wrapped in the
 * checked backend so every write is also checked against the state
 * machine, no-early-start and exactly-once success.
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

static int setup_with(void **state, const orc_retry_policy *retry)
{
	orc_context_options copts = ORC_CONTEXT_OPTIONS_INIT;
	fixture *f = calloc(1, sizeof(*f));
	orc_error err;

	f->clock.now = 1000000;
	if (orc_memory_backend_create(&f->mem, NULL, &err) != ORC_OK)
		return -1;
	f->cb = checked_backend_create(f->mem);
	copts.clock = test_clock_now;
	copts.clock_payload = &f->clock;
	copts.seed = 42;
	if (orc_context_create(&f->ctx, checked_backend_vtable(f->cb), &copts,
			       &err) != ORC_OK)
		return -1;
	f->dag = test_seed_dag(retry);
	if (!f->dag)
		return -1;
	checked_backend_watch(f->cb, "wf", f->dag);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	orc_retry_policy p = { 2, ORC_JITTER_NONE, 500, 2.0, 0 };

	return setup_with(state, &p);
}

static int teardown(void **state)
{
	fixture *f = *state;

	assert_int_equal(checked_backend_violations(f->cb), 0);
	orc_context_free(f->ctx);
	checked_backend_free(f->cb);
	orc_backend_free(f->mem);
	orc_dag_free(f->dag);
	free(f);
	return 0;
}

static orc_task_rec get_rec(fixture *f, const char *id)
{
	orc_task_rec rec;
	orc_error err;

	memset(&rec, 0, sizeof(rec));
	if (f->mem->get_task(&rec, f->mem, "wf", id, 0, &err) != ORC_OK)
		fail_msg("get_task %s: %s", id, err.message);
	return rec;
}

static orc_workflow_state wf_state(fixture *f)
{
	orc_workflow_rec rec;
	orc_error err;

	memset(&rec, 0, sizeof(rec));
	if (f->mem->get_workflow(&rec, f->mem, "wf", &err) != ORC_OK)
		fail_msg("get_workflow: %s", err.message);
	orc_workflow_rec_clear(&rec);
	return rec.state;
}

static void claim_expect(fixture *f, const char *want, orc_claim *cl)
{
	orc_error err;
	orc_status st = orc_workflow_claim(cl, f->ctx, "wf", "w1", 1000, &err);

	if (st != ORC_OK)
		fail_msg("claim expected %s: %s", want, err.message);
	assert_string_equal(cl->task_id, want);
}

static void run_task(fixture *f, const char *want, const char *output)
{
	orc_claim cl;
	orc_error err;

	claim_expect(f, want, &cl);
	if (orc_workflow_complete(f->ctx, "wf", cl.task_id, cl.token, output,
				  &err) != ORC_OK)
		fail_msg("complete %s: %s", want, err.message);
}

/* ---- start ---- */

static void test_engine__start_is_idempotent(void **state)
{
	fixture *f = *state;
	orc_dag *other;
	orc_error err;

	orc_claim cl;
	orc_task_rec rec;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, "{\"n\":1}",
					     &err));
	claim_expect(f, "A", &cl);
	/* Starting again changes nothing: A keeps running, same version. */
	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, "{\"n\":1}",
					     &err));
	ASSERT_ST(ORC_OK, f->mem->get_task(&rec, f->mem, "wf", "A", 0, &err));
	assert_int_equal(rec.state, ORC_TASK_RUNNING);
	assert_int_equal(rec.version, cl.token);
	/* Same id, different definition: refused, nothing changed. */
	other = test_seed_dag(NULL);
	assert_int_equal(orc_workflow_start(f->ctx, "wf", other, NULL, &err),
			 ORC_EEXISTS);
	assert_non_null(strstr(err.message, "different definition"));
	orc_dag_free(other);
	assert_int_equal(get_rec(f, "A").state, ORC_TASK_RUNNING);
	assert_int_equal(get_rec(f, "C").state, ORC_TASK_PENDING);
	assert_int_equal(get_rec(f, "C").ndeps, 3);
}

static void test_engine__start_rejects_bad_input(void **state)
{
	fixture *f = *state;
	orc_dag *raw;
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	orc_error err;

	assert_int_equal(orc_workflow_start(f->ctx, "bad#id", f->dag, NULL,
					    &err), ORC_EINVAL);
	assert_non_null(strstr(err.message, "workflow id"));
	assert_int_equal(orc_workflow_start(f->ctx, "wf", f->dag, "{nope",
					    &err), ORC_EINVAL);
	assert_int_equal(err.line, 1);
	assert_int_equal(orc_workflow_start(NULL, "wf", f->dag, NULL, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_workflow_start(f->ctx, "wf", NULL, NULL, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_dag_create(&raw, &err), ORC_OK);
	spec.id = "x";
	assert_int_equal(orc_dag_add_task(raw, &spec, &err), ORC_OK);
	assert_int_equal(orc_workflow_start(f->ctx, "wf", raw, NULL, &err),
			 ORC_EINVAL);
	assert_non_null(strstr(err.message, "not validated"));
	orc_dag_free(raw);
	/* Nothing was written by any of those. */
	assert_int_equal(checked_backend_calls(f->cb, CK_CREATE_WORKFLOW), 0);
}

/* ---- claims and dependencies ---- */

static void test_engine__no_task_runs_before_its_dependencies(void **state)
{
	fixture *f = *state;
	orc_claim cl, b[3];
	orc_error err;
	int i;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	claim_expect(f, "A", &cl);
	assert_int_equal(cl.attempt, 1);
	/* A is running: nothing else may start. */
	assert_int_equal(orc_workflow_claim(&b[0], f->ctx, "wf", "w2", 1000,
					    &err), ORC_ENOTFOUND);
	ASSERT_ST(ORC_OK, orc_workflow_complete(f->ctx, "wf", "A", cl.token,
						"{\"a\":1}", &err));
	for (i = 0; i < 3; i++)
		ASSERT_ST(ORC_OK, orc_workflow_claim(&b[i], f->ctx, "wf", "w2",
						     1000, &err));
	assert_int_equal(orc_workflow_claim(&cl, f->ctx, "wf", "w2", 1000,
					    &err), ORC_ENOTFOUND);
	/* Two of three B done: C still waits. */
	for (i = 0; i < 2; i++)
		ASSERT_ST(ORC_OK, orc_workflow_complete(f->ctx, "wf",
							b[i].task_id,
							b[i].token, NULL, &err));
	assert_int_equal(get_rec(f, "C").state, ORC_TASK_PENDING);
	assert_int_equal(get_rec(f, "C").ndone, 2);
	assert_int_equal(orc_workflow_claim(&cl, f->ctx, "wf", "w2", 1000,
					    &err), ORC_ENOTFOUND);
	ASSERT_ST(ORC_OK, orc_workflow_complete(f->ctx, "wf", b[2].task_id,
						b[2].token, NULL, &err));
	run_task(f, "C", "{}");
	assert_int_equal(wf_state(f), ORC_WORKFLOW_SUCCEEDED);
	/* Terminal: claims say so. */
	assert_int_equal(orc_workflow_claim(&cl, f->ctx, "wf", "w2", 1000,
					    &err), ORC_ECANCELED);
	assert_non_null(strstr(err.message, "SUCCEEDED"));
	assert_int_equal(checked_backend_successes(f->cb, "wf", "C"), 1);
}

static void test_engine__dependency_outputs_reach_payload(void **state)
{
	fixture *f = *state;
	orc_claim cl;
	orc_error err;
	char *payload = NULL;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag,
					     "{\"order\":42}", &err));
	run_task(f, "A", "{\"a\":true}");
	ASSERT_ST(ORC_OK, orc_workflow_claim(&cl, f->ctx, "wf", "w", 1000,
					     &err));
	ASSERT_ST(ORC_OK, orc_workflow_payload(&payload, f->ctx, "wf", &cl,
					       &err));
	/* The payload is exactly the documented shape. */
	{
		char want[256];

		snprintf(want, sizeof(want),
			 "{\"workflowId\":\"wf\",\"taskId\":\"%s\",\"attempt\":1,"
			 "\"input\":{\"order\":42},\"dependencies\":{\"A\":{\"a\":true}}}",
			 cl.task_id);
		assert_string_equal(payload, want);
	}
	orc_free(payload);
	ASSERT_ST(ORC_OK, orc_workflow_complete(f->ctx, "wf", cl.task_id,
						cl.token, "[1,\"x\"]", &err));
	run_task(f, cl.task_id[1] == '1' ? "B2" : "B1", "2");
	/* Whatever is left of B. */
	ASSERT_ST(ORC_OK, orc_workflow_claim(&cl, f->ctx, "wf", "w", 1000,
					     &err));
	ASSERT_ST(ORC_OK, orc_workflow_complete(f->ctx, "wf", cl.task_id,
						cl.token, "\"s\"", &err));
	ASSERT_ST(ORC_OK, orc_workflow_claim(&cl, f->ctx, "wf", "w", 1000,
					     &err));
	assert_string_equal(cl.task_id, "C");
	ASSERT_ST(ORC_OK, orc_workflow_payload(&payload, f->ctx, "wf", &cl,
					       &err));
	/* All three B outputs, keyed by task id, in dependency order. */
	assert_non_null(strstr(payload, "\"dependencies\":{\"B1\":"));
	assert_non_null(strstr(payload, "\"B2\":"));
	assert_non_null(strstr(payload, "\"B3\":"));
	assert_non_null(strstr(payload, "[1,\"x\"]"));
	assert_non_null(strstr(payload, ":2"));
	assert_non_null(strstr(payload, "\"s\"}"));
	orc_free(payload);
}

static void test_engine__output_must_be_json(void **state)
{
	fixture *f = *state;
	orc_claim cl;
	orc_error err;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	claim_expect(f, "A", &cl);
	assert_int_equal(orc_workflow_complete(f->ctx, "wf", "A", cl.token,
					       "{\"a\":", &err), ORC_EINVAL);
	assert_non_null(strstr(err.message, "not JSON"));
	/* Refused output changed nothing: A is still ours and running. */
	assert_int_equal(get_rec(f, "A").state, ORC_TASK_RUNNING);
	ASSERT_ST(ORC_OK, orc_workflow_complete(f->ctx, "wf", "A", cl.token,
						"{\"a\":1}", &err));
}

/* ---- fencing ---- */

static void test_engine__stale_token_refused_after_reclaim(void **state)
{
	fixture *f = *state;
	orc_claim first, second;
	orc_reconcile_report rep;
	orc_error err;
	int64_t tok;
	orc_task_rec rec;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	claim_expect(f, "A", &first);
	/* The worker stalls past its lease. */
	f->clock.now += 1001;
	ASSERT_ST(ORC_OK, orc_workflow_reconcile(&rep, f->ctx, "wf", &err));
	assert_int_equal(rep.expired, 1);
	assert_int_equal(get_rec(f, "A").state, ORC_TASK_READY);
	f->clock.now += 500; /* retry interval */
	ASSERT_ST(ORC_OK, orc_workflow_claim(&second, f->ctx, "wf", "w2", 1000,
					     &err));
	assert_string_equal(second.task_id, "A");
	assert_int_equal(second.attempt, 2);
	assert_true(second.token > first.token);
	/* The old holder wakes up: every fenced call is refused. */
	assert_int_equal(orc_workflow_complete(f->ctx, "wf", "A", first.token,
					       "{\"old\":1}", &err),
			 ORC_ECONFLICT);
	assert_non_null(strstr(err.message, "stale"));
	tok = first.token;
	assert_int_equal(orc_workflow_heartbeat(&tok, f->ctx, "wf", "A", 1000,
						&err), ORC_ECONFLICT);
	assert_int_equal(orc_workflow_fail(NULL, f->ctx, "wf", "A", first.token,
					   "late", &err), ORC_ECONFLICT);
	/* The new holder completes; its output is the one kept. */
	ASSERT_ST(ORC_OK, orc_workflow_complete(f->ctx, "wf", "A", second.token,
						"{\"new\":1}", &err));
	memset(&rec, 0, sizeof(rec));
	ASSERT_ST(ORC_OK, f->mem->get_task(&rec, f->mem, "wf", "A",
					   ORC_LIST_PAYLOADS, &err));
	assert_string_equal(rec.output, "{\"new\":1}");
	orc_task_rec_clear(&rec);
	assert_int_equal(checked_backend_successes(f->cb, "wf", "A"), 1);
}

static void test_engine__heartbeat_keeps_the_lease(void **state)
{
	fixture *f = *state;
	orc_claim cl;
	orc_reconcile_report rep;
	orc_error err;
	int64_t tok;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	claim_expect(f, "A", &cl);
	tok = cl.token;
	f->clock.now += 800;
	ASSERT_ST(ORC_OK, orc_workflow_heartbeat(&tok, f->ctx, "wf", "A", 1000,
						 &err));
	assert_int_equal(tok, cl.token + 1); /* every write bumps it */
	f->clock.now += 800; /* past the first lease, inside the second */
	ASSERT_ST(ORC_OK, orc_workflow_reconcile(&rep, f->ctx, "wf", &err));
	assert_int_equal(rep.expired, 0);
	assert_int_equal(get_rec(f, "A").state, ORC_TASK_RUNNING);
	assert_string_equal(get_rec(f, "A").owner, "w1");
	/* The old token is stale now; the new one completes. */
	assert_int_equal(orc_workflow_complete(f->ctx, "wf", "A", cl.token,
					       NULL, &err), ORC_ECONFLICT);
	ASSERT_ST(ORC_OK, orc_workflow_complete(f->ctx, "wf", "A", tok, NULL,
						&err));
}

/* ---- fan-out ---- */

static void test_engine__fan_out_is_idempotent(void **state)
{
	fixture *f = *state;
	orc_claim b1, b2;
	orc_error err;
	int i;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	run_task(f, "A", NULL);
	/* Redelivered fan-out of A to B1 after it already happened. */
	for (i = 0; i < 3; i++)
		ASSERT_ST(ORC_OK, orc_workflow_mark_dep_done(f->ctx, "wf", "B1",
							     "A", &err));
	ASSERT_ST(ORC_OK, orc_workflow_claim_task(&b1, f->ctx, "wf", "B1", "w",
						  1000, &err));
	ASSERT_ST(ORC_OK, orc_workflow_claim_task(&b2, f->ctx, "wf", "B2", "w",
						  1000, &err));
	ASSERT_ST(ORC_OK, orc_workflow_complete(f->ctx, "wf", "B2", b2.token,
						NULL, &err));
	/* The same dependency marked done again and again, out of order
	 * with the others: it still counts once. */
	for (i = 0; i < 4; i++)
		ASSERT_ST(ORC_OK, orc_workflow_mark_dep_done(f->ctx, "wf", "C",
							     "B2", &err));
	assert_int_equal(get_rec(f, "C").ndone, 1);
	assert_int_equal(get_rec(f, "C").state, ORC_TASK_PENDING);
	/* A dependency that has not succeeded cannot be marked. */
	assert_int_equal(orc_workflow_mark_dep_done(f->ctx, "wf", "C", "B1",
						    &err), ORC_ECONFLICT);
	assert_non_null(strstr(err.message, "has not succeeded"));
	assert_int_equal(orc_workflow_mark_dep_done(f->ctx, "wf", "C", "A",
						    &err), ORC_ENOTFOUND);
	assert_int_equal(orc_workflow_mark_dep_done(f->ctx, "wf", "nope", "A",
						    &err), ORC_ENOTFOUND);
	assert_int_equal(get_rec(f, "C").ndone, 1);
	ASSERT_ST(ORC_OK, orc_workflow_complete(f->ctx, "wf", "B1", b1.token,
						NULL, &err));
	assert_int_equal(get_rec(f, "C").ndone, 2);
	run_task(f, "B3", NULL);
	assert_int_equal(get_rec(f, "C").state, ORC_TASK_READY);
	ASSERT_ST(ORC_OK, orc_workflow_mark_dep_done(f->ctx, "wf", "C", "B3",
						     &err));
	assert_int_equal(get_rec(f, "C").ndone, 3);
	run_task(f, "C", NULL);
	assert_int_equal(wf_state(f), ORC_WORKFLOW_SUCCEEDED);
}

/* ---- retries and failure ---- */

static void test_engine__retry_waits_for_backoff(void **state)
{
	fixture *f = *state;
	orc_claim cl;
	orc_error err;
	int final = -1;
	orc_task_rec rec;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	claim_expect(f, "A", &cl);
	ASSERT_ST(ORC_OK, orc_workflow_fail(&final, f->ctx, "wf", "A", cl.token,
					    "flaky", &err));
	assert_int_equal(final, 0);
	rec = get_rec(f, "A");
	assert_int_equal(rec.state, ORC_TASK_READY);
	assert_int_equal(rec.not_before_ms, f->clock.now + 500);
	assert_string_equal(rec.owner, "");
	/* Backing off: not claimable until the interval passed. */
	f->clock.now += 499;
	assert_int_equal(orc_workflow_claim(&cl, f->ctx, "wf", "w", 1000, &err),
			 ORC_ENOTFOUND);
	assert_int_equal(orc_workflow_claim_task(&cl, f->ctx, "wf", "A", "w",
						 1000, &err), ORC_ECONFLICT);
	f->clock.now += 1;
	claim_expect(f, "A", &cl);
	assert_int_equal(cl.attempt, 2);
	ASSERT_ST(ORC_OK, orc_workflow_complete(f->ctx, "wf", "A", cl.token,
						NULL, &err));
}

static void test_engine__exhausted_retry_fails_workflow(void **state)
{
	fixture *f = *state;
	orc_claim cl, b2;
	orc_workflow_rec wf;
	orc_error err;
	int final = -1, i;
	const char *ids[] = { "A", "B1", "B2", "B3", "C" };

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	run_task(f, "A", NULL);
	ASSERT_ST(ORC_OK, orc_workflow_claim_task(&b2, f->ctx, "wf", "B2", "w",
						  1000, &err));
	/* B1 fails both of its attempts. */
	for (i = 0; i < 2; i++) {
		ASSERT_ST(ORC_OK, orc_workflow_claim_task(&cl, f->ctx, "wf",
							  "B1", "w", 1000, &err));
		ASSERT_ST(ORC_OK, orc_workflow_fail(&final, f->ctx, "wf", "B1",
						    cl.token, i ? "second" : "first",
						    &err));
		f->clock.now += 500;
	}
	assert_int_equal(final, 1);
	assert_int_equal(get_rec(f, "B1").state, ORC_TASK_FAILED);
	/* Downstream canceled, siblings not started, running B2 untouched. */
	assert_int_equal(get_rec(f, "C").state, ORC_TASK_CANCELED);
	assert_int_equal(get_rec(f, "B3").state, ORC_TASK_CANCELED);
	assert_int_equal(get_rec(f, "B2").state, ORC_TASK_RUNNING);
	assert_int_equal(orc_workflow_claim(&cl, f->ctx, "wf", "w", 1000, &err),
			 ORC_ECANCELED);
	/* B2 may still finish; its fan-out readies nothing. */
	ASSERT_ST(ORC_OK, orc_workflow_complete(f->ctx, "wf", "B2", b2.token,
						NULL, &err));
	assert_int_equal(get_rec(f, "C").state, ORC_TASK_CANCELED);
	memset(&wf, 0, sizeof(wf));
	ASSERT_ST(ORC_OK, f->mem->get_workflow(&wf, f->mem, "wf", &err));
	assert_int_equal(wf.state, ORC_WORKFLOW_FAILED);
	assert_string_equal(wf.error, "task B1: second");
	orc_workflow_rec_clear(&wf);
	for (i = 0; i < 5; i++)
		assert_true(checked_backend_successes(f->cb, "wf", ids[i]) <= 1);
}

static int setup_one_attempt(void **state)
{
	orc_retry_policy p = { 1, ORC_JITTER_NONE, 0, 1.0, 0 };

	return setup_with(state, &p);
}

static void test_engine__first_error_is_kept(void **state)
{
	fixture *f = *state;
	orc_claim b1, b2;
	orc_workflow_rec wf;
	orc_error err;
	int final = 0;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	run_task(f, "A", NULL);
	ASSERT_ST(ORC_OK, orc_workflow_claim_task(&b1, f->ctx, "wf", "B1", "w",
						  1000, &err));
	ASSERT_ST(ORC_OK, orc_workflow_claim_task(&b2, f->ctx, "wf", "B2", "w",
						  1000, &err));
	ASSERT_ST(ORC_OK, orc_workflow_fail(&final, f->ctx, "wf", "B1",
					    b1.token, "first", &err));
	assert_int_equal(final, 1);
	ASSERT_ST(ORC_OK, orc_workflow_fail(&final, f->ctx, "wf", "B2",
					    b2.token, "second", &err));
	assert_int_equal(get_rec(f, "B2").state, ORC_TASK_FAILED);
	memset(&wf, 0, sizeof(wf));
	ASSERT_ST(ORC_OK, f->mem->get_workflow(&wf, f->mem, "wf", &err));
	assert_int_equal(wf.state, ORC_WORKFLOW_FAILED);
	assert_string_equal(wf.error, "task B1: first");
	orc_workflow_rec_clear(&wf);
}

static void test_engine__retry_after_workflow_failed_is_canceled(void **state)
{
	fixture *f = *state;
	orc_claim b1, b2, again;
	orc_error err;
	int final = -1;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	run_task(f, "A", NULL);
	ASSERT_ST(ORC_OK, orc_workflow_claim_task(&b1, f->ctx, "wf", "B1", "w",
						  1000, &err));
	ASSERT_ST(ORC_OK, orc_workflow_claim_task(&b2, f->ctx, "wf", "B2", "w",
						  1000, &err));
	/* B1 uses up both attempts; the workflow fails. */
	ASSERT_ST(ORC_OK, orc_workflow_fail(NULL, f->ctx, "wf", "B1", b1.token,
					    "x", &err));
	f->clock.now += 500;
	ASSERT_ST(ORC_OK, orc_workflow_claim_task(&again, f->ctx, "wf", "B1",
						  "w", 1000, &err));
	ASSERT_ST(ORC_OK, orc_workflow_fail(NULL, f->ctx, "wf", "B1",
					    again.token, "y", &err));
	/* B2 fails with an attempt left, but nothing new may start. */
	ASSERT_ST(ORC_OK, orc_workflow_fail(&final, f->ctx, "wf", "B2",
					    b2.token, "z", &err));
	assert_int_equal(get_rec(f, "B2").state, ORC_TASK_CANCELED);
	f->clock.now += 5000;
	assert_int_equal(orc_workflow_claim(&again, f->ctx, "wf", "w", 1000,
					    &err), ORC_ECANCELED);
}

/* ---- cancel ---- */

static void test_engine__cancel_stops_new_claims(void **state)
{
	fixture *f = *state;
	orc_claim cl, b1;
	orc_error err;
	orc_snapshot snap;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	run_task(f, "A", NULL);
	ASSERT_ST(ORC_OK, orc_workflow_claim_task(&b1, f->ctx, "wf", "B1", "w",
						  1000, &err));
	ASSERT_ST(ORC_OK, orc_workflow_cancel(f->ctx, "wf", "user asked", &err));
	assert_int_equal(wf_state(f), ORC_WORKFLOW_CANCELED);
	assert_int_equal(orc_workflow_claim(&cl, f->ctx, "wf", "w", 1000, &err),
			 ORC_ECANCELED);
	assert_int_equal(get_rec(f, "B2").state, ORC_TASK_CANCELED);
	assert_int_equal(get_rec(f, "C").state, ORC_TASK_CANCELED);
	/* The running task may finish; nothing downstream starts. */
	ASSERT_ST(ORC_OK, orc_workflow_complete(f->ctx, "wf", "B1", b1.token,
						NULL, &err));
	ASSERT_ST(ORC_OK, orc_workflow_snapshot(&snap, f->ctx, "wf", 0, &err));
	assert_int_equal(snap.workflow.state, ORC_WORKFLOW_CANCELED);
	assert_int_equal(orc_snapshot_task(&snap, 1)->state,
			 ORC_TASK_SUCCEEDED); /* B1 */
	assert_int_equal(orc_snapshot_task(&snap, 4)->state,
			 ORC_TASK_CANCELED); /* C */
	orc_snapshot_clear(&snap);
	/* Cancelling again is harmless. */
	ASSERT_ST(ORC_OK, orc_workflow_cancel(f->ctx, "wf", NULL, &err));
}

/* ---- reconcile ---- */

static void test_engine__reconcile_redoes_fan_out_cut_short(void **state)
{
	fixture *f = *state;
	orc_claim cl;
	orc_task_update u;
	orc_reconcile_report rep;
	orc_error err;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	claim_expect(f, "A", &cl);
	/* A crash right after the completion write, before any fan-out:
	 * write only the completion, as the engine's first step does. */
	memset(&u, 0, sizeof(u));
	u.if_states = ORC_TASK_BIT(ORC_TASK_RUNNING);
	u.if_version = cl.token;
	u.set = ORC_SET_STATE;
	u.state = ORC_TASK_SUCCEEDED;
	u.now_ms = f->clock.now;
	ASSERT_ST(ORC_OK, f->mem->update_task(f->mem, "wf", "A", &u, NULL,
					      &err));
	assert_int_equal(orc_workflow_claim(&cl, f->ctx, "wf", "w", 1000, &err),
			 ORC_ENOTFOUND);
	ASSERT_ST(ORC_OK, orc_workflow_reconcile(&rep, f->ctx, "wf", &err));
	assert_int_equal(rep.fanout_redone, 3);
	assert_int_equal(rep.promoted, 3);
	assert_int_equal(rep.state, ORC_WORKFLOW_RUNNING);
	assert_int_equal(get_rec(f, "B1").state, ORC_TASK_READY);
	/* Reconcile again: nothing left to do. */
	ASSERT_ST(ORC_OK, orc_workflow_reconcile(&rep, f->ctx, "wf", &err));
	assert_int_equal(rep.fanout_redone + rep.promoted + rep.expired, 0);
}

static void test_engine__reconcile_fails_expired_last_attempt(void **state)
{
	fixture *f = *state;
	orc_claim cl;
	orc_reconcile_report rep;
	orc_workflow_rec wf;
	orc_error err;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	claim_expect(f, "A", &cl);
	f->clock.now += 2000;
	ASSERT_ST(ORC_OK, orc_workflow_reconcile(&rep, f->ctx, "wf", &err));
	f->clock.now += 500;
	claim_expect(f, "A", &cl);
	assert_int_equal(cl.attempt, 2);
	f->clock.now += 2000; /* dies again: no attempt left */
	ASSERT_ST(ORC_OK, orc_workflow_reconcile(&rep, f->ctx, "wf", &err));
	assert_int_equal(rep.expired, 1);
	assert_int_equal(rep.canceled, 4);
	assert_int_equal(rep.state, ORC_WORKFLOW_FAILED);
	memset(&wf, 0, sizeof(wf));
	ASSERT_ST(ORC_OK, f->mem->get_workflow(&wf, f->mem, "wf", &err));
	assert_non_null(strstr(wf.error, "task A: lease of 'w1' expired"));
	orc_workflow_rec_clear(&wf);
}

static void test_engine__reconcile_unknown_workflow(void **state)
{
	fixture *f = *state;
	orc_error err;

	assert_int_equal(orc_workflow_reconcile(NULL, f->ctx, "ghost", &err),
			 ORC_ENOTFOUND);
}

/* ---- snapshot ---- */

static void test_engine__snapshot_lists_tasks_in_definition_order(void **state)
{
	fixture *f = *state;
	orc_snapshot snap;
	orc_error err;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, "[1]", &err));
	run_task(f, "A", "{\"x\":\"y\"}");
	ASSERT_ST(ORC_OK, orc_workflow_snapshot(&snap, f->ctx, "wf",
						ORC_SNAPSHOT_PAYLOADS, &err));
	assert_int_equal(snap.ntasks, 5);
	assert_string_equal(orc_snapshot_task(&snap, 0)->id, "A");
	assert_string_equal(orc_snapshot_task(&snap, 4)->id, "C");
	assert_int_equal(orc_snapshot_task(&snap, 0)->state,
			 ORC_TASK_SUCCEEDED);
	assert_string_equal(orc_snapshot_task(&snap, 0)->output,
			    "{\"x\":\"y\"}");
	assert_int_equal(orc_snapshot_task(&snap, 2)->state, ORC_TASK_READY);
	assert_string_equal(snap.workflow.input, "[1]");
	assert_int_equal(snap.workflow.ntasks, 5);
	orc_snapshot_clear(&snap);
	assert_int_equal(orc_workflow_snapshot(&snap, f->ctx, "nope", 0, &err),
			 ORC_ENOTFOUND);
}

/* ---- attach and arguments ---- */

static void test_engine__backend_check_names_missing_method(void **state)
{
	fixture *f = *state;
	orc_backend b;
	orc_context *ctx = NULL;
	orc_error err;

	b = *f->mem;
	b.update_task = NULL;
	assert_int_equal(orc_context_create(&ctx, &b, NULL, &err), ORC_EINVAL);
	assert_non_null(strstr(err.message, "update_task"));
	assert_null(ctx);
	b = *f->mem;
	b.version = 0;
	assert_int_equal(orc_context_create(&ctx, &b, NULL, &err), ORC_EINVAL);
	b.version = ORC_BACKEND_VERSION + 1;
	assert_int_equal(orc_context_create(&ctx, &b, NULL, &err), ORC_EINVAL);
	assert_non_null(strstr(err.message, "version"));
	assert_int_equal(orc_backend_init(&b, 0), ORC_EINVAL);
	assert_int_equal(orc_backend_init(NULL, 1), ORC_EINVAL);
}

static void test_engine__null_arguments_return_einval(void **state)
{
	fixture *f = *state;
	orc_claim cl;
	orc_error err;
	int64_t tok = 1;
	char *s = NULL;
	orc_snapshot snap;

	assert_int_equal(orc_workflow_claim(NULL, f->ctx, "wf", "w", 1, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_workflow_claim(&cl, f->ctx, "wf", NULL, 1, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_workflow_claim(&cl, f->ctx, "wf", "w", 0, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_workflow_complete(f->ctx, NULL, "A", 1, NULL, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_workflow_heartbeat(NULL, f->ctx, "wf", "A", 1, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_workflow_heartbeat(&tok, f->ctx, "wf", "A", 0, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_workflow_payload(&s, f->ctx, "wf", NULL, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_workflow_snapshot(&snap, NULL, "wf", 0, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_workflow_cancel(f->ctx, NULL, NULL, NULL),
			 ORC_EINVAL);
	assert_int_equal(orc_context_create(NULL, f->mem, NULL, &err),
			 ORC_EINVAL);
}

/*
 * One context running a workflow alone learns from its own writes: the
 * tasks it made READY are claimed by id (no listing), the outputs it
 * wrote feed the payloads (no reads), and the end it wrote stops the
 * claims. A second context, knowing none of it, sees the same payload.
 */
static void test_engine__own_writes_spare_reads(void **state)
{
	fixture *f = *state;
	orc_context *other = NULL;
	orc_claim cl;
	orc_error err;
	char *mine = NULL, *theirs = NULL;
	size_t lists, gets;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, "{\"k\":1}",
					     &err));
	lists = checked_backend_calls(f->cb, CK_LIST_TASKS);
	gets = checked_backend_calls(f->cb, CK_GET_TASK);
	run_task(f, "A", "{\"a\":1}");
	run_task(f, "B1", "[1]");
	run_task(f, "B2", NULL);
	run_task(f, "B3", "\"three\"");
	assert_int_equal(checked_backend_calls(f->cb, CK_LIST_TASKS), lists);
	ASSERT_ST(ORC_OK, orc_context_create(&other,
					     checked_backend_vtable(f->cb),
					     NULL, &err));
	ASSERT_ST(ORC_OK, orc_workflow_claim(&cl, other, "wf", "w2", 1000,
					     &err));
	assert_string_equal(cl.task_id, "C");
	ASSERT_ST(ORC_OK, orc_workflow_payload(&mine, f->ctx, "wf", &cl, &err));
	assert_int_equal(checked_backend_calls(f->cb, CK_GET_TASK), gets);
	ASSERT_ST(ORC_OK, orc_workflow_payload(&theirs, other, "wf", &cl,
					       &err));
	assert_int_equal(checked_backend_calls(f->cb, CK_GET_TASK), gets + 3);
	assert_string_equal(mine, theirs);
	assert_non_null(strstr(mine, "{\"B1\":[1],\"B2\":null,"
				     "\"B3\":\"three\"}"));
	orc_free(mine);
	orc_free(theirs);
	ASSERT_ST(ORC_OK, orc_workflow_complete(other, "wf", "C", cl.token,
						NULL, &err));
	assert_int_equal(wf_state(f), ORC_WORKFLOW_SUCCEEDED);
	orc_context_free(other);
}

/* A READY task remembered by one context but claimed by another: the
 * remembered version is stale, the claim by id is refused, and the
 * context falls back to listing. */
static void test_engine__stale_hint_falls_back(void **state)
{
	fixture *f = *state;
	orc_context *other = NULL;
	orc_claim cl;
	orc_error err;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	ASSERT_ST(ORC_OK, orc_context_create(&other,
					     checked_backend_vtable(f->cb),
					     NULL, &err));
	ASSERT_ST(ORC_OK, orc_workflow_claim(&cl, other, "wf", "w2", 1000,
					     &err));
	assert_string_equal(cl.task_id, "A");
	assert_int_equal(orc_workflow_claim(&cl, f->ctx, "wf", "w1", 1000,
					    &err), ORC_ENOTFOUND);
	ASSERT_ST(ORC_OK, orc_workflow_complete(other, "wf", "A", cl.token,
						NULL, &err));
	claim_expect(f, "B1", &cl);
	assert_int_equal(checked_backend_successes(f->cb, "wf", "A"), 1);
	orc_context_free(other);
}

/* ---- complete and claim ---- */

/* Complete @p cl with orc_workflow_complete_claim; returns next_st. */
static orc_status complete_claim(fixture *f, orc_claim *cl, const char *owner)
{
	orc_claim next;
	orc_status next_st = ORC_OK;
	orc_error err;

	memset(&next, 0, sizeof(next));
	ASSERT_ST(ORC_OK, orc_workflow_complete_claim(&next, &next_st, f->ctx,
						      "wf", cl->task_id,
						      cl->token, "{}", owner,
						      1000, &err));
	if (next_st == ORC_OK)
		*cl = next;
	return next_st;
}

/* The seed through orc_workflow_complete_claim alone: every task once,
 * in dependency order; a claim known in advance (B2, B3: READY since A
 * completed) shares the completion's group, the others (B1, C: made
 * READY by that very completion) follow it as orc_workflow_claim()
 * would. */
static void test_engine__complete_claim_runs_the_workflow(void **state)
{
	static const char *const order[] = { "A", "B1", "B2", "B3", "C" };
	fixture *f = *state;
	unsigned long claims, groups;
	orc_claim cl;
	orc_error err;
	size_t i;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	claim_expect(f, "A", &cl);
	claims = checked_backend_calls(f->cb, CK_UPDATE_TASK);
	groups = checked_backend_calls(f->cb, CK_UPDATE_TASKS);
	for (i = 1; i < 5; i++) {
		assert_int_equal(complete_claim(f, &cl, "w1"), ORC_OK);
		assert_string_equal(cl.task_id, order[i]);
		assert_int_equal(get_rec(f, order[i]).state, ORC_TASK_RUNNING);
		assert_string_equal(get_rec(f, order[i]).owner, "w1");
		assert_int_equal(cl.token, get_rec(f, order[i]).version);
		assert_int_equal(cl.attempt, 1);
	}
	assert_int_equal(complete_claim(f, &cl, "w1"), ORC_ECANCELED);
	assert_int_equal(wf_state(f), ORC_WORKFLOW_SUCCEEDED);
	for (i = 0; i < 5; i++)
		assert_int_equal(checked_backend_successes(f->cb, "wf",
							   order[i]), 1);
	/* Five completions, five groups; claims of their own for B1 and C
	 * only. */
	assert_int_equal(checked_backend_calls(f->cb, CK_UPDATE_TASKS) - groups,
			 5);
	assert_int_equal(checked_backend_calls(f->cb, CK_UPDATE_TASK) - claims,
			 2);
}

/* A stale token: the completion fails, nothing is claimed, and the
 * task the folded claim would have taken is still there to claim. */
static void test_engine__complete_claim_stale_token_claims_nothing(
	void **state)
{
	fixture *f = *state;
	orc_claim cl, next;
	orc_status next_st = ORC_OK;
	orc_error err;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	run_task(f, "A", NULL);
	claim_expect(f, "B1", &cl);
	assert_int_equal(orc_workflow_complete_claim(&next, &next_st, f->ctx,
						     "wf", "B1", cl.token + 7,
						     NULL, "w1", 1000, &err),
			 ORC_ECONFLICT);
	assert_int_equal(next_st, ORC_ECONFLICT);
	assert_int_equal(get_rec(f, "B1").state, ORC_TASK_RUNNING);
	assert_int_equal(get_rec(f, "B2").state, ORC_TASK_READY);
	/* A bad owner changes nothing either. */
	assert_int_equal(orc_workflow_complete_claim(&next, &next_st, f->ctx,
						     "wf", "B1", cl.token,
						     NULL, "", 1000, &err),
			 ORC_EINVAL);
	assert_int_equal(next_st, ORC_EINVAL);
	assert_int_equal(get_rec(f, "B1").state, ORC_TASK_RUNNING);
	claim_expect(f, "B2", &next);
}

/* The task a context would fold into its completion was claimed by
 * another worker since: that claim is skipped, the completion still
 * commits, and the next runnable task is claimed instead. */
static void test_engine__complete_claim_stale_hint_falls_back(void **state)
{
	fixture *f = *state;
	orc_context *other = NULL;
	orc_claim cl, theirs;
	orc_error err;

	ASSERT_ST(ORC_OK, orc_workflow_start(f->ctx, "wf", f->dag, NULL, &err));
	run_task(f, "A", NULL);
	claim_expect(f, "B1", &cl);
	ASSERT_ST(ORC_OK, orc_context_create(&other,
					     checked_backend_vtable(f->cb),
					     NULL, &err));
	ASSERT_ST(ORC_OK, orc_workflow_claim_task(&theirs, other, "wf", "B2",
						  "w2", 1000, &err));
	assert_int_equal(complete_claim(f, &cl, "w1"), ORC_OK);
	assert_string_equal(cl.task_id, "B3");
	assert_int_equal(get_rec(f, "B1").state, ORC_TASK_SUCCEEDED);
	assert_string_equal(get_rec(f, "B2").owner, "w2");
	assert_string_equal(get_rec(f, "B3").owner, "w1");
	orc_context_free(other);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_engine__start_is_idempotent),
		T(test_engine__start_rejects_bad_input),
		T(test_engine__no_task_runs_before_its_dependencies),
		T(test_engine__dependency_outputs_reach_payload),
		T(test_engine__own_writes_spare_reads),
		T(test_engine__stale_hint_falls_back),
		T(test_engine__complete_claim_runs_the_workflow),
		T(test_engine__complete_claim_stale_token_claims_nothing),
		T(test_engine__complete_claim_stale_hint_falls_back),
		T(test_engine__output_must_be_json),
		T(test_engine__stale_token_refused_after_reclaim),
		T(test_engine__heartbeat_keeps_the_lease),
		T(test_engine__fan_out_is_idempotent),
		T(test_engine__retry_waits_for_backoff),
		T(test_engine__exhausted_retry_fails_workflow),
		cmocka_unit_test_setup_teardown(test_engine__first_error_is_kept,
			setup_one_attempt, teardown),
		T(test_engine__retry_after_workflow_failed_is_canceled),
		T(test_engine__cancel_stops_new_claims),
		T(test_engine__reconcile_redoes_fan_out_cut_short),
		T(test_engine__reconcile_fails_expired_last_attempt),
		T(test_engine__reconcile_unknown_workflow),
		T(test_engine__snapshot_lists_tasks_in_definition_order),
		T(test_engine__backend_check_names_missing_method),
		T(test_engine__null_arguments_return_einval),
	};
	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
