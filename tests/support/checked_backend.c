/* See checked_backend.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked_backend.h"

struct watched {
	struct watched *next;
	char wf_id[ORC_ID_MAX + 1];
	const orc_dag *dag;
	unsigned *successes;  /* per task index */
	unsigned *claims;
};

struct checked_backend {
	orc_backend parent;  /* first: the engine sees only this */
	orc_backend *inner;
	atomic_ulong calls[CK_METHODS];
	atomic_ulong violations;
	atomic_ulong stale;
	pthread_mutex_t lock;
	struct watched *watched;
	char first[512];
};

#define CB(b) ((checked_backend *)(void *)(b))

static void violation(checked_backend *cb, const char *fmt, const char *a,
		      const char *b, const char *c)
{
	pthread_mutex_lock(&cb->lock);
	if (atomic_fetch_add(&cb->violations, 1) == 0)
		snprintf(cb->first, sizeof(cb->first), fmt, a, b, c);
	pthread_mutex_unlock(&cb->lock);
}

static struct watched *find_watched(checked_backend *cb, const char *wf_id)
{
	struct watched *w;

	for (w = cb->watched; w; w = w->next)
		if (strcmp(w->wf_id, wf_id) == 0)
			return w;
	return NULL;
}

static orc_status ck_create_workflow(orc_backend *b, const orc_workflow_rec *wf,
				     const orc_task_seed *tasks, size_t n,
				     orc_error *err)
{
	atomic_fetch_add(&CB(b)->calls[CK_CREATE_WORKFLOW], 1);
	return CB(b)->inner->create_workflow(CB(b)->inner, wf, tasks, n, err);
}

static orc_status ck_get_workflow(orc_workflow_rec *out, orc_backend *b,
				  const char *id, orc_error *err)
{
	atomic_fetch_add(&CB(b)->calls[CK_GET_WORKFLOW], 1);
	return CB(b)->inner->get_workflow(out, CB(b)->inner, id, err);
}

static orc_status ck_update_workflow(orc_backend *b, const char *id,
				     const orc_workflow_update *u,
				     orc_workflow_rec *out, orc_error *err)
{
	atomic_fetch_add(&CB(b)->calls[CK_UPDATE_WORKFLOW], 1);
	return CB(b)->inner->update_workflow(CB(b)->inner, id, u, out, err);
}

static orc_status ck_get_task(orc_task_rec *out, orc_backend *b,
			      const char *wf, const char *id, uint32_t flags,
			      orc_error *err)
{
	atomic_fetch_add(&CB(b)->calls[CK_GET_TASK], 1);
	return CB(b)->inner->get_task(out, CB(b)->inner, wf, id, flags, err);
}

/* The condition admits these states; each must allow the new state. */
static void check_transition(checked_backend *cb, const char *task_id,
			     const orc_task_update *u)
{
	int s;

	if (!(u->set & ORC_SET_STATE))
		return;
	for (s = 0; s < ORC_TASK_STATE_COUNT; s++) {
		if (u->if_states && !(u->if_states & ORC_TASK_BIT(s)))
			continue;
		if (s == (int)u->state)
			continue;
		if (!orc_task_transition_allowed((orc_task_state)s, u->state))
			violation(cb, "task %s: update may move %s -> %s",
				  task_id, orc_task_state_name((orc_task_state)s),
				  orc_task_state_name(u->state));
	}
}

static void check_write(checked_backend *cb, const char *wf_id,
			const char *task_id, const orc_task_rec *after)
{
	struct watched *w;
	size_t idx, i, nd;
	const uint32_t *deps;

	pthread_mutex_lock(&cb->lock);
	w = find_watched(cb, wf_id);
	pthread_mutex_unlock(&cb->lock);
	if (!w || orc_dag_find(&idx, w->dag, task_id, NULL) != ORC_OK)
		return;
	if (after->state == ORC_TASK_SUCCEEDED) {
		unsigned n;

		pthread_mutex_lock(&cb->lock);
		n = ++w->successes[idx];
		pthread_mutex_unlock(&cb->lock);
		if (n > 1)
			violation(cb, "workflow %s: task %s succeeded twice%s",
				  wf_id, task_id, "");
	}
	if (after->state != ORC_TASK_RUNNING)
		return;
	pthread_mutex_lock(&cb->lock);
	w->claims[idx]++;
	pthread_mutex_unlock(&cb->lock);
	nd = orc_dag_deps(&deps, w->dag, idx);
	for (i = 0; i < nd; i++) {
		orc_task_spec spec = ORC_TASK_SPEC_INIT;
		orc_task_rec rec;

		orc_dag_task_get(&spec, w->dag, deps[i], NULL);
		memset(&rec, 0, sizeof(rec));
		/* Dependencies never leave SUCCEEDED, so reading after the
		 * claim is as good as reading at it. */
		if (cb->inner->get_task(&rec, cb->inner, wf_id, spec.id, 0,
					NULL) != ORC_OK ||
		    rec.state != ORC_TASK_SUCCEEDED)
			violation(cb, "task %s started before dependency %s succeeded (%s)",
				  task_id, spec.id,
				  orc_task_state_name(rec.state));
	}
}

static orc_status ck_update_task(orc_backend *b, const char *wf,
				 const char *id, const orc_task_update *u,
				 orc_task_rec *out, orc_error *err)
{
	checked_backend *cb = CB(b);
	orc_task_rec after;
	orc_status st;

	atomic_fetch_add(&cb->calls[CK_UPDATE_TASK], 1);
	check_transition(cb, id, u);
	memset(&after, 0, sizeof(after));
	st = cb->inner->update_task(cb->inner, wf, id, u, &after, err);
	if (st == ORC_ECONFLICT && u->if_states == ORC_TASK_BIT(ORC_TASK_RUNNING) &&
	    u->if_version >= 0 && (u->set & ORC_SET_STATE))
		atomic_fetch_add(&cb->stale, 1);
	if (st == ORC_OK && (u->set & (ORC_SET_STATE | ORC_SET_PROMOTE)) &&
	    ((u->set & ORC_SET_STATE) ? after.state == u->state : 1))
		check_write(cb, wf, id, &after);
	if (out)
		*out = after;
	return st;
}

static orc_status ck_update_tasks(orc_backend *b, const char *wf,
				  const orc_task_write *w, size_t n,
				  orc_task_rec *outs, unsigned char *applied,
				  orc_error *err)
{
	checked_backend *cb = CB(b);
	orc_task_rec *after = calloc(n ? n : 1, sizeof(*after));
	unsigned char *ok = calloc(n ? n : 1, 1);
	orc_status st;
	size_t i;

	atomic_fetch_add(&cb->calls[CK_UPDATE_TASKS], 1);
	if (!after || !ok) {
		free(after);
		free(ok);
		return orc_error_set(err, ORC_ENOMEM, NULL);
	}
	for (i = 0; i < n; i++)
		check_transition(cb, w[i].task_id, w[i].update);
	st = cb->inner->update_tasks(cb->inner, wf, w, n, after, ok, err);
	for (i = 0; st == ORC_OK && i < n; i++) {
		const orc_task_update *u = w[i].update;

		if (ok[i] && (u->set & (ORC_SET_STATE | ORC_SET_PROMOTE)) &&
		    ((u->set & ORC_SET_STATE) ? after[i].state == u->state
					      : 1))
			check_write(cb, wf, w[i].task_id, &after[i]);
	}
	for (i = 0; st == ORC_ECONFLICT && i < n; i++) {
		const orc_task_update *u = w[i].update;

		/* A fenced completion or failure, as in ck_update_task. */
		if (!w[i].optional &&
		    u->if_states == ORC_TASK_BIT(ORC_TASK_RUNNING) &&
		    u->if_version >= 0 && (u->set & ORC_SET_STATE)) {
			atomic_fetch_add(&cb->stale, 1);
			break;
		}
	}
	if (outs)
		memcpy(outs, after, n * sizeof(*after));
	if (applied)
		memcpy(applied, ok, n);
	free(after);
	free(ok);
	return st;
}

static orc_status ck_list_tasks(orc_backend *b, const char *wf,
				uint32_t states, uint32_t flags,
				orc_task_rec_cb fn, void *payload,
				orc_error *err)
{
	atomic_fetch_add(&CB(b)->calls[CK_LIST_TASKS], 1);
	return CB(b)->inner->list_tasks(CB(b)->inner, wf, states, flags, fn,
					payload, err);
}

static orc_status ck_get_lock(orc_lock_rec *out, orc_backend *b,
			      const char *name, orc_error *err)
{
	atomic_fetch_add(&CB(b)->calls[CK_GET_LOCK], 1);
	return CB(b)->inner->get_lock(out, CB(b)->inner, name, err);
}

static orc_status ck_put_lock(orc_backend *b, const orc_lock_rec *rec,
			      int64_t expected, orc_error *err)
{
	atomic_fetch_add(&CB(b)->calls[CK_PUT_LOCK], 1);
	return CB(b)->inner->put_lock(CB(b)->inner, rec, expected, err);
}

static orc_status ck_list_workflows(orc_backend *b, orc_workflow_rec_cb fn,
				    void *payload, orc_error *err)
{
	atomic_fetch_add(&CB(b)->calls[CK_LIST_WORKFLOWS], 1);
	if (!ORC_BACKEND_HAS(CB(b)->inner, list_workflows, 1))
		return orc_error_set(err, ORC_ENOTSUPPORTED, "list_workflows");
	return CB(b)->inner->list_workflows(CB(b)->inner, fn, payload, err);
}

static orc_status ck_list_live(orc_backend *b, const orc_live_query *q,
			       orc_workflow_rec_cb fn, void *payload,
			       orc_error *err)
{
	return CB(b)->inner->list_live(CB(b)->inner, q, fn, payload, err);
}

/* The wrapper is freed by checked_backend_free(), not through the
 * vtable, so the test controls the order. */
static void ck_free(orc_backend *b)
{
	(void)b;
}

checked_backend *checked_backend_create(orc_backend *inner)
{
	checked_backend *cb = calloc(1, sizeof(*cb));
	int i;

	if (!cb)
		return NULL;
	orc_backend_init(&cb->parent, ORC_BACKEND_VERSION);
	cb->parent.name = "checked";
	cb->parent.caps = inner->caps;
	cb->parent.create_workflow = ck_create_workflow;
	cb->parent.get_workflow = ck_get_workflow;
	cb->parent.update_workflow = ck_update_workflow;
	cb->parent.get_task = ck_get_task;
	cb->parent.update_task = ck_update_task;
	cb->parent.list_tasks = ck_list_tasks;
	cb->parent.get_lock = ck_get_lock;
	cb->parent.put_lock = ck_put_lock;
	cb->parent.list_workflows = ck_list_workflows;
	if (ORC_BACKEND_HAS(inner, update_tasks, 2))
		cb->parent.update_tasks = ck_update_tasks;
	if (ORC_BACKEND_HAS(inner, list_live, 4))
		cb->parent.list_live = ck_list_live;
	cb->parent.free = ck_free;
	cb->inner = inner;
	for (i = 0; i < CK_METHODS; i++)
		atomic_init(&cb->calls[i], 0);
	atomic_init(&cb->violations, 0);
	atomic_init(&cb->stale, 0);
	pthread_mutex_init(&cb->lock, NULL);
	return cb;
}

orc_backend *checked_backend_vtable(checked_backend *cb)
{
	return &cb->parent;
}

void checked_backend_watch(checked_backend *cb, const char *wf_id,
			   const orc_dag *dag)
{
	struct watched *w = calloc(1, sizeof(*w));
	size_t n = orc_dag_task_count(dag);

	if (!w)
		return;
	snprintf(w->wf_id, sizeof(w->wf_id), "%s", wf_id);
	w->dag = dag;
	w->successes = calloc(n ? n : 1, sizeof(unsigned));
	w->claims = calloc(n ? n : 1, sizeof(unsigned));
	pthread_mutex_lock(&cb->lock);
	w->next = cb->watched;
	cb->watched = w;
	pthread_mutex_unlock(&cb->lock);
}

unsigned long checked_backend_calls(checked_backend *cb, enum checked_method m)
{
	return atomic_load(&cb->calls[m]);
}

unsigned long checked_backend_stale_writes(checked_backend *cb)
{
	return atomic_load(&cb->stale);
}

unsigned long checked_backend_violations(checked_backend *cb)
{
	return atomic_load(&cb->violations);
}

const char *checked_backend_first_violation(checked_backend *cb)
{
	return cb->first;
}

static unsigned count_of(checked_backend *cb, const char *wf_id,
			 const char *task_id, int claims)
{
	struct watched *w;
	size_t idx;
	unsigned n = 0;

	pthread_mutex_lock(&cb->lock);
	w = find_watched(cb, wf_id);
	if (w && orc_dag_find(&idx, w->dag, task_id, NULL) == ORC_OK)
		n = claims ? w->claims[idx] : w->successes[idx];
	pthread_mutex_unlock(&cb->lock);
	return n;
}

unsigned checked_backend_successes(checked_backend *cb, const char *wf_id,
				   const char *task_id)
{
	return count_of(cb, wf_id, task_id, 0);
}

unsigned checked_backend_claims(checked_backend *cb, const char *wf_id,
				const char *task_id)
{
	return count_of(cb, wf_id, task_id, 1);
}

void checked_backend_free(checked_backend *cb)
{
	struct watched *w, *next;

	if (!cb)
		return;
	for (w = cb->watched; w; w = next) {
		next = w->next;
		free(w->successes);
		free(w->claims);
		free(w);
	}
	pthread_mutex_destroy(&cb->lock);
	free(cb);
}
