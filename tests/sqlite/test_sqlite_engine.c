/*
 * The engine on one SQLite file shared by real processes: exactly one
 * success per task when four processes race over 500 workflows, and
 * workers killed with SIGKILL again and again, then resumed the way
 * `orchestra resume` does it. Each handler appends one line per attempt
 * to a side-effect log (O_APPEND, one write per line), which is checked
 * against the stored state afterwards.
 *
 * Randomized with a fixed seed, printed on failure; ORC_TEST_SEED
 * overrides it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "orchestra/orchestra.h"
#include "sqlite_files.h"

#define NPROC 4
#define NWF 500
#define NKILL_WF 100
#define NKILLS 100
#define NT 5
#define HOUR_MS 3600000LL

/* The seed's A -> (B1, B2, B3) -> C. Retries are immediate so that the
 * injected failures do not make the test wait. */
static const char *const task_ids[NT] = { "A", "B1", "B2", "B3", "C" };
static const char dag_fmt[] =
	"{\"defaults\": {\"retry\": {\"maxAttempts\": %d, \"intervalMs\": 0}},"
	" \"tasks\": ["
	"{\"id\": \"A\", \"handler\": \"work\"},"
	"{\"id\": \"B1\", \"handler\": \"work\", \"dependsOn\": [\"A\"]},"
	"{\"id\": \"B2\", \"handler\": \"work\", \"dependsOn\": [\"A\"]},"
	"{\"id\": \"B3\", \"handler\": \"work\", \"dependsOn\": [\"A\"]},"
	"{\"id\": \"C\", \"handler\": \"work\","
	" \"dependsOn\": [\"B1\", \"B2\", \"B3\"]}]}";

static char dir[256];
static uint64_t seed;

#define FAIL(...)                                                          \
	do {                                                               \
		print_message("# seed %" PRIu64 " (ORC_TEST_SEED=%" PRIu64 \
			      " repeats it)\n", seed, seed);               \
		fail_msg(__VA_ARGS__);                                     \
	} while (0)

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* How many attempts of task @p t of workflow @p w fail before one
 * succeeds: 0 mostly, 1 or 2 sometimes, 3 (= maxAttempts: the task
 * fails for good) rarely. A pure function of the seed, so the checker
 * knows it too. */
static int planned_failures(int w, int t)
{
	uint64_t s = seed ^ ((uint64_t)w << 20) ^ (uint64_t)t;
	unsigned r = (unsigned)(splitmix(&s) % 1000);

	return r < 850 ? 0 : r < 930 ? 1 : r < 994 ? 2 : 3;
}

static void path_for(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

static void wf_name(char *out, size_t size, int w)
{
	snprintf(out, size, "wf-%03d", w);
}

static int task_index(const char *id)
{
	int t;

	for (t = 0; t < NT; t++)
		if (strcmp(task_ids[t], id) == 0)
			return t;
	return -1;
}

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Real time moved @p payload hours ahead: every lease a killed worker
 * (on an earlier offset) held has expired for the next one, so nobody
 * waits for real leases to run out. */
static int64_t shifted_clock(void *payload)
{
	return real_ms() + *(const int64_t *)payload * HOUR_MS;
}

static int group_setup(void **state)
{
	const char *s = getenv("ORC_TEST_SEED");

	(void)state;
	seed = s && *s ? strtoull(s, NULL, 0) : 20261126u;
	return sqlite_test_dir_create(dir, sizeof(dir), "engine");
}

static int group_teardown(void **state)
{
	(void)state;
	return sqlite_test_dir_remove(dir);
}

static orc_dag *load_dag(int max_attempts)
{
	char text[1024];
	orc_dag *dag = NULL;
	orc_error err;

	snprintf(text, sizeof(text), dag_fmt, max_attempts);
	if (orc_dag_load(&dag, NULL, text, strlen(text), "<test>", &err) !=
	    ORC_OK)
		fail_msg("dag: %s", err.message);
	return dag;
}

/* Create @p n workflows wf-000 ... on a new file, then close it: no
 * connection may cross a fork. */
static void start_workflows(const char *path, const orc_dag *dag, int n)
{
	orc_backend *b = NULL;
	orc_context *ctx = NULL;
	orc_error err;
	char id[32];
	int w;

	if (orc_sqlite_backend_open(&b, path, NULL, &err) != ORC_OK ||
	    orc_context_create(&ctx, b, NULL, &err) != ORC_OK)
		fail_msg("open %s: %s", path, err.message);
	for (w = 0; w < n; w++) {
		wf_name(id, sizeof(id), w);
		if (orc_workflow_start(ctx, id, dag, "{}", &err) != ORC_OK)
			fail_msg("start %s: %s", id, err.message);
	}
	orc_context_free(ctx);
	orc_backend_free(b);
}

/* One line, one write(2) on an O_APPEND descriptor: lines from
 * processes writing at once never interleave. */
static int log_effect(int fd, const char *wf, const char *task,
		      int32_t attempt, const char *what, const char *who)
{
	char line[160];
	int n = snprintf(line, sizeof(line), "%s %s %" PRId32 " %s %s\n", wf,
			 task, attempt, what, who);

	return write(fd, line, (size_t)n) == n ? 0 : -1;
}

/* ---- a worker: the engine's primitives, sweeping every workflow ---- */

typedef struct worker {
	orc_context *ctx;
	const char *owner;
	int fd;             /* the side-effect log */
	int inject;         /* fail attempts as planned_failures() says */
	int pause_us;       /* upper bound of a handler's run time */
	uint64_t rng;
	int nwf;
} worker;

/* Run a write until it is not throttled (another process holds the
 * write lock longer than the busy timeout). */
#define RETRY_THROTTLED(st, call)                                          \
	do {                                                               \
		(st) = (call);                                             \
	} while ((st) == ORC_ETHROTTLED)

/* The handler's side of one claimed attempt. Returns 0, or an exit
 * code for the parent. */
static int run_attempt(worker *wk, const char *wf, int w,
		       const orc_claim *c)
{
	int t = task_index(c->task_id);
	int fails = wk->inject && c->attempt <= planned_failures(w, t);
	orc_error err;
	orc_status st;

	if (t < 0)
		return 20;
	if (log_effect(wk->fd, wf, c->task_id, c->attempt,
		       fails ? "fail" : "ok", wk->owner) != 0)
		return 21;
	if (wk->pause_us > 0)
		usleep((useconds_t)(splitmix(&wk->rng) %
				    (unsigned)wk->pause_us));
	if (fails)
		st = orc_workflow_fail(NULL, wk->ctx, wf, c->task_id,
				       c->token, "injected", &err);
	else
		st = orc_workflow_complete(wk->ctx, wf, c->task_id, c->token,
					   "{}", &err);
	if (st == ORC_ETHROTTLED) {
		/* The first write may have committed before a later one
		 * (fan-out) was throttled: repair as a crash would be. */
		RETRY_THROTTLED(st, orc_workflow_reconcile(NULL, wk->ctx, wf,
							   &err));
		return st == ORC_OK ? 0 : 24;
	}
	/* Written only once the success is durable. */
	if (st == ORC_OK && !fails &&
	    log_effect(wk->fd, wf, c->task_id, c->attempt, "done",
		       wk->owner) != 0)
		return 22;
	if (st != ORC_OK) {
		fprintf(stderr, "%s %s attempt %" PRId32 ": %s: %s\n", wf,
			c->task_id, c->attempt, orc_status_name(st),
			err.message);
		return 23;
	}
	return 0;
}

/* Visit the workflows round-robin from @p first, claiming one task per
 * visit, until every one is terminal. Processes that start at nearby
 * offsets race for the same tasks all along. */
static int sweep(worker *wk, int first)
{
	char *terminal = calloc((size_t)wk->nwf, 1);
	int left = wk->nwf, w = first, idle = 0, rc = 0;
	char wf[32];

	if (!terminal)
		return 30;
	while (left > 0 && rc == 0) {
		orc_claim c;
		orc_error err;
		orc_status st;

		if (terminal[w])
			goto next;
		wf_name(wf, sizeof(wf), w);
		st = orc_workflow_claim(&c, wk->ctx, wf, wk->owner,
					10 * 60 * 1000, &err);
		if (st == ORC_OK) {
			idle = 0;
			rc = run_attempt(wk, wf, w, &c);
		} else if (st == ORC_ECANCELED) {
			terminal[w] = 1;
			left--;
		} else if (st != ORC_ENOTFOUND && st != ORC_ETHROTTLED) {
			fprintf(stderr, "claim %s: %s\n", wf, err.message);
			rc = 31;
		} else if (++idle > 2 * wk->nwf) {
			/* Nothing runnable anywhere: others hold the rest. */
			usleep(1000);
			idle = 0;
		}
next:
		w = (w + 1) % wk->nwf;
	}
	free(terminal);
	return rc;
}

static int open_worker(worker *wk, orc_backend **b, const char *path,
		       const orc_context_options *co)
{
	orc_error err;

	*b = NULL;
	wk->ctx = NULL;
	if (orc_sqlite_backend_open(b, path, NULL, &err) != ORC_OK ||
	    orc_context_create(&wk->ctx, *b, co, &err) != ORC_OK) {
		fprintf(stderr, "open %s: %s\n", path, err.message);
		return -1;
	}
	return 0;
}

/* ---- the side-effect log against the stored state ---- */

/* Attempts seen in the log for one task, as bit masks (attempt < 64). */
typedef struct seen {
	uint64_t ok, fail, done;
	int dup;
} seen;

/* Also sets bit k of @p procs[w] (may be NULL) when worker "proc<k>"
 * ran a task of workflow w. */
static void read_log(seen *s, unsigned *procs, const char *path, int nwf)
{
	char wf[64], task[32], what[16], who[32], line[192];
	FILE *f = fopen(path, "r");
	int w, t = -1;
	int32_t a;

	if (!f)
		FAIL("no side-effect log %s", path);
	while (fgets(line, sizeof(line), f)) {
		seen *e;
		uint64_t bit, *mask;

		int k;

		if (sscanf(line, "%63s %31s %" SCNd32 " %15s %31s", wf, task,
			   &a, what, who) != 5 || sscanf(wf, "wf-%d", &w) != 1 ||
		    w < 0 || w >= nwf || (t = task_index(task)) < 0 ||
		    a < 1 || a > 63)
			FAIL("bad log line: %s", line);
		e = &s[w * NT + t];
		if (procs && sscanf(who, "proc%d", &k) == 1 && k >= 0 &&
		    k < 32)
			procs[w] |= 1u << k;
		bit = 1ull << a;
		mask = strcmp(what, "ok") == 0 ? &e->ok :
		       strcmp(what, "fail") == 0 ? &e->fail : &e->done;
		if ((*mask & bit) || (mask != &e->done &&
				      ((e->ok | e->fail) & bit)))
			e->dup = a;
		*mask |= bit;
	}
	fclose(f);
}

static int popcount64(uint64_t x)
{
	int n = 0;

	for (; x; x &= x - 1)
		n++;
	return n;
}

/* Exactly once: a task that SUCCEEDED in the database has a successful
 * run in the log in the attempt the database recorded (without kills,
 * that one alone), and no attempt after it; no attempt ever ran twice
 * (fencing); and a "done" line, written after orc_workflow_complete()
 * returned, exists only for that attempt (without kills, always). */
static void check_task(const seen *e, const orc_task_rec *r,
		       const char *wf, int killed)
{
	uint64_t last = r->attempt > 0 ? 1ull << r->attempt : 0;
	uint64_t ran = e->ok | e->fail;

	if (e->dup)
		FAIL("%s %s: attempt %d logged twice", wf, r->id, e->dup);
	if (r->attempt > 62 || (ran >> 1) >> r->attempt)
		FAIL("%s %s: the log has attempts after %" PRId32, wf,
		     r->id, r->attempt);
	if (r->state == ORC_TASK_SUCCEEDED) {
		/* A killed worker's handler may have run and died
		 * before its completion: that run did not win. */
		if (!(e->ok & last) ||
		    (!killed && popcount64(e->ok) != 1))
			FAIL("%s %s succeeded in attempt %" PRId32 " but "
			     "the log has %d successful runs (mask %#" PRIx64
			     ")", wf, r->id, r->attempt, popcount64(e->ok),
			     e->ok);
		if ((e->done & ~last) || (!killed && e->done != last))
			FAIL("%s %s: a completion was confirmed for an "
			     "attempt that did not win", wf, r->id);
	} else if (e->ok || e->done) {
		FAIL("%s %s is %s but ran successfully", wf, r->id,
		     orc_task_state_name(r->state));
	}
}

static void snapshot(orc_snapshot *snap, orc_context *ctx, const char *wf)
{
	orc_error err;

	if (orc_workflow_snapshot(snap, ctx, wf, 0, &err) != ORC_OK)
		FAIL("snapshot %s: %s", wf, err.message);
	if (snap->ntasks != NT)
		FAIL("%s has %zu tasks", wf, snap->ntasks);
}

static void check_integrity(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char text[256] = "";

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) !=
	    SQLITE_OK || sqlite3_step(s) != SQLITE_ROW)
		FAIL("integrity_check on %s: %s", path, sqlite3_errmsg(db));
	snprintf(text, sizeof(text), "%s",
		 (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	if (strcmp(text, "ok") != 0)
		FAIL("integrity_check: %s", text);
}

static void clean_up(orc_context *ctx, orc_backend *b, orc_dag *dag,
		     seen *s, const char *log, const char *path)
{
	orc_context_free(ctx);
	orc_backend_free(b);
	orc_dag_free(dag);
	free(s);
	unlink(log);
	sqlite_files_remove(path);
}

/* ---- 4 processes x 500 workflows ---- */

static int race_child(const char *path, const char *log, int k)
{
	orc_context_options co = ORC_CONTEXT_OPTIONS_INIT;
	char owner[16];
	orc_backend *b;
	worker wk;
	int rc;

	memset(&wk, 0, sizeof(wk));
	snprintf(owner, sizeof(owner), "proc%d", k);
	wk.owner = owner;
	wk.inject = 1;
	wk.nwf = NWF;
	co.seed = seed + (uint64_t)k;
	wk.fd = open(log, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (wk.fd < 0 || open_worker(&wk, &b, path, &co) != 0)
		return 10;
	/* Neighbouring offsets: the four meet on the same workflows. */
	rc = sweep(&wk, k * 3);
	orc_context_free(wk.ctx);
	orc_backend_free(b);
	close(wk.fd);
	return rc;
}

static void test_sqlite_engine__four_processes_exactly_once(void **state)
{
	char path[512], log[512], wf[32];
	orc_dag *dag = load_dag(3);
	seen *s = calloc(NWF * NT, sizeof(*s));
	unsigned procs[NWF] = { 0 };
	pid_t pid[NPROC];
	orc_backend *b = NULL;
	orc_context *ctx = NULL;
	orc_error err;
	int k, w, t, fd, retries = 0, failed_wf = 0, shared = 0;

	(void)state;
	assert_non_null(s);
	path_for(path, sizeof(path), "race.db");
	path_for(log, sizeof(log), "race.log");
	start_workflows(path, dag, NWF);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	close(fd);
	for (k = 0; k < NPROC; k++) {
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		if (pid[k] == 0)
			_exit(race_child(path, log, k));
	}
	for (k = 0; k < NPROC; k++) {
		int ws;

		assert_int_equal(waitpid(pid[k], &ws, 0), pid[k]);
		if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
			FAIL("worker %d failed (status 0x%x)", k, ws);
	}
	check_integrity(path);
	read_log(s, procs, log, NWF);
	if (orc_sqlite_backend_open(&b, path, NULL, &err) != ORC_OK ||
	    orc_context_create(&ctx, b, NULL, &err) != ORC_OK)
		FAIL("reopen: %s", err.message);
	for (w = 0; w < NWF; w++) {
		orc_workflow_state want = ORC_WORKFLOW_SUCCEEDED;
		orc_snapshot snap;

		wf_name(wf, sizeof(wf), w);
		snapshot(&snap, ctx, wf);
		for (t = 0; t < NT; t++)
			if (planned_failures(w, t) >= 3)
				want = ORC_WORKFLOW_FAILED;
		if (snap.workflow.state != want)
			FAIL("%s is %s, expected %s", wf,
			     orc_workflow_state_name(snap.workflow.state),
			     orc_workflow_state_name(want));
		failed_wf += want == ORC_WORKFLOW_FAILED;
		shared += (procs[w] & (procs[w] - 1)) != 0;
		for (t = 0; t < NT; t++) {
			const orc_task_rec *r = orc_snapshot_task(&snap, t);
			const seen *e = &s[w * NT + task_index(r->id)];
			int p = planned_failures(w, task_index(r->id));
			uint64_t before = (1ull << r->attempt) - 2;

			check_task(e, r, wf, 0);
			/* Retries counted: every attempt before the last one
			 * is a logged failure, as planned. */
			if (r->state == ORC_TASK_SUCCEEDED &&
			    (r->attempt != p + 1 || e->fail != before))
				FAIL("%s %s: attempt %" PRId32 " with %d "
				     "planned failures (log %#" PRIx64 ")",
				     wf, r->id, r->attempt, p, e->fail);
			if (r->state == ORC_TASK_FAILED &&
			    (p < 3 || r->attempt != 3 ||
			     e->fail != (1ull << 4) - 2))
				FAIL("%s %s failed after %" PRId32
				     " attempts, %d planned", wf, r->id,
				     r->attempt, p);
			if (r->state == ORC_TASK_SUCCEEDED)
				retries += p;
		}
		orc_snapshot_clear(&snap);
	}
	/* The plan must have exercised both retry and final failure, and
	 * the processes must have raced: most workflows had tasks run by
	 * more than one of them. */
	if (retries == 0 || failed_wf == 0)
		FAIL("seed gives %d retries and %d failed workflows",
		     retries, failed_wf);
	if (shared < NWF / 2)
		FAIL("only %d of %d workflows were worked on by more than "
		     "one process", shared, NWF);
	print_message("# seed %" PRIu64 ": %d retries, %d failed workflows, "
		      "%d of %d workflows run by several processes\n", seed,
		      retries, failed_wf, shared, NWF);
	clean_up(ctx, b, dag, s, log, path);
}

/* ---- SIGKILL while tasks run and while transactions commit ---- */

/* A worker that will be killed: like `orchestra resume`, it reconciles
 * every workflow first (on a clock @p round hours ahead, so the leases
 * of the workers killed before it have expired), then works. */
static int doomed_child(const char *path, const char *log, int64_t round,
			int ready_fd)
{
	orc_context_options co = ORC_CONTEXT_OPTIONS_INIT;
	orc_backend *b;
	worker wk;
	char wf[32], owner[32];
	int w, rc;

	memset(&wk, 0, sizeof(wk));
	snprintf(owner, sizeof(owner), "doomed%d", (int)round);
	wk.owner = owner;
	wk.nwf = NKILL_WF;
	wk.pause_us = 1500; /* a handler runs 0 to 1.5 ms */
	wk.rng = seed ^ (uint64_t)round;
	co.clock = shifted_clock;
	co.clock_payload = &round;
	wk.fd = open(log, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (wk.fd < 0 || open_worker(&wk, &b, path, &co) != 0)
		return 10;
	for (w = 0; w < NKILL_WF; w++) {
		orc_error err;
		orc_status st;

		wf_name(wf, sizeof(wf), w);
		RETRY_THROTTLED(st, orc_workflow_reconcile(NULL, wk.ctx, wf,
							   &err));
		if (st != ORC_OK)
			return 11;
	}
	if (write(ready_fd, "w", 1) != 1)
		return 12;
	close(ready_fd);
	rc = sweep(&wk, (int)(round * 7 % NKILL_WF));
	orc_context_free(wk.ctx);
	orc_backend_free(b);
	close(wk.fd);
	return rc;
}

static orc_status work_handler(orc_handler_call *call, void *payload)
{
	int fd = *(const int *)payload;

	if (log_effect(fd, orc_call_workflow_id(call), orc_call_task_id(call),
		       orc_call_attempt(call), "ok", "resume") != 0) {
		orc_call_set_error(call, "log: %s", strerror(errno));
		return ORC_EUSER;
	}
	return ORC_OK;
}

/* Tasks left RUNNING under the lease of the worker killed in @p round. */
static int count_running(const char *path, int round)
{
	char owner[32];
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int n = -1;

	snprintf(owner, sizeof(owner), "doomed%d", round);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM tasks WHERE "
			       "state = ? AND owner = ?", -1, &s, NULL) ==
	    SQLITE_OK &&
	    sqlite3_bind_int(s, 1, ORC_TASK_RUNNING) == SQLITE_OK &&
	    sqlite3_bind_text(s, 2, owner, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

static void test_sqlite_engine__sigkill_then_resume(void **state)
{
	orc_runner_options ro = ORC_RUNNER_OPTIONS_INIT;
	char path[512], log[512], wf[32];
	orc_dag *dag = load_dag(60);
	seen *s = calloc(NKILL_WF * NT, sizeof(*s));
	uint64_t rng = seed;
	orc_backend *b = NULL;
	orc_context *ctx = NULL;
	orc_runner *runner = NULL;
	int64_t round;
	orc_error err;
	int fd, w, t, mid_task = 0, finished = 0;

	(void)state;
	assert_non_null(s);
	path_for(path, sizeof(path), "kill.db");
	path_for(log, sizeof(log), "kill.log");
	start_workflows(path, dag, NKILL_WF);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	assert_true(fd >= 0);
	for (round = 1; round <= NKILLS; round++) {
		/* Even rounds: 0 to 25 ms after the fork, anywhere from
		 * the open and the reconcile pass to the sweep. Odd ones:
		 * 0 to 8 ms into the sweep, in handlers and commits. */
		useconds_t delay = (useconds_t)(splitmix(&rng) %
						(round % 2 ? 8000 : 25000));
		int ws, running, ready[2];
		pid_t pid;
		char c;

		assert_int_equal(pipe(ready), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(ready[0]);
			_exit(doomed_child(path, log, round, ready[1]));
		}
		close(ready[1]);
		/* EOF if it died first; the exit status tells. */
		if (round % 2 && read(ready[0], &c, 1) < 0)
			FAIL("kill %d: read: %s", (int)round,
			     strerror(errno));
		usleep(delay);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &ws, 0), pid);
		if (WIFEXITED(ws) && WEXITSTATUS(ws) != 0)
			FAIL("kill %d: the worker failed first (exit %d)",
			     (int)round, WEXITSTATUS(ws));
		finished += WIFEXITED(ws);
		close(ready[0]);
		check_integrity(path);
		running = count_running(path, (int)round);
		if (running < 0)
			FAIL("kill %d: cannot count running tasks",
			     (int)round);
		mid_task += running > 0;
	}
	/* Many kills must have hit a worker holding a task. */
	if (mid_task < NKILLS / 4)
		FAIL("only %d of %d kills left a task running", mid_task,
		     NKILLS);
	/* Resume as the command does: one runner, orc_runner_run() with
	 * no definition, for each workflow; the clock past every lease. */
	ro.owner = "resume";
	ro.clock = shifted_clock;
	ro.clock_payload = &round;
	if (orc_sqlite_backend_open(&b, path, NULL, &err) != ORC_OK ||
	    orc_runner_create(&runner, b, &ro, &err) != ORC_OK ||
	    orc_runner_register(runner, "work", work_handler, &fd, &err) !=
	    ORC_OK || orc_context_create(&ctx, b, NULL, &err) != ORC_OK)
		FAIL("resume: %s", err.message);
	for (w = 0; w < NKILL_WF; w++) {
		orc_run_result res;

		wf_name(wf, sizeof(wf), w);
		memset(&res, 0, sizeof(res));
		if (orc_runner_run(&res, runner, wf, NULL, NULL, &err) !=
		    ORC_OK)
			FAIL("resume %s: %s", wf, err.message);
		if (res.state != ORC_WORKFLOW_SUCCEEDED)
			FAIL("resume %s: %s (%s)", wf,
			     orc_workflow_state_name(res.state),
			     res.error ? res.error : "");
		orc_run_result_clear(&res);
	}
	close(fd);
	check_integrity(path);
	read_log(s, NULL, log, NKILL_WF);
	for (w = 0; w < NKILL_WF; w++) {
		orc_snapshot snap;

		wf_name(wf, sizeof(wf), w);
		snapshot(&snap, ctx, wf);
		for (t = 0; t < NT; t++) {
			const orc_task_rec *r = orc_snapshot_task(&snap, t);

			if (r->state != ORC_TASK_SUCCEEDED)
				FAIL("%s %s is %s after resume", wf, r->id,
				     orc_task_state_name(r->state));
			check_task(&s[w * NT + task_index(r->id)], r, wf,
				   1);
		}
		orc_snapshot_clear(&snap);
	}
	print_message("# seed %" PRIu64 ": %d kills, %d with a task running, "
		      "%d workers finished before their kill\n", seed,
		      NKILLS, mid_task, finished);
	orc_runner_free(runner);
	clean_up(ctx, b, dag, s, log, path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_sqlite_engine__four_processes_exactly_once),
		cmocka_unit_test(test_sqlite_engine__sigkill_then_resume),
	};

	return cmocka_run_group_tests_name("sqlite_engine", tests,
					   group_setup, group_teardown);
}
