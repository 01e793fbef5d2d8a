/* SPDX-License-Identifier: BSD-3-Clause */
/* The bounded buffer pool: bound, chunking, alignment, reuse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf_pool.h"

static void test_bad_init(void **state)
{
	struct nvmft_buf_pool p;

	(void)state;
	assert_int_equal(nvmft_buf_pool_init(&p, 0, 1 << 20), -EINVAL);
	assert_int_equal(nvmft_buf_pool_init(&p, 1000, 1 << 20), -EINVAL);
}

static void test_bound_and_chunks(void **state)
{
	struct nvmft_buf_pool p;
	struct iovec a[8], b[8], c[8];
	int n;

	(void)state;
	/* 4 chunks of 8 KiB. */
	assert_int_equal(nvmft_buf_pool_init(&p, 8192, 4 * 8192 + 100), 0);
	assert_int_equal(p.max_chunks, 4);
	assert_int_equal(nvmft_buf_pool_bytes(&p), 0); /* lazy */
	n = nvmft_buf_pool_get(&p, 8192 + 1, a, 8);
	assert_int_equal(n, 2);
	assert_int_equal(a[0].iov_len, 8192);
	assert_int_equal(a[1].iov_len, 1);
	assert_int_equal((uintptr_t)a[0].iov_base % 4096, 0);
	assert_int_equal((uintptr_t)a[1].iov_base % 4096, 0);
	memset(a[0].iov_base, 0xab, 8192);
	assert_int_equal(nvmft_buf_pool_bytes(&p), 2 * 8192);
	n = nvmft_buf_pool_get(&p, 2 * 8192, b, 8);
	assert_int_equal(n, 2);
	/* Pool exhausted: wait, not fail. */
	assert_int_equal(nvmft_buf_pool_get(&p, 1, c, 8), -EAGAIN);
	/* More than the whole pool, or more entries than the caller has: never. */
	assert_int_equal(nvmft_buf_pool_get(&p, 5 * 8192, c, 8), -E2BIG);
	assert_int_equal(nvmft_buf_pool_get(&p, 3 * 8192, c, 2), -E2BIG);
	nvmft_buf_pool_put(&p, a, 2);
	n = nvmft_buf_pool_get(&p, 4096, c, 8);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].iov_len, 4096);
	/* Memory is reused, not reallocated. */
	assert_int_equal(nvmft_buf_pool_bytes(&p), 4 * 8192);
	nvmft_buf_pool_put(&p, c, 1);
	nvmft_buf_pool_put(&p, b, 2);
	assert_int_equal(p.nr_free, 4);
	nvmft_buf_pool_fini(&p);
}

static void test_minimum_one_chunk(void **state)
{
	struct nvmft_buf_pool p;
	struct iovec v[2];

	(void)state;
	assert_int_equal(nvmft_buf_pool_init(&p, 4096, 10), 0);
	assert_int_equal(p.max_chunks, 1);
	assert_int_equal(nvmft_buf_pool_get(&p, 4096, v, 2), 1);
	nvmft_buf_pool_put(&p, v, 1);
	assert_int_equal(nvmft_buf_pool_get(&p, 0, v, 2), -E2BIG);
	nvmft_buf_pool_fini(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_init),
		cmocka_unit_test(test_bound_and_chunks),
		cmocka_unit_test(test_minimum_one_chunk),
	};

	return cmocka_run_group_tests_name("buf_pool", tests, NULL, NULL);
}
