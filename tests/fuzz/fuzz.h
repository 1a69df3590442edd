/*
 * Shared by the fuzz targets: each defines LLVMFuzzerTestOneInput(),
 * built two ways: with clang's libFuzzer (-fsanitize=fuzzer), and with
 * regress_main.c, which feeds it the committed corpus in the normal test
 * suite, so gcc builds run the same inputs.
 */
#ifndef ORC_TEST_FUZZ_H
#define ORC_TEST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestra/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as the handlers get it: NUL-terminated. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A failure must say what failed: a status in range, a message. */
static inline void fuzz_check_error(orc_status st, const orc_error *err)
{
	if (st == ORC_OK)
		return;
	if (st > ORC_STATUS_MAX || err->message[0] == '\0' ||
	    !memchr(err->message, '\0', sizeof(err->message))) {
		fprintf(stderr, "unclear error: status %d, message '%s'\n",
			(int)st, err->message);
		abort();
	}
}

#endif
