/* SPDX-License-Identifier: BSD-3-Clause */
/* The bounded buffer pool: bound, chunking, alignment, reuse, memory registration. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

/* ---- Registration callbacks ---- */

#define REG_MAX 16

struct reg_log {
	int regs, unregs, fail_at; /* fail_at: fail the registration with this 1-based number */
	void *addr[REG_MAX];
	void *handle[REG_MAX];
	bool live[REG_MAX];
};

static int log_reg(void *ctx, void *addr, size_t len, void **handle)
{
	struct reg_log *l = ctx;

	assert_int_equal(len, 8192);
	if (l->regs + 1 == l->fail_at) {
		l->fail_at = 0;
		return -EFAULT;
	}
	assert_true(l->regs < REG_MAX);
	l->addr[l->regs] = addr;
	l->handle[l->regs] = (void *)(uintptr_t)(0xbeef00 + l->regs);
	l->live[l->regs] = true;
	*handle = l->handle[l->regs++];
	return 0;
}

static void log_unreg(void *ctx, void *addr, size_t len, void *handle)
{
	struct reg_log *l = ctx;
	int i;

	assert_int_equal(len, 8192);
	for (i = 0; i < l->regs; i++)
		if (l->addr[i] == addr)
			break;
	assert_true(i < l->regs);
	assert_ptr_equal(l->handle[i], handle);
	assert_true(l->live[i]);
	l->live[i] = false;
	l->unregs++;
}

static const struct nvmft_buf_pool_mem_ops log_ops = { .reg = log_reg, .unreg = log_unreg };

/* The registration of every byte of a chunk is that chunk's, and nothing else has one. */
static void assert_handles(const struct nvmft_buf_pool *p, const struct reg_log *l)
{
	void *h;

	for (int i = 0; i < l->regs; i++) {
		uint8_t *a = l->addr[i];

		assert_int_equal(nvmft_buf_pool_mem_handle(p, a, &h), 0);
		assert_ptr_equal(h, l->handle[i]);
		assert_int_equal(nvmft_buf_pool_mem_handle(p, a + 8191, &h), 0);
		assert_ptr_equal(h, l->handle[i]);
		assert_int_equal(nvmft_buf_pool_mem_handle(p, a + 4000, &h), 0);
		assert_ptr_equal(h, l->handle[i]);
	}
}

static void test_registered_once_per_chunk(void **state)
{
	static const struct nvmft_buf_pool_mem_ops half = { .reg = log_reg };
	struct nvmft_buf_pool p;
	struct reg_log l = { 0 };
	struct iovec a[8], b[8];
	uint8_t outside[64];
	void *h;

	(void)state;
	assert_int_equal(nvmft_buf_pool_init(&p, 8192, 6 * 8192), 0);
	assert_int_equal(nvmft_buf_pool_set_mem_ops(&p, NULL, &l), -EINVAL);
	assert_int_equal(nvmft_buf_pool_set_mem_ops(&p, &half, &l), -EINVAL);
	assert_int_equal(nvmft_buf_pool_mem_handle(&p, outside, &h), -ENOENT);
	assert_int_equal(nvmft_buf_pool_set_mem_ops(&p, &log_ops, &l), 0);
	assert_int_equal(nvmft_buf_pool_set_mem_ops(&p, &log_ops, &l), -EINVAL);
	assert_int_equal(l.regs, 0); /* chunks are still lazy */

	/* Many requests, few chunks: registrations follow the chunks. */
	for (int round = 0; round < 50; round++) {
		assert_int_equal(nvmft_buf_pool_get(&p, 3 * 8192, a, 8), 3);
		assert_int_equal(nvmft_buf_pool_get(&p, 8192 + 1, b, 8), 2);
		nvmft_buf_pool_put(&p, b, 2);
		nvmft_buf_pool_put(&p, a, 3);
	}
	assert_int_equal(l.regs, 5);
	assert_int_equal(p.nr_alloc, 5);
	assert_handles(&p, &l);
	/* Outside every chunk: no registration. */
	assert_int_equal(nvmft_buf_pool_mem_handle(&p, outside, &h), -ENOENT);
	assert_int_equal(nvmft_buf_pool_mem_handle(&p, NULL, &h), -ENOENT);
	{
		uint8_t *lowest = l.addr[0], *highest = l.addr[0];

		for (int i = 1; i < l.regs; i++) {
			if ((uintptr_t)l.addr[i] < (uintptr_t)lowest)
				lowest = l.addr[i];
			if ((uintptr_t)l.addr[i] > (uintptr_t)highest)
				highest = l.addr[i];
		}
		/* Just below the lowest chunk and just past the highest one. */
		assert_int_equal(nvmft_buf_pool_mem_handle(&p, (void *)((uintptr_t)lowest - 1), &h), -ENOENT);
		assert_int_equal(nvmft_buf_pool_mem_handle(&p, (void *)((uintptr_t)highest + 8192), &h),
				 -ENOENT);
	}
	/* Too late to install callbacks on a pool with chunks. */
	{
		struct nvmft_buf_pool q;
		struct iovec v[1];

		assert_int_equal(nvmft_buf_pool_init(&q, 8192, 8192), 0);
		assert_int_equal(nvmft_buf_pool_get(&q, 1, v, 1), 1);
		nvmft_buf_pool_put(&q, v, 1);
		assert_int_equal(nvmft_buf_pool_set_mem_ops(&q, &log_ops, &l), -EBUSY);
		nvmft_buf_pool_fini(&q);
	}
	nvmft_buf_pool_fini(&p);
	assert_int_equal(l.unregs, 5);
}

static void test_registration_failure(void **state)
{
	struct nvmft_buf_pool p;
	struct reg_log l = { .fail_at = 3 };
	struct iovec a[8];

	(void)state;
	assert_int_equal(nvmft_buf_pool_init(&p, 8192, 4 * 8192), 0);
	assert_int_equal(nvmft_buf_pool_set_mem_ops(&p, &log_ops, &l), 0);
	/* The third chunk cannot be registered: the whole request fails, the first two stay pooled. */
	assert_int_equal(nvmft_buf_pool_get(&p, 3 * 8192, a, 8), -EFAULT);
	assert_int_equal(p.nr_alloc, 2);
	assert_int_equal(p.nr_free, 2);
	assert_handles(&p, &l);
	/* The next try registers a fresh chunk. */
	assert_int_equal(nvmft_buf_pool_get(&p, 4 * 8192, a, 8), 4);
	assert_int_equal(l.regs, 4);
	assert_handles(&p, &l);
	for (int i = 0; i < 4; i++) {
		void *h;

		assert_int_equal(nvmft_buf_pool_mem_handle(&p, a[i].iov_base, &h), 0);
	}
	nvmft_buf_pool_put(&p, a, 4);
	nvmft_buf_pool_fini(&p);
	assert_int_equal(l.unregs, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_init),
		cmocka_unit_test(test_bound_and_chunks),
		cmocka_unit_test(test_minimum_one_chunk),
		cmocka_unit_test(test_registered_once_per_chunk),
		cmocka_unit_test(test_registration_failure),
	};

	return cmocka_run_group_tests_name("buf_pool", tests, NULL, NULL);
}
