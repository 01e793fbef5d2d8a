/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>

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
	p->free_stack = calloc(n, sizeof(void *));
	return p->free_stack ? 0 : -ENOMEM;
}

void nvmft_buf_pool_fini(struct nvmft_buf_pool *p)
{
	while (p->nr_free > 0)
		free(p->free_stack[--p->nr_free]);
	free(p->free_stack);
	p->free_stack = NULL;
	p->nr_alloc = 0;
}

int nvmft_buf_pool_get(struct nvmft_buf_pool *p, uint64_t len, struct iovec *iov, int max_iov)
{
	uint32_t need = nvmft_buf_pool_chunks_for(p, len);
	uint32_t i;

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
			b = aligned_alloc(4096, p->chunk);
			if (b == NULL) {
				nvmft_buf_pool_put(p, iov, (int)i);
				return -ENOMEM;
			}
			p->nr_alloc++;
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
