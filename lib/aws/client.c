/*
 * The AWS JSON client and its retries. The mode and the attempts come
 * from AWS_RETRY_MODE / AWS_MAX_ATTEMPTS or the config file (config.c).
 * Standard mode (and adaptive, which here adds no client-side rate
 * limiter):
 *  - retryable: throttling codes, transient codes, HTTP 5xx, transport
 *    errors, TransactionConflict, and clock-skew errors (once the skew is
 *    corrected from the server's Date header);
 *  - delay before retry i: full jitter, uniform in [0, min(base * 2^(i-1),
 *    20 s)], base 100 ms, or 500 ms after throttling;
 *  - a retry quota of 500 tokens: a retry costs 5 (10 after a timeout),
 *    a success refunds what its retries cost, or adds 1 when it needed
 *    none. When the quota is empty, errors are returned at once.
 * Legacy mode retries the same errors with no quota, waiting 50 ms
 * doubling (botocore's legacy DynamoDB delays), at most 20 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "internal.h"
#include "aws/client.h"

/* Full-jitter bases, as the AWS SDK for JavaScript v3 standard mode. */
#define BASE_DELAY_MS 100
#define THROTTLE_DELAY_MS 500

void orc__aws_reply_clear(orc__aws_reply *r)
{
	if (!r)
		return;
	orc__buf_free(&r->body);
	memset(r, 0, sizeof(*r));
}

static int in_list(const char *type, const char *const *list)
{
	size_t i;

	for (i = 0; list[i]; i++)
		if (strcmp(type, list[i]) == 0)
			return 1;
	return 0;
}

int orc__aws_is_throttle(const char *type, long status)
{
	static const char *const codes[] = {
		"Throttling", "ThrottlingException", "ThrottledException",
		"RequestThrottledException", "TooManyRequestsException",
		"ProvisionedThroughputExceededException",
		"TransactionInProgressException", "RequestLimitExceeded",
		"BandwidthLimitExceeded", "LimitExceededException",
		"RequestThrottled", "SlowDown", "PriorRequestNotComplete",
		"EC2ThrottledException", NULL
	};

	return (type && in_list(type, codes)) || status == 429;
}

int orc__aws_is_transient(const char *type, long status)
{
	static const char *const codes[] = {
		"RequestTimeout", "RequestTimeoutException",
		"InternalServerError", "InternalFailure",
		"ServiceUnavailable", "TransactionConflictException",
		"TransactionConflict", NULL
	};

	return (type && in_list(type, codes)) || status == 500 ||
	       status == 502 || status == 503 || status == 504;
}

static int is_skew(const char *type, const char *msg)
{
	static const char *const codes[] = {
		"RequestTimeTooSkewed", "RequestExpired",
		"RequestInTheFuture", NULL
	};

	if (in_list(type, codes))
		return 1;
	return strcmp(type, "InvalidSignatureException") == 0 && msg &&
	       (strstr(msg, "Signature expired") ||
		strstr(msg, "Signature not yet current"));
}

orc_status orc__aws_map_error(const char *type, const char *msg, long status)
{
	static const char *const auth[] = {
		"UnrecognizedClientException", "InvalidSignatureException",
		"AccessDeniedException", "MissingAuthenticationToken",
		"MissingAuthenticationTokenException", "ExpiredTokenException",
		"IncompleteSignature", "IncompleteSignatureException",
		"InvalidClientTokenId", "AuthFailure", "ExpiredToken",
		"SignatureDoesNotMatch", NULL
	};

	if (!type)
		type = "";
	if (strcmp(type, "ConditionalCheckFailedException") == 0 ||
	    strcmp(type, "TransactionCanceledException") == 0)
		return ORC_ECONFLICT;
	if (strcmp(type, "ResourceNotFoundException") == 0)
		return ORC_ENOTFOUND;
	if (strcmp(type, "ItemCollectionSizeLimitExceededException") == 0)
		return ORC_ETOOBIG;
	if (strcmp(type, "ValidationException") == 0 ||
	    strcmp(type, "SerializationException") == 0) {
		/* The service says "Item size has exceeded ...". */
		if (msg && strstr(msg, "size has exceeded"))
			return ORC_ETOOBIG;
		return ORC_EINVAL;
	}
	if (in_list(type, auth) || status == 401 || status == 403)
		return ORC_EAUTH;
	if (strcmp(type, "ResourceInUseException") == 0)
		return ORC_EEXISTS;
	if (orc__aws_is_throttle(type, status))
		return ORC_ETHROTTLED;
	return ORC_EBACKEND;
}

int64_t orc__aws_legacy_backoff_ms(int retry)
{
	int64_t d = 50;
	int i;

	for (i = 1; i < retry && d < ORC__AWS_MAX_BACKOFF_MS; i++)
		d *= 2;
	return d > ORC__AWS_MAX_BACKOFF_MS ? ORC__AWS_MAX_BACKOFF_MS : d;
}

int64_t orc__aws_backoff_ms(int64_t base_ms, int retry, double unit)
{
	double cap = (double)base_ms;
	int i;

	for (i = 1; i < retry && cap < ORC__AWS_MAX_BACKOFF_MS; i++)
		cap *= 2;
	if (cap > ORC__AWS_MAX_BACKOFF_MS)
		cap = ORC__AWS_MAX_BACKOFF_MS;
	return (int64_t)(unit * cap);
}

orc_status orc__aws_client_init(orc__aws_client *c,
				const orc__aws_client_options *o,
				orc_error *err)
{
	const char *p, *slash;
	orc__aws_retry_cfg rc;
	orc_status st;

	ORC_CHECK_ARG(c != NULL && o != NULL && o->service != NULL, err);
	ORC_CHECK_ARG(o->target_prefix != NULL && o->content_type != NULL,
		      err);
	ORC_CHECK_ARG(o->max_attempts >= 0, err);
	memset(c, 0, sizeof(*c));
	st = orc__aws_retry_config(&rc, o->max_attempts, o->profile,
				   o->service, err);
	if (st != ORC_OK)
		return st;
	st = orc__aws_region(c->region, sizeof(c->region), o->region,
			     o->profile, err);
	if (st != ORC_OK)
		return st;
	st = orc__aws_endpoint(c->url, sizeof(c->url), o->endpoint,
			       o->endpoint_env, o->service, c->region, err);
	if (st != ORC_OK)
		return st;
	p = strstr(c->url, "://") + 3;
	slash = strchr(p, '/');
	if ((size_t)(slash ? slash - p : (ptrdiff_t)strlen(p)) >=
	    sizeof(c->host))
		return orc_error_set(err, ORC_EINVAL, "endpoint host too long");
	memcpy(c->host, p, slash ? (size_t)(slash - p) : strlen(p));
	if (strchr(c->host, '@') || strchr(c->host, '?') || !c->host[0])
		return orc_error_set(err, ORC_EINVAL,
				     "endpoint %s: bad host", c->url);
	if (!orc__strlcpy(c->path, slash ? slash : "/", sizeof(c->path)))
		return orc_error_set(err, ORC_EINVAL, "endpoint path too long");
	orc__strlcpy(c->target_prefix, o->target_prefix,
		     sizeof(c->target_prefix));
	orc__strlcpy(c->content_type, o->content_type,
		     sizeof(c->content_type));
	c->max_attempts = rc.max_attempts;
	c->retry_mode = rc.mode;
	c->retry_tokens = ORC__AWS_RETRY_QUOTA;
	c->base_delay_ms = BASE_DELAY_MS;
	c->throttle_delay_ms = THROTTLE_DELAY_MS;
	c->rng = (uint64_t)orc__now_ms() ^ (uint64_t)(uintptr_t)c;
	st = orc__sigv4_signer_init(&c->signer, c->region, o->service, err);
	if (st != ORC_OK)
		return st;
	st = orc__aws_creds_provider_init(&c->creds, o->profile, err);
	if (st != ORC_OK)
		return st;
	st = orc__http_init(&c->http, o->connect_timeout_ms,
			    o->request_timeout_ms, err);
	if (st != ORC_OK)
		orc__aws_creds_provider_clear(&c->creds);
	return st;
}

void orc__aws_client_clear(orc__aws_client *c)
{
	if (!c)
		return;
	orc__http_clear(&c->http);
	orc__aws_creds_provider_clear(&c->creds);
	if (c->lines.data)
		memset(c->lines.data, 0, c->lines.cap);
	orc__buf_free(&c->lines);
	orc__buf_free(&c->urlbuf);
	orc__sigv4_scratch_free(&c->sigscratch);
	memset(&c->signer, 0, sizeof(c->signer));
}

/* The error type and message of a JSON-protocol error answer. */
static void parse_error(orc__aws_reply *rep, const orc__http_resp *r,
			char *msg, size_t cap)
{
	json_t *j = r->body.data ? json_loads(r->body.data, 0, NULL) : NULL;
	const char *t = j ? json_string_value(json_object_get(j, "__type"))
			  : NULL;
	const char *m = NULL;

	msg[0] = '\0';
	rep->type[0] = '\0';
	if (!t && r->error_type[0])
		t = r->error_type;
	if (t) {
		const char *h = strrchr(t, '#');
		size_t n;

		t = h ? h + 1 : t;
		n = strcspn(t, ":");
		if (n >= sizeof(rep->type))
			n = sizeof(rep->type) - 1;
		memcpy(rep->type, t, n);
		rep->type[n] = '\0';
	}
	if (j) {
		m = json_string_value(json_object_get(j, "message"));
		if (!m)
			m = json_string_value(json_object_get(j, "Message"));
	}
	if (m)
		orc__strlcpy(msg, m, cap);
	json_decref(j);
}

/* Transport errors that another attempt cannot fix. */
static int transport_final(int curl_code)
{
	return curl_code == CURLE_UNSUPPORTED_PROTOCOL ||
	       curl_code == CURLE_URL_MALFORMAT ||
	       curl_code == CURLE_PEER_FAILED_VERIFICATION ||
	       curl_code == CURLE_SSL_CACERT_BADFILE ||
	       curl_code == CURLE_SSL_CERTPROBLEM;
}

/* The header lines of one attempt, signed with @p cr. */
static orc_status sign_lines(orc__buf *lines, const char **hdrs,
			     orc__aws_client *c, const orc__aws_creds *cr,
			     const char *method, const char *path,
			     const char *query, const orc__aws_hdr *extra,
			     size_t nextra, const char *body, size_t len,
			     orc_error *err)
{
	orc__aws_hdr sh[ORC__AWS_MAX_HEADERS + 1];
	size_t offs[ORC__AWS_MAX_HEADERS + 4], n = 0, i;
	orc__sigv4_req sreq;
	orc__sigv4_out sig;
	orc_status st;

	sh[0].name = "host";
	sh[0].value = c->host;
	for (i = 0; i < nextra; i++)
		sh[i + 1] = extra[i];
	memset(&sreq, 0, sizeof(sreq));
	sreq.method = method;
	sreq.path = path;
	sreq.query = query;
	sreq.headers = sh;
	sreq.nheaders = nextra + 1;
	sreq.body = body;
	sreq.body_len = len;
	st = orc__sigv4_sign_with(&sig, &c->signer, cr, &sreq,
				  orc__now_ms() + c->skew_ms,
				  ORC__SIGV4_AUTH_ONLY |
				  ORC__SIGV4_AUTH_IN_SCRATCH, 0,
				  &c->sigscratch,
				  err);
	if (st != ORC_OK)
		return st;
	/* Offsets first: the buffer may move while it grows. */
	orc__buf_reset(lines);
	offs[n++] = lines->len;
	orc__buf_printf(lines, "Host: %s", c->host);
	orc__buf_putc(lines, '\0');
	for (i = 0; i < nextra; i++) {
		offs[n++] = lines->len;
		orc__buf_printf(lines, "%s: %s", extra[i].name,
				extra[i].value);
		orc__buf_putc(lines, '\0');
	}
	offs[n++] = lines->len;
	orc__buf_printf(lines, "X-Amz-Date: %s", sig.amz_date);
	orc__buf_putc(lines, '\0');
	offs[n++] = lines->len;
	orc__buf_printf(lines, "Authorization: %s", sig.authorization);
	orc__buf_putc(lines, '\0');
	if (cr->session_token) {
		offs[n++] = lines->len;
		orc__buf_printf(lines, "X-Amz-Security-Token: %s",
				cr->session_token);
		orc__buf_putc(lines, '\0');
	}
	orc__sigv4_out_clear(&sig);
	orc__sigv4_scratch_wipe(&c->sigscratch);
	if (lines->oom)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		hdrs[i] = lines->data + offs[i];
	hdrs[n] = NULL;
	return ORC_OK;
}

orc_status orc__aws_request(orc__aws_reply *rep, orc__aws_client *c,
			    const char *method, const char *path,
			    const char *query, const orc__aws_hdr *extra,
			    size_t nextra, const char *body, size_t len,
			    const char *label, orc_error *err)
{
	orc__http_resp r;
	orc__buf *lines = &c->lines, *url = &c->urlbuf;
	const char *hdrs[ORC__AWS_MAX_HEADERS + 5];
	char msg[200];
	int attempt, cost_paid = 0, refreshed = 0;
	orc_status st = ORC_OK;
	const char *p;

	ORC_CHECK_ARG(rep != NULL && c != NULL && method != NULL, err);
	ORC_CHECK_ARG(body != NULL || len == 0, err);
	ORC_CHECK_ARG(extra != NULL || nextra == 0, err);
	ORC_CHECK_ARG(nextra <= ORC__AWS_MAX_HEADERS, err);
	if (!label)
		label = method;
	orc__buf_free(&rep->body);
	memset(rep, 0, sizeof(*rep));
	memset(&r, 0, sizeof(r));
	r.on_header = c->on_header;
	r.on_header_ud = c->on_header_ud;
	/* The endpoint's own path, or @p path under its origin. */
	p = path ? path : c->path;
	orc__buf_reset(url);
	orc__buf_add(url, c->url, (size_t)(strstr(c->url, "://") + 3 -
					   c->url) + strlen(c->host));
	orc__buf_puts(url, p);
	if (query && *query)
		orc__buf_printf(url, "?%s", query);
	if (url->oom) {
		orc__buf_free(url);
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	}
	c->calls++;
	for (attempt = 1;; attempt++) {
		const orc__aws_creds *cr;
		int retry, cost;
		orc_error terr;

		st = orc__aws_creds_get(&cr, &c->creds, orc__now_ms(), err);
		if (st == ORC_OK)
			st = sign_lines(lines, hdrs, c, cr, method, p, query,
					extra, nextra, body, len, err);
		if (st != ORC_OK)
			break;
		c->attempts++;
		rep->attempts = attempt;
		memset(&terr, 0, sizeof(terr));
		st = orc__http_do(&c->http, &r, method, url->data, hdrs, body,
				  len, &terr);
		/* The lines hold the session token: wipe them now. */
		if (lines->data)
			memset(lines->data, 0, lines->len);
		if (st == ORC_ENOMEM) {
			orc_error_set(err, st, "out of memory");
			break;
		}
		if (st == ORC_OK && r.status >= 200 && r.status < 300) {
			if (cost_paid)
				c->retry_tokens += cost_paid;
			else
				c->retry_tokens++;
			if (c->retry_tokens > ORC__AWS_RETRY_QUOTA)
				c->retry_tokens = ORC__AWS_RETRY_QUOTA;
			rep->status = r.status;
			rep->body = r.body;
			memset(&r.body, 0, sizeof(r.body));
			break;
		}
		if (st != ORC_OK) {
			/* No answer: the request may or may not have run. */
			rep->status = 0;
			orc__strlcpy(rep->type, "ConnectionError",
				     sizeof(rep->type));
			orc__strlcpy(msg, terr.message, sizeof(msg));
			retry = !transport_final(terr.detail);
			cost = st == ORC_ETIMEOUT ? ORC__AWS_RETRY_TIMEOUT_COST
						  : ORC__AWS_RETRY_COST;
		} else {
			rep->status = r.status;
			parse_error(rep, &r, msg, sizeof(msg));
			retry = orc__aws_is_throttle(rep->type, r.status) ||
				orc__aws_is_transient(rep->type, r.status);
			if (is_skew(rep->type, msg)) {
				int64_t sd = orc__http_parse_date(r.date);

				if (sd > 0) {
					c->skew_ms = sd - orc__now_ms();
					retry = 1;
				}
			}
			/* Expired temporary keys: fetch new ones, once. */
			if (!refreshed && c->creds.cur.expiry_ms != 0 &&
			    (strcmp(rep->type, "ExpiredTokenException") == 0 ||
			     strcmp(rep->type, "ExpiredToken") == 0)) {
				c->creds.have = 0;
				refreshed = retry = 1;
			}
			st = orc__aws_map_error(rep->type, msg, r.status);
			cost = ORC__AWS_RETRY_COST;
		}
		if (c->retry_mode == ORC__AWS_RETRY_LEGACY)
			cost = 0; /* no quota */
		if (!retry || attempt >= c->max_attempts ||
		    c->retry_tokens < cost) {
			if (rep->status == 0)
				st = orc_error_set(err, st, "%s %s: %s "
						   "(after %d attempt%s)",
						   c->signer.service, label,
						   msg, attempt,
						   attempt > 1 ? "s" : "");
			else
				st = orc_error_set(err, st, "%s %s: %s%s%s "
						   "(HTTP %ld%s)",
						   c->signer.service, label,
						   rep->type[0] ? rep->type
								: "error",
						   msg[0] ? ": " : "", msg,
						   rep->status,
						   attempt > 1 ? ", retried"
							       : "");
			if (err) {
				err->detail = (int)rep->status;
				orc__strlcpy(err->source, c->signer.service,
					     sizeof(err->source));
			}
			rep->body = r.body;
			memset(&r.body, 0, sizeof(r.body));
			break;
		}
		c->retry_tokens -= cost;
		cost_paid += cost;
		c->retries++;
		if (c->retry_mode == ORC__AWS_RETRY_LEGACY)
			orc__sleep_ms(orc__aws_legacy_backoff_ms(attempt));
		else
			orc__sleep_ms(orc__aws_backoff_ms(
				orc__aws_is_throttle(rep->type, rep->status)
					? c->throttle_delay_ms
					: c->base_delay_ms,
				attempt, orc__rand_unit(&c->rng)));
	}
	orc__http_resp_clear(&r);
	return st;
}

orc_status orc__aws_call(orc__aws_reply *rep, orc__aws_client *c,
			 const char *op, const char *body, size_t len,
			 orc_error *err)
{
	char target[192];
	orc__aws_hdr h[2];

	ORC_CHECK_ARG(rep != NULL && c != NULL && op != NULL, err);
	ORC_CHECK_ARG(body != NULL, err);
	if ((size_t)snprintf(target, sizeof(target), "%s%s", c->target_prefix,
			     op) >= sizeof(target))
		return orc_error_set(err, ORC_EINVAL, "operation name too "
				     "long");
	h[0].name = "Content-Type";
	h[0].value = c->content_type;
	h[1].name = "X-Amz-Target";
	h[1].value = target;
	return orc__aws_request(rep, c, "POST", NULL, NULL, h, 2, body, len,
				op, err);
}
