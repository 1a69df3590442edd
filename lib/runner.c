/*
 * The in-process runner: claims tasks of one workflow, calls registered C
 * handlers and reports their results, on N threads or deterministically
 * on the caller's thread. It is a driver: every state change goes
 * through the engine (workflow.c), never around it.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "context.h"
#include "engine.h"
#include "internal.h"
#include "orchestra/runner.h"

#define DEFAULT_LEASE_MS 30000
#define DEFAULT_STORAGE_TIMEOUT_MS 300000
/* Polling mode (threads == 0, or an idle callback): idle polls back off
 * to this; reconcile runs at most this often (context clock). */
#define IDLE_MAX_MS 20
#define RECONCILE_EVERY_MS 200
/* Backoff between tries of a storage step that failed transiently:
 * doubling from the first, at most the cap. */
#define STORAGE_BACKOFF_MS 100
#define STORAGE_BACKOFF_MAX_MS 2000

struct handler {
	struct handler *next;
	char *target;          /* NULL: the default handler */
	orc_handler_fn fn;
	void *payload;
};

struct orc_runner {
	orc_backend *backend;
	orc_runner_options opts;
	char owner[ORC_OWNER_MAX + 1];
	struct handler *handlers;
	pthread_mutex_t serial;  /* taken around engine calls when the
				    backend is not thread-safe */
	int serialize;
};

struct orc_handler_call {
	const orc_task_spec *spec;
	const char *wf_id;
	const char *task_id;
	int32_t attempt;
	const char *payload;
	char *output;
	char error[512];
};

/* Shared by the workers of one run. */
struct run_state {
	orc_runner *r;
	const char *wf_id;
	const orc_dag *dag;
	const char *input;
	const struct handler **resolved; /* per task index */
	/* One context for every worker, so that what one worker's writes
	 * taught it (tasks made READY, outputs, the end) serves all: a run
	 * needs no reads for what it did itself. Under @c mu. */
	orc_context *ctx;
	pthread_mutex_t mu;
	pthread_cond_t wake;     /* hints, a free slot, stop */
	int event_mode;          /* wait on @c wake, not by polling */
	int stop;
	unsigned running;        /* claims our workers hold */
	int64_t next_poll;       /* event mode: real ms of the next look */
	int64_t cadence;         /* event mode: lease / 4 */
	int stall_polled;        /* polled since the last claim, in vain */
	int64_t storage_timeout;
	uint64_t rng;
	atomic_ulong attempts;
	orc_status first_st;
	orc_error first_err;
};

/*
 * What a worker is running, for the keeper thread that renews its lease.
 * A task without a timeout may run longer than any lease: without
 * renewal it would be reclaimed and run twice. The keeper holds @c lock
 * across the heartbeat, so the worker always reads the latest token.
 */
struct slot {
	pthread_mutex_t lock;
	int active;
	const char *task_id;   /* the claim's, valid while active */
	const char *owner;     /* the worker's */
	int64_t token;
	int64_t lease_ms;
	int64_t renewed_ms;    /* real time of the claim or last renewal */
};

struct worker {
	struct run_state *rs;
	unsigned int index;
	pthread_t thread;
	struct slot slot;
};

/* ---- handler call accessors ---- */

ORC_API const char *orc_call_workflow_id(const orc_handler_call *call)
{
	return call ? call->wf_id : NULL;
}

ORC_API const char *orc_call_task_id(const orc_handler_call *call)
{
	return call ? call->task_id : NULL;
}

ORC_API int32_t orc_call_attempt(const orc_handler_call *call)
{
	return call ? call->attempt : 0;
}

ORC_API const char *orc_call_payload(const orc_handler_call *call)
{
	return call ? call->payload : NULL;
}

ORC_API orc_status orc_call_set_output(orc_handler_call *call,
				       const char *json, orc_error *err)
{
	json_error_t jerr;
	json_t *v;
	char *copy;

	ORC_CHECK_ARG(call != NULL && json != NULL, err);
	v = json_loads(json, JSON_DECODE_ANY, &jerr);
	if (!v)
		return orc_error_set(err, ORC_EINVAL,
				     "task %s: output is not JSON: %s (line %d, column %d)",
				     call->task_id, jerr.text, jerr.line,
				     jerr.column);
	json_decref(v);
	copy = orc_strdup(json);
	if (!copy)
		return orc_error_set(err, ORC_ENOMEM, NULL);
	orc_free(call->output);
	call->output = copy;
	return ORC_OK;
}

ORC_API void orc_call_set_error(orc_handler_call *call, const char *fmt, ...)
{
	va_list ap;

	if (!call || !fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(call->error, sizeof(call->error), fmt, ap);
	va_end(ap);
}

/* ---- runner object ---- */

ORC_API orc_status orc_runner_create(orc_runner **out, orc_backend *backend,
				     const orc_runner_options *opts,
				     orc_error *err)
{
	orc_runner_options defaults = ORC_RUNNER_OPTIONS_INIT;
	orc_runner *r;
	orc_status st;

	ORC_CHECK_ARG(out != NULL, err);
	*out = NULL;
	ORC_CHECK_ARG(backend != NULL, err);
	if ((st = orc_backend_check(backend, err)) != ORC_OK)
		return st;
	if (opts && (opts->version == 0 ||
		     opts->version > ORC_RUNNER_OPTIONS_VERSION))
		return orc_error_set(err, ORC_EINVAL,
				     "runner options version %u not supported",
				     opts->version);
	if (opts && opts->threads > 1024)
		return orc_error_set(err, ORC_EINVAL,
				     "runner threads must be at most 1024");
	if (opts && opts->version >= 2 && opts->storage_timeout_ms < -1)
		return orc_error_set(err, ORC_EINVAL,
				     "runner storage_timeout_ms must be >= -1");
	if (opts && opts->lease_ms < 0)
		return orc_error_set(err, ORC_EINVAL,
				     "runner lease_ms must be >= 0");
	if (opts && opts->owner &&
	    (opts->owner[0] == '\0' || strlen(opts->owner) > ORC_OWNER_MAX - 16))
		return orc_error_set(err, ORC_EINVAL,
				     "runner owner must be 1..%d bytes",
				     ORC_OWNER_MAX - 16);
	r = orc__calloc(1, sizeof(*r));
	if (!r)
		return orc_error_set(err, ORC_ENOMEM, NULL);
	r->backend = backend;
	r->opts = defaults;
	/* A version 1 struct ends before storage_timeout_ms. */
	if (opts)
		memcpy(&r->opts, opts, opts->version >= 2 ? sizeof(*opts) :
		       offsetof(orc_runner_options, storage_timeout_ms));
	r->opts.version = ORC_RUNNER_OPTIONS_VERSION;
	if (r->opts.storage_timeout_ms == 0)
		r->opts.storage_timeout_ms = DEFAULT_STORAGE_TIMEOUT_MS;
	if (r->opts.lease_ms == 0)
		r->opts.lease_ms = DEFAULT_LEASE_MS;
	/* Expiries are now + lease: a longer one could overflow, and ten
	 * years is as good as never. */
	if (r->opts.lease_ms > ORC__LEASE_MAX_MS)
		r->opts.lease_ms = ORC__LEASE_MAX_MS;
	orc__strlcpy(r->owner, r->opts.owner ? r->opts.owner : "runner",
		     sizeof(r->owner));
	r->opts.owner = NULL; /* not kept: copied above */
	r->serialize = !(backend->caps & ORC_BACKEND_CAP_THREADSAFE);
	pthread_mutex_init(&r->serial, NULL);
	*out = r;
	return ORC_OK;
}

ORC_API void orc_runner_free(orc_runner *r)
{
	struct handler *h, *next;

	if (!r)
		return;
	for (h = r->handlers; h; h = next) {
		next = h->next;
		orc_free(h->target);
		orc_free(h);
	}
	pthread_mutex_destroy(&r->serial);
	orc_free(r);
}

static struct handler *find_handler(orc_runner *r, const char *target)
{
	struct handler *h;

	for (h = r->handlers; h; h = h->next) {
		if ((!target && !h->target) ||
		    (target && h->target && strcmp(target, h->target) == 0))
			return h;
	}
	return NULL;
}

ORC_API orc_status orc_runner_register(orc_runner *r, const char *target,
				       orc_handler_fn fn, void *payload,
				       orc_error *err)
{
	struct handler *h;

	ORC_CHECK_ARG(r != NULL && fn != NULL, err);
	if (target && target[0] == '\0')
		return orc_error_set(err, ORC_EINVAL,
				     "handler target must not be empty");
	if (find_handler(r, target))
		return orc_error_set(err, ORC_EEXISTS,
				     "a handler for %s%s%s is already registered",
				     target ? "'" : "",
				     target ? target : "the default target",
				     target ? "'" : "");
	h = orc__calloc(1, sizeof(*h));
	if (!h || (target && !(h->target = orc_strdup(target)))) {
		orc_free(h);
		return orc_error_set(err, ORC_ENOMEM, NULL);
	}
	h->fn = fn;
	h->payload = payload;
	h->next = r->handlers;
	r->handlers = h;
	return ORC_OK;
}

ORC_API void orc_run_result_clear(orc_run_result *res)
{
	if (!res)
		return;
	orc_free(res->error);
	res->error = NULL;
}

#ifdef ORC_HAVE_COMMAND
/* Command targets run as child processes (lib/command.c); the call's
 * spec gives argv and timeout. */
static orc_status run_command(orc_handler_call *call, void *payload)
{
	orc__command_req req;
	orc_error e;
	orc_status st;

	(void)payload;
	memset(&req, 0, sizeof(req));
	req.argv = call->spec->argv;
	req.payload = call->payload;
	req.wf_id = call->wf_id;
	req.task_id = call->task_id;
	req.attempt = call->attempt;
	req.timeout_ms = call->spec->timeout_ms;
	st = orc__command_run(&call->output, call->error, sizeof(call->error),
			      &req, &e);
	if (st != ORC_OK && call->error[0] == '\0')
		orc__strlcpy(call->error, e.message, sizeof(call->error));
	return st;
}

static const struct handler command_target = { NULL, NULL, run_command,
					       NULL };
#endif

/* Every task must have a handler before anything starts. */
static orc_status resolve_handlers(struct run_state *rs, orc_error *err)
{
	size_t n = orc_dag_task_count(rs->dag), i;

	rs->resolved = orc__calloc(n, sizeof(*rs->resolved));
	if (!rs->resolved)
		return orc_error_set(err, ORC_ENOMEM, NULL);
	for (i = 0; i < n; i++) {
		orc_task_spec spec = ORC_TASK_SPEC_INIT;
		const struct handler *h = NULL;

		orc_dag_task_get(&spec, rs->dag, i, NULL);
		if (spec.target_kind == ORC_TARGET_COMMAND) {
#ifdef ORC_HAVE_COMMAND
			rs->resolved[i] = &command_target;
			continue;
#else
			return orc_error_set(err, ORC_ENOTSUPPORTED,
					     "task %s: command targets are not built in",
					     spec.id);
#endif
		}
		if (spec.target)
			h = find_handler(rs->r, spec.target);
		if (!h)
			h = find_handler(rs->r, NULL);
		if (!h)
			return orc_error_set(err, ORC_ENOTFOUND,
					     "task %s: no handler registered for target '%s' and no default handler",
					     spec.id,
					     spec.target ? spec.target :
					     (spec.argv ? spec.argv[0] : "(none)"));
		rs->resolved[i] = h;
	}
	return ORC_OK;
}

/* ---- workers ---- */

static void lock_engine(orc_runner *r)
{
	if (r->serialize)
		pthread_mutex_lock(&r->serial);
}

static void unlock_engine(orc_runner *r)
{
	if (r->serialize)
		pthread_mutex_unlock(&r->serial);
}

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* @p a + @p b for b >= 0, without passing INT64_MAX. */
static int64_t sat_add(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* With rs->mu held. Once the run is stopping its outcome is decided
 * (the workflow ended, or an earlier error): a step given up on since,
 * such as a storage retry cut short by the stop, is not an error. */
static void record_error(struct run_state *rs, orc_status st,
			 const orc_error *e)
{
	if (!rs->stop && rs->first_st == ORC_OK) {
		rs->first_st = st;
		rs->first_err = *e;
	}
	rs->stop = 1;
	pthread_cond_broadcast(&rs->wake);
}

static void stop_run(struct run_state *rs)
{
	rs->stop = 1;
	pthread_cond_broadcast(&rs->wake);
}

static void emit(struct run_state *rs, const char *task_id,
		 orc_task_state state, int32_t attempt, const char *output,
		 const char *error)
{
	orc_run_event ev;

	if (!rs->r->opts.on_event)
		return;
	ev.task_id = task_id;
	ev.state = state;
	ev.attempt = attempt;
	ev.output = output;
	ev.error = error;
	rs->r->opts.on_event(&ev, rs->r->opts.event_payload);
}

ORC_API int orc_runner_error_is_transient(orc_status st, const orc_error *err)
{
	if (st == ORC_ETHROTTLED || st == ORC_ETIMEOUT)
		return 1;
	if (st != ORC_EBACKEND || !err || err->code != st ||
	    !err->source[0] || strcmp(err->source, "sqlite") == 0)
		return 0;
	return err->detail == 0 || (err->detail >= 500 && err->detail <= 599);
}

/* Consecutive transient failures of one storage step. */
struct faults {
	int n;
	int64_t since;
};

/*
 * A storage step failed with @p st: wait (rs->mu released) and say
 * whether to try again. Transient errors are retried with capped
 * exponential backoff until the storage timeout has passed since the
 * first failure of this step; then, or for any other error, or when the
 * run is stopping, 0.
 */
static int storage_retry(struct run_state *rs, struct faults *f,
			 orc_status st, const orc_error *e)
{
	int64_t now = real_ms(), d, left;

	if (rs->stop || rs->storage_timeout < 0 ||
	    !orc_runner_error_is_transient(st, e))
		return 0;
	if (f->n == 0)
		f->since = now;
	left = rs->storage_timeout - (now - f->since);
	if (left <= 0)
		return 0;
	d = STORAGE_BACKOFF_MS << (f->n < 6 ? f->n : 6);
	if (d > STORAGE_BACKOFF_MAX_MS)
		d = STORAGE_BACKOFF_MAX_MS;
	/* Half fixed, half jitter: workers of several processes spread. */
	d = d / 2 + (int64_t)(orc__rand_next(&rs->rng) % (uint64_t)(d / 2 + 1));
	if (d > left)
		d = left;
	f->n++;
	pthread_mutex_unlock(&rs->mu);
	orc__sleep_ms(d);
	pthread_mutex_lock(&rs->mu);
	return !rs->stop;
}

/* One engine call on the shared context, retried through storage
 * faults. Needs rs->mu; @p f_ says whether an attempt failed before. */
#define ENGINE(rs, st, err, f_, call) do {				\
		memset(&(f_), 0, sizeof(f_));				\
		for (;;) {						\
			lock_engine((rs)->r);				\
			(st) = (call);					\
			unlock_engine((rs)->r);				\
			if ((st) == ORC_OK ||				\
			    !storage_retry((rs), &(f_), (st), (err)))	\
				break;					\
		}							\
	} while (0)

static void idle_wait(orc_runner *r, int64_t ms)
{
	if (r->opts.idle) {
		r->opts.idle(ms, r->opts.idle_payload);
		return;
	}
	orc__sleep_ms(ms);
}

static void slot_begin(struct slot *s, const orc_claim *cl, int64_t lease)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->active = 1;
	s->task_id = cl->task_id;
	s->token = cl->token;
	s->lease_ms = lease;
	s->renewed_ms = real_ms();
	pthread_mutex_unlock(&s->lock);
}

/* The claim's token now: the keeper may have renewed it. */
static int64_t slot_token(struct slot *s, int64_t token)
{
	if (!s)
		return token;
	pthread_mutex_lock(&s->lock);
	token = s->token;
	pthread_mutex_unlock(&s->lock);
	return token;
}

static void slot_set_token(struct slot *s, int64_t token)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->token = token;
	pthread_mutex_unlock(&s->lock);
}

/* Stop renewing; the token may have moved on with each renewal. */
static int64_t slot_end(struct slot *s, int64_t token)
{
	if (!s)
		return token;
	pthread_mutex_lock(&s->lock);
	s->active = 0;
	token = s->token;
	pthread_mutex_unlock(&s->lock);
	return token;
}

/* Is task @p task_id RUNNING under @p owner? Then *token is its version
 * (a write of ours, such as a renewal, was applied although its answer
 * was lost). 1 yes, 0 no, -1 could not read (@p err set). */
static int still_ours(int64_t *token, orc_backend *b, const char *wf_id,
		      const char *task_id, const char *owner, orc_error *err)
{
	orc_task_rec rec;
	int ours;

	memset(&rec, 0, sizeof(rec));
	if (b->get_task(&rec, b, wf_id, task_id, 0, err) != ORC_OK)
		return -1;
	ours = rec.state == ORC_TASK_RUNNING && strcmp(rec.owner, owner) == 0;
	if (ours)
		*token = rec.version;
	orc_task_rec_clear(&rec);
	return ours;
}

struct own_claim {
	const char *owner;
	orc_task_rec rec;
	int found;
};

static int find_own(const orc_task_rec *rec, void *payload)
{
	struct own_claim *o = payload;

	if (rec->state != ORC_TASK_RUNNING || strcmp(rec->owner, o->owner))
		return 0;
	o->rec = *rec;
	o->rec.output = o->rec.error = NULL; /* not listed with payloads */
	o->found = 1;
	return 1;
}

/*
 * After a claim whose answer was lost: a task RUNNING under our owner is
 * ours (only this worker writes that owner, and it holds one claim at a
 * time), so run it instead of leaving it to its lease. ORC_ENOTFOUND
 * when there is none.
 */
static orc_status adopt_own(struct run_state *rs, orc_claim *cl,
			    const char *owner, orc_error *err)
{
	orc_backend *b = rs->r->backend;
	struct own_claim o;
	struct faults f;
	orc_status st;

	memset(&o, 0, sizeof(o));
	o.owner = owner;
	ENGINE(rs, st, err, f, b->list_tasks(b, rs->wf_id,
					     ORC_TASK_BIT(ORC_TASK_RUNNING), 0,
					     find_own, &o, err));
	if (st != ORC_OK)
		return st;
	if (!o.found)
		return ORC_ENOTFOUND;
	memset(cl, 0, sizeof(*cl));
	orc__strlcpy(cl->task_id, o.rec.id, sizeof(cl->task_id));
	if (orc_dag_find(&cl->task_index, rs->dag, o.rec.id, err) != ORC_OK)
		return ORC_EBACKEND;
	cl->token = o.rec.version;
	cl->attempt = o.rec.attempt;
	cl->lease_expiry_ms = o.rec.lease_expiry_ms;
	return ORC_OK;
}

/*
 * Give claim @p cl the task's own lease when it is longer than the one
 * claimed with (a claim from a listing), or renew an adopted claim
 * before running it. ORC_ECONFLICT: the task is not ours any more.
 */
static orc_status ensure_lease(struct run_state *rs, orc_claim *cl,
			       const char *owner, int force, orc_error *err)
{
	orc_runner *r = rs->r;
	int64_t lease = orc__task_lease_ms(rs->dag, cl->task_index,
					   r->opts.lease_ms);
	int64_t tok = cl->token;
	struct faults f;
	orc_status st;

	if (!force && cl->lease_expiry_ms -
		      orc_context_now(rs->ctx) >= lease - 1000)
		return ORC_OK;
	ENGINE(rs, st, err, f, orc_workflow_heartbeat(&tok, rs->ctx, rs->wf_id,
						      cl->task_id, lease, err));
	/* Our own renewal, applied with its answer lost, reads as stale. */
	if (st == ORC_ECONFLICT && f.n > 0 &&
	    still_ours(&tok, r->backend, rs->wf_id, cl->task_id, owner,
		       NULL) == 1)
		st = ORC_OK;
	if (st == ORC_OK)
		cl->token = tok;
	return st;
}

/* Wake-up for a retry after a failed attempt of task @p idx: a task
 * backing off is claimable only from a listing, once it is due. */
static void schedule_retry(struct run_state *rs, size_t idx, int32_t attempt)
{
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	int64_t due;

	if (!rs->event_mode ||
	    orc_dag_task_get(&spec, rs->dag, idx, NULL) != ORC_OK)
		return;
	due = sat_add(real_ms(), sat_add(orc_retry_delay_ms(&spec.retry,
							    attempt, 1.0), 1));
	if (due < rs->next_poll)
		rs->next_poll = due;
	rs->stall_polled = 0;
}

/* One try of the report's write with @p token. */
static orc_status report_write(struct run_state *rs, const orc_claim *cl,
			       int64_t token, orc_status hst,
			       orc_handler_call *call, const char *owner,
			       orc_claim *next, orc_status *next_st,
			       int *final, orc_error *err)
{
	orc_status st;

	lock_engine(rs->r);
	if (hst == ORC_OK)
		st = orc__complete_claim_hinted(next, next_st, rs->ctx,
						rs->wf_id, cl->task_id, token,
						call->output, owner,
						rs->r->opts.lease_ms, err);
	else
		st = orc_workflow_fail(final, rs->ctx, rs->wf_id, cl->task_id,
				       token, call->error, err);
	unlock_engine(rs->r);
	return st;
}

/*
 * Report the outcome of claim @p cl: completion (and the next claim our
 * writes allow, into *next) or failure. The keeper keeps renewing the
 * lease meanwhile (@p slot), so a report held up by storage faults does
 * not lose the task. Storage faults are retried. A conflict is resolved
 * by reading the task: still RUNNING under our owner, the version moved
 * (a renewal, or our own write applied with its answer lost, of which
 * the task keeps no sign but the version), so we write again with it;
 * otherwise the attempt is over (our write applied, or the lease lost)
 * and the handler never runs again for it.
 */
static orc_status report(struct run_state *rs, struct slot *slot,
			 const orc_claim *cl, orc_status hst,
			 orc_handler_call *call, const char *owner,
			 orc_claim *next, int *have_next, int *uncertain,
			 orc_error *err)
{
	orc_status st, next_st = ORC_ENOTFOUND;
	struct faults f;
	int final = 0, rounds = 0;
	int64_t token;

	*have_next = 0;
	if (hst != ORC_OK && call->error[0] == '\0')
		snprintf(call->error, sizeof(call->error), "%s: %s",
			 orc_status_name(hst), orc_strerror(hst));
	memset(&f, 0, sizeof(f));
	for (;;) {
		token = slot_token(slot, cl->token);
		st = report_write(rs, cl, token, hst, call, owner, next,
				  &next_st, &final, err);
		if (st == ORC_ECONFLICT && (f.n > 0 || slot) &&
		    rounds++ < 8) {
			int64_t now_tok = token;
			int ours;

			lock_engine(rs->r);
			ours = still_ours(&now_tok, rs->r->backend, rs->wf_id,
					  cl->task_id, owner, err);
			unlock_engine(rs->r);
			if (ours == 1 && now_tok != token) {
				slot_set_token(slot, now_tok);
				continue;
			}
			if (ours < 0) {
				st = ORC_EBACKEND;
				if (err && err->code != ORC_OK)
					st = err->code;
			}
		}
		if (st == ORC_OK || !storage_retry(rs, &f, st, err))
			break;
	}
	slot_end(slot, token);
	/* A try that failed may have claimed the next task for us. */
	if (f.n > 0)
		*uncertain = 1;
	if (st == ORC_OK && hst == ORC_OK) {
		emit(rs, cl->task_id, ORC_TASK_SUCCEEDED, cl->attempt,
		     call->output, NULL);
		*have_next = next_st == ORC_OK;
		if (next_st == ORC_ECANCELED)
			stop_run(rs);
		else if (next_st != ORC_OK && next_st != ORC_ENOTFOUND)
			*uncertain = 1; /* a claim's answer lost? */
	} else if (st == ORC_OK) {
		emit(rs, cl->task_id, final ? ORC_TASK_FAILED : ORC_TASK_READY,
		     cl->attempt, NULL, call->error);
		if (final)
			stop_run(rs); /* the workflow FAILED */
		else
			schedule_retry(rs, cl->task_index, cl->attempt);
	}
	if (st == ORC_ECONFLICT && f.n > 0) {
		orc_reconcile_report rep;

		/* Our write was applied with its answer lost (or the lease
		 * was lost meanwhile): the attempt is over. Reconcile
		 * finishes what the write began (fan-out, the workflow's
		 * end) and says whether the run is over. */
		*uncertain = 1;
		ENGINE(rs, st, err, f, orc_workflow_reconcile(&rep, rs->ctx,
							      rs->wf_id, err));
		if (st == ORC_OK && orc_workflow_state_is_terminal(rep.state))
			stop_run(rs);
		if (st == ORC_OK && !rs->stop)
			schedule_retry(rs, cl->task_index, cl->attempt);
		return st;
	}
	/* A lost lease is normal: another worker owns the task now. */
	if (st == ORC_ECONFLICT)
		return ORC_OK;
	if (st == ORC_ENOTFOUND) {
		/* A task this write fans out to is missing: a start cut
		 * short between the workflow record and its tasks. Our
		 * write stands; a reconcile writes the missing tasks once
		 * the backend's grace for the starter is over, and then
		 * redoes the fan-out. Look at storage when idle. */
		rs->stall_polled = 0;
		return ORC_OK;
	}
	if (st != ORC_OK && f.n > 0)
		*uncertain = 1;
	return st;
}

/* Run claimed task @p cl (rs->mu held, released while the handler
 * runs) and report its outcome. */
static orc_status run_one(struct run_state *rs, struct slot *slot,
			  const orc_claim *cl, const char *owner,
			  orc_claim *next, int *have_next, int *uncertain,
			  orc_error *err)
{
	const struct handler *h = rs->resolved[cl->task_index];
	int64_t lease = orc__task_lease_ms(rs->dag, cl->task_index,
					   rs->r->opts.lease_ms);
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	orc_handler_call call;
	char *payload = NULL;
	struct faults f;
	orc_status st, hst;

	/* Renewed from the claim on: a payload gathers the output of every
	 * dependency, which for a wide fan-in can outlast a short lease. */
	slot_begin(slot, cl, lease);
	ENGINE(rs, st, err, f, orc_workflow_payload(&payload, rs->ctx,
						    rs->wf_id, cl, err));
	if (st != ORC_OK) {
		slot_end(slot, cl->token);
		return st;
	}
	orc_dag_task_get(&spec, rs->dag, cl->task_index, NULL);
	memset(&call, 0, sizeof(call));
	call.spec = &spec;
	call.wf_id = rs->wf_id;
	call.task_id = cl->task_id;
	call.attempt = cl->attempt;
	call.payload = payload;
	atomic_fetch_add(&rs->attempts, 1);
	emit(rs, cl->task_id, ORC_TASK_RUNNING, cl->attempt, NULL, NULL);
	pthread_mutex_unlock(&rs->mu);
	hst = h->fn(&call, h->payload);
	pthread_mutex_lock(&rs->mu);
	st = report(rs, slot, cl, hst, &call, owner, next, have_next,
		    uncertain, err);
	orc_free(call.output);
	orc_free(payload);
	return st;
}

/*
 * Look at storage for work (rs->mu held): a listing claim, and a
 * reconcile when one is due (expired leases, fan-out a crash cut short,
 * the end written by another process). ORC_OK with a claim;
 * ORC_ENOTFOUND when there is nothing now; ORC_ECANCELED when the
 * workflow is over; other errors after the storage timeout.
 */
static orc_status poll_storage(struct run_state *rs, orc_claim *cl,
			       const char *owner, int64_t *last_reconcile,
			       int *uncertain, orc_error *err)
{
	orc_runner *r = rs->r;
	orc_reconcile_report rep;
	struct faults f;
	orc_status st;
	int64_t now;
	int round;

	for (round = 0; round < 2; round++) {
		ENGINE(rs, st, err, f, orc_workflow_claim(cl, rs->ctx,
							  rs->wf_id, owner,
							  r->opts.lease_ms,
							  err));
		/* A try that failed may have claimed a task for us. */
		if (st != ORC_OK && f.n > 0)
			*uncertain = 1;
		if (st != ORC_ENOTFOUND)
			return st;
		now = rs->event_mode ? real_ms() : orc_context_now(rs->ctx);
		if (round == 1 || (now - *last_reconcile <
				   (rs->event_mode ? rs->cadence
						   : RECONCILE_EVERY_MS) &&
				   r->opts.threads != 0))
			return ORC_ENOTFOUND;
		ENGINE(rs, st, err, f, orc_workflow_reconcile(&rep, rs->ctx,
							      rs->wf_id, err));
		if (st != ORC_OK)
			return st;
		*last_reconcile = now;
		if (orc_workflow_state_is_terminal(rep.state))
			return orc_error_set(err, ORC_ECANCELED,
					     "workflow %s is %s", rs->wf_id,
					     orc_workflow_state_name(rep.state));
		if (!rep.expired && !rep.promoted)
			return ORC_ENOTFOUND;
	}
	return ORC_ENOTFOUND;
}

/* Wait in event mode until woken or the next poll is due (rs->mu held). */
static void wait_for_work(struct run_state *rs)
{
	int64_t now = real_ms(), ms = rs->next_poll - now;
	struct timespec ts;

	if (ms <= 0)
		return;
	if (ms > 3600 * 1000)
		ms = 3600 * 1000;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&rs->wake, &rs->mu, &ts);
}

/*
 * Find the next claim for a worker (rs->mu held). Order: tasks our own
 * writes made READY (no reads); a task of ours whose claim's answer was
 * lost; then storage, which in event mode is looked at only at the
 * cadence, when a retry is due, or once when this process has nothing
 * left in flight. Returns ORC_OK with *have set, or with it unset when
 * the run is stopping; other statuses are errors of the run.
 */
static orc_status acquire(struct run_state *rs, orc_claim *cl, int *have,
			  const char *owner, int *uncertain,
			  int64_t *last_reconcile, int64_t *idle_ms,
			  orc_error *err)
{
	orc_runner *r = rs->r;
	struct faults f;
	orc_status st;

	*have = 0;
	while (!rs->stop) {
		orc__wf_cache *wf = NULL;

		if (orc__context_workflow(&wf, rs->ctx, rs->wf_id, NULL) ==
			    ORC_OK && wf->ended) {
			stop_run(rs);
			break;
		}
		if (wf && wf->nhints > 0) {
			ENGINE(rs, st, err, f,
			       orc__claim_hinted(cl, rs->ctx, rs->wf_id,
						 owner, r->opts.lease_ms,
						 err));
			if (st != ORC_OK && f.n > 0)
				*uncertain = 1;
			if (st == ORC_OK) {
				*have = 1;
				return ORC_OK;
			}
			if (st == ORC_ECANCELED) {
				stop_run(rs);
				break;
			}
			if (st != ORC_ENOTFOUND)
				return st;
			/* Stale hints: someone else is at work. */
			rs->next_poll = real_ms();
			continue;
		}
		if (*uncertain) {
			st = adopt_own(rs, cl, owner, err);
			if (st == ORC_ENOTFOUND) {
				*uncertain = 0;
				continue;
			}
			if (st != ORC_OK)
				return st;
			*uncertain = 0;
			st = ensure_lease(rs, cl, owner, 1, err);
			if (st == ORC_ECONFLICT)
				continue;
			if (st != ORC_OK)
				return st;
			*have = 1;
			return ORC_OK;
		}
		if (rs->event_mode) {
			int64_t now = real_ms();

			/* Nothing of ours in flight: whatever is left is
			 * up to others (or over); look once, now. */
			if (rs->running == 0 && !rs->stall_polled)
				rs->next_poll = now;
			if (now < rs->next_poll) {
				wait_for_work(rs);
				continue;
			}
			rs->next_poll = sat_add(now, rs->cadence);
			if (rs->running == 0)
				rs->stall_polled = 1;
		}
		st = poll_storage(rs, cl, owner, last_reconcile, uncertain,
				  err);
		if (st == ORC_OK) {
			st = ensure_lease(rs, cl, owner, 0, err);
			if (st == ORC_ECONFLICT)
				continue;
			if (st != ORC_OK)
				return st;
			*have = 1;
			return ORC_OK;
		}
		if (st == ORC_ECANCELED) {
			stop_run(rs);
			break;
		}
		if (st != ORC_ENOTFOUND)
			return st;
		if (*uncertain)
			continue;
		if (!rs->event_mode) {
			pthread_mutex_unlock(&rs->mu);
			idle_wait(r, *idle_ms);
			pthread_mutex_lock(&rs->mu);
			if (*idle_ms < IDLE_MAX_MS)
				*idle_ms *= 2;
		}
	}
	return ORC_OK;
}

static void worker_loop(struct run_state *rs, unsigned int index,
			struct slot *slot)
{
	orc_runner *r = rs->r;
	char owner[ORC_OWNER_MAX + 1];
	int64_t idle_ms = 1, last_reconcile;
	int have = 0, uncertain = 0;
	orc_claim cl, next;
	orc_error err;
	orc_status st;

	{
		/* r->owner leaves room for the suffix (orc_runner_create). */
		char tmp[ORC_OWNER_MAX + 48];

		snprintf(tmp, sizeof(tmp), "%s-%ld-%u", r->owner,
			 (long)getpid(), index);
		orc__strlcpy(owner, tmp, sizeof(owner));
	}
	if (slot)
		slot->owner = owner;
	pthread_mutex_lock(&rs->mu);
	last_reconcile = rs->event_mode ? real_ms()
					: orc_context_now(rs->ctx) -
					  RECONCILE_EVERY_MS;
	/* A task claimed with the last completion is ours: it runs even if
	 * the run is stopping, rather than wait for its lease to expire. */
	for (;;) {
		if (!have) {
			st = acquire(rs, &cl, &have, owner, &uncertain,
				     &last_reconcile, &idle_ms, &err);
			if (st != ORC_OK) {
				record_error(rs, st, &err);
				break;
			}
			if (!have)
				break;
		}
		rs->running++;
		rs->stall_polled = 0;
		st = run_one(rs, slot, &cl, owner, &next, &have, &uncertain,
			     &err);
		rs->running--;
		if (st != ORC_OK) {
			record_error(rs, st, &err);
			break;
		}
		idle_ms = 1;
		if (have)
			cl = next;
		/* What this completion made READY is for the others. */
		pthread_cond_broadcast(&rs->wake);
	}
	pthread_mutex_unlock(&rs->mu);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	worker_loop(w->rs, w->index, &w->slot);
	return NULL;
}

struct keeper {
	struct run_state *rs;
	struct worker *ws;
	unsigned int n;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int done;
};

/* Renew the lease of one slot if a third of it has passed. */
static void keep_slot(struct keeper *k, orc_context *ctx, struct slot *s)
{
	orc_runner *r = k->rs->r;
	orc_error err;
	orc_status st;
	int64_t tok;

	pthread_mutex_lock(&s->lock);
	if (s->active && real_ms() - s->renewed_ms >= s->lease_ms / 3) {
		tok = s->token;
		lock_engine(r);
		st = orc_workflow_heartbeat(&tok, ctx, k->rs->wf_id,
					    s->task_id, s->lease_ms, &err);
		/* A renewal applied with its answer lost left a newer
		 * version: still ours while RUNNING under our owner. */
		if (st == ORC_ECONFLICT &&
		    still_ours(&tok, r->backend, k->rs->wf_id, s->task_id,
			       s->owner, NULL) == 1)
			st = ORC_OK;
		unlock_engine(r);
		if (st == ORC_OK) {
			s->token = tok;
			s->renewed_ms = real_ms();
		} else if (st == ORC_ECONFLICT) {
			/* Lost (canceled, or reclaimed after a stall): the
			 * worker's report will be refused, as it should. */
			s->active = 0;
		}
		/* Other errors: try again next round; the lease has
		 * two thirds of its time left. */
	}
	pthread_mutex_unlock(&s->lock);
}

static void *keeper_main(void *arg)
{
	struct keeper *k = arg;
	orc_context_options copts = ORC_CONTEXT_OPTIONS_INIT;
	orc_context *ctx = NULL;
	orc__wf_cache *c;
	orc_error err;
	int64_t period = k->rs->r->opts.lease_ms / 6;
	unsigned int i;

	copts.clock = k->rs->r->opts.clock;
	copts.clock_payload = k->rs->r->opts.clock_payload;
	if (orc_context_create(&ctx, k->rs->r->backend, &copts, &err) !=
		    ORC_OK ||
	    orc__context_put(&c, ctx, k->rs->wf_id, k->rs->dag, k->rs->input,
			     &err) != ORC_OK) {
		/* Without renewal the run still works, as before leases
		 * could be renewed: long tasks may run twice. */
		orc_context_free(ctx);
		return NULL;
	}
	if (period < 1)
		period = 1;
	pthread_mutex_lock(&k->lock);
	while (!k->done) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += period / 1000;
		ts.tv_nsec += (long)(period % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&k->wake, &k->lock, &ts);
		if (k->done)
			break;
		pthread_mutex_unlock(&k->lock);
		for (i = 0; i < k->n; i++)
			keep_slot(k, ctx, &k->ws[i].slot);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	orc_context_free(ctx);
	return NULL;
}

static orc_status run_threads(struct run_state *rs, orc_error *err)
{
	unsigned int n = rs->r->opts.threads, i, started = 0;
	struct worker *ws = orc__calloc(n, sizeof(*ws));
	struct keeper k;
	pthread_t kt;
	int keeping;

	if (!ws)
		return orc_error_set(err, ORC_ENOMEM, NULL);
	for (i = 0; i < n; i++)
		pthread_mutex_init(&ws[i].slot.lock, NULL);
	memset(&k, 0, sizeof(k));
	k.rs = rs;
	k.ws = ws;
	k.n = n;
	pthread_mutex_init(&k.lock, NULL);
	pthread_cond_init(&k.wake, NULL);
	keeping = pthread_create(&kt, NULL, keeper_main, &k) == 0;
	for (i = 0; i < n; i++) {
		ws[i].rs = rs;
		ws[i].index = i;
		if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]))
			break;
		started++;
	}
	if (started < n) {
		orc_error e;

		orc_error_set(&e, ORC_ERROR, "could not start runner thread %u",
			      started);
		pthread_mutex_lock(&rs->mu);
		record_error(rs, ORC_ERROR, &e);
		pthread_mutex_unlock(&rs->mu);
	}
	for (i = 0; i < started; i++)
		pthread_join(ws[i].thread, NULL);
	if (keeping) {
		pthread_mutex_lock(&k.lock);
		k.done = 1;
		pthread_cond_signal(&k.wake);
		pthread_mutex_unlock(&k.lock);
		pthread_join(kt, NULL);
	}
	pthread_cond_destroy(&k.wake);
	pthread_mutex_destroy(&k.lock);
	for (i = 0; i < n; i++)
		pthread_mutex_destroy(&ws[i].slot.lock);
	orc_free(ws);
	return ORC_OK;
}

/* Storage steps of orc_runner_run itself, retried as the workers' are. */
#define RUN_STEP(rs, st, err, call) do {				\
		struct faults f_;					\
		pthread_mutex_lock(&(rs)->mu);				\
		memset(&f_, 0, sizeof(f_));				\
		for (;;) {						\
			(st) = (call);					\
			if ((st) == ORC_OK ||				\
			    !storage_retry((rs), &f_, (st), (err)))	\
				break;					\
		}							\
		pthread_mutex_unlock(&(rs)->mu);			\
	} while (0)

ORC_API orc_status orc_runner_run(orc_run_result *out, orc_runner *r,
				  const char *wf_id, const orc_dag *dag,
				  const char *input_json, orc_error *err)
{
	orc_context_options copts = ORC_CONTEXT_OPTIONS_INIT;
	struct run_state rs;
	orc_context *ctx = NULL;
	orc__wf_cache *c;
	orc_workflow_rec rec;
	orc_reconcile_report rep;
	orc_status st;

	ORC_CHECK_ARG(out != NULL, err);
	memset(out, 0, sizeof(*out));
	ORC_CHECK_ARG(r != NULL && wf_id != NULL, err);
	memset(&rs, 0, sizeof(rs));
	rs.r = r;
	rs.wf_id = wf_id;
	atomic_init(&rs.attempts, 0);
	pthread_mutex_init(&rs.mu, NULL);
	pthread_cond_init(&rs.wake, NULL);
	/* Waiting on our own completions needs real threads and real time;
	 * an idle callback means the caller drives time by polls. */
	rs.event_mode = r->opts.threads > 0 && !r->opts.idle;
	rs.cadence = r->opts.lease_ms / 4 > 0 ? r->opts.lease_ms / 4 : 1;
	rs.storage_timeout = r->opts.storage_timeout_ms;
	rs.rng = r->opts.seed ^ 0x9e3779b97f4a7c15ULL;
	copts.clock = r->opts.clock;
	copts.clock_payload = r->opts.clock_payload;
	copts.seed = r->opts.seed;
	st = orc_context_create(&ctx, r->backend, &copts, err);
	if (st != ORC_OK)
		goto out;
	rs.ctx = ctx;
	if (dag) {
		rs.dag = dag;
		if ((st = resolve_handlers(&rs, err)) != ORC_OK)
			goto out;
		/* Idempotent: a start retried after a lost answer finds
		 * its own record (same definition). */
		RUN_STEP(&rs, st, err, orc_workflow_start(ctx, wf_id, dag,
							  input_json, err));
		if (st != ORC_OK)
			goto out;
	}
	RUN_STEP(&rs, st, err, orc__context_workflow(&c, ctx, wf_id, err));
	if (st != ORC_OK)
		goto out;
	if (!dag) {
		rs.dag = c->dag;
		if ((st = resolve_handlers(&rs, err)) != ORC_OK)
			goto out;
	}
	rs.input = c->input;
	/* Resume: repair whatever a crashed run left behind first. A
	 * workflow this call just seeded has nothing to repair, and its
	 * roots are known READY: storage is first looked at after one
	 * cadence. */
	memset(&rep, 0, sizeof(rep));
	rep.state = ORC_WORKFLOW_RUNNING;
	if (!c->created)
		RUN_STEP(&rs, st, err, orc_workflow_reconcile(&rep, ctx, wf_id,
							      err));
	if (st != ORC_OK)
		goto out;
	rs.next_poll = c->created ? sat_add(real_ms(), rs.cadence) : real_ms();
	rs.stall_polled = !c->created;
	if (!orc_workflow_state_is_terminal(rep.state)) {
		if (r->opts.threads == 0)
			worker_loop(&rs, 0, NULL);
		else
			run_threads(&rs, err);
		if (rs.first_st != ORC_OK) {
			st = rs.first_st;
			if (err)
				*err = rs.first_err;
			goto out;
		}
	}
	out->attempts = atomic_load(&rs.attempts);
	rs.stop = 0; /* the workers are done; the last read is not */
	if (c->ended && c->end_state == ORC_WORKFLOW_SUCCEEDED) {
		/* This run wrote the end itself: nothing to read. */
		out->state = c->end_state;
		goto out;
	}
	memset(&rec, 0, sizeof(rec));
	RUN_STEP(&rs, st, err, r->backend->get_workflow(&rec, r->backend,
							wf_id, err));
	if (st != ORC_OK)
		goto out;
	out->state = rec.state;
	out->error = rec.error;
	rec.error = NULL;
	orc_workflow_rec_clear(&rec);
out:
	orc_free(rs.resolved);
	pthread_cond_destroy(&rs.wake);
	pthread_mutex_destroy(&rs.mu);
	orc_context_free(ctx);
	return st;
}
