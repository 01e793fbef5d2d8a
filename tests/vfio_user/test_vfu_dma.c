/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/transports/vfio_user/vfu_dma.c: the region table (order, overlaps,
 * limits), mapping client files (sizes, offsets, types, seals against
 * shrinking), translation at region edges and with permissions, and
 * regions that outlive their unmap while requests hold them.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "transports/vfio_user/vfu_dma.h"
#include "transports/vfio_user/vfu_proto.h"

/* A memfd of @size with @seals added (0: none, -1: not even sealable). */
static int memfd_sealed(size_t size, int seals)
{
	int fd = memfd_create("dma", MFD_CLOEXEC | (seals >= 0 ? MFD_ALLOW_SEALING : 0));

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (seals > 0)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

static int memfd_of(size_t size, uint8_t fill)
{
	int fd = memfd_sealed(size, F_SEAL_SHRINK);
	uint8_t *p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	for (size_t i = 0; i < size; i++)
		p[i] = (uint8_t)(fill + i / 4096);
	munmap(p, size);
	return fd;
}

static void test_table(void **state)
{
	struct vfu_dma d;
	int fd = memfd_of(0x10000, 0x10);

	(void)state;
	vfu_dma_init(&d, 4);
	/* Out of order, with gaps; neighbours touching is fine. */
	assert_int_equal(vfu_dma_add(&d, 0x50000, 0x4000, 3, fd, 0), 0);
	assert_int_equal(vfu_dma_add(&d, 0x10000, 0x4000, 3, fd, 0x4000), 0);
	assert_int_equal(vfu_dma_add(&d, 0x14000, 0x1000, 1, -1, 0), 0);
	assert_int_equal(d.n, 3);
	assert_true(d.tbl[0]->iova < d.tbl[1]->iova && d.tbl[1]->iova < d.tbl[2]->iova);
	/* Any overlap is EEXIST. */
	assert_int_equal(vfu_dma_add(&d, 0x13000, 0x1000, 3, -1, 0), -EEXIST);
	assert_int_equal(vfu_dma_add(&d, 0xf000, 0x2000, 3, -1, 0), -EEXIST);
	assert_int_equal(vfu_dma_add(&d, 0x4f000, 0x10000, 3, -1, 0), -EEXIST);
	assert_int_equal(vfu_dma_add(&d, 0x0, 0x100000, 3, -1, 0), -EEXIST);
	/* Sizes and alignment. */
	assert_int_equal(vfu_dma_add(&d, 0x20000, 0, 3, -1, 0), -EINVAL);
	assert_int_equal(vfu_dma_add(&d, 0x20800, 0x1000, 3, -1, 0), -EINVAL);
	assert_int_equal(vfu_dma_add(&d, 0x20000, 0x1800, 3, -1, 0), -EINVAL);
	assert_int_equal(vfu_dma_add(&d, UINT64_MAX - 0xfff, 0x2000, 3, -1, 0), -EINVAL);
	/* The file must hold the whole range, and be a file. */
	assert_int_equal(vfu_dma_add(&d, 0x20000, 0x4000, 3, fd, 0xe000), -EINVAL);
	assert_int_equal(vfu_dma_add(&d, 0x20000, 0x4000, 3, fd, 0x20000), -EINVAL);
	{
		int p[2];

		assert_int_equal(pipe(p), 0);
		assert_int_equal(vfu_dma_add(&d, 0x20000, 0x1000, 3, p[0], 0), -EINVAL);
		close(p[0]);
		close(p[1]);
	}
	assert_int_equal(vfu_dma_add(&d, 0x20000, 0x1000, 3, fd, 0), 0);
	assert_int_equal(vfu_dma_add(&d, 0x30000, 0x1000, 3, fd, 0), -ENOSPC);
	/* Removal needs the exact range. */
	assert_int_equal(vfu_dma_remove(&d, 0x10000, 0x2000), -EINVAL);
	assert_int_equal(vfu_dma_remove(&d, 0x11000, 0x3000), -EINVAL);
	assert_int_equal(vfu_dma_remove(&d, 0x90000, 0x1000), -EINVAL);
	assert_int_equal(vfu_dma_remove(&d, 0x10000, 0x4000), 0);
	assert_null(vfu_dma_find(&d, 0x10000));
	assert_int_equal(vfu_dma_remove_all(&d), 0);
	assert_int_equal(d.n, 0);
	assert_false(vfu_dma_busy(&d));
	vfu_dma_fini(&d);
	close(fd);
}

static void test_xlate(void **state)
{
	struct vfu_dma_region *r = NULL;
	struct vfu_dma d;
	int fd = memfd_of(0x8000, 0x40);
	uint8_t *p;

	(void)state;
	vfu_dma_init(&d, 16);
	assert_int_equal(vfu_dma_add(&d, 0x100000, 0x4000, VFU_DMA_READ | VFU_DMA_WRITE, fd, 0x2000), 0);
	assert_int_equal(vfu_dma_add(&d, 0x104000, 0x2000, VFU_DMA_READ, fd, 0), 0);
	assert_int_equal(vfu_dma_add(&d, 0x200000, 0x1000, VFU_DMA_READ | VFU_DMA_WRITE, -1, 0), 0);
	/* The file offset counts: page 2 of the file is the region's first page. */
	p = vfu_dma_xlate(&d, 0x100000, 8, VFU_DMA_READ, &r);
	assert_non_null(p);
	assert_int_equal(p[0], 0x42);
	assert_int_equal(r->iova, 0x100000);
	p = vfu_dma_xlate(&d, 0x103fff, 1, VFU_DMA_WRITE, NULL);
	assert_non_null(p);
	assert_int_equal(p[0], 0x45);
	p[0] = 0x99; /* the mapping is shared with the client's file */
	/* Crossing into the next region is not one region: refused even though both exist. */
	assert_null(vfu_dma_xlate(&d, 0x103fff, 2, VFU_DMA_READ, NULL));
	/* Read-only to the device. */
	assert_non_null(vfu_dma_xlate(&d, 0x104000, 0x2000, VFU_DMA_READ, NULL));
	assert_null(vfu_dma_xlate(&d, 0x104000, 16, VFU_DMA_WRITE, NULL));
	/* No descriptor came with it: unreachable. */
	assert_null(vfu_dma_xlate(&d, 0x200000, 4, VFU_DMA_READ, NULL));
	/* Outside, before, between, after; a length that wraps. */
	assert_null(vfu_dma_xlate(&d, 0xfffff, 1, VFU_DMA_READ, NULL));
	assert_null(vfu_dma_xlate(&d, 0x106000, 1, VFU_DMA_READ, NULL));
	assert_null(vfu_dma_xlate(&d, 0x300000, 1, VFU_DMA_READ, NULL));
	assert_null(vfu_dma_xlate(&d, 0x100000, UINT64_MAX, VFU_DMA_READ, NULL));
	vfu_dma_fini(&d);
	{
		uint8_t b;

		assert_int_equal(pread(fd, &b, 1, 0x2000 + 0x3fff), 1);
		assert_int_equal(b, 0x99);
	}
	close(fd);
}

static void test_busy_regions(void **state)
{
	struct vfu_dma_region *r1 = NULL, *r2 = NULL;
	struct vfu_dma d;
	int fd = memfd_of(0x4000, 0);

	(void)state;
	vfu_dma_init(&d, 8);
	assert_int_equal(vfu_dma_add(&d, 0x1000, 0x2000, 3, fd, 0), 0);
	assert_int_equal(vfu_dma_add(&d, 0x8000, 0x2000, 3, fd, 0x2000), 0);
	assert_non_null(vfu_dma_xlate(&d, 0x1000, 16, 3, &r1));
	assert_non_null(vfu_dma_xlate(&d, 0x8000, 16, 3, &r2));
	vfu_dma_get(r1);
	vfu_dma_get(r1);
	vfu_dma_get(r2);
	/* Removed from the table at once, still mapped for its holders. */
	assert_int_equal(vfu_dma_remove(&d, 0x1000, 0x2000), -EBUSY);
	assert_true(vfu_dma_busy(&d));
	assert_null(vfu_dma_xlate(&d, 0x1000, 16, 3, NULL));
	assert_true(r1->removed);
	r1->hva[0] = 1; /* still mapped */
	/* The range is free for a new map already. */
	assert_int_equal(vfu_dma_add(&d, 0x1000, 0x1000, 3, fd, 0), 0);
	vfu_dma_put(&d, r1);
	assert_true(vfu_dma_busy(&d));
	vfu_dma_put(&d, r1);
	assert_false(vfu_dma_busy(&d));
	/* Remove-all: busy if any is held. */
	assert_int_equal(vfu_dma_remove_all(&d), -EBUSY);
	assert_true(vfu_dma_busy(&d));
	vfu_dma_put(&d, r2);
	assert_false(vfu_dma_busy(&d));
	/* A held region the connection drops anyway is freed by fini. */
	assert_int_equal(vfu_dma_add(&d, 0x1000, 0x1000, 3, fd, 0), 0);
	assert_non_null(vfu_dma_xlate(&d, 0x1000, 16, 3, &r1));
	vfu_dma_get(r1);
	assert_int_equal(vfu_dma_remove(&d, 0x1000, 0x1000), -EBUSY);
	vfu_dma_fini(&d);
	close(fd);
}

/* Touching a page past the end of its file would kill this process: only files that cannot shrink. */
static void test_seals(void **state)
{
	int plain = memfd_sealed(0x4000, -1), unsealed = memfd_sealed(0x4000, 0);
	int grow = memfd_sealed(0x4000, F_SEAL_GROW), shrink = memfd_sealed(0x4000, F_SEAL_SHRINK);
	int all = memfd_sealed(0x4000, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	int shortfd = memfd_sealed(0x2000, F_SEAL_SHRINK);
	char path[] = "/dev/shm/nvmft-vfu-dma-XXXXXX";
	int shm = mkstemp(path);
	struct vfu_dma d;
	uint8_t *last;

	(void)state;
	if (shm >= 0)
		unlink(path);
	vfu_dma_init(&d, 16);
	assert_false(d.unsealed_ok);
	/* Not sealable, sealable but open, sealed against the wrong thing: EPERM. */
	assert_int_equal(vfu_dma_add(&d, 0x10000, 0x4000, 3, plain, 0), -EPERM);
	assert_int_equal(vfu_dma_add(&d, 0x10000, 0x4000, 3, unsealed, 0), -EPERM);
	assert_int_equal(vfu_dma_add(&d, 0x10000, 0x4000, 3, grow, 0), -EPERM);
	assert_int_equal(d.n, 0);
	/* A tmpfs file opened by name: no seals at all. */
	if (shm >= 0) {
		assert_int_equal(ftruncate(shm, 0x4000), 0);
		assert_int_equal(vfu_dma_add(&d, 0x10000, 0x4000, 3, shm, 0), -EPERM);
	}
	/* Sealed against shrinking: taken, with or without the other seals; too short is still EINVAL. */
	assert_int_equal(vfu_dma_add(&d, 0x10000, 0x4000, 3, shrink, 0), 0);
	assert_int_equal(vfu_dma_add(&d, 0x20000, 0x2000, 1, all, 0x2000), 0);
	assert_int_equal(vfu_dma_add(&d, 0x30000, 0x4000, 3, shortfd, 0), -EINVAL);
	assert_int_equal(d.n, 2);
	/* The seal holds: the client cannot take the mapped pages away. */
	assert_int_equal(ftruncate(shrink, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(all, 0x1000), -1);
	assert_int_equal(errno, EPERM);
	last = vfu_dma_xlate(&d, 0x13fff, 1, 3, NULL);
	assert_non_null(last);
	*(volatile uint8_t *)last = 1;
	/* The application's opt-in: unsealed files too, still only when long enough at map time. */
	d.unsealed_ok = true;
	assert_int_equal(vfu_dma_add(&d, 0x40000, 0x4000, 3, unsealed, 0), 0);
	assert_int_equal(vfu_dma_add(&d, 0x50000, 0x4000, 3, plain, 0), 0);
	assert_int_equal(vfu_dma_add(&d, 0x60000, 0x4000, 3, unsealed, 0x1000), -EINVAL);
	if (shm >= 0)
		assert_int_equal(vfu_dma_add(&d, 0x70000, 0x4000, 3, shm, 0), 0);
	vfu_dma_fini(&d);
	close(plain);
	close(unsealed);
	close(grow);
	close(shrink);
	close(all);
	close(shortfd);
	if (shm >= 0)
		close(shm);
}

/* Hugetlb memfds can be sealed too (QEMU's memory-backend-memfd,hugetlb=on), and are taken then. */
static void test_seals_hugetlb(void **state)
{
	const size_t huge = 2u << 20;
	int fd = memfd_create("dma-huge", MFD_CLOEXEC | MFD_HUGETLB | MFD_ALLOW_SEALING);
	struct vfu_dma d;
	int rc;

	(void)state;
	/* No huge pages on this machine: nothing to test. */
	if (fd < 0 || ftruncate(fd, (off_t)huge) < 0) {
		if (fd >= 0)
			close(fd);
		skip();
	}
	vfu_dma_init(&d, 4);
	assert_int_equal(vfu_dma_add(&d, 0x200000, huge, 3, fd, 0), -EPERM);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	rc = vfu_dma_add(&d, 0x200000, huge, 3, fd, 0);
	/* The pool may be empty (reserved at mmap time): that is mmap's answer, not ours. */
	if (rc == -ENOMEM) {
		vfu_dma_fini(&d);
		close(fd);
		skip();
	}
	assert_int_equal(rc, 0);
	assert_int_equal(ftruncate(fd, 0), -1);
	assert_int_equal(errno, EPERM);
	vfu_dma_fini(&d);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_xlate),
		cmocka_unit_test(test_busy_regions),
		cmocka_unit_test(test_seals),
		cmocka_unit_test(test_seals_hugetlb),
	};

	return cmocka_run_group_tests_name("vfu_dma", tests, NULL, NULL);
}
