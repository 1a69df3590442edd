/*
 * Retry settings from the environment and the shared config file, with
 * the precedence of the AWS SDKs (see config.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "aws/config.h"
#include "aws/creds.h"

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static orc_status parse_mode(orc__aws_retry_mode *out, const char *v,
			     const char *where, orc_error *err)
{
	if (strcasecmp(v, "standard") == 0)
		*out = ORC__AWS_RETRY_STANDARD;
	else if (strcasecmp(v, "legacy") == 0)
		*out = ORC__AWS_RETRY_LEGACY;
	else if (strcasecmp(v, "adaptive") == 0)
		*out = ORC__AWS_RETRY_ADAPTIVE;
	else
		return orc_error_set(err, ORC_EINVAL, "%s: retry mode '%.40s' "
				     "is not legacy, standard or adaptive",
				     where, v);
	return ORC_OK;
}

static orc_status parse_attempts(int *out, const char *v, const char *where,
				 orc_error *err)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 1 ||
	    n > ORC__AWS_MAX_ATTEMPTS_MAX)
		return orc_error_set(err, ORC_EINVAL, "%s: max attempts "
				     "'%.40s' is not an integer from 1 to %d",
				     where, v, ORC__AWS_MAX_ATTEMPTS_MAX);
	*out = (int)n;
	return ORC_OK;
}

orc_status orc__aws_retry_config(orc__aws_retry_cfg *out,
				 int opt_max_attempts, const char *profile,
				 const char *service, orc_error *err)
{
	char path[1024], val[64], where[1100];
	const char *v;
	int have_file;
	orc_status st;

	ORC_CHECK_ARG(out != NULL, err);
	out->mode = ORC__AWS_RETRY_STANDARD;
	out->max_attempts = 0;
	if (!profile)
		profile = env("AWS_PROFILE");
	if (!profile)
		profile = "default";
	have_file = orc__aws_config_path(path, sizeof(path), 0);
	snprintf(where, sizeof(where), "%s, profile %s",
		 have_file ? path : "config file", profile);
	if ((v = env("AWS_RETRY_MODE")) != NULL) {
		if ((st = parse_mode(&out->mode, v, "AWS_RETRY_MODE", err)) !=
		    ORC_OK)
			return st;
	} else if (have_file && orc__aws_ini_get(val, sizeof(val), path,
						 profile, "retry_mode", 1)) {
		if ((st = parse_mode(&out->mode, val, where, err)) != ORC_OK)
			return st;
	}
	if (opt_max_attempts > 0) {
		out->max_attempts = opt_max_attempts;
	} else if ((v = env("AWS_MAX_ATTEMPTS")) != NULL) {
		if ((st = parse_attempts(&out->max_attempts, v,
					 "AWS_MAX_ATTEMPTS", err)) != ORC_OK)
			return st;
	} else if (have_file && orc__aws_ini_get(val, sizeof(val), path,
						 profile, "max_attempts", 1)) {
		if ((st = parse_attempts(&out->max_attempts, val, where,
					 err)) != ORC_OK)
			return st;
	} else if (out->mode == ORC__AWS_RETRY_LEGACY) {
		out->max_attempts = service && strcmp(service, "dynamodb") == 0
				    ? 10 : 5;
	} else {
		out->max_attempts = 3;
	}
	return ORC_OK;
}
