/*
 * The HTTP part's public functions in the core when it is not built
 * (the 'http' feature found no libmicrohttpd): each says
 * ORC_ENOTSUPPORTED. The listener's are in liborchestra-http
 * (server_disabled.c).
 */
#include "internal.h"
#include "orchestra/http.h"

static orc_status absent(orc_error *err)
{
	return orc_error_set(err, ORC_ENOTSUPPORTED, "this liborchestra was "
			     "built without the http part (libmicrohttpd)");
}

ORC_API orc_status orc_http_api_create(orc_http_api **out,
				       orc_backend *backend,
				       const orc_http_options *opts,
				       orc_error *err)
{
	(void)backend;
	(void)opts;
	if (out)
		*out = NULL;
	return absent(err);
}

ORC_API void orc_http_api_free(orc_http_api *api)
{
	(void)api;
}

ORC_API orc_status orc_http_api_handle(orc_http_response *resp,
				       orc_http_api *api,
				       const orc_http_request *req,
				       orc_error *err)
{
	(void)api;
	(void)req;
	if (resp)
		resp->body = NULL;
	return absent(err);
}

ORC_API void orc_http_response_clear(orc_http_response *resp)
{
	(void)resp;
}

ORC_API orc_status orc_lambda_apigw_handle(char **response_out,
					   orc_http_api *api,
					   const char *event_json,
					   orc_error *err)
{
	(void)api;
	(void)event_json;
	if (response_out)
		*response_out = NULL;
	return absent(err);
}
