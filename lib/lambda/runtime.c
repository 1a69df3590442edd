/*
 * The Lambda Runtime API loop (placeholder).
 */
#include <stddef.h>

#include "internal.h"
#include "orchestra/lambda.h"

#define NO_LAMBDA "not implemented yet"

ORC_API orc_status orc_lambda_runtime_run(orc_lambda_handler_fn fn,
					  void *userdata,
					  const orc_lambda_runtime_options *opts,
					  orc_error *err)
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
