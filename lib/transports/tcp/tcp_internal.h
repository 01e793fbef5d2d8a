/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/TCP transport internals, shared by tcp.c (transport, listeners,
 * poll groups, connection lifetime, request slots) and tcp_io.c (the
 * receive dispatcher, command and data flow, the send queue).
 *
 * A connection (struct tcp_conn) embeds the core queue pair and lives on
 * one poll group; everything in it is touched by that group's thread only.
 * Its requests (struct tcp_req) are preallocated slots, found by index.
 * The transfer tag of an R2T is that index with the R2T's sequence number
 * within its command in the low bits (see tcp_ttag()).
 */
#ifndef NVMFT_TCP_INTERNAL_H
#define NVMFT_TCP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <bsd/sys/queue.h>

#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "transports/group_set.h"
#include "transports/tcp/tcp_codec.h"
#include "util/compiler.h"

enum {
	/* Slots before Connect says how deep the queue is. */
	TCP_INIT_SLOTS = 32,
	/* R2Ts outstanding per command, whatever larger MAXR2T the host offers. */
	TCP_R2T_MAX = 4,
	/* Low TTAG bits that number a command's R2Ts (TCP_R2T_MAX of them). */
	TCP_R2T_SHIFT = 2,
	/*
	 * Receive staging buffer per connection; a staged read takes what the
	 * socket holds, up to this.  Read in 32 KiB pieces, a backlog of small
	 * write commands often cost the kernel's copy into the stage three
	 * times as much per byte as read in one piece (doc/performance.md,
	 * "Writes").  Only as much of it as reads have filled is resident.
	 */
	TCP_STAGE_SIZE = 256 * 1024,
	/*
	 * A connection that carries large data PDUs gets staged reads of at
	 * most TCP_STAGE_SMALL for its next TCP_STAGE_SMALL_READS staged
	 * reads after each PDU of TCP_STAGE_LARGE_PDU bytes of data or more:
	 * a large read would put the next such payload in the stage, to be
	 * copied twice, where a small one leaves most of it to be read
	 * straight into its buffers.
	 */
	TCP_STAGE_SMALL = 32768,
	TCP_STAGE_SMALL_READS = 16,
	TCP_STAGE_LARGE_PDU = 16384,
	/* Data at least this long goes straight from the socket into the request. */
	TCP_ZCOPY_RX_MIN = 4096,
	/*
	 * Iovec entries per sendmsg(): a whole queue of depth 128 answered in
	 * one call, data digests included (a read takes 3 entries with the
	 * SUCCESS flag, 4 with its own CapsuleResp).  Fewer, larger sends
	 * cost the target less: each one carries a fixed cost, and on loopback
	 * the receiving half of every packet runs on the sending core too.
	 */
	TCP_TX_IOV = 512,
	/*
	 * Read data at least this long from memory that is never written
	 * (NVMFT_REQ_F_CONST_DATA) goes into the socket by reference, through
	 * a pipe (vmsplice(), splice()), instead of being copied: three calls
	 * instead of part of one, which pays once the copy they save is a few
	 * pages long.  On loopback the copy was most of the core's time at
	 * 128 KiB (doc/performance.md, "Large reads").
	 */
	TCP_SPLICE_MIN = 32768,
	/* The pipe holds this much data by reference: a 128 KiB read per vmsplice(). */
	TCP_PIPE_SIZE = 256 * 1024,
	/* Linux sends admin data (Connect included) in-capsule up to 8 KiB. */
	TCP_ADMIN_ICD = 8192,
	TCP_SHORT_HDR = NVMFT_TCP_RSP_HLEN + NVMFT_TCP_DIGEST_LEN,
	TCP_ACCEPT_BATCH = 64,
	/*
	 * A group's only busy connection is read directly until TCP_HOT_IDLE
	 * reads in a row find nothing; epoll is asked about the others at
	 * least every TCP_HOT_POLLS polls (tcp_pg_poll()).
	 */
	TCP_HOT_POLLS = 8,
	TCP_HOT_IDLE = 64,
	TCP_LISTEN_BACKLOG = 512,
};

/* Where a request is, as far as this transport is concerned. */
enum tcp_req_state {
	TCP_REQ_FREE = 0,
	TCP_REQ_CAPSULE,  /* in-capsule data arriving; the core has not seen it */
	TCP_REQ_CORE,     /* inside the core (parsing, executing, backend) */
	TCP_REQ_WAIT_BUF, /* queued for pool buffers */
	TCP_REQ_H2C,      /* R2Ts sent, waiting for H2CData */
	TCP_REQ_TX,       /* response queued or being sent */
};

struct tcp_conn;

struct tcp_req {
	struct nvmft_req req;
	struct tcp_conn *c;
	uint16_t slot;          /* index in tcp_conn.slots */
	uint8_t state;          /* enum tcp_req_state */
	bool on_txq;
	uint16_t h2c_status;    /* data digest failed: finish with this once the data is in */
	uint8_t *icd;           /* in-capsule data buffer */
	uint32_t icd_cap;
	struct iovec icd_iov;

	/* Writes through R2T: data asked for in order, [h2c_got, r2t_off) in flight. */
	uint32_t h2c_got;
	uint32_t r2t_off;
	uint32_t r2t_size;

	/* What the send queue still owes the host for this request, in order. */
	uint8_t r2t_pending;    /* R2T headers in r2t_hdr[] */
	bool tx_c2h;            /* C2HData header, data, data digest */
	bool tx_rsp;            /* CapsuleResp */
	uint8_t short_hdr_len;  /* R2T and CapsuleResp headers (with digest) */
	uint8_t c2h_hdr_len;
	uint32_t ddgst;
	uint8_t r2t_hdr[TCP_R2T_MAX][TCP_SHORT_HDR];
	uint8_t rsp_hdr[TCP_SHORT_HDR];
	uint8_t c2h_hdr[NVMFT_TCP_HDR_AREA_MAX];
	TAILQ_ENTRY(tcp_req) link; /* free list or send queue */
};

/* Slots come in at most two blocks: before Connect, and the rest at Connect. */
struct tcp_block {
	struct tcp_req *reqs;
	uint32_t n;
	void *icd;              /* n * icd_cap bytes, mapped lazily by the kernel */
	size_t icd_bytes;
};

struct tcp_tpg;

struct tcp_conn {
	struct nvmft_qpair qp;
	struct tcp_tpg *tpg;    /* NULL until the group takes it */
	int fd;
	bool dead;              /* disconnected: no more traffic */
	/*
	 * A fatal error: nothing more is read, the PDU the socket is part-way
	 * through is finished, then the C2HTermReq in term[] goes out and the
	 * connection closes.
	 */
	bool terminating;
	bool on_busy;
	bool on_flush;
	bool pollout;           /* EPOLLOUT armed */
	bool unwatched;         /* out of the epoll set while hot (tcp_hot_set()) */
	/* A host that stops reading is dropped after stall_timeout_ms without progress. */
	struct nvmft_timer stall_timer;
	uint64_t tx_progress_ms;
	/* Likewise a host that does not send the write data it was asked for. */
	uint32_t h2c_waiting;   /* requests in TCP_REQ_H2C */
	uint64_t rx_progress_ms; /* last H2CData, or when data was last asked for */
	struct sockaddr_storage peer;

	struct nvmft_tcp_params params;
	struct nvmft_tcp_rx rx;
	struct tcp_req *rx_req; /* owner of the data of the PDU being received */
	uint8_t *stage;
	uint32_t stage_len;
	uint32_t stage_off;
	uint8_t rx_small_reads; /* staged reads left at TCP_STAGE_SMALL */

	/* ICResp, sent before anything else. */
	uint8_t ctl[NVMFT_TCP_ICRESP_LEN];
	uint32_t ctl_len;
	uint32_t ctl_off;
	/* C2HTermReq, sent after everything else. */
	uint8_t term[NVMFT_TCP_TERM_MAX_LEN];
	uint32_t term_len;
	uint32_t term_off;
	TAILQ_HEAD(, tcp_req) txq;
	size_t tx_skip;         /* bytes of the head of txq already sent */
	/*
	 * Spliced read data: bytes in the pipe are as good as sent (the
	 * pipe holds references to their pages) and leave it for the socket
	 * before anything else is sent.  The pipe is made at the first
	 * spliceable read; when it cannot be, the connection copies.
	 */
	int pipe_rd;
	int pipe_wr;
	uint32_t pipe_len;
	bool no_splice;
	uint64_t tx_spliced;    /* bytes sent by reference, for tests */

	struct tcp_req **slots; /* by slot index */
	uint32_t nslots;
	/*
	 * TTAG bits that number a command's R2Ts: TCP_R2T_SHIFT, fewer when
	 * the queue is so deep that slot << shift would not fit 16 bits.
	 */
	uint8_t r2t_shift;
	uint32_t depth;         /* commands the host may have in flight: 32, then SQSIZE + 1 */
	uint32_t busy;          /* slots taken */
	struct tcp_block blocks[2];
	TAILQ_HEAD(, tcp_req) free_reqs;

	TAILQ_ENTRY(tcp_conn) busy_link;  /* staged bytes left over */
	TAILQ_ENTRY(tcp_conn) flush_link; /* sends queued */
};

struct tcp_tpg {
	struct nvmft_poll_group *pg;
	struct nvmft_transport *tr;
	struct nvmft_group_set set; /* every socket of the group, and the kick */
	bool in_poll;
	TAILQ_HEAD(, tcp_conn) busy;
	TAILQ_HEAD(, tcp_conn) flush;
	struct tcp_conn *hot;   /* read without epoll (tcp_pg_poll()), or NULL */
	struct tcp_conn *hot_next; /* the last epoll round's only reader */
	uint32_t hot_polls;     /* polls since epoll was last asked */
	uint32_t hot_idle;      /* direct reads in a row that found nothing */
	/* tcp_conn_flush()'s gather list: too big for a poll function's stack. */
	struct iovec tx_iov[TCP_TX_IOV];
};

static inline struct tcp_conn *tcp_conn_of(struct nvmft_qpair *qp)
{
	return nvmft_container_of(qp, struct tcp_conn, qp);
}

static inline struct tcp_req *tcp_req_of(struct nvmft_req *req)
{
	return nvmft_container_of(req, struct tcp_req, req);
}

/*
 * The TTAG of the R2T numbered @seq (0, 1, ... in data order) of the
 * command in @t's slot.  NVMe/TCP 1.0, 3.6.2.9 (R2T PDU, TTAG): the
 * controller generates a TTAG unique to each outstanding R2T PDU on the
 * connection, not one per command; the host echoes it in the H2CData PDUs
 * that answer that R2T (3.6.2.7).  A command may have up to
 * 1 << r2t_shift R2Ts outstanding, so the low bits keep them apart.
 */
static inline uint16_t tcp_ttag(const struct tcp_req *t, uint32_t seq)
{
	uint8_t shift = t->c->r2t_shift;

	return (uint16_t)((uint32_t)t->slot << shift | (seq & ((1u << shift) - 1)));
}

/* tcp.c */
/* Send a C2HTermReq (when the stream allows) and drop the connection. */
void tcp_conn_fatal(struct tcp_conn *c, const struct nvmft_tcp_err *err, const void *hdr,
		    size_t hdr_len);
/* Drop the connection without a TermReq. */
void tcp_conn_close(struct tcp_conn *c, const char *why);
/* The connection is terminating and everything, its TermReq included, went out. */
void tcp_conn_terminated(struct tcp_conn *c);
/* Make room for @depth requests (ICReq, then Connect).  0 or -ENOMEM. */
int tcp_conn_reserve(struct tcp_conn *c, uint32_t depth, uint32_t icd_cap);
struct tcp_req *tcp_req_get(struct tcp_conn *c);
void tcp_req_put(struct tcp_req *t);
/* Queue @c for a flush at the end of this poll (or the next one). */
void tcp_conn_want_flush(struct tcp_conn *c);

/*
 * Test hook, not exported: adopt @fd, a connected stream socket (one end of
 * a socketpair will do), as a connection accepted on @l.  The socket is
 * made non-blocking and belongs to the transport on success; on failure it
 * stays the caller's.  0 or -errno.
 */
int nvmft_tcp_adopt_fd(struct nvmft_listener *l, int fd);

/* tcp_io.c */
/* Read and dispatch up to @budget PDUs; returns the PDUs handled. */
int tcp_conn_rx(struct tcp_conn *c, unsigned int budget);
/* Push queued PDUs to the socket; returns 1 if anything was sent. */
int tcp_conn_flush(struct tcp_conn *c);
/*
 * Fatal error: stop reading, drop every queued PDU not yet started (the
 * one part-way out is finished), queue the @len-byte TermReq in c->term
 * behind it and start sending.  The connection closes once the TermReq is
 * out, or when the stall timeout gives up on the host.
 */
void tcp_conn_terminate(struct tcp_conn *c, size_t len);
/*
 * Keep the PDUs of @t the socket has started on (the first @sent bytes of
 * what @t has queued), drop those it has not; returns the bytes of @t
 * still to send (0: it ended on a PDU boundary).
 */
size_t tcp_req_tx_trim(struct tcp_req *t, size_t sent);
/* Close the spliced-send pipe and forget what it held (disconnect, free). */
void tcp_conn_pipe_close(struct tcp_conn *c);
/* Give back every request the transport holds (disconnect). */
void tcp_conn_drop_reqs(struct tcp_conn *c);
/*
 * What epoll reports of @c: input unless terminating, room when @pollout.
 * A hot connection out of the set goes back in (and is no longer hot); if
 * it cannot, it is closed.  0 or -errno.
 */
int tcp_conn_epoll(struct tcp_conn *c, bool pollout);
void tcp_req_complete(struct nvmft_req *req);
void tcp_req_buffers_ready(struct nvmft_req *req);
/* An orphan's backend finished: the slot is free again. */
void tcp_req_recycle(struct nvmft_req *req);

#endif
