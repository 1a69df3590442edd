/*
 * A proxy in front of dynalite for the Lambda tests: counts the
 * DynamoDB requests the handler processes make, by operation, and the
 * conditional writes refused (ConditionalCheckFailedException); and
 * fails chosen requests on purpose (transient faults). The functions
 * are pointed at it (AWS_ENDPOINT_URL_DYNAMODB), the test's own reads
 * go straight to dynalite, so they are not counted.
 */
#ifndef ORC_TEST_DDB_COUNT_H
#define ORC_TEST_DDB_COUNT_H

#include <pthread.h>

enum dc_op { DC_GET, DC_PUT, DC_UPDATE, DC_DELETE, DC_QUERY, DC_SCAN,
	     DC_BATCH_WRITE, DC_BATCH_GET, DC_TRANSACT, DC_OTHER, DC_OPS };

/* What the proxy does to an armed request. */
enum dc_fault {
	DC_500,        /* not forwarded, answered 500 InternalServerError */
	DC_FWD_500,    /* forwarded and applied, then answered 500 */
	DC_THROTTLE    /* not forwarded, answered ThrottlingException */
};

typedef struct ddb_count ddb_count;

/* Start a proxy in front of dynalite (dl_start() first); 0 on success.
 * Its URL is ddb_count_url(). */
int ddb_count_start(ddb_count **out);
const char *ddb_count_url(const ddb_count *c);
void ddb_count_stop(ddb_count *c);

/* Zero the counters. */
void ddb_count_reset(ddb_count *c);
/* Requests of one operation, all of them, the refused conditionals. */
int ddb_count_op(ddb_count *c, enum dc_op op);
int ddb_count_total(ddb_count *c);
int ddb_count_ccf(ddb_count *c);
/* "GetItem 5, UpdateItem 9, ..." for messages (static buffer). */
const char *ddb_count_describe(ddb_count *c);

/* Fault the next @p times requests whose X-Amz-Target contains
 * @p target (e.g. "UpdateItem"; "" = any), after letting @p skip of
 * them through. */
void ddb_count_arm(ddb_count *c, const char *target, enum dc_fault f,
		   int skip, int times);
/* Faults done so far. */
int ddb_count_faults(ddb_count *c);

#endif
