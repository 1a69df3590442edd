/*
 * The Streams path end to end on a real stream: the example binaries
 * (examples/lambda: orchestrator, worker, task) run as functions of
 * fake_lambda.py against moto (tests/support/moto.h), and the
 * orchestrator is fed the records of moto's DynamoDB Stream, read with
 * DescribeStream, GetShardIterator and GetRecords, in Lambda's event
 * shape. As an event source mapping may, batches are delivered out of
 * order, with duplicates, and again after they were processed; worker
 * invocations (Event: at least once) are delivered again too. Each seed
 * (printed before its run) fixes every such choice.
 *
 * Proved for each seed: the workflow SUCCEEDS, each task's target ran
 * exactly once, and each ran with the outputs of all its dependencies
 * (no early start), also after every record was delivered once more.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "orchestra/backends.h"
#include "orchestra/lambda.h"
#include "orchestra/orchestra.h"
#include "lambda/fake.h"
#include "lambda/moto_stream.h"
#include "support/moto.h"

#define TABLE "streams-moto"
#define TASK_ARN "arn:aws:lambda:us-east-1:123456789012:function:task"
/* Steps one run may take; a run that needs more is stuck. */
#define MAX_STEPS 2000

static fake_lambda fake;
static orc_backend *backend;
static orc_lambda_client *client;
static moto_stream ms;
static json_t *graph;     /* the seed's graph, targets filled in */

/* A run's choices: xorshift64* from the printed seed. */
static uint64_t rng, cur_seed;

/* What the chaos did, summed over the seeds: the test checks that each
 * kind happened, so a change that tamed it would show. */
static struct {
	size_t batches, records, twins, stale, retried, reordered;
	size_t failed, worker_twins;
} chaos;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

/* 1 with probability 1 / @p n. */
static int one_in(unsigned n)
{
	return rnd() % n == 0;
}

static int setup(void **state)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	const char *orch = getenv("ORC_LAMBDA_ORCHESTRATOR");
	const char *worker = getenv("ORC_LAMBDA_WORKER");
	const char *task = getenv("ORC_LAMBDA_TASK");
	const char *root = getenv("ORC_SOURCE_ROOT");
	static char fns[4][1024], seed_path[1024];
	const char *fn_args[5], *envs[] = { "ORC_TABLE=" TABLE,
		"ORC_WORKER_FUNCTION=worker", NULL };
	json_t *seed, *t;
	json_error_t jerr;
	orc_error err;
	size_t i;

	(void)state;
	if (!orch || !worker || !task || !root) {
		fprintf(stderr, "ORC_LAMBDA_{ORCHESTRATOR,WORKER,TASK} or "
			"ORC_SOURCE_ROOT unset\n");
		return -1;
	}
	snprintf(seed_path, sizeof(seed_path),
		 "%s/examples/lambda/seed_workflow.json", root);
	if (!(seed = json_load_file(seed_path, 0, &jerr))) {
		fprintf(stderr, "%s: %s\n", seed_path, jerr.text);
		return -1;
	}
	graph = json_incref(json_object_get(seed, "graph"));
	json_decref(seed);
	json_array_foreach(graph, i, t)
		json_object_set_new(t, "targetLambdaArn", json_string(TASK_ARN));
	o.table = TABLE;
	if (orc_dynamodb_create_table(&o, &err) != ORC_OK ||
	    orc_dynamodb_backend_open(&backend, &o, &err) != ORC_OK) {
		fprintf(stderr, "table: %s\n", err.message);
		return -1;
	}
	/* "worker" has no binary: what the orchestrator dispatches waits
	 * in its queue until the test hands it to "worker-bin". */
	snprintf(fns[0], sizeof(fns[0]), "orchestrator=%s", orch);
	snprintf(fns[1], sizeof(fns[1]), "worker");
	snprintf(fns[2], sizeof(fns[2]), "worker-bin=%s", worker);
	snprintf(fns[3], sizeof(fns[3]), "task=%s", task);
	for (i = 0; i < 4; i++)
		fn_args[i] = fns[i];
	fn_args[4] = NULL;
	if (fake_start_with(&fake, fn_args, envs) != 0)
		return -1;
	setenv("AWS_ENDPOINT_URL_LAMBDA", fake.invoke, 1);
	if (orc_lambda_client_create(&client, NULL, &err) != ORC_OK) {
		fprintf(stderr, "lambda client: %s\n", err.message);
		return -1;
	}
	moto_stream_open(&ms, TABLE);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	moto_stream_close(&ms);
	orc_lambda_client_free(client);
	fake_stop(&fake);
	orc_backend_free(backend);
	json_decref(graph);
	return 0;
}

/* The invocations of @p fn so far (fake_lambda's list). */
static json_t *invocations(const char *fn)
{
	char path[128], *body;
	json_t *st, *inv;

	snprintf(path, sizeof(path), "/_fake/functions/%s", fn);
	body = fake_get(&fake, path);
	st = body ? json_loads(body, 0, NULL) : NULL;
	free(body);
	if (!st)
		fail_msg("fake_lambda: no state of %s", fn);
	inv = json_incref(json_object_get(st, "invocations"));
	json_decref(st);
	return inv;
}

static size_t count_of(const char *fn)
{
	json_t *inv = invocations(fn);
	size_t n = json_array_size(inv);

	json_decref(inv);
	return n;
}

/* Invoke the orchestrator and return its answer, parsed. */
static json_t *orchestrate(json_t *event)
{
	char *ev = json_dumps(event, JSON_COMPACT), *resp = NULL;
	json_t *ans;
	orc_error err;

	if (orc_lambda_invoke(client, "orchestrator",
			      ORC_LAMBDA_REQUEST_RESPONSE, ev, &resp,
			      &err) != ORC_OK)
		fail_msg("seed %llu: invoke orchestrator: %s (%s)",
			 (unsigned long long)cur_seed, err.message,
			 resp ? resp : "");
	free(ev);
	ans = json_loads(resp, 0, NULL);
	if (!ans)
		fail_msg("orchestrator answered %s", resp);
	free(resp);
	return ans;
}

/* Run one worker invocation with @p event on the real worker. */
static void run_worker(const char *event, size_t *worker_runs)
{
	char path[128];

	free(fake_post(&fake, "/_fake/functions/worker-bin/enqueue", NULL,
		       event));
	++*worker_runs;
	snprintf(path, sizeof(path), "/_fake/functions/worker-bin?wait=%zu&"
		 "timeout_ms=20000", *worker_runs);
	free(fake_get(&fake, path));
}

/* A record's sequence number (same length for moto's one shard). */
static const char *seq_of(json_t *rec)
{
	return json_string_value(json_object_get(json_object_get(rec,
		"dynamodb"), "SequenceNumber"));
}

/* Move a random choice of 1 to 5 records out of @p pending into a
 * batch, in random order, maybe with a duplicate and an old record. */
static json_t *pick_batch(json_t *pending, json_t *history)
{
	json_t *batch = json_array();
	size_t k = 1 + rnd() % 5, i;

	for (i = 0; i < k && json_array_size(pending); i++) {
		size_t at = rnd() % json_array_size(pending);

		json_array_append(batch, json_array_get(pending, at));
		json_array_remove(pending, at);
	}
	for (i = 1; i < json_array_size(batch); i++)
		if (strcmp(seq_of(json_array_get(batch, i - 1)),
			   seq_of(json_array_get(batch, i))) > 0)
			chaos.reordered++;
	if (one_in(4)) {  /* the same record twice in one batch */
		chaos.twins++;
		json_array_insert(batch, rnd() % (json_array_size(batch) + 1),
				  json_array_get(batch, rnd() %
						 json_array_size(batch)));
	}
	if (json_array_size(history) && one_in(4)) {  /* a stale record */
		chaos.stale++;
		json_array_insert(batch, rnd() % (json_array_size(batch) + 1),
				  json_array_get(history, rnd() %
						 json_array_size(history)));
	}
	return batch;
}

/* Deliver @p batch; records the orchestrator reports failed go back to
 * @p pending, as the event source mapping retries them. */
static void deliver(json_t *batch, json_t *pending, json_t *history,
		    uint64_t seed)
{
	json_t *ev = json_pack("{s:O}", "Records", batch);
	json_t *ans = orchestrate(ev), *f, *r;
	size_t i, j;

	json_decref(ev);
	chaos.batches++;
	chaos.records += json_array_size(batch);
	if (!json_is_array(json_object_get(ans, "batchItemFailures")))
		fail_msg("seed %llu: the orchestrator answered a batch with "
			 "%s", (unsigned long long)seed,
			 json_dumps(ans, JSON_COMPACT));
	json_array_foreach(batch, i, r) {
		int failed = 0;

		json_array_foreach(json_object_get(ans, "batchItemFailures"),
				   j, f) {
			if (json_equal(json_object_get(f, "itemIdentifier"),
				       json_object_get(r, "eventID")))
				failed = 1;
		}
		chaos.failed += (size_t)failed;
		json_array_append(failed ? pending : history, r);
	}
	json_decref(ans);
}

/* The seed's dependencies of @p task_id, as a JSON array. */
static json_t *deps_of(const char *task_id)
{
	json_t *t;
	size_t i;

	json_array_foreach(graph, i, t) {
		if (strcmp(json_string_value(json_object_get(t, "taskId")),
			   task_id) == 0)
			return json_object_get(t, "dependsOn");
	}
	return NULL;
}

/*
 * Each task of @p wf_id ran its target exactly once, with the output
 * of each dependency in its payload and nothing else, so no task
 * started before its dependencies succeeded.
 */
static void check_targets(const char *wf_id, uint64_t seed)
{
	json_t *inv = invocations("task"), *v, *runs = json_object(), *t;
	size_t i, j;

	json_array_foreach(inv, i, v) {
		json_t *p = json_loads(json_string_value(json_object_get(
			v, "event")), 0, NULL), *deps, *d;
		const char *tid = json_string_value(json_object_get(
			p, "taskId"));

		if (!p || !tid)
			fail_msg("seed %llu: a target event without taskId",
				 (unsigned long long)seed);
		if (strcmp(json_string_value(json_object_get(p,
			   "workflowId")), wf_id) != 0) {
			json_decref(p);
			continue;
		}
		json_object_set_new(runs, tid, json_integer(
			json_integer_value(json_object_get(runs, tid)) + 1));
		deps = json_object_get(p, "dependencies");
		if (json_object_size(deps) !=
		    json_array_size(deps_of(tid)))
			fail_msg("seed %llu: %s ran with %zu of its %zu "
				 "dependencies' outputs",
				 (unsigned long long)seed, tid,
				 json_object_size(deps),
				 json_array_size(deps_of(tid)));
		json_array_foreach(deps_of(tid), j, d) {
			if (!json_is_integer(json_object_get(json_object_get(
				    deps, json_string_value(d)), "n")))
				fail_msg("seed %llu: %s ran without %s's "
					 "output", (unsigned long long)seed,
					 tid, json_string_value(d));
		}
		json_decref(p);
	}
	json_array_foreach(graph, i, t) {
		const char *tid = json_string_value(json_object_get(t,
								    "taskId"));

		if (json_integer_value(json_object_get(runs, tid)) != 1)
			fail_msg("seed %llu: the target of %s ran %lld "
				 "times", (unsigned long long)seed, tid,
				 (long long)json_integer_value(
					 json_object_get(runs, tid)));
	}
	json_decref(runs);
	json_decref(inv);
}

/* Hand the stream and the worker queue out until both are dry. */
static void drain(json_t *pending, json_t *history, size_t *taken,
		  size_t *worker_runs, uint64_t seed)
{
	int step;

	for (step = 0; step < MAX_STEPS; step++) {
		json_t *inv, *next;
		int stream;

		moto_stream_read(&ms, pending);
		stream = json_array_size(pending) > 0;
		inv = invocations("worker");
		next = json_array_get(inv, *taken);
		if (!stream && !next) {
			json_decref(inv);
			return;
		}
		if (stream && (!next || one_in(2))) {
			json_t *batch = pick_batch(pending, history);

			deliver(batch, pending, history, seed);
			/* Lambda retrying a batch it saw no answer for. */
			if (one_in(5)) {
				chaos.retried++;
				deliver(batch, pending, history, seed);
			}
			json_decref(batch);
		} else {
			const char *ev = json_string_value(
				json_object_get(next, "event"));

			++*taken;
			run_worker(ev, worker_runs);
			/* An Event invocation delivered twice. */
			if (one_in(5)) {
				chaos.worker_twins++;
				run_worker(ev, worker_runs);
			}
		}
		json_decref(inv);
	}
	fail_msg("seed %llu: still busy after %d steps",
		 (unsigned long long)seed, MAX_STEPS);
}

static void run_seed(uint64_t seed)
{
	char wf_id[64];
	json_t *pending = json_array(), *history = json_array(), *ans, *ev;
	size_t taken = count_of("worker"), i;
	size_t worker_runs = count_of("worker-bin");
	orc_context *ctx = NULL;
	orc_snapshot s;
	orc_error err;

	printf("# seed %llu\n", (unsigned long long)seed);
	fflush(stdout);
	rng = seed ? seed : 1;
	cur_seed = seed;
	snprintf(wf_id, sizeof(wf_id), "moto-%llu", (unsigned long long)seed);
	moto_stream_read(&ms, history);  /* earlier runs' records */
	json_array_clear(history);
	ev = json_pack("{s:s, s:s, s:{s:i}, s:O}", "mode", "start",
		       "workflowId", wf_id, "input", "k", 1, "graph", graph);
	ans = orchestrate(ev);
	json_decref(ev);
	json_decref(ans);

	drain(pending, history, &taken, &worker_runs, seed);
	assert_int_equal(orc_context_create(&ctx, backend, NULL, &err),
			 ORC_OK);
	assert_int_equal(orc_workflow_snapshot(&s, ctx, wf_id,
					       ORC_SNAPSHOT_PAYLOADS, &err),
			 ORC_OK);
	if (s.workflow.state != ORC_WORKFLOW_SUCCEEDED)
		fail_msg("seed %llu: workflow %s is %s", (unsigned long long)
			 seed, wf_id, orc_workflow_state_name(
				 s.workflow.state));
	check_targets(wf_id, seed);
	for (i = 0; i < s.ntasks; i++)
		if (strcmp(orc_snapshot_task(&s, i)->id, "C") == 0)
			assert_string_equal(orc_snapshot_task(&s, i)->output,
					    "{\"task\":\"C\",\"n\":7}");
	orc_snapshot_clear(&s);

	/* Every record once more, shuffled, after the end: nothing runs
	 * again. */
	while (json_array_size(history)) {
		size_t at = rnd() % json_array_size(history);

		json_array_append(pending, json_array_get(history, at));
		json_array_remove(history, at);
	}
	while (json_array_size(pending)) {
		json_t *batch = json_array();

		for (i = 0; i < 4 && json_array_size(pending); i++) {
			json_array_append(batch, json_array_get(pending, 0));
			json_array_remove(pending, 0);
		}
		deliver(batch, pending, history, seed);
		json_decref(batch);
	}
	drain(pending, history, &taken, &worker_runs, seed);
	check_targets(wf_id, seed);
	assert_int_equal(orc_workflow_snapshot(&s, ctx, wf_id, 0, &err),
			 ORC_OK);
	assert_int_equal(s.workflow.state, ORC_WORKFLOW_SUCCEEDED);
	orc_snapshot_clear(&s);
	orc_context_free(ctx);
	json_decref(pending);
	json_decref(history);
}

static void test_streams_moto__chaotic_delivery_runs_each_target_once(
	void **state)
{
	static const uint64_t seeds[] = { 1, 2, 3, 0x5eed, 20260101 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		run_seed(seeds[i]);
	printf("# %zu batches of %zu records: %zu out of stream order, %zu "
	       "with a record twice, %zu with a stale record, %zu delivered "
	       "again, %zu records failed; %zu worker events twice\n",
	       chaos.batches, chaos.records, chaos.reordered, chaos.twins,
	       chaos.stale, chaos.retried, chaos.failed, chaos.worker_twins);
	assert_true(chaos.reordered > 0 && chaos.twins > 0 &&
		    chaos.stale > 0 && chaos.retried > 0 &&
		    chaos.worker_twins > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		test_streams_moto__chaotic_delivery_runs_each_target_once),
	};

	return MOTO_RUN_GROUP("lambda_streams_moto", tests, setup,
			      teardown);
}
