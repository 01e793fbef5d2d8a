/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The PCI function a vfio-user client sees: the configuration space of an
 * NVMe controller (class 01h/08h/02h, a 64-bit BAR0 with the controller
 * registers and doorbells, BAR4 with the MSI-X table and pending bits;
 * power management, MSI-X and PCI Express capabilities) and the MSI-X
 * table itself.  Pure emulation: bytes in, bytes out, and events for the
 * server to act on (reset, interrupt routing changed).
 *
 * Config writes follow the PCI rules with a per-byte write mask: read-only
 * bits keep their value, BAR sizing works by writing all ones, and writes
 * never fail for landing on read-only bytes.
 */
#ifndef NVMFT_VFU_PCI_H
#define NVMFT_VFU_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/pci_regs.h>

enum {
	VFU_PCI_CFG_SIZE = 4096,  /* PCI Express extended configuration space */
	VFU_BAR0_DB_OFF = 0x1000, /* doorbells begin on BAR0's second page */
	VFU_MSIX_MAX = 2048,      /* the MSI-X table size field's limit */
	/*
	 * No vendor ID of our own exists: drivers bind an NVMe function by
	 * its class code, so these only name the device in lspci output.  They
	 * are the IDs vfio-user NVMe emulations commonly report.
	 */
	VFU_PCI_VENDOR_ID = 0x4e58,
	VFU_PCI_DEVICE_ID = 0x0001,
	/* Where the capabilities sit. */
	VFU_PCI_CAP_PM = 0x40,
	VFU_PCI_CAP_MSIX = 0x48,
	VFU_PCI_CAP_EXP = 0x60,
	VFU_PCI_BAR_MSIX = 4,
};

/* Things a config or MSI-X table write changed, for the server. */
enum {
	VFU_PCI_EV_FLR = 1u << 0, /* Initiate Function Level Reset was written */
	VFU_PCI_EV_IRQ = 1u << 1, /* interrupt routing or masking changed: recheck pending ones */
	VFU_PCI_EV_BME = 1u << 2, /* Bus Master Enable changed */
};

struct vfu_pci_layout {
	uint64_t bar0_size; /* a power of two: registers page + doorbells */
	uint32_t db_size;   /* doorbell bytes, page multiple, at VFU_BAR0_DB_OFF */
	uint32_t msix_vectors;
	uint32_t bar4_size; /* a power of two: table, then the pending bits */
	uint32_t pba_off;   /* in BAR4 */
};

struct vfu_pci {
	struct vfu_pci_layout l;
	uint8_t cfg[VFU_PCI_CFG_SIZE];
	uint8_t wmask[VFU_PCI_CFG_SIZE];
	uint32_t *msix; /* 4 dwords per vector: address low/high, data, control */
	uint64_t *pba;
	/*
	 * Clients that emulate the MSI-X table themselves (QEMU does) never
	 * touch ours, so its reset-time masks would silence them: the table's
	 * vector masks count only once the client has written the table.
	 */
	bool msix_table_used;
};

/* Sizes for a controller of @nqueues queue pairs (admin included). */
void vfu_pci_layout(uint32_t nqueues, struct vfu_pci_layout *l);
/* Build the function in its reset state.  0 or -ENOMEM. */
int vfu_pci_init(struct vfu_pci *p, const struct vfu_pci_layout *l);
void vfu_pci_fini(struct vfu_pci *p);
/* A function reset (FLR, DEVICE_RESET): registers back to their reset values. */
void vfu_pci_reset(struct vfu_pci *p);

/* Config space accesses of 1..4096 bytes inside the 4 KiB.  0 or -EINVAL. */
int vfu_pci_cfg_read(const struct vfu_pci *p, uint64_t off, void *buf, uint32_t len);
int vfu_pci_cfg_write(struct vfu_pci *p, uint64_t off, const void *buf, uint32_t len, uint32_t *events);
/*
 * BAR4: the MSI-X table (4- or 8-byte aligned accesses) and the pending
 * bits (read-only).  Outside both, reads are 0 and writes are ignored.
 * 0 or -EINVAL (size or alignment).
 */
int vfu_pci_bar4_read(const struct vfu_pci *p, uint64_t off, void *buf, uint32_t len);
int vfu_pci_bar4_write(struct vfu_pci *p, uint64_t off, const void *buf, uint32_t len, uint32_t *events);

static inline uint16_t vfu_pci_cfg16(const struct vfu_pci *p, uint32_t off)
{
	return (uint16_t)(p->cfg[off] | p->cfg[off + 1] << 8);
}

static inline bool vfu_pci_bus_master(const struct vfu_pci *p)
{
	return vfu_pci_cfg16(p, PCI_COMMAND) & PCI_COMMAND_MASTER;
}

static inline bool vfu_pci_intx_disabled(const struct vfu_pci *p)
{
	return vfu_pci_cfg16(p, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE;
}

static inline bool vfu_pci_msix_enabled(const struct vfu_pci *p)
{
	return vfu_pci_cfg16(p, VFU_PCI_CAP_MSIX + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE;
}

/* Whether vector @vec may fire now (function mask, and the table's mask once used). */
bool vfu_pci_msix_deliverable(const struct vfu_pci *p, uint32_t vec);
void vfu_pci_msix_set_pending(struct vfu_pci *p, uint32_t vec, bool pending);
bool vfu_pci_msix_pending(const struct vfu_pci *p, uint32_t vec);

#endif
