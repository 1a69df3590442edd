/*
 * orc_http_options_init(): built with or without the http part, so that
 * a binding can fill the options either way.
 */
#include "orchestra/http.h"

ORC_API orc_status orc_http_options_init(orc_http_options *opts,
					 unsigned int version)
{
	static const orc_http_options def = ORC_HTTP_OPTIONS_INIT;

	if (!opts || version != ORC_HTTP_OPTIONS_VERSION)
		return ORC_EINVAL;
	*opts = def;
	return ORC_OK;
}
