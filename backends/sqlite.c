/*
 * The SQLite backend: one connection per instance, guarded by a mutex,
 * every statement prepared once at open. docs/backends-sqlite.md has the
 * schema, the durability of each synchronous mode and the concurrency
 * model.
 *
 * Every write primitive is one BEGIN IMMEDIATE transaction: the write
 * lock is taken up front, so the read-check-write of a conditional
 * update can never be interleaved with another connection's write, in
 * this process or another. A read primitive is one SELECT statement,
 * which SQLite runs on one snapshot; in WAL mode it never blocks writers.
 *
 * The done-dependency set of a task is a bitset over the positions of
 * the seed's deps[] (done_dep_index), kept in the task row itself: the
 * fan-out write stays one primary-key read and one write.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

/* sqlite3_prepare_v3(), window functions (the version 2 migration),
 * SQLITE_DIRECTONLY. */
#if SQLITE_VERSION_NUMBER < 3030000
#error "the SQLite backend needs SQLite 3.30 or newer"
#endif

#include "internal.h"
#include "orchestra/backend.h"
#include "orchestra/backends.h"
#include "sqlite_schema.h"

#define SQ_DEFAULT_BUSY_MS 5000

/* Pages of a new file. A commit appends every page it changed to the
 * WAL, and a task life changes a handful of rows, each on its own page:
 * with 1 KiB pages a commit writes a quarter of what SQLite's default
 * 4 KiB pages would. Task rows are about 80 bytes; large outputs and
 * definitions go to overflow pages either way. */
#define SQ_PAGE_SIZE_STR "1024"
#define SQ_WAL_BYTES (4 * 1024 * 1024)

/* Columns of a task without payloads, in the order task_read() expects. */
#define TASK_COLS "id, state, version, attempt, ndeps, ndone, owner, " \
	"lease_expiry_ms, not_before_ms, created_ms, updated_ms, "     \
	"started_ms, ended_ms"
#define TASK_NCOLS 13

#define WF_COLS "id, state, version, ntasks, created_ms, updated_ms"

enum sq_stmt {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_WF_KEY,
	S_WF_KEY_NEW,
	S_WF_EXISTS,
	S_WF_INSERT,
	S_WF_GET,
	S_WF_GET_META,
	S_WF_UPDATE,
	S_WF_LIST,
	S_WF_LIVE,
	S_TASK_KEY,
	S_TASK_KEY_MAX,
	S_TASK_INSERT,
	S_TASK_GET,
	S_TASK_GET_ID,
	S_TASK_GET_ID_PAY,
	S_TASK_GET_DONE,
	S_TASK_UPDATE,
	S_TASK_WRITE,
	S_TASK_MARK,
	S_READY_LO,
	S_READY_LOWER,
	S_READY_SET,
	S_READY_FIRST,
	S_LIST_MASK,
	S_LIST_MASK_PAY,
	S_LOCK_GET,
	S_LOCK_INSERT,
	S_LOCK_UPDATE,
	S_COUNT
};

/* The statements spell PENDING and READY as numbers. */
_Static_assert(ORC_TASK_PENDING == 0 && ORC_TASK_READY == 1,
	       "S_TASK_MARK and S_READY_* assume PENDING 0 and READY 1");

/* A READY listing that skips more rows than this raises ready_lo. */
#define SQ_READY_SLACK 64

/* Task rows are found by key, (workflow key << 32) | position, and the
 * id is checked in the same WHERE clause (?1 key, ?2 id): a wrong key
 * matches nothing, never another task. */
static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_WF_KEY] = "SELECT key FROM wf_keys WHERE id = ?1",
	[S_WF_KEY_NEW] = "INSERT INTO wf_keys (id) VALUES (?1)",
	[S_WF_EXISTS] = "SELECT 1 FROM workflows WHERE id = ?1",
	[S_WF_INSERT] = "INSERT INTO workflows (id, state, version, ntasks, "
		"created_ms, updated_ms, definition, input, error) "
		"VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_WF_GET] = "SELECT " WF_COLS ", error, definition, input "
		"FROM workflows WHERE id = ?1",
	[S_WF_GET_META] = "SELECT " WF_COLS ", error FROM workflows "
		"WHERE id = ?1",
	[S_WF_UPDATE] = "UPDATE workflows SET state = ?2, version = ?3, "
		"updated_ms = ?4, error = CASE WHEN ?5 THEN ?6 ELSE error END "
		"WHERE id = ?1",
	[S_WF_LIST] = "SELECT " WF_COLS ", error FROM workflows ORDER BY id",
	/* "state < 2" as in the index workflows_live, so that the planner
	 * reads that index (schema version 3); ?2 -1 = no limit. */
	[S_WF_LIVE] = "SELECT " WF_COLS " FROM workflows "
		"WHERE state < 2 AND id > ?1 ORDER BY id LIMIT ?2",
	[S_TASK_KEY] = "SELECT key FROM tasks WHERE wf = ?1 AND id = ?2",
	[S_TASK_KEY_MAX] = "SELECT max(key) FROM tasks "
		"WHERE key BETWEEN ?1 AND ?2",
	[S_TASK_INSERT] = "INSERT OR IGNORE INTO tasks (key, wf, id, state, "
		"version, attempt, ndeps, ndone, owner, lease_expiry_ms, "
		"not_before_ms, created_ms, updated_ms, started_ms, ended_ms, "
		"target, done) VALUES (?1, ?2, ?3, ?4, 1, 0, ?5, 0, '', 0, 0, "
		"?6, ?6, 0, 0, ?7, ?8)",
	[S_TASK_GET] = "SELECT " TASK_COLS " FROM tasks "
		"WHERE key = ?1 AND id = ?2",
	[S_TASK_GET_ID] = "SELECT " TASK_COLS " FROM tasks "
		"WHERE wf = ?1 AND id = ?2",
	[S_TASK_GET_ID_PAY] = "SELECT " TASK_COLS ", output, error FROM tasks "
		"WHERE wf = ?1 AND id = ?2",
	[S_TASK_GET_DONE] = "SELECT " TASK_COLS ", done FROM tasks "
		"WHERE key = ?1 AND id = ?2",
	[S_TASK_UPDATE] = "UPDATE tasks SET state = ?3, version = ?4, "
		"attempt = ?5, ndone = ?6, owner = ?7, lease_expiry_ms = ?8, "
		"not_before_ms = ?9, updated_ms = ?10, started_ms = ?11, "
		"ended_ms = ?12, "
		"done = CASE WHEN ?13 THEN ?14 ELSE done END, "
		"output = CASE WHEN ?15 THEN ?16 ELSE output END, "
		"error = CASE WHEN ?17 THEN ?18 ELSE error END "
		"WHERE key = ?1 AND id = ?2",
	/* The common write (claim, complete, heartbeat, fail): conditions
	 * in the WHERE clause, so a caller that needs no record back costs
	 * one b-tree descent. ?3 is the ORC_SET_* mask. Not RETURNING:
	 * SQLite buffers its rows in an ephemeral table, which made each
	 * call cost more than a separate SELECT. */
	[S_TASK_WRITE] = "UPDATE tasks SET "
		"state = CASE WHEN ?3 & 1 THEN ?4 ELSE state END, "
		"attempt = CASE WHEN ?3 & 2 THEN ?5 ELSE attempt END, "
		"owner = CASE WHEN ?3 & 4 THEN ?6 ELSE owner END, "
		"lease_expiry_ms = CASE WHEN ?3 & 4 THEN ?7 "
		"ELSE lease_expiry_ms END, "
		"not_before_ms = CASE WHEN ?3 & 8 THEN ?8 "
		"ELSE not_before_ms END, "
		"started_ms = CASE WHEN ?3 & 16 THEN ?9 ELSE started_ms END, "
		"ended_ms = CASE WHEN ?3 & 32 THEN ?10 ELSE ended_ms END, "
		"output = CASE WHEN ?3 & 64 THEN ?11 ELSE output END, "
		"error = CASE WHEN ?3 & 128 THEN ?12 ELSE error END, "
		"version = version + 1, updated_ms = ?13 "
		"WHERE key = ?1 AND id = ?2 "
		"AND (?14 = 0 OR ((?14 >> state) & 1) = 1) "
		"AND (?15 < 0 OR version = ?15)",
	/* A fan-out mark in one statement, for an INTEGER done set: adds
	 * bit ?3 when it is not there yet, promotes when ?4 says so and it
	 * was the last one. orc_written() hands the new version and state
	 * to the backend, which would otherwise read the row back. Any
	 * other case (bit already set, BLOB done set, missing row, failed
	 * condition) matches nothing and takes the general path. */
	[S_TASK_MARK] = "UPDATE tasks SET done = done | (1 << ?3), "
		"ndone = ndone + 1, "
		"state = CASE WHEN ?4 AND state = 0 AND ndone + 1 = ndeps "
		"THEN 1 ELSE state END, "
		"version = orc_written(version + 1, CASE WHEN ?4 AND state = 0 "
		"AND ndone + 1 = ndeps THEN 1 ELSE state END), "
		"updated_ms = ?5 "
		"WHERE key = ?1 AND id = ?2 AND typeof(done) = 'integer' "
		"AND ?3 < ndeps AND ((done >> ?3) & 1) = 0 "
		"AND (?6 = 0 OR ((?6 >> state) & 1) = 1) "
		"AND (?7 < 0 OR version = ?7)",
	/* READY tasks of workflow ?1 lie at positions >= ready_lo (see
	 * sqlite_schema.c): listings scan keys from there. */
	[S_READY_LO] = "SELECT ready_lo FROM wf_keys WHERE key = ?1",
	[S_READY_LOWER] = "UPDATE wf_keys SET ready_lo = ?2 "
		"WHERE key = ?1 AND ready_lo > ?2",
	[S_READY_SET] = "UPDATE wf_keys SET ready_lo = ?2 WHERE key = ?1",
	[S_READY_FIRST] = "SELECT key FROM tasks WHERE key BETWEEN ?1 AND ?2 "
		"AND state = 1 ORDER BY key LIMIT 1",
	/* Keys ?1 to ?3 (a workflow's, in definition order; a READY
	 * listing starts at ready_lo), states in mask ?2 (0 = all). */
	[S_LIST_MASK] = "SELECT " TASK_COLS ", key FROM tasks "
		"WHERE key BETWEEN ?1 AND ?3 "
		"AND (?2 = 0 OR ((?2 >> state) & 1) = 1)",
	[S_LIST_MASK_PAY] = "SELECT " TASK_COLS ", output, error, key "
		"FROM tasks WHERE key BETWEEN ?1 AND ?3 "
		"AND (?2 = 0 OR ((?2 >> state) & 1) = 1)",
	[S_LOCK_GET] = "SELECT name, owner, version, expiry_ms FROM locks "
		"WHERE name = ?1",
	[S_LOCK_INSERT] = "INSERT INTO locks (name, owner, version, "
		"expiry_ms) VALUES (?1, ?2, ?3, ?4)",
	[S_LOCK_UPDATE] = "UPDATE locks SET owner = ?2, version = ?3, "
		"expiry_ms = ?4 WHERE name = ?1",
};

/* Workflow keys this connection looked up; keys never change. */
#define SQ_KEY_CACHE 8

typedef struct sq_backend {
	orc_backend parent;      /* first: the core sees only this */
	pthread_mutex_t mu;      /* one connection, one caller at a time */
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	int busy_ms;
	struct {
		char id[ORC_ID_MAX + 1];
		int64_t key;
	} keys[SQ_KEY_CACHE];    /* under mu; key 0 = empty */
	unsigned next_key;       /* the slot to fill next */
	int64_t written_version; /* from orc_written(), the last mark */
	int written_state;
} sq_backend;

#define SB(b) ((sq_backend *)(void *)(b))

/* ---- errors ---- */

/* Map a SQLite result code to a status, keeping the code and message. */
static orc_status sq_fail(orc_error *err, sqlite3 *db, int rc, int busy_ms,
			  const char *what)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	orc_status st;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		st = orc_error_set(err, ORC_ETHROTTLED, "sqlite: %s: database "
				   "busy after %d ms: %s", what, busy_ms, msg);
		break;
	case SQLITE_TOOBIG:
		st = orc_error_set(err, ORC_ETOOBIG, "sqlite: %s: %s", what,
				   msg);
		break;
	case SQLITE_NOMEM:
		st = orc_error_set(err, ORC_ENOMEM, "sqlite: %s: %s", what,
				   msg);
		break;
	default:
		st = orc_error_set(err, ORC_EBACKEND, "sqlite: %s: %s (%d)",
				   what, msg, rc);
		break;
	}
	if (err) {
		err->detail = rc;
		orc__strlcpy(err->source, "sqlite", sizeof(err->source));
	}
	return st;
}

/* sq_fail() on the instance's connection; @p fmt names the operation
 * and its record, so a message says which write failed. */
static orc_status sb_fail(orc_error *err, sq_backend *sb, int rc,
			  const char *fmt, ...)
{
	char what[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return sq_fail(err, sb->db, rc, sb->busy_ms, what);
}

static int id_ok(const char *id)
{
	return id && *id && strlen(id) <= ORC_ID_MAX;
}

/* ---- statements ---- */

static sqlite3_stmt *stmt(sq_backend *sb, enum sq_stmt s)
{
	return sb->st[s];
}

/* Reset after use: releases the read snapshot and the bound strings. */
static void done_with(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Bind text or NULL; SQLITE_TRANSIENT would copy, but every bound string
 * outlives the statement's use within one call. */
static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (!v)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* Run a statement that returns no rows. */
static int exec_stmt(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	done_with(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static orc_status txn_begin(sq_backend *sb, orc_error *err)
{
	int rc = exec_stmt(stmt(sb, S_BEGIN));

	if (rc != SQLITE_OK)
		return sb_fail(err, sb, rc, "begin");
	return ORC_OK;
}

static orc_status txn_commit(sq_backend *sb, orc_error *err)
{
	int rc = exec_stmt(stmt(sb, S_COMMIT));

	if (rc != SQLITE_OK) {
		orc_status st = sb_fail(err, sb, rc, "commit");

		if (!sqlite3_get_autocommit(sb->db))
			exec_stmt(stmt(sb, S_ROLLBACK));
		return st;
	}
	return ORC_OK;
}

static void txn_rollback(sq_backend *sb)
{
	if (!sqlite3_get_autocommit(sb->db))
		exec_stmt(stmt(sb, S_ROLLBACK));
}

/* Copy a text column into a new string (NULL stays NULL). */
static int col_dup(char **out, sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	*out = NULL;
	if (!t)
		return sqlite3_column_type(s, i) == SQLITE_NULL;
	*out = orc__strndup((const char *)t,
			    (size_t)sqlite3_column_bytes(s, i));
	return *out != NULL;
}

static void col_copy(char *dst, size_t size, sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	orc__strlcpy(dst, t ? (const char *)t : "", size);
}

/* Fill @p out from the TASK_COLS of the current row; no payloads. */
static void task_read(orc_task_rec *out, sqlite3_stmt *s)
{
	col_copy(out->id, sizeof(out->id), s, 0);
	out->state = (orc_task_state)sqlite3_column_int(s, 1);
	out->version = sqlite3_column_int64(s, 2);
	out->attempt = (int32_t)sqlite3_column_int64(s, 3);
	out->ndeps = (uint32_t)sqlite3_column_int64(s, 4);
	out->ndone = (uint32_t)sqlite3_column_int64(s, 5);
	col_copy(out->owner, sizeof(out->owner), s, 6);
	out->lease_expiry_ms = sqlite3_column_int64(s, 7);
	out->not_before_ms = sqlite3_column_int64(s, 8);
	out->created_ms = sqlite3_column_int64(s, 9);
	out->updated_ms = sqlite3_column_int64(s, 10);
	out->started_ms = sqlite3_column_int64(s, 11);
	out->ended_ms = sqlite3_column_int64(s, 12);
	out->output = NULL;
	out->error = NULL;
}

/* Fill @p out from the WF_COLS of the current row; no strings. */
static void wf_read(orc_workflow_rec *out, sqlite3_stmt *s)
{
	col_copy(out->id, sizeof(out->id), s, 0);
	out->state = (orc_workflow_state)sqlite3_column_int(s, 1);
	out->version = sqlite3_column_int64(s, 2);
	out->ntasks = (uint32_t)sqlite3_column_int64(s, 3);
	out->created_ms = sqlite3_column_int64(s, 4);
	out->updated_ms = sqlite3_column_int64(s, 5);
	out->definition = NULL;
	out->input = NULL;
	out->error = NULL;
}

static const char *wf_state_name(orc_workflow_state s)
{
	static const char *const names[] = { "PENDING", "RUNNING",
					     "SUCCEEDED", "FAILED",
					     "CANCELED" };

	return (unsigned)s < ORC_WORKFLOW_STATE_COUNT ? names[s] : "UNKNOWN";
}

static orc_status wf_not_found(orc_error *err, const char *wf_id)
{
	return orc_error_set(err, ORC_ENOTFOUND, "workflow %s not found",
			     wf_id);
}

static orc_status task_not_found(orc_error *err, const char *wf_id,
				 const char *task_id)
{
	return orc_error_set(err, ORC_ENOTFOUND, "task %s in workflow %s not "
			     "found", task_id, wf_id);
}

/* ---- keys ---- */

/* orc_written(version, state): notes the row S_TASK_MARK writes, so the
 * caller knows it without reading it back; returns version. */
static void fn_written(sqlite3_context *c, int argc, sqlite3_value **v)
{
	sq_backend *sb = sqlite3_user_data(c);

	ORC_UNUSED(argc);
	sb->written_version = sqlite3_value_int64(v[0]);
	sb->written_state = sqlite3_value_int(v[1]);
	sqlite3_result_value(c, v[0]);
}

/* The key of workflow @p wf_id: SQLITE_ROW (found), SQLITE_DONE (the id
 * has none yet) or an error code. Found keys are remembered: a key is
 * never deleted or given to another id. */
static int wf_key_find(sq_backend *sb, const char *wf_id, int64_t *key)
{
	sqlite3_stmt *s;
	unsigned i;
	int rc;

	for (i = 0; i < SQ_KEY_CACHE; i++)
		if (sb->keys[i].key && strcmp(sb->keys[i].id, wf_id) == 0) {
			*key = sb->keys[i].key;
			return SQLITE_ROW;
		}
	s = stmt(sb, S_WF_KEY);
	sqlite3_bind_text(s, 1, wf_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*key = sqlite3_column_int64(s, 0);
		i = sb->next_key++ % SQ_KEY_CACHE;
		orc__strlcpy(sb->keys[i].id, wf_id, sizeof(sb->keys[i].id));
		sb->keys[i].key = *key;
	}
	done_with(s);
	return rc;
}

/* The row key of task @p tid of the workflow keyed @p wf, by its id:
 * SQLITE_ROW, SQLITE_DONE (no such task) or an error code. */
static int task_key_find(sq_backend *sb, int64_t wf, const char *tid,
			 int64_t *key)
{
	sqlite3_stmt *s = stmt(sb, S_TASK_KEY);
	int rc;

	sqlite3_bind_int64(s, 1, wf);
	sqlite3_bind_text(s, 2, tid, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*key = sqlite3_column_int64(s, 0);
	done_with(s);
	return rc;
}

static int64_t task_key_at(int64_t wf, uint64_t pos)
{
	return (int64_t)(((uint64_t)wf << 32) | pos);
}

/* ---- the READY bound ---- */

/* Task at @p key became READY in the caller's transaction: keep its
 * workflow's ready_lo at or below it. A SQLite result code. */
static int ready_lower(sq_backend *sb, int64_t key)
{
	sqlite3_stmt *s = stmt(sb, S_READY_LOWER);

	sqlite3_bind_int64(s, 1, (int64_t)((uint64_t)key >> 32));
	sqlite3_bind_int64(s, 2, (int64_t)((uint64_t)key & UINT32_MAX));
	return exec_stmt(s);
}

/* The ready_lo of workflow @p wf (0 when it has none). */
static int ready_lo(sq_backend *sb, int64_t wf, int64_t *lo)
{
	sqlite3_stmt *s = stmt(sb, S_READY_LO);
	int rc;

	*lo = 0;
	sqlite3_bind_int64(s, 1, wf);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*lo = sqlite3_column_int64(s, 0);
	done_with(s);
	/* A position: out of range (a file edited by hand) would reach
	 * into another workflow's keys; 0 is always safe. */
	if (*lo < 0 || *lo > UINT32_MAX)
		*lo = 0;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * Raise ready_lo of workflow @p wf to its first READY task (past the
 * last position when there is none), so later listings skip what this
 * one had to. Under the write lock, so no task can become READY below
 * the new bound meanwhile; best effort and never waiting for the lock:
 * a listing is a read, and a stale bound only costs a longer scan.
 */
static void ready_raise(sq_backend *sb, int64_t wf)
{
	sqlite3_stmt *s;
	int64_t lo, first = UINT32_MAX;
	int rc;

	sqlite3_busy_timeout(sb->db, 0);
	rc = exec_stmt(stmt(sb, S_BEGIN));
	sqlite3_busy_timeout(sb->db, sb->busy_ms);
	if (rc != SQLITE_OK)
		return;
	rc = ready_lo(sb, wf, &lo);
	if (rc == SQLITE_OK) {
		s = stmt(sb, S_READY_FIRST);
		sqlite3_bind_int64(s, 1, task_key_at(wf, (uint64_t)lo));
		sqlite3_bind_int64(s, 2, task_key_at(wf, UINT32_MAX));
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			first = (int64_t)((uint64_t)sqlite3_column_int64(s, 0) &
					  UINT32_MAX);
		done_with(s);
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	if (rc == SQLITE_OK && first > lo) {
		s = stmt(sb, S_READY_SET);
		sqlite3_bind_int64(s, 1, wf);
		sqlite3_bind_int64(s, 2, first);
		rc = exec_stmt(s);
	}
	if (rc == SQLITE_OK)
		rc = exec_stmt(stmt(sb, S_COMMIT));
	if (rc != SQLITE_OK)
		txn_rollback(sb);
}

/* ---- workflows ---- */

/* INSERT OR IGNORE one seeded task at @p key; a SQLite result code. */
static int seed_task(sq_backend *sb, int64_t wf, int64_t key,
		     const orc_task_seed *t, int64_t now_ms)
{
	sqlite3_stmt *s = stmt(sb, S_TASK_INSERT);

	sqlite3_bind_int64(s, 1, key);
	sqlite3_bind_int64(s, 2, wf);
	sqlite3_bind_text(s, 3, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, t->ndeps ? ORC_TASK_PENDING : ORC_TASK_READY);
	sqlite3_bind_int64(s, 5, t->ndeps);
	sqlite3_bind_int64(s, 6, now_ms);
	bind_text(s, 7, t->target);
	if (t->ndeps <= SQ_DONE_BITS)
		sqlite3_bind_int64(s, 8, 0);
	else
		sqlite3_bind_zeroblob(s, 8, (int)((t->ndeps + 7) / 8));
	return exec_stmt(s);
}

/* Seed @p t after the last task of workflow @p wf. */
static int seed_after_last(sq_backend *sb, int64_t wf,
			   const orc_task_seed *t, int64_t now_ms)
{
	sqlite3_stmt *s = stmt(sb, S_TASK_KEY_MAX);
	int64_t last = -1;
	int rc;

	sqlite3_bind_int64(s, 1, task_key_at(wf, 0));
	sqlite3_bind_int64(s, 2, task_key_at(wf, UINT32_MAX));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		last = sqlite3_column_int64(s, 0);
	done_with(s);
	if (rc != SQLITE_ROW)
		return rc;
	if (last == task_key_at(wf, UINT32_MAX))
		return SQLITE_FULL;
	rc = seed_task(sb, wf, last < 0 ? task_key_at(wf, 0) : last + 1, t,
		       now_ms);
	if (rc == SQLITE_OK && sqlite3_changes(sb->db) != 1)
		rc = SQLITE_CONSTRAINT;
	return rc;
}

static orc_status sq_create_workflow(orc_backend *b, const orc_workflow_rec *wf,
				     const orc_task_seed *tasks, size_t ntasks,
				     orc_error *err)
{
	sq_backend *sb = SB(b);
	sqlite3_stmt *s;
	orc_status st;
	int64_t wk = 0;
	size_t i;
	int rc;

	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(wf != NULL, err);
	ORC_CHECK_ARG(tasks != NULL || ntasks == 0, err);
	if (!id_ok(wf->id))
		return orc_error_set(err, ORC_EINVAL, "workflow id must be 1 "
				     "to %d bytes", ORC_ID_MAX);
	if ((unsigned)wf->state >= ORC_WORKFLOW_STATE_COUNT)
		return orc_error_set(err, ORC_EINVAL, "workflow %s: invalid "
				     "state %d", wf->id, (int)wf->state);
	if (ntasks > UINT32_MAX)
		return orc_error_set(err, ORC_EINVAL, "workflow %s: too many "
				     "tasks (%zu)", wf->id, ntasks);
	for (i = 0; i < ntasks; i++)
		if (!id_ok(tasks[i].id))
			return orc_error_set(err, ORC_EINVAL, "workflow %s: "
					     "task %zu: id must be 1 to %d "
					     "bytes", wf->id, i, ORC_ID_MAX);

	pthread_mutex_lock(&sb->mu);
	st = txn_begin(sb, err);
	if (st != ORC_OK)
		goto unlock;
	s = stmt(sb, S_WF_EXISTS);
	sqlite3_bind_text(s, 1, wf->id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	done_with(s);
	if (rc == SQLITE_ROW) {
		st = orc_error_set(err, ORC_EEXISTS, "workflow %s already "
				   "exists", wf->id);
		goto rollback;
	}
	if (rc != SQLITE_DONE) {
		st = sb_fail(err, sb, rc, "create workflow %s", wf->id);
		goto rollback;
	}
	rc = wf_key_find(sb, wf->id, &wk);
	if (rc == SQLITE_DONE) {
		s = stmt(sb, S_WF_KEY_NEW);
		sqlite3_bind_text(s, 1, wf->id, -1, SQLITE_STATIC);
		rc = exec_stmt(s);
		wk = sqlite3_last_insert_rowid(sb->db);
		if (rc == SQLITE_OK && (wk <= 0 || wk > INT32_MAX))
			rc = SQLITE_FULL;  /* no key left for the shift */
	}
	if (rc != SQLITE_OK && rc != SQLITE_ROW) {
		st = sb_fail(err, sb, rc, "create workflow %s", wf->id);
		goto rollback;
	}
	for (i = 0; i < ntasks; i++) {
		const orc_task_seed *t = &tasks[i];

		/* OR IGNORE: a task left by an earlier, cut-short start (or a
		 * repeated id) stays as it is. */
		rc = seed_task(sb, wk, task_key_at(wk, i), t, wf->created_ms);
		if (rc == SQLITE_OK && sqlite3_changes(sb->db) == 0) {
			int64_t key = 0;

			/* Ignored: kept by id, or its position holds a task
			 * of another definition; then it goes after the last. */
			rc = task_key_find(sb, wk, t->id, &key);
			if (rc == SQLITE_DONE)
				rc = seed_after_last(sb, wk, t,
						     wf->created_ms);
			else if (rc == SQLITE_ROW)
				rc = SQLITE_OK;
		}
		if (rc != SQLITE_OK) {
			st = sb_fail(err, sb, rc, "seed task %s of workflow %s",
				     t->id, wf->id);
			goto rollback;
		}
	}
	/* Seeded tasks may be READY anywhere. */
	rc = ready_lower(sb, task_key_at(wk, 0));
	if (rc != SQLITE_OK) {
		st = sb_fail(err, sb, rc, "create workflow %s", wf->id);
		goto rollback;
	}
	s = stmt(sb, S_WF_INSERT);
	sqlite3_bind_text(s, 1, wf->id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)wf->state);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)ntasks);
	sqlite3_bind_int64(s, 4, wf->created_ms);
	sqlite3_bind_int64(s, 5, wf->updated_ms);
	bind_text(s, 6, wf->definition);
	bind_text(s, 7, wf->input);
	bind_text(s, 8, wf->error);
	rc = exec_stmt(s);
	if (rc != SQLITE_OK) {
		st = sb_fail(err, sb, rc, "create workflow %s", wf->id);
		goto rollback;
	}
	st = txn_commit(sb, err);
	goto unlock;
rollback:
	txn_rollback(sb);
unlock:
	pthread_mutex_unlock(&sb->mu);
	return st;
}

static orc_status sq_get_workflow(orc_workflow_rec *out, orc_backend *b,
				  const char *wf_id, orc_error *err)
{
	sq_backend *sb = SB(b);
	char *def = NULL, *input = NULL, *error = NULL;
	orc_status st = ORC_OK;
	sqlite3_stmt *s;
	int rc;

	ORC_CHECK_ARG(out != NULL, err);
	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(wf_id != NULL, err);
	pthread_mutex_lock(&sb->mu);
	s = stmt(sb, S_WF_GET);
	sqlite3_bind_text(s, 1, wf_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (col_dup(&error, s, 6) && col_dup(&def, s, 7) &&
		    col_dup(&input, s, 8)) {
			wf_read(out, s);
			out->definition = def;
			out->input = input;
			out->error = error;
		} else {
			free(def);
			free(input);
			free(error);
			st = orc_error_set(err, ORC_ENOMEM, "workflow %s: out "
					   "of memory", wf_id);
		}
	} else if (rc == SQLITE_DONE) {
		st = wf_not_found(err, wf_id);
	} else {
		st = sb_fail(err, sb, rc, "get workflow %s", wf_id);
	}
	done_with(s);
	pthread_mutex_unlock(&sb->mu);
	return st;
}

static orc_status sq_update_workflow(orc_backend *b, const char *wf_id,
				     const orc_workflow_update *u,
				     orc_workflow_rec *out, orc_error *err)
{
	sq_backend *sb = SB(b);
	orc_workflow_rec cur;
	char *error = NULL;
	orc_status st;
	sqlite3_stmt *s;
	int rc;

	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(wf_id != NULL, err);
	ORC_CHECK_ARG(u != NULL, err);
	if ((u->set & ORC_WSET_STATE) &&
	    (unsigned)u->state >= ORC_WORKFLOW_STATE_COUNT)
		return orc_error_set(err, ORC_EINVAL, "workflow %s: invalid "
				     "state %d", wf_id, (int)u->state);
	pthread_mutex_lock(&sb->mu);
	st = txn_begin(sb, err);
	if (st != ORC_OK)
		goto unlock;
	s = stmt(sb, S_WF_GET_META);
	sqlite3_bind_text(s, 1, wf_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		wf_read(&cur, s);
		if (out && !col_dup(&error, s, 6))
			st = orc_error_set(err, ORC_ENOMEM, "workflow %s: out "
					   "of memory", wf_id);
	} else if (rc == SQLITE_DONE) {
		st = wf_not_found(err, wf_id);
	} else {
		st = sb_fail(err, sb, rc, "update workflow %s", wf_id);
	}
	done_with(s);
	if (st != ORC_OK)
		goto rollback;
	if (u->if_states && !(u->if_states & ORC_WORKFLOW_BIT(cur.state))) {
		st = orc_error_set(err, ORC_ECONFLICT, "workflow %s: state %s "
				   "not in the expected states", wf_id,
				   wf_state_name(cur.state));
		goto found;
	}
	if (u->if_version >= 0 && u->if_version != cur.version) {
		st = orc_error_set(err, ORC_ECONFLICT, "workflow %s: expected "
				   "version %lld, found %lld", wf_id,
				   (long long)u->if_version,
				   (long long)cur.version);
		goto found;
	}
	if (!(u->set & (ORC_WSET_STATE | ORC_WSET_ERROR)))
		goto found;  /* nothing to write: version stays */
	if (u->set & ORC_WSET_STATE)
		cur.state = u->state;
	cur.version++;
	cur.updated_ms = u->now_ms;
	s = stmt(sb, S_WF_UPDATE);
	sqlite3_bind_text(s, 1, wf_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)cur.state);
	sqlite3_bind_int64(s, 3, cur.version);
	sqlite3_bind_int64(s, 4, cur.updated_ms);
	sqlite3_bind_int(s, 5, (u->set & ORC_WSET_ERROR) != 0);
	bind_text(s, 6, u->error);
	rc = exec_stmt(s);
	if (rc != SQLITE_OK) {
		st = sb_fail(err, sb, rc, "update workflow %s", wf_id);
		goto rollback;
	}
	st = txn_commit(sb, err);
	if (st != ORC_OK)
		goto unlock;
	if (out && (u->set & ORC_WSET_ERROR)) {
		free(error);
		error = orc_strdup(u->error);
		if (u->error && !error) {
			/* The write is committed; only the copy failed. */
			st = orc_error_set(err, ORC_ENOMEM, "workflow %s: out "
					   "of memory", wf_id);
			goto unlock;
		}
	}
	if (out) {
		*out = cur;
		out->error = error;
		error = NULL;
	}
	goto unlock;
found:
	if (out) {
		*out = cur;
		out->error = error;
		error = NULL;
	}
rollback:
	txn_rollback(sb);
unlock:
	pthread_mutex_unlock(&sb->mu);
	free(error);
	return st;
}

static orc_status sq_list_workflows(orc_backend *b, orc_workflow_rec_cb cb,
				    void *payload, orc_error *err)
{
	sq_backend *sb = SB(b);
	orc_workflow_rec rec;
	orc_status st = ORC_OK;
	sqlite3_stmt *s;
	int rc;

	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(cb != NULL, err);
	pthread_mutex_lock(&sb->mu);
	s = stmt(sb, S_WF_LIST);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		wf_read(&rec, s);
		/* Lent for the call: valid until the next step. */
		rec.error = (char *)sqlite3_column_text(s, 6);
		if (cb(&rec, payload))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = sb_fail(err, sb, rc, "list workflows");
	done_with(s);
	pthread_mutex_unlock(&sb->mu);
	return st;
}

_Static_assert(ORC_WORKFLOW_PENDING == 0 && ORC_WORKFLOW_RUNNING == 1 &&
	       ORC_WORKFLOW_SUCCEEDED == 2,
	       "S_WF_LIVE and workflows_live assume live states below 2");

static orc_status sq_list_live(orc_backend *b, const orc_live_query *q,
			       orc_workflow_rec_cb cb, void *payload,
			       orc_error *err)
{
	sq_backend *sb = SB(b);
	orc_workflow_rec rec;
	orc_status st = ORC_OK;
	sqlite3_stmt *s;
	int rc;

	ORC_CHECK_ARG(b != NULL && q != NULL && cb != NULL, err);
	if (q->kind != ORC_LIVE_WORKFLOWS)
		return orc_error_set(err, ORC_ENOTSUPPORTED, "sqlite backend: "
				     "unknown live kind %d", q->kind);
	pthread_mutex_lock(&sb->mu);
	s = stmt(sb, S_WF_LIVE);
	rc = bind_text(s, 1, q->after ? q->after : "");
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, q->limit && q->limit <=
					(size_t)INT64_MAX ?
					(sqlite3_int64)q->limit : -1);
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			wf_read(&rec, s);
			if (cb(&rec, payload))
				break;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = sb_fail(err, sb, rc, "list live workflows");
	done_with(s);
	pthread_mutex_unlock(&sb->mu);
	return st;
}

/* ---- tasks ---- */

static orc_status sq_get_task(orc_task_rec *out, orc_backend *b,
			      const char *wf_id, const char *tid,
			      uint32_t flags, orc_error *err)
{
	sq_backend *sb = SB(b);
	const int pay = (flags & ORC_LIST_PAYLOADS) != 0;
	char *output = NULL, *error = NULL;
	orc_status st = ORC_OK;
	sqlite3_stmt *s;
	int64_t wk;
	int rc;

	ORC_CHECK_ARG(out != NULL, err);
	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(wf_id != NULL, err);
	ORC_CHECK_ARG(tid != NULL, err);
	pthread_mutex_lock(&sb->mu);
	rc = wf_key_find(sb, wf_id, &wk);
	if (rc != SQLITE_ROW) {
		st = rc == SQLITE_DONE ? task_not_found(err, wf_id, tid) :
			sb_fail(err, sb, rc, "get task %s in workflow %s", tid,
				wf_id);
		pthread_mutex_unlock(&sb->mu);
		return st;
	}
	s = stmt(sb, pay ? S_TASK_GET_ID_PAY : S_TASK_GET_ID);
	sqlite3_bind_int64(s, 1, wk);
	sqlite3_bind_text(s, 2, tid, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (!pay || (col_dup(&output, s, TASK_NCOLS) &&
			     col_dup(&error, s, TASK_NCOLS + 1))) {
			task_read(out, s);
			out->output = output;
			out->error = error;
		} else {
			free(output);
			free(error);
			st = orc_error_set(err, ORC_ENOMEM, "task %s in "
					   "workflow %s: out of memory", tid,
					   wf_id);
		}
	} else if (rc == SQLITE_DONE) {
		st = task_not_found(err, wf_id, tid);
	} else {
		st = sb_fail(err, sb, rc, "get task %s in workflow %s",
			     tid, wf_id);
	}
	done_with(s);
	pthread_mutex_unlock(&sb->mu);
	return st;
}

/* The condition of @p u against the stored @p cur: ORC_OK or
 * ORC_ECONFLICT naming what differs. */
static orc_status task_check(const orc_task_update *u, const orc_task_rec *cur,
			     const char *wf_id, const char *tid,
			     orc_error *err)
{
	if (u->if_states && !(u->if_states & ORC_TASK_BIT(cur->state)))
		return orc_error_set(err, ORC_ECONFLICT, "task %s in workflow "
				     "%s: state %s not in the expected states",
				     tid, wf_id,
				     orc_task_state_name(cur->state));
	if (u->if_version >= 0 && u->if_version != cur->version)
		return orc_error_set(err, ORC_ECONFLICT, "task %s in workflow "
				     "%s: expected version %lld, found %lld",
				     tid, wf_id, (long long)u->if_version,
				     (long long)cur->version);
	return ORC_OK;
}

/* Where a write goes and what its caller reads back. */
struct sq_target {
	const char *wf_id;      /* for messages */
	const char *tid;
	int64_t key;            /* row key (may be a wrong guess) */
	orc_task_rec *out;      /* NULL: nothing to read back */
	int brief;              /* out needs only state and version */
};

/* After an applied write: fill a brief @p t->out without reading when
 * @p state and @p version are known (>= 0); 0 when a read is needed. */
static int brief_fill(const struct sq_target *t, int state, int64_t version)
{
	if (!t->brief || state < 0 || version < 0)
		return 0;
	t->out->state = (orc_task_state)state;
	t->out->version = version;
	return 1;
}

/* Read the row at @p t into @p rec: ORC_OK, ORC_ENOTFOUND, ORC_EBACKEND. */
static orc_status task_reread(sq_backend *sb, const struct sq_target *t,
			      orc_task_rec *rec, orc_error *err)
{
	sqlite3_stmt *s = stmt(sb, S_TASK_GET);
	orc_status st = ORC_OK;
	int rc;

	sqlite3_bind_int64(s, 1, t->key);
	sqlite3_bind_text(s, 2, t->tid, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		task_read(rec, s);
	else if (rc == SQLITE_DONE)
		st = task_not_found(err, t->wf_id, t->tid);
	else
		st = sb_fail(err, sb, rc, "update task %s in workflow %s",
			     t->tid, t->wf_id);
	done_with(s);
	return st;
}

/*
 * A write without the done set or promotion, inside the caller's
 * transaction: one conditional UPDATE, then a read only when the caller
 * wants the record or when no row matched, to tell a missing task from
 * a failed condition. On ORC_OK t->out is the row as written; on
 * ORC_ECONFLICT, as found.
 */
static orc_status task_write_fast(sq_backend *sb, const struct sq_target *t,
				  const orc_task_update *u, orc_error *err)
{
	sqlite3_stmt *s = stmt(sb, S_TASK_WRITE);
	orc_task_rec found, *cur = t->out ? t->out : &found;
	orc_status st;
	int rc, changed;

	sqlite3_bind_int64(s, 1, t->key);
	sqlite3_bind_text(s, 2, t->tid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, u->set);
	sqlite3_bind_int(s, 4, (int)u->state);
	sqlite3_bind_int64(s, 5, u->attempt);
	sqlite3_bind_text(s, 6, u->owner ? u->owner : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, u->lease_expiry_ms);
	sqlite3_bind_int64(s, 8, u->not_before_ms);
	sqlite3_bind_int64(s, 9, u->started_ms);
	sqlite3_bind_int64(s, 10, u->ended_ms);
	if (u->set & ORC_SET_OUTPUT)
		bind_text(s, 11, u->output);
	if (u->set & ORC_SET_ERROR)
		bind_text(s, 12, u->error);
	sqlite3_bind_int64(s, 13, u->now_ms);
	sqlite3_bind_int64(s, 14, u->if_states);
	sqlite3_bind_int64(s, 15, u->if_version);
	rc = exec_stmt(s);
	if (rc != SQLITE_OK)
		return sb_fail(err, sb, rc, "update task %s in workflow %s",
			       t->tid, t->wf_id);
	changed = sqlite3_changes(sb->db) == 1;
	if (changed && (u->set & ORC_SET_STATE) && u->state == ORC_TASK_READY &&
	    (rc = ready_lower(sb, t->key)) != SQLITE_OK)
		return sb_fail(err, sb, rc, "update task %s in workflow %s",
			       t->tid, t->wf_id);
	if (changed && (!t->out ||
			brief_fill(t, (u->set & ORC_SET_STATE) ?
				   (int)u->state : -1,
				   u->if_version >= 0 ? u->if_version + 1 :
				   -1)))
		return ORC_OK;
	st = task_reread(sb, t, cur, err);
	if (st == ORC_OK && !changed) {
		st = task_check(u, cur, t->wf_id, t->tid, err);
		/* Cannot pass: we hold the write lock. */
		if (st == ORC_OK)
			st = orc_error_set(err, ORC_ECONFLICT, "task %s in "
					   "workflow %s: write not applied",
					   t->tid, t->wf_id);
	}
	return st;
}

/* A fan-out mark in one statement (S_TASK_MARK). 1: applied, t->out
 * filled; 0: not applicable to this row, take the general path; < 0:
 * failed, with @p *st set. */
static int task_mark_fast(sq_backend *sb, const struct sq_target *t,
			  const orc_task_update *u, orc_status *st,
			  orc_error *err)
{
	sqlite3_stmt *s = stmt(sb, S_TASK_MARK);
	int rc;

	if (u->done_dep_index >= SQ_DONE_BITS)
		return 0;
	sqlite3_bind_int64(s, 1, t->key);
	sqlite3_bind_text(s, 2, t->tid, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, (int)u->done_dep_index);
	sqlite3_bind_int(s, 4, (u->set & ORC_SET_PROMOTE) != 0);
	sqlite3_bind_int64(s, 5, u->now_ms);
	sqlite3_bind_int64(s, 6, u->if_states);
	sqlite3_bind_int64(s, 7, u->if_version);
	rc = exec_stmt(s);
	if (rc != SQLITE_OK) {
		*st = sb_fail(err, sb, rc, "update task %s in workflow %s",
			      t->tid, t->wf_id);
		return -1;
	}
	if (sqlite3_changes(sb->db) != 1)
		return 0;
	if (sb->written_state == ORC_TASK_READY &&
	    (rc = ready_lower(sb, t->key)) != SQLITE_OK) {
		*st = sb_fail(err, sb, rc, "update task %s in workflow %s",
			      t->tid, t->wf_id);
		return -1;
	}
	if (t->out && !brief_fill(t, sb->written_state, sb->written_version)) {
		*st = task_reread(sb, t, t->out, err);
		return *st == ORC_OK ? 1 : -1;
	}
	*st = ORC_OK;
	return 1;
}

/* The done set of the current row of @p s (column TASK_NCOLS) into
 * @p done (@p cap bytes, or a new buffer in *@p heap); an INTEGER
 * bitmask reads as its 8 little-endian bytes. Returns its length, or -1
 * when out of memory. */
static int done_read(unsigned char *done, size_t cap, unsigned char **heap,
		     sqlite3_stmt *s, int *as_int)
{
	int len;

	*as_int = sqlite3_column_type(s, TASK_NCOLS) == SQLITE_INTEGER;
	if (*as_int) {
		uint64_t m = (uint64_t)sqlite3_column_int64(s, TASK_NCOLS);
		int k;

		for (k = 0; k < 8; k++)
			done[k] = (unsigned char)(m >> (8 * k));
		return 8;
	}
	len = sqlite3_column_bytes(s, TASK_NCOLS);
	if ((size_t)len > cap) {
		*heap = orc__malloc((size_t)len);
		if (!*heap)
			return -1;
		done = *heap;
	}
	if (len)
		memcpy(done, sqlite3_column_blob(s, TASK_NCOLS), (size_t)len);
	return len;
}

/*
 * One task write at t->key inside the caller's transaction, which it
 * neither commits nor rolls back. On ORC_OK t->out (may be NULL) is the
 * row as written; on ORC_ECONFLICT, as found. ORC_ENOTFOUND when no
 * row with that key has that id.
 */
static orc_status task_write_at(sq_backend *sb, const struct sq_target *t,
				const orc_task_update *u, orc_error *err)
{
	const uint32_t set = u->set;
	unsigned char dbuf[64], *heap = NULL, *done = dbuf;
	int done_len = 0, done_changed = 0, as_int = 0, write, rc;
	orc_task_rec cur;
	orc_status st = ORC_OK;
	sqlite3_stmt *s;

	if (set && !(set & (ORC_SET_DONE_DEP | ORC_SET_PROMOTE)))
		return task_write_fast(sb, t, u, err);
	if ((set & ORC_SET_DONE_DEP) &&
	    !(set & ~(ORC_SET_DONE_DEP | ORC_SET_PROMOTE))) {
		rc = task_mark_fast(sb, t, u, &st, err);
		if (rc != 0)
			return st;
	}
	s = stmt(sb, S_TASK_GET_DONE);
	sqlite3_bind_int64(s, 1, t->key);
	sqlite3_bind_text(s, 2, t->tid, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		task_read(&cur, s);
		if (set & ORC_SET_DONE_DEP) {
			done_len = done_read(dbuf, sizeof(dbuf), &heap, s,
					     &as_int);
			if (heap)
				done = heap;
			if (done_len < 0)
				st = orc_error_set(err, ORC_ENOMEM, "task %s "
						   "in workflow %s: out of "
						   "memory", t->tid, t->wf_id);
		}
	} else if (rc == SQLITE_DONE) {
		st = task_not_found(err, t->wf_id, t->tid);
	} else {
		st = sb_fail(err, sb, rc, "update task %s in workflow %s",
			     t->tid, t->wf_id);
	}
	done_with(s);
	if (st != ORC_OK)
		goto out;
	if ((set & ORC_SET_DONE_DEP) && u->done_dep_index >= cur.ndeps) {
		st = orc_error_set(err, ORC_EINVAL, "task %s in workflow %s: "
				   "dependency index %u out of range (%u "
				   "dependencies)", t->tid, t->wf_id,
				   u->done_dep_index, cur.ndeps);
		goto out;
	}
	st = task_check(u, &cur, t->wf_id, t->tid, err);
	if (st != ORC_OK)
		goto found;
	write = (set & ~(ORC_SET_DONE_DEP | ORC_SET_PROMOTE)) != 0;
	if (set & ORC_SET_STATE)
		cur.state = u->state;
	if (set & ORC_SET_ATTEMPT)
		cur.attempt = u->attempt;
	if (set & ORC_SET_LEASE) {
		orc__strlcpy(cur.owner, u->owner ? u->owner : "",
			     sizeof(cur.owner));
		cur.lease_expiry_ms = u->lease_expiry_ms;
	}
	if (set & ORC_SET_NOT_BEFORE)
		cur.not_before_ms = u->not_before_ms;
	if (set & ORC_SET_STARTED)
		cur.started_ms = u->started_ms;
	if (set & ORC_SET_ENDED)
		cur.ended_ms = u->ended_ms;
	if (set & ORC_SET_DONE_DEP) {
		uint32_t i = u->done_dep_index;
		unsigned char bit = (unsigned char)(1u << (i % 8));

		/* A short or missing blob (a damaged row) grows safely:
		 * bytes past its end read as not done. */
		size_t need = ((size_t)cur.ndeps + 7) / 8;

		if ((size_t)done_len < need) {
			unsigned char *nd = orc__calloc(1, need);

			if (!nd) {
				st = orc_error_set(err, ORC_ENOMEM, "task %s "
						   "in workflow %s: out of "
						   "memory", t->tid, t->wf_id);
				goto out;
			}
			if (done_len)
				memcpy(nd, done, (size_t)done_len);
			free(heap);
			done = heap = nd;
			done_len = (int)need;
		}
		if (!(done[i / 8] & bit)) {
			done[i / 8] |= bit;
			cur.ndone++;
			done_changed = write = 1;
		}
	}
	if ((set & ORC_SET_PROMOTE) && cur.state == ORC_TASK_PENDING &&
	    cur.ndone == cur.ndeps) {
		cur.state = ORC_TASK_READY;
		write = 1;
	}
	if (!write)
		goto found;  /* a repeated fan-out: nothing changes */
	cur.version++;
	cur.updated_ms = u->now_ms;
	s = stmt(sb, S_TASK_UPDATE);
	sqlite3_bind_int64(s, 1, t->key);
	sqlite3_bind_text(s, 2, t->tid, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, (int)cur.state);
	sqlite3_bind_int64(s, 4, cur.version);
	sqlite3_bind_int64(s, 5, cur.attempt);
	sqlite3_bind_int64(s, 6, cur.ndone);
	sqlite3_bind_text(s, 7, cur.owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, cur.lease_expiry_ms);
	sqlite3_bind_int64(s, 9, cur.not_before_ms);
	sqlite3_bind_int64(s, 10, cur.updated_ms);
	sqlite3_bind_int64(s, 11, cur.started_ms);
	sqlite3_bind_int64(s, 12, cur.ended_ms);
	sqlite3_bind_int(s, 13, done_changed);
	if (done_changed && as_int) {
		uint64_t m = 0;
		int k;

		for (k = 0; k < 8; k++)
			m |= (uint64_t)done[k] << (8 * k);
		sqlite3_bind_int64(s, 14, (sqlite3_int64)m);
	} else if (done_changed) {
		sqlite3_bind_blob(s, 14, done, done_len, SQLITE_STATIC);
	}
	sqlite3_bind_int(s, 15, (set & ORC_SET_OUTPUT) != 0);
	if (set & ORC_SET_OUTPUT)
		bind_text(s, 16, u->output);
	sqlite3_bind_int(s, 17, (set & ORC_SET_ERROR) != 0);
	if (set & ORC_SET_ERROR)
		bind_text(s, 18, u->error);
	rc = exec_stmt(s);
	if (rc == SQLITE_OK && cur.state == ORC_TASK_READY)
		rc = ready_lower(sb, t->key);
	if (rc != SQLITE_OK) {
		st = sb_fail(err, sb, rc, "update task %s in workflow %s",
			     t->tid, t->wf_id);
		goto out;
	}
found:
	if (t->out)
		*t->out = cur;
out:
	free(heap);
	return st;
}

/*
 * One task write inside the caller's transaction. The row is found by
 * the seed position when the core gave it (checked against the id by
 * every statement), else by id; a wrong position costs a lookup.
 */
static orc_status task_write_txn(sq_backend *sb, const char *wf_id,
				 const char *tid, const orc_task_update *u,
				 orc_task_rec *out, int brief, orc_error *err)
{
	struct sq_target t;
	int64_t wk, key;
	orc_status st;
	int rc;

	t.wf_id = wf_id;
	t.tid = tid;
	t.out = out;
	t.brief = brief && out;
	rc = wf_key_find(sb, wf_id, &wk);
	if (rc == SQLITE_ROW && u->seed_pos) {
		t.key = task_key_at(wk, u->seed_pos - 1u);
		st = task_write_at(sb, &t, u, err);
		if (st != ORC_ENOTFOUND)
			return st;
	}
	if (rc == SQLITE_ROW)
		rc = task_key_find(sb, wk, tid, &key);
	if (rc == SQLITE_DONE)
		return task_not_found(err, wf_id, tid);
	if (rc != SQLITE_ROW)
		return sb_fail(err, sb, rc, "update task %s in workflow %s",
			       tid, wf_id);
	if (u->seed_pos && key == t.key)
		return task_not_found(err, wf_id, tid);
	t.key = key;
	return task_write_at(sb, &t, u, err);
}

static orc_status check_update(const orc_task_update *u, const char *wf_id,
			       const char *tid, orc_error *err)
{
	if ((u->set & ORC_SET_STATE) &&
	    (unsigned)u->state >= ORC_TASK_STATE_COUNT)
		return orc_error_set(err, ORC_EINVAL, "task %s in workflow %s: "
				     "invalid state %d", tid, wf_id,
				     (int)u->state);
	if ((u->set & ORC_SET_LEASE) && u->owner &&
	    strlen(u->owner) > ORC_OWNER_MAX)
		return orc_error_set(err, ORC_EINVAL, "task %s in workflow %s: "
				     "lease owner longer than %d bytes", tid,
				     wf_id, ORC_OWNER_MAX);
	return ORC_OK;
}

static orc_status sq_update_task(orc_backend *b, const char *wf_id,
				 const char *tid, const orc_task_update *u,
				 orc_task_rec *out, orc_error *err)
{
	sq_backend *sb = SB(b);
	orc_status st;

	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(wf_id != NULL, err);
	ORC_CHECK_ARG(tid != NULL, err);
	ORC_CHECK_ARG(u != NULL, err);
	if ((st = check_update(u, wf_id, tid, err)) != ORC_OK)
		return st;
	pthread_mutex_lock(&sb->mu);
	st = txn_begin(sb, err);
	if (st == ORC_OK) {
		st = task_write_txn(sb, wf_id, tid, u, out, 0, err);
		if (st == ORC_OK)
			st = txn_commit(sb, err);
		else
			txn_rollback(sb);
	}
	pthread_mutex_unlock(&sb->mu);
	return st;
}

/* A completion and its fan-out in one BEGIN IMMEDIATE transaction. */
static orc_status sq_update_tasks(orc_backend *b, const char *wf_id,
				  const orc_task_write *w, size_t n,
				  orc_task_rec *outs, unsigned char *applied,
				  orc_error *err)
{
	sq_backend *sb = SB(b);
	orc_status st;
	size_t i;

	ORC_CHECK_ARG(b != NULL && wf_id != NULL, err);
	ORC_CHECK_ARG(w != NULL || n == 0, err);
	for (i = 0; i < n; i++) {
		ORC_CHECK_ARG(w[i].task_id != NULL && w[i].update != NULL,
			      err);
		st = check_update(w[i].update, wf_id, w[i].task_id, err);
		if (st != ORC_OK)
			return st;
	}
	pthread_mutex_lock(&sb->mu);
	st = txn_begin(sb, err);
	for (i = 0; st == ORC_OK && i < n; i++) {
		orc_error own;

		st = task_write_txn(sb, wf_id, w[i].task_id, w[i].update,
				    outs ? &outs[i] : NULL, w[i].brief, &own);
		if (applied)
			applied[i] = st == ORC_OK;
		if (st == ORC_ECONFLICT && w[i].optional)
			st = ORC_OK;  /* skipped, as the contract says */
		else if (st != ORC_OK && err)
			*err = own;
	}
	if (st == ORC_OK) {
		st = txn_commit(sb, err);
	} else if (i > 0) {
		txn_rollback(sb);
	}
	if (st != ORC_OK && applied)
		memset(applied, 0, n);
	pthread_mutex_unlock(&sb->mu);
	return st;
}

static orc_status sq_list_tasks(orc_backend *b, const char *wf_id,
				uint32_t states, uint32_t flags,
				orc_task_rec_cb cb, void *payload,
				orc_error *err)
{
	sq_backend *sb = SB(b);
	const int pay = (flags & ORC_LIST_PAYLOADS) != 0;
	orc_status st = ORC_OK;
	orc_task_rec rec;
	sqlite3_stmt *s;
	int64_t wk, lo = 0, first = -1;
	int rc, ready;

	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(wf_id != NULL, err);
	ORC_CHECK_ARG(cb != NULL, err);
	pthread_mutex_lock(&sb->mu);
	rc = wf_key_find(sb, wf_id, &wk);
	if (rc != SQLITE_ROW) {
		/* An id without a key has no tasks. */
		if (rc != SQLITE_DONE)
			st = sb_fail(err, sb, rc, "list tasks of workflow %s",
				     wf_id);
		pthread_mutex_unlock(&sb->mu);
		return st;
	}
	ready = states == ORC_TASK_BIT(ORC_TASK_READY);
	if (ready && (rc = ready_lo(sb, wk, &lo)) != SQLITE_OK) {
		st = sb_fail(err, sb, rc, "list tasks of workflow %s", wf_id);
		pthread_mutex_unlock(&sb->mu);
		return st;
	}
	s = stmt(sb, pay ? S_LIST_MASK_PAY : S_LIST_MASK);
	sqlite3_bind_int64(s, 1, task_key_at(wk, (uint64_t)lo));
	sqlite3_bind_int64(s, 2, states);
	sqlite3_bind_int64(s, 3, task_key_at(wk, UINT32_MAX));
	/* One statement: one snapshot, held until reset; callbacks must not
	 * call back into this backend (the mutex is held). */
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		task_read(&rec, s);
		if (pay) {
			/* Lent for the call: valid until the next step. */
			rec.output = (char *)sqlite3_column_text(s, TASK_NCOLS);
			rec.error = (char *)sqlite3_column_text(s,
								TASK_NCOLS + 1);
		}
		if (ready && first < 0)
			first = (int64_t)((uint64_t)sqlite3_column_int64(
				s, TASK_NCOLS + 2 * pay) & UINT32_MAX);
		if (cb(&rec, payload))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = sb_fail(err, sb, rc, "list tasks of workflow %s",
			     wf_id);
	done_with(s);
	/* Skipped many rows, or found none: raise the bound for the next
	 * listing (outside the statement: it needs the write lock). */
	if (st == ORC_OK && ready && lo < UINT32_MAX &&
	    (first < 0 || first - lo > SQ_READY_SLACK) &&
	    sqlite3_get_autocommit(sb->db))
		ready_raise(sb, wk);
	pthread_mutex_unlock(&sb->mu);
	return st;
}

/* ---- leases ---- */

static orc_status sq_get_lock(orc_lock_rec *out, orc_backend *b,
			      const char *name, orc_error *err)
{
	sq_backend *sb = SB(b);
	orc_status st = ORC_OK;
	sqlite3_stmt *s;
	int rc;

	ORC_CHECK_ARG(out != NULL, err);
	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(name != NULL, err);
	pthread_mutex_lock(&sb->mu);
	s = stmt(sb, S_LOCK_GET);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		col_copy(out->name, sizeof(out->name), s, 0);
		col_copy(out->owner, sizeof(out->owner), s, 1);
		out->version = sqlite3_column_int64(s, 2);
		out->expiry_ms = sqlite3_column_int64(s, 3);
	} else if (rc == SQLITE_DONE) {
		st = orc_error_set(err, ORC_ENOTFOUND, "lock %s not found",
				   name);
	} else {
		st = sb_fail(err, sb, rc, "get lock %s", name);
	}
	done_with(s);
	pthread_mutex_unlock(&sb->mu);
	return st;
}

static orc_status sq_put_lock(orc_backend *b, const orc_lock_rec *rec,
			      int64_t expected, orc_error *err)
{
	sq_backend *sb = SB(b);
	orc_status st;
	sqlite3_stmt *s;
	int64_t found = 0;
	int rc, exists = 0;

	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(rec != NULL, err);
	if (!rec->name[0] || memchr(rec->name, '\0', sizeof(rec->name)) == NULL
	    || memchr(rec->owner, '\0', sizeof(rec->owner)) == NULL)
		return orc_error_set(err, ORC_EINVAL, "lock: name must be 1 to "
				     "%d bytes and owner terminated",
				     ORC_ID_MAX);
	if (expected < 0 || rec->version != expected + 1)
		return orc_error_set(err, ORC_EINVAL, "lock %s: version %lld "
				     "must be expected version %lld + 1",
				     rec->name, (long long)rec->version,
				     (long long)expected);
	pthread_mutex_lock(&sb->mu);
	st = txn_begin(sb, err);
	if (st != ORC_OK)
		goto unlock;
	s = stmt(sb, S_LOCK_GET);
	sqlite3_bind_text(s, 1, rec->name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		exists = 1;
		found = sqlite3_column_int64(s, 2);
	}
	done_with(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		st = sb_fail(err, sb, rc, "put lock %s", rec->name);
		goto rollback;
	}
	if (!exists && expected != 0) {
		st = orc_error_set(err, ORC_ECONFLICT, "lock %s: expected "
				   "version %lld, found none", rec->name,
				   (long long)expected);
		goto rollback;
	}
	if (exists && found != expected) {
		st = orc_error_set(err, ORC_ECONFLICT, "lock %s: expected "
				   "version %lld, found %lld", rec->name,
				   (long long)expected, (long long)found);
		goto rollback;
	}
	s = stmt(sb, exists ? S_LOCK_UPDATE : S_LOCK_INSERT);
	sqlite3_bind_text(s, 1, rec->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, rec->owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, rec->version);
	sqlite3_bind_int64(s, 4, rec->expiry_ms);
	rc = exec_stmt(s);
	if (rc != SQLITE_OK) {
		st = sb_fail(err, sb, rc, "put lock %s", rec->name);
		goto rollback;
	}
	st = txn_commit(sb, err);
	goto unlock;
rollback:
	txn_rollback(sb);
unlock:
	pthread_mutex_unlock(&sb->mu);
	return st;
}

static orc_status sq_ctl(orc_backend *b, int op, void *arg, orc_error *err)
{
	ORC_UNUSED(b);
	ORC_UNUSED(arg);
	return orc_error_set(err, ORC_ENOTSUPPORTED, "sqlite backend: "
			     "unknown ctl op %d", op);
}

/* The connection, for white-box tests (tests/sqlite): not exported. */
sqlite3 *orc__sqlite_db(orc_backend *b);

sqlite3 *orc__sqlite_db(orc_backend *b)
{
	return b ? SB(b)->db : NULL;
}

/* ---- open and close ---- */

static void sq_close(sq_backend *sb)
{
	int i;

	for (i = 0; i < S_COUNT; i++)
		sqlite3_finalize(sb->st[i]);
	/* The last connection out checkpoints and removes the -wal file,
	 * so the database file alone holds every commit (a copy of it is
	 * a whole backup). */
	sqlite3_close(sb->db);
	pthread_mutex_destroy(&sb->mu);
	free(sb);
}

static void sq_free(orc_backend *b)
{
	if (b)
		sq_close(SB(b));
}

/* The first value of a pragma or query, as an integer into @p num
 * and as text into @p text (each may be NULL); no row gives 0 and "". */
static int query_one(sqlite3 *db, const char *sql, int *num, char *text,
		     size_t size)
{
	const unsigned char *t = NULL;
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		if (rc == SQLITE_ROW)
			t = sqlite3_column_text(s, 0);
		if (num)
			*num = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
		if (text)
			orc__strlcpy(text, t ? (const char *)t : "", size);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

/* ORC_EBACKEND with SQLite's code in detail, for open failures. */
static orc_status sq_error(orc_error *err, int rc, const char *fmt, ...)
	ORC_PRINTF(3, 4);

static orc_status sq_error(orc_error *err, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return ORC_EBACKEND;
	memset(err, 0, sizeof(*err));
	err->code = ORC_EBACKEND;
	err->detail = rc;
	orc__strlcpy(err->source, "sqlite", sizeof(err->source));
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return ORC_EBACKEND;
}

/* The path of a file: URI ("file:/a%20b.db?mode=ro" -> "/a b.db"). */
static const char *uri_path(char *buf, size_t size, const char *uri)
{
	const char *p = uri + 5;
	size_t n = 0;
	unsigned int c;

	while (*p && *p != '?' && *p != '#' && n + 1 < size) {
		if (p[0] == '%' && sscanf(p + 1, "%2x", &c) == 1 &&
		    isxdigit((unsigned char)p[1]) &&
		    isxdigit((unsigned char)p[2])) {
			buf[n++] = (char)c;
			p += 3;
		} else {
			buf[n++] = *p++;
		}
	}
	buf[n] = '\0';
	return buf;
}

/* A failed first read or setup of @p file: name the file and the cause
 * a user can act on, not the step that found it. */
static orc_status open_fail(orc_error *err, sq_backend *sb, int rc,
			    const char *file)
{
	const char *name = sb->db ? sqlite3_db_filename(sb->db, "main") : NULL;
	const char *cause;
	char plain[300];

	/* The file's name, not the file: URI that may have opened it. */
	if (name && *name)
		file = name;
	else if (file && strncmp(file, "file:", 5) == 0)
		file = uri_path(plain, sizeof(plain), file);
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_NOMEM:
		return sb_fail(err, sb, rc, "open %s", file);
	case SQLITE_READONLY:
		cause = "the file or its directory is read-only";
		break;
	case SQLITE_CANTOPEN:
		cause = "cannot open it or its -wal and -shm files (check the "
			"permissions of the file and of its directory)";
		break;
	case SQLITE_FULL:
		cause = "the disk is full";
		break;
	case SQLITE_NOTADB:
		cause = "not a SQLite database";
		break;
	default:
		cause = sqlite3_errmsg(sb->db);
		break;
	}
	return sq_error(err, rc, "sqlite: %s: %s (%d)", file ? file : "",
			cause, rc);
}

static orc_status set_sync(sq_backend *sb, const orc_sqlite_options *o,
			   orc_error *err)
{
	const char *sync = o && o->synchronous == ORC_SQLITE_SYNC_FULL
		? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
	int rc = sqlite3_exec(sb->db, sync, NULL, NULL, NULL);

	return rc == SQLITE_OK ? ORC_OK :
		sb_fail(err, sb, rc, "open: synchronous");
}

static orc_status migrate(sq_backend *sb, const char *path, orc_error *err)
{
	const char *name = sqlite3_db_filename(sb->db, "main");
	char msg[200];
	int found = 0;
	int rc = orc__sq_migrate(sb->db, &found, msg, sizeof(msg));

	/* The file, also when a file: URI opened it. */
	if (name && *name)
		path = name;

	if ((rc & 0xff) == SQLITE_BUSY)
		return sb_fail(err, sb, rc, "%s: upgrade schema", path);
	if (rc != SQLITE_OK && found == 0)
		return sq_error(err, rc, "sqlite: %s: cannot create the "
				"schema: %s", path, msg[0] ? msg :
				sqlite3_errstr(rc));
	if (rc != SQLITE_OK)
		return sq_error(err, rc, "sqlite: %s: cannot upgrade schema "
				"version %d to %d: %s", path, found,
				SQ_SCHEMA_VERSION, msg[0] ? msg :
				sqlite3_errstr(rc));
	if (found > SQ_SCHEMA_VERSION)
		return orc_error_set(err, ORC_EBACKEND, "sqlite: %s: schema "
				     "version %d is newer than this library's "
				     "%d", path, found, SQ_SCHEMA_VERSION);
	if (found < 0)
		return orc_error_set(err, ORC_EBACKEND, "sqlite: %s: schema "
				     "version %d is not a version of this "
				     "library's schema (0 to %d)", path, found,
				     SQ_SCHEMA_VERSION);
	return ORC_OK;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * WAL lets readers run beside the one writer and makes a commit one
 * append. The switch needs an exclusive lock, and SQLite answers BUSY
 * at once, without its busy handler, when processes open a new file
 * together; so it is retried here, within the busy timeout. A file
 * already in WAL (the mode is stored in it) needs no switch. A database
 * in memory has no WAL and keeps its own journal.
 */
static orc_status set_pragmas(sq_backend *sb, orc_error *err)
{
	const char *file = sqlite3_db_filename(sb->db, "main");
	const int64_t deadline = mono_ms() + sb->busy_ms;
	const int ro = sqlite3_db_readonly(sb->db, "main") == 1;
	char mode[16] = "";
	int rc, pages = -1;

	/* A new, empty file holds nothing to protect yet: the switch to
	 * WAL (through a rollback journal) and the schema are written
	 * without syncs, six of them, most of a first `orchestra run`.
	 * set_sync() applies the configured level once the schema is
	 * there. A power cut in those first milliseconds can at worst
	 * leave a file to delete; a crash of the process cannot harm it. */
	rc = query_one(sb->db, "PRAGMA page_count", &pages, NULL, 0);
	if (rc == SQLITE_OK && pages == 0 && !ro)
		rc = sqlite3_exec(sb->db, "PRAGMA synchronous = OFF; "
				  "PRAGMA page_size = " SQ_PAGE_SIZE_STR, NULL,
				  NULL, NULL);
	if (rc != SQLITE_OK)
		return open_fail(err, sb, rc, file);
	rc = query_one(sb->db, "PRAGMA journal_mode", NULL, mode,
		       sizeof(mode));
	/* Read-only (a file:...?mode=ro name): read the file as it is. */
	while (rc == SQLITE_OK && strcmp(mode, "wal") != 0 && !ro) {
		rc = query_one(sb->db, "PRAGMA journal_mode = WAL", NULL,
			       mode, sizeof(mode));
		if ((rc & 0xff) == SQLITE_BUSY && mono_ms() < deadline) {
			sqlite3_sleep(5);
			rc = SQLITE_OK;
			continue;
		}
		if (rc == SQLITE_OK && strcmp(mode, "wal") != 0)
			break;  /* in memory, or a VFS without WAL */
	}
	if (rc != SQLITE_OK)
		return open_fail(err, sb, rc, file);
	if (strcmp(mode, "wal") != 0 && file && *file && !ro)
		return orc_error_set(err, ORC_EBACKEND, "sqlite: open: %s: "
				     "cannot switch to WAL mode (%s)", file,
				     mode);
	/* Checkpoint after about SQ_WAL_BYTES of WAL whatever the page
	 * size: SQLite's default (1000 pages) would checkpoint four times
	 * as often with our pages as with its own 4 KiB ones, each time
	 * syncing the WAL and the database. */
	rc = query_one(sb->db, "PRAGMA page_size", &pages, NULL, 0);
	if (rc == SQLITE_OK && pages > 0) {
		char sql[64];

		snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint = %d",
			 SQ_WAL_BYTES / pages);
		rc = sqlite3_exec(sb->db, sql, NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK)
		return sb_fail(err, sb, rc, "open: wal_autocheckpoint");
	return ORC_OK;
}

/* Whether opening @p path creates it: a plain file name (not "",
 * ":memory:" or a file: URI) that does not exist yet. */
static int creates_file(const char *path)
{
	struct stat st;

	return path[0] && strcmp(path, ":memory:") != 0 &&
	       strncmp(path, "file:", 5) != 0 && lstat(path, &st) != 0;
}

/* The inode of @p path, 0 when there is none. */
static ino_t inode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* After a failed open (a full disk, a failed first write): remove the
 * file this open created, still the same file, and its journal, WAL and
 * shared-memory files, so a failure leaves nothing behind. It never
 * held a workflow: the schema was not even committed. */
static void remove_created(const char *path, ino_t ino)
{
	static const char *const side[] = { "-journal", "-wal", "-shm" };
	char p[4096];
	size_t i;

	if (ino == 0 || inode_of(path) != ino)
		return;
	for (i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
		if ((size_t)snprintf(p, sizeof(p), "%s%s", path, side[i]) <
		    sizeof(p))
			unlink(p);
	}
	unlink(path);
}

ORC_API orc_status orc_sqlite_backend_open(orc_backend **out, const char *path,
					   const orc_sqlite_options *opts,
					   orc_error *err)
{
	sq_backend *sb;
	orc_status st;
	int i, rc, created;
	ino_t ino = 0;

	ORC_CHECK_ARG(out != NULL, err);
	*out = NULL;
	ORC_CHECK_ARG(path != NULL, err);
	if (opts && (opts->version == 0 ||
		     opts->version > ORC_SQLITE_OPTIONS_VERSION))
		return orc_error_set(err, ORC_EINVAL, "sqlite backend: options "
				     "version %u not in 1..%d", opts->version,
				     ORC_SQLITE_OPTIONS_VERSION);
	if (opts && opts->synchronous != ORC_SQLITE_SYNC_NORMAL &&
	    opts->synchronous != ORC_SQLITE_SYNC_FULL)
		return orc_error_set(err, ORC_EINVAL, "sqlite backend: "
				     "synchronous %d is neither NORMAL nor "
				     "FULL", (int)opts->synchronous);
	if (opts && opts->busy_timeout_ms < 0)
		return orc_error_set(err, ORC_EINVAL, "sqlite backend: "
				     "busy_timeout_ms %d is negative",
				     opts->busy_timeout_ms);
	sb = orc__calloc(1, sizeof(*sb));
	if (!sb)
		return orc_error_set(err, ORC_ENOMEM, "sqlite backend: out of "
				     "memory");
	if (pthread_mutex_init(&sb->mu, NULL) != 0) {
		free(sb);
		return orc_error_set(err, ORC_ENOMEM, "sqlite backend: cannot "
				     "create a mutex");
	}
	sb->busy_ms = opts && opts->busy_timeout_ms ? opts->busy_timeout_ms
						    : SQ_DEFAULT_BUSY_MS;
	created = creates_file(path);
	/* NOMUTEX: the instance's own mutex serializes the connection.
	 * URI: a file: name may ask for read-only access (?mode=ro). */
	rc = sqlite3_open_v2(path, &sb->db, SQLITE_OPEN_READWRITE |
			     SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
			     SQLITE_OPEN_URI, NULL);
	if (created)
		ino = inode_of(path);
	if (rc != SQLITE_OK) {
		st = open_fail(err, sb, rc, path);
		goto fail;
	}
	/* SQLite opens a file it may not write read-only without a word;
	 * every write would then fail far from the cause. Read-only is
	 * asked for by name (file:...?mode=ro). */
	if (sqlite3_db_readonly(sb->db, "main") == 1 &&
	    strncmp(path, "file:", 5) != 0) {
		st = open_fail(err, sb, SQLITE_READONLY, path);
		goto fail;
	}
	sqlite3_extended_result_codes(sb->db, 1);
	sqlite3_busy_timeout(sb->db, sb->busy_ms);
	st = set_pragmas(sb, err);
	if (st == ORC_OK)
		st = migrate(sb, path, err);
	if (st == ORC_OK)
		st = set_sync(sb, opts, err);
	if (st != ORC_OK)
		goto fail;
	/* Before the statements that call it. DIRECTONLY: never from a
	 * trigger or view a file might carry. */
	rc = sqlite3_create_function_v2(sb->db, "orc_written", 2,
					SQLITE_UTF8 | SQLITE_DIRECTONLY, sb,
					fn_written, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		st = sb_fail(err, sb, rc, "open: register orc_written");
		goto fail;
	}
	for (i = 0; i < S_COUNT; i++) {
		rc = sqlite3_prepare_v3(sb->db, stmt_sql[i], -1,
					SQLITE_PREPARE_PERSISTENT, &sb->st[i],
					NULL);
		if (rc != SQLITE_OK) {
			st = sb_fail(err, sb, rc, "open: prepare");
			goto fail;
		}
	}
	orc_backend_init(&sb->parent, ORC_BACKEND_VERSION);
	sb->parent.name = "sqlite";
	sb->parent.caps = ORC_BACKEND_CAP_THREADSAFE | ORC_BACKEND_CAP_TXN;
	sb->parent.create_workflow = sq_create_workflow;
	sb->parent.get_workflow = sq_get_workflow;
	sb->parent.update_workflow = sq_update_workflow;
	sb->parent.get_task = sq_get_task;
	sb->parent.update_task = sq_update_task;
	sb->parent.update_tasks = sq_update_tasks;
	sb->parent.list_tasks = sq_list_tasks;
	sb->parent.get_lock = sq_get_lock;
	sb->parent.put_lock = sq_put_lock;
	sb->parent.free = sq_free;
	sb->parent.list_workflows = sq_list_workflows;
	sb->parent.list_live = sq_list_live;
	sb->parent.ctl = sq_ctl;
	*out = &sb->parent;
	return ORC_OK;
fail:
	sq_close(sb);
	/* Not when busy: another process is setting the file up. */
	if (created && st != ORC_ETHROTTLED)
		remove_created(path, ino);
	return st;
}
