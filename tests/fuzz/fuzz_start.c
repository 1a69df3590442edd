/*
 * Fuzz target: the orchestrator's start event (event kind, then the
 * definition, workflow id, input and correlation id).
 */
#include "fuzz.h"
#include "lambda/handlers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	orc__lh_start s;
	orc__lh_kind kind;
	orc_error err;
	orc_status st;
	json_t *root;

	memset(&err, 0, sizeof(err));
	st = orc__lh_parse_object(&root, text, size, "event", &err);
	fuzz_check_error(st, &err);
	if (st == ORC_OK) {
		memset(&err, 0, sizeof(err));
		fuzz_check_error(orc__lh_classify(&kind, root, &err), &err);
		json_decref(root);
	}
	memset(&err, 0, sizeof(err));
	st = orc__lh_parse_start(&s, text, size, "fuzz-default", &err);
	fuzz_check_error(st, &err);
	if (st == ORC_OK) {
		if (!s.dag || orc_dag_check_id(s.wf_id, NULL) != ORC_OK)
			abort();
		orc__lh_start_clear(&s);
	} else if (s.dag || s.input || s.correlation_id) {
		abort(); /* nothing is kept on failure */
	}
	free(text);
	return 0;
}
