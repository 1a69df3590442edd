/*
 * Built when liborchestra is configured without the dynamodb part
 * (no libcurl or libcrypto): the constructor exists and says so.
 */
#include <stddef.h>

#include "internal.h"
#include "orchestra/backends.h"

ORC_API orc_status orc_dynamodb_backend_open(orc_backend **out,
					     const orc_dynamodb_options *opts,
					     orc_error *err)
{
	ORC_UNUSED(opts);
	if (out)
		*out = NULL;
	return orc_error_set(err, ORC_ENOTSUPPORTED,
			     "liborchestra was built without DynamoDB support "
			     "(needs libcurl and libcrypto)");
}

ORC_API orc_status orc_dynamodb_create_table(const orc_dynamodb_options *opts,
					     orc_error *err)
{
	ORC_UNUSED(opts);
	return orc_error_set(err, ORC_ENOTSUPPORTED,
			     "liborchestra was built without DynamoDB support "
			     "(needs libcurl and libcrypto)");
}
