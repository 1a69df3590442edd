/*
 * The moto harness itself: moto behind tests/support/moto_server.py
 * answers our DynamoDB backend (a table made by
 * orc_dynamodb_create_table, a workflow started through the engine), and
 * its stream gives back what was written, in Lambda's event shape.
 */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stream_has_the_seed_workflow),
	};

	return MOTO_RUN_GROUP("moto", tests, NULL, NULL);
}
