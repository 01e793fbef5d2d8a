/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging to stderr.  The library calls app_log_lib() from any thread,
 * possibly at once: each line is a single fprintf, which stdio performs
 * under the stream's lock, so lines never interleave.
 */
#include <stdarg.h>
#include <stdio.h>

#include <nvmft/nvmft.h>

#include "app.h"

void app_log(const struct app_logger *lg, enum nvmft_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if ((int)level > (int)lg->level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, APP_NAME ": %s: %s\n", nvmft_log_level_name(level), msg);
}

void app_log_lib(void *arg, enum nvmft_log_level level, const char *msg)
{
	const struct app_logger *lg = arg;

	/* The target filters by level already; this keeps the two in step. */
	if ((int)level > (int)lg->level)
		return;
	fprintf(stderr, APP_NAME ": %s: libnvmft: %s\n", nvmft_log_level_name(level), msg);
}
