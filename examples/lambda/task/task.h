/*
 * The example's task handler, shared by the task function (task/main.c)
 * and the worker that links it in (linked/main.c).
 */
#ifndef ORC_EXAMPLE_TASK_H
#define ORC_EXAMPLE_TASK_H

#include <orchestra/lambda.h>

orc_status example_task(const char *event, size_t len,
			const orc_lambda_context *ctx, void *userdata,
			char **response_out, orc_error *err);

#endif
