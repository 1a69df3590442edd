/*
 * The handlers' request shapes: orchestrator events told apart, the
 * start event, the seed's TaskExecutionRequest both ways; and what every
 * invocation shares: the engine context, invoking, dispatching to the
 * worker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "internal.h"
#include "lambda/handlers.h"
#include "orchestra/backend.h"

orc_status orc__lh_parse_object(json_t **out, const char *text, size_t len,
				const char *what, orc_error *err)
{
	json_error_t je;
	json_t *root;

	*out = NULL;
	if (!text)
		return orc_error_set(err, ORC_EINVAL, "%s: no event", what);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		orc_error_set(err, ORC_EPARSE, "%s: %s", what, je.text);
		orc__error_locate(err, what, je.line, je.column,
				  (size_t)je.position);
		return ORC_EPARSE;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return orc_error_set(err, ORC_EINVAL,
				     "%s must be a JSON object", what);
	}
	*out = root;
	return ORC_OK;
}

orc_status orc__lh_classify(orc__lh_kind *out, json_t *root, orc_error *err)
{
	json_t *mode = json_object_get(root, "mode");
	const char *m;

	if (json_object_get(root, "Records")) {
		*out = ORC__LH_STREAM;
		return ORC_OK;
	}
	if (mode) {
		m = json_string_value(mode);
		if (m && strcmp(m, "start") == 0) {
			*out = ORC__LH_START;
			return ORC_OK;
		}
		if (m && strcmp(m, "reconcile") == 0) {
			*out = ORC__LH_RECONCILE;
			return ORC_OK;
		}
		return orc_error_set(err, ORC_EINVAL,
				     "\"mode\" must be \"start\" or "
				     "\"reconcile\"");
	}
	if (json_object_get(root, "tasks") || json_object_get(root, "graph")) {
		*out = ORC__LH_START;
		return ORC_OK;
	}
	return orc_error_set(err, ORC_EINVAL,
			     "unknown event: expected {\"mode\":\"start\", "
			     "...}, {\"mode\":\"reconcile\"} or a DynamoDB "
			     "Streams batch (\"Records\")");
}

/* An optional string member; ORC_EINVAL when present and not a string. */
static orc_status opt_string(const char **out, json_t *root,
			     const char *key, orc_error *err)
{
	json_t *v = json_object_get(root, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return ORC_OK;
	if (!json_is_string(v))
		return orc_error_set(err, ORC_EINVAL,
				     "\"%s\" must be a string", key);
	*out = json_string_value(v);
	return ORC_OK;
}

static orc_status opt_int(int64_t *out, json_t *root, const char *key,
			  int64_t absent, orc_error *err)
{
	json_t *v = json_object_get(root, key);

	*out = absent;
	if (!v || json_is_null(v))
		return ORC_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return orc_error_set(err, ORC_EINVAL,
				     "\"%s\" must be an integer >= 0", key);
	*out = (int64_t)json_integer_value(v);
	return ORC_OK;
}

static orc_status req_id(char *dst, json_t *root, const char *key,
			 orc_error *err)
{
	const char *s;
	orc_status st;

	if ((st = opt_string(&s, root, key, err)) != ORC_OK)
		return st;
	if (!s)
		return orc_error_set(err, ORC_EINVAL,
				     "\"%s\" (a string) is required", key);
	if ((st = orc_dag_check_id(s, err)) != ORC_OK) {
		char msg[sizeof(err->message)];

		if (!err)
			return st;
		memcpy(msg, err->message, sizeof(msg));
		return orc_error_set(err, st, "\"%s\": %s", key, msg);
	}
	orc__strlcpy(dst, s, ORC_ID_MAX + 1);
	return ORC_OK;
}

orc_status orc__lh_parse_start(orc__lh_start *out, const char *event,
			       size_t len, const char *default_id,
			       orc_error *err)
{
	const char *corr;
	char *wf_id = NULL;
	json_t *root, *input;
	orc_status st;

	memset(out, 0, sizeof(*out));
	if ((st = orc__lh_parse_object(&root, event, len, "start event",
				       err)) != ORC_OK)
		return st;
	if ((st = opt_string(&corr, root, "correlationId", err)) != ORC_OK)
		goto done;
	st = orc_dag_load(&out->dag, &wf_id, event, len, "start event", err);
	if (st != ORC_OK)
		goto done;
	if (!wf_id && (!default_id || !*default_id)) {
		st = orc_error_set(err, ORC_EINVAL,
				   "start event: \"workflowId\" is required");
		goto done;
	}
	if (!wf_id && (st = orc_dag_check_id(default_id, err)) != ORC_OK)
		goto done;
	orc__strlcpy(out->wf_id, wf_id ? wf_id : default_id,
		     sizeof(out->wf_id));
	input = json_object_get(root, "input");
	if (input && !json_is_null(input)) {
		out->input = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!out->input) {
			st = orc_error_set(err, ORC_ENOMEM, "start event: "
					   "out of memory");
			goto done;
		}
	}
	if (corr && !(out->correlation_id = orc_strdup(corr)))
		st = orc_error_set(err, ORC_ENOMEM, "out of memory");
done:
	orc_free(wf_id);
	json_decref(root);
	if (st != ORC_OK)
		orc__lh_start_clear(out);
	return st;
}

void orc__lh_start_clear(orc__lh_start *s)
{
	if (!s)
		return;
	orc_dag_free(s->dag);
	free(s->input);
	orc_free(s->correlation_id);
	memset(s, 0, sizeof(*s));
}

orc_status orc__lh_parse_task_req(orc__lh_task_req *out, const char *event,
				  size_t len, orc_error *err)
{
	const char *target, *corr;
	json_t *root;
	orc_status st;

	memset(out, 0, sizeof(*out));
	if ((st = orc__lh_parse_object(&root, event, len,
				       "TaskExecutionRequest", err)) != ORC_OK)
		return st;
	if ((st = req_id(out->wf_id, root, "workflowId", err)) != ORC_OK ||
	    (st = req_id(out->task_id, root, "taskId", err)) != ORC_OK ||
	    (st = opt_string(&target, root, "targetLambdaArn", err)) !=
		    ORC_OK ||
	    (st = opt_string(&corr, root, "correlationId", err)) != ORC_OK ||
	    (st = opt_int(&out->expected_version, root, "expectedVersion", -1,
			  err)) != ORC_OK ||
	    (st = opt_int(&out->deadline_ms, root, "deadlineMs", 0, err)) !=
		    ORC_OK ||
	    (st = opt_int(&out->attempts_made, root, "attemptsMade", -1,
			  err)) != ORC_OK ||
	    (st = opt_int(&out->not_before_ms, root, "notBeforeMs", 0,
			  err)) != ORC_OK)
		goto done;
	if (out->attempts_made > INT32_MAX) {
		st = orc_error_set(err, ORC_EINVAL, "\"attemptsMade\" is out "
				   "of range");
		goto done;
	}
	if (target && !*target)
		target = NULL;
	if ((target && !(out->target = orc_strdup(target))) ||
	    (corr && !(out->correlation_id = orc_strdup(corr))))
		st = orc_error_set(err, ORC_ENOMEM, "out of memory");
done:
	json_decref(root);
	if (st != ORC_OK) {
		char msg[sizeof(err->message)];

		orc__lh_task_req_clear(out);
		if (err && st != ORC_EPARSE &&
		    strncmp(err->message, "TaskExecutionRequest", 20)) {
			memcpy(msg, err->message, sizeof(msg));
			orc_error_set(err, st, "TaskExecutionRequest: %s", msg);
		}
	}
	return st;
}

void orc__lh_task_req_clear(orc__lh_task_req *r)
{
	if (!r)
		return;
	orc_free(r->target);
	orc_free(r->correlation_id);
	memset(r, 0, sizeof(*r));
}

char *orc__lh_task_req_json(const char *wf_id, const char *task_id,
			    const char *target, const orc__lh_seen *seen,
			    const char *correlation_id)
{
	json_t *o = json_object();
	char *s;

	if (!o)
		return NULL;
	json_object_set_new(o, "workflowId", json_string(wf_id));
	json_object_set_new(o, "taskId", json_string(task_id));
	if (target)
		json_object_set_new(o, "targetLambdaArn", json_string(target));
	if (seen && seen->version >= 0) {
		json_object_set_new(o, "expectedVersion",
				    json_integer((json_int_t)seen->version));
		/* What the dispatcher saw at that version: the worker then
		 * claims without reading the task first. */
		if (seen->attempts_made >= 0)
			json_object_set_new(o, "attemptsMade", json_integer(
				seen->attempts_made));
		if (seen->not_before_ms > 0)
			json_object_set_new(o, "notBeforeMs", json_integer(
				(json_int_t)seen->not_before_ms));
	}
	if (correlation_id)
		json_object_set_new(o, "correlationId",
				    json_string(correlation_id));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* ---- per invocation ---- */

static orc_status check_config(const char *handler,
			       const orc_lambda_handler_config *cfg,
			       orc_error *err)
{
	if (!cfg || cfg->version != ORC_LAMBDA_HANDLER_CONFIG_VERSION)
		return orc_error_set(err, ORC_EINVAL,
				     "%s: userdata must be an "
				     "orc_lambda_handler_config of version %d",
				     handler,
				     ORC_LAMBDA_HANDLER_CONFIG_VERSION);
	if (!cfg->backend)
		return orc_error_set(err, ORC_EINVAL,
				     "%s: config has no backend", handler);
	if (!cfg->client && !cfg->invoke)
		return orc_error_set(err, ORC_EINVAL,
				     "%s: config needs a Lambda client or an "
				     "invoke function", handler);
	return ORC_OK;
}

static orc_status context_open(orc_context **out,
			       const orc_lambda_handler_config *cfg,
			       orc_error *err)
{
	orc_context_options o = ORC_CONTEXT_OPTIONS_INIT;

	o.clock = cfg->clock;
	o.clock_payload = cfg->clock_payload;
	return orc_context_create(out, cfg->backend, &o, err);
}

orc_status orc__lh_env_open(orc__lh_env *env, const char *handler,
			    orc_lambda_handlers *keep,
			    const orc_lambda_handler_config *cfg,
			    const orc_lambda_context *lctx, orc_error *err)
{
	const char *rid = lctx && lctx->request_id ? lctx->request_id : "";
	orc_status st;

	memset(env, 0, sizeof(*env));
	env->keep = keep;
	env->cfg = cfg;
	env->lctx = lctx;
	env->handler = handler;
	if ((st = check_config(handler, cfg, err)) != ORC_OK)
		return st;
	snprintf(env->owner, sizeof(env->owner), "lambda:%s", *rid ? rid :
		 "local");
	if (keep)
		env->ctx = keep->ctx;
	else if ((st = context_open(&env->ctx, cfg, err)) != ORC_OK)
		return st;
	/* Jitter differs between invocations, reproducibly per request. */
	env->ctx->rng = orc__hash_str(rid) | 1u;
	return ORC_OK;
}

void orc__lh_env_close(orc__lh_env *env)
{
	if (!env->keep)
		orc_context_free(env->ctx);
	env->ctx = NULL;
}

ORC_API orc_status orc_lambda_handlers_create(
	orc_lambda_handlers **out, const orc_lambda_handler_config *cfg,
	orc_error *err)
{
	orc_lambda_handlers *h;
	orc_status st;

	ORC_CHECK_ARG(out != NULL, err);
	*out = NULL;
	if ((st = check_config("handlers", cfg, err)) != ORC_OK)
		return st;
	if (!(h = orc__calloc(1, sizeof(*h))))
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	h->cfg = cfg;
	if ((st = context_open(&h->ctx, cfg, err)) != ORC_OK) {
		orc_free(h);
		return st;
	}
	*out = h;
	return ORC_OK;
}

ORC_API void orc_lambda_handlers_free(orc_lambda_handlers *h)
{
	if (!h)
		return;
	orc_context_free(h->ctx);
	orc_free(h);
}

int64_t orc__lh_now(const orc__lh_env *env)
{
	return orc_context_now(env->ctx);
}

orc_status orc__lh_invoke(const orc__lh_env *env, const char *function,
			  orc_lambda_invocation type, const char *request,
			  char **response_out, orc_error *err)
{
	const orc_lambda_handler_config *cfg = env->cfg;

	*response_out = NULL;
	if (cfg->invoke)
		return cfg->invoke(function, type, request,
				   cfg->invoke_payload, response_out, err);
	return orc_lambda_invoke(cfg->client, function, type, request,
				 response_out, err);
}

const char *orc__lh_task_target(const orc__lh_env *env, const orc_dag *dag,
				size_t index, const char *requested)
{
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	size_t i;

	if (orc_dag_task_get(&spec, dag, index, NULL) != ORC_OK)
		return NULL;
	if (spec.target)
		return spec.target;
	if (requested)
		return requested;
	for (i = 0; i < env->cfg->ntask_targets; i++)
		if (env->cfg->task_targets[i].task_id &&
		    strcmp(env->cfg->task_targets[i].task_id, spec.id) == 0)
			return env->cfg->task_targets[i].target;
	return NULL;
}

orc_status orc__lh_dispatch(const orc__lh_env *env, const orc_dag *dag,
			    const char *wf_id, const char *task_id,
			    const orc__lh_seen *seen,
			    const char *correlation_id, orc_error *err)
{
	const char *target = NULL;
	char *req, *resp = NULL;
	json_t *fields;
	orc_status st;
	size_t idx;

	if (!env->cfg->worker_function)
		return orc_error_set(err, ORC_EINVAL,
				     "%s: config has no worker_function to "
				     "dispatch to", env->handler);
	if (orc_dag_find(&idx, dag, task_id, NULL) == ORC_OK)
		target = orc__lh_task_target(env, dag, idx, NULL);
	req = orc__lh_task_req_json(wf_id, task_id, target, seen,
				    correlation_id);
	if (!req)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	st = orc__lh_invoke(env, env->cfg->worker_function, ORC_LAMBDA_EVENT,
			    req, &resp, err);
	orc_free(resp);
	free(req);
	fields = json_pack("{s:s, s:s, s:I}", "workflowId", wf_id, "taskId",
			   task_id, "expectedVersion",
			   (json_int_t)(seen ? seen->version : -1));
	if (st != ORC_OK && fields && err)
		json_object_set_new(fields, "error", json_string(err->message));
	orc__lh_log(env, st == ORC_OK ? "INFO" : "ERROR",
		    st == ORC_OK ? "dispatched" : "dispatch failed", fields);
	return st;
}

struct ready_list {
	int64_t due;
	size_t n, cap;
	struct ready { char id[ORC_ID_MAX + 1]; orc__lh_seen seen; } *v;
	int nomem;
};

static int collect_due(const orc_task_rec *rec, void *payload)
{
	struct ready_list *l = payload;

	if (rec->state != ORC_TASK_READY || rec->not_before_ms > l->due)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct ready *v = orc__realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->nomem = 1;
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	memcpy(l->v[l->n].id, rec->id, sizeof(rec->id));
	l->v[l->n].seen.version = rec->version;
	l->v[l->n].seen.attempts_made = rec->attempt;
	l->v[l->n++].seen.not_before_ms = rec->not_before_ms;
	return 0;
}

orc_status orc__lh_dispatch_ready(const orc__lh_env *env, const char *wf_id,
				  const char *correlation_id, json_t *ids,
				  orc_error *err)
{
	orc_backend *b = env->cfg->backend;
	struct ready_list l;
	orc__wf_cache *wf;
	orc_status st;
	size_t i;

	if ((st = orc__context_workflow(&wf, env->ctx, wf_id, err)) != ORC_OK)
		return st;
	memset(&l, 0, sizeof(l));
	/* A task backing off is dispatched when its retry is due within
	 * the time a worker waits for one (the worker waits). */
	l.due = orc__lh_now(env) + orc__lh_retry_wait_ms(env->cfg);
	st = b->list_tasks(b, wf_id, ORC_TASK_BIT(ORC_TASK_READY), 0,
			   collect_due, &l, err);
	if (st == ORC_OK && l.nomem)
		st = orc_error_set(err, ORC_ENOMEM, "out of memory");
	for (i = 0; st == ORC_OK && i < l.n; i++) {
		st = orc__lh_dispatch(env, wf->dag, wf_id, l.v[i].id,
				      &l.v[i].seen, correlation_id, err);
		if (st == ORC_OK && ids)
			json_array_append_new(ids, json_string(l.v[i].id));
	}
	orc_free(l.v);
	return st;
}

int64_t orc__lh_retry_wait_ms(const orc_lambda_handler_config *cfg)
{
	if (cfg->max_retry_wait_ms < 0)
		return 0;
	return cfg->max_retry_wait_ms ? cfg->max_retry_wait_ms :
		ORC__LH_RETRY_WAIT_MS;
}

char *orc__lh_dumps(const json_t *obj)
{
	/* Measured, then dumped into our own allocation: what crosses the
	 * API is released with orc_free(), never jansson's allocator. */
	size_t n = obj ? json_dumpb(obj, NULL, 0, JSON_COMPACT) : 0;
	char *s = n ? orc__malloc(n + 1) : NULL;

	if (s) {
		json_dumpb(obj, s, n, JSON_COMPACT);
		s[n] = '\0';
	}
	return s;
}

orc_status orc__lh_answer(char **response_out, json_t *obj, orc_error *err)
{
	*response_out = orc__lh_dumps(obj);
	json_decref(obj);
	if (!*response_out)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	return ORC_OK;
}
