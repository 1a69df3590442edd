/*
 * Conformance hooks for the memory backend. One instance is one store,
 * so a reopened handle is a small forwarding wrapper that shares it and
 * whose free leaves the store alone.
 */
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "orchestra/backends.h"

/* Internal to the memory backend; see backends/memory.c. */
orc_status orc__memory_seed_tasks(orc_backend *b, const char *wf_id,
				  const orc_task_seed *tasks, size_t n,
				  int64_t now_ms, orc_error *err);

/* update_tasks: one lock around the group. */
int conf_backend_has_groups(void)
{
	return 1;
}

/* create_workflow writes the workflow record before the tasks. */
int conf_backend_record_first(void)
{
	return 0;
}

const char *conf_backend_name(void)
{
	return "memory";
}

int conf_suite_setup(void)
{
	return 0;
}

void conf_suite_teardown(void)
{
}

orc_status conf_backend_open(orc_backend **out, orc_error *err)
{
	orc_memory_options opts = ORC_MEMORY_OPTIONS_INIT;

	/* DynamoDB's item limit, so the oversized-payload path runs. */
	opts.max_payload = 400 * 1024;
	return orc_memory_backend_create(out, &opts, err);
}

/* A handle forwarding every method to the shared store; its free
 * releases only itself. */
struct handle {
	orc_backend parent;
	orc_backend *store;
};

#define STORE(b) (((struct handle *)(void *)(b))->store)

static orc_status h_create_workflow(orc_backend *b, const orc_workflow_rec *wf,
				    const orc_task_seed *t, size_t n,
				    orc_error *err)
{
	return STORE(b)->create_workflow(STORE(b), wf, t, n, err);
}

static orc_status h_get_workflow(orc_workflow_rec *out, orc_backend *b,
				 const char *id, orc_error *err)
{
	return STORE(b)->get_workflow(out, STORE(b), id, err);
}

static orc_status h_update_workflow(orc_backend *b, const char *id,
				    const orc_workflow_update *u,
				    orc_workflow_rec *out, orc_error *err)
{
	return STORE(b)->update_workflow(STORE(b), id, u, out, err);
}

static orc_status h_get_task(orc_task_rec *out, orc_backend *b,
			     const char *wf, const char *id, uint32_t flags,
			     orc_error *err)
{
	return STORE(b)->get_task(out, STORE(b), wf, id, flags, err);
}

static orc_status h_update_task(orc_backend *b, const char *wf,
				const char *id, const orc_task_update *u,
				orc_task_rec *out, orc_error *err)
{
	return STORE(b)->update_task(STORE(b), wf, id, u, out, err);
}

static orc_status h_list_tasks(orc_backend *b, const char *wf,
			       uint32_t states, uint32_t flags,
			       orc_task_rec_cb cb, void *payload,
			       orc_error *err)
{
	return STORE(b)->list_tasks(STORE(b), wf, states, flags, cb, payload,
				    err);
}

static orc_status h_get_lock(orc_lock_rec *out, orc_backend *b,
			     const char *name, orc_error *err)
{
	return STORE(b)->get_lock(out, STORE(b), name, err);
}

static orc_status h_put_lock(orc_backend *b, const orc_lock_rec *rec,
			     int64_t expected, orc_error *err)
{
	return STORE(b)->put_lock(STORE(b), rec, expected, err);
}

static orc_status h_list_workflows(orc_backend *b, orc_workflow_rec_cb cb,
				   void *payload, orc_error *err)
{
	return STORE(b)->list_workflows(STORE(b), cb, payload, err);
}

static orc_status h_list_live(orc_backend *b, const orc_live_query *q,
			      orc_workflow_rec_cb cb, void *payload,
			      orc_error *err)
{
	return STORE(b)->list_live(STORE(b), q, cb, payload, err);
}

static orc_status h_ctl(orc_backend *b, int op, void *arg, orc_error *err)
{
	return STORE(b)->ctl(STORE(b), op, arg, err);
}

static orc_status h_update_tasks(orc_backend *b, const char *wf_id,
				 const orc_task_write *w, size_t n,
				 orc_task_rec *outs, unsigned char *applied,
				 orc_error *err)
{
	return STORE(b)->update_tasks(STORE(b), wf_id, w, n, outs, applied,
				      err);
}

static void handle_free(orc_backend *b)
{
	free(b);
}

orc_status conf_backend_reopen(orc_backend **out, orc_backend *b,
			       orc_error *err)
{
	struct handle *h;

	*out = NULL;
	if (b->free == handle_free)
		b = STORE(b);
	h = calloc(1, sizeof(*h));
	if (!h)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	orc_backend_init(&h->parent, ORC_BACKEND_VERSION);
	h->parent.name = b->name;
	h->parent.caps = b->caps;
	h->parent.create_workflow = h_create_workflow;
	h->parent.get_workflow = h_get_workflow;
	h->parent.update_workflow = h_update_workflow;
	h->parent.get_task = h_get_task;
	h->parent.update_task = h_update_task;
	h->parent.list_tasks = h_list_tasks;
	h->parent.get_lock = h_get_lock;
	h->parent.put_lock = h_put_lock;
	h->parent.free = handle_free;
	h->parent.list_workflows = h_list_workflows;
	h->parent.ctl = h_ctl;
	h->parent.list_live = h_list_live;
	if (ORC_BACKEND_HAS(b, update_tasks, 2))
		h->parent.update_tasks = h_update_tasks;
	h->store = b;
	*out = &h->parent;
	return ORC_OK;
}

void conf_backend_close(orc_backend *b)
{
	orc_backend_free(b);
}

orc_status conf_backend_preseed_tasks(orc_backend *b, const char *wf_id,
				      const orc_task_seed *tasks, size_t n,
				      int64_t now_ms, orc_error *err)
{
	return orc__memory_seed_tasks(b, wf_id, tasks, n, now_ms, err);
}
