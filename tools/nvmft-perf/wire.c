/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One NVMe/TCP host connection: command slots, batched transmit, buffered
 * receive.  No allocation, no locking and no syscall other than one
 * sendmsg() per flush and one recv()/readv() per poll.
 *
 * Transmit: capsule headers, H2CData headers and digests are encoded into
 * a staging area and listed in an iovec array together with the data
 * buffers they describe, so one sendmsg() carries many PDUs.  Adjacent
 * staging pieces merge into one iovec, so a burst of read commands is a
 * single contiguous region.  The staging area is rewound once everything
 * listed has been sent; when it is full, new work waits for the socket.
 *
 * Receive: recv() into a large buffer and parse every complete PDU found
 * there in place.  C2HData payload is copied out to the command's buffer;
 * in direct mode the part of a payload that has not arrived yet is read
 * by readv() straight into the command's buffer (with the rest of the
 * buffer behind it for the next PDUs), so large reads cost no extra copy.
 * Headers are validated with the library's codec (host role) after being
 * copied to an aligned scratch area.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "perf.h"
#include "util/crc32c.h"

/* Receive window for direct mode: a header and a little payload at a time. */
#define RX_DIRECT_WINDOW 4096

int perf_queue_fail(struct perf_queue *q, const char *fmt, ...)
{
	va_list ap;

	if (q->failed)
		return -1;
	q->failed = true;
	va_start(ap, fmt);
	vsnprintf(q->err, sizeof(q->err), fmt, ap);
	va_end(ap);
	return -1;
}

int perf_queue_init(struct perf_queue *q, uint16_t depth, uint32_t buf_size, size_t rbuf_size)
{
	size_t slot = ((size_t)buf_size + 4095) & ~(size_t)4095;
	uint8_t *bufs = NULL;

	memset(q, 0, sizeof(*q));
	q->fd = -1;
	q->depth = depth;
	q->cmds = calloc(depth, sizeof(*q->cmds));
	q->free_cids = calloc(depth, sizeof(*q->free_cids));
	/* Per command: header, data, digest; plus room for H2CData bursts. */
	q->iov_cap = 4u * depth + 64;
	q->iov = calloc(q->iov_cap, sizeof(*q->iov));
	q->stage_cap = (size_t)depth * (NVMFT_TCP_HDR_AREA_MAX + 8) + 8192;
	q->stage = malloc(q->stage_cap);
	q->rcap = rbuf_size;
	if (posix_memalign((void **)&q->rbuf, 4096, rbuf_size) != 0)
		q->rbuf = NULL;
	if (slot && posix_memalign((void **)&bufs, 4096, slot * depth) != 0)
		bufs = NULL;
	if (!q->cmds || !q->free_cids || !q->iov || !q->stage || !q->rbuf || (slot && !bufs)) {
		free(bufs);
		perf_queue_free(q);
		return -ENOMEM;
	}
	if (bufs)
		memset(bufs, 0, slot * depth);
	for (uint16_t i = 0; i < depth; i++) {
		q->cmds[i].cid = i;
		q->cmds[i].buf = bufs ? bufs + slot * i : NULL;
		/* Popped from the end: CID 0 goes out first. */
		q->free_cids[i] = (uint16_t)(depth - 1 - i);
	}
	q->nfree = depth;
	return 0;
}

void perf_queue_free(struct perf_queue *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	if (q->cmds && q->depth)
		free(q->cmds[0].buf);
	free(q->cmds);
	free(q->free_cids);
	free(q->iov);
	free(q->stage);
	free(q->rbuf);
	q->cmds = NULL;
	q->free_cids = NULL;
	q->iov = NULL;
	q->stage = NULL;
	q->rbuf = NULL;
}

struct perf_cmd *perf_cmd_get(struct perf_queue *q)
{
	struct perf_cmd *cmd;

	if (q->nfree == 0)
		return NULL;
	cmd = &q->cmds[q->free_cids[--q->nfree]];
	cmd->c2h_got = 0;
	cmd->xfer_err = false;
	cmd->done = false;
	cmd->h2c_queued = false;
	cmd->r2tl = 0;
	return cmd;
}

void perf_cmd_put(struct perf_queue *q, struct perf_cmd *cmd)
{
	cmd->state = PERF_CMD_FREE;
	q->free_cids[q->nfree++] = cmd->cid;
}

bool perf_queue_tx_pending(const struct perf_queue *q)
{
	return q->iov_idx < q->iov_cnt || q->h2c_head != NULL;
}

/* ---- Transmit --------------------------------------------------------------- */

static bool tx_room(const struct perf_queue *q, uint32_t niov, size_t nbytes)
{
	return q->iov_cnt + niov <= q->iov_cap && q->stage_len + nbytes <= q->stage_cap;
}

static void tx_push(struct perf_queue *q, void *base, size_t len)
{
	if (q->iov_cnt > q->iov_idx) {
		struct iovec *last = &q->iov[q->iov_cnt - 1];

		if ((uint8_t *)last->iov_base + last->iov_len == (uint8_t *)base) {
			last->iov_len += len;
			return;
		}
	}
	q->iov[q->iov_cnt].iov_base = base;
	q->iov[q->iov_cnt].iov_len = len;
	q->iov_cnt++;
}

static uint8_t *stage_take(struct perf_queue *q, size_t len)
{
	uint8_t *p = q->stage + q->stage_len;

	q->stage_len += len;
	return p;
}

/* The 4-byte data digest of @len bytes at @data, into the staging area. */
static void tx_push_ddgst(struct perf_queue *q, const void *data, size_t len)
{
	uint32_t d = nvmft_tcp_digest(data, len);
	uint8_t *p = stage_take(q, sizeof(d));

	memcpy(p, &d, sizeof(d));
	tx_push(q, p, sizeof(d));
}

bool perf_queue_submit(struct perf_queue *q, struct perf_cmd *cmd, struct nvmft_cmd *sqe,
		       uint64_t now)
{
	bool icd = !cmd->to_host && cmd->len > 0 && cmd->len <= q->icd_max;
	struct nvmft_sgl_desc *sgl = &sqe->dptr.sgl1;
	uint8_t *hdr;
	size_t n;

	if (!tx_room(q, 3, NVMFT_TCP_HDR_AREA_MAX + NVMFT_TCP_DIGEST_LEN))
		return false;
	sqe->cid = htole16(cmd->cid);
	sqe->flags = (uint8_t)(NVMFT_CMD_PSDT_SGL_MPTR_CONTIG << NVMFT_CMD_PSDT_SHIFT);
	memset(sgl, 0, sizeof(*sgl));
	sgl->unkeyed.length = htole32(cmd->len);
	if (icd)
		sgl->unkeyed.type = NVMFT_SGL_TYPE_DATA_BLOCK << 4 | NVMFT_SGL_SUBTYPE_OFFSET;
	else
		sgl->unkeyed.type = NVMFT_SGL_TYPE_TRANSPORT_DATA_BLOCK << 4 |
				    NVMFT_SGL_SUBTYPE_TRANSPORT;

	hdr = q->stage + q->stage_len;
	n = nvmft_tcp_enc_cmd(hdr, &q->tp, sqe, icd ? cmd->len : 0);
	stage_take(q, n);
	tx_push(q, hdr, n);
	if (icd) {
		tx_push(q, cmd->buf, cmd->len);
		if (q->tp.ddgst)
			tx_push_ddgst(q, cmd->buf, cmd->len);
	}
	cmd->opc = sqe->opcode;
	cmd->state = PERF_CMD_INFLIGHT;
	cmd->t_submit = now;
	cmd->c2h_got = 0;
	cmd->r2tl = 0;
	q->outstanding++;
	return true;
}

/* Turn pending R2Ts into H2CData PDUs while there is room. */
static void tx_fill_h2c(struct perf_queue *q)
{
	struct perf_cmd *cmd;

	while ((cmd = q->h2c_head) != NULL) {
		while (cmd->r2t_sent < cmd->r2tl) {
			uint32_t left = cmd->r2tl - cmd->r2t_sent;
			uint32_t chunk = left < q->tp.maxh2cdata ? left : q->tp.maxh2cdata;
			uint32_t off = cmd->r2to + cmd->r2t_sent;
			uint8_t *hdr;
			size_t n;

			if (!tx_room(q, 3, NVMFT_TCP_HDR_AREA_MAX + NVMFT_TCP_DIGEST_LEN))
				return;
			hdr = q->stage + q->stage_len;
			n = nvmft_tcp_enc_h2c_data(hdr, &q->tp, cmd->cid, cmd->ttag, off, chunk,
						   chunk == left);
			stage_take(q, n);
			tx_push(q, hdr, n);
			tx_push(q, cmd->buf + off, chunk);
			if (q->tp.ddgst)
				tx_push_ddgst(q, cmd->buf + off, chunk);
			cmd->r2t_sent += chunk;
		}
		q->h2c_head = cmd->h2c_next;
		if (q->h2c_head == NULL)
			q->h2c_tail = NULL;
		cmd->h2c_next = NULL;
		cmd->h2c_queued = false;
	}
}

int perf_queue_flush(struct perf_queue *q)
{
	for (;;) {
		if (q->h2c_head)
			tx_fill_h2c(q);
		while (q->iov_idx < q->iov_cnt) {
			uint32_t cnt = q->iov_cnt - q->iov_idx;
			struct msghdr mh = {
				.msg_iov = &q->iov[q->iov_idx],
				.msg_iovlen = cnt < IOV_MAX ? cnt : IOV_MAX,
			};
			/* One piece (a lone command) goes with send(): cheaper than sendmsg() in the kernel. */
			ssize_t n = cnt == 1 ? send(q->fd, mh.msg_iov->iov_base, mh.msg_iov->iov_len,
						    MSG_NOSIGNAL | MSG_DONTWAIT) :
					       sendmsg(q->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return 0;
				if (errno == EINTR)
					continue;
				return perf_queue_fail(q, "send to the target failed: %s",
						       strerror(errno));
			}
			q->tx_calls++;
			q->tx_bytes += (uint64_t)n;
			while (n > 0) {
				struct iovec *v = &q->iov[q->iov_idx];

				if ((size_t)n >= v->iov_len) {
					n -= (ssize_t)v->iov_len;
					q->iov_idx++;
				} else {
					v->iov_base = (uint8_t *)v->iov_base + n;
					v->iov_len -= (size_t)n;
					n = 0;
				}
			}
		}
		/* Everything listed went out: the staging area is free again. */
		q->iov_cnt = 0;
		q->iov_idx = 0;
		q->stage_len = 0;
		if (q->h2c_head == NULL)
			return 0;
	}
}

void perf_queue_send_term(struct perf_queue *q, uint16_t fes, uint32_t fei)
{
	uint8_t pdu[NVMFT_TCP_TERM_MAX_LEN];
	size_t n = nvmft_tcp_enc_term(pdu, NVMFT_TCP_H2C_TERM, fes, fei, NULL, 0);

	if (q->fd >= 0 && send(q->fd, pdu, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return;
}

/* ---- Receive ---------------------------------------------------------------- */

static void cmd_finish(struct perf_queue *q, struct perf_cmd *cmd, uint16_t status)
{
	if (cmd->h2c_queued) {
		/* Completed while data was still owed (a failed write): drop the R2T. */
		struct perf_cmd **pp = &q->h2c_head, *prev = NULL;

		while (*pp && *pp != cmd) {
			prev = *pp;
			pp = &(*pp)->h2c_next;
		}
		if (*pp) {
			*pp = cmd->h2c_next;
			if (q->h2c_tail == cmd)
				q->h2c_tail = prev;
		}
		cmd->h2c_next = NULL;
		cmd->h2c_queued = false;
	}
	if (cmd->xfer_err && status == 0)
		status = PERF_STATUS_XFER;
	q->outstanding--;
	q->complete(q, cmd, status);
}

static struct perf_cmd *cmd_lookup(struct perf_queue *q, uint16_t cid)
{
	if (cid >= q->depth || q->cmds[cid].state != PERF_CMD_INFLIGHT)
		return NULL;
	return &q->cmds[cid];
}

static int rx_protocol_error(struct perf_queue *q, uint16_t fes, uint32_t fei, const char *what,
			     uint32_t v)
{
	perf_queue_send_term(q, fes, fei);
	return perf_queue_fail(q, "protocol error from the target: %s (%u); sent H2CTermReq FES %u",
			       what, v, fes);
}

/* The whole C2HData payload (and its digest) is in. */
static void rx_data_done(struct perf_queue *q)
{
	struct perf_cmd *cmd = q->rx_cmd;

	q->rx_cmd = NULL;
	if (q->tp.ddgst) {
		uint32_t got;

		memcpy(&got, q->rx_ddgst, sizeof(got));
		if (got != htole32(q->rx_crc))
			cmd->xfer_err = true;
	}
	if (q->rx_flags & NVMFT_TCP_F_DATA_SUCCESS) {
		/* SUCCESS stands in for a CapsuleResp: the command is over. */
		memset(&cmd->cpl, 0, sizeof(cmd->cpl));
		cmd_finish(q, cmd, cmd->c2h_got == cmd->len ? 0 : PERF_STATUS_XFER);
	}
}

/* Payload bytes landed at the command's buffer (already copied): account for them. */
static void rx_data_landed(struct perf_queue *q, const uint8_t *p, uint32_t n)
{
	if (q->tp.ddgst)
		q->rx_crc = nvmft_crc32c(q->rx_crc, p, n);
	q->rx_cmd->c2h_got += n;
	q->rx_left -= n;
}

static int rx_on_c2h(struct perf_queue *q, const struct nvmft_tcp_data *d, uint32_t data_len)
{
	uint16_t cid = le16toh(d->cccid);
	uint32_t datao = le32toh(d->datao);
	struct perf_cmd *cmd = cmd_lookup(q, cid);

	if (cmd == NULL || !cmd->to_host)
		return rx_protocol_error(q, NVMFT_TCP_FES_INVALID_HEADER_FIELD,
					 NVMFT_TCP_FEI_CCCID, "C2HData for no outstanding read, CCCID",
					 cid);
	if (datao != cmd->c2h_got)
		return rx_protocol_error(q, NVMFT_TCP_FES_DATA_OUT_OF_RANGE, 0,
					 "C2HData out of order, DATAO", datao);
	if ((uint64_t)datao + data_len > cmd->len)
		return rx_protocol_error(q, NVMFT_TCP_FES_DATA_OUT_OF_RANGE, 0,
					 "C2HData past the end of the transfer, DATAL", data_len);
	q->rx_cmd = cmd;
	q->rx_left = data_len;
	q->rx_crc = 0;
	q->rx_flags = d->ch.flags;
	q->rx_ddgst_got = 0;
	return 0;
}

static int rx_on_r2t(struct perf_queue *q, const struct nvmft_tcp_r2t *r)
{
	uint16_t cid = le16toh(r->cccid);
	uint32_t r2to = le32toh(r->r2to), r2tl = le32toh(r->r2tl);
	struct perf_cmd *cmd = cmd_lookup(q, cid);

	if (cmd == NULL || cmd->to_host)
		return rx_protocol_error(q, NVMFT_TCP_FES_INVALID_HEADER_FIELD,
					 NVMFT_TCP_FEI_CCCID, "R2T for no outstanding write, CCCID",
					 cid);
	if ((uint64_t)r2to + r2tl > cmd->len)
		return rx_protocol_error(q, NVMFT_TCP_FES_DATA_OUT_OF_RANGE, 0,
					 "R2T past the end of the transfer, R2TL", r2tl);
	/* We offered MAXR2T 0: one R2T at a time per command. */
	if (cmd->h2c_queued)
		return rx_protocol_error(q, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR, 0,
					 "second R2T while one is being answered, CCCID", cid);
	cmd->ttag = le16toh(r->ttag);
	cmd->r2to = r2to;
	cmd->r2tl = r2tl;
	cmd->r2t_sent = 0;
	cmd->h2c_next = NULL;
	cmd->h2c_queued = true;
	if (q->h2c_tail)
		q->h2c_tail->h2c_next = cmd;
	else
		q->h2c_head = cmd;
	q->h2c_tail = cmd;
	return 0;
}

static int rx_on_rsp(struct perf_queue *q, const struct nvmft_tcp_rsp *r)
{
	uint16_t cid = le16toh(r->cpl.cid);
	struct perf_cmd *cmd = cmd_lookup(q, cid);
	uint16_t status;

	if (cmd == NULL)
		return rx_protocol_error(q, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 8 + 12,
					 "CapsuleResp for no outstanding command, CID", cid);
	cmd->cpl = r->cpl;
	status = nvmft_status_from_wire(r->cpl.status);
	if (status == 0 && cmd->to_host && cmd->c2h_got != cmd->len)
		status = PERF_STATUS_XFER;
	cmd_finish(q, cmd, status);
	return 0;
}

static const char *fes_str(uint16_t fes)
{
	switch (fes) {
	case NVMFT_TCP_FES_INVALID_HEADER_FIELD:
		return "Invalid PDU Header Field";
	case NVMFT_TCP_FES_PDU_SEQUENCE_ERROR:
		return "PDU Sequence Error";
	case NVMFT_TCP_FES_HDGST_ERROR:
		return "Header Digest Error";
	case NVMFT_TCP_FES_DATA_OUT_OF_RANGE:
		return "Data Transfer Out Of Range";
	case NVMFT_TCP_FES_R2T_LIMIT_EXCEEDED:
		return "Data Transfer Limit Exceeded";
	case NVMFT_TCP_FES_UNSUPPORTED_PARAMETER:
		return "Unsupported Parameter";
	default:
		return "unknown";
	}
}

/*
 * Parse what the buffer holds.  Stops when a PDU is incomplete, leaving
 * rhead at its first byte (or inside a payload, tracked by rx_cmd).
 */
static void rx_parse(struct perf_queue *q)
{
	union {
		uint64_t align;
		uint8_t b[NVMFT_TCP_TERM_MAX_LEN + NVMFT_TCP_DIGEST_LEN];
		struct nvmft_tcp_ch ch;
		struct nvmft_tcp_data data;
		struct nvmft_tcp_r2t r2t;
		struct nvmft_tcp_rsp rsp;
		struct nvmft_tcp_term term;
		struct nvmft_tcp_icresp icresp;
	} h;
	struct nvmft_tcp_err err;

	while (!q->failed) {
		size_t avail = q->rtail - q->rhead;
		uint32_t hdr_total, data_len, need;
		const uint8_t *p = q->rbuf + q->rhead;

		if (q->rx_cmd) {
			if (q->rx_left) {
				uint32_t n = avail < q->rx_left ? (uint32_t)avail : q->rx_left;
				uint8_t *dst = q->rx_cmd->buf + q->rx_cmd->c2h_got;

				if (q->rx_mode == PERF_RX_DISCARD) {
					rx_data_landed(q, NULL, n);
					q->rx_discard_bytes += n;
				} else {
					memcpy(dst, p, n);
					rx_data_landed(q, dst, n);
					q->rx_copy_bytes += n;
				}
				q->rhead += n;
				avail -= n;
				p += n;
				if (q->rx_left)
					return;
			}
			if (q->tp.ddgst) {
				uint32_t n = NVMFT_TCP_DIGEST_LEN - q->rx_ddgst_got;

				if (n > avail)
					n = (uint32_t)avail;
				memcpy(q->rx_ddgst + q->rx_ddgst_got, p, n);
				q->rx_ddgst_got = (uint8_t)(q->rx_ddgst_got + n);
				q->rhead += n;
				if (q->rx_ddgst_got < NVMFT_TCP_DIGEST_LEN)
					return;
			}
			rx_data_done(q);
			continue;
		}
		if (avail < sizeof(struct nvmft_tcp_ch))
			return;
		memcpy(&h.ch, p, sizeof(h.ch));
		if (nvmft_tcp_check_ch(NVMFT_TCP_ROLE_HOST, &q->tp, &h.ch, &err)) {
			rx_protocol_error(q, err.fes, err.fei, "bad PDU common header, type",
					  h.ch.type);
			return;
		}
		hdr_total = h.ch.hlen;
		if (q->tp.hdgst && nvmft_tcp_type_has_digest(h.ch.type))
			hdr_total += NVMFT_TCP_DIGEST_LEN;
		/* Data PDUs: header, digest and padding up to PDO; TermReq: the whole PDU. */
		need = hdr_total;
		if (h.ch.type == NVMFT_TCP_C2H_DATA && h.ch.pdo > need)
			need = h.ch.pdo;
		if (h.ch.type == NVMFT_TCP_C2H_TERM) {
			need = le32toh(h.ch.plen);
			if (need > NVMFT_TCP_TERM_MAX_LEN || need < hdr_total)
				need = hdr_total;
		}
		if (avail < need)
			return;
		memcpy(h.b, p, hdr_total);
		if (hdr_total > h.ch.hlen) {
			uint32_t want = nvmft_tcp_digest(h.b, h.ch.hlen), have;

			memcpy(&have, h.b + h.ch.hlen, sizeof(have));
			if (want != have) {
				rx_protocol_error(q, NVMFT_TCP_FES_HDGST_ERROR, le32toh(have),
						  "header digest mismatch, PDU type", h.ch.type);
				return;
			}
		}
		if (nvmft_tcp_check_hdr(NVMFT_TCP_ROLE_HOST, &q->tp, h.b, &data_len, &err)) {
			rx_protocol_error(q, err.fes, err.fei, "bad PDU header, type", h.ch.type);
			return;
		}
		q->pdus++;
		switch (h.ch.type) {
		case NVMFT_TCP_RSP:
			q->rhead += hdr_total;
			rx_on_rsp(q, &h.rsp);
			break;
		case NVMFT_TCP_C2H_DATA:
			q->rhead += h.ch.pdo;
			rx_on_c2h(q, &h.data, data_len);
			break;
		case NVMFT_TCP_R2T:
			q->rhead += hdr_total;
			rx_on_r2t(q, &h.r2t);
			break;
		case NVMFT_TCP_ICRESP:
			q->rhead += hdr_total;
			nvmft_tcp_icresp_accept(&h.icresp, &q->tp);
			break;
		case NVMFT_TCP_C2H_TERM:
			perf_queue_fail(q, "the target ended the connection with C2HTermReq: "
				      "FES %u (%s), FEI 0x%x", le16toh(h.term.fes),
				      fes_str(le16toh(h.term.fes)), le32toh(h.term.fei));
			return;
		default:
			rx_protocol_error(q, NVMFT_TCP_FES_INVALID_HEADER_FIELD, NVMFT_TCP_FEI_TYPE,
					  "unexpected PDU type", h.ch.type);
			return;
		}
	}
}

/* Direct mode, payload outstanding: readv() into the command, its digest, then the buffer. */
static ssize_t rx_direct(struct perf_queue *q)
{
	struct perf_cmd *cmd = q->rx_cmd;
	struct iovec v[3];
	int cnt = 0;
	ssize_t n;
	size_t rest;

	q->rhead = 0;
	q->rtail = 0;
	if (q->rx_left) {
		v[cnt].iov_base = cmd->buf + cmd->c2h_got;
		v[cnt++].iov_len = q->rx_left;
	}
	if (q->tp.ddgst) {
		v[cnt].iov_base = q->rx_ddgst + q->rx_ddgst_got;
		v[cnt++].iov_len = NVMFT_TCP_DIGEST_LEN - q->rx_ddgst_got;
	}
	v[cnt].iov_base = q->rbuf;
	v[cnt++].iov_len = RX_DIRECT_WINDOW < q->rcap ? RX_DIRECT_WINDOW : q->rcap;
	n = readv(q->fd, v, cnt);
	if (n <= 0)
		return n;
	rest = (size_t)n;
	if (q->rx_left) {
		uint32_t d = rest < q->rx_left ? (uint32_t)rest : q->rx_left;

		rx_data_landed(q, cmd->buf + cmd->c2h_got, d);
		q->rx_direct_bytes += d;
		rest -= d;
		if (q->rx_left)
			return n;
	}
	if (q->tp.ddgst) {
		uint32_t d = NVMFT_TCP_DIGEST_LEN - q->rx_ddgst_got;

		if (d > rest)
			d = (uint32_t)rest;
		q->rx_ddgst_got = (uint8_t)(q->rx_ddgst_got + d);
		rest -= d;
		if (q->rx_ddgst_got < NVMFT_TCP_DIGEST_LEN)
			return n;
	}
	rx_data_done(q);
	q->rtail = rest;
	return n;
}

/*
 * Discard mode: what is left of the payload stays in the kernel, which
 * frees it uncopied (MSG_TRUNC on TCP); the PDU behind it comes with the
 * next receive.  No data digest is on (the options exclude it).
 */
static ssize_t rx_discard(struct perf_queue *q)
{
	ssize_t n = recv(q->fd, NULL, q->rx_left, MSG_TRUNC | MSG_DONTWAIT);

	if (n <= 0)
		return n;
	/* The kernel never takes more than asked: n <= rx_left. */
	rx_data_landed(q, NULL, (uint32_t)n);
	q->rx_discard_bytes += (uint64_t)n;
	return n;
}

static bool rx_bypass(const struct perf_queue *q)
{
	return q->rx_mode == PERF_RX_DIRECT || q->rx_mode == PERF_RX_DISCARD;
}

static bool rx_use_direct(const struct perf_queue *q)
{
	/* Only worth a syscall of its own when a real amount is still to come. */
	return rx_bypass(q) && q->rx_cmd != NULL && q->rx_left >= 512;
}

ssize_t perf_queue_poll_rx(struct perf_queue *q, uint64_t *now)
{
	ssize_t n;

	if (q->failed)
		return -1;
	if (rx_use_direct(q)) {
		n = q->rx_mode == PERF_RX_DISCARD ? rx_discard(q) : rx_direct(q);
	} else {
		size_t room;

		if (q->rhead == q->rtail) {
			q->rhead = 0;
			q->rtail = 0;
		} else if (q->rcap - q->rtail < NVMFT_TCP_TERM_MAX_LEN * 2 || q->rhead > q->rcap / 2) {
			/* What is left is part of one header: cheap to move. */
			memmove(q->rbuf, q->rbuf + q->rhead, q->rtail - q->rhead);
			q->rtail -= q->rhead;
			q->rhead = 0;
		}
		room = q->rcap - q->rtail;
		if (rx_bypass(q) && room > RX_DIRECT_WINDOW)
			room = RX_DIRECT_WINDOW;
		n = recv(q->fd, q->rbuf + q->rtail, room, MSG_DONTWAIT);
		if (n > 0)
			q->rtail += (size_t)n;
	}
	if (n == 0)
		return perf_queue_fail(q, "the target closed the connection (qid %u)", q->qid);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		return perf_queue_fail(q, "receive from the target failed: %s", strerror(errno));
	}
	q->rx_calls++;
	q->rx_bytes += (uint64_t)n;
	*now = perf_ticks();
	rx_parse(q);
	return q->failed ? -1 : n;
}

/* ---- Status text -------------------------------------------------------------- */

static const char *sc_generic(uint8_t sc)
{
	switch (sc) {
	case 0x00: return "Successful Completion";
	case 0x01: return "Invalid Command Opcode";
	case 0x02: return "Invalid Field in Command";
	case 0x03: return "Command ID Conflict";
	case 0x04: return "Data Transfer Error";
	case 0x06: return "Internal Error";
	case 0x07: return "Command Abort Requested";
	case 0x08: return "Command Aborted due to SQ Deletion";
	case 0x0b: return "Invalid Namespace or Format";
	case 0x0c: return "Command Sequence Error";
	case 0x0d: return "Invalid SGL Segment Descriptor";
	case 0x0f: return "Data SGL Length Invalid";
	case 0x11: return "SGL Descriptor Type Invalid";
	case 0x13: return "Invalid SGL Offset";
	case 0x1d: return "Namespace Is Write Protected";
	case 0x22: return "Transient Transport Error";
	case 0x80: return "LBA Out of Range";
	case 0x81: return "Capacity Exceeded";
	case 0x82: return "Namespace Not Ready";
	default: return NULL;
	}
}

static const char *sc_specific(uint8_t sc, uint8_t opc, bool admin)
{
	if (opc == NVMFT_OPC_FABRICS) {
		switch (sc) {
		case 0x80: return "Connect Incompatible Format";
		case 0x81: return "Connect Controller Busy";
		case 0x82: return "Connect Invalid Parameters";
		case 0x83: return "Connect Restart Discovery";
		case 0x84: return "Connect Invalid Host";
		default: return NULL;
		}
	}
	if (admin) {
		switch (sc) {
		case 0x01: return "Invalid Queue Identifier";
		case 0x02: return "Invalid Queue Size";
		case 0x06: return "Invalid Firmware Slot";
		case 0x0d: return "Feature Identifier Not Saveable";
		case 0x0e: return "Feature Not Changeable";
		case 0x0f: return "Feature Not Namespace Specific";
		default: return NULL;
		}
	}
	switch (sc) {
	case 0x80: return "Conflicting Attributes";
	case 0x81: return "Invalid Protection Information";
	case 0x82: return "Attempted Write to Read Only Range";
	default: return NULL;
	}
}

const char *perf_status_str(uint16_t status, uint8_t opc, bool admin, char *buf, size_t len)
{
	uint8_t sct = (status >> NVME_SCT_SHIFT) & NVME_SCT_MASK, sc = status & 0xff;
	const char *name = NULL;

	if (status == PERF_STATUS_XFER) {
		snprintf(buf, len, "transport data error (data digest mismatch or data missing)");
		return buf;
	}
	if (sct == NVME_SCT_GENERIC)
		name = sc_generic(sc);
	else if (sct == NVME_SCT_CMD_SPECIFIC)
		name = sc_specific(sc, opc, admin);
	else if (sct == NVME_SCT_MEDIA)
		name = "Media and Data Integrity Error";
	else if (sct == NVME_SCT_PATH)
		name = "Path Related Status";
	snprintf(buf, len, "status 0x%04x: SCT %xh SC %02xh (%s)%s", status, sct, sc,
		 name ? name : "unknown", (status & NVME_SC_DNR) ? ", DNR" : "");
	return buf;
}
