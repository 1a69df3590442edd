/*
 * Status codes: static text, the enum names, and the per-call error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct status_text {
	const char *name;
	const char *text;
};

/* Indexed by orc_status; the numbers are fixed (status.h). */
static const struct status_text status_texts[] = {
	{ "ORC_OK", "success" },
	{ "ORC_ERROR", "unexpected error" },
	{ "ORC_ENOMEM", "out of memory" },
	{ "ORC_EINVAL", "invalid argument" },
	{ "ORC_EPARSE", "parse error" },
	{ "ORC_ENOTFOUND", "not found" },
	{ "ORC_EEXISTS", "already exists" },
	{ "ORC_ECYCLE", "dependency cycle" },
	{ "ORC_ECONFLICT", "version conflict" },
	{ "ORC_ELOCKED", "locked by another owner" },
	{ "ORC_ETOOBIG", "payload too big" },
	{ "ORC_EBACKEND", "backend error" },
	{ "ORC_ETHROTTLED", "throttled" },
	{ "ORC_ETIMEOUT", "timed out" },
	{ "ORC_EAUTH", "authentication failed" },
	{ "ORC_ENOTSUPPORTED", "not supported" },
	{ "ORC_ECANCELED", "canceled" },
	{ "ORC_EUSER", "user callback failed" },
};

ORC_API const char *orc_strerror(orc_status st)
{
	if ((unsigned)st > (unsigned)ORC_STATUS_MAX)
		return "unknown status";
	return status_texts[st].text;
}

ORC_API const char *orc_status_name(orc_status st)
{
	if ((unsigned)st > (unsigned)ORC_STATUS_MAX)
		return "ORC_UNKNOWN";
	return status_texts[st].name;
}

orc_status orc__error_vset(orc_error *err, orc_status code, const char *fmt,
			   va_list ap)
{
	if (!err)
		return code;
	memset(err, 0, sizeof(*err));
	err->code = code;
	if (fmt)
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
	else
		orc__strlcpy(err->message, orc_strerror(code),
			     sizeof(err->message));
	return code;
}

ORC_API orc_status orc_error_set(orc_error *err, orc_status code,
				 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	orc__error_vset(err, code, fmt, ap);
	va_end(ap);
	return code;
}

void orc__error_locate(orc_error *err, const char *source, int line,
		       int column, size_t position)
{
	if (!err)
		return;
	err->line = line;
	err->column = column;
	err->position = position;
	orc__strlcpy(err->source, source ? source : "<string>",
		     sizeof(err->source));
}

int64_t orc__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void orc__sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;  /* interrupted by a signal: sleep the rest */
}
