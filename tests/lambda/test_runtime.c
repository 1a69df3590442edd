/*
 * The Lambda runtime loop and the Invoke client against
 * tests/lambda/fake_lambda.py over loopback HTTP: function "ext" is served
 * by this process's own runtime loop, "echo" and "initfail" by real
 * processes of tests/lambda/echo_handler.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <jansson.h>

#include "orchestra/lambda.h"
#include "fake.h"
#include "dynamodb/loopback.h"

#define ARN_PREFIX "arn:aws:lambda:us-east-1:123456789012:function:"
#define TRACE "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;" \
	      "Parent=9a9197af755a6419;Sampled=1"

static fake_lambda fake;

static int setup(void **state)
{
	const char *bin = getenv("ECHO_HANDLER");
	char echo[1100], initfail[1100];
	const char *args[10];

	(void)state;
	if (!bin) {
		fprintf(stderr, "ECHO_HANDLER is not set\n");
		return -1;
	}
	setenv("AWS_ACCESS_KEY_ID", "AKIDLAMBDATEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "lambda-test-secret", 1);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_LAMBDA");
	unsetenv("AWS_LAMBDA_RUNTIME_API");
	snprintf(echo, sizeof(echo), "echo=%s", bin);
	snprintf(initfail, sizeof(initfail), "initfail=%s", bin);
	args[0] = "--function";
	args[1] = "ext";
	args[2] = "--function";
	args[3] = echo;
	args[4] = "--function";
	args[5] = initfail;
	args[6] = "--function";
	args[7] = "missing=/nonexistent/handler";
	args[8] = NULL;
	return fake_start(&fake, args);
}

static int teardown(void **state)
{
	(void)state;
	fake_stop(&fake);
	return 0;
}

/* Queue an event for "ext"; its request id (malloc'd). */
static char *enqueue(const char *trace, const char *deadline,
		     const char *event)
{
	char th[200], dh[64];
	const char *hdrs[3] = { th, NULL, NULL };
	char *ans;
	json_t *j;
	char *id;

	snprintf(th, sizeof(th), "X-Fake-Trace-Id: %s", trace);
	if (deadline) {
		snprintf(dh, sizeof(dh), "X-Fake-Deadline-Ms: %s", deadline);
		hdrs[1] = dh;
	}
	ans = fake_post(&fake, "/_fake/functions/ext/enqueue", hdrs, event);
	assert_non_null(ans);
	j = json_loads(ans, 0, NULL);
	free(ans);
	assert_non_null(json_object_get(j, "requestId"));
	id = strdup(json_string_value(json_object_get(j, "requestId")));
	json_decref(j);
	return id;
}

/* The fake's record of invocation @p id of @p fn (a new reference). */
static json_t *record(const char *fn, const char *id)
{
	char path[200], *ans;
	json_t *j, *inv, *found = NULL;
	size_t i;

	snprintf(path, sizeof(path), "/_fake/functions/%s", fn);
	ans = fake_get(&fake, path);
	assert_non_null(ans);
	j = json_loads(ans, 0, NULL);
	free(ans);
	json_array_foreach(json_object_get(j, "invocations"), i, inv)
		if (strcmp(json_string_value(json_object_get(inv,
				"requestId")), id) == 0)
			found = json_incref(inv);
	json_decref(j);
	assert_non_null(found);
	return found;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "(none)";
}

typedef struct seen {
	char request_id[64], arn[200], trace[200], env[200], event[64];
	int64_t deadline_ms;
	int have_trace, have_env;
} seen;

typedef struct calls {
	seen s[4];
	int n;
} calls;

static orc_status record_handler(const char *event, size_t len,
				 const orc_lambda_context *ctx, void *ud,
				 char **response_out, orc_error *err)
{
	calls *c = ud;
	seen *s = &c->s[c->n++];
	const char *env = getenv("_X_AMZN_TRACE_ID");

	(void)err;
	assert_int_equal(strlen(event), len);
	snprintf(s->request_id, sizeof(s->request_id), "%s", ctx->request_id);
	snprintf(s->arn, sizeof(s->arn), "%s", ctx->function_arn);
	snprintf(s->event, sizeof(s->event), "%s", event);
	s->deadline_ms = ctx->deadline_ms;
	s->have_trace = ctx->trace_id != NULL;
	if (ctx->trace_id)
		snprintf(s->trace, sizeof(s->trace), "%s", ctx->trace_id);
	s->have_env = env != NULL;
	if (env)
		snprintf(s->env, sizeof(s->env), "%s", env);
	*response_out = orc_malloc(32);
	snprintf(*response_out, 32, "{\"call\":%d}", c->n);
	return ORC_OK;
}

static void t_context(void **state)
{
	orc_lambda_runtime_options o = ORC_LAMBDA_RUNTIME_OPTIONS_INIT;
	calls c;
	orc_error err;
	char *id1, *id2;
	json_t *r;

	(void)state;
	memset(&c, 0, sizeof(c));
	id1 = enqueue(TRACE, "4102444800000", "{\"n\": 1}");
	id2 = enqueue("-", NULL, "{\"n\": 2}");
	o.api = fake_runtime(&fake, "ext", 0);
	o.max_invocations = 2;
	assert_int_equal(orc_lambda_runtime_run(record_handler, &c, &o,
						&err), ORC_OK);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.s[0].request_id, id1);
	assert_true(c.s[0].deadline_ms == 4102444800000LL);
	assert_string_equal(c.s[0].arn, ARN_PREFIX "ext");
	assert_true(c.s[0].have_trace);
	assert_string_equal(c.s[0].trace, TRACE);
	assert_true(c.s[0].have_env);
	assert_string_equal(c.s[0].env, TRACE);
	assert_string_equal(c.s[0].event, "{\"n\": 1}");
	/* No trace id: NULL in the context, the variable unset. */
	assert_string_equal(c.s[1].request_id, id2);
	assert_false(c.s[1].have_trace);
	assert_false(c.s[1].have_env);
	assert_true(c.s[1].deadline_ms > 0);
	r = record("ext", id1);
	assert_string_equal(str(r, "state"), "response");
	assert_string_equal(str(r, "response"), "{\"call\":1}");
	json_decref(r);
	r = record("ext", id2);
	assert_string_equal(str(r, "response"), "{\"call\":2}");
	json_decref(r);
	free(id1);
	free(id2);
}

static orc_status failing_handler(const char *event, size_t len,
				  const orc_lambda_context *ctx, void *ud,
				  char **response_out, orc_error *err)
{
	(void)len;
	(void)ctx;
	(void)ud;
	if (strstr(event, "parse"))
		return orc_error_set(err, ORC_EPARSE, "bad \"event\" at 3");
	if (strstr(event, "custom")) {
		orc_error_set(err, ORC_EUSER, "task failed");
		return orc_lambda_set_error_type(err, "TaskFailed");
	}
	if (strstr(event, "bare"))
		return ORC_ETIMEOUT;
	if (strstr(event, "big")) {
		/* Over the Runtime API's 6 MB: it answers 413. */
		size_t n = 7u << 20;

		*response_out = orc_malloc(n + 1);
		memset(*response_out, ' ', n);
		(*response_out)[0] = '0';
		(*response_out)[n] = '\0';
		return ORC_OK;
	}
	/* "none": ORC_OK without a response; a leftover is freed. */
	*response_out = NULL;
	return ORC_OK;
}

/* The error document and header the fake recorded for @p id. */
static void check_error(const char *id, const char *type, const char *msg)
{
	json_t *r = record("ext", id), *doc;

	assert_string_equal(str(r, "state"), "error");
	assert_string_equal(str(r, "errorType"), type);
	doc = json_loads(str(r, "error"), 0, NULL);
	assert_non_null(doc);
	assert_string_equal(str(doc, "errorType"), type);
	assert_string_equal(str(doc, "errorMessage"), msg);
	assert_true(json_is_array(json_object_get(doc, "stackTrace")));
	json_decref(doc);
	json_decref(r);
}

static void t_handler_errors(void **state)
{
	orc_lambda_runtime_options o = ORC_LAMBDA_RUNTIME_OPTIONS_INIT;
	orc_error err;
	char *ids[5];
	int i;

	(void)state;
	ids[0] = enqueue(TRACE, NULL, "{\"case\": \"parse\"}");
	ids[1] = enqueue(TRACE, NULL, "{\"case\": \"custom\"}");
	ids[2] = enqueue(TRACE, NULL, "{\"case\": \"bare\"}");
	ids[3] = enqueue(TRACE, NULL, "{\"case\": \"none\"}");
	ids[4] = enqueue(TRACE, NULL, "{\"case\": \"big\"}");
	o.api = fake_runtime(&fake, "ext", 0);
	o.max_invocations = 5;
	assert_int_equal(orc_lambda_runtime_run(failing_handler, NULL, &o,
						&err), ORC_OK);
	check_error(ids[0], "ORC_EPARSE", "bad \"event\" at 3");
	check_error(ids[1], "TaskFailed", "task failed");
	check_error(ids[2], "ORC_ETIMEOUT", orc_strerror(ORC_ETIMEOUT));
	check_error(ids[3], "ORC_EINVAL",
		    "the handler returned ORC_OK without a response");
	check_error(ids[4], "ORC_ETOOBIG",
		    "response of 7340032 bytes refused as too large");
	for (i = 0; i < 5; i++)
		free(ids[i]);
}

static void t_error_type(void **state)
{
	orc_error err;

	(void)state;
	orc_error_set(&err, ORC_ECONFLICT, "x");
	assert_string_equal(orc_lambda_error_type(&err), "ORC_ECONFLICT");
	assert_int_equal(orc_lambda_set_error_type(&err, "Bad\nType"),
			 ORC_EINVAL);
	assert_int_equal(orc_lambda_set_error_type(&err, ""), ORC_EINVAL);
	assert_int_equal(orc_lambda_set_error_type(&err, NULL), ORC_EINVAL);
	assert_string_equal(orc_lambda_error_type(&err), "ORC_ECONFLICT");
	assert_int_equal(orc_lambda_set_error_type(&err, "Lock.Lost"),
			 ORC_ECONFLICT);
	assert_string_equal(orc_lambda_error_type(&err), "Lock.Lost");
	/* Setting the error again forgets the type. */
	orc_error_set(&err, ORC_EPARSE, "y");
	assert_string_equal(orc_lambda_error_type(&err), "ORC_EPARSE");
	assert_string_equal(orc_lambda_error_type(NULL), "ORC_ERROR");
}

/* The fake's state of @p fn: a new reference. */
static json_t *fn_state(const char *fn)
{
	char path[200], *ans;
	json_t *j;

	snprintf(path, sizeof(path), "/_fake/functions/%s", fn);
	ans = fake_get(&fake, path);
	assert_non_null(ans);
	j = json_loads(ans, 0, NULL);
	free(ans);
	assert_non_null(j);
	return j;
}

/* A Runtime API that answers as told: the status of /next (with or
 * without a request id), then the status of the post. */
typedef struct scripted {
	int next_status, with_id, post_status;
	int posts;
} scripted;

static void scripted_api(const lb_req *req, lb_resp *resp, void *ud)
{
	scripted *sc = ud;

	if (strcmp(req->method, "GET") == 0) {
		if (sc->with_id)
			snprintf(resp->headers, sizeof(resp->headers),
				 "Lambda-Runtime-Aws-Request-Id: r1\r\n");
		lb_body(resp, sc->next_status, "{}");
		return;
	}
	sc->posts++;
	lb_body(resp, sc->post_status, "{}");
}

static orc_status echo_fn(const char *event, size_t len,
			  const orc_lambda_context *ctx, void *ud,
			  char **response_out, orc_error *err)
{
	(void)ctx;
	(void)ud;
	(void)err;
	*response_out = strndup(event, len);
	return ORC_OK;
}

/* Lambda asks a runtime to exit after 5xx; 4xx loses one invocation. */
static void t_api_failures(void **state)
{
	static const struct {
		scripted sc;
		orc_status want;
		int posts;
	} cases[] = {
		{ { 500, 1, 202, 0 }, ORC_EBACKEND, 0 },  /* next: 500 */
		{ { 200, 0, 202, 0 }, ORC_EBACKEND, 0 },  /* no request id */
		{ { 200, 1, 500, 0 }, ORC_EBACKEND, 1 },  /* response: 500 */
		{ { 200, 1, 400, 0 }, ORC_OK, 2 },        /* response: 400 */
	};
	orc_lambda_runtime_options o = ORC_LAMBDA_RUNTIME_OPTIONS_INIT;
	lb_server *s;
	scripted sc;
	char api[32];
	orc_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sc = cases[i].sc;
		assert_int_equal(lb_start(&s, scripted_api, &sc), 0);
		snprintf(api, sizeof(api), "127.0.0.1:%d", lb_port(s));
		o.api = api;
		o.max_invocations = 2;
		memset(&err, 0, sizeof(err));
		assert_int_equal(orc_lambda_runtime_run(echo_fn, NULL, &o,
							&err), cases[i].want);
		if (cases[i].want != ORC_OK && sc.with_id)
			assert_int_equal(err.detail, 500);
		if (!sc.with_id)
			assert_non_null(strstr(err.message, "no request id"));
		assert_int_equal(sc.posts, cases[i].posts);
		lb_stop(s);
	}
}

static orc_lambda_client *client(void)
{
	orc_lambda_client_options co = ORC_LAMBDA_CLIENT_OPTIONS_INIT;
	orc_lambda_client *c = NULL;
	orc_error err;

	co.endpoint = fake.invoke;
	if (orc_lambda_client_create(&c, &co, &err) != ORC_OK)
		fail_msg("client: %s", err.message);
	return c;
}

/* Invoking @p fn fails at init; the fake recorded @p type. */
static void init_fails(const char *fn, const char *type)
{
	orc_lambda_client *c = client();
	orc_error err;
	char *out = NULL;
	json_t *j;

	assert_int_equal(orc_lambda_invoke(c, fn, ORC_LAMBDA_REQUEST_RESPONSE,
					   "{}", &out, &err), ORC_EUSER);
	assert_non_null(out);
	assert_non_null(strstr(out, "Runtime.InitError"));
	orc_free(out);
	orc_lambda_client_free(c);
	j = fn_state(fn);
	assert_string_equal(str(json_array_get(json_object_get(j,
		"initErrors"), 0), "errorType"), type);
	json_decref(j);
}

static void t_init_error(void **state)
{
	orc_error cause, err;
	json_t *j, *ie, *doc;
	size_t n;

	(void)state;
	orc_error_set(&cause, ORC_EPARSE, "config: bad table name");
	assert_int_equal(orc_lambda_runtime_init_error(
		fake_runtime(&fake, "ext", 0), &cause, &err), ORC_OK);
	j = fn_state("ext");
	n = json_array_size(json_object_get(j, "initErrors"));
	assert_true(n >= 1);
	ie = json_array_get(json_object_get(j, "initErrors"), n - 1);
	assert_string_equal(str(ie, "errorType"), "ORC_EPARSE");
	doc = json_loads(str(ie, "error"), 0, NULL);
	assert_string_equal(str(doc, "errorMessage"),
			    "config: bad table name");
	assert_string_equal(str(doc, "errorType"), "ORC_EPARSE");
	json_decref(doc);
	json_decref(j);

	/* A handler process whose init fails, a binary that cannot run:
	 * the invocation fails with the init error recorded. */
	init_fails("initfail", "Echo.InitError");
	init_fails("missing", "Runtime.InvalidEntrypoint");
}

static void t_bad_api(void **state)
{
	orc_error err;

	(void)state;
	assert_int_equal(orc_lambda_runtime_run(failing_handler, NULL, NULL,
						&err), ORC_EINVAL);
	assert_non_null(strstr(err.message, "AWS_LAMBDA_RUNTIME_API"));
	assert_int_equal(orc_lambda_runtime_init_error(NULL, NULL, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_lambda_runtime_run(NULL, NULL, NULL, &err),
			 ORC_EINVAL);
	{
		orc_lambda_runtime_options o = ORC_LAMBDA_RUNTIME_OPTIONS_INIT;

		/* Port 1 on loopback: nothing listens, the loop ends. */
		o.api = "127.0.0.1:1";
		assert_int_equal(orc_lambda_runtime_run(failing_handler, NULL,
							&o, &err),
				 ORC_EBACKEND);
		o.api = "http://127.0.0.1:1";
		assert_int_equal(orc_lambda_runtime_run(failing_handler, NULL,
							&o, &err),
				 ORC_EINVAL);
	}
}

static void t_invoke_request_response(void **state)
{
	orc_lambda_client *c = client();
	orc_error err;
	char *out = NULL;
	json_t *j;

	(void)state;
	assert_int_equal(orc_lambda_invoke(c, "echo",
					   ORC_LAMBDA_REQUEST_RESPONSE,
					   "{\"hello\": \"world\"}", &out,
					   &err), ORC_OK);
	assert_string_equal(out, "{\"hello\": \"world\"}");
	orc_free(out);
	/* By ARN with a qualifier; the handler sees the ARN invoked. */
	assert_int_equal(orc_lambda_invoke(c, ARN_PREFIX "echo:$LATEST",
					   ORC_LAMBDA_REQUEST_RESPONSE,
					   "{\"context\": true}", &out, &err),
			 ORC_OK);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_string_equal(str(j, "arn"), ARN_PREFIX "echo:$LATEST");
	assert_non_null(strstr(str(j, "traceId"), "Root=1-"));
	assert_string_equal(str(j, "env"), str(j, "traceId"));
	assert_true(json_integer_value(json_object_get(j, "deadlineMs")) >
		    0);
	json_decref(j);
	orc_free(out);
	/* NULL payload is "{}". */
	assert_int_equal(orc_lambda_invoke(c, "echo",
					   ORC_LAMBDA_REQUEST_RESPONSE, NULL,
					   &out, &err), ORC_OK);
	assert_string_equal(out, "{}");
	orc_free(out);
	orc_lambda_client_free(c);
}

static void t_invoke_event(void **state)
{
	orc_lambda_client *c = client();
	orc_error err;
	char *out = NULL;
	json_t *j, *inv;
	size_t i;
	int found = 0, tries;

	(void)state;
	assert_int_equal(orc_lambda_invoke(c, "echo", ORC_LAMBDA_EVENT,
					   "{\"event\": 7}", &out, &err),
			 ORC_OK);
	assert_string_equal(out, "");
	orc_free(out);
	orc_lambda_client_free(c);
	/* The process answers it on its own time. */
	for (tries = 0; tries < 200 && !found; tries++) {
		j = fn_state("echo");
		json_array_foreach(json_object_get(j, "invocations"), i, inv)
			if (strcmp(str(inv, "type"), "Event") == 0 &&
			    strcmp(str(inv, "state"), "response") == 0 &&
			    strcmp(str(inv, "response"), "{\"event\": 7}") == 0)
				found = 1;
		json_decref(j);
		if (!found) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	assert_true(found);
}

/* Invoke "echo" through @p c with @p payload: @p want, and an answer
 * that contains @p needle. */
static void echo_expect(orc_lambda_client *c, const char *payload,
			orc_status want, const char *needle)
{
	orc_error err;
	char *out = NULL;

	assert_int_equal(orc_lambda_invoke(c, "echo",
					   ORC_LAMBDA_REQUEST_RESPONSE,
					   payload, &out, &err), want);
	assert_non_null(out);
	assert_non_null(strstr(out, needle));
	orc_free(out);
}

static void t_function_error(void **state)
{
	orc_lambda_client *c = client();
	orc_error err;
	char *out = NULL;
	json_t *j;
	int starts;

	(void)state;
	assert_int_equal(orc_lambda_invoke(c, "echo",
					   ORC_LAMBDA_REQUEST_RESPONSE,
					   "{\"fail\": \"boom\"}", &out, &err),
			 ORC_EUSER);
	assert_non_null(out);
	j = json_loads(out, 0, NULL);
	assert_string_equal(str(j, "errorMessage"), "boom");
	assert_string_equal(str(j, "errorType"), "ORC_EUSER");
	json_decref(j);
	orc_free(out);
	assert_non_null(strstr(err.message, "echo"));
	assert_non_null(strstr(err.message, "Unhandled"));
	assert_non_null(strstr(err.message, "ORC_EUSER: boom"));
	/* NULL response_out: the payload is dropped, the error stays. */
	assert_int_equal(orc_lambda_invoke(c, "echo",
					   ORC_LAMBDA_REQUEST_RESPONSE,
					   "{\"fail\": \"again\"}", NULL, &err),
			 ORC_EUSER);

	/* The process dies: Runtime.ExitError, then a new process. */
	j = fn_state("echo");
	starts = (int)json_integer_value(json_object_get(j, "starts"));
	json_decref(j);
	echo_expect(c, "{\"exit\": true}", ORC_EUSER, "Runtime.ExitError");
	echo_expect(c, "[1]", ORC_OK, "[1]");
	j = fn_state("echo");
	assert_int_equal(json_integer_value(json_object_get(j, "starts")),
			 starts + 1);
	json_decref(j);

	assert_int_equal(orc_lambda_invoke(c, "nope",
					   ORC_LAMBDA_REQUEST_RESPONSE, "{}",
					   &out, &err), ORC_ENOTFOUND);
	assert_null(out);
	assert_non_null(strstr(err.message, "ResourceNotFoundException"));
	assert_int_equal(orc_lambda_invoke(c, "", ORC_LAMBDA_EVENT, "{}",
					   &out, &err), ORC_EINVAL);
	assert_int_equal(orc_lambda_invoke(NULL, "echo", ORC_LAMBDA_EVENT,
					   "{}", &out, &err), ORC_EINVAL);
	orc_lambda_client_free(c);
}

/* A second fake with a 0.3 s timeout: the handler is killed, the
 * invocation fails with Sandbox.Timedout, a new process takes the next. */
static void t_timeout(void **state)
{
	orc_lambda_client_options co = ORC_LAMBDA_CLIENT_OPTIONS_INIT;
	orc_lambda_client *c = NULL;
	fake_lambda f2;
	char echo[1100];
	const char *args[6];
	orc_error err;

	(void)state;
	snprintf(echo, sizeof(echo), "echo=%s", getenv("ECHO_HANDLER"));
	args[0] = "--function";
	args[1] = echo;
	args[2] = "--timeout-s";
	args[3] = "0.3";
	args[4] = NULL;
	assert_int_equal(fake_start(&f2, args), 0);
	co.endpoint = f2.invoke;
	assert_int_equal(orc_lambda_client_create(&c, &co, &err), ORC_OK);
	echo_expect(c, "{\"sleep\": true}", ORC_EUSER, "Sandbox.Timedout");
	echo_expect(c, "{\"after\": 1}", ORC_OK, "{\"after\": 1}");
	orc_lambda_client_free(c);
	fake_stop(&f2);
}

static void t_sigv4(void **state)
{
	char *ans = fake_get(&fake, "/_fake/invokes");
	orc_lambda_client *c;
	orc_error err;
	json_t *j, *inv, *h;
	const char *auth;
	size_t i;
	int n = 0;

	(void)state;
	assert_non_null(ans);
	j = json_loads(ans, 0, NULL);
	free(ans);
	json_array_foreach(j, i, inv) {
		h = json_object_get(inv, "headers");
		auth = str(h, "authorization");
#define AUTH "AWS4-HMAC-SHA256 Credential=AKIDLAMBDATEST/"
		assert_true(strncmp(auth, AUTH, strlen(AUTH)) == 0);
#undef AUTH
		assert_non_null(strstr(auth, "/us-east-1/lambda/aws4_request"));
		assert_non_null(strstr(auth, "x-amz-invocation-type"));
		assert_non_null(strstr(auth, "Signature="));
		assert_int_equal(strlen(str(h, "x-amz-date")), 16);
		assert_null(strstr(str(h, "authorization"),
				   "lambda-test-secret"));
		n++;
	}
	json_decref(j);
	assert_true(n >= 5);
	/* The fake checks signatures: a wrong secret is refused. */
	setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
	c = client();
	assert_int_equal(orc_lambda_invoke(c, "echo", ORC_LAMBDA_EVENT, "{}",
					   NULL, &err), ORC_EAUTH);
	assert_non_null(strstr(err.message, "InvalidSignatureException"));
	orc_lambda_client_free(c);
	setenv("AWS_SECRET_ACCESS_KEY", "lambda-test-secret", 1);
	/* And what is not signed. */
	ans = fake_post(&fake, "/2015-03-31/functions/echo/invocations",
			NULL, "{}");
	assert_non_null(ans);
	assert_non_null(strstr(ans, "Missing or malformed SigV4"));
	free(ans);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_error_type),
		cmocka_unit_test(t_bad_api),
		cmocka_unit_test(t_api_failures),
		cmocka_unit_test(t_context),
		cmocka_unit_test(t_handler_errors),
		cmocka_unit_test(t_init_error),
		cmocka_unit_test(t_invoke_request_response),
		cmocka_unit_test(t_invoke_event),
		cmocka_unit_test(t_function_error),
		cmocka_unit_test(t_timeout),
		cmocka_unit_test(t_sigv4),
	};

	return cmocka_run_group_tests_name("lambda_runtime", tests, setup,
					   teardown);
}
