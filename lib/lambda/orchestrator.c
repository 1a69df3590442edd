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
#include "internal.h"
#include "lambda/handlers.h"
#include "orchestra/backend.h"

#define H "orchestrator"

static orc_status on_start(const orc__lh_env *env, const char *event,
			   size_t len, char **response_out, orc_error *err)
{
	const char *rid = env->lctx ? env->lctx->request_id : NULL;
	orc_backend *b = env->cfg->backend;
	orc_workflow_rec rec;
	orc__lh_start s;
	json_t *ids;
	orc_status st;

	if ((st = orc__lh_parse_start(&s, event, len, rid, err)) != ORC_OK)
		return st;
	st = orc_workflow_start(env->ctx, s.wf_id, s.dag, s.input, err);
	if (st == ORC_OK) {
		orc__lh_log(env, "INFO", "workflow started",
			    json_pack("{s:s, s:I}", "workflowId", s.wf_id,
				      "tasks", (json_int_t)orc_dag_task_count(
					      s.dag)));
		if (!(ids = json_array()))
			st = orc_error_set(err, ORC_ENOMEM, "out of memory");
		else
			st = orc__lh_dispatch_ready(env, s.wf_id,
						    s.correlation_id, ids,
						    err);
		memset(&rec, 0, sizeof(rec));
		if (st == ORC_OK)
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

/* Dependents of a task that succeeded learn it (idempotent). */
static orc_status fan_out(const orc__lh_env *env, const orc__lh_record *r,
			  orc_error *err)
{
	const uint32_t *succ;
	orc__wf_cache *wf;
	orc_status st;
	size_t idx, n, i;

	if ((st = record_task(&wf, &idx, env, r, err)) != ORC_OK)
		return st;
	n = orc_dag_dependents(&succ, wf->dag, idx);
	for (i = 0; i < n; i++) {
		orc_task_spec spec = ORC_TASK_SPEC_INIT;

		orc_dag_task_get(&spec, wf->dag, succ[i], NULL);
		st = orc_workflow_mark_dep_done(env->ctx, r->wf_id, spec.id,
						r->task_id, err);
		if (st != ORC_OK)
			return st;
	}
	return ORC_OK;
}

typedef struct sent {
	char wf[ORC_ID_MAX + 1], task[ORC_ID_MAX + 1];
	int64_t version;
} sent;

/* A task promoted to READY is dispatched if it still is READY at that
 * version: a redelivered or late record then dispatches nothing. */
static orc_status promoted(const orc__lh_env *env, const orc__lh_record *r,
			   sent *done, size_t *ndone, size_t cap,
			   orc_error *err)
{
	orc_backend *b = env->cfg->backend;
	orc__wf_cache *wf;
	orc_task_rec cur;
	orc_status st;
	size_t i, idx;

	for (i = 0; i < *ndone; i++)
		if (!strcmp(done[i].wf, r->wf_id) &&
		    !strcmp(done[i].task, r->task_id) &&
		    done[i].version == r->new_version)
			return ORC_OK;
	if ((st = record_task(&wf, &idx, env, r, err)) != ORC_OK)
		return st;
	memset(&cur, 0, sizeof(cur));
	st = b->get_task(&cur, b, r->wf_id, r->task_id, 0, err);
	if (st != ORC_OK)
		return st;
	if (cur.state != ORC_TASK_READY || cur.version != r->new_version ||
	    cur.not_before_ms > orc__lh_now(env))
		return ORC_OK;
	st = orc__lh_dispatch(env, wf->dag, r->wf_id, r->task_id,
			      cur.version, NULL, err);
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
	if (r->new_state == ORC_TASK_READY &&
	    r->old_state == ORC_TASK_PENDING)
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

		memset(&rerr, 0, sizeof(rerr));
		if (on_record(env, r, done, &ndone, batch.n, &rerr) == ORC_OK)
			continue;
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
	} else if (!ORC_BACKEND_HAS(b, list_workflows, 1)) {
		st = orc_error_set(err, ORC_ENOTSUPPORTED,
				   "reconcile: backend %s cannot list "
				   "workflows; give \"workflowId\"", b->name);
	} else {
		st = b->list_workflows(b, collect_live, &l, err);
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

ORC_API orc_status orc_lambda_orchestrator_handler(
	const char *event, size_t len, const orc_lambda_context *ctx,
	void *userdata, char **response_out, orc_error *err)
{
	orc__lh_env env;
	orc__lh_kind kind;
	json_t *root = NULL;
	orc_status st;

	ORC_CHECK_ARG(response_out != NULL, err);
	*response_out = NULL;
	ORC_CHECK_ARG(event != NULL, err);
	if ((st = orc__lh_env_open(&env, H, userdata, ctx, err)) != ORC_OK)
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
