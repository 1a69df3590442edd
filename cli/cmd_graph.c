/*
 * orchestra validate / graph: check a workflow file; print it as DOT or
 * Mermaid, optionally coloured by a stored run's task states.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char validate_help[] =
"usage: orchestra validate FILE\n"
"\n"
"Check a workflow file: JSON syntax (errors as FILE:LINE:COLUMN), fields,\n"
"ids, unknown dependencies, cycles (the cycle is named). On success print\n"
"a summary: tasks, edges, levels (the longest dependency chain), and\n"
"warn about tasks 'orchestra run' cannot run (non-command targets).\n"
"Exit status: 0 valid, 2 invalid or unreadable.\n";

static const char graph_help[] =
"usage: orchestra graph FILE [--format dot|mermaid] [--state ID]\n"
"                 [--db PATH | --backend dynamodb --table NAME]\n"
"\n"
"Print the workflow in FILE as Graphviz DOT (default) or a Mermaid\n"
"flowchart. With --state ID, nodes are coloured by the state of each\n"
"task in workflow ID of the database (--db, default ./orchestra.db)\n"
"or DynamoDB table (--backend dynamodb --table NAME).\n"
"Exit status: 0 printed, 2 bad usage or file, 3 no such workflow.\n";

int cli_cmd_validate(int argc, char **argv)
{
	orc_dag *dag = NULL;
	char *wf_id = NULL, id[CLI_SAFE_ID];
	uint32_t nlevels = 0;
	size_t i, n, ncmd = 0;
	cli_opts o;
	int rc;

	rc = cli_start(&o, "validate", argc, argv, 0, validate_help, 1,
		       "one workflow file");
	if (rc >= 0)
		return rc;
	rc = cli_load_workflow(&dag, &wf_id, o.pos[0], 0);
	if (rc != CLI_OK)
		return rc;
	n = orc_dag_task_count(dag);
	orc_dag_levels(dag, &nlevels);
	for (i = 0; i < n; i++) {
		orc_task_spec t = ORC_TASK_SPEC_INIT;

		if (orc_dag_task_get(&t, dag, i, NULL) == ORC_OK &&
		    t.target_kind == ORC_TARGET_COMMAND)
			ncmd++;
	}
	printf("%s: valid%s%s%s: %zu task%s, %zu edge%s, %u level%s\n",
	       o.pos[0], wf_id ? " (id " : "",
	       wf_id ? cli_safe(id, sizeof(id), wf_id) : "",
	       wf_id ? ")" : "", n, n == 1 ? "" : "s",
	       orc_dag_edge_count(dag), orc_dag_edge_count(dag) == 1 ? "" : "s",
	       (unsigned)nlevels, nlevels == 1 ? "" : "s");
	if (ncmd < n)
		printf("note: %zu of %zu tasks are not command targets; "
		       "'orchestra run' cannot run them\n", n - ncmd, n);
	orc_dag_free(dag);
	orc_free(wf_id);
	return CLI_OK;
}

static int snapshot_state(const char *task_id, void *payload)
{
	const orc_snapshot *snap = payload;
	size_t i;

	for (i = 0; i < snap->ntasks; i++)
		if (strcmp(orc_snapshot_task(snap, i)->id, task_id) == 0)
			return (int)orc_snapshot_task(snap, i)->state;
	return -1;
}

int cli_cmd_graph(int argc, char **argv)
{
	orc_backend *backend = NULL;
	orc_context *ctx = NULL;
	orc_snapshot snap;
	orc_dag *dag = NULL;
	char *text = NULL;
	int mermaid = 0, rc;
	orc_error err;
	orc_status st;
	cli_opts o;

	memset(&snap, 0, sizeof(snap));
	rc = cli_start(&o, "graph", argc, argv, CLI_O_FORMAT | CLI_O_STATE |
		       CLI_O_STORE, graph_help, 1, "one workflow file");
	if (rc >= 0)
		return rc;
	if (o.format && strcmp(o.format, "mermaid") == 0) {
		mermaid = 1;
	} else if (o.format && strcmp(o.format, "dot") != 0) {
		cli_err("graph: --format is dot or mermaid, not '%s'",
			o.format);
		return CLI_USAGE;
	}
	if ((rc = cli_load_workflow(&dag, NULL, o.pos[0], 0)) != CLI_OK)
		return rc;
	memset(&err, 0, sizeof(err));
	if (o.state) {
		rc = cli_open_snapshot(&backend, &ctx, &snap, &o, o.state, 0,
				       CLI_STORE_READ);
		if (rc != CLI_OK)
			goto out;
	}
	if (mermaid)
		st = orc_dag_to_mermaid(&text, dag, o.state ? snapshot_state
					: NULL, &snap, &err);
	else
		st = orc_dag_to_dot(&text, dag, o.state ? snapshot_state : NULL,
				    &snap, &err);
	if (st != ORC_OK) {
		rc = cli_fail(o.pos[0], st, &err);
		goto out;
	}
	fputs(text, stdout);
	if (text[0] && text[strlen(text) - 1] != '\n')
		fputc('\n', stdout);
out:
	orc_free(text);
	orc_snapshot_clear(&snap);
	orc_context_free(ctx);
	orc_backend_free(backend);
	orc_dag_free(dag);
	return rc;
}
