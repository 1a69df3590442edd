/*
 * A reader of a table's real DynamoDB Stream (moto's, or any service
 * speaking the DynamoDB Streams API): DescribeStream, GetShardIterator,
 * GetRecords, with records handed back as Lambda's event source mapping
 * delivers them to a function.
 */
#ifndef ORC_TEST_MOTO_STREAM_H
#define ORC_TEST_MOTO_STREAM_H

#include <jansson.h>

#include "aws/client.h"

typedef struct moto_stream {
	orc__aws_client streams;  /* DynamoDB Streams client */
	char arn[512];            /* the table's latest stream */
	char region[64];
	json_t *iterators;        /* shard id -> next iterator (string) */
} moto_stream;

/* Find @p table's latest stream (DescribeTable) and start reading it at
 * TRIM_HORIZON. Fails the current cmocka test on errors. */
void moto_stream_open(moto_stream *s, const char *table);
void moto_stream_close(moto_stream *s);

/*
 * Append to @p out every record written since the last call, in stream
 * order, each in the shape a Lambda function receives in "Records":
 * eventID, eventName, eventVersion, eventSource, awsRegion, dynamodb
 * {ApproximateCreationDateTime, Keys, NewImage, OldImage,
 * SequenceNumber, SizeBytes, StreamViewType}, eventSourceARN. Returns
 * how many. Fails the current cmocka test on errors.
 */
size_t moto_stream_read(moto_stream *s, json_t *out);

#endif
