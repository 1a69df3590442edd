/*
 * Reconcile: the repair pass that makes "nothing stuck" true after any
 * crash (invariant 4 in docs/architecture.md). It reads every task once
 * and then only issues the same idempotent conditional writes the engine
 * uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "internal.h"

static orc_status promote_only(orc_context *ctx, orc__wf_cache *wf,
			       const orc_task_rec *t, int64_t now,
			       uint32_t *promoted, orc_error *err)
{
	orc_task_update u;
	orc_task_rec rec;
	orc_status st;

	orc__task_update_init(&u, now);
	u.if_states = ORC_TASK_BIT(ORC_TASK_PENDING);
	u.if_version = t->version;
	u.set = ORC_SET_PROMOTE;
	st = ctx->backend->update_task(ctx->backend, wf->id, t->id, &u, &rec,
				       err);
	if (st == ORC_OK && rec.state == ORC_TASK_READY)
		(*promoted)++;
	return st == ORC_ECONFLICT ? ORC_OK : st;
}

/* A PENDING task whose succeeded dependencies outnumber its done set
 * lost a fan-out to a crash: mark them all again (idempotent). */
static orc_status repair_pending(orc_context *ctx, orc__wf_cache *wf,
				 const orc_snapshot *snap, size_t i,
				 int64_t now, orc_reconcile_report *rep,
				 orc_error *err)
{
	const orc_task_rec *t = orc__snap_task(snap, i);
	const uint32_t *deps;
	size_t nd = orc_dag_deps(&deps, wf->dag, i), k, ok = 0;
	orc_status st;

	for (k = 0; k < nd; k++)
		if (orc__snap_task(snap, deps[k])->state ==
		    ORC_TASK_SUCCEEDED)
			ok++;
	if (ok > t->ndone) {
		for (k = 0; k < nd; k++) {
			int promoted = 0;

			if (orc__snap_task(snap, deps[k])->state !=
			    ORC_TASK_SUCCEEDED)
				continue;
			st = orc__mark_done(ctx, wf, i, deps[k], now,
					    &promoted, err);
			if (st != ORC_OK)
				return st;
			rep->fanout_redone++;
			rep->promoted += (uint32_t)promoted;
		}
		return ORC_OK;
	}
	if (t->ndone >= t->ndeps)
		return promote_only(ctx, wf, t, now, &rep->promoted, err);
	return ORC_OK;
}

static orc_status recompute(orc_context *ctx, orc__wf_cache *wf,
			    orc_reconcile_report *rep, orc_error *err)
{
	orc_snapshot snap;
	orc_status st;
	size_t i, succeeded = 0;
	const orc_task_rec *failed = NULL;

	st = orc_workflow_snapshot(&snap, ctx, wf->id, ORC_SNAPSHOT_PAYLOADS,
				   err);
	if (st != ORC_OK)
		return st;
	for (i = 0; i < snap.ntasks; i++) {
		const orc_task_rec *t = orc__snap_task(&snap, i);

		if (t->state == ORC_TASK_SUCCEEDED)
			succeeded++;
		else if (t->state == ORC_TASK_FAILED && !failed)
			failed = t;
	}
	if (!orc_workflow_state_is_terminal(snap.workflow.state)) {
		if (failed) {
			char msg[512];

			snprintf(msg, sizeof(msg), "task %s: %s", failed->id,
				 failed->error ? failed->error : "failed");
			st = orc__finish_workflow(ctx, wf->id,
						  ORC_WORKFLOW_FAILED, msg, err);
		} else if (succeeded == orc_dag_task_count(wf->dag)) {
			/* Every task of the definition, not just every one
			 * stored: a start cut short stores fewer. */
			st = orc__finish_workflow(ctx, wf->id,
						  ORC_WORKFLOW_SUCCEEDED, NULL,
						  err);
		}
	}
	orc_snapshot_clear(&snap);
	if (st != ORC_OK)
		return st;
	memset(&snap, 0, sizeof(snap));
	st = ctx->backend->get_workflow(&snap.workflow, ctx->backend, wf->id,
					err);
	rep->state = snap.workflow.state;
	orc_workflow_rec_clear(&snap.workflow);
	return st;
}

ORC_API orc_status orc_workflow_reconcile(orc_reconcile_report *report_out,
					  orc_context *ctx, const char *wf_id,
					  orc_error *err)
{
	orc_reconcile_report rep;
	orc__wf_cache *wf;
	orc_snapshot snap;
	orc_status st;
	int64_t now;
	size_t i, missing;

	ORC_CHECK_ARG(ctx != NULL && wf_id != NULL, err);
	memset(&rep, 0, sizeof(rep));
	if ((st = orc__context_workflow(&wf, ctx, wf_id, err)) != ORC_OK)
		return st;
	st = orc__snapshot(&snap, ctx, wf_id, 0, &missing, err);
	if (st != ORC_OK)
		return st;
	if (missing) {
		/* A start cut short after the workflow record: the backend
		 * writes the missing tasks (once its grace for the starter
		 * is over), and a later reconcile repairs the rest. */
		rep.state = snap.workflow.state;
		orc_snapshot_clear(&snap);
		st = orc__reseed(ctx, wf, err);
		if (st == ORC_OK && report_out)
			*report_out = rep;
		return st;
	}
	now = orc_context_now(ctx);
	/* A canceled or failed workflow starts nothing new; a crash may
	 * have cut its sweep short. */
	if (snap.workflow.state == ORC_WORKFLOW_CANCELED ||
	    snap.workflow.state == ORC_WORKFLOW_FAILED) {
		st = orc__cancel_claimable(ctx, wf_id, &rep.canceled, err);
		goto done;
	}
	for (i = 0; i < snap.ntasks && st == ORC_OK; i++) {
		const orc_task_rec *t = orc__snap_task(&snap, i);

		switch (t->state) {
		case ORC_TASK_RUNNING:
			if (t->lease_expiry_ms > now)
				break;
			{
				char msg[ORC_OWNER_MAX + 64];

				snprintf(msg, sizeof(msg),
					 "lease of '%s' expired", t->owner);
				st = orc__retry_or_fail(NULL, ctx, wf, i,
							t->version, t->attempt,
							msg, &rep.canceled, err);
			}
			if (st == ORC_OK)
				rep.expired++;
			else if (st == ORC_ECONFLICT)
				st = ORC_OK; /* its worker finished meanwhile */
			break;
		case ORC_TASK_PENDING:
			st = repair_pending(ctx, wf, &snap, i, now, &rep, err);
			break;
		case ORC_TASK_FAILED:
			st = orc__cancel_downstream(ctx, wf, i, &rep.canceled,
						    err);
			break;
		default:
			break;
		}
	}
done:
	orc_snapshot_clear(&snap);
	if (st == ORC_OK)
		st = recompute(ctx, wf, &rep, err);
	if (st == ORC_OK && report_out)
		*report_out = rep;
	return st;
}

/* Live workflow ids of one page, collected before any is reconciled: a
 * listing callback must not call back into the backend. */
struct live_page {
	char (*ids)[ORC_ID_MAX + 1];
	size_t n, cap;
	int nomem;
};

static int collect_live(const orc_workflow_rec *rec, void *payload)
{
	struct live_page *p = payload;

	if (orc_workflow_state_is_terminal(rec->state))
		return 0;  /* list_workflows() gives every workflow */
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		void *v = orc__realloc(p->ids, cap * sizeof(*p->ids));

		if (!v) {
			p->nomem = 1;
			return 1;
		}
		p->ids = v;
		p->cap = cap;
	}
	memcpy(p->ids[p->n++], rec->id, sizeof(rec->id));
	return 0;
}

/* Ids reconciled per listing call: bounds the memory of a pass over any
 * number of live workflows. */
#define LIVE_PAGE 100

ORC_API orc_status orc_workflow_reconcile_live(size_t *count_out,
					       orc_context *ctx,
					       orc_reconcile_cb cb,
					       void *payload, orc_error *err)
{
	orc_backend *b;
	struct live_page p;
	char after[ORC_ID_MAX + 1] = "";
	orc_status st = ORC_OK;
	size_t count = 0, i;
	int paged, stop = 0;

	if (count_out)
		*count_out = 0;
	ORC_CHECK_ARG(ctx != NULL, err);
	b = ctx->backend;
	paged = ORC_BACKEND_HAS(b, list_live, 4);
	if (!paged && !ORC_BACKEND_HAS(b, list_workflows, 1))
		return orc_error_set(err, ORC_ENOTSUPPORTED, "reconcile: "
				     "backend %s cannot list workflows",
				     b->name);
	memset(&p, 0, sizeof(p));
	while (!stop) {
		p.n = 0;
		if (paged) {
			orc_live_query q;

			memset(&q, 0, sizeof(q));
			q.kind = ORC_LIVE_WORKFLOWS;
			q.after = after;
			q.limit = LIVE_PAGE;
			st = b->list_live(b, &q, collect_live, &p, err);
		} else {
			st = b->list_workflows(b, collect_live, &p, err);
		}
		if (st == ORC_OK && p.nomem)
			st = orc_error_set(err, ORC_ENOMEM, "out of memory");
		if (st != ORC_OK)
			break;
		for (i = 0; i < p.n && !stop; i++) {
			orc_reconcile_report rep;
			orc_error e;
			orc_status rst;

			memset(&rep, 0, sizeof(rep));
			memset(&e, 0, sizeof(e));
			rst = orc_workflow_reconcile(&rep, ctx, p.ids[i], &e);
			count++;
			if (cb && cb(p.ids[i], rst, &rep, &e, payload))
				stop = 1;
		}
		if (!paged || p.n < LIVE_PAGE)
			break;
		memcpy(after, p.ids[p.n - 1], sizeof(after));
	}
	free(p.ids);
	if (count_out)
		*count_out = count;
	return st;
}
