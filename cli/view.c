/*
 * Live progress of a run. A thread of its own polls the workflow through
 * its own orc_context on its own database connection, so it never
 * touches the runner's objects (which are not synchronized). On a
 * terminal it redraws one line per task in place; otherwise it prints a
 * plain line whenever it sees a task change state.
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

struct cli_view {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int tty;
	char id[ORC_ID_MAX + 1];
	orc_backend *backend;
	orc_context *ctx;
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

static void draw(cli_view *v, const orc_snapshot *s)
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
		done += orc_snapshot_task(s, i)->state == ORC_TASK_SUCCEEDED;
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
			const orc_task_rec *t = orc_snapshot_task(s, i);

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

static void print_changes(cli_view *v, const orc_snapshot *s)
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
		const orc_task_rec *t = orc_snapshot_task(s, i);

		if (v->seen_state[i] == (int)t->state &&
		    v->seen_attempt[i] == t->attempt)
			continue;
		v->seen_state[i] = (int)t->state;
		v->seen_attempt[i] = t->attempt;
		printf("%s %s attempt %d\n", cli_safe(id, sizeof(id), t->id),
		       orc_task_state_name(t->state), (int)t->attempt);
	}
	fflush(stdout);
}

static void poll_once(cli_view *v)
{
	orc_snapshot s;

	memset(&s, 0, sizeof(s));
	/* Not found yet (the run is still starting) or busy: next tick. */
	if (orc_workflow_snapshot(&s, v->ctx, v->id, 0, NULL) != ORC_OK)
		return;
	if (v->tty)
		draw(v, &s);
	else
		print_changes(v, &s);
	orc_snapshot_clear(&s);
}

static void *view_main(void *arg)
{
	cli_view *v = arg;
	int period = v->tty ? TTY_PERIOD_MS : PLAIN_PERIOD_MS;

	pthread_mutex_lock(&v->mu);
	while (!v->stop) {
		struct timespec ts;

		pthread_mutex_unlock(&v->mu);
		poll_once(v);
		pthread_mutex_lock(&v->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)period * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		while (!v->stop &&
		       pthread_cond_timedwait(&v->cv, &v->mu, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&v->mu);
	poll_once(v); /* the final states */
	return NULL;
}

static void view_free(cli_view *v)
{
	orc_context_free(v->ctx);
	orc_backend_free(v->backend);
	pthread_cond_destroy(&v->cv);
	pthread_mutex_destroy(&v->mu);
	free(v->seen_state);
	free(v->seen_attempt);
	free(v);
}

int cli_view_start(cli_view **out, const cli_opts *o, const char *wf_id,
		   int tty)
{
	cli_view *v = calloc(1, sizeof(*v));

	*out = NULL;
	if (!v)
		return CLI_RUNTIME;
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->cv, NULL);
	v->tty = tty;
	snprintf(v->id, sizeof(v->id), "%s", wf_id);
	if (cli_open_store(&v->backend, o, CLI_STORE_CREATE) != CLI_OK ||
	    orc_context_create(&v->ctx, v->backend, NULL, NULL) != ORC_OK) {
		view_free(v);
		return CLI_RUNTIME;
	}
	if (tty) {
		cursor_hidden = 1;
		fputs("\x1b[?25l", stdout);
		fflush(stdout);
	}
	if (pthread_create(&v->thread, NULL, view_main, v) != 0) {
		cli_view_restore_terminal();
		view_free(v);
		return CLI_RUNTIME;
	}
	*out = v;
	return CLI_OK;
}

void cli_view_stop(cli_view *v)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->mu);
	v->stop = 1;
	pthread_cond_signal(&v->cv);
	pthread_mutex_unlock(&v->mu);
	pthread_join(v->thread, NULL);
	if (v->tty && cursor_hidden) {
		cursor_hidden = 0;
		fputs("\x1b[?25h", stdout);
		fflush(stdout);
	}
	view_free(v);
}
