/*
 * Seeding in one TransactWriteItems, against moto (which has it; dynalite
 * has not, see test_live.c), every request counted by the proxy of
 * ddb_support.c in front of moto: the seed run takes one request to
 * seed instead of two; a transaction applied whose answer is lost, and
 * sent again, rewrites no task that moved on in between; a workflow of
 * 100 tasks or more is seeded record first; the option and environment
 * variable that turn it off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "aws/client.h"
#include "ddb_support.h"
#include "support/moto.h"
#include "support/testutil.h"

/* The engine's seed run on dynalite (test_dynamodb.c), less the batch
 * that the transaction replaces. */
#define SEED_RUN_TXN_MAX 18

orc__aws_client *orc__dynamodb_client(orc_backend *b);

/* The proxy in front of moto, and a backend that seeds with
 * transactions through it (the fixture's own backends do not). */
static orc_backend *moto_fixture(struct fixture *f)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	orc_backend *b = NULL;
	orc__aws_client *c;
	char url[64];

	fixture_open(f, 3);
	f->px.upstream_port = moto_port();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", lb_port(f->srv));
	o.table = f->table;
	o.endpoint = url;
	CHECK(ORC_OK, orc_dynamodb_backend_open(&b, &o, E));
	c = orc__dynamodb_client(b);
	c->base_delay_ms = 1;
	c->throttle_delay_ms = 2;
	return b;
}

static void print_ops(const char *what, const struct proxy *px)
{
	int k;

	print_message("# %s: %d requests\n", what, px->requests);
	for (k = 0; k < OP_KINDS; k++)
		if (px->by_op[k])
			print_message("#   %-14s %d\n", ddb_op_names[k],
				      px->by_op[k]);
}

static void reset_counts(struct proxy *px)
{
	px->requests = 0;
	memset(px->by_op, 0, sizeof(px->by_op));
}

static orc_status handler(orc_handler_call *call, void *payload)
{
	char out[64];

	(void)payload;
	snprintf(out, sizeof(out), "{\"t\":\"%s\"}", orc_call_task_id(call));
	return orc_call_set_output(call, out, NULL);
}

/* The seed workflow run by the runner: its one seeding request is a
 * TransactWriteItems ("other" below), no PutItem, no BatchWriteItem. */
static void test_txn__seed_run_seeds_in_one_request(void **state)
{
	static const char *const ids[] = { "A", "B1", "B2", "B3", "C" };
	orc_runner_options ro = ORC_RUNNER_OPTIONS_INIT;
	orc_dag *dag = test_seed_dag(NULL);
	orc_runner *r = NULL;
	orc_run_result res;
	struct fixture f;
	orc_backend *b;
	int i;

	(void)state;
	b = moto_fixture(&f);
	reset_counts(&f.px);
	CHECK(ORC_OK, orc_runner_create(&r, b, &ro, E));
	for (i = 0; i < 5; i++)
		CHECK(ORC_OK, orc_runner_register(r, ids[i], handler, NULL,
						  E));
	memset(&res, 0, sizeof(res));
	CHECK(ORC_OK, orc_runner_run(&res, r, "wf-seed", dag, "{}", E));
	assert_int_equal(res.state, ORC_WORKFLOW_SUCCEEDED);
	orc_run_result_clear(&res);
	orc_runner_free(r);
	orc_dag_free(dag);
	print_ops("seed run on moto", &f.px);
	assert_int_equal(f.px.by_op[OP_OTHER], 1);
	assert_int_equal(f.px.by_op[OP_PUT], 0);
	assert_int_equal(f.px.by_op[OP_BATCH], 0);
	assert_true(f.px.requests <= SEED_RUN_TXN_MAX);
	orc_backend_free(b);
	fixture_close(&f);
}

struct intruder {
	orc_backend *b;
	const char *wf_id;
	int done;
};

/* Between the applied attempt and its resend, another worker claims A. */
static void claim_a(void *ud)
{
	struct intruder *in = ud;
	orc_task_update u;

	memset(&u, 0, sizeof(u));
	u.if_states = ORC_TASK_BIT(ORC_TASK_READY);
	u.if_version = 1;
	u.set = ORC_SET_STATE | ORC_SET_LEASE | ORC_SET_ATTEMPT;
	u.state = ORC_TASK_RUNNING;
	u.attempt = 1;
	u.owner = "intruder";
	u.lease_expiry_ms = orc__now_ms() + 600000;
	u.now_ms = orc__now_ms();
	CHECK(ORC_OK, in->b->update_task(in->b, in->wf_id, "A", &u, NULL, E));
	in->done++;
}

/* The transaction is applied, its answer lost (connection dropped, or
 * a 500), and the client sends it again: the resend writes nothing (the
 * record is there), the wid read back says the start was ours, and A,
 * claimed in between, keeps its claim. A second start is EEXISTS and
 * changes nothing either. */
static void test_txn__resend_after_applied_rewrites_nothing(void **state)
{
	static const enum fault faults[] = { FWD_DROP, FWD_500 };
	orc_dag *dag = test_seed_dag(NULL);
	orc_context *ctx = NULL;
	struct fixture f;
	orc_backend *b;
	size_t i;

	(void)state;
	b = moto_fixture(&f);
	CHECK(ORC_OK, orc_context_create(&ctx, b, NULL, E));
	for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		static const char *const a[] = { "A" };
		static const char *const bs[] = { "B1", "B2", "B3" };
		const orc_task_seed seeds[5] = { { "A", 0, NULL, "A" },
			{ "B1", 1, a, "B1" }, { "B2", 1, a, "B2" },
			{ "B3", 1, a, "B3" }, { "C", 3, bs, "C" } };
		struct intruder in = { f.direct, NULL, 0 };
		orc_workflow_rec wf;
		orc_dynamodb_stats s0 = ddb_stats(b), s1;
		char id[16];
		orc_task_rec r;
		int k;

		snprintf(id, sizeof(id), "wf-resend-%zu", i);
		in.wf_id = id;
		f.px.after_applied = claim_a;
		f.px.after_applied_ud = &in;
		fixture_arm(&f, "TransactWriteItems", faults[i], 1);
		CHECK(ORC_OK, orc_workflow_start(ctx, id, dag, "{}", E));
		s1 = ddb_stats(b);
		assert_int_equal(f.px.faults_done, 1);
		assert_int_equal(in.done, 1);
		assert_true(s1.retries - s0.retries >= 1);
		memset(&r, 0, sizeof(r));
		CHECK(ORC_OK, f.direct->get_task(&r, f.direct, id, "A", 0, E));
		assert_int_equal(r.state, ORC_TASK_RUNNING);
		assert_int_equal(r.version, 2);
		assert_string_equal(r.owner, "intruder");
		for (k = 1; k <= 4; k++) {
			static const char *const rest[] = { "", "B1", "B2",
							    "B3", "C" };

			CHECK(ORC_OK, f.direct->get_task(&r, f.direct, id,
							 rest[k], 0, E));
			assert_int_equal(r.state, ORC_TASK_PENDING);
			assert_int_equal(r.version, 1);
		}
		f.px.after_applied = NULL;
		memset(&wf, 0, sizeof(wf));
		snprintf(wf.id, sizeof(wf.id), "%s", id);
		wf.state = ORC_WORKFLOW_RUNNING;
		wf.definition = "{}";
		s0 = ddb_stats(b);
		CHECK_MSG(ORC_EEXISTS, b->create_workflow(b, &wf, seeds, 5,
							  E));
		s1 = ddb_stats(b);
		/* The refused transaction, and the read of whose record it
		 * is. */
		assert_int_equal((int)(s1.requests - s0.requests), 2);
		CHECK(ORC_OK, f.direct->get_task(&r, f.direct, id, "A", 0, E));
		assert_int_equal(r.version, 2);
		assert_string_equal(r.owner, "intruder");
	}
	orc_context_free(ctx);
	orc_dag_free(dag);
	orc_backend_free(b);
	fixture_close(&f);
}

/* A flat workflow of @p n tasks, seeded through @p b. */
static void create_flat(orc_backend *b, const char *wf_id, size_t n)
{
	orc_task_seed *t = calloc(n, sizeof(*t));
	char (*ids)[16] = calloc(n, sizeof(*ids));
	orc_workflow_rec wf;
	size_t i;

	assert_non_null(t);
	assert_non_null(ids);
	for (i = 0; i < n; i++) {
		snprintf(ids[i], sizeof(ids[i]), "t%03zu", i);
		t[i].id = ids[i];
	}
	memset(&wf, 0, sizeof(wf));
	snprintf(wf.id, sizeof(wf.id), "%s", wf_id);
	wf.state = ORC_WORKFLOW_RUNNING;
	wf.ntasks = (uint32_t)n;
	wf.definition = "{}";
	CHECK(ORC_OK, b->create_workflow(b, &wf, t, n, E));
	free(ids);
	free(t);
}

static int count_cb(const orc_task_rec *r, void *p)
{
	(void)r;
	(*(int *)p)++;
	return 0;
}

/* A transaction holds 100 items: the record and 99 tasks. A workflow of
 * 100 tasks or more is seeded record first, in batches of 25. */
static void test_txn__over_99_tasks_record_first(void **state)
{
	struct fixture f;
	orc_backend *b;
	int n = 0;

	(void)state;
	b = moto_fixture(&f);
	reset_counts(&f.px);
	create_flat(b, "wf-99", 99);
	assert_int_equal(f.px.requests, 1);
	assert_int_equal(f.px.by_op[OP_OTHER], 1);
	CHECK(ORC_OK, b->list_tasks(b, "wf-99", 0, 0, count_cb, &n, E));
	assert_int_equal(n, 99);
	reset_counts(&f.px);
	create_flat(b, "wf-100", 100);
	print_ops("seeding 100 tasks", &f.px);
	assert_int_equal(f.px.by_op[OP_OTHER], 0);
	assert_int_equal(f.px.by_op[OP_PUT], 1);
	assert_int_equal(f.px.by_op[OP_BATCH], 4);
	n = 0;
	CHECK(ORC_OK, b->list_tasks(b, "wf-100", 0, 0, count_cb, &n, E));
	assert_int_equal(n, 100);
	orc_backend_free(b);
	fixture_close(&f);
}

/* ORC_DYNAMODB_TXN_OFF and ORC_DYNAMODB_TRANSACTIONS=off: record first
 * on a server that has transactions; any other value is refused. */
static void test_txn__turned_off(void **state)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	struct fixture f;
	orc_backend *b, *off = NULL;
	char url[64];
	int round;

	(void)state;
	b = moto_fixture(&f);
	orc_backend_free(b);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", lb_port(f.srv));
	o.table = f.table;
	o.endpoint = url;
	for (round = 0; round < 2; round++) {
		char id[16];

		if (round == 0)
			o.transactions = ORC_DYNAMODB_TXN_OFF;
		else
			setenv("ORC_DYNAMODB_TRANSACTIONS", "off", 1);
		CHECK(ORC_OK, orc_dynamodb_backend_open(&off, &o, E));
		o.transactions = ORC_DYNAMODB_TXN_AUTO;
		reset_counts(&f.px);
		snprintf(id, sizeof(id), "wf-off-%d", round);
		create_flat(off, id, 3);
		assert_int_equal(f.px.by_op[OP_OTHER], 0);
		assert_int_equal(f.px.by_op[OP_PUT], 1);
		assert_int_equal(f.px.by_op[OP_BATCH], 1);
		orc_backend_free(off);
		off = NULL;
	}
	unsetenv("ORC_DYNAMODB_TRANSACTIONS");
	o.transactions = 2;
	CHECK_MSG(ORC_EINVAL, orc_dynamodb_backend_open(&off, &o, E));
	assert_null(off);
	fixture_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txn__seed_run_seeds_in_one_request),
		cmocka_unit_test(
			test_txn__resend_after_applied_rewrites_nothing),
		cmocka_unit_test(test_txn__over_99_tasks_record_first),
		cmocka_unit_test(test_txn__turned_off),
	};

	return MOTO_RUN_GROUP("dynamodb_txn", tests, NULL, NULL);
}
