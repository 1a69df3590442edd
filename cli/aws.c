/*
 * The DynamoDB backend, loaded when first used. It lives in
 * liborchestra-aws, which links libcurl and libcrypto and, through them,
 * some thirty more libraries that take about 10 ms to load. The command
 * links only liborchestra and opens liborchestra-aws when --backend
 * dynamodb or `table` needs it, so runs on SQLite never load them
 * (docs/architecture.md, "Libraries").
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

typedef orc_status (*open_fn)(orc_backend **out,
			      const orc_dynamodb_options *opts,
			      orc_error *err);
typedef orc_status (*create_fn)(const orc_dynamodb_options *opts,
				orc_error *err);
typedef const char *(*version_fn)(void);
_Static_assert(sizeof(open_fn) == sizeof(void *) &&
	       sizeof(create_fn) == sizeof(void *) &&
	       sizeof(version_fn) == sizeof(void *),
	       "function and object pointers convert (POSIX dlsym)");

/* liborchestra-aws from the directory of the liborchestra this process
 * loaded, so the two come from one install whatever the search path
 * (and whoever calls dlopen: a sanitizer intercepts it, and the loader
 * then uses the interceptor's RUNPATH instead of ours); else by SONAME
 * through the usual search. NULL with @p why set (dlerror's text, good
 * until the next dl call) when neither loads. */
static void *aws_open(const char **why)
{
	version_fn core = orc_version;
	char path[4096];
	const char *slash;
	void *addr, *lib;
	Dl_info info;

	memcpy(&addr, &core, sizeof(addr));
	if (dladdr(addr, &info) && info.dli_fname &&
	    (slash = strrchr(info.dli_fname, '/')) != NULL &&
	    snprintf(path, sizeof(path), "%.*s/%s",
		     (int)(slash - info.dli_fname), info.dli_fname,
		     CLI_AWS_SONAME) < (int)sizeof(path)) {
		lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (lib)
			return lib;
		/* There but unusable: say why, rather than load another. */
		if (access(path, F_OK) == 0) {
			*why = dlerror();
			return NULL;
		}
	}
	lib = dlopen(CLI_AWS_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		*why = dlerror();
	return lib;
}

/* Function @p name of liborchestra-aws, or NULL with @p err set. The
 * library is never closed: backends opened from it live until exit, and
 * opening it again only takes another reference. */
static void *aws_sym(const char *name, orc_error *err)
{
	const char *why = NULL;
	void *lib, *sym;

	lib = aws_open(&why);
	if (!lib) {
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
