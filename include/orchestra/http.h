/*
 * liborchestra - the HTTP API (docs/http.md): the seed system's routes
 * and the dashboard, served by orc_http_server_start() (libmicrohttpd)
 * or by a Lambda behind API Gateway (orc_lambda_apigw_handle()), from
 * the same route code. Built with the http part; without it the
 * functions return ORC_ENOTSUPPORTED.
 */
#ifndef ORCHESTRA_HTTP_H
#define ORCHESTRA_HTTP_H

#include <stddef.h>

#include "common.h"
#include "status.h"
#include "types.h"

ORC_BEGIN_DECLS

/** The routes over one backend; safe to use from many threads. */
typedef struct orc_http_api orc_http_api;
/** A running listener (libmicrohttpd). */
typedef struct orc_http_server orc_http_server;

/** Called after POST /workflows started workflow @p wf_id (a runner may
 * execute it); from a request thread. */
typedef void (*orc_http_started_fn)(const char *wf_id, void *payload);

/** Options for orc_http_api_create(). */
typedef struct orc_http_options {
	unsigned int version;   /**< ORC_HTTP_OPTIONS_VERSION */
	/** Bearer token every mutating route needs; NULL = none (only
	 * allowed on loopback). Copied. */
	const char *token;
	size_t max_body;        /**< request body bound; 0 = 1 MiB */
	/** Origin allowed by CORS (e.g. the S3 site of the dashboard);
	 * NULL = no CORS header at all. Never "*". Copied. */
	const char *allow_origin;
	orc_http_started_fn on_start; /**< NULL: serve only submits */
	void *on_start_payload;
	/** With on_start: every task of a started workflow must be a
	 * command (the runner of `orchestra serve --run` only runs those). */
	int require_commands;
	/** Live updates: poll cadence in ms; 0 = 500. */
	int64_t poll_ms;
	/** A file whose changes (size, mtime of it and of its "-wal") gate
	 * the reads of live updates: the SQLite database. NULL = read at
	 * every poll (DynamoDB). Copied. */
	const char *watch_file;
} orc_http_options;

#define ORC_HTTP_OPTIONS_VERSION 1
#define ORC_HTTP_OPTIONS_INIT { ORC_HTTP_OPTIONS_VERSION, NULL, 0, NULL, \
	NULL, NULL, 0, 0, NULL }

/**
 * @brief Fill @p opts with ORC_HTTP_OPTIONS_INIT's defaults.
 * @return ORC_OK, ORC_EINVAL (NULL or unknown version).
 * @since 0.1
 */
ORC_API orc_status orc_http_options_init(orc_http_options *opts,
					 unsigned int version);

/**
 * @brief Create the routes over @p backend (borrowed; must outlive the
 * API and have ORC_BACKEND_CAP_THREADSAFE to serve many threads).
 * @return ORC_OK, ORC_EINVAL, ORC_ENOMEM, ORC_ENOTSUPPORTED.
 * @since 0.1
 */
ORC_API orc_status orc_http_api_create(orc_http_api **out,
				       orc_backend *backend,
				       const orc_http_options *opts,
				       orc_error *err);

/** @brief Free the API. Accepts NULL. @since 0.1 */
ORC_API void orc_http_api_free(orc_http_api *api);

/** One request, whatever carried it. Borrowed strings. */
typedef struct orc_http_request {
	const char *method;        /**< "GET", "POST", ... */
	const char *path;          /**< without the query, not decoded */
	const char *query;         /**< after '?', or NULL */
	const char *body;          /**< may be NULL when body_len is 0 */
	size_t body_len;
	const char *authorization; /**< the header's value or NULL */
	const char *content_type;  /**< the header's value or NULL */
	const char *origin;        /**< the Origin header or NULL */
} orc_http_request;

/** A response; release with orc_http_response_clear(). */
typedef struct orc_http_response {
	int status;                /**< HTTP status */
	const char *content_type;  /**< static string */
	char *body;                /**< owned */
	size_t body_len;
	/** Access-Control-Allow-Origin value to send, or NULL. Static or
	 * owned by the API. */
	const char *allow_origin;
	int cache_immutable;       /**< 1 for embedded assets */
} orc_http_response;

/**
 * @brief Answer @p req. Every outcome, errors included, is a response
 * (a JSON error body with its HTTP status): the call fails only when no
 * response could be built.
 * @return ORC_OK, ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_http_api_handle(orc_http_response *resp,
				       orc_http_api *api,
				       const orc_http_request *req,
				       orc_error *err);

/** @brief Free the response's body. Accepts NULL. @since 0.1 */
ORC_API void orc_http_response_clear(orc_http_response *resp);

/**
 * @brief Listen on @p listen ("127.0.0.1:8080", "[::1]:0", "0.0.0.0:80";
 * port 0 picks one) and serve @p api (borrowed; must outlive the
 * server), Server-Sent Events included, each connection on its own
 * thread. Beyond loopback the API must have a token.
 * @param[out] port_out the bound port (may be NULL).
 * @return ORC_OK, ORC_EINVAL (bad address, no token beyond loopback),
 * ORC_ERROR (cannot listen: err->detail = errno), ORC_ENOMEM,
 * ORC_ENOTSUPPORTED (built without the http part).
 * @since 0.1
 */
ORC_API orc_status orc_http_server_start(orc_http_server **out,
					 orc_http_api *api,
					 const char *listen, int *port_out,
					 orc_error *err);

/** @brief Stop listening, end live streams, free. Accepts NULL. @since 0.1 */
ORC_API void orc_http_server_stop(orc_http_server *server);

/**
 * @brief The API behind API Gateway: answer the proxy event
 * @p event_json (REST API v1 or HTTP API v2, told apart by its
 * "version") with the proxy response JSON
 * (`{"statusCode", "headers", "body", "isBase64Encoded"}`). Live
 * updates are not served there (the dashboard polls instead).
 * @param[out] response_out Caller owns; free with orc_free().
 * @return ORC_OK (any HTTP status), ORC_EINVAL (not a proxy event),
 * ORC_ENOMEM.
 * @since 0.1
 */
ORC_API orc_status orc_lambda_apigw_handle(char **response_out,
					   orc_http_api *api,
					   const char *event_json,
					   orc_error *err);

ORC_END_DECLS

#endif
