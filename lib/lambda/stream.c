/*
 * DynamoDB Streams events as Lambda delivers them: Records[] of
 * {eventID, eventName, eventSource, dynamodb: {Keys, OldImage, NewImage}}
 * with attribute values in DynamoDB JSON ({"S": ...}, {"N": "12"}).
 * Each record is parsed on its own, so one bad record is reported alone.
 */
#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lambda/handlers.h"

static int bad(orc__lh_record *r, const char *fmt, ...) ORC_PRINTF(2, 3);

static int bad(orc__lh_record *r, const char *fmt, ...)
{
	va_list ap;

	r->bad = 1;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* The string of a {"S": ...} attribute value, or NULL. */
static const char *attr_s(json_t *image, const char *name)
{
	return json_string_value(json_object_get(json_object_get(image, name),
						 "S"));
}

/* A {"N": "..."} attribute as an integer; 0 with *ok = 0 otherwise. */
static int64_t attr_n(json_t *image, const char *name, int *ok)
{
	const char *s = json_string_value(
		json_object_get(json_object_get(image, name), "N"));
	char *end;
	long long v;

	*ok = 0;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return 0;
	*ok = 1;
	return (int64_t)v;
}

static int wf_state(const char *name)
{
	int s;

	for (s = 0; s < ORC_WORKFLOW_STATE_COUNT; s++)
		if (strcmp(name, orc_workflow_state_name(
					 (orc_workflow_state)s)) == 0)
			return s;
	return -1;
}

/* State in @p image: -1 when the image is absent; -2 when unusable. */
static int image_state(json_t *image, orc__lh_rec_kind kind)
{
	orc_task_state ts;
	const char *s;

	if (!image)
		return -1;
	if (!(s = attr_s(image, "state")))
		return -2;
	if (kind == ORC__REC_WORKFLOW)
		return wf_state(s) >= 0 ? wf_state(s) : -2;
	return orc_task_state_parse(&ts, s, NULL) == ORC_OK ? (int)ts : -2;
}

/* "<prefix><id>" into @p dst; 0 when it is not that or not an id. */
static int key_id(char *dst, const char *key, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(key, prefix, n) != 0)
		return 0;
	if (orc_dag_check_id(key + n, NULL) != ORC_OK)
		return 0;
	orc__strlcpy(dst, key + n, ORC_ID_MAX + 1);
	return 1;
}

static int parse_record(orc__lh_record *r, json_t *rec, size_t i)
{
	json_t *ddb, *keys, *oldi, *newi;
	const char *name, *src, *pk, *sk;
	int ok;

	r->old_state = r->new_state = -1;
	r->new_version = -1;
	if (!json_is_object(rec))
		return bad(r, "Records[%zu] is not an object", i);
	r->event_id = json_string_value(json_object_get(rec, "eventID"));
	if (r->event_id && !*r->event_id)
		r->event_id = NULL;
	src = json_string_value(json_object_get(rec, "eventSource"));
	if (src && strcmp(src, "aws:dynamodb") != 0)
		return bad(r, "Records[%zu]: eventSource %.60s is not "
			   "aws:dynamodb", i, src);
	name = json_string_value(json_object_get(rec, "eventName"));
	if (!name || (strcmp(name, "INSERT") && strcmp(name, "MODIFY") &&
		      strcmp(name, "REMOVE")))
		return bad(r, "Records[%zu]: eventName must be INSERT, "
			   "MODIFY or REMOVE", i);
	r->remove = strcmp(name, "REMOVE") == 0;
	r->insert = strcmp(name, "INSERT") == 0;
	ddb = json_object_get(rec, "dynamodb");
	keys = json_object_get(ddb, "Keys");
	pk = attr_s(keys, "pk");
	sk = attr_s(keys, "sk");
	if (!json_is_object(ddb) || !pk || !sk)
		return bad(r, "Records[%zu]: dynamodb.Keys needs string pk "
			   "and sk", i);
	if (strncmp(pk, "WORKFLOW#", 9) != 0) {
		r->kind = ORC__REC_OTHER;
		return 0;
	}
	if (!key_id(r->wf_id, pk, "WORKFLOW#"))
		return bad(r, "Records[%zu]: pk is not WORKFLOW#<id>", i);
	if (strcmp(sk, "META#WORKFLOW") == 0)
		r->kind = ORC__REC_WORKFLOW;
	else if (key_id(r->task_id, sk, "TASK#"))
		r->kind = ORC__REC_TASK;
	else
		return bad(r, "Records[%zu]: sk is neither META#WORKFLOW nor "
			   "TASK#<id>", i);
	if (r->remove)
		return 0;
	oldi = json_object_get(ddb, "OldImage");
	newi = json_object_get(ddb, "NewImage");
	if (!json_is_object(newi))
		return bad(r, "Records[%zu]: no NewImage (the stream must "
			   "be NEW_AND_OLD_IMAGES)", i);
	if (oldi && !json_is_object(oldi))
		return bad(r, "Records[%zu]: OldImage is not an object", i);
	r->old_state = image_state(oldi, r->kind);
	r->new_state = image_state(newi, r->kind);
	if (r->old_state == -2 || r->new_state == -2)
		return bad(r, "Records[%zu]: image without a known state", i);
	r->new_version = attr_n(newi, "version", &ok);
	if (!ok || r->new_version < 0)
		return bad(r, "Records[%zu]: NewImage has no version number",
			   i);
	r->created_ms = attr_n(newi, "createdMs", &ok);
	r->updated_ms = attr_n(newi, "updatedMs", &ok);
	if (r->kind == ORC__REC_TASK) {
		int64_t a = attr_n(newi, "attempt", &ok);

		r->attempt = ok && a >= 0 && a <= INT32_MAX ? (int32_t)a : 0;
		r->not_before_ms = attr_n(newi, "notBeforeMs", &ok);
		r->done_deps = json_object_get(json_object_get(newi,
							       "doneDeps"),
					       "SS");
		if (!json_is_array(r->done_deps))
			r->done_deps = NULL;
	}
	return 0;
}

orc_status orc__lh_parse_stream(orc__lh_batch *out, const char *event,
				size_t len, orc_error *err)
{
	json_t *root, *recs;
	orc_status st;
	size_t i;

	memset(out, 0, sizeof(*out));
	if ((st = orc__lh_parse_object(&root, event, len, "stream event",
				       err)) != ORC_OK)
		return st;
	recs = json_object_get(root, "Records");
	if (!json_is_array(recs)) {
		json_decref(root);
		return orc_error_set(err, ORC_EINVAL,
				     "stream event: \"Records\" must be an "
				     "array");
	}
	out->root = root;
	out->n = json_array_size(recs);
	if (out->n) {
		out->recs = orc__calloc(out->n, sizeof(*out->recs));
		if (!out->recs) {
			orc__lh_batch_clear(out);
			return orc_error_set(err, ORC_ENOMEM, "out of memory");
		}
	}
	for (i = 0; i < out->n; i++)
		parse_record(&out->recs[i], json_array_get(recs, i), i);
	return ORC_OK;
}

void orc__lh_batch_clear(orc__lh_batch *b)
{
	if (!b)
		return;
	json_decref(b->root);
	orc_free(b->recs);
	memset(b, 0, sizeof(*b));
}
