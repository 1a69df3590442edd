/*
 * Backend vtable checks shared by every attach point, and the generic
 * free/name calls.
 */
#include <string.h>

#include "internal.h"
#include "orchestra/backend.h"
#include "orchestra/backends.h"

ORC_API orc_status orc_backend_init(orc_backend *b, unsigned int version)
{
	if (!b)
		return ORC_EINVAL;
	if (version == 0 || version > ORC_BACKEND_VERSION)
		return ORC_EINVAL;
	memset(b, 0, sizeof(*b));
	b->version = version;
	return ORC_OK;
}

ORC_API orc_status orc_backend_check(const orc_backend *b, orc_error *err)
{
	ORC_CHECK_ARG(b != NULL, err);
	if (b->version == 0 || b->version > ORC_BACKEND_VERSION)
		return orc_error_set(err, ORC_EINVAL,
				     "backend %s: version %u not in 1..%d",
				     b->name ? b->name : "(unnamed)",
				     b->version, ORC_BACKEND_VERSION);
#define REQUIRE(m)                                                        \
	if (!b->m)                                                        \
		return orc_error_set(err, ORC_EINVAL,                     \
				     "backend %s: required method %s missing", \
				     b->name ? b->name : "(unnamed)", #m)
	REQUIRE(create_workflow);
	REQUIRE(get_workflow);
	REQUIRE(update_workflow);
	REQUIRE(get_task);
	REQUIRE(update_task);
	REQUIRE(list_tasks);
	REQUIRE(get_lock);
	REQUIRE(put_lock);
	REQUIRE(free);
#undef REQUIRE
	return ORC_OK;
}

ORC_API void orc_backend_free(orc_backend *b)
{
	if (b && b->free)
		b->free(b);
}

ORC_API const char *orc_backend_name(const orc_backend *b)
{
	return b && b->name ? b->name : "";
}

ORC_API uint32_t orc_backend_caps(const orc_backend *b)
{
	return b ? b->caps : 0;
}
