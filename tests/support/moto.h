/*
 * Start moto (the machine's python3 module: DynamoDB, DynamoDB Streams,
 * TransactWriteItems) on a free loopback port for a test process, behind
 * tests/support/moto_server.py, which serializes its requests; point the
 * AWS environment at it; stop it afterwards.
 */
#ifndef ORC_TEST_MOTO_H
#define ORC_TEST_MOTO_H

/* moto_start() when python3 or its moto module is missing. */
#define MOTO_ABSENT 1

/*
 * 0 when moto answers; MOTO_ABSENT (with a message on stderr) when
 * python3 or moto is missing, so the caller skips; -1 with a message on
 * stderr otherwise, and also for a missing moto when CI=true, so a CI
 * run never skips silently. Needs ORC_SOURCE_ROOT.
 */
int moto_start(void);
/* The port moto listens on. */
int moto_port(void);
void moto_stop(void);

#endif
