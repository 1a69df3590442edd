/*
 * liborchestra-http without libmicrohttpd (the 'http' feature found
 * none): the listener's functions say ORC_ENOTSUPPORTED, so a program
 * linking liborchestra-http builds whatever the build's options.
 */
#include "internal.h"
#include "orchestra/http.h"

ORC_API orc_status orc_http_server_start(orc_http_server **out,
					 orc_http_api *api,
					 const char *listen, int *port_out,
					 orc_error *err)
{
	(void)api;
	(void)listen;
	(void)port_out;
	if (out)
		*out = NULL;
	return orc_error_set(err, ORC_ENOTSUPPORTED, "this liborchestra-http "
			     "was built without libmicrohttpd");
}

ORC_API void orc_http_server_stop(orc_http_server *server)
{
	(void)server;
}
