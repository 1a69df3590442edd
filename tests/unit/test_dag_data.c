/*
 * Data-driven DAG loader tests: every case under $ORC_TEST_DATA/valid
 * and $ORC_TEST_DATA/invalid (format in tests/data/README.md). Each
 * group runs all its cases and reports every failing one by name.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "orchestra/orchestra.h"

#define MAX_CASES 256
#define MIN_VALID 8
#define MIN_INVALID 12

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Case directory names under $ORC_TEST_DATA/@p kind, sorted so the
 * order of the run does not depend on the file system. */
static size_t list_cases(char **names, const char *kind, char *dir,
			 size_t dirsize)
{
	const char *root = getenv("ORC_TEST_DATA");
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if (!root || !*root)
		fail_msg("ORC_TEST_DATA is not set; run through meson test");
	snprintf(dir, dirsize, "%s/%s", root, kind);
	d = opendir(dir);
	if (!d)
		fail_msg("cannot open %s", dir);
	while ((de = readdir(d)) != NULL && n < MAX_CASES) {
		if (de->d_name[0] == '.')
			continue;
		names[n] = strdup(de->d_name);
		assert_non_null(names[n]);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	return n;
}

/* Read a whole text file; NULL when it cannot be read. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[len] = '\0';
	fclose(f);
	return buf;
}

/* Returns NULL when the case passes, else a static description. */
static const char *run_valid(const char *dir, const char *name, char *why,
			     size_t whysize)
{
	char path[1024];
	char *exp, *line, *save = NULL;
	orc_dag *dag = NULL;
	orc_error err;
	const uint32_t *order, *levels;
	size_t i = 0, n;

	snprintf(path, sizeof(path), "%s/%s/expected", dir, name);
	exp = slurp(path);
	if (!exp)
		return "cannot read expected";
	snprintf(path, sizeof(path), "%s/%s/input.json", dir, name);
	if (orc_dag_load_file(&dag, NULL, path, &err) != ORC_OK) {
		snprintf(why, whysize, "load failed: %s", err.message);
		free(exp);
		return why;
	}
	n = orc_dag_task_count(dag);
	order = orc_dag_topo_order(dag);
	levels = orc_dag_levels(dag, NULL);
	why[0] = '\0';
	for (line = strtok_r(exp, "\n", &save); line && !why[0];
	     line = strtok_r(NULL, "\n", &save), i++) {
		char *sp = strrchr(line, ' ');
		orc_task_spec s = ORC_TASK_SPEC_INIT;

		if (!sp) {
			snprintf(why, whysize, "bad expected line \"%s\"",
				 line);
			break;
		}
		*sp = '\0';
		if (i >= n) {
			snprintf(why, whysize, "expected more than %zu tasks",
				 n);
			break;
		}
		orc_dag_task_get(&s, dag, order[i], NULL);
		if (strcmp(s.id, line) != 0)
			snprintf(why, whysize, "position %zu: got %s, "
				 "expected %s", i, s.id, line);
		else if (levels[order[i]] != (uint32_t)strtoul(sp + 1, NULL,
							       10))
			snprintf(why, whysize, "%s: level %u, expected %s",
				 s.id, (unsigned)levels[order[i]], sp + 1);
	}
	if (!why[0] && i != n)
		snprintf(why, whysize, "%zu tasks loaded, %zu expected", n, i);
	orc_dag_free(dag);
	free(exp);
	return why[0] ? why : NULL;
}

static const char *run_invalid(const char *dir, const char *name, char *why,
			       size_t whysize)
{
	char path[1024], where[32];
	char *exp, *l1, *l2, *l3, *save = NULL;
	orc_dag *dag = NULL;
	orc_error err;
	orc_status st;

	snprintf(path, sizeof(path), "%s/%s/expected", dir, name);
	exp = slurp(path);
	if (!exp)
		return "cannot read expected";
	l1 = strtok_r(exp, "\n", &save);
	l2 = strtok_r(NULL, "\n", &save);
	l3 = strtok_r(NULL, "\n", &save);
	if (!l1 || !l2 || !l3) {
		free(exp);
		return "expected needs three lines";
	}
	snprintf(path, sizeof(path), "%s/%s/input.json", dir, name);
	st = orc_dag_load_file(&dag, NULL, path, &err);
	if (err.line)
		snprintf(where, sizeof(where), "%d:%d", err.line, err.column);
	else
		snprintf(where, sizeof(where), "-");
	why[0] = '\0';
	if (st == ORC_OK)
		snprintf(why, whysize, "loaded, expected %s", l1);
	else if (strcmp(orc_status_name(st), l1) != 0)
		snprintf(why, whysize, "got %s (%s), expected %s",
			 orc_status_name(st), err.message, l1);
	else if (strcmp(where, l2) != 0)
		snprintf(why, whysize, "at %s, expected %s", where, l2);
	else if (!strstr(err.message, l3))
		snprintf(why, whysize, "message \"%s\" lacks \"%s\"",
			 err.message, l3);
	else if (strcmp(err.source, path) != 0)
		snprintf(why, whysize, "source \"%s\", expected the path",
			 err.source);
	orc_dag_free(dag);
	free(exp);
	return why[0] ? why : NULL;
}

static void run_all(const char *kind, size_t min_cases,
		    const char *(*run)(const char *, const char *, char *,
				       size_t))
{
	char *names[MAX_CASES], dir[512], why[512];
	size_t i, n, failed = 0;

	n = list_cases(names, kind, dir, sizeof(dir));
	for (i = 0; i < n; i++) {
		const char *r = run(dir, names[i], why, sizeof(why));

		if (r) {
			print_error("%s/%s: %s\n", kind, names[i], r);
			failed++;
		}
		free(names[i]);
	}
	if (n < min_cases)
		fail_msg("%zu %s cases, at least %zu expected", n, kind,
			 min_cases);
	if (failed)
		fail_msg("%zu of %zu %s cases failed", failed, n, kind);
}

static void test_dag_data__valid_cases(void **state)
{
	(void)state;
	run_all("valid", MIN_VALID, run_valid);
}

static void test_dag_data__invalid_cases(void **state)
{
	(void)state;
	run_all("invalid", MIN_INVALID, run_invalid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dag_data__valid_cases),
		cmocka_unit_test(test_dag_data__invalid_cases),
	};

	return cmocka_run_group_tests_name("dag_data", tests, NULL, NULL);
}
