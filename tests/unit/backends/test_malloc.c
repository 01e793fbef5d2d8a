/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RAM backend: data integrity through the vtable, zero-copy reads pointing
 * into the mapping, zeroing that hands pages back, and every rejection.
 * Requests are built by hand on the stack as the core would leave them.
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

#define BS 512u
#define NBLOCKS 256u

struct treq {
	struct nvmft_req req;
	int done; /* backend_done calls */
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
	/* Lets a second completion through to be counted. */
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
	t->req.length = (uint32_t)(nlb * BS);
	t->req.backend_done = treq_done;
	t->err = 1;
}

static int submit(struct fixture *f, struct treq *t)
{
	return f->be->ops->submit(f->be->ctx, f->chan, &t->req);
}

/* Submit expecting a refusal: @rc back and no completion. */
static void reject(struct fixture *f, struct treq *t, int rc)
{
	assert_int_equal(submit(f, t), rc);
	assert_int_equal(t->done, 0);
}

/* Submit and require an inline completion; returns its errno. */
static int run(struct fixture *f, struct treq *t)
{
	assert_int_equal(submit(f, t), 0);
	assert_int_equal(t->done, 1);
	return t->err;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->qp.pg = &f->pg;
	assert_int_equal(nvmft_backend_malloc_new("ram0", NBLOCKS, BS, &f->be), 0);
	assert_int_equal(f->be->ops->channel_open(f->be->ctx, &f->chan), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->be->ops->channel_close(f->be->ctx, f->chan);
	assert_int_equal(nvmft_backend_free(f->be), 0);
	free(f);
	return 0;
}

static void fill(uint8_t *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

static void write_blocks(struct fixture *f, uint64_t slba, uint64_t nlb, const uint8_t *data)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)data, .iov_len = nlb * BS };
	struct treq t;

	treq_init(f, &t, NVMFT_IO_WRITE, slba, nlb, &iov, 1);
	assert_int_equal(run(f, &t), 0);
}

static void read_blocks(struct fixture *f, uint64_t slba, uint64_t nlb, uint8_t *data)
{
	struct iovec iov = { .iov_base = data, .iov_len = nlb * BS };
	struct treq t;

	treq_init(f, &t, NVMFT_IO_READ, slba, nlb, &iov, 1);
	assert_int_equal(run(f, &t), 0);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* ---- creation ----------------------------------------------------------- */

static void test_create_props(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(nvmft_backend_get_kind(f->be), "malloc");
	assert_string_equal(nvmft_backend_get_name(f->be), "ram0");
	assert_int_equal(nvmft_backend_get_block_size(f->be), BS);
	assert_int_equal(nvmft_backend_get_num_blocks(f->be), NBLOCKS);
	assert_int_equal(nvmft_backend_get_caps(f->be),
			 NVMFT_BACKEND_CAP_FUA | NVMFT_BACKEND_CAP_WRITE_ZEROES |
				 NVMFT_BACKEND_CAP_DEALLOCATE | NVMFT_BACKEND_CAP_DEALLOC_ZEROES |
				 NVMFT_BACKEND_CAP_COMPARE | NVMFT_BACKEND_CAP_ZCOPY_READ);
	assert_int_equal(f->be->ops->version, NVMFT_BACKEND_OPS_V1);
	assert_null(f->be->ops->channel_poll);
	assert_int_equal(nvmft_backend_channel_fd(f->be, f->chan), -1);
}

static void test_create_bad_args(void **state)
{
	static const uint32_t bad_bs[] = { 0, 100, 256, 1000, 131072 };
	struct nvmft_backend *sentinel = (struct nvmft_backend *)(uintptr_t)0x77;
	struct nvmft_backend *be = sentinel;

	(void)state;
	assert_int_equal(nvmft_backend_malloc_new(NULL, 8, 512, &be), -EINVAL);
	assert_int_equal(nvmft_backend_malloc_new("", 8, 512, &be), -EINVAL);
	assert_int_equal(nvmft_backend_malloc_new("x", 8, 512, NULL), -EINVAL);
	assert_int_equal(nvmft_backend_malloc_new("x", 0, 512, &be), -EINVAL);
	for (size_t i = 0; i < sizeof(bad_bs) / sizeof(bad_bs[0]); i++)
		assert_int_equal(nvmft_backend_malloc_new("x", 8, bad_bs[i], &be), -EINVAL);
	/* Byte size wraps. */
	assert_int_equal(nvmft_backend_malloc_new("x", UINT64_MAX / 4096 + 1, 4096, &be), -EINVAL);
	/* Valid geometry, but 2^60 bytes is more than any address space: the mapping fails. */
	assert_int_equal(nvmft_backend_malloc_new("x", 1ull << 48, 4096, &be), -ENOMEM);
	assert_ptr_equal(be, sentinel);
}

static void test_create_large_lazy(void **state)
{
	struct nvmft_backend *be;
	struct fixture *f2 = calloc(1, sizeof(*f2));
	uint8_t buf[4096];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct treq t;

	(void)state;
	/* 64 GiB reserved without backing: only what is touched costs memory. */
	assert_int_equal(nvmft_backend_malloc_new("big", 16ull << 20, 4096, &be), 0);
	assert_non_null(f2);
	f2->qp.pg = &f2->pg;
	f2->be = be;
	assert_int_equal(be->ops->channel_open(be->ctx, &f2->chan), 0);
	memset(buf, 0xcc, sizeof(buf));
	treq_init(f2, &t, NVMFT_IO_READ, (16ull << 20) - 1, 1, &iov, 1);
	t.req.length = 4096;
	assert_int_equal(run(f2, &t), 0);
	assert_true(all_zero(buf, sizeof(buf)));
	be->ops->channel_close(be->ctx, f2->chan);
	assert_int_equal(nvmft_backend_free(be), 0);
	free(f2);
}

/* ---- data path ---------------------------------------------------------- */

static void test_write_read_back(void **state)
{
	struct fixture *f = *state;
	uint8_t in[16 * BS], out[16 * BS];

	fill(in, sizeof(in), 1);
	write_blocks(f, 100, 16, in);
	memset(out, 0, sizeof(out));
	read_blocks(f, 100, 16, out);
	assert_memory_equal(in, out, sizeof(in));
	/* Neighbours never written read as zeroes. */
	read_blocks(f, 99, 1, out);
	assert_true(all_zero(out, BS));
	read_blocks(f, 116, 1, out);
	assert_true(all_zero(out, BS));
	/* Last block of the device. */
	write_blocks(f, NBLOCKS - 1, 1, in);
	read_blocks(f, NBLOCKS - 1, 1, out);
	assert_memory_equal(in, out, BS);
}

static void test_multi_iov(void **state)
{
	struct fixture *f = *state;
	uint8_t in[4 * BS], out[4 * BS], a[100], b[1000], c[4 * BS - 1100];
	struct iovec iov[3] = {
		{ .iov_base = a, .iov_len = sizeof(a) },
		{ .iov_base = b, .iov_len = sizeof(b) },
		{ .iov_base = c, .iov_len = sizeof(c) },
	};
	struct treq t;

	fill(in, sizeof(in), 2);
	memcpy(a, in, sizeof(a));
	memcpy(b, in + 100, sizeof(b));
	memcpy(c, in + 1100, sizeof(c));
	treq_init(f, &t, NVMFT_IO_WRITE, 10, 4, iov, 3);
	assert_int_equal(run(f, &t), 0);
	read_blocks(f, 10, 4, out);
	assert_memory_equal(in, out, sizeof(in));

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	memset(c, 0, sizeof(c));
	treq_init(f, &t, NVMFT_IO_READ, 10, 4, iov, 3);
	assert_int_equal(run(f, &t), 0);
	assert_memory_equal(a, in, sizeof(a));
	assert_memory_equal(b, in + 100, sizeof(b));
	assert_memory_equal(c, in + 1100, sizeof(c));
}

static void test_zcopy_read(void **state)
{
	struct fixture *f = *state;
	uint8_t in[8 * BS];
	struct treq t;

	fill(in, sizeof(in), 3);
	write_blocks(f, 40, 8, in);
	treq_init(f, &t, NVMFT_IO_READ, 40, 8, NULL, 0);
	t.req.flags = NVMFT_REQ_F_ZCOPY;
	assert_int_equal(run(f, &t), 0);
	/* The backend supplied one entry straight into its memory. */
	assert_int_equal(t.req.iovcnt, 1);
	assert_ptr_equal(t.req.iov, t.req.iov_inline);
	assert_true(t.req.flags & NVMFT_REQ_F_BE_IOV);
	assert_int_equal(t.req.iov[0].iov_len, sizeof(in));
	assert_memory_equal(t.req.iov[0].iov_base, in, sizeof(in));

	/* A second read of the same blocks points at the same memory. */
	{
		struct treq t2;

		treq_init(f, &t2, NVMFT_IO_READ, 41, 1, NULL, 0);
		t2.req.flags = NVMFT_REQ_F_ZCOPY;
		assert_int_equal(run(f, &t2), 0);
		assert_ptr_equal(t2.req.iov[0].iov_base, (uint8_t *)t.req.iov[0].iov_base + BS);
	}
}

static void test_zcopy_read_refused(void **state)
{
	struct fixture *f = *state;
	struct treq t;

	/* No buffers although the core did not ask for zero copy: not started. */
	treq_init(f, &t, NVMFT_IO_READ, 0, 1, NULL, 0);
	reject(f, &t, -EINVAL);
}

static void test_write_zeroes(void **state)
{
	struct fixture *f = *state;
	static uint8_t in[64 * BS], out[64 * BS];
	struct treq t;

	fill(in, sizeof(in), 4);
	write_blocks(f, 0, 64, in);
	/* Blocks 3..52: partial pages at both ends, whole pages inside. */
	treq_init(f, &t, NVMFT_IO_WRITE_ZEROES, 3, 50, NULL, 0);
	assert_int_equal(run(f, &t), 0);
	read_blocks(f, 0, 64, out);
	assert_memory_equal(out, in, 3 * BS);
	assert_true(all_zero(out + 3 * BS, 50 * BS));
	assert_memory_equal(out + 53 * BS, in + 53 * BS, 11 * BS);

	/* One block inside a page. */
	write_blocks(f, 0, 64, in);
	treq_init(f, &t, NVMFT_IO_WRITE_ZEROES, 5, 1, NULL, 0);
	assert_int_equal(run(f, &t), 0);
	read_blocks(f, 0, 64, out);
	assert_memory_equal(out, in, 5 * BS);
	assert_true(all_zero(out + 5 * BS, BS));
	assert_memory_equal(out + 6 * BS, in + 6 * BS, 58 * BS);
}

static void test_deallocate(void **state)
{
	struct fixture *f = *state;
	static uint8_t in[NBLOCKS * BS], out[NBLOCKS * BS];
	struct nvme_dsm_range r[3];
	struct treq t;

	fill(in, sizeof(in), 5);
	write_blocks(f, 0, NBLOCKS, in);
	memset(r, 0, sizeof(r));
	r[0].slba = htole64(1);
	r[0].nlb = htole32(2);
	r[1].slba = htole64(30);
	r[1].nlb = htole32(0); /* empty: ignored */
	r[2].slba = htole64(64);
	r[2].nlb = htole32(NBLOCKS - 64);
	treq_init(f, &t, NVMFT_IO_DEALLOCATE, 0, 0, NULL, 0);
	t.req.ranges = r;
	t.req.nr_ranges = 3;
	assert_int_equal(run(f, &t), 0);
	read_blocks(f, 0, NBLOCKS, out);
	assert_memory_equal(out, in, BS);
	assert_true(all_zero(out + BS, 2 * BS));
	assert_memory_equal(out + 3 * BS, in + 3 * BS, 61 * BS);
	assert_true(all_zero(out + 64 * BS, (NBLOCKS - 64) * BS));
}

static void test_deallocate_releases_pages(void **state)
{
	struct fixture *f = *state;
	long pg = sysconf(_SC_PAGESIZE);
	uint32_t per_page = (uint32_t)pg / BS;
	static uint8_t in[16 * 4096];
	unsigned char vec[1];
	struct nvme_dsm_range r;
	struct treq t;
	uint8_t *p;

	/* Write a whole page, find it through a zero-copy read, deallocate it. */
	fill(in, sizeof(in), 6);
	write_blocks(f, 4 * per_page, per_page, in);
	treq_init(f, &t, NVMFT_IO_READ, 4 * per_page, per_page, NULL, 0);
	t.req.flags = NVMFT_REQ_F_ZCOPY;
	assert_int_equal(run(f, &t), 0);
	p = t.req.iov[0].iov_base;
	assert_int_equal((uintptr_t)p % (uintptr_t)pg, 0);
	assert_int_equal(mincore(p, (size_t)pg, vec), 0);
	assert_true(vec[0] & 1);

	memset(&r, 0, sizeof(r));
	r.slba = htole64(4 * per_page);
	r.nlb = htole32(per_page);
	treq_init(f, &t, NVMFT_IO_DEALLOCATE, 0, 0, NULL, 0);
	t.req.ranges = &r;
	t.req.nr_ranges = 1;
	assert_int_equal(run(f, &t), 0);
	/* The page went back to the kernel rather than being cleared by hand. */
	assert_int_equal(mincore(p, (size_t)pg, vec), 0);
	assert_false(vec[0] & 1);
	assert_true(all_zero(p, (size_t)pg));
}

static void test_deallocate_out_of_range(void **state)
{
	struct fixture *f = *state;
	uint8_t in[BS], out[BS];
	struct nvme_dsm_range r[2];
	struct treq t;

	fill(in, sizeof(in), 7);
	write_blocks(f, 0, 1, in);
	memset(r, 0, sizeof(r));
	r[0].slba = htole64(0);
	r[0].nlb = htole32(1);
	r[1].slba = htole64(NBLOCKS - 1);
	r[1].nlb = htole32(2);
	treq_init(f, &t, NVMFT_IO_DEALLOCATE, 0, 0, NULL, 0);
	t.req.ranges = r;
	t.req.nr_ranges = 2;
	reject(f, &t, -ERANGE);
	/* Nothing was done, not even the valid first range. */
	read_blocks(f, 0, 1, out);
	assert_memory_equal(in, out, BS);
}

static void test_compare(void **state)
{
	struct fixture *f = *state;
	uint8_t in[4 * BS], cmp[4 * BS];
	struct iovec iov[2] = {
		{ .iov_base = cmp, .iov_len = 3 * BS },
		{ .iov_base = cmp + 3 * BS, .iov_len = BS },
	};
	struct treq t;

	fill(in, sizeof(in), 8);
	write_blocks(f, 20, 4, in);
	memcpy(cmp, in, sizeof(cmp));
	treq_init(f, &t, NVMFT_IO_COMPARE, 20, 4, iov, 2);
	assert_int_equal(run(f, &t), 0);
	/* One byte off in the last block. */
	cmp[4 * BS - 1] ^= 1;
	treq_init(f, &t, NVMFT_IO_COMPARE, 20, 4, iov, 2);
	assert_int_equal(run(f, &t), -EILSEQ);
	/* Buffers shorter than the blocks: refused. */
	iov[1].iov_len = BS - 1;
	treq_init(f, &t, NVMFT_IO_COMPARE, 20, 4, iov, 2);
	reject(f, &t, -EINVAL);
}

static void test_flush_and_fua(void **state)
{
	struct fixture *f = *state;
	uint8_t in[BS], out[BS];
	struct iovec iov = { .iov_base = in, .iov_len = BS };
	struct treq t;

	treq_init(f, &t, NVMFT_IO_FLUSH, 0, 0, NULL, 0);
	assert_int_equal(run(f, &t), 0);
	fill(in, sizeof(in), 9);
	treq_init(f, &t, NVMFT_IO_WRITE, 7, 1, &iov, 1);
	t.req.io_flags = NVMFT_IO_F_FUA;
	assert_int_equal(run(f, &t), 0);
	read_blocks(f, 7, 1, out);
	assert_memory_equal(in, out, BS);
}

static void test_rejects(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[2 * BS];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct treq t;

	treq_init(f, &t, NVMFT_IO_READ, NBLOCKS - 1, 2, &iov, 1);
	reject(f, &t, -ERANGE);
	treq_init(f, &t, NVMFT_IO_WRITE, NBLOCKS, 1, &iov, 1);
	reject(f, &t, -ERANGE);
	treq_init(f, &t, NVMFT_IO_WRITE, UINT64_MAX, 2, &iov, 1);
	reject(f, &t, -ERANGE);
	treq_init(f, &t, NVMFT_IO_WRITE_ZEROES, 1, UINT64_MAX, NULL, 0);
	reject(f, &t, -ERANGE);
	treq_init(f, &t, NVMFT_IO_READ, 0, 0, &iov, 1);
	reject(f, &t, -EINVAL);
	/* Write buffers shorter than the blocks. */
	iov.iov_len = BS;
	treq_init(f, &t, NVMFT_IO_WRITE, 0, 2, &iov, 1);
	reject(f, &t, -EINVAL);
	treq_init(f, &t, NVMFT_IO_READ, 0, 2, &iov, 1);
	reject(f, &t, -EINVAL);
	treq_init(f, &t, (enum nvmft_io_type)99, 0, 1, &iov, 1);
	reject(f, &t, -EOPNOTSUPP);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_create_props),
		cmocka_unit_test(test_create_bad_args),
		cmocka_unit_test(test_create_large_lazy),
		T(test_write_read_back),
		T(test_multi_iov),
		T(test_zcopy_read),
		T(test_zcopy_read_refused),
		T(test_write_zeroes),
		T(test_deallocate),
		T(test_deallocate_releases_pages),
		T(test_deallocate_out_of_range),
		T(test_compare),
		T(test_flush_and_fua),
		T(test_rejects),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
