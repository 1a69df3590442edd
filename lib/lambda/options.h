/*
 * The Lambda part's versioned options, read the way their version says
 * (lib/lambda/options.c); built with or without the lambda part.
 */
#ifndef ORCHESTRA_LAMBDA_OPTIONS_H
#define ORCHESTRA_LAMBDA_OPTIONS_H

#include "orchestra/lambda.h"

/* *out = the defaults overlaid with @p opts (NULL = defaults), or
 * ORC_EINVAL for a version this library does not know. */
orc_status orc__lambda_runtime_options_read(
	orc_lambda_runtime_options *out,
	const orc_lambda_runtime_options *opts, orc_error *err);
orc_status orc__lambda_client_options_read(
	orc_lambda_client_options *out, const orc_lambda_client_options *opts,
	orc_error *err);

#endif
