/*
 * The DynamoDB backend, loaded when first used. It lives in
 * liborchestra-aws, which links libcurl and libcrypto and, through them,
 * some thirty more libraries that take about 10 ms to load. The command
 * links only liborchestra and opens liborchestra-aws by its SONAME when
 * --backend dynamodb or `table` needs it, so runs on SQLite never load
 * them (docs/architecture.md, "Libraries").
 */
#include <dlfcn.h>
#include <string.h>

#include "cli.h"

typedef orc_status (*open_fn)(orc_backend **out,
			      const orc_dynamodb_options *opts,
			      orc_error *err);
typedef orc_status (*create_fn)(const orc_dynamodb_options *opts,
				orc_error *err);
_Static_assert(sizeof(open_fn) == sizeof(void *) &&
	       sizeof(create_fn) == sizeof(void *),
	       "dlsym's result holds a function pointer (POSIX)");

/* Function @p name of liborchestra-aws, or NULL with @p err set. The
 * library is never closed: backends opened from it live until exit, and
 * opening it again only takes another reference. */
static void *aws_sym(const char *name, orc_error *err)
{
	const char *why;
	void *lib, *sym;

	lib = dlopen(CLI_AWS_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		why = dlerror();
		orc_error_set(err, ORC_ENOTSUPPORTED,
			      "the DynamoDB backend needs %s, which cannot "
			      "be loaded: %s", CLI_AWS_SONAME,
			      why ? why : "unknown error");
		return NULL;
	}
	dlerror();
	sym = dlsym(lib, name);
	if (!sym) {
		why = dlerror();
		orc_error_set(err, ORC_ENOTSUPPORTED, "%s has no %s: %s",
			      CLI_AWS_SONAME, name,
			      why ? why : "unknown error");
	}
	return sym;
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
