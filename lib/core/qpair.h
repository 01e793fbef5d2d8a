/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The core part of a queue pair.  Transports embed it in their own queue
 * pair object and recover theirs with container_of.  Owned by the thread
 * of the poll group it is assigned to; before assignment, by the management
 * thread that accepted it.
 */
#ifndef NVMFT_CORE_QPAIR_H
#define NVMFT_CORE_QPAIR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <bsd/sys/queue.h>
#include <nvmft/ctrlr.h>

#include "core/poll_group.h"
#include "util/msgq.h"

struct nvmft_ctrlr;
struct nvmft_listener;
struct nvmft_poll_group;
struct nvmft_pg_subsys;
struct nvmft_pg_transport;
struct nvmft_transport;

enum nvmft_qpair_state {
	NVMFT_QPAIR_UNCONNECTED,  /* transport handshake / waiting for Connect */
	NVMFT_QPAIR_CONNECTING,   /* Connect being processed */
	NVMFT_QPAIR_ACTIVE,
	NVMFT_QPAIR_DISCONNECTING, /* traffic stopped, requests draining */
	NVMFT_QPAIR_REAPED,        /* queued for freeing */
};

/* SMART: completed host read (Read, Compare) and write commands and their bytes. */
struct nvmft_smart_counts {
	uint64_t read_cmds;
	uint64_t write_cmds;
	uint64_t read_bytes;
	uint64_t write_bytes;
};

struct nvmft_qpair {
	struct nvmft_transport *tr;
	struct nvmft_listener *listener;
	struct nvmft_poll_group *pg;
	struct nvmft_pg_transport *pgt;
	struct nvmft_ctrlr *ctrlr;       /* set by Connect */
	struct nvmft_pg_subsys *pgss;    /* the controller's subsystem on this group */
	enum nvmft_qpair_state state;
	uint16_t qid;
	uint16_t sqsize;                 /* 0's based, from Connect */
	uint16_t sqhd;
	bool sq_flow_disabled;
	uint32_t outstanding;            /* requests between init and release */
	uint64_t buf_bytes;              /* pool buffer bytes its requests were granted */
	TAILQ_HEAD(, nvmft_req) buf_waiters; /* over its share of the pool, in order */
	struct nvmft_qpair_stats stats;
	struct nvmft_smart_counts smart;
	struct nvmft_msg msg;            /* assignment, then deferred disconnect */
	bool _Atomic disconnect_posted;  /* @msg is queued for a disconnect */
	struct nvmft_timer connect_timer; /* Connect must arrive within a deadline */
	struct nvmft_tconn tconn;        /* target.c: the connection limit's view */
	TAILQ_ENTRY(nvmft_qpair) link;   /* the group's qpairs or reap_q */
	/* io.c: a fused first command whose second has not been parsed yet. */
	struct nvmft_req *io_fused_first;
};

/* Transports call this when they create a queue pair object. */
void nvmft_qpair_init(struct nvmft_qpair *qp, struct nvmft_transport *tr,
		      struct nvmft_listener *l);
/*
 * Begin tearing @qp down (idempotent): stop its traffic, fail held
 * requests, and free it once every request is released.  If it is the
 * controller's admin queue, the controller goes with it.  Group thread.
 */
void nvmft_qpair_disconnect(struct nvmft_qpair *qp);
/* Ask @qp's own group to disconnect it. Any thread. */
void nvmft_qpair_disconnect_remote(struct nvmft_qpair *qp);
/*
 * Connect, or its local equivalent, succeeded: @qp (whose ->ctrlr is set)
 * becomes queue @qid of @sqsize + 1 entries with SQHD @sqhd, and joins its
 * subsystem on this group.  Group thread.
 */
void nvmft_qpair_set_active(struct nvmft_qpair *qp, uint16_t qid, uint16_t sqsize, uint16_t sqhd);
/*
 * A PCIe-style transport created @qp itself (Create I/O Submission Queue):
 * put it on @pg, which must be the calling thread's group, as an accepted
 * connection would be (it counts against the connection limits and holds
 * its listener).  No ops->pg_add_qpair call follows: the transport made it.
 * Returns 0 or -ESHUTDOWN (the group is stopping or lacks the transport);
 * on failure the caller still owns @qp.
 */
int nvmft_qpair_add_local(struct nvmft_qpair *qp, struct nvmft_poll_group *pg);
/* Start the Connect deadline of a qpair that just arrived on its group. */
void nvmft_qpair_arm_connect_timer(struct nvmft_qpair *qp, uint32_t timeout_ms);
/* Called by the poll loop for a reaped qpair. */
void nvmft_qpair_free(struct nvmft_qpair *qp);
static inline bool nvmft_qpair_is_admin(const struct nvmft_qpair *qp)
{
	return qp->qid == 0;
}
static inline bool nvmft_qpair_is_alive(const struct nvmft_qpair *qp)
{
	return qp->state < NVMFT_QPAIR_DISCONNECTING;
}

#endif
