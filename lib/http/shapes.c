/*
 * The JSON documents of the HTTP API (docs/http.md): the workflow list,
 * a workflow with its tasks and DAG, one task with its payloads, and
 * the error document. The seed system's field names (workflowId,
 * status, tasks, dag) come first; the rest are additions.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http.h"
#include "orchestra/backend.h"
#include "orchestra/backends.h"
#include "orchestra/dag.h"
#include "orchestra/workflow.h"

/* The one place that reads a snapshot's task records, so that the
 * accessor of a later API (orc_snapshot_task()) is a one-line change. */
static const orc_task_rec *snap_task(const orc_snapshot *snap, size_t i)
{
	return orc_snapshot_task(snap, i);
}

int orc__http_status_for(orc_status st)
{
	switch (st) {
	case ORC_OK: return 200;
	case ORC_EINVAL: case ORC_EPARSE: case ORC_ECYCLE:
		return 400;
	case ORC_ETOOBIG: return 413;
	case ORC_ENOTFOUND: return 404;
	case ORC_EEXISTS: case ORC_ECONFLICT: case ORC_ELOCKED:
		return 409;
	case ORC_EAUTH: return 401;
	case ORC_ENOTSUPPORTED: return 501;
	case ORC_ETHROTTLED: case ORC_EBACKEND: case ORC_ETIMEOUT:
		return 503;
	default: return 500;
	}
}

char *orc__http_dump(json_t *doc)
{
	char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	return s;
}

char *orc__http_error_doc(orc_status st, const char *field,
			  const char *message)
{
	json_t *doc = json_pack("{s:b, s:s, s:s}", "ok", 0, "error",
				message ? message : orc_strerror(st), "code",
				orc_status_name(st));

	if (doc && field)
		json_object_set_new(doc, "field", json_string(field));
	return orc__http_dump(doc);
}

/* Stored JSON as a value; text that is not JSON stays a string. */
static json_t *stored_json(const char *text)
{
	json_t *v;

	if (!text)
		return json_null();
	v = json_loads(text, JSON_DECODE_ANY, NULL);
	return v ? v : json_string(text);
}

static json_t *ms_or_null(int64_t ms)
{
	return ms > 0 ? json_integer(ms) : json_null();
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Read @p wf_id with its stored definition; on failure *doc_out is the
 * error document and *http_status its status. */
static int read_workflow(orc_snapshot *snap, orc_dag **dag, char **doc_out,
			 int *http_status, orc_http_api *api,
			 const char *wf_id, uint32_t flags)
{
	orc_context *ctx = NULL;
	orc_error err;
	orc_status st;

	memset(snap, 0, sizeof(*snap));
	memset(&err, 0, sizeof(err));
	*dag = NULL;
	st = orc_context_create(&ctx, api->backend, NULL, &err);
	if (st == ORC_OK)
		st = orc_workflow_snapshot(snap, ctx, wf_id, flags, &err);
	orc_context_free(ctx);
	if (st == ORC_OK && snap->workflow.definition)
		st = orc_dag_load(dag, NULL, snap->workflow.definition,
				  strlen(snap->workflow.definition),
				  "stored definition", &err);
	if (st == ORC_OK && (!*dag || orc_dag_task_count(*dag) !=
			     snap->ntasks))
		st = orc_error_set(&err, ORC_ERROR, "workflow %s: the stored "
				   "definition does not match its tasks",
				   wf_id);
	if (st != ORC_OK) {
		orc_snapshot_clear(snap);
		orc_dag_free(*dag);
		*dag = NULL;
		*http_status = orc__http_status_for(st);
		*doc_out = orc__http_error_doc(st, NULL, st == ORC_ENOTFOUND ?
					       "no such workflow" :
					       err.message);
		return -1;
	}
	return 0;
}

static json_t *task_doc(const orc_task_rec *t, const orc_dag *dag, size_t i)
{
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	int32_t max = 0;

	if (orc_dag_task_get(&spec, dag, i, NULL) == ORC_OK)
		max = spec.retry.max_attempts;
	return json_pack("{s:s, s:s, s:i, s:i, s:o, s:o, s:I}",
			 "taskId", t->id,
			 "status", orc_task_state_name(t->state),
			 "attempt", (int)t->attempt, "maxAttempts", (int)max,
			 "startedMs", ms_or_null(t->started_ms),
			 "endedMs", ms_or_null(t->ended_ms),
			 "updatedMs", (json_int_t)t->updated_ms);
}

char *orc__http_detail(int *http_status, orc_http_api *api,
		       const char *wf_id)
{
	orc_snapshot snap;
	orc_dag *dag;
	json_t *doc, *tasks, *edges, *levels;
	const uint32_t *lv, *succ;
	char *out = NULL;
	size_t i, k, n;

	if (read_workflow(&snap, &dag, &out, http_status, api, wf_id, 0))
		return out;
	tasks = json_array();
	edges = json_object();
	levels = json_object();
	lv = orc_dag_levels(dag, NULL);
	for (i = 0; i < snap.ntasks; i++) {
		json_t *next = json_array();

		json_array_append_new(tasks, task_doc(snap_task(&snap, i), dag,
						      i));
		n = orc_dag_dependents(&succ, dag, i);
		for (k = 0; k < n; k++)
			json_array_append_new(next, json_string(
				snap_task(&snap, succ[k])->id));
		json_object_set_new(edges, snap_task(&snap, i)->id, next);
		json_object_set_new(levels, snap_task(&snap, i)->id,
				    json_integer(lv ? lv[i] : 0));
	}
	doc = json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:o, s:o, s:o, s:o}",
			"workflowId", snap.workflow.id,
			"status", orc_workflow_state_name(snap.workflow.state),
			"error", str_or_null(snap.workflow.error),
			"createdMs", (json_int_t)snap.workflow.created_ms,
			"updatedMs", (json_int_t)snap.workflow.updated_ms,
			"version", (json_int_t)snap.workflow.version,
			"input", stored_json(snap.workflow.input),
			"tasks", tasks, "dag", edges, "levels", levels);
	out = orc__http_dump(doc);
	*http_status = out ? 200 : 500;
	orc_snapshot_clear(&snap);
	orc_dag_free(dag);
	return out;
}

char *orc__http_task(int *http_status, orc_http_api *api, const char *wf_id,
		     const char *task_id)
{
	orc_snapshot snap;
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	orc_dag *dag;
	json_t *doc, *deps, *cmd;
	const uint32_t *pre;
	const orc_task_rec *t;
	char *out = NULL;
	size_t i, k, n;

	if (read_workflow(&snap, &dag, &out, http_status, api, wf_id,
			  ORC_SNAPSHOT_PAYLOADS))
		return out;
	if (orc_dag_find(&i, dag, task_id, NULL) != ORC_OK ||
	    orc_dag_task_get(&spec, dag, i, NULL) != ORC_OK) {
		*http_status = 404;
		out = orc__http_error_doc(ORC_ENOTFOUND, "taskId",
					  "no such task in this workflow");
		goto done;
	}
	t = snap_task(&snap, i);
	/* What the task receives: the workflow input and the outputs of
	 * its dependencies (the payload's shape). */
	deps = json_object();
	n = orc_dag_deps(&pre, dag, i);
	for (k = 0; k < n; k++)
		json_object_set_new(deps, snap_task(&snap, pre[k])->id,
				    stored_json(snap_task(&snap,
							  pre[k])->output));
	cmd = json_null();
	if (spec.target_kind == ORC_TARGET_COMMAND && spec.argv) {
		cmd = json_array();
		for (k = 0; spec.argv[k]; k++)
			json_array_append_new(cmd, json_string(spec.argv[k]));
	}
	doc = task_doc(t, dag, i);
	json_object_set_new(doc, "workflowId", json_string(wf_id));
	json_object_set_new(doc, "target", str_or_null(spec.target));
	json_object_set_new(doc, "command", cmd);
	json_object_set_new(doc, "input", json_pack("{s:o, s:o}",
		"input", stored_json(snap.workflow.input),
		"dependencies", deps));
	json_object_set_new(doc, "output", stored_json(t->output));
	json_object_set_new(doc, "error", str_or_null(t->error));
	out = orc__http_dump(doc);
	*http_status = out ? 200 : 500;
done:
	orc_snapshot_clear(&snap);
	orc_dag_free(dag);
	return out;
}

typedef struct wf_list {
	json_t *arr;
	int oom;
} wf_list;

static int collect(const orc_workflow_rec *rec, void *payload)
{
	wf_list *l = payload;
	json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I}",
			      "workflowId", rec->id,
			      "status", orc_workflow_state_name(rec->state),
			      "tasks", (json_int_t)rec->ntasks,
			      "createdMs", (json_int_t)rec->created_ms,
			      "updatedMs", (json_int_t)rec->updated_ms);

	if (!o || json_array_append_new(l->arr, o) != 0) {
		l->oom = 1;
		return 1;
	}
	return 0;
}

static int newest_first(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t cx = json_integer_value(json_object_get(x, "createdMs"));
	json_int_t cy = json_integer_value(json_object_get(y, "createdMs"));

	if (cx != cy)
		return cx > cy ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "workflowId")),
		      json_string_value(json_object_get(y, "workflowId")));
}

char *orc__http_list(int *http_status, orc_http_api *api)
{
	wf_list l = { json_array(), 0 };
	orc_backend *b = api->backend;
	json_t **v = NULL, *sorted;
	orc_error err;
	orc_status st;
	size_t i, n;
	char *out;

	memset(&err, 0, sizeof(err));
	if (!ORC_BACKEND_HAS(b, list_workflows, 1))
		st = orc_error_set(&err, ORC_ENOTSUPPORTED, "the %s backend "
				   "cannot list workflows",
				   orc_backend_name(b));
	else
		st = b->list_workflows(b, collect, &l, &err);
	if (st == ORC_OK && l.oom)
		st = orc_error_set(&err, ORC_ENOMEM, "out of memory");
	if (st != ORC_OK) {
		json_decref(l.arr);
		*http_status = orc__http_status_for(st);
		return orc__http_error_doc(st, NULL, err.message);
	}
	n = json_array_size(l.arr);
	sorted = json_array();
	v = n ? malloc(n * sizeof(*v)) : NULL;
	if (n && !v) {
		json_decref(l.arr);
		json_decref(sorted);
		*http_status = 500;
		return NULL;
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(l.arr, i);
	if (n)
		qsort(v, n, sizeof(*v), newest_first);
	for (i = 0; i < n; i++)
		json_array_append(sorted, v[i]);
	free(v);
	json_decref(l.arr);
	out = orc__http_dump(sorted);
	*http_status = out ? 200 : 500;
	return out;
}
