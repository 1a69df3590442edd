/*
 * The moto harness itself: moto behind tests/support/moto_server.py
 * answers our DynamoDB backend (a table made by
 * orc_dynamodb_create_table, a workflow started through the engine), and
 * its stream gives back what was written, in Lambda's event shape.
 */
#include <pthread.h>

#include "support/testutil.h"
#include "support/moto.h"
#include "lambda/moto_stream.h"

#include "orchestra/backends.h"

static void stream_has_the_seed_workflow(void **state)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	orc_backend *be = NULL;
	orc_context *ctx = NULL;
	orc_dag *dag = test_seed_dag(NULL);
	moto_stream ms;
	json_t *recs = json_array(), *r;
	int seen[6] = { 0 };
	orc_error err;
	size_t i;

	(void)state;
	o.table = "moto_smoke";
	if (orc_dynamodb_create_table(&o, &err) != ORC_OK)
		fail_msg("create table: %s", err.message);
	if (orc_dynamodb_backend_open(&be, &o, &err) != ORC_OK)
		fail_msg("open: %s", err.message);
	ASSERT_ST(ORC_OK, orc_context_create(&ctx, be, NULL, &err));
	assert_non_null(dag);
	if (orc_workflow_start(ctx, "wf1", dag, "{\"x\":1}", &err) != ORC_OK)
		fail_msg("start: %s", err.message);

	moto_stream_open(&ms, "moto_smoke");
	/* The workflow record and five task records, each inserted once. */
	assert_int_equal(moto_stream_read(&ms, recs), 6);
	json_array_foreach(recs, i, r) {
		json_t *d = json_object_get(r, "dynamodb");
		const char *pk = json_string_value(json_object_get(
			json_object_get(json_object_get(d, "Keys"), "pk"),
			"S"));
		const char *sk = json_string_value(json_object_get(
			json_object_get(json_object_get(d, "Keys"), "sk"),
			"S"));
		static const char *const sks[6] = {
			"META#WORKFLOW", "TASK#A", "TASK#B1", "TASK#B2",
			"TASK#B3", "TASK#C" };
		int k;

		assert_string_equal(json_string_value(json_object_get(
			r, "eventName")), "INSERT");
		assert_string_equal(json_string_value(json_object_get(
			r, "eventSource")), "aws:dynamodb");
		assert_string_equal(json_string_value(json_object_get(
			r, "eventSourceARN")), ms.arn);
		assert_string_equal(json_string_value(json_object_get(
			r, "awsRegion")), "us-east-1");
		assert_string_equal(json_string_value(json_object_get(
			d, "StreamViewType")), "NEW_AND_OLD_IMAGES");
		assert_true(json_is_integer(json_object_get(
			d, "ApproximateCreationDateTime")));
		assert_non_null(json_string_value(json_object_get(
			d, "SequenceNumber")));
		assert_null(json_object_get(d, "OldImage"));
		assert_non_null(json_object_get(json_object_get(
			d, "NewImage"), "version"));
		assert_string_equal(pk, "WORKFLOW#wf1");
		for (k = 0; k < 6 && strcmp(sk, sks[k]) != 0; k++)
			;
		assert_true(k < 6);
		seen[k]++;
	}
	for (i = 0; i < 6; i++)
		assert_int_equal(seen[i], 1);
	/* Read to the end: nothing more until something is written. */
	assert_int_equal(moto_stream_read(&ms, recs), 0);
	if (orc_workflow_cancel(ctx, "wf1", "smoke", &err) != ORC_OK)
		fail_msg("cancel: %s", err.message);
	assert_true(moto_stream_read(&ms, recs) > 0);
	r = json_array_get(recs, json_array_size(recs) - 1);
	assert_string_equal(json_string_value(json_object_get(r,
		"eventName")), "MODIFY");
	assert_non_null(json_object_get(json_object_get(r, "dynamodb"),
					"OldImage"));

	moto_stream_close(&ms);
	json_decref(recs);
	orc_dag_free(dag);
	orc_context_free(ctx);
	orc_backend_free(be);
}

/* Racers for one claim: each its own backend (connection) and context. */
#define RACERS 6
#define ROUNDS 20

struct racer {
	pthread_barrier_t *go;
	const char *wf_id;
	char owner[16];
	orc_backend *be;
	orc_context *ctx;
	orc_status st;
	char msg[256];
};

static void *race_claim(void *p)
{
	struct racer *r = p;
	orc_claim c;
	orc_error err;

	memset(&err, 0, sizeof(err));
	pthread_barrier_wait(r->go);
	r->st = orc_workflow_claim_task(&c, r->ctx, r->wf_id, "A", r->owner,
					60000, &err);
	snprintf(r->msg, sizeof(r->msg), "%s", err.message);
	return NULL;
}

/*
 * What the harness promises: one conditional write is atomic against
 * another (moto_server.py's lock), so of threads claiming the same READY
 * task at once through their own connections exactly one wins.
 */
static void one_claim_wins_a_race(void **state)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	struct racer r[RACERS];
	pthread_t th[RACERS];
	pthread_barrier_t go;
	orc_dag *dag = test_seed_dag(NULL);
	orc_error err;
	int round, i;

	(void)state;
	o.table = "moto_race";
	if (orc_dynamodb_create_table(&o, &err) != ORC_OK)
		fail_msg("create table: %s", err.message);
	for (i = 0; i < RACERS; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		snprintf(r[i].owner, sizeof(r[i].owner), "racer-%d", i);
		if (orc_dynamodb_backend_open(&r[i].be, &o, &err) != ORC_OK)
			fail_msg("open: %s", err.message);
		ASSERT_ST(ORC_OK, orc_context_create(&r[i].ctx, r[i].be,
						     NULL, &err));
		r[i].go = &go;
	}
	for (round = 0; round < ROUNDS; round++) {
		char wf_id[32];
		int won = 0;

		snprintf(wf_id, sizeof(wf_id), "race-%d", round);
		if (orc_workflow_start(r[0].ctx, wf_id, dag, NULL, &err) !=
		    ORC_OK)
			fail_msg("start: %s", err.message);
		assert_int_equal(pthread_barrier_init(&go, NULL, RACERS), 0);
		for (i = 0; i < RACERS; i++) {
			r[i].wf_id = wf_id;
			assert_int_equal(pthread_create(&th[i], NULL,
							race_claim, &r[i]), 0);
		}
		for (i = 0; i < RACERS; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&go);
		for (i = 0; i < RACERS; i++) {
			if (r[i].st == ORC_OK)
				won++;
			else if (r[i].st != ORC_ECONFLICT)
				fail_msg("round %d: claim: %s", round,
					 r[i].msg);
		}
		if (won != 1)
			fail_msg("round %d: %d of %d claims of one task won",
				 round, won, RACERS);
	}
	for (i = 0; i < RACERS; i++) {
		orc_context_free(r[i].ctx);
		orc_backend_free(r[i].be);
	}
	orc_dag_free(dag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stream_has_the_seed_workflow),
		cmocka_unit_test(one_claim_wins_a_race),
	};

	return MOTO_RUN_GROUP("moto", tests, NULL, NULL);
}
