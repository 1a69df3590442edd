/*
 * DynamoDB-specific behaviour against dynalite: ids that look like
 * expression syntax, the 400 KB item limit checked before sending,
 * pagination over more than 1 MB, the request counter, table creation,
 * and retries through the fault-injecting proxy (ddb_support.c: forward
 * then drop, forward then 500, throttle) proving that a write applied but
 * unanswered is not reported as a conflict. Whole runs under random
 * faults are in test_faults.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddb_support.h"
#include "dynalite.h"
#include "support/testutil.h"

#define NOW 1700000000000LL

static orc_backend *open_fresh(void)
{
	char t[64];

	ddb_fresh_table(t, sizeof(t));
	return ddb_open_on(t, NULL, 0);
}

static void create(orc_backend *b, const char *wf_id, orc_task_seed *t,
		   size_t n)
{
	orc_workflow_rec wf;

	memset(&wf, 0, sizeof(wf));
	snprintf(wf.id, sizeof(wf.id), "%s", wf_id);
	wf.state = ORC_WORKFLOW_RUNNING;
	wf.ntasks = (uint32_t)n;
	wf.created_ms = wf.updated_ms = NOW;
	wf.definition = "{}";
	CHECK(ORC_OK, b->create_workflow(b, &wf, t, n, E));
}

static orc_task_update upd(void)
{
	orc_task_update u;

	memset(&u, 0, sizeof(u));
	u.if_version = -1;
	u.now_ms = NOW + 1;
	return u;
}

static void test_dynamodb__ids_that_look_like_expressions(void **state)
{
	static const char *const ids[] = {
		"#version", ":v0", "a = :v1 OR attribute_exists(pk)",
		"TASK#x", "META#WORKFLOW", "size(doneDeps)", ") OR (",
	};
	enum { NI = sizeof(ids) / sizeof(ids[0]) };
	orc_backend *b = open_fresh();
	orc_task_seed t[NI + 1];
	orc_task_update u;
	orc_task_rec r;
	int i;

	(void)state;
	memset(t, 0, sizeof(t));
	for (i = 0; i < (int)NI; i++)
		t[i].id = ids[i];
	t[NI].id = "sink";
	t[NI].ndeps = NI;
	t[NI].deps = (const char *const *)ids;
	create(b, ":v0 #state", t, NI + 1);
	for (i = 0; i < (int)NI; i++) {
		u = upd();
		u.set = ORC_SET_DONE_DEP | ORC_SET_PROMOTE;
		u.done_dep = ids[i];
		u.done_dep_index = (uint32_t)i;
		CHECK(ORC_OK, b->update_task(b, ":v0 #state", "sink", &u, &r,
					     E));
		assert_int_equal(r.ndone, i + 1);
	}
	assert_int_equal(r.state, ORC_TASK_READY);
	/* A version condition with an id full of syntax still holds. */
	u = upd();
	u.set = ORC_SET_STATE;
	u.state = ORC_TASK_RUNNING;
	u.if_version = 1;
	CHECK(ORC_OK, b->update_task(b, ":v0 #state", ids[2], &u, &r, E));
	assert_int_equal(r.version, 2);
	CHECK(ORC_ECONFLICT, b->update_task(b, ":v0 #state", ids[2], &u, &r,
					    E));
	orc_backend_free(b);
}

static void test_dynamodb__item_limit_checked_before_sending(void **state)
{
	enum { BIG = 410 * 1024, FITS = 380 * 1024 };
	orc_backend *b = open_fresh();
	orc_task_seed t[1] = { { "big", 0, NULL, NULL } };
	orc_dynamodb_stats s0, s1;
	orc_task_update u = upd();
	orc_workflow_rec wf;
	orc_task_rec r;
	orc_error err;
	char *big = malloc(BIG + 1);

	(void)state;
	assert_non_null(big);
	memset(big, 'y', BIG);
	big[BIG] = '\0';
	create(b, "wf-limit", t, 1);
	s0 = ddb_stats(b);
	u.set = ORC_SET_OUTPUT;
	u.output = big;
	assert_int_equal(b->update_task(b, "wf-limit", "big", &u, NULL, &err),
			 ORC_ETOOBIG);
	assert_non_null(strstr(err.message, "big"));
	s1 = ddb_stats(b);
	assert_int_equal((int)(s1.requests - s0.requests), 0);

	/* Under the limit it is stored and read back whole. */
	big[FITS] = '\0';
	CHECK(ORC_OK, b->update_task(b, "wf-limit", "big", &u, NULL, E));
	CHECK(ORC_OK, b->get_task(&r, b, "wf-limit", "big", ORC_LIST_PAYLOADS,
				  E));
	assert_int_equal(strlen(r.output), FITS);
	orc_task_rec_clear(&r);

	/* A definition over the limit: nothing is sent, nothing written. */
	big[FITS] = 'y';
	memset(&wf, 0, sizeof(wf));
	strcpy(wf.id, "wf-toolarge");
	wf.definition = big;
	s0 = ddb_stats(b);
	assert_int_equal(b->create_workflow(b, &wf, t, 1, &err), ORC_ETOOBIG);
	assert_non_null(strstr(err.message, "wf-toolarge"));
	s1 = ddb_stats(b);
	assert_int_equal((int)(s1.requests - s0.requests), 0);
	free(big);
	orc_backend_free(b);
}

struct counter {
	int n;
	size_t bytes;
};

static int count_task(const orc_task_rec *r, void *p)
{
	struct counter *c = p;

	c->n++;
	c->bytes += r->output ? strlen(r->output) : 0;
	return 0;
}

static void test_dynamodb__pagination_over_one_megabyte(void **state)
{
	enum { NT = 40, OUT = 60 * 1024 };
	orc_backend *b = open_fresh();
	orc_task_seed t[NT];
	char ids[NT][16];
	orc_dynamodb_stats s0, s1;
	struct counter c = { 0, 0 };
	char *out = malloc(OUT + 1);
	int i;

	(void)state;
	assert_non_null(out);
	memset(out, 'p', OUT);
	out[OUT] = '\0';
	memset(t, 0, sizeof(t));
	for (i = 0; i < NT; i++) {
		snprintf(ids[i], sizeof(ids[i]), "t%03d", i);
		t[i].id = ids[i];
	}
	create(b, "wf-pages", t, NT);
	for (i = 0; i < NT; i++) {
		orc_task_update u = upd();

		u.set = ORC_SET_OUTPUT;
		u.output = out;
		CHECK(ORC_OK, b->update_task(b, "wf-pages", ids[i], &u, NULL,
					     E));
	}
	/* 40 x 60 KB = 2.4 MB: Query answers in pages of at most 1 MB. */
	s0 = ddb_stats(b);
	CHECK(ORC_OK, b->list_tasks(b, "wf-pages", 0, ORC_LIST_PAYLOADS,
				    count_task, &c, E));
	s1 = ddb_stats(b);
	assert_int_equal(c.n, NT);
	assert_int_equal(c.bytes, (size_t)NT * OUT);
	assert_true(s1.calls - s0.calls >= 3);
	/* Without payloads: none returned, yet as many pages, since the
	 * 1 MB page limit counts the items read, not what is projected. */
	memset(&c, 0, sizeof(c));
	s0 = ddb_stats(b);
	CHECK(ORC_OK, b->list_tasks(b, "wf-pages", 0, 0, count_task, &c, E));
	s1 = ddb_stats(b);
	assert_int_equal(c.n, NT);
	assert_int_equal(c.bytes, 0);
	assert_true(s1.calls - s0.calls >= 3);
	free(out);
	orc_backend_free(b);
}

static int count_wf(const orc_workflow_rec *r, void *p)
{
	(void)r;
	((struct counter *)p)->n++;
	return 0;
}

static void test_dynamodb__many_workflows_listed(void **state)
{
	enum { NW = 120 };
	orc_backend *b = open_fresh();
	orc_task_seed t[1] = { { "only", 0, NULL, NULL } };
	struct counter c = { 0, 0 };
	int i;

	(void)state;
	for (i = 0; i < NW; i++) {
		char id[32];

		snprintf(id, sizeof(id), "wf-%d", i);
		create(b, id, t, 1);
	}
	CHECK(ORC_OK, b->list_workflows(b, count_wf, &c, E));
	assert_int_equal(c.n, NW);
	orc_backend_free(b);
}

static void test_dynamodb__request_counter(void **state)
{
	orc_backend *b = open_fresh();
	orc_task_seed t[3] = { { "a", 0, NULL, NULL }, { "b", 0, NULL, NULL },
			       { "c", 0, NULL, NULL } };
	orc_dynamodb_stats s0, s1;
	orc_task_rec r;

	(void)state;
	s0 = ddb_stats(b);
	/* The record's conditional put, then one BatchWriteItem. */
	create(b, "wf-count", t, 3);
	s1 = ddb_stats(b);
	assert_int_equal((int)(s1.requests - s0.requests), 2);
	assert_int_equal((int)(s1.calls - s0.calls), 2);
	assert_int_equal((int)s1.retries, 0);
	CHECK(ORC_OK, b->get_task(&r, b, "wf-count", "a", 0, E));
	s0 = ddb_stats(b);
	assert_int_equal((int)(s0.requests - s1.requests), 1);
	CHECK(ORC_ENOTSUPPORTED, b->ctl(b, 12345, NULL, E));
	orc_backend_free(b);
}

static void test_dynamodb__create_table_and_options(void **state)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	orc_backend *b = NULL;
	char t[64];
	orc_error err;

	(void)state;
	ddb_fresh_table(t, sizeof(t));
	o.table = t;
	assert_int_equal(orc_dynamodb_create_table(&o, &err), ORC_EEXISTS);
	o.table = NULL;
	assert_int_equal(orc_dynamodb_backend_open(&b, &o, &err), ORC_EINVAL);
	assert_null(b);
	/* A table that does not exist: ENOTFOUND with DynamoDB's words. */
	o.table = "no-such-table";
	CHECK(ORC_OK, orc_dynamodb_backend_open(&b, &o, E));
	{
		orc_task_rec r;

		assert_int_equal(b->get_task(&r, b, "w", "t", 0, &err),
				 ORC_ENOTFOUND);
		assert_non_null(strstr(err.message, "ResourceNotFound"));
	}
	orc_backend_free(b);
}

static void test_dynamodb__applied_then_dropped_is_not_a_conflict(void **state)
{
	static const enum fault faults[] = { FWD_DROP, FWD_500 };
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		static const char *const deps[] = { "a" };
		orc_task_seed t[2] = { { "a", 0, NULL, NULL },
				       { "b", 1, deps, NULL } };
		struct fixture f;
		orc_task_update u;
		orc_task_rec r;
		orc_lock_rec l;
		orc_dynamodb_stats s;
		orc_workflow_rec wf;

		fixture_open(&f, 3);
		/* A task's put, then the workflow record's put (after the
		 * two tasks'): applied, answer lost. */
		fixture_arm(&f, "PutItem", faults[k], 1);
		create(f.viaproxy, "wf-x", t, 2);
		assert_int_equal(f.px.faults_done, 1);
		/* The tasks' batch: applied, answer lost. Not resent (a
		 * task may have moved on): conditional puts find both. */
		fixture_arm(&f, "BatchWriteItem", faults[k], 1);
		create(f.viaproxy, "wf-y", t, 2);
		assert_int_equal(f.px.faults_done, 1);
		CHECK(ORC_OK, f.direct->get_task(&r, f.direct, "wf-y", "b", 0,
						 E));
		assert_int_equal(r.version, 1);
		assert_int_equal(r.state, ORC_TASK_PENDING);
		CHECK(ORC_OK, f.direct->get_workflow(&wf, f.direct, "wf-y",
						     E));
		assert_int_equal(wf.version, 1);
		orc_workflow_rec_clear(&wf);
		CHECK(ORC_OK, f.direct->get_workflow(&wf, f.direct, "wf-x",
						     E));
		assert_int_equal(wf.version, 1);
		orc_workflow_rec_clear(&wf);

		/* A claim conditioned on version 1. */
		fixture_arm(&f, "UpdateItem", faults[k], 1);
		u = upd();
		u.set = ORC_SET_STATE | ORC_SET_LEASE;
		u.if_version = 1;
		u.if_states = ORC_TASK_BIT(ORC_TASK_READY);
		u.state = ORC_TASK_RUNNING;
		u.owner = "w1";
		u.lease_expiry_ms = NOW + 1000;
		CHECK(ORC_OK, f.viaproxy->update_task(f.viaproxy, "wf-x", "a",
						      &u, &r, E));
		assert_int_equal(f.px.faults_done, 1);
		assert_int_equal(r.version, 2);
		assert_string_equal(r.owner, "w1");
		/* Someone else's write is still a conflict. */
		CHECK(ORC_ECONFLICT, f.viaproxy->update_task(f.viaproxy,
							     "wf-x", "a", &u,
							     &r, E));

		/* A done dependency: counted once. */
		fixture_arm(&f, "UpdateItem", faults[k], 1);
		u = upd();
		u.set = ORC_SET_DONE_DEP | ORC_SET_PROMOTE;
		u.done_dep = "a";
		u.done_dep_index = 0;
		CHECK(ORC_OK, f.viaproxy->update_task(f.viaproxy, "wf-x", "b",
						      &u, &r, E));
		CHECK(ORC_OK, f.direct->get_task(&r, f.direct, "wf-x", "b", 0,
						 E));
		assert_int_equal(r.ndone, 1);
		assert_int_equal(r.state, ORC_TASK_READY);

		/* A lease taken for the first time. */
		fixture_arm(&f, "PutItem", faults[k], 1);
		memset(&l, 0, sizeof(l));
		strcpy(l.name, "leader");
		strcpy(l.owner, "w1");
		l.version = 1;
		l.expiry_ms = NOW + 5000;
		CHECK(ORC_OK, f.viaproxy->put_lock(f.viaproxy, &l, 0, E));
		assert_int_equal(f.px.faults_done, 1);
		CHECK(ORC_ECONFLICT, f.viaproxy->put_lock(f.viaproxy, &l, 0,
							  E));
		/* After a 500 we retry; after a dropped answer libcurl may
		 * resend by itself on a fresh connection, or we do. */
		s = ddb_stats(f.viaproxy);
		if (faults[k] == FWD_500)  /* the batch is never resent */
			assert_int_equal((int)s.retries, 4);
		fixture_close(&f);
	}
}

static void test_dynamodb__throttling_retried_then_reported(void **state)
{
	orc_task_seed t[1] = { { "a", 0, NULL, NULL } };
	struct fixture f;
	orc_task_rec r;
	orc_error err;
	orc_dynamodb_stats s0, s1;

	(void)state;
	fixture_open(&f, 3);
	create(f.direct, "wf-t", t, 1);
	/* Two throttles, then through. */
	fixture_arm(&f, "GetItem", THROTTLE, 2);
	s0 = ddb_stats(f.viaproxy);
	CHECK(ORC_OK, f.viaproxy->get_task(&r, f.viaproxy, "wf-t", "a", 0, E));
	s1 = ddb_stats(f.viaproxy);
	assert_int_equal((int)(s1.requests - s0.requests), 3);
	assert_int_equal((int)(s1.retries - s0.retries), 2);
	/* Throttled past max_attempts: ORC_ETHROTTLED, service words kept. */
	fixture_arm(&f, "GetItem", THROTTLE, 10);
	assert_int_equal(f.viaproxy->get_task(&r, f.viaproxy, "wf-t", "a", 0,
					      &err), ORC_ETHROTTLED);
	assert_non_null(strstr(err.message, "Rate of requests exceeds"));
	assert_null(strstr(err.message, "dynalite-secret"));
	assert_int_equal(f.px.faults_done, 3);
	fixture_close(&f);
}

/* Output {"t":"<id>"}; B2 fails when the payload says so. */
static orc_status handler(orc_handler_call *call, void *payload)
{
	const char *id = orc_call_task_id(call);
	char out[64];

	if (payload && strcmp(id, "B2") == 0) {
		orc_call_set_error(call, "B2 broke on attempt %d",
				   (int)orc_call_attempt(call));
		return ORC_EUSER;
	}
	if (strcmp(id, "C") == 0) {
		/* C sees the outputs of all three B tasks. */
		const char *p = orc_call_payload(call);

		if (!strstr(p, "\"t\":\"B1\"") || !strstr(p, "\"t\":\"B3\""))
			return ORC_EUSER;
	}
	snprintf(out, sizeof(out), "{\"t\":\"%s\"}", id);
	return orc_call_set_output(call, out, NULL);
}

static void run_seed(orc_backend *b, const char *wf_id, int fail,
		     orc_run_result *res)
{
	static const char *const ids[] = { "A", "B1", "B2", "B3", "C" };
	orc_retry_policy rp = { 2, ORC_JITTER_NONE, 10, 1.0, 0 };
	orc_runner_options ro = ORC_RUNNER_OPTIONS_INIT;
	orc_dag *dag = test_seed_dag(&rp);
	orc_runner *r = NULL;
	int i;

	assert_non_null(dag);
	CHECK(ORC_OK, orc_runner_create(&r, b, &ro, E));
	for (i = 0; i < 5; i++)
		CHECK(ORC_OK, orc_runner_register(r, ids[i], handler,
						  fail ? (void *)r : NULL, E));
	CHECK(ORC_OK, orc_runner_run(res, r, wf_id, dag, "{\"in\":1}", E));
	orc_runner_free(r);
	orc_dag_free(dag);
}

static int count_tasks(const orc_task_rec *r, void *p)
{
	(void)r;
	(*(int *)p)++;
	return 0;
}

static int stored_tasks(orc_backend *b, const char *wf_id)
{
	int n = 0;

	CHECK(ORC_OK, b->list_tasks(b, wf_id, 0, 0, count_tasks, &n, E));
	return n;
}

/*
 * A start that dies between the workflow record and its tasks. Within
 * the grace (1.5 s in these tests) another start changes nothing: the
 * first may still be writing. After it, reconcile writes the missing
 * tasks and the run completes, each task once.
 */
static void test_dynamodb__start_cut_after_the_record(void **state)
{
	/* run_seed's definition, so its start finds the same one. */
	orc_retry_policy rp = { 2, ORC_JITTER_NONE, 10, 1.0, 0 };
	orc_dag *dag = test_seed_dag(&rp);
	orc_context *ctx = NULL;
	orc_reconcile_report rep;
	orc_run_result res;
	orc_workflow_rec wf;
	orc_claim cl;
	struct fixture f;
	orc_error err;

	(void)state;
	assert_non_null(dag);
	fixture_open(&f, 1);
	/* The record goes through; every batch round and the first put
	 * after them are throttled: the starter gives up before writing a
	 * task, as good as dead. */
	fixture_arm(&f, "Item", THROTTLE, 7);
	f.px.skip = 1;
	CHECK(ORC_OK, orc_context_create(&ctx, f.viaproxy, NULL, E));
	assert_int_not_equal(orc_workflow_start(ctx, "wf-cut", dag, NULL,
						&err), ORC_OK);
	orc_context_free(ctx);
	assert_int_equal(f.px.faults_done, 7);
	CHECK(ORC_OK, f.direct->get_workflow(&wf, f.direct, "wf-cut", E));
	orc_workflow_rec_clear(&wf);
	assert_int_equal(stored_tasks(f.direct, "wf-cut"), 0);

	/* Within the grace: starting again is fine and writes nothing. */
	CHECK(ORC_OK, orc_context_create(&ctx, f.direct, NULL, E));
	CHECK(ORC_OK, orc_workflow_start(ctx, "wf-cut", dag, NULL, E));
	assert_int_equal(stored_tasks(f.direct, "wf-cut"), 0);
	CHECK(ORC_ENOTFOUND, orc_workflow_claim(&cl, ctx, "wf-cut", "w", 1000,
						E));
	CHECK(ORC_OK, orc_workflow_reconcile(&rep, ctx, "wf-cut", E));
	assert_int_equal(rep.state, ORC_WORKFLOW_RUNNING);
	assert_int_equal(stored_tasks(f.direct, "wf-cut"), 0);

	/* After it: reconcile writes them, and the run finishes. */
	usleep(1600000);
	CHECK(ORC_OK, orc_workflow_reconcile(&rep, ctx, "wf-cut", E));
	assert_int_equal(stored_tasks(f.direct, "wf-cut"), 5);
	orc_context_free(ctx);
	memset(&res, 0, sizeof(res));
	run_seed(f.direct, "wf-cut", 0, &res);
	assert_int_equal(res.state, ORC_WORKFLOW_SUCCEEDED);
	assert_int_equal((int)res.attempts, 5);
	orc_run_result_clear(&res);
	orc_dag_free(dag);
	fixture_close(&f);
}

static void test_dynamodb__engine_runs_the_seed_dag(void **state)
{
	orc_backend *b = open_fresh();
	orc_run_result res;
	orc_task_rec r;

	(void)state;
	memset(&res, 0, sizeof(res));
	run_seed(b, "wf-ok", 0, &res);
	assert_int_equal(res.state, ORC_WORKFLOW_SUCCEEDED);
	assert_int_equal((int)res.attempts, 5);
	orc_run_result_clear(&res);
	CHECK(ORC_OK, b->get_task(&r, b, "wf-ok", "C", ORC_LIST_PAYLOADS, E));
	assert_int_equal(r.state, ORC_TASK_SUCCEEDED);
	assert_int_equal(r.ndone, 3);
	assert_string_equal(r.output, "{\"t\":\"C\"}");
	orc_task_rec_clear(&r);

	/* B2 fails twice: FAILED, C canceled, the first error kept. */
	memset(&res, 0, sizeof(res));
	run_seed(b, "wf-bad", 1, &res);
	assert_int_equal(res.state, ORC_WORKFLOW_FAILED);
	assert_non_null(res.error);
	assert_non_null(strstr(res.error, "B2 broke"));
	orc_run_result_clear(&res);
	CHECK(ORC_OK, b->get_task(&r, b, "wf-bad", "C", 0, E));
	assert_int_equal(r.state, ORC_TASK_CANCELED);
	CHECK(ORC_OK, b->get_task(&r, b, "wf-bad", "B2", 0, E));
	assert_int_equal(r.state, ORC_TASK_FAILED);
	assert_int_equal(r.attempt, 2);
	orc_backend_free(b);
}

/* Mark @p dep done on @p task as the engine does: PENDING only. */
static orc_status mark(orc_backend *b, const char *wf, const char *task,
		       const char *dep, uint32_t index, orc_task_rec *out)
{
	orc_task_update u = upd();

	u.if_states = ORC_TASK_BIT(ORC_TASK_PENDING);
	u.set = ORC_SET_DONE_DEP | ORC_SET_PROMOTE;
	u.done_dep = dep;
	u.done_dep_index = index;
	return b->update_task(b, wf, task, &u, out, NULL);
}

static int requests_since(orc_backend *b, orc_dynamodb_stats *s0)
{
	orc_dynamodb_stats s1 = ddb_stats(b);
	int n = (int)(s1.requests - s0->requests);

	*s0 = s1;
	return n;
}

/*
 * The backend remembers what it saw of each task's dependencies and, when
 * a mark should complete the set, adds and promotes in one UpdateItem
 * whose condition checks the guess. A wrong guess (another process
 * marked meanwhile, a redelivery) must cost requests, never correctness.
 */
static void test_dynamodb__dependency_hints_never_decide(void **state)
{
	static const char *const two[] = { "x", "y" };
	orc_task_seed t[3] = { { "x", 0, NULL, NULL }, { "y", 0, NULL, NULL },
			       { "c", 2, two, NULL } };
	orc_task_seed t1[2] = { { "x", 0, NULL, NULL },
				{ "c", 1, two, NULL } };
	orc_backend *b1, *b2;
	orc_dynamodb_stats s;
	orc_task_rec r;
	char table[64];

	(void)state;
	ddb_fresh_table(table, sizeof(table));
	b1 = ddb_open_on(table, NULL, 0);
	b2 = ddb_open_on(table, NULL, 0);   /* another process, no hints */
	create(b1, "wf-h1", t1, 2);
	create(b1, "wf-h2", t, 3);

	/* Right guess: one request adds and promotes. */
	s = ddb_stats(b1);
	CHECK(ORC_OK, mark(b1, "wf-h1", "c", "x", 0, &r));
	assert_int_equal(requests_since(b1, &s), 1);
	assert_int_equal(r.state, ORC_TASK_READY);
	assert_int_equal(r.version, 2);
	assert_int_equal(r.ndone, 1);

	/* Not the last: the general path, one request. */
	CHECK(ORC_OK, mark(b1, "wf-h2", "c", "x", 0, &r));
	assert_int_equal(requests_since(b1, &s), 1);
	assert_int_equal(r.state, ORC_TASK_PENDING);
	assert_int_equal(r.version, 2);
	/* Redelivered: guessed last, found done; nothing written. */
	CHECK(ORC_OK, mark(b1, "wf-h2", "c", "x", 0, &r));
	assert_int_equal(requests_since(b1, &s), 2);
	CHECK(ORC_OK, b2->get_task(&r, b2, "wf-h2", "c", 0, E));
	assert_int_equal(r.version, 2);
	assert_int_equal(r.state, ORC_TASK_PENDING);
	assert_int_equal(r.ndone, 1);

	/* Another process completes the set (its read above taught it
	 * that y is the last: one write). b1's guess is now stale; its
	 * mark is the conflict the engine expects (no longer PENDING) and
	 * writes nothing. */
	s = ddb_stats(b2);
	CHECK(ORC_OK, mark(b2, "wf-h2", "c", "y", 1, &r));
	assert_int_equal(requests_since(b2, &s), 1);
	assert_int_equal(r.state, ORC_TASK_READY);
	assert_int_equal(r.version, 3);
	assert_int_equal(mark(b1, "wf-h2", "c", "y", 1, &r), ORC_ECONFLICT);
	CHECK(ORC_OK, b2->get_task(&r, b2, "wf-h2", "c", 0, E));
	assert_int_equal(r.version, 3);
	assert_int_equal(r.ndone, 2);
	/* A process that never saw c: add, then promote (two writes). */
	orc_backend_free(b2);
	b2 = ddb_open_on(table, NULL, 0);
	create(b1, "wf-h3", t, 3);
	CHECK(ORC_OK, mark(b1, "wf-h3", "c", "x", 0, &r));
	s = ddb_stats(b2);
	CHECK(ORC_OK, mark(b2, "wf-h3", "c", "y", 1, &r));
	assert_int_equal(requests_since(b2, &s), 2);
	assert_int_equal(r.state, ORC_TASK_READY);
	assert_int_equal(r.version, 4);
	orc_backend_free(b2);
	orc_backend_free(b1);
}

/* ---- requests of one seed run, by backend call ---- */

/* A backend in front of the proxied one that logs, per call, which
 * DynamoDB requests it cost (the proxy counts them by operation). */
struct trace {
	orc_backend parent;
	orc_backend *inner;
	struct proxy *px;
	int before[OP_KINDS];
	int calls, requests;
	char log[16384];
	size_t len;
};

#define TR(b) ((struct trace *)(void *)(b))

static void tr_begin(struct trace *t)
{
	memcpy(t->before, t->px->by_op, sizeof(t->before));
}

static void tr_end(struct trace *t, const char *what, const char *id,
		   const char *detail)
{
	char ops[128] = "";
	size_t n = 0;
	int k, d, total = 0;

	for (k = 0; k < OP_KINDS; k++) {
		d = t->px->by_op[k] - t->before[k];
		total += d;
		if (d > 1)
			n += (size_t)snprintf(ops + n, sizeof(ops) - n,
					      "%s%d %s", n ? " + " : "", d,
					      ddb_op_names[k]);
		else if (d)
			n += (size_t)snprintf(ops + n, sizeof(ops) - n,
					      "%s%s", n ? " + " : "",
					      ddb_op_names[k]);
	}
	t->calls++;
	t->requests += total;
	if (t->len < sizeof(t->log))
		t->len += (size_t)snprintf(t->log + t->len,
					   sizeof(t->log) - t->len,
					   "  %2d  %-16s %-3s %-22s %s\n",
					   total, what, id ? id : "", detail,
					   ops);
}

static orc_status tr_create_workflow(orc_backend *b,
				     const orc_workflow_rec *wf,
				     const orc_task_seed *tasks, size_t ntasks,
				     orc_error *err)
{
	orc_status st;

	tr_begin(TR(b));
	st = TR(b)->inner->create_workflow(TR(b)->inner, wf, tasks, ntasks,
					   err);
	tr_end(TR(b), "create_workflow", NULL, orc_status_name(st));
	return st;
}

static orc_status tr_get_workflow(orc_workflow_rec *out, orc_backend *b,
				  const char *wf_id, orc_error *err)
{
	orc_status st;

	tr_begin(TR(b));
	st = TR(b)->inner->get_workflow(out, TR(b)->inner, wf_id, err);
	tr_end(TR(b), "get_workflow", NULL, orc_status_name(st));
	return st;
}

static orc_status tr_update_workflow(orc_backend *b, const char *wf_id,
				     const orc_workflow_update *u,
				     orc_workflow_rec *out, orc_error *err)
{
	orc_status st;

	tr_begin(TR(b));
	st = TR(b)->inner->update_workflow(TR(b)->inner, wf_id, u, out, err);
	tr_end(TR(b), "update_workflow", NULL, u->set & ORC_WSET_STATE ?
	       orc_workflow_state_name(u->state) : "(check)");
	return st;
}

static orc_status tr_get_task(orc_task_rec *out, orc_backend *b,
			      const char *wf_id, const char *task_id,
			      uint32_t flags, orc_error *err)
{
	orc_status st;

	tr_begin(TR(b));
	st = TR(b)->inner->get_task(out, TR(b)->inner, wf_id, task_id, flags,
				    err);
	tr_end(TR(b), "get_task", task_id, flags & ORC_LIST_PAYLOADS ?
	       "with payloads" : "");
	return st;
}

static orc_status tr_update_task(orc_backend *b, const char *wf_id,
				 const char *task_id, const orc_task_update *u,
				 orc_task_rec *out, orc_error *err)
{
	char d[64];
	orc_status st;

	tr_begin(TR(b));
	st = TR(b)->inner->update_task(TR(b)->inner, wf_id, task_id, u, out,
				       err);
	snprintf(d, sizeof(d), "%s%s%s%s%s",
		 u->set & ORC_SET_STATE ? "-> " : "",
		 u->set & ORC_SET_STATE ? orc_task_state_name(u->state) : "",
		 u->set & ORC_SET_DONE_DEP ? " dep " : "",
		 u->set & ORC_SET_DONE_DEP ? u->done_dep : "",
		 u->set & ORC_SET_PROMOTE ? " +promote" : "");
	tr_end(TR(b), "update_task", task_id, d);
	return st;
}

static orc_status tr_list_tasks(orc_backend *b, const char *wf_id,
				uint32_t states, uint32_t flags,
				orc_task_rec_cb cb, void *payload,
				orc_error *err)
{
	orc_status st;

	tr_begin(TR(b));
	st = TR(b)->inner->list_tasks(TR(b)->inner, wf_id, states, flags, cb,
				      payload, err);
	tr_end(TR(b), "list_tasks", NULL, states ==
	       ORC_TASK_BIT(ORC_TASK_READY) ? "READY" : states ? "some states"
	       : "all");
	return st;
}

static orc_status tr_get_lock(orc_lock_rec *out, orc_backend *b,
			      const char *name, orc_error *err)
{
	return TR(b)->inner->get_lock(out, TR(b)->inner, name, err);
}

static orc_status tr_put_lock(orc_backend *b, const orc_lock_rec *rec,
			      int64_t expected, orc_error *err)
{
	return TR(b)->inner->put_lock(TR(b)->inner, rec, expected, err);
}

static void tr_free(orc_backend *b)
{
	(void)b;   /* the test frees the inner backend */
}

static void trace_init(struct trace *t, orc_backend *inner,
		       struct proxy *px)
{
	memset(t, 0, sizeof(*t));
	orc_backend_init(&t->parent, ORC_BACKEND_VERSION);
	t->parent.name = "trace";
	t->parent.create_workflow = tr_create_workflow;
	t->parent.get_workflow = tr_get_workflow;
	t->parent.update_workflow = tr_update_workflow;
	t->parent.get_task = tr_get_task;
	t->parent.update_task = tr_update_task;
	t->parent.list_tasks = tr_list_tasks;
	t->parent.get_lock = tr_get_lock;
	t->parent.put_lock = tr_put_lock;
	t->parent.free = tr_free;
	t->inner = inner;
	t->px = px;
}

/*
 * The budget for A -> (B1, B2, B3) -> C is 2 * tasks + edges + 2
 * = 19 requests, everything included. This prints where each request
 * goes (run with --verbose, or see the test log) and holds the count to
 * what the engine and this backend spend today, so that it only goes
 * down.
 */
#define SEED_RUN_REQUESTS_MAX 19

static void test_dynamodb__seed_run_request_count(void **state)
{
	struct fixture f;
	struct trace t;
	orc_run_result res;
	orc_dynamodb_stats s;
	const char *line, *nl;
	int k;

	(void)state;
	fixture_open(&f, 3);
	trace_init(&t, f.viaproxy, &f.px);
	memset(&res, 0, sizeof(res));
	run_seed(&t.parent, "wf-count", 0, &res);
	assert_int_equal(res.state, ORC_WORKFLOW_SUCCEEDED);
	orc_run_result_clear(&res);
	s = ddb_stats(f.viaproxy);
	print_message("# seed run: %d requests in %d backend calls\n",
		      t.requests, t.calls);
	/* Line by line: cmocka cuts long messages. */
	for (line = t.log; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		print_message("# %.*s\n", (int)(nl - line), line);
	}
	for (k = 0; k < OP_KINDS; k++)
		print_message("#   %-14s %d\n", ddb_op_names[k], f.px.by_op[k]);
	/* Every request the client sent reached the proxy, none retried. */
	assert_int_equal((int)s.requests, f.px.requests);
	assert_int_equal(t.requests, f.px.requests);
	assert_int_equal((int)s.retries, 0);
	if (t.requests > SEED_RUN_REQUESTS_MAX)
		fail_msg("%d requests, more than %d", t.requests,
			 SEED_RUN_REQUESTS_MAX);
	fixture_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dynamodb__engine_runs_the_seed_dag),
		cmocka_unit_test(test_dynamodb__seed_run_request_count),
		cmocka_unit_test(test_dynamodb__start_cut_after_the_record),
		cmocka_unit_test(test_dynamodb__dependency_hints_never_decide),
		cmocka_unit_test(test_dynamodb__ids_that_look_like_expressions),
		cmocka_unit_test(
			test_dynamodb__item_limit_checked_before_sending),
		cmocka_unit_test(test_dynamodb__pagination_over_one_megabyte),
		cmocka_unit_test(test_dynamodb__many_workflows_listed),
		cmocka_unit_test(test_dynamodb__request_counter),
		cmocka_unit_test(test_dynamodb__create_table_and_options),
		cmocka_unit_test(
			test_dynamodb__applied_then_dropped_is_not_a_conflict),
		cmocka_unit_test(
			test_dynamodb__throttling_retried_then_reported),
	};

	return cmocka_run_group_tests_name("dynamodb", tests, ddb_setup,
					   ddb_teardown);
}
