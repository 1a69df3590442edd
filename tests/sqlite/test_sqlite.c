/*
 * What is particular to the SQLite backend: the schema and its version,
 * files that outlive a handle, pragmas, error mapping, and real
 * concurrency (threads on two connections, processes on one file, and
 * processes killed with SIGKILL in the middle of writes).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "internal.h"
#include "orchestra/backend.h"
#include "orchestra/backends.h"
#include "orchestra/orchestra.h"
#include "sqlite_files.h"
#include "support/check.h"

#define EXPECT CHECK_MSG

/* Internal to the SQLite backend; see backends/sqlite.c. */
sqlite3 *orc__sqlite_db(orc_backend *b);

#define NOW 1700000000000LL

static char dir[256];

static void path_for(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

static orc_backend *open_db(const char *path, const orc_sqlite_options *o)
{
	orc_backend *b = NULL;
	orc_error err;

	memset(&err, 0, sizeof(err));
	if (orc_sqlite_backend_open(&b, path, o, &err) != ORC_OK)
		fail_msg("open %s: %s", path, err.message);
	return b;
}

static void wf_init(orc_workflow_rec *wf, const char *id)
{
	memset(wf, 0, sizeof(*wf));
	snprintf(wf->id, sizeof(wf->id), "%s", id);
	wf->state = ORC_WORKFLOW_RUNNING;
	wf->created_ms = wf->updated_ms = NOW;
}

static orc_task_update upd(void)
{
	orc_task_update u;

	memset(&u, 0, sizeof(u));
	u.if_version = -1;
	u.now_ms = NOW + 1;
	return u;
}

/* Seed @p n independent tasks named t0, t1, ... */
static void seed_flat(orc_backend *b, const char *wf_id, int n)
{
	orc_task_seed *t = calloc((size_t)n, sizeof(*t));
	char (*ids)[16] = calloc((size_t)n, sizeof(*ids));
	orc_workflow_rec wf;
	int i;

	assert_non_null(t);
	assert_non_null(ids);
	for (i = 0; i < n; i++) {
		snprintf(ids[i], sizeof(ids[i]), "t%d", i);
		t[i].id = ids[i];
	}
	wf_init(&wf, wf_id);
	wf.ntasks = (uint32_t)n;
	EXPECT(ORC_OK, b->create_workflow(b, &wf, t, (size_t)n, E));
	free(ids);
	free(t);
}

/* One integer or text result of @p sql on a raw connection. */
static int raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int v;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(s) != SQLITE_ROW)
		fail_msg("%s: no row: %s", sql, sqlite3_errmsg(db));
	v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void raw_text(char *out, size_t size, sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(s) != SQLITE_ROW)
		fail_msg("%s: no row: %s", sql, sqlite3_errmsg(db));
	snprintf(out, size, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
}

static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		fail_msg("raw open %s: %s", path, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static int group_setup(void **state)
{
	(void)state;
	return sqlite_test_dir_create(dir, sizeof(dir), "sqlite");
}

static int group_teardown(void **state)
{
	(void)state;
	return sqlite_test_dir_remove(dir);
}

/* ---- schema ---- */

static void test_sqlite__new_file_gets_schema_version(void **state)
{
	char path[512];
	orc_backend *b;
	sqlite3 *db;
	int n;

	(void)state;
	path_for(path, sizeof(path), "new.db");
	b = open_db(path, NULL);
	db = raw_open(path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 3);
	n = raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN "
		    "('workflows', 'wf_keys', 'tasks', 'locks', 'tasks_id', "
		    "'workflows_live')");
	assert_int_equal(n, 6);
	sqlite3_close(db);
	orc_backend_free(b);
	sqlite_files_remove(path);
}

static void test_sqlite__migrates_empty_and_foreign_files(void **state)
{
	char path[512];
	orc_backend *b;
	sqlite3 *db;
	int fd;

	(void)state;
	/* A zero-byte file is an empty database to SQLite. */
	path_for(path, sizeof(path), "empty.db");
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	close(fd);
	b = open_db(path, NULL);
	seed_flat(b, "wf", 3);
	orc_backend_free(b);
	db = raw_open(path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 3);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM tasks"), 3);
	sqlite3_close(db);
	sqlite_files_remove(path);

	/* A database at version 0 with a table of its own keeps it. */
	path_for(path, sizeof(path), "foreign.db");
	db = raw_open(path);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE mine (x); INSERT INTO "
				      "mine VALUES (42)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	b = open_db(path, NULL);
	orc_backend_free(b);
	db = raw_open(path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 3);
	assert_int_equal(raw_int(db, "SELECT x FROM mine"), 42);
	sqlite3_close(db);
	sqlite_files_remove(path);
}

/* The schema of version 1, as files written by liborchestra 0.1
 * before version 2 have it: the fixture of the migration test. */
static const char v1_schema[] =
	"CREATE TABLE workflows (id TEXT PRIMARY KEY NOT NULL, state INTEGER "
	"NOT NULL, version INTEGER NOT NULL, ntasks INTEGER NOT NULL, "
	"created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, "
	"definition TEXT, input TEXT, error TEXT);"
	"CREATE TABLE tasks (wf_id TEXT NOT NULL, id TEXT NOT NULL, state "
	"INTEGER NOT NULL, version INTEGER NOT NULL, attempt INTEGER NOT "
	"NULL, ndeps INTEGER NOT NULL, ndone INTEGER NOT NULL, owner TEXT NOT "
	"NULL, lease_expiry_ms INTEGER NOT NULL, not_before_ms INTEGER NOT "
	"NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, "
	"started_ms INTEGER NOT NULL, ended_ms INTEGER NOT NULL, done BLOB, "
	"output TEXT, error TEXT, target TEXT, PRIMARY KEY (wf_id, id)) "
	"WITHOUT ROWID;"
	"CREATE INDEX tasks_ready ON tasks (wf_id, id) WHERE state = 1;"
	"CREATE TABLE locks (name TEXT PRIMARY KEY NOT NULL, owner TEXT NOT "
	"NULL, version INTEGER NOT NULL, expiry_ms INTEGER NOT NULL) WITHOUT "
	"ROWID;"
	"PRAGMA user_version = 1;";

/* The seed's workflow A -> (B1, B2, B3) -> C. */
static orc_dag *seed_dag(void)
{
	static const char *const ids[] = { "A", "B1", "B2", "B3", "C" };
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	orc_dag *dag = NULL;
	int i;

	EXPECT(ORC_OK, orc_dag_create(&dag, E));
	spec.target_kind = ORC_TARGET_HANDLER;
	spec.target = "noop";
	for (i = 0; i < 5; i++) {
		spec.id = ids[i];
		EXPECT(ORC_OK, orc_dag_add_task(dag, &spec, E));
	}
	for (i = 1; i < 4; i++) {
		EXPECT(ORC_OK, orc_dag_add_dep(dag, ids[i], "A", E));
		EXPECT(ORC_OK, orc_dag_add_dep(dag, "C", ids[i], E));
	}
	EXPECT(ORC_OK, orc_dag_validate(dag, E));
	return dag;
}

/* A version 1 file in the middle of the seed's run (A succeeded, B2
 * running, B1 and B3 ready, C with no dependency done) opens as version
 * 2 with every record as it was, and the engine finishes the run on it,
 * marking C through the BLOB done sets that version 1 wrote. */
static int live_seen(const orc_workflow_rec *r, void *payload)
{
	char *ids = payload;

	strcat(ids, r->id);
	strcat(ids, " ");
	return 0;
}

/* A file of version 2 (before the index of live workflows) gets the
 * index on its next open, and the listing of live workflows reads it,
 * not the whole table. */
static void test_sqlite__migrates_version_2_file(void **state)
{
	orc_workflow_update u;
	orc_live_query q;
	char path[512], plan[512], ids[256] = "";
	orc_backend *b;
	sqlite3 *db;

	(void)state;
	path_for(path, sizeof(path), "v2.db");
	b = open_db(path, NULL);
	seed_flat(b, "wf-b", 1);
	seed_flat(b, "wf-a", 1);
	seed_flat(b, "wf-c", 1);
	memset(&u, 0, sizeof(u));
	u.if_version = -1;
	u.set = ORC_WSET_STATE;
	u.state = ORC_WORKFLOW_SUCCEEDED;
	EXPECT(ORC_OK, b->update_workflow(b, "wf-b", &u, NULL, E));
	orc_backend_free(b);
	db = raw_open(path);
	assert_int_equal(sqlite3_exec(db, "DROP INDEX workflows_live; "
				      "PRAGMA user_version = 2", NULL, NULL,
				      NULL), SQLITE_OK);
	sqlite3_close(db);

	b = open_db(path, NULL);
	db = raw_open(path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 3);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master "
				 "WHERE name = 'workflows_live'"), 1);
	/* The WHERE clause of the backend's statement (S_WF_LIVE). */
	{
		sqlite3_stmt *s = NULL;

		assert_int_equal(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN "
			"SELECT id FROM workflows WHERE state < 2 AND id > ?1 "
			"ORDER BY id LIMIT ?2", -1, &s, NULL), SQLITE_OK);
		plan[0] = '\0';
		while (sqlite3_step(s) == SQLITE_ROW)
			strncat(plan, (const char *)sqlite3_column_text(s, 3),
				sizeof(plan) - strlen(plan) - 1);
		sqlite3_finalize(s);
	}
	assert_non_null(strstr(plan, "workflows_live"));
	sqlite3_close(db);
	memset(&q, 0, sizeof(q));
	q.kind = ORC_LIVE_WORKFLOWS;
	EXPECT(ORC_OK, b->list_live(b, &q, live_seen, ids, E));
	assert_string_equal(ids, "wf-a wf-c ");
	orc_backend_free(b);
	sqlite_files_remove(path);
}

static void test_sqlite__migrates_version_1_file(void **state)
{
	static const char *const rows[] = {
		/* id, state, version, attempt, ndeps, ndone, owner, done */
		"('wf-old', 'A', 3, 3, 1, 0, 0, '', 0, 0, 1, 3, 2, 3, "
		"NULL, '{\"a\":1}', NULL, 'noop')",
		"('wf-old', 'B1', 1, 2, 0, 1, 1, '', 0, 0, 1, 3, 0, 0, "
		"x'01', NULL, NULL, 'noop')",
		"('wf-old', 'B2', 2, 3, 1, 1, 1, 'w', 9999999999999, 0, 1, 4, "
		"4, 0, x'01', NULL, NULL, 'noop')",
		"('wf-old', 'B3', 1, 2, 0, 1, 1, '', 0, 0, 1, 3, 0, 0, "
		"x'01', NULL, NULL, 'noop')",
		"('wf-old', 'C', 0, 1, 0, 3, 0, '', 0, 0, 1, 1, 0, 0, "
		"x'00', NULL, NULL, 'noop')",
		"('other', 'x', 1, 1, 0, 0, 0, '', 0, 0, 1, 1, 0, 0, "
		"NULL, NULL, NULL, 'noop')",
	};
	char path[512], sql[512], *def = NULL;
	orc_dag *dag = seed_dag();
	orc_context *ctx = NULL;
	orc_workflow_rec wf;
	orc_task_rec r;
	orc_claim cl;
	orc_backend *b;
	sqlite3 *db;
	size_t i;
	int n = 0;

	(void)state;
	path_for(path, sizeof(path), "v1.db");
	EXPECT(ORC_OK, orc_dag_save(&def, dag, E));
	db = raw_open(path);
	assert_int_equal(sqlite3_exec(db, v1_schema, NULL, NULL, NULL),
			 SQLITE_OK);
	{
		sqlite3_stmt *s = NULL;

		assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO workflows "
						    "VALUES (?1, 1, 1, ?2, 1, "
						    "1, ?3, NULL, NULL)", -1,
						    &s, NULL), SQLITE_OK);
		sqlite3_bind_text(s, 1, "wf-old", -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 2, 5);
		sqlite3_bind_text(s, 3, def, -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(s), SQLITE_DONE);
		sqlite3_finalize(s);
	}
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO tasks VALUES %s",
			 rows[i]);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL),
				 SQLITE_OK);
	}
	sqlite3_close(db);

	b = open_db(path, NULL);
	db = raw_open(path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 3);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM tasks"), 6);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM wf_keys"), 2);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master "
				 "WHERE name = 'tasks_v1'"), 0);
	raw_text(sql, sizeof(sql), db, "PRAGMA integrity_check");
	assert_string_equal(sql, "ok");
	sqlite3_close(db);
	memset(&r, 0, sizeof(r));
	EXPECT(ORC_OK, b->get_task(&r, b, "wf-old", "B2", 0, E));
	assert_int_equal(r.state, ORC_TASK_RUNNING);
	assert_int_equal(r.version, 3);
	assert_int_equal(r.attempt, 1);
	assert_int_equal(r.ndone, 1);
	assert_string_equal(r.owner, "w");
	EXPECT(ORC_OK, b->get_task(&r, b, "wf-old", "A", ORC_LIST_PAYLOADS, E));
	assert_int_equal(r.state, ORC_TASK_SUCCEEDED);
	assert_string_equal(r.output, "{\"a\":1}");
	orc_task_rec_clear(&r);
	EXPECT(ORC_OK, b->get_task(&r, b, "other", "x", 0, E));
	assert_int_equal(r.state, ORC_TASK_READY);

	/* The run goes on: B2 with its token, then whatever is runnable. */
	EXPECT(ORC_OK, orc_context_create(&ctx, b, NULL, E));
	EXPECT(ORC_OK, orc_workflow_complete(ctx, "wf-old", "B2", 3, "{}", E));
	EXPECT(ORC_OK, b->get_task(&r, b, "wf-old", "C", 0, E));
	assert_int_equal(r.ndone, 1);
	assert_int_equal(r.state, ORC_TASK_PENDING);
	while (orc_workflow_claim(&cl, ctx, "wf-old", "w2", 60000, NULL) ==
	       ORC_OK) {
		EXPECT(ORC_OK, orc_workflow_complete(ctx, "wf-old", cl.task_id,
						     cl.token, "{}", E));
		n++;
	}
	assert_int_equal(n, 3);  /* B1, B3, then C */
	memset(&wf, 0, sizeof(wf));
	EXPECT(ORC_OK, b->get_workflow(&wf, b, "wf-old", E));
	assert_int_equal(wf.state, ORC_WORKFLOW_SUCCEEDED);
	orc_workflow_rec_clear(&wf);
	orc_context_free(ctx);
	orc_backend_free(b);
	orc_free(def);
	orc_dag_free(dag);
	sqlite_files_remove(path);
}

static void test_sqlite__refuses_newer_schema(void **state)
{
	char path[512];
	orc_backend *b = NULL;
	orc_error err;
	sqlite3 *db;

	(void)state;
	path_for(path, sizeof(path), "newer.db");
	db = raw_open(path);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL,
				      NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(orc_sqlite_backend_open(&b, path, NULL, &err),
			 ORC_EBACKEND);
	assert_null(b);
	assert_non_null(strstr(err.message, "99"));
	db = raw_open(path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 99);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"), 0);
	sqlite3_close(db);
	sqlite_files_remove(path);
}

/* A negative version has no migration (it once indexed migrations[-1])
 * and a version-1 stamp on a file of version 2 cannot be upgraded: both
 * are refused with the version in the message, and nothing changes. */
static void test_sqlite__refuses_unknown_schema_versions(void **state)
{
	static const int bad[] = { -1, 1, INT32_MIN };
	char path[512], sql[64];
	orc_backend *b = NULL;
	orc_error err;
	sqlite3 *db;
	size_t i;

	(void)state;
	path_for(path, sizeof(path), "stamped.db");
	b = open_db(path, NULL);
	seed_flat(b, "wf", 2);
	orc_backend_free(b);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		db = raw_open(path);
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", bad[i]);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL),
				 SQLITE_OK);
		sqlite3_close(db);
		memset(&err, 0, sizeof(err));
		b = NULL;
		assert_int_equal(orc_sqlite_backend_open(&b, path, NULL, &err),
				 ORC_EBACKEND);
		assert_null(b);
		snprintf(sql, sizeof(sql), "schema version %d", bad[i]);
		assert_non_null(strstr(err.message, sql));
		assert_null(strstr(err.message, "not an error"));
		db = raw_open(path);
		assert_int_equal(raw_int(db, "PRAGMA user_version"), bad[i]);
		assert_int_equal(raw_int(db, "SELECT count(*) FROM tasks"), 2);
		sqlite3_close(db);
	}
	sqlite_files_remove(path);
}

static int count_cb(const orc_task_rec *rec, void *payload);

/* A file: URI with mode=ro opens read-only: reads work, writes fail,
 * and an old schema is not upgraded but refused. */
static void test_sqlite__read_only_uri(void **state)
{
	char path[512], uri[600];
	orc_backend *b;
	orc_workflow_rec wf;
	orc_error err;
	sqlite3 *db;
	int n = 0;

	(void)state;
	path_for(path, sizeof(path), "ro.db");
	b = open_db(path, NULL);
	seed_flat(b, "wf", 3);
	orc_backend_free(b);
	snprintf(uri, sizeof(uri), "file:%s?mode=ro", path);
	b = open_db(uri, NULL);
	EXPECT(ORC_OK, b->list_tasks(b, "wf", 0, 0, count_cb, &n, E));
	assert_int_equal(n, 3);
	wf_init(&wf, "other");
	memset(&err, 0, sizeof(err));
	assert_int_not_equal(b->create_workflow(b, &wf, NULL, 0, &err),
			     ORC_OK);
	orc_backend_free(b);
	db = raw_open(path);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 1", NULL,
				      NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	b = NULL;
	assert_int_equal(orc_sqlite_backend_open(&b, uri, NULL, &err),
			 ORC_EBACKEND);
	assert_non_null(strstr(err.message, "schema version 1"));
	sqlite_files_remove(path);
}

static void test_sqlite__reopen_keeps_data(void **state)
{
	static const char *const deps[] = { "a" };
	orc_task_seed t[2] = { { "a", 0, NULL, "handler:a" },
			       { "b", 1, deps, NULL } };
	orc_task_update u = upd();
	orc_workflow_rec wf;
	orc_lock_rec lk;
	orc_task_rec r;
	char path[512];
	orc_backend *b;

	(void)state;
	path_for(path, sizeof(path), "reopen.db");
	b = open_db(path, NULL);
	wf_init(&wf, "wf");
	wf.definition = "{\"tasks\":[]}";
	wf.input = "{\"n\":1}";
	wf.ntasks = 2;
	EXPECT(ORC_OK, b->create_workflow(b, &wf, t, 2, E));
	u.set = ORC_SET_STATE | ORC_SET_OUTPUT | ORC_SET_LEASE;
	u.state = ORC_TASK_SUCCEEDED;
	u.output = "{\"ok\":true}";
	u.owner = "w1";
	u.lease_expiry_ms = NOW + 500;
	EXPECT(ORC_OK, b->update_task(b, "wf", "a", &u, NULL, E));
	u = upd();
	u.set = ORC_SET_DONE_DEP;
	u.done_dep = "a";
	u.done_dep_index = 0;
	EXPECT(ORC_OK, b->update_task(b, "wf", "b", &u, NULL, E));
	memset(&lk, 0, sizeof(lk));
	strcpy(lk.name, "leader");
	strcpy(lk.owner, "w1");
	lk.version = 1;
	lk.expiry_ms = NOW + 9;
	EXPECT(ORC_OK, b->put_lock(b, &lk, 0, E));
	orc_backend_free(b);

	b = open_db(path, NULL);
	EXPECT(ORC_OK, b->get_workflow(&wf, b, "wf", E));
	assert_string_equal(wf.definition, "{\"tasks\":[]}");
	assert_string_equal(wf.input, "{\"n\":1}");
	assert_int_equal(wf.ntasks, 2);
	orc_workflow_rec_clear(&wf);
	EXPECT(ORC_OK, b->get_task(&r, b, "wf", "a", ORC_LIST_PAYLOADS, E));
	assert_int_equal(r.state, ORC_TASK_SUCCEEDED);
	assert_int_equal(r.version, 2);
	assert_string_equal(r.owner, "w1");
	assert_int_equal(r.lease_expiry_ms, NOW + 500);
	assert_string_equal(r.output, "{\"ok\":true}");
	orc_task_rec_clear(&r);
	/* The done set survived: marking again changes nothing. */
	u = upd();
	u.set = ORC_SET_DONE_DEP | ORC_SET_PROMOTE;
	u.done_dep = "a";
	u.done_dep_index = 0;
	EXPECT(ORC_OK, b->update_task(b, "wf", "b", &u, &r, E));
	assert_int_equal(r.ndone, 1);
	assert_int_equal(r.state, ORC_TASK_READY);
	assert_int_equal(r.version, 3);
	EXPECT(ORC_OK, b->get_lock(&lk, b, "leader", E));
	assert_int_equal(lk.version, 1);
	assert_string_equal(lk.owner, "w1");
	orc_backend_free(b);
	sqlite_files_remove(path);
}

/* ---- values are parameters ---- */

static int count_cb(const orc_task_rec *rec, void *payload)
{
	(void)rec;
	(*(int *)payload)++;
	return 0;
}

static void test_sqlite__injection_looking_ids_are_ids(void **state)
{
	static const char *const ids[] = {
		"x'); DROP TABLE tasks;--",
		"\"; DELETE FROM workflows; --",
		"a' OR '1'='1",
		"%s%n%%",
		"ünïcødé ✓",
	};
	const char *deps[1] = { ids[0] };
	orc_task_seed t[5];
	orc_task_update u = upd();
	orc_workflow_rec wf;
	orc_task_rec r;
	char path[512];
	orc_backend *b;
	sqlite3 *db;
	int i, n = 0;

	(void)state;
	path_for(path, sizeof(path), "inject.db");
	b = open_db(path, NULL);
	memset(t, 0, sizeof(t));
	for (i = 0; i < 5; i++)
		t[i].id = ids[i];
	t[1].ndeps = 1;
	t[1].deps = deps;
	wf_init(&wf, "w'); DROP TABLE workflows;--");
	EXPECT(ORC_OK, b->create_workflow(b, &wf, t, 5, E));
	u.set = ORC_SET_STATE | ORC_SET_OUTPUT | ORC_SET_LEASE;
	u.state = ORC_TASK_RUNNING;
	u.owner = "o'); DROP TABLE locks;--";
	u.output = "'); DROP TABLE tasks;--";
	EXPECT(ORC_OK, b->update_task(b, wf.id, ids[0], &u, NULL, E));
	for (i = 0; i < 5; i++) {
		EXPECT(ORC_OK, b->get_task(&r, b, wf.id, ids[i],
					   ORC_LIST_PAYLOADS, E));
		assert_string_equal(r.id, ids[i]);
		orc_task_rec_clear(&r);
	}
	EXPECT(ORC_OK, b->get_task(&r, b, wf.id, ids[0], ORC_LIST_PAYLOADS, E));
	assert_string_equal(r.owner, u.owner);
	assert_string_equal(r.output, u.output);
	orc_task_rec_clear(&r);
	EXPECT(ORC_ENOTFOUND, b->get_task(&r, b, wf.id, "a", 0, E));
	EXPECT(ORC_ENOTFOUND, b->get_task(&r, b, "w", ids[0], 0, E));
	EXPECT(ORC_OK, b->list_tasks(b, wf.id, 0, 0, count_cb, &n, E));
	assert_int_equal(n, 5);
	orc_backend_free(b);
	db = raw_open(path);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master "
				 "WHERE name IN ('workflows', 'tasks', "
				 "'locks')"), 3);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM workflows"), 1);
	sqlite3_close(db);
	sqlite_files_remove(path);
}

/* ---- pragmas, options and errors ---- */

static void test_sqlite__pragmas_as_configured(void **state)
{
	orc_sqlite_options o = ORC_SQLITE_OPTIONS_INIT;
	char path[512], mode[32];
	orc_backend *b;
	sqlite3 *db;

	(void)state;
	path_for(path, sizeof(path), "pragma.db");
	b = open_db(path, NULL);
	db = orc__sqlite_db(b);
	raw_text(mode, sizeof(mode), db, "PRAGMA journal_mode");
	assert_string_equal(mode, "wal");
	assert_int_equal(raw_int(db, "PRAGMA synchronous"), 1);  /* NORMAL */
	assert_int_equal(raw_int(db, "PRAGMA busy_timeout"), 5000);
	orc_backend_free(b);

	o.synchronous = ORC_SQLITE_SYNC_FULL;
	o.busy_timeout_ms = 1234;
	b = open_db(path, &o);
	db = orc__sqlite_db(b);
	raw_text(mode, sizeof(mode), db, "PRAGMA journal_mode");
	assert_string_equal(mode, "wal");
	assert_int_equal(raw_int(db, "PRAGMA synchronous"), 2);  /* FULL */
	assert_int_equal(raw_int(db, "PRAGMA busy_timeout"), 1234);
	orc_backend_free(b);
	sqlite_files_remove(path);

	/* A new file is created without syncs, then gets the level asked
	 * for. */
	b = open_db(path, &o);
	assert_int_equal(raw_int(orc__sqlite_db(b), "PRAGMA synchronous"), 2);
	orc_backend_free(b);
	sqlite_files_remove(path);
}

static off_t file_size(const char *path, const char *suffix)
{
	char p[600];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &st) == 0 ? st.st_size : -1;
}

static void copy_file(const char *to, const char *from)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[4096];
	size_t n;

	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

/* Opening a current file only reads it, and the last close checkpoints
 * the WAL into the file and removes it: a copy of the file alone is the
 * whole database (docs/backends-sqlite.md). A connection that is not
 * the last leaves the WAL to the others. */
static void test_sqlite__open_writes_nothing_last_close_checkpoints(
	void **state)
{
	char path[512], copy[520];
	orc_backend *b, *other;
	off_t db;
	int n = 0;

	(void)state;
	path_for(path, sizeof(path), "quiet.db");
	other = open_db(path, NULL);
	b = open_db(path, NULL);
	seed_flat(b, "wf", 3);
	orc_backend_free(b);
	assert_true(file_size(path, "-wal") > 0);
	orc_backend_free(other);
	assert_int_equal(file_size(path, "-wal"), -1);
	db = file_size(path, "");
	b = open_db(path, NULL);
	orc_backend_free(b);
	assert_int_equal(file_size(path, ""), db);
	/* The file alone, copied elsewhere, holds the tasks. */
	snprintf(copy, sizeof(copy), "%s.copy", path);
	copy_file(copy, path);
	b = open_db(copy, NULL);
	EXPECT(ORC_OK, b->list_tasks(b, "wf", 0, 0, count_cb, &n, E));
	assert_int_equal(n, 3);
	orc_backend_free(b);
	sqlite_files_remove(copy);
	sqlite_files_remove(path);
}

static void test_sqlite__memory_database(void **state)
{
	orc_backend *b = open_db(":memory:", NULL);
	orc_task_rec r;

	(void)state;
	seed_flat(b, "wf", 2);
	EXPECT(ORC_OK, b->get_task(&r, b, "wf", "t1", 0, E));
	assert_int_equal(r.state, ORC_TASK_READY);
	orc_backend_free(b);
	/* Private to its connection: a second one sees nothing. */
	b = open_db(":memory:", NULL);
	EXPECT(ORC_ENOTFOUND, b->get_task(&r, b, "wf", "t1", 0, E));
	orc_backend_free(b);
}

static void test_sqlite__bad_options_and_paths(void **state)
{
	orc_sqlite_options o = ORC_SQLITE_OPTIONS_INIT;
	orc_backend *b = (orc_backend *)&o;
	char path[512];
	orc_error err;
	int fd;

	(void)state;
	path_for(path, sizeof(path), "opts.db");
	o.version = 0;
	assert_int_equal(orc_sqlite_backend_open(&b, path, &o, &err),
			 ORC_EINVAL);
	assert_null(b);
	o.version = ORC_SQLITE_OPTIONS_VERSION;
	o.synchronous = (orc_sqlite_sync)7;
	assert_int_equal(orc_sqlite_backend_open(&b, path, &o, &err),
			 ORC_EINVAL);
	o.synchronous = ORC_SQLITE_SYNC_NORMAL;
	o.busy_timeout_ms = -1;
	assert_int_equal(orc_sqlite_backend_open(&b, path, &o, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_sqlite_backend_open(&b, NULL, NULL, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_sqlite_backend_open(NULL, path, NULL, &err),
			 ORC_EINVAL);
	assert_int_equal(access(path, F_OK), -1);

	/* No such directory: SQLITE_CANTOPEN, kept in detail. */
	path_for(path, sizeof(path), "no/such/dir.db");
	memset(&err, 0, sizeof(err));
	assert_int_equal(orc_sqlite_backend_open(&b, path, NULL, &err),
			 ORC_EBACKEND);
	assert_null(b);
	assert_int_equal(err.detail & 0xff, SQLITE_CANTOPEN);
	assert_string_equal(err.source, "sqlite");
	assert_non_null(strstr(err.message, "no/such/dir.db"));

	/* Not a database: SQLITE_NOTADB. */
	path_for(path, sizeof(path), "garbage.db");
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(write(fd, "this is not a database file! ",
				       29), 29);
	close(fd);
	memset(&err, 0, sizeof(err));
	assert_int_equal(orc_sqlite_backend_open(&b, path, NULL, &err),
			 ORC_EBACKEND);
	assert_int_equal(err.detail & 0xff, SQLITE_NOTADB);
	assert_string_equal(err.source, "sqlite");
	sqlite_files_remove(path);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_sqlite__busy_is_throttled(void **state)
{
	orc_sqlite_options o = ORC_SQLITE_OPTIONS_INIT;
	orc_task_update u = upd();
	orc_task_rec r;
	char path[512];
	orc_backend *b;
	orc_error err;
	sqlite3 *db;
	int64_t t0, dt;

	(void)state;
	path_for(path, sizeof(path), "busy.db");
	o.busy_timeout_ms = 100;
	b = open_db(path, &o);
	seed_flat(b, "wf", 1);
	db = raw_open(path);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
				      NULL), SQLITE_OK);
	u.set = ORC_SET_STATE;
	u.state = ORC_TASK_RUNNING;
	memset(&err, 0, sizeof(err));
	t0 = mono_ms();
	assert_int_equal(b->update_task(b, "wf", "t0", &u, NULL, &err),
			 ORC_ETHROTTLED);
	dt = mono_ms() - t0;
	assert_true(dt >= 90 && dt < 3000);
	assert_int_equal(err.detail & 0xff, SQLITE_BUSY);
	assert_string_equal(err.source, "sqlite");
	assert_non_null(strstr(err.message, "busy"));
	/* Readers are not blocked by a writer in WAL mode. */
	EXPECT(ORC_OK, b->get_task(&r, b, "wf", "t0", 0, E));
	assert_int_equal(r.state, ORC_TASK_READY);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
			 SQLITE_OK);
	/* Once the lock is gone the same call works. */
	EXPECT(ORC_OK, b->update_task(b, "wf", "t0", &u, &r, E));
	assert_int_equal(r.version, 2);
	sqlite3_close(db);
	orc_backend_free(b);
	sqlite_files_remove(path);
}

/* ---- the READY listing uses its index ---- */

static int collect_ids(const orc_task_rec *rec, void *payload)
{
	char *ids = payload;

	snprintf(ids + strlen(ids), 4096 - strlen(ids), "%s ", rec->id);
	return 0;
}

/* The READY tasks of "wf" as "t1 t2 ", listed through @p b. */
static void ready_ids(char ids[4096], orc_backend *b)
{
	ids[0] = '\0';
	EXPECT(ORC_OK, b->list_tasks(b, "wf", ORC_TASK_BIT(ORC_TASK_READY), 0,
				     collect_ids, ids, E));
}

static void set_state(orc_backend *b, const char *id, orc_task_state st)
{
	orc_task_update u = upd();

	u.set = ORC_SET_STATE;
	u.state = st;
	EXPECT(ORC_OK, b->update_task(b, "wf", id, &u, NULL, E));
}

/* READY tasks are found by a scan from a bound no READY task is below:
 * a listing that skipped many rows raises it, and every way a task
 * becomes READY again (a retry, a promotion, a reset) lowers it, for
 * every connection. The listing is right at each step. */
static void test_sqlite__ready_bound_follows_the_tasks(void **state)
{
	char path[512], ids[4096], id[16];
	orc_backend *b, *b2;
	sqlite3 *db;
	int i;

	(void)state;
	path_for(path, sizeof(path), "bound.db");
	b = open_db(path, NULL);
	b2 = open_db(path, NULL);
	db = raw_open(path);
	seed_flat(b, "wf", 300);
	for (i = 0; i < 290; i++) {
		snprintf(id, sizeof(id), "t%d", i);
		set_state(b, id, ORC_TASK_SUCCEEDED);
	}
	ready_ids(ids, b);
	assert_string_equal(ids, "t290 t291 t292 t293 t294 t295 t296 t297 "
			    "t298 t299 ");
	/* Raised past the 290 rows this listing skipped. */
	assert_int_equal(raw_int(db, "SELECT ready_lo FROM wf_keys"), 290);
	/* A task below the bound becomes READY again, on the other
	 * connection: the bound comes down with it. */
	set_state(b2, "t5", ORC_TASK_READY);
	assert_int_equal(raw_int(db, "SELECT ready_lo FROM wf_keys"), 5);
	ready_ids(ids, b);
	assert_int_equal(strncmp(ids, "t5 t290 ", 8), 0);
	/* Nothing READY: the bound goes past the end, and the next READY
	 * task brings it back. */
	set_state(b, "t5", ORC_TASK_SUCCEEDED);
	for (i = 290; i < 300; i++) {
		snprintf(id, sizeof(id), "t%d", i);
		set_state(b, id, ORC_TASK_SUCCEEDED);
	}
	ready_ids(ids, b);
	assert_string_equal(ids, "");
	assert_true(raw_int(db, "SELECT ready_lo > 300 FROM wf_keys"));
	set_state(b2, "t7", ORC_TASK_READY);
	ready_ids(ids, b);
	assert_string_equal(ids, "t7 ");
	/* A bound edited out of range by hand reads as 0: the READY task
	 * is still found, and only this workflow's. */
	seed_flat(b, "wf2", 3);
	seed_flat(b, "wf3", 3);
	assert_int_equal(raw_int(db, "SELECT key FROM wf_keys WHERE id = "
				 "'wf3'"), 3);
	assert_int_equal(sqlite3_exec(db, "UPDATE wf_keys SET ready_lo = "
				      "(2 << 32) WHERE id = 'wf'", NULL,
				      NULL, NULL), SQLITE_OK);
	ready_ids(ids, b);
	assert_string_equal(ids, "t7 ");
	sqlite3_close(db);
	orc_backend_free(b2);
	orc_backend_free(b);
	sqlite_files_remove(path);
}

/* The bound also comes down when a fan-out mark promotes a task: the
 * one-statement mark (an INTEGER done set) and the general one (a BLOB
 * done set, past 62 dependencies). */
static void test_sqlite__ready_bound_lowered_by_promotion(void **state)
{
	static const int ndeps[2] = { 2, 70 };
	char path[512], ids[4096], names[70][8];
	const char *deps[70];
	orc_task_seed t[71];
	orc_workflow_rec wf;
	orc_backend *b;
	int round, i;

	(void)state;
	for (i = 0; i < 70; i++) {
		snprintf(names[i], sizeof(names[i]), "d%d", i);
		deps[i] = names[i];
	}
	for (round = 0; round < 2; round++) {
		int n = ndeps[round];

		path_for(path, sizeof(path), "promote.db");
		b = open_db(path, NULL);
		memset(t, 0, sizeof(t));
		for (i = 0; i < n; i++)
			t[i].id = names[i];
		t[n].id = "z";
		t[n].ndeps = (uint32_t)n;
		t[n].deps = deps;
		wf_init(&wf, "wf");
		wf.ntasks = (uint32_t)n + 1;
		EXPECT(ORC_OK, b->create_workflow(b, &wf, t, (size_t)n + 1, E));
		for (i = 0; i < n; i++)
			set_state(b, names[i], ORC_TASK_SUCCEEDED);
		ready_ids(ids, b);
		assert_string_equal(ids, "");  /* bound past the end */
		for (i = 0; i < n; i++) {
			orc_task_update u = upd();

			u.if_states = ORC_TASK_BIT(ORC_TASK_PENDING);
			u.set = ORC_SET_DONE_DEP | ORC_SET_PROMOTE;
			u.done_dep = names[i];
			u.done_dep_index = (uint32_t)i;
			EXPECT(ORC_OK, b->update_task(b, "wf", "z", &u, NULL,
						      E));
		}
		ready_ids(ids, b);
		assert_string_equal(ids, "z ");
		orc_backend_free(b);
		sqlite_files_remove(path);
	}
}

/* ---- two connections racing, in threads ---- */

struct racer {
	orc_backend *b;
	char owner[16];
	int claimed[200];
	int nclaimed;
	int failed;
};

static int first_ready(const orc_task_rec *rec, void *payload)
{
	*(orc_task_rec *)payload = *rec;
	return 1;
}

static void *race_thread(void *arg)
{
	struct racer *rc = arg;

	for (;;) {
		orc_task_rec r, w;
		orc_task_update u = upd();
		orc_error err;
		orc_status st;

		r.id[0] = '\0';
		if (rc->b->list_tasks(rc->b, "wf", ORC_TASK_BIT(ORC_TASK_READY),
				      0, first_ready, &r, &err) != ORC_OK) {
			rc->failed = 1;
			break;
		}
		if (!r.id[0])
			break;
		u.if_states = ORC_TASK_BIT(ORC_TASK_READY);
		u.if_version = r.version;
		u.set = ORC_SET_STATE | ORC_SET_LEASE;
		u.state = ORC_TASK_RUNNING;
		u.owner = rc->owner;
		st = rc->b->update_task(rc->b, "wf", r.id, &u, &w, &err);
		if (st == ORC_OK)
			rc->claimed[rc->nclaimed++] = atoi(r.id + 1);
		else if (st != ORC_ECONFLICT && st != ORC_ETHROTTLED) {
			rc->failed = 1;
			break;
		}
	}
	return NULL;
}

static void test_sqlite__two_connections_claim_once(void **state)
{
	struct racer rc[2];
	pthread_t th[2];
	int seen[200] = { 0 }, i, k;
	char path[512];
	orc_backend *b;
	orc_task_rec r;

	(void)state;
	path_for(path, sizeof(path), "threads.db");
	memset(rc, 0, sizeof(rc));
	for (k = 0; k < 2; k++) {
		rc[k].b = open_db(path, NULL);
		snprintf(rc[k].owner, sizeof(rc[k].owner), "thread%d", k);
	}
	seed_flat(rc[0].b, "wf", 200);
	for (k = 0; k < 2; k++)
		assert_int_equal(pthread_create(&th[k], NULL, race_thread,
						&rc[k]), 0);
	for (k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	b = rc[0].b;
	for (k = 0; k < 2; k++) {
		assert_false(rc[k].failed);
		for (i = 0; i < rc[k].nclaimed; i++)
			seen[rc[k].claimed[i]]++;
	}
	for (i = 0; i < 200; i++) {
		char id[16];

		if (seen[i] != 1)
			fail_msg("task t%d claimed %d times", i, seen[i]);
		snprintf(id, sizeof(id), "t%d", i);
		EXPECT(ORC_OK, b->get_task(&r, b, "wf", id, 0, E));
		assert_int_equal(r.state, ORC_TASK_RUNNING);
		assert_int_equal(r.version, 2);
	}
	for (k = 0; k < 2; k++)
		orc_backend_free(rc[k].b);
	sqlite_files_remove(path);
}

/* ---- processes racing on one file ---- */

#define NPROC 4
#define NTASKS 300

/* Fork NPROC children running @p fn(path, k, go_fd), release them at
 * once (EOF on the pipe) and check that each exits with 0. */
static void run_children(int (*fn)(const char *, int, int), const char *path)
{
	pid_t pid[NPROC];
	int go[2], k;

	assert_int_equal(pipe(go), 0);
	for (k = 0; k < NPROC; k++) {
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		if (pid[k] == 0) {
			close(go[1]);
			_exit(fn(path, k, go[0]));
		}
	}
	close(go[0]);
	close(go[1]);
	for (k = 0; k < NPROC; k++) {
		int ws;

		assert_int_equal(waitpid(pid[k], &ws, 0), pid[k]);
		if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
			fail_msg("child %d failed (status 0x%x)", k, ws);
	}
}

/* A child: claim what it can, one line per claim in its own file. */
static int claim_child(const char *path, int k, int go_fd)
{
	char owner[16], claims[600], id[16], c;
	orc_backend *b = NULL;
	orc_error err;
	FILE *f;
	int i;

	if (read(go_fd, &c, 1) < 0)  /* start together: wait for EOF */
		return 10;
	snprintf(owner, sizeof(owner), "proc%d", k);
	snprintf(claims, sizeof(claims), "%s.claims%d", path, k);
	f = fopen(claims, "w");
	if (!f || orc_sqlite_backend_open(&b, path, NULL, &err) != ORC_OK)
		return 11;
	for (i = 0; i < NTASKS; i++) {
		orc_task_update u = upd();
		orc_task_rec r;
		orc_status st;

		snprintf(id, sizeof(id), "t%d", i);
		st = b->get_task(&r, b, "wf", id, 0, &err);
		if (st == ORC_ETHROTTLED) {
			i--;
			continue;
		}
		if (st != ORC_OK)
			return 12;
		if (r.state != ORC_TASK_READY)
			continue;
		u.if_states = ORC_TASK_BIT(ORC_TASK_READY);
		u.if_version = r.version;
		u.set = ORC_SET_STATE | ORC_SET_LEASE;
		u.state = ORC_TASK_RUNNING;
		u.owner = owner;
		st = b->update_task(b, "wf", id, &u, NULL, &err);
		if (st == ORC_ETHROTTLED) {
			i--;
			continue;
		}
		if (st == ORC_OK)
			fprintf(f, "%d\n", i);
		else if (st != ORC_ECONFLICT)
			return 13;
	}
	orc_backend_free(b);
	return fclose(f) == 0 ? 0 : 14;
}

static void test_sqlite__processes_claim_each_task_once(void **state)
{
	int seen[NTASKS] = { 0 }, owner_of[NTASKS], i, k, n;
	char path[512], claims[600], id[16];
	orc_backend *b;
	orc_task_rec r;

	(void)state;
	path_for(path, sizeof(path), "procs.db");
	b = open_db(path, NULL);
	seed_flat(b, "wf", NTASKS);
	/* No connection may cross a fork. */
	orc_backend_free(b);
	run_children(claim_child, path);
	for (k = 0; k < NPROC; k++) {
		FILE *f;

		snprintf(claims, sizeof(claims), "%s.claims%d", path, k);
		f = fopen(claims, "r");
		assert_non_null(f);
		while (fscanf(f, "%d", &n) == 1) {
			assert_true(n >= 0 && n < NTASKS);
			seen[n]++;
			owner_of[n] = k;
		}
		fclose(f);
		unlink(claims);
	}
	b = open_db(path, NULL);
	for (i = 0; i < NTASKS; i++) {
		char owner[16];

		if (seen[i] != 1)
			fail_msg("task t%d claimed %d times", i, seen[i]);
		snprintf(id, sizeof(id), "t%d", i);
		snprintf(owner, sizeof(owner), "proc%d", owner_of[i]);
		EXPECT(ORC_OK, b->get_task(&r, b, "wf", id, 0, E));
		assert_int_equal(r.state, ORC_TASK_RUNNING);
		assert_int_equal(r.version, 2);
		assert_string_equal(r.owner, owner);
	}
	orc_backend_free(b);
	sqlite_files_remove(path);
}

/* A child opening a file that may not exist yet, seeding its own
 * workflow. */
static int opener_child(const char *path, int k, int go_fd)
{
	orc_backend *b = NULL;
	orc_task_seed t = { "only", 0, NULL, NULL };
	orc_workflow_rec wf;
	orc_error err;
	char c;

	if (read(go_fd, &c, 1) < 0)
		return 10;
	if (orc_sqlite_backend_open(&b, path, NULL, &err) != ORC_OK) {
		fprintf(stderr, "child %d: %s\n", k, err.message);
		return 11;
	}
	memset(&wf, 0, sizeof(wf));
	snprintf(wf.id, sizeof(wf.id), "wf%d", k);
	wf.state = ORC_WORKFLOW_RUNNING;
	if (b->create_workflow(b, &wf, &t, 1, &err) != ORC_OK) {
		fprintf(stderr, "child %d: %s\n", k, err.message);
		return 12;
	}
	orc_backend_free(b);
	return 0;
}

static void test_sqlite__processes_create_one_file_at_once(void **state)
{
	char path[512];
	sqlite3 *db;

	(void)state;
	path_for(path, sizeof(path), "fresh.db");
	run_children(opener_child, path);
	/* One schema, every workflow. */
	db = raw_open(path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 3);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM workflows"),
			 NPROC);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM tasks"), NPROC);
	sqlite3_close(db);
	sqlite_files_remove(path);
}

/* ---- SIGKILL in the middle of writes ---- */

#define KILL_TASKS 8
#define KILLS 36

/* The output written with attempt @p a: a few KB, so a write spans
 * several pages and a torn one would show. */
static void make_output(char *buf, size_t size, int64_t a)
{
	size_t n;

	n = (size_t)snprintf(buf, size, "{\"a\":%lld,\"pad\":\"",
			     (long long)a);
	while (n + 3 < size - 1 && n < 6000) {
		buf[n] = (char)('a' + (a + (int64_t)n) % 26);
		n++;
	}
	buf[n++] = '"';
	buf[n++] = '}';
	buf[n] = '\0';
}

struct report {
	int32_t task;
	int64_t version;
};

/* The child: write forever; report each committed write on @p fd. */
static int writer_child(const char *path, uint64_t seed, int fd)
{
	static char out[6100];
	orc_backend *b = NULL;
	orc_error err;

	if (orc_sqlite_backend_open(&b, path, NULL, &err) != ORC_OK)
		return 20;
	for (;;) {
		struct report rep;
		orc_task_update u = upd();
		orc_task_rec r;
		orc_status st;
		char id[16];
		int j = (int)(orc__rand_next(&seed) % KILL_TASKS);

		snprintf(id, sizeof(id), "t%d", j);
		st = b->get_task(&r, b, "wf", id, 0, &err);
		if (st == ORC_ETHROTTLED)
			continue;
		if (st != ORC_OK)
			return 21;
		/* Every field of one write is a function of the version it
		 * replaces, so the reader can tell a torn write. */
		make_output(out, sizeof(out), r.version);
		u.if_version = r.version;
		u.set = ORC_SET_ATTEMPT | ORC_SET_STARTED | ORC_SET_ENDED |
			ORC_SET_OUTPUT | ORC_SET_LEASE;
		u.attempt = (int32_t)r.version;
		u.started_ms = r.version * 3;
		u.ended_ms = r.version * 7;
		u.output = out;
		u.owner = "killed";
		u.lease_expiry_ms = r.version * 11;
		st = b->update_task(b, "wf", id, &u, NULL, &err);
		if (st == ORC_ETHROTTLED || st == ORC_ECONFLICT)
			continue;
		if (st != ORC_OK)
			return 22;
		rep.task = j;
		rep.version = r.version + 1;
		if (write(fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
			return 23;
	}
}

/* Read the writer's reports until @p end_ms (or the first one when
 * @p until_first); the pipe never fills, so the writer never blocks.
 * Returns how many were read. */
static int drain(int fd, int64_t *committed, int *total, int64_t end_ms,
		 int until_first)
{
	int flags = fcntl(fd, F_GETFL), got = 0;
	struct timespec pause = { 0, 200000L };
	struct report rep;

	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	while (mono_ms() < end_ms && !(until_first && got)) {
		if (read(fd, &rep, sizeof(rep)) == (ssize_t)sizeof(rep)) {
			if (rep.task >= 0 && rep.task < KILL_TASKS &&
			    rep.version > committed[rep.task])
				committed[rep.task] = rep.version;
			got++;
		} else {
			nanosleep(&pause, NULL);
		}
	}
	fcntl(fd, F_SETFL, flags);
	*total += got;
	return got;
}

/* Check the file after a kill: intact, and each task's fields all from
 * one write. Fails naming @p seed and @p kill. */
static void check_after_kill(const char *path, uint64_t seed, int kill_no,
			     const int64_t *committed, int64_t *last_seen)
{
	static char want[6100];
	char ok[64];
	orc_backend *b;
	sqlite3 *db;
	int j;

	db = raw_open(path);
	raw_text(ok, sizeof(ok), db, "PRAGMA integrity_check");
	sqlite3_close(db);
	if (strcmp(ok, "ok") != 0)
		fail_msg("seed %llu, kill %d: integrity_check: %s",
			 (unsigned long long)seed, kill_no, ok);
	b = open_db(path, NULL);
	for (j = 0; j < KILL_TASKS; j++) {
		orc_task_rec r;
		char id[16];
		int64_t a;

		snprintf(id, sizeof(id), "t%d", j);
		EXPECT(ORC_OK, b->get_task(&r, b, "wf", id, ORC_LIST_PAYLOADS,
					   E));
		a = r.version - 1;
		if (r.version < last_seen[j] || r.version < committed[j] ||
		    r.version > committed[j] + 1)
			fail_msg("seed %llu, kill %d: t%d at version %lld; "
				 "seen %lld before, last reported commit "
				 "%lld", (unsigned long long)seed, kill_no, j,
				 (long long)r.version,
				 (long long)last_seen[j],
				 (long long)committed[j]);
		if (a > 0)
			make_output(want, sizeof(want), a);
		if (r.attempt != a || r.started_ms != a * 3 ||
		    r.ended_ms != a * 7 || r.lease_expiry_ms != a * 11 ||
		    (a > 0 && (!r.output || strcmp(r.output, want) != 0)) ||
		    (a == 0 && r.output))
			fail_msg("seed %llu, kill %d: t%d version %lld is "
				 "torn: attempt %d started %lld ended %lld",
				 (unsigned long long)seed, kill_no, j,
				 (long long)r.version, (int)r.attempt,
				 (long long)r.started_ms,
				 (long long)r.ended_ms);
		last_seen[j] = r.version;
		orc_task_rec_clear(&r);
	}
	orc_backend_free(b);
}

static void test_sqlite__sigkill_leaves_consistent_file(void **state)
{
	int64_t committed[KILL_TASKS], last_seen[KILL_TASKS];
	uint64_t seed = 20261126, rng;
	const char *env = getenv("ORC_TEST_SEED");
	char path[512];
	orc_backend *b;
	int kill_no, total = 0, j;

	(void)state;
	/* Seeding committed version 1 of every task. */
	for (j = 0; j < KILL_TASKS; j++)
		committed[j] = last_seen[j] = 1;
	if (env && *env)
		seed = strtoull(env, NULL, 10);
	rng = seed;
	path_for(path, sizeof(path), "killed.db");
	b = open_db(path, NULL);
	seed_flat(b, "wf", KILL_TASKS);
	orc_backend_free(b);
	for (kill_no = 0; kill_no < KILLS; kill_no++) {
		struct report rep;
		int fds[2], ws;
		pid_t pid;
		ssize_t n;
		long ms;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			_exit(writer_child(path, seed + (uint64_t)kill_no,
					   fds[1]));
		}
		close(fds[1]);
		if (kill_no % 4 == 3) {
			/* 0 to 5 ms: during open and recovery. */
			ms = (long)(orc__rand_next(&rng) % 6);
			drain(fds[0], committed, &total, mono_ms() + ms, 0);
		} else {
			/* 1 to 30 ms after the first write (however slow
			 * the start is, e.g. under valgrind): mid-write. */
			ms = 1 + (long)(orc__rand_next(&rng) % 30);
			if (!drain(fds[0], committed, &total,
				   mono_ms() + 60000, 1))
				fail_msg("seed %llu, kill %d: no write in 60 s",
					 (unsigned long long)seed, kill_no);
			drain(fds[0], committed, &total, mono_ms() + ms, 0);
		}
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &ws, 0), pid);
		if (!WIFSIGNALED(ws) || WTERMSIG(ws) != SIGKILL)
			fail_msg("seed %llu, kill %d: writer ended by itself "
				 "(status 0x%x)", (unsigned long long)seed,
				 kill_no, ws);
		while ((n = read(fds[0], &rep, sizeof(rep))) ==
		       (ssize_t)sizeof(rep)) {
			if (rep.task < 0 || rep.task >= KILL_TASKS)
				fail_msg("bad report");
			if (rep.version > committed[rep.task])
				committed[rep.task] = rep.version;
			total++;
		}
		close(fds[0]);
		check_after_kill(path, seed, kill_no, committed, last_seen);
	}
	/* The test proves little if the writer never got to write. */
	if (total < KILLS)
		fail_msg("seed %llu: only %d writes in %d runs",
			 (unsigned long long)seed, total, KILLS);
	sqlite_files_remove(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sqlite__new_file_gets_schema_version),
		cmocka_unit_test(test_sqlite__migrates_empty_and_foreign_files),
		cmocka_unit_test(test_sqlite__migrates_version_1_file),
		cmocka_unit_test(test_sqlite__migrates_version_2_file),
		cmocka_unit_test(test_sqlite__refuses_newer_schema),
		cmocka_unit_test(test_sqlite__refuses_unknown_schema_versions),
		cmocka_unit_test(test_sqlite__read_only_uri),
		cmocka_unit_test(test_sqlite__reopen_keeps_data),
		cmocka_unit_test(test_sqlite__injection_looking_ids_are_ids),
		cmocka_unit_test(test_sqlite__pragmas_as_configured),
		cmocka_unit_test(
			test_sqlite__open_writes_nothing_last_close_checkpoints),
		cmocka_unit_test(test_sqlite__memory_database),
		cmocka_unit_test(test_sqlite__bad_options_and_paths),
		cmocka_unit_test(test_sqlite__busy_is_throttled),
		cmocka_unit_test(test_sqlite__ready_bound_follows_the_tasks),
		cmocka_unit_test(test_sqlite__ready_bound_lowered_by_promotion),
		cmocka_unit_test(test_sqlite__two_connections_claim_once),
		cmocka_unit_test(test_sqlite__processes_claim_each_task_once),
		cmocka_unit_test(test_sqlite__processes_create_one_file_at_once),
		cmocka_unit_test(test_sqlite__sigkill_leaves_consistent_file),
	};

	return cmocka_run_group_tests_name("sqlite", tests, group_setup,
					   group_teardown);
}
