/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * DOC: logging
 *
 * The library never writes to stdout, stderr or syslog by itself.  A host
 * application that wants messages installs a callback in the target options
 * (&struct nvmft_target_opts.log_fn); without one the library is silent.
 */
#ifndef NVMFT_LOG_H
#define NVMFT_LOG_H

#include <nvmft/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Levels follow syslog's numbering; lower is more severe. */
enum nvmft_log_level {
	NVMFT_LOG_ERR = 3,
	NVMFT_LOG_WARN = 4,
	NVMFT_LOG_NOTICE = 5,
	NVMFT_LOG_INFO = 6,
	NVMFT_LOG_DEBUG = 7,
};

/**
 * typedef nvmft_log_fn - receives one log message
 * @arg: &struct nvmft_target_opts.log_arg
 * @level: severity
 * @msg: NUL-terminated text without a trailing newline, valid only during
 *       the call
 *
 * Called from whichever thread is inside the library at the time (the
 * management thread or any poll group thread), possibly concurrently: the
 * callback must be thread-safe and must not call back into libnvmft.
 */
typedef void (*nvmft_log_fn)(void *arg, enum nvmft_log_level level, const char *msg);

/**
 * nvmft_log_level_name() - short name of a level ("error", "warning", ...)
 * @level: a level
 *
 * Return: a static string; "unknown" for values outside the enum. Any thread.
 */
NVMFT_API const char *nvmft_log_level_name(enum nvmft_log_level level);

#ifdef __cplusplus
}
#endif

#endif /* NVMFT_LOG_H */
