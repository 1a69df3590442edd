/*
 * Command targets: run a task as a child process. The payload goes to the
 * child's stdin, its stdout is the task's output (JSON), and the tail of
 * its stderr ends up in the failure message.
 *
 * Each child gets its own process group, so a timeout (and the clean-up
 * after a normal exit) reaches every process it started. Nothing here is
 * global: pipes are close-on-exec from birth (pipe2), the child is made
 * with posix_spawnp (safe in threaded programs), and SIGPIPE is held off
 * only in the calling thread while it writes.
 */
#define _GNU_SOURCE /* pipe2(), GNU strerror_r() on glibc */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "command.h"
#include "internal.h"

extern char **environ;

/* Bytes of stderr kept for the message. */
#define CMD_STDERR_TAIL 1024
/* Beyond this, stdout is refused: a runaway child must not eat memory. */
#define CMD_MAX_OUTPUT ((size_t)64 << 20)
/* Between SIGTERM and SIGKILL on timeout. */
#define CMD_KILL_GRACE_MS 1000
/* After the child exits, how long its pipes may stay open. */
#define CMD_DRAIN_MS 200

typedef struct cmd_run {
	pid_t pid;
	int in_fd, out_fd, err_fd;
	const char *in_data;
	size_t in_len, in_off;
	char *out;
	size_t out_len, out_cap;
	int out_overflow;
	char tail[2 * CMD_STDERR_TAIL];
	size_t tail_len;
	int tail_cut;      /* earlier stderr bytes were dropped */
	int exited;        /* the child is a zombie, not yet reaped */
	int lost;          /* reaped by the system: SIGCHLD is ignored */
	int status;        /* from waitpid, once reaped */
} cmd_run;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* strerror_r comes in two flavours; both end up as text in @p buf. */
static const char *errno_text(int e, char *buf, size_t len)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	return strerror_r(e, buf, len);
#else
	if (strerror_r(e, buf, len) != 0)
		snprintf(buf, len, "errno %d", e);
	return buf;
#endif
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Keep a pipe end off 0, 1 and 2: dup2 onto the same number in the
 * child would keep its close-on-exec flag. */
static int move_high(int *fd)
{
	int n;

	if (*fd > 2)
		return 0;
	n = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (n < 0)
		return -1;
	close(*fd);
	*fd = n;
	return 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* environ minus our three names, plus their values for this task. The
 * strings of environ are borrowed; only the array and ours are owned. */
static char **make_env(const orc__command_req *req, char *own[3])
{
	size_t n = 0, i, k = 0;
	char **env;
	const char *wf = req->wf_id ? req->wf_id : "";
	const char *task = req->task_id ? req->task_id : "";

	while (environ && environ[n])
		n++;
	env = orc__calloc(n + 4, sizeof(*env));
	own[0] = orc__malloc(strlen(wf) + sizeof("ORC_WORKFLOW_ID="));
	own[1] = orc__malloc(strlen(task) + sizeof("ORC_TASK_ID="));
	own[2] = orc__malloc(32);
	if (!env || !own[0] || !own[1] || !own[2]) {
		orc_free(env);
		return NULL;
	}
	sprintf(own[0], "ORC_WORKFLOW_ID=%s", wf);
	sprintf(own[1], "ORC_TASK_ID=%s", task);
	snprintf(own[2], 32, "ORC_ATTEMPT=%ld", (long)req->attempt);
	for (i = 0; i < n; i++) {
		if (has_prefix(environ[i], "ORC_WORKFLOW_ID=") ||
		    has_prefix(environ[i], "ORC_TASK_ID=") ||
		    has_prefix(environ[i], "ORC_ATTEMPT="))
			continue;
		env[k++] = environ[i];
	}
	env[k++] = own[0];
	env[k++] = own[1];
	env[k++] = own[2];
	env[k] = NULL;
	return env;
}

/* Can argv[0] be executed? posix_spawnp says so too, but not on every
 * libc (or under valgrind) before the child exists; then a missing
 * program would look like a program that exited with 127. Returns 0 or
 * an errno value. */
static int find_program(const char *name)
{
	const char *path, *p, *colon;
	char buf[4096];
	int found_noexec = 0;

	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? 0 : errno;
	path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/bin:/usr/bin";
	for (p = path;; p = colon + 1) {
		size_t dl;

		colon = strchr(p, ':');
		dl = colon ? (size_t)(colon - p) : strlen(p);
		if (dl == 0)
			snprintf(buf, sizeof(buf), "%s", name);
		else
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)dl, p, name);
		if (access(buf, X_OK) == 0)
			return 0;
		if (errno == EACCES)
			found_noexec = 1;
		if (!colon)
			break;
	}
	return found_noexec ? EACCES : ENOENT;
}

/* Returns 0, or an errno value. */
static int spawn_child(cmd_run *r, const orc__command_req *req)
{
	int in_p[2] = { -1, -1 }, out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dflt;
	char *own[3] = { NULL, NULL, NULL };
	char **env = NULL;
	int rc = 0, fa_ok = 0, attr_ok = 0;

	if ((rc = find_program(req->argv[0])) != 0)
		return rc;
	if (pipe2(in_p, O_CLOEXEC) != 0 || pipe2(out_p, O_CLOEXEC) != 0 ||
	    pipe2(err_p, O_CLOEXEC) != 0 || move_high(&in_p[0]) != 0 ||
	    move_high(&out_p[1]) != 0 || move_high(&err_p[1]) != 0) {
		rc = errno;
		goto out;
	}
	env = make_env(req, own);
	if (!env) {
		rc = ENOMEM;
		goto out;
	}
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		goto out;
	fa_ok = 1;
	if ((rc = posix_spawnattr_init(&attr)) != 0)
		goto out;
	attr_ok = 1;
	/* Own process group (pgid = pid); no blocked signals; default
	 * actions for the signals a parent commonly ignores. */
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGQUIT);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGHUP);
	sigaddset(&dflt, SIGCHLD);
	if ((rc = posix_spawn_file_actions_adddup2(&fa, in_p[0], 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, out_p[1], 1)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, err_p[1], 2)) != 0 ||
	    (rc = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(&attr, &dflt)) != 0 ||
	    (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
		POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0)
		goto out;
	rc = posix_spawnp(&r->pid, req->argv[0], &fa, &attr,
			  (char *const *)req->argv, env);
	if (rc != 0)
		goto out;
	r->in_fd = in_p[1];
	r->out_fd = out_p[0];
	r->err_fd = err_p[0];
	in_p[1] = out_p[0] = err_p[0] = -1;
	if (set_nonblock(r->in_fd) != 0 || set_nonblock(r->out_fd) != 0 ||
	    set_nonblock(r->err_fd) != 0)
		rc = errno; /* the caller still reaps the child */
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	close_fd(&in_p[0]);
	close_fd(&in_p[1]);
	close_fd(&out_p[0]);
	close_fd(&out_p[1]);
	close_fd(&err_p[0]);
	close_fd(&err_p[1]);
	orc_free(env);
	orc_free(own[0]);
	orc_free(own[1]);
	orc_free(own[2]);
	return rc;
}

/* Write what the pipe takes now. A child that exits without reading
 * its stdin makes write() fail with EPIPE; SIGPIPE is blocked in this
 * thread meanwhile, and the one our write raised is taken back. */
static void feed_stdin(cmd_run *r)
{
	sigset_t pipe_set, old, pending;
	int was_pending, got_epipe = 0;
	ssize_t n;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigemptyset(&pending);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	while (r->in_off < r->in_len) {
		n = write(r->in_fd, r->in_data + r->in_off,
			  r->in_len - r->in_off);
		if (n > 0) {
			r->in_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		got_epipe = n < 0 && errno == EPIPE;
		r->in_off = r->in_len; /* give up on stdin, keep reading */
	}
	if (got_epipe && !was_pending) {
		struct timespec zero = { 0, 0 };

		sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r->in_off >= r->in_len)
		close_fd(&r->in_fd);
}

static void keep_tail(cmd_run *r, const char *buf, size_t n)
{
	if (n >= CMD_STDERR_TAIL) {
		r->tail_cut |= r->tail_len > 0 || n > CMD_STDERR_TAIL;
		memcpy(r->tail, buf + n - CMD_STDERR_TAIL, CMD_STDERR_TAIL);
		r->tail_len = CMD_STDERR_TAIL;
		return;
	}
	if (r->tail_len + n > sizeof(r->tail)) {
		size_t drop = r->tail_len + n - CMD_STDERR_TAIL;

		memmove(r->tail, r->tail + drop, r->tail_len - drop);
		r->tail_len -= drop;
		r->tail_cut = 1;
	}
	memcpy(r->tail + r->tail_len, buf, n);
	r->tail_len += n;
}

/* Read what is there; close on EOF or error. Returns -1 on ENOMEM. */
static int drain(cmd_run *r, int *fd, int is_out)
{
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = read(*fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			close_fd(fd);
			return 0;
		}
		if (!is_out) {
			keep_tail(r, buf, (size_t)n);
			continue;
		}
		if (r->out_overflow || r->out_len + (size_t)n > CMD_MAX_OUTPUT) {
			r->out_overflow = 1;
			continue;
		}
		if (r->out_len + (size_t)n + 1 > r->out_cap) {
			size_t cap = r->out_cap ? r->out_cap : 4096;
			char *p;

			while (cap < r->out_len + (size_t)n + 1)
				cap *= 2;
			p = orc__realloc(r->out, cap);
			if (!p)
				return -1;
			r->out = p;
			r->out_cap = cap;
		}
		memcpy(r->out + r->out_len, buf, (size_t)n);
		r->out_len += (size_t)n;
	}
}

/* Has the child exited? Leaves it a zombie, so its pid, and with it the
 * process group id, cannot be reused before we signal the group. */
static int child_exited(cmd_run *r)
{
	siginfo_t info;

	if (r->exited)
		return 1;
	memset(&info, 0, sizeof(info));
	if (waitid(P_PID, (id_t)r->pid, &info,
		   WEXITED | WNOHANG | WNOWAIT) == 0) {
		r->exited = info.si_pid != 0;
	} else if (errno == ECHILD) {
		/* A process that ignores SIGCHLD has its children reaped
		 * for it: the exit status is gone, and so is the pid. */
		r->exited = r->lost = 1;
	}
	return r->exited;
}

/* Wait up to @p ms for the child to exit; 1 when it has. */
static int wait_exit(cmd_run *r, int64_t ms)
{
	int64_t end = mono_ms() + ms, step = 1;

	while (!child_exited(r)) {
		int64_t left = end - mono_ms();

		if (ms >= 0 && left <= 0)
			return 0;
		orc__sleep_ms(ms >= 0 && step > left ? left : step);
		if (step < 50)
			step *= 2;
	}
	return 1;
}

static void reap(cmd_run *r)
{
	int st = 0;
	pid_t got;

	while ((got = waitpid(r->pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (got < 0)
		r->lost = 1;
	r->status = st;
}

/* Signal the child's process group, while its id is still ours. */
static void kill_group(cmd_run *r, int sig)
{
	if (!r->lost)
		kill(-r->pid, sig);
}

/*
 * Feed stdin and read stdout/stderr until both close or the deadline.
 * Returns 1 on timeout, 0 when the pipes closed (or the child exited and
 * its leftovers were given CMD_DRAIN_MS), -1 on ENOMEM.
 */
static int pump(cmd_run *r, int64_t deadline)
{
	int64_t drain_end = -1;

	while (r->out_fd >= 0 || r->err_fd >= 0) {
		struct pollfd pfd[3];
		int nfd = 0, wait = 200, i;
		int64_t now = mono_ms();

		if (deadline >= 0 && now >= deadline)
			return 1;
		if (deadline >= 0 && deadline - now < wait)
			wait = (int)(deadline - now);
		if (drain_end >= 0) {
			if (now >= drain_end)
				return 0;
			if (drain_end - now < wait)
				wait = (int)(drain_end - now);
		}
		if (r->in_fd >= 0) {
			pfd[nfd].fd = r->in_fd;
			pfd[nfd++].events = POLLOUT;
		}
		if (r->out_fd >= 0) {
			pfd[nfd].fd = r->out_fd;
			pfd[nfd++].events = POLLIN;
		}
		if (r->err_fd >= 0) {
			pfd[nfd].fd = r->err_fd;
			pfd[nfd++].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)nfd, wait) < 0 && errno != EINTR)
			return 0;
		for (i = 0; i < nfd; i++) {
			if (!pfd[i].revents)
				continue;
			if (pfd[i].fd == r->in_fd)
				feed_stdin(r);
			else if (pfd[i].fd == r->out_fd) {
				if (drain(r, &r->out_fd, 1) != 0)
					return -1;
			} else if (pfd[i].fd == r->err_fd) {
				if (drain(r, &r->err_fd, 0) != 0)
					return -1;
			}
		}
		/* The child is gone but something it started still holds
		 * the pipes: end that process group and drain briefly. */
		if (drain_end < 0 && child_exited(r)) {
			kill_group(r, SIGKILL);
			drain_end = mono_ms() + CMD_DRAIN_MS;
		}
	}
	return 0;
}

/* Compose "<what>[; stderr: <tail>]" into @p buf, shortening the tail at
 * its start so that the message always ends with the last stderr bytes. */
static void compose(char *buf, size_t len, const cmd_run *r, const char *what)
{
	const char *tail = r->tail;
	size_t tl = r->tail_len, wl, room;
	int cut = r->tail_cut;

	if (!buf || len == 0)
		return;
	if (tl > CMD_STDERR_TAIL) {
		tail += tl - CMD_STDERR_TAIL;
		tl = CMD_STDERR_TAIL;
		cut = 1;
	}
	while (tl > 0 && (tail[tl - 1] == '\n' || tail[tl - 1] == '\r'))
		tl--;
	wl = strlen(what);
	if (tl == 0) {
		snprintf(buf, len, "%s", what);
		return;
	}
	room = len - 1;
	if (wl + 10 + 3 < room) {
		room -= wl + 10;
		if (tl + (cut ? 3 : 0) > room) {
			tail += tl - (room - 3);
			tl = room - 3;
			cut = 1;
		}
		snprintf(buf, len, "%s; stderr: %s%.*s", what, cut ? "..." : "",
			 (int)tl, tail);
		return;
	}
	/* No room for both: the tail wins, as the contract says. */
	if (tl > room) {
		tail += tl - room;
		tl = room;
	}
	snprintf(buf, len, "%.*s", (int)tl, tail);
}

static orc_status fail(char *buf, size_t len, const cmd_run *r,
		       orc_status code, orc_error *err, int detail,
		       const char *what)
{
	compose(buf, len, r, what);
	orc_error_set(err, code, "%s", buf && len ? buf : what);
	if (err)
		err->detail = detail;
	return code;
}

/* Is @p s (length n) only whitespace? */
static int blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
		    s[i] != '\r')
			return 0;
	return 1;
}

orc_status orc__command_run(char **output_out, char *error_buf,
			    size_t error_len, const orc__command_req *req,
			    orc_error *err)
{
	cmd_run r;
	char what[512], ebuf[128];
	int64_t deadline;
	int timed_out, rc, code;
	json_error_t jerr;
	json_t *doc;

	if (output_out)
		*output_out = NULL;
	if (error_buf && error_len)
		error_buf[0] = '\0';
	ORC_CHECK_ARG(output_out != NULL, err);
	ORC_CHECK_ARG(req != NULL, err);
	ORC_CHECK_ARG(req->argv != NULL && req->argv[0] != NULL, err);
	ORC_CHECK_ARG(req->timeout_ms >= 0, err);

	memset(&r, 0, sizeof(r));
	r.in_fd = r.out_fd = r.err_fd = -1;
	r.in_data = req->payload ? req->payload : "";
	r.in_len = strlen(r.in_data);

	rc = spawn_child(&r, req);
	if (rc != 0 && r.pid <= 0) {
		snprintf(what, sizeof(what), "cannot run '%s': %s",
			 req->argv[0], errno_text(rc, ebuf, sizeof(ebuf)));
		return fail(error_buf, error_len, &r, ORC_EUSER, err, rc, what);
	}
	if (rc != 0) {
		/* Spawned, but our ends are unusable: end it. */
		kill(-r.pid, SIGKILL);
		reap(&r);
		close_fd(&r.in_fd);
		close_fd(&r.out_fd);
		close_fd(&r.err_fd);
		snprintf(what, sizeof(what), "cannot run '%s': %s",
			 req->argv[0], errno_text(rc, ebuf, sizeof(ebuf)));
		return fail(error_buf, error_len, &r, ORC_EUSER, err, rc, what);
	}

	deadline = req->timeout_ms > 0 ? orc__add_sat(mono_ms(), req->timeout_ms)
				       : -1;
	if (r.in_len == 0)
		close_fd(&r.in_fd);
	timed_out = pump(&r, deadline);
	if (timed_out == 0 && deadline >= 0) {
		int64_t left = deadline - mono_ms();

		timed_out = !wait_exit(&r, left > 0 ? left : 0);
	} else if (timed_out == 0) {
		wait_exit(&r, -1);
	}
	if (timed_out == 1) {
		kill_group(&r, SIGTERM);
		wait_exit(&r, CMD_KILL_GRACE_MS);
	}
	/* Whatever is left of the group goes with the child; it is still a
	 * zombie (or alive), so the group id is still ours. */
	kill_group(&r, SIGKILL);
	if (!r.lost)
		reap(&r);
	close_fd(&r.in_fd);
	close_fd(&r.out_fd);
	close_fd(&r.err_fd);

	if (timed_out < 0) {
		orc_free(r.out);
		return orc_error_set(err, ORC_ENOMEM,
				     "command '%s': out of memory", req->argv[0]);
	}
	if (timed_out) {
		orc_free(r.out);
		snprintf(what, sizeof(what),
			 "command '%s' timed out after %lld ms; its process "
			 "group was killed", req->argv[0],
			 (long long)req->timeout_ms);
		return fail(error_buf, error_len, &r, ORC_ETIMEOUT, err, 0,
			    what);
	}
	if (r.lost) {
		orc_free(r.out);
		snprintf(what, sizeof(what), "command '%s': exit status lost "
			 "(this process ignores SIGCHLD)", req->argv[0]);
		return fail(error_buf, error_len, &r, ORC_EUSER, err, 0, what);
	}
	if (WIFSIGNALED(r.status)) {
		orc_free(r.out);
		code = WTERMSIG(r.status);
		snprintf(what, sizeof(what), "command '%s' killed by signal %d",
			 req->argv[0], code);
		return fail(error_buf, error_len, &r, ORC_EUSER, err, code,
			    what);
	}
	code = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
	if (code != 0) {
		orc_free(r.out);
		snprintf(what, sizeof(what), "command '%s' exited with status %d",
			 req->argv[0], code);
		return fail(error_buf, error_len, &r, ORC_EUSER, err, code,
			    what);
	}
	if (r.out_overflow) {
		orc_free(r.out);
		snprintf(what, sizeof(what), "command '%s': stdout is over "
			 "%zu bytes", req->argv[0], CMD_MAX_OUTPUT);
		return fail(error_buf, error_len, &r, ORC_EUSER, err, 0, what);
	}
	if (!r.out || blank(r.out, r.out_len)) {
		orc_free(r.out);
		return ORC_OK; /* empty stdout: the output is null */
	}
	while (r.out_len > 0 && blank(r.out + r.out_len - 1, 1))
		r.out_len--; /* the usual trailing newline is not output */
	r.out[r.out_len] = '\0';
	doc = json_loadb(r.out, r.out_len, JSON_DECODE_ANY, &jerr);
	if (!doc) {
		orc_free(r.out);
		snprintf(what, sizeof(what), "command '%s': stdout is not JSON "
			 "(line %d, column %d: %s)", req->argv[0], jerr.line,
			 jerr.column, jerr.text);
		return fail(error_buf, error_len, &r, ORC_EUSER, err, 0, what);
	}
	json_decref(doc);
	*output_out = r.out;
	return ORC_OK;
}
