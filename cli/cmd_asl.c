/*
 * orchestra asl: print a workflow file as an Amazon States Language state
 * machine (docs/asl.md). Self-contained, so that tests can link it alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <orchestra/orchestra.h>

int orc_cli_asl(int argc, char **argv);

/* Exit codes shared with the other subcommands (cli/cli.h). */
enum { ASL_OK = 0, ASL_USAGE = 2, ASL_RUNTIME = 4 };

static const char asl_help[] =
	"usage: orchestra asl WORKFLOW.json [options]\n"
	"\n"
	"Print the workflow as an Amazon States Language state machine for\n"
	"AWS Step Functions: one Task state per task (Lambda invoke with the\n"
	"payload liborchestra's worker gives a task), Parallel states for the\n"
	"parallel parts, each task's retry policy, timeout and a Catch that\n"
	"fails the execution naming the task.\n"
	"\n"
	"options:\n"
	"  --out FILE              write to FILE instead of standard output\n"
	"  --strategy NAME         sp (default): exact for series-parallel\n"
	"                          DAGs, few false dependencies otherwise;\n"
	"                          sp-latency: exact too, otherwise no task\n"
	"                          later than its level (more false deps);\n"
	"                          levels: one Parallel per topological level\n"
	"  --query-language LANG   jsonpath (default) or jsonata\n"
	"  --type TYPE             standard (default) or express\n"
	"  --default-resource ARN  Lambda function or activity ARN that runs\n"
	"                          the tasks that are not Lambda tasks\n"
	"  --fail-states KIND      per-task (default): a Catch and a Fail\n"
	"                          state naming the task; none: no Catch, the\n"
	"                          task's own error fails the execution (one\n"
	"                          state per task and per Parallel)\n"
	"  --report                print a summary (states, Parallel states,\n"
	"                          false dependencies) on standard error\n"
	"  -h, --help              this help\n"
	"\n"
	"Exit status: 0 done, 2 bad usage, file or definition, 4 cannot\n"
	"write.\n";

static int asl_usage(const char *fmt, const char *arg)
{
	fputs("orchestra: asl: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (see orchestra asl --help)\n", stderr);
	return ASL_USAGE;
}

static int asl_fail(const char *what, const orc_error *err)
{
	if (err->line > 0)
		fprintf(stderr, "orchestra: asl: %s:%d:%d: %s\n", what,
			err->line, err->column, err->message);
	else
		fprintf(stderr, "orchestra: asl: %s: %s\n", what,
			err->message);
	return err->code == ORC_ENOMEM ? ASL_RUNTIME : ASL_USAGE;
}

/* "--name VALUE" or "--name=VALUE"; advances *i past a separate value. */
static int opt_value(const char **out, const char *name, int argc,
		     char **argv, int *i)
{
	size_t len = strlen(name);

	if (strncmp(argv[*i], name, len) != 0)
		return 0;
	if (argv[*i][len] == '=') {
		*out = argv[*i] + len + 1;
		return 1;
	}
	if (argv[*i][len] != '\0')
		return 0;
	if (*i + 1 >= argc) {
		*out = NULL;
		return 1;
	}
	*out = argv[++*i];
	return 1;
}

/* 0 for @p a, 1 for @p b, -1 for anything else (NULL included). */
static int choice(const char *val, const char *a, const char *b)
{
	if (val && strcmp(val, a) == 0)
		return 0;
	if (val && strcmp(val, b) == 0)
		return 1;
	return -1;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = path ? fopen(path, "w") : stdout;
	int ok;

	if (!f) {
		perror(path);
		return ASL_RUNTIME;
	}
	ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
	if (path)
		ok = fclose(f) == 0 && ok;
	else
		ok = fflush(f) == 0 && ok;
	if (!ok) {
		fprintf(stderr, "orchestra: asl: cannot write %s\n",
			path ? path : "standard output");
		return ASL_RUNTIME;
	}
	return ASL_OK;
}

int orc_cli_asl(int argc, char **argv)
{
	orc_asl_options opts = ORC_ASL_OPTIONS_INIT;
	orc_asl_report rep;
	orc_error err;
	const char *file = NULL, *out = NULL, *val;
	char *wf_id = NULL, *text = NULL;
	orc_dag *dag = NULL;
	int i, report = 0, rc;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(asl_help, stdout);
			return ASL_OK;
		} else if (strcmp(a, "--report") == 0) {
			report = 1;
		} else if (opt_value(&val, "--out", argc, argv, &i)) {
			if (!val)
				return asl_usage("--out needs a file%s", "");
			out = val;
		} else if (opt_value(&val, "--strategy", argc, argv, &i)) {
			if (!val || orc_asl_strategy_parse(&opts.strategy, val,
							   NULL) != ORC_OK)
				return asl_usage("--strategy is sp, sp-latency "
						 "or levels, not '%s'",
						 val ? val : "");
		} else if (opt_value(&val, "--query-language", argc, argv,
				     &i)) {
			int k = choice(val, "jsonpath", "jsonata");

			if (k < 0)
				return asl_usage("--query-language is jsonpath "
						 "or jsonata, not '%s'",
						 val ? val : "");
			opts.query_language = k ? ORC_ASL_JSONATA :
				ORC_ASL_JSONPATH;
		} else if (opt_value(&val, "--type", argc, argv, &i)) {
			int k = choice(val, "standard", "express");

			if (k < 0)
				return asl_usage("--type is standard or "
						 "express, not '%s'",
						 val ? val : "");
			opts.type = k ? ORC_ASL_EXPRESS : ORC_ASL_STANDARD;
		} else if (opt_value(&val, "--fail-states", argc, argv, &i)) {
			int k = choice(val, "per-task", "none");

			if (k < 0)
				return asl_usage("--fail-states is per-task or "
						 "none, not '%s'",
						 val ? val : "");
			opts.fail_states = k ? ORC_ASL_FAIL_NONE :
				ORC_ASL_FAIL_PER_TASK;
		} else if (opt_value(&val, "--default-resource", argc, argv,
				     &i)) {
			if (!val)
				return asl_usage("--default-resource needs an "
						 "ARN%s", "");
			opts.default_resource = val;
		} else if (a[0] == '-' && a[1] != '\0') {
			return asl_usage("unknown option '%s'", a);
		} else if (file) {
			return asl_usage("one workflow file only ('%s' is one "
					 "too many)", a);
		} else {
			file = a;
		}
	}
	if (!file)
		return asl_usage("which workflow file?%s", "");
	if (orc_dag_load_file(&dag, &wf_id, file, &err) != ORC_OK)
		return asl_fail(file, &err);
	opts.workflow_id = wf_id;
	if (orc_asl_emit(&text, &rep, dag, &opts, &err) != ORC_OK) {
		rc = asl_fail(file, &err);
	} else {
		rc = write_text(out, text);
		if (rc == ASL_OK && report)
			fprintf(stderr, "states %zu (tasks %zu, Parallel %zu, "
				"Fail %zu), series-parallel %s, strategy %s, "
				"false dependencies %zu\n", rep.states,
				rep.task_states, rep.parallel_states,
				rep.fail_states,
				rep.series_parallel ? "yes" : "no",
				orc_asl_strategy_name(rep.strategy),
				rep.false_dependencies);
	}
	orc_free(text);
	orc_free(wf_id);
	orc_dag_free(dag);
	return rc;
}
