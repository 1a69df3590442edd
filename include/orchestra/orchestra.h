/*
 * liborchestra - umbrella header. Does not include <orchestra/backend.h>,
 * the backend authors' header.
 */
#ifndef ORCHESTRA_ORCHESTRA_H
#define ORCHESTRA_ORCHESTRA_H

#include "common.h"
#include "types.h"
#include "status.h"
#include "version.h"
#include "task.h"
#include "dag.h"
#include "lock.h"
#include "workflow.h"
#include "runner.h"
#include "backends.h"
#include "asl.h"

#endif
