/*
 * The DynamoDB backend, loaded when first used. It lives in
 * liborchestra-aws, which links libcurl and libcrypto and, through them,
 * some thirty more libraries that take about 10 ms to load. The command
 * links only liborchestra and opens liborchestra-aws when --backend
 * dynamodb or `table` needs it, so runs on SQLite never load them
 * (docs/architecture.md, "Libraries").
 */
#include <string.h>

#include "cli.h"

typedef orc_status (*open_fn)(orc_backend **out,
			      const orc_dynamodb_options *opts,
			      orc_error *err);
typedef orc_status (*create_fn)(const orc_dynamodb_options *opts,
				orc_error *err);
_Static_assert(sizeof(open_fn) == sizeof(void *) &&
	       sizeof(create_fn) == sizeof(void *),
	       "function and object pointers convert (POSIX dlsym)");

/* Function @p name of liborchestra-aws, or NULL with @p err set. The
 * library is never closed: backends opened from it live until exit. */
static void *aws_sym(const char *name, orc_error *err)
{
	return cli_dl_sym(CLI_AWS_SONAME, name, "the DynamoDB backend", err);
}

orc_status cli_dynamodb_open(orc_backend **out,
			     const orc_dynamodb_options *opts, orc_error *err)
{
	void *sym = aws_sym("orc_dynamodb_backend_open", err);
	open_fn fn;

	*out = NULL;
	if (!sym)
		return ORC_ENOTSUPPORTED;
	/* POSIX guarantees that dlsym's object pointer converts back to
	 * the function pointer; memcpy says so without a cast ISO C
	 * forbids. */
	memcpy(&fn, &sym, sizeof(fn));
	return fn(out, opts, err);
}

orc_status cli_dynamodb_create_table(const orc_dynamodb_options *opts,
				     orc_error *err)
{
	void *sym = aws_sym("orc_dynamodb_create_table", err);
	create_fn fn;

	if (!sym)
		return ORC_ENOTSUPPORTED;
	memcpy(&fn, &sym, sizeof(fn));
	return fn(opts, err);
}
