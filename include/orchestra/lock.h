/*
 * liborchestra - the version-lock API: compare-and-set on versions,
 * leases with fencing tokens, and a general-purpose lease lock that works
 * on every backend.
 */
#ifndef ORCHESTRA_LOCK_H
#define ORCHESTRA_LOCK_H

#include "common.h"
#include "status.h"
#include "types.h"

ORC_BEGIN_DECLS

/**
 * @brief Compare-and-set rule: a write carrying @p expected may replace a
 * record at @p found only when they are equal. Every conditional write in
 * the engine and the backends follows it.
 * @param what names the record in the message ("task B1").
 * @return ORC_OK, ORC_ECONFLICT ("task B1: expected version 3, found 4").
 * @since 0.1
 */
ORC_API orc_status orc_lock_cas_check(int64_t expected, int64_t found,
				      const char *what, orc_error *err);

/**
 * @brief Whether a lease held by @p owner until @p expiry_ms is live at
 * @p now_ms: an owner is set and the expiry is in the future.
 * @since 0.1
 */
ORC_API int orc_lease_is_live(const char *owner, int64_t expiry_ms,
			      int64_t now_ms);

/** A lease held on a named lock. Fixed arrays: no allocation. */
typedef struct orc_lease {
	char name[ORC_ID_MAX + 1];
	char owner[ORC_OWNER_MAX + 1];
	int64_t token;       /**< fencing token: the version written */
	int64_t expiry_ms;
} orc_lease;

/**
 * @brief Take lock @p name for @p owner for @p ttl_ms. Succeeds when the
 * lock is free, released, expired, or already held by @p owner (then it
 * is renewed). Stored through the context's backend, so it works across
 * threads, processes or machines sharing that backend.
 * @param[out] out the lease, with its fencing token.
 * @return ORC_OK, ORC_ELOCKED (live lease held by another owner, named in
 * the message), ORC_ECONFLICT (lost a race; try again), ORC_EINVAL,
 * ORC_EBACKEND.
 * @since 0.1
 */
ORC_API orc_status orc_lock_acquire(orc_lease *out, orc_context *ctx,
				    const char *name, const char *owner,
				    int64_t ttl_ms, orc_error *err);

/**
 * @brief Extend a lease, conditional on its token.
 * @param[in,out] lease a lease from orc_lock_acquire(); on ORC_OK its
 * token and expiry are updated.
 * @return ORC_OK, ORC_ECONFLICT (the lease expired, or was lost: another
 * owner took it after expiry), ORC_EINVAL, ORC_EBACKEND.
 * @since 0.1
 */
ORC_API orc_status orc_lock_renew(orc_lease *lease, orc_context *ctx,
				  int64_t ttl_ms, orc_error *err);

/**
 * @brief Release a lease, conditional on its token. Every lock call
 * takes the lease first and the context second (out-params first, then
 * the object): the lease is updated by each of them.
 * @param[in,out] lease a lease from orc_lock_acquire(); on ORC_OK it is
 * marked released: its token is the version of the release write and
 * its expiry_ms is 0. Releasing it again returns ORC_OK and writes
 * nothing; renewing it gives ORC_ECONFLICT (acquire again).
 * @return ORC_OK, ORC_ECONFLICT (already lost), ORC_EINVAL, ORC_EBACKEND.
 * @since 0.1
 */
ORC_API orc_status orc_lock_release(orc_lease *lease, orc_context *ctx,
				    orc_error *err);

ORC_END_DECLS

#endif
