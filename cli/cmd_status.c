/*
 * orchestra status / list / cancel: read and steer stored workflows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <orchestra/backend.h>

#include "cli.h"

static const char status_help[] =
"usage: orchestra status ID [--json]\n"
"                           [--db PATH | --backend dynamodb --table NAME]\n"
"\n"
"Show workflow ID: its state (and first error), then one row per task\n"
"with its state, attempt and elapsed time. With --json, print one JSON\n"
"document instead:\n"
"  {\"workflowId\", \"state\", \"error\", \"createdMs\", \"updatedMs\",\n"
"   \"tasks\": [{\"id\", \"state\", \"attempt\", \"output\", \"error\",\n"
"              \"startedMs\", \"endedMs\", \"elapsedMs\"}, ...]}\n"
"where output is the task's output JSON (null when none).\n"
"Exit status: 0 shown, 2 bad usage, 3 no such workflow, 4 storage error.\n";

static const char list_help[] =
"usage: orchestra list [--json]\n"
"                      [--db PATH | --backend dynamodb --table NAME]\n"
"\n"
"List the workflows in the database, oldest first: id, state, number of\n"
"tasks, last update.\n";

static const char cancel_help[] =
"usage: orchestra cancel ID [--db PATH | --backend dynamodb --table NAME]\n"
"\n"
"Cancel workflow ID: no task starts any more; tasks not yet running\n"
"become CANCELED (running ones may finish, and their results are kept\n"
"but lead nowhere). Cancelling a finished workflow changes nothing.\n"
"Exit status: 0 canceled (or already finished), 3 no such workflow.\n";

/* A stored output as JSON; text that somehow is not JSON stays a string. */
static json_t *output_json(const char *text)
{
	json_t *v;

	if (!text)
		return json_null();
	v = json_loads(text, JSON_DECODE_ANY, NULL);
	return v ? v : json_string(text);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int print_json(const orc_snapshot *snap, int64_t now)
{
	json_t *doc = json_object(), *tasks = json_array();
	size_t i;
	int ok;

	json_object_set_new(doc, "workflowId",
			    json_string(snap->workflow.id));
	json_object_set_new(doc, "state", json_string(
		orc_workflow_state_name(snap->workflow.state)));
	json_object_set_new(doc, "error", str_or_null(snap->workflow.error));
	json_object_set_new(doc, "createdMs",
			    json_integer(snap->workflow.created_ms));
	json_object_set_new(doc, "updatedMs",
			    json_integer(snap->workflow.updated_ms));
	for (i = 0; i < snap->ntasks; i++) {
		const orc_task_rec *t = orc_snapshot_task(snap, i);
		json_t *o = json_object();

		json_object_set_new(o, "id", json_string(t->id));
		json_object_set_new(o, "state",
				    json_string(orc_task_state_name(t->state)));
		json_object_set_new(o, "attempt", json_integer(t->attempt));
		json_object_set_new(o, "output", output_json(t->output));
		json_object_set_new(o, "error", str_or_null(t->error));
		json_object_set_new(o, "startedMs",
				    t->started_ms > 0 ?
				    json_integer(t->started_ms) : json_null());
		json_object_set_new(o, "endedMs",
				    t->ended_ms > 0 ?
				    json_integer(t->ended_ms) : json_null());
		json_object_set_new(o, "elapsedMs",
				    json_integer(cli_task_elapsed(t, now)));
		json_array_append_new(tasks, o);
	}
	json_object_set_new(doc, "tasks", tasks);
	ok = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII) == 0;
	json_decref(doc);
	fputc('\n', stdout);
	if (!ok) {
		cli_err("status: cannot write the JSON document");
		return CLI_RUNTIME;
	}
	return CLI_OK;
}

static void print_table(const orc_snapshot *snap, int64_t now)
{
	size_t i, w = 4;
	char el[32], id[CLI_SAFE_ID];

	printf("workflow %s: %s\n", cli_safe(id, sizeof(id),
					     snap->workflow.id),
	       orc_workflow_state_name(snap->workflow.state));
	if (snap->workflow.error) {
		fputs("error: ", stdout);
		cli_print_line(stdout, snap->workflow.error, 400);
		fputc('\n', stdout);
	}
	for (i = 0; i < snap->ntasks; i++)
		if (strlen(cli_safe(id, sizeof(id),
				    orc_snapshot_task(snap, i)->id)) > w)
			w = strlen(id);
	printf("\n%-*s  %-9s  %7s  %8s\n", (int)w, "TASK", "STATE",
	       "ATTEMPT", "ELAPSED");
	for (i = 0; i < snap->ntasks; i++) {
		const orc_task_rec *t = orc_snapshot_task(snap, i);

		printf("%-*s  %-9s  %7d  %8s", (int)w,
		       cli_safe(id, sizeof(id), t->id),
		       orc_task_state_name(t->state), (int)t->attempt,
		       cli_elapsed(el, sizeof(el), cli_task_elapsed(t, now)));
		if (t->error && t->state != ORC_TASK_SUCCEEDED) {
			fputs("  ", stdout);
			cli_print_line(stdout, t->error, 100);
		}
		fputc('\n', stdout);
	}
}

int cli_cmd_status(int argc, char **argv)
{
	orc_backend *backend = NULL;
	orc_context *ctx = NULL;
	orc_snapshot snap;
	cli_opts o;
	int rc;

	rc = cli_start(&o, "status", argc, argv, CLI_O_STORE | CLI_O_JSON,
		       status_help, 1, "one workflow id");
	if (rc >= 0)
		return rc;
	rc = cli_open_snapshot(&backend, &ctx, &snap, &o, o.pos[0],
			       ORC_SNAPSHOT_PAYLOADS, CLI_STORE_READ);
	if (rc == CLI_OK) {
		if (o.json)
			rc = print_json(&snap, cli_now_ms());
		else
			print_table(&snap, cli_now_ms());
	}
	orc_snapshot_clear(&snap);
	orc_context_free(ctx);
	orc_backend_free(backend);
	return rc;
}

typedef struct wf_list {
	orc_workflow_rec *v;
	size_t n, cap;
	int oom;
} wf_list;

static int collect(const orc_workflow_rec *rec, void *payload)
{
	wf_list *l = payload;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		orc_workflow_rec *p = realloc(l->v, cap * sizeof(*p));

		if (!p) {
			l->oom = 1;
			return 1;
		}
		l->v = p;
		l->cap = cap;
	}
	/* Only the inline fields are kept: the record is borrowed. */
	l->v[l->n] = *rec;
	l->v[l->n].definition = NULL;
	l->v[l->n].input = NULL;
	l->v[l->n].error = NULL;
	l->n++;
	return 0;
}

static int by_created(const void *a, const void *b)
{
	const orc_workflow_rec *x = a, *y = b;

	if (x->created_ms != y->created_ms)
		return x->created_ms < y->created_ms ? -1 : 1;
	return strcmp(x->id, y->id);
}

int cli_cmd_list(int argc, char **argv)
{
	orc_backend *backend = NULL;
	wf_list l = { NULL, 0, 0, 0 };
	orc_error err;
	orc_status st;
	cli_opts o;
	size_t i;
	int rc;

	rc = cli_start(&o, "list", argc, argv, CLI_O_STORE | CLI_O_JSON,
		       list_help, 0, "no arguments");
	if (rc >= 0)
		return rc;
	if ((rc = cli_open_store(&backend, &o, CLI_STORE_READ)) != CLI_OK)
		return rc;
	if (!ORC_BACKEND_HAS(backend, list_workflows, 1)) {
		cli_err("list: the %s backend cannot list workflows (%s)",
			orc_backend_name(backend),
			orc_status_name(ORC_ENOTSUPPORTED));
		orc_backend_free(backend);
		return CLI_RUNTIME;
	}
	memset(&err, 0, sizeof(err));
	st = backend->list_workflows(backend, collect, &l, &err);
	if (st == ORC_OK && l.oom)
		st = orc_error_set(&err, ORC_ENOMEM, "out of memory");
	if (st == ORC_ENOTSUPPORTED) {
		cli_err("list: the %s backend cannot list workflows",
			orc_backend_name(backend));
		rc = CLI_RUNTIME;
	} else if (st != ORC_OK) {
		rc = cli_fail("list", st, &err);
	} else {
		if (l.n)  /* qsort's array may not be NULL, even empty */
			qsort(l.v, l.n, sizeof(*l.v), by_created);
		if (o.json) {
			json_t *arr = json_array();

			for (i = 0; i < l.n; i++)
				json_array_append_new(arr, json_pack(
					"{s:s, s:s, s:I, s:I, s:I}",
					"workflowId", l.v[i].id, "state",
					orc_workflow_state_name(l.v[i].state),
					"tasks", (json_int_t)l.v[i].ntasks,
					"createdMs",
					(json_int_t)l.v[i].created_ms,
					"updatedMs",
					(json_int_t)l.v[i].updated_ms));
			json_dumpf(arr, stdout, JSON_INDENT(2));
			fputc('\n', stdout);
			json_decref(arr);
		} else {
			if (l.n)
				printf("%-40s  %-9s  %5s  %s\n", "ID", "STATE",
				       "TASKS", "UPDATED (UTC)");
			for (i = 0; i < l.n; i++) {
				time_t t = (time_t)(l.v[i].updated_ms / 1000);
				struct tm tm;
				char when[32], id[CLI_SAFE_ID];

				gmtime_r(&t, &tm);
				strftime(when, sizeof(when),
					 "%Y-%m-%d %H:%M:%S", &tm);
				printf("%-40s  %-9s  %5u  %s\n",
				       cli_safe(id, sizeof(id), l.v[i].id),
				       orc_workflow_state_name(l.v[i].state),
				       (unsigned)l.v[i].ntasks, when);
			}
		}
	}
	free(l.v);
	orc_backend_free(backend);
	return rc;
}

int cli_cmd_cancel(int argc, char **argv)
{
	orc_backend *backend = NULL;
	orc_context *ctx = NULL;
	orc_snapshot snap;
	orc_error err;
	orc_status st;
	char id[CLI_SAFE_ID];
	cli_opts o;
	int rc;

	rc = cli_start(&o, "cancel", argc, argv, CLI_O_STORE, cancel_help, 1,
		       "one workflow id");
	if (rc >= 0)
		return rc;
	rc = cli_open_snapshot(&backend, &ctx, &snap, &o, o.pos[0], 0,
			       CLI_STORE_EXISTING);
	if (rc != CLI_OK)
		goto out;
	if (orc_workflow_state_is_terminal(snap.workflow.state)) {
		printf("workflow %s already %s\n",
		       cli_safe(id, sizeof(id), o.pos[0]),
		       orc_workflow_state_name(snap.workflow.state));
		goto out;
	}
	memset(&err, 0, sizeof(err));
	st = orc_workflow_cancel(ctx, o.pos[0], "canceled by orchestra cancel",
				 &err);
	if (st != ORC_OK) {
		rc = cli_fail(o.pos[0], st, &err);
		goto out;
	}
	printf("workflow %s CANCELED\n", cli_safe(id, sizeof(id), o.pos[0]));
out:
	orc_snapshot_clear(&snap);
	orc_context_free(ctx);
	orc_backend_free(backend);
	return rc;
}
