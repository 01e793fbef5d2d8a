/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Get Log Page for I/O controllers (and the Error Information log of the
 * discovery controller; its own log page is in discovery.c).
 *
 * Every log is built whole into a small buffer, then the window the host
 * asked for (LPO, NUMD) is copied out and the rest of its buffer zeroed.
 * Nothing is sized by host values: the largest log here is 4 KiB.
 */
#include <endian.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nvmft/version.h>

#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/transport.h"
#include "util/compiler.h"

#define ST_INVALID_FIELD NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_INVALID_LOG NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_INVALID_LOG_PAGE)

#define LOG_BUF_SIZE 4096
/* A temperature that never moves: 300 K (27 C). */
#define LOG_TEMP_K 300
/* SMART data units are thousands of 512-byte units. */
#define LOG_DATA_UNIT (512u * 1000u)

/* Get Log Page Dword 10 and 14 fields. */
#define LOG_CDW10_RAE (1u << 15)
#define LOG_CDW14_OT (1u << 23)

struct log_page {
	uint8_t lid;
	bool discovery;          /* also served by discovery controllers */
	uint16_t size;
	uint16_t (*fill)(struct nvmft_req *req, uint8_t *buf);
	uint32_t aen;            /* NVMFT_AEN_* unmasked when read with RAE clear */
};

static void put_u128_le(uint8_t dst[16], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		dst[i] = (uint8_t)(v >> (8 * i));
	memset(dst + 8, 0, 8);
}

static uint16_t fill_supported(struct nvmft_req *req, uint8_t *buf);

static uint16_t fill_error(struct nvmft_req *req, uint8_t *buf)
{
	struct nvmft_ctrlr *ctrlr = req->qpair->ctrlr;
	struct nvme_error_log_page *out = (struct nvme_error_log_page *)buf;
	const struct nvmft_errlog_entry *e[NVMFT_ERRLOG_ENTRIES];
	unsigned int n = 0;

	/* Newest first: error counts are unique and increase, 0 marks an empty slot. */
	for (unsigned int i = 0; i < NVMFT_ERRLOG_ENTRIES; i++) {
		const struct nvmft_errlog_entry *cur = &ctrlr->errlog[i];
		unsigned int j;

		if (cur->error_count == 0)
			continue;
		for (j = n; j > 0 && e[j - 1]->error_count < cur->error_count; j--)
			e[j] = e[j - 1];
		e[j] = cur;
		n++;
	}
	for (unsigned int i = 0; i < n; i++) {
		out[i].error_count = htole64(e[i]->error_count);
		out[i].sqid = htole16(e[i]->sqid);
		out[i].cmdid = htole16(e[i]->cid);
		out[i].status_field = nvmft_status_to_wire(e[i]->status);
		out[i].parm_error_location = htole16(e[i]->param_loc);
		out[i].lba = htole64(e[i]->lba);
		out[i].nsid = htole32(e[i]->nsid);
	}
	return 0;
}

/* Bytes moved by the controller's I/O queues; admin data is not host data. */
/* Host read/write commands and their data: queues gone plus queues alive. */
static void smart_counts(struct nvmft_ctrlr *ctrlr, struct nvmft_smart_counts *c)
{
	pthread_mutex_lock(&ctrlr->lock);
	*c = ctrlr->smart_gone;
	for (uint32_t qid = 1; qid < ctrlr->max_qpairs; qid++) {
		const struct nvmft_qpair *qp = ctrlr->qpairs[qid];

		if (qp == NULL)
			continue;
		c->read_cmds += nvmft_stat_read(qp->smart.read_cmds);
		c->write_cmds += nvmft_stat_read(qp->smart.write_cmds);
		c->read_bytes += nvmft_stat_read(qp->smart.read_bytes);
		c->write_bytes += nvmft_stat_read(qp->smart.write_bytes);
	}
	pthread_mutex_unlock(&ctrlr->lock);
}

static uint16_t fill_smart(struct nvmft_req *req, uint8_t *buf)
{
	struct nvmft_ctrlr *ctrlr = req->qpair->ctrlr;
	struct nvme_smart_log *s = (struct nvme_smart_log *)buf;
	uint32_t nsid = le32toh(req->cmd.nsid);
	struct nvmft_smart_counts c;

	/* Not kept per namespace (LPA bit 0 clear): only the controller-wide view exists. */
	if (nsid != 0 && nsid != NVME_NSID_ALL)
		return ST_INVALID_FIELD;
	if (LOG_TEMP_K >= ctrlr->feat.temp_over[0] || LOG_TEMP_K <= ctrlr->feat.temp_under[0])
		s->critical_warning |= NVME_SMART_CRIT_TEMPERATURE;
	s->temperature[0] = LOG_TEMP_K & 0xff;
	s->temperature[1] = LOG_TEMP_K >> 8;
	s->avail_spare = 100;
	s->spare_thresh = 10;
	smart_counts(ctrlr, &c);
	/* Only Read/Compare and Write count: not Connect data or DSM range lists. */
	put_u128_le(s->data_units_read, NVMFT_DIV_ROUND_UP(c.read_bytes, LOG_DATA_UNIT));
	put_u128_le(s->data_units_written, NVMFT_DIV_ROUND_UP(c.write_bytes, LOG_DATA_UNIT));
	put_u128_le(s->host_reads, c.read_cmds);
	put_u128_le(s->host_writes, c.write_cmds);
	put_u128_le(s->num_err_log_entries, ctrlr->error_count);
	return 0;
}

static uint16_t fill_fw_slot(struct nvmft_req *req, uint8_t *buf)
{
	struct nvme_firmware_slot *fw = (struct nvme_firmware_slot *)buf;
	const char *fr = NVMFT_VERSION_STRING;
	size_t n = 0;

	(void)req;
	fw->afi = 1; /* slot 1 active, nothing pending */
	/* Same text as Identify Controller FR: ASCII, space padded. */
	for (; n < sizeof(fw->frs[0]) && fr[n] != '\0'; n++)
		fw->frs[0][n] = fr[n];
	memset(fw->frs[0] + n, ' ', sizeof(fw->frs[0]) - n);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static uint16_t fill_changed_ns(struct nvmft_req *req, uint8_t *buf)
{
	struct nvmft_ctrlr *ctrlr = req->qpair->ctrlr;
	struct nvme_ns_list *l = (struct nvme_ns_list *)buf;
	uint32_t n = ctrlr->nr_changed_ns;

	if (n > NVMFT_CHANGED_NS_MAX) {
		/* More than the list holds: the host rescans everything. */
		l->ns[0] = htole32(NVME_NSID_ALL);
		return 0;
	}
	for (uint32_t i = 0; i < n; i++)
		l->ns[i] = ctrlr->changed_ns[i];
	qsort(l->ns, n, sizeof(l->ns[0]), cmp_u32);
	for (uint32_t i = 0; i < n; i++)
		l->ns[i] = htole32(l->ns[i]);
	return 0;
}

static uint16_t fill_effects(struct nvmft_req *req, uint8_t *buf)
{
	static const uint8_t admin[] = {
		nvme_admin_get_log_page, nvme_admin_identify, nvme_admin_abort_cmd,
		nvme_admin_set_features, nvme_admin_get_features, nvme_admin_async_event,
		nvme_admin_keep_alive,
	};
	static const uint8_t pcie_admin[] = {
		nvme_admin_delete_sq, nvme_admin_create_sq, nvme_admin_delete_cq,
		nvme_admin_create_cq, nvme_admin_dbbuf,
	};
	struct nvme_cmd_effects_log *fx = (struct nvme_cmd_effects_log *)buf;
	const uint32_t csupp = NVME_CMD_EFFECTS_CSUPP;
	const uint32_t lbcc = NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC;
	const struct nvmft_transport *tr = req->qpair->tr;
	uint8_t csi = le32toh(req->cmd.cdw14) >> 24;

	if (csi != NVME_CSI_NVM)
		return ST_INVALID_FIELD;
	for (size_t i = 0; i < NVMFT_ARRAY_SIZE(admin); i++)
		fx->acs[admin[i]] = htole32(csupp);
	if (tr->ops->caps & NVMFT_TR_CAP_PCIE)
		for (size_t i = 0; i < NVMFT_ARRAY_SIZE(pcie_admin); i++)
			fx->acs[pcie_admin[i]] = htole32(csupp);
	fx->iocs[nvme_cmd_flush] = htole32(csupp);
	fx->iocs[nvme_cmd_write] = htole32(lbcc);
	fx->iocs[nvme_cmd_read] = htole32(csupp);
	fx->iocs[nvme_cmd_compare] = htole32(csupp);
	fx->iocs[nvme_cmd_write_zeroes] = htole32(lbcc);
	fx->iocs[nvme_cmd_dsm] = htole32(lbcc);
	return 0;
}

static const struct log_page log_pages[] = {
	{ NVME_LOG_LID_SUPPORTED_LOG_PAGES, false, 1024, fill_supported, 0 },
	{ NVME_LOG_LID_ERROR, true, NVMFT_ERRLOG_ENTRIES * sizeof(struct nvme_error_log_page),
	  fill_error, NVMFT_AEN_ERROR_TYPE },
	{ NVME_LOG_LID_SMART, false, sizeof(struct nvme_smart_log), fill_smart, 0 },
	{ NVME_LOG_LID_FW_SLOT, false, sizeof(struct nvme_firmware_slot), fill_fw_slot, 0 },
	{ NVME_LOG_LID_CHANGED_NS, false, sizeof(struct nvme_ns_list), fill_changed_ns,
	  NVMFT_AEN_NS_CHANGED },
	{ NVME_LOG_LID_CMD_EFFECTS, false, sizeof(struct nvme_cmd_effects_log), fill_effects, 0 },
};

static uint16_t fill_supported(struct nvmft_req *req, uint8_t *buf)
{
	__le32 *lids = (__le32 *)buf;

	(void)req;
	for (size_t i = 0; i < NVMFT_ARRAY_SIZE(log_pages); i++)
		lids[log_pages[i].lid] = htole32(1); /* LSUPP; no index offsets */
	return 0;
}

void nvmft_admin_get_log_page(struct nvmft_req *req)
{
	struct nvmft_ctrlr *ctrlr = req->qpair->ctrlr;
	uint32_t cdw10 = le32toh(req->cmd.cdw10);
	uint8_t lid = cdw10 & 0xff;
	uint64_t offset = (uint64_t)le32toh(req->cmd.cdw13) << 32 | le32toh(req->cmd.cdw12);
	const struct log_page *lp = NULL;
	uint8_t buf[LOG_BUF_SIZE] __attribute__((aligned(8)));
	size_t n = 0;
	uint16_t st;

	for (size_t i = 0; i < NVMFT_ARRAY_SIZE(log_pages); i++)
		if (log_pages[i].lid == lid)
			lp = &log_pages[i];
	if (lp == NULL || (nvmft_ctrlr_is_discovery(ctrlr) && !lp->discovery)) {
		nvmft_req_finish(req, ST_INVALID_LOG);
		return;
	}
	/* Byte offsets only (OT clear), dword aligned, and not past the end. */
	if ((le32toh(req->cmd.cdw14) & LOG_CDW14_OT) || (offset & 3) || offset > lp->size) {
		nvmft_req_finish(req, ST_INVALID_FIELD);
		return;
	}
	memset(buf, 0, lp->size);
	st = lp->fill(req, buf);
	if (st != 0) {
		nvmft_req_finish(req, st);
		return;
	}
	if (offset < lp->size) {
		n = NVMFT_MIN(lp->size - (size_t)offset, (size_t)req->length);
		n = nvmft_req_copy_to_iov(req, 0, buf + offset, n);
	}
	nvmft_req_zero_iov(req, n);

	/*
	 * The changed namespace list covers changes since it was last read,
	 * whatever RAE says; RAE only decides whether the event stays masked.
	 */
	if (lid == NVME_LOG_LID_CHANGED_NS)
		ctrlr->nr_changed_ns = 0;
	if (!(cdw10 & LOG_CDW10_RAE) && lp->aen != 0)
		nvmft_ctrlr_aen_unmask(ctrlr, lp->aen);
	nvmft_req_finish(req, 0);
}
