/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdarg.h>
#include <stdio.h>

#include "util/compiler.h"
#include "util/log.h"

void nvmft_logf(const struct nvmft_logger *lg, enum nvmft_log_level level, const char *fmt, ...)
{
	/* A fixed buffer: logging must not allocate on the I/O path. */
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	lg->fn(lg->arg, level, buf);
}

NVMFT_EXPORT const char *nvmft_log_level_name(enum nvmft_log_level level)
{
	switch (level) {
	case NVMFT_LOG_ERR:
		return "error";
	case NVMFT_LOG_WARN:
		return "warning";
	case NVMFT_LOG_NOTICE:
		return "notice";
	case NVMFT_LOG_INFO:
		return "info";
	case NVMFT_LOG_DEBUG:
		return "debug";
	}
	return "unknown";
}
