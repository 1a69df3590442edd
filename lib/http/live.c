/*
 * Live updates (docs/http.md, "Live updates"). Each poll reads, when
 * the watched file changed (SQLite: the database and its WAL) or at
 * every poll when there is none (DynamoDB): the watched workflow's
 * snapshot, sent when its document changed, and every tenth poll (or
 * each change of the file) the workflow list, whose changed entries
 * are sent. Runs made by any process show, since only the stored state
 * is read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "internal.h"
#include "live.h"

#define SLICE_MS 50
#define KEEPALIVE_MS 15000
#define LIST_EVERY 10

struct orc__live {
	orc_http_api *api;
	char *wf_id;
	char *detail;       /* last document sent */
	json_t *entries;    /* workflowId -> last list entry (compact text) */
	char *out;          /* pending stream bytes */
	size_t len, off;
	int polls;
	int64_t since_ms;   /* time since something was sent */
	struct stat st_db, st_wal;
};

orc__live *orc__live_create(orc_http_api *api, const char *wf_id)
{
	orc__live *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->api = api;
	l->entries = json_object();
	if (!l->entries || (wf_id && !(l->wf_id = strdup(wf_id)))) {
		orc__live_free(l);
		return NULL;
	}
	return l;
}

void orc__live_free(orc__live *l)
{
	if (!l)
		return;
	free(l->wf_id);
	free(l->detail);
	free(l->out);
	json_decref(l->entries);
	free(l);
}

static int append(orc__live *l, const char *s, size_t n)
{
	char *p;

	if (l->off == l->len) {
		l->off = l->len = 0;
	}
	p = realloc(l->out, l->len + n + 1);
	if (!p)
		return -1;
	memcpy(p + l->len, s, n);
	l->out = p;
	l->len += n;
	return 0;
}

/* One SSE event: "data: <message>\n\n". The documents are compact
 * JSON, so they hold no newline. */
static void message(orc__live *l, const char *wf_id, const char *data)
{
	json_t *id = json_string(wf_id);
	char *idtext = id ? json_dumps(id, JSON_ENCODE_ANY) : NULL;
	static const char head[] = "data: {\"type\":\"workflow_update\","
				   "\"workflow_id\":";

	json_decref(id);
	if (!idtext)
		return;
	if (append(l, head, sizeof(head) - 1) == 0 &&
	    append(l, idtext, strlen(idtext)) == 0 &&
	    append(l, ",\"data\":", 8) == 0 &&
	    append(l, data, strlen(data)) == 0)
		append(l, "}\n\n", 3);
	free(idtext);
}

static int same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Did the watched file change since the last read? Always yes without
 * one. */
static int file_changed(orc__live *l)
{
	struct stat db, wal;
	char path[4096];
	int changed;

	if (!l->api->watch_file)
		return 1;
	memset(&db, 0, sizeof(db));
	memset(&wal, 0, sizeof(wal));
	stat(l->api->watch_file, &db);
	snprintf(path, sizeof(path), "%s-wal", l->api->watch_file);
	stat(path, &wal);
	changed = l->polls == 0 || !same_stat(&db, &l->st_db) ||
		  !same_stat(&wal, &l->st_wal);
	l->st_db = db;
	l->st_wal = wal;
	return changed;
}

static void poll_detail(orc__live *l)
{
	int status = 0;
	char *doc = orc__http_detail(&status, l->api, l->wf_id);

	if (doc && status == 200 && (!l->detail || strcmp(doc, l->detail))) {
		message(l, l->wf_id, doc);
		free(l->detail);
		l->detail = doc;
		return;
	}
	free(doc);
}

static void poll_list(orc__live *l, int first)
{
	int status = 0;
	char *doc = orc__http_list(&status, l->api);
	json_t *arr = doc && status == 200 ? json_loads(doc, 0, NULL) : NULL;
	json_t *e;
	size_t i;

	free(doc);
	json_array_foreach(arr, i, e) {
		const char *id = json_string_value(json_object_get(e,
			"workflowId"));
		char *text = json_dumps(e, JSON_COMPACT);
		const char *old = id ? json_string_value(
			json_object_get(l->entries, id)) : NULL;

		if (id && text && (!old || strcmp(old, text) != 0)) {
			if (!first)
				message(l, id, text);
			json_object_set_new(l->entries, id, json_string(text));
		}
		free(text);
	}
	json_decref(arr);
}

size_t orc__live_poll(orc__live *l)
{
	int first = l->polls == 0;
	int changed = file_changed(l);

	orc__http_lock(l->api);
	if (changed && l->wf_id)
		poll_detail(l);
	if (changed && (first || l->api->watch_file ||
			l->polls % LIST_EVERY == 0))
		poll_list(l, first);
	orc__http_unlock(l->api);
	l->polls++;
	return l->len - l->off;
}

size_t orc__live_next(orc__live *l, char *buf, size_t max,
		      atomic_int *stopping)
{
	int64_t waited = 0;
	size_t n;

	while (l->off == l->len) {
		if (atomic_load(stopping))
			return 0;
		if (l->polls == 0 || waited >= l->api->poll_ms) {
			waited = 0;
			if (orc__live_poll(l))
				break;
		}
		if (l->since_ms >= KEEPALIVE_MS) {
			/* A comment line: keeps proxies from closing an
			 * idle stream and lets a gone client be noticed. */
			append(l, ": keepalive\n\n", 13);
			break;
		}
		orc__sleep_ms(SLICE_MS);
		waited += SLICE_MS;
		l->since_ms += SLICE_MS;
	}
	if (atomic_load(stopping))
		return 0;
	l->since_ms = 0;
	n = l->len - l->off < max ? l->len - l->off : max;
	memcpy(buf, l->out + l->off, n);
	l->off += n;
	return n;
}
