/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NVMe/RDMA transport (lib/transports/rdma/) driven through the fake
 * rdma-core of tests/unit/transports/fake_verbs.h: a target with an RDMA
 * listener, one or two poll groups, a subsystem with a RAM namespace, and
 * up to 6 hosts that send RDMA_CM_REQUESTs with any private data, then
 * capsules of any length (command and in-capsule data, with SGLs, keys,
 * lengths, opcodes and fused pairs from the input), while the input holds
 * the target's work requests back and runs them later, delays their
 * completions past the host's next capsule (late acknowledgements), fails
 * them, breaks queue pairs, completes receive buffers with errors, sends
 * CM events and makes verbs fail.
 *
 * Checks:
 *  - a connection request is rejected with exactly the status the
 *    reference below (written from the NVMe/RDMA transport specification)
 *    gives, or, when the reference has nothing against it, accepted with
 *    CRQSIZE = HSQSIZE + 1 and the RDMA READ depths the host and the
 *    device allow (or refused for lack of resources); private data of
 *    replies has RECFMT 0; the codec on its own (rdma_codec.c: the CM
 *    request, reply private data, READ depths, SGL1 and the fields it
 *    decodes) agrees with the reference on every request and capsule;
 *  - every response is a 16-byte SEND for a command the host has
 *    outstanding; it invalidates the host's key exactly when the command
 *    asked for it with a valid SGL and the device can; a command whose
 *    SGL the reference finds invalid gets exactly the status it names;
 *  - every capsule of 64 bytes or more is answered, or the target closes
 *    the connection (Asynchronous Event Requests and a fused first half
 *    still waiting for its partner may stay open); a shorter one closes it;
 *  - a host that never had more commands outstanding than its queue has
 *    entries (counting a command done when it sees the response) is never
 *    cut off for sending too many;
 *  - no completion queue overflows; after the hosts leave, every connection
 *    and every controller goes; teardown gives back every object the transport made from the
 *    fake (QPs, CQs, SRQs, MRs, PDs, CM ids, channels) and every descriptor.
 *
 * Input: byte 0 (bits 0-1: in-capsule data 0, 512, 4096 or 8192 bytes;
 * bit 2: no shared receive queue; bit 3: shared receive queue of 16
 * entries, else 64; bit 4: two devices; bit 5: a buffer pool of 64 KiB,
 * else 256 KiB; bit 6: two poll groups; bit 7: I/O queues of at most 8
 * entries, else 32), byte 1 (the devices: bits 0-1 max_sge 32, 1, 2, 4;
 * bits 2-3 max_sge_rd as max_sge, 1, 2, 3; bits 4-5 RDMA READ depth 128,
 * 1, 4, 0; bit 6: no remote invalidation; bit 7: small queues), then
 * records, at most 96, each an op byte (low 4 bits the operation, high 4
 * bits its host or argument) and what that operation reads:
 *   0 connect: mode (bit 0 raw private data: length byte and bytes, else
 *     a template: QID byte, size byte, [RECFMT u16], [CNTLID u16]; bit 1
 *     ESTABLISHED after the accept; bits 5-6 device 0-3), IRD, ORD bytes
 *   1, 13-15 capsule to host (arg): kind, flags, a host memory slot, per kind a few bytes,
 *     up to 4 (offset, byte) patches to the SQE, a length mode (exact,
 *     short, longer, any)
 *   2 hold work requests (arg bit 0) / hold back completions (bit 1)
 *   3 run held work requests of host arg (count byte, 0 for all)
 *   4 deliver held-back completions of host arg (count byte)
 *   5 fail the next held work request of host arg (status byte)
 *   6 complete a receive buffer of host arg with an error (status byte)
 *   7 move host arg's QP to the error state
 *   8 a CM event about host arg's connection (type byte)
 *   9 poll (count byte)
 *   10 make a verb fail (which, count)
 *   11 raw capsule bytes to host arg (u16 length, bytes)
 *   12 poll once
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvmft/nvmft.h>

#include "core/transport.h"
#include "fake_verbs.h"
#include "fuzz_common.h"
#include "transports/rdma/rdma_internal.h"
#include "test_util.h"

#define MAX_RECORDS 96
#define MAX_HOSTS 6
#define MAX_CMDS 512
#define HOST_KEY 0x5151u
#define ARENA (256u * 1024)
#define SUBNQN "nqn.2024-01.io.nvmft:fuzz-rdma"
#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:0f0f0f0f-2222-4333-8444-555555555555"
#define NS_BLOCKS 2048u
#define BLOCK 512u
#define GEN_DNR(sc) NVMFT_STATUS_DNR(NVME_SCT_GENERIC, sc)
#define TOO_MANY "more commands in flight than the queue has entries"

static uint8_t host_arena[ARENA] __attribute__((aligned(4096)));

struct cmd_rec {
	uint16_t cid;
	int32_t want;	   /* status the reference predicts, -1: anything */
	bool inv_expected; /* a SEND_WITH_INV of @key must answer it */
	uint32_t key;
	bool aer; /* may stay outstanding */
	bool fused_first;
	bool admin_connect;
};

struct host {
	struct fv_id *id;
	struct fv_qp *qp;
	uint32_t recv_size; /* what a capsule may be */
	/* The request, and what the reference thinks of it. */
	uint16_t ref_sts; /* 0: acceptable */
	uint16_t qid;
	uint32_t depth;
	uint8_t ird, ord;
	int dev;
	bool checked;  /* the CM outcome was checked */
	bool dev_gone; /* its device may have been removed before the request */
	/* Commands sent and not answered yet, as the host sees them. */
	struct cmd_rec cmds[MAX_CMDS];
	uint32_t ncmds;
	bool untracked; /* more than MAX_CMDS: stop checking answers */
	uint16_t next_cid;
	uint32_t out;	 /* capsules sent minus responses seen */
	bool overran;	 /* had more outstanding than the queue has entries */
	bool short_sent; /* a capsule shorter than a command was delivered */
	bool last_fused_first;
	const char *close_why;
	bool close_seen;
	bool broken;		/* the input broke its QP, its receives or its verbs */
};

struct rdma_run {
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg[2];
	int npg;
	struct nvmft_transport *tr;
	struct nvmft_listener *l;
	struct nvmft_subsystem *ss;
	struct nvmft_backend *be;
	struct fv_config cfg;
	struct nvmft_transport_opts to;
	struct host h[MAX_HOSTS];
	int nh;
	uint16_t cntlid; /* from the last admin Connect that succeeded */
	int fds_before;
	bool faults;	     /* verbs were made to fail */
	bool dev_removed[4]; /* a DEVICE_REMOVAL was sent about a connection on it */
};

static struct rdma_run *cur;

/* ---- The reference: what the NVMe/RDMA transport specification says ----------------------- */

static uint16_t le16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* RDMA_CM_REQUEST private data against the target's limits. */
static uint16_t ref_cm_pd(const struct rdma_run *r, const uint8_t *pd, size_t len, uint16_t *qid,
			  uint32_t *depth)
{
	uint16_t hsqsize, hrqsize;
	uint32_t lim;

	if (pd == NULL || len < 32)
		return NVMFT_RDMA_CM_REJ_INVALID_LENGTH;
	if (le16_at(pd) != 0)
		return NVMFT_RDMA_CM_REJ_INVALID_RECFMT;
	*qid = le16_at(pd + 2);
	if (*qid >= r->to.max_qpairs_per_ctrlr)
		return NVMFT_RDMA_CM_REJ_INVALID_QID;
	hrqsize = le16_at(pd + 4);
	hsqsize = le16_at(pd + 6);
	lim = *qid == 0 ? r->to.max_aq_depth : r->to.max_queue_depth;
	/* HSQSIZE is 0's based; a queue of one entry cannot exist. */
	if (hsqsize == 0 || (uint32_t)hsqsize + 1 > lim)
		return NVMFT_RDMA_CM_REJ_INVALID_HSQSIZE;
	*depth = (uint32_t)hsqsize + 1;
	/* The host must be able to take a response for every command it may send. */
	if (hrqsize < *depth)
		return NVMFT_RDMA_CM_REJ_INVALID_HRQSIZE;
	return 0;
}

/* ... and the READ depth: write data is fetched with RDMA READ, someone has to allow one. */
static uint16_t ref_cm(const struct rdma_run *r, const uint8_t *pd, size_t len, uint8_t ird, uint16_t *qid,
		       uint32_t *depth)
{
	uint16_t sts = ref_cm_pd(r, pd, len, qid, depth);

	if (sts == 0 && (ird == 0 || r->cfg.attr.max_qp_init_rd_atom == 0))
		return NVMFT_RDMA_CM_REJ_INVALID_IRD;
	return sts;
}

/* Data direction of a command: bits 1:0 of the opcode, or of FCTYPE for Fabrics commands. */
static unsigned int ref_xfer(const uint8_t *sqe)
{
	return (sqe[0] == NVMFT_OPC_FABRICS ? sqe[4] : sqe[0]) & 3;
}

/*
 * SGL1 of a capsule with @icd bytes after the command: 0 or the generic
 * status (with DNR) the command must get; *@inv when it asks for remote
 * invalidation of *@key.
 */
static uint16_t ref_sgl(const uint8_t *sqe, uint32_t icd, bool *inv, uint32_t *key)
{
	const uint8_t *d = sqe + 24;
	uint8_t type = d[15] >> 4, sub = d[15] & 0xf;
	uint64_t addr = 0;
	uint32_t len = (uint32_t)d[8] | (uint32_t)d[9] << 8 | (uint32_t)d[10] << 16 | (uint32_t)d[11] << 24;

	for (int i = 7; i >= 0; i--)
		addr = addr << 8 | d[i];
	*inv = false;
	*key = (uint32_t)d[11] | (uint32_t)d[12] << 8 | (uint32_t)d[13] << 16 | (uint32_t)d[14] << 24;
	if (type == NVMFT_SGL_TYPE_DATA_BLOCK && sub == NVMFT_SGL_SUBTYPE_OFFSET) {
		/* In-capsule data: the offset, then the whole length, inside what came. */
		if (addr > icd)
			return GEN_DNR(NVME_SC_SGL_INVALID_OFFSET);
		if (len > icd - addr)
			return GEN_DNR(NVME_SC_SGL_INVALID_DATA);
		if (len > 0 && ref_xfer(sqe) != NVMFT_XFER_H2C)
			return GEN_DNR(NVME_SC_SGL_INVALID_TYPE);
		return 0;
	}
	if (type == NVMFT_SGL_TYPE_DATA_BLOCK && sub == NVMFT_SGL_SUBTYPE_ADDRESS && len == 0 && icd == 0)
		return 0; /* no data at all */
	if (type == NVMFT_SGL_TYPE_KEYED_DATA_BLOCK) {
		if (sub != NVMFT_SGL_SUBTYPE_ADDRESS && sub != NVMFT_SGL_SUBTYPE_INVALIDATE_KEY)
			return GEN_DNR(0x17); /* SGL Descriptor Subtype Invalid */
		if (icd > 0)
			return GEN_DNR(NVME_SC_SGL_INVALID_TYPE);
		*inv = sub == NVMFT_SGL_SUBTYPE_INVALIDATE_KEY;
		return 0;
	}
	/* Segments, bit buckets, transport data blocks: MSDBD is 1, none is offered. */
	return GEN_DNR(NVME_SC_SGL_INVALID_TYPE);
}

/* ---- Target ------------------------------------------------------------------------------- */

static bool host_conn_alive(const struct host *h)
{
	return h->id != NULL && !fv_id_destroyed(h->id);
}

/* The target's log: note why each connection closed (its struct is alive while it logs). */
static void log_fn(void *arg, enum nvmft_log_level level, const char *msg)
{
	struct rdma_run *r = arg;

	(void)level;
	fz_trace("log: %s", msg);
	if (strstr(msg, "rdma: closing connection") == NULL)
		return;
	for (int i = 0; i < r->nh; i++) {
		struct host *h = &r->h[i];
		struct rdma_conn *c;

		if (!host_conn_alive(h) || h->close_seen)
			continue;
		c = fv_id_cm(h->id)->context;
		if (c != NULL && c->dead) {
			h->close_seen = true;
			h->close_why = c->why;
		}
	}
}

static void ns_added(void *arg, int status)
{
	*(int *)arg = status;
}

static void env_init(struct rdma_run *r, uint8_t c0, uint8_t c1)
{
	static const uint32_t icds[] = { 0, 512, 4096, 8192 };
	static const int sges[] = { 32, 1, 2, 4 };
	static const int rd_atoms[] = { 128, 1, 4, 0 };
	struct nvmft_listen_opts lo = {
		.size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV4, .traddr = "192.0.2.1", .trsvcid = "0"
	};
	struct nvmft_target_opts tgo;
	struct nvmft_subsystem_opts so;
	struct ibv_device_attr *a = &r->cfg.attr;
	struct nvmft_ns *ns;
	int rc, added = 1;

	memset(&r->cfg, 0, sizeof(r->cfg));
	r->cfg.ndevs = c0 & 0x10 ? 2 : 1;
	a->max_qp_wr = c1 & 0x80 ? 256 : 16384;
	a->max_sge = sges[c1 & 3];
	a->max_sge_rd = (c1 >> 2 & 3) == 0 ? a->max_sge : (c1 >> 2 & 3);
	a->max_cqe = c1 & 0x80 ? 512 : 32767;
	a->max_srq_wr = c1 & 0x80 ? 32 : 16384;
	a->max_qp_rd_atom = rd_atoms[c1 >> 4 & 3];
	a->max_qp_init_rd_atom = rd_atoms[c1 >> 4 & 3];
	a->device_cap_flags = IBV_DEVICE_MEM_MGT_EXTENSIONS;
	r->cfg.no_send_inv = c1 & 0x40;
	fv_reset(&r->cfg);
	fv_host_mem(host_arena, sizeof(host_arena), HOST_KEY);
	r->fds_before = fz_count_fds();

	nvmft_target_opts_init(&tgo, sizeof(tgo));
	tgo.log_fn = log_fn;
	tgo.log_arg = r;
	tgo.log_level = NVMFT_LOG_INFO;
	rc = nvmft_target_new(&tgo, &r->tgt);
	FZ_CHECK(rc == 0, "target: %d", rc);
	r->npg = c0 & 0x40 ? 2 : 1;
	for (int i = 0; i < r->npg; i++) {
		rc = nvmft_poll_group_new(r->tgt, NULL, &r->pg[i]);
		FZ_CHECK(rc == 0, "poll group: %d", rc);
	}
	nvmft_transport_opts_init(NVMFT_TRTYPE_RDMA, &r->to, sizeof(r->to));
	r->to.in_capsule_data_size = icds[c0 & 3];
	r->to.no_srq = c0 & 4;
	r->to.max_srq_depth = c0 & 8 ? 16 : 64;
	r->to.max_queue_depth = c0 & 0x80 ? 8 : 32;
	r->to.max_aq_depth = 32;
	r->to.max_qpairs_per_ctrlr = 4;
	r->to.max_io_size = 65536;
	r->to.buf_pool_bytes = c0 & 0x20 ? 65536 : 256 * 1024;
	r->to.max_qpair_buf_bytes = r->to.buf_pool_bytes;
	rc = nvmft_transport_new(r->tgt, NVMFT_TRTYPE_RDMA, &r->to, &r->tr);
	FZ_CHECK(rc == 0, "transport: %d", rc);
	nvmft_transport_get_opts(r->tr, &r->to, sizeof(r->to));
	rc = nvmft_rdma_set_verbs(r->tr, &fv_verbs);
	FZ_CHECK(rc == 0, "set verbs: %d", rc);
	rc = nvmft_listener_new(r->tr, &lo, &r->l);
	FZ_CHECK(rc == 0, "listener: %d", rc);
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = SUBNQN;
	so.allow_any_host = true;
	rc = nvmft_subsystem_new(r->tgt, &so, &r->ss);
	FZ_CHECK(rc == 0, "subsystem: %d", rc);
	FZ_CHECK(nvmft_subsystem_add_listener(r->ss, r->l) == 0, "add listener");
	rc = nvmft_backend_malloc_new("fuzz-rdma", NS_BLOCKS, BLOCK, &r->be);
	FZ_CHECK(rc == 0, "backend: %d", rc);
	FZ_CHECK(nvmft_ns_add(r->ss, r->be, NULL, ns_added, &added, &ns) == 0, "ns add");
	for (int i = 0; i < 1000 && added == 1; i++) {
		nvmft_target_poll(r->tgt);
		for (int g = 0; g < r->npg; g++)
			nvmft_poll_group_poll(r->pg[g], 0);
	}
	FZ_CHECK(added == 0, "namespace not added: %d", added);
}

static void stopped_cb(void *arg, int status)
{
	(void)status;
	*(bool *)arg = true;
}

static void env_fini(struct rdma_run *r)
{
	char leaks[512];
	int fds;

	for (int i = 0; i < r->npg; i++) {
		bool stopped = false;

		FZ_CHECK(nvmft_poll_group_stop(r->pg[i], stopped_cb, &stopped) == 0, "stop");
		for (int n = 0; n < 100000 && !stopped; n++) {
			nvmft_target_poll(r->tgt);
			for (int g = 0; g < r->npg; g++)
				if (r->pg[g] != NULL)
					nvmft_poll_group_poll(r->pg[g], 0);
		}
		FZ_CHECK(stopped, "poll group %d never stopped", i);
		FZ_CHECK(nvmft_poll_group_free(r->pg[i]) == 0, "poll group free");
		r->pg[i] = NULL;
	}
	nvmft_target_poll(r->tgt);
	nvmft_target_free(r->tgt);
	FZ_CHECK(nvmft_backend_free(r->be) == 0, "backend free");
	FZ_CHECK(fv_leaks(leaks, sizeof(leaks)) == 0, "the transport did not give back: %s", leaks);
	FZ_CHECK(fv_count_cq_overflows() == 0, "%d completion queue overflows", fv_count_cq_overflows());
	fds = fz_count_fds();
	FZ_CHECK(fds == r->fds_before, "descriptors: %d before, %d after", r->fds_before, fds);
}

/* ---- The hosts ----------------------------------------------------------------------------- */

static struct cmd_rec *cmd_find(struct host *h, uint16_t cid)
{
	for (uint32_t i = 0; i < h->ncmds; i++)
		if (h->cmds[i].cid == cid)
			return &h->cmds[i];
	return NULL;
}

static void take_responses(struct rdma_run *r, struct host *h)
{
	struct fv_resp resp;

	if (h->qp == NULL)
		return;
	while (fv_take_resp(h->qp, &resp)) {
		struct nvmft_cpl cpl;
		struct cmd_rec *c;
		uint16_t st;

		FZ_CHECK(resp.len == sizeof(cpl), "a response of %u bytes", resp.len);
		FZ_CHECK(resp.opcode == IBV_WR_SEND || resp.opcode == IBV_WR_SEND_WITH_INV,
			 "response opcode %d", resp.opcode);
		memcpy(&cpl, resp.data, sizeof(cpl));
		st = nvmft_status_from_wire(cpl.status);
		if (h->out > 0)
			h->out--;
		fz_trace("host %d: response cid %u status %#x%s", (int)(h - r->h), le16toh(cpl.cid), st,
			 resp.opcode == IBV_WR_SEND_WITH_INV ? " (invalidating)" : "");
		if (h->untracked)
			continue;
		c = cmd_find(h, le16toh(cpl.cid));
		FZ_CHECK(c != NULL, "host %d: a response for CID %u, which is not outstanding",
			 (int)(h - r->h), le16toh(cpl.cid));
		if (c->want >= 0)
			FZ_CHECK(st == (uint16_t)c->want, "CID %u: status %#x, the SGL called for %#x",
				 c->cid, st, (unsigned int)c->want);
		if (resp.opcode == IBV_WR_SEND_WITH_INV)
			FZ_CHECK(c->inv_expected && resp.invalidate_rkey == c->key,
				 "CID %u: remote invalidation of key %#x not asked for (asked: %d, key %#x)",
				 c->cid, resp.invalidate_rkey, c->inv_expected, c->key);
		else
			FZ_CHECK(!c->inv_expected, "CID %u: the host asked for remote invalidation of %#x",
				 c->cid, c->key);
		if (c->admin_connect && st == 0)
			r->cntlid = le16toh(cpl.connect.cntlid);
		*c = h->cmds[--h->ncmds];
	}
}

static void poll_once(struct rdma_run *r)
{
	nvmft_target_poll(r->tgt);
	for (int g = 0; g < r->npg; g++)
		nvmft_poll_group_poll(r->pg[g], 0);
	for (int i = 0; i < r->nh; i++)
		take_responses(r, &r->h[i]);
}

static void poll_n(struct rdma_run *r, int n)
{
	for (int i = 0; i < n; i++)
		poll_once(r);
}

/* The CM outcome of @h's request, once the target decided. */
static void check_cm(struct rdma_run *r, struct host *h, bool final)
{
	struct rdma_conn_param p;
	uint16_t recfmt = 0xffff, sts = 0, crqsize = 0;
	bool rej = fv_id_rejected(h->id, &recfmt, &sts), acc = fv_id_accepted(h->id, &p, &crqsize);

	if (h->checked)
		return;
	if (!rej && !acc) {
		FZ_CHECK(!final, "host %d: connection request neither accepted nor rejected",
			 (int)(h - r->h));
		return;
	}
	h->checked = true;
	FZ_CHECK(!(rej && acc), "host %d: accepted, then rejected (status %u)", (int)(h - r->h), sts);
	if (rej) {
		FZ_CHECK(recfmt == 0, "reject with RECFMT %u", recfmt);
		/* Lack of resources (a device gone, a verb failing, a limit) may come first. */
		FZ_CHECK(sts == h->ref_sts ||
				 (sts == NVMFT_RDMA_CM_REJ_NO_RESOURCES && (h->ref_sts == 0 || h->dev_gone)),
			 "host %d: rejected with status %u, the reference says %u", (int)(h - r->h), sts,
			 h->ref_sts);
		return;
	}
	FZ_CHECK(h->ref_sts == 0, "host %d: accepted, but the reference rejects with status %u",
		 (int)(h - r->h), h->ref_sts);
	FZ_CHECK(p.private_data_len >= 4 && ((const uint8_t *)p.private_data)[0] == 0 &&
			 ((const uint8_t *)p.private_data)[1] == 0,
		 "accept private data");
	FZ_CHECK(crqsize == h->depth, "CRQSIZE %u for a queue of %u", crqsize, h->depth);
	FZ_CHECK(
		p.initiator_depth ==
			(h->ird < r->cfg.attr.max_qp_init_rd_atom ? h->ird : r->cfg.attr.max_qp_init_rd_atom),
		"initiator depth %u (host %u, device %d)", p.initiator_depth, h->ird,
		r->cfg.attr.max_qp_init_rd_atom);
	FZ_CHECK(p.responder_resources ==
			 (h->ord < r->cfg.attr.max_qp_rd_atom ? h->ord : r->cfg.attr.max_qp_rd_atom),
		 "responder resources %u (host %u, device %d)", p.responder_resources, h->ord,
		 r->cfg.attr.max_qp_rd_atom);
}

/*
 * The codec on its own, against the reference: the CM request as the
 * target will see it, and the private data it would answer with.
 */
static void codec_cm(const struct rdma_run *r, const struct host *h, const uint8_t *pd, size_t len)
{
	struct nvmft_rdma_cm_limits lim = { .max_qid = (uint16_t)(r->to.max_qpairs_per_ctrlr - 1),
					    .max_aq_depth = r->to.max_aq_depth,
					    .max_io_depth = r->to.max_queue_depth };
	struct nvmft_rdma_cm_params out = { 0 };
	struct nvmft_rdma_cm_rep rep;
	struct nvmft_rdma_cm_rej rej;
	uint16_t sts = nvmft_rdma_cm_req_parse(pd, len, &lim, &out), ref, qid = 0;
	uint32_t depth = 0;
	uint8_t rr = 0xee, id = 0xee;

	ref = ref_cm_pd(r, pd, len, &qid, &depth);
	FZ_CHECK(sts == ref, "cm_req_parse: %u, the reference says %u", sts, ref);
	if (sts == 0) {
		FZ_CHECK(out.qid == qid && out.depth == depth && out.hrqsize == le16_at(pd + 4) &&
				 out.cntlid == le16_at(pd + 8),
			 "cm_req_parse fields");
		nvmft_rdma_cm_rep_init(&rep, (uint16_t)depth);
		FZ_CHECK(le16toh(rep.recfmt) == 0 && le16toh(rep.crqsize) == depth, "cm_rep_init");
		for (size_t i = 0; i < sizeof(rep.rsvd); i++)
			FZ_CHECK(rep.rsvd[i] == 0, "cm_rep_init: reserved byte %zu", i);
	}
	nvmft_rdma_cm_rej_init(&rej, ref);
	FZ_CHECK(le16toh(rej.recfmt) == 0 && le16toh(rej.sts) == ref, "cm_rej_init");
	/* READ depths: never more than either side allows, refused only when no READ can be issued. */
	sts = nvmft_rdma_cm_rd_atom(h->ird, h->ord, r->cfg.attr.max_qp_rd_atom,
				    r->cfg.attr.max_qp_init_rd_atom, &rr, &id);
	if (h->ird == 0 || r->cfg.attr.max_qp_init_rd_atom <= 0) {
		FZ_CHECK(sts == NVMFT_RDMA_CM_REJ_INVALID_IRD, "cm_rd_atom: %u", sts);
	} else {
		FZ_CHECK(sts == 0, "cm_rd_atom: %u", sts);
		FZ_CHECK(id >= 1 && id <= h->ird && (int)id <= r->cfg.attr.max_qp_init_rd_atom &&
				 (id == h->ird || (int)id == r->cfg.attr.max_qp_init_rd_atom),
			 "initiator depth %u", id);
		FZ_CHECK(rr <= h->ord && (int)rr <= r->cfg.attr.max_qp_rd_atom &&
				 (rr == h->ord || (int)rr == r->cfg.attr.max_qp_rd_atom),
			 "responder resources %u", rr);
	}
}

static void op_connect(struct rdma_run *r, struct fz *f)
{
	uint8_t mode = fz_u8(f), pd[64];
	struct host *h;
	size_t len;

	if (r->nh == MAX_HOSTS)
		return;
	h = &r->h[r->nh];
	memset(h, 0, sizeof(*h));
	memset(pd, 0, sizeof(pd));
	if (mode & 1) {
		len = fz_u8(f) % 57;
		fz_take(f, pd, len);
	} else {
		uint8_t q = fz_u8(f), sz = fz_u8(f);
		uint16_t qid = q % 5 == 4 ? fz_u16(f) : (uint16_t)(q % 5);
		uint32_t lim = qid == 0 ? r->to.max_aq_depth : r->to.max_queue_depth;
		uint16_t hsq, hrq;

		switch (sz & 3) {
		case 0:
			hsq = (uint16_t)(lim - 1 - (sz >> 6) * (lim / 4));
			break;
		case 1:
			hsq = 0;
			break;
		case 2:
			hsq = fz_u16(f);
			break;
		default:
			hsq = (uint16_t)lim;
			break;
		}
		switch (sz >> 2 & 3) {
		case 0:
			hrq = (uint16_t)(hsq + 1);
			break;
		case 1:
			hrq = hsq;
			break;
		case 2:
			hrq = fz_u16(f);
			break;
		default:
			hrq = 0xffff;
			break;
		}
		if (sz & 0x10) {
			uint16_t recfmt = fz_u16(f);

			pd[0] = (uint8_t)recfmt;
			pd[1] = (uint8_t)(recfmt >> 8);
		}
		pd[2] = (uint8_t)qid;
		pd[3] = (uint8_t)(qid >> 8);
		pd[4] = (uint8_t)hrq;
		pd[5] = (uint8_t)(hrq >> 8);
		pd[6] = (uint8_t)hsq;
		pd[7] = (uint8_t)(hsq >> 8);
		if (sz & 0x20) {
			uint16_t cntlid = fz_u16(f);

			pd[8] = (uint8_t)cntlid;
			pd[9] = (uint8_t)(cntlid >> 8);
		}
		len = 32;
	}
	h->ird = fz_u8(f);
	h->ord = fz_u8(f);
	h->dev = mode >> 5 & 3;
	h->recv_size = NVMFT_RDMA_SQE_LEN + r->to.in_capsule_data_size;
	h->next_cid = 1;
	/* As the fake delivers it: zero padded to 56 bytes from 32 on, nothing at all for length 0. */
	h->ref_sts = ref_cm(r, len ? pd : NULL, len < 32 ? len : 56, h->ird, &h->qid, &h->depth);
	codec_cm(r, h, len ? pd : NULL, len);
	/* A device the target never opened, or one that went: nothing is looked at. */
	if (h->dev >= r->cfg.ndevs)
		h->ref_sts = NVMFT_RDMA_CM_REJ_NO_RESOURCES;
	h->dev_gone = r->dev_removed[h->dev];
	h->id = fv_connect(fv_listener(), len ? pd : NULL, len, h->ird, h->ord, h->dev);
	r->nh++;
	fz_trace("host %d: connect qid %u depth %u ird %u ord %u dev %d: reference status %u", r->nh - 1,
		 h->qid, h->depth, h->ird, h->ord, h->dev, h->ref_sts);
	poll_n(r, 3);
	h->qp = fv_id_qp(h->id);
	check_cm(r, h, false);
	if ((mode & 2) && h->qp != NULL && host_conn_alive(h))
		fv_established(h->id);
}

/* SGL1 through the codec: the reference's status, and fields that say what the descriptor says. */
static void codec_sgl(const uint8_t *sqe, uint32_t icd, uint16_t want)
{
	struct nvmft_cmd cmd;
	struct nvmft_rdma_sgl sgl;
	const uint8_t *d = sqe + 24;
	uint16_t st;
	uint32_t len = (uint32_t)d[8] | (uint32_t)d[9] << 8 | (uint32_t)d[10] << 16,
		 ulen = len | (uint32_t)d[11] << 24;
	uint64_t addr = 0;

	for (int i = 7; i >= 0; i--)
		addr = addr << 8 | d[i];
	memcpy(&cmd, sqe, sizeof(cmd));
	st = nvmft_rdma_sgl_parse(&cmd, icd, &sgl);
	FZ_CHECK(st == want, "sgl_parse: %#x, the reference says %#x", st, want);
	FZ_CHECK(nvmft_rdma_cmd_xfer(&cmd) == ref_xfer(sqe), "cmd_xfer");
	if (st != 0)
		return;
	switch (sgl.kind) {
	case NVMFT_RDMA_SGL_KEYED:
		FZ_CHECK(d[15] >> 4 == NVMFT_SGL_TYPE_KEYED_DATA_BLOCK && sgl.len == len && len > 0 &&
				 sgl.addr == addr && sgl.key == le32toh(cmd.dptr.sgl1.keyed.key) &&
				 sgl.invalidate == ((d[15] & 0xf) == NVMFT_SGL_SUBTYPE_INVALIDATE_KEY),
			 "keyed SGL fields");
		break;
	case NVMFT_RDMA_SGL_INCAPSULE:
		FZ_CHECK(sgl.len == ulen && ulen > 0 && sgl.offset == addr && addr + ulen <= icd,
			 "in-capsule SGL fields");
		break;
	default:
		FZ_CHECK(sgl.len == 0, "no data, %u bytes", sgl.len);
		break;
	}
}

/* Deliver @len bytes of @buf as a capsule; records it for the checks. */
static void deliver(struct rdma_run *r, struct host *h, const uint8_t *buf, uint32_t len, bool track_cid)
{
	struct cmd_rec *c;
	uint32_t icd = len > NVMFT_RDMA_SQE_LEN ? len - NVMFT_RDMA_SQE_LEN : 0;
	int rc;

	if (h->qp == NULL)
		return;
	rc = fv_host_send(h->qp, buf, len);
	fz_trace("host %d: capsule of %u bytes, opcode %#x cid %u: %d", (int)(h - r->h), len,
		 len > 0 ? buf[0] : 0, len >= 4 ? le16_at(buf + 2) : 0, rc);
	/* Refused (no receive buffer, QP in error) or too long for the buffer: no command arrived. */
	if (rc != 0 || len > h->recv_size)
		return;
	if (len < NVMFT_RDMA_SQE_LEN) {
		h->short_sent = true;
		return;
	}
	h->last_fused_first = (buf[1] & NVMFT_CMD_FUSE_MASK) == NVMFT_CMD_FUSE_FIRST;
	if (h->out++ >= h->depth)
		h->overran = true;
	if (h->ncmds == MAX_CMDS || !track_cid) {
		h->untracked = true;
		return;
	}
	c = &h->cmds[h->ncmds++];
	memset(c, 0, sizeof(*c));
	c->cid = le16_at(buf + 2);
	c->want = ref_sgl(buf, icd, &c->inv_expected, &c->key);
	codec_sgl(buf, icd, (uint16_t)c->want);
	if (c->want == 0)
		c->want = -1;
	/* The key is invalidated only by a device that can. */
	if (c->inv_expected && (r->cfg.no_send_inv || c->want >= 0))
		c->inv_expected = false;
	c->aer = buf[0] == nvme_admin_async_event && h->qid == 0;
	c->fused_first = h->last_fused_first;
	c->admin_connect = buf[0] == NVMFT_OPC_FABRICS && buf[4] == NVMFT_FCTYPE_CONNECT && h->qid == 0;
}

static void sgl_keyed(struct nvmft_cmd *c, uint64_t addr, uint32_t len, bool inv)
{
	tu_sgl_keyed(c, addr, len, HOST_KEY, inv ? NVMFT_SGL_SUBTYPE_INVALIDATE_KEY : NVMFT_SGL_SUBTYPE_ADDRESS);
}

static void sgl_incapsule(struct nvmft_cmd *c, uint32_t len)
{
	memset(&c->dptr, 0, sizeof(c->dptr));
	c->dptr.sgl1.unkeyed.length = htole32(len);
	c->dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_DATA_BLOCK << 4 | NVMFT_SGL_SUBTYPE_OFFSET;
}

static void rw(struct nvmft_cmd *c, uint8_t opc, struct fz *f)
{
	uint16_t slba = fz_u16(f);
	uint8_t nlb = fz_u8(f);

	memset(c, 0, sizeof(*c));
	c->opcode = opc;
	c->nsid = htole32(1);
	c->cdw10 = htole32(slba % NS_BLOCKS);
	c->cdw12 = htole32(nlb % 32);
}

/*
 * Build a capsule: the command, and data in the capsule or in the host's
 * memory; returns the data bytes that go in the capsule (at @icd).
 */
static uint32_t build(struct rdma_run *r, struct host *h, struct fz *f, uint8_t kind, uint8_t flags,
		      struct nvmft_cmd *c, uint8_t *icd)
{
	uint8_t *arena_slot = host_arena + (fz_u8(f) % 32) * 4096u;
	uint32_t max_icd = r->to.in_capsule_data_size, dlen = 0;
	bool incap = (flags & 4) != 0;

	memset(c, 0, sizeof(*c));
	switch (kind & 7) {
	case 0: { /* Connect */
		struct nvmft_connect_cmd *cc = (struct nvmft_connect_cmd *)c;
		struct nvmf_connect_data d;
		uint8_t sel = fz_u8(f);

		memset(&d, 0, sizeof(d));
		cc->opcode = NVMFT_OPC_FABRICS;
		cc->fctype = NVMFT_FCTYPE_CONNECT;
		cc->qid = htole16(flags & 1 ? fz_u16(f) : h->qid);
		cc->sqsize = htole16(flags & 2 ? fz_u16(f) : (uint16_t)(h->depth - 1));
		memset(d.hostid, 0x3c, sizeof(d.hostid));
		d.cntlid = htole16(h->qid == 0 ? NVMFT_CNTLID_DYNAMIC : r->cntlid);
		snprintf(d.subsysnqn, sizeof(d.subsysnqn), "%s",
			 sel & 1   ? NVMFT_DISCOVERY_NQN
			 : sel & 2 ? "nqn.2024-01.io.nvmft:nobody"
				   : SUBNQN);
		snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", HOSTNQN);
		dlen = sizeof(d);
		if (incap && max_icd >= dlen) {
			memcpy(icd, &d, dlen);
			sgl_incapsule(c, dlen);
			return dlen;
		}
		memcpy(arena_slot, &d, dlen);
		sgl_keyed(c, (uintptr_t)arena_slot, dlen, flags & 8);
		return 0;
	}
	case 1: { /* Property Set CC */
		struct nvmft_prop_cmd *p = (struct nvmft_prop_cmd *)c;
		static const uint64_t vals[] = { NVMFT_CC_EN | 6u << 16 | 4u << 20, 0,
						 6u << 16 | 4u << 20 | 1u << 14, NVMFT_CC_EN };

		p->opcode = NVMFT_OPC_FABRICS;
		p->fctype = NVMFT_FCTYPE_PROPERTY_SET;
		p->offset = htole32(NVME_REG_CC);
		p->value = htole64(vals[flags >> 4 & 3]);
		return 0;
	}
	case 2: { /* Property Get */
		struct nvmft_prop_cmd *p = (struct nvmft_prop_cmd *)c;
		static const uint32_t offs[] = { NVME_REG_CSTS, NVME_REG_CAP, NVME_REG_VS, NVME_REG_CC };

		p->opcode = NVMFT_OPC_FABRICS;
		p->fctype = NVMFT_FCTYPE_PROPERTY_GET;
		p->attrib = flags >> 6 & 1;
		p->offset = htole32(offs[flags >> 4 & 3]);
		return 0;
	}
	case 3: { /* admin: Identify, Get Log Page, Keep Alive, AER, Set Features, Abort */
		uint8_t which = fz_u8(f) % 6;

		switch (which) {
		case 0:
			c->opcode = nvme_admin_identify;
			c->cdw10 = htole32(flags & 0x10 ? NVME_IDENTIFY_CNS_NS : NVME_IDENTIFY_CNS_CTRL);
			c->nsid = htole32(1);
			dlen = NVME_IDENTIFY_DATA_SIZE;
			break;
		case 1:
			c->opcode = nvme_admin_get_log_page;
			c->cdw10 = htole32((512u / 4 - 1) << 16 |
					   (flags & 0x10 ? NVME_LOG_LID_SMART : NVME_LOG_LID_ERROR));
			c->nsid = htole32(0xffffffff);
			dlen = 512;
			break;
		case 2:
			c->opcode = nvme_admin_keep_alive;
			break;
		case 3:
			c->opcode = nvme_admin_async_event;
			break;
		case 4:
			c->opcode = nvme_admin_set_features;
			c->cdw10 = htole32(NVME_FEAT_FID_NUM_QUEUES);
			c->cdw11 = htole32(0x00030003);
			break;
		default:
			c->opcode = nvme_admin_abort_cmd;
			c->cdw10 = htole32((uint32_t)(h->next_cid - 1) << 16);
			break;
		}
		if (dlen > 0)
			sgl_keyed(c, (uintptr_t)arena_slot, dlen, flags & 8);
		return 0;
	}
	case 4: /* Write */
	case 5: /* Read */
		rw(c, (kind & 7) == 4 ? nvme_cmd_write : nvme_cmd_read, f);
		dlen = (le32toh(c->cdw12) + 1) * BLOCK;
		if ((kind & 7) == 4 && incap && dlen <= max_icd) {
			memset(icd, 0xa5, dlen);
			sgl_incapsule(c, dlen);
			return dlen;
		}
		sgl_keyed(c, (uintptr_t)arena_slot, dlen, flags & 8);
		return 0;
	case 6: /* raw */
		fz_take(f, c, sizeof(*c));
		if (incap) {
			uint32_t n = fz_u16(f) % (max_icd + 1);

			memset(icd, 0x5a, n);
			return n;
		}
		return 0;
	default: /* the first half of a fused Compare and Write (the next capsule is the write) */
		rw(c, nvme_cmd_compare, f);
		c->flags = NVMFT_CMD_FUSE_FIRST;
		sgl_keyed(c, (uintptr_t)arena_slot, (le32toh(c->cdw12) + 1) * BLOCK, flags & 8);
		return 0;
	}
}

static void op_capsule(struct rdma_run *r, struct host *h, struct fz *f)
{
	static uint8_t buf[NVMFT_RDMA_SQE_LEN + 8192 + 256];
	uint8_t kind = fz_u8(f), flags = fz_u8(f), np, lmode;
	struct nvmft_cmd c;
	uint32_t icd, len;

	icd = build(r, h, f, kind, flags, &c, buf + NVMFT_RDMA_SQE_LEN);
	/* Any FUSE value on any command. */
	if (kind & 0x08)
		c.flags = (uint8_t)((c.flags & ~NVMFT_CMD_FUSE_MASK) | (kind >> 4 & 3));
	np = fz_u8(f) % 5;
	for (uint8_t i = 0; i < np; i++) {
		uint8_t off = fz_u8(f) % 64;

		((uint8_t *)&c)[off] = fz_u8(f);
	}
	if (!(flags & 0x80))
		c.cid = htole16(h->next_cid++);
	memcpy(buf, &c, sizeof(c));
	len = NVMFT_RDMA_SQE_LEN + icd;
	lmode = fz_u8(f);
	switch (lmode & 3) {
	case 1: /* short */
		len = lmode >> 2;
		break;
	case 2: /* longer: bytes nobody asked for */
		len += (lmode >> 2) * 16;
		if (len > sizeof(buf))
			len = sizeof(buf);
		break;
	case 3:
		len = fz_u16(f) % (uint32_t)sizeof(buf);
		break;
	default:
		break;
	}
	deliver(r, h, buf, len, !(flags & 0x80));
	if ((kind & 7) == 7) {
		/* Its partner: a write of the same blocks (patched like the first). */
		struct nvmft_cmd w = c;

		w.opcode = nvme_cmd_write;
		w.flags = (uint8_t)((w.flags & ~NVMFT_CMD_FUSE_MASK) | NVMFT_CMD_FUSE_SECOND);
		w.cid = htole16(h->next_cid++);
		deliver(r, h, (const uint8_t *)&w, sizeof(w), true);
	}
}

static void op_raw(struct rdma_run *r, struct host *h, struct fz *f)
{
	static uint8_t buf[NVMFT_RDMA_SQE_LEN + 8192 + 256];
	uint32_t len = fz_u16(f) % (uint32_t)sizeof(buf);

	memset(buf, 0, len);
	fz_take(f, buf, len);
	/* The CID is the input's: duplicates and all, so the answers are not matched. */
	deliver(r, h, buf, len, false);
}

static const enum ibv_wc_status wc_errs[] = {
	IBV_WC_WR_FLUSH_ERR, IBV_WC_REM_ACCESS_ERR, IBV_WC_RETRY_EXC_ERR,     IBV_WC_LOC_PROT_ERR,
	IBV_WC_REM_OP_ERR,   IBV_WC_LOC_LEN_ERR,    IBV_WC_RNR_RETRY_EXC_ERR, IBV_WC_GENERAL_ERR,
};

static void op_cm_event(struct rdma_run *r, struct host *h, uint8_t type)
{
	static const enum rdma_cm_event_type types[] = {
		RDMA_CM_EVENT_ESTABLISHED, RDMA_CM_EVENT_DEVICE_REMOVAL, RDMA_CM_EVENT_CONNECT_ERROR,
		RDMA_CM_EVENT_UNREACHABLE, RDMA_CM_EVENT_REJECTED,	 RDMA_CM_EVENT_TIMEWAIT_EXIT,
		RDMA_CM_EVENT_ADDR_CHANGE, RDMA_CM_EVENT_DISCONNECTED,
	};

	if (!host_conn_alive(h) || h->qp == NULL)
		return;
	switch (type % 9) {
	case 0:
		fv_host_disconnect(h->id);
		h->broken = true;
		return;
	default:
		fv_cm_event(h->id, types[type % 9 - 1]);
		if (types[type % 9 - 1] == RDMA_CM_EVENT_DEVICE_REMOVAL)
			r->dev_removed[h->dev] = true;
		if (type % 9 != 1)
			h->broken = true;
		return;
	}
}

static void record(struct rdma_run *r, struct fz *f)
{
	uint8_t op = fz_u8(f), arg = op >> 4;
	struct host *h = r->nh > 0 ? &r->h[arg % r->nh] : NULL;

	switch (op & 0xf) {
	case 0:
		op_connect(r, f);
		return;
	case 2:
		fv_hold(arg & 1);
		fv_defer_completions(arg & 2);
		break;
	case 3: {
		uint8_t n = fz_u8(f);

		if (h != NULL && h->qp != NULL && host_conn_alive(h))
			fv_run(h->qp, n ? n : -1);
		break;
	}
	case 4: {
		uint8_t n = fz_u8(f);

		if (h != NULL && h->qp != NULL && host_conn_alive(h))
			fv_deliver(h->qp, n ? n : -1);
		break;
	}
	case 5: {
		uint8_t s = fz_u8(f);

		if (h != NULL && h->qp != NULL && host_conn_alive(h) &&
		    fv_fail_held(h->qp, wc_errs[s % NVMFT_ARRAY_SIZE(wc_errs)]))
			h->broken = true;
		break;
	}
	case 6: {
		uint8_t s = fz_u8(f);

		if (h != NULL && h->qp != NULL && host_conn_alive(h) && !fv_qp_in_error(h->qp) &&
		    fv_recv_error(h->qp, wc_errs[s % NVMFT_ARRAY_SIZE(wc_errs)]) == 0)
			h->broken = true;
		break;
	}
	case 7:
		if (h != NULL && h->qp != NULL && host_conn_alive(h)) {
			fv_qp_error(h->qp);
			h->broken = true;
		}
		break;
	case 8: {
		uint8_t t = fz_u8(f);

		if (h != NULL)
			op_cm_event(r, h, t);
		break;
	}
	case 9:
		poll_n(r, fz_u8(f) % 16 + 1);
		return;
	case 10: {
		uint8_t which = fz_u8(f), n = fz_u8(f);

		fv_fail((enum fv_fail)(which % FV_FAIL__COUNT), n % 3 + 1, which & 0x80 ? EAGAIN : ENOMEM);
		r->faults = true;
		break;
	}
	case 11:
		if (h != NULL)
			op_raw(r, h, f);
		break;
	case 12:
		break;
	default:
		if (h != NULL)
			op_capsule(r, h, f);
		break;
	}
	poll_once(r);
}

/* Let everything held go and run to the end. */
static void release_all(struct rdma_run *r)
{
	fv_hold(false);
	fv_defer_completions(false);
	for (int round = 0; round < 64; round++) {
		int work = 0;

		for (int i = 0; i < r->nh; i++) {
			struct host *h = &r->h[i];

			if (h->qp == NULL || !host_conn_alive(h))
				continue;
			work += fv_run(h->qp, -1);
			work += fv_deliver(h->qp, -1);
		}
		poll_n(r, 4);
		if (work == 0 && round > 4)
			break;
	}
}

static void check_hosts(struct rdma_run *r)
{
	for (int i = 0; i < r->nh; i++) {
		struct host *h = &r->h[i];
		bool closed = fv_id_destroyed(h->id) || fv_id_disconnected(h->id);
		uint32_t open = 0;

		check_cm(r, h, true);
		if (h->close_why != NULL && strcmp(h->close_why, TOO_MANY) == 0)
			FZ_CHECK(h->overran,
				 "host %d: cut off for too many commands, but it never had more "
				 "than %u outstanding",
				 i, h->depth);
		if (h->qp == NULL)
			continue;
		if (h->short_sent)
			FZ_CHECK(closed,
				 "host %d: a capsule shorter than a command, and the connection stays", i);
		if (h->untracked || closed)
			continue;
		for (uint32_t k = 0; k < h->ncmds; k++) {
			const struct cmd_rec *c = &h->cmds[k];

			if (c->aer || (c->fused_first && h->last_fused_first))
				continue;
			open++;
			fz_trace("host %d: CID %u never answered", i, c->cid);
		}
		FZ_CHECK(open == 0, "host %d: %u commands never answered and the connection stays open", i,
			 open);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rdma_run *r = calloc(1, sizeof(*r));
	struct fz f;
	uint8_t c0, c1;

	FZ_CHECK(r != NULL, "calloc");
	cur = r;
	fz_init(&f, data, size);
	c0 = fz_u8(&f);
	c1 = fz_u8(&f);
	env_init(r, c0, c1);
	for (int i = 0; i < MAX_RECORDS && fz_left(&f) > 0; i++)
		record(r, &f);
	release_all(r);
	check_hosts(r);
	/* The hosts leave; every connection must go. */
	for (int i = 0; i < r->nh; i++)
		if (host_conn_alive(&r->h[i]) && r->h[i].qp != NULL)
			fv_host_disconnect(r->h[i].id);
	for (int n = 0; n < 200; n++) {
		bool left = false;

		for (int i = 0; i < r->nh; i++)
			left |= host_conn_alive(&r->h[i]);
		if (!left)
			break;
		poll_once(r);
	}
	for (int i = 0; i < r->nh; i++)
		FZ_CHECK(!host_conn_alive(&r->h[i]), "host %d: the connection stays after the host left", i);
	/* With every queue gone, so is every controller. */
	for (int n = 0; n < 200 && tu_ctrlr_count(r->ss) > 0; n++)
		poll_once(r);
	FZ_CHECK(tu_ctrlr_count(r->ss) == 0, "%d controllers stay after every host left", tu_ctrlr_count(r->ss));
	env_fini(r);
	cur = NULL;
	free(r);
	return 0;
}
