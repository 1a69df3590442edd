/*
 * The handlers' output for CloudWatch: one JSON object per line, either a
 * structured log line or an Embedded Metric Format line, which
 * CloudWatch turns into metrics without any API call. Lines go to the
 * config's log function, stdout by default (what Lambda captures).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "context.h"
#include "lambda/handlers.h"
#include "orchestra/backend.h"

static int64_t now_ms(const orc__lh_env *env)
{
	return env->ctx ? orc_context_now(env->ctx) : orc__now_ms();
}

static void emit(const orc__lh_env *env, json_t *obj)
{
	const orc_lambda_handler_config *cfg = env->cfg;
	char *line;

	if (!obj)
		return;
	line = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!line)
		return;
	if (cfg && cfg->log) {
		cfg->log(line, cfg->log_payload);
	} else {
		fputs(line, stdout);
		fputc('\n', stdout);
		/* Lambda reads a pipe: without a flush, lines of a frozen
		 * execution environment would show up late or never. */
		fflush(stdout);
	}
	free(line);
}

static json_t *base(const orc__lh_env *env)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "timestamp", json_integer(now_ms(env)));
	json_object_set_new(o, "handler", json_string(env->handler));
	if (env->lctx && env->lctx->request_id)
		json_object_set_new(o, "requestId",
				    json_string(env->lctx->request_id));
	return o;
}

void orc__lh_log(const orc__lh_env *env, const char *level,
		 const char *message, json_t *fields)
{
	json_t *o = base(env);

	if (o) {
		json_object_set_new(o, "level", json_string(level));
		json_object_set_new(o, "message", json_string(message));
		if (fields)
			json_object_update(o, fields);
	}
	json_decref(fields);
	emit(env, o);
}

/* {"_aws": {...}} declaring @p metrics (name, unit pairs) with one
 * dimension set, "Outcome". */
static json_t *emf(const orc__lh_env *env, const char *const *metrics,
		   size_t n)
{
	const char *ns = env->cfg && env->cfg->metrics_namespace ?
		env->cfg->metrics_namespace : "liborchestra";
	json_t *o = base(env), *defs = json_array(), *dir;
	size_t i;

	for (i = 0; defs && i + 1 < n; i += 2)
		json_array_append_new(defs, json_pack("{s:s, s:s}", "Name",
						      metrics[i], "Unit",
						      metrics[i + 1]));
	dir = json_pack("{s:I, s:[{s:s, s:[[s]], s:o}]}", "Timestamp",
			(json_int_t)now_ms(env), "CloudWatchMetrics",
			"Namespace", ns, "Dimensions", "Outcome", "Metrics",
			defs);
	if (!o || !dir) {
		json_decref(o);
		json_decref(dir);
		return NULL;
	}
	json_object_set_new(o, "_aws", dir);
	return o;
}

void orc__lh_metric_task(const orc__lh_env *env, const char *wf_id,
			 const char *task_id, const char *outcome,
			 int32_t attempt, int64_t duration_ms)
{
	static const char *const m[] = {
		"TaskOutcomes", "Count", "TaskAttempts", "Count",
		"TaskDuration", "Milliseconds",
	};
	json_t *o = emf(env, m, sizeof(m) / sizeof(m[0]));

	if (!o)
		return;
	json_object_set_new(o, "Outcome", json_string(outcome));
	json_object_set_new(o, "TaskOutcomes", json_integer(1));
	json_object_set_new(o, "TaskAttempts", json_integer(attempt));
	json_object_set_new(o, "TaskDuration", json_integer(duration_ms));
	json_object_set_new(o, "workflowId", json_string(wf_id));
	json_object_set_new(o, "taskId", json_string(task_id));
	emit(env, o);
}

void orc__lh_metric_workflow(const orc__lh_env *env, const char *wf_id,
			     const char *outcome, int64_t duration_ms)
{
	static const char *const m[] = {
		"WorkflowDuration", "Milliseconds", "Workflows", "Count",
	};
	json_t *o = emf(env, m, sizeof(m) / sizeof(m[0]));

	if (!o)
		return;
	json_object_set_new(o, "Outcome", json_string(outcome));
	json_object_set_new(o, "WorkflowDuration", json_integer(duration_ms));
	json_object_set_new(o, "Workflows", json_integer(1));
	json_object_set_new(o, "workflowId", json_string(wf_id));
	emit(env, o);
}

void orc__lh_workflow_ended(const orc__lh_env *env, const char *wf_id)
{
	orc_backend *b = env->cfg->backend;
	orc_workflow_rec rec;
	orc__wf_cache *wf;

	/* Ended by this context's own write: it knows how, and when. */
	for (wf = env->ctx->cache; wf; wf = wf->next)
		if (!strcmp(wf->id, wf_id) && wf->ended && wf->created_ms) {
			orc__lh_metric_workflow(env, wf_id,
				orc_workflow_state_name(wf->end_state),
				orc__lh_now(env) - wf->created_ms);
			return;
		}
	memset(&rec, 0, sizeof(rec));
	if (b->get_workflow(&rec, b, wf_id, NULL) != ORC_OK)
		return;
	if (orc_workflow_state_is_terminal(rec.state))
		orc__lh_metric_workflow(env, wf_id,
					orc_workflow_state_name(rec.state),
					rec.updated_ms - rec.created_ms);
	orc_workflow_rec_clear(&rec);
}
