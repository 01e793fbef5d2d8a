/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes the generated seeds of every fuzz target: gen_corpus DIR creates
 * DIR/<target>/gen-<name> for each.  The seeds are meaningful inputs (valid
 * handshakes with and without digests, each command family, the R2T path,
 * bad digests, ...) laid out as each target's header comment describes;
 * the fuzzers start from them and from the minimized inputs of earlier
 * runs that sit next to them.  Deterministic: rerunning it rewrites the
 * same bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bsd/string.h>

#include "fuzz_common.h"
#include "transports/tcp/tcp_codec.h"

struct buf {
	uint8_t *b;
	size_t len, cap;
};

static const char *out_dir;
static unsigned int written;

static void die(const char *what)
{
	fprintf(stderr, "gen_corpus: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 4096) + n;
		uint8_t *nb = realloc(b->b, cap);

		if (nb == NULL)
			die("realloc");
		b->b = nb;
		b->cap = cap;
	}
	memcpy(b->b + b->len, p, n);
	b->len += n;
}

static void put8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put16(struct buf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	put(b, x, 2);
}

static void put32(struct buf *b, uint32_t v)
{
	put16(b, (uint16_t)v);
	put16(b, (uint16_t)(v >> 16));
}

static void put64(struct buf *b, uint64_t v)
{
	put32(b, (uint32_t)v);
	put32(b, (uint32_t)(v >> 32));
}

static void emit(const char *target, const char *name, struct buf *b)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die(path);
	snprintf(path, sizeof(path), "%s/%s/gen-%s", out_dir, target, name);
	f = fopen(path, "wb");
	if (f == NULL)
		die(path);
	if (b->len > 0 && fwrite(b->b, 1, b->len, f) != b->len)
		die(path);
	if (fclose(f) != 0)
		die(path);
	written++;
	b->len = 0;
}

/* ---- NVMe/TCP PDUs ---------------------------------------------------------------------------- */

static struct nvmft_tcp_params host_params(uint8_t dgst)
{
	struct nvmft_tcp_params p = { .ic_done = true, .hdgst = dgst & 1, .ddgst = dgst & 2,
				      .maxh2cdata = 8192 };

	return p;
}

static void pdu_cmd(struct buf *b, const struct nvmft_tcp_params *p, struct nvmft_cmd cmd,
		    const void *icd, uint32_t icd_len, bool r2t_len, uint32_t xfer_len)
{
	uint8_t hdr[NVMFT_TCP_HDR_AREA_MAX];

	if (icd_len > 0) {
		cmd.dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_DATA_BLOCK << 4 | NVMFT_SGL_SUBTYPE_OFFSET;
		cmd.dptr.sgl1.unkeyed.length = htole32(icd_len);
	} else if (r2t_len) {
		cmd.dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_TRANSPORT_DATA_BLOCK << 4 |
					     NVMFT_SGL_SUBTYPE_TRANSPORT;
		cmd.dptr.sgl1.unkeyed.length = htole32(xfer_len);
	}
	put(b, hdr, nvmft_tcp_enc_cmd(hdr, p, &cmd, icd_len));
	if (icd_len > 0) {
		put(b, icd, icd_len);
		if (p->ddgst) {
			uint32_t dg = nvmft_tcp_digest(icd, icd_len);

			put(b, &dg, 4);
		}
	}
}

static void pdu_h2c(struct buf *b, const struct nvmft_tcp_params *p, uint16_t cid, uint16_t ttag,
		    uint32_t off, const uint8_t *data, uint32_t len, bool last)
{
	uint8_t hdr[NVMFT_TCP_HDR_AREA_MAX];

	put(b, hdr, nvmft_tcp_enc_h2c_data(hdr, p, cid, ttag, off, len, last));
	put(b, data, len);
	if (p->ddgst) {
		uint32_t dg = nvmft_tcp_digest(data, len);

		put(b, &dg, 4);
	}
}

static struct nvmft_cmd io_cmd(uint8_t opc, uint16_t cid, uint32_t nsid, uint64_t slba,
			       uint32_t nlb)
{
	struct nvmft_cmd c = { .opcode = opc, .cid = htole16(cid), .nsid = htole32(nsid) };

	c.cdw10 = htole32((uint32_t)slba);
	c.cdw11 = htole32((uint32_t)(slba >> 32));
	c.cdw12 = htole32(nlb - 1);
	return c;
}

static struct nvmft_cmd admin_cmd(uint8_t opc, uint16_t cid, uint32_t nsid, uint32_t cdw10,
				  uint32_t cdw11)
{
	struct nvmft_cmd c = { .opcode = opc, .cid = htole16(cid), .nsid = htole32(nsid) };

	c.cdw10 = htole32(cdw10);
	c.cdw11 = htole32(cdw11);
	return c;
}

static struct nvmft_cmd prop_cmd(uint8_t fctype, uint16_t cid, uint32_t off, uint64_t val,
				 uint8_t attrib)
{
	struct nvmft_prop_cmd p = { .opcode = NVMFT_OPC_FABRICS, .fctype = fctype };
	struct nvmft_cmd c;

	p.cid = htole16(cid);
	p.attrib = attrib;
	p.offset = htole32(off);
	p.value = htole64(val);
	memcpy(&c, &p, sizeof(c));
	return c;
}

static void pattern(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 31 + (i >> 9));
}

/* ---- fuzz_tcp_stream ------------------------------------------------------------------------------ */

static void stream_hdr(struct buf *b, uint8_t cfg, uint8_t piece, uint32_t seed)
{
	put8(b, cfg);
	put8(b, piece);
	put32(b, seed);
}

static void gen_tcp_stream(void)
{
	static const char *const dname[] = { "nodgst", "hdgst", "ddgst", "hddgst" };
	struct buf b = { 0 };
	uint8_t data[16384], icreq[NVMFT_TCP_ICREQ_LEN];
	char name[96];

	pattern(data, sizeof(data), 7);
	for (uint8_t dg = 0; dg < 4; dg++) {
		struct nvmft_tcp_params p = host_params(dg);
		uint8_t c = (uint8_t)(dg << 3);

		/* The handshake alone, from the input itself and as the harness prefix. */
		stream_hdr(&b, c, 7, 1);
		put(&b, icreq, nvmft_tcp_enc_icreq(icreq, (uint8_t)(dg * 2), dg, dg));
		snprintf(name, sizeof(name), "icreq-raw-%s", dname[dg]);
		emit("tcp_stream", name, &b);
		stream_hdr(&b, c | 2, 1, 2);
		snprintf(name, sizeof(name), "connect-only-%s", dname[dg]);
		emit("tcp_stream", name, &b);

		/* An enabled admin queue, then each admin command family. */
		stream_hdr(&b, c | 3, 4, 3);
		pdu_cmd(&b, &p, admin_cmd(0x06, 1, 0, 1, 0), NULL, 0, true, 4096);
		pdu_cmd(&b, &p, admin_cmd(0x06, 2, 1, 0, 0), NULL, 0, true, 4096);
		pdu_cmd(&b, &p, admin_cmd(0x06, 3, 0, 2, 0), NULL, 0, true, 4096);
		pdu_cmd(&b, &p, admin_cmd(0x02, 4, 0xffffffffu, 0x02 | (127u << 16), 0), NULL, 0,
			true, 512);
		pdu_cmd(&b, &p, admin_cmd(0x0a, 5, 0, 0x07, 0), NULL, 0, false, 0);
		pdu_cmd(&b, &p, admin_cmd(0x09, 6, 0, 0x07, 0x00030003), NULL, 0, false, 0);
		pdu_cmd(&b, &p, admin_cmd(0x18, 7, 0, 0, 0), NULL, 0, false, 0);
		pdu_cmd(&b, &p, admin_cmd(0x0c, 8, 0, 0, 0), NULL, 0, false, 0);
		pdu_cmd(&b, &p, prop_cmd(NVMFT_FCTYPE_PROPERTY_GET, 9, NVME_REG_CSTS, 0, 0), NULL, 0,
			false, 0);
		pdu_cmd(&b, &p, prop_cmd(NVMFT_FCTYPE_PROPERTY_GET, 10, NVME_REG_CAP, 0, 1), NULL, 0,
			false, 0);
		snprintf(name, sizeof(name), "admin-cmds-%s", dname[dg]);
		emit("tcp_stream", name, &b);

		/* Controller shutdown, then Disconnect. */
		stream_hdr(&b, c | 3 | 0x40, 6, 4);
		pdu_cmd(&b, &p, prop_cmd(NVMFT_FCTYPE_PROPERTY_SET, 1, NVME_REG_CC,
					 1u | 6u << 16 | 4u << 20 | 1u << 14, 0), NULL, 0, false, 0);
		pdu_cmd(&b, &p, prop_cmd(NVMFT_FCTYPE_DISCONNECT, 2, 0, 0, 0), NULL, 0, false, 0);
		snprintf(name, sizeof(name), "shutdown-disconnect-%s", dname[dg]);
		emit("tcp_stream", name, &b);

		/* An I/O queue: in-capsule write, read, R2T write, flush, write zeroes, DSM. */
		stream_hdr(&b, c | 4, 5, 5);
		pdu_cmd(&b, &p, io_cmd(0x01, 1, 1, 0, 8), data, 4096, false, 0);
		pdu_cmd(&b, &p, io_cmd(0x02, 2, 1, 0, 8), NULL, 0, true, 4096);
		pdu_cmd(&b, &p, io_cmd(0x00, 3, 1, 0, 1), NULL, 0, false, 0);
		pdu_cmd(&b, &p, io_cmd(0x08, 4, 1, 64, 16), NULL, 0, false, 0);
		{
			uint8_t range[16] = { 0 };

			range[4] = 8;
			range[8] = 32;
			pdu_cmd(&b, &p, admin_cmd(0x09, 5, 1, 0, 4), range, sizeof(range), false, 0);
		}
		pdu_cmd(&b, &p, io_cmd(0x02, 6, 1, 0, 128), NULL, 0, true, 65536);
		snprintf(name, sizeof(name), "io-mixed-%s", dname[dg]);
		emit("tcp_stream", name, &b);

		/* Writes through R2T: the first command after Connect gets transfer tag 1. */
		stream_hdr(&b, c | 4, 6, 6);
		pdu_cmd(&b, &p, io_cmd(0x01, 1, 1, 100, 32), NULL, 0, true, 16384);
		pdu_h2c(&b, &p, 1, 1, 0, data, 8192, true);
		pdu_h2c(&b, &p, 1, 1, 8192, data + 8192, 8192, true);
		pdu_cmd(&b, &p, io_cmd(0x02, 2, 1, 100, 32), NULL, 0, true, 16384);
		snprintf(name, sizeof(name), "io-r2t-write-%s", dname[dg]);
		emit("tcp_stream", name, &b);

		/* The same data in small H2CData pieces, and a host that reads nothing. */
		stream_hdr(&b, c | 4 | 0x80, 2, 7);
		pdu_cmd(&b, &p, io_cmd(0x01, 9, 1, 8, 8), NULL, 0, true, 4096);
		for (uint32_t o = 0; o < 4096; o += 1024)
			pdu_h2c(&b, &p, 9, 1, o, data + o, 1024, o + 1024 == 4096);
		for (uint16_t cid = 10; cid < 40; cid++)
			pdu_cmd(&b, &p, io_cmd(0x02, cid, 1, cid, 16), NULL, 0, true, 8192);
		snprintf(name, sizeof(name), "io-small-h2c-%s", dname[dg]);
		emit("tcp_stream", name, &b);

		/* Fused Compare and Write, in capsule. */
		stream_hdr(&b, c | 4, 3, 8);
		{
			struct nvmft_cmd cmp = io_cmd(0x05, 1, 1, 0, 1), wr = io_cmd(0x01, 2, 1, 0, 1);

			cmp.flags = 1;
			wr.flags = 2;
			pdu_cmd(&b, &p, cmp, data, 512, false, 0);
			pdu_cmd(&b, &p, wr, data, 512, false, 0);
		}
		snprintf(name, sizeof(name), "io-fused-%s", dname[dg]);
		emit("tcp_stream", name, &b);

		if (dg & 1) {
			/* A header digest left wrong on purpose: fatal. */
			stream_hdr(&b, c | 4 | 0x20, 5, 9);
			pdu_cmd(&b, &p, io_cmd(0x01, 1, 1, 0, 8), data, 4096, false, 0);
			b.b[6 + 20] ^= 1;
			snprintf(name, sizeof(name), "bad-hdgst-%s", dname[dg]);
			emit("tcp_stream", name, &b);
		}
		if (dg & 2) {
			/* A data digest left wrong: that command fails, the stream goes on. */
			stream_hdr(&b, c | 4 | 0x20, 5, 10);
			pdu_cmd(&b, &p, io_cmd(0x01, 1, 1, 0, 8), data, 4096, false, 0);
			b.b[b.len - 1] ^= 1;
			pdu_cmd(&b, &p, io_cmd(0x01, 2, 1, 0, 1), NULL, 0, true, 512);
			pdu_h2c(&b, &p, 2, 2, 0, data, 512, true);
			b.b[b.len - 1] ^= 1;
			pdu_cmd(&b, &p, io_cmd(0x02, 3, 1, 0, 8), NULL, 0, true, 4096);
			snprintf(name, sizeof(name), "bad-ddgst-%s", dname[dg]);
			emit("tcp_stream", name, &b);
		}
	}

	/* Protocol errors: H2CTermReq, PDU before ICReq, bad HLEN, unknown TTAG. */
	{
		struct nvmft_tcp_params p = host_params(0);
		uint8_t term[NVMFT_TCP_TERM_MAX_LEN];

		stream_hdr(&b, 3, 7, 10);
		put(&b, term, nvmft_tcp_enc_term(term, NVMFT_TCP_H2C_TERM, 1, 2, data, 24));
		emit("tcp_stream", "h2c-termreq", &b);

		stream_hdr(&b, 0, 7, 11);
		pdu_cmd(&b, &p, admin_cmd(0x18, 1, 0, 0, 0), NULL, 0, false, 0);
		emit("tcp_stream", "cmd-before-icreq", &b);

		stream_hdr(&b, 3, 3, 12);
		pdu_cmd(&b, &p, admin_cmd(0x18, 1, 0, 0, 0), NULL, 0, false, 0);
		b.b[b.len - 72 + 2] = 70;
		emit("tcp_stream", "bad-hlen", &b);

		stream_hdr(&b, 4, 7, 13);
		pdu_h2c(&b, &p, 1, 7, 0, data, 512, true);
		emit("tcp_stream", "h2c-unknown-ttag", &b);

		stream_hdr(&b, 4, 7, 14);
		for (uint16_t cid = 0; cid < 80; cid++)
			pdu_cmd(&b, &p, io_cmd(0x00, cid, 1, 0, 1), NULL, 0, false, 0);
		emit("tcp_stream", "io-queue-overrun", &b);
	}
	free(b.b);
}

/* ---- fuzz_tcp_rx ---------------------------------------------------------------------------------- */

static void rx_hdr(struct buf *b, uint8_t cfg, uint8_t cpda, uint8_t hpda, uint32_t seed)
{
	put8(b, cfg);
	put8(b, cpda);
	put8(b, hpda);
	put32(b, 8192);
	put32(b, 8192);
	put32(b, seed);
}

static void gen_tcp_rx(void)
{
	struct buf b = { 0 };
	uint8_t data[9000], hdr[NVMFT_TCP_HDR_AREA_MAX];
	char name[64];

	pattern(data, sizeof(data), 3);
	for (uint8_t mode = 0; mode < 8; mode++) {
		uint8_t dg = mode & 3;
		bool readv = mode & 4;
		struct nvmft_tcp_params p = host_params(dg);
		struct nvmft_tcp_params hp = host_params(dg);
		/* Controller role, from ICReq on: the owner answers it. */
		uint8_t cfg = (uint8_t)(dg << 2 | (readv ? 0x20 : 0) | 0x80);

		rx_hdr(&b, cfg, 0, 0, mode + 1u);
		put(&b, hdr, nvmft_tcp_enc_icreq(hdr, 0, dg, 0));
		pdu_cmd(&b, &p, admin_cmd(0x18, 1, 0, 0, 0), NULL, 0, false, 0);
		pdu_cmd(&b, &p, io_cmd(0x01, 2, 1, 0, 8), data, 4096, false, 0);
		pdu_h2c(&b, &p, 3, 1, 0, data, 8192, true);
		pdu_h2c(&b, &p, 3, 1, 8192, data, 100, false);
		put(&b, hdr, nvmft_tcp_enc_term(hdr, NVMFT_TCP_H2C_TERM, 2, 0, data, 24));
		snprintf(name, sizeof(name), "ctrlr-%s-dg%u", readv ? "readv" : "feed", dg);
		emit("tcp_rx", name, &b);

		/* Controller role with CPDA: data aligned after padding. */
		p.cpda = 7;
		rx_hdr(&b, (uint8_t)(cfg | 2), 7, 0, mode + 11u);
		pdu_cmd(&b, &p, io_cmd(0x01, 2, 1, 0, 1), data, 512, false, 0);
		pdu_h2c(&b, &p, 3, 1, 0, data, 1000, true);
		snprintf(name, sizeof(name), "ctrlr-cpda-%s-dg%u", readv ? "readv" : "feed", dg);
		emit("tcp_rx", name, &b);

		/* Host role: ICResp, responses, C2HData (HPDA 2), R2T, C2HTermReq. */
		hp.hpda = 2;
		hp.maxh2cdata = 8192;
		rx_hdr(&b, (uint8_t)(cfg | 1), 0, 2, mode + 21u);
		{
			struct nvmft_tcp_params ic = { .hdgst = dg & 1, .ddgst = dg & 2,
						       .maxh2cdata = 8192 };
			struct nvmft_cpl cpl = { .cid = htole16(1) };

			put(&b, hdr, nvmft_tcp_enc_icresp(hdr, &ic));
			put(&b, hdr, nvmft_tcp_enc_rsp(hdr, &hp, &cpl));
			put(&b, hdr, nvmft_tcp_enc_c2h_data(hdr, &hp, 2, 0, 4096,
							    NVMFT_TCP_F_DATA_LAST));
			put(&b, data, 4096);
			if (hp.ddgst) {
				uint32_t d = nvmft_tcp_digest(data, 4096);

				put(&b, &d, 4);
			}
			put(&b, hdr, nvmft_tcp_enc_r2t(hdr, &hp, 3, 1, 0, 8192));
			put(&b, hdr, nvmft_tcp_enc_term(hdr, NVMFT_TCP_C2H_TERM, 1, 4, data, 72));
		}
		snprintf(name, sizeof(name), "host-%s-dg%u", readv ? "readv" : "feed", dg);
		emit("tcp_rx", name, &b);
	}
	/* Broken: digests left wrong, an oversized capsule, a TermReq too long. */
	{
		struct nvmft_tcp_params p = host_params(3);

		rx_hdr(&b, 0x02 | 0x0c | 0x10, 0, 0, 99);
		pdu_cmd(&b, &p, io_cmd(0x01, 2, 1, 0, 8), data, 4096, false, 0);
		b.b[b.len - 2] ^= 0x40;
		pdu_cmd(&b, &p, admin_cmd(0x18, 1, 0, 0, 0), NULL, 0, false, 0);
		b.b[b.len - 1] ^= 1;
		emit("tcp_rx", "bad-digests", &b);

		p = host_params(0);
		rx_hdr(&b, 0x02, 0, 0, 98);
		pdu_cmd(&b, &p, io_cmd(0x01, 2, 1, 0, 18), data, 9000, false, 0);
		emit("tcp_rx", "capsule-too-big", &b);

		rx_hdr(&b, 0x02, 0, 0, 97);
		put(&b, hdr, nvmft_tcp_enc_term(hdr, NVMFT_TCP_H2C_TERM, 1, 0, data,
						NVMFT_TCP_TERM_MAX_DATA));
		b.b[b.len - NVMFT_TCP_TERM_MAX_LEN + 4] = 200;
		emit("tcp_rx", "term-bad-plen", &b);
	}
	free(b.b);
}

/* ---- fuzz_connect --------------------------------------------------------------------------------- */

static void connect_rec(struct buf *b, uint8_t flags, uint16_t qid, uint16_t sqsize, uint32_t kato,
			uint8_t sub, uint8_t host, uint8_t cmode, uint16_t recfmt)
{
	struct nvmft_connect_cmd c = { .opcode = NVMFT_OPC_FABRICS, .fctype = NVMFT_FCTYPE_CONNECT };

	c.qid = htole16(qid);
	c.sqsize = htole16(sqsize);
	c.kato = htole32(kato);
	c.recfmt = htole16(recfmt);
	put8(b, flags | 8);
	put(b, &c, sizeof(c));
	put8(b, sub);
	put8(b, host);
	put8(b, cmode);
	put16(b, 0);
	put8(b, 0); /* no patches */
}

static void gen_connect(void)
{
	struct buf b = { 0 };

	connect_rec(&b, 0x14, 0, 31, 0, 0, 0, 0, 0);
	emit("connect", "admin", &b);
	connect_rec(&b, 0x14, 0, 31, 10000, 0, 0, 0, 0);
	connect_rec(&b, 0x04, 1, 63, 0, 0, 0, 1, 0);
	connect_rec(&b, 0x04, 2, 15, 0, 0, 0, 1, 0);
	connect_rec(&b, 0x04, 3, 15, 0, 0, 0, 1, 0);
	emit("connect", "admin-then-io", &b);
	connect_rec(&b, 0x04, 0, 31, 0, 0, 0, 0, 0);
	connect_rec(&b, 0x04, 1, 63, 0, 0, 0, 1, 0);
	emit("connect", "io-before-enable", &b);
	connect_rec(&b, 0x14, 0, 31, 0, 2, 0, 0, 0);
	emit("connect", "discovery", &b);
	connect_rec(&b, 0x14, 0, 31, 0, 1, 1, 0, 0);
	connect_rec(&b, 0x14, 0, 31, 0, 1, 0, 0, 0);
	emit("connect", "closed-subsystem", &b);
	connect_rec(&b, 0x14, 0, 31, 0, 0, 0, 0, 0);
	connect_rec(&b, 0x14 | 1, 0, 31, 0, 0, 0, 0, 0);
	connect_rec(&b, 0x24, 1, 31, 0, 0, 0, 0x81, 0);
	emit("connect", "reconnect-and-close", &b);
	connect_rec(&b, 0x04, 0, 31, 0, 0, 0, 0, 1);
	connect_rec(&b, 0x44, 0, 31, 0, 0, 0, 0, 0);
	connect_rec(&b, 0xc4, 0, 31, 0, 0, 0, 0, 0);
	connect_rec(&b, 0x04, 0, 0, 0, 0, 0, 0, 0);
	connect_rec(&b, 0x04, 0, 4095, 0, 3, 2, 2, 0);
	emit("connect", "invalid-fields", &b);
	{
		/* Raw data: a well-formed structure the fuzzer mutates byte by byte. */
		struct nvmft_connect_cmd c = { .opcode = NVMFT_OPC_FABRICS,
					       .fctype = NVMFT_FCTYPE_CONNECT };
		struct nvmf_connect_data d;

		c.sqsize = htole16(31);
		memset(&d, 0, sizeof(d));
		memcpy(d.hostid, LT_HOSTID, 16);
		d.cntlid = htole16(0xffff);
		strlcpy(d.subsysnqn, FZ_SUBNQN, sizeof(d.subsysnqn));
		strlcpy(d.hostnqn, FZ_HOSTNQN, sizeof(d.hostnqn));
		put8(&b, 0x10);
		put(&b, &c, sizeof(c));
		put(&b, &d, sizeof(d));
		emit("connect", "raw-admin", &b);
		/* Not a Connect at all, on a fresh queue pair. */
		c.fctype = NVMFT_FCTYPE_PROPERTY_GET;
		put8(&b, 0x40);
		put(&b, &c, sizeof(c));
		put(&b, &d, sizeof(d));
		c.opcode = 0x06;
		put8(&b, 0x41);
		put(&b, &c, sizeof(c));
		put(&b, &d, sizeof(d));
		emit("connect", "not-connect", &b);
	}
	free(b.b);
}

/* ---- fuzz_admin ----------------------------------------------------------------------------------- */

static void admin_rec(struct buf *b, uint8_t flags, struct nvmft_cmd c, uint16_t len,
		      const void *data)
{
	put8(b, flags);
	put(b, &c, sizeof(c));
	put16(b, len);
	if (data != NULL)
		put(b, data, len);
}

static void gen_admin(void)
{
	static const uint8_t lids[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x70, 0xc0 };
	static const uint8_t fids[] = { 0x01, 0x02, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
					0x0a, 0x0b, 0x0f, 0x16, 0x81, 0x7e };
	struct buf b = { 0 };
	uint8_t zero[4096] = { 0 };
	char name[64];

	/* Identify: every CNS a host asks for; auto length, NSID kept. */
	put8(&b, 0);
	for (uint32_t cns = 0; cns < 0x20; cns++)
		admin_rec(&b, 0x40 | 2, admin_cmd(0x06, 0, cns == 0 || cns == 3 ? 1 : 0, cns,
						 cns == 5 || cns == 6 ? 0 : 0), 0, NULL);
	emit("admin", "identify", &b);

	put8(&b, 0);
	for (size_t i = 0; i < sizeof(lids); i++) {
		admin_rec(&b, 0x40 | 2, admin_cmd(0x02, 0, 0xffffffffu, lids[i] | (127u << 16), 0),
			  0, NULL);
		admin_rec(&b, 0x40 | 2, admin_cmd(0x02, 0, 0, lids[i] | (1u << 15) | (3u << 16), 0),
			  0, NULL);
	}
	emit("admin", "get-log-page", &b);

	put8(&b, 0);
	for (size_t i = 0; i < sizeof(fids); i++) {
		admin_rec(&b, 0x40, admin_cmd(0x0a, 0, 0, fids[i], 0), 0, NULL);
		admin_rec(&b, 0x40 | (3 << 3), admin_cmd(0x0a, 0, 0, fids[i] | 3u << 8, 0), 0, NULL);
		admin_rec(&b, 0x40, admin_cmd(0x09, 0, 0, fids[i], 0x00010001), 0, NULL);
	}
	admin_rec(&b, 0x40 | (2 << 3), admin_cmd(0x09, 0, 0, 0x16, 0), 512, zero);
	admin_rec(&b, 0x40 | (1 << 3), admin_cmd(0x09, 0, 0, 0x81, 1), 16, zero);
	emit("admin", "features", &b);

	put8(&b, 2);
	admin_rec(&b, 0x40, admin_cmd(0x0c, 0, 0, 0, 0), 0, NULL);
	admin_rec(&b, 0x40, admin_cmd(0x0c, 0, 0, 0, 0), 0, NULL);
	admin_rec(&b, 0x40, admin_cmd(0x18, 0, 0, 0, 0), 0, NULL);
	admin_rec(&b, 0x40, admin_cmd(0x08, 0, 0, 5, 0), 0, NULL);
	admin_rec(&b, 0x40, prop_cmd(NVMFT_FCTYPE_PROPERTY_GET, 0, NVME_REG_CAP, 0, 1), 0, NULL);
	admin_rec(&b, 0x40, prop_cmd(NVMFT_FCTYPE_PROPERTY_GET, 0, NVME_REG_VS, 0, 0), 0, NULL);
	admin_rec(&b, 0x40, prop_cmd(NVMFT_FCTYPE_PROPERTY_SET, 0, NVME_REG_CC, 0, 0), 0, NULL);
	admin_rec(&b, 0x40 | 2, admin_cmd(0x06, 0, 0, 1, 0), 0, NULL);
	admin_rec(&b, 0x40, prop_cmd(NVMFT_FCTYPE_PROPERTY_SET, 0, NVME_REG_CC,
				     1u | 6u << 16 | 4u << 20, 0), 0, NULL);
	admin_rec(&b, 0x40, prop_cmd(NVMFT_FCTYPE_PROPERTY_SET, 0, NVME_REG_CC,
				     1u | 6u << 16 | 4u << 20 | 2u << 14, 0), 0, NULL);
	admin_rec(&b, 0x40, prop_cmd(NVMFT_FCTYPE_DISCONNECT, 0, 0, 0, 0), 0, NULL);
	admin_rec(&b, 0x40, admin_cmd(0x18, 0, 0, 0, 0), 0, NULL);
	emit("admin", "aer-props-reset-disconnect", &b);

	put8(&b, 1);
	admin_rec(&b, 0x40 | 2, admin_cmd(0x06, 0, 0, 1, 0), 0, NULL);
	admin_rec(&b, 0x40 | 2, admin_cmd(0x02, 0, 0, 0x70 | (255u << 16), 0), 0, NULL);
	admin_rec(&b, 0x40 | 2, admin_cmd(0x02, 0, 0, 0x70 | (1u << 8) | (1023u << 16), 0), 0,
		  NULL);
	admin_rec(&b, 0x40 | 2, admin_cmd(0x02, 0, 0, 0x01 | (15u << 16), 0), 0, NULL);
	admin_rec(&b, 0x40, admin_cmd(0x0a, 0, 0, 0x0b, 0), 0, NULL);
	admin_rec(&b, 0x40, admin_cmd(0x09, 0, 0, 0x0f, 5000), 0, NULL);
	admin_rec(&b, 0x40, admin_cmd(0x0c, 0, 0, 0, 0), 0, NULL);
	admin_rec(&b, 0x40, admin_cmd(0x80, 0, 0, 0, 0), 0, NULL);
	emit("admin", "discovery", &b);

	/* Every opcode of the table once, lengths from the records. */
	for (int v = 0; v < 4; v++) {
		put8(&b, (uint8_t)v);
		for (uint8_t i = 0; i < 23; i++) {
			struct nvmft_cmd c = admin_cmd(i, 0, 1, (uint32_t)i * 0x01010101u, i);

			admin_rec(&b, (uint8_t)(1 | 4 | (uint8_t)(((i + v) % 6) << 3)), c,
				  (uint16_t)(i * 100), NULL);
		}
		snprintf(name, sizeof(name), "opcode-table-%d", v);
		emit("admin", name, &b);
	}
	free(b.b);
}

/* ---- fuzz_io -------------------------------------------------------------------------------------- */

static void io_rec(struct buf *b, uint8_t kind, uint8_t mode, struct nvmft_cmd c, uint16_t len)
{
	put8(b, kind);
	put8(b, mode);
	put(b, &c, sizeof(c));
	put16(b, len);
}

static void gen_io(void)
{
	struct buf b = { 0 };
	char name[64];

	for (int caps = 0; caps < 2; caps++) {
		put8(&b, caps ? 0x7f : 0x00);
		put8(&b, (uint8_t)caps);
		/* Write, read back, compare (equal), overwrite, zeroes, deallocate, flush, on both namespaces. */
		for (uint8_t ns2 = 0; ns2 < 2; ns2++) {
			uint8_t n = (uint8_t)(ns2 << 3 | 0x20);

			io_rec(&b, 1 | n, 0, io_cmd(0, 0, 0, 10, 8), 0);
			io_rec(&b, 0 | n, 0, io_cmd(0, 0, 0, 10, 8), 0);
			io_rec(&b, 5 | n, 0, io_cmd(0, 0, 0, 10, 8), 0);
			io_rec(&b, 3 | n, 0x10, io_cmd(0, 0, 0, 12, 2), 0);
			io_rec(&b, 0 | n, 0, io_cmd(0, 0, 0, 10, 8), 0);
			io_rec(&b, 3 | n, 0x80, io_cmd(0, 0, 0, 200, 100), 0);
			io_rec(&b, 4 | n, 0, admin_cmd(0, 0, 0, 3, 4), 0);
			io_rec(&b, 2 | n, 0, io_cmd(0, 0, 0, 0, 1), 0);
			io_rec(&b, 0 | n | 0x80, 0, io_cmd(0, 0, 0, 0, 128), 0);
		}
		snprintf(name, sizeof(name), "sequential-caps%d", caps);
		emit("io", name, &b);

		/* Batches over both queues, overlapping writes. */
		put8(&b, caps ? 0x7f : 0x11);
		put8(&b, (uint8_t)caps);
		for (uint8_t i = 0; i < 40; i++)
			io_rec(&b, (uint8_t)((i % 6) | 0x20 | 0x40 | (i & 1 ? 0x80 : 0) | (i & 4 ? 8 : 0)),
			       0, io_cmd(0, 0, 0, i * 7u, 1 + i % 17), 0);
		io_rec(&b, 0 | 0x20, 0, io_cmd(0, 0, 0, 0, 64), 0);
		snprintf(name, sizeof(name), "batches-caps%d", caps);
		emit("io", name, &b);

		/* Fused pairs: matching, mismatching, batched, on either namespace. */
		put8(&b, caps ? 0x7f : 0x10);
		put8(&b, (uint8_t)caps);
		io_rec(&b, 1 | 0x20, 0, io_cmd(0, 0, 0, 40, 4), 0);
		io_rec(&b, 6 | 0x20, 0, io_cmd(0, 0, 0, 40, 4), 0);
		io_rec(&b, 6 | 0x20, 0x40, io_cmd(0, 0, 0, 40, 4), 0);
		io_rec(&b, 6 | 0x28 | 0x40, 0, io_cmd(0, 0, 0, 40, 4), 0);
		io_rec(&b, 0 | 0x20, 0, io_cmd(0, 0, 0, 40, 4), 0);
		{
			/* A lone first half, then another command on its queue. */
			struct nvmft_cmd c = io_cmd(0x05, 0, 1, 40, 4);

			c.flags = 1;
			io_rec(&b, 7 | 0x10 | 0x20, 0x08, c, 0);
			io_rec(&b, 0 | 0x20, 0, io_cmd(0, 0, 0, 40, 4), 0);
			io_rec(&b, 7 | 0x10 | 0x20 | 0x40, 0x08, c, 0);
		}
		snprintf(name, sizeof(name), "fused-caps%d", caps);
		emit("io", name, &b);

		/* Backend failures scripted on namespace 2. */
		put8(&b, caps ? 0x7f : 0x1f);
		put8(&b, (uint8_t)caps);
		for (uint8_t t = 0; t < 7; t++) {
			io_rec(&b, (uint8_t)(t % 6) | 0x28, 0x20, io_cmd(0, 0, 0, t * 9u, 3), 0);
			put8(&b, t);
			put8(&b, t);
			put8(&b, 2);
		}
		snprintf(name, sizeof(name), "backend-failures-caps%d", caps);
		emit("io", name, &b);

		/* Management racing the I/O: hold, pause, let go, remove and re-add namespace 2. */
		put8(&b, caps ? 0x7f : 0x00);
		put8(&b, (uint8_t)caps);
		{
			static const uint8_t steps[] = { 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0x90, 0xb0,
							 0xa0, 0xc0, 0x80, 0xb0, 0xc0 };

			for (size_t i = 0; i < sizeof(steps); i++) {
				io_rec(&b, (uint8_t)(1 | 0x28 | (i & 1 ? 0x80 : 0)), 0x20,
				       io_cmd(0, 0, 0, i * 16u, 8), 0);
				put8(&b, steps[i]);
				put8(&b, 0);
				put8(&b, 0);
				io_rec(&b, (uint8_t)(0 | 0x28), 0, io_cmd(0, 0, 0, i * 16u, 8), 0);
				io_rec(&b, (uint8_t)(1 | 0x20), 0, io_cmd(0, 0, 0, i * 16u, 8), 0);
			}
		}
		snprintf(name, sizeof(name), "management-caps%d", caps);
		emit("io", name, &b);

		/* Wrong lengths, out of range, raw opcodes and NSIDs. */
		put8(&b, 0);
		put8(&b, (uint8_t)caps);
		io_rec(&b, 1, 1, io_cmd(0, 0, 0, FZ_BLOCKS - 1, 2), 700);
		io_rec(&b, 0, 2, io_cmd(0, 0, 0, 0, 1), 3);
		io_rec(&b, 7 | 0x10, 0, io_cmd(0x7e, 0, 3, 0, 1), 0);
		io_rec(&b, 2 | 0x10, 0, io_cmd(0, 0, 0xffffffffu, 0, 1), 0);
		io_rec(&b, 3, 0x08, io_cmd(0, 0, 0, 0, 1), 0);
		io_rec(&b, 0, 0x08, io_cmd(0, 0, 0, 0, 0x10000), 0);
		io_rec(&b, 4, 1, admin_cmd(0, 0, 0, 255, 7), 100);
		snprintf(name, sizeof(name), "invalid-caps%d", caps);
		emit("io", name, &b);
	}
	free(b.b);
}

/* ---- fuzz_rdma ------------------------------------------------------------------------------------ */

/* Record opcodes of fuzz_rdma.c (low nibble; the high one names the host). */
enum {
	R_CONNECT = 0, R_CAPSULE = 1, R_HOLD = 2, R_RUN = 3, R_DELIVER = 4, R_FAIL_HELD = 5,
	R_RECV_ERR = 6, R_QP_ERR = 7, R_CM_EVENT = 8, R_POLL = 9, R_FAIL_VERB = 10, R_RAW = 11,
};
/* Capsule kinds. */
enum { K_CONNECT, K_PROP_SET, K_PROP_GET, K_ADMIN, K_WRITE, K_READ, K_RAW, K_FUSED };
/* Capsule flags. */
enum { CF_INCAPSULE = 4, CF_INVALIDATE = 8 };

/* An RDMA_CM_REQUEST from the template: QID, HSQSIZE as the target allows, HRQSIZE = HSQSIZE + 1. */
static void rdma_connect(struct buf *b, uint8_t qid, uint8_t ird, uint8_t ord)
{
	put8(b, R_CONNECT);
	put8(b, 2); /* template, ESTABLISHED after the accept, device 0 */
	put8(b, qid);
	put8(b, 0);
	put8(b, ird);
	put8(b, ord);
}

/* A capsule of @kind to @host, exactly as long as its data; @extra are the kind's own bytes. */
static void rdma_capsule(struct buf *b, uint8_t host, uint8_t kind, uint8_t flags, uint8_t slot,
			 const uint8_t *extra, size_t nextra)
{
	put8(b, (uint8_t)(R_CAPSULE | host << 4));
	put8(b, kind);
	put8(b, flags);
	put8(b, slot);
	put(b, extra, nextra);
	put8(b, 0); /* no patches */
	put8(b, 0); /* exact length */
}

static void rdma_rw(struct buf *b, uint8_t host, uint8_t kind, uint8_t flags, uint8_t slot, uint16_t slba,
		    uint8_t nlb0)
{
	uint8_t x[3] = { (uint8_t)slba, (uint8_t)(slba >> 8), nlb0 };

	rdma_capsule(b, host, kind, flags, slot, x, sizeof(x));
}

/* Host 0: admin queue up (Connect data by RDMA READ, as Linux sends it), CC.EN, CSTS. */
static void rdma_admin_up(struct buf *b)
{
	static const uint8_t sel_subsys[] = { 0 };

	rdma_connect(b, 0, 16, 16);
	rdma_capsule(b, 0, K_CONNECT, 0, 0, sel_subsys, 1);
	rdma_capsule(b, 0, K_PROP_SET, 0, 0, NULL, 0);
	put8(b, R_POLL);
	put8(b, 4);
	rdma_capsule(b, 0, K_PROP_GET, 0, 0, NULL, 0);
}

/* Host @host: I/O queue @qid of host 0's controller, Connect data in the capsule. */
static void rdma_io_up(struct buf *b, uint8_t host, uint8_t qid)
{
	static const uint8_t sel_subsys[] = { 0 };

	rdma_connect(b, qid, 16, 16);
	rdma_capsule(b, host, K_CONNECT, CF_INCAPSULE, 1, sel_subsys, 1);
}

static void gen_rdma(void)
{
	struct buf b = { 0 };

	/* The admin queue, every admin command of the harness, an AER left parked. */
	put8(&b, 0x02); /* 4 KiB in-capsule, SRQ of 64 */
	put8(&b, 0x00);
	rdma_admin_up(&b);
	for (uint8_t which = 0; which < 6; which++)
		rdma_capsule(&b, 0, K_ADMIN, which == 1 ? 0x10 : 0, 2, &which, 1);
	emit("rdma", "admin", &b);

	/* Admin and an I/O queue: in-capsule and keyed writes, reads with and without invalidation, fused. */
	for (int v = 0; v < 4; v++) {
		static const char *const names[] = { "io", "io-nosrq-2pg", "io-sge1-norinv", "io-2dev-smallpool" };
		static const uint8_t c0[] = { 0x02, 0x46, 0x01, 0x33 };
		static const uint8_t c1[] = { 0x00, 0x00, 0x45, 0x16 };

		put8(&b, c0[v]);
		put8(&b, c1[v]);
		rdma_admin_up(&b);
		rdma_io_up(&b, 1, 1);
		rdma_rw(&b, 1, K_WRITE, CF_INCAPSULE, 3, 0, 7);
		rdma_rw(&b, 1, K_WRITE, 0, 4, 8, 31);
		rdma_rw(&b, 1, K_READ, CF_INVALIDATE, 5, 0, 15);
		rdma_rw(&b, 1, K_READ, 0, 6, 8, 31);
		rdma_rw(&b, 1, K_FUSED, 0, 7, 0, 3);
		emit("rdma", names[v], &b);
	}

	/*
	 * Late acknowledgements: completions of the target's SENDs held back
	 * while the host, which saw the responses, fills its queue (8 entries)
	 * again, as a host may on a fabric that acknowledges late.
	 */
	put8(&b, 0x82); /* I/O queues of 8 entries */
	put8(&b, 0x00);
	rdma_admin_up(&b);
	rdma_io_up(&b, 1, 1);
	put8(&b, R_HOLD | 2 << 4); /* hold back completions */
	for (int round = 0; round < 2; round++) {
		for (uint8_t i = 0; i < 8; i++)
			rdma_rw(&b, 1, K_READ, 0, i, (uint16_t)(i * 8), 0);
		put8(&b, R_POLL);
		put8(&b, 2);
	}
	put8(&b, R_DELIVER | 1 << 4);
	put8(&b, 0);
	emit("rdma", "late-ack", &b);

	/* Work requests held, then failed, flushed, received in error; CM events; failing verbs. */
	put8(&b, 0x02);
	put8(&b, 0x10); /* one RDMA READ at a time */
	rdma_admin_up(&b);
	rdma_io_up(&b, 1, 1);
	put8(&b, R_HOLD | 1 << 4);
	rdma_rw(&b, 1, K_WRITE, 0, 3, 0, 7);
	rdma_rw(&b, 1, K_WRITE, 0, 4, 8, 7);
	rdma_rw(&b, 1, K_READ, CF_INVALIDATE, 5, 0, 7);
	put8(&b, R_RUN | 1 << 4);
	put8(&b, 1);
	put8(&b, R_FAIL_HELD | 1 << 4);
	put8(&b, 1); /* remote access error */
	put8(&b, R_HOLD);
	rdma_io_up(&b, 2, 2);
	put8(&b, R_RECV_ERR | 2 << 4);
	put8(&b, 3);
	rdma_io_up(&b, 3, 3);
	put8(&b, R_CM_EVENT | 3 << 4);
	put8(&b, 2); /* device removal */
	put8(&b, R_FAIL_VERB);
	put8(&b, 0); /* create_qp */
	put8(&b, 0);
	rdma_io_up(&b, 4, 1);
	put8(&b, R_QP_ERR);
	emit("rdma", "errors", &b);

	/* Connection requests the target must refuse, each for its own reason. */
	put8(&b, 0x02);
	put8(&b, 0x00);
	{
		static const uint8_t reqs[][18] = {
			/* mode, len, bytes...: raw private data, 16 bytes */
			{ 1, 16, 0, 0, 0, 0, 32, 0, 31, 0 },
			/* template: RECFMT 1 */
			{ 0, 0, 0x10, 1, 0 },
			/* QID 7 (raw), HSQSIZE 0, HRQSIZE too small, HSQSIZE too big */
			{ 0, 4, 0x00, 7, 0 },
			{ 0, 1, 0x01 },
			{ 0, 1, 0x04 },
			{ 0, 1, 0x03 },
		};
		static const size_t lens[] = { 18, 5, 5, 3, 3, 3 };

		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			put8(&b, R_CONNECT);
			put(&b, reqs[i], lens[i]);
			put8(&b, 16);
			put8(&b, 16);
		}
		/* No RDMA READ allowed by the host; a device the target does not have. */
		put8(&b, R_CONNECT);
		put8(&b, 0);
		put8(&b, 1);
		put8(&b, 0);
		put8(&b, 0);
		put8(&b, 16);
		put8(&b, R_CONNECT);
		put8(&b, 0x40);
		put8(&b, 1);
		put8(&b, 0);
		put8(&b, 16);
		put8(&b, 16);
	}
	emit("rdma", "cm-reject", &b);

	/* Capsules the target must refuse: SGLs, lengths, a stray second half, raw bytes. */
	put8(&b, 0x01); /* 512 bytes in-capsule */
	put8(&b, 0x00);
	rdma_admin_up(&b);
	rdma_io_up(&b, 1, 1);
	{
		static const uint8_t sgl_types[] = { 0x41, 0x43, 0x20, 0x30, 0x01, 0x50, 0x10, 0x4f };

		for (size_t i = 0; i < sizeof(sgl_types); i++) {
			put8(&b, R_CAPSULE | 1 << 4);
			put8(&b, K_READ);
			put8(&b, 0);
			put8(&b, 1);
			put16(&b, 0);
			put8(&b, 0);
			put8(&b, 1);         /* one patch */
			put8(&b, 24 + 15);   /* SGL1 type */
			put8(&b, sgl_types[i]);
			put8(&b, 0);
		}
	}
	/* A write with in-capsule data and a keyed SGL; one whose capsule is cut short; one too long. */
	put8(&b, R_CAPSULE | 1 << 4);
	put8(&b, K_WRITE | 0x08 | 0x20); /* FUSE = 10b: a second half with no first */
	put8(&b, 0);
	put8(&b, 1);
	put16(&b, 0);
	put8(&b, 0);
	put8(&b, 0);
	put8(&b, 2 | 4 << 2); /* 64 bytes of nothing after it */
	put8(&b, R_CAPSULE | 1 << 4);
	put8(&b, K_WRITE);
	put8(&b, CF_INCAPSULE);
	put8(&b, 1);
	put16(&b, 0);
	put8(&b, 0);
	put8(&b, 0);
	put8(&b, 1 | 40 << 2); /* 40 bytes: shorter than a command */
	rdma_admin_up(&b);
	put8(&b, R_RAW);
	put16(&b, 600);
	for (int i = 0; i < 600; i++)
		put8(&b, (uint8_t)(i * 7));
	emit("rdma", "bad-capsules", &b);
	free(b.b);
}

/* ---- fuzz_vfio_user ------------------------------------------------------------------------------- */

/* Record opcodes of fuzz_vfio_user.c, and its set-up bits. */
enum {
	V_MSG = 0, V_VERSION = 1, V_MAP = 2, V_UNMAP = 3, V_READ = 4, V_WRITE = 5, V_IRQS = 6, V_MISC = 7,
	V_ADMIN = 8, V_IO = 9, V_GUEST = 10, V_DOORBELL = 11, V_REG = 12, V_REAP = 13, V_POLL = 14, V_BYTES = 15,
};
enum { VS_UP = 1, VS_IOQ = 2, VS_TRAP = 4, VS_DBBUF = 8, VS_MSIX = 16, VS_ONEFD = 32 };
/* Data pointer modes. */
enum { VP_PAGE, VP_ODD, VP_LIST, VP_SGL, VP_SGL_SEG, VP_OUTSIDE, VP_RAW, VP_READONLY };

static void vfu_io(struct buf *b, uint8_t kind, uint8_t nlb0, uint16_t slba, uint8_t ptr)
{
	put8(b, V_IO);
	put8(b, kind);
	put8(b, nlb0);
	put16(b, slba);
	put8(b, ptr);
}

static void vfu_admin(struct buf *b, uint8_t opc, uint32_t nsid, uint32_t cdw10, uint32_t cdw11, uint8_t ptr)
{
	struct nvmft_cmd c = admin_cmd(opc, 0, nsid, cdw10, cdw11);

	put8(b, V_ADMIN);
	put(b, &c, sizeof(c));
	put8(b, ptr);
}

static void vfu_msg(struct buf *b, uint16_t cmd, uint8_t flags, const void *p, uint16_t len, uint8_t fds)
{
	put8(b, V_MSG);
	put16(b, cmd);
	put8(b, flags);
	put16(b, len);
	put(b, p, len);
	put8(b, fds);
}

static void gen_vfio_user(void)
{
	struct buf b = { 0 };

	/* The usual set-up, nothing else. */
	put8(&b, VS_UP);
	emit("vfio_user", "setup", &b);

	/* I/O through every kind of data pointer, then completions reaped. */
	for (int v = 0; v < 2; v++) {
		put8(&b, (uint8_t)(VS_UP | VS_IOQ | (v ? VS_TRAP | VS_DBBUF | VS_MSIX : 0)));
		vfu_admin(&b, nvme_admin_identify, 0, NVME_IDENTIFY_CNS_CTRL, 0, VP_PAGE | 2 << 3);
		vfu_admin(&b, nvme_admin_identify, 0, NVME_IDENTIFY_CNS_CTRL, 0, VP_OUTSIDE);
		vfu_admin(&b, nvme_admin_async_event, 0, 0, 0, VP_RAW);
		vfu_io(&b, 1, 7, 0, VP_PAGE | 4 << 3);          /* write 4 KiB */
		vfu_io(&b, 0, 7, 0, VP_PAGE | 8 << 3);          /* read it back */
		vfu_io(&b, 1, 15, 16, VP_PAGE | 12 << 3);       /* 8 KiB: PRP1 and PRP2 */
		vfu_io(&b, 0x80 | 1, 15, 8, VP_SGL | 20 << 3);  /* namespace 2, one SGL data block */
		vfu_io(&b, 0, 3, 0, VP_OUTSIDE);
		vfu_io(&b, 1, 3, 0, VP_ODD | 6 << 3);
		put16(&b, 0x200);
		/* A PRP list of two entries, then an SGL segment of two data blocks. */
		vfu_io(&b, 0, 15, 0, VP_LIST | 3 << 3);
		put16(&b, 30 * 4096 / 8);
		put8(&b, 2);
		put16(&b, (4 * 4096) / 16);
		put16(&b, (5 * 4096) / 16);
		vfu_io(&b, 1, 7, 0, VP_SGL_SEG | 1 << 3);
		put16(&b, 31 * 4096 / 16);
		put8(&b, 1); /* two descriptors */
		for (int i = 0; i < 2; i++) {
			struct nvmft_sgl_desc d = { 0 };

			d.addr = htole64((uint64_t)(10 + i) * 4096);
			d.unkeyed.length = htole32(2048);
			put(&b, &d, sizeof(d));
		}
		vfu_io(&b, 2, 0, 0, VP_RAW);                    /* flush */
		vfu_io(&b, 5, 1, 0, VP_PAGE | 9 << 3);          /* DSM */
		put8(&b, V_REAP);
		put8(&b, V_POLL);
		put8(&b, 8);
		put8(&b, V_REAP);
		emit("vfio_user", v ? "io-trap-dbbuf-msix" : "io", &b);
	}

	/* Every informational command, interrupts, region accesses, maps and unmaps, a reset. */
	put8(&b, VS_UP);
	for (uint8_t i = 0; i < 10; i++) {
		put8(&b, V_MISC);
		put8(&b, (uint8_t)(2 | i << 2));
		put8(&b, i & 1 ? 1 : 16);
	}
	put8(&b, V_MISC);
	put8(&b, 1);
	put8(&b, 1);
	put8(&b, V_MISC);
	put8(&b, 3);
	put8(&b, 2);
	put8(&b, V_IRQS); /* MSI-X: four eventfds */
	put8(&b, 2);
	put8(&b, 2);
	put8(&b, 0);
	put8(&b, 4);
	put8(&b, 4);
	put8(&b, V_IRQS); /* INTx: trigger */
	put8(&b, 0);
	put8(&b, 0);
	put8(&b, 0);
	put8(&b, 1);
	put8(&b, 0);
	put8(&b, V_READ); /* config space, 256 bytes */
	put8(&b, 7);
	put16(&b, 0);
	put16(&b, 256);
	put8(&b, V_READ); /* CAP */
	put8(&b, 0);
	put16(&b, 0);
	put16(&b, 8);
	put8(&b, V_READ); /* the MSI-X table */
	put8(&b, 4);
	put16(&b, 0);
	put16(&b, 16);
	put8(&b, V_WRITE); /* INTMS */
	put8(&b, 0);
	put16(&b, 0x0c);
	put8(&b, 4);
	put32(&b, 1);
	put8(&b, V_MAP); /* memfd 1, pages 0-3, right after guest memory */
	put8(&b, 1);
	put8(&b, 0);
	put8(&b, 4);
	put8(&b, 0);
	put8(&b, 3);
	put8(&b, V_MAP); /* one read-only page, low */
	put8(&b, 3);
	put8(&b, 4);
	put8(&b, 1);
	put8(&b, 1 | 16 << 2);
	put8(&b, 1);
	put8(&b, V_UNMAP);
	put8(&b, 0);
	put8(&b, V_MISC); /* device reset */
	put8(&b, 0);
	put8(&b, 0);
	put8(&b, V_UNMAP); /* everything */
	put8(&b, 1);
	emit("vfio_user", "messages", &b);

	/* Before VERSION: anything else ends the connection; VERSION variants. */
	put8(&b, 0);
	vfu_msg(&b, 4, 0, "\x10\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16, 0);
	emit("vfio_user", "no-version", &b);
	for (uint8_t v = 0; v < 5; v++) {
		put8(&b, 0);
		put8(&b, V_VERSION);
		put8(&b, v);
		put8(&b, V_VERSION);
		put8(&b, 0);
		put8(&b, V_MISC);
		put8(&b, 1);
		put8(&b, 1);
		emit("vfio_user", v == 0 ? "version" : v == 1 ? "version-empty" : v == 2 ? "version-float"
			   : v == 3 ? "version-migration" : "version-array", &b);
	}

	/* Resets under I/O that namespace 2 holds; CC disabled and enabled; FLR; unmap with DMA in flight. */
	put8(&b, VS_UP | VS_IOQ);
	put8(&b, V_POLL);
	put8(&b, 0x80); /* namespace 2 holds completions */
	vfu_io(&b, 0x80 | 1, 7, 0, VP_PAGE | 4 << 3);
	vfu_io(&b, 0x80 | 0, 7, 0, VP_PAGE | 6 << 3);
	put8(&b, V_UNMAP); /* guest memory: the reply waits for the I/O */
	put8(&b, 2);
	put8(&b, V_POLL);
	put8(&b, 0x20 | 4); /* let them go */
	put8(&b, V_MAP); /* its first 16 pages back (the queues) */
	put8(&b, 0);
	put8(&b, 0);
	put8(&b, 16);
	put8(&b, 2);
	put8(&b, 3);
	put8(&b, V_REAP);
	put8(&b, V_POLL);
	put8(&b, 0x80);
	vfu_io(&b, 0x80 | 1, 7, 0, VP_PAGE | 4 << 3);
	put8(&b, V_REG); /* CC.EN = 0 while it is held */
	put8(&b, 1);
	put32(&b, 0);
	put8(&b, V_POLL);
	put8(&b, 0x40 | 0x80 | 0x20 | 8);
	put8(&b, V_REG); /* CC.EN = 1 again */
	put8(&b, 1 | 8);
	put32(&b, 0);
	put8(&b, V_REG); /* FLR */
	put8(&b, 0x80 | 2);
	put32(&b, 0x8000);
	put8(&b, V_MISC);
	put8(&b, 0);
	put8(&b, 0);
	emit("vfio_user", "resets", &b);

	/* Doorbells out of range, guest memory scribbled over the admin queue, garbage on the socket. */
	put8(&b, VS_UP | VS_IOQ);
	put8(&b, V_DOORBELL);
	put8(&b, 2);
	put16(&b, 200);
	put8(&b, V_DOORBELL);
	put8(&b, 9);
	put16(&b, 1);
	put8(&b, V_GUEST);
	put16(&b, 0);
	put8(&b, 64);
	for (int i = 0; i < 64; i++)
		put8(&b, (uint8_t)(i * 37));
	put8(&b, V_DOORBELL);
	put8(&b, 0);
	put16(&b, 1);
	put8(&b, V_POLL);
	put8(&b, 4);
	put8(&b, V_REAP);
	put8(&b, V_BYTES);
	put8(&b, 20);
	for (int i = 0; i < 20; i++)
		put8(&b, 0xff);
	emit("vfio_user", "garbage", &b);
	free(b.b);
}

/* ---- fuzz_discovery ------------------------------------------------------------------------------- */

static void disc_format(struct buf *b, uint64_t genctr, uint8_t nr, uint8_t nwin)
{
	put64(b, genctr);
	put8(b, nr);
	put32(b, 0x12345678u + nr);
	put8(b, (uint8_t)(nwin - 1));
	for (uint8_t w = 0; w < nwin; w++) {
		put8(b, w % 4);
		put64(b, (uint64_t)w * 1000);
		put16(b, (uint16_t)(w * 1500 + 1));
		put8(b, w);
	}
}

static void gen_discovery(void)
{
	struct buf b = { 0 };

	disc_format(&b, 1, 0, 1);
	put8(&b, 0);
	emit("discovery", "format-empty", &b);
	disc_format(&b, 99, 8, 8);
	put8(&b, 0);
	emit("discovery", "format-windows", &b);

	/* Targets: subsystems, hosts and listeners coming and going. */
	disc_format(&b, 5, 2, 2);
	put8(&b, 2);
	{
		static const uint8_t steps[][3] = {
			{ 0x00, 0, 0x71 }, { 0x10, 1, 0x12 }, { 0x20, 2, 0x35 }, { 0x84, 1, 1 },
			{ 0x32, 1, 2 },    { 0x03, 1, 0 },    { 0x15, 0, 0 },    { 0x27, 0, 1 },
			{ 0x36, 2, 1 },    { 0x01, 0, 0 },    { 0x07, 0, 2 },    { 0x24, 2, 2 },
			{ 0x17, 0, 0 },    { 0x00, 3, 0x7f }, { 0x31, 3, 0 },    { 0x08, 0, 0 },
		};

		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			put(&b, steps[i], 3);
			put16(&b, (uint16_t)(i * 300));
			put16(&b, (uint16_t)(i * 700 + 5));
		}
	}
	emit("discovery", "target-steps", &b);
	disc_format(&b, 0, 1, 1);
	put8(&b, 3);
	for (uint8_t s = 0; s < 5; s++) {
		uint8_t st[3] = { 0, s, 0x7f };

		put(&b, st, 3);
		put32(&b, 0);
	}
	emit("discovery", "target-full", &b);
	free(b.b);
}

/* ---- fuzz_nqn ------------------------------------------------------------------------------------- */

static void gen_nqn(void)
{
	static const struct {
		const char *name;
		uint8_t sel;
		const char *s;
	} seeds[] = {
		{ "uuid", 8, "nqn.2014-08.org.nvmexpress:uuid:a1b2c3d4-0000-1111-2222-333344445555" },
		{ "uuid-prefix", 2 | 8, "A1B2C3D4-0000-1111-2222-333344445555" },
		{ "uuid-short", 2 | 8, "a1b2c3d4-0000-1111-2222-33334444555" },
		{ "discovery", 3 | 8, "" },
		{ "domain", 1 | 8, "2024-01.io.nvmft:subsystem-1" },
		{ "domain-only", 1 | 8, "1999-12.com.example" },
		{ "utf8", 4 | 8, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" },
		{ "utf8-bad", 4 | 8, "\xed\xa0\x80\xc0\xaf" },
		{ "label-hyphen", 1 | 8, "2024-01.-io.nvmft" },
		{ "month-13", 1 | 8, "2024-13.io.nvmft" },
		{ "no-nul", 4, "abc" },
		{ "short-len", 4 | 16 | 64, "abcdef" },
		{ "empty-rest", 4 | 8, "" },
		{ "long-label", 1 | 8,
		  "2024-01.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b" },
	};
	struct buf b = { 0 };

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		put8(&b, seeds[i].sel);
		put(&b, seeds[i].s, strlen(seeds[i].s));
		emit("nqn", seeds[i].name, &b);
	}
	/* 223 and 224 bytes. */
	put8(&b, 1 | 8);
	put(&b, "2024-01.io.nvmft:", 17);
	for (int i = 4 + 17; i < 223; i++)
		put8(&b, 'x');
	emit("nqn", "max-len", &b);
	put8(&b, 1 | 8);
	put(&b, "2024-01.io.nvmft:", 17);
	for (int i = 4 + 17; i < 224; i++)
		put8(&b, 'x');
	emit("nqn", "too-long", &b);
	free(b.b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	if (mkdir(out_dir, 0755) < 0 && errno != EEXIST)
		die(out_dir);
	gen_tcp_stream();
	gen_tcp_rx();
	gen_connect();
	gen_admin();
	gen_io();
	gen_discovery();
	gen_nqn();
	gen_rdma();
	gen_vfio_user();
	printf("gen_corpus: %u seeds written under %s\n", written, out_dir);
	return 0;
}
