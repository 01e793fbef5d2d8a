/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The discovery controller: Identify (controller only), Get Log Page
 * (the discovery log and the error log), Get/Set Features (asynchronous
 * event configuration and keep-alive timer), Keep Alive and Asynchronous
 * Event Request.  Everything else is an invalid opcode here.
 *
 * The discovery log lists, for the asking host, one entry per listener of
 * the discovery subsystem itself (SUBTYPE 3, "current discovery
 * subsystem") and one per (NVM subsystem, listener) the host may connect
 * to.  It is collected under the target lock and each subsystem's lock into
 * an array sized by what exists, never by what the host asks for, and then
 * formatted by a pure function that a fuzzer can drive on its own.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/subsystem.h"
#include "core/target.h"
#include "core/transport.h"
#include "util/compiler.h"

#define ST_INVALID_OPCODE NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE)
#define ST_INVALID_FIELD NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_INTERNAL NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL)

#define DISC_HDR_SIZE sizeof(struct nvmf_discovery_log)
#define DISC_ENTRY_SIZE sizeof(struct nvmf_disc_log_entry)
/* Entries beyond this cannot be addressed by a 64-bit log page offset. */
#define DISC_MAX_ENTRIES ((UINT64_MAX - DISC_HDR_SIZE) / DISC_ENTRY_SIZE)
/* The smallest Admin Submission Queue a discovery entry may advertise. */
#define DISC_MIN_ASQSZ 32

#define LOG_CDW10_RAE (1u << 15)
#define LOG_CDW14_OT (1u << 23)

static_assert(sizeof(struct nvmf_discovery_log) == 1024, "discovery log header is 1024 bytes");

struct disc_vec {
	struct nvmf_disc_log_entry *e;
	uint64_t n;
	uint64_t cap;
};

uint64_t nvmft_discovery_log_format(uint64_t genctr, const struct nvmf_disc_log_entry *entries,
				    uint64_t nr, uint64_t offset, void *dst, size_t len)
{
	struct nvmf_discovery_log hdr;
	uint8_t *d = dst;
	uint64_t size;
	size_t done = 0;

	if (nr > DISC_MAX_ENTRIES)
		nr = DISC_MAX_ENTRIES;
	size = DISC_HDR_SIZE + nr * DISC_ENTRY_SIZE;
	memset(&hdr, 0, sizeof(hdr));
	hdr.genctr = htole64(genctr);
	hdr.numrec = htole64(nr);
	hdr.recfmt = htole16(0);

	while (done < len && offset < size && size - offset > done) {
		uint64_t pos = offset + done;
		const uint8_t *src;
		uint64_t avail;
		size_t n;

		if (pos < DISC_HDR_SIZE) {
			src = (const uint8_t *)&hdr + pos;
			avail = DISC_HDR_SIZE - pos;
		} else {
			uint64_t idx = (pos - DISC_HDR_SIZE) / DISC_ENTRY_SIZE;
			uint64_t in = (pos - DISC_HDR_SIZE) % DISC_ENTRY_SIZE;

			src = (const uint8_t *)&entries[idx] + in;
			avail = DISC_ENTRY_SIZE - in;
		}
		n = (size_t)NVMFT_MIN(avail, (uint64_t)(len - done));
		memcpy(d + done, src, n);
		done += n;
	}
	if (done < len)
		memset(d + done, 0, len - done);
	return size;
}

static void pad_ascii(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	for (; n < size && src[n] != '\0'; n++)
		dst[n] = src[n];
	memset(dst + n, ' ', size - n);
}

/* Listeners a host can reach through a Fabrics Connect (not vfio-user). */
static bool disc_listener_usable(const struct nvmft_listener *l)
{
	const struct nvmft_transport_ops *ops = l->tr->ops;

	return !l->destroyed && !(ops->caps & NVMFT_TR_CAP_PCIE) && (uint32_t)ops->type <= 0xff;
}

static struct nvmf_disc_log_entry *disc_push(struct disc_vec *v)
{
	if (v->n == v->cap) {
		uint64_t cap = v->cap ? v->cap * 2 : 8;
		struct nvmf_disc_log_entry *e;

		if (cap > DISC_MAX_ENTRIES || cap > SIZE_MAX / DISC_ENTRY_SIZE)
			return NULL;
		e = realloc(v->e, (size_t)cap * DISC_ENTRY_SIZE);
		if (e == NULL)
			return NULL;
		v->e = e;
		v->cap = cap;
	}
	return &v->e[v->n++];
}

/*
 * One entry.  TRSVCID and TRADDR are ASCII strings, space padded like
 * every ASCII field of the specification; SUBNQN is a NUL-padded UTF-8 NQN.
 */
static int disc_add(struct disc_vec *v, const struct nvmft_listener *l, const char *subnqn,
		    uint8_t subtype)
{
	struct nvmf_disc_log_entry *e = disc_push(v);
	uint32_t asqsz = NVMFT_MIN(NVMFT_MAX(l->tr->opts.max_aq_depth, DISC_MIN_ASQSZ), 0xffffu);

	if (e == NULL)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	e->trtype = (uint8_t)l->tr->ops->type;
	e->adrfam = (uint8_t)l->adrfam;
	e->subtype = subtype;
	e->treq = NVMF_TREQ_NOT_SPECIFIED | NVMF_TREQ_DISABLE_SQFLOW;
	e->portid = htole16(l->portid);
	e->cntlid = htole16(NVMFT_CNTLID_DYNAMIC);
	e->asqsz = htole16((uint16_t)asqsz);
	if (subtype == NVME_NQN_CURR)
		/* Each discovery entry leads to the same log; hosts may stay for AENs. */
		e->eflags = htole16(NVMF_DISC_EFLAGS_DUPRETINFO | NVMF_DISC_EFLAGS_EPCSD);
	pad_ascii(e->trsvcid, sizeof(e->trsvcid), l->trsvcid);
	memcpy(e->subnqn, subnqn, strnlen(subnqn, sizeof(e->subnqn) - 1));
	pad_ascii(e->traddr, sizeof(e->traddr), l->traddr);
	if (l->tr->ops->disc_entry != NULL)
		l->tr->ops->disc_entry((struct nvmft_listener *)l, e);
	return 0;
}

static bool disc_port_match(const struct nvmft_listener *l, const struct nvmft_listener *via)
{
	return via == NULL || l == via;
}

/*
 * Collect what @hostnqn sees, and the generation counter that goes with
 * it.  @via, when set, keeps only the entries of that port (LSP PLEO).
 * Takes tgt->lock, then each subsystem's lock in turn.
 */
static int disc_collect(struct nvmft_target *tgt, const char *hostnqn,
			const struct nvmft_listener *via, struct disc_vec *v, uint64_t *genctr)
{
	struct nvmft_subsystem *ss;
	struct nvmft_transport *tr;
	struct nvmft_listener *l;
	int rc = 0;

	pthread_mutex_lock(&tgt->lock);
	*genctr = atomic_load(&tgt->discovery_genctr);
	/* Walked from poll-group threads: transport.c must change these lists under tgt->lock. */
	TAILQ_FOREACH(tr, &tgt->tr_list, link) {
		TAILQ_FOREACH(l, &tr->listeners, link) {
			if (rc == 0 && disc_listener_usable(l) && disc_port_match(l, via))
				rc = disc_add(v, l, tgt->discovery_nqn, NVME_NQN_CURR);
		}
	}
	TAILQ_FOREACH(ss, &tgt->ss_list, link) {
		struct nvmft_ss_listener *sl;

		if (rc != 0)
			break;
		/* The management thread moves the state on its own; DELETING is final. */
		if (ss->type != NVMFT_SUBTYPE_NVM ||
		    __atomic_load_n(&ss->state, __ATOMIC_RELAXED) == NVMFT_SS_DELETING)
			continue;
		pthread_mutex_lock(&ss->lock);
		if (nvmft_subsystem_host_allowed_locked(ss, hostnqn)) {
			TAILQ_FOREACH(sl, &ss->listeners, link) {
				l = sl->l;
				if (rc == 0 && disc_listener_usable(l) && disc_port_match(l, via))
					rc = disc_add(v, l, ss->nqn, NVME_NQN_NVME);
			}
		}
		pthread_mutex_unlock(&ss->lock);
	}
	pthread_mutex_unlock(&tgt->lock);
	if (rc != 0) {
		free(v->e);
		v->e = NULL;
		v->n = v->cap = 0;
	}
	return rc;
}

int nvmft_discovery_log_read(struct nvmft_target *tgt, const char *hostnqn, uint64_t offset,
			     void *dst, size_t len)
{
	struct disc_vec v = { 0 };
	uint64_t genctr;
	int rc;

	if (tgt == NULL || hostnqn == NULL || (dst == NULL && len != 0))
		return -EINVAL;
	rc = disc_collect(tgt, hostnqn, NULL, &v, &genctr);
	if (rc != 0)
		return rc;
	nvmft_discovery_log_format(genctr, v.e, v.n, offset, dst, len);
	free(v.e);
	return 0;
}

static void disc_get_log_page(struct nvmft_req *req)
{
	struct nvmft_ctrlr *ctrlr = req->qpair->ctrlr;
	uint32_t cdw10 = le32toh(req->cmd.cdw10);
	uint8_t lsp = cdw10 >> 8 & 0x7f;
	uint64_t offset = (uint64_t)le32toh(req->cmd.cdw13) << 32 | le32toh(req->cmd.cdw12);
	const struct nvmft_listener *via;
	struct disc_vec v = { 0 };
	uint64_t genctr, size, pos = 0;

	if ((cdw10 & 0xff) != NVME_LOG_LID_DISCOVER) {
		/* The error log, or Invalid Log Page for anything else. */
		nvmft_admin_get_log_page(req);
		return;
	}
	if ((le32toh(req->cmd.cdw14) & LOG_CDW14_OT) || (offset & 3)) {
		nvmft_req_finish(req, ST_INVALID_FIELD);
		return;
	}
	via = (lsp & NVMF_LOG_DISC_LSP_PLEO) ? ctrlr->listener : NULL;
	if (disc_collect(ctrlr->ss->tgt, ctrlr->hostnqn, via, &v, &genctr) != 0) {
		nvmft_req_finish(req, ST_INTERNAL);
		return;
	}
	size = DISC_HDR_SIZE + v.n * DISC_ENTRY_SIZE;
	if (offset > size) {
		free(v.e);
		nvmft_req_finish(req, ST_INVALID_FIELD);
		return;
	}
	/* Format straight into the host's buffers, one segment at a time. */
	for (int i = 0; i < req->iovcnt && pos < req->length; i++) {
		size_t n = (size_t)NVMFT_MIN((uint64_t)req->iov[i].iov_len, req->length - pos);

		nvmft_discovery_log_format(genctr, v.e, v.n, offset + pos, req->iov[i].iov_base, n);
		pos += n;
	}
	free(v.e);
	if (!(cdw10 & LOG_CDW10_RAE))
		nvmft_ctrlr_aen_unmask(ctrlr, NVMFT_AEN_DISC_CHANGED);
	nvmft_req_finish(req, 0);
}

uint16_t nvmft_discovery_parse(struct nvmft_req *req)
{
	uint16_t st;

	switch (req->cmd.opcode) {
	case nvme_admin_identify:
	case nvme_admin_get_features:
	case nvme_admin_set_features:
	case nvme_admin_keep_alive:
	case nvme_admin_async_event:
		/* Checked as on an I/O controller; the executors narrow CNS, FID and LID. */
		return nvmft_admin_parse(req);
	case nvme_admin_get_log_page:
		st = nvmft_admin_parse(req);
		if (st == 0)
			req->execute = disc_get_log_page;
		return st;
	default:
		return ST_INVALID_OPCODE;
	}
}
