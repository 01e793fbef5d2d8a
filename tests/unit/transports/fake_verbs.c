/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fake rdma-core of fake_verbs.h.  Objects are the real rdma-core
 * structures (so the transport reads the fields it always reads: qp_num,
 * lkey, id->verbs, id->qp, channel fds...) embedded in fake ones that
 * carry the state.  Every object stays in memory until fv_reset(), so a
 * test can look at what the target did to it after the target let go.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fake_verbs.h"

#define NVMFT_ARRAY_SIZE_FV(a) (sizeof(a) / sizeof((a)[0]))

enum fv_kind {
	K_CHAN,
	K_ID,
	K_EVENT,
	K_PD,
	K_MR,
	K_CC,
	K_CQ,
	K_SRQ,
	K_QP,
	K_DEVLIST,
	K__COUNT,
};

static const char *const kind_names[K__COUNT] = {
	"event channel", "CM id", "CM event (not acked)", "protection domain", "memory region",
	"completion channel", "completion queue", "shared receive queue", "queue pair",
	"device list",
};

struct fv_obj {
	enum fv_kind kind;
	bool live;
	struct fv_obj *next; /* every object ever made, for fv_reset() */
};

struct fv_chan {
	struct fv_obj o;
	struct rdma_event_channel ch;
	struct fv_event *head, *tail;
};

struct fv_event {
	struct fv_obj o;
	struct rdma_cm_event ev;
	uint8_t pdata[56];
	struct fv_event *next;
};

struct fv_id {
	struct fv_obj o;
	struct rdma_cm_id id;
	struct fv_chan *ch;
	int dev;
	uint16_t port;
	bool listening;
	bool rejected;
	uint8_t rej[64];
	int rej_len;
	bool accepted;
	struct rdma_conn_param acc;
	uint8_t acc_pdata[64];
	bool disconnected;
	struct fv_qp *qp;
};

struct fv_mr {
	struct fv_obj o;
	struct ibv_mr mr;
};

struct fv_cc {
	struct fv_obj o;
	struct ibv_comp_channel cc;
	struct fv_cq *cq;
	int pending;
};

struct fv_cq {
	struct fv_obj o;
	struct ibv_cq cq;
	struct fv_cc *cc;
	struct ibv_wc *ring;
	int size, head, count;
	bool armed;
};

struct fv_rwr {
	uint64_t wr_id;
	struct ibv_sge sge;
};

struct fv_rq {
	struct fv_rwr *q;
	int max, head, count;
};

struct fv_srq {
	struct fv_obj o;
	struct ibv_srq srq;
	struct fv_rq rq;
};

struct fv_qp {
	struct fv_obj o;
	struct ibv_qp qp;
	struct fv_cq *scq, *rcq;
	struct fv_srq *srq;
	struct fv_rq rq;
	struct fv_wr *sq;    /* held work requests */
	int sq_max, sq_head, sq_count;
	int outstanding;     /* posted, not yet completed */
	bool error;
	struct fv_resp resps[256];
	int resp_head, resp_count;
	struct fv_id *id;
	struct ibv_wc *dq;   /* send completions held back (fv_defer_completions()), in order */
	int dq_head, dq_count;
};

struct fv_dev {
	struct ibv_device dev;
	struct ibv_context ctx;
	struct ibv_device_attr attr;
};

static struct {
	struct fv_obj *objs;
	int live[K__COUNT];
	struct fv_dev devs[4];
	int ndevs;
	struct fv_id *listener;
	uint32_t next_key;
	uint32_t next_qpn;
	bool hold;
	int fail_n[FV_FAIL__COUNT];
	int fail_err[FV_FAIL__COUNT];
	struct { void *addr; size_t len; uint32_t rkey; } mem[64];
	int nmem;
	int resizes;
	int overflows;
	bool defer;
	struct fv_mr *mrs[4096];
	int nmrs;
} W;

/* ---- Objects --------------------------------------------------------------- */

static void *obj_new(enum fv_kind kind, size_t size)
{
	struct fv_obj *o = calloc(1, size);

	if (o == NULL)
		abort();
	o->kind = kind;
	o->live = true;
	o->next = W.objs;
	W.objs = o;
	W.live[kind]++;
	return o;
}

static void obj_gone(struct fv_obj *o)
{
	if (o->live) {
		o->live = false;
		W.live[o->kind]--;
	}
}

static bool fail_now(enum fv_fail what)
{
	if (W.fail_n[what] == 0)
		return false;
	W.fail_n[what]--;
	errno = W.fail_err[what];
	return true;
}

void fv_fail(enum fv_fail what, int n, int err)
{
	W.fail_n[what] = n;
	W.fail_err[what] = err;
}

static void free_obj(struct fv_obj *o)
{
	switch (o->kind) {
	case K_CHAN:
		if (o->live)
			close(((struct fv_chan *)o)->ch.fd);
		break;
	case K_CC:
		if (o->live)
			close(((struct fv_cc *)o)->cc.fd);
		break;
	case K_CQ:
		free(((struct fv_cq *)o)->ring);
		break;
	case K_SRQ:
		free(((struct fv_srq *)o)->rq.q);
		break;
	case K_QP:
		free(((struct fv_qp *)o)->rq.q);
		free(((struct fv_qp *)o)->sq);
		free(((struct fv_qp *)o)->dq);
		break;
	default:
		break;
	}
	free(o);
}

void fv_reset(const struct fv_config *cfg)
{
	struct fv_obj *o, *next;

	for (o = W.objs; o != NULL; o = next) {
		next = o->next;
		free_obj(o);
	}
	for (int i = 0; i < W.ndevs; i++)
		close(W.devs[i].ctx.async_fd);
	memset(&W, 0, sizeof(W));
	W.next_key = 0x1000;
	W.next_qpn = 0x100;
	W.ndevs = cfg && cfg->ndevs ? cfg->ndevs : 1;
	for (int i = 0; i < W.ndevs; i++) {
		struct fv_dev *d = &W.devs[i];

		snprintf(d->dev.name, sizeof(d->dev.name), "fake%d", i);
		d->ctx.device = &d->dev;
		d->ctx.async_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (cfg != NULL && cfg->attr.max_qp_wr != 0) {
			d->attr = cfg->attr;
		} else {
			/* Roughly what rxe reports. */
			d->attr.max_qp_wr = 16384;
			d->attr.max_sge = 32;
			d->attr.max_sge_rd = 32;
			d->attr.max_cqe = 32767;
			d->attr.max_srq_wr = 16384;
			d->attr.max_qp_rd_atom = 128;
			d->attr.max_qp_init_rd_atom = 128;
			d->attr.device_cap_flags = IBV_DEVICE_MEM_MGT_EXTENSIONS;
		}
		if (cfg != NULL && cfg->no_send_inv)
			d->attr.device_cap_flags &= ~(unsigned int)IBV_DEVICE_MEM_MGT_EXTENSIONS;
	}
}

int fv_leaks(char *buf, size_t len)
{
	int n = 0;
	size_t off = 0;

	if (len > 0)
		buf[0] = '\0';
	for (int k = 0; k < K__COUNT; k++) {
		if (W.live[k] == 0)
			continue;
		n += W.live[k];
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%d %s; ", W.live[k], kind_names[k]);
	}
	return n;
}

/* ---- Completion queues ------------------------------------------------------------ */

static void cq_push(struct fv_cq *cq, const struct ibv_wc *wc)
{
	if (cq->count == cq->size) {
		W.overflows++;
		return;
	}
	cq->ring[(cq->head + cq->count) % cq->size] = *wc;
	cq->count++;
	if (cq->armed && cq->cc != NULL) {
		uint64_t one = 1;

		cq->armed = false;
		cq->cc->pending++;
		if (write(cq->cc->cc.fd, &one, sizeof(one)) < 0)
			abort();
	}
}

static void wc_to(struct fv_cq *cq, struct fv_qp *qp, uint64_t wr_id, enum ibv_wc_status st,
		  enum ibv_wc_opcode op, uint32_t len)
{
	struct ibv_wc wc;

	memset(&wc, 0, sizeof(wc));
	wc.wr_id = wr_id;
	wc.status = st;
	wc.opcode = op;
	wc.byte_len = len;
	wc.qp_num = qp->qp.qp_num;
	cq_push(cq, &wc);
}

/*
 * A send queue completion: to the CQ, or behind the ones held back (the
 * host's acknowledgement is late), so that a queue pair's send
 * completions keep their order.  Held back, the work request still takes
 * its send queue slot.
 */
static void sq_wc(struct fv_qp *qp, uint64_t wr_id, enum ibv_wc_status st, enum ibv_wc_opcode op,
		  uint32_t len)
{
	struct ibv_wc *wc;

	if (qp->error || (!W.defer && qp->dq_count == 0)) {
		wc_to(qp->scq, qp, wr_id, st, op, len);
		return;
	}
	if (qp->dq == NULL) {
		qp->dq = calloc((size_t)qp->sq_max, sizeof(*qp->dq));
		if (qp->dq == NULL)
			abort();
	}
	if (qp->dq_count == qp->sq_max)
		abort(); /* cannot happen: each one holds a send queue slot */
	wc = &qp->dq[(qp->dq_head + qp->dq_count) % qp->sq_max];
	memset(wc, 0, sizeof(*wc));
	wc->wr_id = wr_id;
	wc->status = st;
	wc->opcode = op;
	wc->byte_len = len;
	wc->qp_num = qp->qp.qp_num;
	qp->dq_count++;
	qp->outstanding++;
}

static struct fv_qp *qp_of(struct ibv_qp *qp)
{
	return (struct fv_qp *)((char *)qp - offsetof(struct fv_qp, qp));
}

static struct fv_cq *cq_of(struct ibv_cq *cq)
{
	return (struct fv_cq *)((char *)cq - offsetof(struct fv_cq, cq));
}

/* ---- Queue pairs: errors and work requests ---------------------------------------- */

static void qp_flush_rq(struct fv_qp *qp)
{
	while (qp->rq.count > 0) {
		struct fv_rwr *r = &qp->rq.q[qp->rq.head];

		qp->rq.head = (qp->rq.head + 1) % qp->rq.max;
		qp->rq.count--;
		wc_to(qp->rcq, qp, r->wr_id, IBV_WC_WR_FLUSH_ERR, IBV_WC_RECV, 0);
	}
}

int fv_deliver(struct fv_qp *qp, int n)
{
	int done = 0;

	while (qp != NULL && qp->dq_count > 0 && (n < 0 || done < n)) {
		cq_push(qp->scq, &qp->dq[qp->dq_head]);
		qp->dq_head = (qp->dq_head + 1) % qp->sq_max;
		qp->dq_count--;
		qp->outstanding--;
		done++;
	}
	return done;
}

int fv_deferred(const struct fv_qp *qp)
{
	return qp->dq_count;
}

void fv_defer_completions(bool defer)
{
	W.defer = defer;
}

static void qp_flush_sq(struct fv_qp *qp)
{
	/* Completions held back come first, as they are: those work requests ran before. */
	fv_deliver(qp, -1);
	while (qp->sq_count > 0) {
		struct fv_wr *w = &qp->sq[qp->sq_head];

		qp->sq_head = (qp->sq_head + 1) % qp->sq_max;
		qp->sq_count--;
		qp->outstanding--;
		wc_to(qp->scq, qp, w->wr_id, IBV_WC_WR_FLUSH_ERR, IBV_WC_SEND, 0);
	}
}

void fv_qp_error(struct fv_qp *qp)
{
	if (qp == NULL || !qp->o.live)
		return;
	qp->error = true;
	qp_flush_sq(qp);
	qp_flush_rq(qp);
}

static struct fv_mr *mr_of_lkey(uint32_t lkey)
{
	for (int i = 0; i < W.nmrs; i++)
		if (W.mrs[i]->o.live && W.mrs[i]->mr.lkey == lkey)
			return W.mrs[i];
	return NULL;
}

/* The local SGE lies inside a live region with that key. */
static bool sge_ok(const struct ibv_sge *s)
{
	struct fv_mr *m = mr_of_lkey(s->lkey);

	return m != NULL && s->addr >= (uintptr_t)m->mr.addr &&
	       s->addr + s->length <= (uintptr_t)m->mr.addr + m->mr.length;
}

static uint8_t *host_addr(uint64_t addr, size_t len, uint32_t rkey)
{
	/* Written so that no sum wraps: the host's addresses and lengths may be anything. */
	for (int i = 0; i < W.nmem; i++)
		if (W.mem[i].rkey == rkey && addr >= (uintptr_t)W.mem[i].addr &&
		    addr - (uintptr_t)W.mem[i].addr <= W.mem[i].len &&
		    len <= W.mem[i].len - (addr - (uintptr_t)W.mem[i].addr))
			return (uint8_t *)(uintptr_t)addr;
	return NULL;
}

static void wr_exec(struct fv_qp *qp, const struct fv_wr *w)
{
	enum ibv_wc_status st = IBV_WC_SUCCESS;
	enum ibv_wc_opcode op = IBV_WC_SEND;
	size_t total = 0, off = 0;
	uint8_t *h;

	for (int i = 0; i < w->num_sge; i++) {
		if (!sge_ok(&w->sge[i]))
			st = IBV_WC_LOC_PROT_ERR;
		total += w->sge[i].length;
	}
	if (st == IBV_WC_SUCCESS) {
		switch (w->opcode) {
		case IBV_WR_RDMA_READ:
		case IBV_WR_RDMA_WRITE:
			op = w->opcode == IBV_WR_RDMA_READ ? IBV_WC_RDMA_READ : IBV_WC_RDMA_WRITE;
			h = host_addr(w->remote_addr, total, w->rkey);
			if (h == NULL) {
				st = IBV_WC_REM_ACCESS_ERR;
				break;
			}
			for (int i = 0; i < w->num_sge; i++) {
				void *l = (void *)(uintptr_t)w->sge[i].addr;

				if (w->opcode == IBV_WR_RDMA_READ)
					memcpy(l, h + off, w->sge[i].length);
				else
					memcpy(h + off, l, w->sge[i].length);
				off += w->sge[i].length;
			}
			break;
		case IBV_WR_SEND:
		case IBV_WR_SEND_WITH_INV: {
			struct fv_resp *r;

			if (total > sizeof(r->data) || qp->resp_count == (int)NVMFT_ARRAY_SIZE_FV(qp->resps)) {
				st = IBV_WC_REM_INV_REQ_ERR;
				break;
			}
			r = &qp->resps[(qp->resp_head + qp->resp_count) % 256];
			qp->resp_count++;
			r->len = (uint32_t)total;
			r->opcode = w->opcode;
			r->invalidate_rkey = w->invalidate_rkey;
			for (int i = 0; i < w->num_sge; i++) {
				memcpy(r->data + off, (void *)(uintptr_t)w->sge[i].addr, w->sge[i].length);
				off += w->sge[i].length;
			}
			break;
		}
		default:
			st = IBV_WC_LOC_QP_OP_ERR;
			break;
		}
	}
	qp->outstanding--;
	if (st != IBV_WC_SUCCESS || (w->send_flags & IBV_SEND_SIGNALED))
		sq_wc(qp, w->wr_id, st, op, st == IBV_WC_SUCCESS ? (uint32_t)total : 0);
	if (st != IBV_WC_SUCCESS)
		fv_qp_error(qp);
}

static int fake_post_send(struct ibv_qp *ibqp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	struct fv_qp *qp = qp_of(ibqp);

	for (; wr != NULL; wr = wr->next) {
		struct fv_wr w;

		int rc = 0;

		if (fail_now(FV_FAIL_POST_SEND))
			rc = errno;
		else if (qp->outstanding >= qp->sq_max)
			rc = ENOMEM;
		else if (wr->num_sge > 32)
			rc = EINVAL;
		if (rc != 0) {
			*bad = wr;
			return rc;
		}
		memset(&w, 0, sizeof(w));
		w.wr_id = wr->wr_id;
		w.opcode = wr->opcode;
		w.send_flags = wr->send_flags;
		w.num_sge = wr->num_sge;
		memcpy(w.sge, wr->sg_list, sizeof(w.sge[0]) * (size_t)wr->num_sge);
		w.remote_addr = wr->wr.rdma.remote_addr;
		w.rkey = wr->wr.rdma.rkey;
		w.invalidate_rkey = wr->invalidate_rkey;
		qp->outstanding++;
		if (qp->error) {
			qp->outstanding--;
			wc_to(qp->scq, qp, w.wr_id, IBV_WC_WR_FLUSH_ERR, IBV_WC_SEND, 0);
		} else if (W.hold || qp->sq_count > 0) {
			/* Queued work requests run in order: behind held ones, hold too. */
			qp->sq[(qp->sq_head + qp->sq_count) % qp->sq_max] = w;
			qp->sq_count++;
		} else {
			wr_exec(qp, &w);
		}
	}
	return 0;
}

void fv_hold(bool hold)
{
	W.hold = hold;
}

int fv_run(struct fv_qp *qp, int n)
{
	int ran = 0;

	while (qp->sq_count > 0 && !qp->error && (n < 0 || ran < n)) {
		struct fv_wr w = qp->sq[qp->sq_head];

		qp->sq_head = (qp->sq_head + 1) % qp->sq_max;
		qp->sq_count--;
		wr_exec(qp, &w);
		ran++;
	}
	return ran;
}

bool fv_fail_held(struct fv_qp *qp, enum ibv_wc_status status)
{
	struct fv_wr w;

	if (qp == NULL || !qp->o.live || qp->error || qp->sq_count == 0)
		return false;
	w = qp->sq[qp->sq_head];
	qp->sq_head = (qp->sq_head + 1) % qp->sq_max;
	qp->sq_count--;
	qp->outstanding--;
	sq_wc(qp, w.wr_id, status, IBV_WC_SEND, 0);
	fv_qp_error(qp);
	return true;
}

int fv_held(struct fv_qp *qp, struct fv_wr *out, int max)
{
	for (int i = 0; i < qp->sq_count && i < max; i++)
		out[i] = qp->sq[(qp->sq_head + i) % qp->sq_max];
	return qp->sq_count;
}

static int rq_push(struct fv_rq *rq, const struct ibv_recv_wr *wr)
{
	if (rq->count == rq->max || wr->num_sge != 1)
		return ENOMEM;
	rq->q[(rq->head + rq->count) % rq->max] = (struct fv_rwr){ wr->wr_id, wr->sg_list[0] };
	rq->count++;
	return 0;
}

static int fake_post_recv(struct ibv_qp *ibqp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	struct fv_qp *qp = qp_of(ibqp);

	for (; wr != NULL; wr = wr->next) {
		int rc;

		if (qp->srq != NULL) {
			*bad = wr;
			return EINVAL;
		}
		if (qp->error) {
			wc_to(qp->rcq, qp, wr->wr_id, IBV_WC_WR_FLUSH_ERR, IBV_WC_RECV, 0);
			continue;
		}
		rc = rq_push(&qp->rq, wr);
		if (rc != 0) {
			*bad = wr;
			return rc;
		}
	}
	return 0;
}

static int fake_post_srq_recv(struct ibv_srq *ibsrq, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	struct fv_srq *srq = (struct fv_srq *)((char *)ibsrq - offsetof(struct fv_srq, srq));

	for (; wr != NULL; wr = wr->next) {
		int rc = rq_push(&srq->rq, wr);

		if (rc != 0) {
			*bad = wr;
			return rc;
		}
	}
	return 0;
}

/* ---- The host ------------------------------------------------------------------- */

static struct fv_rwr *rq_take(struct fv_rq *rq, struct fv_rwr *out)
{
	if (rq->count == 0)
		return NULL;
	*out = rq->q[rq->head];
	rq->head = (rq->head + 1) % rq->max;
	rq->count--;
	return out;
}

int fv_host_send(struct fv_qp *qp, const void *buf, size_t len)
{
	struct fv_rwr r;

	if (qp == NULL || !qp->o.live || qp->error)
		return -ENOTCONN;
	if (rq_take(qp->srq ? &qp->srq->rq : &qp->rq, &r) == NULL)
		return -ENOBUFS;
	if (len > r.sge.length) {
		wc_to(qp->rcq, qp, r.wr_id, IBV_WC_LOC_LEN_ERR, IBV_WC_RECV, 0);
		fv_qp_error(qp);
		return 0;
	}
	if (!sge_ok(&r.sge)) {
		wc_to(qp->rcq, qp, r.wr_id, IBV_WC_LOC_PROT_ERR, IBV_WC_RECV, 0);
		fv_qp_error(qp);
		return 0;
	}
	memcpy((void *)(uintptr_t)r.sge.addr, buf, len);
	wc_to(qp->rcq, qp, r.wr_id, IBV_WC_SUCCESS, IBV_WC_RECV, (uint32_t)len);
	return 0;
}

int fv_recv_error(struct fv_qp *qp, enum ibv_wc_status status)
{
	struct fv_rwr r;

	if (rq_take(qp->srq ? &qp->srq->rq : &qp->rq, &r) == NULL)
		return -ENOBUFS;
	wc_to(qp->rcq, qp, r.wr_id, status, IBV_WC_RECV, 0);
	fv_qp_error(qp);
	return 0;
}

bool fv_take_resp(struct fv_qp *qp, struct fv_resp *out)
{
	if (qp->resp_count == 0)
		return false;
	*out = qp->resps[qp->resp_head];
	qp->resp_head = (qp->resp_head + 1) % 256;
	qp->resp_count--;
	return true;
}

void fv_host_mem(void *addr, size_t len, uint32_t rkey)
{
	if (W.nmem == (int)NVMFT_ARRAY_SIZE_FV(W.mem))
		abort();
	W.mem[W.nmem].addr = addr;
	W.mem[W.nmem].len = len;
	W.mem[W.nmem].rkey = rkey;
	W.nmem++;
}

/* ---- CM events ------------------------------------------------------------------ */

static void chan_push(struct fv_chan *ch, struct fv_event *e)
{
	uint64_t one = 1;

	e->next = NULL;
	if (ch->tail != NULL)
		ch->tail->next = e;
	else
		ch->head = e;
	ch->tail = e;
	if (write(ch->ch.fd, &one, sizeof(one)) < 0)
		abort();
}

static struct fv_event *event_new(struct fv_id *id, enum rdma_cm_event_type type)
{
	struct fv_event *e = obj_new(K_EVENT, sizeof(*e));

	e->ev.id = &id->id;
	e->ev.event = type;
	return e;
}

static void id_event(struct fv_id *id, enum rdma_cm_event_type type)
{
	chan_push(id->ch, event_new(id, type));
}

struct fv_id *fv_listener(void)
{
	return W.listener;
}

static struct fv_id *id_new(struct fv_chan *ch, void *ctx)
{
	struct fv_id *id = obj_new(K_ID, sizeof(*id));

	id->ch = ch;
	id->id.channel = &ch->ch;
	id->id.context = ctx;
	id->id.ps = RDMA_PS_TCP;
	return id;
}

struct fv_id *fv_connect(struct fv_id *listener, const void *pdata, size_t len,
			 uint8_t initiator_depth, uint8_t responder_resources, int dev)
{
	struct fv_id *id = id_new(listener->ch, NULL);
	struct fv_event *e = event_new(id, RDMA_CM_EVENT_CONNECT_REQUEST);
	struct sockaddr_in *peer = (struct sockaddr_in *)&id->id.route.addr.dst_storage;

	/* The listener's context is the application's; the child's is its own to set. */
	id->dev = dev;
	id->id.verbs = &W.devs[dev].ctx;
	peer->sin_family = AF_INET;
	peer->sin_port = htons(50000);
	peer->sin_addr.s_addr = htonl(0xc0000202); /* 192.0.2.2 */
	if (pdata != NULL)
		memcpy(e->pdata, pdata, len < sizeof(e->pdata) ? len : sizeof(e->pdata));
	e->ev.listen_id = &listener->id;
	/* IB CM pads private data to 56 bytes; shorter shows what a transport without padding gives. */
	e->ev.param.conn.private_data = pdata != NULL ? e->pdata : NULL;
	e->ev.param.conn.private_data_len = (uint8_t)(pdata == NULL ? 0 : len < 32 ? len : 56);
	e->ev.param.conn.initiator_depth = initiator_depth;
	e->ev.param.conn.responder_resources = responder_resources;
	chan_push(listener->ch, e);
	return id;
}

struct fv_id *fv_connect_queue(struct fv_id *listener, uint16_t qid, uint16_t depth)
{
	uint8_t pd[32] = { 0 };

	pd[2] = (uint8_t)qid;
	pd[3] = (uint8_t)(qid >> 8);
	pd[4] = (uint8_t)depth;
	pd[5] = (uint8_t)(depth >> 8);
	pd[6] = (uint8_t)(depth - 1);
	pd[7] = (uint8_t)((depth - 1) >> 8);
	return fv_connect(listener, pd, sizeof(pd), 16, 16, 0);
}

bool fv_id_rejected(const struct fv_id *id, uint16_t *recfmt, uint16_t *sts)
{
	if (!id->rejected)
		return false;
	if (recfmt)
		*recfmt = (uint16_t)(id->rej[0] | id->rej[1] << 8);
	if (sts)
		*sts = (uint16_t)(id->rej[2] | id->rej[3] << 8);
	return true;
}

bool fv_id_accepted(const struct fv_id *id, struct rdma_conn_param *param, uint16_t *crqsize)
{
	if (!id->accepted)
		return false;
	if (param)
		*param = id->acc;
	if (crqsize)
		*crqsize = (uint16_t)(id->acc_pdata[2] | id->acc_pdata[3] << 8);
	return true;
}

bool fv_id_destroyed(const struct fv_id *id)
{
	return !id->o.live;
}

bool fv_id_disconnected(const struct fv_id *id)
{
	return id->disconnected;
}

struct fv_qp *fv_id_qp(const struct fv_id *id)
{
	return id->qp;
}

void fv_established(struct fv_id *id)
{
	id_event(id, RDMA_CM_EVENT_ESTABLISHED);
}

void fv_host_disconnect(struct fv_id *id)
{
	fv_qp_error(id->qp);
	id_event(id, RDMA_CM_EVENT_DISCONNECTED);
}

void fv_device_removal(struct fv_id *id)
{
	id_event(id, RDMA_CM_EVENT_DEVICE_REMOVAL);
}

void fv_cm_event(struct fv_id *id, enum rdma_cm_event_type type)
{
	if (id->o.live && id->ch->o.live)
		id_event(id, type);
}

struct rdma_cm_id *fv_id_cm(struct fv_id *id)
{
	return &id->id;
}

/* ---- librdmacm ---------------------------------------------------------------- */

static struct rdma_event_channel *fake_create_event_channel(void)
{
	struct fv_chan *ch = obj_new(K_CHAN, sizeof(*ch));

	ch->ch.fd = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
	return &ch->ch;
}

static struct fv_chan *chan_of(struct rdma_event_channel *ch)
{
	return (struct fv_chan *)((char *)ch - offsetof(struct fv_chan, ch));
}

static struct fv_id *id_of(struct rdma_cm_id *id)
{
	return (struct fv_id *)((char *)id - offsetof(struct fv_id, id));
}

static void fake_destroy_event_channel(struct rdma_event_channel *c)
{
	struct fv_chan *ch = chan_of(c);

	close(ch->ch.fd);
	for (struct fv_event *e = ch->head; e != NULL; e = e->next)
		obj_gone(&e->o);
	ch->head = ch->tail = NULL;
	obj_gone(&ch->o);
}

static int fake_create_id(struct rdma_event_channel *ch, struct rdma_cm_id **ret, void *ctx,
			  enum rdma_port_space ps)
{
	struct fv_id *id = id_new(chan_of(ch), ctx);

	id->id.ps = ps;
	*ret = &id->id;
	return 0;
}

/* Events of @id still queued on its channel: the kernel drops them with the id. */
static void chan_drop_id(struct fv_chan *ch, struct fv_id *id)
{
	struct fv_event **p = &ch->head;

	ch->tail = NULL;
	while (*p != NULL) {
		if ((*p)->ev.id == &id->id) {
			uint64_t v;

			obj_gone(&(*p)->o);
			*p = (*p)->next;
			if (read(ch->ch.fd, &v, sizeof(v)) < 0)
				abort();
			continue;
		}
		ch->tail = *p;
		p = &(*p)->next;
	}
}

static int fake_destroy_id(struct rdma_cm_id *cid)
{
	struct fv_id *id = id_of(cid);

	if (id->ch->o.live)
		chan_drop_id(id->ch, id);
	obj_gone(&id->o);
	return 0;
}

static int fake_bind_addr(struct rdma_cm_id *cid, struct sockaddr *addr)
{
	struct fv_id *id = id_of(cid);
	uint16_t port;

	if (addr->sa_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)addr)->sin_port);
	else if (addr->sa_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)addr)->sin6_port);
	else {
		errno = EAFNOSUPPORT;
		return -1;
	}
	id->port = port ? port : FV_PORT;
	return 0;
}

static int fake_listen(struct rdma_cm_id *cid, int backlog)
{
	(void)backlog;
	id_of(cid)->listening = true;
	W.listener = id_of(cid);
	return 0;
}

static uint16_t fake_get_src_port(struct rdma_cm_id *cid)
{
	return htons(id_of(cid)->port);
}

static int fake_get_cm_event(struct rdma_event_channel *c, struct rdma_cm_event **ev)
{
	struct fv_chan *ch = chan_of(c);
	struct fv_event *e = ch->head;
	uint64_t v;

	if (e == NULL) {
		errno = EAGAIN;
		return -1;
	}
	ch->head = e->next;
	if (ch->head == NULL)
		ch->tail = NULL;
	if (read(ch->ch.fd, &v, sizeof(v)) < 0)
		abort();
	*ev = &e->ev;
	return 0;
}

static int fake_ack_cm_event(struct rdma_cm_event *ev)
{
	obj_gone(&((struct fv_event *)((char *)ev - offsetof(struct fv_event, ev)))->o);
	return 0;
}

static int fake_migrate_id(struct rdma_cm_id *cid, struct rdma_event_channel *c)
{
	struct fv_id *id = id_of(cid);

	if (fail_now(FV_FAIL_MIGRATE))
		return -1;
	id->ch = chan_of(c);
	cid->channel = c;
	return 0;
}

static int fake_create_qp(struct rdma_cm_id *cid, struct ibv_pd *pd, struct ibv_qp_init_attr *a)
{
	struct fv_id *id = id_of(cid);
	struct fv_dev *d = &W.devs[id->dev];
	struct fv_qp *qp;

	if (fail_now(FV_FAIL_CREATE_QP))
		return -1;
	if ((int)a->cap.max_send_wr > d->attr.max_qp_wr || (int)a->cap.max_send_sge > d->attr.max_sge ||
	    a->send_cq == NULL || a->recv_cq == NULL || a->qp_type != IBV_QPT_RC ||
	    pd->context != cid->verbs) {
		errno = EINVAL;
		return -1;
	}
	qp = obj_new(K_QP, sizeof(*qp));
	qp->qp.context = cid->verbs;
	qp->qp.qp_context = a->qp_context;
	qp->qp.pd = pd;
	qp->qp.send_cq = a->send_cq;
	qp->qp.recv_cq = a->recv_cq;
	qp->qp.srq = a->srq;
	qp->qp.qp_num = W.next_qpn++;
	qp->qp.qp_type = IBV_QPT_RC;
	qp->scq = cq_of(a->send_cq);
	qp->rcq = cq_of(a->recv_cq);
	qp->srq = a->srq ? (struct fv_srq *)((char *)a->srq - offsetof(struct fv_srq, srq)) : NULL;
	qp->sq_max = (int)a->cap.max_send_wr;
	qp->sq = calloc((size_t)qp->sq_max, sizeof(*qp->sq));
	if (qp->srq == NULL) {
		qp->rq.max = (int)a->cap.max_recv_wr;
		qp->rq.q = calloc((size_t)qp->rq.max + 1, sizeof(*qp->rq.q));
	}
	qp->id = id;
	id->qp = qp;
	cid->qp = &qp->qp;
	return 0;
}

static void fake_destroy_qp(struct rdma_cm_id *cid)
{
	struct fv_id *id = id_of(cid);

	if (id->qp == NULL)
		return;
	/* Gone without completions: what it still held disappears. */
	id->qp->sq_count = 0;
	id->qp->rq.count = 0;
	id->qp->dq_count = 0;
	obj_gone(&id->qp->o);
	cid->qp = NULL;
}

static int fake_accept(struct rdma_cm_id *cid, struct rdma_conn_param *p)
{
	struct fv_id *id = id_of(cid);

	if (fail_now(FV_FAIL_ACCEPT))
		return -1;
	id->accepted = true;
	id->acc = *p;
	memcpy(id->acc_pdata, p->private_data, p->private_data_len < 64 ? p->private_data_len : 64);
	/* The caller's private data is gone after the call: keep a copy. */
	id->acc.private_data = id->acc_pdata;
	return 0;
}

static int fake_reject(struct rdma_cm_id *cid, const void *pd, uint8_t len)
{
	struct fv_id *id = id_of(cid);

	id->rejected = true;
	id->rej_len = len;
	memcpy(id->rej, pd, len < 64 ? len : 64);
	return 0;
}

static int fake_disconnect(struct rdma_cm_id *cid)
{
	struct fv_id *id = id_of(cid);

	id->disconnected = true;
	fv_qp_error(id->qp);
	id_event(id, RDMA_CM_EVENT_DISCONNECTED);
	return 0;
}

static struct ibv_context **fake_get_devices(int *num)
{
	struct fv_obj *o = obj_new(K_DEVLIST, sizeof(*o) + sizeof(struct ibv_context *) * 5);
	struct ibv_context **list = (struct ibv_context **)(o + 1);

	for (int i = 0; i < W.ndevs; i++)
		list[i] = &W.devs[i].ctx;
	*num = W.ndevs;
	return list;
}

static void fake_free_devices(struct ibv_context **list)
{
	obj_gone((struct fv_obj *)list - 1);
}

/* ---- libibverbs ------------------------------------------------------------------ */

static struct fv_dev *dev_of(struct ibv_context *ctx)
{
	return (struct fv_dev *)((char *)ctx - offsetof(struct fv_dev, ctx));
}

static int fake_query_device(struct ibv_context *ctx, struct ibv_device_attr *attr)
{
	*attr = dev_of(ctx)->attr;
	return 0;
}

static struct ibv_pd *fake_alloc_pd(struct ibv_context *ctx)
{
	struct fv_obj *o = obj_new(K_PD, sizeof(*o) + sizeof(struct ibv_pd));
	struct ibv_pd *pd = (struct ibv_pd *)(o + 1);

	pd->context = ctx;
	return pd;
}

static int fake_dealloc_pd(struct ibv_pd *pd)
{
	obj_gone((struct fv_obj *)pd - 1);
	return 0;
}

static struct ibv_mr *fake_reg_mr(struct ibv_pd *pd, void *addr, size_t len, int access)
{
	struct fv_mr *m;

	if (fail_now(FV_FAIL_REG_MR))
		return NULL;
	if (W.nmrs == (int)NVMFT_ARRAY_SIZE_FV(W.mrs)) {
		errno = ENOMEM;
		return NULL;
	}
	m = obj_new(K_MR, sizeof(*m));
	m->mr.context = pd->context;
	m->mr.pd = pd;
	m->mr.addr = addr;
	m->mr.length = len;
	m->mr.lkey = W.next_key++;
	m->mr.rkey = m->mr.lkey;
	(void)access;
	W.mrs[W.nmrs++] = m;
	return &m->mr;
}

static int fake_dereg_mr(struct ibv_mr *mr)
{
	obj_gone(&((struct fv_mr *)((char *)mr - offsetof(struct fv_mr, mr)))->o);
	return 0;
}

static struct ibv_comp_channel *fake_create_comp_channel(struct ibv_context *ctx)
{
	struct fv_cc *cc = obj_new(K_CC, sizeof(*cc));

	cc->cc.context = ctx;
	cc->cc.fd = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
	return &cc->cc;
}

static struct fv_cc *cc_of(struct ibv_comp_channel *c)
{
	return (struct fv_cc *)((char *)c - offsetof(struct fv_cc, cc));
}

static int fake_destroy_comp_channel(struct ibv_comp_channel *c)
{
	struct fv_cc *cc = cc_of(c);

	close(cc->cc.fd);
	obj_gone(&cc->o);
	return 0;
}

static struct ibv_cq *fake_create_cq(struct ibv_context *ctx, int cqe, void *cq_ctx,
				     struct ibv_comp_channel *c, int vector)
{
	struct fv_cq *cq;

	(void)vector;
	if (fail_now(FV_FAIL_CREATE_CQ))
		return NULL;
	if (cqe < 1 || cqe > dev_of(ctx)->attr.max_cqe) {
		errno = EINVAL;
		return NULL;
	}
	cq = obj_new(K_CQ, sizeof(*cq));
	cq->cq.context = ctx;
	cq->cq.cq_context = cq_ctx;
	cq->cq.channel = c;
	cq->cq.cqe = cqe;
	cq->size = cqe;
	cq->ring = calloc((size_t)cqe, sizeof(*cq->ring));
	if (c != NULL) {
		cq->cc = cc_of(c);
		cq->cc->cq = cq;
	}
	return &cq->cq;
}

static int fake_destroy_cq(struct ibv_cq *c)
{
	obj_gone(&cq_of(c)->o);
	return 0;
}

static int fake_resize_cq(struct ibv_cq *c, int cqe)
{
	struct fv_cq *cq = cq_of(c);
	struct ibv_wc *ring;

	if (fail_now(FV_FAIL_RESIZE_CQ))
		return errno;
	if (cqe < cq->count || cqe > dev_of(c->context)->attr.max_cqe)
		return EINVAL;
	ring = calloc((size_t)cqe, sizeof(*ring));
	for (int i = 0; i < cq->count; i++)
		ring[i] = cq->ring[(cq->head + i) % cq->size];
	free(cq->ring);
	cq->ring = ring;
	cq->head = 0;
	cq->size = cqe;
	c->cqe = cqe;
	W.resizes++;
	return 0;
}

static int fake_req_notify_cq(struct ibv_cq *c, int solicited_only)
{
	(void)solicited_only;
	cq_of(c)->armed = true;
	return 0;
}

static int fake_get_cq_event(struct ibv_comp_channel *c, struct ibv_cq **cq, void **ctx)
{
	struct fv_cc *cc = cc_of(c);
	uint64_t v;

	if (cc->pending == 0) {
		errno = EAGAIN;
		return -1;
	}
	cc->pending--;
	if (read(cc->cc.fd, &v, sizeof(v)) < 0)
		abort();
	*cq = &cc->cq->cq;
	*ctx = cc->cq->cq.cq_context;
	return 0;
}

static void fake_ack_cq_events(struct ibv_cq *cq, unsigned int n)
{
	(void)cq;
	(void)n;
}

static int fake_poll_cq(struct ibv_cq *c, int n, struct ibv_wc *wc)
{
	struct fv_cq *cq = cq_of(c);
	int got = 0;

	while (got < n && cq->count > 0) {
		wc[got++] = cq->ring[cq->head];
		cq->head = (cq->head + 1) % cq->size;
		cq->count--;
	}
	return got;
}

static struct ibv_srq *fake_create_srq(struct ibv_pd *pd, struct ibv_srq_init_attr *a)
{
	struct fv_srq *srq;

	if ((int)a->attr.max_wr > dev_of(pd->context)->attr.max_srq_wr || a->attr.max_wr == 0) {
		errno = EINVAL;
		return NULL;
	}
	srq = obj_new(K_SRQ, sizeof(*srq));
	srq->srq.context = pd->context;
	srq->srq.pd = pd;
	srq->rq.max = (int)a->attr.max_wr;
	srq->rq.q = calloc((size_t)srq->rq.max, sizeof(*srq->rq.q));
	return &srq->srq;
}

static int fake_destroy_srq(struct ibv_srq *s)
{
	obj_gone(&((struct fv_srq *)((char *)s - offsetof(struct fv_srq, srq)))->o);
	return 0;
}

static int fake_modify_qp(struct ibv_qp *ibqp, struct ibv_qp_attr *attr, int mask)
{
	if ((mask & IBV_QP_STATE) && attr->qp_state == IBV_QPS_ERR)
		fv_qp_error(qp_of(ibqp));
	return 0;
}

static int fake_get_async_event(struct ibv_context *ctx, struct ibv_async_event *ev)
{
	(void)ctx;
	(void)ev;
	errno = EAGAIN;
	return -1;
}

static void fake_ack_async_event(struct ibv_async_event *ev)
{
	(void)ev;
}

const struct nvmft_rdma_verbs fv_verbs = {
	.create_event_channel = fake_create_event_channel,
	.destroy_event_channel = fake_destroy_event_channel,
	.create_id = fake_create_id,
	.destroy_id = fake_destroy_id,
	.bind_addr = fake_bind_addr,
	.listen = fake_listen,
	.get_src_port = fake_get_src_port,
	.get_cm_event = fake_get_cm_event,
	.ack_cm_event = fake_ack_cm_event,
	.migrate_id = fake_migrate_id,
	.create_qp = fake_create_qp,
	.destroy_qp = fake_destroy_qp,
	.accept = fake_accept,
	.reject = fake_reject,
	.disconnect = fake_disconnect,
	.get_devices = fake_get_devices,
	.free_devices = fake_free_devices,
	.query_device = fake_query_device,
	.alloc_pd = fake_alloc_pd,
	.dealloc_pd = fake_dealloc_pd,
	.reg_mr = fake_reg_mr,
	.dereg_mr = fake_dereg_mr,
	.create_comp_channel = fake_create_comp_channel,
	.destroy_comp_channel = fake_destroy_comp_channel,
	.create_cq = fake_create_cq,
	.destroy_cq = fake_destroy_cq,
	.resize_cq = fake_resize_cq,
	.req_notify_cq = fake_req_notify_cq,
	.get_cq_event = fake_get_cq_event,
	.ack_cq_events = fake_ack_cq_events,
	.poll_cq = fake_poll_cq,
	.create_srq = fake_create_srq,
	.destroy_srq = fake_destroy_srq,
	.post_srq_recv = fake_post_srq_recv,
	.post_recv = fake_post_recv,
	.post_send = fake_post_send,
	.modify_qp = fake_modify_qp,
	.get_async_event = fake_get_async_event,
	.ack_async_event = fake_ack_async_event,
};

/* ---- Inspection ---------------------------------------------------------------- */

uint32_t fv_qp_num(const struct fv_qp *qp)
{
	return qp->qp.qp_num;
}

bool fv_qp_in_error(const struct fv_qp *qp)
{
	return qp->error;
}

bool fv_qp_destroyed(const struct fv_qp *qp)
{
	return !qp->o.live;
}

bool fv_qp_has_srq(const struct fv_qp *qp)
{
	return qp->srq != NULL;
}

int fv_qp_recvs(const struct fv_qp *qp)
{
	return qp->srq ? qp->srq->rq.count : qp->rq.count;
}

int fv_qp_max_send_wr(const struct fv_qp *qp)
{
	return qp->sq_max;
}

int fv_count_qps(void)
{
	return W.live[K_QP];
}

int fv_count_cqs(void)
{
	return W.live[K_CQ];
}

int fv_count_srqs(void)
{
	return W.live[K_SRQ];
}

int fv_count_mrs(void)
{
	return W.live[K_MR];
}

int fv_count_resize_cq(void)
{
	return W.resizes;
}

int fv_count_cq_overflows(void)
{
	return W.overflows;
}
