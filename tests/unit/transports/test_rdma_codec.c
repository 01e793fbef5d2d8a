/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NVMe/RDMA wire format (lib/transports/rdma/rdma_codec.c) on plain
 * bytes: RDMA_CM_REQUEST private data and the reject status each flaw
 * gets, the ACCEPT and REJECT private data byte by byte, RDMA READ
 * resources, and every kind of first SGL descriptor.
 */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/req.h"
#include "transports/rdma/rdma_codec.h"
#include "test_util.h"

static const struct nvmft_rdma_cm_limits lim = { .max_qid = 127, .max_aq_depth = 128, .max_io_depth = 256 };

static void pd(uint8_t *b, uint16_t recfmt, uint16_t qid, uint16_t hrq, uint16_t hsq, uint16_t cntlid)
{
	struct nvmft_rdma_cm_req r;

	memset(&r, 0, sizeof(r));
	r.recfmt = htole16(recfmt);
	r.qid = htole16(qid);
	r.hrqsize = htole16(hrq);
	r.hsqsize = htole16(hsq);
	r.cntlid = htole16(cntlid);
	memset(b, 0, 56);
	memcpy(b, &r, sizeof(r));
}

static void test_cm_req_ok(void **state)
{
	struct nvmft_rdma_cm_params p;
	uint8_t b[56];

	(void)state;
	/* What Linux sends for an admin queue: 32 entries, HRQSIZE 32, HSQSIZE 31. */
	pd(b, 0, 0, 32, 31, 0);
	assert_int_equal(nvmft_rdma_cm_req_parse(b, 56, &lim, &p), 0);
	assert_int_equal(p.qid, 0);
	assert_int_equal(p.depth, 32);
	assert_int_equal(p.hrqsize, 32);
	assert_int_equal(p.cntlid, 0);
	/* The largest I/O queue, a host that posts more receives than it needs, CNTLID kept. */
	pd(b, 0, 127, 1000, 255, 7);
	assert_int_equal(nvmft_rdma_cm_req_parse(b, 32, &lim, &p), 0);
	assert_int_equal(p.qid, 127);
	assert_int_equal(p.depth, 256);
	assert_int_equal(p.hrqsize, 1000);
	assert_int_equal(p.cntlid, 7);
	/* Bytes are little-endian on the wire. */
	memset(b, 0, sizeof(b));
	b[2] = 0x01; /* QID 1 */
	b[4] = 0x00;
	b[5] = 0x01; /* HRQSIZE 256 */
	b[6] = 0xff; /* HSQSIZE 255 */
	assert_int_equal(nvmft_rdma_cm_req_parse(b, 56, &lim, &p), 0);
	assert_int_equal(p.depth, 256);
	assert_int_equal(p.hrqsize, 256);
}

static void test_cm_req_reject(void **state)
{
	struct nvmft_rdma_cm_params p;
	uint8_t b[56];

	(void)state;
	pd(b, 0, 0, 32, 31, 0);
	assert_int_equal(nvmft_rdma_cm_req_parse(NULL, 0, &lim, &p), NVMFT_RDMA_CM_REJ_INVALID_LENGTH);
	assert_int_equal(nvmft_rdma_cm_req_parse(b, 31, &lim, &p), NVMFT_RDMA_CM_REJ_INVALID_LENGTH);
	pd(b, 1, 0, 32, 31, 0);
	assert_int_equal(nvmft_rdma_cm_req_parse(b, 32, &lim, &p), NVMFT_RDMA_CM_REJ_INVALID_RECFMT);
	pd(b, 0x100, 0, 32, 31, 0);
	assert_int_equal(nvmft_rdma_cm_req_parse(b, 32, &lim, &p), NVMFT_RDMA_CM_REJ_INVALID_RECFMT);
	pd(b, 0, 128, 32, 31, 0);
	assert_int_equal(nvmft_rdma_cm_req_parse(b, 32, &lim, &p), NVMFT_RDMA_CM_REJ_INVALID_QID);
	/* A single-entry queue; one beyond the admin and the I/O limits; 65536 entries. */
	pd(b, 0, 1, 32, 0, 0);
	assert_int_equal(nvmft_rdma_cm_req_parse(b, 32, &lim, &p), NVMFT_RDMA_CM_REJ_INVALID_HSQSIZE);
	pd(b, 0, 0, 200, 128, 0);
	assert_int_equal(nvmft_rdma_cm_req_parse(b, 32, &lim, &p), NVMFT_RDMA_CM_REJ_INVALID_HSQSIZE);
	pd(b, 0, 5, 300, 256, 0);
	assert_int_equal(nvmft_rdma_cm_req_parse(b, 32, &lim, &p), NVMFT_RDMA_CM_REJ_INVALID_HSQSIZE);
	pd(b, 0, 5, 0xffff, 0xffff, 0);
	assert_int_equal(nvmft_rdma_cm_req_parse(b, 32, &lim, &p), NVMFT_RDMA_CM_REJ_INVALID_HSQSIZE);
	/* Fewer host receive buffers than commands it may send. */
	pd(b, 0, 5, 63, 63, 0);
	assert_int_equal(nvmft_rdma_cm_req_parse(b, 32, &lim, &p), NVMFT_RDMA_CM_REJ_INVALID_HRQSIZE);
	/* The status codes are the specification's (01h is the length). */
	assert_int_equal(NVMFT_RDMA_CM_REJ_INVALID_LENGTH, 1);
	assert_int_equal(NVMFT_RDMA_CM_REJ_INVALID_RECFMT, 2);
	assert_int_equal(NVMFT_RDMA_CM_REJ_INVALID_QID, 3);
	assert_int_equal(NVMFT_RDMA_CM_REJ_INVALID_HSQSIZE, 4);
	assert_int_equal(NVMFT_RDMA_CM_REJ_INVALID_HRQSIZE, 5);
	assert_int_equal(NVMFT_RDMA_CM_REJ_NO_RESOURCES, 6);
	assert_int_equal(NVMFT_RDMA_CM_REJ_INVALID_IRD, 7);
	assert_int_equal(NVMFT_RDMA_CM_REJ_INVALID_ORD, 8);
}

static void test_cm_rep_rej(void **state)
{
	struct nvmft_rdma_cm_rep rep;
	struct nvmft_rdma_cm_rej rej;
	const uint8_t *b;

	(void)state;
	memset(&rep, 0xee, sizeof(rep));
	nvmft_rdma_cm_rep_init(&rep, 0x1234);
	b = (const uint8_t *)&rep;
	assert_int_equal(b[0], 0);
	assert_int_equal(b[1], 0);
	assert_int_equal(b[2], 0x34);
	assert_int_equal(b[3], 0x12);
	for (size_t i = 4; i < sizeof(rep); i++)
		assert_int_equal(b[i], 0);
	nvmft_rdma_cm_rej_init(&rej, NVMFT_RDMA_CM_REJ_INVALID_HSQSIZE);
	b = (const uint8_t *)&rej;
	assert_int_equal(sizeof(rej), 4);
	assert_int_equal(b[0] | b[1], 0);
	assert_int_equal(b[2], 4);
	assert_int_equal(b[3], 0);
}

static void test_rd_atom(void **state)
{
	uint8_t rr = 0xff, id = 0xff;

	(void)state;
	/* Each side bounded by the device. */
	assert_int_equal(nvmft_rdma_cm_rd_atom(16, 16, 4, 8, &rr, &id), 0);
	assert_int_equal(rr, 4);
	assert_int_equal(id, 8);
	assert_int_equal(nvmft_rdma_cm_rd_atom(3, 2, 128, 128, &rr, &id), 0);
	assert_int_equal(rr, 2);
	assert_int_equal(id, 3);
	/*
	 * What Linux's nvme-rdma asks for: it reads nothing from us (our
	 * responder resources 0) and serves up to its device's max_qp_rd_atom.
	 */
	assert_int_equal(nvmft_rdma_cm_rd_atom(128, 0, 128, 128, &rr, &id), 0);
	assert_int_equal(rr, 0);
	assert_int_equal(id, 128);
	/* A host that serves no RDMA READ, or a device that issues none: write data cannot come. */
	assert_int_equal(nvmft_rdma_cm_rd_atom(0, 16, 128, 128, &rr, &id), NVMFT_RDMA_CM_REJ_INVALID_IRD);
	assert_int_equal(nvmft_rdma_cm_rd_atom(16, 16, 128, 0, &rr, &id), NVMFT_RDMA_CM_REJ_INVALID_IRD);
}

static void cmd_rw(struct nvmft_cmd *c, uint8_t opc)
{
	memset(c, 0, sizeof(*c));
	c->opcode = opc;
}


static void unkeyed(struct nvmft_cmd *c, uint8_t type, uint8_t sub, uint64_t addr, uint32_t len)
{
	struct nvmft_sgl_desc *s = &c->dptr.sgl1;

	memset(s, 0, sizeof(*s));
	s->addr = htole64(addr);
	s->unkeyed.length = htole32(len);
	s->unkeyed.type = (uint8_t)(type << 4 | sub);
}

#define DNR(sc) NVMFT_STATUS_DNR(NVME_SCT_GENERIC, sc)

static void test_sgl_keyed(void **state)
{
	struct nvmft_rdma_sgl s;
	struct nvmft_cmd c;

	(void)state;
	cmd_rw(&c, nvme_cmd_write);
	tu_sgl_keyed(&c, 0x1122334455667788ull, 0xabcdef, 0xdeadbeef, NVMFT_SGL_SUBTYPE_ADDRESS);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 0, &s), 0);
	assert_int_equal(s.kind, NVMFT_RDMA_SGL_KEYED);
	assert_int_equal(s.len, 0xabcdef);
	assert_true(s.addr == 0x1122334455667788ull);
	assert_int_equal(s.key, 0xdeadbeef);
	assert_false(s.invalidate);
	/* Invalidate Key subtype: the host wants the key invalidated with the response. */
	tu_sgl_keyed(&c, 0x1000, 4096, 0x42, NVMFT_SGL_SUBTYPE_INVALIDATE_KEY);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 0, &s), 0);
	assert_true(s.invalidate);
	assert_int_equal(s.key, 0x42);
	/* Zero length: no data (Linux's descriptor for commands without data). */
	tu_sgl_keyed(&c, 0, 0, 0, NVMFT_SGL_SUBTYPE_ADDRESS);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 0, &s), 0);
	assert_int_equal(s.kind, NVMFT_RDMA_SGL_NONE);
	/* Other subtypes, and in-capsule data besides a keyed descriptor. */
	tu_sgl_keyed(&c, 0x1000, 4096, 0x42, 0x3);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 0, &s), DNR(0x17));
	tu_sgl_keyed(&c, 0x1000, 4096, 0x42, NVMFT_SGL_SUBTYPE_ADDRESS);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 16, &s), DNR(NVME_SC_SGL_INVALID_TYPE));
}

static void test_sgl_incapsule(void **state)
{
	struct nvmft_rdma_sgl s;
	struct nvmft_cmd c;

	(void)state;
	cmd_rw(&c, nvme_cmd_write);
	unkeyed(&c, NVMFT_SGL_TYPE_DATA_BLOCK, NVMFT_SGL_SUBTYPE_OFFSET, 0, 4096);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 4096, &s), 0);
	assert_int_equal(s.kind, NVMFT_RDMA_SGL_INCAPSULE);
	assert_int_equal(s.len, 4096);
	assert_int_equal(s.offset, 0);
	unkeyed(&c, NVMFT_SGL_TYPE_DATA_BLOCK, NVMFT_SGL_SUBTYPE_OFFSET, 100, 200);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 300, &s), 0);
	assert_int_equal(s.offset, 100);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 299, &s), DNR(NVME_SC_SGL_INVALID_DATA));
	unkeyed(&c, NVMFT_SGL_TYPE_DATA_BLOCK, NVMFT_SGL_SUBTYPE_OFFSET, 301, 0);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 300, &s), DNR(NVME_SC_SGL_INVALID_OFFSET));
	unkeyed(&c, NVMFT_SGL_TYPE_DATA_BLOCK, NVMFT_SGL_SUBTYPE_OFFSET, 1ull << 40, 1);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 300, &s), DNR(NVME_SC_SGL_INVALID_OFFSET));
	/* Only commands that write carry data in the capsule. */
	cmd_rw(&c, nvme_cmd_read);
	unkeyed(&c, NVMFT_SGL_TYPE_DATA_BLOCK, NVMFT_SGL_SUBTYPE_OFFSET, 0, 512);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 512, &s), DNR(NVME_SC_SGL_INVALID_TYPE));
	/* Fabrics commands take the direction from FCTYPE: Connect writes. */
	memset(&c, 0, sizeof(c));
	c.opcode = NVMFT_OPC_FABRICS;
	((struct nvmft_fabrics_cmd *)&c)->fctype = NVMFT_FCTYPE_CONNECT;
	unkeyed(&c, NVMFT_SGL_TYPE_DATA_BLOCK, NVMFT_SGL_SUBTYPE_OFFSET, 0, 1024);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 1024, &s), 0);
	assert_int_equal(nvmft_rdma_cmd_xfer(&c), NVMFT_XFER_H2C);
}

static void test_sgl_other(void **state)
{
	struct nvmft_rdma_sgl s;
	struct nvmft_cmd c;

	(void)state;
	cmd_rw(&c, nvme_cmd_flush);
	/* All zero: no data. */
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 0, &s), 0);
	assert_int_equal(s.kind, NVMFT_RDMA_SGL_NONE);
	/* ... but not with data next to it. */
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 8, &s), DNR(NVME_SC_SGL_INVALID_TYPE));
	unkeyed(&c, NVMFT_SGL_TYPE_DATA_BLOCK, NVMFT_SGL_SUBTYPE_ADDRESS, 0x1000, 512);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 0, &s), DNR(NVME_SC_SGL_INVALID_TYPE));
	unkeyed(&c, NVMFT_SGL_TYPE_BIT_BUCKET, 0, 0, 512);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 0, &s), DNR(NVME_SC_SGL_INVALID_TYPE));
	unkeyed(&c, NVMFT_SGL_TYPE_SEGMENT, 0, 0x1000, 32);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 0, &s), DNR(NVME_SC_SGL_INVALID_TYPE));
	unkeyed(&c, NVMFT_SGL_TYPE_LAST_SEGMENT, 0, 0x1000, 32);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 0, &s), DNR(NVME_SC_SGL_INVALID_TYPE));
	unkeyed(&c, NVMFT_SGL_TYPE_TRANSPORT_DATA_BLOCK, NVMFT_SGL_SUBTYPE_TRANSPORT, 0, 512);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 0, &s), DNR(NVME_SC_SGL_INVALID_TYPE));
	unkeyed(&c, 0xf, 0xf, ~0ull, ~0u);
	assert_int_equal(nvmft_rdma_sgl_parse(&c, 0, &s), DNR(NVME_SC_SGL_INVALID_TYPE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cm_req_ok),
		cmocka_unit_test(test_cm_req_reject),
		cmocka_unit_test(test_cm_rep_rej),
		cmocka_unit_test(test_rd_atom),
		cmocka_unit_test(test_sgl_keyed),
		cmocka_unit_test(test_sgl_incapsule),
		cmocka_unit_test(test_sgl_other),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
