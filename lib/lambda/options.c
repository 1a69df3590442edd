/*
 * The _init() functions of the Lambda part's versioned structs, for
 * callers that cannot use the _INIT macros (bindings), and the
 * version-aware reads of its options. Pure: built with or without the
 * lambda part.
 */
#include "internal.h"
#include "lambda/options.h"
#include "orchestra/lambda_handlers.h"

/* Sizes of each version; see orc__struct_init(). */
static const size_t runtime_ends[] = {
	0, sizeof(orc_lambda_runtime_options)
};
ORC__ENDS_CHECK(runtime_ends, ORC_LAMBDA_RUNTIME_OPTIONS_VERSION);

static const size_t client_ends[] = { 0, sizeof(orc_lambda_client_options) };
ORC__ENDS_CHECK(client_ends, ORC_LAMBDA_CLIENT_OPTIONS_VERSION);

static const size_t config_ends[] = { 0, sizeof(orc_lambda_handler_config) };
ORC__ENDS_CHECK(config_ends, ORC_LAMBDA_HANDLER_CONFIG_VERSION);

#define ENDS(a) (a), sizeof(a) / sizeof((a)[0])

static const orc_lambda_runtime_options runtime_def =
	ORC_LAMBDA_RUNTIME_OPTIONS_INIT;
static const orc_lambda_client_options client_def =
	ORC_LAMBDA_CLIENT_OPTIONS_INIT;

ORC_API orc_status orc_lambda_runtime_options_init(
	orc_lambda_runtime_options *opts, unsigned int version)
{
	return orc__struct_init(opts, &runtime_def, version,
				ENDS(runtime_ends));
}

ORC_API orc_status orc_lambda_client_options_init(
	orc_lambda_client_options *opts, unsigned int version)
{
	return orc__struct_init(opts, &client_def, version, ENDS(client_ends));
}

ORC_API orc_status orc_lambda_handler_config_init(
	orc_lambda_handler_config *cfg, unsigned int version)
{
	static const orc_lambda_handler_config def =
		ORC_LAMBDA_HANDLER_CONFIG_INIT;

	return orc__struct_init(cfg, &def, version, ENDS(config_ends));
}

orc_status orc__lambda_runtime_options_read(
	orc_lambda_runtime_options *out,
	const orc_lambda_runtime_options *opts, orc_error *err)
{
	*out = runtime_def;
	return orc__struct_read(out, opts, ENDS(runtime_ends),
				"lambda runtime options", err);
}

orc_status orc__lambda_client_options_read(
	orc_lambda_client_options *out, const orc_lambda_client_options *opts,
	orc_error *err)
{
	*out = client_def;
	return orc__struct_read(out, opts, ENDS(client_ends),
				"lambda client options", err);
}
