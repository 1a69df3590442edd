/*
 * libcurl transport. One easy handle per client keeps its connection
 * alive between requests; nothing here retries (aws/client.c does).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "internal.h"
#include "aws/http.h"

void orc__http_resp_clear(orc__http_resp *r)
{
	if (!r)
		return;
	orc__buf_free(&r->body);
	memset(r, 0, sizeof(*r));
}

orc_status orc__http_init(orc__http *h, int64_t connect_timeout_ms,
			  int64_t timeout_ms, orc_error *err)
{
	ORC_CHECK_ARG(h != NULL, err);
	memset(h, 0, sizeof(*h));
	h->nodes = orc__calloc(ORC__HTTP_MAX_HEADERS + 1,
			       sizeof(struct curl_slist));
	if (!h->nodes)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h->nodes);
		h->nodes = NULL;
		return orc_error_set(err, ORC_ENOMEM, "curl_easy_init failed");
	}
	h->connect_timeout_ms = connect_timeout_ms > 0 ? connect_timeout_ms
						       : 3000;
	h->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
	return ORC_OK;
}

void orc__http_clear(orc__http *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	h->curl = NULL;
	free(h->nodes);
	h->nodes = NULL;
	orc__buf_free(&h->url);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	orc__http_resp *r = ud;

	orc__buf_add(&r->body, p, size * n);
	return r->body.oom ? 0 : size * n;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
	while (n && isspace((unsigned char)*v)) {
		v++;
		n--;
	}
	while (n && isspace((unsigned char)v[n - 1]))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

int orc__http_header_is(const char *line, size_t len, const char *name,
			const char **value, size_t *vlen)
{
	size_t n = strlen(name);

	if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
		return 0;
	line += n + 1;
	len -= n + 1;
	while (len && isspace((unsigned char)*line)) {
		line++;
		len--;
	}
	while (len && isspace((unsigned char)line[len - 1]))
		len--;
	*value = line;
	*vlen = len;
	return 1;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	orc__http_resp *r = ud;
	size_t len = size * n;

	if (r->on_header)
		r->on_header(p, len, r->on_header_ud);
	/* A new status line (after 100-continue) starts a new answer. */
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		r->date[0] = '\0';
		r->error_type[0] = '\0';
	} else if (len > 5 && strncasecmp(p, "date:", 5) == 0) {
		copy_value(r->date, sizeof(r->date), p + 5, len - 5);
	} else if (len > 17 && strncasecmp(p, "x-amzn-errortype:", 17) == 0) {
		copy_value(r->error_type, sizeof(r->error_type), p + 17,
			   len - 17);
	}
	return len;
}

/* Options that never change, set once per handle. */
static void configure(CURL *c)
{
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	/* Loopback never goes through a proxy named in the environment. */
	curl_easy_setopt(c, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
}

/* The method and body: options are set only when they change, since
 * libcurl copies strings it is given (an allocation each time). */
static void set_method(orc__http *h, const char *method, const char *body,
		       size_t body_len)
{
	CURL *c = h->curl;
	int m = strcmp(method, "GET") == 0 ? 1 :
		strcmp(method, "POST") == 0 ? 2 : 3;

	if (h->method == 3 || m == 3)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST,
				 m == 3 ? method : NULL);
	h->method = m;
	if (m == 1) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		return;
	}
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)(body ? body_len : 0));
}

orc_status orc__http_do(orc__http *h, orc__http_resp *resp,
			const char *method, const char *url,
			const char *const *headers, const char *body,
			size_t body_len, orc_error *err)
{
	struct curl_slist *nodes;
	CURL *c;
	CURLcode rc;
	orc_status st = ORC_OK;
	size_t i, n = 0;

	ORC_CHECK_ARG(h != NULL && h->curl != NULL && h->nodes != NULL, err);
	ORC_CHECK_ARG(resp != NULL && method != NULL && url != NULL, err);
	while (headers && headers[n])
		n++;
	ORC_CHECK_ARG(n <= ORC__HTTP_MAX_HEADERS, err);
	orc__buf_reset(&resp->body);
	resp->status = 0;
	resp->date[0] = resp->error_type[0] = '\0';
	c = h->curl;
	/* The handle keeps its options and its connection between
	 * requests; only what differs is set again. */
	if (!h->configured) {
		configure(c);
		h->configured = 1;
	}
	if (!h->url.data || strcmp(h->url.data, url) != 0) {
		orc__buf_reset(&h->url);
		orc__buf_puts(&h->url, url);
		if (h->url.oom)
			return orc_error_set(err, ORC_ENOMEM, "out of memory");
		curl_easy_setopt(c, CURLOPT_URL, url);
	}
	/* The header list is built in place from nodes of our own (curl
	 * only reads it during the request), "Expect:" last: no
	 * "100-continue" round trip for small JSON bodies. */
	nodes = h->nodes;
	for (i = 0; i < n; i++) {
		nodes[i].data = (char *)headers[i];
		nodes[i].next = &nodes[i + 1];
	}
	nodes[n].data = (char *)"Expect:";
	nodes[n].next = NULL;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, nodes);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)h->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	set_method(h, method, body, body_len);
	h->requests++;
	rc = curl_easy_perform(c);
	if (resp->body.oom)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	if (rc != CURLE_OK) {
		/* The URL names only the endpoint, never a secret. */
		st = orc_error_set(err, rc == CURLE_OPERATION_TIMEDOUT
				   ? ORC_ETIMEOUT : ORC_EBACKEND,
				   "HTTP %s %s: %s", method, url,
				   curl_easy_strerror(rc));
		if (err)
			err->detail = (int)rc;
		return st;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (!resp->body.data)
		orc__buf_add(&resp->body, "", 0);
	return resp->body.oom ? orc_error_set(err, ORC_ENOMEM, "out of memory")
			      : ORC_OK;
}

static int month_of(const char *m)
{
	static const char *names[] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int i;

	for (i = 0; i < 12; i++)
		if (strncmp(m, names[i], 3) == 0)
			return i;
	return -1;
}

int64_t orc__http_parse_date(const char *s)
{
	struct tm tm;
	char wd[4], mon[4];
	int d, y, H, M, S;

	if (!s || sscanf(s, "%3s, %d %3s %d %d:%d:%d", wd, &d, mon, &y, &H,
			 &M, &S) != 7)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mon = month_of(mon);
	if (tm.tm_mon < 0)
		return -1;
	tm.tm_mday = d;
	tm.tm_year = y - 1900;
	tm.tm_hour = H;
	tm.tm_min = M;
	tm.tm_sec = S;
	return (int64_t)timegm(&tm) * 1000;
}

int64_t orc__iso8601_parse(const char *s)
{
	struct tm tm;
	int y, mo, d, H, M, S, n = 0;
	int64_t ms;
	const char *p;

	if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d%n", &y, &mo, &d, &H, &M, &S,
			 &n) != 6)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = H;
	tm.tm_min = M;
	tm.tm_sec = S;
	ms = (int64_t)timegm(&tm) * 1000;
	p = s + n;
	if (*p == '.') {
		int scale = 100;

		for (p++; isdigit((unsigned char)*p); p++) {
			ms += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == '+' || *p == '-') {
		int oh = 0, om = 0;

		if (sscanf(p + 1, "%d:%d", &oh, &om) < 1)
			return -1;
		ms -= (*p == '+' ? 1 : -1) * ((int64_t)oh * 60 + om) * 60000;
	}
	return ms;
}
