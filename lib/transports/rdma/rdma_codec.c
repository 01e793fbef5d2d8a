/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/RDMA private data and capsule SGLs, as pure functions (see
 * rdma_codec.h for the rules each one applies).
 */
#include <string.h>

#include "core/req.h"
#include "transports/rdma/rdma_codec.h"
#include "util/compiler.h"

#define ST_GEN_DNR(sc) NVMFT_STATUS_DNR(NVME_SCT_GENERIC, sc)
/* SGL Descriptor Subtype Invalid (NVMe base 2.0); libnvme 1.3 has no name for it. */
#define RDMA_SC_SGL_INVALID_SUBTYPE 0x17

uint16_t nvmft_rdma_cm_req_parse(const void *data, size_t len, const struct nvmft_rdma_cm_limits *lim,
				 struct nvmft_rdma_cm_params *out)
{
	struct nvmft_rdma_cm_req req;
	uint32_t depth, max;
	uint16_t qid;

	if (data == NULL || len < sizeof(req))
		return NVMFT_RDMA_CM_REJ_INVALID_LENGTH;
	memcpy(&req, data, sizeof(req));
	if (le16toh(req.recfmt) != NVMFT_RDMA_CM_RECFMT)
		return NVMFT_RDMA_CM_REJ_INVALID_RECFMT;
	qid = le16toh(req.qid);
	if (qid > lim->max_qid)
		return NVMFT_RDMA_CM_REJ_INVALID_QID;
	depth = (uint32_t)le16toh(req.hsqsize) + 1;
	max = qid == 0 ? lim->max_aq_depth : lim->max_io_depth;
	if (depth < 2 || depth > max)
		return NVMFT_RDMA_CM_REJ_INVALID_HSQSIZE;
	if (le16toh(req.hrqsize) < depth)
		return NVMFT_RDMA_CM_REJ_INVALID_HRQSIZE;
	out->qid = qid;
	out->depth = depth;
	out->hrqsize = le16toh(req.hrqsize);
	out->cntlid = le16toh(req.cntlid);
	return 0;
}

void nvmft_rdma_cm_rep_init(struct nvmft_rdma_cm_rep *rep, uint16_t crqsize)
{
	memset(rep, 0, sizeof(*rep));
	rep->recfmt = htole16(NVMFT_RDMA_CM_RECFMT);
	rep->crqsize = htole16(crqsize);
}

void nvmft_rdma_cm_rej_init(struct nvmft_rdma_cm_rej *rej, uint16_t sts)
{
	rej->recfmt = htole16(NVMFT_RDMA_CM_RECFMT);
	rej->sts = htole16(sts);
}

uint16_t nvmft_rdma_cm_rd_atom(uint8_t req_initiator_depth, uint8_t req_responder_resources,
			       int dev_max_qp_rd_atom, int dev_max_qp_init_rd_atom,
			       uint8_t *responder_resources, uint8_t *initiator_depth)
{
	int rd = NVMFT_MAX(dev_max_qp_rd_atom, 0), init = NVMFT_MAX(dev_max_qp_init_rd_atom, 0);

	if (req_initiator_depth == 0 || init == 0)
		return NVMFT_RDMA_CM_REJ_INVALID_IRD;
	*responder_resources = (uint8_t)NVMFT_MIN((int)req_responder_resources, rd);
	*initiator_depth = (uint8_t)NVMFT_MIN((int)req_initiator_depth, init);
	return 0;
}

uint8_t nvmft_rdma_cmd_xfer(const struct nvmft_cmd *cmd)
{
	if (cmd->opcode == NVMFT_OPC_FABRICS)
		return ((const struct nvmft_fabrics_cmd *)cmd)->fctype & 3;
	return cmd->opcode & 3;
}

static uint16_t sgl_incapsule(const struct nvmft_cmd *cmd, uint32_t icd_len, struct nvmft_rdma_sgl *out)
{
	const struct nvmft_sgl_desc *sgl = &cmd->dptr.sgl1;
	uint64_t off = le64toh(sgl->addr);
	uint32_t l = le32toh(sgl->unkeyed.length);

	if (off > icd_len)
		return ST_GEN_DNR(NVME_SC_SGL_INVALID_OFFSET);
	if (l > icd_len - off)
		return ST_GEN_DNR(NVME_SC_SGL_INVALID_DATA);
	if (l > 0 && nvmft_rdma_cmd_xfer(cmd) != NVMFT_XFER_H2C)
		return ST_GEN_DNR(NVME_SC_SGL_INVALID_TYPE);
	out->kind = l > 0 ? NVMFT_RDMA_SGL_INCAPSULE : NVMFT_RDMA_SGL_NONE;
	out->len = l;
	out->offset = (uint32_t)off;
	return 0;
}

uint16_t nvmft_rdma_sgl_parse(const struct nvmft_cmd *cmd, uint32_t icd_len, struct nvmft_rdma_sgl *out)
{
	const struct nvmft_sgl_desc *sgl = &cmd->dptr.sgl1;
	uint8_t sub = nvmft_sgl_subtype(sgl);

	memset(out, 0, sizeof(*out));
	switch (nvmft_sgl_type(sgl)) {
	case NVMFT_SGL_TYPE_DATA_BLOCK:
		if (sub == NVMFT_SGL_SUBTYPE_OFFSET)
			return sgl_incapsule(cmd, icd_len, out);
		/* An all-zero descriptor: a command without data. */
		if (sub == NVMFT_SGL_SUBTYPE_ADDRESS && le32toh(sgl->unkeyed.length) == 0 && icd_len == 0)
			return 0;
		return ST_GEN_DNR(NVME_SC_SGL_INVALID_TYPE);
	case NVMFT_SGL_TYPE_KEYED_DATA_BLOCK:
		if (sub != NVMFT_SGL_SUBTYPE_ADDRESS && sub != NVMFT_SGL_SUBTYPE_INVALIDATE_KEY)
			return ST_GEN_DNR(RDMA_SC_SGL_INVALID_SUBTYPE);
		/* Data came in the capsule, but the descriptor says it is in host memory. */
		if (icd_len > 0)
			return ST_GEN_DNR(NVME_SC_SGL_INVALID_TYPE);
		out->len = nvmft_sgl_keyed_length(sgl);
		out->kind = out->len > 0 ? NVMFT_RDMA_SGL_KEYED : NVMFT_RDMA_SGL_NONE;
		out->addr = le64toh(sgl->addr);
		out->key = le32toh(sgl->keyed.key);
		out->invalidate = sub == NVMFT_SGL_SUBTYPE_INVALIDATE_KEY;
		return 0;
	default:
		return ST_GEN_DNR(NVME_SC_SGL_INVALID_TYPE);
	}
}
