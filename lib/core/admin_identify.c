/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Identify: every CNS value a Linux, SPDK or Windows host asks an NVMe over
 * Fabrics I/O or discovery controller for.
 *
 * Namespace state lives in the subsystem's table under ss->lock; each
 * command copies what it needs while holding the lock and builds the 4 KiB
 * answer afterwards, so the lock is never held across a data copy.
 */
#include <endian.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <nvmft/version.h>

#include "backends/backend.h"
#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/ns.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/subsystem.h"
#include "core/transport.h"
#include "util/compiler.h"

#define ST_INVALID_FIELD NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_INVALID_NS NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS)

/* Host memory pages are 4 KiB (CAP.MPSMIN = 0), the unit of MDTS. */
#define ID_MPS_SHIFT 12
/* NVMe 2.0.0 in the layout of the VS register. */
#define ID_VER_2_0 0x00020000u

/* What one namespace looks like to Identify, copied under ss->lock. */
struct ns_snap {
	bool active;
	bool read_only;
	uint8_t block_shift;
	uint32_t caps;
	uint32_t optimal_io_blocks;
	uint64_t num_blocks;
	uint8_t uuid[16];
	uint8_t nguid[16];
	uint8_t eui64[8];
};

union id_buf {
	struct nvme_id_ctrl ctrl;
	struct nvme_id_ns ns;
	struct nvme_nvm_id_ns nvm_ns;
	struct nvme_id_ctrl_nvm nvm_ctrl;
	struct nvme_id_independent_id_ns indep;
	struct nvme_ns_list list;
	struct nvme_id_iocs iocs;
	uint8_t raw[NVME_IDENTIFY_DATA_SIZE];
};

static void pad_ascii(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	for (; n < size && src[n] != '\0'; n++)
		dst[n] = src[n];
	memset(dst + n, ' ', size - n);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* The namespace a host may see under @nsid, or NULL.  ss->lock held. */
static const struct nvmft_ns *active_ns_locked(const struct nvmft_subsystem *ss, uint32_t nsid)
{
	const struct nvmft_ns *ns;

	if (nsid == 0 || nsid > ss->max_nsid || ss->ns == NULL)
		return NULL;
	ns = ss->ns[nsid - 1];
	if (ns == NULL || !ns->visible || ns->removing)
		return NULL;
	return ns;
}

/*
 * Look @nsid up for a command that names one namespace: Invalid Namespace
 * for 0 and anything past the subsystem's range (FFFFFFFFh included: no
 * Namespace Management, so no "common capabilities" answer), otherwise a
 * snapshot that may be inactive.
 */
static uint16_t ns_lookup(struct nvmft_ctrlr *ctrlr, uint32_t nsid, struct ns_snap *snap)
{
	struct nvmft_subsystem *ss = ctrlr->ss;
	const struct nvmft_ns *ns;

	memset(snap, 0, sizeof(*snap));
	if (nsid == 0 || nsid > ss->max_nsid)
		return ST_INVALID_NS;
	pthread_mutex_lock(&ss->lock);
	ns = active_ns_locked(ss, nsid);
	if (ns != NULL) {
		snap->active = true;
		snap->read_only = ns->read_only;
		snap->block_shift = ns->block_shift;
		snap->caps = ns->caps;
		snap->num_blocks = ns->num_blocks;
		snap->optimal_io_blocks = ns->be != NULL ? ns->be->optimal_io_blocks : 0;
		memcpy(snap->uuid, ns->uuid, sizeof(snap->uuid));
		memcpy(snap->nguid, ns->nguid, sizeof(snap->nguid));
		memcpy(snap->eui64, ns->eui64, sizeof(snap->eui64));
	}
	pthread_mutex_unlock(&ss->lock);
	return 0;
}

bool nvmft_admin_vwc_present(struct nvmft_ctrlr *ctrlr)
{
	/*
	 * Always present: hosts read Identify Controller once, so a namespace
	 * with a volatile cache added later would never see a Flush otherwise.
	 * Namespaces without one complete Flush at once (io.c).
	 */
	(void)ctrlr;
	return true;
}

/* MDTS as a power of two of 4 KiB pages; 0 would mean "no limit". */
static uint8_t id_mdts(uint32_t max_io_size)
{
	uint32_t pages = max_io_size >> ID_MPS_SHIFT;
	uint8_t m = 0;

	if (max_io_size == 0)
		return 0;
	while (m < 31 && (2u << m) <= pages)
		m++;
	/* One page cannot be expressed (0 is "unlimited"); transports allow at least two. */
	return m == 0 ? 1 : m;
}

void nvmft_ctrlr_identify(struct nvmft_ctrlr *ctrlr, struct nvme_id_ctrl *cd)
{
	struct nvmft_subsystem *ss = ctrlr->ss;
	struct nvmft_transport *tr = ctrlr->tr;
	uint32_t maxcmd = ctrlr->max_io_depth;

	memset(cd, 0, sizeof(*cd));
	pad_ascii(cd->sn, sizeof(cd->sn), ss->sn);
	pad_ascii(cd->mn, sizeof(cd->mn), ss->mn);
	pad_ascii(cd->fr, sizeof(cd->fr), NVMFT_VERSION_STRING);
	cd->rab = 6;
	cd->mdts = tr != NULL ? id_mdts(tr->opts.max_io_size) : 0;
	cd->cntlid = htole16(ctrlr->cntlid);
	cd->ver = htole32(ctrlr->vs != 0 ? ctrlr->vs : ID_VER_2_0);
	cd->ctratt = htole32(NVME_CTRL_CTRATT_128_ID);
	cd->acl = 3;
	cd->aerl = NVMFT_AERL - 1;
	cd->elpe = NVMFT_ERRLOG_ENTRIES - 1;
	cd->npss = 0;
	cd->kas = htole16(NVMFT_KAS_MS / 100);
	cd->sqes = 0x66;
	cd->cqes = 0x44;
	cd->maxcmd = htole16(maxcmd > 0xffff ? 0xffff : (uint16_t)maxcmd);
	memcpy(cd->subnqn, ss->nqn, strnlen(ss->nqn, sizeof(ss->nqn)));
	cd->ofcs = htole16(NVME_CTRL_OFCS_DISCONNECT);

	if (nvmft_ctrlr_is_discovery(ctrlr)) {
		cd->cntrltype = NVME_CTRL_CNTRLTYPE_DISCOVERY;
		cd->oaes = htole32(NVME_CTRL_OAES_DL);
		cd->lpa = NVME_CTRL_LPA_EXTENDED;
	} else {
		cd->cntrltype = NVME_CTRL_CNTRLTYPE_IO;
		/* Any number of hosts (controllers) through any number of listeners (ports). */
		cd->cmic = NVME_CTRL_CMIC_MULTI_PORT | NVME_CTRL_CMIC_MULTI_CTRL;
		cd->oaes = htole32(NVME_CTRL_OAES_NA);
		/* One firmware slot, read-only. */
		cd->frmw = NVME_CTRL_FRMW_1ST_RO | (1 << 1);
		cd->lpa = NVME_CTRL_LPA_CMD_EFFECTS | NVME_CTRL_LPA_EXTENDED;
		cd->avscc = NVME_CTRL_AVSCC_AVS;
		cd->wctemp = htole16(NVMFT_WCTEMP_K);
		cd->cctemp = htole16(NVMFT_CCTEMP_K);
		cd->nn = htole32(ss->max_nsid);
		/* io.c emulates what a backend lacks, so these hold for every namespace. */
		cd->oncs = htole16(NVME_CTRL_ONCS_COMPARE | NVME_CTRL_ONCS_DSM |
				   NVME_CTRL_ONCS_WRITE_ZEROES);
		cd->fuses = htole16(NVME_CTRL_FUSES_COMPARE_AND_WRITE);
		/* Bits 2:1 = 11b: Flush to NSID FFFFFFFFh flushes every namespace (io.c). */
		cd->vwc = nvmft_admin_vwc_present(ctrlr) ? NVME_CTRL_VWC_PRESENT | 3u << 1 : 0;
	}

	if (tr != NULL && tr->ops != NULL && tr->ops->cdata_init != NULL)
		tr->ops->cdata_init(tr, cd);
}

static void put_u128_le(uint8_t dst[16], uint64_t lo, uint64_t hi)
{
	for (int i = 0; i < 8; i++) {
		dst[i] = (uint8_t)(lo >> (8 * i));
		dst[8 + i] = (uint8_t)(hi >> (8 * i));
	}
}

static void fill_id_ns(const struct ns_snap *s, struct nvme_id_ns *id)
{
	uint32_t opt = s->optimal_io_blocks;

	id->nsze = htole64(s->num_blocks);
	id->ncap = htole64(s->num_blocks);
	id->nuse = htole64(s->num_blocks);
	if (s->caps & NVMFT_BACKEND_CAP_DEALLOCATE)
		id->nsfeat |= NVME_NS_FEAT_THIN;
	if (opt > 0 && opt <= 0x10000) {
		id->nsfeat |= NVME_NS_FEAT_IO_OPT;
		id->npwg = htole16((uint16_t)(opt - 1));
		id->npwa = htole16((uint16_t)(opt - 1));
		id->npdg = htole16((uint16_t)(opt - 1));
		id->npda = htole16((uint16_t)(opt - 1));
		id->nows = htole16((uint16_t)(opt - 1));
	}
	if (opt > 0 && opt <= 0xffff)
		id->noiob = htole16((uint16_t)opt);
	id->nlbaf = 0;
	id->flbas = 0;
	/* Any host may attach: every controller of the subsystem sees it. */
	id->nmic = NVME_NS_NMIC_SHARED;
	if (s->caps & NVMFT_BACKEND_CAP_DEALLOC_ZEROES) {
		/* Deallocated blocks read as zeroes, so Write Zeroes may deallocate. */
		id->dlfeat = NVME_NS_DLFEAT_RB_ALL_0S | NVME_NS_DLFEAT_WRITE_ZEROES;
	}
	put_u128_le(id->nvmcap, s->num_blocks << s->block_shift,
		    s->block_shift != 0 ? s->num_blocks >> (64 - s->block_shift) : 0);
	if (s->read_only)
		id->nsattr = NVME_NS_NSATTR_WRITE_PROTECTED;
	memcpy(id->nguid, s->nguid, sizeof(id->nguid));
	memcpy(id->eui64, s->eui64, sizeof(id->eui64));
	id->lbaf[0].ds = s->block_shift;
}

static size_t put_desc(uint8_t *buf, size_t off, uint8_t type, const void *nid, uint8_t len)
{
	struct nvme_ns_id_desc *d = (struct nvme_ns_id_desc *)(buf + off);

	d->nidt = type;
	d->nidl = len;
	memcpy(d->nid, nid, len);
	return off + sizeof(*d) + len;
}

static void fill_desc_list(const struct ns_snap *s, uint8_t *buf)
{
	const uint8_t csi = NVME_CSI_NVM;
	size_t off = 0;

	if (!all_zero(s->eui64, sizeof(s->eui64)))
		off = put_desc(buf, off, NVME_NIDT_EUI64, s->eui64, NVME_NIDT_EUI64_LEN);
	if (!all_zero(s->nguid, sizeof(s->nguid)))
		off = put_desc(buf, off, NVME_NIDT_NGUID, s->nguid, NVME_NIDT_NGUID_LEN);
	if (!all_zero(s->uuid, sizeof(s->uuid)))
		off = put_desc(buf, off, NVME_NIDT_UUID, s->uuid, NVME_NIDT_UUID_LEN);
	put_desc(buf, off, NVME_NIDT_CSI, &csi, NVME_NIDT_CSI_LEN);
	/* The rest of the buffer is zero: an NIDL of 0 ends the list. */
}

static void fill_indep(const struct ns_snap *s, struct nvme_id_independent_id_ns *id)
{
	if (!s->active)
		return;
	id->nmic = NVME_NS_NMIC_SHARED;
	if (s->read_only)
		id->nsattr = NVME_NS_NSATTR_WRITE_PROTECTED;
	/* Namespace Ready: hosts skip a namespace that does not say so. */
	id->nstat = 1;
}

/* NSIDs above @after that are active, ascending, at most 1024. */
static uint16_t fill_active_list(struct nvmft_ctrlr *ctrlr, uint32_t after, struct nvme_ns_list *l)
{
	struct nvmft_subsystem *ss = ctrlr->ss;
	unsigned int n = 0;

	if (after >= NVME_NSID_ALL - 1)
		return ST_INVALID_NS;
	pthread_mutex_lock(&ss->lock);
	for (uint32_t nsid = after + 1; nsid <= ss->max_nsid && n < NVME_ID_NS_LIST_MAX; nsid++) {
		if (active_ns_locked(ss, nsid) != NULL)
			l->ns[n++] = htole32(nsid);
		if (nsid == UINT32_MAX)
			break;
	}
	pthread_mutex_unlock(&ss->lock);
	return 0;
}

static uint16_t identify_nvm(struct nvmft_req *req, uint8_t cns, uint8_t csi, union id_buf *buf)
{
	struct nvmft_ctrlr *ctrlr = req->qpair->ctrlr;
	uint32_t nsid = le32toh(req->cmd.nsid);
	struct ns_snap snap;
	uint16_t st;

	switch (cns) {
	case NVME_IDENTIFY_CNS_NS:
		st = ns_lookup(ctrlr, nsid, &snap);
		if (st == 0 && snap.active)
			fill_id_ns(&snap, &buf->ns);
		return st;
	case NVME_IDENTIFY_CNS_CTRL:
		nvmft_ctrlr_identify(ctrlr, &buf->ctrl);
		return 0;
	case NVME_IDENTIFY_CNS_NS_ACTIVE_LIST:
		return fill_active_list(ctrlr, nsid, &buf->list);
	case NVME_IDENTIFY_CNS_NS_DESC_LIST:
		st = ns_lookup(ctrlr, nsid, &snap);
		if (st != 0)
			return st;
		if (!snap.active)
			return ST_INVALID_NS;
		fill_desc_list(&snap, buf->raw);
		return 0;
	case NVME_IDENTIFY_CNS_CSI_NS:
		if (csi != NVME_CSI_NVM)
			return ST_INVALID_FIELD;
		/* No protection information or extended formats: all zero, even when active. */
		return ns_lookup(ctrlr, nsid, &snap);
	case NVME_IDENTIFY_CNS_CSI_CTRL:
		if (csi != NVME_CSI_NVM)
			return ST_INVALID_FIELD;
		/*
		 * VSL, WZSL, WUSL, DMRL, DMRSL and DMSL all 0: no limits beyond
		 * MDTS and the 256 ranges a DSM command can carry.
		 */
		return 0;
	case NVME_IDENTIFY_CNS_CSI_NS_ACTIVE_LIST:
		if (csi != NVME_CSI_NVM)
			return ST_INVALID_FIELD;
		return fill_active_list(ctrlr, nsid, &buf->list);
	case NVME_IDENTIFY_CNS_CSI_INDEPENDENT_ID_NS:
		st = ns_lookup(ctrlr, nsid, &snap);
		if (st == 0)
			fill_indep(&snap, &buf->indep);
		return st;
	case NVME_IDENTIFY_CNS_COMMAND_SET_STRUCTURE:
		/* One I/O command set combination: NVM only. */
		buf->iocs.iocsc[0] = htole64(1ull << NVME_CSI_NVM);
		return 0;
	default:
		return ST_INVALID_FIELD;
	}
}

void nvmft_admin_identify(struct nvmft_req *req)
{
	union id_buf buf;
	uint32_t cdw10 = le32toh(req->cmd.cdw10);
	uint8_t cns = cdw10 & 0xff;
	uint8_t csi = le32toh(req->cmd.cdw11) >> 24;
	uint16_t st;

	memset(&buf, 0, sizeof(buf));
	if (nvmft_ctrlr_is_discovery(req->qpair->ctrlr)) {
		/* A discovery controller has no namespaces: only CNS 01h applies. */
		if (cns == NVME_IDENTIFY_CNS_CTRL) {
			nvmft_ctrlr_identify(req->qpair->ctrlr, &buf.ctrl);
			st = 0;
		} else {
			st = ST_INVALID_FIELD;
		}
	} else {
		st = identify_nvm(req, cns, csi, &buf);
	}
	if (st == 0)
		nvmft_req_copy_to_iov(req, 0, buf.raw, sizeof(buf.raw));
	nvmft_req_finish(req, st);
}
