/*
 * Helpers shared by the subcommands: option parsing, error printing,
 * reading files and --input, loading a workflow for running, opening the
 * database.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("orchestra: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_code(orc_status st)
{
	switch (st) {
	case ORC_OK:
		return CLI_OK;
	case ORC_EINVAL:
	case ORC_EPARSE:
	case ORC_ECYCLE:
	case ORC_EEXISTS:
	case ORC_ETOOBIG:
		return CLI_USAGE;
	case ORC_ENOTFOUND:
		return CLI_NOTFOUND;
	default:
		return CLI_RUNTIME;
	}
}

int cli_fail(const char *what, orc_status st, const orc_error *err)
{
	const char *msg = err && err->message[0] ? err->message
						 : orc_strerror(st);

	if (err && err->line > 0)
		fprintf(stderr, "%s:%d:%d: error: %s\n",
			err->source[0] ? err->source : what, err->line,
			err->column, msg);
	else
		cli_err("%s: %s (%s)", what, msg, orc_status_name(st));
	return cli_code(st);
}

typedef struct opt_def {
	const char *name;
	unsigned bit;
	int has_arg;
} opt_def;

static const opt_def opt_defs[] = {
	{ "input", CLI_O_INPUT, 1 },
	{ "id", CLI_O_ID, 1 },
	{ "db", CLI_O_DB, 1 },
	{ "backend", CLI_O_BACKEND, 1 },
	{ "table", CLI_O_TABLE, 1 },
	{ "format", CLI_O_FORMAT, 1 },
	{ "state", CLI_O_STATE, 1 },
	{ "workers", CLI_O_WORKERS, 1 },
	{ "lease-ms", CLI_O_LEASE, 1 },
	{ "storage-timeout-ms", CLI_O_STORAGE_TIMEOUT, 1 },
	{ "json", CLI_O_JSON, 0 },
	{ "plain", CLI_O_PLAIN, 0 },
};

static int parse_long(long *out, const char *cmd, const char *name,
		      const char *v, long min, long max)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max) {
		cli_err("%s: --%s wants a number from %ld to %ld, not '%s'",
			cmd, name, min, max, v);
		return CLI_USAGE;
	}
	*out = n;
	return CLI_OK;
}

static int set_opt(cli_opts *o, const char *cmd, const opt_def *d,
		   const char *v)
{
	switch (d->bit) {
	case CLI_O_INPUT: o->input = v; break;
	case CLI_O_ID: o->id = v; break;
	case CLI_O_DB:
		/* An unset shell variable: SQLite would take "" as a private
		 * temporary database, and nothing could be resumed. */
		if (!v[0]) {
			cli_err("%s: --db needs a file name, not an empty "
				"string", cmd);
			return CLI_USAGE;
		}
		o->db = v;
		break;
	case CLI_O_BACKEND: o->backend = v; break;
	case CLI_O_TABLE: o->table = v; break;
	case CLI_O_FORMAT: o->format = v; break;
	case CLI_O_STATE: o->state = v; break;
	case CLI_O_WORKERS:
		return parse_long(&o->workers, cmd, d->name, v, 1, 256);
	case CLI_O_LEASE:
		return parse_long(&o->lease_ms, cmd, d->name, v, 100,
				  86400000L);
	case CLI_O_STORAGE_TIMEOUT:
		return parse_long(&o->storage_timeout_ms, cmd, d->name, v, 0,
				  604800000L);
	case CLI_O_JSON: o->json = 1; break;
	case CLI_O_PLAIN: o->plain = 1; break;
	default: break;
	}
	return CLI_OK;
}

int cli_parse(cli_opts *o, const char *cmd, int argc, char **argv,
	      unsigned accepted)
{
	int i, only_pos = 0;

	memset(o, 0, sizeof(*o));
	o->workers = -1;
	o->lease_ms = -1;
	o->storage_timeout_ms = -2;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *v;
		const opt_def *d = NULL;
		size_t n, k;

		if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
			if (o->npos == CLI_MAX_POS) {
				cli_err("%s: too many arguments", cmd);
				return CLI_USAGE;
			}
			o->pos[o->npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			o->help = 1;
			continue;
		}
		if (a[1] != '-') {
			cli_err("%s: unknown option '%s' (see orchestra %s "
				"--help)", cmd, a, cmd);
			return CLI_USAGE;
		}
		eq = strchr(a, '=');
		n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		for (k = 0; k < sizeof(opt_defs) / sizeof(opt_defs[0]); k++)
			if ((opt_defs[k].bit & accepted) &&
			    strlen(opt_defs[k].name) == n &&
			    strncmp(opt_defs[k].name, a + 2, n) == 0)
				d = &opt_defs[k];
		if (!d) {
			cli_err("%s: unknown option '%.*s' (see orchestra %s "
				"--help)", cmd, (int)(n + 2), a, cmd);
			return CLI_USAGE;
		}
		if (!d->has_arg) {
			if (eq) {
				cli_err("%s: --%s takes no value", cmd,
					d->name);
				return CLI_USAGE;
			}
			set_opt(o, cmd, d, NULL);
			continue;
		}
		if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			cli_err("%s: --%s needs a value", cmd, d->name);
			return CLI_USAGE;
		}
		if (set_opt(o, cmd, d, v) != CLI_OK)
			return CLI_USAGE;
	}
	return CLI_OK;
}

int cli_start(cli_opts *o, const char *cmd, int argc, char **argv,
	      unsigned accepted, const char *help, int npos,
	      const char *pos_what)
{
	int rc = cli_parse(o, cmd, argc, argv, accepted);

	if (rc != CLI_OK)
		return rc;
	if (o->help) {
		fputs(help, stdout);
		return CLI_OK;
	}
	if (o->npos != npos) {
		cli_err("%s: expected %s (see orchestra %s --help)", cmd,
			pos_what, cmd);
		return CLI_USAGE;
	}
	if ((accepted & CLI_O_BACKEND) && cli_check_store(o, cmd) != CLI_OK)
		return CLI_USAGE;
	return -1;
}

int cli_open_snapshot(orc_backend **backend, orc_context **ctx,
		      orc_snapshot *snap, const cli_opts *o, const char *id,
		      uint32_t flags, int mode)
{
	char name[300];
	orc_error err;
	orc_status st;
	int rc;

	memset(snap, 0, sizeof(*snap));
	if ((rc = cli_open_store(backend, o, mode)) != CLI_OK)
		return rc;
	memset(&err, 0, sizeof(err));
	st = orc_context_create(ctx, *backend, NULL, &err);
	if (st == ORC_OK)
		st = orc_workflow_snapshot(snap, *ctx, id, flags, &err);
	if (st == ORC_ENOTFOUND && strstr(err.message, "ResourceNotFound")) {
		cli_err("no %s (orchestra table create)",
			cli_store_name(name, sizeof(name), o));
		return CLI_NOTFOUND;
	}
	if (st == ORC_ENOTFOUND) {
		cli_err("no workflow '%s' in %s", id,
			cli_store_name(name, sizeof(name), o));
		return CLI_NOTFOUND;
	}
	if (st != ORC_OK)
		return cli_fail(id, st, &err);
	return CLI_OK;
}

char *cli_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *p;
	size_t len = 0, cap = 0, n;

	if (!f) {
		cli_err("%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			p = realloc(buf, cap + 1);
			if (!p) {
				cli_err("%s: out of memory", path);
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		cli_err("%s: %s", path, strerror(errno));
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	if (strlen(buf) != len) {
		cli_err("%s: contains a NUL byte", path);
		free(buf);
		return NULL;
	}
	return buf;
}

int cli_load_input(char **out, const char *arg)
{
	const char *source = "--input";
	json_error_t jerr;
	json_t *doc;
	char *text;

	*out = NULL;
	if (!arg)
		return CLI_OK;
	if (arg[0] == '@') {
		source = arg + 1;
		text = cli_read_file(arg + 1);
		if (!text)
			return CLI_USAGE;
	} else {
		text = strdup(arg);
		if (!text) {
			cli_err("out of memory");
			return CLI_RUNTIME;
		}
	}
	doc = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (!doc) {
		/* jansson's columns start at 0 at a line's start. */
		fprintf(stderr, "%s:%d:%d: error: input is not JSON: %s\n",
			source, jerr.line > 0 ? jerr.line : 1,
			jerr.column > 0 ? jerr.column : 1, jerr.text);
		free(text);
		return CLI_USAGE;
	}
	json_decref(doc);
	*out = text;
	return CLI_OK;
}

static const char *kind_name(orc_target_kind k)
{
	switch (k) {
	case ORC_TARGET_HANDLER: return "a C handler";
	case ORC_TARGET_LAMBDA: return "a Lambda function";
	case ORC_TARGET_COMMAND: return "a command";
	default: return "no";
	}
}

int cli_check_commands(const orc_dag *dag, const char *source)
{
	size_t i, n = orc_dag_task_count(dag), bad = 0;
	orc_task_spec t = ORC_TASK_SPEC_INIT;

	for (i = 0; i < n; i++) {
		if (orc_dag_task_get(&t, dag, i, NULL) != ORC_OK ||
		    t.target_kind == ORC_TARGET_COMMAND)
			continue;
		if (bad++ < 5)
			cli_err("%s: task '%s' has %s target%s%s; the "
				"orchestra command runs command targets "
				"only (\"command\": [argv...])", source,
				t.id, kind_name(t.target_kind),
				t.target ? " " : "", t.target ? t.target : "");
	}
	if (bad > 5)
		cli_err("%s: ... and %zu more such tasks", source, bad - 5);
	return bad ? CLI_USAGE : CLI_OK;
}

/* The directory of @p path, made absolute. Caller frees. */
static char *dir_of(const char *path)
{
	char *copy = strdup(path), *slash, *abs;

	if (!copy)
		return NULL;
	slash = strrchr(copy, '/');
	if (!slash) {
		free(copy);
		return realpath(".", NULL);
	}
	if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	abs = realpath(copy, NULL);
	free(copy);
	return abs;
}

/* A relative path with a slash that names a file beside the workflow
 * file: resolve it there, so the run does not depend on the current
 * directory. Anything else (a bare program name looked up in PATH, an
 * option, a path that does not exist there) is left as written. */
static char *resolve_arg(const char *dir, const char *arg)
{
	char *joined, *abs;
	size_t n;
	struct stat st;

	if (arg[0] == '/' || !strchr(arg, '/') || arg[0] == '-')
		return NULL;
	n = strlen(dir) + strlen(arg) + 2;
	joined = malloc(n);
	if (!joined)
		return NULL;
	snprintf(joined, n, "%s/%s", dir, arg);
	abs = stat(joined, &st) == 0 ? realpath(joined, NULL) : NULL;
	free(joined);
	return abs;
}

/* Copy @p dag with command argv paths resolved against @p dir. */
static int rebuild(orc_dag **out, const orc_dag *dag, const char *dir,
		   const char *source)
{
	size_t i, j, n = orc_dag_task_count(dag);
	orc_dag *copy = NULL;
	orc_error err;
	orc_status st;
	int rc = CLI_OK;

	*out = NULL;
	if ((st = orc_dag_create(&copy, &err)) != ORC_OK)
		return cli_fail(source, st, &err);
	for (i = 0; i < n && rc == CLI_OK; i++) {
		orc_task_spec t = ORC_TASK_SPEC_INIT;
		size_t argc = 0;
		const char **argv;
		char **owned;

		orc_dag_task_get(&t, dag, i, NULL);
		while (t.argv && t.argv[argc])
			argc++;
		argv = calloc(argc + 1, sizeof(*argv));
		owned = calloc(argc + 1, sizeof(*owned));
		if (!argv || !owned) {
			free(argv);
			free(owned);
			cli_err("out of memory");
			rc = CLI_RUNTIME;
			break;
		}
		for (j = 0; j < argc; j++) {
			owned[j] = resolve_arg(dir, t.argv[j]);
			argv[j] = owned[j] ? owned[j] : t.argv[j];
		}
		t.argv = t.argv ? argv : NULL;
		if ((st = orc_dag_add_task(copy, &t, &err)) != ORC_OK)
			rc = cli_fail(source, st, &err);
		for (j = 0; j < argc; j++)
			free(owned[j]);
		free(owned);
		free(argv);
	}
	for (i = 0; i < n && rc == CLI_OK; i++) {
		const uint32_t *deps;
		size_t nd = orc_dag_deps(&deps, dag, i);
		orc_task_spec t = ORC_TASK_SPEC_INIT, d = ORC_TASK_SPEC_INIT;

		orc_dag_task_get(&t, dag, i, NULL);
		for (j = 0; j < nd && rc == CLI_OK; j++) {
			orc_dag_task_get(&d, dag, deps[j], NULL);
			st = orc_dag_add_dep(copy, t.id, d.id, &err);
			if (st != ORC_OK)
				rc = cli_fail(source, st, &err);
		}
	}
	if (rc == CLI_OK && (st = orc_dag_validate(copy, &err)) != ORC_OK)
		rc = cli_fail(source, st, &err);
	if (rc != CLI_OK) {
		orc_dag_free(copy);
		return rc;
	}
	*out = copy;
	return CLI_OK;
}

int cli_load_workflow(orc_dag **dag_out, char **wf_id_out, const char *path,
		      int for_run)
{
	orc_dag *dag = NULL, *ready = NULL;
	char *wf_id = NULL, *dir;
	orc_error err;
	orc_status st;
	int rc;

	*dag_out = NULL;
	if (wf_id_out)
		*wf_id_out = NULL;
	memset(&err, 0, sizeof(err));
	st = orc_dag_load_file(&dag, &wf_id, path, &err);
	if (st != ORC_OK) {
		/* Whatever is wrong with the file, it is bad input. */
		cli_fail(path, st, &err);
		return st == ORC_ENOMEM ? CLI_RUNTIME : CLI_USAGE;
	}
	if (for_run) {
		if ((rc = cli_check_commands(dag, path)) != CLI_OK)
			goto fail;
		dir = dir_of(path);
		if (!dir) {
			cli_err("%s: %s", path, strerror(errno));
			rc = CLI_USAGE;
			goto fail;
		}
		rc = rebuild(&ready, dag, dir, path);
		free(dir);
		if (rc != CLI_OK)
			goto fail;
		orc_dag_free(dag);
		dag = ready;
	}
	*dag_out = dag;
	if (wf_id_out)
		*wf_id_out = wf_id;
	else
		orc_free(wf_id);
	return CLI_OK;
fail:
	orc_dag_free(dag);
	orc_free(wf_id);
	return rc;
}

int cli_open_db(orc_backend **out, const char *path)
{
	orc_sqlite_options so = ORC_SQLITE_OPTIONS_INIT;
	orc_error err;
	orc_status st;

	memset(&err, 0, sizeof(err));
	st = orc_sqlite_backend_open(out, path, &so, &err);
	if (st != ORC_OK) {
		cli_err("cannot open database %s: %s", path,
			err.message[0] ? err.message : orc_strerror(st));
		return st == ORC_EINVAL ? CLI_USAGE : CLI_RUNTIME;
	}
	return CLI_OK;
}

/* Code points a terminal would act on rather than show: C0 and C1
 * controls, DEL, and the invisible and direction-changing marks
 * (U+202E turns the rest of a line around). */
static int unsafe_cp(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x61c ||
	       (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
	       (c >= 0x2060 && c <= 0x2069) || c == 0xfeff;
}

/* The UTF-8 sequence at @p s: its code point and length, or 0 when it
 * is not valid UTF-8 (the byte is then escaped alone). */
static size_t utf8_at(uint32_t *cp, const unsigned char *s)
{
	size_t n, i;
	uint32_t c = s[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	n = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
	if (n == 0 || c >= 0xf5)
		return 0;
	c &= 0x3f >> (n - 1);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 ||
						 c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Append the terminal-safe form of the character at @p s to @p out
 * (room for 8 bytes + NUL); returns the bytes of @p s consumed. */
static size_t safe_char(char *out, const char *s, int spaces)
{
	uint32_t cp = 0;
	size_t n = utf8_at(&cp, (const unsigned char *)s);

	if (n == 0)
		snprintf(out, 9, "\\x%02X", (unsigned)(unsigned char)*s);
	else if (spaces && (cp == '\n' || cp == '\r' || cp == '\t'))
		snprintf(out, 9, " ");
	else if (unsafe_cp(cp))
		snprintf(out, 9, "\\u%04X", (unsigned)cp);
	else
		snprintf(out, 9, "%.*s", (int)n, s);
	return n ? n : 1;
}

const char *cli_safe(char *buf, size_t len, const char *s)
{
	size_t at = 0, k;
	char one[9];

	if (len == 0)
		return "";
	buf[0] = '\0';
	while (*s) {
		s += safe_char(one, s, 0);
		k = strlen(one);
		if (at + k + 4 > len) {
			snprintf(buf + at, len - at, "...");
			break;
		}
		memcpy(buf + at, one, k + 1);
		at += k;
	}
	return buf;
}

void cli_print_line(FILE *f, const char *s, size_t max)
{
	size_t i = 0;
	char one[9];

	while (s[i] && i < max) {
		i += safe_char(one, s + i, 1);
		fputs(one, f);
	}
	if (s[i])
		fputs("...", f);
}

const char *cli_elapsed(char *buf, size_t len, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (ms < 60000)
		snprintf(buf, len, "%.1fs", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, len, "%lldm%02llds", (long long)(ms / 60000),
			 (long long)(ms / 1000 % 60));
	else
		snprintf(buf, len, "%lldh%02lldm", (long long)(ms / 3600000),
			 (long long)(ms / 60000 % 60));
	return buf;
}

int64_t cli_task_elapsed(const orc_task_rec *t, int64_t now)
{
	if (t->started_ms <= 0)
		return 0;
	if (orc_task_state_is_terminal(t->state) && t->ended_ms > 0)
		return t->ended_ms - t->started_ms;
	if (t->state == ORC_TASK_RUNNING)
		return now - t->started_ms;
	return 0;
}

int64_t cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
