/*
 * The HTTP API function (provided.al2023 bootstrap) behind API Gateway:
 * the routes and the dashboard of `orchestra serve`, on the table the
 * orchestrator uses (docs/http.md, "On AWS"). Environment: ORC_TABLE,
 * ORC_HTTP_TOKEN (required: the API is reachable from the internet),
 * ORC_HTTP_ALLOW_ORIGIN (optional, one origin for CORS).
 */
#include <stdlib.h>

#include <orchestra/backends.h>
#include <orchestra/http.h>
#include <orchestra/lambda.h>

static orc_status handle(const char *event, size_t len,
			 const orc_lambda_context *ctx, void *userdata,
			 char **response_out, orc_error *err)
{
	(void)len;
	(void)ctx;
	return orc_lambda_apigw_handle(response_out, userdata, event, err);
}

int main(void)
{
	orc_dynamodb_options db = ORC_DYNAMODB_OPTIONS_INIT;
	orc_http_options ho = ORC_HTTP_OPTIONS_INIT;
	orc_backend *backend = NULL;
	orc_http_api *api = NULL;
	orc_error err;

	db.table = getenv("ORC_TABLE");
	ho.token = getenv("ORC_HTTP_TOKEN");
	ho.allow_origin = getenv("ORC_HTTP_ALLOW_ORIGIN");
	if (!ho.token || !ho.token[0]) {
		orc_error_set(&err, ORC_EINVAL, "ORC_HTTP_TOKEN is not set: "
			      "the API's mutating routes need a token");
		orc_lambda_runtime_init_error(NULL, &err, NULL);
		return 1;
	}
	if (orc_dynamodb_backend_open(&backend, &db, &err) != ORC_OK ||
	    orc_http_api_create(&api, backend, &ho, &err) != ORC_OK) {
		orc_lambda_runtime_init_error(NULL, &err, NULL);
		return 1;
	}
	orc_lambda_runtime_run(handle, api, NULL, &err);
	orc_http_api_free(api);
	orc_backend_free(backend);
	return 1; /* the loop returns only when the Runtime API is gone */
}
