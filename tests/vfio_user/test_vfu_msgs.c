/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfio-user messages a client gets wrong: version negotiation, framing,
 * payloads of the wrong size or content, file descriptors missing or
 * extra, DMA maps the server must refuse, and a stream of random commands.
 * Each gets the error reply the protocol gives it (or, when the stream
 * itself cannot be trusted, the socket closes), never a crash, a hang or a
 * leaked descriptor; the connection stays usable after an error reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/vfio.h>

#include "vfu_env.h"

static struct vfuc *raw_client(struct ve *e)
{
	struct vfuc_opts o = { .pump = ve_pump, .pump_arg = e, .timeout_ms = 3000 };
	struct vfuc *c = NULL;

	assert_int_equal(vfuc_connect(e->sock, &o, &c), 0);
	return c;
}

/* The connection still answers after whatever came before. */
static void assert_alive(struct vfuc *c)
{
	struct vfu_device_info di = { .argsz = sizeof(di) };

	assert_int_equal(
		vfuc_call(c, VFU_CMD_DEVICE_GET_INFO, &di, sizeof(di), NULL, 0, &di, sizeof(di), NULL, NULL),
		sizeof(di));
	assert_int_equal(di.num_regions, VFIO_PCI_NUM_REGIONS);
}

/* VERSION with these bytes as its capabilities (terminating NUL included by the caller). */
static int version_raw(struct vfuc *c, uint16_t major, uint16_t minor, const void *data, size_t len,
		       struct vfu_version *out)
{
	uint8_t buf[8192], rep[512];
	struct vfu_version v = { major, minor };
	int n;

	memcpy(buf, &v, sizeof(v));
	if (len > 0)
		memcpy(buf + sizeof(v), data, len);
	n = vfuc_call(c, VFU_CMD_VERSION, buf, sizeof(v) + len, NULL, 0, rep, sizeof(rep), NULL, NULL);
	if (n >= (int)sizeof(*out))
		memcpy(out, rep, sizeof(*out));
	return n;
}

static void test_version_rules(void **state)
{
	static const char *const bad_json[] = {
		"{",
		"[1]",
		"{\"capabilities\":5}",
		"{\"capabilities\":{\"max_msg_fds\":\"8\"}}",
		"{\"capabilities\":{\"max_msg_fds\":-1}}",
		"{\"capabilities\":{\"max_msg_fds\":1.5}}",
		"{\"capabilities\":{\"max_data_xfer_size\":99999999999999999999999}}",
		"{\"capabilities\":{\"twin_socket\":true}}",
		"{\"capabilities\":{\"write_multiple\":1}}",
		"{\"capabilities\":{},}",
		"{\"capabilities\":{}} x",
		"{\"a\":\"\x01\"}",
		"{\"a\":\"\\x\"}",
		"{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
		"{\"a\":tru}",
		"{\"a\":01}",
	};
	struct vfu_version v;
	struct ve e;
	struct vfuc *c;
	int fds[4], nfds = 0;

	(void)state;
	ve_init(&e, NULL);
	/* Anything before VERSION: refused, and the client is dropped. */
	c = raw_client(&e);
	assert_int_equal(vfuc_call(c, VFU_CMD_DEVICE_GET_INFO, &v, 0, NULL, 0, NULL, 0, NULL, NULL), -EINVAL);
	assert_true(vfuc_wait_eof(c));
	vfuc_close(c);
	/* Another major version: not supported. */
	c = raw_client(&e);
	assert_int_equal(version_raw(c, 1, 0, NULL, 0, &v), -ENOTSUP);
	assert_true(vfuc_wait_eof(c));
	vfuc_close(c);
	for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		c = raw_client(&e);
		assert_int_equal(version_raw(c, 0, 1, bad_json[i], strlen(bad_json[i]) + 1, &v), -EINVAL);
		assert_true(vfuc_wait_eof(c));
		vfuc_close(c);
	}
	/* Capabilities without their NUL, or with one inside. */
	c = raw_client(&e);
	assert_int_equal(version_raw(c, 0, 1, "{}", 2, &v), -EINVAL);
	vfuc_close(c);
	c = raw_client(&e);
	assert_int_equal(version_raw(c, 0, 1, "{}\0{}", 5, &v), -EINVAL);
	vfuc_close(c);
	/* Members we do not know, of any type, are skipped; a newer minor gets ours. */
	c = raw_client(&e);
	{
		const char *ok = "{\"x\":[1,2.5e3,-4,\"\\u00e9\\n\",null,{\"y\":false}],\"capabilities\":"
				 "{\"max_msg_fds\":16,\"pgsizes\":4096,\"max_dma_maps\":10,\"unknown\":{}}}";

		assert_true(version_raw(c, 0, 7, ok, strlen(ok) + 1, &v) > (int)sizeof(v));
	}
	assert_int_equal(v.major, 0);
	assert_int_equal(v.minor, 1);
	/* Once is enough. */
	assert_int_equal(version_raw(c, 0, 1, NULL, 0, &v), -EINVAL);
	assert_alive(c);
	vfuc_close(c);
	/* A client that takes no descriptors is offered no mappable BAR0. */
	c = ve_client(&e, "{\"capabilities\":{\"max_msg_fds\":0}}");
	{
		struct vfu_region_info req = { .argsz = 64, .index = VFIO_PCI_BAR0_REGION_INDEX }, rep;

		assert_int_equal(vfuc_call(c, VFU_CMD_DEVICE_GET_REGION_INFO, &req, sizeof(req), NULL, 0,
					   &rep, sizeof(rep), fds, &nfds),
				 sizeof(rep));
		assert_int_equal(nfds, 0);
		assert_false(rep.flags & VFIO_REGION_INFO_FLAG_MMAP);
	}
	vfuc_close(c);
	ve_fini(&e);
}

/* Headers that break the stream close the connection; the controller goes with it. */
static void test_framing(void **state)
{
	struct vfu_hdr bad[] = {
		{ .cmd = VFU_CMD_DEVICE_GET_INFO, .msg_size = 8 },
		{ .cmd = VFU_CMD_DEVICE_GET_INFO, .msg_size = 0x7fffffff },
		{ .cmd = VFU_CMD_DEVICE_GET_INFO, .msg_size = 16, .flags = VFU_F_TYPE_REPLY },
		{ .cmd = VFU_CMD_DEVICE_GET_INFO, .msg_size = 16, .flags = 3 },
		{ .cmd = VFU_CMD_DEVICE_GET_INFO, .msg_size = 16, .flags = 1u << 6 },
		{ .cmd = VFU_CMD_DEVICE_GET_INFO, .msg_size = 16, .flags = VFU_F_ERROR },
	};
	struct ve e;
	struct vfuc *c;

	(void)state;
	ve_init(&e, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = ve_client(&e, NULL);
		assert_int_equal(vfuc_send_bytes(c, &bad[i], sizeof(bad[i])), 0);
		assert_true(vfuc_wait_eof(c));
		vfuc_close(c);
		assert_true(ve_wait_ctrlrs(&e, 0));
	}
	/* Half a header, half a payload, then gone. */
	c = ve_client(&e, NULL);
	assert_int_equal(vfuc_send_bytes(c, &bad[0], 7), 0);
	ve_pump_ms(&e, 5);
	vfuc_close(c);
	assert_true(ve_wait_ctrlrs(&e, 0));
	c = ve_client(&e, NULL);
	{
		struct vfu_hdr h = { .cmd = VFU_CMD_REGION_WRITE, .msg_size = 16 + 16 + 4096 };

		assert_int_equal(vfuc_send_bytes(c, &h, sizeof(h)), 0);
		assert_int_equal(vfuc_send_bytes(c, &h, 10), 0);
	}
	ve_pump_ms(&e, 5);
	vfuc_close(c);
	assert_true(ve_wait_ctrlrs(&e, 0));
	assert_int_equal(ve_connections(&e), 0);
	ve_fini(&e);
}

struct bad_msg {
	const char *what;
	uint16_t cmd;
	uint8_t payload[64];
	size_t len;
	int err;
};

#define U32(v) (uint8_t)(v), (uint8_t)((v) >> 8), (uint8_t)((v) >> 16), (uint8_t)((v) >> 24)
#define U64(v) U32((uint32_t)(v)), U32((uint32_t)((uint64_t)(v) >> 32))

static void test_bad_payloads(void **state)
{
	const uint32_t irq_fl = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	const struct bad_msg msgs[] = {
		{ "unknown command", 99, { 0 }, 0, EINVAL },
		{ "command 0", 0, { 0 }, 0, EINVAL },
		{ "DMA_READ from the client", VFU_CMD_DMA_READ, { U64(0), U64(8) }, 16, EINVAL },
		{ "DMA_WRITE from the client", VFU_CMD_DMA_WRITE, { U64(0), U64(0) }, 16, EINVAL },
		{ "region io fds",
		  VFU_CMD_DEVICE_GET_REGION_IO_FDS,
		  { U32(16), U32(0), U32(0), U32(0) },
		  16,
		  ENOTSUP },
		{ "dirty pages", VFU_CMD_DIRTY_PAGES, { U32(8), U32(1) }, 8, ENOTSUP },
		{ "write multi", VFU_CMD_REGION_WRITE_MULTI, { U64(0) }, 8, ENOTSUP },
		{ "migration feature", VFU_CMD_DEVICE_FEATURE, { U32(8), U32(1u | 1u << 18) }, 8, ENOTSUP },
		{ "mig data read", VFU_CMD_MIG_DATA_READ, { U32(8), U32(64) }, 8, ENOTSUP },
		{ "mig data write", VFU_CMD_MIG_DATA_WRITE, { U32(8), U32(0) }, 8, ENOTSUP },
		{ "device info short", VFU_CMD_DEVICE_GET_INFO, { U32(16) }, 8, EINVAL },
		{ "device info long", VFU_CMD_DEVICE_GET_INFO, { U32(16) }, 20, EINVAL },
		{ "device info argsz", VFU_CMD_DEVICE_GET_INFO, { U32(8) }, 16, EINVAL },
		{ "region info short", VFU_CMD_DEVICE_GET_REGION_INFO, { U32(32) }, 16, EINVAL },
		{ "region info index",
		  VFU_CMD_DEVICE_GET_REGION_INFO,
		  { U32(32), U32(0), U32(9) },
		  32,
		  EINVAL },
		{ "region info argsz",
		  VFU_CMD_DEVICE_GET_REGION_INFO,
		  { U32(8), U32(0), U32(0) },
		  32,
		  EINVAL },
		{ "irq info index", VFU_CMD_DEVICE_GET_IRQ_INFO, { U32(16), U32(0), U32(5) }, 16, EINVAL },
		{ "irq info short", VFU_CMD_DEVICE_GET_IRQ_INFO, { U32(16) }, 4, EINVAL },
		{ "set irqs two data types",
		  VFU_CMD_DEVICE_SET_IRQS,
		  { U32(20),
		    U32(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER),
		    U32(VFIO_PCI_MSIX_IRQ_INDEX), U32(0), U32(1) },
		  20,
		  EINVAL },
		{ "set irqs no action",
		  VFU_CMD_DEVICE_SET_IRQS,
		  { U32(20), U32(VFIO_IRQ_SET_DATA_NONE), U32(VFIO_PCI_MSIX_IRQ_INDEX), U32(0), U32(1) },
		  20,
		  EINVAL },
		{ "set irqs mask",
		  VFU_CMD_DEVICE_SET_IRQS,
		  { U32(20), U32(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK),
		    U32(VFIO_PCI_MSIX_IRQ_INDEX), U32(0), U32(1) },
		  20,
		  EINVAL },
		{ "set irqs past the end",
		  VFU_CMD_DEVICE_SET_IRQS,
		  { U32(20), U32(irq_fl), U32(VFIO_PCI_MSIX_IRQ_INDEX), U32(100), U32(100) },
		  20,
		  EINVAL },
		{ "set irqs start+count wraps",
		  VFU_CMD_DEVICE_SET_IRQS,
		  { U32(20), U32(irq_fl), U32(VFIO_PCI_MSIX_IRQ_INDEX), U32(0xffffffffu), U32(2) },
		  20,
		  EINVAL },
		{ "set irqs MSI (none)",
		  VFU_CMD_DEVICE_SET_IRQS,
		  { U32(20), U32(irq_fl), U32(VFIO_PCI_MSI_IRQ_INDEX), U32(0), U32(1) },
		  20,
		  EINVAL },
		{ "set irqs bools missing",
		  VFU_CMD_DEVICE_SET_IRQS,
		  { U32(20), U32(VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER),
		    U32(VFIO_PCI_MSIX_IRQ_INDEX), U32(0), U32(4) },
		  22,
		  EINVAL },
		{ "set irqs eventfds missing",
		  VFU_CMD_DEVICE_SET_IRQS,
		  { U32(20), U32(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER),
		    U32(VFIO_PCI_MSIX_IRQ_INDEX), U32(0), U32(0) },
		  20,
		  EINVAL },
		{ "read with data",
		  VFU_CMD_REGION_READ,
		  { U64(0), U32(VFIO_PCI_CONFIG_REGION_INDEX), U32(4) },
		  20,
		  EINVAL },
		{ "read count 0",
		  VFU_CMD_REGION_READ,
		  { U64(0), U32(VFIO_PCI_CONFIG_REGION_INDEX), U32(0) },
		  16,
		  EINVAL },
		{ "read past config",
		  VFU_CMD_REGION_READ,
		  { U64(4095), U32(VFIO_PCI_CONFIG_REGION_INDEX), U32(2) },
		  16,
		  EINVAL },
		{ "read far offset",
		  VFU_CMD_REGION_READ,
		  { U64(0xfffffffffffffffcull), U32(0), U32(8) },
		  16,
		  EINVAL },
		{ "read region 9", VFU_CMD_REGION_READ, { U64(0), U32(9), U32(4) }, 16, EINVAL },
		{ "read BAR2 (none)", VFU_CMD_REGION_READ, { U64(0), U32(2), U32(4) }, 16, EINVAL },
		{ "read too much",
		  VFU_CMD_REGION_READ,
		  { U64(0), U32(0), U32(VFU_MAX_DATA_XFER + 1) },
		  16,
		  EINVAL },
		{ "BAR0 byte read",
		  VFU_CMD_REGION_READ,
		  { U64(0x14), U32(VFIO_PCI_BAR0_REGION_INDEX), U32(1) },
		  16,
		  EINVAL },
		{ "BAR0 unaligned",
		  VFU_CMD_REGION_READ,
		  { U64(0x16), U32(VFIO_PCI_BAR0_REGION_INDEX), U32(4) },
		  16,
		  EINVAL },
		{ "BAR0 8 bytes at CC",
		  VFU_CMD_REGION_READ,
		  { U64(0x14), U32(VFIO_PCI_BAR0_REGION_INDEX), U32(8) },
		  16,
		  EINVAL },
		{ "BAR4 odd size",
		  VFU_CMD_REGION_READ,
		  { U64(0), U32(VFIO_PCI_BAR4_REGION_INDEX), U32(2) },
		  16,
		  EINVAL },
		{ "write short data",
		  VFU_CMD_REGION_WRITE,
		  { U64(0x14), U32(VFIO_PCI_BAR0_REGION_INDEX), U32(4), 0, 0 },
		  18,
		  EINVAL },
		{ "write doorbell 2 bytes",
		  VFU_CMD_REGION_WRITE,
		  { U64(0x1000), U32(VFIO_PCI_BAR0_REGION_INDEX), U32(2), 0, 0 },
		  18,
		  EINVAL },
		{ "dma map short", VFU_CMD_DMA_MAP, { U32(32), U32(3) }, 16, EINVAL },
		{ "dma map argsz",
		  VFU_CMD_DMA_MAP,
		  { U32(40), U32(3), U64(0), U64(0x1000), U64(0x1000) },
		  32,
		  EINVAL },
		{ "dma map flags",
		  VFU_CMD_DMA_MAP,
		  { U32(32), U32(3 | 1u << 9), U64(0), U64(0x1000), U64(0x1000) },
		  32,
		  EINVAL },
		{ "dma map no access",
		  VFU_CMD_DMA_MAP,
		  { U32(32), U32(0), U64(0), U64(0x1000), U64(0x1000) },
		  32,
		  EINVAL },
		{ "dma map size 0",
		  VFU_CMD_DMA_MAP,
		  { U32(32), U32(3), U64(0), U64(0x1000), U64(0) },
		  32,
		  EINVAL },
		{ "dma map unaligned",
		  VFU_CMD_DMA_MAP,
		  { U32(32), U32(3), U64(0), U64(0x1200), U64(0x1000) },
		  32,
		  EINVAL },
		{ "dma map wraps",
		  VFU_CMD_DMA_MAP,
		  { U32(32), U32(3), U64(0), U64(0xfffffffffffff000ull), U64(0x2000) },
		  32,
		  EINVAL },
		{ "dma unmap no match",
		  VFU_CMD_DMA_UNMAP,
		  { U32(24), U32(0), U64(0x5000), U64(0x1000) },
		  24,
		  EINVAL },
		{ "dma unmap dirty",
		  VFU_CMD_DMA_UNMAP,
		  { U32(24), U32(1), U64(0x5000), U64(0x1000) },
		  24,
		  ENOTSUP },
		{ "dma unmap all with range",
		  VFU_CMD_DMA_UNMAP,
		  { U32(24), U32(2), U64(0x5000), U64(0x1000) },
		  24,
		  EINVAL },
		{ "dma unmap flags",
		  VFU_CMD_DMA_UNMAP,
		  { U32(24), U32(1u << 5), U64(0x5000), U64(0x1000) },
		  24,
		  EINVAL },
		{ "dma unmap short", VFU_CMD_DMA_UNMAP, { U32(24) }, 8, EINVAL },
		{ "reset with payload", VFU_CMD_DEVICE_RESET, { 1 }, 1, EINVAL },
	};
	struct ve e;
	struct vfuc *c;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client(&e, NULL);
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		uint8_t rep[256];
		int rc = vfuc_call(c, msgs[i].cmd, msgs[i].payload, msgs[i].len, NULL, 0, rep, sizeof(rep),
				   NULL, NULL);

		if (rc != -msgs[i].err)
			fail_msg("%s: got %d, expected %d", msgs[i].what, rc, -msgs[i].err);
	}
	assert_alive(c);
	assert_int_equal(ve_ctrlrs(&e), 1);
	vfuc_close(c);
	ve_fini(&e);
}

/* Descriptors the server was not meant to keep are closed: the pipe's reader sees EOF. */
static bool pipe_closed(struct ve *e, int rd)
{
	for (int i = 0; i < 2000; i++) {
		struct pollfd p = { .fd = rd, .events = POLLIN };
		char b;

		if (poll(&p, 1, 0) == 1 && read(rd, &b, 1) == 0)
			return true;
		ve_pump(e);
	}
	return false;
}

static void test_descriptors(void **state)
{
	struct vfu_device_info di = { .argsz = sizeof(di) };
	struct vfu_dma_map m = { .argsz = sizeof(m), .flags = 3, .addr = 0x10000, .size = 0x4000 };
	struct vfu_irq_set s = { .argsz = sizeof(s),
				 .index = VFIO_PCI_MSIX_IRQ_INDEX,
				 .start = 0,
				 .count = 2,
				 .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER };
	int p[2], mfd, short_fd, efd[2];
	struct ve e;
	struct vfuc *c;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client(&e, NULL);
	mfd = vfuc_memfd("t", 0x10000, true);
	short_fd = vfuc_memfd("s", 0x2000, true);
	assert_true(mfd >= 0 && short_fd >= 0);
	efd[0] = eventfd(0, EFD_CLOEXEC);
	efd[1] = eventfd(0, EFD_CLOEXEC);

	/* A descriptor on a command that takes none: refused, and closed on the server side. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(
		vfuc_call(c, VFU_CMD_DEVICE_GET_INFO, &di, sizeof(di), &p[1], 1, &di, sizeof(di), NULL, NULL),
		-EINVAL);
	close(p[1]);
	assert_true(pipe_closed(&e, p[0]));
	close(p[0]);
	/* DMA_MAP: two descriptors; a pipe; a file shorter than the range; then right. */
	assert_int_equal(pipe(p), 0);
	{
		int two[2] = { mfd, p[1] };

		assert_int_equal(vfuc_call(c, VFU_CMD_DMA_MAP, &m, sizeof(m), two, 2, NULL, 0, NULL, NULL),
				 -EINVAL);
	}
	assert_int_equal(vfuc_dma_map(c, p[1], 0, 0x10000, 0x4000, 3), -EINVAL);
	close(p[1]);
	assert_true(pipe_closed(&e, p[0]));
	close(p[0]);
	assert_int_equal(vfuc_dma_map(c, short_fd, 0, 0x10000, 0x4000, 3), -EINVAL);
	assert_int_equal(vfuc_dma_map(c, mfd, 0xe000, 0x10000, 0x4000, 3), -EINVAL);
	assert_int_equal(vfuc_dma_map(c, mfd, 0x100, 0x10000, 0x4000, 3), -EINVAL);
	assert_int_equal(vfuc_dma_map(c, mfd, 0, 0x10000, 0x4000, 3), 0);
	/* Overlaps are EEXIST, at either end; a neighbour is fine; without a descriptor too. */
	assert_int_equal(vfuc_dma_map(c, mfd, 0, 0xf000, 0x2000, 3), -EEXIST);
	assert_int_equal(vfuc_dma_map(c, mfd, 0, 0x13000, 0x2000, 3), -EEXIST);
	assert_int_equal(vfuc_dma_map(c, -1, 0, 0x11000, 0x1000, 1), -EEXIST);
	assert_int_equal(vfuc_dma_map(c, mfd, 0x4000, 0x14000, 0x4000, 1), 0);
	assert_int_equal(vfuc_dma_map(c, -1, 0, 0x40000, 0x1000, 1), 0);
	/* Unmap must match a map exactly; SPDK's initiator sends the descriptor again: tolerated. */
	assert_int_equal(vfuc_dma_unmap(c, 0x10000, 0x2000), -EINVAL);
	assert_int_equal(vfuc_dma_unmap(c, 0x11000, 0x3000), -EINVAL);
	{
		struct vfu_dma_unmap u = { .argsz = sizeof(u), .addr = 0x10000, .size = 0x4000 };

		assert_int_equal(
			vfuc_call(c, VFU_CMD_DMA_UNMAP, &u, sizeof(u), &mfd, 1, &u, sizeof(u), NULL, NULL),
			sizeof(u));
		assert_int_equal(u.addr, 0x10000);
		assert_int_equal(u.size, 0x4000);
	}
	assert_int_equal(vfuc_dma_unmap(c, 0x10000, 0x4000), -EINVAL);
	{
		struct vfu_dma_unmap all = { .argsz = sizeof(all), .flags = VFU_UNMAP_ALL };

		assert_int_equal(vfuc_call(c, VFU_CMD_DMA_UNMAP, &all, sizeof(all), NULL, 0, &all,
					   sizeof(all), NULL, NULL),
				 sizeof(all));
	}
	assert_int_equal(vfuc_dma_unmap(c, 0x14000, 0x4000), -EINVAL);
	/* Eventfds: as many as the count, and real ones. */
	assert_int_equal(vfuc_call(c, VFU_CMD_DEVICE_SET_IRQS, &s, sizeof(s), efd, 1, NULL, 0, NULL, NULL),
			 -EINVAL);
	assert_int_equal(pipe(p), 0);
	{
		int mixed[2] = { efd[0], p[1] };

		assert_int_equal(
			vfuc_call(c, VFU_CMD_DEVICE_SET_IRQS, &s, sizeof(s), mixed, 2, NULL, 0, NULL, NULL),
			-EINVAL);
	}
	close(p[1]);
	assert_true(pipe_closed(&e, p[0]));
	close(p[0]);
	assert_int_equal(vfuc_call(c, VFU_CMD_DEVICE_SET_IRQS, &s, sizeof(s), efd, 2, NULL, 0, NULL, NULL),
			 0);
	/* INTx has one interrupt. */
	s.index = VFIO_PCI_INTX_IRQ_INDEX;
	assert_int_equal(vfuc_call(c, VFU_CMD_DEVICE_SET_IRQS, &s, sizeof(s), efd, 2, NULL, 0, NULL, NULL),
			 -EINVAL);
	/* As many descriptors as the server takes in one message: fine; more: refused, all closed. */
	{
		int many[VFU_MAX_MSG_FDS + 8];

		for (int i = 0; i < VFU_MAX_MSG_FDS + 8; i++)
			many[i] = efd[0];
		s.index = VFIO_PCI_MSIX_IRQ_INDEX;
		s.count = VFU_MAX_MSG_FDS;
		assert_int_equal(vfuc_call(c, VFU_CMD_DEVICE_SET_IRQS, &s, sizeof(s), many, VFU_MAX_MSG_FDS,
					   NULL, 0, NULL, NULL),
				 0);
		s.count = VFU_MAX_MSG_FDS + 8;
		assert_int_equal(vfuc_call(c, VFU_CMD_DEVICE_SET_IRQS, &s, sizeof(s), many,
					   VFU_MAX_MSG_FDS + 8, NULL, 0, NULL, NULL),
				 -EINVAL);
		assert_int_equal(pipe(p), 0);
		many[VFU_MAX_MSG_FDS + 7] = p[1];
		assert_int_equal(vfuc_call(c, VFU_CMD_DEVICE_SET_IRQS, &s, sizeof(s), many,
					   VFU_MAX_MSG_FDS + 8, NULL, 0, NULL, NULL),
				 -EINVAL);
		close(p[1]);
		assert_true(pipe_closed(&e, p[0]));
		close(p[0]);
	}
	assert_alive(c);
	vfuc_close(c);
	close(mfd);
	close(short_fd);
	close(efd[0]);
	close(efd[1]);
	ve_fini(&e);
}

/* The table of DMA regions is bounded. */
static void test_dma_map_limit(void **state)
{
	struct ve e;
	struct vfuc *c;
	int i, rc = 0;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client(&e, NULL);
	for (i = 0; i < VFU_MAX_DMA_MAPS + 1; i++) {
		rc = vfuc_dma_map(c, -1, 0, (uint64_t)i * 0x2000, 0x1000, 3);
		if (rc != 0)
			break;
	}
	assert_int_equal(i, VFU_MAX_DMA_MAPS);
	assert_int_equal(rc, -ENOSPC);
	assert_alive(c);
	vfuc_close(c);
	ve_fini(&e);
}

static void test_no_reply(void **state)
{
	struct vfu_device_info di = { .argsz = sizeof(di) };
	struct vfu_hdr h;
	uint8_t buf[64];
	struct ve e;
	struct vfuc *c;
	int id1, id2;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client(&e, NULL);
	/* No reply asked: none comes, not even for an error.  The next command's reply is the first. */
	id1 = vfuc_send_raw(c, VFU_CMD_DEVICE_GET_INFO, VFU_F_NO_REPLY, &di, sizeof(di), NULL, 0);
	assert_true(id1 >= 0);
	assert_true(vfuc_send_raw(c, 99, VFU_F_NO_REPLY, NULL, 0, NULL, 0) >= 0);
	id2 = vfuc_send_raw(c, VFU_CMD_DEVICE_GET_INFO, 0, &di, sizeof(di), NULL, 0);
	assert_int_equal(vfuc_recv(c, &h, buf, sizeof(buf), NULL, NULL), sizeof(di));
	assert_int_equal(h.msg_id, id2);
	assert_int_equal(h.flags, VFU_F_TYPE_REPLY);
	vfuc_close(c);
	ve_fini(&e);
}

/* Random commands with valid framing: every one is answered, the server stays up. */
static void test_random_commands(void **state)
{
	uint8_t payload[96], rep[2048];
	uint32_t seed = 12345;
	struct ve e;
	struct vfuc *c;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_nvme(&e);
	for (int i = 0; i < 3000; i++) {
		uint16_t cmd;
		size_t len;
		struct vfu_hdr h;
		int id, n;

		seed = seed * 1103515245u + 12345u;
		cmd = (uint16_t)(2 + (seed >> 16) % 18);
		if (cmd == VFU_CMD_VERSION)
			cmd = VFU_CMD_DEVICE_GET_INFO;
		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % sizeof(payload);
		for (size_t k = 0; k < len; k++) {
			seed = seed * 1103515245u + 12345u;
			payload[k] = (uint8_t)(seed >> 20);
			/* Small numbers now and then, so offsets and sizes hit something. */
			if ((seed >> 8) % 3 == 0)
				payload[k] = (uint8_t)((seed >> 12) % 8);
		}
		id = vfuc_send_raw(c, cmd, 0, payload, len, NULL, 0);
		assert_true(id >= 0);
		n = vfuc_recv(c, &h, rep, sizeof(rep), NULL, NULL);
		assert_true(n >= 0);
		assert_int_equal(h.msg_id, id);
		assert_int_equal(h.cmd, cmd);
		assert_int_equal(h.flags & VFU_F_TYPE_MASK, VFU_F_TYPE_REPLY);
	}
	assert_alive(c);
	vfuc_close(c);
	ve_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_rules),   cmocka_unit_test(test_framing),
		cmocka_unit_test(test_bad_payloads),    cmocka_unit_test(test_descriptors),
		cmocka_unit_test(test_dma_map_limit),   cmocka_unit_test(test_no_reply),
		cmocka_unit_test(test_random_commands),
	};

	return cmocka_run_group_tests_name("vfu_msgs", tests, NULL, NULL);
}
