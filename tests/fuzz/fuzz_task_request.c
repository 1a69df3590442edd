/*
 * Fuzz target: the worker's TaskExecutionRequest. A request that parses
 * has valid ids and prints back to a request that parses the same.
 */
#include "fuzz.h"
#include "lambda/handlers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), *again;
	orc__lh_task_req r, r2;
	orc_error err;
	orc_status st;

	memset(&err, 0, sizeof(err));
	st = orc__lh_parse_task_req(&r, text, size, &err);
	fuzz_check_error(st, &err);
	if (st == ORC_OK) {
		if (orc_dag_check_id(r.wf_id, NULL) != ORC_OK ||
		    orc_dag_check_id(r.task_id, NULL) != ORC_OK)
			abort();
		orc__lh_seen seen;

		seen.version = r.expected_version;
		seen.attempts_made = (int32_t)r.attempts_made;
		seen.not_before_ms = r.not_before_ms;
		again = orc__lh_task_req_json(r.wf_id, r.task_id, r.target,
					      &seen, r.correlation_id);
		if (!again ||
		    orc__lh_parse_task_req(&r2, again, strlen(again),
					   &err) != ORC_OK ||
		    strcmp(r.wf_id, r2.wf_id) ||
		    strcmp(r.task_id, r2.task_id) ||
		    r.expected_version != r2.expected_version ||
		    (r.expected_version >= 0 &&
		     (r.attempts_made != r2.attempts_made ||
		      r.not_before_ms != r2.not_before_ms)))
			abort();
		orc__lh_task_req_clear(&r2);
		free(again);
		orc__lh_task_req_clear(&r);
	}
	free(text);
	return 0;
}
