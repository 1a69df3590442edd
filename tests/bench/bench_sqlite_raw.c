/*
 * The SQLite backend against raw SQLite on the same machine and settings
 * (a file in the current directory, WAL, synchronous NORMAL):
 *  raw:     one prepared single-row conditional UPDATE per BEGIN IMMEDIATE
 *           transaction, transactions per second over ~2 s;
 *  backend: a task life as the engine writes it, 3 update_task calls
 *           (claim, complete, mark done + promote on its dependent), and
 *           the same with the READY listing the engine claims through.
 * Prints each rate and the ratio of the backend's writes to raw ones.
 * Three interleaved rounds, best of each, by wall time and by the
 * process's CPU time (the latter is steadier on a loaded machine).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_sqlite_raw.h"
#include "orchestra/backend.h"
#include "orchestra/backends.h"
#include "orchestra/orchestra.h"

#define SECONDS 2.0
#define NTASKS 200000

#define ROUNDS 3

static void keep_best(struct rate *best, struct rate r)
{
	if (r.wall > best->wall)
		best->wall = r.wall;
	if (r.cpu > best->cpu)
		best->cpu = r.cpu;
}

static int take_first(const orc_task_rec *rec, void *payload)
{
	*(orc_task_rec *)payload = *rec;
	return 1;
}

/* update_task calls per second; @p list adds the READY listing. */
static struct rate bench_backend(const char *path, int list)
{
	orc_task_seed *seeds = calloc(NTASKS, sizeof(*seeds));
	char (*ids)[16] = calloc(NTASKS, sizeof(*ids));
	const char **deps = calloc(NTASKS, sizeof(*deps));
	orc_workflow_rec wf;
	orc_backend *b = NULL;
	orc_error err;
	long long calls = 0, lives = 0;
	struct rate r0;
	double t0, c0;
	int i;

	remove_db(path);
	if (orc_sqlite_backend_open(&b, path, NULL, &err) != ORC_OK)
		die("open", err.message);
	/* A chain: each task's life ends by readying the next one. */
	for (i = 0; i < NTASKS; i++) {
		snprintf(ids[i], sizeof(ids[i]), "t%d", i);
		seeds[i].id = ids[i];
		if (i) {
			deps[i] = ids[i - 1];
			seeds[i].ndeps = 1;
			seeds[i].deps = &deps[i];
		}
	}
	memset(&wf, 0, sizeof(wf));
	strcpy(wf.id, "bench");
	wf.state = ORC_WORKFLOW_RUNNING;
	wf.ntasks = NTASKS;
	if (b->create_workflow(b, &wf, seeds, NTASKS, &err) != ORC_OK)
		die("create", err.message);
	t0 = now_s();
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; i + 1 < NTASKS; i++) {
		orc_task_update u;
		orc_task_rec r;

		if (list) {
			r.id[0] = '\0';
			if (b->list_tasks(b, "bench",
					  ORC_TASK_BIT(ORC_TASK_READY), 0,
					  take_first, &r, &err) != ORC_OK ||
			    strcmp(r.id, ids[i]) != 0)
				die("list", "READY task not found");
		}
		memset(&u, 0, sizeof(u));
		u.if_states = ORC_TASK_BIT(ORC_TASK_READY);
		u.if_version = -1;
		u.set = ORC_SET_STATE | ORC_SET_ATTEMPT | ORC_SET_LEASE |
			ORC_SET_STARTED;
		u.state = ORC_TASK_RUNNING;
		u.attempt = 1;
		u.owner = "bench-worker";
		u.lease_expiry_ms = 1000 + i;
		u.started_ms = u.now_ms = i;
		if (b->update_task(b, "bench", ids[i], &u, &r, &err) != ORC_OK)
			die("claim", err.message);
		memset(&u, 0, sizeof(u));
		u.if_states = ORC_TASK_BIT(ORC_TASK_RUNNING);
		u.if_version = r.version;
		u.set = ORC_SET_STATE | ORC_SET_ENDED | ORC_SET_OUTPUT |
			ORC_SET_LEASE;
		u.state = ORC_TASK_SUCCEEDED;
		u.owner = "";
		u.output = "{\"ok\":true}";
		u.ended_ms = u.now_ms = i;
		if (b->update_task(b, "bench", ids[i], &u, NULL, &err) !=
		    ORC_OK)
			die("complete", err.message);
		memset(&u, 0, sizeof(u));
		u.if_version = -1;
		u.set = ORC_SET_DONE_DEP | ORC_SET_PROMOTE;
		u.done_dep = ids[i];
		u.done_dep_index = 0;
		u.now_ms = i;
		if (b->update_task(b, "bench", ids[i + 1], &u, NULL, &err) !=
		    ORC_OK)
			die("fan-out", err.message);
		calls += 3;
		lives++;
		if ((lives & 63) == 0 && now_s() - t0 >= SECONDS)
			break;
	}
	r0 = rate_of((double)calls, t0, c0);
	orc_backend_free(b);
	remove_db(path);
	free(seeds);
	free(ids);
	free(deps);
	return r0;
}

int main(void)
{
	struct rate raw = { 0, 0 }, upd = { 0, 0 }, lst = { 0, 0 };
	int i;

	for (i = 0; i < ROUNDS; i++) {
		keep_best(&raw, bench_raw("bench_sqlite_raw.db", "NORMAL",
					 SECONDS));
		keep_best(&upd, bench_backend("bench_sqlite_backend.db", 0));
		keep_best(&lst, bench_backend("bench_sqlite_backend.db", 1));
	}
	printf("%38s%-12s%s\n", "", "per wall s", "  per CPU s");
	printf("raw UPDATE, 1 per BEGIN IMMEDIATE     %10.0f  %10.0f txn\n",
	       raw.wall, raw.cpu);
	printf("update_task, 3 per task life          %10.0f  %10.0f calls\n",
	       upd.wall, upd.cpu);
	printf("  task lives                          %10.0f  %10.0f\n",
	       upd.wall / 3, upd.cpu / 3);
	printf("  ratio to raw                        %10.2f  %10.2f\n",
	       upd.wall / raw.wall, upd.cpu / raw.cpu);
	printf("update_task + READY list_tasks        %10.0f  %10.0f calls\n",
	       lst.wall, lst.cpu);
	printf("  task lives                          %10.0f  %10.0f\n",
	       lst.wall / 3, lst.cpu / 3);
	return 0;
}
