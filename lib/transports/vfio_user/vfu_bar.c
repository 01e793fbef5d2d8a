/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * BAR0 and the device state around the queues: register accesses (the
 * core serves CAP, VS, CC, CSTS, AQA, ASQ, ACQ; INTMS/INTMC and doorbell
 * writes that come as messages are handled here), the admin queue mapped
 * when the controller is enabled and dropped after a reset, the function
 * reset, client memory leaving and coming back under the queues, and the
 * per-connection set-up (the doorbell memfd the client maps).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/transport.h"
#include "transports/vfio_user/vfu_internal.h"
#include "util/log.h"

/* ---- Enable, reset ---------------------------------------------------------------------------- */

static void admin_queues_reset(struct vfu_conn *c)
{
	struct vfu_cq *cq = &c->admin_cq;

	vfu_cq_free(c, cq); /* the admin CQ is not freed, only emptied */
	cq->ring = NULL;
	cq->epoch = ++c->epoch_seq; /* anything still in flight is not for the next admin queue */
	c->admin.ring = NULL;
	c->cqs[0] = NULL;
	c->sqs[0] = NULL;
}

int vfu_ctrlr_enable(struct nvmft_ctrlr *ctrlr, bool enable)
{
	struct vfu_conn *c = vfu_conn_of_ctrlr(ctrlr);
	struct vfu_cq *cq = &c->admin_cq;
	uint64_t aqa, asq, acq;
	uint32_t asqs, acqs;
	const void *sring;
	void *cring;

	if (!enable) {
		/* A reset took every I/O queue: their completion queues, doorbells and buffers go too. */
		if (c->enabled && c->tpg != NULL)
			c->tpg->nr_enabled--;
		c->enabled = false;
		for (uint32_t qid = 1; qid < c->nq; qid++) {
			struct vfu_cq *iocq = c->cqs[qid];

			if (iocq == NULL)
				continue;
			c->cqs[qid] = NULL;
			/* An SQ whose freeing the core put off still points here: it frees the CQ. */
			if (iocq->nr_sqs > 0)
				iocq->orphan = true;
			else
				vfu_cq_free(c, iocq);
		}
		admin_queues_reset(c);
		/* A parked AER would complete into the next admin queue. */
		nvmft_ctrlr_abort_aers(ctrlr);
		c->dbbuf_set = false;
		c->dbbuf_shadow = NULL;
		c->dbbuf_eventidx = NULL;
		memset(c->db, 0, c->pci.l.db_size);
		return 0;
	}
	if (nvmft_ctrlr_reg_read(ctrlr, NVME_REG_AQA, 4, &aqa) < 0 ||
	    nvmft_ctrlr_reg_read(ctrlr, NVME_REG_ASQ, 8, &asq) < 0 ||
	    nvmft_ctrlr_reg_read(ctrlr, NVME_REG_ACQ, 8, &acq) < 0)
		return -EINVAL;
	asqs = (uint32_t)(aqa & 0xfff) + 1;
	acqs = (uint32_t)(aqa >> 16 & 0xfff) + 1;
	sring = vfu_queue_mem(c, asq, (uint64_t)asqs * VFU_SQE_SIZE, VFU_DMA_READ);
	cring = vfu_queue_mem(c, acq, (uint64_t)acqs * VFU_CQE_SIZE, VFU_DMA_WRITE);
	if (sring == NULL || cring == NULL || asqs > c->admin.nreqs) {
		nvmft_notice(vfu_log_of(c),
			     "vfio-user: controller %u: admin queue outside the client's memory",
			     ctrlr->cntlid);
		return -EFAULT;
	}
	memset(c->db, 0, 2 * sizeof(uint32_t));
	c->admin.qid = 0;
	c->admin.size = (uint16_t)asqs;
	c->admin.head = 0;
	c->admin.iova = asq;
	c->admin.ring = sring;
	c->admin.cq = cq;
	c->admin.bad_tail = 0;
	cq->qid = 0;
	cq->size = (uint16_t)acqs;
	cq->ien = true;
	cq->iv = 0;
	cq->iova = acq;
	cq->ring = cring;
	cq->tail = 0;
	cq->head = 0;
	cq->phase = 1;
	cq->bad_head = 0;
	cq->epoch = ++c->epoch_seq;
	c->cqs[0] = cq;
	c->sqs[0] = &c->admin;
	c->enabled = true;
	c->tpg->nr_enabled++;
	return 0;
}

void vfu_dev_reset_start(struct vfu_conn *c)
{
	/* The function's registers go back to their reset values; the controller follows. */
	vfu_pci_reset(&c->pci);
	c->intms = 0;
	c->intx_pending = false;
	c->resetting = true;
	c->reset_cc_pending = nvmft_ctrlr_reg_write(c->ctrlr, NVME_REG_CC, 4, 0) == -EAGAIN;
}

bool vfu_dev_reset_done(struct vfu_conn *c)
{
	struct nvmft_ctrlr *ctrlr = c->ctrlr;

	if (!c->resetting)
		return true;
	if (c->reset_cc_pending) {
		if (nvmft_ctrlr_reg_write(ctrlr, NVME_REG_CC, 4, 0) == -EAGAIN)
			return false;
		c->reset_cc_pending = false;
	}
	/* A function reset clears what a controller reset keeps (CSTS.SHST, the admin queue registers). */
	if (c->enabled || nvmft_ctrlr_local_function_reset(ctrlr) != 0)
		return false;
	c->resetting = false;
	return true;
}

/* ---- Client memory coming and going ------------------------------------------------------------- */

static bool hits(bool all, uint64_t iova, uint64_t len, uint64_t qiova, uint64_t qbytes)
{
	return all || (qiova < iova + len && iova < qiova + qbytes);
}

void vfu_queues_unmap(struct vfu_conn *c, uint64_t iova, uint64_t len, bool all)
{
	if (!c->enabled)
		return;
	for (uint32_t qid = 0; qid < c->nq; qid++) {
		struct vfu_sq *sq = c->sqs[qid];
		struct vfu_cq *cq = c->cqs[qid];

		/* Such a queue waits for memory to come back at its address (vfu_queues_remap()). */
		if (sq != NULL && sq->ring != NULL &&
		    hits(all, iova, len, sq->iova, (uint64_t)sq->size * VFU_SQE_SIZE))
			sq->ring = NULL;
		if (cq != NULL && cq->ring != NULL &&
		    hits(all, iova, len, cq->iova, (uint64_t)cq->size * VFU_CQE_SIZE))
			cq->ring = NULL;
	}
	if (c->dbbuf_shadow != NULL && (hits(all, iova, len, c->dbbuf_iova[0], (uint64_t)c->dbbuf_nq * 8) ||
					hits(all, iova, len, c->dbbuf_iova[1], (uint64_t)c->dbbuf_nq * 8))) {
		c->dbbuf_shadow = NULL;
		c->dbbuf_eventidx = NULL;
	}
}

void vfu_queues_remap(struct vfu_conn *c)
{
	if (!c->enabled)
		return;
	for (uint32_t qid = 0; qid < c->nq; qid++) {
		struct vfu_sq *sq = c->sqs[qid];
		struct vfu_cq *cq = c->cqs[qid];

		if (sq != NULL && sq->ring == NULL && !sq->dead)
			sq->ring =
				vfu_queue_mem(c, sq->iova, (uint64_t)sq->size * VFU_SQE_SIZE, VFU_DMA_READ);
		if (cq != NULL && cq->ring == NULL)
			cq->ring =
				vfu_queue_mem(c, cq->iova, (uint64_t)cq->size * VFU_CQE_SIZE, VFU_DMA_WRITE);
	}
	if (c->dbbuf_set && c->dbbuf_shadow == NULL)
		vfu_dbbuf_map(c);
}

/* ---- BAR0 ---------------------------------------------------------------------------------------- */

/* Registers whose 8 bytes may be read or written at once. */
static bool reg64(uint64_t off)
{
	return off == NVME_REG_CAP || off == NVME_REG_ASQ || off == NVME_REG_ACQ;
}

static bool reg_access_ok(uint64_t off, uint32_t len)
{
	return (len == 4 && off % 4 == 0) || (len == 8 && reg64(off));
}

int vfu_bar0_read(struct vfu_conn *c, uint64_t off, void *buf, uint32_t len)
{
	uint64_t v = 0;

	if (off >= VFU_BAR0_DB_OFF) {
		/* Doorbells read back as zero (the value a host reads is vendor specific). */
		if (len % 4 || off % 4)
			return -EINVAL;
		memset(buf, 0, len);
		return 0;
	}
	if (!reg_access_ok(off, len))
		return -EINVAL;
	switch (off) {
	case NVME_REG_INTMS:
	case NVME_REG_INTMC:
		v = c->intms;
		break;
	case NVME_REG_CAP:
	case NVME_REG_CAP + 4:
	case NVME_REG_VS:
	case NVME_REG_CC:
	case NVME_REG_CSTS:
	case NVME_REG_AQA:
	case NVME_REG_ASQ:
	case NVME_REG_ASQ + 4:
	case NVME_REG_ACQ:
	case NVME_REG_ACQ + 4:
		if (nvmft_ctrlr_reg_read(c->ctrlr, (uint32_t)off, (uint8_t)len, &v) < 0)
			return -EINVAL;
		break;
	default:
		/* NSSR (not supported), the CMB and boot partition registers, reserved: zero. */
		v = 0;
		break;
	}
	memcpy(buf, &v, len);
	return 0;
}

/* A write reached a doorbell of a queue that does not exist. */
static void db_bad_register(struct vfu_conn *c, uint32_t idx)
{
	uint32_t qid = idx / 2;
	bool exists = qid < c->nq && ((idx & 1) ? c->cqs[qid] != NULL : c->sqs[qid] != NULL);

	if (!exists && c->ctrlr != NULL && nvmft_ctrlr_ready(c->ctrlr)) {
		nvmft_debug(vfu_log_of(c),
			    "vfio-user: controller %u: write to the doorbell of absent queue %u",
			    c->ctrlr->cntlid, qid);
		nvmft_ctrlr_notify(c->ctrlr, NVMFT_AEN_DB_REG);
	}
}

int vfu_bar0_write(struct vfu_conn *c, uint64_t off, const void *buf, uint32_t len)
{
	uint64_t v = 0;

	if (off >= VFU_BAR0_DB_OFF) {
		if (len % 4 || off % 4)
			return -EINVAL;
		if (off - VFU_BAR0_DB_OFF >= c->pci.l.db_size)
			return 0; /* padding up to the BAR's power-of-two size */
		for (uint32_t i = 0; i < len; i += 4) {
			uint32_t idx = (uint32_t)(off - VFU_BAR0_DB_OFF + i) / 4, d;

			if (idx >= c->pci.l.db_size / 4)
				break;
			memcpy(&d, (const uint8_t *)buf + i, 4);
			__atomic_store_n((uint32_t *)(void *)c->db + idx, d, __ATOMIC_RELEASE);
			db_bad_register(c, idx);
		}
		return 0;
	}
	if (!reg_access_ok(off, len))
		return -EINVAL;
	memcpy(&v, buf, len);
	switch (off) {
	case NVME_REG_INTMS:
		c->intms |= (uint32_t)v;
		return 0;
	case NVME_REG_INTMC:
		c->intms &= ~(uint32_t)v;
		vfu_irq_recheck(c);
		return 0;
	case NVME_REG_CC:
	case NVME_REG_AQA:
	case NVME_REG_ASQ:
	case NVME_REG_ASQ + 4:
	case NVME_REG_ACQ:
	case NVME_REG_ACQ + 4:
		return nvmft_ctrlr_reg_write(c->ctrlr, (uint32_t)off, (uint8_t)len, v);
	default:
		/* Read-only or reserved registers ignore writes, as on hardware. */
		return 0;
	}
}

/* ---- Device set-up ------------------------------------------------------------------------------- */

static int bar_memfd(struct vfu_conn *c)
{
	const struct vfu_pci_layout *l = &c->pci.l;
	void *p;

	c->bar_fd = memfd_create("nvmft-vfio-user-bar0", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (c->bar_fd < 0)
		return -errno;
	/*
	 * The first page stays a hole: the sparse area the client maps starts at
	 * the doorbells' offset in BAR0, which is also their file offset.  Sealed
	 * at its size, so a client cannot shrink it under our mapping.
	 */
	if (ftruncate(c->bar_fd, (off_t)VFU_BAR0_DB_OFF + l->db_size) < 0 ||
	    fcntl(c->bar_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	p = mmap(NULL, l->db_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->bar_fd, VFU_BAR0_DB_OFF);
	if (p == MAP_FAILED)
		return -errno;
	c->db = p;
	return 0;
}

int vfu_dev_init(struct vfu_conn *c)
{
	const struct nvmft_transport_opts *o = &c->admin.qp.tr->opts;
	struct vfu_pci_layout l;
	int rc;

	vfu_dma_init(&c->dma, VFU_MAX_DMA_MAPS);
	c->dma.unsealed_ok = o->allow_unsealed_mem;
	TAILQ_INIT(&c->live);
	TAILQ_INIT(&c->irq_list);
	TAILQ_INIT(&c->admin_cq.waiting);
	c->nq = o->max_qpairs_per_ctrlr;
	vfu_pci_layout(c->nq, &l);
	rc = vfu_pci_init(&c->pci, &l);
	if (rc < 0)
		return rc;
	c->cqs = calloc(c->nq, sizeof(*c->cqs));
	c->sqs = calloc(c->nq, sizeof(*c->sqs));
	c->msix_fds = malloc(sizeof(*c->msix_fds) * l.msix_vectors);
	if (c->cqs == NULL || c->sqs == NULL || c->msix_fds == NULL)
		return -ENOMEM;
	for (uint32_t v = 0; v < l.msix_vectors; v++)
		c->msix_fds[v] = -1;
	c->admin.cq = &c->admin_cq;
	rc = bar_memfd(c);
	if (rc < 0)
		return rc;
	return vfu_sq_alloc_slots(&c->admin, o->max_aq_depth);
}

void vfu_dev_fini(struct vfu_conn *c)
{
	if (c->cqs != NULL) {
		for (uint32_t qid = 1; qid < c->nq; qid++)
			if (c->cqs[qid] != NULL)
				vfu_cq_free(c, c->cqs[qid]);
	}
	free(c->cqs);
	free(c->sqs);
	c->cqs = NULL;
	c->sqs = NULL;
	if (c->msix_fds != NULL)
		for (uint32_t v = 0; v < c->pci.l.msix_vectors; v++)
			if (c->msix_fds[v] >= 0)
				close(c->msix_fds[v]);
	free(c->msix_fds);
	c->msix_fds = NULL;
	if (c->intx_fd >= 0)
		close(c->intx_fd);
	c->intx_fd = -1;
	if (c->db != NULL)
		munmap(c->db, c->pci.l.db_size);
	c->db = NULL;
	if (c->bar_fd >= 0)
		close(c->bar_fd);
	c->bar_fd = -1;
	vfu_dma_fini(&c->dma);
	vfu_pci_fini(&c->pci);
}
