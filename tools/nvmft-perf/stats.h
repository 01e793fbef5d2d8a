/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Log-linear latency histogram (HDR style): fixed memory, one array index
 * computation and an increment per sample, no allocation.
 *
 * Values below 2 * PERF_HIST_SUB (256) get a bucket each.  Above that,
 * every power of two is split into PERF_HIST_SUB (128) equal buckets, so a
 * bucket is never wider than 1/128 of its lower bound: a reported
 * percentile is within 0.8% of the true sample.  Values from 2^40 up (18
 * minutes in nanoseconds) share the last bucket; min, max and the sum are
 * kept exactly.
 */
#ifndef NVMFT_PERF_STATS_H
#define NVMFT_PERF_STATS_H

#include <stdint.h>

#define PERF_HIST_SUB_BITS 7
#define PERF_HIST_SUB (1u << PERF_HIST_SUB_BITS)
#define PERF_HIST_LINEAR (2u * PERF_HIST_SUB)
#define PERF_HIST_MAX_BITS 40
#define PERF_HIST_BUCKETS (PERF_HIST_LINEAR + (PERF_HIST_MAX_BITS - PERF_HIST_SUB_BITS - 1) * PERF_HIST_SUB)

struct perf_hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t b[PERF_HIST_BUCKETS];
};

void perf_hist_init(struct perf_hist *h);
void perf_hist_merge(struct perf_hist *dst, const struct perf_hist *src);
/* The value at or below which @pct percent of the samples lie (0 when empty). */
uint64_t perf_hist_percentile(const struct perf_hist *h, double pct);
double perf_hist_mean(const struct perf_hist *h);
/* Lowest value and width of bucket @idx. */
uint64_t perf_hist_bucket_low(uint32_t idx);
uint64_t perf_hist_bucket_width(uint32_t idx);

static inline uint32_t perf_hist_index(uint64_t v)
{
	uint32_t msb, shift;

	if (v < PERF_HIST_LINEAR)
		return (uint32_t)v;
	if (v >> PERF_HIST_MAX_BITS)
		return PERF_HIST_BUCKETS - 1;
	msb = 63u - (uint32_t)__builtin_clzll(v);
	shift = msb - PERF_HIST_SUB_BITS;
	/* v >> shift lies in [SUB, 2 * SUB): the top bits select the bucket. */
	return PERF_HIST_LINEAR + (msb - PERF_HIST_SUB_BITS - 1) * PERF_HIST_SUB +
	       (uint32_t)(v >> shift) - PERF_HIST_SUB;
}

static inline void perf_hist_add(struct perf_hist *h, uint64_t v)
{
	h->b[perf_hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

#endif
