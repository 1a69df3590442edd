/*
 * Built when liborchestra is configured without the lambda part: the
 * runtime and the Invoke client exist and say so.
 */
#include <stddef.h>

#include "internal.h"
#include "orchestra/lambda.h"

#define NO_LAMBDA "liborchestra was built without Lambda support " \
		  "(needs the dynamodb part: libcurl and libcrypto)"

ORC_API orc_status orc_lambda_runtime_run(
	orc_lambda_handler_fn fn, void *userdata,
	const orc_lambda_runtime_options *opts, orc_error *err)
{
	ORC_UNUSED(fn);
	ORC_UNUSED(userdata);
	ORC_UNUSED(opts);
	return orc_error_set(err, ORC_ENOTSUPPORTED, NO_LAMBDA);
}

ORC_API orc_status orc_lambda_runtime_init_error(const char *api,
						 const orc_error *cause,
						 orc_error *err)
{
	ORC_UNUSED(api);
	ORC_UNUSED(cause);
	return orc_error_set(err, ORC_ENOTSUPPORTED, NO_LAMBDA);
}

ORC_API orc_status orc_lambda_client_create(
	orc_lambda_client **out, const orc_lambda_client_options *opts,
	orc_error *err)
{
	ORC_UNUSED(opts);
	if (out)
		*out = NULL;
	return orc_error_set(err, ORC_ENOTSUPPORTED, NO_LAMBDA);
}

ORC_API void orc_lambda_client_free(orc_lambda_client *c)
{
	ORC_UNUSED(c);
}

ORC_API orc_status orc_lambda_invoke(orc_lambda_client *c,
				     const char *function,
				     orc_lambda_invocation type,
				     const char *payload, char **response_out,
				     orc_error *err)
{
	ORC_UNUSED(c);
	ORC_UNUSED(function);
	ORC_UNUSED(type);
	ORC_UNUSED(payload);
	if (response_out)
		*response_out = NULL;
	return orc_error_set(err, ORC_ENOTSUPPORTED, NO_LAMBDA);
}
