/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/TCP wire codec: PDU validation, ICReq/ICResp negotiation, PDU
 * encoders and a receive state machine.  Pure functions over memory: no
 * sockets, no core objects, so the same code serves the transport, the
 * scripted-host tests and the fuzzer.
 *
 * Both directions are covered.  A controller receives ICReq, H2CTermReq,
 * CapsuleCmd and H2CData; a host receives ICResp, C2HTermReq, CapsuleResp,
 * C2HData and R2T.  The role given to the receive machine selects which
 * PDUs are legal; the library itself only runs the controller role, the
 * host role exists for tests that play the host.
 *
 * Errors are reported as the Fatal Error Status (FES) and Fatal Error
 * Information (FEI) a TermReq carries:
 *   FES 01h Invalid PDU Header Field      FEI = byte offset of the field
 *   FES 02h PDU Sequence Error            FEI = 0
 *   FES 03h Header Digest Error           FEI = the header digest received
 *   FES 04h Data Transfer Out Of Range    FEI = 0
 *   FES 05h Data Transfer Limit Exceeded  FEI = 0
 *   FES 06h Unsupported Parameter         FEI = byte offset of the parameter
 */
#ifndef NVMFT_TCP_CODEC_H
#define NVMFT_TCP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "spec/spec.h"

/* Byte offsets of header fields, as FEI reports them. */
enum {
	NVMFT_TCP_FEI_TYPE = 0,
	NVMFT_TCP_FEI_FLAGS = 1,
	NVMFT_TCP_FEI_HLEN = 2,
	NVMFT_TCP_FEI_PDO = 3,
	NVMFT_TCP_FEI_PLEN = 4,
	NVMFT_TCP_FEI_PFV = 8,        /* ICReq / ICResp */
	NVMFT_TCP_FEI_HPDA = 10,      /* ICReq; CPDA in ICResp */
	NVMFT_TCP_FEI_MAXH2CDATA = 12, /* ICResp */
	NVMFT_TCP_FEI_CCCID = 8,      /* H2CData / C2HData / R2T */
	NVMFT_TCP_FEI_TTAG = 10,
	NVMFT_TCP_FEI_DATAO = 12,
	NVMFT_TCP_FEI_DATAL = 16,
};

/* Longest header area an encoder writes: 76 bytes padded to 128 (HPDA 31). */
#define NVMFT_TCP_HDR_AREA_MAX 128
/* A whole TermReq: header plus the offending header. */
#define NVMFT_TCP_TERM_MAX_LEN (NVMFT_TCP_TERM_HLEN + NVMFT_TCP_TERM_MAX_DATA)

enum nvmft_tcp_role {
	NVMFT_TCP_ROLE_CTRLR = 0, /* receives host-to-controller PDUs */
	NVMFT_TCP_ROLE_HOST = 1,  /* receives controller-to-host PDUs (tests) */
};

/*
 * What both ends agreed on at connection setup, plus the receive limits
 * of this queue.  The owner updates it as the connection goes on (digests
 * after ICReq, the in-capsule limit after Connect); the receive machine
 * reads it through a pointer.
 */
struct nvmft_tcp_params {
	bool ic_done;        /* ICReq/ICResp exchanged */
	bool hdgst;          /* header digests on */
	bool ddgst;          /* data digests on */
	uint8_t cpda;        /* controller's: H2C data aligned to (cpda + 1) * 4 */
	uint8_t hpda;        /* host's: C2H data aligned to (hpda + 1) * 4 */
	uint32_t maxr2t;     /* host's MAXR2T, 0's based */
	uint32_t maxh2cdata; /* largest H2CData payload */
	uint32_t icd_max;    /* in-capsule data a CapsuleCmd may carry */
};

/* What the controller offers at ICReq time. */
struct nvmft_tcp_ic_offer {
	uint8_t digests;     /* NVMFT_TCP_DGST_* it agrees to (same bits as NVMFT_DIGEST_*) */
	uint8_t cpda;
	uint32_t maxh2cdata; /* >= 4096, a multiple of 4 */
};

struct nvmft_tcp_err {
	uint16_t fes;  /* 0: no error */
	bool silent;   /* close without a TermReq (the PDU in error was one) */
	uint32_t fei;
};

/* Digest-capable PDUs carry HDGST/DDGST; ICReq/ICResp/TermReq never do. */
static inline bool nvmft_tcp_type_has_digest(uint8_t type)
{
	return type == NVMFT_TCP_CMD || type == NVMFT_TCP_RSP || type == NVMFT_TCP_H2C_DATA ||
	       type == NVMFT_TCP_C2H_DATA || type == NVMFT_TCP_R2T;
}

/* The fixed header length of @type, 0 for an unknown type. */
uint8_t nvmft_tcp_type_hlen(uint8_t type);
/* Header digest value as stored on the wire (little-endian CRC-32C). */
uint32_t nvmft_tcp_digest(const void *buf, size_t len);

/*
 * The checks below read headers through the spec structs: pass 8-byte
 * aligned buffers (the receive machine's header is).
 *
 * Validate the 8-byte common header of a received PDU: type legal for
 * @role and for the connection's phase, HLEN, FLAGS.  Enough to know how
 * many header bytes follow.  Return the FES (0 when valid) and fill @err.
 */
uint16_t nvmft_tcp_check_ch(enum nvmft_tcp_role role, const struct nvmft_tcp_params *p,
			    const struct nvmft_tcp_ch *ch, struct nvmft_tcp_err *err);
/*
 * Validate the rest of a complete header whose common header passed
 * nvmft_tcp_check_ch() and whose digest (if any) checked out: PDO, PLEN,
 * DDGSTF and the type-specific fields.  On success, *@data_len receives
 * the PDU data length (0 when none).
 */
uint16_t nvmft_tcp_check_hdr(enum nvmft_tcp_role role, const struct nvmft_tcp_params *p,
			     const void *hdr, uint32_t *data_len, struct nvmft_tcp_err *err);
/* Both checks at once, for a header already in memory (header digest not included). */
uint16_t nvmft_tcp_validate(enum nvmft_tcp_role role, const struct nvmft_tcp_params *p,
			    const void *hdr, uint32_t *data_len, struct nvmft_tcp_err *err);

/*
 * Answer a valid ICReq (nvmft_tcp_check_hdr() passed): record the host's
 * HPDA, MAXR2T and the digests both sides want in @p, set p->ic_done, and
 * build the 128-byte ICResp in @resp.
 */
void nvmft_tcp_icreq_accept(const struct nvmft_tcp_icreq *req,
			    const struct nvmft_tcp_ic_offer *offer, struct nvmft_tcp_params *p,
			    struct nvmft_tcp_icresp *resp);
/* Host side: adopt a valid ICResp's CPDA, digests and MAXH2CDATA into @p. */
void nvmft_tcp_icresp_accept(const struct nvmft_tcp_icresp *resp, struct nvmft_tcp_params *p);

/*
 * Header encoders.  Each writes the PDU header, its header digest when
 * p->hdgst is on, and for data PDUs the zero padding up to PDO, and
 * returns the number of bytes written (the data, then a data digest when
 * p->ddgst is on and the PDU has data, follow on the wire: PLEN counts
 * them).  @buf needs NVMFT_TCP_HDR_AREA_MAX bytes (128 for ICReq/ICResp)
 * and may have any alignment.
 */
size_t nvmft_tcp_enc_icresp(void *buf, const struct nvmft_tcp_params *p);
size_t nvmft_tcp_enc_rsp(void *buf, const struct nvmft_tcp_params *p, const struct nvmft_cpl *cpl);
/* @flags: NVMFT_TCP_F_DATA_LAST and/or NVMFT_TCP_F_DATA_SUCCESS. */
size_t nvmft_tcp_enc_c2h_data(void *buf, const struct nvmft_tcp_params *p, uint16_t cccid,
			      uint32_t datao, uint32_t datal, uint8_t flags);
size_t nvmft_tcp_enc_r2t(void *buf, const struct nvmft_tcp_params *p, uint16_t cccid,
			 uint16_t ttag, uint32_t r2to, uint32_t r2tl);
/*
 * A TermReq (@type NVMFT_TCP_C2H_TERM or NVMFT_TCP_H2C_TERM) carrying up
 * to NVMFT_TCP_TERM_MAX_DATA (128) bytes of @pdu_hdr; @buf needs
 * NVMFT_TCP_TERM_MAX_LEN (152) bytes.
 * Returns the whole PDU's length.
 */
size_t nvmft_tcp_enc_term(void *buf, uint8_t type, uint16_t fes, uint32_t fei,
			  const void *pdu_hdr, size_t hdr_len);
/* Host-side encoders, for tests and tools. */
size_t nvmft_tcp_enc_icreq(void *buf, uint8_t hpda, uint8_t dgst, uint32_t maxr2t);
size_t nvmft_tcp_enc_cmd(void *buf, const struct nvmft_tcp_params *p, const struct nvmft_cmd *cmd,
			 uint32_t icd_len);
size_t nvmft_tcp_enc_h2c_data(void *buf, const struct nvmft_tcp_params *p, uint16_t cccid,
			      uint16_t ttag, uint32_t datao, uint32_t datal, bool last);

/*
 * Check an H2CData header against the R2T it answers: the window is
 * [@r2to, @r2to + @r2tl) and @done bytes of it have arrived; data must
 * come in order.  Return the FES (04h when out of the window).
 */
uint16_t nvmft_tcp_check_h2c_window(const struct nvmft_tcp_data *h, uint32_t r2to, uint32_t r2tl,
				    uint32_t done, struct nvmft_tcp_err *err);

/* ---- Receive state machine --------------------------------------------- */

enum nvmft_tcp_rx_event {
	/* Everything given so far is consumed; more bytes are needed. */
	NVMFT_TCP_RX_NEED_MORE = 0,
	/*
	 * A PDU header arrived, valid and with its digest checked (read it
	 * with nvmft_tcp_rx_hdr()).  When nvmft_tcp_rx_data_len() is 0 the
	 * PDU is complete.  Otherwise its data follows: set a destination
	 * with nvmft_tcp_rx_set_data_dest() now, or it is discarded; the PDU
	 * then ends with PDU_DONE or DDGST_ERROR.
	 */
	NVMFT_TCP_RX_HEADER,
	/* The data of the current PDU is in place (digest checked). */
	NVMFT_TCP_RX_PDU_DONE,
	/*
	 * The data of the current PDU is in place but its digest is wrong;
	 * the stream is still in sync (the caller fails that command).
	 */
	NVMFT_TCP_RX_DDGST_ERROR,
	/* Fatal: see nvmft_tcp_rx_err(); every later call returns this again. */
	NVMFT_TCP_RX_ERROR,
};

enum nvmft_tcp_rx_phase {
	NVMFT_TCP_RX_PH_CH,    /* common header */
	NVMFT_TCP_RX_PH_HDR,   /* rest of the header and its digest */
	NVMFT_TCP_RX_PH_PAD,   /* bytes between header and PDO */
	NVMFT_TCP_RX_PH_DATA,
	NVMFT_TCP_RX_PH_DDGST,
	NVMFT_TCP_RX_PH_FAILED,
};

#define NVMFT_TCP_RX_HDR_MAX (NVMFT_TCP_ICREQ_LEN + NVMFT_TCP_DIGEST_LEN)

struct nvmft_tcp_rx {
	const struct nvmft_tcp_params *p;
	uint8_t role;          /* enum nvmft_tcp_role */
	uint8_t phase;         /* enum nvmft_tcp_rx_phase */
	bool pdu_ddgst;        /* this PDU carries a data digest */
	uint32_t got;          /* bytes of the current phase received */
	uint32_t hdr_total;    /* HLEN plus header digest */
	uint32_t pad;          /* padding bytes before the data */
	uint32_t data_len;
	uint32_t data_got;
	uint32_t crc;          /* running data digest */
	const struct iovec *dst;
	int dst_cnt;
	int dst_idx;
	size_t dst_off;        /* inside dst[dst_idx] */
	struct nvmft_tcp_err err;
	uint8_t ddgst[NVMFT_TCP_DIGEST_LEN];
	union {
		uint64_t align; /* header structs hold 64-bit fields */
		struct nvmft_tcp_ch ch;
		uint8_t b[NVMFT_TCP_RX_HDR_MAX];
	} hdr;
	uint8_t sink[256];     /* padding and discarded data */
};

void nvmft_tcp_rx_init(struct nvmft_tcp_rx *rx, enum nvmft_tcp_role role,
		       const struct nvmft_tcp_params *p);
/*
 * Where the next bytes go: fills up to @max_iov entries of @iov and
 * returns the number of bytes wanted (0 after a fatal error).  Never
 * spans an event, so a readv() into exactly these entries followed by
 * nvmft_tcp_rx_advance() with the byte count read is always valid.
 */
size_t nvmft_tcp_rx_want(struct nvmft_tcp_rx *rx, struct iovec *iov, int max_iov, int *iovcnt);
/* @n bytes were written where nvmft_tcp_rx_want() said: move on. */
enum nvmft_tcp_rx_event nvmft_tcp_rx_advance(struct nvmft_tcp_rx *rx, size_t n);
/*
 * Copy bytes from a staging buffer into their destinations until one
 * event happens or @len is used up.  *@consumed receives the bytes taken.
 */
enum nvmft_tcp_rx_event nvmft_tcp_rx_feed(struct nvmft_tcp_rx *rx, const void *buf, size_t len,
					  size_t *consumed);
/*
 * After a HEADER event for a PDU with data: land the data in @iov,
 * starting @off bytes in.  Return 0, or -EINVAL when the vector is too
 * short for the data or data is already flowing.
 */
int nvmft_tcp_rx_set_data_dest(struct nvmft_tcp_rx *rx, const struct iovec *iov, int iovcnt,
			       size_t off);

/* The current PDU's header, valid from HEADER until the next PDU starts arriving. */
static inline const void *nvmft_tcp_rx_hdr(const struct nvmft_tcp_rx *rx)
{
	return rx->hdr.b;
}

static inline uint8_t nvmft_tcp_rx_type(const struct nvmft_tcp_rx *rx)
{
	return rx->hdr.ch.type;
}

static inline uint32_t nvmft_tcp_rx_data_len(const struct nvmft_tcp_rx *rx)
{
	return rx->data_len;
}

/* The fatal error, and the header bytes of the PDU in error (for the TermReq). */
static inline const struct nvmft_tcp_err *nvmft_tcp_rx_err(const struct nvmft_tcp_rx *rx)
{
	return &rx->err;
}

const void *nvmft_tcp_rx_err_hdr(const struct nvmft_tcp_rx *rx, size_t *len);

#endif
