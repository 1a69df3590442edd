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

/*
 * The main() of a cmocka group that needs moto: start it, run the
 * group, stop it. Where moto is absent (not with CI=true), TAP's
 * "1..0 # SKIP" and 0. Include cmocka.h first.
 */
#define MOTO_RUN_GROUP(name, tests, setup, teardown)                      \
	moto_run_group(name, tests, sizeof(tests) / sizeof((tests)[0]),   \
		       setup, teardown)
int moto_run_group(const char *name, const struct CMUnitTest *tests,
		   size_t n, CMFixtureFunction setup,
		   CMFixtureFunction teardown);

#endif
