/* SPDX-License-Identifier: BSD-3-Clause */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "transports/tcp/tcp_codec.h"
#include "util/crc32c.h"

/* ---- helpers -------------------------------------------------------------- */

/* The validators read headers through the spec structs. */
#define ALIGNED __attribute__((aligned(8)))

static struct nvmft_tcp_params ctrlr_params(bool hdgst, bool ddgst)
{
	struct nvmft_tcp_params p = {
		.ic_done = true,
		.hdgst = hdgst,
		.ddgst = ddgst,
		.maxh2cdata = 131072,
		.icd_max = 8192,
	};

	return p;
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

static void fill(uint8_t *b, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (uint8_t)x;
	}
}

/* Run both validation stages; return the FES and leave FEI in *fei. */
static uint16_t check(enum nvmft_tcp_role role, const struct nvmft_tcp_params *p, const void *hdr,
		      uint32_t *fei, uint32_t *data_len)
{
	struct nvmft_tcp_err err = { 0 };
	uint32_t dl = 0xdeadbeef;
	uint16_t fes = nvmft_tcp_validate(role, p, hdr, &dl, &err);

	assert_int_equal(fes, err.fes);
	*fei = fes ? err.fei : 0;
	if (data_len)
		*data_len = dl;
	return fes;
}

#define assert_fes(role, p, hdr, want_fes, want_fei)                    \
	do {                                                             \
		uint32_t fei_;                                           \
		assert_int_equal(check(role, p, hdr, &fei_, NULL), want_fes); \
		assert_int_equal(fei_, want_fei);                        \
	} while (0)

#define CTRLR NVMFT_TCP_ROLE_CTRLR
#define HOST NVMFT_TCP_ROLE_HOST

static struct nvmft_cmd test_cmd(uint16_t cid)
{
	struct nvmft_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = 0x01;
	c.cid = htole16(cid);
	c.nsid = htole32(1);
	return c;
}

/* ---- static helpers ------------------------------------------------------- */

static void test_type_hlen(void **state)
{
	(void)state;
	assert_int_equal(nvmft_tcp_type_hlen(NVMFT_TCP_ICREQ), 128);
	assert_int_equal(nvmft_tcp_type_hlen(NVMFT_TCP_ICRESP), 128);
	assert_int_equal(nvmft_tcp_type_hlen(NVMFT_TCP_H2C_TERM), 24);
	assert_int_equal(nvmft_tcp_type_hlen(NVMFT_TCP_C2H_TERM), 24);
	assert_int_equal(nvmft_tcp_type_hlen(NVMFT_TCP_CMD), 72);
	assert_int_equal(nvmft_tcp_type_hlen(NVMFT_TCP_RSP), 24);
	assert_int_equal(nvmft_tcp_type_hlen(NVMFT_TCP_H2C_DATA), 24);
	assert_int_equal(nvmft_tcp_type_hlen(NVMFT_TCP_C2H_DATA), 24);
	assert_int_equal(nvmft_tcp_type_hlen(NVMFT_TCP_R2T), 24);
	assert_int_equal(nvmft_tcp_type_hlen(0x08), 0);
	assert_int_equal(nvmft_tcp_type_hlen(0xff), 0);
}

static void test_digest_le(void **state)
{
	uint8_t b[4];
	uint32_t d = nvmft_tcp_digest("123456789", 9);

	(void)state;
	memcpy(b, &d, 4);
	/* CRC 0xe3069283 stored little-endian. */
	assert_int_equal(b[0], 0x83);
	assert_int_equal(b[1], 0x92);
	assert_int_equal(b[2], 0x06);
	assert_int_equal(b[3], 0xe3);
}

/* ---- common header -------------------------------------------------------- */

static void test_type_not_for_ctrlr(void **state)
{
	struct nvmft_tcp_params p = ctrlr_params(false, false);
	static const uint8_t bad[] = { NVMFT_TCP_ICRESP, NVMFT_TCP_C2H_TERM, NVMFT_TCP_RSP,
				       NVMFT_TCP_C2H_DATA, NVMFT_TCP_R2T, 0x08, 0x0a, 0x7f, 0xff };
	ALIGNED uint8_t hdr[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad); i++) {
		memset(hdr, 0, sizeof(hdr));
		hdr[0] = bad[i];
		hdr[2] = nvmft_tcp_type_hlen(bad[i]);
		assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 0);
		/* Even before ICReq the type is checked first. */
		p.ic_done = false;
		assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 0);
		p.ic_done = true;
	}
}

static void test_type_not_for_host(void **state)
{
	struct nvmft_tcp_params p = ctrlr_params(false, false);
	static const uint8_t bad[] = { NVMFT_TCP_ICREQ, NVMFT_TCP_H2C_TERM, NVMFT_TCP_CMD,
				       NVMFT_TCP_H2C_DATA, 0x08 };
	ALIGNED uint8_t hdr[128] = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad); i++) {
		hdr[0] = bad[i];
		assert_fes(HOST, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 0);
	}
}

static void test_sequence(void **state)
{
	struct nvmft_tcp_params p = ctrlr_params(false, false);
	ALIGNED uint8_t hdr[NVMFT_TCP_TERM_MAX_LEN];
	struct nvmft_cmd c = test_cmd(1);

	(void)state;
	p.ic_done = false;
	nvmft_tcp_enc_cmd(hdr, &p, &c, 0);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR, 0);
	nvmft_tcp_enc_h2c_data(hdr, &p, 1, 0, 0, 512, true);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR, 0);
	nvmft_tcp_enc_icreq(hdr, 0, 0, 0);
	assert_fes(CTRLR, &p, hdr, 0, 0);
	/* A TermReq is fine at any time. */
	nvmft_tcp_enc_term(hdr, NVMFT_TCP_H2C_TERM, 1, 2, NULL, 0);
	assert_fes(CTRLR, &p, hdr, 0, 0);
	/* A second ICReq is out of sequence. */
	p.ic_done = true;
	nvmft_tcp_enc_icreq(hdr, 0, 0, 0);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR, 0);
	nvmft_tcp_enc_term(hdr, NVMFT_TCP_H2C_TERM, 1, 2, NULL, 0);
	assert_fes(CTRLR, &p, hdr, 0, 0);

	/* Host side: nothing but ICResp (or a TermReq) before ICResp. */
	p.ic_done = false;
	nvmft_tcp_enc_rsp(hdr, &p, &(struct nvmft_cpl){ 0 });
	assert_fes(HOST, &p, hdr, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR, 0);
	nvmft_tcp_enc_icresp(hdr, &(struct nvmft_tcp_params){ .maxh2cdata = 4096 });
	assert_fes(HOST, &p, hdr, 0, 0);
	p.ic_done = true;
	assert_fes(HOST, &p, hdr, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR, 0);
}

static void test_hlen(void **state)
{
	struct nvmft_tcp_params p = ctrlr_params(false, false);
	struct nvmft_cmd c = test_cmd(1);
	ALIGNED uint8_t hdr[NVMFT_TCP_TERM_MAX_LEN];
	struct nvmft_tcp_err err;
	uint32_t dl;

	(void)state;
	nvmft_tcp_enc_cmd(hdr, &p, &c, 0);
	hdr[2] = 24;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 2);
	hdr[2] = 76;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 2);
	nvmft_tcp_enc_h2c_data(hdr, &p, 1, 0, 0, 8, true);
	hdr[2] = 72;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 2);
	p.ic_done = false;
	nvmft_tcp_enc_icreq(hdr, 0, 0, 0);
	hdr[2] = 127;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 2);
	/* A malformed TermReq is answered by closing, not by another TermReq. */
	nvmft_tcp_enc_term(hdr, NVMFT_TCP_H2C_TERM, 1, 0, NULL, 0);
	hdr[2] = 28;
	assert_int_equal(nvmft_tcp_validate(CTRLR, &p, hdr, &dl, &err),
			 NVMFT_TCP_FES_INVALID_HEADER_FIELD);
	assert_int_equal(err.fei, 2);
	assert_true(err.silent);
	nvmft_tcp_enc_cmd(hdr, &p, &c, 0);
	p.ic_done = true;
	hdr[2] = 0;
	assert_int_equal(nvmft_tcp_validate(CTRLR, &p, hdr, &dl, &err),
			 NVMFT_TCP_FES_INVALID_HEADER_FIELD);
	assert_false(err.silent);
}

static void test_flags(void **state)
{
	struct nvmft_tcp_params p = ctrlr_params(false, false);
	struct nvmft_tcp_params hd = ctrlr_params(true, false);
	struct nvmft_tcp_params dd = ctrlr_params(false, true);
	struct nvmft_cmd c = test_cmd(1);
	ALIGNED uint8_t hdr[NVMFT_TCP_TERM_MAX_LEN];
	struct nvmft_tcp_err err;
	uint32_t dl;

	(void)state;
	/* ICReq carries no flags at all. */
	p.ic_done = false;
	nvmft_tcp_enc_icreq(hdr, 0, 0, 0);
	hdr[1] = NVMFT_TCP_F_HDGST;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 1);
	p.ic_done = true;
	/* Reserved bits. */
	nvmft_tcp_enc_cmd(hdr, &p, &c, 0);
	hdr[1] = 0x10;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 1);
	hdr[1] = NVMFT_TCP_F_DATA_LAST;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 1);
	nvmft_tcp_enc_h2c_data(hdr, &p, 1, 0, 0, 8, true);
	hdr[1] |= NVMFT_TCP_F_DATA_SUCCESS;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 1);
	hdr[1] = 0x80;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 1);
	/* HDGSTF must match the negotiated header digest. */
	nvmft_tcp_enc_cmd(hdr, &hd, &c, 0);
	assert_fes(CTRLR, &hd, hdr, 0, 0);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 1);
	nvmft_tcp_enc_cmd(hdr, &p, &c, 0);
	assert_fes(CTRLR, &hd, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 1);
	/* DDGSTF without negotiated data digest. */
	nvmft_tcp_enc_cmd(hdr, &dd, &c, 64);
	assert_fes(CTRLR, &dd, hdr, 0, 0);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 1);
	/* Data digest negotiated but DDGSTF missing on a PDU with data. */
	nvmft_tcp_enc_cmd(hdr, &p, &c, 64);
	((struct nvmft_tcp_ch *)(void *)hdr)->plen = htole32(72 + 64 + 4);
	assert_fes(CTRLR, &dd, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 1);
	nvmft_tcp_enc_h2c_data(hdr, &p, 1, 0, 0, 64, false);
	((struct nvmft_tcp_ch *)(void *)hdr)->plen = htole32(24 + 64 + 4);
	assert_fes(CTRLR, &dd, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 1);
	/* DDGSTF on a PDU without data. */
	nvmft_tcp_enc_cmd(hdr, &dd, &c, 0);
	hdr[1] |= NVMFT_TCP_F_DDGST;
	assert_fes(CTRLR, &dd, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 1);
	/* TermReq with flags: close quietly. */
	nvmft_tcp_enc_term(hdr, NVMFT_TCP_H2C_TERM, 1, 0, NULL, 0);
	hdr[1] = NVMFT_TCP_F_HDGST;
	assert_int_equal(nvmft_tcp_validate(CTRLR, &p, hdr, &dl, &err), 1);
	assert_int_equal(err.fei, 1);
	assert_true(err.silent);
	/* Host side: SUCCESS only with LAST_PDU; R2T/Rsp take only HDGSTF. */
	nvmft_tcp_enc_c2h_data(hdr, &p, 1, 0, 16, NVMFT_TCP_F_DATA_SUCCESS);
	assert_fes(HOST, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 1);
	nvmft_tcp_enc_c2h_data(hdr, &p, 1, 0, 16, NVMFT_TCP_F_DATA_SUCCESS | NVMFT_TCP_F_DATA_LAST);
	assert_fes(HOST, &p, hdr, 0, 0);
	nvmft_tcp_enc_r2t(hdr, &p, 1, 0, 0, 4096);
	hdr[1] = NVMFT_TCP_F_DATA_LAST;
	assert_fes(HOST, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 1);
}

static void test_pdo(void **state)
{
	struct nvmft_tcp_params p = ctrlr_params(false, false);
	struct nvmft_tcp_params hd = ctrlr_params(true, false);
	struct nvmft_cmd c = test_cmd(1);
	ALIGNED uint8_t hdr[NVMFT_TCP_TERM_MAX_LEN];
	struct nvmft_tcp_ch *ch = (void *)hdr;

	(void)state;
	/* In-capsule data: PDO at least HLEN (+ header digest). */
	nvmft_tcp_enc_cmd(hdr, &p, &c, 64);
	assert_int_equal(ch->pdo, 72);
	ch->pdo = 68;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 3);
	nvmft_tcp_enc_cmd(hdr, &hd, &c, 64);
	assert_int_equal(ch->pdo, 76);
	ch->pdo = 72;
	assert_fes(CTRLR, &hd, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 3);
	/* Not a multiple of the CPDA alignment ((cpda + 1) * 4 = 16). */
	p.cpda = 3;
	nvmft_tcp_enc_cmd(hdr, &p, &c, 64);
	assert_int_equal(ch->pdo, 80);
	assert_fes(CTRLR, &p, hdr, 0, 0);
	ch->pdo = 84;
	ch->plen = htole32(84 + 64);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 3);
	p.cpda = 0;
	assert_fes(CTRLR, &p, hdr, 0, 0);
	/* Beyond PLEN. */
	nvmft_tcp_enc_cmd(hdr, &p, &c, 4);
	ch->plen = htole32(72);
	ch->pdo = 76;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 3);
	/* H2CData always has data, so PDO 0 is wrong. */
	nvmft_tcp_enc_h2c_data(hdr, &p, 1, 0, 0, 64, true);
	ch->pdo = 0;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 3);
	/* ICReq has no data. */
	p.ic_done = false;
	nvmft_tcp_enc_icreq(hdr, 0, 0, 0);
	ch->pdo = 128;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 3);
	p.ic_done = true;
	/* Host side: Rsp and R2T have no data; C2HData aligned to HPDA. */
	nvmft_tcp_enc_rsp(hdr, &p, &(struct nvmft_cpl){ 0 });
	ch->pdo = 24;
	assert_fes(HOST, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 3);
	p.hpda = 1;
	nvmft_tcp_enc_c2h_data(hdr, &p, 1, 0, 16, NVMFT_TCP_F_DATA_LAST);
	assert_int_equal(ch->pdo, 24);
	assert_fes(HOST, &p, hdr, 0, 0);
	p.hpda = 3;
	assert_fes(HOST, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 3);
}

static const uint8_t term_src[152];

static void test_plen(void **state)
{
	struct nvmft_tcp_params p = ctrlr_params(false, false);
	struct nvmft_tcp_params dd = ctrlr_params(false, true);
	struct nvmft_cmd c = test_cmd(1);
	ALIGNED uint8_t hdr[NVMFT_TCP_TERM_MAX_LEN];
	struct nvmft_tcp_ch *ch = (void *)hdr;
	struct nvmft_tcp_err err;
	uint32_t dl, fei;

	(void)state;
	/* No data: PLEN is exactly the header. */
	nvmft_tcp_enc_cmd(hdr, &p, &c, 0);
	assert_int_equal(le32toh(ch->plen), 72);
	assert_int_equal(check(CTRLR, &p, hdr, &fei, &dl), 0);
	assert_int_equal(dl, 0);
	ch->plen = htole32(73);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 4);
	ch->plen = htole32(71);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 4);
	/* PDO set but no data bytes behind it. */
	nvmft_tcp_enc_cmd(hdr, &p, &c, 8);
	ch->plen = htole32(72);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 4);
	nvmft_tcp_enc_cmd(hdr, &dd, &c, 8);
	assert_int_equal(le32toh(ch->plen), 72 + 8 + 4);
	assert_int_equal(check(CTRLR, &dd, hdr, &fei, &dl), 0);
	assert_int_equal(dl, 8);
	ch->plen = htole32(72 + 4);
	assert_fes(CTRLR, &dd, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 4);
	/* ICReq is 128 bytes exactly. */
	p.ic_done = false;
	nvmft_tcp_enc_icreq(hdr, 0, 0, 0);
	ch->plen = htole32(132);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 4);
	p.ic_done = true;
	/* H2CData: data length must be DATAL. */
	nvmft_tcp_enc_h2c_data(hdr, &p, 1, 0, 0, 100, true);
	assert_int_equal(check(CTRLR, &p, hdr, &fei, &dl), 0);
	assert_int_equal(dl, 100);
	/* PLEN frames the PDU and passed its checks: DATAL is the field in error. */
	((struct nvmft_tcp_data *)(void *)hdr)->datal = htole32(99);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 16);
	((struct nvmft_tcp_data *)(void *)hdr)->datal = htole32(100);
	ch->plen = htole32(le32toh(ch->plen) + 4);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 16);
	/* The same rule for C2HData on the host side. */
	nvmft_tcp_enc_c2h_data(hdr, &p, 1, 0, 100, NVMFT_TCP_F_DATA_LAST);
	assert_int_equal(check(HOST, &p, hdr, &fei, &dl), 0);
	((struct nvmft_tcp_data *)(void *)hdr)->datal = htole32(101);
	assert_fes(HOST, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 16);
	/* TermReq: 24..152 bytes (128 of them the offending header), else close quietly. */
	nvmft_tcp_enc_term(hdr, NVMFT_TCP_H2C_TERM, 1, 0, term_src, sizeof(term_src));
	assert_int_equal(le32toh(ch->plen), 152);
	assert_int_equal(check(CTRLR, &p, hdr, &fei, &dl), 0);
	assert_int_equal(dl, 128);
	ch->plen = htole32(153);
	assert_int_equal(nvmft_tcp_validate(CTRLR, &p, hdr, &dl, &err), 1);
	assert_int_equal(err.fei, 4);
	assert_true(err.silent);
	ch->plen = htole32(23);
	assert_int_equal(nvmft_tcp_validate(CTRLR, &p, hdr, &dl, &err), 1);
	assert_int_equal(err.fei, 4);
	/* Host side. */
	nvmft_tcp_enc_r2t(hdr, &p, 1, 2, 0, 4096);
	ch->plen = htole32(28);
	assert_fes(HOST, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 4);
	nvmft_tcp_enc_r2t(hdr, &p, 1, 2, 0, 0);
	assert_fes(HOST, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 16);
}

static void test_limits(void **state)
{
	struct nvmft_tcp_params p = ctrlr_params(false, false);
	struct nvmft_cmd c = test_cmd(1);
	ALIGNED uint8_t hdr[NVMFT_TCP_TERM_MAX_LEN];
	uint32_t dl, fei;

	(void)state;
	p.icd_max = 4096;
	nvmft_tcp_enc_cmd(hdr, &p, &c, 4096);
	assert_int_equal(check(CTRLR, &p, hdr, &fei, &dl), 0);
	assert_int_equal(dl, 4096);
	nvmft_tcp_enc_cmd(hdr, &p, &c, 4097);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_R2T_LIMIT_EXCEEDED, 0);
	p.icd_max = 0;
	nvmft_tcp_enc_cmd(hdr, &p, &c, 1);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_R2T_LIMIT_EXCEEDED, 0);
	nvmft_tcp_enc_cmd(hdr, &p, &c, 0);
	assert_fes(CTRLR, &p, hdr, 0, 0);
	/* A huge PLEN is caught by the limit, whatever the host claims. */
	nvmft_tcp_enc_cmd(hdr, &p, &c, 8);
	((struct nvmft_tcp_ch *)(void *)hdr)->plen = htole32(0xffffffff);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_R2T_LIMIT_EXCEEDED, 0);

	p.maxh2cdata = 8192;
	nvmft_tcp_enc_h2c_data(hdr, &p, 1, 0, 0, 8192, true);
	assert_fes(CTRLR, &p, hdr, 0, 0);
	nvmft_tcp_enc_h2c_data(hdr, &p, 1, 0, 0, 8196, true);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_R2T_LIMIT_EXCEEDED, 0);
}

static void test_icreq_fields(void **state)
{
	struct nvmft_tcp_params p = { 0 };
	ALIGNED uint8_t hdr[128];
	struct nvmft_tcp_icreq *ic = (void *)hdr;

	(void)state;
	nvmft_tcp_enc_icreq(hdr, 31, 3, 0xffffffff);
	assert_fes(CTRLR, &p, hdr, 0, 0);
	ic->pfv = htole16(1);
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_UNSUPPORTED_PARAMETER, 8);
	ic->pfv = 0;
	ic->hpda = 32;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 10);
	ic->hpda = 0xff;
	assert_fes(CTRLR, &p, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 10);
	/* Reserved DGST bits are ignored. */
	ic->hpda = 0;
	ic->dgst = 0xfc;
	assert_fes(CTRLR, &p, hdr, 0, 0);
}

static void test_icresp_fields(void **state)
{
	struct nvmft_tcp_params p = { .maxh2cdata = 4096, .cpda = 31 };
	struct nvmft_tcp_params host = { 0 };
	ALIGNED uint8_t hdr[128];
	struct nvmft_tcp_icresp *r = (void *)hdr;

	(void)state;
	nvmft_tcp_enc_icresp(hdr, &p);
	assert_fes(HOST, &host, hdr, 0, 0);
	r->cpda = 32;
	assert_fes(HOST, &host, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 10);
	r->cpda = 0;
	r->maxh2cdata = htole32(4092);
	assert_fes(HOST, &host, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 12);
	r->maxh2cdata = htole32(4098);
	assert_fes(HOST, &host, hdr, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 12);
	r->pfv = htole16(2);
	assert_fes(HOST, &host, hdr, NVMFT_TCP_FES_UNSUPPORTED_PARAMETER, 8);
}

/* ---- negotiation ---------------------------------------------------------- */

static void negotiate(uint8_t asked, uint8_t offered, bool want_h, bool want_d)
{
	struct nvmft_tcp_ic_offer offer = { .digests = offered, .cpda = 0, .maxh2cdata = 65536 };
	struct nvmft_tcp_params p = { .icd_max = 8192 };
	struct nvmft_tcp_params host = { 0 };
	struct nvmft_tcp_icresp resp;
	ALIGNED uint8_t req[128];
	uint32_t fei, dl;

	nvmft_tcp_enc_icreq(req, 5, asked, 7);
	assert_int_equal(check(CTRLR, &p, req, &fei, &dl), 0);
	nvmft_tcp_icreq_accept((const void *)req, &offer, &p, &resp);
	assert_true(p.ic_done);
	assert_int_equal(p.hdgst, want_h);
	assert_int_equal(p.ddgst, want_d);
	assert_int_equal(p.hpda, 5);
	assert_int_equal(p.maxr2t, 7);
	assert_int_equal(p.cpda, 0);
	assert_int_equal(p.maxh2cdata, 65536);
	assert_int_equal(p.icd_max, 8192);

	assert_int_equal(resp.ch.type, NVMFT_TCP_ICRESP);
	assert_int_equal(resp.ch.flags, 0);
	assert_int_equal(resp.ch.hlen, 128);
	assert_int_equal(resp.ch.pdo, 0);
	assert_int_equal(le32toh(resp.ch.plen), 128);
	assert_int_equal(le16toh(resp.pfv), 0);
	assert_int_equal(resp.cpda, 0);
	assert_int_equal(resp.dgst, (want_h ? 1 : 0) | (want_d ? 2 : 0));
	assert_int_equal(le32toh(resp.maxh2cdata), 65536);
	for (size_t i = 0; i < sizeof(resp.rsvd16); i++)
		assert_int_equal(resp.rsvd16[i], 0);

	assert_int_equal(check(HOST, &host, &resp, &fei, &dl), 0);
	nvmft_tcp_icresp_accept(&resp, &host);
	assert_true(host.ic_done);
	assert_int_equal(host.hdgst, want_h);
	assert_int_equal(host.ddgst, want_d);
	assert_int_equal(host.maxh2cdata, 65536);
}

static void test_negotiation(void **state)
{
	(void)state;
	negotiate(0, 0, false, false);
	negotiate(0, 3, false, false);
	negotiate(3, 3, true, true);
	negotiate(1, 3, true, false);
	negotiate(2, 3, false, true);
	negotiate(3, 1, true, false);
	negotiate(3, 2, false, true);
	negotiate(3, 0, false, false);
	negotiate(0xff, 3, true, true);
}

static void test_h2c_window(void **state)
{
	struct nvmft_tcp_params p = ctrlr_params(false, false);
	ALIGNED uint8_t hdr[128];
	const struct nvmft_tcp_data *d = (const void *)hdr;
	struct nvmft_tcp_err err;

	(void)state;
	nvmft_tcp_enc_h2c_data(hdr, &p, 1, 0, 8192, 4096, false);
	assert_int_equal(nvmft_tcp_check_h2c_window(d, 8192, 8192, 0, &err), 0);
	nvmft_tcp_enc_h2c_data(hdr, &p, 1, 0, 12288, 4096, true);
	assert_int_equal(nvmft_tcp_check_h2c_window(d, 8192, 8192, 4096, &err), 0);
	/* Spills past the window end. */
	nvmft_tcp_enc_h2c_data(hdr, &p, 1, 0, 12288, 4100, true);
	assert_int_equal(nvmft_tcp_check_h2c_window(d, 8192, 8192, 4096, &err),
			 NVMFT_TCP_FES_DATA_OUT_OF_RANGE);
	assert_int_equal(err.fei, 0);
	/* Starts before it. */
	nvmft_tcp_enc_h2c_data(hdr, &p, 1, 0, 4096, 4096, true);
	assert_int_equal(nvmft_tcp_check_h2c_window(d, 8192, 8192, 0, &err),
			 NVMFT_TCP_FES_DATA_OUT_OF_RANGE);
	/* No 32-bit wrap-around. */
	nvmft_tcp_enc_h2c_data(hdr, &p, 1, 0, 0xfffff000u, 0x2000, true);
	assert_int_equal(nvmft_tcp_check_h2c_window(d, 0xfffff000u, 0x1000, 0, &err),
			 NVMFT_TCP_FES_DATA_OUT_OF_RANGE);
	/* Inside, but skipping ahead. */
	nvmft_tcp_enc_h2c_data(hdr, &p, 1, 0, 12288, 4096, true);
	assert_int_equal(nvmft_tcp_check_h2c_window(d, 8192, 8192, 0, &err),
			 NVMFT_TCP_FES_INVALID_HEADER_FIELD);
	assert_int_equal(err.fei, 12);
}

/* ---- encoders round-trip through the receive machine ----------------------- */

/* Feed @len bytes in one go; expect the HEADER event and return it consumed. */
static size_t feed_expect(struct nvmft_tcp_rx *rx, const void *buf, size_t len,
			  enum nvmft_tcp_rx_event want)
{
	size_t used;

	assert_int_equal(nvmft_tcp_rx_feed(rx, buf, len, &used), want);
	return used;
}

static void roundtrip_c2h(bool hd, bool dd, uint8_t hpda, uint8_t flags)
{
	struct nvmft_tcp_params p = ctrlr_params(hd, dd);
	struct nvmft_tcp_rx rx;
	ALIGNED uint8_t pdu[NVMFT_TCP_HDR_AREA_MAX + 1000 + 4];
	uint8_t data[1000], got[1000];
	struct iovec dst = { got, sizeof(got) };
	size_t n, used;
	const struct nvmft_tcp_data *h;

	p.hpda = hpda;
	fill(data, sizeof(data), hpda);
	n = nvmft_tcp_enc_c2h_data(pdu, &p, 0x1234, 4096, sizeof(data), flags);
	assert_int_equal(n % ((hpda + 1) * 4), 0);
	assert_true(n >= 24u + (hd ? 4 : 0));
	assert_true(n < 24u + (hd ? 4 : 0) + (hpda + 1) * 4);
	for (size_t i = 24 + (hd ? 4 : 0); i < n; i++)
		assert_int_equal(pdu[i], 0);
	memcpy(pdu + n, data, sizeof(data));
	n += sizeof(data);
	if (dd) {
		uint32_t dg = nvmft_tcp_digest(data, sizeof(data));

		memcpy(pdu + n, &dg, 4);
		n += 4;
	}
	h = (const void *)pdu;
	assert_int_equal(le32toh(h->ch.plen), n);

	nvmft_tcp_rx_init(&rx, HOST, &p);
	used = feed_expect(&rx, pdu, n, NVMFT_TCP_RX_HEADER);
	assert_int_equal(nvmft_tcp_rx_type(&rx), NVMFT_TCP_C2H_DATA);
	assert_int_equal(nvmft_tcp_rx_data_len(&rx), sizeof(data));
	h = nvmft_tcp_rx_hdr(&rx);
	assert_int_equal(le16toh(h->cccid), 0x1234);
	assert_int_equal(le32toh(h->datao), 4096);
	assert_int_equal(le32toh(h->datal), sizeof(data));
	assert_int_equal(h->ch.flags & ~(NVMFT_TCP_F_HDGST | NVMFT_TCP_F_DDGST), flags);
	assert_int_equal(!!(h->ch.flags & NVMFT_TCP_F_HDGST), hd);
	assert_int_equal(!!(h->ch.flags & NVMFT_TCP_F_DDGST), dd);
	assert_int_equal(nvmft_tcp_rx_set_data_dest(&rx, &dst, 1, 0), 0);
	used += feed_expect(&rx, pdu + used, n - used, NVMFT_TCP_RX_PDU_DONE);
	assert_int_equal(used, n);
	assert_memory_equal(got, data, sizeof(data));
}

static void test_roundtrip_c2h_data(void **state)
{
	static const uint8_t hpdas[] = { 0, 1, 3, 7, 31 };

	(void)state;
	for (int hd = 0; hd < 2; hd++)
		for (int dd = 0; dd < 2; dd++)
			for (size_t i = 0; i < sizeof(hpdas); i++) {
				roundtrip_c2h(hd, dd, hpdas[i], NVMFT_TCP_F_DATA_LAST);
				roundtrip_c2h(hd, dd, hpdas[i], 0);
				roundtrip_c2h(hd, dd, hpdas[i],
					      NVMFT_TCP_F_DATA_LAST | NVMFT_TCP_F_DATA_SUCCESS);
			}
}

static void test_roundtrip_rsp_r2t(void **state)
{
	(void)state;
	for (int hd = 0; hd < 2; hd++) {
		struct nvmft_tcp_params p = ctrlr_params(hd, true);
		struct nvmft_cpl cpl = { .sqhd = htole16(5), .cid = htole16(77),
					 .status = htole16(0x1234) };
		const struct nvmft_tcp_rsp *rsp;
		const struct nvmft_tcp_r2t *r2t;
		struct nvmft_tcp_rx rx;
		ALIGNED uint8_t b[2 * NVMFT_TCP_HDR_AREA_MAX];
		size_t n, m;

		cpl.dw0 = htole32(0xa5a5a5a5);
		n = nvmft_tcp_enc_rsp(b, &p, &cpl);
		assert_int_equal(n, 24u + (hd ? 4 : 0));
		m = nvmft_tcp_enc_r2t(b + n, &p, 77, 3, 8192, 65536);
		assert_int_equal(m, 24u + (hd ? 4 : 0));

		nvmft_tcp_rx_init(&rx, HOST, &p);
		assert_int_equal(feed_expect(&rx, b, n + m, NVMFT_TCP_RX_HEADER), n);
		assert_int_equal(nvmft_tcp_rx_data_len(&rx), 0);
		rsp = nvmft_tcp_rx_hdr(&rx);
		assert_int_equal(rsp->ch.type, NVMFT_TCP_RSP);
		assert_memory_equal(&rsp->cpl, &cpl, sizeof(cpl));
		assert_int_equal(feed_expect(&rx, b + n, m, NVMFT_TCP_RX_HEADER), m);
		r2t = nvmft_tcp_rx_hdr(&rx);
		assert_int_equal(r2t->ch.type, NVMFT_TCP_R2T);
		assert_int_equal(le16toh(r2t->cccid), 77);
		assert_int_equal(le16toh(r2t->ttag), 3);
		assert_int_equal(le32toh(r2t->r2to), 8192);
		assert_int_equal(le32toh(r2t->r2tl), 65536);
	}
}

static void test_roundtrip_term(void **state)
{
	struct nvmft_tcp_params p = ctrlr_params(true, true);
	ALIGNED uint8_t b[NVMFT_TCP_TERM_MAX_LEN];
	uint8_t off[200], got[NVMFT_TCP_TERM_MAX_DATA];
	const struct nvmft_tcp_term *t = (const void *)b;
	struct iovec dst = { got, sizeof(got) };
	struct nvmft_tcp_rx rx;
	size_t n, used;

	(void)state;
	fill(off, sizeof(off), 9);
	/* Clipped to 128 bytes of offending header: a 152-byte PDU, the most a TermReq may be. */
	n = nvmft_tcp_enc_term(b, NVMFT_TCP_C2H_TERM, NVMFT_TCP_FES_INVALID_HEADER_FIELD,
			       0x01020304, off, sizeof(off));
	assert_int_equal(n, 152);
	assert_int_equal(t->ch.type, NVMFT_TCP_C2H_TERM);
	assert_int_equal(t->ch.flags, 0);
	assert_int_equal(t->ch.hlen, 24);
	assert_int_equal(t->ch.pdo, 0);
	assert_int_equal(le32toh(t->ch.plen), 152);
	/* FES at byte 8, FEI at byte 10, both little-endian. */
	assert_int_equal(b[8], 1);
	assert_int_equal(b[9], 0);
	assert_int_equal(b[10], 0x04);
	assert_int_equal(b[13], 0x01);
	assert_memory_equal(b + 24, off, 128);

	nvmft_tcp_rx_init(&rx, HOST, &p);
	used = feed_expect(&rx, b, n, NVMFT_TCP_RX_HEADER);
	assert_int_equal(used, 24);
	assert_int_equal(nvmft_tcp_rx_data_len(&rx), 128);
	assert_int_equal(nvmft_tcp_rx_set_data_dest(&rx, &dst, 1, 0), 0);
	assert_int_equal(feed_expect(&rx, b + used, n - used, NVMFT_TCP_RX_PDU_DONE), 128);
	assert_memory_equal(got, off, 128);

	n = nvmft_tcp_enc_term(b, NVMFT_TCP_H2C_TERM, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR, 0, off, 8);
	assert_int_equal(n, 32);
	assert_int_equal(le32toh(t->ch.plen), 32);
}

static void test_roundtrip_cmd_h2c(void **state)
{
	(void)state;
	for (int cfg = 0; cfg < 8; cfg++) {
		struct nvmft_tcp_params p = ctrlr_params(cfg & 1, cfg & 2);
		struct nvmft_cmd c = test_cmd(9);
		ALIGNED uint8_t b[NVMFT_TCP_HDR_AREA_MAX + 300 + 4];
		uint8_t data[300], got[300];
		struct iovec dst = { got, sizeof(got) };
		struct nvmft_tcp_rx rx;
		const struct nvmft_tcp_cmd *cmd;
		const struct nvmft_tcp_data *d;
		size_t n, used;

		p.cpda = (cfg & 4) ? 15 : 0;
		fill(data, sizeof(data), (uint32_t)cfg);
		for (int type = 0; type < 2; type++) {
			if (type == 0)
				n = nvmft_tcp_enc_cmd(b, &p, &c, sizeof(data));
			else
				n = nvmft_tcp_enc_h2c_data(b, &p, 9, 4, 512, sizeof(data), true);
			assert_int_equal(n % ((p.cpda + 1) * 4), 0);
			memcpy(b + n, data, sizeof(data));
			n += sizeof(data);
			if (p.ddgst) {
				uint32_t dg = nvmft_tcp_digest(data, sizeof(data));

				memcpy(b + n, &dg, 4);
				n += 4;
			}
			memset(got, 0, sizeof(got));
			nvmft_tcp_rx_init(&rx, CTRLR, &p);
			used = feed_expect(&rx, b, n, NVMFT_TCP_RX_HEADER);
			assert_int_equal(nvmft_tcp_rx_data_len(&rx), sizeof(data));
			if (type == 0) {
				cmd = nvmft_tcp_rx_hdr(&rx);
				assert_memory_equal(&cmd->cmd, &c, sizeof(c));
			} else {
				d = nvmft_tcp_rx_hdr(&rx);
				assert_int_equal(le16toh(d->cccid), 9);
				assert_int_equal(le16toh(d->ttag), 4);
				assert_int_equal(le32toh(d->datao), 512);
				assert_true(d->ch.flags & NVMFT_TCP_F_DATA_LAST);
			}
			assert_int_equal(nvmft_tcp_rx_set_data_dest(&rx, &dst, 1, 0), 0);
			feed_expect(&rx, b + used, n - used, NVMFT_TCP_RX_PDU_DONE);
			assert_memory_equal(got, data, sizeof(data));
		}
	}
}

/* ---- receive machine: pipelined streams at every split --------------------- */

enum { MAX_EV = 64, STREAM_MAX = 96 * 1024 };

struct ev_rec {
	uint8_t ev;
	uint8_t type;
	uint32_t data_len;
	uint32_t data_crc;
};

struct stream {
	uint8_t buf[STREAM_MAX];
	size_t len;
	struct nvmft_tcp_params hp; /* what the host encodes with */
	struct ev_rec exp[MAX_EV];
	int nexp;
	bool fatal; /* the stream ends in a fatal error */
	uint16_t fes;
	uint32_t fei;
};

static void s_expect(struct stream *s, uint8_t ev, uint8_t type, uint32_t dl, uint32_t crc)
{
	assert_true(s->nexp < MAX_EV);
	s->exp[s->nexp++] = (struct ev_rec){ ev, type, dl, crc };
}

static void s_init(struct stream *s)
{
	memset(s, 0, sizeof(*s));
}

static void s_icreq(struct stream *s, uint8_t dgst)
{
	s->len += nvmft_tcp_enc_icreq(s->buf + s->len, 0, dgst, 3);
	s->hp = ctrlr_params(dgst & 1, dgst & 2);
	s_expect(s, NVMFT_TCP_RX_HEADER, NVMFT_TCP_ICREQ, 0, 0);
}

/* Append data (and its digest, corrupted on request) after a header. */
static void s_data(struct stream *s, uint8_t type, uint32_t len, uint32_t seed, bool bad_ddgst)
{
	uint8_t *d = s->buf + s->len;
	uint32_t crc;

	fill(d, len, seed);
	crc = nvmft_crc32c(0, d, len);
	s->len += len;
	s_expect(s, NVMFT_TCP_RX_HEADER, type, len, 0);
	if (s->hp.ddgst) {
		uint32_t dg = htole32(crc) ^ (bad_ddgst ? 0x100 : 0);

		memcpy(s->buf + s->len, &dg, 4);
		s->len += 4;
	}
	s_expect(s, bad_ddgst && s->hp.ddgst ? NVMFT_TCP_RX_DDGST_ERROR : NVMFT_TCP_RX_PDU_DONE,
		 type, len, crc);
}

static void s_cmd(struct stream *s, uint16_t cid, uint32_t icd, bool bad_ddgst)
{
	struct nvmft_cmd c = test_cmd(cid);

	s->len += nvmft_tcp_enc_cmd(s->buf + s->len, &s->hp, &c, icd);
	if (icd == 0)
		s_expect(s, NVMFT_TCP_RX_HEADER, NVMFT_TCP_CMD, 0, 0);
	else
		s_data(s, NVMFT_TCP_CMD, icd, cid, bad_ddgst);
}

static void s_h2c(struct stream *s, uint16_t cid, uint32_t len, bool bad_ddgst)
{
	s->len += nvmft_tcp_enc_h2c_data(s->buf + s->len, &s->hp, cid, 1, 0, len, true);
	s_data(s, NVMFT_TCP_H2C_DATA, len, cid + 1000u, bad_ddgst);
}

/* A CapsuleCmd whose header digest is wrong: the stream ends there. */
static void s_bad_hdgst(struct stream *s)
{
	struct nvmft_cmd c = test_cmd(99);
	uint8_t *h = s->buf + s->len;
	uint32_t dg;

	s->len += nvmft_tcp_enc_cmd(h, &s->hp, &c, 0);
	h[72] ^= 0x01;
	memcpy(&dg, h + 72, 4);
	s->fatal = true;
	s->fes = NVMFT_TCP_FES_HDGST_ERROR;
	s->fei = le32toh(dg);
	s_expect(s, NVMFT_TCP_RX_ERROR, 0, 0, 0);
	/* Whatever follows is never looked at. */
	memset(s->buf + s->len, 0xee, 100);
	s->len += 100;
}

struct runner {
	struct nvmft_tcp_rx rx;
	struct nvmft_tcp_params p;
	struct ev_rec got[MAX_EV];
	int ngot;
	uint8_t dest[70000];
	struct iovec dst[4];
	bool failed;
};

static void r_init(struct runner *r)
{
	memset(&r->p, 0, sizeof(r->p));
	r->p.icd_max = 8192;
	r->ngot = 0;
	r->failed = false;
	nvmft_tcp_rx_init(&r->rx, CTRLR, &r->p);
}

/* Record an event and do what a transport would at that point. */
static void r_event(struct runner *r, enum nvmft_tcp_rx_event ev)
{
	struct ev_rec *e;
	uint32_t dl;

	if (ev == NVMFT_TCP_RX_NEED_MORE)
		return;
	assert_true(r->ngot < MAX_EV);
	e = &r->got[r->ngot++];
	memset(e, 0, sizeof(*e));
	e->ev = (uint8_t)ev;
	if (ev == NVMFT_TCP_RX_ERROR) {
		r->failed = true;
		return;
	}
	e->type = nvmft_tcp_rx_type(&r->rx);
	dl = nvmft_tcp_rx_data_len(&r->rx);
	e->data_len = dl;
	if (ev == NVMFT_TCP_RX_HEADER) {
		if (e->type == NVMFT_TCP_ICREQ) {
			struct nvmft_tcp_ic_offer offer = { .digests = 3, .maxh2cdata = 131072 };
			struct nvmft_tcp_icresp resp;

			nvmft_tcp_icreq_accept(nvmft_tcp_rx_hdr(&r->rx), &offer, &r->p, &resp);
		}
		if (dl > 0) {
			/* Three uneven pieces, the data starting 5 bytes in. */
			size_t a = dl / 3;

			memset(r->dest, 0, dl + 5);
			r->dst[0] = (struct iovec){ r->dest, 2 };
			r->dst[1] = (struct iovec){ r->dest + 2, a + 3 };
			r->dst[2] = (struct iovec){ r->dest + a + 5, 0 };
			r->dst[3] = (struct iovec){ r->dest + a + 5, dl - a };
			assert_int_equal(nvmft_tcp_rx_set_data_dest(&r->rx, r->dst, 4, 5), 0);
		}
	} else {
		e->data_crc = nvmft_crc32c(0, r->dest + 5, dl);
	}
}

static void r_check(struct runner *r, const struct stream *s)
{
	assert_int_equal(r->ngot, s->nexp);
	for (int i = 0; i < s->nexp; i++) {
		assert_int_equal(r->got[i].ev, s->exp[i].ev);
		if (s->exp[i].ev == NVMFT_TCP_RX_ERROR)
			continue;
		assert_int_equal(r->got[i].type, s->exp[i].type);
		assert_int_equal(r->got[i].data_len, s->exp[i].data_len);
		assert_int_equal(r->got[i].data_crc, s->exp[i].data_crc);
	}
	if (s->fatal) {
		assert_true(r->failed);
		assert_int_equal(nvmft_tcp_rx_err(&r->rx)->fes, s->fes);
		assert_int_equal(nvmft_tcp_rx_err(&r->rx)->fei, s->fei);
	}
}

/* Staging-buffer path: feed chunks of the sizes @chunk() picks. */
static void run_feed(struct runner *r, const struct stream *s, size_t (*chunk)(void *), void *arg)
{
	size_t pos = 0;

	r_init(r);
	while (pos < s->len && !r->failed) {
		size_t n = min_sz(chunk(arg), s->len - pos);

		while (n > 0) {
			size_t used;
			enum nvmft_tcp_rx_event ev;

			ev = nvmft_tcp_rx_feed(&r->rx, s->buf + pos, n, &used);

			assert_true(used <= n);
			pos += used;
			n -= used;
			r_event(r, ev);
			if (r->failed) {
				/* A failed machine takes nothing more. */
				assert_int_equal(nvmft_tcp_rx_feed(&r->rx, s->buf, 1, &used),
						 NVMFT_TCP_RX_ERROR);
				assert_int_equal(used, 0);
				break;
			}
			if (ev == NVMFT_TCP_RX_NEED_MORE)
				assert_int_equal(n, 0);
		}
	}
	r_check(r, s);
}

/* Zero-copy path: copy at most what want() asks for, like readv() would. */
static void run_readv(struct runner *r, const struct stream *s, size_t (*chunk)(void *), void *arg,
		      int max_iov)
{
	size_t pos = 0;

	r_init(r);
	while (pos < s->len && !r->failed) {
		struct iovec iov[8];
		size_t want, n, done = 0;
		int cnt;

		want = nvmft_tcp_rx_want(&r->rx, iov, max_iov, &cnt);
		assert_true(want > 0);
		assert_true(cnt >= 1 && cnt <= max_iov);
		n = min_sz(min_sz(chunk(arg), want), s->len - pos);
		for (int i = 0; i < cnt && done < n; i++) {
			size_t m = min_sz(iov[i].iov_len, n - done);

			memcpy(iov[i].iov_base, s->buf + pos + done, m);
			done += m;
		}
		pos += n;
		r_event(r, nvmft_tcp_rx_advance(&r->rx, n));
	}
	if (r->failed) {
		struct iovec iov[1];
		int cnt;

		assert_int_equal(nvmft_tcp_rx_want(&r->rx, iov, 1, &cnt), 0);
		assert_int_equal(nvmft_tcp_rx_advance(&r->rx, 0), NVMFT_TCP_RX_ERROR);
	}
	r_check(r, s);
}

static size_t chunk_all(void *arg)
{
	(void)arg;
	return SIZE_MAX;
}

static size_t chunk_one(void *arg)
{
	(void)arg;
	return 1;
}

static size_t chunk_random(void *arg)
{
	uint64_t *x = arg;

	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	/* Mostly small chunks, sometimes large ones. */
	if ((*x >> 60) == 0)
		return 1 + (size_t)((*x >> 20) % 20000);
	return 1 + (size_t)((*x >> 33) % 97);
}

struct split {
	size_t first;
	bool done;
};

static size_t chunk_split(void *arg)
{
	struct split *sp = arg;

	if (!sp->done) {
		sp->done = true;
		return sp->first;
	}
	return SIZE_MAX;
}

static void build_stream(struct stream *s, uint8_t dgst, bool corrupt)
{
	s_init(s);
	s_icreq(s, dgst);
	s_cmd(s, 1, 0, false);
	s_cmd(s, 2, 1000, false);
	s_h2c(s, 2, 5000, corrupt);
	s_cmd(s, 3, 1, false);
	s_cmd(s, 4, 0, false);
	s_h2c(s, 3, 4096, false);
	s_cmd(s, 5, 8192, corrupt);
	s_cmd(s, 6, 3, false);
}

static void exercise(struct stream *s, struct runner *r, bool all_splits)
{
	uint64_t seed;

	run_feed(r, s, chunk_all, NULL);
	run_feed(r, s, chunk_one, NULL);
	run_readv(r, s, chunk_all, NULL, 8);
	run_readv(r, s, chunk_all, NULL, 1);
	run_readv(r, s, chunk_one, NULL, 3);
	for (seed = 1; seed <= 40; seed++) {
		uint64_t x = seed;

		run_feed(r, s, chunk_random, &x);
		x = seed;
		run_readv(r, s, chunk_random, &x, 1 + (int)(seed % 5));
	}
	if (all_splits) {
		for (size_t first = 1; first < s->len; first++) {
			struct split sp = { first, false };

			run_feed(r, s, chunk_split, &sp);
		}
	}
}

static struct stream g_stream;
static struct runner g_runner;

static void test_rx_stream_plain(void **state)
{
	(void)state;
	build_stream(&g_stream, 0, false);
	exercise(&g_stream, &g_runner, true);
}

static void test_rx_stream_digests(void **state)
{
	(void)state;
	for (uint8_t dgst = 1; dgst <= 3; dgst++) {
		build_stream(&g_stream, dgst, false);
		exercise(&g_stream, &g_runner, dgst == 3);
	}
}

static void test_rx_stream_bad_ddgst(void **state)
{
	(void)state;
	/* The stream stays in sync: later PDUs arrive normally. */
	build_stream(&g_stream, 3, true);
	assert_int_equal(g_stream.exp[5].ev, NVMFT_TCP_RX_DDGST_ERROR);
	exercise(&g_stream, &g_runner, true);
	build_stream(&g_stream, 2, true);
	exercise(&g_stream, &g_runner, false);
}

static void test_rx_stream_bad_hdgst(void **state)
{
	(void)state;
	s_init(&g_stream);
	s_icreq(&g_stream, 1);
	s_cmd(&g_stream, 1, 100, false);
	s_bad_hdgst(&g_stream);
	exercise(&g_stream, &g_runner, true);
}

/* A PDU with padding before the data (CPDA 15: 64-byte alignment, 52 pad bytes). */
static void test_rx_stream_padding(void **state)
{
	struct runner *r = &g_runner;
	struct stream *s = &g_stream;
	struct nvmft_cmd c = test_cmd(1);
	uint8_t data[100];
	size_t n, used;
	struct iovec dst = { r->dest, sizeof(data) };

	(void)state;
	s_init(s);
	s->hp = ctrlr_params(true, true);
	s->hp.cpda = 15;
	n = nvmft_tcp_enc_cmd(s->buf, &s->hp, &c, sizeof(data));
	assert_int_equal(n, 128);
	fill(data, sizeof(data), 4);
	memcpy(s->buf + n, data, sizeof(data));
	n += sizeof(data);
	{
		uint32_t dg = nvmft_tcp_digest(data, sizeof(data));

		memcpy(s->buf + n, &dg, 4);
		n += 4;
	}
	for (size_t step = 1; step <= n; step++) {
		size_t pos = 0;
		enum nvmft_tcp_rx_event ev = NVMFT_TCP_RX_NEED_MORE;

		nvmft_tcp_rx_init(&r->rx, CTRLR, &s->hp);
		memset(r->dest, 0, sizeof(data));
		while (pos < n) {
			ev = nvmft_tcp_rx_feed(&r->rx, s->buf + pos, min_sz(step, n - pos),
					       &used);
			pos += used;
			if (ev == NVMFT_TCP_RX_HEADER) {
				assert_int_equal(pos, 76);
				assert_int_equal(nvmft_tcp_rx_set_data_dest(&r->rx, &dst, 1, 0), 0);
			}
		}
		assert_int_equal(ev, NVMFT_TCP_RX_PDU_DONE);
		assert_memory_equal(r->dest, data, sizeof(data));
	}
}

/* ---- receive machine: errors and data destinations ------------------------- */

static void test_rx_errors(void **state)
{
	struct nvmft_tcp_params p = ctrlr_params(false, false);
	struct nvmft_tcp_rx rx;
	struct nvmft_cmd c = test_cmd(1);
	ALIGNED uint8_t b[256];
	const uint8_t *eh;
	size_t used, elen;

	(void)state;
	/* Bad HLEN: stops after the common header. */
	nvmft_tcp_enc_cmd(b, &p, &c, 0);
	b[2] = 200;
	nvmft_tcp_rx_init(&rx, CTRLR, &p);
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b, 72, &used), NVMFT_TCP_RX_ERROR);
	assert_int_equal(used, 8);
	assert_int_equal(nvmft_tcp_rx_err(&rx)->fes, NVMFT_TCP_FES_INVALID_HEADER_FIELD);
	assert_int_equal(nvmft_tcp_rx_err(&rx)->fei, 2);
	eh = nvmft_tcp_rx_err_hdr(&rx, &elen);
	assert_int_equal(elen, 8);
	assert_memory_equal(eh, b, 8);

	/* Bad PLEN: found once the whole header is in. */
	nvmft_tcp_enc_cmd(b, &p, &c, 0);
	((struct nvmft_tcp_ch *)(void *)b)->plen = htole32(80);
	nvmft_tcp_rx_init(&rx, CTRLR, &p);
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b, 100, &used), NVMFT_TCP_RX_ERROR);
	assert_int_equal(used, 72);
	assert_int_equal(nvmft_tcp_rx_err(&rx)->fei, 4);
	eh = nvmft_tcp_rx_err_hdr(&rx, &elen);
	assert_int_equal(elen, 72);
	assert_memory_equal(eh, b, 72);
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b, 100, &used), NVMFT_TCP_RX_ERROR);
	assert_int_equal(used, 0);

	/* Out of sequence before ICReq. */
	p.ic_done = false;
	nvmft_tcp_rx_init(&rx, CTRLR, &p);
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b, 100, &used), NVMFT_TCP_RX_ERROR);
	assert_int_equal(nvmft_tcp_rx_err(&rx)->fes, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR);
	assert_int_equal(nvmft_tcp_rx_err(&rx)->fei, 0);

	/* ICReq with a bad PFV. */
	nvmft_tcp_enc_icreq(b, 0, 0, 0);
	b[8] = 1;
	nvmft_tcp_rx_init(&rx, CTRLR, &p);
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b, 128, &used), NVMFT_TCP_RX_ERROR);
	assert_int_equal(nvmft_tcp_rx_err(&rx)->fes, NVMFT_TCP_FES_UNSUPPORTED_PARAMETER);
	assert_int_equal(nvmft_tcp_rx_err(&rx)->fei, 8);
	eh = nvmft_tcp_rx_err_hdr(&rx, &elen);
	assert_int_equal(elen, 128);

	/* A broken H2CTermReq is a silent error. */
	nvmft_tcp_enc_term(b, NVMFT_TCP_H2C_TERM, 1, 0, NULL, 0);
	b[2] = 25;
	nvmft_tcp_rx_init(&rx, CTRLR, &p);
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b, 24, &used), NVMFT_TCP_RX_ERROR);
	assert_true(nvmft_tcp_rx_err(&rx)->silent);
}

static void test_rx_term_received(void **state)
{
	struct nvmft_tcp_params p = { 0 };
	struct nvmft_tcp_rx rx;
	ALIGNED uint8_t b[NVMFT_TCP_TERM_MAX_LEN];
	uint8_t off[30];
	const struct nvmft_tcp_term *t;
	size_t used, n;

	(void)state;
	fill(off, sizeof(off), 3);
	n = nvmft_tcp_enc_term(b, NVMFT_TCP_H2C_TERM, NVMFT_TCP_FES_HDGST_ERROR, 0xabcd, off,
			       sizeof(off));
	nvmft_tcp_rx_init(&rx, CTRLR, &p);
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b, n, &used), NVMFT_TCP_RX_HEADER);
	assert_int_equal(used, 24);
	t = nvmft_tcp_rx_hdr(&rx);
	assert_int_equal(t->ch.type, NVMFT_TCP_H2C_TERM);
	assert_int_equal(le16toh(t->fes), NVMFT_TCP_FES_HDGST_ERROR);
	assert_int_equal(le32toh(t->fei), 0xabcd);
	assert_int_equal(nvmft_tcp_rx_data_len(&rx), 30);
	/* Not claimed: discarded. */
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b + used, n - used, &used), NVMFT_TCP_RX_PDU_DONE);
	assert_int_equal(used, 30);
}

static void test_rx_set_data_dest(void **state)
{
	struct nvmft_tcp_params p = ctrlr_params(false, true);
	struct nvmft_tcp_rx rx;
	struct nvmft_cmd c = test_cmd(1);
	ALIGNED uint8_t b[512];
	uint8_t data[200], dest[300];
	struct iovec iov[3];
	size_t n, used;
	uint32_t dg;

	(void)state;
	fill(data, sizeof(data), 11);
	n = nvmft_tcp_enc_cmd(b, &p, &c, sizeof(data));
	memcpy(b + n, data, sizeof(data));
	dg = nvmft_tcp_digest(data, sizeof(data));
	memcpy(b + n + sizeof(data), &dg, 4);
	n += sizeof(data) + 4;

	nvmft_tcp_rx_init(&rx, CTRLR, &p);
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b, n, &used), NVMFT_TCP_RX_HEADER);
	/* Too short, counting the offset. */
	iov[0] = (struct iovec){ dest, 100 };
	iov[1] = (struct iovec){ dest + 100, 100 };
	assert_int_equal(nvmft_tcp_rx_set_data_dest(&rx, iov, 2, 0), 0);
	assert_int_equal(nvmft_tcp_rx_set_data_dest(&rx, iov, 2, 1), -EINVAL);
	assert_int_equal(nvmft_tcp_rx_set_data_dest(&rx, iov, 1, 0), -EINVAL);
	assert_int_equal(nvmft_tcp_rx_set_data_dest(&rx, iov, 2, 500), -EINVAL);
	/* An offset landing exactly on an entry boundary. */
	iov[0] = (struct iovec){ dest, 50 };
	iov[1] = (struct iovec){ dest + 50, 50 };
	iov[2] = (struct iovec){ dest + 100, 200 };
	memset(dest, 0, sizeof(dest));
	assert_int_equal(nvmft_tcp_rx_set_data_dest(&rx, iov, 3, 100), 0);
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b + used, 10, &used), NVMFT_TCP_RX_NEED_MORE);
	/* Data is flowing: too late to move it. */
	assert_int_equal(nvmft_tcp_rx_set_data_dest(&rx, iov, 3, 0), -EINVAL);
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b + 72 + 10, n - 82, &used), NVMFT_TCP_RX_PDU_DONE);
	assert_memory_equal(dest + 100, data, sizeof(data));
	assert_int_equal(dest[99], 0);
	/* No PDU with data pending. */
	assert_int_equal(nvmft_tcp_rx_set_data_dest(&rx, iov, 3, 0), -EINVAL);

	/* Discarded data is still checked against its digest. */
	b[n - 10] ^= 0xff;
	nvmft_tcp_rx_init(&rx, CTRLR, &p);
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b, n, &used), NVMFT_TCP_RX_HEADER);
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b + used, n - used, &used),
			 NVMFT_TCP_RX_DDGST_ERROR);
	assert_int_equal(used, sizeof(data) + 4);
	/* The header is still there for the caller to find the command. */
	assert_int_equal(nvmft_tcp_rx_type(&rx), NVMFT_TCP_CMD);
}

static void test_rx_want_shape(void **state)
{
	struct nvmft_tcp_params p = ctrlr_params(true, true);
	struct nvmft_tcp_rx rx;
	struct nvmft_cmd c = test_cmd(1);
	ALIGNED uint8_t b[256];
	uint8_t dest[64];
	struct iovec iov[4], dst[2] = { { dest, 16 }, { dest + 16, 48 } };
	size_t used;
	int cnt;

	(void)state;
	nvmft_tcp_enc_cmd(b, &p, &c, 64);
	nvmft_tcp_rx_init(&rx, CTRLR, &p);
	/* Common header first, then header plus digest. */
	assert_int_equal(nvmft_tcp_rx_want(&rx, iov, 4, &cnt), 8);
	assert_int_equal(cnt, 1);
	assert_int_equal(nvmft_tcp_rx_want(&rx, iov, 0, &cnt), 0);
	assert_int_equal(cnt, 0);
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b, 8, &used), NVMFT_TCP_RX_NEED_MORE);
	assert_int_equal(nvmft_tcp_rx_want(&rx, iov, 4, &cnt), 68);
	assert_int_equal(nvmft_tcp_rx_feed(&rx, b + 8, 68, &used), NVMFT_TCP_RX_HEADER);
	/* Data pieces and the digest in one vector. */
	assert_int_equal(nvmft_tcp_rx_set_data_dest(&rx, dst, 2, 0), 0);
	assert_int_equal(nvmft_tcp_rx_want(&rx, iov, 4, &cnt), 68);
	assert_int_equal(cnt, 3);
	assert_ptr_equal(iov[0].iov_base, dest);
	assert_int_equal(iov[0].iov_len, 16);
	assert_ptr_equal(iov[1].iov_base, dest + 16);
	assert_int_equal(iov[1].iov_len, 48);
	assert_int_equal(iov[2].iov_len, 4);
	/* No room for the digest: it waits for the next call. */
	assert_int_equal(nvmft_tcp_rx_want(&rx, iov, 2, &cnt), 64);
	assert_int_equal(cnt, 2);
	assert_int_equal(nvmft_tcp_rx_want(&rx, iov, 1, &cnt), 16);
	assert_int_equal(cnt, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_hlen),
		cmocka_unit_test(test_digest_le),
		cmocka_unit_test(test_type_not_for_ctrlr),
		cmocka_unit_test(test_type_not_for_host),
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_hlen),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_pdo),
		cmocka_unit_test(test_plen),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_icreq_fields),
		cmocka_unit_test(test_icresp_fields),
		cmocka_unit_test(test_negotiation),
		cmocka_unit_test(test_h2c_window),
		cmocka_unit_test(test_roundtrip_c2h_data),
		cmocka_unit_test(test_roundtrip_rsp_r2t),
		cmocka_unit_test(test_roundtrip_term),
		cmocka_unit_test(test_roundtrip_cmd_h2c),
		cmocka_unit_test(test_rx_stream_plain),
		cmocka_unit_test(test_rx_stream_digests),
		cmocka_unit_test(test_rx_stream_bad_ddgst),
		cmocka_unit_test(test_rx_stream_bad_hdgst),
		cmocka_unit_test(test_rx_stream_padding),
		cmocka_unit_test(test_rx_errors),
		cmocka_unit_test(test_rx_term_received),
		cmocka_unit_test(test_rx_set_data_dest),
		cmocka_unit_test(test_rx_want_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
