/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A command's data pointer (PRP1/PRP2 and PRP lists, or SGLs) resolved
 * against the client's mapped memory into host iovecs.  Pure apart from
 * the DMA table: every list page and segment is read once, one entry at a
 * time, into a local copy before it is believed, and every address must
 * lie in one mapped region that allows the access.
 *
 * Failures are NVMe statuses for the command (no phase bit): PRP Offset
 * Invalid, Data Transfer Error (an address outside the client's mapped
 * memory), the SGL statuses, Invalid Field (too much data).
 */
#ifndef NVMFT_VFU_PRP_H
#define NVMFT_VFU_PRP_H

#include <stdint.h>
#include <sys/uio.h>

#include "spec/spec.h"
#include "transports/vfio_user/vfu_dma.h"
#include "transports/vfio_user/vfu_proto.h"

/* Host memory page: CAP.MPSMIN = MPSMAX = 0, so CC.MPS is 4 KiB. */
#define VFU_PAGE 4096u
/* SGL Descriptor Subtype Invalid (NVMe base 2.0); older libnvme lacks the name. */
#define VFU_SC_SGL_INVALID_SUBTYPE 0x17
/* Descriptors one command's SGL may have, segments included. */
#define VFU_SGL_MAX_DESC 256u

/* Where the data went: iovecs, and the regions they hold (one hold each). */
struct vfu_map {
	struct iovec *iov;
	uint32_t iov_cap;
	uint32_t iovcnt;
	struct vfu_dma_region **regs;
	uint32_t regs_cap; /* iov_cap is enough: a new region always starts a new iovec */
	uint32_t nregs;
	uint32_t len; /* bytes described */
};

/*
 * PRP1/PRP2 for @len bytes (1..@max_len), @prot being what the device does
 * to the memory (VFU_DMA_WRITE for controller-to-host data).  Returns 0
 * with @m filled (release it with vfu_map_release()) or a status, with
 * nothing held.
 */
uint16_t vfu_prp_map(struct vfu_dma *d, uint64_t prp1, uint64_t prp2, uint32_t len, uint32_t max_len,
		     uint32_t prot, struct vfu_map *m);
/*
 * SGL1 from the command, following Segment and Last Segment descriptors
 * through client memory.  The data length is what the Data Block
 * descriptors add up to (m->len), at most @max_len.  Returns 0 or a status.
 */
uint16_t vfu_sgl_map(struct vfu_dma *d, const struct nvmft_sgl_desc *sgl1, uint32_t max_len, uint32_t prot,
		     struct vfu_map *m);
/* Drop the holds of a successful map and empty it. */
void vfu_map_release(struct vfu_dma *d, struct vfu_map *m);

#endif
