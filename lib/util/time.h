/* SPDX-License-Identifier: BSD-3-Clause */
/* Monotonic milliseconds for deadlines (keep-alive, drains). */
#ifndef NVMFT_UTIL_TIME_H
#define NVMFT_UTIL_TIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t nvmft_now_ms(void)
{
	struct timespec ts;

	/*
	 * The same clock the timerfd uses: a coarser one would lag the kernel's
	 * expiry and leave the group spinning on a readable timerfd until it
	 * caught up.  Still a vDSO read.
	 */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
