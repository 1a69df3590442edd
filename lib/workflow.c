/*
 * The workflow engine, written once against the backend vtable. Every
 * write is one conditional single-record update, or, on a backend with
 * update_tasks, one atomic group of them; correctness never depends on
 * multi-record transactions (invariant 4 in docs/architecture.md).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "engine.h"
#include "internal.h"
#include "orchestra/lock.h"

static const char *const wf_state_names[ORC_WORKFLOW_STATE_COUNT] = {
	"PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"
};

#define WF_LIVE (ORC_WORKFLOW_BIT(ORC_WORKFLOW_PENDING) | \
		 ORC_WORKFLOW_BIT(ORC_WORKFLOW_RUNNING))
#define T_BIT(s) ORC_TASK_BIT(ORC_TASK_##s)

ORC_API const char *orc_workflow_state_name(orc_workflow_state s)
{
	return (unsigned)s < ORC_WORKFLOW_STATE_COUNT ? wf_state_names[s]
						       : "UNKNOWN";
}

ORC_API int orc_workflow_state_is_terminal(orc_workflow_state s)
{
	return s == ORC_WORKFLOW_SUCCEEDED || s == ORC_WORKFLOW_FAILED ||
	       s == ORC_WORKFLOW_CANCELED;
}

ORC_API void orc_workflow_rec_clear(orc_workflow_rec *rec)
{
	if (!rec)
		return;
	orc_free(rec->definition);
	orc_free(rec->input);
	orc_free(rec->error);
	rec->definition = rec->input = rec->error = NULL;
}

static orc_status check_id(const char *what, const char *id, orc_error *err)
{
	orc_status st;

	ORC_CHECK_ARG(id != NULL, err);
	st = orc_dag_check_id(id, err);
	if (st != ORC_OK && err) {
		char msg[sizeof(err->message)];

		orc__strlcpy(msg, err->message, sizeof(msg));
		orc_error_set(err, st, "%s id: %s", what, msg);
	}
	return st;
}

static orc_status check_json(const char *what, const char *json,
			     orc_error *err)
{
	json_error_t jerr;
	json_t *v;

	if (!json)
		return ORC_OK;
	v = json_loads(json, JSON_DECODE_ANY, &jerr);
	if (!v) {
		orc_error_set(err, ORC_EINVAL, "%s is not JSON: %s", what,
			      jerr.text);
		orc__error_locate(err, what, jerr.line, jerr.column,
				  (size_t)jerr.position);
		return ORC_EINVAL;
	}
	json_decref(v);
	return ORC_OK;
}

void orc__task_update_init(orc_task_update *u, int64_t now)
{
	memset(u, 0, sizeof(*u));
	u->if_version = -1;
	u->now_ms = now;
}

static void workflow_update_init(orc_workflow_update *u, int64_t now)
{
	memset(u, 0, sizeof(*u));
	u->if_version = -1;
	u->now_ms = now;
}

const char *orc__task_id_at(const orc_dag *dag, size_t i)
{
	orc_task_spec spec = ORC_TASK_SPEC_INIT;

	if (orc_dag_task_get(&spec, dag, i, NULL) != ORC_OK)
		return "";
	return spec.id;
}

static orc_status task_index(size_t *out, orc__wf_cache *wf,
			     const char *task_id, orc_error *err)
{
	if (orc_dag_find(out, wf->dag, task_id, NULL) == ORC_OK)
		return ORC_OK;
	return orc_error_set(err, ORC_ENOTFOUND,
			     "workflow %s has no task '%s'", wf->id, task_id);
}

/* ---- start ---- */

static orc_status seed_workflow(orc_context *ctx, const char *wf_id,
				const orc_dag *dag, const char *definition,
				const char *input, orc_error *err)
{
	size_t n = orc_dag_task_count(dag), i, j, nedges = 0;
	orc_task_seed *seeds;
	const char **names;
	orc_workflow_rec wf;
	orc_status st;

	for (i = 0; i < n; i++) {
		const uint32_t *deps;
		nedges += orc_dag_deps(&deps, dag, i);
	}
	seeds = orc__calloc(n, sizeof(*seeds));
	names = orc__calloc(nedges, sizeof(*names));
	if (!seeds || !names) {
		orc_free(seeds);
		orc_free(names);
		return orc_error_set(err, ORC_ENOMEM, NULL);
	}
	nedges = 0;
	for (i = 0; i < n; i++) {
		const uint32_t *deps;
		orc_task_spec spec = ORC_TASK_SPEC_INIT;
		size_t nd = orc_dag_deps(&deps, dag, i);

		orc_dag_task_get(&spec, dag, i, NULL);
		seeds[i].id = spec.id;
		seeds[i].ndeps = (uint32_t)nd;
		seeds[i].deps = names + nedges;
		seeds[i].target = spec.target;
		for (j = 0; j < nd; j++)
			names[nedges++] = orc__task_id_at(dag, deps[j]);
	}
	memset(&wf, 0, sizeof(wf));
	orc__strlcpy(wf.id, wf_id, sizeof(wf.id));
	wf.state = ORC_WORKFLOW_RUNNING;
	wf.version = 1;
	wf.ntasks = (uint32_t)n;
	wf.created_ms = wf.updated_ms = orc_context_now(ctx);
	/* The record only lends pointers; the backend copies them. */
	wf.definition = (char *)(uintptr_t)definition;
	wf.input = (char *)(uintptr_t)input;
	st = ctx->backend->create_workflow(ctx->backend, &wf, seeds, n, err);
	orc_free(seeds);
	orc_free(names);
	return st;
}

/* Tasks missing from a started workflow (a backend that writes the
 * record first, whose starter died before the tasks): ask the backend
 * to seed again; it writes only what is missing, or nothing while the
 * starter may still be at it. */
orc_status orc__reseed(orc_context *ctx, orc__wf_cache *wf, orc_error *err)
{
	char *definition = NULL;
	orc_status st;

	if ((st = orc_dag_save(&definition, wf->dag, err)) != ORC_OK)
		return st;
	st = seed_workflow(ctx, wf->id, wf->dag, definition, wf->input, err);
	orc_free(definition);
	return st == ORC_EEXISTS ? ORC_OK : st;
}

ORC_API orc_status orc_workflow_start(orc_context *ctx, const char *wf_id,
				      const orc_dag *dag, const char *input_json,
				      orc_error *err)
{
	orc_workflow_rec rec;
	orc__wf_cache *c;
	char *definition = NULL;
	orc_status st;
	int tries, created = 0;

	ORC_CHECK_ARG(ctx != NULL && dag != NULL, err);
	if ((st = check_id("workflow", wf_id, err)) != ORC_OK)
		return st;
	if (!orc_dag_is_valid(dag))
		return orc_error_set(err, ORC_EINVAL,
				     "workflow %s: the DAG is not validated", wf_id);
	if ((st = check_json("workflow input", input_json, err)) != ORC_OK)
		return st;
	if ((st = orc_dag_save(&definition, dag, err)) != ORC_OK)
		return st;
	/* Seed first: the backend refuses an existing record without
	 * writing, and only then is the stored definition worth reading.
	 * Two rounds: the record may vanish (deleted, expired) between our
	 * write and our read. */
	for (tries = 0; tries < 2; tries++) {
		st = seed_workflow(ctx, wf_id, dag, definition, input_json, err);
		if (st == ORC_OK) {
			created = 1;
			break;
		}
		if (st != ORC_EEXISTS)
			goto out;
		memset(&rec, 0, sizeof(rec));
		st = ctx->backend->get_workflow(&rec, ctx->backend, wf_id, err);
		if (st == ORC_OK) {
			int same = rec.definition &&
				   strcmp(rec.definition, definition) == 0;
			orc_workflow_rec_clear(&rec);
			if (!same) {
				st = orc_error_set(err, ORC_EEXISTS,
						   "workflow %s already exists with a different definition",
						   wf_id);
				goto out;
			}
			break;
		}
		if (st != ORC_ENOTFOUND)
			goto out;
	}
	st = orc__context_put(&c, ctx, wf_id, dag, input_json, err);
	if (st == ORC_OK && created) {
		c->created = 1;
		c->created_ms = orc_context_now(ctx);
		/* We seeded it: the roots are READY at version 1. */
		size_t i, n = orc_dag_task_count(dag);
		const uint32_t *deps;

		for (i = 0; i < n; i++)
			if (orc_dag_deps(&deps, dag, i) == 0)
				orc__hint_push(c, (uint32_t)i, 1);
	}
out:
	orc_free(definition);
	return st;
}

/* ---- claim ---- */

/* Candidates per listing: enough to spread racing claimers, few enough
 * that a lone claimer copies little. */
#define CLAIM_BATCH 4

struct candidates {
	size_t n, limit;
	int64_t now;
	int64_t earliest;  /* soonest not-before in the future, or 0 */
	struct {
		char id[ORC_ID_MAX + 1];
		int64_t version;
		int32_t attempt;
	} c[CLAIM_BATCH];
};

static int collect_ready(const orc_task_rec *rec, void *payload)
{
	struct candidates *cs = payload;

	if (rec->state != ORC_TASK_READY)
		return 0;
	if (rec->not_before_ms > cs->now) {
		if (!cs->earliest || rec->not_before_ms < cs->earliest)
			cs->earliest = rec->not_before_ms;
		return 0;
	}
	memcpy(cs->c[cs->n].id, rec->id, sizeof(rec->id));
	cs->c[cs->n].version = rec->version;
	cs->c[cs->n].attempt = rec->attempt;
	return ++cs->n == cs->limit;
}

/* The write that claims a READY task at @p version for @p owner. */
static void claim_update_init(orc_task_update *u, int64_t version,
			      int32_t attempt, const char *owner,
			      int64_t lease_ms, int64_t now)
{
	orc__task_update_init(u, now);
	u->if_states = T_BIT(READY);
	u->if_version = version;
	u->set = ORC_SET_STATE | ORC_SET_ATTEMPT | ORC_SET_LEASE |
		ORC_SET_STARTED;
	u->state = ORC_TASK_RUNNING;
	u->attempt = attempt + 1;
	u->owner = owner;
	u->lease_expiry_ms = now + lease_ms;
	u->started_ms = now;
}

/* The claim @p u wrote on @p task_id. The write is conditioned on the
 * version, and every write adds exactly one to it: the claim is known
 * without reading it back. */
static orc_status claim_fill(orc_claim *out, orc__wf_cache *wf,
			     const char *task_id, const orc_task_update *u,
			     orc_error *err)
{
	memset(out, 0, sizeof(*out));
	orc__strlcpy(out->task_id, task_id, sizeof(out->task_id));
	if (task_index(&out->task_index, wf, task_id, err) != ORC_OK)
		return ORC_EBACKEND;
	out->token = u->if_version + 1;
	out->attempt = u->attempt;
	out->lease_expiry_ms = u->lease_expiry_ms;
	return ORC_OK;
}

/* The seed-position hint for backends of version 3 and later. */
static void at_task(orc_task_update *u, const orc_context *ctx, size_t idx)
{
	if (ctx->backend->version >= 3 && idx < UINT32_MAX)
		u->seed_pos = (uint32_t)idx + 1;
}

static orc_status claim_one(orc_claim *out, orc_context *ctx,
			    orc__wf_cache *wf, size_t idx, int64_t version,
			    int32_t attempt, const char *owner,
			    int64_t lease_ms, int64_t now, orc_error *err)
{
	const char *task_id = orc__task_id_at(wf->dag, idx);
	orc_task_update u;
	orc_status st;

	claim_update_init(&u, version, attempt, owner, lease_ms, now);
	at_task(&u, ctx, idx);
	st = ctx->backend->update_task(ctx->backend, wf->id, task_id, &u, NULL,
				       err);
	if (st != ORC_OK)
		return st;
	wf->hint_from = idx + 1;
	return claim_fill(out, wf, task_id, &u, err);
}

orc_status orc__claim_at(orc_claim *out, orc_context *ctx,
			 orc__wf_cache *wf, size_t idx, int64_t version,
			 int32_t attempt, const char *owner, int64_t lease_ms,
			 orc_error *err)
{
	orc_status st = claim_one(out, ctx, wf, idx, version, attempt, owner,
				  lease_ms, orc_context_now(ctx), err);

	if (st == ORC_ECONFLICT)
		return orc_error_set(err, ORC_ECONFLICT,
				     "task %s in workflow %s is not READY at "
				     "version %lld", orc__task_id_at(wf->dag,
								     idx),
				     wf->id, (long long)version);
	return st;
}

static orc_status check_owner(const char *owner, int64_t lease_ms,
			      orc_error *err)
{
	size_t n;

	ORC_CHECK_ARG(owner != NULL, err);
	n = strlen(owner);
	if (n == 0 || n > ORC_OWNER_MAX)
		return orc_error_set(err, ORC_EINVAL,
				     "owner must be 1..%d bytes", ORC_OWNER_MAX);
	if (lease_ms <= 0)
		return orc_error_set(err, ORC_EINVAL, "lease_ms must be > 0");
	return ORC_OK;
}

/* ENOTFOUND from a claim means "nothing now"; say whether the workflow
 * is over so callers can stop polling. */
static orc_status nothing_to_claim(orc_context *ctx, const char *wf_id,
				   orc_error *err)
{
	orc_workflow_rec rec;
	orc_status st;

	memset(&rec, 0, sizeof(rec));
	st = ctx->backend->get_workflow(&rec, ctx->backend, wf_id, err);
	if (st != ORC_OK)
		return st;
	orc_workflow_rec_clear(&rec);
	if (orc_workflow_state_is_terminal(rec.state))
		return orc_error_set(err, ORC_ECANCELED, "workflow %s is %s",
				     wf_id, orc_workflow_state_name(rec.state));
	return orc_error_set(err, ORC_ENOTFOUND,
			     "workflow %s: no task is runnable now", wf_id);
}

int64_t orc__task_lease_ms(const orc_dag *dag, size_t idx, int64_t lease_ms)
{
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	int64_t t;

	if (lease_ms > ORC__LEASE_MAX_MS)
		lease_ms = ORC__LEASE_MAX_MS;
	if (orc_dag_task_get(&spec, dag, idx, NULL) != ORC_OK ||
	    spec.timeout_ms <= 0)
		return lease_ms;
	/* Saturating: a timeout near INT64_MAX must not wrap. */
	t = spec.timeout_ms > ORC__LEASE_MAX_MS - 1000 ? ORC__LEASE_MAX_MS
						       : spec.timeout_ms + 1000;
	return t > lease_ms ? t : lease_ms;
}

/* Tasks our own writes made READY: claim them by id, without listing.
 * The version makes the claim exact: if anything touched the task
 * since, the write is refused. ORC_ENOTFOUND when no hint was left.
 * With @p per_task, each claim's lease is orc__task_lease_ms(). */
static orc_status claim_from_hints(orc_claim *out, orc_context *ctx,
				   orc__wf_cache *wf, const char *owner,
				   int64_t lease_ms, int per_task,
				   orc_error *err)
{
	orc_status st;

	for (;;) {
		uint32_t h;
		int64_t hv;

		if (!orc__hint_next(&h, &hv, wf, wf->hint_from))
			return ORC_ENOTFOUND;
		orc__hint_drop(wf, h);
		st = claim_one(out, ctx, wf, h, hv, 0, owner,
			       per_task ? orc__task_lease_ms(wf->dag, h,
							     lease_ms)
					: lease_ms,
			       orc_context_now(ctx), err);
		if (st != ORC_ECONFLICT && st != ORC_ENOTFOUND)
			return st;
	}
}

/* What every claim checks first: the arguments, and a workflow that is
 * not over; its cache into *wf_out. */
static orc_status claim_begin(orc__wf_cache **wf_out, orc_claim *out,
			      orc_context *ctx, const char *wf_id,
			      const char *owner, int64_t lease_ms,
			      orc_error *err)
{
	orc_status st;

	ORC_CHECK_ARG(out != NULL && ctx != NULL && wf_id != NULL, err);
	if ((st = check_owner(owner, lease_ms, err)) != ORC_OK)
		return st;
	if ((st = orc__context_workflow(wf_out, ctx, wf_id, err)) != ORC_OK)
		return st;
	if ((*wf_out)->ended)
		return orc_error_set(err, ORC_ECANCELED, "workflow %s is %s",
				     wf_id, orc_workflow_state_name(
					     (*wf_out)->end_state));
	return ORC_OK;
}

orc_status orc__claim_hinted(orc_claim *out, orc_context *ctx,
			     const char *wf_id, const char *owner,
			     int64_t lease_ms, orc_error *err)
{
	orc__wf_cache *wf;
	orc_status st;

	if ((st = claim_begin(&wf, out, ctx, wf_id, owner, lease_ms, err)) !=
	    ORC_OK)
		return st;
	return claim_from_hints(out, ctx, wf, owner, lease_ms, 1, err);
}

ORC_API orc_status orc_workflow_claim(orc_claim *out, orc_context *ctx,
				      const char *wf_id, const char *owner,
				      int64_t lease_ms, orc_error *err)
{
	struct candidates cs;
	orc__wf_cache *wf;
	orc_status st;
	size_t i, start;
	int round;

	if ((st = claim_begin(&wf, out, ctx, wf_id, owner, lease_ms, err)) !=
	    ORC_OK)
		return st;
	st = claim_from_hints(out, ctx, wf, owner, lease_ms, 0, err);
	if (st != ORC_ENOTFOUND)
		return st;
	/* A lost race only means another worker took that task: look
	 * again, a bounded number of times. */
	for (round = 0; round < 8; round++) {
		cs.n = 0;
		/* The first candidate is enough unless we are racing: widen
		 * only after a lost race. */
		cs.limit = round == 0 ? 1 : CLAIM_BATCH;
		cs.earliest = 0;
		cs.now = orc_context_now(ctx);
		st = ctx->backend->list_tasks(ctx->backend, wf_id,
					      T_BIT(READY), 0, collect_ready,
					      &cs, err);
		if (st != ORC_OK)
			return st;
		if (cs.n == 0)
			break;
		/* Spread concurrent claimers over the candidates. */
		start = (size_t)(orc__rand_next(&ctx->rng) % cs.n);
		for (i = 0; i < cs.n; i++) {
			size_t k = (start + i) % cs.n;

			size_t idx;

			if (task_index(&idx, wf, cs.c[k].id, err) != ORC_OK)
				return ORC_EBACKEND;
			st = claim_one(out, ctx, wf, idx, cs.c[k].version,
				       cs.c[k].attempt, owner, lease_ms, cs.now,
				       err);
			if (st == ORC_OK)
				return ORC_OK;
			if (st != ORC_ECONFLICT)
				return st;
		}
	}
	return nothing_to_claim(ctx, wf_id, err);
}

ORC_API orc_status orc_workflow_claim_task(orc_claim *out, orc_context *ctx,
					   const char *wf_id, const char *task_id,
					   const char *owner, int64_t lease_ms,
					   orc_error *err)
{
	orc__wf_cache *wf;
	orc_task_rec rec;
	orc_status st;
	int64_t now;

	ORC_CHECK_ARG(out != NULL && ctx != NULL && wf_id != NULL &&
		      task_id != NULL, err);
	if ((st = check_owner(owner, lease_ms, err)) != ORC_OK)
		return st;
	if ((st = orc__context_workflow(&wf, ctx, wf_id, err)) != ORC_OK)
		return st;
	memset(&rec, 0, sizeof(rec));
	st = ctx->backend->get_task(&rec, ctx->backend, wf_id, task_id, 0,
				    err);
	if (st != ORC_OK)
		return st;
	now = orc_context_now(ctx);
	if (rec.state != ORC_TASK_READY || rec.not_before_ms > now)
		return orc_error_set(err, ORC_ECONFLICT,
				     "task %s in workflow %s is not claimable (%s%s)",
				     task_id, wf_id,
				     orc_task_state_name(rec.state),
				     rec.state == ORC_TASK_READY ? ", backing off" : "");
	{
		size_t idx;

		if ((st = task_index(&idx, wf, task_id, err)) != ORC_OK)
			return st;
		return claim_one(out, ctx, wf, idx, rec.version, rec.attempt,
				 owner, lease_ms, now, err);
	}
}

/* ---- payload ---- */

static int buf_add(char **buf, size_t *len, size_t *cap, const char *s,
		   size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		char *p;

		while (ncap < *len + n + 1)
			ncap *= 2;
		p = orc__realloc(*buf, ncap);
		if (!p)
			return -1;
		*buf = p;
		*cap = ncap;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

static int buf_str(char **buf, size_t *len, size_t *cap, const char *s)
{
	return buf_add(buf, len, cap, s, strlen(s));
}

/* Append @p s as a JSON string literal. */
static int buf_json_str(char **buf, size_t *len, size_t *cap, const char *s)
{
	json_t *j = json_string(s);
	char *text;
	int rc;

	if (!j)
		return -1;
	text = json_dumps(j, JSON_ENCODE_ANY);
	json_decref(j);
	if (!text)
		return -1;
	rc = buf_str(buf, len, cap, text);
	free(text);
	return rc;
}

/* Past this many outputs to read, one listing of the workflow's
 * SUCCEEDED tasks replaces a read per dependency: a wide fan-in then
 * costs one backend call instead of thousands (each of which a lease
 * renewal would queue behind). */
#define PAYLOAD_LIST_MIN 32

struct dep_outputs {
	const orc_dag *dag;
	const unsigned char *want; /* by task index: 1 = an output to read */
	char **out;                /* by task index; "null" as NULL */
	int oom;
};

static int dep_output_cb(const orc_task_rec *rec, void *payload)
{
	struct dep_outputs *d = payload;
	size_t i;

	if (orc_dag_find(&i, d->dag, rec->id, NULL) != ORC_OK || !d->want[i] ||
	    d->out[i] || !rec->output)
		return 0;
	if (!(d->out[i] = orc_strdup(rec->output)))
		d->oom = 1;
	return d->oom;
}

/* Outputs of the dependencies in @p deps that this context does not
 * know, read in one listing; *@p out is NULL when there are few (read
 * them one by one) and otherwise holds them by task index. */
static orc_status list_dep_outputs(char ***out, orc_context *ctx,
				   orc__wf_cache *wf, const char *wf_id,
				   const uint32_t *deps, size_t nd,
				   orc_error *err)
{
	size_t n = orc_dag_task_count(wf->dag), i, unknown = 0;
	struct dep_outputs d = { wf->dag, NULL, NULL, 0 };
	unsigned char *want;
	orc_status st;

	*out = NULL;
	for (i = 0; i < nd; i++)
		unknown += !orc__known_output(wf, deps[i]);
	if (unknown < PAYLOAD_LIST_MIN)
		return ORC_OK;
	want = orc__calloc(n, 1);
	d.out = orc__calloc(n, sizeof(*d.out));
	if (!want || !d.out) {
		orc_free(want);
		orc_free(d.out);
		return orc_error_set(err, ORC_ENOMEM, NULL);
	}
	for (i = 0; i < nd; i++)
		want[deps[i]] = !orc__known_output(wf, deps[i]);
	d.want = want;
	st = ctx->backend->list_tasks(ctx->backend, wf_id, T_BIT(SUCCEEDED),
				      ORC_LIST_PAYLOADS, dep_output_cb, &d,
				      err);
	orc_free(want);
	if (st == ORC_OK && d.oom)
		st = orc_error_set(err, ORC_ENOMEM, NULL);
	if (st != ORC_OK) {
		for (i = 0; i < n; i++)
			orc_free(d.out[i]);
		orc_free(d.out);
		return st;
	}
	*out = d.out;
	return ORC_OK;
}

ORC_API orc_status orc_workflow_payload(char **json_out, orc_context *ctx,
					const char *wf_id, const orc_claim *claim,
					orc_error *err)
{
	orc__wf_cache *wf;
	const uint32_t *deps;
	size_t nd, i, len = 0, cap = 0;
	char *buf = NULL, num[32], **listed = NULL;
	orc_status st = ORC_OK;
	int bad = 0;

	ORC_CHECK_ARG(json_out != NULL, err);
	*json_out = NULL;
	ORC_CHECK_ARG(ctx != NULL && wf_id != NULL && claim != NULL, err);
	if ((st = orc__context_workflow(&wf, ctx, wf_id, err)) != ORC_OK)
		return st;
	nd = orc_dag_deps(&deps, wf->dag, claim->task_index);
	if ((st = list_dep_outputs(&listed, ctx, wf, wf_id, deps, nd, err)) !=
	    ORC_OK)
		return st;
	snprintf(num, sizeof(num), "%d", (int)claim->attempt);
	bad |= buf_str(&buf, &len, &cap, "{\"workflowId\":");
	bad |= buf_json_str(&buf, &len, &cap, wf_id);
	bad |= buf_str(&buf, &len, &cap, ",\"taskId\":");
	bad |= buf_json_str(&buf, &len, &cap, claim->task_id);
	bad |= buf_str(&buf, &len, &cap, ",\"attempt\":");
	bad |= buf_str(&buf, &len, &cap, num);
	bad |= buf_str(&buf, &len, &cap, ",\"input\":");
	bad |= buf_str(&buf, &len, &cap, wf->input ? wf->input : "null");
	bad |= buf_str(&buf, &len, &cap, ",\"dependencies\":{");
	for (i = 0; i < nd && !bad; i++) {
		orc_task_rec rec;
		const char *dep = orc__task_id_at(wf->dag, deps[i]);
		/* Completed here: the stored output is this text. */
		const char *text = orc__known_output(wf, deps[i]);

		memset(&rec, 0, sizeof(rec));
		if (!text && listed)
			text = listed[deps[i]] ? listed[deps[i]] : "null";
		if (!text) {
			st = ctx->backend->get_task(&rec, ctx->backend, wf_id,
						    dep, ORC_LIST_PAYLOADS,
						    err);
			if (st != ORC_OK)
				break;
			text = rec.output ? rec.output : "null";
		}
		if (i)
			bad |= buf_str(&buf, &len, &cap, ",");
		bad |= buf_json_str(&buf, &len, &cap, dep);
		bad |= buf_str(&buf, &len, &cap, ":");
		bad |= buf_str(&buf, &len, &cap, text);
		if (wf->outputs && wf->outputs[deps[i]] &&
		    --wf->reads_left[deps[i]] == 0) {
			orc_free(wf->outputs[deps[i]]);
			wf->outputs[deps[i]] = NULL;
		}
		orc_task_rec_clear(&rec);
	}
	bad |= buf_str(&buf, &len, &cap, "}}");
	for (i = 0; listed && i < nd; i++)
		orc_free(listed[deps[i]]);
	orc_free(listed);
	if (st == ORC_OK && bad)
		st = orc_error_set(err, ORC_ENOMEM, NULL);
	if (st != ORC_OK) {
		orc_free(buf);
		return st;
	}
	*json_out = buf;
	return ORC_OK;
}

/* ---- heartbeat ---- */

static orc_status stale_token(orc_context *ctx, const char *wf_id,
			      const char *task_id, int64_t token,
			      orc_error *err)
{
	orc_task_rec rec;

	memset(&rec, 0, sizeof(rec));
	if (ctx->backend->get_task(&rec, ctx->backend, wf_id, task_id, 0,
				   NULL) != ORC_OK)
		return orc_error_set(err, ORC_ECONFLICT,
				     "task %s: fencing token %lld is stale",
				     task_id, (long long)token);
	return orc_error_set(err, ORC_ECONFLICT,
			     "task %s: fencing token %lld is stale (now version %lld, %s, owner '%s')",
			     task_id, (long long)token, (long long)rec.version,
			     orc_task_state_name(rec.state), rec.owner);
}

ORC_API orc_status orc_workflow_heartbeat(int64_t *token_io, orc_context *ctx,
					  const char *wf_id, const char *task_id,
					  int64_t lease_ms, orc_error *err)
{
	orc_task_update u;
	orc_task_rec rec;
	orc_status st;

	ORC_CHECK_ARG(token_io != NULL && ctx != NULL && wf_id != NULL &&
		      task_id != NULL, err);
	ORC_CHECK_ARG(lease_ms > 0, err);
	/* The update writes owner and expiry together: read the owner so a
	 * heartbeat keeps it. The write is still fenced by the token. */
	memset(&rec, 0, sizeof(rec));
	st = ctx->backend->get_task(&rec, ctx->backend, wf_id, task_id, 0,
				    err);
	if (st != ORC_OK)
		return st;
	if (rec.version != *token_io || rec.state != ORC_TASK_RUNNING)
		return stale_token(ctx, wf_id, task_id, *token_io, err);
	orc__task_update_init(&u, orc_context_now(ctx));
	u.if_states = T_BIT(RUNNING);
	u.if_version = *token_io;
	u.set = ORC_SET_LEASE;
	u.owner = rec.owner;
	u.lease_expiry_ms = u.now_ms + lease_ms;
	st = ctx->backend->update_task(ctx->backend, wf_id, task_id, &u, &rec,
				       err);
	if (st == ORC_ECONFLICT)
		return stale_token(ctx, wf_id, task_id, *token_io, err);
	if (st == ORC_OK)
		*token_io = rec.version;
	return st;
}

/* ---- fan-out, completion ---- */

orc_status orc__mark_done(orc_context *ctx, orc__wf_cache *wf,
			    size_t task, size_t dep, int64_t now,
			    int *promoted, orc_error *err)
{
	const uint32_t *deps;
	size_t nd = orc_dag_deps(&deps, wf->dag, task), k;
	orc_task_update u;
	orc_task_rec rec;
	orc_status st;

	for (k = 0; k < nd && deps[k] != dep; k++)
		;
	if (k == nd)
		return orc_error_set(err, ORC_ENOTFOUND,
				     "task %s does not depend on %s",
				     orc__task_id_at(wf->dag, task),
				     orc__task_id_at(wf->dag, dep));
	orc__task_update_init(&u, now);
	at_task(&u, ctx, task);
	u.if_states = T_BIT(PENDING);
	u.set = ORC_SET_DONE_DEP | ORC_SET_PROMOTE;
	u.done_dep = orc__task_id_at(wf->dag, dep);
	u.done_dep_index = (uint32_t)k;
	memset(&rec, 0, sizeof(rec));
	st = ctx->backend->update_task(ctx->backend, wf->id,
				       orc__task_id_at(wf->dag, task), &u,
				       &rec, err);
	/* Not PENDING any more: already ready, running, done or canceled,
	 * so marking has nothing left to do. */
	if (st == ORC_ECONFLICT)
		return ORC_OK;
	if (st == ORC_OK && rec.state == ORC_TASK_READY) {
		if (promoted)
			*promoted = 1;
		orc__hint_push(wf, (uint32_t)task, rec.version);
	}
	return st;
}

static orc_status fan_out(orc_context *ctx, orc__wf_cache *wf, size_t task,
			  int64_t now, uint32_t *redone, orc_error *err)
{
	const uint32_t *succ;
	size_t ns = orc_dag_dependents(&succ, wf->dag, task), i;
	orc_status st;

	for (i = 0; i < ns; i++) {
		st = orc__mark_done(ctx, wf, succ[i], task, now, NULL, err);
		if (st != ORC_OK)
			return st;
		if (redone)
			(*redone)++;
	}
	return ORC_OK;
}

/* Set a live workflow's final state; the condition keeps the first one
 * (and its error) when several workers race. */
orc_status orc__finish_workflow(orc_context *ctx, const char *wf_id,
				  orc_workflow_state state, const char *error,
				  orc_error *err)
{
	orc_workflow_update u;
	orc_status st;

	workflow_update_init(&u, orc_context_now(ctx));
	u.if_states = WF_LIVE;
	u.set = ORC_WSET_STATE | (error ? ORC_WSET_ERROR : 0);
	u.state = state;
	u.error = error;
	st = ctx->backend->update_workflow(ctx->backend, wf_id, &u, NULL, err);
	return st == ORC_ECONFLICT ? ORC_OK : st;
}

/* After a sink succeeded: the workflow succeeded when every sink did
 * (a sink only succeeds after all its ancestors did). */
static orc_status check_sinks(orc_context *ctx, orc__wf_cache *wf,
			      orc_error *err)
{
	orc_task_rec rec;
	orc_status st;

	while (wf->sinks_done < wf->nsinks) {
		uint32_t sink = wf->sinks[wf->sinks_done];
		const char *id = orc__task_id_at(wf->dag, sink);

		if (orc__known_done(wf, sink)) {
			wf->sinks_done++;  /* we completed it ourselves */
			continue;
		}
		st = ctx->backend->get_task(&rec, ctx->backend, wf->id, id, 0,
					    err);
		if (st != ORC_OK)
			return st;
		if (rec.state != ORC_TASK_SUCCEEDED)
			return ORC_OK;
		wf->sinks_done++;
	}
	st = orc__finish_workflow(ctx, wf->id, ORC_WORKFLOW_SUCCEEDED, NULL,
				  err);
	if (st == ORC_OK) {
		/* Every sink succeeded, so no other end is possible. */
		wf->ended = 1;
		wf->end_state = ORC_WORKFLOW_SUCCEEDED;
	}
	return st;
}

/* A claim for the completing worker to fold into the completion's
 * group (orc_workflow_complete_claim). */
struct fold_claim {
	const char *owner;
	int64_t lease_ms;
	int per_task;          /* lease per orc__task_lease_ms() */
	orc_task_update u;     /* the claim write, when one was added */
	uint32_t task;
	const char *task_id;   /* non-NULL when one was added */
	int applied;
};

/* Add to a group that writes @p idx and its dependents @p succ the
 * claim of the task our own writes made READY nearest after @p idx
 * (every write of a group names a different task). */
static int fold_claim_add(struct fold_claim *fc, orc_context *ctx,
			  orc__wf_cache *wf, size_t idx, const uint32_t *succ,
			  size_t ns, int64_t now)
{
	uint32_t h;
	int64_t hv;
	size_t i;

	/* A worker goes through the workflow in definition order. */
	if (!fc || wf->ended || !orc__hint_next(&h, &hv, wf, idx + 1))
		return 0;
	if (h == idx)
		return 0;
	for (i = 0; i < ns; i++)
		if (succ[i] == h)
			return 0;
	claim_update_init(&fc->u, hv, 0, fc->owner,
			  fc->per_task ? orc__task_lease_ms(wf->dag, h,
							    fc->lease_ms)
				       : fc->lease_ms, now);
	at_task(&fc->u, ctx, h);
	fc->task = h;
	fc->task_id = orc__task_id_at(wf->dag, h);
	return 1;
}

/* Completion and fan-out as one atomic group, for backends that can:
 * no crash can fall between them. With @p fc, the group also claims
 * the next task for the completing worker when the context knows one. */
static orc_status complete_with_fan_out(orc_context *ctx, orc__wf_cache *wf,
					size_t idx, const orc_task_update *done,
					struct fold_claim *fc, orc_error *err)
{
	const uint32_t *succ;
	size_t ns = orc_dag_dependents(&succ, wf->dag, idx), i, n;
	orc_task_write small_w[10], *w = small_w;
	orc_task_update small_u[8], *u = small_u;
	orc_task_rec small_r[10], *r = small_r;
	unsigned char small_a[10], *a = small_a;
	orc_status st;

	if (ns + 2 > sizeof(small_w) / sizeof(small_w[0])) {
		w = orc__malloc((ns + 2) * sizeof(*w));
		u = orc__malloc(ns * sizeof(*u));
		r = orc__malloc((ns + 2) * sizeof(*r));
		a = orc__malloc(ns + 2);
		if (!w || !u || !r || !a) {
			st = orc_error_set(err, ORC_ENOMEM, NULL);
			goto out;
		}
	}
	w[0].task_id = orc__task_id_at(wf->dag, idx);
	w[0].update = done;
	w[0].optional = 0;
	for (i = 0; i < ns; i++) {
		const uint32_t *deps;
		size_t nd = orc_dag_deps(&deps, wf->dag, succ[i]), k;

		for (k = 0; k < nd && deps[k] != idx; k++)
			;
		orc__task_update_init(&u[i], done->now_ms);
		at_task(&u[i], ctx, succ[i]);
		u[i].if_states = T_BIT(PENDING);
		u[i].set = ORC_SET_DONE_DEP | ORC_SET_PROMOTE;
		u[i].done_dep = w[0].task_id;
		u[i].done_dep_index = (uint32_t)k;
		w[i + 1].task_id = orc__task_id_at(wf->dag, succ[i]);
		w[i + 1].update = &u[i];
		w[i + 1].optional = 1;
	}
	n = ns + 1;
	if (fold_claim_add(fc, ctx, wf, idx, succ, ns, done->now_ms)) {
		w[n].task_id = fc->task_id;
		w[n].update = &fc->u;
		w[n].optional = 1;
		n++;
	}
	/* Only state and version of the marks are read back. */
	for (i = 0; i < n; i++)
		w[i].brief = ctx->backend->version >= 3;
	st = ctx->backend->update_tasks(ctx->backend, wf->id, w, n, r, a, err);
	for (i = 1; st == ORC_OK && i <= ns; i++)
		if (a[i] && r[i].state == ORC_TASK_READY)
			orc__hint_push(wf, succ[i - 1], r[i].version);
	if (st == ORC_OK && n > ns + 1) {
		/* Consumed whatever the outcome: a skipped claim means the
		 * hint was stale, as in orc_workflow_claim(). */
		orc__hint_drop(wf, fc->task);
		fc->applied = a[ns + 1];
		if (fc->applied)
			wf->hint_from = fc->task + 1u;
	}
out:
	if (w != small_w) {
		orc_free(w);
		orc_free(u);
		orc_free(r);
		orc_free(a);
	}
	return st;
}

static orc_status complete_task(orc__wf_cache **wf_out, orc_context *ctx,
				const char *wf_id, const char *task_id,
				int64_t token, const char *output_json,
				struct fold_claim *fc, orc_error *err)
{
	orc__wf_cache *wf;
	orc_task_update u;
	const uint32_t *succ;
	size_t idx;
	orc_status st;

	ORC_CHECK_ARG(ctx != NULL && wf_id != NULL && task_id != NULL, err);
	if ((st = check_json("task output", output_json, err)) != ORC_OK)
		return st;
	if ((st = orc__context_workflow(&wf, ctx, wf_id, err)) != ORC_OK)
		return st;
	*wf_out = wf;
	if ((st = task_index(&idx, wf, task_id, err)) != ORC_OK)
		return st;
	orc__task_update_init(&u, orc_context_now(ctx));
	at_task(&u, ctx, idx);
	u.if_states = T_BIT(RUNNING);
	u.if_version = token;
	u.set = ORC_SET_STATE | ORC_SET_ENDED | ORC_SET_LEASE |
		(output_json ? ORC_SET_OUTPUT : 0);
	u.state = ORC_TASK_SUCCEEDED;
	u.ended_ms = u.now_ms;
	u.owner = "";
	u.output = output_json;
	if (ORC_BACKEND_HAS(ctx->backend, update_tasks, 2))
		st = complete_with_fan_out(ctx, wf, idx, &u, fc, err);
	else
		st = ctx->backend->update_task(ctx->backend, wf_id, task_id,
					       &u, NULL, err);
	if (st == ORC_ECONFLICT)
		return stale_token(ctx, wf_id, task_id, token, err);
	if (st != ORC_OK)
		return st;
	orc__remember_output(wf, idx, output_json);
	if (!ORC_BACKEND_HAS(ctx->backend, update_tasks, 2) &&
	    (st = fan_out(ctx, wf, idx, u.now_ms, NULL, err)) != ORC_OK)
		return st;
	if (orc_dag_dependents(&succ, wf->dag, idx) == 0)
		return check_sinks(ctx, wf, err);
	return ORC_OK;
}

ORC_API orc_status orc_workflow_complete(orc_context *ctx, const char *wf_id,
					 const char *task_id, int64_t token,
					 const char *output_json, orc_error *err)
{
	orc__wf_cache *wf;

	return complete_task(&wf, ctx, wf_id, task_id, token, output_json,
			     NULL, err);
}

static orc_status complete_claim(orc_claim *next, orc_status *next_st,
				 orc_context *ctx, const char *wf_id,
				 const char *task_id, int64_t token,
				 const char *output_json, const char *owner,
				 int64_t lease_ms, int hinted_only,
				 orc_error *err)
{
	struct fold_claim fc;
	orc__wf_cache *wf = NULL;
	orc_status st;

	ORC_CHECK_ARG(next != NULL && next_st != NULL, err);
	*next_st = ORC_EINVAL;
	if ((st = check_owner(owner, lease_ms, err)) != ORC_OK)
		return st;
	memset(&fc, 0, sizeof(fc));
	fc.owner = owner;
	fc.lease_ms = lease_ms;
	fc.per_task = hinted_only;
	st = complete_task(&wf, ctx, wf_id, task_id, token, output_json, &fc,
			   err);
	if (st != ORC_OK) {
		*next_st = st;
		return st;
	}
	if (fc.applied)
		*next_st = claim_fill(next, wf, fc.task_id, &fc.u, err);
	else if (hinted_only)
		*next_st = orc__claim_hinted(next, ctx, wf_id, owner, lease_ms,
					     err);
	else
		*next_st = orc_workflow_claim(next, ctx, wf_id, owner,
					      lease_ms, err);
	return ORC_OK;
}

ORC_API orc_status orc_workflow_complete_claim(orc_claim *next,
					       orc_status *next_st,
					       orc_context *ctx,
					       const char *wf_id,
					       const char *task_id,
					       int64_t token,
					       const char *output_json,
					       const char *owner,
					       int64_t lease_ms, orc_error *err)
{
	return complete_claim(next, next_st, ctx, wf_id, task_id, token,
			      output_json, owner, lease_ms, 0, err);
}

orc_status orc__complete_claim_hinted(orc_claim *next, orc_status *next_st,
				      orc_context *ctx, const char *wf_id,
				      const char *task_id, int64_t token,
				      const char *output_json,
				      const char *owner, int64_t lease_ms,
				      orc_error *err)
{
	return complete_claim(next, next_st, ctx, wf_id, task_id, token,
			      output_json, owner, lease_ms, 1, err);
}

ORC_API orc_status orc_workflow_mark_dep_done(orc_context *ctx,
					      const char *wf_id,
					      const char *task_id,
					      const char *dep_id, orc_error *err)
{
	orc__wf_cache *wf;
	orc_task_rec rec;
	size_t t, d;
	orc_status st;

	ORC_CHECK_ARG(ctx != NULL && wf_id != NULL && task_id != NULL &&
		      dep_id != NULL, err);
	if ((st = orc__context_workflow(&wf, ctx, wf_id, err)) != ORC_OK)
		return st;
	if ((st = task_index(&t, wf, task_id, err)) != ORC_OK ||
	    (st = task_index(&d, wf, dep_id, err)) != ORC_OK)
		return st;
	/* Callers relay events (stream records, requests); only a
	 * dependency that really succeeded may count. */
	memset(&rec, 0, sizeof(rec));
	st = ctx->backend->get_task(&rec, ctx->backend, wf_id, dep_id, 0, err);
	if (st != ORC_OK)
		return st;
	if (rec.state != ORC_TASK_SUCCEEDED)
		return orc_error_set(err, ORC_ECONFLICT,
				     "task %s: dependency %s has not succeeded (%s)",
				     task_id, dep_id,
				     orc_task_state_name(rec.state));
	return orc__mark_done(ctx, wf, t, d, orc_context_now(ctx), NULL, err);
}

/* ---- failure ---- */

/* Cancel every PENDING or READY descendant of @p task. */
orc_status orc__cancel_downstream(orc_context *ctx, orc__wf_cache *wf,
				    size_t task, uint32_t *count,
				    orc_error *err)
{
	size_t n = orc_dag_task_count(wf->dag), head = 0, tail = 0, i;
	uint32_t *queue = orc__malloc(n * sizeof(*queue));
	unsigned char *seen = orc__calloc(n, 1);
	orc_status st = ORC_OK;
	int64_t now = orc_context_now(ctx);

	if (!queue || !seen) {
		orc_free(queue);
		orc_free(seen);
		return orc_error_set(err, ORC_ENOMEM, NULL);
	}
	queue[tail++] = (uint32_t)task;
	seen[task] = 1;
	while (head < tail && st == ORC_OK) {
		const uint32_t *succ;
		size_t ns = orc_dag_dependents(&succ, wf->dag, queue[head++]);

		for (i = 0; i < ns && st == ORC_OK; i++) {
			orc_task_update u;

			if (seen[succ[i]])
				continue;
			seen[succ[i]] = 1;
			queue[tail++] = succ[i];
			orc__task_update_init(&u, now);
			u.if_states = T_BIT(PENDING) | T_BIT(READY);
			u.set = ORC_SET_STATE | ORC_SET_ENDED;
			u.state = ORC_TASK_CANCELED;
			u.ended_ms = now;
			st = ctx->backend->update_task(ctx->backend, wf->id,
						       orc__task_id_at(wf->dag, succ[i]),
						       &u, NULL, err);
			if (st == ORC_OK && count)
				(*count)++;
			if (st == ORC_ECONFLICT)
				st = ORC_OK;
		}
	}
	orc_free(queue);
	orc_free(seen);
	return st;
}

/* Terminal failure of one task: task FAILED (already written by the
 * caller), downstream canceled, workflow FAILED with the first error. */
static orc_status fail_workflow(orc_context *ctx, orc__wf_cache *wf,
				size_t task, const char *message,
				uint32_t *canceled, orc_error *err)
{
	char first[512];
	orc_status st;

	st = orc__cancel_downstream(ctx, wf, task, canceled, err);
	if (st != ORC_OK)
		return st;
	snprintf(first, sizeof(first), "task %s: %s",
		 orc__task_id_at(wf->dag, task), message ? message : "failed");
	st = orc__finish_workflow(ctx, wf->id, ORC_WORKFLOW_FAILED, first, err);
	if (st != ORC_OK)
		return st;
	/* A failed workflow starts nothing new, as Step Functions stops
	 * sibling branches; running tasks may still finish. */
	return orc__cancel_claimable(ctx, wf->id, canceled, err);
}

/* A retry written READY while the workflow ended (failed or canceled
 * by another worker) would start something new after the end. The end
 * is written before its sweep lists tasks, so either that sweep sees our
 * READY task, or we see the end here and cancel the task ourselves. */
static orc_status cancel_if_ended(orc_context *ctx, orc__wf_cache *wf,
				  const orc_task_rec *written,
				  uint32_t *canceled, orc_error *err)
{
	orc_workflow_rec wrec;
	orc_task_update u;
	orc_status st;

	memset(&wrec, 0, sizeof(wrec));
	st = ctx->backend->get_workflow(&wrec, ctx->backend, wf->id, err);
	if (st != ORC_OK)
		return st;
	orc_workflow_rec_clear(&wrec);
	if (!orc_workflow_state_is_terminal(wrec.state))
		return ORC_OK;
	orc__task_update_init(&u, orc_context_now(ctx));
	u.if_states = T_BIT(READY);
	u.if_version = written->version;
	u.set = ORC_SET_STATE | ORC_SET_ENDED;
	u.state = ORC_TASK_CANCELED;
	u.ended_ms = u.now_ms;
	st = ctx->backend->update_task(ctx->backend, wf->id, written->id, &u,
				       NULL, err);
	if (st == ORC_OK && canceled)
		(*canceled)++;
	/* Someone else moved it (the sweep canceled it, or a claim won):
	 * either way it is not our READY task any more. */
	return st == ORC_ECONFLICT ? ORC_OK : st;
}

/* Move a RUNNING task (at @p version, @p attempt attempts made) to READY
 * with backoff, or to FAILED when its policy has no attempt left. */
orc_status orc__retry_or_fail(int *final_out, orc_context *ctx,
				orc__wf_cache *wf, size_t idx, int64_t version,
				int32_t attempt, const char *message,
				uint32_t *canceled, orc_error *err)
{
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	orc_task_update u;
	orc_task_rec rec;
	orc_status st;
	int final;

	orc_dag_task_get(&spec, wf->dag, idx, NULL);
	final = attempt >= spec.retry.max_attempts;
	orc__task_update_init(&u, orc_context_now(ctx));
	u.if_states = T_BIT(RUNNING);
	u.if_version = version;
	u.set = ORC_SET_STATE | ORC_SET_LEASE | ORC_SET_ERROR;
	u.owner = "";
	u.error = message ? message : "failed";
	if (final) {
		u.state = ORC_TASK_FAILED;
		u.set |= ORC_SET_ENDED;
		u.ended_ms = u.now_ms;
	} else {
		u.state = ORC_TASK_READY;
		u.set |= ORC_SET_NOT_BEFORE;
		u.not_before_ms = u.now_ms +
			orc_retry_delay_ms(&spec.retry, attempt,
					   orc__rand_unit(&ctx->rng));
	}
	st = ctx->backend->update_task(ctx->backend, wf->id, spec.id, &u, &rec,
				       err);
	if (st != ORC_OK)
		return st;
	if (final_out)
		*final_out = final;
	if (final)
		return fail_workflow(ctx, wf, idx, u.error, canceled, err);
	return cancel_if_ended(ctx, wf, &rec, canceled, err);
}

ORC_API orc_status orc_workflow_fail(int *final_out, orc_context *ctx,
				     const char *wf_id, const char *task_id,
				     int64_t token, const char *error_message,
				     orc_error *err)
{
	orc__wf_cache *wf;
	orc_task_rec rec;
	size_t idx;
	orc_status st;

	ORC_CHECK_ARG(ctx != NULL && wf_id != NULL && task_id != NULL, err);
	if (final_out)
		*final_out = 0;
	if ((st = orc__context_workflow(&wf, ctx, wf_id, err)) != ORC_OK)
		return st;
	if ((st = task_index(&idx, wf, task_id, err)) != ORC_OK)
		return st;
	memset(&rec, 0, sizeof(rec));
	st = ctx->backend->get_task(&rec, ctx->backend, wf_id, task_id, 0,
				    err);
	if (st != ORC_OK)
		return st;
	if (rec.version != token || rec.state != ORC_TASK_RUNNING)
		return stale_token(ctx, wf_id, task_id, token, err);
	st = orc__retry_or_fail(final_out, ctx, wf, idx, token, rec.attempt,
			   error_message, NULL, err);
	if (st == ORC_ECONFLICT)
		return stale_token(ctx, wf_id, task_id, token, err);
	return st;
}

/* ---- cancel ---- */

struct id_list {
	size_t n, cap;
	char (*ids)[ORC_ID_MAX + 1];
	int oom;
};

static int collect_ids(const orc_task_rec *rec, void *payload)
{
	struct id_list *l = payload;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		void *p = orc__realloc(l->ids, ncap * sizeof(*l->ids));

		if (!p) {
			l->oom = 1;
			return 1;
		}
		l->ids = p;
		l->cap = ncap;
	}
	memcpy(l->ids[l->n++], rec->id, sizeof(rec->id));
	return 0;
}

/* Cancel all PENDING/READY tasks; loops because a task may move between
 * listing and writing (a promotion), which the condition catches. */
orc_status orc__cancel_claimable(orc_context *ctx, const char *wf_id,
				   uint32_t *count, orc_error *err)
{
	orc_status st = ORC_OK;
	int round;

	for (round = 0; round < 16; round++) {
		struct id_list l = { 0, 0, NULL, 0 };
		int64_t now = orc_context_now(ctx);
		size_t i, conflicts = 0;

		st = ctx->backend->list_tasks(ctx->backend, wf_id,
					      T_BIT(PENDING) | T_BIT(READY), 0,
					      collect_ids, &l, err);
		if (st == ORC_OK && l.oom)
			st = orc_error_set(err, ORC_ENOMEM, NULL);
		for (i = 0; st == ORC_OK && i < l.n; i++) {
			orc_task_update u;

			orc__task_update_init(&u, now);
			u.if_states = T_BIT(PENDING) | T_BIT(READY);
			u.set = ORC_SET_STATE | ORC_SET_ENDED;
			u.state = ORC_TASK_CANCELED;
			u.ended_ms = now;
			st = ctx->backend->update_task(ctx->backend, wf_id,
						       l.ids[i], &u, NULL, err);
			if (st == ORC_OK && count)
				(*count)++;
			if (st == ORC_ECONFLICT) {
				conflicts++;
				st = ORC_OK;
			}
		}
		orc_free(l.ids);
		if (st != ORC_OK || conflicts == 0)
			break;
	}
	return st;
}

ORC_API orc_status orc_workflow_cancel(orc_context *ctx, const char *wf_id,
				       const char *reason, orc_error *err)
{
	orc_workflow_rec rec;
	orc_status st;

	ORC_CHECK_ARG(ctx != NULL && wf_id != NULL, err);
	memset(&rec, 0, sizeof(rec));
	st = ctx->backend->get_workflow(&rec, ctx->backend, wf_id, err);
	if (st != ORC_OK)
		return st;
	orc_workflow_rec_clear(&rec);
	if (rec.state == ORC_WORKFLOW_SUCCEEDED ||
	    rec.state == ORC_WORKFLOW_FAILED)
		return ORC_OK;
	/* Workflow first: from then on nothing new can become claimable,
	 * and a crash part-way is finished by reconcile. */
	st = orc__finish_workflow(ctx, wf_id, ORC_WORKFLOW_CANCELED,
			     reason ? reason : "canceled", err);
	if (st != ORC_OK)
		return st;
	return orc__cancel_claimable(ctx, wf_id, NULL, err);
}

/* ---- snapshot ---- */

struct snap_fill {
	orc_snapshot *snap;
	orc__wf_cache *wf;
	size_t filled;
	int oom;
};

static int fill_snapshot(const orc_task_rec *rec, void *payload)
{
	struct snap_fill *f = payload;
	orc_task_rec *dst;
	size_t idx;

	if (orc_dag_find(&idx, f->wf->dag, rec->id, NULL) != ORC_OK ||
	    idx >= f->snap->ntasks)
		return 0;
	dst = orc__snap_task(f->snap, idx);
	orc_task_rec_clear(dst);
	*dst = *rec;
	dst->output = rec->output ? orc_strdup(rec->output) : NULL;
	dst->error = rec->error ? orc_strdup(rec->error) : NULL;
	if ((rec->output && !dst->output) || (rec->error && !dst->error))
		f->oom = 1;
	f->filled++;
	return 0;
}

ORC_API orc_status orc_workflow_snapshot(orc_snapshot *out, orc_context *ctx,
					 const char *wf_id, uint32_t flags,
					 orc_error *err)
{
	size_t missing = 0;
	orc_status st = orc__snapshot(out, ctx, wf_id, flags, &missing, err);

	if (st == ORC_OK && missing) {
		st = orc_error_set(err, ORC_EBACKEND,
				   "workflow %s: %zu of %zu task records missing",
				   wf_id, missing, out->ntasks);
		orc_snapshot_clear(out);
	}
	return st;
}

orc_status orc__snapshot(orc_snapshot *out, orc_context *ctx,
			 const char *wf_id, uint32_t flags, size_t *missing,
			 orc_error *err)
{
	struct snap_fill f;
	orc__wf_cache *wf;
	orc_status st;
	size_t i, n;

	ORC_CHECK_ARG(out != NULL, err);
	memset(out, 0, sizeof(*out));
	ORC_CHECK_ARG(ctx != NULL && wf_id != NULL, err);
	if ((st = orc__context_workflow(&wf, ctx, wf_id, err)) != ORC_OK)
		return st;
	st = ctx->backend->get_workflow(&out->workflow, ctx->backend, wf_id,
					err);
	if (st != ORC_OK)
		return st;
	n = orc_dag_task_count(wf->dag);
	out->task_data = orc__calloc(n, sizeof(orc_task_rec));
	if (!out->task_data) {
		orc_snapshot_clear(out);
		return orc_error_set(err, ORC_ENOMEM, NULL);
	}
	out->ntasks = n;
	for (i = 0; i < n; i++) {
		orc_task_rec *t = orc__snap_task(out, i);

		orc__strlcpy(t->id, orc__task_id_at(wf->dag, i),
			     sizeof(t->id));
	}
	f.snap = out;
	f.wf = wf;
	f.filled = 0;
	f.oom = 0;
	st = ctx->backend->list_tasks(ctx->backend, wf_id, 0,
				      (flags & ORC_SNAPSHOT_PAYLOADS) ?
				      ORC_LIST_PAYLOADS : 0,
				      fill_snapshot, &f, err);
	if (st == ORC_OK && f.oom)
		st = orc_error_set(err, ORC_ENOMEM, NULL);
	*missing = st == ORC_OK ? n - f.filled : 0;
	if (st != ORC_OK)
		orc_snapshot_clear(out);
	return st;
}

ORC_API size_t orc_snapshot_task_count(const orc_snapshot *snap)
{
	return snap ? snap->ntasks : 0;
}

ORC_API const orc_task_rec *orc_snapshot_task(const orc_snapshot *snap,
					      size_t index)
{
	if (!snap || index >= snap->ntasks)
		return NULL;
	return orc__snap_task(snap, index);
}

ORC_API void orc_snapshot_clear(orc_snapshot *snap)
{
	size_t i;

	if (!snap)
		return;
	for (i = 0; i < snap->ntasks; i++)
		orc_task_rec_clear(orc__snap_task(snap, i));
	orc_free(snap->task_data);
	orc_workflow_rec_clear(&snap->workflow);
	memset(snap, 0, sizeof(*snap));
}
