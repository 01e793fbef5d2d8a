/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Null backend: writes vanish, reads return zeroes, nothing is stored per
 * block.  Reads without buffers point at one read-only mapping that is
 * never written, so every page of it is the kernel's shared zero page and
 * it costs no memory however large requests get; a large read repeats the
 * same region in several iovec entries.  Since nothing ever writes it, the
 * backend says so (NVMFT_BACKEND_CAP_CONST_READ) and TCP splices large
 * reads from it rather than copying them into the socket.
 *
 * The kernel takes references to the shared zero page slowly (no fast
 * path: a page-table walk under the mm lock per page), so the first large
 * read also fills a small region with real zero pages, and reads up to 16
 * times its size repeat that one from then on: 128 KiB of memory for a
 * backend that serves large reads, none for one that does not.
 * Everything completes in submit().
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "backends/backend.h"
#include "util/compiler.h"

/* Largest zero region, and how many entries a zero-copy read may use. */
#define NULL_ZERO_MAX (4u << 20)
#define NULL_ZERO_IOV 16
/* The region of real zero pages, and the smallest read that makes one. */
#define NULL_REAL_LEN (128u << 10)
#define NULL_REAL_MIN (16u << 10)

enum { NULL_REAL_NONE, NULL_REAL_FILLING, NULL_REAL_READY, NULL_REAL_FAILED };

struct null_be {
	void *zero;
	size_t zero_len;
	/* Filled by whichever poll group claims it first; read once READY. */
	void *real;
	size_t real_len;
	atomic_int real_state;
	uint32_t block_size;
	uint64_t num_blocks;
};

static int null_channel_open(void *ctx, void **chan)
{
	*chan = ctx;
	return 0;
}

static void null_channel_close(void *ctx, void *chan)
{
	(void)ctx;
	(void)chan;
}

/* Fill the region of real zero pages once; false until it is ready. */
static bool null_real_ready(struct null_be *nb)
{
	int st = atomic_load_explicit(&nb->real_state, memory_order_acquire);
	void *p;

	if (st == NULL_REAL_READY)
		return true;
	if (st != NULL_REAL_NONE ||
	    !atomic_compare_exchange_strong(&nb->real_state, &st, NULL_REAL_FILLING))
		return false;
	p = mmap(NULL, nb->real_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		atomic_store_explicit(&nb->real_state, NULL_REAL_FAILED, memory_order_release);
		return false;
	}
	/* Writing is what makes the pages real; read-only, nothing can change them. */
	memset(p, 0, nb->real_len);
	mprotect(p, nb->real_len, PROT_READ);
	nb->real = p;
	atomic_store_explicit(&nb->real_state, NULL_REAL_READY, memory_order_release);
	return true;
}

static int null_read(struct null_be *nb, struct nvmft_req *req, size_t len)
{
	struct iovec ziov[NULL_ZERO_IOV];
	const struct iovec *iov;
	void *zero = nb->zero;
	size_t zero_len = nb->zero_len;
	int iovcnt, n, rc;

	iov = nvmft_req_get_iovs(req, &iovcnt);
	if (iovcnt > 0) {
		nvmft_be_iov_zero(iov, iovcnt, 0);
		nvmft_req_complete(req, 0);
		return 0;
	}
	if (len >= NULL_REAL_MIN && len <= (size_t)NULL_ZERO_IOV * nb->real_len &&
	    null_real_ready(nb)) {
		zero = nb->real;
		zero_len = nb->real_len;
	}
	if (len > (size_t)NULL_ZERO_IOV * zero_len)
		return -E2BIG;
	for (n = 0; len > 0; n++) {
		ziov[n].iov_base = zero;
		ziov[n].iov_len = NVMFT_MIN(len, zero_len);
		len -= ziov[n].iov_len;
	}
	rc = nvmft_req_set_iovs(req, ziov, n);
	if (rc < 0)
		return rc;
	nvmft_req_complete(req, 0);
	return 0;
}

static int null_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	struct null_be *nb = ctx;
	const struct iovec *iov;
	size_t len;
	int iovcnt, rc;
	int err = 0;

	(void)chan;
	rc = nvmft_be_check_req(req, nb->num_blocks);
	if (rc < 0)
		return rc;
	len = (size_t)nvmft_req_get_num_blocks(req) * nb->block_size;

	switch (nvmft_req_get_io_type(req)) {
	case NVMFT_IO_READ:
		return null_read(nb, req, len);
	case NVMFT_IO_COMPARE:
		/* The device holds zeroes only, whatever was written. */
		iov = nvmft_req_get_iovs(req, &iovcnt);
		if (nvmft_be_iov_len(iov, iovcnt) < len)
			return -EINVAL;
		if (!nvmft_be_iov_equal(iov, iovcnt, NULL, len))
			err = -EILSEQ;
		break;
	case NVMFT_IO_WRITE:
	case NVMFT_IO_FLUSH:
	case NVMFT_IO_WRITE_ZEROES:
	case NVMFT_IO_DEALLOCATE:
		break;
	default:
		return -EOPNOTSUPP;
	}
	nvmft_req_complete(req, err);
	return 0;
}

static void null_destroy(void *ctx)
{
	struct null_be *nb = ctx;

	munmap(nb->zero, nb->zero_len);
	if (nb->real != NULL)
		munmap(nb->real, nb->real_len);
	free(nb);
}

static const struct nvmft_backend_ops null_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = null_channel_open,
	.channel_close = null_channel_close,
	.submit = null_submit,
	.destroy = null_destroy,
};

NVMFT_EXPORT int nvmft_backend_null_new(const char *name, uint64_t num_blocks, uint32_t block_size,
					struct nvmft_backend **ret)
{
	struct nvmft_backend_opts opts;
	struct null_be *nb;
	int rc;

	if (name == NULL || name[0] == '\0' || ret == NULL ||
	    !nvmft_backend_geometry_ok(block_size, num_blocks))
		return -EINVAL;

	nb = calloc(1, sizeof(*nb));
	if (nb == NULL)
		return -ENOMEM;
	nb->block_size = block_size;
	nb->num_blocks = num_blocks;
	/* No bigger than the device: a tiny device needs a tiny region. */
	nb->zero_len = num_blocks < NULL_ZERO_MAX / block_size ? (size_t)num_blocks * block_size
							       : NULL_ZERO_MAX;
	nb->real_len = NVMFT_MIN(nb->zero_len, (size_t)NULL_REAL_LEN);
	nb->zero = mmap(NULL, nb->zero_len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			-1, 0);
	if (nb->zero == MAP_FAILED) {
		free(nb);
		return -ENOMEM;
	}

	nvmft_backend_opts_init(&opts, sizeof(opts));
	opts.name = name;
	opts.block_size = block_size;
	opts.num_blocks = num_blocks;
	opts.caps = NVMFT_BACKEND_CAP_FUA | NVMFT_BACKEND_CAP_WRITE_ZEROES |
		    NVMFT_BACKEND_CAP_DEALLOCATE | NVMFT_BACKEND_CAP_DEALLOC_ZEROES |
		    NVMFT_BACKEND_CAP_COMPARE | NVMFT_BACKEND_CAP_ZCOPY_READ |
		    NVMFT_BACKEND_CAP_CONST_READ;
	rc = nvmft_backend_create(&null_ops, nb, &opts, "null", ret);
	if (rc < 0)
		null_destroy(nb);
	return rc;
}
