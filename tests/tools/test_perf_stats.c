/* SPDX-License-Identifier: BSD-3-Clause */
/* nvmft-perf latency histogram: bucket layout, percentiles, merge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "stats.h"

static struct perf_hist *new_hist(void)
{
	struct perf_hist *h = malloc(sizeof(*h));

	assert_non_null(h);
	perf_hist_init(h);
	return h;
}

static void test_empty(void **state)
{
	struct perf_hist *h = new_hist();

	(void)state;
	assert_int_equal(h->count, 0);
	assert_int_equal(perf_hist_percentile(h, 50), 0);
	assert_int_equal(perf_hist_percentile(h, 99.9), 0);
	assert_true(perf_hist_mean(h) == 0.0);
	free(h);
}

/* Below 256 every value has its own bucket. */
static void test_linear_exact(void **state)
{
	(void)state;
	for (uint64_t v = 0; v < PERF_HIST_LINEAR; v++) {
		assert_int_equal(perf_hist_index(v), v);
		assert_int_equal(perf_hist_bucket_low((uint32_t)v), v);
		assert_int_equal(perf_hist_bucket_width((uint32_t)v), 1);
	}
}

static void test_boundaries(void **state)
{
	(void)state;
	assert_int_equal(perf_hist_index(255), 255);
	assert_int_equal(perf_hist_index(256), 256);
	assert_int_equal(perf_hist_index(257), 256);
	assert_int_equal(perf_hist_index(258), 257);
	assert_int_equal(perf_hist_index(511), 383);
	assert_int_equal(perf_hist_index(512), 384);
	assert_int_equal(perf_hist_bucket_low(384), 512);
	assert_int_equal(perf_hist_bucket_width(384), 4);
	assert_int_equal(perf_hist_index((1ull << 40) - 1), PERF_HIST_BUCKETS - 1);
	assert_int_equal(perf_hist_index(1ull << 40), PERF_HIST_BUCKETS - 1);
	assert_int_equal(perf_hist_index(UINT64_MAX), PERF_HIST_BUCKETS - 1);
}

/* Every value falls inside the bucket it maps to, and buckets are at most 1/128 wide. */
static void test_bucket_contains_value(void **state)
{
	uint64_t v = 1;

	(void)state;
	while (v < (1ull << 40)) {
		uint32_t i = perf_hist_index(v);
		uint64_t lo = perf_hist_bucket_low(i), w = perf_hist_bucket_width(i);

		assert_true(lo <= v);
		assert_true(v < lo + w);
		if (v >= PERF_HIST_LINEAR)
			assert_true(w * PERF_HIST_SUB <= lo);
		v = v * 3 / 2 + 1;
	}
	/* Indexes are monotonic in the value. */
	for (uint64_t x = 200; x < 100000; x += 7)
		assert_true(perf_hist_index(x) <= perf_hist_index(x + 7));
}

static void test_percentiles_small(void **state)
{
	struct perf_hist *h = new_hist();

	(void)state;
	for (uint64_t v = 1; v <= 100; v++)
		perf_hist_add(h, v);
	assert_int_equal(h->count, 100);
	assert_int_equal(h->min, 1);
	assert_int_equal(h->max, 100);
	assert_int_equal(h->sum, 5050);
	assert_int_equal(perf_hist_percentile(h, 50), 50);
	assert_int_equal(perf_hist_percentile(h, 99), 99);
	assert_int_equal(perf_hist_percentile(h, 99.9), 100);
	assert_int_equal(perf_hist_percentile(h, 1), 1);
	assert_int_equal(perf_hist_percentile(h, 0), 1);
	assert_int_equal(perf_hist_percentile(h, 100), 100);
	assert_true(perf_hist_mean(h) == 50.5);
	free(h);
}

/* Large values: the percentile is the bucket's middle, within 1/128 of the sample. */
static void test_percentiles_large(void **state)
{
	struct perf_hist *h = new_hist();
	uint64_t p;

	(void)state;
	for (int i = 0; i < 990; i++)
		perf_hist_add(h, 25000);
	for (int i = 0; i < 9; i++)
		perf_hist_add(h, 1000000);
	perf_hist_add(h, 7000000);
	p = perf_hist_percentile(h, 50);
	assert_true(p >= 25000 && p - 25000 < 25000 / 128);
	p = perf_hist_percentile(h, 99);
	assert_true(p >= 25000 && p - 25000 < 25000 / 128);
	p = perf_hist_percentile(h, 99.5);
	assert_true(p >= 1000000 && p - 1000000 < 1000000 / 128);
	/* The top sample: clamped to the exact maximum. */
	assert_int_equal(perf_hist_percentile(h, 99.99), 7000000);
	assert_int_equal(h->max, 7000000);
	assert_int_equal(h->min, 25000);
	free(h);
}

static void test_merge(void **state)
{
	struct perf_hist *a = new_hist(), *b = new_hist(), *all = new_hist();

	(void)state;
	for (uint64_t v = 1000; v < 2000; v++) {
		perf_hist_add(v % 2 ? a : b, v);
		perf_hist_add(all, v);
	}
	perf_hist_merge(a, b);
	assert_int_equal(a->count, all->count);
	assert_int_equal(a->sum, all->sum);
	assert_int_equal(a->min, 1000);
	assert_int_equal(a->max, 1999);
	assert_memory_equal(a->b, all->b, sizeof(a->b));
	assert_int_equal(perf_hist_percentile(a, 50), perf_hist_percentile(all, 50));
	/* Merging an empty histogram changes nothing, min included. */
	perf_hist_init(b);
	perf_hist_merge(a, b);
	assert_int_equal(a->min, 1000);
	assert_int_equal(a->count, 1000);
	free(a);
	free(b);
	free(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_linear_exact),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_bucket_contains_value),
		cmocka_unit_test(test_percentiles_small),
		cmocka_unit_test(test_percentiles_large),
		cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
