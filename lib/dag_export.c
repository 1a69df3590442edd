/*
 * DOT and Mermaid text for a validated DAG. Edges point from a
 * dependency to its dependent (the direction work flows). Colours by
 * state, the same in both formats:
 *   PENDING #e0e0e0, READY #add8e6, RUNNING #ffd700,
 *   SUCCEEDED #98fb98, FAILED #fa8072, CANCELED #a9a9a9.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "orchestra/dag.h"

static const char *const state_colour[ORC_TASK_STATE_COUNT] = {
	"#e0e0e0", "#add8e6", "#ffd700", "#98fb98", "#fa8072", "#a9a9a9"
};

static const char *const state_class[ORC_TASK_STATE_COUNT] = {
	"pending", "ready", "running", "succeeded", "failed", "canceled"
};

struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

static void add_n(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		char *np;

		while (nc < b->len + n + 1)
			nc *= 2;
		np = orc__realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void add(struct buf *b, const char *s)
{
	add_n(b, s, strlen(s));
}

static void addf(struct buf *b, const char *fmt, ...) ORC_PRINTF(2, 3);

static void addf(struct buf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		add_n(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n
						       : sizeof(tmp) - 1);
}

/* A DOT quoted string: backslash and double quote are escaped; ids have
 * no control characters (orc_dag_check_id). */
static void add_dot_id(struct buf *b, const char *id)
{
	add(b, "\"");
	for (; *id; id++) {
		if (*id == '"' || *id == '\\')
			add(b, "\\");
		add_n(b, id, 1);
	}
	add(b, "\"");
}

/* Mermaid labels use entity codes; '#' never occurs in an id, so the
 * codes cannot be confused with the text. */
static void add_mermaid_label(struct buf *b, const char *id)
{
	add(b, "\"");
	for (; *id; id++) {
		switch (*id) {
		case '"':
			add(b, "#quot;");
			break;
		case '<':
			add(b, "#lt;");
			break;
		case '>':
			add(b, "#gt;");
			break;
		case '&':
			add(b, "#amp;");
			break;
		default:
			add_n(b, id, 1);
		}
	}
	add(b, "\"");
}

static int state_of(orc_dag_state_fn fn, void *payload, const char *id)
{
	int s;

	if (!fn)
		return -1;
	s = fn(id, payload);
	return s >= 0 && s < ORC_TASK_STATE_COUNT ? s : -1;
}

static const char *id_of(const orc_dag *dag, size_t i)
{
	orc_task_spec s = ORC_TASK_SPEC_INIT;

	orc_dag_task_get(&s, dag, i, NULL);
	return s.id;
}

/* One walk for both formats: nodes in index order, then the edges of
 * each task in the order its dependencies were added. */
static orc_status export(char **text_out, const orc_dag *dag, int mermaid,
			 orc_dag_state_fn state_fn, void *payload,
			 orc_error *err)
{
	struct buf b = { NULL, 0, 0, 0 };
	size_t i, k, n, nd;
	const uint32_t *deps;

	ORC_CHECK_ARG(text_out != NULL, err);
	*text_out = NULL;
	ORC_CHECK_ARG(dag != NULL, err);
	if (!orc_dag_is_valid(dag))
		return orc_error_set(err, ORC_EINVAL, "DAG is not validated");
	n = orc_dag_task_count(dag);
	add(&b, mermaid ? "flowchart TD\n"
			: "digraph workflow {\n\tnode [shape=box];\n");
	for (i = 0; i < n; i++) {
		const char *id = id_of(dag, i);
		int s = state_of(state_fn, payload, id);

		if (mermaid) {
			addf(&b, "    n%zu[", i);
			add_mermaid_label(&b, id);
			add(&b, "]");
			if (s >= 0)
				addf(&b, ":::%s", state_class[s]);
			add(&b, "\n");
			continue;
		}
		add(&b, "\t");
		add_dot_id(&b, id);
		if (s >= 0)
			addf(&b, " [style=filled, fillcolor=\"%s\"]",
			     state_colour[s]);
		add(&b, ";\n");
	}
	for (i = 0; i < n; i++) {
		nd = orc_dag_deps(&deps, dag, i);
		for (k = 0; k < nd; k++) {
			if (mermaid) {
				addf(&b, "    n%u --> n%zu\n",
				     (unsigned)deps[k], i);
				continue;
			}
			add(&b, "\t");
			add_dot_id(&b, id_of(dag, deps[k]));
			add(&b, " -> ");
			add_dot_id(&b, id_of(dag, i));
			add(&b, ";\n");
		}
	}
	if (mermaid && state_fn)
		for (i = 0; i < ORC_TASK_STATE_COUNT; i++)
			addf(&b, "    classDef %s fill:%s\n", state_class[i],
			     state_colour[i]);
	if (!mermaid)
		add(&b, "}\n");
	if (b.oom) {
		free(b.p);
		return orc_error_set(err, ORC_ENOMEM,
				     "out of memory exporting DAG");
	}
	*text_out = b.p;
	return ORC_OK;
}

ORC_API orc_status orc_dag_to_dot(char **text_out, const orc_dag *dag,
				  orc_dag_state_fn state_fn, void *payload,
				  orc_error *err)
{
	return export(text_out, dag, 0, state_fn, payload, err);
}

ORC_API orc_status orc_dag_to_mermaid(char **text_out, const orc_dag *dag,
				      orc_dag_state_fn state_fn, void *payload,
				      orc_error *err)
{
	return export(text_out, dag, 1, state_fn, payload, err);
}
