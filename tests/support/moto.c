/* See moto.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "moto.h"
#include "support/local_aws.h"

static pid_t child = -1;
static int keep = -1;   /* the server's stdin: it stops when this closes */
static int port;

static int absent(const char *why)
{
	const char *ci = getenv("CI");

	if (ci && strcmp(ci, "true") == 0) {
		fprintf(stderr, "moto: %s; CI=true, so this is a failure\n",
			why);
		return -1;
	}
	fprintf(stderr, "moto: %s; SKIPPING the tests that need moto "
		"(install python3 with the moto module to run them)\n", why);
	return MOTO_ABSENT;
}

/* Read the "PORT <n>" line within @p ms; the port, or 0. */
static int read_port(int fd, int ms)
{
	char line[64];
	size_t n = 0;

	while (n < sizeof(line) - 1) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, ms) <= 0)
			return 0;
		r = read(fd, line + n, 1);
		if (r <= 0)
			return 0;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	return strncmp(line, "PORT ", 5) == 0 ? atoi(line + 5) : 0;
}

int moto_start(void)
{
	const char *root = getenv("ORC_SOURCE_ROOT");
	char script[1024], url[64];
	int in[2], out[2], status;
	struct stat sb;

	if (!root || !*root) {
		fprintf(stderr, "moto: ORC_SOURCE_ROOT is not set\n");
		return -1;
	}
	snprintf(script, sizeof(script), "%s/tests/support/moto_server.py",
		 root);
	if (stat(script, &sb) != 0) {
		fprintf(stderr, "moto: %s missing\n", script);
		return -1;
	}
	if (pipe(in) != 0 || pipe(out) != 0) {
		perror("moto: pipe");
		return -1;
	}
	child = fork();
	if (child < 0) {
		perror("moto: fork");
		return -1;
	}
	if (child == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execlp("python3", "python3", script, (char *)NULL);
		fprintf(stderr, "moto: cannot run python3: %s\n",
			strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	keep = in[1];
	/* Children the test starts must not hold the server open. */
	fcntl(keep, F_SETFD, FD_CLOEXEC);
	port = read_port(out[0], 60000);
	close(out[0]);
	if (port <= 0) {
		if (waitpid(child, &status, 0) == child) {
			child = -1;
			close(keep);
			keep = -1;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
				return absent("the python3 module moto is "
					      "not installed");
			if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
				return absent("python3 is not installed");
		}
		fprintf(stderr, "moto: the server did not start\n");
		moto_stop();
		return -1;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	local_aws_env(url, "AKIDMOTO", "moto-secret");
	setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", url, 1);
	return 0;
}

int moto_port(void)
{
	return port;
}

void moto_stop(void)
{
	int status;

	if (keep >= 0) {
		close(keep);
		keep = -1;
	}
	if (child <= 0)
		return;
	/* Closing stdin stops it; SIGTERM covers a server that hangs. */
	kill(child, SIGTERM);
	waitpid(child, &status, 0);
	child = -1;
}

int moto_run_group(const char *name, const struct CMUnitTest *tests,
		   size_t n, CMFixtureFunction setup,
		   CMFixtureFunction teardown)
{
	int rc = moto_start();

	if (rc == MOTO_ABSENT) {
		printf("1..0 # SKIP moto is not installed\n");
		return 0;
	}
	if (rc != 0)
		return 1;
	rc = _cmocka_run_group_tests(name, tests, n, setup, teardown);
	moto_stop();
	return rc;
}
