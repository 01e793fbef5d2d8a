/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bounded pool of data buffer chunks for one poll group and transport.
 *
 * Chunks are page-aligned (O_DIRECT backends can use them as they are) and
 * allocated only when first needed, so memory tracks the data actually in
 * flight; the bound caps it.  A request takes ceil(len / chunk) chunks as an
 * iovec.  Owner thread only: no locking.
 *
 * A transport whose hardware must know the memory (RDMA) installs
 * registration callbacks: each chunk is registered once, when the pool
 * allocates it, and unregistered when the pool is finalised, so the cost
 * is per chunk and never per request.
 */
#ifndef NVMFT_UTIL_BUF_POOL_H
#define NVMFT_UTIL_BUF_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/*
 * @reg: register [@addr, @addr + @len) and return 0 with a handle (a memory
 *       region, its keys), or -errno, which fails the allocation that
 *       needed the chunk.
 * @unreg: undo @reg; the chunk is freed right after.
 */
struct nvmft_buf_pool_mem_ops {
	int (*reg)(void *ctx, void *addr, size_t len, void **handle);
	void (*unreg)(void *ctx, void *addr, size_t len, void *handle);
};

/* A registered chunk; the pool keeps them sorted by address for lookups. */
struct nvmft_buf_pool_chunk {
	void *addr;
	void *handle;
};

struct nvmft_buf_pool {
	size_t chunk;         /* bytes per chunk, a multiple of 4096 */
	uint32_t max_chunks;  /* the bound */
	uint32_t nr_alloc;    /* chunks allocated from the system */
	uint32_t nr_free;     /* of which on the free stack */
	void **free_stack;
	const struct nvmft_buf_pool_mem_ops *mem_ops;
	void *mem_ctx;
	struct nvmft_buf_pool_chunk *regs; /* nr_alloc entries when @mem_ops is set */
};

/* Return 0 or -ENOMEM/-EINVAL. @max_bytes is rounded down to whole chunks (at least one). */
int nvmft_buf_pool_init(struct nvmft_buf_pool *p, size_t chunk, uint64_t max_bytes);
/*
 * Install registration callbacks (@ops with both methods, @ctx passed to
 * them) before the first chunk is allocated.  Returns 0, -EINVAL, -EBUSY
 * (chunks exist already) or -ENOMEM.
 */
int nvmft_buf_pool_set_mem_ops(struct nvmft_buf_pool *p, const struct nvmft_buf_pool_mem_ops *ops,
			       void *ctx);
/* Unregisters and frees every chunk; all must have been put back. */
void nvmft_buf_pool_fini(struct nvmft_buf_pool *p);
/* Chunks needed for @len bytes. */
static inline uint32_t nvmft_buf_pool_chunks_for(const struct nvmft_buf_pool *p, uint64_t len)
{
	return (uint32_t)((len + p->chunk - 1) / p->chunk);
}
/*
 * Take chunks covering @len bytes into @iov (at most @max_iov entries; the
 * last entry is trimmed to the remainder).  Return the entry count, -EAGAIN
 * when the bound is reached for now, -E2BIG when @len can never fit,
 * -ENOMEM when the system is out of memory, or the -errno with which
 * registering a new chunk failed.
 */
int nvmft_buf_pool_get(struct nvmft_buf_pool *p, uint64_t len, struct iovec *iov, int max_iov);
/* Return chunks taken by nvmft_buf_pool_get() (iov_base of each entry). */
void nvmft_buf_pool_put(struct nvmft_buf_pool *p, const struct iovec *iov, int iovcnt);
/*
 * The registration handle of the chunk that holds @addr (any byte of it).
 * Returns 0, or -ENOENT when the pool has no registration callbacks or
 * @addr is not in one of its chunks.  O(log chunks).
 */
int nvmft_buf_pool_mem_handle(const struct nvmft_buf_pool *p, const void *addr, void **handle);
/* Bytes of chunks allocated now. */
static inline uint64_t nvmft_buf_pool_bytes(const struct nvmft_buf_pool *p)
{
	return (uint64_t)p->nr_alloc * p->chunk;
}

#endif
