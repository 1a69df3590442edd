/*
 * The seed system's workflow, A -> (B1, B2, B3) -> C, run in-process
 * with C handlers on four threads over the in-memory backend.
 *
 * A produces a number, each B transforms it, and C receives all three B
 * outputs (keyed by task id in its payload) and prints the aggregate.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include <orchestra/orchestra.h>

/* A: the start value. */
static orc_status task_a(orc_handler_call *call, void *payload)
{
	(void)payload;
	return orc_call_set_output(call, "{\"value\": 7}", NULL);
}

/* B1, B2, B3: multiply A's value by the factor they were registered
 * with. Reading the payload shows how dependency outputs arrive. */
static orc_status task_b(orc_handler_call *call, void *payload)
{
	int factor = *(const int *)payload;
	json_t *doc, *a;
	char out[64];

	doc = json_loads(orc_call_payload(call), 0, NULL);
	a = json_object_get(json_object_get(json_object_get(doc,
		"dependencies"), "A"), "value");
	if (!json_is_integer(a)) {
		json_decref(doc);
		orc_call_set_error(call, "payload has no dependencies.A.value");
		return ORC_EUSER;
	}
	snprintf(out, sizeof(out), "{\"value\": %lld}",
		 (long long)(json_integer_value(a) * factor));
	json_decref(doc);
	return orc_call_set_output(call, out, NULL);
}

/* C: sum the B outputs. */
static orc_status task_c(orc_handler_call *call, void *payload)
{
	json_t *doc, *deps, *v;
	const char *id;
	long long sum = 0;
	char out[128];

	(void)payload;
	doc = json_loads(orc_call_payload(call), 0, NULL);
	deps = json_object_get(doc, "dependencies");
	json_object_foreach(deps, id, v) {
		long long x = json_integer_value(json_object_get(v, "value"));

		printf("C received %s = %lld\n", id, x);
		sum += x;
	}
	json_decref(doc);
	printf("C aggregate: %lld\n", sum);
	snprintf(out, sizeof(out), "{\"sum\": %lld}", sum);
	return orc_call_set_output(call, out, NULL);
}

static orc_status build_dag(orc_dag **out, orc_error *err)
{
	static const char *const bs[] = { "B1", "B2", "B3" };
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	orc_dag *dag;
	orc_status st;
	size_t i;

	if ((st = orc_dag_create(&dag, err)) != ORC_OK)
		return st;
	spec.target_kind = ORC_TARGET_HANDLER;
	spec.id = "A";
	spec.target = "a";
	st = orc_dag_add_task(dag, &spec, err);
	for (i = 0; i < 3 && st == ORC_OK; i++) {
		spec.id = bs[i];
		spec.target = bs[i];
		st = orc_dag_add_task(dag, &spec, err);
		if (st == ORC_OK)
			st = orc_dag_add_dep(dag, bs[i], "A", err);
	}
	if (st == ORC_OK) {
		spec.id = "C";
		spec.target = "c";
		st = orc_dag_add_task(dag, &spec, err);
	}
	for (i = 0; i < 3 && st == ORC_OK; i++)
		st = orc_dag_add_dep(dag, "C", bs[i], err);
	if (st == ORC_OK)
		st = orc_dag_validate(dag, err);
	if (st != ORC_OK) {
		orc_dag_free(dag);
		return st;
	}
	*out = dag;
	return ORC_OK;
}

int main(void)
{
	static const int factors[] = { 1, 2, 3 };
	orc_runner_options ropts = ORC_RUNNER_OPTIONS_INIT;
	orc_backend *backend = NULL;
	orc_runner *runner = NULL;
	orc_dag *dag = NULL;
	orc_run_result res = { ORC_WORKFLOW_PENDING, NULL, 0 };
	orc_error err;
	orc_status st;

	ropts.threads = 4;
	st = build_dag(&dag, &err);
	if (st == ORC_OK)
		st = orc_memory_backend_create(&backend, NULL, &err);
	if (st == ORC_OK)
		st = orc_runner_create(&runner, backend, &ropts, &err);
	if (st == ORC_OK)
		st = orc_runner_register(runner, "a", task_a, NULL, &err);
	if (st == ORC_OK)
		st = orc_runner_register(runner, "B1", task_b,
					 (void *)&factors[0], &err);
	if (st == ORC_OK)
		st = orc_runner_register(runner, "B2", task_b,
					 (void *)&factors[1], &err);
	if (st == ORC_OK)
		st = orc_runner_register(runner, "B3", task_b,
					 (void *)&factors[2], &err);
	if (st == ORC_OK)
		st = orc_runner_register(runner, "c", task_c, NULL, &err);
	if (st == ORC_OK)
		st = orc_runner_run(&res, runner, "fanout-1", dag, NULL, &err);
	if (st != ORC_OK) {
		fprintf(stderr, "fanout: %s: %s\n", orc_status_name(st),
			err.message);
	} else {
		printf("workflow fanout-1: %s\n",
		       orc_workflow_state_name(res.state));
		if (res.error)
			printf("error: %s\n", res.error);
	}
	orc_run_result_clear(&res);
	orc_runner_free(runner);
	orc_backend_free(backend);
	orc_dag_free(dag);
	return st == ORC_OK && res.state == ORC_WORKFLOW_SUCCEEDED ? 0 : 1;
}
