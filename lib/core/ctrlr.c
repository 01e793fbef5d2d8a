/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Controllers: creation at Connect (or by a PCIe-style transport), the
 * register state machine behind Property Get/Set and BAR0 (CC enable,
 * reset, shutdown), keep-alive, asynchronous events, the error log, and
 * teardown.
 *
 * A controller is owned by its admin queue's poll group.  I/O queues on
 * other groups reach it only through @lock (the queue table) and messages;
 * the last queue pair to go drops the last reference and frees it.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/nqn.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/subsystem.h"
#include "core/target.h"
#include "core/transport.h"
#include "util/compiler.h"
#include "util/time.h"

/* CAP.TO in 500 ms units: how long a host waits for CSTS.RDY. */
#define CTRLR_CAP_TO 15u
#define CTRLR_VS 0x00020000u /* NVMe 2.0 */
/* I/O queue entry sizes as powers of two: Identify Controller SQES/CQES allow only these. */
#define CTRLR_IOSQES 6u
#define CTRLR_IOCQES 4u

void nvmft_ctrlr_ref(struct nvmft_ctrlr *ctrlr)
{
	atomic_fetch_add(&ctrlr->refs, 1);
}

void nvmft_ctrlr_unref(struct nvmft_ctrlr *ctrlr)
{
	if (atomic_fetch_sub(&ctrlr->refs, 1) != 1)
		return;
	/* Out of every list by now: any thread may free it. */
	pthread_mutex_destroy(&ctrlr->lock);
	nvmft_subsystem_unref(ctrlr->ss);
	free(ctrlr->qpairs);
	free(ctrlr);
}

static void ctrlr_ka_expired(struct nvmft_timer *t)
{
	struct nvmft_ctrlr *ctrlr = nvmft_container_of(t, struct nvmft_ctrlr, ka_timer);
	uint64_t now = nvmft_now_ms();

	if (ctrlr->kato_ms == 0 || ctrlr->state == NVMFT_CTRLR_DELETING)
		return;
	if (now < ctrlr->ka_deadline_ms) {
		/* Keep Alives moved the deadline; the timer follows lazily. */
		nvmft_pg_timer_arm(ctrlr->pg, &ctrlr->ka_timer, ctrlr->ka_deadline_ms);
		return;
	}
	nvmft_ctrlr_fail(ctrlr, "keep-alive timeout expired");
}

void nvmft_ctrlr_keep_alive(struct nvmft_ctrlr *ctrlr)
{
	if (ctrlr->kato_ms == 0) {
		/* Keep-alive turned off (Set Features): no deadline may stay behind. */
		nvmft_pg_timer_cancel(ctrlr->pg, &ctrlr->ka_timer);
		return;
	}
	ctrlr->ka_deadline_ms = nvmft_now_ms() + ctrlr->kato_ms;
	if (ctrlr->ka_timer.deadline_ms == 0)
		nvmft_pg_timer_arm(ctrlr->pg, &ctrlr->ka_timer, ctrlr->ka_deadline_ms);
}

/* The common part of Connect and nvmft_ctrlr_new_local(): 0, -ENOMEM, -ESHUTDOWN or -EBUSY. */
static int ctrlr_alloc(struct nvmft_subsystem *ss, struct nvmft_qpair *admin, const char *hostnqn,
		       const uint8_t hostid[16], uint32_t kato_ms, struct nvmft_ctrlr **ret)
{
	const struct nvmft_transport_opts *to = &admin->tr->opts;
	struct nvmft_ctrlr *ctrlr;
	int rc;

	ctrlr = calloc(1, sizeof(*ctrlr));
	if (ctrlr == NULL)
		return -ENOMEM;
	ctrlr->max_qpairs = to->max_qpairs_per_ctrlr;
	if (ss->type == NVMFT_SUBTYPE_DISCOVERY)
		ctrlr->max_qpairs = 1;
	ctrlr->qpairs = calloc(ctrlr->max_qpairs, sizeof(*ctrlr->qpairs));
	if (ctrlr->qpairs == NULL) {
		free(ctrlr);
		return -ENOMEM;
	}
	ctrlr->ss = ss;
	ctrlr->pg = admin->pg;
	ctrlr->tr = admin->tr;
	ctrlr->listener = admin->listener;
	memcpy(ctrlr->hostid, hostid, sizeof(ctrlr->hostid));
	strlcpy(ctrlr->hostnqn, hostnqn, sizeof(ctrlr->hostnqn));
	ctrlr->max_io_depth = to->max_queue_depth;
	atomic_init(&ctrlr->refs, 1); /* the admin queue's */
	pthread_mutex_init(&ctrlr->lock, NULL);
	ctrlr->qpairs[0] = admin;
	ctrlr->num_qpairs = 1;

	ctrlr->state = NVMFT_CTRLR_ACTIVE;
	/* MPSMIN = MPSMAX = 0 (4 KiB pages only), AMS 0 (round robin only). */
	ctrlr->cap = (uint64_t)(ctrlr->max_io_depth - 1) | 1ull << 16 /* CQR */ |
		     (uint64_t)CTRLR_CAP_TO << 24 | 1ull << 37 /* CSS: NVM */;
	ctrlr->vs = CTRLR_VS;
	ctrlr->kato_ms = kato_ms;
	ctrlr->ka_timer.fn = ctrlr_ka_expired;
	nvmft_admin_features_init(ctrlr);

	rc = nvmft_subsystem_add_ctrlr(ss, ctrlr);
	if (rc < 0) {
		pthread_mutex_destroy(&ctrlr->lock);
		free(ctrlr->qpairs);
		free(ctrlr);
		return rc;
	}
	nvmft_subsystem_ref(ss);
	TAILQ_INSERT_TAIL(&ctrlr->pg->ctrlrs, ctrlr, pg_link);
	nvmft_ctrlr_keep_alive(ctrlr);
	*ret = ctrlr;
	return 0;
}

uint16_t nvmft_ctrlr_create(struct nvmft_subsystem *ss, struct nvmft_qpair *admin,
			    const struct nvmf_connect_data *data, uint32_t kato_ms,
			    struct nvmft_ctrlr **ret)
{
	int rc = ctrlr_alloc(ss, admin, data->hostnqn, data->hostid, kato_ms, ret);

	switch (rc) {
	case 0:
		return 0;
	case -ENOMEM:
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL);
	case -ESHUTDOWN:
		return NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM);
	default:
		return NVMFT_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_CTRL_BUSY);
	}
}

int nvmft_ctrlr_new_local(struct nvmft_qpair *admin, const char *subnqn, const char *hostnqn,
			  const uint8_t hostid[16], struct nvmft_ctrlr **ret)
{
	struct nvmft_subsystem *ss;
	struct nvmft_ctrlr *ctrlr;
	bool reachable, allowed;
	int rc;

	if (admin == NULL || subnqn == NULL || hostnqn == NULL || hostid == NULL || ret == NULL ||
	    !(admin->tr->ops->caps & NVMFT_TR_CAP_PCIE) || admin->pg == NULL || admin->ctrlr != NULL ||
	    admin->state != NVMFT_QPAIR_UNCONNECTED || !nvmft_nqn_valid(hostnqn, strlen(hostnqn) + 1))
		return -EINVAL;
	ss = nvmft_target_get_subsystem(admin->tr->tgt, subnqn);
	if (ss == NULL)
		return -ENOENT;
	pthread_mutex_lock(&ss->lock);
	reachable = nvmft_subsystem_has_listener_locked(ss, admin->listener);
	allowed = nvmft_subsystem_host_allowed_locked(ss, hostnqn);
	pthread_mutex_unlock(&ss->lock);
	/* The same rules as Connect; a PCIe function has no discovery controller. */
	if (!reachable || ss->type != NVMFT_SUBTYPE_NVM) {
		rc = -ENOENT;
	} else if (!allowed) {
		rc = -EPERM;
	} else {
		/* No Keep Alive Timeout until the host sets the feature. */
		rc = ctrlr_alloc(ss, admin, hostnqn, hostid, 0, &ctrlr);
		if (rc == -ESHUTDOWN)
			rc = -ENOENT;
	}
	nvmft_subsystem_unref(ss);
	if (rc < 0)
		return rc;
	ctrlr->local = true;
	admin->ctrlr = ctrlr;
	/* The admin queue's size and head come from AQA when the host enables the controller. */
	nvmft_qpair_set_active(admin, 0, 0, 0);
	nvmft_stat_add(admin->pg->stats.admin_qpairs, 1);
	nvmft_stat_add(admin->pg->stats.current_admin_qpairs, 1);
	*ret = ctrlr;
	return 0;
}

uint16_t nvmft_ctrlr_add_io_qpair(struct nvmft_ctrlr *ctrlr, struct nvmft_qpair *qp)
{
	uint16_t status = 0;

	pthread_mutex_lock(&ctrlr->lock);
	if (ctrlr->resetting || ctrlr->deleting) {
		status = NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR);
	} else if (qp->qid >= ctrlr->max_qpairs) {
		status = NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM);
	} else if (ctrlr->qpairs[qp->qid] != NULL) {
		/* A host that reconnects a queue must disconnect it first. */
		status = NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM);
	} else {
		ctrlr->qpairs[qp->qid] = qp;
		ctrlr->num_qpairs++;
	}
	pthread_mutex_unlock(&ctrlr->lock);
	return status;
}

uint16_t nvmft_ctrlr_add_local_io_qpair(struct nvmft_ctrlr *ctrlr, struct nvmft_qpair *qp, uint16_t qid,
					uint16_t qsize)
{
	const uint16_t bad_qid = NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_QID_INVALID);
	uint32_t nsqa;
	uint16_t status;

	if (!ctrlr->local || qp->tr != ctrlr->tr || qp->pg == NULL || qp->ctrlr != NULL ||
	    qp->state != NVMFT_QPAIR_UNCONNECTED ||
	    !(__atomic_load_n(&ctrlr->csts, __ATOMIC_RELAXED) & NVMFT_CSTS_RDY))
		return NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR);
	nsqa = (__atomic_load_n(&ctrlr->feat.num_queues, __ATOMIC_RELAXED) & 0xffff) + 1;
	if (qid == 0 || qid > nsqa)
		return bad_qid;
	if (qsize == 0 || (uint32_t)qsize + 1 > ctrlr->max_io_depth)
		return NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_QUEUE_SIZE);
	qp->qid = qid; /* the controller files the queue under it */
	status = nvmft_ctrlr_add_io_qpair(ctrlr, qp);
	if (status != 0) {
		qp->qid = 0;
		/* Out of range or taken: both are an invalid identifier for Create. */
		return status == NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR) ? status : bad_qid;
	}
	nvmft_ctrlr_ref(ctrlr); /* the queue's, dropped by nvmft_ctrlr_remove_qpair() */
	qp->ctrlr = ctrlr;
	/* A new PCIe queue starts with head and tail at entry 0. */
	nvmft_qpair_set_active(qp, qid, qsize, 0);
	nvmft_stat_add(qp->pg->stats.io_qpairs, 1);
	nvmft_stat_add(qp->pg->stats.current_io_qpairs, 1);
	return 0;
}

/* ---- Reset, shutdown, teardown --------------------------------------------------- */

static void ctrlr_quiesced(struct nvmft_ctrlr *ctrlr)
{
	if (ctrlr->state == NVMFT_CTRLR_DELETING)
		return;
	if (ctrlr->shutting_down) {
		ctrlr->csts = (ctrlr->csts & ~NVMFT_CSTS_SHST_MASK) | NVMFT_CSTS_SHST_CMPLT;
	} else {
		/* A reset ends with the controller disabled and its features at defaults. */
		ctrlr->cc = 0;
		ctrlr->csts = 0;
		nvmft_admin_features_init(ctrlr);
		if (ctrlr->tr_enabled) {
			/* The I/O queues are gone: the transport may unmap the admin queue. */
			ctrlr->tr_enabled = false;
			ctrlr->tr->ops->ctrlr_enable(ctrlr, false);
		}
	}
	ctrlr->shutting_down = false;
	ctrlr->state = NVMFT_CTRLR_ACTIVE;
	pthread_mutex_lock(&ctrlr->lock);
	ctrlr->resetting = false;
	pthread_mutex_unlock(&ctrlr->lock);
}

static void ctrlr_quiesced_msg(struct nvmft_msg *msg)
{
	struct nvmft_ctrlr *ctrlr = nvmft_container_of(msg, struct nvmft_ctrlr, msg);

	ctrlr_quiesced(ctrlr);
	nvmft_ctrlr_unref(ctrlr); /* taken when the message was posted */
}

/* Drop every I/O queue; @ctrlr_quiesced runs once the last one is gone. */
static void ctrlr_drop_io_qpairs(struct nvmft_ctrlr *ctrlr)
{
	uint32_t n = 0;

	ctrlr->state = NVMFT_CTRLR_RESETTING;
	pthread_mutex_lock(&ctrlr->lock);
	ctrlr->resetting = true;
	for (uint32_t qid = 1; qid < ctrlr->max_qpairs; qid++)
		if (ctrlr->qpairs[qid] != NULL)
			n++;
	atomic_store(&ctrlr->io_qpairs_closing, n);
	for (uint32_t qid = 1; qid < ctrlr->max_qpairs; qid++)
		if (ctrlr->qpairs[qid] != NULL)
			nvmft_qpair_disconnect_remote(ctrlr->qpairs[qid]);
	pthread_mutex_unlock(&ctrlr->lock);
	if (n == 0)
		ctrlr_quiesced(ctrlr);
}

void nvmft_ctrlr_begin_delete(struct nvmft_ctrlr *ctrlr)
{
	if (ctrlr->state == NVMFT_CTRLR_DELETING)
		return;
	ctrlr->state = NVMFT_CTRLR_DELETING;
	nvmft_pg_timer_cancel(ctrlr->pg, &ctrlr->ka_timer);
	nvmft_subsystem_remove_ctrlr(ctrlr->ss, ctrlr);
	TAILQ_REMOVE(&ctrlr->pg->ctrlrs, ctrlr, pg_link);
	nvmft_ctrlr_abort_aers(ctrlr);
	pthread_mutex_lock(&ctrlr->lock);
	ctrlr->deleting = true;
	for (uint32_t qid = 1; qid < ctrlr->max_qpairs; qid++)
		if (ctrlr->qpairs[qid] != NULL)
			nvmft_qpair_disconnect_remote(ctrlr->qpairs[qid]);
	pthread_mutex_unlock(&ctrlr->lock);
}

void nvmft_ctrlr_remove_qpair(struct nvmft_ctrlr *ctrlr, struct nvmft_qpair *qp)
{
	bool last_of_reset = false;

	pthread_mutex_lock(&ctrlr->lock);
	if (qp->qid < ctrlr->max_qpairs && ctrlr->qpairs[qp->qid] == qp) {
		/* SMART counters are the controller's lifetime, not the queue's. */
		ctrlr->smart_gone.read_cmds += nvmft_stat_read(qp->smart.read_cmds);
		ctrlr->smart_gone.write_cmds += nvmft_stat_read(qp->smart.write_cmds);
		ctrlr->smart_gone.read_bytes += nvmft_stat_read(qp->smart.read_bytes);
		ctrlr->smart_gone.write_bytes += nvmft_stat_read(qp->smart.write_bytes);
		ctrlr->qpairs[qp->qid] = NULL;
		ctrlr->num_qpairs--;
		if (qp->qid != 0 && ctrlr->resetting && !ctrlr->deleting)
			last_of_reset = atomic_fetch_sub(&ctrlr->io_qpairs_closing, 1) == 1;
	}
	pthread_mutex_unlock(&ctrlr->lock);
	if (last_of_reset) {
		nvmft_ctrlr_ref(ctrlr);
		nvmft_pg_post(ctrlr->pg, &ctrlr->msg, ctrlr_quiesced_msg);
	}
	nvmft_ctrlr_unref(ctrlr);
}

void nvmft_ctrlr_fail(struct nvmft_ctrlr *ctrlr, const char *why)
{
	struct nvmft_qpair *admin = ctrlr->qpairs[0];

	if (ctrlr->state == NVMFT_CTRLR_DELETING)
		return;
	nvmft_notice(&ctrlr->pg->tgt->log, "%s: controller %u of %s (host %s): %s", ctrlr->pg->name,
		     ctrlr->cntlid, ctrlr->ss->nqn, ctrlr->hostnqn, why);
	ctrlr->csts |= NVMFT_CSTS_CFS;
	if (admin != NULL)
		nvmft_qpair_disconnect(admin);
	else
		nvmft_ctrlr_begin_delete(ctrlr);
}

/* ---- Properties -------------------------------------------------------------------------- */

uint16_t nvmft_ctrlr_prop_get(struct nvmft_ctrlr *ctrlr, uint32_t offset, uint8_t size, uint64_t *val)
{
	const uint16_t bad = NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);

	switch (offset) {
	case NVME_REG_CAP:
		if (size != 8)
			return bad;
		*val = ctrlr->cap;
		return 0;
	case NVME_REG_VS:
		*val = ctrlr->vs;
		break;
	case NVME_REG_CC:
		*val = ctrlr->cc;
		break;
	case NVME_REG_CSTS:
		*val = ctrlr->csts;
		break;
	case NVME_REG_CAP + 4:
		/* The upper half of CAP, for hosts that read it in two pieces. */
		*val = ctrlr->cap >> 32;
		break;
	default:
		return bad;
	}
	return size == 4 ? 0 : bad;
}

/*
 * What a host may enable a controller with (NVMe base, Controller
 * Configuration): a page size within CAP.MPSMIN..MPSMAX, an arbitration
 * CAP.AMS offers (round robin always), a command set CAP.CSS offers, and
 * the I/O queue entry sizes Identify Controller SQES/CQES allow.  A
 * discovery controller has no I/O queues, and the specification has those
 * two fields zero there while Linux writes 6 and 4 all the same: accept
 * either by not looking.
 */
static bool ctrlr_cc_valid(const struct nvmft_ctrlr *ctrlr, uint32_t cc)
{
	uint64_t cap = ctrlr->cap;
	uint32_t mps = NVME_CC_MPS(cc);
	bool ams_ok, css_ok;

	if (mps < NVME_CAP_MPSMIN(cap) || mps > NVME_CAP_MPSMAX(cap))
		return false;
	switch (NVME_CC_AMS(cc)) {
	case NVME_CC_AMS_RR:
		ams_ok = true;
		break;
	case NVME_CC_AMS_WRRU:
		ams_ok = NVME_CAP_AMS(cap) & NVME_CAP_AMS_WRR;
		break;
	case NVME_CC_AMS_VS:
		ams_ok = NVME_CAP_AMS(cap) & NVME_CAP_AMS_VS;
		break;
	default:
		ams_ok = false;
		break;
	}
	switch (NVME_CC_CSS(cc)) {
	case NVME_CC_CSS_NVM:
		css_ok = NVME_CAP_CSS(cap) & NVME_CAP_CSS_NVM;
		break;
	case NVME_CC_CSS_CSI:
		css_ok = NVME_CAP_CSS(cap) & NVME_CAP_CSS_CSI;
		break;
	case NVME_CC_CSS_ADMIN:
		css_ok = NVME_CAP_CSS(cap) & NVME_CAP_CSS_ADMIN;
		break;
	default:
		css_ok = false;
		break;
	}
	if (!ams_ok || !css_ok)
		return false;
	if (nvmft_ctrlr_is_discovery(ctrlr))
		return true;
	return NVME_CC_IOSQES(cc) == CTRLR_IOSQES && NVME_CC_IOCQES(cc) == CTRLR_IOCQES;
}

/*
 * A local controller's admin queue is what AQA/ASQ/ACQ say: at least two
 * entries each, page-aligned bases.  The transport maps it.
 */
static int ctrlr_enable_local(struct nvmft_ctrlr *ctrlr)
{
	uint32_t asqs = ctrlr->aqa & 0xfff, acqs = (ctrlr->aqa >> 16) & 0xfff;
	struct nvmft_qpair *admin = ctrlr->qpairs[0];

	if (asqs == 0 || acqs == 0 || asqs + 1 > ctrlr->tr->opts.max_aq_depth ||
	    acqs + 1 > ctrlr->tr->opts.max_aq_depth || (ctrlr->asq & 0xfff) || (ctrlr->acq & 0xfff) ||
	    ctrlr->asq == 0 || ctrlr->acq == 0)
		return -EINVAL;
	admin->sqsize = (uint16_t)asqs;
	admin->sqhd = 0;
	return 0;
}

static void ctrlr_write_cc(struct nvmft_ctrlr *ctrlr, uint32_t cc)
{
	const struct nvmft_transport_ops *ops = ctrlr->tr->ops;
	uint32_t old = ctrlr->cc;
	bool en_old = old & NVMFT_CC_EN, en_new = cc & NVMFT_CC_EN;
	uint32_t shn = (cc >> NVME_CC_SHN_SHIFT) & NVME_CC_SHN_MASK;
	uint32_t shn_old = (old >> NVME_CC_SHN_SHIFT) & NVME_CC_SHN_MASK;

	ctrlr->cc = cc;
	if (en_new && !en_old) {
		/* The host sees CSTS.CFS instead of RDY and has to reset (CC.EN = 0) to go on. */
		if (!ctrlr_cc_valid(ctrlr, cc) || (ctrlr->local && ctrlr_enable_local(ctrlr) < 0)) {
			ctrlr->csts |= NVMFT_CSTS_CFS;
			return;
		}
		if (ops->ctrlr_enable != NULL) {
			if (ops->ctrlr_enable(ctrlr, true) < 0) {
				ctrlr->csts |= NVMFT_CSTS_CFS;
				return;
			}
			ctrlr->tr_enabled = true;
		}
		ctrlr->csts |= NVMFT_CSTS_RDY;
		ctrlr->csts &= ~NVMFT_CSTS_SHST_MASK;
	} else if (!en_new && en_old) {
		ctrlr->csts &= ~NVMFT_CSTS_RDY;
		ctrlr->shutting_down = false;
		ctrlr_drop_io_qpairs(ctrlr);
		return;
	}
	if (shn != NVME_CC_SHN_NONE && shn_old == NVME_CC_SHN_NONE && ctrlr->state == NVMFT_CTRLR_ACTIVE) {
		ctrlr->csts = (ctrlr->csts & ~NVMFT_CSTS_SHST_MASK) | NVMFT_CSTS_SHST_OCCUR;
		ctrlr->shutting_down = true;
		ctrlr_drop_io_qpairs(ctrlr);
	}
}

uint16_t nvmft_ctrlr_prop_set(struct nvmft_ctrlr *ctrlr, uint32_t offset, uint8_t size, uint64_t val)
{
	const uint16_t bad = NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);

	if (offset != NVME_REG_CC || size != 4)
		return bad;
	if (ctrlr->state == NVMFT_CTRLR_RESETTING)
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR); /* retry later */
	ctrlr_write_cc(ctrlr, (uint32_t)val);
	return 0;
}

/* One 4-byte half, or all 8 bytes at the register's own offset, of a 64-bit register. */
static int ctrlr_reg64_read(uint64_t reg, uint32_t off, uint8_t size, uint64_t *val)
{
	if (size == 8 && off == 0)
		*val = reg;
	else if (size == 4 && (off == 0 || off == 4))
		*val = (uint32_t)(reg >> (off * 8));
	else
		return -EINVAL;
	return 0;
}

static int ctrlr_reg64_write(uint64_t *reg, uint32_t off, uint8_t size, uint64_t val)
{
	if (size == 8 && off == 0)
		*reg = val;
	else if (size == 4 && (off == 0 || off == 4))
		*reg = (*reg & ~(0xffffffffull << (off * 8))) | (uint64_t)(uint32_t)val << (off * 8);
	else
		return -EINVAL;
	return 0;
}

int nvmft_ctrlr_reg_read(struct nvmft_ctrlr *ctrlr, uint32_t offset, uint8_t size, uint64_t *val)
{
	uint16_t status;

	if (ctrlr == NULL || val == NULL || !ctrlr->local)
		return -EINVAL;
	if (offset < NVME_REG_CAP + 8) /* CAP is at offset 0 */
		return ctrlr_reg64_read(ctrlr->cap, offset - NVME_REG_CAP, size, val);
	if (offset >= NVME_REG_ASQ && offset < NVME_REG_ASQ + 8)
		return ctrlr_reg64_read(ctrlr->asq, offset - NVME_REG_ASQ, size, val);
	if (offset >= NVME_REG_ACQ && offset < NVME_REG_ACQ + 8)
		return ctrlr_reg64_read(ctrlr->acq, offset - NVME_REG_ACQ, size, val);
	if (offset == NVME_REG_AQA && size == 4) {
		*val = ctrlr->aqa;
		return 0;
	}
	status = nvmft_ctrlr_prop_get(ctrlr, offset, size, val);
	return status == 0 ? 0 : -EINVAL;
}

int nvmft_ctrlr_reg_write(struct nvmft_ctrlr *ctrlr, uint32_t offset, uint8_t size, uint64_t val)
{
	uint16_t status;

	if (ctrlr == NULL || !ctrlr->local)
		return -EINVAL;
	if (offset >= NVME_REG_ASQ && offset < NVME_REG_ASQ + 8)
		return ctrlr_reg64_write(&ctrlr->asq, offset - NVME_REG_ASQ, size, val);
	if (offset >= NVME_REG_ACQ && offset < NVME_REG_ACQ + 8)
		return ctrlr_reg64_write(&ctrlr->acq, offset - NVME_REG_ACQ, size, val);
	if (offset == NVME_REG_AQA && size == 4) {
		/* ASQS and ACQS are 12 bits each; the rest is reserved. */
		ctrlr->aqa = (uint32_t)val & 0x0fff0fffu;
		return 0;
	}
	status = nvmft_ctrlr_prop_set(ctrlr, offset, size, val);
	if (status == NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR))
		return -EAGAIN;
	return status == 0 ? 0 : -EINVAL;
}

int nvmft_ctrlr_local_function_reset(struct nvmft_ctrlr *ctrlr)
{
	if (ctrlr == NULL || !ctrlr->local)
		return -EINVAL;
	if (ctrlr->state != NVMFT_CTRLR_ACTIVE || (ctrlr->cc & NVMFT_CC_EN) || (ctrlr->csts & NVMFT_CSTS_RDY) ||
	    (ctrlr->csts & NVMFT_CSTS_SHST_MASK) == NVMFT_CSTS_SHST_OCCUR || ctrlr->tr_enabled)
		return -EAGAIN;
	/*
	 * A shutdown that completed with CC.EN already 0 leaves CSTS.SHST at
	 * 10b, and no CC write can clear it short of enabling again: only a
	 * reset of the whole function gets the registers back to zero.
	 */
	ctrlr->cc = 0;
	ctrlr->csts = 0;
	ctrlr->aqa = 0;
	ctrlr->asq = 0;
	ctrlr->acq = 0;
	ctrlr->shutting_down = false;
	nvmft_admin_features_init(ctrlr);
	return 0;
}

/* ---- Asynchronous events ----------------------------------------------------------------- */

/* Whether the host enabled reports of this kind (Asynchronous Event Configuration). */
static bool ctrlr_aen_enabled(const struct nvmft_ctrlr *ctrlr, uint32_t kind)
{
	switch (kind) {
	case NVMFT_AEN_NS_CHANGED:
		return ctrlr->feat.async_event_config & NVME_FEAT_AE_NAN_MASK << NVME_FEAT_AE_NAN_SHIFT;
	case NVMFT_AEN_DISC_CHANGED:
		return ctrlr->feat.async_event_config & 1u << 31;
	default:
		return true;
	}
}

static void ctrlr_deliver_aens(struct nvmft_ctrlr *ctrlr)
{
	while (ctrlr->nr_aer > 0) {
		uint32_t ready = ctrlr->aen_pending & ~ctrlr->aen_masked;
		uint32_t kind, dw0;
		struct nvmft_req *req;

		if (ready == 0)
			return;
		kind = ready & -ready;
		switch (kind) {
		case NVMFT_AEN_NS_CHANGED:
			dw0 = NVME_AER_NOTICE | NVME_AER_NOTICE_NS_CHANGED << 8 | NVME_LOG_LID_CHANGED_NS << 16;
			break;
		case NVMFT_AEN_DISC_CHANGED:
			dw0 = NVME_AER_NOTICE | NVME_AER_NOTICE_DISC_CHANGED << 8 | NVME_LOG_LID_DISCOVER << 16;
			break;
		case NVMFT_AEN_DB_REG:
			dw0 = NVME_AER_ERROR | NVME_AER_ERROR_INVALID_DB_REG << 8 | NVME_LOG_LID_ERROR << 16;
			break;
		case NVMFT_AEN_DB_VALUE:
			dw0 = NVME_AER_ERROR | NVME_AER_ERROR_INVALID_DB_VAL << 8 | NVME_LOG_LID_ERROR << 16;
			break;
		default:
			dw0 = NVME_AER_ERROR | NVME_LOG_LID_ERROR << 16;
			break;
		}
		ctrlr->aen_pending &= ~kind;
		ctrlr->aen_masked |= (kind & NVMFT_AEN_ERROR_TYPE) ? NVMFT_AEN_ERROR_TYPE : kind;
		req = ctrlr->aer[--ctrlr->nr_aer];
		req->flags &= (uint16_t)~NVMFT_REQ_F_AER;
		req->cpl.dw0 = htole32(dw0);
		nvmft_req_finish(req, 0);
	}
}

bool nvmft_ctrlr_aer_park(struct nvmft_ctrlr *ctrlr, struct nvmft_req *req)
{
	if (ctrlr->nr_aer >= NVMFT_AERL)
		return false;
	req->flags |= NVMFT_REQ_F_AER;
	ctrlr->aer[ctrlr->nr_aer++] = req;
	ctrlr_deliver_aens(ctrlr);
	return true;
}

void nvmft_ctrlr_notify(struct nvmft_ctrlr *ctrlr, uint32_t aen_kind)
{
	/* A masked type is already reported: the host finds this change in the same log. */
	if (ctrlr->state == NVMFT_CTRLR_DELETING || !ctrlr_aen_enabled(ctrlr, aen_kind) ||
	    (ctrlr->aen_masked & aen_kind))
		return;
	ctrlr->aen_pending |= aen_kind;
	ctrlr_deliver_aens(ctrlr);
}

void nvmft_ctrlr_ns_changed(struct nvmft_ctrlr *ctrlr, uint32_t nsid)
{
	uint32_t n = ctrlr->nr_changed_ns;

	/* The log lists each namespace once; past 1024 it only says "many". */
	if (n <= NVMFT_CHANGED_NS_MAX) {
		bool seen = false;

		for (uint32_t i = 0; i < n && i < NVMFT_CHANGED_NS_MAX; i++)
			if (ctrlr->changed_ns[i] == nsid)
				seen = true;
		if (!seen) {
			if (n < NVMFT_CHANGED_NS_MAX)
				ctrlr->changed_ns[n] = nsid;
			ctrlr->nr_changed_ns = n + 1;
		}
	}
	nvmft_ctrlr_notify(ctrlr, NVMFT_AEN_NS_CHANGED);
}

void nvmft_ctrlr_aen_unmask(struct nvmft_ctrlr *ctrlr, uint32_t aen_kind)
{
	ctrlr->aen_masked &= ~aen_kind;
	ctrlr_deliver_aens(ctrlr);
}

void nvmft_ctrlr_abort_aers(struct nvmft_ctrlr *ctrlr)
{
	while (ctrlr->nr_aer > 0) {
		struct nvmft_req *req = ctrlr->aer[--ctrlr->nr_aer];

		req->flags &= (uint16_t)~NVMFT_REQ_F_AER;
		nvmft_req_finish(req, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_QUEUE));
	}
}

void nvmft_ctrlr_log_error(struct nvmft_ctrlr *ctrlr, const struct nvmft_req *req, uint16_t status)
{
	struct nvmft_errlog_entry *e;

	/* Entries are the owner's; failures on other groups' queues are counted there only. */
	if (req->qpair->pg != ctrlr->pg)
		return;
	e = &ctrlr->errlog[ctrlr->errlog_head];
	ctrlr->errlog_head = (ctrlr->errlog_head + 1) % NVMFT_ERRLOG_ENTRIES;
	e->error_count = ++ctrlr->error_count;
	e->sqid = req->qpair->qid;
	e->cid = le16toh(req->cmd.cid);
	e->status = status;
	e->param_loc = 0xffff;
	e->nsid = le32toh(req->cmd.nsid);
	e->lba = req->slba;
}

/* ---- Public introspection ------------------------------------------------------------------- */

NVMFT_EXPORT uint16_t nvmft_ctrlr_get_cntlid(const struct nvmft_ctrlr *ctrlr)
{
	return ctrlr->cntlid;
}

NVMFT_EXPORT const char *nvmft_ctrlr_get_hostnqn(const struct nvmft_ctrlr *ctrlr)
{
	return ctrlr->hostnqn;
}

NVMFT_EXPORT void nvmft_ctrlr_get_hostid(const struct nvmft_ctrlr *ctrlr, uint8_t hostid[16])
{
	memcpy(hostid, ctrlr->hostid, 16);
}

NVMFT_EXPORT uint32_t nvmft_ctrlr_get_kato_ms(const struct nvmft_ctrlr *ctrlr)
{
	return __atomic_load_n(&ctrlr->kato_ms, __ATOMIC_RELAXED);
}

NVMFT_EXPORT uint32_t nvmft_ctrlr_get_num_qpairs(const struct nvmft_ctrlr *ctrlr)
{
	return __atomic_load_n(&ctrlr->num_qpairs, __ATOMIC_RELAXED);
}

NVMFT_EXPORT int nvmft_ctrlr_foreach_qpair(const struct nvmft_ctrlr *ctrlr, nvmft_qpair_iter_fn fn,
					   void *arg)
{
	struct nvmft_ctrlr *c = (struct nvmft_ctrlr *)ctrlr;
	int rc = 0;

	if (ctrlr == NULL || fn == NULL)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	for (uint32_t qid = 0; qid < c->max_qpairs && rc == 0; qid++)
		if (c->qpairs[qid] != NULL)
			rc = fn(arg, c->qpairs[qid]);
	pthread_mutex_unlock(&c->lock);
	return rc;
}
