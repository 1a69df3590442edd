/* The task state machine table and the retry policy arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "orchestra/orchestra.h"

#define P ORC_TASK_PENDING
#define R ORC_TASK_READY
#define U ORC_TASK_RUNNING
#define S ORC_TASK_SUCCEEDED
#define F ORC_TASK_FAILED
#define C ORC_TASK_CANCELED

/* Written from the state machine documented in task.h (the table of
 * orc_task_transition_allowed()), independently of lib/task.c:
 * expected[from][to]. */
static const int expected[6][6] = {
	/*        P  R  U  S  F  C */
	/* P */ { 0, 1, 0, 0, 0, 1 },
	/* R */ { 0, 0, 1, 0, 0, 1 },
	/* U */ { 0, 1, 0, 1, 1, 1 },
	/* S */ { 0, 0, 0, 0, 0, 0 },
	/* F */ { 0, 0, 0, 0, 0, 0 },
	/* C */ { 0, 0, 0, 0, 0, 0 },
};

static void test_task__every_transition_allowed_or_refused(void **state)
{
	int from, to;
	orc_error err;

	(void)state;
	for (from = 0; from < 6; from++) {
		for (to = 0; to < 6; to++) {
			int ok = orc_task_transition_allowed(
				(orc_task_state)from, (orc_task_state)to);
			orc_status st = orc_task_transition_check(
				(orc_task_state)from, (orc_task_state)to, &err);

			if (ok != expected[from][to])
				fail_msg("%s -> %s: allowed=%d, expected %d",
					 orc_task_state_name((orc_task_state)from),
					 orc_task_state_name((orc_task_state)to),
					 ok, expected[from][to]);
			assert_int_equal(st, ok ? ORC_OK : ORC_EINVAL);
			if (!ok) {
				assert_non_null(strstr(err.message,
					orc_task_state_name((orc_task_state)from)));
				assert_non_null(strstr(err.message, "->"));
			}
		}
	}
}

static void test_task__out_of_range_states_refused(void **state)
{
	(void)state;
	assert_false(orc_task_transition_allowed((orc_task_state)6, R));
	assert_false(orc_task_transition_allowed(P, (orc_task_state)-1));
	assert_string_equal(orc_task_state_name((orc_task_state)42), "UNKNOWN");
}

static void test_task__terminal_states(void **state)
{
	(void)state;
	assert_false(orc_task_state_is_terminal(P));
	assert_false(orc_task_state_is_terminal(R));
	assert_false(orc_task_state_is_terminal(U));
	assert_true(orc_task_state_is_terminal(S));
	assert_true(orc_task_state_is_terminal(F));
	assert_true(orc_task_state_is_terminal(C));
}

static void test_task__state_names_round_trip(void **state)
{
	static const char *const names[] = { "PENDING", "READY", "RUNNING",
		"SUCCEEDED", "FAILED", "CANCELED" };
	orc_task_state s;
	orc_error err;
	int i;

	(void)state;
	for (i = 0; i < 6; i++) {
		assert_string_equal(orc_task_state_name((orc_task_state)i),
				    names[i]);
		assert_int_equal(orc_task_state_parse(&s, names[i], &err),
				 ORC_OK);
		assert_int_equal(s, i);
	}
	assert_int_equal(orc_task_state_parse(&s, "DONE", &err), ORC_EINVAL);
	assert_non_null(strstr(err.message, "DONE"));
	assert_int_equal(orc_task_state_parse(NULL, "READY", &err), ORC_EINVAL);
}

static void test_task__retry_delay_backoff_and_cap(void **state)
{
	orc_retry_policy p = { 5, ORC_JITTER_NONE, 1000, 2.0, 5000 };

	(void)state;
	assert_int_equal(orc_retry_delay_ms(&p, 1, 0.5), 1000);
	assert_int_equal(orc_retry_delay_ms(&p, 2, 0.5), 2000);
	assert_int_equal(orc_retry_delay_ms(&p, 3, 0.5), 4000);
	assert_int_equal(orc_retry_delay_ms(&p, 4, 0.5), 5000); /* capped */
	assert_int_equal(orc_retry_delay_ms(&p, 60, 0.5), 5000);
	p.max_delay_ms = 0;
	assert_int_equal(orc_retry_delay_ms(&p, 4, 0.5), 8000);
	/* No overflow to negative for absurd retry counts. */
	assert_true(orc_retry_delay_ms(&p, 100000, 0.5) > 0);
	assert_int_equal(orc_retry_delay_ms(&p, 0, 0.5), 0);
	assert_int_equal(orc_retry_delay_ms(NULL, 1, 0.5), 0);
}

static void test_task__retry_delay_full_jitter(void **state)
{
	orc_retry_policy p = { 5, ORC_JITTER_FULL, 1000, 3.0, 0 };

	(void)state;
	assert_int_equal(orc_retry_delay_ms(&p, 2, 0.0), 0);
	assert_int_equal(orc_retry_delay_ms(&p, 2, 0.5), 1500);
	assert_true(orc_retry_delay_ms(&p, 2, 0.9999) < 3000);
	assert_true(orc_retry_delay_ms(&p, 2, 7.0) < 3000); /* clamped */
}

static void test_task__retry_policy_check(void **state)
{
	orc_retry_policy ok = ORC_RETRY_POLICY_INIT, p;
	orc_error err;

	(void)state;
	assert_int_equal(orc_retry_policy_check(&ok, &err), ORC_OK);
	p = ok;
	p.max_attempts = 0;
	assert_int_equal(orc_retry_policy_check(&p, &err), ORC_EINVAL);
	assert_non_null(strstr(err.message, "maxAttempts"));
	p = ok;
	p.backoff_rate = 0.5;
	assert_int_equal(orc_retry_policy_check(&p, &err), ORC_EINVAL);
	assert_non_null(strstr(err.message, "backoffRate"));
	p = ok;
	p.interval_ms = -1;
	assert_int_equal(orc_retry_policy_check(&p, &err), ORC_EINVAL);
	p = ok;
	p.max_delay_ms = -5;
	assert_int_equal(orc_retry_policy_check(&p, &err), ORC_EINVAL);
	p = ok;
	p.jitter = (orc_jitter)9;
	assert_int_equal(orc_retry_policy_check(&p, &err), ORC_EINVAL);
	assert_int_equal(orc_retry_policy_check(NULL, &err), ORC_EINVAL);
}

static void test_task__rec_clear_frees_payloads(void **state)
{
	orc_task_rec rec;

	(void)state;
	memset(&rec, 0, sizeof(rec));
	rec.output = orc_strdup("{\"x\":1}");
	rec.error = orc_strdup("boom");
	orc_task_rec_clear(&rec);
	assert_null(rec.output);
	assert_null(rec.error);
	orc_task_rec_clear(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_task__every_transition_allowed_or_refused),
		cmocka_unit_test(test_task__out_of_range_states_refused),
		cmocka_unit_test(test_task__terminal_states),
		cmocka_unit_test(test_task__state_names_round_trip),
		cmocka_unit_test(test_task__retry_delay_backoff_and_cap),
		cmocka_unit_test(test_task__retry_delay_full_jitter),
		cmocka_unit_test(test_task__retry_policy_check),
		cmocka_unit_test(test_task__rec_clear_frees_payloads),
	};
	return cmocka_run_group_tests_name("task", tests, NULL, NULL);
}
