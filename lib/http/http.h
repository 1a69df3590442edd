/*
 * The HTTP part's internals, shared by the route code, the listener and
 * the API Gateway handler.
 */
#ifndef ORC_HTTP_INTERNAL_H
#define ORC_HTTP_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "orchestra/http.h"
#include "private.h"

struct orc_http_api {
	orc_backend *backend;
	char *token;
	size_t max_body;
	char *allow_origin;
	orc_http_started_fn on_start;
	void *on_start_payload;
	int require_commands;
	int64_t poll_ms;
	char *watch_file;
	/* A backend without ORC_BACKEND_CAP_THREADSAFE (DynamoDB) is used
	 * by one request or stream at a time. */
	int serialize;
	pthread_mutex_t mu;
};

/* Take and release the backend for one use (no-ops when it is
 * thread-safe). */
void orc__http_lock(orc_http_api *api);
void orc__http_unlock(orc_http_api *api);

/* Headers every response carries, whatever transport: no sniffing, no
 * framing, the page's scripts and connections from this origin only. */
#define ORC__HTTP_NHEADERS 4
ORC__PRIVATE extern const char *const orc__http_headers[ORC__HTTP_NHEADERS][2];

/* An embedded dashboard file (web/, generated into assets.c). */
typedef struct orc__http_asset {
	const char *path;
	const char *content_type;
	const unsigned char *data;
	size_t len;
} orc__http_asset;
extern const orc__http_asset orc__http_assets[];
extern const size_t orc__http_nassets;

/* Percent-decode @p len bytes of @p s into a new string; NULL when it
 * holds a bad escape or a NUL, or on out of memory. */
ORC__PRIVATE char *orc__http_decode(const char *s, size_t len);

/* The GET /workflows/{id} document for @p wf_id as compact JSON text
 * (free with free()); *http_status is 200, or the error's status with
 * the error document. */
char *orc__http_detail(int *http_status, orc_http_api *api,
		       const char *wf_id);

/* The GET /workflows/{id}/tasks/{taskId} document. */
char *orc__http_task(int *http_status, orc_http_api *api, const char *wf_id,
		     const char *task_id);

/* The GET /workflows document. */
char *orc__http_list(int *http_status, orc_http_api *api);

/* An error document {"ok": false, "error", "code", "field"}. */
ORC__PRIVATE char *orc__http_error_doc(orc_status st, const char *field,
				       const char *message);

/* @p doc as compact JSON text (free with free()), and @p doc released;
 * NULL when @p doc is NULL or on out of memory. */
struct json_t;
char *orc__http_dump(struct json_t *doc);

/* HTTP status for a status of the library. */
int orc__http_status_for(orc_status st);

#endif
