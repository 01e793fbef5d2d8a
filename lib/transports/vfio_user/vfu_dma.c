/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DMA region table: a sorted array (a client maps a handful of regions, a
 * VM a few dozen) searched by bisection, with the last hit kept as a hint
 * because consecutive commands mostly use the same region.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "transports/vfio_user/vfu_dma.h"
#include "transports/vfio_user/vfu_proto.h"

void vfu_dma_init(struct vfu_dma *d, uint32_t max)
{
	memset(d, 0, sizeof(*d));
	d->max = max;
	TAILQ_INIT(&d->dead);
}

static void dma_region_free(struct vfu_dma_region *r)
{
	if (r->hva != NULL)
		munmap(r->hva, r->len);
	free(r);
}

void vfu_dma_fini(struct vfu_dma *d)
{
	struct vfu_dma_region *r;

	for (uint32_t i = 0; i < d->n; i++)
		dma_region_free(d->tbl[i]);
	while ((r = TAILQ_FIRST(&d->dead)) != NULL) {
		TAILQ_REMOVE(&d->dead, r, link);
		dma_region_free(r);
	}
	free(d->tbl);
	d->tbl = NULL;
	d->n = d->cap = 0;
	d->hint = NULL;
}

/* Index of the first region whose end lies above @iova (the insertion point). */
static uint32_t dma_lower(const struct vfu_dma *d, uint64_t iova)
{
	uint32_t lo = 0, hi = d->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct vfu_dma_region *r = d->tbl[mid];

		if (r->iova + r->len <= iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct vfu_dma_region *vfu_dma_find(struct vfu_dma *d, uint64_t iova)
{
	uint32_t i = dma_lower(d, iova);

	if (i < d->n && d->tbl[i]->iova <= iova)
		return d->tbl[i];
	return NULL;
}

/* Whether @st describes a file that holds [@offset, @offset + @len). */
static bool dma_file_covers(const struct stat *st, uint64_t offset, uint64_t len)
{
	return st->st_size >= 0 && (uint64_t)st->st_size >= offset && (uint64_t)st->st_size - offset >= len;
}

static int dma_map_fd(int fd, uint64_t offset, uint64_t len, uint32_t prot, bool unsealed_ok, uint8_t **hva)
{
	int mprot = 0, seals;
	struct stat st;
	void *p;

	/*
	 * Touching a page of a shared mapping past the end of its file raises
	 * SIGBUS, and this process has no handler for it (the library installs
	 * none): the file must hold the range now, and a client must not be
	 * able to shrink it later.  That takes F_SEAL_SHRINK, which a memfd
	 * (hugetlb ones too) can carry and QEMU's memfd memory backend sets.
	 * Files opened by name on tmpfs or hugetlbfs cannot be sealed, and both
	 * can be truncated while mapped.  (One way remains for hugetlb memory:
	 * a hole punched into it while the huge page pool is empty.)
	 */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || !dma_file_covers(&st, offset, len) || len > SIZE_MAX)
		return -EINVAL;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		if (!unsealed_ok)
			return -EPERM;
	} else {
		/* The file may have shrunk just before the seal came: its size is final only now. */
		if (fstat(fd, &st) < 0)
			return -errno;
		if (!dma_file_covers(&st, offset, len))
			return -EINVAL;
	}
	if (prot & VFU_DMA_READ)
		mprot |= PROT_READ;
	if (prot & VFU_DMA_WRITE)
		mprot |= PROT_WRITE;
	p = mmap(NULL, (size_t)len, mprot, MAP_SHARED, fd, (off_t)offset);
	if (p == MAP_FAILED)
		return -errno;
	*hva = p;
	return 0;
}

int vfu_dma_add(struct vfu_dma *d, uint64_t iova, uint64_t len, uint32_t prot, int fd, uint64_t offset)
{
	struct vfu_dma_region *r;
	uint32_t i;
	int rc;

	if (len == 0 || iova + len < iova || iova % VFU_DMA_PGSIZE || len % VFU_DMA_PGSIZE)
		return -EINVAL;
	i = dma_lower(d, iova);
	if (i < d->n && d->tbl[i]->iova < iova + len)
		return -EEXIST;
	if (d->n >= d->max)
		return -ENOSPC;
	if (d->n == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 8;
		struct vfu_dma_region **t = realloc(d->tbl, sizeof(*t) * cap);

		if (t == NULL)
			return -ENOMEM;
		d->tbl = t;
		d->cap = cap;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->iova = iova;
	r->len = len;
	r->prot = prot;
	if (fd >= 0) {
		rc = dma_map_fd(fd, offset, len, prot, d->unsealed_ok, &r->hva);
		if (rc < 0) {
			free(r);
			return rc;
		}
	}
	memmove(&d->tbl[i + 1], &d->tbl[i], sizeof(*d->tbl) * (d->n - i));
	d->tbl[i] = r;
	d->n++;
	return 0;
}

/* Take @r out of the table; free it now or park it until its requests let go. */
static int dma_drop(struct vfu_dma *d, uint32_t i)
{
	struct vfu_dma_region *r = d->tbl[i];

	memmove(&d->tbl[i], &d->tbl[i + 1], sizeof(*d->tbl) * (d->n - i - 1));
	d->n--;
	if (d->hint == r)
		d->hint = NULL;
	if (r->refs == 0) {
		dma_region_free(r);
		return 0;
	}
	r->removed = true;
	TAILQ_INSERT_TAIL(&d->dead, r, link);
	return -EBUSY;
}

int vfu_dma_remove(struct vfu_dma *d, uint64_t iova, uint64_t len)
{
	uint32_t i = dma_lower(d, iova);

	if (i >= d->n || d->tbl[i]->iova != iova || d->tbl[i]->len != len)
		return -EINVAL;
	return dma_drop(d, i);
}

int vfu_dma_remove_all(struct vfu_dma *d)
{
	int rc = 0;

	while (d->n > 0)
		if (dma_drop(d, d->n - 1) == -EBUSY)
			rc = -EBUSY;
	return rc;
}

void vfu_dma_put(struct vfu_dma *d, struct vfu_dma_region *r)
{
	if (--r->refs != 0 || !r->removed)
		return;
	TAILQ_REMOVE(&d->dead, r, link);
	dma_region_free(r);
}
