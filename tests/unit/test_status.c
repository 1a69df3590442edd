/* Status codes, names, messages and the error struct. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "orchestra/orchestra.h"

static void test_status__codes_are_fixed(void **state)
{
	(void)state;
	/* The numbers are ABI: they must never move. */
	assert_int_equal(ORC_OK, 0);
	assert_int_equal(ORC_ERROR, 1);
	assert_int_equal(ORC_ENOMEM, 2);
	assert_int_equal(ORC_EINVAL, 3);
	assert_int_equal(ORC_EPARSE, 4);
	assert_int_equal(ORC_ENOTFOUND, 5);
	assert_int_equal(ORC_EEXISTS, 6);
	assert_int_equal(ORC_ECYCLE, 7);
	assert_int_equal(ORC_ECONFLICT, 8);
	assert_int_equal(ORC_ELOCKED, 9);
	assert_int_equal(ORC_ETOOBIG, 10);
	assert_int_equal(ORC_EBACKEND, 11);
	assert_int_equal(ORC_ETHROTTLED, 12);
	assert_int_equal(ORC_ETIMEOUT, 13);
	assert_int_equal(ORC_EAUTH, 14);
	assert_int_equal(ORC_ENOTSUPPORTED, 15);
	assert_int_equal(ORC_ECANCELED, 16);
	assert_int_equal(ORC_EUSER, 17);
}

static void test_status__names_match_constants(void **state)
{
	(void)state;
	assert_string_equal(orc_status_name(ORC_OK), "ORC_OK");
	assert_string_equal(orc_status_name(ORC_ECONFLICT), "ORC_ECONFLICT");
	assert_string_equal(orc_status_name(ORC_EUSER), "ORC_EUSER");
	assert_string_equal(orc_status_name((orc_status)999), "ORC_UNKNOWN");
	assert_string_equal(orc_status_name((orc_status)-1), "ORC_UNKNOWN");
}

static void test_status__strerror_never_null_and_distinct(void **state)
{
	int i, j;

	(void)state;
	for (i = 0; i <= ORC_STATUS_MAX; i++) {
		const char *a = orc_strerror((orc_status)i);

		assert_non_null(a);
		assert_true(strlen(a) > 0);
		for (j = 0; j < i; j++)
			assert_string_not_equal(a, orc_strerror((orc_status)j));
	}
	assert_string_equal(orc_strerror((orc_status)12345), "unknown status");
}

static void test_status__error_set_formats_and_returns_code(void **state)
{
	orc_error err;

	(void)state;
	memset(&err, 0x55, sizeof(err));
	assert_int_equal(orc_error_set(&err, ORC_ECONFLICT,
				       "task %s: expected version %d", "B1", 3),
			 ORC_ECONFLICT);
	assert_int_equal(err.code, ORC_ECONFLICT);
	assert_string_equal(err.message, "task B1: expected version 3");
	assert_int_equal(err.line, 0);
	assert_int_equal(err.column, 0);
	assert_int_equal(err.detail, 0);
	assert_string_equal(err.source, "");
	/* NULL error is allowed everywhere. */
	assert_int_equal(orc_error_set(NULL, ORC_EINVAL, "x"), ORC_EINVAL);
}

static void test_status__error_set_truncates_long_messages(void **state)
{
	char big[1000];
	orc_error err;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	orc_error_set(&err, ORC_EINVAL, "%s", big);
	assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
}

static void test_status__version_matches_header(void **state)
{
	(void)state;
	assert_string_equal(orc_version(), ORC_VERSION_STRING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status__codes_are_fixed),
		cmocka_unit_test(test_status__names_match_constants),
		cmocka_unit_test(test_status__strerror_never_null_and_distinct),
		cmocka_unit_test(test_status__error_set_formats_and_returns_code),
		cmocka_unit_test(test_status__error_set_truncates_long_messages),
		cmocka_unit_test(test_status__version_matches_header),
	};
	return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
