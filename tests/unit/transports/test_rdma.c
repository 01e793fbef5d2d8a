/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NVMe/RDMA transport (lib/transports/rdma/) against the fake
 * rdma-core of fake_verbs.h: the test thread is the management thread,
 * the poll group's thread and the host.  It covers what a real host
 * does (connect, Fabrics Connect by RDMA READ, in-capsule and keyed
 * writes, reads by RDMA WRITE, remote invalidation) and what a real host
 * will not do: bad CM private data, Connect disagreeing with the CM,
 * broken SGLs, short, long and excess capsules, receive errors, flushes
 * on teardown, device removal, failing verbs.  Every test ends by checking
 * that the transport gave back every object it made.
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include <nvmft/nvmft.h>

#include "core/poll_group.h"
#include "core/transport.h"
#include "fake_verbs.h"
#include "spec/spec.h"
#include "test_backend.h"
#include "transports/rdma/rdma_internal.h"
#include "test_util.h"

#define SUBNQN "nqn.2024-01.io.nvmft:rdma-test"
#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:6b6f6e73-7461-6e74-696e-6f706c650001"
#define NS_BLOCKS 8192
#define BLOCK 512
#define SPIN 2000
#define HOST_KEY 0x7733
#define HOST_ARENA (1u << 20)

static uint8_t host_arena[HOST_ARENA] __attribute__((aligned(4096)));

struct env {
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg;
	struct nvmft_transport *tr;
	struct nvmft_listener *l;
	struct nvmft_subsystem *ss;
	struct nvmft_backend *be;
	struct nvmft_ns *ns;
};

struct host {
	struct env *e;
	struct fv_id *id;
	struct fv_qp *qp;
	uint16_t qid;
	uint16_t depth;
	uint16_t cid;
	uint16_t cntlid;
};

/* ---- Environment ------------------------------------------------------------------------- */

static int env_poll(struct env *e)
{
	int a = nvmft_target_poll(e->tgt), b = nvmft_poll_group_poll(e->pg, 0);

	return (a > 0 ? a : 0) + (b > 0 ? b : 0);
}

static void env_settle(struct env *e)
{
	for (int i = 0; i < 8; i++)
		env_poll(e);
}

static void done_cb(void *arg, int status)
{
	*(int *)arg = status;
}

static void env_init_tgt(struct env *e, const struct nvmft_target_opts *to,
			 const struct nvmft_transport_opts *topts, const struct fv_config *cfg)
{
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV4,
					.traddr = "192.0.2.1", .trsvcid = "0" };
	struct nvmft_subsystem_opts so;
	int added = 1;

	memset(e, 0, sizeof(*e));
	fv_reset(cfg);
	memset(host_arena, 0, sizeof(host_arena));
	fv_host_mem(host_arena, sizeof(host_arena), HOST_KEY);
	assert_int_equal(nvmft_target_new(to, &e->tgt), 0);
	assert_int_equal(nvmft_poll_group_new(e->tgt, NULL, &e->pg), 0);
	assert_int_equal(nvmft_transport_new(e->tgt, NVMFT_TRTYPE_RDMA, topts, &e->tr), 0);
	assert_int_equal(nvmft_rdma_set_verbs(e->tr, &fv_verbs), 0);
	assert_int_equal(nvmft_listener_new(e->tr, &lo, &e->l), 0);
	assert_string_equal(nvmft_listener_get_trsvcid(e->l), "4420");
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = SUBNQN;
	so.allow_any_host = true;
	assert_int_equal(nvmft_subsystem_new(e->tgt, &so, &e->ss), 0);
	assert_int_equal(nvmft_subsystem_add_listener(e->ss, e->l), 0);
	assert_int_equal(nvmft_backend_malloc_new("rdma-test", NS_BLOCKS, BLOCK, &e->be), 0);
	assert_int_equal(nvmft_ns_add(e->ss, e->be, NULL, done_cb, &added, &e->ns), 0);
	for (int i = 0; i < SPIN && added == 1; i++)
		env_poll(e);
	assert_int_equal(added, 0);
}

static void env_init(struct env *e, const struct nvmft_transport_opts *topts, const struct fv_config *cfg)
{
	env_init_tgt(e, NULL, topts, cfg);
}

static void stopped_cb(void *arg, int status)
{
	(void)status;
	*(bool *)arg = true;
}

static void env_fini(struct env *e)
{
	bool stopped = false;
	char leaks[512];

	if (e->tgt == NULL)
		return;
	if (nvmft_poll_group_stop(e->pg, stopped_cb, &stopped) == 0) {
		for (int i = 0; i < SPIN && !stopped; i++)
			env_poll(e);
		assert_true(stopped);
	}
	assert_int_equal(nvmft_poll_group_free(e->pg), 0);
	nvmft_target_poll(e->tgt);
	nvmft_target_free(e->tgt);
	nvmft_backend_free(e->be);
	memset(e, 0, sizeof(*e));
	/* Every QP, CQ, SRQ, MR, PD, CM id and channel the transport made is gone. */
	if (fv_leaks(leaks, sizeof(leaks)) != 0)
		fail_msg("leaked: %s", leaks);
	assert_int_equal(fv_count_cq_overflows(), 0);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return -1;
	env_init(e, NULL, NULL);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	env_fini(e);
	free(e);
	return 0;
}

static void env_reinit(struct env *e, const struct nvmft_transport_opts *o, const struct fv_config *cfg)
{
	env_fini(e);
	env_init(e, o, cfg);
}

#define POLL_UNTIL(e, cond) TU_UNTIL(SPIN, cond, env_poll(e))

/* ---- The host --------------------------------------------------------------------------------- */

/* Connect at the RDMA CM level; the target must accept. */
static void host_cm(struct env *e, struct host *h, uint16_t qid, uint16_t depth)
{
	memset(h, 0, sizeof(*h));
	h->e = e;
	h->qid = qid;
	h->depth = depth;
	h->id = fv_connect_queue(fv_listener(), qid, depth);
	assert_true(POLL_UNTIL(e, fv_id_accepted(h->id, NULL, NULL)));
	h->qp = fv_id_qp(h->id);
	assert_non_null(h->qp);
	fv_established(h->id);
	env_settle(e);
}

static void sgl_keyed(struct nvmft_cmd *c, uint64_t addr, uint32_t len, uint32_t key, bool inv)
{
	tu_sgl_keyed(c, addr, len, key, inv ? NVMFT_SGL_SUBTYPE_INVALIDATE_KEY : NVMFT_SGL_SUBTYPE_ADDRESS);
}

static void sgl_incapsule(struct nvmft_cmd *c, uint64_t off, uint32_t len)
{
	memset(&c->dptr, 0, sizeof(c->dptr));
	c->dptr.sgl1.addr = htole64(off);
	c->dptr.sgl1.unkeyed.length = htole32(len);
	c->dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_DATA_BLOCK << 4 | NVMFT_SGL_SUBTYPE_OFFSET;
}

/* Send a capsule: the command (its SGL as given) and @icd_len bytes after it. */
static void host_send(struct host *h, struct nvmft_cmd *cmd, const void *icd, uint32_t icd_len)
{
	static uint8_t buf[64 + 65536 + 64];

	if (cmd->cid == 0)
		cmd->cid = htole16(++h->cid);
	memcpy(buf, cmd, 64);
	if (icd_len > 0)
		memcpy(buf + 64, icd, icd_len);
	assert_int_equal(fv_host_send(h->qp, buf, 64 + icd_len), 0);
}

/* Wait for the next response; returns its status (phase bit dropped), -1 if none came. */
static int host_resp(struct host *h, struct nvmft_cpl *cpl, struct fv_resp *out)
{
	struct fv_resp r;

	if (!POLL_UNTIL(h->e, fv_take_resp(h->qp, &r)))
		return -1;
	assert_int_equal(r.len, 16);
	if (cpl != NULL)
		memcpy(cpl, r.data, sizeof(*cpl));
	if (out != NULL)
		*out = r;
	return nvmft_status_from_wire(((struct nvmft_cpl *)r.data)->status);
}

enum {
	IO_INCAPSULE = 1u << 0,
	IO_INVALIDATE = 1u << 1,
};

/*
 * Run a command: write data (@wdata/@wlen) in-capsule or by keyed SGL from
 * host memory at @off of the arena; read data (@rlen) lands at @off.
 */
static int host_exec(struct host *h, struct nvmft_cmd *cmd, const void *wdata, uint32_t wlen, uint32_t rlen,
		     uint32_t off, unsigned int flags, struct nvmft_cpl *cpl, struct fv_resp *resp)
{
	struct nvmft_cpl tmp;
	int st;

	cmd->cid = htole16(++h->cid);
	if (wlen > 0 && (flags & IO_INCAPSULE)) {
		sgl_incapsule(cmd, 0, wlen);
		host_send(h, cmd, wdata, wlen);
	} else {
		if (wlen > 0)
			memcpy(host_arena + off, wdata, wlen);
		sgl_keyed(cmd, wlen || rlen ? (uintptr_t)(host_arena + off) : 0, wlen ? wlen : rlen,
			  wlen || rlen ? HOST_KEY : 0, flags & IO_INVALIDATE);
		host_send(h, cmd, NULL, 0);
	}
	st = host_resp(h, &tmp, resp);
	if (st >= 0)
		assert_int_equal(le16toh(tmp.cid), h->cid);
	if (cpl != NULL)
		*cpl = tmp;
	return st;
}

static int host_fabrics_connect(struct host *h, uint16_t qid, uint16_t sqsize, uint16_t cntlid,
				unsigned int flags, struct nvmft_cpl *cpl)
{
	struct nvmft_connect_cmd c;
	struct nvmf_connect_data d;
	int st;

	memset(&c, 0, sizeof(c));
	memset(&d, 0, sizeof(d));
	c.opcode = NVMFT_OPC_FABRICS;
	c.fctype = NVMFT_FCTYPE_CONNECT;
	c.qid = htole16(qid);
	c.sqsize = htole16(sqsize);
	c.kato = htole32(0);
	memset(d.hostid, 0x5a, sizeof(d.hostid));
	d.cntlid = htole16(cntlid);
	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "%s", SUBNQN);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", HOSTNQN);
	st = host_exec(h, (struct nvmft_cmd *)&c, &d, sizeof(d), 0, 0, flags, cpl, NULL);
	return st;
}

static int host_prop(struct host *h, uint8_t fctype, uint32_t offset, uint64_t val, uint64_t *out)
{
	struct nvmft_prop_cmd c;
	struct nvmft_cpl cpl;
	int st;

	memset(&c, 0, sizeof(c));
	c.opcode = NVMFT_OPC_FABRICS;
	c.fctype = fctype;
	c.offset = htole32(offset);
	c.value = htole64(val);
	st = host_exec(h, (struct nvmft_cmd *)&c, NULL, 0, 0, 0, 0, &cpl, NULL);
	if (out != NULL)
		*out = le64toh(cpl.u64);
	return st;
}

/* Admin queue: CM, Connect (data by RDMA READ, as Linux sends it), enable. */
static void host_admin_up(struct env *e, struct host *h)
{
	struct nvmft_cpl cpl;
	uint64_t csts = 0;

	host_cm(e, h, 0, 32);
	assert_int_equal(host_fabrics_connect(h, 0, 31, NVMFT_CNTLID_DYNAMIC, 0, &cpl), 0);
	h->cntlid = le16toh(cpl.connect.cntlid);
	assert_int_equal(host_prop(h, NVMFT_FCTYPE_PROPERTY_SET, NVME_REG_CC,
				   NVMFT_CC_EN | 6u << 16 | 4u << 20, NULL), 0);
	for (int i = 0; i < 100 && !(csts & NVMFT_CSTS_RDY); i++)
		assert_int_equal(host_prop(h, NVMFT_FCTYPE_PROPERTY_GET, NVME_REG_CSTS, 0, &csts), 0);
	assert_true(csts & NVMFT_CSTS_RDY);
}

/* I/O queue @qid of the admin host's controller; Connect data in-capsule. */
static void host_io_up(struct env *e, struct host *io, const struct host *admin, uint16_t qid, uint16_t depth)
{
	host_cm(e, io, qid, depth);
	assert_int_equal(host_fabrics_connect(io, qid, (uint16_t)(depth - 1), admin->cntlid, IO_INCAPSULE,
					      NULL), 0);
}

static void rw_cmd(struct nvmft_cmd *c, uint8_t opc, uint64_t slba, uint32_t nlb)
{
	memset(c, 0, sizeof(*c));
	c->opcode = opc;
	c->nsid = htole32(1);
	c->cdw10 = htole32((uint32_t)slba);
	c->cdw11 = htole32((uint32_t)(slba >> 32));
	c->cdw12 = htole32(nlb - 1);
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131u + seed * 7u) ^ (i >> 9));
}

static void host_bye(struct host *h)
{
	fv_host_disconnect(h->id);
	assert_true(POLL_UNTIL(h->e, fv_id_destroyed(h->id)));
}

/* ---- Connection requests ---------------------------------------------------------------------- */

static void pd_set(uint8_t *pd, uint16_t recfmt, uint16_t qid, uint16_t hrqsize, uint16_t hsqsize)
{
	memset(pd, 0, 32);
	pd[0] = (uint8_t)recfmt;
	pd[1] = (uint8_t)(recfmt >> 8);
	pd[2] = (uint8_t)qid;
	pd[3] = (uint8_t)(qid >> 8);
	pd[4] = (uint8_t)hrqsize;
	pd[5] = (uint8_t)(hrqsize >> 8);
	pd[6] = (uint8_t)hsqsize;
	pd[7] = (uint8_t)(hsqsize >> 8);
}

static void test_reject_bad_private_data(void **state)
{
	struct env *e = *state;
	static const struct {
		size_t len;
		uint16_t recfmt, qid, hrqsize, hsqsize;
		uint8_t rd;
		uint16_t sts;
	} cases[] = {
		{ 16, 0, 0, 32, 31, 16, NVMFT_RDMA_CM_REJ_INVALID_LENGTH },
		{ 0, 0, 0, 32, 31, 16, NVMFT_RDMA_CM_REJ_INVALID_LENGTH },
		{ 32, 1, 0, 32, 31, 16, NVMFT_RDMA_CM_REJ_INVALID_RECFMT },
		{ 32, 0, 128, 128, 127, 16, NVMFT_RDMA_CM_REJ_INVALID_QID },
		{ 32, 0, 0xffff, 128, 127, 16, NVMFT_RDMA_CM_REJ_INVALID_QID },
		{ 32, 0, 1, 128, 0, 16, NVMFT_RDMA_CM_REJ_INVALID_HSQSIZE },
		{ 32, 0, 1, 4096, 128, 16, NVMFT_RDMA_CM_REJ_INVALID_HSQSIZE },
		{ 32, 0, 0, 4096, 1024, 16, NVMFT_RDMA_CM_REJ_INVALID_HSQSIZE },
		{ 32, 0, 1, 64, 127, 16, NVMFT_RDMA_CM_REJ_INVALID_HRQSIZE },
		{ 32, 0, 1, 0, 127, 16, NVMFT_RDMA_CM_REJ_INVALID_HRQSIZE },
		{ 32, 0, 1, 128, 127, 0, NVMFT_RDMA_CM_REJ_INVALID_IRD },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t pd[32];
		uint16_t recfmt = 0xffff, sts = 0;
		struct fv_id *id;

		pd_set(pd, cases[i].recfmt, cases[i].qid, cases[i].hrqsize, cases[i].hsqsize);
		id = fv_connect(fv_listener(), cases[i].len ? pd : NULL, cases[i].len, cases[i].rd, 16, 0);
		assert_true(POLL_UNTIL(e, fv_id_destroyed(id)));
		assert_true(fv_id_rejected(id, &recfmt, &sts));
		assert_int_equal(recfmt, 0);
		assert_int_equal(sts, cases[i].sts);
		assert_false(fv_id_accepted(id, NULL, NULL));
		assert_null(fv_id_qp(id));
	}
	/* Nothing was made for them. */
	assert_int_equal(fv_count_qps(), 0);
	assert_int_equal(fv_count_cqs(), 0);
}

static void test_accept_negotiates(void **state)
{
	struct env *e = *state;
	struct rdma_conn_param p;
	uint16_t crqsize = 0;
	struct fv_id *id;
	struct fv_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.attr.max_qp_wr = 16384;
	cfg.attr.max_sge = 32;
	cfg.attr.max_cqe = 32767;
	cfg.attr.max_srq_wr = 16384;
	cfg.attr.max_qp_rd_atom = 4;
	cfg.attr.max_qp_init_rd_atom = 8;
	cfg.attr.device_cap_flags = IBV_DEVICE_MEM_MGT_EXTENSIONS;
	env_reinit(e, NULL, &cfg);
	id = fv_connect_queue(fv_listener(), 0, 32);
	assert_true(POLL_UNTIL(e, fv_id_accepted(id, &p, &crqsize)));
	/* RECFMT 0, CRQSIZE = the queue; IRD/ORD bounded by the device and the host (16/16). */
	assert_int_equal(crqsize, 32);
	assert_int_equal(p.private_data_len, 32);
	assert_int_equal(((const uint8_t *)p.private_data)[0] | ((const uint8_t *)p.private_data)[1], 0);
	assert_int_equal(p.responder_resources, 4);
	assert_int_equal(p.initiator_depth, 8);
	assert_int_equal(p.rnr_retry_count, 7);
	assert_true(fv_qp_has_srq(fv_id_qp(id)));
	/* Every send work request a command can have at once fits the QP. */
	assert_true(fv_qp_max_send_wr(fv_id_qp(id)) >= 32 * 2);
	fv_host_disconnect(id);
	assert_true(POLL_UNTIL(e, fv_id_destroyed(id)));
	assert_true(fv_qp_destroyed(fv_id_qp(id)));
}

/* A connection the target takes but never connects is dropped with everything it had. */
static void test_refused_when_no_group(void **state)
{
	struct env *e = *state;
	bool stopped = false;
	uint16_t sts = 0;
	struct fv_id *id;

	nvmft_poll_group_stop(e->pg, stopped_cb, &stopped);
	assert_true(POLL_UNTIL(e, stopped));
	id = fv_connect_queue(fv_listener(), 0, 32);
	assert_true(POLL_UNTIL(e, fv_id_destroyed(id)));
	assert_true(fv_id_rejected(id, NULL, &sts));
	assert_int_equal(sts, NVMFT_RDMA_CM_REJ_NO_RESOURCES);
}

static void test_create_qp_fails(void **state)
{
	struct env *e = *state;
	uint16_t sts = 0;
	struct fv_id *id;

	fv_fail(FV_FAIL_CREATE_QP, 1, ENOMEM);
	id = fv_connect_queue(fv_listener(), 0, 32);
	assert_true(POLL_UNTIL(e, fv_id_destroyed(id)));
	assert_true(fv_id_rejected(id, NULL, &sts));
	assert_int_equal(sts, NVMFT_RDMA_CM_REJ_NO_RESOURCES);
	/* The accept fails after the QP exists: the QP goes too. */
	fv_fail(FV_FAIL_ACCEPT, 1, ECONNREFUSED);
	id = fv_connect_queue(fv_listener(), 0, 32);
	assert_true(POLL_UNTIL(e, fv_id_destroyed(id)));
	assert_true(fv_qp_destroyed(fv_id_qp(id)));
	/* Still usable afterwards. */
	id = fv_connect_queue(fv_listener(), 0, 32);
	assert_true(POLL_UNTIL(e, fv_id_accepted(id, NULL, NULL)));
	fv_host_disconnect(id);
	assert_true(POLL_UNTIL(e, fv_id_destroyed(id)));
}

/* ---- Commands and data ------------------------------------------------------------------------ */

static void test_connect_and_io(void **state)
{
	struct env *e = *state;
	struct host a, q;
	struct nvmft_cmd c;
	struct fv_resp r;
	static uint8_t w[65536], rd[65536];

	host_admin_up(e, &a);
	assert_int_not_equal(a.cntlid, 0);
	host_io_up(e, &q, &a, 1, 128);
	/* 4 KiB in the capsule, 64 KiB by RDMA READ, read back by RDMA WRITE. */
	fill(w, 4096, 1);
	rw_cmd(&c, nvme_cmd_write, 0, 8);
	assert_int_equal(host_exec(&q, &c, w, 4096, 0, 0, IO_INCAPSULE, NULL, NULL), 0);
	fill(w, sizeof(w), 2);
	rw_cmd(&c, nvme_cmd_write, 8, 128);
	assert_int_equal(host_exec(&q, &c, w, sizeof(w), 0, 0, IO_INVALIDATE, NULL, &r), 0);
	assert_int_equal(r.opcode, IBV_WR_SEND_WITH_INV);
	assert_int_equal(r.invalidate_rkey, HOST_KEY);
	memset(host_arena, 0, sizeof(w) + 4096);
	rw_cmd(&c, nvme_cmd_read, 0, 136);
	assert_int_equal(host_exec(&q, &c, NULL, 0, 136 * 512, 0, IO_INVALIDATE, NULL, &r), 0);
	fill(rd, 4096, 1);
	assert_memory_equal(host_arena, rd, 4096);
	assert_memory_equal(host_arena + 4096, w, sizeof(w));
	/* The host asked for remote invalidation: the response carries it. */
	assert_int_equal(r.opcode, IBV_WR_SEND_WITH_INV);
	assert_int_equal(r.invalidate_rkey, HOST_KEY);
	rw_cmd(&c, nvme_cmd_read, 0, 8);
	assert_int_equal(host_exec(&q, &c, NULL, 0, 4096, 0, 0, NULL, &r), 0);
	assert_int_equal(r.opcode, IBV_WR_SEND);
	/* Identify Controller: what an NVMe/RDMA host checks. */
	{
		const struct nvme_id_ctrl *id = (const void *)(host_arena + 8192);

		memset(&c, 0, sizeof(c));
		c.opcode = nvme_admin_identify;
		c.cdw10 = htole32(NVME_IDENTIFY_CNS_CTRL);
		assert_int_equal(host_exec(&a, &c, NULL, 0, 4096, 8192, 0, NULL, NULL), 0);
		assert_int_equal(le32toh(id->ioccsz), (64 + 4096) / 16);
		assert_int_equal(le32toh(id->iorcsz), 1);
		assert_int_equal(id->icdoff, 0);
		assert_int_equal(id->msdbd, 1);
		assert_true(le32toh(id->sgls) & NVME_CTRL_SGLS_KEYED);
		assert_true(le32toh(id->sgls) & NVME_CTRL_SGLS_OFFSET);
	}
	host_bye(&q);
	host_bye(&a);
}

static void test_discovery_entry(void **state)
{
	struct env *e = *state;
	struct nvmft_connect_cmd c;
	struct nvmf_connect_data d;
	struct nvmft_cmd g;
	struct host h;
	uint64_t csts = 0;
	const struct nvmf_discovery_log *log = (const void *)(host_arena + 4096);

	host_cm(e, &h, 0, 32);
	memset(&c, 0, sizeof(c));
	memset(&d, 0, sizeof(d));
	c.opcode = NVMFT_OPC_FABRICS;
	c.fctype = NVMFT_FCTYPE_CONNECT;
	c.sqsize = htole16(31);
	d.cntlid = htole16(NVMFT_CNTLID_DYNAMIC);
	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "%s", NVMFT_DISCOVERY_NQN);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", HOSTNQN);
	assert_int_equal(host_exec(&h, (struct nvmft_cmd *)&c, &d, sizeof(d), 0, 0, 0, NULL, NULL), 0);
	assert_int_equal(host_prop(&h, NVMFT_FCTYPE_PROPERTY_SET, NVME_REG_CC, NVMFT_CC_EN, NULL), 0);
	for (int i = 0; i < 100 && !(csts & NVMFT_CSTS_RDY); i++)
		assert_int_equal(host_prop(&h, NVMFT_FCTYPE_PROPERTY_GET, NVME_REG_CSTS, 0, &csts), 0);
	memset(&g, 0, sizeof(g));
	g.opcode = nvme_admin_get_log_page;
	g.cdw10 = htole32(NVME_LOG_LID_DISCOVER | (uint32_t)((2048 / 4 - 1) << 16));
	assert_int_equal(host_exec(&h, &g, NULL, 0, 2048, 4096, 0, NULL, NULL), 0);
	assert_true(le64toh(log->numrec) >= 1);
	assert_int_equal(log->entries[0].trtype, NVMF_TRTYPE_RDMA);
	assert_int_equal(log->entries[0].adrfam, NVMF_ADDR_FAMILY_IP4);
	assert_int_equal(log->entries[0].tsas.rdma.qptype, NVMF_RDMA_QPTYPE_CONNECTED);
	assert_int_equal(log->entries[0].tsas.rdma.cms, NVMF_RDMA_CMS_RDMA_CM);
	assert_memory_equal(log->entries[0].trsvcid, "4420", 4);
	host_bye(&h);
}

static void test_no_send_inv(void **state)
{
	struct env *e = *state;
	struct fv_config cfg = { .no_send_inv = true };
	struct host a, q;
	struct nvmft_cmd c;
	struct fv_resp r;

	env_reinit(e, NULL, &cfg);
	host_admin_up(e, &a);
	host_io_up(e, &q, &a, 1, 32);
	/* The device cannot invalidate remotely: a plain SEND, the host invalidates. */
	rw_cmd(&c, nvme_cmd_read, 0, 8);
	assert_int_equal(host_exec(&q, &c, NULL, 0, 4096, 0, IO_INVALIDATE, NULL, &r), 0);
	assert_int_equal(r.opcode, IBV_WR_SEND);
	host_bye(&q);
	host_bye(&a);
}

static void test_sgl_errors(void **state)
{
	struct env *e = *state;
	struct host a, q;
	struct nvmft_cmd c;
	struct nvmft_cpl cpl;
	static uint8_t data[8192];

#define GEN_DNR(sc) NVMFT_STATUS_DNR(NVME_SCT_GENERIC, sc)
	host_admin_up(e, &a);
	host_io_up(e, &q, &a, 1, 32);
	/* In-capsule data longer than what came. */
	rw_cmd(&c, nvme_cmd_write, 0, 8);
	c.cid = htole16(++q.cid);
	sgl_incapsule(&c, 0, 4096);
	host_send(&q, &c, data, 2048);
	assert_int_equal(host_resp(&q, NULL, NULL), GEN_DNR(NVME_SC_SGL_INVALID_DATA));
	/* An offset beyond it. */
	c.cid = htole16(++q.cid);
	sgl_incapsule(&c, 4097, 0);
	host_send(&q, &c, data, 4096);
	assert_int_equal(host_resp(&q, NULL, NULL), GEN_DNR(NVME_SC_SGL_INVALID_OFFSET));
	/* An offset inside: data taken from there. */
	fill(data, 4096, 9);
	c.cid = htole16(++q.cid);
	sgl_incapsule(&c, 512, 512);
	c.cdw12 = htole32(0);
	host_send(&q, &c, data, 1024);
	assert_int_equal(host_resp(&q, NULL, NULL), 0);
	rw_cmd(&c, nvme_cmd_read, 0, 1);
	assert_int_equal(host_exec(&q, &c, NULL, 0, 512, 0, 0, NULL, NULL), 0);
	assert_memory_equal(host_arena, data + 512, 512);
	/* In-capsule data for a read. */
	rw_cmd(&c, nvme_cmd_read, 0, 8);
	c.cid = htole16(++q.cid);
	sgl_incapsule(&c, 0, 4096);
	host_send(&q, &c, data, 4096);
	assert_int_equal(host_resp(&q, NULL, NULL), GEN_DNR(NVME_SC_SGL_INVALID_TYPE));
	/* A keyed descriptor and in-capsule data besides. */
	rw_cmd(&c, nvme_cmd_write, 0, 8);
	c.cid = htole16(++q.cid);
	sgl_keyed(&c, (uintptr_t)host_arena, 4096, HOST_KEY, false);
	host_send(&q, &c, data, 512);
	assert_int_equal(host_resp(&q, NULL, NULL), GEN_DNR(NVME_SC_SGL_INVALID_TYPE));
	/* A keyed subtype that does not exist. */
	c.cid = htole16(++q.cid);
	sgl_keyed(&c, (uintptr_t)host_arena, 4096, HOST_KEY, false);
	c.dptr.sgl1.keyed.type = NVMFT_SGL_TYPE_KEYED_DATA_BLOCK << 4 | 0x3;
	host_send(&q, &c, NULL, 0);
	assert_int_equal(host_resp(&q, NULL, NULL), GEN_DNR(0x17));
	/* Segments are not offered (MSDBD 1). */
	c.cid = htole16(++q.cid);
	c.dptr.sgl1.keyed.type = NVMFT_SGL_TYPE_LAST_SEGMENT << 4;
	host_send(&q, &c, NULL, 0);
	assert_int_equal(host_resp(&q, NULL, NULL), GEN_DNR(NVME_SC_SGL_INVALID_TYPE));
	/* A keyed length that does not match the command, and one past MDTS. */
	rw_cmd(&c, nvme_cmd_write, 0, 8);
	assert_int_equal(host_exec(&q, &c, data, 8192, 0, 0, 0, NULL, NULL), GEN_DNR(NVME_SC_SGL_INVALID_DATA));
	rw_cmd(&c, nvme_cmd_read, 0, 8);
	c.cid = htole16(++q.cid);
	sgl_keyed(&c, (uintptr_t)host_arena, NVMFT_RDMA_KEYED_MAX_LEN, HOST_KEY, false);
	host_send(&q, &c, NULL, 0);
	assert_int_equal(host_resp(&q, NULL, NULL), GEN_DNR(NVME_SC_SGL_INVALID_DATA));
	/* Nothing broke: the queue still works. */
	rw_cmd(&c, nvme_cmd_read, 0, 1);
	assert_int_equal(host_exec(&q, &c, NULL, 0, 512, 0, 0, &cpl, NULL), 0);
	host_bye(&q);
	host_bye(&a);
}

/* Connect must agree with the RDMA CM on the queue and its size. */
static void test_connect_mismatch(void **state)
{
	struct env *e = *state;
	struct host a, q;
	struct nvmft_cpl cpl;

	host_admin_up(e, &a);
	host_cm(e, &q, 1, 32);
	assert_int_equal(host_fabrics_connect(&q, 1, 63, a.cntlid, IO_INCAPSULE, &cpl),
			 NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM));
	assert_int_equal(cpl.invalid.iattr, 0);
	assert_int_equal(le16toh(cpl.invalid.ipo), offsetof(struct nvmft_connect_cmd, sqsize));
	assert_int_equal(host_fabrics_connect(&q, 2, 31, a.cntlid, IO_INCAPSULE, &cpl),
			 NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM));
	assert_int_equal(le16toh(cpl.invalid.ipo), offsetof(struct nvmft_connect_cmd, qid));
	/* A smaller queue than announced is fine. */
	assert_int_equal(host_fabrics_connect(&q, 1, 15, a.cntlid, IO_INCAPSULE, NULL), 0);
	host_bye(&q);
	host_bye(&a);
}

/* ---- Broken capsules --------------------------------------------------------------------------- */

static void test_short_capsule(void **state)
{
	struct env *e = *state;
	struct host h;
	uint8_t buf[32] = { 0 };

	host_cm(e, &h, 0, 32);
	assert_int_equal(fv_host_send(h.qp, buf, sizeof(buf)), 0);
	assert_true(POLL_UNTIL(e, fv_id_destroyed(h.id)));
	assert_true(fv_id_disconnected(h.id));
	assert_true(fv_qp_destroyed(h.qp));
	/* The shared receive buffer went back. */
	assert_int_equal(fv_count_srqs(), 1);
}

static void test_long_capsule(void **state)
{
	struct env *e = *state;
	static uint8_t buf[64 + 4096 + 16];
	struct host h;

	host_cm(e, &h, 0, 32);
	/* Longer than a receive buffer: the device fails the receive. */
	assert_int_equal(fv_host_send(h.qp, buf, sizeof(buf)), 0);
	assert_true(POLL_UNTIL(e, fv_id_destroyed(h.id)));
	assert_true(fv_qp_destroyed(h.qp));
}

static void test_recv_error(void **state)
{
	struct env *e = *state;
	struct host a;
	struct nvmft_cmd c;
	int before;

	host_admin_up(e, &a);
	before = fv_qp_recvs(a.qp);
	assert_int_equal(fv_recv_error(a.qp, IBV_WC_LOC_PROT_ERR), 0);
	assert_true(POLL_UNTIL(e, fv_id_destroyed(a.id)));
	/* The shared queue has all its buffers again (the failed one was reposted). */
	assert_int_equal(fv_count_srqs(), 1);
	/* Another host works. */
	host_admin_up(e, &a);
	assert_true(fv_qp_recvs(a.qp) >= before);
	memset(&c, 0, sizeof(c));
	c.opcode = nvme_admin_keep_alive;
	assert_int_equal(host_exec(&a, &c, NULL, 0, 0, 0, 0, NULL, NULL), 0);
	host_bye(&a);
}

/* More commands than the queue has entries (possible with a shared receive queue). */
static void test_too_many_commands(void **state)
{
	struct env *e = *state;
	struct host a, q;
	struct nvmft_cmd c;
	static uint8_t data[4096];

	host_admin_up(e, &a);
	host_io_up(e, &q, &a, 1, 4);
	/* Writes whose RDMA READs the host sits on: each keeps its slot. */
	fv_hold(true);
	for (int i = 0; i < 4; i++) {
		rw_cmd(&c, nvme_cmd_write, (uint64_t)i * 8, 8);
		c.cid = htole16(++q.cid);
		sgl_keyed(&c, (uintptr_t)host_arena, 4096, HOST_KEY, false);
		host_send(&q, &c, NULL, 0);
	}
	env_settle(e);
	rw_cmd(&c, nvme_cmd_write, 64, 8);
	c.cid = htole16(++q.cid);
	sgl_incapsule(&c, 0, 4096);
	host_send(&q, &c, data, 4096);
	env_settle(e);
	fv_hold(false);
	/* The connection goes; held RDMA READs are flushed, the requests given back. */
	assert_true(POLL_UNTIL(e, fv_id_destroyed(q.id)));
	assert_true(fv_qp_in_error(q.qp));
	host_bye(&a);
}

/*
 * Late acknowledgements: the host sees a response and sends its next
 * command before the target's SEND completes.  With every slot waiting for
 * its SEND completion, the capsule waits for a slot; it does not cost the
 * host its connection.  (Found by fuzz_rdma: corpus/rdma/regress-late-ack.)
 */
static void test_late_send_completion(void **state)
{
	struct env *e = *state;
	struct host a, q;
	struct nvmft_cmd c;
	struct fv_resp r;

	for (int srq = 0; srq < 2; srq++) {
		struct nvmft_transport_opts o;

		nvmft_transport_opts_init(NVMFT_TRTYPE_RDMA, &o, sizeof(o));
		o.no_srq = srq == 0;
		env_reinit(e, &o, NULL);
		host_admin_up(e, &a);
		host_io_up(e, &q, &a, 1, 4);
		fv_defer_completions(true);
		/* One command at a time, each answered before the next: the slots wait for their SENDs. */
		for (int i = 0; i < 4; i++) {
			rw_cmd(&c, nvme_cmd_read, (uint64_t)i, 1);
			assert_int_equal(host_exec(&q, &c, NULL, 0, 512, 0, 0, NULL, NULL), 0);
		}
		assert_int_equal(fv_deferred(q.qp), 8); /* an RDMA WRITE and a SEND each */
		/* A full queue again while those 4 SENDs are not complete: these wait, in order. */
		for (int i = 0; i < 4; i++) {
			rw_cmd(&c, nvme_cmd_read, (uint64_t)i, 1);
			c.cid = htole16(++q.cid);
			sgl_keyed(&c, (uintptr_t)host_arena, 512, HOST_KEY, false);
			host_send(&q, &c, NULL, 0);
		}
		env_settle(e);
		assert_false(fv_take_resp(q.qp, &r));
		assert_false(fv_id_disconnected(q.id));
		fv_deliver(q.qp, -1);
		fv_defer_completions(false);
		for (int i = 0; i < 4; i++) {
			assert_true(POLL_UNTIL(e, fv_take_resp(q.qp, &r)));
			assert_int_equal(le16toh(((struct nvmft_cpl *)r.data)->cid), q.cid - 3 + i);
			assert_int_equal(nvmft_status_from_wire(((struct nvmft_cpl *)r.data)->status), 0);
		}
		assert_false(fv_id_disconnected(q.id));
		host_bye(&q);
		host_bye(&a);
	}
}

/*
 * Registering a buffer pool chunk fails with EAGAIN (a provider out of
 * resources): the command fails; it does not wait for buffers that nobody
 * will give back.  (Found by fuzz_rdma: corpus/rdma/regress-reg-mr-eagain.)
 */
static void test_pool_reg_eagain(void **state)
{
	struct env *e = *state;
	struct host a;
	struct nvmft_cpl cpl;

	host_cm(e, &a, 0, 32);
	fv_fail(FV_FAIL_REG_MR, 1, EAGAIN);
	/* Connect data by RDMA READ needs a pool buffer: its registration fails. */
	assert_int_equal(host_fabrics_connect(&a, 0, 31, NVMFT_CNTLID_DYNAMIC, 0, &cpl),
			 NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
	/* The next one gets its buffer. */
	assert_int_equal(host_fabrics_connect(&a, 0, 31, NVMFT_CNTLID_DYNAMIC, 0, &cpl), 0);
	host_bye(&a);
}

/*
 * Two Connects of one queue pair, the second sent while the first one's
 * data is still being fetched by RDMA READ: the first connects, the second
 * gets Command Sequence Error; no second controller.  (Found by fuzz_rdma:
 * corpus/rdma/regress-connect-twice-in-flight.)
 */
static void test_connect_twice_in_flight(void **state)
{
	struct env *e = *state;
	struct host a;
	struct nvmft_connect_cmd c;
	struct nvmf_connect_data d;
	struct fv_resp r;
	struct nvmft_cpl cpl[2];

	host_cm(e, &a, 0, 32);
	memset(&d, 0, sizeof(d));
	memset(d.hostid, 0x5a, sizeof(d.hostid));
	d.cntlid = htole16(NVMFT_CNTLID_DYNAMIC);
	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "%s", SUBNQN);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", HOSTNQN);
	memcpy(host_arena, &d, sizeof(d));
	fv_defer_completions(true);
	for (int i = 0; i < 2; i++) {
		memset(&c, 0, sizeof(c));
		c.opcode = NVMFT_OPC_FABRICS;
		c.fctype = NVMFT_FCTYPE_CONNECT;
		c.sqsize = htole16(31);
		c.cid = htole16(++a.cid);
		sgl_keyed((struct nvmft_cmd *)&c, (uintptr_t)host_arena, sizeof(d), HOST_KEY, false);
		host_send(&a, (struct nvmft_cmd *)&c, NULL, 0);
	}
	env_settle(e);
	assert_false(fv_take_resp(a.qp, &r));
	assert_int_equal(fv_deferred(a.qp), 2); /* both READs held */
	fv_deliver(a.qp, -1);
	fv_defer_completions(false);
	for (int i = 0; i < 2; i++) {
		assert_true(POLL_UNTIL(e, fv_take_resp(a.qp, &r)));
		memcpy(&cpl[i], r.data, sizeof(cpl[i]));
		assert_int_equal(le16toh(cpl[i].cid), a.cid - 1 + i);
	}
	assert_int_equal(nvmft_status_from_wire(cpl[0].status), 0);
	assert_int_equal(nvmft_status_from_wire(cpl[1].status),
			 NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR));
	assert_int_equal(tu_ctrlr_count(e->ss), 1);
	assert_false(fv_id_disconnected(a.id));
	host_bye(&a);
	assert_true(POLL_UNTIL(e, tu_ctrlr_count(e->ss) == 0));
}

/* ---- Flow: read credits, teardown with work outstanding -------------------------------------------- */

static void test_read_credits(void **state)
{
	struct env *e = *state;
	struct fv_config cfg;
	struct host a, q;
	struct nvmft_cmd c;
	struct fv_wr held[8];
	struct fv_resp r;
	int n;

	memset(&cfg, 0, sizeof(cfg));
	cfg.attr.max_qp_wr = 16384;
	cfg.attr.max_sge = 32;
	cfg.attr.max_cqe = 32767;
	cfg.attr.max_srq_wr = 16384;
	cfg.attr.max_qp_rd_atom = 16;
	cfg.attr.max_qp_init_rd_atom = 1;
	env_reinit(e, NULL, &cfg);
	host_admin_up(e, &a);
	host_io_up(e, &q, &a, 1, 32);
	fv_hold(true);
	for (int i = 0; i < 3; i++) {
		fill(host_arena + i * 4096, 4096, (uint32_t)i + 20);
		rw_cmd(&c, nvme_cmd_write, (uint64_t)i * 8, 8);
		c.cid = htole16(++q.cid);
		sgl_keyed(&c, (uintptr_t)(host_arena + i * 4096), 4096, HOST_KEY, false);
		host_send(&q, &c, NULL, 0);
	}
	env_settle(e);
	/* One RDMA READ at a time: the device allows one outstanding. */
	n = fv_held(q.qp, held, 8);
	assert_int_equal(n, 1);
	assert_int_equal(held[0].opcode, IBV_WR_RDMA_READ);
	assert_int_equal(held[0].remote_addr, (uintptr_t)host_arena);
	assert_int_equal(held[0].rkey, HOST_KEY);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(fv_run(q.qp, 1), 1);
		env_settle(e);
		n = fv_held(q.qp, held, 8);
		/* The first write's response (SEND) and the next READ, in that order of need. */
		assert_true(n >= 1);
		assert_int_equal(held[n - 1].opcode, IBV_WR_RDMA_READ);
		assert_int_equal(held[n - 1].remote_addr, (uintptr_t)(host_arena + i * 4096));
		fv_run(q.qp, n - 1);
	}
	fv_hold(false);
	fv_run(q.qp, -1);
	for (int i = 0; i < 3; i++) {
		assert_true(POLL_UNTIL(e, fv_take_resp(q.qp, &r)));
		assert_int_equal(nvmft_status_from_wire(((struct nvmft_cpl *)r.data)->status), 0);
	}
	rw_cmd(&c, nvme_cmd_read, 0, 24);
	assert_int_equal(host_exec(&q, &c, NULL, 0, 3 * 4096, 65536, 0, NULL, NULL), 0);
	for (int i = 0; i < 3; i++) {
		uint8_t want[4096];

		fill(want, sizeof(want), (uint32_t)i + 20);
		assert_memory_equal(host_arena + 65536 + i * 4096, want, sizeof(want));
	}
	host_bye(&q);
	host_bye(&a);
}

/* A host that goes while RDMA READs and responses are outstanding. */
static void test_flush_on_teardown(void **state)
{
	struct env *e = *state;
	struct host a, q;
	struct nvmft_cmd c;
	struct fv_wr held[16];

	host_admin_up(e, &a);
	host_io_up(e, &q, &a, 1, 32);
	fv_hold(true);
	rw_cmd(&c, nvme_cmd_write, 0, 16);
	c.cid = htole16(++q.cid);
	sgl_keyed(&c, (uintptr_t)host_arena, 8192, HOST_KEY, false);
	host_send(&q, &c, NULL, 0);
	rw_cmd(&c, nvme_cmd_read, 0, 16);
	c.cid = htole16(++q.cid);
	sgl_keyed(&c, (uintptr_t)host_arena + 65536, 8192, HOST_KEY, true);
	host_send(&q, &c, NULL, 0);
	env_settle(e);
	/* A READ for the write, a WRITE and the SEND for the read. */
	assert_int_equal(fv_held(q.qp, held, 16), 3);
	fv_hold(false);
	/* The host leaves: all three are flushed; only then may the buffers go. */
	fv_host_disconnect(q.id);
	assert_true(POLL_UNTIL(e, fv_id_destroyed(q.id)));
	assert_true(fv_qp_destroyed(q.qp));
	host_bye(&a);
}

/* The poll group stops with I/O outstanding: the target disconnects and waits for the flushes. */
static void test_stop_with_io(void **state)
{
	struct env *e = *state;
	struct host a, q;
	struct nvmft_cmd c;

	host_admin_up(e, &a);
	host_io_up(e, &q, &a, 1, 32);
	fv_hold(true);
	rw_cmd(&c, nvme_cmd_write, 0, 8);
	c.cid = htole16(++q.cid);
	sgl_keyed(&c, (uintptr_t)host_arena, 4096, HOST_KEY, false);
	host_send(&q, &c, NULL, 0);
	env_settle(e);
	fv_hold(false);
	/* env_fini stops the group: the target's disconnect flushes the held READ. */
}

static void test_device_removal(void **state)
{
	struct env *e = *state;
	struct host a, q;
	struct nvmft_cmd c;
	uint16_t sts = 0;
	struct fv_id *id;
	int mrs;

	host_admin_up(e, &a);
	host_io_up(e, &q, &a, 1, 32);
	rw_cmd(&c, nvme_cmd_write, 0, 8);
	assert_int_equal(host_exec(&q, &c, host_arena + 4096, 4096, 0, 0, 0, NULL, NULL), 0);
	mrs = fv_count_mrs();
	assert_true(mrs > 0);
	fv_device_removal(q.id);
	fv_device_removal(a.id);
	assert_true(POLL_UNTIL(e, fv_id_destroyed(q.id) && fv_id_destroyed(a.id)));
	/* The group let go of the device: CQ, SRQ, receive buffers and pool registrations. */
	assert_true(POLL_UNTIL(e, fv_count_cqs() == 0));
	assert_int_equal(fv_count_srqs(), 0);
	assert_int_equal(fv_count_mrs(), 0);
	/* A new connection on the removed device is refused. */
	id = fv_connect_queue(fv_listener(), 0, 32);
	assert_true(POLL_UNTIL(e, fv_id_destroyed(id)));
	assert_true(fv_id_rejected(id, NULL, &sts));
	assert_int_equal(sts, NVMFT_RDMA_CM_REJ_NO_RESOURCES);
}

/* ---- Options: receive queue per queue pair, CQ growth, event-driven wake-ups ---------------------- */

static void test_per_qpair_rq(void **state)
{
	struct env *e = *state;
	struct nvmft_transport_opts o;
	struct host a, q;
	struct nvmft_cmd c;
	static uint8_t w[16384];

	nvmft_transport_opts_init(NVMFT_TRTYPE_RDMA, &o, sizeof(o));
	o.no_srq = true;
	env_reinit(e, &o, NULL);
	host_admin_up(e, &a);
	assert_false(fv_qp_has_srq(a.qp));
	assert_int_equal(fv_count_srqs(), 0);
	host_io_up(e, &q, &a, 1, 16);
	/* Its own receive queue: one buffer per entry, each posted again before the response. */
	assert_int_equal(fv_qp_recvs(q.qp), 16);
	fill(w, sizeof(w), 5);
	rw_cmd(&c, nvme_cmd_write, 100, 32);
	assert_int_equal(host_exec(&q, &c, w, sizeof(w), 0, 0, 0, NULL, NULL), 0);
	rw_cmd(&c, nvme_cmd_write, 200, 8);
	assert_int_equal(host_exec(&q, &c, w, 4096, 0, 0, IO_INCAPSULE, NULL, NULL), 0);
	assert_int_equal(fv_qp_recvs(q.qp), 16);
	rw_cmd(&c, nvme_cmd_read, 100, 32);
	assert_int_equal(host_exec(&q, &c, NULL, 0, sizeof(w), 131072, 0, NULL, NULL), 0);
	assert_memory_equal(host_arena + 131072, w, sizeof(w));
	/* The queue is full: one more capsule finds no buffer (an RNR for the host). */
	for (int i = 0; i < 16; i++) {
		uint8_t cap[64] = { 0 };

		cap[2] = (uint8_t)(100 + i); /* Flush, CID 100.. */
		assert_int_equal(fv_host_send(q.qp, cap, sizeof(cap)), 0);
	}
	assert_int_equal(fv_host_send(q.qp, w, 64), -ENOBUFS);
	for (int i = 0; i < 16; i++) {
		struct fv_resp r;

		assert_true(POLL_UNTIL(e, fv_take_resp(q.qp, &r)));
	}
	assert_int_equal(fv_qp_recvs(q.qp), 16);
	host_bye(&q);
	host_bye(&a);
}

static void test_cq_grows(void **state)
{
	struct env *e = *state;
	struct nvmft_transport_opts o;
	struct host h[6];
	uint16_t sts = 0;
	struct fv_id *id;

	nvmft_transport_opts_init(NVMFT_TRTYPE_RDMA, &o, sizeof(o));
	o.max_srq_depth = 64;
	o.max_queue_depth = 1024;
	env_reinit(e, &o, NULL);
	host_admin_up(e, &h[0]);
	/* The first deep queue needs a bigger CQ; when it cannot grow, no resources. */
	fv_fail(FV_FAIL_RESIZE_CQ, 1, ENOMEM);
	id = fv_connect_queue(fv_listener(), 1, 1024);
	assert_true(POLL_UNTIL(e, fv_id_destroyed(id)));
	assert_true(fv_id_rejected(id, NULL, &sts));
	assert_int_equal(sts, NVMFT_RDMA_CM_REJ_NO_RESOURCES);
	assert_int_equal(fv_count_resize_cq(), 0);
	for (int i = 1; i < 6; i++)
		host_io_up(e, &h[i], &h[0], (uint16_t)i, 1024);
	assert_true(fv_count_resize_cq() >= 1);
	for (int i = 5; i >= 0; i--)
		host_bye(&h[i]);
}

static void test_event_driven(void **state)
{
	struct env *e = *state;
	struct epoll_event ev;
	struct host a;
	struct nvmft_cmd c;
	struct fv_resp r;
	int fd = nvmft_poll_group_get_fd(e->pg);

	host_admin_up(e, &a);
	env_settle(e);
	/* Idle: nothing to wake up for. */
	assert_int_equal(epoll_wait(fd, &ev, 1, 0), 0);
	memset(&c, 0, sizeof(c));
	c.opcode = nvme_admin_keep_alive;
	c.cid = htole16(++a.cid);
	host_send(&a, &c, NULL, 0);
	/* A capsule arrived: the completion channel makes the group's descriptor readable. */
	assert_int_equal(epoll_wait(fd, &ev, 1, 0), 1);
	assert_true(POLL_UNTIL(e, fv_take_resp(a.qp, &r)));
	env_settle(e);
	assert_int_equal(epoll_wait(fd, &ev, 1, 0), 0);
	/* So does a CM event. */
	fv_host_disconnect(a.id);
	assert_int_equal(epoll_wait(fd, &ev, 1, 0), 1);
	assert_true(POLL_UNTIL(e, fv_id_destroyed(a.id)));
}

/*
 * A write stuck in its backend when its namespace goes: the host is
 * answered at the drain deadline, but the capsule holding the write data
 * stays out of the receive queue until the backend lets go of it.
 */
static void test_orphan_keeps_capsule(void **state)
{
	struct env *e = *state;
	struct nvmft_target_opts to;
	struct nvmft_ns *ns2 = NULL;
	struct nvmft_backend *be2;
	struct tb *tb;
	struct host a, q;
	struct nvmft_cmd c;
	static uint8_t w[4096];
	struct fv_resp r = { .len = 0 };
	int added = 1, removed = 1, full;

	env_fini(e);
	nvmft_target_opts_init(&to, sizeof(to));
	to.drain_timeout_ms = 50;
	env_init_tgt(e, &to, NULL, NULL);
	assert_int_equal(tb_new("rdma-hang", 4096, 512, 0, TB_INLINE, &tb, &be2), 0);
	assert_int_equal(nvmft_ns_add(e->ss, be2, NULL, done_cb, &added, &ns2), 0);
	assert_true(POLL_UNTIL(e, added != 1));
	host_admin_up(e, &a);
	host_io_up(e, &q, &a, 1, 32);
	full = fv_qp_recvs(q.qp);
	tb_hold(tb, true);
	rw_cmd(&c, nvme_cmd_write, 0, 8);
	c.nsid = htole32(2);
	c.cid = htole16(++q.cid);
	sgl_incapsule(&c, 0, sizeof(w));
	host_send(&q, &c, w, sizeof(w));
	assert_true(POLL_UNTIL(e, tb_held(tb) == 1));
	nvmft_ns_remove(ns2, done_cb, &removed);
	/* Answered at the deadline (50 ms): Namespace Not Ready, DNR. */
	for (int i = 0; i < 2000 && !fv_take_resp(q.qp, &r); i++) {
		env_poll(e);
		usleep(1000);
	}
	assert_int_equal(nvmft_status_from_wire(((struct nvmft_cpl *)r.data)->status),
			 NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY));
	env_settle(e);
	/* The backend may still read the in-capsule data: that buffer is not posted again. */
	assert_int_equal(fv_qp_recvs(q.qp), full - 1);
	assert_int_equal(tb_release(tb), 1);
	assert_true(POLL_UNTIL(e, fv_qp_recvs(q.qp) == full));
	assert_true(POLL_UNTIL(e, removed != 1));
	/* The slot is usable again. */
	rw_cmd(&c, nvme_cmd_write, 0, 8);
	assert_int_equal(host_exec(&q, &c, w, sizeof(w), 0, 0, IO_INCAPSULE, NULL, NULL), 0);
	host_bye(&q);
	host_bye(&a);
	env_fini(e);
	nvmft_backend_free(be2);
	env_init(e, NULL, NULL);
}

static void test_options(void **state)
{
	struct env *e = *state;
	struct nvmft_transport_opts o;
	struct nvmft_transport *tr = NULL;
	struct nvmft_target *tgt;

	(void)e;
	assert_int_equal(nvmft_transport_opts_init(NVMFT_TRTYPE_RDMA, &o, sizeof(o)), 0);
	assert_int_equal(o.in_capsule_data_size, 4096);
	assert_int_equal(o.max_srq_depth, 4096);
	assert_false(o.no_srq);
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	o.max_srq_depth = 8;
	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_RDMA, &o, &tr), -EINVAL);
	o.no_srq = true;
	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_RDMA, &o, &tr), 0);
	assert_non_null(tr);
	/* The verbs can only change before devices are open. */
	assert_int_equal(nvmft_rdma_set_verbs(tr, &fv_verbs), 0);
	assert_int_equal(nvmft_rdma_set_verbs(tr, NULL), -EINVAL);
	nvmft_target_free(tgt);
	/* Listening opened the devices: too late now. */
	assert_int_equal(nvmft_rdma_set_verbs(e->tr, &fv_verbs), -EBUSY);
}

static void test_listen_errors(void **state)
{
	struct env *e = *state;
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV6,
					.traddr = "2001:db8::1", .trsvcid = "4421" };
	struct nvmft_listener *l = NULL;

	assert_int_equal(nvmft_listener_new(e->tr, &lo, &l), 0);
	assert_string_equal(nvmft_listener_get_trsvcid(l), "4421");
	nvmft_listener_destroy(l, NULL, NULL);
	lo.traddr = "not-an-address";
	assert_int_equal(nvmft_listener_new(e->tr, &lo, &l), -EINVAL);
	lo.adrfam = NVMFT_ADRFAM_INTRA_HOST;
	lo.traddr = "/tmp/x";
	assert_int_equal(nvmft_listener_new(e->tr, &lo, &l), -EAFNOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reject_bad_private_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_negotiates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_when_no_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_qp_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_and_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discovery_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_send_inv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sgl_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_capsule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_capsule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recv_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_send_completion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_reg_eagain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_twice_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_credits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_on_teardown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_with_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_removal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_qpair_rq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cq_grows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_driven, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphan_keeps_capsule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
