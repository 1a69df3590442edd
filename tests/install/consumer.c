/*
 * A program built against an installed liborchestra, as a user builds
 * one: with CMake (CMakeLists.txt) and with pkg-config (run.sh). It runs
 * a two-task workflow in-process, b after a, and checks that b saw a's
 * output and that the library it loaded is the one its headers describe.
 * With CONSUMER_AWS it also links liborchestra-aws and calls into it;
 * with CONSUMER_HTTP it links liborchestra-http and starts a listener.
 */
#include <stdio.h>
#include <string.h>

#include <orchestra/orchestra.h>
#ifdef CONSUMER_HTTP
#include <orchestra/http.h>
#endif

static const char wf[] =
	"{\"tasks\": [{\"id\": \"a\", \"handler\": \"a\"},"
	" {\"id\": \"b\", \"handler\": \"b\", \"dependsOn\": [\"a\"]}]}";

static orc_status task_a(orc_handler_call *call, void *payload)
{
	(void)payload;
	return orc_call_set_output(call, "{\"n\": 4021}", NULL);
}

static orc_status task_b(orc_handler_call *call, void *payload)
{
	(void)payload;
	if (!strstr(orc_call_payload(call), "4021")) {
		orc_call_set_error(call, "a's output missing from %s",
				   orc_call_payload(call));
		return ORC_EUSER;
	}
	return orc_call_set_output(call, "{\"n\": 42}", NULL);
}

#ifdef CONSUMER_AWS
/* Without a table name the backend refuses (ORC_EINVAL); a build
 * without the DynamoDB part says ORC_ENOTSUPPORTED. Either way the call
 * went into liborchestra-aws and came back. */
static int aws_call(void)
{
	orc_dynamodb_options opts = ORC_DYNAMODB_OPTIONS_INIT;
	orc_backend *b = NULL;
	orc_error err;
	orc_status st;

	st = orc_dynamodb_backend_open(&b, &opts, &err);
	printf("consumer: orc_dynamodb_backend_open without a table: %s\n",
	       orc_status_name(st));
	if (st != ORC_EINVAL && st != ORC_ENOTSUPPORTED) {
		orc_backend_free(b);
		return 1;
	}
	return b != NULL;
}
#endif

#ifdef CONSUMER_HTTP
/* The API over a memory backend, served on a free loopback port, then
 * stopped. A build without libmicrohttpd says ORC_ENOTSUPPORTED for
 * both; either way the call went into liborchestra-http. */
static int http_call(void)
{
	orc_backend *backend = NULL;
	orc_http_api *api = NULL;
	orc_http_server *srv = NULL;
	orc_error err;
	orc_status st, want = ORC_OK;
	int port = 0;

	memset(&err, 0, sizeof(err));
	st = orc_memory_backend_create(&backend, NULL, &err);
	if (st == ORC_OK)
		st = orc_http_api_create(&api, backend, NULL, &err);
	if (st == ORC_ENOTSUPPORTED)
		want = ORC_ENOTSUPPORTED;
	else if (st != ORC_OK)
		want = ORC_ERROR; /* fails below */
	st = orc_http_server_start(&srv, api, "127.0.0.1:0", &port, &err);
	printf("consumer: orc_http_server_start: %s, port %d%s%s\n",
	       orc_status_name(st), port, err.message[0] ? ": " : "",
	       err.message);
	orc_http_server_stop(srv);
	orc_http_api_free(api);
	orc_backend_free(backend);
	return st != want || (st == ORC_OK && port <= 0);
}
#endif

int main(void)
{
	orc_backend *backend = NULL;
	orc_runner *runner = NULL;
	orc_dag *dag = NULL;
	orc_run_result res = { ORC_WORKFLOW_PENDING, NULL, 0 };
	orc_error err;
	orc_status st;
	int rc;

	if (strcmp(orc_version(), ORC_VERSION_STRING) != 0) {
		fprintf(stderr, "consumer: headers %s, library %s\n",
			ORC_VERSION_STRING, orc_version());
		return 1;
	}
	memset(&err, 0, sizeof(err));
	st = orc_dag_load(&dag, NULL, wf, strlen(wf), "consumer", &err);
	if (st == ORC_OK)
		st = orc_memory_backend_create(&backend, NULL, &err);
	if (st == ORC_OK)
		st = orc_runner_create(&runner, backend, NULL, &err);
	if (st == ORC_OK)
		st = orc_runner_register(runner, "a", task_a, NULL, &err);
	if (st == ORC_OK)
		st = orc_runner_register(runner, "b", task_b, NULL, &err);
	if (st == ORC_OK)
		st = orc_runner_run(&res, runner, "consumer-1", dag, NULL,
				    &err);
	if (st != ORC_OK)
		fprintf(stderr, "consumer: %s: %s\n", orc_status_name(st),
			err.message);
	else
		printf("consumer: liborchestra %s, workflow %s%s%s\n",
		       orc_version(), orc_workflow_state_name(res.state),
		       res.error ? ": " : "", res.error ? res.error : "");
	rc = st == ORC_OK && res.state == ORC_WORKFLOW_SUCCEEDED ? 0 : 1;
	orc_run_result_clear(&res);
	orc_runner_free(runner);
	orc_backend_free(backend);
	orc_dag_free(dag);
#ifdef CONSUMER_AWS
	if (rc == 0)
		rc = aws_call();
#endif
#ifdef CONSUMER_HTTP
	if (rc == 0)
		rc = http_call();
#endif
	return rc;
}
