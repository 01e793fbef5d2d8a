/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client's DMA regions (VFIO_USER_DMA_MAP/UNMAP) and address
 * translation.  A region given with a file descriptor is mapped into this
 * process once, and only if the file cannot shrink under the mapping
 * (sealed with F_SEAL_SHRINK), unless the application said otherwise:
 * touching a page a client truncated away would kill this process with
 * SIGBUS.  Every access the device makes on the client's behalf (queue
 * memory, PRP lists, SGL segments, data) is translated here and must lie
 * inside one region that allows it.
 *
 * A region stays mapped while requests still move data through it: an
 * unmap removes it from the table at once (nothing new reaches it) and
 * unmaps it when the last such request lets go, which is when the server
 * may answer the client (the protocol wants in-flight DMA finished first).
 *
 * Owner: the poll group of the connection.  No locks.
 */
#ifndef NVMFT_VFU_DMA_H
#define NVMFT_VFU_DMA_H

#include <stdbool.h>
#include <stdint.h>

#include <bsd/sys/queue.h>

#include "util/compiler.h"

struct vfu_dma_region {
	uint64_t iova;
	uint64_t len;
	uint8_t *hva;  /* NULL: no descriptor came with it, the device cannot reach it */
	uint32_t prot; /* VFU_DMA_READ, VFU_DMA_WRITE: what the client lets the device do */
	uint32_t refs; /* requests holding data in it */
	bool removed;  /* unmapped by the client, waiting for @refs to drop */
	TAILQ_ENTRY(vfu_dma_region) link; /* vfu_dma.dead while removed */
};

struct vfu_dma {
	struct vfu_dma_region **tbl; /* sorted by iova, disjoint */
	uint32_t n;
	uint32_t cap;
	uint32_t max;
	struct vfu_dma_region *hint; /* last region translated into */
	TAILQ_HEAD(, vfu_dma_region) dead;
	bool unsealed_ok; /* take files that may shrink under their mapping (allow_unsealed_mem) */
};

void vfu_dma_init(struct vfu_dma *d, uint32_t max);
/* Unmap and free every region, referenced or not (the connection is gone). */
void vfu_dma_fini(struct vfu_dma *d);
/*
 * Add [@iova, @iova + @len) with @prot.  @fd >= 0 is mapped from @offset
 * (it must be a regular file that long, sealed with F_SEAL_SHRINK unless
 * @d->unsealed_ok; the caller keeps and closes @fd); -1 records a region
 * the device cannot reach.  Returns 0, -EEXIST (overlaps a region),
 * -ENOSPC (table full), -EINVAL (not a file, too short, misaligned),
 * -EPERM (the file could shrink under the mapping) or mmap's errno.
 */
int vfu_dma_add(struct vfu_dma *d, uint64_t iova, uint64_t len, uint32_t prot, int fd, uint64_t offset);
/*
 * Remove the region that is exactly [@iova, @iova + @len).  Returns 0 when
 * it is unmapped already, -EBUSY when requests still hold it (it goes when
 * vfu_dma_busy() turns false), -EINVAL when no region matches.  Whatever
 * else points into the range (queues) is the caller's to detach first.
 */
int vfu_dma_remove(struct vfu_dma *d, uint64_t iova, uint64_t len);
/* Remove every region; the same return values, for all of them together. */
int vfu_dma_remove_all(struct vfu_dma *d);
/* Removed regions still referenced by requests. */
static inline bool vfu_dma_busy(const struct vfu_dma *d)
{
	return !TAILQ_EMPTY(&d->dead);
}

/* The region holding @iova, or NULL. */
struct vfu_dma_region *vfu_dma_find(struct vfu_dma *d, uint64_t iova);

/*
 * Host address of [@iova, @iova + @len) when one region holds all of it,
 * can be reached and allows @prot; NULL otherwise.  *@rp (if not NULL)
 * gets the region, for vfu_dma_get().
 */
static inline void *vfu_dma_xlate(struct vfu_dma *d, uint64_t iova, uint64_t len, uint32_t prot,
				  struct vfu_dma_region **rp)
{
	struct vfu_dma_region *r = d->hint;

	if (r == NULL || iova < r->iova || iova - r->iova >= r->len) {
		r = vfu_dma_find(d, iova);
		if (r == NULL)
			return NULL;
		d->hint = r;
	}
	if (len > r->len - (iova - r->iova) || r->hva == NULL || (r->prot & prot) != prot)
		return NULL;
	if (rp != NULL)
		*rp = r;
	return r->hva + (iova - r->iova);
}

static inline void vfu_dma_get(struct vfu_dma_region *r)
{
	r->refs++;
}

/* Drop a request's hold; a removed region is unmapped with its last one. */
void vfu_dma_put(struct vfu_dma *d, struct vfu_dma_region *r);

/* Whether [@iova, @iova + @len) touches region @r. */
static inline bool vfu_dma_overlaps(const struct vfu_dma_region *r, uint64_t iova, uint64_t len)
{
	return iova < r->iova + r->len && r->iova < iova + len;
}

#endif
