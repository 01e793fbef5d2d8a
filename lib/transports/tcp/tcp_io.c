/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/TCP command and data flow on one connection: what each received
 * PDU means (ICReq, CapsuleCmd, H2CData, H2CTermReq), how a command gets
 * its data (in-capsule, pool buffers filled through R2T/H2CData, or the
 * backend's own memory for reads), and the send queue that carries R2Ts,
 * C2HData and CapsuleResps out in as few sendmsg() calls as possible.
 *
 * A request moves TCP_REQ_CAPSULE (its in-capsule data arriving) ->
 * TCP_REQ_CORE (parsed and executed by the core, or waiting in it) with
 * detours through TCP_REQ_WAIT_BUF (pool exhausted) and TCP_REQ_H2C (write
 * data requested) -> TCP_REQ_TX (response queued) -> free once the socket
 * took the last byte of the response.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/req.h"
#include "core/target.h"
#include "core/transport.h"
#include "transports/tcp/tcp_internal.h"
#include "util/time.h"
#include "util/crc32c.h"
#include "util/log.h"

/* The ICReq DGST bits and the transport option bits are the same. */
static_assert((int)NVMFT_DIGEST_HEADER == (int)NVMFT_TCP_DGST_HDR, "digest bits");
static_assert((int)NVMFT_DIGEST_DATA == (int)NVMFT_TCP_DGST_DATA, "digest bits");

#define ST_GEN(sc) NVMFT_STATUS(NVME_SCT_GENERIC, sc)
#define ST_GEN_DNR(sc) NVMFT_STATUS_DNR(NVME_SCT_GENERIC, sc)
/* SGL Descriptor Subtype Invalid (NVMe base 2.0); libnvme 1.3 has no name for it. */
#define TCP_SC_SGL_INVALID_SUBTYPE 0x17
/* What a data digest failure completes the command with: the host may retry. */
#define TCP_ST_DIGEST ST_GEN(NVME_SC_TRAN_TPORT_ERROR)

static const struct nvmft_logger *io_log(const struct tcp_conn *c)
{
	return &c->qp.tr->tgt->log;
}

/*
 * The host is done with @t.  An orphan (answered at a namespace's drain
 * deadline while its backend still holds it) keeps its slot, as if still in
 * the core, until tcp_req_recycle().
 */
static void tcp_req_done(struct tcp_req *t)
{
	if (nvmft_req_release(&t->req))
		tcp_req_put(t);
	else
		t->state = TCP_REQ_CORE;
}

void tcp_req_recycle(struct nvmft_req *req)
{
	tcp_req_put(tcp_req_of(req));
}

static uint8_t short_hdr_len(const struct tcp_conn *c)
{
	return (uint8_t)(NVMFT_TCP_RSP_HLEN + (c->params.hdgst ? NVMFT_TCP_DIGEST_LEN : 0));
}

/* ---- Send queue ------------------------------------------------------------------ */

static void tx_enqueue(struct tcp_req *t)
{
	struct tcp_conn *c = t->c;

	if (!t->on_txq) {
		TAILQ_INSERT_TAIL(&c->txq, t, link);
		t->on_txq = true;
	}
	tcp_conn_want_flush(c);
}

/* Bytes the request still has in the send queue, from its first unsent PDU on. */
static size_t tx_bytes(const struct tcp_req *t)
{
	const struct tcp_conn *c = t->c;
	size_t n = (size_t)t->r2t_pending * short_hdr_len(c);

	if (t->tx_c2h)
		n += t->c2h_hdr_len + (size_t)t->req.length +
		     (c->params.ddgst ? NVMFT_TCP_DIGEST_LEN : 0);
	if (t->tx_rsp)
		n += short_hdr_len(c);
	return n;
}

struct tx_vec {
	struct iovec *iov;
	int n;
	int max;
	size_t skip; /* already sent: leave out */
	size_t total;
	/* The gather stopped at this request's data, to be spliced from splice_off on. */
	struct tcp_req *splice;
	size_t splice_off;
};

static bool tx_add(struct tx_vec *v, const void *p, size_t len)
{
	if (v->skip >= len) {
		v->skip -= len;
		return true;
	}
	if (v->n == v->max)
		return false;
	v->iov[v->n].iov_base = (uint8_t *)p + v->skip;
	v->iov[v->n].iov_len = len - v->skip;
	v->total += len - v->skip;
	v->skip = 0;
	v->n++;
	return true;
}

/* @req's data, clipped to its length (the entries may be longer); false when the list is full. */
static bool tx_add_data(struct tx_vec *v, const struct nvmft_req *req)
{
	size_t left = req->length;

	/* Zero copy: the entries point at pool or backend memory. */
	for (int i = 0; i < req->iovcnt && left > 0; i++) {
		size_t l = NVMFT_MIN(req->iov[i].iov_len, left);

		if (!tx_add(v, req->iov[i].iov_base, l))
			return false;
		left -= l;
	}
	return true;
}

/* ---- Spliced sends ------------------------------------------------------------- */

void tcp_conn_pipe_close(struct tcp_conn *c)
{
	if (c->pipe_rd >= 0) {
		close(c->pipe_rd);
		close(c->pipe_wr);
	}
	c->pipe_rd = -1;
	c->pipe_wr = -1;
	c->pipe_len = 0;
}

static bool pipe_open(struct tcp_conn *c)
{
	int p[2];

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
		/* Out of descriptors: this connection copies, as it did before. */
		nvmft_debug(io_log(c), "tcp: qid %u: no pipe for spliced reads: %s", c->qp.qid,
			    strerror(errno));
		c->no_splice = true;
		return false;
	}
	/* A smaller pipe (the system's limit) only means more calls per read. */
	(void)fcntl(p[1], F_SETPIPE_SZ, TCP_PIPE_SIZE);
	c->pipe_rd = p[0];
	c->pipe_wr = p[1];
	return true;
}

/*
 * The kernel may read @t's data by reference only if nobody ever writes it:
 * it reads it when the host's side takes it in, after the request is gone.
 */
static bool tx_can_splice(struct tcp_conn *c, const struct tcp_req *t)
{
	const uint16_t both = NVMFT_REQ_F_BE_IOV | NVMFT_REQ_F_CONST_DATA;

	if ((t->req.flags & both) != both || t->req.length < TCP_SPLICE_MIN || c->no_splice)
		return false;
	return c->pipe_wr >= 0 || pipe_open(c);
}

/*
 * splice() into a socket the host has closed raises SIGPIPE: it has no
 * MSG_NOSIGNAL.  The library installs no handlers and must not kill its
 * host application, so SIGPIPE is blocked on this thread around the calls,
 * and one they raised is taken back before the old mask returns.
 */
static int tx_pipe_splice(struct tcp_conn *c)
{
	sigset_t pipe_set, old;
	int rc = 1;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	while (c->pipe_len > 0) {
		ssize_t r = splice(c->pipe_rd, NULL, c->fd, NULL, c->pipe_len,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EPIPE && !sigismember(&old, SIGPIPE)) {
			const struct timespec now = { 0, 0 };

			(void)sigtimedwait(&pipe_set, NULL, &now);
		}
		if (r <= 0) {
			rc = r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
			break;
		}
		c->pipe_len -= (uint32_t)r;
		c->tx_spliced += (uint64_t)r;
		if (c->pollout)
			c->tx_progress_ms = nvmft_now_ms();
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Put @t's data from @off on into the pipe by reference; the bytes taken, or -1. */
static ssize_t tx_pipe_fill(struct tcp_conn *c, const struct tcp_req *t, size_t off)
{
	struct iovec iov[NVMFT_REQ_INLINE_IOV];
	struct tx_vec v = { .iov = iov, .max = NVMFT_REQ_INLINE_IOV, .skip = off };
	ssize_t r;

	/* Always fits: backend-supplied entries are inline ones. */
	(void)tx_add_data(&v, &t->req);
	do
		r = vmsplice(c->pipe_wr, iov, (unsigned long)v.n, SPLICE_F_NONBLOCK);
	while (r < 0 && errno == EINTR);
	return r;
}

static bool tx_add_req(struct tx_vec *v, struct tcp_req *t)
{
	const struct nvmft_req *req = &t->req;
	size_t hl = short_hdr_len(t->c);

	for (int i = 0; i < t->r2t_pending; i++)
		if (!tx_add(v, t->r2t_hdr[i], hl))
			return false;
	if (t->tx_c2h) {
		if (!tx_add(v, t->c2h_hdr, t->c2h_hdr_len))
			return false;
		if (tx_can_splice(t->c, t)) {
			if (v->skip < req->length) {
				/* Ends the gather: the data goes by the pipe, the rest after it. */
				v->splice = t;
				v->splice_off = v->skip;
				v->skip = 0;
				return false;
			}
			/* All of it is in the pipe (or beyond) already. */
			v->skip -= req->length;
		} else if (!tx_add_data(v, req)) {
			return false;
		}
		if (t->c->params.ddgst && !tx_add(v, &t->ddgst, sizeof(t->ddgst)))
			return false;
	}
	if (t->tx_rsp && !tx_add(v, t->rsp_hdr, hl))
		return false;
	return true;
}

static void tx_done(struct tcp_req *t)
{
	struct tcp_conn *c = t->c;
	bool response = t->tx_c2h || t->tx_rsp;

	TAILQ_REMOVE(&c->txq, t, link);
	t->on_txq = false;
	t->r2t_pending = 0;
	if (response) {
		t->tx_c2h = false;
		t->tx_rsp = false;
		tcp_req_done(t);
	}
}

static void tx_consume(struct tcp_conn *c, size_t n)
{
	if (c->ctl_off < c->ctl_len) {
		size_t k = NVMFT_MIN(n, (size_t)(c->ctl_len - c->ctl_off));

		c->ctl_off += (uint32_t)k;
		n -= k;
		if (c->ctl_off == c->ctl_len)
			c->ctl_off = c->ctl_len = 0;
	}
	while (n > 0) {
		struct tcp_req *t = TAILQ_FIRST(&c->txq);
		size_t left;

		if (t == NULL) {
			/* Only the TermReq comes after the queue. */
			c->term_off += (uint32_t)n;
			return;
		}
		left = tx_bytes(t) - c->tx_skip;

		if (n < left) {
			c->tx_skip += n;
			return;
		}
		n -= left;
		c->tx_skip = 0;
		tx_done(t);
	}
}

/*
 * Either way a host can sit on pool buffers without moving: it stops
 * reading its responses (the send queue backs up), or it stops sending the
 * write data it was asked for.  While the send queue is backed up, write
 * data owed may be R2Ts that never left, so only the send side counts.
 */
static void tx_stall_expired(struct nvmft_timer *timer)
{
	struct tcp_conn *c = nvmft_container_of(timer, struct tcp_conn, stall_timer);
	uint32_t stall = c->qp.tr->opts.stall_timeout_ms;
	uint64_t now = nvmft_now_ms();
	uint64_t since;

	if (c->dead)
		return;
	if (c->pollout)
		since = c->tx_progress_ms;
	else if (c->h2c_waiting > 0)
		since = c->rx_progress_ms;
	else
		return;
	if (now - since < stall) {
		/* It moved since the timer was set: look again a full period after that. */
		nvmft_pg_timer_arm(c->qp.pg, &c->stall_timer, since + stall);
		return;
	}
	tcp_conn_close(c, c->pollout ? "the host stopped reading its responses"
				     : "the host stopped sending the write data it announced");
}

static void stall_timer_start(struct tcp_conn *c, uint64_t from_ms)
{
	if (c->stall_timer.deadline_ms != 0)
		return;
	c->stall_timer.fn = tx_stall_expired;
	nvmft_pg_timer_arm(c->qp.pg, &c->stall_timer, from_ms + c->qp.tr->opts.stall_timeout_ms);
}

static void tx_pollout(struct tcp_conn *c, bool on)
{
	if (c->pollout == on)
		return;
	if (tcp_conn_epoll(c, on) != 0)
		return;
	c->pollout = on;
	if (on) {
		/* Only a backlogged connection pays for the clock and the timer. */
		c->tx_progress_ms = nvmft_now_ms();
		stall_timer_start(c, c->tx_progress_ms);
	} else if (c->h2c_waiting > 0) {
		/* R2Ts held in the backlog have just gone out: the host's clock starts now. */
		c->rx_progress_ms = nvmft_now_ms();
	}
}

/* A request starts or stops waiting for H2CData. */
static void h2c_wait(struct tcp_req *t, bool on)
{
	struct tcp_conn *c = t->c;

	if (!on) {
		c->h2c_waiting--;
		return;
	}
	if (c->h2c_waiting++ == 0) {
		c->rx_progress_ms = nvmft_now_ms();
		stall_timer_start(c, c->rx_progress_ms);
	}
}

static void tx_off_flush_list(struct tcp_conn *c)
{
	if (c->on_flush) {
		TAILQ_REMOVE(&c->tpg->flush, c, flush_link);
		c->on_flush = false;
	}
}

/* The socket is full: it says when it has room again. */
static int tx_wait_room(struct tcp_conn *c, int sent)
{
	tx_off_flush_list(c);
	tx_pollout(c, true);
	return sent;
}

int tcp_conn_flush(struct tcp_conn *c)
{
	int sent = 0;

	while (!c->dead) {
		/* Only this thread's connections use it, and only until sendmsg(). */
		struct iovec *iov = c->tpg->tx_iov;
		struct tx_vec v = { .iov = iov, .max = TCP_TX_IOV };
		struct msghdr msg = { .msg_iov = iov };
		struct tcp_req *t;
		bool all = true;
		ssize_t r;

		/* What the pipe holds comes before anything queued behind it. */
		if (c->pipe_len > 0) {
			int rc = tx_pipe_splice(c);

			if (rc < 0) {
				tcp_conn_close(c, "splice failed");
				return sent;
			}
			if (rc == 0)
				return tx_wait_room(c, sent);
			sent = 1;
		}
		if (c->ctl_off < c->ctl_len)
			tx_add(&v, c->ctl + c->ctl_off, c->ctl_len - c->ctl_off);
		v.skip = c->tx_skip;
		TAILQ_FOREACH(t, &c->txq, link) {
			if (!tx_add_req(&v, t)) {
				all = false;
				break;
			}
		}
		if (all && c->term_off < c->term_len)
			tx_add(&v, c->term + c->term_off, c->term_len - c->term_off);
		if (v.total == 0 && v.splice == NULL)
			break;
		if (v.n > 0) {
			/* Spliced data follows at once: no segment for the header alone. */
			int flags = MSG_NOSIGNAL | MSG_DONTWAIT | (v.splice != NULL ? MSG_MORE : 0);

			msg.msg_iovlen = (size_t)v.n;
			/*
			 * One piece (a lone CapsuleResp, say) goes with send(): the
			 * kernel's sendmsg() path costs ~0.1 µs more per call here
			 * (the message header and iovec copied in, the iterator).
			 */
			if (v.n == 1)
				r = send(c->fd, iov[0].iov_base, iov[0].iov_len, flags);
			else
				r = sendmsg(c->fd, &msg, flags);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return tx_wait_room(c, sent);
				tcp_conn_close(c, "send failed");
				return sent;
			}
			sent = 1;
			if (c->pollout)
				c->tx_progress_ms = nvmft_now_ms();
			tx_consume(c, (size_t)r);
			if ((size_t)r < v.total)
				return tx_wait_room(c, sent);
		}
		if (v.splice != NULL) {
			/* The pipe is empty here, so it takes at least a page. */
			r = tx_pipe_fill(c, v.splice, v.splice_off);
			if (r <= 0) {
				/* Copy this and every later read instead. */
				nvmft_debug(io_log(c), "tcp: qid %u: vmsplice: %s; reads are copied",
					    c->qp.qid, r < 0 ? strerror(errno) : "no progress");
				c->no_splice = true;
				continue;
			}
			/* In the pipe the bytes are as good as sent: tx_pipe_splice() moves them. */
			c->pipe_len += (uint32_t)r;
			tx_consume(c, (size_t)r);
			continue;
		}
		/*
		 * All of it went: go round again only if finishing those requests
		 * queued more, rather than gathering an empty list to find out.
		 */
		if (TAILQ_EMPTY(&c->txq) && c->ctl_len == 0 && c->term_off >= c->term_len)
			break;
	}
	if (!c->dead) {
		tx_off_flush_list(c);
		/* Checked here: with a few commands per flush the call itself shows. */
		if (c->pollout)
			tx_pollout(c, false);
		/* The TermReq, and everything before it, is out. */
		if (c->terminating)
			tcp_conn_terminated(c);
	}
	return sent;
}

size_t tcp_req_tx_trim(struct tcp_req *t, size_t sent)
{
	const struct tcp_conn *c = t->c;
	size_t hl = short_hdr_len(c), end = 0;
	uint8_t r2ts = 0;

	/* The R2Ts come first, then C2HData, then the CapsuleResp. */
	while (r2ts < t->r2t_pending && end < sent) {
		end += hl;
		r2ts++;
	}
	if (end >= sent) {
		t->r2t_pending = r2ts;
		t->tx_c2h = false;
		t->tx_rsp = false;
	} else if (t->tx_c2h) {
		end += t->c2h_hdr_len + (size_t)t->req.length +
		       (c->params.ddgst ? NVMFT_TCP_DIGEST_LEN : 0);
		if (end >= sent)
			t->tx_rsp = false;
	}
	return tx_bytes(t) - sent;
}

void tcp_conn_terminate(struct tcp_conn *c, size_t len)
{
	struct tcp_req *t = TAILQ_FIRST(&c->txq), *next;

	c->terminating = true;
	c->term_len = (uint32_t)len;
	c->term_off = 0;
	/*
	 * A PDU cut short would leave the host unable to find the TermReq in
	 * the stream: the one part-way out is finished, the rest never
	 * starts.  An ICResp not started yet is dropped like any other PDU.
	 */
	if (c->ctl_off == 0)
		c->ctl_len = 0;
	if (t != NULL && c->tx_skip > 0) {
		next = TAILQ_NEXT(t, link);
		if (tcp_req_tx_trim(t, c->tx_skip) == 0) {
			/* It ended on a PDU boundary: nothing of it is left to send. */
			c->tx_skip = 0;
			tx_done(t);
		}
		t = next;
	}
	/* Requests taken off the queue are given back when the connection closes. */
	for (; t != NULL; t = next) {
		next = TAILQ_NEXT(t, link);
		TAILQ_REMOVE(&c->txq, t, link);
		t->on_txq = false;
	}
	/* Input stops waking the group; a connection this closes sends nothing. */
	tcp_conn_epoll(c, c->pollout);
	tcp_conn_flush(c);
}

/* ---- Completions ------------------------------------------------------------------ */

/* Connect succeeded: the queue's real depth and in-capsule limit are known now. */
static void conn_connected(struct tcp_conn *c)
{
	const struct nvmft_transport_opts *o = &c->qp.tr->opts;
	uint32_t icd = o->in_capsule_data_size;
	int rc;

	if (nvmft_qpair_is_admin(&c->qp))
		icd = NVMFT_MAX(icd, (uint32_t)TCP_ADMIN_ICD);
	c->params.icd_max = icd;
	c->depth = (uint32_t)c->qp.sqsize + 1;
	rc = tcp_conn_reserve(c, c->depth, icd);
	if (rc < 0) {
		nvmft_err(io_log(c), "tcp: no memory for %u requests on qid %u", c->qp.sqsize + 1u,
			  c->qp.qid);
		tcp_conn_close(c, "out of memory");
		return;
	}
	/* Tells a test (and an operator) which path reads take on this queue. */
	if (c->qp.sq_flow_disabled)
		nvmft_debug(io_log(c), "tcp: qid %u: SQ flow control disabled: reads end with %s",
			    c->qp.qid, o->c2h_success ? "C2HData SUCCESS" : "a CapsuleResp");
}

static bool is_connect(const struct nvmft_cmd *cmd)
{
	return cmd->opcode == NVMFT_OPC_FABRICS &&
	       ((const struct nvmft_fabrics_cmd *)cmd)->fctype == NVMFT_FCTYPE_CONNECT;
}

void tcp_req_complete(struct nvmft_req *req)
{
	struct tcp_req *t = tcp_req_of(req);
	struct tcp_conn *c = t->c;
	uint16_t status = nvmft_status_from_wire(req->cpl.status);

	if (!c->dead && !c->terminating && status == 0 && is_connect(&req->cmd))
		conn_connected(c);
	/* Nothing but the TermReq goes out any more. */
	if (c->dead || c->terminating) {
		if (t->on_txq) {
			TAILQ_REMOVE(&c->txq, t, link);
			t->on_txq = false;
		}
		tcp_req_done(t);
		return;
	}
	t->state = TCP_REQ_TX;
	if (req->xfer == NVMFT_XFER_C2H && status == 0 && req->length > 0) {
		/*
		 * SUCCESS replaces the CapsuleResp, whose SQHD then never
		 * reaches the host: only allowed with SQ flow control off.
		 */
		bool success = c->qp.tr->opts.c2h_success && c->qp.sq_flow_disabled;
		uint8_t flags = NVMFT_TCP_F_DATA_LAST | (success ? NVMFT_TCP_F_DATA_SUCCESS : 0);

		t->c2h_hdr_len = (uint8_t)nvmft_tcp_enc_c2h_data(t->c2h_hdr, &c->params,
								 le16toh(req->cmd.cid), 0,
								 req->length, flags);
		if (c->params.ddgst)
			t->ddgst = htole32(nvmft_crc32c_iov(0, req->iov, req->iovcnt, 0,
							    req->length));
		t->tx_c2h = true;
		if (success) {
			tx_enqueue(t);
			return;
		}
	}
	nvmft_tcp_enc_rsp(t->rsp_hdr, &c->params, &req->cpl);
	t->tx_rsp = true;
	tx_enqueue(t);
}

/* ---- Commands ------------------------------------------------------------------------- */

static uint32_t r2t_outstanding(const struct tcp_req *t)
{
	return NVMFT_DIV_ROUND_UP(t->r2t_off - t->h2c_got, t->r2t_size);
}

/* Ask for more write data while the host allows more R2Ts in flight. */
static void issue_r2ts(struct tcp_req *t)
{
	struct tcp_conn *c = t->c;
	/* As many as the host takes, and as the TTAG has sequence numbers for. */
	uint32_t max = NVMFT_MIN(c->params.maxr2t, (1u << c->r2t_shift) - 1) + 1;
	bool queued = false;

	while (t->r2t_off < t->req.length && r2t_outstanding(t) < max &&
	       t->r2t_pending < TCP_R2T_MAX) {
		uint32_t len = NVMFT_MIN(t->r2t_size, t->req.length - t->r2t_off);

		nvmft_tcp_enc_r2t(t->r2t_hdr[t->r2t_pending], &c->params, le16toh(t->req.cmd.cid),
				  tcp_ttag(t, t->r2t_off / t->r2t_size), t->r2t_off, len);
		t->r2t_pending++;
		t->r2t_off += len;
		queued = true;
	}
	if (queued)
		tx_enqueue(t);
}

/* Buffers in hand: fetch write data, or run the command. */
static void cmd_have_buffers(struct tcp_req *t)
{
	struct nvmft_req *req = &t->req;

	if (req->xfer == NVMFT_XFER_H2C && req->length > 0) {
		t->state = TCP_REQ_H2C;
		h2c_wait(t, true);
		t->h2c_got = 0;
		t->r2t_off = 0;
		t->h2c_status = 0;
		t->r2t_size = t->c->params.maxh2cdata;
		issue_r2ts(t);
		return;
	}
	t->state = TCP_REQ_CORE;
	nvmft_req_execute(req);
}

static uint8_t cmd_xfer(const struct nvmft_cmd *cmd)
{
	if (cmd->opcode == NVMFT_OPC_FABRICS)
		return ((const struct nvmft_fabrics_cmd *)cmd)->fctype & 3;
	return cmd->opcode & 3;
}

/*
 * SGL1 of a capsule that carried @icd_len bytes: an offset Data Block for
 * in-capsule data, a Transport Data Block for data moved by R2T/C2HData,
 * or nothing.  Keyed descriptors belong to RDMA.
 */
static uint16_t cmd_parse_sgl(const struct nvmft_cmd *cmd, uint32_t icd_len, uint32_t *len,
			      bool *incapsule)
{
	const struct nvmft_sgl_desc *sgl = &cmd->dptr.sgl1;
	uint32_t l = le32toh(sgl->unkeyed.length);

	*incapsule = false;
	*len = 0;
	switch (nvmft_sgl_type(sgl)) {
	case NVMFT_SGL_TYPE_DATA_BLOCK:
		if (nvmft_sgl_subtype(sgl) == NVMFT_SGL_SUBTYPE_OFFSET) {
			if (le64toh(sgl->addr) != 0)
				return ST_GEN_DNR(NVME_SC_SGL_INVALID_OFFSET);
			if (l > icd_len)
				return ST_GEN_DNR(NVME_SC_SGL_INVALID_DATA);
			if (l > 0 && cmd_xfer(cmd) != NVMFT_XFER_H2C)
				return ST_GEN_DNR(NVME_SC_SGL_INVALID_TYPE);
			*incapsule = true;
			*len = l;
			return 0;
		}
		/* An all-zero descriptor: a command without data. */
		if (nvmft_sgl_subtype(sgl) == NVMFT_SGL_SUBTYPE_ADDRESS && l == 0 && icd_len == 0)
			return 0;
		return ST_GEN_DNR(NVME_SC_SGL_INVALID_TYPE);
	case NVMFT_SGL_TYPE_TRANSPORT_DATA_BLOCK:
		if (nvmft_sgl_subtype(sgl) != NVMFT_SGL_SUBTYPE_TRANSPORT)
			return ST_GEN_DNR(TCP_SC_SGL_INVALID_SUBTYPE);
		/* Data came in the capsule, but the descriptor says it comes later. */
		if (icd_len > 0)
			return ST_GEN_DNR(NVME_SC_SGL_INVALID_TYPE);
		*len = l;
		return 0;
	default:
		return ST_GEN_DNR(NVME_SC_SGL_INVALID_TYPE);
	}
}

static void cmd_start(struct tcp_req *t, uint32_t icd_len)
{
	struct nvmft_req *req = &t->req;
	bool incapsule;
	uint32_t len;
	uint16_t status = cmd_parse_sgl(&req->cmd, icd_len, &len, &incapsule);
	int rc;

	t->state = TCP_REQ_CORE;
	req->length = status ? 0 : len;
	if (status != 0) {
		nvmft_req_reject(req, status);
		return;
	}
	if (!nvmft_req_init(req))
		return;
	if (incapsule && len > 0) {
		req->iov_inline[0].iov_base = t->icd;
		req->iov_inline[0].iov_len = len;
		req->iov = req->iov_inline;
		req->iovcnt = 1;
		nvmft_req_execute(req);
		return;
	}
	if (nvmft_req_needs_buffers(req)) {
		rc = nvmft_req_get_buffers(req);
		if (rc == -EAGAIN) {
			t->state = TCP_REQ_WAIT_BUF;
			return;
		}
		if (rc < 0) {
			nvmft_req_finish(req, ST_GEN(NVME_SC_INTERNAL));
			return;
		}
	}
	cmd_have_buffers(t);
}

void tcp_req_buffers_ready(struct nvmft_req *req)
{
	struct tcp_req *t = tcp_req_of(req);

	if (t->c->dead || t->c->terminating) {
		tcp_req_done(t);
		return;
	}
	if (req->iovcnt == 0) {
		t->state = TCP_REQ_CORE;
		nvmft_req_finish(req, ST_GEN(NVME_SC_INTERNAL));
		return;
	}
	cmd_have_buffers(t);
}

/* ---- Receive dispatcher -------------------------------------------------------------- */

/* Fatal error in the PDU whose header was just read. */
static void rx_fatal(struct tcp_conn *c, uint16_t fes, uint32_t fei)
{
	struct nvmft_tcp_err err = { .fes = fes, .fei = fei };

	tcp_conn_fatal(c, &err, nvmft_tcp_rx_hdr(&c->rx), c->rx.hdr_total);
}

static void rx_icreq(struct tcp_conn *c)
{
	const struct nvmft_transport_opts *o = &c->qp.tr->opts;
	struct nvmft_tcp_ic_offer offer = {
		.digests = (uint8_t)o->digests,
		.cpda = 0,
		.maxh2cdata = o->max_h2c_data,
	};
	struct nvmft_tcp_icresp resp;

	if (tcp_conn_reserve(c, TCP_INIT_SLOTS, c->params.icd_max) < 0) {
		tcp_conn_close(c, "out of memory for requests");
		return;
	}
	c->depth = TCP_INIT_SLOTS;
	nvmft_tcp_icreq_accept(nvmft_tcp_rx_hdr(&c->rx), &offer, &c->params, &resp);
	memcpy(c->ctl, &resp, sizeof(resp));
	c->ctl_len = sizeof(resp);
	c->ctl_off = 0;
	tcp_conn_want_flush(c);
}

static void rx_cmd_hdr(struct tcp_conn *c)
{
	const struct nvmft_tcp_cmd *pdu = nvmft_tcp_rx_hdr(&c->rx);
	uint32_t dl = nvmft_tcp_rx_data_len(&c->rx);
	struct tcp_req *t = tcp_req_get(c);

	if (t == NULL) {
		/* More commands in flight than the queue has entries. */
		rx_fatal(c, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR, 0);
		return;
	}
	memcpy(&t->req.cmd, &pdu->cmd, sizeof(t->req.cmd));
	if (dl == 0) {
		cmd_start(t, 0);
		return;
	}
	if (dl > t->icd_cap) {
		tcp_req_put(t);
		rx_fatal(c, NVMFT_TCP_FES_R2T_LIMIT_EXCEEDED, 0);
		return;
	}
	t->state = TCP_REQ_CAPSULE;
	t->icd_iov.iov_base = t->icd;
	t->icd_iov.iov_len = dl;
	nvmft_tcp_rx_set_data_dest(&c->rx, &t->icd_iov, 1, 0);
	c->rx_req = t;
}

static void rx_cmd_done(struct tcp_conn *c, bool bad_digest)
{
	struct tcp_req *t = c->rx_req;

	c->rx_req = NULL;
	if (bad_digest) {
		t->state = TCP_REQ_CORE;
		t->req.length = 0;
		nvmft_req_reject(&t->req, TCP_ST_DIGEST);
		return;
	}
	cmd_start(t, nvmft_tcp_rx_data_len(&c->rx));
}

static void rx_h2c_hdr(struct tcp_conn *c)
{
	const struct nvmft_tcp_data *h = nvmft_tcp_rx_hdr(&c->rx);
	uint16_t ttag = le16toh(h->ttag);
	uint32_t slot = (uint32_t)ttag >> c->r2t_shift;
	struct nvmft_tcp_err err;
	uint64_t end, r2t_end;
	struct tcp_req *t;

	/* The TTAG names the slot of a command we asked data for... */
	if (slot >= c->nslots || c->slots[slot]->state != TCP_REQ_H2C) {
		rx_fatal(c, NVMFT_TCP_FES_INVALID_HEADER_FIELD, NVMFT_TCP_FEI_TTAG);
		return;
	}
	t = c->slots[slot];
	if (h->cccid != t->req.cmd.cid) {
		rx_fatal(c, NVMFT_TCP_FES_INVALID_HEADER_FIELD, NVMFT_TCP_FEI_CCCID);
		return;
	}
	if (nvmft_tcp_check_h2c_window(h, 0, t->r2t_off, t->h2c_got, &err) != 0) {
		tcp_conn_fatal(c, &err, h, c->rx.hdr_total);
		return;
	}
	/* ...and the R2T whose window the data is in (data comes in order). */
	if (ttag != tcp_ttag(t, le32toh(h->datao) / t->r2t_size)) {
		rx_fatal(c, NVMFT_TCP_FES_INVALID_HEADER_FIELD, NVMFT_TCP_FEI_TTAG);
		return;
	}
	/*
	 * It answers one R2T: R2Ts ask for r2t_size bytes from multiples of
	 * r2t_size, the last one for the rest.  LAST_PDU marks the PDU that
	 * ends the R2T's range, and no other.
	 */
	end = (uint64_t)le32toh(h->datao) + le32toh(h->datal);
	r2t_end = NVMFT_MIN((uint64_t)(le32toh(h->datao) / t->r2t_size + 1) * t->r2t_size,
			    (uint64_t)t->req.length);
	if (end > r2t_end) {
		rx_fatal(c, NVMFT_TCP_FES_DATA_OUT_OF_RANGE, 0);
		return;
	}
	if (!(h->ch.flags & NVMFT_TCP_F_DATA_LAST) != (end != r2t_end)) {
		rx_fatal(c, NVMFT_TCP_FES_INVALID_HEADER_FIELD, NVMFT_TCP_FEI_FLAGS);
		return;
	}
	if (nvmft_tcp_rx_set_data_dest(&c->rx, t->req.iov, t->req.iovcnt, le32toh(h->datao)) < 0) {
		rx_fatal(c, NVMFT_TCP_FES_DATA_OUT_OF_RANGE, 0);
		return;
	}
	c->rx_req = t;
}

static void rx_h2c_done(struct tcp_conn *c, bool bad_digest)
{
	struct tcp_req *t = c->rx_req;
	struct nvmft_req *req = &t->req;

	c->rx_req = NULL;
	c->rx_progress_ms = nvmft_now_ms();
	t->h2c_got += nvmft_tcp_rx_data_len(&c->rx);
	/* After a digest error, take in what was asked for, then fail the command. */
	if (bad_digest && t->h2c_status == 0)
		t->h2c_status = TCP_ST_DIGEST;
	if (t->h2c_status != 0) {
		if (t->h2c_got == t->r2t_off) {
			t->state = TCP_REQ_CORE;
			h2c_wait(t, false);
			nvmft_req_finish(req, t->h2c_status);
		}
		return;
	}
	if (t->h2c_got == req->length) {
		t->state = TCP_REQ_CORE;
		h2c_wait(t, false);
		nvmft_req_execute(req);
		return;
	}
	issue_r2ts(t);
}

static void rx_event(struct tcp_conn *c, enum nvmft_tcp_rx_event ev)
{
	uint8_t type = nvmft_tcp_rx_type(&c->rx);

	switch (ev) {
	case NVMFT_TCP_RX_HEADER:
		if (type == NVMFT_TCP_ICREQ) {
			rx_icreq(c);
		} else if (type == NVMFT_TCP_CMD) {
			rx_cmd_hdr(c);
		} else if (type == NVMFT_TCP_H2C_DATA) {
			rx_h2c_hdr(c);
		} else if (type == NVMFT_TCP_H2C_TERM) {
			const struct nvmft_tcp_term *term = nvmft_tcp_rx_hdr(&c->rx);

			nvmft_notice(io_log(c), "tcp: host ended the connection (FES %u, FEI %u)",
				     le16toh(term->fes), le32toh(term->fei));
			tcp_conn_close(c, "H2CTermReq");
		}
		break;
	case NVMFT_TCP_RX_PDU_DONE:
	case NVMFT_TCP_RX_DDGST_ERROR:
		if (ev == NVMFT_TCP_RX_DDGST_ERROR)
			nvmft_warn(io_log(c), "tcp: data digest error on qid %u", c->qp.qid);
		if (type == NVMFT_TCP_CMD)
			rx_cmd_done(c, ev == NVMFT_TCP_RX_DDGST_ERROR);
		else if (type == NVMFT_TCP_H2C_DATA)
			rx_h2c_done(c, ev == NVMFT_TCP_RX_DDGST_ERROR);
		break;
	case NVMFT_TCP_RX_ERROR: {
		size_t len;
		const void *hdr = nvmft_tcp_rx_err_hdr(&c->rx, &len);

		tcp_conn_fatal(c, nvmft_tcp_rx_err(&c->rx), hdr, len);
		break;
	}
	default:
		break;
	}
}

/* Large data with a known destination skips the staging copy. */
static bool rx_direct(const struct tcp_conn *c)
{
	const struct nvmft_tcp_rx *rx = &c->rx;

	return rx->phase == NVMFT_TCP_RX_PH_DATA && rx->dst != NULL &&
	       rx->data_len - rx->data_got >= TCP_ZCOPY_RX_MIN;
}

int tcp_conn_rx(struct tcp_conn *c, unsigned int budget)
{
	unsigned int pdus = 0;
	bool got = false, left, drained = false;

	while (!c->dead && !c->terminating && pdus < budget) {
		enum nvmft_tcp_rx_event ev = NVMFT_TCP_RX_NEED_MORE;
		ssize_t r;

		if (c->stage_off < c->stage_len) {
			size_t used;

			ev = nvmft_tcp_rx_feed(&c->rx, c->stage + c->stage_off,
					       c->stage_len - c->stage_off, &used);
			c->stage_off += (uint32_t)used;
		} else if (drained) {
			/*
			 * The last read came back short: the socket was empty then.
			 * Asking again would cost a system call on every command's
			 * path to learn EAGAIN; epoll (level-triggered) reports
			 * whatever arrives since.
			 */
			break;
		} else if (rx_direct(c)) {
			struct iovec iov[NVMFT_REQ_INLINE_IOV + 1];
			size_t want = 0;
			int cnt;

			nvmft_tcp_rx_want(&c->rx, iov, (int)NVMFT_ARRAY_SIZE(iov), &cnt);
			for (int i = 0; i < cnt; i++)
				want += iov[i].iov_len;
			r = readv(c->fd, iov, cnt);
			if (r <= 0)
				goto read_failed;
			got = true;
			drained = (size_t)r < want;
			ev = nvmft_tcp_rx_advance(&c->rx, (size_t)r);
		} else {
			size_t len = c->rx_small_reads ? TCP_STAGE_SMALL : TCP_STAGE_SIZE;

			c->stage_off = 0;
			c->stage_len = 0;
			r = recv(c->fd, c->stage, len, MSG_DONTWAIT);
			if (r <= 0)
				goto read_failed;
			got = true;
			if (c->rx_small_reads > 0)
				c->rx_small_reads--;
			drained = (size_t)r < len;
			c->stage_len = (uint32_t)r;
		}
		if (ev == NVMFT_TCP_RX_HEADER && c->rx.data_len >= TCP_STAGE_LARGE_PDU)
			c->rx_small_reads = TCP_STAGE_SMALL_READS;
		if (ev != NVMFT_TCP_RX_NEED_MORE) {
			pdus++;
			rx_event(c, ev);
		}
		continue;
read_failed:
		if (r == 0) {
			tcp_conn_close(c, "peer closed the connection");
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			tcp_conn_close(c, "receive failed");
		break;
	}
	/* Bytes staged but not yet parsed: no socket event will announce them. */
	left = !c->dead && !c->terminating && c->stage_off < c->stage_len;
	if (left && !c->on_busy) {
		TAILQ_INSERT_TAIL(&c->tpg->busy, c, busy_link);
		c->on_busy = true;
	} else if (!left && c->on_busy) {
		TAILQ_REMOVE(&c->tpg->busy, c, busy_link);
		c->on_busy = false;
	}
	return (int)pdus + (got && pdus == 0 ? 1 : 0);
}

/* ---- Disconnect -------------------------------------------------------------------- */

void tcp_conn_drop_reqs(struct tcp_conn *c)
{
	for (uint32_t i = 0; i < c->nslots; i++) {
		struct tcp_req *t = c->slots[i];

		if (t->on_txq) {
			TAILQ_REMOVE(&c->txq, t, link);
			t->on_txq = false;
		}
		switch (t->state) {
		case TCP_REQ_CAPSULE:
			/* The core never saw it. */
			tcp_req_put(t);
			break;
		case TCP_REQ_WAIT_BUF:
			/* Granted already: it is on the resume queue and comes back by itself. */
			if (t->req.state != NVMFT_REQ_WAIT_BUF)
				break;
			nvmft_req_cancel_buffer_wait(&t->req);
			tcp_req_done(t);
			break;
		case TCP_REQ_H2C:
		case TCP_REQ_TX:
			tcp_req_done(t);
			break;
		default:
			break;
		}
	}
	c->rx_req = NULL;
	c->h2c_waiting = 0;
	c->tx_skip = 0;
	c->ctl_len = 0;
	c->ctl_off = 0;
	c->term_len = 0;
	c->term_off = 0;
}
