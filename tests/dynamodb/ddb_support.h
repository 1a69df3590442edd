/*
 * Helpers of the DynamoDB tests against dynalite: fresh tables, backends
 * on dynalite or on a fault-injecting proxy in front of it, counters.
 */
#ifndef ORC_TEST_DDB_SUPPORT_H
#define ORC_TEST_DDB_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "orchestra/backend.h"
#include "orchestra/backends.h"
#include "orchestra/orchestra.h"
#include "loopback.h"
#include "support/check.h"


/* cmocka group setup and teardown: dynalite started, then stopped. */
int ddb_setup(void **state);
int ddb_teardown(void **state);

/* Create a new table (a name unique in this process) into @p name. */
void ddb_fresh_table(char *name, size_t cap);
/* A backend on @p table; @p endpoint NULL = dynalite; 0 attempts = 3. */
orc_backend *ddb_open_on(const char *table, const char *endpoint,
			 int attempts);
orc_dynamodb_stats ddb_stats(orc_backend *b);
/* Send @p rq to dynalite on @p curl; its answer into @p rs (502 when
 * it could not be reached). */
void ddb_forward(CURL *curl, int port, const lb_req *rq, lb_resp *rs);

/* What the proxy does to a request. */
enum fault {
	PASS,
	FWD_DROP,    /* forwarded, applied by dynalite, the answer lost */
	FWD_500,     /* forwarded, applied, answered 500 */
	THROTTLE,    /* not forwarded, answered ThrottlingException */
	DROP,        /* not forwarded, the connection closed */
	FAULT_KINDS
};

/* DynamoDB operations the proxy counts apart; the rest is OP_OTHER. */
enum ddb_op { OP_GET, OP_PUT, OP_UPDATE, OP_QUERY, OP_SCAN, OP_BATCH,
	      OP_OTHER, OP_KINDS };
extern const char *const ddb_op_names[OP_KINDS];

struct proxy {
	char target[64];   /* X-Amz-Target suffix the fault applies to */
	enum fault fault;
	int skip;          /* matching requests let through first */
	int times;         /* faults left */
	int faults_done;
	/* Random mode: each request faults with rate_pct % chance, of a
	 * kind drawn from rng (seeded by the test, printed on failure). */
	int rate_pct;
	uint64_t rng;
	int by_kind[FAULT_KINDS];
	int requests;
	int by_op[OP_KINDS];   /* requests seen, by operation */
	/* Items DynamoDB read for the answers: ScannedCount of a Query or
	 * Scan, 1 per GetItem that found one. */
	int items_read;
	/* Where requests go: 0 = dynalite, else this loopback port. */
	int upstream_port;
	/* Called after a faulted request was forwarded and applied (its
	 * answer about to be lost), on the proxy's thread: a test's way to
	 * change the store between an attempt and its resend. */
	void (*after_applied)(void *ud);
	void *after_applied_ud;
	CURL *curl;
};

struct fixture {
	struct proxy px;
	char table[64];
	lb_server *srv;
	orc_backend *direct, *viaproxy;
};

/* A fresh table, one backend straight to dynalite, one through the
 * proxy with @p attempts attempts per call and millisecond backoff. */
void fixture_open(struct fixture *f, int attempts);
void fixture_close(struct fixture *f);
/* Fault the next @p times requests whose target contains @p target. */
void fixture_arm(struct fixture *f, const char *target, enum fault fault,
		 int times);

#endif
