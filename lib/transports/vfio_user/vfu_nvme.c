/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The queues of the NVMe controller behind the PCI function: submission
 * and completion queues in client memory, request slots, the queue
 * management and Doorbell Buffer Config commands, data pointers handed to
 * the core, completions with phase tags, and interrupts through the
 * client's eventfds.  BAR0 and the device state are in vfu_bar.c.
 *
 * The hot path has no system call: a poll reads each submission queue's
 * tail doorbell (the BAR0 page the client maps, or its shadow doorbell in
 * client memory), copies the new entries out before looking at them, runs
 * them through the core, writes completion entries and flips their phase
 * bit last.  An eventfd is written only for a completion queue with
 * interrupts enabled, at most once per queue per poll (more rarely with
 * the Interrupt Coalescing feature).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "core/ns.h"
#include "core/transport.h"
#include "transports/vfio_user/vfu_internal.h"
#include "util/log.h"

#define ST_FIELD NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_INTERNAL NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL)
#define ST_ABORT_SQ NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_QUEUE)
#define ST_PRP_OFFSET NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_PRP_INVALID_OFFSET)
#define ST_QID NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_QID_INVALID)
#define ST_QSIZE NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_QUEUE_SIZE)
#define ST_CQID NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CQ_INVALID)
#define ST_QDEL NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_INVALID_QUEUE)
#define ST_VECTOR NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_INVALID_VECTOR)

/* Feature data the core interprets: Host Behavior Support, Host Identifier. */
#define FEAT_HOST_BEHAVIOR_LEN 512u

/* ---- Request slots ------------------------------------------------------------------ */

int vfu_sq_alloc_slots(struct vfu_sq *sq, uint32_t entries)
{
	uint32_t per = sq->qp.tr->opts.max_io_size / VFU_PAGE + 1;

	TAILQ_INIT(&sq->free_reqs);
	sq->reqs = calloc(entries, sizeof(*sq->reqs));
	sq->iovs = calloc((size_t)entries * per, sizeof(*sq->iovs));
	sq->regs = calloc((size_t)entries * per, sizeof(*sq->regs));
	if (sq->reqs == NULL || sq->iovs == NULL || sq->regs == NULL) {
		vfu_sq_free_slots(sq);
		return -ENOMEM;
	}
	sq->nreqs = entries;
	sq->iov_per_req = per;
	for (uint32_t i = 0; i < entries; i++) {
		struct vfu_req *r = &sq->reqs[i];

		r->sq = sq;
		r->req.qpair = &sq->qp;
		r->map.iov = &sq->iovs[(size_t)i * per];
		r->map.iov_cap = per;
		r->map.regs = &sq->regs[(size_t)i * per];
		r->map.regs_cap = per;
		TAILQ_INSERT_TAIL(&sq->free_reqs, r, link);
	}
	return 0;
}

void vfu_sq_free_slots(struct vfu_sq *sq)
{
	free(sq->reqs);
	free(sq->iovs);
	free(sq->regs);
	sq->reqs = NULL;
	sq->iovs = NULL;
	sq->regs = NULL;
	sq->nreqs = 0;
}

/* The transport is done with @r: back to the core, then to the free list. */
static void req_free(struct vfu_req *r)
{
	r->state = VFU_REQ_FREE;
	r->bounce = false;
	/* No req_recycle method: the core never makes orphans here, release always succeeds. */
	if (nvmft_req_release(&r->req))
		TAILQ_INSERT_HEAD(&r->sq->free_reqs, r, link);
}

/* ---- Doorbells --------------------------------------------------------------------- */

/* Where the host writes a queue's doorbell: BAR0, or its shadow (I/O queues, once configured). */
static inline const uint32_t *db_ptr(const struct vfu_conn *c, uint16_t qid, bool cq)
{
	uint32_t idx = 2u * qid + (cq ? 1 : 0);

	if (qid != 0 && c->dbbuf_set && qid < c->dbbuf_nq)
		return c->dbbuf_shadow != NULL ? &c->dbbuf_shadow[idx] : NULL;
	return (const uint32_t *)(const void *)c->db + idx;
}

static void db_bad_value(struct vfu_conn *c, uint32_t *last, uint32_t v, uint16_t qid, bool cq)
{
	/* Once per bad value: a mapped doorbell keeps it until the host writes another. */
	if (*last == v + 1)
		return;
	*last = v + 1;
	nvmft_debug(vfu_log_of(c), "vfio-user: controller %u: invalid %s doorbell value %u for queue %u",
		    c->ctrlr->cntlid, cq ? "CQ head" : "SQ tail", v, qid);
	nvmft_ctrlr_notify(c->ctrlr, NVMFT_AEN_DB_VALUE);
}

/* ---- Interrupts -------------------------------------------------------------------------- */

static bool irq_msix_mode(const struct vfu_conn *c)
{
	/* Clients that emulate MSI-X themselves assign vectors without touching our capability. */
	return vfu_pci_msix_enabled(&c->pci) || c->msix_assigned > 0;
}

static void irq_write(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* A full eventfd counter is still an interrupt waiting: nothing to add. */
	}
}

static void irq_raise(struct vfu_conn *c, uint16_t vec)
{
	if (irq_msix_mode(c)) {
		if (!vfu_pci_msix_deliverable(&c->pci, vec)) {
			vfu_pci_msix_set_pending(&c->pci, vec, true);
			return;
		}
		irq_write(vec < c->pci.l.msix_vectors ? c->msix_fds[vec] : -1);
		return;
	}
	/* INTx: one line for every queue. */
	if (vfu_pci_intx_disabled(&c->pci) || (c->intms & 1)) {
		c->intx_pending = true;
		return;
	}
	irq_write(c->intx_fd);
}

void vfu_irq_recheck(struct vfu_conn *c)
{
	if (irq_msix_mode(c)) {
		for (uint32_t w = 0; w < (c->pci.l.msix_vectors + 63) / 64; w++) {
			uint64_t bits = c->pci.pba[w];

			while (bits != 0) {
				uint32_t v = w * 64 + (uint32_t)__builtin_ctzll(bits);

				bits &= bits - 1;
				if (!vfu_pci_msix_deliverable(&c->pci, v))
					continue;
				vfu_pci_msix_set_pending(&c->pci, v, false);
				irq_write(c->msix_fds[v]);
			}
		}
		return;
	}
	if (c->intx_pending && !vfu_pci_intx_disabled(&c->pci) && !(c->intms & 1)) {
		c->intx_pending = false;
		irq_write(c->intx_fd);
	}
}

void vfu_irq_set_fd(struct vfu_conn *c, uint32_t index, uint32_t vec, int fd)
{
	int *slot = NULL;

	if (index == VFIO_PCI_INTX_IRQ_INDEX && vec == 0)
		slot = &c->intx_fd;
	else if (index == VFIO_PCI_MSIX_IRQ_INDEX && vec < c->pci.l.msix_vectors)
		slot = &c->msix_fds[vec];
	if (slot == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (index == VFIO_PCI_MSIX_IRQ_INDEX)
		c->msix_assigned = c->msix_assigned + (fd >= 0) - (*slot >= 0);
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
}

void vfu_irq_fire(struct vfu_conn *c, uint32_t index, uint32_t vec)
{
	if (index == VFIO_PCI_INTX_IRQ_INDEX)
		irq_write(c->intx_fd);
	else if (index == VFIO_PCI_MSIX_IRQ_INDEX && vec < c->pci.l.msix_vectors)
		irq_write(c->msix_fds[vec]);
}

/* Interrupt Coalescing (feature 08h) for I/O queues; the admin queue is never held back. */
static bool irq_due(const struct vfu_conn *c, const struct vfu_cq *cq, uint64_t now)
{
	uint32_t f = c->ctrlr->feat.irq_coalescing;
	uint32_t thr = f & 0xff, time = (f >> 8) & 0xff;

	if (cq->qid == 0 || (thr == 0 && time == 0))
		return true;
	return cq->irq_pending > thr || now - cq->irq_first_ns >= (uint64_t)time * 100000u;
}

static void irq_flush(struct vfu_conn *c, uint64_t now)
{
	struct vfu_cq *cq, *tmp;

	TAILQ_FOREACH_SAFE(cq, &c->irq_list, irq_link, tmp) {
		if (!irq_due(c, cq, now))
			continue;
		TAILQ_REMOVE(&c->irq_list, cq, irq_link);
		cq->on_irq_list = false;
		cq->irq_pending = 0;
		irq_raise(c, cq->iv);
	}
}

static void irq_forget(struct vfu_conn *c, struct vfu_cq *cq)
{
	if (cq->on_irq_list)
		TAILQ_REMOVE(&c->irq_list, cq, irq_link);
	cq->on_irq_list = false;
	cq->irq_pending = 0;
}

/* ---- Completion queues -------------------------------------------------------------- */

static void cq_refresh_head(struct vfu_conn *c, struct vfu_cq *cq)
{
	const uint32_t *p = db_ptr(c, cq->qid, true);
	uint32_t h, used, step;

	if (p == NULL)
		return;
	h = __atomic_load_n(p, __ATOMIC_ACQUIRE);
	if (h == cq->head)
		return;
	/* The host may only consume what was posted: head moves forward, never past the tail. */
	used = (uint32_t)(cq->tail + cq->size - cq->head) % cq->size;
	step = h < cq->size ? (h + cq->size - cq->head) % cq->size : UINT32_MAX;
	if (step > used) {
		db_bad_value(c, &cq->bad_head, h, cq->qid, true);
		return;
	}
	cq->head = (uint16_t)h;
}

/* Write one entry, its phase bit last.  False when the queue is full or not reachable. */
static bool cq_post(struct vfu_conn *c, struct vfu_cq *cq, const struct nvmft_cpl *cpl)
{
	uint16_t next = cq->tail + 1 == cq->size ? 0 : (uint16_t)(cq->tail + 1);
	struct nvmft_cpl *e;

	if (nvmft_unlikely(cq->ring == NULL || !vfu_pci_bus_master(&c->pci)))
		return false;
	/*
	 * The head doorbell is a line the client writes: read it only when the
	 * queue looks full (vfu_conn_check_doorbells() looks at it regularly).
	 */
	if (nvmft_unlikely(next == cq->head)) {
		cq_refresh_head(c, cq);
		if (next == cq->head)
			return false;
	}
	e = &cq->ring[cq->tail];
	memcpy(e, cpl, offsetof(struct nvmft_cpl, status));
	__atomic_store_n(&e->status, (uint16_t)(cpl->status | htole16(cq->phase)), __ATOMIC_RELEASE);
	cq->tail = next;
	if (next == 0)
		cq->phase ^= 1;
	if (cq->ien && cq->irq_pending++ == 0) {
		cq->irq_first_ns = c->tpg->tick.last_poll_ns;
		cq->on_irq_list = true;
		TAILQ_INSERT_TAIL(&c->irq_list, cq, irq_link);
	}
	return true;
}

/* Completions still go out for a queue of an enabled controller (also while it shuts down). */
static bool cq_open(const struct vfu_conn *c)
{
	return c->enabled && !c->dead && (c->ctrlr->cc & NVMFT_CC_EN);
}

static int flush_waiting(struct vfu_conn *c)
{
	int n = 0;

	for (uint32_t qid = 0; qid < c->nq && c->nr_waiting > 0; qid++) {
		struct vfu_cq *cq = c->cqs[qid];
		struct vfu_req *r;

		if (cq == NULL)
			continue;
		while ((r = TAILQ_FIRST(&cq->waiting)) != NULL && cq_post(c, cq, &r->req.cpl)) {
			TAILQ_REMOVE(&cq->waiting, r, link);
			c->nr_waiting--;
			req_free(r);
			n++;
		}
	}
	return n;
}

/* Give back requests waiting for room in @cq; all of them, or only @sq's. */
static void cq_drop_waiting(struct vfu_conn *c, struct vfu_cq *cq, const struct vfu_sq *sq)
{
	struct vfu_req *r, *tmp;

	TAILQ_FOREACH_SAFE(r, &cq->waiting, link, tmp) {
		if (sq != NULL && r->sq != sq)
			continue;
		TAILQ_REMOVE(&cq->waiting, r, link);
		c->nr_waiting--;
		req_free(r);
	}
}

void vfu_cq_free(struct vfu_conn *c, struct vfu_cq *cq)
{
	cq_drop_waiting(c, cq, NULL);
	irq_forget(c, cq);
	if (cq != &c->admin_cq)
		free(cq);
}

void vfu_req_complete(struct nvmft_req *req)
{
	struct vfu_req *r = vfu_req_of(req);
	struct vfu_sq *sq = r->sq;
	struct vfu_conn *c = sq->c;
	struct vfu_cq *cq = sq->cq;

	/* The data has moved (or never will): the client's memory may go now. */
	if (r->map.nregs > 0)
		vfu_map_release(&c->dma, &r->map);
	if (nvmft_unlikely(sq->dead || !cq_open(c) || r->cq_epoch != cq->epoch)) {
		req_free(r);
		return;
	}
	if (nvmft_likely(TAILQ_EMPTY(&cq->waiting)) && cq_post(c, cq, &req->cpl)) {
		req_free(r);
		return;
	}
	/* Full (or unmapped): it waits, in order, for the host to make room. */
	r->state = VFU_REQ_CQ_WAIT;
	TAILQ_INSERT_TAIL(&cq->waiting, r, link);
	c->nr_waiting++;
}

/* ---- Commands --------------------------------------------------------------------------- */

/*
 * The data length a command implies: PRPs do not say how much they
 * describe, the command does (the core then checks it as it checks an
 * SGL's).  Mirrors the core's command parsers.
 */
static uint32_t cmd_len(const struct vfu_sq *sq, const struct nvmft_cmd *cmd)
{
	uint32_t cdw10 = le32toh(cmd->cdw10), cdw11 = le32toh(cmd->cdw11);
	const struct nvmft_pg_ns *pgns;
	uint64_t n;

	if (sq->qid == 0) {
		switch (cmd->opcode) {
		case nvme_admin_identify:
			return NVME_IDENTIFY_DATA_SIZE;
		case nvme_admin_get_log_page:
			n = ((uint64_t)((cdw11 & 0xffff) << 16 | cdw10 >> 16) + 1) * 4;
			return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
		case nvme_admin_get_features:
			if ((cdw10 >> 8 & 7) == NVME_GET_FEATURES_SEL_SUPPORTED)
				return 0;
			/* fallthrough */
		case nvme_admin_set_features:
			if ((cdw10 & 0xff) == NVME_FEAT_FID_HOST_BEHAVIOR)
				return FEAT_HOST_BEHAVIOR_LEN;
			if ((cdw10 & 0xff) == NVME_FEAT_FID_HOST_ID)
				return (cdw11 & NVME_FEAT_HOSTID_EXHID_MASK) ? 16 : 8;
			return 0;
		default:
			return 0;
		}
	}
	switch (cmd->opcode) {
	case nvme_cmd_read:
	case nvme_cmd_write:
	case nvme_cmd_compare:
		pgns = nvmft_pg_ns(sq->qp.pgss, le32toh(cmd->nsid));
		if (pgns == NULL || pgns->ns == NULL)
			return 0;
		n = ((uint64_t)(le32toh(cmd->cdw12) & 0xffff) + 1) << pgns->ns->block_shift;
		return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	case nvme_cmd_dsm:
		return ((cdw10 & 0xff) + 1) * 16u;
	default:
		return 0;
	}
}

/* What the device does to client memory for @opcode's data. */
static uint32_t xfer_prot(uint8_t opcode)
{
	switch (opcode & 3) {
	case NVMFT_XFER_C2H:
		return VFU_DMA_WRITE;
	case NVMFT_XFER_H2C:
		return VFU_DMA_READ;
	default:
		return VFU_DMA_READ | VFU_DMA_WRITE;
	}
}

/* Host data the core interprets is copied out of client memory once, into pool buffers. */
static void bounce_in(struct vfu_conn *c, struct vfu_req *r)
{
	size_t off = 0;

	for (uint32_t i = 0; i < r->map.iovcnt; i++) {
		nvmft_req_copy_to_iov(&r->req, off, r->map.iov[i].iov_base, r->map.iov[i].iov_len);
		off += r->map.iov[i].iov_len;
	}
	vfu_map_release(&c->dma, &r->map);
}

void vfu_req_buffers_ready(struct nvmft_req *req)
{
	struct vfu_req *r = vfu_req_of(req);

	if (req->iovcnt == 0 || r->sq->dead) {
		nvmft_req_finish(req, ST_INTERNAL);
		return;
	}
	bounce_in(r->sq->c, r);
	nvmft_req_execute(req);
}

static void cmd_start(struct vfu_conn *c, struct vfu_sq *sq, struct vfu_req *r)
{
	struct nvmft_req *req = &r->req;
	uint32_t max = sq->qp.tr->opts.max_io_size;
	uint8_t psdt = req->cmd.flags >> NVMFT_CMD_PSDT_SHIFT;
	uint32_t len = cmd_len(sq, &req->cmd);
	uint32_t prot = xfer_prot(req->cmd.opcode);
	uint16_t st;
	int rc;

	r->cq_epoch = sq->cq->epoch;
	req->length = len;
	/* Admin commands take PRPs only; 11b is reserved. */
	if (nvmft_unlikely(psdt != NVMFT_CMD_PSDT_PRP) &&
	    (psdt > NVMFT_CMD_PSDT_SGL_MPTR_SGL || sq->qid == 0)) {
		nvmft_req_reject(req, ST_FIELD);
		return;
	}
	if (psdt != NVMFT_CMD_PSDT_PRP && len > 0) {
		/* An SGL says how long it is, and the core checks that against the command. */
		st = vfu_sgl_map(&c->dma, &req->cmd.dptr.sgl1, max, prot, &r->map);
		if (st != 0) {
			nvmft_req_reject(req, st);
			return;
		}
		req->length = r->map.len;
	}
	if (!nvmft_req_init(req))
		return; /* already answered through vfu_req_complete(), which dropped the map */
	if (len == 0) {
		nvmft_req_execute(req);
		return;
	}
	if (psdt == NVMFT_CMD_PSDT_PRP) {
		st = vfu_prp_map(&c->dma, le64toh(req->cmd.dptr.prp.prp1), le64toh(req->cmd.dptr.prp.prp2),
				 len, max, prot, &r->map);
		if (st != 0) {
			nvmft_req_finish(req, st);
			return;
		}
	}
	req->iov = r->map.iov;
	req->iovcnt = (int)r->map.iovcnt;
	if (nvmft_unlikely(req->xfer == NVMFT_XFER_H2C &&
			   (sq->qid == 0 || req->cmd.opcode == nvme_cmd_dsm))) {
		/* Ranges and feature data: a client must not change them under the core's feet. */
		r->bounce = true;
		rc = nvmft_req_get_buffers(req);
		if (rc == -EAGAIN)
			return; /* vfu_req_buffers_ready() */
		if (rc < 0) {
			nvmft_req_finish(req, ST_INTERNAL);
			return;
		}
		bounce_in(c, r);
	}
	nvmft_req_execute(req);
}

/* Fetch and start what the host queued on @sq, up to @budget commands. */
static unsigned int sq_poll(struct vfu_conn *c, struct vfu_sq *sq, unsigned int budget)
{
	const uint32_t *dbp = db_ptr(c, sq->qid, false);
	unsigned int n = 0;
	uint32_t tail;

	if (nvmft_unlikely(dbp == NULL || sq->ring == NULL))
		return 0;
	tail = __atomic_load_n(dbp, __ATOMIC_ACQUIRE);
	if (tail == sq->head)
		return 0;
	if (nvmft_unlikely(tail >= sq->size)) {
		db_bad_value(c, &sq->bad_tail, tail, sq->qid, false);
		return 0;
	}
	while (sq->head != tail && n < budget) {
		struct vfu_req *r = TAILQ_FIRST(&sq->free_reqs);

		/* Every slot busy: the rest waits, the host cannot tell the difference. */
		if (nvmft_unlikely(r == NULL))
			break;
		TAILQ_REMOVE(&sq->free_reqs, r, link);
		r->state = VFU_REQ_CORE;
		/* Copied before anything looks at it: the client may rewrite the entry any time. */
		memcpy(&r->req.cmd, &sq->ring[sq->head], sizeof(r->req.cmd));
		sq->head = sq->head + 1 == sq->size ? 0 : (uint16_t)(sq->head + 1);
		n++;
		cmd_start(c, sq, r);
		/* An admin command may have changed the queue (reset, unmapped memory). */
		if (nvmft_unlikely(sq->dead || sq->ring == NULL || !c->enabled))
			break;
	}
	if (sq->qid != 0 && c->dbbuf_eventidx != NULL && sq->qid < c->dbbuf_nq)
		__atomic_store_n(&c->dbbuf_eventidx[2u * sq->qid], (uint32_t)sq->head, __ATOMIC_RELEASE);
	return n;
}

void vfu_conn_check_doorbells(struct vfu_conn *c)
{
	if (!c->enabled || c->dead)
		return;
	for (uint32_t qid = 0; qid < c->nq; qid++)
		if (c->cqs[qid] != NULL)
			cq_refresh_head(c, c->cqs[qid]);
}

int vfu_conn_poll_queues(struct vfu_conn *c, unsigned int budget, uint64_t now)
{
	struct nvmft_ctrlr *ctrlr = c->ctrlr;
	struct vfu_sq *sq, *tmp;
	int work = 0;

	if (nvmft_unlikely(!c->enabled || c->dead || !vfu_pci_bus_master(&c->pci)))
		return 0;
	if (nvmft_unlikely(c->nr_waiting > 0))
		work += flush_waiting(c);
	if ((ctrlr->cc & NVMFT_CC_EN) && (ctrlr->csts & NVMFT_CSTS_RDY) && ctrlr->state == NVMFT_CTRLR_ACTIVE)
		work += (int)sq_poll(c, &c->admin, budget);
	if (nvmft_likely(nvmft_ctrlr_ready(ctrlr)))
		TAILQ_FOREACH_SAFE(sq, &c->live, link, tmp)
			work += (int)sq_poll(c, sq, budget);
	if (!TAILQ_EMPTY(&c->irq_list))
		irq_flush(c, now);
	return work;
}

/* ---- Submission queue lifetime ------------------------------------------------------------ */

void vfu_sq_disconnect(struct vfu_sq *sq)
{
	struct vfu_conn *c = sq->c;

	if (sq->dead)
		return;
	sq->dead = true;
	if (sq->live) {
		TAILQ_REMOVE(&c->live, sq, link);
		sq->live = false;
	}
	if (sq == &c->admin && c->enabled) {
		c->enabled = false;
		if (c->tpg != NULL)
			c->tpg->nr_enabled--;
	}
	/* Entries not yet posted are not posted any more. */
	if (sq->cq != NULL)
		cq_drop_waiting(c, sq->cq, sq);
	/* Requests queued for pool buffers would wait for nothing. */
	for (uint32_t i = 0; i < sq->nreqs; i++) {
		struct vfu_req *r = &sq->reqs[i];

		if (r->state == VFU_REQ_CORE && r->req.state == NVMFT_REQ_WAIT_BUF) {
			nvmft_req_cancel_buffer_wait(&r->req);
			nvmft_req_finish(&r->req, ST_ABORT_SQ);
		}
	}
}

void vfu_sq_free(struct vfu_sq *sq)
{
	struct vfu_conn *c = sq->c;
	struct nvmft_req *del = sq->delete_req;

	if (sq->qid < c->nq && c->sqs[sq->qid] == sq)
		c->sqs[sq->qid] = NULL;
	if (sq->cq != NULL && --sq->cq->nr_sqs == 0 && sq->cq->orphan)
		vfu_cq_free(c, sq->cq);
	/* Every command of the queue is back: Delete I/O Submission Queue is done. */
	if (del != NULL) {
		sq->delete_req = NULL;
		nvmft_req_finish(del, 0);
	}
	vfu_sq_free_slots(sq);
	free(sq);
	vfu_conn_unref(c);
}

/* ---- Admin commands of a PCIe controller ------------------------------------------------------ */

static uint32_t num_queues(const struct vfu_conn *c, bool cq)
{
	uint32_t nq = c->ctrlr->feat.num_queues;

	return (cq ? nq >> 16 : nq & 0xffff) + 1;
}

static uint16_t create_cq(struct vfu_conn *c, const struct nvmft_cmd *cmd)
{
	uint32_t cdw10 = le32toh(cmd->cdw10), cdw11 = le32toh(cmd->cdw11);
	uint16_t qid = cdw10 & 0xffff, qsize = cdw10 >> 16, iv = cdw11 >> 16;
	uint64_t base = le64toh(cmd->dptr.prp.prp1);
	bool ien = cdw11 & 2;
	struct vfu_cq *cq;
	void *ring;

	if (qid == 0 || qid >= c->nq || qid > num_queues(c, true) || c->cqs[qid] != NULL)
		return ST_QID;
	if (qsize == 0 || (uint32_t)qsize + 1 > c->ctrlr->max_io_depth)
		return ST_QSIZE;
	if (!(cdw11 & 1)) /* CAP.CQR: queues must be physically contiguous */
		return ST_FIELD;
	if (ien && iv >= c->pci.l.msix_vectors)
		return ST_VECTOR;
	if (base & (VFU_PAGE - 1))
		return ST_PRP_OFFSET;
	ring = vfu_queue_mem(c, base, ((uint64_t)qsize + 1) * VFU_CQE_SIZE, VFU_DMA_WRITE);
	if (ring == NULL)
		return ST_FIELD;
	cq = calloc(1, sizeof(*cq));
	if (cq == NULL)
		return ST_INTERNAL;
	cq->qid = qid;
	cq->size = (uint16_t)(qsize + 1);
	cq->ien = ien;
	cq->iv = iv;
	cq->iova = base;
	cq->ring = ring;
	cq->phase = 1;
	cq->epoch = ++c->epoch_seq;
	TAILQ_INIT(&cq->waiting);
	__atomic_store_n((uint32_t *)(void *)c->db + 2u * qid + 1, 0, __ATOMIC_RELAXED);
	c->cqs[qid] = cq;
	return 0;
}

static uint16_t delete_cq(struct vfu_conn *c, const struct nvmft_cmd *cmd)
{
	uint16_t qid = le32toh(cmd->cdw10) & 0xffff;
	struct vfu_cq *cq;

	if (qid == 0 || qid >= c->nq || c->cqs[qid] == NULL)
		return ST_QID;
	cq = c->cqs[qid];
	if (cq->nr_sqs > 0)
		return ST_QDEL; /* its submission queues go first */
	c->cqs[qid] = NULL;
	vfu_cq_free(c, cq);
	return 0;
}

static uint16_t create_sq(struct vfu_conn *c, struct nvmft_req *req)
{
	const struct nvmft_cmd *cmd = &req->cmd;
	uint32_t cdw10 = le32toh(cmd->cdw10), cdw11 = le32toh(cmd->cdw11);
	uint16_t qid = cdw10 & 0xffff, qsize = cdw10 >> 16, cqid = cdw11 >> 16;
	uint64_t base = le64toh(cmd->dptr.prp.prp1);
	struct vfu_sq *sq;
	const void *ring;
	uint16_t st;

	if (qid == 0 || qid >= c->nq || qid > num_queues(c, false) || c->sqs[qid] != NULL)
		return ST_QID;
	if (cqid == 0 || cqid >= c->nq || c->cqs[cqid] == NULL)
		return ST_CQID;
	if (qsize == 0 || (uint32_t)qsize + 1 > c->ctrlr->max_io_depth)
		return ST_QSIZE;
	if (!(cdw11 & 1))
		return ST_FIELD;
	if (base & (VFU_PAGE - 1))
		return ST_PRP_OFFSET;
	ring = vfu_queue_mem(c, base, ((uint64_t)qsize + 1) * VFU_SQE_SIZE, VFU_DMA_READ);
	if (ring == NULL)
		return ST_FIELD;
	sq = calloc(1, sizeof(*sq));
	if (sq == NULL)
		return ST_INTERNAL;
	nvmft_qpair_init(&sq->qp, c->admin.qp.tr, c->admin.qp.listener);
	sq->c = c;
	if (vfu_sq_alloc_slots(sq, (uint32_t)qsize + 1) < 0) {
		free(sq);
		return ST_INTERNAL;
	}
	if (nvmft_qpair_add_local(&sq->qp, c->admin.qp.pg) < 0) {
		vfu_sq_free_slots(sq);
		free(sq);
		return ST_INTERNAL;
	}
	c->refs++; /* dropped by vfu_sq_free(), also when the core refuses the queue below */
	st = nvmft_ctrlr_add_local_io_qpair(c->ctrlr, &sq->qp, qid, qsize);
	if (st != 0) {
		/* On the group already: the core frees it like any disconnected queue. */
		nvmft_qpair_disconnect(&sq->qp);
		return st;
	}
	sq->qid = qid;
	sq->size = (uint16_t)(qsize + 1);
	sq->iova = base;
	sq->ring = ring;
	sq->cq = c->cqs[cqid];
	sq->cq->nr_sqs++;
	c->sqs[qid] = sq;
	__atomic_store_n((uint32_t *)(void *)c->db + 2u * qid, 0, __ATOMIC_RELAXED);
	sq->live = true;
	TAILQ_INSERT_TAIL(&c->live, sq, link);
	return 0;
}

/* Delete I/O Submission Queue completes once the queue's commands are all back (vfu_sq_free). */
static bool delete_sq(struct vfu_conn *c, struct nvmft_req *req, uint16_t *st)
{
	uint16_t qid = le32toh(req->cmd.cdw10) & 0xffff;
	struct vfu_sq *sq;

	if (qid == 0 || qid >= c->nq || c->sqs[qid] == NULL || c->sqs[qid]->delete_req != NULL) {
		*st = ST_QID;
		return false;
	}
	sq = c->sqs[qid];
	sq->delete_req = req;
	nvmft_qpair_disconnect(&sq->qp);
	return true;
}

/* Map the shadow doorbell and EventIdx buffers, both covering @c->dbbuf_nq queues. */
bool vfu_dbbuf_map(struct vfu_conn *c)
{
	uint64_t bytes = (uint64_t)c->dbbuf_nq * 8;

	c->dbbuf_shadow = vfu_queue_mem(c, c->dbbuf_iova[0], bytes, VFU_DMA_READ | VFU_DMA_WRITE);
	c->dbbuf_eventidx = vfu_queue_mem(c, c->dbbuf_iova[1], bytes, VFU_DMA_READ | VFU_DMA_WRITE);
	if (c->dbbuf_shadow == NULL || c->dbbuf_eventidx == NULL) {
		c->dbbuf_shadow = NULL;
		c->dbbuf_eventidx = NULL;
		return false;
	}
	return true;
}

static uint16_t dbbuf_config(struct vfu_conn *c, const struct nvmft_cmd *cmd)
{
	uint64_t shadow = le64toh(cmd->dptr.prp.prp1), ev = le64toh(cmd->dptr.prp.prp2);
	uint32_t want =
		(num_queues(c, false) > num_queues(c, true) ? num_queues(c, false) : num_queues(c, true)) + 1;
	const uint32_t *bar = (const uint32_t *)(const void *)c->db;

	if (shadow == 0 || ev == 0 || (shadow | ev) & (VFU_PAGE - 1))
		return ST_FIELD;
	/* At least a page each, enough for every queue the controller allows now. */
	c->dbbuf_nq = want < VFU_PAGE / 8 ? VFU_PAGE / 8 : want;
	if (c->dbbuf_nq > c->nq)
		c->dbbuf_nq = c->nq;
	c->dbbuf_iova[0] = shadow;
	c->dbbuf_iova[1] = ev;
	if (!vfu_dbbuf_map(c)) {
		c->dbbuf_set = false;
		return ST_FIELD;
	}
	/* Queues that exist already carry on from their BAR0 doorbells. */
	for (uint32_t qid = 1; qid < c->dbbuf_nq; qid++) {
		for (uint32_t k = 0; k < 2; k++) {
			uint32_t v = c->sqs[qid] != NULL || c->cqs[qid] != NULL ? bar[2 * qid + k] : 0;

			__atomic_store_n(&c->dbbuf_shadow[2 * qid + k], v, __ATOMIC_RELAXED);
			__atomic_store_n(&c->dbbuf_eventidx[2 * qid + k], v, __ATOMIC_RELEASE);
		}
	}
	c->dbbuf_set = true;
	return 0;
}

bool vfu_admin_cmd(struct nvmft_req *req)
{
	struct vfu_conn *c = vfu_sq_of(req->qpair)->c;
	uint16_t st;

	switch (req->cmd.opcode) {
	case nvme_admin_create_cq:
		st = create_cq(c, &req->cmd);
		break;
	case nvme_admin_delete_cq:
		st = delete_cq(c, &req->cmd);
		break;
	case nvme_admin_create_sq:
		st = create_sq(c, req);
		break;
	case nvme_admin_delete_sq:
		if (delete_sq(c, req, &st))
			return true;
		break;
	case nvme_admin_dbbuf:
		st = dbbuf_config(c, &req->cmd);
		break;
	default:
		return false;
	}
	nvmft_req_finish(req, st);
	return true;
}
