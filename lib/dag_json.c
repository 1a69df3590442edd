/*
 * Workflow definitions as JSON: the liborchestra format and the seed
 * system's StartWorkflowRequest (docs/workflow-format.md), and the
 * deterministic serializer. Built on the public DAG API only.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "orchestra/dag.h"

/* Re-set @p err with @p prefix before the message already in it. */
static orc_status prefixed(orc_error *err, orc_status st, const char *prefix)
{
	char msg[sizeof(err->message)];

	if (!err)
		return st;
	memcpy(msg, err->message, sizeof(msg));
	return orc_error_set(err, st, "%s: %s", prefix, msg);
}

static const char *const retry_keys[] = {
	"maxAttempts", "intervalMs", "backoffRate", "maxDelayMs", "jitter",
	NULL
};

static int key_in(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(key, *list) == 0)
			return 1;
	return 0;
}

static orc_status get_ms(int64_t *out, json_t *v, const char *ctx,
			 const char *field, orc_error *err)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > ORC__MAX_MS)
		return orc_error_set(err, ORC_EINVAL,
				     "%s: \"%s\" must be an integer >= 0 "
				     "and <= " ORC__MAX_MS_TEXT, ctx, field);
	*out = (int64_t)json_integer_value(v);
	return ORC_OK;
}

/* Fields present in @p obj override those already in @p p. */
static orc_status parse_retry(orc_retry_policy *p, json_t *obj,
			      const char *ctx, orc_error *err)
{
	const char *key;
	json_t *v;
	orc_status st;

	if (!json_is_object(obj))
		return orc_error_set(err, ORC_EINVAL,
				     "%s: \"retry\" must be an object", ctx);
	json_object_foreach(obj, key, v) {
		if (!key_in(key, retry_keys))
			return orc_error_set(err, ORC_EINVAL,
					     "%s: unknown key \"%s\" in retry",
					     ctx, key);
	}
	if ((v = json_object_get(obj, "maxAttempts"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > ORC__MAX_ATTEMPTS)
			return orc_error_set(err, ORC_EINVAL,
					     "%s: retry.maxAttempts must be "
					     "an integer >= 1 and <= %d", ctx,
					     ORC__MAX_ATTEMPTS);
		p->max_attempts = (int32_t)json_integer_value(v);
	}
	if ((v = json_object_get(obj, "intervalMs")) &&
	    (st = get_ms(&p->interval_ms, v, ctx, "retry.intervalMs",
			 err)) != ORC_OK)
		return st;
	if ((v = json_object_get(obj, "maxDelayMs")) &&
	    (st = get_ms(&p->max_delay_ms, v, ctx, "retry.maxDelayMs",
			 err)) != ORC_OK)
		return st;
	if ((v = json_object_get(obj, "backoffRate"))) {
		if (!json_is_number(v) || !(json_number_value(v) >= 1.0 &&
		    json_number_value(v) <= ORC__MAX_BACKOFF_RATE))
			return orc_error_set(err, ORC_EINVAL,
					     "%s: retry.backoffRate must be "
					     "a number >= 1.0 and <= 100", ctx);
		p->backoff_rate = json_number_value(v);
	}
	if ((v = json_object_get(obj, "jitter"))) {
		const char *s = json_string_value(v);

		if (s && strcmp(s, "NONE") == 0)
			p->jitter = ORC_JITTER_NONE;
		else if (s && strcmp(s, "FULL") == 0)
			p->jitter = ORC_JITTER_FULL;
		else
			return orc_error_set(err, ORC_EINVAL,
					     "%s: retry.jitter must be "
					     "\"NONE\" or \"FULL\"", ctx);
	}
	if ((st = orc_retry_policy_check(p, err)) != ORC_OK)
		return prefixed(err, st, ctx);
	return ORC_OK;
}

struct defaults {
	orc_retry_policy retry;
	int64_t timeout_ms;
};

static orc_status add_deps(orc_dag *dag, const char *id, json_t *deps,
			   orc_error *err)
{
	size_t i;
	json_t *v;
	orc_status st;
	char ctx[ORC_ID_MAX + 16];

	if (!deps)
		return ORC_OK;
	if (!json_is_array(deps))
		return orc_error_set(err, ORC_EINVAL,
				     "task %s: \"dependsOn\" must be an array "
				     "of task ids", id);
	json_array_foreach(deps, i, v) {
		if (!json_is_string(v))
			return orc_error_set(err, ORC_EINVAL,
					     "task %s: dependsOn[%zu] must be "
					     "a string", id, i);
		if ((st = orc_dag_add_dep(dag, id, json_string_value(v),
					  err)) != ORC_OK) {
			if (st != ORC_EINVAL ||
			    strcmp(id, json_string_value(v)) == 0)
				return st;
			snprintf(ctx, sizeof(ctx), "task %s: dependsOn[%zu]",
				 id, i);
			return prefixed(err, st, ctx);
		}
	}
	return ORC_OK;
}

static orc_status task_id_of(const char **id_out, json_t *v, const char *what,
			     size_t i, orc_error *err)
{
	orc_status st;
	char ctx[64];

	if (!v)
		return orc_error_set(err, ORC_EINVAL, "%s[%zu]: \"%s\" is "
				     "missing", what,
				     i, strcmp(what, "graph") ? "id" : "taskId");
	if (!json_is_string(v))
		return orc_error_set(err, ORC_EINVAL,
				     "%s[%zu]: task id must be a string",
				     what, i);
	if ((st = orc_dag_check_id(json_string_value(v), err)) != ORC_OK) {
		snprintf(ctx, sizeof(ctx), "%s[%zu]", what, i);
		return prefixed(err, st, ctx);
	}
	*id_out = json_string_value(v);
	return ORC_OK;
}

/* Refuse unknown keys (typos), then start from the defaults. */
static orc_status start_spec(orc_task_spec *spec, json_t *t, const char *id,
			     const char *const *keys,
			     const struct defaults *def, orc_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(t, key, v) {
		if (!key_in(key, keys))
			return orc_error_set(err, ORC_EINVAL,
					     "task %s: unknown key \"%s\"",
					     id, key);
	}
	spec->id = id;
	spec->retry = def->retry;
	spec->timeout_ms = def->timeout_ms;
	return ORC_OK;
}

static const char *const task_keys[] = {
	"id", "handler", "command", "lambda", "dependsOn", "retry",
	"timeoutMs", NULL
};

static orc_status load_task(orc_dag *dag, json_t *t, size_t i,
			    const struct defaults *def, json_t *lambdas,
			    orc_error *err)
{
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	const char *id = NULL;
	const char **argv = NULL;
	json_t *v;
	orc_status st;
	char ctx[ORC_ID_MAX + 8];
	int ntargets = 0, k;

	if (!json_is_object(t))
		return orc_error_set(err, ORC_EINVAL,
				     "tasks[%zu] must be an object", i);
	if ((st = task_id_of(&id, json_object_get(t, "id"), "tasks", i,
			     err)) != ORC_OK)
		return st;
	snprintf(ctx, sizeof(ctx), "task %s", id);
	if ((st = start_spec(&spec, t, id, task_keys, def, err)) != ORC_OK)
		return st;
	if ((v = json_object_get(t, "retry")) &&
	    (st = parse_retry(&spec.retry, v, ctx, err)) != ORC_OK)
		return st;
	if ((v = json_object_get(t, "timeoutMs")) &&
	    (st = get_ms(&spec.timeout_ms, v, ctx, "timeoutMs", err)) !=
		    ORC_OK)
		return st;
	for (k = 0; k < 2; k++) {
		const char *name = k ? "lambda" : "handler";

		if (!(v = json_object_get(t, name)))
			continue;
		ntargets++;
		spec.target_kind = k ? ORC_TARGET_LAMBDA : ORC_TARGET_HANDLER;
		spec.target = json_string_value(v);
		if (!spec.target)
			return orc_error_set(err, ORC_EINVAL,
					     "task %s: \"%s\" must be a "
					     "string", id, name);
	}
	if ((v = json_object_get(t, "command"))) {
		size_t j, n = json_array_size(v);
		json_t *a;

		ntargets++;
		if (!json_is_array(v) || n == 0)
			return orc_error_set(err, ORC_EINVAL,
					     "task %s: \"command\" must be a "
					     "non-empty array of strings", id);
		argv = orc__calloc(n + 1, sizeof(*argv));
		if (!argv)
			return orc_error_set(err, ORC_ENOMEM,
					     "out of memory");
		json_array_foreach(v, j, a) {
			argv[j] = json_string_value(a);
			if (!argv[j]) {
				free(argv);
				return orc_error_set(err, ORC_EINVAL,
						     "task %s: command[%zu] "
						     "must be a string", id, j);
			}
		}
		spec.target_kind = ORC_TARGET_COMMAND;
		spec.argv = argv;
	}
	if (ntargets > 1) {
		free(argv);
		return orc_error_set(err, ORC_EINVAL,
				     "task %s: give only one of \"handler\", "
				     "\"command\" and \"lambda\"", id);
	}
	if (!ntargets && lambdas &&
	    (spec.target = json_string_value(json_object_get(lambdas, id))))
		spec.target_kind = ORC_TARGET_LAMBDA;
	st = orc_dag_add_task(dag, &spec, err);
	free(argv);
	if (st != ORC_OK)
		return st;
	return add_deps(dag, id, json_object_get(t, "dependsOn"), err);
}

static const char *const seed_keys[] = {
	"taskId", "targetLambdaArn", "dependsOn", NULL
};

/* One entry of the seed's graph; @p id is set when the graph is an
 * object keyed by task id. */
static orc_status load_seed_task(orc_dag *dag, json_t *t, const char *id,
				 size_t i, const struct defaults *def,
				 json_t *lambdas, orc_error *err)
{
	orc_task_spec spec = ORC_TASK_SPEC_INIT;
	json_t *v;
	orc_status st;
	char ctx[ORC_ID_MAX + 16];

	if (!json_is_object(t))
		return id ? orc_error_set(err, ORC_EINVAL,
					  "graph entry %s must be an object",
					  id)
			  : orc_error_set(err, ORC_EINVAL,
					  "graph[%zu] must be an object", i);
	if (id) {
		if ((st = orc_dag_check_id(id, err)) != ORC_OK) {
			snprintf(ctx, sizeof(ctx), "graph key #%zu", i);
			return prefixed(err, st, ctx);
		}
		v = json_object_get(t, "taskId");
		if (v && (!json_is_string(v) ||
			  strcmp(json_string_value(v), id) != 0))
			return orc_error_set(err, ORC_EINVAL,
					     "graph entry %s: \"taskId\" "
					     "differs from its key", id);
	} else if ((st = task_id_of(&id, json_object_get(t, "taskId"),
				    "graph", i, err)) != ORC_OK) {
		return st;
	}
	if ((st = start_spec(&spec, t, id, seed_keys, def, err)) != ORC_OK)
		return st;
	v = json_object_get(t, "targetLambdaArn");
	if (!v && lambdas)
		v = json_object_get(lambdas, id);
	if (v) {
		if (!json_is_string(v))
			return orc_error_set(err, ORC_EINVAL,
					     "task %s: \"targetLambdaArn\" "
					     "must be a string", id);
		spec.target_kind = ORC_TARGET_LAMBDA;
		spec.target = json_string_value(v);
	}
	if ((st = orc_dag_add_task(dag, &spec, err)) != ORC_OK)
		return st;
	return add_deps(dag, id, json_object_get(t, "dependsOn"), err);
}

/* Every key of the "lambdas" map is a task's id and every value an
 * ARN string: a key no task has (a typo, an id that breaks the key
 * layout) is refused like any unknown key, not silently ignored. */
static orc_status check_lambdas(const orc_dag *dag, json_t *lambdas,
				orc_error *err)
{
	const char *key;
	size_t i = 0, at;
	json_t *v;
	orc_status st;
	char ctx[40];

	json_object_foreach(lambdas, key, v) {
		if ((st = orc_dag_check_id(key, err)) != ORC_OK) {
			snprintf(ctx, sizeof(ctx), "\"lambdas\" key #%zu", i);
			return prefixed(err, st, ctx);
		}
		if (orc_dag_find(&at, dag, key, NULL) != ORC_OK)
			return orc_error_set(err, ORC_EINVAL, "\"lambdas\" "
					     "names task %s, which is not in "
					     "the workflow", key);
		if (!json_is_string(v))
			return orc_error_set(err, ORC_EINVAL, "\"lambdas\": "
					     "the ARN of task %s must be a "
					     "string", key);
		i++;
	}
	return ORC_OK;
}

static const char *const top_keys[] = {
	"id", "workflowId", "defaults", "tasks", "graph", "lambdas",
	/* request envelopes carry these; they are not the definition */
	"input", "mode", "correlationId", "name", "description", NULL
};

static orc_status load_doc(orc_dag *dag, char **wf_id_out, json_t *root,
			   orc_error *err)
{
	struct defaults def = { ORC_RETRY_POLICY_INIT, 0 };
	json_t *v, *tasks, *graph, *lambdas;
	const char *key, *wf = NULL;
	orc_status st;
	size_t i;

	if (!json_is_object(root))
		return orc_error_set(err, ORC_EINVAL,
				     "the document must be a JSON object");
	json_object_foreach(root, key, v) {
		if (!key_in(key, top_keys))
			return orc_error_set(err, ORC_EINVAL,
					     "unknown key \"%s\" at top level",
					     key);
	}
	for (i = 0; i < 2; i++) {
		const char *k = i ? "workflowId" : "id";

		v = json_object_get(root, k);
		if (!v)
			continue;
		if (!json_is_string(v))
			return orc_error_set(err, ORC_EINVAL,
					     "\"%s\" must be a string", k);
		if ((st = orc_dag_check_id(json_string_value(v), err)) !=
		    ORC_OK)
			return prefixed(err, st, k);
		if (!wf)
			wf = json_string_value(v);
	}
	if ((v = json_object_get(root, "defaults"))) {
		if (!json_is_object(v))
			return orc_error_set(err, ORC_EINVAL,
					     "\"defaults\" must be an object");
		json_object_foreach(v, key, tasks) {
			if (strcmp(key, "retry") && strcmp(key, "timeoutMs"))
				return orc_error_set(err, ORC_EINVAL,
						     "defaults: unknown key "
						     "\"%s\"", key);
		}
		if ((tasks = json_object_get(v, "retry")) &&
		    (st = parse_retry(&def.retry, tasks, "defaults",
				      err)) != ORC_OK)
			return st;
		if ((tasks = json_object_get(v, "timeoutMs")) &&
		    (st = get_ms(&def.timeout_ms, tasks, "defaults",
				 "timeoutMs", err)) != ORC_OK)
			return st;
	}
	lambdas = json_object_get(root, "lambdas");
	if (lambdas && !json_is_object(lambdas))
		return orc_error_set(err, ORC_EINVAL,
				     "\"lambdas\" must be an object mapping "
				     "task ids to ARNs");
	tasks = json_object_get(root, "tasks");
	graph = json_object_get(root, "graph");
	if (tasks && graph)
		return orc_error_set(err, ORC_EINVAL,
				     "give \"tasks\" or \"graph\", not both");
	if (!tasks && !graph)
		return orc_error_set(err, ORC_EINVAL,
				     "missing \"tasks\" (or the seed's "
				     "\"graph\")");
	if (tasks) {
		if (!json_is_array(tasks))
			return orc_error_set(err, ORC_EINVAL,
					     "\"tasks\" must be an array");
		json_array_foreach(tasks, i, v) {
			if ((st = load_task(dag, v, i, &def, lambdas, err)) !=
			    ORC_OK)
				return st;
		}
	} else if (json_is_array(graph)) {
		json_array_foreach(graph, i, v) {
			if ((st = load_seed_task(dag, v, NULL, i, &def,
						 lambdas, err)) != ORC_OK)
				return st;
		}
	} else if (json_is_object(graph)) {
		i = 0;
		json_object_foreach(graph, key, v) {
			if ((st = load_seed_task(dag, v, key, i++, &def,
						 lambdas, err)) != ORC_OK)
				return st;
		}
	} else {
		return orc_error_set(err, ORC_EINVAL,
				     "\"graph\" must be an array or an object");
	}
	if ((st = orc_dag_validate(dag, err)) != ORC_OK)
		return st;
	if (lambdas && (st = check_lambdas(dag, lambdas, err)) != ORC_OK)
		return st;
	if (wf_id_out && wf && !(*wf_id_out = orc_strdup(wf)))
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	return ORC_OK;
}

/* Only JSON whitespace (or nothing). */
static int blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
		    s[i] != '\r')
			return 0;
	return 1;
}

ORC_API orc_status orc_dag_load(orc_dag **out, char **wf_id_out,
				const char *json, size_t len,
				const char *source, orc_error *err)
{
	json_error_t jerr;
	json_t *root;
	orc_dag *dag = NULL;
	orc_status st;

	ORC_CHECK_ARG(out != NULL, err);
	*out = NULL;
	if (wf_id_out)
		*wf_id_out = NULL;
	ORC_CHECK_ARG(json != NULL, err);
	/* Editors that add a byte order mark get a message that says so,
	 * not jansson's "'[' or '{' expected near '\xEF\xBB\xBF'". */
	if (len >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0) {
		orc_error_set(err, ORC_EPARSE, "the file starts with a UTF-8 "
			      "byte order mark (U+FEFF); save it without one");
		orc__error_locate(err, source, 1, 1, 0);
		return ORC_EPARSE;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (blank(json, len))
			orc_error_set(err, ORC_EPARSE, "no JSON: the text is "
				      "empty");
		else
			orc_error_set(err, ORC_EPARSE, "%s", jerr.text);
		/* jansson counts columns from 0 at a line's start (an empty
		 * text, an end of file after a newline); ours are 1-based. */
		orc__error_locate(err, source, jerr.line > 0 ? jerr.line : 1,
				  jerr.column > 0 ? jerr.column : 1,
				  (size_t)jerr.position);
		return ORC_EPARSE;
	}
	st = orc_dag_create(&dag, err);
	if (st == ORC_OK)
		st = load_doc(dag, wf_id_out, root, err);
	json_decref(root);
	if (st != ORC_OK) {
		orc_dag_free(dag);
		if (err)
			orc__strlcpy(err->source,
				     source ? source : "<string>",
				     sizeof(err->source));
		return st;
	}
	*out = dag;
	return ORC_OK;
}

ORC_API orc_status orc_dag_load_file(orc_dag **out, char **wf_id_out,
				     const char *path, orc_error *err)
{
	FILE *f;
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;
	orc_status st;
	int e;

	ORC_CHECK_ARG(out != NULL, err);
	*out = NULL;
	if (wf_id_out)
		*wf_id_out = NULL;
	ORC_CHECK_ARG(path != NULL, err);
	f = fopen(path, "rb");
	if (!f) {
		e = errno;
		st = orc_error_set(err, e == ENOENT ? ORC_ENOTFOUND : ORC_ERROR,
				   "cannot open %s: %s", path,
				   e == ENOENT ? "no such file"
					       : "open failed");
		if (err)
			err->detail = e;
		return st;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			nb = orc__realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return orc_error_set(err, ORC_ENOMEM,
						     "out of memory reading %s",
						     path);
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		e = errno;
		free(buf);
		fclose(f);
		st = orc_error_set(err, ORC_ERROR, "cannot read %s", path);
		if (err)
			err->detail = e;
		return st;
	}
	fclose(f);
	st = orc_dag_load(out, wf_id_out, buf, len, path, err);
	free(buf);
	return st;
}

/* ---- save ----------------------------------------------------------- */

static int retry_is_default(const orc_retry_policy *r)
{
	static const orc_retry_policy d = ORC_RETRY_POLICY_INIT;

	return r->max_attempts == d.max_attempts && r->jitter == d.jitter &&
	       r->interval_ms == d.interval_ms &&
	       r->backoff_rate == d.backoff_rate &&
	       r->max_delay_ms == d.max_delay_ms;
}

/* json_object_set_new and json_array_append_new consume @p v even on
 * failure, so a chain of them needs one check at the end. */
static int put(json_t *obj, const char *key, json_t *v)
{
	return v && json_object_set_new(obj, key, v) == 0;
}

static json_t *task_json(const orc_dag *dag, size_t t)
{
	orc_task_spec s = ORC_TASK_SPEC_INIT;
	const uint32_t *deps;
	size_t nd, k;
	json_t *o = json_object(), *a;
	int ok;

	if (!o)
		return NULL;
	orc_dag_task_get(&s, dag, t, NULL);
	ok = put(o, "id", json_string(s.id));
	if (s.target_kind == ORC_TARGET_HANDLER)
		ok = ok && put(o, "handler", json_string(s.target));
	else if (s.target_kind == ORC_TARGET_LAMBDA)
		ok = ok && put(o, "lambda", json_string(s.target));
	else if (s.target_kind == ORC_TARGET_COMMAND) {
		ok = ok && put(o, "command", a = json_array());
		for (k = 0; ok && s.argv[k]; k++)
			ok = json_array_append_new(a,
						   json_string(s.argv[k])) == 0;
	}
	nd = orc_dag_deps(&deps, dag, t);
	if (ok && nd) {
		ok = put(o, "dependsOn", a = json_array());
		for (k = 0; ok && k < nd; k++) {
			orc_task_spec d = ORC_TASK_SPEC_INIT;

			orc_dag_task_get(&d, dag, deps[k], NULL);
			ok = json_array_append_new(a, json_string(d.id)) == 0;
		}
	}
	if (ok && !retry_is_default(&s.retry)) {
		ok = put(o, "retry", a = json_object());
		ok = ok && put(a, "maxAttempts",
			       json_integer(s.retry.max_attempts));
		ok = ok && put(a, "intervalMs",
			       json_integer(s.retry.interval_ms));
		ok = ok && put(a, "backoffRate",
			       json_real(s.retry.backoff_rate));
		ok = ok && put(a, "maxDelayMs",
			       json_integer(s.retry.max_delay_ms));
		ok = ok && put(a, "jitter",
			       json_string(s.retry.jitter == ORC_JITTER_FULL
						   ? "FULL"
						   : "NONE"));
	}
	if (ok && s.timeout_ms)
		ok = put(o, "timeoutMs", json_integer(s.timeout_ms));
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

ORC_API orc_status orc_dag_save(char **json_out, const orc_dag *dag,
				orc_error *err)
{
	json_t *root = NULL, *tasks;
	size_t t, n, len;
	char *buf;

	ORC_CHECK_ARG(json_out != NULL, err);
	*json_out = NULL;
	ORC_CHECK_ARG(dag != NULL, err);
	if (!orc_dag_is_valid(dag))
		return orc_error_set(err, ORC_EINVAL,
				     "DAG is not validated");
	root = json_object();
	if (!root || !put(root, "tasks", tasks = json_array()))
		goto nomem;
	n = orc_dag_task_count(dag);
	for (t = 0; t < n; t++)
		if (json_array_append_new(tasks, task_json(dag, t)) != 0)
			goto nomem;
	/* Measure, then dump into our own allocation (callers free with
	 * orc_free(), never jansson's allocator). */
	len = json_dumpb(root, NULL, 0, JSON_COMPACT);
	if (!len)
		goto nomem;
	buf = orc__malloc(len + 1);
	if (!buf)
		goto nomem;
	json_dumpb(root, buf, len, JSON_COMPACT);
	buf[len] = '\0';
	json_decref(root);
	*json_out = buf;
	return ORC_OK;
nomem:
	json_decref(root);
	return orc_error_set(err, ORC_ENOMEM, "out of memory saving DAG");
}
