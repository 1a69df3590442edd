/*
 * The DAG layer: id rule, building errors, validation errors with their
 * messages, topological order and levels against hand-computed values,
 * reference counting, freezing, JSON round trip, the seed's request
 * shapes, and DOT / Mermaid text against hand-written expectations.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "orchestra/orchestra.h"
#include "internal.h"

static int msg_has(const char *msg, const char *text)
{
	return !text || strstr(msg, text) != NULL;
}

/* Assert @p call returns @p want and, when it is an error, that the
 * message contains @p text (NULL: message not checked). */
#define EXPECT(want, text, call)                                           \
	do {                                                               \
		orc_error e_;                                              \
		orc_status st_;                                            \
		memset(&e_, 0, sizeof(e_));                                \
		st_ = (call);                                              \
		if (st_ != (want))                                         \
			fail_msg("%s: got %s (%s), expected %s", #call,    \
				 orc_status_name(st_),                     \
				 st_ ? e_.message : "",                    \
				 orc_status_name(want));                   \
		if ((want) != ORC_OK && !msg_has(e_.message, (text)))      \
			fail_msg("%s: message \"%s\" lacks \"%s\"", #call, \
				 e_.message, (const char *)(text));        \
	} while (0)
#define E (&e_)

static orc_dag *new_dag(void)
{
	orc_dag *d = NULL;

	EXPECT(ORC_OK, NULL, orc_dag_create(&d, E));
	assert_non_null(d);
	return d;
}

static void add(orc_dag *d, const char *id)
{
	orc_task_spec s = ORC_TASK_SPEC_INIT;

	s.id = id;
	EXPECT(ORC_OK, NULL, orc_dag_add_task(d, &s, E));
}

static void dep(orc_dag *d, const char *task, const char *on)
{
	EXPECT(ORC_OK, NULL, orc_dag_add_dep(d, task, on, E));
}

/* Build from "id id ..." and "task:dep task:dep ..." (edges added in
 * that order, after all tasks); not validated. */
static orc_dag *make(const char *tasks, const char *edges)
{
	orc_dag *d = new_dag();
	char buf[256], *tok, *save = NULL, *colon;

	strcpy(buf, tasks);
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save))
		add(d, tok);
	strcpy(buf, edges);
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		colon = strchr(tok, ':');
		assert_non_null(colon);
		*colon = '\0';
		dep(d, tok, colon + 1);
	}
	return d;
}

static void repeat(char *buf, const char *unit, int times)
{
	buf[0] = '\0';
	while (times-- > 0)
		strcat(buf, unit);
}

/* ---- id rule -------------------------------------------------------- */

static void test_dag__id_length_boundaries(void **state)
{
	char id[600];

	(void)state;
	repeat(id, "a", 128);
	EXPECT(ORC_OK, NULL, orc_dag_check_id(id, E));
	repeat(id, "a", 129);
	EXPECT(ORC_EINVAL, "longer than 128", orc_dag_check_id(id, E));
	EXPECT(ORC_EINVAL, "empty", orc_dag_check_id("", E));
	EXPECT(ORC_EINVAL, "invalid argument", orc_dag_check_id(NULL, E));
	/* The limit is in bytes: 42 three-byte characters + 2 = 128. */
	repeat(id, "\xe6\x97\xa5", 42);
	strcat(id, "ab");
	EXPECT(ORC_OK, NULL, orc_dag_check_id(id, E));
	strcat(id, "c");
	EXPECT(ORC_EINVAL, "longer than 128", orc_dag_check_id(id, E));
	EXPECT(ORC_OK, NULL, orc_dag_check_id("a", E));
}

static void test_dag__id_rejects_hash_and_control(void **state)
{
	(void)state;
	EXPECT(ORC_EINVAL, "'#'", orc_dag_check_id("TASK#1", E));
	EXPECT(ORC_EINVAL, "'#'", orc_dag_check_id("#", E));
	EXPECT(ORC_EINVAL, "control character 0x01",
	       orc_dag_check_id("a\x01", E));
	EXPECT(ORC_EINVAL, "control character 0x1f",
	       orc_dag_check_id("\x1f", E));
	EXPECT(ORC_EINVAL, "control character 0x0a",
	       orc_dag_check_id("line\nbreak", E));
	EXPECT(ORC_EINVAL, "control character 0x7f",
	       orc_dag_check_id("del\x7f", E));
	EXPECT(ORC_EINVAL, "at byte 3", orc_dag_check_id("abc\t", E));
}

static void test_dag__id_rejects_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"\xff", "a\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
		"\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\x80",
		"\xe6\x97", "ok\xc3(",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT(ORC_EINVAL, "not valid UTF-8", orc_dag_check_id(bad[i],
								       E));
}

static void test_dag__id_accepts_quotes_spaces_sql_unicode(void **state)
{
	static const char *const good[] = {
		"x'); DROP TABLE t;--", "with space", "\"quoted\"",
		"caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",
		"\xf0\x9f\x98\x80", "a/b\\c", "arn:aws:lambda:x", "~!@$%^&*()",
		"\xc2\x80",
	};
	size_t i, idx;
	orc_dag *d = new_dag();

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		EXPECT(ORC_OK, NULL, orc_dag_check_id(good[i], E));
		add(d, good[i]);
	}
	EXPECT(ORC_OK, NULL, orc_dag_find(&idx, d, "x'); DROP TABLE t;--",
					  E));
	assert_int_equal(idx, 0);
	orc_dag_free(d);
}

/* ---- building ------------------------------------------------------- */

static void test_dag__add_task_errors(void **state)
{
	orc_task_spec s = ORC_TASK_SPEC_INIT;
	const char *empty_argv[] = { NULL };
	orc_dag *d = new_dag();

	(void)state;
	EXPECT(ORC_EINVAL, "invalid argument", orc_dag_create(NULL, E));
	EXPECT(ORC_EINVAL, "invalid argument", orc_dag_add_task(NULL, &s, E));
	EXPECT(ORC_EINVAL, "invalid argument", orc_dag_add_task(d, NULL, E));
	EXPECT(ORC_EINVAL, "id is missing", orc_dag_add_task(d, &s, E));
	s.id = "bad#id";
	EXPECT(ORC_EINVAL, "'#'", orc_dag_add_task(d, &s, E));
	s.id = "A";
	EXPECT(ORC_OK, NULL, orc_dag_add_task(d, &s, E));
	EXPECT(ORC_EEXISTS, "duplicate task id \"A\"",
	       orc_dag_add_task(d, &s, E));
	s.id = "B";
	s.retry.max_attempts = 0;
	EXPECT(ORC_EINVAL, "task B: retry.maxAttempts",
	       orc_dag_add_task(d, &s, E));
	s.retry.max_attempts = 3;
	s.retry.backoff_rate = 0.5;
	EXPECT(ORC_EINVAL, "backoffRate", orc_dag_add_task(d, &s, E));
	s.retry.backoff_rate = 2.0;
	s.timeout_ms = -1;
	EXPECT(ORC_EINVAL, "task B: timeoutMs", orc_dag_add_task(d, &s, E));
	s.timeout_ms = 0;
	s.target_kind = ORC_TARGET_HANDLER;
	EXPECT(ORC_EINVAL, "task B: handler name is missing",
	       orc_dag_add_task(d, &s, E));
	s.target_kind = ORC_TARGET_LAMBDA;
	s.target = "";
	EXPECT(ORC_EINVAL, "lambda name is missing",
	       orc_dag_add_task(d, &s, E));
	s.target_kind = ORC_TARGET_COMMAND;
	EXPECT(ORC_EINVAL, "argv", orc_dag_add_task(d, &s, E));
	s.argv = empty_argv;
	EXPECT(ORC_EINVAL, "argv", orc_dag_add_task(d, &s, E));
	s.target_kind = (orc_target_kind)9;
	EXPECT(ORC_EINVAL, "unknown target kind 9",
	       orc_dag_add_task(d, &s, E));
	/* Nothing of the refused tasks was added. */
	assert_int_equal(orc_dag_task_count(d), 1);
	orc_dag_free(d);
}

static void test_dag__add_dep_errors(void **state)
{
	orc_dag *d = new_dag();

	(void)state;
	add(d, "A");
	EXPECT(ORC_EINVAL, "invalid argument",
	       orc_dag_add_dep(NULL, "A", "B", E));
	EXPECT(ORC_EINVAL, "invalid argument",
	       orc_dag_add_dep(d, NULL, "B", E));
	EXPECT(ORC_EINVAL, "invalid argument",
	       orc_dag_add_dep(d, "A", NULL, E));
	EXPECT(ORC_ENOTFOUND, "no task Q", orc_dag_add_dep(d, "Q", "A", E));
	EXPECT(ORC_EINVAL, "task A depends on itself",
	       orc_dag_add_dep(d, "A", "A", E));
	EXPECT(ORC_EINVAL, "'#'", orc_dag_add_dep(d, "A", "x#y", E));
	assert_int_equal(orc_dag_edge_count(d), 0);
	orc_dag_free(d);
}

static void test_dag__repeated_edge_ignored(void **state)
{
	orc_dag *d = new_dag();
	const uint32_t *l;

	(void)state;
	add(d, "A");
	add(d, "B");
	dep(d, "B", "A");
	dep(d, "B", "A");
	/* Also when the first add named a task not added yet. */
	dep(d, "B", "C");
	add(d, "C");
	dep(d, "B", "C");
	dep(d, "B", "A");
	assert_int_equal(orc_dag_edge_count(d), 2);
	EXPECT(ORC_OK, NULL, orc_dag_validate(d, E));
	assert_int_equal(orc_dag_edge_count(d), 2);
	assert_int_equal(orc_dag_deps(&l, d, 1), 2);
	assert_int_equal(l[0], 0);
	assert_int_equal(l[1], 2);
	orc_dag_free(d);
}

static void test_dag__task_get_copies_everything(void **state)
{
	char id[8] = "cmd", arg[8] = "a b";
	const char *argv[] = { "/bin/echo", arg, NULL };
	orc_task_spec s = ORC_TASK_SPEC_INIT, g = ORC_TASK_SPEC_INIT;
	orc_dag *d = new_dag();
	size_t i;

	(void)state;
	s.id = id;
	s.target_kind = ORC_TARGET_COMMAND;
	s.argv = argv;
	s.retry.max_attempts = 7;
	s.retry.jitter = ORC_JITTER_FULL;
	s.retry.interval_ms = 5;
	s.retry.backoff_rate = 1.25;
	s.retry.max_delay_ms = 99;
	s.timeout_ms = 1234;
	EXPECT(ORC_OK, NULL, orc_dag_add_task(d, &s, E));
	s = (orc_task_spec)ORC_TASK_SPEC_INIT;
	s.id = "lam";
	s.target_kind = ORC_TARGET_LAMBDA;
	s.target = "arn:aws:lambda:eu-west-1:1:function:f";
	EXPECT(ORC_OK, NULL, orc_dag_add_task(d, &s, E));
	/* Change the caller's buffers: the DAG must hold copies. */
	strcpy(id, "zzz");
	strcpy(arg, "zzz");

	EXPECT(ORC_OK, NULL, orc_dag_find(&i, d, "cmd", E));
	assert_int_equal(i, 0);
	EXPECT(ORC_ENOTFOUND, "no task zzz", orc_dag_find(&i, d, "zzz", E));
	EXPECT(ORC_OK, NULL, orc_dag_task_get(&g, d, 0, E));
	assert_string_equal(g.id, "cmd");
	assert_int_equal(g.target_kind, ORC_TARGET_COMMAND);
	assert_null(g.target);
	assert_string_equal(g.argv[0], "/bin/echo");
	assert_string_equal(g.argv[1], "a b");
	assert_null(g.argv[2]);
	assert_int_equal(g.retry.max_attempts, 7);
	assert_int_equal(g.retry.jitter, ORC_JITTER_FULL);
	assert_int_equal(g.retry.interval_ms, 5);
	assert_true(g.retry.backoff_rate == 1.25);
	assert_int_equal(g.retry.max_delay_ms, 99);
	assert_int_equal(g.timeout_ms, 1234);
	EXPECT(ORC_OK, NULL, orc_dag_task_get(&g, d, 1, E));
	assert_string_equal(g.target, "arn:aws:lambda:eu-west-1:1:function:f");
	assert_int_equal(g.target_kind, ORC_TARGET_LAMBDA);
	assert_null(g.argv);
	assert_int_equal(g.retry.max_attempts, 3);
	assert_int_equal(g.timeout_ms, 0);
	EXPECT(ORC_EINVAL, "out of range", orc_dag_task_get(&g, d, 2, E));
	orc_dag_free(d);
}

/* ---- validation ----------------------------------------------------- */

static void test_dag__validate_empty_dag(void **state)
{
	orc_dag *d = new_dag();

	(void)state;
	EXPECT(ORC_EINVAL, "DAG has no tasks", orc_dag_validate(d, E));
	assert_false(orc_dag_is_valid(d));
	EXPECT(ORC_EINVAL, "invalid argument", orc_dag_validate(NULL, E));
	orc_dag_free(d);
}

static void test_dag__unknown_dependency_then_fixed(void **state)
{
	orc_dag *d = make("A B", "B:A B:Z");
	const uint32_t *l;

	(void)state;
	EXPECT(ORC_ENOTFOUND, "task B depends on unknown task Z",
	       orc_dag_validate(d, E));
	assert_false(orc_dag_is_valid(d));
	assert_null(orc_dag_topo_order(d));
	/* Still open for building: adding Z makes it valid. */
	add(d, "Z");
	EXPECT(ORC_OK, NULL, orc_dag_validate(d, E));
	assert_int_equal(orc_dag_deps(&l, d, 1), 2);
	assert_int_equal(l[0], 0);
	assert_int_equal(l[1], 2);
	orc_dag_free(d);
}

static void expect_cycle(orc_dag *d, const char *msg)
{
	orc_error e;

	assert_int_equal(orc_dag_validate(d, &e), ORC_ECYCLE);
	assert_string_equal(e.message, msg);
	assert_false(orc_dag_is_valid(d));
}

/* The message follows dependency edges ("X -> Y": X depends on Y) and
 * starts at the cycle's task with the lowest insertion index. */
static void test_dag__cycle_of_two_named(void **state)
{
	orc_dag *d = make("A B", "A:B B:A");

	(void)state;
	expect_cycle(d, "cycle: A -> B -> A");
	orc_dag_free(d);
}

static void test_dag__cycle_of_three_entered_from_outside(void **state)
{
	orc_dag *d = make("X A B C", "X:A A:B B:C C:A");

	(void)state;
	expect_cycle(d, "cycle: A -> B -> C -> A");
	orc_dag_free(d);
}

static void test_dag__cycle_rotated_to_lowest_index(void **state)
{
	/* Same edges as above, inserted in another order: C is index 0. */
	orc_dag *d = make("C B A X", "X:A A:B B:C C:A");

	(void)state;
	expect_cycle(d, "cycle: C -> A -> B -> C");
	orc_dag_free(d);
}

static void test_dag__cycle_behind_processed_root(void **state)
{
	orc_dag *d = make("R P Q", "P:R P:Q Q:P");

	(void)state;
	expect_cycle(d, "cycle: P -> Q -> P");
	/* A cycle leaves the DAG open: it can still be extended. */
	add(d, "S");
	expect_cycle(d, "cycle: P -> Q -> P");
	orc_dag_free(d);
}

static void test_dag__frozen_after_validate(void **state)
{
	orc_dag *d = make("A B", "");
	orc_task_spec s = ORC_TASK_SPEC_INIT;

	(void)state;
	EXPECT(ORC_OK, NULL, orc_dag_validate(d, E));
	assert_true(orc_dag_is_valid(d));
	s.id = "C";
	EXPECT(ORC_EINVAL, "read-only", orc_dag_add_task(d, &s, E));
	EXPECT(ORC_EINVAL, "read-only", orc_dag_add_dep(d, "B", "A", E));
	EXPECT(ORC_OK, NULL, orc_dag_validate(d, E));
	assert_int_equal(orc_dag_task_count(d), 2);
	assert_int_equal(orc_dag_edge_count(d), 0);
	orc_dag_free(d);
}

static void test_dag__queries_need_validation(void **state)
{
	orc_dag *d = make("A B", "B:A");
	const uint32_t *l = (const uint32_t *)d;
	uint32_t nl = 99;

	(void)state;
	assert_int_equal(orc_dag_deps(&l, d, 1), 0);
	assert_null(l);
	l = (const uint32_t *)d;
	assert_int_equal(orc_dag_dependents(&l, d, 0), 0);
	assert_null(l);
	assert_null(orc_dag_topo_order(d));
	assert_null(orc_dag_levels(d, &nl));
	assert_int_equal(nl, 0);
	EXPECT(ORC_OK, NULL, orc_dag_validate(d, E));
	assert_int_equal(orc_dag_deps(&l, d, 5), 0);
	assert_null(l);
	assert_int_equal(orc_dag_task_count(NULL), 0);
	assert_null(orc_dag_topo_order(NULL));
	orc_dag_free(d);
}

/* ---- order and levels ----------------------------------------------- */

static void expect_u32(const uint32_t *got, const uint32_t *want, size_t n)
{
	size_t i;

	assert_non_null(got);
	for (i = 0; i < n; i++)
		if (got[i] != want[i])
			fail_msg("entry %zu: got %u, expected %u", i,
				 (unsigned)got[i], (unsigned)want[i]);
}

/* The seed's diamond, inserted out of order: C, B2, A, B1, B3. Kahn
 * with a FIFO: A; its dependents by index B2, B1, B3; then C. */
static void test_dag__topo_and_levels_diamond(void **state)
{
	static const uint32_t order[] = { 2, 1, 3, 4, 0 };
	static const uint32_t levels[] = { 2, 1, 0, 1, 1 };
	static const uint32_t c_deps[] = { 3, 1, 4 };
	static const uint32_t a_dependents[] = { 1, 3, 4 };
	orc_dag *d = make("C B2 A B1 B3", "C:B1 C:B2 C:B3 B1:A B2:A B3:A");
	const uint32_t *l;
	uint32_t nl;

	(void)state;
	EXPECT(ORC_OK, NULL, orc_dag_validate(d, E));
	expect_u32(orc_dag_topo_order(d), order, 5);
	expect_u32(orc_dag_levels(d, &nl), levels, 5);
	assert_int_equal(nl, 3);
	assert_int_equal(orc_dag_deps(&l, d, 0), 3);
	expect_u32(l, c_deps, 3);
	assert_int_equal(orc_dag_dependents(&l, d, 2), 3);
	expect_u32(l, a_dependents, 3);
	assert_int_equal(orc_dag_deps(&l, d, 2), 0);
	assert_int_equal(orc_dag_edge_count(d), 6);
	orc_dag_free(d);
}

/* a -> b -> c -> e and a -> d -> e, plus a lone f: e's level is the
 * longest path (3), not the shortest (2). */
static void test_dag__topo_and_levels_longest_path(void **state)
{
	static const uint32_t order[] = { 0, 5, 1, 3, 2, 4 };
	static const uint32_t levels[] = { 0, 1, 2, 1, 3, 0 };
	static const uint32_t e_deps[] = { 3, 2 };
	orc_dag *d = make("a b c d e f", "b:a c:b d:a e:d e:c");
	const uint32_t *l;
	uint32_t nl;

	(void)state;
	EXPECT(ORC_OK, NULL, orc_dag_validate(d, E));
	expect_u32(orc_dag_topo_order(d), order, 6);
	expect_u32(orc_dag_levels(d, &nl), levels, 6);
	assert_int_equal(nl, 4);
	assert_int_equal(orc_dag_deps(&l, d, 4), 2);
	expect_u32(l, e_deps, 2);
	assert_int_equal(orc_dag_dependents(&l, d, 5), 0);
	orc_dag_free(d);
}

/* Dependencies named before their task exist resolve at validation. */
static void test_dag__forward_references(void **state)
{
	static const uint32_t order[] = { 2, 1, 0 };
	static const uint32_t levels[] = { 2, 1, 0 };
	orc_dag *d = new_dag();

	(void)state;
	add(d, "last");
	dep(d, "last", "middle");
	add(d, "middle");
	dep(d, "middle", "first");
	add(d, "first");
	EXPECT(ORC_OK, NULL, orc_dag_validate(d, E));
	expect_u32(orc_dag_topo_order(d), order, 3);
	expect_u32(orc_dag_levels(d, NULL), levels, 3);
	orc_dag_free(d);
}

/* ---- reference counting --------------------------------------------- */

static void test_dag__refcount_keeps_dag_alive(void **state)
{
	orc_dag *d = new_dag(), *r;
	size_t i;

	(void)state;
	add(d, "A");
	EXPECT(ORC_OK, NULL, orc_dag_validate(d, E));
	r = orc__dag_ref(d);
	assert_ptr_equal(r, d);
	assert_null(orc__dag_ref(NULL));
	orc_dag_free(d);
	/* One reference left: still readable (ASan/valgrind check this). */
	EXPECT(ORC_OK, NULL, orc_dag_find(&i, r, "A", E));
	assert_int_equal(orc_dag_task_count(r), 1);
	orc_dag_free(r);
	orc_dag_free(NULL);
}

static void *ref_worker(void *arg)
{
	orc_dag *d = arg;
	int i;

	for (i = 0; i < 20000; i++) {
		orc_dag *r = orc__dag_ref(d);

		if (orc_dag_task_count(r) != 1)
			return arg;
		orc_dag_free(r);
	}
	return NULL;
}

static void test_dag__refcount_is_atomic_across_threads(void **state)
{
	pthread_t th[4];
	orc_dag *d = new_dag();
	void *res;
	int i;

	(void)state;
	add(d, "A");
	EXPECT(ORC_OK, NULL, orc_dag_validate(d, E));
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, ref_worker, d),
				 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &res), 0);
		assert_null(res);
	}
	/* A lost update would have freed it early (use after free) or
	 * never (leak); the last free must release it exactly once. */
	assert_int_equal(orc_dag_task_count(d), 1);
	orc_dag_free(d);
}

/* ---- JSON ----------------------------------------------------------- */

static const char saved_expected[] =
	"{\"tasks\":["
	"{\"id\":\"fetch\",\"handler\":\"http.get\"},"
	"{\"id\":\"say \\\"hi\\\"\",\"command\":[\"echo\",\"a b\",\"q\\\"x\"],"
	"\"dependsOn\":[\"fetch\"],\"timeoutMs\":2500},"
	"{\"id\":\"x'); DROP TABLE t;--\","
	"\"lambda\":\"arn:aws:lambda:us-east-1:123456789012:function:f\","
	"\"dependsOn\":[\"say \\\"hi\\\"\",\"late\",\"fetch\"],"
	"\"retry\":{\"maxAttempts\":5,\"intervalMs\":250,"
	"\"backoffRate\":1.5,\"maxDelayMs\":10000,\"jitter\":\"FULL\"}},"
	"{\"id\":\"late\"}]}";

static orc_dag *rich_dag(void)
{
	const char *argv[] = { "echo", "a b", "q\"x", NULL };
	orc_task_spec s = ORC_TASK_SPEC_INIT;
	orc_dag *d = new_dag();

	s.id = "fetch";
	s.target_kind = ORC_TARGET_HANDLER;
	s.target = "http.get";
	EXPECT(ORC_OK, NULL, orc_dag_add_task(d, &s, E));
	s = (orc_task_spec)ORC_TASK_SPEC_INIT;
	s.id = "say \"hi\"";
	s.target_kind = ORC_TARGET_COMMAND;
	s.argv = argv;
	s.timeout_ms = 2500;
	EXPECT(ORC_OK, NULL, orc_dag_add_task(d, &s, E));
	dep(d, "say \"hi\"", "fetch");
	s = (orc_task_spec)ORC_TASK_SPEC_INIT;
	s.id = "x'); DROP TABLE t;--";
	s.target_kind = ORC_TARGET_LAMBDA;
	s.target = "arn:aws:lambda:us-east-1:123456789012:function:f";
	s.retry.max_attempts = 5;
	s.retry.jitter = ORC_JITTER_FULL;
	s.retry.interval_ms = 250;
	s.retry.backoff_rate = 1.5;
	s.retry.max_delay_ms = 10000;
	EXPECT(ORC_OK, NULL, orc_dag_add_task(d, &s, E));
	dep(d, s.id, "say \"hi\"");
	dep(d, s.id, "late");
	dep(d, s.id, "fetch");
	dep(d, s.id, "say \"hi\"");
	add(d, "late");
	EXPECT(ORC_OK, NULL, orc_dag_validate(d, E));
	return d;
}

static void expect_same_tasks(const orc_dag *a, const orc_dag *b)
{
	size_t i, k, n = orc_dag_task_count(a);

	assert_int_equal(orc_dag_task_count(b), n);
	assert_int_equal(orc_dag_edge_count(b), orc_dag_edge_count(a));
	for (i = 0; i < n; i++) {
		orc_task_spec x = ORC_TASK_SPEC_INIT, y = ORC_TASK_SPEC_INIT;
		const uint32_t *dx, *dy;
		size_t nd;

		EXPECT(ORC_OK, NULL, orc_dag_task_get(&x, a, i, E));
		EXPECT(ORC_OK, NULL, orc_dag_task_get(&y, b, i, E));
		assert_string_equal(x.id, y.id);
		assert_int_equal(x.target_kind, y.target_kind);
		if (x.target || y.target)
			assert_string_equal(x.target, y.target);
		for (k = 0; x.argv && x.argv[k]; k++)
			assert_string_equal(x.argv[k], y.argv[k]);
		if (x.argv)
			assert_null(y.argv[k]);
		assert_memory_equal(&x.retry.max_attempts,
				    &y.retry.max_attempts, sizeof(int32_t));
		assert_int_equal(x.retry.jitter, y.retry.jitter);
		assert_int_equal(x.retry.interval_ms, y.retry.interval_ms);
		assert_true(x.retry.backoff_rate == y.retry.backoff_rate);
		assert_int_equal(x.retry.max_delay_ms, y.retry.max_delay_ms);
		assert_int_equal(x.timeout_ms, y.timeout_ms);
		nd = orc_dag_deps(&dx, a, i);
		assert_int_equal(orc_dag_deps(&dy, b, i), nd);
		for (k = 0; k < nd; k++)
			assert_int_equal(dx[k], dy[k]);
	}
}

static void test_dag__save_is_exact_and_round_trips(void **state)
{
	orc_dag *d = rich_dag(), *l = NULL;
	char *s1 = NULL, *s2 = NULL, *wf = (char *)"x";

	(void)state;
	EXPECT(ORC_OK, NULL, orc_dag_save(&s1, d, E));
	assert_string_equal(s1, saved_expected);
	EXPECT(ORC_OK, NULL, orc_dag_load(&l, &wf, s1, strlen(s1), NULL, E));
	assert_null(wf);
	expect_same_tasks(d, l);
	EXPECT(ORC_OK, NULL, orc_dag_save(&s2, l, E));
	assert_string_equal(s2, s1);
	orc_free(s1);
	orc_free(s2);
	orc_dag_free(l);
	orc_dag_free(d);
}

static void test_dag__save_needs_validated_dag(void **state)
{
	orc_dag *d = new_dag();
	char *s = (char *)"x";

	(void)state;
	add(d, "A");
	EXPECT(ORC_EINVAL, "not validated", orc_dag_save(&s, d, E));
	assert_null(s);
	EXPECT(ORC_EINVAL, "invalid argument", orc_dag_save(NULL, d, E));
	orc_dag_free(d);
}

static orc_dag *load_ok(const char *json, char **wf)
{
	orc_dag *d = NULL;

	EXPECT(ORC_OK, NULL, orc_dag_load(&d, wf, json, strlen(json), NULL,
					  E));
	assert_non_null(d);
	return d;
}

static void test_dag__load_seed_request_array(void **state)
{
	static const char json[] =
		"{\"workflowId\": \"wf-1\", \"graph\": ["
		"{\"taskId\": \"A\", \"targetLambdaArn\": \"arn:a\","
		" \"dependsOn\": []},"
		"{\"taskId\": \"B1\", \"targetLambdaArn\": \"arn:b1\","
		" \"dependsOn\": [\"A\"]},"
		"{\"taskId\": \"B2\", \"targetLambdaArn\": \"arn:b2\","
		" \"dependsOn\": [\"A\"]},"
		"{\"taskId\": \"C\", \"targetLambdaArn\": \"arn:c\","
		" \"dependsOn\": [\"B1\", \"B2\"]}],"
		" \"input\": {\"x\": 1}, \"correlationId\": \"c-9\"}";
	static const uint32_t levels[] = { 0, 1, 1, 2 };
	char *wf = NULL, *s = NULL;
	orc_dag *d = load_ok(json, &wf);

	(void)state;
	assert_string_equal(wf, "wf-1");
	expect_u32(orc_dag_levels(d, NULL), levels, 4);
	EXPECT(ORC_OK, NULL, orc_dag_save(&s, d, E));
	assert_string_equal(s,
		"{\"tasks\":[{\"id\":\"A\",\"lambda\":\"arn:a\"},"
		"{\"id\":\"B1\",\"lambda\":\"arn:b1\",\"dependsOn\":[\"A\"]},"
		"{\"id\":\"B2\",\"lambda\":\"arn:b2\",\"dependsOn\":[\"A\"]},"
		"{\"id\":\"C\",\"lambda\":\"arn:c\","
		"\"dependsOn\":[\"B1\",\"B2\"]}]}");
	orc_free(s);
	orc_free(wf);
	orc_dag_free(d);
}

static void test_dag__load_seed_graph_object_with_lambdas(void **state)
{
	static const char json[] =
		"{\"workflowId\": \"wf-2\", \"graph\": {"
		"\"A\": {\"dependsOn\": []},"
		"\"B\": {\"targetLambdaArn\": \"arn:own\", \"dependsOn\": [\"A\"]},"
		"\"C\": {\"dependsOn\": [\"B\", \"A\"]}},"
		"\"lambdas\": {\"A\": \"arn:map-a\", \"B\": \"arn:map-b\","
		" \"C\": \"arn:map-c\"}}";
	char *wf = NULL;
	orc_dag *d = load_ok(json, &wf);
	orc_task_spec s = ORC_TASK_SPEC_INIT;
	const uint32_t *l;

	(void)state;
	assert_string_equal(wf, "wf-2");
	EXPECT(ORC_OK, NULL, orc_dag_task_get(&s, d, 0, E));
	assert_string_equal(s.id, "A");
	assert_string_equal(s.target, "arn:map-a");
	EXPECT(ORC_OK, NULL, orc_dag_task_get(&s, d, 1, E));
	assert_string_equal(s.target, "arn:own");
	EXPECT(ORC_OK, NULL, orc_dag_task_get(&s, d, 2, E));
	assert_string_equal(s.target, "arn:map-c");
	assert_int_equal(s.target_kind, ORC_TARGET_LAMBDA);
	assert_int_equal(orc_dag_deps(&l, d, 2), 2);
	assert_int_equal(l[0], 1);
	assert_int_equal(l[1], 0);
	orc_free(wf);
	orc_dag_free(d);
}

static void test_dag__load_defaults_merge_field_by_field(void **state)
{
	static const char json[] =
		"{\"id\": \"w\", \"defaults\": {\"retry\": {\"maxAttempts\": 5,"
		" \"jitter\": \"FULL\"}, \"timeoutMs\": 700},"
		" \"tasks\": [{\"id\": \"A\", \"handler\": \"h\"},"
		" {\"id\": \"B\", \"retry\": {\"intervalMs\": 10},"
		" \"timeoutMs\": 0}]}";
	char *wf = NULL;
	orc_dag *d = load_ok(json, &wf);
	orc_task_spec s = ORC_TASK_SPEC_INIT;

	(void)state;
	assert_string_equal(wf, "w");
	EXPECT(ORC_OK, NULL, orc_dag_task_get(&s, d, 0, E));
	assert_int_equal(s.retry.max_attempts, 5);
	assert_int_equal(s.retry.jitter, ORC_JITTER_FULL);
	assert_int_equal(s.retry.interval_ms, 1000);
	assert_int_equal(s.timeout_ms, 700);
	assert_string_equal(s.target, "h");
	EXPECT(ORC_OK, NULL, orc_dag_task_get(&s, d, 1, E));
	assert_int_equal(s.retry.max_attempts, 5);
	assert_int_equal(s.retry.jitter, ORC_JITTER_FULL);
	assert_int_equal(s.retry.interval_ms, 10);
	assert_true(s.retry.backoff_rate == 2.0);
	assert_int_equal(s.timeout_ms, 0);
	assert_int_equal(s.target_kind, ORC_TARGET_NONE);
	orc_free(wf);
	orc_dag_free(d);
}

static orc_status load_err(orc_error *e, const char *json)
{
	orc_dag *d = (orc_dag *)e;
	orc_status st;

	memset(e, 0, sizeof(*e));
	st = orc_dag_load(&d, NULL, json, strlen(json), "def.json", e);
	assert_null(d);
	return st;
}

static void test_dag__load_errors(void **state)
{
	static const struct {
		orc_status st;
		const char *json, *text;
	} cases[] = {
		{ ORC_EINVAL, "[]", "must be a JSON object" },
		{ ORC_EINVAL, "{\"tasks\": [], \"bogus\": 1}",
		  "unknown key \"bogus\" at top level" },
		{ ORC_EINVAL, "{\"id\": \"w\"}", "missing \"tasks\"" },
		{ ORC_EINVAL, "{\"tasks\": []}", "DAG has no tasks" },
		{ ORC_EINVAL, "{\"tasks\": [{\"id\": \"A\", \"handlr\": \"h\"}]}",
		  "task A: unknown key \"handlr\"" },
		{ ORC_EINVAL, "{\"tasks\": [{\"id\": \"A\", \"retry\":"
			      " {\"maxAttempt\": 2}}]}",
		  "task A: unknown key \"maxAttempt\" in retry" },
		{ ORC_EINVAL, "{\"tasks\": [{\"id\": \"A\", \"retry\":"
			      " {\"maxAttempts\": 0}}]}",
		  "task A: retry.maxAttempts" },
		{ ORC_EINVAL, "{\"tasks\": [{\"id\": \"A\", \"retry\":"
			      " {\"jitter\": \"HALF\"}}]}",
		  "task A: retry.jitter" },
		{ ORC_EINVAL, "{\"tasks\": [{\"id\": 7}]}",
		  "tasks[0]: task id must be a string" },
		{ ORC_EINVAL, "{\"tasks\": [{\"handler\": \"h\"}]}",
		  "tasks[0]: \"id\" is missing" },
		{ ORC_EINVAL, "{\"tasks\": [{\"id\": \"A\", \"handler\": \"h\","
			      " \"lambda\": \"arn\"}]}",
		  "task A: give only one of" },
		{ ORC_EINVAL, "{\"tasks\": [{\"id\": \"A\", \"command\": []}]}",
		  "task A: \"command\" must be a non-empty array" },
		{ ORC_EINVAL, "{\"tasks\": [{\"id\": \"A\", \"dependsOn\": \"B\"}]}",
		  "task A: \"dependsOn\" must be an array" },
		{ ORC_EINVAL, "{\"tasks\": [{\"id\": \"A\", \"timeoutMs\": -1}]}",
		  "task A: \"timeoutMs\" must be an integer >= 0" },
		{ ORC_EINVAL, "{\"tasks\": [{\"id\": \"A#1\"}]}",
		  "tasks[0]: id contains '#'" },
		{ ORC_EINVAL, "{\"tasks\": [{\"id\": \"A\", \"dependsOn\":"
			      " [\"A\"]}]}",
		  "task A depends on itself" },
		{ ORC_EEXISTS, "{\"tasks\": [{\"id\": \"A\"}, {\"id\": \"A\"}]}",
		  "duplicate task id \"A\"" },
		{ ORC_ENOTFOUND, "{\"tasks\": [{\"id\": \"A\", \"dependsOn\":"
				 " [\"B\"]}]}",
		  "task A depends on unknown task B" },
		{ ORC_ECYCLE, "{\"tasks\": [{\"id\": \"A\", \"dependsOn\":"
			      " [\"B\"]}, {\"id\": \"B\", \"dependsOn\":"
			      " [\"A\"]}]}",
		  "cycle: A -> B -> A" },
		{ ORC_EINVAL, "{\"graph\": [{\"taskId\": \"A\", \"extra\": 1}]}",
		  "task A: unknown key \"extra\"" },
		{ ORC_EINVAL, "{\"graph\": 3}", "\"graph\" must be" },
		{ ORC_EINVAL, "{\"tasks\": [], \"graph\": []}", "not both" },
		{ ORC_EINVAL, "{\"defaults\": {\"retries\": 1}, \"tasks\": []}",
		  "defaults: unknown key \"retries\"" },
		{ ORC_EINVAL, "{\"workflowId\": 5, \"tasks\": []}",
		  "\"workflowId\" must be a string" },
	};
	orc_error e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		orc_status st = load_err(&e, cases[i].json);

		if (st != cases[i].st || !strstr(e.message, cases[i].text))
			fail_msg("case %zu: %s \"%s\", expected %s \"%s\"", i,
				 orc_status_name(st), e.message,
				 orc_status_name(cases[i].st), cases[i].text);
		assert_string_equal(e.source, "def.json");
		assert_int_equal(e.line, 0);
	}
}

static void test_dag__load_parse_error_located(void **state)
{
	orc_error e;

	(void)state;
	/* Line 3 is `  {"id": "A",}`: the '}' is its 14th character and
	 * byte 26 of the input, so 27 bytes have been read. */
	assert_int_equal(load_err(&e, "{\n\"tasks\": [\n  {\"id\": \"A\",}\n]}"),
			 ORC_EPARSE);
	assert_int_equal(e.line, 3);
	assert_int_equal(e.column, 14);
	assert_int_equal(e.position, 27);
	assert_string_equal(e.source, "def.json");
	assert_int_equal(load_err(&e, "{\"tasks\": [], \"tasks\": []}"),
			 ORC_EPARSE);
	assert_non_null(strstr(e.message, "duplicate object key"));
	assert_int_equal(e.line, 1);
}

static void test_dag__load_file(void **state)
{
	static const char json[] = "{\"id\": \"f\", \"tasks\": [{\"id\": \"A\"}]}";
	char path[] = "test_dag_load_XXXXXX", *wf = NULL;
	orc_dag *d = NULL;
	orc_error e;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(json, f);
	fclose(f);
	EXPECT(ORC_OK, NULL, orc_dag_load_file(&d, &wf, path, E));
	assert_string_equal(wf, "f");
	assert_int_equal(orc_dag_task_count(d), 1);
	orc_dag_free(d);
	orc_free(wf);
	unlink(path);
	assert_int_equal(orc_dag_load_file(&d, NULL, path, &e), ORC_ENOTFOUND);
	assert_null(d);
	assert_non_null(strstr(e.message, path));
	assert_int_equal(e.detail, ENOENT);
}

/* ---- DOT and Mermaid ------------------------------------------------ */

static orc_dag *export_dag(void)
{
	orc_dag *d = make("a q\"t b\\c x<y>&z", "q\"t:a b\\c:q\"t b\\c:a");

	EXPECT(ORC_OK, NULL, orc_dag_validate(d, E));
	return d;
}

static int state_fn(const char *id, void *payload)
{
	(void)payload;
	if (strcmp(id, "a") == 0)
		return ORC_TASK_SUCCEEDED;
	if (strcmp(id, "q\"t") == 0)
		return ORC_TASK_RUNNING;
	if (strcmp(id, "x<y>&z") == 0)
		return 42; /* out of range: no colour */
	return -1;
}

static void test_dag__dot_text(void **state)
{
	orc_dag *d = export_dag();
	char *t = NULL;

	(void)state;
	EXPECT(ORC_OK, NULL, orc_dag_to_dot(&t, d, NULL, NULL, E));
	assert_string_equal(t,
		"digraph workflow {\n"
		"\tnode [shape=box];\n"
		"\t\"a\";\n"
		"\t\"q\\\"t\";\n"
		"\t\"b\\\\c\";\n"
		"\t\"x<y>&z\";\n"
		"\t\"a\" -> \"q\\\"t\";\n"
		"\t\"q\\\"t\" -> \"b\\\\c\";\n"
		"\t\"a\" -> \"b\\\\c\";\n"
		"}\n");
	orc_free(t);
	EXPECT(ORC_OK, NULL, orc_dag_to_dot(&t, d, state_fn, NULL, E));
	assert_string_equal(t,
		"digraph workflow {\n"
		"\tnode [shape=box];\n"
		"\t\"a\" [style=filled, fillcolor=\"#98fb98\"];\n"
		"\t\"q\\\"t\" [style=filled, fillcolor=\"#ffd700\"];\n"
		"\t\"b\\\\c\";\n"
		"\t\"x<y>&z\";\n"
		"\t\"a\" -> \"q\\\"t\";\n"
		"\t\"q\\\"t\" -> \"b\\\\c\";\n"
		"\t\"a\" -> \"b\\\\c\";\n"
		"}\n");
	orc_free(t);
	orc_dag_free(d);
}

static void test_dag__mermaid_text(void **state)
{
	orc_dag *d = export_dag();
	char *t = NULL;

	(void)state;
	EXPECT(ORC_OK, NULL, orc_dag_to_mermaid(&t, d, NULL, NULL, E));
	assert_string_equal(t,
		"flowchart TD\n"
		"    n0[\"a\"]\n"
		"    n1[\"q#quot;t\"]\n"
		"    n2[\"b\\c\"]\n"
		"    n3[\"x#lt;y#gt;#amp;z\"]\n"
		"    n0 --> n1\n"
		"    n1 --> n2\n"
		"    n0 --> n2\n");
	orc_free(t);
	EXPECT(ORC_OK, NULL, orc_dag_to_mermaid(&t, d, state_fn, NULL, E));
	assert_string_equal(t,
		"flowchart TD\n"
		"    n0[\"a\"]:::succeeded\n"
		"    n1[\"q#quot;t\"]:::running\n"
		"    n2[\"b\\c\"]\n"
		"    n3[\"x#lt;y#gt;#amp;z\"]\n"
		"    n0 --> n1\n"
		"    n1 --> n2\n"
		"    n0 --> n2\n"
		"    classDef pending fill:#e0e0e0\n"
		"    classDef ready fill:#add8e6\n"
		"    classDef running fill:#ffd700\n"
		"    classDef succeeded fill:#98fb98\n"
		"    classDef failed fill:#fa8072\n"
		"    classDef canceled fill:#a9a9a9\n");
	orc_free(t);
	orc_dag_free(d);
}

static void test_dag__export_needs_validated_dag(void **state)
{
	orc_dag *d = new_dag();
	char *t = (char *)"x";

	(void)state;
	add(d, "a");
	EXPECT(ORC_EINVAL, "not validated",
	       orc_dag_to_dot(&t, d, NULL, NULL, E));
	assert_null(t);
	EXPECT(ORC_EINVAL, "not validated",
	       orc_dag_to_mermaid(&t, d, NULL, NULL, E));
	EXPECT(ORC_EINVAL, "invalid argument",
	       orc_dag_to_dot(NULL, d, NULL, NULL, E));
	orc_dag_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dag__id_length_boundaries),
		cmocka_unit_test(test_dag__id_rejects_hash_and_control),
		cmocka_unit_test(test_dag__id_rejects_invalid_utf8),
		cmocka_unit_test(test_dag__id_accepts_quotes_spaces_sql_unicode),
		cmocka_unit_test(test_dag__add_task_errors),
		cmocka_unit_test(test_dag__add_dep_errors),
		cmocka_unit_test(test_dag__repeated_edge_ignored),
		cmocka_unit_test(test_dag__task_get_copies_everything),
		cmocka_unit_test(test_dag__validate_empty_dag),
		cmocka_unit_test(test_dag__unknown_dependency_then_fixed),
		cmocka_unit_test(test_dag__cycle_of_two_named),
		cmocka_unit_test(test_dag__cycle_of_three_entered_from_outside),
		cmocka_unit_test(test_dag__cycle_rotated_to_lowest_index),
		cmocka_unit_test(test_dag__cycle_behind_processed_root),
		cmocka_unit_test(test_dag__frozen_after_validate),
		cmocka_unit_test(test_dag__queries_need_validation),
		cmocka_unit_test(test_dag__topo_and_levels_diamond),
		cmocka_unit_test(test_dag__topo_and_levels_longest_path),
		cmocka_unit_test(test_dag__forward_references),
		cmocka_unit_test(test_dag__refcount_keeps_dag_alive),
		cmocka_unit_test(test_dag__refcount_is_atomic_across_threads),
		cmocka_unit_test(test_dag__save_is_exact_and_round_trips),
		cmocka_unit_test(test_dag__save_needs_validated_dag),
		cmocka_unit_test(test_dag__load_seed_request_array),
		cmocka_unit_test(test_dag__load_seed_graph_object_with_lambdas),
		cmocka_unit_test(test_dag__load_defaults_merge_field_by_field),
		cmocka_unit_test(test_dag__load_errors),
		cmocka_unit_test(test_dag__load_parse_error_located),
		cmocka_unit_test(test_dag__load_file),
		cmocka_unit_test(test_dag__dot_text),
		cmocka_unit_test(test_dag__mermaid_text),
		cmocka_unit_test(test_dag__export_needs_validated_dag),
	};

	return cmocka_run_group_tests_name("dag", tests, NULL, NULL);
}
