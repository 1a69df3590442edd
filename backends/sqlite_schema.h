/*
 * The SQLite backend's schema and its migrations (sqlite_schema.c),
 * apart from the backend's statements (sqlite.c).
 */
#ifndef ORC_BACKENDS_SQLITE_SCHEMA_H
#define ORC_BACKENDS_SQLITE_SCHEMA_H

#include <stddef.h>

#include <sqlite3.h>

/* Version 2: integer task keys, (workflow key << 32) | position. */
#define SQ_SCHEMA_VERSION 3

/* The most dependencies a task's done set holds as an INTEGER bitmask;
 * more are kept as a BLOB bitset. */
#define SQ_DONE_BITS 62

/*
 * Bring the schema of @p db to SQ_SCHEMA_VERSION in one BEGIN IMMEDIATE
 * transaction, so processes opening a file at once migrate it exactly
 * once. Returns a SQLite result code, with SQLite's message in @p msg on
 * failure; *@p found receives the version the file had (negative or
 * greater than SQ_SCHEMA_VERSION: nothing was done, and the caller must
 * refuse the file).
 */
int orc__sq_migrate(sqlite3 *db, int *found, char *msg, size_t len);

#endif
