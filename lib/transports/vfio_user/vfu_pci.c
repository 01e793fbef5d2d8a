/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PCI configuration space and MSI-X table of the emulated NVMe function.
 *
 * Capability list: power management (0x40) -> MSI-X (0x48) -> PCI Express
 * (0x60).  The extended space from 0x100 is empty (a zero header ends it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transports/vfio_user/vfu_pci.h"

#define PAGE 4096u

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

void vfu_pci_layout(uint32_t nqueues, struct vfu_pci_layout *l)
{
	uint32_t table;

	/* Two 4-byte doorbells per queue pair (CAP.DSTRD 0), whole pages so they can be mapped. */
	l->db_size = ((nqueues * 8u) + PAGE - 1) / PAGE * PAGE;
	l->bar0_size = pow2_at_least((uint64_t)VFU_BAR0_DB_OFF + l->db_size);
	/* One vector per completion queue, as many as the table may hold. */
	l->msix_vectors = nqueues < VFU_MSIX_MAX ? nqueues : VFU_MSIX_MAX;
	table = (l->msix_vectors * PCI_MSIX_ENTRY_SIZE + PAGE - 1) / PAGE * PAGE;
	l->pba_off = table;
	l->bar4_size = (uint32_t)pow2_at_least((uint64_t)table + PAGE);
}

static void put16(uint8_t *b, uint32_t off, uint16_t v)
{
	b[off] = (uint8_t)v;
	b[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *b, uint32_t off, uint32_t v)
{
	put16(b, off, (uint16_t)v);
	put16(b, off + 2, (uint16_t)(v >> 16));
}

/* The write masks and read-only contents; reset state of the writable bits is zero. */
static void pci_build(struct vfu_pci *p)
{
	uint8_t *c = p->cfg, *w = p->wmask;
	const uint32_t pm = VFU_PCI_CAP_PM, mx = VFU_PCI_CAP_MSIX, ex = VFU_PCI_CAP_EXP;

	memset(c, 0, sizeof(p->cfg));
	memset(w, 0, sizeof(p->wmask));
	put16(c, PCI_VENDOR_ID, VFU_PCI_VENDOR_ID);
	put16(c, PCI_DEVICE_ID, VFU_PCI_DEVICE_ID);
	put16(w, PCI_COMMAND,
	      PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR |
		      PCI_COMMAND_INTX_DISABLE);
	put16(c, PCI_STATUS, PCI_STATUS_CAP_LIST);
	c[PCI_CLASS_PROG] = 0x02;       /* NVM Express */
	c[PCI_CLASS_DEVICE] = 0x08;     /* non-volatile memory controller */
	c[PCI_CLASS_DEVICE + 1] = 0x01; /* mass storage */
	w[PCI_CACHE_LINE_SIZE] = 0xff;
	w[PCI_LATENCY_TIMER] = 0xff;
	/* BAR0/1: 64-bit, non-prefetchable memory; BAR4: 32-bit memory. */
	put32(c, PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_MEM_TYPE_64);
	put32(w, PCI_BASE_ADDRESS_0, (uint32_t) ~(p->l.bar0_size - 1) & PCI_BASE_ADDRESS_MEM_MASK);
	put32(w, PCI_BASE_ADDRESS_1, 0xffffffffu);
	put32(w, PCI_BASE_ADDRESS_4, ~(p->l.bar4_size - 1) & PCI_BASE_ADDRESS_MEM_MASK);
	put16(c, PCI_SUBSYSTEM_VENDOR_ID, VFU_PCI_VENDOR_ID);
	put16(c, PCI_SUBSYSTEM_ID, VFU_PCI_DEVICE_ID);
	c[PCI_CAPABILITY_LIST] = pm;
	w[PCI_INTERRUPT_LINE] = 0xff;
	c[PCI_INTERRUPT_PIN] = 1; /* INTA# */

	/* Power management 1.2: D0 and D3hot, and no reset on the way back to D0. */
	c[pm] = PCI_CAP_ID_PM;
	c[pm + PCI_CAP_LIST_NEXT] = mx;
	put16(c, pm + PCI_PM_PMC, 3);
	put16(c, pm + PCI_PM_CTRL, PCI_PM_CTRL_NO_SOFT_RESET);
	put16(w, pm + PCI_PM_CTRL, PCI_PM_CTRL_STATE_MASK);

	c[mx] = PCI_CAP_ID_MSIX;
	c[mx + PCI_CAP_LIST_NEXT] = ex;
	put16(c, mx + PCI_MSIX_FLAGS, (uint16_t)(p->l.msix_vectors - 1));
	put16(w, mx + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	put32(c, mx + PCI_MSIX_TABLE, VFU_PCI_BAR_MSIX);
	put32(c, mx + PCI_MSIX_PBA, p->l.pba_off | VFU_PCI_BAR_MSIX);

	/* PCI Express 2.0 endpoint, 2.5 GT/s x1, able to do a function level reset. */
	c[ex] = PCI_CAP_ID_EXP;
	put16(c, ex + PCI_EXP_FLAGS, 2 | PCI_EXP_TYPE_ENDPOINT << 4);
	put32(c, ex + PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_FLR);
	put16(w, ex + PCI_EXP_DEVCTL, 0x7fff); /* bit 15 starts an FLR and reads 0 */
	put32(c, ex + PCI_EXP_LNKCAP, PCI_EXP_LNKCAP_SLS_2_5GB | 1u << 4);
	put16(w, ex + PCI_EXP_LNKCTL, 0x0fff);
	put16(c, ex + PCI_EXP_LNKSTA, PCI_EXP_LNKSTA_CLS_2_5GB | PCI_EXP_LNKSTA_NLW_X1);
	put16(w, ex + PCI_EXP_DEVCTL2, 0xffff);
}

void vfu_pci_reset(struct vfu_pci *p)
{
	pci_build(p);
	/* MSI-X: every vector masked, nothing pending (the table's own reset state). */
	memset(p->msix, 0, (size_t)p->l.msix_vectors * PCI_MSIX_ENTRY_SIZE);
	for (uint32_t v = 0; v < p->l.msix_vectors; v++)
		p->msix[v * 4 + 3] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	memset(p->pba, 0, (p->l.msix_vectors + 63) / 64 * 8);
	p->msix_table_used = false;
}

int vfu_pci_init(struct vfu_pci *p, const struct vfu_pci_layout *l)
{
	memset(p, 0, sizeof(*p));
	p->l = *l;
	p->msix = calloc(l->msix_vectors, PCI_MSIX_ENTRY_SIZE);
	p->pba = calloc((l->msix_vectors + 63) / 64, sizeof(uint64_t));
	if (p->msix == NULL || p->pba == NULL) {
		vfu_pci_fini(p);
		return -ENOMEM;
	}
	vfu_pci_reset(p);
	return 0;
}

void vfu_pci_fini(struct vfu_pci *p)
{
	free(p->msix);
	free(p->pba);
	p->msix = NULL;
	p->pba = NULL;
}

int vfu_pci_cfg_read(const struct vfu_pci *p, uint64_t off, void *buf, uint32_t len)
{
	if (len == 0 || off >= VFU_PCI_CFG_SIZE || len > VFU_PCI_CFG_SIZE - off)
		return -EINVAL;
	memcpy(buf, p->cfg + off, len);
	return 0;
}

/* Whether [@off, @off + @len) touches [@reg, @reg + @size). */
static bool touches(uint64_t off, uint32_t len, uint32_t reg, uint32_t size)
{
	return off < reg + size && reg < off + len;
}

int vfu_pci_cfg_write(struct vfu_pci *p, uint64_t off, const void *buf, uint32_t len, uint32_t *events)
{
	const uint32_t devctl = VFU_PCI_CAP_EXP + PCI_EXP_DEVCTL;
	const uint8_t *b = buf;
	uint16_t cmd_old = vfu_pci_cfg16(p, PCI_COMMAND);
	uint16_t mxc_old = vfu_pci_cfg16(p, VFU_PCI_CAP_MSIX + PCI_MSIX_FLAGS);
	uint16_t cmd_new, mxc_new;

	*events = 0;
	if (len == 0 || off >= VFU_PCI_CFG_SIZE || len > VFU_PCI_CFG_SIZE - off)
		return -EINVAL;
	for (uint32_t i = 0; i < len; i++) {
		uint32_t o = (uint32_t)off + i;

		p->cfg[o] = (uint8_t)((p->cfg[o] & ~p->wmask[o]) | (b[i] & p->wmask[o]));
	}
	/* Initiate FLR is write-only: it starts the reset and reads back 0 (outside the mask). */
	if (touches(off, len, devctl + 1, 1) && (b[devctl + 1 - off] & (PCI_EXP_DEVCTL_BCR_FLR >> 8)))
		*events |= VFU_PCI_EV_FLR;
	cmd_new = vfu_pci_cfg16(p, PCI_COMMAND);
	mxc_new = vfu_pci_cfg16(p, VFU_PCI_CAP_MSIX + PCI_MSIX_FLAGS);
	if ((cmd_old ^ cmd_new) & PCI_COMMAND_MASTER)
		*events |= VFU_PCI_EV_BME;
	if (((cmd_old ^ cmd_new) & PCI_COMMAND_INTX_DISABLE) || mxc_old != mxc_new)
		*events |= VFU_PCI_EV_IRQ;
	return 0;
}

static bool bar4_table(const struct vfu_pci *p, uint64_t off, uint32_t len)
{
	return off < (uint64_t)p->l.msix_vectors * PCI_MSIX_ENTRY_SIZE &&
	       off + len <= (uint64_t)p->l.msix_vectors * PCI_MSIX_ENTRY_SIZE;
}

static bool bar4_pba(const struct vfu_pci *p, uint64_t off, uint32_t len)
{
	uint64_t pba_len = (p->l.msix_vectors + 63) / 64 * 8;

	return off >= p->l.pba_off && off + len <= p->l.pba_off + pba_len;
}

int vfu_pci_bar4_read(const struct vfu_pci *p, uint64_t off, void *buf, uint32_t len)
{
	if ((len != 4 && len != 8) || off % len || off >= p->l.bar4_size || len > p->l.bar4_size - off)
		return -EINVAL;
	if (bar4_table(p, off, len))
		memcpy(buf, (const uint8_t *)p->msix + off, len);
	else if (bar4_pba(p, off, len))
		memcpy(buf, (const uint8_t *)p->pba + (off - p->l.pba_off), len);
	else
		memset(buf, 0, len);
	return 0;
}

int vfu_pci_bar4_write(struct vfu_pci *p, uint64_t off, const void *buf, uint32_t len, uint32_t *events)
{
	uint32_t vec = (uint32_t)(off / PCI_MSIX_ENTRY_SIZE);
	bool was_masked;

	*events = 0;
	if ((len != 4 && len != 8) || off % len || off >= p->l.bar4_size || len > p->l.bar4_size - off)
		return -EINVAL;
	if (!bar4_table(p, off, len))
		return 0; /* pending bits are read-only; the rest reads as zero */
	was_masked = !vfu_pci_msix_deliverable(p, vec);
	p->msix_table_used = true;
	memcpy((uint8_t *)p->msix + off, buf, len);
	/* Only vector control bit 0 is defined; the rest is reserved. */
	p->msix[vec * 4 + 3] &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
	if (was_masked != !vfu_pci_msix_deliverable(p, vec))
		*events |= VFU_PCI_EV_IRQ;
	return 0;
}

bool vfu_pci_msix_deliverable(const struct vfu_pci *p, uint32_t vec)
{
	if (vec >= p->l.msix_vectors ||
	    (vfu_pci_cfg16(p, VFU_PCI_CAP_MSIX + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_MASKALL))
		return false;
	return !p->msix_table_used || !(p->msix[vec * 4 + 3] & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

void vfu_pci_msix_set_pending(struct vfu_pci *p, uint32_t vec, bool pending)
{
	if (vec >= p->l.msix_vectors)
		return;
	if (pending)
		p->pba[vec / 64] |= 1ull << (vec % 64);
	else
		p->pba[vec / 64] &= ~(1ull << (vec % 64));
}

bool vfu_pci_msix_pending(const struct vfu_pci *p, uint32_t vec)
{
	return vec < p->l.msix_vectors && (p->pba[vec / 64] >> (vec % 64) & 1);
}
