/*
 * The optional libraries the command opens only when a command needs
 * them: liborchestra-aws (DynamoDB, aws.c) and liborchestra-http (the
 * listener of `serve`, cmd_serve.c). Named in DT_NEEDED they would be
 * loaded, with libcurl or libmicrohttpd and their dependencies, at
 * every start (docs/architecture.md, "Libraries").
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

typedef const char *(*version_fn)(void);
_Static_assert(sizeof(version_fn) == sizeof(void *),
	       "function and object pointers convert (POSIX dlsym)");

/* @p soname from the directory of the liborchestra this process
 * loaded, so they come from one install whatever the search path (and
 * whoever calls dlopen: a sanitizer intercepts it, and the loader then
 * uses the interceptor's RUNPATH instead of ours); else by SONAME
 * through the usual search. NULL with @p why set (dlerror's text, good
 * until the next dl call) when neither loads. */
static void *lib_open(const char *soname, const char **why)
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
		     soname) < (int)sizeof(path)) {
		lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (lib)
			return lib;
		/* There but unusable: say why, rather than load another. */
		if (access(path, F_OK) == 0) {
			*why = dlerror();
			return NULL;
		}
	}
	lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		*why = dlerror();
	return lib;
}

void *cli_dl_sym(const char *soname, const char *name, const char *user,
		 orc_error *err)
{
	const char *why = NULL;
	void *lib, *sym;

	lib = lib_open(soname, &why);
	if (!lib) {
		orc_error_set(err, ORC_ENOTSUPPORTED, "%s needs %s, which "
			      "cannot be loaded: %s", user, soname,
			      why ? why : "unknown error");
		return NULL;
	}
	dlerror();
	sym = dlsym(lib, name);
	if (!sym) {
		why = dlerror();
		orc_error_set(err, ORC_ENOTSUPPORTED, "%s has no %s: %s",
			      soname, name, why ? why : "unknown error");
	}
	return sym;
}
