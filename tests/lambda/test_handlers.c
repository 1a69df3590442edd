/*
 * The orchestrator and worker handlers, called in-process against
 * dynalite. The Lambda service is played by an invoke hook: Event
 * invocations of the worker are queued and run by the test, targets are
 * answered by a function that sums its dependencies' outputs (A = 1,
 * each B = 2, C = 1 + 2 + 2 + 2 = 7). The Streams path gets its records
 * from the table itself: it is scanned before and after each handler
 * call and the difference becomes INSERT/MODIFY records with old and new
 * images, as DynamoDB Streams would deliver them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "aws/client.h"
#include "orchestra/backend.h"
#include "orchestra/backends.h"
#include "orchestra/lambda_handlers.h"
#include "orchestra/orchestra.h"
#include "dynamodb/dynalite.h"
#include "lambda/ddb_count.h"
#include "lambda/table_stream.h"
#include "support/check.h"

#define WORKER "worker"
#define ARN "arn:aws:lambda:eu-central-1:123456789012:function:task-"

static const char seed_event[] =
	"{\"mode\":\"start\",\"workflowId\":\"%s\",\"input\":{\"k\":1},"
	"%s\"graph\":["
	"{\"taskId\":\"A\",\"targetLambdaArn\":\"" ARN "a\",\"dependsOn\":[]},"
	"{\"taskId\":\"B1\",\"targetLambdaArn\":\"" ARN "b1\","
	"\"dependsOn\":[\"A\"]},"
	"{\"taskId\":\"B2\",\"dependsOn\":[\"A\"]},"
	"{\"taskId\":\"B3\",\"targetLambdaArn\":\"" ARN "b3\","
	"\"dependsOn\":[\"A\"]},"
	"{\"taskId\":\"C\",\"targetLambdaArn\":\"" ARN "c\","
	"\"dependsOn\":[\"B1\",\"B2\",\"B3\"]}],"
	"\"lambdas\":{\"B2\":\"" ARN "b2\"}}";


/* The Lambda service and the world around the handlers, per test. */
typedef struct world {
	int64_t now;               /* the handlers' clock */
	orc_backend *b;
	char table[64];
	orc_lambda_handler_config orch, work;
	orc_lambda_target targets[5];
	char *queue[256];          /* Event invocations of the worker */
	size_t qhead, qtail;
	int worker_invokes, target_invokes, skipped, requests;
	int throttle;              /* Event invocations to refuse (429) */
	const char *fail_task;     /* its target fails with an error */
	int emf_task, emf_workflow; /* EMF lines seen */
	char last_workflow_outcome[32];
	/* Streams: the table as last scanned, records not yet delivered. */
	table_stream stream;
	json_t *pending;
	json_t *all;               /* every record produced */
} world;

static int ntables;

static int64_t clock_now(void *p)
{
	return ((world *)p)->now;
}

static void clock_sleep(int64_t ms, void *p)
{
	((world *)p)->now += ms;
}

static void on_log(const char *line, void *p)
{
	world *w = p;
	json_t *o = json_loads(line, 0, NULL);

	assert_non_null(o);
	if (json_object_get(o, "_aws")) {
		if (json_object_get(o, "TaskOutcomes"))
			w->emf_task++;
		if (json_object_get(o, "WorkflowDuration")) {
			w->emf_workflow++;
			snprintf(w->last_workflow_outcome,
				 sizeof(w->last_workflow_outcome), "%s",
				 json_string_value(json_object_get(o,
							"Outcome")));
		}
	}
	json_decref(o);
}

/* A task: 1 + the sum of its dependencies' "n". */
static orc_status task_fn(const char *event, size_t len,
			  const orc_lambda_context *ctx, void *userdata,
			  char **response_out, orc_error *err)
{
	world *w = userdata;
	json_t *p = json_loadb(event, len, 0, NULL), *deps, *v;
	const char *task, *key;
	json_int_t n = 1;

	(void)ctx;
	assert_non_null(p);
	task = json_string_value(json_object_get(p, "taskId"));
	assert_non_null(task);
	assert_non_null(json_object_get(p, "workflowId"));
	assert_int_equal(json_integer_value(json_object_get(
		json_object_get(p, "input"), "k")), 1);
	deps = json_object_get(p, "dependencies");
	json_object_foreach(deps, key, v)
		n += json_integer_value(json_object_get(v, "n"));
	if (w->fail_task && strcmp(task, w->fail_task) == 0) {
		orc_error_set(err, ORC_EUSER, "%s exploded", task);
		json_decref(p);
		return orc_lambda_set_error_type(err, "ValueError");
	}
	*response_out = orc_malloc(64);
	snprintf(*response_out, 64, "{\"task\":\"%s\",\"n\":%d}", task,
		 (int)n);
	json_decref(p);
	return ORC_OK;
}

static orc_status invoke(const char *function, orc_lambda_invocation type,
			 const char *request, void *payload,
			 char **response_out, orc_error *err)
{
	world *w = payload;
	orc_status st;

	*response_out = NULL;
	if (type == ORC_LAMBDA_EVENT && w->throttle > 0) {
		w->throttle--;
		return orc_error_set(err, ORC_ETHROTTLED, "Lambda Invoke: "
				     "TooManyRequestsException (429), after "
				     "3 attempts");
	}
	if (type == ORC_LAMBDA_EVENT) {
		assert_string_equal(function, WORKER);
		assert_true(w->qtail < sizeof(w->queue) / sizeof(w->queue[0]));
		w->queue[w->qtail++] = strdup(request);
		w->worker_invokes++;
		*response_out = orc_strdup("");
		return ORC_OK;
	}
	assert_int_equal(strncmp(function, ARN, strlen(ARN)), 0);
	w->target_invokes++;
	st = task_fn(request, strlen(request), NULL, w, response_out, err);
	if (st != ORC_OK) {
		/* As Lambda reports a function error: the error payload. */
		*response_out = orc_malloc(400);
		snprintf(*response_out, 400, "{\"errorMessage\":\"%s\","
			 "\"errorType\":\"%s\"}", err->message,
			 orc_lambda_error_type(err));
		orc_error_set(err, ORC_EUSER, "function %s failed", function);
	}
	return st;
}

static void config(world *w, orc_lambda_handler_config *c)
{
	orc_lambda_handler_config init = ORC_LAMBDA_HANDLER_CONFIG_INIT;

	*c = init;
	c->backend = w->b;
	c->worker_function = WORKER;
	c->invoke = invoke;
	c->invoke_payload = w;
	c->log = on_log;
	c->log_payload = w;
	c->clock = clock_now;
	c->clock_payload = w;
	c->sleep = clock_sleep;
	c->sleep_payload = w;
}

static orc_backend *open_table(const char *table)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	orc_backend *b = NULL;

	o.table = table;
	CHECK(ORC_OK, orc_dynamodb_backend_open(&b, &o, E));
	return b;
}

static world *world_new(void)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	static const char *const names[] = { "a", "b1", "b2", "b3", "c" };
	world *w = calloc(1, sizeof(*w));
	int i;

	assert_non_null(w);
	w->now = 1700000000000LL;
	snprintf(w->table, sizeof(w->table), "lh-%ld-%d", (long)getpid(),
		 ntables++);
	o.table = w->table;
	CHECK(ORC_OK, orc_dynamodb_create_table(&o, E));
	w->b = open_table(w->table);
	config(w, &w->orch);
	config(w, &w->work);
	for (i = 0; i < 5; i++) {
		/* By function name: matches the ARNs of the seed. */
		w->targets[i].target = names[i];
		w->targets[i].fn = task_fn;
		w->targets[i].userdata = w;
	}
	w->pending = json_array();
	w->all = json_array();
	table_stream_init(&w->stream, w->table);
	return w;
}

static void world_free(world *w)
{
	while (w->qhead < w->qtail)
		free(w->queue[w->qhead++]);
	table_stream_clear(&w->stream);
	json_decref(w->pending);
	json_decref(w->all);
	orc_backend_free(w->b);
	free(w);
}

/* Rename the seed's functions "task-a" ... to the C handlers' names. */
static void link_c_handlers(world *w)
{
	static const char *const fns[] = {
		"task-a", "task-b1", "task-b2", "task-b3", "task-c"
	};
	int i;

	for (i = 0; i < 5; i++)
		w->targets[i].target = fns[i];
	w->work.targets = w->targets;
	w->work.ntargets = 5;
}

static orc_lambda_context lctx(world *w, char *rid, size_t cap)
{
	orc_lambda_context c;

	memset(&c, 0, sizeof(c));
	snprintf(rid, cap, "req-%d", ++w->requests);
	c.request_id = rid;
	c.deadline_ms = w->now + 60000;
	c.function_arn = "arn:aws:lambda:us-east-1:123456789012:function:x";
	return c;
}

/* Call a handler; returns its response (caller frees). */
static char *call(world *w, orc_lambda_handler_fn fn, void *cfg,
		  const char *event, orc_status want)
{
	char rid[32], *resp = NULL;
	orc_lambda_context c = lctx(w, rid, sizeof(rid));
	orc_error err;
	orc_status st;

	memset(&err, 0, sizeof(err));
	st = fn(event, strlen(event), &c, cfg, &resp, &err);
	if (st != want)
		fail_msg("handler returned %s (%s), expected %s; event %s",
			 orc_status_name(st), err.message,
			 orc_status_name(want), event);
	if (st != ORC_OK)
		assert_null(resp);
	return resp;
}

static void start(world *w, const char *wf_id, const char *extra)
{
	char ev[2048];
	char *resp;

	snprintf(ev, sizeof(ev), seed_event, wf_id, extra ? extra : "");
	resp = call(w, orc_lambda_orchestrator_handler, &w->orch, ev, ORC_OK);
	assert_non_null(strstr(resp, "\"dispatched\":[\"A\"]"));
	orc_free(resp);
}

/* ---- the table as a stream ---- */

static json_t *scan(world *w)
{
	return table_stream_scan(w->table);
}

/* Records for what changed since the last scan. */
static void observe(world *w)
{
	json_t *fresh = json_array();

	table_stream_poll(&w->stream, fresh);
	json_array_extend(w->pending, fresh);
	json_array_extend(w->all, fresh);
	json_decref(fresh);
}

static char *batch_text(json_t *records)
{
	return table_stream_batch(records);
}

/* Deliver the pending records to the orchestrator; none may fail. */
static void deliver(world *w)
{
	char *ev, *resp;

	if (json_array_size(w->pending) == 0)
		return;
	ev = batch_text(w->pending);
	json_array_clear(w->pending);
	resp = call(w, orc_lambda_orchestrator_handler, &w->orch, ev, ORC_OK);
	assert_string_equal(resp, "{\"batchItemFailures\":[]}");
	orc_free(resp);
	free(ev);
}

/* Run one queued worker request. */
static void run_one(world *w)
{
	char *req = w->queue[w->qhead++], *resp;

	resp = call(w, orc_lambda_worker_handler, &w->work, req, ORC_OK);
	if (strstr(resp, "\"skipped\""))
		w->skipped++;
	orc_free(resp);
	free(req);
}

/* Run the queue; with @p stream, the table's changes after each call
 * go to the orchestrator as a Streams batch, until nothing changes. */
static void run(world *w, int stream)
{
	for (;;) {
		if (stream) {
			observe(w);
			if (json_array_size(w->pending)) {
				deliver(w);
				continue;
			}
		}
		if (w->qhead == w->qtail)
			break;
		run_one(w);
	}
}

static orc_snapshot snapshot(world *w, const char *wf_id)
{
	orc_context *ctx = NULL;
	orc_snapshot s;

	CHECK(ORC_OK, orc_context_create(&ctx, w->b, NULL, E));
	CHECK(ORC_OK, orc_workflow_snapshot(&s, ctx, wf_id,
					    ORC_SNAPSHOT_PAYLOADS, E));
	orc_context_free(ctx);
	return s;
}

static void assert_succeeded_once(world *w, const char *wf_id)
{
	orc_snapshot s = snapshot(w, wf_id);
	size_t i;

	assert_int_equal(s.workflow.state, ORC_WORKFLOW_SUCCEEDED);
	for (i = 0; i < s.ntasks; i++) {
		assert_int_equal(orc_snapshot_task(&s, i)->state,
				 ORC_TASK_SUCCEEDED);
		assert_int_equal(orc_snapshot_task(&s, i)->attempt, 1);
	}
	assert_string_equal(orc_snapshot_task(&s, 4)->output,
			    "{\"task\":\"C\",\"n\":7}");
	orc_snapshot_clear(&s);
}

/* ---- tests ---- */

static int setup(void **state)
{
	(void)state;
	return dl_start();
}

static int teardown(void **state)
{
	(void)state;
	dl_stop();
	return 0;
}

static void test_handlers__seed_runs_through_the_stream(void **state)
{
	world *w = world_new();

	(void)state;
	start(w, "wf-stream", NULL);
	run(w, 1);
	assert_succeeded_once(w, "wf-stream");
	/* One worker and one target invocation per task. */
	assert_int_equal(w->worker_invokes, 5);
	assert_int_equal(w->target_invokes, 5);
	assert_int_equal(w->skipped, 0);
	assert_int_equal(w->emf_task, 5);
	/* The workflow's record turned SUCCEEDED in the stream. */
	assert_int_equal(w->emf_workflow, 1);
	assert_string_equal(w->last_workflow_outcome, "SUCCEEDED");
	world_free(w);
}

static void test_handlers__seed_runs_without_a_stream(void **state)
{
	world *w = world_new();
	char ev[2048], *resp;

	(void)state;
	w->work.flags = ORC_LAMBDA_DISPATCH_NEXT;
	start(w, "wf-direct", NULL);
	run(w, 0);
	assert_succeeded_once(w, "wf-direct");
	assert_int_equal(w->worker_invokes + w->target_invokes, 10);
	assert_int_equal(w->skipped, 0);
	assert_int_equal(w->emf_workflow, 1);
	/* Starting it again (Lambda retrying the event) changes nothing. */
	snprintf(ev, sizeof(ev), seed_event, "wf-direct", "");
	resp = call(w, orc_lambda_orchestrator_handler, &w->orch, ev, ORC_OK);
	assert_string_equal(resp, "{\"workflowId\":\"wf-direct\","
			    "\"state\":\"SUCCEEDED\",\"dispatched\":[]}");
	orc_free(resp);
	assert_int_equal(w->worker_invokes + w->target_invokes, 10);
	world_free(w);
}

static void test_handlers__c_handlers_make_one_invocation_per_task(
	void **state)
{
	world *w = world_new();

	(void)state;
	link_c_handlers(w);
	w->work.flags = ORC_LAMBDA_DISPATCH_NEXT;
	start(w, "wf-linked", NULL);
	run(w, 0);
	assert_succeeded_once(w, "wf-linked");
	assert_int_equal(w->worker_invokes, 5);
	assert_int_equal(w->target_invokes, 0);
	world_free(w);
}

/* Fisher-Yates with a printed seed. */
static void shuffle(json_t *a, unsigned seed)
{
	size_t i, n = json_array_size(a);

	srand(seed);
	for (i = n; i > 1; i--) {
		size_t j = (size_t)rand() % i;
		json_t *x = json_incref(json_array_get(a, i - 1));

		json_array_set(a, i - 1, json_array_get(a, j));
		json_array_set_new(a, j, x);
	}
}

static void test_handlers__redelivered_records_change_nothing(void **state)
{
	unsigned seed = 20261126u;
	world *w = world_new();
	json_t *before, *after, *again;
	char *ev, *resp;
	int workers, targets;

	(void)state;
	printf("# seed %u\n", seed);
	start(w, "wf-replay", NULL);
	run(w, 1);
	assert_succeeded_once(w, "wf-replay");
	workers = w->worker_invokes;
	targets = w->target_invokes;
	before = scan(w);

	/* Every record of the run, twice, in a shuffled order. */
	again = json_array();
	json_array_extend(again, w->all);
	json_array_extend(again, w->all);
	shuffle(again, seed);
	ev = batch_text(again);
	resp = call(w, orc_lambda_orchestrator_handler, &w->orch, ev, ORC_OK);
	if (strcmp(resp, "{\"batchItemFailures\":[]}") != 0)
		fail_msg("seed %u: %s", seed, resp);
	orc_free(resp);
	free(ev);
	json_decref(again);

	/* Records are acted on as their images show the items: a replayed
	 * promotion is dispatched again, and the worker's claim at that
	 * version is refused, so nothing runs and nothing changes. */
	run(w, 0);
	after = scan(w);
	if (!json_equal(before, after))
		fail_msg("seed %u: the replay changed the table", seed);
	assert_int_equal(w->target_invokes, targets);
	assert_int_equal(w->skipped, w->worker_invokes - workers);
	assert_int_equal(w->qhead, w->qtail);
	json_decref(before);
	json_decref(after);
	world_free(w);
}

static void test_handlers__duplicated_and_reordered_during_a_run(
	void **state)
{
	unsigned seed = 1700u;
	world *w = world_new();

	(void)state;
	printf("# seed %u\n", seed);
	start(w, "wf-dup", NULL);
	observe(w);
	while (json_array_size(w->pending) || w->qhead < w->qtail) {
		/* Each batch arrives twice and out of order; the workers
		 * run only after both deliveries. */
		json_t *twice = json_array();

		json_array_extend(twice, w->pending);
		json_array_extend(twice, w->pending);
		shuffle(twice, seed++);
		json_array_clear(w->pending);
		json_array_extend(w->pending, twice);
		json_decref(twice);
		deliver(w);
		if (w->qhead < w->qtail)
			run_one(w);
		observe(w);
	}
	/* Every task ran once; each extra dispatch was refused by the
	 * version lock and ran nothing. */
	assert_succeeded_once(w, "wf-dup");
	assert_int_equal(w->target_invokes, 5);
	assert_int_equal(w->worker_invokes, 5 + w->skipped);
	world_free(w);
}

static void test_handlers__one_bad_record_is_reported_alone(void **state)
{
	world *w = world_new();
	json_t *bad, *batch;
	char *ev, *resp;

	(void)state;
	start(w, "wf-bad", NULL);
	observe(w);
	json_array_clear(w->pending);
	run_one(w);           /* A succeeds; B1..B3 become READY */
	observe(w);
	batch = json_deep_copy(w->pending);
	json_array_clear(w->pending);
	assert_int_equal(json_array_size(batch), 4);
	/* A record naming a task the workflow does not have, in the
	 * middle of the batch. */
	bad = json_deep_copy(json_array_get(batch, 0));
	json_object_set_new(bad, "eventID", json_string("the-bad-one"));
	json_object_set_new(json_object_get(json_object_get(bad, "dynamodb"),
					    "Keys"),
			    "sk", json_pack("{s:s}", "S", "TASK#nope"));
	json_array_insert_new(batch, 2, bad);
	ev = batch_text(batch);
	resp = call(w, orc_lambda_orchestrator_handler, &w->orch, ev, ORC_OK);
	assert_string_equal(resp, "{\"batchItemFailures\":[{\"itemIdentifier\":"
			    "\"the-bad-one\"}]}");
	orc_free(resp);
	free(ev);
	/* The good records did their work: B1, B2, B3 dispatched. */
	assert_int_equal(w->qtail - w->qhead, 3);

	/* A record without keys, and one that is not JSON-shaped at all. */
	json_array_clear(batch);
	json_array_append_new(batch, json_pack("{s:s, s:s, s:{}}", "eventID",
					       "no-keys", "eventName",
					       "MODIFY", "dynamodb"));
	json_array_append_new(batch, json_pack("{s:s, s:s}", "eventID", "odd",
					       "eventName", "TRUNCATE"));
	ev = batch_text(batch);
	resp = call(w, orc_lambda_orchestrator_handler, &w->orch, ev, ORC_OK);
	assert_string_equal(resp, "{\"batchItemFailures\":["
			    "{\"itemIdentifier\":\"no-keys\"},"
			    "{\"itemIdentifier\":\"odd\"}]}");
	orc_free(resp);
	free(ev);
	json_decref(batch);
	/* The rest of the run is unaffected. */
	run(w, 1);
	assert_succeeded_once(w, "wf-bad");
	world_free(w);
}

/* The write end of a pipe for hang_fn (set in the forked child only). */
static int hang_fd = -1;

/* A task that says it started, then never ends. */
static orc_status hang_fn(const char *event, size_t len,
			  const orc_lambda_context *ctx, void *userdata,
			  char **response_out, orc_error *err)
{
	(void)event;
	(void)len;
	(void)ctx;
	(void)userdata;
	(void)response_out;
	(void)err;
	if (write(hang_fd, "c", 1) != 1)
		_exit(2);
	for (;;)
		pause();
}

/* A worker process claims A, is SIGKILLed mid-task; once its lease has
 * expired, the reconcile schedule re-readies A and dispatches it. */
static void test_handlers__killed_worker_is_recovered_by_reconcile(
	void **state)
{
	world *w = world_new();
	orc_snapshot s;
	int fds[2], status;
	char byte, *req, *resp;
	pid_t pid;

	(void)state;
	w->work.flags = ORC_LAMBDA_DISPATCH_NEXT;
	start(w, "wf-kill", NULL);
	req = w->queue[w->qhead++];
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		orc_lambda_target t = { "task-a", hang_fn, NULL };
		char rid[32], *r = NULL;
		orc_lambda_context c = lctx(w, rid, sizeof(rid));
		orc_error err;

		close(fds[0]);
		hang_fd = fds[1];
		w->work.backend = open_table(w->table);
		w->work.targets = &t;
		w->work.ntargets = 1;
		orc_lambda_worker_handler(req, strlen(req), &c, &w->work, &r,
					  &err);
		_exit(3);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &byte, 1), 1);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	close(fds[0]);
	free(req);
	s = snapshot(w, "wf-kill");
	assert_int_equal(orc_snapshot_task(&s, 0)->state, ORC_TASK_RUNNING);
	orc_snapshot_clear(&s);

	/* Within the lease, reconcile leaves the task to its worker. */
	resp = call(w, orc_lambda_orchestrator_handler, &w->orch,
		    "{\"mode\":\"reconcile\"}", ORC_OK);
	assert_non_null(strstr(resp, "\"expired\":0"));
	assert_non_null(strstr(resp, "\"dispatched\":[]"));
	orc_free(resp);
	/* The lease is the default (the invocation's deadline is later). */
	w->now += ORC_LAMBDA_LEASE_DEFAULT_MS - 1;
	resp = call(w, orc_lambda_orchestrator_handler, &w->orch,
		    "{\"mode\":\"reconcile\"}", ORC_OK);
	assert_non_null(strstr(resp, "\"expired\":0"));
	orc_free(resp);
	w->now += 2;
	resp = call(w, orc_lambda_orchestrator_handler, &w->orch,
		    "{\"mode\":\"reconcile\"}", ORC_OK);
	assert_non_null(strstr(resp, "\"workflowId\":\"wf-kill\""));
	assert_non_null(strstr(resp, "\"expired\":1"));
	assert_non_null(strstr(resp, "\"dispatched\":[\"A\"]"));
	orc_free(resp);
	run(w, 0);
	s = snapshot(w, "wf-kill");
	assert_int_equal(s.workflow.state, ORC_WORKFLOW_SUCCEEDED);
	assert_int_equal(orc_snapshot_task(&s, 0)->attempt, 2);
	assert_string_equal(orc_snapshot_task(&s, 4)->output,
			    "{\"task\":\"C\",\"n\":7}");
	orc_snapshot_clear(&s);
	world_free(w);
}

static void test_handlers__target_error_fails_the_workflow(void **state)
{
	world *w = world_new();
	orc_snapshot s;

	(void)state;
	w->work.flags = ORC_LAMBDA_DISPATCH_NEXT;
	w->fail_task = "B2";
	start(w, "wf-fail", NULL);
	run(w, 0);
	s = snapshot(w, "wf-fail");
	assert_int_equal(s.workflow.state, ORC_WORKFLOW_FAILED);
	assert_non_null(s.workflow.error);
	assert_non_null(strstr(s.workflow.error, "B2 exploded"));
	assert_int_equal(orc_snapshot_task(&s, 2)->state, ORC_TASK_FAILED);
	/* The default policy: three attempts, retried in the invocation
	 * (the clock jumps over the backoff). */
	assert_int_equal(orc_snapshot_task(&s, 2)->attempt, 3);
	assert_string_equal(orc_snapshot_task(&s, 2)->error,
			    "{\"errorMessage\":\"B2 exploded\","
			    "\"errorType\":\"ValueError\"}");
	assert_int_equal(orc_snapshot_task(&s, 4)->state, ORC_TASK_CANCELED);
	orc_snapshot_clear(&s);
	assert_int_equal(w->emf_workflow, 1);
	assert_string_equal(w->last_workflow_outcome, "FAILED");
	world_free(w);
}

/* A worker that died between completing A and fanning out: the stream
 * record of A's success does the fan-out, and the promotions it writes
 * are dispatched in turn. */
static void test_handlers__stream_repairs_a_fan_out_cut_short(void **state)
{
	world *w = world_new();
	orc_context *ctx = NULL;
	orc_task_update u;
	orc_claim c;
	orc_snapshot s;

	(void)state;
	start(w, "wf-cut", NULL);
	free(w->queue[w->qhead++]);   /* the dispatch of A is lost */
	observe(w);
	json_array_clear(w->pending);
	/* What complete writes first, alone: A SUCCEEDED, no fan-out. */
	CHECK(ORC_OK, orc_context_create(&ctx, w->b, NULL, E));
	CHECK(ORC_OK, orc_workflow_claim_task(&c, ctx, "wf-cut", "A", "gone",
					      60000, E));
	memset(&u, 0, sizeof(u));
	u.if_states = ORC_TASK_BIT(ORC_TASK_RUNNING);
	u.if_version = c.token;
	u.set = ORC_SET_STATE | ORC_SET_OUTPUT;
	u.state = ORC_TASK_SUCCEEDED;
	u.output = "{\"task\":\"A\",\"n\":1}";
	u.now_ms = w->now;
	CHECK(ORC_OK, w->b->update_task(w->b, "wf-cut", "A", &u, NULL, E));
	orc_context_free(ctx);
	s = snapshot(w, "wf-cut");
	assert_int_equal(orc_snapshot_task(&s, 1)->state, ORC_TASK_PENDING);
	orc_snapshot_clear(&s);

	run(w, 1);
	s = snapshot(w, "wf-cut");
	assert_int_equal(s.workflow.state, ORC_WORKFLOW_SUCCEEDED);
	assert_string_equal(orc_snapshot_task(&s, 4)->output,
			    "{\"task\":\"C\",\"n\":7}");
	orc_snapshot_clear(&s);
	assert_int_equal(w->worker_invokes, 5);
	assert_int_equal(w->target_invokes, 4);
	world_free(w);
}

/*
 * The same cut-short fan-out with handlers kept across invocations
 * (orc_lambda_handlers): the orchestrator first waits for the marks to
 * show in the stream (a completion's own marks follow it), writing
 * nothing; a batch after the grace writes the missing ones.
 */
static void test_handlers__kept_handlers_repair_missing_marks_after_grace(
	void **state)
{
	world *w = world_new();
	orc_lambda_handlers *h = NULL;
	orc_context *ctx = NULL;
	orc_task_update u;
	orc_claim c;
	orc_snapshot s;
	json_t *before;
	char *ev, *resp;

	(void)state;
	CHECK(ORC_OK, orc_lambda_handlers_create(&h, &w->orch, E));
	start(w, "wf-cut2", NULL);
	free(w->queue[w->qhead++]);   /* the dispatch of A is lost */
	observe(w);
	json_array_clear(w->pending);
	CHECK(ORC_OK, orc_context_create(&ctx, w->b, NULL, E));
	CHECK(ORC_OK, orc_workflow_claim_task(&c, ctx, "wf-cut2", "A",
					      "gone", 60000, E));
	memset(&u, 0, sizeof(u));
	u.if_states = ORC_TASK_BIT(ORC_TASK_RUNNING);
	u.if_version = c.token;
	u.set = ORC_SET_STATE | ORC_SET_OUTPUT;
	u.state = ORC_TASK_SUCCEEDED;
	u.output = "{\"task\":\"A\",\"n\":1}";
	u.now_ms = w->now;
	CHECK(ORC_OK, w->b->update_task(w->b, "wf-cut2", "A", &u, NULL, E));
	orc_context_free(ctx);

	/* A's SUCCEEDED record: nothing written yet. */
	observe(w);
	before = scan(w);
	ev = batch_text(w->pending);
	json_array_clear(w->pending);
	resp = call(w, orc_lambda_handlers_orchestrator, h, ev,
		    ORC_OK);
	assert_string_equal(resp, "{\"batchItemFailures\":[]}");
	orc_free(resp);
	free(ev);
	{
		json_t *after = scan(w);

		assert_true(json_equal(before, after));
		json_decref(after);
	}
	json_decref(before);
	/* Within the grace, an empty batch writes nothing either. */
	w->now += 4000;
	free(call(w, orc_lambda_handlers_orchestrator, h,
		  "{\"Records\":[]}", ORC_OK));
	s = snapshot(w, "wf-cut2");
	assert_int_equal(orc_snapshot_task(&s, 1)->state, ORC_TASK_PENDING);
	orc_snapshot_clear(&s);
	/* Past it, the next batch writes the three marks. */
	w->now += 1001;
	free(call(w, orc_lambda_handlers_orchestrator, h,
		  "{\"Records\":[]}", ORC_OK));
	s = snapshot(w, "wf-cut2");
	assert_int_equal(orc_snapshot_task(&s, 1)->state, ORC_TASK_READY);
	assert_int_equal(orc_snapshot_task(&s, 2)->state, ORC_TASK_READY);
	assert_int_equal(orc_snapshot_task(&s, 3)->state, ORC_TASK_READY);
	orc_snapshot_clear(&s);
	orc_lambda_handlers_free(h);
	world_free(w);
}

/* A task whose worker outlives its lease: while it runs, the lease
 * expires, reconcile re-readies it and another worker claims it. */
static orc_status outlived_fn(const char *event, size_t len,
			      const orc_lambda_context *ctx, void *userdata,
			      char **response_out, orc_error *err)
{
	orc_context_options o = ORC_CONTEXT_OPTIONS_INIT;
	world *w = userdata;
	orc_context *c = NULL;
	orc_reconcile_report rep;
	orc_claim claim;

	(void)event;
	(void)len;
	(void)ctx;
	(void)err;
	o.clock = clock_now;
	o.clock_payload = w;
	CHECK(ORC_OK, orc_context_create(&c, w->b, &o, E));
	w->now += 70000;
	CHECK(ORC_OK, orc_workflow_reconcile(&rep, c, "wf-late", E));
	assert_int_equal(rep.expired, 1);
	w->now += 5000;
	CHECK(ORC_OK, orc_workflow_claim_task(&claim, c, "wf-late", "A",
					      "other", 60000, E));
	orc_context_free(c);
	*response_out = orc_strdup("{\"late\":true}");
	return ORC_OK;
}

/* The late worker's result is refused by the fencing token: the request
 * is answered as skipped (retrying it cannot help), nothing written. */
static void test_handlers__late_result_is_dropped(void **state)
{
	world *w = world_new();
	orc_lambda_target t = { "task-a", outlived_fn, NULL };
	orc_snapshot s;
	char *req, *resp;

	(void)state;
	t.userdata = w;
	w->work.targets = &t;
	w->work.ntargets = 1;
	start(w, "wf-late", NULL);
	req = w->queue[w->qhead++];
	resp = call(w, orc_lambda_worker_handler, &w->work, req, ORC_OK);
	assert_non_null(strstr(resp, "\"skipped\":\"task A: fencing token"));
	orc_free(resp);
	free(req);
	s = snapshot(w, "wf-late");
	assert_int_equal(orc_snapshot_task(&s, 0)->state, ORC_TASK_RUNNING);
	assert_string_equal(orc_snapshot_task(&s, 0)->owner, "other");
	assert_null(orc_snapshot_task(&s, 0)->output);
	orc_snapshot_clear(&s);
	assert_int_equal(w->qhead, w->qtail);
	world_free(w);
}

/* Bad requests and configurations: a status, a message, no answer. */
#define WORK(ev) orc_lambda_worker_handler(ev, strlen(ev), &c, &w->work, \
					   &resp, &err)
#define ORCH(ev) orc_lambda_orchestrator_handler(ev, strlen(ev), &c, \
						 &w->orch, &resp, &err)
static void test_handlers__bad_input_is_a_clear_error(void **state)
{
	world *w = world_new();
	orc_lambda_handler_config none = w->orch;
	char rid[32], *resp = NULL;
	orc_lambda_context c = lctx(w, rid, sizeof(rid));
	orc_error err;

	(void)state;
	memset(&err, 0, sizeof(err));
	assert_int_equal(WORK("{\"workflowId\":"), ORC_EPARSE);
	assert_int_equal(err.line, 1);
	assert_null(resp);
	assert_int_equal(WORK("{\"taskId\":\"A\"}"), ORC_EINVAL);
	assert_non_null(strstr(err.message, "workflowId"));
	assert_int_equal(WORK("{\"workflowId\":\"w#1\",\"taskId\":\"A\"}"),
			 ORC_EINVAL);
	assert_non_null(strstr(err.message, "'#'"));
	assert_int_equal(WORK("{\"workflowId\":\"nope\",\"taskId\":\"A\"}"),
			 ORC_ENOTFOUND);
	assert_int_equal(ORCH("{\"mode\":\"x\"}"), ORC_EINVAL);
	assert_non_null(strstr(err.message, "mode"));
	assert_int_equal(ORCH("{}"), ORC_EINVAL);
	assert_non_null(strstr(err.message, "unknown event"));
	assert_int_equal(ORCH("{\"mode\":\"start\",\"tasks\":[{\"id\":\"a\","
			      "\"dependsOn\":[\"a\"]}]}"), ORC_EINVAL);
	assert_non_null(strstr(err.message, "depends on itself"));
	none.worker_function = NULL;
	assert_int_equal(orc_lambda_orchestrator_handler("{}", 2, &c, &none,
							 &resp, &err),
			 ORC_EINVAL);
	assert_non_null(strstr(err.message, "worker_function"));
	none.version = 0;
	assert_int_equal(orc_lambda_worker_handler("{}", 2, &c, &none, &resp,
						   &err), ORC_EINVAL);
	assert_int_equal(orc_lambda_worker_handler("{}", 2, &c, NULL, &resp,
						   &err), ORC_EINVAL);
	assert_int_equal(orc_lambda_worker_handler(NULL, 0, &c, &w->work,
						   &resp, &err), ORC_EINVAL);
	assert_int_equal(orc_lambda_orchestrator_handler("{}", 2, &c,
							 &w->orch, NULL, NULL),
			 ORC_EINVAL);
	assert_null(resp);
	world_free(w);
}

/*
 * A root whose first dispatch was throttled: the start marks it (one
 * write), the stream shows it, and the orchestrator dispatches it from
 * that record. No reconcile.
 */
static void test_handlers__throttled_root_dispatch_comes_back_by_stream(
	void **state)
{
	world *w = world_new();
	char ev[2048], *resp;

	(void)state;
	w->throttle = 1;
	snprintf(ev, sizeof(ev), seed_event, "wf-429", "");
	resp = call(w, orc_lambda_orchestrator_handler, &w->orch, ev, ORC_OK);
	assert_non_null(strstr(resp, "\"dispatched\":[]"));
	orc_free(resp);
	assert_int_equal(w->qtail, 0);
	run(w, 1);
	assert_succeeded_once(w, "wf-429");
	assert_int_equal(w->worker_invokes, 5);
	assert_int_equal(w->skipped, 0);
	world_free(w);
}

/* Deliver the pending records; keep pending, as the event source
 * would retry them, the records from the first one the answer reports
 * in batchItemFailures on. Returns how many it reported. */
static size_t deliver_keep_failed(world *w)
{
	json_t *root, *fails, *retry, *v;
	char *ev = batch_text(w->pending), *resp;
	size_t i, k, n;

	resp = call(w, orc_lambda_orchestrator_handler, &w->orch, ev, ORC_OK);
	free(ev);
	root = json_loads(resp, 0, NULL);
	fails = json_object_get(root, "batchItemFailures");
	n = json_array_size(fails);
	retry = json_array();
	json_array_foreach(w->pending, i, v) {
		const char *id = json_string_value(json_object_get(v,
								   "eventID"));

		for (k = 0; k < n; k++)
			if (!strcmp(id, json_string_value(json_object_get(
					json_array_get(fails, k),
					"itemIdentifier"))))
				break;
		if (k < n || json_array_size(retry))
			json_array_append(retry, v);
	}
	json_decref(root);
	orc_free(resp);
	json_array_clear(w->pending);
	json_array_extend(w->pending, retry);
	json_decref(retry);
	return n;
}

/*
 * A dispatch from the stream throttled: the batch reports that record
 * and the ones after it in batchItemFailures, and the event source's
 * retry of them dispatches each once.
 */
static void test_handlers__throttled_stream_dispatch_is_retried(
	void **state)
{
	world *w = world_new();

	(void)state;
	start(w, "wf-429s", NULL);
	run_one(w);             /* A: B1, B2, B3 promoted */
	observe(w);
	w->throttle = 1;
	/* The event source retries from the first failed record on. */
	assert_true(deliver_keep_failed(w) >= 1);
	deliver(w);
	run(w, 1);
	assert_succeeded_once(w, "wf-429s");
	assert_int_equal(w->worker_invokes, 5);
	assert_int_equal(w->skipped, 0);
	world_free(w);
}

/* Without a stream, a worker whose dispatch of the next tasks is
 * throttled past the client's retries tries again within its time. */
static void test_handlers__throttled_dispatch_next_is_tried_again(
	void **state)
{
	world *w = world_new();

	(void)state;
	w->work.flags = ORC_LAMBDA_DISPATCH_NEXT;
	start(w, "wf-429n", NULL);
	w->throttle = 2;
	run(w, 0);
	assert_succeeded_once(w, "wf-429n");
	assert_int_equal(w->throttle, 0);
	assert_int_equal(w->worker_invokes, 5);
	assert_int_equal(w->skipped, 0);
	world_free(w);
}

/*
 * A storage fault past the client's retries while the orchestrator
 * handles a batch (through a proxy in front of dynalite): the record
 * and those after it are reported in batchItemFailures, nothing is
 * dispatched twice, and the event source's retry finishes the work.
 */
static void test_handlers__stream_storage_fault_is_retried(void **state)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	world *w = world_new();
	orc_backend *via = NULL;
	ddb_count *px = NULL;

	(void)state;
	assert_int_equal(ddb_count_start(&px), 0);
	o.table = w->table;
	o.endpoint = ddb_count_url(px);
	CHECK(ORC_OK, orc_dynamodb_backend_open(&via, &o, E));
	w->orch.backend = via;
	start(w, "wf-5xx", NULL);
	run_one(w);             /* A: B1, B2, B3 promoted by its worker */
	observe(w);
	/* Every request fails, past the client's three attempts. */
	ddb_count_arm(px, "", DC_500, 0, 3);
	/* The table's first scan: the workflow's record (nothing to do),
	 * then A (its fan-out fails) and every task after it. */
	assert_int_equal(json_array_size(w->pending), 6);
	assert_int_equal(deliver_keep_failed(w), 5);
	assert_int_equal(ddb_count_faults(px), 3);
	assert_int_equal(w->qhead, w->qtail);   /* nothing dispatched */
	assert_int_equal(json_array_size(w->pending), 5);
	deliver(w);             /* the event source's retry */
	run(w, 1);
	assert_succeeded_once(w, "wf-5xx");
	assert_int_equal(w->worker_invokes, 5);
	assert_int_equal(w->skipped, 0);
	world_free(w);
	orc_backend_free(via);
	ddb_count_stop(px);
}

/* An Event invocation lost before its worker ran: the task stays READY
 * and the reconcile schedule dispatches it again. */
static void test_handlers__lost_dispatch_is_sent_again_by_reconcile(
	void **state)
{
	world *w = world_new();
	char *resp;

	(void)state;
	start(w, "wf-lost", NULL);
	free(w->queue[w->qhead++]);   /* A's invocation, lost */
	resp = call(w, orc_lambda_orchestrator_handler, &w->orch,
		    "{\"mode\":\"reconcile\",\"workflowId\":\"wf-lost\"}",
		    ORC_OK);
	assert_non_null(strstr(resp, "\"dispatched\":[\"A\"]"));
	orc_free(resp);
	run(w, 1);
	assert_succeeded_once(w, "wf-lost");
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handlers__seed_runs_through_the_stream),
		cmocka_unit_test(test_handlers__seed_runs_without_a_stream),
		cmocka_unit_test(
			test_handlers__c_handlers_make_one_invocation_per_task),
		cmocka_unit_test(
			test_handlers__redelivered_records_change_nothing),
		cmocka_unit_test(
			test_handlers__duplicated_and_reordered_during_a_run),
		cmocka_unit_test(
			test_handlers__one_bad_record_is_reported_alone),
		cmocka_unit_test(
			test_handlers__killed_worker_is_recovered_by_reconcile),
		cmocka_unit_test(
			test_handlers__target_error_fails_the_workflow),
		cmocka_unit_test(
			test_handlers__stream_repairs_a_fan_out_cut_short),
		cmocka_unit_test(
		test_handlers__kept_handlers_repair_missing_marks_after_grace),
		cmocka_unit_test(test_handlers__late_result_is_dropped),
		cmocka_unit_test(test_handlers__bad_input_is_a_clear_error),
		cmocka_unit_test(
		test_handlers__throttled_root_dispatch_comes_back_by_stream),
		cmocka_unit_test(
			test_handlers__throttled_stream_dispatch_is_retried),
		cmocka_unit_test(
			test_handlers__lost_dispatch_is_sent_again_by_reconcile),
		cmocka_unit_test(
			test_handlers__throttled_dispatch_next_is_tried_again),
		cmocka_unit_test(
			test_handlers__stream_storage_fault_is_retried),
	};

	return cmocka_run_group_tests_name("lambda_handlers", tests, setup,
					   teardown);
}
