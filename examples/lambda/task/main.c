/*
 * A task function for the seed's workflow, in C (task.c says what it
 * computes): the targets of the example's tasks.
 */
#include "task.h"

int main(void)
{
	orc_error err;

	orc_lambda_runtime_run(example_task, NULL, NULL, &err);
	return 1;
}
