/*
 * Memory backend micro-benchmark, through the vtable only:
 *  1. heap bytes per task for 100,000 tasks with 2 dependencies each
 *     (mallinfo2 before and after seeding, payloads none);
 *  2. tasks per second for the life the engine drives per task: list
 *     READY, claim, complete, one done-dependency write per dependent.
 * Not registered with meson; build by hand against the library:
 *   cc -O2 -pthread -Iinclude tests/bench/bench_memory_backend.c \
 *      -Lbuild -lorchestra
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  /* clock_gettime */
#endif
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orchestra/backend.h"
#include "orchestra/backends.h"

enum { WIDTH = 1000, LAYERS = 100, NTASKS = WIDTH * LAYERS, BATCH = 64 };

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of this thread: on a loaded machine wall time also counts
 * the time other processes held the core. */
static double cpu_s(void)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

/* Task i of layer l > 0 depends on tasks i and (i + 1) % WIDTH of l - 1,
 * so every task has 2 dependencies and 2 dependents. */
static char (*names)[16];
static const char **depv;
static orc_task_seed *seeds;

static void build_seeds(void)
{
	uint32_t i;

	names = calloc(NTASKS, sizeof(*names));
	depv = calloc(2 * (size_t)NTASKS, sizeof(*depv));
	seeds = calloc(NTASKS, sizeof(*seeds));
	if (!names || !depv || !seeds)
		exit(1);
	for (i = 0; i < NTASKS; i++)
		snprintf(names[i], sizeof(names[i]), "task-%06u", i);
	for (i = 0; i < NTASKS; i++) {
		seeds[i].id = names[i];
		if (i < WIDTH)
			continue;
		depv[2 * i] = names[i - WIDTH];
		depv[2 * i + 1] = names[(i + 1) % WIDTH == 0
					? i + 1 - 2 * WIDTH : i + 1 - WIDTH];
		seeds[i].ndeps = 2;
		seeds[i].deps = &depv[2 * i];
	}
}

struct batch {
	int n;
	char ids[BATCH][16];
	int64_t versions[BATCH];
};

static int collect(const orc_task_rec *rec, void *payload)
{
	struct batch *bt = payload;

	memcpy(bt->ids[bt->n], rec->id, 16);
	bt->versions[bt->n] = rec->version;
	return ++bt->n == BATCH;
}

static uint32_t index_of(const char *id)
{
	return (uint32_t)strtoul(id + 5, NULL, 10);
}

/* Run one workflow to the end; returns tasks completed. */
static uint32_t run(orc_backend *b, const char *wf_id, const char *output)
{
	struct batch bt;
	uint32_t done = 0;
	orc_error err;

	for (;;) {
		int k;

		bt.n = 0;
		if (b->list_tasks(b, wf_id, ORC_TASK_BIT(ORC_TASK_READY), 0,
				  collect, &bt, &err) != ORC_OK)
			exit(2);
		if (bt.n == 0)
			return done;
		for (k = 0; k < bt.n; k++) {
			orc_task_update u;
			orc_task_rec out;
			uint32_t i = index_of(bt.ids[k]), j;

			memset(&u, 0, sizeof(u));
			u.if_states = ORC_TASK_BIT(ORC_TASK_READY);
			u.if_version = bt.versions[k];
			u.set = ORC_SET_STATE | ORC_SET_LEASE |
				ORC_SET_ATTEMPT | ORC_SET_STARTED;
			u.state = ORC_TASK_RUNNING;
			u.owner = "bench-worker";
			u.lease_expiry_ms = 1000;
			u.attempt = 1;
			u.now_ms = 1;
			if (b->update_task(b, wf_id, bt.ids[k], &u, &out,
					   &err) != ORC_OK)
				exit(3);
			memset(&u, 0, sizeof(u));
			u.if_version = out.version;
			u.set = ORC_SET_STATE | ORC_SET_LEASE | ORC_SET_ENDED |
				ORC_SET_OUTPUT;
			u.state = ORC_TASK_SUCCEEDED;
			u.owner = "";
			u.output = output;
			u.now_ms = 2;
			if (b->update_task(b, wf_id, bt.ids[k], &u, NULL,
					   &err) != ORC_OK)
				exit(4);
			done++;
			if (i + WIDTH >= NTASKS)
				continue;
			/* Dependents: i + WIDTH (dep 0) and the task whose
			 * second dependency is i (dep 1). */
			for (j = 0; j < 2; j++) {
				uint32_t d = j == 0 ? i + WIDTH
					: (i % WIDTH == 0 ? i + 2 * WIDTH - 1
							  : i + WIDTH - 1);

				memset(&u, 0, sizeof(u));
				u.if_states = ORC_TASK_BIT(ORC_TASK_PENDING);
				u.if_version = -1;
				u.set = ORC_SET_DONE_DEP | ORC_SET_PROMOTE;
				u.done_dep = bt.ids[k];
				u.done_dep_index = j;
				u.now_ms = 3;
				if (b->update_task(b, wf_id, names[d], &u, NULL,
						   &err) != ORC_OK)
					exit(5);
			}
		}
	}
}

struct job {
	orc_backend *b;
	char wf_id[32];
	uint32_t done;
};

static void *job_main(void *arg)
{
	struct job *j = arg;

	j->done = run(j->b, j->wf_id, NULL);
	return NULL;
}

/* Two threads, one workflow each, on the one shared instance. */
static void run_two(orc_backend *b, orc_workflow_rec *wf)
{
	struct job jobs[2];
	pthread_t th[2];
	orc_error err;
	double t0, t1;
	int k;

	for (k = 0; k < 2; k++) {
		jobs[k].b = b;
		snprintf(jobs[k].wf_id, sizeof(jobs[k].wf_id), "wf-par-%d", k);
		strcpy(wf->id, jobs[k].wf_id);
		if (b->create_workflow(b, wf, seeds, NTASKS, &err) != ORC_OK)
			exit(6);
	}
	t0 = now_s();
	for (k = 0; k < 2; k++)
		pthread_create(&th[k], NULL, job_main, &jobs[k]);
	for (k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	t1 = now_s();
	if (jobs[0].done != NTASKS || jobs[1].done != NTASKS)
		exit(7);
	printf("2 threads, 2 workflows, shared instance: %.0f tasks/s\n",
	       2.0 * NTASKS / (t1 - t0));
}

int main(void)
{
	orc_workflow_rec wf;
	orc_backend *b = NULL;
	struct mallinfo2 before, after;
	orc_error err;
	double t0, t1, c0, c1;
	size_t used;
	uint32_t n;
	int round;

	build_seeds();
	memset(&wf, 0, sizeof(wf));
	wf.state = ORC_WORKFLOW_RUNNING;
	wf.ntasks = NTASKS;

	before = mallinfo2();
	if (orc_memory_backend_create(&b, NULL, &err) != ORC_OK)
		return 1;
	strcpy(wf.id, "wf-mem");
	if (b->create_workflow(b, &wf, seeds, NTASKS, &err) != ORC_OK)
		return 1;
	after = mallinfo2();
	/* Large blocks are mmapped: count them too (hblkhd). */
	used = (after.uordblks + after.hblkhd) -
	       (before.uordblks + before.hblkhd);
	printf("memory: %u tasks x 2 deps: %zu bytes in use, %.1f bytes/task\n",
	       NTASKS, used, (double)used / NTASKS);

	for (round = 0; round < 3; round++) {
		const char *output = round == 2 ? "{\"ok\":true}" : NULL;

		snprintf(wf.id, sizeof(wf.id), "wf-run-%d", round);
		if (b->create_workflow(b, &wf, seeds, NTASKS, &err) != ORC_OK)
			return 1;
		t0 = now_s();
		c0 = cpu_s();
		n = run(b, wf.id, output);
		c1 = cpu_s();
		t1 = now_s();
		if (n != NTASKS) {
			fprintf(stderr, "ran %u of %u tasks\n", n, NTASKS);
			return 1;
		}
		printf("life of a task (list, claim, complete, 2 done-deps)%s: "
		       "%.0f tasks/s wall, %.0f tasks per CPU second\n",
		       output ? " with output" : "", n / (t1 - t0),
		       n / (c1 - c0));
	}
	run_two(b, &wf);
	orc_backend_free(b);
	free(names);
	free(depv);
	free(seeds);
	return 0;
}
