/*
 * orc_asl_emit(): the shape of the emitted machines, the retry mapping,
 * names, options and errors. Execution is checked by run_sfn.mjs.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "orchestra/asl.h"
#include "orchestra/dag.h"

#define FN "arn:aws:lambda:us-east-1:123456789012:function:"

/* Build a DAG from "id" strings and "task<-dep" edges, all Lambda. */
static orc_dag *dag_of(const char *const *ids, const char *const *edges)
{
	orc_dag *dag;
	orc_error err;
	size_t i;

	assert_int_equal(orc_dag_create(&dag, &err), ORC_OK);
	for (i = 0; ids[i]; i++) {
		orc_task_spec s = ORC_TASK_SPEC_INIT;

		s.id = ids[i];
		s.target_kind = ORC_TARGET_LAMBDA;
		s.target = FN "f";
		assert_int_equal(orc_dag_add_task(dag, &s, &err), ORC_OK);
	}
	for (i = 0; edges && edges[i]; i += 2)
		assert_int_equal(orc_dag_add_dep(dag, edges[i], edges[i + 1],
						 &err), ORC_OK);
	assert_int_equal(orc_dag_validate(dag, &err), ORC_OK);
	return dag;
}

static json_t *emit_json(const orc_dag *dag, const orc_asl_options *o,
			 orc_asl_report *rep)
{
	orc_error err;
	char *text = NULL;
	json_t *j;

	if (orc_asl_emit(&text, rep, dag, o, &err) != ORC_OK)
		fail_msg("orc_asl_emit: %s", err.message);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	orc_free(text);
	return j;
}

static json_t *state(json_t *states, const char *name)
{
	json_t *s = json_object_get(states, name);

	if (!s)
		fail_msg("no state \"%s\"", name);
	return s;
}

static const char *str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* The branch's States when it is exactly one Task state named @p name. */
static void assert_single_task_branch(json_t *branch, const char *name)
{
	json_t *states = json_object_get(branch, "States");

	assert_string_equal(str(branch, "StartAt"), name);
	assert_string_equal(str(state(states, name), "Type"), "Task");
	assert_true(json_is_true(json_object_get(state(states, name), "End")));
	/* the Task and its Fail state, nothing else */
	assert_int_equal(json_object_size(states), 2);
}

static void test_asl__seed_shape(void **unused)
{
	static const char *const ids[] = { "A", "B1", "B2", "B3", "C", NULL };
	static const char *const edges[] = { "B1", "A", "B2", "A", "B3", "A",
		"C", "B1", "C", "B2", "C", "B3", NULL };
	orc_dag *dag = dag_of(ids, edges);
	orc_asl_report rep;
	json_t *m = emit_json(dag, NULL, &rep), *states, *par, *br;

	(void)unused;
	states = json_object_get(m, "States");
	assert_string_equal(str(m, "StartAt"), "A");
	assert_string_equal(str(state(states, "A"), "Type"), "Task");
	par = state(states, str(state(states, "A"), "Next"));
	assert_string_equal(str(par, "Type"), "Parallel");
	br = json_object_get(par, "Branches");
	assert_int_equal(json_array_size(br), 3);
	assert_single_task_branch(json_array_get(br, 0), "B1");
	assert_single_task_branch(json_array_get(br, 1), "B2");
	assert_single_task_branch(json_array_get(br, 2), "B3");
	assert_string_equal(str(par, "Next"), "C");
	assert_true(json_is_true(json_object_get(state(states, "C"), "End")));
	/* A, Parallel, C and the Fail states of A and C */
	assert_int_equal(json_object_size(states), 5);
	assert_int_equal(rep.task_states, 5);
	assert_int_equal(rep.parallel_states, 1);
	assert_int_equal(rep.fail_states, 5);
	assert_int_equal(rep.states, 11);
	assert_int_equal(rep.false_dependencies, 0);
	assert_int_equal(rep.series_parallel, 1);
	assert_int_equal(rep.strategy, ORC_ASL_STRATEGY_SP);
	json_decref(m);
	orc_dag_free(dag);
}

/* Count Catch members in @p states and the branches below. */
static int catches(json_t *states)
{
	const char *k;
	json_t *s, *b;
	size_t i;
	int n = 0;

	json_object_foreach(states, k, s) {
		n += json_object_get(s, "Catch") != NULL;
		json_array_foreach(json_object_get(s, "Branches"), i, b)
			n += catches(json_object_get(b, "States"));
	}
	return n;
}

/* Without Fail states the seed's machine is the hand-written one's
 * size: one state per task and one Parallel; a failure is the task's. */
static void test_asl__seed_without_fail_states(void **unused)
{
	static const char *const ids[] = { "A", "B1", "B2", "B3", "C", NULL };
	static const char *const edges[] = { "B1", "A", "B2", "A", "B3", "A",
		"C", "B1", "C", "B2", "C", "B3", NULL };
	orc_dag *dag = dag_of(ids, edges);
	orc_asl_options o = ORC_ASL_OPTIONS_INIT;
	orc_asl_report rep;
	json_t *m, *states;

	(void)unused;
	o.fail_states = ORC_ASL_FAIL_NONE;
	m = emit_json(dag, &o, &rep);
	states = json_object_get(m, "States");
	assert_int_equal(json_object_size(states), 3);  /* A, Parallel, C */
	assert_int_equal(rep.states, 6);
	assert_int_equal(rep.task_states, 5);
	assert_int_equal(rep.parallel_states, 1);
	assert_int_equal(rep.fail_states, 0);
	assert_int_equal(catches(states), 0);
	json_decref(m);
	/* The default keeps one Catch per task. */
	m = emit_json(dag, NULL, &rep);
	assert_int_equal(catches(json_object_get(m, "States")), 5);
	json_decref(m);
	o.fail_states = (orc_asl_fail_states)7;
	{
		char *text = NULL;
		orc_error err;

		assert_int_equal(orc_asl_emit(&text, &rep, dag, &o, &err),
				 ORC_EINVAL);
		assert_non_null(strstr(err.message, "fail_states"));
	}
	orc_dag_free(dag);
}

/* A -> ((B -> (C1, C2) -> D), E) -> F: Parallels nest. */
static void test_asl__nested_sp(void **unused)
{
	static const char *const ids[] = { "A", "B", "C1", "C2", "D", "E",
		"F", NULL };
	static const char *const edges[] = { "B", "A", "E", "A", "C1", "B",
		"C2", "B", "D", "C1", "D", "C2", "F", "D", "F", "E", NULL };
	orc_dag *dag = dag_of(ids, edges);
	orc_asl_report rep;
	json_t *m = emit_json(dag, NULL, &rep), *states, *outer, *b0, *b0s,
	       *inner;

	(void)unused;
	states = json_object_get(m, "States");
	outer = state(states, str(state(states, "A"), "Next"));
	assert_int_equal(json_array_size(json_object_get(outer, "Branches")),
			 2);
	b0 = json_array_get(json_object_get(outer, "Branches"), 0);
	b0s = json_object_get(b0, "States");
	assert_string_equal(str(b0, "StartAt"), "B");
	inner = state(b0s, str(state(b0s, "B"), "Next"));
	assert_string_equal(str(inner, "Type"), "Parallel");
	assert_int_equal(json_array_size(json_object_get(inner, "Branches")),
			 2);
	assert_string_equal(str(inner, "Next"), "D");
	assert_single_task_branch(json_array_get(
		json_object_get(outer, "Branches"), 1), "E");
	assert_string_equal(str(outer, "Next"), "F");
	assert_int_equal(rep.parallel_states, 2);
	assert_int_equal(rep.false_dependencies, 0);
	assert_int_equal(rep.series_parallel, 1);
	json_decref(m);
	orc_dag_free(dag);
}

/* Emit with both strategies; check the report against the given counts. */
static void check_false_deps(const char *const *ids, const char *const *edges,
			     int series_parallel, size_t sp_false,
			     size_t levels_false, size_t latency_false)
{
	orc_dag *dag = dag_of(ids, edges);
	orc_asl_options o = ORC_ASL_OPTIONS_INIT;
	orc_asl_report rep;
	json_t *m;

	m = emit_json(dag, &o, &rep);
	assert_int_equal(rep.series_parallel, series_parallel);
	assert_int_equal(rep.false_dependencies, sp_false);
	json_decref(m);
	o.strategy = ORC_ASL_STRATEGY_LEVELS;
	m = emit_json(dag, &o, &rep);
	assert_int_equal(rep.strategy, ORC_ASL_STRATEGY_LEVELS);
	assert_int_equal(rep.series_parallel, series_parallel);
	assert_int_equal(rep.false_dependencies, levels_false);
	json_decref(m);
	o.strategy = ORC_ASL_STRATEGY_SP_LATENCY;
	m = emit_json(dag, &o, &rep);
	assert_int_equal(rep.strategy, ORC_ASL_STRATEGY_SP_LATENCY);
	assert_int_equal(rep.false_dependencies, latency_false);
	json_decref(m);
	orc_dag_free(dag);
}

/*
 * The "N": c <- a, c <- b, d <- b. No series-parallel machine avoids a
 * false dependency; the best ones add exactly one.
 */
static void test_asl__n_shape_costs_one(void **unused)
{
	static const char *const ids[] = { "a", "b", "c", "d", NULL };
	static const char *const edges[] = { "c", "a", "c", "b", "d", "b",
		NULL };

	(void)unused;
	check_false_deps(ids, edges, 0, 1, 1, 1);
}

/* c <- b <- a and c <- d: exact with "sp"; "levels" makes b wait for d. */
static void test_asl__levels_adds_what_sp_avoids(void **unused)
{
	static const char *const ids[] = { "a", "b", "c", "d", NULL };
	static const char *const edges[] = { "b", "a", "c", "b", "c", "d",
		NULL };

	(void)unused;
	check_false_deps(ids, edges, 1, 0, 1, 0);
}

static void test_asl__retry_and_timeout_mapping(void **unused)
{
	orc_dag *dag;
	orc_error err;
	orc_task_spec s = ORC_TASK_SPEC_INIT;
	json_t *m, *t, *r, *p;

	(void)unused;
	assert_int_equal(orc_dag_create(&dag, &err), ORC_OK);
	s.id = "x";
	s.target_kind = ORC_TARGET_LAMBDA;
	s.target = FN "x";
	s.retry.max_attempts = 3;
	s.retry.interval_ms = 1500;
	s.retry.backoff_rate = 1.5;
	s.retry.max_delay_ms = 4001;
	s.retry.jitter = ORC_JITTER_FULL;
	s.timeout_ms = 2500;
	assert_int_equal(orc_dag_add_task(dag, &s, &err), ORC_OK);
	s.id = "once";
	s.retry.max_attempts = 1;
	s.timeout_ms = 0;
	assert_int_equal(orc_dag_add_task(dag, &s, &err), ORC_OK);
	assert_int_equal(orc_dag_validate(dag, &err), ORC_OK);
	m = emit_json(dag, NULL, NULL);
	t = json_object_get(json_object_get(m, "States"), "Parallel-1");
	t = json_object_get(json_array_get(json_object_get(t, "Branches"), 0),
			    "States");
	t = state(t, "x");
	assert_int_equal(json_integer_value(json_object_get(t,
			 "TimeoutSeconds")), 3);
	r = json_array_get(json_object_get(t, "Retry"), 0);
	assert_string_equal(json_string_value(json_array_get(
		json_object_get(r, "ErrorEquals"), 0)), "States.ALL");
	/* max_attempts counts the first attempt, MaxAttempts only retries */
	assert_int_equal(json_integer_value(json_object_get(r,
			 "MaxAttempts")), 2);
	assert_int_equal(json_integer_value(json_object_get(r,
			 "IntervalSeconds")), 2);
	assert_true(json_real_value(json_object_get(r, "BackoffRate")) == 1.5);
	assert_int_equal(json_integer_value(json_object_get(r,
			 "MaxDelaySeconds")), 5);
	assert_string_equal(str(r, "JitterStrategy"), "FULL");
	p = json_object_get(json_object_get(t, "Parameters"), "Payload");
	assert_string_equal(str(p, "taskId"), "x");
	assert_string_equal(str(json_object_get(t, "Parameters"),
				"FunctionName"), FN "x");
	assert_string_equal(str(t, "Resource"),
			    "arn:aws:states:::lambda:invoke");
	t = json_object_get(json_object_get(m, "States"), "Parallel-1");
	t = json_object_get(json_array_get(json_object_get(t, "Branches"), 1),
			    "States");
	t = state(t, "once");
	assert_null(json_object_get(t, "Retry"));
	assert_null(json_object_get(t, "TimeoutSeconds"));
	json_decref(m);
	orc_dag_free(dag);
}

static orc_dag *handler_dag(void)
{
	orc_dag *dag;
	orc_error err;
	orc_task_spec s = ORC_TASK_SPEC_INIT;

	assert_int_equal(orc_dag_create(&dag, &err), ORC_OK);
	s.id = "h-task";
	s.target_kind = ORC_TARGET_HANDLER;
	s.target = "my_handler";
	assert_int_equal(orc_dag_add_task(dag, &s, &err), ORC_OK);
	assert_int_equal(orc_dag_validate(dag, &err), ORC_OK);
	return dag;
}

static void test_asl__non_lambda_targets(void **unused)
{
	orc_dag *dag = handler_dag();
	orc_asl_options o = ORC_ASL_OPTIONS_INIT;
	orc_error err;
	char *text = (char *)"untouched";
	json_t *m, *t;

	(void)unused;
	assert_int_equal(orc_asl_emit(&text, NULL, dag, &o, &err),
			 ORC_EINVAL);
	assert_null(text);
	assert_non_null(strstr(err.message, "h-task"));
	assert_non_null(strstr(err.message, "default_resource"));

	o.default_resource = FN "worker";
	m = emit_json(dag, &o, NULL);
	t = state(json_object_get(m, "States"), "h-task");
	assert_string_equal(str(json_object_get(t, "Parameters"),
				"FunctionName"), FN "worker");
	json_decref(m);

	o.default_resource =
		"arn:aws:states:us-east-1:123456789012:activity:work";
	m = emit_json(dag, &o, NULL);
	t = state(json_object_get(m, "States"), "h-task");
	assert_string_equal(str(t, "Resource"), o.default_resource);
	/* an activity gets the payload itself */
	assert_string_equal(str(json_object_get(t, "Parameters"), "taskId"),
			    "h-task");
	json_decref(m);

	o.type = ORC_ASL_EXPRESS;
	assert_int_equal(orc_asl_emit(&text, NULL, dag, &o, &err),
			 ORC_EINVAL);
	assert_non_null(strstr(err.message, "Express"));
	orc_dag_free(dag);
}

static long cps(const char *s)
{
	long n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void collect_names(json_t *states, json_t *seen)
{
	const char *name;
	json_t *s, *b;
	size_t i;

	json_object_foreach(states, name, s) {
		assert_true(cps(name) <= 80);
		/* characters AWS does not allow in names */
		assert_null(strpbrk(name, " \t<>{}[]?*\"#%\\^|~`$&,;:/"));
		assert_null(json_object_get(seen, name));
		json_object_set_new(seen, name, json_true());
		json_array_foreach(json_object_get(s, "Branches"), i, b)
			collect_names(json_object_get(b, "States"), seen);
	}
}

/*
 * Long ids sharing 127 bytes, ids equal to generated names, ids that
 * differ only in characters a name cannot have.
 */
static void test_asl__names_unique_and_short(void **unused)
{
	char long1[129], long2[129];
	const char *ids[] = { long1, long2, "Parallel-1", "Failed-Parallel-1",
		"\xc3\xa9\xc3\xa9\xc3\xa9", "a b", "a/b", "a_b", NULL };
	orc_dag *dag;
	json_t *m, *seen = json_object();
	orc_asl_report rep;
	char *a, *b;
	orc_error err;

	(void)unused;
	memset(long1, 'x', 128);
	long1[128] = '\0';
	memcpy(long2, long1, sizeof(long1));
	long2[127] = 'y';
	dag = dag_of(ids, NULL);
	m = emit_json(dag, NULL, &rep);
	collect_names(json_object_get(m, "States"), seen);
	/* 8 tasks, 8 Fail states, 1 Parallel */
	assert_int_equal(json_object_size(seen), 17);
	assert_int_equal(rep.states, 17);
	/* a plain id is its own name, even after odd ones */
	assert_non_null(json_object_get(seen, "a_b"));
	assert_non_null(json_object_get(seen, "\xc3\xa9\xc3\xa9\xc3\xa9"));
	/* deterministic: the same text twice */
	assert_int_equal(orc_asl_emit(&a, NULL, dag, NULL, &err), ORC_OK);
	assert_int_equal(orc_asl_emit(&b, NULL, dag, NULL, &err), ORC_OK);
	assert_string_equal(a, b);
	orc_free(a);
	orc_free(b);
	json_decref(seen);
	json_decref(m);
	orc_dag_free(dag);
}

static void test_asl__jsonata(void **unused)
{
	static const char *const ids[] = { "A", "B", NULL };
	static const char *const edges[] = { "B", "A", NULL };
	orc_dag *dag = dag_of(ids, edges);
	orc_asl_options o = ORC_ASL_OPTIONS_INIT;
	json_t *m, *t;

	(void)unused;
	o.query_language = ORC_ASL_JSONATA;
	o.type = ORC_ASL_EXPRESS;
	m = emit_json(dag, &o, NULL);
	assert_string_equal(str(m, "QueryLanguage"), "JSONata");
	assert_non_null(strstr(str(m, "Comment"), "EXPRESS"));
	t = state(json_object_get(m, "States"), "B");
	assert_null(json_object_get(t, "Parameters"));
	assert_non_null(json_object_get(t, "Arguments"));
	assert_non_null(strstr(str(t, "Output"), "$states.result.Payload"));
	json_decref(m);
	orc_dag_free(dag);
}

static void test_asl__bad_arguments(void **unused)
{
	static const char *const ids[] = { "A", NULL };
	orc_dag *dag = dag_of(ids, NULL), *open_dag;
	orc_asl_options o = ORC_ASL_OPTIONS_INIT;
	orc_asl_strategy strat;
	orc_error err;
	char *text = (char *)"untouched";

	(void)unused;
	assert_int_equal(orc_asl_emit(NULL, NULL, dag, NULL, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_asl_emit(&text, NULL, NULL, NULL, NULL),
			 ORC_EINVAL);
	assert_null(text);
	assert_int_equal(orc_dag_create(&open_dag, &err), ORC_OK);
	assert_int_equal(orc_asl_emit(&text, NULL, open_dag, NULL, &err),
			 ORC_EINVAL);
	assert_non_null(strstr(err.message, "validate"));
	orc_dag_free(open_dag);
	o.version = 99;
	assert_int_equal(orc_asl_emit(&text, NULL, dag, &o, &err),
			 ORC_EINVAL);
	o.version = ORC_ASL_OPTIONS_VERSION;
	o.strategy = (orc_asl_strategy)7;
	assert_int_equal(orc_asl_emit(&text, NULL, dag, &o, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_asl_options_init(&o, 0), ORC_EINVAL);
	assert_int_equal(orc_asl_options_init(&o, ORC_ASL_OPTIONS_VERSION),
			 ORC_OK);
	assert_int_equal(o.strategy, ORC_ASL_STRATEGY_SP);
	assert_int_equal(orc_asl_strategy_parse(&strat, "levels", &err),
			 ORC_OK);
	assert_int_equal(strat, ORC_ASL_STRATEGY_LEVELS);
	assert_int_equal(orc_asl_strategy_parse(&strat, "sp-latency", &err),
			 ORC_OK);
	assert_int_equal(strat, ORC_ASL_STRATEGY_SP_LATENCY);
	assert_int_equal(orc_asl_strategy_parse(&strat, "fast", &err),
			 ORC_EINVAL);
	assert_non_null(strstr(err.message, "fast"));
	assert_null(orc_asl_strategy_name((orc_asl_strategy)7));
	orc_dag_free(dag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_asl__seed_shape),
		cmocka_unit_test(test_asl__seed_without_fail_states),
		cmocka_unit_test(test_asl__nested_sp),
		cmocka_unit_test(test_asl__n_shape_costs_one),
		cmocka_unit_test(test_asl__levels_adds_what_sp_avoids),
		cmocka_unit_test(test_asl__retry_and_timeout_mapping),
		cmocka_unit_test(test_asl__non_lambda_targets),
		cmocka_unit_test(test_asl__names_unique_and_short),
		cmocka_unit_test(test_asl__jsonata),
		cmocka_unit_test(test_asl__bad_arguments),
	};

	return cmocka_run_group_tests_name("asl", tests, NULL, NULL);
}
