/*
 * Version locks: the compare-and-set rule, lease liveness, and named
 * lease locks stored through the backend (works on every backend).
 */
#include <string.h>

#include "context.h"
#include "internal.h"
#include "orchestra/backend.h"
#include "orchestra/lock.h"

ORC_API orc_status orc_lock_cas_check(int64_t expected, int64_t found,
				      const char *what, orc_error *err)
{
	if (expected == found)
		return ORC_OK;
	return orc_error_set(err, ORC_ECONFLICT,
			     "%s: expected version %lld, found %lld",
			     what ? what : "record", (long long)expected,
			     (long long)found);
}

ORC_API int orc_lease_is_live(const char *owner, int64_t expiry_ms,
			      int64_t now_ms)
{
	return owner && owner[0] != '\0' && expiry_ms > now_ms;
}

static orc_status lock_args(const char *name, const char *owner,
			    int64_t ttl_ms, orc_error *err)
{
	size_t n;

	ORC_CHECK_ARG(name != NULL && owner != NULL, err);
	n = strlen(name);
	if (n == 0 || n > ORC_ID_MAX || strchr(name, '#'))
		return orc_error_set(err, ORC_EINVAL,
				     "lock name must be 1..%d bytes without '#'",
				     ORC_ID_MAX);
	n = strlen(owner);
	if (n == 0 || n > ORC_OWNER_MAX)
		return orc_error_set(err, ORC_EINVAL,
				     "lock owner must be 1..%d bytes",
				     ORC_OWNER_MAX);
	if (ttl_ms <= 0)
		return orc_error_set(err, ORC_EINVAL, "ttl_ms must be > 0");
	return ORC_OK;
}

ORC_API orc_status orc_lock_acquire(orc_lease *out, orc_context *ctx,
				    const char *name, const char *owner,
				    int64_t ttl_ms, orc_error *err)
{
	orc_backend *b;
	orc_lock_rec cur, next;
	int64_t expected = 0, now;
	orc_status st;

	ORC_CHECK_ARG(out != NULL && ctx != NULL, err);
	if ((st = lock_args(name, owner, ttl_ms, err)) != ORC_OK)
		return st;
	b = ctx->backend;
	now = orc_context_now(ctx);
	memset(&cur, 0, sizeof(cur));
	st = b->get_lock(&cur, b, name, err);
	if (st == ORC_OK) {
		if (orc_lease_is_live(cur.owner, cur.expiry_ms, now) &&
		    strcmp(cur.owner, owner) != 0)
			return orc_error_set(err, ORC_ELOCKED,
					     "lock %s is held by %s for %lld ms more",
					     name, cur.owner,
					     (long long)(cur.expiry_ms - now));
		expected = cur.version;
	} else if (st != ORC_ENOTFOUND) {
		return st;
	}
	memset(&next, 0, sizeof(next));
	orc__strlcpy(next.name, name, sizeof(next.name));
	orc__strlcpy(next.owner, owner, sizeof(next.owner));
	next.version = expected + 1;
	next.expiry_ms = now + ttl_ms;
	st = b->put_lock(b, &next, expected, err);
	if (st != ORC_OK)
		return st;
	memset(out, 0, sizeof(*out));
	memcpy(out->name, next.name, sizeof(out->name));
	memcpy(out->owner, next.owner, sizeof(out->owner));
	out->token = next.version;
	out->expiry_ms = next.expiry_ms;
	return ORC_OK;
}

/* Write the lease's next version, conditional on its token. */
static orc_status lock_rewrite(orc_lease *lease, orc_context *ctx,
			       const char *owner, int64_t expiry_ms,
			       orc_error *err)
{
	orc_backend *b = ctx->backend;
	orc_lock_rec next;
	orc_status st;

	memset(&next, 0, sizeof(next));
	orc__strlcpy(next.name, lease->name, sizeof(next.name));
	orc__strlcpy(next.owner, owner, sizeof(next.owner));
	next.version = lease->token + 1;
	next.expiry_ms = expiry_ms;
	st = b->put_lock(b, &next, lease->token, err);
	if (st == ORC_ECONFLICT)
		return orc_error_set(err, ORC_ECONFLICT,
				     "lock %s: lease with token %lld was lost",
				     lease->name, (long long)lease->token);
	if (st != ORC_OK)
		return st;
	lease->token = next.version;
	lease->expiry_ms = expiry_ms;
	return ORC_OK;
}

ORC_API orc_status orc_lock_renew(orc_lease *lease, orc_context *ctx,
				  int64_t ttl_ms, orc_error *err)
{
	orc_status st;

	ORC_CHECK_ARG(lease != NULL && ctx != NULL, err);
	if ((st = lock_args(lease->name, lease->owner, ttl_ms, err)) != ORC_OK)
		return st;
	/* An expired lease may already belong to someone else; the
	 * conditional write below detects that, but a lease that expired
	 * and was not taken is refused too: its holder must re-acquire. */
	if (lease->expiry_ms <= orc_context_now(ctx))
		return orc_error_set(err, ORC_ECONFLICT,
				     "lock %s: lease expired; acquire again",
				     lease->name);
	return lock_rewrite(lease, ctx, lease->owner,
			    orc_context_now(ctx) + ttl_ms, err);
}

ORC_API orc_status orc_lock_release(orc_lease *lease, orc_context *ctx,
				    orc_error *err)
{
	ORC_CHECK_ARG(lease != NULL && ctx != NULL, err);
	/* Released through this struct already (acquire never leaves an
	 * expiry of 0): nothing left to write. */
	if (lease->expiry_ms == 0 && lease->token > 0)
		return ORC_OK;
	return lock_rewrite(lease, ctx, "", 0, err);
}
