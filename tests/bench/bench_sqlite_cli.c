/*
 * What `orchestra run` adds to the task it runs: the wall time of a
 * no-op command (`true`) started alone, against `orchestra run` of a
 * one-task workflow whose task is that command, median of N runs each,
 * interleaved. Twice: into an existing database (a new workflow id per
 * run), and into a new database file per run (schema creation too).
 * Target: at most 20 ms added. First, what starting the command costs
 * (`orchestra --version`, mostly loading its libraries) against `true`.
 *
 * usage: bench_sqlite_cli ORCHESTRA [N]   (files in the current directory)
 * Run: meson test -C build --benchmark --suite bench bench_sqlite_cli -v
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TARGET_MS 20.0
#define WF "bench_cli.json"
#define DB "bench_cli.db"

extern char **environ;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void remove_db(void)
{
	unlink(DB);
	unlink(DB "-wal");
	unlink(DB "-shm");
}

/* Wall time from spawn to exit of @p argv (stdout to /dev/null); exits
 * when it fails, as a benchmark of a failing run means nothing. */
static double timed_run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	double t0;
	pid_t pid;
	int ws;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	t0 = now_ms();
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0 ||
	    waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws) ||
	    WEXITSTATUS(ws) != 0) {
		fprintf(stderr, "bench_sqlite_cli: %s %s failed\n", argv[0],
			argv[1] ? argv[1] : "");
		exit(1);
	}
	t0 = now_ms() - t0;
	posix_spawn_file_actions_destroy(&fa);
	return t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* N interleaved pairs: the command alone, then through orchestra. */
static void measure(const char *orchestra, int n, int fresh_db)
{
	double *alone = calloc((size_t)n, sizeof(double));
	double *via = calloc((size_t)n, sizeof(double));
	char *true_argv[] = { "true", NULL };
	char id[32], *run_argv[] = { (char *)orchestra, "run", WF, "--db", DB,
				     "--id", id, "--plain", NULL };
	double a, v;
	int i;

	if (!alone || !via)
		exit(1);
	remove_db();
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "noop-%d", i);
		if (fresh_db)
			remove_db();
		alone[i] = timed_run(true_argv);
		via[i] = timed_run(run_argv);
	}
	remove_db();
	a = median(alone, n);
	v = median(via, n);
	printf("%s database, median of %d: true alone %.2f ms, via orchestra "
	       "run %.2f ms (fastest %.2f, %.1f times true); added %.2f ms  "
	       "target <= %.0f: %s\n", fresh_db ? "new" : "existing", n, a, v,
	       via[0], v / a, v - a, TARGET_MS,
	       v - a <= TARGET_MS ? "PASS" : "FAIL");
	fflush(stdout);
	free(alone);
	free(via);
}

/* N interleaved pairs: `true`, then `orchestra --version`. */
static void measure_start(const char *orchestra, int n)
{
	double *alone = calloc((size_t)n, sizeof(double));
	double *start = calloc((size_t)n, sizeof(double));
	char *true_argv[] = { "true", NULL };
	char *version_argv[] = { (char *)orchestra, "--version", NULL };
	double a, v;
	int i;

	if (!alone || !start)
		exit(1);
	for (i = 0; i < n; i++) {
		alone[i] = timed_run(true_argv);
		start[i] = timed_run(version_argv);
	}
	a = median(alone, n);
	v = median(start, n);
	printf("start, median of %d: true alone %.2f ms, orchestra --version "
	       "%.2f ms (fastest %.2f, %.1f times true); added %.2f ms\n", n,
	       a, v, start[0], v / a, v - a);
	fflush(stdout);
	free(alone);
	free(start);
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 31;
	FILE *f;

	if (argc < 2 || n < 1) {
		fprintf(stderr, "usage: bench_sqlite_cli ORCHESTRA [N]\n");
		return 2;
	}
	f = fopen(WF, "w");
	if (!f || fputs("{\"tasks\": [{\"id\": \"noop\", \"command\": "
			"[\"true\"]}]}\n", f) < 0 || fclose(f) != 0) {
		perror(WF);
		return 1;
	}
	measure_start(argv[1], n);
	measure(argv[1], n, 0);
	measure(argv[1], n, 1);
	unlink(WF);
	return 0;
}
