/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PRP and SGL walking (NVMe base 2.0, "Physical Region Page Entry and List"
 * and "Scatter Gather List").  Bounded by the data length: a PRP list that
 * points back at itself or an SGL that loops ends when the bytes or the
 * descriptor budget run out.
 */
#include <string.h>

#include "transports/vfio_user/vfu_prp.h"
#include "transports/vfio_user/vfu_proto.h"

#define ST_XFER NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_XFER_ERROR)
#define ST_PRP_OFFSET NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_PRP_INVALID_OFFSET)
#define ST_FIELD NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_SGL_SEG NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_LAST)
#define ST_SGL_COUNT NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_COUNT)
#define ST_SGL_LEN NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA)
#define ST_SGL_TYPE NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_TYPE)
#define ST_SGL_SUBTYPE NVMFT_STATUS_DNR(NVME_SCT_GENERIC, VFU_SC_SGL_INVALID_SUBTYPE)

void vfu_map_release(struct vfu_dma *d, struct vfu_map *m)
{
	for (uint32_t i = 0; i < m->nregs; i++)
		vfu_dma_put(d, m->regs[i]);
	m->nregs = 0;
	m->iovcnt = 0;
	m->len = 0;
}

static void map_reset(struct vfu_map *m)
{
	m->iovcnt = 0;
	m->nregs = 0;
	m->len = 0;
}

/* Append [@iova, @iova + @len) as data; adjacent pieces of one region share an iovec. */
static uint16_t map_add(struct vfu_dma *d, struct vfu_map *m, uint64_t iova, uint32_t len, uint32_t prot)
{
	struct vfu_dma_region *r;
	uint8_t *p;

	if (len == 0)
		return 0;
	p = vfu_dma_xlate(d, iova, len, prot, &r);
	if (p == NULL)
		return ST_XFER;
	if (m->iovcnt > 0 && m->regs[m->nregs - 1] == r &&
	    (uint8_t *)m->iov[m->iovcnt - 1].iov_base + m->iov[m->iovcnt - 1].iov_len == p) {
		m->iov[m->iovcnt - 1].iov_len += len;
	} else {
		if (m->iovcnt == m->iov_cap)
			return ST_SGL_COUNT; /* only SGLs get here: PRPs need at most len / 4 KiB + 1 */
		m->iov[m->iovcnt].iov_base = p;
		m->iov[m->iovcnt].iov_len = len;
		m->iovcnt++;
		if (m->nregs == 0 || m->regs[m->nregs - 1] != r) {
			vfu_dma_get(r);
			m->regs[m->nregs++] = r;
		}
	}
	m->len += len;
	return 0;
}

/* Read one 8-byte PRP entry at @iova (once, into a local copy). */
static uint16_t prp_entry(struct vfu_dma *d, uint64_t iova, uint64_t *out)
{
	const void *p = vfu_dma_xlate(d, iova, sizeof(*out), VFU_DMA_READ, NULL);

	if (p == NULL)
		return ST_XFER;
	memcpy(out, p, sizeof(*out));
	*out = le64toh(*out);
	return 0;
}

uint16_t vfu_prp_map(struct vfu_dma *d, uint64_t prp1, uint64_t prp2, uint32_t len, uint32_t max_len,
		     uint32_t prot, struct vfu_map *m)
{
	uint32_t first, left, hops;
	uint64_t list;
	uint16_t st;

	map_reset(m);
	if (len == 0 || len > max_len)
		return ST_FIELD;
	/* PRP1 may start anywhere dword-aligned in its page; every later entry at a page start. */
	if (prp1 & 3)
		return ST_PRP_OFFSET;
	first = VFU_PAGE - (uint32_t)(prp1 & (VFU_PAGE - 1));
	if (first > len)
		first = len;
	st = map_add(d, m, prp1, first, prot);
	left = len - first;
	if (st != 0 || left == 0)
		goto out;
	if (left <= VFU_PAGE) {
		if (prp2 & (VFU_PAGE - 1))
			st = ST_PRP_OFFSET;
		else
			st = map_add(d, m, prp2, left, prot);
		goto out;
	}
	/* PRP2 is a list pointer: qword aligned, its page's last entry chains to the next list. */
	if (prp2 & 7) {
		st = ST_PRP_OFFSET;
		goto out;
	}
	list = prp2;
	/* Every chain pointer must lead to at least one data entry: a chain onto itself ends here. */
	hops = left / VFU_PAGE + 1;
	while (left > 0) {
		uint64_t e;
		bool last_slot = ((list + 8) & (VFU_PAGE - 1)) == 0;

		st = prp_entry(d, list, &e);
		if (st != 0)
			break;
		if (last_slot && left > VFU_PAGE) {
			if (e & 7) {
				st = ST_PRP_OFFSET;
				break;
			}
			if (hops-- == 0) {
				st = ST_XFER;
				break;
			}
			list = e;
			continue;
		}
		if (e & (VFU_PAGE - 1)) {
			st = ST_PRP_OFFSET;
			break;
		}
		st = map_add(d, m, e, left < VFU_PAGE ? left : VFU_PAGE, prot);
		if (st != 0)
			break;
		left -= left < VFU_PAGE ? left : VFU_PAGE;
		list += 8;
	}
out:
	if (st != 0)
		vfu_map_release(d, m);
	return st;
}

static uint32_t sgl_len(const struct nvmft_sgl_desc *s)
{
	return le32toh(s->unkeyed.length);
}

static uint16_t sgl_data(struct vfu_dma *d, struct vfu_map *m, const struct nvmft_sgl_desc *s,
			 uint32_t max_len, uint32_t prot)
{
	uint32_t len = sgl_len(s);

	if (nvmft_sgl_subtype(s) != NVMFT_SGL_SUBTYPE_ADDRESS)
		return ST_SGL_SUBTYPE;
	if (len > max_len - m->len)
		return ST_SGL_LEN;
	return map_add(d, m, le64toh(s->addr), len, prot);
}

uint16_t vfu_sgl_map(struct vfu_dma *d, const struct nvmft_sgl_desc *sgl1, uint32_t max_len, uint32_t prot,
		     struct vfu_map *m)
{
	struct nvmft_sgl_desc seg = *sgl1;
	uint32_t budget = VFU_SGL_MAX_DESC;
	uint16_t st = 0;

	map_reset(m);
	switch (nvmft_sgl_type(&seg)) {
	case NVMFT_SGL_TYPE_DATA_BLOCK:
		st = sgl_data(d, m, &seg, max_len, prot);
		goto out;
	case NVMFT_SGL_TYPE_SEGMENT:
	case NVMFT_SGL_TYPE_LAST_SEGMENT:
		break;
	default:
		/* Keyed, transport and bit bucket descriptors: none of them is offered. */
		st = ST_SGL_TYPE;
		goto out;
	}
	/* @seg describes the next segment: an array of descriptors in client memory. */
	for (;;) {
		bool last = nvmft_sgl_type(&seg) == NVMFT_SGL_TYPE_LAST_SEGMENT;
		uint32_t n = sgl_len(&seg) / sizeof(seg);
		uint64_t base = le64toh(seg.addr);
		const uint8_t *descs;
		bool chained = false;

		if (nvmft_sgl_subtype(&seg) != NVMFT_SGL_SUBTYPE_ADDRESS) {
			st = ST_SGL_SUBTYPE;
			break;
		}
		if (sgl_len(&seg) == 0 || sgl_len(&seg) % sizeof(seg)) {
			st = ST_SGL_SEG;
			break;
		}
		if (n > budget) {
			st = ST_SGL_COUNT;
			break;
		}
		budget -= n;
		descs = vfu_dma_xlate(d, base, (uint64_t)n * sizeof(seg), VFU_DMA_READ, NULL);
		if (descs == NULL) {
			st = ST_XFER;
			break;
		}
		for (uint32_t i = 0; i < n && st == 0; i++) {
			struct nvmft_sgl_desc s;

			memcpy(&s, descs + (size_t)i * sizeof(s), sizeof(s));
			switch (nvmft_sgl_type(&s)) {
			case NVMFT_SGL_TYPE_DATA_BLOCK:
				st = sgl_data(d, m, &s, max_len, prot);
				break;
			case NVMFT_SGL_TYPE_SEGMENT:
			case NVMFT_SGL_TYPE_LAST_SEGMENT:
				/* Only a Segment's last descriptor may chain; a Last Segment never does. */
				if (last || i != n - 1) {
					st = ST_SGL_SEG;
					break;
				}
				seg = s;
				chained = true;
				break;
			default:
				st = ST_SGL_TYPE;
				break;
			}
		}
		if (st != 0 || !chained)
			break;
	}
out:
	if (st == 0 && m->len == 0)
		st = ST_SGL_LEN; /* a pointer that describes no data at all */
	if (st != 0)
		vfu_map_release(d, m);
	return st;
}
