/*
 * A handler binary for the runtime tests and the cold-start bench: it
 * answers its event as it came, unless the event asks otherwise:
 *   {"fail": "msg"}      fails with ORC_EUSER and errorMessage "msg";
 *   {"context": true}    answers the context and _X_AMZN_TRACE_ID;
 *   {"exit": true}       exits at once (a crash, as Lambda sees it);
 *   {"sleep": true}      sleeps 10 s first (past a test's timeout).
 * A function named "initfail..." reports an init error and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orchestra/lambda.h"

static char *context_json(const orc_lambda_context *ctx)
{
	const char *env = getenv("_X_AMZN_TRACE_ID");
	size_t n = 256 + strlen(ctx->request_id) + strlen(ctx->function_arn) +
		   (ctx->trace_id ? strlen(ctx->trace_id) : 0) +
		   (env ? strlen(env) : 0);
	char *out = orc_malloc(n);

	if (out)
		snprintf(out, n, "{\"requestId\":\"%s\",\"deadlineMs\":%lld,"
			 "\"arn\":\"%s\",\"traceId\":\"%s\",\"env\":\"%s\"}",
			 ctx->request_id, (long long)ctx->deadline_ms,
			 ctx->function_arn,
			 ctx->trace_id ? ctx->trace_id : "", env ? env : "");
	return out;
}

static orc_status echo(const char *event, size_t len,
		       const orc_lambda_context *ctx, void *userdata,
		       char **response_out, orc_error *err)
{
	const char *p = strstr(event, "\"fail\": \"");

	(void)userdata;
	if (p) {
		p += 9;
		return orc_error_set(err, ORC_EUSER, "%.*s",
				     (int)strcspn(p, "\""), p);
	}
	if (strstr(event, "\"exit\": true"))
		exit(3);
	if (strstr(event, "\"sleep\": true")) {
		struct timespec ts = { 10, 0 };

		nanosleep(&ts, NULL);
	}
	if (strstr(event, "\"context\": true"))
		*response_out = context_json(ctx);
	else if ((*response_out = orc_malloc(len + 1)) != NULL)
		memcpy(*response_out, event, len + 1);
	return *response_out ? ORC_OK
			     : orc_error_set(err, ORC_ENOMEM, "out of memory");
}

int main(void)
{
	const char *name = getenv("AWS_LAMBDA_FUNCTION_NAME");
	orc_error err;

	if (name && strncmp(name, "initfail", 8) == 0) {
		orc_error_set(&err, ORC_EINVAL, "function %s fails its init",
			      name);
		orc_lambda_set_error_type(&err, "Echo.InitError");
		orc_lambda_runtime_init_error(NULL, &err, NULL);
		return 1;
	}
	if (orc_lambda_runtime_run(echo, NULL, NULL, &err) != ORC_OK) {
		fprintf(stderr, "echo_handler: %s\n", err.message);
		return 1;
	}
	return 0;
}
