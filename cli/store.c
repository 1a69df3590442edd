/*
 * Where the state lives: a SQLite file (the default) or a DynamoDB table
 * (--backend dynamodb --table NAME). Every subcommand that reads or
 * writes workflows opens its backend here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* SQLite's primary result codes, which orc_error.detail carries (fixed
 * in SQLite's API; the command itself does not link SQLite). */
#define SQ_READONLY 8
#define SQ_CANTOPEN 14

static int is_dynamodb(const cli_opts *o)
{
	return o->backend && strcmp(o->backend, "dynamodb") == 0;
}

int cli_check_store(const cli_opts *o, const char *cmd)
{
	if (o->backend && strcmp(o->backend, "sqlite") != 0 &&
	    !is_dynamodb(o)) {
		cli_err("%s: --backend is sqlite or dynamodb, not '%s'", cmd,
			o->backend);
		return CLI_USAGE;
	}
	if (is_dynamodb(o) && !o->table) {
		cli_err("%s: --backend dynamodb needs --table NAME", cmd);
		return CLI_USAGE;
	}
	if (is_dynamodb(o) && o->db) {
		cli_err("%s: --db is for the sqlite backend; DynamoDB uses "
			"--table", cmd);
		return CLI_USAGE;
	}
	if (!is_dynamodb(o) && o->table) {
		cli_err("%s: --table needs --backend dynamodb", cmd);
		return CLI_USAGE;
	}
	return CLI_OK;
}

const char *cli_store_name(char *buf, size_t len, const cli_opts *o)
{
	if (is_dynamodb(o))
		snprintf(buf, len, "DynamoDB table %s", o->table);
	else
		snprintf(buf, len, "%s", o->db ? o->db : CLI_DEFAULT_DB);
	return buf;
}

/* "file:/abs/path?mode=ro[&immutable=1]" for @p path; NULL when the
 * path cannot be resolved (errno set). Caller frees. */
static char *ro_uri(const char *path, int immutable)
{
	static const char hex[] = "0123456789ABCDEF";
	char *abs = realpath(path, NULL), *uri, *q;
	const unsigned char *p;

	if (!abs)
		return NULL;
	uri = malloc(strlen(abs) * 3 + 40);
	if (uri) {
		q = uri + sprintf(uri, "file:");
		/* Percent-encode what a URI path cannot hold as it is. */
		for (p = (const unsigned char *)abs; *p; p++) {
			if (*p == '%' || *p == '?' || *p == '#' || *p <= ' ' ||
			    *p >= 0x7f) {
				*q++ = '%';
				*q++ = hex[*p >> 4];
				*q++ = hex[*p & 15];
			} else {
				*q++ = (char)*p;
			}
		}
		strcpy(q, immutable ? "?mode=ro&immutable=1" : "?mode=ro");
	}
	free(abs);
	return uri;
}

/*
 * Open @p db read-only, for commands that only read: a file or a
 * directory we may not write works. SQLite reads a WAL file only
 * through its -shm index, which it must be able to create beside the
 * database; where it cannot (a read-only directory) and there is no
 * -wal file, whose commits it would miss, the file holds everything
 * (the last writer checkpointed it) and is read as immutable.
 */
static int open_read_only(orc_backend **out, const char *db)
{
	orc_sqlite_options so = ORC_SQLITE_OPTIONS_INIT;
	char wal[4096];
	orc_error err;
	orc_status st;
	char *uri;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		uri = ro_uri(db, pass);
		if (!uri) {
			cli_err("cannot open database %s: %s", db,
				strerror(errno));
			return CLI_RUNTIME;
		}
		memset(&err, 0, sizeof(err));
		st = orc_sqlite_backend_open(out, uri, &so, &err);
		free(uri);
		if (st == ORC_OK)
			return CLI_OK;
		if (pass == 0 && ((err.detail & 0xff) == SQ_READONLY ||
				  (err.detail & 0xff) == SQ_CANTOPEN) &&
		    (size_t)snprintf(wal, sizeof(wal), "%s-wal", db) <
		    sizeof(wal) && access(wal, F_OK) != 0)
			continue;
		break;
	}
	cli_err("cannot open database %s: %s", db,
		err.message[0] ? err.message : orc_strerror(st));
	return CLI_RUNTIME;
}

static int file_id(unsigned long long id[2], const char *path,
		   const char *suffix)
{
	char p[4096];
	struct stat st;

	if ((size_t)snprintf(p, sizeof(p), "%s%s", path, suffix) >=
	    sizeof(p) || stat(p, &st) != 0)
		return -1;
	id[0] = (unsigned long long)st.st_dev;
	id[1] = (unsigned long long)st.st_ino;
	return 0;
}

/* An open WAL-mode connection keeps the -wal file until the last
 * connection closes; a file deleted or replaced under it goes on
 * taking commits that nobody will ever read. */
void cli_store_pin(cli_pin *pin, const cli_opts *o)
{
	const char *db = o->db ? o->db : CLI_DEFAULT_DB;

	memset(pin, 0, sizeof(*pin));
	pin->on = !is_dynamodb(o) && file_id(pin->id[0], db, "") == 0 &&
		  file_id(pin->id[1], db, "-wal") == 0;
}

int cli_store_check(const cli_pin *pin, const cli_opts *o)
{
	static const char *const suffix[2] = { "", "-wal" };
	const char *db = o->db ? o->db : CLI_DEFAULT_DB;
	unsigned long long now[2];
	int i;

	for (i = 0; pin->on && i < 2; i++) {
		if (file_id(now, db, suffix[i]) == 0 &&
		    now[0] == pin->id[i][0] && now[1] == pin->id[i][1])
			continue;
		cli_err("%s%s was deleted or replaced while the workflow ran: "
			"the state written since is lost", db, suffix[i]);
		return CLI_RUNTIME;
	}
	return CLI_OK;
}

int cli_open_store(orc_backend **out, const cli_opts *o, int mode)
{
	orc_dynamodb_options dopts = ORC_DYNAMODB_OPTIONS_INIT;
	const char *db = o->db ? o->db : CLI_DEFAULT_DB;
	orc_error err;
	orc_status st;

	*out = NULL;
	if (!is_dynamodb(o)) {
		if (mode != CLI_STORE_CREATE && access(db, F_OK) != 0) {
			cli_err("no database %s (use --db)", db);
			return CLI_NOTFOUND;
		}
		if (mode == CLI_STORE_READ)
			return open_read_only(out, db);
		return cli_open_db(out, db);
	}
	/* Region, endpoint and credentials: the environment, as the AWS
	 * SDKs read it (docs/backends-dynamodb.md). */
	dopts.table = o->table;
	memset(&err, 0, sizeof(err));
	st = cli_dynamodb_open(out, &dopts, &err);
	if (st != ORC_OK) {
		cli_err("cannot open DynamoDB table %s: %s", o->table,
			err.message[0] ? err.message : orc_strerror(st));
		return st == ORC_EINVAL ? CLI_USAGE : CLI_RUNTIME;
	}
	return CLI_OK;
}
