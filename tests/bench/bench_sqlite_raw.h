/*
 * The raw SQLite baseline the SQLite benchmarks measure against, in the
 * same run and on the same file system, and their timing helpers.
 */
#ifndef ORC_BENCH_SQLITE_RAW_H
#define ORC_BENCH_SQLITE_RAW_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

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

/* Operations per second of one run, by wall and by CPU time. */
struct rate {
	double wall, cpu;
};

static struct rate rate_of(double n, double wall0, double cpu0)
{
	struct rate r;

	r.wall = n / (now_s() - wall0);
	r.cpu = n / (clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0);
	return r;
}

static void remove_db(const char *path)
{
	char p[256];

	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	unlink(path);
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench: %s: %s\n", what, msg);
	exit(1);
}

static int step_done(sqlite3 *db, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		die("step", sqlite3_errmsg(db));
	return sqlite3_changes(db);
}

/* Transactions per second of the raw baseline: one prepared
 * single-row conditional UPDATE per BEGIN IMMEDIATE transaction, for
 * @p seconds, on a new file @p path in WAL mode with PRAGMA synchronous
 * @p sync ("NORMAL" or "FULL"). */
static struct rate bench_raw(const char *path, const char *sync,
			     double seconds)
{
	char pragmas[160];
	sqlite3_stmt *begin, *commit, *upd;
	long long *ver, n = 0;
	struct rate r;
	sqlite3 *db;
	double t0, c0;
	int rows = 1000, i;

	remove_db(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("open", sqlite3_errmsg(db));
	snprintf(pragmas, sizeof(pragmas), "PRAGMA journal_mode = WAL; "
		 "PRAGMA synchronous = %s; CREATE TABLE t (id INTEGER "
		 "PRIMARY KEY, version INTEGER NOT NULL, state INTEGER NOT "
		 "NULL)", sync);
	if (sqlite3_exec(db, pragmas, NULL, NULL, NULL) != SQLITE_OK)
		die("pragmas", sqlite3_errmsg(db));
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (i = 0; i < rows; i++) {
		char sql[96];

		snprintf(sql, sizeof(sql), "INSERT INTO t VALUES (%d, 1, 1)",
			 i);
		sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL);
	sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL);
	if (sqlite3_prepare_v2(db, "UPDATE t SET version = version + 1, "
			       "state = ?3 WHERE id = ?1 AND version = ?2",
			       -1, &upd, NULL) != SQLITE_OK)
		die("prepare", sqlite3_errmsg(db));
	ver = calloc((size_t)rows, sizeof(*ver));
	for (i = 0; i < rows; i++)
		ver[i] = 1;
	t0 = now_s();
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	do {
		for (i = 0; i < 256; i++, n++) {
			int id = (int)(n % rows);

			step_done(db, begin);
			sqlite3_bind_int(upd, 1, id);
			sqlite3_bind_int64(upd, 2, ver[id]);
			sqlite3_bind_int(upd, 3, (int)(n & 3));
			if (step_done(db, upd) != 1)
				die("raw", "conditional update missed");
			ver[id]++;
			step_done(db, commit);
		}
	} while (now_s() - t0 < seconds);
	r = rate_of((double)n, t0, c0);
	free(ver);
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	sqlite3_finalize(upd);
	sqlite3_close(db);
	remove_db(path);
	return r;
}

#endif
