/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Commands the controller refuses, over the real transport: before
 * Connect, Connect itself with every kind of bad parameter, more I/O
 * queues than allowed, bad namespaces and ranges, transfers past MDTS, bad
 * SGL descriptors and unknown opcodes.  Each one completes with its exact
 * NVMe status (and, for Connect, the IATTR/IPO of the field), and the
 * connection goes on serving commands afterwards.  Once its hosts are
 * gone, each scenario leaves the group as it found it: no queue pair,
 * request or pool buffer behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_env.h"

#define GEN(sc) NVMFT_STATUS_DNR(NVME_SCT_GENERIC, sc)
#define CMD(sc) NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, sc)
#define SEQ_DNR GEN(NVME_SC_CMD_SEQ_ERROR)
#define CONNECT_INVALID CMD(NVME_SC_CONNECT_INVALID_PARAM)
#define IPO_CNTLID offsetof(struct nvmf_connect_data, cntlid)
#define IPO_SUBNQN offsetof(struct nvmf_connect_data, subsysnqn)
#define IPO_HOSTNQN offsetof(struct nvmf_connect_data, hostnqn)
#define IPO_QID offsetof(struct nvmft_connect_cmd, qid)
#define IPO_SQSIZE offsetof(struct nvmft_connect_cmd, sqsize)
#define OTHER_NQN "nqn.2014-08.org.nvmexpress:uuid:00000000-1111-2222-3333-444444444444"

static struct nvmft_cmd plain(uint8_t opcode)
{
	struct nvmft_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = opcode;
	return c;
}

static struct nvmft_cmd fabrics(uint8_t fctype)
{
	struct nvmft_cmd c = plain(NVMFT_OPC_FABRICS);

	((struct nvmft_fabrics_cmd *)&c)->fctype = fctype;
	return c;
}

/* The scenario's hosts go; the group returns to what penv_count() saw at its start. */
static void finish(struct penv *e, const struct penv_idle *idle)
{
	penv_drop_all(e);
	penv_assert_idle(e, idle);
}

/* Run @c with @io; expect @st, and a connection that still answers. */
static void expect(struct th *h, struct nvmft_cmd c, const struct th_io *io, uint16_t st)
{
	TH_ASSERT_ST(h, th_exec(h, &c, io, NULL), st);
}

/* ---- Before Connect ------------------------------------------------------------------------- */

static void test_before_connect(void **state)
{
	struct penv *e = *state;
	uint8_t buf[4096] = { 0 };
	struct th_io rd = { .rdata = buf, .rlen = sizeof(buf) };
	struct th_io wr_icd = { .wdata = buf, .wlen = 512, .flags = TH_IO_INCAPSULE };
	struct th_io wr_r2t = { .wdata = buf, .wlen = 512 };
	struct nvmft_cmd prop = fabrics(NVMFT_FCTYPE_PROPERTY_GET);
	struct penv_idle idle;
	uint16_t cntlid;
	struct th *h;

	penv_count(e, &idle);
	h = penv_host(e);
	assert_int_equal(th_icreq(h, 0, 3, 0), 0);
	expect(h, th_identify_cmd(NVME_IDENTIFY_CNS_CTRL, 0), &rd, SEQ_DNR);
	expect(h, plain(nvme_admin_keep_alive), NULL, SEQ_DNR);
	((struct nvmft_prop_cmd *)&prop)->offset = htole32(NVME_REG_CAP);
	expect(h, prop, NULL, SEQ_DNR);
	expect(h, fabrics(NVMFT_FCTYPE_PROPERTY_SET), NULL, SEQ_DNR);
	expect(h, fabrics(NVMFT_FCTYPE_DISCONNECT), NULL, SEQ_DNR);
	expect(h, th_rw_cmd(false, 1, 0, 8), &rd, SEQ_DNR);
	expect(h, th_rw_cmd(true, 1, 0, 1), &wr_icd, SEQ_DNR);
	/* No R2T for a command that cannot run. */
	expect(h, th_rw_cmd(true, 1, 0, 1), &wr_r2t, SEQ_DNR);
	assert_true(th_quiet(h, 20));
	/* The queue can still be connected. */
	TH_ASSERT_ST(h, th_connect_admin(h, 31, &cntlid), 0);
	/* An I/O queue before the controller is enabled: retry later (no DNR). */
	{
		struct th *io = penv_host(e);

		assert_int_equal(th_icreq(io, 0, 0, 0), 0);
		TH_ASSERT_ST(io, th_connect_io(io, 1, 31, cntlid),
			     NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR));
		TH_ASSERT_ST(h, th_enable(h), 0);
		TH_ASSERT_ST(io, th_connect_io(io, 1, 31, cntlid), 0);
		TH_ASSERT_HEALTHY(io);
	}
	TH_ASSERT_HEALTHY(h);
	finish(e, &idle);
}

/* ---- Connect -------------------------------------------------------------------------------- */

/* Connect @a; expect @st and, for Invalid Parameters, the field's IATTR/IPO. */
static void connect_fails(struct th *h, const struct th_connect_args *a, uint16_t st, int iattr,
			  int ipo)
{
	struct nvmft_cpl cpl;

	TH_ASSERT_ST(h, th_connect_raw(h, a, &cpl), st);
	if (iattr >= 0) {
		assert_int_equal(cpl.invalid.iattr, iattr);
		assert_int_equal(le16toh(cpl.invalid.ipo), ipo);
	}
}

static void test_connect_admin_errors(void **state)
{
	struct penv *e = *state;
	struct th_connect_args a = { .qid = 0, .sqsize = 31, .cntlid = NVMFT_CNTLID_DYNAMIC };
	struct penv_idle idle;
	struct th *h;

	penv_count(e, &idle);
	h = penv_host(e);
	assert_int_equal(th_icreq(h, 0, 0, 0), 0);
	a.cntlid = 5;
	connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_DATA, IPO_CNTLID);
	a.cntlid = NVMFT_CNTLID_DYNAMIC;
	a.sqsize = 30; /* fewer than 32 entries */
	connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_CMD, IPO_SQSIZE);
	a.sqsize = 128; /* more than max_aq_depth */
	connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_CMD, IPO_SQSIZE);
	a.sqsize = 31;
	a.subnqn = "nqn.2024-01.io.nvmft:nobody-here";
	connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_DATA, IPO_SUBNQN);
	a.subnqn = "not an nqn";
	connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_DATA, IPO_SUBNQN);
	a.subnqn = NULL;
	a.hostnqn = "not an nqn either";
	connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_DATA, IPO_HOSTNQN);
	a.hostnqn = NULL;
	/* Record format 1 does not exist. */
	{
		struct nvmft_connect_cmd c;
		struct nvmf_connect_data d;
		struct th_io io = { .wdata = &d, .wlen = sizeof(d), .flags = TH_IO_INCAPSULE };

		memset(&c, 0, sizeof(c));
		memset(&d, 0, sizeof(d));
		c.opcode = NVMFT_OPC_FABRICS;
		c.fctype = NVMFT_FCTYPE_CONNECT;
		c.recfmt = htole16(1);
		c.sqsize = htole16(31);
		d.cntlid = htole16(NVMFT_CNTLID_DYNAMIC);
		strcpy(d.subsysnqn, PENV_SUBNQN);
		strcpy(d.hostnqn, TH_HOSTNQN);
		expect(h, *(struct nvmft_cmd *)&c, &io, CMD(NVME_SC_CONNECT_FORMAT));
		/* Connect data that is not 1024 bytes, or not there. */
		c.recfmt = 0;
		io.wlen = 512;
		expect(h, *(struct nvmft_cmd *)&c, &io, GEN(NVME_SC_SGL_INVALID_DATA));
		expect(h, *(struct nvmft_cmd *)&c, NULL, GEN(NVME_SC_SGL_INVALID_DATA));
	}
	/* After all that, the queue connects, once. */
	TH_ASSERT_ST(h, th_connect_raw(h, &a, NULL), 0);
	connect_fails(h, &a, SEQ_DNR, -1, 0);
	TH_ASSERT_ST(h, th_enable(h), 0);
	TH_ASSERT_HEALTHY(h);
	finish(e, &idle);
}

static void test_connect_io_errors(void **state)
{
	struct penv *e = *state;
	struct th_connect_args a = { .qid = 1, .sqsize = 31 };
	struct penv_idle idle;
	struct th *admin, *h;
	uint8_t hostid[16];
	uint16_t cntlid;

	penv_count(e, &idle);
	admin = penv_admin(e, 0, &cntlid);
	h = penv_host(e);
	assert_int_equal(th_icreq(h, 0, 0, 0), 0);
	/* A controller that does not exist. */
	a.cntlid = (uint16_t)(cntlid + 100);
	connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_DATA, IPO_CNTLID);
	a.cntlid = NVMFT_CNTLID_DYNAMIC;
	connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_DATA, IPO_CNTLID);
	a.cntlid = cntlid;
	/* Someone else's controller: another host NQN, or the same NQN with another host ID. */
	a.hostnqn = OTHER_NQN;
	connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_DATA, IPO_HOSTNQN);
	a.hostnqn = NULL;
	memset(hostid, 0x42, sizeof(hostid));
	a.hostid = hostid;
	connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_DATA, IPO_HOSTNQN);
	a.hostid = NULL;
	/* Another subsystem: one that does not exist, one that has no such controller. */
	a.subnqn = "nqn.2024-01.io.nvmft:nobody-here";
	connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_DATA, IPO_SUBNQN);
	a.subnqn = PENV_SUBNQN2;
	connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_DATA, IPO_CNTLID);
	a.subnqn = NULL;
	/* Queue sizes: 1 entry, and more than max_queue_depth. */
	a.sqsize = 0;
	connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_CMD, IPO_SQSIZE);
	a.sqsize = 128;
	connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_CMD, IPO_SQSIZE);
	a.sqsize = 31;
	TH_ASSERT_ST(h, th_connect_raw(h, &a, NULL), 0);
	TH_ASSERT_HEALTHY(h);
	/* The same queue ID twice. */
	{
		struct th *dup = penv_host(e);

		assert_int_equal(th_icreq(dup, 0, 0, 0), 0);
		connect_fails(dup, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_CMD, IPO_QID);
	}
	TH_ASSERT_HEALTHY(admin);
	finish(e, &idle);
}

/* Number of Queues says two I/O queues: a third is refused; so is one past max_qpairs. */
static void test_too_many_queues(void **state)
{
	struct penv *e = *state;
	struct nvmft_transport_opts o;
	struct nvmft_cmd sf = plain(nvme_admin_set_features);
	struct nvmft_cpl cpl;
	struct penv_idle idle;
	uint16_t cntlid;
	struct th *admin;

	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o));
	o.max_qpairs_per_ctrlr = 4; /* admin + 3 I/O */
	penv_reinit(e, &(struct penv_opts){ .tr = &o });
	penv_count(e, &idle);
	/* Without Set Features: qid 1..3 exist, 4 does not. */
	admin = penv_admin(e, 0, &cntlid);
	for (uint16_t qid = 1; qid <= 4; qid++) {
		struct th *h = penv_host(e);
		struct th_connect_args a = { .qid = qid, .sqsize = 31, .cntlid = cntlid };

		assert_int_equal(th_icreq(h, 0, 0, 0), 0);
		if (qid < 4)
			TH_ASSERT_ST(h, th_connect_raw(h, &a, NULL), 0);
		else
			connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_CMD, IPO_QID);
	}
	TH_ASSERT_HEALTHY(admin);
	/* A second controller asks for two I/O queues (NSQR/NCQR 1, 0's based). */
	admin = penv_admin(e, 0, &cntlid);
	sf.cdw10 = htole32(NVME_FEAT_FID_NUM_QUEUES);
	sf.cdw11 = htole32(1u << 16 | 1u);
	TH_ASSERT_ST(admin, th_exec(admin, &sf, NULL, &cpl), 0);
	assert_int_equal(le32toh(cpl.dw0), 1u << 16 | 1u);
	for (uint16_t qid = 1; qid <= 3; qid++) {
		struct th *h = penv_host(e);
		struct th_connect_args a = { .qid = qid, .sqsize = 31, .cntlid = cntlid };

		assert_int_equal(th_icreq(h, 0, 0, 0), 0);
		if (qid < 3)
			TH_ASSERT_ST(h, th_connect_raw(h, &a, NULL), 0);
		else
			connect_fails(h, &a, CONNECT_INVALID, NVMFT_CONNECT_IATTR_CMD, IPO_QID);
	}
	TH_ASSERT_HEALTHY(admin);
	finish(e, &idle);
}

/* A subsystem that lets only listed hosts in. */
static void test_host_not_allowed(void **state)
{
	struct penv *e = *state;
	struct penv_idle idle;
	struct th *h;

	penv_reinit(e, &(struct penv_opts){ .deny_any_host = true, .no_host_allowed = true });
	penv_count(e, &idle);
	h = penv_host(e);
	assert_int_equal(th_icreq(h, 0, 0, 0), 0);
	TH_ASSERT_ST(h, th_connect_admin(h, 31, NULL), CMD(NVME_SC_CONNECT_INVALID_HOST));
	/* Once allowed, the same queue connects. */
	assert_int_equal(nvmft_subsystem_add_host(e->ss, TH_HOSTNQN), 0);
	TH_ASSERT_ST(h, th_connect_admin(h, 31, NULL), 0);
	TH_ASSERT_ST(h, th_enable(h), 0);
	TH_ASSERT_HEALTHY(h);
	finish(e, &idle);
}

/* ---- I/O and admin commands ----------------------------------------------------------------- */

static void test_io_errors(void **state)
{
	struct penv *e = *state;
	static uint8_t buf[256 * 1024];
	struct penv_idle idle;
	struct th *h;
	struct th_io rd = { .rdata = buf, .rlen = PENV_BLOCK };
	struct th_io wr = { .wdata = buf, .wlen = PENV_BLOCK, .flags = TH_IO_INCAPSULE };
	struct th_io big = { .rdata = buf, .rlen = sizeof(buf) };
	struct th_io bigw = { .wdata = buf, .wlen = sizeof(buf) };
	struct th_io rd2 = { .rdata = buf, .rlen = 2 * PENV_BLOCK };
	static const uint8_t bad_opc[] = { 0x03, 0x07, 0x0b, 0x7c, 0x7e, 0x84, 0xc0, 0xff };

	penv_count(e, &idle);
	h = penv_io_default(e);
	/* Namespaces that do not exist (2), NSID 0 and the broadcast NSID. */
	expect(h, th_rw_cmd(false, 2, 0, 1), &rd, GEN(NVME_SC_INVALID_NS));
	expect(h, th_rw_cmd(false, 0, 0, 1), &rd, GEN(NVME_SC_INVALID_NS));
	expect(h, th_rw_cmd(false, UINT32_MAX, 0, 1), &rd, GEN(NVME_SC_INVALID_NS));
	expect(h, th_rw_cmd(true, 7, 0, 1), &wr, GEN(NVME_SC_INVALID_NS));
	/* Past the end of the namespace, and wrapping around. */
	expect(h, th_rw_cmd(false, 1, PENV_BLOCKS - 1, 2), &rd2, GEN(NVME_SC_LBA_RANGE));
	expect(h, th_rw_cmd(false, 1, PENV_BLOCKS, 1), &rd, GEN(NVME_SC_LBA_RANGE));
	expect(h, th_rw_cmd(true, 1, UINT64_MAX, 1), &wr, GEN(NVME_SC_LBA_RANGE));
	/* 256 KiB: twice MDTS (max_io_size 128 KiB).  The write gets no R2T. */
	expect(h, th_rw_cmd(false, 1, 0, sizeof(buf) / PENV_BLOCK), &big,
	       GEN(NVME_SC_INVALID_FIELD));
	expect(h, th_rw_cmd(true, 1, 0, sizeof(buf) / PENV_BLOCK), &bigw,
	       GEN(NVME_SC_INVALID_FIELD));
	/* The SGL says less than the blocks need. */
	expect(h, th_rw_cmd(false, 1, 0, 2), &rd, GEN(NVME_SC_SGL_INVALID_DATA));
	/* Opcodes the NVM command set does not have (03h: both directions). */
	for (size_t i = 0; i < sizeof(bad_opc); i++) {
		struct nvmft_cmd c = plain(bad_opc[i]);

		c.nsid = htole32(1);
		expect(h, c, NULL, GEN(NVME_SC_INVALID_OPCODE));
	}
	/* Fabrics commands that belong to the admin queue, or do not exist. */
	expect(h, fabrics(NVMFT_FCTYPE_PROPERTY_GET), NULL, GEN(NVME_SC_INVALID_FIELD));
	expect(h, fabrics(0x10), NULL, GEN(NVME_SC_INVALID_OPCODE));
	assert_true(th_quiet(h, 20));
	TH_ASSERT_HEALTHY(h);
	finish(e, &idle);
}

static void test_admin_errors(void **state)
{
	struct penv *e = *state;
	static const uint8_t bad_opc[] = { 0x03, 0x07, 0x0b, 0x3c, 0x80, 0x84, 0xc0, 0xff };
	struct penv_idle idle;
	struct th *h;

	penv_count(e, &idle);
	h = penv_admin(e, 3, NULL);
	for (size_t i = 0; i < sizeof(bad_opc); i++)
		expect(h, plain(bad_opc[i]), NULL, GEN(NVME_SC_INVALID_OPCODE));
	expect(h, fabrics(0x10), NULL, GEN(NVME_SC_INVALID_OPCODE));
	/* Disconnect is for I/O queues only. */
	expect(h, fabrics(NVMFT_FCTYPE_DISCONNECT), NULL, CMD(NVME_SC_DISCONNECT_INVALID_QTYPE));
	assert_true(th_quiet(h, 20));
	TH_ASSERT_HEALTHY(h);
	finish(e, &idle);
}

/* ---- SGL descriptors ------------------------------------------------------------------------ */

static void sgl_case(struct th *h, bool write, uint8_t type, uint64_t addr, uint32_t len,
		     uint32_t icd_len, uint16_t st)
{
	static uint8_t buf[1024];
	struct nvmft_cmd c = th_rw_cmd(write, 1, 0, 1);
	struct th_io io = { .flags = TH_IO_KEEP_SGL };
	int cid;

	c.dptr.sgl1.addr = htole64(addr);
	c.dptr.sgl1.unkeyed.length = htole32(len);
	c.dptr.sgl1.unkeyed.type = type;
	if (icd_len > 0) {
		/* Data in the capsule whatever the descriptor says: build it by hand. */
		c.cid = htole16(0x4242);
		io.flags |= TH_IO_KEEP_CID;
		io.wdata = buf;
		io.wlen = icd_len;
		io.flags |= TH_IO_INCAPSULE;
	} else if (write) {
		io.wdata = buf;
		io.wlen = PENV_BLOCK;
	} else {
		io.rdata = buf;
		io.rlen = PENV_BLOCK;
	}
	cid = th_submit(h, &c, &io);
	assert_true(cid >= 0);
	TH_ASSERT_ST(h, th_wait(h, cid, NULL), st);
	/* Nothing else came: no R2T, no data. */
	assert_true(th_quiet(h, 20));
}

#define DATA_OFFSET (NVMFT_SGL_TYPE_DATA_BLOCK << 4 | NVMFT_SGL_SUBTYPE_OFFSET)
#define DATA_ADDRESS (NVMFT_SGL_TYPE_DATA_BLOCK << 4 | NVMFT_SGL_SUBTYPE_ADDRESS)
#define TRANSPORT (NVMFT_SGL_TYPE_TRANSPORT_DATA_BLOCK << 4 | NVMFT_SGL_SUBTYPE_TRANSPORT)
#define TYPE_INVALID GEN(NVME_SC_SGL_INVALID_TYPE)
/* SGL Descriptor Subtype Invalid (NVMe base 2.0). */
#define SUBTYPE_INVALID GEN(0x17)

static void test_sgl_errors(void **state)
{
	struct penv *e = *state;
	uint8_t w[PENV_BLOCK], r[PENV_BLOCK];
	struct penv_idle idle;
	struct th *h;

	penv_count(e, &idle);
	h = penv_io(e, 3, 0, 0, 127, 0);
	for (int write = 0; write < 2; write++) {
		/* Keyed data blocks are RDMA's; bit buckets and segments are not offered. */
		sgl_case(h, write, NVMFT_SGL_TYPE_KEYED_DATA_BLOCK << 4, 0, PENV_BLOCK, 0,
			 TYPE_INVALID);
		sgl_case(h, write, NVMFT_SGL_TYPE_KEYED_DATA_BLOCK << 4 | 0xf, 0, PENV_BLOCK, 0,
			 TYPE_INVALID);
		sgl_case(h, write, NVMFT_SGL_TYPE_BIT_BUCKET << 4, 0, PENV_BLOCK, 0, TYPE_INVALID);
		sgl_case(h, write, NVMFT_SGL_TYPE_SEGMENT << 4, 0, 16, 0, TYPE_INVALID);
		sgl_case(h, write, NVMFT_SGL_TYPE_LAST_SEGMENT << 4, 0, 16, 0, TYPE_INVALID);
		sgl_case(h, write, 0x60, 0, PENV_BLOCK, 0, TYPE_INVALID);
		sgl_case(h, write, 0xf0, 0, PENV_BLOCK, 0, TYPE_INVALID);
		/* A data block with an address (not an offset) has no place in a capsule. */
		sgl_case(h, write, DATA_ADDRESS, 0x1000, PENV_BLOCK, 0, TYPE_INVALID);
		sgl_case(h, write, NVMFT_SGL_TYPE_DATA_BLOCK << 4 | 0x5, 0, PENV_BLOCK, 0,
			 TYPE_INVALID);
		/* Transport data block with another subtype. */
		sgl_case(h, write, NVMFT_SGL_TYPE_TRANSPORT_DATA_BLOCK << 4, 0, PENV_BLOCK, 0,
			 SUBTYPE_INVALID);
		sgl_case(h, write, NVMFT_SGL_TYPE_TRANSPORT_DATA_BLOCK << 4 | 0x1, 0, PENV_BLOCK, 0,
			 SUBTYPE_INVALID);
	}
	/* In-capsule: offset not 0, longer than what the capsule carries, for a read. */
	sgl_case(h, true, DATA_OFFSET, 16, PENV_BLOCK, PENV_BLOCK, GEN(NVME_SC_SGL_INVALID_OFFSET));
	sgl_case(h, true, DATA_OFFSET, 0, 2 * PENV_BLOCK, PENV_BLOCK,
		 GEN(NVME_SC_SGL_INVALID_DATA));
	sgl_case(h, false, DATA_OFFSET, 0, PENV_BLOCK, PENV_BLOCK, TYPE_INVALID);
	/* Data in the capsule, but the descriptor says it comes later. */
	sgl_case(h, true, TRANSPORT, 0, PENV_BLOCK, PENV_BLOCK, TYPE_INVALID);
	/* And the queue still moves data both ways. */
	th_fill(w, sizeof(w), 3);
	TH_ASSERT_ST(h, th_rw(h, true, 1, 5, 1, w, sizeof(w), TH_IO_INCAPSULE), 0);
	TH_ASSERT_ST(h, th_rw(h, false, 1, 5, 1, r, sizeof(r), 0), 0);
	assert_memory_equal(r, w, sizeof(w));
	assert_int_equal(th_violations(h), 0);
	finish(e, &idle);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, penv_setup, penv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_before_connect),
		T(test_connect_admin_errors),
		T(test_connect_io_errors),
		T(test_too_many_queues),
		T(test_host_not_allowed),
		T(test_io_errors),
		T(test_admin_errors),
		T(test_sgl_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
