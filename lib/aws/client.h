/*
 * An AWS JSON-protocol client (DynamoDB, Lambda control plane): endpoint,
 * credentials, SigV4, one keep-alive connection, and the SDKs' standard
 * retry mode. Internal.
 */
#ifndef ORC_AWS_CLIENT_H
#define ORC_AWS_CLIENT_H

#include <stdint.h>

#include "orchestra/status.h"
#include "aws/buf.h"
#include "aws/config.h"
#include "aws/creds.h"
#include "aws/http.h"
#include "aws/sigv4.h"

typedef struct orc__aws_client_options {
	const char *service;        /* signing name and host prefix */
	const char *endpoint_env;   /* e.g. "AWS_ENDPOINT_URL_DYNAMODB" */
	const char *target_prefix;  /* X-Amz-Target prefix, with the dot */
	const char *content_type;   /* "application/x-amz-json-1.0" */
	const char *region;         /* NULL = environment, config file */
	const char *endpoint;       /* NULL = environment, AWS */
	const char *profile;        /* NULL = AWS_PROFILE, "default" */
	int max_attempts;           /* 0 = AWS_MAX_ATTEMPTS, config, mode */
	int64_t connect_timeout_ms; /* 0 = 3000 */
	int64_t request_timeout_ms; /* 0 = 10000 */
} orc__aws_client_options;

/* Standard retry mode's quota (the SDKs' numbers). */
#define ORC__AWS_RETRY_QUOTA 500
#define ORC__AWS_RETRY_COST 5
#define ORC__AWS_RETRY_TIMEOUT_COST 10
#define ORC__AWS_MAX_BACKOFF_MS 20000

typedef struct orc__aws_client {
	orc__http http;
	orc__sigv4_signer signer;
	orc__aws_creds_provider creds;
	char url[512];
	char host[300];
	char path[200];
	char region[64];
	char target_prefix[64];
	char content_type[64];
	int max_attempts;
	orc__aws_retry_mode retry_mode;
	int retry_tokens;
	int64_t base_delay_ms;      /* full-jitter base (tests lower it) */
	int64_t throttle_delay_ms;  /* the same after throttling */
	int64_t skew_ms;            /* server clock minus ours */
	uint64_t rng;
	uint64_t calls;             /* operations called */
	uint64_t attempts;          /* HTTP requests sent (every attempt) */
	uint64_t retries;
	/* Reused by every call: the signed header lines (wiped after
	 * each attempt: they hold the session token) and the URL. */
	orc__buf lines, urlbuf;
	orc__sigv4_scratch sigscratch;
	/* Optional: given to every response (orc__http_resp.on_header). */
	void (*on_header)(const char *line, size_t len, void *ud);
	void *on_header_ud;
} orc__aws_client;

orc_status orc__aws_client_init(orc__aws_client *c,
				const orc__aws_client_options *o,
				orc_error *err);
void orc__aws_client_clear(orc__aws_client *c);

typedef struct orc__aws_reply {
	long status;                /* last HTTP status; 0 = no answer */
	int attempts;               /* attempts this call made */
	char type[128];             /* error type; "" on success */
	orc__buf body;              /* the last answer's body */
} orc__aws_reply;

void orc__aws_reply_clear(orc__aws_reply *r);

/*
 * Call @p op with a JSON body, retrying as standard mode does. ORC_OK on
 * 2xx (body in @p rep). Otherwise the service's error mapped to a status
 * (ORC_ECONFLICT, ORC_ENOTFOUND, ORC_EINVAL, ORC_ETOOBIG, ORC_EAUTH,
 * ORC_ETHROTTLED, ORC_ETIMEOUT, ORC_EBACKEND) with the service's message
 * kept and rep->type set.
 */
orc_status orc__aws_call(orc__aws_reply *rep, orc__aws_client *c,
			 const char *op, const char *body, size_t len,
			 orc_error *err);

/* Extra headers orc__aws_request() takes at most. */
#define ORC__AWS_MAX_HEADERS 8

/*
 * Any signed request (REST-JSON services such as Lambda Invoke): @p path
 * (already percent-encoded; NULL = the endpoint's path) and @p query go
 * on the endpoint's origin; @p extra headers are signed and sent. Retries,
 * errors and @p rep as orc__aws_call(); @p label names the call in
 * messages.
 */
orc_status orc__aws_request(orc__aws_reply *rep, orc__aws_client *c,
			    const char *method, const char *path,
			    const char *query, const orc__aws_hdr *extra,
			    size_t nextra, const char *body, size_t len,
			    const char *label, orc_error *err);

/* Error classes, exposed for tests. */
int orc__aws_is_throttle(const char *type, long status);
int orc__aws_is_transient(const char *type, long status);
orc_status orc__aws_map_error(const char *type, const char *msg,
			      long status);
/* Legacy mode's delay before retry number @p retry (1-based): 50 ms
 * doubling, no jitter, at most ORC__AWS_MAX_BACKOFF_MS. */
int64_t orc__aws_legacy_backoff_ms(int retry);
/* Full-jitter delay before retry number @p retry (1-based). */
int64_t orc__aws_backoff_ms(int64_t base_ms, int retry, double unit);

#endif
