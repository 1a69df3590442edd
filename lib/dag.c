/*
 * The DAG core: building, validation, topological order and levels.
 *
 * Memory layout (the engine keeps one DAG per definition and the target is
 * well under 100 bytes per task):
 * - strings (ids, targets, argv) live in an arena of blocks that never
 *   move, so pointers handed out stay valid and there is no malloc per task;
 * - tasks are a flat array of small records; retry policy and timeout go
 *   to a deduplicated policy table referenced by index;
 * - ids are found through an open-addressing table of uint32 task indices;
 * - while building, edges are a flat (task, dep) list with a hash set that
 *   drops repeats; a dependency not added yet is kept as an interned name
 *   and resolved at validation;
 * - validation turns the edges into CSR arrays (offsets + indices) for
 *   dependencies and dependents and frees the building state.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "orchestra/dag.h"

/* An edge's dep with this bit set is an index into names[]. */
#define ORC__DEP_NAME 0x80000000u

struct orc__arena {
	struct arena_block *head;
	size_t bytes;
};

struct orc__task {
	const char *id;      /* arena */
	const void *target;  /* arena: name, or argv array for commands */
	uint32_t policy;     /* index into policies */
	uint8_t kind;        /* orc_target_kind */
};

struct orc__policy {
	orc_retry_policy retry;
	int64_t timeout_ms;
};

struct orc__edge {
	uint32_t task; /* the dependent */
	uint32_t dep;  /* task index, or ORC__DEP_NAME | name index */
};

struct orc_dag {
	atomic_uint refs;
	int valid;
	struct orc__arena arena;
	struct orc__task *tasks;
	uint32_t ntasks, cap_tasks;
	struct orc__policy *policies;
	uint32_t npolicies, cap_policies;
	uint32_t *slots; /* task index + 1; 0 = empty */
	uint32_t nslots;
	const char *last_target;
	/* building only */
	struct orc__edge *edges;
	uint32_t nedges, cap_edges;
	uint32_t *edge_slots; /* edge index + 1 */
	uint32_t nedge_slots;
	const char **names;
	uint32_t nnames, cap_names;
	uint32_t *name_slots;
	uint32_t nname_slots;
	/* after validation: CSR rows and the orders */
	uint32_t *dep_off, *dep_idx, *rdep_off, *rdep_idx;
	uint32_t *topo, *levels;
	uint32_t nlevels;
};

/* ---- arena ---------------------------------------------------------- */

#define ARENA_BLOCK 65536u

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

static void *arena_alloc(struct orc__arena *a, size_t size, size_t align)
{
	struct arena_block *b = a->head;
	size_t at;

	if (b) {
		at = (b->used + align - 1) & ~(align - 1);
		if (at + size <= b->cap) {
			b->used = at + size;
			return (char *)b->data + at;
		}
	}
	/* Big requests get their own block, behind the current one, so the
	 * current block keeps filling. */
	if (size > ARENA_BLOCK / 4) {
		struct arena_block *nb = orc__malloc(sizeof(*nb) + size);

		if (!nb)
			return NULL;
		nb->used = nb->cap = size;
		if (b) {
			nb->next = b->next;
			b->next = nb;
		} else {
			nb->next = NULL;
			a->head = nb;
		}
		a->bytes += sizeof(*nb) + size;
		return nb->data;
	}
	b = orc__malloc(sizeof(*b) + ARENA_BLOCK);
	if (!b)
		return NULL;
	b->next = a->head;
	b->cap = ARENA_BLOCK;
	b->used = size;
	a->head = b;
	a->bytes += sizeof(*b) + ARENA_BLOCK;
	return b->data;
}

static const char *arena_strdup(struct orc__arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = arena_alloc(a, n, 1);

	if (p)
		memcpy(p, s, n);
	return p;
}

static void arena_free(struct orc__arena *a)
{
	struct arena_block *b = a->head, *next;

	while (b) {
		next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
}

/* ---- helpers -------------------------------------------------------- */

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
	uint32_t nc;
	void *np;

	if (need <= *cap)
		return 1;
	nc = *cap ? *cap : 16;
	while (nc < need) {
		if (nc > UINT32_MAX / 2)
			return 0;
		nc *= 2;
	}
	np = orc__realloc(*p, (size_t)nc * elem);
	if (!np)
		return 0;
	*p = np;
	*cap = nc;
	return 1;
}

/* Shrink an array to its used size; keeps the old one if realloc fails. */
static void shrink(void **p, uint32_t *cap, uint32_t n, size_t elem)
{
	void *np;

	if (n == *cap || n == 0)
		return;
	np = orc__realloc(*p, (size_t)n * elem);
	if (np) {
		*p = np;
		*cap = n;
	}
}

/* ---- id rule -------------------------------------------------------- */

ORC_API orc_status orc_dag_check_id(const char *id, orc_error *err)
{
	const unsigned char *s = (const unsigned char *)id;
	size_t i = 0, n;

	ORC_CHECK_ARG(id != NULL, err);
	n = strlen(id);
	if (n == 0)
		return orc_error_set(err, ORC_EINVAL, "id is empty");
	if (n > ORC_ID_MAX)
		return orc_error_set(err, ORC_EINVAL,
				     "id is %zu bytes, longer than %d", n,
				     ORC_ID_MAX);
	while (i < n) {
		unsigned c = s[i];
		size_t len, k;
		uint32_t cp;

		if (c < 0x20 || c == 0x7f)
			return orc_error_set(err, ORC_EINVAL,
					     "id contains control character "
					     "0x%02x at byte %zu", c, i);
		if (c == '#')
			return orc_error_set(err, ORC_EINVAL,
					     "id contains '#' at byte %zu "
					     "(reserved as key separator)", i);
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			goto bad;
		}
		if (i + len > n)
			goto bad;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates and beyond U+10FFFF. */
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			goto bad;
		i += len;
	}
	return ORC_OK;
bad:
	return orc_error_set(err, ORC_EINVAL,
			     "id is not valid UTF-8 at byte %zu", i);
}

/* ---- create / free / ref -------------------------------------------- */

ORC_API orc_status orc_dag_create(orc_dag **out, orc_error *err)
{
	orc_dag *d;
	static const orc_retry_policy def = ORC_RETRY_POLICY_INIT;

	ORC_CHECK_ARG(out != NULL, err);
	*out = NULL;
	d = orc__calloc(1, sizeof(*d));
	if (!d)
		goto nomem;
	atomic_init(&d->refs, 1u);
	/* Policy 0 is the default, shared by most tasks. */
	d->policies = orc__malloc(sizeof(*d->policies));
	if (!d->policies)
		goto nomem;
	d->policies[0].retry = def;
	d->policies[0].timeout_ms = 0;
	d->npolicies = d->cap_policies = 1;
	*out = d;
	return ORC_OK;
nomem:
	orc_dag_free(d);
	return orc_error_set(err, ORC_ENOMEM, "out of memory creating DAG");
}

static void free_build(orc_dag *d)
{
	free(d->edges);
	free(d->edge_slots);
	free(d->names);
	free(d->name_slots);
	d->edges = NULL;
	d->edge_slots = NULL;
	d->names = NULL;
	d->name_slots = NULL;
	d->nedges = d->cap_edges = d->nedge_slots = 0;
	d->nnames = d->cap_names = d->nname_slots = 0;
}

ORC_API void orc_dag_free(orc_dag *dag)
{
	if (!dag)
		return;
	/* The last reference frees; acq_rel orders the other holders'
	 * reads before the free. */
	if (atomic_fetch_sub_explicit(&dag->refs, 1u,
				      memory_order_acq_rel) != 1u)
		return;
	free_build(dag);
	free(dag->tasks);
	free(dag->policies);
	free(dag->slots);
	free(dag->dep_off);
	free(dag->dep_idx);
	free(dag->rdep_off);
	free(dag->rdep_idx);
	free(dag->topo);
	free(dag->levels);
	arena_free(&dag->arena);
	free(dag);
}

struct orc_dag *orc__dag_ref(const struct orc_dag *dag)
{
	struct orc_dag *d = (struct orc_dag *)(uintptr_t)dag;

	if (d)
		atomic_fetch_add_explicit(&d->refs, 1u, memory_order_relaxed);
	return d;
}

/* ---- id index ------------------------------------------------------- */

/* Probe the id table (@p names = 0) or the pending-name table. */
static uint32_t probe(const orc_dag *d, int names, const char *id)
{
	const uint32_t *slots = names ? d->name_slots : d->slots;
	uint32_t ns = names ? d->nname_slots : d->nslots, mask, i;

	if (!ns)
		return UINT32_MAX;
	mask = ns - 1;
	i = (uint32_t)orc__hash_str(id) & mask;
	for (;; i = (i + 1) & mask) {
		uint32_t v = slots[i];

		if (!v)
			return UINT32_MAX;
		if (strcmp(names ? d->names[v - 1] : d->tasks[v - 1].id,
			   id) == 0)
			return v - 1;
	}
}

static uint32_t find_index(const orc_dag *d, const char *id)
{
	return probe(d, 0, id);
}

enum { TBL_TASKS, TBL_NAMES, TBL_EDGES };

static uint64_t edge_hash(uint32_t task, uint32_t dep)
{
	return mix64(((uint64_t)task << 32) | dep);
}

static uint64_t entry_hash(const orc_dag *d, int tbl, uint32_t i)
{
	if (tbl == TBL_TASKS)
		return orc__hash_str(d->tasks[i].id);
	if (tbl == TBL_NAMES)
		return orc__hash_str(d->names[i]);
	return edge_hash(d->edges[i].task, d->edges[i].dep);
}

static void slots_put(uint32_t *slots, uint32_t nslots, uint64_t h,
		      uint32_t value)
{
	uint32_t mask = nslots - 1;
	uint32_t i = (uint32_t)h & mask;

	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = value;
}

/* Make room for @p n entries in one of the three open-addressing tables,
 * keeping the load factor at or below 1/2 so probes stay short. */
static int table_reserve(orc_dag *d, int tbl, uint32_t n)
{
	uint32_t **sp = tbl == TBL_TASKS   ? &d->slots
			: tbl == TBL_NAMES ? &d->name_slots
					   : &d->edge_slots;
	uint32_t *np = tbl == TBL_TASKS	  ? &d->nslots
		       : tbl == TBL_NAMES ? &d->nname_slots
					  : &d->nedge_slots;
	uint32_t count = tbl == TBL_TASKS   ? d->ntasks
			 : tbl == TBL_NAMES ? d->nnames
					    : d->nedges;
	uint32_t ns, i, *slots;

	if ((uint64_t)n * 2 <= *np)
		return 1;
	if (n > UINT32_MAX / 4)
		return 0;
	ns = pow2_at_least(n * 2);
	slots = orc__calloc(ns, sizeof(*slots));
	if (!slots)
		return 0;
	for (i = 0; i < count; i++)
		slots_put(slots, ns, entry_hash(d, tbl, i), i + 1);
	free(*sp);
	*sp = slots;
	*np = ns;
	return 1;
}

/* Interned names of dependencies not added yet, by the same scheme. */
static uint32_t find_name(const orc_dag *d, const char *id)
{
	return probe(d, 1, id);
}

static orc_status add_name(uint32_t *out, orc_dag *d, const char *id,
			   orc_error *err)
{
	const char *copy;

	if (!table_reserve(d, TBL_NAMES, d->nnames + 1))
		goto nomem;
	if (!grow((void **)&d->names, &d->cap_names, d->nnames + 1,
		  sizeof(*d->names)))
		goto nomem;
	copy = arena_strdup(&d->arena, id);
	if (!copy)
		goto nomem;
	d->names[d->nnames] = copy;
	slots_put(d->name_slots, d->nname_slots, orc__hash_str(copy),
		  d->nnames + 1);
	*out = d->nnames++;
	return ORC_OK;
nomem:
	return orc_error_set(err, ORC_ENOMEM, "out of memory adding edge");
}

/* ---- adding --------------------------------------------------------- */

static int policy_equal(const struct orc__policy *a, const orc_retry_policy *r,
			int64_t timeout_ms)
{
	return a->timeout_ms == timeout_ms &&
	       a->retry.max_attempts == r->max_attempts &&
	       a->retry.jitter == r->jitter &&
	       a->retry.interval_ms == r->interval_ms &&
	       a->retry.backoff_rate == r->backoff_rate &&
	       a->retry.max_delay_ms == r->max_delay_ms;
}

/* Deduplicate against the default and the most recent entries: tasks
 * that share a policy are usually added together. A miss only costs a
 * table entry, never correctness. */
static orc_status intern_policy(uint32_t *out, orc_dag *d,
				const orc_retry_policy *r, int64_t timeout_ms)
{
	uint32_t i, lo = d->npolicies > 16 ? d->npolicies - 16 : 1;

	if (policy_equal(&d->policies[0], r, timeout_ms)) {
		*out = 0;
		return ORC_OK;
	}
	for (i = d->npolicies; i-- > lo;) {
		if (policy_equal(&d->policies[i], r, timeout_ms)) {
			*out = i;
			return ORC_OK;
		}
	}
	if (!grow((void **)&d->policies, &d->cap_policies, d->npolicies + 1,
		  sizeof(*d->policies)))
		return ORC_ENOMEM;
	d->policies[d->npolicies].retry = *r;
	d->policies[d->npolicies].timeout_ms = timeout_ms;
	*out = d->npolicies++;
	return ORC_OK;
}

static orc_status frozen(orc_error *err)
{
	return orc_error_set(err, ORC_EINVAL,
			     "DAG is validated and read-only");
}

/* Version 1 is the only one so far: a later version reads its new
 * fields only when spec->version has them. */
static orc_status spec_version(const orc_task_spec *spec, orc_error *err)
{
	if (spec->version == 0 || spec->version > ORC_TASK_SPEC_VERSION)
		return orc_error_set(err, ORC_EINVAL, "task spec: version %u "
				     "not in 1..%d (start from "
				     "ORC_TASK_SPEC_INIT or "
				     "orc_task_spec_init())",
				     spec->version, ORC_TASK_SPEC_VERSION);
	return ORC_OK;
}

ORC_API orc_status orc_dag_add_task(orc_dag *dag, const orc_task_spec *spec,
				    orc_error *err)
{
	struct orc__task *t;
	const void *target = NULL;
	orc_status st;
	uint32_t pol;

	ORC_CHECK_ARG(dag != NULL, err);
	ORC_CHECK_ARG(spec != NULL, err);
	if ((st = spec_version(spec, err)) != ORC_OK)
		return st;
	if (dag->valid)
		return frozen(err);
	if (spec->id == NULL)
		return orc_error_set(err, ORC_EINVAL, "task id is missing");
	if ((st = orc_dag_check_id(spec->id, err)) != ORC_OK)
		return st;
	if (find_index(dag, spec->id) != UINT32_MAX)
		return orc_error_set(err, ORC_EEXISTS,
				     "duplicate task id \"%s\"", spec->id);
	if (dag->ntasks >= ORC__DEP_NAME)
		return orc_error_set(err, ORC_EINVAL, "too many tasks");
	if ((st = orc_retry_policy_check(&spec->retry, err)) != ORC_OK) {
		orc_error e = { 0 };

		if (err)
			e = *err;
		return orc_error_set(err, st, "task %s: %s", spec->id,
				     e.message);
	}
	if (spec->timeout_ms < 0 || spec->timeout_ms > ORC__MAX_MS)
		return orc_error_set(err, ORC_EINVAL,
				     "task %s: timeoutMs must be >= 0 and <= "
				     ORC__MAX_MS_TEXT, spec->id);
	switch (spec->target_kind) {
	case ORC_TARGET_NONE:
		break;
	case ORC_TARGET_HANDLER:
	case ORC_TARGET_LAMBDA:
		if (!spec->target || !spec->target[0])
			return orc_error_set(err, ORC_EINVAL,
					     "task %s: %s name is missing",
					     spec->id,
					     spec->target_kind ==
							     ORC_TARGET_HANDLER
						     ? "handler"
						     : "lambda");
		break;
	case ORC_TARGET_COMMAND:
		if (!spec->argv || !spec->argv[0] || !spec->argv[0][0])
			return orc_error_set(err, ORC_EINVAL,
					     "task %s: command needs a "
					     "non-empty argv[0]", spec->id);
		break;
	default:
		return orc_error_set(err, ORC_EINVAL,
				     "task %s: unknown target kind %d",
				     spec->id, (int)spec->target_kind);
	}

	if (!table_reserve(dag, TBL_TASKS, dag->ntasks + 1) ||
	    !grow((void **)&dag->tasks, &dag->cap_tasks, dag->ntasks + 1,
		  sizeof(*dag->tasks)))
		goto nomem;
	if (intern_policy(&pol, dag, &spec->retry, spec->timeout_ms) != ORC_OK)
		goto nomem;

	if (spec->target_kind == ORC_TARGET_HANDLER ||
	    spec->target_kind == ORC_TARGET_LAMBDA) {
		/* Most tasks of a DAG share one handler: keep one copy. */
		if (dag->last_target && strcmp(dag->last_target,
					       spec->target) == 0)
			target = dag->last_target;
		else
			target = dag->last_target =
				arena_strdup(&dag->arena, spec->target);
		if (!target)
			goto nomem;
	} else if (spec->target_kind == ORC_TARGET_COMMAND) {
		size_t n = 0, i;
		const char **argv;

		while (spec->argv[n])
			n++;
		argv = arena_alloc(&dag->arena, (n + 1) * sizeof(*argv),
				   sizeof(void *));
		if (!argv)
			goto nomem;
		for (i = 0; i < n; i++)
			if (!(argv[i] = arena_strdup(&dag->arena,
						     spec->argv[i])))
				goto nomem;
		argv[n] = NULL;
		target = argv;
	}

	t = &dag->tasks[dag->ntasks];
	t->id = arena_strdup(&dag->arena, spec->id);
	if (!t->id)
		goto nomem;
	t->target = target;
	t->policy = pol;
	t->kind = (uint8_t)spec->target_kind;
	slots_put(dag->slots, dag->nslots, orc__hash_str(t->id),
		  dag->ntasks + 1);
	dag->ntasks++;
	return ORC_OK;
nomem:
	return orc_error_set(err, ORC_ENOMEM, "out of memory adding task %s",
			     spec->id);
}

ORC_API orc_status orc_dag_add_dep(orc_dag *dag, const char *task_id,
				   const char *dep_id, orc_error *err)
{
	uint32_t task, dep, mask, j;
	orc_status st;

	ORC_CHECK_ARG(dag != NULL, err);
	ORC_CHECK_ARG(task_id != NULL, err);
	ORC_CHECK_ARG(dep_id != NULL, err);
	if (dag->valid)
		return frozen(err);
	if ((st = orc_dag_check_id(dep_id, err)) != ORC_OK)
		return st;
	task = find_index(dag, task_id);
	if (task == UINT32_MAX)
		return orc_error_set(err, ORC_ENOTFOUND,
				     "cannot add dependency %s: no task %s",
				     dep_id, task_id);
	if (strcmp(task_id, dep_id) == 0)
		return orc_error_set(err, ORC_EINVAL,
				     "task %s depends on itself", task_id);
	/* One reference per id for the DAG's life: a name interned while
	 * its task was unknown stays the reference, so repeats compare
	 * equal in the edge set. */
	dep = find_name(dag, dep_id);
	if (dep != UINT32_MAX) {
		dep |= ORC__DEP_NAME;
	} else {
		dep = find_index(dag, dep_id);
		if (dep == UINT32_MAX) {
			if ((st = add_name(&dep, dag, dep_id, err)) != ORC_OK)
				return st;
			dep |= ORC__DEP_NAME;
		}
	}
	if (dag->nedges == UINT32_MAX - 1)
		return orc_error_set(err, ORC_EINVAL, "too many edges");
	if (!table_reserve(dag, TBL_EDGES, dag->nedges + 1) ||
	    !grow((void **)&dag->edges, &dag->cap_edges, dag->nedges + 1,
		  sizeof(*dag->edges)))
		return orc_error_set(err, ORC_ENOMEM,
				     "out of memory adding edge");
	mask = dag->nedge_slots - 1;
	j = (uint32_t)edge_hash(task, dep) & mask;
	for (; dag->edge_slots[j]; j = (j + 1) & mask) {
		const struct orc__edge *e = &dag->edges[dag->edge_slots[j] - 1];

		if (e->task == task && e->dep == dep)
			return ORC_OK; /* a repeated edge is ignored */
	}
	dag->edge_slots[j] = dag->nedges + 1;
	dag->edges[dag->nedges].task = task;
	dag->edges[dag->nedges].dep = dep;
	dag->nedges++;
	return ORC_OK;
}

/* ---- validation ----------------------------------------------------- */

/* Append to a message buffer, marking truncation with "...". */
static void msg_add(char *buf, size_t size, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n + 4 >= size) {
		if (*len + 4 < size) {
			memcpy(buf + *len, "...", 4);
			*len += 3;
		}
		*len = size; /* stop further appends */
		return;
	}
	memcpy(buf + *len, s, n + 1);
	*len += n;
}

/* Kahn left the tasks with remaining[] > 0 unprocessed; each of them has
 * an unprocessed dependency, so following dependency edges from one of
 * them must come back to a task already on the path. Print that cycle
 * starting at its lowest index, in dependency direction:
 * "cycle: B -> C -> B" means B depends on C and C depends on B. */
static orc_status report_cycle(orc_dag *d, const uint32_t *off,
			       const uint32_t *idx, const uint32_t *remaining,
			       orc_error *err)
{
	uint32_t n = d->ntasks, start = 0, cur, k, lo, lopos, len = 0;
	uint32_t *pos = NULL, *path = NULL;
	char msg[256];
	size_t mlen = 0;
	orc_status st = ORC_ECYCLE;

	pos = orc__malloc((size_t)n * sizeof(*pos));
	path = orc__malloc((size_t)n * sizeof(*path));
	if (!pos || !path) {
		st = orc_error_set(err, ORC_ENOMEM,
				   "out of memory reporting a cycle");
		goto out;
	}
	memset(pos, 0xff, (size_t)n * sizeof(*pos));
	while (!remaining[start])
		start++;
	cur = start;
	while (pos[cur] == UINT32_MAX) {
		pos[cur] = len;
		path[len++] = cur;
		for (k = off[cur]; k < off[cur + 1]; k++)
			if (remaining[idx[k]])
				break;
		cur = idx[k];
	}
	/* path[pos[cur] .. len) is the cycle; rotate to its lowest index. */
	lo = cur;
	lopos = pos[cur];
	for (k = pos[cur]; k < len; k++)
		if (path[k] < lo) {
			lo = path[k];
			lopos = k;
		}
	msg_add(msg, sizeof(msg), &mlen, "cycle: ");
	for (k = lopos; k < len; k++) {
		msg_add(msg, sizeof(msg), &mlen, d->tasks[path[k]].id);
		msg_add(msg, sizeof(msg), &mlen, " -> ");
	}
	for (k = pos[cur]; k < lopos; k++) {
		msg_add(msg, sizeof(msg), &mlen, d->tasks[path[k]].id);
		msg_add(msg, sizeof(msg), &mlen, " -> ");
	}
	msg_add(msg, sizeof(msg), &mlen, d->tasks[lo].id);
	orc_error_set(err, ORC_ECYCLE, "%s", msg);
out:
	free(pos);
	free(path);
	return st;
}

ORC_API orc_status orc_dag_validate(orc_dag *dag, orc_error *err)
{
	uint32_t n, m, i, t, head, tail, nlev = 0;
	uint32_t *res = NULL, *off = NULL, *idx = NULL, *roff = NULL;
	uint32_t *ridx = NULL, *topo = NULL, *lev = NULL, *rem = NULL;
	orc_status st;

	ORC_CHECK_ARG(dag != NULL, err);
	if (dag->valid)
		return ORC_OK;
	n = dag->ntasks;
	m = dag->nedges;
	if (n == 0)
		return orc_error_set(err, ORC_EINVAL, "DAG has no tasks");

	/* Resolve names of dependencies added before their task. */
	if (dag->nnames) {
		res = orc__malloc((size_t)dag->nnames * sizeof(*res));
		if (!res)
			goto nomem;
		for (i = 0; i < dag->nnames; i++)
			res[i] = find_index(dag, dag->names[i]);
		for (i = 0; i < m; i++) {
			uint32_t dp = dag->edges[i].dep;

			if (!(dp & ORC__DEP_NAME))
				continue;
			if (res[dp & ~ORC__DEP_NAME] == UINT32_MAX) {
				st = orc_error_set(err, ORC_ENOTFOUND,
					"task %s depends on unknown task %s",
					dag->tasks[dag->edges[i].task].id,
					dag->names[dp & ~ORC__DEP_NAME]);
				goto fail;
			}
		}
	}

	off = orc__calloc((size_t)n + 1, sizeof(*off));
	roff = orc__calloc((size_t)n + 1, sizeof(*roff));
	idx = orc__malloc((size_t)m * sizeof(*idx));
	ridx = orc__malloc((size_t)m * sizeof(*ridx));
	topo = orc__malloc((size_t)n * sizeof(*topo));
	lev = orc__calloc(n, sizeof(*lev));
	rem = orc__malloc((size_t)n * sizeof(*rem));
	if (!off || !roff || !idx || !ridx || !topo || !lev || !rem)
		goto nomem;

	/* Resolve in place: the build list is dropped on success, and on
	 * failure a resolved edge is as good as the name. */
	for (i = 0; i < m; i++) {
		uint32_t dp = dag->edges[i].dep;

		if (dp & ORC__DEP_NAME)
			dp = res[dp & ~ORC__DEP_NAME];
		dag->edges[i].dep = dp;
		off[dag->edges[i].task + 1]++;
		roff[dp + 1]++;
	}
	/* From here edges hold indices; a second validate after a failure
	 * must not re-resolve them. */
	free(dag->names);
	free(dag->name_slots);
	dag->names = NULL;
	dag->name_slots = NULL;
	dag->nnames = dag->cap_names = dag->nname_slots = 0;
	/* Edge keys changed: the repeat filter is rebuilt on the next add. */
	free(dag->edge_slots);
	dag->edge_slots = NULL;
	dag->nedge_slots = 0;

	/* Prefix sums to end offsets, then fill backwards so that each row
	 * keeps the order the edges were added in. */
	for (t = 0; t < n; t++) {
		off[t + 1] += off[t];
		roff[t + 1] += roff[t];
	}
	for (i = m; i-- > 0;)
		idx[--off[dag->edges[i].task + 1]] = dag->edges[i].dep;
	/* off[t + 1] now is the start of row t; shift to standard CSR. */
	memmove(off, off + 1, (size_t)n * sizeof(*off));
	off[n] = m;
	/* Dependents rows in increasing dependent index. */
	for (t = n; t-- > 0;)
		for (i = off[t + 1]; i-- > off[t];)
			ridx[--roff[idx[i] + 1]] = t;
	memmove(roff, roff + 1, (size_t)n * sizeof(*roff));
	roff[n] = m;

	/* Kahn with a FIFO queue (topo doubles as the queue), seeded with
	 * the roots in index order. */
	tail = 0;
	for (t = 0; t < n; t++) {
		rem[t] = off[t + 1] - off[t];
		if (!rem[t])
			topo[tail++] = t;
	}
	for (head = 0; head < tail; head++) {
		uint32_t u = topo[head], lu = lev[u] + 1;

		if (lev[u] + 1 > nlev)
			nlev = lev[u] + 1;
		for (i = roff[u]; i < roff[u + 1]; i++) {
			uint32_t v = ridx[i];

			if (lev[v] < lu)
				lev[v] = lu;
			if (--rem[v] == 0)
				topo[tail++] = v;
		}
	}
	if (tail < n) {
		st = report_cycle(dag, off, idx, rem, err);
		goto fail;
	}

	free(rem);
	free(res);
	free_build(dag);
	shrink((void **)&dag->tasks, &dag->cap_tasks, n, sizeof(*dag->tasks));
	shrink((void **)&dag->policies, &dag->cap_policies, dag->npolicies,
	       sizeof(*dag->policies));
	dag->dep_off = off;
	dag->dep_idx = idx;
	dag->rdep_off = roff;
	dag->rdep_idx = ridx;
	dag->topo = topo;
	dag->levels = lev;
	dag->nlevels = nlev;
	dag->nedges = m;
	dag->valid = 1;
	return ORC_OK;
nomem:
	st = orc_error_set(err, ORC_ENOMEM, "out of memory validating DAG");
fail:
	free(res);
	free(off);
	free(roff);
	free(idx);
	free(ridx);
	free(topo);
	free(lev);
	free(rem);
	return st;
}

/* ---- queries -------------------------------------------------------- */

ORC_API int orc_dag_is_valid(const orc_dag *dag)
{
	return dag && dag->valid;
}

ORC_API size_t orc_dag_task_count(const orc_dag *dag)
{
	return dag ? dag->ntasks : 0;
}

ORC_API size_t orc_dag_edge_count(const orc_dag *dag)
{
	return dag ? dag->nedges : 0;
}

ORC_API orc_status orc_dag_find(size_t *index_out, const orc_dag *dag,
				const char *id, orc_error *err)
{
	uint32_t i;

	ORC_CHECK_ARG(index_out != NULL, err);
	ORC_CHECK_ARG(dag != NULL, err);
	ORC_CHECK_ARG(id != NULL, err);
	i = find_index(dag, id);
	if (i == UINT32_MAX)
		return orc_error_set(err, ORC_ENOTFOUND, "no task %s", id);
	*index_out = i;
	return ORC_OK;
}

ORC_API orc_status orc_dag_task_get(orc_task_spec *out, const orc_dag *dag,
				    size_t index, orc_error *err)
{
	const struct orc__task *t;
	const struct orc__policy *p;
	orc_status st;

	ORC_CHECK_ARG(out != NULL, err);
	ORC_CHECK_ARG(dag != NULL, err);
	if ((st = spec_version(out, err)) != ORC_OK)
		return st;
	if (index >= dag->ntasks)
		return orc_error_set(err, ORC_EINVAL,
				     "task index %zu out of range (%u tasks)",
				     index, (unsigned)dag->ntasks);
	t = &dag->tasks[index];
	p = &dag->policies[t->policy];
	out->id = t->id;
	out->target_kind = (orc_target_kind)t->kind;
	out->target = NULL;
	out->argv = NULL;
	if (t->kind == ORC_TARGET_COMMAND)
		out->argv = (const char *const *)t->target;
	else
		out->target = t->target;
	out->retry = p->retry;
	out->timeout_ms = p->timeout_ms;
	return ORC_OK;
}

ORC_API size_t orc_dag_deps(const uint32_t **list_out, const orc_dag *dag,
			    size_t index)
{
	if (!list_out)
		return 0;
	*list_out = NULL;
	if (!dag || !dag->valid || index >= dag->ntasks)
		return 0;
	*list_out = dag->dep_idx + dag->dep_off[index];
	return dag->dep_off[index + 1] - dag->dep_off[index];
}

ORC_API size_t orc_dag_dependents(const uint32_t **list_out,
				  const orc_dag *dag, size_t index)
{
	if (!list_out)
		return 0;
	*list_out = NULL;
	if (!dag || !dag->valid || index >= dag->ntasks)
		return 0;
	*list_out = dag->rdep_idx + dag->rdep_off[index];
	return dag->rdep_off[index + 1] - dag->rdep_off[index];
}

ORC_API const uint32_t *orc_dag_topo_order(const orc_dag *dag)
{
	return dag && dag->valid ? dag->topo : NULL;
}

ORC_API const uint32_t *orc_dag_levels(const orc_dag *dag,
				       uint32_t *nlevels_out)
{
	if (nlevels_out)
		*nlevels_out = dag && dag->valid ? dag->nlevels : 0;
	return dag && dag->valid ? dag->levels : NULL;
}
