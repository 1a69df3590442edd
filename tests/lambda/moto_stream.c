/* See moto_stream.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lambda/moto_stream.h"

static void client(orc__aws_client *c, int streams)
{
	orc__aws_client_options o;
	orc_error err;

	memset(&o, 0, sizeof(o));
	/* DynamoDB Streams signs as "dynamodb" too. */
	o.service = "dynamodb";
	o.endpoint_env = streams ? "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"
				 : "AWS_ENDPOINT_URL_DYNAMODB";
	o.target_prefix = streams ? "DynamoDBStreams_20120810."
				  : "DynamoDB_20120810.";
	o.content_type = "application/x-amz-json-1.0";
	if (orc__aws_client_init(c, &o, &err) != ORC_OK)
		fail_msg("aws client: %s", err.message);
}

/* Call @p op with @p body (stolen); the answer, parsed. */
static json_t *call(orc__aws_client *c, const char *op, json_t *body)
{
	char *req = json_dumps(body, JSON_COMPACT);
	orc__aws_reply rep;
	orc_error err;
	json_t *ans;

	json_decref(body);
	memset(&rep, 0, sizeof(rep));
	if (orc__aws_call(&rep, c, op, req, strlen(req), &err) != ORC_OK)
		fail_msg("%s: %s", op, err.message);
	free(req);
	ans = json_loadb(rep.body.data, rep.body.len, 0, NULL);
	orc__aws_reply_clear(&rep);
	if (!ans)
		fail_msg("%s: the answer is not JSON", op);
	return ans;
}

void moto_stream_open(moto_stream *s, const char *table)
{
	orc__aws_client ddb;
	json_t *ans;
	const char *arn;

	memset(s, 0, sizeof(*s));
	client(&ddb, 0);
	ans = call(&ddb, "DescribeTable",
		   json_pack("{s:s}", "TableName", table));
	orc__aws_client_clear(&ddb);
	arn = json_string_value(json_object_get(
		json_object_get(ans, "Table"), "LatestStreamArn"));
	if (!arn)
		fail_msg("table %s has no stream", table);
	snprintf(s->arn, sizeof(s->arn), "%s", arn);
	json_decref(ans);
	/* arn:aws:dynamodb:REGION:ACCOUNT:table/... */
	if (sscanf(s->arn, "arn:aws:dynamodb:%63[^:]", s->region) != 1)
		fail_msg("stream ARN %s has no region", s->arn);
	client(&s->streams, 1);
	s->iterators = json_object();
}

void moto_stream_close(moto_stream *s)
{
	if (s->iterators)
		orc__aws_client_clear(&s->streams);
	json_decref(s->iterators);
	s->iterators = NULL;
}

/* Start reading the shards not seen yet at their beginning. */
static void new_shards(moto_stream *s)
{
	json_t *desc, *shard;
	size_t i;

	desc = call(&s->streams, "DescribeStream",
		    json_pack("{s:s}", "StreamArn", s->arn));
	json_array_foreach(json_object_get(json_object_get(desc,
			   "StreamDescription"), "Shards"), i, shard) {
		const char *id = json_string_value(
			json_object_get(shard, "ShardId"));
		json_t *it;

		if (!id || json_object_get(s->iterators, id))
			continue;
		it = call(&s->streams, "GetShardIterator",
			  json_pack("{s:s, s:s, s:s}", "StreamArn", s->arn,
				    "ShardId", id, "ShardIteratorType",
				    "TRIM_HORIZON"));
		json_object_set(s->iterators, id,
				json_object_get(it, "ShardIterator"));
		json_decref(it);
	}
	json_decref(desc);
}

/* One stream record as Lambda hands it to a function. */
static json_t *lambda_record(const moto_stream *s, json_t *rec)
{
	json_t *ddb = json_deep_copy(json_object_get(rec, "dynamodb"));
	json_t *when = json_object_get(ddb, "ApproximateCreationDateTime");

	/* Lambda gives whole epoch seconds; a service may answer with a
	 * fraction (the API's timestamp type). */
	if (json_is_number(when))
		json_object_set_new(ddb, "ApproximateCreationDateTime",
				    json_integer((json_int_t)
						 json_number_value(when)));
	return json_pack("{s:O, s:O, s:s, s:s, s:s, s:o, s:s}",
			 "eventID", json_object_get(rec, "eventID"),
			 "eventName", json_object_get(rec, "eventName"),
			 "eventVersion", "1.1",
			 "eventSource", "aws:dynamodb",
			 "awsRegion", s->region,
			 "dynamodb", ddb,
			 "eventSourceARN", s->arn);
}

size_t moto_stream_read(moto_stream *s, json_t *out)
{
	const char *id;
	json_t *it;
	size_t n = 0;

	new_shards(s);
	json_object_foreach(s->iterators, id, it) {
		for (;;) {
			json_t *page, *rec, *next;
			size_t i, got;

			if (!json_is_string(it))
				break; /* the shard is closed and read */
			page = call(&s->streams, "GetRecords",
				    json_pack("{s:O}", "ShardIterator", it));
			got = json_array_size(json_object_get(page,
							      "Records"));
			json_array_foreach(json_object_get(page, "Records"),
					   i, rec) {
				json_array_append_new(out,
						      lambda_record(s, rec));
			}
			n += got;
			next = json_object_get(page, "NextShardIterator");
			json_object_set(s->iterators, id,
					next ? next : json_null());
			it = json_object_get(s->iterators, id);
			json_decref(page);
			if (!got)
				break;
		}
	}
	return n;
}
