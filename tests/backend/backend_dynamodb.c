/*
 * Conformance hooks for the DynamoDB backend, against dynalite. Each
 * store is a fresh table made with orc_dynamodb_create_table(); a
 * reopened handle is a second backend on the same table.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conformance.h"
#include "dynamodb/dynalite.h"
#ifdef CONF_MOTO
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/moto.h"
#endif
#include "orchestra/backends.h"

#define MAX_HANDLES 256

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int ntables;
static struct {
	orc_backend *b;
	char table[64];
} handles[MAX_HANDLES];

/* Defined by backends/dynamodb.c for this hook. */
orc_status orc__dynamodb_put_tasks(orc_backend *b, const char *wf_id,
				   const orc_task_seed *tasks, size_t ntasks,
				   int64_t now_ms, orc_error *err);

orc_status conf_backend_preseed_tasks(orc_backend *b, const char *wf_id,
				      const orc_task_seed *tasks, size_t n,
				      int64_t now_ms, orc_error *err);

/* update_tasks: TransactWriteItems has no optional writes, and dynalite
 * has no TransactWriteItems. */
int conf_backend_has_groups(void)
{
	return 0;
}

/* create_workflow writes the workflow record before the tasks. */
int conf_backend_record_first(void)
{
	return 1;
}

const char *conf_backend_name(void)
{
#ifdef CONF_MOTO
	return "dynamodb_moto";
#else
	return "dynamodb";
#endif
}

#ifdef CONF_MOTO
/* Built as conformance_dynamodb_moto: the same suite against moto,
 * which has TransactWriteItems, so create_workflow seeds in one
 * transaction there. */
const char *conf_suite_absent(void)
{
	int rc = moto_start();

	if (rc == MOTO_ABSENT)
		return "moto is not installed";
	return rc == 0 ? NULL : "moto did not start";
}

int conf_suite_setup(void)
{
	return 0;  /* started by conf_suite_absent() */
}

void conf_suite_teardown(void)
{
	moto_stop();
}
#else
int conf_suite_setup(void)
{
	return dl_start();
}

void conf_suite_teardown(void)
{
	dl_stop();
}
#endif

static orc_status open_table(orc_backend **out, const char *table,
			     orc_error *err)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	orc_status st;
	int i;

	o.table = table;
#ifdef CONF_MOTO
	/* moto answers one request at a time (moto_server.py): the
	 * concurrent tests' threads queue behind each other. */
	o.request_timeout_ms = 120000;
#endif
	st = orc_dynamodb_backend_open(out, &o, err);
	if (st != ORC_OK)
		return st;
	pthread_mutex_lock(&mu);
	for (i = 0; i < MAX_HANDLES && handles[i].b; i++)
		;
	if (i < MAX_HANDLES) {
		handles[i].b = *out;
		snprintf(handles[i].table, sizeof(handles[i].table), "%s",
			 table);
	}
	pthread_mutex_unlock(&mu);
	if (i == MAX_HANDLES) {
		orc_backend_free(*out);
		*out = NULL;
		return orc_error_set(err, ORC_ENOMEM, "too many handles");
	}
	return ORC_OK;
}

orc_status conf_backend_open(orc_backend **out, orc_error *err)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	char table[64];
	orc_status st;
	int n;

	pthread_mutex_lock(&mu);
	n = ntables++;
	pthread_mutex_unlock(&mu);
	snprintf(table, sizeof(table), "conf-%ld-%d", (long)getpid(), n);
	o.table = table;
	st = orc_dynamodb_create_table(&o, err);
	if (st != ORC_OK)
		return st;
	return open_table(out, table, err);
}

orc_status conf_backend_reopen(orc_backend **out, orc_backend *b,
			       orc_error *err)
{
	char table[64] = "";
	int i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < MAX_HANDLES; i++)
		if (handles[i].b == b)
			snprintf(table, sizeof(table), "%s", handles[i].table);
	pthread_mutex_unlock(&mu);
	if (!table[0])
		return orc_error_set(err, ORC_EINVAL, "unknown handle");
	return open_table(out, table, err);
}

void conf_backend_close(orc_backend *b)
{
	int i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < MAX_HANDLES; i++)
		if (handles[i].b == b)
			handles[i].b = NULL;
	pthread_mutex_unlock(&mu);
	orc_backend_free(b);
}

orc_status conf_backend_preseed_tasks(orc_backend *b, const char *wf_id,
				      const orc_task_seed *tasks, size_t n,
				      int64_t now_ms, orc_error *err)
{
	return orc__dynamodb_put_tasks(b, wf_id, tasks, n, now_ms, err);
}
