/*
 * orchestra serve: the HTTP API and the live dashboard over a store
 * (docs/http.md). With --run it also executes, in this process, the
 * workflows started through it (command tasks, as `orchestra run`).
 * The listener is in liborchestra-http, opened here only (dl.c), so
 * that no other command loads libmicrohttpd and GnuTLS.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <orchestra/http.h>

#include "cli.h"

typedef orc_status (*start_fn)(orc_http_server **out, orc_http_api *api,
				const char *listen, int *port_out,
				orc_error *err);
typedef void (*stop_fn)(orc_http_server *server);
_Static_assert(sizeof(start_fn) == sizeof(void *) &&
	       sizeof(stop_fn) == sizeof(void *),
	       "function and object pointers convert (POSIX dlsym)");

/* orc_http_server_start and _stop from liborchestra-http, before
 * anything is opened or started, so a missing library changes
 * nothing. */
static orc_status load_server(start_fn *start, stop_fn *stop,
			      orc_error *err)
{
	void *s1 = cli_dl_sym(CLI_HTTP_SONAME, "orc_http_server_start",
			      "the HTTP listener", err);
	void *s2 = s1 ? cli_dl_sym(CLI_HTTP_SONAME, "orc_http_server_stop",
				   "the HTTP listener", err) : NULL;

	if (!s2)
		return ORC_ENOTSUPPORTED;
	memcpy(start, &s1, sizeof(*start));
	memcpy(stop, &s2, sizeof(*stop));
	return ORC_OK;
}

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_WORKERS 4
#define RUN_THREADS 4
#define QUEUE_MAX 256

static const char serve_help[] =
"usage: orchestra serve [--listen HOST:PORT] [--token TOKEN] [--run]\n"
"                       [--start WORKFLOW.json] [--workers N]\n"
"                       [--poll-ms MS] [--allow-origin ORIGIN]\n"
"                       [--db PATH | --backend dynamodb --table NAME]\n"
"\n"
"Serve the HTTP API and the dashboard (http://HOST:PORT/) over the\n"
"store: list, inspect, start and cancel workflows, with live updates\n"
"of runs made by any process.\n"
"\n"
"  --listen HOST:PORT   numeric address (default 127.0.0.1:8080; port 0\n"
"                       picks a free one). Beyond loopback a token is\n"
"                       required.\n"
"  --token TOKEN        bearer token every mutating route needs (also\n"
"                       from ORC_HTTP_TOKEN)\n"
"  --run                run the workflows started through the API here,\n"
"                       with N worker threads each (command tasks only);\n"
"                       without it serve only stores them, and\n"
"                       'orchestra resume ID' or Lambda workers run them\n"
"  --start FILE         start FILE's workflow (its id, else the file's\n"
"                       stem) and run it; implies --run\n"
"  --workers N          worker threads per run (default 4)\n"
"  --poll-ms MS         live update cadence (default 500; 1000 on\n"
"                       DynamoDB)\n"
"  --allow-origin URL   answer CORS for this one origin (default none)\n"
"\n"
"The first line printed is 'listening on http://HOST:PORT/'.\n"
"Ctrl-C stops; runs in progress are left to 'orchestra resume'.\n"
"Exit status: 0 stopped, 2 bad usage, 4 cannot listen or storage error,\n"
"130 interrupted with runs in progress.\n";

/* Workflows to run (--run): a bounded queue served by RUN_THREADS. */
typedef struct runq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *ids[QUEUE_MAX];
	size_t head, n;
	int stop;
	atomic_int running;
	const cli_opts *o;
} runq;

static void on_start(const char *wf_id, void *payload)
{
	runq *q = payload;
	char *id = strdup(wf_id);

	pthread_mutex_lock(&q->mu);
	if (id && q->n < QUEUE_MAX) {
		q->ids[(q->head + q->n) % QUEUE_MAX] = id;
		q->n++;
		id = NULL;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	if (id) {
		/* Stored all the same: 'orchestra resume' runs it. */
		cli_err("serve: run queue full; workflow %s waits for "
			"'orchestra resume'", wf_id);
		free(id);
	}
}

static void run_one(runq *q, const char *wf_id)
{
	orc_runner_options ro = ORC_RUNNER_OPTIONS_INIT;
	orc_runner *runner = NULL;
	orc_backend *backend = NULL;
	orc_run_result res;
	orc_error err;
	orc_status st;
	char owner[64];

	snprintf(owner, sizeof(owner), "orchestra-serve-%ld", (long)getpid());
	ro.threads = q->o->workers > 0 ? (unsigned)q->o->workers :
		     DEFAULT_WORKERS;
	ro.lease_ms = q->o->lease_ms > 0 ? q->o->lease_ms : 0;
	ro.owner = owner;
	ro.seed = (uint64_t)cli_now_ms() ^ (uint64_t)getpid();
	memset(&err, 0, sizeof(err));
	memset(&res, 0, sizeof(res));
	/* A backend of its own: the server's serves requests meanwhile,
	 * and DynamoDB's is for one thread at a time. */
	if (cli_open_store(&backend, q->o, 0) != CLI_OK)
		return;
	st = orc_runner_create(&runner, backend, &ro, &err);
	if (st == ORC_OK)
		st = orc_runner_run(&res, runner, wf_id, NULL, NULL, &err);
	orc_runner_free(runner);
	orc_backend_free(backend);
	if (st != ORC_OK)
		cli_fail(wf_id, st, &err);
	else
		printf("workflow %s %s\n", wf_id,
		       orc_workflow_state_name(res.state));
	fflush(stdout);
	orc_run_result_clear(&res);
}

static void *run_main(void *arg)
{
	runq *q = arg;
	char *id;

	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (!q->n && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->stop) {
			pthread_mutex_unlock(&q->mu);
			return NULL;
		}
		id = q->ids[q->head];
		q->head = (q->head + 1) % QUEUE_MAX;
		q->n--;
		atomic_fetch_add(&q->running, 1);
		pthread_mutex_unlock(&q->mu);
		run_one(q, id);
		atomic_fetch_sub(&q->running, 1);
		free(id);
	}
}

/* serve's own options, taken out of argv before the common parser sees
 * the rest (store, --workers, --lease-ms). */
typedef struct serve_opts {
	const char *listen, *token, *start, *origin;
	long poll_ms;
	int run;
} serve_opts;

static int take_opts(serve_opts *so, int *argc, char **argv)
{
	static const char *const with_value[] = { "--listen", "--token",
		"--start", "--allow-origin", "--poll-ms" };
	int i, k, out = 1;

	memset(so, 0, sizeof(*so));
	for (i = 1; i < *argc; i++) {
		const char *a = argv[i], *v = NULL;
		size_t j, n;

		if (strcmp(a, "--run") == 0) {
			so->run = 1;
			continue;
		}
		for (j = 0, k = -1; j < 5; j++) {
			n = strlen(with_value[j]);
			if (strncmp(a, with_value[j], n) == 0 &&
			    (a[n] == '\0' || a[n] == '=')) {
				k = (int)j;
				v = a[n] == '=' ? a + n + 1 : NULL;
			}
		}
		if (k < 0) {
			argv[out++] = argv[i];
			continue;
		}
		if (!v) {
			if (i + 1 >= *argc) {
				cli_err("serve: %s needs a value",
					with_value[k]);
				return CLI_USAGE;
			}
			v = argv[++i];
		}
		switch (k) {
		case 0: so->listen = v; break;
		case 1: so->token = v; break;
		case 2: so->start = v; break;
		case 3: so->origin = v; break;
		default: {
			char *end;

			so->poll_ms = strtol(v, &end, 10);
			if (*end || end == v || so->poll_ms < 50 ||
			    so->poll_ms > 60000) {
				cli_err("serve: --poll-ms wants a number from "
					"50 to 60000, not '%s'", v);
				return CLI_USAGE;
			}
		}
		}
	}
	*argc = out;
	return CLI_OK;
}

/* --start FILE: the workflow is stored before the listener opens, so
 * the first page shows it. Its id: the file's, else the file's stem. */
static int start_file(orc_backend *backend, const char *path, runq *q)
{
	orc_context *ctx = NULL;
	orc_dag *dag = NULL;
	char *wf_id = NULL, stem[64];
	const char *base = strrchr(path, '/');
	orc_error err;
	orc_status st;
	size_t i;
	int rc;

	if ((rc = cli_load_workflow(&dag, &wf_id, path, 1)) != CLI_OK)
		return rc;
	base = base ? base + 1 : path;
	for (i = 0; base[i] && base[i] != '.' && i + 1 < sizeof(stem); i++)
		stem[i] = base[i] == '#' ? '_' : base[i];
	stem[i] = '\0';
	memset(&err, 0, sizeof(err));
	st = orc_context_create(&ctx, backend, NULL, &err);
	if (st == ORC_OK)
		st = orc_workflow_start(ctx, wf_id ? wf_id : stem, dag, NULL,
					&err);
	if (st == ORC_OK)
		on_start(wf_id ? wf_id : stem, q);
	else
		rc = cli_fail(path, st, &err);
	orc_context_free(ctx);
	orc_dag_free(dag);
	orc_free(wf_id);
	return rc;
}

int cli_cmd_serve(int argc, char **argv)
{
	orc_http_options ho = ORC_HTTP_OPTIONS_INIT;
	orc_backend *backend = NULL;
	orc_http_api *api = NULL;
	orc_http_server *srv = NULL;
	pthread_t threads[RUN_THREADS];
	size_t nthreads = 0, i;
	sigset_t sigs;
	serve_opts so;
	cli_opts o;
	orc_error err;
	orc_status st;
	runq q;
	start_fn server_start;
	stop_fn server_stop;
	int rc, port = 0, sig = 0;

	if ((rc = take_opts(&so, &argc, argv)) != CLI_OK)
		return rc;
	rc = cli_start(&o, "serve", argc, argv, CLI_O_STORE | CLI_O_WORKERS |
		       CLI_O_LEASE, serve_help, 0, "no arguments");
	if (rc >= 0)
		return rc;
	if (!so.token && getenv("ORC_HTTP_TOKEN") && getenv("ORC_HTTP_TOKEN")[0])
		so.token = getenv("ORC_HTTP_TOKEN");
	if (so.start)
		so.run = 1;
	memset(&err, 0, sizeof(err));
	if ((st = load_server(&server_start, &server_stop, &err)) != ORC_OK)
		return cli_fail("serve", st, &err);
	/* Signals are taken by sigwait below; every thread inherits the
	 * mask, so none of them is interrupted. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	memset(&q, 0, sizeof(q));
	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.cv, NULL);
	atomic_init(&q.running, 0);
	q.o = &o;
	if ((rc = cli_open_store(&backend, &o, 0)) != CLI_OK)
		goto out;
	ho.token = so.token;
	ho.allow_origin = so.origin;
	ho.poll_ms = so.poll_ms ? so.poll_ms :
		     (o.backend && strcmp(o.backend, "dynamodb") == 0 ?
		      1000 : 500);
	if (!o.backend || strcmp(o.backend, "sqlite") == 0)
		ho.watch_file = o.db ? o.db : CLI_DEFAULT_DB;
	if (so.run) {
		ho.on_start = on_start;
		ho.on_start_payload = &q;
		ho.require_commands = 1;
	}
	memset(&err, 0, sizeof(err));
	st = orc_http_api_create(&api, backend, &ho, &err);
	if (st != ORC_OK) {
		rc = cli_fail("serve", st, &err);
		goto out;
	}
	if (so.start && (rc = start_file(backend, so.start, &q)) != CLI_OK)
		goto out;
	for (; so.run && nthreads < RUN_THREADS; nthreads++)
		if (pthread_create(&threads[nthreads], NULL, run_main, &q))
			break;
	st = server_start(&srv, api, so.listen ? so.listen :
			  DEFAULT_LISTEN, &port, &err);
	if (st != ORC_OK) {
		rc = cli_fail("serve", st, &err);
		goto out;
	}
	{
		const char *l = so.listen ? so.listen : DEFAULT_LISTEN;
		const char *colon = strrchr(l, ':');

		printf("listening on http://%.*s:%d/\n", (int)(colon - l), l,
		       port);
		fflush(stdout);
	}
	sigwait(&sigs, &sig);
	server_stop(srv);
	srv = NULL;
	if (atomic_load(&q.running) > 0) {
		/* A run cannot be cut short cleanly: its leases expire and
		 * 'orchestra resume' continues it. */
		cli_err("serve: stopped with runs in progress; 'orchestra "
			"resume ID' continues them");
		cli_stop_children();
		_exit(CLI_INTERRUPTED);
	}
	rc = CLI_OK;
out:
	server_stop(srv);
	pthread_mutex_lock(&q.mu);
	q.stop = 1;
	pthread_cond_broadcast(&q.cv);
	pthread_mutex_unlock(&q.mu);
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	for (i = 0; i < q.n; i++)
		free(q.ids[(q.head + i) % QUEUE_MAX]);
	pthread_cond_destroy(&q.cv);
	pthread_mutex_destroy(&q.mu);
	orc_http_api_free(api);
	orc_backend_free(backend);
	return rc;
}
