/*
 * Live updates for one watcher (a Server-Sent Events stream): the
 * seed's {"type": "workflow_update", "workflow_id", "data"} messages,
 * made by reading the backend at the API's cadence.
 */
#ifndef ORC_HTTP_LIVE_H
#define ORC_HTTP_LIVE_H

#include <stdatomic.h>
#include <stddef.h>

#include "http.h"

typedef struct orc__live orc__live;

/* Watch the workflow list, and workflow @p wf_id in detail when not
 * NULL (copied). NULL on out of memory. */
ORC__PRIVATE orc__live *orc__live_create(orc_http_api *api, const char *wf_id);

/* Block until there is something to send, then copy up to @p max bytes
 * of the stream into @p buf. Returns 0 once *stopping is set. */
ORC__PRIVATE size_t orc__live_next(orc__live *l, char *buf, size_t max,
				   atomic_int *stopping);

/* One poll now, whatever the cadence: appends what changed to the
 * pending output. Returns the number of bytes pending. */
size_t orc__live_poll(orc__live *l);

ORC__PRIVATE void orc__live_free(orc__live *l);

#endif
