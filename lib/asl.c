/*
 * DAG -> Amazon States Language. Three steps:
 *   1. reachability bitsets of the DAG;
 *   2. a series-parallel expression (SEQ / PAR / TASK tree) whose order
 *      contains every edge: exact for series-parallel orders, with greedy
 *      cuts elsewhere ("sp"), or one PAR per level ("levels");
 *   3. the tree as Task / Parallel / Fail states, built with jansson.
 * docs/asl.md explains the emitted data flow.
 */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "orchestra/asl.h"
#include "orchestra/dag.h"
#include "orchestra/version.h"

#define ASL_NAME_MAX 80     /* ASL: state names up to 80 characters */
#define ASL_KEY_MAX 64      /* longest task id used as a JSONPath key */
#define ASL_FAIL_ERROR "ORC_EUSER"
#define ASL_FULL_CUT 256    /* sets up to this size try every cut kind */

enum node_kind { NODE_TASK, NODE_SEQ, NODE_PAR };

/* Expression tree; children are indices into asl_ctx.nodes. */
typedef struct node {
	enum node_kind kind;
	uint32_t task;     /* NODE_TASK */
	size_t *kids;
	size_t nkids;
	size_t lo, hi;     /* range in the leaf order (set by number_leaves) */
} node;

typedef struct asl_ctx {
	const orc_dag *dag;
	const orc_asl_options *opts;
	orc_error *err;
	orc_status st;          /* first failure; ORC_OK while all is well */
	size_t n;               /* tasks */
	size_t words;           /* 64-bit words per bitset row */
	uint64_t *reach;        /* n rows: strict descendants of each task */
	const uint32_t *level;  /* orc_dag_levels() */
	uint32_t nlevels;
	int probe;              /* only find out whether a cut is needed */
	int latency_first;      /* ORC_ASL_STRATEGY_SP_LATENCY */
	node *nodes;
	size_t nnodes, cap_nodes;
	size_t cuts;            /* non-series-parallel cuts made by "sp" */
	uint32_t *leaves;       /* tasks in tree order */
	size_t nleaves;
	/* emission */
	char **names;           /* state name of each task */
	char **keys;            /* JSONPath data key of each task */
	char **paths;           /* current data path of each task's output */
	char *input_key;        /* data key holding the execution input */
	json_t *used_names;     /* object used as a set */
	json_t *used_keys;
	size_t nparallel;
	size_t nfail;
	int jsonata;
	int default_is_activity;
} asl_ctx;

/* ---- small helpers ---------------------------------------------------- */

static void fail(asl_ctx *c, orc_status st, const char *fmt, const char *arg)
{
	if (c->st != ORC_OK)
		return;
	c->st = st;
	orc_error_set(c->err, st, fmt, arg ? arg : "");
}

static void oom(asl_ctx *c)
{
	fail(c, ORC_ENOMEM, "out of memory%s", NULL);
}

static int bit_get(const uint64_t *row, size_t i)
{
	return (int)((row[i / 64] >> (i % 64)) & 1u);
}

static void bit_set(uint64_t *row, size_t i)
{
	row[i / 64] |= (uint64_t)1 << (i % 64);
}

static const uint64_t *reach_row(const asl_ctx *c, size_t u)
{
	return c->reach + u * c->words;
}

/* u is an ancestor of v */
static int before(const asl_ctx *c, size_t u, size_t v)
{
	return bit_get(reach_row(c, u), v);
}

static int comparable(const asl_ctx *c, size_t u, size_t v)
{
	return before(c, u, v) || before(c, v, u);
}

static int popcount64(uint64_t x)
{
	int k = 0;

	while (x) {
		x &= x - 1;
		k++;
	}
	return k;
}

/* Code points in valid UTF-8 text; -1 when the text is not valid. */
static long utf8_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;

	while (*p) {
		int extra = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 :
			(*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (extra < 0)
			return -1;
		p++;
		while (extra--) {
			if ((*p & 0xc0) != 0x80)
				return -1;
			p++;
		}
		n++;
	}
	return n;
}

/* Byte length of the first @p cps code points of valid UTF-8 @p s. */
static size_t utf8_prefix(const char *s, size_t cps)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p && cps) {
		p++;
		while ((*p & 0xc0) == 0x80)
			p++;
		cps--;
	}
	return (size_t)(p - (const unsigned char *)s);
}

static char *xstrdup(asl_ctx *c, const char *s)
{
	char *p = orc__strndup(s, strlen(s));

	if (!p)
		oom(c);
	return p;
}

/* printf into a fresh string; NULL (and c->st set) on failure. */
static char *xfmt(asl_ctx *c, const char *fmt, const char *a, const char *b)
{
	int len = snprintf(NULL, 0, fmt, a, b);
	char *p;

	if (len < 0) {
		oom(c);
		return NULL;
	}
	p = orc__malloc((size_t)len + 1);
	if (!p) {
		oom(c);
		return NULL;
	}
	snprintf(p, (size_t)len + 1, fmt, a, b);
	return p;
}

/* JSON values: every constructor failure is remembered in c->st. */
static json_t *jstr(asl_ctx *c, const char *s)
{
	json_t *v;

	if (utf8_len(s) < 0) {
		fail(c, ORC_EINVAL, "not valid UTF-8: %s", s);
		return NULL;
	}
	v = json_string(s);
	if (!v)
		oom(c);
	return v;
}

static json_t *jobj(asl_ctx *c)
{
	json_t *v = json_object();

	if (!v)
		oom(c);
	return v;
}

static json_t *jarr(asl_ctx *c)
{
	json_t *v = json_array();

	if (!v)
		oom(c);
	return v;
}

static json_t *jint(asl_ctx *c, json_int_t i)
{
	json_t *v = json_integer(i);

	if (!v)
		oom(c);
	return v;
}

/* Steals @p v (NULL allowed: then only the failure is recorded). */
static void jset(asl_ctx *c, json_t *obj, const char *key, json_t *v)
{
	if (!obj || !v) {
		json_decref(v);
		if (c->st == ORC_OK)
			oom(c);
		return;
	}
	if (json_object_set_new(obj, key, v) != 0)
		oom(c);
}

static void jpush(asl_ctx *c, json_t *arr, json_t *v)
{
	if (!arr || !v) {
		json_decref(v);
		if (c->st == ORC_OK)
			oom(c);
		return;
	}
	if (json_array_append_new(arr, v) != 0)
		oom(c);
}

/* A JSON string literal ("..." with escapes), for JSONata expressions. */
static char *json_literal(asl_ctx *c, const char *s)
{
	json_t *v = jstr(c, s);
	char *text, *out;

	if (!v)
		return NULL;
	text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(v);
	if (!text) {
		oom(c);
		return NULL;
	}
	out = xstrdup(c, text);
	free(text);
	return out;
}

/*
 * A literal string value in a JSONata machine: a text that looks like
 * an expression ("{% ... %}") is wrapped as one returning the text.
 */
static json_t *jliteral(asl_ctx *c, const char *s)
{
	size_t len = strlen(s);
	char *lit, *expr;
	json_t *v;

	if (!c->jsonata || len < 4 || strncmp(s, "{%", 2) != 0 ||
	    strcmp(s + len - 2, "%}") != 0)
		return jstr(c, s);
	lit = json_literal(c, s);
	expr = lit ? xfmt(c, "{%% %s %%}", lit, NULL) : NULL;
	v = expr ? jstr(c, expr) : NULL;
	orc_free(lit);
	orc_free(expr);
	return v;
}

/* ---- reachability ------------------------------------------------------ */

static orc_status build_reach(asl_ctx *c)
{
	const uint32_t *topo = orc_dag_topo_order(c->dag);
	size_t i, w;

	c->words = (c->n + 63) / 64;
	c->reach = orc__calloc(c->n * c->words, sizeof(uint64_t));
	if (!c->reach) {
		oom(c);
		return c->st;
	}
	/* reverse topological order: children are complete first */
	for (i = c->n; i-- > 0;) {
		uint32_t u = topo[i];
		const uint32_t *kids;
		size_t nk = orc_dag_dependents(&kids, c->dag, u), k;
		uint64_t *row = c->reach + (size_t)u * c->words;

		for (k = 0; k < nk; k++) {
			const uint64_t *kr = reach_row(c, kids[k]);

			bit_set(row, kids[k]);
			for (w = 0; w < c->words; w++)
				row[w] |= kr[w];
		}
	}
	return ORC_OK;
}

/* ---- expression tree --------------------------------------------------- */

static size_t new_node(asl_ctx *c, enum node_kind kind, uint32_t task)
{
	node *nd;

	if (c->st != ORC_OK)
		return 0;
	if (c->nnodes == c->cap_nodes) {
		size_t cap = c->cap_nodes ? c->cap_nodes * 2 : 64;
		node *p = orc__realloc(c->nodes, cap * sizeof(*p));

		if (!p) {
			oom(c);
			return 0;
		}
		c->nodes = p;
		c->cap_nodes = cap;
	}
	nd = &c->nodes[c->nnodes];
	memset(nd, 0, sizeof(*nd));
	nd->kind = kind;
	nd->task = task;
	return c->nnodes++;
}

/* Append @p kid to @p parent; a SEQ kid of a SEQ is spliced in. */
static void add_kid(asl_ctx *c, size_t parent, size_t kid)
{
	size_t extra, *p, k;

	if (c->st != ORC_OK)
		return;
	if (c->nodes[parent].kind == NODE_SEQ &&
	    c->nodes[kid].kind == NODE_SEQ)
		extra = c->nodes[kid].nkids;
	else
		extra = 1;
	p = orc__realloc(c->nodes[parent].kids,
			 (c->nodes[parent].nkids + extra) * sizeof(size_t));
	if (!p) {
		oom(c);
		return;
	}
	c->nodes[parent].kids = p;
	if (c->nodes[parent].kind != NODE_SEQ ||
	    c->nodes[kid].kind != NODE_SEQ) {
		p[c->nodes[parent].nkids++] = kid;
		return;
	}
	for (k = 0; k < extra; k++)
		p[c->nodes[parent].nkids++] = c->nodes[kid].kids[k];
}

/* Union-find over positions 0..m-1. */
static size_t uf_find(size_t *up, size_t x)
{
	while (up[x] != x) {
		up[x] = up[up[x]];
		x = up[x];
	}
	return x;
}

static void uf_join(size_t *up, size_t a, size_t b)
{
	a = uf_find(up, a);
	b = uf_find(up, b);
	if (a != b)
		up[a > b ? a : b] = a < b ? a : b;
}

/*
 * Group @p set (m tasks, sorted by topo position) into components of the
 * comparability graph (@p want_comparable = 1) or of its complement.
 * Writes the group of each position into @p group (groups numbered by
 * first member) and returns the number of groups.
 */
static size_t components(asl_ctx *c, const uint32_t *set, size_t m,
			 int want_comparable, size_t *group, size_t *up)
{
	size_t i, j, ngroups = 0;

	for (i = 0; i < m; i++)
		up[i] = i;
	for (i = 0; i < m; i++)
		for (j = i + 1; j < m; j++)
			if (comparable(c, set[i], set[j]) == want_comparable)
				uf_join(up, i, j);
	for (i = 0; i < m; i++)
		group[i] = (size_t)-1;
	for (i = 0; i < m; i++) {
		size_t r = uf_find(up, i);

		if (group[r] == (size_t)-1)
			group[r] = ngroups++;
		group[i] = group[r];
	}
	return ngroups;
}

/*
 * False dependencies a cut adds: pairs (u in D, v not in D) where u is not
 * an ancestor of v. @p in_d marks D by position; @p rest is the bitset of
 * S \ D over task indices (scratch).
 */
static size_t cut_cost(asl_ctx *c, const uint32_t *set, size_t m,
		       const unsigned char *in_d, uint64_t *rest)
{
	size_t i, w, nd = 0, cross = 0;

	memset(rest, 0, c->words * sizeof(uint64_t));
	for (i = 0; i < m; i++)
		if (!in_d[i])
			bit_set(rest, set[i]);
		else
			nd++;
	for (i = 0; i < m; i++) {
		const uint64_t *row;

		if (!in_d[i])
			continue;
		row = reach_row(c, set[i]);
		for (w = 0; w < c->words; w++)
			cross += (size_t)popcount64(row[w] & rest[w]);
	}
	return nd * (m - nd) - cross;
}

/*
 * How much a cut delays the tasks after it, with every task taking one
 * unit of time: the rest starts when all of D has ended, at D's highest
 * level + 1, where a task of level l could have started at l.
 */
static size_t cut_delay(const asl_ctx *c, const uint32_t *set, size_t m,
			const unsigned char *in_d)
{
	uint32_t end = 0;
	size_t i, delay = 0;

	for (i = 0; i < m; i++)
		if (in_d[i] && c->level[set[i]] + 1 > end)
			end = c->level[set[i]] + 1;
	for (i = 0; i < m; i++)
		if (!in_d[i] && c->level[set[i]] < end)
			delay += end - c->level[set[i]];
	return delay;
}

static size_t decompose(asl_ctx *c, const uint32_t *set, size_t m);

/* Decompose each group of @p set as a child of a new @p kind node. */
static size_t split_groups(asl_ctx *c, enum node_kind kind,
			   const uint32_t *set, size_t m,
			   const size_t *group, size_t ngroups)
{
	uint32_t *sub = orc__malloc(m * sizeof(uint32_t));
	size_t parent = new_node(c, kind, 0), g, i;

	if (!sub) {
		oom(c);
		return 0;
	}
	for (g = 0; g < ngroups && c->st == ORC_OK; g++) {
		size_t k = 0, kid;

		/* set is in topo order, so each group stays in topo order */
		for (i = 0; i < m; i++)
			if (group[i] == g)
				sub[k++] = set[i];
		kid = decompose(c, sub, k);
		add_kid(c, parent, kid);
	}
	orc_free(sub);
	return parent;
}

/* The best cut so far: its keys, and how to rebuild it. */
typedef struct cut_best {
	size_t key[3];
	int kind;       /* 0 down-set of x, 1 not x nor after x, 2 prefix */
	size_t x;       /* the task's position, or the prefix's last index */
	const size_t *order; /* kind 2: positions in prefix order */
} cut_best;

/* Keys compared in order, smaller wins; ties keep the first found. */
static void cut_consider(const asl_ctx *c, cut_best *b, size_t m, size_t nd,
			 size_t cost, size_t delay, int kind, size_t x,
			 const size_t *order)
{
	size_t key[3], k;

	key[0] = cost;
	key[1] = m - (nd < m - nd ? nd : m - nd);
	key[2] = delay;
	if (c->latency_first) {
		key[0] = delay;
		key[1] = cost;
		key[2] = m - (nd < m - nd ? nd : m - nd);
	}
	for (k = 0; k < 3 && key[k] == b->key[k]; k++)
		;
	if (k < 3 && key[k] < b->key[k]) {
		memcpy(b->key, key, sizeof(key));
		b->kind = kind;
		b->x = x;
		b->order = order;
	}
}

static void cut_members(const asl_ctx *c, const uint32_t *set, size_t m,
			int kind, size_t x, const size_t *order,
			unsigned char *in_d)
{
	size_t i;

	for (i = 0; i < m; i++) {
		if (kind == 0) /* ancestors of x, and x */
			in_d[i] = i == x || before(c, set[i], set[x]);
		else if (kind == 1) /* not x nor after x */
			in_d[i] = i != x && !before(c, set[x], set[i]);
		else
			in_d[i] = 0;
	}
	if (kind == 2)
		for (i = 0; i <= x; i++)
			in_d[order[i]] = 1;
}

/*
 * Every proper prefix of @p order (a linear extension of the order on
 * @p set, so each prefix is a down-set), costed incrementally: when x
 * joins D, the pairs (x, v) it does not precede start to count and the
 * pairs (u, x) it did not follow stop. @p hist counts the levels still
 * in the rest, for cut_delay().
 */
static void cut_prefixes(asl_ctx *c, const uint32_t *set, size_t m,
			 const size_t *order, cut_best *b, uint64_t *rest,
			 uint32_t *dlist, size_t *hist)
{
	size_t j, i, w, nd = 0, nrest = m, cost = 0;
	uint32_t end = 0, l;

	memset(rest, 0, c->words * sizeof(uint64_t));
	memset(hist, 0, c->nlevels * sizeof(size_t));
	for (i = 0; i < m; i++) {
		bit_set(rest, set[i]);
		hist[c->level[set[i]]]++;
	}
	for (j = 0; j + 1 < m; j++) {
		uint32_t x = set[order[j]];
		const uint64_t *row = reach_row(c, x);
		size_t after = 0, follows = 0, delay = 0;

		rest[x / 64] &= ~((uint64_t)1 << (x % 64));
		nrest--;
		hist[c->level[x]]--;
		for (w = 0; w < c->words; w++)
			after += (size_t)popcount64(row[w] & rest[w]);
		for (i = 0; i < nd; i++)
			follows += before(c, dlist[i], x);
		cost = cost + (nrest - after) - (nd - follows);
		dlist[nd++] = x;
		if (c->level[x] + 1 > end)
			end = c->level[x] + 1;
		for (l = 0; l < end; l++)
			delay += hist[l] * (end - l);
		cut_consider(c, b, m, nd, cost, delay, 2, j, order);
	}
}

/*
 * The order on @p set is neither a parallel nor a series composition:
 * cut it into a down-set D and the rest, run one after the other. The
 * candidates are each prefix of two linear extensions (topological
 * order; by level, then topological order) and, for sets of up to
 * ASL_FULL_CUT tasks, the down-set of each task and the complement of
 * each task's up-set. "sp" takes the fewest false dependencies, then the
 * most balanced cut, then the least delay (cut_delay()), then the first
 * found; "sp-latency" compares delay, false dependencies, balance.
 */
static size_t cut(asl_ctx *c, const uint32_t *set, size_t m)
{
	unsigned char *in_d = orc__calloc(m, 1);
	uint64_t *rest = orc__calloc(c->words, sizeof(uint64_t));
	size_t *group = orc__malloc(m * sizeof(size_t));
	size_t *topo = orc__malloc(m * sizeof(size_t));
	size_t *bylevel = orc__malloc(m * sizeof(size_t));
	size_t *hist = orc__calloc(c->nlevels + 1, sizeof(size_t));
	uint32_t *dlist = orc__malloc(m * sizeof(uint32_t));
	cut_best b = { { (size_t)-1, (size_t)-1, (size_t)-1 }, 2, 0, NULL };
	size_t x, i, nd, parent = 0, l, k;
	int kind;

	if (!in_d || !rest || !group || !topo || !bylevel || !hist ||
	    !dlist) {
		oom(c);
		goto out;
	}
	c->cuts++;
	if (c->probe)
		goto out;
	for (kind = 0; m <= ASL_FULL_CUT && kind < 2; kind++) {
		for (x = 0; x < m; x++) {
			cut_members(c, set, m, kind, x, NULL, in_d);
			for (nd = 0, i = 0; i < m; i++)
				nd += in_d[i];
			if (nd == 0 || nd == m)
				continue;
			cut_consider(c, &b, m, nd,
				     cut_cost(c, set, m, in_d, rest),
				     cut_delay(c, set, m, in_d), kind, x, NULL);
		}
	}
	/* set is in topological order; bylevel: counting sort, stable */
	for (i = 0; i < m; i++)
		topo[i] = i;
	for (k = 0, l = 0; l < c->nlevels; l++)
		for (i = 0; i < m; i++)
			if (c->level[set[i]] == l)
				bylevel[k++] = i;
	cut_prefixes(c, set, m, topo, &b, rest, dlist, hist);
	cut_prefixes(c, set, m, bylevel, &b, rest, dlist, hist);
	/* m >= 2, so there was at least one candidate */
	cut_members(c, set, m, b.kind, b.x, b.order, in_d);
	for (i = 0; i < m; i++)
		group[i] = in_d[i] ? 0 : 1;
	/* the recursion can go m deep: hold no scratch across it */
	orc_free(in_d);
	orc_free(rest);
	orc_free(topo);
	orc_free(bylevel);
	orc_free(hist);
	orc_free(dlist);
	parent = split_groups(c, NODE_SEQ, set, m, group, 2);
	orc_free(group);
	return parent;
out:
	orc_free(in_d);
	orc_free(rest);
	orc_free(group);
	orc_free(topo);
	orc_free(bylevel);
	orc_free(hist);
	orc_free(dlist);
	return parent;
}

/* Series-parallel decomposition of the order induced on @p set. */
static size_t decompose(asl_ctx *c, const uint32_t *set, size_t m)
{
	size_t *group, *up, ngroups, res = 0;

	if (c->st != ORC_OK || (c->probe && c->cuts))
		return 0;
	if (m == 1)
		return new_node(c, NODE_TASK, set[0]);
	group = orc__malloc(m * sizeof(size_t));
	up = orc__malloc(m * sizeof(size_t));
	if (!group || !up) {
		oom(c);
		goto out;
	}
	ngroups = components(c, set, m, 1, group, up);
	if (ngroups > 1) {
		orc_free(up);
		up = NULL;
		res = split_groups(c, NODE_PAR, set, m, group, ngroups);
		goto out;
	}
	/*
	 * Co-components of a connected order are totally ordered; numbered
	 * by first member in topo order, they are already in that order.
	 */
	ngroups = components(c, set, m, 0, group, up);
	orc_free(up);
	up = NULL;
	if (ngroups > 1) {
		res = split_groups(c, NODE_SEQ, set, m, group, ngroups);
		goto out;
	}
	res = cut(c, set, m);
out:
	orc_free(group);
	orc_free(up);
	return res;
}

static size_t build_sp(asl_ctx *c)
{
	const uint32_t *topo = orc_dag_topo_order(c->dag);

	return decompose(c, topo, c->n);
}

static size_t build_levels(asl_ctx *c)
{
	uint32_t nlevels = 0, l;
	const uint32_t *level = orc_dag_levels(c->dag, &nlevels);
	const uint32_t *topo = orc_dag_topo_order(c->dag);
	size_t seq = new_node(c, NODE_SEQ, 0), i;

	for (l = 0; l < nlevels && c->st == ORC_OK; l++) {
		size_t count = 0, par = 0;

		for (i = 0; i < c->n; i++)
			count += level[topo[i]] == l;
		if (count > 1)
			par = new_node(c, NODE_PAR, 0);
		for (i = 0; i < c->n && c->st == ORC_OK; i++) {
			size_t t;

			if (level[topo[i]] != l)
				continue;
			t = new_node(c, NODE_TASK, topo[i]);
			add_kid(c, count > 1 ? par : seq, t);
		}
		if (count > 1)
			add_kid(c, seq, par);
	}
	return seq;
}

/* Leaf order and each node's range in it. */
static void number_leaves(asl_ctx *c, size_t id)
{
	node *nd = &c->nodes[id];
	size_t k;

	nd->lo = c->nleaves;
	if (nd->kind == NODE_TASK)
		c->leaves[c->nleaves++] = nd->task;
	for (k = 0; k < nd->nkids; k++)
		number_leaves(c, c->nodes[id].kids[k]);
	c->nodes[id].hi = c->nleaves;
}

/*
 * Pairs the tree orders that the DAG does not: in a SEQ, every task of a
 * kid waits for every task of the kids before it.
 */
static size_t count_false(const asl_ctx *c, size_t id)
{
	const node *nd = &c->nodes[id];
	size_t k, total = 0;

	for (k = 0; k < nd->nkids; k++) {
		const node *kid = &c->nodes[nd->kids[k]];
		size_t i, j;

		total += count_false(c, nd->kids[k]);
		if (nd->kind != NODE_SEQ)
			continue;
		for (i = kid->lo; i < kid->hi; i++)
			for (j = kid->hi; j < nd->hi; j++)
				if (!before(c, c->leaves[i], c->leaves[j]))
					total++;
	}
	return total;
}

/* ---- names and keys ---------------------------------------------------- */

/* Next code point of valid UTF-8 at *p; advances *p. */
static uint32_t utf8_next(const char **p)
{
	const unsigned char *s = (const unsigned char *)*p;
	uint32_t cp;
	int extra;

	if (s[0] < 0x80) {
		cp = s[0];
		extra = 0;
	} else if ((s[0] & 0xe0) == 0xc0) {
		cp = s[0] & 0x1f;
		extra = 1;
	} else if ((s[0] & 0xf0) == 0xe0) {
		cp = s[0] & 0x0f;
		extra = 2;
	} else {
		cp = s[0] & 0x07;
		extra = 3;
	}
	for (s++; extra-- > 0 && (*s & 0xc0) == 0x80; s++)
		cp = (cp << 6) | (*s & 0x3f);
	*p = (const char *)s;
	return cp;
}

/*
 * Characters AWS documents as not allowed in names (state names appear in
 * execution history events under that rule): white space, brackets,
 * wildcards, "#%\^|~`$&,;:/ and control characters.
 */
static int name_forbidden(uint32_t cp)
{
	return cp <= 0x20 || (cp >= 0x7f && cp <= 0xa0) ||
		(cp < 0x80 && strchr("<>{}[]?*\"#%\\^|~`$&,;:/", (int)cp)) ||
		cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
		cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
		cp == 0x205f || cp == 0x3000 || cp == 0xfeff ||
		cp == 0xfffe || cp == 0xffff;
}

static int name_is_clean(const char *s)
{
	while (*s)
		if (name_forbidden(utf8_next(&s)))
			return 0;
	return 1;
}

/* @p s with each forbidden character replaced by '_'; *changed set. */
static char *name_sanitize(asl_ctx *c, const char *s, int *changed)
{
	char *out = orc__malloc(strlen(s) + 1), *o = out;
	const char *p = s;

	*changed = 0;
	if (!out) {
		oom(c);
		return NULL;
	}
	while (*p) {
		const char *start = p;

		if (name_forbidden(utf8_next(&p))) {
			*o++ = '_';
			*changed = 1;
		} else {
			memcpy(o, start, (size_t)(p - start));
			o += p - start;
		}
	}
	*o = '\0';
	return out;
}

/*
 * A state name unique in @p used: @p base itself when it is short enough,
 * free and has no forbidden character; otherwise a prefix of it with
 * those characters replaced by '_', "-", 8 hex digits of the hash of
 * @p base and, when even that is taken, "-" and a counter.
 */
static char *unique_name(asl_ctx *c, json_t *used, const char *base,
			 size_t max_cps)
{
	long cps = utf8_len(base);
	char suffix[40], *name = NULL, *clean;
	unsigned k;
	int changed;

	clean = name_sanitize(c, base, &changed);
	if (!clean)
		return NULL;
	if (!changed && cps >= 0 && (size_t)cps <= max_cps &&
	    !json_object_get(used, base))
		name = xstrdup(c, base);
	for (k = 0; !name && c->st == ORC_OK; k++) {
		uint32_t h = (uint32_t)orc__hash_str(base);
		size_t keep;

		if (k == 0)
			snprintf(suffix, sizeof(suffix), "-%08x", (unsigned)h);
		else
			snprintf(suffix, sizeof(suffix), "-%08x-%u",
				 (unsigned)h, k + 1);
		keep = utf8_prefix(clean, max_cps - strlen(suffix));
		name = orc__malloc(keep + strlen(suffix) + 1);
		if (!name) {
			oom(c);
			break;
		}
		memcpy(name, clean, keep);
		strcpy(name + keep, suffix);
		if (json_object_get(used, name)) {
			orc_free(name);
			name = NULL;
		}
	}
	orc_free(clean);
	if (name)
		jset(c, used, name, json_true());
	return name;
}

/*
 * A JSONPath data key unique in c->used_keys: @p base, else base_2,
 * base_3, ... (keys stay [A-Za-z0-9_] so that "$.a.b" paths work).
 */
static char *unique_key(asl_ctx *c, const char *base)
{
	char buf[ASL_KEY_MAX + 24];
	unsigned k;

	snprintf(buf, sizeof(buf), "%s", base);
	for (k = 2; json_object_get(c->used_keys, buf); k++)
		snprintf(buf, sizeof(buf), "%s_%u", base, k);
	jset(c, c->used_keys, buf, json_true());
	return xstrdup(c, buf);
}

/* Task ids usable as a JSONPath member name as they are. */
static int plain_key(const char *id)
{
	size_t i;

	if (!((id[0] >= 'A' && id[0] <= 'Z') ||
	      (id[0] >= 'a' && id[0] <= 'z') || id[0] == '_'))
		return 0;
	for (i = 0; id[i]; i++) {
		char ch = id[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return 0;
	}
	return i <= ASL_KEY_MAX;
}

static const char *task_id(asl_ctx *c, size_t t)
{
	orc_task_spec spec = ORC_TASK_SPEC_INIT;

	orc_dag_task_get(&spec, c->dag, t, NULL);
	return spec.id;
}

static void assign_names(asl_ctx *c)
{
	size_t t;
	char buf[32];

	c->names = orc__calloc(c->n, sizeof(char *));
	c->keys = orc__calloc(c->n, sizeof(char *));
	c->paths = orc__calloc(c->n, sizeof(char *));
	c->used_names = jobj(c);
	c->used_keys = jobj(c);
	if (!c->names || !c->keys || !c->paths) {
		oom(c);
		return;
	}
	/* the input's key first: tasks named "input" get another one */
	c->input_key = unique_key(c, "input");
	/* ids that are valid names as they are: claim them first */
	for (t = 0; t < c->n && c->st == ORC_OK; t++) {
		const char *id = task_id(c, t);
		long cps = utf8_len(id);

		if (cps > 0 && cps <= ASL_NAME_MAX && name_is_clean(id))
			c->names[t] = unique_name(c, c->used_names, id,
						  ASL_NAME_MAX);
		if (plain_key(id) && !json_object_get(c->used_keys, id))
			c->keys[t] = unique_key(c, id);
	}
	for (t = 0; t < c->n && c->st == ORC_OK; t++) {
		if (!c->names[t])
			c->names[t] = unique_name(c, c->used_names,
						  task_id(c, t), ASL_NAME_MAX);
		if (!c->keys[t]) {
			snprintf(buf, sizeof(buf), "t%zu", t);
			c->keys[t] = unique_key(c, buf);
		}
		if (c->keys[t])
			c->paths[t] = xstrdup(c, c->keys[t]);
	}
}

/* ---- states ------------------------------------------------------------ */

static json_t *retry_json(asl_ctx *c, const orc_retry_policy *r)
{
	json_t *arr = jarr(c), *o = jobj(c), *errs = jarr(c);
	int64_t interval_s = (r->interval_ms + 999) / 1000;

	/* ASL: IntervalSeconds is a whole number >= 1 */
	if (interval_s < 1)
		interval_s = 1;
	jpush(c, errs, jstr(c, "States.ALL"));
	jset(c, o, "ErrorEquals", errs);
	jset(c, o, "IntervalSeconds", jint(c, interval_s));
	/* our max_attempts counts the first attempt; ASL counts retries */
	jset(c, o, "MaxAttempts", jint(c, r->max_attempts - 1));
	jset(c, o, "BackoffRate", json_real(r->backoff_rate));
	if (r->max_delay_ms > 0)
		jset(c, o, "MaxDelaySeconds",
		     jint(c, (r->max_delay_ms + 999) / 1000));
	jset(c, o, "JitterStrategy",
	     jstr(c, r->jitter == ORC_JITTER_FULL ? "FULL" : "NONE"));
	jpush(c, arr, o);
	return arr;
}

/* The payload the library's worker gives a task, as a template. */
static json_t *payload_json(asl_ctx *c, size_t t, int raw)
{
	json_t *p = jobj(c), *deps = jobj(c);
	char *val;
	const uint32_t *dl;
	size_t nd = orc_dag_deps(&dl, c->dag, t), k;

	if (c->jsonata) {
		jset(c, p, "workflowId",
		     jstr(c, "{% $states.context.Execution.Name %}"));
		jset(c, p, "taskId", jliteral(c, task_id(c, t)));
		jset(c, p, "attempt",
		     jstr(c, "{% $states.context.State.RetryCount + 1 %}"));
		jset(c, p, "input",
		     jstr(c, "{% $states.context.Execution.Input %}"));
	} else {
		jset(c, p, "workflowId.$", jstr(c, "$$.Execution.Name"));
		jset(c, p, "taskId", jstr(c, task_id(c, t)));
		jset(c, p, "attempt.$",
		     jstr(c, "States.MathAdd($$.State.RetryCount, 1)"));
		/*
		 * Not "$$.Execution.Input": aws-local-stepfunctions 3 gives
		 * Parallel branches their branch input there. The first
		 * state, whose input is the execution input, copies it
		 * into the state data.
		 */
		val = raw ? xstrdup(c, "$") :
			xfmt(c, "$.%s", c->input_key, NULL);
		if (val)
			jset(c, p, "input.$", jstr(c, val));
		orc_free(val);
	}
	for (k = 0; k < nd && c->st == ORC_OK; k++) {
		const char *dep = task_id(c, dl[k]);
		char *key;

		if (c->jsonata) {
			char *lit = json_literal(c, dep);

			key = xstrdup(c, dep);
			val = lit ? xfmt(c, "{%% $lookup($states.input, %s) "
					 "%%}", lit, NULL) : NULL;
			orc_free(lit);
		} else {
			/* "<id>.$": any id works, the ".$" is stripped */
			key = xfmt(c, "%s.$", dep, NULL);
			val = xfmt(c, "$.%s.output", c->paths[dl[k]], NULL);
		}
		if (key && val)
			jset(c, deps, key, jstr(c, val));
		orc_free(key);
		orc_free(val);
	}
	jset(c, p, "dependencies", deps);
	return p;
}

/* Options of version 1 have no fail_states: the default. */
static orc_asl_fail_states fail_states(const orc_asl_options *o)
{
	return o->version >= 2 ? o->fail_states : ORC_ASL_FAIL_PER_TASK;
}

static void add_fail_state(asl_ctx *c, json_t *states, json_t *task_state,
			   size_t t)
{
	char *base = xfmt(c, "Failed-%s", c->names[t], NULL);
	char *name = base ? unique_name(c, c->used_names, base,
					ASL_NAME_MAX) : NULL;
	char *cause = xfmt(c, "task \"%s\" failed", task_id(c, t), NULL);
	json_t *f = jobj(c), *catch_arr = jarr(c), *catcher = jobj(c),
	       *errs = jarr(c);

	jset(c, f, "Type", jstr(c, "Fail"));
	jset(c, f, "Error", jstr(c, ASL_FAIL_ERROR));
	if (cause)
		jset(c, f, "Cause", jstr(c, cause));
	if (name)
		jset(c, states, name, f);
	else
		json_decref(f);
	jpush(c, errs, jstr(c, "States.ALL"));
	jset(c, catcher, "ErrorEquals", errs);
	if (name)
		jset(c, catcher, "Next", jstr(c, name));
	jpush(c, catch_arr, catcher);
	jset(c, task_state, "Catch", catch_arr);
	c->nfail++;
	orc_free(base);
	orc_free(name);
	orc_free(cause);
}

static json_t *task_state(asl_ctx *c, json_t *states, size_t t, int raw)
{
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	json_t *s = jobj(c), *args = jobj(c), *payload;
	const char *function = NULL;
	int activity = 0;

	orc_dag_task_get(&spec, c->dag, t, NULL);
	if (spec.target_kind == ORC_TARGET_LAMBDA && spec.target) {
		function = spec.target;
	} else if (c->opts->default_resource) {
		function = c->opts->default_resource;
		activity = c->default_is_activity;
	} else {
		fail(c, ORC_EINVAL, "task \"%s\" is not a Lambda task: Step "
		     "Functions can only run it through a default resource, "
		     "a Lambda function or activity ARN "
		     "(orc_asl_options.default_resource; orchestra asl "
		     "--default-resource)", spec.id);
		json_decref(s);
		json_decref(args);
		return NULL;
	}
	jset(c, s, "Type", jstr(c, "Task"));
	if (strcmp(c->names[t], spec.id) != 0) {
		char *comment = xfmt(c, "task %s", spec.id, NULL);

		if (comment)
			jset(c, s, "Comment", jstr(c, comment));
		orc_free(comment);
	}
	payload = payload_json(c, t, raw);
	if (activity) {
		jset(c, s, "Resource", jstr(c, function));
		json_decref(args);
		args = payload;
	} else {
		jset(c, s, "Resource",
		     jstr(c, "arn:aws:states:::lambda:invoke"));
		jset(c, args, "FunctionName", jliteral(c, function));
		jset(c, args, "Payload", payload);
	}
	if (c->jsonata) {
		char *lit = json_literal(c, spec.id), *out;
		const char *result = activity ? "$states.result" :
			"$states.result.Payload";
		char *pair = lit ? xfmt(c, "{%s: %s}", lit, result) : NULL;

		jset(c, s, "Arguments", args);
		if (raw)
			out = pair ? xfmt(c, "{%% %s %%}", pair, NULL) : NULL;
		else
			out = pair ? xfmt(c, "{%% $merge([$states.input, %s]) "
					  "%%}", pair, NULL) : NULL;
		if (out)
			jset(c, s, "Output", jstr(c, out));
		orc_free(lit);
		orc_free(pair);
		orc_free(out);
	} else {
		json_t *sel = jobj(c);
		char *rp, *in_sel = xfmt(c, "%s.$", c->input_key, NULL);

		jset(c, s, "Parameters", args);
		/* keep the function's result only, no invoke metadata */
		jset(c, sel, "output.$",
		     jstr(c, activity ? "$" : "$.Payload"));
		if (raw) {
			/*
			 * The execution input may not be an object: start one.
			 * No ResultPath: its default, "$", replaces the input
			 * (aws-local-stepfunctions 3 mishandles "$" given).
			 */
			json_t *wrap = jobj(c);

			jset(c, wrap, c->keys[t], sel);
			jset(c, wrap, in_sel, jstr(c, "$$.Execution.Input"));
			jset(c, s, "ResultSelector", wrap);
		} else {
			rp = xfmt(c, "$.%s", c->keys[t], NULL);
			jset(c, s, "ResultSelector", sel);
			if (rp)
				jset(c, s, "ResultPath", jstr(c, rp));
			orc_free(rp);
		}
		orc_free(in_sel);
	}
	if (spec.timeout_ms > 0)
		jset(c, s, "TimeoutSeconds",
		     jint(c, (spec.timeout_ms + 999) / 1000));
	if (spec.retry.max_attempts > 1)
		jset(c, s, "Retry", retry_json(c, &spec.retry));
	if (fail_states(c->opts) == ORC_ASL_FAIL_PER_TASK)
		add_fail_state(c, states, s, t);
	return s;
}

static char *emit_sequence(asl_ctx *c, size_t id, json_t *states, int raw,
			   json_t *new_keys);

static json_t *parallel_state(asl_ctx *c, size_t id, int raw, char **key_out,
			      char **name_out)
{
	node *nd = &c->nodes[id];
	json_t *s = jobj(c), *branches = jarr(c), *sel = jobj(c);
	char buf[32], *pkey, *jsonata_out = NULL;
	size_t k, i, num = ++c->nparallel;

	snprintf(buf, sizeof(buf), "Parallel-%zu", num);
	*name_out = unique_name(c, c->used_names, buf, ASL_NAME_MAX);
	snprintf(buf, sizeof(buf), "p%zu", num);
	pkey = c->jsonata ? NULL : unique_key(c, buf);
	jset(c, s, "Type", jstr(c, "Parallel"));
	for (k = 0; k < nd->nkids && c->st == ORC_OK; k++) {
		json_t *b = jobj(c), *bstates = jobj(c), *keys = jarr(c);
		char *start;

		start = emit_sequence(c, c->nodes[id].kids[k], bstates, raw,
				      keys);
		if (start)
			jset(c, b, "StartAt", jstr(c, start));
		jset(c, b, "States", bstates);
		jpush(c, branches, b);
		for (i = 0; !c->jsonata && i < json_array_size(keys); i++) {
			const char *key = json_string_value(
				json_array_get(keys, i));
			char from[48];
			char *src, *dst;

			snprintf(from, sizeof(from), "$[%zu].", k);
			src = xfmt(c, "%s%s", from, key);
			dst = xfmt(c, "%s.$", key, NULL);
			if (src && dst)
				jset(c, sel, dst, jstr(c, src));
			orc_free(src);
			orc_free(dst);
		}
		json_decref(keys);
		orc_free(start);
	}
	jset(c, s, "Branches", branches);
	nd = &c->nodes[id];
	if (c->jsonata) {
		json_decref(sel);
		/* every branch's output is the input plus its tasks' outputs */
		jsonata_out = xstrdup(c, "{% $merge($states.result) %}");
		if (jsonata_out)
			jset(c, s, "Output", jstr(c, jsonata_out));
		orc_free(jsonata_out);
	} else if (pkey) {
		/* tasks inside now live under this block's key */
		for (i = nd->lo; i < nd->hi && c->st == ORC_OK; i++) {
			uint32_t t = c->leaves[i];
			char *p = xfmt(c, "%s.%s", pkey, c->paths[t]);

			if (p) {
				orc_free(c->paths[t]);
				c->paths[t] = p;
			}
		}
		if (raw) {
			json_t *wrap = jobj(c);

			/* replaces the input: see task_state() */
			char *in_sel = xfmt(c, "%s.$", c->input_key, NULL);
			char *in_src = xfmt(c, "$[0].%s", c->input_key, NULL);

			jset(c, wrap, pkey, sel);
			if (in_sel && in_src)
				jset(c, wrap, in_sel, jstr(c, in_src));
			jset(c, s, "ResultSelector", wrap);
			orc_free(in_sel);
			orc_free(in_src);
		} else {
			char *rp = xfmt(c, "$.%s", pkey, NULL);

			jset(c, s, "ResultSelector", sel);
			if (rp)
				jset(c, s, "ResultPath", jstr(c, rp));
			orc_free(rp);
		}
	} else {
		json_decref(sel);
	}
	*key_out = pkey;
	return s;
}

/*
 * Emit node @p id (a SEQ, or one item) as a chain of states in @p states.
 * Returns the name of the first state (caller frees). Appends the data
 * keys this chain adds to @p new_keys (JSONPath only).
 */
static char *emit_sequence(asl_ctx *c, size_t id, json_t *states, int raw,
			   json_t *new_keys)
{
	size_t nitems = c->nodes[id].kind == NODE_SEQ ?
		c->nodes[id].nkids : 1, i;
	json_t *prev = NULL;
	char *first = NULL;

	for (i = 0; i < nitems && c->st == ORC_OK; i++) {
		size_t item = c->nodes[id].kind == NODE_SEQ ?
			c->nodes[id].kids[i] : id;
		int item_raw = raw && i == 0;
		json_t *s;
		const char *name;
		char *pname = NULL, *key = NULL;

		if (c->nodes[item].kind == NODE_TASK) {
			uint32_t t = c->nodes[item].task;

			s = task_state(c, states, t, item_raw);
			name = c->names[t];
			key = c->jsonata ? NULL : xstrdup(c, c->keys[t]);
		} else {
			s = parallel_state(c, item, item_raw, &key, &pname);
			name = pname;
		}
		if (!s || !name) {
			json_decref(s);
			orc_free(pname);
			orc_free(key);
			break;
		}
		if (key)
			jpush(c, new_keys, jstr(c, key));
		if (prev)
			jset(c, prev, "Next", jstr(c, name));
		else
			first = xstrdup(c, name);
		jset(c, states, name, s);
		prev = s;
		orc_free(pname);
		orc_free(key);
	}
	if (prev && c->st == ORC_OK)
		jset(c, prev, "End", json_true());
	return first;
}

/* Move the Fail states after the flow states: easier to read. */
static void fails_last(asl_ctx *c, json_t *states)
{
	json_t *fails = jobj(c), *v;
	const char *key;
	void *tmp;

	if (!fails)
		return;
	json_object_foreach_safe(states, tmp, key, v) {
		const char *type =
			json_string_value(json_object_get(v, "Type"));

		if (type && strcmp(type, "Fail") == 0) {
			json_object_set(fails, key, v);
			json_object_del(states, key);
		} else if (type && strcmp(type, "Parallel") == 0) {
			size_t i;
			json_t *b;

			json_array_foreach(json_object_get(v, "Branches"), i, b)
				fails_last(c, json_object_get(b, "States"));
		}
	}
	if (json_object_update(states, fails) != 0)
		oom(c);
	json_decref(fails);
}

/* ---- public API -------------------------------------------------------- */

/* Sizes of each version; see orc__struct_init(). */
static const size_t asl_options_ends[] = {
	0, offsetof(orc_asl_options, fail_states), sizeof(orc_asl_options)
};
ORC__ENDS_CHECK(asl_options_ends, ORC_ASL_OPTIONS_VERSION);

ORC_API orc_status orc_asl_options_init(orc_asl_options *opts,
					unsigned int version)
{
	static const orc_asl_options def = ORC_ASL_OPTIONS_INIT;

	return orc__struct_init(opts, &def, version, asl_options_ends,
				sizeof(asl_options_ends) /
				sizeof(asl_options_ends[0]));
}

ORC_API const char *orc_asl_strategy_name(orc_asl_strategy strategy)
{
	switch (strategy) {
	case ORC_ASL_STRATEGY_SP:
		return "sp";
	case ORC_ASL_STRATEGY_LEVELS:
		return "levels";
	case ORC_ASL_STRATEGY_SP_LATENCY:
		return "sp-latency";
	}
	return NULL;
}

ORC_API orc_status orc_asl_strategy_parse(orc_asl_strategy *out,
					  const char *name, orc_error *err)
{
	ORC_CHECK_ARG(out != NULL, err);
	ORC_CHECK_ARG(name != NULL, err);
	if (strcmp(name, "sp") == 0)
		*out = ORC_ASL_STRATEGY_SP;
	else if (strcmp(name, "levels") == 0)
		*out = ORC_ASL_STRATEGY_LEVELS;
	else if (strcmp(name, "sp-latency") == 0)
		*out = ORC_ASL_STRATEGY_SP_LATENCY;
	else
		return orc_error_set(err, ORC_EINVAL,
				     "unknown ASL strategy \"%s\" (use sp, "
				     "sp-latency or levels)", name);
	return ORC_OK;
}

static int is_activity_arn(const char *arn)
{
	return strncmp(arn, "arn:", 4) == 0 && strstr(arn, ":activity:");
}

static orc_status check_options(const orc_asl_options *o, orc_error *err)
{
	if (o->version == 0 || o->version > ORC_ASL_OPTIONS_VERSION)
		return orc_error_set(err, ORC_EINVAL,
				     "orc_asl_options.version %u unknown "
				     "(this library knows up to %d)",
				     o->version, ORC_ASL_OPTIONS_VERSION);
	if (!orc_asl_strategy_name(o->strategy))
		return orc_error_set(err, ORC_EINVAL,
				     "orc_asl_options.strategy %d unknown",
				     (int)o->strategy);
	if (o->query_language != ORC_ASL_JSONPATH &&
	    o->query_language != ORC_ASL_JSONATA)
		return orc_error_set(err, ORC_EINVAL,
				     "orc_asl_options.query_language %d "
				     "unknown",
				     (int)o->query_language);
	if (o->type != ORC_ASL_STANDARD && o->type != ORC_ASL_EXPRESS)
		return orc_error_set(err, ORC_EINVAL,
				     "orc_asl_options.type %d unknown",
				     (int)o->type);
	if (o->version >= 2 && o->fail_states != ORC_ASL_FAIL_PER_TASK &&
	    o->fail_states != ORC_ASL_FAIL_NONE)
		return orc_error_set(err, ORC_EINVAL,
				     "orc_asl_options.fail_states %d unknown",
				     (int)o->fail_states);
	if (o->default_resource && !o->default_resource[0])
		return orc_error_set(err, ORC_EINVAL,
				     "orc_asl_options.default_resource is "
				     "empty");
	if (o->default_resource && o->type == ORC_ASL_EXPRESS &&
	    is_activity_arn(o->default_resource))
		return orc_error_set(err, ORC_EINVAL,
				     "Express workflows cannot run activities "
				     "(%s)", o->default_resource);
	return ORC_OK;
}

static char *top_comment(asl_ctx *c, const orc_asl_report *r)
{
	char head[512];
	const char *wf = c->opts->workflow_id;
	char *base, *full;

	snprintf(head, sizeof(head), "liborchestra %s: %s workflow, strategy "
		 "%s, tasks: %zu, Parallel states: %zu, series-parallel: %s, "
		 "false dependencies: %zu",
		 orc_version(),
		 c->opts->type == ORC_ASL_EXPRESS ? "EXPRESS" : "STANDARD",
		 orc_asl_strategy_name(r->strategy), r->task_states,
		 r->parallel_states, r->series_parallel ? "yes" : "no",
		 r->false_dependencies);
	base = wf ? xfmt(c, "%s; workflow \"%s\"", head, wf) :
		xstrdup(c, head);
	if (!base || !c->opts->comment)
		return base;
	full = xfmt(c, "%s. %s", base, c->opts->comment);
	orc_free(base);
	return full;
}

static void ctx_free(asl_ctx *c)
{
	size_t i;

	for (i = 0; i < c->nnodes; i++)
		orc_free(c->nodes[i].kids);
	orc_free(c->nodes);
	for (i = 0; i < c->n; i++) {
		if (c->names)
			orc_free(c->names[i]);
		if (c->keys)
			orc_free(c->keys[i]);
		if (c->paths)
			orc_free(c->paths[i]);
	}
	orc_free(c->names);
	orc_free(c->keys);
	orc_free(c->paths);
	orc_free(c->input_key);
	orc_free(c->reach);
	orc_free(c->leaves);
	json_decref(c->used_names);
	json_decref(c->used_keys);
}

ORC_API orc_status orc_asl_emit(char **json_out, orc_asl_report *report_out,
				const orc_dag *dag,
				const orc_asl_options *opts, orc_error *err)
{
	orc_asl_options defaults = ORC_ASL_OPTIONS_INIT;
	asl_ctx c;
	orc_asl_report rep;
	size_t root, sp_root;
	json_t *machine = NULL, *states = NULL, *keys = NULL;
	char *start = NULL, *comment = NULL, *text = NULL;
	orc_status st;

	ORC_CHECK_ARG(json_out != NULL, err);
	*json_out = NULL;
	ORC_CHECK_ARG(dag != NULL, err);
	if (!opts)
		opts = &defaults;
	if ((st = check_options(opts, err)) != ORC_OK)
		return st;
	if (!orc_dag_is_valid(dag))
		return orc_error_set(err, ORC_EINVAL, "the DAG is not "
				     "validated: call orc_dag_validate() "
				     "first");
	memset(&c, 0, sizeof(c));
	memset(&rep, 0, sizeof(rep));
	c.dag = dag;
	c.opts = opts;
	c.err = err;
	c.n = orc_dag_task_count(dag);
	c.jsonata = opts->query_language == ORC_ASL_JSONATA;
	c.default_is_activity = opts->default_resource &&
		is_activity_arn(opts->default_resource);
	c.level = orc_dag_levels(dag, &c.nlevels);
	c.latency_first = opts->strategy == ORC_ASL_STRATEGY_SP_LATENCY;
	c.leaves = orc__calloc(c.n, sizeof(uint32_t));
	if (!c.leaves)
		oom(&c);
	if (c.st == ORC_OK)
		build_reach(&c);
	/*
	 * The "sp" tree tells whether the order is series-parallel; for
	 * "levels", a probe that stops at the first cut says as much.
	 */
	c.probe = opts->strategy == ORC_ASL_STRATEGY_LEVELS;
	sp_root = build_sp(&c);
	c.probe = 0;
	rep.series_parallel = c.cuts == 0;
	rep.strategy = opts->strategy;
	root = opts->strategy == ORC_ASL_STRATEGY_LEVELS ? build_levels(&c) :
		sp_root;
	if (c.st == ORC_OK) {
		number_leaves(&c, root);
		rep.false_dependencies = count_false(&c, root);
	}
	/*
	 * The greedy cuts can lose to plain levels on large, dense DAGs;
	 * levels delays no task past its level either, so both "sp"
	 * strategies fall back to it when it has fewer false dependencies
	 * (and the report says so).
	 */
	if (c.st == ORC_OK && !rep.series_parallel &&
	    opts->strategy != ORC_ASL_STRATEGY_LEVELS) {
		size_t lv = build_levels(&c), lv_false;

		c.nleaves = 0;
		if (c.st == ORC_OK) {
			number_leaves(&c, lv);
			lv_false = count_false(&c, lv);
			if (lv_false < rep.false_dependencies) {
				root = lv;
				rep.false_dependencies = lv_false;
				rep.strategy = ORC_ASL_STRATEGY_LEVELS;
			} else {
				c.nleaves = 0;
				number_leaves(&c, root);
			}
		}
	}
	if (c.st == ORC_OK)
		assign_names(&c);
	machine = jobj(&c);
	states = jobj(&c);
	keys = jarr(&c);
	if (c.st == ORC_OK)
		start = emit_sequence(&c, root, states, 1, keys);
	rep.task_states = c.n;
	rep.parallel_states = c.nparallel;
	rep.fail_states = c.nfail;
	rep.states = c.n + c.nparallel + c.nfail;
	if (c.st == ORC_OK)
		comment = top_comment(&c, &rep);
	if (comment)
		jset(&c, machine, "Comment", jstr(&c, comment));
	if (c.jsonata)
		jset(&c, machine, "QueryLanguage", jstr(&c, "JSONata"));
	if (start)
		jset(&c, machine, "StartAt", jstr(&c, start));
	if (c.st == ORC_OK)
		fails_last(&c, states);
	json_incref(states);
	jset(&c, machine, "States", states);
	if (c.st == ORC_OK) {
		char *dumped = json_dumps(machine, JSON_INDENT(2));

		/* orc_free() frees what the library returns: copy */
		if (!dumped || !(text = orc__strndup(dumped, strlen(dumped))))
			oom(&c);
		free(dumped);
	}
	json_decref(states);
	json_decref(machine);
	json_decref(keys);
	orc_free(start);
	orc_free(comment);
	st = c.st;
	ctx_free(&c);
	if (st != ORC_OK) {
		orc_free(text);
		return st;
	}
	*json_out = text;
	if (report_out)
		*report_out = rep;
	return ORC_OK;
}
