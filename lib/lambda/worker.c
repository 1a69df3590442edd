/*
 * The worker handler: one TaskExecutionRequest, one task. Claim under
 * the version lock, run the target (a C handler linked in, else a
 * RequestResponse invocation), complete or fail; retries whose backoff
 * fits the invocation run here; optionally dispatch what became
 * runnable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "context.h"
#include "internal.h"
#include "lambda/handlers.h"
#include "orchestra/backend.h"

#define H "worker"
#define LEASE_GRACE_MS 5000
#define LEASE_DEFAULT_MS (900000 + LEASE_GRACE_MS)
#define ATTEMPTS_MAX 100

typedef struct job {
	const orc__lh_env *env;
	const orc__lh_task_req *req;
	orc__wf_cache *wf;
	size_t idx;
	const char *target;
	json_t *answer;         /* the handler's response object */
} job;

static void skip(job *j, const char *why)
{
	orc__lh_log(j->env, "INFO", "request skipped",
		    json_pack("{s:s, s:s, s:s}", "workflowId", j->req->wf_id,
			      "taskId", j->req->task_id, "reason", why));
	json_object_set_new(j->answer, "skipped", json_string(why));
}

static void default_sleep(int64_t ms, void *payload)
{
	(void)payload;
	orc__sleep_ms(ms);
}

static int64_t lease_ms(const job *j, int64_t now)
{
	const orc_lambda_handler_config *cfg = j->env->cfg;
	int64_t end = 0, ms;

	if (cfg->lease_ms > 0)
		return cfg->lease_ms;
	if (j->env->lctx && j->env->lctx->deadline_ms > 0)
		end = j->env->lctx->deadline_ms;
	if (j->req->deadline_ms > 0 && (!end || j->req->deadline_ms < end))
		end = j->req->deadline_ms;
	if (!end)
		return LEASE_DEFAULT_MS;
	ms = end - now + LEASE_GRACE_MS;
	return ms < 1000 ? 1000 : ms;
}

/* The function name of an ARN ("arn:aws:lambda:r:a:function:NAME[:q]"),
 * or the target itself; its length in @p n. */
static const char *function_name(const char *target, size_t *n)
{
	const char *p = strstr(target, ":function:");
	const char *q;

	p = p ? p + 10 : target;
	q = strchr(p, ':');
	*n = q ? (size_t)(q - p) : strlen(p);
	return p;
}

static const orc_lambda_target *c_handler(const orc_lambda_handler_config *c,
					  const char *target)
{
	size_t i, n, m;
	const char *name;

	for (i = 0; i < c->ntargets; i++)
		if (c->targets[i].target && c->targets[i].fn &&
		    strcmp(c->targets[i].target, target) == 0)
			return &c->targets[i];
	name = function_name(target, &n);
	for (i = 0; i < c->ntargets; i++) {
		if (!c->targets[i].target || !c->targets[i].fn)
			continue;
		m = strlen(c->targets[i].target);
		if (m == n && strncmp(c->targets[i].target, name, n) == 0)
			return &c->targets[i];
	}
	for (i = 0; i < c->ntargets; i++)
		if (!c->targets[i].target && c->targets[i].fn)
			return &c->targets[i];
	return NULL;
}

/* {"errorMessage", "errorType"}, as Lambda reports a function error. */
static char *error_payload(const char *message, const char *type)
{
	json_t *o = json_pack("{s:s, s:s}", "errorMessage", message,
			      "errorType", type);
	char *s = orc__lh_dumps(o);

	json_decref(o);
	return s;
}

/*
 * Run the target. ORC_OK: *output_out is its JSON output (or NULL).
 * Otherwise the attempt failed and *error_out says why. Both are
 * released with orc_free().
 */
static orc_status run_target(job *j, const char *payload, char **output_out,
			     char **error_out)
{
	const orc_lambda_target *h = c_handler(j->env->cfg,
					       j->target ? j->target : "");
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	orc_status st;
	orc_error e;

	*output_out = *error_out = NULL;
	memset(&e, 0, sizeof(e));
	orc_dag_task_get(&spec, j->wf->dag, j->idx, NULL);
	if (h) {
		st = h->fn(payload, strlen(payload), j->env->lctx, h->userdata,
			   output_out, &e);
		if (st == ORC_OK)
			return ORC_OK;
		orc_free(*output_out);
		*output_out = NULL;
		*error_out = error_payload(e.message,
					   orc_lambda_error_type(&e));
		return st;
	}
	if (!j->target || spec.target_kind == ORC_TARGET_HANDLER ||
	    spec.target_kind == ORC_TARGET_COMMAND) {
		orc_error_set(&e, ORC_ENOTFOUND, "task %s: %s", spec.id,
			      !j->target ? "no target, and no task target "
			      "for it in the worker's config" :
			      spec.target_kind == ORC_TARGET_COMMAND ?
			      "command targets do not run in Lambda" :
			      "no C handler with this name in the worker");
		*error_out = error_payload(e.message, "ORC_ENOTFOUND");
		return ORC_ENOTFOUND;
	}
	st = orc__lh_invoke(j->env, j->target, ORC_LAMBDA_REQUEST_RESPONSE,
			    payload, output_out, &e);
	if (st == ORC_OK)
		return ORC_OK;
	if (st == ORC_EUSER && *output_out && **output_out) {
		/* The function's own error payload, kept as it is. */
		*error_out = *output_out;
		*output_out = NULL;
		return st;
	}
	orc_free(*output_out);
	*output_out = NULL;
	*error_out = error_payload(e.message, orc_status_name(st));
	return st;
}

/* The tasks this one's completion made runnable, dispatched. */
static orc_status dispatch_next(job *j, json_t *ids, orc_error *err)
{
	orc_backend *b = j->env->cfg->backend;
	const uint32_t *succ;
	size_t n = orc_dag_dependents(&succ, j->wf->dag, j->idx), i;
	orc_status st;

	if (n == 0) {
		orc__lh_workflow_ended(j->env, j->req->wf_id);
		return ORC_OK;
	}
	for (i = 0; i < n; i++) {
		orc_task_spec spec = ORC_TASK_SPEC_INIT;
		orc_task_rec rec;

		orc_dag_task_get(&spec, j->wf->dag, succ[i], NULL);
		memset(&rec, 0, sizeof(rec));
		st = b->get_task(&rec, b, j->req->wf_id, spec.id, 0, err);
		if (st != ORC_OK)
			return st;
		if (rec.state != ORC_TASK_READY ||
		    rec.not_before_ms > orc__lh_now(j->env))
			continue;
		st = orc__lh_dispatch(j->env, j->wf->dag, j->req->wf_id,
				      spec.id, rec.version,
				      j->req->correlation_id, err);
		if (st != ORC_OK)
			return st;
		json_array_append_new(ids, json_string(spec.id));
	}
	return ORC_OK;
}

/* After a failed attempt with attempts left: wait for the retry here
 * when it is due soon enough; 1 when the caller should claim again. */
static int wait_for_retry(job *j)
{
	const orc_lambda_handler_config *cfg = j->env->cfg;
	orc_backend *b = cfg->backend;
	int64_t max = cfg->max_retry_wait_ms, now, wait;
	orc_task_rec rec;

	if (max < 0)
		return 0;
	max = orc__lh_retry_wait_ms(cfg);
	memset(&rec, 0, sizeof(rec));
	if (b->get_task(&rec, b, j->req->wf_id, j->req->task_id, 0, NULL) !=
		    ORC_OK ||
	    rec.state != ORC_TASK_READY)
		return 0;
	now = orc__lh_now(j->env);
	wait = rec.not_before_ms > now ? rec.not_before_ms - now : 0;
	if (wait > max)
		return 0;
	/* Keep a margin for the next attempt within the deadline. */
	if (j->env->lctx && j->env->lctx->deadline_ms > 0 &&
	    now + wait + 1000 > j->env->lctx->deadline_ms)
		return 0;
	if (wait > 0)
		(cfg->sleep ? cfg->sleep : default_sleep)(wait,
							  cfg->sleep_payload);
	return 1;
}

/* One claimed attempt; *again set when a retry should follow here. */
static orc_status attempt(job *j, const orc_claim *c, int *again,
			  orc_error *err)
{
	const orc__lh_env *env = j->env;
	char *payload = NULL, *output = NULL, *error = NULL;
	int64_t t0 = orc__lh_now(env);
	const char *outcome;
	int final = 0;
	orc_status st, run;
	orc_error e;

	*again = 0;
	st = orc_workflow_payload(&payload, env->ctx, j->req->wf_id, c, err);
	if (st != ORC_OK)
		return st;
	run = run_target(j, payload, &output, &error);
	orc_free(payload);
	if (run == ORC_OK) {
		memset(&e, 0, sizeof(e));
		st = orc_workflow_complete(env->ctx, j->req->wf_id,
					   c->task_id, c->token,
					   output && *output ? output : NULL,
					   &e);
		if (st == ORC_EINVAL || st == ORC_ETOOBIG) {
			/* The output itself is unusable: a failed attempt. */
			run = st;
			error = error_payload(e.message, orc_status_name(st));
		} else if (st == ORC_ECONFLICT) {
			/* The lease was lost (expired and reclaimed, or the
			 * workflow canceled): the result is not ours to
			 * write, and retrying the event cannot change it. */
			orc_free(output);
			skip(j, e.message);
			return ORC_OK;
		} else if (st != ORC_OK) {
			orc_free(output);
			if (err)
				*err = e;
			return st;
		}
	}
	orc_free(output);
	if (run != ORC_OK) {
		memset(&e, 0, sizeof(e));
		st = orc_workflow_fail(&final, env->ctx, j->req->wf_id,
				       c->task_id, c->token,
				       error ? error : "out of memory", &e);
		orc__lh_log(env, "WARN", "task attempt failed",
			    json_pack("{s:s, s:s, s:i, s:s, s:b}",
				      "workflowId", j->req->wf_id, "taskId",
				      c->task_id, "attempt", (int)c->attempt,
				      "error", error ? error : "",
				      "final", final));
		orc_free(error);
		if (st == ORC_ECONFLICT) {
			skip(j, e.message);
			return ORC_OK;
		}
		if (st != ORC_OK) {
			if (err)
				*err = e;
			return st;
		}
	}
	outcome = run == ORC_OK ? "SUCCEEDED" : final ? "FAILED" : "RETRIED";
	orc__lh_metric_task(env, j->req->wf_id, c->task_id, outcome,
			    c->attempt, orc__lh_now(env) - t0);
	json_object_set_new(j->answer, "state", json_string(
		run == ORC_OK ? "SUCCEEDED" : final ? "FAILED" : "READY"));
	json_object_set_new(j->answer, "attempt", json_integer(c->attempt));
	if (run != ORC_OK && final &&
	    (env->cfg->flags & ORC_LAMBDA_DISPATCH_NEXT))
		orc__lh_workflow_ended(env, j->req->wf_id);
	if (run != ORC_OK && !final)
		*again = wait_for_retry(j);
	return ORC_OK;
}

static orc_status run_job(job *j, orc_error *err)
{
	const orc__lh_env *env = j->env;
	const orc__lh_task_req *req = j->req;
	orc_backend *b = env->cfg->backend;
	orc_task_rec cur;
	orc_claim c;
	orc_status st;
	int again = 1, n;
	json_t *ids;

	if ((st = orc__context_workflow(&j->wf, env->ctx, req->wf_id, err)) !=
	    ORC_OK)
		return st;
	if ((st = orc_dag_find(&j->idx, j->wf->dag, req->task_id, err)) !=
	    ORC_OK)
		return orc_error_set(err, st, "workflow %s has no task %s",
				     req->wf_id, req->task_id);
	j->target = orc__lh_task_target(env, j->wf->dag, j->idx, req->target);
	if (req->target && j->target && strcmp(req->target, j->target)) {
		return orc_error_set(err, ORC_EINVAL,
				     "task %s: request target %s is not the "
				     "definition's %s", req->task_id,
				     req->target, j->target);
	}
	if (req->deadline_ms > 0 && orc__lh_now(env) >= req->deadline_ms) {
		skip(j, "deadlineMs has passed");
		return ORC_OK;
	}
	memset(&cur, 0, sizeof(cur));
	st = b->get_task(&cur, b, req->wf_id, req->task_id, 0, err);
	if (st != ORC_OK)
		return st;
	if (req->expected_version >= 0 &&
	    cur.version != req->expected_version) {
		skip(j, "task version is not expectedVersion");
		return ORC_OK;
	}
	/* Dispatched a little before its retry is due: wait for it. */
	if (cur.state == ORC_TASK_READY &&
	    cur.not_before_ms > orc__lh_now(env) && !wait_for_retry(j)) {
		skip(j, "task is backing off until a later retry");
		return ORC_OK;
	}
	for (n = 0; again && n < ATTEMPTS_MAX; n++) {
		orc_error ce;

		st = orc_workflow_claim_task(&c, env->ctx, req->wf_id,
					     req->task_id, env->owner,
					     lease_ms(j, orc__lh_now(env)),
					     &ce);
		if (st == ORC_ECONFLICT || st == ORC_ECANCELED) {
			/* Someone else has it, it is done, or it waits
			 * for a later retry: nothing for this request. */
			if (n == 0)
				skip(j, ce.message);
			return ORC_OK;
		}
		if (st != ORC_OK) {
			if (err)
				*err = ce;
			return st;
		}
		if ((st = attempt(j, &c, &again, err)) != ORC_OK)
			return st;
	}
	if (!(env->cfg->flags & ORC_LAMBDA_DISPATCH_NEXT))
		return ORC_OK;
	if (!(ids = json_array()))
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	json_object_set_new(j->answer, "dispatched", ids);
	if (strcmp(json_string_value(json_object_get(j->answer, "state")),
		   "SUCCEEDED") != 0)
		return ORC_OK;
	return dispatch_next(j, ids, err);
}

ORC_API orc_status orc_lambda_worker_handler(const char *event, size_t len,
					     const orc_lambda_context *ctx,
					     void *userdata,
					     char **response_out,
					     orc_error *err)
{
	orc__lh_task_req req;
	orc__lh_env env;
	orc_status st;
	job j;

	ORC_CHECK_ARG(response_out != NULL, err);
	*response_out = NULL;
	ORC_CHECK_ARG(event != NULL, err);
	if ((st = orc__lh_env_open(&env, H, userdata, ctx, err)) != ORC_OK)
		return st;
	if ((st = orc__lh_parse_task_req(&req, event, len, err)) != ORC_OK) {
		orc__lh_log(&env, "ERROR", "bad request",
			    json_pack("{s:s}", "error",
				      err ? err->message : ""));
		orc__lh_env_close(&env);
		return st;
	}
	if ((st = orc_dag_check_id(req.wf_id, err)) == ORC_OK &&
	    env.cfg->flags & ORC_LAMBDA_DISPATCH_NEXT &&
	    !env.cfg->worker_function)
		st = orc_error_set(err, ORC_EINVAL,
				   "worker: ORC_LAMBDA_DISPATCH_NEXT needs "
				   "worker_function");
	memset(&j, 0, sizeof(j));
	j.env = &env;
	j.req = &req;
	j.answer = json_pack("{s:s, s:s}", "workflowId", req.wf_id,
			     "taskId", req.task_id);
	if (st == ORC_OK && !j.answer)
		st = orc_error_set(err, ORC_ENOMEM, "out of memory");
	if (st == ORC_OK)
		st = run_job(&j, err);
	if (st == ORC_OK) {
		st = orc__lh_answer(response_out, j.answer, err);
		j.answer = NULL;
	} else {
		orc__lh_log(&env, "ERROR", "request failed",
			    json_pack("{s:s, s:s, s:s, s:s}", "workflowId",
				      req.wf_id, "taskId", req.task_id,
				      "status", orc_status_name(st), "error",
				      err ? err->message : ""));
	}
	json_decref(j.answer);
	orc__lh_task_req_clear(&req);
	orc__lh_env_close(&env);
	return st;
}
