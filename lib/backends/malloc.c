/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RAM backend.  The whole device is one private anonymous mapping reserved
 * without swap accounting, so a large, mostly empty device costs address
 * space only: pages appear when first written, read as zeroes until then,
 * and are handed back to the kernel when deallocated.
 *
 * Every request completes inside submit(); there is nothing to poll.  Reads
 * without buffers are answered with a pointer into the mapping.  The
 * mapping lives until the backend is destroyed, so such a pointer stays
 * valid however long the transport holds it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backends/backend.h"
#include "util/compiler.h"

struct malloc_be {
	uint8_t *base;
	size_t len;
	size_t page_size;
	uint32_t block_size;
	uint64_t num_blocks;
};

static int malloc_channel_open(void *ctx, void **chan)
{
	/* No per-thread state: any non-NULL token will do. */
	*chan = ctx;
	return 0;
}

static void malloc_channel_close(void *ctx, void *chan)
{
	(void)ctx;
	(void)chan;
}

/*
 * Zero [off, off + len): whole pages go back to the kernel (and cost no
 * memory until written again), the partial pages at either edge are
 * cleared by hand.
 */
static void malloc_zero(struct malloc_be *mb, size_t off, size_t len)
{
	size_t pg = mb->page_size;
	size_t start = NVMFT_ALIGN_UP(off, pg);
	size_t end = (off + len) & ~(pg - 1);

	if (start >= end) {
		memset(mb->base + off, 0, len);
		return;
	}
	memset(mb->base + off, 0, start - off);
	memset(mb->base + end, 0, off + len - end);
	if (madvise(mb->base + start, end - start, MADV_DONTNEED) != 0)
		memset(mb->base + start, 0, end - start);
}

static int malloc_read(struct malloc_be *mb, struct nvmft_req *req, size_t off, size_t len)
{
	const struct iovec *iov;
	int iovcnt, rc;

	iov = nvmft_req_get_iovs(req, &iovcnt);
	if (iovcnt == 0) {
		struct iovec ziov = { .iov_base = mb->base + off, .iov_len = len };

		rc = nvmft_req_set_iovs(req, &ziov, 1);
		if (rc < 0)
			return rc;
	} else {
		if (nvmft_be_iov_len(iov, iovcnt) < len)
			return -EINVAL;
		nvmft_be_iov_copy_to(iov, iovcnt, 0, mb->base + off, len);
	}
	nvmft_req_complete(req, 0);
	return 0;
}

static int malloc_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	struct malloc_be *mb = ctx;
	const struct iovec *iov;
	uint64_t slba, nlb;
	size_t off, len;
	int iovcnt, rc;
	int err = 0;

	(void)chan;
	/* The core checked the range already; a bad one here would corrupt memory. */
	rc = nvmft_be_check_req(req, mb->num_blocks);
	if (rc < 0)
		return rc;
	off = (size_t)nvmft_req_get_offset_blocks(req) * mb->block_size;
	len = (size_t)nvmft_req_get_num_blocks(req) * mb->block_size;

	switch (nvmft_req_get_io_type(req)) {
	case NVMFT_IO_READ:
		return malloc_read(mb, req, off, len);
	case NVMFT_IO_WRITE:
		/* RAM is as durable as it gets here, so FUA needs nothing more. */
		iov = nvmft_req_get_iovs(req, &iovcnt);
		if (nvmft_be_iov_len(iov, iovcnt) < len)
			return -EINVAL;
		nvmft_be_iov_copy_from(iov, iovcnt, 0, mb->base + off, len);
		break;
	case NVMFT_IO_COMPARE:
		iov = nvmft_req_get_iovs(req, &iovcnt);
		if (nvmft_be_iov_len(iov, iovcnt) < len)
			return -EINVAL;
		if (!nvmft_be_iov_equal(iov, iovcnt, mb->base + off, len))
			err = -EILSEQ;
		break;
	case NVMFT_IO_FLUSH:
		break;
	case NVMFT_IO_WRITE_ZEROES:
		malloc_zero(mb, off, len);
		break;
	case NVMFT_IO_DEALLOCATE:
		for (uint32_t i = 0; i < nvmft_req_get_range_count(req); i++) {
			nvmft_req_get_range(req, i, &slba, &nlb);
			if (nlb != 0)
				malloc_zero(mb, slba * mb->block_size, nlb * mb->block_size);
		}
		break;
	default:
		return -EOPNOTSUPP;
	}
	nvmft_req_complete(req, err);
	return 0;
}

static void malloc_destroy(void *ctx)
{
	struct malloc_be *mb = ctx;

	munmap(mb->base, mb->len);
	free(mb);
}

static const struct nvmft_backend_ops malloc_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = malloc_channel_open,
	.channel_close = malloc_channel_close,
	.submit = malloc_submit,
	.destroy = malloc_destroy,
};

NVMFT_EXPORT int nvmft_backend_malloc_new(const char *name, uint64_t num_blocks, uint32_t block_size,
					  struct nvmft_backend **ret)
{
	struct nvmft_backend_opts opts;
	struct malloc_be *mb;
	long pg;
	int rc;

	/* Check before reserving what may be terabytes of address space. */
	if (name == NULL || name[0] == '\0' || ret == NULL ||
	    !nvmft_backend_geometry_ok(block_size, num_blocks) ||
	    num_blocks > SIZE_MAX / block_size)
		return -EINVAL;
	pg = sysconf(_SC_PAGESIZE);
	if (pg <= 0)
		pg = 4096;

	mb = calloc(1, sizeof(*mb));
	if (mb == NULL)
		return -ENOMEM;
	mb->page_size = (size_t)pg;
	mb->block_size = block_size;
	mb->num_blocks = num_blocks;
	mb->len = (size_t)(num_blocks * block_size);
	mb->base = mmap(NULL, mb->len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mb->base == MAP_FAILED) {
		free(mb);
		return -ENOMEM;
	}

	nvmft_backend_opts_init(&opts, sizeof(opts));
	opts.name = name;
	opts.block_size = block_size;
	opts.num_blocks = num_blocks;
	/*
	 * No volatile cache, so no FLUSH capability: the core answers Flush
	 * itself.  Writes are durable (for RAM) when they complete, so FUA holds.
	 */
	opts.caps = NVMFT_BACKEND_CAP_FUA | NVMFT_BACKEND_CAP_WRITE_ZEROES |
		    NVMFT_BACKEND_CAP_DEALLOCATE | NVMFT_BACKEND_CAP_DEALLOC_ZEROES |
		    NVMFT_BACKEND_CAP_COMPARE | NVMFT_BACKEND_CAP_ZCOPY_READ;
	rc = nvmft_backend_create(&malloc_ops, mb, &opts, "malloc", ret);
	if (rc < 0)
		malloc_destroy(mb);
	return rc;
}
