/*
 * orchestra table create NAME: a DynamoDB table for --backend dynamodb.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char table_help[] =
"usage: orchestra table create NAME\n"
"\n"
"Create DynamoDB table NAME for 'orchestra ... --backend dynamodb\n"
"--table NAME': keys pk and sk (strings), on-demand billing, a stream of\n"
"new and old images, TTL on attribute ttl where the service has it; it\n"
"returns once the table is ACTIVE. Region, endpoint and credentials come\n"
"from the environment as the AWS SDKs read them (AWS_REGION,\n"
"AWS_ENDPOINT_URL_DYNAMODB, AWS_ACCESS_KEY_ID, AWS_PROFILE, ...).\n"
"Exit status: 0 created, 2 bad usage or the table already exists,\n"
"4 service or network error.\n";

int cli_cmd_table(int argc, char **argv)
{
	orc_dynamodb_options opts = ORC_DYNAMODB_OPTIONS_INIT;
	orc_error err;
	orc_status st;
	cli_opts o;
	int rc;

	rc = cli_start(&o, "table", argc, argv, 0, table_help, 2,
		       "'create NAME'");
	if (rc >= 0)
		return rc;
	if (strcmp(o.pos[0], "create") != 0) {
		cli_err("table: unknown action '%s' (see orchestra table "
			"--help)", o.pos[0]);
		return CLI_USAGE;
	}
	opts.table = o.pos[1];
	memset(&err, 0, sizeof(err));
	st = cli_dynamodb_create_table(&opts, &err);
	if (st != ORC_OK)
		return cli_fail(o.pos[1], st, &err);
	printf("table %s created\n", o.pos[1]);
	return CLI_OK;
}
