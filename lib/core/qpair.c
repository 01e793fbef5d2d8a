/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Queue pair life on its poll group: disconnect (stop traffic, fail what
 * waits in the core) and free (once every request is released).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/bcast.h"
#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/subsystem.h"
#include "core/target.h"
#include "core/transport.h"
#include "util/compiler.h"
#include "util/time.h"

void nvmft_qpair_init(struct nvmft_qpair *qp, struct nvmft_transport *tr, struct nvmft_listener *l)
{
	memset(qp, 0, sizeof(*qp));
	qp->tr = tr;
	qp->listener = l;
	qp->state = NVMFT_QPAIR_UNCONNECTED;
	qp->stats.size = sizeof(qp->stats);
	TAILQ_INIT(&qp->buf_waiters);
}

static void qpair_connect_expired(struct nvmft_timer *t)
{
	struct nvmft_qpair *qp = nvmft_container_of(t, struct nvmft_qpair, connect_timer);

	if (qp->state != NVMFT_QPAIR_UNCONNECTED)
		return;
	nvmft_info(&qp->tr->tgt->log, "%s: closing a %s connection that did not Connect in time",
		   qp->pg->name, qp->tr->ops->name);
	nvmft_qpair_disconnect(qp);
}

void nvmft_qpair_arm_connect_timer(struct nvmft_qpair *qp, uint32_t timeout_ms)
{
	qp->connect_timer.fn = qpair_connect_expired;
	nvmft_pg_timer_arm(qp->pg, &qp->connect_timer, nvmft_now_ms() + timeout_ms);
}

void nvmft_qpair_set_active(struct nvmft_qpair *qp, uint16_t qid, uint16_t sqsize, uint16_t sqhd)
{
	qp->qid = qid;
	qp->sqsize = sqsize;
	qp->sqhd = sqhd;
	qp->pgss = nvmft_pg_subsys(qp->pg, qp->ctrlr->ss->id);
	qp->pgss->num_qpairs++;
	qp->state = NVMFT_QPAIR_ACTIVE;
	nvmft_pg_timer_cancel(qp->pg, &qp->connect_timer);
	/* Never evicted at the connection limit from now on (Connect also says so). */
	nvmft_target_connect_end(qp, true);
}

int nvmft_qpair_add_local(struct nvmft_qpair *qp, struct nvmft_poll_group *pg)
{
	struct nvmft_pg_transport *pgt = nvmft_pg_transport(pg, qp->tr);
	struct nvmft_target *tgt = qp->tr->tgt;

	if (pg->state != NVMFT_PG_RUNNING || pgt->tr != qp->tr)
		return -ESHUTDOWN;
	/* Undone by nvmft_qpair_free() like any connection's. */
	atomic_fetch_add(&tgt->num_connections, 1);
	atomic_fetch_add(&qp->tr->num_connections, 1);
	nvmft_listener_ref(qp->listener);
	qp->pg = pg;
	qp->pgt = pgt;
	TAILQ_INSERT_TAIL(&pg->qpairs, qp, link);
	return 0;
}

/* Commands held by a paused subsystem never ran: answer them now. */
static void qpair_abort_queued(struct nvmft_qpair *qp)
{
	struct nvmft_req *req, *tmp;

	if (qp->pgss == NULL)
		return;
	TAILQ_FOREACH_SAFE(req, &qp->pgss->queued, link, tmp) {
		if (req->qpair != qp)
			continue;
		TAILQ_REMOVE(&qp->pgss->queued, req, link);
		req->flags &= (uint16_t)~NVMFT_REQ_F_IO;
		nvmft_req_finish(req, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_QUEUE));
	}
}

void nvmft_qpair_disconnect(struct nvmft_qpair *qp)
{
	if (qp->state >= NVMFT_QPAIR_DISCONNECTING)
		return;
	qp->state = NVMFT_QPAIR_DISCONNECTING;
	if (qp->connect_timer.deadline_ms != 0)
		nvmft_pg_timer_cancel(qp->pg, &qp->connect_timer);
	/* A held fused first half is answered before the wire goes. */
	nvmft_io_qpair_disconnect(qp);
	/* The transport stops the wire first, so the answers below go nowhere. */
	qp->tr->ops->qpair_disconnect(qp);
	qpair_abort_queued(qp);
	if (qp->ctrlr != NULL && nvmft_qpair_is_admin(qp))
		nvmft_ctrlr_begin_delete(qp->ctrlr);
	if (qp->outstanding == 0)
		nvmft_pg_reap_qpair(qp->pg, qp);
}

static void qpair_disconnect_msg(struct nvmft_msg *msg)
{
	struct nvmft_qpair *qp = nvmft_container_of(msg, struct nvmft_qpair, msg);

	atomic_store(&qp->disconnect_posted, false);
	nvmft_qpair_disconnect(qp);
}

void nvmft_qpair_disconnect_remote(struct nvmft_qpair *qp)
{
	/* One message slot per qpair: a second request while one is queued is the same request. */
	if (atomic_exchange(&qp->disconnect_posted, true))
		return;
	nvmft_pg_post(qp->pg, &qp->msg, qpair_disconnect_msg);
}

void nvmft_qpair_free(struct nvmft_qpair *qp)
{
	struct nvmft_poll_group *pg = qp->pg;
	struct nvmft_pg_subsys *pgss = qp->pgss;
	struct nvmft_ctrlr *ctrlr = qp->ctrlr;
	struct nvmft_transport *tr = qp->tr;
	struct nvmft_listener *l = qp->listener;

	if (ctrlr != NULL) {
		if (nvmft_qpair_is_admin(qp))
			nvmft_stat_add(pg->stats.current_admin_qpairs, -1);
		else
			nvmft_stat_add(pg->stats.current_io_qpairs, -1);
		qp->ctrlr = NULL;
		nvmft_ctrlr_remove_qpair(ctrlr, qp);
	}
	/*
	 * Out of the controller's table, and off the target's list of
	 * connections it may evict, nobody can post a disconnect any more;
	 * one posted before (even while we waited for either lock) must run
	 * before the memory goes.
	 */
	nvmft_target_connection_closed(qp);
	if (atomic_load(&qp->disconnect_posted)) {
		TAILQ_INSERT_TAIL(&pg->reap_q, qp, link);
		return;
	}
	if (pgss != NULL && --pgss->num_qpairs == 0 && pgss->delete_wait != NULL) {
		struct nvmft_bcast *bc = pgss->delete_wait;
		struct nvmft_subsystem *ss = pgss->ss;

		pgss->delete_wait = NULL;
		nvmft_pg_subsys_remove(pg, ss);
		nvmft_bcast_ack(bc, pg, 0);
	}
	tr->ops->qpair_free(qp);
	nvmft_listener_unref(l);
}

/* ---- Public introspection ------------------------------------------------------- */

NVMFT_EXPORT uint16_t nvmft_qpair_get_qid(const struct nvmft_qpair *qpair)
{
	return qpair->qid;
}

NVMFT_EXPORT uint32_t nvmft_qpair_get_depth(const struct nvmft_qpair *qpair)
{
	return (uint32_t)qpair->sqsize + 1;
}

NVMFT_EXPORT enum nvmft_trtype nvmft_qpair_get_trtype(const struct nvmft_qpair *qpair)
{
	return qpair->tr->ops->type;
}

NVMFT_EXPORT const char *nvmft_qpair_get_poll_group_name(const struct nvmft_qpair *qpair)
{
	return qpair->pg ? qpair->pg->name : NULL;
}

NVMFT_EXPORT const struct nvmft_listener *nvmft_qpair_get_listener(const struct nvmft_qpair *qpair)
{
	return qpair->listener;
}

NVMFT_EXPORT int nvmft_qpair_get_peer(const struct nvmft_qpair *qpair, enum nvmft_adrfam *adrfam,
				      char *traddr, size_t traddr_len, char *trsvcid, size_t trsvcid_len)
{
	struct sockaddr_storage ss;
	char port[8];
	const void *addr;
	uint16_t p;
	int rc;

	if (qpair == NULL || traddr == NULL || qpair->tr->ops->qpair_get_peer == NULL)
		return -EINVAL;
	rc = qpair->tr->ops->qpair_get_peer(qpair, &ss);
	if (rc < 0)
		return rc;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		addr = &in->sin_addr;
		p = ntohs(in->sin_port);
		if (adrfam)
			*adrfam = NVMFT_ADRFAM_IPV4;
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;

		addr = &in6->sin6_addr;
		p = ntohs(in6->sin6_port);
		if (adrfam)
			*adrfam = NVMFT_ADRFAM_IPV6;
	} else {
		return -ENOTCONN;
	}
	if (inet_ntop(ss.ss_family, addr, traddr, (socklen_t)traddr_len) == NULL)
		return -ENOSPC;
	if (trsvcid != NULL) {
		snprintf(port, sizeof(port), "%u", p);
		if (strlen(port) + 1 > trsvcid_len)
			return -ENOSPC;
		memcpy(trsvcid, port, strlen(port) + 1);
	}
	return 0;
}

NVMFT_EXPORT int nvmft_qpair_get_stats(const struct nvmft_qpair *qpair, struct nvmft_qpair_stats *st)
{
	struct nvmft_qpair_stats s;

	if (qpair == NULL || st == NULL || st->size < sizeof(size_t))
		return -EINVAL;
	s.size = st->size;
	s.cmds = nvmft_stat_read(qpair->stats.cmds);
	s.errors = nvmft_stat_read(qpair->stats.errors);
	s.bytes_read = nvmft_stat_read(qpair->stats.bytes_read);
	s.bytes_written = nvmft_stat_read(qpair->stats.bytes_written);
	s.outstanding = nvmft_stat_read(qpair->stats.outstanding);
	memcpy(st, &s, NVMFT_MIN(st->size, sizeof(s)));
	return 0;
}
