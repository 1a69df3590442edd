/*
 * The routes of the HTTP API (docs/http.md), independent of what
 * carries the request: the libmicrohttpd listener and the API Gateway
 * handler both call orc_http_api_handle(). Live updates (GET /events)
 * are the listener's; the rest is here.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "http.h"
#include "internal.h"
#include "orchestra/backend.h"
#include "orchestra/dag.h"
#include "orchestra/workflow.h"

#define DEFAULT_MAX_BODY (1u << 20)
#define DEFAULT_POLL_MS 500

const char *const orc__http_headers[ORC__HTTP_NHEADERS][2] = {
	{ "X-Content-Type-Options", "nosniff" },
	{ "X-Frame-Options", "DENY" },
	{ "Referrer-Policy", "no-referrer" },
	{ "Content-Security-Policy", "default-src 'none'; script-src 'self'; "
	  "style-src 'self'; img-src 'self'; connect-src 'self'; "
	  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'" },
};

ORC_API orc_status orc_http_api_create(orc_http_api **out,
				       orc_backend *backend,
				       const orc_http_options *opts,
				       orc_error *err)
{
	orc_http_options def = ORC_HTTP_OPTIONS_INIT;
	orc_http_api *api;

	ORC_CHECK_ARG(out != NULL, err);
	*out = NULL;
	ORC_CHECK_ARG(backend != NULL, err);
	if (!opts)
		opts = &def;
	if (opts->version != ORC_HTTP_OPTIONS_VERSION)
		return orc_error_set(err, ORC_EINVAL, "orc_http_options "
				     "version %u is not %u", opts->version,
				     ORC_HTTP_OPTIONS_VERSION);
	if (opts->token && !opts->token[0])
		return orc_error_set(err, ORC_EINVAL, "the token is empty");
	if (opts->allow_origin && strcmp(opts->allow_origin, "*") == 0)
		return orc_error_set(err, ORC_EINVAL, "the allowed origin "
				     "must name one origin, not '*'");
	if (opts->poll_ms < 0 || opts->poll_ms > 3600000)
		return orc_error_set(err, ORC_EINVAL, "poll_ms %lld is out of "
				     "0..3600000", (long long)opts->poll_ms);
	api = orc__calloc(1, sizeof(*api));
	if (!api)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	api->backend = backend;
	api->max_body = opts->max_body ? opts->max_body : DEFAULT_MAX_BODY;
	api->on_start = opts->on_start;
	api->on_start_payload = opts->on_start_payload;
	api->require_commands = opts->require_commands;
	api->poll_ms = opts->poll_ms ? opts->poll_ms : DEFAULT_POLL_MS;
	api->serialize = !(backend->caps & ORC_BACKEND_CAP_THREADSAFE);
	pthread_mutex_init(&api->mu, NULL);
	if ((opts->token && !(api->token = orc_strdup(opts->token))) ||
	    (opts->allow_origin &&
	     !(api->allow_origin = orc_strdup(opts->allow_origin))) ||
	    (opts->watch_file &&
	     !(api->watch_file = orc_strdup(opts->watch_file)))) {
		orc_http_api_free(api);
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	}
	*out = api;
	return ORC_OK;
}

ORC_API void orc_http_api_free(orc_http_api *api)
{
	if (!api)
		return;
	if (api->token) /* do not leave the secret in freed memory */
		memset(api->token, 0, strlen(api->token));
	orc_free(api->token);
	orc_free(api->allow_origin);
	orc_free(api->watch_file);
	pthread_mutex_destroy(&api->mu);
	orc_free(api);
}

void orc__http_lock(orc_http_api *api)
{
	if (api->serialize)
		pthread_mutex_lock(&api->mu);
}

void orc__http_unlock(orc_http_api *api)
{
	if (api->serialize)
		pthread_mutex_unlock(&api->mu);
}

ORC_API void orc_http_response_clear(orc_http_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}

static int hexval(char c)
{
	static const char digits[] = "0123456789abcdef";
	const char *p = c ? strchr(digits, c | 0x20) : NULL;

	return p ? (int)(p - digits) : -1;
}

char *orc__http_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	size_t i, n = 0;

	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] != '%') {
			out[n++] = s[i];
			continue;
		}
		if (i + 2 >= len)
			goto bad;
		hi = hexval(s[i + 1]);
		lo = hexval(s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			goto bad;
		out[n++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[n] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* Constant time in the length of @p a, so the token is not guessed a
 * byte at a time from response times. */
static int same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;

	for (i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ (i < lb ? b[i] : 0));
	return d == 0;
}

static int authorized(const orc_http_api *api, const char *auth)
{
	if (!api->token)
		return 1;
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return 0;
	return same_secret(auth + 7, api->token);
}

static orc_status set_body(orc_http_response *resp, int status, char *body,
			   const char *type, orc_error *err)
{
	if (!body) {
		/* The smallest answer that needs no allocation of ours. */
		resp->status = 500;
		resp->content_type = "application/json";
		resp->body = NULL;
		resp->body_len = 0;
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	}
	resp->status = status;
	resp->content_type = type;
	resp->body = body;
	resp->body_len = strlen(body);
	return ORC_OK;
}

static orc_status json_answer(orc_http_response *resp, int status,
			      char *body, orc_error *err)
{
	return set_body(resp, status, body, "application/json", err);
}

static orc_status fail(orc_http_response *resp, int status, orc_status st,
		       const char *field, const char *message, orc_error *err)
{
	return json_answer(resp, status,
			   orc__http_error_doc(st, field, message), err);
}

static orc_status serve_asset(orc_http_response *resp, const char *path,
			      orc_error *err)
{
	size_t i;
	char *copy;

	if (strcmp(path, "/index.html") == 0)
		path = "/";
	for (i = 0; i < orc__http_nassets; i++) {
		const orc__http_asset *a = &orc__http_assets[i];

		if (strcmp(a->path, path) != 0)
			continue;
		copy = malloc(a->len + 1);
		if (!copy)
			return set_body(resp, 500, NULL, NULL, err);
		memcpy(copy, a->data, a->len);
		copy[a->len] = '\0';
		resp->status = 200;
		resp->content_type = a->content_type;
		resp->body = copy;
		resp->body_len = a->len;
		return ORC_OK;
	}
	return fail(resp, 404, ORC_ENOTFOUND, NULL, "no such page", err);
}

/* Every task a command, for a server that runs what it starts. */
static const char *not_command(const orc_dag *dag)
{
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	size_t i, n = orc_dag_task_count(dag);

	/* Fails closed: a task it cannot read is refused too. */
	for (i = 0; i < n; i++) {
		if (orc_dag_task_get(&spec, dag, i, NULL) != ORC_OK)
			return "(unreadable)";
		if (spec.target_kind != ORC_TARGET_COMMAND)
			return spec.id;
	}
	return NULL;
}

static orc_status start(orc_http_response *resp, orc_http_api *api,
			const orc_http_request *req, orc_error *err)
{
	orc_context *ctx = NULL;
	orc_dag *dag = NULL;
	char *wf_id = NULL, *input = NULL, msg[320];
	const char *bad;
	json_t *doc, *in;
	json_error_t jerr;
	orc_error e;
	orc_status st, rst;

	memset(&e, 0, sizeof(e));
	doc = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
	if (!json_is_object(doc)) {
		if (doc)
			snprintf(msg, sizeof(msg), "the body must be a JSON "
				 "object (a workflow definition)");
		else
			snprintf(msg, sizeof(msg), "the body is not JSON: "
				 "line %d, column %d: %s", jerr.line,
				 jerr.column, jerr.text);
		json_decref(doc);
		return fail(resp, 400, ORC_EPARSE, "body", msg, err);
	}
	in = json_object_get(doc, "input");
	if (in && !(input = json_dumps(in, JSON_ENCODE_ANY | JSON_COMPACT))) {
		json_decref(doc);
		return set_body(resp, 500, NULL, NULL, err);
	}
	json_decref(doc);
	st = orc_dag_load(&dag, &wf_id, req->body, req->body_len, "body", &e);
	if (st != ORC_OK) {
		rst = fail(resp, st == ORC_ENOMEM ? 500 : 400, st, "body",
			   e.message, err);
		goto out;
	}
	if (!wf_id) {
		rst = fail(resp, 400, ORC_EINVAL, "workflowId", "workflowId "
			   "is missing", err);
		goto out;
	}
	if (api->require_commands && (bad = not_command(dag)) != NULL) {
		snprintf(msg, sizeof(msg), "task %s is not a command: this "
			 "server runs command tasks only", bad);
		rst = fail(resp, 400, ORC_EINVAL, "tasks", msg, err);
		goto out;
	}
	st = orc_context_create(&ctx, api->backend, NULL, &e);
	if (st == ORC_OK)
		st = orc_workflow_start(ctx, wf_id, dag, input, &e);
	if (st == ORC_EEXISTS) {
		rst = fail(resp, 409, st, "workflowId", "a workflow with this "
			   "id exists with another definition", err);
		goto out;
	}
	if (st != ORC_OK) {
		rst = fail(resp, orc__http_status_for(st), st,
			   st == ORC_EINVAL ? "workflowId" : NULL, e.message,
			   err);
		goto out;
	}
	if (api->on_start)
		api->on_start(wf_id, api->on_start_payload);
	rst = json_answer(resp, 202, orc__http_dump(json_pack("{s:b, s:s}",
		"ok", 1, "workflowId", wf_id)), err);
out:
	orc_context_free(ctx);
	orc_dag_free(dag);
	orc_free(wf_id);
	free(input);
	return rst;
}

static orc_status cancel(orc_http_response *resp, orc_http_api *api,
			 const char *wf_id, orc_error *err)
{
	orc_context *ctx = NULL;
	orc_snapshot snap;
	orc_error e;
	orc_status st;
	json_t *doc;

	memset(&e, 0, sizeof(e));
	memset(&snap, 0, sizeof(snap));
	st = orc_context_create(&ctx, api->backend, NULL, &e);
	if (st == ORC_OK)
		st = orc_workflow_cancel(ctx, wf_id, "canceled through the "
					 "HTTP API", &e);
	if (st == ORC_OK)
		st = orc_workflow_snapshot(&snap, ctx, wf_id, 0, &e);
	orc_context_free(ctx);
	if (st != ORC_OK) {
		orc_snapshot_clear(&snap);
		return fail(resp, orc__http_status_for(st), st,
			    st == ORC_ENOTFOUND ? "workflowId" : NULL,
			    st == ORC_ENOTFOUND ? "no such workflow" :
			    e.message, err);
	}
	doc = json_pack("{s:b, s:s, s:s}", "ok", 1, "workflowId", wf_id,
			"status", orc_workflow_state_name(snap.workflow.state));
	orc_snapshot_clear(&snap);
	return json_answer(resp, 200, orc__http_dump(doc), err);
}

/* Split "/workflows/{id}[/rest]" into a decoded id and the raw rest. */
static int workflow_path(char **id, const char **rest, const char *path)
{
	const char *p = path + strlen("/workflows/");
	const char *slash = strchr(p, '/');
	size_t n = slash ? (size_t)(slash - p) : strlen(p);

	*rest = slash ? slash : "";
	*id = n ? orc__http_decode(p, n) : NULL;
	return *id != NULL;
}

static orc_status route(orc_http_response *resp, orc_http_api *api,
			const orc_http_request *req, orc_error *err)
{
	const char *m = req->method, *p = req->path, *rest;
	int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
	int post = strcmp(m, "POST") == 0;
	char *id = NULL, *doc, *task;
	int status;
	orc_status st;

	if (post && !authorized(api, req->authorization))
		return fail(resp, 401, ORC_EAUTH, "Authorization", "this route "
			    "needs 'Authorization: Bearer <token>'", err);
	/* A JSON content type makes a browser ask first (CORS preflight)
	 * before another site's page may post here. */
	if (post && (!req->content_type ||
		     strncasecmp(req->content_type, "application/json",
				 16) != 0))
		return fail(resp, 415, ORC_EINVAL, "Content-Type", "POST "
			    "bodies are 'Content-Type: application/json'",
			    err);
	if (req->body_len > api->max_body)
		return fail(resp, 413, ORC_ETOOBIG, "body", "the body is over "
			    "the server's limit", err);
	if (strcmp(p, "/workflows") == 0 || strcmp(p, "/workflows/") == 0) {
		if (get) {
			doc = orc__http_list(&status, api);
			return json_answer(resp, status, doc, err);
		}
		if (post)
			return start(resp, api, req, err);
		return fail(resp, 405, ORC_EINVAL, "method", "GET or POST",
			    err);
	}
	if (strncmp(p, "/workflows/", 11) != 0)
		return get ? serve_asset(resp, p, err) :
		       fail(resp, 404, ORC_ENOTFOUND, NULL, "no such route",
			    err);
	if (!workflow_path(&id, &rest, p))
		return fail(resp, 400, ORC_EINVAL, "workflowId", "bad "
			    "percent-encoding in the workflow id", err);
	if (!rest[0] && get) {
		doc = orc__http_detail(&status, api, id);
		st = json_answer(resp, status, doc, err);
	} else if (strcmp(rest, "/cancel") == 0 && post) {
		st = cancel(resp, api, id, err);
	} else if (strncmp(rest, "/tasks/", 7) == 0 && get) {
		/* A '/' in an id arrives as %2F: a raw one is another
		 * segment, which no route has. */
		task = strchr(rest + 7, '/') ? NULL :
		       orc__http_decode(rest + 7, strlen(rest + 7));
		if (!task || !task[0])
			st = fail(resp, 400, ORC_EINVAL, "taskId", "bad task "
				  "id in the path", err);
		else {
			doc = orc__http_task(&status, api, id, task);
			st = json_answer(resp, status, doc, err);
		}
		free(task);
	} else if (!rest[0] || strcmp(rest, "/cancel") == 0 ||
		   strncmp(rest, "/tasks/", 7) == 0) {
		st = fail(resp, 405, ORC_EINVAL, "method", "method not "
			  "allowed on this route", err);
	} else {
		st = fail(resp, 404, ORC_ENOTFOUND, NULL, "no such route",
			  err);
	}
	free(id);
	return st;
}

ORC_API orc_status orc_http_api_handle(orc_http_response *resp,
				       orc_http_api *api,
				       const orc_http_request *req,
				       orc_error *err)
{
	orc_status st;

	ORC_CHECK_ARG(resp != NULL, err);
	memset(resp, 0, sizeof(*resp));
	ORC_CHECK_ARG(api != NULL && req != NULL && req->method != NULL &&
		      req->path != NULL, err);
	if (strcmp(req->method, "OPTIONS") == 0) {
		/* Only the configured origin gets a preflight answer. */
		if (!api->allow_origin || !req->origin ||
		    strcmp(req->origin, api->allow_origin) != 0)
			return fail(resp, 403, ORC_EAUTH, "Origin", "this "
				    "origin is not allowed", err);
		resp->allow_origin = api->allow_origin;
		return set_body(resp, 204, strdup(""), "text/plain", err);
	}
	orc__http_lock(api);
	st = route(resp, api, req, err);
	orc__http_unlock(api);
	if (api->allow_origin && req->origin &&
	    strcmp(req->origin, api->allow_origin) == 0)
		resp->allow_origin = api->allow_origin;
	return st;
}
