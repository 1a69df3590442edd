/*
 * orchestra: run and inspect liborchestra workflows from the shell, with
 * SQLite as the durable state. This file only dispatches; each
 * subcommand lives in its own file.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} cli_cmd;

#ifdef ORC_CLI_HAVE_ASL
static int cmd_asl(int argc, char **argv)
{
	return orc_cli_asl(argc, argv);
}
#endif

static const cli_cmd cmds[] = {
	{ "run", cli_cmd_run, "run a workflow file to the end" },
	{ "resume", cli_cmd_resume, "continue a run after a crash or Ctrl-C" },
	{ "status", cli_cmd_status, "show a workflow's tasks (or --json)" },
	{ "list", cli_cmd_list, "list the workflows in the database" },
	{ "cancel", cli_cmd_cancel, "cancel a workflow" },
	{ "validate", cli_cmd_validate, "check a workflow file" },
	{ "graph", cli_cmd_graph, "print a workflow as DOT or Mermaid" },
	{ "table", cli_cmd_table, "create a DynamoDB table for --backend" },
#ifdef ORC_CLI_HAVE_SERVE
	{ "serve", cli_cmd_serve, "HTTP API and live dashboard" },
#endif
#ifdef ORC_CLI_HAVE_ASL
	{ "asl", cmd_asl, "emit Amazon States Language" },
#endif
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	size_t i;

	fputs("usage: orchestra <command> [options]\n"
	      "       orchestra --help | --version\n\ncommands:\n", f);
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fputs("\n'orchestra <command> --help' describes each command.\n"
	      "State lives in a SQLite file, ./" CLI_DEFAULT_DB " unless --db "
	      "names another,\nor in a DynamoDB table with --backend dynamodb "
	      "--table NAME.\n"
	      "Exit status: 0 done (run/resume: the workflow succeeded), "
	      "1 workflow failed\nor canceled, 2 bad usage or input, "
	      "3 no such workflow, 4 storage or\nsystem error, 130 "
	      "interrupted.\n", f);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("orchestra %s\n", orc_version());
		return CLI_OK;
	}
	for (i = 0; i < NCMDS; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	if (strcmp(argv[1], "asl") == 0) {
		cli_err("asl: this orchestra was built without the ASL "
			"emitter");
		return CLI_USAGE;
	}
	cli_err("unknown command '%s' (see orchestra --help)", argv[1]);
	return CLI_USAGE;
}
