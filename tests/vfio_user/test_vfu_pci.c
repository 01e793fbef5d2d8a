/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/transports/vfio_user/vfu_pci.c: the layout for various queue counts,
 * the reset contents of the configuration space, write masks (what a
 * client can and cannot change), BAR sizing, the events writes raise, and
 * the MSI-X table and pending bits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "transports/vfio_user/vfu_pci.h"

static uint32_t rd32(const struct vfu_pci *p, uint32_t off)
{
	uint32_t v = 0;

	assert_int_equal(vfu_pci_cfg_read(p, off, &v, 4), 0);
	return v;
}

static uint32_t wr32(struct vfu_pci *p, uint32_t off, uint32_t v)
{
	uint32_t ev = 0xdead;

	assert_int_equal(vfu_pci_cfg_write(p, off, &v, 4, &ev), 0);
	return ev;
}

static uint32_t wr16(struct vfu_pci *p, uint32_t off, uint16_t v)
{
	uint32_t ev = 0xdead;

	assert_int_equal(vfu_pci_cfg_write(p, off, &v, 2, &ev), 0);
	return ev;
}

static void test_layout(void **state)
{
	struct vfu_pci_layout l;

	(void)state;
	vfu_pci_layout(2, &l);
	assert_int_equal(l.db_size, 4096);
	assert_int_equal(l.bar0_size, 8192);
	assert_int_equal(l.msix_vectors, 2);
	assert_int_equal(l.pba_off, 4096);
	assert_int_equal(l.bar4_size, 8192);
	vfu_pci_layout(128, &l);
	assert_int_equal(l.db_size, 4096);
	assert_int_equal(l.msix_vectors, 128);
	vfu_pci_layout(513, &l);
	assert_int_equal(l.db_size, 8192);
	assert_int_equal(l.bar0_size, 16384);
	vfu_pci_layout(65535, &l);
	assert_int_equal(l.db_size, 524288);
	assert_int_equal(l.bar0_size, 1048576);
	assert_int_equal(l.msix_vectors, VFU_MSIX_MAX);
	assert_int_equal(l.pba_off, VFU_MSIX_MAX * 16);
	assert_int_equal(l.bar4_size, 65536);
}

static void test_reset_contents(void **state)
{
	struct vfu_pci_layout l;
	struct vfu_pci p;
	uint8_t all[VFU_PCI_CFG_SIZE];

	(void)state;
	vfu_pci_layout(128, &l);
	assert_int_equal(vfu_pci_init(&p, &l), 0);
	assert_int_equal(rd32(&p, PCI_VENDOR_ID), VFU_PCI_VENDOR_ID | VFU_PCI_DEVICE_ID << 16);
	assert_int_equal(rd32(&p, PCI_CLASS_REVISION) >> 8, 0x010802);
	assert_int_equal(rd32(&p, PCI_COMMAND) & 0xffff, 0);
	assert_true(rd32(&p, PCI_COMMAND) >> 16 & PCI_STATUS_CAP_LIST);
	assert_int_equal(rd32(&p, PCI_BASE_ADDRESS_0), PCI_BASE_ADDRESS_MEM_TYPE_64);
	assert_int_equal(rd32(&p, PCI_ROM_ADDRESS), 0);
	assert_int_equal(rd32(&p, PCI_SUBSYSTEM_VENDOR_ID), VFU_PCI_VENDOR_ID | VFU_PCI_DEVICE_ID << 16);
	/* The capability list, then the end of the extended list at 0x100. */
	assert_int_equal(rd32(&p, PCI_CAPABILITY_LIST) & 0xff, VFU_PCI_CAP_PM);
	assert_int_equal(rd32(&p, VFU_PCI_CAP_PM) & 0xffff, PCI_CAP_ID_PM | VFU_PCI_CAP_MSIX << 8);
	assert_int_equal(rd32(&p, VFU_PCI_CAP_MSIX) & 0xffff, PCI_CAP_ID_MSIX | VFU_PCI_CAP_EXP << 8);
	assert_int_equal(rd32(&p, VFU_PCI_CAP_MSIX) >> 16, 127);
	assert_int_equal(rd32(&p, VFU_PCI_CAP_MSIX + PCI_MSIX_TABLE), VFU_PCI_BAR_MSIX);
	assert_int_equal(rd32(&p, VFU_PCI_CAP_MSIX + PCI_MSIX_PBA), l.pba_off | VFU_PCI_BAR_MSIX);
	assert_int_equal(rd32(&p, VFU_PCI_CAP_EXP) & 0xff, PCI_CAP_ID_EXP);
	assert_int_equal(rd32(&p, VFU_PCI_CAP_EXP) >> 8 & 0xff, 0);
	assert_true(rd32(&p, VFU_PCI_CAP_EXP + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR);
	assert_true(rd32(&p, VFU_PCI_CAP_PM + PCI_PM_CTRL) & PCI_PM_CTRL_NO_SOFT_RESET);
	assert_int_equal(rd32(&p, 0x100), 0);
	assert_false(vfu_pci_bus_master(&p));
	assert_false(vfu_pci_intx_disabled(&p));
	assert_false(vfu_pci_msix_enabled(&p));
	/* Whole-space reads work; beyond it they do not. */
	assert_int_equal(vfu_pci_cfg_read(&p, 0, all, sizeof(all)), 0);
	assert_int_equal(vfu_pci_cfg_read(&p, 1, all, sizeof(all)), -EINVAL);
	assert_int_equal(vfu_pci_cfg_read(&p, 4096, all, 1), -EINVAL);
	assert_int_equal(vfu_pci_cfg_read(&p, 0, all, 0), -EINVAL);
	assert_int_equal(vfu_pci_cfg_read(&p, UINT64_MAX, all, 4), -EINVAL);
	vfu_pci_fini(&p);
}

static void test_writes(void **state)
{
	struct vfu_pci_layout l;
	struct vfu_pci p;
	uint8_t before[VFU_PCI_CFG_SIZE], after[VFU_PCI_CFG_SIZE], ff[VFU_PCI_CFG_SIZE];
	uint32_t ev;

	(void)state;
	vfu_pci_layout(128, &l);
	assert_int_equal(vfu_pci_init(&p, &l), 0);
	/* All ones everywhere: only writable bits change (command, BARs, a few controls). */
	vfu_pci_cfg_read(&p, 0, before, sizeof(before));
	memset(ff, 0xff, sizeof(ff));
	assert_int_equal(vfu_pci_cfg_write(&p, 0, ff, sizeof(ff), &ev), 0);
	vfu_pci_cfg_read(&p, 0, after, sizeof(after));
	assert_int_equal(memcmp(before, after, PCI_COMMAND), 0);     /* IDs */
	assert_int_equal(memcmp(before + 8, after + 8, 4), 0);       /* class, revision */
	assert_int_equal(memcmp(before + 0x2c, after + 0x2c, 8), 0); /* subsystem, ROM */
	assert_int_equal(after[PCI_CAPABILITY_LIST], before[PCI_CAPABILITY_LIST]);
	assert_true(ev & VFU_PCI_EV_FLR);
	assert_true(ev & VFU_PCI_EV_BME);
	assert_true(ev & VFU_PCI_EV_IRQ);
	assert_true(vfu_pci_bus_master(&p));
	assert_true(vfu_pci_intx_disabled(&p));
	assert_true(vfu_pci_msix_enabled(&p));
	/* BAR sizing. */
	assert_int_equal(rd32(&p, PCI_BASE_ADDRESS_0),
			 (uint32_t) ~(l.bar0_size - 1) | PCI_BASE_ADDRESS_MEM_TYPE_64);
	assert_int_equal(rd32(&p, PCI_BASE_ADDRESS_1), 0xffffffffu);
	assert_int_equal(rd32(&p, PCI_BASE_ADDRESS_2), 0);
	assert_int_equal(rd32(&p, PCI_BASE_ADDRESS_4), ~(l.bar4_size - 1));
	assert_int_equal(rd32(&p, PCI_BASE_ADDRESS_5), 0);
	/* Initiate FLR reads back as zero; the MSI-X table size stays. */
	assert_int_equal(rd32(&p, VFU_PCI_CAP_EXP + PCI_EXP_DEVCTL) & PCI_EXP_DEVCTL_BCR_FLR, 0);
	assert_int_equal(rd32(&p, VFU_PCI_CAP_MSIX) >> 16 & PCI_MSIX_FLAGS_QSIZE, 127);
	/* A BAR programmed with an address keeps it, aligned to its size. */
	assert_int_equal(wr32(&p, PCI_BASE_ADDRESS_0, 0xfe001234u), 0);
	assert_int_equal(rd32(&p, PCI_BASE_ADDRESS_0), 0xfe000000u | PCI_BASE_ADDRESS_MEM_TYPE_64);
	/* Events come only from what changed. */
	assert_int_equal(wr16(&p, PCI_COMMAND, PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE), 0);
	assert_int_equal(wr16(&p, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE), VFU_PCI_EV_BME);
	assert_int_equal(wr16(&p, PCI_COMMAND, 0), VFU_PCI_EV_IRQ);
	assert_int_equal(wr16(&p, VFU_PCI_CAP_MSIX + PCI_MSIX_FLAGS, 0), VFU_PCI_EV_IRQ);
	assert_int_equal(wr16(&p, VFU_PCI_CAP_EXP + PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR), VFU_PCI_EV_FLR);
	/* A single byte holding the FLR bit is enough. */
	{
		uint8_t b = PCI_EXP_DEVCTL_BCR_FLR >> 8;

		assert_int_equal(vfu_pci_cfg_write(&p, VFU_PCI_CAP_EXP + PCI_EXP_DEVCTL + 1, &b, 1, &ev), 0);
		assert_int_equal(ev, VFU_PCI_EV_FLR);
	}
	assert_int_equal(vfu_pci_cfg_write(&p, 4095, ff, 2, &ev), -EINVAL);
	/* Reset brings the reset state back. */
	vfu_pci_reset(&p);
	vfu_pci_cfg_read(&p, 0, after, sizeof(after));
	assert_memory_equal(before, after, sizeof(before));
	vfu_pci_fini(&p);
}

static void test_msix(void **state)
{
	struct vfu_pci_layout l;
	struct vfu_pci p;
	uint32_t ev, v;
	uint64_t v64;

	(void)state;
	vfu_pci_layout(8, &l);
	assert_int_equal(vfu_pci_init(&p, &l), 0);
	/* Table untouched: vectors are deliverable (a client emulating MSI-X never writes it). */
	assert_true(vfu_pci_msix_deliverable(&p, 3));
	assert_false(vfu_pci_msix_deliverable(&p, 8));
	/* Entries reset masked; writing one makes the table's masks count. */
	assert_int_equal(vfu_pci_bar4_read(&p, 3 * 16 + 12, &v, 4), 0);
	assert_int_equal(v, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	v64 = 0xfee00000u;
	assert_int_equal(vfu_pci_bar4_write(&p, 3 * 16, &v64, 8, &ev), 0);
	assert_int_equal(ev, VFU_PCI_EV_IRQ); /* deliverable before, masked now */
	assert_false(vfu_pci_msix_deliverable(&p, 3));
	assert_int_equal(vfu_pci_bar4_write(&p, 3 * 16 + 8, &v64, 4, &ev), 0);
	assert_int_equal(ev, 0); /* message data: nothing about delivery changed */
	v = 0xfffffffe;          /* reserved bits do not stick */
	assert_int_equal(vfu_pci_bar4_write(&p, 3 * 16 + 12, &v, 4, &ev), 0);
	assert_int_equal(ev, VFU_PCI_EV_IRQ);
	assert_int_equal(vfu_pci_bar4_read(&p, 3 * 16 + 12, &v, 4), 0);
	assert_int_equal(v, 0);
	assert_true(vfu_pci_msix_deliverable(&p, 3));
	assert_false(vfu_pci_msix_deliverable(&p, 2));
	/* Function mask holds all of them. */
	wr16(&p, VFU_PCI_CAP_MSIX + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	assert_false(vfu_pci_msix_deliverable(&p, 3));
	wr16(&p, VFU_PCI_CAP_MSIX + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);
	assert_true(vfu_pci_msix_deliverable(&p, 3));
	/* Pending bits: set and cleared by the server, read-only to the client. */
	vfu_pci_msix_set_pending(&p, 5, true);
	vfu_pci_msix_set_pending(&p, 99, true);
	assert_true(vfu_pci_msix_pending(&p, 5));
	assert_false(vfu_pci_msix_pending(&p, 99));
	assert_int_equal(vfu_pci_bar4_read(&p, l.pba_off, &v64, 8), 0);
	assert_int_equal(v64, 1u << 5);
	v64 = 0;
	assert_int_equal(vfu_pci_bar4_write(&p, l.pba_off, &v64, 8, &ev), 0);
	assert_true(vfu_pci_msix_pending(&p, 5));
	vfu_pci_msix_set_pending(&p, 5, false);
	assert_false(vfu_pci_msix_pending(&p, 5));
	/* Sizes, alignment and range. */
	assert_int_equal(vfu_pci_bar4_read(&p, 2, &v, 4), -EINVAL);
	assert_int_equal(vfu_pci_bar4_read(&p, 0, &v, 2), -EINVAL);
	assert_int_equal(vfu_pci_bar4_read(&p, l.bar4_size, &v, 4), -EINVAL);
	assert_int_equal(vfu_pci_bar4_read(&p, l.bar4_size - 4, &v, 4), 0);
	assert_int_equal(v, 0);
	assert_int_equal(vfu_pci_bar4_write(&p, 4, &v64, 8, &ev), -EINVAL);
	/* Past the table, inside the BAR: zero, writes ignored. */
	v = 0x1234;
	assert_int_equal(vfu_pci_bar4_write(&p, 8 * 16, &v, 4, &ev), 0);
	assert_int_equal(vfu_pci_bar4_read(&p, 8 * 16, &v, 4), 0);
	assert_int_equal(v, 0);
	vfu_pci_reset(&p);
	assert_true(vfu_pci_msix_deliverable(&p, 2));
	vfu_pci_fini(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_reset_contents),
		cmocka_unit_test(test_writes),
		cmocka_unit_test(test_msix),
	};

	return cmocka_run_group_tests_name("vfu_pci", tests, NULL, NULL);
}
