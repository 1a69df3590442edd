/*
 * A DynamoDB Stream for tests against dynalite, which has none: scan the
 * table, and turn what changed since the last scan into Lambda's
 * DynamoDB Streams records (INSERT / MODIFY with old and new images).
 */
#ifndef ORC_TEST_TABLE_STREAM_H
#define ORC_TEST_TABLE_STREAM_H

#include <jansson.h>

typedef struct table_stream {
	const char *table;     /* borrowed */
	json_t *seen;          /* "pk|sk" -> item, as last scanned */
	int next_event;
} table_stream;

void table_stream_init(table_stream *s, const char *table);
void table_stream_clear(table_stream *s);

/* Every item of @p table, keyed "pk|sk" (consistent Scan pages). */
json_t *table_stream_scan(const char *table);

/* Scan the table and append a record to @p out for each item that is
 * new or changed since the last call; returns how many. Fails the
 * current cmocka test on errors. */
size_t table_stream_poll(table_stream *s, json_t *out);

/* {"Records": records} as compact text (free()). */
char *table_stream_batch(json_t *records);

#endif
