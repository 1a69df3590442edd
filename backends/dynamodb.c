/*
 * The DynamoDB backend: the seed's single-table layout.
 *
 *   workflow  pk "WORKFLOW#<id>"  sk "META#WORKFLOW"
 *   task      pk "WORKFLOW#<id>"  sk "TASK#<task id>"
 *   lease     pk "LOCK#<name>"    sk "META#LOCK"
 *
 * Every write but the seeding batch (below) is one conditional PutItem or
 * UpdateItem: attribute names go
 * through ExpressionAttributeNames and every value through a placeholder,
 * so no id or payload ever becomes part of an expression. States are
 * stored by name, numbers as N, the done-dependency set as a string set
 * (ADD is idempotent), and each write stamps "wid", a random id of that
 * write: when a write meets ConditionalCheckFailed, the item is read back
 * and a matching wid means an earlier attempt of this very write was
 * applied and only its answer was lost, which is success, not a conflict.
 * The check does not depend on our retry count: libcurl itself silently
 * resends a request whose reused connection died without an answer.
 *
 * create_workflow seeds up to 99 tasks in one TransactWriteItems (the
 * record only if absent, and the tasks) where the server has it; a
 * server without it (dynalite) is found out at the first start and not
 * asked again. Otherwise, and for larger workflows, it writes the
 * workflow record first, conditional on its absence, then the tasks in
 * BatchWriteItem requests: two requests for
 * up to 25 tasks. Batches carry no conditions, so only the start that
 * wrote the record sends them, once each (never resent: a task it wrote
 * may have moved on); what is unknown after an error is written with
 * conditional PutItems instead. The record holds a deadline, seedUntil:
 * a start or reconcile that finds tasks missing after it writes them,
 * each only if absent (the first starter died in between). One window
 * stays: libcurl's own resend (above) of a batch whose answer was lost
 * could rewrite a task claimed in the milliseconds between; the tasks
 * are readable only from the record's write on, and a claim needs a
 * worker to have listed them by then.
 *
 * PROMOTE is a second conditional UpdateItem (version and PENDING), as
 * backend.h allows, unless a hint of what this backend last saw of the
 * task says the dependency completes the set: then adding it and READY
 * go in one UpdateItem whose condition checks the guess. list_tasks is
 * a paginated Query of the workflow's partition with a state filter;
 * list_workflows a paginated Scan; list_live a Query of the sparse index
 * orc-live (workflow records carry "live" until the write that ends
 * them, which sets "ttl" instead), or a Scan on a table without it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "internal.h"
#include "aws/client.h"
#include "orchestra/backend.h"
#include "orchestra/backends.h"

/* DynamoDB's item limit, names and values counted. */
#define ITEM_MAX (400 * 1024)
/* What a task item holds besides its payloads, at most. */
#define TASK_RESERVE 2048

#define SK_WORKFLOW "META#WORKFLOW"
#define SK_LOCK "META#LOCK"

/* The sparse index of live records: a workflow record carries
 * live = "WORKFLOW" from its start until the write that ends it, so the
 * index holds only live workflows, ordered by pk. */
#define LIVE_INDEX "orc-live"
#define LIVE_ATTR "live"
#define LIVE_WORKFLOW "WORKFLOW"
/* Retention of finished workflows (ttl) by default: 30 days. */
#define RETENTION_MS (30LL * 24 * 3600 * 1000)
#define RETENTION_MAX_MS (100LL * 366 * 24 * 3600 * 1000)

/* What this backend last saw of a task's dependencies: a hint only,
 * never trusted for correctness (see dep_last_write). */
struct dep_hint {
	uint64_t key;           /* 0 = empty */
	uint32_t ndeps, ndone;
};

#define HINTS 256

struct ex;

typedef struct ddb_backend {
	orc_backend parent;     /* first: the core sees only this */
	orc__aws_client client;
	char table[256];
	int64_t seed_grace_ms;
	struct ex *spare;       /* expression buffers kept between writes */
	orc__buf upd;           /* the UpdateExpression, likewise */
	uint64_t rng;
	struct dep_hint hints[HINTS];
	orc__buf req;           /* the request body, reused */
	int64_t retention_ms;   /* -1: no ttl */
	/* The live index: 0 not tried yet, 1 there, -1 missing (a table
	 * made without it: list_live Scans). Found out once. */
	int live_index;
	/* TransactWriteItems for seeding: 0 not tried yet, 1 works, -1
	 * not used (off, or the server has no such operation). */
	int txn;
	/* The last start that failed part way (a fault, no answer): its
	 * workflow and write id. A driver that retries the same start on
	 * this backend then sends the same wid, so the record it may have
	 * written reads as its own, and the tasks a lost batch may have
	 * left out are written (each only if absent). */
	char retry_wf[ORC_ID_MAX + 1];
	char retry_wid[17];
} ddb_backend;

#define DB(b) ((ddb_backend *)(void *)(b))

/* ---- small JSON helpers ---- */

static json_t *S(const char *s)
{
	return json_pack("{s:s}", "S", s);
}

static json_t *N(int64_t v)
{
	char n[32];

	snprintf(n, sizeof(n), "%lld", (long long)v);
	return json_pack("{s:s}", "N", n);
}

static const char *item_s(const json_t *item, const char *name)
{
	return json_string_value(json_object_get(json_object_get(item, name),
						 "S"));
}

static int64_t item_n(const json_t *item, const char *name)
{
	const char *v = json_string_value(json_object_get(
		json_object_get(item, name), "N"));

	return v ? strtoll(v, NULL, 10) : 0;
}

static size_t item_ss_count(const json_t *item, const char *name)
{
	return json_array_size(json_object_get(json_object_get(item, name),
					       "SS"));
}

static int item_ss_has(const json_t *item, const char *name, const char *v)
{
	json_t *a = json_object_get(json_object_get(item, name), "SS");
	size_t i;

	for (i = 0; i < json_array_size(a); i++)
		if (strcmp(json_string_value(json_array_get(a, i)), v) == 0)
			return 1;
	return 0;
}

/* DynamoDB's size of an item: names plus values (numbers generously). */
static size_t item_size(const json_t *item)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	json_object_foreach((json_t *)item, k, v) {
		const char *t;
		json_t *x;

		n += strlen(k);
		json_object_foreach(v, t, x) {
			size_t i;

			if (json_is_string(x))
				n += strlen(json_string_value(x)) +
				     (strcmp(t, "N") == 0 ? 2 : 0);
			for (i = 0; i < json_array_size(x); i++) {
				json_t *e = json_array_get(x, i);

				if (json_is_string(e))
					n += strlen(json_string_value(e)) + 1;
				else
					n += item_size(e) + 3;
			}
		}
	}
	return n;
}

static void new_wid(ddb_backend *db, char out[17])
{
	snprintf(out, 17, "%016llx",
		 (unsigned long long)orc__rand_next(&db->rng));
}

/* Does @p item carry the write id @p wid (our write, applied)? */
static int wid_is(const json_t *item, const char *wid)
{
	const char *w = item ? item_s(item, "wid") : NULL;

	return w && strcmp(w, wid) == 0;
}

/* ---- dependency hints ---- */

static uint64_t hint_key(const char *wf_id, const char *task_id)
{
	uint64_t h = 1469598103934665603ull;
	const char *p;

	for (p = wf_id; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ 0xffu) * 1099511628211ull;
	for (p = task_id; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h ? h : 1;
}

static void hint_put(ddb_backend *db, const char *wf_id, const char *task_id,
		     uint32_t ndeps, uint32_t ndone)
{
	uint64_t k = hint_key(wf_id, task_id);
	struct dep_hint *h = &db->hints[k % HINTS];

	h->key = k;
	h->ndeps = ndeps;
	h->ndone = ndone;
}

static void hint_from_item(ddb_backend *db, const char *wf_id,
			   const char *task_id, const json_t *item)
{
	if (item)
		hint_put(db, wf_id, task_id, (uint32_t)item_n(item, "ndeps"),
			 (uint32_t)item_ss_count(item, "doneDeps"));
}

/* Is one more done dependency likely to complete the set? *ndeps_out is
 * the count the hint believes in. */
static int hint_last(ddb_backend *db, const char *wf_id, const char *task_id,
		     uint32_t *ndeps_out)
{
	uint64_t k = hint_key(wf_id, task_id);
	const struct dep_hint *h = &db->hints[k % HINTS];

	*ndeps_out = h->ndeps;
	return h->key == k && h->ndeps > 0 && h->ndone + 1 == h->ndeps;
}

/* ---- keys ---- */

/* {"S": "<prefix><id>"} */
static json_t *prefixed(const char *prefix, const char *id)
{
	size_t n = strlen(prefix), m = strlen(id);
	char *k = orc__malloc(n + m + 1);
	json_t *j;

	if (!k)
		return NULL;
	memcpy(k, prefix, n);
	memcpy(k + n, id, m + 1);
	j = S(k);
	free(k);
	return j;
}

static json_t *wf_pk(const char *wf_id)
{
	return prefixed("WORKFLOW#", wf_id);
}

static json_t *task_sk(const char *task_id)
{
	return prefixed("TASK#", task_id);
}

static json_t *key_of(json_t *pk, json_t *sk)
{
	return json_pack("{s:o?,s:o?}", "pk", pk, "sk", sk);
}

static json_t *wf_key(const char *wf_id)
{
	return key_of(wf_pk(wf_id), S(SK_WORKFLOW));
}

static json_t *task_key(const char *wf_id, const char *task_id)
{
	return key_of(wf_pk(wf_id), task_sk(task_id));
}

static json_t *lock_key(const char *name)
{
	return key_of(prefixed("LOCK#", name), S(SK_LOCK));
}

/* ---- expressions: names and values only through placeholders ---- */

/* @p s as a JSON string (quoted, escaped), after @p prefix (plain). */
static void put_jstr(orc__buf *b, const char *prefix, const char *s)
{
	static const char hx[] = "0123456789abcdef";
	const char *p, *run;

	orc__buf_putc(b, '"');
	orc__buf_puts(b, prefix);
	for (p = run = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		orc__buf_add(b, run, (size_t)(p - run));
		run = p + 1;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			orc__buf_add(b, e, 2);
		} else {
			char e[6] = { '\\', 'u', '0', '0', hx[c >> 4],
				      hx[c & 15] };

			orc__buf_add(b, e, 6);
		}
	}
	orc__buf_add(b, run, (size_t)(p - run));
	orc__buf_putc(b, '"');
}

/* Names and values are kept as the text of JSON object members
 * ("#a":"a",... and ":v0":{"N":"1"},...): the hot writes are sent as
 * text without building JSON trees (allocations per request). */
struct ex {
	orc__buf names, values;
	orc__buf cond, set, remove, add;
	int nv;
};

static void ex_init(struct ex *x)
{
	memset(x, 0, sizeof(*x));
}

static void ex_free(struct ex *x)
{
	orc__buf_free(&x->names);
	orc__buf_free(&x->values);
	orc__buf_free(&x->cond);
	orc__buf_free(&x->set);
	orc__buf_free(&x->remove);
	orc__buf_free(&x->add);
}

/*
 * The task writes take their buffers from the backend and give them
 * back (ex_keep), so a write allocates nothing once they have grown.
 */
static void ex_take(struct ex *x, ddb_backend *db)
{
	if (!db->spare) {
		ex_init(x);
		return;
	}
	*x = *db->spare;
	x->nv = 0;
	orc__buf_reset(&x->names);
	orc__buf_reset(&x->values);
	orc__buf_reset(&x->cond);
	orc__buf_reset(&x->set);
	orc__buf_reset(&x->remove);
	orc__buf_reset(&x->add);
	ex_init(db->spare);  /* taken: nothing there to free twice */
}

static void ex_keep(struct ex *x, ddb_backend *db)
{
	if (!db->spare)
		db->spare = orc__calloc(1, sizeof(*db->spare));
	if (!db->spare) {
		ex_free(x);
		return;
	}
	ex_free(db->spare);
	*db->spare = *x;
}

/* Append "#name" (our attribute names are plain words) to @p b. */
static void ex_name(struct ex *x, orc__buf *b, const char *name)
{
	char ph[64], member[72];

	snprintf(ph, sizeof(ph), "#%s", name);
	snprintf(member, sizeof(member), "\"%s\":", ph);
	if (!x->names.data || !strstr(x->names.data, member)) {
		if (x->names.len)
			orc__buf_putc(&x->names, ',');
		orc__buf_puts(&x->names, member);
		put_jstr(&x->names, "", name);
	}
	orc__buf_puts(b, ph);
}

/* Append ":vN" to @p b and open its member in the values. */
static void ex_ph(struct ex *x, orc__buf *b)
{
	char ph[32];

	snprintf(ph, sizeof(ph), ":v%d", x->nv++);
	orc__buf_puts(b, ph);
	if (x->values.len)
		orc__buf_putc(&x->values, ',');
	orc__buf_printf(&x->values, "\"%s\":", ph);
}

/* Append ":vN" to @p b, bound to @p v (stolen). */
static void ex_val(struct ex *x, orc__buf *b, json_t *v)
{
	size_t n;

	ex_ph(x, b);
	n = v ? json_dumpb(v, NULL, 0, JSON_COMPACT) : 0;
	if (!n || !orc__buf_reserve(&x->values, n)) {
		b->oom = 1;
	} else {
		json_dumpb(v, x->values.data + x->values.len, n,
			   JSON_COMPACT);
		x->values.len += n;
		x->values.data[x->values.len] = '\0';
	}
	json_decref(v);
}

/* The same for a string, a number, a set of one string: no JSON tree. */
static void ex_vs(struct ex *x, orc__buf *b, const char *v)
{
	ex_ph(x, b);
	orc__buf_puts(&x->values, "{\"S\":");
	put_jstr(&x->values, "", v ? v : "");
	orc__buf_putc(&x->values, '}');
}

static void ex_vn(struct ex *x, orc__buf *b, int64_t v)
{
	ex_ph(x, b);
	orc__buf_printf(&x->values, "{\"N\":\"%lld\"}", (long long)v);
}

static void ex_vss(struct ex *x, orc__buf *b, const char *v)
{
	ex_ph(x, b);
	orc__buf_puts(&x->values, "{\"SS\":[");
	put_jstr(&x->values, "", v ? v : "");
	orc__buf_puts(&x->values, "]}");
}

static void ex_and(struct ex *x)
{
	if (x->cond.len)
		orc__buf_puts(&x->cond, " AND ");
}

/* "AND #name op " in the condition; the value follows. */
static orc__buf *ex_op(struct ex *x, const char *name, const char *op)
{
	ex_and(x);
	ex_name(x, &x->cond, name);
	orc__buf_printf(&x->cond, " %s ", op);
	return &x->cond;
}

static void ex_cond(struct ex *x, const char *name, const char *op, json_t *v)
{
	ex_val(x, ex_op(x, name, op), v);
}

static void ex_cond_n(struct ex *x, const char *name, const char *op,
		      int64_t v)
{
	ex_vn(x, ex_op(x, name, op), v);
}

static void ex_cond_s(struct ex *x, const char *name, const char *op,
		      const char *v)
{
	ex_vs(x, ex_op(x, name, op), v);
}

static void ex_exists(struct ex *x, int exists)
{
	ex_and(x);
	orc__buf_puts(&x->cond, exists ? "attribute_exists(" :
					 "attribute_not_exists(");
	ex_name(x, &x->cond, "pk");
	orc__buf_putc(&x->cond, ')');
}

/* ", #name = " in the SET list; the value follows. */
static orc__buf *ex_lhs(struct ex *x, const char *name)
{
	if (x->set.len)
		orc__buf_puts(&x->set, ", ");
	ex_name(x, &x->set, name);
	orc__buf_puts(&x->set, " = ");
	return &x->set;
}

static void ex_set_n(struct ex *x, const char *name, int64_t v)
{
	ex_vn(x, ex_lhs(x, name), v);
}

static void ex_set_s(struct ex *x, const char *name, const char *v)
{
	ex_vs(x, ex_lhs(x, name), v);
}

static void ex_remove(struct ex *x, const char *name)
{
	if (x->remove.len)
		orc__buf_puts(&x->remove, ", ");
	ex_name(x, &x->remove, name);
}

/* SET version = version + 1, updatedMs, wid. */
static void ex_bump(struct ex *x, int64_t now_ms, const char *wid)
{
	if (x->set.len)
		orc__buf_puts(&x->set, ", ");
	ex_name(x, &x->set, "version");
	orc__buf_puts(&x->set, " = ");
	ex_name(x, &x->set, "version");
	orc__buf_puts(&x->set, " + ");
	ex_vn(x, &x->set, 1);
	ex_set_n(x, "updatedMs", now_ms);
	ex_set_s(x, "wid", wid);
}

/* state IN (...) for the states of @p mask, named by @p name_of. */
static void ex_states(struct ex *x, uint32_t mask, int count,
		      const char *(*name_of)(int))
{
	int i, first = 1;

	ex_and(x);
	ex_name(x, &x->cond, "state");
	orc__buf_puts(&x->cond, " IN (");
	for (i = 0; i < count; i++) {
		if (!(mask & (1u << (unsigned)i)))
			continue;
		if (!first)
			orc__buf_puts(&x->cond, ", ");
		first = 0;
		ex_vs(x, &x->cond, name_of(i));
	}
	if (first)  /* no valid state in the mask: never true */
		ex_vs(x, &x->cond, "");
	orc__buf_putc(&x->cond, ')');
}

/* Put the expressions into request @p req; 0 when out of memory. */
/* "SET ... REMOVE ... ADD ..." into @p u. */
static void ex_update(struct ex *x, orc__buf *u)
{
	if (x->set.len)
		orc__buf_printf(u, "SET %s", x->set.data);
	if (x->remove.len)
		orc__buf_printf(u, "%sREMOVE %s", u->len ? " " : "",
				x->remove.data);
	if (x->add.len)
		orc__buf_printf(u, "%sADD %s", u->len ? " " : "",
				x->add.data);
}

static int ex_oom(const struct ex *x)
{
	return x->cond.oom || x->set.oom || x->remove.oom || x->add.oom ||
	       x->names.oom || x->values.oom;
}

/* Members text as a JSON object into @p req under @p key; 0 on failure. */
static int members_into(json_t *req, const char *key, const orc__buf *m)
{
	orc__buf t = ORC__BUF_INIT;
	json_t *o;

	if (!m->len)
		return 1;
	orc__buf_putc(&t, '{');
	orc__buf_add(&t, m->data, m->len);
	orc__buf_putc(&t, '}');
	o = t.oom ? NULL : json_loadb(t.data, t.len, 0, NULL);
	orc__buf_free(&t);
	return o && json_object_set_new(req, key, o) == 0;
}

/* Put the expressions into request @p req; 0 when out of memory. */
static int ex_into(struct ex *x, json_t *req)
{
	orc__buf u = ORC__BUF_INIT;
	int ok;

	ex_update(x, &u);
	if (ex_oom(x) || u.oom) {
		orc__buf_free(&u);
		return 0;
	}
	if (u.len)
		json_object_set_new(req, "UpdateExpression",
				    json_string(u.data));
	orc__buf_free(&u);
	if (x->cond.len)
		json_object_set_new(req, "ConditionExpression",
				    json_string(x->cond.data));
	ok = members_into(req, "ExpressionAttributeNames", &x->names) &&
	     members_into(req, "ExpressionAttributeValues", &x->values);
	return ok;
}

/* Put the expressions into @p req and free them; NULL (req freed) when
 * out of memory. */
static json_t *ex_finish(struct ex *x, json_t *req)
{
	if (req && !ex_into(x, req)) {
		json_decref(req);
		req = NULL;
	}
	ex_free(x);
	return req;
}

/* ---- calls ---- */

/*
 * Send @p req (stolen) as @p op. On ORC_OK, *resp_out (when given) holds
 * the parsed answer.
 */
/* Send the body in db->req as @p op; the answer parsed as for call(). */
static orc_status call_text(json_t **resp_out, ddb_backend *db,
			    const char *op, orc_error *err)
{
	orc__aws_reply rep;
	orc_status st;

	memset(&rep, 0, sizeof(rep));
	if (resp_out)
		*resp_out = NULL;
	if (db->req.oom || !db->req.data)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	st = orc__aws_call(&rep, &db->client, op, db->req.data, db->req.len,
			   err);
	if (st == ORC_OK && resp_out) {
		*resp_out = json_loads(rep.body.data ? rep.body.data : "", 0,
				       NULL);
		if (!*resp_out)
			st = orc_error_set(err, ORC_EBACKEND, "dynamodb %s: "
					   "answer is not JSON", op);
	}
	orc__aws_reply_clear(&rep);
	return st;
}

/* @p req (stolen, not NULL) as text into db->req (oom flagged there). */
static void req_dump(ddb_backend *db, json_t *req)
{
	size_t n;

	orc__buf_reset(&db->req);
	n = json_dumpb(req, NULL, 0, JSON_COMPACT);
	if (n && orc__buf_reserve(&db->req, n)) {
		json_dumpb(req, db->req.data, n, JSON_COMPACT);
		db->req.len = n;
		db->req.data[n] = '\0';
	} else {
		db->req.oom = 1;
	}
	json_decref(req);
}

static orc_status call(json_t **resp_out, ddb_backend *db,
		       const char *op, json_t *req, orc_error *err)
{
	if (resp_out)
		*resp_out = NULL;
	if (!req)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	/* BatchWriteItem names its table inside RequestItems. */
	if (strcmp(op, "BatchWriteItem") != 0)
		json_object_set_new(req, "TableName", json_string(db->table));
	req_dump(db, req);
	return call_text(resp_out, db, op, err);
}

/* A consistent GetItem; *item_out NULL when there is no such item. */
static orc_status get_item(json_t **item_out, ddb_backend *db, json_t *key,
			   orc_error *err)
{
	json_t *resp = NULL;
	orc_status st;

	*item_out = NULL;
	st = call(&resp, db, "GetItem",
		  json_pack("{s:o?,s:b}", "Key", key, "ConsistentRead", 1),
		  err);
	if (st != ORC_OK)
		return st;
	*item_out = json_incref(json_object_get(resp, "Item"));
	json_decref(resp);
	return ORC_OK;
}

/* ---- records ---- */

static const char *task_state_name(int s)
{
	return orc_task_state_name((orc_task_state)s);
}

static const char *wf_state_name(int s)
{
	return orc_workflow_state_name((orc_workflow_state)s);
}

static int wf_state_parse(const char *s, orc_workflow_state *out)
{
	int i;

	for (i = 0; s && i < ORC_WORKFLOW_STATE_COUNT; i++)
		if (strcmp(s, wf_state_name(i)) == 0) {
			*out = (orc_workflow_state)i;
			return 1;
		}
	return 0;
}

static int id_ok(const char *id)
{
	return id && *id && strlen(id) <= ORC_ID_MAX;
}

/* Strings are copied only with @p payloads; 0 when out of memory. */
static int task_from_item(orc_task_rec *out, const json_t *item,
			  int payloads)
{
	const char *id = item_s(item, "taskId"), *o = item_s(item, "owner");
	orc_task_state st = ORC_TASK_PENDING;

	memset(out, 0, sizeof(*out));
	orc__strlcpy(out->id, id ? id : "", sizeof(out->id));
	orc_task_state_parse(&st, item_s(item, "state"), NULL);
	out->state = st;
	out->version = item_n(item, "version");
	out->attempt = (int32_t)item_n(item, "attempt");
	out->ndeps = (uint32_t)item_n(item, "ndeps");
	out->ndone = (uint32_t)item_ss_count(item, "doneDeps");
	orc__strlcpy(out->owner, o ? o : "", sizeof(out->owner));
	out->lease_expiry_ms = item_n(item, "leaseExpiryMs");
	out->not_before_ms = item_n(item, "notBeforeMs");
	out->created_ms = item_n(item, "createdMs");
	out->updated_ms = item_n(item, "updatedMs");
	out->started_ms = item_n(item, "startedMs");
	out->ended_ms = item_n(item, "endedMs");
	if (payloads) {
		const char *po = item_s(item, "output");
		const char *pe = item_s(item, "error");

		out->output = orc_strdup(po);
		out->error = orc_strdup(pe);
		if ((po && !out->output) || (pe && !out->error)) {
			orc_task_rec_clear(out);
			return 0;
		}
	}
	return 1;
}

static int wf_from_item(orc_workflow_rec *out, const json_t *item,
			int full)
{
	const char *id = item_s(item, "workflowId");
	const char *d = item_s(item, "definition"), *in = item_s(item, "input");
	const char *e = item_s(item, "error");
	orc_workflow_state st = ORC_WORKFLOW_PENDING;

	memset(out, 0, sizeof(*out));
	orc__strlcpy(out->id, id ? id : "", sizeof(out->id));
	wf_state_parse(item_s(item, "state"), &st);
	out->state = st;
	out->version = item_n(item, "version");
	out->ntasks = (uint32_t)item_n(item, "ntasks");
	out->created_ms = item_n(item, "createdMs");
	out->updated_ms = item_n(item, "updatedMs");
	out->error = orc_strdup(e);
	if (full) {
		out->definition = orc_strdup(d);
		out->input = orc_strdup(in);
	}
	if ((e && !out->error) || (full && ((d && !out->definition) ||
					    (in && !out->input)))) {
		orc_workflow_rec_clear(out);
		return 0;
	}
	return 1;
}

/* A workflow record in state @p s: live (in the index) or, finished,
 * with its expiry, when creating @p item. */
static void ended_attrs(const ddb_backend *db, json_t *item,
			orc_workflow_state s)
{
	if (!orc_workflow_state_is_terminal(s))
		json_object_set_new(item, LIVE_ATTR, S(LIVE_WORKFLOW));
	else if (db->retention_ms >= 0)
		json_object_set_new(item, "ttl", N(orc__now_ms() / 1000 +
						   db->retention_ms / 1000));
}

static orc_status oom(orc_error *err)
{
	return orc_error_set(err, ORC_ENOMEM, "dynamodb: out of memory");
}

/* ---- workflows ---- */

static json_t *task_item(const char *wf_id, const orc_task_seed *t,
			 int64_t now_ms, const char *wid)
{
	json_t *item = json_object(), *deps = json_array();
	uint32_t i;

	if (!item || !deps) {
		json_decref(item);
		json_decref(deps);
		return NULL;
	}
	json_object_set_new(item, "pk", wf_pk(wf_id));
	json_object_set_new(item, "sk", task_sk(t->id));
	json_object_set_new(item, "workflowId", S(wf_id));
	json_object_set_new(item, "taskId", S(t->id));
	json_object_set_new(item, "state", S(task_state_name(
		t->ndeps ? ORC_TASK_PENDING : ORC_TASK_READY)));
	json_object_set_new(item, "version", N(1));
	json_object_set_new(item, "attempt", N(0));
	json_object_set_new(item, "ndeps", N(t->ndeps));
	json_object_set_new(item, "createdMs", N(now_ms));
	json_object_set_new(item, "updatedMs", N(now_ms));
	json_object_set_new(item, "wid", S(wid));
	for (i = 0; i < t->ndeps; i++)
		json_array_append_new(deps, json_pack("{s:s}", "S",
						      t->deps[i]));
	if (t->ndeps)
		json_object_set_new(item, "deps",
				    json_pack("{s:o}", "L", deps));
	else
		json_decref(deps);
	if (t->target && *t->target)
		json_object_set_new(item, "target", S(t->target));
	return item;
}

static orc_status seed_checks(const char *wf_id, const orc_task_seed *tasks,
			      size_t ntasks, orc_error *err)
{
	size_t i;
	uint32_t j;

	for (i = 0; i < ntasks; i++) {
		if (!id_ok(tasks[i].id))
			return orc_error_set(err, ORC_EINVAL, "workflow %s: "
					     "task %zu: id must be 1 to %d "
					     "bytes", wf_id, i, ORC_ID_MAX);
		if (tasks[i].ndeps && !tasks[i].deps)
			return orc_error_set(err, ORC_EINVAL, "workflow %s: "
					     "task %s: deps missing", wf_id,
					     tasks[i].id);
		for (j = 0; j < tasks[i].ndeps; j++)
			if (!id_ok(tasks[i].deps[j]))
				return orc_error_set(err, ORC_EINVAL,
						     "workflow %s: task %s: "
						     "bad dependency id",
						     wf_id, tasks[i].id);
	}
	return ORC_OK;
}

/* Write the tasks not there yet, each only if absent. */
static orc_status put_tasks(ddb_backend *db, const char *wf_id,
			    const orc_task_seed *tasks, size_t ntasks,
			    int64_t now_ms, orc_error *err)
{
	size_t i;

	for (i = 0; i < ntasks; i++) {
		char wid[17];
		json_t *item, *req;
		struct ex x;
		orc_status st;

		new_wid(db, wid);
		item = task_item(wf_id, &tasks[i], now_ms, wid);
		if (!item)
			return oom(err);
		if (item_size(item) > ITEM_MAX) {
			json_decref(item);
			return orc_error_set(err, ORC_ETOOBIG, "task %s in "
					     "workflow %s: record over "
					     "DynamoDB's 400 KB item limit",
					     tasks[i].id, wf_id);
		}
		ex_init(&x);
		ex_exists(&x, 0);
		req = ex_finish(&x, json_pack("{s:o}", "Item", item));
		if (!req)
			return oom(err);
		st = call(NULL, db, "PutItem", req, err);
		/* Already there (seeded before, or by our lost first
		 * attempt): left as it is. */
		if (st == ORC_ECONFLICT)
			continue;
		if (st != ORC_OK)
			return st;
		hint_put(db, wf_id, tasks[i].id, tasks[i].ndeps, 0);
	}
	return ORC_OK;
}

/* BatchWriteItem takes at most this many puts. */
#define BATCH_MAX 25
/* Rounds of UnprocessedItems before the rest go one by one. */
#define BATCH_ROUNDS 6

/*
 * One BatchWriteItem, sent once: the client's retries would resend puts
 * that may have been applied, over tasks that may have moved on since.
 * UnprocessedItems were not applied, so resending those is safe.
 */
static orc_status batch_once(json_t **resp, ddb_backend *db, json_t *puts,
			     orc_error *err)
{
	int attempts = db->client.max_attempts;
	orc_status st;

	db->client.max_attempts = 1;
	st = call(resp, db, "BatchWriteItem",
		  json_pack("{s:{s:O}}", "RequestItems", db->table, puts),
		  err);
	db->client.max_attempts = attempts;
	return st;
}

/*
 * Write every task in BatchWriteItem requests, resending what DynamoDB
 * leaves unprocessed (with backoff), and putting one by one what is left
 * after a few rounds. Unconditional, so only the starter that created
 * the workflow record calls this (see ddb_create_workflow).
 */
static orc_status batch_tasks(ddb_backend *db, const char *wf_id,
			      const orc_task_seed *tasks, size_t ntasks,
			      int64_t now_ms, const char *wid,
			      orc_error *err)
{
	size_t i, j;
	orc_status st = ORC_OK;

	for (i = 0; i < ntasks && st == ORC_OK; i += BATCH_MAX) {
		size_t n = ntasks - i < BATCH_MAX ? ntasks - i : BATCH_MAX;
		json_t *puts = json_array(), *left;
		int round;

		if (!puts)
			return oom(err);
		for (j = 0; j < n; j++) {
			json_t *item = task_item(wf_id, &tasks[i + j], now_ms,
						 wid);

			if (!item || json_array_append_new(puts, json_pack(
				    "{s:{s:o}}", "PutRequest", "Item", item))) {
				json_decref(puts);
				return oom(err);
			}
		}
		for (round = 0; st == ORC_OK && json_array_size(puts) > 0;
		     round++) {
			json_t *resp = NULL;

			if (round == BATCH_ROUNDS) {
				json_decref(puts);
				puts = NULL;
				/* Still unprocessed: one by one, each only
				 * if absent (what went through stays). */
				st = put_tasks(db, wf_id, tasks + i, n, now_ms,
					       err);
				break;
			}
			if (round > 0)
				orc__sleep_ms(25LL << (round - 1));
			st = batch_once(&resp, db, puts, err);
			if (st == ORC_ETHROTTLED) {
				st = ORC_OK;  /* refused whole: resend */
				continue;
			}
			if (st != ORC_OK && st != ORC_EINVAL &&
			    st != ORC_ETOOBIG && st != ORC_EAUTH) {
				/* No answer, or an error that a retry might
				 * not give: whether it was applied is
				 * unknown, and a task it wrote may already
				 * be claimed. Only conditional puts now. */
				json_decref(puts);
				puts = NULL;
				st = put_tasks(db, wf_id, tasks + i, n, now_ms,
					       err);
				break;
			}
			if (st != ORC_OK)
				break;
			left = json_object_get(json_object_get(
				resp, "UnprocessedItems"), db->table);
			json_decref(puts);
			puts = json_is_array(left) ? json_incref(left)
						   : json_array();
			json_decref(resp);
			if (!puts)
				st = oom(err);
		}
		json_decref(puts);
		for (j = 0; st == ORC_OK && j < n; j++)
			hint_put(db, wf_id, tasks[i + j].id,
				 tasks[i + j].ndeps, 0);
	}
	return st;
}

/*
 * The workflow record exists and is not ours. If its seeding deadline
 * passed with the deadline still on it, its starter died between the
 * record and the tasks: write the missing tasks (each only if absent),
 * then take the deadline off. Either way the answer is ORC_EEXISTS.
 */
static orc_status finish_seeding(ddb_backend *db, const char *wf_id,
				 const json_t *found,
				 const orc_task_seed *tasks, size_t ntasks,
				 int64_t now_ms, orc_error *err)
{
	const json_t *until = json_object_get(found, "seedUntil");
	json_t *req;
	struct ex x;
	orc_status st;

	if (until && item_n(found, "seedUntil") < orc__now_ms()) {
		st = put_tasks(db, wf_id, tasks, ntasks, now_ms, err);
		if (st != ORC_OK)
			return st;
		ex_init(&x);
		ex_exists(&x, 1);
		ex_remove(&x, "seedUntil");
		req = ex_finish(&x, json_pack("{s:o?}", "Key",
					      wf_key(wf_id)));
		if (!req)
			return oom(err);
		st = call(NULL, db, "UpdateItem", req, err);
		if (st != ORC_OK && st != ORC_ECONFLICT)
			return st;
	}
	return orc_error_set(err, ORC_EEXISTS, "workflow %s already exists",
			     wf_id);
}

/* For the conformance suite: tasks without their workflow record. */
orc_status orc__dynamodb_put_tasks(orc_backend *b, const char *wf_id,
				   const orc_task_seed *tasks, size_t ntasks,
				   int64_t now_ms, orc_error *err);

orc_status orc__dynamodb_put_tasks(orc_backend *b, const char *wf_id,
				   const orc_task_seed *tasks, size_t ntasks,
				   int64_t now_ms, orc_error *err)
{
	orc_status st;

	ORC_CHECK_ARG(b != NULL && id_ok(wf_id), err);
	st = seed_checks(wf_id, tasks, ntasks, err);
	return st != ORC_OK ? st : put_tasks(DB(b), wf_id, tasks, ntasks,
					     now_ms, err);
}

/*
 * The workflow record our conditional write met: ORC_OK with *ours set
 * when it carries our wid (an earlier attempt of this very write was
 * applied, its answer lost), else ORC_EEXISTS after finishing a seeding
 * that its starter left undone (finish_seeding).
 */
static orc_status record_met(int *ours, ddb_backend *db,
			     const orc_workflow_rec *wf,
			     const orc_task_seed *tasks, size_t ntasks,
			     const char *wid, orc_error *err)
{
	json_t *found = NULL;
	orc_status st;

	*ours = 0;
	st = get_item(&found, db, wf_key(wf->id), err);
	if (st == ORC_OK && !found)
		st = orc_error_set(err, ORC_ECONFLICT, "workflow %s: record "
				   "vanished while starting", wf->id);
	else if (st == ORC_OK && !wid_is(found, wid))
		st = finish_seeding(db, wf->id, found, tasks, ntasks,
				    wf->created_ms, err);
	else if (st == ORC_OK)
		*ours = 1;
	json_decref(found);
	return st;
}

/* TransactWriteItems holds at most 100 items and 4 MB. */
#define TXN_ITEMS 100
#define TXN_BYTES (4u * 1024 * 1024)

/* The first cancellation reason of a TransactionCanceledException. */
static int first_reason_is(const orc__aws_reply *rep, const char *code)
{
	json_t *b = json_loads(rep->body.data ? rep->body.data : "", 0, NULL);
	const char *c = json_string_value(json_object_get(json_array_get(
		json_object_get(b, "CancellationReasons"), 0), "Code"));
	int is = c && strcmp(c, code) == 0;

	json_decref(b);
	return is;
}

/*
 * Seed in one TransactWriteItems: @p record (borrowed) only if absent,
 * and every task, all or nothing. So no task is ever written without its
 * record, and no resend can rewrite a task: a resend after the first
 * attempt was applied fails on the record's condition (or is recognised
 * by its ClientRequestToken), and the wid read back says it was ours.
 * *fallback is set, and nothing was written, when the server refused
 * the transaction as a whole: the caller seeds record first.
 */
static orc_status seed_txn(int *fallback, ddb_backend *db,
			   const orc_workflow_rec *wf, json_t *record,
			   const orc_task_seed *tasks, size_t ntasks,
			   const char *wid, orc_error *err)
{
	json_t *items = json_array(), *req;
	orc__aws_reply rep;
	orc_error e;
	orc_status st;
	char token[40];
	size_t i;
	int ours;

	*fallback = 0;
	if (!items || json_array_append_new(items, json_pack(
		    "{s:{s:s,s:O,s:s,s:{s:s}}}", "Put", "TableName",
		    db->table, "Item", record, "ConditionExpression",
		    "attribute_not_exists(#pk)", "ExpressionAttributeNames",
		    "#pk", "pk"))) {
		json_decref(items);
		return oom(err);
	}
	for (i = 0; i < ntasks; i++) {
		json_t *t = task_item(wf->id, &tasks[i], wf->created_ms, wid);

		if (!t || json_array_append_new(items, json_pack(
			    "{s:{s:s,s:o}}", "Put", "TableName", db->table,
			    "Item", t))) {
			json_decref(items);
			return oom(err);
		}
	}
	/* Same token on every attempt: DynamoDB answers a resend of an
	 * applied transaction with success for 10 minutes. */
	snprintf(token, sizeof(token), "orc-seed-%s", wid);
	req = json_pack("{s:o,s:s}", "TransactItems", items,
			"ClientRequestToken", token);
	if (!req)
		return oom(err);
	req_dump(db, req);
	if (db->req.oom)
		return oom(err);
	memset(&rep, 0, sizeof(rep));
	st = orc__aws_call(&rep, &db->client, "TransactWriteItems",
			   db->req.data, db->req.len, &e);
	if (st == ORC_OK) {
		db->txn = 1;
	} else if (strcmp(rep.type, "TransactionCanceledException") == 0 &&
		   first_reason_is(&rep, "ConditionalCheckFailed")) {
		st = record_met(&ours, db, wf, tasks, ntasks, wid, err);
	} else if (rep.status >= 400 && rep.status < 500 &&
		   st != ORC_EAUTH && st != ORC_ETHROTTLED) {
		/* Refused whole, nothing written: canceled by a concurrent
		 * transaction, or no such operation here (dynalite's
		 * UnknownOperationException). A server that never took one
		 * is not asked again. */
		*fallback = 1;
		if (db->txn == 0 &&
		    strcmp(rep.type, "TransactionCanceledException") != 0)
			db->txn = -1;
		st = ORC_OK;
	} else if (err) {
		*err = e;
	}
	orc__aws_reply_clear(&rep);
	for (i = 0; st == ORC_OK && !*fallback && i < ntasks; i++)
		hint_put(db, wf->id, tasks[i].id, tasks[i].ndeps, 0);
	return st;
}

static orc_status seed(ddb_backend *db, const orc_workflow_rec *wf,
		       const orc_task_seed *tasks, size_t ntasks,
		       const char *wid, int again, orc_error *err);

static orc_status ddb_create_workflow(orc_backend *b,
				      const orc_workflow_rec *wf,
				      const orc_task_seed *tasks,
				      size_t ntasks, orc_error *err)
{
	ddb_backend *db = DB(b);
	char wid[17];
	orc_status st;
	int again;

	ORC_CHECK_ARG(b != NULL && wf != NULL, err);
	ORC_CHECK_ARG(tasks != NULL || ntasks == 0, err);
	if (!id_ok(wf->id))
		return orc_error_set(err, ORC_EINVAL, "workflow id must be 1 "
				     "to %d bytes", ORC_ID_MAX);
	if ((unsigned)wf->state >= ORC_WORKFLOW_STATE_COUNT)
		return orc_error_set(err, ORC_EINVAL, "workflow %s: invalid "
				     "state %d", wf->id, (int)wf->state);
	st = seed_checks(wf->id, tasks, ntasks, err);
	if (st != ORC_OK)
		return st;
	again = strcmp(db->retry_wf, wf->id) == 0;
	if (again)
		memcpy(wid, db->retry_wid, sizeof(wid));
	else
		new_wid(db, wid);
	st = seed(db, wf, tasks, ntasks, wid, again, err);
	/* Remember a start whose outcome is unknown, for its retry. */
	if (st == ORC_OK || st == ORC_EEXISTS || st == ORC_EINVAL ||
	    st == ORC_ETOOBIG || st == ORC_ENOMEM) {
		if (again)
			db->retry_wf[0] = '\0';
	} else {
		orc__strlcpy(db->retry_wf, wf->id, sizeof(db->retry_wf));
		memcpy(db->retry_wid, wid, sizeof(db->retry_wid));
	}
	return st;
}

/* ddb_create_workflow's writes with write id @p wid; @p again: a retry
 * of a start of ours that failed part way. */
static orc_status seed(ddb_backend *db, const orc_workflow_rec *wf,
		       const orc_task_seed *tasks, size_t ntasks,
		       const char *wid, int again, orc_error *err)
{
	json_t *item, *req;
	struct ex x;
	orc_status st;
	size_t i, bytes;
	int ours, fallback = 1;

	item = json_object();
	if (!item)
		return oom(err);
	json_object_set_new(item, "pk", wf_pk(wf->id));
	json_object_set_new(item, "sk", S(SK_WORKFLOW));
	json_object_set_new(item, "workflowId", S(wf->id));
	json_object_set_new(item, "state", S(wf_state_name(wf->state)));
	json_object_set_new(item, "version", N(1));
	json_object_set_new(item, "ntasks", N((int64_t)ntasks));
	json_object_set_new(item, "createdMs", N(wf->created_ms));
	json_object_set_new(item, "updatedMs", N(wf->updated_ms));
	json_object_set_new(item, "wid", S(wid));
	if (wf->definition)
		json_object_set_new(item, "definition", S(wf->definition));
	if (wf->input)
		json_object_set_new(item, "input", S(wf->input));
	if (wf->error)
		json_object_set_new(item, "error", S(wf->error));
	ended_attrs(db, item, wf->state);
	/* Every size is checked before anything is written. */
	bytes = item_size(item);
	if (bytes > ITEM_MAX) {
		json_decref(item);
		return orc_error_set(err, ORC_ETOOBIG, "workflow %s: record "
				     "(definition and input) over DynamoDB's "
				     "400 KB item limit", wf->id);
	}
	for (i = 0; i < ntasks; i++) {
		json_t *t = task_item(wf->id, &tasks[i], wf->created_ms, wid);
		size_t n = t ? item_size(t) : 0;

		json_decref(t);
		bytes += n;
		if (!t) {
			json_decref(item);
			return oom(err);
		}
		if (n > ITEM_MAX) {
			json_decref(item);
			return orc_error_set(err, ORC_ETOOBIG, "task %s in "
					     "workflow %s: record over "
					     "DynamoDB's 400 KB item limit",
					     tasks[i].id, wf->id);
		}
	}
	if (db->txn >= 0 && ntasks < TXN_ITEMS && bytes <= TXN_BYTES) {
		st = seed_txn(&fallback, db, wf, item, tasks, ntasks, wid,
			      err);
		if (!fallback) {
			json_decref(item);
			return st;
		}
	}
	/* The record first, only if absent: the one start that writes it
	 * seeds the tasks, so unconditional batches cannot undo a task a
	 * concurrent start has already advanced. Its deadline says when a
	 * start that died before its tasks may be finished by others. */
	json_object_set_new(item, "seedUntil",
			    N(orc__now_ms() + db->seed_grace_ms));
	ex_init(&x);
	ex_exists(&x, 0);
	req = ex_finish(&x, json_pack("{s:o}", "Item", item));
	if (!req)
		return oom(err);
	st = call(NULL, db, "PutItem", req, err);
	/* Ours, applied, the answer lost: seed. */
	if (st == ORC_ECONFLICT)
		st = record_met(&ours, db, wf, tasks, ntasks, wid, err);
	if (st != ORC_OK)
		return st;
	/* A retry after a start that failed part way: some tasks may be
	 * written, and claimed since; write the others only if absent. */
	if (again)
		return put_tasks(db, wf->id, tasks, ntasks, wf->created_ms,
				 err);
	return batch_tasks(db, wf->id, tasks, ntasks, wf->created_ms, wid,
			   err);
}

static orc_status ddb_get_workflow(orc_workflow_rec *out, orc_backend *b,
				   const char *wf_id, orc_error *err)
{
	json_t *item = NULL;
	orc_status st;

	ORC_CHECK_ARG(out != NULL && b != NULL && wf_id != NULL, err);
	if (!id_ok(wf_id))
		return orc_error_set(err, ORC_ENOTFOUND, "workflow %s not "
				     "found", wf_id);
	st = get_item(&item, DB(b), wf_key(wf_id), err);
	if (st != ORC_OK)
		return st;
	if (!item)
		return orc_error_set(err, ORC_ENOTFOUND, "workflow %s not "
				     "found", wf_id);
	if (!wf_from_item(out, item, 1))
		st = oom(err);
	json_decref(item);
	return st;
}

/* Why a conditional workflow write failed, from the record as found. */
static orc_status wf_diagnose(const json_t *item, const char *wf_id,
			      const orc_workflow_update *u, orc_error *err)
{
	orc_workflow_state s = ORC_WORKFLOW_PENDING;
	int64_t v;

	if (!item)
		return orc_error_set(err, ORC_ENOTFOUND, "workflow %s not "
				     "found", wf_id);
	wf_state_parse(item_s(item, "state"), &s);
	v = item_n(item, "version");
	if (u->if_states && !(u->if_states & ORC_WORKFLOW_BIT(s)))
		return orc_error_set(err, ORC_ECONFLICT, "workflow %s: state "
				     "%s not in the expected states", wf_id,
				     wf_state_name(s));
	if (u->if_version >= 0 && u->if_version != v)
		return orc_error_set(err, ORC_ECONFLICT, "workflow %s: "
				     "expected version %lld, found %lld",
				     wf_id, (long long)u->if_version,
				     (long long)v);
	return ORC_OK;
}

static orc_status ddb_update_workflow(orc_backend *b, const char *wf_id,
				      const orc_workflow_update *u,
				      orc_workflow_rec *out, orc_error *err)
{
	ddb_backend *db = DB(b);
	json_t *req, *resp = NULL, *item = NULL;
	char wid[17];
	struct ex x;
	orc_status st;

	ORC_CHECK_ARG(b != NULL && wf_id != NULL && u != NULL, err);
	if ((u->set & ORC_WSET_STATE) &&
	    (unsigned)u->state >= ORC_WORKFLOW_STATE_COUNT)
		return orc_error_set(err, ORC_EINVAL, "workflow %s: invalid "
				     "state %d", wf_id, (int)u->state);
	if (!id_ok(wf_id))
		return orc_error_set(err, ORC_ENOTFOUND, "workflow %s not "
				     "found", wf_id);
	if (!(u->set & (ORC_WSET_STATE | ORC_WSET_ERROR))) {
		/* Nothing to write: check the conditions on a read. */
		st = get_item(&item, db, wf_key(wf_id), err);
		if (st == ORC_OK)
			st = wf_diagnose(item, wf_id, u, err);
		goto answer;
	}
	if ((u->set & ORC_WSET_ERROR) && u->error &&
	    strlen(u->error) > ITEM_MAX - TASK_RESERVE)
		return orc_error_set(err, ORC_ETOOBIG, "workflow %s: error "
				     "over DynamoDB's 400 KB item limit",
				     wf_id);
	new_wid(db, wid);
	ex_init(&x);
	ex_exists(&x, 1);
	if (u->if_states)
		ex_states(&x, u->if_states, ORC_WORKFLOW_STATE_COUNT,
			  wf_state_name);
	if (u->if_version >= 0)
		ex_cond_n(&x, "version", "=", u->if_version);
	if (u->set & ORC_WSET_STATE)
		ex_set_s(&x, "state", wf_state_name(u->state));
	/* Ended, so every task was there: no start need check again. It
	 * leaves the live index and expires after the retention, in this
	 * same write. */
	if ((u->set & ORC_WSET_STATE) &&
	    orc_workflow_state_is_terminal(u->state)) {
		ex_remove(&x, "seedUntil");
		ex_remove(&x, LIVE_ATTR);
		if (db->retention_ms >= 0)
			ex_set_n(&x, "ttl", orc__now_ms() / 1000 +
					    db->retention_ms / 1000);
	} else if (u->set & ORC_WSET_STATE) {
		ex_set_s(&x, LIVE_ATTR, LIVE_WORKFLOW);
		ex_remove(&x, "ttl");
	}
	if ((u->set & ORC_WSET_ERROR) && u->error)
		ex_set_s(&x, "error", u->error);
	else if (u->set & ORC_WSET_ERROR)
		ex_remove(&x, "error");
	ex_bump(&x, u->now_ms, wid);
	req = json_pack("{s:o?,s:s}", "Key", wf_key(wf_id), "ReturnValues",
			"ALL_NEW");
	req = ex_finish(&x, req);
	if (!req)
		return oom(err);
	st = call(&resp, db, "UpdateItem", req, err);
	if (st == ORC_OK) {
		item = json_incref(json_object_get(resp, "Attributes"));
	} else if (st == ORC_ECONFLICT) {
		st = get_item(&item, db, wf_key(wf_id), err);
		if (st == ORC_OK && !wid_is(item, wid)) {
			st = wf_diagnose(item, wf_id, u, err);
			if (st == ORC_OK) /* changed in between; say so */
				st = orc_error_set(err, ORC_ECONFLICT,
						   "workflow %s: changed "
						   "concurrently", wf_id);
		}
	}
answer:
	if (out && item && (st == ORC_OK || st == ORC_ECONFLICT) &&
	    !wf_from_item(out, item, 0))
		st = oom(err);
	json_decref(resp);
	json_decref(item);
	return st;
}

/* ---- tasks ---- */

static orc_status task_not_found(orc_error *err, const char *wf_id,
				 const char *task_id)
{
	return orc_error_set(err, ORC_ENOTFOUND, "task %s in workflow %s not "
			     "found", task_id, wf_id);
}

static orc_status ddb_get_task(orc_task_rec *out, orc_backend *b,
			       const char *wf_id, const char *task_id,
			       uint32_t flags, orc_error *err)
{
	json_t *item = NULL;
	orc_status st;

	ORC_CHECK_ARG(out != NULL && b != NULL, err);
	ORC_CHECK_ARG(wf_id != NULL && task_id != NULL, err);
	if (!id_ok(wf_id) || !id_ok(task_id))
		return task_not_found(err, wf_id, task_id);
	st = get_item(&item, DB(b), task_key(wf_id, task_id), err);
	if (st != ORC_OK)
		return st;
	if (!item)
		return task_not_found(err, wf_id, task_id);
	hint_from_item(DB(b), wf_id, task_id, item);
	if (!task_from_item(out, item, (flags & ORC_LIST_PAYLOADS) != 0))
		st = oom(err);
	json_decref(item);
	return st;
}

/*
 * Why a conditional task write failed, from the item as found: ORC_OK
 * means every condition the caller gave holds (the extra "dependency not
 * yet done" condition is what failed).
 */
static orc_status task_diagnose(const json_t *item, const char *wf_id,
				const char *task_id,
				const orc_task_update *u, orc_error *err)
{
	orc_task_state s = ORC_TASK_PENDING;
	int64_t v;

	if (!item)
		return task_not_found(err, wf_id, task_id);
	orc_task_state_parse(&s, item_s(item, "state"), NULL);
	v = item_n(item, "version");
	if ((u->set & ORC_SET_DONE_DEP) &&
	    (int64_t)u->done_dep_index >= item_n(item, "ndeps"))
		return orc_error_set(err, ORC_EINVAL, "task %s in workflow %s: "
				     "dependency index %u out of range (%lld "
				     "dependencies)", task_id, wf_id,
				     u->done_dep_index,
				     (long long)item_n(item, "ndeps"));
	if (u->if_states && !(u->if_states & ORC_TASK_BIT(s)))
		return orc_error_set(err, ORC_ECONFLICT, "task %s in workflow "
				     "%s: state %s not in the expected states",
				     task_id, wf_id, orc_task_state_name(s));
	if (u->if_version >= 0 && u->if_version != v)
		return orc_error_set(err, ORC_ECONFLICT, "task %s in workflow "
				     "%s: expected version %lld, found %lld",
				     task_id, wf_id, (long long)u->if_version,
				     (long long)v);
	return ORC_OK;
}

static size_t slen(const char *s)
{
	return s ? strlen(s) : 0;
}

/* The caller's conditions of a task write: the item exists, its state
 * and version are as asked, a done dependency's index is in range. */
static void ex_task_conds(struct ex *x, const orc_task_update *u)
{
	ex_exists(x, 1);
	if (u->if_states)
		ex_states(x, u->if_states, ORC_TASK_STATE_COUNT,
			  task_state_name);
	if (u->if_version >= 0)
		ex_cond_n(x, "version", "=", u->if_version);
	if (u->set & ORC_SET_DONE_DEP)
		ex_cond_n(x, "ndeps", ">", u->done_dep_index);
}

/* AND NOT contains(doneDeps, :dep) */
static void ex_not_done(struct ex *x, const char *dep)
{
	ex_and(x);
	orc__buf_puts(&x->cond, "NOT contains(");
	ex_name(x, &x->cond, "doneDeps");
	orc__buf_puts(&x->cond, ", ");
	ex_vs(x, &x->cond, dep);
	orc__buf_putc(&x->cond, ')');
}

/* ADD doneDeps {dep}: a set, so adding twice is adding once. */
static void ex_add_dep(struct ex *x, const char *dep)
{
	ex_name(x, &x->add, "doneDeps");
	orc__buf_putc(&x->add, ' ');
	ex_vss(x, &x->add, dep);
}

/* UpdateItem of a task with the expressions of @p x (freed), answering
 * the item as written in *item_out, or, when @p item_out is NULL, asking
 * for nothing back (no item to send, parse or allocate). */
static orc_status update_item(json_t **item_out, ddb_backend *db,
			      const char *wf_id, const char *task_id,
			      struct ex *x, orc_error *err)
{
	orc__buf *q = &db->req, *u = &db->upd;
	json_t *resp = NULL;
	orc_status st;

	/* Written as text: the hot path builds no JSON tree. */
	if (item_out)
		*item_out = NULL;
	orc__buf_reset(u);
	ex_update(x, u);
	orc__buf_reset(q);
	orc__buf_puts(q, "{\"TableName\":");
	put_jstr(q, "", db->table);
	orc__buf_puts(q, ",\"Key\":{\"pk\":{\"S\":");
	put_jstr(q, "WORKFLOW#", wf_id);
	orc__buf_puts(q, "},\"sk\":{\"S\":");
	put_jstr(q, "TASK#", task_id);
	orc__buf_puts(q, item_out ? "}},\"ReturnValues\":\"ALL_NEW\""
				  : "}},\"ReturnValues\":\"NONE\"");
	if (u->len) {
		orc__buf_puts(q, ",\"UpdateExpression\":");
		put_jstr(q, "", u->data);
	}
	if (x->cond.len) {
		orc__buf_puts(q, ",\"ConditionExpression\":");
		put_jstr(q, "", x->cond.data);
	}
	if (x->names.len)
		orc__buf_printf(q, ",\"ExpressionAttributeNames\":{%s}",
				x->names.data);
	if (x->values.len) {
		orc__buf_puts(q, ",\"ExpressionAttributeValues\":{");
		orc__buf_add(q, x->values.data, x->values.len);
		orc__buf_putc(q, '}');
	}
	orc__buf_putc(q, '}');
	if (u->oom || ex_oom(x))
		q->oom = 1;
	ex_keep(x, db);
	st = call_text(item_out ? &resp : NULL, db, "UpdateItem", err);
	if (st == ORC_OK && item_out)
		*item_out = json_incref(json_object_get(resp, "Attributes"));
	json_decref(resp);
	return st;
}

/* The one conditional UpdateItem of update_task (without PROMOTE). */
static orc_status task_write(json_t **item_out, ddb_backend *db,
			     const char *wf_id, const char *task_id,
			     const orc_task_update *u, int want,
			     orc_error *err)
{
	const uint32_t set = u->set;
	int dep_only = !(set & ~(ORC_SET_DONE_DEP | ORC_SET_PROMOTE));
	json_t *item = NULL;
	char wid[17];
	struct ex x;
	orc_status st;

	*item_out = NULL;
	new_wid(db, wid);
	ex_take(&x, db);
	ex_task_conds(&x, u);
	if (set & ORC_SET_DONE_DEP) {
		/* A dependency already done changes nothing. */
		if (dep_only)
			ex_not_done(&x, u->done_dep);
		ex_add_dep(&x, u->done_dep);
	}
	if (set & ORC_SET_STATE)
		ex_set_s(&x, "state", task_state_name(u->state));
	if (set & ORC_SET_ATTEMPT)
		ex_set_n(&x, "attempt", u->attempt);
	if (set & ORC_SET_LEASE) {
		if (u->owner && *u->owner)
			ex_set_s(&x, "owner", u->owner);
		else
			ex_remove(&x, "owner");
		ex_set_n(&x, "leaseExpiryMs", u->lease_expiry_ms);
	}
	if (set & ORC_SET_NOT_BEFORE)
		ex_set_n(&x, "notBeforeMs", u->not_before_ms);
	if (set & ORC_SET_STARTED)
		ex_set_n(&x, "startedMs", u->started_ms);
	if (set & ORC_SET_ENDED)
		ex_set_n(&x, "endedMs", u->ended_ms);
	if ((set & ORC_SET_OUTPUT) && u->output)
		ex_set_s(&x, "output", u->output);
	else if (set & ORC_SET_OUTPUT)
		ex_remove(&x, "output");
	if ((set & ORC_SET_ERROR) && u->error)
		ex_set_s(&x, "error", u->error);
	else if (set & ORC_SET_ERROR)
		ex_remove(&x, "error");
	ex_bump(&x, u->now_ms, wid);
	st = update_item(want ? item_out : NULL, db, wf_id, task_id, &x,
			 err);
	if (st == ORC_OK)
		return ORC_OK;
	if (st == ORC_ETOOBIG)
		return orc_error_set(err, ORC_ETOOBIG, "task %s in workflow "
				     "%s: record over DynamoDB's 400 KB item "
				     "limit", task_id, wf_id);
	if (st != ORC_ECONFLICT)
		return st;
	st = get_item(&item, db, task_key(wf_id, task_id), err);
	if (st != ORC_OK)
		return st;
	if (wid_is(item, wid)) {
		*item_out = item;   /* ours, applied; the answer was lost */
		return ORC_OK;
	}
	st = task_diagnose(item, wf_id, task_id, u, err);
	if (st == ORC_OK && dep_only &&
	    item_ss_has(item, "doneDeps", u->done_dep)) {
		*item_out = item;   /* already done: nothing to write */
		return ORC_OK;
	}
	if (st == ORC_OK)
		st = orc_error_set(err, ORC_ECONFLICT, "task %s in workflow "
				   "%s: changed concurrently", task_id, wf_id);
	*item_out = item;
	return st;
}

/* PENDING with every dependency done -> READY, if still at @p version. */
static orc_status task_promote(json_t **item_io, ddb_backend *db,
			       const char *wf_id, const char *task_id,
			       int64_t now_ms, orc_error *err)
{
	json_t *item = NULL;
	char wid[17];
	struct ex x;
	orc_status st;

	new_wid(db, wid);
	ex_take(&x, db);
	ex_cond_n(&x, "version", "=", item_n(*item_io, "version"));
	ex_cond_s(&x, "state", "=", task_state_name(ORC_TASK_PENDING));
	ex_set_s(&x, "state", task_state_name(ORC_TASK_READY));
	ex_bump(&x, now_ms, wid);
	st = update_item(&item, db, wf_id, task_id, &x, err);
	if (st == ORC_ECONFLICT) {
		/* Someone else wrote first (maybe promoted it): promotion is
		 * idempotent and reconcile repeats it, so report what is. */
		st = get_item(&item, db, task_key(wf_id, task_id), err);
		if (st == ORC_OK && !item)
			st = task_not_found(err, wf_id, task_id);
	}
	if (st != ORC_OK) {
		json_decref(item);
		return st;
	}
	json_decref(*item_io);
	*item_io = item;
	return ORC_OK;
}

/*
 * DONE_DEP + PROMOTE in one UpdateItem when the hint says this dependency
 * is the last one: add it and make the task READY, on condition that the
 * task is PENDING with exactly ndeps - 1 others done. DynamoDB cannot
 * make a write's effect depend on the item, so the hint picks the effect
 * and the condition checks it. ORC_ECONFLICT (with the item as found)
 * means the hint was wrong, the dependency was already done, or the
 * caller's conditions fail.
 */
static orc_status dep_last_write(json_t **item_out, ddb_backend *db,
				 const char *wf_id, const char *task_id,
				 const orc_task_update *u, uint32_t ndeps,
				 orc_error *err)
{
	json_t *item = NULL;
	char wid[17];
	struct ex x;
	orc_status st;

	new_wid(db, wid);
	ex_take(&x, db);
	ex_task_conds(&x, u);
	ex_cond_n(&x, "ndeps", "=", ndeps);
	ex_cond_s(&x, "state", "=", task_state_name(ORC_TASK_PENDING));
	if (ndeps == 1) {
		ex_and(&x);
		orc__buf_puts(&x.cond, "attribute_not_exists(");
		ex_name(&x, &x.cond, "doneDeps");
		orc__buf_putc(&x.cond, ')');
	} else {
		ex_not_done(&x, u->done_dep);
		orc__buf_puts(&x.cond, " AND size(");
		ex_name(&x, &x.cond, "doneDeps");
		orc__buf_puts(&x.cond, ") = ");
		ex_vn(&x, &x.cond, ndeps - 1);
	}
	ex_add_dep(&x, u->done_dep);
	ex_set_s(&x, "state", task_state_name(ORC_TASK_READY));
	ex_bump(&x, u->now_ms, wid);
	st = update_item(item_out, db, wf_id, task_id, &x, err);
	if (st != ORC_ECONFLICT)
		return st;
	/* Applied by an attempt whose answer was lost? */
	st = get_item(&item, db, task_key(wf_id, task_id), err);
	if (st != ORC_OK)
		return st;
	*item_out = item;   /* as found, for the caller to judge */
	return wid_is(item, wid) ? ORC_OK : ORC_ECONFLICT;
}

static orc_status ddb_update_task(orc_backend *b, const char *wf_id,
				  const char *task_id, const orc_task_update *u,
				  orc_task_rec *out, orc_error *err)
{
	ddb_backend *db = DB(b);
	json_t *item = NULL;
	orc_status st;
	uint32_t set, ndeps = 0;

	ORC_CHECK_ARG(b != NULL && wf_id != NULL && task_id != NULL, err);
	ORC_CHECK_ARG(u != NULL, err);
	set = u->set;
	if ((set & ORC_SET_STATE) &&
	    (unsigned)u->state >= ORC_TASK_STATE_COUNT)
		return orc_error_set(err, ORC_EINVAL, "task %s in workflow %s: "
				     "invalid state %d", task_id, wf_id,
				     (int)u->state);
	if ((set & ORC_SET_LEASE) && u->owner &&
	    strlen(u->owner) > ORC_OWNER_MAX)
		return orc_error_set(err, ORC_EINVAL, "task %s in workflow %s: "
				     "lease owner longer than %d bytes",
				     task_id, wf_id, ORC_OWNER_MAX);
	if ((set & ORC_SET_DONE_DEP) && !id_ok(u->done_dep))
		return orc_error_set(err, ORC_EINVAL, "task %s in workflow %s: "
				     "bad done dependency id", task_id, wf_id);
	if (!id_ok(wf_id) || !id_ok(task_id))
		return task_not_found(err, wf_id, task_id);
	/* Checked before sending: the item would be over the limit. */
	if (((set & ORC_SET_OUTPUT) ? slen(u->output) : 0) +
	    ((set & ORC_SET_ERROR) ? slen(u->error) : 0) >
	    ITEM_MAX - TASK_RESERVE)
		return orc_error_set(err, ORC_ETOOBIG, "task %s in workflow "
				     "%s: output and error over DynamoDB's "
				     "400 KB item limit", task_id, wf_id);
	st = ORC_ECONFLICT;
	if (set == (ORC_SET_DONE_DEP | ORC_SET_PROMOTE) &&
	    hint_last(db, wf_id, task_id, &ndeps)) {
		st = dep_last_write(&item, db, wf_id, task_id, u, ndeps, err);
		if (st != ORC_OK && st != ORC_ECONFLICT)
			return st;
		/* Done already (a redelivery) and the caller's conditions
		 * hold: nothing to write, as task_write would find. */
		if (st == ORC_ECONFLICT && item &&
		    item_ss_has(item, "doneDeps", u->done_dep) &&
		    task_diagnose(item, wf_id, task_id, u, NULL) == ORC_OK)
			st = ORC_OK;
		if (st == ORC_ECONFLICT) {
			/* The hint was wrong: the general path decides. */
			json_decref(item);
			item = NULL;
		}
	}
	if (st == ORC_OK) {
		/* Added and promoted in one write. */
	} else if (set & ~ORC_SET_PROMOTE) {
		/* Claims and completions rarely want the record back:
		 * then the answer is empty. The done set and promotion
		 * need it, and so does the dependency hint. */
		st = task_write(&item, db, wf_id, task_id, u,
				out || (set & (ORC_SET_DONE_DEP |
					       ORC_SET_PROMOTE)), err);
	} else {
		/* Only PROMOTE: check the conditions on a read. */
		st = get_item(&item, db, task_key(wf_id, task_id), err);
		if (st == ORC_OK)
			st = task_diagnose(item, wf_id, task_id, u, err);
	}
	if (st == ORC_OK && (set & ORC_SET_PROMOTE) && item) {
		orc_task_state s = ORC_TASK_PENDING;

		orc_task_state_parse(&s, item_s(item, "state"), NULL);
		if (s == ORC_TASK_PENDING &&
		    (int64_t)item_ss_count(item, "doneDeps") ==
		    item_n(item, "ndeps"))
			st = task_promote(&item, db, wf_id, task_id, u->now_ms,
					  err);
	}
	if (item && (st == ORC_OK || st == ORC_ECONFLICT))
		hint_from_item(db, wf_id, task_id, item);
	if (out && item && (st == ORC_OK || st == ORC_ECONFLICT) &&
	    !task_from_item(out, item, 0))
		st = oom(err);
	json_decref(item);
	return st;
}

/*
 * Query (or Scan) every page of @p req, calling @p each per item. @p each
 * returns 0 to go on, 1 to stop, -1 when out of memory.
 */
static orc_status paginate(ddb_backend *db, const char *op, json_t *req,
			   int (*each)(const json_t *item, void *ud), void *ud,
			   orc_error *err)
{
	json_t *start = NULL;
	orc_status st = ORC_OK;

	for (;;) {
		json_t *r = json_deep_copy(req), *resp = NULL, *items;
		size_t i;
		int stop = 0;

		if (!r) {
			st = oom(err);
			break;
		}
		if (start)
			json_object_set_new(r, "ExclusiveStartKey", start);
		start = NULL;
		st = call(&resp, db, op, r, err);
		if (st != ORC_OK)
			break;
		items = json_object_get(resp, "Items");
		for (i = 0; i < json_array_size(items) && !stop; i++)
			stop = each(json_array_get(items, i), ud);
		start = json_incref(json_object_get(resp, "LastEvaluatedKey"));
		json_decref(resp);
		if (stop < 0)
			st = oom(err);
		if (stop || !start)
			break;
	}
	json_decref(start);
	json_decref(req);
	return st;
}

struct list_ctx {
	uint32_t flags;
	orc_task_rec_cb tcb;
	orc_workflow_rec_cb wcb;
	void *payload;
};

static int each_task(const json_t *item, void *ud)
{
	struct list_ctx *c = ud;
	orc_task_rec r;
	int stop;

	if (!task_from_item(&r, item, (c->flags & ORC_LIST_PAYLOADS) != 0))
		return -1;
	stop = c->tcb(&r, c->payload) != 0;
	orc_task_rec_clear(&r);
	return stop;
}

static orc_status ddb_list_tasks(orc_backend *b, const char *wf_id,
				 uint32_t states, uint32_t flags,
				 orc_task_rec_cb cb, void *payload,
				 orc_error *err)
{
	struct list_ctx c = { flags, cb, NULL, payload };
	static const char *const fields[] = { "taskId", "state", "version",
		"attempt", "ndeps", "doneDeps", "owner", "leaseExpiryMs",
		"notBeforeMs", "createdMs", "updatedMs", "startedMs",
		"endedMs", NULL };
	orc__buf proj = ORC__BUF_INIT;
	json_t *req;
	struct ex x;
	int i, bad;

	ORC_CHECK_ARG(b != NULL && wf_id != NULL && cb != NULL, err);
	if (!id_ok(wf_id))
		return ORC_OK;
	ex_init(&x);
	ex_cond(&x, "pk", "=", wf_pk(wf_id));
	ex_and(&x);
	orc__buf_puts(&x.cond, "begins_with(");
	ex_name(&x, &x.cond, "sk");
	orc__buf_puts(&x.cond, ", ");
	ex_vs(&x, &x.cond, "TASK#");
	orc__buf_putc(&x.cond, ')');
	/* Payloads are read only when asked for. */
	for (i = 0; fields[i]; i++) {
		if (i)
			orc__buf_puts(&proj, ", ");
		ex_name(&x, &proj, fields[i]);
	}
	if (flags & ORC_LIST_PAYLOADS) {
		orc__buf_puts(&proj, ", ");
		ex_name(&x, &proj, "output");
		orc__buf_puts(&proj, ", ");
		ex_name(&x, &proj, "error");
	}
	req = json_pack("{s:s?,s:b}", "ProjectionExpression", proj.data,
			"ConsistentRead", 1);
	bad = proj.oom || x.cond.oom;
	if (req && x.cond.data)
		json_object_set_new(req, "KeyConditionExpression",
				    json_string(x.cond.data));
	orc__buf_reset(&x.cond);
	if (states) {
		ex_states(&x, states, ORC_TASK_STATE_COUNT, task_state_name);
		bad |= x.cond.oom;
		if (req && x.cond.data)
			json_object_set_new(req, "FilterExpression",
					    json_string(x.cond.data));
		orc__buf_reset(&x.cond);
	}
	if (bad) {
		json_decref(req);
		req = NULL;
	}
	orc__buf_free(&proj);
	req = ex_finish(&x, req);
	if (!req)
		return oom(err);
	return paginate(DB(b), "Query", req, each_task, &c, err);
}

static int each_workflow(const json_t *item, void *ud)
{
	struct list_ctx *c = ud;
	orc_workflow_rec r;
	int stop;

	if (!wf_from_item(&r, item, 0))
		return -1;
	stop = c->wcb(&r, c->payload) != 0;
	orc_workflow_rec_clear(&r);
	return stop;
}

/* A Scan of every workflow record, projected on @p f; only those in
 * @p states when not 0. NULL when out of memory. */
static json_t *wf_scan(const char *const *f, uint32_t states, int consistent)
{
	orc__buf proj = ORC__BUF_INIT;
	json_t *req;
	struct ex x;
	int i;

	ex_init(&x);
	ex_cond_s(&x, "sk", "=", SK_WORKFLOW);
	if (states)
		ex_states(&x, states, ORC_WORKFLOW_STATE_COUNT,
			  wf_state_name);
	for (i = 0; f[i]; i++) {
		if (i)
			orc__buf_puts(&proj, ", ");
		ex_name(&x, &proj, f[i]);
	}
	req = proj.oom ? NULL : json_pack("{s:s}", "ProjectionExpression",
					  proj.data);
	orc__buf_free(&proj);
	if (req && consistent)
		json_object_set_new(req, "ConsistentRead", json_true());
	if (req && x.cond.data)
		json_object_set_new(req, "FilterExpression",
				    json_string(x.cond.data));
	orc__buf_reset(&x.cond);
	return ex_finish(&x, req);
}

static orc_status ddb_list_workflows(orc_backend *b, orc_workflow_rec_cb cb,
				     void *payload, orc_error *err)
{
	struct list_ctx c = { 0, NULL, cb, payload };
	static const char *const f[] = { "workflowId", "state", "version",
		"ntasks", "createdMs", "updatedMs", "error", NULL };
	json_t *req;

	ORC_CHECK_ARG(b != NULL && cb != NULL, err);
	req = wf_scan(f, 0, 0);
	if (!req)
		return oom(err);
	return paginate(DB(b), "Scan", req, each_workflow, &c, err);
}

struct live_ctx {
	const orc_live_query *q;
	orc_workflow_rec_cb cb;
	void *payload;
	size_t given;
	/* Scan: the live records, sorted before they are given. */
	orc_workflow_rec *recs;
	size_t n, cap;
};

static int live_give(struct live_ctx *c, const orc_workflow_rec *r)
{
	if (c->q->limit && c->given >= c->q->limit)
		return 1;
	c->given++;
	return c->cb(r, c->payload) != 0 ||
	       (c->q->limit && c->given >= c->q->limit);
}

static int each_live(const json_t *item, void *ud)
{
	struct live_ctx *c = ud;
	orc_workflow_rec r;

	if (!wf_from_item(&r, item, 0))
		return -1;
	/* Not projected into the index by a table made elsewhere. */
	if (!item_s(item, "state"))
		r.state = ORC_WORKFLOW_RUNNING;
	orc_workflow_rec_clear(&r);
	if (orc_workflow_state_is_terminal(r.state))
		return 0;  /* leaving the index just now */
	return live_give(c, &r);
}

static int each_live_scanned(const json_t *item, void *ud)
{
	struct live_ctx *c = ud;
	orc_workflow_rec *r;
	const char *after = c->q->after ? c->q->after : "";

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		void *v = orc__realloc(c->recs, cap * sizeof(*c->recs));

		if (!v)
			return -1;
		c->recs = v;
		c->cap = cap;
	}
	r = &c->recs[c->n];
	if (!wf_from_item(r, item, 0))
		return -1;
	orc_workflow_rec_clear(r);
	if (strcmp(r->id, after) > 0)
		c->n++;
	return 0;
}

static int live_cmp(const void *a, const void *b)
{
	return strcmp(((const orc_workflow_rec *)a)->id,
		      ((const orc_workflow_rec *)b)->id);
}

/* A table without the index (the seed's): every workflow record is
 * read, consistently, and the live ones sorted and paged here. */
static orc_status live_scan(ddb_backend *db, struct live_ctx *c,
			    orc_error *err)
{
	static const char *const f[] = { "workflowId", "state", "createdMs",
		NULL };
	json_t *req;
	orc_status st;
	size_t i;

	req = wf_scan(f, ORC_WORKFLOW_BIT(ORC_WORKFLOW_PENDING) |
		      ORC_WORKFLOW_BIT(ORC_WORKFLOW_RUNNING), 1);
	if (!req)
		return oom(err);
	st = paginate(db, "Scan", req, each_live_scanned, c, err);
	if (st == ORC_OK && c->n > 1)
		qsort(c->recs, c->n, sizeof(*c->recs), live_cmp);
	for (i = 0; st == ORC_OK && i < c->n; i++)
		if (live_give(c, &c->recs[i]))
			break;
	free(c->recs);
	return st;
}

/* One Query of the index, in pages; ascending pk is ascending id. */
static orc_status live_query(ddb_backend *db, struct live_ctx *c,
			     orc_error *err)
{
	json_t *req;
	struct ex x;

	ex_init(&x);
	ex_cond_s(&x, LIVE_ATTR, "=", LIVE_WORKFLOW);
	ex_cond(&x, "pk", ">", wf_pk(c->q->after ? c->q->after : ""));
	req = json_pack("{s:s}", "IndexName", LIVE_INDEX);
	/* Read no more than asked for; a page holds 1 MB at most anyway. */
	if (req && c->q->limit)
		json_object_set_new(req, "Limit", json_integer(
			c->q->limit < 1000 ? (json_int_t)c->q->limit : 1000));
	if (req && x.cond.data)
		json_object_set_new(req, "KeyConditionExpression",
				    json_string(x.cond.data));
	orc__buf_reset(&x.cond);
	req = ex_finish(&x, req);
	if (!req)
		return oom(err);
	return paginate(db, "Query", req, each_live, c, err);
}

static orc_status ddb_list_live(orc_backend *b, const orc_live_query *q,
				orc_workflow_rec_cb cb, void *payload,
				orc_error *err)
{
	ddb_backend *db = DB(b);
	struct live_ctx c;
	orc_error e;
	orc_status st;

	ORC_CHECK_ARG(b != NULL && q != NULL && cb != NULL, err);
	if (q->kind != ORC_LIVE_WORKFLOWS)
		return orc_error_set(err, ORC_ENOTSUPPORTED, "dynamodb "
				     "backend: unknown live kind %d", q->kind);
	memset(&c, 0, sizeof(c));
	c.q = q;
	c.cb = cb;
	c.payload = payload;
	if (db->live_index >= 0) {
		st = live_query(db, &c, &e);
		/* The only ValidationException this request can meet is the
		 * table's lack of the index; nothing was given yet. */
		if (st == ORC_EINVAL && c.given == 0 && db->live_index == 0 &&
		    strstr(e.message, LIVE_INDEX)) {
			db->live_index = -1;
		} else {
			if (st == ORC_OK)
				db->live_index = 1;
			else if (err)
				*err = e;
			return st;
		}
	}
	return live_scan(db, &c, err);
}

/* ---- leases ---- */

static orc_status ddb_get_lock(orc_lock_rec *out, orc_backend *b,
			       const char *name, orc_error *err)
{
	json_t *item = NULL;
	const char *o;
	orc_status st;

	ORC_CHECK_ARG(out != NULL && b != NULL && name != NULL, err);
	if (!id_ok(name))
		return orc_error_set(err, ORC_ENOTFOUND, "lock %s not found",
				     name);
	st = get_item(&item, DB(b), lock_key(name), err);
	if (st != ORC_OK)
		return st;
	if (!item)
		return orc_error_set(err, ORC_ENOTFOUND, "lock %s not found",
				     name);
	memset(out, 0, sizeof(*out));
	orc__strlcpy(out->name, name, sizeof(out->name));
	o = item_s(item, "owner");
	orc__strlcpy(out->owner, o ? o : "", sizeof(out->owner));
	out->version = item_n(item, "version");
	out->expiry_ms = item_n(item, "expiryMs");
	json_decref(item);
	return ORC_OK;
}

static orc_status ddb_put_lock(orc_backend *b, const orc_lock_rec *rec,
			       int64_t expected, orc_error *err)
{
	ddb_backend *db = DB(b);
	json_t *item, *req, *found = NULL;
	char wid[17];
	struct ex x;
	orc_status st;

	ORC_CHECK_ARG(b != NULL && rec != NULL, err);
	if (!rec->name[0] || !memchr(rec->name, '\0', sizeof(rec->name)) ||
	    !memchr(rec->owner, '\0', sizeof(rec->owner)))
		return orc_error_set(err, ORC_EINVAL, "lock: name must be 1 to "
				     "%d bytes and owner terminated",
				     ORC_ID_MAX);
	if (expected < 0 || rec->version != expected + 1)
		return orc_error_set(err, ORC_EINVAL, "lock %s: version %lld "
				     "must be expected version %lld + 1",
				     rec->name, (long long)rec->version,
				     (long long)expected);
	new_wid(db, wid);
	item = lock_key(rec->name);
	if (!item)
		return oom(err);
	json_object_set_new(item, "lockName", S(rec->name));
	if (rec->owner[0])
		json_object_set_new(item, "owner", S(rec->owner));
	json_object_set_new(item, "version", N(rec->version));
	json_object_set_new(item, "expiryMs", N(rec->expiry_ms));
	json_object_set_new(item, "wid", S(wid));
	ex_init(&x);
	if (expected == 0)
		ex_exists(&x, 0);
	else
		ex_cond_n(&x, "version", "=", expected);
	req = json_pack("{s:o}", "Item", item);
	req = ex_finish(&x, req);
	if (!req)
		return oom(err);
	st = call(NULL, db, "PutItem", req, err);
	if (st != ORC_ECONFLICT)
		return st;
	st = get_item(&found, db, lock_key(rec->name), err);
	if (st == ORC_OK && wid_is(found, wid))
		st = ORC_OK;
	else if (st == ORC_OK && !found)
		st = orc_error_set(err, ORC_ECONFLICT, "lock %s: expected "
				   "version %lld, found none", rec->name,
				   (long long)expected);
	else if (st == ORC_OK)
		st = orc_error_set(err, ORC_ECONFLICT, "lock %s: expected "
				   "version %lld, found %lld", rec->name,
				   (long long)expected,
				   (long long)item_n(found, "version"));
	json_decref(found);
	return st;
}

/* ---- the rest ---- */

/* For tests: the backend's AWS client (retry delays, counters). */
orc__aws_client *orc__dynamodb_client(orc_backend *b);

orc__aws_client *orc__dynamodb_client(orc_backend *b)
{
	return b ? &DB(b)->client : NULL;
}

static orc_status ddb_ctl(orc_backend *b, int op, void *arg, orc_error *err)
{
	ddb_backend *db = DB(b);

	ORC_CHECK_ARG(b != NULL, err);
	if (op == ORC_DYNAMODB_CTL_STATS) {
		orc_dynamodb_stats *s = arg;

		ORC_CHECK_ARG(arg != NULL, err);
		s->calls = db->client.calls;
		s->requests = db->client.attempts;
		s->retries = db->client.retries;
		return ORC_OK;
	}
	if (op == ORC_DYNAMODB_CTL_DEP_HINT) {
		const orc_dynamodb_dep_hint *h = arg;

		ORC_CHECK_ARG(h != NULL && h->wf_id && h->task_id &&
			      h->ndone < h->ndeps, err);
		hint_put(db, h->wf_id, h->task_id, h->ndeps, h->ndone);
		return ORC_OK;
	}
	return orc_error_set(err, ORC_ENOTSUPPORTED, "dynamodb backend: "
			     "unknown ctl op %d", op);
}

static void ddb_free(orc_backend *b)
{
	ddb_backend *db = DB(b);

	if (!b)
		return;
	orc__aws_client_clear(&db->client);
	orc__buf_free(&db->req);
	orc__buf_free(&db->upd);
	if (db->spare)
		ex_free(db->spare);
	free(db->spare);
	free(db);
	curl_global_cleanup();
}

static orc_status client_open(orc__aws_client *c,
			      const orc_dynamodb_options *opts,
			      orc_error *err)
{
	orc__aws_client_options o;

	memset(&o, 0, sizeof(o));
	o.service = "dynamodb";
	o.endpoint_env = "AWS_ENDPOINT_URL_DYNAMODB";
	o.target_prefix = "DynamoDB_20120810.";
	o.content_type = "application/x-amz-json-1.0";
	o.region = opts->region;
	o.endpoint = opts->endpoint;
	o.profile = opts->profile;
	o.max_attempts = opts->max_attempts;
	o.connect_timeout_ms = opts->connect_timeout_ms;
	o.request_timeout_ms = opts->request_timeout_ms;
	return orc__aws_client_init(c, &o, err);
}

static orc_status check_opts(const orc_dynamodb_options *opts,
			     orc_error *err)
{
	ORC_CHECK_ARG(opts != NULL, err);
	if (opts->version < 1 || opts->version > ORC_DYNAMODB_OPTIONS_VERSION)
		return orc_error_set(err, ORC_EINVAL, "dynamodb options: "
				     "unknown version %u", opts->version);
	if (!opts->table || !*opts->table || strlen(opts->table) > 255)
		return orc_error_set(err, ORC_EINVAL, "dynamodb options: table "
				     "name required (1 to 255 bytes)");
	if (opts->max_attempts < 0 || opts->connect_timeout_ms < 0 ||
	    opts->request_timeout_ms < 0 ||
	    (opts->version >= 2 && opts->seed_grace_ms < 0))
		return orc_error_set(err, ORC_EINVAL, "dynamodb options: "
				     "negative attempts or timeout");
	if (opts->version >= 3 &&
	    opts->transactions != ORC_DYNAMODB_TXN_AUTO &&
	    opts->transactions != ORC_DYNAMODB_TXN_OFF)
		return orc_error_set(err, ORC_EINVAL, "dynamodb options: "
				     "transactions %d is neither AUTO nor OFF",
				     opts->transactions);
	if (opts->version >= 3 && (opts->retention_ms < -1 ||
				   opts->retention_ms > RETENTION_MAX_MS))
		return orc_error_set(err, ORC_EINVAL, "dynamodb options: "
				     "retention_ms %lld not in -1 (none) to "
				     "100 years", (long long)opts->retention_ms);
	return ORC_OK;
}

ORC_API orc_status orc_dynamodb_backend_open(orc_backend **out,
					     const orc_dynamodb_options *opts,
					     orc_error *err)
{
	ddb_backend *db;
	orc_status st;

	ORC_CHECK_ARG(out != NULL, err);
	*out = NULL;
	st = check_opts(opts, err);
	if (st != ORC_OK)
		return st;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return orc_error_set(err, ORC_EBACKEND, "curl_global_init "
				     "failed");
	db = orc__calloc(1, sizeof(*db));
	if (!db) {
		curl_global_cleanup();
		return oom(err);
	}
	orc_backend_init(&db->parent, ORC_BACKEND_VERSION);
	db->parent.name = "dynamodb";
	db->parent.caps = 0;
	db->parent.create_workflow = ddb_create_workflow;
	db->parent.get_workflow = ddb_get_workflow;
	db->parent.update_workflow = ddb_update_workflow;
	db->parent.get_task = ddb_get_task;
	db->parent.update_task = ddb_update_task;
	db->parent.list_tasks = ddb_list_tasks;
	db->parent.get_lock = ddb_get_lock;
	db->parent.put_lock = ddb_put_lock;
	db->parent.free = ddb_free;
	db->parent.list_workflows = ddb_list_workflows;
	db->parent.ctl = ddb_ctl;
	db->parent.list_live = ddb_list_live;
	orc__strlcpy(db->table, opts->table, sizeof(db->table));
	db->seed_grace_ms = opts->version >= 2 && opts->seed_grace_ms > 0 ?
			    opts->seed_grace_ms : 60000;
	db->retention_ms = opts->version < 3 || opts->retention_ms == 0 ?
			   RETENTION_MS : opts->retention_ms;
	{
		const char *env = getenv("ORC_DYNAMODB_TRANSACTIONS");

		if ((opts->version >= 3 &&
		     opts->transactions == ORC_DYNAMODB_TXN_OFF) ||
		    (env && strcmp(env, "off") == 0))
			db->txn = -1;
	}
	/* A finished workflow expires (ttl): the backend now writes it. */
	db->parent.caps = ORC_BACKEND_CAP_TTL;
	db->rng = (uint64_t)orc__now_ms() ^ ((uint64_t)getpid() << 32) ^
		  (uint64_t)(uintptr_t)db;
	st = client_open(&db->client, opts, err);
	if (st != ORC_OK) {
		free(db);
		curl_global_cleanup();
		return st;
	}
	*out = &db->parent;
	return ORC_OK;
}

ORC_API orc_status orc_dynamodb_create_table(const orc_dynamodb_options *opts,
					     orc_error *err)
{
	ddb_backend *db = NULL;
	orc_backend *b = NULL;
	orc_status st;
	json_t *req, *resp = NULL;
	int i;

	st = orc_dynamodb_backend_open(&b, opts, err);
	if (st != ORC_OK)
		return st;
	db = DB(b);
	/* The live index projects what list_live gives besides the keys;
	 * those change only when a workflow starts or ends. */
	req = json_pack("{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}],"
			"s:[{s:s,s:s},{s:s,s:s}],"
			"s:[{s:s,s:[{s:s,s:s},{s:s,s:s}],s:{s:s,s:[s,s,s]}}],"
			"s:s,s:{s:b,s:s}}",
			"AttributeDefinitions",
			"AttributeName", "pk", "AttributeType", "S",
			"AttributeName", "sk", "AttributeType", "S",
			"AttributeName", LIVE_ATTR, "AttributeType", "S",
			"KeySchema",
			"AttributeName", "pk", "KeyType", "HASH",
			"AttributeName", "sk", "KeyType", "RANGE",
			"GlobalSecondaryIndexes",
			"IndexName", LIVE_INDEX, "KeySchema",
			"AttributeName", LIVE_ATTR, "KeyType", "HASH",
			"AttributeName", "pk", "KeyType", "RANGE",
			"Projection", "ProjectionType", "INCLUDE",
			"NonKeyAttributes", "workflowId", "state", "createdMs",
			"BillingMode", "PAY_PER_REQUEST",
			"StreamSpecification", "StreamEnabled", 1,
			"StreamViewType", "NEW_AND_OLD_IMAGES");
	st = call(NULL, db, "CreateTable", req, err);
	if (st == ORC_EEXISTS)
		st = orc_error_set(err, ORC_EEXISTS, "table %s already exists",
				   db->table);
	/* Wait for ACTIVE: about a minute at most. */
	for (i = 0; st == ORC_OK && i < 600; i++) {
		const char *ts;

		st = call(&resp, db, "DescribeTable", json_object(),
			  err);
		if (st != ORC_OK)
			break;
		ts = json_string_value(json_object_get(json_object_get(
			resp, "Table"), "TableStatus"));
		if (ts && strcmp(ts, "ACTIVE") == 0)
			break;
		json_decref(resp);
		resp = NULL;
		usleep(100 * 1000);
	}
	json_decref(resp);
	if (st == ORC_OK && i == 600)
		st = orc_error_set(err, ORC_ETIMEOUT, "table %s: not ACTIVE "
				   "after a minute", db->table);
	if (st == ORC_OK) {
		orc_error terr;
		orc__aws_reply rep;
		json_t *ttl;
		char *body;
		orc_status tst;

		/* TTL where the service has it (dynalite has not). */
		ttl = json_pack("{s:s,s:{s:s,s:b}}", "TableName", db->table,
				"TimeToLiveSpecification", "AttributeName",
				"ttl", "Enabled", 1);
		body = ttl ? json_dumps(ttl, JSON_COMPACT) : NULL;
		json_decref(ttl);
		memset(&rep, 0, sizeof(rep));
		tst = body ? orc__aws_call(&rep, &db->client,
					   "UpdateTimeToLive", body,
					   strlen(body), &terr)
			   : orc_error_set(&terr, ORC_ENOMEM, "out of memory");
		free(body);
		if (tst != ORC_OK &&
		    strcmp(rep.type, "UnknownOperationException") != 0)
			st = orc_error_set(err, tst, "%s", terr.message);
		orc__aws_reply_clear(&rep);
	}
	ddb_free(b);
	return st;
}
