/*
 * Helpers shared by the engine tests: a manual clock, the seed DAG, and
 * assertions that print the orc_error on failure.
 */
#ifndef ORC_TEST_UTIL_H
#define ORC_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "orchestra/orchestra.h"

/* Assert a call returned @p want, printing the error message if not. */
#define ASSERT_ST(want, call)                                              \
	do {                                                               \
		orc_error e_;                                              \
		orc_status st_;                                            \
		memset(&e_, 0, sizeof(e_));                                \
		st_ = (call);                                              \
		(void)e_;                                                  \
		if (st_ != (want))                                         \
			fail_msg("%s returned %s, expected %s", #call,     \
				 orc_status_name(st_), orc_status_name(want)); \
	} while (0)

/* A manual clock: tests move time, so leases expire without sleeping. */
typedef struct test_clock {
	int64_t now;
} test_clock;

static inline int64_t test_clock_now(void *payload)
{
	return ((test_clock *)payload)->now;
}

/* Build and validate A -> (B1, B2, B3) -> C with handler targets equal
 * to the ids and the given retry policy for every task. */
static inline orc_dag *test_seed_dag(const orc_retry_policy *retry)
{
	static const char *const ids[] = { "A", "B1", "B2", "B3", "C" };
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	orc_dag *dag = NULL;
	orc_error err;
	int i;

	if (orc_dag_create(&dag, &err) != ORC_OK)
		return NULL;
	for (i = 0; i < 5; i++) {
		spec.id = ids[i];
		spec.target_kind = ORC_TARGET_HANDLER;
		spec.target = ids[i];
		if (retry)
			spec.retry = *retry;
		if (orc_dag_add_task(dag, &spec, &err) != ORC_OK)
			goto fail;
	}
	for (i = 1; i <= 3; i++) {
		if (orc_dag_add_dep(dag, ids[i], "A", &err) != ORC_OK ||
		    orc_dag_add_dep(dag, "C", ids[i], &err) != ORC_OK)
			goto fail;
	}
	if (orc_dag_validate(dag, &err) != ORC_OK)
		goto fail;
	return dag;
fail:
	print_error("seed dag: %s\n", err.message);
	orc_dag_free(dag);
	return NULL;
}

#endif
