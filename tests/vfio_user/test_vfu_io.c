/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfio-user end to end, the good path: a client negotiates, maps a memfd as
 * guest memory, reads the PCI function's config space and regions, enables
 * the controller, identifies, creates queues and moves data through PRPs
 * (one page, two, lists, chained lists) and SGLs, checked against the
 * backend's own memory.  Plus the other NVM commands, several clients at
 * once, and the shadow doorbells.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "test_util.h"
#include "vfu_env.h"

#define NSID 1

static void test_negotiate_and_regions(void **state)
{
	struct vfu_device_info di = { .argsz = sizeof(di) };
	struct {
		struct vfu_region_info ri;
		struct vfu_cap_sparse1 sp;
	} rep;
	struct vfu_irq_info ii;
	struct ve e;
	struct vfuc *c;
	int fds[8], nfds, n;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client(&e, "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576,"
			  "\"migration\":{\"pgsize\":4096},\"twin_socket\":{\"supported\":true}}}");
	assert_int_equal(c->minor, 1);
	/* Our limits, and neither migration nor a twin socket offered back. */
	assert_non_null(strstr(c->server_caps, "\"max_msg_fds\":64"));
	assert_non_null(strstr(c->server_caps, "\"max_data_xfer_size\":1048576"));
	assert_non_null(strstr(c->server_caps, "\"pgsizes\":4096"));
	assert_null(strstr(c->server_caps, "migration"));
	assert_null(strstr(c->server_caps, "twin_socket"));
	assert_int_equal(ve_ctrlrs(&e), 1);

	n = vfuc_call(c, VFU_CMD_DEVICE_GET_INFO, &di, sizeof(di), NULL, 0, &di, sizeof(di), NULL, NULL);
	assert_int_equal(n, sizeof(di));
	assert_int_equal(di.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(di.num_regions, VFIO_PCI_NUM_REGIONS);
	assert_int_equal(di.num_irqs, VFIO_PCI_NUM_IRQS);

	for (uint32_t idx = 0; idx < VFIO_PCI_NUM_REGIONS; idx++) {
		struct vfu_region_info req = { .argsz = sizeof(rep), .index = idx };

		nfds = 0;
		memset(&rep, 0, sizeof(rep));
		n = vfuc_call(c, VFU_CMD_DEVICE_GET_REGION_INFO, &req, sizeof(req), NULL, 0, &rep,
			      sizeof(rep), fds, &nfds);
		assert_true(n >= (int)sizeof(rep.ri));
		assert_int_equal(rep.ri.index, idx);
		switch (idx) {
		case VFIO_PCI_CONFIG_REGION_INDEX:
			assert_int_equal(rep.ri.size, 4096);
			assert_int_equal(nfds, 0);
			break;
		case VFIO_PCI_BAR0_REGION_INDEX:
			/* Registers page, doorbells page(s) mappable through the descriptor. */
			assert_true(rep.ri.size >= 8192 && (rep.ri.size & (rep.ri.size - 1)) == 0);
			assert_true(rep.ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
			assert_true(rep.ri.flags & VFIO_REGION_INFO_FLAG_CAPS);
			assert_int_equal(n, sizeof(rep));
			assert_int_equal(rep.ri.cap_offset, sizeof(rep.ri));
			assert_int_equal(rep.sp.hdr.id, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
			assert_int_equal(rep.sp.nr_areas, 1);
			assert_int_equal(rep.sp.area.offset, 0x1000);
			assert_int_equal(rep.sp.area.size, 4096);
			assert_int_equal(nfds, 1);
			close(fds[0]);
			break;
		case VFIO_PCI_BAR4_REGION_INDEX:
			assert_true(rep.ri.size >= 8192);
			assert_int_equal(nfds, 0);
			break;
		default:
			assert_int_equal(rep.ri.size, 0);
			assert_int_equal(rep.ri.flags, 0);
			break;
		}
	}
	/* A buffer too small for the capability: told the size, no descriptor it could not place. */
	{
		struct vfu_region_info req = { .argsz = sizeof(rep.ri), .index = VFIO_PCI_BAR0_REGION_INDEX };

		nfds = 0;
		n = vfuc_call(c, VFU_CMD_DEVICE_GET_REGION_INFO, &req, sizeof(req), NULL, 0, &rep,
			      sizeof(rep), fds, &nfds);
		assert_int_equal(n, sizeof(rep.ri));
		assert_int_equal(rep.ri.argsz, sizeof(rep));
		assert_int_equal(nfds, 0);
	}
	for (uint32_t idx = 0; idx < VFIO_PCI_NUM_IRQS; idx++) {
		struct vfu_irq_info req = { .argsz = sizeof(req), .index = idx };

		n = vfuc_call(c, VFU_CMD_DEVICE_GET_IRQ_INFO, &req, sizeof(req), NULL, 0, &ii, sizeof(ii),
			      NULL, NULL);
		assert_int_equal(n, sizeof(ii));
		if (idx == VFIO_PCI_INTX_IRQ_INDEX) {
			assert_int_equal(ii.count, 1);
			assert_int_equal(ii.flags, VFIO_IRQ_INFO_EVENTFD);
		} else if (idx == VFIO_PCI_MSIX_IRQ_INDEX) {
			assert_int_equal(ii.count, e.max_qpairs);
			assert_int_equal(ii.flags, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE);
		} else {
			assert_int_equal(ii.count, 0);
		}
	}
	vfuc_close(c);
	assert_true(ve_wait_ctrlrs(&e, 0));
	ve_fini(&e);
}

/* Walk the capability list the way a PCI driver does. */
static void test_config_space(void **state)
{
	uint8_t cfg[256];
	uint32_t bar, ones = 0xffffffffu, msix_tbl;
	uint16_t msix_ctl;
	uint8_t pos, ids[3] = { 0 };
	struct ve e;
	struct vfuc *c;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client(&e, NULL);
	assert_int_equal(vfuc_cfg_read(c, 0, cfg, sizeof(cfg)), 0);
	assert_int_equal(cfg[PCI_CLASS_PROG], 0x02);
	assert_int_equal(cfg[PCI_CLASS_DEVICE], 0x08);
	assert_int_equal(cfg[PCI_CLASS_DEVICE + 1], 0x01);
	assert_int_equal(cfg[PCI_HEADER_TYPE], 0);
	assert_true(cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST);
	assert_int_equal(cfg[PCI_INTERRUPT_PIN], 1);
	pos = cfg[PCI_CAPABILITY_LIST];
	for (int i = 0; i < 3; i++) {
		assert_true(pos >= 0x40 && pos < 0xf0);
		ids[i] = cfg[pos];
		if (cfg[pos] == PCI_CAP_ID_MSIX) {
			memcpy(&msix_ctl, &cfg[pos + PCI_MSIX_FLAGS], 2);
			memcpy(&msix_tbl, &cfg[pos + PCI_MSIX_TABLE], 4);
			assert_int_equal((msix_ctl & PCI_MSIX_FLAGS_QSIZE) + 1, e.max_qpairs);
			assert_int_equal(msix_tbl & PCI_MSIX_TABLE_BIR, 4);
		}
		pos = cfg[pos + PCI_CAP_LIST_NEXT];
	}
	assert_int_equal(pos, 0);
	assert_int_equal(ids[0], PCI_CAP_ID_PM);
	assert_int_equal(ids[1], PCI_CAP_ID_MSIX);
	assert_int_equal(ids[2], PCI_CAP_ID_EXP);

	/* BAR sizing: all ones in, the size mask and type bits out. */
	assert_int_equal(vfuc_cfg_write(c, PCI_BASE_ADDRESS_0, &ones, 4), 0);
	assert_int_equal(vfuc_cfg_read(c, PCI_BASE_ADDRESS_0, &bar, 4), 0);
	assert_int_equal(bar, 0xffffe000u | PCI_BASE_ADDRESS_MEM_TYPE_64);
	assert_int_equal(vfuc_cfg_write(c, PCI_BASE_ADDRESS_1, &ones, 4), 0);
	assert_int_equal(vfuc_cfg_read(c, PCI_BASE_ADDRESS_1, &bar, 4), 0);
	assert_int_equal(bar, 0xffffffffu);
	/* Read-only fields stay as they are, and writing them is no error. */
	assert_int_equal(vfuc_cfg_write(c, PCI_VENDOR_ID, &ones, 4), 0);
	assert_int_equal(vfuc_cfg_read(c, PCI_VENDOR_ID, &bar, 4), 0);
	assert_int_equal(bar, (uint32_t)cfg[0] | cfg[1] << 8 | cfg[2] << 16 | (uint32_t)cfg[3] << 24);
	/* Past the 4 KiB: refused. */
	assert_int_equal(vfuc_cfg_read(c, 4094, cfg, 4), -EINVAL);
	vfuc_close(c);
	ve_fini(&e);
}

static void test_identify(void **state)
{
	struct nvme_id_ctrl *id;
	struct nvme_id_ns *ns;
	struct ve e;
	struct vfuc *c;
	uint64_t buf;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_nvme(&e);
	buf = vfuc_alloc(c, 4096, 4096);
	assert_int_equal(vfuc_identify(c, NVME_IDENTIFY_CNS_CTRL, 0, buf), 0);
	id = vfuc_va(c, buf);
	assert_int_equal(le16toh(id->vid), 0x4e58);
	assert_int_equal(id->cntrltype, NVME_CTRL_CNTRLTYPE_IO);
	assert_true(le16toh(id->oacs) & NVME_CTRL_OACS_DBBUF_CFG);
	assert_int_equal(le32toh(id->sgls) & 3, 1);
	assert_int_equal(le32toh(id->ioccsz), 0);
	assert_int_equal(id->mdts, 5); /* 128 KiB */
	assert_int_equal(memcmp(id->subnqn, VE_NQN, strlen(VE_NQN)), 0);
	assert_int_equal(vfuc_identify(c, NVME_IDENTIFY_CNS_NS, NSID, buf), 0);
	ns = vfuc_va(c, buf);
	assert_int_equal(le64toh(ns->nsze), VE_BLOCKS);
	assert_int_equal(ns->lbaf[0].ds, 9);
	vfuc_close(c);
	ve_fini(&e);
}

/* Write a pattern at @slba with PRPs, read it back, and compare with the backend's memory too. */
static void rw_check(struct vfuc_q *q, struct ve *e, uint64_t slba, uint32_t nlb, uint32_t misalign)
{
	struct vfuc *c = q->c;
	size_t len = (size_t)nlb * VE_BS, mark = c->mem_brk;
	uint64_t w = vfuc_alloc(c, len + 4096, 4096) + misalign,
		 r = vfuc_alloc(c, len + 4096, 4096) + misalign;

	tu_fill_pattern(vfuc_va(c, w), len, (uint32_t)(slba * 7 + nlb));
	assert_int_equal(vfuc_rw(q, true, NSID, slba, nlb, VE_BS, w), 0);
	assert_memory_equal(tb_data(e->tb) + slba * VE_BS, vfuc_va(c, w), len);
	assert_int_equal(vfuc_rw(q, false, NSID, slba, nlb, VE_BS, r), 0);
	assert_memory_equal(vfuc_va(c, r), vfuc_va(c, w), len);
	c->mem_brk = mark;
}

static void test_io_prp(void **state)
{
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 64);
	rw_check(&q, &e, 0, 1, 0);     /* PRP1 only */
	rw_check(&q, &e, 8, 8, 0);     /* one page */
	rw_check(&q, &e, 16, 8, 512);  /* PRP1 + PRP2 (data) */
	rw_check(&q, &e, 32, 16, 0);   /* PRP2 as a data page */
	rw_check(&q, &e, 64, 24, 0);   /* PRP list of 2 */
	rw_check(&q, &e, 100, 128, 8); /* 64 KiB, unaligned start, list */
	rw_check(&q, &e, 300, 256, 0); /* MDTS: 128 KiB */
	for (int i = 0; i < 200; i++)
		rw_check(&q, &e, (uint64_t)(i * 13 % 4000), (uint32_t)(1 + i % 16), (uint32_t)(i % 8) * 4);
	/* More than MDTS: Invalid Field, nothing written. */
	{
		struct nvmft_cmd cmd = { .opcode = nvme_cmd_write, .nsid = htole32(NSID) };

		cmd.cdw12 = htole32(257 - 1);
		vfuc_prps(c, &cmd, vfuc_alloc(c, 257 * VE_BS, 4096), 257 * VE_BS);
		assert_int_equal(vfuc_sync(&q, &cmd, NULL), ve_st(0, NVME_SC_INVALID_FIELD, true));
	}
	vfuc_close(c);
	ve_fini(&e);
}

/* A long transfer needing a chained PRP list: a small page-straddling layout forces it. */
static void test_io_prp_chain(void **state)
{
	struct nvmft_transport_opts o;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;

	(void)state;
	nvmft_transport_opts_init(NVMFT_TRTYPE_VFIOUSER, &o, sizeof(o));
	o.max_io_size = 4u << 20; /* 1024 pages: the list spans three list pages */
	o.buf_pool_bytes = o.max_io_size;
	ve_init(&e, &o);
	c = ve_client_io(&e, &q, 16);
	rw_check(&q, &e, 0, 8192, 0);
	rw_check(&q, &e, 0, 6000, 40);
	vfuc_close(c);
	ve_fini(&e);
}

static void sgl_desc(struct nvmft_sgl_desc *d, uint8_t type, uint64_t addr, uint32_t len)
{
	memset(d, 0, sizeof(*d));
	d->addr = htole64(addr);
	d->unkeyed.length = htole32(len);
	d->unkeyed.type = (uint8_t)(type << 4);
}

static void test_io_sgl(void **state)
{
	struct nvmft_cmd cmd;
	struct nvmft_sgl_desc *seg1, *seg2;
	uint64_t a, b, d, s1, s2;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	uint8_t *expect;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 64);
	/* One data block straight in the command. */
	a = vfuc_alloc(c, 4096, 8);
	tu_fill_pattern(vfuc_va(c, a), 4096, 1);
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_cmd_write;
	cmd.flags = NVMFT_CMD_PSDT_SGL_MPTR_CONTIG << NVMFT_CMD_PSDT_SHIFT;
	cmd.nsid = htole32(NSID);
	cmd.cdw12 = htole32(7);
	sgl_desc(&cmd.dptr.sgl1, NVMFT_SGL_TYPE_DATA_BLOCK, a, 4096);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), 0);
	assert_memory_equal(tb_data(e.tb), vfuc_va(c, a), 4096);

	/* A Segment of two blocks chaining to a Last Segment of one: 1000 + 3000 + 4192 bytes. */
	b = vfuc_alloc(c, 8192, 4096);
	d = vfuc_alloc(c, 8192, 4096);
	s1 = vfuc_alloc(c, 64, 16);
	s2 = vfuc_alloc(c, 16, 16);
	seg1 = vfuc_va(c, s1);
	seg2 = vfuc_va(c, s2);
	tu_fill_pattern(vfuc_va(c, b), 8192, 2);
	sgl_desc(&seg1[0], NVMFT_SGL_TYPE_DATA_BLOCK, b + 3, 1000);
	sgl_desc(&seg1[1], NVMFT_SGL_TYPE_DATA_BLOCK, b + 4000, 3000);
	sgl_desc(&seg1[2], NVMFT_SGL_TYPE_LAST_SEGMENT, s2, 16);
	sgl_desc(&seg2[0], NVMFT_SGL_TYPE_DATA_BLOCK, d, 4192);
	tu_fill_pattern(vfuc_va(c, d), 4192, 3);
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_cmd_write;
	cmd.flags = NVMFT_CMD_PSDT_SGL_MPTR_CONTIG << NVMFT_CMD_PSDT_SHIFT;
	cmd.nsid = htole32(NSID);
	cmd.cdw10 = htole32(100);
	cmd.cdw12 = htole32(15);
	sgl_desc(&cmd.dptr.sgl1, NVMFT_SGL_TYPE_SEGMENT, s1, 48);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), 0);
	expect = malloc(8192);
	assert_non_null(expect);
	memcpy(expect, (uint8_t *)vfuc_va(c, b) + 3, 1000);
	memcpy(expect + 1000, (uint8_t *)vfuc_va(c, b) + 4000, 3000);
	memcpy(expect + 4000, vfuc_va(c, d), 4192);
	assert_memory_equal(tb_data(e.tb) + 100 * VE_BS, expect, 8192);
	/* And read back the same way into fresh memory. */
	memset(vfuc_va(c, b), 0, 8192);
	memset(vfuc_va(c, d), 0, 8192);
	cmd.opcode = nvme_cmd_read;
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), 0);
	assert_memory_equal((uint8_t *)vfuc_va(c, b) + 3, expect, 1000);
	assert_memory_equal((uint8_t *)vfuc_va(c, b) + 4000, expect + 1000, 3000);
	assert_memory_equal(vfuc_va(c, d), expect + 4000, 4192);
	/* An SGL that describes less than the command moves: Data SGL Length Invalid, from the core. */
	cmd.cdw12 = htole32(16);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), ve_st(0, NVME_SC_SGL_INVALID_DATA, true));
	free(expect);
	vfuc_close(c);
	ve_fini(&e);
}

/* Flush, Write Zeroes, Dataset Management (its ranges copied out first), Compare. */
static void test_other_commands(void **state)
{
	struct nvme_dsm_range *r;
	struct nvmft_cmd cmd;
	uint64_t buf, rng;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 64);
	buf = vfuc_alloc(c, 8192, 4096);
	rng = vfuc_alloc(c, 4096, 4096);
	memset(vfuc_va(c, buf), 0xab, 8192);
	assert_int_equal(vfuc_rw(&q, true, NSID, 0, 16, VE_BS, buf), 0);

	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_cmd_flush;
	cmd.nsid = htole32(NSID);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), 0);

	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_cmd_write_zeroes;
	cmd.nsid = htole32(NSID);
	cmd.cdw10 = htole32(2);
	cmd.cdw12 = htole32(1);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), 0);
	assert_int_equal(tb_data(e.tb)[2 * VE_BS], 0);
	assert_int_equal(tb_data(e.tb)[4 * VE_BS], 0xab);

	r = vfuc_va(c, rng);
	r[0].slba = htole64(6);
	r[0].nlb = htole32(2);
	r[1].slba = htole64(100000); /* beyond the namespace: the whole command fails */
	r[1].nlb = htole32(1);
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_cmd_dsm;
	cmd.nsid = htole32(NSID);
	cmd.cdw10 = htole32(1);
	cmd.cdw11 = htole32(1u << 2); /* AD */
	cmd.dptr.prp.prp1 = htole64(rng);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), ve_st(0, NVME_SC_LBA_RANGE, true));
	r[1].slba = htole64(10);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), 0);

	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_cmd_compare;
	cmd.nsid = htole32(NSID);
	cmd.cdw10 = htole32(12);
	cmd.dptr.prp.prp1 = htole64(buf);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), 0);
	((uint8_t *)vfuc_va(c, buf))[7] ^= 1;
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), ve_st(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED, true));
	vfuc_close(c);
	ve_fini(&e);
}

/* Many commands in flight on one queue, completions in order, the queue wrapping many times. */
static void test_queue_depth(void **state)
{
	struct nvmft_cpl cpl;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	uint64_t buf;
	uint32_t done = 0, sent = 0;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 16);
	buf = vfuc_alloc(c, 4096 * 16, 4096);
	while (done < 1000) {
		while (sent - done < 15 && sent < 1000) {
			struct nvmft_cmd cmd = { .opcode = nvme_cmd_read, .nsid = htole32(NSID) };

			cmd.dptr.prp.prp1 = htole64(buf + (sent % 16) * 4096);
			cmd.cdw10 = htole32(sent % VE_BLOCKS);
			vfuc_push(&q, &cmd);
			sent++;
		}
		assert_int_equal(vfuc_ring(&q), 0);
		assert_int_equal(vfuc_reap(&q, &cpl), 0);
		assert_int_equal(vfuc_status(&cpl), 0);
		assert_int_equal(le16toh(cpl.sqid), 1);
		done++;
	}
	vfuc_close(c);
	ve_fini(&e);
}

static void test_two_clients(void **state)
{
	uint16_t cntlid[2];
	struct vfuc_q q[2];
	struct vfuc *c[2];
	struct ve e;

	(void)state;
	ve_init(&e, NULL);
	for (int i = 0; i < 2; i++) {
		struct nvme_id_ctrl *id;
		uint64_t buf;

		c[i] = ve_client_io(&e, &q[i], 32);
		buf = vfuc_alloc(c[i], 4096, 4096);
		assert_int_equal(vfuc_identify(c[i], NVME_IDENTIFY_CNS_CTRL, 0, buf), 0);
		id = vfuc_va(c[i], buf);
		cntlid[i] = le16toh(id->cntlid);
	}
	assert_int_not_equal(cntlid[0], cntlid[1]);
	assert_int_equal(ve_ctrlrs(&e), 2);
	rw_check(&q[0], &e, 10, 8, 0);
	rw_check(&q[1], &e, 20, 8, 0);
	vfuc_close(c[0]);
	assert_true(ve_wait_ctrlrs(&e, 1));
	rw_check(&q[1], &e, 30, 8, 0);
	vfuc_close(c[1]);
	ve_fini(&e);
}

/* Shadow doorbells: the host rings BAR0 only when the EventIdx rule asks for it. */
static void test_shadow_doorbells(void **state)
{
	struct nvmft_cmd cmd = { .opcode = nvme_admin_dbbuf };
	uint32_t before;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	uint64_t buf;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_nvme(&e);
	/* Misaligned or outside the client's memory: Invalid Field. */
	cmd.dptr.prp.prp1 = htole64(vfuc_alloc(c, 4096, 4096) + 8);
	cmd.dptr.prp.prp2 = htole64(vfuc_alloc(c, 4096, 4096));
	assert_int_equal(vfuc_sync(&c->admin, &cmd, NULL), ve_st(0, NVME_SC_INVALID_FIELD, true));
	cmd.dptr.prp.prp1 = htole64(0x7000000000ull);
	assert_int_equal(vfuc_sync(&c->admin, &cmd, NULL), ve_st(0, NVME_SC_INVALID_FIELD, true));
	assert_int_equal(vfuc_nvme_dbbuf(c), 0);
	assert_int_equal(vfuc_nvme_qpair(c, 1, 32, false, 0, &q), 0);
	buf = vfuc_alloc(c, 4096, 4096);
	before = c->mmio_doorbells;
	/* Synchronous commands: the controller has seen every tail, so each ring passes EventIdx once. */
	for (int i = 0; i < 50; i++)
		assert_int_equal(vfuc_rw(&q, i & 1, NSID, (uint64_t)i, 8, VE_BS, buf), 0);
	assert_true(c->mmio_doorbells - before <= 100);
	/* Batches without polling in between: later rings land beyond EventIdx only once per batch. */
	before = c->mmio_doorbells;
	for (int round = 0; round < 20; round++) {
		struct nvmft_cpl cpl;

		for (int i = 0; i < 8; i++) {
			struct nvmft_cmd rd = { .opcode = nvme_cmd_read, .nsid = htole32(NSID) };

			rd.dptr.prp.prp1 = htole64(buf);
			vfuc_submit(&q, &rd); /* rung one at a time, no target poll between */
		}
		for (int i = 0; i < 8; i++) {
			assert_int_equal(vfuc_reap(&q, &cpl), 0);
			assert_int_equal(vfuc_status(&cpl), 0);
		}
	}
	/* 160 submissions and 160 head updates; far fewer reached BAR0. */
	assert_true(c->mmio_doorbells - before < 160);
	rw_check(&q, &e, 40, 8, 0);
	vfuc_close(c);
	ve_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiate_and_regions),
		cmocka_unit_test(test_config_space),
		cmocka_unit_test(test_identify),
		cmocka_unit_test(test_io_prp),
		cmocka_unit_test(test_io_prp_chain),
		cmocka_unit_test(test_io_sgl),
		cmocka_unit_test(test_other_commands),
		cmocka_unit_test(test_queue_depth),
		cmocka_unit_test(test_two_clients),
		cmocka_unit_test(test_shadow_doorbells),
	};

	return cmocka_run_group_tests_name("vfu_io", tests, NULL, NULL);
}
