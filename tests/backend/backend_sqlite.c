/*
 * Conformance hooks for the SQLite backend. Each store is a database file
 * in a temporary directory; a reopened handle is a second connection on
 * the same file; the last close of a store removes its files.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "conformance.h"
#include "sqlite/sqlite_files.h"
#include "orchestra/backends.h"

#define MAX_HANDLES 256

struct handle {
	orc_backend *b;
	int store;           /* index in stores[] */
};

struct store {
	char path[512];
	int refs;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char dir[256];
static struct store stores[MAX_HANDLES];
static int nstores;
static struct handle handles[MAX_HANDLES];

/* update_tasks: one BEGIN IMMEDIATE transaction. */
int conf_backend_has_groups(void)
{
	return 1;
}

/* create_workflow writes the workflow record before the tasks. */
int conf_backend_record_first(void)
{
	return 0;
}

const char *conf_backend_name(void)
{
	return "sqlite";
}

int conf_suite_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/orc-conf-sqlite-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return -1;
	}
	return 0;
}

void conf_suite_teardown(void)
{
	if (dir[0] && rmdir(dir) != 0)
		perror("rmdir (a store was not closed)");
}

/* Record handle @p b on store @p s; -1 when the table is full. */
static int track(orc_backend *b, int s)
{
	int i;

	for (i = 0; i < MAX_HANDLES; i++)
		if (!handles[i].b) {
			handles[i].b = b;
			handles[i].store = s;
			stores[s].refs++;
			return 0;
		}
	return -1;
}

static int store_of(orc_backend *b)
{
	int i;

	for (i = 0; i < MAX_HANDLES; i++)
		if (handles[i].b == b)
			return handles[i].store;
	return -1;
}

/* A new connection on store @p s; called with mu held. */
static orc_status open_on(orc_backend **out, int s, orc_error *err)
{
	orc_status st = orc_sqlite_backend_open(out, stores[s].path, NULL, err);

	if (st == ORC_OK && track(*out, s) != 0) {
		orc_backend_free(*out);
		*out = NULL;
		st = orc_error_set(err, ORC_ERROR, "too many handles");
	}
	return st;
}

orc_status conf_backend_open(orc_backend **out, orc_error *err)
{
	orc_status st;
	int s;

	*out = NULL;
	pthread_mutex_lock(&mu);
	if (nstores == MAX_HANDLES) {
		pthread_mutex_unlock(&mu);
		return orc_error_set(err, ORC_ERROR, "too many stores");
	}
	s = nstores++;
	snprintf(stores[s].path, sizeof(stores[s].path), "%s/store-%d.db", dir,
		 s);
	st = open_on(out, s, err);
	pthread_mutex_unlock(&mu);
	return st;
}

orc_status conf_backend_reopen(orc_backend **out, orc_backend *b,
			       orc_error *err)
{
	orc_status st;
	int s;

	*out = NULL;
	pthread_mutex_lock(&mu);
	s = store_of(b);
	if (s < 0) {
		pthread_mutex_unlock(&mu);
		return orc_error_set(err, ORC_EINVAL, "unknown handle");
	}
	st = open_on(out, s, err);
	pthread_mutex_unlock(&mu);
	return st;
}

void conf_backend_close(orc_backend *b)
{
	int i;

	if (!b)
		return;
	pthread_mutex_lock(&mu);
	for (i = 0; i < MAX_HANDLES; i++)
		if (handles[i].b == b)
			break;
	orc_backend_free(b);
	if (i < MAX_HANDLES) {
		struct store *s = &stores[handles[i].store];

		handles[i].b = NULL;
		if (--s->refs == 0)
			sqlite_files_remove(s->path);
	}
	pthread_mutex_unlock(&mu);
}

/*
 * Leave task records without their workflow record, as a start cut
 * short by a crash would on a backend without transactions: seed
 * through the backend, then delete the workflow row on the side.
 */
orc_status conf_backend_preseed_tasks(orc_backend *b, const char *wf_id,
				      const orc_task_seed *tasks, size_t n,
				      int64_t now_ms, orc_error *err)
{
	orc_workflow_rec wf;
	sqlite3_stmt *del = NULL;
	sqlite3 *db = NULL;
	orc_status st;
	char path[512];
	int s, rc;

	pthread_mutex_lock(&mu);
	s = store_of(b);
	if (s >= 0)
		memcpy(path, stores[s].path, sizeof(path));
	pthread_mutex_unlock(&mu);
	if (s < 0)
		return orc_error_set(err, ORC_EINVAL, "unknown handle");
	memset(&wf, 0, sizeof(wf));
	snprintf(wf.id, sizeof(wf.id), "%s", wf_id);
	wf.state = ORC_WORKFLOW_PENDING;
	wf.created_ms = wf.updated_ms = now_ms;
	st = b->create_workflow(b, &wf, tasks, n, err);
	if (st != ORC_OK)
		return st;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		rc = sqlite3_prepare_v2(db, "DELETE FROM workflows "
					"WHERE id = ?1", -1, &del, NULL);
	}
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(del, 1, wf_id, -1, SQLITE_STATIC);
		rc = sqlite3_step(del) == SQLITE_DONE ? SQLITE_OK
						      : SQLITE_ERROR;
	}
	if (rc != SQLITE_OK)
		st = orc_error_set(err, ORC_EBACKEND, "preseed: %s",
				   sqlite3_errmsg(db));
	sqlite3_finalize(del);
	sqlite3_close(db);
	return st;
}
