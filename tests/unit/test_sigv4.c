/*
 * SigV4 against the AWS signing test suite (tests/data/sigv4, Apache-2.0):
 * for every case directory, the canonical request, string to sign and
 * signature, in header and in query (presigned) form, byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "internal.h"
#include "aws/buf.h"
#include "aws/sigv4.h"

static char *read_file(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		p = malloc((size_t)n + 1);
		if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		if (p) {
			p[n] = '\0';
			if (len_out)
				*len_out = (size_t)n;
		}
	}
	fclose(f);
	return p;
}

static char *case_file(const char *dir, const char *name)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return read_file(path, NULL);
}

/* A parsed request.txt. */
struct req {
	char method[16];
	char *path, *query;
	char *names[32], *values[32];
	size_t nh;
	char *body;
	size_t body_len;
};

static void req_free(struct req *r)
{
	size_t i;

	free(r->path);
	free(r->query);
	for (i = 0; i < r->nh; i++) {
		free(r->names[i]);
		free(r->values[i]);
	}
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static char *xndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	assert_non_null(p);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/*
 * "METHOD <target> HTTP/1.1", header lines (a line starting with
 * whitespace continues the previous value), a blank line, the body. The
 * target may hold spaces, so it ends at the last " HTTP/".
 */
static void parse_request(struct req *r, const char *text)
{
	const char *eol = strchr(text, '\n');
	const char *sp, *http, *line, *q;

	memset(r, 0, sizeof(*r));
	assert_non_null(eol);
	sp = strchr(text, ' ');
	assert_true(sp && sp < eol && (size_t)(sp - text) < sizeof(r->method));
	memcpy(r->method, text, (size_t)(sp - text));
	http = NULL;
	for (q = sp; q < eol; q++)
		if (strncmp(q, " HTTP/", 6) == 0)
			http = q;
	assert_non_null(http);
	q = memchr(sp + 1, '?', (size_t)(http - sp - 1));
	if (q) {
		r->path = xndup(sp + 1, (size_t)(q - sp - 1));
		r->query = xndup(q + 1, (size_t)(http - q - 1));
	} else {
		r->path = xndup(sp + 1, (size_t)(http - sp - 1));
	}
	line = eol + 1;
	while (*line && *line != '\n') {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);

		if (*line == ' ' || *line == '\t') {
			char *prev, *v;

			assert_true(r->nh > 0);
			prev = r->values[r->nh - 1];
			v = malloc(strlen(prev) + n + 2);
			assert_non_null(v);
			sprintf(v, "%s\n%.*s", prev, (int)n, line);
			free(prev);
			r->values[r->nh - 1] = v;
		} else {
			const char *colon = memchr(line, ':', n);

			assert_non_null(colon);
			assert_true(r->nh < 32);
			r->names[r->nh] = xndup(line, (size_t)(colon - line));
			r->values[r->nh] = xndup(
				colon + 1, n - (size_t)(colon - line) - 1);
			r->nh++;
		}
		if (!end) {
			line += n;
			break;
		}
		line = end + 1;
	}
	if (*line == '\n') {
		line++;
		r->body_len = strlen(line);
		r->body = xndup(line, r->body_len);
	}
}

static int64_t parse_time(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	assert_int_equal(sscanf(s, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year,
				&tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
				&tm.tm_min, &tm.tm_sec), 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000;
}

/* Check one signing mode of a case against its expected files. */
static void check_mode(const char *dir, const char *name, json_t *ctx,
		       const struct req *r, int query)
{
	json_t *cr = json_object_get(ctx, "credentials");
	orc__aws_creds creds;
	orc__sigv4_signer signer;
	orc__sigv4_out out;
	orc__aws_hdr hdrs[32];
	orc__sigv4_req sreq;
	orc_error err;
	uint32_t flags = 0;
	char *exp_cr, *exp_sts, *exp_sig, *signed_req;
	const char *pfx = query ? "query" : "header";
	char fname[64];
	size_t i;
	orc_status st;

	memset(&creds, 0, sizeof(creds));
	creds.access_key_id = (char *)json_string_value(
		json_object_get(cr, "access_key_id"));
	creds.secret_access_key = (char *)json_string_value(
		json_object_get(cr, "secret_access_key"));
	creds.session_token = (char *)json_string_value(
		json_object_get(cr, "token"));
	assert_non_null(creds.access_key_id);
	assert_non_null(creds.secret_access_key);
	if (json_is_true(json_object_get(ctx, "normalize")))
		flags |= ORC__SIGV4_NORMALIZE;
	if (json_is_true(json_object_get(ctx, "sign_body")))
		flags |= ORC__SIGV4_SIGN_BODY;
	if (json_is_true(json_object_get(ctx, "omit_session_token")))
		flags |= ORC__SIGV4_OMIT_TOKEN;
	if (query)
		flags |= ORC__SIGV4_QUERY;

	st = orc__sigv4_signer_init(&signer, json_string_value(json_object_get(
		ctx, "region")), json_string_value(json_object_get(ctx,
		"service")), &err);
	assert_int_equal(st, ORC_OK);
	for (i = 0; i < r->nh; i++) {
		hdrs[i].name = r->names[i];
		hdrs[i].value = r->values[i];
	}
	sreq.method = r->method;
	sreq.path = r->path;
	sreq.query = r->query;
	sreq.headers = hdrs;
	sreq.nheaders = r->nh;
	sreq.body = r->body;
	sreq.body_len = r->body_len;
	st = orc__sigv4_sign(&out, &signer, &creds, &sreq,
			     parse_time(json_string_value(json_object_get(
				     ctx, "timestamp"))), flags,
			     json_integer_value(json_object_get(
				     ctx, "expiration_in_seconds")), &err);
	if (st != ORC_OK)
		fail_msg("%s (%s): sign failed: %s", name, pfx, err.message);

	snprintf(fname, sizeof(fname), "%s-canonical-request.txt", pfx);
	exp_cr = case_file(dir, fname);
	snprintf(fname, sizeof(fname), "%s-string-to-sign.txt", pfx);
	exp_sts = case_file(dir, fname);
	snprintf(fname, sizeof(fname), "%s-signature.txt", pfx);
	exp_sig = case_file(dir, fname);
	snprintf(fname, sizeof(fname), "%s-signed-request.txt", pfx);
	signed_req = case_file(dir, fname);
	assert_non_null(exp_cr);
	assert_non_null(exp_sts);
	assert_non_null(exp_sig);
	assert_non_null(signed_req);
	if (strcmp(exp_cr, out.canonical_request) != 0)
		fail_msg("%s (%s): canonical request\n--- expected\n%s\n"
			 "--- got\n%s", name, pfx, exp_cr,
			 out.canonical_request);
	if (strcmp(exp_sts, out.string_to_sign) != 0)
		fail_msg("%s (%s): string to sign\n--- expected\n%s\n"
			 "--- got\n%s", name, pfx, exp_sts, out.string_to_sign);
	exp_sig[strcspn(exp_sig, "\r\n")] = '\0';
	if (strcmp(exp_sig, out.signature) != 0)
		fail_msg("%s (%s): signature %s, expected %s", name, pfx,
			 out.signature, exp_sig);
	if (query) {
		/* The signed query carries the signature (and the token). */
		char want[128];

		snprintf(want, sizeof(want), "X-Amz-Signature=%s", exp_sig);
		assert_non_null(strstr(out.query, want));
		assert_non_null(strstr(signed_req, want));
		if (creds.session_token)
			assert_non_null(strstr(out.query,
					       "X-Amz-Security-Token="));
	} else {
		/* The Authorization line of the signed request, exactly. */
		const char *a = strstr(signed_req, "Authorization:");
		size_t n;

		assert_non_null(a);
		a += strlen("Authorization:");
		n = strcspn(a, "\r\n");
		if (strlen(out.authorization) != n ||
		    strncmp(a, out.authorization, n) != 0)
			fail_msg("%s: Authorization %s, expected %.*s", name,
				 out.authorization, (int)n, a);
	}
	free(exp_cr);
	free(exp_sts);
	free(exp_sig);
	free(signed_req);
	orc__sigv4_out_clear(&out);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_sigv4__aws_suite_every_case(void **state)
{
	const char *data = getenv("ORC_TEST_DATA");
	char root[1024], dir[1400];
	char *names[256];
	size_t n = 0, i;
	DIR *d;
	struct dirent *de;

	(void)state;
	assert_non_null(data);
	snprintf(root, sizeof(root), "%s/sigv4/v4", data);
	d = opendir(root);
	if (!d)
		fail_msg("cannot open %s", root);
	while ((de = readdir(d)) != NULL) {
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", root, de->d_name);
		if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
			continue;
		assert_true(n < 256);
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n == 0)
		fail_msg("no test cases found under %s", root);
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		char *ctxt, *reqt;
		json_t *ctx;
		json_error_t jerr;
		struct req r;

		snprintf(dir, sizeof(dir), "%s/%s", root, names[i]);
		ctxt = case_file(dir, "context.json");
		reqt = case_file(dir, "request.txt");
		if (!ctxt || !reqt)
			fail_msg("%s: missing context.json or request.txt",
				 names[i]);
		ctx = json_loads(ctxt, 0, &jerr);
		if (!ctx)
			fail_msg("%s: context.json: %s", names[i], jerr.text);
		parse_request(&r, reqt);
		check_mode(dir, names[i], ctx, &r, 0);
		check_mode(dir, names[i], ctx, &r, 1);
		req_free(&r);
		json_decref(ctx);
		free(ctxt);
		free(reqt);
		free(names[i]);
	}
	print_message("# %zu SigV4 cases, header and query\n", n);
}

static void test_sigv4__signing_key_cached_per_day(void **state)
{
	orc__aws_creds c = { "AKID", "secret", NULL, 0 };
	orc__sigv4_signer s;
	orc__sigv4_out out;
	orc__sigv4_req r = { "POST", "/", NULL, NULL, 0, "{}", 2 };
	char first[65];
	int64_t t0 = 1440938160000; /* 2015-08-30T12:36:00Z */

	(void)state;
	assert_int_equal(orc__sigv4_signer_init(&s, "eu-west-1", "dynamodb",
						NULL), ORC_OK);
	assert_int_equal(orc__sigv4_sign(&out, &s, &c, &r, t0, 0, 0, NULL),
			 ORC_OK);
	memcpy(first, out.signature, 65);
	orc__sigv4_out_clear(&out);
	assert_int_equal(orc__sigv4_sign(&out, &s, &c, &r, t0 + 3600000, 0, 0,
					 NULL), ORC_OK);
	orc__sigv4_out_clear(&out);
	assert_int_equal((int)s.derivations, 1);
	/* Same time again: same signature from the cached key. */
	assert_int_equal(orc__sigv4_sign(&out, &s, &c, &r, t0, 0, 0, NULL),
			 ORC_OK);
	assert_string_equal(out.signature, first);
	orc__sigv4_out_clear(&out);
	/* Next day: a new key. */
	assert_int_equal(orc__sigv4_sign(&out, &s, &c, &r, t0 + 86400000, 0,
					 0, NULL), ORC_OK);
	orc__sigv4_out_clear(&out);
	assert_int_equal((int)s.derivations, 2);
	/* A rotated secret: a new key, though the day is the same. */
	c.secret_access_key = "other";
	assert_int_equal(orc__sigv4_sign(&out, &s, &c, &r, t0 + 86400000, 0,
					 0, NULL), ORC_OK);
	orc__sigv4_out_clear(&out);
	assert_int_equal((int)s.derivations, 3);
}

static void test_sigv4__secret_never_in_output(void **state)
{
	orc__aws_creds c = { "AKID", "VERYSECRETVALUE", "TOKEN", 0 };
	orc__sigv4_signer s;
	orc__sigv4_out out;
	orc__sigv4_req r = { "POST", "/", NULL, NULL, 0, NULL, 0 };

	(void)state;
	assert_int_equal(orc__sigv4_signer_init(&s, "us-east-1", "dynamodb",
						NULL), ORC_OK);
	assert_int_equal(orc__sigv4_sign(&out, &s, &c, &r, 0, 0, 0, NULL),
			 ORC_OK);
	assert_null(strstr(out.canonical_request, "VERYSECRET"));
	assert_null(strstr(out.string_to_sign, "VERYSECRET"));
	assert_null(strstr(out.authorization, "VERYSECRET"));
	assert_non_null(strstr(out.canonical_request,
			       "x-amz-security-token:TOKEN"));
	orc__sigv4_out_clear(&out);
}

static void test_sigv4__bad_arguments(void **state)
{
	orc__sigv4_signer s;
	orc__sigv4_out out;
	orc_error err;

	(void)state;
	assert_int_equal(orc__sigv4_signer_init(&s, "", "dynamodb", &err),
			 ORC_EINVAL);
	assert_int_equal(orc__sigv4_signer_init(&s, "us-east-1", "x", NULL),
			 ORC_OK);
	assert_int_equal(orc__sigv4_sign(&out, &s, NULL, NULL, 0, 0, 0, &err),
			 ORC_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigv4__aws_suite_every_case),
		cmocka_unit_test(test_sigv4__signing_key_cached_per_day),
		cmocka_unit_test(test_sigv4__secret_never_in_output),
		cmocka_unit_test(test_sigv4__bad_arguments),
	};

	return cmocka_run_group_tests_name("sigv4", tests, NULL, NULL);
}
