/*
 * The conformance suite (conformance.c) is one source built once per
 * backend; each backend_<name>.c provides these hooks.
 */
#ifndef ORC_TEST_CONFORMANCE_H
#define ORC_TEST_CONFORMANCE_H

#include "orchestra/backend.h"
#include "orchestra/status.h"

/* Backend name as printed in the TAP group ("memory", "sqlite", ...). */
const char *conf_backend_name(void);

/* Whether the backend provides update_tasks (version 2): the suite
 * checks the vtable says the same, and tests the groups when it does. */
int conf_backend_has_groups(void);

/* Whether create_workflow writes the workflow record first (then tasks
 * found without one may be overwritten; see backend.h). */
int conf_backend_record_first(void);

/* Process-wide setup/teardown (start a server, make a temp dir); 0 = ok. */
int conf_suite_setup(void);
void conf_suite_teardown(void);

/*
 * A fresh, empty store each call. For a backend that is shared by several
 * threads in a test, the test uses the same instance from all threads only
 * when b->caps has ORC_BACKEND_CAP_THREADSAFE; otherwise it opens one
 * instance per thread on the same store with conf_backend_reopen().
 */
orc_status conf_backend_open(orc_backend **out, orc_error *err);

/* Another handle on the store that @p b uses (same data), e.g. a second
 * SQLite connection; a backend with one in-process store may return a
 * handle that shares it. */
orc_status conf_backend_reopen(orc_backend **out, orc_backend *b,
			       orc_error *err);

/* Free a handle; the last close of a store removes its files. */
void conf_backend_close(orc_backend *b);

#endif
