/*
 * The API behind API Gateway (orc_lambda_apigw_handle): REST v1 and
 * HTTP API v2 proxy events answered by the same routes as the
 * listener, on the memory backend (the routes' store is not what is
 * tested here; tests/http/test_http.c runs them on SQLite and
 * DynamoDB).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "orchestra/backends.h"
#include "orchestra/http.h"
#include "support/check.h"

#define TOKEN "apigw-token"

static orc_backend *backend;
static orc_http_api *api;

/* Answer @p event; returns the proxy response's statusCode and its body
 * parsed in *body (NULL when not JSON). */
static int call(const char *event, json_t **body, json_t **headers)
{
	char *resp = NULL;
	json_t *doc;
	int code;

	CHECK(ORC_OK, orc_lambda_apigw_handle(&resp, api, event, E));
	doc = json_loads(resp, 0, NULL);
	orc_free(resp);
	assert_non_null(doc);
	assert_true(json_is_false(json_object_get(doc, "isBase64Encoded")));
	code = (int)json_integer_value(json_object_get(doc, "statusCode"));
	if (body)
		*body = json_loads(json_string_value(json_object_get(doc,
			"body")), JSON_DECODE_ANY, NULL);
	if (headers)
		*headers = json_incref(json_object_get(doc, "headers"));
	json_decref(doc);
	return code;
}

static const char wf[] = "{\"workflowId\": \"gw-1\", \"lambdas\": "
	"{\"A\": \"arn:aws:lambda:us-east-1:123456789012:function:t\"}, "
	"\"graph\": [{\"taskId\": \"A\", \"dependsOn\": []}]}";

/* A v1 (REST API) event: POST with the body base64-encoded as API
 * Gateway sends binary media, then GET of the list. */
static void test_rest_v1(void **state)
{
	char ev[2048], b64[512];
	json_t *body, *h;
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, n = strlen(wf), o = 0;

	(void)state;
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)wf[i] << 16;

		if (i + 1 < n)
			v |= (unsigned char)wf[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)wf[i + 2];
		b64[o++] = tbl[(v >> 18) & 63];
		b64[o++] = tbl[(v >> 12) & 63];
		b64[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		b64[o++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	b64[o] = '\0';
	snprintf(ev, sizeof(ev), "{\"resource\": \"/{proxy+}\", \"path\": "
		 "\"/workflows\", \"httpMethod\": \"POST\", \"headers\": "
		 "{\"content-type\": \"application/json\", \"Authorization\": "
		 "\"Bearer " TOKEN "\"}, \"requestContext\": {\"stage\": "
		 "\"Prod\"}, \"body\": \"%s\", \"isBase64Encoded\": true}", b64);
	assert_int_equal(call(ev, &body, &h), 202);
	assert_string_equal(json_string_value(json_object_get(body,
		"workflowId")), "gw-1");
	assert_string_equal(json_string_value(json_object_get(h,
		"X-Content-Type-Options")), "nosniff");
	assert_null(json_object_get(h, "Access-Control-Allow-Origin"));
	json_decref(body);
	json_decref(h);
	assert_int_equal(call("{\"path\": \"/workflows\", \"httpMethod\": "
			      "\"GET\", \"headers\": null, \"body\": null}",
			      &body, NULL), 200);
	assert_int_equal(json_array_size(body), 1);
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(body, 0), "status")), "RUNNING");
	json_decref(body);
}

/* A v2 (HTTP API) event under a named stage: the stage is not part of
 * the route; no token, no start. */
static void test_http_v2(void **state)
{
	json_t *body, *h;

	(void)state;
	assert_int_equal(call("{\"version\": \"2.0\", \"rawPath\": "
		"\"/prod/workflows/gw-1\", \"requestContext\": {\"stage\": "
		"\"prod\", \"http\": {\"method\": \"GET\"}}, \"headers\": "
		"{\"origin\": \"https://dash.example\"}}", &body, &h), 200);
	assert_string_equal(json_string_value(json_object_get(body,
		"workflowId")), "gw-1");
	assert_true(json_is_array(json_object_get(json_object_get(body,
		"dag"), "A")));
	assert_string_equal(json_string_value(json_object_get(h,
		"Access-Control-Allow-Origin")), "https://dash.example");
	json_decref(body);
	json_decref(h);
	assert_int_equal(call("{\"version\": \"2.0\", \"rawPath\": "
		"\"/workflows/gw-1/cancel\", \"requestContext\": {\"stage\": "
		"\"$default\", \"http\": {\"method\": \"POST\"}}, \"headers\": "
		"{\"content-type\": \"application/json\"}, \"body\": \"{}\"}",
		&body, &h), 401);
	assert_string_equal(json_string_value(json_object_get(body, "field")),
			    "Authorization");
	assert_string_equal(json_string_value(json_object_get(h,
		"WWW-Authenticate")), "Bearer");
	json_decref(body);
	json_decref(h);
	/* Still running: the refused cancel changed nothing. */
	assert_int_equal(call("{\"version\": \"2.0\", \"rawPath\": "
		"\"/workflows/gw-1\", \"requestContext\": {\"http\": "
		"{\"method\": \"GET\"}}}", &body, NULL), 200);
	assert_string_equal(json_string_value(json_object_get(body, "status")),
			    "RUNNING");
	json_decref(body);
	/* The dashboard is served there too. */
	assert_int_equal(call("{\"version\": \"2.0\", \"rawPath\": \"/prod/\","
		" \"requestContext\": {\"stage\": \"prod\", \"http\": "
		"{\"method\": \"GET\"}}}", NULL, &h), 200);
	assert_string_equal(json_string_value(json_object_get(h,
		"Content-Type")), "text/html; charset=utf-8");
	json_decref(h);
}

static void test_not_an_event(void **state)
{
	char *resp = (char *)"x";

	(void)state;
	CHECK_MSG(ORC_EINVAL, orc_lambda_apigw_handle(&resp, api,
						      "{\"hello\": 1}", E));
	assert_null(resp);
	CHECK_MSG(ORC_EINVAL, orc_lambda_apigw_handle(&resp, api,
						      "not json", E));
	CHECK_MSG(ORC_EINVAL, orc_lambda_apigw_handle(&resp, api,
		"{\"path\": \"/workflows\", \"httpMethod\": \"POST\", "
		"\"body\": \"@@@\", \"isBase64Encoded\": true}", E));
}

static int setup(void **state)
{
	orc_http_options ho = ORC_HTTP_OPTIONS_INIT;
	orc_error err;

	(void)state;
	ho.token = TOKEN;
	ho.allow_origin = "https://dash.example";
	if (orc_memory_backend_create(&backend, NULL, &err) != ORC_OK)
		return -1;
	return orc_http_api_create(&api, backend, &ho, &err) == ORC_OK ? 0
									 : -1;
}

static int teardown(void **state)
{
	(void)state;
	orc_http_api_free(api);
	orc_backend_free(backend);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rest_v1),
		cmocka_unit_test(test_http_v2),
		cmocka_unit_test(test_not_an_event),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
