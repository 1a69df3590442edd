/*
 * The Lambda Invoke client (placeholder).
 */
#include <stddef.h>

#include "internal.h"
#include "orchestra/lambda.h"

#define NO_LAMBDA "not implemented yet"
ORC_API orc_status orc_lambda_client_create(orc_lambda_client **out,
					    const orc_lambda_client_options *opts,
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
