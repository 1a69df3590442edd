/*
 * Built when liborchestra is configured without the lambda part: the
 * handlers exist and say so.
 */
#include <stddef.h>

#include "internal.h"
#include "orchestra/lambda_handlers.h"

#define NO_LAMBDA "liborchestra was built without Lambda support " \
		  "(needs the dynamodb part: libcurl and libcrypto)"

ORC_API orc_status orc_lambda_orchestrator_handler(
	const char *event, size_t len, const orc_lambda_context *ctx,
	void *userdata, char **response_out, orc_error *err)
{
	ORC_UNUSED(event);
	ORC_UNUSED(len);
	ORC_UNUSED(ctx);
	ORC_UNUSED(userdata);
	if (response_out)
		*response_out = NULL;
	return orc_error_set(err, ORC_ENOTSUPPORTED, NO_LAMBDA);
}

ORC_API orc_status orc_lambda_worker_handler(const char *event, size_t len,
					     const orc_lambda_context *ctx,
					     void *userdata,
					     char **response_out,
					     orc_error *err)
{
	ORC_UNUSED(event);
	ORC_UNUSED(len);
	ORC_UNUSED(ctx);
	ORC_UNUSED(userdata);
	if (response_out)
		*response_out = NULL;
	return orc_error_set(err, ORC_ENOTSUPPORTED, NO_LAMBDA);
}
