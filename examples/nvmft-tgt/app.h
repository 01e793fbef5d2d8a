/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every part of nvmft-tgt shares: the program name and its logger.
 * Messages go to stderr as "nvmft-tgt: <level>: <text>"; stdout carries only
 * the ready line, so scripts can wait for it.
 */
#ifndef NVMFT_TGT_APP_H
#define NVMFT_TGT_APP_H

#include <nvmft/log.h>

#define APP_NAME "nvmft-tgt"

/* Exit statuses. */
enum {
	APP_EXIT_OK = 0,      /* clean shutdown after SIGINT/SIGTERM */
	APP_EXIT_FAILURE = 1, /* a setup step or a poll group failed */
	APP_EXIT_USAGE = 2,   /* bad flags or configuration; nothing was started */
};

struct app_logger {
	enum nvmft_log_level level;
};

/* Thread-safe: one stdio call per line. */
void app_log(const struct app_logger *lg, enum nvmft_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An nvmft_log_fn for &struct nvmft_target_opts; @arg is a struct app_logger. */
void app_log_lib(void *arg, enum nvmft_log_level level, const char *msg);

#endif /* NVMFT_TGT_APP_H */
