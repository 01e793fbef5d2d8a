/* SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "stats.h"

void perf_hist_init(struct perf_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void perf_hist_merge(struct perf_hist *dst, const struct perf_hist *src)
{
	if (src->count == 0)
		return;
	for (uint32_t i = 0; i < PERF_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t perf_hist_bucket_low(uint32_t idx)
{
	uint32_t octave, sub;

	if (idx < PERF_HIST_LINEAR)
		return idx;
	octave = (idx - PERF_HIST_LINEAR) / PERF_HIST_SUB;
	sub = (idx - PERF_HIST_LINEAR) % PERF_HIST_SUB;
	/* Octave 0 starts at 2 * SUB and has buckets 2 wide. */
	return (uint64_t)(PERF_HIST_SUB + sub) << (octave + 1);
}

uint64_t perf_hist_bucket_width(uint32_t idx)
{
	if (idx < PERF_HIST_LINEAR)
		return 1;
	return 1ull << ((idx - PERF_HIST_LINEAR) / PERF_HIST_SUB + 1);
}

uint64_t perf_hist_percentile(const struct perf_hist *h, double pct)
{
	uint64_t rank, seen = 0;

	if (h->count == 0)
		return 0;
	if (pct <= 0)
		return h->min;
	if (pct >= 100)
		return h->max;
	/* The smallest sample with at least pct% of all samples at or below it. */
	rank = (uint64_t)ceil(pct / 100.0 * (double)h->count);
	/* The lowest and highest samples are known exactly. */
	if (rank <= 1)
		return h->min;
	if (rank >= h->count)
		return h->max;
	for (uint32_t i = 0; i < PERF_HIST_BUCKETS; i++) {
		uint64_t v;

		seen += h->b[i];
		if (seen < rank)
			continue;
		/* Middle of the bucket, but never outside what was seen. */
		v = perf_hist_bucket_low(i) + perf_hist_bucket_width(i) / 2;
		if (v < h->min)
			v = h->min;
		if (v > h->max)
			v = h->max;
		return v;
	}
	return h->max;
}

double perf_hist_mean(const struct perf_hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}
