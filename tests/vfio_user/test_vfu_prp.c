/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/transports/vfio_user/vfu_prp.c against a DMA table of real memfd
 * regions: PRP entries and lists (every offset rule, chaining, regions
 * changing mid-transfer), SGLs (descriptor types, segments, budgets), the
 * holds taken on regions, and random lists that must never escape the
 * mapped memory.
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

#include "transports/vfio_user/vfu_prp.h"

#define A_IOVA 0x100000ull /* 256 KiB, read-write */
#define B_IOVA 0x200000ull /* 16 KiB, read-only, right after nothing */
#define A_LEN 0x40000u
#define B_LEN 0x4000u
#define MAX 0x20000u /* 128 KiB */
#define ST(sc, dnr) ((dnr) ? NVMFT_STATUS_DNR(NVME_SCT_GENERIC, sc) : NVMFT_STATUS(NVME_SCT_GENERIC, sc))

struct env {
	struct vfu_dma d;
	int fd;
	uint8_t *mem; /* the client's view of the file: A is at 0, B at A_LEN */
	struct iovec iov[64];
	struct vfu_dma_region *regs[64];
	struct vfu_map m;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	e->fd = memfd_create("prp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_int_equal(ftruncate(e->fd, A_LEN + B_LEN), 0);
	assert_int_equal(fcntl(e->fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	e->mem = mmap(NULL, A_LEN + B_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, e->fd, 0);
	assert_true(e->mem != MAP_FAILED);
	vfu_dma_init(&e->d, 8);
	assert_int_equal(vfu_dma_add(&e->d, A_IOVA, A_LEN, VFU_DMA_READ | VFU_DMA_WRITE, e->fd, 0), 0);
	assert_int_equal(vfu_dma_add(&e->d, B_IOVA, B_LEN, VFU_DMA_READ, e->fd, A_LEN), 0);
	e->m.iov = e->iov;
	e->m.iov_cap = MAX / 4096 + 1;
	e->m.regs = e->regs;
	e->m.regs_cap = e->m.iov_cap;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	vfu_dma_fini(&e->d);
	munmap(e->mem, A_LEN + B_LEN);
	close(e->fd);
	free(e);
	return 0;
}

static uint64_t *list_at(struct env *e, uint64_t iova)
{
	return (uint64_t *)(void *)(e->mem + (iova - A_IOVA));
}

/* The client offset an iovec points at (A's part of the file). */
static size_t off_of(struct env *e, const struct iovec *v)
{
	struct vfu_dma_region *a = vfu_dma_find(&e->d, A_IOVA);

	return (size_t)((uint8_t *)v->iov_base - a->hva);
}

static void test_prp_simple(void **state)
{
	struct env *e = *state;
	struct vfu_dma_region *a = vfu_dma_find(&e->d, A_IOVA);

	/* PRP1 alone, from any dword; two pages merge into one iovec when contiguous. */
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA + 4, 0, 100, MAX, VFU_DMA_WRITE, &e->m), 0);
	assert_int_equal(e->m.iovcnt, 1);
	assert_int_equal(e->m.len, 100);
	assert_int_equal(off_of(e, &e->iov[0]), 4);
	assert_int_equal(a->refs, 1);
	vfu_map_release(&e->d, &e->m);
	assert_int_equal(a->refs, 0);
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA + 0x800, A_IOVA + 0x1000, 4096, MAX, VFU_DMA_WRITE, &e->m),
			 0);
	assert_int_equal(e->m.iovcnt, 1);
	assert_int_equal(e->iov[0].iov_len, 4096);
	vfu_map_release(&e->d, &e->m);
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA + 0x800, A_IOVA + 0x8000, 4096, MAX, VFU_DMA_WRITE, &e->m),
			 0);
	assert_int_equal(e->m.iovcnt, 2);
	assert_int_equal(e->iov[0].iov_len, 0x800);
	assert_int_equal(off_of(e, &e->iov[1]), 0x8000);
	assert_int_equal(e->iov[1].iov_len, 0x800);
	vfu_map_release(&e->d, &e->m);
	/* Offsets: PRP1 not dword aligned, PRP2 (data) not page aligned. */
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA + 2, 0, 100, MAX, VFU_DMA_WRITE, &e->m),
			 ST(NVME_SC_PRP_INVALID_OFFSET, true));
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA, A_IOVA + 0x1004, 8192, MAX, VFU_DMA_WRITE, &e->m),
			 ST(NVME_SC_PRP_INVALID_OFFSET, true));
	/* Outside any mapping; a read-only region written by the device; lengths. */
	assert_int_equal(vfu_prp_map(&e->d, 0x5000, 0, 512, MAX, VFU_DMA_WRITE, &e->m),
			 ST(NVME_SC_DATA_XFER_ERROR, false));
	assert_int_equal(vfu_prp_map(&e->d, B_IOVA, 0, 512, MAX, VFU_DMA_WRITE, &e->m),
			 ST(NVME_SC_DATA_XFER_ERROR, false));
	assert_int_equal(vfu_prp_map(&e->d, B_IOVA, 0, 512, MAX, VFU_DMA_READ, &e->m), 0);
	vfu_map_release(&e->d, &e->m);
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA, 0, 0, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_INVALID_FIELD, true));
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA, 0, MAX + 1, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_INVALID_FIELD, true));
	/* Nothing is left held by the failures. */
	assert_int_equal(a->refs, 0);
	assert_int_equal(vfu_dma_find(&e->d, B_IOVA)->refs, 0);
}

static void test_prp_lists(void **state)
{
	struct env *e = *state;
	struct vfu_dma_region *a = vfu_dma_find(&e->d, A_IOVA), *b = vfu_dma_find(&e->d, B_IOVA);
	const uint64_t list = A_IOVA + 0x30000;
	uint64_t *l = list_at(e, list);

	/* 16 KiB from an odd start: PRP1 partial, then 4 list entries, one in region B. */
	l[0] = htole64(A_IOVA + 0x2000);
	l[1] = htole64(A_IOVA + 0x3000);
	l[2] = htole64(B_IOVA);
	l[3] = htole64(A_IOVA + 0x9000);
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA + 0x1200, list, 0x4000, MAX, VFU_DMA_READ, &e->m), 0);
	assert_int_equal(e->m.len, 0x4000);
	assert_int_equal(e->m.iovcnt, 3); /* 0x1200..0x4000 merged, B, 0x9000.. */
	assert_int_equal(e->iov[0].iov_len, 0x2e00);
	assert_int_equal(e->iov[1].iov_len, 0x1000);
	assert_int_equal(e->iov[2].iov_len, 0x200);
	assert_int_equal(e->m.nregs, 3); /* A, B, A again: a hold each time the region changes */
	assert_int_equal(a->refs, 2);
	assert_int_equal(b->refs, 1);
	vfu_map_release(&e->d, &e->m);
	assert_int_equal(a->refs, 0);
	assert_int_equal(b->refs, 0);
	/* The list pointer may start mid-page (qword aligned), not at an odd byte. */
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA, list + 8, 0x3000, MAX, VFU_DMA_READ, &e->m), 0);
	vfu_map_release(&e->d, &e->m);
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA, list + 4, 0x3000, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_PRP_INVALID_OFFSET, true));
	/* An entry with an offset, an entry outside, a list outside. */
	l[1] = htole64(A_IOVA + 0x3008);
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA, list, 0x3000, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_PRP_INVALID_OFFSET, true));
	l[1] = htole64(0x7000);
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA, list, 0x3000, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_DATA_XFER_ERROR, false));
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA, 0x9000, 0x3000, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_DATA_XFER_ERROR, false));
	/* A list that runs off the end of its region. */
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA, A_IOVA + A_LEN - 8, 0x3000, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_DATA_XFER_ERROR, false));
	assert_int_equal(a->refs, 0);
	assert_int_equal(b->refs, 0);
}

static void test_prp_chain(void **state)
{
	struct env *e = *state;
	struct vfu_dma_region *a = vfu_dma_find(&e->d, A_IOVA);
	/* A list starting 16 bytes before a page end: two entries, then the chain slot. */
	const uint64_t list = A_IOVA + 0x30000 - 24, next = A_IOVA + 0x32000;
	uint64_t *l = list_at(e, list), *n = list_at(e, next);

	l[0] = htole64(A_IOVA + 0x1000);
	l[1] = htole64(A_IOVA + 0x2000);
	l[2] = htole64(next);
	n[0] = htole64(A_IOVA + 0x3000);
	n[1] = htole64(A_IOVA + 0x4000);
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA, list, 0x5000, MAX, VFU_DMA_READ, &e->m), 0);
	assert_int_equal(e->m.iovcnt, 1); /* five contiguous pages */
	assert_int_equal(e->iov[0].iov_len, 0x5000);
	vfu_map_release(&e->d, &e->m);
	/* Exactly one page left at the chain slot: it is data, not a pointer. */
	l[2] = htole64(A_IOVA + 0x3000);
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA, list, 0x4000, MAX, VFU_DMA_READ, &e->m), 0);
	vfu_map_release(&e->d, &e->m);
	/* Chain pointers: misaligned, outside, onto themselves (bounded). */
	l[2] = htole64(next + 4);
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA, list, 0x5000, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_PRP_INVALID_OFFSET, true));
	l[2] = htole64(0x3000);
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA, list, 0x5000, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_DATA_XFER_ERROR, false));
	l[2] = htole64(list + 16);
	assert_int_equal(vfu_prp_map(&e->d, A_IOVA, list, 0x5000, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_DATA_XFER_ERROR, false));
	assert_int_equal(a->refs, 0);
}

static void sgl(struct nvmft_sgl_desc *d, uint8_t type, uint8_t sub, uint64_t addr, uint32_t len)
{
	memset(d, 0, sizeof(*d));
	d->addr = htole64(addr);
	d->unkeyed.length = htole32(len);
	d->unkeyed.type = (uint8_t)(type << 4 | sub);
}

static void test_sgl(void **state)
{
	struct env *e = *state;
	struct vfu_dma_region *a = vfu_dma_find(&e->d, A_IOVA);
	const uint64_t s1 = A_IOVA + 0x20000, s2 = A_IOVA + 0x21000;
	struct nvmft_sgl_desc c1, *seg1 = (struct nvmft_sgl_desc *)(void *)list_at(e, s1),
				  *seg2 = (struct nvmft_sgl_desc *)(void *)list_at(e, s2);

	sgl(&c1, NVMFT_SGL_TYPE_DATA_BLOCK, 0, A_IOVA + 3, 10);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m), 0);
	assert_int_equal(e->m.len, 10);
	assert_int_equal(off_of(e, &e->iov[0]), 3);
	vfu_map_release(&e->d, &e->m);
	/* Segment -> Last Segment, zero-length blocks skipped, adjacent blocks merged. */
	sgl(&seg1[0], NVMFT_SGL_TYPE_DATA_BLOCK, 0, A_IOVA + 0x100, 0x100);
	sgl(&seg1[1], NVMFT_SGL_TYPE_DATA_BLOCK, 0, A_IOVA + 0x200, 0x100);
	sgl(&seg1[2], NVMFT_SGL_TYPE_DATA_BLOCK, 0, A_IOVA + 0x5000, 0);
	sgl(&seg1[3], NVMFT_SGL_TYPE_LAST_SEGMENT, 0, s2, 32);
	sgl(&seg2[0], NVMFT_SGL_TYPE_DATA_BLOCK, 0, B_IOVA, 0x800);
	sgl(&seg2[1], NVMFT_SGL_TYPE_DATA_BLOCK, 0, A_IOVA + 0x9000, 0x1000);
	sgl(&c1, NVMFT_SGL_TYPE_SEGMENT, 0, s1, 64);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m), 0);
	assert_int_equal(e->m.len, 0x1a00);
	assert_int_equal(e->m.iovcnt, 3);
	assert_int_equal(e->iov[0].iov_len, 0x200);
	vfu_map_release(&e->d, &e->m);
	/* The device writes: B is read-only. */
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_WRITE, &e->m),
			 ST(NVME_SC_DATA_XFER_ERROR, false));
	/* A Last Segment directly in the command, holding data only. */
	sgl(&c1, NVMFT_SGL_TYPE_LAST_SEGMENT, 0, s2, 32);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m), 0);
	vfu_map_release(&e->d, &e->m);
	/* A segment pointer that is not the last descriptor, or sits in a Last Segment. */
	sgl(&seg1[1], NVMFT_SGL_TYPE_SEGMENT, 0, s2, 32);
	sgl(&c1, NVMFT_SGL_TYPE_SEGMENT, 0, s1, 64);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_SGL_INVALID_LAST, true));
	sgl(&seg1[1], NVMFT_SGL_TYPE_DATA_BLOCK, 0, A_IOVA + 0x200, 0x100);
	sgl(&seg2[1], NVMFT_SGL_TYPE_SEGMENT, 0, s1, 64);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_SGL_INVALID_LAST, true));
	sgl(&seg2[1], NVMFT_SGL_TYPE_DATA_BLOCK, 0, A_IOVA + 0x9000, 0x1000);
	/* Types and subtypes not offered. */
	sgl(&seg2[1], NVMFT_SGL_TYPE_BIT_BUCKET, 0, 0, 0x1000);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_SGL_INVALID_TYPE, true));
	sgl(&seg2[1], NVMFT_SGL_TYPE_DATA_BLOCK, NVMFT_SGL_SUBTYPE_OFFSET, A_IOVA, 0x1000);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m),
			 ST(VFU_SC_SGL_INVALID_SUBTYPE, true));
	sgl(&c1, NVMFT_SGL_TYPE_SEGMENT, NVMFT_SGL_SUBTYPE_TRANSPORT, s1, 64);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m),
			 ST(VFU_SC_SGL_INVALID_SUBTYPE, true));
	sgl(&c1, NVMFT_SGL_TYPE_TRANSPORT_DATA_BLOCK, NVMFT_SGL_SUBTYPE_TRANSPORT, 0, 64);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_SGL_INVALID_TYPE, true));
	/* Segment lengths; too much data; no data at all. */
	sgl(&seg2[1], NVMFT_SGL_TYPE_DATA_BLOCK, 0, A_IOVA + 0x9000, 0x1000);
	sgl(&c1, NVMFT_SGL_TYPE_SEGMENT, 0, s1, 0);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_SGL_INVALID_LAST, true));
	sgl(&c1, NVMFT_SGL_TYPE_SEGMENT, 0, s1, 40);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_SGL_INVALID_LAST, true));
	sgl(&c1, NVMFT_SGL_TYPE_DATA_BLOCK, 0, A_IOVA, MAX + 1);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_SGL_INVALID_DATA, true));
	sgl(&c1, NVMFT_SGL_TYPE_DATA_BLOCK, 0, A_IOVA, 0);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_SGL_INVALID_DATA, true));
	/* A segment outside memory, or running out of it. */
	sgl(&c1, NVMFT_SGL_TYPE_SEGMENT, 0, A_IOVA + A_LEN - 16, 32);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_DATA_XFER_ERROR, false));
	/* Descriptor budget: a segment chaining to itself, and one segment too large. */
	sgl(&seg1[0], NVMFT_SGL_TYPE_DATA_BLOCK, 0, A_IOVA, 1);
	sgl(&seg1[1], NVMFT_SGL_TYPE_SEGMENT, 0, s1, 32);
	sgl(&c1, NVMFT_SGL_TYPE_SEGMENT, 0, s1, 32);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_SGL_INVALID_COUNT, true));
	sgl(&c1, NVMFT_SGL_TYPE_LAST_SEGMENT, 0, s1, 16 * (VFU_SGL_MAX_DESC + 1));
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_SGL_INVALID_COUNT, true));
	/* More scattered pieces than iovecs. */
	for (uint32_t i = 0; i < 200; i++)
		sgl(&seg1[i], NVMFT_SGL_TYPE_DATA_BLOCK, 0, A_IOVA + (uint64_t)i * 64, 8);
	sgl(&c1, NVMFT_SGL_TYPE_LAST_SEGMENT, 0, s1, 16 * 200);
	assert_int_equal(vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m),
			 ST(NVME_SC_SGL_INVALID_COUNT, true));
	assert_int_equal(a->refs, 0);
}

/* Random lists and SGLs: every iovec lies in mapped memory, nothing stays held. */
static void test_random(void **state)
{
	struct env *e = *state;
	struct vfu_dma_region *a = vfu_dma_find(&e->d, A_IOVA), *b = vfu_dma_find(&e->d, B_IOVA);
	uint32_t seed = 7;

	for (int round = 0; round < 20000; round++) {
		uint64_t *words = list_at(e, A_IOVA + 0x38000);
		uint64_t prp1, prp2;
		uint32_t len;
		uint16_t st;

		/* Fill the list area with plausible and implausible addresses alike. */
		for (int i = 0; i < 1024; i++) {
			seed = seed * 1664525u + 1013904223u;
			switch (seed >> 29) {
			case 0:
				words[i] = htole64(A_IOVA + (seed & 0x3f000));
				break;
			case 1:
				words[i] = htole64(B_IOVA + (seed & 0x3000));
				break;
			case 2:
				words[i] = htole64(A_IOVA + 0x38000 + (seed & 0x1ff8));
				break;
			case 3:
				words[i] = (uint64_t)seed << 12 | (seed & 7);
				break;
			default:
				words[i] = htole64(A_IOVA + (seed & 0x3fffc));
				break;
			}
		}
		seed = seed * 1664525u + 1013904223u;
		prp1 = A_IOVA + (seed & 0x3fffc);
		seed = seed * 1664525u + 1013904223u;
		prp2 = (seed & 1) ? A_IOVA + 0x38000 + (seed & 0x1ff8) : A_IOVA + (seed & 0x3f000);
		seed = seed * 1664525u + 1013904223u;
		len = 1 + seed % MAX;
		st = vfu_prp_map(&e->d, prp1, prp2, len, MAX, (seed & 2) ? VFU_DMA_READ : VFU_DMA_WRITE,
				 &e->m);
		if (st == 0) {
			size_t total = 0;

			for (uint32_t i = 0; i < e->m.iovcnt; i++) {
				uint8_t *p = e->iov[i].iov_base;
				bool in_a = p >= a->hva && p + e->iov[i].iov_len <= a->hva + A_LEN;
				bool in_b = p >= b->hva && p + e->iov[i].iov_len <= b->hva + B_LEN;

				assert_true(in_a || in_b);
				total += e->iov[i].iov_len;
			}
			assert_int_equal(total, len);
			vfu_map_release(&e->d, &e->m);
		}
		{
			struct nvmft_sgl_desc c1;

			seed = seed * 1664525u + 1013904223u;
			memcpy(&c1, &words[seed % 1000], sizeof(c1));
			c1.unkeyed.length = htole32(le32toh(c1.unkeyed.length) % (16 * 300));
			if (vfu_sgl_map(&e->d, &c1, MAX, VFU_DMA_READ, &e->m) == 0) {
				assert_true(e->m.len > 0 && e->m.len <= MAX);
				vfu_map_release(&e->d, &e->m);
			}
		}
		assert_int_equal(a->refs, 0);
		assert_int_equal(b->refs, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prp_simple, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prp_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prp_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sgl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random, setup, teardown),
	};

	return cmocka_run_group_tests_name("vfu_prp", tests, NULL, NULL);
}
