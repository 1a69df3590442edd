/*
 * The credentials provider chain, region and endpoint resolution, as the
 * AWS SDKs do them (internal).
 *
 * Chain: environment; shared credentials file then config file for the
 * profile; container credentials (ECS/EKS); EC2 instance metadata (IMDSv2).
 * Credentials that expire are fetched again before they do.
 */
#ifndef ORC_AWS_CREDS_H
#define ORC_AWS_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include "orchestra/status.h"
#include "aws/sigv4.h"

/* Refresh this long before the expiry the source announced. */
#define ORC__AWS_CREDS_REFRESH_MS (5 * 60 * 1000)

typedef struct orc__aws_creds_provider {
	orc__aws_creds cur;
	int have;
	char profile[128];
	char source[32];          /* where cur came from, for messages */
	uint64_t fetches;         /* times the chain was walked (tests) */
} orc__aws_creds_provider;

/* @p profile NULL = AWS_PROFILE, then "default". */
orc_status orc__aws_creds_provider_init(orc__aws_creds_provider *p,
					const char *profile, orc_error *err);
void orc__aws_creds_provider_clear(orc__aws_creds_provider *p);

/*
 * Current credentials (borrowed until the next call), walking the chain
 * when there are none or they expire within ORC__AWS_CREDS_REFRESH_MS.
 * ORC_EAUTH when no source has any.
 */
orc_status orc__aws_creds_get(const orc__aws_creds **out,
			      orc__aws_creds_provider *p, int64_t now_ms,
			      orc_error *err);

/*
 * Look up @p key in @p profile of an INI-style AWS file. @p is_config:
 * sections are "[profile name]" (and "[default]"), else "[name]".
 * Returns 1 and fills @p out when found.
 */
int orc__aws_ini_get(char *out, size_t cap, const char *path,
		     const char *profile, const char *key, int is_config);

/* Paths of the shared files (env overrides, else ~/.aws/...). */
int orc__aws_config_path(char *out, size_t cap, int credentials);

/*
 * The container credentials URL from the environment ("" when neither
 * variable is set); ORC_EAUTH for a FULL_URI that is not trusted.
 */
orc_status orc__aws_container_url(char *url, size_t cap, orc_error *err);

/* Region: @p opt, AWS_REGION, AWS_DEFAULT_REGION, config file. */
orc_status orc__aws_region(char *out, size_t cap, const char *opt,
			   const char *profile, orc_error *err);

/*
 * Endpoint: @p opt, the service variable (AWS_ENDPOINT_URL_DYNAMODB),
 * AWS_ENDPOINT_URL, else https://<service>.<region>.amazonaws.com.
 */
orc_status orc__aws_endpoint(char *out, size_t cap, const char *opt,
			     const char *service_env, const char *service,
			     const char *region, orc_error *err);

#endif
