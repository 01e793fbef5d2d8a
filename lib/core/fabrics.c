/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fabrics commands: Connect (admin and I/O queues), Property Get/Set,
 * Disconnect.  Connect runs on the queue pair's own poll group; the
 * subsystem and controller it names are found under their locks.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/nqn.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/subsystem.h"
#include "core/target.h"
#include "core/transport.h"
#include "util/compiler.h"

#define SC_CMD(sc) NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, sc)
#define SC_GEN(sc) NVMFT_STATUS_DNR(NVME_SCT_GENERIC, sc)

/* Admin queues hold at least 32 entries (NVMe base, Admin Submission Queue). */
#define FABRICS_MIN_AQ_ENTRIES 32u

/* Connect Invalid Parameters with the location of the offending field. */
static uint16_t connect_invalid(struct nvmft_req *req, uint8_t iattr, uint16_t ipo)
{
	req->cpl.invalid.iattr = iattr;
	req->cpl.invalid.ipo = htole16(ipo);
	return SC_CMD(NVME_SC_CONNECT_INVALID_PARAM);
}

static uint16_t connect_admin(struct nvmft_req *req, struct nvmft_subsystem *ss,
			      const struct nvmf_connect_data *data, uint16_t sqsize, uint32_t kato)
{
	struct nvmft_qpair *qp = req->qpair;
	struct nvmft_ctrlr *ctrlr;
	uint16_t status;

	if (le16toh(data->cntlid) != NVMFT_CNTLID_DYNAMIC)
		return connect_invalid(req, NVMFT_CONNECT_IATTR_DATA,
				       offsetof(struct nvmf_connect_data, cntlid));
	if ((uint32_t)sqsize + 1 < FABRICS_MIN_AQ_ENTRIES || (uint32_t)sqsize + 1 > qp->tr->opts.max_aq_depth)
		return connect_invalid(req, NVMFT_CONNECT_IATTR_CMD, offsetof(struct nvmft_connect_cmd, sqsize));
	status = nvmft_ctrlr_create(ss, qp, data, kato, &ctrlr);
	if (status != 0)
		return status;
	qp->ctrlr = ctrlr;
	req->cpl.connect.cntlid = htole16(ctrlr->cntlid);
	nvmft_stat_add(qp->pg->stats.admin_qpairs, 1);
	nvmft_stat_add(qp->pg->stats.current_admin_qpairs, 1);
	return 0;
}

static uint16_t connect_io(struct nvmft_req *req, struct nvmft_subsystem *ss,
			   const struct nvmf_connect_data *data, uint16_t qid, uint16_t sqsize)
{
	struct nvmft_qpair *qp = req->qpair;
	struct nvmft_ctrlr *ctrlr;
	uint32_t nsqa;
	uint16_t status;

	if (ss->type == NVMFT_SUBTYPE_DISCOVERY)
		return connect_invalid(req, NVMFT_CONNECT_IATTR_CMD, offsetof(struct nvmft_connect_cmd, qid));
	ctrlr = nvmft_subsystem_get_ctrlr(ss, le16toh(data->cntlid));
	if (ctrlr == NULL)
		return connect_invalid(req, NVMFT_CONNECT_IATTR_DATA,
				       offsetof(struct nvmf_connect_data, cntlid));
	/* The controller belongs to the host that created it. */
	if (strncmp(ctrlr->hostnqn, data->hostnqn, sizeof(data->hostnqn)) != 0 ||
	    memcmp(ctrlr->hostid, data->hostid, sizeof(ctrlr->hostid)) != 0) {
		nvmft_ctrlr_unref(ctrlr);
		return connect_invalid(req, NVMFT_CONNECT_IATTR_DATA,
				       offsetof(struct nvmf_connect_data, hostnqn));
	}
	if (!(__atomic_load_n(&ctrlr->csts, __ATOMIC_RELAXED) & NVMFT_CSTS_RDY)) {
		nvmft_ctrlr_unref(ctrlr);
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR);
	}
	nsqa = (__atomic_load_n(&ctrlr->feat.num_queues, __ATOMIC_RELAXED) & 0xffff) + 1;
	if (qid > nsqa || qid >= ctrlr->max_qpairs) {
		nvmft_ctrlr_unref(ctrlr);
		return connect_invalid(req, NVMFT_CONNECT_IATTR_CMD, offsetof(struct nvmft_connect_cmd, qid));
	}
	if (sqsize == 0 || (uint32_t)sqsize + 1 > ctrlr->max_io_depth) {
		nvmft_ctrlr_unref(ctrlr);
		return connect_invalid(req, NVMFT_CONNECT_IATTR_CMD, offsetof(struct nvmft_connect_cmd, sqsize));
	}
	status = nvmft_ctrlr_add_io_qpair(ctrlr, qp);
	if (status != 0) {
		nvmft_ctrlr_unref(ctrlr);
		if (status == SC_CMD(NVME_SC_CONNECT_INVALID_PARAM))
			return connect_invalid(req, NVMFT_CONNECT_IATTR_CMD,
					       offsetof(struct nvmft_connect_cmd, qid));
		return status;
	}
	qp->ctrlr = ctrlr; /* keeps the lookup's reference */
	req->cpl.connect.cntlid = htole16(ctrlr->cntlid);
	nvmft_stat_add(qp->pg->stats.io_qpairs, 1);
	nvmft_stat_add(qp->pg->stats.current_io_qpairs, 1);
	return 0;
}

static void fabrics_connect(struct nvmft_req *req)
{
	const struct nvmft_connect_cmd *cmd = (const struct nvmft_connect_cmd *)&req->cmd;
	struct nvmft_qpair *qp = req->qpair;
	struct nvmft_target *tgt = qp->tr->tgt;
	struct nvmf_connect_data data;
	struct nvmft_subsystem *ss;
	uint16_t qid = le16toh(cmd->qid), sqsize = le16toh(cmd->sqsize), status;
	bool allowed, reachable;

	if (nvmft_req_copy_from_iov(req, 0, &data, sizeof(data)) != sizeof(data)) {
		nvmft_req_finish(req, SC_GEN(NVME_SC_SGL_INVALID_DATA));
		return;
	}
	/*
	 * The parse-time check is not enough: a transport that fetches the
	 * Connect data after parsing (RDMA READ, TCP R2T) lets a second Connect
	 * pass it while the first one's data is still on the way.
	 */
	if (qp->state != NVMFT_QPAIR_UNCONNECTED || qp->ctrlr != NULL) {
		nvmft_req_finish(req, SC_GEN(NVME_SC_CMD_SEQ_ERROR));
		return;
	}
	if (!nvmft_target_connect_begin(qp)) {
		/* Evicted at the connection limit: its close is on the way. */
		nvmft_req_finish(req, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_QUEUE));
		return;
	}
	qp->state = NVMFT_QPAIR_CONNECTING;
	if (le16toh(cmd->recfmt) != 0) {
		status = SC_CMD(NVME_SC_CONNECT_FORMAT);
		goto fail;
	}
	if (!nvmft_nqn_valid(data.subsysnqn, sizeof(data.subsysnqn))) {
		status = connect_invalid(req, NVMFT_CONNECT_IATTR_DATA,
					 offsetof(struct nvmf_connect_data, subsysnqn));
		goto fail;
	}
	/*
	 * An empty host NQN is what SPDK's initiator sends unless told one; it
	 * can only match "any host", never a list entry, so taking it costs
	 * nothing and Linux's and SPDK's targets take it too.
	 */
	if (data.hostnqn[0] != '\0' && !nvmft_nqn_valid(data.hostnqn, sizeof(data.hostnqn))) {
		status = connect_invalid(req, NVMFT_CONNECT_IATTR_DATA,
					 offsetof(struct nvmf_connect_data, hostnqn));
		goto fail;
	}
	ss = nvmft_target_get_subsystem(tgt, data.subsysnqn);
	if (ss == NULL) {
		status = connect_invalid(req, NVMFT_CONNECT_IATTR_DATA,
					 offsetof(struct nvmf_connect_data, subsysnqn));
		goto fail;
	}
	pthread_mutex_lock(&ss->lock);
	reachable = nvmft_subsystem_has_listener_locked(ss, qp->listener);
	allowed = nvmft_subsystem_host_allowed_locked(ss, data.hostnqn);
	pthread_mutex_unlock(&ss->lock);
	/* A subsystem not offered on this port looks the same as one that does not exist. */
	if (!reachable) {
		status = connect_invalid(req, NVMFT_CONNECT_IATTR_DATA,
					 offsetof(struct nvmf_connect_data, subsysnqn));
	} else if (!allowed) {
		nvmft_info(&tgt->log, "host %s is not allowed to connect to %s", data.hostnqn, ss->nqn);
		status = SC_CMD(NVME_SC_CONNECT_INVALID_HOST);
	} else if (qid == 0) {
		status = connect_admin(req, ss, &data, sqsize, le32toh(cmd->kato));
	} else {
		qp->qid = qid; /* the controller files the queue under it */
		status = connect_io(req, ss, &data, qid, sqsize);
	}
	if (status == 0) {
		qp->sq_flow_disabled = cmd->cattr & NVMFT_CONNECT_CATTR_DISABLE_SQFLOW;
		/* Connect itself was entry 0 of the queue. */
		nvmft_qpair_set_active(qp, qid, sqsize, 1);
	}
	nvmft_subsystem_unref(ss);
	if (status == 0) {
		nvmft_target_connect_end(qp, true);
		nvmft_req_finish(req, 0);
		return;
	}
fail:
	qp->qid = 0;
	qp->state = NVMFT_QPAIR_UNCONNECTED;
	nvmft_target_connect_end(qp, false);
	nvmft_req_finish(req, status);
}

static void fabrics_prop_get(struct nvmft_req *req)
{
	const struct nvmft_prop_cmd *cmd = (const struct nvmft_prop_cmd *)&req->cmd;
	uint8_t size = (cmd->attrib & 7) == NVMFT_PROP_SIZE_8 ? 8 : 4;
	uint64_t val = 0;
	uint16_t status;

	if ((cmd->attrib & 7) > NVMFT_PROP_SIZE_8) {
		nvmft_req_finish(req, SC_GEN(NVME_SC_INVALID_FIELD));
		return;
	}
	status = nvmft_ctrlr_prop_get(req->qpair->ctrlr, le32toh(cmd->offset), size, &val);
	if (status == 0)
		req->cpl.u64 = htole64(val);
	nvmft_req_finish(req, status);
}

static void fabrics_prop_set(struct nvmft_req *req)
{
	const struct nvmft_prop_cmd *cmd = (const struct nvmft_prop_cmd *)&req->cmd;
	uint8_t size = (cmd->attrib & 7) == NVMFT_PROP_SIZE_8 ? 8 : 4;

	if ((cmd->attrib & 7) > NVMFT_PROP_SIZE_8) {
		nvmft_req_finish(req, SC_GEN(NVME_SC_INVALID_FIELD));
		return;
	}
	nvmft_req_finish(req, nvmft_ctrlr_prop_set(req->qpair->ctrlr, le32toh(cmd->offset), size,
						   le64toh(cmd->value)));
}

static void fabrics_disconnect(struct nvmft_req *req)
{
	nvmft_req_finish(req, 0);
	/* From the poll loop, so the transport is not torn down under its own call. */
	nvmft_qpair_disconnect_remote(req->qpair);
}

uint16_t nvmft_fabrics_parse(struct nvmft_req *req)
{
	const struct nvmft_fabrics_cmd *cmd = (const struct nvmft_fabrics_cmd *)&req->cmd;
	struct nvmft_qpair *qp = req->qpair;

	if (cmd->fctype == NVMFT_FCTYPE_CONNECT) {
		if (qp->state != NVMFT_QPAIR_UNCONNECTED || qp->ctrlr != NULL)
			return SC_GEN(NVME_SC_CMD_SEQ_ERROR);
		if (req->xfer != NVMFT_XFER_H2C || req->length != NVMFT_CONNECT_DATA_LEN)
			return SC_GEN(NVME_SC_SGL_INVALID_DATA);
		req->execute = fabrics_connect;
		return 0;
	}
	/* Everything else needs a controller behind the queue. */
	if (qp->state != NVMFT_QPAIR_ACTIVE || qp->ctrlr == NULL)
		return SC_GEN(NVME_SC_CMD_SEQ_ERROR);
	if (req->length != 0)
		return SC_GEN(NVME_SC_SGL_INVALID_DATA);
	switch (cmd->fctype) {
	case NVMFT_FCTYPE_PROPERTY_GET:
		if (!nvmft_qpair_is_admin(qp))
			return SC_GEN(NVME_SC_INVALID_FIELD);
		req->execute = fabrics_prop_get;
		return 0;
	case NVMFT_FCTYPE_PROPERTY_SET:
		if (!nvmft_qpair_is_admin(qp))
			return SC_GEN(NVME_SC_INVALID_FIELD);
		req->execute = fabrics_prop_set;
		return 0;
	case NVMFT_FCTYPE_DISCONNECT:
		if (le16toh(((const struct nvmft_disconnect_cmd *)cmd)->recfmt) != 0)
			return SC_CMD(NVME_SC_CONNECT_FORMAT);
		if (nvmft_qpair_is_admin(qp))
			return SC_CMD(NVME_SC_DISCONNECT_INVALID_QTYPE);
		req->execute = fabrics_disconnect;
		return 0;
	default:
		/* Authentication is not offered (AUTHREQ is 0), so hosts never send it. */
		return SC_GEN(NVME_SC_INVALID_OPCODE);
	}
}
