/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/transports/vfio_user/vfu_proto.c on its own: framing checks, reply
 * headers, the capabilities JSON (parsed and written), every payload
 * decoder at and around its limits, and random bytes through all of them.
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
#include <linux/vfio.h>

#include "transports/vfio_user/vfu_proto.h"

static void test_hdr_check(void **state)
{
	struct vfu_hdr h = { .msg_id = 7, .cmd = VFU_CMD_DMA_MAP, .msg_size = 48 };
	struct vfu_hdr r;

	(void)state;
	assert_int_equal(vfu_hdr_check(&h, VFU_MAX_MSG), 0);
	h.flags = VFU_F_NO_REPLY;
	assert_int_equal(vfu_hdr_check(&h, VFU_MAX_MSG), 0);
	h.flags = VFU_F_TYPE_REPLY;
	assert_int_equal(vfu_hdr_check(&h, VFU_MAX_MSG), -EPROTO);
	h.flags = VFU_F_ERROR;
	assert_int_equal(vfu_hdr_check(&h, VFU_MAX_MSG), -EPROTO);
	h.flags = 1u << 31;
	assert_int_equal(vfu_hdr_check(&h, VFU_MAX_MSG), -EPROTO);
	h.flags = 0;
	h.msg_size = 15;
	assert_int_equal(vfu_hdr_check(&h, VFU_MAX_MSG), -EPROTO);
	h.msg_size = 16;
	assert_int_equal(vfu_hdr_check(&h, VFU_MAX_MSG), 0);
	h.msg_size = VFU_MAX_MSG;
	assert_int_equal(vfu_hdr_check(&h, VFU_MAX_MSG), 0);
	h.msg_size = VFU_MAX_MSG + 1;
	assert_int_equal(vfu_hdr_check(&h, VFU_MAX_MSG), -EPROTO);

	h.msg_size = 48;
	vfu_hdr_reply(&r, &h, 24, 0);
	assert_int_equal(r.msg_id, 7);
	assert_int_equal(r.cmd, VFU_CMD_DMA_MAP);
	assert_int_equal(r.msg_size, 40);
	assert_int_equal(r.flags, VFU_F_TYPE_REPLY);
	assert_int_equal(r.error, 0);
	/* Error replies carry only the header and the errno, whichever sign it came with. */
	vfu_hdr_reply(&r, &h, 24, -EINVAL);
	assert_int_equal(r.msg_size, 16);
	assert_int_equal(r.flags, VFU_F_TYPE_REPLY | VFU_F_ERROR);
	assert_int_equal(r.error, EINVAL);
	vfu_hdr_reply(&r, &h, 0, ENOTSUP);
	assert_int_equal(r.error, ENOTSUP);
	assert_string_equal(vfu_cmd_name(VFU_CMD_REGION_WRITE), "REGION_WRITE");
	assert_string_equal(vfu_cmd_name(999), "unknown");
	assert_string_equal(vfu_cmd_name(0), "unknown");
}

static int parse(const char *s, struct vfu_caps *c)
{
	vfu_caps_default(c);
	return vfu_caps_parse(s, strlen(s), c);
}

static void test_caps(void **state)
{
	struct vfu_caps c;
	char buf[256];
	int n;

	(void)state;
	vfu_caps_default(&c);
	assert_int_equal(c.max_msg_fds, 1);
	assert_int_equal(c.max_data_xfer_size, 1u << 20);
	assert_int_equal(c.pgsizes, 4096);
	assert_int_equal(c.max_dma_maps, 65535);
	assert_int_equal(parse("{}", &c), 0);
	assert_int_equal(c.max_msg_fds, 1);
	assert_int_equal(
		parse(" {\"capabilities\" : { \"max_msg_fds\" : 32 ,\"max_data_xfer_size\":65536,"
		      "\"pgsizes\":12288,\"max_dma_maps\":7,\"twin_socket\":{\"supported\":true,"
		      "\"fd_index\":0},\"write_multiple\":true,\"migration\":{\"pgsize\":4096}} } \n",
		      &c),
		0);
	assert_int_equal(c.max_msg_fds, 32);
	assert_int_equal(c.max_data_xfer_size, 65536);
	assert_int_equal(c.pgsizes, 12288);
	assert_int_equal(c.max_dma_maps, 7);
	assert_true(c.twin_socket);
	assert_true(c.write_multiple);
	assert_true(c.migration);
	/* Unknown members of every kind are skipped. */
	assert_int_equal(parse("{\"z\":[],\"y\":[{},[1,[2]],\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u12aF\"],"
			       "\"x\":-0.5e-3,\"w\":null,\"v\":false,\"capabilities\":{\"q\":1E+2}}",
			       &c),
			 0);
	/* 0 is a valid maximum (no descriptors at all). */
	assert_int_equal(parse("{\"capabilities\":{\"max_msg_fds\":0}}", &c), 0);
	assert_int_equal(c.max_msg_fds, 0);
	/* Largest numbers that fit, and one more. */
	assert_int_equal(parse("{\"capabilities\":{\"max_data_xfer_size\":18446744073709551615}}", &c), 0);
	assert_int_equal(c.max_data_xfer_size, UINT64_MAX);
	assert_int_equal(parse("{\"capabilities\":{\"max_data_xfer_size\":18446744073709551616}}", &c),
			 -EINVAL);
	assert_int_equal(parse("{\"capabilities\":{\"max_msg_fds\":4294967296}}", &c), -EINVAL);

	static const char *const bad[] = {
		"",
		" ",
		"{",
		"}",
		"{}}",
		"[]",
		"\"x\"",
		"1",
		"{\"a\"}",
		"{\"a\":}",
		"{\"a\":1,}",
		"{,}",
		"{\"a\":[1,]}",
		"{\"a\":[1 2]}",
		"{\"a\":\"unterminated}",
		"{\"a\":\"\\u12\"}",
		"{\"a\":\"\\q\"}",
		"{\"a\":\"tab\there\"}",
		"{\"a\":1.}",
		"{\"a\":.5}",
		"{\"a\":1e}",
		"{\"a\":-}",
		"{\"a\":+1}",
		"{\"a\":nul}",
		"{\"a\":truee}",
		"{'a':1}",
		"{\"capabilities\":[]}",
		"{\"capabilities\":null}",
		"{\"capabilities\":{\"pgsizes\":true}}",
		"{\"capabilities\":{\"max_dma_maps\":{}}}",
		"{\"capabilities\":{\"twin_socket\":{\"supported\":1}}}",
		"{\"capabilities\":{\"migration\":5}}",
		"{\"capabilities\":{\"max_msg_fds\":1e2}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &c) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	/* Nesting: 16 levels are fine, 17 are not. */
	{
		char deep[64];

		memset(deep, 0, sizeof(deep));
		for (int i = 0; i < 15; i++)
			deep[i] = '[';
		strcat(deep, "{}");
		for (int i = 0; i < 15; i++)
			strcat(deep, "]");
		assert_int_equal(parse(deep, &c), -EINVAL); /* top level must be an object */
		memset(deep, 0, sizeof(deep));
		strcpy(deep, "{\"a\":");
		for (int i = 0; i < 15; i++)
			strcat(deep, "[");
		for (int i = 0; i < 15; i++)
			strcat(deep, "]");
		strcat(deep, "}");
		assert_int_equal(parse(deep, &c), 0);
		memset(deep, 0, sizeof(deep));
		strcpy(deep, "{\"a\":");
		for (int i = 0; i < 16; i++)
			strcat(deep, "[");
		for (int i = 0; i < 16; i++)
			strcat(deep, "]");
		strcat(deep, "}");
		assert_int_equal(parse(deep, &c), -EINVAL);
	}
	/* What we announce parses back to what we enforce. */
	n = vfu_caps_format(buf, sizeof(buf));
	assert_true(n > 0 && (size_t)n == strlen(buf));
	assert_int_equal(parse(buf, &c), 0);
	assert_int_equal(c.max_msg_fds, VFU_MAX_MSG_FDS);
	assert_int_equal(c.max_data_xfer_size, VFU_MAX_DATA_XFER);
	assert_int_equal(c.max_dma_maps, VFU_MAX_DMA_MAPS);
	assert_int_equal(c.pgsizes, VFU_DMA_PGSIZE);
	assert_false(c.migration);
	assert_false(c.twin_socket);
	assert_int_equal(vfu_caps_format(buf, 20), -ENOSPC);
}

static void test_dec_version(void **state)
{
	uint8_t p[64];
	struct vfu_caps c;
	uint16_t minor;
	const char *j = "{\"capabilities\":{\"max_msg_fds\":3}}";

	(void)state;
	p[0] = 0, p[1] = 0, p[2] = 5, p[3] = 0; /* 0.5 */
	assert_int_equal(vfu_dec_version(p, 4, &minor, &c), 0);
	assert_int_equal(minor, 5);
	assert_int_equal(c.max_msg_fds, 1);
	assert_int_equal(vfu_dec_version(p, 3, &minor, &c), -EINVAL);
	memcpy(p + 4, j, strlen(j) + 1);
	assert_int_equal(vfu_dec_version(p, 4 + strlen(j) + 1, &minor, &c), 0);
	assert_int_equal(c.max_msg_fds, 3);
	assert_int_equal(vfu_dec_version(p, 4 + strlen(j), &minor, &c), -EINVAL); /* no NUL */
	p[4 + 5] = '\0';
	assert_int_equal(vfu_dec_version(p, 4 + strlen(j) + 1, &minor, &c), -EINVAL); /* NUL inside */
	p[4] = '\0';
	assert_int_equal(vfu_dec_version(p, 5, &minor, &c), -EINVAL); /* empty JSON */
	p[0] = 1;
	assert_int_equal(vfu_dec_version(p, 4, &minor, &c), -ENOTSUP);
}

static void test_dec_dma(void **state)
{
	struct vfu_dma_map m = { .argsz = 32, .flags = 3, .offset = 0, .addr = 0x1000, .size = 0x1000 }, mo;
	struct vfu_dma_unmap u = { .argsz = 24, .addr = 0x1000, .size = 0x1000 }, uo;

	(void)state;
	assert_int_equal(vfu_dec_dma_map(&m, sizeof(m), 1, &mo), 0);
	assert_int_equal(mo.addr, 0x1000);
	assert_int_equal(vfu_dec_dma_map(&m, sizeof(m), 0, &mo), 0);
	assert_int_equal(vfu_dec_dma_map(&m, sizeof(m), 2, &mo), -EINVAL);
	assert_int_equal(vfu_dec_dma_map(&m, sizeof(m) - 1, 1, &mo), -EINVAL);
	m.flags = 1 | VFU_DMA_MAPPABLE_OLD;
	assert_int_equal(vfu_dec_dma_map(&m, sizeof(m), 1, &mo), 0);
	m.flags = VFU_DMA_MAPPABLE_OLD;
	assert_int_equal(vfu_dec_dma_map(&m, sizeof(m), 1, &mo), -EINVAL);
	m.flags = 3;
	m.offset = 0x800;
	assert_int_equal(vfu_dec_dma_map(&m, sizeof(m), 1, &mo), -EINVAL);
	assert_int_equal(vfu_dec_dma_map(&m, sizeof(m), 0, &mo), 0); /* no file: no offset to check */
	m.offset = UINT64_MAX - 0xfff;
	assert_int_equal(vfu_dec_dma_map(&m, sizeof(m), 1, &mo), -EINVAL);
	m.offset = 0;
	m.argsz = 24;
	assert_int_equal(vfu_dec_dma_map(&m, sizeof(m), 1, &mo), -EINVAL);

	assert_int_equal(vfu_dec_dma_unmap(&u, sizeof(u), 0, &uo), 0);
	assert_int_equal(vfu_dec_dma_unmap(&u, sizeof(u), 1, &uo), 0); /* SPDK's initiator */
	assert_int_equal(vfu_dec_dma_unmap(&u, sizeof(u), 2, &uo), -EINVAL);
	u.argsz = 23;
	assert_int_equal(vfu_dec_dma_unmap(&u, sizeof(u), 0, &uo), -EINVAL);
	u.argsz = 64;
	assert_int_equal(vfu_dec_dma_unmap(&u, sizeof(u), 0, &uo), 0);
	u.flags = VFU_UNMAP_GET_DIRTY_BITMAP;
	assert_int_equal(vfu_dec_dma_unmap(&u, sizeof(u), 0, &uo), -ENOTSUP);
	u.flags = VFU_UNMAP_ALL;
	assert_int_equal(vfu_dec_dma_unmap(&u, sizeof(u), 0, &uo), -EINVAL);
	u.addr = u.size = 0;
	assert_int_equal(vfu_dec_dma_unmap(&u, sizeof(u), 0, &uo), 0);
	u.flags = 0;
	assert_int_equal(vfu_dec_dma_unmap(&u, sizeof(u), 0, &uo), -EINVAL);
	u.flags = 1u << 2;
	assert_int_equal(vfu_dec_dma_unmap(&u, sizeof(u), 0, &uo), -EINVAL);
}

static void test_dec_device(void **state)
{
	const uint32_t counts[VFIO_PCI_NUM_IRQS] = { 1, 0, 8, 0, 0 };
	struct vfu_device_info di = { .argsz = 16 }, dio;
	struct {
		struct vfu_region_info ri;
		uint8_t extra[100];
	} ri = { { .argsz = 32, .index = 2 } };
	struct vfu_region_info rio;
	struct vfu_irq_info ii = { .argsz = 16, .index = 4 }, iio;
	struct {
		struct vfu_irq_set s;
		uint8_t b[8];
	} __attribute__((packed)) is = { { .argsz = 20, .index = 2, .start = 6, .count = 2 } };
	struct vfu_irq_set iso;
	const uint8_t *bools = NULL;
	struct {
		struct vfu_region_access a;
		uint8_t d[8];
	} __attribute__((packed)) ra = { { .offset = 8, .region = 0, .count = 8 } };
	struct vfu_region_access rao;
	const uint8_t *data = NULL;

	(void)state;
	assert_int_equal(vfu_dec_device_info(&di, 16, 0, &dio), 0);
	assert_int_equal(vfu_dec_device_info(&di, 16, 1, &dio), -EINVAL);

	assert_int_equal(vfu_dec_region_info(&ri, 32, 0, 9, &rio), 0);
	assert_int_equal(vfu_dec_region_info(&ri, sizeof(ri), 0, 9, &rio), 0);
	assert_int_equal(vfu_dec_region_info(&ri, 31, 0, 9, &rio), -EINVAL);
	assert_int_equal(vfu_dec_region_info(&ri, 32, 0, 2, &rio), -EINVAL);

	assert_int_equal(vfu_dec_irq_info(&ii, 16, 0, 5, &iio), 0);
	assert_int_equal(vfu_dec_irq_info(&ii, 16, 0, 4, &iio), -EINVAL);

	is.s.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	assert_int_equal(vfu_dec_irq_set(&is, 20, 2, 5, counts, &iso, &bools), 0);
	assert_int_equal(vfu_dec_irq_set(&is, 20, 0, 5, counts, &iso, &bools), 0);
	assert_int_equal(vfu_dec_irq_set(&is, 20, 1, 5, counts, &iso, &bools), -EINVAL);
	is.s.count = 3;
	assert_int_equal(vfu_dec_irq_set(&is, 20, 3, 5, counts, &iso, &bools), -EINVAL);
	is.s.count = 2;
	is.s.flags = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER;
	assert_int_equal(vfu_dec_irq_set(&is, 22, 0, 5, counts, &iso, &bools), 0);
	assert_ptr_equal(bools, (const uint8_t *)&is + 20);
	assert_int_equal(vfu_dec_irq_set(&is, 21, 0, 5, counts, &iso, &bools), -EINVAL);
	is.s.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	is.s.start = is.s.count = 0;
	assert_int_equal(vfu_dec_irq_set(&is, 20, 0, 5, counts, &iso, &bools), 0);
	is.s.start = 1;
	assert_int_equal(vfu_dec_irq_set(&is, 20, 0, 5, counts, &iso, &bools), -EINVAL);
	is.s.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER | VFIO_IRQ_SET_ACTION_MASK;
	assert_int_equal(vfu_dec_irq_set(&is, 20, 0, 5, counts, &iso, &bools), -EINVAL);
	is.s.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER | 1u << 9;
	assert_int_equal(vfu_dec_irq_set(&is, 20, 0, 5, counts, &iso, &bools), -EINVAL);

	assert_int_equal(vfu_dec_region_access(&ra, 16, 0, false, 9, 64, &rao, &data), 0);
	assert_null(data);
	assert_int_equal(vfu_dec_region_access(&ra, 24, 0, false, 9, 64, &rao, &data), -EINVAL);
	assert_int_equal(vfu_dec_region_access(&ra, 24, 0, true, 9, 64, &rao, &data), 0);
	assert_ptr_equal(data, (const uint8_t *)&ra + 16);
	assert_int_equal(vfu_dec_region_access(&ra, 23, 0, true, 9, 64, &rao, &data), -EINVAL);
	assert_int_equal(vfu_dec_region_access(&ra, 24, 0, true, 9, 7, &rao, &data), -EINVAL);
	assert_int_equal(vfu_dec_region_access(&ra, 24, 1, true, 9, 64, &rao, &data), -EINVAL);
	ra.a.offset = UINT64_MAX - 3;
	assert_int_equal(vfu_dec_region_access(&ra, 24, 0, true, 9, 64, &rao, &data), -EINVAL);
	assert_int_equal(vfu_dec_empty(0, 0), 0);
	assert_int_equal(vfu_dec_empty(1, 0), -EINVAL);
	assert_int_equal(vfu_dec_empty(0, 1), -EINVAL);
}

/* Random bytes through every decoder and the JSON parser: errors, never crashes. */
static void test_random(void **state)
{
	const uint32_t counts[VFIO_PCI_NUM_IRQS] = { 1, 0, 128, 0, 0 };
	uint32_t seed = 42;
	uint8_t buf[256];
	char json[128];
	static const char alphabet[] = "{}[]:,\"\\ 0123456789.eE+-truefalsnl capabilities max_msg_fds";

	(void)state;
	for (int round = 0; round < 200000; round++) {
		size_t len;
		union {
			struct vfu_dma_map m;
			struct vfu_dma_unmap u;
			struct vfu_device_info d;
			struct vfu_region_info r;
			struct vfu_irq_info i;
			struct vfu_irq_set s;
			struct vfu_region_access a;
		} out;
		const uint8_t *p;
		struct vfu_caps caps;
		uint16_t minor;

		seed = seed * 1664525u + 1013904223u;
		len = (seed >> 8) % sizeof(buf);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1664525u + 1013904223u;
			buf[i] = (uint8_t)(seed >> 24);
		}
		vfu_dec_dma_map(buf, len, seed % 3, &out.m);
		vfu_dec_dma_unmap(buf, len, seed % 3, &out.u);
		vfu_dec_device_info(buf, len, 0, &out.d);
		vfu_dec_region_info(buf, len, 0, 9, &out.r);
		vfu_dec_irq_info(buf, len, 0, 5, &out.i);
		vfu_dec_irq_set(buf, len, seed % 4, 5, counts, &out.s, &p);
		vfu_dec_region_access(buf, len, 0, seed & 1, 9, 4096, &out.a, &p);
		vfu_dec_version(buf, len, &minor, &caps);
		/* Text made of JSON's own characters finds the parser's corners faster. */
		len = (seed >> 4) % (sizeof(json) - 1);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1664525u + 1013904223u;
			json[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		json[len] = '\0';
		vfu_caps_default(&caps);
		vfu_caps_parse(json, len, &caps);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_check),   cmocka_unit_test(test_caps),
		cmocka_unit_test(test_dec_version), cmocka_unit_test(test_dec_dma),
		cmocka_unit_test(test_dec_device),  cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests_name("vfu_proto", tests, NULL, NULL);
}
