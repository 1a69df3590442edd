/*
 * End to end: the example binaries (examples/lambda: orchestrator,
 * worker, task) run as functions of fake_lambda.py against dynalite.
 * The test invokes the orchestrator through the real Invoke client;
 * from there the functions invoke one another through the fake's
 * Invoke API, the worker dispatching what each task made runnable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "orchestra/backends.h"
#include "orchestra/lambda.h"
#include "orchestra/orchestra.h"
#include "dynamodb/dynalite.h"
#include "lambda/ddb_count.h"
#include "lambda/fake.h"
#include "lambda/table_stream.h"

#define ARN "arn:aws:lambda:us-east-1:123456789012:function:task-"

static fake_lambda fake;
static char table[64];
static ddb_count *proxy;
static char env_proxy[128];   /* the functions' DynamoDB: the proxy */
static orc_backend *backend;

static int setup(void **state)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	const char *orch = getenv("ORC_LAMBDA_ORCHESTRATOR");
	const char *worker = getenv("ORC_LAMBDA_WORKER");
	const char *task = getenv("ORC_LAMBDA_TASK");
	const char *linked = getenv("ORC_LAMBDA_WORKER_LINKED");
	static char fns[8][1024], env_table[128];
	static const char *const tasks[] = { "a", "b1", "b2", "b3", "c" };
	const char *fn_args[9], *envs[] = { NULL, NULL, "ORC_DISPATCH_NEXT=1",
		"ORC_WORKER_FUNCTION=worker", NULL };
	orc_error err;
	int i;

	(void)state;
	if (!orch || !worker || !task || !linked) {
		fprintf(stderr, "ORC_LAMBDA_{ORCHESTRATOR,WORKER,TASK,"
			"WORKER_LINKED} unset\n");
		return -1;
	}
	if (dl_start() != 0)
		return -1;
	/* dynalite has no TransactWriteItems: the functions (which inherit
	 * this environment) would each ask once and be refused, one more
	 * request per process. The transaction path is counted on moto by
	 * tests/bench/requests. */
	setenv("ORC_DYNAMODB_TRANSACTIONS", "off", 1);
	snprintf(table, sizeof(table), "e2e-%ld", (long)getpid());
	o.table = table;
	if (orc_dynamodb_create_table(&o, &err) != ORC_OK ||
	    orc_dynamodb_backend_open(&backend, &o, &err) != ORC_OK) {
		fprintf(stderr, "table: %s\n", err.message);
		return -1;
	}
	snprintf(fns[0], sizeof(fns[0]), "orchestrator=%s", orch);
	snprintf(fns[1], sizeof(fns[1]), "worker=%s", worker);
	for (i = 0; i < 5; i++)
		snprintf(fns[2 + i], sizeof(fns[2 + i]), "task-%s=%s",
			 tasks[i], task);
	snprintf(fns[7], sizeof(fns[7]), "worker-linked=%s", linked);
	for (i = 0; i < 8; i++)
		fn_args[i] = fns[i];
	fn_args[8] = NULL;
	snprintf(env_table, sizeof(env_table), "ORC_TABLE=%s", table);
	envs[0] = env_table;
	if (ddb_count_start(&proxy) != 0)
		return -1;
	snprintf(env_proxy, sizeof(env_proxy), "AWS_ENDPOINT_URL_DYNAMODB=%s",
		 ddb_count_url(proxy));
	envs[1] = env_proxy;
	if (fake_start_with(&fake, fn_args, envs) != 0)
		return -1;
	setenv("AWS_ENDPOINT_URL_LAMBDA", fake.invoke, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_stop(&fake);
	orc_backend_free(backend);
	ddb_count_stop(proxy);
	dl_stop();
	return 0;
}

/* The seed's start event; @p defaults_extra goes into "defaults". */
static char *start_event_with(const char *wf_id, const char *input,
			      int max_attempts, const char *defaults_extra)
{
	static const char *const t[] = { "A", "B1", "B2", "B3", "C" };
	static const char *const deps[] = {
		"[]", "[\"A\"]", "[\"A\"]", "[\"A\"]", "[\"B1\",\"B2\",\"B3\"]"
	};
	char *ev = malloc(4096);
	size_t n;
	int i;

	assert_non_null(ev);
	n = (size_t)snprintf(ev, 4096, "{\"mode\":\"start\",\"workflowId\":"
			     "\"%s\",\"input\":%s,\"defaults\":{\"retry\":"
			     "{\"maxAttempts\":%d,\"intervalMs\":0}%s},"
			     "\"graph\":[", wf_id, input, max_attempts,
			     defaults_extra);
	for (i = 0; i < 5; i++) {
		char lower[4];

		snprintf(lower, sizeof(lower), "%c%s", t[i][0] + 32,
			 t[i] + 1);
		n += (size_t)snprintf(ev + n, 4096 - n, "%s{\"taskId\":\"%s\","
				      "\"targetLambdaArn\":\"" ARN "%s\","
				      "\"dependsOn\":%s}", i ? "," : "",
				      t[i], lower, deps[i]);
	}
	snprintf(ev + n, 4096 - n, "]}");
	return ev;
}

static char *start_event(const char *wf_id, const char *input,
			 int max_attempts)
{
	return start_event_with(wf_id, input, max_attempts, "");
}

/* Invoke the orchestrator as a client would, with SigV4. */
static void invoke_orchestrator(const char *event)
{
	orc_lambda_client *c = NULL;
	char *resp = NULL;
	orc_error err;

	if (orc_lambda_client_create(&c, NULL, &err) != ORC_OK ||
	    orc_lambda_invoke(c, "orchestrator", ORC_LAMBDA_REQUEST_RESPONSE,
			      event, &resp, &err) != ORC_OK)
		fail_msg("invoke orchestrator: %s (%s)", err.message,
			 resp ? resp : "");
	assert_non_null(strstr(resp, "\"dispatched\":[\"A\"]"));
	orc_free(resp);
	orc_lambda_client_free(c);
}

/* The workflow's final snapshot, waiting up to 30 s for it. */
static orc_snapshot wait_terminal(const char *wf_id)
{
	orc_context *ctx = NULL;
	orc_snapshot s;
	orc_error err;
	int i;

	assert_int_equal(orc_context_create(&ctx, backend, NULL, &err),
			 ORC_OK);
	for (i = 0; i < 600; i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		assert_int_equal(orc_workflow_snapshot(&s, ctx, wf_id,
						       ORC_SNAPSHOT_PAYLOADS,
						       &err), ORC_OK);
		if (orc_workflow_state_is_terminal(s.workflow.state))
			break;
		orc_snapshot_clear(&s);
		nanosleep(&ts, NULL);
	}
	orc_context_free(ctx);
	if (i == 600)
		fail_msg("workflow %s did not finish in 30 s", wf_id);
	return s;
}

/* Start a workflow through the orchestrator and wait for its end. */
static orc_snapshot run_workflow(const char *wf_id, const char *input,
				 int max_attempts)
{
	char *ev = start_event(wf_id, input, max_attempts);

	invoke_orchestrator(ev);
	free(ev);
	return wait_terminal(wf_id);
}

/* Whether the invoked @p f (name or ARN) is @p function, or starts with
 * it when it ends with '-'. */
static int is_function(const char *f, const char *function)
{
	const char *name = strstr(f, ":function:");
	size_t n = strlen(function);

	name = name ? name + 10 : f;
	if (n && function[n - 1] == '-')
		return strncmp(name, function, n) == 0;
	return strncmp(name, function, n) == 0 &&
	       (name[n] == '\0' || name[n] == ':');
}

/* Invoke requests of @p function of @p type so far, on @p f. */
static int count_invokes_on(fake_lambda *f, const char *function,
			    const char *type)
{
	char *body = fake_get(f, "/_fake/invokes");
	json_t *a = json_loads(body, 0, NULL), *v;
	size_t i;
	int n = 0;

	assert_non_null(a);
	json_array_foreach(a, i, v) {
		const char *f = json_string_value(json_object_get(v,
							"function"));
		const char *t = json_string_value(json_object_get(v, "type"));

		if (f && is_function(f, function) && t && strcmp(t, type) == 0)
			n++;
	}
	json_decref(a);
	free(body);
	return n;
}

static int count_invokes(const char *function, const char *type)
{
	return count_invokes_on(&fake, function, type);
}

/* Wait until every invocation of @p fn queued so far has finished, so
 * that no request of this run is still to come. */
static void settle(fake_lambda *f, const char *fn)
{
	char path[160], *body;
	json_t *st;
	size_t n;

	snprintf(path, sizeof(path), "/_fake/functions/%s", fn);
	body = fake_get(f, path);
	st = body ? json_loads(body, 0, NULL) : NULL;
	free(body);
	assert_non_null(st);
	n = json_array_size(json_object_get(st, "invocations"));
	json_decref(st);
	snprintf(path, sizeof(path), "/_fake/functions/%s?wait=%zu&"
		 "timeout_ms=20000", fn, n);
	free(fake_get(f, path));
}

/*
 * The DynamoDB requests of one run (the seed: V = 5 tasks, E = 6 edges)
 * at most 2V + E + 2 (19), none of them a refused conditional write;
 * printed by operation either way. The start counts as one request, as
 * it is with TransactWriteItems; dynalite has none, so there the start
 * is the workflow's PutItem plus a BatchWriteItem per 25 tasks, and the
 * batches are not counted against the bound.
 */
static void check_requests(const char *path, int max)
{
	const char *d = ddb_count_describe(proxy);
	int n = ddb_count_total(proxy) - ddb_count_op(proxy, DC_BATCH_WRITE);

	printf("# %s: %s\n", path, d);
	if (n > max || ddb_count_ccf(proxy) != 0)
		fail_msg("%s: %s; want at most %d besides the seeding "
			 "batches, and no ConditionalCheckFailed", path, d,
			 max);
}

static void test_handlers_e2e__seed_runs_with_ten_invocations(void **state)
{
	orc_snapshot s;
	size_t i;

	(void)state;
	ddb_count_reset(proxy);
	s = run_workflow("e2e-ok", "{\"k\":1}", 3);
	settle(&fake, "worker");
	check_requests("ORC_DISPATCH_NEXT=1", 19);
	assert_int_equal(s.workflow.state, ORC_WORKFLOW_SUCCEEDED);
	for (i = 0; i < s.ntasks; i++)
		assert_int_equal(orc_snapshot_task(&s, i)->attempt, 1);
	assert_string_equal(orc_snapshot_task(&s, 4)->output,
			    "{\"task\":\"C\",\"n\":7}");
	orc_snapshot_clear(&s);
	/* The seed's count: one worker and one target per task. */
	assert_int_equal(count_invokes("worker", "Event"), 5);
	assert_int_equal(count_invokes("task-", "RequestResponse"), 5);
}

static void test_handlers_e2e__function_error_fails_the_workflow(
	void **state)
{
	orc_snapshot s = run_workflow("e2e-fail", "{\"fail\":\"B2\"}", 1);

	(void)state;
	assert_int_equal(s.workflow.state, ORC_WORKFLOW_FAILED);
	assert_non_null(strstr(s.workflow.error, "failed on purpose"));
	assert_int_equal(orc_snapshot_task(&s, 2)->state, ORC_TASK_FAILED);
	/* The function's own error document, kept. */
	assert_non_null(strstr(orc_snapshot_task(&s, 2)->error,
			       "\"errorMessage\":\"task B2 failed on "
			       "purpose\""));
	assert_non_null(strstr(orc_snapshot_task(&s, 2)->error,
			       "\"errorType\":\"TaskFailed\""));
	assert_int_equal(orc_snapshot_task(&s, 4)->state, ORC_TASK_CANCELED);
	orc_snapshot_clear(&s);
	settle(&fake, "worker");
}

/* The worker with the task linked in, dispatching to itself: the first
 * request is the test's (as the orchestrator would send it), then one
 * invocation per task and no other. */
static void test_handlers_e2e__linked_tasks_cost_one_invocation_each(
	void **state)
{
	char *ev = start_event("e2e-linked", "{\"k\":1}", 3), *resp = NULL;
	int targets = count_invokes("task-", "RequestResponse");
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	orc_lambda_client *c = NULL;
	orc_backend *via = NULL;
	orc_context *ctx = NULL;
	orc_dag *dag = NULL;
	orc_snapshot s;
	orc_error err;

	(void)state;
	/* The start is counted too: it goes through the proxy. */
	o.table = table;
	o.endpoint = ddb_count_url(proxy);
	ddb_count_reset(proxy);
	if (orc_dag_load(&dag, NULL, ev, strlen(ev), NULL, &err) != ORC_OK ||
	    orc_dynamodb_backend_open(&via, &o, &err) != ORC_OK ||
	    orc_context_create(&ctx, via, NULL, &err) != ORC_OK ||
	    orc_workflow_start(ctx, "e2e-linked", dag, "{\"k\":1}", &err) !=
		    ORC_OK ||
	    orc_lambda_client_create(&c, NULL, &err) != ORC_OK ||
	    orc_lambda_invoke(c, "worker-linked", ORC_LAMBDA_EVENT,
			      "{\"workflowId\":\"e2e-linked\","
			      "\"taskId\":\"A\",\"expectedVersion\":1,"
			      "\"attemptsMade\":0}", &resp, &err) != ORC_OK)
		fail_msg("%s", err.message);
	orc_free(resp);
	free(ev);
	orc_lambda_client_free(c);
	orc_context_free(ctx);
	orc_backend_free(via);
	orc_dag_free(dag);
	s = wait_terminal("e2e-linked");
	assert_int_equal(s.workflow.state, ORC_WORKFLOW_SUCCEEDED);
	assert_string_equal(orc_snapshot_task(&s, 4)->output,
			    "{\"task\":\"C\",\"n\":7}");
	orc_snapshot_clear(&s);
	settle(&fake, "worker-linked");
	check_requests("lambda-worker-linked", 19);
	assert_int_equal(count_invokes("worker-linked", "Event"), 5);
	assert_int_equal(count_invokes("task-", "RequestResponse"), targets);
}

/* The orchestrator's answer to @p event (caller frees). */
static char *ask_orchestrator(const char *event)
{
	orc_lambda_client *c = NULL;
	char *resp = NULL;
	orc_error err;

	if (orc_lambda_client_create(&c, NULL, &err) != ORC_OK ||
	    orc_lambda_invoke(c, "orchestrator", ORC_LAMBDA_REQUEST_RESPONSE,
			      event, &resp, &err) != ORC_OK)
		fail_msg("invoke orchestrator: %s (%s)", err.message,
			 resp ? resp : "");
	orc_lambda_client_free(c);
	return resp;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* Wait (up to 20 s) until task @p idx of @p wf_id is RUNNING in its
 * attempt @p attempt; its lease expiry. */
static int64_t wait_running(const char *wf_id, size_t idx, int attempt)
{
	orc_context *ctx = NULL;
	orc_error err;
	int64_t expiry = 0;
	int i;

	assert_int_equal(orc_context_create(&ctx, backend, NULL, &err),
			 ORC_OK);
	for (i = 0; i < 400 && !expiry; i++) {
		orc_snapshot s;

		assert_int_equal(orc_workflow_snapshot(&s, ctx, wf_id, 0,
						       &err), ORC_OK);
		if (orc_snapshot_task(&s, idx)->state == ORC_TASK_RUNNING &&
		    orc_snapshot_task(&s, idx)->attempt == attempt)
			expiry = orc_snapshot_task(&s, idx)->lease_expiry_ms;
		orc_snapshot_clear(&s);
		if (!expiry)
			sleep_ms(50);
	}
	orc_context_free(ctx);
	if (!expiry)
		fail_msg("%s: task %zu never ran its attempt %d", wf_id, idx,
			 attempt);
	return expiry;
}

/* The pid of @p fn's one handler process on @p f. */
static long function_pid(fake_lambda *f, const char *fn)
{
	char path[128], *body;
	json_t *st;
	long pid;

	snprintf(path, sizeof(path), "/_fake/functions/%s", fn);
	body = fake_get(f, path);
	st = body ? json_loads(body, 0, NULL) : NULL;
	free(body);
	assert_non_null(st);
	pid = (long)json_integer_value(json_array_get(json_object_get(st,
								"pids"), 0));
	json_decref(st);
	assert_true(pid > 0);
	return pid;
}

/*
 * Crash recovery in bounded time: B2 takes 4 s and its lease follows its
 * timeoutMs (1.5 s), renewed by the worker's heartbeats. The worker
 * process is SIGKILLed while it waits for B2's function; once the lease
 * has run out, reconcile re-readies B2 and dispatches it, and the second
 * run, heartbeating, outlives its first lease: a reconcile 2.5 s in
 * finds nothing expired. The workflow then succeeds, B2 in 2 attempts.
 */
static void test_handlers_e2e__killed_worker_runs_again_after_its_lease(
	void **state)
{
	char *ev = start_event_with("e2e-crash", "{\"k\":1,\"slow\":\"B2\","
				    "\"slowMs\":4000}", 3,
				    ",\"timeoutMs\":1500");
	const char *rec = "{\"mode\":\"reconcile\",\"workflowId\":"
			  "\"e2e-crash\"}";
	struct timespec now;
	int64_t expiry, t;
	orc_snapshot s;
	char *resp;

	(void)state;
	invoke_orchestrator(ev);
	free(ev);
	expiry = wait_running("e2e-crash", 2, 1);
	/* At most the task's timeoutMs. */
	clock_gettime(CLOCK_REALTIME, &now);
	t = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	assert_true(expiry - t <= 1500);
	sleep_ms(200);  /* into the RequestResponse wait */
	assert_int_equal(kill((pid_t)function_pid(&fake, "worker"), SIGKILL),
			 0);
	/* Before the lease ends, nothing to recover. */
	resp = ask_orchestrator(rec);
	assert_non_null(strstr(resp, "\"expired\":0"));
	free(resp);
	sleep_ms(1800);
	resp = ask_orchestrator(rec);
	if (!strstr(resp, "\"expired\":1") ||
	    !strstr(resp, "\"dispatched\":[\"B2\"]"))
		fail_msg("reconcile after the lease: %s", resp);
	free(resp);
	wait_running("e2e-crash", 2, 2);
	sleep_ms(2500);  /* past the first lease of the second run */
	resp = ask_orchestrator(rec);
	if (!strstr(resp, "\"expired\":0"))
		fail_msg("heartbeats did not keep the lease: %s", resp);
	free(resp);
	s = wait_terminal("e2e-crash");
	assert_int_equal(s.workflow.state, ORC_WORKFLOW_SUCCEEDED);
	assert_int_equal(orc_snapshot_task(&s, 2)->attempt, 2);
	assert_int_equal(orc_snapshot_task(&s, 1)->attempt, 1);
	assert_string_equal(orc_snapshot_task(&s, 4)->output, "{\"task\":\"C\",\"n\":7}");
	orc_snapshot_clear(&s);
	settle(&fake, "worker");
}

/*
 * Transient storage faults past one request's retries: the proxy
 * answers four UpdateItem requests in a row with 500 (not applied), so
 * a claim or a completion fails after the client's three attempts; the
 * worker tries again within its invocation, and the workflow succeeds
 * with every task run once. Then writes applied and answered 500, and
 * throttling: the same.
 */
static void test_handlers_e2e__storage_faults_are_ridden_out(void **state)
{
	static const struct { const char *wf; enum dc_fault f; int skip; }
		runs[] = { { "e2e-f500", DC_500, 3 },
			   { "e2e-fwd500", DC_FWD_500, 5 },
			   { "e2e-thr", DC_THROTTLE, 7 } };
	size_t r, i;

	(void)state;
	for (r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
		int targets = count_invokes("task-", "RequestResponse");
		int faults = ddb_count_faults(proxy);
		orc_snapshot s;

		ddb_count_arm(proxy, "UpdateItem", runs[r].f, runs[r].skip, 4);
		s = run_workflow(runs[r].wf, "{\"k\":1}", 3);
		settle(&fake, "worker");
		ddb_count_arm(proxy, "", DC_500, 0, 0);
		if (s.workflow.state != ORC_WORKFLOW_SUCCEEDED)
			fail_msg("%s: %s", runs[r].wf, s.workflow.error);
		for (i = 0; i < s.ntasks; i++)
			assert_int_equal(orc_snapshot_task(&s, i)->attempt, 1);
		assert_string_equal(orc_snapshot_task(&s, 4)->output,
				    "{\"task\":\"C\",\"n\":7}");
		orc_snapshot_clear(&s);
		assert_int_equal(ddb_count_faults(proxy) - faults, 4);
		/* Each task's function ran once. */
		assert_int_equal(count_invokes("task-", "RequestResponse") -
				 targets, 5);
	}
}

/* The event of @p fn's invocation number @p k on @p f (malloc'd), or
 * NULL when there are not that many. */
static char *nth_event(fake_lambda *f, const char *fn, size_t k)
{
	char path[128], *body, *ev = NULL;
	json_t *st, *inv;

	snprintf(path, sizeof(path), "/_fake/functions/%s", fn);
	body = fake_get(f, path);
	st = body ? json_loads(body, 0, NULL) : NULL;
	free(body);
	assert_non_null(st);
	inv = json_array_get(json_object_get(st, "invocations"), k);
	if (inv)
		ev = strdup(json_string_value(json_object_get(inv, "event")));
	json_decref(st);
	return ev;
}

/*
 * The Streams path with the real binaries. The function "worker" has no
 * binary, so what the orchestrator dispatches to it waits in its queue;
 * the test hands each event to "worker-bin" (the real worker, which
 * dispatches nothing) and, after every invocation, sends the table's
 * changes as DynamoDB Streams records of the real before and after
 * items to the orchestrator function, as the event source mapping
 * would. Each record shows one step, as a real stream does.
 */
typedef struct streams {
	fake_lambda f;
	table_stream ts;
	orc_lambda_client *c;
	json_t *recs;
	char saved_url[128];
	size_t taken;          /* worker events handed over */
} streams;

static void streams_open(streams *x)
{
	static char fns[8][1024], env_table[128];
	static const char *const tasks[] = { "a", "b1", "b2", "b3", "c" };
	const char *fn_args[9], *saved = getenv("AWS_ENDPOINT_URL_LAMBDA");
	const char *envs[] = { NULL, env_proxy, "ORC_WORKER_FUNCTION=worker",
		NULL };
	orc_error err;
	int i;

	memset(x, 0, sizeof(*x));
	snprintf(x->saved_url, sizeof(x->saved_url), "%s", saved ? saved : "");
	snprintf(fns[0], sizeof(fns[0]), "orchestrator=%s",
		 getenv("ORC_LAMBDA_ORCHESTRATOR"));
	snprintf(fns[1], sizeof(fns[1]), "worker");
	snprintf(fns[2], sizeof(fns[2]), "worker-bin=%s",
		 getenv("ORC_LAMBDA_WORKER"));
	for (i = 0; i < 5; i++)
		snprintf(fns[3 + i], sizeof(fns[3 + i]), "task-%s=%s",
			 tasks[i], getenv("ORC_LAMBDA_TASK"));
	for (i = 0; i < 8; i++)
		fn_args[i] = fns[i];
	fn_args[8] = NULL;
	snprintf(env_table, sizeof(env_table), "ORC_TABLE=%s", table);
	envs[0] = env_table;
	assert_int_equal(fake_start_with(&x->f, fn_args, envs), 0);
	setenv("AWS_ENDPOINT_URL_LAMBDA", x->f.invoke, 1);
	x->recs = json_array();
	table_stream_init(&x->ts, table);
	table_stream_poll(&x->ts, x->recs);  /* earlier tests' items: seen */
	json_array_clear(x->recs);
	assert_int_equal(orc_lambda_client_create(&x->c, NULL, &err), ORC_OK);
}

static void streams_close(streams *x)
{
	orc_lambda_client_free(x->c);
	json_decref(x->recs);
	table_stream_clear(&x->ts);
	fake_stop(&x->f);
	setenv("AWS_ENDPOINT_URL_LAMBDA", x->saved_url, 1);
}

/* Start @p ev (NULL: started already) through the orchestrator and run
 * it to its end through the stream; its final snapshot. */
static orc_snapshot streams_run(streams *x, const char *wf_id,
				const char *ev)
{
	char path[128], *e, *resp = NULL;
	orc_error err;
	int rounds;

	if (ev && orc_lambda_invoke(x->c, "orchestrator",
				    ORC_LAMBDA_REQUEST_RESPONSE, ev, &resp,
				    &err) != ORC_OK)
		fail_msg("start: %s", err.message);
	orc_free(resp);
	resp = NULL;
	for (rounds = 0; rounds < 2000; rounds++) {
		if (table_stream_poll(&x->ts, x->recs) > 0) {
			e = table_stream_batch(x->recs);
			json_array_clear(x->recs);
			resp = NULL;
			if (orc_lambda_invoke(x->c, "orchestrator",
					      ORC_LAMBDA_REQUEST_RESPONSE, e,
					      &resp, &err) != ORC_OK)
				fail_msg("stream batch: %s", err.message);
			assert_string_equal(resp,
					    "{\"batchItemFailures\":[]}");
			orc_free(resp);
			free(e);
			continue;
		}
		if (!(e = nth_event(&x->f, "worker", x->taken)))
			break;
		x->taken++;
		free(fake_post(&x->f, "/_fake/functions/worker-bin/enqueue",
			       NULL, e));
		free(e);
		snprintf(path, sizeof(path), "/_fake/functions/worker-bin?"
			 "wait=%zu&timeout_ms=20000", x->taken);
		free(fake_get(&x->f, path));
	}
	return wait_terminal(wf_id);
}

static void test_handlers_e2e__seed_runs_through_the_stream(void **state)
{
	streams x;
	orc_snapshot s;
	char *ev;
	int i;

	(void)state;
	streams_open(&x);
	ddb_count_reset(proxy);
	ev = start_event("e2e-stream", "{\"k\":1}", 3);
	s = streams_run(&x, "e2e-stream", ev);
	free(ev);
	check_requests("Streams", 19);
	assert_int_equal(s.workflow.state, ORC_WORKFLOW_SUCCEEDED);
	for (i = 0; i < (int)s.ntasks; i++)
		assert_int_equal(orc_snapshot_task(&s, i)->attempt, 1);
	assert_string_equal(orc_snapshot_task(&s, 4)->output,
			    "{\"task\":\"C\",\"n\":7}");
	orc_snapshot_clear(&s);
	/* The seed's count through the stream too: one worker and one
	 * target invocation per task. */
	assert_int_equal((int)x.taken, 5);
	assert_int_equal(count_invokes_on(&x.f, "worker", "Event"), 5);
	assert_int_equal(count_invokes_on(&x.f, "task-", "RequestResponse"),
			 5);
	streams_close(&x);
}

/*
 * Liveness without luck, with the real binaries on the Streams path:
 * the worker's Invoke answers 429 to the start's dispatch of A, past
 * the client's three attempts. The start marks A (one write), the
 * stream shows it, and the orchestrator dispatches it from that record:
 * the workflow succeeds with no reconcile.
 */
static void test_handlers_e2e__throttled_root_dispatch_comes_back(
	void **state)
{
	streams x;
	orc_snapshot s;
	char *ev, *resp = NULL;
	orc_error err;
	int i;

	(void)state;
	streams_open(&x);
	free(fake_post(&x.f, "/_fake/functions/worker/throttle", NULL, "3"));
	ev = start_event("e2e-429", "{\"k\":1}", 3);
	if (orc_lambda_invoke(x.c, "orchestrator",
			      ORC_LAMBDA_REQUEST_RESPONSE, ev, &resp, &err) !=
	    ORC_OK)
		fail_msg("start: %s", err.message);
	assert_non_null(strstr(resp, "\"dispatched\":[]"));
	free(resp);
	free(ev);
	s = streams_run(&x, "e2e-429", NULL);
	assert_int_equal(s.workflow.state, ORC_WORKFLOW_SUCCEEDED);
	for (i = 0; i < (int)s.ntasks; i++)
		assert_int_equal(orc_snapshot_task(&s, i)->attempt, 1);
	orc_snapshot_clear(&s);
	/* Three refused, then one per task. */
	assert_int_equal(count_invokes_on(&x.f, "worker", "Event"), 3 + 5);
	assert_int_equal((int)x.taken, 5);
	streams_close(&x);
}

/*
 * A layered DAG of V = 100 tasks: 10 layers of 10, each task after two
 * of the layer before (E = 180 edges). Its start event. The bound is
 * the seed's: 2V + E + 3 (the seed's 19; 2V + E + 2 is 18 there, the
 * one more being the worker process's read of the definition), plus
 * one read per sink but the last: a sink's completion reads the next
 * sink it has not seen succeed, to learn whether the workflow is done
 * (the engine's rule; the seed has one sink).
 */
#define LAYERS 10
#define WIDTH 10
#define LAYERED_BOUND (2 * LAYERS * WIDTH + 2 * (LAYERS - 1) * WIDTH + 3 + \
		       WIDTH - 1)

static char *layered_event(const char *wf_id)
{
	size_t cap = 64 * 1024, n;
	char *ev = malloc(cap);
	int l, i;

	assert_non_null(ev);
	n = (size_t)snprintf(ev, cap, "{\"mode\":\"start\",\"workflowId\":"
			     "\"%s\",\"input\":{\"k\":1},\"graph\":[", wf_id);
	for (l = 0; l < LAYERS; l++)
		for (i = 0; i < WIDTH; i++) {
			char deps[64] = "[]";

			if (l > 0)
				snprintf(deps, sizeof(deps), "[\"T%d_%d\","
					 "\"T%d_%d\"]", l - 1, i, l - 1,
					 (i + 1) % WIDTH);
			n += (size_t)snprintf(ev + n, cap - n, "%s{\"taskId\":"
					      "\"T%d_%d\",\"targetLambdaArn\":"
					      "\"" ARN "a\",\"dependsOn\":%s}",
					      l || i ? "," : "", l, i, deps);
		}
	snprintf(ev + n, cap - n, "]}");
	assert_true(n + 2 < cap);
	return ev;
}

/* Every task of a layered run succeeded once; the last layer's n. */
static void check_layered(orc_snapshot *s)
{
	size_t i;

	assert_int_equal(s->workflow.state, ORC_WORKFLOW_SUCCEEDED);
	assert_int_equal(s->ntasks, LAYERS * WIDTH);
	for (i = 0; i < s->ntasks; i++)
		assert_int_equal(orc_snapshot_task(s, i)->attempt, 1);
	orc_snapshot_clear(s);
}

static void test_handlers_e2e__layered_dag_within_the_bound(void **state)
{
	char *ev = layered_event("e2e-layers-next"), *resp = NULL;
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	orc_lambda_client *c = NULL;
	orc_backend *via = NULL;
	orc_context *ctx = NULL;
	orc_dag *dag = NULL;
	orc_snapshot s;
	orc_error err;
	streams x;

	(void)state;
	/* ORC_DISPATCH_NEXT=1 */
	ddb_count_reset(proxy);
	free(ask_orchestrator(ev));
	free(ev);
	s = wait_terminal("e2e-layers-next");
	settle(&fake, "worker");
	check_requests("100 tasks, ORC_DISPATCH_NEXT=1", LAYERED_BOUND);
	check_layered(&s);

	/* lambda-worker-linked, started as the orchestrator would */
	ev = layered_event("e2e-layers-linked");
	o.table = table;
	o.endpoint = ddb_count_url(proxy);
	ddb_count_reset(proxy);
	if (orc_dag_load(&dag, NULL, ev, strlen(ev), NULL, &err) != ORC_OK ||
	    orc_dynamodb_backend_open(&via, &o, &err) != ORC_OK ||
	    orc_context_create(&ctx, via, NULL, &err) != ORC_OK ||
	    orc_workflow_start(ctx, "e2e-layers-linked", dag, "{\"k\":1}",
			       &err) != ORC_OK ||
	    orc_lambda_client_create(&c, NULL, &err) != ORC_OK)
		fail_msg("%s", err.message);
	for (size_t i = 0; i < WIDTH; i++) {
		char req[160];

		snprintf(req, sizeof(req), "{\"workflowId\":"
			 "\"e2e-layers-linked\",\"taskId\":\"T0_%zu\","
			 "\"expectedVersion\":1,\"attemptsMade\":0}", i);
		if (orc_lambda_invoke(c, "worker-linked", ORC_LAMBDA_EVENT,
				      req, &resp, &err) != ORC_OK)
			fail_msg("%s", err.message);
		free(resp);
	}
	free(ev);
	orc_lambda_client_free(c);
	orc_context_free(ctx);
	orc_backend_free(via);
	orc_dag_free(dag);
	s = wait_terminal("e2e-layers-linked");
	settle(&fake, "worker-linked");
	check_requests("100 tasks, lambda-worker-linked", LAYERED_BOUND);
	check_layered(&s);

	/* the Streams path */
	streams_open(&x);
	ddb_count_reset(proxy);
	ev = layered_event("e2e-layers-stream");
	s = streams_run(&x, "e2e-layers-stream", ev);
	free(ev);
	check_requests("100 tasks, Streams", LAYERED_BOUND);
	check_layered(&s);
	streams_close(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_handlers_e2e__seed_runs_with_ten_invocations),
		cmocka_unit_test(
			test_handlers_e2e__function_error_fails_the_workflow),
		cmocka_unit_test(
		test_handlers_e2e__linked_tasks_cost_one_invocation_each),
		cmocka_unit_test(
			test_handlers_e2e__seed_runs_through_the_stream),
		cmocka_unit_test(
		test_handlers_e2e__killed_worker_runs_again_after_its_lease),
		cmocka_unit_test(
			test_handlers_e2e__storage_faults_are_ridden_out),
		cmocka_unit_test(
			test_handlers_e2e__throttled_root_dispatch_comes_back),
		cmocka_unit_test(
			test_handlers_e2e__layered_dag_within_the_bound),
	};

	return cmocka_run_group_tests_name("lambda_handlers_e2e", tests,
					   setup, teardown);
}
