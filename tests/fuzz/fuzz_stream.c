/*
 * Fuzz target: a DynamoDB Streams batch as Lambda delivers it. Every
 * record is either usable (ids valid for the key layout) or flagged
 * with a reason.
 */
#include "fuzz.h"
#include "lambda/handlers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	orc__lh_batch b;
	orc_error err;
	orc_status st;
	size_t i;

	memset(&err, 0, sizeof(err));
	st = orc__lh_parse_stream(&b, text, size, &err);
	fuzz_check_error(st, &err);
	for (i = 0; st == ORC_OK && i < b.n; i++) {
		const orc__lh_record *r = &b.recs[i];

		if (r->bad) {
			if (!r->why[0])
				abort();
			continue;
		}
		if (r->kind != ORC__REC_OTHER &&
		    orc_dag_check_id(r->wf_id, NULL) != ORC_OK)
			abort();
		if (r->kind == ORC__REC_TASK &&
		    orc_dag_check_id(r->task_id, NULL) != ORC_OK)
			abort();
		if (r->kind != ORC__REC_OTHER && !r->remove &&
		    (r->new_state < 0 || r->new_version < 0))
			abort();
	}
	if (st == ORC_OK)
		orc__lh_batch_clear(&b);
	free(text);
	return 0;
}
