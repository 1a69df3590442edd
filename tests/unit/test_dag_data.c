/*
 * Data-driven DAG loader tests: every case under $ORC_TEST_DATA/valid
 * and $ORC_TEST_DATA/invalid (format in tests/data/README.md). Each
 * group runs all its cases and reports every failing one by name.
 * A third group loads seeded random mutations of all those files (our
 * format and the seed's StartWorkflowRequest): each must load or be
 * refused with a message, never crash (ASan and UBSan in CI).
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

/* ---- mutations ---- */

#define MUTANTS_PER_FILE 300
#define DEFAULT_SEED 20261204u

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: the same sequence on every platform. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static size_t rng_below(uint64_t *s, size_t n)
{
	return n ? (size_t)(rng_next(s) % n) : 0;
}

/* Pieces a hostile or careless file holds: numbers past every bound,
 * ids that break the key layout, terminal controls, a byte order mark,
 * NUL, deep nesting, the keys of both formats. */
static const char *const tokens[] = {
	"#", "\xEF\xBB\xBF", "1e308", "-1e308", "9223372036854775807",
	"-9223372036854775808", "18446744073709551616", "4611686018427387904",
	"0", "-1", "1.5", "null", "true", "[]", "{}", "\"\"", ",", ":", "\"",
	"\\u0000", "\\ud800", "\xC2\x85", "\xE2\x80\xAE", "\xFF", "\x00",
	"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "\"A#\"", "\"dependsOn\"",
	"\"retry\"", "\"timeoutMs\"", "\"intervalMs\"", "\"backoffRate\"",
	"\"maxAttempts\"", "\"maxDelayMs\"", "\"jitter\"", "\"lambdas\"",
	"\"graph\"", "\"tasks\"", "\"taskId\"", "\"targetLambdaArn\"",
	"\"workflowId\"", "\"defaults\"", "\"command\"", "\"handler\"",
	"{\"id\":\"A\"}", "\"dependsOn\":[\"A\"]",
	"\"lambdas\":{\"A#\":\"arn\"},",
	"\"retry\":{\"intervalMs\":1e400},",
};

/* Apply one random edit to @p buf (length *@p len, capacity @p cap). */
static void mutate(char *buf, size_t *len, size_t cap, uint64_t *s)
{
	size_t at = rng_below(s, *len + 1), n, k;
	const char *tok;

	switch (rng_below(s, 5)) {
	case 0: /* one byte changed */
		if (*len)
			buf[rng_below(s, *len)] = (char)rng_below(s, 256);
		break;
	case 1: /* a range removed */
		n = rng_below(s, 16) + 1;
		if (at + n > *len)
			n = *len - at;
		memmove(buf + at, buf + at + n, *len - at - n);
		*len -= n;
		break;
	case 2: /* a range repeated */
		n = rng_below(s, 24) + 1;
		if (at + n > *len)
			n = *len - at;
		if (*len + n <= cap) {
			memmove(buf + at + n, buf + at, *len - at);
			*len += n;
		}
		break;
	case 3: /* a token inserted */
		k = rng_below(s, sizeof(tokens) / sizeof(tokens[0]));
		tok = tokens[k];
		n = strlen(tok) + (tok[0] == '\0'); /* "\x00" is one NUL */
		if (*len + n <= cap) {
			memmove(buf + at + n, buf + at, *len - at);
			memcpy(buf + at, tok, n);
			*len += n;
		}
		break;
	default: /* cut short */
		*len = at;
		break;
	}
}

/* Load @p text; NULL when the outcome is clean, else what went wrong. */
static const char *load_clean(const char *text, size_t len)
{
	orc_dag *dag = (orc_dag *)&dag, *again = NULL;
	char *wf = (char *)&wf, *saved = NULL;
	orc_error err;
	orc_status st;

	memset(&err, 0, sizeof(err));
	st = orc_dag_load(&dag, &wf, text, len, "mutant", &err);
	if (st != ORC_OK) {
		if (dag || wf)
			return "refused, but *out or the id was left set";
		if (!err.message[0] || err.code != st)
			return "refused without a message";
		if (strcmp(orc_status_name(st), "ORC_UNKNOWN") == 0)
			return "refused with an unknown status";
		return NULL;
	}
	/* Accepted: what it accepted saves and loads back the same. */
	if (!dag)
		return "accepted, but no DAG";
	st = orc_dag_save(&saved, dag, NULL);
	if (st == ORC_OK)
		st = orc_dag_load(&again, NULL, saved, strlen(saved), "saved",
				  NULL);
	if (st == ORC_OK &&
	    orc_dag_task_count(again) != orc_dag_task_count(dag))
		st = ORC_ERROR;
	orc_dag_free(again);
	orc_free(saved);
	orc_dag_free(dag);
	orc_free(wf);
	return st == ORC_OK ? NULL : "accepted, but does not save and load "
				     "back";
}

static void mutate_kind(const char *kind, uint64_t seed, size_t *loads,
			size_t *failed)
{
	char *names[MAX_CASES], dir[512], path[700];
	size_t i, n, m, len, cap, k, steps;
	uint64_t s;
	const char *why;
	char *orig, *buf;

	n = list_cases(names, kind, dir, sizeof(dir));
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s/input.json", dir, names[i]);
		orig = slurp(path);
		assert_non_null(orig);
		cap = strlen(orig) * 2 + 512;
		buf = malloc(cap);
		assert_non_null(buf);
		for (m = 0; m < MUTANTS_PER_FILE; m++) {
			/* Each mutant has its own stream: one can be
			 * replayed alone from (seed, file, index). */
			s = seed ^ (0x9E3779B97F4A7C15ULL * (i + 1)) ^
			    ((uint64_t)m << 32) ^ m;
			if (!s)
				s = 1;
			len = strlen(orig);
			memcpy(buf, orig, len);
			steps = rng_below(&s, 4) + 1;
			for (k = 0; k < steps; k++)
				mutate(buf, &len, cap, &s);
			why = load_clean(buf, len);
			(*loads)++;
			if (why) {
				print_error("seed %llu (ORC_TEST_SEED repeats "
					    "it), %s/%s mutant %zu: %s: "
					    "%.*s\n", (unsigned long long)seed,
					    kind, names[i], m, why, (int)len,
					    buf);
				(*failed)++;
			}
		}
		free(buf);
		free(orig);
		free(names[i]);
	}
}

static void test_dag_data__mutated_files_load_or_fail_cleanly(void **state)
{
	const char *env = getenv("ORC_TEST_SEED");
	uint64_t seed = env && *env ? strtoull(env, NULL, 0) : DEFAULT_SEED;
	size_t loads = 0, failed = 0;

	(void)state;
	mutate_kind("valid", seed, &loads, &failed);
	mutate_kind("invalid", seed, &loads, &failed);
	if (failed)
		fail_msg("seed %llu: %zu of %zu mutants not handled cleanly",
			 (unsigned long long)seed, failed, loads);
	if (loads < (MIN_VALID + MIN_INVALID) * MUTANTS_PER_FILE)
		fail_msg("only %zu mutants loaded", loads);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dag_data__valid_cases),
		cmocka_unit_test(test_dag_data__invalid_cases),
		cmocka_unit_test(
			test_dag_data__mutated_files_load_or_fail_cleanly),
	};

	return cmocka_run_group_tests_name("dag_data", tests, NULL, NULL);
}
