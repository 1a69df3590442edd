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

ORC_API orc_status orc_lambda_handlers_create(
	orc_lambda_handlers **out, const orc_lambda_handler_config *cfg,
	orc_error *err)
{
	ORC_UNUSED(cfg);
	if (out)
		*out = NULL;
	return orc_error_set(err, ORC_ENOTSUPPORTED, NO_LAMBDA);
}

ORC_API void orc_lambda_handlers_free(orc_lambda_handlers *h)
{
	ORC_UNUSED(h);
}

ORC_API orc_status orc_lambda_handlers_orchestrator(
	const char *event, size_t len, const orc_lambda_context *ctx,
	void *userdata, char **response_out, orc_error *err)
{
	return orc_lambda_orchestrator_handler(event, len, ctx, userdata,
					       response_out, err);
}

ORC_API orc_status orc_lambda_handlers_worker(
	const char *event, size_t len, const orc_lambda_context *ctx,
	void *userdata, char **response_out, orc_error *err)
{
	return orc_lambda_worker_handler(event, len, ctx, userdata,
					 response_out, err);
}
