/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Admin command dispatch for NVM subsystem controllers, and the small
 * commands: Abort, Asynchronous Event Request and Keep Alive.  Identify,
 * Get Log Page and Get/Set Features have their own files.
 *
 * The discovery controller reuses this parser for the opcodes it shares
 * (discovery.c filters the rest first).
 */
#include <endian.h>
#include <stdint.h>

#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/transport.h"

#define ST_INVALID_OPCODE NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE)
#define ST_INVALID_FIELD NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_SGL_LENGTH NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA)
#define ST_AER_LIMIT NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_ASYNC_LIMIT)

static void admin_keep_alive(struct nvmft_req *req)
{
	nvmft_ctrlr_keep_alive(req->qpair->ctrlr);
	nvmft_req_finish(req, 0);
}

static void admin_aer(struct nvmft_req *req)
{
	/* Parked until an event (possibly at once) or until the admin queue goes away. */
	if (!nvmft_ctrlr_aer_park(req->qpair->ctrlr, req))
		nvmft_req_finish(req, ST_AER_LIMIT);
}

/*
 * Commands run to completion without waiting on the host, except parked
 * AERs, and the specification lets a controller decline any abort: answer
 * "not aborted" (Dword 0 bit 0) and let the command finish on its own.
 */
static void admin_abort(struct nvmft_req *req)
{
	req->cpl.dw0 = htole32(1);
	nvmft_req_finish(req, 0);
}

/* Queue management and Doorbell Buffer Config on a PCIe-like transport. */
static void admin_transport_cmd(struct nvmft_req *req)
{
	if (!req->qpair->tr->ops->admin_cmd(req))
		nvmft_req_finish(req, ST_INVALID_OPCODE);
}

static uint16_t set_exec(struct nvmft_req *req, uint64_t length, void (*fn)(struct nvmft_req *))
{
	if (req->length != length)
		return ST_SGL_LENGTH;
	req->execute = fn;
	return 0;
}

/* Bytes a Get Log Page transfers: NUMD is 0's based and 32 bits wide. */
static uint64_t log_page_len(const struct nvmft_cmd *cmd)
{
	uint32_t numdl = le32toh(cmd->cdw10) >> 16;
	uint32_t numdu = le32toh(cmd->cdw11) & 0xffff;

	return ((uint64_t)(numdu << 16 | numdl) + 1) * 4;
}

uint16_t nvmft_admin_parse(struct nvmft_req *req)
{
	const struct nvmft_cmd *cmd = &req->cmd;
	const struct nvmft_transport_ops *ops = req->qpair->tr->ops;

	/* Fused operations exist only in the NVM I/O command set. */
	if (cmd->flags & NVMFT_CMD_FUSE_MASK)
		return ST_INVALID_FIELD;

	switch (cmd->opcode) {
	case nvme_admin_identify:
		return set_exec(req, NVME_IDENTIFY_DATA_SIZE, nvmft_admin_identify);
	case nvme_admin_get_log_page:
		return set_exec(req, log_page_len(cmd), nvmft_admin_get_log_page);
	case nvme_admin_get_features:
	case nvme_admin_set_features:
		return nvmft_admin_features_parse(req);
	case nvme_admin_async_event:
		return set_exec(req, 0, admin_aer);
	case nvme_admin_keep_alive:
		return set_exec(req, 0, admin_keep_alive);
	case nvme_admin_abort_cmd:
		return set_exec(req, 0, admin_abort);
	default:
		break;
	}
	if (ops->admin_cmd != NULL && !nvmft_ctrlr_is_discovery(req->qpair->ctrlr)) {
		/* The transport checks its own commands' fields and lengths. */
		req->execute = admin_transport_cmd;
		return 0;
	}
	return ST_INVALID_OPCODE;
}
