/*
 * Command targets: a task whose target is an argv array runs as a child
 * process. Internal to the library; the runner calls it.
 */
#ifndef ORCHESTRA_COMMAND_H
#define ORCHESTRA_COMMAND_H

#include <stdint.h>

#include "orchestra/status.h"

typedef struct orc__command_req {
	const char *const *argv;   /* NULL-terminated; argv[0] looked up in PATH */
	const char *payload;       /* JSON written to the child's stdin */
	const char *wf_id;         /* exported as ORC_WORKFLOW_ID */
	const char *task_id;       /* exported as ORC_TASK_ID */
	int32_t attempt;           /* exported as ORC_ATTEMPT */
	int64_t timeout_ms;        /* 0 = none; on expiry the whole process
				      group is killed (SIGTERM, then SIGKILL) */
} orc__command_req;

/*
 * Run one command. On exit status 0 with JSON on stdout (empty stdout =
 * null), *output_out receives that JSON (orc_free) and ORC_OK is
 * returned. Otherwise the call returns ORC_EUSER (non-zero exit, death by
 * signal, stdout not JSON) or ORC_ETIMEOUT, and @p error_buf receives a
 * message ending with the tail of the child's stderr. Setup failures
 * (fork, pipe, exec of a missing program) are ORC_EUSER too, so the task
 * fails and is retried per its policy rather than aborting the run.
 * Thread-safe: no global state; signals are not touched.
 */
orc_status orc__command_run(char **output_out, char *error_buf,
			    size_t error_len, const orc__command_req *req,
			    orc_error *err);

#endif
