/*
 * liborchestra - opaque forward declarations.
 */
#ifndef ORCHESTRA_TYPES_H
#define ORCHESTRA_TYPES_H

#include "common.h"

ORC_BEGIN_DECLS

/** A workflow definition: tasks and dependency edges. */
typedef struct orc_dag orc_dag;
/** Engine handle: a backend, a clock and per-workflow caches. */
typedef struct orc_context orc_context;
/** Storage vtable; see <orchestra/backend.h> for its layout. */
typedef struct orc_backend orc_backend;
/** In-process driver: registered C handlers run on a thread pool. */
typedef struct orc_runner orc_runner;
/** One handler invocation, passed to an orc_handler_fn. */
typedef struct orc_handler_call orc_handler_call;

/** Clock in milliseconds since the epoch; injectable for tests. */
typedef int64_t (*orc_clock_fn)(void *payload);

ORC_END_DECLS

#endif
