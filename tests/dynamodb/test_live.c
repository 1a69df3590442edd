/*
 * Live workflows and expiry on DynamoDB (dynalite): reconcile of a whole
 * table reads the live workflows only (the sparse index orc-live), every
 * request and every item read counted by the proxy; a table made
 * without the index (the seed's stack) still works, by a Scan; finished
 * workflows carry their ttl, written by the write that ends them.
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

#include <jansson.h>

#include "internal.h"
#include "aws/client.h"
#include "ddb_support.h"
#include "dynalite.h"
#include "support/testutil.h"

#define FINISHED 1000
#define LIVE 10

orc__aws_client *orc__dynamodb_client(orc_backend *b);

/* One raw DynamoDB call through @p b's client; the answer's body. */
static json_t *raw(orc_backend *b, const char *op, json_t *req)
{
	orc__aws_reply rep;
	json_t *resp;
	char *body = json_dumps(req, JSON_COMPACT);

	json_decref(req);
	assert_non_null(body);
	memset(&rep, 0, sizeof(rep));
	CHECK(ORC_OK, orc__aws_call(&rep, orc__dynamodb_client(b), op, body,
				    strlen(body), E));
	free(body);
	resp = json_loads(rep.body.data ? rep.body.data : "{}", 0, NULL);
	orc__aws_reply_clear(&rep);
	assert_non_null(resp);
	return resp;
}

/* A table as the seed's stack makes it: keys pk and sk, no index. */
static void seed_stack_table(char *name, size_t cap)
{
	static int n;
	orc_backend *b;

	snprintf(name, cap, "seedstack-%ld-%d", (long)getpid(), n++);
	b = ddb_open_on(name, NULL, 0);
	json_decref(raw(b, "CreateTable", json_pack(
		"{s:s,s:[{s:s,s:s},{s:s,s:s}],s:[{s:s,s:s},{s:s,s:s}],s:s}",
		"TableName", name, "AttributeDefinitions",
		"AttributeName", "pk", "AttributeType", "S",
		"AttributeName", "sk", "AttributeType", "S",
		"KeySchema", "AttributeName", "pk", "KeyType", "HASH",
		"AttributeName", "sk", "KeyType", "RANGE",
		"BillingMode", "PAY_PER_REQUEST")));
	/* CREATING at first, even on dynalite: wait for ACTIVE. */
	for (;;) {
		json_t *d = raw(b, "DescribeTable", json_pack("{s:s}",
							      "TableName",
							      name));
		const char *st = json_string_value(json_object_get(
			json_object_get(d, "Table"), "TableStatus"));
		int active = st && strcmp(st, "ACTIVE") == 0;

		json_decref(d);
		if (active)
			break;
		orc__sleep_ms(20);
	}
	orc_backend_free(b);
}

/* @p finished workflows that ended (no tasks: a record and its end) and
 * @p live ones started by the engine on the seed DAG. */
static void populate(orc_backend *b, int finished, int live)
{
	orc_workflow_update u;
	orc_context *ctx = NULL;
	orc_dag *dag = test_seed_dag(NULL);
	int i;

	assert_non_null(dag);
	memset(&u, 0, sizeof(u));
	u.if_version = -1;
	u.set = ORC_WSET_STATE;
	u.state = ORC_WORKFLOW_SUCCEEDED;
	u.now_ms = orc__now_ms();
	for (i = 0; i < finished; i++) {
		orc_workflow_rec wf;

		memset(&wf, 0, sizeof(wf));
		snprintf(wf.id, sizeof(wf.id), "done-%04d", i);
		wf.state = ORC_WORKFLOW_RUNNING;
		wf.created_ms = wf.updated_ms = u.now_ms;
		wf.definition = "{}";
		CHECK(ORC_OK, b->create_workflow(b, &wf, NULL, 0, E));
		CHECK(ORC_OK, b->update_workflow(b, wf.id, &u, NULL, E));
	}
	CHECK(ORC_OK, orc_context_create(&ctx, b, NULL, E));
	for (i = 0; i < live; i++) {
		char id[32];

		snprintf(id, sizeof(id), "live-%02d", i);
		CHECK(ORC_OK, orc_workflow_start(ctx, id, dag, "{}", E));
	}
	orc_context_free(ctx);
	orc_dag_free(dag);
}

struct seen {
	int n, failed, not_live;
};

static int on_reconciled(const char *wf_id, orc_status st,
			 const orc_reconcile_report *rep, const orc_error *err,
			 void *payload)
{
	struct seen *s = payload;

	(void)err;
	s->n++;
	if (st != ORC_OK || rep->state != ORC_WORKFLOW_RUNNING)
		s->failed++;
	if (strncmp(wf_id, "live-", 5) != 0)
		s->not_live++;
	return 0;
}

struct cost {
	int requests, items, by_op[OP_KINDS];
};

static struct cost cost_since(const struct proxy *px, const struct cost *c0)
{
	struct cost c;
	int k;

	c.requests = px->requests - c0->requests;
	c.items = px->items_read - c0->items;
	for (k = 0; k < OP_KINDS; k++)
		c.by_op[k] = px->by_op[k] - c0->by_op[k];
	return c;
}

static struct cost cost_now(const struct proxy *px)
{
	struct cost z;

	memset(&z, 0, sizeof(z));
	return cost_since(px, &z);
}

static void print_cost(const char *what, const struct cost *c)
{
	int k;

	print_message("# %s: %d requests, %d items read\n", what, c->requests,
		      c->items);
	for (k = 0; k < OP_KINDS; k++)
		if (c->by_op[k])
			print_message("#   %-14s %d\n", ddb_op_names[k],
				      c->by_op[k]);
}

/* orc_workflow_reconcile_live() over the table behind @p f's proxy. */
static struct cost reconcile_all(struct fixture *f, struct seen *s)
{
	struct cost c0 = cost_now(&f->px);
	orc_context *ctx = NULL;
	size_t n = 0;

	memset(s, 0, sizeof(*s));
	CHECK(ORC_OK, orc_context_create(&ctx, f->viaproxy, NULL, E));
	CHECK(ORC_OK, orc_workflow_reconcile_live(&n, ctx, on_reconciled, s,
						  E));
	orc_context_free(ctx);
	assert_int_equal((int)n, s->n);
	return cost_since(&f->px, &c0);
}

/* What one reconcile of one just-started workflow costs, in a fresh
 * context (as reconcile_all uses): the unit the whole pass is made of. */
static struct cost reconcile_one(struct fixture *f, const char *wf_id)
{
	struct cost c0 = cost_now(&f->px);
	orc_reconcile_report rep;
	orc_context *ctx = NULL;

	CHECK(ORC_OK, orc_context_create(&ctx, f->viaproxy, NULL, E));
	CHECK(ORC_OK, orc_workflow_reconcile(&rep, ctx, wf_id, E));
	orc_context_free(ctx);
	assert_int_equal(rep.state, ORC_WORKFLOW_RUNNING);
	return cost_since(&f->px, &c0);
}

/* 1,000 finished and 10 live workflows: one reconcile of the table is
 * one Query of the index plus the 10 workflows' own reconciles, and
 * reads 10 index entries plus what those reconciles read: no finished
 * workflow is read at all. */
static void test_live__reconcile_reads_live_only(void **state)
{
	struct cost one, all;
	struct fixture f;
	struct seen s;
	int k;

	(void)state;
	fixture_open(&f, 3);
	populate(f.direct, FINISHED, LIVE);
	one = reconcile_one(&f, "live-00");
	all = reconcile_all(&f, &s);
	print_cost("one workflow's reconcile", &one);
	print_cost("reconcile of 1000 finished + 10 live, index", &all);
	assert_int_equal(s.n, LIVE);
	assert_int_equal(s.failed, 0);
	assert_int_equal(s.not_live, 0);
	assert_int_equal(all.requests, 1 + LIVE * one.requests);
	assert_int_equal(all.items, LIVE + LIVE * one.items);
	for (k = 0; k < OP_KINDS; k++)
		assert_int_equal(all.by_op[k], (k == OP_QUERY) +
				 LIVE * one.by_op[k]);
	assert_int_equal(all.by_op[OP_SCAN], 0);
	fixture_close(&f);
}

/* The same on a table made by the seed's stack (no index): the same
 * workflows are reconciled, found by a Scan that reads every item. */
static void test_live__table_without_index_scans(void **state)
{
	struct fixture f;
	struct cost all, again;
	char t[64], url[64];
	struct seen s;
	orc_workflow_update u;

	(void)state;
	fixture_open(&f, 3);
	/* The fixture's table is not used: both backends move. */
	orc_backend_free(f.direct);
	orc_backend_free(f.viaproxy);
	seed_stack_table(t, sizeof(t));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", lb_port(f.srv));
	f.direct = ddb_open_on(t, NULL, 0);
	f.viaproxy = ddb_open_on(t, url, 3);
	populate(f.direct, FINISHED, LIVE);
	all = reconcile_all(&f, &s);
	print_cost("reconcile of 1000 finished + 10 live, no index (Scan)",
		   &all);
	assert_int_equal(s.n, LIVE);
	assert_int_equal(s.failed, 0);
	assert_int_equal(s.not_live, 0);
	/* Every item of the table: each record, and the live ones' tasks
	 * (5 each), whatever is live. */
	assert_true(all.items >= FINISHED + LIVE * 6);
	assert_true(all.by_op[OP_SCAN] >= 1);
	/* The index was tried once, found missing, and not asked again. */
	memset(&u, 0, sizeof(u));
	u.if_version = -1;
	u.set = ORC_WSET_STATE;
	u.state = ORC_WORKFLOW_CANCELED;
	u.now_ms = orc__now_ms();
	CHECK(ORC_OK, f.direct->update_workflow(f.direct, "live-03", &u, NULL,
						E));
	again = reconcile_all(&f, &s);
	assert_int_equal(s.n, LIVE - 1);
	/* The first pass: one Query of the index (refused) and each
	 * workflow's own; the second: the workflows' own only. */
	assert_int_equal(again.by_op[OP_QUERY] * LIVE,
			 (all.by_op[OP_QUERY] - 1) * (LIVE - 1));
	fixture_close(&f);
}

static json_t *get_record(orc_backend *b, const char *table, const char *id)
{
	char pk[64];
	json_t *resp, *item;

	snprintf(pk, sizeof(pk), "WORKFLOW#%s", id);
	resp = raw(b, "GetItem", json_pack(
		"{s:s,s:{s:{s:s},s:{s:s}},s:b}", "TableName", table, "Key",
		"pk", "S", pk, "sk", "S", "META#WORKFLOW", "ConsistentRead",
		1));
	item = json_incref(json_object_get(resp, "Item"));
	json_decref(resp);
	assert_non_null(item);
	return item;
}

static int64_t attr_n(const json_t *item, const char *name)
{
	const char *v = json_string_value(json_object_get(
		json_object_get(item, name), "N"));

	return v ? strtoll(v, NULL, 10) : -1;
}

static orc_backend *open_retention(const char *table, int64_t retention_ms)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	orc_backend *b = NULL;

	o.table = table;
	o.retention_ms = retention_ms;
	CHECK(ORC_OK, orc_dynamodb_backend_open(&b, &o, E));
	return b;
}

/* The write that ends a workflow sets ttl (now + retention, epoch
 * seconds) and takes it out of the index; a live record has no ttl. It
 * costs no request more. */
static void test_live__ttl_written_when_finished(void **state)
{
	static const struct {
		int64_t retention_ms, want_s;  /* -1: no ttl */
	} cases[] = {
		{ 0, 30LL * 24 * 3600 },
		{ 3600 * 1000, 3600 },
		{ -1, -1 },
	};
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	orc_workflow_update u;
	orc_backend *b = NULL;
	char t[64], id[16];
	size_t i;

	(void)state;
	ddb_fresh_table(t, sizeof(t));
	memset(&u, 0, sizeof(u));
	u.if_version = -1;
	u.set = ORC_WSET_STATE;
	u.state = ORC_WORKFLOW_FAILED;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		orc_dynamodb_stats s0, s1;
		orc_workflow_rec wf;
		json_t *item;
		int64_t before, after;

		b = open_retention(t, cases[i].retention_ms);
		snprintf(id, sizeof(id), "ttl-%zu", i);
		memset(&wf, 0, sizeof(wf));
		snprintf(wf.id, sizeof(wf.id), "%s", id);
		wf.state = ORC_WORKFLOW_RUNNING;
		wf.definition = "{}";
		CHECK(ORC_OK, b->create_workflow(b, &wf, NULL, 0, E));
		item = get_record(b, t, id);
		assert_int_equal(attr_n(item, "ttl"), -1);
		assert_string_equal(json_string_value(json_object_get(
			json_object_get(item, "live"), "S")), "WORKFLOW");
		json_decref(item);
		s0 = ddb_stats(b);
		before = orc__now_ms() / 1000;
		u.now_ms = orc__now_ms();
		CHECK(ORC_OK, b->update_workflow(b, id, &u, NULL, E));
		after = orc__now_ms() / 1000;
		s1 = ddb_stats(b);
		assert_int_equal(s1.requests - s0.requests, 1);
		item = get_record(b, t, id);
		assert_null(json_object_get(item, "live"));
		if (cases[i].want_s < 0) {
			assert_int_equal(attr_n(item, "ttl"), -1);
		} else {
			assert_true(attr_n(item, "ttl") >=
				    before + cases[i].want_s);
			assert_true(attr_n(item, "ttl") <=
				    after + cases[i].want_s);
		}
		json_decref(item);
		/* Live again: back in the index, the expiry gone. */
		u.state = ORC_WORKFLOW_RUNNING;
		CHECK(ORC_OK, b->update_workflow(b, id, &u, NULL, E));
		u.state = ORC_WORKFLOW_FAILED;
		item = get_record(b, t, id);
		assert_int_equal(attr_n(item, "ttl"), -1);
		assert_non_null(json_object_get(item, "live"));
		json_decref(item);
		orc_backend_free(b);
	}
	/* Out of range: refused, nothing opened. */
	o.table = t;
	o.retention_ms = -2;
	b = (orc_backend *)&o;
	CHECK_MSG(ORC_EINVAL, orc_dynamodb_backend_open(&b, &o, E));
	assert_null(b);
	o.retention_ms = 101LL * 366 * 24 * 3600 * 1000;
	CHECK_MSG(ORC_EINVAL, orc_dynamodb_backend_open(&b, &o, E));
	assert_null(b);
}

static int count_cb(const orc_task_rec *r, void *p)
{
	(void)r;
	(*(int *)p)++;
	return 0;
}

/* dynalite has no TransactWriteItems: a backend left to find out
 * (ORC_DYNAMODB_TXN_AUTO) asks once, at its first start, is refused with
 * nothing written, seeds record first, and does not ask again. */
static void test_live__transactions_refused_once(void **state)
{
	static const char *const a[] = { "A" };
	const orc_task_seed t[3] = { { "A", 0, NULL, NULL },
				     { "B", 1, a, NULL },
				     { "C", 1, a, NULL } };
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	orc_backend *b = NULL;
	orc_dynamodb_stats s0, s1;
	char table[64];
	int round;

	(void)state;
	ddb_fresh_table(table, sizeof(table));
	o.table = table;
	CHECK(ORC_OK, orc_dynamodb_backend_open(&b, &o, E));
	for (round = 0; round < 3; round++) {
		orc_workflow_rec wf;
		int n = 0;

		memset(&wf, 0, sizeof(wf));
		snprintf(wf.id, sizeof(wf.id), "wf-auto-%d", round);
		wf.state = ORC_WORKFLOW_RUNNING;
		wf.definition = "{}";
		s0 = ddb_stats(b);
		CHECK(ORC_OK, b->create_workflow(b, &wf, t, 3, E));
		s1 = ddb_stats(b);
		/* The refused TransactWriteItems, then PutItem and one
		 * BatchWriteItem; from then on the last two only. */
		assert_int_equal((int)(s1.requests - s0.requests),
				 round == 0 ? 3 : 2);
		assert_int_equal((int)(s1.retries - s0.retries), 0);
		CHECK(ORC_OK, b->list_tasks(b, wf.id, 0, 0, count_cb, &n, E));
		assert_int_equal(n, 3);
	}
	orc_backend_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live__reconcile_reads_live_only),
		cmocka_unit_test(test_live__table_without_index_scans),
		cmocka_unit_test(test_live__ttl_written_when_finished),
		cmocka_unit_test(test_live__transactions_refused_once),
	};

	return cmocka_run_group_tests_name("dynamodb_live", tests, ddb_setup,
					   ddb_teardown);
}
