/*
 * Test helper shared by the SQLite conformance hooks and test_sqlite.c.
 */
#ifndef ORC_TEST_SQLITE_FILES_H
#define ORC_TEST_SQLITE_FILES_H

#include <stdio.h>
#include <unistd.h>

/* Remove a database file and the files SQLite keeps beside it. */
static inline void sqlite_files_remove(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm",
					      "-journal" };
	char p[600];
	size_t i;

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		unlink(p);
	}
}

#endif
