/*
 * The Lambda Runtime API loop (provided.al2023): GET invocation/next (a
 * long poll, no timeout), call the handler, POST invocation/{id}/response
 * or invocation/{id}/error, again. One reused curl handle (aws/http.c)
 * keeps the connection to the local Runtime API alive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "aws/buf.h"
#include "aws/http.h"
#include "aws/sigv4.h"
#include "lambda/options.h"
#include "orchestra/lambda.h"

#define API_VERSION "2018-06-01"
#define ERROR_TYPE_HEADER "Lambda-Runtime-Function-Error-Type"
#define TRACE_ENV "_X_AMZN_TRACE_ID"
/* Posting to the local Runtime API never takes long. */
#define POST_TIMEOUT_MS 30000

/* The invocation headers of the last GET next; "" when absent. */
enum { H_ID, H_DEADLINE, H_ARN, H_TRACE, H_CLIENT, H_COGNITO, H_COUNT };

static const char *const header_names[H_COUNT] = {
	"Lambda-Runtime-Aws-Request-Id",
	"Lambda-Runtime-Deadline-Ms",
	"Lambda-Runtime-Invoked-Function-Arn",
	"Lambda-Runtime-Trace-Id",
	"Lambda-Runtime-Client-Context",
	"Lambda-Runtime-Cognito-Identity",
};

typedef struct rt {
	orc__http http;
	orc__http_resp resp;
	orc__buf base;            /* "http://<api>/2018-06-01/runtime/" */
	orc__buf url;
	orc__buf hdr[H_COUNT];
	int have[H_COUNT];
	int capture;              /* only GET next's headers are kept */
	int hdr_oom;
} rt;

static void on_header(const char *line, size_t len, void *ud)
{
	rt *r = ud;
	const char *v;
	size_t i, n;

	if (!r->capture)
		return;
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		for (i = 0; i < H_COUNT; i++) {
			orc__buf_reset(&r->hdr[i]);
			r->have[i] = 0;
		}
		return;
	}
	for (i = 0; i < H_COUNT; i++) {
		if (!orc__http_header_is(line, len, header_names[i], &v, &n))
			continue;
		orc__buf_reset(&r->hdr[i]);
		orc__buf_add(&r->hdr[i], v, n);
		orc__buf_add(&r->hdr[i], "", 0);
		if (r->hdr[i].oom)
			r->hdr_oom = 1;
		r->have[i] = 1;
		return;
	}
}

static void rt_clear(rt *r)
{
	size_t i;

	orc__http_clear(&r->http);
	orc__http_resp_clear(&r->resp);
	orc__buf_free(&r->base);
	orc__buf_free(&r->url);
	for (i = 0; i < H_COUNT; i++)
		orc__buf_free(&r->hdr[i]);
}

static orc_status rt_init(rt *r, const char *api, orc_error *err)
{
	orc_status st;

	memset(r, 0, sizeof(*r));
	if (!api)
		api = getenv("AWS_LAMBDA_RUNTIME_API");
	if (!api || !*api)
		return orc_error_set(err, ORC_EINVAL, "no Runtime API address: "
				     "AWS_LAMBDA_RUNTIME_API is not set");
	if (strstr(api, "://"))
		return orc_error_set(err, ORC_EINVAL, "Runtime API address "
				     "%.100s: host:port expected, not a URL",
				     api);
	st = orc__http_init(&r->http, 0, POST_TIMEOUT_MS, err);
	if (st != ORC_OK)
		return st;
	r->resp.on_header = on_header;
	r->resp.on_header_ud = r;
	orc__buf_printf(&r->base, "http://%s/" API_VERSION "/runtime/", api);
	if (r->base.oom) {
		rt_clear(r);
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	}
	return ORC_OK;
}

/* base + @p what, with the request id percent-encoded when given. */
static const char *rt_url(rt *r, const char *id, const char *what)
{
	orc__buf_reset(&r->url);
	orc__buf_add(&r->url, r->base.data, r->base.len);
	if (id) {
		orc__buf_puts(&r->url, "invocation/");
		orc__aws_uri_encode(&r->url, id, strlen(id), 0);
		orc__buf_putc(&r->url, '/');
	}
	orc__buf_puts(&r->url, what);
	return r->url.oom ? NULL : r->url.data;
}

/* The Runtime API answered something a runtime cannot go on after. */
static orc_status api_failed(rt *r, const char *what, orc_error *err)
{
	orc_status st = orc_error_set(err, ORC_EBACKEND,
				      "Lambda Runtime API %s: HTTP %ld", what,
				      r->resp.status);

	if (err) {
		err->detail = (int)r->resp.status;
		orc__strlcpy(err->source, "lambda", sizeof(err->source));
	}
	return st;
}

/* A header value made safe for a header line: printable ASCII only. */
static void header_safe(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < cap; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '_';
	dst[i] = '\0';
}

/* POST {"errorMessage", "errorType", "stackTrace": []} to @p url. */
static orc_status post_error(rt *r, const char *url, const char *message,
			     const char *type, orc_error *err)
{
	char line[sizeof(ERROR_TYPE_HEADER) + 96], safe[80];
	const char *hdrs[3];
	json_t *j;
	char *body;
	orc_status st;

	header_safe(safe, sizeof(safe), type);
	snprintf(line, sizeof(line), ERROR_TYPE_HEADER ": %s", safe);
	j = json_pack("{s:s, s:s, s:[]}", "errorMessage", message,
		      "errorType", safe, "stackTrace");
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!body)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	hdrs[0] = line;
	hdrs[1] = "Content-Type: application/json";
	hdrs[2] = NULL;
	r->http.timeout_ms = POST_TIMEOUT_MS;
	st = orc__http_do(&r->http, &r->resp, "POST", url, hdrs, body,
			  strlen(body), err);
	free(body);
	return st;
}

/* The error of a failed handler call, as Lambda wants it. */
static orc_status post_handler_error(rt *r, const char *id, orc_status code,
				     orc_error *herr, orc_error *err)
{
	const char *url = rt_url(r, id, "error");

	if (!url)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	/* A handler that failed without filling its error. */
	if (herr->code == ORC_OK) {
		char type[sizeof(herr->type)];

		memcpy(type, herr->type, sizeof(type));
		orc_error_set(herr, code, NULL);
		memcpy(herr->type, type, sizeof(type));
	}
	if (!herr->message[0])
		orc__strlcpy(herr->message, orc_strerror(herr->code),
			     sizeof(herr->message));
	return post_error(r, url, herr->message, orc_lambda_error_type(herr),
			  err);
}

static orc_status post_response(rt *r, const char *id, const char *body,
				orc_error *err)
{
	static const char *const hdrs[] = {
		"Content-Type: application/json", NULL
	};
	const char *url = rt_url(r, id, "response");

	if (!url)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	r->http.timeout_ms = POST_TIMEOUT_MS;
	return orc__http_do(&r->http, &r->resp, "POST", url, hdrs, body,
			    strlen(body), err);
}

static const char *hdr(rt *r, int i)
{
	return r->have[i] ? r->hdr[i].data : NULL;
}

/* One invocation: ORC_OK when the loop may go on. */
static orc_status one(rt *r, orc_lambda_handler_fn fn, void *userdata,
		      orc_error *err)
{
	orc_lambda_context ctx;
	orc_error herr;
	orc__buf event = ORC__BUF_INIT;
	char *out = NULL;
	const char *url;
	orc_status st, hst;

	url = rt_url(r, NULL, "invocation/next");
	if (!url)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	r->hdr_oom = 0;
	/* A long poll: Lambda answers when an event comes. */
	r->http.timeout_ms = 0;
	r->capture = 1;
	st = orc__http_do(&r->http, &r->resp, "GET", url, NULL, NULL, 0, err);
	r->capture = 0;
	if (st != ORC_OK)
		return st;
	if (r->hdr_oom)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	if (r->resp.status != 200)
		return api_failed(r, "invocation/next", err);
	if (!hdr(r, H_ID) || !*hdr(r, H_ID))
		return orc_error_set(err, ORC_EBACKEND, "Lambda Runtime API "
				     "invocation/next: no request id");
	/* The event leaves the response buffer, which the posts reuse. */
	event = r->resp.body;
	memset(&r->resp.body, 0, sizeof(r->resp.body));

	memset(&ctx, 0, sizeof(ctx));
	ctx.request_id = hdr(r, H_ID);
	ctx.deadline_ms = hdr(r, H_DEADLINE) ? strtoll(hdr(r, H_DEADLINE),
						       NULL, 10) : 0;
	ctx.function_arn = hdr(r, H_ARN) ? hdr(r, H_ARN) : "";
	ctx.trace_id = hdr(r, H_TRACE);
	ctx.client_context = hdr(r, H_CLIENT);
	ctx.cognito_identity = hdr(r, H_COGNITO);
	if (ctx.trace_id)
		st = setenv(TRACE_ENV, ctx.trace_id, 1) == 0
		     ? ORC_OK : ORC_ENOMEM;
	else
		st = unsetenv(TRACE_ENV) == 0 ? ORC_OK : ORC_ENOMEM;
	if (st != ORC_OK) {
		orc__buf_free(&event);
		return orc_error_set(err, st, "setting " TRACE_ENV " failed");
	}

	memset(&herr, 0, sizeof(herr));
	hst = fn(event.data, event.len, &ctx, userdata, &out, &herr);
	orc__buf_free(&event);
	if (hst == ORC_OK && !out)
		hst = orc_error_set(&herr, ORC_EINVAL, "the handler returned "
				    "ORC_OK without a response");
	if (hst == ORC_OK) {
		st = post_response(r, ctx.request_id, out, err);
		if (st == ORC_OK && r->resp.status == 413) {
			orc_error_set(&herr, ORC_ETOOBIG, "response of %zu "
				      "bytes refused as too large",
				      strlen(out));
			st = post_handler_error(r, ctx.request_id,
						ORC_ETOOBIG, &herr, err);
		}
	} else {
		st = post_handler_error(r, ctx.request_id, hst, &herr, err);
	}
	orc_free(out);
	if (st != ORC_OK)
		return st;
	/* 4xx: this invocation is lost, the next may be fine; 5xx: exit. */
	if (r->resp.status >= 500)
		return api_failed(r, hst == ORC_OK ? "response" : "error",
				  err);
	return ORC_OK;
}

ORC_API orc_status orc_lambda_runtime_run(
	orc_lambda_handler_fn fn, void *userdata,
	const orc_lambda_runtime_options *opts, orc_error *err)
{
	orc_lambda_runtime_options o;
	rt r;
	orc_status st;
	int n;

	ORC_CHECK_ARG(fn != NULL, err);
	if ((st = orc__lambda_runtime_options_read(&o, opts, err)) != ORC_OK)
		return st;
	ORC_CHECK_ARG(o.max_invocations >= 0, err);
	st = rt_init(&r, o.api, err);
	if (st != ORC_OK)
		return st;
	for (n = 0; o.max_invocations == 0 || n < o.max_invocations; n++) {
		st = one(&r, fn, userdata, err);
		if (st != ORC_OK)
			break;
	}
	rt_clear(&r);
	return st;
}

ORC_API orc_status orc_lambda_runtime_init_error(const char *api,
						 const orc_error *cause,
						 orc_error *err)
{
	orc_error e;
	rt r;
	const char *url;
	orc_status st;

	if (cause && cause->code != ORC_OK)
		e = *cause;
	else
		orc_error_set(&e, ORC_ERROR, "initialisation failed");
	if (!e.message[0])
		orc__strlcpy(e.message, orc_strerror(e.code),
			     sizeof(e.message));
	st = rt_init(&r, api, err);
	if (st != ORC_OK)
		return st;
	url = rt_url(&r, NULL, "init/error");
	st = url ? post_error(&r, url, e.message, orc_lambda_error_type(&e),
			      err)
		 : orc_error_set(err, ORC_ENOMEM, "out of memory");
	if (st == ORC_OK && (r.resp.status < 200 || r.resp.status >= 300))
		st = api_failed(&r, "init/error", err);
	rt_clear(&r);
	return st;
}
