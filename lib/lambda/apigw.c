/*
 * The HTTP API behind Amazon API Gateway: a proxy event (REST API v1,
 * or HTTP API v2 with "version": "2.0") becomes an orc_http_request for
 * the same routes as `orchestra serve` (lib/http/api.c), and the
 * response a proxy response. docs/http.md, "On AWS".
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "http/http.h"
#include "internal.h"

/* A header's value, whatever its case (v2 lowercases, v1 keeps the
 * client's spelling). */
static const char *header(json_t *headers, const char *name)
{
	const char *key;
	json_t *v;

	json_object_foreach(headers, key, v)
		if (strcasecmp(key, name) == 0 && json_is_string(v))
			return json_string_value(v);
	return NULL;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decode base64 (padding optional); NULL when malformed. */
static char *b64decode(const char *s, size_t *len_out)
{
	size_t n = strlen(s), i, o = 0;
	unsigned acc = 0;
	int bits = 0, v;
	char *out = malloc(n / 4 * 3 + 4);

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '=')
			break;
		if ((v = b64val((unsigned char)s[i])) < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xffu);
		}
	}
	out[o] = '\0';
	*len_out = o;
	return out;
}

/* The route's path: v2's rawPath carries the stage when it is not
 * $default; v1's path is already without it. */
static const char *route_path(json_t *ev, int v2)
{
	json_t *rc = json_object_get(ev, "requestContext");
	const char *path = json_string_value(json_object_get(ev,
		v2 ? "rawPath" : "path"));
	const char *stage = json_string_value(json_object_get(rc, "stage"));
	size_t n;

	if (!path || !v2 || !stage || strcmp(stage, "$default") == 0)
		return path;
	n = strlen(stage);
	if (path[0] == '/' && strncmp(path + 1, stage, n) == 0 &&
	    (path[n + 1] == '/' || path[n + 1] == '\0'))
		return path[n + 1] ? path + n + 1 : "/";
	return path;
}

static json_t *proxy_response(const orc_http_response *resp)
{
	json_t *h = json_object(), *doc;
	size_t i;

	for (i = 0; i < ORC__HTTP_NHEADERS; i++)
		json_object_set_new(h, orc__http_headers[i][0],
				    json_string(orc__http_headers[i][1]));
	json_object_set_new(h, "Content-Type", json_string(
		resp->content_type ? resp->content_type : "application/json"));
	json_object_set_new(h, "Cache-Control", json_string("no-store"));
	if (resp->allow_origin) {
		json_object_set_new(h, "Access-Control-Allow-Origin",
				    json_string(resp->allow_origin));
		json_object_set_new(h, "Vary", json_string("Origin"));
		json_object_set_new(h, "Access-Control-Allow-Headers",
				    json_string("Authorization, Content-Type"));
		json_object_set_new(h, "Access-Control-Allow-Methods",
				    json_string("GET, POST, OPTIONS"));
	}
	if (resp->status == 401)
		json_object_set_new(h, "WWW-Authenticate",
				    json_string("Bearer"));
	doc = json_pack("{s:i, s:o, s:s#, s:b}", "statusCode", resp->status,
			"headers", h, "body", resp->body ? resp->body : "",
			resp->body ? resp->body_len : (size_t)0,
			"isBase64Encoded", 0);
	return doc;
}

ORC_API orc_status orc_lambda_apigw_handle(char **response_out,
					   orc_http_api *api,
					   const char *event_json,
					   orc_error *err)
{
	orc_http_request req;
	orc_http_response resp;
	json_t *ev, *headers, *doc;
	const char *body, *ver;
	char *decoded = NULL;
	orc_status st;
	int v2;

	ORC_CHECK_ARG(response_out != NULL, err);
	*response_out = NULL;
	ORC_CHECK_ARG(api != NULL && event_json != NULL, err);
	ev = json_loads(event_json, 0, NULL);
	ver = json_string_value(json_object_get(ev, "version"));
	v2 = ver && strcmp(ver, "2.0") == 0;
	memset(&req, 0, sizeof(req));
	req.method = v2 ? json_string_value(json_object_get(json_object_get(
				json_object_get(ev, "requestContext"), "http"),
				"method"))
			: json_string_value(json_object_get(ev, "httpMethod"));
	req.path = route_path(ev, v2);
	if (!json_is_object(ev) || !req.method || !req.path) {
		json_decref(ev);
		return orc_error_set(err, ORC_EINVAL, "not an API Gateway "
				     "proxy event (no method or path)");
	}
	headers = json_object_get(ev, "headers");
	req.authorization = header(headers, "Authorization");
	req.content_type = header(headers, "Content-Type");
	req.origin = header(headers, "Origin");
	body = json_string_value(json_object_get(ev, "body"));
	if (body && json_is_true(json_object_get(ev, "isBase64Encoded"))) {
		decoded = b64decode(body, &req.body_len);
		if (!decoded) {
			json_decref(ev);
			return orc_error_set(err, ORC_EINVAL, "the event's body "
					     "is not base64");
		}
		req.body = decoded;
	} else if (body) {
		req.body = body;
		req.body_len = json_string_length(json_object_get(ev, "body"));
	}
	st = orc_http_api_handle(&resp, api, &req, err);
	free(decoded);
	json_decref(ev);
	if (st != ORC_OK && !resp.body)
		return st;
	doc = proxy_response(&resp);
	orc_http_response_clear(&resp);
	*response_out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!*response_out)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	return ORC_OK;
}
