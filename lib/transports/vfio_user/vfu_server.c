/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfio-user transport: listeners (a Unix socket "cntrl" in the listener's
 * directory), accepted clients, poll-group state, connection lifetime and
 * the socket of each connection (framing, descriptors, replies).  What the
 * messages do is in vfu_msg.c, what their bytes mean in vfu_proto.c; BAR0
 * and the device state are in vfu_bar.c, the queues in vfu_nvme.c.
 *
 * Each connection is one PCI function and one controller of the NVM
 * subsystem its listener belongs to.  Its socket sits in the group's
 * transport epoll set; a busy group looks at it every VFU_EVENT_CHECK_NS
 * (the doorbells in mapped memory need no system call at all), a sleeping
 * one when epoll wakes it.  Commands are processed in order, one at a
 * time: a command whose reply must wait for the device (DMA_UNMAP with DMA
 * in flight, DEVICE_RESET, CC written during a reset) holds back the
 * messages behind it until it is answered.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/ctrlr.h"
#include "core/subsystem.h"
#include "core/target.h"
#include "core/transport.h"
#include "transports/vfio_user/vfu_internal.h"
#include "util/log.h"

struct vfu_listener {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
};

static const struct nvmft_logger *vfu_log(const struct nvmft_transport *tr)
{
	return &tr->tgt->log;
}

uint64_t vfu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- Transport ------------------------------------------------------------------- */

static void vfu_opts_init(struct nvmft_transport_opts *o)
{
	/* A PCIe controller: no capsules, no digests; data moves in the client's own memory. */
	o->max_queue_depth = 256;
	o->max_aq_depth = 32;
	o->in_capsule_data_size = 0;
	o->digests = 0;
	o->c2h_success = false;
	/* Only Dataset Management ranges and feature data pass through pool buffers. */
	o->buf_pool_bytes = 1u << 20;
}

static int vfu_create(struct nvmft_transport *tr)
{
	/* Queue identifiers are 16 bits on PCIe, and each needs a doorbell pair. */
	if (tr->opts.max_qpairs_per_ctrlr > 65535 || tr->opts.buf_pool_bytes < tr->opts.max_io_size)
		return -EINVAL;
	tr->priv = NULL;
	return 0;
}

static void vfu_destroy(struct nvmft_transport *tr)
{
	(void)tr;
}

/* Is a live server behind the socket at @path? */
static bool sock_in_use(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return true; /* cannot tell: do not take it away */
	strcpy(sa.sun_path, path);
	used = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno != ECONNREFUSED;
	close(fd);
	return used;
}

static int vfu_listen(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vfu_listener *vl;
	struct stat st;
	int fd, rc;

	/*
	 * A path has no family and no port.  SPDK's tools still send both (an
	 * IPv4 family, service id "0"): whatever the family, "" and "0" are taken.
	 */
	if (l->traddr[0] == '\0' || (l->trsvcid[0] != '\0' && strcmp(l->trsvcid, "0") != 0))
		return -EINVAL;
	vl = calloc(1, sizeof(*vl));
	if (vl == NULL)
		return -ENOMEM;
	if ((size_t)snprintf(vl->path, sizeof(vl->path), "%s/%s", l->traddr, VFU_SOCK_NAME) >=
	    sizeof(vl->path)) {
		rc = -ENAMETOOLONG;
		goto err;
	}
	/* The directory may be made for us; a missing parent is the caller's business. */
	if (mkdir(l->traddr, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		goto err;
	}
	if (lstat(vl->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			rc = -EEXIST;
			goto err;
		}
		if (sock_in_use(vl->path)) {
			rc = -EADDRINUSE;
			goto err;
		}
		unlink(vl->path); /* left behind by a server that is gone */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto err;
	}
	strcpy(sa.sun_path, vl->path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, VFU_LISTEN_BACKLOG) < 0 ||
	    stat(vl->path, &st) < 0) {
		rc = -errno;
		close(fd);
		goto err;
	}
	vl->dev = st.st_dev;
	vl->ino = st.st_ino;
	l->priv = vl;
	l->fd = fd;
	nvmft_info(vfu_log(tr), "vfio-user: listening on %s", vl->path);
	return 0;
err:
	free(vl);
	return rc;
}

static void vfu_stop_listen(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	struct vfu_listener *vl = l->priv;
	struct stat st;

	(void)tr;
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	/* Remove the socket only if it is still ours (not one a newer server made). */
	if (vl != NULL && stat(vl->path, &st) == 0 && st.st_dev == vl->dev && st.st_ino == vl->ino)
		unlink(vl->path);
	free(vl);
	l->priv = NULL;
}

/* The NVM subsystem @l belongs to (the first one, if several took it), or false. */
static bool listener_subsystem(struct nvmft_transport *tr, struct nvmft_listener *l, char *nqn, size_t len)
{
	struct nvmft_subsystem *ss;
	bool found = false;
	int n = 0;

	TAILQ_FOREACH(ss, &tr->tgt->ss_list, link) {
		bool has;

		if (ss->type != NVMFT_SUBTYPE_NVM || ss->state == NVMFT_SS_DELETING)
			continue;
		pthread_mutex_lock(&ss->lock);
		has = nvmft_subsystem_has_listener_locked(ss, l);
		pthread_mutex_unlock(&ss->lock);
		if (!has)
			continue;
		if (n++ == 0) {
			snprintf(nqn, len, "%s", ss->nqn);
			found = true;
		}
	}
	if (n > 1)
		nvmft_warn(vfu_log(tr), "vfio-user: %s belongs to %d subsystems; it serves %s", l->traddr, n,
			   nqn);
	return found;
}

static int vfu_accept(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	int n = 0;

	while (n < VFU_ACCEPT_BATCH) {
		struct vfu_conn *c;
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				nvmft_warn(vfu_log(tr), "vfio-user: accept on %s: %s", l->traddr,
					   strerror(errno));
			break;
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL || !listener_subsystem(tr, l, c->subnqn, sizeof(c->subnqn))) {
			if (c != NULL)
				nvmft_notice(vfu_log(tr), "vfio-user: %s is in no subsystem: client refused",
					     l->traddr);
			free(c);
			close(fd);
			n++;
			continue;
		}
		nvmft_qpair_init(&c->admin.qp, tr, l);
		c->admin.c = c;
		c->fd = fd;
		c->refs = 1;
		c->tx_fd = -1;
		c->bar_fd = -1;
		c->intx_fd = -1;
		c->rx.buf = c->rx.inline_buf;
		nvmft_target_accepted(tr->tgt, &c->admin.qp);
		n++;
	}
	return n;
}

static void vfu_cdata_init(struct nvmft_transport *tr, struct nvme_id_ctrl *cd)
{
	(void)tr;
	/* A PCIe function: no capsules, no Fabrics commands; SGLs without alignment rules. */
	cd->ioccsz = 0;
	cd->iorcsz = 0;
	cd->icdoff = 0;
	cd->fcatt = 0;
	cd->msdbd = 0;
	cd->ofcs = 0;
	cd->maxcmd = 0;
	cd->sgls = htole32(1);
	cd->vid = htole16(VFU_PCI_VENDOR_ID);
	cd->ssvid = htole16(VFU_PCI_VENDOR_ID);
	cd->oacs = htole16(le16toh(cd->oacs) | NVME_CTRL_OACS_DBBUF_CFG);
}

static void vfu_disc_entry(struct nvmft_listener *l, struct nvmf_disc_log_entry *e)
{
	/* Never called: discovery leaves PCIe transports out.  Nothing to say if it were. */
	(void)l;
	(void)e;
}

/* ---- Poll groups ----------------------------------------------------------------- */

static int vfu_pg_create(struct nvmft_transport *tr, struct nvmft_poll_group *pg, void **tpgp)
{
	struct vfu_tpg *tpg = calloc(1, sizeof(*tpg));
	struct epoll_event ev = { .events = EPOLLIN };
	int rc;

	if (tpg == NULL)
		return -ENOMEM;
	/* The tick is tagged with the group, connections with themselves. */
	ev.data.ptr = tpg;
	tpg->pg = pg;
	tpg->tr = tr;
	/* The first poll reads the clock and sees a host out of a sleep, not a busy loop. */
	tpg->idle = true;
	tpg->tick.clock_read = true;
	TAILQ_INIT(&tpg->conns);
	tpg->epfd = epoll_create1(EPOLL_CLOEXEC);
	tpg->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tpg->epfd < 0 || tpg->tick_fd < 0 || epoll_ctl(tpg->epfd, EPOLL_CTL_ADD, tpg->tick_fd, &ev) < 0) {
		rc = -errno;
		goto err;
	}
	rc = nvmft_pg_watch_fd(pg, tpg->epfd, EPOLLIN, tpg);
	if (rc < 0)
		goto err;
	*tpgp = tpg;
	return 0;
err:
	if (tpg->tick_fd >= 0)
		close(tpg->tick_fd);
	if (tpg->epfd >= 0)
		close(tpg->epfd);
	free(tpg);
	return rc;
}

static void vfu_pg_destroy(void *arg)
{
	struct vfu_tpg *tpg = arg;

	nvmft_pg_unwatch_fd(tpg->pg, tpg->epfd);
	close(tpg->tick_fd);
	close(tpg->epfd);
	free(tpg);
}

/* Re-arm the tick when the period it should have changed (vfu_tick.h). */
static void tpg_tick_update(struct vfu_tpg *tpg, uint64_t now)
{
	struct itimerspec its = { 0 };
	uint64_t want = vfu_tick_period(&tpg->tick, now, tpg->nr_enabled);

	if (want == tpg->tick_ns)
		return;
	tpg->tick_ns = want;
	its.it_interval.tv_sec = (time_t)(want / 1000000000u);
	its.it_interval.tv_nsec = (long)(want % 1000000000u);
	its.it_value = its.it_interval;
	timerfd_settime(tpg->tick_fd, 0, &its, NULL);
}

static void conn_tx(struct vfu_conn *c);

static int tpg_events(struct vfu_tpg *tpg)
{
	struct epoll_event ev[16];
	int n, work = 0;
	uint64_t cnt;

	n = epoll_wait(tpg->epfd, ev, (int)NVMFT_ARRAY_SIZE(ev), 0);
	for (int i = 0; i < n; i++) {
		struct vfu_conn *c = ev[i].data.ptr;

		if (ev[i].data.ptr == tpg) {
			if (read(tpg->tick_fd, &cnt, sizeof(cnt)) < 0)
				cnt = 0;
			continue;
		}
		/* A connection failed earlier in this batch is still allocated: it is freed by the reaper. */
		if (c->dead)
			continue;
		if (ev[i].events & EPOLLOUT)
			conn_tx(c);
		if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			vfu_conn_rx(c);
		work++;
	}
	return work;
}

static int vfu_pg_poll(void *arg, unsigned int budget)
{
	struct vfu_tpg *tpg = arg;
	struct vfu_conn *c, *tmp;
	bool clock = tpg->idle || ++tpg->polls % VFU_CLOCK_EVERY == 0;
	uint64_t now = tpg->tick.last_poll_ns;
	int work = 0;

	/* A busy loop has no use for the time on every round: it costs as much as a doorbell. */
	if (clock) {
		now = vfu_now_ns();
		/* Out of a sleep, woken for a reason: look now. */
		if (vfu_tick_begin(&tpg->tick, now) || now >= tpg->next_check_ns) {
			work += tpg_events(tpg);
			TAILQ_FOREACH(c, &tpg->conns, link)
				vfu_conn_check_doorbells(c);
			tpg->next_check_ns = now + VFU_EVENT_CHECK_NS;
		}
	}
	TAILQ_FOREACH_SAFE(c, &tpg->conns, link, tmp) {
		if (nvmft_unlikely(c->blocked != VFU_BLOCK_NONE))
			vfu_conn_try_unblock(c);
		work += vfu_conn_poll_queues(c, budget, now);
	}
	tpg->idle = work == 0;
	vfu_tick_end(&tpg->tick, clock, work > 0);
	if (clock)
		tpg_tick_update(tpg, now);
	return work;
}

/* A fresh hostnqn and host ID per function: a PCIe host has none to give. */
static void conn_make_host(struct vfu_conn *c)
{
	uint8_t *u = c->hostid;

	if (getrandom(u, 16, 0) != 16) {
		uint64_t t = vfu_now_ns() ^ (uintptr_t)c;

		memcpy(u, &t, 8);
		memcpy(u + 8, &c, sizeof(c) < 8 ? sizeof(c) : 8);
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(c->hostnqn, sizeof(c->hostnqn),
		 "nqn.2014-08.org.nvmexpress:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
}

static int vfu_pg_add_qpair(void *arg, struct nvmft_qpair *qp)
{
	struct vfu_tpg *tpg = arg;
	struct vfu_conn *c = vfu_sq_of(qp)->c;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	int rc;

	c->tpg = tpg;
	TAILQ_INSERT_TAIL(&tpg->conns, c, link);
	rc = vfu_dev_init(c);
	if (rc < 0)
		return rc;
	if (epoll_ctl(tpg->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -errno;
	conn_make_host(c);
	rc = nvmft_ctrlr_new_local(qp, c->subnqn, c->hostnqn, c->hostid, &c->ctrlr);
	if (rc < 0) {
		nvmft_notice(vfu_log(tpg->tr), "vfio-user: %s: no controller for %s: %s",
			     qp->listener->traddr, c->subnqn, strerror(-rc));
		return rc;
	}
	nvmft_info(vfu_log(tpg->tr), "%s: vfio-user client on %s: controller %u of %s", tpg->pg->name,
		   qp->listener->traddr, c->ctrlr->cntlid, c->subnqn);
	return 0;
}

/* ---- Connection lifetime ----------------------------------------------------------- */

static void rx_reset(struct vfu_rx *rx)
{
	for (uint32_t i = 0; i < rx->nfds; i++)
		if (rx->fds[i] >= 0)
			close(rx->fds[i]);
	rx->nfds = 0;
	rx->fds_lost = false;
	if (rx->buf != rx->inline_buf)
		free(rx->buf);
	rx->buf = rx->inline_buf;
	rx->hdr_got = 0;
	rx->got = 0;
}

static void conn_close_socket(struct vfu_conn *c)
{
	if (c->fd < 0)
		return;
	if (c->tpg != NULL)
		epoll_ctl(c->tpg->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	rx_reset(&c->rx);
	c->tx_len = c->tx_off = 0;
	c->blocked = VFU_BLOCK_NONE;
}

void vfu_conn_fail(struct vfu_conn *c, const char *why)
{
	if (c->dead)
		return;
	nvmft_info(vfu_log(c->admin.qp.tr), "vfio-user: client of controller %u: %s",
		   c->ctrlr != NULL ? c->ctrlr->cntlid : 0, why);
	/* The core stops the queues, deletes the controller and calls back for the socket. */
	nvmft_qpair_disconnect(&c->admin.qp);
	c->dead = true;
	conn_close_socket(c);
}

static void conn_free(struct vfu_conn *c)
{
	conn_close_socket(c);
	vfu_dev_fini(c);
	if (c->tpg != NULL)
		TAILQ_REMOVE(&c->tpg->conns, c, link);
	free(c->tx);
	free(c);
}

void vfu_conn_unref(struct vfu_conn *c)
{
	if (--c->refs == 0)
		conn_free(c);
}

static void vfu_qpair_disconnect(struct nvmft_qpair *qp)
{
	struct vfu_sq *sq = vfu_sq_of(qp);
	struct vfu_conn *c = sq->c;

	if (sq == &c->admin) {
		/* The function goes away: the client sees its socket close. */
		c->dead = true;
		conn_close_socket(c);
	}
	vfu_sq_disconnect(sq);
}

static void vfu_qpair_free(struct nvmft_qpair *qp)
{
	struct vfu_sq *sq = vfu_sq_of(qp);

	if (sq == &sq->c->admin) {
		vfu_sq_free_slots(sq);
		vfu_conn_unref(sq->c);
		return;
	}
	vfu_sq_free(sq);
}

/* ---- Sending ------------------------------------------------------------------------ */

static void conn_set_pollout(struct vfu_conn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };

	if (c->pollout == on || c->fd < 0)
		return;
	c->pollout = on;
	epoll_ctl(c->tpg->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_tx(struct vfu_conn *c)
{
	while (c->tx_off < c->tx_len && !c->dead) {
		struct iovec iov = { c->tx + c->tx_off, c->tx_len - c->tx_off };
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (c->tx_fd >= 0) {
			struct cmsghdr *cm;

			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = sizeof(ctl.buf);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &c->tx_fd, sizeof(int));
		}
		n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				conn_set_pollout(c, true);
				return;
			}
			vfu_conn_fail(c, "send failed");
			return;
		}
		/* The descriptor travelled with the first byte; it stays ours (our BAR0 memfd). */
		c->tx_fd = -1;
		c->tx_off += (uint32_t)n;
	}
	if (c->tx_off >= c->tx_len) {
		c->tx_off = c->tx_len = 0;
		conn_set_pollout(c, false);
	}
}

/* Queue the reply to @req (unless it asked for none) and start sending it. */
void vfu_conn_reply(struct vfu_conn *c, const struct vfu_hdr *req, int error, const void *payload,
		    uint32_t len, int fd)
{
	struct vfu_hdr h;

	if (req->flags & VFU_F_NO_REPLY)
		return;
	if (error != 0)
		len = 0;
	if (c->tx_cap < sizeof(h) + len) {
		uint8_t *p = realloc(c->tx, sizeof(h) + len);

		if (p == NULL) {
			vfu_conn_fail(c, "out of memory for a reply");
			return;
		}
		c->tx = p;
		c->tx_cap = (uint32_t)sizeof(h) + len;
	}
	vfu_hdr_reply(&h, req, len, error);
	memcpy(c->tx, &h, sizeof(h));
	if (len > 0)
		memcpy(c->tx + sizeof(h), payload, len);
	c->tx_len = (uint32_t)sizeof(h) + len;
	c->tx_off = 0;
	c->tx_fd = error == 0 ? fd : -1;
	conn_tx(c);
}

/* ---- Receiving ------------------------------------------------------------------------ */

/* Read up to @len bytes, collecting any descriptors.  Bytes read, 0 at EOF, or -errno. */
static ssize_t conn_recv(struct vfu_conn *c, void *buf, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VFU_MAX_MSG_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)
	};
	struct vfu_rx *rx = &c->rx;
	struct cmsghdr *cm;
	ssize_t n;

	do {
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t nfd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (rx->nfds < VFU_MAX_MSG_FDS) {
				rx->fds[rx->nfds++] = fd;
			} else {
				close(fd);
				rx->fds_lost = true;
			}
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		rx->fds_lost = true;
	return n;
}

/* Receive and process messages until the socket is empty or a reply must wait. */
void vfu_conn_rx(struct vfu_conn *c)
{
	struct vfu_rx *rx = &c->rx;

	for (int budget = 64; budget > 0; budget--) {
		uint32_t plen;
		ssize_t n;

		if (c->dead || c->blocked != VFU_BLOCK_NONE || c->tx_len > 0)
			return;
		if (rx->hdr_got < sizeof(rx->hdr)) {
			n = conn_recv(c, (uint8_t *)&rx->hdr + rx->hdr_got, sizeof(rx->hdr) - rx->hdr_got);
			if (n == -EAGAIN)
				return;
			if (n <= 0) {
				vfu_conn_fail(c, n == 0 ? "client closed the socket" : "receive failed");
				return;
			}
			rx->hdr_got += (uint32_t)n;
			if (rx->hdr_got < sizeof(rx->hdr))
				return;
			if (vfu_hdr_check(&rx->hdr, VFU_MAX_MSG) < 0) {
				vfu_conn_fail(c, "malformed message header");
				return;
			}
			plen = rx->hdr.msg_size - (uint32_t)sizeof(rx->hdr);
			if (plen > sizeof(rx->inline_buf)) {
				rx->buf = malloc(plen);
				if (rx->buf == NULL) {
					rx->buf = rx->inline_buf;
					vfu_conn_fail(c, "out of memory for a message");
					return;
				}
			}
		}
		plen = rx->hdr.msg_size - (uint32_t)sizeof(rx->hdr);
		while (rx->got < plen) {
			n = conn_recv(c, rx->buf + rx->got, plen - rx->got);
			if (n == -EAGAIN)
				return;
			if (n <= 0) {
				vfu_conn_fail(c, n == 0 ? "client closed the socket" : "receive failed");
				return;
			}
			rx->got += (uint32_t)n;
		}
		vfu_conn_dispatch(c);
		rx_reset(rx);
	}
}

const struct nvmft_transport_ops nvmft_vfio_user_ops = {
	.type = NVMFT_TRTYPE_VFIOUSER,
	.name = "vfio-user",
	.caps = NVMFT_TR_CAP_PCIE,
	.opts_init = vfu_opts_init,
	.create = vfu_create,
	.destroy = vfu_destroy,
	.listen = vfu_listen,
	.stop_listen = vfu_stop_listen,
	.accept = vfu_accept,
	.cdata_init = vfu_cdata_init,
	.disc_entry = vfu_disc_entry,
	.pg_create = vfu_pg_create,
	.pg_destroy = vfu_pg_destroy,
	.pg_poll = vfu_pg_poll,
	.pg_add_qpair = vfu_pg_add_qpair,
	.qpair_disconnect = vfu_qpair_disconnect,
	.qpair_free = vfu_qpair_free,
	.req_complete = vfu_req_complete,
	.req_buffers_ready = vfu_req_buffers_ready,
	.admin_cmd = vfu_admin_cmd,
	.ctrlr_enable = vfu_ctrlr_enable,
};
