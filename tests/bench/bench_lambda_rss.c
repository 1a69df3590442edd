/*
 * Peak RSS of the Lambda handlers while they run the seed's workflow
 * A -> (B1, B2, B3) -> C: the example functions (examples/lambda:
 * orchestrator, worker, task) run under tests/lambda/fake_lambda.py
 * against dynalite, the run started by invoking the orchestrator. Each
 * handler process's high-water mark (VmHWM in /proc) is read once the
 * workflow has ended, while the processes still live. Target: 16 MB.
 *
 *   meson test -C build --benchmark --suite bench bench_lambda_rss -v
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "orchestra/backend.h"
#include "orchestra/backends.h"
#include "orchestra/lambda.h"
#include "orchestra/orchestra.h"
#include "dynamodb/dynalite.h"
#include "lambda/fake.h"

#define TARGET_KB (16 * 1024)

static const char *const fns[] = { "orchestrator", "worker", "task" };

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench_lambda_rss: %s: %s\n", what, msg);
	exit(1);
}

/* VmHWM of @p pid in kB, or -1. */
static long vmhwm_kb(long pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The largest VmHWM among @p fn's live processes, or -1. */
static long function_peak_kb(fake_lambda *fake, const char *fn)
{
	char path[128], *body;
	json_t *state, *pid;
	long peak = -1;
	size_t i;

	snprintf(path, sizeof(path), "/_fake/functions/%s", fn);
	body = fake_get(fake, path);
	state = body ? json_loads(body, 0, NULL) : NULL;
	free(body);
	json_array_foreach(json_object_get(state, "pids"), i, pid) {
		long kb = vmhwm_kb((long)json_integer_value(pid));

		if (kb > peak)
			peak = kb;
	}
	json_decref(state);
	return peak;
}

static orc_workflow_state wait_end(orc_backend *b, const char *wf_id)
{
	orc_workflow_rec rec;
	orc_error err;
	int i;

	for (i = 0; i < 600; i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		memset(&rec, 0, sizeof(rec));
		if (b->get_workflow(&rec, b, wf_id, &err) == ORC_OK) {
			orc_workflow_state s = rec.state;

			orc_workflow_rec_clear(&rec);
			if (orc_workflow_state_is_terminal(s))
				return s;
		}
		nanosleep(&ts, NULL);
	}
	die(wf_id, "did not end in 30 s");
	return ORC_WORKFLOW_FAILED;
}

int main(void)
{
	static const char event[] =
		"{\"mode\":\"start\",\"workflowId\":\"rss\","
		"\"input\":{\"k\":1},\"graph\":["
		"{\"taskId\":\"A\",\"targetLambdaArn\":\"task\","
		"\"dependsOn\":[]},"
		"{\"taskId\":\"B1\",\"targetLambdaArn\":\"task\","
		"\"dependsOn\":[\"A\"]},"
		"{\"taskId\":\"B2\",\"targetLambdaArn\":\"task\","
		"\"dependsOn\":[\"A\"]},"
		"{\"taskId\":\"B3\",\"targetLambdaArn\":\"task\","
		"\"dependsOn\":[\"A\"]},"
		"{\"taskId\":\"C\",\"targetLambdaArn\":\"task\","
		"\"dependsOn\":[\"B1\",\"B2\",\"B3\"]}]}";
	orc_dynamodb_options o = ORC_DYNAMODB_OPTIONS_INIT;
	static char fn_text[3][1024], env_table[128];
	const char *fn_args[4], *bin[3], *envs[] = { NULL,
		"ORC_DISPATCH_NEXT=1", "ORC_WORKER_FUNCTION=worker", NULL };
	orc_lambda_client *c = NULL;
	orc_backend *b = NULL;
	fake_lambda fake;
	char table[64], *resp = NULL;
	orc_error err;
	long peak = 0;
	int i;

	bin[0] = getenv("ORC_LAMBDA_ORCHESTRATOR");
	bin[1] = getenv("ORC_LAMBDA_WORKER");
	bin[2] = getenv("ORC_LAMBDA_TASK");
	if (!bin[0] || !bin[1] || !bin[2])
		die("environment",
		    "ORC_LAMBDA_{ORCHESTRATOR,WORKER,TASK} unset");
	if (dl_start() != 0)
		die("dynalite", "did not start");
	snprintf(table, sizeof(table), "rss-%ld", (long)getpid());
	o.table = table;
	if (orc_dynamodb_create_table(&o, &err) != ORC_OK ||
	    orc_dynamodb_backend_open(&b, &o, &err) != ORC_OK)
		die("table", err.message);
	for (i = 0; i < 3; i++) {
		snprintf(fn_text[i], sizeof(fn_text[i]), "%s=%s", fns[i],
			 bin[i]);
		fn_args[i] = fn_text[i];
	}
	fn_args[3] = NULL;
	snprintf(env_table, sizeof(env_table), "ORC_TABLE=%s", table);
	envs[0] = env_table;
	if (fake_start_with(&fake, fn_args, envs) != 0)
		die("fake_lambda.py", "did not start");
	setenv("AWS_ENDPOINT_URL_LAMBDA", fake.invoke, 1);
	if (orc_lambda_client_create(&c, NULL, &err) != ORC_OK ||
	    orc_lambda_invoke(c, "orchestrator", ORC_LAMBDA_REQUEST_RESPONSE,
			      event, &resp, &err) != ORC_OK)
		die("invoke orchestrator", err.message);
	free(resp);
	orc_lambda_client_free(c);
	if (wait_end(b, "rss") != ORC_WORKFLOW_SUCCEEDED)
		die("rss", "the workflow did not succeed");
	printf("seed workflow through orchestrator, worker and task "
	       "functions: SUCCEEDED\n");
	for (i = 0; i < 3; i++) {
		long kb = function_peak_kb(&fake, fns[i]);

		if (kb < 0)
			die(fns[i], "no live process to measure");
		printf("  %-12s peak RSS %6.1f MB\n", fns[i], kb / 1024.0);
		if (kb > peak)
			peak = kb;
	}
	printf("largest: %.1f MB  target <= 16 MB: %s\n", peak / 1024.0,
	       peak <= TARGET_KB ? "PASS" : "FAIL");
	fake_stop(&fake);
	orc_backend_free(b);
	dl_stop();
	return 0;
}
