/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/RDMA transport on rdma-core: the transport and its devices,
 * listeners (RDMA CM), poll groups with their completion queues and shared
 * receive queues, and the registration of the groups' buffer pools.  One
 * connection's life (queue pair, capsules, RDMA READ/WRITE, responses) is
 * in rdma_qp.c; the wire format in rdma_codec.c.
 *
 * Devices are opened by the first listener: every device librdmacm knows
 * gets a protection domain, and every chunk of every group's buffer pool
 * is registered once on each of them (buf_mem_ops), so data never needs a
 * registration per request.  Devices that appear later are not used; a
 * connection arriving on one is rejected with No Resources.
 *
 * Read data is never served from backend memory here (no
 * NVMFT_TR_CAP_ZCOPY_READ): the RAM backend's zero-copy buffers are
 * copy-on-write heap buffers freed by their last reader, and a cache of
 * registrations over memory that is freed and reused would pin stale
 * pages or hand out keys for memory that changed owner.  The backend
 * copies into registered pool buffers instead, one memcpy per read.
 *
 * Each poll group keeps one epoll descriptor, in its own epoll set, with
 * a completion channel per device it uses, the CM event channel of each
 * of its connections and an eventfd "kick" for work no descriptor
 * announces (the poll budget ran out, a queue pair to destroy).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <bsd/string.h>

#include "core/poll_group.h"
#include "core/target.h"
#include "core/transport.h"
#include "transports/rdma/rdma_internal.h"
#include "util/log.h"

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* ---- Transport and devices ------------------------------------------------------ */

static void rdma_opts_init(struct nvmft_transport_opts *o)
{
	/* A page of write data travels with its command, as with SPDK's default. */
	o->in_capsule_data_size = 4096;
	o->max_srq_depth = RDMA_DEFAULT_SRQ_DEPTH;
	o->no_srq = false;
}

static int rdma_create(struct nvmft_transport *tr)
{
	struct rdma_transport *rt;
	uint32_t srq = tr->opts.max_srq_depth ? tr->opts.max_srq_depth : RDMA_DEFAULT_SRQ_DEPTH;

	if (!tr->opts.no_srq && (srq < RDMA_MIN_SRQ_DEPTH || srq > RDMA_MAX_SRQ_DEPTH))
		return -EINVAL;
	rt = calloc(1, sizeof(*rt));
	if (rt == NULL)
		return -ENOMEM;
	rt->tr = tr;
	rt->v = &nvmft_rdma_verbs_real;
	rt->recv_size = NVMFT_RDMA_SQE_LEN + tr->opts.in_capsule_data_size;
	rt->srq_depth = tr->opts.no_srq ? 0 : srq;
	tr->priv = rt;
	return 0;
}

int nvmft_rdma_set_verbs(struct nvmft_transport *tr, const struct nvmft_rdma_verbs *v)
{
	struct rdma_transport *rt;

	if (tr == NULL || v == NULL || tr->ops->type != NVMFT_TRTYPE_RDMA)
		return -EINVAL;
	rt = tr->priv;
	if (rt->devs_open)
		return -EBUSY;
	rt->v = v;
	return 0;
}

static void rdma_devs_close(struct rdma_transport *rt)
{
	for (uint32_t i = 0; i < rt->ndevs; i++)
		if (rt->devs[i].pd != NULL)
			rt->v->dealloc_pd(rt->devs[i].pd);
	free(rt->devs);
	rt->devs = NULL;
	rt->ndevs = 0;
	if (rt->dev_list != NULL)
		rt->v->free_devices(rt->dev_list);
	rt->dev_list = NULL;
	rt->devs_open = false;
}

static int rdma_dev_open(struct rdma_transport *rt, struct rdma_dev *d, struct ibv_context *ctx,
			 uint32_t idx)
{
	const struct nvmft_rdma_verbs *v = rt->v;
	int rc;

	d->ctx = ctx;
	d->index = idx;
	rc = v->query_device(ctx, &d->attr);
	if (rc != 0)
		return -rc;
	d->pd = v->alloc_pd(ctx);
	if (d->pd == NULL)
		return errno ? -errno : -ENOMEM;
	/* A request's data is at most NVMFT_REQ_INLINE_IOV pool chunks. */
	d->max_sge = NVMFT_MIN(d->attr.max_sge, NVMFT_REQ_INLINE_IOV);
	d->max_sge_rd = d->attr.max_sge_rd > 0 ? NVMFT_MIN(d->attr.max_sge_rd, d->max_sge) : d->max_sge;
	d->send_inv = (d->attr.device_cap_flags & IBV_DEVICE_MEM_MGT_EXTENSIONS) != 0;
	if (d->max_sge < 1 || d->attr.max_qp_wr < 4 || d->attr.max_cqe < 4)
		return -ENODEV;
	/* Async events are read from the management thread without blocking. */
	return set_nonblock(ctx->async_fd);
}

static int rdma_devs_open(struct rdma_transport *rt)
{
	int n = 0, rc;

	if (rt->devs_open)
		return 0;
	rt->dev_list = rt->v->get_devices(&n);
	if (rt->dev_list == NULL || n <= 0) {
		if (rt->dev_list != NULL)
			rt->v->free_devices(rt->dev_list);
		rt->dev_list = NULL;
		nvmft_err(rdma_log(rt), "rdma: no RDMA device");
		return -ENODEV;
	}
	rt->devs = calloc((size_t)n, sizeof(*rt->devs));
	if (rt->devs == NULL) {
		rt->v->free_devices(rt->dev_list);
		rt->dev_list = NULL;
		return -ENOMEM;
	}
	rt->ndevs = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		rc = rdma_dev_open(rt, &rt->devs[i], rt->dev_list[i], (uint32_t)i);
		if (rc < 0) {
			nvmft_err(rdma_log(rt), "rdma: cannot open device %d: %s", i, strerror(-rc));
			rdma_devs_close(rt);
			return rc;
		}
		nvmft_info(rdma_log(rt),
			   "rdma: device %s: max_qp_wr %d, max_sge %d, max_cqe %d, max_srq_wr %d, "
			   "rd_atom %d/%d%s",
			   rt->dev_list[i]->device ? ibv_get_device_name(rt->dev_list[i]->device) : "?",
			   rt->devs[i].attr.max_qp_wr, rt->devs[i].attr.max_sge, rt->devs[i].attr.max_cqe,
			   rt->devs[i].attr.max_srq_wr, rt->devs[i].attr.max_qp_rd_atom,
			   rt->devs[i].attr.max_qp_init_rd_atom,
			   rt->devs[i].send_inv ? ", remote invalidation" : "");
	}
	rt->devs_open = true;
	return 0;
}

static void rdma_destroy(struct nvmft_transport *tr)
{
	struct rdma_transport *rt = tr->priv;

	rdma_devs_close(rt);
	free(rt);
	tr->priv = NULL;
}

struct rdma_dev *rdma_dev_of(struct rdma_transport *rt, const struct ibv_context *ctx)
{
	for (uint32_t i = 0; i < rt->ndevs; i++)
		if (rt->devs[i].ctx == ctx)
			return &rt->devs[i];
	return NULL;
}

/* Log and drop the asynchronous events of every device (they only inform). */
static void rdma_async_events(struct rdma_transport *rt)
{
	for (uint32_t i = 0; i < rt->ndevs; i++) {
		struct rdma_dev *d = &rt->devs[i];
		struct ibv_async_event ev;

		if (d->ctx->async_fd < 0)
			continue;
		for (int n = 0; n < RDMA_ACCEPT_BATCH && rt->v->get_async_event(d->ctx, &ev) == 0; n++) {
			switch (ev.event_type) {
			case IBV_EVENT_QP_LAST_WQE_REACHED:
			case IBV_EVENT_COMM_EST:
				break;
			case IBV_EVENT_DEVICE_FATAL:
				nvmft_err(rdma_log(rt), "rdma: device %u: fatal error", i);
				atomic_store(&d->removed, true);
				break;
			default:
				/* A queue pair in error also shows as a flush on its group. */
				nvmft_info(rdma_log(rt), "rdma: device %u: async event %s", i,
					   ibv_event_type_str(ev.event_type));
				break;
			}
			rt->v->ack_async_event(&ev);
		}
	}
}

/* ---- Listeners ----------------------------------------------------------------- */

static int rtr_listen(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	struct rdma_transport *rt = tr->priv;
	const struct nvmft_rdma_verbs *v = rt->v;
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct epoll_event ev = { .events = EPOLLIN };
	struct addrinfo *res = NULL;
	struct rdma_listener *rl;
	int rc;

	if (l->adrfam == NVMFT_ADRFAM_IPV4)
		hints.ai_family = AF_INET;
	else if (l->adrfam == NVMFT_ADRFAM_IPV6)
		hints.ai_family = AF_INET6;
	else
		return -EAFNOSUPPORT;
	if (l->trsvcid[0] == '\0')
		strlcpy(l->trsvcid, "4420", sizeof(l->trsvcid));
	rc = getaddrinfo(l->traddr, l->trsvcid, &hints, &res);
	if (rc != 0)
		return rc == EAI_MEMORY ? -ENOMEM : -EINVAL;
	rc = rdma_devs_open(rt);
	if (rc < 0)
		goto out;
	rl = calloc(1, sizeof(*rl));
	if (rl == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rl->rt = rt;
	rl->l = l;
	rl->epfd = -1;
	rl->ch = v->create_event_channel();
	if (rl->ch == NULL) {
		rc = errno ? -errno : -ENOMEM;
		goto err;
	}
	rc = set_nonblock(rl->ch->fd);
	if (rc < 0)
		goto err;
	if (v->create_id(rl->ch, &rl->id, rl, RDMA_PS_TCP) != 0) {
		rc = -errno;
		rl->id = NULL;
		goto err;
	}
	if (v->bind_addr(rl->id, res->ai_addr) != 0 || v->listen(rl->id, RDMA_LISTEN_BACKLOG) != 0) {
		rc = errno ? -errno : -EINVAL;
		goto err;
	}
	rl->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (rl->epfd < 0) {
		rc = -errno;
		goto err;
	}
	ev.data.ptr = rl;
	if (epoll_ctl(rl->epfd, EPOLL_CTL_ADD, rl->ch->fd, &ev) < 0) {
		rc = -errno;
		goto err;
	}
	for (uint32_t i = 0; i < rt->ndevs; i++) {
		ev.data.ptr = &rt->devs[i];
		if (epoll_ctl(rl->epfd, EPOLL_CTL_ADD, rt->devs[i].ctx->async_fd, &ev) < 0) {
			rc = -errno;
			goto err;
		}
	}
	snprintf(l->trsvcid, sizeof(l->trsvcid), "%u", ntohs(v->get_src_port(rl->id)));
	l->fd = rl->epfd;
	l->priv = rl;
	nvmft_info(rdma_log(rt), "rdma: listening on %s port %s", l->traddr, l->trsvcid);
	rc = 0;
	goto out;
err:
	if (rl->epfd >= 0)
		close(rl->epfd);
	if (rl->id != NULL)
		v->destroy_id(rl->id);
	if (rl->ch != NULL)
		v->destroy_event_channel(rl->ch);
	free(rl);
out:
	freeaddrinfo(res);
	return rc;
}

static void rdma_stop_listen(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	struct rdma_transport *rt = tr->priv;
	struct rdma_listener *rl = l->priv;

	if (rl == NULL)
		return;
	close(rl->epfd);
	/* Connections made here moved to channels of their own: only the listener goes. */
	rt->v->destroy_id(rl->id);
	rt->v->destroy_event_channel(rl->ch);
	free(rl);
	l->priv = NULL;
	l->fd = -1;
}

static int rtr_accept(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	struct rdma_transport *rt = tr->priv;
	struct rdma_listener *rl = l->priv;
	struct rdma_cm_event *ev;
	int n = 0;

	rdma_async_events(rt);
	for (int i = 0; i < RDMA_ACCEPT_BATCH; i++) {
		if (rt->v->get_cm_event(rl->ch, &ev) != 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				nvmft_warn(rdma_log(rt), "rdma: CM events on port %s: %s", l->trsvcid,
					   strerror(errno));
			break;
		}
		switch (ev->event) {
		case RDMA_CM_EVENT_CONNECT_REQUEST:
			n += rdma_conn_request(rl, ev);
			continue; /* acked there */
		case RDMA_CM_EVENT_DEVICE_REMOVAL: {
			struct rdma_dev *d = rdma_dev_of(rt, ev->id->verbs);

			nvmft_notice(rdma_log(rt), "rdma: device removed under the listener on %s port %s",
				     l->traddr, l->trsvcid);
			if (d != NULL)
				atomic_store(&d->removed, true);
			break;
		}
		default:
			nvmft_debug(rdma_log(rt), "rdma: listener event %s", rdma_event_str(ev->event));
			break;
		}
		rt->v->ack_cm_event(ev);
	}
	return n;
}

static void rdma_cdata_init(struct nvmft_transport *tr, struct nvme_id_ctrl *cd)
{
	uint32_t icd = tr->opts.in_capsule_data_size;

	/* A 64-byte SQE plus the in-capsule data, in 16-byte units. */
	cd->ioccsz = htole32((64 + icd) / 16);
	cd->iorcsz = htole32(1);
	cd->icdoff = 0;
	cd->fcatt = 0;
	cd->msdbd = 1;
	/* Keyed data blocks (mandatory for RDMA); offsets for in-capsule data when there is any. */
	cd->sgls = htole32(1u | NVME_CTRL_SGLS_KEYED | (icd > 0 ? NVME_CTRL_SGLS_OFFSET : 0));
}

static void rdma_disc_entry(struct nvmft_listener *l, struct nvmf_disc_log_entry *e)
{
	(void)l;
	e->treq = NVMF_TREQ_NOT_REQUIRED | NVMF_TREQ_DISABLE_SQFLOW;
	memset(&e->tsas, 0, sizeof(e->tsas));
	e->tsas.rdma.qptype = NVMF_RDMA_QPTYPE_CONNECTED;
	e->tsas.rdma.prtype = NVMF_RDMA_PRTYPE_NOT_SPECIFIED;
	e->tsas.rdma.cms = NVMF_RDMA_CMS_RDMA_CM;
}

/* ---- Buffer pool registration ---------------------------------------------------- */

static int rdma_buf_reg(void *ctx, void *addr, size_t len, void **handle)
{
	struct rdma_tpg *tpg = ctx;
	struct rdma_transport *rt = tpg->rt;
	struct rdma_chunk_reg *reg;
	int rc;

	reg = calloc(1, sizeof(*reg) + rt->ndevs * sizeof(reg->mr[0]));
	if (reg == NULL)
		return -ENOMEM;
	reg->n = rt->ndevs;
	for (uint32_t i = 0; i < rt->ndevs; i++) {
		if (atomic_load_explicit(&rt->devs[i].removed, memory_order_relaxed))
			continue;
		/* RDMA READ lands write data here; RDMA WRITE sends read data from here. */
		reg->mr[i] = rt->v->reg_mr(rt->devs[i].pd, addr, len, IBV_ACCESS_LOCAL_WRITE);
		if (reg->mr[i] == NULL) {
			/* -EAGAIN would tell the pool to wait for buffers to come back: none may. */
			rc = errno && errno != EAGAIN ? -errno : -ENOMEM;
			nvmft_err(rdma_log(rt), "rdma: cannot register %zu bytes of buffer pool: %s", len,
				  strerror(-rc));
			while (i-- > 0)
				if (reg->mr[i] != NULL)
					rt->v->dereg_mr(reg->mr[i]);
			free(reg);
			return rc;
		}
	}
	*handle = reg;
	return 0;
}

static void rdma_buf_unreg(void *ctx, void *addr, size_t len, void *handle)
{
	struct rdma_tpg *tpg = ctx;
	struct rdma_chunk_reg *reg = handle;

	(void)addr;
	(void)len;
	for (uint32_t i = 0; i < reg->n; i++)
		if (reg->mr[i] != NULL)
			tpg->rt->v->dereg_mr(reg->mr[i]);
	free(reg);
}

static const struct nvmft_buf_pool_mem_ops rdma_buf_mem_ops = {
	.reg = rdma_buf_reg,
	.unreg = rdma_buf_unreg,
};

int rdma_req_lkey(const struct nvmft_req *req, int idx, const struct rdma_dev *dev, uint32_t *lkey)
{
	struct rdma_chunk_reg *reg;
	void *h;

	if (nvmft_req_buf_mem_handle(req, idx, &h) < 0)
		return -ENOENT;
	reg = h;
	if (dev->index >= reg->n || reg->mr[dev->index] == NULL)
		return -ENOENT;
	*lkey = reg->mr[dev->index]->lkey;
	return 0;
}

/* A removed device: release this group's pool registrations on it. */
static void rdma_tpg_drop_dev_regs(struct rdma_tpg *tpg, uint32_t idx)
{
	struct nvmft_buf_pool *pool = &nvmft_pg_transport(tpg->pg, tpg->tr)->pool;

	for (uint32_t i = 0; pool->regs != NULL && i < pool->nr_alloc; i++) {
		struct rdma_chunk_reg *reg = pool->regs[i].handle;

		if (reg != NULL && idx < reg->n && reg->mr[idx] != NULL) {
			tpg->rt->v->dereg_mr(reg->mr[idx]);
			reg->mr[idx] = NULL;
		}
	}
	tpg->devs_dropped[idx] = true;
}

/* ---- Receive buffers --------------------------------------------------------------- */

int rdma_recv_set_init(struct rdma_recv_set *set, struct rdma_transport *rt, struct rdma_dev *dev,
		       uint32_t n)
{
	size_t sz = NVMFT_ALIGN_UP((size_t)rt->recv_size, (size_t)64);

	memset(set, 0, sizeof(*set));
	set->v = rt->v;
	set->n = n;
	set->bytes = NVMFT_ALIGN_UP(sz * n, (size_t)4096);
	set->region = aligned_alloc(4096, set->bytes);
	set->recvs = calloc(n, sizeof(*set->recvs));
	if (set->region == NULL || set->recvs == NULL) {
		rdma_recv_set_fini(set);
		return -ENOMEM;
	}
	set->mr = rt->v->reg_mr(dev->pd, set->region, set->bytes, IBV_ACCESS_LOCAL_WRITE);
	if (set->mr == NULL) {
		int rc = errno ? -errno : -ENOMEM;

		rdma_recv_set_fini(set);
		return rc;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct rdma_recv *r = &set->recvs[i];

		r->buf = set->region + i * sz;
		r->sge.addr = (uintptr_t)r->buf;
		r->sge.length = rt->recv_size;
		r->sge.lkey = set->mr->lkey;
		r->set = set;
	}
	return 0;
}

void rdma_recv_set_fini(struct rdma_recv_set *set)
{
	if (set->mr != NULL)
		set->v->dereg_mr(set->mr);
	free(set->recvs);
	free(set->region);
	memset(set, 0, sizeof(*set));
}

int rdma_recv_post(struct rdma_recv *r)
{
	struct rdma_recv_set *set = r->set;
	struct ibv_recv_wr wr = { .wr_id = (uintptr_t)r, .sg_list = &r->sge, .num_sge = 1 }, *bad;
	int rc;

	if (set->srq != NULL)
		rc = set->v->post_srq_recv(set->srq, &wr, &bad);
	else
		rc = set->v->post_recv(set->conn->ibqp, &wr, &bad);
	if (rc != 0)
		return -rc;
	r->posted = true;
	return 0;
}

/* ---- Poll groups ------------------------------------------------------------------- */

static int rdma_pg_create(struct nvmft_transport *tr, struct nvmft_poll_group *pg, void **ret)
{
	struct rdma_tpg *tpg = calloc(1, sizeof(*tpg));
	int rc;

	if (tpg == NULL)
		return -ENOMEM;
	tpg->watch.kind = RDMA_WATCH_KICK;
	tpg->pg = pg;
	tpg->tr = tr;
	tpg->rt = tr->priv;
	TAILQ_INIT(&tpg->conns);
	TAILQ_INIT(&tpg->zombies);
	rc = nvmft_group_set_open(&tpg->set, pg, &tpg->watch, tpg);
	if (rc < 0) {
		free(tpg);
		return rc;
	}
	*ret = tpg;
	return 0;
}

/* The devices are opened after some groups exist: size the per-device arrays then. */
static int rdma_tpg_devs(struct rdma_tpg *tpg)
{
	uint32_t n = tpg->rt->ndevs;

	if (tpg->ndevs == n)
		return 0;
	if (tpg->ndevs != 0)
		return -ENODEV;
	tpg->devs = calloc(n, sizeof(*tpg->devs));
	tpg->devs_dropped = calloc(n, sizeof(*tpg->devs_dropped));
	if (tpg->devs == NULL || tpg->devs_dropped == NULL) {
		free(tpg->devs);
		free(tpg->devs_dropped);
		tpg->devs = NULL;
		tpg->devs_dropped = NULL;
		return -ENOMEM;
	}
	tpg->ndevs = n;
	return 0;
}

static void rdma_pg_dev_free(struct rdma_pg_dev *pgd)
{
	const struct nvmft_rdma_verbs *v = pgd->tpg->rt->v;

	if (pgd->cc != NULL)
		epoll_ctl(pgd->tpg->set.epfd, EPOLL_CTL_DEL, pgd->cc->fd, NULL);
	if (pgd->srq.srq != NULL)
		v->destroy_srq(pgd->srq.srq);
	if (pgd->have_srq)
		rdma_recv_set_fini(&pgd->srq);
	if (pgd->cq != NULL)
		v->destroy_cq(pgd->cq);
	if (pgd->cc != NULL)
		v->destroy_comp_channel(pgd->cc);
	pgd->tpg->devs[pgd->dev->index] = NULL;
	free(pgd);
}

int rdma_pg_dev_get(struct rdma_tpg *tpg, struct rdma_dev *dev, struct rdma_pg_dev **ret)
{
	struct rdma_transport *rt = tpg->rt;
	const struct nvmft_rdma_verbs *v = rt->v;
	struct epoll_event ev = { .events = EPOLLIN };
	struct rdma_pg_dev *pgd;
	uint32_t srq_depth;
	int rc;

	rc = rdma_tpg_devs(tpg);
	if (rc < 0)
		return rc;
	if (tpg->devs[dev->index] != NULL) {
		*ret = tpg->devs[dev->index];
		return 0;
	}
	if (atomic_load(&dev->removed))
		return -ENODEV;
	pgd = calloc(1, sizeof(*pgd));
	if (pgd == NULL)
		return -ENOMEM;
	pgd->watch.kind = RDMA_WATCH_CQ;
	pgd->tpg = tpg;
	pgd->dev = dev;
	tpg->devs[dev->index] = pgd;
	srq_depth = NVMFT_MIN(rt->srq_depth, (uint32_t)NVMFT_MAX(dev->attr.max_srq_wr, 0));
	pgd->cc = v->create_comp_channel(dev->ctx);
	if (pgd->cc == NULL) {
		rc = errno ? -errno : -ENOMEM;
		goto err;
	}
	rc = set_nonblock(pgd->cc->fd);
	if (rc < 0)
		goto err;
	pgd->cq_size = NVMFT_MIN((int)srq_depth + RDMA_CQ_INITIAL, dev->attr.max_cqe);
	pgd->cq = v->create_cq(dev->ctx, pgd->cq_size, pgd, pgd->cc, 0);
	if (pgd->cq == NULL) {
		rc = errno ? -errno : -ENOMEM;
		goto err;
	}
	if (srq_depth > 0) {
		struct ibv_srq_init_attr sa = { .attr = { .max_wr = srq_depth, .max_sge = 1 } };

		rc = rdma_recv_set_init(&pgd->srq, rt, dev, srq_depth);
		if (rc < 0)
			goto err;
		pgd->have_srq = true;
		pgd->srq.srq = v->create_srq(dev->pd, &sa);
		if (pgd->srq.srq == NULL) {
			rc = errno ? -errno : -ENOMEM;
			goto err;
		}
		rc = rdma_pg_dev_reserve(pgd, (int)srq_depth);
		if (rc < 0)
			goto err;
		for (uint32_t i = 0; i < srq_depth; i++) {
			rc = rdma_recv_post(&pgd->srq.recvs[i]);
			if (rc < 0)
				goto err;
		}
	}
	ev.data.ptr = &pgd->watch;
	if (epoll_ctl(tpg->set.epfd, EPOLL_CTL_ADD, pgd->cc->fd, &ev) < 0) {
		rc = -errno;
		goto err;
	}
	nvmft_debug(rdma_log(rt), "%s: rdma: device %u: CQ of %d entries, %s", tpg->pg->name, dev->index,
		    pgd->cq_size, srq_depth ? "shared receive queue" : "receive queue per queue pair");
	*ret = pgd;
	return 0;
err:
	nvmft_err(rdma_log(rt), "%s: rdma: cannot set up device %u: %s", tpg->pg->name, dev->index,
		  strerror(-rc));
	rdma_pg_dev_free(pgd);
	return rc;
}

int rdma_pg_dev_reserve(struct rdma_pg_dev *pgd, int n)
{
	int need = pgd->cq_need + n, size;

	if (need > pgd->dev->attr.max_cqe)
		return -ENOSPC;
	if (need > pgd->cq_size) {
		size = NVMFT_MIN(NVMFT_MAX(need, pgd->cq_size * 2), pgd->dev->attr.max_cqe);
		if (pgd->tpg->rt->v->resize_cq(pgd->cq, size) != 0)
			return -ENOSPC;
		pgd->cq_size = size;
	}
	pgd->cq_need = need;
	return 0;
}

static void rdma_wc_dispatch(struct rdma_pg_dev *pgd, const struct ibv_wc *wc)
{
	unsigned int tag = (unsigned int)(wc->wr_id & RDMA_WR_TAG_MASK);
	void *p = (void *)(uintptr_t)(wc->wr_id & ~(uint64_t)RDMA_WR_TAG_MASK);

	if (tag == RDMA_WR_RECV)
		rdma_recv_done(pgd, p, wc);
	else
		rdma_req_wr_done(p, tag, wc);
}

/* Handle up to @max completions; returns how many. */
static int rdma_pg_dev_poll(struct rdma_pg_dev *pgd, int max)
{
	struct ibv_wc wc[RDMA_WC_BATCH];
	int done = 0, n;

	while (done < max) {
		n = pgd->tpg->rt->v->poll_cq(pgd->cq, NVMFT_MIN(max - done, RDMA_WC_BATCH), wc);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			rdma_wc_dispatch(pgd, &wc[i]);
		done += n;
	}
	return done;
}

void rdma_pg_dev_drain(struct rdma_pg_dev *pgd)
{
	while (rdma_pg_dev_poll(pgd, RDMA_WC_BATCH * 8) > 0)
		;
}

/* The completion channel said the CQ has entries: take the events, re-arm later. */
static void rdma_pg_dev_cq_events(struct rdma_pg_dev *pgd)
{
	const struct nvmft_rdma_verbs *v = pgd->tpg->rt->v;
	struct ibv_cq *cq;
	void *ctx;

	while (v->get_cq_event(pgd->cc, &cq, &ctx) == 0) {
		v->ack_cq_events(cq, 1);
		pgd->armed = false;
	}
}

void rdma_tpg_hash_add(struct rdma_tpg *tpg, struct rdma_conn *c)
{
	struct rdma_conn **b = &tpg->hash[c->qp_num % RDMA_HASH_BUCKETS];

	c->hash_next = *b;
	*b = c;
	c->in_hash = true;
}

void rdma_tpg_hash_del(struct rdma_tpg *tpg, struct rdma_conn *c)
{
	struct rdma_conn **p = &tpg->hash[c->qp_num % RDMA_HASH_BUCKETS];

	if (!c->in_hash)
		return;
	while (*p != NULL && *p != c)
		p = &(*p)->hash_next;
	if (*p == c)
		*p = c->hash_next;
	c->in_hash = false;
}

/* Devices gone: free what the group holds on them once no connection uses it. */
static void rdma_tpg_removed_devs(struct rdma_tpg *tpg)
{
	for (uint32_t i = 0; i < tpg->ndevs; i++) {
		struct rdma_pg_dev *pgd = tpg->devs[i];

		if (tpg->devs_dropped[i] || !atomic_load_explicit(&tpg->rt->devs[i].removed,
								  memory_order_relaxed))
			continue;
		if (pgd != NULL && pgd->nconns > 0)
			continue;
		if (pgd != NULL)
			rdma_pg_dev_free(pgd);
		rdma_tpg_drop_dev_regs(tpg, i);
		nvmft_notice(rdma_log(tpg->rt), "%s: rdma: released device %u", tpg->pg->name, i);
	}
}

static int rdma_pg_poll(void *arg, unsigned int budget)
{
	struct rdma_tpg *tpg = arg;
	struct epoll_event ev[64];
	struct rdma_conn *c;
	bool again = false;
	int n, work = 0;

	n = epoll_wait(tpg->set.epfd, ev, (int)NVMFT_ARRAY_SIZE(ev), 0);
	for (int i = 0; i < n; i++) {
		struct rdma_watch *w = ev[i].data.ptr;

		switch (w->kind) {
		case RDMA_WATCH_KICK:
			nvmft_group_set_unkick(&tpg->set);
			break;
		case RDMA_WATCH_CONN:
			work += rdma_conn_cm_events(nvmft_container_of(w, struct rdma_conn, watch));
			break;
		case RDMA_WATCH_CQ:
			rdma_pg_dev_cq_events(nvmft_container_of(w, struct rdma_pg_dev, watch));
			break;
		}
	}
	for (uint32_t i = 0; i < tpg->ndevs; i++) {
		struct rdma_pg_dev *pgd = tpg->devs[i];
		int max = (int)budget, got;

		if (pgd == NULL)
			continue;
		got = rdma_pg_dev_poll(pgd, max);
		work += got;
		if (got == max) {
			again = true;
			continue;
		}
		if (!pgd->armed) {
			/* Completions that came before the request have no event: look once more. */
			if (pgd->tpg->rt->v->req_notify_cq(pgd->cq, 0) == 0)
				pgd->armed = true;
			else
				again = true;
			got = rdma_pg_dev_poll(pgd, max);
			work += got;
			if (got == max)
				again = true;
		}
	}
	while ((c = TAILQ_FIRST(&tpg->zombies)) != NULL) {
		TAILQ_REMOVE(&tpg->zombies, c, link);
		rdma_conn_destroy(c);
		work++;
	}
	if (tpg->ndevs > 0)
		rdma_tpg_removed_devs(tpg);
	if (again)
		nvmft_group_set_kick(&tpg->set);
	return work;
}

static void rdma_pg_destroy(void *arg)
{
	struct rdma_tpg *tpg = arg;
	struct rdma_conn *c;

	/* The core freed every queue pair; some may still wait for their QP to go. */
	while ((c = TAILQ_FIRST(&tpg->zombies)) != NULL) {
		TAILQ_REMOVE(&tpg->zombies, c, link);
		rdma_conn_destroy(c);
	}
	for (uint32_t i = 0; i < tpg->ndevs; i++)
		if (tpg->devs[i] != NULL)
			rdma_pg_dev_free(tpg->devs[i]);
	nvmft_group_set_close(&tpg->set, tpg->pg);
	free(tpg->devs);
	free(tpg->devs_dropped);
	free(tpg);
}

const struct nvmft_transport_ops nvmft_rdma_ops = {
	.type = NVMFT_TRTYPE_RDMA,
	.name = "RDMA",
	.caps = 0,
	.opts_init = rdma_opts_init,
	.create = rdma_create,
	.destroy = rdma_destroy,
	.listen = rtr_listen,
	.stop_listen = rdma_stop_listen,
	.accept = rtr_accept,
	.cdata_init = rdma_cdata_init,
	.disc_entry = rdma_disc_entry,
	.pg_create = rdma_pg_create,
	.pg_destroy = rdma_pg_destroy,
	.pg_poll = rdma_pg_poll,
	.pg_add_qpair = rdma_pg_add_qpair,
	.qpair_disconnect = rdma_qpair_disconnect,
	.qpair_free = rdma_qpair_free,
	.qpair_get_peer = rdma_qpair_get_peer,
	.req_complete = rdma_req_complete,
	.req_buffers_ready = rdma_req_buffers_ready,
	.req_recycle = rdma_req_recycle,
	.buf_mem_ops = &rdma_buf_mem_ops,
};
