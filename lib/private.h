/*
 * The internal functions that liborchestra-aws calls in liborchestra
 * (liborchestra-http's, the listener's, are marked ORC__PRIVATE where
 * lib/http/http.h and lib/http/live.h declare them).
 * The AWS part is a library of its own so that programs that do not use
 * it never load libcurl and libcrypto (docs/architecture.md,
 * "Libraries"), and its code shares these helpers with the core instead
 * of carrying copies of them.
 *
 * Their declarations live in internal.h and context.h; redeclared here
 * with default visibility, they are exported under the version node
 * ORC_PRIVATE_<version> of lib/liborchestra.map, which names each one.
 * They carry no ABI promise: both libraries come from one build, and
 * the node's name changes with every release, so a mismatched pair
 * fails to load instead of misbehaving. tests/abi checks that the node
 * lists exactly what liborchestra-aws imports.
 */
#ifndef ORCHESTRA_PRIVATE_H
#define ORCHESTRA_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "orchestra/status.h"

#define ORC__PRIVATE __attribute__((visibility("default")))

struct orc_context;
struct orc__wf_cache;
struct orc_dag;
struct orc_claim;
struct orc_task_update;

ORC__PRIVATE void *orc__malloc(size_t size);
ORC__PRIVATE void *orc__calloc(size_t n, size_t size);
ORC__PRIVATE void *orc__realloc(void *ptr, size_t size);
ORC__PRIVATE char *orc__strndup(const char *s, size_t n);
ORC__PRIVATE int orc__strlcpy(char *dst, const char *src, size_t size);
ORC__PRIVATE void orc__error_locate(orc_error *err, const char *source,
				    int line, int column, size_t position);
ORC__PRIVATE int64_t orc__now_ms(void);
ORC__PRIVATE void orc__sleep_ms(int64_t ms);
ORC__PRIVATE orc_status orc__struct_init(void *s, const void *def,
					 unsigned int version,
					 const size_t *ends, size_t nends);
ORC__PRIVATE orc_status orc__struct_read(void *dst, const void *src,
					 const size_t *ends, size_t nends,
					 const char *what, orc_error *err);
ORC__PRIVATE orc_status orc__context_workflow(struct orc__wf_cache **out,
					      struct orc_context *ctx,
					      const char *wf_id,
					      orc_error *err);
/* The Lambda worker and orchestrator drive the engine below its public
 * calls (lib/engine.h, lib/context.h). */
ORC__PRIVATE const char *orc__task_id_at(const struct orc_dag *dag, size_t i);
ORC__PRIVATE void orc__task_update_init(struct orc_task_update *u,
					int64_t now);
ORC__PRIVATE orc_status orc__claim_at(struct orc_claim *out,
				      struct orc_context *ctx,
				      struct orc__wf_cache *wf, size_t idx,
				      int64_t version, int32_t attempt,
				      const char *owner, int64_t lease_ms,
				      orc_error *err);
ORC__PRIVATE void orc__hint_drop(struct orc__wf_cache *wf, uint32_t task);
ORC__PRIVATE void orc__remember_output(struct orc__wf_cache *wf, size_t task,
				       const char *json);
ORC__PRIVATE int orc__known_done(const struct orc__wf_cache *wf, size_t task);

#endif
