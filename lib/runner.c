/*
 * The in-process runner: claims tasks of one workflow, calls registered C
 * handlers and reports their results, on N threads or deterministically
 * on the caller's thread. It is a driver: every state change goes
 * through the engine (workflow.c), never around it.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "context.h"
#include "internal.h"
#include "orchestra/runner.h"

#define DEFAULT_LEASE_MS 30000
/* Idle polls back off to this; reconcile runs at most this often. */
#define IDLE_MAX_MS 20
#define RECONCILE_EVERY_MS 200

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
	atomic_int stop;
	atomic_ulong attempts;
	pthread_mutex_t err_lock;
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
	r->opts = opts ? *opts : defaults;
	if (r->opts.lease_ms == 0)
		r->opts.lease_ms = DEFAULT_LEASE_MS;
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

static void idle_wait(orc_runner *r, int64_t ms)
{
	if (r->opts.idle) {
		r->opts.idle(ms, r->opts.idle_payload);
		return;
	}
	orc__sleep_ms(ms);
}

static void record_error(struct run_state *rs, orc_status st,
			 const orc_error *e)
{
	pthread_mutex_lock(&rs->err_lock);
	if (rs->first_st == ORC_OK) {
		rs->first_st = st;
		rs->first_err = *e;
	}
	pthread_mutex_unlock(&rs->err_lock);
	atomic_store(&rs->stop, 1);
}

static int64_t lease_for(const orc_runner *r, const orc_task_spec *spec)
{
	/* A task may run as long as its timeout; the lease must outlast it,
	 * or a healthy task would be reclaimed. */
	if (spec->timeout_ms > 0 &&
	    orc__add_sat(spec->timeout_ms, 1000) > r->opts.lease_ms)
		return orc__add_sat(spec->timeout_ms, 1000);
	return r->opts.lease_ms;
}

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* Run claimed task @p cl and report its outcome. A success also claims
 * the next task for @p owner (orc_workflow_complete_claim): *@p next
 * is filled and *@p have_next set when one was claimed. */
static orc_status run_one(struct run_state *rs, orc_context *ctx,
			  struct slot *slot, const orc_claim *cl, int64_t lease,
			  const char *owner, orc_claim *next, int *have_next,
			  orc_error *err)
{
	orc_runner *r = rs->r;
	const struct handler *h = rs->resolved[cl->task_index];
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	orc_handler_call call;
	char *payload = NULL;
	int64_t token;
	orc_status st, hst;

	/* Renewed from the claim on: a payload gathers the output of every
	 * dependency, which for a wide fan-in can outlast a short lease. */
	slot_begin(slot, cl, lease);
	lock_engine(r);
	st = orc_workflow_payload(&payload, ctx, rs->wf_id, cl, err);
	unlock_engine(r);
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
	hst = h->fn(&call, h->payload);
	token = slot_end(slot, cl->token);
	lock_engine(r);
	if (hst == ORC_OK) {
		orc_status next_st;

		/* A claim that fails after the completion committed is
		 * left for the loop's next claim to report. */
		st = orc_workflow_complete_claim(next, &next_st, ctx, rs->wf_id,
						 cl->task_id, token,
						 call.output, owner,
						 r->opts.lease_ms, err);
		*have_next = st == ORC_OK && next_st == ORC_OK;
	} else {
		if (call.error[0] == '\0')
			snprintf(call.error, sizeof(call.error), "%s: %s",
				 orc_status_name(hst), orc_strerror(hst));
		st = orc_workflow_fail(NULL, ctx, rs->wf_id, cl->task_id,
				       token, call.error, err);
	}
	unlock_engine(r);
	/* A lost lease is normal: another worker owns the task now. */
	if (st == ORC_ECONFLICT)
		st = ORC_OK;
	orc_free(call.output);
	orc_free(payload);
	return st;
}

static void worker_loop(struct run_state *rs, orc_context *ctx,
			unsigned int index, struct slot *slot)
{
	orc_runner *r = rs->r;
	char owner[ORC_OWNER_MAX + 1];
	int64_t idle_ms = 1, last_reconcile = 0;
	orc_claim next;
	int have_next = 0;
	orc_error err;
	orc_status st;

	{
		/* r->owner leaves room for the suffix (orc_runner_create). */
		char tmp[ORC_OWNER_MAX + 48];

		snprintf(tmp, sizeof(tmp), "%s-%ld-%u", r->owner,
			 (long)getpid(), index);
		orc__strlcpy(owner, tmp, sizeof(owner));
	}
	/* A task claimed with the last completion is ours: it runs even if
	 * the run is stopping, rather than wait for its lease to expire. */
	while (have_next || !atomic_load(&rs->stop)) {
		orc_claim cl;
		orc_task_spec spec = ORC_TASK_SPEC_INIT;
		int64_t now;

		if (have_next) {
			cl = next;
			have_next = 0;
			st = ORC_OK;
		} else {
			lock_engine(r);
			st = orc_workflow_claim(&cl, ctx, rs->wf_id, owner,
						r->opts.lease_ms, &err);
			unlock_engine(r);
		}
		if (st == ORC_OK) {
			orc_dag_task_get(&spec, rs->dag, cl.task_index, NULL);
			if (lease_for(r, &spec) > r->opts.lease_ms) {
				int64_t tok = cl.token;

				lock_engine(r);
				st = orc_workflow_heartbeat(&tok, ctx, rs->wf_id,
							    cl.task_id,
							    lease_for(r, &spec),
							    &err);
				unlock_engine(r);
				if (st == ORC_ECONFLICT)
					continue;
				cl.token = tok;
			}
			if (st == ORC_OK)
				st = run_one(rs, ctx, slot, &cl,
					     lease_for(r, &spec), owner, &next,
					     &have_next, &err);
			if (st != ORC_OK) {
				record_error(rs, st, &err);
				return;
			}
			idle_ms = 1;
			continue;
		}
		if (st == ORC_ECANCELED)
			return; /* terminal: every worker stops */
		if (st != ORC_ENOTFOUND) {
			record_error(rs, st, &err);
			return;
		}
		/* Nothing runnable: tasks are running elsewhere or backing
		 * off, or a crashed worker holds a lease. Reconcile now and
		 * then, so expired leases come back. */
		now = orc_context_now(ctx);
		if (now - last_reconcile >= RECONCILE_EVERY_MS ||
		    r->opts.threads == 0) {
			orc_reconcile_report rep;

			lock_engine(r);
			st = orc_workflow_reconcile(&rep, ctx, rs->wf_id, &err);
			unlock_engine(r);
			if (st != ORC_OK) {
				record_error(rs, st, &err);
				return;
			}
			last_reconcile = now;
			if (orc_workflow_state_is_terminal(rep.state))
				return;
			if (rep.expired || rep.promoted)
				continue;
		}
		idle_wait(r, idle_ms);
		if (idle_ms < IDLE_MAX_MS)
			idle_ms *= 2;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run_state *rs = w->rs;
	orc_context_options copts = ORC_CONTEXT_OPTIONS_INIT;
	orc__wf_cache *c;
	orc_context *ctx = NULL;
	orc_error err;
	orc_status st;

	copts.clock = rs->r->opts.clock;
	copts.clock_payload = rs->r->opts.clock_payload;
	copts.seed = rs->r->opts.seed + w->index + 1;
	st = orc_context_create(&ctx, rs->r->backend, &copts, &err);
	if (st == ORC_OK)
		st = orc__context_put(&c, ctx, rs->wf_id, rs->dag, rs->input,
				      &err);
	if (st == ORC_OK)
		worker_loop(rs, ctx, w->index, &w->slot);
	else
		record_error(rs, st, &err);
	orc_context_free(ctx);
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
		record_error(rs, ORC_ERROR, &e);
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
	atomic_init(&rs.stop, 0);
	atomic_init(&rs.attempts, 0);
	pthread_mutex_init(&rs.err_lock, NULL);
	copts.clock = r->opts.clock;
	copts.clock_payload = r->opts.clock_payload;
	copts.seed = r->opts.seed;
	st = orc_context_create(&ctx, r->backend, &copts, err);
	if (st != ORC_OK)
		goto out;
	if (dag) {
		rs.dag = dag;
		if ((st = resolve_handlers(&rs, err)) != ORC_OK)
			goto out;
		st = orc_workflow_start(ctx, wf_id, dag, input_json, err);
		if (st != ORC_OK)
			goto out;
	}
	if ((st = orc__context_workflow(&c, ctx, wf_id, err)) != ORC_OK)
		goto out;
	if (!dag) {
		rs.dag = c->dag;
		if ((st = resolve_handlers(&rs, err)) != ORC_OK)
			goto out;
	}
	rs.input = c->input;
	/* Resume: repair whatever a crashed run left behind first. A
	 * workflow this call just seeded has nothing to repair. */
	memset(&rep, 0, sizeof(rep));
	rep.state = ORC_WORKFLOW_RUNNING;
	if (!c->created &&
	    (st = orc_workflow_reconcile(&rep, ctx, wf_id, err)) != ORC_OK)
		goto out;
	if (!orc_workflow_state_is_terminal(rep.state)) {
		if (r->opts.threads == 0)
			worker_loop(&rs, ctx, 0, NULL);
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
	if (c->ended && c->end_state == ORC_WORKFLOW_SUCCEEDED) {
		/* This run wrote the end itself: nothing to read. */
		out->state = c->end_state;
		goto out;
	}
	memset(&rec, 0, sizeof(rec));
	st = r->backend->get_workflow(&rec, r->backend, wf_id, err);
	if (st != ORC_OK)
		goto out;
	out->state = rec.state;
	out->error = rec.error;
	rec.error = NULL;
	orc_workflow_rec_clear(&rec);
out:
	orc_free(rs.resolved);
	pthread_mutex_destroy(&rs.err_lock);
	orc_context_free(ctx);
	return st;
}
