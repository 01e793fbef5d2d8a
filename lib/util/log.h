/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal logging.  A logger is the target's callback and level; objects
 * keep a pointer to their target's logger so messages from any thread go to
 * the right application callback without global state.
 */
#ifndef NVMFT_UTIL_LOG_H
#define NVMFT_UTIL_LOG_H

#include <nvmft/log.h>

struct nvmft_logger {
	nvmft_log_fn fn;
	void *arg;
	enum nvmft_log_level level;
};

void nvmft_logf(const struct nvmft_logger *lg, enum nvmft_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The level test is inline so that disabled messages cost a compare. */
#define nvmft_log(lg, lvl, ...)                                                        \
	do {                                                                           \
		const struct nvmft_logger *lg_ = (lg);                                 \
		if (lg_ != NULL && lg_->fn != NULL && (int)(lvl) <= (int)lg_->level) \
			nvmft_logf(lg_, (lvl), __VA_ARGS__);                           \
	} while (0)

#define nvmft_err(lg, ...) nvmft_log(lg, NVMFT_LOG_ERR, __VA_ARGS__)
#define nvmft_warn(lg, ...) nvmft_log(lg, NVMFT_LOG_WARN, __VA_ARGS__)
#define nvmft_notice(lg, ...) nvmft_log(lg, NVMFT_LOG_NOTICE, __VA_ARGS__)
#define nvmft_info(lg, ...) nvmft_log(lg, NVMFT_LOG_INFO, __VA_ARGS__)
#define nvmft_debug(lg, ...) nvmft_log(lg, NVMFT_LOG_DEBUG, __VA_ARGS__)

#endif
