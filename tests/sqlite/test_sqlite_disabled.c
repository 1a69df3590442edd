/*
 * Built only when the sqlite feature is off: the constructor still
 * exists and says why it cannot work.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "orchestra/backends.h"
#include "orchestra/orchestra.h"

static void test_sqlite__disabled_is_not_supported(void **state)
{
	orc_backend *b = (orc_backend *)state;
	orc_error err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(orc_sqlite_backend_open(&b, "x.db", NULL, &err),
			 ORC_ENOTSUPPORTED);
	assert_null(b);
	assert_non_null(strstr(err.message, "SQLite"));
	assert_int_equal(orc_sqlite_backend_open(&b, "x.db", NULL, NULL),
			 ORC_ENOTSUPPORTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sqlite__disabled_is_not_supported),
	};

	return cmocka_run_group_tests_name("sqlite_disabled", tests, NULL,
					   NULL);
}
