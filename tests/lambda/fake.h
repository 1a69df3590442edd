/*
 * Drive tests/lambda/fake_lambda.py from C: start it with some functions,
 * read the addresses it prints, talk to its Invoke port, stop it. Needs
 * ORC_SOURCE_ROOT (set by meson) and python3 on PATH; a missing one is a
 * failure, never a skip.
 */
#ifndef ORC_TEST_FAKE_LAMBDA_H
#define ORC_TEST_FAKE_LAMBDA_H

#include <sys/types.h>

typedef struct fake_lambda {
	pid_t pid;
	int to_child;          /* its stdin: closing it stops the server */
	char invoke[64];       /* "http://127.0.0.1:<port>" */
	char *ready;           /* the JSON line it printed */
	char rt_buf[64];
} fake_lambda;

/*
 * Start the server with @p args (NULL-terminated fake_lambda.py options,
 * e.g. "--function", "echo=/path/to/bin"). 0 on success; -1 with a
 * message on stderr.
 */
int fake_start(fake_lambda *f, const char *const *args);
/*
 * The same with functions @p fns ("NAME" or "NAME=BINARY", NULL-ended)
 * and environment @p envs ("KEY=VALUE", NULL-ended) as options.
 */
int fake_start_with(fake_lambda *f, const char *const *fns,
		    const char *const *envs);
/* "127.0.0.1:<port>" of @p fn's slot @p slot, or NULL; borrowed. */
const char *fake_runtime(fake_lambda *f, const char *fn, int slot);
/* POST @p body to @p path on the Invoke port, with NULL-terminated extra
 * header lines; the answer's body (malloc'd) or NULL. */
char *fake_post(fake_lambda *f, const char *path, const char *const *hdrs,
		const char *body);
/* GET @p path on the Invoke port; the body (malloc'd) or NULL. */
char *fake_get(fake_lambda *f, const char *path);
void fake_stop(fake_lambda *f);

#endif
