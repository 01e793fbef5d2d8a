/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Queues, doorbells and interrupts of the vfio-user controller: queue
 * management commands with every field wrong in turn, doorbell values and
 * registers the NVMe specification calls invalid (reported by an
 * asynchronous event), data pointers into memory the client never mapped,
 * bus mastering, MSI-X (vector and function masks, pending bits), INTx
 * with INTMS/INTMC, and interrupt coalescing.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "test_util.h"
#include "vfu_env.h"

#define NSID 1
#define MSIX_CTL (0x48 + PCI_MSIX_FLAGS)

static uint16_t queue_cmd(struct vfuc *c, uint8_t opc, uint16_t qid, uint16_t qsize0, uint32_t cdw11,
			  uint64_t base)
{
	struct nvmft_cmd cmd = { .opcode = opc };

	cmd.cdw10 = htole32((uint32_t)qsize0 << 16 | qid);
	cmd.cdw11 = htole32(cdw11);
	cmd.dptr.prp.prp1 = htole64(base);
	return (uint16_t)vfuc_sync(&c->admin, &cmd, NULL);
}

static void test_queue_commands(void **state)
{
	const uint16_t bad_qid = ve_st(NVME_SCT_CMD_SPECIFIC, NVME_SC_QID_INVALID, true);
	const uint16_t bad_size = ve_st(NVME_SCT_CMD_SPECIFIC, NVME_SC_QUEUE_SIZE, true);
	const uint16_t bad_field = ve_st(0, NVME_SC_INVALID_FIELD, true);
	struct ve e;
	struct vfuc *c;
	uint64_t cqm, sqm;
	struct vfuc_q q;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_nvme(&e); /* 4 I/O queues allowed */
	cqm = vfuc_alloc(c, 64 * 16, 4096);
	sqm = vfuc_alloc(c, 64 * 64, 4096);
	/* Create I/O CQ: queue 0, beyond Number of Queues, sizes, contiguity, vector, base. */
	assert_int_equal(queue_cmd(c, nvme_admin_create_cq, 0, 63, 1, cqm), bad_qid);
	assert_int_equal(queue_cmd(c, nvme_admin_create_cq, 5, 63, 1, cqm), bad_qid);
	assert_int_equal(queue_cmd(c, nvme_admin_create_cq, 1, 0, 1, cqm), bad_size);
	assert_int_equal(queue_cmd(c, nvme_admin_create_cq, 1, 256, 1, cqm), bad_size);
	assert_int_equal(queue_cmd(c, nvme_admin_create_cq, 1, 63, 0, cqm), bad_field);
	assert_int_equal(
		queue_cmd(c, nvme_admin_create_cq, 1, 63, 1u | 2u | (uint32_t)e.max_qpairs << 16, cqm),
		ve_st(NVME_SCT_CMD_SPECIFIC, NVME_SC_INVALID_VECTOR, true));
	assert_int_equal(queue_cmd(c, nvme_admin_create_cq, 1, 63, 1, cqm + 64),
			 ve_st(0, NVME_SC_PRP_INVALID_OFFSET, true));
	assert_int_equal(queue_cmd(c, nvme_admin_create_cq, 1, 63, 1, 0x7700000000ull), bad_field);
	assert_int_equal(queue_cmd(c, nvme_admin_create_cq, 1, 63, 1, cqm), 0);
	assert_int_equal(queue_cmd(c, nvme_admin_create_cq, 1, 63, 1, cqm), bad_qid);
	/* Create I/O SQ: its CQ must exist, and the rest as for the CQ. */
	assert_int_equal(queue_cmd(c, nvme_admin_create_sq, 1, 63, 2u << 16 | 1, sqm),
			 ve_st(NVME_SCT_CMD_SPECIFIC, NVME_SC_CQ_INVALID, true));
	assert_int_equal(queue_cmd(c, nvme_admin_create_sq, 1, 63, 0u << 16 | 1, sqm),
			 ve_st(NVME_SCT_CMD_SPECIFIC, NVME_SC_CQ_INVALID, true));
	assert_int_equal(queue_cmd(c, nvme_admin_create_sq, 0, 63, 1u << 16 | 1, sqm), bad_qid);
	assert_int_equal(queue_cmd(c, nvme_admin_create_sq, 9, 63, 1u << 16 | 1, sqm), bad_qid);
	assert_int_equal(queue_cmd(c, nvme_admin_create_sq, 1, 0, 1u << 16 | 1, sqm), bad_size);
	assert_int_equal(queue_cmd(c, nvme_admin_create_sq, 1, 63, 1u << 16, sqm), bad_field);
	assert_int_equal(queue_cmd(c, nvme_admin_create_sq, 1, 63, 1u << 16 | 1, sqm + 8),
			 ve_st(0, NVME_SC_PRP_INVALID_OFFSET, true));
	assert_int_equal(queue_cmd(c, nvme_admin_create_sq, 1, 63, 1u << 16 | 1, 0x7700000000ull), bad_field);
	/* Queue memory running off the end of the mapped region. */
	assert_int_equal(
		queue_cmd(c, nvme_admin_create_sq, 1, 255, 1u << 16 | 1, VE_MEM_IOVA + VE_MEM_SIZE - 4096),
		bad_field);
	assert_int_equal(queue_cmd(c, nvme_admin_create_sq, 1, 63, 1u << 16 | 1, sqm), 0);
	assert_int_equal(queue_cmd(c, nvme_admin_create_sq, 1, 63, 1u << 16 | 1, sqm), bad_qid);
	/* Two SQs on one CQ. */
	assert_int_equal(queue_cmd(c, nvme_admin_create_sq, 2, 15, 1u << 16 | 1, vfuc_alloc(c, 4096, 4096)),
			 0);
	/* A CQ with submission queues cannot go; absent ones are invalid identifiers. */
	assert_int_equal(queue_cmd(c, nvme_admin_delete_cq, 1, 0, 0, 0),
			 ve_st(NVME_SCT_CMD_SPECIFIC, NVME_SC_INVALID_QUEUE, true));
	assert_int_equal(queue_cmd(c, nvme_admin_delete_cq, 3, 0, 0, 0), bad_qid);
	assert_int_equal(queue_cmd(c, nvme_admin_delete_cq, 0, 0, 0, 0), bad_qid);
	assert_int_equal(queue_cmd(c, nvme_admin_delete_sq, 3, 0, 0, 0), bad_qid);
	assert_int_equal(queue_cmd(c, nvme_admin_delete_sq, 0, 0, 0, 0), bad_qid);
	assert_int_equal(queue_cmd(c, nvme_admin_delete_sq, 1, 0, 0, 0), 0);
	assert_int_equal(queue_cmd(c, nvme_admin_delete_sq, 2, 0, 0, 0), 0);
	assert_int_equal(queue_cmd(c, nvme_admin_delete_sq, 2, 0, 0, 0), bad_qid);
	assert_int_equal(queue_cmd(c, nvme_admin_delete_cq, 1, 0, 0, 0), 0);
	/* Everything is free again. */
	assert_int_equal(vfuc_nvme_qpair(c, 1, 32, false, 0, &q), 0);
	assert_int_equal(vfuc_rw(&q, false, NSID, 0, 8, VE_BS, vfuc_alloc(c, 4096, 4096)), 0);
	/* Fabrics commands do not exist here, and neither do SGLs for admin commands. */
	{
		struct nvmft_cmd cmd = { .opcode = NVMFT_OPC_FABRICS };

		assert_int_equal(vfuc_sync(&c->admin, &cmd, NULL), ve_st(0, NVME_SC_INVALID_OPCODE, true));
		memset(&cmd, 0, sizeof(cmd));
		cmd.opcode = nvme_admin_identify;
		cmd.flags = NVMFT_CMD_PSDT_SGL_MPTR_CONTIG << NVMFT_CMD_PSDT_SHIFT;
		cmd.cdw10 = htole32(1);
		assert_int_equal(vfuc_sync(&c->admin, &cmd, NULL), bad_field);
		cmd.opcode = 0xc3; /* vendor specific */
		cmd.flags = 0;
		assert_int_equal(vfuc_sync(&c->admin, &cmd, NULL), ve_st(0, NVME_SC_INVALID_OPCODE, true));
	}
	vfuc_close(c);
	ve_fini(&e);
}

/* Data pointers into memory the client never mapped, malformed PRP lists and SGLs. */
static void test_bad_data_pointers(void **state)
{
	const uint16_t xfer = ve_st(0, NVME_SC_DATA_XFER_ERROR, false);
	const uint16_t prp_off = ve_st(0, NVME_SC_PRP_INVALID_OFFSET, true);
	struct nvmft_cmd cmd;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	uint64_t buf, list;
	uint64_t *l;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 32);
	buf = vfuc_alloc(c, 65536, 4096);
	list = vfuc_alloc(c, 4096, 4096);
	l = vfuc_va(c, list);
#define RD(nlb)                                                                                              \
	do {                                                                                                 \
		memset(&cmd, 0, sizeof(cmd));                                                                \
		cmd.opcode = nvme_cmd_read;                                                                  \
		cmd.nsid = htole32(NSID);                                                                    \
		cmd.cdw12 = htole32((nlb)-1);                                                                \
	} while (0)
	/* PRP1 outside any mapping, below and above guest memory. */
	RD(1);
	cmd.dptr.prp.prp1 = htole64(0x1000);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), xfer);
	cmd.dptr.prp.prp1 = htole64(VE_MEM_IOVA + VE_MEM_SIZE);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), xfer);
	/* PRP1 not dword aligned. */
	cmd.dptr.prp.prp1 = htole64(buf + 2);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), prp_off);
	/* The data runs off the end of guest memory within the first page: the next page is not mapped. */
	RD(16);
	cmd.dptr.prp.prp1 = htole64(VE_MEM_IOVA + VE_MEM_SIZE - 4096);
	cmd.dptr.prp.prp2 = htole64(VE_MEM_IOVA + VE_MEM_SIZE);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), xfer);
	/* PRP2 as a data page, not page aligned. */
	cmd.dptr.prp.prp1 = htole64(buf);
	cmd.dptr.prp.prp2 = htole64(buf + 4096 + 512);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), prp_off);
	/* PRP lists: the pointer outside, misaligned, entries outside or misaligned. */
	RD(32);
	cmd.dptr.prp.prp1 = htole64(buf);
	cmd.dptr.prp.prp2 = htole64(0x2000);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), xfer);
	cmd.dptr.prp.prp2 = htole64(list + 4);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), prp_off);
	cmd.dptr.prp.prp2 = htole64(list);
	l[0] = htole64(buf + 4096);
	l[1] = htole64(buf + 8192);
	l[2] = htole64(0x123000);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), xfer);
	l[2] = htole64(buf + 12288 + 16);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), prp_off);
	l[2] = htole64(buf + 12288);
	assert_int_equal(vfuc_sync(&q, &cmd, NULL), 0);
	/* A list that chains back to itself forever is cut off when it has served all the data. */
	{
		struct nvmft_transport_opts o;

		nvmft_transport_get_opts(e.tr, &o, sizeof(o));
		for (int i = 0; i < 511; i++)
			l[i] = htole64(buf);
		l[511] = htole64(list + 4088); /* the chain slot points at itself */
		RD(o.max_io_size / VE_BS);
		cmd.dptr.prp.prp1 = htole64(buf);
		cmd.dptr.prp.prp2 = htole64(list + 4088);
		assert_int_equal(vfuc_sync(&q, &cmd, NULL), xfer);
		l[511] = htole64(list); /* back to the start: data pages repeat, which is legal */
		cmd.dptr.prp.prp2 = htole64(list);
		assert_int_equal(vfuc_sync(&q, &cmd, NULL), 0);
	}
	/* SGLs: type, subtype, segment rules, descriptor count, data outside. */
	{
		struct nvmft_sgl_desc *seg = vfuc_va(c, list);
		const uint8_t sgl = NVMFT_CMD_PSDT_SGL_MPTR_CONTIG << NVMFT_CMD_PSDT_SHIFT;

		memset(seg, 0, 4096);
		RD(8);
		cmd.flags = sgl;
		cmd.dptr.sgl1.addr = htole64(buf);
		cmd.dptr.sgl1.unkeyed.length = htole32(4096);
		cmd.dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_BIT_BUCKET << 4;
		assert_int_equal(vfuc_sync(&q, &cmd, NULL), ve_st(0, NVME_SC_SGL_INVALID_TYPE, true));
		cmd.dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_KEYED_DATA_BLOCK << 4;
		assert_int_equal(vfuc_sync(&q, &cmd, NULL), ve_st(0, NVME_SC_SGL_INVALID_TYPE, true));
		cmd.dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_DATA_BLOCK << 4 | NVMFT_SGL_SUBTYPE_OFFSET;
		assert_int_equal(vfuc_sync(&q, &cmd, NULL), ve_st(0, 0x17, true));
		cmd.dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_DATA_BLOCK << 4;
		cmd.dptr.sgl1.addr = htole64(0x5000);
		assert_int_equal(vfuc_sync(&q, &cmd, NULL), xfer);
		/* PSDT 11b is reserved. */
		cmd.flags = 3u << NVMFT_CMD_PSDT_SHIFT;
		assert_int_equal(vfuc_sync(&q, &cmd, NULL), ve_st(0, NVME_SC_INVALID_FIELD, true));
		cmd.flags = sgl;
		/* Segments: a length that is no multiple of 16, a Segment inside a Last Segment. */
		cmd.dptr.sgl1.addr = htole64(list);
		cmd.dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_LAST_SEGMENT << 4;
		cmd.dptr.sgl1.unkeyed.length = htole32(24);
		assert_int_equal(vfuc_sync(&q, &cmd, NULL), ve_st(0, NVME_SC_SGL_INVALID_LAST, true));
		cmd.dptr.sgl1.unkeyed.length = htole32(32);
		seg[0].addr = htole64(buf);
		seg[0].unkeyed.length = htole32(2048);
		seg[1].addr = htole64(list);
		seg[1].unkeyed.length = htole32(16);
		seg[1].unkeyed.type = NVMFT_SGL_TYPE_SEGMENT << 4;
		assert_int_equal(vfuc_sync(&q, &cmd, NULL), ve_st(0, NVME_SC_SGL_INVALID_LAST, true));
		/* A Segment that chains to itself: the descriptor budget ends it. */
		cmd.dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_SEGMENT << 4;
		seg[0].unkeyed.length = htole32(1);
		seg[1].unkeyed.length = htole32(32);
		assert_int_equal(vfuc_sync(&q, &cmd, NULL), ve_st(0, NVME_SC_SGL_INVALID_COUNT, true));
		/* The segment itself outside guest memory. */
		cmd.dptr.sgl1.addr = htole64(VE_MEM_IOVA + VE_MEM_SIZE - 16);
		assert_int_equal(vfuc_sync(&q, &cmd, NULL), xfer);
	}
#undef RD
	/* After all that, the queue works. */
	assert_int_equal(vfuc_rw(&q, true, NSID, 8, 8, VE_BS, buf), 0);
	vfuc_close(c);
	ve_fini(&e);
}

static void aer_submit(struct vfuc *c)
{
	struct nvmft_cmd cmd = { .opcode = nvme_admin_async_event };

	assert_int_equal(vfuc_submit(&c->admin, &cmd), 0);
}

/* Wait for the AER's completion; returns its Dword 0. */
static uint32_t aer_wait(struct vfuc *c, struct ve *e)
{
	struct nvmft_cpl cpl;

	assert_int_equal(vfuc_reap(&c->admin, &cpl), 0);
	assert_int_equal(vfuc_status(&cpl), 0);
	(void)e;
	return le32toh(cpl.dw0);
}

/* Read the Error Information log with RAE clear: the next Error event may come. */
static void read_error_log(struct vfuc *c)
{
	struct nvmft_cmd cmd = { .opcode = nvme_admin_get_log_page };
	uint64_t buf = vfuc_alloc(c, 4096, 4096);

	cmd.dptr.prp.prp1 = htole64(buf);
	cmd.cdw10 = htole32((64u - 1) << 16 | NVME_LOG_LID_ERROR);
	assert_int_equal(vfuc_sync(&c->admin, &cmd, NULL), 0);
}

static void test_doorbell_errors(void **state)
{
	const uint32_t bad_value = 0 | 1u << 8 | NVME_LOG_LID_ERROR << 16;
	const uint32_t bad_reg = 0 | 0u << 8 | NVME_LOG_LID_ERROR << 16;
	struct nvmft_cpl cpl;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	uint64_t buf;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 16);
	buf = vfuc_alloc(c, 4096, 4096);
	/* An SQ tail beyond the queue: Invalid Doorbell Write Value, and nothing is fetched. */
	aer_submit(c);
	assert_int_equal(vfuc_doorbell(c, 2, 16), 0);
	assert_int_equal(aer_wait(c, &e), bad_value);
	assert_int_equal(vfuc_doorbell(c, 2, q.sq_tail), 0);
	read_error_log(c);
	assert_int_equal(vfuc_rw(&q, false, NSID, 0, 8, VE_BS, buf), 0);
	/* A CQ head past what was posted: the same event. */
	aer_submit(c);
	assert_int_equal(vfuc_doorbell(c, 3, (uint32_t)(q.cq_head + 5) % 16), 0);
	{
		struct nvmft_cmd rd = { .opcode = nvme_cmd_read, .nsid = htole32(NSID) };

		rd.dptr.prp.prp1 = htole64(buf);
		assert_int_equal(vfuc_submit(&q, &rd), 0);
		assert_int_equal(aer_wait(c, &e), bad_value);
		/* The entry itself was posted all the same: the head the server believes had room. */
		memset(&cpl, 0xff, sizeof(cpl));
		for (int i = 0; i < 1000 && !vfuc_peek(&q, &cpl); i++)
			ve_pump(&e);
		assert_int_equal(vfuc_status(&cpl), 0);
		assert_int_equal(vfuc_doorbell(c, 3, q.cq_head), 0);
	}
	read_error_log(c);
	/* Until the log is read, further Error events wait (masked); afterwards they come. */
	aer_submit(c);
	{
		uint32_t v = 0;

		/* A trapped write to the doorbell of a queue that does not exist. */
		assert_int_equal(vfuc_region_write(c, VFIO_PCI_BAR0_REGION_INDEX, 0x1000 + 8 * 3, &v, 4), 0);
	}
	assert_int_equal(aer_wait(c, &e), bad_reg);
	/* Trapped doorbells (no mapping) drive the queues just as well. */
	c->o.trap_doorbells = true;
	read_error_log(c);
	for (int i = 0; i < 20; i++)
		assert_int_equal(vfuc_rw(&q, i & 1, NSID, (uint64_t)i * 8, 8, VE_BS, buf), 0);
	vfuc_close(c);
	ve_fini(&e);
}

static bool fd_fired(struct ve *e, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	ve_pump_n(e, 3);
	if (poll(&p, 1, 0) != 1)
		return false;
	return read(fd, &v, sizeof(v)) == sizeof(v) && v > 0;
}

static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

static void io_once(struct vfuc_q *q, uint64_t buf)
{
	assert_int_equal(vfuc_rw(q, false, NSID, 0, 8, VE_BS, buf), 0);
}

static void test_interrupts(void **state)
{
	int efd[4], intx;
	uint16_t ctl;
	uint32_t v, pba;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	uint64_t buf;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_nvme(&e);
	for (int i = 0; i < 4; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	intx = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(vfuc_set_irqs(c, VFIO_PCI_MSIX_IRQ_INDEX,
				       VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 4, efd, 4),
			 0);
	ctl = PCI_MSIX_FLAGS_ENABLE;
	assert_int_equal(vfuc_cfg_write(c, MSIX_CTL, &ctl, 2), 0);
	assert_int_equal(vfuc_nvme_qpair(c, 1, 16, true, 2, &q), 0);
	buf = vfuc_alloc(c, 4096, 4096);
	assert_true(fd_fired(&e, efd[0])); /* the admin commands' vector */
	io_once(&q, buf);
	assert_true(fd_fired(&e, efd[2]));
	assert_false(fd_fired(&e, efd[1]));
	assert_false(fd_fired(&e, efd[0]));

	/* Mask vector 2 in the MSI-X table: the interrupt waits as a pending bit. */
	v = 1;
	assert_int_equal(vfuc_region_write(c, VFIO_PCI_BAR4_REGION_INDEX, 2 * 16 + 12, &v, 4), 0);
	io_once(&q, buf);
	assert_false(fd_fired(&e, efd[2]));
	assert_int_equal(vfuc_region_read(c, VFIO_PCI_BAR4_REGION_INDEX, 4096, &pba, 4), 0);
	assert_int_equal(pba, 1u << 2);
	v = 0;
	assert_int_equal(vfuc_region_write(c, VFIO_PCI_BAR4_REGION_INDEX, 2 * 16 + 12, &v, 4), 0);
	assert_true(fd_fired(&e, efd[2]));
	assert_int_equal(vfuc_region_read(c, VFIO_PCI_BAR4_REGION_INDEX, 4096, &pba, 4), 0);
	assert_int_equal(pba, 0);
	/* The table is in use now: the other vectors' reset-time masks count.  Unmask the admin's. */
	assert_int_equal(vfuc_region_write(c, VFIO_PCI_BAR4_REGION_INDEX, 0 * 16 + 12, &v, 4), 0);
	drain(efd[0]);
	/* The function mask holds every vector. */
	ctl = PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL;
	assert_int_equal(vfuc_cfg_write(c, MSIX_CTL, &ctl, 2), 0);
	io_once(&q, buf);
	assert_false(fd_fired(&e, efd[2]));
	ctl = PCI_MSIX_FLAGS_ENABLE;
	assert_int_equal(vfuc_cfg_write(c, MSIX_CTL, &ctl, 2), 0);
	assert_true(fd_fired(&e, efd[2]));
	/* The client may trigger a vector itself. */
	assert_int_equal(vfuc_set_irqs(c, VFIO_PCI_MSIX_IRQ_INDEX,
				       VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 1, 1, NULL, 0),
			 0);
	assert_true(fd_fired(&e, efd[1]));
	{
		uint8_t yes_no[2] = { 0, 1 };
		struct {
			struct vfu_irq_set s;
			uint8_t b[2];
		} __attribute__((packed))
		m = { { sizeof(m), VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
			VFIO_PCI_MSIX_IRQ_INDEX, 0, 2 },
		      { 0, 0 } };

		memcpy(m.b, yes_no, 2);
		assert_int_equal(
			vfuc_call(c, VFU_CMD_DEVICE_SET_IRQS, &m, sizeof(m), NULL, 0, NULL, 0, NULL, NULL),
			0);
		assert_false(fd_fired(&e, efd[0]));
		assert_true(fd_fired(&e, efd[1]));
	}

	/* Interrupt coalescing: 4 entries (THR 3) or 20 ms (TIME 200), whichever first. */
	{
		struct nvmft_cmd sf = { .opcode = nvme_admin_set_features };

		sf.cdw10 = htole32(NVME_FEAT_FID_IRQ_COALESCE);
		sf.cdw11 = htole32(200u << 8 | 3u);
		assert_int_equal(vfuc_sync(&c->admin, &sf, NULL), 0);
		drain(efd[0]);
		for (int i = 0; i < 3; i++) {
			io_once(&q, buf);
			assert_false(fd_fired(&e, efd[2]));
		}
		io_once(&q, buf);
		assert_true(fd_fired(&e, efd[2]));
		io_once(&q, buf);
		assert_false(fd_fired(&e, efd[2]));
		ve_pump_ms(&e, 30);
		assert_true(fd_fired(&e, efd[2]));
		/* The admin queue is never held back. */
		assert_int_equal(vfuc_identify(c, NVME_IDENTIFY_CNS_CTRL, 0, buf), 0);
		assert_true(fd_fired(&e, efd[0]));
		sf.cdw11 = 0;
		assert_int_equal(vfuc_sync(&c->admin, &sf, NULL), 0);
		io_once(&q, buf);
		assert_true(fd_fired(&e, efd[2]));
	}

	/* INTx: MSI-X off and its vectors gone; INTMS/INTMC and the command register gate it. */
	ctl = 0;
	assert_int_equal(vfuc_cfg_write(c, MSIX_CTL, &ctl, 2), 0);
	assert_int_equal(vfuc_set_irqs(c, VFIO_PCI_MSIX_IRQ_INDEX,
				       VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, NULL, 0),
			 0);
	assert_int_equal(vfuc_set_irqs(c, VFIO_PCI_INTX_IRQ_INDEX,
				       VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, &intx,
				       1),
			 0);
	drain(efd[2]);
	io_once(&q, buf);
	assert_true(fd_fired(&e, intx));
	assert_false(fd_fired(&e, efd[2]));
	assert_int_equal(vfuc_reg_write32(c, NVME_REG_INTMS, 1), 0);
	assert_int_equal(vfuc_reg_read32(c, NVME_REG_INTMC, &v), 0);
	assert_int_equal(v, 1);
	io_once(&q, buf);
	assert_false(fd_fired(&e, intx));
	assert_int_equal(vfuc_reg_write32(c, NVME_REG_INTMC, 1), 0);
	assert_true(fd_fired(&e, intx));
	{
		uint16_t cmd;

		assert_int_equal(vfuc_cfg_read(c, PCI_COMMAND, &cmd, 2), 0);
		cmd |= PCI_COMMAND_INTX_DISABLE;
		assert_int_equal(vfuc_cfg_write(c, PCI_COMMAND, &cmd, 2), 0);
		io_once(&q, buf);
		assert_false(fd_fired(&e, intx));
		cmd &= (uint16_t)~PCI_COMMAND_INTX_DISABLE;
		assert_int_equal(vfuc_cfg_write(c, PCI_COMMAND, &cmd, 2), 0);
		assert_true(fd_fired(&e, intx));
	}
	/* A queue created without interrupts raises none. */
	{
		struct vfuc_q q2;

		assert_int_equal(vfuc_nvme_qpair(c, 2, 16, false, 0, &q2), 0);
		drain(intx);
		io_once(&q2, buf);
		assert_false(fd_fired(&e, intx));
	}
	vfuc_close(c);
	for (int i = 0; i < 4; i++)
		close(efd[i]);
	close(intx);
	ve_fini(&e);
}

/* Without Bus Master Enable the function does no DMA: commands wait until it is set. */
static void test_bus_master(void **state)
{
	struct nvmft_cmd rd = { .opcode = nvme_cmd_read, .nsid = htole32(NSID) };
	struct nvmft_cpl cpl;
	uint16_t cmd;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 16);
	rd.dptr.prp.prp1 = htole64(vfuc_alloc(c, 4096, 4096));
	assert_int_equal(vfuc_cfg_read(c, PCI_COMMAND, &cmd, 2), 0);
	cmd &= (uint16_t)~PCI_COMMAND_MASTER;
	assert_int_equal(vfuc_cfg_write(c, PCI_COMMAND, &cmd, 2), 0);
	assert_int_equal(vfuc_submit(&q, &rd), 0);
	ve_pump_ms(&e, 20);
	assert_false(vfuc_peek(&q, &cpl));
	cmd |= PCI_COMMAND_MASTER;
	assert_int_equal(vfuc_cfg_write(c, PCI_COMMAND, &cmd, 2), 0);
	assert_int_equal(vfuc_reap(&q, &cpl), 0);
	assert_int_equal(vfuc_status(&cpl), 0);
	vfuc_close(c);
	ve_fini(&e);
}

/* A full completion queue holds completions back, in order, until the host makes room. */
static void test_cq_full(void **state)
{
	struct nvmft_cpl cpl;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	uint64_t buf;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_nvme(&e);
	/* CQ of 4 entries (3 usable), SQ of 16. */
	{
		struct nvmft_cmd cmd = { .opcode = nvme_admin_create_cq };

		memset(&q, 0, sizeof(q));
		q.c = c;
		q.qid = 1;
		q.phase = 1;
		q.efd = -1;
		q.cq_iova = vfuc_alloc(c, 4 * 16, 4096);
		q.sq_iova = vfuc_alloc(c, 16 * 64, 4096);
		q.cq = vfuc_va(c, q.cq_iova);
		q.sq = vfuc_va(c, q.sq_iova);
		cmd.dptr.prp.prp1 = htole64(q.cq_iova);
		cmd.cdw10 = htole32(3u << 16 | 1);
		cmd.cdw11 = htole32(1);
		assert_int_equal(vfuc_sync(&c->admin, &cmd, NULL), 0);
		memset(&cmd, 0, sizeof(cmd));
		cmd.opcode = nvme_admin_create_sq;
		cmd.dptr.prp.prp1 = htole64(q.sq_iova);
		cmd.cdw10 = htole32(15u << 16 | 1);
		cmd.cdw11 = htole32(1u << 16 | 1);
		assert_int_equal(vfuc_sync(&c->admin, &cmd, NULL), 0);
	}
	buf = vfuc_alloc(c, 4096, 4096);
	q.entries = 16; /* the SQ's size; the CQ wraps at 4 below */
	for (int i = 0; i < 10; i++) {
		struct nvmft_cmd rd = { .opcode = nvme_cmd_read, .nsid = htole32(NSID) };

		rd.dptr.prp.prp1 = htole64(buf);
		rd.cdw10 = htole32((uint32_t)i);
		vfuc_push(&q, &rd);
	}
	assert_int_equal(vfuc_ring(&q), 0);
	ve_pump_ms(&e, 10);
	/* Three posted (one slot stays empty), the rest wait; consume them one by one. */
	for (int i = 0; i < 10; i++) {
		struct nvmft_cpl *ent;
		uint16_t head = (uint16_t)(i % 4);

		ent = &q.cq[head];
		for (int t = 0; t < 1000 && (le16toh(ent->status) & 1) != ((i / 4) % 2 == 0 ? 1 : 0); t++)
			ve_pump(&e);
		cpl = *ent;
		assert_int_equal(le16toh(cpl.status) & 1, (i / 4) % 2 == 0 ? 1 : 0);
		assert_int_equal(vfuc_status(&cpl), 0);
		assert_int_equal(le16toh(cpl.cid), i);
		assert_int_equal(vfuc_doorbell(c, 3, (uint32_t)(i + 1) % 4), 0);
	}
	vfuc_close(c);
	ve_fini(&e);
}

/* Delete I/O SQ with commands still in the backend: it completes once they are back. */
static void test_delete_busy_queue(void **state)
{
	struct nvmft_cmd del = { .opcode = nvme_admin_delete_sq };
	struct nvmft_cpl cpl;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	uint64_t buf;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 16);
	buf = vfuc_alloc(c, 4096, 4096);
	tb_hold(e.tb, true);
	for (int i = 0; i < 4; i++) {
		struct nvmft_cmd rd = { .opcode = nvme_cmd_read, .nsid = htole32(NSID) };

		rd.dptr.prp.prp1 = htole64(buf);
		assert_int_equal(vfuc_submit(&q, &rd), 0);
	}
	while (tb_held(e.tb) < 4)
		ve_pump(&e);
	del.cdw10 = htole32(1);
	assert_int_equal(vfuc_submit(&c->admin, &del), 0);
	ve_pump_ms(&e, 10);
	assert_false(vfuc_peek(&c->admin, &cpl));
	assert_int_equal(tb_release(e.tb), 4);
	tb_hold(e.tb, false);
	assert_int_equal(vfuc_reap(&c->admin, &cpl), 0);
	assert_int_equal(vfuc_status(&cpl), 0);
	/* The held commands' entries were not posted: the queue is gone. */
	assert_false(vfuc_peek(&q, &cpl));
	vfuc_close(c);
	ve_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_commands),    cmocka_unit_test(test_bad_data_pointers),
		cmocka_unit_test(test_doorbell_errors),   cmocka_unit_test(test_interrupts),
		cmocka_unit_test(test_bus_master),        cmocka_unit_test(test_cq_full),
		cmocka_unit_test(test_delete_busy_queue),
	};

	return cmocka_run_group_tests_name("vfu_queues", tests, NULL, NULL);
}
