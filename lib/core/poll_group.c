/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Poll groups: the CPU-local workers the application drives.
 *
 * One poll does, in order: messages from other threads, each transport's
 * sockets/queues, backend channels that need polling, requests waiting to
 * move on (buffers arrived, pause lifted), expired timers, and freeing of
 * disconnected queue pairs.  The order keeps recursion out: nothing started
 * by a completion runs inside that completion.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "backends/backend.h"
#include "core/bcast.h"
#include "core/ctrlr.h"
#include "core/ns.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/subsystem.h"
#include "core/target.h"
#include "core/transport.h"
#include "util/compiler.h"
#include "util/time.h"

#define PG_DEFAULT_BUDGET 64u
/* epoll tags for the group's own descriptors; everything else is ignored. */
#define PG_TAG_MSGQ ((void *)1)
#define PG_TAG_TIMER ((void *)2)

NVMFT_EXPORT void nvmft_poll_group_opts_init(struct nvmft_poll_group_opts *opts, size_t size)
{
	struct nvmft_poll_group_opts d = { .size = size, .name = NULL, .busy_poll = false };

	if (opts == NULL || size < sizeof(size_t))
		return;
	memcpy(opts, &d, NVMFT_MIN(size, sizeof(d)));
}

void nvmft_pg_post(struct nvmft_poll_group *pg, struct nvmft_msg *msg, nvmft_msg_fn fn)
{
	nvmft_msgq_post(&pg->mq, msg, fn);
}

int nvmft_pg_watch_fd(struct nvmft_poll_group *pg, int fd, uint32_t events, void *tag)
{
	struct epoll_event ev = { .events = events, .data.ptr = tag };

	return epoll_ctl(pg->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int nvmft_pg_modify_fd(struct nvmft_poll_group *pg, int fd, uint32_t events, void *tag)
{
	struct epoll_event ev = { .events = events, .data.ptr = tag };

	return epoll_ctl(pg->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void nvmft_pg_unwatch_fd(struct nvmft_poll_group *pg, int fd)
{
	epoll_ctl(pg->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* ---- State the group's channels share ------------------------------------ */

/*
 * A handful of entries per group (one per backend kind that shares, one per
 * distinct channel descriptor), looked up when a channel opens or closes,
 * never per I/O: a list is enough.
 */
struct nvmft_pg_shared *nvmft_pg_shared_find(struct nvmft_poll_group *pg, const void *kind,
					     uint64_t id)
{
	struct nvmft_pg_shared *sh;

	TAILQ_FOREACH(sh, &pg->shared, link)
		if (sh->kind == kind && sh->id == id)
			return sh;
	return NULL;
}

struct nvmft_pg_shared *nvmft_pg_shared_get(struct nvmft_poll_group *pg, const void *kind,
					    uint64_t id)
{
	struct nvmft_pg_shared *sh = nvmft_pg_shared_find(pg, kind, id);

	if (sh != NULL)
		sh->refs++;
	return sh;
}

void nvmft_pg_shared_add(struct nvmft_poll_group *pg, struct nvmft_pg_shared *sh, const void *kind,
			 uint64_t id,
			 void (*destroy)(struct nvmft_poll_group *pg, struct nvmft_pg_shared *sh))
{
	sh->kind = kind;
	sh->id = id;
	sh->refs = 1;
	sh->destroy = destroy;
	TAILQ_INSERT_TAIL(&pg->shared, sh, link);
}

void nvmft_pg_shared_put(struct nvmft_poll_group *pg, struct nvmft_pg_shared *sh)
{
	if (--sh->refs > 0)
		return;
	TAILQ_REMOVE(&pg->shared, sh, link);
	sh->destroy(pg, sh);
}

/*
 * A channel descriptor is watched once however many channels hand it out
 * (every uring namespace of the group shares one ring): a second
 * EPOLL_CTL_ADD would fail with EEXIST and leave the group polling every
 * millisecond, and closing one channel must not unwatch what the others
 * still wait on.
 */
struct pg_chan_fd {
	struct nvmft_pg_shared sh;
	int fd;
};

/* Only its address matters: the kind of the group's descriptor entries. */
static const char pg_chan_fd_kind;

static void pg_chan_fd_destroy(struct nvmft_poll_group *pg, struct nvmft_pg_shared *sh)
{
	struct pg_chan_fd *w = nvmft_container_of(sh, struct pg_chan_fd, sh);

	nvmft_pg_unwatch_fd(pg, w->fd);
	free(w);
}

static int pg_chan_fd_watch(struct nvmft_poll_group *pg, int fd)
{
	struct pg_chan_fd *w;
	int rc;

	if (nvmft_pg_shared_get(pg, &pg_chan_fd_kind, (uint64_t)fd) != NULL)
		return 0;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	rc = nvmft_pg_watch_fd(pg, fd, EPOLLIN, NULL);
	if (rc < 0) {
		free(w);
		return rc;
	}
	w->fd = fd;
	nvmft_pg_shared_add(pg, &w->sh, &pg_chan_fd_kind, (uint64_t)fd, pg_chan_fd_destroy);
	return 0;
}

static void pg_chan_fd_unwatch(struct nvmft_poll_group *pg, int fd)
{
	struct nvmft_pg_shared *sh = nvmft_pg_shared_find(pg, &pg_chan_fd_kind, (uint64_t)fd);

	if (sh != NULL)
		nvmft_pg_shared_put(pg, sh);
}

/* ---- Timers -------------------------------------------------------------- */

static void pg_timerfd_update(struct nvmft_poll_group *pg)
{
	struct itimerspec its = { 0 };
	struct nvmft_timer *t;
	uint64_t next = 0;

	TAILQ_FOREACH(t, &pg->timers, link)
		if (next == 0 || t->deadline_ms < next)
			next = t->deadline_ms;
	if (next == pg->timerfd_armed_ms)
		return;
	pg->timerfd_armed_ms = next;
	if (next != 0) {
		/* Absolute CLOCK_MONOTONIC, the clock of nvmft_now_ms(). */
		its.it_value.tv_sec = (time_t)(next / 1000);
		its.it_value.tv_nsec = (long)(next % 1000) * 1000000L;
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(pg->timerfd, next ? TFD_TIMER_ABSTIME : 0, &its, NULL);
}

void nvmft_pg_timer_arm(struct nvmft_poll_group *pg, struct nvmft_timer *t, uint64_t deadline_ms)
{
	if (t->deadline_ms != 0)
		TAILQ_REMOVE(&pg->timers, t, link);
	t->deadline_ms = deadline_ms;
	if (deadline_ms != 0)
		TAILQ_INSERT_TAIL(&pg->timers, t, link);
	pg_timerfd_update(pg);
}

void nvmft_pg_timer_cancel(struct nvmft_poll_group *pg, struct nvmft_timer *t)
{
	nvmft_pg_timer_arm(pg, t, 0);
}

static int pg_run_timers(struct nvmft_poll_group *pg)
{
	struct nvmft_timer *t;
	uint64_t now, cnt;
	int n = 0;

	if (TAILQ_EMPTY(&pg->timers))
		return 0;
	now = nvmft_now_ms();
	if (pg->timerfd_armed_ms == 0 || now < pg->timerfd_armed_ms)
		return 0;
	/* Clears the timerfd's readiness; EAGAIN only means it was read already. */
	if (read(pg->timerfd, &cnt, sizeof(cnt)) < 0)
		cnt = 0;
	/*
	 * A callback may arm or cancel other timers (a failed controller
	 * cancels its keep-alive): start over after each one instead of
	 * trusting a saved next pointer.
	 */
again:
	TAILQ_FOREACH(t, &pg->timers, link) {
		if (t->deadline_ms > now)
			continue;
		TAILQ_REMOVE(&pg->timers, t, link);
		t->deadline_ms = 0;
		t->fn(t);
		n++;
		goto again;
	}
	pg->timerfd_armed_ms = UINT64_MAX; /* force a re-arm */
	pg_timerfd_update(pg);
	return n;
}

/* ---- Deferred work --------------------------------------------------------- */

void nvmft_pg_resume_req(struct nvmft_poll_group *pg, struct nvmft_req *req)
{
	TAILQ_INSERT_TAIL(&pg->resume_q, req, link);
}

void nvmft_pg_reap_qpair(struct nvmft_poll_group *pg, struct nvmft_qpair *qp)
{
	if (qp->state == NVMFT_QPAIR_REAPED)
		return;
	qp->state = NVMFT_QPAIR_REAPED;
	TAILQ_REMOVE(&pg->qpairs, qp, link);
	TAILQ_INSERT_TAIL(&pg->reap_q, qp, link);
}

static int pg_run_resume(struct nvmft_poll_group *pg)
{
	TAILQ_HEAD(, nvmft_req) batch = TAILQ_HEAD_INITIALIZER(batch);
	struct nvmft_req *req;
	int n = 0;

	if (TAILQ_EMPTY(&pg->resume_q))
		return 0;
	/* Only what is queued now: work queued by these steps waits a poll. */
	TAILQ_CONCAT(&batch, &pg->resume_q, link);
	while ((req = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, req, link);
		n++;
		switch (req->state) {
		case NVMFT_REQ_INIT:
			req->qpair->tr->ops->req_buffers_ready(req);
			break;
		case NVMFT_REQ_QUEUED:
			if (!nvmft_qpair_is_alive(req->qpair)) {
				req->flags &= (uint16_t)~NVMFT_REQ_F_IO;
				nvmft_req_finish(req, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_QUEUE));
			} else {
				nvmft_req_execute(req);
			}
			break;
		case NVMFT_REQ_EXEC:
			req->execute(req);
			break;
		default:
			break;
		}
	}
	return n;
}

static int pg_run_reap(struct nvmft_poll_group *pg)
{
	TAILQ_HEAD(, nvmft_qpair) batch = TAILQ_HEAD_INITIALIZER(batch);
	struct nvmft_qpair *qp;
	int n = 0;

	if (TAILQ_EMPTY(&pg->reap_q))
		return 0;
	/* A qpair with a message still in flight goes back on the list for the next poll. */
	TAILQ_CONCAT(&batch, &pg->reap_q, link);
	while ((qp = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, qp, link);
		nvmft_qpair_free(qp);
		n++;
	}
	return n;
}

/* ---- Per-subsystem and per-namespace state --------------------------------- */

int nvmft_pg_subsys_add(struct nvmft_poll_group *pg, struct nvmft_subsystem *ss)
{
	struct nvmft_pg_subsys *pgss;

	if (pg->ss[ss->id] != NULL)
		return 0;
	pgss = calloc(1, sizeof(*pgss));
	if (pgss == NULL)
		return -ENOMEM;
	pgss->ss = ss;
	pgss->state = (ss->state == NVMFT_SS_PAUSING || ss->state == NVMFT_SS_PAUSED)
			      ? NVMFT_PG_SS_PAUSED
			      : NVMFT_PG_SS_ACTIVE;
	TAILQ_INIT(&pgss->queued);
	nvmft_subsystem_ref(ss);
	pg->ss[ss->id] = pgss;
	return 0;
}

static void pg_ns_close_channel(struct nvmft_poll_group *pg, struct nvmft_pg_ns *pgns)
{
	struct nvmft_ns *ns = pgns->ns;

	if (ns == NULL)
		return;
	if (pgns->chan_fd >= 0)
		pg_chan_fd_unwatch(pg, pgns->chan_fd);
	if (nvmft_backend_has_poll(ns->be))
		TAILQ_REMOVE(&pg->polled_chans, pgns, poll_link);
	nvmft_backend_channel_close(ns->be, pgns->chan);
	pgns->chan = NULL;
	pgns->chan_fd = -1;
	pgns->ns = NULL;
	nvmft_ns_unref(ns);
}

void nvmft_pg_subsys_remove(struct nvmft_poll_group *pg, struct nvmft_subsystem *ss)
{
	struct nvmft_pg_subsys *pgss = pg->ss[ss->id];

	if (pgss == NULL || pgss->ss != ss)
		return;
	for (uint32_t i = 0; i < pgss->ns_cap; i++) {
		if (pgss->ns[i] == NULL)
			continue;
		if (pgss->ns[i]->detach_queued)
			TAILQ_REMOVE(&pg->detach_q, pgss->ns[i], detach_link);
		pg_ns_close_channel(pg, pgss->ns[i]);
		free(pgss->ns[i]);
	}
	free(pgss->ns);
	pg->ss[ss->id] = NULL;
	free(pgss);
	nvmft_subsystem_unref(ss);
}

int nvmft_pg_ns_attach(struct nvmft_poll_group *pg, struct nvmft_ns *ns)
{
	struct nvmft_pg_subsys *pgss = nvmft_pg_subsys(pg, ns->ss->id);
	struct nvmft_pg_ns *pgns;
	int rc;

	if (pgss == NULL || pgss->ss != ns->ss)
		return -ENOENT;
	if (ns->nsid > pgss->ns_cap) {
		struct nvmft_pg_ns **arr = realloc(pgss->ns, sizeof(*arr) * ns->nsid);

		if (arr == NULL)
			return -ENOMEM;
		memset(arr + pgss->ns_cap, 0, sizeof(*arr) * (ns->nsid - pgss->ns_cap));
		pgss->ns = arr;
		pgss->ns_cap = ns->nsid;
	}
	pgns = pgss->ns[ns->nsid - 1];
	if (pgns == NULL) {
		pgns = calloc(1, sizeof(*pgns));
		if (pgns == NULL)
			return -ENOMEM;
		pgns->chan_fd = -1;
		pgss->ns[ns->nsid - 1] = pgns;
	}
	if (pgns->ns == ns)
		return 0; /* attached already (creation snapshot and broadcast both did it) */
	if (pgns->ns != NULL)
		return -EEXIST;
	rc = nvmft_backend_channel_open_pg(ns->be, pg, &pgns->chan);
	if (rc < 0)
		return rc;
	pgns->ns = ns;
	pgns->removing = false;
	pgns->io_outstanding = 0;
	pgns->drain = NULL;
	nvmft_ns_ref(ns);
	pgns->chan_fd = nvmft_backend_channel_fd(ns->be, pgns->chan);
	if (pgns->chan_fd >= 0 && pg_chan_fd_watch(pg, pgns->chan_fd) < 0)
		pgns->chan_fd = -1;
	if (nvmft_backend_has_poll(ns->be))
		TAILQ_INSERT_TAIL(&pg->polled_chans, pgns, poll_link);
	return 0;
}

void nvmft_pg_ns_detach(struct nvmft_poll_group *pg, struct nvmft_ns *ns)
{
	struct nvmft_pg_subsys *pgss = nvmft_pg_subsys(pg, ns->ss->id);
	struct nvmft_pg_ns *pgns = nvmft_pg_ns(pgss, ns->nsid);

	if (pgns == NULL || pgns->ns != ns)
		return;
	pg_ns_close_channel(pg, pgns);
	pgns->removing = false;
}

void nvmft_pg_io_done(struct nvmft_poll_group *pg, struct nvmft_pg_subsys *pgss, struct nvmft_pg_ns *pgns)
{
	struct nvmft_bcast *bc;

	pgss->io_outstanding--;
	pgns->io_outstanding--;
	if (nvmft_unlikely(pgns->removing) && pgns->io_outstanding == 0 && !pgns->detach_queued) {
		/*
		 * Not here: a backend completing from its own channel_poll or
		 * submit can be below us on the stack, and must not see its
		 * channel closed under it.  The poll loop closes it.
		 */
		pgns->detach_queued = true;
		TAILQ_INSERT_TAIL(&pg->detach_q, pgns, detach_link);
	}
	if (nvmft_unlikely(pgss->drain != NULL) && pgss->io_outstanding == 0) {
		bc = pgss->drain;
		pgss->drain = NULL;
		nvmft_bcast_ack(bc, pg, 0);
	}
}

/* Close the channels of drained namespaces that are being removed, then say so. */
static int pg_run_detach(struct nvmft_poll_group *pg)
{
	struct nvmft_pg_ns *pgns;
	struct nvmft_bcast *bc;
	int n = 0;

	while ((pgns = TAILQ_FIRST(&pg->detach_q)) != NULL) {
		TAILQ_REMOVE(&pg->detach_q, pgns, detach_link);
		pgns->detach_queued = false;
		n++;
		if (!pgns->removing || pgns->io_outstanding != 0)
			continue;
		bc = pgns->drain;
		pgns->drain = NULL;
		/* Nobody may use the channel any more: close it before telling anyone. */
		if (pgns->ns != NULL)
			nvmft_pg_ns_detach(pg, pgns->ns);
		if (bc != NULL)
			nvmft_bcast_ack(bc, pg, 0);
	}
	return n;
}

/* ---- Creation ----------------------------------------------------------------- */

/* First message a new group runs: open channels of the namespaces that exist now. */
static void pg_init_msg(struct nvmft_msg *msg)
{
	struct nvmft_poll_group *pg = nvmft_container_of(msg, struct nvmft_poll_group, init_msg);
	struct nvmft_target *tgt = pg->tgt;

	pthread_mutex_lock(&tgt->lock);
	for (uint32_t id = 0; id < pg->max_subsystems; id++) {
		struct nvmft_subsystem *ss = pg->ss[id] ? pg->ss[id]->ss : NULL;

		if (ss == NULL)
			continue;
		pthread_mutex_lock(&ss->lock);
		for (uint32_t i = 0; i < ss->max_nsid; i++) {
			struct nvmft_ns *ns = ss->ns[i];

			if (ns != NULL && !ns->removing && nvmft_pg_ns_attach(pg, ns) < 0)
				nvmft_err(&tgt->log, "%s: cannot open namespace %u of %s", pg->name,
					  ns->nsid, ss->nqn);
		}
		pthread_mutex_unlock(&ss->lock);
	}
	pthread_mutex_unlock(&tgt->lock);
}

static int pg_add_transport(struct nvmft_poll_group *pg, struct nvmft_transport *tr)
{
	struct nvmft_pg_transport *pgt = &pg->tr[tr->index];
	/* Chunks of a sixteenth of the largest transfer keep the iovec short and waste small. */
	size_t chunk = NVMFT_MAX((size_t)4096, (size_t)tr->opts.max_io_size / 16);
	int rc;

	if (pgt->tr != NULL)
		return 0;
	chunk = NVMFT_ALIGN_UP(chunk, (size_t)4096);
	rc = nvmft_buf_pool_init(&pgt->pool, chunk, tr->opts.buf_pool_bytes);
	if (rc < 0)
		return rc;
	TAILQ_INIT(&pgt->buf_waiters);
	rc = tr->ops->pg_create(tr, pg, &pgt->tpg);
	if (rc < 0) {
		nvmft_buf_pool_fini(&pgt->pool);
		return rc;
	}
	if (tr->ops->buf_mem_ops != NULL) {
		rc = nvmft_buf_pool_set_mem_ops(&pgt->pool, tr->ops->buf_mem_ops, pgt->tpg);
		if (rc < 0) {
			nvmft_buf_pool_fini(&pgt->pool);
			tr->ops->pg_destroy(pgt->tpg);
			return rc;
		}
	}
	pgt->tr = tr;
	return 0;
}

static void pg_add_transport_run(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	nvmft_bcast_ack(bc, pg, pg_add_transport(pg, nvmft_bcast_ctx(bc)));
}

const struct nvmft_bcast_ops nvmft_pg_add_transport_ops = {
	.run = pg_add_transport_run,
};

static void pg_free_resources(struct nvmft_poll_group *pg)
{
	for (int i = 0; i < NVMFT_MAX_TRANSPORTS; i++) {
		struct nvmft_pg_transport *pgt = &pg->tr[i];

		if (pgt->tr == NULL)
			continue;
		/* Chunks are unregistered with the tpg that registered them. */
		nvmft_buf_pool_fini(&pgt->pool);
		pgt->tr->ops->pg_destroy(pgt->tpg);
		pgt->tr = NULL;
	}
	if (pg->ss != NULL) {
		for (uint32_t id = 0; id < pg->max_subsystems; id++)
			if (pg->ss[id] != NULL)
				nvmft_pg_subsys_remove(pg, pg->ss[id]->ss);
		free(pg->ss);
	}
	nvmft_msgq_fini(&pg->mq);
	if (pg->timerfd >= 0)
		close(pg->timerfd);
	if (pg->epfd >= 0)
		close(pg->epfd);
	free(pg);
}

NVMFT_EXPORT int nvmft_poll_group_new(struct nvmft_target *tgt, const struct nvmft_poll_group_opts *opts,
				      struct nvmft_poll_group **ret)
{
	struct nvmft_poll_group_opts o;
	struct nvmft_poll_group *pg;
	struct nvmft_subsystem *ss;
	int rc;

	if (tgt == NULL || ret == NULL)
		return -EINVAL;
	nvmft_poll_group_opts_init(&o, sizeof(o));
	if (opts != NULL) {
		if (opts->size < sizeof(size_t))
			return -EINVAL;
		memcpy(&o, opts, NVMFT_MIN(opts->size, sizeof(o)));
	}
	pg = calloc(1, sizeof(*pg));
	if (pg == NULL)
		return -ENOMEM;
	pg->tgt = tgt;
	pg->busy_poll = o.busy_poll;
	pg->epfd = -1;
	pg->timerfd = -1;
	pg->mq.efd = -1;
	TAILQ_INIT(&pg->qpairs);
	TAILQ_INIT(&pg->reap_q);
	TAILQ_INIT(&pg->ctrlrs);
	TAILQ_INIT(&pg->resume_q);
	TAILQ_INIT(&pg->timers);
	TAILQ_INIT(&pg->polled_chans);
	TAILQ_INIT(&pg->detach_q);
	TAILQ_INIT(&pg->shared);
	pg->stats.size = sizeof(pg->stats);
	pg->max_subsystems = tgt->max_subsystems;
	pg->ss = calloc(pg->max_subsystems, sizeof(*pg->ss));
	pg->epfd = epoll_create1(EPOLL_CLOEXEC);
	pg->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (pg->ss == NULL) {
		rc = -ENOMEM;
		goto err;
	}
	if (pg->epfd < 0 || pg->timerfd < 0) {
		rc = -errno;
		goto err;
	}
	rc = nvmft_msgq_init(&pg->mq);
	if (rc < 0)
		goto err;
	rc = nvmft_pg_watch_fd(pg, nvmft_msgq_fd(&pg->mq), EPOLLIN, PG_TAG_MSGQ);
	if (rc == 0)
		rc = nvmft_pg_watch_fd(pg, pg->timerfd, EPOLLIN, PG_TAG_TIMER);
	if (rc < 0)
		goto err;

	pthread_mutex_lock(&tgt->lock);
	if (o.name != NULL)
		snprintf(pg->name, sizeof(pg->name), "%s", o.name);
	else
		snprintf(pg->name, sizeof(pg->name), "pg%u", tgt->pg_name_seq);
	tgt->pg_name_seq++;
	/*
	 * Under the target lock no transport or subsystem can appear or go
	 * without this group either being seen here or being in the list the
	 * broadcast for that change walks.
	 */
	for (int i = 0; i < NVMFT_MAX_TRANSPORTS && rc == 0; i++)
		if (tgt->transports[i] != NULL)
			rc = pg_add_transport(pg, tgt->transports[i]);
	TAILQ_FOREACH(ss, &tgt->ss_list, link) {
		if (rc != 0)
			break;
		if (ss->state != NVMFT_SS_DELETING)
			rc = nvmft_pg_subsys_add(pg, ss);
	}
	if (rc == 0) {
		TAILQ_INSERT_TAIL(&tgt->pgs, pg, link);
		tgt->num_pgs++;
	}
	pthread_mutex_unlock(&tgt->lock);
	if (rc < 0)
		goto err;
	nvmft_pg_post(pg, &pg->init_msg, pg_init_msg);
	*ret = pg;
	return 0;
err:
	pg_free_resources(pg);
	return rc;
}

/* ---- Polling ------------------------------------------------------------------------ */

static void pg_check_stopped(struct nvmft_poll_group *pg)
{
	nvmft_done_fn cb;

	if (pg->state != NVMFT_PG_STOPPING || !TAILQ_EMPTY(&pg->qpairs) || !TAILQ_EMPTY(&pg->reap_q))
		return;
	/* No qpair means no request and no backend I/O: channels can close. */
	for (uint32_t id = 0; id < pg->max_subsystems; id++) {
		struct nvmft_pg_subsys *pgss = pg->ss[id];

		if (pgss == NULL)
			continue;
		for (uint32_t i = 0; i < pgss->ns_cap; i++)
			if (pgss->ns[i] != NULL && pgss->ns[i]->ns != NULL)
				pg_ns_close_channel(pg, pgss->ns[i]);
	}
	__atomic_store_n(&pg->state, NVMFT_PG_STOPPED, __ATOMIC_RELEASE);
	cb = pg->stop_cb;
	pg->stop_cb = NULL;
	if (cb != NULL)
		cb(pg->stop_arg, 0);
}

NVMFT_EXPORT int nvmft_poll_group_poll(struct nvmft_poll_group *pg, unsigned int budget)
{
	struct nvmft_pg_ns *pgns;
	int work = 0, rc;

	if (nvmft_unlikely(pg->state == NVMFT_PG_STOPPED))
		return -ESHUTDOWN;
	if (budget == 0)
		budget = PG_DEFAULT_BUDGET;
	nvmft_stat_add(pg->stats.polls, 1);
	work += (int)nvmft_msgq_drain(&pg->mq, 0);
	for (int i = 0; i < NVMFT_MAX_TRANSPORTS; i++) {
		struct nvmft_pg_transport *pgt = &pg->tr[i];

		if (pgt->tr == NULL)
			continue;
		rc = pgt->tr->ops->pg_poll(pgt->tpg, budget);
		if (rc > 0)
			work += rc;
	}
	TAILQ_FOREACH(pgns, &pg->polled_chans, poll_link) {
		rc = nvmft_backend_channel_poll(pgns->ns->be, pgns->chan, budget);
		if (rc > 0)
			work += rc;
	}
	work += pg_run_resume(pg);
	work += pg_run_detach(pg);
	work += pg_run_timers(pg);
	work += pg_run_reap(pg);
	if (nvmft_unlikely(pg->state == NVMFT_PG_STOPPING))
		pg_check_stopped(pg);
	if (work > 0)
		nvmft_stat_add(pg->stats.busy_polls, 1);
	return work;
}

NVMFT_EXPORT int nvmft_poll_group_get_fd(const struct nvmft_poll_group *pg)
{
	return pg ? pg->epfd : -EINVAL;
}

NVMFT_EXPORT int nvmft_poll_group_get_timeout_ms(struct nvmft_poll_group *pg)
{
	struct nvmft_timer *t;
	uint64_t now, next = 0;
	struct nvmft_pg_ns *pgns;

	if (!TAILQ_EMPTY(&pg->resume_q) || !TAILQ_EMPTY(&pg->reap_q) || !TAILQ_EMPTY(&pg->detach_q) ||
	    nvmft_msgq_pending(&pg->mq) || pg->state == NVMFT_PG_STOPPED)
		return 0;
	/* Stopping with no queue pair left: the next poll delivers the stop callback. */
	if (pg->state == NVMFT_PG_STOPPING && TAILQ_EMPTY(&pg->qpairs))
		return 0;
	TAILQ_FOREACH(pgns, &pg->polled_chans, poll_link)
		if (pgns->chan_fd < 0)
			return 1; /* a backend that can only be polled: look again soon */
	TAILQ_FOREACH(t, &pg->timers, link)
		if (next == 0 || t->deadline_ms < next)
			next = t->deadline_ms;
	if (next == 0)
		return -1;
	now = nvmft_now_ms();
	if (next <= now)
		return 0;
	return next - now > INT32_MAX ? INT32_MAX : (int)(next - now);
}

NVMFT_EXPORT int nvmft_poll_group_wait(struct nvmft_poll_group *pg, int timeout_ms)
{
	struct epoll_event ev[8];
	int t = nvmft_poll_group_get_timeout_ms(pg);

	if (timeout_ms >= 0 && (t < 0 || timeout_ms < t))
		t = timeout_ms;
	if (t != 0 && epoll_wait(pg->epfd, ev, NVMFT_ARRAY_SIZE(ev), t) < 0 && errno != EINTR)
		return -errno;
	return nvmft_poll_group_poll(pg, 0);
}

/* ---- Stop and free --------------------------------------------------------------------- */

NVMFT_EXPORT int nvmft_poll_group_stop(struct nvmft_poll_group *pg, nvmft_done_fn cb, void *cb_arg)
{
	struct nvmft_qpair *qp, *tmp;

	if (pg == NULL)
		return -EINVAL;
	if (pg->state != NVMFT_PG_RUNNING)
		return -EALREADY;
	__atomic_store_n(&pg->state, NVMFT_PG_STOPPING, __ATOMIC_RELEASE);
	pg->stop_cb = cb;
	pg->stop_arg = cb_arg;
	TAILQ_FOREACH_SAFE(qp, &pg->qpairs, link, tmp)
		nvmft_qpair_disconnect(qp);
	return 0;
}

NVMFT_EXPORT int nvmft_poll_group_free(struct nvmft_poll_group *pg)
{
	struct nvmft_target *tgt;

	if (pg == NULL)
		return 0;
	tgt = pg->tgt;
	if (pg->state == NVMFT_PG_RUNNING)
		nvmft_poll_group_stop(pg, NULL, NULL);
	if (pg->state != NVMFT_PG_STOPPED) {
		/* Finish what can finish without waiting: messages, releases, reaping. */
		for (int i = 0; i < 4 && pg->state != NVMFT_PG_STOPPED; i++)
			nvmft_poll_group_poll(pg, 0);
		if (pg->state != NVMFT_PG_STOPPED)
			return -EBUSY;
	}
	pthread_mutex_lock(&tgt->lock);
	TAILQ_REMOVE(&tgt->pgs, pg, link);
	tgt->num_pgs--;
	if (tgt->rr_next == pg)
		tgt->rr_next = NULL;
	pthread_mutex_unlock(&tgt->lock);
	/* Broadcasts that counted on this group must not wait for it. */
	nvmft_bcast_forget_pg(tgt, pg);
	pg_free_resources(pg);
	return 0;
}

/* ---- Introspection ------------------------------------------------------------------------ */

NVMFT_EXPORT int nvmft_poll_group_get_stats(const struct nvmft_poll_group *pg,
					    struct nvmft_poll_group_stats *st)
{
	struct nvmft_poll_group_stats s;
	uint64_t buf = 0;

	if (pg == NULL || st == NULL || st->size < sizeof(size_t))
		return -EINVAL;
	s.size = st->size;
	s.polls = nvmft_stat_read(pg->stats.polls);
	s.busy_polls = nvmft_stat_read(pg->stats.busy_polls);
	s.admin_qpairs = nvmft_stat_read(pg->stats.admin_qpairs);
	s.io_qpairs = nvmft_stat_read(pg->stats.io_qpairs);
	s.current_admin_qpairs = nvmft_stat_read(pg->stats.current_admin_qpairs);
	s.current_io_qpairs = nvmft_stat_read(pg->stats.current_io_qpairs);
	s.pending_bdev_io = nvmft_stat_read(pg->stats.pending_bdev_io);
	s.reqs_completed = nvmft_stat_read(pg->stats.reqs_completed);
	s.bytes_read = nvmft_stat_read(pg->stats.bytes_read);
	s.bytes_written = nvmft_stat_read(pg->stats.bytes_written);
	s.buf_waits = nvmft_stat_read(pg->stats.buf_waits);
	for (int i = 0; i < NVMFT_MAX_TRANSPORTS; i++)
		buf += (uint64_t)__atomic_load_n(&pg->tr[i].pool.nr_alloc, __ATOMIC_RELAXED) *
		       pg->tr[i].pool.chunk;
	s.buf_bytes = buf;
	s.io_completed = nvmft_stat_read(pg->stats.io_completed);
	memcpy(st, &s, NVMFT_MIN(st->size, sizeof(s)));
	return 0;
}

NVMFT_EXPORT const char *nvmft_poll_group_get_name(const struct nvmft_poll_group *pg)
{
	return pg ? pg->name : NULL;
}

NVMFT_EXPORT struct nvmft_poll_group *nvmft_poll_group_get_first(struct nvmft_target *tgt)
{
	return tgt ? TAILQ_FIRST(&tgt->pgs) : NULL;
}

NVMFT_EXPORT struct nvmft_poll_group *nvmft_poll_group_get_next(struct nvmft_poll_group *pg)
{
	return pg ? TAILQ_NEXT(pg, link) : NULL;
}
