/*
 * The example's task: {"task": id, "n": 1 + the sum of its dependencies'
 * n}, so the seed's A -> (B1, B2, B3) -> C ends with C's n = 7. It fails
 * on purpose when the workflow input says {"fail": "<task id>"}, and
 * takes its time when it says {"slow": "<task id>", "slowMs": N}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "task.h"

orc_status example_task(const char *event, size_t len,
			const orc_lambda_context *ctx, void *userdata,
			char **response_out, orc_error *err)
{
	json_t *p = json_loadb(event, len, 0, NULL), *v, *out;
	const char *id = json_string_value(json_object_get(p, "taskId"));
	json_t *input = json_object_get(p, "input");
	const char *fail = json_string_value(json_object_get(input, "fail"));
	const char *slow = json_string_value(json_object_get(input, "slow"));
	json_int_t n = 1;
	const char *key;
	char *text;

	(void)ctx;
	(void)userdata;
	if (!id) {
		json_decref(p);
		return orc_error_set(err, ORC_EINVAL, "no taskId in payload");
	}
	if (slow && strcmp(slow, id) == 0) {
		json_int_t ms = json_integer_value(json_object_get(input,
								   "slowMs"));
		struct timespec ts;

		ts.tv_sec = (time_t)(ms > 0 ? ms / 1000 : 0);
		ts.tv_nsec = (long)(ms > 0 ? ms % 1000 : 0) * 1000000L;
		nanosleep(&ts, NULL);
	}
	if (fail && strcmp(fail, id) == 0) {
		orc_error_set(err, ORC_EUSER, "task %s failed on purpose", id);
		json_decref(p);
		return orc_lambda_set_error_type(err, "TaskFailed");
	}
	json_object_foreach(json_object_get(p, "dependencies"), key, v)
		n += json_integer_value(json_object_get(v, "n"));
	out = json_pack("{s:s, s:I}", "task", id, "n", n);
	/* The runtime releases the response with orc_free(): copy it into
	 * liborchestra's allocator (jansson's may be another). */
	text = out ? json_dumps(out, JSON_COMPACT) : NULL;
	*response_out = orc_strdup(text);
	free(text);
	json_decref(out);
	json_decref(p);
	return *response_out ? ORC_OK :
		orc_error_set(err, ORC_ENOMEM, "out of memory");
}
