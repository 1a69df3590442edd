/*
 * HTTP over one reused libcurl easy handle (keep-alive), internal.
 */
#ifndef ORC_AWS_HTTP_H
#define ORC_AWS_HTTP_H

#include <stdint.h>

#include "orchestra/status.h"
#include "aws/buf.h"

typedef struct orc__http_resp {
	long status;
	orc__buf body;
	char date[64];            /* the Date header, "" when absent */
	char error_type[128];     /* x-amzn-ErrorType, "" when absent */
	/* Optional, kept across requests: sees every header line as it
	 * arrives (status lines too, CRLF included). */
	void (*on_header)(const char *line, size_t len, void *ud);
	void *on_header_ud;
} orc__http_resp;

void orc__http_resp_clear(orc__http_resp *r);

/* Header lines orc__http_do() takes at most. */
#define ORC__HTTP_MAX_HEADERS 24

typedef struct orc__http {
	void *curl;               /* CURL *, kept between requests */
	int64_t connect_timeout_ms, timeout_ms;
	uint64_t requests;        /* requests attempted on this handle */
	/* Kept between requests so that one allocates nothing: the
	 * header list's nodes, the URL and method last set. */
	void *nodes;              /* struct curl_slist[MAX_HEADERS + 1] */
	orc__buf url;
	int method;               /* 0 none, 1 GET, 2 POST, 3 other */
	int configured;           /* the fixed options are set */
} orc__http;

orc_status orc__http_init(orc__http *h, int64_t connect_timeout_ms,
			  int64_t timeout_ms, orc_error *err);
void orc__http_clear(orc__http *h);

/*
 * One request. @p headers is NULL-terminated "Name: value" lines (at
 * most ORC__HTTP_MAX_HEADERS), read during the call only. ORC_OK
 * when any HTTP answer arrived (check resp->status); ORC_ETIMEOUT or
 * ORC_EBACKEND (detail = CURLcode) when none did. Only http and https
 * are allowed, https always verifies the peer, redirects are not taken.
 */
orc_status orc__http_do(orc__http *h, orc__http_resp *resp,
			const char *method, const char *url,
			const char *const *headers, const char *body,
			size_t body_len, orc_error *err);

/*
 * When header @p line (as on_header sees it) is @p name (any case), point
 * @p value at its value without surrounding blanks and CRLF, set @p vlen
 * and return 1; else 0.
 */
int orc__http_header_is(const char *line, size_t len, const char *name,
			const char **value, size_t *vlen);

/* RFC 7231 IMF-fixdate to ms since the epoch; -1 when unparsable. */
int64_t orc__http_parse_date(const char *s);
/* ISO 8601 "2026-11-26T18:00:00Z" (fraction and offset allowed); -1. */
int64_t orc__iso8601_parse(const char *s);

#endif
