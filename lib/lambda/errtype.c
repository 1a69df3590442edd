/*
 * Lambda error types and deadlines: pure helpers, built with or without
 * the lambda part.
 */
#include <string.h>

#include "internal.h"
#include "orchestra/lambda.h"

ORC_API const char *orc_lambda_error_type(const orc_error *err)
{
	if (!err)
		return orc_status_name(ORC_ERROR);
	/* An error filled by hand may lack the terminator. */
	if (err->type[0] && memchr(err->type, '\0', sizeof(err->type)))
		return err->type;
	return orc_status_name(err->code);
}

ORC_API orc_status orc_lambda_set_error_type(orc_error *err,
					     const char *type)
{
	size_t i, n;

	if (!err)
		return ORC_EINVAL;
	n = type ? strlen(type) : 0;
	if (n == 0 || n >= sizeof(err->type))
		return ORC_EINVAL;
	/* It goes into an HTTP header: printable ASCII only. */
	for (i = 0; i < n; i++)
		if ((unsigned char)type[i] < 0x20 ||
		    (unsigned char)type[i] > 0x7e)
			return ORC_EINVAL;
	memcpy(err->type, type, n + 1);
	return err->code;
}

ORC_API int64_t orc_lambda_remaining_ms(const orc_lambda_context *ctx)
{
	if (!ctx)
		return 0;
	return ctx->deadline_ms - orc__now_ms();
}
