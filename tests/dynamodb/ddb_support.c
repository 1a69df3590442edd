/*
 * Helpers of the DynamoDB tests: tables, backends, and the proxy that
 * sits in front of dynalite and fails requests on purpose, either the
 * next N matching ones (fixture_arm) or at random with a seeded
 * generator (rate_pct).
 */
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "aws/client.h"
#include "ddb_support.h"
#include "dynalite.h"

orc__aws_client *orc__dynamodb_client(orc_backend *b);

static int ntables;

const char *const ddb_op_names[OP_KINDS] = { "GetItem", "PutItem",
	"UpdateItem", "Query", "Scan", "BatchWriteItem", "other" };

int ddb_setup(void **state)
{
	(void)state;
	return dl_start();
}

int ddb_teardown(void **state)
{
	(void)state;
	dl_stop();
	return 0;
}

void ddb_fresh_table(char *name, size_t cap)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;

	snprintf(name, cap, "ddb-%ld-%d", (long)getpid(), ntables++);
	o.table = name;
	CHECK(ORC_OK, orc_dynamodb_create_table(&o, E));
}

orc_backend *ddb_open_on(const char *table, const char *endpoint,
			 int attempts)
{
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	orc_backend *b = NULL;

	o.table = table;
	o.endpoint = endpoint;
	o.max_attempts = attempts;
	o.request_timeout_ms = 5000;
	/* A start that died before its tasks is finished by others this
	 * soon (test_dynamodb__start_cut_after_the_record). */
	o.seed_grace_ms = 1500;
	/* dynalite has no TransactWriteItems: say so instead of letting
	 * each backend find out with one refused request at its first
	 * start, which the request counts here do not include (test_txn
	 * counts it). */
	o.transactions = ORC_DYNAMODB_TXN_OFF;
	CHECK(ORC_OK, orc_dynamodb_backend_open(&b, &o, E));
	return b;
}

orc_dynamodb_stats ddb_stats(orc_backend *b)
{
	orc_dynamodb_stats s;

	CHECK(ORC_OK, b->ctl(b, ORC_DYNAMODB_CTL_STATS, &s, E));
	return s;
}

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
	struct lb_resp *rs = ud;
	char *nb = realloc(rs->body, rs->body_len + size * n + 1);

	if (!nb)
		return 0;
	memcpy(nb + rs->body_len, p, size * n);
	rs->body = nb;
	rs->body_len += size * n;
	nb[rs->body_len] = '\0';
	return size * n;
}

void ddb_forward(CURL *curl, int port, const lb_req *rq, lb_resp *rs)
{
	static const char *const names[] = { "Content-Type", "X-Amz-Target",
		"X-Amz-Date", "Authorization", NULL };
	struct curl_slist *h = NULL;
	char url[64], v[1024], line[1200];
	long code = 0;
	int i;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/",
		 port ? port : dl_port());
	for (i = 0; names[i]; i++)
		if (lb_header(rq, names[i], v, sizeof(v))) {
			snprintf(line, sizeof(line), "%s: %s", names[i], v);
			h = curl_slist_append(h, line);
		}
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, rq->body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)rq->body_len);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, rs);
	free(rs->body);
	rs->body = NULL;
	rs->body_len = 0;
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	rs->status = code ? (int)code : 502;
}

static void forward(struct proxy *px, const lb_req *rq, lb_resp *rs)
{
	ddb_forward(px->curl, px->upstream_port, rq, rs);
}

/* The fault for this request, counting it. */
static enum fault pick(struct proxy *px, const char *target)
{
	int hit;

	if (px->rate_pct > 0) {
		if (orc__rand_next(&px->rng) % 100 >= (uint64_t)px->rate_pct)
			return PASS;
		return (enum fault)(1 + orc__rand_next(&px->rng) %
				    (FAULT_KINDS - 1));
	}
	hit = px->times > 0 && strstr(target, px->target) != NULL;
	if (hit && px->skip > 0) {
		px->skip--;
		hit = 0;
	}
	if (!hit)
		return PASS;
	px->times--;
	return px->fault;
}

static void count_items(struct proxy *px, const lb_resp *rs)
{
	const char *p;

	if (rs->status != 200 || !rs->body)
		return;
	if ((p = strstr(rs->body, "\"ScannedCount\":")) != NULL)
		px->items_read += atoi(p + strlen("\"ScannedCount\":"));
	else if (strncmp(rs->body, "{\"Item\":", 8) == 0)
		px->items_read++;
}

static void proxy_handler(const lb_req *rq, lb_resp *rs, void *ud)
{
	struct proxy *px = ud;
	char target[128] = "";
	enum fault f;

	lb_header(rq, "X-Amz-Target", target, sizeof(target));
	px->requests++;
	{
		const char *dot = strrchr(target, '.');
		int k;

		for (k = 0; k < OP_OTHER; k++)
			if (dot && strcmp(dot + 1, ddb_op_names[k]) == 0)
				break;
		px->by_op[k]++;
	}
	f = pick(px, target);
	if (f != PASS) {
		px->faults_done++;
		px->by_kind[f]++;
	}
	if (f == DROP) {
		rs->status = 0;   /* never reached dynalite */
		return;
	}
	if (f == THROTTLE) {
		lb_body(rs, 400, "{\"__type\":\"com.amazonaws.dynamodb."
			"v20120810#ThrottlingException\",\"message\":"
			"\"Rate of requests exceeds the allowed "
			"throughput.\"}");
		return;
	}
	forward(px, rq, rs);
	count_items(px, rs);
	if ((f == FWD_DROP || f == FWD_500) && px->after_applied)
		px->after_applied(px->after_applied_ud);
	if (f == FWD_DROP)
		rs->status = 0;   /* applied by dynalite, answer lost */
	else if (f == FWD_500)
		lb_body(rs, 500, "{\"__type\":\"com.amazonaws.dynamodb."
			"v20120810#InternalServerError\",\"message\":"
			"\"Internal server error\"}");
}

void fixture_open(struct fixture *f, int attempts)
{
	orc__aws_client *c;
	char t[64], url[64];

	memset(f, 0, sizeof(*f));
	f->px.curl = curl_easy_init();
	assert_non_null(f->px.curl);
	assert_int_equal(lb_start(&f->srv, proxy_handler, &f->px), 0);
	ddb_fresh_table(t, sizeof(t));
	snprintf(f->table, sizeof(f->table), "%s", t);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", lb_port(f->srv));
	f->direct = ddb_open_on(t, NULL, 0);
	f->viaproxy = ddb_open_on(t, url, attempts);
	/* Backoff in milliseconds keeps fault runs fast; what is retried
	 * and how often does not change. */
	c = orc__dynamodb_client(f->viaproxy);
	c->base_delay_ms = 1;
	c->throttle_delay_ms = 2;
}

void fixture_close(struct fixture *f)
{
	orc_backend_free(f->viaproxy);
	orc_backend_free(f->direct);
	lb_stop(f->srv);
	curl_easy_cleanup(f->px.curl);
}

void fixture_arm(struct fixture *f, const char *target, enum fault fault,
		 int times)
{
	f->px.skip = 0;
	snprintf(f->px.target, sizeof(f->px.target), "%s", target);
	f->px.fault = fault;
	f->px.times = times;
	f->px.faults_done = 0;
}
