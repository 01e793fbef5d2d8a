/* SPDX-License-Identifier: BSD-3-Clause */
/* Monotonic milliseconds for deadlines (keep-alive, drains). */
#ifndef NVMFT_UTIL_TIME_H
#define NVMFT_UTIL_TIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t nvmft_now_ms(void)
{
	struct timespec ts;

	/* Coarse is a vDSO read without a TSC fence; deadlines need no better. */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
