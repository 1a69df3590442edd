/*
 * Point this process's AWS environment (inherited by the processes it
 * starts) at a local DynamoDB on @p url, with fake credentials, so that
 * no profile, session token or instance metadata of the machine leaks in.
 */
#ifndef ORC_TEST_LOCAL_AWS_H
#define ORC_TEST_LOCAL_AWS_H

#include <stdlib.h>

static inline void local_aws_env(const char *url, const char *key_id,
				 const char *secret)
{
	setenv("AWS_ENDPOINT_URL_DYNAMODB", url, 1);
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SESSION_TOKEN");
	setenv("AWS_ACCESS_KEY_ID", key_id, 1);
	setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

#endif
