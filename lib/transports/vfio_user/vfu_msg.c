/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfio-user commands: what each client message does to the device, and the
 * reply it gets.  Payloads are checked by vfu_proto.c first; here they are
 * acted on: version negotiation, DMA maps, device, region and interrupt
 * information, SET_IRQS, region reads and writes (configuration space,
 * BAR0, the MSI-X BAR), resets, and the commands this device refuses.
 *
 * Replies that must wait for the device (DMA_UNMAP with DMA in flight,
 * DEVICE_RESET and FLR, CC written while a reset drops the I/O queues) are
 * kept in the connection and sent from the poll loop; nothing else is read
 * from the client meanwhile, so replies stay in order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "transports/vfio_user/vfu_internal.h"
#include "util/log.h"

static void irq_counts_of(const struct vfu_conn *c, uint32_t *counts)
{
	memset(counts, 0, sizeof(*counts) * VFIO_PCI_NUM_IRQS);
	counts[VFIO_PCI_INTX_IRQ_INDEX] = 1;
	counts[VFIO_PCI_MSIX_IRQ_INDEX] = c->pci.l.msix_vectors;
}

static uint64_t region_size(const struct vfu_conn *c, uint32_t index)
{
	switch (index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		return VFU_PCI_CFG_SIZE;
	case VFIO_PCI_BAR0_REGION_INDEX:
		return c->pci.l.bar0_size;
	case VFIO_PCI_BAR4_REGION_INDEX:
		return c->pci.l.bar4_size;
	default:
		return 0;
	}
}

static int cmd_version(struct vfu_conn *c, const struct vfu_hdr *h, const uint8_t *p, uint32_t len)
{
	struct {
		struct vfu_version v;
		char json[256];
	} reply;
	uint16_t minor;
	int rc, n;

	if (c->negotiated)
		return -EINVAL;
	rc = vfu_dec_version(p, len, &minor, &c->caps);
	if (rc < 0)
		return rc;
	n = vfu_caps_format(reply.json, sizeof(reply.json));
	if (n < 0)
		return n;
	reply.v.major = VFU_PROTO_MAJOR;
	reply.v.minor = minor < VFU_PROTO_MINOR ? minor : VFU_PROTO_MINOR;
	c->negotiated = true;
	vfu_conn_reply(c, h, 0, &reply, (uint32_t)(sizeof(reply.v) + (uint32_t)n + 1), -1);
	return 0;
}

static int cmd_dma_map(struct vfu_conn *c, const struct vfu_hdr *h, const uint8_t *p, uint32_t len)
{
	struct vfu_dma_map m;
	int fd = -1, rc;

	rc = vfu_dec_dma_map(p, len, c->rx.nfds, &m);
	if (rc < 0)
		return rc;
	if (c->rx.nfds == 1)
		fd = c->rx.fds[0];
	rc = vfu_dma_add(&c->dma, m.addr, m.size, m.flags & (VFU_DMA_READ | VFU_DMA_WRITE), fd, m.offset);
	if (rc == -EPERM && !c->told_unsealed) {
		/* A set-up matter rather than a broken client: say it once, where an operator looks. */
		c->told_unsealed = true;
		nvmft_notice(vfu_log_of(c),
			     "vfio-user: controller %u: client memory not sealed against shrinking "
			     "(F_SEAL_SHRINK) refused; see allow_unsealed_mem",
			     c->ctrlr != NULL ? c->ctrlr->cntlid : 0);
	}
	if (rc < 0)
		return rc;
	vfu_queues_remap(c);
	vfu_conn_reply(c, h, 0, NULL, 0, -1);
	return 0;
}

static int cmd_dma_unmap(struct vfu_conn *c, const struct vfu_hdr *h, const uint8_t *p, uint32_t len)
{
	struct vfu_dma_unmap u;
	struct vfu_dma_region *r;
	int rc;

	rc = vfu_dec_dma_unmap(p, len, c->rx.nfds, &u);
	if (rc < 0)
		return rc;
	if (u.flags & VFU_UNMAP_ALL) {
		vfu_queues_unmap(c, 0, 0, true);
		rc = vfu_dma_remove_all(&c->dma);
	} else {
		r = vfu_dma_find(&c->dma, u.addr);
		if (r == NULL || r->iova != u.addr || r->len != u.size)
			return -EINVAL;
		/* Queues first: nothing may look at the memory once it is gone. */
		vfu_queues_unmap(c, u.addr, u.size, false);
		rc = vfu_dma_remove(&c->dma, u.addr, u.size);
	}
	u.argsz = sizeof(u);
	if (rc == -EBUSY) {
		/* Requests still move data through it: answer once they are done. */
		c->blocked = VFU_BLOCK_UNMAP;
		c->blocked_hdr = *h;
		memcpy(c->blocked_data, &u, sizeof(u));
		c->blocked_len = sizeof(u);
		return 0;
	}
	vfu_conn_reply(c, h, 0, &u, sizeof(u), -1);
	return 0;
}

static int cmd_device_info(struct vfu_conn *c, const struct vfu_hdr *h, const uint8_t *p, uint32_t len)
{
	struct vfu_device_info d;
	int rc = vfu_dec_device_info(p, len, c->rx.nfds, &d);

	if (rc < 0)
		return rc;
	d.argsz = sizeof(d);
	d.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	d.num_regions = VFIO_PCI_NUM_REGIONS;
	d.num_irqs = VFIO_PCI_NUM_IRQS;
	vfu_conn_reply(c, h, 0, &d, sizeof(d), -1);
	return 0;
}

static int cmd_region_info(struct vfu_conn *c, const struct vfu_hdr *h, const uint8_t *p, uint32_t len)
{
	struct {
		struct vfu_region_info ri;
		struct vfu_cap_sparse1 sparse;
	} reply;
	uint32_t out = sizeof(reply.ri), room;
	int rc, fd = -1;

	rc = vfu_dec_region_info(p, len, c->rx.nfds, VFIO_PCI_NUM_REGIONS, &reply.ri);
	if (rc < 0)
		return rc;
	room = reply.ri.argsz;
	memset(&reply.sparse, 0, sizeof(reply.sparse));
	reply.ri.argsz = sizeof(reply.ri);
	reply.ri.cap_offset = 0;
	reply.ri.offset = 0;
	reply.ri.size = region_size(c, reply.ri.index);
	reply.ri.flags = reply.ri.size != 0 ? VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE : 0;
	/* BAR0's doorbell page(s) map straight into the client, when it takes descriptors. */
	if (reply.ri.index == VFIO_PCI_BAR0_REGION_INDEX && c->caps.max_msg_fds >= 1) {
		reply.ri.flags |= VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
		reply.ri.argsz = sizeof(reply);
		reply.ri.cap_offset = sizeof(reply.ri);
		reply.sparse.hdr.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
		reply.sparse.hdr.version = 1;
		reply.sparse.nr_areas = 1;
		reply.sparse.area.offset = VFU_BAR0_DB_OFF;
		reply.sparse.area.size = c->pci.l.db_size;
		/* Too small a buffer gets the size it needs, and no descriptor it could not use. */
		if (reply.ri.argsz <= room) {
			out = sizeof(reply);
			fd = c->bar_fd;
		}
	}
	vfu_conn_reply(c, h, 0, &reply, out, fd);
	return 0;
}

static int cmd_irq_info(struct vfu_conn *c, const struct vfu_hdr *h, const uint8_t *p, uint32_t len)
{
	uint32_t counts[VFIO_PCI_NUM_IRQS];
	struct vfu_irq_info i;
	int rc = vfu_dec_irq_info(p, len, c->rx.nfds, VFIO_PCI_NUM_IRQS, &i);

	if (rc < 0)
		return rc;
	irq_counts_of(c, counts);
	i.argsz = sizeof(i);
	i.count = counts[i.index];
	i.flags = 0;
	if (i.index == VFIO_PCI_INTX_IRQ_INDEX)
		i.flags = VFIO_IRQ_INFO_EVENTFD;
	else if (i.index == VFIO_PCI_MSIX_IRQ_INDEX)
		i.flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE;
	vfu_conn_reply(c, h, 0, &i, sizeof(i), -1);
	return 0;
}

/* Only real eventfds are written by this server. */
static bool is_eventfd(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventfd]") == 0;
}

static int cmd_set_irqs(struct vfu_conn *c, const struct vfu_hdr *h, const uint8_t *p, uint32_t len)
{
	uint32_t counts[VFIO_PCI_NUM_IRQS];
	const uint8_t *bools = NULL;
	struct vfu_irq_set s;
	uint32_t data, action;
	int rc;

	irq_counts_of(c, counts);
	rc = vfu_dec_irq_set(p, len, c->rx.nfds, VFIO_PCI_NUM_IRQS, counts, &s, &bools);
	if (rc < 0)
		return rc;
	data = s.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	action = s.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	/* Interrupts are neither maskable nor unmaskable through messages (no MASKABLE flag). */
	if (action != VFIO_IRQ_SET_ACTION_TRIGGER)
		return -EINVAL;
	if (data == VFIO_IRQ_SET_DATA_EVENTFD) {
		for (uint32_t i = 0; i < c->rx.nfds; i++)
			if (!is_eventfd(c->rx.fds[i]))
				return -EINVAL;
		for (uint32_t i = 0; i < s.count; i++) {
			int fd = c->rx.nfds ? c->rx.fds[i] : -1;

			if (c->rx.nfds)
				c->rx.fds[i] = -1; /* the interrupt owns it now */
			vfu_irq_set_fd(c, s.index, s.start + i, fd);
		}
	} else if (s.count == 0) {
		for (uint32_t i = 0; i < counts[s.index]; i++)
			vfu_irq_set_fd(c, s.index, i, -1);
	} else {
		for (uint32_t i = 0; i < s.count; i++)
			if (data == VFIO_IRQ_SET_DATA_NONE || bools[i])
				vfu_irq_fire(c, s.index, s.start + i);
	}
	vfu_irq_recheck(c);
	vfu_conn_reply(c, h, 0, NULL, 0, -1);
	return 0;
}

static void conn_start_reset(struct vfu_conn *c, const struct vfu_hdr *h, const void *reply, uint32_t len)
{
	vfu_dev_reset_start(c);
	if (vfu_dev_reset_done(c)) {
		vfu_conn_reply(c, h, 0, reply, len, -1);
		return;
	}
	c->blocked = VFU_BLOCK_RESET;
	c->blocked_hdr = *h;
	if (len > 0)
		memcpy(c->blocked_data, reply, len);
	c->blocked_len = len;
}

static int cmd_region_access(struct vfu_conn *c, const struct vfu_hdr *h, const uint8_t *p, uint32_t len,
			     bool write)
{
	struct vfu_region_access a;
	const uint8_t *data;
	uint8_t *out = NULL;
	uint32_t events = 0;
	int rc;

	rc = vfu_dec_region_access(p, len, c->rx.nfds, write, VFIO_PCI_NUM_REGIONS, VFU_MAX_DATA_XFER, &a,
				   &data);
	if (rc < 0)
		return rc;
	if (a.offset >= region_size(c, a.region) || a.count > region_size(c, a.region) - a.offset)
		return -EINVAL;
	if (!write) {
		out = malloc(sizeof(a) + a.count);
		if (out == NULL)
			return -ENOMEM;
		memcpy(out, &a, sizeof(a));
	}
	switch (a.region) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		rc = write ? vfu_pci_cfg_write(&c->pci, a.offset, data, a.count, &events)
			   : vfu_pci_cfg_read(&c->pci, a.offset, out + sizeof(a), a.count);
		break;
	case VFIO_PCI_BAR0_REGION_INDEX:
		rc = write ? vfu_bar0_write(c, a.offset, data, a.count)
			   : vfu_bar0_read(c, a.offset, out + sizeof(a), a.count);
		break;
	default: /* BAR4, the only other region with a size */
		rc = write ? vfu_pci_bar4_write(&c->pci, a.offset, data, a.count, &events)
			   : vfu_pci_bar4_read(&c->pci, a.offset, out + sizeof(a), a.count);
		break;
	}
	if (rc == -EAGAIN && write && a.count <= sizeof(c->blocked_data) - sizeof(a)) {
		/* CC written while a reset drops the I/O queues: write again as the group moves on. */
		c->blocked = VFU_BLOCK_CC;
		c->blocked_hdr = *h;
		memcpy(c->blocked_data, p, sizeof(a) + a.count);
		c->blocked_len = (uint32_t)sizeof(a) + a.count;
		return 0;
	}
	if (rc < 0) {
		free(out);
		return rc == -EAGAIN ? -EBUSY : rc;
	}
	if (events & VFU_PCI_EV_IRQ)
		vfu_irq_recheck(c);
	if (events & VFU_PCI_EV_FLR) {
		conn_start_reset(c, h, &a, sizeof(a));
		return 0;
	}
	if (write)
		vfu_conn_reply(c, h, 0, &a, sizeof(a), -1);
	else
		vfu_conn_reply(c, h, 0, out, (uint32_t)sizeof(a) + a.count, -1);
	free(out);
	return 0;
}

static int cmd_device_reset(struct vfu_conn *c, const struct vfu_hdr *h, uint32_t len)
{
	int rc = vfu_dec_empty(len, c->rx.nfds);

	if (rc < 0)
		return rc;
	conn_start_reset(c, h, NULL, 0);
	return 0;
}

static int conn_command(struct vfu_conn *c)
{
	const struct vfu_hdr *h = &c->rx.hdr;
	const uint8_t *p = c->rx.buf;
	uint32_t len = h->msg_size - (uint32_t)sizeof(*h);

	if (c->rx.fds_lost)
		return -EINVAL;
	if (!c->negotiated && h->cmd != VFU_CMD_VERSION)
		return -EINVAL;
	switch (h->cmd) {
	case VFU_CMD_VERSION:
		return cmd_version(c, h, p, len);
	case VFU_CMD_DMA_MAP:
		return cmd_dma_map(c, h, p, len);
	case VFU_CMD_DMA_UNMAP:
		return cmd_dma_unmap(c, h, p, len);
	case VFU_CMD_DEVICE_GET_INFO:
		return cmd_device_info(c, h, p, len);
	case VFU_CMD_DEVICE_GET_REGION_INFO:
		return cmd_region_info(c, h, p, len);
	case VFU_CMD_DEVICE_GET_IRQ_INFO:
		return cmd_irq_info(c, h, p, len);
	case VFU_CMD_DEVICE_SET_IRQS:
		return cmd_set_irqs(c, h, p, len);
	case VFU_CMD_REGION_READ:
		return cmd_region_access(c, h, p, len, false);
	case VFU_CMD_REGION_WRITE:
		return cmd_region_access(c, h, p, len, true);
	case VFU_CMD_DEVICE_RESET:
		return cmd_device_reset(c, h, len);
	case VFU_CMD_DEVICE_GET_REGION_IO_FDS:
	case VFU_CMD_DIRTY_PAGES:
	case VFU_CMD_REGION_WRITE_MULTI:
	case VFU_CMD_DEVICE_FEATURE:
	case VFU_CMD_MIG_DATA_READ:
	case VFU_CMD_MIG_DATA_WRITE:
		/* No ioeventfds, no migration, and write_multiple was never offered. */
		return -ENOTSUP;
	default:
		/* DMA_READ/WRITE go the other way; the rest does not exist. */
		return -EINVAL;
	}
}

void vfu_conn_dispatch(struct vfu_conn *c)
{
	bool was_negotiated = c->negotiated;
	int rc = conn_command(c);

	if (rc == 0)
		return;
	nvmft_debug(vfu_log_of(c), "vfio-user: %s (id %u): %s", vfu_cmd_name(c->rx.hdr.cmd), c->rx.hdr.msg_id,
		    strerror(-rc));
	vfu_conn_reply(c, &c->rx.hdr, rc, NULL, 0, -1);
	/* A client that cannot agree on a version has nothing else to say. */
	if (!was_negotiated)
		vfu_conn_fail(c, "version negotiation failed");
}

/* ---- Commands whose reply waited -------------------------------------------------------- */

void vfu_conn_unblock(struct vfu_conn *c)
{
	struct vfu_hdr h = c->blocked_hdr;

	c->blocked = VFU_BLOCK_NONE;
	vfu_conn_reply(c, &h, 0, c->blocked_data, c->blocked_len, -1);
	vfu_conn_rx(c);
}

void vfu_conn_try_unblock(struct vfu_conn *c)
{
	struct vfu_region_access a;
	int rc;

	switch (c->blocked) {
	case VFU_BLOCK_UNMAP:
		if (!vfu_dma_busy(&c->dma))
			vfu_conn_unblock(c);
		break;
	case VFU_BLOCK_RESET:
		if (vfu_dev_reset_done(c))
			vfu_conn_unblock(c);
		break;
	case VFU_BLOCK_CC:
		memcpy(&a, c->blocked_data, sizeof(a));
		rc = vfu_bar0_write(c, a.offset, c->blocked_data + sizeof(a), a.count);
		if (rc == -EAGAIN)
			break;
		c->blocked_len = sizeof(a);
		if (rc < 0) {
			struct vfu_hdr h = c->blocked_hdr;

			c->blocked = VFU_BLOCK_NONE;
			vfu_conn_reply(c, &h, rc, NULL, 0, -1);
			vfu_conn_rx(c);
			break;
		}
		vfu_conn_unblock(c);
		break;
	default:
		break;
	}
}
