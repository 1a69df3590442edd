/*
 * Cold start of a Lambda handler binary: from the exec of
 * tests/lambda/echo_handler (orc_lambda_runtime_run() with an echo
 * handler) to its first response arriving at the Runtime API, a loopback
 * server in this process; the median of BENCH_RUNS runs (default 30,
 * at least 20). Also the peak RSS of the handler (getrusage of the
 * child), and, in the same run, the time of
 *   python3 -c "import boto3; boto3.client('dynamodb', ...)"
 * which a Python handler pays, and the ratio. The baseline needs
 * Debian's python3-boto3 (apt-get install -y python3-boto3); without it
 * the bench says so. Targets: median <= 10 ms, peak RSS <= 16 MB.
 *
 *   meson test -C build --benchmark --suite bench bench_lambda_cold -v
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dynamodb/loopback.h"

extern char **environ;

#define EVENT "{\"bench\": 1}"
#define API "/2018-06-01/runtime/"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct run {
	double t_response;   /* when the response arrived */
	int ok;              /* the response was the event */
	int nexts;
	atomic_int done;     /* set after t_response and ok */
} run;

/* The Runtime API: one event, then close the connection to end it. */
static void runtime_api(const lb_req *req, lb_resp *resp, void *ud)
{
	run *r = ud;
	int get = strcmp(req->method, "GET") == 0;
	int post = strcmp(req->method, "POST") == 0;
	const char *path = req->path;

	if (get && strcmp(path, API "invocation/next") == 0) {
		if (r->nexts++ > 0) {
			resp->status = 0;
			return;
		}
		snprintf(resp->headers, sizeof(resp->headers),
			 "Lambda-Runtime-Aws-Request-Id: bench-1\r\n"
			 "Lambda-Runtime-Deadline-Ms: 4102444800000\r\n"
			 "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:"
			 "us-east-1:123456789012:function:bench\r\n"
			 "Lambda-Runtime-Trace-Id: Root=1-00000000-0;"
			 "Sampled=0\r\n");
		lb_body(resp, 200, EVENT);
		return;
	}
	if (post && strcmp(path, API "invocation/bench-1/response") == 0) {
		r->t_response = now_ms();
		r->ok = req->body && strcmp(req->body, EVENT) == 0;
		atomic_store(&r->done, 1);
		lb_body(resp, 202, "{\"status\":\"OK\"}");
		return;
	}
	lb_body(resp, 404, "{}");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Spawn @p argv with stdout and stderr on /dev/null. */
static pid_t spawn_quiet(char *const *argv)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return rc == 0 ? pid : -1;
}

/* One cold start: ms to the first response; peak RSS into @p rss_kb. */
static double cold_start(const char *bin, long *rss_kb)
{
	char api[64];
	char *argv[2];
	lb_server *s = NULL;
	struct rusage ru;
	run r;
	double t0, t = -1;
	pid_t pid;
	int status, i;

	memset(&r, 0, sizeof(r));
	atomic_init(&r.done, 0);
	if (lb_start(&s, runtime_api, &r) != 0)
		return -1;
	snprintf(api, sizeof(api), "127.0.0.1:%d", lb_port(s));
	setenv("AWS_LAMBDA_RUNTIME_API", api, 1);
	argv[0] = (char *)bin;
	argv[1] = NULL;
	t0 = now_ms();
	pid = spawn_quiet(argv);
	if (pid < 0) {
		lb_stop(s);
		return -1;
	}
	/* Wait up to 10 s for the response, then for the exit. */
	for (i = 0; i < 100000 && !atomic_load(&r.done); i++) {
		struct timespec ts = { 0, 100 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (atomic_load(&r.done) && r.ok)
		t = r.t_response - t0;
	else
		kill(pid, SIGKILL);
	if (wait4(pid, &status, 0, &ru) == pid)
		*rss_kb = ru.ru_maxrss;
	lb_stop(s);
	return t;
}

/* ms of one run of the boto3 baseline with @p py; -1 on failure. */
static double boto3_once(const char *py)
{
	char *argv[4];
	double t0 = now_ms();
	pid_t pid;
	int status;

	argv[0] = (char *)py;
	argv[1] = "-c";
	argv[2] = "import boto3; "
		  "boto3.client('dynamodb', region_name='us-east-1')";
	argv[3] = NULL;
	pid = spawn_quiet(argv);
	if (pid < 0 || waitpid(pid, &status, 0) != pid ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return now_ms() - t0;
}

int main(void)
{
	const char *bin = getenv("ECHO_HANDLER");
	const char *runs_env = getenv("BENCH_RUNS");
	/* Debian's interpreter first: a version manager's shim would add
	 * its own start-up to the baseline. */
	static const char *const pythons[] = { "/usr/bin/python3", "python3",
					       NULL };
	int runs = runs_env ? atoi(runs_env) : 30, i, n = 0, ok = 1;
	double *t, med, py[5], py_med = -1;
	long rss = 0, rss_max = 0;
	const char *py_used = NULL;

	if (!bin) {
		fprintf(stderr, "ECHO_HANDLER is not set\n");
		return 1;
	}
	if (runs < 20)
		runs = 20;
	t = calloc((size_t)runs, sizeof(*t));
	if (!t)
		return 1;
	setenv("AWS_LAMBDA_FUNCTION_NAME", "bench", 1);
	/* One start to warm the page cache, not counted. */
	cold_start(bin, &rss);
	for (i = 0; i < runs; i++) {
		double v = cold_start(bin, &rss);

		if (v < 0) {
			fprintf(stderr, "run %d: no response\n", i);
			ok = 0;
			continue;
		}
		t[n++] = v;
		if (rss > rss_max)
			rss_max = rss;
	}
	if (n == 0) {
		free(t);
		return 1;
	}
	med = median(t, n);
	printf("lambda cold start (exec to first response), %d runs: "
	       "median %.2f ms, min %.2f ms, max %.2f ms (target <= 10 ms)\n",
	       n, med, t[0], t[n - 1]);
	printf("handler peak RSS: %.1f MB max over runs (target <= 16 MB)\n",
	       (double)rss_max / 1024.0);
	for (i = 0; pythons[i] && !py_used; i++) {
		if (boto3_once(pythons[i]) >= 0)
			py_used = pythons[i];
	}
	if (!py_used) {
		printf("boto3 baseline unavailable: python3 cannot import "
		       "boto3 (apt-get install -y python3-boto3)\n");
	} else {
		int m = 0;

		for (i = 0; i < 5; i++) {
			double v = boto3_once(py_used);

			if (v >= 0)
				py[m++] = v;
		}
		if (m > 0)
			py_med = median(py, m);
		printf("python3 boto3 import + client (%s), %d runs: median "
		       "%.1f ms\n", py_used, m, py_med);
		if (py_med > 0)
			printf("ratio: boto3 baseline / C cold start = %.0fx\n",
			       py_med / med);
	}
	free(t);
	return ok && med <= 10.0 && rss_max <= 16 * 1024 ? 0 : 1;
}
