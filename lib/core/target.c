/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The target: root object and management-thread loop.  The management
 * thread accepts connections (listeners live in the target's epoll set),
 * hands them to poll groups, and runs the completions of asynchronous
 * management calls that poll groups post back.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/bcast.h"
#include "core/nqn.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/subsystem.h"
#include "core/target.h"
#include "core/transport.h"
#include "spec/spec.h"
#include "util/compiler.h"
#include "util/time.h"

#define TGT_TAG_MSGQ ((void *)1)

NVMFT_EXPORT void nvmft_target_opts_init(struct nvmft_target_opts *opts, size_t size)
{
	struct nvmft_target_opts d = {
		.size = size,
		.max_subsystems = 1024,
		.log_fn = NULL,
		.log_arg = NULL,
		.log_level = NVMFT_LOG_NOTICE,
		.assign_fn = NULL,
		.assign_arg = NULL,
		.discovery_nqn = NULL,
		.max_connections = 4096,
		.drain_timeout_ms = 30000,
		.connect_timeout_ms = 10000,
	};

	if (opts == NULL || size < sizeof(size_t))
		return;
	memcpy(opts, &d, NVMFT_MIN(size, sizeof(d)));
}

void nvmft_target_post(struct nvmft_target *tgt, struct nvmft_msg *msg, nvmft_msg_fn fn)
{
	nvmft_msgq_post(&tgt->mq, msg, fn);
}

int nvmft_target_watch_fd(struct nvmft_target *tgt, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(tgt->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void nvmft_target_unwatch_fd(struct nvmft_target *tgt, int fd)
{
	epoll_ctl(tgt->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void target_release(struct nvmft_target *tgt)
{
	nvmft_msgq_fini(&tgt->mq);
	if (tgt->epfd >= 0)
		close(tgt->epfd);
	free(tgt->subsystems);
	pthread_mutex_destroy(&tgt->conn_lock);
	pthread_mutex_destroy(&tgt->lock);
	free(tgt);
}

NVMFT_EXPORT int nvmft_target_new(const struct nvmft_target_opts *opts, struct nvmft_target **ret)
{
	struct nvmft_target_opts o;
	struct nvmft_target *tgt;
	const char *dnqn;
	int rc;

	if (ret == NULL)
		return -EINVAL;
	nvmft_target_opts_init(&o, sizeof(o));
	if (opts != NULL) {
		if (opts->size < sizeof(size_t))
			return -EINVAL;
		memcpy(&o, opts, NVMFT_MIN(opts->size, sizeof(o)));
		o.size = sizeof(o);
	}
	if (o.max_subsystems < 1 || o.max_subsystems > 65535 || o.max_connections == 0 ||
	    o.drain_timeout_ms == 0 || o.connect_timeout_ms == 0)
		return -EINVAL;
	dnqn = o.discovery_nqn ? o.discovery_nqn : NVMFT_DISCOVERY_NQN;
	if (strlen(dnqn) > NVMFT_NQN_MAX_LEN || !nvmft_nqn_valid(dnqn, strlen(dnqn) + 1))
		return -EINVAL;

	tgt = calloc(1, sizeof(*tgt));
	if (tgt == NULL)
		return -ENOMEM;
	tgt->opts = o;
	tgt->opts.discovery_nqn = NULL; /* not kept: the copy below is */
	tgt->log.fn = o.log_fn;
	tgt->log.arg = o.log_arg;
	tgt->log.level = o.log_level;
	strcpy(tgt->discovery_nqn, dnqn);
	pthread_mutex_init(&tgt->lock, NULL);
	pthread_mutex_init(&tgt->conn_lock, NULL);
	TAILQ_INIT(&tgt->unconnected);
	TAILQ_INIT(&tgt->ss_list);
	TAILQ_INIT(&tgt->pgs);
	TAILQ_INIT(&tgt->tr_list);
	TAILQ_INIT(&tgt->bcasts);
	tgt->max_subsystems = o.max_subsystems;
	tgt->next_portid = 1;
	tgt->mq.efd = -1;
	tgt->epfd = epoll_create1(EPOLL_CLOEXEC);
	tgt->subsystems = calloc(o.max_subsystems, sizeof(*tgt->subsystems));
	if (tgt->subsystems == NULL) {
		rc = -ENOMEM;
		goto err;
	}
	if (tgt->epfd < 0) {
		rc = -errno;
		goto err;
	}
	rc = nvmft_msgq_init(&tgt->mq);
	if (rc == 0)
		rc = nvmft_target_watch_fd(tgt, nvmft_msgq_fd(&tgt->mq), TGT_TAG_MSGQ);
	if (rc == 0)
		rc = nvmft_subsystem_new_discovery(tgt, tgt->discovery_nqn, &tgt->discovery);
	if (rc < 0)
		goto err;
	*ret = tgt;
	return 0;
err:
	target_release(tgt);
	return rc;
}

NVMFT_EXPORT void nvmft_target_free(struct nvmft_target *tgt)
{
	struct nvmft_subsystem *ss;
	struct nvmft_transport *tr;

	if (tgt == NULL)
		return;
	if (!TAILQ_EMPTY(&tgt->pgs)) {
		nvmft_err(&tgt->log, "target freed while %u poll group(s) exist: not freeing",
			  tgt->num_pgs);
		return;
	}
	/* Messages still queued are completions nobody waits for any more. */
	nvmft_msgq_drain(&tgt->mq, 0);
	while ((ss = TAILQ_FIRST(&tgt->ss_list)) != NULL)
		nvmft_subsystem_free_now(ss);
	while ((tr = TAILQ_FIRST(&tgt->tr_list)) != NULL)
		nvmft_transport_free(tr);
	nvmft_msgq_drain(&tgt->mq, 0);
	while (!TAILQ_EMPTY(&tgt->bcasts)) {
		/* Broadcasts with no group left complete by message; run them. */
		if (nvmft_msgq_drain(&tgt->mq, 0) == 0)
			break;
	}
	target_release(tgt);
}

/* ---- Connections ---------------------------------------------------------- */

/*
 * The connection limits (max_connections of the target and of each
 * transport) count every accepted connection until its queue pair is
 * freed.  Refusing newcomers at the limit would let a peer that opens
 * connections and says nothing keep every other host out until
 * connect_timeout_ms.  So at the limit the oldest connection that has not
 * completed Fabrics Connect is evicted instead: it stops counting at once
 * and its group closes it, and the newcomer takes its place.  Connections
 * that completed Connect are never evicted; when every one has, the
 * newcomer is refused.
 *
 * The management thread evicts; group threads process Connect and free
 * queue pairs.  @conn_lock orders them: a Connect in progress is not
 * evicted, a Connect that begins on an evicted connection fails, and a
 * queue pair leaves the list before its group looks for the disconnect
 * message an eviction may have posted.
 */

static void conn_uncount(struct nvmft_target *tgt, struct nvmft_transport *tr)
{
	atomic_fetch_sub(&tgt->num_connections, 1);
	atomic_fetch_sub(&tr->num_connections, 1);
}

/*
 * Whether one more connection of @tr fits, and if only by evicting, which
 * connection (*victim; NULL when there is a free slot).  conn_lock held.
 */
static bool conn_room(struct nvmft_target *tgt, struct nvmft_transport *tr, struct nvmft_qpair **victim)
{
	uint32_t n = atomic_load(&tgt->num_connections);
	uint32_t ntr = atomic_load(&tr->num_connections);
	bool tgt_full = n >= tgt->opts.max_connections;
	bool tr_full = ntr >= tr->opts.max_connections;
	struct nvmft_qpair *qp;

	*victim = NULL;
	if (!tgt_full && !tr_full)
		return true;
	/* One eviction frees one slot of each limit it counts against. */
	if (n > tgt->opts.max_connections || ntr > tr->opts.max_connections ||
	    tgt->num_evicting >= NVMFT_MAX_EVICTING)
		return false;
	/* At the transport's limit only its own connections make room. */
	TAILQ_FOREACH(qp, &tgt->unconnected, tconn.link) {
		if (qp->tconn.state != NVMFT_TCONN_CONNECTING && (!tr_full || qp->tr == tr)) {
			*victim = qp;
			return true;
		}
	}
	return false;
}

/* Take @qp's slot away and have it closed.  conn_lock held; management thread. */
static void conn_evict(struct nvmft_target *tgt, struct nvmft_qpair *qp)
{
	TAILQ_REMOVE(&tgt->unconnected, qp, tconn.link);
	conn_uncount(tgt, qp->tr);
	tgt->num_evicting++;
	/*
	 * On its group: the group closes it.  Posted under the lock, so the
	 * group cannot free it before the message is queued (freeing takes
	 * the lock in nvmft_target_connection_closed() first, then waits for
	 * the message).  A QUEUED one still has its assignment message in
	 * flight, in the same slot: that message finds it evicted instead.
	 */
	if (qp->tconn.state == NVMFT_TCONN_PENDING)
		nvmft_qpair_disconnect_remote(qp);
	qp->tconn.state = NVMFT_TCONN_EVICTED;
}

static void target_assign_msg(struct nvmft_msg *msg)
{
	struct nvmft_qpair *qp = nvmft_container_of(msg, struct nvmft_qpair, msg);
	struct nvmft_poll_group *pg = qp->pg;
	struct nvmft_pg_transport *pgt = qp->pgt;
	struct nvmft_target *tgt = qp->tr->tgt;
	bool keep;

	/* From PENDING on, an eviction reaches it through a message in qp->msg. */
	pthread_mutex_lock(&tgt->conn_lock);
	keep = qp->tconn.state == NVMFT_TCONN_QUEUED && pg->state == NVMFT_PG_RUNNING && pgt->tr != NULL;
	if (keep)
		qp->tconn.state = NVMFT_TCONN_PENDING;
	pthread_mutex_unlock(&tgt->conn_lock);
	if (!keep) {
		qp->pg = NULL;
		qp->pgt = NULL;
		nvmft_target_connection_closed(qp);
		nvmft_listener_unref(qp->listener);
		qp->tr->ops->qpair_free(qp);
		return;
	}
	TAILQ_INSERT_TAIL(&pg->qpairs, qp, link);
	nvmft_qpair_arm_connect_timer(qp, tgt->opts.connect_timeout_ms);
	if (pgt->tr->ops->pg_add_qpair(pgt->tpg, qp) < 0) {
		nvmft_qpair_disconnect(qp);
		if (qp->outstanding == 0)
			nvmft_pg_reap_qpair(pg, qp);
	}
}

static struct nvmft_poll_group *target_pick_group(struct nvmft_target *tgt, const struct nvmft_qpair *qp)
{
	struct nvmft_poll_group *pg = NULL;

	if (tgt->opts.assign_fn != NULL) {
		pg = tgt->opts.assign_fn(tgt->opts.assign_arg, qp);
		if (pg != NULL && pg->tgt == tgt &&
		    __atomic_load_n(&pg->state, __ATOMIC_ACQUIRE) == NVMFT_PG_RUNNING)
			return pg;
	}
	/* Round robin over running groups; the list only changes on this thread. */
	for (uint32_t i = 0; i < tgt->num_pgs; i++) {
		pg = tgt->rr_next ? tgt->rr_next : TAILQ_FIRST(&tgt->pgs);
		tgt->rr_next = TAILQ_NEXT(pg, link);
		if (__atomic_load_n(&pg->state, __ATOMIC_ACQUIRE) == NVMFT_PG_RUNNING)
			return pg;
	}
	return NULL;
}

void nvmft_target_accepted(struct nvmft_target *tgt, struct nvmft_qpair *qp)
{
	struct nvmft_transport *tr = qp->tr;
	struct nvmft_poll_group *pg = NULL;
	struct nvmft_qpair *victim;
	bool room;

	nvmft_listener_ref(qp->listener);
	/* A refused connection is never shown to assign_fn: look before choosing a group. */
	pthread_mutex_lock(&tgt->conn_lock);
	room = conn_room(tgt, tr, &victim);
	pthread_mutex_unlock(&tgt->conn_lock);
	if (room)
		pg = target_pick_group(tgt, qp);
	if (pg != NULL) {
		/* Groups may have connected or freed connections meanwhile: decide again. */
		pthread_mutex_lock(&tgt->conn_lock);
		room = conn_room(tgt, tr, &victim);
		if (room) {
			if (victim != NULL)
				conn_evict(tgt, victim);
			atomic_fetch_add(&tgt->num_connections, 1);
			atomic_fetch_add(&tr->num_connections, 1);
			qp->pg = pg;
			qp->pgt = &pg->tr[tr->index];
			qp->tconn.state = NVMFT_TCONN_QUEUED;
			TAILQ_INSERT_TAIL(&tgt->unconnected, qp, tconn.link);
		}
		pthread_mutex_unlock(&tgt->conn_lock);
	}
	if (!room || pg == NULL) {
		nvmft_warn(&tgt->log, "%s: refusing connection (%s)", tr->ops->name,
			   room ? "no running poll group" : "connection limit reached");
		nvmft_listener_unref(qp->listener);
		tr->ops->qpair_free(qp);
		return;
	}
	if (victim != NULL)
		nvmft_info(&tgt->log,
			   "%s: connection limit reached: closing the oldest connection that has not "
			   "connected, to make room",
			   tr->ops->name);
	nvmft_pg_post(pg, &qp->msg, target_assign_msg);
}

void nvmft_target_connection_closed(struct nvmft_qpair *qp)
{
	struct nvmft_target *tgt = qp->tr->tgt;

	pthread_mutex_lock(&tgt->conn_lock);
	switch (qp->tconn.state) {
	case NVMFT_TCONN_QUEUED:
	case NVMFT_TCONN_PENDING:
	case NVMFT_TCONN_CONNECTING:
		TAILQ_REMOVE(&tgt->unconnected, qp, tconn.link);
		conn_uncount(tgt, qp->tr);
		qp->tconn.state = NVMFT_TCONN_CLOSED;
		break;
	case NVMFT_TCONN_NONE:
	case NVMFT_TCONN_ESTABLISHED:
		conn_uncount(tgt, qp->tr);
		qp->tconn.state = NVMFT_TCONN_CLOSED;
		break;
	case NVMFT_TCONN_EVICTED:
		tgt->num_evicting--;
		qp->tconn.state = NVMFT_TCONN_CLOSED;
		break;
	case NVMFT_TCONN_CLOSED:
		break;
	}
	pthread_mutex_unlock(&tgt->conn_lock);
}

bool nvmft_target_connect_begin(struct nvmft_qpair *qp)
{
	struct nvmft_target *tgt = qp->tr->tgt;
	bool ok;

	pthread_mutex_lock(&tgt->conn_lock);
	ok = qp->tconn.state != NVMFT_TCONN_EVICTED;
	if (qp->tconn.state == NVMFT_TCONN_PENDING)
		qp->tconn.state = NVMFT_TCONN_CONNECTING;
	pthread_mutex_unlock(&tgt->conn_lock);
	return ok;
}

void nvmft_target_connect_end(struct nvmft_qpair *qp, bool connected)
{
	struct nvmft_target *tgt = qp->tr->tgt;

	pthread_mutex_lock(&tgt->conn_lock);
	if (connected && (qp->tconn.state == NVMFT_TCONN_CONNECTING ||
			  qp->tconn.state == NVMFT_TCONN_PENDING)) {
		TAILQ_REMOVE(&tgt->unconnected, qp, tconn.link);
		qp->tconn.state = NVMFT_TCONN_ESTABLISHED;
	} else if (!connected && qp->tconn.state == NVMFT_TCONN_CONNECTING) {
		/* Refused: as evictable as before, at its old place in the line. */
		qp->tconn.state = NVMFT_TCONN_PENDING;
	}
	pthread_mutex_unlock(&tgt->conn_lock);
}

/* ---- Management loop -------------------------------------------------------- */

NVMFT_EXPORT int nvmft_target_poll(struct nvmft_target *tgt)
{
	struct epoll_event ev[16];
	int n, work = 0;

	if (tgt == NULL)
		return -EINVAL;
	n = epoll_wait(tgt->epfd, ev, NVMFT_ARRAY_SIZE(ev), 0);
	for (int i = 0; i < n; i++) {
		struct nvmft_listener *l = ev[i].data.ptr;
		int rc;

		if (l == TGT_TAG_MSGQ)
			continue;
		rc = l->tr->ops->accept(l->tr, l);
		if (rc > 0)
			work += rc;
	}
	work += (int)nvmft_msgq_drain(&tgt->mq, 0);
	if (!TAILQ_EMPTY(&tgt->bcasts))
		work += nvmft_bcast_check_deadlines(tgt, nvmft_now_ms());
	return work;
}

NVMFT_EXPORT int nvmft_target_get_fd(const struct nvmft_target *tgt)
{
	return tgt ? tgt->epfd : -EINVAL;
}

NVMFT_EXPORT int nvmft_target_get_timeout_ms(struct nvmft_target *tgt)
{
	int64_t d;

	if (tgt == NULL)
		return -1;
	if (nvmft_msgq_pending(&tgt->mq))
		return 0;
	d = nvmft_bcast_next_deadline(tgt, nvmft_now_ms());
	if (d < 0)
		return -1;
	return d > INT32_MAX ? INT32_MAX : (int)d;
}

NVMFT_EXPORT struct nvmft_subsystem *nvmft_target_get_discovery_subsystem(struct nvmft_target *tgt)
{
	return tgt ? tgt->discovery : NULL;
}

void nvmft_target_discovery_changed(struct nvmft_target *tgt)
{
	atomic_fetch_add(&tgt->discovery_genctr, 1);
	nvmft_subsystem_notify_discovery_change(tgt->discovery);
}

struct nvmft_subsystem *nvmft_target_get_subsystem(struct nvmft_target *tgt, const char *nqn)
{
	struct nvmft_subsystem *ss;

	pthread_mutex_lock(&tgt->lock);
	TAILQ_FOREACH(ss, &tgt->ss_list, link) {
		if (ss->state != NVMFT_SS_DELETING && strcmp(ss->nqn, nqn) == 0) {
			nvmft_subsystem_ref(ss);
			break;
		}
	}
	pthread_mutex_unlock(&tgt->lock);
	return ss;
}
