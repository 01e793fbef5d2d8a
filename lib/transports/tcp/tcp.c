/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/TCP transport: listeners, accepted connections, poll groups and the
 * lifetime of a connection and its request slots.  The wire format is in
 * tcp_codec.c; commands, data and the send queue in tcp_io.c.
 *
 * Each poll group keeps one epoll descriptor with all of its sockets; that
 * descriptor sits in the group's own epoll set, so an event-driven host
 * wakes up when any connection has something to read (or, with a send
 * backlog, room to write).  Work the sockets cannot announce (staged bytes
 * left over when the budget ran out, responses completed outside the
 * transport's poll) is announced through an eventfd "kick" in the same set.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bsd/string.h>

#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/target.h"
#include "core/transport.h"
#include "transports/tcp/tcp_internal.h"
#include "util/log.h"

/* Input discarded before close(), so the kernel sends FIN rather than RST. */
#define TCP_CLOSE_DRAIN_ROUNDS 16

static const struct nvmft_logger *tcp_tr_log(const struct nvmft_transport *tr)
{
	return &tr->tgt->log;
}

/* ---- Transport ---------------------------------------------------------------- */

static void tcp_opts_init(struct nvmft_transport_opts *o)
{
	/* 4 KiB in-capsule: one page of write data travels with its command. */
	o->in_capsule_data_size = 4096;
	o->c2h_success = true;
	o->max_h2c_data = 131072;
	o->digests = NVMFT_DIGEST_HEADER | NVMFT_DIGEST_DATA;
}

/* Set the configured congestion control on @fd; 0 when none is configured. */
static int tcp_set_congestion(const struct nvmft_transport *tr, int fd)
{
	const char *cc = tr->opts.tcp_congestion;

	if (cc[0] == '\0')
		return 0;
	if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) < 0)
		return -errno;
	return 0;
}

/* Whether the kernel takes the configured algorithm, asked once, up front. */
static int tcp_check_congestion(const struct nvmft_transport *tr)
{
	int fd, rc;

	if (memchr(tr->opts.tcp_congestion, '\0', sizeof(tr->opts.tcp_congestion)) == NULL)
		return -EINVAL;
	if (tr->opts.tcp_congestion[0] == '\0')
		return 0;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	rc = tcp_set_congestion(tr, fd);
	close(fd);
	return rc;
}

static int tcp_create(struct nvmft_transport *tr)
{
	/* MAXH2CDATA is a byte count in whole dwords. */
	if (tr->opts.max_h2c_data % 4 != 0 || tr->opts.max_h2c_data < NVMFT_TCP_MIN_MAXH2CDATA ||
	    (tr->opts.digests & ~(uint32_t)(NVMFT_DIGEST_HEADER | NVMFT_DIGEST_DATA)) != 0)
		return -EINVAL;
	tr->priv = NULL;
	return tcp_check_congestion(tr);
}

static void tcp_destroy(struct nvmft_transport *tr)
{
	(void)tr;
}

static int tcp_listen(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	struct addrinfo hints = {
		.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
		.ai_socktype = SOCK_STREAM,
		.ai_protocol = IPPROTO_TCP,
	};
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct addrinfo *res = NULL;
	int fd, one = 1, rc;
	uint16_t port;

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
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (res->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, TCP_LISTEN_BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
		rc = -errno;
		close(fd);
		goto out;
	}
	port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					: ntohs(((struct sockaddr_in *)&ss)->sin_port);
	snprintf(l->trsvcid, sizeof(l->trsvcid), "%u", port);
	l->fd = fd;
	rc = 0;
	nvmft_info(tcp_tr_log(tr), "tcp: listening on %s port %s", l->traddr, l->trsvcid);
out:
	freeaddrinfo(res);
	return rc;
}

static void tcp_stop_listen(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	(void)tr;
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

/* Wrap a connected, non-blocking socket in a connection and hand it to the core. */
static int tcp_conn_new(struct nvmft_listener *l, int fd, const struct sockaddr_storage *peer)
{
	struct tcp_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -ENOMEM;
	nvmft_qpair_init(&c->qp, l->tr, l);
	c->fd = fd;
	c->pipe_rd = -1;
	c->pipe_wr = -1;
	c->peer = *peer;
	TAILQ_INIT(&c->txq);
	TAILQ_INIT(&c->free_reqs);
	nvmft_target_accepted(l->tr->tgt, &c->qp);
	return 0;
}

static int tcp_accept(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	int n = 0;

	while (n < TCP_ACCEPT_BATCH) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd, rc, one = 1;

		fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				nvmft_warn(tcp_tr_log(tr), "tcp: accept on port %s: %s", l->trsvcid,
					   strerror(errno));
			break;
		}
		/* Responses are small and latency-bound; batching happens in sendmsg. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* Checked by tcp_create(); only a module unloaded since can refuse it. */
		rc = tcp_set_congestion(tr, fd);
		if (rc < 0)
			nvmft_warn(tcp_tr_log(tr), "tcp: congestion control %s: %s",
				   tr->opts.tcp_congestion, strerror(-rc));
		if (tcp_conn_new(l, fd, &peer) < 0) {
			close(fd);
			nvmft_warn(tcp_tr_log(tr), "tcp: out of memory for a connection");
			break;
		}
		n++;
	}
	return n;
}

int nvmft_tcp_adopt_fd(struct nvmft_listener *l, int fd)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	int fl = fcntl(fd, F_GETFL);

	if (l == NULL || l->tr->ops->type != NVMFT_TRTYPE_TCP || fl < 0)
		return -EINVAL;
	memset(&peer, 0, sizeof(peer));
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
		return -errno;
	return tcp_conn_new(l, fd, &peer);
}

static void tcp_cdata_init(struct nvmft_transport *tr, struct nvme_id_ctrl *cd)
{
	/* A 64-byte SQE plus the in-capsule data, in 16-byte units. */
	cd->ioccsz = htole32((64 + tr->opts.in_capsule_data_size) / 16);
	cd->iorcsz = htole32(1);
	cd->icdoff = 0;
	cd->fcatt = 0;
	cd->msdbd = 1;
	/* SGLs without alignment needs, offset addresses, transport data blocks. */
	cd->sgls = htole32(1u | NVME_CTRL_SGLS_OFFSET | NVME_CTRL_SGLS_TPORT);
}

static void tcp_disc_entry(struct nvmft_listener *l, struct nvmf_disc_log_entry *e)
{
	(void)l;
	e->treq = NVMF_TREQ_NOT_REQUIRED | NVMF_TREQ_DISABLE_SQFLOW;
	memset(&e->tsas, 0, sizeof(e->tsas));
	e->tsas.tcp.sectype = NVMF_TCP_SECTYPE_NONE;
}

/* ---- Poll groups ------------------------------------------------------------- */

static int tcp_pg_create(struct nvmft_transport *tr, struct nvmft_poll_group *pg, void **ret)
{
	struct tcp_tpg *tpg = calloc(1, sizeof(*tpg));
	int rc;

	if (tpg == NULL)
		return -ENOMEM;
	tpg->pg = pg;
	tpg->tr = tr;
	TAILQ_INIT(&tpg->busy);
	TAILQ_INIT(&tpg->flush);
	rc = nvmft_group_set_open(&tpg->set, pg, tpg, tpg);
	if (rc < 0) {
		free(tpg);
		return rc;
	}
	*ret = tpg;
	return 0;
}

static void tcp_pg_destroy(void *arg)
{
	struct tcp_tpg *tpg = arg;

	nvmft_group_set_close(&tpg->set, tpg->pg);
	free(tpg);
}

void tcp_conn_want_flush(struct tcp_conn *c)
{
	struct tcp_tpg *tpg = c->tpg;

	if (c->dead || c->on_flush)
		return;
	c->on_flush = true;
	TAILQ_INSERT_TAIL(&tpg->flush, c, flush_link);
	if (!tpg->in_poll)
		nvmft_group_set_kick(&tpg->set);
}

static int tcp_flush_all(struct tcp_tpg *tpg)
{
	struct tcp_conn *c, *tmp;
	int work = 0;

	TAILQ_FOREACH_SAFE(c, &tpg->flush, flush_link, tmp)
		work += tcp_conn_flush(c);
	return work;
}

/*
 * The hot connection: when one connection is all a group hears from (a QD1
 * host, or one loaded queue among idle ones), the next polls recv() from it
 * directly instead of asking epoll_wait() first.  That is one system call
 * of three less per QD1 command.  A connection becomes hot when two epoll
 * rounds in a row found it the only readable one; as soon as epoll reports
 * more than one, or the hot one stays empty TCP_HOT_IDLE reads in a row,
 * polling goes back to epoll alone: with many busy queues a direct read
 * would mostly find nothing.
 *
 * In a group that is never slept on (busy_poll) the hot connection also
 * leaves the epoll set: while a socket is in one, every packet it receives
 * runs epoll's wakeup callback, here twice (this set, then the group's set
 * it is nested in), under the socket's lock, which a direct read waits for.
 * That was a third of a microsecond of each QD1 round trip on loopback.
 * It goes back in when it stops being hot, and before anything needs epoll
 * to say more of it than "readable" (EPOLLOUT, terminating).
 */
int tcp_conn_epoll(struct tcp_conn *c, bool pollout)
{
	/* A terminating connection reads nothing more: input must not wake the group. */
	struct epoll_event ev = { .events = (c->terminating ? 0 : EPOLLIN) | (pollout ? EPOLLOUT : 0),
				  .data.ptr = c };
	int rc;

	if (!c->unwatched)
		return epoll_ctl(c->tpg->set.epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0 ? 0 : -errno;
	if (c->tpg->hot == c)
		c->tpg->hot = NULL;
	if (epoll_ctl(c->tpg->set.epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		rc = -errno;
		/* Nothing would ever say it has room or input again. */
		tcp_conn_close(c, "cannot add the socket to epoll again");
		return rc;
	}
	c->unwatched = false;
	return 0;
}

static void tcp_hot_set(struct tcp_tpg *tpg, struct tcp_conn *c)
{
	struct tcp_conn *old = tpg->hot;

	if (old == c)
		return;
	tpg->hot = c;
	tpg->hot_idle = 0;
	if (old != NULL && old->unwatched)
		tcp_conn_epoll(old, old->pollout);
	if (c != NULL && tpg->pg->busy_poll && !c->pollout && !c->terminating &&
	    epoll_ctl(tpg->set.epfd, EPOLL_CTL_DEL, c->fd, NULL) == 0)
		c->unwatched = true;
}

static int tcp_poll_hot(struct tcp_tpg *tpg, unsigned int budget)
{
	struct tcp_conn *c = tpg->hot;
	int rc;

	if (c->on_busy)
		return 0; /* its staged bytes are parsed with the busy list */
	rc = tcp_conn_rx(c, budget);
	if (rc > 0)
		tpg->hot_idle = 0;
	else if (++tpg->hot_idle >= TCP_HOT_IDLE)
		tcp_hot_set(tpg, NULL);
	return rc;
}

static int tcp_pg_poll(void *arg, unsigned int budget)
{
	struct tcp_tpg *tpg = arg;
	struct epoll_event ev[64];
	struct tcp_conn *c, *tmp, *got = NULL;
	int n, rc, readers = 0, work = 0;

	tpg->in_poll = true;
	/* Responses completed since the last poll go out first. */
	work += tcp_flush_all(tpg);
	/*
	 * Bounded: after TCP_HOT_POLLS polls epoll is asked again, so other
	 * connections, EPOLLOUT and the kick wait at most that many polls.
	 */
	if (tpg->hot != NULL && tpg->hot_polls < TCP_HOT_POLLS) {
		tpg->hot_polls++;
		n = 0;
		work += tcp_poll_hot(tpg, budget);
	} else {
		tpg->hot_polls = 0;
		n = epoll_wait(tpg->set.epfd, ev, (int)NVMFT_ARRAY_SIZE(ev), 0);
	}
	for (int i = 0; i < n; i++) {
		if (ev[i].data.ptr == tpg) {
			nvmft_group_set_unkick(&tpg->set);
			continue;
		}
		c = ev[i].data.ptr;
		if (c->dead)
			continue;
		/* Terminating: only writes are left, and a send error ends it. */
		if (c->terminating || (ev[i].events & EPOLLOUT))
			work += tcp_conn_flush(c);
		if (!c->dead && (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
			rc = tcp_conn_rx(c, budget);
			if (rc > 0 && !c->dead && !c->terminating) {
				readers++;
				got = c;
			}
			work += rc;
		}
	}
	TAILQ_FOREACH_SAFE(c, &tpg->busy, busy_link, tmp)
		work += tcp_conn_rx(c, budget);
	work += tcp_flush_all(tpg);
	/*
	 * Hot only after two epoll rounds in a row heard from it alone.  Decided
	 * after the responses went out: it may cost an epoll_ctl().
	 */
	if (readers == 1 && got != tpg->hot && !got->dead) {
		tcp_hot_set(tpg, got == tpg->hot_next ? got : NULL);
		tpg->hot_next = got;
	} else if (readers > 1) {
		tcp_hot_set(tpg, NULL);
		tpg->hot_next = NULL;
	}
	tpg->in_poll = false;
	if (!TAILQ_EMPTY(&tpg->busy) || !TAILQ_EMPTY(&tpg->flush))
		nvmft_group_set_kick(&tpg->set);
	return work;
}

/* Anonymous memory whose untouched pages cost nothing; NULL when there is none. */
static void *tcp_map_lazy(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int tcp_pg_add_qpair(void *arg, struct nvmft_qpair *qp)
{
	struct tcp_tpg *tpg = arg;
	struct tcp_conn *c = tcp_conn_of(qp);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	uint32_t deepest;

	c->tpg = tpg;
	/* Only what reads have filled is resident. */
	c->stage = tcp_map_lazy(TCP_STAGE_SIZE);
	if (c->stage == NULL)
		return -ENOMEM;
	memset(&c->params, 0, sizeof(c->params));
	/*
	 * Every TTAG must fit 16 bits, for the deepest queue this transport
	 * allows; fixed for the connection's life, so no TTAG changes meaning.
	 */
	deepest = NVMFT_MAX(tpg->tr->opts.max_queue_depth, tpg->tr->opts.max_aq_depth);
	c->r2t_shift = TCP_R2T_SHIFT;
	while (c->r2t_shift > 0 && ((uint64_t)deepest << c->r2t_shift) > UINT16_MAX + 1u)
		c->r2t_shift--;
	/* Until Connect names the queue, allow what an admin queue allows. */
	c->params.icd_max = NVMFT_MAX((uint32_t)TCP_ADMIN_ICD, tpg->tr->opts.in_capsule_data_size);
	nvmft_tcp_rx_init(&c->rx, NVMFT_TCP_ROLE_CTRLR, &c->params);
	if (epoll_ctl(tpg->set.epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -errno;
	return 0;
}

/* ---- Connection lifetime ------------------------------------------------------ */

static void tcp_qpair_disconnect(struct nvmft_qpair *qp)
{
	struct tcp_conn *c = tcp_conn_of(qp);

	if (c->dead)
		return;
	c->dead = true;
	if (c->stall_timer.deadline_ms != 0)
		nvmft_pg_timer_cancel(c->qp.pg, &c->stall_timer);
	if (c->tpg != NULL) {
		if (c->on_busy)
			TAILQ_REMOVE(&c->tpg->busy, c, busy_link);
		if (c->on_flush)
			TAILQ_REMOVE(&c->tpg->flush, c, flush_link);
		c->on_busy = false;
		c->on_flush = false;
		if (c->tpg->hot == c)
			c->tpg->hot = NULL;
		if (c->tpg->hot_next == c)
			c->tpg->hot_next = NULL;
		if (!c->unwatched)
			epoll_ctl(c->tpg->set.epfd, EPOLL_CTL_DEL, c->fd, NULL);
		c->unwatched = false;
	}
	if (c->fd >= 0) {
		uint8_t sink[4096];

		/* Unread input would turn close() into a reset that can eat a TermReq. */
		for (int i = 0; i < TCP_CLOSE_DRAIN_ROUNDS; i++)
			if (recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
				break;
		close(c->fd);
		c->fd = -1;
	}
	tcp_conn_pipe_close(c);
	tcp_conn_drop_reqs(c);
}

static void tcp_block_free(struct tcp_block *b)
{
	if (b->icd != NULL)
		munmap(b->icd, b->icd_bytes);
	free(b->reqs);
	memset(b, 0, sizeof(*b));
}

static void tcp_qpair_free(struct nvmft_qpair *qp)
{
	struct tcp_conn *c = tcp_conn_of(qp);

	/* Refused before any group took it: nothing but the socket exists. */
	if (c->fd >= 0)
		close(c->fd);
	tcp_conn_pipe_close(c);
	for (size_t i = 0; i < NVMFT_ARRAY_SIZE(c->blocks); i++)
		tcp_block_free(&c->blocks[i]);
	free(c->slots);
	if (c->stage != NULL)
		munmap(c->stage, TCP_STAGE_SIZE);
	free(c);
}

static int tcp_qpair_get_peer(const struct nvmft_qpair *qp, struct sockaddr_storage *ss)
{
	const struct tcp_conn *c = nvmft_container_of(qp, const struct tcp_conn, qp);

	*ss = c->peer;
	return 0;
}

void tcp_conn_close(struct tcp_conn *c, const char *why)
{
	if (c->dead)
		return;
	nvmft_info(tcp_tr_log(c->qp.tr), "tcp: closing connection (qid %u): %s", c->qp.qid, why);
	nvmft_qpair_disconnect(&c->qp);
}

void tcp_conn_fatal(struct tcp_conn *c, const struct nvmft_tcp_err *err, const void *hdr,
		    size_t hdr_len)
{
	size_t n;

	if (c->dead || c->terminating)
		return;
	nvmft_warn(tcp_tr_log(c->qp.tr), "tcp: fatal transport error (FES %u, FEI %u), qid %u",
		   err->fes, err->fei, c->qp.qid);
	if (err->silent) {
		tcp_conn_close(c, "fatal transport error");
		return;
	}
	/* What the socket takes now still reaches the host; the TermReq goes last. */
	tcp_conn_flush(c);
	if (c->dead)
		return;
	/* Copied now: @hdr may be the receive machine's, which the next PDU overwrites. */
	n = nvmft_tcp_enc_term(c->term, NVMFT_TCP_C2H_TERM, err->fes, err->fei, hdr, hdr_len);
	tcp_conn_terminate(c, n);
}

void tcp_conn_terminated(struct tcp_conn *c)
{
	tcp_conn_close(c, "fatal transport error");
}

/* ---- Request slots --------------------------------------------------------------- */

int tcp_conn_reserve(struct tcp_conn *c, uint32_t depth, uint32_t icd_cap)
{
	struct tcp_block *b;
	struct tcp_req **slots;
	uint32_t n;

	if (depth <= c->nslots)
		return 0;
	if (depth > UINT16_MAX + 1u)
		return -EINVAL;
	b = c->blocks[0].reqs == NULL ? &c->blocks[0] : &c->blocks[1];
	if (b->reqs != NULL)
		return -ENOSPC;
	n = depth - c->nslots;
	slots = realloc(c->slots, sizeof(*slots) * depth);
	if (slots == NULL)
		return -ENOMEM;
	c->slots = slots;
	b->reqs = calloc(n, sizeof(*b->reqs));
	if (b->reqs == NULL)
		return -ENOMEM;
	if (icd_cap > 0) {
		/* Only buffers that carry data get memory. */
		b->icd_bytes = (size_t)n * icd_cap;
		b->icd = tcp_map_lazy(b->icd_bytes);
		if (b->icd == NULL) {
			tcp_block_free(b);
			return -ENOMEM;
		}
	}
	b->n = n;
	for (uint32_t i = 0; i < n; i++) {
		struct tcp_req *t = &b->reqs[i];

		t->c = c;
		t->slot = (uint16_t)(c->nslots + i);
		t->req.qpair = &c->qp;
		t->icd = icd_cap ? (uint8_t *)b->icd + (size_t)i * icd_cap : NULL;
		t->icd_cap = icd_cap;
		c->slots[c->nslots + i] = t;
		TAILQ_INSERT_TAIL(&c->free_reqs, t, link);
	}
	c->nslots = depth;
	return 0;
}

struct tcp_req *tcp_req_get(struct tcp_conn *c)
{
	struct tcp_req *t;

	/* A queue smaller than the slots made at ICReq time holds only its own entries. */
	if (c->busy >= c->depth)
		return NULL;
	t = TAILQ_FIRST(&c->free_reqs);
	if (t != NULL) {
		TAILQ_REMOVE(&c->free_reqs, t, link);
		c->busy++;
	}
	return t;
}

void tcp_req_put(struct tcp_req *t)
{
	t->c->busy--;
	t->state = TCP_REQ_FREE;
	t->h2c_status = 0;
	t->r2t_pending = 0;
	t->tx_c2h = false;
	t->tx_rsp = false;
	TAILQ_INSERT_TAIL(&t->c->free_reqs, t, link);
}

const struct nvmft_transport_ops nvmft_tcp_ops = {
	.type = NVMFT_TRTYPE_TCP,
	.name = "TCP",
	.caps = NVMFT_TR_CAP_ZCOPY_READ,
	.opts_init = tcp_opts_init,
	.create = tcp_create,
	.destroy = tcp_destroy,
	.listen = tcp_listen,
	.stop_listen = tcp_stop_listen,
	.accept = tcp_accept,
	.cdata_init = tcp_cdata_init,
	.disc_entry = tcp_disc_entry,
	.pg_create = tcp_pg_create,
	.pg_destroy = tcp_pg_destroy,
	.pg_poll = tcp_pg_poll,
	.pg_add_qpair = tcp_pg_add_qpair,
	.qpair_disconnect = tcp_qpair_disconnect,
	.qpair_free = tcp_qpair_free,
	.qpair_get_peer = tcp_qpair_get_peer,
	.req_complete = tcp_req_complete,
	.req_recycle = tcp_req_recycle,
	.req_buffers_ready = tcp_req_buffers_ready,
};
