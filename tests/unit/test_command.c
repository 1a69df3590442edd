/*
 * Command targets (lib/command.c): a child process per task, payload on
 * stdin, JSON on stdout, stderr tail in errors, process-group timeouts.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "command.h"
#include "orchestra/orchestra.h"

typedef struct cmd_result {
	orc_status st;
	char *out;
	char msg[4096];
	orc_error err;
} cmd_result;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_cmd(cmd_result *res, const char *const *argv,
		    const char *payload, int64_t timeout_ms)
{
	orc__command_req req;

	memset(res, 0, sizeof(*res));
	memset(&req, 0, sizeof(req));
	req.argv = argv;
	req.payload = payload;
	req.wf_id = "wf-1";
	req.task_id = "B2";
	req.attempt = 3;
	req.timeout_ms = timeout_ms;
	res->st = orc__command_run(&res->out, res->msg, sizeof(res->msg),
				   &req, &res->err);
}

static void run_sh(cmd_result *res, const char *script, const char *payload,
		   int64_t timeout_ms)
{
	const char *argv[] = { "sh", "-c", script, NULL };

	run_cmd(res, argv, payload, timeout_ms);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void test_command__stdout_json_is_the_output(void **state)
{
	cmd_result r;
	json_t *doc;

	(void)state;
	run_sh(&r, "cat >/dev/null; printf '{\"a\": [1, 2], \"b\": \"x\"}\\n'",
	       "{}", 0);
	if (r.st != ORC_OK)
		fail_msg("%s: %s", orc_status_name(r.st), r.msg);
	assert_non_null(r.out);
	/* The trailing newline is dropped; the JSON is kept as written. */
	assert_string_equal(r.out, "{\"a\": [1, 2], \"b\": \"x\"}");
	doc = json_loads(r.out, 0, NULL);
	assert_non_null(doc);
	assert_int_equal(json_integer_value(json_array_get(
		json_object_get(doc, "a"), 1)), 2);
	json_decref(doc);
	orc_free(r.out);
}

static void test_command__payload_arrives_on_stdin(void **state)
{
	static const char payload[] =
		"{\"workflowId\":\"wf-1\",\"input\":{\"n\":[1,2,3]}}";
	const char *argv[] = { "cat", NULL };
	cmd_result r;

	(void)state;
	run_cmd(&r, argv, payload, 0);
	assert_int_equal(r.st, ORC_OK);
	assert_string_equal(r.out, payload);
	orc_free(r.out);
}

static void test_command__empty_stdout_is_null(void **state)
{
	cmd_result r;

	(void)state;
	run_sh(&r, "cat >/dev/null; printf '\\n  \\n'", "{}", 0);
	assert_int_equal(r.st, ORC_OK);
	assert_null(r.out);
}

/* A timeout far past any clock: the deadline saturates instead of a
 * signed overflow (UBSan) that would make it negative (no timeout) or
 * fire at once. */
static void test_command__huge_timeout_does_not_overflow(void **state)
{
	cmd_result r;

	(void)state;
	run_sh(&r, "cat >/dev/null; echo 7", "{}", INT64_MAX);
	if (r.st != ORC_OK)
		fail_msg("%s: %s", orc_status_name(r.st), r.msg);
	assert_string_equal(r.out, "7");
	orc_free(r.out);
}

static void test_command__environment_names_the_task(void **state)
{
	cmd_result r;
	json_t *doc;

	(void)state;
	/* A stale value in our own environment must be replaced. */
	setenv("ORC_ATTEMPT", "99", 1);
	setenv("ORC_TEST_KEEP", "kept", 1);
	run_sh(&r, "printf '{\"wf\":\"%s\",\"task\":\"%s\",\"attempt\":%s,"
	       "\"keep\":\"%s\",\"n\":%s}' \"$ORC_WORKFLOW_ID\" "
	       "\"$ORC_TASK_ID\" \"$ORC_ATTEMPT\" \"$ORC_TEST_KEEP\" "
	       "\"$(env | grep -c '^ORC_ATTEMPT=')\"", NULL, 0);
	unsetenv("ORC_ATTEMPT");
	unsetenv("ORC_TEST_KEEP");
	if (r.st != ORC_OK)
		fail_msg("%s: %s", orc_status_name(r.st), r.msg);
	doc = json_loads(r.out, 0, NULL);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "wf")),
			    "wf-1");
	assert_string_equal(json_string_value(json_object_get(doc, "task")),
			    "B2");
	assert_int_equal(json_integer_value(json_object_get(doc, "attempt")),
			 3);
	assert_string_equal(json_string_value(json_object_get(doc, "keep")),
			    "kept");
	assert_int_equal(json_integer_value(json_object_get(doc, "n")), 1);
	json_decref(doc);
	orc_free(r.out);
}

static void test_command__nonzero_exit_keeps_stderr_tail(void **state)
{
	cmd_result r;

	(void)state;
	/* 5000 bytes of noise first: only the tail may be kept. */
	run_sh(&r, "i=0; while [ $i -lt 100 ]; do "
	       "printf '%050d' 0 >&2; i=$((i+1)); done; "
	       "echo 'boom: disk on fire' >&2; exit 3", "{}", 0);
	assert_int_equal(r.st, ORC_EUSER);
	assert_null(r.out);
	assert_non_null(strstr(r.msg, "exited with status 3"));
	assert_true(ends_with(r.msg, "boom: disk on fire"));
	/* ~1 KB of tail, not all 5000 bytes. */
	assert_true(strlen(r.msg) < 1200);
	assert_true(strlen(r.msg) > 900);
	assert_int_equal(r.err.code, ORC_EUSER);
	assert_int_equal(r.err.detail, 3);
	assert_non_null(strstr(r.err.message, "exited with status 3"));
}

static void test_command__small_error_buffer_keeps_the_end(void **state)
{
	const char *argv[] = { "sh", "-c", "echo 'the last words' >&2; exit 1",
			       NULL };
	orc__command_req req;
	char *out = NULL;
	char small[11];

	(void)state;
	memset(&req, 0, sizeof(req));
	req.argv = argv;
	assert_int_equal(orc__command_run(&out, small, sizeof(small), &req,
					  NULL), ORC_EUSER);
	assert_string_equal(small, "last words");
	assert_null(out);
}

static void test_command__non_json_stdout_is_refused(void **state)
{
	cmd_result r;

	(void)state;
	run_sh(&r, "echo 'hello world'; echo 'why' >&2", "{}", 0);
	assert_int_equal(r.st, ORC_EUSER);
	assert_null(r.out);
	assert_non_null(strstr(r.msg, "not JSON"));
	assert_true(ends_with(r.msg, "why"));

	/* JSON followed by garbage is not JSON either. */
	run_sh(&r, "echo '{} {}'", "{}", 0);
	assert_int_equal(r.st, ORC_EUSER);
	assert_null(r.out);
}

static void test_command__missing_program_is_a_task_failure(void **state)
{
	const char *argv[] = { "orc-no-such-program-here", "x", NULL };
	const char *argv2[] = { "./orc/no/such/path", NULL };
	cmd_result r;

	(void)state;
	run_cmd(&r, argv, "{}", 0);
	assert_int_equal(r.st, ORC_EUSER);
	assert_null(r.out);
	assert_non_null(strstr(r.msg, "cannot run 'orc-no-such-program-here'"));
	run_cmd(&r, argv2, "{}", 0);
	assert_int_equal(r.st, ORC_EUSER);
	assert_non_null(strstr(r.msg, "cannot run"));
}

static void test_command__death_by_signal_is_a_failure(void **state)
{
	cmd_result r;

	(void)state;
	run_sh(&r, "echo '{}'; kill -KILL $$", NULL, 0);
	assert_int_equal(r.st, ORC_EUSER);
	assert_null(r.out);
	assert_non_null(strstr(r.msg, "signal 9"));
}

/* Live (not zombie) processes whose process group is @p pgid. */
static int group_members(long pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[300], buf[1024], *p;
		long pgrp;
		char st;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f)) {
			fclose(f);
			continue;
		}
		fclose(f);
		/* pid (comm) state ppid pgrp ...; comm may hold spaces. */
		p = strrchr(buf, ')');
		if (p && sscanf(p + 1, " %c %*d %ld", &st, &pgrp) == 2 &&
		    pgrp == pgid && st != 'Z' && st != 'X')
			n++;
	}
	closedir(d);
	return n;
}

static long read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = -1;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	return pid;
}

static void make_tmpdir(char *dir, size_t len)
{
	const char *t = getenv("TMPDIR");

	snprintf(dir, len, "%s/orc-cmd-XXXXXX", t && *t ? t : "/tmp");
	assert_non_null(mkdtemp(dir));
}

static void timeout_case(const char *prefix)
{
	char dir[256], script[1024], pidf[300], gpidf[300];
	int64_t t0, took;
	long leader, grandchild;
	cmd_result r;

	make_tmpdir(dir, sizeof(dir));
	snprintf(pidf, sizeof(pidf), "%s/leader", dir);
	snprintf(gpidf, sizeof(gpidf), "%s/grandchild", dir);
	snprintf(script, sizeof(script),
		 "%s echo $$ > '%s'; sleep 100 & echo $! > '%s'; sleep 100",
		 prefix, pidf, gpidf);
	t0 = now_ms();
	run_sh(&r, script, "{}", 400);
	took = now_ms() - t0;
	assert_int_equal(r.st, ORC_ETIMEOUT);
	assert_null(r.out);
	assert_non_null(strstr(r.msg, "timed out after 400 ms"));
	assert_true(took >= 400);
	assert_true(took < 5000);
	leader = read_pid(pidf);
	grandchild = read_pid(gpidf);
	assert_true(leader > 1);
	assert_true(grandchild > 1);
	/* The grandchild is reparented when killed; give init a moment to
	 * reap it, then no process of that group may be alive. */
	for (int i = 0; i < 50 && group_members(leader) > 0; i++)
		usleep(20000);
	assert_int_equal(group_members(leader), 0);
	unlink(pidf);
	unlink(gpidf);
	rmdir(dir);
}

static void test_command__timeout_kills_the_process_group(void **state)
{
	(void)state;
	timeout_case("");
}

static void test_command__timeout_escalates_to_sigkill(void **state)
{
	(void)state;
	/* Everyone in the group ignores SIGTERM: SIGKILL must follow. */
	timeout_case("trap '' TERM;");
}

static void test_command__leftover_children_do_not_hold_the_task(void **state)
{
	char dir[256], script[1024], gpidf[300];
	int64_t t0;
	cmd_result r;
	long grandchild;

	(void)state;
	make_tmpdir(dir, sizeof(dir));
	snprintf(gpidf, sizeof(gpidf), "%s/grandchild", dir);
	/* The background sleep keeps stdout open after sh exits. */
	snprintf(script, sizeof(script),
		 "sleep 100 & echo $! > '%s'; echo '{\"done\": true}'", gpidf);
	t0 = now_ms();
	run_sh(&r, script, NULL, 0);
	assert_true(now_ms() - t0 < 5000);
	if (r.st != ORC_OK)
		fail_msg("%s: %s", orc_status_name(r.st), r.msg);
	assert_string_equal(r.out, "{\"done\": true}");
	orc_free(r.out);
	grandchild = read_pid(gpidf);
	for (int i = 0; i < 50 && kill((pid_t)grandchild, 0) == 0; i++)
		usleep(20000);
	/* Gone, or a zombie that init has not reaped yet. */
	assert_int_equal(group_members(grandchild), 0);
	unlink(gpidf);
	rmdir(dir);
}

static char *big_payload(size_t n)
{
	char *p = malloc(n + 3);
	size_t i;

	assert_non_null(p);
	p[0] = '"';
	for (i = 0; i < n; i++)
		p[i + 1] = (char)('a' + (i * 7) % 26);
	p[n + 1] = '"';
	p[n + 2] = '\0';
	return p;
}

static void test_command__megabyte_round_trip_without_deadlock(void **state)
{
	const char *argv[] = { "cat", NULL };
	char *payload = big_payload(1 << 20);
	cmd_result r;

	(void)state;
	/* cat writes while we still write: both pipes must be served. */
	run_cmd(&r, argv, payload, 30000);
	if (r.st != ORC_OK)
		fail_msg("%s: %s", orc_status_name(r.st), r.msg);
	assert_int_equal(strlen(r.out), strlen(payload));
	assert_string_equal(r.out, payload);
	orc_free(r.out);
	free(payload);
}

static void test_command__unread_stdin_does_not_kill_us(void **state)
{
	char *payload = big_payload(1 << 20);
	cmd_result r;

	(void)state;
	/* The child never reads: our write gets EPIPE, not SIGPIPE. */
	run_sh(&r, "echo '{\"ignored\": 1}'", payload, 30000);
	if (r.st != ORC_OK)
		fail_msg("%s: %s", orc_status_name(r.st), r.msg);
	assert_string_equal(r.out, "{\"ignored\": 1}");
	orc_free(r.out);
	free(payload);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Is descriptor @p fd of this process open without close-on-exec? */
static int inheritable(long fd)
{
	char path[64], line[128];
	unsigned long flags = 0;
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%ld", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "flags: %lo", &flags) == 1)
			found = 1;
	fclose(f);
	return found && !(flags & 02000000); /* O_CLOEXEC */
}

static void test_command__no_descriptor_leaks(void **state)
{
	const char *missing[] = { "orc-no-such-program-here", NULL };
	cmd_result r;
	int before, i;

	(void)state;
	before = count_fds();
	for (i = 0; i < 10; i++) {
		run_sh(&r, "cat; exit $(( $$ % 2 ))", "[1]", 0);
		orc_free(r.out);
		run_cmd(&r, missing, "{}", 0);
		run_sh(&r, "sleep 5", "{}", 50);
		assert_int_equal(r.st, ORC_ETIMEOUT);
	}
	assert_int_equal(count_fds(), before);

	/* The child sees 0, 1, 2 and what this process lets children
	 * inherit, nothing of ours: ls lists its own descriptors (plus the
	 * one it reads the directory with) on stderr. */
	{
		const char *ls[] = { "sh", "-c",
			"ls /proc/self/fd >&2; exit 1", NULL };
		char *p, *end;
		int extra = 0;

		run_cmd(&r, ls, NULL, 0);
		assert_int_equal(r.st, ORC_EUSER);
		p = strstr(r.msg, "stderr: ");
		assert_non_null(p);
		for (p += 8; *p; p = end) {
			long fd = strtol(p, &end, 10);

			if (end == p) {
				end = p + 1;
				continue;
			}
			if (fd > 2 && !inheritable(fd))
				extra++;
		}
		assert_true(extra <= 1);
	}
}

typedef struct thread_arg {
	int id;
	int bad;
} thread_arg;

static void *thread_main(void *p)
{
	thread_arg *a = p;
	const char *argv[] = { "cat", NULL };
	char payload[64];
	cmd_result r;
	int i;

	for (i = 0; i < 15; i++) {
		snprintf(payload, sizeof(payload), "{\"t\":%d,\"i\":%d}",
			 a->id, i);
		run_cmd(&r, argv, payload, 20000);
		if (r.st != ORC_OK || !r.out || strcmp(r.out, payload) != 0)
			a->bad++;
		orc_free(r.out);
	}
	return NULL;
}

static void test_command__threads_run_commands_concurrently(void **state)
{
	pthread_t th[4];
	thread_arg args[4];
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		args[i].id = i;
		args[i].bad = 0;
		assert_int_equal(pthread_create(&th[i], NULL, thread_main,
						&args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].bad, 0);
	}
}

static void test_command__ignored_sigchld_does_not_hang(void **state)
{
	struct sigaction ign, old;
	int64_t t0;
	cmd_result r;

	(void)state;
	/* The kernel reaps the children of a process that ignores
	 * SIGCHLD: waiting must notice, not block for ever. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
	t0 = now_ms();
	run_sh(&r, "cat >/dev/null; echo '{}'", "{}", 0);
	sigaction(SIGCHLD, &old, NULL);
	assert_true(now_ms() - t0 < 5000);
	/* No zombie is left, so the exit status is unknown: a failure
	 * that says why, never a guess. */
	assert_int_equal(r.st, ORC_EUSER);
	assert_non_null(strstr(r.msg, "ignores SIGCHLD"));
	assert_null(r.out);
}

static void test_command__bad_arguments(void **state)
{
	const char *empty[] = { NULL };
	orc__command_req req;
	char *out = (char *)"x";
	orc_error err;

	(void)state;
	memset(&req, 0, sizeof(req));
	assert_int_equal(orc__command_run(&out, NULL, 0, NULL, &err),
			 ORC_EINVAL);
	assert_null(out);
	assert_int_equal(orc__command_run(&out, NULL, 0, &req, &err),
			 ORC_EINVAL);
	req.argv = empty;
	assert_int_equal(orc__command_run(&out, NULL, 0, &req, &err),
			 ORC_EINVAL);
	assert_int_equal(orc__command_run(NULL, NULL, 0, &req, NULL),
			 ORC_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command__stdout_json_is_the_output),
		cmocka_unit_test(test_command__payload_arrives_on_stdin),
		cmocka_unit_test(test_command__empty_stdout_is_null),
		cmocka_unit_test(test_command__huge_timeout_does_not_overflow),
		cmocka_unit_test(test_command__environment_names_the_task),
		cmocka_unit_test(test_command__nonzero_exit_keeps_stderr_tail),
		cmocka_unit_test(test_command__small_error_buffer_keeps_the_end),
		cmocka_unit_test(test_command__non_json_stdout_is_refused),
		cmocka_unit_test(test_command__missing_program_is_a_task_failure),
		cmocka_unit_test(test_command__death_by_signal_is_a_failure),
		cmocka_unit_test(test_command__timeout_kills_the_process_group),
		cmocka_unit_test(test_command__timeout_escalates_to_sigkill),
		cmocka_unit_test(test_command__leftover_children_do_not_hold_the_task),
		cmocka_unit_test(test_command__megabyte_round_trip_without_deadlock),
		cmocka_unit_test(test_command__unread_stdin_does_not_kill_us),
		cmocka_unit_test(test_command__no_descriptor_leaks),
		cmocka_unit_test(test_command__threads_run_commands_concurrently),
		cmocka_unit_test(test_command__ignored_sigchld_does_not_hang),
		cmocka_unit_test(test_command__bad_arguments),
	};
	return cmocka_run_group_tests_name("command", tests, NULL, NULL);
}
