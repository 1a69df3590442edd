/*
 * The public API's shape before 1.0: versioned task specs and options
 * structs with _init() functions, the snapshot's task accessors, the
 * lease-first lock calls, orc_backend_caps() against docs/threading.md,
 * the Lambda error type's own field, and where an expired lease waits
 * its retry backoff.
 */
#include "support/testutil.h"

#include "orchestra/lambda.h"
#include "orchestra/lambda_handlers.h"

/* ---- versioned task specs ---- */

static void test_api__task_spec_version_checked(void **state)
{
	orc_task_spec s = ORC_TASK_SPEC_INIT, got;
	orc_dag *dag = NULL;
	orc_error err;

	(void)state;
	ASSERT_ST(ORC_OK, orc_dag_create(&dag, &err));
	s.id = "A";
	s.version = 0; /* a spec that did not start from the macro */
	assert_int_equal(orc_dag_add_task(dag, &s, &err), ORC_EINVAL);
	assert_non_null(strstr(err.message, "version 0"));
	assert_non_null(strstr(err.message, "orc_task_spec_init"));
	s.version = ORC_TASK_SPEC_VERSION + 1; /* newer headers */
	assert_int_equal(orc_dag_add_task(dag, &s, &err), ORC_EINVAL);
	assert_int_equal(orc_dag_task_count(dag), 0);
	s.version = ORC_TASK_SPEC_VERSION;
	ASSERT_ST(ORC_OK, orc_dag_add_task(dag, &s, &err));
	/* Reading back needs the caller's version too. */
	memset(&got, 0, sizeof(got));
	assert_int_equal(orc_dag_task_get(&got, dag, 0, &err), ORC_EINVAL);
	ASSERT_ST(ORC_OK, orc_task_spec_init(&got, ORC_TASK_SPEC_VERSION));
	ASSERT_ST(ORC_OK, orc_dag_task_get(&got, dag, 0, &err));
	assert_string_equal(got.id, "A");
	assert_int_equal(got.version, ORC_TASK_SPEC_VERSION);
	orc_dag_free(dag);
}

static void test_api__task_spec_init_matches_macro(void **state)
{
	static const orc_task_spec want = ORC_TASK_SPEC_INIT;
	unsigned char buf[sizeof(orc_task_spec) + 16];
	orc_task_spec *s = (orc_task_spec *)(void *)buf;
	size_t i;

	(void)state;
	memset(buf, 0xab, sizeof(buf));
	ASSERT_ST(ORC_OK, orc_task_spec_init(s, ORC_TASK_SPEC_VERSION));
	assert_memory_equal(s, &want, sizeof(want));
	for (i = sizeof(orc_task_spec); i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xab);
	assert_int_equal(orc_task_spec_init(s, 0), ORC_EINVAL);
	assert_int_equal(orc_task_spec_init(s, ORC_TASK_SPEC_VERSION + 1),
			 ORC_EINVAL);
	assert_int_equal(orc_task_spec_init(NULL, ORC_TASK_SPEC_VERSION),
			 ORC_EINVAL);
}

/* ---- every options struct has an _init() equal to its macro ---- */

/* init(current version) writes the macro's defaults and nothing past
 * the struct; version 0, a newer version and NULL are refused. */
#define CHECK_INIT(type, macro, version, fn)                               \
	do {                                                               \
		static const type want_ = macro;                           \
		unsigned char buf_[sizeof(type) + 16];                     \
		size_t i_;                                                 \
		memset(buf_, 0xab, sizeof(buf_));                          \
		ASSERT_ST(ORC_OK, fn((type *)(void *)buf_, version));      \
		assert_memory_equal(buf_, &want_, sizeof(type));           \
		for (i_ = sizeof(type); i_ < sizeof(buf_); i_++)           \
			assert_int_equal(buf_[i_], 0xab);                  \
		assert_int_equal(fn((type *)(void *)buf_, 0), ORC_EINVAL); \
		assert_int_equal(fn((type *)(void *)buf_, (version) + 1),  \
				 ORC_EINVAL);                              \
		assert_int_equal(fn(NULL, version), ORC_EINVAL);           \
	} while (0)

static void test_api__options_init_functions(void **state)
{
	(void)state;
	CHECK_INIT(orc_context_options, ORC_CONTEXT_OPTIONS_INIT,
		   ORC_CONTEXT_OPTIONS_VERSION, orc_context_options_init);
	CHECK_INIT(orc_runner_options, ORC_RUNNER_OPTIONS_INIT,
		   ORC_RUNNER_OPTIONS_VERSION, orc_runner_options_init);
	CHECK_INIT(orc_memory_options, ORC_MEMORY_OPTIONS_INIT,
		   ORC_MEMORY_OPTIONS_VERSION, orc_memory_options_init);
	CHECK_INIT(orc_sqlite_options, ORC_SQLITE_OPTIONS_INIT,
		   ORC_SQLITE_OPTIONS_VERSION, orc_sqlite_options_init);
	CHECK_INIT(orc_dynamodb_options, ORC_DYNAMODB_OPTIONS_INIT,
		   ORC_DYNAMODB_OPTIONS_VERSION, orc_dynamodb_options_init);
	CHECK_INIT(orc_asl_options, ORC_ASL_OPTIONS_INIT,
		   ORC_ASL_OPTIONS_VERSION, orc_asl_options_init);
	CHECK_INIT(orc_lambda_runtime_options, ORC_LAMBDA_RUNTIME_OPTIONS_INIT,
		   ORC_LAMBDA_RUNTIME_OPTIONS_VERSION,
		   orc_lambda_runtime_options_init);
	CHECK_INIT(orc_lambda_client_options, ORC_LAMBDA_CLIENT_OPTIONS_INIT,
		   ORC_LAMBDA_CLIENT_OPTIONS_VERSION,
		   orc_lambda_client_options_init);
	CHECK_INIT(orc_lambda_handler_config, ORC_LAMBDA_HANDLER_CONFIG_INIT,
		   ORC_LAMBDA_HANDLER_CONFIG_VERSION,
		   orc_lambda_handler_config_init);
}

/* A program built against version 1 of a struct that has grown passes
 * the shorter struct: init must write only version 1's bytes. */
static void test_api__options_init_writes_only_its_version(void **state)
{
	static const size_t v1_asl = offsetof(orc_asl_options, fail_states);
	static const size_t v1_ddb =
		offsetof(orc_dynamodb_options, seed_grace_ms);
	unsigned char buf[sizeof(orc_dynamodb_options) +
			  sizeof(orc_asl_options)];
	orc_dynamodb_options *d = (orc_dynamodb_options *)(void *)buf;
	orc_asl_options *a = (orc_asl_options *)(void *)buf;
	size_t i;

	(void)state;
	assert_true(ORC_DYNAMODB_OPTIONS_VERSION >= 2);
	memset(buf, 0xab, sizeof(buf));
	ASSERT_ST(ORC_OK, orc_dynamodb_options_init(d, 1));
	assert_int_equal(d->version, 1);
	assert_null(d->table);
	for (i = v1_ddb; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xab);
	assert_true(ORC_ASL_OPTIONS_VERSION >= 2);
	memset(buf, 0xab, sizeof(buf));
	ASSERT_ST(ORC_OK, orc_asl_options_init(a, 1));
	assert_int_equal(a->version, 1);
	assert_int_equal(a->strategy, ORC_ASL_STRATEGY_SP);
	for (i = v1_asl; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xab);
}

/* The Lambda options carry a version, and the library checks it. */
static void test_api__lambda_options_version_checked(void **state)
{
	orc_lambda_client_options co = ORC_LAMBDA_CLIENT_OPTIONS_INIT;
	orc_lambda_runtime_options ro = ORC_LAMBDA_RUNTIME_OPTIONS_INIT;
	orc_lambda_client *c = NULL;
	orc_error err;
	orc_status want = ORC_EINVAL;

	(void)state;
#ifndef ORC_HAVE_LAMBDA
	want = ORC_ENOTSUPPORTED; /* this build has no Lambda part */
#endif
	assert_int_equal(co.version, ORC_LAMBDA_CLIENT_OPTIONS_VERSION);
	assert_int_equal(ro.version, ORC_LAMBDA_RUNTIME_OPTIONS_VERSION);
	co.version = ORC_LAMBDA_CLIENT_OPTIONS_VERSION + 1;
	assert_int_equal(orc_lambda_client_create(&c, &co, &err), want);
	assert_null(c);
	ro.version = 0;
#ifdef ORC_HAVE_LAMBDA
	{
		static orc_status (*const fn)(const char *, size_t,
					      const orc_lambda_context *,
					      void *, char **, orc_error *) =
			orc_lambda_worker_handler;

		/* Refused before the Runtime API is looked for. */
		assert_int_equal(orc_lambda_runtime_run(fn, NULL, &ro, &err),
				 ORC_EINVAL);
		assert_non_null(strstr(err.message, "version 0"));
		co.version = 0;
		assert_int_equal(orc_lambda_client_create(&c, &co, &err),
				 ORC_EINVAL);
		assert_non_null(strstr(err.message, "version 0"));
	}
#endif
}

/* ---- snapshot accessors ---- */

static void test_api__snapshot_tasks_through_accessors(void **state)
{
	static const char *const ids[] = { "A", "B1", "B2", "B3", "C" };
	orc_backend *b = NULL;
	orc_context *ctx = NULL;
	orc_dag *dag = test_seed_dag(NULL);
	orc_snapshot snap;
	orc_error err;
	size_t i;

	(void)state;
	assert_non_null(dag);
	ASSERT_ST(ORC_OK, orc_memory_backend_create(&b, NULL, &err));
	ASSERT_ST(ORC_OK, orc_context_create(&ctx, b, NULL, &err));
	ASSERT_ST(ORC_OK, orc_workflow_start(ctx, "wf", dag, NULL, &err));
	ASSERT_ST(ORC_OK, orc_workflow_snapshot(&snap, ctx, "wf", 0, &err));
	assert_int_equal(orc_snapshot_task_count(&snap), 5);
	for (i = 0; i < 5; i++) {
		const orc_task_rec *t = orc_snapshot_task(&snap, i);

		assert_non_null(t);
		assert_string_equal(t->id, ids[i]);
		assert_int_equal(t->state, i == 0 ? ORC_TASK_READY
						  : ORC_TASK_PENDING);
	}
	assert_null(orc_snapshot_task(&snap, 5));
	assert_null(orc_snapshot_task(NULL, 0));
	assert_int_equal(orc_snapshot_task_count(NULL), 0);
	orc_snapshot_clear(&snap);
	assert_int_equal(orc_snapshot_task_count(&snap), 0);
	assert_null(orc_snapshot_task(&snap, 0));
	orc_context_free(ctx);
	orc_backend_free(b);
	orc_dag_free(dag);
}

/* ---- orc_backend_caps() and docs/threading.md ---- */

/* The caps docs/threading.md lists on the table row naming @p ctor. */
static uint32_t documented_caps(const char *ctor)
{
	const char *dir = getenv("ORC_TEST_DATA");
	char path[4096], line[1024], needle[128];
	uint32_t caps = 0;
	int found = 0;
	FILE *f;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/../../docs/threading.md", dir);
	snprintf(needle, sizeof(needle), "(`%s`)", ctor);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		if (line[0] != '|' || !strstr(line, needle))
			continue;
		found++;
		if (strstr(line, "ORC_BACKEND_CAP_THREADSAFE"))
			caps |= ORC_BACKEND_CAP_THREADSAFE;
		if (strstr(line, "ORC_BACKEND_CAP_TTL"))
			caps |= ORC_BACKEND_CAP_TTL;
		if (strstr(line, "ORC_BACKEND_CAP_TXN"))
			caps |= ORC_BACKEND_CAP_TXN;
	}
	fclose(f);
	if (found != 1)
		fail_msg("docs/threading.md: %d table rows name %s, expected 1",
			 found, needle);
	return caps;
}

static void test_api__backend_caps_match_threading_md(void **state)
{
	orc_backend *b = NULL;
	orc_error err;

	(void)state;
	assert_int_equal(orc_backend_caps(NULL), 0);
	ASSERT_ST(ORC_OK, orc_memory_backend_create(&b, NULL, &err));
	assert_int_equal(orc_backend_caps(b),
			 documented_caps("orc_memory_backend_create"));
	assert_true(orc_backend_caps(b) & ORC_BACKEND_CAP_THREADSAFE);
	orc_backend_free(b);
#ifdef ORC_HAVE_SQLITE
	ASSERT_ST(ORC_OK, orc_sqlite_backend_open(&b, ":memory:", NULL, &err));
	assert_int_equal(orc_backend_caps(b),
			 documented_caps("orc_sqlite_backend_open"));
	orc_backend_free(b);
#else
	print_message("built without SQLite: its row is not checked\n");
	if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
		fail_msg("CI=true needs the SQLite backend");
#endif
	{
		/* Opening contacts nothing: credentials and endpoint are
		 * only used by the first request. */
		orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
		orc_status st;

		setenv("AWS_ACCESS_KEY_ID", "test", 1);
		setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
		o.table = "t";
		o.region = "us-east-1";
		o.endpoint = "http://127.0.0.1:9";
		st = orc_dynamodb_backend_open(&b, &o, &err);
		if (st == ORC_ENOTSUPPORTED) {
			print_message("built without DynamoDB: its row is "
				      "not checked\n");
			if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
				fail_msg("CI=true needs the DynamoDB backend");
		} else {
			ASSERT_ST(ORC_OK, st);
			assert_int_equal(orc_backend_caps(b),
					 documented_caps(
						 "orc_dynamodb_backend_open"));
			orc_backend_free(b);
		}
	}
}

/* ---- the Lambda error type has its own field ---- */

static void test_api__lambda_error_type_field(void **state)
{
	char longest[sizeof(((orc_error *)0)->type)];
	orc_error err;

	(void)state;
	orc_error_set(&err, ORC_EUSER, "boom");
	snprintf(err.source, sizeof(err.source), "%s", "handler.c");
	assert_int_equal(orc_lambda_set_error_type(&err, "TaskFailed"),
			 ORC_EUSER);
	assert_string_equal(err.type, "TaskFailed");
	assert_string_equal(orc_lambda_error_type(&err), "TaskFailed");
	/* The source is the error's own, untouched. */
	assert_string_equal(err.source, "handler.c");
	/* Setting the error again forgets the type. */
	orc_error_set(&err, ORC_EPARSE, "bad");
	assert_string_equal(err.type, "");
	assert_string_equal(orc_lambda_error_type(&err), "ORC_EPARSE");
	/* The whole field is usable; one byte more is refused. */
	memset(longest, 'T', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_int_equal(orc_lambda_set_error_type(&err, longest), ORC_EPARSE);
	assert_string_equal(orc_lambda_error_type(&err), longest);
	{
		char more[sizeof(longest) + 1];

		memset(more, 'T', sizeof(more) - 1);
		more[sizeof(more) - 1] = '\0';
		assert_int_equal(orc_lambda_set_error_type(&err, more),
				 ORC_EINVAL);
	}
}

/* ---- an expired lease waits its retry backoff ---- */

/* Task A of workflow "wf", with its error. */
static void read_a(orc_task_rec *out, orc_context *ctx)
{
	orc_snapshot snap;
	orc_error err;
	const orc_task_rec *t;

	ASSERT_ST(ORC_OK, orc_workflow_snapshot(&snap, ctx, "wf",
						ORC_SNAPSHOT_PAYLOADS, &err));
	t = orc_snapshot_task(&snap, 0);
	assert_non_null(t);
	*out = *t;
	out->output = NULL;
	out->error = t->error ? orc_strdup(t->error) : NULL;
	orc_snapshot_clear(&snap);
}

/* Reconcile moves a task whose lease expired back to READY with the
 * not-before time of its retry policy, counted from the reconcile that
 * found it (task.h, docs/architecture.md). */
static void test_api__expired_lease_waits_retry_backoff(void **state)
{
	orc_retry_policy pol = ORC_RETRY_POLICY_INIT;
	orc_context_options copts = ORC_CONTEXT_OPTIONS_INIT;
	test_clock clock = { 10000 };
	orc_backend *b = NULL;
	orc_context *ctx = NULL;
	orc_reconcile_report rep;
	orc_claim c;
	orc_task_rec t;
	orc_dag *dag;
	orc_error err;

	(void)state;
	pol.max_attempts = 2;
	pol.interval_ms = 5000;
	dag = test_seed_dag(&pol);
	assert_non_null(dag);
	copts.clock = test_clock_now;
	copts.clock_payload = &clock;
	ASSERT_ST(ORC_OK, orc_memory_backend_create(&b, NULL, &err));
	ASSERT_ST(ORC_OK, orc_context_create(&ctx, b, &copts, &err));
	ASSERT_ST(ORC_OK, orc_workflow_start(ctx, "wf", dag, NULL, &err));
	ASSERT_ST(ORC_OK, orc_workflow_claim(&c, ctx, "wf", "w1", 100, &err));
	assert_string_equal(c.task_id, "A");
	clock.now += 700; /* expired 600 ms ago */
	ASSERT_ST(ORC_OK, orc_workflow_reconcile(&rep, ctx, "wf", &err));
	assert_int_equal(rep.expired, 1);
	read_a(&t, ctx);
	assert_int_equal(t.state, ORC_TASK_READY);
	assert_int_equal(t.attempt, 1);
	assert_int_equal(t.not_before_ms, clock.now + 5000);
	orc_task_rec_clear(&t);
	/* Not claimable until the backoff has passed. */
	assert_int_equal(orc_workflow_claim(&c, ctx, "wf", "w2", 100, &err),
			 ORC_ENOTFOUND);
	clock.now += 4999;
	assert_int_equal(orc_workflow_claim(&c, ctx, "wf", "w2", 100, &err),
			 ORC_ENOTFOUND);
	clock.now += 1;
	ASSERT_ST(ORC_OK, orc_workflow_claim(&c, ctx, "wf", "w2", 100, &err));
	assert_int_equal(c.attempt, 2);
	/* The last attempt's lease expiring fails the task, naming it. */
	clock.now += 100;
	ASSERT_ST(ORC_OK, orc_workflow_reconcile(&rep, ctx, "wf", &err));
	read_a(&t, ctx);
	assert_int_equal(t.state, ORC_TASK_FAILED);
	assert_string_equal(t.error, "lease of 'w2' expired");
	orc_task_rec_clear(&t);
	assert_int_equal(rep.state, ORC_WORKFLOW_FAILED);
	orc_context_free(ctx);
	orc_backend_free(b);
	orc_dag_free(dag);
}

/* ---- orc_dag_add_dep: the dependency may come later, the task not ---- */

static void test_api__add_dep_order(void **state)
{
	orc_task_spec s = ORC_TASK_SPEC_INIT;
	orc_dag *dag = NULL;
	orc_error err;

	(void)state;
	ASSERT_ST(ORC_OK, orc_dag_create(&dag, &err));
	assert_int_equal(orc_dag_add_dep(dag, "B", "A", &err), ORC_ENOTFOUND);
	assert_non_null(strstr(err.message, "no task B"));
	s.id = "B";
	ASSERT_ST(ORC_OK, orc_dag_add_task(dag, &s, &err));
	ASSERT_ST(ORC_OK, orc_dag_add_dep(dag, "B", "A", &err));
	assert_int_equal(orc_dag_validate(dag, &err), ORC_ENOTFOUND);
	assert_string_equal(err.message, "task B depends on unknown task A");
	s.id = "A";
	ASSERT_ST(ORC_OK, orc_dag_add_task(dag, &s, &err));
	ASSERT_ST(ORC_OK, orc_dag_validate(dag, &err));
	orc_dag_free(dag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api__task_spec_version_checked),
		cmocka_unit_test(test_api__task_spec_init_matches_macro),
		cmocka_unit_test(test_api__options_init_functions),
		cmocka_unit_test(
			test_api__options_init_writes_only_its_version),
		cmocka_unit_test(test_api__lambda_options_version_checked),
		cmocka_unit_test(test_api__snapshot_tasks_through_accessors),
		cmocka_unit_test(test_api__backend_caps_match_threading_md),
		cmocka_unit_test(test_api__lambda_error_type_field),
		cmocka_unit_test(test_api__expired_lease_waits_retry_backoff),
		cmocka_unit_test(test_api__add_dep_order),
	};
	return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
