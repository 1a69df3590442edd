/*
 * The AWS core apart from SigV4: credentials chain (environment, shared
 * files, container, IMDSv2), region and endpoint resolution, and the JSON
 * client's retry modes and their settings (environment over config file),
 * against a loopback server on 127.0.0.1.
 * Nothing here contacts a non-loopback address: instance metadata is
 * disabled or pointed at the loopback server in every test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "aws/client.h"
#include "aws/creds.h"
#include "loopback.h"

static char tmpdir[256];

static void clean_env(void)
{
	static const char *vars[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_CONFIG_FILE",
		"AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL",
		"AWS_ENDPOINT_URL_DYNAMODB",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_MAX_ATTEMPTS",
		"AWS_RETRY_MODE", NULL
	};
	int i;

	for (i = 0; vars[i]; i++)
		unsetenv(vars[i]);
	/* No real ~/.aws and never the real metadata service. */
	setenv("HOME", tmpdir, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static void write_file(const char *name, const char *text, char *path,
		       size_t cap)
{
	FILE *f;

	snprintf(path, cap, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/orc-aws-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_aws__env_credentials_first(void **state)
{
	orc__aws_creds_provider p;
	const orc__aws_creds *c;
	char path[512];

	(void)state;
	clean_env();
	write_file("creds", "[default]\naws_access_key_id = FILEKEY\n"
		   "aws_secret_access_key = filesecret\n", path, sizeof(path));
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	assert_int_equal(orc__aws_creds_provider_init(&p, NULL, NULL), ORC_OK);
	assert_int_equal(orc__aws_creds_get(&c, &p, 0, NULL), ORC_OK);
	assert_string_equal(c->access_key_id, "ENVKEY");
	assert_string_equal(c->secret_access_key, "envsecret");
	assert_string_equal(c->session_token, "envtoken");
	assert_string_equal(p.source, "environment");
	/* A key without its secret is not a source: the file is next. */
	unsetenv("AWS_SECRET_ACCESS_KEY");
	orc__aws_creds_provider_clear(&p);
	assert_int_equal(orc__aws_creds_get(&c, &p, 0, NULL), ORC_OK);
	assert_string_equal(c->access_key_id, "FILEKEY");
	assert_null(c->session_token);
	orc__aws_creds_provider_clear(&p);
}

static void test_aws__shared_files_with_profile(void **state)
{
	orc__aws_creds_provider p;
	const orc__aws_creds *c;
	char cpath[512], fpath[512], region[64];

	(void)state;
	clean_env();
	write_file("credentials",
		   "# comment\n[default]\naws_access_key_id=DEF\n"
		   "aws_secret_access_key=defsecret\n\n"
		   "[dev]\n  aws_access_key_id = DEVKEY  \n"
		   "; another\naws_secret_access_key = devsecret\n"
		   "aws_session_token = devtoken\n", cpath, sizeof(cpath));
	write_file("config",
		   "[default]\nregion = eu-west-1\n"
		   "[profile dev]\nregion = ap-south-1\n"
		   "[profile cfgonly]\naws_access_key_id = CFGKEY\n"
		   "aws_secret_access_key = cfgsecret\nregion = us-west-2\n",
		   fpath, sizeof(fpath));
	setenv("AWS_SHARED_CREDENTIALS_FILE", cpath, 1);
	setenv("AWS_CONFIG_FILE", fpath, 1);
	setenv("AWS_PROFILE", "dev", 1);
	assert_int_equal(orc__aws_creds_provider_init(&p, NULL, NULL), ORC_OK);
	assert_int_equal(orc__aws_creds_get(&c, &p, 0, NULL), ORC_OK);
	assert_string_equal(c->access_key_id, "DEVKEY");
	assert_string_equal(c->secret_access_key, "devsecret");
	assert_string_equal(c->session_token, "devtoken");
	orc__aws_creds_provider_clear(&p);
	assert_int_equal(orc__aws_region(region, sizeof(region), NULL, NULL,
					 NULL), ORC_OK);
	assert_string_equal(region, "ap-south-1");

	/* Keys only in the config file, under "[profile name]". */
	assert_int_equal(orc__aws_creds_provider_init(&p, "cfgonly", NULL),
			 ORC_OK);
	assert_int_equal(orc__aws_creds_get(&c, &p, 0, NULL), ORC_OK);
	assert_string_equal(c->access_key_id, "CFGKEY");
	orc__aws_creds_provider_clear(&p);
	assert_int_equal(orc__aws_region(region, sizeof(region), NULL,
					 "cfgonly", NULL), ORC_OK);
	assert_string_equal(region, "us-west-2");

	/* The default profile when AWS_PROFILE is unset. */
	unsetenv("AWS_PROFILE");
	assert_int_equal(orc__aws_creds_provider_init(&p, NULL, NULL), ORC_OK);
	assert_int_equal(orc__aws_creds_get(&c, &p, 0, NULL), ORC_OK);
	assert_string_equal(c->access_key_id, "DEF");
	orc__aws_creds_provider_clear(&p);
	assert_int_equal(orc__aws_region(region, sizeof(region), NULL, NULL,
					 NULL), ORC_OK);
	assert_string_equal(region, "eu-west-1");
}

static void test_aws__no_credentials_is_eauth(void **state)
{
	orc__aws_creds_provider p;
	const orc__aws_creds *c;
	orc_error err;

	(void)state;
	clean_env();
	assert_int_equal(orc__aws_creds_provider_init(&p, "nobody", NULL),
			 ORC_OK);
	assert_int_equal(orc__aws_creds_get(&c, &p, 0, &err), ORC_EAUTH);
	assert_null(c);
	assert_non_null(strstr(err.message, "nobody"));
	orc__aws_creds_provider_clear(&p);
}

static void test_aws__region_order(void **state)
{
	char r[64], path[512];
	orc_error err;

	(void)state;
	clean_env();
	write_file("config", "[default]\nregion = from-config\n", path,
		   sizeof(path));
	setenv("AWS_CONFIG_FILE", path, 1);
	assert_int_equal(orc__aws_region(r, sizeof(r), NULL, NULL, NULL),
			 ORC_OK);
	assert_string_equal(r, "from-config");
	setenv("AWS_DEFAULT_REGION", "from-default", 1);
	assert_int_equal(orc__aws_region(r, sizeof(r), NULL, NULL, NULL),
			 ORC_OK);
	assert_string_equal(r, "from-default");
	setenv("AWS_REGION", "from-region", 1);
	assert_int_equal(orc__aws_region(r, sizeof(r), NULL, NULL, NULL),
			 ORC_OK);
	assert_string_equal(r, "from-region");
	assert_int_equal(orc__aws_region(r, sizeof(r), "from-opt", NULL,
					 NULL), ORC_OK);
	assert_string_equal(r, "from-opt");
	clean_env();
	assert_int_equal(orc__aws_region(r, sizeof(r), NULL, NULL, &err),
			 ORC_EINVAL);
}

/* The endpoint DynamoDB would use with @p opt, in eu-west-1. */
static void expect_endpoint(const char *opt, const char *want)
{
	char e[256];

	assert_int_equal(orc__aws_endpoint(e, sizeof(e), opt,
					   "AWS_ENDPOINT_URL_DYNAMODB",
					   "dynamodb", "eu-west-1", NULL),
			 ORC_OK);
	assert_string_equal(e, want);
}

static void test_aws__endpoint_order(void **state)
{
	char e[256];

	(void)state;
	clean_env();
	expect_endpoint(NULL, "https://dynamodb.eu-west-1.amazonaws.com");
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1/", 1);
	expect_endpoint(NULL, "http://127.0.0.1:1");
	setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:2", 1);
	expect_endpoint(NULL, "http://127.0.0.1:2");
	expect_endpoint("https://x.test", "https://x.test");
	assert_int_equal(orc__aws_endpoint(e, sizeof(e), "ftp://x", NULL,
					   "dynamodb", "eu-west-1", NULL),
			 ORC_EINVAL);
}

/* ---- container credentials and IMDS on the loopback server ---- */

struct credsrv {
	int64_t expires_ms;      /* Expiration announced */
	char want_auth[128];     /* Authorization the server requires */
	int imds_puts, imds_gets_with_token;
};

static void iso(char *out, size_t cap, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

#define IMDS_CREDS "/latest/meta-data/iam/security-credentials/"

static void creds_handler(const lb_req *rq, lb_resp *rs, void *ud)
{
	struct credsrv *cs = ud;
	char auth[256], exp[64], body[512], tok[128];

	iso(exp, sizeof(exp), cs->expires_ms);
	snprintf(body, sizeof(body),
		 "{\"AccessKeyId\":\"CONTKEY\",\"SecretAccessKey\":"
		 "\"contsecret\",\"Token\":\"conttoken\",\"Expiration\":"
		 "\"%s\",\"Code\":\"Success\"}", exp);
	if (strcmp(rq->path, "/creds") == 0) {
		if (cs->want_auth[0] &&
		    (!lb_header(rq, "Authorization", auth, sizeof(auth)) ||
		     strcmp(auth, cs->want_auth) != 0)) {
			lb_body(rs, 401, "{}");
			return;
		}
		lb_body(rs, 200, body);
	} else if (strcmp(rq->method, "PUT") == 0 &&
		   strcmp(rq->path, "/latest/api/token") == 0) {
		cs->imds_puts++;
		if (!lb_header(rq, "X-aws-ec2-metadata-token-ttl-seconds", tok,
			       sizeof(tok)))
			lb_body(rs, 400, "");
		else
			lb_body(rs, 200, "IMDSTOKEN");
	} else if (strncmp(rq->path, IMDS_CREDS, strlen(IMDS_CREDS)) == 0) {
		const char *rest = rq->path + strlen(IMDS_CREDS);

		if (!lb_header(rq, "X-aws-ec2-metadata-token", tok,
			       sizeof(tok)) || strcmp(tok, "IMDSTOKEN") != 0) {
			lb_body(rs, 401, "");
			return;
		}
		cs->imds_gets_with_token++;
		if (strcmp(rest, "") == 0)
			lb_body(rs, 200, "my-role\n");
		else if (strcmp(rest, "my-role") == 0)
			lb_body(rs, 200, body);
	}
}

static void test_aws__container_full_uri_and_token(void **state)
{
	struct credsrv cs;
	lb_server *srv;
	orc__aws_creds_provider p;
	const orc__aws_creds *c;
	char url[128], path[512];
	orc_error err;
	int64_t now = orc__now_ms();

	(void)state;
	clean_env();
	memset(&cs, 0, sizeof(cs));
	cs.expires_ms = now + 3600 * 1000;
	strcpy(cs.want_auth, "Bearer filetoken");
	assert_int_equal(lb_start(&srv, creds_handler, &cs), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/creds", lb_port(srv));
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	/* The token file wins over the variable. */
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer wrong", 1);
	write_file("token", "Bearer filetoken\n", path, sizeof(path));
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1);
	assert_int_equal(orc__aws_creds_provider_init(&p, NULL, NULL), ORC_OK);
	assert_int_equal(orc__aws_creds_get(&c, &p, now, &err), ORC_OK);
	assert_string_equal(c->access_key_id, "CONTKEY");
	assert_string_equal(c->session_token, "conttoken");
	assert_true(c->expiry_ms / 1000 == cs.expires_ms / 1000);
	assert_string_equal(p.source, "container");
	/* Cached while far from expiry. */
	assert_int_equal(orc__aws_creds_get(&c, &p, now + 1000, NULL), ORC_OK);
	assert_int_equal(lb_count(srv), 1);
	/* Refreshed when within the refresh window of expiry. */
	assert_int_equal(orc__aws_creds_get(&c, &p, cs.expires_ms -
					    ORC__AWS_CREDS_REFRESH_MS + 1,
					    NULL), ORC_OK);
	assert_int_equal(lb_count(srv), 2);
	assert_int_equal((int)p.fetches, 2);
	orc__aws_creds_provider_clear(&p);

	/* The variable alone; a wrong token is refused, EAUTH. */
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	assert_int_equal(orc__aws_creds_get(&c, &p, now, &err), ORC_EAUTH);
	assert_non_null(strstr(err.message, "HTTP 401"));
	assert_null(strstr(err.message, "wrong"));
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer filetoken", 1);
	assert_int_equal(orc__aws_creds_get(&c, &p, now, &err), ORC_OK);
	orc__aws_creds_provider_clear(&p);
	lb_stop(srv);
}

static void test_aws__container_uri_must_be_trusted(void **state)
{
	orc__aws_creds_provider p;
	const orc__aws_creds *c;
	orc_error err;

	(void)state;
	clean_env();
	/* Refused before any connection: not https, not loopback. */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI",
	       "http://example.invalid/creds", 1);
	assert_int_equal(orc__aws_creds_provider_init(&p, NULL, NULL), ORC_OK);
	assert_int_equal(orc__aws_creds_get(&c, &p, 0, &err), ORC_EAUTH);
	assert_non_null(strstr(err.message, "FULL_URI"));
	orc__aws_creds_provider_clear(&p);
}

static void test_aws__container_url_from_environment(void **state)
{
	static const struct {
		const char *uri;
		orc_status want;
	} full[] = {
		{ "http://169.254.170.23/v1/credentials", ORC_OK },
		{ "https://creds.test/c", ORC_OK },
		{ "http://[::1]:8080/c", ORC_OK },
		{ "http://10.0.0.1/c", ORC_EAUTH },
		{ "http://169.254.170.2.evil.test/c", ORC_EAUTH },
		{ "http://127.evil.test/c", ORC_EAUTH },
	};
	char url[256];
	size_t i;

	(void)state;
	clean_env();
	assert_int_equal(orc__aws_container_url(url, sizeof(url), NULL),
			 ORC_OK);
	assert_string_equal(url, "");
	/* Relative: on the ECS agent's address (built, never contacted). */
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x",
	       1);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/x", 1);
	assert_int_equal(orc__aws_container_url(url, sizeof(url), NULL),
			 ORC_OK);
	assert_string_equal(url, "http://169.254.170.2/v2/credentials/x");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	assert_int_equal(orc__aws_container_url(url, sizeof(url), NULL),
			 ORC_OK);
	assert_string_equal(url, "http://127.0.0.1/x");
	for (i = 0; i < sizeof(full) / sizeof(full[0]); i++) {
		setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full[i].uri, 1);
		assert_int_equal(orc__aws_container_url(url, sizeof(url),
							NULL), full[i].want);
	}
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

static void test_aws__imds_v2_token_then_role(void **state)
{
	struct credsrv cs;
	lb_server *srv;
	orc__aws_creds_provider p;
	const orc__aws_creds *c;
	char url[128];
	orc_error err;

	(void)state;
	clean_env();
	memset(&cs, 0, sizeof(cs));
	cs.expires_ms = orc__now_ms() + 6 * 3600 * 1000;
	assert_int_equal(lb_start(&srv, creds_handler, &cs), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", lb_port(srv));
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	assert_int_equal(orc__aws_creds_provider_init(&p, NULL, NULL), ORC_OK);
	assert_int_equal(orc__aws_creds_get(&c, &p, orc__now_ms(), &err),
			 ORC_OK);
	assert_string_equal(c->access_key_id, "CONTKEY");
	assert_string_equal(p.source, "instance-metadata");
	assert_int_equal(cs.imds_puts, 1);
	assert_int_equal(cs.imds_gets_with_token, 2);
	orc__aws_creds_provider_clear(&p);
	lb_stop(srv);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

/* ---- the client's retry mode ---- */

struct apisrv {
	int fail_first;          /* answer this many requests with `fail` */
	int fail_status;
	const char *fail_body;
	int64_t date_offset_ms;  /* server clock ahead of ours */
	int64_t last_amz_date_ms;
	int n;
};

static int64_t amz_date_ms(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000;
}

static void api_handler(const lb_req *rq, lb_resp *rs, void *ud)
{
	struct apisrv *a = ud;
	char d[64], auth[512];
	time_t t = (time_t)((orc__now_ms() + a->date_offset_ms) / 1000);
	struct tm tm;

	a->n++;
	if (lb_header(rq, "X-Amz-Date", d, sizeof(d)))
		a->last_amz_date_ms = amz_date_ms(d);
	assert_true(lb_header(rq, "Authorization", auth, sizeof(auth)));
	/* (An assertion here fails the whole test program.) */
	assert_non_null(strstr(auth, "SignedHeaders=content-type;host;"
			       "x-amz-date;"));
	assert_non_null(strstr(auth, "x-amz-target, Signature="));
	gmtime_r(&t, &tm);
	strftime(d, sizeof(d), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
	strcpy(rs->headers, d);
	if (a->n <= a->fail_first) {
		lb_body(rs, a->fail_status, a->fail_body);
		return;
	}
	if (a->date_offset_ms &&
	    llabs(a->last_amz_date_ms - (orc__now_ms() + a->date_offset_ms))
	    > 60000) {
		lb_body(rs, 400, "{\"__type\":\"com.amazon.coral.service#"
			"InvalidSignatureException\",\"message\":"
			"\"Signature expired: 20260101T000000Z is now earlier "
			"than ...\"}");
		return;
	}
	lb_body(rs, 200, "{\"ok\":true}");
}

/* A client of @p service ("dynamodb" or "lambda") on server @p srv. */
static void client_of(orc__aws_client *c, lb_server *srv, int attempts,
		      const char *service)
{
	int ddb = strcmp(service, "dynamodb") == 0;
	orc__aws_client_options o;
	char url[128];

	memset(&o, 0, sizeof(o));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", lb_port(srv));
	o.service = service;
	o.endpoint_env = NULL;
	o.target_prefix = ddb ? "DynamoDB_20120810." : "";
	o.content_type = ddb ? "application/x-amz-json-1.0"
			     : "application/json";
	o.region = ddb ? "us-east-1" : "eu-west-1";
	o.endpoint = url;
	o.max_attempts = attempts;
	setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SUPERSECRETKEY", 1);
	assert_int_equal(orc__aws_client_init(c, &o, NULL), ORC_OK);
	c->base_delay_ms = 1;
	c->throttle_delay_ms = 1;
}

static void client_for(orc__aws_client *c, lb_server *srv, int attempts)
{
	client_of(c, srv, attempts, "dynamodb");
}

static void test_aws__retries_5xx_then_succeeds(void **state)
{
	struct apisrv a = { 2, 500, "{\"__type\":\"InternalServerError\"}",
			    0, 0, 0 };
	lb_server *srv;
	orc__aws_client c;
	orc__aws_reply rep = { 0 };

	(void)state;
	clean_env();
	assert_int_equal(lb_start(&srv, api_handler, &a), 0);
	client_for(&c, srv, 3);
	assert_int_equal(orc__aws_call(&rep, &c, "GetItem", "{}", 2, NULL),
			 ORC_OK);
	assert_int_equal(rep.attempts, 3);
	assert_string_equal(rep.body.data, "{\"ok\":true}");
	assert_int_equal((int)c.attempts, 3);
	/* The retries' cost was refunded on success. */
	assert_int_equal(c.retry_tokens, ORC__AWS_RETRY_QUOTA);
	orc__aws_reply_clear(&rep);
	orc__aws_client_clear(&c);
	lb_stop(srv);
}

static void test_aws__throttling_exhausts_attempts(void **state)
{
	struct apisrv a = { 100, 400, "{\"__type\":\"com.amazonaws."
			    "dynamodb.v20120810#"
			    "ProvisionedThroughputExceededException\","
			    "\"message\":\"Rate exceeded\"}", 0, 0, 0 };
	lb_server *srv;
	orc__aws_client c;
	orc__aws_reply rep = { 0 };
	orc_error err;

	(void)state;
	clean_env();
	assert_int_equal(lb_start(&srv, api_handler, &a), 0);
	client_for(&c, srv, 4);
	assert_int_equal(orc__aws_call(&rep, &c, "PutItem", "{}", 2, &err),
			 ORC_ETHROTTLED);
	assert_int_equal(a.n, 4);
	assert_int_equal(rep.attempts, 4);
	assert_string_equal(rep.type,
			    "ProvisionedThroughputExceededException");
	assert_non_null(strstr(err.message, "Rate exceeded"));
	assert_null(strstr(err.message, "SUPERSECRET"));
	assert_int_equal(err.detail, 400);
	assert_int_equal(c.retry_tokens, ORC__AWS_RETRY_QUOTA -
			 3 * ORC__AWS_RETRY_COST);
	/* An empty quota: the next failure is not retried at all. */
	c.retry_tokens = ORC__AWS_RETRY_COST - 1;
	a.n = 0;
	assert_int_equal(orc__aws_call(&rep, &c, "PutItem", "{}", 2, &err),
			 ORC_ETHROTTLED);
	assert_int_equal(a.n, 1);
	orc__aws_reply_clear(&rep);
	orc__aws_client_clear(&c);
	lb_stop(srv);
}

static void test_aws__service_errors_mapped_not_retried(void **state)
{
	static const struct {
		const char *body;
		int status;
		orc_status want;
	} cases[] = {
		{ "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
		  "ConditionalCheckFailedException\",\"message\":"
		  "\"The conditional request failed\"}", 400, ORC_ECONFLICT },
		{ "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
		  "ResourceNotFoundException\",\"message\":"
		  "\"Requested resource not found\"}", 400, ORC_ENOTFOUND },
		{ "{\"__type\":\"com.amazon.coral.validate#"
		  "ValidationException\",\"message\":\"bad key\"}", 400,
		  ORC_EINVAL },
		{ "{\"__type\":\"com.amazon.coral.validate#"
		  "ValidationException\",\"message\":\"Item size has "
		  "exceeded the maximum allowed size\"}", 400, ORC_ETOOBIG },
		{ "{\"__type\":\"com.amazon.coral.service#"
		  "UnrecognizedClientException\",\"message\":\"The security "
		  "token included in the request is invalid.\"}", 400,
		  ORC_EAUTH },
		{ "{\"__type\":\"com.amazon.coral.service#"
		  "AccessDeniedException\",\"Message\":\"no\"}", 400,
		  ORC_EAUTH },
	};
	size_t i;

	(void)state;
	clean_env();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct apisrv a = { 100, cases[i].status, cases[i].body, 0, 0,
				    0 };
		lb_server *srv;
		orc__aws_client c;
		orc__aws_reply rep = { 0 };
		orc_error err;

		assert_int_equal(lb_start(&srv, api_handler, &a), 0);
		client_for(&c, srv, 3);
		assert_int_equal(orc__aws_call(&rep, &c, "PutItem", "{}", 2,
					       &err), cases[i].want);
		assert_int_equal(a.n, 1);
		assert_null(strstr(err.message, "SUPERSECRET"));
		orc__aws_reply_clear(&rep);
		orc__aws_client_clear(&c);
		lb_stop(srv);
	}
}

static void test_aws__connection_refused_is_retried(void **state)
{
	lb_server *srv;
	orc__aws_client c;
	orc__aws_reply rep = { 0 };
	orc_error err;
	struct apisrv a = { 0, 200, "", 0, 0, 0 };

	(void)state;
	clean_env();
	/* Take a free port, then close it: nothing listens there. */
	assert_int_equal(lb_start(&srv, api_handler, &a), 0);
	client_for(&c, srv, 3);
	lb_stop(srv);
	assert_int_equal(orc__aws_call(&rep, &c, "GetItem", "{}", 2, &err),
			 ORC_EBACKEND);
	assert_int_equal(rep.attempts, 3);
	assert_non_null(strstr(err.message, "after 3 attempts"));
	orc__aws_reply_clear(&rep);
	orc__aws_client_clear(&c);
}

static void test_aws__clock_skew_corrected(void **state)
{
	struct apisrv a = { 0, 200, "", 3600 * 1000, 0, 0 };
	lb_server *srv;
	orc__aws_client c;
	orc__aws_reply rep = { 0 };

	(void)state;
	clean_env();
	assert_int_equal(lb_start(&srv, api_handler, &a), 0);
	client_for(&c, srv, 3);
	assert_int_equal(orc__aws_call(&rep, &c, "GetItem", "{}", 2, NULL),
			 ORC_OK);
	assert_int_equal(rep.attempts, 2);
	assert_true(llabs(c.skew_ms - 3600 * 1000) < 5000);
	/* The next call is signed with the corrected clock at once. */
	assert_int_equal(orc__aws_call(&rep, &c, "GetItem", "{}", 2, NULL),
			 ORC_OK);
	assert_int_equal(rep.attempts, 1);
	orc__aws_reply_clear(&rep);
	orc__aws_client_clear(&c);
	lb_stop(srv);
}

static void test_aws__one_connection_kept_alive(void **state)
{
	struct apisrv a = { 0, 200, "", 0, 0, 0 };
	lb_server *srv;
	orc__aws_client c;
	orc__aws_reply rep = { 0 };
	int i;

	(void)state;
	clean_env();
	assert_int_equal(lb_start(&srv, api_handler, &a), 0);
	client_for(&c, srv, 3);
	for (i = 0; i < 5; i++)
		assert_int_equal(orc__aws_call(&rep, &c, "GetItem", "{}", 2,
					       NULL), ORC_OK);
	assert_int_equal(lb_count(srv), 5);
	assert_int_equal(lb_connections(srv), 1);
	orc__aws_reply_clear(&rep);
	orc__aws_client_clear(&c);
	lb_stop(srv);
}

static void slow_handler(const lb_req *rq, lb_resp *rs, void *ud)
{
	struct timespec ts = { 0, 400 * 1000 * 1000 };

	(void)rq;
	(*(int *)ud)++;
	nanosleep(&ts, NULL);
	lb_body(rs, 200, "{}");
}

static void test_aws__total_timeout_is_etimeout(void **state)
{
	lb_server *srv;
	orc__aws_client c;
	orc__aws_reply rep = { 0 };
	orc_error err;
	int n = 0;

	(void)state;
	clean_env();
	assert_int_equal(lb_start(&srv, slow_handler, &n), 0);
	client_for(&c, srv, 2);
	c.http.timeout_ms = 100;
	assert_int_equal(orc__aws_call(&rep, &c, "GetItem", "{}", 2, &err),
			 ORC_ETIMEOUT);
	assert_int_equal(rep.attempts, 2);
	/* A timeout costs the quota more than another failure. */
	assert_int_equal(c.retry_tokens, ORC__AWS_RETRY_QUOTA -
			 ORC__AWS_RETRY_TIMEOUT_COST);
	orc__aws_reply_clear(&rep);
	orc__aws_client_clear(&c);
	lb_stop(srv);
}

struct restsrv {
	char path[1024], auth[1024], hdr[128], method[16];
	int n;
};

static void rest_handler(const lb_req *rq, lb_resp *rs, void *ud)
{
	struct restsrv *r = ud;

	r->n++;
	snprintf(r->path, sizeof(r->path), "%s", rq->path);
	snprintf(r->method, sizeof(r->method), "%s", rq->method);
	lb_header(rq, "Authorization", r->auth, sizeof(r->auth));
	lb_header(rq, "X-Amz-Invocation-Type", r->hdr, sizeof(r->hdr));
	lb_body(rs, 200, "{\"StatusCode\":200}");
}

static void test_aws__rest_request_path_query_headers(void **state)
{
	struct restsrv r;
	lb_server *srv;
	orc__aws_client c;
	orc__aws_reply rep = { 0 };
	orc__aws_hdr h[1] = { { "X-Amz-Invocation-Type", "Event" } };

	(void)state;
	clean_env();
	memset(&r, 0, sizeof(r));
	assert_int_equal(lb_start(&srv, rest_handler, &r), 0);
	client_of(&c, srv, 0, "lambda");
	assert_int_equal(orc__aws_request(&rep, &c, "POST",
					  "/2015-03-31/functions/"
					  "arn%3Aaws%3Alambda%3Aeu-west-1%3A1"
					  "%3Afunction%3Af/invocations",
					  "Qualifier=live", h, 1, "{}", 2,
					  "Invoke", NULL), ORC_OK);
	assert_string_equal(r.method, "POST");
	assert_string_equal(r.path, "/2015-03-31/functions/arn%3Aaws%3A"
			    "lambda%3Aeu-west-1%3A1%3Afunction%3Af/"
			    "invocations?Qualifier=live");
	assert_string_equal(r.hdr, "Event");
	assert_non_null(strstr(r.auth, "/eu-west-1/lambda/aws4_request"));
	assert_non_null(strstr(r.auth, "SignedHeaders=host;x-amz-date;"
			       "x-amz-invocation-type"));
	assert_string_equal(rep.body.data, "{\"StatusCode\":200}");
	orc__aws_reply_clear(&rep);
	orc__aws_client_clear(&c);
	lb_stop(srv);
}

static void test_aws__expired_token_refetches_credentials(void **state)
{
	struct credsrv cs;
	struct apisrv a = { 1, 400, "{\"__type\":\"com.amazon.coral.service#"
			    "ExpiredTokenException\",\"message\":\"The "
			    "security token included in the request is "
			    "expired\"}", 0, 0, 0 };
	lb_server *csrv, *asrv;
	orc__aws_client c;
	orc__aws_reply rep = { 0 };
	char url[128];

	(void)state;
	clean_env();
	memset(&cs, 0, sizeof(cs));
	cs.expires_ms = orc__now_ms() + 3600 * 1000;
	assert_int_equal(lb_start(&csrv, creds_handler, &cs), 0);
	assert_int_equal(lb_start(&asrv, api_handler, &a), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/creds",
		 lb_port(csrv));
	client_for(&c, asrv, 3);
	/* Container keys, not the environment's. */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	assert_int_equal(orc__aws_call(&rep, &c, "GetItem", "{}", 2, NULL),
			 ORC_OK);
	assert_int_equal(rep.attempts, 2);
	assert_int_equal((int)c.creds.fetches, 2);
	assert_int_equal(lb_count(csrv), 2);
	/* Long-lived keys are not fetched again: EAUTH at once. */
	a.n = 0;
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SUPERSECRETKEY", 1);
	orc__aws_creds_provider_clear(&c.creds);
	assert_int_equal(orc__aws_call(&rep, &c, "GetItem", "{}", 2, NULL),
			 ORC_EAUTH);
	assert_int_equal(a.n, 1);
	orc__aws_reply_clear(&rep);
	orc__aws_client_clear(&c);
	lb_stop(asrv);
	lb_stop(csrv);
}

static void test_aws__backoff_full_jitter_capped(void **state)
{
	(void)state;
	assert_int_equal(orc__aws_backoff_ms(50, 1, 0.0), 0);
	assert_int_equal(orc__aws_backoff_ms(50, 1, 0.5), 25);
	assert_int_equal(orc__aws_backoff_ms(50, 3, 0.5), 100);
	assert_int_equal(orc__aws_backoff_ms(50, 30, 0.5), 10000);
	assert_int_equal(orc__aws_backoff_ms(50, 30, 0.999999) <= 20000, 1);
	assert_true(orc__aws_is_throttle("ThrottlingException", 400));
	assert_true(orc__aws_is_transient("TransactionConflictException",
					  400));
	assert_true(orc__aws_is_transient("", 503));
	assert_false(orc__aws_is_transient("ValidationException", 400));
}

/* The mode and attempts @p service gets; the status of the lookup. */
static orc_status retry_cfg(orc__aws_retry_cfg *c, int opt,
			    const char *service, orc_error *err)
{
	memset(c, 0, sizeof(*c));
	return orc__aws_retry_config(c, opt, NULL, service, err);
}

static void test_aws__retry_settings_env_over_config_file(void **state)
{
	orc__aws_retry_cfg c;
	char path[512];
	orc_error err;

	(void)state;
	clean_env();
	/* Nothing set: standard, 3 attempts. */
	assert_int_equal(retry_cfg(&c, 0, "dynamodb", NULL), ORC_OK);
	assert_int_equal(c.mode, ORC__AWS_RETRY_STANDARD);
	assert_int_equal(c.max_attempts, 3);
	/* The config file's profile section (default, then AWS_PROFILE). */
	write_file("retry-config", "[default]\nretry_mode = legacy\n"
		   "max_attempts = 7\n[profile dev]\nmax_attempts = 4\n"
		   "[profile old]\nretry_mode = Legacy\n", path,
		   sizeof(path));
	setenv("AWS_CONFIG_FILE", path, 1);
	assert_int_equal(retry_cfg(&c, 0, "dynamodb", NULL), ORC_OK);
	assert_int_equal(c.mode, ORC__AWS_RETRY_LEGACY);
	assert_int_equal(c.max_attempts, 7);
	setenv("AWS_PROFILE", "dev", 1);
	assert_int_equal(retry_cfg(&c, 0, "dynamodb", NULL), ORC_OK);
	assert_int_equal(c.mode, ORC__AWS_RETRY_STANDARD);
	assert_int_equal(c.max_attempts, 4);
	/* Legacy without max_attempts: botocore's numbers. */
	setenv("AWS_PROFILE", "old", 1);
	assert_int_equal(retry_cfg(&c, 0, "dynamodb", NULL), ORC_OK);
	assert_int_equal(c.mode, ORC__AWS_RETRY_LEGACY);
	assert_int_equal(c.max_attempts, 10);
	assert_int_equal(retry_cfg(&c, 0, "lambda", NULL), ORC_OK);
	assert_int_equal(c.max_attempts, 5);
	/* The environment wins over the file, each setting on its own. */
	setenv("AWS_PROFILE", "default", 1);
	setenv("AWS_MAX_ATTEMPTS", "2", 1);
	assert_int_equal(retry_cfg(&c, 0, "dynamodb", NULL), ORC_OK);
	assert_int_equal(c.mode, ORC__AWS_RETRY_LEGACY);
	assert_int_equal(c.max_attempts, 2);
	setenv("AWS_RETRY_MODE", "adaptive", 1);
	assert_int_equal(retry_cfg(&c, 0, "dynamodb", NULL), ORC_OK);
	assert_int_equal(c.mode, ORC__AWS_RETRY_ADAPTIVE);
	assert_int_equal(c.max_attempts, 2);
	/* An explicit option wins over both. */
	assert_int_equal(retry_cfg(&c, 6, "dynamodb", NULL), ORC_OK);
	assert_int_equal(c.max_attempts, 6);
	/* Bad values are refused, naming where they came from. */
	setenv("AWS_MAX_ATTEMPTS", "0", 1);
	assert_int_equal(retry_cfg(&c, 0, "dynamodb", &err), ORC_EINVAL);
	assert_non_null(strstr(err.message, "AWS_MAX_ATTEMPTS"));
	setenv("AWS_MAX_ATTEMPTS", "3x", 1);
	assert_int_equal(retry_cfg(&c, 0, "dynamodb", &err), ORC_EINVAL);
	setenv("AWS_MAX_ATTEMPTS", "101", 1);
	assert_int_equal(retry_cfg(&c, 0, "dynamodb", &err), ORC_EINVAL);
	unsetenv("AWS_MAX_ATTEMPTS");
	setenv("AWS_RETRY_MODE", "eager", 1);
	assert_int_equal(retry_cfg(&c, 0, "dynamodb", &err), ORC_EINVAL);
	assert_non_null(strstr(err.message, "AWS_RETRY_MODE"));
	unsetenv("AWS_RETRY_MODE");
	write_file("retry-config", "[default]\nmax_attempts = many\n", path,
		   sizeof(path));
	assert_int_equal(retry_cfg(&c, 0, "dynamodb", &err), ORC_EINVAL);
	assert_non_null(strstr(err.message, path));
	clean_env();
}

/* The settings reach the client: attempts from AWS_MAX_ATTEMPTS, and
 * legacy mode's retries take nothing from the quota. */
static void test_aws__retry_settings_drive_the_client(void **state)
{
	struct apisrv a = { 3, 500, "{\"__type\":\"InternalServerError\"}",
			    0, 0, 0 };
	lb_server *srv;
	orc__aws_client c;
	orc__aws_reply rep = { 0 };
	orc_error err;

	(void)state;
	clean_env();
	assert_int_equal(lb_start(&srv, api_handler, &a), 0);
	setenv("AWS_MAX_ATTEMPTS", "2", 1);
	client_for(&c, srv, 0);
	assert_int_equal(c.max_attempts, 2);
	assert_int_equal(orc__aws_call(&rep, &c, "GetItem", "{}", 2, &err),
			 ORC_EBACKEND);
	assert_int_equal(a.n, 2);
	orc__aws_client_clear(&c);
	a.n = 0;
	setenv("AWS_MAX_ATTEMPTS", "4", 1);
	setenv("AWS_RETRY_MODE", "legacy", 1);
	client_for(&c, srv, 0);
	assert_int_equal(c.retry_mode, ORC__AWS_RETRY_LEGACY);
	assert_int_equal(orc__aws_call(&rep, &c, "GetItem", "{}", 2, NULL),
			 ORC_OK);
	assert_int_equal(rep.attempts, 4);
	assert_int_equal(c.retry_tokens, ORC__AWS_RETRY_QUOTA);
	assert_int_equal(orc__aws_legacy_backoff_ms(1), 50);
	assert_int_equal(orc__aws_legacy_backoff_ms(3), 200);
	assert_int_equal(orc__aws_legacy_backoff_ms(40), 20000);
	orc__aws_reply_clear(&rep);
	orc__aws_client_clear(&c);
	lb_stop(srv);
	clean_env();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aws__env_credentials_first),
		cmocka_unit_test(test_aws__shared_files_with_profile),
		cmocka_unit_test(test_aws__no_credentials_is_eauth),
		cmocka_unit_test(test_aws__region_order),
		cmocka_unit_test(test_aws__endpoint_order),
		cmocka_unit_test(test_aws__container_full_uri_and_token),
		cmocka_unit_test(test_aws__container_uri_must_be_trusted),
		cmocka_unit_test(test_aws__container_url_from_environment),
		cmocka_unit_test(test_aws__imds_v2_token_then_role),
		cmocka_unit_test(test_aws__retries_5xx_then_succeeds),
		cmocka_unit_test(test_aws__throttling_exhausts_attempts),
		cmocka_unit_test(test_aws__service_errors_mapped_not_retried),
		cmocka_unit_test(test_aws__connection_refused_is_retried),
		cmocka_unit_test(test_aws__clock_skew_corrected),
		cmocka_unit_test(test_aws__one_connection_kept_alive),
		cmocka_unit_test(test_aws__total_timeout_is_etimeout),
		cmocka_unit_test(test_aws__rest_request_path_query_headers),
		cmocka_unit_test(test_aws__expired_token_refetches_credentials),
		cmocka_unit_test(test_aws__backoff_full_jitter_capped),
		cmocka_unit_test(
			test_aws__retry_settings_env_over_config_file),
		cmocka_unit_test(test_aws__retry_settings_drive_the_client),
	};

	return cmocka_run_group_tests_name("aws", tests, setup, teardown);
}
