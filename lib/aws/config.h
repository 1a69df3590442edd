/*
 * The retry settings of the AWS SDKs' shared configuration (internal):
 * AWS_MAX_ATTEMPTS / AWS_RETRY_MODE in the environment, max_attempts /
 * retry_mode in the profile's section of the config file.
 */
#ifndef ORC_AWS_CONFIG_H
#define ORC_AWS_CONFIG_H

#include "orchestra/status.h"

typedef enum orc__aws_retry_mode {
	ORC__AWS_RETRY_STANDARD = 0,
	ORC__AWS_RETRY_LEGACY = 1,
	/* Accepted; retries as standard (no client-side rate limiter). */
	ORC__AWS_RETRY_ADAPTIVE = 2
} orc__aws_retry_mode;

/* The largest max_attempts accepted from any source. */
#define ORC__AWS_MAX_ATTEMPTS_MAX 100

typedef struct orc__aws_retry_cfg {
	orc__aws_retry_mode mode;
	int max_attempts;
} orc__aws_retry_cfg;

/*
 * Resolve the retry settings for @p service ("dynamodb", "lambda"), as
 * the SDKs do, each setting on its own:
 *  - mode: AWS_RETRY_MODE, else retry_mode in the config file's profile
 *    (@p profile, else AWS_PROFILE, else "default"), else standard;
 *  - attempts: @p opt_max_attempts when > 0, else AWS_MAX_ATTEMPTS, else
 *    max_attempts in the config file, else the mode's default: 3 for
 *    standard and adaptive; for legacy 10 for DynamoDB and 5 for other
 *    services (botocore's legacy numbers).
 * ORC_EINVAL naming the source for a value that is not a mode or not an
 * integer from 1 to ORC__AWS_MAX_ATTEMPTS_MAX.
 */
orc_status orc__aws_retry_config(orc__aws_retry_cfg *out,
				 int opt_max_attempts, const char *profile,
				 const char *service, orc_error *err);

#endif
