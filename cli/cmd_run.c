/*
 * orchestra run / resume: drive a workflow to a terminal state with the
 * in-process runner over SQLite or DynamoDB, showing progress from the
 * runner's own events.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

#define DEFAULT_WORKERS 4

static const char run_help[] =
"usage: orchestra run WORKFLOW.json [--input JSON|@FILE] [--id ID]\n"
"                     [--db PATH | --backend dynamodb --table NAME]\n"
"                     [--workers N] [--lease-ms MS] [--plain]\n"
"                     [--storage-timeout-ms MS]\n"
"\n"
"Run the workflow to the end with N worker threads (default 4), keeping\n"
"its state in a SQLite file (default ./orchestra.db). Every task must be\n"
"a command target; relative paths in a command's argv that name files\n"
"beside WORKFLOW.json are resolved there. The workflow id is --id, else\n"
"the file's \"id\"/\"workflowId\", else a generated one; it is printed\n"
"first. Running an id again with the same definition continues it.\n"
"The input is --input, else the file's \"input\" value, else null.\n"
"\n"
"  --input JSON|@FILE  workflow input, as JSON text or read from FILE\n"
"  --id ID             workflow id\n"
"  --db PATH           SQLite database file\n"
"  --backend NAME      sqlite (default) or dynamodb\n"
"  --table NAME        DynamoDB table ('orchestra table create NAME');\n"
"                      region, endpoint, credentials from the environment\n"
"  --workers N         worker threads, 1 to 256\n"
"  --lease-ms MS       task lease (default 30000; a task's timeout, when\n"
"                      longer, is used instead)\n"
"  --plain             one line per state change even on a terminal\n"
"  --storage-timeout-ms MS  keep trying through transient storage errors\n"
"                      (throttling, 5xx, lost connections) this long,\n"
"                      backing off, before exit 4 (default 300000;\n"
"                      0 = give up after one request's AWS retries)\n"
"\n"
"On a terminal the tasks are redrawn in place; otherwise one line is\n"
"printed per task state change, then 'workflow ID STATE'. Ctrl-C stops\n"
"at once, sending SIGTERM to the running commands (exit 130);\n"
"'orchestra resume ID' continues.\n"
"Exit status: 0 succeeded, 1 failed or canceled, 2 bad usage or input,\n"
"4 storage error, 130 interrupted.\n";

static const char resume_help[] =
"usage: orchestra resume ID [--db PATH | --backend dynamodb --table NAME]\n"
"                           [--workers N] [--lease-ms MS] [--plain]\n"
"                           [--storage-timeout-ms MS]\n"
"\n"
"Continue workflow ID from its stored state after a crash, kill or\n"
"Ctrl-C: expired leases are reclaimed (tasks that were running when the\n"
"previous run died are retried once their lease expires), interrupted\n"
"fan-out is redone, and the run goes on to the end. Options and output\n"
"are those of 'orchestra run'.\n"
"Exit status: 0 succeeded, 1 failed or canceled, 2 bad usage, 3 no such\n"
"workflow, 4 storage error, 130 interrupted.\n";

/* Each running command leads its own process group (lib/command.c), so
 * the terminal's SIGINT does not reach it: send that group SIGTERM. */
static void stop_children(void)
{
	pid_t self = getpid();
	struct dirent *e;
	DIR *d = opendir("/proc");

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[64], buf[512], *p;
		long ppid;
		pid_t pid;
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		/* "pid (comm) state ppid ..."; comm may hold anything. */
		if (!p || sscanf(p + 1, " %*c %ld", &ppid) != 1 ||
		    ppid != (long)self)
			continue;
		pid = (pid_t)atol(e->d_name);
		kill(getpgid(pid) == pid ? -pid : pid, SIGTERM);
	}
	closedir(d);
}

/* What the signal thread waits for and the run it reports on. */
typedef struct sig_ctx {
	sigset_t set;
	const char *wf_id;
	const cli_opts *o;
	/* The thread's buffers live here, not on its stack: it is
	 * cancelled in sigwait, and AddressSanitizer then finds the
	 * redzones of its locals in the way of its own thread teardown. */
	int sig;
	char store[300];
	char id[CLI_SAFE_ID];
} sig_ctx;

static const char *sig_name(int sig)
{
	switch (sig) {
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	case SIGHUP: return "SIGHUP";
	default: return "a signal";
	}
}

/* The durable state is always consistent, so a signal ends the process
 * at once: leases expire and 'resume' picks up from there. The signals
 * are blocked in every thread (runner threads inherit the mask) and
 * taken here, where stopping the children is allowed. The last line is
 * still the result (docs/cli.md), with the command that continues; the
 * stdout lock is kept until _exit so the live view cannot follow it. */
static void *signal_main(void *arg)
{
	sig_ctx *sc = arg;

	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	if (sigwait(&sc->set, &sc->sig) != 0)
		return NULL;
	cli_view_restore_terminal();
	stop_children();
	flockfile(stdout);
	cli_safe(sc->id, sizeof(sc->id), sc->wf_id);
	printf("workflow %s INTERRUPTED by %s; continue with: orchestra "
	       "resume %s", sc->id, sig_name(sc->sig), sc->id);
	if (sc->o->table)
		printf(" --backend dynamodb --table %s", sc->o->table);
	else if (sc->o->db)
		printf(" --db %s", cli_store_name(sc->store, sizeof(sc->store),
						 sc->o));
	putchar('\n');
	fflush(stdout);
	_exit(sc->sig == SIGINT ? CLI_INTERRUPTED : 128 + sc->sig);
}

static int start_signal_thread(pthread_t *th, sig_ctx *sc)
{
	sigemptyset(&sc->set);
	sigaddset(&sc->set, SIGINT);
	sigaddset(&sc->set, SIGTERM);
	sigaddset(&sc->set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &sc->set, NULL) != 0)
		return -1;
	return pthread_create(th, NULL, signal_main, sc) == 0 ? 0 : -1;
}

static const char *task_id_at(const orc_dag *dag, size_t i)
{
	orc_task_spec spec = ORC_TASK_SPEC_INIT;

	orc_dag_task_get(&spec, dag, i, NULL);
	return spec.id;
}

/* After a success, "<id> output: <json>" for each task nothing depends
 * on: the workflow's result (the fanout example's aggregate). Outputs
 * this run saw are printed as they are; otherwise one snapshot is read.
 * The outcome is already printed and durable, so a failure here only
 * leaves the lines out. */
static void print_results(orc_backend *backend, const char *wf_id,
			  const orc_dag *dag, const cli_view *view)
{
	orc_dag *stored = NULL;
	orc_context *ctx = NULL;
	orc_snapshot snap;
	const uint32_t *succ;
	char id[CLI_SAFE_ID];
	orc_error err;
	size_t i;
	int known = dag != NULL;

	memset(&snap, 0, sizeof(snap));
	for (i = 0; known && i < orc_dag_task_count(dag); i++)
		if (orc_dag_dependents(&succ, dag, i) == 0)
			cli_view_output(view, i, &known);
	if (known) {
		for (i = 0; i < orc_dag_task_count(dag); i++) {
			const char *o;

			if (orc_dag_dependents(&succ, dag, i) != 0 ||
			    !(o = cli_view_output(view, i, &known)))
				continue;
			printf("%s output: ",
			       cli_safe(id, sizeof(id), task_id_at(dag, i)));
			cli_print_line(stdout, o, 2000);
			fputc('\n', stdout);
		}
		return;
	}
	if (orc_context_create(&ctx, backend, NULL, &err) != ORC_OK ||
	    orc_workflow_snapshot(&snap, ctx, wf_id, ORC_SNAPSHOT_PAYLOADS,
				  &err) != ORC_OK)
		goto out;
	if (!dag && snap.workflow.definition &&
	    orc_dag_load(&stored, NULL, snap.workflow.definition,
			 strlen(snap.workflow.definition), "stored definition",
			 &err) == ORC_OK)
		dag = stored;
	if (!dag || orc_dag_task_count(dag) != snap.ntasks)
		goto out;
	for (i = 0; i < snap.ntasks; i++) {
		const orc_task_rec *t = orc_snapshot_task(&snap, i);

		if (orc_dag_dependents(&succ, dag, i) != 0 || !t->output)
			continue;
		printf("%s output: ", cli_safe(id, sizeof(id), t->id));
		cli_print_line(stdout, t->output, 2000);
		fputc('\n', stdout);
	}
out:
	orc_snapshot_clear(&snap);
	orc_context_free(ctx);
	orc_dag_free(stored);
}

/* @p dag: to start (run), or NULL to resume; @p shown: the definition
 * to display (run: @p dag; resume: the stored one, with its states in
 * @p known). */
static int execute(orc_backend *backend, const char *wf_id,
		   const orc_dag *dag, const orc_dag *shown,
		   const orc_snapshot *known, const char *input,
		   const cli_opts *o)
{
	orc_runner_options ro = ORC_RUNNER_OPTIONS_INIT;
	orc_run_result res;
	orc_runner *runner = NULL;
	cli_view *view = NULL;
	char owner[64];
	pthread_t sig_thread;
	sig_ctx sigs;
	cli_pin pin;
	char id[CLI_SAFE_ID];
	int have_sig;
	orc_error err;
	orc_status st;
	int rc;

	snprintf(owner, sizeof(owner), "orchestra-%ld", (long)getpid());
	ro.threads = o->workers > 0 ? (unsigned)o->workers : DEFAULT_WORKERS;
	ro.lease_ms = o->lease_ms > 0 ? o->lease_ms : 0;
	ro.owner = owner;
	ro.seed = (uint64_t)cli_now_ms() ^ (uint64_t)getpid();
	if (o->storage_timeout_ms >= 0)
		ro.storage_timeout_ms = o->storage_timeout_ms > 0
					? o->storage_timeout_ms : -1;
	memset(&err, 0, sizeof(err));
	sigs.wf_id = wf_id;
	sigs.o = o;
	/* Before any other thread exists, so that all inherit the mask. */
	have_sig = start_signal_thread(&sig_thread, &sigs) == 0;
	printf("workflow %s\n", cli_safe(id, sizeof(id), wf_id));
	fflush(stdout);
	if (cli_view_start(&view, wf_id, shown, known,
			   !o->plain && isatty(STDOUT_FILENO)) != CLI_OK)
		view = NULL; /* progress is a nicety; the run goes on */
	ro.on_event = view ? cli_view_event : NULL;
	ro.event_payload = view;
	st = orc_runner_create(&runner, backend, &ro, &err);
	if (st != ORC_OK) {
		cli_view_stop(view, NULL, 0, ORC_WORKFLOW_PENDING);
		cli_view_free(view);
		if (have_sig) {
			pthread_cancel(sig_thread);
			pthread_join(sig_thread, NULL);
		}
		return cli_fail("runner", st, &err);
	}

	memset(&res, 0, sizeof(res));
	cli_store_pin(&pin, o);
	st = orc_runner_run(&res, runner, wf_id, dag, input, &err);
	cli_view_stop(view, st == ORC_OK ? backend : NULL, st == ORC_OK,
		      res.state);
	orc_runner_free(runner);
	if (have_sig) {
		/* sigwait is a cancellation point. */
		pthread_cancel(sig_thread);
		pthread_join(sig_thread, NULL);
	}
	if (cli_store_check(&pin, o) != CLI_OK) {
		cli_view_free(view);
		orc_run_result_clear(&res);
		return CLI_RUNTIME;
	}
	if (st != ORC_OK) {
		cli_view_free(view);
		if (st == ORC_EEXISTS)
			cli_err("workflow '%s' already exists with another "
				"definition; choose another --id, or 'orchestra "
				"resume %s'", wf_id, wf_id);
		else
			cli_fail(wf_id, st, &err);
		orc_run_result_clear(&res);
		return cli_code(st);
	}
	if (res.state == ORC_WORKFLOW_SUCCEEDED)
		print_results(backend, wf_id, shown, view);
	cli_view_free(view);
	printf("workflow %s %s", id, orc_workflow_state_name(res.state));
	if (res.error) {
		fputs(": ", stdout);
		cli_print_line(stdout, res.error, 2000);
	}
	fputc('\n', stdout);
	fflush(stdout);
	rc = res.state == ORC_WORKFLOW_SUCCEEDED ? CLI_OK : CLI_WF_FAILED;
	orc_run_result_clear(&res);
	return rc;
}

/* A default id: "<file stem>-<utc time>-<4 hex>". */
static void make_id(char *buf, size_t len, const char *path)
{
	const char *base = strrchr(path, '/');
	char stem[48], when[32];
	struct tm tm;
	time_t now = time(NULL);
	size_t i;

	base = base ? base + 1 : path;
	for (i = 0; base[i] && base[i] != '.' && i + 1 < sizeof(stem); i++)
		stem[i] = (base[i] == '#' || (unsigned char)base[i] < 0x20)
			  ? '_' : base[i];
	stem[i] = '\0';
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(buf, len, "%s-%s-%04x", i ? stem : "wf", when,
		 (unsigned)((uint64_t)cli_now_ms() * 2654435761u ^
			    (uint64_t)getpid()) & 0xffffu);
}

/* A request envelope may carry the workflow input beside the
 * definition ("input"); it is the default for --input. */
static int file_input(char **out, const char *path)
{
	json_t *doc = json_load_file(path, JSON_DECODE_ANY, NULL);
	json_t *in = json_is_object(doc) ? json_object_get(doc, "input") : NULL;

	*out = NULL;
	if (in) {
		/* jansson allocates with malloc: free() releases it. */
		*out = json_dumps(in, JSON_ENCODE_ANY | JSON_COMPACT);
		if (!*out) {
			json_decref(doc);
			cli_err("out of memory");
			return CLI_RUNTIME;
		}
	}
	json_decref(doc);
	return CLI_OK;
}

int cli_cmd_run(int argc, char **argv)
{
	cli_opts o;
	orc_dag *dag = NULL;
	orc_backend *backend = NULL;
	char *file_id = NULL, *input = NULL, gen[ORC_ID_MAX + 1];
	const char *wf_id;
	orc_error err;
	int rc;

	rc = cli_start(&o, "run", argc, argv, CLI_O_INPUT | CLI_O_ID |
		       CLI_O_STORE | CLI_O_WORKERS | CLI_O_LEASE | CLI_O_PLAIN |
		       CLI_O_STORAGE_TIMEOUT, run_help, 1, "one workflow file");
	if (rc >= 0)
		return rc;
	if ((rc = cli_load_input(&input, o.input)) != CLI_OK)
		return rc;
	rc = cli_load_workflow(&dag, &file_id, o.pos[0], 1);
	if (rc != CLI_OK)
		goto out;
	if (!input && (rc = file_input(&input, o.pos[0])) != CLI_OK)
		goto out;
	wf_id = o.id ? o.id : file_id;
	if (!wf_id) {
		make_id(gen, sizeof(gen), o.pos[0]);
		wf_id = gen;
	}
	if (orc_dag_check_id(wf_id, &err) != ORC_OK) {
		cli_err("run: bad workflow id '%s': %s", wf_id, err.message);
		rc = CLI_USAGE;
		goto out;
	}
	if ((rc = cli_open_store(&backend, &o, CLI_STORE_CREATE)) != CLI_OK)
		goto out;
	rc = execute(backend, wf_id, dag, dag, NULL, input, &o);
out:
	orc_backend_free(backend);
	orc_dag_free(dag);
	orc_free(file_id);
	free(input);
	return rc;
}

int cli_cmd_resume(int argc, char **argv)
{
	cli_opts o;
	orc_backend *backend = NULL;
	orc_context *ctx = NULL;
	orc_snapshot snap;
	orc_dag *dag = NULL;
	orc_error err;
	orc_status st;
	int rc;

	rc = cli_start(&o, "resume", argc, argv, CLI_O_STORE | CLI_O_WORKERS |
		       CLI_O_LEASE | CLI_O_PLAIN | CLI_O_STORAGE_TIMEOUT,
		       resume_help, 1,
		       "one workflow id");
	if (rc >= 0)
		return rc;
	rc = cli_open_snapshot(&backend, &ctx, &snap, &o, o.pos[0], 0,
			       CLI_STORE_EXISTING);
	if (rc != CLI_OK)
		goto out;
	memset(&err, 0, sizeof(err));
	/* The stored definition must be runnable here, as for run. */
	if (snap.workflow.definition) {
		st = orc_dag_load(&dag, NULL, snap.workflow.definition,
				  strlen(snap.workflow.definition),
				  "stored definition", &err);
		if (st != ORC_OK) {
			rc = cli_fail("stored definition", st, &err);
			goto out;
		}
		if ((rc = cli_check_commands(dag, o.pos[0])) != CLI_OK)
			goto out;
	}
	orc_context_free(ctx);
	ctx = NULL;
	rc = execute(backend, o.pos[0], NULL, dag, &snap, NULL, &o);
out:
	orc_snapshot_clear(&snap);
	orc_dag_free(dag);
	orc_context_free(ctx);
	orc_backend_free(backend);
	return rc;
}

void cli_stop_children(void)
{
	stop_children();
}
