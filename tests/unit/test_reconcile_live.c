/*
 * orc_workflow_reconcile_live on the memory backend: every live workflow
 * is reconciled once, in id order, over several pages of list_live, and
 * its repairs are made (an expired lease); ended workflows are left
 * alone; a backend without list_live is served through list_workflows;
 * a callback stops the pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "orchestra/backend.h"
#include "orchestra/backends.h"
#include "orchestra/orchestra.h"
#include "support/check.h"
#include "support/checked_backend.h"
#include "support/testutil.h"

#define NOW 1700000000000LL
/* More than the pass's page of 100 ids. */
#define LIVE 250
#define ENDED 40

struct pass {
	int n, expired_each, out_of_order, failed, stop_at;
	char last[ORC_ID_MAX + 1];
};

static int on_one(const char *wf_id, orc_status st,
		  const orc_reconcile_report *rep, const orc_error *err,
		  void *payload)
{
	struct pass *p = payload;

	(void)err;
	if (st != ORC_OK)
		p->failed++;
	else if (rep->expired == 1 && rep->state == ORC_WORKFLOW_RUNNING)
		p->expired_each++;
	if (strcmp(wf_id, p->last) <= 0)
		p->out_of_order++;
	snprintf(p->last, sizeof(p->last), "%s", wf_id);
	p->n++;
	return p->stop_at && p->n == p->stop_at;
}

/* LIVE workflows whose task A was claimed and whose lease has expired
 * by clock->now, and ENDED canceled ones, on @p b. */
static void populate(orc_backend *b, test_clock *clock)
{
	orc_context_options co = ORC_CONTEXT_OPTIONS_INIT;
	orc_dag *dag = test_seed_dag(NULL);
	orc_context *ctx = NULL;
	char id[32];
	int i;

	co.clock = test_clock_now;
	co.clock_payload = clock;
	CHECK(ORC_OK, orc_context_create(&ctx, b, &co, E));
	for (i = 0; i < LIVE + ENDED; i++) {
		orc_claim cl;

		/* Ids not in start order: the pass sorts them. */
		snprintf(id, sizeof(id), "wf-%03d", (i * 7) % (LIVE + ENDED));
		CHECK(ORC_OK, orc_workflow_start(ctx, id, dag, "{}", E));
		CHECK(ORC_OK, orc_workflow_claim(&cl, ctx, id, "gone", 1000,
						 E));
		if ((i * 7) % (LIVE + ENDED) >= LIVE)
			CHECK(ORC_OK, orc_workflow_cancel(ctx, id, "test", E));
	}
	orc_context_free(ctx);
	orc_dag_free(dag);
	clock->now += 5000;
}

static void run_pass(orc_backend *b, test_clock *clock, struct pass *p)
{
	orc_context_options co = ORC_CONTEXT_OPTIONS_INIT;
	orc_context *ctx = NULL;
	size_t n = 0;

	co.clock = test_clock_now;
	co.clock_payload = clock;
	CHECK(ORC_OK, orc_context_create(&ctx, b, &co, E));
	CHECK(ORC_OK, orc_workflow_reconcile_live(&n, ctx, on_one, p, E));
	assert_int_equal((int)n, p->n);
	orc_context_free(ctx);
}

static void test_reconcile_live__every_live_workflow_once(void **state)
{
	test_clock clock = { NOW };
	orc_backend *b = NULL;
	struct pass p;

	(void)state;
	CHECK(ORC_OK, orc_memory_backend_create(&b, NULL, E));
	populate(b, &clock);
	memset(&p, 0, sizeof(p));
	run_pass(b, &clock, &p);
	assert_int_equal(p.n, LIVE);
	assert_int_equal(p.failed, 0);
	assert_int_equal(p.out_of_order, 0);
	assert_int_equal(p.expired_each, LIVE);
	assert_string_equal(p.last, "wf-249");
	/* Repaired: a second pass finds nothing expired. */
	memset(&p, 0, sizeof(p));
	run_pass(b, &clock, &p);
	assert_int_equal(p.n, LIVE);
	assert_int_equal(p.expired_each, 0);
	/* The callback stops it, across a page boundary or not. */
	memset(&p, 0, sizeof(p));
	p.stop_at = 150;
	run_pass(b, &clock, &p);
	assert_int_equal(p.n, 150);
	orc_backend_free(b);
}

/* Without list_live (a backend of version 3, say): every workflow is
 * listed with list_workflows and the live ones reconciled. */
static void test_reconcile_live__falls_back_to_list_workflows(void **state)
{
	test_clock clock = { NOW };
	orc_backend *inner = NULL, *b;
	checked_backend *ck;
	struct pass p;

	(void)state;
	CHECK(ORC_OK, orc_memory_backend_create(&inner, NULL, E));
	ck = checked_backend_create(inner);
	assert_non_null(ck);
	b = checked_backend_vtable(ck);
	assert_non_null(b->list_live);
	b->list_live = NULL;
	populate(b, &clock);
	memset(&p, 0, sizeof(p));
	run_pass(b, &clock, &p);
	assert_int_equal(p.n, LIVE);
	assert_int_equal(p.failed, 0);
	assert_int_equal(p.expired_each, LIVE);
	assert_int_equal((int)checked_backend_calls(ck, CK_LIST_WORKFLOWS),
			 1);
	/* Nothing to list with: said so. */
	b->list_workflows = NULL;
	{
		orc_context *ctx = NULL;

		CHECK(ORC_OK, orc_context_create(&ctx, b, NULL, E));
		CHECK_MSG(ORC_ENOTSUPPORTED, orc_workflow_reconcile_live(
				  NULL, ctx, NULL, NULL, E));
		CHECK_MSG(ORC_EINVAL, orc_workflow_reconcile_live(
				  NULL, NULL, NULL, NULL, E));
		orc_context_free(ctx);
	}
	checked_backend_free(ck);
	orc_backend_free(inner);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconcile_live__every_live_workflow_once),
		cmocka_unit_test(
			test_reconcile_live__falls_back_to_list_workflows),
	};

	return cmocka_run_group_tests_name("reconcile_live", tests, NULL,
					   NULL);
}
