/*
 * The Lambda Invoke client: POST /2015-03-31/functions/{name}/invocations
 * (REST-JSON) through the AWS core's signed requests (aws/client.c), so
 * endpoint, credentials, SigV4, keep-alive and retries are the DynamoDB
 * backend's. A function error arrives as HTTP 200 with the
 * X-Amz-Function-Error header; it becomes ORC_EUSER, never ORC_OK.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "aws/client.h"
#include "lambda/options.h"
#include "orchestra/lambda.h"

#define FUNCTION_ERROR "X-Amz-Function-Error"
/* Lambda's 15 minute limit and some slack. */
#define DEFAULT_TIMEOUT_MS 905000

struct orc_lambda_client {
	orc__aws_client aws;
	char function_error[64];  /* of the last answer; "" when none */
};

static void on_header(const char *line, size_t len, void *ud)
{
	orc_lambda_client *c = ud;
	const char *v;
	size_t n;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		c->function_error[0] = '\0';
		return;
	}
	if (!orc__http_header_is(line, len, FUNCTION_ERROR, &v, &n))
		return;
	if (n >= sizeof(c->function_error))
		n = sizeof(c->function_error) - 1;
	memcpy(c->function_error, v, n);
	c->function_error[n] = '\0';
	/* Present but empty still means a function error. */
	if (!n)
		orc__strlcpy(c->function_error, "Unhandled",
			     sizeof(c->function_error));
}

ORC_API orc_status orc_lambda_client_create(
	orc_lambda_client **out, const orc_lambda_client_options *opts,
	orc_error *err)
{
	orc_lambda_client_options o;
	orc__aws_client_options ao;
	orc_lambda_client *c;
	orc_status st;

	ORC_CHECK_ARG(out != NULL, err);
	*out = NULL;
	if ((st = orc__lambda_client_options_read(&o, opts, err)) != ORC_OK)
		return st;
	ORC_CHECK_ARG(o.max_attempts >= 0 && o.request_timeout_ms >= 0, err);
	c = orc__calloc(1, sizeof(*c));
	if (!c)
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	memset(&ao, 0, sizeof(ao));
	ao.service = "lambda";
	ao.endpoint_env = "AWS_ENDPOINT_URL_LAMBDA";
	ao.target_prefix = "";
	ao.content_type = "application/json";
	ao.region = o.region;
	ao.endpoint = o.endpoint;
	ao.max_attempts = o.max_attempts;
	ao.request_timeout_ms = o.request_timeout_ms ? o.request_timeout_ms
						     : DEFAULT_TIMEOUT_MS;
	st = orc__aws_client_init(&c->aws, &ao, err);
	if (st != ORC_OK) {
		free(c);
		return st;
	}
	c->aws.on_header = on_header;
	c->aws.on_header_ud = c;
	*out = c;
	return ORC_OK;
}

ORC_API void orc_lambda_client_free(orc_lambda_client *c)
{
	if (!c)
		return;
	orc__aws_client_clear(&c->aws);
	free(c);
}

/* ORC_EUSER naming the function and the payload's errorMessage. */
static orc_status function_failed(orc_lambda_client *c, const char *function,
				  const orc__buf *payload, orc_error *err)
{
	json_t *j = json_loadb(payload->data ? payload->data : "",
			       payload->len, 0, NULL);
	const char *type = json_string_value(json_object_get(j, "errorType"));
	const char *msg = json_string_value(json_object_get(j,
							    "errorMessage"));
	orc_status st;

	if (msg)
		st = orc_error_set(err, ORC_EUSER, "Lambda function %.100s "
				   "failed (%s): %s%s%s", function,
				   c->function_error, type ? type : "",
				   type ? ": " : "", msg);
	else
		st = orc_error_set(err, ORC_EUSER, "Lambda function %.100s "
				   "failed (%s): %.120s", function,
				   c->function_error,
				   payload->len ? payload->data
						: "no error payload");
	json_decref(j);
	if (err) {
		err->detail = 200;
		orc__strlcpy(err->source, "lambda", sizeof(err->source));
	}
	return st;
}

ORC_API orc_status orc_lambda_invoke(orc_lambda_client *c,
				     const char *function,
				     orc_lambda_invocation type,
				     const char *payload, char **response_out,
				     orc_error *err)
{
	orc__aws_reply rep;
	orc__aws_hdr h[2];
	orc__buf path = ORC__BUF_INIT;
	char label[140];
	char *text;
	orc_status st;

	if (response_out)
		*response_out = NULL;
	ORC_CHECK_ARG(c != NULL && function != NULL && *function, err);
	ORC_CHECK_ARG(type == ORC_LAMBDA_REQUEST_RESPONSE ||
		      type == ORC_LAMBDA_EVENT, err);
	if (!payload)
		payload = "{}";
	orc__buf_puts(&path, "/2015-03-31/functions/");
	orc__aws_uri_encode(&path, function, strlen(function), 0);
	orc__buf_puts(&path, "/invocations");
	if (path.oom) {
		orc__buf_free(&path);
		return orc_error_set(err, ORC_ENOMEM, "out of memory");
	}
	h[0].name = "Content-Type";
	h[0].value = "application/json";
	h[1].name = "X-Amz-Invocation-Type";
	h[1].value = type == ORC_LAMBDA_EVENT ? "Event" : "RequestResponse";
	snprintf(label, sizeof(label), "Invoke %.120s", function);
	memset(&rep, 0, sizeof(rep));
	c->function_error[0] = '\0';
	st = orc__aws_request(&rep, &c->aws, "POST", path.data, NULL, h, 2,
			      payload, strlen(payload), label, err);
	orc__buf_free(&path);
	if (st == ORC_OK && c->function_error[0])
		st = function_failed(c, function, &rep.body, err);
	if (st == ORC_OK || st == ORC_EUSER) {
		text = orc__buf_take(&rep.body);
		if (!text) {
			orc__aws_reply_clear(&rep);
			return orc_error_set(err, ORC_ENOMEM, "out of memory");
		}
		if (response_out)
			*response_out = text;
		else
			orc_free(text);
	}
	orc__aws_reply_clear(&rep);
	return st;
}
