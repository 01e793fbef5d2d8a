/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small synchronous NVMe/TCP host for tests ("th_").  It speaks the host
 * side of the protocol with the library's own codec (tcp_codec.h), and lets
 * a test break any part of it: raw bytes, PDUs with any header field, any
 * split of the byte stream into writes, digests corrupted on purpose,
 * H2CData scripted by hand.
 *
 * Threads.  The host never starts a thread.  Tests usually drive the target
 * from the same thread, so every call that would wait (for room to send, for
 * the next PDU, for a close) first calls the @pump callback of its
 * configuration, which should poll the target and its poll groups once and
 * return the work done; the host sleeps in poll() for at most 1 ms only
 * when the pump reported no work.  With no pump (a target polled by another
 * thread, or another process) the host sleeps in poll() on its socket.
 * Every wait is bounded by th_cfg.timeout_ms: a broken target makes a call
 * return TH_TIMEOUT, never hang.  The deadline is only a bound for failures:
 * no result depends on time.
 *
 * Commands.  th_submit() sends a command and tracks it by CID; any call
 * that reads from the socket (th_wait(), th_process(), ...) routes what
 * arrives to its command: C2HData lands in the command's read buffer, R2Ts
 * are answered from its write data with H2CData PDUs of at most MAXH2CDATA
 * bytes (unless TH_IO_MANUAL_R2T leaves them to the test), and the
 * CapsuleResp, or a C2HData with SUCCESS, completes it.  Anything the target
 * sends that a correct controller would not (a PDU for an unknown CID, data
 * out of order, a bad data digest, an R2T outside the command) counts as a
 * violation: see th_violations().
 *
 * Return values: an NVMe status (>= 0, the 15-bit status without the
 * phase bit, as NVMFT_STATUS() builds it), 0 for success, or one of TH_*.
 */
#ifndef NVMFT_TEST_TCP_HOST_H
#define NVMFT_TEST_TCP_HOST_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "transports/tcp/tcp_codec.h"

#define TH_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:7468686f-7374-2d74-6573-742d686f7374"

/* Errors of the host itself, apart from NVMe statuses. */
enum {
	TH_CLOSED = -EPIPE,         /* the target closed (or reset) the connection */
	TH_TIMEOUT = -ETIMEDOUT,    /* nothing happened within timeout_ms */
	TH_BADPDU = -EPROTO,        /* the target sent a malformed PDU (see th_rx_err()) */
	TH_UNEXPECTED = -EBADMSG,   /* a well-formed PDU that does not fit here */
};

/* Polls the target once; returns the work it did (> 0 keeps the host from sleeping). */
typedef int (*th_pump_fn)(void *arg);

struct th_cfg {
	th_pump_fn pump;       /* NULL: the target runs elsewhere */
	void *pump_arg;
	int timeout_ms;        /* bound of every wait; 0: 10000 */
	const char *hostnqn;   /* NULL: TH_HOSTNQN */
	const char *subnqn;    /* default subsystem for Connect */
	uint8_t hostid[16];    /* all zero: derived from the host NQN */
	int rcvbuf;            /* th_connect(): SO_RCVBUF before connecting; 0: default */
	size_t recv_chunk;     /* read at most this much per recv(); 0: 64 KiB */
};

struct th;

/* Connect over TCP to a numeric IPv4/IPv6 address.  0 or -errno / TH_*; *ret set on success. */
int th_connect(const char *addr, const char *port, const struct th_cfg *cfg, struct th **ret);
/* Play the host on an already connected stream socket (e.g. one end of a socketpair). */
int th_adopt(int fd, const struct th_cfg *cfg, struct th **ret);
/* Close (if still open) and free; NULL is fine. */
void th_free(struct th *h);
/* Drop the connection now, mid-anything; @reset sends an RST (TCP only) instead of a FIN. */
void th_close(struct th *h, bool reset);
/* Bound of later waits, in ms (0: the default). */
void th_set_timeout(struct th *h, int timeout_ms);
/* Read at most @n bytes per recv() from now on (a slow reader); 0: 64 KiB. */
void th_set_recv_chunk(struct th *h, size_t n);

/* ---- Byte stream ---------------------------------------------------------------------------- */

enum th_split_mode {
	TH_SPLIT_NONE = 0,   /* one write per send */
	TH_SPLIT_FIXED,      /* writes of @chunk bytes (1: byte by byte) */
	TH_SPLIT_RANDOM,     /* writes of 1..@chunk bytes, sizes drawn from @seed */
	TH_SPLIT_AT,         /* two writes per send: the first @at bytes, then the rest */
};

/* How every later send is cut into write()s; @pump_between pumps the target after each. */
struct th_split {
	enum th_split_mode mode;
	size_t chunk;
	uint32_t seed;
	size_t at;
	bool pump_between;
};

/* NULL: back to one write per send. */
void th_set_split(struct th *h, const struct th_split *s);
/* Send all of @buf (cut as th_set_split() says).  0, TH_CLOSED or TH_TIMEOUT. */
int th_send(struct th *h, const void *buf, size_t len);
/* Read exactly @len raw bytes, bypassing the PDU parser.  0 or TH_*. */
int th_recv_raw(struct th *h, void *buf, size_t len);

/* ---- PDUs ----------------------------------------------------------------------------------- */

/* Room a built PDU with @datal bytes of data needs. */
#define TH_PDU_SIZE(datal) ((size_t)NVMFT_TCP_HDR_AREA_MAX + (datal) + NVMFT_TCP_DIGEST_LEN)

/* Build flags. */
enum {
	TH_F_LAST = 1u << 0,      /* H2CData: LAST_PDU */
	TH_F_BAD_HDGST = 1u << 1, /* flip a bit of the header digest */
	TH_F_BAD_DDGST = 1u << 2, /* flip a bit of the data digest */
};

/*
 * Whole PDUs as the negotiated parameters want them (header digest,
 * padding to CPDA, data, data digest).  Return the PDU length.  After
 * editing header bytes, th_fix_hdgst() recomputes the header digest, so
 * that a test breaks exactly one field.
 */
size_t th_build_cmd(const struct th *h, void *buf, const struct nvmft_cmd *cmd, const void *icd,
		    uint32_t icd_len, unsigned int flags);
size_t th_build_h2c(const struct th *h, void *buf, uint16_t cccid, uint16_t ttag, uint32_t datao,
		    const void *data, uint32_t datal, unsigned int flags);
void th_fix_hdgst(const struct th *h, void *pdu);

/* A received PDU. */
struct th_pdu {
	int type;                /* enum nvmft_tcp_pdu_type */
	union {
		uint64_t align;
		uint8_t b[NVMFT_TCP_RX_HDR_MAX];
		struct nvmft_tcp_ch ch;
		struct nvmft_tcp_icresp icresp;
		struct nvmft_tcp_rsp rsp;
		struct nvmft_tcp_data data;
		struct nvmft_tcp_r2t r2t;
		struct nvmft_tcp_term term;
	} h;                     /* the header, with its digest */
	uint32_t hdr_len;
	uint32_t data_len;
	const uint8_t *data;     /* its data: in a read buffer, or scratch until the next PDU */
	bool ddgst_err;          /* its data digest was wrong */
};

/*
 * The next PDU, whole (header, data, digests checked).  C2HData for a
 * tracked command lands in its read buffer at DATAO.  Does not route the
 * PDU to its command: see th_process().  Returns the type or TH_*.
 */
int th_recv(struct th *h, struct th_pdu *p);
/* th_recv(), then route the PDU to its command (answer R2Ts, complete...). */
int th_process(struct th *h, struct th_pdu *p);
/* Nothing arrives while the target is pumped @rounds times (and nothing is buffered). */
bool th_quiet(struct th *h, int rounds);
/* Bytes are buffered or waiting in the socket: th_recv() would not wait (no pump). */
bool th_readable(const struct th *h);

/* ---- Connection setup ----------------------------------------------------------------------- */

/* Send an ICReq with any PFV, HPDA (even > 31), DGST bits and MAXR2T.  0 or TH_*. */
int th_send_icreq(struct th *h, uint16_t pfv, uint8_t hpda, uint8_t dgst, uint32_t maxr2t);
/* Read the ICResp and adopt its CPDA, digests and MAXH2CDATA.  0, TH_UNEXPECTED or TH_*. */
int th_recv_icresp(struct th *h);
/* Both, with PFV 0. */
int th_icreq(struct th *h, uint8_t hpda, uint8_t dgst, uint32_t maxr2t);
const struct nvmft_tcp_icresp *th_icresp(const struct th *h);

struct th_connect_args {
	uint16_t qid;
	uint16_t sqsize;         /* 0's based */
	uint8_t cattr;
	uint32_t kato;
	uint16_t cntlid;         /* NVMFT_CNTLID_DYNAMIC for the admin queue */
	const char *subnqn;      /* NULL: cfg.subnqn */
	const char *hostnqn;     /* NULL: cfg.hostnqn */
	const uint8_t *hostid;   /* NULL: cfg.hostid */
};

/* Fabrics Connect (data in-capsule).  Returns the status; *cpl (may be NULL) the CQE. */
int th_connect_raw(struct th *h, const struct th_connect_args *a, struct nvmft_cpl *cpl);
int th_connect_admin(struct th *h, uint16_t sqsize, uint16_t *cntlid);
int th_connect_io(struct th *h, uint16_t qid, uint16_t sqsize, uint16_t cntlid);
int th_prop_get(struct th *h, uint32_t offset, bool eight, uint64_t *val);
int th_prop_set(struct th *h, uint32_t offset, bool eight, uint64_t val);
/* CC.EN = 1 (4 KiB pages, 64/16-byte entries), then wait for CSTS.RDY. */
int th_enable(struct th *h);
/* ICReq(@dgst), admin Connect (32 entries) and enable.  0 or the first failure. */
int th_admin_up(struct th *h, uint8_t dgst, uint16_t *cntlid);
uint16_t th_qid(const struct th *h);
uint16_t th_cntlid(const struct th *h);

/* ---- Commands ------------------------------------------------------------------------------- */

enum {
	TH_IO_INCAPSULE = 1u << 0,   /* write data travels in the capsule (else through R2T) */
	TH_IO_KEEP_SGL = 1u << 1,    /* send SGL1 as the test set it */
	TH_IO_KEEP_CID = 1u << 2,    /* send the CID as the test set it */
	TH_IO_MANUAL_R2T = 1u << 3,  /* queue R2Ts for th_next_r2t(), do not answer them */
	TH_IO_BAD_HDGST = 1u << 4,   /* corrupt the capsule's header digest */
	TH_IO_BAD_DDGST = 1u << 5,   /* corrupt the data digests: the capsule's, every H2CData's */
	TH_IO_NO_LAST = 1u << 6,     /* answer R2Ts without LAST_PDU */
};

struct th_io {
	const void *wdata;
	uint32_t wlen;
	void *rdata;
	uint32_t rlen;
	unsigned int flags;          /* TH_IO_* */
};

/* An R2T as received. */
struct th_r2t {
	uint16_t ttag;
	uint32_t r2to;
	uint32_t r2tl;
};

/* Commands a host tracks at once. */
#define TH_MAX_CMDS 512
/* R2Ts remembered per command. */
#define TH_R2T_LOG 32

/*
 * Send @cmd (its CID and SGL1 are filled in unless the flags say not)
 * and track it.  Returns the CID (>= 0) or TH_* / -EBUSY (no slot).
 */
int th_submit(struct th *h, struct nvmft_cmd *cmd, const struct th_io *io);
/* Wait for command @cid: its status (or TH_*), then forget it; *cpl (may be NULL): the CQE. */
int th_wait(struct th *h, int cid, struct nvmft_cpl *cpl);
/* th_submit() + th_wait(). */
int th_exec(struct th *h, struct nvmft_cmd *cmd, const struct th_io *io, struct nvmft_cpl *cpl);
/* Process PDUs until every tracked command is complete (they stay tracked for th_wait()). */
int th_wait_all(struct th *h);
bool th_done(const struct th *h, int cid);
unsigned int th_outstanding(const struct th *h);
/* R2Ts received for @cid so far (the log keeps the first TH_R2T_LOG). */
const struct th_r2t *th_r2ts(const struct th *h, int cid, int *n);
/* TH_IO_MANUAL_R2T: the next unanswered R2T of @cid, waiting for it.  0 or TH_*. */
int th_next_r2t(struct th *h, int cid, struct th_r2t *r2t);
/*
 * Send [@off, @off + @len) of @cid's write data as H2CData PDUs of at most
 * MAXH2CDATA bytes, with LAST_PDU on the one that ends an R2T's range (or,
 * for data no R2T asked for, on the last one).  0 or TH_*.
 */
int th_send_h2c(struct th *h, int cid, uint16_t ttag, uint32_t off, uint32_t len,
		unsigned int flags);

/* Builders; the CID and SGL are left to th_submit(). */
struct nvmft_cmd th_rw_cmd(bool write, uint32_t nsid, uint64_t slba, uint32_t nlb);
struct nvmft_cmd th_identify_cmd(uint8_t cns, uint32_t nsid);
/* Read or write @nlb blocks of @len bytes (writes in-capsule when @flags say so). */
int th_rw(struct th *h, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf,
	  uint32_t len, unsigned int flags);
int th_identify(struct th *h, uint8_t cns, uint32_t nsid, void *buf4k);
int th_keep_alive(struct th *h);

/* ---- Verdicts ------------------------------------------------------------------------------- */

struct th_term {
	uint16_t fes;
	uint32_t fei;
	uint32_t hdr_len;                        /* bytes of the offending header echoed */
	uint8_t hdr[NVMFT_TCP_TERM_MAX_DATA];
	int skipped;                             /* other PDUs that came before it */
	bool closed;                             /* the connection closed right after */
};

/*
 * Read up to a C2HTermReq (PDUs of tracked commands before it are routed
 * as usual), then check that the connection closes.  0 or TH_*.
 */
int th_read_term(struct th *h, struct th_term *t);
/* The target closes without sending anything else.  0, TH_UNEXPECTED or TH_TIMEOUT. */
int th_expect_closed(struct th *h);
/*
 * The connection still works: a Keep Alive (admin queue; a Property Get
 * of CSTS instead when the controller is not enabled and refuses it) or a
 * one-block read of namespace 1 (I/O queue) completes with success, and no
 * violation was seen.  0, a status, or TH_*.
 */
int th_healthy(struct th *h);

unsigned int th_violations(const struct th *h);
/* What the last violation or host error was about. */
const char *th_why(const struct th *h);
const struct nvmft_tcp_err *th_rx_err(const struct th *h);
struct nvmft_tcp_params *th_params(struct th *h);
int th_fd(const struct th *h);

/* Deterministic test data: @len bytes from @seed. */
void th_fill(void *buf, size_t len, uint32_t seed);

/*
 * cmocka helpers, for files that include <cmocka.h> first.  The failing
 * line is the caller's.
 */
#ifdef assert_int_equal
#define TH_ASSERT_TERM(h, fes_, fei_)                                      \
	do {                                                               \
		struct th_term t_;                                         \
		int rc_ = th_read_term((h), &t_);                          \
		if (rc_ != 0)                                              \
			print_error("th: %s\n", th_why(h));                \
		assert_int_equal(rc_, 0);                                  \
		assert_int_equal(t_.fes, (fes_));                          \
		assert_int_equal(t_.fei, (fei_));                          \
		assert_true(t_.closed);                                    \
	} while (0)
/* As TH_ASSERT_TERM, and the echoed header is the first @len_ bytes of @hdr_. */
#define TH_ASSERT_TERM_HDR(h, fes_, fei_, hdr_, len_)                      \
	do {                                                               \
		struct th_term t_;                                         \
		int rc_ = th_read_term((h), &t_);                          \
		if (rc_ != 0)                                              \
			print_error("th: %s\n", th_why(h));                \
		assert_int_equal(rc_, 0);                                  \
		assert_int_equal(t_.fes, (fes_));                          \
		assert_int_equal(t_.fei, (fei_));                          \
		assert_int_equal(t_.hdr_len, (len_));                      \
		assert_memory_equal(t_.hdr, (hdr_), (len_));               \
		assert_true(t_.closed);                                    \
	} while (0)
/* @expr (a th_* call on @h) returns @want. */
#define TH_ASSERT_ST(h, expr, want)                                        \
	do {                                                               \
		int st_ = (expr);                                          \
		if (st_ != (int)(want))                                    \
			print_error("th: %s\n", th_why(h));               \
		assert_int_equal(st_, (want));                             \
	} while (0)
#define TH_ASSERT_HEALTHY(h)                                               \
	do {                                                               \
		int rc_ = th_healthy(h);                                   \
		if (rc_ != 0)                                              \
			print_error("th: %s\n", th_why(h));                \
		assert_int_equal(rc_, 0);                                  \
	} while (0)
#endif

#endif
