/*
 * liborchestra - task states, their allowed transitions, retry policy and
 * the task record every backend stores.
 */
#ifndef ORCHESTRA_TASK_H
#define ORCHESTRA_TASK_H

#include "common.h"
#include "status.h"

ORC_BEGIN_DECLS

/**
 * State of one task in one workflow run; docs/architecture.md follows a
 * task through them.
 */
typedef enum orc_task_state {
	ORC_TASK_PENDING = 0,   /**< waiting for dependencies */
	ORC_TASK_READY = 1,     /**< every dependency succeeded; claimable */
	ORC_TASK_RUNNING = 2,   /**< claimed; a lease is held */
	ORC_TASK_SUCCEEDED = 3, /**< completed with output (terminal) */
	ORC_TASK_FAILED = 4,    /**< retries exhausted (terminal) */
	ORC_TASK_CANCELED = 5   /**< upstream failed or workflow canceled (terminal) */
} orc_task_state;

#define ORC_TASK_STATE_COUNT 6
/** Bit of a state in a state mask: ORC_TASK_BIT(ORC_TASK_READY). */
#define ORC_TASK_BIT(s) (1u << (unsigned)(s))

/**
 * @brief "PENDING", "READY", ... ; "UNKNOWN" for out-of-range values.
 * @since 0.1
 */
ORC_API const char *orc_task_state_name(orc_task_state s);

/**
 * @brief Parse a state name as printed by orc_task_state_name().
 * @return ORC_OK, ORC_EINVAL (NULL or unknown name).
 * @since 0.1
 */
ORC_API orc_status orc_task_state_parse(orc_task_state *out, const char *name,
					orc_error *err);

/** @brief 1 for SUCCEEDED, FAILED and CANCELED. @since 0.1 */
ORC_API int orc_task_state_is_terminal(orc_task_state s);

/**
 * @brief Whether the state machine allows @p from -> @p to. The table is
 * data (lib/task.c) and the engine checks every write against it:
 *
 * | from    | to                                   | why                        |
 * |---------|--------------------------------------|----------------------------|
 * | PENDING | READY, CANCELED                      | deps done; upstream failed |
 * | READY   | RUNNING, CANCELED                    | claim; cancel              |
 * | RUNNING | SUCCEEDED, FAILED, READY, CANCELED   | complete; fail; retry or expired lease; cancel |
 *
 * Terminal states have no way out. Staying in the same state (a
 * heartbeat, an idempotent fan-out) is not a transition and returns 0.
 * @since 0.1
 */
ORC_API int orc_task_transition_allowed(orc_task_state from, orc_task_state to);

/**
 * @brief Check a transition, naming both states in @p err when refused.
 * @return ORC_OK, ORC_EINVAL.
 * @since 0.1
 */
ORC_API orc_status orc_task_transition_check(orc_task_state from,
					     orc_task_state to, orc_error *err);

/** Jitter applied to retry delays. */
typedef enum orc_jitter {
	ORC_JITTER_NONE = 0,
	ORC_JITTER_FULL = 1 /**< uniform in [0, delay], as Step Functions' FULL */
} orc_jitter;

/**
 * @brief When and how often a failed task is tried again.
 * The delay before attempt n+1 (after n failures) is
 * `interval_ms * backoff_rate^(n-1)`, capped at max_delay_ms when that is
 * non-zero, then jittered.
 */
typedef struct orc_retry_policy {
	int32_t max_attempts;  /**< total attempts, first one included; >= 1 */
	orc_jitter jitter;
	int64_t interval_ms;   /**< delay before the first retry; >= 0 */
	double backoff_rate;   /**< multiplier per retry; >= 1.0 */
	int64_t max_delay_ms;  /**< 0 = no cap */
} orc_retry_policy;

/** 3 attempts, 1 s, rate 2.0, no cap, no jitter (Step Functions' defaults). */
#define ORC_RETRY_POLICY_INIT { 3, ORC_JITTER_NONE, 1000, 2.0, 0 }

/**
 * @brief Delay in ms before the next attempt after @p failures failures
 * (>= 1). @p unit_random in [0, 1) is used by ORC_JITTER_FULL only.
 * Pure function; thread-safe.
 * @since 0.1
 */
ORC_API int64_t orc_retry_delay_ms(const orc_retry_policy *policy,
				   int32_t failures, double unit_random);

/**
 * @brief Check a policy's ranges.
 * @return ORC_OK, ORC_EINVAL naming the bad field.
 * @since 0.1
 */
ORC_API orc_status orc_retry_policy_check(const orc_retry_policy *policy,
					  orc_error *err);

/**
 * @brief A task's stored state as a backend returns it.
 *
 * Strings in id and owner are inline. output and error are owned by the
 * record when non-NULL (free with orc_task_rec_clear()); backends leave
 * them NULL when the caller did not ask for payloads.
 *
 * The library hands records out by pointer (orc_snapshot_task(), list
 * callbacks), so later versions may append fields; a caller's own
 * records (backends filling one) use this header's size.
 */
typedef struct orc_task_rec {
	char id[ORC_ID_MAX + 1];
	orc_task_state state;
	int64_t version;          /**< bumped by every write; claim token */
	int32_t attempt;          /**< attempts started so far */
	uint32_t ndeps;           /**< dependencies in the definition */
	uint32_t ndone;           /**< distinct dependencies marked done */
	char owner[ORC_OWNER_MAX + 1]; /**< lease owner; "" when none */
	int64_t lease_expiry_ms;  /**< 0 when no lease */
	/** Not claimable before this time (retry backoff); 0 = now. Set
	 * by orc_workflow_fail() and, for a RUNNING task whose lease
	 * expired, by orc_workflow_reconcile(): the expired lease counts as
	 * a failed attempt, and the task waits its policy's delay
	 * (orc_retry_delay_ms()) from the reconcile that found it, not from
	 * the expiry. */
	int64_t not_before_ms;
	int64_t created_ms, updated_ms, started_ms, ended_ms;
	char *output;             /**< JSON text or NULL; owned */
	char *error;              /**< message or NULL; owned */
} orc_task_rec;

/**
 * @brief Free the record's owned strings and set them to NULL. Accepts
 * NULL. The record itself is caller storage.
 * @since 0.1
 */
ORC_API void orc_task_rec_clear(orc_task_rec *rec);

ORC_END_DECLS

#endif
