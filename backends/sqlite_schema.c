/*
 * The SQLite backend's schema, versioned with PRAGMA user_version: entry
 * i of migrations[] brings a file from version i to i + 1, so a file of
 * any older version is upgraded in place on its next open.
 */
#include <stdio.h>

#include "sqlite_schema.h"

static const char *const migrations[SQ_SCHEMA_VERSION] = {
	/* 0 -> 1 */
	"CREATE TABLE workflows ("
	" id TEXT PRIMARY KEY NOT NULL,"
	" state INTEGER NOT NULL,"
	" version INTEGER NOT NULL,"
	" ntasks INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL,"
	" definition TEXT,"
	" input TEXT,"
	" error TEXT"
	");"
	"CREATE TABLE tasks ("
	" wf_id TEXT NOT NULL,"
	" id TEXT NOT NULL,"
	" state INTEGER NOT NULL,"
	" version INTEGER NOT NULL,"
	" attempt INTEGER NOT NULL,"
	" ndeps INTEGER NOT NULL,"
	" ndone INTEGER NOT NULL,"
	" owner TEXT NOT NULL,"
	" lease_expiry_ms INTEGER NOT NULL,"
	" not_before_ms INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL,"
	" started_ms INTEGER NOT NULL,"
	" ended_ms INTEGER NOT NULL,"
	" done BLOB,"
	" output TEXT,"
	" error TEXT,"
	" target TEXT,"
	" PRIMARY KEY (wf_id, id)"
	") WITHOUT ROWID;"
	"CREATE INDEX tasks_ready ON tasks (wf_id, id) WHERE state = 1;"
	"CREATE TABLE locks ("
	" name TEXT PRIMARY KEY NOT NULL,"
	" owner TEXT NOT NULL,"
	" version INTEGER NOT NULL,"
	" expiry_ms INTEGER NOT NULL"
	") WITHOUT ROWID;",

	/* 1 -> 2. A task row's key is an integer, (workflow key << 32) |
	 * position, the position being the task's place in the seeds: the
	 * b-tree compares integers instead of two strings, the tasks of a
	 * workflow lie in definition order (a worker going through them
	 * touches few pages), and the rows are smaller. A workflow id gets
	 * its key once, in wf_keys, and keeps it: keys are never deleted or
	 * reused, so a connection may remember them. Rows of version 1 get
	 * positions in id order and keep their BLOB done sets.
	 *
	 * READY tasks are found by a scan of the workflow's keys from
	 * ready_lo, a position no READY task is below: every write that
	 * makes a task READY lowers it in the same transaction, and a
	 * listing that had to skip many rows raises it under the write lock.
	 * An index of READY rows would cost two more pages in every commit
	 * that claims or promotes a task. */
	"CREATE TABLE wf_keys ("
	" key INTEGER PRIMARY KEY,"
	" id TEXT NOT NULL UNIQUE,"
	" ready_lo INTEGER NOT NULL DEFAULT 0"
	");"
	"INSERT INTO wf_keys (id) SELECT id FROM workflows"
	" UNION SELECT wf_id FROM tasks ORDER BY 1;"
	"DROP INDEX tasks_ready;"
	"ALTER TABLE tasks RENAME TO tasks_v1;"
	"CREATE TABLE tasks ("
	" key INTEGER PRIMARY KEY,"
	" wf INTEGER NOT NULL,"
	" id TEXT NOT NULL,"
	" state INTEGER NOT NULL,"
	" version INTEGER NOT NULL,"
	" attempt INTEGER NOT NULL,"
	" ndeps INTEGER NOT NULL,"
	" ndone INTEGER NOT NULL,"
	" owner TEXT NOT NULL,"
	" lease_expiry_ms INTEGER NOT NULL,"
	" not_before_ms INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL,"
	" started_ms INTEGER NOT NULL,"
	" ended_ms INTEGER NOT NULL,"
	/* INTEGER bitmask up to SQ_DONE_BITS dependencies, else BLOB. */
	" done,"
	" output TEXT,"
	" error TEXT,"
	" target TEXT"
	");"
	"INSERT INTO tasks SELECT (k.key << 32) | (row_number() OVER"
	" (PARTITION BY t.wf_id ORDER BY t.id) - 1), k.key, t.id, t.state,"
	" t.version, t.attempt, t.ndeps, t.ndone, t.owner,"
	" t.lease_expiry_ms, t.not_before_ms, t.created_ms, t.updated_ms,"
	" t.started_ms, t.ended_ms, t.done, t.output, t.error, t.target"
	" FROM tasks_v1 t JOIN wf_keys k ON k.id = t.wf_id;"
	"DROP TABLE tasks_v1;"
	"CREATE UNIQUE INDEX tasks_id ON tasks (wf, id);",

	/* 2 -> 3. Live workflows (PENDING 0, RUNNING 1) in a partial index,
	 * so listing them (reconcile of a whole file) reads the live ones
	 * only. SQLite keeps it in the transaction that writes the state,
	 * and only a write that starts or ends a workflow touches it. */
	"CREATE INDEX workflows_live ON workflows (id) WHERE state < 2;",
};

static int user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* A version this library has no migration from: negative (a file
 * edited by hand) or newer. */
static int unknown(int v)
{
	return v < 0 || v > SQ_SCHEMA_VERSION;
}

int orc__sq_migrate(sqlite3 *db, int *found, char *msg, size_t len)
{
	char pragma[40];
	int rc, v = 0;

	msg[0] = '\0';
	/* The usual case, a current file, is only read: opening writes
	 * nothing (no transaction, no new WAL and its header sync). */
	rc = user_version(db, &v);
	*found = v;
	if (rc != SQLITE_OK || v == SQ_SCHEMA_VERSION || unknown(v))
		return rc;
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(msg, len, "%s", sqlite3_errmsg(db));
		return rc;
	}
	rc = user_version(db, &v);
	*found = v;
	for (; rc == SQLITE_OK && v >= 0 && v < SQ_SCHEMA_VERSION; v++)
		rc = sqlite3_exec(db, migrations[v], NULL, NULL, NULL);
	/* A stamp that does not match the tables (version 1 on a file of
	 * version 2) fails here: keep SQLite's reason before the rollback
	 * replaces it. */
	if (rc != SQLITE_OK)
		snprintf(msg, len, "%s", sqlite3_errmsg(db));
	if (rc == SQLITE_OK && v == SQ_SCHEMA_VERSION) {
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
			 SQ_SCHEMA_VERSION);
		rc = sqlite3_exec(db, pragma, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	/* Newer than ours: nothing written, the caller refuses it. */
	if (rc != SQLITE_OK || unknown(v))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}
