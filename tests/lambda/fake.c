/*
 * tests/lambda/fake_lambda.py as a child process (see fake.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "fake.h"

int fake_start(fake_lambda *f, const char *const *args)
{
	const char *root = getenv("ORC_SOURCE_ROOT");
	const char *argv[64];
	char script[1024], line[8192];
	int in[2], out[2], n = 0, i;
	json_t *j;
	FILE *fp;

	memset(f, 0, sizeof(*f));
	f->pid = -1;
	if (!root || !*root) {
		fprintf(stderr, "fake_lambda: ORC_SOURCE_ROOT is not set\n");
		return -1;
	}
	snprintf(script, sizeof(script), "%s/tests/lambda/fake_lambda.py",
		 root);
	argv[n++] = "python3";
	argv[n++] = script;
	for (i = 0; args && args[i] && n < 62; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe(in) != 0 || pipe(out) != 0) {
		perror("pipe");
		return -1;
	}
	f->pid = fork();
	if (f->pid < 0) {
		perror("fork");
		return -1;
	}
	if (f->pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execvp("python3", (char *const *)argv);
		fprintf(stderr, "fake_lambda: cannot run python3: %s\n",
			strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	f->to_child = in[1];
	fp = fdopen(out[0], "r");
	if (!fp || !fgets(line, sizeof(line), fp)) {
		fprintf(stderr, "fake_lambda: no ready line\n");
		if (fp)
			fclose(fp);
		fake_stop(f);
		return -1;
	}
	/* Later output of the server would block on a full pipe: none. */
	fclose(fp);
	j = json_loads(line, 0, NULL);
	if (!j || !json_string_value(json_object_get(j, "invoke"))) {
		fprintf(stderr, "fake_lambda: bad ready line: %s\n", line);
		json_decref(j);
		fake_stop(f);
		return -1;
	}
	snprintf(f->invoke, sizeof(f->invoke), "%s",
		 json_string_value(json_object_get(j, "invoke")));
	json_decref(j);
	f->ready = strdup(line);
	return f->ready ? 0 : -1;
}

const char *fake_runtime(fake_lambda *f, const char *fn, int slot)
{
	char *out = f->rt_buf;
	json_t *j = json_loads(f->ready, 0, NULL);
	const char *s = json_string_value(json_array_get(json_object_get(
		json_object_get(j, "runtimes"), fn), (size_t)slot));

	if (s)
		snprintf(out, sizeof(f->rt_buf), "%s", s);
	json_decref(j);
	return s ? out : NULL;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	char **buf = ud;
	size_t old = *buf ? strlen(*buf) : 0;
	char *nb = realloc(*buf, old + size * n + 1);

	if (!nb)
		return 0;
	memcpy(nb + old, p, size * n);
	nb[old + size * n] = '\0';
	*buf = nb;
	return size * n;
}

static char *request(fake_lambda *f, const char *path,
		     const char *const *hdrs, const char *body)
{
	struct curl_slist *list = NULL;
	char url[1200], *out = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;
	int i;

	if (!c)
		return NULL;
	snprintf(url, sizeof(url), "%s%s", f->invoke, path);
	for (i = 0; hdrs && hdrs[i]; i++)
		list = curl_slist_append(list, hdrs[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	rc = curl_easy_perform(c);
	curl_slist_free_all(list);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		free(out);
		return NULL;
	}
	return out ? out : strdup("");
}

char *fake_post(fake_lambda *f, const char *path, const char *const *hdrs,
		const char *body)
{
	return request(f, path, hdrs, body ? body : "");
}

char *fake_get(fake_lambda *f, const char *path)
{
	return request(f, path, NULL, NULL);
}

void fake_stop(fake_lambda *f)
{
	int status, i;

	if (f->to_child > 0)
		close(f->to_child);
	f->to_child = -1;
	if (f->pid > 0) {
		/* It stops when its stdin closes; force it after 5 s. */
		for (i = 0; i < 500; i++) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };

			if (waitpid(f->pid, &status, WNOHANG) == f->pid)
				break;
			nanosleep(&ts, NULL);
		}
		if (i == 500) {
			kill(f->pid, SIGKILL);
			waitpid(f->pid, &status, 0);
		}
	}
	f->pid = -1;
	free(f->ready);
	f->ready = NULL;
}

int fake_start_with(fake_lambda *f, const char *const *fns,
		    const char *const *envs)
{
	const char *args[62];
	int n = 0, i;

	for (i = 0; fns && fns[i] && n < 58; i++) {
		args[n++] = "--function";
		args[n++] = fns[i];
	}
	for (i = 0; envs && envs[i] && n < 60; i++) {
		args[n++] = "--env";
		args[n++] = envs[i];
	}
	args[n] = NULL;
	return fake_start(f, args);
}
