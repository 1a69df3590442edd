/*
 * The in-process runner: handler registration, deterministic
 * single-thread runs with an injected clock, retries, failure, resume,
 * and multi-threaded runs checked by the checked backend.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "support/checked_backend.h"
#include "support/testutil.h"

typedef struct fixture {
	test_clock clock;
	orc_backend *mem;
	checked_backend *cb;
	orc_runner *runner;
	atomic_int calls[5];
	int fail_b2_times;     /* B2 fails its first N attempts */
	int slow_b1_ms;        /* B1 sleeps this long (real time) */
	char last_c_payload[1024];
	pthread_mutex_t lock;
} fixture;

static const char *const ids[] = { "A", "B1", "B2", "B3", "C" };

static int index_of(const char *id)
{
	int i;

	for (i = 0; i < 5; i++)
		if (strcmp(ids[i], id) == 0)
			return i;
	return -1;
}

static void advance(int64_t ms, void *payload)
{
	((fixture *)payload)->clock.now += ms;
}

static orc_status handler(orc_handler_call *call, void *payload)
{
	fixture *f = payload;
	const char *id = orc_call_task_id(call);
	int i = index_of(id);
	char out[64];

	atomic_fetch_add(&f->calls[i], 1);
	if (i == 1 && f->slow_b1_ms > 0) {
		struct timespec ts = { f->slow_b1_ms / 1000,
				       (f->slow_b1_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	if (i == 2 && orc_call_attempt(call) <= f->fail_b2_times) {
		orc_call_set_error(call, "boom attempt %d",
				   (int)orc_call_attempt(call));
		return ORC_EUSER;
	}
	if (i == 4) {
		pthread_mutex_lock(&f->lock);
		snprintf(f->last_c_payload, sizeof(f->last_c_payload), "%s",
			 orc_call_payload(call));
		pthread_mutex_unlock(&f->lock);
	}
	snprintf(out, sizeof(out), "{\"from\":\"%s\"}", id);
	return orc_call_set_output(call, out, NULL);
}

static int make_runner_lease(fixture *f, unsigned threads, int64_t lease)
{
	orc_runner_options o = ORC_RUNNER_OPTIONS_INIT;
	int i;

	orc_runner_free(f->runner);
	f->runner = NULL;
	o.threads = threads;
	o.lease_ms = lease;
	if (threads == 0) {
		o.clock = test_clock_now;
		o.clock_payload = &f->clock;
		o.idle = advance;
		o.idle_payload = f;
	}
	if (orc_runner_create(&f->runner, checked_backend_vtable(f->cb), &o,
			      NULL) != ORC_OK)
		return -1;
	for (i = 0; i < 5; i++)
		if (orc_runner_register(f->runner, ids[i], handler, f, NULL) !=
		    ORC_OK)
			return -1;
	return 0;
}

static int make_runner(fixture *f, unsigned threads)
{
	return make_runner_lease(f, threads, 0);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	f->clock.now = 1000000;
	pthread_mutex_init(&f->lock, NULL);
	if (orc_memory_backend_create(&f->mem, NULL, NULL) != ORC_OK)
		return -1;
	f->cb = checked_backend_create(f->mem);
	if (make_runner(f, 0) != 0)
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
	orc_runner_free(f->runner);
	checked_backend_free(f->cb);
	orc_backend_free(f->mem);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

static void test_runner__deterministic_run_succeeds(void **state)
{
	fixture *f = *state;
	orc_dag *dag = test_seed_dag(NULL);
	orc_run_result res;
	orc_error err;
	int i;

	checked_backend_watch(f->cb, "wf", dag);
	ASSERT_ST(ORC_OK, orc_runner_run(&res, f->runner, "wf", dag,
					 "{\"in\":1}", &err));
	assert_int_equal(res.state, ORC_WORKFLOW_SUCCEEDED);
	assert_null(res.error);
	assert_int_equal(res.attempts, 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(atomic_load(&f->calls[i]), 1);
		assert_int_equal(checked_backend_successes(f->cb, "wf", ids[i]), 1);
	}
	/* C saw the three B outputs and the workflow input. */
	assert_non_null(strstr(f->last_c_payload, "\"input\":{\"in\":1}"));
	assert_non_null(strstr(f->last_c_payload,
			       "\"B1\":{\"from\":\"B1\"},\"B2\":{\"from\":\"B2\"},\"B3\":{\"from\":\"B3\"}"));
	/* Running a finished workflow again does nothing more. */
	ASSERT_ST(ORC_OK, orc_runner_run(&res, f->runner, "wf", dag, "{\"in\":1}",
					 &err));
	assert_int_equal(res.state, ORC_WORKFLOW_SUCCEEDED);
	assert_int_equal(res.attempts, 0);
	orc_dag_free(dag);
}

static void test_runner__retries_then_succeeds(void **state)
{
	fixture *f = *state;
	orc_retry_policy p = { 3, ORC_JITTER_FULL, 1000, 2.0, 0 };
	orc_dag *dag = test_seed_dag(&p);
	orc_run_result res;
	orc_error err;

	f->fail_b2_times = 2;
	checked_backend_watch(f->cb, "wf", dag);
	ASSERT_ST(ORC_OK, orc_runner_run(&res, f->runner, "wf", dag, NULL, &err));
	assert_int_equal(res.state, ORC_WORKFLOW_SUCCEEDED);
	assert_int_equal(atomic_load(&f->calls[2]), 3);
	assert_int_equal(res.attempts, 7);
	orc_run_result_clear(&res);
	orc_dag_free(dag);
}

static void test_runner__exhausted_retries_fail_the_run(void **state)
{
	fixture *f = *state;
	orc_retry_policy p = { 2, ORC_JITTER_NONE, 10, 1.0, 0 };
	orc_dag *dag = test_seed_dag(&p);
	orc_run_result res;
	orc_snapshot snap;
	orc_context *ctx;
	orc_error err;

	f->fail_b2_times = 5;
	checked_backend_watch(f->cb, "wf", dag);
	ASSERT_ST(ORC_OK, orc_runner_run(&res, f->runner, "wf", dag, NULL, &err));
	assert_int_equal(res.state, ORC_WORKFLOW_FAILED);
	assert_string_equal(res.error, "task B2: boom attempt 2");
	assert_int_equal(atomic_load(&f->calls[2]), 2);
	assert_int_equal(atomic_load(&f->calls[4]), 0); /* C never ran */
	orc_run_result_clear(&res);
	ASSERT_ST(ORC_OK, orc_context_create(&ctx, f->mem, NULL, &err));
	ASSERT_ST(ORC_OK, orc_workflow_snapshot(&snap, ctx, "wf", 0, &err));
	assert_int_equal(orc_snapshot_task(&snap, 2)->state, ORC_TASK_FAILED);
	assert_int_equal(orc_snapshot_task(&snap, 4)->state, ORC_TASK_CANCELED);
	orc_snapshot_clear(&snap);
	orc_context_free(ctx);
	orc_dag_free(dag);
}

static void test_runner__registration_errors(void **state)
{
	fixture *f = *state;
	orc_dag *dag = test_seed_dag(NULL);
	orc_runner *bare = NULL;
	orc_run_result res;
	orc_workflow_rec rec;
	orc_error err;

	assert_int_equal(orc_runner_register(f->runner, "A", handler, f, &err),
			 ORC_EEXISTS);
	assert_non_null(strstr(err.message, "'A'"));
	assert_int_equal(orc_runner_register(f->runner, "", handler, f, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_runner_register(f->runner, "x", NULL, f, &err),
			 ORC_EINVAL);
	/* A runner without a handler for B3 refuses before starting. */
	ASSERT_ST(ORC_OK, orc_runner_create(&bare, f->mem, NULL, &err));
	ASSERT_ST(ORC_OK, orc_runner_register(bare, "A", handler, f, &err));
	assert_int_equal(orc_runner_run(&res, bare, "wf", dag, NULL, &err),
			 ORC_ENOTFOUND);
	assert_non_null(strstr(err.message, "no handler"));
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(f->mem->get_workflow(&rec, f->mem, "wf", &err),
			 ORC_ENOTFOUND);
	/* A default handler serves every target without its own. */
	ASSERT_ST(ORC_OK, orc_runner_register(bare, NULL, handler, f, &err));
	assert_int_equal(orc_runner_register(bare, NULL, handler, f, &err),
			 ORC_EEXISTS);
	ASSERT_ST(ORC_OK, orc_runner_run(&res, bare, "wf", dag, NULL, &err));
	assert_int_equal(res.state, ORC_WORKFLOW_SUCCEEDED);
	orc_runner_free(bare);
	orc_dag_free(dag);
	assert_int_equal(orc_runner_create(NULL, f->mem, NULL, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_runner_run(&res, NULL, "wf", NULL, NULL, &err),
			 ORC_EINVAL);
}

static void test_runner__resume_finishes_a_started_run(void **state)
{
	fixture *f = *state;
	orc_dag *dag = test_seed_dag(NULL);
	orc_context *ctx;
	orc_claim cl;
	orc_run_result res;
	orc_error err;

	checked_backend_watch(f->cb, "wf", dag);
	ASSERT_ST(ORC_OK, orc_context_create(&ctx, checked_backend_vtable(f->cb),
					     NULL, &err));
	ASSERT_ST(ORC_OK, orc_workflow_start(ctx, "wf", dag, NULL, &err));
	ASSERT_ST(ORC_OK, orc_workflow_claim(&cl, ctx, "wf", "elsewhere", 60000,
					     &err));
	ASSERT_ST(ORC_OK, orc_workflow_complete(ctx, "wf", "A", cl.token,
						"{\"from\":\"A\"}", &err));
	orc_context_free(ctx);
	/* Resume from the stored definition: no DAG given. */
	ASSERT_ST(ORC_OK, orc_runner_run(&res, f->runner, "wf", NULL, NULL, &err));
	assert_int_equal(res.state, ORC_WORKFLOW_SUCCEEDED);
	assert_int_equal(atomic_load(&f->calls[0]), 0); /* A was done */
	assert_int_equal(res.attempts, 4);
	assert_int_equal(orc_runner_run(&res, f->runner, "ghost", NULL, NULL,
					 &err), ORC_ENOTFOUND);
	orc_dag_free(dag);
}

static void test_runner__threads_run_each_task_once(void **state)
{
	fixture *f = *state;
	orc_dag *dag = test_seed_dag(NULL);
	orc_run_result res;
	orc_error err;
	char id[32];
	int w, i;

	assert_int_equal(make_runner(f, 8), 0);
	for (w = 0; w < 50; w++) {
		snprintf(id, sizeof(id), "wf-%d", w);
		checked_backend_watch(f->cb, id, dag);
		ASSERT_ST(ORC_OK, orc_runner_run(&res, f->runner, id, dag, NULL,
						 &err));
		assert_int_equal(res.state, ORC_WORKFLOW_SUCCEEDED);
		for (i = 0; i < 5; i++)
			assert_int_equal(checked_backend_successes(f->cb, id,
								   ids[i]), 1);
	}
	for (i = 0; i < 5; i++)
		assert_int_equal(atomic_load(&f->calls[i]), 50);
	orc_dag_free(dag);
}

/*
 * A task with no timeout that runs for several leases: the runner renews
 * its lease while the handler runs, so the idle threads' reconcile does
 * not take it back and run it a second time.
 */
static void test_runner__long_task_keeps_its_lease(void **state)
{
	fixture *f = *state;
	orc_dag *dag = test_seed_dag(NULL);
	orc_run_result res;
	orc_error err;

	/* Six leases long; renewed each 50 ms, so a loaded machine has
	 * 250 ms of slack before the lease could lapse. */
	f->slow_b1_ms = 1800;
	assert_int_equal(make_runner_lease(f, 3, 300), 0);
	checked_backend_watch(f->cb, "wf-long", dag);
	ASSERT_ST(ORC_OK, orc_runner_run(&res, f->runner, "wf-long", dag, NULL,
					 &err));
	assert_int_equal(res.state, ORC_WORKFLOW_SUCCEEDED);
	assert_int_equal(atomic_load(&f->calls[1]), 1);
	assert_int_equal((int)res.attempts, 5);
	assert_int_equal(checked_backend_successes(f->cb, "wf-long", "B1"), 1);
	orc_run_result_clear(&res);
	orc_dag_free(dag);
}

struct events {
	pthread_mutex_t lock;
	int running[5], succeeded[5], order_ok;
	char c_output[64];
};

static void on_event(const orc_run_event *ev, void *payload)
{
	struct events *e = payload;
	int i = index_of(ev->task_id);

	/* Called one at a time: no lock of our own should be needed, but
	 * the test keeps one to let a data race show under TSan/helgrind. */
	pthread_mutex_lock(&e->lock);
	if (ev->state == ORC_TASK_RUNNING) {
		e->running[i]++;
	} else if (ev->state == ORC_TASK_SUCCEEDED) {
		/* Each success follows its own claim. */
		if (e->running[i] != e->succeeded[i] + 1)
			e->order_ok = 0;
		e->succeeded[i]++;
		if (i == 4 && ev->output)
			snprintf(e->c_output, sizeof(e->c_output), "%s",
				 ev->output);
	}
	pthread_mutex_unlock(&e->lock);
}

/*
 * Threads with an event callback: one RUNNING then one SUCCEEDED per
 * task, in that order, with the output that was written.
 */
static void test_runner__events_report_each_write(void **state)
{
	fixture *f = *state;
	orc_dag *dag = test_seed_dag(NULL);
	orc_runner_options o = ORC_RUNNER_OPTIONS_INIT;
	orc_runner *r = NULL;
	struct events ev;
	orc_run_result res;
	orc_error err;
	int i;

	memset(&ev, 0, sizeof(ev));
	pthread_mutex_init(&ev.lock, NULL);
	ev.order_ok = 1;
	o.threads = 3;
	o.on_event = on_event;
	o.event_payload = &ev;
	ASSERT_ST(ORC_OK, orc_runner_create(&r, checked_backend_vtable(f->cb),
					    &o, &err));
	ASSERT_ST(ORC_OK, orc_runner_register(r, NULL, handler, f, &err));
	checked_backend_watch(f->cb, "wf-ev", dag);
	ASSERT_ST(ORC_OK, orc_runner_run(&res, r, "wf-ev", dag, NULL, &err));
	assert_int_equal(res.state, ORC_WORKFLOW_SUCCEEDED);
	for (i = 0; i < 5; i++) {
		assert_int_equal(ev.running[i], 1);
		assert_int_equal(ev.succeeded[i], 1);
	}
	assert_true(ev.order_ok);
	assert_string_equal(ev.c_output, "{\"from\":\"C\"}");
	orc_run_result_clear(&res);
	orc_runner_free(r);
	pthread_mutex_destroy(&ev.lock);
	orc_dag_free(dag);
}

/* Options of version 1 (before storage_timeout_ms) still work; a bad
 * storage timeout is refused; which errors count as transient. */
static void test_runner__options_versions_and_transient_errors(void **state)
{
	fixture *f = *state;
	orc_runner_options o = ORC_RUNNER_OPTIONS_INIT;
	orc_runner *r = NULL;
	orc_error e;

	o.version = 1;
	o.storage_timeout_ms = -5; /* beyond a version 1 struct: unread */
	ASSERT_ST(ORC_OK, orc_runner_create(&r, f->mem, &o, &e));
	orc_runner_free(r);
	o.version = 2;
	assert_int_equal(orc_runner_create(&r, f->mem, &o, &e), ORC_EINVAL);
	assert_non_null(strstr(e.message, "storage_timeout_ms"));
	o.version = 3;
	o.storage_timeout_ms = 0;
	assert_int_equal(orc_runner_create(&r, f->mem, &o, &e), ORC_EINVAL);
	/* A lease near INT64_MAX is capped, not added to the clock. */
	o.version = 2;
	o.lease_ms = INT64_MAX;
	ASSERT_ST(ORC_OK, orc_runner_create(&r, f->mem, &o, &e));
	ASSERT_ST(ORC_OK, orc_runner_register(r, NULL, handler, f, &e));
	{
		orc_dag *dag = test_seed_dag(NULL);
		orc_run_result res;

		/* UBSan (the CI's sanitizer build) flags any overflow. */
		ASSERT_ST(ORC_OK, orc_runner_run(&res, r, "wf-lease", dag,
						 NULL, &e));
		assert_int_equal(res.state, ORC_WORKFLOW_SUCCEEDED);
		orc_run_result_clear(&res);
		orc_dag_free(dag);
	}
	orc_runner_free(r);
	o.lease_ms = 0;

	assert_true(orc_runner_error_is_transient(ORC_ETHROTTLED, NULL));
	assert_true(orc_runner_error_is_transient(ORC_ETIMEOUT, NULL));
	assert_false(orc_runner_error_is_transient(ORC_ECONFLICT, NULL));
	assert_false(orc_runner_error_is_transient(ORC_EAUTH, NULL));
	/* EBACKEND: only an HTTP storage service's 5xx or lost answer. */
	orc_error_set(&e, ORC_EBACKEND, "dynamodb GetItem: no answer");
	assert_false(orc_runner_error_is_transient(ORC_EBACKEND, &e));
	snprintf(e.source, sizeof(e.source), "dynamodb");
	assert_true(orc_runner_error_is_transient(ORC_EBACKEND, &e));
	e.detail = 503;
	assert_true(orc_runner_error_is_transient(ORC_EBACKEND, &e));
	e.detail = 400;
	assert_false(orc_runner_error_is_transient(ORC_EBACKEND, &e));
	snprintf(e.source, sizeof(e.source), "sqlite");
	e.detail = 522; /* SQLITE_IOERR_SHORT_READ, not an HTTP status */
	assert_false(orc_runner_error_is_transient(ORC_EBACKEND, &e));
	assert_false(orc_runner_error_is_transient(ORC_EBACKEND, NULL));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_runner__deterministic_run_succeeds),
		T(test_runner__retries_then_succeeds),
		T(test_runner__exhausted_retries_fail_the_run),
		T(test_runner__registration_errors),
		T(test_runner__resume_finishes_a_started_run),
		T(test_runner__threads_run_each_task_once),
		T(test_runner__long_task_keeps_its_lease),
		T(test_runner__events_report_each_write),
		T(test_runner__options_versions_and_transient_errors),
	};
	return cmocka_run_group_tests_name("runner", tests, NULL, NULL);
}
