/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Malformed PDUs and the connection setup: every header field of every PDU
 * a host sends (ICReq, CapsuleCmd, H2CData, H2CTermReq) broken one at a
 * time, the PDU types a host must never send, ICReq out of place or with
 * bad parameters, and header and data digest errors.  Each fatal case
 * expects the C2HTermReq with the exact FES and FEI, the offending header
 * echoed back, and the close; each recoverable one the exact NVMe status
 * and a connection that goes on working.  doc/tcp.md lists the choices the
 * transport made where the specification leaves room.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_env.h"

#define FES_HDR NVMFT_TCP_FES_INVALID_HEADER_FIELD
#define FES_SEQ NVMFT_TCP_FES_PDU_SEQUENCE_ERROR
#define FES_HDGST NVMFT_TCP_FES_HDGST_ERROR
#define FES_LIMIT NVMFT_TCP_FES_R2T_LIMIT_EXCEEDED
#define FES_PARAM NVMFT_TCP_FES_UNSUPPORTED_PARAMETER
#define HD NVMFT_TCP_DGST_HDR
#define DD NVMFT_TCP_DGST_DATA
/* FEI: the header digest that came with the PDU. */
#define FEI_HDGST UINT32_MAX
/* Echoed bytes: the common header only, or the whole header with its digest. */
#define ECHO_CH (-1)
#define ECHO_HDR (-2)

/* One field broken: @width bytes at @off set to @val (little-endian). */
struct mcase {
	const char *what;
	uint8_t pdu;       /* NVMFT_TCP_ICREQ, NVMFT_TCP_CMD or NVMFT_TCP_H2C_DATA */
	uint8_t dgst;      /* digests negotiated first (not for ICReq) */
	uint32_t datal;    /* data in the PDU */
	uint8_t off;
	uint8_t width;     /* 0: leave the PDU alone */
	uint32_t val;
	uint16_t fes;
	uint32_t fei;
	int echo;
};

static const struct mcase cases[] = {
	/* ICReq, the first PDU: no flags, no data, PFV 0, HPDA 0..31. */
	{ "ICReq hlen 127", NVMFT_TCP_ICREQ, 0, 0, 2, 1, 127, FES_HDR, 2, ECHO_CH },
	{ "ICReq hlen 0", NVMFT_TCP_ICREQ, 0, 0, 2, 1, 0, FES_HDR, 2, ECHO_CH },
	{ "ICReq hlen 255", NVMFT_TCP_ICREQ, 0, 0, 2, 1, 255, FES_HDR, 2, ECHO_CH },
	{ "ICReq flag HDGSTF", NVMFT_TCP_ICREQ, 0, 0, 1, 1, 0x01, FES_HDR, 1, ECHO_CH },
	{ "ICReq flag 0x04", NVMFT_TCP_ICREQ, 0, 0, 1, 1, 0x04, FES_HDR, 1, ECHO_CH },
	{ "ICReq flag 0x80", NVMFT_TCP_ICREQ, 0, 0, 1, 1, 0x80, FES_HDR, 1, ECHO_CH },
	{ "ICReq pdo 8", NVMFT_TCP_ICREQ, 0, 0, 3, 1, 8, FES_HDR, 3, ECHO_HDR },
	{ "ICReq plen 132", NVMFT_TCP_ICREQ, 0, 0, 4, 4, 132, FES_HDR, 4, ECHO_HDR },
	{ "ICReq plen 0", NVMFT_TCP_ICREQ, 0, 0, 4, 4, 0, FES_HDR, 4, ECHO_HDR },
	{ "ICReq pfv 1", NVMFT_TCP_ICREQ, 0, 0, 8, 2, 1, FES_PARAM, 8, ECHO_HDR },
	{ "ICReq pfv 0xffff", NVMFT_TCP_ICREQ, 0, 0, 8, 2, 0xffff, FES_PARAM, 8, ECHO_HDR },
	{ "ICReq hpda 32", NVMFT_TCP_ICREQ, 0, 0, 10, 1, 32, FES_HDR, 10, ECHO_HDR },
	{ "ICReq hpda 255", NVMFT_TCP_ICREQ, 0, 0, 10, 1, 255, FES_HDR, 10, ECHO_HDR },

	/* CapsuleCmd. */
	{ "cmd hlen 24", NVMFT_TCP_CMD, 0, 0, 2, 1, 24, FES_HDR, 2, ECHO_CH },
	{ "cmd hlen 71", NVMFT_TCP_CMD, 0, 0, 2, 1, 71, FES_HDR, 2, ECHO_CH },
	{ "cmd hlen 73", NVMFT_TCP_CMD, 3, 512, 2, 1, 73, FES_HDR, 2, ECHO_CH },
	{ "cmd hlen 0", NVMFT_TCP_CMD, 0, 0, 2, 1, 0, FES_HDR, 2, ECHO_CH },
	{ "cmd flag LAST_PDU", NVMFT_TCP_CMD, 0, 0, 1, 1, 0x04, FES_HDR, 1, ECHO_CH },
	{ "cmd flag SUCCESS", NVMFT_TCP_CMD, 0, 0, 1, 1, 0x08, FES_HDR, 1, ECHO_CH },
	{ "cmd flag 0x10", NVMFT_TCP_CMD, 0, 0, 1, 1, 0x10, FES_HDR, 1, ECHO_CH },
	{ "cmd flag 0x20", NVMFT_TCP_CMD, 0, 512, 1, 1, 0x20, FES_HDR, 1, ECHO_CH },
	{ "cmd flag 0x40", NVMFT_TCP_CMD, 3, 0, 1, 1, 0x41, FES_HDR, 1, ECHO_CH },
	{ "cmd flag 0x80", NVMFT_TCP_CMD, 3, 512, 1, 1, 0x83, FES_HDR, 1, ECHO_CH },
	{ "cmd HDGSTF without hdgst", NVMFT_TCP_CMD, 0, 0, 1, 1, 0x01, FES_HDR, 1, ECHO_CH },
	{ "cmd no HDGSTF with hdgst", NVMFT_TCP_CMD, HD, 0, 1, 1, 0x00, FES_HDR, 1, ECHO_CH },
	{ "cmd DDGSTF without ddgst", NVMFT_TCP_CMD, 0, 512, 1, 1, 0x02, FES_HDR, 1, ECHO_CH },
	{ "cmd no DDGSTF, data, ddgst", NVMFT_TCP_CMD, DD, 512, 1, 1, 0x00, FES_HDR, 1, ECHO_HDR },
	{ "cmd DDGSTF, no data", NVMFT_TCP_CMD, HD | DD, 0, 1, 1, 0x03, FES_HDR, 1, ECHO_HDR },
	{ "cmd pdo below hlen", NVMFT_TCP_CMD, 0, 512, 3, 1, 68, FES_HDR, 3, ECHO_HDR },
	{ "cmd pdo inside hdgst", NVMFT_TCP_CMD, HD, 512, 3, 1, 72, FES_HDR, 3, ECHO_HDR },
	{ "cmd pdo unaligned", NVMFT_TCP_CMD, 0, 512, 3, 1, 74, FES_HDR, 3, ECHO_HDR },
	{ "cmd pdo beyond plen", NVMFT_TCP_CMD, 0, 4, 3, 1, 80, FES_HDR, 3, ECHO_HDR },
	{ "cmd pdo 0 with data", NVMFT_TCP_CMD, 0, 512, 3, 1, 0, FES_HDR, 4, ECHO_HDR },
	/* PDO set, but PLEN leaves no data: the transport blames PLEN. */
	{ "cmd pdo 72 without data", NVMFT_TCP_CMD, 0, 0, 3, 1, 72, FES_HDR, 4, ECHO_HDR },
	{ "cmd plen 71", NVMFT_TCP_CMD, 0, 0, 4, 4, 71, FES_HDR, 4, ECHO_HDR },
	{ "cmd plen 73", NVMFT_TCP_CMD, 0, 0, 4, 4, 73, FES_HDR, 4, ECHO_HDR },
	{ "cmd plen 0", NVMFT_TCP_CMD, HD, 0, 4, 4, 0, FES_HDR, 4, ECHO_HDR },
	{ "cmd plen max", NVMFT_TCP_CMD, 0, 0, 4, 4, UINT32_MAX, FES_HDR, 4, ECHO_HDR },
	{ "cmd plen, no ddgst room", NVMFT_TCP_CMD, DD, 512, 4, 4, 72 + 4, FES_HDR, 4, ECHO_HDR },
	/* Before Connect a capsule may carry the admin queue's 8 KiB. */
	{ "cmd 8 KiB + 4 in-capsule", NVMFT_TCP_CMD, 0, 8196, 0, 0, 0, FES_LIMIT, 0, ECHO_HDR },
	{ "cmd header digest", NVMFT_TCP_CMD, HD, 0, 72, 1, 0x5a, FES_HDGST, FEI_HDGST, ECHO_HDR },
	{ "cmd header digest, data", NVMFT_TCP_CMD, HD | DD, 512, 74, 1, 0, FES_HDGST, FEI_HDGST,
	  ECHO_HDR },

	/* H2CData (no R2T is needed to get the header checked). */
	{ "h2c hlen 72", NVMFT_TCP_H2C_DATA, 0, 512, 2, 1, 72, FES_HDR, 2, ECHO_CH },
	{ "h2c hlen 23", NVMFT_TCP_H2C_DATA, 0, 512, 2, 1, 23, FES_HDR, 2, ECHO_CH },
	{ "h2c hlen 8", NVMFT_TCP_H2C_DATA, 3, 512, 2, 1, 8, FES_HDR, 2, ECHO_CH },
	{ "h2c flag SUCCESS", NVMFT_TCP_H2C_DATA, 0, 512, 1, 1, 0x0c, FES_HDR, 1, ECHO_CH },
	{ "h2c flag 0x10", NVMFT_TCP_H2C_DATA, 0, 512, 1, 1, 0x14, FES_HDR, 1, ECHO_CH },
	{ "h2c flag 0x80", NVMFT_TCP_H2C_DATA, 3, 512, 1, 1, 0x87, FES_HDR, 1, ECHO_CH },
	{ "h2c HDGSTF without hdgst", NVMFT_TCP_H2C_DATA, 0, 512, 1, 1, 0x05, FES_HDR, 1, ECHO_CH },
	{ "h2c no HDGSTF, hdgst", NVMFT_TCP_H2C_DATA, HD, 512, 1, 1, 0x04, FES_HDR, 1, ECHO_CH },
	{ "h2c DDGSTF without ddgst", NVMFT_TCP_H2C_DATA, 0, 512, 1, 1, 0x06, FES_HDR, 1, ECHO_CH },
	{ "h2c no DDGSTF with ddgst", NVMFT_TCP_H2C_DATA, DD, 512, 1, 1, 0x04, FES_HDR, 1,
	  ECHO_HDR },
	{ "h2c pdo 0", NVMFT_TCP_H2C_DATA, 0, 512, 3, 1, 0, FES_HDR, 3, ECHO_HDR },
	{ "h2c pdo 20", NVMFT_TCP_H2C_DATA, 0, 512, 3, 1, 20, FES_HDR, 3, ECHO_HDR },
	{ "h2c pdo inside hdgst", NVMFT_TCP_H2C_DATA, HD, 512, 3, 1, 24, FES_HDR, 3, ECHO_HDR },
	{ "h2c pdo unaligned", NVMFT_TCP_H2C_DATA, 0, 512, 3, 1, 26, FES_HDR, 3, ECHO_HDR },
	{ "h2c pdo beyond plen", NVMFT_TCP_H2C_DATA, 0, 4, 3, 1, 32, FES_HDR, 3, ECHO_HDR },
	/*
	 * PLEN and DATAL disagree, whichever of them was changed: PLEN passed
	 * the common header's checks and frames the PDU, so DATAL is blamed.
	 */
	{ "h2c plen != datal", NVMFT_TCP_H2C_DATA, 0, 512, 4, 4, 24 + 516, FES_HDR, 16, ECHO_HDR },
	{ "h2c datal != plen", NVMFT_TCP_H2C_DATA, 0, 512, 16, 4, 508, FES_HDR, 16, ECHO_HDR },
	{ "h2c datal 0", NVMFT_TCP_H2C_DATA, 0, 512, 16, 4, 0, FES_HDR, 16, ECHO_HDR },
	{ "h2c datal, hdgst", NVMFT_TCP_H2C_DATA, HD | DD, 512, 16, 4, 516, FES_HDR, 16, ECHO_HDR },
	{ "h2c plen without data", NVMFT_TCP_H2C_DATA, 0, 512, 4, 4, 24, FES_HDR, 4, ECHO_HDR },
	{ "h2c header digest", NVMFT_TCP_H2C_DATA, HD, 512, 24, 1, 0x33, FES_HDGST, FEI_HDGST,
	  ECHO_HDR },
	{ "h2c header digest, ddgst", NVMFT_TCP_H2C_DATA, HD | DD, 512, 27, 1, 0x01, FES_HDGST,
	  FEI_HDGST, ECHO_HDR },
};

static uint8_t hdr_len(uint8_t pdu, uint8_t dgst)
{
	bool hdgst = pdu != NVMFT_TCP_ICREQ && (dgst & HD);

	return (uint8_t)(nvmft_tcp_type_hlen(pdu) + (hdgst ? 4 : 0));
}

static void put_le(uint8_t *p, uint8_t width, uint32_t v)
{
	for (uint8_t i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void run_case(struct penv *e, const struct mcase *mc)
{
	static uint8_t buf[TH_PDU_SIZE(9000)], data[9000];
	struct th *h = penv_host(e);
	struct nvmft_cmd c;
	uint32_t fei = mc->fei;
	size_t n;
	int echo;

	print_message("# %s\n", mc->what);
	memset(buf, 0, sizeof(buf));
	th_fill(data, mc->datal, mc->off);
	if (mc->pdu == NVMFT_TCP_ICREQ) {
		n = nvmft_tcp_enc_icreq(buf, 0, 0, 0);
	} else {
		assert_int_equal(th_icreq(h, 0, mc->dgst, 0), 0);
		if (mc->pdu == NVMFT_TCP_CMD) {
			memset(&c, 0, sizeof(c));
			c.opcode = nvme_admin_keep_alive;
			c.cid = htole16(7);
			c.dptr.sgl1.unkeyed.length = htole32(mc->datal);
			if (mc->datal)
				c.dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_DATA_BLOCK << 4 |
							   NVMFT_SGL_SUBTYPE_OFFSET;
			n = th_build_cmd(h, buf, &c, data, mc->datal, 0);
		} else {
			n = th_build_h2c(h, buf, 7, 0, 0, data, mc->datal, TH_F_LAST);
		}
	}
	if (mc->width) {
		put_le(buf + mc->off, mc->width, mc->val);
		/* Break exactly one field: unless it is the digest itself, keep it right. */
		if (mc->fes != FES_HDGST && mc->off != 2)
			th_fix_hdgst(h, buf);
	}
	if (fei == FEI_HDGST) {
		uint8_t hl = nvmft_tcp_type_hlen(mc->pdu);

		fei = (uint32_t)buf[hl] | (uint32_t)buf[hl + 1] << 8 | (uint32_t)buf[hl + 2] << 16 |
		      (uint32_t)buf[hl + 3] << 24;
	}
	echo = mc->echo == ECHO_CH ? 8 : hdr_len(mc->pdu, mc->dgst);
	assert_int_equal(th_send(h, buf, n), 0);
	TH_ASSERT_TERM_HDR(h, mc->fes, fei, buf, echo);
	penv_drop(e, h);
}

static void test_malformed_fields(void **state)
{
	struct penv *e = *state;
	struct penv_idle idle;

	penv_count(e, &idle);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(e, &cases[i]);
	/* None of those connections is left behind. */
	penv_assert_idle(e, &idle);
}

/* Every PDU type a host must not send, each built as the target would build it. */
static void test_forbidden_types(void **state)
{
	struct penv *e = *state;
	static const uint8_t unknown[] = { 0x08, 0x0a, 0x0b, 0x10, 0x7f, 0x80, 0xff };
	struct penv_idle idle;
	uint8_t buf[NVMFT_TCP_TERM_MAX_LEN + NVMFT_TCP_HDR_AREA_MAX];
	struct nvmft_cpl cpl;
	size_t n, k;

	penv_count(e, &idle);
	memset(&cpl, 0, sizeof(cpl));
	for (int dgst = 0; dgst <= 3; dgst += 3) {
		for (int kind = 0; kind < 5 + (int)sizeof(unknown); kind++) {
			struct th *h = penv_host(e);
			struct nvmft_tcp_params *p = th_params(h);

			assert_int_equal(th_icreq(h, 0, (uint8_t)dgst, 0), 0);
			memset(buf, 0, sizeof(buf));
			switch (kind) {
			case 0:
				n = nvmft_tcp_enc_icresp(buf, p);
				break;
			case 1:
				n = nvmft_tcp_enc_term(buf, NVMFT_TCP_C2H_TERM, 1, 0, NULL, 0);
				break;
			case 2:
				n = nvmft_tcp_enc_rsp(buf, p, &cpl);
				break;
			case 3:
				k = nvmft_tcp_enc_c2h_data(buf, p, 1, 0, 64, NVMFT_TCP_F_DATA_LAST);
				n = k + 64 + (p->ddgst ? 4 : 0);
				break;
			case 4:
				n = nvmft_tcp_enc_r2t(buf, p, 1, 0, 0, 4096);
				break;
			default:
				n = nvmft_tcp_enc_cmd(buf, p, &(struct nvmft_cmd){ 0 }, 0);
				buf[0] = unknown[kind - 5];
				break;
			}
			assert_int_equal(th_send(h, buf, n), 0);
			TH_ASSERT_TERM_HDR(h, FES_HDR, 0, buf, 8);
			penv_drop(e, h);
		}
	}
	/* Before ICReq too: the type is checked first. */
	{
		struct th *h = penv_host(e);
		struct nvmft_tcp_params p = { .ic_done = true };

		n = nvmft_tcp_enc_icresp(buf, &p);
		assert_int_equal(th_send(h, buf, n), 0);
		TH_ASSERT_TERM_HDR(h, FES_HDR, 0, buf, 8);
		penv_drop(e, h);
	}
	penv_assert_idle(e, &idle);
}

/* ---- Connection setup ----------------------------------------------------------------------- */

static void test_icreq_sequence(void **state)
{
	struct penv *e = *state;
	struct nvmft_tcp_params none = { 0 };
	uint8_t buf[TH_PDU_SIZE(512)], data[512] = { 0 };
	struct penv_idle idle;
	struct nvmft_cmd c;
	struct th *h;
	size_t n;

	penv_count(e, &idle);
	memset(&c, 0, sizeof(c));
	c.opcode = nvme_admin_keep_alive;
	/* A command before ICReq. */
	h = penv_host(e);
	n = nvmft_tcp_enc_cmd(buf, &none, &c, 0);
	assert_int_equal(th_send(h, buf, n), 0);
	TH_ASSERT_TERM_HDR(h, FES_SEQ, 0, buf, 8);
	penv_drop(e, h);
	/* H2CData before ICReq. */
	h = penv_host(e);
	n = nvmft_tcp_enc_h2c_data(buf, &none, 1, 0, 0, sizeof(data), true);
	memcpy(buf + n, data, sizeof(data));
	assert_int_equal(th_send(h, buf, n + sizeof(data)), 0);
	TH_ASSERT_TERM_HDR(h, FES_SEQ, 0, buf, 8);
	penv_drop(e, h);
	/* ICReq twice, right away and after Connect. */
	for (int connected = 0; connected < 2; connected++) {
		h = penv_host(e);
		assert_int_equal(th_icreq(h, 0, 3, 0), 0);
		if (connected)
			assert_int_equal(th_connect_admin(h, 31, NULL), 0);
		n = nvmft_tcp_enc_icreq(buf, 0, 3, 0);
		assert_int_equal(th_send(h, buf, n), 0);
		TH_ASSERT_TERM_HDR(h, FES_SEQ, 0, buf, 8);
		penv_drop(e, h);
	}
	penv_assert_idle(e, &idle);
}

/* Reserved DGST bits are ignored; the digests asked for are granted. */
static void test_icreq_dgst_bits(void **state)
{
	struct penv *e = *state;
	static const uint8_t ask[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0xfc, 0xfd, 0xfe, 0xff };

	for (size_t i = 0; i < sizeof(ask); i++) {
		struct th *h = penv_host(e);
		const struct nvmft_tcp_icresp *r;

		assert_int_equal(th_icreq(h, 0, ask[i], 0), 0);
		r = th_icresp(h);
		assert_int_equal(r->ch.hlen, 128);
		assert_int_equal(le32toh(r->ch.plen), 128);
		assert_int_equal(le16toh(r->pfv), 0);
		assert_int_equal(r->cpda, 0);
		assert_int_equal(r->dgst, ask[i] & 3);
		assert_int_equal(le32toh(r->maxh2cdata), 131072);
		/* And the connection works with what was granted. */
		assert_int_equal(th_connect_admin(h, 31, NULL), 0);
		TH_ASSERT_HEALTHY(h);
		penv_drop(e, h);
	}
}

/* Reserved bytes of the ICReq, any HPDA up to 31 and any MAXR2T are accepted. */
static void test_icreq_params_accepted(void **state)
{
	struct penv *e = *state;
	static const uint32_t maxr2t[] = { 0, 1, 3, 4, 1000, UINT32_MAX };
	uint8_t buf[NVMFT_TCP_ICREQ_LEN];

	for (size_t i = 0; i < sizeof(maxr2t) / sizeof(maxr2t[0]); i++) {
		struct th *h = penv_host(e);

		assert_int_equal(th_icreq(h, (uint8_t)(i * 6), 3, maxr2t[i]), 0);
		assert_int_equal(th_connect_admin(h, 31, NULL), 0);
		TH_ASSERT_HEALTHY(h);
		penv_drop(e, h);
	}
	{
		struct th *h = penv_host(e);
		struct th_pdu p;

		nvmft_tcp_enc_icreq(buf, 31, 0, 0);
		memset(buf + 16, 0xa5, sizeof(buf) - 16);
		assert_int_equal(th_send(h, buf, sizeof(buf)), 0);
		assert_int_equal(th_recv(h, &p), NVMFT_TCP_ICRESP);
		penv_drop(e, h);
	}
}

/* PFV other than 0 and HPDA over 31, sent as such; HPDA 31 itself works, data and all. */
static void test_icreq_pfv_hpda(void **state)
{
	struct penv *e = *state;
	static const uint16_t pfv[] = { 1, 2, 0x100, 0x8000 };
	static const uint8_t hpda[] = { 32, 33, 64, 255 };
	uint8_t buf[4096];
	struct th *h;

	for (size_t i = 0; i < sizeof(pfv) / sizeof(pfv[0]); i++) {
		h = penv_host(e);
		assert_int_equal(th_send_icreq(h, pfv[i], 0, 3, 0), 0);
		TH_ASSERT_TERM(h, FES_PARAM, NVMFT_TCP_FEI_PFV);
		penv_drop(e, h);
	}
	for (size_t i = 0; i < sizeof(hpda); i++) {
		h = penv_host(e);
		assert_int_equal(th_send_icreq(h, 0, hpda[i], 0, 0), 0);
		TH_ASSERT_TERM(h, FES_HDR, NVMFT_TCP_FEI_HPDA);
		penv_drop(e, h);
	}
	/* C2HData then starts 128 bytes in (the host's parser checks the alignment). */
	h = penv_io(e, 3, 31, 0, 127, 0);
	th_fill(buf, sizeof(buf), 31);
	TH_ASSERT_ST(h, th_rw(h, true, 1, 0, 8, buf, sizeof(buf), 0), 0);
	memset(buf, 0, sizeof(buf));
	TH_ASSERT_ST(h, th_rw(h, false, 1, 0, 8, buf, sizeof(buf), 0), 0);
	{
		uint8_t want[4096];

		th_fill(want, sizeof(want), 31);
		assert_memory_equal(buf, want, sizeof(buf));
	}
}

/* A host's TermReq, well-formed or not, just closes the connection. */
static void test_h2c_termreq(void **state)
{
	struct penv *e = *state;
	struct penv_idle idle;
	uint8_t buf[NVMFT_TCP_TERM_MAX_LEN + 8];

	penv_count(e, &idle);
	for (int kind = 0; kind < 7; kind++) {
		struct th *h = penv_host(e);
		size_t n;

		if (kind % 2)
			assert_int_equal(th_icreq(h, 0, 3, 0), 0);
		memset(buf, 0, sizeof(buf));
		n = nvmft_tcp_enc_term(buf, NVMFT_TCP_H2C_TERM, NVMFT_TCP_FES_HDGST_ERROR, 0x1234,
				       buf + 64, kind < 2 ? 0 : 40);
		switch (kind) {
		case 2:
			buf[2] = 23;                             /* hlen */
			break;
		case 3:
			buf[1] = NVMFT_TCP_F_HDGST;              /* flags */
			break;
		case 4:
			put_le(buf + 4, 4, 23);                 /* plen below the header */
			break;
		case 5:
			n = NVMFT_TCP_TERM_MAX_LEN + 1;          /* plen 153: past the maximum */
			put_le(buf + 4, 4, (uint32_t)n);
			break;
		default:
			break;
		}
		assert_int_equal(th_send(h, buf, n), 0);
		TH_ASSERT_ST(h, th_expect_closed(h), 0);
		penv_drop(e, h);
	}
	penv_assert_idle(e, &idle);
}

/* ---- Digests -------------------------------------------------------------------------------- */

static const uint16_t transient = NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_TRAN_TPORT_ERROR);

/*
 * A write whose H2CData number @bad (of four, MAXH2CDATA 4 KiB each) has a
 * bad data digest.  The target takes in what it had asked for so far, then
 * fails the command; returns how many R2Ts it sent.
 */
static int h2c_bad_digest(struct th *h, const uint8_t *w, uint32_t len, uint32_t bad)
{
	struct nvmft_cmd c = th_rw_cmd(true, 1, 100, len / PENV_BLOCK);
	struct th_io io = { .wdata = w, .wlen = len, .flags = TH_IO_MANUAL_R2T };
	int cid = th_submit(h, &c, &io), n;
	struct th_r2t t;

	assert_true(cid >= 0);
	for (;;) {
		int rc = th_next_r2t(h, cid, &t);

		/* Completed: no more R2Ts. */
		if (rc == TH_UNEXPECTED && th_done(h, cid))
			break;
		TH_ASSERT_ST(h, rc, 0);
		assert_int_equal(t.r2tl, 4096);
		TH_ASSERT_ST(h, th_send_h2c(h, cid, t.ttag, t.r2to, t.r2tl,
					    t.r2to / 4096 == bad ? TH_F_BAD_DDGST : 0), 0);
		if (t.r2to + t.r2tl == len)
			break;
	}
	th_r2ts(h, cid, &n);
	TH_ASSERT_ST(h, th_wait(h, cid, NULL), transient);
	return n;
}

/*
 * A bad data digest fails the one command with Transient Transport Error
 * (no DNR: the host may retry) and leaves the namespace and the connection
 * as they were: in the capsule, in every H2CData, in the first of several
 * (with one R2T at a time, and with all of them asked for at once), and in
 * the last.
 */
static void test_data_digest(void **state)
{
	struct penv *e = *state;
	struct nvmft_transport_opts o;
	enum { LEN = 16384 };
	uint8_t w[LEN], r[LEN], old[LEN];
	struct th *one, *all;

	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o));
	o.max_h2c_data = 4096;
	penv_reinit(e, &(struct penv_opts){ .tr = &o });
	one = penv_io(e, HD | DD, 0, 0, 127, 0);
	all = penv_io(e, HD | DD, 0, 3, 127, 0);
	th_fill(old, sizeof(old), 1);
	TH_ASSERT_ST(one, th_rw(one, true, 1, 100, LEN / PENV_BLOCK, old, LEN, 0), 0);
	th_fill(w, sizeof(w), 2);
	/* In-capsule. */
	TH_ASSERT_ST(one, th_rw(one, true, 1, 100, 8, w, 4096, TH_IO_INCAPSULE | TH_IO_BAD_DDGST),
		     transient);
	/* Every H2CData bad: the first one ends it (one R2T at a time). */
	TH_ASSERT_ST(one, th_rw(one, true, 1, 100, LEN / PENV_BLOCK, w, LEN, TH_IO_BAD_DDGST),
		     transient);
	assert_int_equal(h2c_bad_digest(one, w, LEN, 0), 1);
	assert_int_equal(h2c_bad_digest(one, w, LEN, 3), 4);
	/* MAXR2T 3: all four windows asked for at once, and all taken in before the failure. */
	assert_int_equal(h2c_bad_digest(all, w, LEN, 0), 4);
	assert_int_equal(h2c_bad_digest(all, w, LEN, 2), 4);
	/* Nothing reached the namespace. */
	TH_ASSERT_ST(one, th_rw(one, false, 1, 100, LEN / PENV_BLOCK, r, LEN, 0), 0);
	assert_memory_equal(r, old, LEN);
	/* And both connections go on. */
	TH_ASSERT_ST(all, th_rw(all, true, 1, 100, LEN / PENV_BLOCK, w, LEN, 0), 0);
	TH_ASSERT_ST(one, th_rw(one, false, 1, 100, LEN / PENV_BLOCK, r, LEN, 0), 0);
	assert_memory_equal(r, w, LEN);
	assert_int_equal(th_violations(one), 0);
	assert_int_equal(th_violations(all), 0);
}

/* A bad header digest on H2CData, for a command that waits for it, is fatal. */
static void test_header_digest_h2c(void **state)
{
	struct penv *e = *state;
	uint8_t w[4096], buf[TH_PDU_SIZE(4096)];
	struct nvmft_cmd c = th_rw_cmd(true, 1, 0, 8);
	struct th_io io = { .wdata = w, .wlen = sizeof(w), .flags = TH_IO_MANUAL_R2T };
	struct penv_idle idle;
	struct th_r2t t;
	struct th *h;
	uint32_t fei;
	size_t n;
	int cid;

	penv_count(e, &idle);
	idle.admin_qpairs++;
	idle.connections++;
	th_fill(w, sizeof(w), 4);
	h = penv_io(e, HD | DD, 0, 0, 127, 0);
	cid = th_submit(h, &c, &io);
	TH_ASSERT_ST(h, th_next_r2t(h, cid, &t), 0);
	n = th_build_h2c(h, buf, (uint16_t)cid, t.ttag, 0, w, sizeof(w),
			 TH_F_LAST | TH_F_BAD_HDGST);
	memcpy(&fei, buf + 24, 4);
	assert_int_equal(th_send(h, buf, n), 0);
	TH_ASSERT_TERM_HDR(h, FES_HDGST, le32toh(fei), buf, 28);
	/* The write waiting for that data was given back. */
	penv_assert_idle(e, &idle);
}

/* Once an I/O queue is connected, its own in-capsule limit (4 KiB) applies. */
static void test_io_icd_limit(void **state)
{
	struct penv *e = *state;
	uint8_t w[4100] = { 0 }, buf[TH_PDU_SIZE(4100)];
	struct nvmft_cmd c = th_rw_cmd(true, 1, 0, 8);
	struct th *h = penv_io_default(e);
	size_t n;

	c.cid = htole16(9);
	c.dptr.sgl1.unkeyed.length = htole32(sizeof(w));
	c.dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_DATA_BLOCK << 4 | NVMFT_SGL_SUBTYPE_OFFSET;
	n = th_build_cmd(h, buf, &c, w, sizeof(w), 0);
	assert_int_equal(th_send(h, buf, n), 0);
	TH_ASSERT_TERM_HDR(h, FES_LIMIT, 0, buf, 72);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, penv_setup, penv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_malformed_fields),
		T(test_forbidden_types),
		T(test_icreq_sequence),
		T(test_icreq_dgst_bits),
		T(test_icreq_params_accepted),
		T(test_icreq_pfv_hpda),
		T(test_h2c_termreq),
		T(test_data_digest),
		T(test_header_digest_h2c),
		T(test_io_icd_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
