/*
 * Start dynalite (npm, pinned in package.json) on a free loopback port for
 * a test process, point the AWS environment at it, stop it afterwards.
 * A missing node or dynalite is a failure, never a skip.
 */
#ifndef ORC_TEST_DYNALITE_H
#define ORC_TEST_DYNALITE_H

/* 0 when dynalite answers; -1 with a message on stderr otherwise. */
int dl_start(void);
/* The port dynalite listens on. */
int dl_port(void);
void dl_stop(void);

#endif
