/*
 * Credentials chain, region and endpoint resolution. Secrets are copied
 * only into orc__aws_creds and never into messages.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "internal.h"
#include "aws/creds.h"
#include "aws/http.h"

/* The container endpoints the SDKs trust over plain http. */
static const char CONTAINER_HOST[] = "http://169.254.170.2";
static const char IMDS_HOST[] = "http://169.254.169.254";

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static char *trim(char *s)
{
	char *e;

	while (*s && isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int orc__aws_config_path(char *out, size_t cap, int credentials)
{
	const char *v = env(credentials ? "AWS_SHARED_CREDENTIALS_FILE"
					: "AWS_CONFIG_FILE");
	const char *home;

	if (v)
		return orc__strlcpy(out, v, cap);
	home = env("HOME");
	if (!home)
		return 0;
	return snprintf(out, cap, "%s/.aws/%s", home,
			credentials ? "credentials" : "config") < (int)cap;
}

static int section_matches(const char *sec, const char *profile,
			   int is_config)
{
	if (!is_config)
		return strcmp(sec, profile) == 0;
	if (strcmp(profile, "default") == 0 && strcmp(sec, "default") == 0)
		return 1;
	if (strncmp(sec, "profile", 7) == 0 &&
	    isspace((unsigned char)sec[7])) {
		const char *n = sec + 8;

		while (isspace((unsigned char)*n))
			n++;
		return strcmp(n, profile) == 0;
	}
	return 0;
}

int orc__aws_ini_get(char *out, size_t cap, const char *path,
		     const char *profile, const char *key, int is_config)
{
	FILE *f;
	char line[4096];
	int in = 0, found = 0;

	if (!path || !(f = fopen(path, "r")))
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq;

		if (*s == '#' || *s == ';' || *s == '\0')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (!end)
				continue;
			*end = '\0';
			in = section_matches(trim(s + 1), profile, is_config);
			continue;
		}
		if (!in || !(eq = strchr(s, '=')))
			continue;
		*eq = '\0';
		if (strcmp(trim(s), key) == 0)
			found = orc__strlcpy(out, trim(eq + 1), cap);
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	return found;
}

orc_status orc__aws_creds_provider_init(orc__aws_creds_provider *p,
					const char *profile, orc_error *err)
{
	ORC_CHECK_ARG(p != NULL, err);
	memset(p, 0, sizeof(*p));
	if (!profile)
		profile = env("AWS_PROFILE");
	if (!profile)
		profile = "default";
	if (!orc__strlcpy(p->profile, profile, sizeof(p->profile)))
		return orc_error_set(err, ORC_EINVAL, "profile name too long");
	return ORC_OK;
}

void orc__aws_creds_provider_clear(orc__aws_creds_provider *p)
{
	if (!p)
		return;
	orc__aws_creds_clear(&p->cur);
	p->have = 0;
}

static orc_status set_creds(orc__aws_creds_provider *p, const char *akid,
			    const char *secret, const char *token,
			    int64_t expiry_ms, const char *source)
{
	orc__aws_creds c;

	c.access_key_id = (char *)akid;
	c.secret_access_key = (char *)secret;
	c.session_token = (char *)(token && *token ? token : NULL);
	c.expiry_ms = expiry_ms;
	orc__aws_creds_clear(&p->cur);
	p->have = 0;
	if (orc__aws_creds_copy(&p->cur, &c) != ORC_OK)
		return ORC_ENOMEM;
	p->have = 1;
	orc__strlcpy(p->source, source, sizeof(p->source));
	return ORC_OK;
}

/* 1 = found, 0 = not configured here, -1 = out of memory. */
static int from_env(orc__aws_creds_provider *p)
{
	const char *a = env("AWS_ACCESS_KEY_ID"), *s;

	s = env("AWS_SECRET_ACCESS_KEY");
	if (!a || !s)
		return 0;
	return set_creds(p, a, s, env("AWS_SESSION_TOKEN"), 0,
			 "environment") == ORC_OK ? 1 : -1;
}

static int from_files(orc__aws_creds_provider *p)
{
	char path[1024], a[256], s[256], t[4096];
	int is_config, ret = 0;

	for (is_config = 0; is_config < 2 && !ret; is_config++) {
		if (!orc__aws_config_path(path, sizeof(path), !is_config))
			continue;
		if (!orc__aws_ini_get(a, sizeof(a), path, p->profile,
				      "aws_access_key_id", is_config) ||
		    !orc__aws_ini_get(s, sizeof(s), path, p->profile,
				      "aws_secret_access_key", is_config))
			continue;
		if (!orc__aws_ini_get(t, sizeof(t), path, p->profile,
				      "aws_session_token", is_config))
			t[0] = '\0';
		ret = set_creds(p, a, s, t, 0, is_config ? "config-file"
					: "shared-credentials-file") == ORC_OK
			? 1 : -1;
	}
	OPENSSL_cleanse(s, sizeof(s));
	OPENSSL_cleanse(t, sizeof(t));
	return ret;
}

/* Parse the JSON both container and IMDS endpoints answer. */
static orc_status parse_creds_json(orc__aws_creds_provider *p,
				   const char *body, const char *source,
				   orc_error *err)
{
	json_t *j = json_loads(body, 0, NULL);
	const char *a, *s, *t, *e, *code;
	int64_t exp = 0;
	orc_status st;

	if (!j)
		return orc_error_set(err, ORC_EAUTH,
				     "%s credentials: answer is not JSON",
				     source);
	a = json_string_value(json_object_get(j, "AccessKeyId"));
	s = json_string_value(json_object_get(j, "SecretAccessKey"));
	t = json_string_value(json_object_get(j, "Token"));
	e = json_string_value(json_object_get(j, "Expiration"));
	code = json_string_value(json_object_get(j, "Code"));
	if (code && strcmp(code, "Success") != 0) {
		json_decref(j);
		return orc_error_set(err, ORC_EAUTH,
				     "%s credentials: Code %s", source, code);
	}
	if (!a || !s) {
		json_decref(j);
		return orc_error_set(err, ORC_EAUTH,
				     "%s credentials: AccessKeyId or "
				     "SecretAccessKey missing", source);
	}
	if (e && (exp = orc__iso8601_parse(e)) < 0) {
		json_decref(j);
		return orc_error_set(err, ORC_EAUTH,
				     "%s credentials: bad Expiration", source);
	}
	st = set_creds(p, a, s, t, exp, source);
	json_decref(j);
	return st == ORC_OK ? ORC_OK
			    : orc_error_set(err, st, "out of memory");
}

static int host_is_trusted(const char *url)
{
	const char *h = strstr(url, "://");
	size_t n;

	if (strncmp(url, "https://", 8) == 0)
		return 1;
	if (strncmp(url, "http://", 7) != 0 || !h)
		return 0;
	h += 3;
	n = strcspn(h, "/:?#");
	if (*h == '[')
		n = strcspn(h, "]") + 1;
	return (n >= 4 && strncmp(h, "127.", 4) == 0 &&
		strspn(h, "0123456789.") == n) ||
	       (n == 9 && strncmp(h, "localhost", 9) == 0) ||
	       (n == 5 && strncmp(h, "[::1]", 5) == 0) ||
	       (n == 13 && strncmp(h, "169.254.170.2", 13) == 0) ||
	       (n == 14 && strncmp(h, "169.254.170.23", 14) == 0) ||
	       (n == 14 && strncmp(h, "[fd00:ec2::23]", 14) == 0);
}

static orc_status read_token_file(char *out, size_t cap, const char *path,
				  orc_error *err)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return orc_error_set(err, ORC_EAUTH,
				     "container credentials: cannot read "
				     "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	n = fread(out, 1, cap - 1, f);
	fclose(f);
	out[n] = '\0';
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	return ORC_OK;
}

orc_status orc__aws_container_url(char *url, size_t cap, orc_error *err)
{
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");

	url[0] = '\0';
	if (rel) {
		if (snprintf(url, cap, "%s%s%s", CONTAINER_HOST,
			     *rel == '/' ? "" : "/", rel) >= (int)cap)
			return orc_error_set(err, ORC_EINVAL, "container "
					     "credentials URI too long");
	} else if (full) {
		if (!orc__strlcpy(url, full, cap))
			return orc_error_set(err, ORC_EINVAL, "container "
					     "credentials URI too long");
		if (!host_is_trusted(url))
			return orc_error_set(err, ORC_EAUTH,
					     "container credentials: "
					     "AWS_CONTAINER_CREDENTIALS_"
					     "FULL_URI must be https or a "
					     "loopback or container host");
	}
	return ORC_OK;
}

/* 1 = found, 0 = not configured, else an error status (negated). */
static int from_container(orc__aws_creds_provider *p, orc_status *st,
			  orc_error *err)
{
	const char *tokf = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tok = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char url[2048], token[4096], hdr[4200];
	const char *hdrs[2] = { NULL, NULL };
	orc__http h;
	orc__http_resp r;

	memset(&r, 0, sizeof(r));
	*st = orc__aws_container_url(url, sizeof(url), err);
	if (*st != ORC_OK)
		return -1;
	if (!url[0])
		return 0;
	token[0] = '\0';
	if (tokf) {
		*st = read_token_file(token, sizeof(token), tokf, err);
		if (*st != ORC_OK)
			return -1;
	} else if (tok) {
		orc__strlcpy(token, tok, sizeof(token));
	}
	if (strpbrk(token, "\r\n")) {
		*st = orc_error_set(err, ORC_EAUTH, "container credentials: "
				    "authorization token holds a line break");
		OPENSSL_cleanse(token, sizeof(token));
		return -1;
	}
	if (token[0]) {
		snprintf(hdr, sizeof(hdr), "Authorization: %s", token);
		hdrs[0] = hdr;
	}
	*st = orc__http_init(&h, 1000, 2000, err);
	if (*st == ORC_OK) {
		*st = orc__http_do(&h, &r, "GET", url, hdrs, NULL, 0, err);
		orc__http_clear(&h);
	}
	OPENSSL_cleanse(token, sizeof(token));
	OPENSSL_cleanse(hdr, sizeof(hdr));
	if (*st == ORC_OK && r.status != 200)
		*st = orc_error_set(err, ORC_EAUTH,
				    "container credentials: HTTP %ld from %s",
				    r.status, url);
	else if (*st != ORC_OK)
		*st = orc_error_set(err, ORC_EAUTH, "container credentials: "
				    "%s", err ? err->message : "no answer");
	if (*st == ORC_OK)
		*st = parse_creds_json(p, r.body.data, "container", err);
	if (r.body.data)
		OPENSSL_cleanse(r.body.data, r.body.len);
	orc__http_resp_clear(&r);
	return *st == ORC_OK ? 1 : -1;
}

static int from_imds(orc__aws_creds_provider *p, orc_status *st,
		     orc_error *err)
{
	const char *dis = env("AWS_EC2_METADATA_DISABLED");
	const char *base = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	char url[1024], role[256], thdr[512];
	const char *put_hdrs[] = { "X-aws-ec2-metadata-token-ttl-seconds: "
				   "21600", NULL };
	const char *get_hdrs[] = { thdr, NULL };
	orc__http h;
	orc__http_resp r;
	size_t n;

	if (dis && strcasecmp(dis, "true") == 0)
		return 0;
	if (!base)
		base = IMDS_HOST;
	n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	memset(&r, 0, sizeof(r));
	if (orc__http_init(&h, 1000, 1000, NULL) != ORC_OK) {
		*st = orc_error_set(err, ORC_ENOMEM, "out of memory");
		return -1;
	}
	/* IMDSv2: a session token first, then the role, then its keys. */
	snprintf(url, sizeof(url), "%.*s/latest/api/token", (int)n, base);
	*st = orc__http_do(&h, &r, "PUT", url, put_hdrs, NULL, 0, NULL);
	if (*st != ORC_OK || r.status != 200 || r.body.len == 0 ||
	    r.body.len > 400) {
		/* No metadata service here: not configured, not an error. */
		orc__http_clear(&h);
		orc__http_resp_clear(&r);
		*st = ORC_OK;
		return 0;
	}
	snprintf(thdr, sizeof(thdr), "X-aws-ec2-metadata-token: %s",
		 trim(r.body.data));
	snprintf(url, sizeof(url),
		 "%.*s/latest/meta-data/iam/security-credentials/", (int)n,
		 base);
	*st = orc__http_do(&h, &r, "GET", url, get_hdrs, NULL, 0, NULL);
	if (*st != ORC_OK || r.status != 200) {
		*st = orc_error_set(err, ORC_EAUTH, "instance metadata: no "
				    "IAM role (HTTP %ld)", r.status);
		goto out;
	}
	r.body.data[strcspn(r.body.data, "\r\n")] = '\0';
	if (!orc__strlcpy(role, trim(r.body.data), sizeof(role)) || !*role ||
	    strchr(role, '/')) {
		*st = orc_error_set(err, ORC_EAUTH, "instance metadata: bad "
				    "role name");
		goto out;
	}
	snprintf(url, sizeof(url),
		 "%.*s/latest/meta-data/iam/security-credentials/%s", (int)n,
		 base, role);
	*st = orc__http_do(&h, &r, "GET", url, get_hdrs, NULL, 0, NULL);
	if (*st != ORC_OK || r.status != 200) {
		*st = orc_error_set(err, ORC_EAUTH, "instance metadata: HTTP "
				    "%ld for role %s", r.status, role);
		goto out;
	}
	*st = parse_creds_json(p, r.body.data, "instance-metadata", err);
out:
	OPENSSL_cleanse(thdr, sizeof(thdr));
	if (r.body.data)
		OPENSSL_cleanse(r.body.data, r.body.len);
	orc__http_resp_clear(&r);
	orc__http_clear(&h);
	return *st == ORC_OK ? 1 : -1;
}

orc_status orc__aws_creds_get(const orc__aws_creds **out,
			      orc__aws_creds_provider *p, int64_t now_ms,
			      orc_error *err)
{
	orc_status st = ORC_OK;
	int r;

	ORC_CHECK_ARG(out != NULL && p != NULL, err);
	*out = NULL;
	if (p->have &&
	    (p->cur.expiry_ms == 0 ||
	     now_ms < p->cur.expiry_ms - ORC__AWS_CREDS_REFRESH_MS)) {
		*out = &p->cur;
		return ORC_OK;
	}
	p->fetches++;
	r = from_env(p);
	if (r == 0)
		r = from_files(p);
	if (r < 0)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	if (r == 0)
		r = from_container(p, &st, err);
	if (r == 0)
		r = from_imds(p, &st, err);
	if (r < 0)
		return st;
	if (r == 0)
		return orc_error_set(err, ORC_EAUTH,
				     "no AWS credentials found (environment, "
				     "shared files for profile \"%s\", "
				     "container, instance metadata)",
				     p->profile);
	*out = &p->cur;
	return ORC_OK;
}

orc_status orc__aws_region(char *out, size_t cap, const char *opt,
			   const char *profile, orc_error *err)
{
	const char *v = opt && *opt ? opt : env("AWS_REGION");
	char path[1024];

	if (!v)
		v = env("AWS_DEFAULT_REGION");
	if (v) {
		if (!orc__strlcpy(out, v, cap))
			return orc_error_set(err, ORC_EINVAL,
					     "region name too long");
		return ORC_OK;
	}
	if (!profile)
		profile = env("AWS_PROFILE");
	if (!profile)
		profile = "default";
	if (orc__aws_config_path(path, sizeof(path), 0) &&
	    orc__aws_ini_get(out, cap, path, profile, "region", 1) && *out)
		return ORC_OK;
	return orc_error_set(err, ORC_EINVAL,
			     "no AWS region: set the region option, "
			     "AWS_REGION, AWS_DEFAULT_REGION or region in "
			     "the config file");
}

orc_status orc__aws_endpoint(char *out, size_t cap, const char *opt,
			     const char *service_env, const char *service,
			     const char *region, orc_error *err)
{
	const char *v = opt && *opt ? opt : NULL;
	size_t n;

	if (!v && service_env)
		v = env(service_env);
	if (!v)
		v = env("AWS_ENDPOINT_URL");
	if (v) {
		if (strncmp(v, "http://", 7) != 0 &&
		    strncmp(v, "https://", 8) != 0)
			return orc_error_set(err, ORC_EINVAL,
					     "endpoint %s: not an http or "
					     "https URL", v);
		if (!orc__strlcpy(out, v, cap))
			return orc_error_set(err, ORC_EINVAL,
					     "endpoint URL too long");
	} else if (snprintf(out, cap, "https://%s.%s.amazonaws.com", service,
			    region) >= (int)cap) {
		return orc_error_set(err, ORC_EINVAL, "endpoint URL too long");
	}
	n = strlen(out);
	while (n > 8 && out[n - 1] == '/')
		out[--n] = '\0';
	return ORC_OK;
}
