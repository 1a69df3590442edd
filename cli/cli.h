/*
 * The orchestra command: shared declarations of its subcommands.
 */
#ifndef ORCHESTRA_CLI_H
#define ORCHESTRA_CLI_H

#include <stdio.h>

#include <orchestra/orchestra.h>

/* Exit codes (docs/cli.md, orchestra(1)). */
enum {
	CLI_OK = 0,          /* done; for run/resume: the workflow succeeded */
	CLI_WF_FAILED = 1,   /* the workflow ended FAILED or CANCELED */
	CLI_USAGE = 2,       /* bad arguments, bad file, bad definition */
	CLI_NOTFOUND = 3,    /* no such workflow in the database */
	CLI_RUNTIME = 4,     /* storage or system failure */
	CLI_INTERRUPTED = 130 /* SIGINT (128 + 2) */
};

#define CLI_DEFAULT_DB "orchestra.db"
#define CLI_MAX_POS 8

/* Parsed options; every subcommand takes the subset it documents. */
typedef struct cli_opts {
	const char *pos[CLI_MAX_POS];
	int npos;
	const char *input;    /* --input JSON or @FILE */
	const char *id;       /* --id */
	const char *db;       /* --db */
	const char *backend;  /* --backend: sqlite (default) or dynamodb */
	const char *table;    /* --table (DynamoDB) */
	const char *format;   /* --format */
	const char *state;    /* --state ID */
	long workers;         /* --workers; -1 = not given */
	long lease_ms;        /* --lease-ms; -1 = not given */
	long storage_timeout_ms; /* --storage-timeout-ms; -2 = not given */
	int json;             /* --json */
	int help;             /* --help / -h */
	int plain;            /* --plain: no live redraw even on a terminal */
} cli_opts;

/* Option names a subcommand accepts. */
#define CLI_O_INPUT   0x001u
#define CLI_O_ID      0x002u
#define CLI_O_DB      0x004u
#define CLI_O_FORMAT  0x008u
#define CLI_O_STATE   0x010u
#define CLI_O_WORKERS 0x020u
#define CLI_O_JSON    0x040u
#define CLI_O_LEASE   0x080u
#define CLI_O_PLAIN   0x100u
#define CLI_O_BACKEND 0x200u
#define CLI_O_TABLE   0x400u
#define CLI_O_STORAGE_TIMEOUT 0x800u
/* Where the state lives: --db, or --backend dynamodb --table. */
#define CLI_O_STORE   (CLI_O_DB | CLI_O_BACKEND | CLI_O_TABLE)

/* Parse argv[1..argc) of subcommand @p cmd; prints the error and returns
 * CLI_USAGE, or CLI_OK. */
int cli_parse(cli_opts *o, const char *cmd, int argc, char **argv,
	      unsigned accepted);

/* cli_parse, then --help (prints @p help), then the number of
 * positional arguments (@p pos_what says what is expected). Returns -1
 * to go on, or the exit code to return. */
int cli_start(cli_opts *o, const char *cmd, int argc, char **argv,
	      unsigned accepted, const char *help, int npos,
	      const char *pos_what);

/* Open the store @p o names (it must exist; @p mode CLI_STORE_EXISTING
 * or CLI_STORE_READ) and read workflow @p id;
 * prints what went wrong. Returns an exit code; clear @p snap and free
 * @p ctx and @p backend whatever it returns. */
int cli_open_snapshot(orc_backend **backend, orc_context **ctx,
		      orc_snapshot *snap, const cli_opts *o, const char *id,
		      uint32_t flags, int mode);

/* "orchestra: <fmt>" on stderr. */
void cli_err(const char *fmt, ...) ORC_PRINTF(1, 2);
/* Print @p err as "<what>: <message>" (with file:line:column when set)
 * and return the exit code for its status. */
int cli_fail(const char *what, orc_status st, const orc_error *err);
/* Exit code for a status. */
int cli_code(orc_status st);

/* Read a whole file; NULL and a message on failure. Free with free(). */
char *cli_read_file(const char *path);

/* The --input value: JSON text checked here (line and column on error),
 * or @FILE. *out is NULL when @p arg is NULL. Returns an exit code. */
int cli_load_input(char **out, const char *arg);

/* Load, validate and prepare a workflow file for running: every task
 * must be a command, and relative argv paths that name files beside the
 * workflow file are made absolute. Returns an exit code. */
int cli_load_workflow(orc_dag **dag_out, char **wf_id_out, const char *path,
		      int for_run);

/* Every task of @p dag is a command target, or print which is not. */
int cli_check_commands(const orc_dag *dag, const char *source);

/* Open the SQLite database; prints on failure. Returns an exit code. */
int cli_open_db(orc_backend **out, const char *path);

/* ---- stores (store.c) ---- */

/* How a subcommand opens its store. */
enum {
	CLI_STORE_CREATE = 0,   /* create the SQLite file if missing */
	CLI_STORE_EXISTING = 1, /* a missing file is CLI_NOTFOUND */
	CLI_STORE_READ = 2      /* as EXISTING, and read-only */
};

/* Open the backend the options name: SQLite --db (default
 * ./orchestra.db, opened as @p mode says), or DynamoDB --table with
 * region, endpoint and credentials from the environment as the AWS SDKs
 * find them. Prints on failure. */
int cli_open_store(orc_backend **out, const cli_opts *o, int mode);

/* The identity of the open SQLite file and its -wal (device, inode). */
typedef struct cli_pin {
	int on;                   /* 0: not a SQLite file (nothing to check) */
	unsigned long long id[2][2];
} cli_pin;

/* Remember which files the open store @p o names are, right after
 * opening it. */
void cli_store_pin(cli_pin *pin, const cli_opts *o);

/* The files are still there, the same ones: else print that the file
 * was deleted or replaced (its state is lost) and return CLI_RUNTIME. */
int cli_store_check(const cli_pin *pin, const cli_opts *o);

/* Function @p name of the library @p soname (liborchestra-aws,
 * liborchestra-http), opened beside the liborchestra this process
 * loaded, else through the search path, and never closed (dl.c). NULL
 * with @p err set to ORC_ENOTSUPPORTED saying that @p user needs the
 * library and why it cannot be loaded, or that it lacks @p name. */
void *cli_dl_sym(const char *soname, const char *name, const char *user,
		 orc_error *err);

/* orc_dynamodb_backend_open and orc_dynamodb_create_table, from
 * liborchestra-aws loaded at the first call (aws.c); ORC_ENOTSUPPORTED
 * naming the library when it cannot be loaded. */
orc_status cli_dynamodb_open(orc_backend **out,
			     const orc_dynamodb_options *opts, orc_error *err);
orc_status cli_dynamodb_create_table(const orc_dynamodb_options *opts,
				     orc_error *err);

/* "orchestra.db" or "DynamoDB table T", for messages. */
const char *cli_store_name(char *buf, size_t len, const cli_opts *o);

/* Check the --backend/--db/--table combination; prints. An exit code. */
int cli_check_store(const cli_opts *o, const char *cmd);

/* Print @p s on one line (newlines and tabs as spaces, other controls
 * escaped as by cli_safe()), at most @p max bytes of it ("..." marks a
 * cut). Error texts hold stderr tails. */
void cli_print_line(FILE *f, const char *s, size_t max);

/* @p s for a terminal, in @p buf: C0 and C1 controls, DEL, bidi and
 * invisible marks as \uXXXX, bytes that are not UTF-8 as \xHH; cut
 * with "..." to fit. Returns @p buf. An id is at most CLI_SAFE_ID
 * bytes this way. */
const char *cli_safe(char *buf, size_t len, const char *s);
#define CLI_SAFE_ID (ORC_ID_MAX * 6 + 8)

/* "1.2s", "3m04s" into @p buf. */
const char *cli_elapsed(char *buf, size_t len, int64_t ms);

/* Elapsed time of a task record at @p now (0 when it never started). */
int64_t cli_task_elapsed(const orc_task_rec *t, int64_t now);

/* Wall clock in ms since the epoch. */
int64_t cli_now_ms(void);

/* Subcommands: each gets argv with argv[0] = its name. */
int cli_cmd_run(int argc, char **argv);
int cli_cmd_resume(int argc, char **argv);
int cli_cmd_status(int argc, char **argv);
int cli_cmd_list(int argc, char **argv);
int cli_cmd_cancel(int argc, char **argv);
int cli_cmd_validate(int argc, char **argv);
int cli_cmd_serve(int argc, char **argv);
int cli_cmd_graph(int argc, char **argv);
int cli_cmd_table(int argc, char **argv);
#ifdef ORC_CLI_HAVE_ASL
int orc_cli_asl(int argc, char **argv);
#endif

/* ---- live view (view.c) ---- */

typedef struct cli_view cli_view;

/* Start showing the run of @p wf_id (definition @p dag, borrowed until
 * cli_view_free; task states @p known, e.g. from resume's snapshot, or
 * NULL): redrawn in place by a thread when @p tty, else one line per
 * task state change. Fed by cli_view_event (orc_runner_options.on_event
 * with the view as payload): it reads no storage while the run goes on. */
int cli_view_start(cli_view **out, const char *wf_id, const orc_dag *dag,
		   const orc_snapshot *known, int tty);
/* orc_run_event_fn for the runner; @p payload is the view. */
void cli_view_event(const orc_run_event *ev, void *payload);
/* Stop showing: the run ended in @p end when @p known_end. Unless every
 * task was seen succeeding here, one snapshot from @p backend (may be
 * NULL) brings the final display up to date. Accepts NULL. */
void cli_view_stop(cli_view *v, orc_backend *backend, int known_end,
		   orc_workflow_state end);
/* The output of task @p task when this run saw it succeed (*known set;
 * NULL is a null output), else NULL with *known = 0. */
const char *cli_view_output(const cli_view *v, size_t task, int *known);
/* Free a stopped view. Accepts NULL. */
void cli_view_free(cli_view *v);

/* Restore the terminal (cursor) from a signal handler; async-signal-safe. */
void cli_view_restore_terminal(void);

/* SIGTERM to each running command's process group (cmd_run.c). */
void cli_stop_children(void);

#endif
