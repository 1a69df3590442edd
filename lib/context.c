/*
 * Engine context: the backend, the clock, the jitter PRNG and a small
 * LRU cache of workflow definitions so hot paths never re-parse them.
 */
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "internal.h"

static int64_t real_clock(void *payload)
{
	ORC_UNUSED(payload);
	return orc__now_ms();
}

ORC_API orc_status orc_context_create(orc_context **out, orc_backend *backend,
				      const orc_context_options *opts,
				      orc_error *err)
{
	orc_context *ctx;
	orc_status st;

	ORC_CHECK_ARG(out != NULL, err);
	*out = NULL;
	ORC_CHECK_ARG(backend != NULL, err);
	if (opts && (opts->version == 0 ||
		     opts->version > ORC_CONTEXT_OPTIONS_VERSION))
		return orc_error_set(err, ORC_EINVAL,
				     "context options version %u not supported",
				     opts->version);
	if ((st = orc_backend_check(backend, err)) != ORC_OK)
		return st;
	ctx = orc__calloc(1, sizeof(*ctx));
	if (!ctx)
		return orc_error_set(err, ORC_ENOMEM, NULL);
	ctx->backend = backend;
	ctx->clock = opts && opts->clock ? opts->clock : real_clock;
	ctx->clock_payload = opts ? opts->clock_payload : NULL;
	ctx->rng = opts && opts->seed ? opts->seed : 0x6f72636865737472ULL;
	*out = ctx;
	return ORC_OK;
}

static void cache_free(orc__wf_cache *c)
{
	size_t i, n = orc_dag_task_count(c->dag);

	if (c->outputs)
		for (i = 0; i < n; i++)
			orc_free(c->outputs[i]);
	orc_free(c->outputs);
	orc_free(c->reads_left);
	orc_free(c->done);
	orc_free(c->hint_ver);
	orc_free(c->hint_bits);
	orc_dag_free(c->dag);
	orc_free(c->input);
	orc_free(c->sinks);
	orc_free(c);
}

/* Versions are kept in 32 bits; a larger one is simply not a hint. */
#define HINT_VERSION_MAX UINT32_MAX

void orc__hint_push(orc__wf_cache *wf, uint32_t task, int64_t version)
{
	size_t n = orc_dag_task_count(wf->dag);

	if (task >= n || version <= 0 || version > HINT_VERSION_MAX)
		return;
	if (!wf->hint_ver) {
		wf->hint_ver = orc__calloc(n, sizeof(*wf->hint_ver));
		wf->hint_bits = orc__calloc((n + 63) / 64,
					    sizeof(*wf->hint_bits));
		if (!wf->hint_ver || !wf->hint_bits) {
			orc_free(wf->hint_ver);
			orc_free(wf->hint_bits);
			wf->hint_ver = NULL;
			wf->hint_bits = NULL;
			return;
		}
	}
	if (!wf->hint_ver[task])
		wf->nhints++;
	wf->hint_ver[task] = (uint32_t)version;
	wf->hint_bits[task / 64] |= 1ULL << (task % 64);
}

/* The first set bit at or after @p from, or n when there is none. */
static size_t hint_scan(const orc__wf_cache *wf, size_t from, size_t n)
{
	size_t w = from / 64, nw = (n + 63) / 64;
	uint64_t bits;

	if (from >= n)
		return n;
	bits = wf->hint_bits[w] & (~0ULL << (from % 64));
	while (!bits) {
		if (++w == nw)
			return n;
		bits = wf->hint_bits[w];
	}
	return w * 64 + (size_t)__builtin_ctzll(bits);
}

int orc__hint_next(uint32_t *task, int64_t *version, const orc__wf_cache *wf,
		   size_t from)
{
	size_t n = orc_dag_task_count(wf->dag), i;

	if (!wf->nhints)
		return 0;
	i = hint_scan(wf, from, n);
	if (i == n)
		i = hint_scan(wf, 0, n);  /* wrap around */
	if (i == n)
		return 0;
	*task = (uint32_t)i;
	*version = wf->hint_ver[i];
	return 1;
}

void orc__hint_drop(orc__wf_cache *wf, uint32_t task)
{
	if (!wf->hint_ver || task >= orc_dag_task_count(wf->dag) ||
	    !wf->hint_ver[task])
		return;
	wf->hint_ver[task] = 0;
	wf->hint_bits[task / 64] &= ~(1ULL << (task % 64));
	wf->nhints--;
}

void orc__remember_output(orc__wf_cache *wf, size_t task, const char *json)
{
	size_t n = orc_dag_task_count(wf->dag);
	const uint32_t *succ;
	size_t ns = orc_dag_dependents(&succ, wf->dag, task);

	if (!wf->done && !(wf->done = orc__calloc((n + 3) / 4, 1)))
		return;
	wf->done[task / 4] |= (unsigned char)(1u << (task % 4 * 2));
	if (!json) {
		/* Final, so kept for good at the cost of a bit. */
		wf->done[task / 4] |= (unsigned char)(2u << (task % 4 * 2));
		return;
	}
	if (ns == 0)
		return;
	if (!wf->outputs) {
		wf->outputs = orc__calloc(n, sizeof(*wf->outputs));
		wf->reads_left = orc__calloc(n, sizeof(*wf->reads_left));
		if (!wf->outputs || !wf->reads_left) {
			orc_free(wf->outputs);
			orc_free(wf->reads_left);
			wf->outputs = NULL;
			wf->reads_left = NULL;
			return;
		}
	}
	if (!wf->outputs[task] && (wf->outputs[task] = orc_strdup(json)))
		wf->reads_left[task] = (uint32_t)ns;
}

int orc__known_done(const orc__wf_cache *wf, size_t task)
{
	return wf->done && (wf->done[task / 4] >> (task % 4 * 2) & 1u);
}

const char *orc__known_output(const orc__wf_cache *wf, size_t task)
{
	if (!wf->done)
		return NULL;
	if (wf->done[task / 4] >> (task % 4 * 2) & 2u)
		return "null";
	return wf->outputs ? wf->outputs[task] : NULL;
}

ORC_API void orc_context_free(orc_context *ctx)
{
	orc__wf_cache *c, *next;

	if (!ctx)
		return;
	for (c = ctx->cache; c; c = next) {
		next = c->next;
		cache_free(c);
	}
	orc_free(ctx);
}

ORC_API int64_t orc_context_now(orc_context *ctx)
{
	return ctx ? ctx->clock(ctx->clock_payload) : orc__now_ms();
}

ORC_API orc_backend *orc_context_backend(orc_context *ctx)
{
	return ctx ? ctx->backend : NULL;
}

static orc__wf_cache *cache_find(orc_context *ctx, const char *wf_id)
{
	orc__wf_cache **pp, *c;

	for (pp = &ctx->cache; (c = *pp) != NULL; pp = &c->next) {
		if (strcmp(c->id, wf_id) == 0) {
			/* move to front: the runner hits one id repeatedly */
			*pp = c->next;
			c->next = ctx->cache;
			ctx->cache = c;
			return c;
		}
	}
	return NULL;
}

orc_status orc__context_put(orc__wf_cache **out, orc_context *ctx,
			    const char *wf_id, const orc_dag *dag,
			    const char *input, orc_error *err)
{
	orc__wf_cache *c, **pp;
	size_t i, n, k = 0;
	const uint32_t *list;

	if ((c = cache_find(ctx, wf_id)) != NULL) {
		*out = c;
		return ORC_OK;
	}
	c = orc__calloc(1, sizeof(*c));
	if (!c)
		return orc_error_set(err, ORC_ENOMEM, NULL);
	orc__strlcpy(c->id, wf_id, sizeof(c->id));
	n = orc_dag_task_count(dag);
	c->sinks = orc__malloc(n * sizeof(*c->sinks));
	if (!c->sinks || (input && !(c->input = orc_strdup(input)))) {
		orc_free(c->sinks);
		orc_free(c);
		return orc_error_set(err, ORC_ENOMEM, NULL);
	}
	for (i = 0; i < n; i++)
		if (orc_dag_dependents(&list, dag, i) == 0)
			c->sinks[k++] = (uint32_t)i;
	c->nsinks = k;
	c->dag = orc__dag_ref(dag);
	c->next = ctx->cache;
	ctx->cache = c;
	if (++ctx->ncache > ORC__CACHE_MAX) {
		/* evict the least recently used entry */
		for (pp = &ctx->cache; (*pp)->next; pp = &(*pp)->next)
			;
		cache_free(*pp);
		*pp = NULL;
		ctx->ncache--;
	}
	*out = ctx->cache;
	return ORC_OK;
}

orc_status orc__context_workflow(orc__wf_cache **out, orc_context *ctx,
				 const char *wf_id, orc_error *err)
{
	orc_workflow_rec rec;
	orc_dag *dag = NULL;
	orc_status st;

	if ((*out = cache_find(ctx, wf_id)) != NULL)
		return ORC_OK;
	memset(&rec, 0, sizeof(rec));
	st = ctx->backend->get_workflow(&rec, ctx->backend, wf_id, err);
	if (st != ORC_OK)
		return st;
	if (!rec.definition) {
		orc_workflow_rec_clear(&rec);
		return orc_error_set(err, ORC_EBACKEND,
				     "workflow %s: stored record has no definition",
				     wf_id);
	}
	st = orc_dag_load(&dag, NULL, rec.definition, strlen(rec.definition),
			  "stored definition", err);
	if (st == ORC_OK)
		st = orc__context_put(out, ctx, wf_id, dag, rec.input, err);
	if (st == ORC_OK)
		(*out)->created_ms = rec.created_ms;
	orc_dag_free(dag);
	orc_workflow_rec_clear(&rec);
	return st;
}
