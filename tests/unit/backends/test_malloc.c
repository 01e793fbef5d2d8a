/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RAM backend: data integrity through the vtable, zero-copy reads pointing
 * into the mapping, zeroing that hands pages back, and every rejection.
 * Requests are built by hand on the stack as the core would leave them.
 * Single-block atomicity (AWUN 0): copy on write only while zero-copy
 * readers hold a region, zeroing with readers in flight, reads too
 * fragmented for 16 entries, and threads racing writes against reads.
 */
#include <errno.h>
#include <endian.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
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
	uint32_t bs;
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
	t->req.length = (uint32_t)(nlb * f->bs);
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
	f->bs = BS;
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
	struct iovec iov = { .iov_base = (void *)(uintptr_t)data, .iov_len = nlb * f->bs };
	struct treq t;

	treq_init(f, &t, NVMFT_IO_WRITE, slba, nlb, &iov, 1);
	assert_int_equal(run(f, &t), 0);
}

static void read_blocks(struct fixture *f, uint64_t slba, uint64_t nlb, uint8_t *data)
{
	struct iovec iov = { .iov_base = data, .iov_len = nlb * f->bs };
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

/* A zero-copy read of [@slba, @slba + @nlb) that the caller holds until zrelease(). */
static void zread(struct fixture *f, struct treq *t, uint64_t slba, uint64_t nlb)
{
	treq_init(f, t, NVMFT_IO_READ, slba, nlb, NULL, 0);
	t->req.flags = NVMFT_REQ_F_ZCOPY;
	assert_int_equal(run(f, t), 0);
	assert_true(t->req.flags & NVMFT_REQ_F_BE_IOV);
}

/* What the core does once the transport has sent a zero-copy read. */
static void zrelease(struct fixture *f, struct treq *t)
{
	assert_non_null(f->be->ops->release);
	f->be->ops->release(f->be->ctx, f->chan, &t->req);
	t->req.iovcnt = 0;
	t->req.flags = 0;
}

/* Does the single-entry zero-copy read @t hold @len bytes equal to @want? */
static bool zholds(const struct treq *t, const uint8_t *want, size_t len)
{
	return t->req.iovcnt == 1 && t->req.iov[0].iov_len == len &&
	       memcmp(t->req.iov[0].iov_base, want, len) == 0;
}

static struct nvmft_malloc_stats stats(const struct fixture *f)
{
	struct nvmft_malloc_stats st;

	nvmft_malloc_backend_stats(f->be, &st);
	return st;
}

static void zero_range(struct fixture *f, enum nvmft_io_type type, uint64_t slba, uint64_t nlb)
{
	struct nvme_dsm_range r;
	struct treq t;

	if (type == NVMFT_IO_DEALLOCATE) {
		memset(&r, 0, sizeof(r));
		r.slba = htole64(slba);
		r.nlb = htole32((uint32_t)nlb);
		treq_init(f, &t, NVMFT_IO_DEALLOCATE, 0, 0, NULL, 0);
		t.req.ranges = &r;
		t.req.nr_ranges = 1;
	} else {
		treq_init(f, &t, NVMFT_IO_WRITE_ZEROES, slba, nlb, NULL, 0);
	}
	assert_int_equal(run(f, &t), 0);
}

/* A fixture of its own geometry on a backend @f already has (or a new one when @be is NULL). */
static struct fixture *fixture_new(struct nvmft_backend *be, uint64_t nblocks, uint32_t bs)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->qp.pg = &f->pg;
	f->bs = bs;
	if (be == NULL)
		assert_int_equal(nvmft_backend_malloc_new("ramx", nblocks, bs, &be), 0);
	f->be = be;
	assert_int_equal(be->ops->channel_open(be->ctx, &f->chan), 0);
	return f;
}

static void fixture_free(struct fixture *f, bool free_be)
{
	f->be->ops->channel_close(f->be->ctx, f->chan);
	if (free_be)
		assert_int_equal(nvmft_backend_free(f->be), 0);
	free(f);
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
	assert_non_null(f->be->ops->release);
	assert_int_equal(stats(f).region_size, 65536);
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
	struct fixture *f2;
	uint8_t buf[4096], in[4096];
	struct treq t;

	(void)state;
	/* 64 GiB reserved without backing: only what is touched costs memory. */
	assert_int_equal(nvmft_backend_malloc_new("big", 16ull << 20, 4096, &be), 0);
	f2 = fixture_new(be, 0, 4096);
	memset(buf, 0xcc, sizeof(buf));
	read_blocks(f2, (16ull << 20) - 1, 1, buf);
	assert_true(all_zero(buf, sizeof(buf)));
	/* The far end of the region table works like the rest. */
	fill(in, sizeof(in), 10);
	write_blocks(f2, (16ull << 20) - 1, 1, in);
	zread(f2, &t, (16ull << 20) - 1, 1);
	assert_true(zholds(&t, in, sizeof(in)));
	zrelease(f2, &t);
	fixture_free(f2, true);
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
	struct treq t, t2;

	fill(in, sizeof(in), 3);
	write_blocks(f, 40, 8, in);
	zread(f, &t, 40, 8);
	/* The backend supplied one entry straight into its memory. */
	assert_int_equal(t.req.iovcnt, 1);
	assert_ptr_equal(t.req.iov, t.req.iov_inline);
	assert_int_equal(t.req.iov[0].iov_len, sizeof(in));
	assert_memory_equal(t.req.iov[0].iov_base, in, sizeof(in));

	/* A second read of the same blocks points at the same memory. */
	zread(f, &t2, 41, 1);
	assert_ptr_equal(t2.req.iov[0].iov_base, (uint8_t *)t.req.iov[0].iov_base + BS);
	zrelease(f, &t2);
	zrelease(f, &t);
	/* Readers alone never copy anything. */
	assert_int_equal(stats(f).cow, 0);
	assert_int_equal(stats(f).heap_bufs, 0);
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
	struct treq t;
	uint8_t *p;

	/* Write a whole page, find it through a zero-copy read, deallocate it. */
	fill(in, sizeof(in), 6);
	write_blocks(f, 4 * per_page, per_page, in);
	zread(f, &t, 4 * per_page, per_page);
	p = t.req.iov[0].iov_base;
	assert_int_equal((uintptr_t)p % (uintptr_t)pg, 0);
	assert_int_equal(mincore(p, (size_t)pg, vec), 0);
	assert_true(vec[0] & 1);
	zrelease(f, &t);

	zero_range(f, NVMFT_IO_DEALLOCATE, 4 * per_page, per_page);
	/* The page went back to the kernel rather than being cleared by hand. */
	assert_int_equal(mincore(p, (size_t)pg, vec), 0);
	assert_false(vec[0] & 1);
	assert_true(all_zero(p, (size_t)pg));
	assert_int_equal(stats(f).cow, 0);
}

/*
 * Deallocating a whole region while a reader holds it: the reader keeps
 * its data, later reads see zeroes from the shared zero region, and once
 * the reader is gone a second deallocation gives the pages back.
 */
static void test_deallocate_whole_region_with_reader(void **state)
{
	struct fixture *f = *state;
	uint32_t per_region = 65536 / BS;
	long pg = sysconf(_SC_PAGESIZE);
	static uint8_t in[65536], out[65536];
	unsigned char vec[1];
	struct treq t, t2;
	uint8_t *home;

	fill(in, sizeof(in), 11);
	write_blocks(f, per_region, per_region, in);
	zread(f, &t, per_region, per_region);
	home = t.req.iov[0].iov_base;
	zero_range(f, NVMFT_IO_DEALLOCATE, per_region, per_region);
	assert_true(zholds(&t, in, sizeof(in)));
	assert_int_equal(stats(f).zero_swaps, 1);
	assert_int_equal(stats(f).cow, 0);
	assert_int_equal(stats(f).heap_bufs, 0);
	read_blocks(f, per_region, per_region, out);
	assert_true(all_zero(out, sizeof(out)));
	zread(f, &t2, per_region + 3, 2);
	assert_true(t2.req.iov[0].iov_base != home + 3 * BS);
	assert_true(all_zero(t2.req.iov[0].iov_base, 2 * BS));
	zrelease(f, &t2);
	/* Zeroing what already reads as zeroes copies nothing. */
	zero_range(f, NVMFT_IO_WRITE_ZEROES, per_region + 1, 1);
	assert_int_equal(stats(f).cow, 0);
	assert_true(zholds(&t, in, sizeof(in)));

	/* The reader is gone: home is idle and deallocating again gives its pages back. */
	zrelease(f, &t);
	assert_int_equal(mincore(home, (size_t)pg, vec), 0);
	assert_true(vec[0] & 1);
	zero_range(f, NVMFT_IO_DEALLOCATE, per_region, per_region);
	assert_int_equal(mincore(home, (size_t)pg, vec), 0);
	assert_false(vec[0] & 1);
	assert_int_equal(stats(f).zero_swaps, 1);
	zread(f, &t, per_region, 1);
	assert_ptr_equal(t.req.iov[0].iov_base, home);
	zrelease(f, &t);
	read_blocks(f, per_region, per_region, out);
	assert_true(all_zero(out, sizeof(out)));
}

/*
 * A write into a region showing the zero region copies from zeroes, not
 * from the stale data its home slice still holds.
 */
static void test_write_after_zero_swap(void **state)
{
	struct fixture *f = *state;
	uint32_t per_region = 65536 / BS;
	static uint8_t in[65536], out[65536];
	uint8_t blk[BS];
	struct treq t;

	fill(in, sizeof(in), 12);
	write_blocks(f, 0, per_region, in);
	zread(f, &t, 0, per_region);
	zero_range(f, NVMFT_IO_DEALLOCATE, 0, per_region);
	assert_int_equal(stats(f).zero_swaps, 1);
	zrelease(f, &t);
	/* Home is idle again: the copy on write lands there and needs no allocation. */
	fill(blk, sizeof(blk), 13);
	write_blocks(f, 5, 1, blk);
	assert_int_equal(stats(f).cow, 1);
	assert_int_equal(stats(f).heap_bufs, 0);
	read_blocks(f, 0, per_region, out);
	assert_true(all_zero(out, 5 * BS));
	assert_memory_equal(out + 5 * BS, blk, BS);
	assert_true(all_zero(out + 6 * BS, sizeof(out) - 6 * BS));

	/* The same with the home slice still read: the copy goes to the heap. */
	write_blocks(f, 0, per_region, in);
	zread(f, &t, 0, per_region);
	zero_range(f, NVMFT_IO_DEALLOCATE, 0, per_region);
	write_blocks(f, per_region - 1, 1, blk);
	assert_int_equal(stats(f).cow, 2);
	assert_int_equal(stats(f).heap_bufs, 1);
	assert_true(zholds(&t, in, sizeof(in)));
	read_blocks(f, 0, per_region, out);
	assert_true(all_zero(out, sizeof(out) - BS));
	assert_memory_equal(out + sizeof(out) - BS, blk, BS);
	zrelease(f, &t);
	/* Deallocating the region moves it back home; the heap buffer is freed. */
	zero_range(f, NVMFT_IO_DEALLOCATE, 0, per_region);
	assert_int_equal(stats(f).heap_bufs, 0);
	read_blocks(f, 0, per_region, out);
	assert_true(all_zero(out, sizeof(out)));
}

/* Zeroing part of a region a reader holds copies it on write. */
static void test_partial_zero_with_reader(void **state)
{
	struct fixture *f = *state;
	static uint8_t in[65536], out[65536];
	struct treq t;
	enum nvmft_io_type types[2] = { NVMFT_IO_WRITE_ZEROES, NVMFT_IO_DEALLOCATE };

	for (int i = 0; i < 2; i++) {
		fill(in, sizeof(in), 14 + (unsigned int)i);
		write_blocks(f, 0, 128, in);
		zread(f, &t, 0, 128);
		zero_range(f, types[i], 10, 20);
		assert_int_equal(stats(f).cow, (uint64_t)i + 1);
		assert_true(zholds(&t, in, sizeof(in)));
		read_blocks(f, 0, 128, out);
		assert_memory_equal(out, in, 10 * BS);
		assert_true(all_zero(out + 10 * BS, 20 * BS));
		assert_memory_equal(out + 30 * BS, in + 30 * BS, sizeof(in) - 30 * BS);
		zrelease(f, &t);
	}
}

/* ---- copy on write -------------------------------------------------------- */

/*
 * Writes copy a region only while a zero-copy reader holds its current
 * buffer; held data never changes; retired buffers are freed by their last
 * reader; a copy lands in the home slice when that is idle.
 */
static void test_cow_only_with_readers(void **state)
{
	struct fixture *f = *state;
	uint8_t a[BS], b[BS], c[BS], d[BS], out[BS];
	struct treq r1, r2, r3;
	uint8_t *home;

	fill(a, BS, 21);
	fill(b, BS, 22);
	fill(c, BS, 23);
	fill(d, BS, 24);
	/* No reader: in place, however often. */
	write_blocks(f, 7, 1, a);
	write_blocks(f, 7, 1, b);
	write_blocks(f, 7, 1, a);
	assert_int_equal(stats(f).cow, 0);

	/* A reader holds home: the write goes to a heap copy. */
	zread(f, &r1, 7, 1);
	home = r1.req.iov[0].iov_base;
	write_blocks(f, 7, 1, b);
	assert_int_equal(stats(f).cow, 1);
	assert_int_equal(stats(f).heap_bufs, 1);
	assert_true(zholds(&r1, a, BS));
	read_blocks(f, 7, 1, out);
	assert_memory_equal(out, b, BS);
	/* Other blocks of the region came along. */
	read_blocks(f, 8, 1, out);
	assert_true(all_zero(out, BS));

	/* A reader of the copy, home still held: a second heap copy. */
	zread(f, &r2, 7, 1);
	assert_true(r2.req.iov[0].iov_base != home);
	assert_true(zholds(&r2, b, BS));
	write_blocks(f, 7, 1, c);
	assert_int_equal(stats(f).cow, 2);
	assert_int_equal(stats(f).heap_bufs, 2);
	assert_true(zholds(&r1, a, BS));
	assert_true(zholds(&r2, b, BS));

	/* Nobody reads the current copy: in place again. */
	write_blocks(f, 7, 1, d);
	assert_int_equal(stats(f).cow, 2);
	/* A write to another region does not care about these readers. */
	write_blocks(f, 200, 1, a);
	assert_int_equal(stats(f).cow, 2);

	/* The last reader of a retired copy frees it. */
	zrelease(f, &r2);
	assert_int_equal(stats(f).heap_bufs, 1);
	zrelease(f, &r1);
	assert_int_equal(stats(f).heap_bufs, 1);

	/* Home is idle now: the next copy goes there, and the heap copy is freed by its reader. */
	zread(f, &r3, 7, 1);
	assert_true(zholds(&r3, d, BS));
	write_blocks(f, 7, 1, a);
	assert_int_equal(stats(f).cow, 3);
	assert_int_equal(stats(f).heap_bufs, 1);
	assert_true(zholds(&r3, d, BS));
	zrelease(f, &r3);
	assert_int_equal(stats(f).heap_bufs, 0);
	zread(f, &r3, 7, 1);
	assert_ptr_equal(r3.req.iov[0].iov_base, home);
	assert_true(zholds(&r3, a, BS));
	zrelease(f, &r3);
	read_blocks(f, 8, 1, out);
	assert_true(all_zero(out, BS));
	assert_int_equal(stats(f).cow, 3);
}

/* A write over a whole region a reader holds needs no copy of the old data, only a buffer. */
static void test_cow_whole_region_and_compare(void **state)
{
	struct fixture *f = *state;
	static uint8_t in[65536], in2[65536], out[65536];
	struct iovec iov = { .iov_base = in2, .iov_len = sizeof(in2) };
	struct treq r, t;

	fill(in, sizeof(in), 25);
	fill(in2, sizeof(in2), 26);
	write_blocks(f, 128, 128, in);
	zread(f, &r, 128, 128);
	write_blocks(f, 128, 128, in2);
	assert_int_equal(stats(f).cow, 1);
	assert_true(zholds(&r, in, sizeof(in)));
	read_blocks(f, 128, 128, out);
	assert_memory_equal(out, in2, sizeof(out));
	/* Compare sees the current data, not what the reader holds. */
	treq_init(f, &t, NVMFT_IO_COMPARE, 128, 128, &iov, 1);
	assert_int_equal(run(f, &t), 0);
	iov.iov_base = in;
	treq_init(f, &t, NVMFT_IO_COMPARE, 128, 128, &iov, 1);
	assert_int_equal(run(f, &t), -EILSEQ);
	zrelease(f, &r);
}

/* A write across regions copies only the region a reader holds. */
static void test_cow_spanning_write(void **state)
{
	struct fixture *f = fixture_new(NULL, 64, 4096); /* 4 regions of 16 blocks */
	static uint8_t old[64 * 4096], in[64 * 4096], out[64 * 4096];
	struct treq r;

	(void)state;
	fill(old, sizeof(old), 29);
	fill(in, sizeof(in), 30);
	write_blocks(f, 0, 64, old);
	zread(f, &r, 20, 2);
	write_blocks(f, 8, 32, in + 8 * 4096);
	assert_int_equal(stats(f).cow, 1);
	assert_int_equal(stats(f).heap_bufs, 1);
	assert_true(zholds(&r, old + 20 * 4096, 2 * 4096));
	read_blocks(f, 0, 64, out);
	assert_memory_equal(out, old, 8 * 4096);
	assert_memory_equal(out + 8 * 4096, in + 8 * 4096, 32 * 4096);
	assert_memory_equal(out + 40 * 4096, old + 40 * 4096, 24 * 4096);
	zrelease(f, &r);
	/* Nobody reads the heap copy: it stays current, freed with the backend. */
	assert_int_equal(stats(f).heap_bufs, 1);
	fixture_free(f, true);
}

/*
 * Neighbouring home slices share one entry; a region in a heap copy gets
 * its own.  A read needing more than 16 entries is served from a private
 * copy, freed at release.
 */
static void test_zcopy_entries_and_bounce(void **state)
{
	struct fixture *f = fixture_new(NULL, 64 * 16, 4096); /* 64 regions of 16 blocks */
	static uint8_t img[34 * 65536];
	struct treq held[17], t;
	uint8_t blk[4096];

	(void)state;
	fill(img, sizeof(img), 27);
	write_blocks(f, 0, 32 * 16, img);
	write_blocks(f, 32 * 16, 2 * 16, img + 32 * 65536);
	/* Three home regions, one entry. */
	zread(f, &t, 8, 40);
	assert_int_equal(t.req.iovcnt, 1);
	assert_memory_equal(t.req.iov[0].iov_base, img + 8 * 4096, 40 * 4096);
	zrelease(f, &t);

	/* Move every odd region to a heap copy: read it, write it, let the reader go. */
	for (int i = 0; i < 17; i++) {
		uint64_t lba = (uint64_t)(2 * i + 1) * 16 + 3;

		zread(f, &held[i], lba, 1);
		memcpy(blk, img + lba * 4096, sizeof(blk));
		blk[0] ^= 0xff;
		img[lba * 4096] ^= 0xff;
		write_blocks(f, lba, 1, blk);
	}
	for (int i = 0; i < 17; i++)
		zrelease(f, &held[i]);
	assert_int_equal(stats(f).cow, 17);
	assert_int_equal(stats(f).heap_bufs, 17);

	/* Regions 0..15 alternate home and heap: 16 entries, still zero copy. */
	zread(f, &t, 0, 16 * 16);
	assert_int_equal(t.req.iovcnt, 16);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(t.req.iov[i].iov_len, 65536);
		assert_memory_equal(t.req.iov[i].iov_base, img + (size_t)i * 65536, 65536);
	}
	zrelease(f, &t);
	assert_int_equal(stats(f).bounces, 0);

	/* Half a region more needs a 17th entry: a private copy. */
	zread(f, &t, 8, 16 * 16);
	assert_int_equal(stats(f).bounces, 1);
	assert_int_equal(t.req.iovcnt, 1);
	assert_memory_equal(t.req.iov[0].iov_base, img + 8 * 4096, 16 * 65536);
	/* The copy is the reader's own: a write does not reach it, nor needs a copy. */
	memset(blk, 0x5a, sizeof(blk));
	write_blocks(f, 8, 1, blk);
	assert_int_equal(stats(f).cow, 17);
	assert_memory_equal(t.req.iov[0].iov_base, img + 8 * 4096, 4096);
	zrelease(f, &t);
	memcpy(img + 8 * 4096, blk, sizeof(blk));

	/* Everything is still where it should be, and no reference leaked. */
	zread(f, &t, 0, 15 * 16);
	assert_int_equal(t.req.iovcnt, 15);
	zrelease(f, &t);
	for (int i = 0; i < 34; i++) {
		static uint8_t out[65536];

		read_blocks(f, (uint64_t)i * 16, 16, out);
		assert_memory_equal(out, img + (size_t)i * 65536, 65536);
	}
	zero_range(f, NVMFT_IO_DEALLOCATE, 0, 64 * 16);
	assert_int_equal(stats(f).heap_bufs, 0);
	fixture_free(f, true);
}

/* A refused zero-copy answer takes no reference with it. */
static void test_zcopy_refused_keeps_no_reference(void **state)
{
	struct fixture *f = *state;
	uint8_t a[BS];
	struct treq t;

	fill(a, BS, 28);
	treq_init(f, &t, NVMFT_IO_READ, 0, 1, NULL, 0);
	reject(f, &t, -EINVAL);
	/* Had the refused read kept home referenced, this would copy. */
	write_blocks(f, 0, 1, a);
	assert_int_equal(stats(f).cow, 0);
}

/* ---- concurrency ---------------------------------------------------------- */

#define RACE_READS 4000
#define RACE_HOLD 4

/*
 * Threads other than the test's own must not assert (cmocka unwinds with
 * longjmp): they count what went wrong and the test checks after joining.
 */
struct race {
	struct nvmft_backend *be;
	uint32_t bs;
	uint64_t lba;
	bool zcopy;
	atomic_uint writers_started;
	atomic_bool stop;
	atomic_ulong writes, torn, changed, errors;
};

struct race_writer {
	struct race *race;
	struct fixture *f;
	uint8_t base; /* writes blocks of one byte value: base or base + 1 */
};

/* Is every byte of the @len bytes at @p one of the values writers use? */
static bool uniform(const uint8_t *p, size_t len)
{
	if (p[0] < 0x10 || p[0] > 0x31)
		return false;
	for (size_t i = 1; i < len; i++)
		if (p[i] != p[0])
			return false;
	return true;
}

static void *race_writer_main(void *arg)
{
	struct race_writer *w = arg;
	struct race *rc = w->race;
	uint8_t *buf = malloc(rc->bs);
	uint32_t k = 0;

	atomic_fetch_add(&rc->writers_started, 1);
	while (buf != NULL && !atomic_load(&rc->stop)) {
		struct iovec iov = { .iov_base = buf, .iov_len = rc->bs };
		struct treq t;

		/* One memcpy-sized write of a whole block each time. */
		memset(buf, w->base + (int)(k++ & 1), rc->bs);
		treq_init(w->f, &t, NVMFT_IO_WRITE, rc->lba, 1, &iov, 1);
		if (submit(w->f, &t) != 0 || t.done != 1 || t.err != 0)
			atomic_fetch_add(&rc->errors, 1);
		atomic_fetch_add(&rc->writes, 1);
	}
	if (buf == NULL)
		atomic_fetch_add(&rc->errors, 1);
	free(buf);
	return NULL;
}

/*
 * Read the block over and over while the writers flip it.  Zero-copy
 * reads are held a while, as a transport holds them until the data is
 * sent, and must neither be a mix nor change while held.
 */
static void race_reader(struct race *rc, struct fixture *f)
{
	struct treq held[RACE_HOLD];
	uint8_t first[RACE_HOLD];
	uint8_t *buf = malloc(rc->bs);
	struct iovec iov = { .iov_base = buf, .iov_len = rc->bs };

	for (int i = 0; buf != NULL && i < RACE_READS + RACE_HOLD; i++) {
		int slot = i % RACE_HOLD;
		struct treq *t = &held[slot];

		if (rc->zcopy && i >= RACE_HOLD) {
			const uint8_t *p = t->req.iov[0].iov_base;

			if (!uniform(p, rc->bs) || p[0] != first[slot])
				atomic_fetch_add(&rc->changed, 1);
			if (f->be->ops->release != NULL)
				f->be->ops->release(f->be->ctx, f->chan, &t->req);
		}
		if (i >= RACE_READS)
			continue;
		if (rc->zcopy) {
			treq_init(f, t, NVMFT_IO_READ, rc->lba, 1, NULL, 0);
			t->req.flags = NVMFT_REQ_F_ZCOPY;
		} else {
			treq_init(f, t, NVMFT_IO_READ, rc->lba, 1, &iov, 1);
		}
		if (submit(f, t) != 0 || t->done != 1 || t->err != 0 || t->req.iovcnt != 1) {
			atomic_fetch_add(&rc->errors, 1);
			break;
		}
		first[slot] = ((const uint8_t *)t->req.iov[0].iov_base)[0];
		if (!uniform(t->req.iov[0].iov_base, rc->bs))
			atomic_fetch_add(&rc->torn, 1);
		/* Give the writers the processor now and then, as a busy group would. */
		if (i % 16 == 0)
			sched_yield();
	}
	free(buf);
}

static void race_run(uint32_t bs, bool zcopy, int nwriters)
{
	struct race rc = { .bs = bs, .lba = 5, .zcopy = zcopy };
	struct race_writer w[2];
	pthread_t th[2];
	uint8_t *blk = malloc(bs);
	struct fixture *f;

	assert_non_null(blk);
	assert_int_equal(nvmft_backend_malloc_new("race", 64, bs, &rc.be), 0);
	f = fixture_new(rc.be, 0, bs);
	memset(blk, 0x10, bs);
	write_blocks(f, rc.lba, 1, blk);
	for (int i = 0; i < nwriters; i++) {
		w[i].race = &rc;
		w[i].f = fixture_new(rc.be, 0, bs);
		w[i].base = (uint8_t)(0x10 + 0x20 * i);
		assert_int_equal(pthread_create(&th[i], NULL, race_writer_main, &w[i]), 0);
	}
	while (atomic_load(&rc.writers_started) < (unsigned int)nwriters)
		sched_yield();
	race_reader(&rc, f);
	atomic_store(&rc.stop, true);
	for (int i = 0; i < nwriters; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		fixture_free(w[i].f, false);
	}
	print_message("# %u-byte blocks, %s reads, %d writer(s): %d reads, %lu writes, "
		      "%lu copies on write\n", bs, zcopy ? "zero-copy" : "copying", nwriters,
		      RACE_READS, atomic_load(&rc.writes), (unsigned long)stats(f).cow);
	assert_int_equal(atomic_load(&rc.errors), 0);
	assert_int_equal(atomic_load(&rc.torn), 0);
	assert_int_equal(atomic_load(&rc.changed), 0);
	assert_true(atomic_load(&rc.writes) > 0);
	/* The readers are gone: only the table holds buffers, and zeroing frees them. */
	zero_range(f, NVMFT_IO_DEALLOCATE, 0, 64);
	assert_int_equal(stats(f).heap_bufs, 0);
	read_blocks(f, rc.lba, 1, blk);
	assert_true(all_zero(blk, bs));
	free(blk);
	fixture_free(f, true);
}

static void test_race_zcopy_reads(void **state)
{
	(void)state;
	race_run(4096, true, 1);
	race_run(16384, true, 1);
}

static void test_race_copy_reads(void **state)
{
	(void)state;
	race_run(4096, false, 1);
	race_run(16384, false, 1);
}

/* Two writers on the same block: every read is one writer's block, whole. */
static void test_race_two_writers(void **state)
{
	(void)state;
	race_run(16384, true, 2);
	race_run(16384, false, 2);
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
		T(test_deallocate_whole_region_with_reader),
		T(test_write_after_zero_swap),
		T(test_partial_zero_with_reader),
		T(test_deallocate_out_of_range),
		T(test_compare),
		T(test_flush_and_fua),
		T(test_rejects),
		T(test_cow_only_with_readers),
		T(test_cow_whole_region_and_compare),
		cmocka_unit_test(test_cow_spanning_write),
		cmocka_unit_test(test_zcopy_entries_and_bounce),
		T(test_zcopy_refused_keeps_no_reference),
		cmocka_unit_test(test_race_zcopy_reads),
		cmocka_unit_test(test_race_copy_reads),
		cmocka_unit_test(test_race_two_writers),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
