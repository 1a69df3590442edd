/*
 * Test-case generator for the ASL emitter: builds DAGs (the seed's, fixed
 * scenarios and random ones from fixed seeds) through the public DAG API,
 * emits each with orc_asl_emit() and prints one JSON object per line:
 *
 *   {"name", "seed", "family", "input", "tasks": [{"id", "deps", "level",
 *    "function", "fail_times", "max_attempts"}], "expect",
 *    "machines": [{"strategy", "language", "report", "asl"}]}
 *
 * run_sfn.mjs validates and executes the machines. What the DAGs are is
 * decided here; what the machines must do is checked there, against the
 * DAG, never against the emitter's own output.
 *
 * usage: asl_gen [general-count sp-count]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "orchestra/asl.h"
#include "orchestra/dag.h"

#define MAXN 40
#define WORKER_ARN "arn:aws:lambda:us-east-1:123456789012:function:worker"

typedef struct gtask {
	char id[ORC_ID_MAX + 1];
	int deps[MAXN];
	int ndeps;
	orc_target_kind kind;
	int fail_times; /* -1: never answers (times out) */
	orc_retry_policy retry;
	int64_t timeout_ms;
} gtask;

typedef struct gcase {
	char name[64];
	const char *family;
	uint64_t seed;
	gtask t[MAXN];
	int n;
	const char *expect_failed; /* task id, or NULL: must succeed */
} gcase;

static void die(const char *what, const orc_error *err)
{
	fprintf(stderr, "asl_gen: %s: %s\n", what, err ? err->message : "");
	exit(1);
}

static char *function_of(int i, char *buf, size_t size)
{
	snprintf(buf, size, "arn:aws:lambda:us-east-1:123456789012:"
		 "function:fn-%d", i);
	return buf;
}

static orc_dag *build(const gcase *gc)
{
	orc_dag *dag;
	orc_error err;
	int i, k;
	char fn[128];

	if (orc_dag_create(&dag, &err) != ORC_OK)
		die("create", &err);
	for (i = 0; i < gc->n; i++) {
		orc_task_spec s = ORC_TASK_SPEC_INIT;

		s.id = gc->t[i].id;
		s.target_kind = gc->t[i].kind;
		s.target = gc->t[i].kind == ORC_TARGET_LAMBDA ?
			function_of(i, fn, sizeof(fn)) :
			gc->t[i].kind == ORC_TARGET_HANDLER ? "h" : NULL;
		s.retry = gc->t[i].retry;
		s.timeout_ms = gc->t[i].timeout_ms;
		if (orc_dag_add_task(dag, &s, &err) != ORC_OK)
			die(gc->t[i].id, &err);
	}
	for (i = 0; i < gc->n; i++)
		for (k = 0; k < gc->t[i].ndeps; k++)
			if (orc_dag_add_dep(dag, gc->t[i].id,
					    gc->t[gc->t[i].deps[k]].id,
					    &err) != ORC_OK)
				die("add_dep", &err);
	if (orc_dag_validate(dag, &err) != ORC_OK)
		die(gc->name, &err);
	return dag;
}

static json_t *emit_with(const gcase *gc, orc_dag *dag,
			 orc_asl_strategy strat, orc_asl_query_language lang,
			 orc_asl_fail_states fails)
{
	orc_asl_options o = ORC_ASL_OPTIONS_INIT;
	orc_asl_report r;
	orc_error err;
	char *text;
	json_t *m, *asl, *rep;
	json_error_t jerr;

	o.strategy = strat;
	o.query_language = lang;
	o.fail_states = fails;
	o.default_resource = WORKER_ARN;
	o.workflow_id = gc->name;
	if (orc_asl_emit(&text, &r, dag, &o, &err) != ORC_OK)
		die(gc->name, &err);
	asl = json_loads(text, 0, &jerr);
	orc_free(text);
	if (!asl)
		die("emitted text is not JSON", NULL);
	rep = json_pack("{s:I, s:I, s:I, s:I, s:I, s:s, s:b}",
			"states", (json_int_t)r.states,
			"task_states", (json_int_t)r.task_states,
			"parallel_states", (json_int_t)r.parallel_states,
			"fail_states", (json_int_t)r.fail_states,
			"false_dependencies", (json_int_t)r.false_dependencies,
			"strategy", orc_asl_strategy_name(r.strategy),
			"series_parallel", r.series_parallel);
	m = json_pack("{s:s, s:s, s:s, s:o, s:o}",
		      "strategy", orc_asl_strategy_name(strat),
		      "language", lang == ORC_ASL_JSONATA ? "jsonata" :
		      "jsonpath", "fail_states",
		      fails == ORC_ASL_FAIL_NONE ? "none" : "per-task",
		      "report", rep, "asl", asl);
	return m;
}

static json_t *emit(const gcase *gc, orc_dag *dag, orc_asl_strategy strat,
		    orc_asl_query_language lang)
{
	return emit_with(gc, dag, strat, lang, ORC_ASL_FAIL_PER_TASK);
}

static void print_case(const gcase *gc)
{
	orc_dag *dag = build(gc);
	const uint32_t *levels = orc_dag_levels(dag, NULL);
	json_t *root = json_object(), *tasks = json_array(),
	       *machines = json_array();
	char fn[128], *line;
	int i, k;

	for (i = 0; i < gc->n; i++) {
		json_t *deps = json_array();

		for (k = 0; k < gc->t[i].ndeps; k++)
			json_array_append_new(deps,
				json_string(gc->t[gc->t[i].deps[k]].id));
		json_array_append_new(tasks, json_pack(
			"{s:s, s:o, s:I, s:s, s:i, s:i}",
			"id", gc->t[i].id, "deps", deps,
			"level", (json_int_t)levels[i],
			"function", gc->t[i].kind == ORC_TARGET_LAMBDA ?
				function_of(i, fn, sizeof(fn)) : WORKER_ARN,
			"fail_times", gc->t[i].fail_times,
			"max_attempts", (int)gc->t[i].retry.max_attempts));
	}
	json_array_append_new(machines, emit(gc, dag, ORC_ASL_STRATEGY_SP,
					      ORC_ASL_JSONPATH));
	json_array_append_new(machines, emit(gc, dag,
					      ORC_ASL_STRATEGY_LEVELS,
					      ORC_ASL_JSONPATH));
	/* differs from "sp" only where the DAG is not series-parallel */
	if (strcmp(gc->family, "sp") != 0)
		json_array_append_new(machines, emit(gc, dag,
			ORC_ASL_STRATEGY_SP_LATENCY, ORC_ASL_JSONPATH));
	/* Without Fail states: every failure case, and a sample */
	if (gc->expect_failed || gc->seed % 3 == 0)
		json_array_append_new(machines, emit_with(gc, dag,
			ORC_ASL_STRATEGY_SP, ORC_ASL_JSONPATH,
			ORC_ASL_FAIL_NONE));
	/* JSONata: validated only (the emulator has none); a sample */
	if (strcmp(gc->family, "general") != 0 || gc->seed % 4 == 0)
		json_array_append_new(machines, emit(gc, dag,
						      ORC_ASL_STRATEGY_SP,
						      ORC_ASL_JSONATA));
	json_object_set_new(root, "name", json_string(gc->name));
	json_object_set_new(root, "family", json_string(gc->family));
	json_object_set_new(root, "seed", json_integer((json_int_t)gc->seed));
	json_object_set_new(root, "input", json_pack("{s:s, s:[i,i]}",
		"case", gc->name, "numbers", 1, 2));
	json_object_set_new(root, "tasks", tasks);
	json_object_set_new(root, "expect", gc->expect_failed ?
		json_pack("{s:s}", "failedTask", gc->expect_failed) :
		json_string("succeeded"));
	json_object_set_new(root, "machines", machines);
	line = json_dumps(root, JSON_COMPACT);
	if (!line)
		die("dump", NULL);
	puts(line);
	free(line);
	json_decref(root);
	orc_dag_free(dag);
}

static gtask *add(gcase *gc, const char *id)
{
	gtask *t = &gc->t[gc->n++];
	orc_retry_policy r = ORC_RETRY_POLICY_INIT;

	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->kind = ORC_TARGET_LAMBDA;
	t->retry = r;
	t->retry.max_attempts = 1;
	return t;
}

static void dep(gcase *gc, int task, int on)
{
	gc->t[task].deps[gc->t[task].ndeps++] = on;
}

static void init_case(gcase *gc, const char *name, const char *family,
		      uint64_t seed)
{
	memset(gc, 0, sizeof(*gc));
	snprintf(gc->name, sizeof(gc->name), "%s", name);
	gc->family = family;
	gc->seed = seed;
}

/* A -> (B1, B2, B3) -> C, as in the seed system. */
static void seed_shape(gcase *gc)
{
	int b;

	add(gc, "A");
	add(gc, "B1");
	add(gc, "B2");
	add(gc, "B3");
	add(gc, "C");
	for (b = 1; b <= 3; b++) {
		dep(gc, b, 0);
		dep(gc, 4, b);
	}
}

static void seed_case(void)
{
	gcase gc;

	init_case(&gc, "seed", "seed", 0);
	seed_shape(&gc);
	print_case(&gc);
}

/*
 * Retry mapping: "B2" fails twice, then succeeds. With max_attempts 3
 * (MaxAttempts 2) the run succeeds; with max_attempts 2 (MaxAttempts 1)
 * it fails naming B2 after exactly two calls. A mapping off by one in
 * either direction flips one of the two outcomes.
 */
static void retry_cases(void)
{
	gcase gc;
	int attempts;

	for (attempts = 1; attempts <= 3; attempts++) {
		char name[32];

		snprintf(name, sizeof(name), "retry_max_attempts_%d",
			 attempts);
		init_case(&gc, name, "retry", 0);
		seed_shape(&gc);
		gc.t[2].fail_times = 2;
		gc.t[2].retry.max_attempts = attempts;
		gc.t[2].retry.interval_ms = 1500;
		gc.t[2].retry.backoff_rate = 1.5;
		gc.t[2].retry.max_delay_ms = 4000;
		gc.t[2].retry.jitter = ORC_JITTER_FULL;
		gc.expect_failed = attempts >= 3 ? NULL : "B2";
		print_case(&gc);
	}
}

/*
 * Timeout: B2 never answers; with a 1 s timeout and one attempt the run
 * fails naming B2 after about a second of real time.
 */
static void timeout_case(void)
{
	gcase gc;

	init_case(&gc, "timeout", "timeout", 0);
	seed_shape(&gc);
	gc.t[2].fail_times = -1;
	gc.t[2].timeout_ms = 1000;
	gc.expect_failed = "B2";
	print_case(&gc);
}

/* Ids that are not plain names; they must survive names, keys, payloads. */
static const char *const odd_ids[] = {
	"has space", "quote\"d", "back\\slash", "dot.ted", "dollar$",
	"ends.$", "{% 1 + 1 %}", "Parallel 1", "Failed T1", "t0", "p1",
	"\xc3\xbc" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9" "-\xe2\x9c\x93",
	"a'b", "[x]",
	"$.x", "output", "States.ALL", "Payload",
	"long-id-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaa-1",
	"long-id-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaa-2",
};
#define NODD (sizeof(odd_ids) / sizeof(odd_ids[0]))

static void random_task(gcase *gc, uint64_t *rng, int odd)
{
	char id[ORC_ID_MAX + 1];
	gtask *t;
	int i, clash;

	do {
		if (odd && orc__rand_unit(rng) < 0.3)
			snprintf(id, sizeof(id), "%s",
				 odd_ids[orc__rand_next(rng) % NODD]);
		else
			snprintf(id, sizeof(id), "T%d", gc->n);
		for (clash = 0, i = 0; i < gc->n; i++)
			clash |= strcmp(gc->t[i].id, id) == 0;
	} while (clash);
	t = add(gc, id);
	if (orc__rand_unit(rng) < 0.1)
		t->kind = ORC_TARGET_HANDLER;
	/* policies are emitted and validated; these handlers never fail */
	t->retry.max_attempts = 1 + (int32_t)(orc__rand_next(rng) % 4);
	t->retry.interval_ms = (int64_t)(orc__rand_next(rng) % 5000);
	t->retry.backoff_rate = 1.0 + (double)(orc__rand_next(rng) % 4) / 2;
	t->retry.max_delay_ms = orc__rand_unit(rng) < 0.5 ? 0 : 60000;
	t->retry.jitter = orc__rand_unit(rng) < 0.5 ? ORC_JITTER_NONE :
		ORC_JITTER_FULL;
	t->timeout_ms = orc__rand_unit(rng) < 0.5 ? 0 :
		(int64_t)(30000 + orc__rand_next(rng) % 300000);
}

/* Any DAG: edges between random pairs of a random order. */
static void general_case(uint64_t seed)
{
	gcase gc;
	uint64_t rng = seed;
	int n = 2 + (int)(orc__rand_next(&rng) % 15), perm[MAXN], i, j;
	double p = 0.15 + 0.45 * orc__rand_unit(&rng);
	int odd = seed % 3 == 0;

	init_case(&gc, "", "general", seed);
	snprintf(gc.name, sizeof(gc.name), "general-%llu",
		 (unsigned long long)seed);
	for (i = 0; i < n; i++) {
		random_task(&gc, &rng, odd);
		perm[i] = i;
	}
	for (i = n - 1; i > 0; i--) {
		int k = (int)(orc__rand_next(&rng) % (uint64_t)(i + 1)), tmp;

		tmp = perm[i];
		perm[i] = perm[k];
		perm[k] = tmp;
	}
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (orc__rand_unit(&rng) < p)
				dep(&gc, perm[j], perm[i]);
	print_case(&gc);
}

/*
 * A random series-parallel DAG on tasks [lo, hi): a series or parallel
 * composition of random parts. Series links every sink of the left part
 * to every source of the right one, plus now and then a redundant
 * (transitive) edge, which must not change the translation.
 */
static void sp_build(gcase *gc, uint64_t *rng, int lo, int hi,
		     int *src, int *nsrc, int *snk, int *nsnk)
{
	int mid, i, j;
	int s1[MAXN], n1, k1[MAXN], m1, s2[MAXN], n2, k2[MAXN], m2;

	if (hi - lo == 1) {
		src[0] = snk[0] = lo;
		*nsrc = *nsnk = 1;
		return;
	}
	mid = lo + 1 + (int)(orc__rand_next(rng) % (uint64_t)(hi - lo - 1));
	sp_build(gc, rng, lo, mid, s1, &n1, k1, &m1);
	sp_build(gc, rng, mid, hi, s2, &n2, k2, &m2);
	if (orc__rand_unit(rng) < 0.5) {
		for (i = 0; i < m1; i++)
			for (j = 0; j < n2; j++)
				dep(gc, s2[j], k1[i]);
		if (orc__rand_unit(rng) < 0.2)
			dep(gc, k2[0], s1[0]);
		memcpy(src, s1, sizeof(int) * (size_t)n1);
		*nsrc = n1;
		memcpy(snk, k2, sizeof(int) * (size_t)m2);
		*nsnk = m2;
	} else {
		memcpy(src, s1, sizeof(int) * (size_t)n1);
		memcpy(src + n1, s2, sizeof(int) * (size_t)n2);
		*nsrc = n1 + n2;
		memcpy(snk, k1, sizeof(int) * (size_t)m1);
		memcpy(snk + m1, k2, sizeof(int) * (size_t)m2);
		*nsnk = m1 + m2;
	}
}

static void sp_case(uint64_t seed)
{
	gcase gc;
	uint64_t rng = seed;
	int n = 1 + (int)(orc__rand_next(&rng) % 20), i, k, dup;
	int src[MAXN], snk[MAXN], nsrc, nsnk;

	init_case(&gc, "", "sp", seed);
	snprintf(gc.name, sizeof(gc.name), "sp-%llu",
		 (unsigned long long)seed);
	for (i = 0; i < n; i++)
		random_task(&gc, &rng, seed % 4 == 0);
	sp_build(&gc, &rng, 0, n, src, &nsrc, snk, &nsnk);
	/* a transitive edge may repeat a series edge; keep deps distinct */
	for (i = 0; i < n; i++)
		for (k = 1; k < gc.t[i].ndeps; k++) {
			int j;

			for (dup = 0, j = 0; j < k; j++)
				dup |= gc.t[i].deps[j] == gc.t[i].deps[k];
			if (dup) {
				gc.t[i].ndeps--;
				gc.t[i].deps[k--] = gc.t[i].deps[gc.t[i].ndeps];
			}
		}
	print_case(&gc);
}

int main(int argc, char **argv)
{
	long general = argc > 1 ? atol(argv[1]) : 120;
	long sp = argc > 2 ? atol(argv[2]) : 90;
	long s;

	seed_case();
	retry_cases();
	timeout_case();
	for (s = 1; s <= general; s++)
		general_case((uint64_t)s);
	for (s = 1; s <= sp; s++)
		sp_case((uint64_t)(1000 + s));
	return 0;
}
