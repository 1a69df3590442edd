/*
 * liborchestra - AWS Lambda: a custom runtime (the Runtime API loop of
 * provided.al2023) and a client for the Lambda Invoke API.
 *
 * Built with the lambda part (libcurl, OpenSSL); without it every
 * function here returns ORC_ENOTSUPPORTED. docs/lambda.md describes both.
 *
 * Threads: the runtime loop is single-threaded and calls the handler on
 * the thread that called orc_lambda_runtime_run(). A client is used by
 * one thread at a time; different clients are independent.
 */
#ifndef ORCHESTRA_LAMBDA_H
#define ORCHESTRA_LAMBDA_H

#include "common.h"
#include "status.h"

ORC_BEGIN_DECLS

/**
 * @brief One invocation, as the Runtime API announced it. Strings are
 * borrowed: valid during the handler call only.
 */
typedef struct orc_lambda_context {
	const char *request_id;   /**< Lambda-Runtime-Aws-Request-Id */
	int64_t deadline_ms;      /**< Lambda-Runtime-Deadline-Ms, epoch ms */
	const char *function_arn; /**< Lambda-Runtime-Invoked-Function-Arn */
	const char *trace_id;     /**< Lambda-Runtime-Trace-Id, may be NULL */
	/** Lambda-Runtime-Client-Context, NULL when absent. */
	const char *client_context;
	/** Lambda-Runtime-Cognito-Identity, NULL when absent. */
	const char *cognito_identity;
} orc_lambda_context;

/**
 * @brief A handler. @p event is NUL-terminated JSON of @p len bytes
 * (borrowed for the call). On ORC_OK it sets *response_out to a
 * NUL-terminated JSON text allocated with orc_malloc() or orc_strdup(),
 * which the runtime releases with orc_free() (docs/ownership.md: one
 * allocator). On any other status, err->message becomes
 * errorMessage and the error type is orc_lambda_error_type(err): the
 * status name (e.g. "ORC_EPARSE") unless the handler set its own with
 * orc_lambda_set_error_type(). A *response_out left on failure is
 * released too. @p userdata is the pointer given to
 * orc_lambda_runtime_run().
 */
typedef orc_status (*orc_lambda_handler_fn)(const char *event, size_t len,
					    const orc_lambda_context *ctx,
					    void *userdata,
					    char **response_out,
					    orc_error *err);

/** @brief Options for orc_lambda_runtime_run(). */
typedef struct orc_lambda_runtime_options {
	unsigned int version; /**< ORC_LAMBDA_RUNTIME_OPTIONS_VERSION */
	/** "host:port" of the Runtime API; NULL = $AWS_LAMBDA_RUNTIME_API. */
	const char *api;
	/** Return ORC_OK after this many invocations; 0 = run forever. */
	int max_invocations;
} orc_lambda_runtime_options;

#define ORC_LAMBDA_RUNTIME_OPTIONS_VERSION 1
#define ORC_LAMBDA_RUNTIME_OPTIONS_INIT { ORC_LAMBDA_RUNTIME_OPTIONS_VERSION, \
	NULL, 0 }

/**
 * @brief Fill @p opts with the defaults of ORC_LAMBDA_RUNTIME_OPTIONS_INIT
 * (for bindings); only the fields of @p version are written.
 * @return ORC_OK, ORC_EINVAL (NULL or unknown version).
 * @since 0.1
 */
ORC_API orc_status orc_lambda_runtime_options_init(
	orc_lambda_runtime_options *opts, unsigned int version);

/**
 * @brief Run the Runtime API loop: wait for the next invocation (no
 * timeout: the GET is a long poll), set _X_AMZN_TRACE_ID to its trace id
 * (unset when it has none), call @p fn, post its response or its error
 * ({"errorMessage", "errorType"} with the
 * Lambda-Runtime-Function-Error-Type header), and again.
 *
 * Handler failures are reported to Lambda and the loop goes on. Returns
 * ORC_OK after opts->max_invocations invocations; otherwise only when the
 * Runtime API cannot be used (ORC_EINVAL: no API address, or an
 * opts->version this library does not know; ORC_EBACKEND:
 * unreachable or answering 5xx, as Lambda asks a runtime to exit then).
 * Prints nothing. @p opts NULL = defaults.
 *
 * Sets the process environment variable _X_AMZN_TRACE_ID, so call it
 * from a process's main thread with no other thread reading the
 * environment.
 * @since 0.1
 */
ORC_API orc_status orc_lambda_runtime_run(
	orc_lambda_handler_fn fn, void *userdata,
	const orc_lambda_runtime_options *opts, orc_error *err);

/**
 * @brief Report an init error (POST /runtime/init/error), for a main
 * whose setup failed; it should exit afterwards. @p api NULL =
 * $AWS_LAMBDA_RUNTIME_API; @p cause NULL = a generic ORC_ERROR. The error
 * type is orc_lambda_error_type(cause). ORC_OK when Lambda accepted it.
 * @since 0.1
 */
ORC_API orc_status orc_lambda_runtime_init_error(const char *api,
						 const orc_error *cause,
						 orc_error *err);

/**
 * @brief The errorType reported for @p err: err->type when set (by
 * orc_lambda_set_error_type() after the error was set), else the status
 * name ("ORC_EPARSE"). Borrowed from @p err (or static); never NULL.
 * @since 0.1
 */
ORC_API const char *orc_lambda_error_type(const orc_error *err);

/**
 * @brief Give an error already set (orc_error_set()) its own errorType,
 * such as "TaskFailed": printable ASCII, 1 to sizeof(err->type) - 1
 * bytes, kept in err->type (err->source is left alone). Setting the
 * error again clears it.
 * @return err->code, so `return orc_lambda_set_error_type(err, "X");`
 * works after orc_error_set(); ORC_EINVAL for a NULL or unusable type.
 * @since 0.1
 */
ORC_API orc_status orc_lambda_set_error_type(orc_error *err,
					     const char *type);

/**
 * @brief Milliseconds left before @p ctx's deadline (negative when
 * passed), by the wall clock.
 * @since 0.1
 */
ORC_API int64_t orc_lambda_remaining_ms(const orc_lambda_context *ctx);

/**
 * A Lambda Invoke client: SigV4-signed requests over one kept-alive
 * connection, with the AWS SDKs' standard retries. Region, credentials
 * and endpoint are found as the SDKs find them; the endpoint comes from
 * the options, else AWS_ENDPOINT_URL_LAMBDA, else AWS_ENDPOINT_URL, else
 * https://lambda.<region>.amazonaws.com.
 */
typedef struct orc_lambda_client orc_lambda_client;

/** @brief Options for orc_lambda_client_create(); strings are copied. */
typedef struct orc_lambda_client_options {
	unsigned int version;       /**< ORC_LAMBDA_CLIENT_OPTIONS_VERSION */
	const char *region;         /**< NULL = environment, config file */
	const char *endpoint;       /**< NULL = environment, AWS */
	int max_attempts;           /**< 0 = 3 */
	/** Per HTTP attempt; 0 = 905000 (Lambda's 15 min limit and 5 s). */
	int64_t request_timeout_ms;
} orc_lambda_client_options;

#define ORC_LAMBDA_CLIENT_OPTIONS_VERSION 1
#define ORC_LAMBDA_CLIENT_OPTIONS_INIT { ORC_LAMBDA_CLIENT_OPTIONS_VERSION, \
	NULL, NULL, 0, 0 }

/**
 * @brief Fill @p opts with the defaults of ORC_LAMBDA_CLIENT_OPTIONS_INIT
 * (for bindings); only the fields of @p version are written.
 * @return ORC_OK, ORC_EINVAL (NULL or unknown version).
 * @since 0.1
 */
ORC_API orc_status orc_lambda_client_options_init(
	orc_lambda_client_options *opts, unsigned int version);

/**
 * @brief Create a client. *out belongs to the caller
 * (orc_lambda_client_free()); NULL on failure. @p opts NULL = defaults.
 * @return ORC_OK, ORC_EINVAL (bad option, or an opts->version this
 * library does not know), ORC_ENOMEM, ORC_ENOTSUPPORTED.
 * @since 0.1
 */
ORC_API orc_status orc_lambda_client_create(
	orc_lambda_client **out, const orc_lambda_client_options *opts,
	orc_error *err);

/** @brief Free a client. Accepts NULL. @since 0.1 */
ORC_API void orc_lambda_client_free(orc_lambda_client *c);

/** How orc_lambda_invoke() invokes. */
typedef enum orc_lambda_invocation {
	/** Synchronous: wait for the function's answer. */
	ORC_LAMBDA_REQUEST_RESPONSE = 0,
	/** Asynchronous: Lambda queues the event and answers 202. */
	ORC_LAMBDA_EVENT = 1
} orc_lambda_invocation;

/**
 * @brief Invoke @p function (name, partial or full ARN, with an optional
 * ":qualifier") with @p payload (JSON text; NULL = "{}").
 *
 * ORC_OK: *response_out = the function's payload, NUL-terminated ("" for
 * Event); the caller releases it with orc_free(). A function error (the
 * X-Amz-Function-Error header) is never ORC_OK: it returns ORC_EUSER with
 * *response_out = the error payload (also released with orc_free()), and
 * err->message naming the function and the payload's errorMessage.
 * Other failures: the service's error mapped as for DynamoDB (ORC_EAUTH,
 * ORC_ENOTFOUND, ORC_ETHROTTLED, ORC_ETOOBIG, ORC_EINVAL, ORC_ETIMEOUT,
 * ORC_EBACKEND) with *response_out = NULL. @p response_out may be NULL to
 * drop the payload.
 * @since 0.1
 */
ORC_API orc_status orc_lambda_invoke(orc_lambda_client *c,
				     const char *function,
				     orc_lambda_invocation type,
				     const char *payload, char **response_out,
				     orc_error *err);

ORC_END_DECLS

#endif
