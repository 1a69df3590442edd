/*
 * The task state machine (its transitions as data), the retry policy
 * arithmetic and the task record's release.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "orchestra/task.h"

static const char *const state_names[ORC_TASK_STATE_COUNT] = {
	"PENDING", "READY", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"
};

#define T(s) ORC_TASK_BIT(ORC_TASK_##s)
/* Row = from, bits = allowed targets. Terminal states have no exits. */
static const uint32_t transitions[ORC_TASK_STATE_COUNT] = {
	[ORC_TASK_PENDING] = T(READY) | T(CANCELED),
	[ORC_TASK_READY] = T(RUNNING) | T(CANCELED),
	[ORC_TASK_RUNNING] = T(SUCCEEDED) | T(FAILED) | T(READY) | T(CANCELED),
	[ORC_TASK_SUCCEEDED] = 0,
	[ORC_TASK_FAILED] = 0,
	[ORC_TASK_CANCELED] = 0,
};
#undef T

static int state_valid(orc_task_state s)
{
	return (unsigned)s < ORC_TASK_STATE_COUNT;
}

ORC_API const char *orc_task_state_name(orc_task_state s)
{
	return state_valid(s) ? state_names[s] : "UNKNOWN";
}

ORC_API orc_status orc_task_state_parse(orc_task_state *out, const char *name,
					orc_error *err)
{
	int i;

	ORC_CHECK_ARG(out != NULL, err);
	ORC_CHECK_ARG(name != NULL, err);
	for (i = 0; i < ORC_TASK_STATE_COUNT; i++) {
		if (strcmp(name, state_names[i]) == 0) {
			*out = (orc_task_state)i;
			return ORC_OK;
		}
	}
	return orc_error_set(err, ORC_EINVAL, "unknown task state '%s'", name);
}

ORC_API int orc_task_state_is_terminal(orc_task_state s)
{
	return s == ORC_TASK_SUCCEEDED || s == ORC_TASK_FAILED ||
	       s == ORC_TASK_CANCELED;
}

ORC_API int orc_task_transition_allowed(orc_task_state from, orc_task_state to)
{
	if (!state_valid(from) || !state_valid(to))
		return 0;
	return (transitions[from] & ORC_TASK_BIT(to)) != 0;
}

ORC_API orc_status orc_task_transition_check(orc_task_state from,
					     orc_task_state to, orc_error *err)
{
	if (orc_task_transition_allowed(from, to))
		return ORC_OK;
	return orc_error_set(err, ORC_EINVAL,
			     "task state transition %s -> %s is not allowed",
			     orc_task_state_name(from), orc_task_state_name(to));
}

ORC_API int64_t orc_retry_delay_ms(const orc_retry_policy *policy,
				   int32_t failures, double unit_random)
{
	double delay;

	if (!policy || failures < 1)
		return 0;
	delay = (double)policy->interval_ms *
		pow(policy->backoff_rate, (double)(failures - 1));
	if (policy->max_delay_ms > 0 && delay > (double)policy->max_delay_ms)
		delay = (double)policy->max_delay_ms;
	/* pow() overflows to inf for long retry chains; clamp first. */
	if (!(delay < 9.0e15))
		delay = 9.0e15;
	if (policy->jitter == ORC_JITTER_FULL) {
		if (unit_random < 0.0)
			unit_random = 0.0;
		if (unit_random >= 1.0)
			unit_random = 0.999999999;
		delay *= unit_random;
	}
	return (int64_t)delay;
}

ORC_API orc_status orc_retry_policy_check(const orc_retry_policy *policy,
					  orc_error *err)
{
	ORC_CHECK_ARG(policy != NULL, err);
	if (policy->max_attempts < 1 ||
	    policy->max_attempts > ORC__MAX_ATTEMPTS)
		return orc_error_set(err, ORC_EINVAL,
				     "retry.maxAttempts must be >= 1 and <= "
				     "%d, got %d", ORC__MAX_ATTEMPTS,
				     (int)policy->max_attempts);
	if (policy->interval_ms < 0 || policy->interval_ms > ORC__MAX_MS)
		return orc_error_set(err, ORC_EINVAL,
				     "retry.intervalMs must be >= 0 and <= "
				     ORC__MAX_MS_TEXT);
	if (!(policy->backoff_rate >= 1.0 &&
	      policy->backoff_rate <= ORC__MAX_BACKOFF_RATE))
		return orc_error_set(err, ORC_EINVAL,
				     "retry.backoffRate must be a finite "
				     "number >= 1.0 and <= 100");
	if (policy->max_delay_ms < 0 || policy->max_delay_ms > ORC__MAX_MS)
		return orc_error_set(err, ORC_EINVAL,
				     "retry.maxDelayMs must be >= 0 and <= "
				     ORC__MAX_MS_TEXT);
	if (policy->jitter != ORC_JITTER_NONE &&
	    policy->jitter != ORC_JITTER_FULL)
		return orc_error_set(err, ORC_EINVAL,
				     "retry.jitter must be NONE or FULL");
	return ORC_OK;
}

ORC_API void orc_task_rec_clear(orc_task_rec *rec)
{
	if (!rec)
		return;
	orc_free(rec->output);
	orc_free(rec->error);
	rec->output = NULL;
	rec->error = NULL;
}
