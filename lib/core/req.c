/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request lifecycle (see req.h for the states).  Every state change of
 * a request happens in this file; command families only decide what a
 * command does.
 */
#include <errno.h>
#include <string.h>

#include "backends/backend.h"
#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/ns.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/subsystem.h"
#include "core/transport.h"
#include "core/target.h"
#include "util/compiler.h"

static uint8_t req_xfer_of(const struct nvmft_cmd *cmd)
{
	if (cmd->opcode == NVMFT_OPC_FABRICS)
		return ((const struct nvmft_fabrics_cmd *)cmd)->fctype & 3;
	return cmd->opcode & 3;
}

static void req_advance_sqhd(struct nvmft_req *req)
{
	struct nvmft_qpair *qp = req->qpair;

	qp->outstanding++;
	nvmft_stat_add(qp->stats.cmds, 1);
	nvmft_stat_add(qp->stats.outstanding, 1);
	/* SQHD is the slot after the command the controller just fetched. */
	if (qp->sqsize != 0)
		qp->sqhd = (uint16_t)((qp->sqhd + 1u) % ((uint32_t)qp->sqsize + 1u));
}

static void req_reset(struct nvmft_req *req)
{
	req->state = NVMFT_REQ_INIT;
	req->flags = 0;
	req->iov = req->iov_inline;
	req->iovcnt = 0;
	req->pool_iovcnt = 0;
	req->execute = NULL;
	req->pgns = NULL;
	req->io_type = 0;
	req->io_flags = 0;
	req->slba = 0;
	req->nlb = 0;
	req->nr_ranges = 0;
	req->ranges = NULL;
	req->backend_err = 0;
	req->backend_done = NULL;
	req->fused = NULL;
	req->scratch = NULL;
	memset(&req->cpl, 0, sizeof(req->cpl));
}

/*
 * Route a command to its family.  Fabrics commands are valid on any queue;
 * everything else needs a connected queue on a ready controller.
 */
static uint16_t req_route(struct nvmft_req *req)
{
	struct nvmft_qpair *qp = req->qpair;
	struct nvmft_ctrlr *ctrlr = qp->ctrlr;

	if (req->cmd.opcode == NVMFT_OPC_FABRICS) {
		/* A PCIe controller has registers instead, and 7Fh is just an unknown opcode. */
		if (nvmft_unlikely(qp->tr->ops->caps & NVMFT_TR_CAP_PCIE))
			return NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
		return nvmft_fabrics_parse(req);
	}
	if (qp->state != NVMFT_QPAIR_ACTIVE || ctrlr == NULL)
		return NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR);
	/* No admin or NVM opcode moves data both ways: such an opcode does not exist. */
	if (req->xfer == NVMFT_XFER_BIDI)
		return NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
	/* PSDT other than SGL is meaningless on fabrics; transports that use PRPs clear it. */
	if (nvmft_qpair_is_admin(qp)) {
		/*
		 * Until CC.EN and CSTS.RDY are 1, and again from a reset or a
		 * shutdown on, a controller processes Fabrics commands only;
		 * Keep Alive and AER are admin commands like any other here.
		 */
		if (nvmft_unlikely(!nvmft_ctrlr_ready(ctrlr)))
			return NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR);
		if (nvmft_ctrlr_is_discovery(ctrlr))
			return nvmft_discovery_parse(req);
		return nvmft_admin_parse(req);
	}
	/* No DNR: an I/O queue sees this only while a reset takes it away; retry elsewhere. */
	if (!nvmft_ctrlr_ready(ctrlr))
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR);
	return nvmft_io_parse(req);
}

bool nvmft_req_init(struct nvmft_req *req)
{
	uint16_t status;

	req_reset(req);
	req_advance_sqhd(req);
	req->xfer = req_xfer_of(&req->cmd);
	status = req_route(req);
	if (status != 0) {
		if (nvmft_unlikely(req->qpair->io_fused_first != NULL))
			nvmft_io_fused_break(req);
		nvmft_req_finish(req, status);
		return false;
	}
	return true;
}

void nvmft_req_reject(struct nvmft_req *req, uint16_t status)
{
	uint32_t len = req->length;

	req_reset(req);
	req->length = len;
	req_advance_sqhd(req);
	req->xfer = req_xfer_of(&req->cmd);
	if (nvmft_unlikely(req->qpair->io_fused_first != NULL))
		nvmft_io_fused_break(req);
	nvmft_req_finish(req, status);
}

/*
 * Two gates stand between a request and its buffers.  The queue pair's own
 * share (max_qpair_buf_bytes) comes first, with its own FIFO, so a host that
 * stops reading its responses blocks only itself; then the group's pool,
 * strictly first come, first served.  Bytes are charged to the queue pair
 * when it passes its gate and returned at release.
 */
static void req_uncharge(struct nvmft_req *req);

static uint64_t req_buf_charge(const struct nvmft_req *req)
{
	const struct nvmft_buf_pool *pool = &req->qpair->pgt->pool;

	return (uint64_t)nvmft_buf_pool_chunks_for(pool, req->length) * pool->chunk;
}

static void req_take_pool_iov(struct nvmft_req *req, int n)
{
	req->iov = req->iov_inline;
	req->iovcnt = n;
	req->pool_iovcnt = n;
	req->flags |= NVMFT_REQ_F_POOL_BUF;
}

/* Past the queue pair's gate: the pool, or its FIFO.  Returns 0, -EAGAIN or -errno. */
static int req_pool_gate(struct nvmft_req *req)
{
	struct nvmft_pg_transport *pgt = req->qpair->pgt;
	int n;

	if (nvmft_likely(TAILQ_EMPTY(&pgt->buf_waiters))) {
		n = nvmft_buf_pool_get(&pgt->pool, req->length, req->iov_inline, NVMFT_REQ_INLINE_IOV);
		if (n > 0) {
			req_take_pool_iov(req, n);
			return 0;
		}
		if (n != -EAGAIN)
			return n;
	} else if (nvmft_buf_pool_chunks_for(&pgt->pool, req->length) > pgt->pool.max_chunks) {
		return -E2BIG;
	}
	req->state = NVMFT_REQ_WAIT_BUF;
	TAILQ_INSERT_TAIL(&pgt->buf_waiters, req, link);
	nvmft_stat_add(req->qpair->pg->stats.buf_waits, 1);
	return -EAGAIN;
}

/*
 * The second half of a fused pair never waits: its first half holds
 * buffers (and the qpair's share) that a wait could depend on, so waiting
 * could deadlock.  It takes buffers if there are any now, else fails
 * (-ENOBUFS, the host may retry the pair).
 */
static int req_get_buffers_now(struct nvmft_req *req, uint64_t charge)
{
	struct nvmft_pg_transport *pgt = req->qpair->pgt;
	int n = nvmft_buf_pool_get(&pgt->pool, req->length, req->iov_inline, NVMFT_REQ_INLINE_IOV);

	if (n < 0)
		return n == -EAGAIN ? -ENOBUFS : n;
	req_take_pool_iov(req, n);
	req->qpair->buf_bytes += charge;
	req->flags |= NVMFT_REQ_F_QP_CHARGED;
	return 0;
}

int nvmft_req_get_buffers(struct nvmft_req *req)
{
	struct nvmft_qpair *qp = req->qpair;
	uint64_t charge = req_buf_charge(req);
	uint64_t cap = qp->tr->opts.max_qpair_buf_bytes;
	int rc;

	if (charge > cap && cap != 0)
		return -E2BIG;
	if (nvmft_unlikely(req->flags & NVMFT_REQ_F_FUSED_SECOND))
		return req_get_buffers_now(req, charge);
	if (nvmft_unlikely(!TAILQ_EMPTY(&qp->buf_waiters) || (cap != 0 && qp->buf_bytes + charge > cap))) {
		req->state = NVMFT_REQ_WAIT_BUF;
		req->flags |= NVMFT_REQ_F_QP_WAIT;
		TAILQ_INSERT_TAIL(&qp->buf_waiters, req, link);
		nvmft_stat_add(qp->pg->stats.buf_waits, 1);
		return -EAGAIN;
	}
	qp->buf_bytes += charge;
	req->flags |= NVMFT_REQ_F_QP_CHARGED;
	rc = req_pool_gate(req);
	if (rc < 0 && rc != -EAGAIN)
		req_uncharge(req);
	return rc;
}

int nvmft_req_buf_mem_handle(const struct nvmft_req *req, int idx, void **handle)
{
	if (!(req->flags & NVMFT_REQ_F_POOL_BUF) || idx < 0 || idx >= req->pool_iovcnt)
		return -ENOENT;
	return nvmft_buf_pool_mem_handle(&req->qpair->pgt->pool, req->iov_inline[idx].iov_base, handle);
}

/* Let queued requests of @qp through its gate as its own buffers come back. */
static void req_wake_qp_waiters(struct nvmft_qpair *qp)
{
	uint64_t cap = qp->tr->opts.max_qpair_buf_bytes;
	struct nvmft_req *w;
	int rc;

	while ((w = TAILQ_FIRST(&qp->buf_waiters)) != NULL) {
		uint64_t charge = req_buf_charge(w);

		if (cap != 0 && qp->buf_bytes + charge > cap)
			return;
		TAILQ_REMOVE(&qp->buf_waiters, w, link);
		w->flags &= (uint16_t)~NVMFT_REQ_F_QP_WAIT;
		qp->buf_bytes += charge;
		w->flags |= NVMFT_REQ_F_QP_CHARGED;
		rc = req_pool_gate(w);
		if (rc == -EAGAIN)
			continue; /* now in the pool's FIFO */
		if (rc < 0) {
			req_uncharge(w);
			w->iovcnt = 0; /* the transport sees no buffers and fails it */
		}
		w->state = NVMFT_REQ_INIT;
		nvmft_pg_resume_req(qp->pg, w);
	}
}

static void req_uncharge(struct nvmft_req *req)
{
	struct nvmft_qpair *qp = req->qpair;

	if (!(req->flags & NVMFT_REQ_F_QP_CHARGED))
		return;
	req->flags &= (uint16_t)~NVMFT_REQ_F_QP_CHARGED;
	qp->buf_bytes -= req_buf_charge(req);
	if (nvmft_unlikely(!TAILQ_EMPTY(&qp->buf_waiters)))
		req_wake_qp_waiters(qp);
}

void nvmft_req_cancel_buffer_wait(struct nvmft_req *req)
{
	if (req->state != NVMFT_REQ_WAIT_BUF)
		return;
	if (req->flags & NVMFT_REQ_F_QP_WAIT) {
		TAILQ_REMOVE(&req->qpair->buf_waiters, req, link);
		req->flags &= (uint16_t)~NVMFT_REQ_F_QP_WAIT;
	} else {
		TAILQ_REMOVE(&req->qpair->pgt->buf_waiters, req, link);
	}
	req->state = NVMFT_REQ_INIT;
	req_uncharge(req);
}

/* Hand freed chunks to waiters in order; they resume from the poll loop. */
static void req_wake_buf_waiters(struct nvmft_pg_transport *pgt, struct nvmft_poll_group *pg)
{
	struct nvmft_req *w;
	int n;

	while ((w = TAILQ_FIRST(&pgt->buf_waiters)) != NULL) {
		n = nvmft_buf_pool_get(&pgt->pool, w->length, w->iov_inline, NVMFT_REQ_INLINE_IOV);
		if (n == -EAGAIN)
			return;
		TAILQ_REMOVE(&pgt->buf_waiters, w, link);
		if (n > 0) {
			req_take_pool_iov(w, n);
		} else {
			/* Out of system memory: the transport sees no buffers and fails it. */
			req_uncharge(w);
			w->iovcnt = 0;
		}
		w->state = NVMFT_REQ_INIT;
		nvmft_pg_resume_req(pg, w);
	}
}

void nvmft_req_execute(struct nvmft_req *req)
{
	struct nvmft_pg_subsys *pgss = req->qpair->pgss;

	if (req->flags & NVMFT_REQ_F_IO) {
		/* Held while the subsystem is paused; counted once it runs. */
		if (nvmft_unlikely(pgss->state != NVMFT_PG_SS_ACTIVE)) {
			req->state = NVMFT_REQ_QUEUED;
			TAILQ_INSERT_TAIL(&pgss->queued, req, link);
			return;
		}
		if (nvmft_unlikely(req->pgns->removing || req->pgns->ns == NULL)) {
			req->flags &= (uint16_t)~NVMFT_REQ_F_IO;
			nvmft_req_finish(req, NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS));
			return;
		}
		pgss->io_outstanding++;
		req->pgns->io_outstanding++;
		req->state = NVMFT_REQ_EXEC;
		/* From here on the release path owes the drain accounting. */
		req->flags |= NVMFT_REQ_F_IO_COUNTED;
	} else {
		req->state = NVMFT_REQ_EXEC;
	}
	req->execute(req);
}

static void req_release(struct nvmft_req *req);

/*
 * Out of its namespace's list of requests in the backend.  A request a
 * test hands a backend directly never joined it (le_prev stays NULL).
 */
static void req_be_unlink(struct nvmft_req *req)
{
	if (req->be_link.le_prev == NULL)
		return;
	LIST_REMOVE(req, be_link);
	req->be_link.le_prev = NULL;
}

/* The backend completed an orphan and its family cleaned up: the request may go. */
static void req_orphan_done(struct nvmft_req *req)
{
	const struct nvmft_transport_ops *ops = req->qpair->tr->ops;

	/* Still with the transport: its nvmft_req_release() finishes the job. */
	if (!(req->flags & NVMFT_REQ_F_HOST_DONE))
		return;
	req->flags &= (uint16_t)~(NVMFT_REQ_F_ORPHAN | NVMFT_REQ_F_HOST_DONE);
	req_release(req);
	/* Reaping a disconnected queue pair waits for the poll loop: it is still there. */
	ops->req_recycle(req);
}

/* Fill the CQE and hand @req to the transport. */
static void req_answer(struct nvmft_req *req, uint16_t status)
{
	struct nvmft_qpair *qp = req->qpair;
	struct nvmft_cpl *cpl = &req->cpl;

	cpl->cid = req->cmd.cid;
	cpl->sqid = htole16(qp->qid);
	cpl->sqhd = htole16(qp->sq_flow_disabled ? 0xffff : qp->sqhd);
	cpl->status = nvmft_status_to_wire(status);
	if (status != 0) {
		/* Rejections are otherwise invisible on the target side. */
		nvmft_debug(&qp->tr->tgt->log, "qid %u cid %u opcode 0x%02x nsid %u: status 0x%03x%s",
			    qp->qid, le16toh(req->cmd.cid), req->cmd.opcode, le32toh(req->cmd.nsid),
			    status & 0x7ff, (status & NVME_SC_DNR) ? " DNR" : "");
		nvmft_stat_add(qp->stats.errors, 1);
		if (qp->ctrlr != NULL && req->cmd.opcode != NVMFT_OPC_FABRICS)
			nvmft_ctrlr_log_error(qp->ctrlr, req, status);
	}
	if ((req->flags & NVMFT_REQ_F_IO) && status == 0) {
		struct nvmft_smart_counts *sm = &qp->smart;

		if (req->io_type == NVMFT_IO_READ || req->io_type == NVMFT_IO_COMPARE) {
			nvmft_stat_add(sm->read_cmds, 1);
			nvmft_stat_add(sm->read_bytes, req->length);
		} else if (req->io_type == NVMFT_IO_WRITE) {
			nvmft_stat_add(sm->write_cmds, 1);
			nvmft_stat_add(sm->write_bytes, req->length);
		}
	}
	if (req->xfer == NVMFT_XFER_C2H && status == 0) {
		nvmft_stat_add(qp->stats.bytes_read, req->length);
		nvmft_stat_add(qp->pg->stats.bytes_read, req->length);
	} else if (req->xfer == NVMFT_XFER_H2C && status == 0) {
		nvmft_stat_add(qp->stats.bytes_written, req->length);
		nvmft_stat_add(qp->pg->stats.bytes_written, req->length);
	}
	req->state = NVMFT_REQ_COMPLETE;
	qp->tr->ops->req_complete(req);
}

void nvmft_req_finish(struct nvmft_req *req, uint16_t status)
{
	/* An orphan's host has its answer; this is the end of the backend's side. */
	if (nvmft_unlikely(req->flags & NVMFT_REQ_F_ORPHAN)) {
		req_orphan_done(req);
		return;
	}
	req_answer(req, status);
}

bool nvmft_req_orphan(struct nvmft_req *req, uint16_t status)
{
	if (req->state != NVMFT_REQ_BACKEND || req->qpair->tr->ops->req_recycle == NULL ||
	    (req->flags & (NVMFT_REQ_F_FUSED_FIRST | NVMFT_REQ_F_FUSED_SECOND | NVMFT_REQ_F_ORPHAN)))
		return false;
	req_be_unlink(req);
	req->flags |= NVMFT_REQ_F_ORPHAN | NVMFT_REQ_F_ORPHAN_BE;
	/* Not a success: C2H data the backend may still be writing is never sent. */
	req_answer(req, status);
	return true;
}

bool nvmft_req_release(struct nvmft_req *req)
{
	if (nvmft_unlikely(req->flags & NVMFT_REQ_F_ORPHAN)) {
		if (req->flags & NVMFT_REQ_F_ORPHAN_BE) {
			/*
			 * The backend may still write into the buffers and will
			 * complete this very request: keep everything, including
			 * the queue pair's count, until it does.
			 */
			req->flags |= NVMFT_REQ_F_HOST_DONE;
			req->state = NVMFT_REQ_BACKEND;
			return false;
		}
		req->flags &= (uint16_t)~NVMFT_REQ_F_ORPHAN;
	}
	req_release(req);
	return true;
}

static void req_release(struct nvmft_req *req)
{
	struct nvmft_qpair *qp = req->qpair;
	struct nvmft_poll_group *pg = qp->pg;

	if (nvmft_unlikely(req->flags & (NVMFT_REQ_F_FUSED_FIRST | NVMFT_REQ_F_FUSED_SECOND)))
		nvmft_io_req_release(req);
	if (req->flags & NVMFT_REQ_F_BE_IOV)
		nvmft_backend_release(req->pgns->ns->be, req->pgns->chan, req);
	if (req->flags & NVMFT_REQ_F_POOL_BUF) {
		nvmft_buf_pool_put(&qp->pgt->pool, req->iov_inline, req->pool_iovcnt);
		if (!TAILQ_EMPTY(&qp->pgt->buf_waiters))
			req_wake_buf_waiters(qp->pgt, pg);
	}
	req_uncharge(req);
	if (req->flags & NVMFT_REQ_F_IO_COUNTED)
		nvmft_pg_io_done(pg, qp->pgss, req->pgns);
	if (pg != NULL) {
		nvmft_stat_add(pg->stats.reqs_completed, 1);
		if (qp->qid != 0)
			nvmft_stat_add(pg->stats.io_completed, 1);
	}
	req->flags = 0;
	req->pool_iovcnt = 0;
	req->iovcnt = 0;
	req->state = NVMFT_REQ_FREE;
	nvmft_stat_add(qp->stats.outstanding, -1);
	if (--qp->outstanding == 0 && qp->state == NVMFT_QPAIR_DISCONNECTING)
		nvmft_pg_reap_qpair(pg, qp);
}

/* ---- Backend submission ------------------------------------------------- */

void nvmft_req_submit_backend(struct nvmft_req *req, void (*done)(struct nvmft_req *req, int err))
{
	struct nvmft_pg_ns *pgns = req->pgns;
	int rc;

	/* The host has its answer: no further step of the command reaches the backend. */
	if (nvmft_unlikely(req->flags & NVMFT_REQ_F_ORPHAN)) {
		done(req, -ENODEV);
		return;
	}
	req->backend_done = done;
	req->state = NVMFT_REQ_BACKEND;
	LIST_INSERT_HEAD(&pgns->be_reqs, req, be_link);
	nvmft_stat_add(req->qpair->pg->stats.pending_bdev_io, 1);
	rc = nvmft_backend_submit(pgns->ns->be, pgns->chan, req);
	if (rc < 0)
		nvmft_req_complete(req, rc);
}

NVMFT_EXPORT void nvmft_req_complete(struct nvmft_req *req, int err)
{
	if (nvmft_unlikely(req->flags & NVMFT_REQ_F_ORPHAN)) {
		if (!(req->flags & NVMFT_REQ_F_ORPHAN_BE))
			return;
		req->flags &= (uint16_t)~NVMFT_REQ_F_ORPHAN_BE;
		nvmft_stat_add(req->qpair->pg->stats.pending_bdev_io, -1);
		req->backend_err = err;
		/* Answered already: an error makes every continuation clean up and stop. */
		req->backend_done(req, err != 0 ? err : -ENODEV);
		return;
	}
	if (nvmft_unlikely(req->state != NVMFT_REQ_BACKEND))
		return; /* completed twice: ignore rather than corrupt the queue */
	req_be_unlink(req);
	nvmft_stat_add(req->qpair->pg->stats.pending_bdev_io, -1);
	req->state = NVMFT_REQ_EXEC;
	req->backend_err = err;
	req->backend_done(req, err);
}

static void req_remote_complete_msg(struct nvmft_msg *msg)
{
	struct nvmft_req *req = nvmft_container_of(msg, struct nvmft_req, msg);

	nvmft_req_complete(req, req->backend_err);
}

NVMFT_EXPORT void nvmft_req_complete_remote(struct nvmft_req *req, int err)
{
	req->backend_err = err;
	nvmft_pg_post(req->qpair->pg, &req->msg, req_remote_complete_msg);
}

uint16_t nvmft_req_errno_to_status(const struct nvmft_req *req, int err)
{
	bool write = req->io_type == NVMFT_IO_WRITE || req->io_type == NVMFT_IO_WRITE_ZEROES ||
		     req->io_type == NVMFT_IO_DEALLOCATE || req->io_type == NVMFT_IO_FLUSH;

	switch (err) {
	case 0:
		return 0;
	case -EIO:
		return write ? NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT)
			     : NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_READ_ERROR);
	case -EILSEQ:
		return NVMFT_STATUS_DNR(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED);
	case -ENOSPC:
		return NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CAP_EXCEEDED);
	case -EROFS:
	case -EPERM:
	case -EACCES:
		return NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED);
	case -EAGAIN:
	case -EBUSY:
	case -ENOMEM:
		/* Transient: no DNR, so the host retries. */
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY);
	case -ENODEV:
	case -ENXIO:
		return NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY);
	case -ERANGE:
		return NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE);
	case -EFAULT:
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_XFER_ERROR);
	case -EOPNOTSUPP:
		return NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	case -ETIMEDOUT:
	case -ECANCELED:
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_REQ);
	default:
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL);
	}
}

/* ---- Data helpers ------------------------------------------------------- */

size_t nvmft_req_copy_to_iov(struct nvmft_req *req, size_t off, const void *src, size_t len)
{
	const uint8_t *s = src;
	size_t done = 0;

	for (int i = 0; i < req->iovcnt && done < len; i++) {
		size_t l = req->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = NVMFT_MIN(l - off, len - done);
		memcpy((uint8_t *)req->iov[i].iov_base + off, s + done, l);
		done += l;
		off = 0;
	}
	return done;
}

size_t nvmft_req_copy_from_iov(const struct nvmft_req *req, size_t off, void *dst, size_t len)
{
	uint8_t *d = dst;
	size_t done = 0;

	for (int i = 0; i < req->iovcnt && done < len; i++) {
		size_t l = req->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = NVMFT_MIN(l - off, len - done);
		memcpy(d + done, (const uint8_t *)req->iov[i].iov_base + off, l);
		done += l;
		off = 0;
	}
	return done;
}

void nvmft_req_zero_iov(struct nvmft_req *req, size_t off)
{
	for (int i = 0; i < req->iovcnt; i++) {
		size_t l = req->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		memset((uint8_t *)req->iov[i].iov_base + off, 0, l - off);
		off = 0;
	}
}

/* ---- Public accessors for backends -------------------------------------- */

NVMFT_EXPORT enum nvmft_io_type nvmft_req_get_io_type(const struct nvmft_req *req)
{
	return (enum nvmft_io_type)req->io_type;
}

NVMFT_EXPORT uint64_t nvmft_req_get_offset_blocks(const struct nvmft_req *req)
{
	return req->slba;
}

NVMFT_EXPORT uint64_t nvmft_req_get_num_blocks(const struct nvmft_req *req)
{
	return req->nlb;
}

NVMFT_EXPORT uint32_t nvmft_req_get_io_flags(const struct nvmft_req *req)
{
	return req->io_flags;
}

NVMFT_EXPORT uint32_t nvmft_req_get_range_count(const struct nvmft_req *req)
{
	return req->io_type == NVMFT_IO_DEALLOCATE ? req->nr_ranges : 0;
}

NVMFT_EXPORT int nvmft_req_get_range(const struct nvmft_req *req, uint32_t idx, uint64_t *offset_blocks,
				     uint64_t *num_blocks)
{
	if (req->io_type != NVMFT_IO_DEALLOCATE || idx >= req->nr_ranges || req->ranges == NULL)
		return -EINVAL;
	if (offset_blocks)
		*offset_blocks = le64toh(req->ranges[idx].slba);
	if (num_blocks)
		*num_blocks = le32toh(req->ranges[idx].nlb);
	return 0;
}

NVMFT_EXPORT const struct iovec *nvmft_req_get_iovs(const struct nvmft_req *req, int *iovcnt)
{
	if (iovcnt)
		*iovcnt = req->iovcnt;
	return req->iovcnt ? req->iov : NULL;
}

NVMFT_EXPORT int nvmft_req_set_iovs(struct nvmft_req *req, const struct iovec *iov, int iovcnt)
{
	uint64_t total = 0;

	if (req->io_type != NVMFT_IO_READ || !(req->flags & NVMFT_REQ_F_ZCOPY) || iov == NULL ||
	    iovcnt <= 0 || req->state != NVMFT_REQ_BACKEND)
		return -EINVAL;
	if (iovcnt > 16 || iovcnt > NVMFT_REQ_INLINE_IOV)
		return -E2BIG;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total != req->length)
		return -EINVAL;
	memcpy(req->iov_inline, iov, sizeof(*iov) * (size_t)iovcnt);
	req->iov = req->iov_inline;
	req->iovcnt = iovcnt;
	req->flags |= NVMFT_REQ_F_BE_IOV;
	return 0;
}
