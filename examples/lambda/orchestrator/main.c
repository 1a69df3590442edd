/*
 * The orchestrator function (provided.al2023 bootstrap): starts
 * workflows, follows the table's stream, reconciles on a schedule.
 * Environment: ORC_TABLE (the DynamoDB table), ORC_WORKER_FUNCTION.
 */
#include <stdlib.h>

#include <orchestra/backends.h>
#include <orchestra/lambda_handlers.h>

int main(void)
{
	orc_dynamodb_options db = ORC_DYNAMODB_OPTIONS_INIT;
	orc_lambda_handler_config cfg = ORC_LAMBDA_HANDLER_CONFIG_INIT;
	orc_lambda_handlers *h = NULL;
	orc_error err;

	db.table = getenv("ORC_TABLE");
	cfg.worker_function = getenv("ORC_WORKER_FUNCTION");
	if (orc_dynamodb_backend_open(&cfg.backend, &db, &err) != ORC_OK ||
	    orc_lambda_client_create(&cfg.client, NULL, &err) != ORC_OK ||
	    orc_lambda_handlers_create(&h, &cfg, &err) != ORC_OK) {
		orc_lambda_runtime_init_error(NULL, &err, NULL);
		return 1;
	}
	/* The handlers keep definitions and what their own writes taught
	 * them across warm invocations. */
	orc_lambda_runtime_run(orc_lambda_handlers_orchestrator, h, NULL,
			       &err);
	orc_lambda_handlers_free(h);
	orc_lambda_client_free(cfg.client);
	orc_backend_free(cfg.backend);
	return 1; /* the loop returns only when the Runtime API is gone */
}
