/*
 * Built instead of sqlite.c when the sqlite feature is off, so the public
 * constructor exists in every build and reports why it cannot work.
 */
#include "internal.h"
#include "orchestra/backends.h"

ORC_API orc_status orc_sqlite_backend_open(orc_backend **out, const char *path,
					   const orc_sqlite_options *opts,
					   orc_error *err)
{
	ORC_UNUSED(path);
	ORC_UNUSED(opts);
	if (out)
		*out = NULL;
	return orc_error_set(err, ORC_ENOTSUPPORTED, "sqlite backend: "
			     "liborchestra was built without SQLite");
}
