/*
 * The in-memory backend: every primitive of the vtable in O(1) amortized,
 * safe for many threads on one instance.
 *
 * Layout, chosen for the engine's hot path (list READY, claim, complete,
 * one done-dependency write per dependent):
 *  - workflows sit in an open-addressing map under a rwlock; a workflow
 *    is never removed before the backend is freed, so a pointer found
 *    under the read lock stays valid after it is dropped;
 *  - each workflow has its own mutex, its tasks in one array, an
 *    open-addressing index from task id to slot (uint32), the ids in one
 *    arena, an intrusive list of READY tasks, and an intern table of
 *    lease owners so a claim does not allocate;
 *  - the done-dependency set is a bitset over the seed's deps[] positions,
 *    inline up to 64 dependencies.
 * Leases (orc_lock_rec) live in a second map under their own mutex.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "orchestra/backend.h"
#include "orchestra/backends.h"

#define NIL UINT32_MAX
#define INLINE_DEPS 64u
/* The ORC_SET_* flags that always write; DONE_DEP and PROMOTE write only
 * when they change something. */
#define FIELD_FLAGS (ORC_SET_STATE | ORC_SET_ATTEMPT | ORC_SET_LEASE | \
		     ORC_SET_NOT_BEFORE | ORC_SET_STARTED | ORC_SET_ENDED | \
		     ORC_SET_OUTPUT | ORC_SET_ERROR)

/* Output and error of a task; allocated when one is first set. */
struct mem_pay {
	char *output;
	char *error;
};

typedef struct mem_task {
	int64_t version;
	int64_t lease_expiry_ms;
	int64_t not_before_ms;
	int64_t created_ms, updated_ms, started_ms, ended_ms;
	union {
		uint64_t bits;   /* ndeps <= 64 */
		uint64_t *heap;  /* ndeps > 64 */
	} done;
	struct mem_pay *pay;
	uint32_t id_off;         /* into mem_wf.ids */
	uint32_t ndeps, ndone;
	uint32_t owner;          /* into mem_wf.owners; 0 = none */
	uint32_t prev, next;     /* READY list links */
	int32_t attempt;
	uint8_t state;
} mem_task;

/* First member of every record kept in a mem_map. */
struct mem_key {
	uint64_t hash;
	const char *name;
};

/* Open-addressing map of records that start with a struct mem_key. */
struct mem_map {
	struct mem_key **slots;
	size_t n, mask;
};

typedef struct mem_wf {
	struct mem_key key;
	pthread_mutex_t mu;
	/* The workflow record; has_rec is 0 while only tasks exist. */
	int has_rec;
	orc_workflow_state state;
	int64_t version, created_ms, updated_ms;
	uint32_t rec_ntasks;
	char *definition, *input, *error;
	/* Tasks. */
	mem_task *tasks;
	uint32_t ntasks;
	uint32_t *slots;         /* task index + 1; 0 = empty */
	uint32_t slot_mask;
	char *ids;
	size_t ids_len, ids_cap;
	uint32_t ready_head, ready_tail;
	/* Interned lease owners; index 0 is "" and never in owner_slots.
	 * An entry no task holds is freed when the table would grow, so
	 * recurring owners cost nothing and one-off owners do not pile up. */
	char **owners;           /* NULL = free entry */
	uint32_t *owner_refs;    /* tasks holding it; free: next free */
	uint32_t nowners, owners_cap, owner_free;
	uint32_t *owner_slots;   /* owner index; 0 = empty */
	uint32_t owner_mask;     /* capacity >= 2 * owners_cap */
	/* Links in mem_backend's set of live workflows, guarded by its
	 * live_mu (not by mu); in the set iff the record exists and its
	 * state is not final. */
	struct mem_wf *live_prev, *live_next;
	int live;
	char idbuf[];
} mem_wf;

struct mem_lock {
	struct mem_key key;
	orc_lock_rec rec;
};

typedef struct mem_backend {
	orc_backend parent;      /* first: the core sees only this */
	size_t max_payload;
	pthread_rwlock_t wf_lock;
	struct mem_map wfs;
	/* The workflow found last: the engine works on one workflow at a
	 * time, and workflows live as long as the backend, so a hit skips
	 * the map and its lock. */
	_Atomic(mem_wf *) last_wf;
	pthread_mutex_t lock_mu;
	struct mem_map locks;
	/* The live workflows (list_live), an intrusive list: joining and
	 * leaving it cannot fail. Taken after a workflow's mu, never
	 * before. */
	pthread_mutex_t live_mu;
	mem_wf *live_head;
	size_t nlive;
} mem_backend;

#define MB(b) ((mem_backend *)(void *)(b))

/* FNV-1a's low bits cluster for ids that differ in their last chars
 * ("task-000123"); a finalizer spreads them before masking. */
static inline uint32_t slot_of(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

/* ---- generic record map ---- */

static struct mem_key *map_find(const struct mem_map *m, uint64_t h,
				const char *name)
{
	size_t i;

	if (!m->slots)
		return NULL;
	for (i = slot_of(h) & m->mask; m->slots[i]; i = (i + 1) & m->mask) {
		struct mem_key *k = m->slots[i];

		if (k->hash == h && strcmp(k->name, name) == 0)
			return k;
	}
	return NULL;
}

static void map_place(struct mem_key **slots, size_t mask, struct mem_key *k)
{
	size_t i = slot_of(k->hash) & mask;

	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = k;
}

/* Insert @p k (not present); grows at half load. 0 on ENOMEM. */
static int map_insert(struct mem_map *m, struct mem_key *k)
{
	if (!m->slots || (m->n + 1) * 2 > m->mask + 1) {
		size_t cap = m->slots ? (m->mask + 1) * 2 : 16, i;
		struct mem_key **ns = orc__calloc(cap, sizeof(*ns));

		if (!ns)
			return 0;
		for (i = 0; m->slots && i <= m->mask; i++)
			if (m->slots[i])
				map_place(ns, cap - 1, m->slots[i]);
		free(m->slots);
		m->slots = ns;
		m->mask = cap - 1;
	}
	map_place(m->slots, m->mask, k);
	m->n++;
	return 1;
}

/* ---- tasks of one workflow ---- */

static inline const char *task_id(const mem_wf *w, const mem_task *t)
{
	return w->ids + t->id_off;
}

static uint32_t task_find(const mem_wf *w, const char *id, uint64_t h)
{
	uint32_t i, s;

	if (!w->slots)
		return NIL;
	for (i = slot_of(h) & w->slot_mask; (s = w->slots[i]) != 0;
	     i = (i + 1) & w->slot_mask)
		if (strcmp(w->ids + w->tasks[s - 1].id_off, id) == 0)
			return s - 1;
	return NIL;
}

static void task_place(mem_wf *w, uint32_t idx, uint64_t h)
{
	uint32_t i = slot_of(h) & w->slot_mask;

	while (w->slots[i])
		i = (i + 1) & w->slot_mask;
	w->slots[i] = idx + 1;
}

/* Rebuild the index for @p cap slots (a power of two). 0 on ENOMEM. */
static int task_rehash(mem_wf *w, uint32_t cap)
{
	uint32_t *ns = orc__calloc(cap, sizeof(*ns)), i;

	if (!ns)
		return 0;
	free(w->slots);
	w->slots = ns;
	w->slot_mask = cap - 1;
	for (i = 0; i < w->ntasks; i++)
		task_place(w, i, orc__hash_str(task_id(w, &w->tasks[i])));
	return 1;
}

static void ready_link(mem_wf *w, uint32_t idx)
{
	mem_task *t = &w->tasks[idx];

	t->next = NIL;
	t->prev = w->ready_tail;
	if (w->ready_tail != NIL)
		w->tasks[w->ready_tail].next = idx;
	else
		w->ready_head = idx;
	w->ready_tail = idx;
}

static void ready_unlink(mem_wf *w, uint32_t idx)
{
	mem_task *t = &w->tasks[idx];

	if (t->prev != NIL)
		w->tasks[t->prev].next = t->next;
	else
		w->ready_head = t->next;
	if (t->next != NIL)
		w->tasks[t->next].prev = t->prev;
	else
		w->ready_tail = t->prev;
	t->prev = t->next = NIL;
}

/* Every state change goes through here to keep the READY list right. */
static void task_set_state(mem_wf *w, uint32_t idx, uint8_t state)
{
	mem_task *t = &w->tasks[idx];

	if (t->state == state)
		return;
	if (t->state == ORC_TASK_READY)
		ready_unlink(w, idx);
	t->state = state;
	if (state == ORC_TASK_READY)
		ready_link(w, idx);
}

static void task_free_parts(mem_task *t)
{
	if (t->ndeps > INLINE_DEPS)
		free(t->done.heap);
	if (t->pay) {
		free(t->pay->output);
		free(t->pay->error);
		free(t->pay);
	}
}

/* Copy @p t into @p out without payloads: only the strings are copied. */
static void task_copy(orc_task_rec *out, const mem_wf *w, const mem_task *t)
{
	orc__strlcpy(out->id, task_id(w, t), sizeof(out->id));
	out->state = (orc_task_state)t->state;
	out->version = t->version;
	out->attempt = t->attempt;
	out->ndeps = t->ndeps;
	out->ndone = t->ndone;
	if (t->owner)
		orc__strlcpy(out->owner, w->owners[t->owner],
			     sizeof(out->owner));
	else
		out->owner[0] = '\0';
	out->lease_expiry_ms = t->lease_expiry_ms;
	out->not_before_ms = t->not_before_ms;
	out->created_ms = t->created_ms;
	out->updated_ms = t->updated_ms;
	out->started_ms = t->started_ms;
	out->ended_ms = t->ended_ms;
	out->output = NULL;
	out->error = NULL;
}

/* ---- interned lease owners ---- */

static void owner_place(mem_wf *w, uint32_t idx)
{
	uint32_t i = slot_of(orc__hash_str(w->owners[idx])) & w->owner_mask;

	while (w->owner_slots[i])
		i = (i + 1) & w->owner_mask;
	w->owner_slots[i] = idx;
}

/* Free the entries no task holds and rebuild the index in place. */
static void owner_sweep(mem_wf *w)
{
	uint32_t k;

	memset(w->owner_slots, 0, (w->owner_mask + 1) * sizeof(uint32_t));
	for (k = 1; k < w->nowners; k++) {
		if (!w->owners[k])
			continue;
		if (w->owner_refs[k] == 0) {
			free(w->owners[k]);
			w->owners[k] = NULL;
			w->owner_refs[k] = w->owner_free;
			w->owner_free = k;
		} else {
			owner_place(w, k);
		}
	}
}

/* A free entry index, growing the table when none is left; 0 on ENOMEM. */
static uint32_t owner_entry(mem_wf *w)
{
	uint32_t k, cap;

	if (!w->owner_free && w->nowners == w->owners_cap && w->nowners)
		owner_sweep(w);
	if (w->owner_free) {
		k = w->owner_free;
		w->owner_free = w->owner_refs[k];
		return k;
	}
	if (w->nowners == w->owners_cap) {
		char **no;
		uint32_t *nr, *ns;

		cap = w->owners_cap ? w->owners_cap * 2 : 8;
		if (cap >= NIL / 4)
			return 0;
		no = orc__realloc(w->owners, cap * sizeof(*no));
		if (!no)
			return 0;
		w->owners = no;
		nr = orc__realloc(w->owner_refs, cap * sizeof(*nr));
		if (!nr)
			return 0;
		w->owner_refs = nr;
		ns = orc__calloc(cap * 2, sizeof(*ns));
		if (!ns)
			return 0;
		w->owners_cap = cap;
		free(w->owner_slots);
		w->owner_slots = ns;
		w->owner_mask = cap * 2 - 1;
		if (!w->nowners) {
			w->owners[0] = NULL;  /* index 0: no owner */
			w->owner_refs[0] = 0;
			w->nowners = 1;
		}
		for (k = 1; k < w->nowners; k++)
			if (w->owners[k])
				owner_place(w, k);
	}
	return w->nowners++;
}

/* Index of @p owner in the workflow's table, adding it when new. The
 * caller counts the reference. */
static orc_status owner_intern(uint32_t *out, mem_wf *w, const char *owner,
			       orc_error *err)
{
	uint32_t i, s;
	char *copy;

	if (!owner || !*owner) {
		*out = 0;
		return ORC_OK;
	}
	if (w->owner_slots) {
		for (i = slot_of(orc__hash_str(owner)) & w->owner_mask;
		     (s = w->owner_slots[i]) != 0; i = (i + 1) & w->owner_mask)
			if (strcmp(w->owners[s], owner) == 0) {
				*out = s;
				return ORC_OK;
			}
	}
	copy = orc_strdup(owner);
	if (!copy || !(s = owner_entry(w))) {
		free(copy);
		return orc_error_set(err, ORC_ENOMEM, "workflow %s: out of "
				     "memory interning lease owner",
				     w->key.name);
	}
	w->owners[s] = copy;
	w->owner_refs[s] = 0;
	owner_place(w, s);
	*out = s;
	return ORC_OK;
}

/* ---- workflows ---- */

static mem_wf *wf_lookup(mem_backend *mb, const char *wf_id)
{
	mem_wf *w = atomic_load_explicit(&mb->last_wf, memory_order_acquire);
	uint64_t h;

	if (w && strcmp(w->key.name, wf_id) == 0)
		return w;
	h = orc__hash_str(wf_id);
	pthread_rwlock_rdlock(&mb->wf_lock);
	w = (mem_wf *)(void *)map_find(&mb->wfs, h, wf_id);
	pthread_rwlock_unlock(&mb->wf_lock);
	if (w)
		atomic_store_explicit(&mb->last_wf, w, memory_order_release);
	return w;
}

/* Find or add the (record-less) workflow @p wf_id. */
static mem_wf *wf_get_or_add(mem_backend *mb, const char *wf_id)
{
	uint64_t h = orc__hash_str(wf_id);
	size_t len = strlen(wf_id);
	mem_wf *w;

	pthread_rwlock_wrlock(&mb->wf_lock);
	w = (mem_wf *)(void *)map_find(&mb->wfs, h, wf_id);
	if (w)
		goto out;
	w = orc__calloc(1, sizeof(*w) + len + 1);
	if (!w)
		goto out;
	memcpy(w->idbuf, wf_id, len + 1);
	w->key.hash = h;
	w->key.name = w->idbuf;
	w->ready_head = w->ready_tail = NIL;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w);
		w = NULL;
		goto out;
	}
	if (!map_insert(&mb->wfs, &w->key)) {
		pthread_mutex_destroy(&w->mu);
		free(w);
		w = NULL;
	}
out:
	pthread_rwlock_unlock(&mb->wf_lock);
	return w;
}

static void wf_free(mem_wf *w)
{
	uint32_t i;

	for (i = 0; i < w->ntasks; i++)
		task_free_parts(&w->tasks[i]);
	for (i = 1; i < w->nowners; i++)
		free(w->owners[i]);
	free(w->owners);
	free(w->owner_refs);
	free(w->owner_slots);
	free(w->tasks);
	free(w->slots);
	free(w->ids);
	free(w->definition);
	free(w->input);
	free(w->error);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

/* Undo a seeding cut short by ENOMEM: drop tasks from @p n on. */
static void wf_truncate(mem_wf *w, uint32_t n, size_t ids_len)
{
	uint32_t cap = w->slot_mask + 1;

	while (w->ntasks > n) {
		uint32_t idx = --w->ntasks;

		if (w->tasks[idx].state == ORC_TASK_READY)
			ready_unlink(w, idx);
		task_free_parts(&w->tasks[idx]);
	}
	w->ids_len = ids_len;
	/* Re-place in the same array: no allocation, so this cannot fail. */
	if (w->slots) {
		memset(w->slots, 0, cap * sizeof(*w->slots));
		for (n = 0; n < w->ntasks; n++)
			task_place(w, n, orc__hash_str(task_id(w,
							       &w->tasks[n])));
	}
}

static void wf_copy(orc_workflow_rec *out, const mem_wf *w)
{
	orc__strlcpy(out->id, w->key.name, sizeof(out->id));
	out->state = w->state;
	out->version = w->version;
	out->ntasks = w->rec_ntasks;
	out->created_ms = w->created_ms;
	out->updated_ms = w->updated_ms;
	out->definition = NULL;
	out->input = NULL;
	out->error = NULL;
}

/* Put @p w in the live set or take it out, as its record says; called
 * with w->mu held, after every change of has_rec or state. */
static void live_sync(mem_backend *mb, mem_wf *w)
{
	int want = w->has_rec && !orc_workflow_state_is_terminal(w->state);

	pthread_mutex_lock(&mb->live_mu);
	if (want && !w->live) {
		w->live_prev = NULL;
		w->live_next = mb->live_head;
		if (mb->live_head)
			mb->live_head->live_prev = w;
		mb->live_head = w;
		w->live = 1;
		mb->nlive++;
	} else if (!want && w->live) {
		if (w->live_prev)
			w->live_prev->live_next = w->live_next;
		else
			mb->live_head = w->live_next;
		if (w->live_next)
			w->live_next->live_prev = w->live_prev;
		w->live = 0;
		mb->nlive--;
	}
	pthread_mutex_unlock(&mb->live_mu);
}

static orc_status too_big(orc_error *err, const char *kind, const char *id,
			  const char *wf_id, const char *field, size_t len,
			  size_t max)
{
	if (wf_id)
		return orc_error_set(err, ORC_ETOOBIG,
				     "%s %s in workflow %s: %s is %zu bytes, "
				     "over the limit of %zu", kind, id, wf_id,
				     field, len, max);
	return orc_error_set(err, ORC_ETOOBIG,
			     "%s %s: %s is %zu bytes, over the limit of %zu",
			     kind, id, field, len, max);
}

static int id_ok(const char *id)
{
	return id && *id && strlen(id) <= ORC_ID_MAX;
}

/* Duplicate @p s (NULL stays NULL) and check it against max_payload. */
static orc_status dup_payload(char **out, const mem_backend *mb,
			      const char *s, const char *kind, const char *id,
			      const char *wf_id, const char *field,
			      orc_error *err)
{
	size_t len;

	*out = NULL;
	if (!s)
		return ORC_OK;
	len = strlen(s);
	if (mb->max_payload && len > mb->max_payload)
		return too_big(err, kind, id, wf_id, field, len,
			       mb->max_payload);
	*out = orc__strndup(s, len);
	if (!*out)
		return orc_error_set(err, ORC_ENOMEM, "%s %s: out of memory "
				     "copying %s", kind, id, field);
	return ORC_OK;
}

/* Make room for @p nmore tasks with @p id_bytes of ids; 0 on ENOMEM. */
static int wf_reserve(mem_wf *w, size_t nmore, size_t id_bytes)
{
	size_t want = (size_t)w->ntasks + nmore;
	uint32_t cap;

	if (want >= NIL / 4 || w->ids_len + id_bytes > UINT32_MAX)
		return 0;
	if (nmore) {
		mem_task *nt = orc__realloc(w->tasks, want * sizeof(*nt));

		if (!nt)
			return 0;
		w->tasks = nt;
	}
	if (w->ids_len + id_bytes > w->ids_cap) {
		char *ni = orc__realloc(w->ids, w->ids_len + id_bytes);

		if (!ni)
			return 0;
		w->ids = ni;
		w->ids_cap = w->ids_len + id_bytes;
	}
	/* At most two thirds full: probes stay short, and the index costs
	 * at most 12 bytes per task. */
	for (cap = 16; cap < want + want / 2; cap *= 2)
		;
	if (!w->slots || cap > w->slot_mask + 1)
		return task_rehash(w, cap);
	return 1;
}

/* Append one PENDING (READY when it has no deps) task; 0 on ENOMEM. */
static int wf_add_task(mem_wf *w, const orc_task_seed *s, uint64_t h,
		       int64_t now)
{
	uint32_t idx = w->ntasks;
	mem_task *t = &w->tasks[idx];
	size_t len = strlen(s->id);

	memset(t, 0, sizeof(*t));
	if (s->ndeps > INLINE_DEPS) {
		t->done.heap = orc__calloc((s->ndeps + 63) / 64,
					   sizeof(uint64_t));
		if (!t->done.heap)
			return 0;
	}
	memcpy(w->ids + w->ids_len, s->id, len + 1);
	t->id_off = (uint32_t)w->ids_len;
	w->ids_len += len + 1;
	t->version = 1;
	t->ndeps = s->ndeps;
	t->created_ms = t->updated_ms = now;
	t->prev = t->next = NIL;
	t->state = ORC_TASK_PENDING;
	w->ntasks++;
	task_place(w, idx, h);
	if (s->ndeps == 0)
		task_set_state(w, idx, ORC_TASK_READY);
	return 1;
}

/* Check seeds and total their id bytes. */
static orc_status seeds_check(size_t *id_bytes, const char *wf_id,
			      const orc_task_seed *tasks, size_t ntasks,
			      orc_error *err)
{
	size_t i;

	*id_bytes = 0;
	if (ntasks >= NIL / 4)
		return orc_error_set(err, ORC_EINVAL, "workflow %s: too many "
				     "tasks (%zu)", wf_id, ntasks);
	for (i = 0; i < ntasks; i++) {
		if (!id_ok(tasks[i].id))
			return orc_error_set(err, ORC_EINVAL, "workflow %s: "
					     "task %zu: id must be 1 to %d "
					     "bytes", wf_id, i, ORC_ID_MAX);
		*id_bytes += strlen(tasks[i].id) + 1;
	}
	return ORC_OK;
}

/* Add the tasks not there yet; all or nothing. Called locked. */
static int seed_locked(mem_wf *w, const orc_task_seed *tasks, size_t ntasks,
		       size_t id_bytes, int64_t now)
{
	uint32_t old_n = w->ntasks;
	size_t old_ids = w->ids_len, i;

	if (!wf_reserve(w, ntasks, id_bytes))
		return 0;
	for (i = 0; i < ntasks; i++) {
		uint64_t h = orc__hash_str(tasks[i].id);

		/* An existing task (an earlier start, or a repeated id) is
		 * left as it is. */
		if (task_find(w, tasks[i].id, h) != NIL)
			continue;
		if (!wf_add_task(w, &tasks[i], h, now)) {
			wf_truncate(w, old_n, old_ids);
			return 0;
		}
	}
	return 1;
}

/* Tests only: the task records a start that crashed before writing its
 * workflow record leaves behind. */
orc_status orc__memory_seed_tasks(orc_backend *b, const char *wf_id,
				  const orc_task_seed *tasks, size_t ntasks,
				  int64_t now_ms, orc_error *err);

orc_status orc__memory_seed_tasks(orc_backend *b, const char *wf_id,
				  const orc_task_seed *tasks, size_t ntasks,
				  int64_t now_ms, orc_error *err)
{
	size_t id_bytes;
	orc_status st;
	mem_wf *w;
	int ok;

	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(id_ok(wf_id), err);
	ORC_CHECK_ARG(tasks != NULL || ntasks == 0, err);
	st = seeds_check(&id_bytes, wf_id, tasks, ntasks, err);
	if (st != ORC_OK)
		return st;
	w = wf_get_or_add(MB(b), wf_id);
	if (!w)
		return orc_error_set(err, ORC_ENOMEM, "workflow %s: out of "
				     "memory", wf_id);
	pthread_mutex_lock(&w->mu);
	ok = seed_locked(w, tasks, ntasks, id_bytes, now_ms);
	pthread_mutex_unlock(&w->mu);
	if (!ok)
		return orc_error_set(err, ORC_ENOMEM, "workflow %s: out of "
				     "memory seeding %zu tasks", wf_id, ntasks);
	return ORC_OK;
}

static orc_status mem_create_workflow(orc_backend *b,
				      const orc_workflow_rec *wf,
				      const orc_task_seed *tasks, size_t ntasks,
				      orc_error *err)
{
	mem_backend *mb = MB(b);
	char *def = NULL, *input = NULL, *error = NULL;
	size_t id_bytes;
	orc_status st;
	mem_wf *w;

	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(wf != NULL, err);
	ORC_CHECK_ARG(tasks != NULL || ntasks == 0, err);
	if (!id_ok(wf->id))
		return orc_error_set(err, ORC_EINVAL, "workflow id must be 1 "
				     "to %d bytes", ORC_ID_MAX);
	if ((unsigned)wf->state >= ORC_WORKFLOW_STATE_COUNT)
		return orc_error_set(err, ORC_EINVAL, "workflow %s: invalid "
				     "state %d", wf->id, (int)wf->state);
	st = seeds_check(&id_bytes, wf->id, tasks, ntasks, err);
	if (st != ORC_OK)
		return st;
	st = dup_payload(&def, mb, wf->definition, "workflow", wf->id, NULL,
			 "definition", err);
	if (st == ORC_OK)
		st = dup_payload(&input, mb, wf->input, "workflow", wf->id,
				 NULL, "input", err);
	if (st == ORC_OK)
		st = dup_payload(&error, mb, wf->error, "workflow", wf->id,
				 NULL, "error", err);
	if (st != ORC_OK)
		goto fail;
	w = wf_get_or_add(mb, wf->id);
	if (!w) {
		st = orc_error_set(err, ORC_ENOMEM, "workflow %s: out of "
				   "memory", wf->id);
		goto fail;
	}
	pthread_mutex_lock(&w->mu);
	if (w->has_rec) {
		pthread_mutex_unlock(&w->mu);
		st = orc_error_set(err, ORC_EEXISTS, "workflow %s already "
				   "exists", wf->id);
		goto fail;
	}
	if (!seed_locked(w, tasks, ntasks, id_bytes, wf->created_ms)) {
		pthread_mutex_unlock(&w->mu);
		st = orc_error_set(err, ORC_ENOMEM, "workflow %s: out of "
				   "memory seeding %zu tasks", wf->id, ntasks);
		goto fail;
	}
	/* The workflow record last: readers see it only when seeded. */
	w->state = wf->state;
	w->version = 1;
	w->rec_ntasks = (uint32_t)ntasks;
	w->created_ms = wf->created_ms;
	w->updated_ms = wf->updated_ms;
	w->definition = def;
	w->input = input;
	w->error = error;
	w->has_rec = 1;
	live_sync(mb, w);
	pthread_mutex_unlock(&w->mu);
	return ORC_OK;
fail:
	free(def);
	free(input);
	free(error);
	return st;
}

/* Local names: the engine's own table lives in a file built later. */
static const char *wf_state_name(orc_workflow_state s)
{
	static const char *const names[] = { "PENDING", "RUNNING",
					     "SUCCEEDED", "FAILED",
					     "CANCELED" };

	return (unsigned)s < ORC_WORKFLOW_STATE_COUNT ? names[s] : "UNKNOWN";
}

static orc_status wf_not_found(orc_error *err, const char *wf_id)
{
	return orc_error_set(err, ORC_ENOTFOUND, "workflow %s not found",
			     wf_id);
}

static orc_status mem_get_workflow(orc_workflow_rec *out, orc_backend *b,
				   const char *wf_id, orc_error *err)
{
	mem_wf *w;
	char *def = NULL, *input = NULL, *error = NULL;
	int ok;

	ORC_CHECK_ARG(out != NULL, err);
	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(wf_id != NULL, err);
	w = wf_lookup(MB(b), wf_id);
	if (!w)
		return wf_not_found(err, wf_id);
	pthread_mutex_lock(&w->mu);
	if (!w->has_rec) {
		pthread_mutex_unlock(&w->mu);
		return wf_not_found(err, wf_id);
	}
	def = orc_strdup(w->definition);
	input = orc_strdup(w->input);
	error = orc_strdup(w->error);
	ok = (!w->definition || def) && (!w->input || input) &&
	     (!w->error || error);
	if (ok)
		wf_copy(out, w);
	pthread_mutex_unlock(&w->mu);
	if (!ok) {
		free(def);
		free(input);
		free(error);
		return orc_error_set(err, ORC_ENOMEM, "workflow %s: out of "
				     "memory", wf_id);
	}
	out->definition = def;
	out->input = input;
	out->error = error;
	return ORC_OK;
}

static orc_status mem_update_workflow(orc_backend *b, const char *wf_id,
				      const orc_workflow_update *u,
				      orc_workflow_rec *out, orc_error *err)
{
	mem_backend *mb = MB(b);
	char *error = NULL, *old = NULL, *out_error = NULL;
	orc_status st = ORC_OK;
	mem_wf *w;

	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(wf_id != NULL, err);
	ORC_CHECK_ARG(u != NULL, err);
	if ((u->set & ORC_WSET_STATE) &&
	    (unsigned)u->state >= ORC_WORKFLOW_STATE_COUNT)
		return orc_error_set(err, ORC_EINVAL, "workflow %s: invalid "
				     "state %d", wf_id, (int)u->state);
	if (u->set & ORC_WSET_ERROR) {
		st = dup_payload(&error, mb, u->error, "workflow", wf_id, NULL,
				 "error", err);
		if (st != ORC_OK)
			return st;
	}
	w = wf_lookup(mb, wf_id);
	if (!w) {
		free(error);
		return wf_not_found(err, wf_id);
	}
	pthread_mutex_lock(&w->mu);
	if (!w->has_rec) {
		st = wf_not_found(err, wf_id);
		goto unlock;
	}
	if (u->if_states && !(u->if_states & ORC_WORKFLOW_BIT(w->state))) {
		st = orc_error_set(err, ORC_ECONFLICT, "workflow %s: state %s "
				   "not in the expected states", wf_id,
				   wf_state_name(w->state));
		goto found;
	}
	if (u->if_version >= 0 && u->if_version != w->version) {
		st = orc_error_set(err, ORC_ECONFLICT, "workflow %s: expected "
				   "version %lld, found %lld", wf_id,
				   (long long)u->if_version,
				   (long long)w->version);
		goto found;
	}
	if (u->set & ORC_WSET_STATE) {
		w->state = u->state;
		live_sync(mb, w);
	}
	if (u->set & ORC_WSET_ERROR) {
		old = w->error;
		w->error = error;
		error = NULL;
	}
	if (u->set & (ORC_WSET_STATE | ORC_WSET_ERROR)) {
		w->version++;
		w->updated_ms = u->now_ms;
	}
found:
	if (out) {
		wf_copy(out, w);
		if (w->error) {
			out_error = orc_strdup(w->error);
			if (!out_error && st == ORC_OK)
				st = orc_error_set(err, ORC_ENOMEM, "workflow "
						   "%s: out of memory", wf_id);
		}
		out->error = out_error;
	}
unlock:
	pthread_mutex_unlock(&w->mu);
	free(error);
	free(old);
	return st;
}

/* ---- tasks ---- */

static orc_status task_not_found(orc_error *err, const char *wf_id,
				 const char *task_id)
{
	return orc_error_set(err, ORC_ENOTFOUND, "task %s in workflow %s not "
			     "found", task_id, wf_id);
}

static orc_status mem_get_task(orc_task_rec *out, orc_backend *b,
			       const char *wf_id, const char *tid,
			       uint32_t flags, orc_error *err)
{
	char *output = NULL, *error = NULL;
	const mem_task *t;
	uint32_t idx;
	mem_wf *w;
	int ok = 1;

	ORC_CHECK_ARG(out != NULL, err);
	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(wf_id != NULL, err);
	ORC_CHECK_ARG(tid != NULL, err);
	w = wf_lookup(MB(b), wf_id);
	if (!w)
		return task_not_found(err, wf_id, tid);
	pthread_mutex_lock(&w->mu);
	idx = task_find(w, tid, orc__hash_str(tid));
	if (idx == NIL) {
		pthread_mutex_unlock(&w->mu);
		return task_not_found(err, wf_id, tid);
	}
	t = &w->tasks[idx];
	if ((flags & ORC_LIST_PAYLOADS) && t->pay) {
		output = orc_strdup(t->pay->output);
		error = orc_strdup(t->pay->error);
		ok = (!t->pay->output || output) && (!t->pay->error || error);
	}
	if (ok)
		task_copy(out, w, t);
	pthread_mutex_unlock(&w->mu);
	if (!ok) {
		free(output);
		free(error);
		return orc_error_set(err, ORC_ENOMEM, "task %s in workflow %s: "
				     "out of memory", tid, wf_id);
	}
	out->output = output;
	out->error = error;
	return ORC_OK;
}

static int dep_test_and_set(mem_task *t, uint32_t i)
{
	uint64_t *word = t->ndeps > INLINE_DEPS ? &t->done.heap[i / 64]
						: &t->done.bits;
	uint64_t bit = (uint64_t)1 << (i % 64);

	if (*word & bit)
		return 0;
	*word |= bit;
	return 1;
}

/* One task write in three steps: copies made before the lock (so it is
 * held short), conditions checked under it, then the effect, which
 * cannot fail. Strings it replaces are freed after the lock. */
struct mem_write {
	const char *tid;
	const orc_task_update *u;
	char *output, *error;   /* copies to store */
	struct mem_pay *pay;    /* holder, if the task has none yet */
	char *old_output, *old_error;
	uint32_t idx, owner;
	int ok;                 /* conditions hold (groups) */
};

static orc_status write_prepare(struct mem_write *m, mem_backend *mb,
				const char *wf_id, const char *tid,
				const orc_task_update *u, orc_error *err)
{
	const uint32_t set = u->set;
	orc_status st = ORC_OK;

	memset(m, 0, sizeof(*m));
	m->tid = tid;
	m->u = u;
	if ((set & ORC_SET_STATE) &&
	    (unsigned)u->state >= ORC_TASK_STATE_COUNT)
		return orc_error_set(err, ORC_EINVAL, "task %s in workflow %s: "
				     "invalid state %d", tid, wf_id,
				     (int)u->state);
	if ((set & ORC_SET_LEASE) && u->owner &&
	    strlen(u->owner) > ORC_OWNER_MAX)
		return orc_error_set(err, ORC_EINVAL, "task %s in workflow %s: "
				     "lease owner longer than %d bytes", tid,
				     wf_id, ORC_OWNER_MAX);
	if (set & ORC_SET_OUTPUT)
		st = dup_payload(&m->output, mb, u->output, "task", tid, wf_id,
				 "output", err);
	if (st == ORC_OK && (set & ORC_SET_ERROR))
		st = dup_payload(&m->error, mb, u->error, "task", tid, wf_id,
				 "error", err);
	/* A payload holder is needed only to store a string. */
	if (st == ORC_OK && (m->output || m->error) &&
	    !(m->pay = orc__calloc(1, sizeof(*m->pay))))
		st = orc_error_set(err, ORC_ENOMEM, "task %s in workflow %s: "
				   "out of memory", tid, wf_id);
	return st;
}

static void write_release(struct mem_write *m)
{
	free(m->output);
	free(m->error);
	free(m->old_output);
	free(m->old_error);
	free(m->pay);
}

/* Conditions, under w->mu. ORC_ECONFLICT leaves m->idx set, so the
 * caller can report the task as found. */
static orc_status write_check(struct mem_write *m, mem_wf *w,
			      const char *wf_id, orc_error *err)
{
	const orc_task_update *u = m->u;
	const char *tid = m->tid;
	mem_task *t;

	m->idx = task_find(w, tid, orc__hash_str(tid));
	if (m->idx == NIL)
		return task_not_found(err, wf_id, tid);
	t = &w->tasks[m->idx];
	if ((u->set & ORC_SET_DONE_DEP) && u->done_dep_index >= t->ndeps)
		return orc_error_set(err, ORC_EINVAL, "task %s in workflow %s: "
				     "dependency index %u out of range (%u "
				     "dependencies)", tid, wf_id,
				     u->done_dep_index, t->ndeps);
	if (u->if_states && !(u->if_states & ORC_TASK_BIT(t->state)))
		return orc_error_set(err, ORC_ECONFLICT, "task %s in workflow "
				     "%s: state %s not in the expected states",
				     tid, wf_id, orc_task_state_name(
					     (orc_task_state)t->state));
	if (u->if_version >= 0 && u->if_version != t->version)
		return orc_error_set(err, ORC_ECONFLICT, "task %s in workflow "
				     "%s: expected version %lld, found %lld",
				     tid, wf_id, (long long)u->if_version,
				     (long long)t->version);
	return ORC_OK;
}

/* The only step that allocates under the lock; before any effect. */
static orc_status write_intern(struct mem_write *m, mem_wf *w,
			       orc_error *err)
{
	if (!(m->u->set & ORC_SET_LEASE))
		return ORC_OK;
	return owner_intern(&m->owner, w, m->u->owner, err);
}

/* The effect, under w->mu, after write_check() and write_intern(). */
static void write_apply(struct mem_write *m, mem_wf *w)
{
	const orc_task_update *u = m->u;
	const uint32_t set = u->set;
	uint32_t idx = m->idx;
	mem_task *t = &w->tasks[idx];
	int write = (set & FIELD_FLAGS) != 0;

	if (set & ORC_SET_STATE)
		task_set_state(w, idx, (uint8_t)u->state);
	if (set & ORC_SET_ATTEMPT)
		t->attempt = u->attempt;
	if (set & ORC_SET_LEASE) {
		if (m->owner)
			w->owner_refs[m->owner]++;
		if (t->owner)
			w->owner_refs[t->owner]--;
		t->owner = m->owner;
		t->lease_expiry_ms = u->lease_expiry_ms;
	}
	if (set & ORC_SET_NOT_BEFORE)
		t->not_before_ms = u->not_before_ms;
	if (set & ORC_SET_STARTED)
		t->started_ms = u->started_ms;
	if (set & ORC_SET_ENDED)
		t->ended_ms = u->ended_ms;
	if ((set & (ORC_SET_OUTPUT | ORC_SET_ERROR)) && (t->pay || m->pay)) {
		if (!t->pay) {
			t->pay = m->pay;
			m->pay = NULL;
		}
		if (set & ORC_SET_OUTPUT) {
			m->old_output = t->pay->output;
			t->pay->output = m->output;
			m->output = NULL;
		}
		if (set & ORC_SET_ERROR) {
			m->old_error = t->pay->error;
			t->pay->error = m->error;
			m->error = NULL;
		}
	}
	if ((set & ORC_SET_DONE_DEP) &&
	    dep_test_and_set(t, u->done_dep_index)) {
		t->ndone++;
		write = 1;
	}
	if ((set & ORC_SET_PROMOTE) && t->state == ORC_TASK_PENDING &&
	    t->ndone == t->ndeps) {
		task_set_state(w, idx, ORC_TASK_READY);
		write = 1;
	}
	if (write) {
		t->version++;
		t->updated_ms = u->now_ms;
	}
}

static orc_status mem_update_task(orc_backend *b, const char *wf_id,
				  const char *tid, const orc_task_update *u,
				  orc_task_rec *out, orc_error *err)
{
	struct mem_write m;
	orc_status st;
	mem_wf *w;

	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(wf_id != NULL, err);
	ORC_CHECK_ARG(tid != NULL, err);
	ORC_CHECK_ARG(u != NULL, err);
	st = write_prepare(&m, MB(b), wf_id, tid, u, err);
	if (st != ORC_OK)
		goto done;
	w = wf_lookup(MB(b), wf_id);
	if (!w) {
		st = task_not_found(err, wf_id, tid);
		goto done;
	}
	pthread_mutex_lock(&w->mu);
	st = write_check(&m, w, wf_id, err);
	if (st == ORC_OK)
		st = write_intern(&m, w, err);
	if (st == ORC_OK)
		write_apply(&m, w);
	if (out && (st == ORC_OK || st == ORC_ECONFLICT))
		task_copy(out, w, &w->tasks[m.idx]);
	pthread_mutex_unlock(&w->mu);
done:
	write_release(&m);
	return st;
}

static orc_status mem_update_tasks(orc_backend *b, const char *wf_id,
				   const orc_task_write *writes, size_t n,
				   orc_task_rec *outs, unsigned char *applied,
				   orc_error *err)
{
	struct mem_write small[9], *ms;
	orc_status st = ORC_OK;
	size_t i, k = 0;
	mem_wf *w = NULL;

	ORC_CHECK_ARG(b != NULL && wf_id != NULL, err);
	ORC_CHECK_ARG(writes != NULL || n == 0, err);
	for (i = 0; i < n; i++)
		ORC_CHECK_ARG(writes[i].task_id != NULL &&
			      writes[i].update != NULL, err);
	/* The engine's group is a completion and its fan-out: usually
	 * small, and only the completion carries strings. */
	ms = n <= 9 ? small : orc__calloc(n, sizeof(*ms));
	if (!ms)
		return orc_error_set(err, ORC_ENOMEM, "workflow %s: out of "
				     "memory", wf_id);
	for (k = 0; k < n && st == ORC_OK; k++)
		st = write_prepare(&ms[k], MB(b), wf_id, writes[k].task_id,
				   writes[k].update, err);
	if (st == ORC_OK && n > 0 && !(w = wf_lookup(MB(b), wf_id)))
		st = task_not_found(err, wf_id, writes[0].task_id);
	if (st != ORC_OK || !w)
		goto done;
	pthread_mutex_lock(&w->mu);
	/* Every condition and allocation first: then the effects cannot
	 * fail, and the group is all or nothing. */
	for (i = 0; i < n; i++) {
		orc_status c = write_check(&ms[i], w, wf_id,
					   writes[i].optional ? NULL : err);

		ms[i].ok = c == ORC_OK;
		if (c == ORC_OK)
			c = write_intern(&ms[i], w, err);
		else if (writes[i].optional && c == ORC_ECONFLICT)
			c = ORC_OK;
		if (c != ORC_OK) {
			st = c;
			if (outs && c == ORC_ECONFLICT)
				task_copy(&outs[i], w, &w->tasks[ms[i].idx]);
			break;
		}
	}
	if (st == ORC_OK) {
		/* Ids differ, so no write changes another's conditions. */
		for (i = 0; i < n; i++) {
			if (ms[i].ok)
				write_apply(&ms[i], w);
			if (applied)
				applied[i] = (unsigned char)ms[i].ok;
			if (outs)
				task_copy(&outs[i], w, &w->tasks[ms[i].idx]);
		}
	} else if (applied) {
		memset(applied, 0, n);
	}
	pthread_mutex_unlock(&w->mu);
done:
	for (i = 0; i < k; i++)
		write_release(&ms[i]);
	if (ms != small)
		free(ms);
	return st;
}

/* Lend task @p i to @p cb, payloads pointing at the stored strings. */
static int list_one(orc_task_rec *rec, const mem_wf *w, uint32_t i,
		    uint32_t flags, orc_task_rec_cb cb, void *payload)
{
	const mem_task *t = &w->tasks[i];

	task_copy(rec, w, t);
	if ((flags & ORC_LIST_PAYLOADS) && t->pay) {
		rec->output = t->pay->output;
		rec->error = t->pay->error;
	}
	return cb(rec, payload);
}

static orc_status mem_list_tasks(orc_backend *b, const char *wf_id,
				 uint32_t states, uint32_t flags,
				 orc_task_rec_cb cb, void *payload,
				 orc_error *err)
{
	orc_task_rec rec;
	uint32_t i;
	mem_wf *w;

	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(wf_id != NULL, err);
	ORC_CHECK_ARG(cb != NULL, err);
	w = wf_lookup(MB(b), wf_id);
	if (!w)
		return ORC_OK;
	/* The lock is held across callbacks, which must not call back
	 * into this backend; each record is then read atomically and the
	 * payloads can be lent without copying. */
	pthread_mutex_lock(&w->mu);
	if (states == ORC_TASK_BIT(ORC_TASK_READY)) {
		for (i = w->ready_head; i != NIL; i = w->tasks[i].next) {
			if (list_one(&rec, w, i, flags, cb, payload))
				break;
		}
	} else {
		for (i = 0; i < w->ntasks; i++) {
			const mem_task *t = &w->tasks[i];

			if (states && !(states & ORC_TASK_BIT(t->state)))
				continue;
			if (list_one(&rec, w, i, flags, cb, payload))
				break;
		}
	}
	pthread_mutex_unlock(&w->mu);
	return ORC_OK;
}

static orc_status mem_list_workflows(orc_backend *b, orc_workflow_rec_cb cb,
				     void *payload, orc_error *err)
{
	mem_backend *mb = MB(b);
	orc_workflow_rec rec;
	size_t i;
	int stop = 0;

	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(cb != NULL, err);
	pthread_rwlock_rdlock(&mb->wf_lock);
	for (i = 0; mb->wfs.slots && i <= mb->wfs.mask && !stop; i++) {
		mem_wf *w = (mem_wf *)(void *)mb->wfs.slots[i];

		if (!w)
			continue;
		pthread_mutex_lock(&w->mu);
		if (w->has_rec) {
			wf_copy(&rec, w);
			rec.error = w->error;  /* lent for the call */
			stop = cb(&rec, payload);
		}
		pthread_mutex_unlock(&w->mu);
	}
	pthread_rwlock_unlock(&mb->wf_lock);
	return ORC_OK;
}

static int live_cmp(const void *a, const void *b)
{
	return strcmp(((const orc_workflow_rec *)a)->id,
		      ((const orc_workflow_rec *)b)->id);
}

/* The live set is copied under its lock, then each workflow is read
 * under its own (workflows are never freed before the backend), then
 * sorted: O(live log live), nothing finished is looked at. */
static orc_status mem_list_live(orc_backend *b, const orc_live_query *q,
				orc_workflow_rec_cb cb, void *payload,
				orc_error *err)
{
	mem_backend *mb = MB(b);
	mem_wf **ws = NULL, *w;
	orc_workflow_rec *recs = NULL;
	const char *after;
	size_t n = 0, m = 0, i;
	int fail = 0;

	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(q != NULL, err);
	ORC_CHECK_ARG(cb != NULL, err);
	if (q->kind != ORC_LIVE_WORKFLOWS)
		return orc_error_set(err, ORC_ENOTSUPPORTED, "memory backend: "
				     "unknown live kind %d", q->kind);
	after = q->after ? q->after : "";
	pthread_mutex_lock(&mb->live_mu);
	if (mb->nlive) {
		ws = orc__malloc(mb->nlive * sizeof(*ws));
		for (w = mb->live_head; ws && w; w = w->live_next)
			ws[n++] = w;
		fail = !ws;
	}
	pthread_mutex_unlock(&mb->live_mu);
	if (n && !(recs = orc__calloc(n, sizeof(*recs))))
		fail = 1;
	if (fail) {
		free(ws);
		return orc_error_set(err, ORC_ENOMEM, "memory backend: out of "
				     "memory listing live workflows");
	}
	for (i = 0; i < n; i++) {
		w = ws[i];
		pthread_mutex_lock(&w->mu);
		if (w->has_rec && !orc_workflow_state_is_terminal(w->state) &&
		    strcmp(w->key.name, after) > 0)
			wf_copy(&recs[m++], w);
		pthread_mutex_unlock(&w->mu);
	}
	free(ws);
	if (m > 1)
		qsort(recs, m, sizeof(*recs), live_cmp);
	for (i = 0; i < m && (q->limit == 0 || i < q->limit); i++)
		if (cb(&recs[i], payload))
			break;
	free(recs);
	return ORC_OK;
}

/* ---- leases ---- */

static orc_status mem_get_lock(orc_lock_rec *out, orc_backend *b,
			       const char *name, orc_error *err)
{
	mem_backend *mb = MB(b);
	struct mem_lock *l;

	ORC_CHECK_ARG(out != NULL, err);
	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(name != NULL, err);
	pthread_mutex_lock(&mb->lock_mu);
	l = (struct mem_lock *)(void *)map_find(&mb->locks,
						orc__hash_str(name), name);
	if (l)
		*out = l->rec;
	pthread_mutex_unlock(&mb->lock_mu);
	if (!l)
		return orc_error_set(err, ORC_ENOTFOUND, "lock %s not found",
				     name);
	return ORC_OK;
}

static orc_status mem_put_lock(orc_backend *b, const orc_lock_rec *rec,
			       int64_t expected, orc_error *err)
{
	mem_backend *mb = MB(b);
	struct mem_lock *l;
	orc_status st = ORC_OK;
	uint64_t h;

	ORC_CHECK_ARG(b != NULL, err);
	ORC_CHECK_ARG(rec != NULL, err);
	if (!rec->name[0] || memchr(rec->name, '\0', sizeof(rec->name)) == NULL
	    || memchr(rec->owner, '\0', sizeof(rec->owner)) == NULL)
		return orc_error_set(err, ORC_EINVAL, "lock: name must be 1 to "
				     "%d bytes and owner terminated",
				     ORC_ID_MAX);
	if (expected < 0 || rec->version != expected + 1)
		return orc_error_set(err, ORC_EINVAL, "lock %s: version %lld "
				     "must be expected version %lld + 1",
				     rec->name, (long long)rec->version,
				     (long long)expected);
	h = orc__hash_str(rec->name);
	pthread_mutex_lock(&mb->lock_mu);
	l = (struct mem_lock *)(void *)map_find(&mb->locks, h, rec->name);
	if (!l && expected != 0) {
		st = orc_error_set(err, ORC_ECONFLICT, "lock %s: expected "
				   "version %lld, found none", rec->name,
				   (long long)expected);
	} else if (l && l->rec.version != expected) {
		st = orc_error_set(err, ORC_ECONFLICT, "lock %s: expected "
				   "version %lld, found %lld", rec->name,
				   (long long)expected,
				   (long long)l->rec.version);
	} else if (!l) {
		l = orc__malloc(sizeof(*l));
		if (!l) {
			st = orc_error_set(err, ORC_ENOMEM, "lock %s: out of "
					   "memory", rec->name);
		} else {
			l->rec = *rec;
			l->key.hash = h;
			l->key.name = l->rec.name;
			if (!map_insert(&mb->locks, &l->key)) {
				free(l);
				st = orc_error_set(err, ORC_ENOMEM, "lock %s: "
						   "out of memory", rec->name);
			}
		}
	} else {
		l->rec = *rec;
		l->key.name = l->rec.name;
	}
	pthread_mutex_unlock(&mb->lock_mu);
	return st;
}

static orc_status mem_ctl(orc_backend *b, int op, void *arg, orc_error *err)
{
	ORC_UNUSED(b);
	ORC_UNUSED(arg);
	return orc_error_set(err, ORC_ENOTSUPPORTED, "memory backend: "
			     "unknown ctl op %d", op);
}

static void mem_free(orc_backend *b)
{
	mem_backend *mb = MB(b);
	size_t i;

	if (!b)
		return;
	for (i = 0; mb->wfs.slots && i <= mb->wfs.mask; i++)
		if (mb->wfs.slots[i])
			wf_free((mem_wf *)(void *)mb->wfs.slots[i]);
	for (i = 0; mb->locks.slots && i <= mb->locks.mask; i++)
		free(mb->locks.slots[i]);
	free(mb->wfs.slots);
	free(mb->locks.slots);
	pthread_rwlock_destroy(&mb->wf_lock);
	pthread_mutex_destroy(&mb->lock_mu);
	pthread_mutex_destroy(&mb->live_mu);
	free(mb);
}

ORC_API orc_status orc_memory_backend_create(orc_backend **out,
					     const orc_memory_options *opts,
					     orc_error *err)
{
	mem_backend *mb;

	ORC_CHECK_ARG(out != NULL, err);
	*out = NULL;
	if (opts && (opts->version == 0 ||
		     opts->version > ORC_MEMORY_OPTIONS_VERSION))
		return orc_error_set(err, ORC_EINVAL, "memory backend: options "
				     "version %u not in 1..%d", opts->version,
				     ORC_MEMORY_OPTIONS_VERSION);
	mb = orc__calloc(1, sizeof(*mb));
	if (!mb)
		return orc_error_set(err, ORC_ENOMEM, "memory backend: out of "
				     "memory");
	if (pthread_rwlock_init(&mb->wf_lock, NULL) != 0) {
		free(mb);
		return orc_error_set(err, ORC_ENOMEM, "memory backend: cannot "
				     "create a lock");
	}
	if (pthread_mutex_init(&mb->lock_mu, NULL) != 0) {
		pthread_rwlock_destroy(&mb->wf_lock);
		free(mb);
		return orc_error_set(err, ORC_ENOMEM, "memory backend: cannot "
				     "create a lock");
	}
	if (pthread_mutex_init(&mb->live_mu, NULL) != 0) {
		pthread_mutex_destroy(&mb->lock_mu);
		pthread_rwlock_destroy(&mb->wf_lock);
		free(mb);
		return orc_error_set(err, ORC_ENOMEM, "memory backend: cannot "
				     "create a lock");
	}
	orc_backend_init(&mb->parent, ORC_BACKEND_VERSION);
	mb->parent.name = "memory";
	mb->parent.caps = ORC_BACKEND_CAP_THREADSAFE | ORC_BACKEND_CAP_TXN;
	mb->parent.create_workflow = mem_create_workflow;
	mb->parent.get_workflow = mem_get_workflow;
	mb->parent.update_workflow = mem_update_workflow;
	mb->parent.get_task = mem_get_task;
	mb->parent.update_task = mem_update_task;
	mb->parent.update_tasks = mem_update_tasks;
	mb->parent.list_tasks = mem_list_tasks;
	mb->parent.get_lock = mem_get_lock;
	mb->parent.put_lock = mem_put_lock;
	mb->parent.free = mem_free;
	mb->parent.list_workflows = mem_list_workflows;
	mb->parent.ctl = mem_ctl;
	mb->parent.list_live = mem_list_live;
	mb->max_payload = opts ? opts->max_payload : 0;
	atomic_init(&mb->last_wf, NULL);
	*out = &mb->parent;
	return ORC_OK;
}
