/* See table_stream.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/client.h"
#include "lambda/table_stream.h"

void table_stream_init(table_stream *s, const char *table)
{
	memset(s, 0, sizeof(*s));
	s->table = table;
	s->seen = json_object();
}

void table_stream_clear(table_stream *s)
{
	json_decref(s->seen);
	s->seen = NULL;
}

json_t *table_stream_scan(const char *table)
{
	orc__aws_client_options o;
	orc__aws_client c;
	orc__aws_reply rep;
	json_t *items = json_object(), *body, *page, *it, *last = NULL;
	orc_error err;
	size_t i;

	memset(&o, 0, sizeof(o));
	o.service = "dynamodb";
	o.endpoint_env = "AWS_ENDPOINT_URL_DYNAMODB";
	o.target_prefix = "DynamoDB_20120810.";
	o.content_type = "application/x-amz-json-1.0";
	assert_int_equal(orc__aws_client_init(&c, &o, &err), ORC_OK);
	do {
		char *req;

		body = json_pack("{s:s, s:b}", "TableName", table,
				 "ConsistentRead", 1);
		if (last)
			json_object_set_new(body, "ExclusiveStartKey", last);
		req = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		memset(&rep, 0, sizeof(rep));
		if (orc__aws_call(&rep, &c, "Scan", req, strlen(req), &err) !=
		    ORC_OK)
			fail_msg("Scan: %s", err.message);
		free(req);
		page = json_loadb(rep.body.data, rep.body.len, 0, NULL);
		assert_non_null(page);
		json_array_foreach(json_object_get(page, "Items"), i, it) {
			char key[600];

			snprintf(key, sizeof(key), "%s|%s",
				 json_string_value(json_object_get(
					 json_object_get(it, "pk"), "S")),
				 json_string_value(json_object_get(
					 json_object_get(it, "sk"), "S")));
			json_object_set(items, key, it);
		}
		last = json_incref(json_object_get(page, "LastEvaluatedKey"));
		json_decref(page);
		orc__aws_reply_clear(&rep);
	} while (last);
	orc__aws_client_clear(&c);
	return items;
}

static json_t *keys_of(json_t *item)
{
	return json_pack("{s:O, s:O}", "pk", json_object_get(item, "pk"),
			 "sk", json_object_get(item, "sk"));
}

size_t table_stream_poll(table_stream *s, json_t *out)
{
	json_t *now = table_stream_scan(s->table), *it, *old;
	const char *key;
	size_t n = 0;

	json_object_foreach(now, key, it) {
		json_t *rec, *ddb;
		char id[32];

		old = json_object_get(s->seen, key);
		if (old && json_equal(old, it))
			continue;
		ddb = json_pack("{s:o, s:O, s:s}", "Keys", keys_of(it),
				"NewImage", it, "StreamViewType",
				"NEW_AND_OLD_IMAGES");
		if (old)
			json_object_set(ddb, "OldImage", old);
		snprintf(id, sizeof(id), "ev-%06d", ++s->next_event);
		rec = json_pack("{s:s, s:s, s:s, s:s, s:o}", "eventID", id,
				"eventName", old ? "MODIFY" : "INSERT",
				"eventSource", "aws:dynamodb", "awsRegion",
				"us-east-1", "dynamodb", ddb);
		json_array_append_new(out, rec);
		n++;
	}
	json_decref(s->seen);
	s->seen = now;
	return n;
}

char *table_stream_batch(json_t *records)
{
	json_t *ev = json_pack("{s:O}", "Records", records);
	char *text = json_dumps(ev, JSON_COMPACT);

	json_decref(ev);
	return text;
}
