/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Lifetimes around a vfio-user function: controller reset and shutdown,
 * DEVICE_RESET and function level reset (with I/O still in the backend),
 * client memory unmapped while I/O is pending or under the queues
 * themselves, a client that disconnects at any stage, and listeners
 * (paths, stale sockets, being destroyed under a client).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "test_util.h"
#include "vfu_env.h"

#define NSID 1
#define CC_EN_6_4 (1u | 6u << 16 | 4u << 20)

static uint32_t csts(struct vfuc *c)
{
	uint32_t v = 0xffffffffu;

	assert_int_equal(vfuc_reg_read32(c, NVME_REG_CSTS, &v), 0);
	return v;
}

/* No message from the server is waiting. */
static bool quiet(struct vfuc *c)
{
	char b;

	return recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

static void read_ok(struct vfuc_q *q, uint64_t buf)
{
	assert_int_equal(vfuc_rw(q, false, NSID, 0, 8, VE_BS, buf), 0);
}

static void test_controller_reset_and_shutdown(void **state)
{
	struct nvmft_cmd rd = { .opcode = nvme_cmd_read, .nsid = htole32(NSID) };
	struct nvmft_cpl cpl;
	uint32_t aqa, cc;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	uint64_t buf;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 16);
	buf = vfuc_alloc(c, 4096, 4096);
	read_ok(&q, buf);
	assert_int_equal(vfuc_reg_read32(c, NVME_REG_AQA, &aqa), 0);
	/* CC.EN = 0: the I/O queues go, CSTS.RDY clears, the admin queue registers stay. */
	assert_int_equal(vfuc_nvme_disable(c), 0);
	assert_int_equal(csts(c), 0);
	assert_int_equal(vfuc_reg_read32(c, NVME_REG_AQA, &cc), 0);
	assert_int_equal(cc, aqa);
	assert_int_equal(vfuc_reg_read32(c, NVME_REG_CC, &cc), 0);
	assert_int_equal(cc, 0);
	/* The old queue is dead: a command on it is never looked at. */
	rd.dptr.prp.prp1 = htole64(buf);
	assert_int_equal(vfuc_submit(&q, &rd), 0);
	ve_pump_ms(&e, 10);
	assert_false(vfuc_peek(&q, &cpl));
	/* Up again from scratch: identify, queues, I/O. */
	assert_int_equal(vfuc_nvme_enable(c, 32), 0);
	assert_int_equal(vfuc_identify(c, NVME_IDENTIFY_CNS_CTRL, 0, buf), 0);
	assert_int_equal(vfuc_set_num_queues(c, 2, 2), 0);
	assert_int_equal(vfuc_nvme_qpair(c, 1, 16, false, 0, &q), 0);
	read_ok(&q, buf);
	/* Shutdown: SHST goes to complete with the I/O queues gone; EN stays until the host clears it. */
	assert_int_equal(vfuc_reg_read32(c, NVME_REG_CC, &cc), 0);
	assert_int_equal(vfuc_reg_write32(c, NVME_REG_CC, cc | 1u << 14), 0);
	for (int i = 0; i < 1000 && (csts(c) & 0xc) != 0x8; i++)
		ve_pump(&e);
	assert_int_equal(csts(c) & 0xd, 0x9);
	assert_int_equal(vfuc_nvme_disable(c), 0);
	assert_int_equal(vfuc_nvme_enable(c, 16), 0);
	assert_int_equal(vfuc_set_num_queues(c, 2, 2), 0);
	assert_int_equal(vfuc_nvme_qpair(c, 2, 8, false, 0, &q), 0);
	read_ok(&q, buf);
	/* A bad enable (admin queue outside guest memory): CSTS.CFS, and a reset clears it. */
	assert_int_equal(vfuc_nvme_disable(c), 0);
	assert_int_equal(vfuc_reg_write32(c, NVME_REG_ASQ, 0x4000), 0);
	assert_int_equal(vfuc_reg_write32(c, NVME_REG_ASQ + 4, 0), 0);
	assert_int_equal(vfuc_reg_write32(c, NVME_REG_CC, CC_EN_6_4), 0);
	assert_int_equal(csts(c) & (NVMFT_CSTS_CFS | NVMFT_CSTS_RDY), NVMFT_CSTS_CFS);
	assert_int_equal(vfuc_nvme_disable(c), 0);
	assert_int_equal(csts(c), 0);
	assert_int_equal(vfuc_nvme_enable(c, 32), 0);
	vfuc_close(c);
	ve_fini(&e);
}

/* DEVICE_RESET and FLR reset the whole function and are answered when it is done. */
static void test_function_reset(void **state)
{
	uint16_t cmd, ctl;
	uint32_t v;
	uint64_t v64;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	uint64_t buf;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 16);
	buf = vfuc_alloc(c, 4096, 4096);
	ctl = PCI_MSIX_FLAGS_ENABLE;
	assert_int_equal(vfuc_cfg_write(c, 0x48 + PCI_MSIX_FLAGS, &ctl, 2), 0);
	assert_int_equal(vfuc_call(c, VFU_CMD_DEVICE_RESET, NULL, 0, NULL, 0, NULL, 0, NULL, NULL), 0);
	assert_int_equal(csts(c), 0);
	assert_int_equal(vfuc_reg_read32(c, NVME_REG_AQA, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(vfuc_reg_read64(c, NVME_REG_ASQ, &v64), 0);
	assert_int_equal(v64, 0);
	assert_int_equal(vfuc_cfg_read(c, PCI_COMMAND, &cmd, 2), 0);
	assert_int_equal(cmd, 0);
	assert_int_equal(vfuc_cfg_read(c, 0x48 + PCI_MSIX_FLAGS, &ctl, 2), 0);
	assert_int_equal(ctl & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL), 0);
	/* Guest memory stays mapped across a reset: the driver starts over at once. */
	assert_int_equal(vfuc_nvme_enable(c, 32), 0);
	assert_int_equal(vfuc_set_num_queues(c, 2, 2), 0);
	assert_int_equal(vfuc_nvme_qpair(c, 1, 16, false, 0, &q), 0);
	read_ok(&q, buf);

	/* Function level reset through the PCI Express capability, I/O held in the backend. */
	tb_hold(e.tb, true);
	{
		struct nvmft_cmd rd = { .opcode = nvme_cmd_read, .nsid = htole32(NSID) };
		struct {
			struct vfu_region_access a;
			uint16_t devctl;
		} __attribute__((packed))
		w = { { 0x60 + PCI_EXP_DEVCTL, VFIO_PCI_CONFIG_REGION_INDEX, 2 }, PCI_EXP_DEVCTL_BCR_FLR };
		struct vfu_hdr h;
		uint8_t rep[64];
		int id;

		rd.dptr.prp.prp1 = htole64(buf);
		assert_int_equal(vfuc_submit(&q, &rd), 0);
		while (tb_held(e.tb) < 1)
			ve_pump(&e);
		id = vfuc_send_raw(c, VFU_CMD_REGION_WRITE, 0, &w, sizeof(w), NULL, 0);
		ve_pump_ms(&e, 20);
		/* The reset waits for the command in the backend; so does the reply. */
		assert_true(quiet(c));
		assert_int_equal(tb_release(e.tb), 1);
		tb_hold(e.tb, false);
		assert_int_equal(vfuc_recv(c, &h, rep, sizeof(rep), NULL, NULL), (int)sizeof(w.a));
		assert_int_equal(h.msg_id, id);
		assert_false(h.flags & VFU_F_ERROR);
		/* FLR reads back as 0. */
		assert_int_equal(vfuc_cfg_read(c, 0x60 + PCI_EXP_DEVCTL, &cmd, 2), 0);
		assert_int_equal(cmd & PCI_EXP_DEVCTL_BCR_FLR, 0);
	}
	assert_int_equal(csts(c), 0);
	assert_int_equal(vfuc_nvme_enable(c, 32), 0);
	vfuc_close(c);
	ve_fini(&e);
}

/*
 * A function reset after a completed shutdown: CSTS.SHST (10b) survives a
 * controller reset but not a function reset, and the reset must not wait
 * for CSTS to clear by itself (it never does).  Both with CC.EN still 1
 * (as Linux shuts down) and with the shutdown written while disabled.
 * (Found by fuzz_vfio_user: corpus/vfio_user/regress-reset-after-shutdown.)
 */
static void test_function_reset_after_shutdown(void **state)
{
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	uint64_t buf;
	uint32_t cc;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 16);
	buf = vfuc_alloc(c, 4096, 4096);
	for (int disabled = 0; disabled < 2; disabled++) {
		assert_int_equal(vfuc_reg_read32(c, NVME_REG_CC, &cc), 0);
		if (disabled) {
			assert_int_equal(vfuc_nvme_disable(c), 0);
			cc = 0;
		}
		assert_int_equal(vfuc_reg_write32(c, NVME_REG_CC, cc | 1u << 14), 0);
		for (int i = 0; i < 1000 && (csts(c) & 0xc) != 0x8; i++)
			ve_pump(&e);
		assert_int_equal(csts(c) & 0xc, 0x8);
		assert_int_equal(vfuc_call(c, VFU_CMD_DEVICE_RESET, NULL, 0, NULL, 0, NULL, 0, NULL, NULL), 0);
		assert_int_equal(csts(c), 0);
		assert_int_equal(vfuc_reg_read32(c, NVME_REG_CC, &cc), 0);
		assert_int_equal(cc, 0);
		/* And up again. */
		assert_int_equal(vfuc_nvme_enable(c, 32), 0);
		assert_int_equal(vfuc_set_num_queues(c, 2, 2), 0);
		assert_int_equal(vfuc_nvme_qpair(c, 1, 16, false, 0, &q), 0);
		read_ok(&q, buf);
	}
	vfuc_close(c);
	ve_fini(&e);
}

/* CC written again while a reset still waits for I/O: the write's reply waits too. */
static void test_cc_write_during_reset(void **state)
{
	struct nvmft_cmd rd = { .opcode = nvme_cmd_read, .nsid = htole32(NSID) };
	struct {
		struct vfu_region_access a;
		uint32_t cc;
	} __attribute__((packed)) w;
	uint8_t rep[64];
	struct vfu_hdr h;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	int id;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 16);
	rd.dptr.prp.prp1 = htole64(vfuc_alloc(c, 4096, 4096));
	tb_hold(e.tb, true);
	assert_int_equal(vfuc_submit(&q, &rd), 0);
	while (tb_held(e.tb) < 1)
		ve_pump(&e);
	assert_int_equal(vfuc_reg_write32(c, NVME_REG_CC, 0), 0);
	assert_int_equal(csts(c) & NVMFT_CSTS_RDY, 0);
	w.a.offset = NVME_REG_CC;
	w.a.region = VFIO_PCI_BAR0_REGION_INDEX;
	w.a.count = 4;
	w.cc = CC_EN_6_4;
	id = vfuc_send_raw(c, VFU_CMD_REGION_WRITE, 0, &w, sizeof(w), NULL, 0);
	ve_pump_ms(&e, 20);
	assert_true(quiet(c));
	assert_int_equal(tb_release(e.tb), 1);
	tb_hold(e.tb, false);
	assert_int_equal(vfuc_recv(c, &h, rep, sizeof(rep), NULL, NULL), 16);
	assert_int_equal(h.msg_id, id);
	assert_false(h.flags & VFU_F_ERROR);
	/* The write took effect after the reset: the controller is enabled on the old admin queue. */
	for (int i = 0; i < 100 && !(csts(c) & NVMFT_CSTS_RDY); i++)
		ve_pump(&e);
	assert_int_equal(csts(c) & NVMFT_CSTS_RDY, NVMFT_CSTS_RDY);
	vfuc_close(c);
	ve_fini(&e);
}

/* Guest memory of a second region, mapped at @iova. */
static int second_region(struct vfuc *c, uint64_t iova, size_t size, uint8_t **va)
{
	int fd = vfuc_memfd("region-b", size, true);

	assert_true(fd >= 0);
	*va = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(*va != MAP_FAILED);
	assert_int_equal(vfuc_dma_map(c, fd, 0, iova, size, VFU_DMA_READ | VFU_DMA_WRITE), 0);
	return fd;
}

static void test_unmap_while_io_pending(void **state)
{
	const uint64_t b_iova = 0x300000000ull;
	struct nvmft_cpl cpl;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	uint8_t *bva;
	int bfd, id;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 16);
	bfd = second_region(c, b_iova, 65536, &bva);
	tu_fill_pattern(tb_data(e.tb), 65536, 9);
	/* Reads into region B wait in the backend while the client unmaps B. */
	tb_hold(e.tb, true);
	for (int i = 0; i < 3; i++) {
		struct nvmft_cmd rd = { .opcode = nvme_cmd_read, .nsid = htole32(NSID) };

		rd.cdw10 = htole32((uint32_t)i * 8);
		rd.cdw12 = htole32(7);
		rd.dptr.prp.prp1 = htole64(b_iova + (uint64_t)i * 4096);
		assert_int_equal(vfuc_submit(&q, &rd), 0);
	}
	while (tb_held(e.tb) < 3)
		ve_pump(&e);
	id = vfuc_dma_unmap_start(c, b_iova, 65536);
	assert_true(id >= 0);
	ve_pump_ms(&e, 20);
	/* The protocol: in-flight DMA first, then the reply. */
	assert_true(quiet(c));
	assert_int_equal(tb_release(e.tb), 3);
	tb_hold(e.tb, false);
	assert_int_equal(vfuc_dma_unmap_reply(c, id), 0);
	/* The data landed before the region went, and the completions were posted. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vfuc_reap(&q, &cpl), 0);
		assert_int_equal(vfuc_status(&cpl), 0);
	}
	assert_memory_equal(bva, tb_data(e.tb), 3 * 4096);
	/* B is gone: I/O there is a Data Transfer Error now. */
	{
		struct nvmft_cmd wr = { .opcode = nvme_cmd_write, .nsid = htole32(NSID) };

		wr.cdw12 = htole32(7);
		wr.dptr.prp.prp1 = htole64(b_iova);
		assert_int_equal(vfuc_sync(&q, &wr, NULL), ve_st(0, NVME_SC_DATA_XFER_ERROR, false));
	}
	/* Without anything in flight the unmap is answered at once. */
	assert_int_equal(vfuc_dma_map(c, bfd, 0, b_iova, 65536, VFU_DMA_READ), 0);
	assert_int_equal(vfuc_rw(&q, true, NSID, 0, 8, VE_BS, b_iova), 0);
	/* Read-only to the device: a read into it would write it, refused. */
	assert_int_equal(vfuc_rw(&q, false, NSID, 0, 8, VE_BS, b_iova),
			 ve_st(0, NVME_SC_DATA_XFER_ERROR, false));
	assert_int_equal(vfuc_dma_unmap(c, b_iova, 65536), 0);
	munmap(bva, 65536);
	close(bfd);
	vfuc_close(c);
	ve_fini(&e);
}

/* The memory under the queues goes away and comes back: the queues wait, then carry on. */
static void test_unmap_queue_memory(void **state)
{
	struct nvmft_cmd rd = { .opcode = nvme_cmd_read, .nsid = htole32(NSID) };
	struct nvmft_cpl cpl;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	uint64_t buf;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 16);
	buf = vfuc_alloc(c, 4096, 4096);
	read_ok(&q, buf);
	assert_int_equal(vfuc_dma_unmap(c, VE_MEM_IOVA, VE_MEM_SIZE), 0);
	rd.dptr.prp.prp1 = htole64(buf);
	assert_int_equal(vfuc_submit(&q, &rd), 0);
	ve_pump_ms(&e, 20);
	assert_false(vfuc_peek(&q, &cpl));
	assert_int_equal(
		vfuc_dma_map(c, c->mem_fd, 0, VE_MEM_IOVA, VE_MEM_SIZE, VFU_DMA_READ | VFU_DMA_WRITE), 0);
	assert_int_equal(vfuc_reap(&q, &cpl), 0);
	assert_int_equal(vfuc_status(&cpl), 0);
	read_ok(&q, buf);
	/* The same with everything unmapped at once, and the admin queue too. */
	{
		struct vfu_dma_unmap all = { .argsz = sizeof(all), .flags = VFU_UNMAP_ALL };

		assert_int_equal(vfuc_call(c, VFU_CMD_DMA_UNMAP, &all, sizeof(all), NULL, 0, &all,
					   sizeof(all), NULL, NULL),
				 sizeof(all));
	}
	{
		struct nvmft_cmd id = { .opcode = nvme_admin_identify };

		id.cdw10 = htole32(1);
		id.dptr.prp.prp1 = htole64(buf);
		assert_int_equal(vfuc_submit(&c->admin, &id), 0);
		ve_pump_ms(&e, 20);
		assert_false(vfuc_peek(&c->admin, &cpl));
	}
	assert_int_equal(
		vfuc_dma_map(c, c->mem_fd, 0, VE_MEM_IOVA, VE_MEM_SIZE, VFU_DMA_READ | VFU_DMA_WRITE), 0);
	assert_int_equal(vfuc_reap(&c->admin, &cpl), 0);
	assert_int_equal(vfuc_status(&cpl), 0);
	vfuc_close(c);
	ve_fini(&e);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* A client may go at any moment; whatever it left behind is cleaned up, descriptors too. */
static void test_disconnect_anytime(void **state)
{
	struct ve e;
	int fds_before;

	(void)state;
	ve_init(&e, NULL);
	fds_before = open_fds();
	for (int stage = 0; stage < 9; stage++) {
		struct vfuc_opts o = { .pump = ve_pump, .pump_arg = &e, .timeout_ms = 5000 };
		struct vfuc *c = NULL;
		struct vfuc_q q;

		assert_int_equal(vfuc_connect(e.sock, &o, &c), 0);
		if (stage >= 1)
			assert_int_equal(vfuc_version(c, NULL), 0);
		if (stage >= 2)
			assert_int_equal(vfuc_mem_add(c, VE_MEM_IOVA, VE_MEM_SIZE), 0);
		if (stage >= 3)
			assert_int_equal(vfuc_setup_bar0(c), 0);
		if (stage >= 4)
			assert_int_equal(vfuc_nvme_enable(c, 32), 0);
		if (stage >= 5) {
			assert_int_equal(vfuc_set_num_queues(c, 2, 2), 0);
			assert_int_equal(vfuc_nvme_qpair(c, 1, 16, false, 0, &q), 0);
		}
		if (stage >= 6) {
			/* Leave commands in the backend and in the queue. */
			uint64_t buf = vfuc_alloc(c, 4096, 4096);

			tb_hold(e.tb, true);
			for (int i = 0; i < 5; i++) {
				struct nvmft_cmd rd = { .opcode = nvme_cmd_read, .nsid = htole32(NSID) };

				rd.dptr.prp.prp1 = htole64(buf);
				vfuc_submit(&q, &rd);
			}
			while (tb_held(e.tb) < 5)
				ve_pump(&e);
		}
		if (stage == 8) {
			/* Interrupt eventfds handed over (the server keeps its own copies). */
			int efd[3];

			for (int i = 0; i < 3; i++)
				efd[i] = eventfd(0, EFD_CLOEXEC);
			assert_int_equal(
				vfuc_set_irqs(c, VFIO_PCI_MSIX_IRQ_INDEX,
					      VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 2,
					      efd, 2),
				0);
			assert_int_equal(
				vfuc_set_irqs(c, VFIO_PCI_INTX_IRQ_INDEX,
					      VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1,
					      &efd[2], 1),
				0);
			for (int i = 0; i < 3; i++)
				close(efd[i]);
		}
		if (stage == 7) {
			/* And a message cut in half. */
			struct vfu_hdr h = { .cmd = VFU_CMD_REGION_WRITE, .msg_size = 16 + 16 + 4 };

			assert_int_equal(vfuc_send_bytes(c, &h, sizeof(h)), 0);
		}
		vfuc_close(c);
		if (stage >= 6) {
			ve_pump_ms(&e, 10);
			/* The function is gone for the client, but the backend still holds data pointers. */
			assert_int_equal(tb_release(e.tb), 5);
			tb_hold(e.tb, false);
		}
		assert_true(ve_wait_ctrlrs(&e, 0));
		for (int i = 0; i < 1000 && ve_connections(&e) != 0; i++)
			ve_pump(&e);
		assert_int_equal(ve_connections(&e), 0);
		/* Socket, doorbell memfd, mapped files, eventfds: all closed. */
		assert_int_equal(open_fds(), fds_before);
	}
	ve_fini(&e);
}

static void test_listeners(void **state)
{
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_INTRA_HOST };
	struct nvmft_target *tgt2;
	struct nvmft_transport *tr2;
	struct nvmft_listener *l = NULL, *l2 = NULL;
	char path[600], sub[300];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	struct ve e;
	struct vfuc *c;
	int fd;

	(void)state;
	ve_init(&e, NULL);
	/* Another target cannot take a socket that is alive. */
	assert_int_equal(nvmft_target_new(NULL, &tgt2), 0);
	assert_int_equal(nvmft_transport_new(tgt2, NVMFT_TRTYPE_VFIOUSER, NULL, &tr2), 0);
	lo.traddr = e.dir;
	assert_int_equal(nvmft_listener_new(tr2, &lo, &l2), -EADDRINUSE);
	/* A path too long for a socket; a port. */
	memset(path, 'a', 200);
	path[200] = '\0';
	lo.traddr = path;
	assert_int_equal(nvmft_listener_new(tr2, &lo, &l2), -ENAMETOOLONG);
	snprintf(sub, sizeof(sub), "%s/sub", e.dir);
	lo.traddr = sub;
	lo.trsvcid = "4420";
	assert_int_equal(nvmft_listener_new(tr2, &lo, &l2), -EINVAL);
	lo.trsvcid = NULL;
	/* A file that is no socket is not replaced. */
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(path, sizeof(path), "%s/cntrl", sub);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(nvmft_listener_new(tr2, &lo, &l2), -EEXIST);
	unlink(path);
	/* A socket nobody serves any more is.  SPDK's tools say IPv4 and port "0" for a path: fine. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	lo.adrfam = NVMFT_ADRFAM_IPV4;
	lo.trsvcid = "0";
	assert_int_equal(nvmft_listener_new(tr2, &lo, &l2), 0);
	lo.adrfam = NVMFT_ADRFAM_INTRA_HOST;
	lo.trsvcid = NULL;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	/* A listener in no subsystem: a client is turned away. */
	{
		struct vfuc_opts o = { .timeout_ms = 2000 };

		assert_int_equal(vfuc_connect(path, &o, &c), 0);
		for (int i = 0; i < 100; i++)
			nvmft_target_poll(tgt2);
		assert_true(vfuc_wait_eof(c));
		vfuc_close(c);
	}
	/* Destroyed: the socket file goes. */
	nvmft_listener_destroy(l2, NULL, NULL);
	nvmft_target_poll(tgt2);
	assert_int_equal(stat(path, &st), -1);
	nvmft_target_free(tgt2);

	/* The directory is made when missing. */
	snprintf(sub, sizeof(sub), "%s/made", e.dir);
	lo.traddr = sub;
	assert_int_equal(nvmft_listener_new(e.tr, &lo, &l), 0);
	assert_int_equal(nvmft_subsystem_add_listener(e.ss, l), 0);
	snprintf(path, sizeof(path), "%s/cntrl", sub);
	{
		struct vfuc_opts o = { .pump = ve_pump, .pump_arg = &e, .timeout_ms = 5000 };

		assert_int_equal(vfuc_connect(path, &o, &c), 0);
		assert_int_equal(vfuc_version(c, NULL), 0);
	}
	assert_int_equal(ve_ctrlrs(&e), 1);
	/* Destroying the listener takes its clients' functions away. */
	nvmft_listener_destroy(l, NULL, NULL);
	assert_true(vfuc_wait_eof(c));
	vfuc_close(c);
	assert_true(ve_wait_ctrlrs(&e, 0));
	assert_int_equal(stat(path, &st), -1);

	/* A subsystem that lists its hosts has none to offer a PCIe client (it names no host). */
	assert_int_equal(nvmft_subsystem_set_allow_any_host(e.ss, false), 0);
	{
		struct vfuc_opts o = { .pump = ve_pump, .pump_arg = &e, .timeout_ms = 2000 };

		assert_int_equal(vfuc_connect(e.sock, &o, &c), 0);
		assert_true(vfuc_wait_eof(c));
		vfuc_close(c);
	}
	assert_int_equal(ve_ctrlrs(&e), 0);
	ve_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_controller_reset_and_shutdown),
		cmocka_unit_test(test_function_reset),
		cmocka_unit_test(test_function_reset_after_shutdown),
		cmocka_unit_test(test_cc_write_during_reset),
		cmocka_unit_test(test_unmap_while_io_pending),
		cmocka_unit_test(test_unmap_queue_memory),
		cmocka_unit_test(test_disconnect_anytime),
		cmocka_unit_test(test_listeners),
	};

	return cmocka_run_group_tests_name("vfu_life", tests, NULL, NULL);
}
