/*
 * The orchestrator handler: start a workflow, follow the table's stream
 * (fan-out, then dispatch what became runnable), reconcile on a
 * schedule. Every state change is an engine call; this file only decides
 * which one a given event asks for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "engine.h"
#include "internal.h"
#include "lambda/handlers.h"
#include "orchestra/backend.h"

#define H "orchestrator"

/* A root whose dispatch failed: one write to the task (READY to READY,
 * nothing else changed) puts it in the stream, whose orchestrator then
 * dispatches it again; with no stream, reconcile does. Only this rare
 * path costs the write. */
static orc_status touch(const orc__lh_env *env, const char *wf_id,
			const char *task_id, int64_t version, orc_error *err)
{
	orc_backend *b = env->cfg->backend;
	orc_task_update u;

	orc__task_update_init(&u, orc__lh_now(env));
	u.if_states = ORC_TASK_BIT(ORC_TASK_READY);
	u.if_version = version;
	u.set = ORC_SET_NOT_BEFORE;
	return b->update_task(b, wf_id, task_id, &u, NULL, err);
}

/* After a start that seeded the workflow: its roots are READY at
 * version 1 with no attempt made, so they are dispatched without
 * listing them. */
static orc_status dispatch_roots(const orc__lh_env *env, orc__wf_cache *wf,
				 const char *correlation_id, json_t *ids,
				 orc_error *err)
{
	orc__lh_seen seen = { 1, 0, 0 };
	size_t i, n = orc_dag_task_count(wf->dag);
	const uint32_t *deps;
	orc_status st;

	for (i = 0; i < n; i++) {
		const char *id = orc__task_id_at(wf->dag, i);
		orc_error e;

		if (orc_dag_deps(&deps, wf->dag, i) != 0)
			continue;
		st = orc__lh_dispatch(env, wf->dag, wf->id, id, &seen,
				      correlation_id, &e);
		if (st == ORC_OK) {
			json_array_append_new(ids, json_string(id));
			continue;
		}
		if ((st = touch(env, wf->id, id, 1, err)) != ORC_OK)
			return st;
		orc__lh_log(env, "WARN", "dispatch left to the stream",
			    json_pack("{s:s, s:s, s:s}", "workflowId",
				      wf->id, "taskId", id, "error",
				      e.message));
	}
	return ORC_OK;
}

static orc_status on_start(const orc__lh_env *env, const char *event,
			   size_t len, char **response_out, orc_error *err)
{
	const char *rid = env->lctx ? env->lctx->request_id : NULL;
	orc_backend *b = env->cfg->backend;
	orc_workflow_rec rec;
	orc__wf_cache *wf = NULL;
	orc__lh_start s;
	json_t *ids;
	orc_status st;
	int known;

	if ((st = orc__lh_parse_start(&s, event, len, rid, err)) != ORC_OK)
		return st;
	/* Seen by this process before: not a fresh start, whatever the
	 * cache remembers of the first one. */
	for (wf = env->ctx->cache, known = 0; wf && !known; wf = wf->next)
		known = strcmp(wf->id, s.wf_id) == 0;
	wf = NULL;
	st = orc_workflow_start(env->ctx, s.wf_id, s.dag, s.input, err);
	if (st == ORC_OK)
		st = orc__context_workflow(&wf, env->ctx, s.wf_id, err);
	if (st == ORC_OK) {
		int fresh = !known && wf->created;

		orc__lh_log(env, "INFO", "workflow started",
			    json_pack("{s:s, s:I}", "workflowId", s.wf_id,
				      "tasks", (json_int_t)orc_dag_task_count(
					      s.dag)));
		memset(&rec, 0, sizeof(rec));
		rec.state = ORC_WORKFLOW_RUNNING;
		if (!(ids = json_array()))
			st = orc_error_set(err, ORC_ENOMEM, "out of memory");
		else if (fresh)
			st = dispatch_roots(env, wf, s.correlation_id, ids,
					    err);
		else
			st = orc__lh_dispatch_ready(env, s.wf_id,
						    s.correlation_id, ids,
						    err);
		/* A fresh start knows the state it wrote. */
		if (st == ORC_OK && !fresh)
			st = b->get_workflow(&rec, b, s.wf_id, err);
		if (st == ORC_OK)
			st = orc__lh_answer(response_out,
					    json_pack("{s:s, s:s, s:o}",
						      "workflowId", s.wf_id,
						      "state",
						      orc_workflow_state_name(
							      rec.state),
						      "dispatched", ids), err);
		else
			json_decref(ids);
		orc_workflow_rec_clear(&rec);
	}
	orc__lh_start_clear(&s);
	return st;
}

/* ---- stream ---- */

/* The cached definition of a record's workflow and the task's index. */
static orc_status record_task(orc__wf_cache **wf, size_t *idx,
			      const orc__lh_env *env, const orc__lh_record *r,
			      orc_error *err)
{
	orc_status st;

	if ((st = orc__context_workflow(wf, env->ctx, r->wf_id, err)) != ORC_OK)
		return st;
	if ((st = orc_dag_find(idx, (*wf)->dag, r->task_id, err)) != ORC_OK)
		return orc_error_set(err, st, "workflow %s has no task %s",
				     r->wf_id, r->task_id);
	return ORC_OK;
}

/* Does record @p r show that @p dep's mark is on its task: the done set
 * has it, or the task is past PENDING? */
static int shows_mark(const orc__lh_record *r, const char *dep)
{
	size_t i;
	json_t *v;

	if (r->bad || r->remove || r->kind != ORC__REC_TASK)
		return 0;
	if (r->new_state != ORC_TASK_PENDING)
		return 1;
	json_array_foreach(r->done_deps, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), dep))
			return 1;
	return 0;
}

/* Clear what the records of @p batch show of the pending fan-outs. */
static void pending_seen(orc_lambda_handlers *h, const orc__lh_batch *batch)
{
	size_t p, i;

	for (p = 0; p < h->npending; p++) {
		orc__lh_pending *pe = &h->pending[p];
		orc__wf_cache *wf;
		size_t idx;
		const uint32_t *succ;
		size_t n, k;

		if (orc__context_workflow(&wf, h->ctx, pe->wf, NULL) != ORC_OK ||
		    orc_dag_find(&idx, wf->dag, pe->task, NULL) != ORC_OK) {
			pe->missing = 0;
			continue;
		}
		n = orc_dag_dependents(&succ, wf->dag, idx);
		for (k = 0; k < n && k < 64; k++) {
			const char *d = orc__task_id_at(wf->dag, succ[k]);

			if (!(pe->missing & (1ull << k)))
				continue;
			for (i = 0; i < batch->n; i++) {
				const orc__lh_record *r = &batch->recs[i];

				if (!strcmp(r->wf_id, pe->wf) &&
				    !strcmp(r->task_id, d) &&
				    shows_mark(r, pe->task)) {
					pe->missing &= ~(1ull << k);
					break;
				}
			}
		}
	}
}

/* Drop the pending fan-outs that are settled. */
static void pending_compact(orc_lambda_handlers *h)
{
	size_t p, n = 0;

	for (p = 0; p < h->npending; p++)
		if (h->pending[p].missing)
			h->pending[n++] = h->pending[p];
	h->npending = n;
}

/*
 * A task succeeded. The worker that completed it marked it done in its
 * dependents in the writes that follow (orc_workflow_complete), and the
 * stream shows those marks: the orchestrator only writes them itself
 * when they have not shown up within ORC__LH_MARK_GRACE_MS (the worker
 * died between its writes). Marking twice is marking once, so a late
 * record costs a write, not correctness.
 */
static orc_status fan_out(const orc__lh_env *env, const orc__lh_record *r,
			  orc_error *err)
{
	orc_lambda_handlers *h = env->keep;
	const uint32_t *succ;
	orc__wf_cache *wf;
	orc_status st;
	size_t idx, n, i;
	uint64_t missing = 0;

	if ((st = record_task(&wf, &idx, env, r, err)) != ORC_OK)
		return st;
	n = orc_dag_dependents(&succ, wf->dag, idx);
	for (i = 0; i < n && i < 64; i++)
		missing |= 1ull << i;
	if (h && n <= 64 && h->npending < ORC__LH_PENDING_MAX && n) {
		orc__lh_pending *pe = &h->pending[h->npending++];

		memcpy(pe->wf, r->wf_id, sizeof(pe->wf));
		memcpy(pe->task, r->task_id, sizeof(pe->task));
		pe->missing = missing;
		pe->due_ms = orc__lh_now(env) + ORC__LH_MARK_GRACE_MS;
		return ORC_OK;
	}
	/* Nowhere to wait for the marks: write them (idempotent). */
	for (i = 0; i < n; i++) {
		st = orc_workflow_mark_dep_done(env->ctx, r->wf_id,
						orc__task_id_at(wf->dag,
								succ[i]),
						r->task_id, err);
		if (st != ORC_OK)
			return st;
	}
	return ORC_OK;
}

/* The marks still missing past their grace, written. */
static orc_status pending_repair(const orc__lh_env *env, int all,
				 orc_error *err)
{
	orc_lambda_handlers *h = env->keep;
	int64_t now = orc__lh_now(env);
	orc_status st = ORC_OK;
	size_t p, k;

	for (p = 0; h && st == ORC_OK && p < h->npending; p++) {
		orc__lh_pending *pe = &h->pending[p];
		const uint32_t *succ;
		orc__wf_cache *wf;
		size_t idx, n;

		if (!pe->missing || (!all && pe->due_ms > now))
			continue;
		if ((st = orc__context_workflow(&wf, env->ctx, pe->wf, err)) !=
			    ORC_OK ||
		    (st = orc_dag_find(&idx, wf->dag, pe->task, err)) !=
			    ORC_OK)
			break;
		n = orc_dag_dependents(&succ, wf->dag, idx);
		for (k = 0; st == ORC_OK && k < n && k < 64; k++) {
			if (!(pe->missing & (1ull << k)))
				continue;
			st = orc_workflow_mark_dep_done(
				env->ctx, pe->wf,
				orc__task_id_at(wf->dag, succ[k]), pe->task,
				err);
			if (st == ORC_OK)
				pe->missing &= ~(1ull << k);
		}
		if (st == ORC_OK)
			orc__lh_log(env, "WARN", "fan-out repaired",
				    json_pack("{s:s, s:s}", "workflowId",
					      pe->wf, "taskId", pe->task));
	}
	if (h)
		pending_compact(h);
	return st;
}

typedef struct sent {
	char wf[ORC_ID_MAX + 1], task[ORC_ID_MAX + 1];
	int64_t version;
} sent;

/* A task that became READY (promoted, or touched after a failed
 * dispatch) is dispatched as its new image shows it: the worker claims
 * it at that version or not at all, so a redelivered or late record
 * costs one refused claim and runs nothing twice. */
static orc_status promoted(const orc__lh_env *env, const orc__lh_record *r,
			   sent *done, size_t *ndone, size_t cap,
			   orc_error *err)
{
	orc__lh_seen seen;
	orc__wf_cache *wf;
	orc_status st;
	size_t i, idx;

	for (i = 0; i < *ndone; i++)
		if (!strcmp(done[i].wf, r->wf_id) &&
		    !strcmp(done[i].task, r->task_id) &&
		    done[i].version == r->new_version)
			return ORC_OK;
	if ((st = record_task(&wf, &idx, env, r, err)) != ORC_OK)
		return st;
	/* A retry due later is the reconcile schedule's. */
	if (r->not_before_ms > orc__lh_now(env) +
	    orc__lh_retry_wait_ms(env->cfg))
		return ORC_OK;
	seen.version = r->new_version;
	seen.attempts_made = r->attempt;
	seen.not_before_ms = r->not_before_ms;
	st = orc__lh_dispatch(env, wf->dag, r->wf_id, r->task_id, &seen, NULL,
			      err);
	if (st == ORC_OK && *ndone < cap) {
		sent *s = &done[(*ndone)++];

		memcpy(s->wf, r->wf_id, sizeof(s->wf));
		memcpy(s->task, r->task_id, sizeof(s->task));
		s->version = r->new_version;
	}
	return st;
}

static orc_status on_record(const orc__lh_env *env, const orc__lh_record *r,
			    sent *done, size_t *ndone, size_t cap,
			    orc_error *err)
{
	if (r->bad)
		return orc_error_set(err, ORC_EINVAL, "%s", r->why);
	if (r->kind == ORC__REC_OTHER || r->remove)
		return ORC_OK;
	if (r->kind == ORC__REC_WORKFLOW) {
		if (orc_workflow_state_is_terminal(
			    (orc_workflow_state)r->new_state) &&
		    r->old_state >= 0 && r->old_state != r->new_state &&
		    !orc_workflow_state_is_terminal(
			    (orc_workflow_state)r->old_state))
			orc__lh_metric_workflow(env, r->wf_id,
				orc_workflow_state_name(
					(orc_workflow_state)r->new_state),
				r->updated_ms - r->created_ms);
		return ORC_OK;
	}
	if (r->new_state == ORC_TASK_SUCCEEDED &&
	    r->old_state != ORC_TASK_SUCCEEDED)
		return fan_out(env, r, err);
	/* Promoted, or touched after a failed dispatch (a root's INSERT
	 * at version 1 is the start's to dispatch). */
	if (r->new_state == ORC_TASK_READY &&
	    (r->old_state == ORC_TASK_PENDING ||
	     r->old_state == ORC_TASK_READY ||
	     (r->insert && r->new_version > 1)))
		return promoted(env, r, done, ndone, cap, err);
	return ORC_OK;
}

static orc_status on_stream(const orc__lh_env *env, const char *event,
			    size_t len, char **response_out, orc_error *err)
{
	orc__lh_batch batch;
	json_t *fails;
	sent *done = NULL;
	size_t i, ndone = 0, nfail = 0;
	int retry_rest = 0;
	orc_status st;

	if ((st = orc__lh_parse_stream(&batch, event, len, err)) != ORC_OK)
		return st;
	if (!(fails = json_array()) ||
	    (batch.n && !(done = orc__calloc(batch.n, sizeof(*done))))) {
		json_decref(fails);
		orc__lh_batch_clear(&batch);
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	}
	for (i = 0; i < batch.n; i++) {
		const orc__lh_record *r = &batch.recs[i];
		orc_error rerr;
		orc_status rst;

		memset(&rerr, 0, sizeof(rerr));
		if (retry_rest) {
			/* Lambda retries from the first failed record on:
			 * the rest waits for that instead of running twice. */
			rst = orc_error_set(&rerr, ORC_ETHROTTLED, "an earlier "
					    "record of the batch failed");
		} else {
			rst = on_record(env, r, done, &ndone, batch.n, &rerr);
			if (rst == ORC_OK)
				continue;
			/* A dispatch or a storage request that failed may
			 * work when the event source retries it. */
			retry_rest = rst != ORC_EINVAL && rst != ORC_ENOTFOUND &&
				     rst != ORC_EPARSE;
		}
		nfail++;
		orc__lh_log(env, "ERROR", "stream record not processed",
			    json_pack("{s:s?, s:s, s:s, s:s}", "eventID",
				      r->event_id, "workflowId", r->wf_id,
				      "taskId", r->task_id, "error",
				      rerr.message));
		if (!r->event_id) {
			/* Lambda can only retry such a record with the
			 * whole batch. */
			st = orc_error_set(err, rerr.code,
					   "Records[%zu] has no eventID and "
					   "failed: %s", i, rerr.message);
			break;
		}
		json_array_append_new(fails, json_pack("{s:s}",
						       "itemIdentifier",
						       r->event_id));
	}
	/* The marks this batch shows, for the fan-outs waiting on them
	 * (those of this batch included). */
	if (env->keep)
		pending_seen(env->keep, &batch);
	/* A failure here is the next batch's to retry. */
	if (st == ORC_OK) {
		orc_error perr;

		if (pending_repair(env, 0, &perr) != ORC_OK)
			orc__lh_log(env, "ERROR", "fan-out repair failed",
				    json_pack("{s:s}", "error",
					      perr.message));
	}
	orc__lh_log(env, "INFO", "stream batch",
		    json_pack("{s:I, s:I, s:I}", "records",
			      (json_int_t)batch.n, "failed",
			      (json_int_t)nfail, "dispatched",
			      (json_int_t)ndone));
	orc_free(done);
	orc__lh_batch_clear(&batch);
	if (st != ORC_OK) {
		json_decref(fails);
		return st;
	}
	return orc__lh_answer(response_out,
			      json_pack("{s:o}", "batchItemFailures", fails),
			      err);
}

/* ---- reconcile ---- */

struct wf_ids {
	size_t n, cap;
	char (*v)[ORC_ID_MAX + 1];
	int nomem;
};

static int collect_live(const orc_workflow_rec *rec, void *payload)
{
	struct wf_ids *l = payload;

	if (orc_workflow_state_is_terminal(rec->state))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *v = orc__realloc(l->v, cap * sizeof(*l->v));

		if (!v) {
			l->nomem = 1;
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	memcpy(l->v[l->n++], rec->id, sizeof(rec->id));
	return 0;
}

static orc_status reconcile_one(const orc__lh_env *env, const char *wf_id,
				json_t *out, orc_error *err)
{
	orc_reconcile_report rep;
	json_t *ids = json_array();
	orc_status st;

	if (!ids)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	st = orc_workflow_reconcile(&rep, env->ctx, wf_id, err);
	if (st == ORC_OK && !orc_workflow_state_is_terminal(rep.state))
		st = orc__lh_dispatch_ready(env, wf_id, NULL, ids, err);
	if (st != ORC_OK) {
		json_decref(ids);
		return st;
	}
	if (orc_workflow_state_is_terminal(rep.state) &&
	    (rep.expired || rep.canceled))
		orc__lh_workflow_ended(env, wf_id);
	json_array_append_new(out, json_pack(
		"{s:s, s:s, s:i, s:i, s:i, s:i, s:o}", "workflowId", wf_id,
		"state", orc_workflow_state_name(rep.state), "expired",
		(int)rep.expired, "fanoutRedone", (int)rep.fanout_redone,
		"promoted", (int)rep.promoted, "canceled", (int)rep.canceled,
		"dispatched", ids));
	return ORC_OK;
}

static orc_status on_reconcile(const orc__lh_env *env, json_t *root,
			       char **response_out, orc_error *err)
{
	orc_backend *b = env->cfg->backend;
	json_t *wid = json_object_get(root, "workflowId"), *out;
	struct wf_ids l;
	orc_status st = ORC_OK;
	size_t i;

	memset(&l, 0, sizeof(l));
	if (wid && !json_is_string(wid))
		return orc_error_set(err, ORC_EINVAL,
				     "reconcile: \"workflowId\" must be a "
				     "string");
	if (!(out = json_array()))
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	if (wid) {
		st = reconcile_one(env, json_string_value(wid), out, err);
	} else if (!ORC_BACKEND_HAS(b, list_live, 4) &&
		   !ORC_BACKEND_HAS(b, list_workflows, 1)) {
		st = orc_error_set(err, ORC_ENOTSUPPORTED,
				   "reconcile: backend %s cannot list "
				   "workflows; give \"workflowId\"", b->name);
	} else {
		/* The live listing costs what is live (DynamoDB: the sparse
		 * index orc-live); the full listing reads every workflow
		 * ever run. The ids are collected first: the callback may
		 * not call back into the backend. */
		if (ORC_BACKEND_HAS(b, list_live, 4)) {
			orc_live_query q;

			memset(&q, 0, sizeof(q));
			q.kind = ORC_LIVE_WORKFLOWS;
			st = b->list_live(b, &q, collect_live, &l, err);
		} else {
			st = b->list_workflows(b, collect_live, &l, err);
		}
		if (st == ORC_OK && l.nomem)
			st = orc_error_set(err, ORC_ENOMEM, "out of memory");
		/* One workflow's trouble does not stop the others. */
		for (i = 0; st == ORC_OK && i < l.n; i++) {
			orc_error e;

			if (reconcile_one(env, l.v[i], out, &e) != ORC_OK)
				orc__lh_log(env, "ERROR", "reconcile failed",
					    json_pack("{s:s, s:s}",
						      "workflowId", l.v[i],
						      "error", e.message));
		}
	}
	orc_free(l.v);
	if (st != ORC_OK) {
		json_decref(out);
		return st;
	}
	orc__lh_log(env, "INFO", "reconciled",
		    json_pack("{s:I}", "workflows",
			      (json_int_t)json_array_size(out)));
	return orc__lh_answer(response_out, json_pack("{s:o}", "workflows",
						      out), err);
}

static orc_status orchestrate(orc_lambda_handlers *keep,
			      const orc_lambda_handler_config *cfg,
			      const char *event, size_t len,
			      const orc_lambda_context *ctx,
			      char **response_out, orc_error *err)
{
	orc__lh_env env;
	orc__lh_kind kind;
	json_t *root = NULL;
	orc_status st;

	ORC_CHECK_ARG(response_out != NULL, err);
	*response_out = NULL;
	ORC_CHECK_ARG(event != NULL, err);
	if ((st = orc__lh_env_open(&env, H, keep, cfg, ctx, err)) != ORC_OK)
		return st;
	if (!env.cfg->worker_function)
		st = orc_error_set(err, ORC_EINVAL, H ": config has no "
				   "worker_function to dispatch to");
	if (st == ORC_OK &&
	    (st = orc__lh_parse_object(&root, event, len, "event", err)) ==
		    ORC_OK &&
	    (st = orc__lh_classify(&kind, root, err)) == ORC_OK) {
		if (kind == ORC__LH_START)
			st = on_start(&env, event, len, response_out, err);
		else if (kind == ORC__LH_STREAM)
			st = on_stream(&env, event, len, response_out, err);
		else
			st = on_reconcile(&env, root, response_out, err);
	}
	if (st != ORC_OK)
		orc__lh_log(&env, "ERROR", "event failed",
			    json_pack("{s:s, s:s}", "status",
				      orc_status_name(st), "error",
				      err ? err->message : ""));
	json_decref(root);
	orc__lh_env_close(&env);
	return st;
}

ORC_API orc_status orc_lambda_orchestrator_handler(
	const char *event, size_t len, const orc_lambda_context *ctx,
	void *userdata, char **response_out, orc_error *err)
{
	return orchestrate(NULL, userdata, event, len, ctx, response_out,
			   err);
}

ORC_API orc_status orc_lambda_handlers_orchestrator(
	const char *event, size_t len, const orc_lambda_context *ctx,
	void *userdata, char **response_out, orc_error *err)
{
	orc_lambda_handlers *h = userdata;

	if (response_out)
		*response_out = NULL;
	ORC_CHECK_ARG(h != NULL, err);
	return orchestrate(h, h->cfg, event, len, ctx, response_out, err);
}
