/*
 * Test helper shared by the SQLite conformance hooks and test_sqlite.c.
 */
#ifndef ORC_TEST_SQLITE_FILES_H
#define ORC_TEST_SQLITE_FILES_H

#include <stdio.h>
#include <stdlib.h>
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

/* A fresh directory for a test group's files, under $TMPDIR or /tmp:
 * 0, or -1 when it cannot be made. */
static inline int sqlite_test_dir_create(char *dir, size_t size,
					 const char *name)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, size, "%s/orc-test-%s-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp", name);
	return mkdtemp(dir) ? 0 : -1;
}

/* Remove it; it must be empty: a test that leaves files fails. */
static inline int sqlite_test_dir_remove(const char *dir)
{
	if (rmdir(dir) != 0) {
		perror("rmdir (a test left files behind)");
		return -1;
	}
	return 0;
}

#endif
