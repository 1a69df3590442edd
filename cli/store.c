/*
 * Where the state lives: a SQLite file (the default) or a DynamoDB table
 * (--backend dynamodb --table NAME). Every subcommand that reads or
 * writes workflows opens its backend here.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

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

int cli_open_store(orc_backend **out, const cli_opts *o, int must_exist)
{
	orc_dynamodb_options dopts = ORC_DYNAMODB_OPTIONS_INIT;
	const char *db = o->db ? o->db : CLI_DEFAULT_DB;
	orc_error err;
	orc_status st;

	*out = NULL;
	if (!is_dynamodb(o)) {
		if (must_exist && access(db, F_OK) != 0) {
			cli_err("no database %s (use --db)", db);
			return CLI_NOTFOUND;
		}
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
