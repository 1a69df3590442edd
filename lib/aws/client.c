/*
 * The AWS JSON client and the standard retry mode:
 *  - retryable: throttling codes, transient codes, HTTP 5xx, transport
 *    errors, TransactionConflict, and clock-skew errors (once the skew is
 *    corrected from the server's Date header);
 *  - delay before retry i: full jitter, uniform in [0, min(base * 2^(i-1),
 *    20 s)];
 *  - a retry quota of 500 tokens: a retry costs 5 (10 after a timeout),
 *    a success refunds what its retries cost, or adds 1 when it needed
 *    none. When the quota is empty, errors are returned at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "internal.h"
#include "aws/client.h"

/* Base of the full-jitter backoff for a non-throttling retry. */
#define BASE_DELAY_MS 50

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

static void sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

orc_status orc__aws_client_init(orc__aws_client *c,
				const orc__aws_client_options *o,
				orc_error *err)
{
	const char *p, *slash;
	orc_status st;

	ORC_CHECK_ARG(c != NULL && o != NULL && o->service != NULL, err);
	ORC_CHECK_ARG(o->target_prefix != NULL && o->content_type != NULL,
		      err);
	ORC_CHECK_ARG(o->max_attempts >= 0, err);
	memset(c, 0, sizeof(*c));
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
	c->max_attempts = o->max_attempts ? o->max_attempts : 3;
	c->retry_tokens = ORC__AWS_RETRY_QUOTA;
	c->base_delay_ms = BASE_DELAY_MS;
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

orc_status orc__aws_call(orc__aws_reply *rep, orc__aws_client *c,
			 const char *op, const char *body, size_t len,
			 orc_error *err)
{
	orc__http_resp r;
	char target[192], msg[200], date_h[64], tok_h[4200], auth_h[512];
	char host_h[320], ct_h[96], target_h[220];
	int attempt, cost_paid = 0;
	orc_status st = ORC_OK;

	ORC_CHECK_ARG(rep != NULL && c != NULL && op != NULL, err);
	ORC_CHECK_ARG(body != NULL, err);
	orc__buf_free(&rep->body);
	memset(rep, 0, sizeof(*rep));
	memset(&r, 0, sizeof(r));
	snprintf(target, sizeof(target), "%s%s", c->target_prefix, op);
	snprintf(host_h, sizeof(host_h), "Host: %s", c->host);
	snprintf(ct_h, sizeof(ct_h), "Content-Type: %s", c->content_type);
	snprintf(target_h, sizeof(target_h), "X-Amz-Target: %s", target);
	c->calls++;
	for (attempt = 1;; attempt++) {
		const orc__aws_creds *cr;
		orc__aws_hdr sh[3];
		orc__sigv4_req sreq;
		orc__sigv4_out sig;
		const char *hdrs[8];
		int n = 0, retry, cost;
		int64_t now;
		orc_error terr;

		st = orc__aws_creds_get(&cr, &c->creds, orc__now_ms(), err);
		if (st != ORC_OK)
			break;
		now = orc__now_ms() + c->skew_ms;
		sh[0].name = "host";
		sh[0].value = c->host;
		sh[1].name = "content-type";
		sh[1].value = c->content_type;
		sh[2].name = "x-amz-target";
		sh[2].value = target;
		memset(&sreq, 0, sizeof(sreq));
		sreq.method = "POST";
		sreq.path = c->path;
		sreq.headers = sh;
		sreq.nheaders = 3;
		sreq.body = body;
		sreq.body_len = len;
		st = orc__sigv4_sign(&sig, &c->signer, cr, &sreq, now, 0, 0,
				     err);
		if (st != ORC_OK)
			break;
		snprintf(date_h, sizeof(date_h), "X-Amz-Date: %s",
			 sig.amz_date);
		snprintf(auth_h, sizeof(auth_h), "Authorization: %s",
			 sig.authorization);
		hdrs[n++] = host_h;
		hdrs[n++] = ct_h;
		hdrs[n++] = target_h;
		hdrs[n++] = date_h;
		hdrs[n++] = auth_h;
		if (cr->session_token) {
			snprintf(tok_h, sizeof(tok_h),
				 "X-Amz-Security-Token: %s", cr->session_token);
			hdrs[n++] = tok_h;
		}
		hdrs[n] = NULL;
		orc__sigv4_out_clear(&sig);
		c->attempts++;
		rep->attempts = attempt;
		st = orc__http_do(&c->http, &r, "POST", c->url, hdrs, body, len,
				  &terr);
		memset(tok_h, 0, sizeof(tok_h));
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
			retry = 1;
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
			st = orc__aws_map_error(rep->type, msg, r.status);
			if (retry && st != ORC_ETHROTTLED)
				st = ORC_EBACKEND;
			cost = ORC__AWS_RETRY_COST;
		}
		if (!retry || attempt >= c->max_attempts ||
		    c->retry_tokens < cost) {
			if (rep->status == 0)
				st = orc_error_set(err, st, "%s %s: %s "
						   "(after %d attempt%s)",
						   c->signer.service, op, msg,
						   attempt,
						   attempt > 1 ? "s" : "");
			else
				st = orc_error_set(err, st, "%s %s: %s%s%s "
						   "(HTTP %ld%s)",
						   c->signer.service, op,
						   rep->type[0] ? rep->type
								: "error",
						   msg[0] ? ": " : "", msg,
						   rep->status,
						   attempt > 1 ? ", retried"
							       : "");
			if (err)
				err->detail = (int)rep->status;
			if (err)
				orc__strlcpy(err->source, c->signer.service,
					     sizeof(err->source));
			rep->body = r.body;
			memset(&r.body, 0, sizeof(r.body));
			break;
		}
		c->retry_tokens -= cost;
		cost_paid += cost;
		c->retries++;
		sleep_ms(orc__aws_backoff_ms(
			orc__aws_is_throttle(rep->type, rep->status)
				? 10 * c->base_delay_ms : c->base_delay_ms,
			attempt, orc__rand_unit(&c->rng)));
	}
	orc__http_resp_clear(&r);
	return st;
}
