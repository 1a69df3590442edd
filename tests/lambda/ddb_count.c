/*
 * The counting and fault-injecting proxy of the Lambda tests (see
 * ddb_count.h). loopback.c serializes handler calls, so the counters
 * need no lock of their own beyond the one taken by the readers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ddb_count.h"
#include "dynamodb/ddb_support.h"

static const char *const op_names[DC_OPS] = { "GetItem", "PutItem",
	"UpdateItem", "DeleteItem", "Query", "Scan", "BatchWriteItem",
	"BatchGetItem", "TransactWriteItems", "other" };

struct ddb_count {
	lb_server *srv;
	CURL *curl;
	char url[64];
	pthread_mutex_t mu;
	int by_op[DC_OPS];
	int ccf;
	char target[64];
	enum dc_fault fault;
	int skip, times, faults;
	char describe[512];
};

static void handler(const lb_req *rq, lb_resp *rs, void *ud)
{
	ddb_count *c = ud;
	char target[128] = "";
	const char *dot;
	int k, hit;
	enum dc_fault f = DC_500;

	lb_header(rq, "X-Amz-Target", target, sizeof(target));
	dot = strrchr(target, '.');
	for (k = 0; k < DC_OTHER; k++)
		if (dot && strcmp(dot + 1, op_names[k]) == 0)
			break;
	pthread_mutex_lock(&c->mu);
	c->by_op[k]++;
	hit = c->times > 0 && strstr(target, c->target) != NULL;
	if (hit && c->skip > 0) {
		c->skip--;
		hit = 0;
	}
	if (hit) {
		c->times--;
		c->faults++;
		f = c->fault;
	}
	pthread_mutex_unlock(&c->mu);
	if (hit && f == DC_THROTTLE) {
		lb_body(rs, 400, "{\"__type\":\"com.amazonaws.dynamodb."
			"v20120810#ThrottlingException\",\"message\":"
			"\"Rate of requests exceeds the allowed "
			"throughput.\"}");
		return;
	}
	if (!hit || f == DC_FWD_500)
		ddb_forward(c->curl, 0, rq, rs);
	if (hit) {
		if (getenv("DDB_COUNT_TRACE"))
			fprintf(stderr, "ddb FAULT %s %.200s\n", target,
				rq->body);
		lb_body(rs, 500, "{\"__type\":\"com.amazonaws.dynamodb."
			"v20120810#InternalServerError\",\"message\":"
			"\"Internal server error\"}");
		return;
	}
	if (getenv("DDB_COUNT_TRACE"))
		fprintf(stderr, "ddb %s %d %.300s\n", target, rs->status,
			rq->body);
	if (rs->status == 400 && rs->body &&
	    strstr(rs->body, "ConditionalCheckFailed")) {
		pthread_mutex_lock(&c->mu);
		c->ccf++;
		pthread_mutex_unlock(&c->mu);
	}
}

int ddb_count_start(ddb_count **out)
{
	ddb_count *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c || !(c->curl = curl_easy_init())) {
		free(c);
		return -1;
	}
	pthread_mutex_init(&c->mu, NULL);
	if (lb_start(&c->srv, handler, c) != 0) {
		curl_easy_cleanup(c->curl);
		pthread_mutex_destroy(&c->mu);
		free(c);
		return -1;
	}
	snprintf(c->url, sizeof(c->url), "http://127.0.0.1:%d",
		 lb_port(c->srv));
	*out = c;
	return 0;
}

const char *ddb_count_url(const ddb_count *c)
{
	return c->url;
}

void ddb_count_stop(ddb_count *c)
{
	if (!c)
		return;
	lb_stop(c->srv);
	curl_easy_cleanup(c->curl);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void ddb_count_reset(ddb_count *c)
{
	pthread_mutex_lock(&c->mu);
	memset(c->by_op, 0, sizeof(c->by_op));
	c->ccf = 0;
	pthread_mutex_unlock(&c->mu);
}

int ddb_count_op(ddb_count *c, enum dc_op op)
{
	int n;

	pthread_mutex_lock(&c->mu);
	n = c->by_op[op];
	pthread_mutex_unlock(&c->mu);
	return n;
}

int ddb_count_total(ddb_count *c)
{
	int n = 0, k;

	for (k = 0; k < DC_OPS; k++)
		n += ddb_count_op(c, (enum dc_op)k);
	return n;
}

int ddb_count_ccf(ddb_count *c)
{
	int n;

	pthread_mutex_lock(&c->mu);
	n = c->ccf;
	pthread_mutex_unlock(&c->mu);
	return n;
}

const char *ddb_count_describe(ddb_count *c)
{
	size_t n = 0;
	int k, v;

	c->describe[0] = '\0';
	for (k = 0; k < DC_OPS; k++)
		if ((v = ddb_count_op(c, (enum dc_op)k)) > 0)
			n += (size_t)snprintf(c->describe + n,
					      sizeof(c->describe) - n,
					      "%s%s %d", n ? ", " : "",
					      op_names[k], v);
	snprintf(c->describe + n, sizeof(c->describe) - n,
		 "%stotal %d, ConditionalCheckFailed %d", n ? "; " : "",
		 ddb_count_total(c), ddb_count_ccf(c));
	return c->describe;
}

void ddb_count_arm(ddb_count *c, const char *target, enum dc_fault f,
		   int skip, int times)
{
	pthread_mutex_lock(&c->mu);
	snprintf(c->target, sizeof(c->target), "%s", target);
	c->fault = f;
	c->skip = skip;
	c->times = times;
	pthread_mutex_unlock(&c->mu);
}

int ddb_count_faults(ddb_count *c)
{
	int n;

	pthread_mutex_lock(&c->mu);
	n = c->faults;
	pthread_mutex_unlock(&c->mu);
	return n;
}
