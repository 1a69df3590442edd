/*
 * The worker handler: one TaskExecutionRequest, one task. Claim under
 * the version lock, run the target (a C handler linked in, else a
 * RequestResponse invocation), complete or fail; retries whose backoff
 * fits the invocation run here; optionally dispatch what became
 * runnable.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "context.h"
#include "engine.h"
#include "internal.h"
#include "lambda/handlers.h"
#include "orchestra/backend.h"
#include "orchestra/backends.h"

#define H "worker"
#define LEASE_GRACE_MS 5000
#define ATTEMPTS_MAX 100
/* Storage retries stop this long before the invocation's deadline, or
 * after this long without one. */
#define STORAGE_MARGIN_MS 3000
#define STORAGE_RETRY_MS 30000

typedef struct job {
	const orc__lh_env *env;
	const orc__lh_task_req *req;
	orc__wf_cache *wf;
	size_t idx;
	const char *target;
	json_t *answer;         /* the handler's response object */
	int64_t lease_ms;       /* of the current claim */
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

/*
 * The lease of a claim: the configured one, else the task's timeoutMs
 * when shorter than ORC_LAMBDA_LEASE_DEFAULT_MS, else that default;
 * never past the invocation's deadline (plus a grace), where Lambda
 * stops the worker anyway. Heartbeats renew it while the target runs,
 * so a worker that dies is found by reconcile one lease later.
 */
/*
 * A storage request or a dispatch that failed past its own retries
 * (throttled, 5xx, a dropped connection) is tried again while the
 * invocation has time left, with capped backoff: Lambda's own retry of
 * the event comes minutes later, and after a claim the lease would run
 * out first. The engine's writes are conditional and recognise their
 * own applied writes, and a dispatch names the version it expects, so
 * trying again is safe. Returns 1 after waiting, 0 when the error is
 * not transient or no time is left.
 */
static int storage_retry(const job *j, orc_status st, int *n)
{
	const orc_lambda_handler_config *cfg = j->env->cfg;
	int64_t wait, now = orc__lh_now(j->env), end;

	if (st != ORC_EBACKEND && st != ORC_ETHROTTLED && st != ORC_ETIMEOUT)
		return 0;
	end = j->env->lctx && j->env->lctx->deadline_ms > 0 ?
	      j->env->lctx->deadline_ms - STORAGE_MARGIN_MS :
	      now + STORAGE_RETRY_MS;
	wait = (int64_t)100 << (*n < 5 ? *n : 5);   /* 0.1 s .. 3.2 s */
	if (now + wait > end || *n >= 64)
		return 0;
	(*n)++;
	orc__lh_log(j->env, "WARN", "request failed, trying again",
		    json_pack("{s:s, s:s, s:i}", "workflowId", j->req->wf_id,
			      "status", orc_status_name(st), "try", *n));
	(cfg->sleep ? cfg->sleep : default_sleep)(wait, cfg->sleep_payload);
	return 1;
}

static int64_t lease_ms(const job *j, int64_t now)
{
	const orc_lambda_handler_config *cfg = j->env->cfg;
	int64_t end = 0, ms = ORC_LAMBDA_LEASE_DEFAULT_MS;
	orc_task_spec spec = ORC_TASK_SPEC_INIT;

	if (cfg->lease_ms > 0)
		return cfg->lease_ms;
	if (orc_dag_task_get(&spec, j->wf->dag, j->idx, NULL) == ORC_OK &&
	    spec.timeout_ms > 0 && spec.timeout_ms < ms)
		ms = spec.timeout_ms;
	if (j->env->lctx && j->env->lctx->deadline_ms > 0)
		end = j->env->lctx->deadline_ms;
	if (j->req->deadline_ms > 0 && (!end || j->req->deadline_ms < end))
		end = j->req->deadline_ms;
	if (end && end - now + LEASE_GRACE_MS < ms)
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
 * Heartbeats while the target runs: a thread renews the lease every
 * third of it, each a write fenced by the current token (one request).
 * The main thread does not touch the backend meanwhile (it waits on the
 * target), so the backend is never used by two threads at once.
 */
typedef struct beat {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, started;
	const job *j;
	const char *task_id;
	int64_t token;          /* the claim's, then each heartbeat's */
	int lost;               /* refused: the lease is someone else's */
	int beats;
} beat;

static void *beat_main(void *p)
{
	beat *bt = p;
	const orc__lh_env *env = bt->j->env;
	orc_backend *b = env->cfg->backend;
	int64_t every = bt->j->lease_ms / 3;
	struct timespec ts;

	pthread_mutex_lock(&bt->mu);
	while (!bt->stop && !bt->lost) {
		orc_task_update u;
		orc_status st;
		int rc = 0;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(every / 1000);
		ts.tv_nsec += (long)(every % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!bt->stop && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&bt->cv, &bt->mu, &ts);
		if (bt->stop)
			break;
		orc__task_update_init(&u, orc__lh_now(env));
		u.if_states = ORC_TASK_BIT(ORC_TASK_RUNNING);
		u.if_version = bt->token;
		u.set = ORC_SET_LEASE;
		u.owner = env->owner;
		u.lease_expiry_ms = u.now_ms + bt->j->lease_ms;
		st = b->update_task(b, bt->j->req->wf_id, bt->task_id, &u, NULL,
				    NULL);
		if (st == ORC_OK) {
			bt->token++;
			bt->beats++;
		} else if (st == ORC_ECONFLICT || st == ORC_ENOTFOUND) {
			bt->lost = 1;
		}
		/* Other errors: the next beat tries again. */
	}
	pthread_mutex_unlock(&bt->mu);
	return NULL;
}

static void beat_start(beat *bt, const job *j, const orc_claim *c)
{
	memset(bt, 0, sizeof(*bt));
	bt->j = j;
	bt->task_id = c->task_id;
	bt->token = c->token;
	if (j->lease_ms < 3)
		return;
	pthread_mutex_init(&bt->mu, NULL);
	pthread_cond_init(&bt->cv, NULL);
	bt->started = pthread_create(&bt->th, NULL, beat_main, bt) == 0;
	if (!bt->started) {
		pthread_cond_destroy(&bt->cv);
		pthread_mutex_destroy(&bt->mu);
	}
}

/* Stop the heartbeats; the token to write the result with. */
static int64_t beat_stop(beat *bt)
{
	if (bt->started) {
		pthread_mutex_lock(&bt->mu);
		bt->stop = 1;
		pthread_cond_signal(&bt->cv);
		pthread_mutex_unlock(&bt->mu);
		pthread_join(bt->th, NULL);
		pthread_cond_destroy(&bt->cv);
		pthread_mutex_destroy(&bt->mu);
		bt->started = 0;
	}
	return bt->token;
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

/*
 * Before completing: forget what the context knew of the dependents
 * becoming READY, so that afterwards a hint means this completion
 * promoted it; and tell the backend of each dependent whose other
 * dependencies are all known done (by this process, or none), so that
 * its mark and promotion are one write (DynamoDB: one UpdateItem, not
 * two). Other backends have no such op and promote in one write anyway.
 */
static void forget_promotions(job *j)
{
	orc_backend *b = j->env->cfg->backend;
	const uint32_t *succ, *deps;
	size_t n = orc_dag_dependents(&succ, j->wf->dag, j->idx), i, k, nd;

	for (i = 0; i < n; i++) {
		orc_dynamodb_dep_hint h;
		uint32_t known = 0;

		orc__hint_drop(j->wf, succ[i]);
		nd = orc_dag_deps(&deps, j->wf->dag, succ[i]);
		for (k = 0; k < nd; k++)
			if (deps[k] != j->idx && orc__known_done(j->wf, deps[k]))
				known++;
		if (!b->ctl || nd == 0 || known + 1 != nd || nd > UINT32_MAX)
			continue;
		h.wf_id = j->req->wf_id;
		h.task_id = orc__task_id_at(j->wf->dag, succ[i]);
		h.ndeps = (uint32_t)nd;
		h.ndone = known;
		b->ctl(b, ORC_DYNAMODB_CTL_DEP_HINT, &h, NULL);
	}
}

/* The tasks this one's completion made runnable, dispatched: the
 * completion's own writes said which became READY and at what version
 * (engine hints), with no attempt made and no backoff. */
static orc_status dispatch_next(job *j, json_t *ids, orc_error *err)
{
	const uint32_t *succ;
	size_t n = orc_dag_dependents(&succ, j->wf->dag, j->idx), i;
	orc_status st;
	int tries = 0;

	if (n == 0) {
		/* The completion that ended the workflow says so (the
		 * engine remembers); other sinks leave the metric to it. */
		if (j->wf->ended)
			orc__lh_workflow_ended(j->env, j->req->wf_id);
		return ORC_OK;
	}
	for (i = 0; i < n; i++) {
		const char *id = orc__task_id_at(j->wf->dag, succ[i]);
		orc__lh_seen seen = { -1, 0, 0 };

		if (!j->wf->hint_ver || !j->wf->hint_ver[succ[i]])
			continue;
		seen.version = j->wf->hint_ver[succ[i]];
		orc__hint_drop(j->wf, succ[i]);
		/* No stream follows: a dispatch lost here would wait for
		 * the reconcile schedule. */
		do
			st = orc__lh_dispatch(j->env, j->wf->dag,
					      j->req->wf_id, id, &seen,
					      j->req->correlation_id, err);
		while (st != ORC_OK && storage_retry(j, st, &tries));
		if (st != ORC_OK)
			return st;
		json_array_append_new(ids, json_string(id));
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

/*
 * Complete (@p output given or @p ok) or fail the attempt, riding out
 * transient storage faults. A completion or failure is several writes
 * (the task, then its dependents' marks or cancellations, then maybe
 * the workflow); when a fault cut it short after the task's own write
 * was applied, writing it again would be refused, so the rest is left
 * to orc_workflow_reconcile() on this workflow, which redoes exactly
 * what is missing.
 */
static orc_status write_result(job *j, const orc_claim *c, int64_t token,
			       int ok, const char *output, const char *error,
			       int *final, orc_error *e)
{
	const orc__lh_env *env = j->env;
	orc_backend *b = env->cfg->backend;
	orc_status st;
	int tries = 0;

	for (;;) {
		orc_reconcile_report rep;
		orc_task_rec cur;
		orc_status rst;

		if (ok)
			st = orc_workflow_complete(env->ctx, j->req->wf_id,
						   c->task_id, token, output,
						   e);
		else
			st = orc_workflow_fail(final, env->ctx,
					       j->req->wf_id, c->task_id,
					       token, error, e);
		if (st == ORC_OK || !storage_retry(j, st, &tries))
			return st;
		/* Where did it stop? */
		do {
			memset(&cur, 0, sizeof(cur));
			rst = b->get_task(&cur, b, j->req->wf_id, c->task_id,
					  0, e);
		} while (rst != ORC_OK && storage_retry(j, rst, &tries));
		if (rst != ORC_OK)
			return rst;
		if (cur.state == ORC_TASK_RUNNING && cur.version == token)
			continue;       /* nothing applied: write it again */
		if (cur.version != token + 1 ||
		    (ok && cur.state != ORC_TASK_SUCCEEDED) ||
		    (!ok && cur.state != ORC_TASK_READY &&
		     cur.state != ORC_TASK_FAILED))
			return orc_error_set(e, ORC_ECONFLICT, "task %s: "
					     "fencing token %lld is stale",
					     c->task_id, (long long)token);
		if (!ok)
			*final = cur.state == ORC_TASK_FAILED;
		if (ok)
			orc__remember_output(j->wf, j->idx, output);
		do
			st = orc_workflow_reconcile(&rep, env->ctx,
						    j->req->wf_id, e);
		while (st != ORC_OK && storage_retry(j, st, &tries));
		return st;
	}
}

/* One claimed attempt; *again set when a retry should follow here. */
static orc_status attempt(job *j, const orc_claim *c, int *again,
			  orc_error *err)
{
	const orc__lh_env *env = j->env;
	char *payload = NULL, *output = NULL, *error = NULL;
	int64_t t0 = orc__lh_now(env), token;
	const char *outcome;
	int final = 0, tries = 0;
	orc_status st, run;
	orc_error e;
	beat bt;

	*again = 0;
	do
		st = orc_workflow_payload(&payload, env->ctx, j->req->wf_id, c,
					  err);
	while (st != ORC_OK && storage_retry(j, st, &tries));
	if (st != ORC_OK)
		return st;
	beat_start(&bt, j, c);
	run = run_target(j, payload, &output, &error);
	token = beat_stop(&bt);
	orc_free(payload);
	if (bt.beats)
		orc__lh_log(env, "INFO", "lease renewed",
			    json_pack("{s:s, s:s, s:i, s:b}", "workflowId",
				      j->req->wf_id, "taskId", c->task_id,
				      "heartbeats", bt.beats, "lost",
				      bt.lost));
	if (run == ORC_OK) {
		memset(&e, 0, sizeof(e));
		forget_promotions(j);
		st = write_result(j, c, token, 1, output && *output ? output :
				  NULL, NULL, NULL, &e);
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
		st = write_result(j, c, token, 0, NULL, error ? error :
				  "out of memory", &final, &e);
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

/* The task as this invocation's own claim left it: RUNNING under our
 * owner name (unique per invocation). */
static orc_status own_claim(orc_claim *c, const job *j, orc_error *err)
{
	orc_backend *b = j->env->cfg->backend;
	orc_task_rec cur;
	orc_status st;

	memset(&cur, 0, sizeof(cur));
	st = b->get_task(&cur, b, j->req->wf_id, j->req->task_id, 0, err);
	if (st != ORC_OK)
		return st;
	if (cur.state != ORC_TASK_RUNNING || strcmp(cur.owner, j->env->owner))
		return ORC_ECONFLICT;
	memset(c, 0, sizeof(*c));
	orc__strlcpy(c->task_id, j->req->task_id, sizeof(c->task_id));
	c->task_index = j->idx;
	c->token = cur.version;
	c->attempt = cur.attempt;
	c->lease_expiry_ms = cur.lease_expiry_ms;
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
	int again = 1, n, direct, tries = 0;
	int64_t expected;
	int32_t made;
	json_t *ids;

	do
		st = orc__context_workflow(&j->wf, env->ctx, req->wf_id, err);
	while (st != ORC_OK && storage_retry(j, st, &tries));
	if (st != ORC_OK)
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
	/* The dispatcher said how it saw the task: claim it at that
	 * version without reading it first, the write's condition checks
	 * it (a request of the seed's shape is read first). */
	direct = req->expected_version >= 0 && req->attempts_made >= 0 &&
		 req->not_before_ms <= orc__lh_now(env);
	expected = req->expected_version;
	made = (int32_t)req->attempts_made;
	if (!direct) {
		do {
			memset(&cur, 0, sizeof(cur));
			st = b->get_task(&cur, b, req->wf_id, req->task_id, 0,
					 err);
		} while (st != ORC_OK && storage_retry(j, st, &tries));
		if (st != ORC_OK)
			return st;
		if (req->expected_version >= 0 &&
		    cur.version != req->expected_version) {
			skip(j, "task version is not expectedVersion");
			return ORC_OK;
		}
		/* Dispatched a little before its retry is due: wait. */
		if (cur.state == ORC_TASK_READY &&
		    cur.not_before_ms > orc__lh_now(env)) {
			if (!wait_for_retry(j)) {
				skip(j, "task is backing off until a later "
				     "retry");
				return ORC_OK;
			}
		} else if (cur.state == ORC_TASK_READY) {
			/* Just read: claimed as it is. */
			direct = 1;
			expected = cur.version;
			made = cur.attempt;
		}
	}
	for (n = 0; again && n < ATTEMPTS_MAX; n++) {
		orc_error ce;

		do {
			j->lease_ms = lease_ms(j, orc__lh_now(env));
			if (n == 0 && direct)
				st = orc__claim_at(&c, env->ctx, j->wf, j->idx,
						   expected, made, env->owner,
						   j->lease_ms, &ce);
			else
				st = orc_workflow_claim_task(
					&c, env->ctx, req->wf_id, req->task_id,
					env->owner, j->lease_ms, &ce);
		} while (st != ORC_OK && storage_retry(j, st, &tries));
		/* Refused after a fault: maybe our own claim was applied
		 * and its answer lost. */
		if (st == ORC_ECONFLICT && tries > 0 &&
		    own_claim(&c, j, &ce) == ORC_OK)
			st = ORC_OK;
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

static orc_status work(orc_lambda_handlers *keep,
		       const orc_lambda_handler_config *cfg, const char *event,
		       size_t len, const orc_lambda_context *ctx,
		       char **response_out, orc_error *err)
{
	orc__lh_task_req req;
	orc__lh_env env;
	orc_status st;
	job j;

	ORC_CHECK_ARG(response_out != NULL, err);
	*response_out = NULL;
	ORC_CHECK_ARG(event != NULL, err);
	if ((st = orc__lh_env_open(&env, H, keep, cfg, ctx, err)) != ORC_OK)
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

ORC_API orc_status orc_lambda_worker_handler(const char *event, size_t len,
					     const orc_lambda_context *ctx,
					     void *userdata,
					     char **response_out,
					     orc_error *err)
{
	return work(NULL, userdata, event, len, ctx, response_out, err);
}

ORC_API orc_status orc_lambda_handlers_worker(
	const char *event, size_t len, const orc_lambda_context *ctx,
	void *userdata, char **response_out, orc_error *err)
{
	orc_lambda_handlers *h = userdata;

	if (response_out)
		*response_out = NULL;
	ORC_CHECK_ARG(h != NULL, err);
	return work(h, h->cfg, event, len, ctx, response_out, err);
}
