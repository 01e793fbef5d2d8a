/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One NVMe/RDMA connection: from the RDMA_CM_REQUEST (checked, then
 * accepted or rejected with the specified status) through its queue pair,
 * command capsules, data and responses, to its teardown.
 *
 * A request moves RDMA_REQ_CORE (parsed and executed by the core, or
 * waiting in it) with detours through RDMA_REQ_WAIT_BUF (pool exhausted),
 * RDMA_REQ_WAIT_READ (the queue pair's RDMA READ credits are taken) and
 * RDMA_REQ_READING (write data being fetched) -> RDMA_REQ_SENDING (read
 * data RDMA WRITEs and the response SEND posted as one chain) -> free once
 * every work request of the chain completed.  The capsule's receive buffer
 * goes back to its receive queue as soon as the command no longer needs
 * it, and always before the response is posted: the host may send its
 * next command as soon as it sees the response.
 *
 * Teardown: a disconnect moves the queue pair to the error state, so
 * every posted work request completes (flushed).  Requests wait for
 * theirs, so no buffer is reused while the device may still touch it.
 * Once the core frees the queue pair, it becomes a zombie: the group
 * destroys the QP, handles every completion still queued (those of this
 * QP are dropped), and only then frees the memory its work requests
 * point to and gives the QP number back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "core/qpair.h"
#include "core/req.h"
#include "core/target.h"
#include "core/transport.h"
#include "transports/rdma/rdma_internal.h"
#include "util/log.h"

#define ST_GEN(sc) NVMFT_STATUS(NVME_SCT_GENERIC, sc)
#define ST_CONNECT_INVALID NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM)

static const struct nvmft_logger *conn_log(const struct rdma_conn *c)
{
	return rdma_log(c->rt);
}

static const char *peer_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
	const void *a = ss->ss_family == AF_INET6 ? (const void *)&in6->sin6_addr
						  : (const void *)&in->sin_addr;

	if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)
		return "?";
	return inet_ntop(ss->ss_family, a, buf, (socklen_t)len) ? buf : "?";
}

static const char *rej_str(uint16_t sts)
{
	switch (sts) {
	case NVMFT_RDMA_CM_REJ_INVALID_LENGTH:
		return "invalid private data length";
	case NVMFT_RDMA_CM_REJ_INVALID_RECFMT:
		return "invalid RECFMT";
	case NVMFT_RDMA_CM_REJ_INVALID_QID:
		return "invalid QID";
	case NVMFT_RDMA_CM_REJ_INVALID_HSQSIZE:
		return "invalid HSQSIZE";
	case NVMFT_RDMA_CM_REJ_INVALID_HRQSIZE:
		return "invalid HRQSIZE";
	case NVMFT_RDMA_CM_REJ_NO_RESOURCES:
		return "no resources";
	case NVMFT_RDMA_CM_REJ_INVALID_IRD:
		return "invalid IRD";
	case NVMFT_RDMA_CM_REJ_INVALID_ORD:
		return "invalid ORD";
	default:
		return "rejected";
	}
}

/* ---- Connection requests (management thread) ---------------------------------- */

static void conn_reject(const struct nvmft_rdma_verbs *v, struct rdma_cm_id *id, uint16_t sts)
{
	struct nvmft_rdma_cm_rej rej;

	nvmft_rdma_cm_rej_init(&rej, sts);
	v->reject(id, &rej, sizeof(rej));
}

int rdma_conn_request(struct rdma_listener *rl, struct rdma_cm_event *ev)
{
	struct rdma_transport *rt = rl->rt;
	const struct nvmft_transport_opts *o = &rt->tr->opts;
	const struct nvmft_rdma_verbs *v = rt->v;
	struct nvmft_rdma_cm_limits lim = {
		.max_qid = (uint16_t)(o->max_qpairs_per_ctrlr - 1),
		.max_aq_depth = o->max_aq_depth,
		.max_io_depth = o->max_queue_depth,
	};
	struct rdma_cm_id *id = ev->id;
	struct rdma_dev *dev = rdma_dev_of(rt, id->verbs);
	struct nvmft_rdma_cm_params params;
	struct sockaddr_storage peer;
	uint8_t rr = 0, id_depth = 0;
	struct rdma_conn *c = NULL;
	char pbuf[INET6_ADDRSTRLEN];
	uint16_t sts;

	memset(&peer, 0, sizeof(peer));
	memcpy(&peer, &id->route.addr.dst_storage, sizeof(peer));
	if (dev == NULL || atomic_load(&dev->removed))
		sts = NVMFT_RDMA_CM_REJ_NO_RESOURCES;
	else
		sts = nvmft_rdma_cm_req_parse(ev->param.conn.private_data, ev->param.conn.private_data_len,
					      &lim, &params);
	if (sts == 0)
		sts = nvmft_rdma_cm_rd_atom(ev->param.conn.initiator_depth, ev->param.conn.responder_resources,
					    dev->attr.max_qp_rd_atom, dev->attr.max_qp_init_rd_atom, &rr,
					    &id_depth);
	if (sts == 0) {
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			sts = NVMFT_RDMA_CM_REJ_NO_RESOURCES;
	}
	if (sts != 0) {
		nvmft_info(rdma_log(rt), "rdma: rejecting a connection from %s: %s (status %u)",
			   peer_str(&peer, pbuf, sizeof(pbuf)), rej_str(sts), sts);
		conn_reject(v, id, sts);
		v->ack_cm_event(ev);
		v->destroy_id(id);
		return 0;
	}
	c->watch.kind = RDMA_WATCH_CONN;
	c->rt = rt;
	c->dev = dev;
	c->id = id;
	c->params = params;
	c->responder_resources = rr;
	c->initiator_depth = id_depth;
	c->depth = params.depth;
	c->peer = peer;
	TAILQ_INIT(&c->free_reqs);
	TAILQ_INIT(&c->read_wait);
	TAILQ_INIT(&c->parked);
	v->ack_cm_event(ev);
	/* Its own channel: from its group on, only that group ever sees its events. */
	c->ch = v->create_event_channel();
	if (c->ch == NULL || fcntl(c->ch->fd, F_SETFL, fcntl(c->ch->fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    v->migrate_id(id, c->ch) != 0) {
		nvmft_warn(rdma_log(rt), "rdma: cannot take a connection from %s: %s",
			   peer_str(&peer, pbuf, sizeof(pbuf)), strerror(errno));
		conn_reject(v, id, NVMFT_RDMA_CM_REJ_NO_RESOURCES);
		v->destroy_id(id);
		if (c->ch != NULL)
			v->destroy_event_channel(c->ch);
		free(c);
		return 0;
	}
	id->context = c;
	nvmft_debug(rdma_log(rt), "rdma: connection request from %s: qid %u, %u entries, hrqsize %u, "
		    "rd_atom %u/%u", peer_str(&peer, pbuf, sizeof(pbuf)), params.qid, params.depth,
		    params.hrqsize, rr, id_depth);
	nvmft_qpair_init(&c->qp, rt->tr, rl->l);
	nvmft_target_accepted(rt->tr->tgt, &c->qp);
	return 1;
}

/* ---- Request slots ----------------------------------------------------------------- */

static struct rdma_req *req_get(struct rdma_conn *c)
{
	struct rdma_req *t = TAILQ_FIRST(&c->free_reqs);

	if (t != NULL) {
		TAILQ_REMOVE(&c->free_reqs, t, link);
		c->busy++;
	}
	return t;
}

static void capsule_parked(struct rdma_conn *c);

static void req_put(struct rdma_req *t)
{
	struct rdma_conn *c = t->c;

	t->state = RDMA_REQ_FREE;
	t->invalidate = false;
	t->wr_err = false;
	t->nr_wr = 0;
	t->nr_reads = 0;
	t->connect_ipo = 0;
	c->busy--;
	TAILQ_INSERT_TAIL(&c->free_reqs, t, link);
	if (nvmft_unlikely(!TAILQ_EMPTY(&c->parked)))
		capsule_parked(c);
}

/* The capsule's buffer goes back to its receive queue (a dead connection's own are dropped). */
static void recv_release(struct rdma_conn *c, struct rdma_recv *r)
{
	int rc;

	if (r->set->srq == NULL && c->dead)
		return;
	rc = rdma_recv_post(r);
	if (rc < 0) {
		nvmft_info(conn_log(c), "rdma: qid %u: cannot post a receive buffer: %s", c->qp.qid,
			   strerror(-rc));
		if (r->set->srq == NULL) {
			c->why = "cannot post receive buffers";
			nvmft_qpair_disconnect(&c->qp);
		}
	}
}

/*
 * The host is done with @t.  An orphan (answered at a namespace's drain
 * deadline while its backend still holds it) keeps its slot and capsule,
 * whose in-capsule data the backend may still read, until rdma_req_recycle().
 */
static void req_done(struct rdma_req *t)
{
	if (t->state == RDMA_REQ_SENDING) {
		t->c->sending--;
		t->state = RDMA_REQ_CORE;
	}
	if (!nvmft_req_release(&t->req)) {
		t->state = RDMA_REQ_CORE;
		return;
	}
	if (t->recv != NULL) {
		recv_release(t->c, t->recv);
		t->recv = NULL;
	}
	req_put(t);
}

void rdma_req_recycle(struct nvmft_req *req)
{
	struct rdma_req *t = rdma_req_of(req);

	if (t->recv != NULL) {
		recv_release(t->c, t->recv);
		t->recv = NULL;
	}
	req_put(t);
}

static void conn_close(struct rdma_conn *c, const char *why)
{
	if (c->dead)
		return;
	c->why = why;
	nvmft_qpair_disconnect(&c->qp);
}

/* ---- Posting work requests -------------------------------------------------------------- */

static uint64_t wr_id(struct rdma_req *t, unsigned int tag)
{
	return (uint64_t)(uintptr_t)t | tag;
}

/*
 * Build RDMA READ or WRITE work requests moving req->length bytes between
 * the request's pool buffers and the host's keyed buffer, @max_sge SGEs
 * each, into @wr/@sge.  Returns the count, or -ENOENT when a buffer has no
 * registration on this device.
 */
static int build_data_wrs(struct rdma_req *t, enum ibv_wr_opcode op, unsigned int tag, int max_sge,
			  struct ibv_send_wr *wr, struct ibv_sge *sge)
{
	const struct nvmft_req *req = &t->req;
	uint64_t off = 0;
	uint32_t left = req->length;
	int n = 0, k = 0;

	for (int i = 0; i < req->iovcnt && left > 0; i++) {
		uint32_t len = (uint32_t)NVMFT_MIN((uint64_t)req->iov[i].iov_len, (uint64_t)left);
		uint32_t lkey;

		if (rdma_req_lkey(req, i, t->c->dev, &lkey) < 0)
			return -ENOENT;
		if (k == 0) {
			memset(&wr[n], 0, sizeof(wr[n]));
			wr[n].wr_id = wr_id(t, tag);
			wr[n].opcode = op;
			wr[n].send_flags = IBV_SEND_SIGNALED;
			wr[n].sg_list = &sge[i];
			wr[n].wr.rdma.remote_addr = t->raddr + off;
			wr[n].wr.rdma.rkey = t->rkey;
			if (n > 0)
				wr[n - 1].next = &wr[n];
			n++;
		}
		sge[i].addr = (uintptr_t)req->iov[i].iov_base;
		sge[i].length = len;
		sge[i].lkey = lkey;
		wr[n - 1].num_sge++;
		off += len;
		left -= len;
		if (++k == max_sge)
			k = 0;
	}
	return n;
}

/*
 * Post the chain @wr; returns 0, or -errno after counting what did get
 * posted (those complete, flushed at worst) and closing the connection.
 */
static int post_chain(struct rdma_req *t, struct ibv_send_wr *wr, int n)
{
	struct rdma_conn *c = t->c;
	struct ibv_send_wr *bad = NULL;
	int rc = c->rt->v->post_send(c->ibqp, wr, &bad);

	if (rc == 0) {
		t->nr_wr = (uint16_t)n;
		return 0;
	}
	t->nr_wr = 0;
	for (struct ibv_send_wr *w = wr; w != NULL && w != bad; w = w->next)
		t->nr_wr++;
	nvmft_info(conn_log(c), "rdma: qid %u: cannot post work requests: %s", c->qp.qid, strerror(rc));
	conn_close(c, "posting work requests failed");
	return -rc;
}

/* ---- Host write data: RDMA READ -------------------------------------------------------- */

static int read_wrs_needed(const struct rdma_req *t)
{
	return (int)NVMFT_DIV_ROUND_UP((uint32_t)t->req.iovcnt, (uint32_t)t->c->dev->max_sge_rd);
}

static void read_start(struct rdma_req *t)
{
	struct rdma_conn *c = t->c;
	struct ibv_send_wr wr[NVMFT_REQ_INLINE_IOV];
	struct ibv_sge sge[NVMFT_REQ_INLINE_IOV];
	int n = build_data_wrs(t, IBV_WR_RDMA_READ, RDMA_WR_READ, c->dev->max_sge_rd, wr, sge);

	if (n < 0) {
		nvmft_err(conn_log(c), "rdma: qid %u: write buffer not registered", c->qp.qid);
		t->state = RDMA_REQ_CORE;
		nvmft_req_finish(&t->req, ST_GEN(NVME_SC_INTERNAL));
		return;
	}
	t->state = RDMA_REQ_READING;
	t->wr_err = false;
	t->nr_reads = (uint16_t)n;
	c->reads += (uint32_t)n;
	if (post_chain(t, wr, n) < 0 && t->nr_wr == 0) {
		c->reads -= t->nr_reads;
		t->nr_reads = 0;
		req_done(t);
	}
}

/* RDMA READs of waiting requests, in order, while the credits last. */
static void read_wake(struct rdma_conn *c)
{
	struct rdma_req *t;

	while (!c->dead && (t = TAILQ_FIRST(&c->read_wait)) != NULL) {
		if (c->reads > 0 && c->reads + (uint32_t)read_wrs_needed(t) > c->max_reads)
			return;
		TAILQ_REMOVE(&c->read_wait, t, link);
		read_start(t);
	}
}

/* Buffers in hand: fetch write data, or run the command. */
static void cmd_have_buffers(struct rdma_req *t)
{
	struct rdma_conn *c = t->c;
	struct nvmft_req *req = &t->req;

	if (req->xfer == NVMFT_XFER_H2C && req->length > 0) {
		/* One request may always go alone, whatever its size. */
		if (!TAILQ_EMPTY(&c->read_wait) ||
		    (c->reads > 0 && c->reads + (uint32_t)read_wrs_needed(t) > c->max_reads)) {
			t->state = RDMA_REQ_WAIT_READ;
			TAILQ_INSERT_TAIL(&c->read_wait, t, link);
			return;
		}
		read_start(t);
		return;
	}
	t->state = RDMA_REQ_CORE;
	nvmft_req_execute(req);
}

void rdma_req_buffers_ready(struct nvmft_req *req)
{
	struct rdma_req *t = rdma_req_of(req);

	if (t->c->dead) {
		req_done(t);
		return;
	}
	if (req->iovcnt == 0) {
		t->state = RDMA_REQ_CORE;
		nvmft_req_finish(req, ST_GEN(NVME_SC_INTERNAL));
		return;
	}
	cmd_have_buffers(t);
}

/* ---- Capsules ------------------------------------------------------------------------ */

/*
 * A Connect must name the queue and size the RDMA CM agreed on: the
 * request slots and receive buffers were made for that.  Returns the IPO
 * of the offending field, or 0.
 */
static uint16_t connect_mismatch(const struct rdma_conn *c, const struct nvmft_cmd *cmd)
{
	const struct nvmft_connect_cmd *cc = (const struct nvmft_connect_cmd *)cmd;

	if (cmd->opcode != NVMFT_OPC_FABRICS || cc->fctype != NVMFT_FCTYPE_CONNECT)
		return 0;
	if (le16toh(cc->qid) != c->params.qid)
		return offsetof(struct nvmft_connect_cmd, qid);
	if ((uint32_t)le16toh(cc->sqsize) + 1 > c->depth)
		return offsetof(struct nvmft_connect_cmd, sqsize);
	return 0;
}

static void capsule_run(struct rdma_conn *c, struct rdma_recv *r, uint32_t len, struct rdma_req *t);

static void capsule(struct rdma_conn *c, struct rdma_recv *r, uint32_t len)
{
	struct rdma_req *t = NULL;

	if (len < NVMFT_RDMA_SQE_LEN) {
		recv_release(c, r);
		nvmft_info(conn_log(c), "rdma: qid %u: a capsule of %u bytes", c->qp.qid, len);
		conn_close(c, "capsule shorter than a command");
		return;
	}
	if (TAILQ_EMPTY(&c->parked))
		t = req_get(c);
	if (t == NULL) {
		/*
		 * Every slot is taken, but the host saw a response whose SEND
		 * has not completed here yet (its acknowledgement is late) and
		 * may send again: the capsule waits for that slot, in order.
		 * Beyond that the host has more commands out than the queue has.
		 */
		if (c->nparked >= c->sending) {
			recv_release(c, r);
			conn_close(c, "more commands in flight than the queue has entries");
			return;
		}
		r->len = len;
		TAILQ_INSERT_TAIL(&c->parked, r, link);
		c->nparked++;
		return;
	}
	capsule_run(c, r, len, t);
}

/* Slots came free: run the capsules that waited for them. */
static void capsule_parked(struct rdma_conn *c)
{
	struct rdma_recv *r;
	struct rdma_req *t;

	while (!c->dead && (r = TAILQ_FIRST(&c->parked)) != NULL && (t = req_get(c)) != NULL) {
		TAILQ_REMOVE(&c->parked, r, link);
		c->nparked--;
		capsule_run(c, r, r->len, t);
	}
}

static void capsule_run(struct rdma_conn *c, struct rdma_recv *r, uint32_t len, struct rdma_req *t)
{
	struct nvmft_rdma_sgl sgl;
	struct nvmft_req *req;
	uint16_t status;
	int rc;

	req = &t->req;
	memcpy(&req->cmd, r->buf, sizeof(req->cmd));
	status = nvmft_rdma_sgl_parse(&req->cmd, len - NVMFT_RDMA_SQE_LEN, &sgl);
	t->state = RDMA_REQ_CORE;
	t->rkey = sgl.key;
	t->raddr = sgl.addr;
	t->invalidate = status == 0 && sgl.invalidate;
	if (status == 0) {
		t->connect_ipo = connect_mismatch(c, &req->cmd);
		if (t->connect_ipo != 0)
			status = ST_CONNECT_INVALID;
	}
	if (sgl.kind == NVMFT_RDMA_SGL_INCAPSULE && status == 0)
		t->recv = r;
	else
		recv_release(c, r);
	if (status != 0) {
		req->length = 0;
		nvmft_req_reject(req, status);
		return;
	}
	req->length = sgl.len;
	if (!nvmft_req_init(req))
		return;
	if (sgl.kind == NVMFT_RDMA_SGL_INCAPSULE) {
		req->iov_inline[0].iov_base = r->buf + NVMFT_RDMA_SQE_LEN + sgl.offset;
		req->iov_inline[0].iov_len = sgl.len;
		req->iov = req->iov_inline;
		req->iovcnt = 1;
		nvmft_req_execute(req);
		return;
	}
	if (nvmft_req_needs_buffers(req)) {
		rc = nvmft_req_get_buffers(req);
		if (rc == -EAGAIN) {
			t->state = RDMA_REQ_WAIT_BUF;
			return;
		}
		if (rc < 0) {
			nvmft_req_finish(req, ST_GEN(NVME_SC_INTERNAL));
			return;
		}
	}
	cmd_have_buffers(t);
}

void rdma_recv_done(struct rdma_pg_dev *pgd, struct rdma_recv *r, const struct ibv_wc *wc)
{
	struct rdma_recv_set *set = r->set;
	struct rdma_conn *c;

	r->posted = false;
	if (set->srq != NULL) {
		c = pgd->tpg->hash[wc->qp_num % RDMA_HASH_BUCKETS];
		while (c != NULL && c->qp_num != wc->qp_num)
			c = c->hash_next;
	} else {
		c = set->conn;
	}
	if (c == NULL || c->dead || c->ibqp == NULL) {
		/* A flush, or a capsule that came just before the end: nobody wants it. */
		if (set->srq != NULL && rdma_recv_post(r) < 0)
			nvmft_info(rdma_log(pgd->tpg->rt), "rdma: cannot post a shared receive buffer");
		return;
	}
	if (wc->status != IBV_WC_SUCCESS || wc->opcode != IBV_WC_RECV) {
		nvmft_info(conn_log(c), "rdma: qid %u: receive failed: %s", c->qp.qid,
			   wc->status != IBV_WC_SUCCESS ? ibv_wc_status_str(wc->status) : "not a SEND");
		recv_release(c, r);
		conn_close(c, "receive error");
		return;
	}
	capsule(c, r, wc->byte_len);
}

/* ---- Responses ----------------------------------------------------------------------- */

/* Connect succeeded: the queue pair is what the RDMA CM announced. */
static void conn_connected(struct rdma_conn *c)
{
	if (c->qp.sq_flow_disabled)
		nvmft_debug(conn_log(c), "rdma: qid %u: SQ flow control disabled", c->qp.qid);
	nvmft_debug(conn_log(c), "rdma: qid %u connected (%u entries, %s receive queue, %u RDMA READs)",
		    c->qp.qid, c->depth, c->have_rq ? "own" : "shared", c->max_reads);
}

static bool is_connect(const struct nvmft_cmd *cmd)
{
	return cmd->opcode == NVMFT_OPC_FABRICS &&
	       ((const struct nvmft_fabrics_cmd *)cmd)->fctype == NVMFT_FCTYPE_CONNECT;
}

void rdma_req_complete(struct nvmft_req *req)
{
	struct rdma_req *t = rdma_req_of(req);
	struct rdma_conn *c = t->c;
	struct ibv_send_wr wr[NVMFT_REQ_INLINE_IOV + 1];
	struct ibv_sge sge[NVMFT_REQ_INLINE_IOV], rsp_sge;
	uint16_t status = nvmft_status_from_wire(req->cpl.status);
	int n = 0;

	if (c->dead) {
		req_done(t);
		return;
	}
	if (status == 0 && is_connect(&req->cmd))
		conn_connected(c);
	/* In-capsule data is consumed (an orphan's backend may still read it). */
	if (t->recv != NULL && !(req->flags & NVMFT_REQ_F_ORPHAN_BE)) {
		recv_release(c, t->recv);
		t->recv = NULL;
		if (c->dead) {
			req_done(t);
			return;
		}
	}
	if (t->connect_ipo != 0) {
		req->cpl.invalid.iattr = NVMFT_CONNECT_IATTR_CMD;
		req->cpl.invalid.ipo = htole16(t->connect_ipo);
	}
	if (req->xfer == NVMFT_XFER_C2H && status == 0 && req->length > 0) {
		n = build_data_wrs(t, IBV_WR_RDMA_WRITE, RDMA_WR_WRITE, c->dev->max_sge, wr, sge);
		if (n < 0) {
			nvmft_err(conn_log(c), "rdma: qid %u: read buffer not registered", c->qp.qid);
			n = 0;
			req->cpl.status = nvmft_status_to_wire(ST_GEN(NVME_SC_INTERNAL));
		}
	}
	memcpy(t->rsp, &req->cpl, sizeof(*t->rsp));
	rsp_sge.addr = (uintptr_t)t->rsp;
	rsp_sge.length = NVMFT_RDMA_CQE_LEN;
	rsp_sge.lkey = c->rsp_mr->lkey;
	memset(&wr[n], 0, sizeof(wr[n]));
	wr[n].wr_id = wr_id(t, RDMA_WR_SEND);
	wr[n].sg_list = &rsp_sge;
	wr[n].num_sge = 1;
	wr[n].send_flags = IBV_SEND_SIGNALED;
	wr[n].opcode = IBV_WR_SEND;
	/* Without the device's support, the host invalidates the key itself. */
	if (t->invalidate && c->dev->send_inv) {
		wr[n].opcode = IBV_WR_SEND_WITH_INV;
		wr[n].invalidate_rkey = t->rkey;
		c->invalidations++;
	}
	if (n > 0)
		wr[n - 1].next = &wr[n];
	t->state = RDMA_REQ_SENDING;
	c->sending++;
	t->wr_err = false;
	if (post_chain(t, wr, n + 1) < 0 && t->nr_wr == 0)
		req_done(t);
}

/* ---- Work completions -------------------------------------------------------------- */

void rdma_req_wr_done(struct rdma_req *t, unsigned int tag, const struct ibv_wc *wc)
{
	struct rdma_conn *c = t->c;

	static const char *const names[] = {
		[RDMA_WR_READ] = "RDMA READ", [RDMA_WR_WRITE] = "RDMA WRITE", [RDMA_WR_SEND] = "SEND",
	};

	if (wc->status != IBV_WC_SUCCESS) {
		if (!t->wr_err && !c->dead)
			nvmft_info(conn_log(c), "rdma: qid %u: %s failed: %s", c->qp.qid, names[tag],
				   ibv_wc_status_str(wc->status));
		t->wr_err = true;
	}
	if (t->nr_wr == 0 || --t->nr_wr > 0)
		return;
	if (t->state == RDMA_REQ_READING) {
		c->reads -= t->nr_reads;
		t->nr_reads = 0;
		if (t->wr_err || c->dead) {
			/* The queue pair is in error: the command never runs. */
			conn_close(c, "RDMA READ failed");
			req_done(t);
			return;
		}
		t->state = RDMA_REQ_CORE;
		nvmft_req_execute(&t->req);
		read_wake(c);
		return;
	}
	if (t->wr_err)
		conn_close(c, tag == RDMA_WR_SEND ? "SEND failed" : "RDMA WRITE failed");
	req_done(t);
}

/* ---- The queue pair (group thread) ------------------------------------------------------ */

/* Send and RDMA work requests one command may have posted at once. */
static int wrs_per_req(const struct rdma_dev *d)
{
	int data = (int)NVMFT_DIV_ROUND_UP((uint32_t)NVMFT_REQ_INLINE_IOV, (uint32_t)d->max_sge_rd);

	return 1 + data;
}

static int conn_alloc(struct rdma_conn *c)
{
	struct rdma_transport *rt = c->rt;
	size_t rsp_bytes = NVMFT_ALIGN_UP((size_t)c->depth * sizeof(struct nvmft_cpl), (size_t)4096);

	c->reqs = calloc(c->depth, sizeof(*c->reqs));
	c->rsps = aligned_alloc(4096, rsp_bytes);
	if (c->reqs == NULL || c->rsps == NULL)
		return -ENOMEM;
	memset(c->rsps, 0, rsp_bytes);
	/* The device only reads responses. */
	c->rsp_mr = rt->v->reg_mr(c->dev->pd, c->rsps, rsp_bytes, 0);
	if (c->rsp_mr == NULL)
		return errno ? -errno : -ENOMEM;
	for (uint32_t i = 0; i < c->depth; i++) {
		struct rdma_req *t = &c->reqs[i];

		t->c = c;
		t->slot = (uint16_t)i;
		t->req.qpair = &c->qp;
		t->rsp = &c->rsps[i];
		TAILQ_INSERT_TAIL(&c->free_reqs, t, link);
	}
	/* No shared receive queue (no_srq, or a device without SRQs): one of its own. */
	if (!c->pgd->have_srq) {
		int rc = rdma_recv_set_init(&c->rq, rt, c->dev, c->depth);

		if (rc < 0)
			return rc;
		c->rq.conn = c;
		c->have_rq = true;
	}
	return 0;
}

int rdma_pg_add_qpair(void *arg, struct nvmft_qpair *qp)
{
	struct rdma_tpg *tpg = arg;
	struct rdma_conn *c = rdma_conn_of(qp);
	const struct nvmft_rdma_verbs *v = c->rt->v;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->watch };
	struct ibv_qp_init_attr attr;
	struct nvmft_rdma_cm_rep rep;
	struct rdma_conn_param param;
	int rc, need;

	c->tpg = tpg;
	TAILQ_INSERT_TAIL(&tpg->conns, c, link);
	rc = rdma_pg_dev_get(tpg, c->dev, &c->pgd);
	if (rc < 0)
		return rc;
	c->pgd->nconns++;
	rc = conn_alloc(c);
	if (rc < 0)
		return rc;
	c->sq_size = (int)c->depth * wrs_per_req(c->dev);
	if (c->sq_size > c->dev->attr.max_qp_wr)
		return -ENOSPC;
	need = c->sq_size + (c->have_rq ? (int)c->depth : 0);
	rc = rdma_pg_dev_reserve(c->pgd, need);
	if (rc < 0)
		return rc;
	c->cq_need = need;
	memset(&attr, 0, sizeof(attr));
	attr.qp_context = c;
	attr.send_cq = c->pgd->cq;
	attr.recv_cq = c->pgd->cq;
	attr.srq = c->pgd->have_srq ? c->pgd->srq.srq : NULL;
	attr.cap.max_send_wr = (uint32_t)c->sq_size;
	attr.cap.max_recv_wr = c->have_rq ? c->depth : 0;
	attr.cap.max_send_sge = (uint32_t)c->dev->max_sge;
	attr.cap.max_recv_sge = 1;
	attr.qp_type = IBV_QPT_RC;
	attr.sq_sig_all = 0;
	if (v->create_qp(c->id, c->dev->pd, &attr) != 0)
		return errno ? -errno : -ENOMEM;
	c->ibqp = c->id->qp;
	c->qp_num = c->ibqp->qp_num;
	rdma_tpg_hash_add(tpg, c);
	for (uint32_t i = 0; c->have_rq && i < c->depth; i++) {
		rc = rdma_recv_post(&c->rq.recvs[i]);
		if (rc < 0)
			return rc;
	}
	c->max_reads = NVMFT_MAX(c->initiator_depth, 1);
	if (epoll_ctl(tpg->set.epfd, EPOLL_CTL_ADD, c->ch->fd, &ev) < 0)
		return -errno;
	c->watched = true;
	nvmft_rdma_cm_rep_init(&rep, (uint16_t)NVMFT_MIN(c->depth, (uint32_t)UINT16_MAX));
	memset(&param, 0, sizeof(param));
	param.private_data = &rep;
	param.private_data_len = sizeof(rep);
	param.responder_resources = c->responder_resources;
	param.initiator_depth = c->initiator_depth;
	param.rnr_retry_count = RDMA_RNR_RETRY;
	if (v->accept(c->id, &param) != 0)
		return errno ? -errno : -ECONNABORTED;
	c->accepted = true;
	return 0;
}

/* The CM events of one connection (its group's thread). */
int rdma_conn_cm_events(struct rdma_conn *c)
{
	const struct nvmft_rdma_verbs *v = c->rt->v;
	struct rdma_cm_event *ev;
	int n = 0;

	while (v->get_cm_event(c->ch, &ev) == 0) {
		enum rdma_cm_event_type type = ev->event;

		v->ack_cm_event(ev);
		n++;
		switch (type) {
		case RDMA_CM_EVENT_ESTABLISHED:
			c->established = true;
			break;
		case RDMA_CM_EVENT_DISCONNECTED:
			conn_close(c, "the host disconnected");
			break;
		case RDMA_CM_EVENT_DEVICE_REMOVAL:
			atomic_store(&c->dev->removed, true);
			nvmft_notice(conn_log(c), "rdma: qid %u: device removed", c->qp.qid);
			conn_close(c, "device removed");
			break;
		case RDMA_CM_EVENT_CONNECT_ERROR:
		case RDMA_CM_EVENT_UNREACHABLE:
		case RDMA_CM_EVENT_REJECTED:
			conn_close(c, rdma_event_str(type));
			break;
		default:
			break;
		}
	}
	return n;
}

void rdma_qpair_disconnect(struct nvmft_qpair *qp)
{
	struct rdma_conn *c = rdma_conn_of(qp);
	const struct nvmft_rdma_verbs *v = c->rt->v;
	struct rdma_recv *r;

	if (c->dead)
		return;
	c->dead = true;
	nvmft_info(conn_log(c), "rdma: closing connection (qid %u): %s (%llu responses with remote "
		   "invalidation)", qp->qid, c->why ? c->why : "disconnect",
		   (unsigned long long)c->invalidations);
	if (c->ibqp != NULL) {
		struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };

		/* Disconnecting moves the QP to the error state; make sure it does either way. */
		if (!c->accepted || v->disconnect(c->id) != 0)
			v->modify_qp(c->ibqp, &a, IBV_QP_STATE);
	}
	/* Capsules that waited for a slot are not run any more. */
	while ((r = TAILQ_FIRST(&c->parked)) != NULL) {
		TAILQ_REMOVE(&c->parked, r, link);
		c->nparked--;
		recv_release(c, r);
	}
	/* Requests with work requests posted wait for their (flushed) completions. */
	for (uint32_t i = 0; c->reqs != NULL && i < c->depth; i++) {
		struct rdma_req *t = &c->reqs[i];

		switch (t->state) {
		case RDMA_REQ_WAIT_BUF:
			/* Granted already: it is on the resume queue and comes back by itself. */
			if (t->req.state != NVMFT_REQ_WAIT_BUF)
				break;
			nvmft_req_cancel_buffer_wait(&t->req);
			req_done(t);
			break;
		case RDMA_REQ_WAIT_READ:
			TAILQ_REMOVE(&c->read_wait, t, link);
			req_done(t);
			break;
		default:
			break;
		}
	}
}

/* Everything but the QP: the core is done with @c and no work request points here. */
static void conn_free(struct rdma_conn *c)
{
	const struct nvmft_rdma_verbs *v = c->rt->v;

	if (c->watched)
		epoll_ctl(c->tpg->set.epfd, EPOLL_CTL_DEL, c->ch->fd, NULL);
	if (c->tpg != NULL)
		rdma_tpg_hash_del(c->tpg, c);
	if (c->pgd != NULL) {
		c->pgd->cq_need -= c->cq_need;
		c->pgd->nconns--;
	}
	if (c->have_rq)
		rdma_recv_set_fini(&c->rq);
	if (c->rsp_mr != NULL)
		v->dereg_mr(c->rsp_mr);
	free(c->rsps);
	free(c->reqs);
	/* Never accepted: the host learns why it waited (refused by the core, or no resources). */
	if (!c->accepted)
		conn_reject(v, c->id, NVMFT_RDMA_CM_REJ_NO_RESOURCES);
	v->destroy_id(c->id);
	v->destroy_event_channel(c->ch);
	free(c);
}

void rdma_qpair_free(struct nvmft_qpair *qp)
{
	struct rdma_conn *c = rdma_conn_of(qp);

	if (c->tpg != NULL)
		TAILQ_REMOVE(&c->tpg->conns, c, link);
	if (c->ibqp == NULL) {
		conn_free(c);
		return;
	}
	/* Completions of its QP may still be queued: the group destroys it first. */
	TAILQ_INSERT_TAIL(&c->tpg->zombies, c, link);
	nvmft_group_set_kick(&c->tpg->set);
}

void rdma_conn_destroy(struct rdma_conn *c)
{
	c->rt->v->destroy_qp(c->id);
	c->ibqp = NULL;
	/* What the QP left in the shared CQ is handled (and dropped) now, before its memory goes. */
	rdma_pg_dev_drain(c->pgd);
	conn_free(c);
}

int rdma_qpair_get_peer(const struct nvmft_qpair *qp, struct sockaddr_storage *ss)
{
	const struct rdma_conn *c = nvmft_container_of(qp, const struct rdma_conn, qp);

	*ss = c->peer;
	return 0;
}
