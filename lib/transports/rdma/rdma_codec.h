/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/RDMA wire format as pure functions (NVMe over Fabrics, RDMA
 * transport binding): the RDMA_CM_REQUEST private data a host connects
 * with and the ACCEPT/REJECT private data the target answers with, the
 * responder resources and initiator depth both sides agree on, and the
 * first SGL descriptor of a command capsule.  No verbs, no sockets: the
 * transport (rdma.c, rdma_qp.c), the unit tests and any fuzzer drive them
 * with plain bytes.
 */
#ifndef NVMFT_RDMA_CODEC_H
#define NVMFT_RDMA_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"

enum {
	NVMFT_RDMA_CM_RECFMT = 0,
	/* A command capsule starts with the 64-byte SQE; a response is the 16-byte CQE. */
	NVMFT_RDMA_SQE_LEN = 64,
	NVMFT_RDMA_CQE_LEN = 16,
	/* Keyed SGL lengths are 24 bits. */
	NVMFT_RDMA_KEYED_MAX_LEN = (1u << 24) - 1,
};

/* What the target allows a queue to be, from its transport options. */
struct nvmft_rdma_cm_limits {
	uint16_t max_qid;       /* max_qpairs_per_ctrlr - 1 */
	uint32_t max_aq_depth;  /* entries */
	uint32_t max_io_depth;  /* entries */
};

/* A connect request that passed the checks. */
struct nvmft_rdma_cm_params {
	uint16_t qid;
	uint32_t depth;         /* HSQSIZE + 1: commands the host may have outstanding */
	uint32_t hrqsize;       /* receive entries the host posted for responses */
	uint16_t cntlid;        /* 0 from hosts that predate the field */
};

/*
 * Check the private data of an RDMA_CM_REQUEST (@len bytes; the CM may
 * deliver more than the 32 the host wrote, zero padded).  Returns 0 with
 * *@out filled, or the RDMA_CM_REJECT status (NVMFT_RDMA_CM_REJ_*):
 *  - fewer than 32 bytes: INVALID_LENGTH;
 *  - RECFMT other than 0: INVALID_RECFMT;
 *  - QID above @lim->max_qid: INVALID_QID;
 *  - HSQSIZE 0 (no queue has a single entry) or HSQSIZE + 1 above the
 *    admin or I/O queue limit: INVALID_HSQSIZE;
 *  - HRQSIZE smaller than HSQSIZE + 1 (the host could not take a response
 *    to every command it may send): INVALID_HRQSIZE.
 */
uint16_t nvmft_rdma_cm_req_parse(const void *data, size_t len, const struct nvmft_rdma_cm_limits *lim,
				 struct nvmft_rdma_cm_params *out);

/* RDMA_CM_ACCEPT private data: RECFMT 0, CRQSIZE (receive entries for the queue). */
void nvmft_rdma_cm_rep_init(struct nvmft_rdma_cm_rep *rep, uint16_t crqsize);
/* RDMA_CM_REJECT private data with status @sts. */
void nvmft_rdma_cm_rej_init(struct nvmft_rdma_cm_rej *rej, uint16_t sts);

/*
 * RDMA READ resources.  The connect request event gives them from the
 * target's side already (the CM swaps the host's values): @req_initiator_depth
 * is how many RDMA READs the host serves for us at once (its IRD: those fetch
 * write data), @req_responder_resources how many it may issue to us.  The
 * target accepts with an initiator depth up to the device's
 * max_qp_init_rd_atom and responder resources up to max_qp_rd_atom.
 * Returns 0, or INVALID_IRD when no RDMA READ can be issued at all (the
 * host's IRD or the device's limit is 0): keyed write data could never be
 * fetched.
 */
uint16_t nvmft_rdma_cm_rd_atom(uint8_t req_initiator_depth, uint8_t req_responder_resources,
			       int dev_max_qp_rd_atom, int dev_max_qp_init_rd_atom,
			       uint8_t *responder_resources, uint8_t *initiator_depth);

enum nvmft_rdma_sgl_kind {
	NVMFT_RDMA_SGL_NONE,      /* no data */
	NVMFT_RDMA_SGL_INCAPSULE, /* data in the capsule after the SQE */
	NVMFT_RDMA_SGL_KEYED,     /* data in host memory: RDMA READ / WRITE */
};

struct nvmft_rdma_sgl {
	enum nvmft_rdma_sgl_kind kind;
	uint32_t len;
	uint32_t offset;    /* INCAPSULE: where the data starts in the in-capsule area */
	uint64_t addr;      /* KEYED */
	uint32_t key;       /* KEYED */
	bool invalidate;    /* KEYED: the host asks for remote invalidation of @key */
};

/*
 * SGL1 of a command that arrived with @icd_len bytes of in-capsule data
 * (capsule length minus the SQE).  Returns 0 with *@out filled, or the
 * NVMe status (generic, DNR) to complete the command with:
 *  - Data Block, Offset subtype: in-capsule data; offset + length beyond
 *    the data received gives SGL Offset Invalid (offset alone) or Data SGL
 *    Length Invalid; a command that does not write gives SGL Descriptor
 *    Type Invalid;
 *  - Keyed Data Block, Address or Invalidate Key subtype: host memory;
 *    in-capsule data next to it, or another subtype, is invalid (Type,
 *    resp. SGL Descriptor Subtype Invalid);
 *  - an all-zero Data Block descriptor: no data;
 *  - anything else (segments, bit buckets, transport data blocks):
 *    SGL Descriptor Type Invalid.
 */
uint16_t nvmft_rdma_sgl_parse(const struct nvmft_cmd *cmd, uint32_t icd_len, struct nvmft_rdma_sgl *out);

/* The data direction the opcode implies (enum nvmft_xfer values). */
uint8_t nvmft_rdma_cmd_xfer(const struct nvmft_cmd *cmd);

#endif
