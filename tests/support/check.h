/*
 * CHECK(want, call): assert that @p call returned @p want, failing with
 * the line, the call, the status and the orc_error's message. The call
 * passes E as its orc_error. CHECK_MSG also fails an error that came
 * without a message (the library promises one).
 */
#ifndef ORC_TEST_CHECK_H
#define ORC_TEST_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "orchestra/status.h"

#define ORC_TEST_CHECK_(want, call, need_msg)                              \
	do {                                                               \
		orc_error e_;                                              \
		orc_status st_;                                            \
		memset(&e_, 0, sizeof(e_));                                \
		st_ = (call);                                              \
		if (st_ != (want))                                         \
			fail_msg("line %d: %s returned %s (%s), expected %s", \
				 __LINE__, #call, orc_status_name(st_),    \
				 st_ != ORC_OK ? e_.message : "",          \
				 orc_status_name(want));                   \
		if ((need_msg) && st_ != ORC_OK && e_.message[0] == '\0')  \
			fail_msg("line %d: %s failed with an empty message", \
				 __LINE__, #call);                         \
	} while (0)

#define CHECK(want, call) ORC_TEST_CHECK_(want, call, 0)
#define CHECK_MSG(want, call) ORC_TEST_CHECK_(want, call, 1)
#define E (&e_)

#endif
