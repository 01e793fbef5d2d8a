/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * io_uring backend on real files in a scratch directory (and, when the test
 * may create one, a loop block device): data integrity through O_DIRECT and
 * the buffered fallback, the Write Zeroes / Deallocate ladders, short reads
 * at end of file, many requests in flight, the channel fd, errors the
 * kernel reports reaching the completion unchanged, and one ring per poll
 * group: shared by every namespace, fair and in order when full, watched
 * once by the group, gone with the last channel.
 */
#include <dirent.h>
#include <errno.h>
#include <endian.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/loop.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends/backend.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/subsystem.h"
#include "loop_transport.h"
#include "util/compiler.h"

#define MIB (1u << 20)

struct treq {
	struct nvmft_req req;
	int done;
	int err;
	int idx;   /* for tests with their own completion callback */
	void *arg;
};

struct fixture {
	char dir[PATH_MAX];
	char mnt[PATH_MAX + 16]; /* ramfs mounted here, or empty */
	char path[PATH_MAX + 64];
	int loop_fd;             /* loop device we attached, or -1 */
	struct nvmft_poll_group pg;
	struct nvmft_qpair qp;
	struct nvmft_backend *be;
	void *chan;
};

/* ---- scaffolding -------------------------------------------------------- */

static void treq_done(struct nvmft_req *req, int err)
{
	struct treq *t = (struct treq *)(void *)req;

	t->done++;
	t->err = err;
	req->state = NVMFT_REQ_BACKEND;
}

static void treq_init(struct fixture *f, struct treq *t, enum nvmft_io_type type, uint64_t slba,
		      uint64_t nlb, const struct iovec *iov, int iovcnt)
{
	memset(t, 0, sizeof(*t));
	t->req.qpair = &f->qp;
	t->req.state = NVMFT_REQ_BACKEND;
	t->req.io_type = (uint8_t)type;
	t->req.slba = slba;
	t->req.nlb = nlb;
	t->req.iov = (struct iovec *)(uintptr_t)iov;
	t->req.iovcnt = iovcnt;
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

/*
 * Poll the channel until all @n requests completed.  Sleeps on the channel
 * fd between empty polls; the bound only stops a broken backend from
 * hanging the run.
 */
static void wait_chan(struct nvmft_backend *be, void *chan, struct treq *t, size_t n)
{
	int fd = be->ops->channel_get_fd(be->ctx, chan);
	int idle = 0;
	size_t left;

	while (idle < 30) {
		left = 0;
		for (size_t i = 0; i < n; i++)
			left += t[i].done == 0;
		if (left == 0)
			break;
		if (be->ops->channel_poll(be->ctx, chan, 64) == 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			/* Sleeping without a wake-up for long means a lost request. */
			if (poll(&p, 1, 1000) == 0)
				idle++;
		}
	}
	for (size_t i = 0; i < n; i++)
		assert_int_equal(t[i].done, 1);
}

static void wait_all(struct fixture *f, struct treq *t, size_t n)
{
	wait_chan(f->be, f->chan, t, n);
}

static int run(struct fixture *f, struct treq *t)
{
	assert_int_equal(submit(f, t), 0);
	wait_all(f, t, 1);
	return t->err;
}

static void *abuf(size_t len)
{
	void *p = aligned_alloc(4096, NVMFT_ALIGN_UP(len, (size_t)4096));

	assert_non_null(p);
	return p;
}

static void fill(uint8_t *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 10) + 1);
}

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static void xfer(struct fixture *f, enum nvmft_io_type type, uint64_t slba, uint64_t nlb,
		 void *buf)
{
	struct iovec iov = { .iov_base = buf, .iov_len = nlb * f->be->block_size };
	struct treq t;

	treq_init(f, &t, type, slba, nlb, &iov, 1);
	assert_int_equal(run(f, &t), 0);
}

/* Write a file of @size bytes filled with pattern @seed (0: sparse zeroes). */
static void make_file(const char *path, size_t size, unsigned int seed)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	uint8_t *buf;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (seed != 0) {
		buf = malloc(size);
		assert_non_null(buf);
		fill(buf, size, seed);
		assert_int_equal(pwrite(fd, buf, size, 0), (ssize_t)size);
		free(buf);
	}
	close(fd);
}

static void open_be(struct fixture *f, const char *path, uint32_t bs)
{
	assert_int_equal(nvmft_backend_uring_new("u0", path, bs, &f->be), 0);
	assert_int_equal(f->be->ops->channel_open(f->be->ctx, &f->chan), 0);
}

static void counts(struct fixture *f, uint64_t *direct, uint64_t *buffered)
{
	nvmft_uring_chan_counts(f->chan, direct, buffered);
}

/* Does the file system under @path take O_DIRECT? Decided independently of the backend. */
static bool fs_takes_direct(const char *path)
{
	int fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Allocated 512-byte sectors of a file: shows whether holes were punched. */
static long long file_sectors(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (long long)st.st_blocks;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/nvmft-uring-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/disk.img", f->dir);
	f->loop_fd = -1;
	/* Only what channels of a group use: its table of shared state. */
	TAILQ_INIT(&f->pg.shared);
	f->qp.pg = &f->pg;
	*state = f;
	return 0;
}

/* Like setup, with a 1 MiB patterned file opened as the backend. */
static int setup_file(void **state)
{
	struct fixture *f;

	setup(state);
	f = *state;
	make_file(f->path, MIB, 3);
	open_be(f, f->path, 0);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->be != NULL) {
		if (f->chan != NULL)
			f->be->ops->channel_close(f->be->ctx, f->chan);
		assert_int_equal(nvmft_backend_free(f->be), 0);
	}
	if (f->loop_fd >= 0) {
		ioctl(f->loop_fd, LOOP_CLR_FD, 0);
		close(f->loop_fd);
	}
	if (f->mnt[0] != '\0')
		umount2(f->mnt, MNT_DETACH);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- creation ----------------------------------------------------------- */

static void test_create_file_props(void **state)
{
	struct fixture *f = *state;

	make_file(f->path, MIB + 100, 1);
	open_be(f, f->path, 0);
	assert_string_equal(nvmft_backend_get_kind(f->be), "uring");
	assert_string_equal(nvmft_backend_get_name(f->be), "u0");
	assert_int_equal(nvmft_backend_get_block_size(f->be), 512);
	/* The partial block at the end is not part of the device. */
	assert_int_equal(nvmft_backend_get_num_blocks(f->be), MIB / 512);
	assert_int_equal(nvmft_backend_get_caps(f->be),
			 NVMFT_BACKEND_CAP_FLUSH | NVMFT_BACKEND_CAP_FUA |
				 NVMFT_BACKEND_CAP_WRITE_ZEROES | NVMFT_BACKEND_CAP_DEALLOCATE |
				 NVMFT_BACKEND_CAP_DEALLOC_ZEROES | NVMFT_BACKEND_CAP_COMPARE);
	assert_int_equal(f->be->ops->version, NVMFT_BACKEND_OPS_V1);
	assert_non_null(f->be->ops->channel_poll);
	assert_true(f->be->ops->channel_get_fd(f->be->ctx, f->chan) >= 0);
	assert_int_equal(nvmft_uring_backend_is_direct(f->be), fs_takes_direct(f->path));
}

static void test_create_block_size(void **state)
{
	struct fixture *f = *state;

	make_file(f->path, MIB + 5000, 0);
	open_be(f, f->path, 4096);
	assert_int_equal(nvmft_backend_get_block_size(f->be), 4096);
	assert_int_equal(nvmft_backend_get_num_blocks(f->be), (MIB + 5000) / 4096);
}

static void test_create_bad_args(void **state)
{
	struct fixture *f = *state;
	struct nvmft_backend *sentinel = (struct nvmft_backend *)(uintptr_t)0x77;
	struct nvmft_backend *be = sentinel;
	char p[PATH_MAX + 32];

	make_file(f->path, MIB, 0);
	assert_int_equal(nvmft_backend_uring_new(NULL, f->path, 0, &be), -EINVAL);
	assert_int_equal(nvmft_backend_uring_new("", f->path, 0, &be), -EINVAL);
	assert_int_equal(nvmft_backend_uring_new("x", NULL, 0, &be), -EINVAL);
	assert_int_equal(nvmft_backend_uring_new("x", "", 0, &be), -EINVAL);
	assert_int_equal(nvmft_backend_uring_new("x", f->path, 0, NULL), -EINVAL);
	assert_int_equal(nvmft_backend_uring_new("x", f->path, 256, &be), -EINVAL);
	assert_int_equal(nvmft_backend_uring_new("x", f->path, 1000, &be), -EINVAL);
	assert_int_equal(nvmft_backend_uring_new("x", f->path, 1u << 17, &be), -EINVAL);

	snprintf(p, sizeof(p), "%s/missing", f->dir);
	assert_int_equal(nvmft_backend_uring_new("x", p, 0, &be), -ENOENT);
	assert_int_equal(nvmft_backend_uring_new("x", f->dir, 0, &be), -EISDIR);
	/* Neither a regular file nor a block device. */
	assert_int_equal(nvmft_backend_uring_new("x", "/dev/null", 0, &be), -EINVAL);
	/* Smaller than one block. */
	snprintf(p, sizeof(p), "%s/small", f->dir);
	make_file(p, 0, 0);
	assert_int_equal(nvmft_backend_uring_new("x", p, 0, &be), -EINVAL);
	make_file(p, 511, 1);
	assert_int_equal(nvmft_backend_uring_new("x", p, 0, &be), -EINVAL);
	make_file(p, 4095, 1);
	assert_int_equal(nvmft_backend_uring_new("x", p, 4096, &be), -EINVAL);
	assert_ptr_equal(be, sentinel);
}

/* ---- data path ---------------------------------------------------------- */

static void test_write_read_back(void **state)
{
	struct fixture *f = *state;
	uint8_t *in = abuf(64 * 1024), *out = abuf(64 * 1024);
	uint64_t d0, b0, d1, b1;

	make_file(f->path, MIB, 0);
	open_be(f, f->path, 0);
	counts(f, &d0, &b0);
	fill(in, 64 * 1024, 11);
	xfer(f, NVMFT_IO_WRITE, 8, 128, in);
	memset(out, 0, 64 * 1024);
	xfer(f, NVMFT_IO_READ, 8, 128, out);
	assert_memory_equal(in, out, 64 * 1024);
	/* Aligned buffers take O_DIRECT whenever the file system allows it. */
	counts(f, &d1, &b1);
	if (nvmft_uring_backend_is_direct(f->be)) {
		assert_int_equal(d1 - d0, 2);
		assert_int_equal(b1 - b0, 0);
	} else {
		assert_int_equal(d1 - d0, 0);
		assert_int_equal(b1 - b0, 2);
	}
	/* The data really is in the file. */
	{
		int fd = open(f->path, O_RDONLY | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(pread(fd, out, 64 * 1024, 8 * 512), 64 * 1024);
		assert_memory_equal(in, out, 64 * 1024);
		close(fd);
	}
	free(in);
	free(out);
}

static void test_multi_iov(void **state)
{
	struct fixture *f = *state;
	uint8_t *a = abuf(3 * 4096), *in = abuf(3 * 4096);
	uint8_t b1[1000], b2[3 * 4096 - 1000];
	struct iovec w[3] = {
		{ .iov_base = a, .iov_len = 4096 },
		{ .iov_base = a + 4096, .iov_len = 4096 },
		{ .iov_base = a + 8192, .iov_len = 4096 },
	};
	struct iovec r[2] = {
		{ .iov_base = b1, .iov_len = sizeof(b1) },
		{ .iov_base = b2, .iov_len = sizeof(b2) },
	};
	struct treq t;

	fill(a, 3 * 4096, 12);
	memcpy(in, a, 3 * 4096);
	treq_init(f, &t, NVMFT_IO_WRITE, 16, 24, w, 3);
	assert_int_equal(run(f, &t), 0);
	/* Odd lengths: the buffered path, still exact. */
	treq_init(f, &t, NVMFT_IO_READ, 16, 24, r, 2);
	assert_int_equal(run(f, &t), 0);
	assert_memory_equal(b1, in, sizeof(b1));
	assert_memory_equal(b2, in + sizeof(b1), sizeof(b2));
	free(a);
	free(in);
}

static void test_longer_buffers_clipped(void **state)
{
	struct fixture *f = *state;
	uint8_t *in = abuf(4 * 512), *out = abuf(4 * 512);
	struct iovec iov = { .iov_base = in, .iov_len = 4 * 512 };
	struct treq t;

	/* Buffers longer than the blocks: only the blocks are written. */
	memset(out, 0, 4 * 512);
	xfer(f, NVMFT_IO_WRITE, 101, 1, out);
	fill(in, 4 * 512, 13);
	treq_init(f, &t, NVMFT_IO_WRITE, 100, 1, &iov, 1);
	assert_int_equal(run(f, &t), 0);
	xfer(f, NVMFT_IO_READ, 100, 2, out);
	assert_memory_equal(out, in, 512);
	assert_true(all_zero(out + 512, 512));
	free(in);
	free(out);
}

static void test_unaligned_falls_back(void **state)
{
	struct fixture *f = *state;
	uint8_t *raw = abuf(8192 + 4096), *in = abuf(8192), *out = abuf(8192);
	uint8_t *odd = raw + 1;
	uint64_t d0, b0, d1, b1;

	if (!nvmft_uring_backend_is_direct(f->be)) {
		free(raw);
		free(in);
		free(out);
		skip();
	}
	fill(in, 8192, 14);
	memcpy(odd, in, 8192);
	counts(f, &d0, &b0);
	/* Misaligned memory goes through the buffered descriptor... */
	xfer(f, NVMFT_IO_WRITE, 32, 16, odd);
	counts(f, &d1, &b1);
	assert_int_equal(d1 - d0, 0);
	assert_int_equal(b1 - b0, 1);
	/* ...and an aligned O_DIRECT read sees what it wrote. */
	xfer(f, NVMFT_IO_READ, 32, 16, out);
	counts(f, &d0, &b0);
	assert_int_equal(d0 - d1, 1);
	assert_int_equal(b0 - b1, 0);
	assert_memory_equal(in, out, 8192);

	/* The other way round: O_DIRECT write, misaligned buffered read. */
	fill(in, 8192, 15);
	xfer(f, NVMFT_IO_WRITE, 48, 16, in);
	memset(odd, 0, 8192);
	xfer(f, NVMFT_IO_READ, 48, 16, odd);
	counts(f, &d1, &b1);
	assert_int_equal(d1 - d0, 1);
	assert_int_equal(b1 - b0, 1);
	assert_memory_equal(in, odd, 8192);
	free(raw);
	free(in);
	free(out);
}

static void test_fua_and_flush(void **state)
{
	struct fixture *f = *state;
	uint8_t *in = abuf(4096), *out = abuf(4096);
	struct iovec iov = { .iov_base = in, .iov_len = 4096 };
	struct treq t;

	fill(in, 4096, 16);
	treq_init(f, &t, NVMFT_IO_WRITE, 200, 8, &iov, 1);
	t.req.io_flags = NVMFT_IO_F_FUA;
	assert_int_equal(run(f, &t), 0);
	treq_init(f, &t, NVMFT_IO_FLUSH, 0, 0, NULL, 0);
	assert_int_equal(run(f, &t), 0);
	xfer(f, NVMFT_IO_READ, 200, 8, out);
	assert_memory_equal(in, out, 4096);
	free(in);
	free(out);
}

/* Write zeroes over blocks [10, 100) of a patterned device and check the edges. */
static void check_write_zeroes(struct fixture *f, uint32_t flags)
{
	uint32_t bs = f->be->block_size;
	size_t len = 128 * (size_t)bs;
	uint8_t *in = abuf(len), *out = abuf(len);
	struct treq t;

	fill(in, len, 17);
	xfer(f, NVMFT_IO_WRITE, 0, 128, in);
	treq_init(f, &t, NVMFT_IO_WRITE_ZEROES, 10, 90, NULL, 0);
	t.req.io_flags = flags;
	assert_int_equal(run(f, &t), 0);
	xfer(f, NVMFT_IO_READ, 0, 128, out);
	assert_memory_equal(out, in, 10 * (size_t)bs);
	assert_true(all_zero(out + 10 * (size_t)bs, 90 * (size_t)bs));
	assert_memory_equal(out + 100 * (size_t)bs, in + 100 * (size_t)bs, 28 * (size_t)bs);
	free(in);
	free(out);
}

/* Deallocate two ranges (and an empty one) and check they read back as zeroes. */
static void check_deallocate(struct fixture *f)
{
	uint32_t bs = f->be->block_size;
	size_t len = 64 * (size_t)bs;
	uint8_t *in = abuf(len), *out = abuf(len);
	struct nvme_dsm_range r[3];
	struct treq t;

	fill(in, len, 18);
	xfer(f, NVMFT_IO_WRITE, 0, 64, in);
	memset(r, 0, sizeof(r));
	r[0].slba = htole64(0);
	r[0].nlb = htole32(8);
	r[1].slba = htole64(20);
	r[1].nlb = htole32(0);
	r[2].slba = htole64(32);
	r[2].nlb = htole32(16);
	treq_init(f, &t, NVMFT_IO_DEALLOCATE, 0, 0, NULL, 0);
	t.req.ranges = r;
	t.req.nr_ranges = 3;
	assert_int_equal(run(f, &t), 0);
	xfer(f, NVMFT_IO_READ, 0, 64, out);
	assert_true(all_zero(out, 8 * (size_t)bs));
	assert_memory_equal(out + 8 * (size_t)bs, in + 8 * (size_t)bs, 24 * (size_t)bs);
	assert_true(all_zero(out + 32 * (size_t)bs, 16 * (size_t)bs));
	assert_memory_equal(out + 48 * (size_t)bs, in + 48 * (size_t)bs, 16 * (size_t)bs);
	free(in);
	free(out);
}

static void test_write_zeroes(void **state)
{
	struct fixture *f = *state;

	check_write_zeroes(f, 0);
	/* With FUA the ladder ends with a data sync. */
	check_write_zeroes(f, NVMFT_IO_F_FUA);
}

static void test_deallocate(void **state)
{
	struct fixture *f = *state;
	struct nvme_dsm_range r[2];
	struct treq t;
	long long before;

	check_deallocate(f);
	/* 256 KiB in the middle of the allocated file becomes a hole, not zeroes written. */
	before = file_sectors(f->path);
	memset(r, 0, sizeof(r));
	r[0].slba = htole64(1024);
	r[0].nlb = htole32(512);
	treq_init(f, &t, NVMFT_IO_DEALLOCATE, 0, 0, NULL, 0);
	t.req.ranges = r;
	t.req.nr_ranges = 1;
	assert_int_equal(run(f, &t), 0);
	assert_true(file_sectors(f->path) <= before - 512);

	memset(r, 0, sizeof(r));
	r[0].slba = htole64(0);
	r[0].nlb = htole32(1);
	r[1].slba = htole64(MIB / 512 - 1);
	r[1].nlb = htole32(2);
	treq_init(f, &t, NVMFT_IO_DEALLOCATE, 0, 0, NULL, 0);
	t.req.ranges = r;
	t.req.nr_ranges = 2;
	reject(f, &t, -ERANGE);
	/* Only empty ranges: completes at once. */
	r[1].nlb = 0;
	r[0].nlb = 0;
	treq_init(f, &t, NVMFT_IO_DEALLOCATE, 0, 0, NULL, 0);
	t.req.ranges = r;
	t.req.nr_ranges = 2;
	assert_int_equal(submit(f, &t), 0);
	assert_int_equal(t.done, 1);
	assert_int_equal(t.err, 0);
}

static void test_compare(void **state)
{
	struct fixture *f = *state;
	uint8_t *in = abuf(4096);
	uint8_t odd[4096 + 1];
	struct iovec iov = { .iov_base = in, .iov_len = 4096 };
	struct treq t;

	fill(in, 4096, 19);
	xfer(f, NVMFT_IO_WRITE, 300, 8, in);
	treq_init(f, &t, NVMFT_IO_COMPARE, 300, 8, &iov, 1);
	assert_int_equal(run(f, &t), 0);
	memcpy(odd + 1, in, 4096);
	iov.iov_base = odd + 1;
	treq_init(f, &t, NVMFT_IO_COMPARE, 300, 8, &iov, 1);
	assert_int_equal(run(f, &t), 0);
	odd[4096] ^= 0x80;
	treq_init(f, &t, NVMFT_IO_COMPARE, 300, 8, &iov, 1);
	assert_int_equal(run(f, &t), -EILSEQ);
	free(in);
}

static void test_rejects(void **state)
{
	struct fixture *f = *state;
	uint64_t n = MIB / 512;
	uint8_t *buf = abuf(4096);
	struct iovec iov = { .iov_base = buf, .iov_len = 4096 };
	struct treq t;

	treq_init(f, &t, NVMFT_IO_READ, n - 1, 2, &iov, 1);
	reject(f, &t, -ERANGE);
	treq_init(f, &t, NVMFT_IO_WRITE, n, 1, &iov, 1);
	reject(f, &t, -ERANGE);
	treq_init(f, &t, NVMFT_IO_WRITE, UINT64_MAX, 2, &iov, 1);
	reject(f, &t, -ERANGE);
	treq_init(f, &t, NVMFT_IO_WRITE_ZEROES, 1, n, NULL, 0);
	reject(f, &t, -ERANGE);
	treq_init(f, &t, NVMFT_IO_COMPARE, 0, 0, &iov, 1);
	reject(f, &t, -EINVAL);
	/* Buffers shorter than the blocks. */
	treq_init(f, &t, NVMFT_IO_WRITE, 0, 9, &iov, 1);
	reject(f, &t, -EINVAL);
	treq_init(f, &t, NVMFT_IO_READ, 0, 9, &iov, 1);
	reject(f, &t, -EINVAL);
	treq_init(f, &t, NVMFT_IO_COMPARE, 0, 9, &iov, 1);
	reject(f, &t, -EINVAL);
	/* No zero-copy reads here: a read needs buffers. */
	treq_init(f, &t, NVMFT_IO_READ, 0, 1, NULL, 0);
	t.req.flags = NVMFT_REQ_F_ZCOPY;
	reject(f, &t, -EINVAL);
	treq_init(f, &t, (enum nvmft_io_type)7, 0, 1, &iov, 1);
	reject(f, &t, -EOPNOTSUPP);
	free(buf);
}

/* ---- queueing ----------------------------------------------------------- */

static void test_many_in_flight(void **state)
{
	struct fixture *f = *state;
	enum { N = 1200 }; /* several times the ring: SQ full, CQ limit, overflow list */
	struct treq *t = calloc(N, sizeof(*t));
	struct iovec *iov = calloc(N, sizeof(*iov));
	uint8_t *data = abuf((size_t)N * 512), *back = abuf((size_t)N * 512);

	assert_non_null(t);
	assert_non_null(iov);
	fill(data, (size_t)N * 512, 20);
	for (int i = 0; i < N; i++) {
		iov[i].iov_base = data + (size_t)i * 512;
		iov[i].iov_len = 512;
		treq_init(f, &t[i], NVMFT_IO_WRITE, (uint64_t)i, 1, &iov[i], 1);
		assert_int_equal(submit(f, &t[i]), 0);
	}
	wait_all(f, t, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(t[i].err, 0);

	memset(back, 0, (size_t)N * 512);
	for (int i = 0; i < N; i++) {
		/* Read each block back from the far end to its own place. */
		iov[i].iov_base = back + (size_t)(N - 1 - i) * 512;
		treq_init(f, &t[i], NVMFT_IO_READ, (uint64_t)(N - 1 - i), 1, &iov[i], 1);
		assert_int_equal(submit(f, &t[i]), 0);
	}
	wait_all(f, t, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(t[i].err, 0);
	assert_memory_equal(data, back, (size_t)N * 512);
	free(t);
	free(iov);
	free(data);
	free(back);
}

/* Wait on @epfd as a poll group does; the bound only guards against a hang. */
static int ep_wait(int epfd, int timeout_ms)
{
	struct epoll_event ev;
	int rc;

	do {
		rc = epoll_wait(epfd, &ev, 1, timeout_ms);
	} while (rc < 0 && errno == EINTR);
	return rc;
}

static void test_channel_fd(void **state)
{
	struct fixture *f = *state;
	int fd = f->be->ops->channel_get_fd(f->be->ctx, f->chan);
	struct epoll_event ev = { .events = EPOLLIN };
	uint8_t *buf = abuf(4 * 4096);
	struct iovec iov[4];
	struct treq t[4];
	int epfd;

	/* The group watches the fd level-triggered in its epoll set. */
	epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(epfd >= 0);
	assert_int_equal(epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev), 0);
	/* Idle: nothing to wake up for. */
	assert_int_equal(ep_wait(epfd, 0), 0);
	for (int i = 0; i < 4; i++) {
		iov[i].iov_base = buf + i * 4096;
		iov[i].iov_len = 4096;
		treq_init(f, &t[i], NVMFT_IO_READ, (uint64_t)i * 8, 8, &iov[i], 1);
		assert_int_equal(submit(f, &t[i]), 0);
	}
	/* Readable once a completion is there, before any channel poll. */
	assert_int_equal(ep_wait(epfd, 10000), 1);
	assert_int_equal(t[0].done + t[1].done + t[2].done + t[3].done, 0);
	/* Still readable while completions remain unreaped (budget 1). */
	for (int reaped = 0; reaped < 4;) {
		int n;

		assert_int_equal(ep_wait(epfd, 10000), 1);
		n = f->be->ops->channel_poll(f->be->ctx, f->chan, 1);
		assert_true(n == 0 || n == 1);
		reaped += n;
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(t[i].done, 1);
		assert_int_equal(t[i].err, 0);
	}
	/* All reaped: quiet again, with no counter to drain. */
	assert_int_equal(ep_wait(epfd, 0), 0);
	close(epfd);
	free(buf);
}

static void test_poll_budget(void **state)
{
	struct fixture *f = *state;
	int fd = f->be->ops->channel_get_fd(f->be->ctx, f->chan);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t *buf = abuf(4 * 4096);
	struct iovec iov[4];
	struct treq t[4];
	int reaped = 0, rc;

	for (int i = 0; i < 4; i++) {
		iov[i].iov_base = buf + i * 4096;
		iov[i].iov_len = 4096;
		treq_init(f, &t[i], NVMFT_IO_READ, (uint64_t)i * 8, 8, &iov[i], 1);
		assert_int_equal(submit(f, &t[i]), 0);
	}
	/* Reap one at a time: never more than the budget per call. */
	for (int iter = 0; iter < 10000 && reaped < 4; iter++) {
		rc = f->be->ops->channel_poll(f->be->ctx, f->chan, 1);
		assert_true(rc == 0 || rc == 1);
		reaped += rc;
		if (rc == 0)
			poll(&p, 1, 1000);
	}
	assert_int_equal(reaped, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(t[i].done, 1);
	free(buf);
}

static void test_close_with_outstanding(void **state)
{
	struct fixture *f = *state;
	enum { N = 40 };
	struct treq t[N];
	uint8_t *buf = abuf((size_t)N * 4096);
	struct iovec iov[N];

	for (int i = 0; i < N; i++) {
		iov[i].iov_base = buf + (size_t)i * 4096;
		iov[i].iov_len = 4096;
		treq_init(f, &t[i], i % 2 ? NVMFT_IO_READ : NVMFT_IO_COMPARE, (uint64_t)i * 8, 8,
			  &iov[i], 1);
		assert_int_equal(submit(f, &t[i]), 0);
	}
	/* Not the core's way, but the ring must drain before it is freed. */
	f->be->ops->channel_close(f->be->ctx, f->chan);
	f->chan = NULL;
	for (int i = 0; i < N; i++)
		assert_int_equal(t[i].done, 0);
	/* A fresh channel works. */
	assert_int_equal(f->be->ops->channel_open(f->be->ctx, &f->chan), 0);
	xfer(f, NVMFT_IO_READ, 0, 8, buf);
	free(buf);
}

/* ---- end of file -------------------------------------------------------- */

static void test_short_read_at_eof(void **state)
{
	struct fixture *f = *state;
	uint8_t *exp = malloc(64 * 1024), *out = abuf(20 * 512);
	uint8_t odd[20 * 512 + 1];
	struct iovec iov;
	struct treq t;

	/* 64 KiB device; the file then shrinks under it to 30000 bytes. */
	make_file(f->path, 64 * 1024, 21);
	open_be(f, f->path, 0);
	assert_non_null(exp);
	fill(exp, 64 * 1024, 21);
	memset(exp + 30000, 0, 64 * 1024 - 30000);
	assert_int_equal(truncate(f->path, 30000), 0);

	/* Blocks 50..69 = bytes 25600..35840: data up to EOF, zeroes after. */
	memset(out, 0xff, 20 * 512);
	xfer(f, NVMFT_IO_READ, 50, 20, out);
	assert_memory_equal(out, exp + 25600, 20 * 512);
	/* The same through the buffered path. */
	memset(odd, 0xff, sizeof(odd));
	xfer(f, NVMFT_IO_READ, 50, 20, odd + 1);
	assert_memory_equal(odd + 1, exp + 25600, 20 * 512);
	/* Entirely past EOF. */
	memset(out, 0xff, 20 * 512);
	xfer(f, NVMFT_IO_READ, 100, 20, out);
	assert_true(all_zero(out, 20 * 512));
	/* Compare across EOF sees the zeroes too. */
	memcpy(out, exp + 25600, 20 * 512);
	iov.iov_base = out;
	iov.iov_len = 20 * 512;
	treq_init(f, &t, NVMFT_IO_COMPARE, 50, 20, &iov, 1);
	assert_int_equal(run(f, &t), 0);
	free(exp);
	free(out);
}

/* ---- other file systems ------------------------------------------------- */

static void test_tmpfs(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/dev/shm/nvmft-uring-XXXXXX";
	char path[sizeof(dir) + 16];
	uint8_t *in = abuf(8192), *out = abuf(8192);
	long long before;

	if (mkdtemp(dir) == NULL) {
		free(in);
		free(out);
		skip();
	}
	snprintf(path, sizeof(path), "%s/d.img", dir);
	make_file(path, MIB, 0);
	open_be(f, path, 0);
	/* Older kernels refuse O_DIRECT on tmpfs; either way the backend must agree. */
	assert_int_equal(nvmft_uring_backend_is_direct(f->be), fs_takes_direct(path));
	fill(in, 8192, 22);
	xfer(f, NVMFT_IO_WRITE, 16, 16, in);
	xfer(f, NVMFT_IO_READ, 16, 16, out);
	assert_memory_equal(in, out, 8192);
	/*
	 * tmpfs has no ZERO_RANGE: the ladder moves on to punching holes, so
	 * pages are freed rather than written with zeroes.
	 */
	before = file_sectors(path);
	check_write_zeroes(f, 0);
	/* 64 KiB written over 8 KiB already there, then pages 2..11 freed. */
	assert_true(file_sectors(path) <= before + 128 - 16 - 80);
	check_write_zeroes(f, 0);
	check_deallocate(f);
	unlink(path);
	rmdir(dir);
	free(in);
	free(out);
}

/*
 * ramfs takes neither O_DIRECT nor fallocate, so everything is buffered and
 * zeroing falls through to plain writes.  Mounting needs a private mount
 * namespace; skipped where the test may not make one.
 */
static void test_ramfs_no_direct_no_fallocate(void **state)
{
	struct fixture *f = *state;
	uint64_t d, b;
	uint8_t *in = abuf(8192), *out = abuf(8192);

	snprintf(f->mnt, sizeof(f->mnt), "%s/ram", f->dir);
	assert_int_equal(mkdir(f->mnt, 0700), 0);
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("nvmft-test", f->mnt, "ramfs", 0, "mode=0700") != 0) {
		f->mnt[0] = '\0';
		free(in);
		free(out);
		skip();
	}
	snprintf(f->path, sizeof(f->path), "%s/d.img", f->mnt);
	make_file(f->path, 4 * MIB, 0);
	open_be(f, f->path, 0);
	assert_false(nvmft_uring_backend_is_direct(f->be));
	fill(in, 8192, 23);
	xfer(f, NVMFT_IO_WRITE, 16, 16, in);
	xfer(f, NVMFT_IO_READ, 16, 16, out);
	assert_memory_equal(in, out, 8192);
	check_write_zeroes(f, 0);
	check_deallocate(f);
	check_write_zeroes(f, NVMFT_IO_F_FUA);
	/* More than one zero-buffer's worth: written in several pieces. */
	{
		uint8_t *big = abuf(3 * MIB);
		struct treq t;

		fill(big, 3 * MIB, 24);
		xfer(f, NVMFT_IO_WRITE, 512, 3 * MIB / 512, big);
		treq_init(f, &t, NVMFT_IO_WRITE_ZEROES, 512, 3 * MIB / 512, NULL, 0);
		assert_int_equal(run(f, &t), 0);
		xfer(f, NVMFT_IO_READ, 512, 3 * MIB / 512, big);
		assert_true(all_zero(big, 3 * MIB));
		free(big);
	}
	counts(f, &d, &b);
	assert_int_equal(d, 0);
	assert_true(b > 0);
	f->be->ops->channel_close(f->be->ctx, f->chan);
	assert_int_equal(nvmft_backend_free(f->be), 0);
	f->be = NULL;
	f->chan = NULL;
	free(in);
	free(out);
}

/* ---- errors from the kernel --------------------------------------------- */

static void test_error_write_protected(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf = abuf(4096);
	struct iovec iov = { .iov_base = buf, .iov_len = 4096 };
	struct treq t;
	char path[64];
	int mfd;

	/* A sealed memfd: opened read-write, but the kernel refuses every change. */
	mfd = memfd_create("nvmft-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(mfd >= 0);
	assert_int_equal(ftruncate(mfd, MIB), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	open_be(f, path, 0);
	assert_int_equal(fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE), 0);

	fill(buf, 4096, 25);
	treq_init(f, &t, NVMFT_IO_WRITE, 0, 8, &iov, 1);
	assert_int_equal(run(f, &t), -EPERM);
	treq_init(f, &t, NVMFT_IO_WRITE_ZEROES, 0, 8, NULL, 0);
	assert_int_equal(run(f, &t), -EPERM);
	/* Reading is still fine. */
	treq_init(f, &t, NVMFT_IO_READ, 0, 8, &iov, 1);
	assert_int_equal(run(f, &t), 0);
	assert_true(all_zero(buf, 4096));
	close(mfd);
	free(buf);
}

static void test_error_bad_descriptor(void **state)
{
	struct fixture *f = *state;
	char want[PATH_MAX], link[PATH_MAX], ent[64];
	uint8_t *buf = abuf(4096);
	struct iovec iov = { .iov_base = buf, .iov_len = 4096 };
	struct dirent *de;
	struct treq t;
	int ro, swapped = 0;
	DIR *d;

	/*
	 * Swap the backend's descriptors for read-only ones on the same file,
	 * as if it had been opened wrongly: writes must fail with EBADF.
	 */
	assert_non_null(realpath(f->path, want));
	ro = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	d = opendir("/proc/self/fd");
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);
		ssize_t n;

		if (de->d_name[0] == '.' || fd == ro || fd == dirfd(d))
			continue;
		snprintf(ent, sizeof(ent), "/proc/self/fd/%d", fd);
		n = readlink(ent, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, want) != 0)
			continue;
		assert_int_equal(dup3(ro, fd, O_CLOEXEC), fd);
		swapped++;
	}
	closedir(d);
	close(ro);
	assert_true(swapped >= 1);

	treq_init(f, &t, NVMFT_IO_WRITE, 0, 8, &iov, 1);
	assert_int_equal(run(f, &t), -EBADF);
	treq_init(f, &t, NVMFT_IO_READ, 0, 8, &iov, 1);
	assert_int_equal(run(f, &t), 0);
	free(buf);
}

/* ---- block device ------------------------------------------------------- */

/* Attach f->path to a free loop device with 4 KiB logical blocks; false to skip. */
static bool attach_loop(struct fixture *f, char *dev, size_t devlen)
{
	struct loop_config cfg;
	int ctl, nr, bfd;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return false;
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (nr < 0)
		return false;
	snprintf(dev, devlen, "/dev/loop%d", nr);
	f->loop_fd = open(dev, O_RDWR | O_CLOEXEC);
	if (f->loop_fd < 0)
		return false;
	bfd = open(f->path, O_RDWR | O_CLOEXEC);
	assert_true(bfd >= 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = (uint32_t)bfd;
	cfg.block_size = 4096;
	if (ioctl(f->loop_fd, LOOP_CONFIGURE, &cfg) != 0) {
		close(bfd);
		close(f->loop_fd);
		f->loop_fd = -1;
		return false;
	}
	close(bfd);
	return true;
}

static void test_block_device(void **state)
{
	struct fixture *f = *state;
	struct nvmft_backend *be2 = NULL;
	uint8_t *in = abuf(64 * 1024), *out = abuf(64 * 1024);
	char dev[64];
	struct treq t;

	make_file(f->path, 8 * MIB, 0);
	if (!attach_loop(f, dev, sizeof(dev))) {
		free(in);
		free(out);
		skip();
	}
	/* Smaller blocks than the device's: refused. */
	assert_int_equal(nvmft_backend_uring_new("b", dev, 512, &be2), -EINVAL);
	open_be(f, dev, 0);
	assert_int_equal(nvmft_backend_get_block_size(f->be), 4096);
	assert_int_equal(nvmft_backend_get_num_blocks(f->be), 8 * MIB / 4096);
	/* A device may only discard: no promise of zeroes after Deallocate. */
	assert_int_equal(nvmft_backend_get_caps(f->be),
			 NVMFT_BACKEND_CAP_FLUSH | NVMFT_BACKEND_CAP_FUA |
				 NVMFT_BACKEND_CAP_WRITE_ZEROES | NVMFT_BACKEND_CAP_DEALLOCATE |
				 NVMFT_BACKEND_CAP_COMPARE);
	assert_true(nvmft_uring_backend_is_direct(f->be));
	/* Claimed exclusively: a second backend on the same device is refused. */
	assert_int_equal(nvmft_backend_uring_new("b", dev, 0, &be2), -EBUSY);
	assert_null(be2);

	fill(in, 64 * 1024, 26);
	xfer(f, NVMFT_IO_WRITE, 3, 16, in);
	xfer(f, NVMFT_IO_READ, 3, 16, out);
	assert_memory_equal(in, out, 64 * 1024);
	treq_init(f, &t, NVMFT_IO_FLUSH, 0, 0, NULL, 0);
	assert_int_equal(run(f, &t), 0);
	check_write_zeroes(f, 0);
	{
		struct nvme_dsm_range r;

		memset(&r, 0, sizeof(r));
		r.slba = htole64(100);
		r.nlb = htole32(50);
		treq_init(f, &t, NVMFT_IO_DEALLOCATE, 0, 0, NULL, 0);
		t.req.ranges = &r;
		t.req.nr_ranges = 1;
		assert_int_equal(run(f, &t), 0);
	}
	/* Larger blocks than the device's are fine. */
	f->be->ops->channel_close(f->be->ctx, f->chan);
	assert_int_equal(nvmft_backend_free(f->be), 0);
	f->chan = NULL;
	f->be = NULL;
	open_be(f, dev, 8192);
	assert_int_equal(nvmft_backend_get_num_blocks(f->be), 8 * MIB / 8192);
	xfer(f, NVMFT_IO_READ, 0, 8, out);
	free(in);
	free(out);
}

/* ---- one ring per poll group -------------------------------------------- */

#define NQN_URING "nqn.2024-01.io.example:uring"

/* io_uring instances this process has open: one descriptor each. */
static int count_rings(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char p[300], l[64];
	ssize_t k;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
		k = readlink(p, l, sizeof(l) - 1);
		if (k <= 0)
			continue;
		l[k] = '\0';
		n += strcmp(l, "anon_inode:[io_uring]") == 0;
	}
	closedir(d);
	return n;
}

/* How many times @fd is registered in the epoll set @epfd. */
static int epoll_watches(int epfd, int fd)
{
	char p[64], line[256];
	FILE *fp;
	int n = 0, tfd;

	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", epfd);
	fp = fopen(p, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "tfd: %d", &tfd) == 1 && tfd == fd)
			n++;
	fclose(fp);
	return n;
}

static struct nvmft_uring_chan_info chan_info(void *chan)
{
	struct nvmft_uring_chan_info info;

	memset(&info, 0xa5, sizeof(info));
	nvmft_uring_chan_info(chan, &info);
	return info;
}

static void check_file(const char *path, const void *exp, size_t len, off_t off)
{
	uint8_t *got = malloc(len);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_non_null(got);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, got, len, off), (ssize_t)len);
	assert_memory_equal(got, exp, len);
	close(fd);
	free(got);
}

/*
 * Write @seed's pattern to blocks 0..63 of two channels at once, then read
 * both back concurrently; each file must hold its own pattern.
 */
static void rw_pair(struct fixture *f, struct nvmft_backend *b[2], void *ch[2], const char *path[2],
		    unsigned int seed)
{
	const size_t len = 64 * 512;
	uint8_t *in[2], *out[2];
	struct iovec iov[4];
	struct treq t[4];

	for (int i = 0; i < 2; i++) {
		in[i] = abuf(len);
		out[i] = abuf(len);
		fill(in[i], len, seed + (unsigned int)i);
		memset(out[i], 0, len);
		iov[i].iov_base = in[i];
		iov[i].iov_len = len;
		iov[2 + i].iov_base = out[i];
		iov[2 + i].iov_len = len;
		treq_init(f, &t[i], NVMFT_IO_WRITE, 0, 64, &iov[i], 1);
		treq_init(f, &t[2 + i], NVMFT_IO_READ, 0, 64, &iov[2 + i], 1);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(b[i]->ops->submit(b[i]->ctx, ch[i], &t[i].req), 0);
	/* Polling one channel of the ring serves the other's completions too. */
	wait_chan(b[0], ch[0], t, 2);
	for (int i = 0; i < 2; i++)
		assert_int_equal(b[i]->ops->submit(b[i]->ctx, ch[i], &t[2 + i].req), 0);
	wait_chan(b[1], ch[1], t + 2, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(t[i].err, 0);
		assert_int_equal(t[2 + i].err, 0);
		assert_memory_equal(out[i], in[i], len);
		check_file(path[i], in[i], len, 0);
		free(in[i]);
		free(out[i]);
	}
}

/* Write and read back through one channel alone. */
static void rw_one(struct fixture *f, struct nvmft_backend *be, void *chan, const char *path,
		   unsigned int seed)
{
	uint8_t *in = abuf(8 * 512), *out = abuf(8 * 512);
	struct iovec iov = { .iov_base = in, .iov_len = 8 * 512 };
	struct treq t;

	fill(in, 8 * 512, seed);
	treq_init(f, &t, NVMFT_IO_WRITE, 8, 8, &iov, 1);
	assert_int_equal(be->ops->submit(be->ctx, chan, &t.req), 0);
	wait_chan(be, chan, &t, 1);
	assert_int_equal(t.err, 0);
	iov.iov_base = out;
	treq_init(f, &t, NVMFT_IO_READ, 8, 8, &iov, 1);
	assert_int_equal(be->ops->submit(be->ctx, chan, &t.req), 0);
	wait_chan(be, chan, &t, 1);
	assert_int_equal(t.err, 0);
	assert_memory_equal(out, in, 8 * 512);
	check_file(path, in, 8 * 512, 8 * 512);
	free(in);
	free(out);
}

static void test_pg_shares_one_ring(void **state)
{
	struct fixture *f = *state;
	char path2[PATH_MAX + 64];
	const char *paths[2] = { f->path, path2 };
	struct nvmft_uring_chan_info i1, i2, ip;
	struct nvmft_backend *b[2];
	void *ch[2], *priv;
	int base;

	snprintf(path2, sizeof(path2), "%s/disk2.img", f->dir);
	make_file(f->path, MIB, 0);
	make_file(path2, MIB, 0);
	base = count_rings();
	assert_int_equal(nvmft_backend_uring_new("u0", f->path, 0, &f->be), 0);
	assert_int_equal(nvmft_backend_uring_new("u1", path2, 0, &b[1]), 0);
	b[0] = f->be;
	/* Creating a backend only probes io_uring. */
	assert_int_equal(count_rings(), base);
	assert_int_equal(nvmft_uring_pg_ring_chans(&f->pg), 0);

	assert_int_equal(nvmft_backend_channel_open_pg(b[0], &f->pg, &ch[0]), 0);
	f->chan = ch[0];
	assert_int_equal(count_rings(), base + 1);
	assert_int_equal(nvmft_backend_channel_open_pg(b[1], &f->pg, &ch[1]), 0);
	/* The second namespace on the group costs no ring and no descriptor. */
	assert_int_equal(count_rings(), base + 1);
	i1 = chan_info(ch[0]);
	i2 = chan_info(ch[1]);
	assert_ptr_equal(i1.ring, i2.ring);
	assert_int_equal(i1.ring_chans, 2);
	assert_int_equal(nvmft_uring_pg_ring_chans(&f->pg), 2);
	assert_int_equal(b[0]->ops->channel_get_fd(b[0]->ctx, ch[0]),
			 b[1]->ops->channel_get_fd(b[1]->ctx, ch[1]));

	/* Opened through the public table, without a group: a ring of its own. */
	assert_int_equal(b[1]->ops->channel_open(b[1]->ctx, &priv), 0);
	ip = chan_info(priv);
	assert_ptr_not_equal(ip.ring, i1.ring);
	assert_int_equal(ip.ring_chans, 1);
	assert_int_equal(count_rings(), base + 2);
	rw_one(f, b[1], priv, path2, 5);
	b[1]->ops->channel_close(b[1]->ctx, priv);
	assert_int_equal(count_rings(), base + 1);
	assert_int_equal(nvmft_uring_pg_ring_chans(&f->pg), 2);

	/* I/O to both at once lands in the right file and reads back. */
	rw_pair(f, b, ch, paths, 30);

	/* Closing one keeps the ring for the other. */
	b[0]->ops->channel_close(b[0]->ctx, ch[0]);
	f->chan = NULL;
	assert_int_equal(nvmft_uring_pg_ring_chans(&f->pg), 1);
	assert_int_equal(chan_info(ch[1]).ring_chans, 1);
	assert_int_equal(count_rings(), base + 1);
	rw_one(f, b[1], ch[1], path2, 40);

	/* The last close frees the ring and empties the group's table. */
	b[1]->ops->channel_close(b[1]->ctx, ch[1]);
	assert_int_equal(nvmft_uring_pg_ring_chans(&f->pg), 0);
	assert_true(TAILQ_EMPTY(&f->pg.shared));
	assert_int_equal(count_rings(), base);

	/* And the next channel starts a new one. */
	assert_int_equal(nvmft_backend_channel_open_pg(b[0], &f->pg, &f->chan), 0);
	assert_int_equal(count_rings(), base + 1);
	assert_int_equal(nvmft_uring_pg_ring_chans(&f->pg), 1);
	rw_one(f, b[0], f->chan, f->path, 50);
	assert_int_equal(nvmft_backend_free(b[1]), 0);
}

struct order_ctx {
	void *chan_a;
	unsigned int na;
	unsigned int nb;
	unsigned int b_done;
	unsigned int a_waiting_at_b_done;
	unsigned int order_errors;
};

/*
 * A request of A that completes was submitted to the kernel, so in order
 * every earlier one of A was too: at most the later ones can still wait.
 */
static void order_done(struct nvmft_req *req, int err)
{
	struct treq *t = (struct treq *)(void *)req;
	struct order_ctx *x = t->arg;
	struct nvmft_uring_chan_info a = chan_info(x->chan_a);

	treq_done(req, err);
	if (t->idx >= 0) {
		if (a.waiting > x->na - 1 - (unsigned int)t->idx)
			x->order_errors++;
	} else if (++x->b_done == x->nb) {
		x->a_waiting_at_b_done = a.waiting;
	}
}

static void test_pg_overflow_fair_in_order(void **state)
{
	struct fixture *f = *state;
	enum { NA = 2400, NB = 16, BS = 512 };
	char path2[PATH_MAX + 64];
	struct nvmft_uring_chan_info ia, ib;
	struct order_ctx x = { .na = NA, .nb = NB };
	struct nvmft_backend *b2;
	void *ch2;
	struct treq *t = calloc(NA + NB, sizeof(*t));
	struct iovec *iov = calloc(NA + NB, sizeof(*iov));
	uint8_t *da = abuf((size_t)NA * BS), *db = abuf((size_t)NB * BS);

	assert_non_null(t);
	assert_non_null(iov);
	snprintf(path2, sizeof(path2), "%s/disk2.img", f->dir);
	make_file(f->path, (size_t)NA * BS, 0);
	make_file(path2, (size_t)NB * BS, 0);
	assert_int_equal(nvmft_backend_uring_new("u0", f->path, BS, &f->be), 0);
	assert_int_equal(nvmft_backend_uring_new("u1", path2, BS, &b2), 0);
	assert_int_equal(nvmft_backend_channel_open_pg(f->be, &f->pg, &f->chan), 0);
	assert_int_equal(nvmft_backend_channel_open_pg(b2, &f->pg, &ch2), 0);
	x.chan_a = f->chan;
	fill(da, (size_t)NA * BS, 60);
	fill(db, (size_t)NB * BS, 61);

	/* A deep queue on A first, then a few requests on B. */
	for (int i = 0; i < NA + NB; i++) {
		bool on_a = i < NA;
		int k = on_a ? i : i - NA;

		iov[i].iov_base = (on_a ? da : db) + (size_t)k * BS;
		iov[i].iov_len = BS;
		treq_init(f, &t[i], NVMFT_IO_WRITE, (uint64_t)k, 1, &iov[i], 1);
		t[i].req.backend_done = order_done;
		t[i].arg = &x;
		t[i].idx = on_a ? k : -1;
		if (on_a)
			assert_int_equal(submit(f, &t[i]), 0);
		else
			assert_int_equal(b2->ops->submit(b2->ctx, ch2, &t[i].req), 0);
	}
	/* Nothing reaped yet: the ring is full, and B waits behind A's waiters. */
	ia = chan_info(f->chan);
	ib = chan_info(ch2);
	assert_ptr_equal(ia.ring, ib.ring);
	assert_true(ia.ring_inflight > 0);
	assert_int_equal(ia.waiting + ia.ring_inflight, NA);
	assert_int_equal(ib.waiting, NB);
	assert_true(ia.waiting > 2 * ia.ring_inflight);

	/* B's poll serves A's completions as well. */
	wait_chan(b2, ch2, t, NA + NB);
	for (int i = 0; i < NA + NB; i++)
		assert_int_equal(t[i].err, 0);
	assert_int_equal(x.order_errors, 0);
	/* Turns: B was done while A still had requests waiting for room. */
	assert_int_equal(x.b_done, NB);
	assert_true(x.a_waiting_at_b_done > 0);
	assert_int_equal(chan_info(f->chan).waiting, 0);
	assert_int_equal(chan_info(f->chan).ring_inflight, 0);
	check_file(f->path, da, (size_t)NA * BS, 0);
	check_file(path2, db, (size_t)NB * BS, 0);

	b2->ops->channel_close(b2->ctx, ch2);
	assert_int_equal(nvmft_backend_free(b2), 0);
	free(t);
	free(iov);
	free(da);
	free(db);
}

/* A channel closed with I/O in the kernel must not break the ring's other channels. */
static void test_pg_close_busy_channel(void **state)
{
	struct fixture *f = *state;
	enum { N = 40 };
	char path2[PATH_MAX + 64];
	struct nvmft_backend *b2;
	struct treq t[N];
	struct iovec iov[N];
	uint8_t *buf = abuf((size_t)N * 4096);
	void *ch2;
	int base;

	snprintf(path2, sizeof(path2), "%s/disk2.img", f->dir);
	make_file(f->path, MIB, 3);
	make_file(path2, MIB, 0);
	base = count_rings();
	assert_int_equal(nvmft_backend_uring_new("u0", f->path, 0, &f->be), 0);
	assert_int_equal(nvmft_backend_uring_new("u1", path2, 0, &b2), 0);
	assert_int_equal(nvmft_backend_channel_open_pg(f->be, &f->pg, &f->chan), 0);
	assert_int_equal(nvmft_backend_channel_open_pg(b2, &f->pg, &ch2), 0);
	for (int i = 0; i < N; i++) {
		iov[i].iov_base = buf + (size_t)i * 4096;
		iov[i].iov_len = 4096;
		treq_init(f, &t[i], i % 2 ? NVMFT_IO_READ : NVMFT_IO_COMPARE, (uint64_t)i * 8, 8,
			  &iov[i], 1);
		assert_int_equal(submit(f, &t[i]), 0);
	}
	/* Not the core's way: its requests are never completed, their memory outlives the kernel's use. */
	f->be->ops->channel_close(f->be->ctx, f->chan);
	f->chan = NULL;
	assert_int_equal(nvmft_uring_pg_ring_chans(&f->pg), 1);
	rw_one(f, b2, ch2, path2, 70);
	for (int i = 0; i < N; i++)
		assert_int_equal(t[i].done, 0);
	b2->ops->channel_close(b2->ctx, ch2);
	assert_int_equal(count_rings(), base);
	assert_int_equal(nvmft_backend_free(b2), 0);
	free(buf);
}

/* Submit a read straight to a group's channel, past the core. */
static void inject_read(struct fixture *f, struct nvmft_backend *be, void *chan, struct treq *t,
			struct iovec *iov)
{
	treq_init(f, t, NVMFT_IO_READ, 0, 8, iov, 1);
	assert_int_equal(be->ops->submit(be->ctx, chan, &t->req), 0);
}

/*
 * The group sleeps on its descriptor and wakes for a completion on any
 * namespace of its ring: nothing else in the set can become readable, and
 * the completion is not reaped before the wait.
 */
static void check_wakes(struct fixture *f, struct nvmft_poll_group *pg, struct nvmft_backend *be,
			void *chan)
{
	int pgfd = nvmft_poll_group_get_fd(pg);
	uint8_t *buf = abuf(4096);
	struct iovec iov = { .iov_base = buf, .iov_len = 4096 };
	struct treq t;

	/* Idle, no timer: it may sleep for good, no channel needs a 1 ms look. */
	assert_int_equal(nvmft_poll_group_get_timeout_ms(pg), -1);
	assert_int_equal(ep_wait(pgfd, 0), 0);
	inject_read(f, be, chan, &t, &iov);
	assert_int_equal(ep_wait(pgfd, 10000), 1);
	for (int i = 0; i < 1000 && t.done == 0; i++) {
		nvmft_poll_group_poll(pg, 0);
		if (t.done == 0)
			assert_int_equal(ep_wait(pgfd, 10000), 1);
	}
	assert_int_equal(t.done, 1);
	assert_int_equal(t.err, 0);
	nvmft_poll_group_poll(pg, 0);
	assert_int_equal(ep_wait(pgfd, 0), 0);
	free(buf);
}

/* The channel the core opened on @pg for @nsid. */
static struct nvmft_pg_ns *pg_ns_of(struct nvmft_poll_group *pg, struct nvmft_subsystem *ss,
				    uint32_t nsid)
{
	return nvmft_pg_ns(nvmft_pg_subsys(pg, ss->id), nsid);
}

/* Through the core: two namespaces, two groups, event-driven, removal. */
static void test_core_ring_per_group(void **state)
{
	struct fixture *f = *state;
	struct lt_env_opts eo = { .nr_pgs = 2 };
	struct lt_env env;
	char path2[PATH_MAX + 64];
	const char *paths[2] = { f->path, path2 };
	struct nvmft_backend *b[2];
	struct nvmft_ns *ns[2];
	struct lt_qpair *aq, *iq;
	struct nvmft_pg_ns *pn[2];
	int ring_fd[2], base, rc;
	uint8_t *in = abuf(64 * 1024), *out = abuf(64 * 1024);
	uint16_t cntlid;

	snprintf(path2, sizeof(path2), "%s/disk2.img", f->dir);
	make_file(f->path, MIB, 0);
	make_file(path2, MIB, 0);
	base = count_rings();
	assert_int_equal(lt_env_init(&env, &eo), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN_URING, true));
	for (int i = 0; i < 2; i++) {
		char name[8];

		snprintf(name, sizeof(name), "u%d", i);
		assert_int_equal(nvmft_backend_uring_new(name, paths[i], 0, &b[i]), 0);
		ns[i] = lt_env_add_ns(&env, env.ss, b[i], (uint32_t)i + 1);
		assert_non_null(ns[i]);
	}
	/* One ring per group, not one per namespace and group. */
	assert_int_equal(count_rings(), base + 2);
	for (int g = 0; g < 2; g++) {
		struct nvmft_poll_group *pg = env.pg[g];

		assert_int_equal(nvmft_uring_pg_ring_chans(pg), 2);
		pn[0] = pg_ns_of(pg, env.ss, 1);
		pn[1] = pg_ns_of(pg, env.ss, 2);
		assert_ptr_equal(chan_info(pn[0]->chan).ring, chan_info(pn[1]->chan).ring);
		assert_true(pn[0]->chan_fd >= 0);
		assert_int_equal(pn[0]->chan_fd, pn[1]->chan_fd);
		ring_fd[g] = pn[0]->chan_fd;
		/* In the group's epoll set exactly once. */
		assert_int_equal(epoll_watches(nvmft_poll_group_get_fd(pg), ring_fd[g]), 1);
		check_wakes(f, pg, b[0], pn[0]->chan);
		check_wakes(f, pg, b[1], pn[1]->chan);
	}
	assert_int_not_equal(ring_fd[0], ring_fd[1]);

	/* Data through the whole stack to both namespaces, each in its own file. */
	aq = lt_connect_admin(&env, NQN_URING, LT_HOSTNQN, &cntlid);
	assert_non_null(aq);
	iq = lt_connect_io(&env, NQN_URING, LT_HOSTNQN, cntlid, 1, 127);
	assert_non_null(iq);
	for (int i = 0; i < 2; i++) {
		fill(in, 64 * 1024, 80 + (unsigned int)i);
		assert_int_equal(lt_rw(iq, true, (uint32_t)i + 1, 16, 128, in, 64 * 1024).status, 0);
		memset(out, 0, 64 * 1024);
		assert_int_equal(lt_rw(iq, false, (uint32_t)i + 1, 16, 128, out, 64 * 1024).status, 0);
		assert_memory_equal(out, in, 64 * 1024);
		check_file(paths[i], in, 64 * 1024, 16 * 512);
	}

	/* Removing one namespace leaves the ring, still watched once, to the other. */
	assert_int_equal(lt_env_remove_ns(&env, ns[0]), 0);
	assert_int_equal(count_rings(), base + 2);
	rc = lt_rw(iq, false, 1, 0, 1, out, 512).status;
	assert_int_not_equal(rc, 0);
	fill(in, 64 * 1024, 90);
	assert_int_equal(lt_rw(iq, true, 2, 0, 128, in, 64 * 1024).status, 0);
	memset(out, 0, 64 * 1024);
	assert_int_equal(lt_rw(iq, false, 2, 0, 128, out, 64 * 1024).status, 0);
	assert_memory_equal(out, in, 64 * 1024);
	check_file(path2, in, 64 * 1024, 0);
	lt_qpair_close(iq);
	lt_qpair_close(aq);
	for (int g = 0; g < 2; g++) {
		struct nvmft_poll_group *pg = env.pg[g];

		assert_int_equal(nvmft_uring_pg_ring_chans(pg), 1);
		assert_int_equal(epoll_watches(nvmft_poll_group_get_fd(pg), ring_fd[g]), 1);
		check_wakes(f, pg, b[1], pg_ns_of(pg, env.ss, 2)->chan);
	}

	/* The last one takes the rings, and their registrations, with it. */
	assert_int_equal(lt_env_remove_ns(&env, ns[1]), 0);
	assert_int_equal(count_rings(), base);
	for (int g = 0; g < 2; g++) {
		assert_int_equal(nvmft_uring_pg_ring_chans(env.pg[g]), 0);
		assert_int_equal(epoll_watches(nvmft_poll_group_get_fd(env.pg[g]), ring_fd[g]), 0);
	}
	lt_env_fini(&env);
	free(in);
	free(out);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TF(fn) cmocka_unit_test_setup_teardown(fn, setup_file, teardown)
	const struct CMUnitTest tests[] = {
		T(test_create_file_props),
		T(test_create_block_size),
		T(test_create_bad_args),
		T(test_write_read_back),
		TF(test_multi_iov),
		TF(test_longer_buffers_clipped),
		TF(test_unaligned_falls_back),
		TF(test_fua_and_flush),
		TF(test_write_zeroes),
		TF(test_deallocate),
		TF(test_compare),
		TF(test_rejects),
		TF(test_many_in_flight),
		TF(test_channel_fd),
		TF(test_poll_budget),
		TF(test_close_with_outstanding),
		T(test_pg_shares_one_ring),
		T(test_pg_overflow_fair_in_order),
		T(test_pg_close_busy_channel),
		T(test_core_ring_per_group),
		T(test_short_read_at_eof),
		T(test_tmpfs),
		T(test_error_write_protected),
		TF(test_error_bad_descriptor),
		T(test_block_device),
		/* Last: it moves the process into its own mount namespace. */
		T(test_ramfs_no_direct_no_fallocate),
	};
#undef T
#undef TF

	return cmocka_run_group_tests(tests, NULL, NULL);
}
