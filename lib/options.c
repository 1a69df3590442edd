/*
 * The _init() functions of the versioned structs (options and task
 * specs), for callers that cannot use the _INIT macros (bindings), and
 * the version-aware copy the library reads them with.
 */
#include <stddef.h>
#include <string.h>

#include "internal.h"
#include "orchestra/backends.h"
#include "orchestra/dag.h"
#include "orchestra/runner.h"
#include "orchestra/workflow.h"

orc_status orc__struct_init(void *s, const void *def, unsigned int version,
			    const size_t *ends, size_t nends)
{
	if (!s || version == 0 || version >= nends)
		return ORC_EINVAL;
	memcpy(s, def, ends[version]);
	/* Every versioned struct starts with its unsigned int version. */
	memcpy(s, &version, sizeof(version));
	return ORC_OK;
}

orc_status orc__struct_read(void *dst, const void *src, const size_t *ends,
			    size_t nends, const char *what, orc_error *err)
{
	unsigned int version;

	if (!src)
		return ORC_OK;
	memcpy(&version, src, sizeof(version));
	if (version == 0 || version >= nends)
		return orc_error_set(err, ORC_EINVAL,
				     "%s: version %u not in 1..%u (start from "
				     "the _INIT macro or the _init() function)",
				     what, version, (unsigned)(nends - 1));
	memcpy(dst, src, ends[version]);
	return ORC_OK;
}

/* Each table lists the size of every version of its struct; a new
 * version appends offsetof(first new field) before the last entry. */
static const size_t context_ends[] = { 0, sizeof(orc_context_options) };
ORC__ENDS_CHECK(context_ends, ORC_CONTEXT_OPTIONS_VERSION);

static const size_t runner_ends[] = {
	0, offsetof(orc_runner_options, storage_timeout_ms),
	sizeof(orc_runner_options)
};
ORC__ENDS_CHECK(runner_ends, ORC_RUNNER_OPTIONS_VERSION);

static const size_t memory_ends[] = { 0, sizeof(orc_memory_options) };
ORC__ENDS_CHECK(memory_ends, ORC_MEMORY_OPTIONS_VERSION);

static const size_t sqlite_ends[] = { 0, sizeof(orc_sqlite_options) };
ORC__ENDS_CHECK(sqlite_ends, ORC_SQLITE_OPTIONS_VERSION);

static const size_t dynamodb_ends[] = {
	0, offsetof(orc_dynamodb_options, seed_grace_ms),
	offsetof(orc_dynamodb_options, retention_ms),
	sizeof(orc_dynamodb_options)
};
ORC__ENDS_CHECK(dynamodb_ends, ORC_DYNAMODB_OPTIONS_VERSION);

static const size_t spec_ends[] = { 0, sizeof(orc_task_spec) };
ORC__ENDS_CHECK(spec_ends, ORC_TASK_SPEC_VERSION);

#define ENDS(a) (a), sizeof(a) / sizeof((a)[0])

ORC_API orc_status orc_context_options_init(orc_context_options *opts,
					    unsigned int version)
{
	static const orc_context_options def = ORC_CONTEXT_OPTIONS_INIT;

	return orc__struct_init(opts, &def, version, ENDS(context_ends));
}

ORC_API orc_status orc_runner_options_init(orc_runner_options *opts,
					   unsigned int version)
{
	static const orc_runner_options def = ORC_RUNNER_OPTIONS_INIT;

	return orc__struct_init(opts, &def, version, ENDS(runner_ends));
}

ORC_API orc_status orc_memory_options_init(orc_memory_options *opts,
					   unsigned int version)
{
	static const orc_memory_options def = ORC_MEMORY_OPTIONS_INIT;

	return orc__struct_init(opts, &def, version, ENDS(memory_ends));
}

ORC_API orc_status orc_sqlite_options_init(orc_sqlite_options *opts,
					   unsigned int version)
{
	static const orc_sqlite_options def = ORC_SQLITE_OPTIONS_INIT;

	return orc__struct_init(opts, &def, version, ENDS(sqlite_ends));
}

ORC_API orc_status orc_dynamodb_options_init(orc_dynamodb_options *opts,
					     unsigned int version)
{
	static const orc_dynamodb_options def = ORC_DYNAMODB_OPTIONS_INIT;

	return orc__struct_init(opts, &def, version, ENDS(dynamodb_ends));
}

ORC_API orc_status orc_task_spec_init(orc_task_spec *spec,
				      unsigned int version)
{
	static const orc_task_spec def = ORC_TASK_SPEC_INIT;

	return orc__struct_init(spec, &def, version, ENDS(spec_ends));
}
