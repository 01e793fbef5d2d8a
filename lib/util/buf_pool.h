/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bounded pool of data buffer chunks for one poll group and transport.
 *
 * Chunks are page-aligned (O_DIRECT backends can use them as they are) and
 * allocated only when first needed, so memory tracks the data actually in
 * flight; the bound caps it.  A request takes ceil(len / chunk) chunks as an
 * iovec.  Owner thread only: no locking.
 */
#ifndef NVMFT_UTIL_BUF_POOL_H
#define NVMFT_UTIL_BUF_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct nvmft_buf_pool {
	size_t chunk;         /* bytes per chunk, a multiple of 4096 */
	uint32_t max_chunks;  /* the bound */
	uint32_t nr_alloc;    /* chunks allocated from the system */
	uint32_t nr_free;     /* of which on the free stack */
	void **free_stack;
};

/* Return 0 or -ENOMEM/-EINVAL. @max_bytes is rounded down to whole chunks (at least one). */
int nvmft_buf_pool_init(struct nvmft_buf_pool *p, size_t chunk, uint64_t max_bytes);
/* Frees every chunk; all must have been put back. */
void nvmft_buf_pool_fini(struct nvmft_buf_pool *p);
/* Chunks needed for @len bytes. */
static inline uint32_t nvmft_buf_pool_chunks_for(const struct nvmft_buf_pool *p, uint64_t len)
{
	return (uint32_t)((len + p->chunk - 1) / p->chunk);
}
/*
 * Take chunks covering @len bytes into @iov (at most @max_iov entries; the
 * last entry is trimmed to the remainder).  Return the entry count, -EAGAIN
 * when the bound is reached for now, -E2BIG when @len can never fit, or
 * -ENOMEM when the system is out of memory.
 */
int nvmft_buf_pool_get(struct nvmft_buf_pool *p, uint64_t len, struct iovec *iov, int max_iov);
/* Return chunks taken by nvmft_buf_pool_get() (iov_base of each entry). */
void nvmft_buf_pool_put(struct nvmft_buf_pool *p, const struct iovec *iov, int iovcnt);
/* Bytes of chunks allocated now. */
static inline uint64_t nvmft_buf_pool_bytes(const struct nvmft_buf_pool *p)
{
	return (uint64_t)p->nr_alloc * p->chunk;
}

#endif
