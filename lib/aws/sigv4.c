/*
 * SigV4: canonical request, string to sign, signature; header and query
 * (presigned) forms. Follows the AWS signing test suite, including its
 * path normalisation (dot segments and empty segments removed) and the
 * one extra encoding pass that every service but S3 applies to the path.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>

#include "internal.h"
#include "aws/buf.h"
#include "aws/sigv4.h"

void orc__aws_creds_clear(orc__aws_creds *c)
{
	if (!c)
		return;
	if (c->secret_access_key)
		OPENSSL_cleanse(c->secret_access_key,
				strlen(c->secret_access_key));
	free(c->access_key_id);
	free(c->secret_access_key);
	free(c->session_token);
	memset(c, 0, sizeof(*c));
}

static char *dup_opt(const char *s, int *fail)
{
	char *p;

	if (!s)
		return NULL;
	p = orc__strndup(s, strlen(s));
	if (!p)
		*fail = 1;
	return p;
}

orc_status orc__aws_creds_copy(orc__aws_creds *dst, const orc__aws_creds *src)
{
	int fail = 0;

	memset(dst, 0, sizeof(*dst));
	dst->access_key_id = dup_opt(src->access_key_id, &fail);
	dst->secret_access_key = dup_opt(src->secret_access_key, &fail);
	dst->session_token = dup_opt(src->session_token, &fail);
	dst->expiry_ms = src->expiry_ms;
	if (fail) {
		orc__aws_creds_clear(dst);
		return ORC_ENOMEM;
	}
	return ORC_OK;
}

void orc__sigv4_out_clear(orc__sigv4_out *out)
{
	if (!out)
		return;
	free(out->canonical_request);
	free(out->string_to_sign);
	if (!out->auth_in_scratch)
		free(out->authorization);
	free(out->query);
	memset(out, 0, sizeof(*out));
}

static int sha256(unsigned char md[32], const void *p, size_t n)
{
	unsigned int len = 0;

	return EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) == 1 &&
	       len == 32;
}

int orc__sha256_hex(char hex[65], const void *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char md[32];
	int i;

	if (!sha256(md, p, n))
		return 0;
	for (i = 0; i < 32; i++) {
		hex[2 * i] = hx[md[i] >> 4];
		hex[2 * i + 1] = hx[md[i] & 15];
	}
	hex[64] = '\0';
	return 1;
}

static int hmac(unsigned char out[32], const void *key, size_t klen,
		const void *msg, size_t mlen)
{
	unsigned int len = 0;

	return HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &len) &&
	       len == 32;
}

static int unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

void orc__aws_uri_encode(orc__buf *b, const char *s, size_t n, int keep_slash)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x80 && (unreserved(c) || (keep_slash && c == '/'))) {
			orc__buf_putc(b, (char)c);
		} else {
			char e[3] = { '%', hx[c >> 4], hx[c & 15] };
			orc__buf_add(b, e, 3);
		}
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX escapes into @p b; anything else is copied. */
static void uri_decode(orc__buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < n &&
		    (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			orc__buf_putc(b, (char)(hi * 16 + lo));
			i += 2;
		} else {
			orc__buf_putc(b, s[i]);
		}
	}
}

/*
 * RFC 3986 dot-segment removal plus dropping empty segments, as the
 * suite's "-normalized" cases expect. A trailing slash survives, and a
 * path ending in "." or ".." ends in a slash.
 */
static void normalize_path(orc__buf *out, const char *p)
{
	size_t nseg = 0, cap = 8, i, n = strlen(p), pos = 0;
	size_t *st, *ln;
	int last_dot = 0;

	st = orc__malloc(cap * sizeof(*st));
	ln = orc__malloc(cap * sizeof(*ln));
	if (!st || !ln) {
		out->oom = 1;
		goto done;
	}
	while (pos < n) {
		size_t s, e;

		while (pos < n && p[pos] == '/')
			pos++;
		s = pos;
		while (pos < n && p[pos] != '/')
			pos++;
		e = pos;
		if (e == s)
			continue;
		if (e - s == 1 && p[s] == '.') {
			last_dot = 1;
			continue;
		}
		if (e - s == 2 && p[s] == '.' && p[s + 1] == '.') {
			if (nseg)
				nseg--;
			last_dot = 1;
			continue;
		}
		last_dot = 0;
		if (nseg == cap) {
			size_t *a = orc__realloc(st, 2 * cap * sizeof(*st));
			size_t *c;

			if (!a) {
				out->oom = 1;
				goto done;
			}
			st = a;
			c = orc__realloc(ln, 2 * cap * sizeof(*ln));
			if (!c) {
				out->oom = 1;
				goto done;
			}
			ln = c;
			cap *= 2;
		}
		st[nseg] = s;
		ln[nseg] = e - s;
		nseg++;
	}
	for (i = 0; i < nseg; i++) {
		orc__buf_putc(out, '/');
		orc__buf_add(out, p + st[i], ln[i]);
	}
	if (nseg == 0 || last_dot || (n && p[n - 1] == '/'))
		orc__buf_putc(out, '/');
done:
	free(st);
	free(ln);
}

struct kv {
	char *k, *v;
	size_t order;
	size_t ko, vo;      /* offsets into the scratch's hv (headers) */
};

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	if (c)
		return c;
	c = strcmp(x->v, y->v);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

struct kvlist {
	struct kv *a;
	size_t n, cap;
	int oom;
};

static void kv_push(struct kvlist *l, char *k, char *v)
{
	if (!k || !v || l->oom) {
		free(k);
		free(v);
		l->oom = 1;
		return;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct kv *a = orc__realloc(l->a, cap * sizeof(*a));

		if (!a) {
			free(k);
			free(v);
			l->oom = 1;
			return;
		}
		l->a = a;
		l->cap = cap;
	}
	l->a[l->n].k = k;
	l->a[l->n].v = v;
	l->a[l->n].order = l->n;
	l->n++;
}

static void kv_free(struct kvlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->a[i].k);
		free(l->a[i].v);
	}
	free(l->a);
	memset(l, 0, sizeof(*l));
}

/* Decode then encode, so raw and already-escaped input agree. */
static char *enc_component(const char *s, size_t n)
{
	orc__buf d = ORC__BUF_INIT, e = ORC__BUF_INIT;

	uri_decode(&d, s, n);
	if (d.oom) {
		orc__buf_free(&d);
		return NULL;
	}
	orc__aws_uri_encode(&e, d.data ? d.data : "", d.len, 0);
	orc__buf_free(&d);
	return orc__buf_take(&e);
}

static char *enc_raw(const char *s)
{
	orc__buf e = ORC__BUF_INIT;

	orc__aws_uri_encode(&e, s, strlen(s), 0);
	return orc__buf_take(&e);
}

static void parse_query(struct kvlist *l, const char *q)
{
	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', n);

		if (n) {
			size_t kn = eq ? (size_t)(eq - q) : n;

			kv_push(l, enc_component(q, kn),
				eq ? enc_component(eq + 1, n - kn - 1)
				   : orc__strndup("", 0));
		}
		q = amp ? amp + 1 : NULL;
	}
}

static char *xdup(const char *s)
{
	return orc__strndup(s, strlen(s));
}

/*
 * Headers go into the scratch: names and values as text in sc->hv, an
 * index in sc->hkv, both kept between signatures, so that signing the
 * same kind of request again allocates nothing.
 */
static int hv_push(orc__sigv4_scratch *sc, size_t *n, const char *name,
		   size_t name_len, const char *value, int canon)
{
	struct kv *a = sc->hkv;
	size_t i;
	int space = 0;

	if (*n == sc->hkv_cap) {
		size_t cap = sc->hkv_cap ? 2 * sc->hkv_cap : 8;

		if (!(a = orc__realloc(sc->hkv, cap * sizeof(*a))))
			return 0;
		sc->hkv = a;
		sc->hkv_cap = cap;
	}
	a[*n].order = *n;
	a[*n].ko = sc->hv.len;
	for (i = 0; i < name_len; i++)
		orc__buf_putc(&sc->hv,
			      (char)tolower((unsigned char)name[i]));
	orc__buf_putc(&sc->hv, '\0');
	a[*n].vo = sc->hv.len;
	/* The value trimmed, inner whitespace runs as one space. */
	while (canon && *value && isspace((unsigned char)*value))
		value++;
	for (; *value; value++) {
		if (canon && isspace((unsigned char)*value)) {
			space = 1;
			continue;
		}
		if (space)
			orc__buf_putc(&sc->hv, ' ');
		space = 0;
		orc__buf_putc(&sc->hv, *value);
	}
	orc__buf_putc(&sc->hv, '\0');
	(*n)++;
	return !sc->hv.oom;
}

/* A request header's trimmed name and canonical value. */
static int hv_header(orc__sigv4_scratch *sc, size_t *n, const char *name,
		     const char *value)
{
	size_t len;

	while (*name && isspace((unsigned char)*name))
		name++;
	len = strlen(name);
	while (len && isspace((unsigned char)name[len - 1]))
		len--;
	return hv_push(sc, n, name, len, value, 1);
}

static int hdr_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	if (c)
		return c;
	/* Keep the request's order among headers of one name. */
	return x->order < y->order ? -1 : x->order > y->order;
}

static int sc_sha256(orc__sigv4_scratch *sc, unsigned char md[32],
		     const void *a, size_t na, const void *b, size_t nb);

static int signing_key(orc__sigv4_signer *s, orc__sigv4_scratch *sc,
		       const char *secret, const char *date)
{
	unsigned char h[32], k[32];
	orc__buf kb = ORC__BUF_INIT;
	int ok;

	if (!sc_sha256(sc, h, secret, strlen(secret), "", 0))
		return 0;
	if (s->have_key && strcmp(s->key_date, date) == 0 &&
	    CRYPTO_memcmp(h, s->key_secret_hash, 32) == 0)
		return 1;
	orc__buf_puts(&kb, "AWS4");
	orc__buf_puts(&kb, secret);
	if (kb.oom) {
		orc__buf_free(&kb);
		return 0;
	}
	ok = hmac(k, kb.data, kb.len, date, strlen(date)) &&
	     hmac(k, k, 32, s->region, strlen(s->region)) &&
	     hmac(k, k, 32, s->service, strlen(s->service)) &&
	     hmac(k, k, 32, "aws4_request", 12);
	OPENSSL_cleanse(kb.data, kb.len);
	orc__buf_free(&kb);
	if (!ok) {
		s->have_key = 0;
		return 0;
	}
	memcpy(s->key, k, 32);
	memcpy(s->key_secret_hash, h, 32);
	memcpy(s->key_date, date, 9);
	s->have_key = 1;
	s->derivations++;
	OPENSSL_cleanse(k, sizeof(k));
	return 1;
}

orc_status orc__sigv4_signer_init(orc__sigv4_signer *s, const char *region,
				  const char *service, orc_error *err)
{
	ORC_CHECK_ARG(s != NULL, err);
	ORC_CHECK_ARG(region != NULL && *region, err);
	ORC_CHECK_ARG(service != NULL && *service, err);
	memset(s, 0, sizeof(*s));
	if (!orc__strlcpy(s->region, region, sizeof(s->region)) ||
	    !orc__strlcpy(s->service, service, sizeof(s->service)))
		return orc_error_set(err, ORC_EINVAL,
				     "region or service name too long");
	return ORC_OK;
}

void orc__sigv4_scratch_wipe(orc__sigv4_scratch *sc)
{
	if (sc && sc->fin.data)
		memset(sc->fin.data, 0, sc->fin.len);
}

void orc__sigv4_scratch_free(orc__sigv4_scratch *sc)
{
	if (!sc)
		return;
	orc__buf_free(&sc->cr);
	orc__buf_free(&sc->sh);
	orc__buf_free(&sc->tmp);
	orc__buf_free(&sc->path);
	/* Header values may carry a session token. */
	if (sc->hv.data)
		memset(sc->hv.data, 0, sc->hv.cap);
	orc__buf_free(&sc->hv);
	free(sc->hkv);
	sc->hkv = NULL;
	sc->hkv_cap = 0;
	/* The authorization value was built here. */
	if (sc->fin.data)
		memset(sc->fin.data, 0, sc->fin.cap);
	orc__buf_free(&sc->fin);
	EVP_MD_CTX_free(sc->mdctx);
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	EVP_MD_free(sc->md);
#endif
	sc->mdctx = NULL;
	sc->md = NULL;
}

/* SHA-256 of @p a then @p b (either may be empty) on the scratch's
 * digest context: OpenSSL's one-shot calls allocate several times. */
static int sc_sha256(orc__sigv4_scratch *sc, unsigned char md[32],
		     const void *a, size_t na, const void *b, size_t nb)
{
	unsigned int len = 0;

	/* Fetched once (OpenSSL 3 looks the legacy handle up each time). */
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	if (!sc->md)
		sc->md = EVP_MD_fetch(NULL, "SHA256", NULL);
#else
	sc->md = (void *)EVP_sha256();
#endif
	if (!sc->mdctx)
		sc->mdctx = EVP_MD_CTX_new();
	return sc->md && sc->mdctx &&
	       EVP_DigestInit_ex(sc->mdctx, sc->md, NULL) == 1 &&
	       EVP_DigestUpdate(sc->mdctx, a, na) == 1 &&
	       EVP_DigestUpdate(sc->mdctx, b, nb) == 1 &&
	       EVP_DigestFinal_ex(sc->mdctx, md, &len) == 1 && len == 32;
}

static void to_hex(char hex[65], const unsigned char md[32])
{
	static const char hx[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		hex[2 * i] = hx[md[i] >> 4];
		hex[2 * i + 1] = hx[md[i] & 15];
	}
	hex[64] = '\0';
}

/* HMAC-SHA256 (RFC 2104) with a 32-byte key, on the scratch's context. */
static int sc_hmac(orc__sigv4_scratch *sc, unsigned char out[32],
		   const unsigned char key[32], const void *msg, size_t n)
{
	unsigned char pad[64], inner[32];
	int i, ok;

	for (i = 0; i < 64; i++)
		pad[i] = (unsigned char)((i < 32 ? key[i] : 0) ^ 0x36);
	ok = sc_sha256(sc, inner, pad, 64, msg, n);
	for (i = 0; i < 64; i++)
		pad[i] = (unsigned char)((i < 32 ? key[i] : 0) ^ 0x5c);
	ok = ok && sc_sha256(sc, out, pad, 64, inner, 32);
	OPENSSL_cleanse(pad, sizeof(pad));
	return ok;
}

/* A copy of @p b's text; NULL when out of memory. */
static char *copy_of(const orc__buf *b)
{
	return orc__strndup(b->data ? b->data : "", b->len);
}

orc_status orc__sigv4_sign(orc__sigv4_out *out, orc__sigv4_signer *s,
			   const orc__aws_creds *creds,
			   const orc__sigv4_req *req, int64_t now_ms,
			   uint32_t flags, int64_t expires_s, orc_error *err)
{
	return orc__sigv4_sign_with(out, s, creds, req, now_ms, flags,
				    expires_s, NULL, err);
}

orc_status orc__sigv4_sign_with(orc__sigv4_out *out, orc__sigv4_signer *s,
				const orc__aws_creds *creds,
				const orc__sigv4_req *req, int64_t now_ms,
				uint32_t flags, int64_t expires_s,
				orc__sigv4_scratch *sc, orc_error *err)
{
	struct kvlist q = { 0 }, h = { 0 };
	orc__sigv4_scratch own;
	size_t hn = 0;
	int hv_ok = 1;
	char date[9], scope[256], crhash[65], *signed_hdrs;
	unsigned char sig[32];
	int query_mode = (flags & ORC__SIGV4_QUERY) != 0;
	int token = creds && creds->session_token && *creds->session_token;
	int sign_token = token && !(flags & ORC__SIGV4_OMIT_TOKEN);
	orc_status st = ORC_ENOMEM;
	time_t t;
	struct tm tm;
	size_t i;

	ORC_CHECK_ARG(out != NULL, err);
	memset(out, 0, sizeof(*out));
	if (!sc) {
		memset(&own, 0, sizeof(own));
		st = orc__sigv4_sign_with(out, s, creds, req, now_ms, flags,
					  expires_s, &own, err);
		orc__sigv4_scratch_free(&own);
		return st;
	}
	orc__buf_reset(&sc->cr);
	orc__buf_reset(&sc->sh);
	orc__buf_reset(&sc->tmp);
	orc__buf_reset(&sc->path);
	orc__buf_reset(&sc->fin);
	ORC_CHECK_ARG(s != NULL && req != NULL && creds != NULL, err);
	ORC_CHECK_ARG(req->method != NULL && req->path != NULL, err);
	ORC_CHECK_ARG(creds->access_key_id && creds->secret_access_key, err);
	ORC_CHECK_ARG(req->body != NULL || req->body_len == 0, err);

	t = (time_t)(now_ms / 1000);
	if (!gmtime_r(&t, &tm))
		return orc_error_set(err, ORC_EINVAL, "time out of range");
	strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, out->amz_date, 8);
	date[8] = '\0';
	if ((size_t)snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request",
			     date, s->region, s->service) >= sizeof(scope))
		return orc_error_set(err, ORC_EINVAL, "scope too long");
	if (!sc_sha256(sc, sig, req->body ? req->body : "", req->body_len,
		       "", 0))
		return orc_error_set(err, ORC_ERROR, "SHA-256 failed");
	to_hex(out->content_sha256, sig);

	/* Headers: the request's, plus what header signing adds. */
	orc__buf_reset(&sc->hv);
	hn = 0;
	for (i = 0; i < req->nheaders; i++)
		hv_ok &= hv_header(sc, &hn, req->headers[i].name,
				   req->headers[i].value);
	if (!query_mode) {
		hv_ok &= hv_push(sc, &hn, "x-amz-date", 10, out->amz_date, 0);
		if (sign_token)
			hv_ok &= hv_push(sc, &hn, "x-amz-security-token", 20,
					 creds->session_token, 1);
		if (flags & ORC__SIGV4_SIGN_BODY)
			hv_ok &= hv_push(sc, &hn, "x-amz-content-sha256", 20,
					 out->content_sha256, 0);
	}
	if (!hv_ok)
		goto fail;
	/* The text no longer moves: point the index into it. */
	h.a = sc->hkv;
	h.n = hn;
	for (i = 0; i < hn; i++) {
		h.a[i].k = sc->hv.data + h.a[i].ko;
		h.a[i].v = sc->hv.data + h.a[i].vo;
	}
	if (h.n)
		qsort(h.a, h.n, sizeof(*h.a), hdr_cmp);
	for (i = 0; i < h.n; i++) {
		if (i && strcmp(h.a[i].k, h.a[i - 1].k) == 0)
			continue;
		if (sc->sh.len)
			orc__buf_putc(&sc->sh, ';');
		orc__buf_puts(&sc->sh, h.a[i].k);
	}
	/* An empty buffer still needs its terminator. */
	orc__buf_add(&sc->sh, "", 0);
	if (sc->sh.oom)
		goto fail;
	signed_hdrs = sc->sh.data;

	/* Query: the request's, plus the presigning parameters. */
	parse_query(&q, req->query);
	if (query_mode) {
		orc__buf_printf(&sc->tmp, "%s/%s", creds->access_key_id, scope);
		if (sc->tmp.oom)
			goto fail;
		kv_push(&q, xdup("X-Amz-Algorithm"), xdup("AWS4-HMAC-SHA256"));
		kv_push(&q, xdup("X-Amz-Credential"), enc_raw(sc->tmp.data));
		kv_push(&q, xdup("X-Amz-Date"), xdup(out->amz_date));
		orc__buf_reset(&sc->tmp);
		orc__buf_printf(&sc->tmp, "%lld", (long long)expires_s);
		kv_push(&q, xdup("X-Amz-Expires"),
			xdup(sc->tmp.data ? sc->tmp.data : ""));
		if (sign_token)
			kv_push(&q, xdup("X-Amz-Security-Token"),
				enc_raw(creds->session_token));
		kv_push(&q, xdup("X-Amz-SignedHeaders"), enc_raw(signed_hdrs));
	}
	if (q.oom || sc->tmp.oom)
		goto fail;
	if (q.n)
		qsort(q.a, q.n, sizeof(*q.a), kv_cmp);

	/* The canonical request. */
	orc__buf_puts(&sc->cr, req->method);
	orc__buf_putc(&sc->cr, '\n');
	if (flags & ORC__SIGV4_NORMALIZE)
		normalize_path(&sc->path, req->path);
	else
		orc__buf_puts(&sc->path, *req->path ? req->path : "/");
	if (sc->path.oom)
		goto fail;
	orc__aws_uri_encode(&sc->cr, sc->path.data, sc->path.len, 1);
	orc__buf_putc(&sc->cr, '\n');
	for (i = 0; i < q.n; i++) {
		if (i)
			orc__buf_putc(&sc->cr, '&');
		orc__buf_printf(&sc->cr, "%s=%s", q.a[i].k, q.a[i].v);
	}
	orc__buf_putc(&sc->cr, '\n');
	for (i = 0; i < h.n; i++) {
		if (i && strcmp(h.a[i].k, h.a[i - 1].k) == 0) {
			orc__buf_printf(&sc->cr, ",%s", h.a[i].v);
			continue;
		}
		if (i)
			orc__buf_putc(&sc->cr, '\n');
		orc__buf_printf(&sc->cr, "%s:%s", h.a[i].k, h.a[i].v);
	}
	orc__buf_printf(&sc->cr, "\n\n%s\n%s", signed_hdrs,
			out->content_sha256);
	if (sc->cr.oom)
		goto fail;
	if (!sc_sha256(sc, sig, sc->cr.data, sc->cr.len, "", 0)) {
		st = orc_error_set(err, ORC_ERROR, "SHA-256 failed");
		goto out;
	}
	to_hex(crhash, sig);

	orc__buf_reset(&sc->tmp);
	orc__buf_printf(&sc->tmp, "AWS4-HMAC-SHA256\n%s\n%s\n%s", out->amz_date,
			scope, crhash);
	if (sc->tmp.oom)
		goto fail;
	if (!signing_key(s, sc, creds->secret_access_key, date) ||
	    !sc_hmac(sc, sig, s->key, sc->tmp.data, sc->tmp.len)) {
		st = orc_error_set(err, ORC_ERROR, "HMAC-SHA256 failed");
		goto out;
	}
	to_hex(out->signature, sig);

	if (query_mode) {
		for (i = 0; i < q.n; i++)
			orc__buf_printf(&sc->fin, "%s%s=%s", i ? "&" : "",
					q.a[i].k, q.a[i].v);
		orc__buf_printf(&sc->fin, "%sX-Amz-Signature=%s",
				q.n ? "&" : "", out->signature);
		if (token && !sign_token) {
			char *e = enc_raw(creds->session_token);

			if (!e)
				goto fail;
			orc__buf_printf(&sc->fin, "&X-Amz-Security-Token=%s",
					e);
			free(e);
		}
		out->query = sc->fin.oom ? NULL : copy_of(&sc->fin);
		if (!out->query)
			goto fail;
	} else {
		orc__buf_printf(&sc->fin, "AWS4-HMAC-SHA256 Credential=%s/%s, "
				"SignedHeaders=%s, Signature=%s",
				creds->access_key_id, scope, signed_hdrs,
				out->signature);
		if (sc->fin.oom)
			goto fail;
		if ((flags & ORC__SIGV4_AUTH_IN_SCRATCH) && sc != &own) {
			out->authorization = sc->fin.data;
			out->auth_in_scratch = 1;
		} else if (!(out->authorization = copy_of(&sc->fin))) {
			goto fail;
		}
	}
	if (!(flags & ORC__SIGV4_AUTH_ONLY)) {
		out->canonical_request = copy_of(&sc->cr);
		out->string_to_sign = copy_of(&sc->tmp);
		if (!out->canonical_request || !out->string_to_sign)
			goto fail;
	}
	st = ORC_OK;
	goto out;
fail:
	st = orc_error_set(err, ORC_ENOMEM, "out of memory while signing");
out:
	if (st != ORC_OK)
		orc__sigv4_out_clear(out);
	kv_free(&q);
	/* h lives in the scratch, which keeps its memory; the
	 * authorization is wiped, unless the caller still reads it. */
	if (!out->auth_in_scratch)
		orc__sigv4_scratch_wipe(sc);
	return st;
}
