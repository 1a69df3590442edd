/*
 * The HTTP API as a user reaches it: `orchestra serve` started as a
 * process on a free loopback port, requests through libcurl, on the
 * store named by argv[1]: "sqlite" (a file of the build) or "dynamodb"
 * (dynalite, started here; missing node or dynalite fails).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "support/check.h"
#include "dynamodb/dynalite.h"

#define TOKEN "test-token-3f9a"

static const char *orchestra;  /* the binary */
static const char *store[5];   /* its store options, NULL-ended */
static char db_path[256], table[64];

typedef struct srv {
	pid_t pid;
	int port;
} srv;

/* The server a failed test left running: it holds the test's stdout,
 * so it is killed before the next test and at the end. */
static pid_t left_running;

static void kill_left(void)
{
	if (left_running > 0) {
		kill(left_running, SIGKILL);
		waitpid(left_running, NULL, 0);
	}
	left_running = 0;
}

/* Run orchestra with @p args (NULL-terminated, after the store options
 * when @p with_store); returns its exit status. */
static int run_cmd(const char *const *args, int with_store)
{
	const char *argv[32];
	int n = 0, i, status;
	pid_t pid;

	argv[n++] = orchestra;
	for (i = 0; args[i]; i++)
		argv[n++] = args[i];
	for (i = 0; with_store && store[i]; i++)
		argv[n++] = store[i];
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		execv(orchestra, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* `orchestra serve --listen 127.0.0.1:0 STORE EXTRA...`; the port is
 * read from its first line. */
static srv serve(const char *const *extra)
{
	const char *argv[32];
	char line[256];
	size_t len = 0;
	int n = 0, i, fds[2];
	srv s = { 0, 0 };
	struct pollfd pfd;

	argv[n++] = orchestra;
	argv[n++] = "serve";
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	for (i = 0; store[i]; i++)
		argv[n++] = store[i];
	for (i = 0; extra && extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	assert_int_equal(pipe(fds), 0);
	s.pid = fork();
	assert_true(s.pid >= 0);
	if (s.pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execv(orchestra, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	left_running = s.pid;
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	while (len + 1 < sizeof(line) && !memchr(line, '\n', len)) {
		ssize_t r;

		if (poll(&pfd, 1, 30000) <= 0)
			fail_msg("orchestra serve printed no address in 30 s");
		r = read(fds[0], line + len, sizeof(line) - 1 - len);
		if (r <= 0)
			fail_msg("orchestra serve exited before listening");
		len += (size_t)r;
		line[len] = '\0';
	}
	close(fds[0]);
	if (sscanf(line, "listening on http://127.0.0.1:%d/", &s.port) != 1)
		fail_msg("unexpected first line: %s", line);
	return s;
}

static void stop(srv s)
{
	int status;

	kill(s.pid, SIGTERM);
	assert_int_equal(waitpid(s.pid, &status, 0), s.pid);
	left_running = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

typedef struct buf {
	char *p;
	size_t n;
} buf;

static size_t sink(char *data, size_t size, size_t nmemb, void *payload)
{
	buf *b = payload;
	size_t n = size * nmemb;
	char *p = realloc(b->p, b->n + n + 1);

	if (!p)
		return 0;
	memcpy(p + b->n, data, n);
	b->p = p;
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

/* One request; returns the status and the body parsed as JSON in
 * *doc (NULL when not JSON). Extra header lines in @p hdrs. */
static long req(const srv *s, const char *method, const char *path,
		const char *body, size_t len, const char *const *hdrs,
		json_t **doc)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[1024];
	buf b = { NULL, 0 };
	long code = 0;
	int i;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	}
	h = curl_slist_append(h, "Expect:");
	for (i = 0; hdrs && hdrs[i]; i++)
		h = curl_slist_append(h, hdrs[i]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (curl_easy_perform(c) != CURLE_OK)
		fail_msg("%s %s: no answer", method, path);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (doc)
		*doc = b.p ? json_loads(b.p, JSON_DECODE_ANY, NULL) : NULL;
	free(b.p);
	return code;
}

static const char *const json_auth[] = { "Content-Type: application/json",
	"Authorization: Bearer " TOKEN, NULL };
static const char *const json_only[] = { "Content-Type: application/json",
	NULL };

static long post(const srv *s, const char *path, const char *body,
		 json_t **doc)
{
	return req(s, "POST", path, body, strlen(body), json_auth, doc);
}

static void expect_error(json_t *doc, const char *field, const char *part)
{
	const char *msg = json_string_value(json_object_get(doc, "error"));

	assert_non_null(doc);
	assert_true(json_is_false(json_object_get(doc, "ok")));
	assert_non_null(msg);
	if (field)
		assert_string_equal(json_string_value(json_object_get(doc,
			"field")), field);
	if (part && !strstr(msg, part))
		fail_msg("error '%s' does not say '%s'", msg, part);
	json_decref(doc);
}

/* The workflow list has @p id; its status, or NULL. */
static char *list_status(const srv *s, const char *id)
{
	json_t *doc, *e;
	size_t i;
	char *out = NULL;

	assert_int_equal(req(s, "GET", "/workflows", NULL, 0, NULL, &doc),
			 200);
	assert_true(json_is_array(doc));
	json_array_foreach(doc, i, e)
		if (strcmp(json_string_value(json_object_get(e, "workflowId")),
			   id) == 0)
			out = strdup(json_string_value(json_object_get(e,
				"status")));
	json_decref(doc);
	return out;
}

static const char seed[] =
	"{\"workflowId\": \"seed-1\","
	" \"lambdas\": {\"A\": \"arn:aws:lambda:us-east-1:123456789012:"
	"function:t\", \"B1\": \"arn:aws:lambda:us-east-1:123456789012:"
	"function:t\", \"B2\": \"arn:aws:lambda:us-east-1:123456789012:"
	"function:t\", \"B3\": \"arn:aws:lambda:us-east-1:123456789012:"
	"function:t\", \"C\": \"arn:aws:lambda:us-east-1:123456789012:"
	"function:t\"},"
	" \"graph\": [{\"taskId\": \"A\", \"dependsOn\": []},"
	"  {\"taskId\": \"B1\", \"dependsOn\": [\"A\"]},"
	"  {\"taskId\": \"B2\", \"dependsOn\": [\"A\"]},"
	"  {\"taskId\": \"B3\", \"dependsOn\": [\"A\"]},"
	"  {\"taskId\": \"C\", \"dependsOn\": [\"B1\", \"B2\", \"B3\"]}]}";

/* The seed's three routes with its shapes, on a server that only
 * submits (nothing runs the lambdas). */
static void test_seed_shapes(void **state)
{
	srv s;
	json_t *doc, *dag, *t;
	const char *want[] = { "B1", "B2", "B3" };
	char *st;
	size_t i;

	(void)state;
	s = serve((const char *const[]){ "--token", TOKEN, NULL });
	assert_int_equal(post(&s, "/workflows", seed, &doc), 202);
	assert_true(json_is_true(json_object_get(doc, "ok")));
	assert_string_equal(json_string_value(json_object_get(doc,
		"workflowId")), "seed-1");
	json_decref(doc);
	st = list_status(&s, "seed-1");
	assert_non_null(st);
	assert_string_equal(st, "RUNNING");
	free(st);
	assert_int_equal(req(&s, "GET", "/workflows/seed-1", NULL, 0, NULL,
			     &doc), 200);
	assert_string_equal(json_string_value(json_object_get(doc,
		"workflowId")), "seed-1");
	assert_string_equal(json_string_value(json_object_get(doc,
		"status")), "RUNNING");
	dag = json_object_get(doc, "dag");
	assert_int_equal(json_array_size(json_object_get(dag, "A")), 3);
	for (i = 0; i < 3; i++)
		assert_string_equal(json_string_value(json_array_get(
			json_object_get(dag, "A"), i)), want[i]);
	assert_string_equal(json_string_value(json_array_get(
		json_object_get(dag, "B2"), 0)), "C");
	assert_int_equal(json_array_size(json_object_get(dag, "C")), 0);
	assert_int_equal(json_array_size(json_object_get(doc, "tasks")), 5);
	t = json_array_get(json_object_get(doc, "tasks"), 0);
	assert_string_equal(json_string_value(json_object_get(t, "taskId")),
			    "A");
	assert_string_equal(json_string_value(json_object_get(t, "status")),
			    "READY");
	t = json_array_get(json_object_get(doc, "tasks"), 4);
	assert_string_equal(json_string_value(json_object_get(t, "status")),
			    "PENDING");
	json_decref(doc);
	/* One task with its payloads. */
	assert_int_equal(req(&s, "GET", "/workflows/seed-1/tasks/A", NULL, 0,
			     NULL, &doc), 200);
	assert_string_equal(json_string_value(json_object_get(doc, "target")),
			    "arn:aws:lambda:us-east-1:123456789012:function:t");
	assert_true(json_is_null(json_object_get(doc, "output")));
	json_decref(doc);
	/* Starting again with the same definition changes nothing. */
	assert_int_equal(post(&s, "/workflows", seed, &doc), 202);
	json_decref(doc);
	stop(s);
}

/* Bad input is refused with a status that fits, names the field and
 * stores nothing. */
static void test_bad_input(void **state)
{
	srv s;
	json_t *doc;
	char *big, *st;
	size_t n = (2u << 20);

	(void)state;
	s = serve((const char *const[]){ "--token", TOKEN, NULL });
	assert_int_equal(post(&s, "/workflows", "{\"workflowId\": ", &doc),
			 400);
	expect_error(doc, "body", "not JSON");
	assert_int_equal(post(&s, "/workflows", "[1, 2]", &doc), 400);
	expect_error(doc, "body", "JSON object");
	assert_int_equal(post(&s, "/workflows", "{\"tasks\": [{\"id\": \"A\", "
			      "\"command\": [\"true\"]}]}", &doc), 400);
	expect_error(doc, "workflowId", "missing");
	assert_int_equal(post(&s, "/workflows", "{\"workflowId\": \"w\", "
			      "\"tasks\": [{\"id\": \"A\", \"dependsOn\": "
			      "[\"Z\"], \"command\": [\"true\"]}]}", &doc),
			 400);
	expect_error(doc, "body", "Z");
	assert_int_equal(post(&s, "/workflows", "{\"workflowId\": \"a#b\", "
			      "\"tasks\": [{\"id\": \"A\", \"command\": "
			      "[\"true\"]}]}", &doc), 400);
	expect_error(doc, NULL, "#");
	/* Over the 1 MiB bound: refused before the body is read. */
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	assert_int_equal(req(&s, "POST", "/workflows", big, n, json_auth,
			     &doc), 413);
	expect_error(doc, "body", "limit");
	free(big);
	/* No token, a wrong token, a form's content type. */
	assert_int_equal(req(&s, "POST", "/workflows", seed, strlen(seed),
			     json_only, &doc), 401);
	expect_error(doc, "Authorization", "Bearer");
	assert_int_equal(req(&s, "POST", "/workflows", seed, strlen(seed),
			     (const char *const[]){
				     "Content-Type: application/json",
				     "Authorization: Bearer nope", NULL },
			     &doc), 401);
	expect_error(doc, "Authorization", NULL);
	assert_int_equal(req(&s, "POST", "/workflows/seed-1/cancel", "{}", 2,
			     json_only, &doc), 401);
	expect_error(doc, "Authorization", NULL);
	assert_int_equal(req(&s, "POST", "/workflows", seed, strlen(seed),
			     (const char *const[]){
				     "Content-Type: text/plain",
				     "Authorization: Bearer " TOKEN, NULL },
			     &doc), 415);
	expect_error(doc, "Content-Type", NULL);
	/* Nothing of the refused requests was stored. */
	assert_int_equal(req(&s, "GET", "/workflows", NULL, 0, NULL, &doc),
			 200);
	assert_int_equal(json_array_size(doc), 0);
	json_decref(doc);
	/* Unknown ids and routes. */
	assert_int_equal(req(&s, "GET", "/workflows/nope", NULL, 0, NULL,
			     &doc), 404);
	expect_error(doc, NULL, "no such workflow");
	assert_int_equal(post(&s, "/workflows/nope/cancel", "{}", &doc), 404);
	expect_error(doc, "workflowId", NULL);
	assert_int_equal(post(&s, "/workflows", seed, &doc), 202);
	json_decref(doc);
	assert_int_equal(req(&s, "GET", "/workflows/seed-1/tasks/nope", NULL,
			     0, NULL, &doc), 404);
	expect_error(doc, "taskId", NULL);
	assert_int_equal(req(&s, "GET", "/nothing", NULL, 0, NULL, &doc),
			 404);
	expect_error(doc, NULL, NULL);
	assert_int_equal(req(&s, "DELETE", "/workflows/seed-1", NULL, 0,
			     json_auth, &doc), 405);
	expect_error(doc, "method", NULL);
	/* A page whose name was rebound to loopback is refused. */
	assert_int_equal(req(&s, "GET", "/workflows", NULL, 0,
			     (const char *const[]){ "Host: evil.example",
						    NULL }, &doc), 403);
	expect_error(doc, "Host", NULL);
	st = list_status(&s, "seed-1");
	assert_string_equal(st, "RUNNING");
	free(st);
	stop(s);
}

/* 409 on a conflicting start; cancel; an id that is markup comes back
 * as data. */
static void test_conflict_cancel(void **state)
{
	static const char xss[] = "{\"workflowId\": \"<img src=x "
		"onerror=alert(1)>\", \"lambdas\": {\"<b>t</b>\": "
		"\"arn:aws:lambda:us-east-1:123456789012:function:t\"}, "
		"\"graph\": [{\"taskId\": \"<b>t</b>\", \"dependsOn\": []}]}";
	srv s;
	json_t *doc, *t;
	char other[sizeof(seed)];
	char *st;

	(void)state;
	s = serve((const char *const[]){ "--token", TOKEN, NULL });
	assert_int_equal(post(&s, "/workflows", seed, &doc), 202);
	json_decref(doc);
	/* The same id, C depending on B1 only. */
	memcpy(other, seed, sizeof(seed));
	memcpy(strstr(other, "function:t\"}"), "function:u", 10);
	assert_int_equal(post(&s, "/workflows", other, &doc), 409);
	expect_error(doc, "workflowId", "another definition");
	assert_int_equal(post(&s, "/workflows/seed-1/cancel", "{}", &doc),
			 200);
	assert_string_equal(json_string_value(json_object_get(doc, "status")),
			    "CANCELED");
	json_decref(doc);
	assert_int_equal(req(&s, "GET", "/workflows/seed-1", NULL, 0, NULL,
			     &doc), 200);
	t = json_array_get(json_object_get(doc, "tasks"), 0);
	assert_string_equal(json_string_value(json_object_get(t, "status")),
			    "CANCELED");
	json_decref(doc);
	st = list_status(&s, "seed-1");
	assert_string_equal(st, "CANCELED");
	free(st);
	assert_int_equal(post(&s, "/workflows", xss, &doc), 202);
	assert_string_equal(json_string_value(json_object_get(doc,
		"workflowId")), "<img src=x onerror=alert(1)>");
	json_decref(doc);
	assert_int_equal(req(&s, "GET", "/workflows/%3Cimg%20src%3Dx%20"
			     "onerror%3Dalert(1)%3E/tasks/%3Cb%3Et%3C%2Fb%3E",
			     NULL, 0, NULL, &doc), 200);
	assert_string_equal(json_string_value(json_object_get(doc, "taskId")),
			    "<b>t</b>");
	json_decref(doc);
	stop(s);
}

/* Read SSE messages from /events until one carries @p wf_id with
 * status @p want (at the top of its data); 1 when seen in 60 s. */
typedef struct sse {
	buf b;
	const char *wf_id, *want;
	int seen, bad_shape;
} sse;

static size_t sse_sink(char *data, size_t size, size_t nmemb, void *payload)
{
	sse *e = payload;
	char *line, *end;

	if (!sink(data, size, nmemb, &e->b))
		return 0;
	while ((end = strstr(e->b.p, "\n\n")) != NULL) {
		*end = '\0';
		line = strncmp(e->b.p, "data: ", 6) == 0 ? e->b.p + 6 : NULL;
		if (line) {
			json_t *m = json_loads(line, 0, NULL);
			json_t *d = json_object_get(m, "data");

			if (!json_is_object(d) || strcmp(json_string_value(
			    json_object_get(m, "type")), "workflow_update"))
				e->bad_shape = 1;
			else if (strcmp(json_string_value(json_object_get(m,
				 "workflow_id")), e->wf_id) == 0 &&
				 strcmp(json_string_value(json_object_get(d,
				 "status")), e->want) == 0)
				e->seen = 1;
			json_decref(m);
		}
		memmove(e->b.p, end + 2, strlen(end + 2) + 1);
		e->b.n = strlen(e->b.p);
	}
	return e->seen ? 0 : size * nmemb; /* 0 ends the transfer */
}

/* @p start (a child to launch once the stream is open) runs a workflow
 * that the stream must report. */
static int watch(const srv *s, const char *query, const char *wf_id,
		 const char *want, const char *const *start)
{
	CURL *c = curl_easy_init();
	char url[512];
	sse e;
	pid_t child = 0;
	int status;

	memset(&e, 0, sizeof(e));
	e.wf_id = wf_id;
	e.want = want;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/events%s", s->port,
		 query);
	if (start) {
		child = fork();
		if (child == 0) {
			/* After the stream has its baseline. */
			usleep(1500 * 1000);
			int fd = open("/dev/null", O_WRONLY);
			dup2(fd, 1);
			execv(orchestra, (char *const *)start);
			_exit(127);
		}
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &e);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_perform(c);
	curl_easy_cleanup(c);
	free(e.b.p);
	if (child) {
		assert_int_equal(waitpid(child, &status, 0), child);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_false(e.bad_shape);
	return e.seen;
}

/* serve --run executes what it starts; the stream of the workflow
 * reports it SUCCEEDED. */
static void test_run_and_stream(void **state)
{
	static const char wf[] = "{\"workflowId\": \"cmd-1\", \"tasks\": ["
		"{\"id\": \"A\", \"command\": [\"sh\", \"-c\", \"sleep 1; "
		"echo '{\\\"n\\\": 1}'\"]},"
		"{\"id\": \"B\", \"dependsOn\": [\"A\"], \"command\": [\"sh\", "
		"\"-c\", \"echo '{\\\"n\\\": 2}'\"]}]}";
	srv s;
	json_t *doc;

	(void)state;
	s = serve((const char *const[]){ "--token", TOKEN, "--run", NULL });
	/* A server that runs only runs commands. */
	assert_int_equal(post(&s, "/workflows", seed, &doc), 400);
	expect_error(doc, "tasks", "not a command");
	assert_int_equal(post(&s, "/workflows", wf, &doc), 202);
	json_decref(doc);
	assert_true(watch(&s, "?workflowId=cmd-1", "cmd-1", "SUCCEEDED",
			  NULL));
	assert_int_equal(req(&s, "GET", "/workflows/cmd-1/tasks/B", NULL, 0,
			     NULL, &doc), 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
		doc, "output"), "n")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
		json_object_get(json_object_get(doc, "input"), "dependencies"),
		"A"), "n")), 1);
	json_decref(doc);
	stop(s);
}

/* A run made by another process (orchestra run on the same store)
 * reaches the list's stream of a server that runs nothing. */
static void test_other_process(void **state)
{
	char file[300];
	const char *argv[16];
	FILE *f;
	srv s;
	int n = 0, i;

	(void)state;
	snprintf(file, sizeof(file), "%s.wf.json", db_path);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("{\"tasks\": [{\"id\": \"only\", \"command\": [\"sh\", \"-c\", "
	      "\"echo 7\"]}]}", f);
	fclose(f);
	argv[n++] = orchestra;
	argv[n++] = "run";
	argv[n++] = file;
	argv[n++] = "--id";
	argv[n++] = "from-cli";
	argv[n++] = "--plain";
	for (i = 0; store[i]; i++)
		argv[n++] = store[i];
	argv[n] = NULL;
	s = serve(NULL);
	assert_true(watch(&s, "", "from-cli", "SUCCEEDED", argv));
	stop(s);
	unlink(file);
}

/* Beyond loopback without a token, or with an address that is not
 * numeric or an option out of range, serve refuses to start (exit 2). */
static void test_refused_configs(void **state)
{
	(void)state;
	assert_int_equal(run_cmd((const char *const[]){ "serve", "--listen",
		"0.0.0.0:0", NULL }, 1), 2);
	assert_int_equal(run_cmd((const char *const[]){ "serve", "--listen",
		"localhost:0", NULL }, 1), 2);
	assert_int_equal(run_cmd((const char *const[]){ "serve", "--listen",
		"127.0.0.1:99999", NULL }, 1), 2);
	assert_int_equal(run_cmd((const char *const[]){ "serve", "--listen",
		"127.0.0.1", NULL }, 1), 2);
	assert_int_equal(run_cmd((const char *const[]){ "serve", "--poll-ms",
		"1", NULL }, 1), 2);
	assert_int_equal(run_cmd((const char *const[]){ "serve", "--token",
		"", "--listen", "0.0.0.0:0", NULL }, 1), 2);
}

static int setup(void **state)
{
	const char *be = getenv("ORC_HTTP_BACKEND");

	(void)state;
	orchestra = getenv("ORC_ORCHESTRA");
	if (!orchestra)
		fail_msg("ORC_ORCHESTRA is not set");
	snprintf(db_path, sizeof(db_path), "%s/http-test-%ld.db",
		 getenv("ORC_BUILD_DIR") ? getenv("ORC_BUILD_DIR") : ".",
		 (long)getpid());
	if (be && strcmp(be, "dynamodb") == 0) {
		if (dl_start() != 0)
			return -1;
		snprintf(table, sizeof(table), "http-%ld", (long)getpid());
		store[0] = "--backend";
		store[1] = "dynamodb";
		store[2] = "--table";
		store[3] = table;
		if (run_cmd((const char *const[]){ "table", "create", table,
						   NULL }, 0) != 0)
			return -1;
	} else {
		store[0] = "--db";
		store[1] = db_path;
	}
	return 0;
}

static void remove_db(void)
{
	char side[300];

	unlink(db_path);
	snprintf(side, sizeof(side), "%s-wal", db_path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", db_path);
	unlink(side);
}

static int teardown(void **state)
{
	(void)state;
	kill_left();
	if (table[0])
		dl_stop();
	remove_db();
	return 0;
}

/* Each test starts from an empty store. */
static int fresh(void **state)
{
	(void)state;
	kill_left();
	if (table[0]) {
		static int k;

		snprintf(table, sizeof(table), "http-%ld-%d", (long)getpid(),
			 ++k);
		return run_cmd((const char *const[]){ "table", "create", table,
						      NULL }, 0) == 0 ? 0 : -1;
	}
	remove_db();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_seed_shapes, fresh),
		cmocka_unit_test_setup(test_bad_input, fresh),
		cmocka_unit_test_setup(test_conflict_cancel, fresh),
		cmocka_unit_test_setup(test_run_and_stream, fresh),
		cmocka_unit_test_setup(test_other_process, fresh),
		cmocka_unit_test(test_refused_configs),
	};

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, setup, teardown);
}
