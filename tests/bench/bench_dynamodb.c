/*
 * The DynamoDB backend against raw libcurl on the same dynalite in the
 * same run, one connection each:
 *  backend: update_task of one task conditioned on its version (the
 *           fencing-token write every claim and completion is), one
 *           conditional UpdateItem with ReturnValues=ALL_NEW each;
 *  raw:     a reused curl handle POSTing the same UpdateItem (the same
 *           expressions, names and values, the version bumped in the
 *           body each time) with headers signed once (dynalite checks
 *           the header's shape, not the signature).
 * About three seconds, the two loops alternating every 50 requests so
 * that both see the same load; prints both rates and the ratio (target:
 * backend >= 80 % of raw).
 *
 * It also counts heap allocations per request: the program defines
 * malloc, calloc, realloc and free over glibc's __libc_* functions, so
 * every allocation in the process (libcurl, jansson and OpenSSL
 * included) is counted. Not in sanitizer builds, which own malloc.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "internal.h"
#include "aws/client.h"
#include "orchestra/backend.h"
#include "orchestra/backends.h"
#include "orchestra/orchestra.h"
#include "dynamodb/dynalite.h"

#define ROUNDS 3
#define SECONDS 1.0
#define CHUNK 50
#define ALLOC_SAMPLE 200

orc__aws_client *orc__dynamodb_client(orc_backend *b);

/* ---- counting allocations ---- */

#if defined(__SANITIZE_ADDRESS__)
#define NO_COUNT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define NO_COUNT 1
#endif
#endif
#if !defined(__GLIBC__)
#define NO_COUNT 1
#endif

#ifndef NO_COUNT
static atomic_long nallocs;

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

void *malloc(size_t n)
{
	atomic_fetch_add_explicit(&nallocs, 1, memory_order_relaxed);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	atomic_fetch_add_explicit(&nallocs, 1, memory_order_relaxed);
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	atomic_fetch_add_explicit(&nallocs, 1, memory_order_relaxed);
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}
#endif

/* ---- helpers ---- */

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench_dynamodb: %s: %s\n", what, msg);
	dl_stop();
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sink {
	char buf[8192];
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t k = size * n;

	if (k > sizeof(s->buf) - 1 - s->len)
		k = sizeof(s->buf) - 1 - s->len;
	memcpy(s->buf + s->len, p, k);
	s->len += k;
	s->buf[s->len] = '\0';
	return size * n;
}

/* The body the backend sends for update_task(ORC_SET_NOT_BEFORE,
 * if_version) without a record wanted back (as the engine's claims and
 * completions), field for field. */
static int raw_body(char *buf, size_t cap, const char *table,
		    const char *task, long long version, long long now)
{
	return snprintf(buf, cap,
		"{\"Key\":{\"pk\":{\"S\":\"WORKFLOW#bench\"},\"sk\":{\"S\":"
		"\"TASK#%s\"}},\"ReturnValues\":\"NONE\","
		"\"UpdateExpression\":\"SET #notBeforeMs = :v1, #version = "
		"#version + :v2, #updatedMs = :v3, #wid = :v4\","
		"\"ConditionExpression\":\"attribute_exists(#pk) AND "
		"#version = :v0\",\"ExpressionAttributeNames\":{\"#pk\":"
		"\"pk\",\"#version\":\"version\",\"#notBeforeMs\":"
		"\"notBeforeMs\",\"#updatedMs\":\"updatedMs\",\"#wid\":"
		"\"wid\"},\"ExpressionAttributeValues\":{\":v0\":{\"N\":"
		"\"%lld\"},\":v1\":{\"N\":\"%lld\"},\":v2\":{\"N\":\"1\"},"
		"\":v3\":{\"N\":\"%lld\"},\":v4\":{\"S\":"
		"\"%016llx\"}},\"TableName\":\"%s\"}",
		task, version, now, now, (unsigned long long)now * 2654435761u,
		table);
}

struct raw {
	CURL *curl;
	struct curl_slist *hdrs;
	struct sink sink;
	char body[2048];
	const char *table;
	long long version;
};

static void raw_open(struct raw *r, orc__aws_client *c, const char *table)
{
	const orc__aws_creds *cr;
	orc__sigv4_req sreq;
	orc__sigv4_out sig;
	orc__aws_hdr h[3];
	char line[1024];
	orc_error err;
	int n;

	memset(r, 0, sizeof(*r));
	r->table = table;
	r->version = 1;
	n = raw_body(r->body, sizeof(r->body), table, "raw", 1, 1);
	/* Signed once, as the client signs (host, content type, target). */
	h[0].name = "host";
	h[0].value = c->host;
	h[1].name = "Content-Type";
	h[1].value = "application/x-amz-json-1.0";
	h[2].name = "X-Amz-Target";
	h[2].value = "DynamoDB_20120810.UpdateItem";
	memset(&sreq, 0, sizeof(sreq));
	sreq.method = "POST";
	sreq.path = "/";
	sreq.headers = h;
	sreq.nheaders = 3;
	sreq.body = r->body;
	sreq.body_len = (size_t)n;
	if (orc__aws_creds_get(&cr, &c->creds, orc__now_ms(), &err) != ORC_OK ||
	    orc__sigv4_sign(&sig, &c->signer, cr, &sreq, orc__now_ms(), 0, 0,
			    &err) != ORC_OK)
		die("sign", err.message);
	r->hdrs = curl_slist_append(r->hdrs, "Content-Type: "
				    "application/x-amz-json-1.0");
	r->hdrs = curl_slist_append(r->hdrs, "X-Amz-Target: "
				    "DynamoDB_20120810.UpdateItem");
	snprintf(line, sizeof(line), "X-Amz-Date: %s", sig.amz_date);
	r->hdrs = curl_slist_append(r->hdrs, line);
	snprintf(line, sizeof(line), "Authorization: %s", sig.authorization);
	r->hdrs = curl_slist_append(r->hdrs, line);
	r->hdrs = curl_slist_append(r->hdrs, "Expect:");
	orc__sigv4_out_clear(&sig);
	r->curl = curl_easy_init();
	if (!r->curl || !r->hdrs)
		die("curl", "out of memory");
	curl_easy_setopt(r->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(r->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &r->sink);
	curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
}

/* One raw conditional UpdateItem; it must succeed. */
static void raw_one(struct raw *r)
{
	long code = 0;
	int n;

	n = raw_body(r->body, sizeof(r->body), r->table, "raw", r->version,
		     (long long)orc__now_ms());
	r->sink.len = 0;
	curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE, (long)n);
	if (curl_easy_perform(r->curl) != CURLE_OK)
		die("raw", "no answer");
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200)
		die("raw", r->sink.buf);
	r->version++;
}

static void raw_close(struct raw *r)
{
	curl_easy_cleanup(r->curl);
	curl_slist_free_all(r->hdrs);
}

/* One update_task like the engine's fencing-token writes: conditioned
 * on the version, no record wanted back (the next one's condition
 * checks that this one bumped it by one). */
static void backend_one(orc_backend *b, long long *version)
{
	orc_task_update u;
	orc_error err;

	memset(&u, 0, sizeof(u));
	u.if_version = *version;
	u.set = ORC_SET_NOT_BEFORE;
	u.not_before_ms = orc__now_ms();
	u.now_ms = u.not_before_ms;
	if (b->update_task(b, "bench", "t", &u, NULL, &err) != ORC_OK)
		die("update_task", err.message);
	(*version)++;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long connects(CURL *c)
{
	long n = 0;

	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &n);
	return n;
}

int main(void)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	orc_task_seed seeds[2] = { { "t", 0, NULL, NULL },
				   { "raw", 0, NULL, NULL } };
	orc_workflow_rec wf;
	orc_backend *b = NULL;
	orc__aws_client *c;
	struct raw raw;
	orc_error err;
	double tb = 0, tr = 0, cb = 0, cr = 0, cc = -1, rate_b, rate_r, t0;
	double t, cpu;
	long long version = 1, nb = 0, nr = 0, new_conns;
	long before;
	long a0, alloc_b = -1, alloc_r = -1, alloc_c = -1;
	int round, i;

	if (dl_start() != 0)
		return 1;
	o.table = "bench";
	if (orc_dynamodb_create_table(&o, &err) != ORC_OK)
		die("create table", err.message);
	if (orc_dynamodb_backend_open(&b, &o, &err) != ORC_OK)
		die("open", err.message);
	memset(&wf, 0, sizeof(wf));
	strcpy(wf.id, "bench");
	wf.state = ORC_WORKFLOW_RUNNING;
	wf.ntasks = 2;
	if (b->create_workflow(b, &wf, seeds, 2, &err) != ORC_OK)
		die("create", err.message);
	c = orc__dynamodb_client(b);
	raw_open(&raw, c, "bench");
	/* Warm both connections up. */
	for (i = 0; i < 200; i++) {
		backend_one(b, &version);
		raw_one(&raw);
	}
	/* Fine interleaving: both loops see the same load on the machine
	 * (dynalite, a node process, is what limits either). */
	before = connects(c->http.curl);
	for (round = 0; round < ROUNDS; round++) {
		t0 = now_s();
		while (now_s() - t0 < SECONDS) {
			t = now_s();
			cpu = cpu_s();
			for (i = 0; i < CHUNK; i++)
				backend_one(b, &version);
			cb += cpu_s() - cpu;
			tb += now_s() - t;
			t = now_s();
			cpu = cpu_s();
			for (i = 0; i < CHUNK; i++)
				raw_one(&raw);
			cr += cpu_s() - cpu;
			tr += now_s() - t;
			nb += CHUNK;
			nr += CHUNK;
		}
	}
	new_conns = connects(c->http.curl) - before;
	rate_b = (double)nb / tb;
	rate_r = (double)nr / tr;
#ifndef NO_COUNT
	a0 = atomic_load(&nallocs);
	for (i = 0; i < ALLOC_SAMPLE; i++)
		backend_one(b, &version);
	alloc_b = (atomic_load(&nallocs) - a0) / ALLOC_SAMPLE;
	a0 = atomic_load(&nallocs);
	for (i = 0; i < ALLOC_SAMPLE; i++)
		raw_one(&raw);
	alloc_r = (atomic_load(&nallocs) - a0) / ALLOC_SAMPLE;
	/* The client alone (sign, send, receive) on the raw loop's body. */
	a0 = atomic_load(&nallocs);
	cpu = cpu_s();
	for (i = 0; i < ALLOC_SAMPLE; i++) {
		orc__aws_reply rep;
		int n = raw_body(raw.body, sizeof(raw.body), "bench", "raw",
				 raw.version++, (long long)orc__now_ms());

		memset(&rep, 0, sizeof(rep));
		if (orc__aws_call(&rep, c, "UpdateItem", raw.body, (size_t)n,
				  &err) != ORC_OK)
			die("client", err.message);
		orc__aws_reply_clear(&rep);
	}
	alloc_c = (atomic_load(&nallocs) - a0) / ALLOC_SAMPLE;
	cc = (cpu_s() - cpu) / ALLOC_SAMPLE;
#else
	(void)a0;
#endif
	printf("DynamoDB conditional UpdateItem, one connection each, "
	       "dynalite on 127.0.0.1,\n%lld requests each, interleaved in "
	       "runs of %d:\n", nb, CHUNK);
	printf("  raw libcurl loop:      %8.0f requests/s\n", rate_r);
	printf("  backend update_task:   %8.0f requests/s\n", rate_b);
	printf("  ratio backend/raw:     %8.1f %% (target >= 80 %%)\n",
	       100.0 * rate_b / rate_r);
	printf("  CPU of this process per request: backend %.0f us, raw "
	       "%.0f us\n", 1e6 * cb / (double)nb, 1e6 * cr / (double)nr);
	if (cc >= 0)
		printf("    (the AWS client alone, signing and sending the raw "
		       "body: %.0f us)\n", 1e6 * cc);
	printf("  new connections while timing the backend: %lld\n",
	       new_conns);
	if (alloc_b >= 0)
		printf("  heap allocations per request: backend %ld (of "
		       "which the AWS client %ld), raw libcurl %ld\n",
		       alloc_b, alloc_c, alloc_r);
	else
		printf("  heap allocations: not counted in this build\n");
	raw_close(&raw);
	orc_backend_free(b);
	dl_stop();
	/* One connection reused is a property, not a speed: it must hold. */
	return new_conns == 0 ? 0 : 1;
}
