/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf_pool.h"

int nvmft_buf_pool_init(struct nvmft_buf_pool *p, size_t chunk, uint64_t max_bytes)
{
	uint64_t n;

	if (chunk == 0 || chunk % 4096 != 0)
		return -EINVAL;
	n = max_bytes / chunk;
	if (n == 0)
		n = 1;
	if (n > UINT32_MAX / 2)
		return -EINVAL;
	p->chunk = chunk;
	p->max_chunks = (uint32_t)n;
	p->nr_alloc = 0;
	p->nr_free = 0;
	p->mem_ops = NULL;
	p->mem_ctx = NULL;
	p->regs = NULL;
	p->free_stack = calloc(n, sizeof(void *));
	return p->free_stack ? 0 : -ENOMEM;
}

int nvmft_buf_pool_set_mem_ops(struct nvmft_buf_pool *p, const struct nvmft_buf_pool_mem_ops *ops,
			       void *ctx)
{
	if (ops == NULL || ops->reg == NULL || ops->unreg == NULL || p->mem_ops != NULL)
		return -EINVAL;
	/* Chunks allocated before would have no registration to look up. */
	if (p->nr_alloc != 0)
		return -EBUSY;
	p->regs = calloc(p->max_chunks, sizeof(*p->regs));
	if (p->regs == NULL)
		return -ENOMEM;
	p->mem_ops = ops;
	p->mem_ctx = ctx;
	return 0;
}

void nvmft_buf_pool_fini(struct nvmft_buf_pool *p)
{
	if (p->mem_ops != NULL) {
		/* Chunks still out (a request that never came back) stay allocated, but unregistered. */
		for (uint32_t i = 0; i < p->nr_alloc; i++)
			p->mem_ops->unreg(p->mem_ctx, p->regs[i].addr, p->chunk, p->regs[i].handle);
		free(p->regs);
		p->regs = NULL;
		p->mem_ops = NULL;
	}
	while (p->nr_free > 0)
		free(p->free_stack[--p->nr_free]);
	free(p->free_stack);
	p->free_stack = NULL;
	p->nr_alloc = 0;
}

/* Index of the first registered chunk whose address is above @addr. */
static uint32_t buf_pool_upper(const struct nvmft_buf_pool *p, const void *addr)
{
	uint32_t lo = 0, hi = p->nr_alloc;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if ((uintptr_t)p->regs[mid].addr <= (uintptr_t)addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A new chunk from the system, registered if the pool has callbacks: 0 or -errno. */
static int buf_pool_alloc_chunk(struct nvmft_buf_pool *p, void **ret)
{
	void *b = aligned_alloc(4096, p->chunk), *h = NULL;
	uint32_t at;
	int rc;

	if (b == NULL)
		return -ENOMEM;
	if (p->mem_ops != NULL) {
		rc = p->mem_ops->reg(p->mem_ctx, b, p->chunk, &h);
		if (rc < 0) {
			free(b);
			return rc;
		}
		/* Allocation happens at most max_chunks times: keeping the array sorted is cheap. */
		at = buf_pool_upper(p, b);
		memmove(&p->regs[at + 1], &p->regs[at], (p->nr_alloc - at) * sizeof(*p->regs));
		p->regs[at].addr = b;
		p->regs[at].handle = h;
	}
	p->nr_alloc++;
	*ret = b;
	return 0;
}

int nvmft_buf_pool_get(struct nvmft_buf_pool *p, uint64_t len, struct iovec *iov, int max_iov)
{
	uint32_t need = nvmft_buf_pool_chunks_for(p, len);
	uint32_t i;
	int rc;

	if (need == 0 || need > p->max_chunks || need > (uint32_t)max_iov)
		return -E2BIG;
	if (need > p->nr_free + (p->max_chunks - p->nr_alloc))
		return -EAGAIN;
	for (i = 0; i < need; i++) {
		void *b;

		if (p->nr_free > 0) {
			/* LIFO: the most recently used chunk is the likeliest to be cache-hot. */
			b = p->free_stack[--p->nr_free];
		} else {
			rc = buf_pool_alloc_chunk(p, &b);
			if (rc < 0) {
				nvmft_buf_pool_put(p, iov, (int)i);
				return rc;
			}
		}
		iov[i].iov_base = b;
		iov[i].iov_len = p->chunk;
	}
	iov[need - 1].iov_len = len - (uint64_t)(need - 1) * p->chunk;
	return (int)need;
}

void nvmft_buf_pool_put(struct nvmft_buf_pool *p, const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++)
		p->free_stack[p->nr_free++] = iov[i].iov_base;
}

int nvmft_buf_pool_mem_handle(const struct nvmft_buf_pool *p, const void *addr, void **handle)
{
	uint32_t at;
	uintptr_t base;

	if (p->mem_ops == NULL || addr == NULL)
		return -ENOENT;
	at = buf_pool_upper(p, addr);
	if (at == 0)
		return -ENOENT;
	base = (uintptr_t)p->regs[at - 1].addr;
	if ((uintptr_t)addr - base >= p->chunk)
		return -ENOENT;
	*handle = p->regs[at - 1].handle;
	return 0;
}
