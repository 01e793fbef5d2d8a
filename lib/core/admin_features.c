/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Get Features and Set Features.
 *
 * No feature is saveable (ONCS bit 4 is clear), so Save fails with
 * "Feature Identifier Not Saveable" and the saved value Get Features reports
 * is the default.  No feature is namespace specific.  Discovery controllers
 * have only Asynchronous Event Configuration and the Keep Alive Timer.
 */
#include <endian.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/transport.h"
#include "util/compiler.h"

#define ST_INVALID_FIELD NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_SGL_LENGTH NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA)
#define ST_CMD_SEQ NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR)
#define ST_NOT_SAVEABLE NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_FEATURE_NOT_SAVEABLE)
#define ST_NOT_PER_NS NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_FEATURE_NOT_PER_NS)

#define FEAT_CDW10_SAVE (1u << 31)
#define FEAT_ERR_DULBE (1u << 16) /* Error Recovery: Deallocated or Unwritten Block Error */
#define FEAT_HOST_BEHAVIOR_LEN 512
#define FEAT_HOST_ID_LEN 16
/* Get Features "supported capabilities" Dword 0: saveable, per namespace, changeable. */
#define FEAT_CAP_CHANGEABLE (1u << 2)
/* Temperature Threshold: TMPSEL 1111b addresses every sensor at once (Set only). */
#define FEAT_TMPSEL_ALL 0xf
#define FEAT_ARB_DEFAULT 6 /* arbitration burst 2^6, the RAB we report */

/* Asynchronous event kinds a host may enable: SMART warnings and namespace notices. */
#define FEAT_AEC_NVM (0xffu | NVME_FEAT_AE_NAN_MASK << NVME_FEAT_AE_NAN_SHIFT)
/* Discovery controllers report only discovery log page changes. */
#define FEAT_AEC_DISC (1u << 31)

static bool feat_supported(const struct nvmft_ctrlr *ctrlr, uint8_t fid)
{
	switch (fid) {
	case NVME_FEAT_FID_ASYNC_EVENT:
	case NVME_FEAT_FID_KATO:
		return true;
	case NVME_FEAT_FID_ARBITRATION:
	case NVME_FEAT_FID_POWER_MGMT:
	case NVME_FEAT_FID_TEMP_THRESH:
	case NVME_FEAT_FID_ERR_RECOVERY:
	case NVME_FEAT_FID_VOLATILE_WC:
	case NVME_FEAT_FID_NUM_QUEUES:
	case NVME_FEAT_FID_IRQ_COALESCE:
	case NVME_FEAT_FID_IRQ_CONFIG:
	case NVME_FEAT_FID_WRITE_ATOMIC:
	case NVME_FEAT_FID_HOST_BEHAVIOR:
	case NVME_FEAT_FID_HOST_ID:
		return !nvmft_ctrlr_is_discovery(ctrlr);
	default:
		return false;
	}
}

/* Host Identifier is fixed by Connect on fabrics; only a PCIe-like transport lets a host set it. */
static bool feat_host_id_settable(const struct nvmft_ctrlr *ctrlr)
{
	return ctrlr->tr->ops->caps & NVMFT_TR_CAP_PCIE;
}

static uint32_t feat_max_queues(const struct nvmft_ctrlr *ctrlr)
{
	/* 0's based count of I/O queues: everything but the admin queue. */
	return ctrlr->max_qpairs > 1 ? ctrlr->max_qpairs - 2 : 0;
}

static bool feat_io_queues_exist(struct nvmft_ctrlr *ctrlr)
{
	bool exist;

	pthread_mutex_lock(&ctrlr->lock);
	exist = ctrlr->num_qpairs > 1;
	pthread_mutex_unlock(&ctrlr->lock);
	return exist;
}

void nvmft_admin_features_init(struct nvmft_ctrlr *ctrlr)
{
	struct nvmft_ctrlr_features *f = &ctrlr->feat;

	memset(f, 0, sizeof(*f));
	f->arbitration = FEAT_ARB_DEFAULT;
	f->temp_over[0] = NVMFT_WCTEMP_K;
	for (size_t i = 1; i < NVMFT_ARRAY_SIZE(f->temp_over); i++)
		f->temp_over[i] = 0xffff;
	/* Enabled whenever a namespace has a cache; Get reports 0 while none does. */
	f->volatile_wc = true;
	f->num_queues = feat_max_queues(ctrlr) * 0x10001u;
}

/* Dword 0 of Get Features for the features without a data structure. */
static uint16_t feat_value(struct nvmft_ctrlr *ctrlr, uint8_t fid, uint32_t cdw11, bool dflt,
			   uint32_t *dw0)
{
	const struct nvmft_ctrlr_features *f = &ctrlr->feat;

	switch (fid) {
	case NVME_FEAT_FID_ARBITRATION:
		*dw0 = dflt ? FEAT_ARB_DEFAULT : f->arbitration;
		return 0;
	case NVME_FEAT_FID_POWER_MGMT:
		*dw0 = dflt ? 0 : f->power_mgmt;
		return 0;
	case NVME_FEAT_FID_TEMP_THRESH: {
		uint32_t tmpsel = cdw11 >> NVME_FEAT_TT_TMPSEL_SHIFT & NVME_FEAT_TT_TMPSEL_MASK;
		uint32_t thsel = cdw11 >> NVME_FEAT_TT_THSEL_SHIFT & NVME_FEAT_TT_THSEL_MASK;
		uint16_t th;

		/* Only the composite temperature exists (no sensors in the SMART log). */
		if (tmpsel != 0 || thsel > 1)
			return ST_INVALID_FIELD;
		if (thsel == 0)
			th = dflt ? NVMFT_WCTEMP_K : f->temp_over[0];
		else
			th = dflt ? 0 : f->temp_under[0];
		*dw0 = th | tmpsel << NVME_FEAT_TT_TMPSEL_SHIFT | thsel << NVME_FEAT_TT_THSEL_SHIFT;
		return 0;
	}
	case NVME_FEAT_FID_ERR_RECOVERY:
		*dw0 = dflt ? 0 : f->error_recovery;
		return 0;
	case NVME_FEAT_FID_VOLATILE_WC:
		*dw0 = nvmft_admin_vwc_present(ctrlr) && (dflt || f->volatile_wc) ? 1 : 0;
		return 0;
	case NVME_FEAT_FID_NUM_QUEUES:
		*dw0 = dflt ? feat_max_queues(ctrlr) * 0x10001u : f->num_queues;
		return 0;
	case NVME_FEAT_FID_IRQ_COALESCE:
		*dw0 = dflt ? 0 : f->irq_coalescing;
		return 0;
	case NVME_FEAT_FID_IRQ_CONFIG: {
		uint32_t iv = cdw11 & NVME_FEAT_ICFG_IV_MASK;

		/* One vector per queue at most; coalescing is never applied (CD reads 0). */
		if (iv >= ctrlr->max_qpairs)
			return ST_INVALID_FIELD;
		*dw0 = iv;
		return 0;
	}
	case NVME_FEAT_FID_WRITE_ATOMIC:
		*dw0 = dflt ? 0 : f->write_atomicity;
		return 0;
	case NVME_FEAT_FID_ASYNC_EVENT:
		*dw0 = dflt ? 0 : f->async_event_config;
		return 0;
	case NVME_FEAT_FID_KATO:
		*dw0 = dflt ? NVMFT_KATO_DEFAULT_MS : ctrlr->kato_ms;
		return 0;
	default:
		*dw0 = 0;
		return 0;
	}
}

static bool feat_changeable(const struct nvmft_ctrlr *ctrlr, uint8_t fid)
{
	return fid != NVME_FEAT_FID_HOST_ID || feat_host_id_settable(ctrlr);
}

/* Bytes the command moves for @fid, by direction and Host Identifier's EXHID. */
static uint32_t feat_data_len(uint8_t fid, uint32_t cdw11)
{
	switch (fid) {
	case NVME_FEAT_FID_HOST_BEHAVIOR:
		return FEAT_HOST_BEHAVIOR_LEN;
	case NVME_FEAT_FID_HOST_ID:
		return (cdw11 & NVME_FEAT_HOSTID_EXHID_MASK) ? FEAT_HOST_ID_LEN : 8;
	default:
		return 0;
	}
}

uint16_t nvmft_admin_features_parse(struct nvmft_req *req)
{
	struct nvmft_ctrlr *ctrlr = req->qpair->ctrlr;
	uint32_t cdw10 = le32toh(req->cmd.cdw10);
	uint32_t cdw11 = le32toh(req->cmd.cdw11);
	uint32_t nsid = le32toh(req->cmd.nsid);
	uint8_t fid = cdw10 & 0xff;
	void (*exec)(struct nvmft_req *req);
	uint32_t len;

	if (!feat_supported(ctrlr, fid))
		return ST_INVALID_FIELD;
	if (req->cmd.opcode == nvme_admin_set_features) {
		if (cdw10 & FEAT_CDW10_SAVE)
			return ST_NOT_SAVEABLE;
		if (nsid != 0 && nsid != NVME_NSID_ALL)
			return ST_NOT_PER_NS;
		len = feat_data_len(fid, cdw11);
		exec = nvmft_admin_set_features;
	} else {
		uint32_t sel = cdw10 >> 8 & 0x7;

		if (sel > NVME_GET_FEATURES_SEL_SUPPORTED)
			return ST_INVALID_FIELD;
		/* A fabrics host ID is 128 bits; the 64-bit form does not exist there. */
		if (fid == NVME_FEAT_FID_HOST_ID && !(cdw11 & NVME_FEAT_HOSTID_EXHID_MASK))
			return ST_INVALID_FIELD;
		/* Capabilities come back in Dword 0 only. */
		len = sel == NVME_GET_FEATURES_SEL_SUPPORTED ? 0 : feat_data_len(fid, cdw11);
		exec = nvmft_admin_get_features;
	}
	if (req->length != len)
		return ST_SGL_LENGTH;
	req->execute = exec;
	return 0;
}

void nvmft_admin_get_features(struct nvmft_req *req)
{
	struct nvmft_ctrlr *ctrlr = req->qpair->ctrlr;
	uint32_t cdw10 = le32toh(req->cmd.cdw10);
	uint32_t cdw11 = le32toh(req->cmd.cdw11);
	uint8_t fid = cdw10 & 0xff;
	uint32_t sel = cdw10 >> 8 & 0x7;
	bool dflt = sel != NVME_GET_FEATURES_SEL_CURRENT; /* saved == default: nothing is saved */
	uint32_t dw0 = 0;
	uint16_t st = 0;

	if (sel == NVME_GET_FEATURES_SEL_SUPPORTED) {
		dw0 = feat_changeable(ctrlr, fid) ? FEAT_CAP_CHANGEABLE : 0;
	} else if (fid == NVME_FEAT_FID_HOST_BEHAVIOR) {
		uint8_t data[FEAT_HOST_BEHAVIOR_LEN] = { 0 };
		uint32_t hb = dflt ? 0 : ctrlr->feat.host_behavior;

		for (int i = 0; i < 4; i++)
			data[i] = (uint8_t)(hb >> (8 * i));
		nvmft_req_copy_to_iov(req, 0, data, sizeof(data));
	} else if (fid == NVME_FEAT_FID_HOST_ID) {
		const uint8_t *id = ctrlr->hostid;

		if (feat_host_id_settable(ctrlr))
			id = ctrlr->host_id_ext;
		nvmft_req_copy_to_iov(req, 0, id, FEAT_HOST_ID_LEN);
		dw0 = NVME_FEAT_HOSTID_EXHID_MASK;
	} else {
		st = feat_value(ctrlr, fid, cdw11, dflt, &dw0);
	}
	if (st == 0)
		req->cpl.dw0 = htole32(dw0);
	nvmft_req_finish(req, st);
}

static uint16_t set_temp(struct nvmft_ctrlr *ctrlr, uint32_t cdw11)
{
	uint32_t tmpsel = cdw11 >> NVME_FEAT_TT_TMPSEL_SHIFT & NVME_FEAT_TT_TMPSEL_MASK;
	uint32_t thsel = cdw11 >> NVME_FEAT_TT_THSEL_SHIFT & NVME_FEAT_TT_THSEL_MASK;
	uint16_t th = cdw11 & NVME_FEAT_TT_TMPTH_MASK;

	if ((tmpsel != 0 && tmpsel != FEAT_TMPSEL_ALL) || thsel > 1)
		return ST_INVALID_FIELD;
	if (thsel == 0)
		ctrlr->feat.temp_over[0] = th;
	else
		ctrlr->feat.temp_under[0] = th;
	return 0;
}

static uint16_t set_num_queues(struct nvmft_req *req, uint32_t cdw11)
{
	struct nvmft_ctrlr *ctrlr = req->qpair->ctrlr;
	uint32_t nsqr = cdw11 & NVME_FEAT_NRQS_NSQR_MASK;
	uint32_t ncqr = cdw11 >> NVME_FEAT_NRQS_NCQR_SHIFT & NVME_FEAT_NRQS_NCQR_MASK;
	uint32_t max = feat_max_queues(ctrlr);

	/* 0's based: FFFFh would be 65536 queues, which no controller has. */
	if (nsqr == 0xffff || ncqr == 0xffff)
		return ST_INVALID_FIELD;
	/* Allocation is fixed once any I/O queue exists (until the next reset). */
	if (feat_io_queues_exist(ctrlr))
		return ST_CMD_SEQ;
	ctrlr->feat.num_queues = NVMFT_MIN(nsqr, max) | NVMFT_MIN(ncqr, max) << 16;
	ctrlr->feat.num_queues_set = true;
	req->cpl.dw0 = htole32(ctrlr->feat.num_queues);
	return 0;
}

static uint16_t set_kato(struct nvmft_ctrlr *ctrlr, uint32_t kato)
{
	/* Rounded up to the KAS granularity, as the host will see it in Get Features. */
	if (kato > UINT32_MAX - (NVMFT_KAS_MS - 1))
		kato = UINT32_MAX / NVMFT_KAS_MS * NVMFT_KAS_MS;
	else
		kato = NVMFT_DIV_ROUND_UP(kato, NVMFT_KAS_MS) * NVMFT_KAS_MS;
	__atomic_store_n(&ctrlr->kato_ms, kato, __ATOMIC_RELAXED);
	nvmft_ctrlr_keep_alive(ctrlr);
	return 0;
}

static uint16_t set_host_behavior(struct nvmft_req *req)
{
	uint8_t data[FEAT_HOST_BEHAVIOR_LEN];

	if (nvmft_req_copy_from_iov(req, 0, data, sizeof(data)) != sizeof(data))
		return ST_SGL_LENGTH;
	/*
	 * ACRE (byte 0) and ETDAS (byte 1) are the host's to choose; LBAFEE
	 * (byte 2) needs extended LBA formats, which are not offered, and
	 * the rest is reserved.
	 */
	if (data[0] > 1 || data[1] > 1)
		return ST_INVALID_FIELD;
	for (size_t i = 2; i < sizeof(data); i++)
		if (data[i] != 0)
			return ST_INVALID_FIELD;
	req->qpair->ctrlr->feat.host_behavior = (uint32_t)data[0] | (uint32_t)data[1] << 8;
	return 0;
}

static uint16_t set_host_id(struct nvmft_req *req, uint32_t cdw11)
{
	struct nvmft_ctrlr *ctrlr = req->qpair->ctrlr;

	if (!feat_host_id_settable(ctrlr) || feat_io_queues_exist(ctrlr))
		return ST_CMD_SEQ;
	if (!(cdw11 & NVME_FEAT_HOSTID_EXHID_MASK))
		return ST_INVALID_FIELD;
	if (nvmft_req_copy_from_iov(req, 0, ctrlr->host_id_ext, FEAT_HOST_ID_LEN) !=
	    FEAT_HOST_ID_LEN)
		return ST_SGL_LENGTH;
	return 0;
}

static uint16_t set_feature(struct nvmft_req *req, uint8_t fid, uint32_t cdw11)
{
	struct nvmft_ctrlr *ctrlr = req->qpair->ctrlr;
	struct nvmft_ctrlr_features *f = &ctrlr->feat;

	switch (fid) {
	case NVME_FEAT_FID_ARBITRATION:
		f->arbitration = cdw11 & 0xffffff07u; /* bits 7:3 are reserved */
		return 0;
	case NVME_FEAT_FID_POWER_MGMT:
		/* One power state (NPSS 0) and no workload hints. */
		if (cdw11 & 0xff)
			return ST_INVALID_FIELD;
		f->power_mgmt = 0;
		return 0;
	case NVME_FEAT_FID_TEMP_THRESH:
		return set_temp(ctrlr, cdw11);
	case NVME_FEAT_FID_ERR_RECOVERY:
		/* DULBE needs NSFEAT bit 2, which no namespace reports. */
		if (cdw11 & FEAT_ERR_DULBE)
			return ST_INVALID_FIELD;
		f->error_recovery = cdw11 & NVME_FEAT_ERROR_RECOVERY_TLER_MASK;
		return 0;
	case NVME_FEAT_FID_VOLATILE_WC:
		if (!nvmft_admin_vwc_present(ctrlr))
			return ST_INVALID_FIELD;
		f->volatile_wc = cdw11 & NVME_FEAT_VWC_WCE_MASK;
		return 0;
	case NVME_FEAT_FID_NUM_QUEUES:
		return set_num_queues(req, cdw11);
	case NVME_FEAT_FID_IRQ_COALESCE:
		f->irq_coalescing = cdw11 & 0xffff;
		return 0;
	case NVME_FEAT_FID_IRQ_CONFIG:
		/* Coalescing is never applied, so disabling it per vector cannot be honoured. */
		if ((cdw11 & NVME_FEAT_ICFG_IV_MASK) >= ctrlr->max_qpairs ||
		    (cdw11 >> NVME_FEAT_ICFG_CD_SHIFT & NVME_FEAT_ICFG_CD_MASK))
			return ST_INVALID_FIELD;
		return 0;
	case NVME_FEAT_FID_WRITE_ATOMIC:
		f->write_atomicity = cdw11 & NVME_FEAT_WA_DN_MASK;
		return 0;
	case NVME_FEAT_FID_ASYNC_EVENT:
		/* Kinds this controller never reports are dropped, so Get shows what is on. */
		f->async_event_config =
			cdw11 & (nvmft_ctrlr_is_discovery(ctrlr) ? FEAT_AEC_DISC : FEAT_AEC_NVM);
		return 0;
	case NVME_FEAT_FID_KATO:
		return set_kato(ctrlr, cdw11);
	case NVME_FEAT_FID_HOST_BEHAVIOR:
		return set_host_behavior(req);
	case NVME_FEAT_FID_HOST_ID:
		return set_host_id(req, cdw11);
	default:
		return ST_INVALID_FIELD;
	}
}

void nvmft_admin_set_features(struct nvmft_req *req)
{
	uint32_t cdw10 = le32toh(req->cmd.cdw10);

	nvmft_req_finish(req, set_feature(req, cdw10 & 0xff, le32toh(req->cmd.cdw11)));
}
