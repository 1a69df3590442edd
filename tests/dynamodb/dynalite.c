#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dynalite.h"
#include "support/local_aws.h"

static pid_t child = -1;
static int port;

static int free_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		p = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return p;
}

static int answers(int p)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)p);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

int dl_start(void)
{
	const char *root = getenv("ORC_SOURCE_ROOT");
	char cli[1024], ports[16], url[64];
	struct stat sb;
	int i, status;

	if (!root || !*root) {
		fprintf(stderr, "dynalite: ORC_SOURCE_ROOT is not set\n");
		return -1;
	}
	snprintf(cli, sizeof(cli), "%s/node_modules/dynalite/cli.js", root);
	if (stat(cli, &sb) != 0) {
		fprintf(stderr, "dynalite: %s missing: run `npm ci` in the "
			"source root\n", cli);
		return -1;
	}
	port = free_port();
	if (port <= 0) {
		fprintf(stderr, "dynalite: no free port\n");
		return -1;
	}
	snprintf(ports, sizeof(ports), "%d", port);
	child = fork();
	if (child < 0) {
		perror("fork");
		return -1;
	}
	if (child == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execlp("node", "node", cli, "--port", ports, "--host",
		       "127.0.0.1", "--createTableMs", "0", "--deleteTableMs",
		       "0", "--updateTableMs", "0", (char *)NULL);
		fprintf(stderr, "dynalite: cannot run node: %s\n",
			strerror(errno));
		_exit(127);
	}
	for (i = 0; i < 300; i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (answers(port))
			break;
		if (waitpid(child, &status, WNOHANG) == child) {
			fprintf(stderr, "dynalite exited before answering\n");
			child = -1;
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	if (i == 300) {
		fprintf(stderr, "dynalite: no answer on port %d\n", port);
		dl_stop();
		return -1;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	local_aws_env(url, "AKIDDYNALITE", "dynalite-secret");
	return 0;
}

int dl_port(void)
{
	return port;
}

void dl_stop(void)
{
	int status;

	if (child <= 0)
		return;
	kill(child, SIGTERM);
	waitpid(child, &status, 0);
	child = -1;
}
