/*
 * The worker function (provided.al2023 bootstrap): runs one task per
 * TaskExecutionRequest. Environment: ORC_TABLE; ORC_DISPATCH_NEXT=1 to
 * dispatch the tasks each completion makes runnable (no stream needed),
 * to this same function (AWS_LAMBDA_FUNCTION_NAME). Built a second time
 * with EXAMPLE_LINK_TASKS (lambda-worker-linked): the example's task is
 * linked in and runs every task in-process, one invocation per task.
 */
#include <stdlib.h>
#include <string.h>

#include <orchestra/backends.h>
#include <orchestra/lambda_handlers.h>

#ifdef EXAMPLE_LINK_TASKS
#include "../task/task.h"

/* A NULL target matches every task. */
static const orc_lambda_target tasks[] = { { NULL, example_task, NULL } };
#endif

int main(void)
{
	orc_dynamodb_options db = ORC_DYNAMODB_OPTIONS_INIT;
	orc_lambda_handler_config cfg = ORC_LAMBDA_HANDLER_CONFIG_INIT;
	orc_lambda_handlers *h = NULL;
	const char *next = getenv("ORC_DISPATCH_NEXT");
	orc_error err;

	db.table = getenv("ORC_TABLE");
	cfg.worker_function = getenv("AWS_LAMBDA_FUNCTION_NAME");
	if (next && strcmp(next, "1") == 0)
		cfg.flags |= ORC_LAMBDA_DISPATCH_NEXT;
#ifdef EXAMPLE_LINK_TASKS
	cfg.targets = tasks;
	cfg.ntargets = 1;
#endif
	if (orc_dynamodb_backend_open(&cfg.backend, &db, &err) != ORC_OK ||
	    orc_lambda_client_create(&cfg.client, NULL, &err) != ORC_OK ||
	    orc_lambda_handlers_create(&h, &cfg, &err) != ORC_OK) {
		orc_lambda_runtime_init_error(NULL, &err, NULL);
		return 1;
	}
	/* The handlers keep definitions and what their own writes taught
	 * them across warm invocations. */
	orc_lambda_runtime_run(orc_lambda_handlers_worker, h, NULL, &err);
	orc_lambda_handlers_free(h);
	orc_lambda_client_free(cfg.client);
	orc_backend_free(cfg.backend);
	return 1; /* the loop returns only when the Runtime API is gone */
}
