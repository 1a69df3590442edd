/*
 * The HTTP listener on libmicrohttpd (docs/http.md says why that
 * library): a thread per connection, request bodies bounded, the
 * routes of api.c, and GET /events, the live updates as Server-Sent
 * Events (live.c makes the messages).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "http.h"
#include "internal.h"
#include "live.h"

#define CONNECTION_LIMIT 64
#define IDLE_TIMEOUT_S 60

struct orc_http_server {
	struct MHD_Daemon *mhd;
	orc_http_api *api;
	int loopback;
	atomic_int stopping;
};

/* One request's state between libmicrohttpd's calls. */
typedef struct conn {
	char *body;
	size_t len;
	int too_big;
} conn;

/* Keep the path as sent: ids may hold '/' as %2F, so segments are
 * decoded after the split (api.c). */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	conn *st = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (st) {
		free(st->body);
		free(st);
		*con_cls = NULL;
	}
}

static void add_headers(struct MHD_Response *r, const char *type)
{
	size_t i;

	for (i = 0; i < ORC__HTTP_NHEADERS; i++)
		MHD_add_response_header(r, orc__http_headers[i][0],
					orc__http_headers[i][1]);
	if (type)
		MHD_add_response_header(r, "Content-Type", type);
}

static enum MHD_Result send_response(struct MHD_Connection *c,
				     orc_http_response *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (resp->body)
		r = MHD_create_response_from_buffer(resp->body_len, resp->body,
						    MHD_RESPMEM_MUST_FREE);
	else
		r = MHD_create_response_from_buffer(0, (void *)"",
						    MHD_RESPMEM_PERSISTENT);
	if (!r) {
		orc_http_response_clear(resp);
		return MHD_NO;
	}
	resp->body = NULL; /* the response owns it now */
	add_headers(r, resp->content_type);
	MHD_add_response_header(r, "Cache-Control", resp->cache_immutable ?
				"max-age=300" : "no-store");
	if (resp->allow_origin) {
		MHD_add_response_header(r, "Access-Control-Allow-Origin",
					resp->allow_origin);
		MHD_add_response_header(r, "Vary", "Origin");
		MHD_add_response_header(r, "Access-Control-Allow-Headers",
					"Authorization, Content-Type");
		MHD_add_response_header(r, "Access-Control-Allow-Methods",
					"GET, POST, OPTIONS");
	}
	if (resp->status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	ret = MHD_queue_response(c, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status,
				  orc_status st, const char *field,
				  const char *message)
{
	orc_http_response resp;

	memset(&resp, 0, sizeof(resp));
	resp.status = status;
	resp.content_type = "application/json";
	resp.body = orc__http_error_doc(st, field, message);
	resp.body_len = resp.body ? strlen(resp.body) : 0;
	return send_response(c, &resp);
}

/* On loopback, only loopback names: a page whose DNS name was rebound
 * to 127.0.0.1 sends its own name here and is refused. */
static int host_ok(const char *host)
{
	static const char *const ok[] = { "localhost", "[::1]" };
	size_t i, n;

	if (!host)
		return 0;
	if (strncmp(host, "127.", 4) == 0) {
		n = strspn(host, "0123456789.");
		return host[n] == '\0' || host[n] == ':';
	}
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		n = strlen(ok[i]);
		if (strncasecmp(host, ok[i], n) == 0 &&
		    (host[n] == '\0' || host[n] == ':'))
			return 1;
	}
	return 0;
}

/* SSE: the stream's state, freed when the connection ends. */
typedef struct stream {
	orc_http_server *srv;
	orc__live *live;
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	stream *s = cls;
	size_t n;

	(void)pos;
	n = orc__live_next(s->live, buf, max, &s->srv->stopping);
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_free(void *cls)
{
	stream *s = cls;

	orc__live_free(s->live);
	free(s);
}

static enum MHD_Result events(orc_http_server *srv, struct MHD_Connection *c)
{
	const char *raw = MHD_lookup_connection_value(c,
		MHD_GET_ARGUMENT_KIND, "workflowId");
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *wf_id = NULL;
	stream *s;

	if (raw && !(wf_id = orc__http_decode(raw, strlen(raw))))
		return send_error(c, 400, ORC_EINVAL, "workflowId", "bad "
				  "percent-encoding");
	s = calloc(1, sizeof(*s));
	if (!s || !(s->live = orc__live_create(srv->api, wf_id))) {
		free(s);
		free(wf_id);
		return send_error(c, 500, ORC_ENOMEM, NULL, "out of memory");
	}
	free(wf_id);
	s->srv = srv;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
					      stream_read, s, stream_free);
	if (!r) {
		stream_free(s);
		return MHD_NO;
	}
	add_headers(r, "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version,
				  const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	orc_http_server *srv = cls;
	orc_http_request req;
	orc_http_response resp;
	conn *st = *con_cls;
	const char *len_hdr;

	(void)version;
	if (!st) {
		if (srv->loopback && !host_ok(MHD_lookup_connection_value(c,
				MHD_HEADER_KIND, "Host")))
			return send_error(c, 403, ORC_EAUTH, "Host", "this "
					  "server answers loopback names only");
		len_hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      "Content-Length");
		/* Refused before a byte of the body is read. */
		if (len_hdr && strtoull(len_hdr, NULL, 10) >
		    srv->api->max_body)
			return send_error(c, 413, ORC_ETOOBIG, "body", "the "
					  "body is over the server's limit");
		st = calloc(1, sizeof(*st));
		if (!st)
			return MHD_NO;
		*con_cls = st;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		if (!st->too_big && n <= srv->api->max_body - st->len) {
			char *p = realloc(st->body, st->len + n + 1);

			if (!p)
				return MHD_NO;
			memcpy(p + st->len, upload_data, n);
			st->body = p;
			st->len += n;
			st->body[st->len] = '\0';
		} else {
			st->too_big = 1; /* read and dropped */
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (st->too_big)
		return send_error(c, 413, ORC_ETOOBIG, "body", "the body is "
				  "over the server's limit");
	if (strcmp(url, "/events") == 0 && strcmp(method, "GET") == 0)
		return events(srv, c);
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = url;
	req.body = st->body;
	req.body_len = st->len;
	req.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							"Authorization");
	req.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						       "Content-Type");
	req.origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						 "Origin");
	if (orc_http_api_handle(&resp, srv->api, &req, NULL) != ORC_OK &&
	    !resp.body)
		return send_error(c, 500, ORC_ENOMEM, NULL, "out of memory");
	return send_response(c, &resp);
}

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr)
			>> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
			&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

/* "HOST:PORT" or "[V6]:PORT", numeric only: a name would be resolved
 * to an address nobody checked. */
static orc_status parse_listen(struct sockaddr_storage *out, const char *s,
			       orc_error *err)
{
	char host[64], *end;
	const char *colon, *h = s;
	struct addrinfo hints, *ai = NULL;
	unsigned long port;
	size_t n;
	int rc;

	colon = strrchr(s, ':');
	if (!colon)
		return orc_error_set(err, ORC_EINVAL, "listen address '%s' is "
				     "not HOST:PORT", s);
	n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		h = s + 1;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		return orc_error_set(err, ORC_EINVAL, "listen address '%s' has "
				     "no host", s);
	memcpy(host, h, n);
	host[n] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port > 65535)
		return orc_error_set(err, ORC_EINVAL, "listen address '%s': "
				     "bad port", s);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc != 0 || !ai || ai->ai_addrlen > sizeof(*out)) {
		if (ai)
			freeaddrinfo(ai);
		return orc_error_set(err, ORC_EINVAL, "listen address '%s': "
				     "'%s' is not a numeric IP address", s,
				     host);
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (out->ss_family == AF_INET)
		((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)out)->sin6_port =
			htons((uint16_t)port);
	return ORC_OK;
}

ORC_API orc_status orc_http_server_start(orc_http_server **out,
					 orc_http_api *api,
					 const char *listen, int *port_out,
					 orc_error *err)
{
	struct sockaddr_storage sa;
	const union MHD_DaemonInfo *info;
	orc_http_server *srv;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD |
			     MHD_USE_THREAD_PER_CONNECTION;
	orc_status st;

	ORC_CHECK_ARG(out != NULL, err);
	*out = NULL;
	ORC_CHECK_ARG(api != NULL && listen != NULL, err);
	if ((st = parse_listen(&sa, listen, err)) != ORC_OK)
		return st;
	if (!is_loopback((struct sockaddr *)&sa) && !api->token)
		return orc_error_set(err, ORC_EINVAL, "listening on %s, beyond "
				     "loopback, needs a token", listen);
	srv = orc__calloc(1, sizeof(*srv));
	if (!srv)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	srv->api = api;
	srv->loopback = is_loopback((struct sockaddr *)&sa);
	atomic_init(&srv->stopping, 0);
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
		MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
		MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
		MHD_OPTION_END);
	if (!srv->mhd) {
		int e = errno;

		orc_free(srv);
		st = orc_error_set(err, ORC_ERROR, "cannot listen on %s: %s",
				   listen, e ? strerror(e) : "libmicrohttpd "
				   "refused");
		if (err)
			err->detail = e;
		return st;
	}
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	if (port_out)
		*port_out = info ? (int)info->port : 0;
	*out = srv;
	return ORC_OK;
}

ORC_API void orc_http_server_stop(orc_http_server *srv)
{
	if (!srv)
		return;
	/* Live streams see the flag within their poll slice and end, so
	 * the daemon's join of their threads returns. */
	atomic_store(&srv->stopping, 1);
	MHD_stop_daemon(srv->mhd);
	orc_free(srv);
}
