/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Null backend: zeroes out, writes gone, zero-copy reads from one shared
 * read-only region (repeated for large reads), large reads from a small
 * region of real pages, and every rejection.
 */
#include <errno.h>
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends/backend.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"

#define BS 4096u
#define NBLOCKS (1u << 20) /* 4 GiB */

struct treq {
	struct nvmft_req req;
	int done;
	int err;
};

struct fixture {
	struct nvmft_poll_group pg;
	struct nvmft_qpair qp;
	struct nvmft_backend *be;
	void *chan;
};

static void treq_done(struct nvmft_req *req, int err)
{
	struct treq *t = (struct treq *)(void *)req;

	t->done++;
	t->err = err;
	req->state = NVMFT_REQ_BACKEND;
}

static void treq_init(struct fixture *f, struct treq *t, enum nvmft_io_type type, uint64_t slba,
		      uint64_t nlb, struct iovec *iov, int iovcnt)
{
	memset(t, 0, sizeof(*t));
	t->req.qpair = &f->qp;
	t->req.state = NVMFT_REQ_BACKEND;
	t->req.io_type = (uint8_t)type;
	t->req.slba = slba;
	t->req.nlb = nlb;
	t->req.iov = iov;
	t->req.iovcnt = iovcnt;
	t->req.length = (uint32_t)(nlb * nvmft_backend_get_block_size(f->be));
	t->req.backend_done = treq_done;
	t->err = 1;
}

static int submit(struct fixture *f, struct treq *t)
{
	return f->be->ops->submit(f->be->ctx, f->chan, &t->req);
}

static void reject(struct fixture *f, struct treq *t, int rc)
{
	assert_int_equal(submit(f, t), rc);
	assert_int_equal(t->done, 0);
}

static int run(struct fixture *f, struct treq *t)
{
	assert_int_equal(submit(f, t), 0);
	assert_int_equal(t->done, 1);
	return t->err;
}

static int fixture_new(void **state, uint64_t num_blocks, uint32_t bs)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->qp.pg = &f->pg;
	assert_int_equal(nvmft_backend_null_new("null0", num_blocks, bs, &f->be), 0);
	assert_int_equal(f->be->ops->channel_open(f->be->ctx, &f->chan), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return fixture_new(state, NBLOCKS, BS);
}

static int setup_tiny(void **state)
{
	return fixture_new(state, 3, 512);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->be->ops->channel_close(f->be->ctx, f->chan);
	assert_int_equal(nvmft_backend_free(f->be), 0);
	free(f);
	return 0;
}

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static void test_create_props(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(nvmft_backend_get_kind(f->be), "null");
	assert_string_equal(nvmft_backend_get_name(f->be), "null0");
	assert_int_equal(nvmft_backend_get_block_size(f->be), BS);
	assert_int_equal(nvmft_backend_get_num_blocks(f->be), NBLOCKS);
	assert_int_equal(nvmft_backend_get_caps(f->be),
			 NVMFT_BACKEND_CAP_FUA | NVMFT_BACKEND_CAP_WRITE_ZEROES |
				 NVMFT_BACKEND_CAP_DEALLOCATE | NVMFT_BACKEND_CAP_DEALLOC_ZEROES |
				 NVMFT_BACKEND_CAP_COMPARE | NVMFT_BACKEND_CAP_ZCOPY_READ |
				 NVMFT_BACKEND_CAP_CONST_READ);
	assert_int_equal(f->be->ops->version, NVMFT_BACKEND_OPS_V1);
	assert_null(f->be->ops->channel_poll);
}

static void test_create_bad_args(void **state)
{
	struct nvmft_backend *sentinel = (struct nvmft_backend *)(uintptr_t)0x77;
	struct nvmft_backend *be = sentinel;

	(void)state;
	assert_int_equal(nvmft_backend_null_new(NULL, 8, 512, &be), -EINVAL);
	assert_int_equal(nvmft_backend_null_new("", 8, 512, &be), -EINVAL);
	assert_int_equal(nvmft_backend_null_new("x", 8, 512, NULL), -EINVAL);
	assert_int_equal(nvmft_backend_null_new("x", 0, 512, &be), -EINVAL);
	assert_int_equal(nvmft_backend_null_new("x", 8, 0, &be), -EINVAL);
	assert_int_equal(nvmft_backend_null_new("x", 8, 520, &be), -EINVAL);
	assert_int_equal(nvmft_backend_null_new("x", 8, 1u << 17, &be), -EINVAL);
	assert_int_equal(nvmft_backend_null_new("x", UINT64_MAX / 512 + 1, 512, &be), -EINVAL);
	assert_ptr_equal(be, sentinel);
	/* Huge is fine: no memory per block. */
	assert_int_equal(nvmft_backend_null_new("x", UINT64_MAX / 512, 512, &be), 0);
	assert_int_equal(nvmft_backend_free(be), 0);
}

static void test_read_fills_zeroes(void **state)
{
	struct fixture *f = *state;
	static uint8_t a[BS], b[3 * BS];
	struct iovec iov[2] = {
		{ .iov_base = a, .iov_len = sizeof(a) },
		{ .iov_base = b, .iov_len = sizeof(b) },
	};
	struct treq t;

	memset(a, 0xff, sizeof(a));
	memset(b, 0xff, sizeof(b));
	treq_init(f, &t, NVMFT_IO_READ, NBLOCKS - 4, 4, iov, 2);
	assert_int_equal(run(f, &t), 0);
	assert_true(all_zero(a, sizeof(a)));
	assert_true(all_zero(b, sizeof(b)));
}

static void test_write_is_discarded(void **state)
{
	struct fixture *f = *state;
	static uint8_t buf[2 * BS];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct treq t;

	memset(buf, 0x5a, sizeof(buf));
	treq_init(f, &t, NVMFT_IO_WRITE, 10, 2, &iov, 1);
	assert_int_equal(run(f, &t), 0);
	treq_init(f, &t, NVMFT_IO_WRITE, 10, 2, &iov, 1);
	t.req.io_flags = NVMFT_IO_F_FUA;
	assert_int_equal(run(f, &t), 0);
	treq_init(f, &t, NVMFT_IO_READ, 10, 2, &iov, 1);
	assert_int_equal(run(f, &t), 0);
	assert_true(all_zero(buf, sizeof(buf)));
}

static void test_zcopy_read(void **state)
{
	struct fixture *f = *state;
	struct treq t;

	treq_init(f, &t, NVMFT_IO_READ, 5, 16, NULL, 0);
	t.req.flags = NVMFT_REQ_F_ZCOPY;
	assert_int_equal(run(f, &t), 0);
	assert_int_equal(t.req.iovcnt, 1);
	assert_true(t.req.flags & NVMFT_REQ_F_BE_IOV);
	assert_int_equal(t.req.iov[0].iov_len, 16 * BS);
	assert_true(all_zero(t.req.iov[0].iov_base, 16 * BS));
}

static void test_zcopy_read_large(void **state)
{
	struct fixture *f = *state;
	struct treq t;
	const uint64_t nlb = (10u << 20) / BS; /* 10 MiB: the 4 MiB region three times */

	treq_init(f, &t, NVMFT_IO_READ, 0, nlb, NULL, 0);
	t.req.flags = NVMFT_REQ_F_ZCOPY;
	assert_int_equal(run(f, &t), 0);
	assert_int_equal(t.req.iovcnt, 3);
	assert_int_equal(t.req.iov[0].iov_len, 4u << 20);
	assert_int_equal(t.req.iov[1].iov_len, 4u << 20);
	assert_int_equal(t.req.iov[2].iov_len, 2u << 20);
	/* Every entry is the same shared region. */
	assert_ptr_equal(t.req.iov[0].iov_base, t.req.iov[1].iov_base);
	assert_ptr_equal(t.req.iov[0].iov_base, t.req.iov[2].iov_base);
	assert_true(all_zero(t.req.iov[0].iov_base, 4u << 20));

	/* Exactly 16 entries still fits, one block more does not. */
	treq_init(f, &t, NVMFT_IO_READ, 0, (64u << 20) / BS, NULL, 0);
	t.req.flags = NVMFT_REQ_F_ZCOPY;
	assert_int_equal(run(f, &t), 0);
	assert_int_equal(t.req.iovcnt, 16);
	treq_init(f, &t, NVMFT_IO_READ, 0, (64u << 20) / BS + 1, NULL, 0);
	t.req.flags = NVMFT_REQ_F_ZCOPY;
	reject(f, &t, -E2BIG);
}

/* Pages of [p, p + len) in memory: the shared zero page does not count. */
static size_t resident_pages(void *p, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = (len + pg - 1) / pg, in = 0;
	unsigned char *vec = malloc(n);

	assert_non_null(vec);
	assert_int_equal(mincore(p, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		in += vec[i] & 1;
	free(vec);
	return in;
}

static void test_zcopy_read_real_pages(void **state)
{
	struct fixture *f = *state;
	struct treq t;
	void *lazy, *real;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	/* A small read gets the lazy region, and makes no real pages. */
	treq_init(f, &t, NVMFT_IO_READ, 0, 2, NULL, 0);
	t.req.flags = NVMFT_REQ_F_ZCOPY;
	assert_int_equal(run(f, &t), 0);
	lazy = t.req.iov[0].iov_base;
	assert_int_equal(resident_pages(lazy, 4u << 20), 0);

	/* 16 KiB and more: 128 KiB of real, zeroed pages, made once. */
	treq_init(f, &t, NVMFT_IO_READ, 7, (128u << 10) / BS, NULL, 0);
	t.req.flags = NVMFT_REQ_F_ZCOPY;
	assert_int_equal(run(f, &t), 0);
	assert_int_equal(t.req.iovcnt, 1);
	real = t.req.iov[0].iov_base;
	assert_ptr_not_equal(real, lazy);
	assert_int_equal(resident_pages(real, 128u << 10), (128u << 10) / pg);
	assert_true(all_zero(real, 128u << 10));
	treq_init(f, &t, NVMFT_IO_READ, 0, (16u << 10) / BS, NULL, 0);
	t.req.flags = NVMFT_REQ_F_ZCOPY;
	assert_int_equal(run(f, &t), 0);
	assert_ptr_equal(t.req.iov[0].iov_base, real);

	/* Up to 16 times its size repeats it... */
	treq_init(f, &t, NVMFT_IO_READ, 0, (2u << 20) / BS, NULL, 0);
	t.req.flags = NVMFT_REQ_F_ZCOPY;
	assert_int_equal(run(f, &t), 0);
	assert_int_equal(t.req.iovcnt, 16);
	for (int i = 0; i < 16; i++) {
		assert_ptr_equal(t.req.iov[i].iov_base, real);
		assert_int_equal(t.req.iov[i].iov_len, 128u << 10);
	}
	/* ...beyond, the lazy region serves, and still costs nothing. */
	treq_init(f, &t, NVMFT_IO_READ, 0, (2u << 20) / BS + 1, NULL, 0);
	t.req.flags = NVMFT_REQ_F_ZCOPY;
	assert_int_equal(run(f, &t), 0);
	assert_int_equal(t.req.iovcnt, 1);
	assert_ptr_equal(t.req.iov[0].iov_base, lazy);
	assert_int_equal(resident_pages(lazy, 4u << 20), 0);
}

static void test_zcopy_read_tiny_device(void **state)
{
	struct fixture *f = *state;
	struct treq t;

	/* A 3-block device: the region is no bigger than the device. */
	treq_init(f, &t, NVMFT_IO_READ, 0, 3, NULL, 0);
	t.req.flags = NVMFT_REQ_F_ZCOPY;
	assert_int_equal(run(f, &t), 0);
	assert_int_equal(t.req.iovcnt, 1);
	assert_int_equal(t.req.iov[0].iov_len, 3 * 512);
	assert_true(all_zero(t.req.iov[0].iov_base, 3 * 512));
	treq_init(f, &t, NVMFT_IO_READ, 1, 3, NULL, 0);
	t.req.flags = NVMFT_REQ_F_ZCOPY;
	reject(f, &t, -ERANGE);
}

static void test_compare(void **state)
{
	struct fixture *f = *state;
	static uint8_t buf[2 * BS];
	struct iovec iov[2] = {
		{ .iov_base = buf, .iov_len = BS },
		{ .iov_base = buf + BS, .iov_len = BS },
	};
	struct treq t;

	memset(buf, 0, sizeof(buf));
	treq_init(f, &t, NVMFT_IO_COMPARE, 0, 2, iov, 2);
	assert_int_equal(run(f, &t), 0);
	buf[2 * BS - 1] = 1;
	treq_init(f, &t, NVMFT_IO_COMPARE, 0, 2, iov, 2);
	assert_int_equal(run(f, &t), -EILSEQ);
	iov[1].iov_len = BS - 1;
	treq_init(f, &t, NVMFT_IO_COMPARE, 0, 2, iov, 2);
	reject(f, &t, -EINVAL);
}

static void test_zeroes_dealloc_flush(void **state)
{
	struct fixture *f = *state;
	struct nvme_dsm_range r[2];
	struct treq t;

	treq_init(f, &t, NVMFT_IO_WRITE_ZEROES, 0, NBLOCKS, NULL, 0);
	assert_int_equal(run(f, &t), 0);
	treq_init(f, &t, NVMFT_IO_FLUSH, 0, 0, NULL, 0);
	assert_int_equal(run(f, &t), 0);

	memset(r, 0, sizeof(r));
	r[0].slba = htole64(0);
	r[0].nlb = htole32(8);
	r[1].slba = htole64(NBLOCKS - 8);
	r[1].nlb = htole32(8);
	treq_init(f, &t, NVMFT_IO_DEALLOCATE, 0, 0, NULL, 0);
	t.req.ranges = r;
	t.req.nr_ranges = 2;
	assert_int_equal(run(f, &t), 0);
	r[1].nlb = htole32(9);
	treq_init(f, &t, NVMFT_IO_DEALLOCATE, 0, 0, NULL, 0);
	t.req.ranges = r;
	t.req.nr_ranges = 2;
	reject(f, &t, -ERANGE);
}

static void test_rejects(void **state)
{
	struct fixture *f = *state;
	static uint8_t buf[BS];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct treq t;

	treq_init(f, &t, NVMFT_IO_READ, NBLOCKS, 1, &iov, 1);
	reject(f, &t, -ERANGE);
	treq_init(f, &t, NVMFT_IO_WRITE, NBLOCKS - 1, 2, &iov, 1);
	reject(f, &t, -ERANGE);
	treq_init(f, &t, NVMFT_IO_WRITE, UINT64_MAX, 2, &iov, 1);
	reject(f, &t, -ERANGE);
	treq_init(f, &t, NVMFT_IO_WRITE_ZEROES, 0, NBLOCKS + 1, NULL, 0);
	reject(f, &t, -ERANGE);
	treq_init(f, &t, NVMFT_IO_READ, 0, 0, &iov, 1);
	reject(f, &t, -EINVAL);
	/* Without the zero-copy flag a read needs buffers. */
	treq_init(f, &t, NVMFT_IO_READ, 0, 1, NULL, 0);
	reject(f, &t, -EINVAL);
	treq_init(f, &t, (enum nvmft_io_type)0, 0, 1, &iov, 1);
	reject(f, &t, -EOPNOTSUPP);
	treq_init(f, &t, (enum nvmft_io_type)42, 0, 1, &iov, 1);
	reject(f, &t, -EOPNOTSUPP);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_create_props),
		cmocka_unit_test(test_create_bad_args),
		T(test_read_fills_zeroes),
		T(test_write_is_discarded),
		T(test_zcopy_read),
		T(test_zcopy_read_large),
		T(test_zcopy_read_real_pages),
		cmocka_unit_test_setup_teardown(test_zcopy_read_tiny_device, setup_tiny, teardown),
		T(test_compare),
		T(test_zeroes_dealloc_flush),
		T(test_rejects),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
