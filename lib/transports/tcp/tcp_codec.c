/* SPDX-License-Identifier: BSD-3-Clause */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "transports/tcp/tcp_codec.h"
#include "util/compiler.h"
#include "util/crc32c.h"

uint8_t nvmft_tcp_type_hlen(uint8_t type)
{
	switch (type) {
	case NVMFT_TCP_ICREQ:
		return NVMFT_TCP_ICREQ_LEN;
	case NVMFT_TCP_ICRESP:
		return NVMFT_TCP_ICRESP_LEN;
	case NVMFT_TCP_H2C_TERM:
	case NVMFT_TCP_C2H_TERM:
		return NVMFT_TCP_TERM_HLEN;
	case NVMFT_TCP_CMD:
		return NVMFT_TCP_CMD_HLEN;
	case NVMFT_TCP_RSP:
		return NVMFT_TCP_RSP_HLEN;
	case NVMFT_TCP_H2C_DATA:
	case NVMFT_TCP_C2H_DATA:
		return NVMFT_TCP_DATA_HLEN;
	case NVMFT_TCP_R2T:
		return NVMFT_TCP_R2T_HLEN;
	default:
		return 0;
	}
}

uint32_t nvmft_tcp_digest(const void *buf, size_t len)
{
	return htole32(nvmft_crc32c(0, buf, len));
}

static uint16_t tcp_fail(struct nvmft_tcp_err *err, uint16_t fes, uint32_t fei, bool silent)
{
	err->fes = fes;
	err->fei = fei;
	err->silent = silent;
	return fes;
}

static uint16_t tcp_bad_field(struct nvmft_tcp_err *err, uint32_t fei)
{
	return tcp_fail(err, NVMFT_TCP_FES_INVALID_HEADER_FIELD, fei, false);
}

static bool tcp_type_legal(enum nvmft_tcp_role role, uint8_t type)
{
	if (role == NVMFT_TCP_ROLE_CTRLR)
		return type == NVMFT_TCP_ICREQ || type == NVMFT_TCP_H2C_TERM ||
		       type == NVMFT_TCP_CMD || type == NVMFT_TCP_H2C_DATA;
	return type == NVMFT_TCP_ICRESP || type == NVMFT_TCP_C2H_TERM || type == NVMFT_TCP_RSP ||
	       type == NVMFT_TCP_C2H_DATA || type == NVMFT_TCP_R2T;
}

static bool tcp_type_is_term(uint8_t type)
{
	return type == NVMFT_TCP_H2C_TERM || type == NVMFT_TCP_C2H_TERM;
}

static bool tcp_type_is_ic(uint8_t type)
{
	return type == NVMFT_TCP_ICREQ || type == NVMFT_TCP_ICRESP;
}

/* Flag bits a PDU type may carry at all. */
static uint8_t tcp_type_flags(uint8_t type)
{
	switch (type) {
	case NVMFT_TCP_CMD:
		return NVMFT_TCP_F_HDGST | NVMFT_TCP_F_DDGST;
	case NVMFT_TCP_H2C_DATA:
		return NVMFT_TCP_F_HDGST | NVMFT_TCP_F_DDGST | NVMFT_TCP_F_DATA_LAST;
	case NVMFT_TCP_C2H_DATA:
		return NVMFT_TCP_F_HDGST | NVMFT_TCP_F_DDGST | NVMFT_TCP_F_DATA_LAST |
		       NVMFT_TCP_F_DATA_SUCCESS;
	case NVMFT_TCP_RSP:
	case NVMFT_TCP_R2T:
		return NVMFT_TCP_F_HDGST;
	default:
		return 0;
	}
}

static uint32_t tcp_hdgst_len(const struct nvmft_tcp_params *p, uint8_t type)
{
	return p->hdgst && nvmft_tcp_type_has_digest(type) ? NVMFT_TCP_DIGEST_LEN : 0;
}

uint16_t nvmft_tcp_check_ch(enum nvmft_tcp_role role, const struct nvmft_tcp_params *p,
			    const struct nvmft_tcp_ch *ch, struct nvmft_tcp_err *err)
{
	uint8_t type = ch->type;
	bool term = tcp_type_is_term(type);

	if (!tcp_type_legal(role, type))
		return tcp_bad_field(err, NVMFT_TCP_FEI_TYPE);
	/* A TermReq may come at any time: the peer is giving up. */
	if (!term && p->ic_done == tcp_type_is_ic(type))
		return tcp_fail(err, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR, 0, false);
	/* Never answer a broken TermReq with another one: just close. */
	if (ch->hlen != nvmft_tcp_type_hlen(type))
		return tcp_fail(err, NVMFT_TCP_FES_INVALID_HEADER_FIELD, NVMFT_TCP_FEI_HLEN, term);
	if (ch->flags & ~tcp_type_flags(type))
		return tcp_fail(err, NVMFT_TCP_FES_INVALID_HEADER_FIELD, NVMFT_TCP_FEI_FLAGS, term);
	if (nvmft_tcp_type_has_digest(type)) {
		if (!(ch->flags & NVMFT_TCP_F_HDGST) != !p->hdgst)
			return tcp_bad_field(err, NVMFT_TCP_FEI_FLAGS);
		if ((ch->flags & NVMFT_TCP_F_DDGST) && !p->ddgst)
			return tcp_bad_field(err, NVMFT_TCP_FEI_FLAGS);
	}
	if ((ch->flags & NVMFT_TCP_F_DATA_SUCCESS) && !(ch->flags & NVMFT_TCP_F_DATA_LAST))
		return tcp_bad_field(err, NVMFT_TCP_FEI_FLAGS);
	return 0;
}

/* ICReq or ICResp: fixed size, no data, protocol version 1.0. */
static uint16_t tcp_check_ic(const struct nvmft_tcp_ch *ch, struct nvmft_tcp_err *err)
{
	const struct nvmft_tcp_icreq *ic = (const void *)ch;

	if (ch->pdo != 0)
		return tcp_bad_field(err, NVMFT_TCP_FEI_PDO);
	if (le32toh(ch->plen) != NVMFT_TCP_ICREQ_LEN)
		return tcp_bad_field(err, NVMFT_TCP_FEI_PLEN);
	if (le16toh(ic->pfv) != NVMFT_TCP_PFV_1_0)
		return tcp_fail(err, NVMFT_TCP_FES_UNSUPPORTED_PARAMETER, NVMFT_TCP_FEI_PFV, false);
	/* HPDA and CPDA share offset 10; 0..31 in both. */
	if (ic->hpda > NVMFT_TCP_MAX_HPDA)
		return tcp_bad_field(err, NVMFT_TCP_FEI_HPDA);
	if (ch->type == NVMFT_TCP_ICRESP) {
		const struct nvmft_tcp_icresp *r = (const void *)ch;
		uint32_t maxh2c = le32toh(r->maxh2cdata);

		if (maxh2c < NVMFT_TCP_MIN_MAXH2CDATA || maxh2c % 4 != 0)
			return tcp_bad_field(err, NVMFT_TCP_FEI_MAXH2CDATA);
	}
	return 0;
}

/*
 * CapsuleCmd, H2CData, C2HData: PDO says where data starts (0 when there
 * is none), aligned as the receiver asked; PLEN covers data and digest.
 */
static uint16_t tcp_check_data_pdu(enum nvmft_tcp_role role, const struct nvmft_tcp_params *p,
				   const struct nvmft_tcp_ch *ch, uint32_t *data_len,
				   struct nvmft_tcp_err *err)
{
	uint32_t hdr_total = ch->hlen + tcp_hdgst_len(p, ch->type);
	uint32_t align = ((role == NVMFT_TCP_ROLE_CTRLR ? p->cpda : p->hpda) + 1u) * 4u;
	uint32_t plen = le32toh(ch->plen);
	uint32_t ddgst_len;

	if (ch->pdo == 0) {
		if (ch->type != NVMFT_TCP_CMD)
			return tcp_bad_field(err, NVMFT_TCP_FEI_PDO);
		if (plen != hdr_total)
			return tcp_bad_field(err, NVMFT_TCP_FEI_PLEN);
		/* No data, so no data digest either. */
		if (ch->flags & NVMFT_TCP_F_DDGST)
			return tcp_bad_field(err, NVMFT_TCP_FEI_FLAGS);
		*data_len = 0;
		return 0;
	}
	if (ch->pdo < hdr_total || ch->pdo % align != 0 || ch->pdo > plen)
		return tcp_bad_field(err, NVMFT_TCP_FEI_PDO);
	if (!(ch->flags & NVMFT_TCP_F_DDGST) != !p->ddgst)
		return tcp_bad_field(err, NVMFT_TCP_FEI_FLAGS);
	ddgst_len = p->ddgst ? NVMFT_TCP_DIGEST_LEN : 0;
	if (plen - ch->pdo <= ddgst_len)
		return tcp_bad_field(err, NVMFT_TCP_FEI_PLEN);
	*data_len = plen - ch->pdo - ddgst_len;
	return 0;
}

uint16_t nvmft_tcp_check_hdr(enum nvmft_tcp_role role, const struct nvmft_tcp_params *p,
			     const void *hdr, uint32_t *data_len, struct nvmft_tcp_err *err)
{
	const struct nvmft_tcp_ch *ch = hdr;
	const struct nvmft_tcp_data *d = hdr;
	uint32_t plen = le32toh(ch->plen);
	uint32_t len = 0;
	uint16_t fes;

	switch (ch->type) {
	case NVMFT_TCP_H2C_TERM:
	case NVMFT_TCP_C2H_TERM:
		/* PDO is not used: the offending header follows at once. */
		if (plen < NVMFT_TCP_TERM_HLEN || plen > NVMFT_TCP_TERM_MAX_LEN)
			return tcp_fail(err, NVMFT_TCP_FES_INVALID_HEADER_FIELD, NVMFT_TCP_FEI_PLEN,
					true);
		len = plen - NVMFT_TCP_TERM_HLEN;
		break;
	case NVMFT_TCP_ICREQ:
	case NVMFT_TCP_ICRESP:
		fes = tcp_check_ic(ch, err);
		if (fes)
			return fes;
		break;
	case NVMFT_TCP_RSP:
	case NVMFT_TCP_R2T:
		if (ch->pdo != 0)
			return tcp_bad_field(err, NVMFT_TCP_FEI_PDO);
		if (plen != ch->hlen + tcp_hdgst_len(p, ch->type))
			return tcp_bad_field(err, NVMFT_TCP_FEI_PLEN);
		if (ch->type == NVMFT_TCP_R2T &&
		    ((const struct nvmft_tcp_r2t *)hdr)->r2tl == 0)
			return tcp_bad_field(err, NVMFT_TCP_FEI_DATAL);
		break;
	case NVMFT_TCP_CMD:
		fes = tcp_check_data_pdu(role, p, ch, &len, err);
		if (fes)
			return fes;
		if (len > p->icd_max)
			return tcp_fail(err, NVMFT_TCP_FES_R2T_LIMIT_EXCEEDED, 0, false);
		break;
	case NVMFT_TCP_H2C_DATA:
	case NVMFT_TCP_C2H_DATA:
		fes = tcp_check_data_pdu(role, p, ch, &len, err);
		if (fes)
			return fes;
		/*
		 * PLEN has passed every check against the common header and
		 * frames the PDU in the stream; a DATAL that disagrees with the
		 * data PLEN and PDO leave is the field in error.
		 */
		if (le32toh(d->datal) != len)
			return tcp_bad_field(err, NVMFT_TCP_FEI_DATAL);
		if (ch->type == NVMFT_TCP_H2C_DATA && len > p->maxh2cdata)
			return tcp_fail(err, NVMFT_TCP_FES_R2T_LIMIT_EXCEEDED, 0, false);
		break;
	default:
		return tcp_bad_field(err, NVMFT_TCP_FEI_TYPE);
	}
	*data_len = len;
	return 0;
}

uint16_t nvmft_tcp_validate(enum nvmft_tcp_role role, const struct nvmft_tcp_params *p,
			    const void *hdr, uint32_t *data_len, struct nvmft_tcp_err *err)
{
	uint16_t fes = nvmft_tcp_check_ch(role, p, hdr, err);

	return fes ? fes : nvmft_tcp_check_hdr(role, p, hdr, data_len, err);
}

uint16_t nvmft_tcp_check_h2c_window(const struct nvmft_tcp_data *h, uint32_t r2to, uint32_t r2tl,
				    uint32_t done, struct nvmft_tcp_err *err)
{
	uint64_t datao = le32toh(h->datao);
	uint64_t datal = le32toh(h->datal);

	if (datao < r2to || datao + datal > (uint64_t)r2to + r2tl)
		return tcp_fail(err, NVMFT_TCP_FES_DATA_OUT_OF_RANGE, 0, false);
	/* Inside the window but not where the previous PDU stopped. */
	if (datao != (uint64_t)r2to + done)
		return tcp_bad_field(err, NVMFT_TCP_FEI_DATAO);
	return 0;
}

/* ---- Negotiation ---------------------------------------------------------- */

void nvmft_tcp_icreq_accept(const struct nvmft_tcp_icreq *req,
			    const struct nvmft_tcp_ic_offer *offer, struct nvmft_tcp_params *p,
			    struct nvmft_tcp_icresp *resp)
{
	p->hpda = req->hpda;
	p->maxr2t = le32toh(req->maxr2t);
	p->hdgst = (req->dgst & NVMFT_TCP_DGST_HDR) && (offer->digests & NVMFT_TCP_DGST_HDR);
	p->ddgst = (req->dgst & NVMFT_TCP_DGST_DATA) && (offer->digests & NVMFT_TCP_DGST_DATA);
	p->cpda = offer->cpda;
	p->maxh2cdata = offer->maxh2cdata;
	p->ic_done = true;
	nvmft_tcp_enc_icresp(resp, p);
}

void nvmft_tcp_icresp_accept(const struct nvmft_tcp_icresp *resp, struct nvmft_tcp_params *p)
{
	p->cpda = resp->cpda;
	p->hdgst = resp->dgst & NVMFT_TCP_DGST_HDR;
	p->ddgst = resp->dgst & NVMFT_TCP_DGST_DATA;
	p->maxh2cdata = le32toh(resp->maxh2cdata);
	p->ic_done = true;
}

/* ---- Encoders ------------------------------------------------------------- */

/*
 * Headers are built in an aligned scratch area and copied out, so callers
 * may encode anywhere (into a byte stream, at any offset).
 */
union tcp_hdr_area {
	uint64_t align;
	uint8_t b[NVMFT_TCP_HDR_AREA_MAX];
	struct nvmft_tcp_ch ch;
	struct nvmft_tcp_icreq icreq;
	struct nvmft_tcp_icresp icresp;
	struct nvmft_tcp_term term;
	struct nvmft_tcp_cmd cmd;
	struct nvmft_tcp_rsp rsp;
	struct nvmft_tcp_data data;
	struct nvmft_tcp_r2t r2t;
};

static void tcp_put_ch(struct nvmft_tcp_ch *ch, uint8_t type, uint8_t flags, uint8_t pdo,
		       uint32_t plen)
{
	ch->type = type;
	ch->flags = flags;
	ch->hlen = nvmft_tcp_type_hlen(type);
	ch->pdo = pdo;
	ch->plen = htole32(plen);
}

/*
 * Lay out a digest-capable PDU with @datal bytes of data aligned to
 * @align: zero the area and fill the common header.  Returns the bytes
 * before the data (header, digest, padding).
 */
static size_t tcp_layout(union tcp_hdr_area *h, const struct nvmft_tcp_params *p, uint8_t type,
			 uint8_t flags, uint32_t align, uint32_t datal)
{
	size_t hdr_total = nvmft_tcp_type_hlen(type) + tcp_hdgst_len(p, type);
	size_t pdo = 0, plen = hdr_total;

	memset(h, 0, sizeof(*h));
	if (p->hdgst)
		flags |= NVMFT_TCP_F_HDGST;
	if (datal > 0) {
		pdo = NVMFT_ALIGN_UP(hdr_total, align);
		plen = pdo + datal;
		if (p->ddgst) {
			flags |= NVMFT_TCP_F_DDGST;
			plen += NVMFT_TCP_DIGEST_LEN;
		}
	}
	tcp_put_ch(&h->ch, type, flags, (uint8_t)pdo, (uint32_t)plen);
	return pdo ? pdo : hdr_total;
}

/* Once the type-specific fields are in: header digest, then copy out. */
static size_t tcp_finish(void *buf, union tcp_hdr_area *h, const struct nvmft_tcp_params *p,
			 size_t area)
{
	if (p->hdgst) {
		uint32_t dg = nvmft_tcp_digest(h->b, h->ch.hlen);

		memcpy(h->b + h->ch.hlen, &dg, sizeof(dg));
	}
	memcpy(buf, h->b, area);
	return area;
}

size_t nvmft_tcp_enc_icresp(void *buf, const struct nvmft_tcp_params *p)
{
	union tcp_hdr_area h;

	memset(&h, 0, sizeof(h));
	tcp_put_ch(&h.ch, NVMFT_TCP_ICRESP, 0, 0, NVMFT_TCP_ICRESP_LEN);
	h.icresp.pfv = htole16(NVMFT_TCP_PFV_1_0);
	h.icresp.cpda = p->cpda;
	h.icresp.dgst = (p->hdgst ? NVMFT_TCP_DGST_HDR : 0) | (p->ddgst ? NVMFT_TCP_DGST_DATA : 0);
	h.icresp.maxh2cdata = htole32(p->maxh2cdata);
	memcpy(buf, &h.icresp, sizeof(h.icresp));
	return sizeof(h.icresp);
}

size_t nvmft_tcp_enc_icreq(void *buf, uint8_t hpda, uint8_t dgst, uint32_t maxr2t)
{
	union tcp_hdr_area h;

	memset(&h, 0, sizeof(h));
	tcp_put_ch(&h.ch, NVMFT_TCP_ICREQ, 0, 0, NVMFT_TCP_ICREQ_LEN);
	h.icreq.pfv = htole16(NVMFT_TCP_PFV_1_0);
	h.icreq.hpda = hpda;
	h.icreq.dgst = dgst;
	h.icreq.maxr2t = htole32(maxr2t);
	memcpy(buf, &h.icreq, sizeof(h.icreq));
	return sizeof(h.icreq);
}

size_t nvmft_tcp_enc_rsp(void *buf, const struct nvmft_tcp_params *p, const struct nvmft_cpl *cpl)
{
	union tcp_hdr_area h;
	size_t area = tcp_layout(&h, p, NVMFT_TCP_RSP, 0, 4, 0);

	memcpy(&h.rsp.cpl, cpl, sizeof(h.rsp.cpl));
	return tcp_finish(buf, &h, p, area);
}

size_t nvmft_tcp_enc_c2h_data(void *buf, const struct nvmft_tcp_params *p, uint16_t cccid,
			      uint32_t datao, uint32_t datal, uint8_t flags)
{
	uint8_t f = flags & (NVMFT_TCP_F_DATA_LAST | NVMFT_TCP_F_DATA_SUCCESS);
	union tcp_hdr_area h;
	size_t area = tcp_layout(&h, p, NVMFT_TCP_C2H_DATA, f, (p->hpda + 1u) * 4u, datal);

	h.data.cccid = htole16(cccid);
	h.data.datao = htole32(datao);
	h.data.datal = htole32(datal);
	return tcp_finish(buf, &h, p, area);
}

size_t nvmft_tcp_enc_r2t(void *buf, const struct nvmft_tcp_params *p, uint16_t cccid,
			 uint16_t ttag, uint32_t r2to, uint32_t r2tl)
{
	union tcp_hdr_area h;
	size_t area = tcp_layout(&h, p, NVMFT_TCP_R2T, 0, 4, 0);

	h.r2t.cccid = htole16(cccid);
	h.r2t.ttag = htole16(ttag);
	h.r2t.r2to = htole32(r2to);
	h.r2t.r2tl = htole32(r2tl);
	return tcp_finish(buf, &h, p, area);
}

size_t nvmft_tcp_enc_cmd(void *buf, const struct nvmft_tcp_params *p, const struct nvmft_cmd *cmd,
			 uint32_t icd_len)
{
	union tcp_hdr_area h;
	size_t area = tcp_layout(&h, p, NVMFT_TCP_CMD, 0, (p->cpda + 1u) * 4u, icd_len);

	memcpy(&h.cmd.cmd, cmd, sizeof(h.cmd.cmd));
	return tcp_finish(buf, &h, p, area);
}

size_t nvmft_tcp_enc_h2c_data(void *buf, const struct nvmft_tcp_params *p, uint16_t cccid,
			      uint16_t ttag, uint32_t datao, uint32_t datal, bool last)
{
	union tcp_hdr_area h;
	size_t area = tcp_layout(&h, p, NVMFT_TCP_H2C_DATA, last ? NVMFT_TCP_F_DATA_LAST : 0,
				 (p->cpda + 1u) * 4u, datal);

	h.data.cccid = htole16(cccid);
	h.data.ttag = htole16(ttag);
	h.data.datao = htole32(datao);
	h.data.datal = htole32(datal);
	return tcp_finish(buf, &h, p, area);
}

size_t nvmft_tcp_enc_term(void *buf, uint8_t type, uint16_t fes, uint32_t fei,
			  const void *pdu_hdr, size_t hdr_len)
{
	size_t n = NVMFT_MIN(hdr_len, (size_t)NVMFT_TCP_TERM_MAX_DATA);
	union tcp_hdr_area h;

	memset(&h, 0, sizeof(h));
	tcp_put_ch(&h.ch, type, 0, 0, (uint32_t)(NVMFT_TCP_TERM_HLEN + n));
	h.term.fes = htole16(fes);
	h.term.fei = htole32(fei);
	/* memmove: the offending header may sit where the TermReq goes. */
	if (n > 0)
		memmove((uint8_t *)buf + NVMFT_TCP_TERM_HLEN, pdu_hdr, n);
	memcpy(buf, &h.term, NVMFT_TCP_TERM_HLEN);
	return NVMFT_TCP_TERM_HLEN + n;
}

/* ---- Receive state machine ------------------------------------------------ */

void nvmft_tcp_rx_init(struct nvmft_tcp_rx *rx, enum nvmft_tcp_role role,
		       const struct nvmft_tcp_params *p)
{
	memset(rx, 0, offsetof(struct nvmft_tcp_rx, hdr));
	rx->p = p;
	rx->role = (uint8_t)role;
	rx->phase = NVMFT_TCP_RX_PH_CH;
}

static enum nvmft_tcp_rx_event rx_fail(struct nvmft_tcp_rx *rx)
{
	rx->phase = NVMFT_TCP_RX_PH_FAILED;
	return NVMFT_TCP_RX_ERROR;
}

/* The PDU ended (no data, or data and digest consumed): expect the next one. */
static void rx_next_pdu(struct nvmft_tcp_rx *rx)
{
	rx->phase = NVMFT_TCP_RX_PH_CH;
	rx->got = 0;
}

static enum nvmft_tcp_rx_event rx_on_ch(struct nvmft_tcp_rx *rx)
{
	if (nvmft_tcp_check_ch(rx->role, rx->p, &rx->hdr.ch, &rx->err))
		return rx_fail(rx);
	rx->hdr_total = rx->hdr.ch.hlen + tcp_hdgst_len(rx->p, rx->hdr.ch.type);
	rx->phase = NVMFT_TCP_RX_PH_HDR;
	return NVMFT_TCP_RX_NEED_MORE;
}

static enum nvmft_tcp_rx_event rx_on_hdr(struct nvmft_tcp_rx *rx)
{
	const struct nvmft_tcp_ch *ch = &rx->hdr.ch;
	uint32_t data_len;

	if (rx->hdr_total > ch->hlen) {
		uint32_t want = nvmft_tcp_digest(rx->hdr.b, ch->hlen), have;

		memcpy(&have, rx->hdr.b + ch->hlen, sizeof(have));
		if (want != have) {
			tcp_fail(&rx->err, NVMFT_TCP_FES_HDGST_ERROR, le32toh(have), false);
			return rx_fail(rx);
		}
	}
	if (nvmft_tcp_check_hdr(rx->role, rx->p, rx->hdr.b, &data_len, &rx->err))
		return rx_fail(rx);

	rx->data_len = data_len;
	rx->data_got = 0;
	rx->dst = NULL;
	rx->dst_cnt = 0;
	rx->dst_idx = 0;
	rx->dst_off = 0;
	rx->crc = 0;
	rx->got = 0;
	rx->pdu_ddgst = data_len > 0 && (ch->flags & NVMFT_TCP_F_DDGST);
	if (data_len == 0) {
		rx_next_pdu(rx);
		return NVMFT_TCP_RX_HEADER;
	}
	rx->pad = tcp_type_is_term(ch->type) ? 0 : ch->pdo - rx->hdr_total;
	rx->phase = rx->pad ? NVMFT_TCP_RX_PH_PAD : NVMFT_TCP_RX_PH_DATA;
	return NVMFT_TCP_RX_HEADER;
}

static enum nvmft_tcp_rx_event rx_on_data_end(struct nvmft_tcp_rx *rx)
{
	if (rx->pdu_ddgst) {
		rx->phase = NVMFT_TCP_RX_PH_DDGST;
		rx->got = 0;
		return NVMFT_TCP_RX_NEED_MORE;
	}
	rx_next_pdu(rx);
	return NVMFT_TCP_RX_PDU_DONE;
}

static enum nvmft_tcp_rx_event rx_on_ddgst(struct nvmft_tcp_rx *rx)
{
	uint32_t have;

	memcpy(&have, rx->ddgst, sizeof(have));
	rx_next_pdu(rx);
	return htole32(rx->crc) == have ? NVMFT_TCP_RX_PDU_DONE : NVMFT_TCP_RX_DDGST_ERROR;
}

/* @n bytes of data landed at the current destination position: account for them. */
static void rx_data_landed(struct nvmft_tcp_rx *rx, size_t n)
{
	rx->data_got += (uint32_t)n;
	if (rx->dst == NULL) {
		if (rx->pdu_ddgst)
			rx->crc = nvmft_crc32c(rx->crc, rx->sink, n);
		return;
	}
	while (n > 0) {
		const struct iovec *v = &rx->dst[rx->dst_idx];
		size_t m = NVMFT_MIN(n, v->iov_len - rx->dst_off);

		if (rx->pdu_ddgst)
			rx->crc = nvmft_crc32c(rx->crc, (uint8_t *)v->iov_base + rx->dst_off, m);
		rx->dst_off += m;
		n -= m;
		if (rx->dst_off == v->iov_len) {
			rx->dst_idx++;
			rx->dst_off = 0;
		}
	}
}

size_t nvmft_tcp_rx_want(struct nvmft_tcp_rx *rx, struct iovec *iov, int max_iov, int *iovcnt)
{
	size_t total = 0, left;
	int n = 0;

	*iovcnt = 0;
	if (max_iov < 1)
		return 0;
	switch (rx->phase) {
	case NVMFT_TCP_RX_PH_CH:
		iov[0].iov_base = rx->hdr.b + rx->got;
		iov[0].iov_len = sizeof(struct nvmft_tcp_ch) - rx->got;
		break;
	case NVMFT_TCP_RX_PH_HDR:
		iov[0].iov_base = rx->hdr.b + rx->got;
		iov[0].iov_len = rx->hdr_total - rx->got;
		break;
	case NVMFT_TCP_RX_PH_PAD:
		iov[0].iov_base = rx->sink;
		iov[0].iov_len = rx->pad - rx->got;
		break;
	case NVMFT_TCP_RX_PH_DDGST:
		iov[0].iov_base = rx->ddgst + rx->got;
		iov[0].iov_len = NVMFT_TCP_DIGEST_LEN - rx->got;
		break;
	case NVMFT_TCP_RX_PH_DATA:
		left = rx->data_len - rx->data_got;
		if (rx->dst == NULL) {
			iov[0].iov_base = rx->sink;
			iov[0].iov_len = NVMFT_MIN(left, sizeof(rx->sink));
			total = iov[0].iov_len;
			left -= total;
			n = 1;
		} else {
			int idx = rx->dst_idx;
			size_t off = rx->dst_off;

			while (left > 0 && n < max_iov && idx < rx->dst_cnt) {
				size_t m = NVMFT_MIN(left, rx->dst[idx].iov_len - off);

				if (m > 0) {
					iov[n].iov_base = (uint8_t *)rx->dst[idx].iov_base + off;
					iov[n].iov_len = m;
					n++;
					total += m;
					left -= m;
				}
				idx++;
				off = 0;
			}
		}
		/* The data digest can ride along with the last piece of data. */
		if (left == 0 && rx->pdu_ddgst && n < max_iov) {
			iov[n].iov_base = rx->ddgst;
			iov[n].iov_len = NVMFT_TCP_DIGEST_LEN;
			total += NVMFT_TCP_DIGEST_LEN;
			n++;
		}
		*iovcnt = n;
		return total;
	default:
		return 0;
	}
	*iovcnt = 1;
	return iov[0].iov_len;
}

enum nvmft_tcp_rx_event nvmft_tcp_rx_advance(struct nvmft_tcp_rx *rx, size_t n)
{
	enum nvmft_tcp_rx_event ev = NVMFT_TCP_RX_NEED_MORE;

	while (n > 0 && ev == NVMFT_TCP_RX_NEED_MORE) {
		size_t k;

		switch (rx->phase) {
		case NVMFT_TCP_RX_PH_CH:
			k = NVMFT_MIN(n, sizeof(struct nvmft_tcp_ch) - rx->got);
			rx->got += (uint32_t)k;
			if (rx->got == sizeof(struct nvmft_tcp_ch))
				ev = rx_on_ch(rx);
			break;
		case NVMFT_TCP_RX_PH_HDR:
			k = NVMFT_MIN(n, rx->hdr_total - rx->got);
			rx->got += (uint32_t)k;
			if (rx->got == rx->hdr_total)
				ev = rx_on_hdr(rx);
			break;
		case NVMFT_TCP_RX_PH_PAD:
			k = NVMFT_MIN(n, rx->pad - rx->got);
			rx->got += (uint32_t)k;
			if (rx->got == rx->pad) {
				rx->got = 0;
				rx->phase = NVMFT_TCP_RX_PH_DATA;
			}
			break;
		case NVMFT_TCP_RX_PH_DATA:
			k = NVMFT_MIN(n, (size_t)(rx->data_len - rx->data_got));
			rx_data_landed(rx, k);
			if (rx->data_got == rx->data_len)
				ev = rx_on_data_end(rx);
			break;
		case NVMFT_TCP_RX_PH_DDGST:
			k = NVMFT_MIN(n, NVMFT_TCP_DIGEST_LEN - rx->got);
			rx->got += (uint32_t)k;
			if (rx->got == NVMFT_TCP_DIGEST_LEN)
				ev = rx_on_ddgst(rx);
			break;
		default:
			return NVMFT_TCP_RX_ERROR;
		}
		n -= k;
	}
	if (rx->phase == NVMFT_TCP_RX_PH_FAILED)
		return NVMFT_TCP_RX_ERROR;
	return ev;
}

enum nvmft_tcp_rx_event nvmft_tcp_rx_feed(struct nvmft_tcp_rx *rx, const void *buf, size_t len,
					  size_t *consumed)
{
	const uint8_t *src = buf;

	*consumed = 0;
	if (rx->phase == NVMFT_TCP_RX_PH_FAILED)
		return NVMFT_TCP_RX_ERROR;
	while (len > 0) {
		struct iovec iov[8];
		enum nvmft_tcp_rx_event ev;
		size_t copied = 0;
		int cnt;

		nvmft_tcp_rx_want(rx, iov, (int)NVMFT_ARRAY_SIZE(iov), &cnt);
		for (int i = 0; i < cnt && copied < len; i++) {
			size_t m = NVMFT_MIN(iov[i].iov_len, len - copied);

			memcpy(iov[i].iov_base, src + copied, m);
			copied += m;
		}
		ev = nvmft_tcp_rx_advance(rx, copied);
		src += copied;
		len -= copied;
		*consumed += copied;
		if (ev != NVMFT_TCP_RX_NEED_MORE)
			return ev;
	}
	return NVMFT_TCP_RX_NEED_MORE;
}

int nvmft_tcp_rx_set_data_dest(struct nvmft_tcp_rx *rx, const struct iovec *iov, int iovcnt,
			       size_t off)
{
	size_t total = 0;
	int idx = 0;

	if ((rx->phase != NVMFT_TCP_RX_PH_PAD && rx->phase != NVMFT_TCP_RX_PH_DATA) ||
	    rx->data_got != 0)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total < off || total - off < rx->data_len)
		return -EINVAL;
	while (idx < iovcnt && off >= iov[idx].iov_len) {
		off -= iov[idx].iov_len;
		idx++;
	}
	rx->dst = iov;
	rx->dst_cnt = iovcnt;
	rx->dst_idx = idx;
	rx->dst_off = off;
	return 0;
}

const void *nvmft_tcp_rx_err_hdr(const struct nvmft_tcp_rx *rx, size_t *len)
{
	/* The machine stops at the byte that made the header invalid. */
	*len = rx->got;
	return rx->hdr.b;
}
