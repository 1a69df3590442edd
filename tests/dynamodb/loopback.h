/*
 * A small HTTP/1.1 server on 127.0.0.1 (a free port) for tests: container
 * credentials, instance metadata, canned AWS answers, and a proxy in front
 * of dynalite that can fail requests on purpose. One thread per
 * connection; keep-alive; Content-Length bodies only.
 */
#ifndef ORC_TEST_LOOPBACK_H
#define ORC_TEST_LOOPBACK_H

#include <stddef.h>

typedef struct lb_req {
	char method[16];
	char path[1024];
	char headers[8192];   /* raw header lines, "Name: value\r\n" each */
	char *body;           /* NUL-terminated */
	size_t body_len;
} lb_req;

typedef struct lb_resp {
	int status;           /* 0 = drop: close the connection, no answer */
	char headers[1024];   /* extra lines, each ending in "\r\n" */
	char *body;           /* malloc'd; freed by the server */
	size_t body_len;
} lb_resp;

/* Called with a lock held: handlers of one server never run at once. */
typedef void (*lb_handler)(const lb_req *req, lb_resp *resp, void *ud);

typedef struct lb_server lb_server;

int lb_start(lb_server **out, lb_handler h, void *ud);
int lb_port(const lb_server *s);
/* Requests handled so far. */
int lb_count(lb_server *s);
/* Connections accepted so far. */
int lb_connections(lb_server *s);
void lb_stop(lb_server *s);

/* The value of header @p name in @p req into @p out; 1 when present. */
int lb_header(const lb_req *req, const char *name, char *out, size_t cap);
/* Set a response body (copied). */
void lb_body(lb_resp *r, int status, const char *body);

#endif
