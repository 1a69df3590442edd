/*
 * Live progress of a run, from the runner's own events
 * (orc_runner_options.on_event): no storage is read while the run goes
 * on, so watching costs no requests however long tasks take. On a
 * terminal a thread redraws one line per task in place; otherwise a
 * plain line is printed for each state change. At the end, when this
 * process did not see every task succeed (a failure, a cancel, work done
 * by another process), one snapshot brings the display up to date.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define TTY_PERIOD_MS 200
#define PLAIN_PERIOD_MS 100

/* The view's own picture of the run: task records it fills from the
 * runner's events (orc_snapshot keeps its records private). */
struct view_snap {
	orc_workflow_rec workflow;
	size_t ntasks;
	orc_task_rec *tasks;    /* outputs strdup()ed here */
};

struct cli_view {
	pthread_t thread;
	int threaded;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int tty;
	char id[ORC_ID_MAX + 1];
	const orc_dag *dag;
	struct view_snap snap;  /* what is known, in definition order */
	unsigned char *ours;    /* per task: its success seen here, with
				   its output in snap.tasks[i].output */
	int drawn;              /* lines of the last frame */
	size_t nseen;
	int *seen_state;        /* -1 = not seen yet */
	int32_t *seen_attempt;
};

/* Set while the cursor is hidden; the signal handler reads it. */
static volatile sig_atomic_t cursor_hidden;

void cli_view_restore_terminal(void)
{
	static const char show[] = "\x1b[?25h\n";

	if (cursor_hidden) {
		cursor_hidden = 0;
		if (write(STDOUT_FILENO, show, sizeof(show) - 1) < 0) {
			/* nothing to do: we are exiting */
		}
	}
}

static const char *state_colour(orc_task_state s)
{
	switch (s) {
	case ORC_TASK_RUNNING: return "\x1b[33m";
	case ORC_TASK_SUCCEEDED: return "\x1b[32m";
	case ORC_TASK_FAILED: return "\x1b[31m";
	case ORC_TASK_CANCELED: return "\x1b[35m";
	case ORC_TASK_READY: return "\x1b[36m";
	default: return "\x1b[2m";
	}
}

/* The terminal's size; a line that wrapped would break the redraw, so
 * every line is kept shorter than the width. */
static void term_size(int *rows, int *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
		if (ws.ws_row > 4)
			*rows = ws.ws_row;
		if (ws.ws_col > 0)
			*cols = ws.ws_col;
	}
}

/* Show running tasks first when not all fit on the screen. */
static int shown_first(const orc_task_rec *t)
{
	return t->state == ORC_TASK_RUNNING || t->state == ORC_TASK_FAILED;
}

static void draw(cli_view *v, const struct view_snap *s)
{
	size_t i, done = 0, room, shown = 0, limit;
	int64_t now = cli_now_ms();
	int lines = 0, pass, fit, rows, cols, idw;
	char el[32], id[CLI_SAFE_ID];

	term_size(&rows, &cols);
	room = (size_t)rows - 2;
	/* A task line is the id plus 35 columns. */
	idw = cols - 37 < 24 ? cols - 37 : 24;
	if (idw < 4)
		idw = 4;

	if (v->drawn > 0)
		printf("\x1b[%dA", v->drawn);
	for (i = 0; i < s->ntasks; i++)
		done += s->tasks[i].state == ORC_TASK_SUCCEEDED;
	printf("\r\x1b[2K%.*s  %s  %zu/%zu done\n",
	       cols > 40 ? cols - 30 : 10, cli_safe(id, sizeof(id), v->id),
	       orc_workflow_state_name(s->workflow.state), done, s->ntasks);
	lines++;
	/* When not all fit, running and failed tasks come first; two
	 * passes keep the definition's order within each group. */
	fit = s->ntasks <= room;
	limit = fit ? s->ntasks : room - 1;
	for (pass = 0; pass < (fit ? 1 : 2); pass++) {
		for (i = 0; i < s->ntasks && shown < limit; i++) {
			const orc_task_rec *t = &s->tasks[i];

			if (!fit && shown_first(t) != (pass == 0))
				continue;
			printf("\x1b[2K  %-*.*s %s%-9s\x1b[0m attempt %-3d "
			       "%8s\n", idw, idw, cli_safe(id, sizeof(id), t->id),
			       state_colour(t->state),
			       orc_task_state_name(t->state), (int)t->attempt,
			       cli_elapsed(el, sizeof(el),
					   cli_task_elapsed(t, now)));
			lines++;
			shown++;
		}
	}
	if (shown < s->ntasks) {
		printf("\x1b[2K  ... %zu more\n", s->ntasks - shown);
		lines++;
	}
	printf("\x1b[J");
	fflush(stdout);
	v->drawn = lines;
}

static void print_changes(cli_view *v, const struct view_snap *s)
{
	char id[CLI_SAFE_ID];
	size_t i;

	if (v->nseen != s->ntasks) {
		int *st = realloc(v->seen_state, s->ntasks * sizeof(*st) + 1);
		int32_t *at;

		if (!st)
			return;
		v->seen_state = st;
		at = realloc(v->seen_attempt, s->ntasks * sizeof(*at) + 1);
		if (!at)
			return;
		v->seen_attempt = at;
		for (i = v->nseen; i < s->ntasks; i++)
			v->seen_state[i] = -1;
		v->nseen = s->ntasks;
	}
	for (i = 0; i < s->ntasks; i++) {
		const orc_task_rec *t = &s->tasks[i];

		if (v->seen_state[i] == (int)t->state &&
		    v->seen_attempt[i] == t->attempt)
			continue;
		v->seen_state[i] = (int)t->state;
		v->seen_attempt[i] = t->attempt;
		/* A task not seen yet beyond PENDING is not news. */
		if (t->state == ORC_TASK_PENDING && t->attempt == 0)
			continue;
		printf("%s %s attempt %d\n", cli_safe(id, sizeof(id), t->id),
		       orc_task_state_name(t->state), (int)t->attempt);
	}
	fflush(stdout);
}

static void show(cli_view *v)
{
	if (v->tty)
		draw(v, &v->snap);
	else
		print_changes(v, &v->snap);
}

void cli_view_event(const orc_run_event *ev, void *payload)
{
	cli_view *v = payload;
	orc_task_rec *t;
	size_t i;

	if (!v || orc_dag_find(&i, v->dag, ev->task_id, NULL) != ORC_OK ||
	    i >= v->snap.ntasks)
		return;
	pthread_mutex_lock(&v->mu);
	t = &v->snap.tasks[i];
	t->state = ev->state;
	t->attempt = ev->attempt;
	if (ev->state == ORC_TASK_RUNNING) {
		t->started_ms = cli_now_ms();
		t->ended_ms = 0;
	} else {
		t->ended_ms = cli_now_ms();
	}
	if (ev->state == ORC_TASK_SUCCEEDED) {
		free(t->output);
		t->output = ev->output ? strdup(ev->output) : NULL;
		v->ours[i] = !ev->output || t->output;
	}
	if (!v->tty)
		print_changes(v, &v->snap);
	pthread_mutex_unlock(&v->mu);
}

static void *view_main(void *arg)
{
	cli_view *v = arg;

	pthread_mutex_lock(&v->mu);
	while (!v->stop) {
		struct timespec ts;

		draw(v, &v->snap);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)TTY_PERIOD_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		while (!v->stop &&
		       pthread_cond_timedwait(&v->cv, &v->mu, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

static void view_free(cli_view *v)
{
	size_t i;

	/* Outputs were copied with strdup: free them ourselves. */
	for (i = 0; i < v->snap.ntasks; i++) {
		free(v->snap.tasks[i].output);
		v->snap.tasks[i].output = NULL;
	}
	free(v->ours);
	free(v->snap.tasks); /* ours (calloc), not the library's */
	pthread_cond_destroy(&v->cv);
	pthread_mutex_destroy(&v->mu);
	free(v->seen_state);
	free(v->seen_attempt);
	free(v);
}

int cli_view_start(cli_view **out, const char *wf_id, const orc_dag *dag,
		   const orc_snapshot *known, int tty)
{
	cli_view *v = calloc(1, sizeof(*v));
	size_t n = dag ? orc_dag_task_count(dag) : 0, i;

	*out = NULL;
	if (!v || !dag)
		goto fail;
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->cv, NULL);
	v->tty = tty;
	v->dag = dag;
	snprintf(v->id, sizeof(v->id), "%s", wf_id);
	v->snap.tasks = calloc(n + 1, sizeof(*v->snap.tasks));
	v->ours = calloc(n + 1, 1);
	if (!v->snap.tasks || !v->ours)
		goto fail_init;
	v->snap.ntasks = n;
	v->snap.workflow.state = ORC_WORKFLOW_RUNNING;
	for (i = 0; i < n; i++) {
		orc_task_rec *t = &v->snap.tasks[i];
		orc_task_spec spec = ORC_TASK_SPEC_INIT;
		const orc_task_rec *k;

		orc_dag_task_get(&spec, dag, i, NULL);
		snprintf(t->id, sizeof(t->id), "%s", spec.id);
		t->state = ORC_TASK_PENDING;
		k = known && i < known->ntasks ? orc_snapshot_task(known, i)
					       : NULL;
		if (k && strcmp(k->id, t->id) == 0) {
			t->state = k->state;
			t->attempt = k->attempt;
			t->started_ms = k->started_ms;
			t->ended_ms = k->ended_ms;
		}
	}
	if (tty) {
		cursor_hidden = 1;
		fputs("\x1b[?25l", stdout);
		fflush(stdout);
		if (pthread_create(&v->thread, NULL, view_main, v) != 0) {
			cli_view_restore_terminal();
			goto fail_init;
		}
		v->threaded = 1;
	}
	*out = v;
	return CLI_OK;
fail_init:
	view_free(v);
	return CLI_RUNTIME;
fail:
	free(v);
	return CLI_RUNTIME;
}

/* Bring what is shown up to date from the store: one snapshot. */
static void refresh(cli_view *v, orc_backend *backend)
{
	orc_context *ctx = NULL;
	orc_snapshot s;
	size_t i;

	memset(&s, 0, sizeof(s));
	if (orc_context_create(&ctx, backend, NULL, NULL) == ORC_OK &&
	    orc_workflow_snapshot(&s, ctx, v->id, 0, NULL) == ORC_OK &&
	    s.ntasks == v->snap.ntasks) {
		for (i = 0; i < s.ntasks; i++) {
			orc_task_rec *t = &v->snap.tasks[i];
			const orc_task_rec *r = orc_snapshot_task(&s, i);

			t->state = r->state;
			t->attempt = r->attempt;
			t->started_ms = r->started_ms;
			t->ended_ms = r->ended_ms;
		}
	}
	orc_snapshot_clear(&s);
	orc_context_free(ctx);
}

void cli_view_stop(cli_view *v, orc_backend *backend, int known_end,
		   orc_workflow_state end)
{
	size_t i;
	int all = 1;

	if (!v)
		return;
	pthread_mutex_lock(&v->mu);
	v->stop = 1;
	pthread_cond_signal(&v->cv);
	pthread_mutex_unlock(&v->mu);
	if (v->threaded)
		pthread_join(v->thread, NULL);
	for (i = 0; i < v->snap.ntasks; i++)
		all &= v->snap.tasks[i].state == ORC_TASK_SUCCEEDED;
	if (known_end)
		v->snap.workflow.state = end;
	if (backend && (!known_end || !all))
		refresh(v, backend);
	show(v);
	if (v->tty && cursor_hidden) {
		cursor_hidden = 0;
		fputs("\x1b[?25h", stdout);
		fflush(stdout);
	}
}

const char *cli_view_output(const cli_view *v, size_t task, int *known)
{
	*known = v && task < v->snap.ntasks &&
		 v->snap.tasks[task].state == ORC_TASK_SUCCEEDED &&
		 v->ours[task];
	return *known ? v->snap.tasks[task].output : NULL;
}

void cli_view_free(cli_view *v)
{
	if (v)
		view_free(v);
}
