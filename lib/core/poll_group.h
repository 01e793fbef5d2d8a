/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The poll group: everything here is owned by the thread that polls the
 * group, except @mq (any thread posts) and the fields the target's lock
 * guards (the list link).
 *
 * Per-subsystem state lives here too (struct nvmft_pg_subsys), so the I/O
 * path finds a namespace's backend channel with two array lookups and no
 * lock: the management thread changes it only through messages.
 */
#ifndef NVMFT_CORE_POLL_GROUP_H
#define NVMFT_CORE_POLL_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include <bsd/sys/queue.h>
#include <nvmft/poll_group.h>

#include "core/target.h"
#include "util/buf_pool.h"
#include "util/msgq.h"

struct nvmft_req;
struct nvmft_qpair;
struct nvmft_ctrlr;
struct nvmft_ns;
struct nvmft_bcast;
struct nvmft_io_fence;

/* One namespace as one poll group sees it. */
struct nvmft_pg_ns {
	struct nvmft_ns *ns;      /* NULL: not (or no longer) attached here */
	void *chan;               /* backend channel opened on this group */
	int chan_fd;              /* in the group's epoll set when >= 0 */
	uint32_t io_outstanding;  /* requests of this ns between execute and release */
	bool removing;            /* new commands get Invalid Namespace */
	struct nvmft_bcast *drain; /* ack when io_outstanding reaches 0 */
	/* Requests in the backend now (req.c), for the drain deadline; empty when zeroed. */
	LIST_HEAD(, nvmft_req) be_reqs;
	TAILQ_ENTRY(nvmft_pg_ns) poll_link; /* channels with a channel_poll method */
	TAILQ_ENTRY(nvmft_pg_ns) detach_link; /* on pg->detach_q */
	bool detach_queued;
	/* io_range_lock.c: writes in flight by epoch, and range-lock fences waiting for them. */
	uint32_t io_wr[2];
	uint8_t io_wr_epoch;
	bool io_draining;         /* a fence waits for epoch !io_wr_epoch to drain */
	struct nvmft_io_fence *io_fence_old; /* wait for the old epoch */
	struct nvmft_io_fence *io_fence_new; /* wait for the old and the current epoch */
};

enum nvmft_pg_ss_state {
	NVMFT_PG_SS_ACTIVE,
	NVMFT_PG_SS_PAUSED, /* I/O held in @queued */
};

/* One subsystem as one poll group sees it. */
struct nvmft_pg_subsys {
	struct nvmft_subsystem *ss;
	enum nvmft_pg_ss_state state;
	uint32_t io_outstanding;      /* I/O of every ns between execute and release */
	struct nvmft_bcast *drain;    /* pause: ack when io_outstanding reaches 0 */
	TAILQ_HEAD(, nvmft_req) queued; /* arrived while paused */
	uint32_t num_qpairs;          /* connected qpairs of this subsystem here */
	struct nvmft_bcast *delete_wait; /* subsystem deletion: ack at 0 qpairs */
	uint32_t ns_cap;              /* entries in @ns */
	struct nvmft_pg_ns **ns;      /* by nsid - 1 */
};

/* A transport's state on one poll group, and its buffer pool. */
struct nvmft_pg_transport {
	struct nvmft_transport *tr;
	void *tpg;
	struct nvmft_buf_pool pool;
	TAILQ_HEAD(, nvmft_req) buf_waiters; /* FIFO: first come, first served */
};

/* A deadline checked during polls; the group's timerfd tracks the nearest. */
struct nvmft_timer {
	uint64_t deadline_ms; /* 0 = not armed */
	void (*fn)(struct nvmft_timer *t);
	TAILQ_ENTRY(nvmft_timer) link;
};

enum nvmft_pg_state {
	NVMFT_PG_RUNNING,
	NVMFT_PG_STOPPING,
	NVMFT_PG_STOPPED,
};

struct nvmft_poll_group {
	struct nvmft_target *tgt;
	char name[32];
	enum nvmft_pg_state state;
	bool busy_poll; /* never slept on (nvmft_poll_group_opts) */
	nvmft_done_fn stop_cb;
	void *stop_arg;

	int epfd;
	int timerfd;
	uint64_t timerfd_armed_ms;
	struct nvmft_msgq mq;
	struct nvmft_msg init_msg;

	struct nvmft_pg_transport tr[NVMFT_MAX_TRANSPORTS]; /* by transport index */
	uint32_t max_subsystems;
	struct nvmft_pg_subsys **ss; /* by subsystem id */

	TAILQ_HEAD(, nvmft_qpair) qpairs;   /* every qpair assigned here */
	TAILQ_HEAD(, nvmft_qpair) reap_q;   /* disconnected, waiting to be freed */
	TAILQ_HEAD(, nvmft_ctrlr) ctrlrs;   /* controllers whose admin qpair is here */
	TAILQ_HEAD(, nvmft_req) resume_q;   /* requests to move on at the next poll */
	TAILQ_HEAD(, nvmft_timer) timers;   /* armed, any order */
	TAILQ_HEAD(, nvmft_pg_ns) polled_chans;
	/* Drained namespaces being removed: their channels close at the next poll. */
	TAILQ_HEAD(, nvmft_pg_ns) detach_q;
	/* State the group's channels share (nvmft_pg_shared_*(), backends/backend.h). */
	TAILQ_HEAD(, nvmft_pg_shared) shared;

	struct nvmft_poll_group_stats stats;
	TAILQ_ENTRY(nvmft_poll_group) link; /* target's list, under tgt->lock */
};

/* Post a message to @pg. Any thread. */
void nvmft_pg_post(struct nvmft_poll_group *pg, struct nvmft_msg *msg, nvmft_msg_fn fn);
/* Arm (or re-arm) @t for @deadline_ms; 0 disarms. Group thread. */
void nvmft_pg_timer_arm(struct nvmft_poll_group *pg, struct nvmft_timer *t, uint64_t deadline_ms);
void nvmft_pg_timer_cancel(struct nvmft_poll_group *pg, struct nvmft_timer *t);
/* Watch a descriptor for EPOLLIN (sockets, backend fds). Group thread. */
int nvmft_pg_watch_fd(struct nvmft_poll_group *pg, int fd, uint32_t events, void *tag);
int nvmft_pg_modify_fd(struct nvmft_poll_group *pg, int fd, uint32_t events, void *tag);
void nvmft_pg_unwatch_fd(struct nvmft_poll_group *pg, int fd);
/* The group's state for a subsystem, or NULL. Group thread. */
static inline struct nvmft_pg_subsys *nvmft_pg_subsys(struct nvmft_poll_group *pg, uint32_t ss_id)
{
	return ss_id < pg->max_subsystems ? pg->ss[ss_id] : NULL;
}
/* The pg_ns for @nsid, or NULL. */
static inline struct nvmft_pg_ns *nvmft_pg_ns(struct nvmft_pg_subsys *pgss, uint32_t nsid)
{
	if (pgss == NULL || nsid == 0 || nsid > pgss->ns_cap)
		return NULL;
	return pgss->ns[nsid - 1];
}
/*
 * Queue a request to be moved on from the poll loop (no recursion).  What
 * happens then depends on its state: INIT (buffers arrived) goes to
 * ops->req_buffers_ready; QUEUED (was held by a pause) to nvmft_req_execute;
 * EXEC (a command family deferring its next step) to req->execute again.
 */
void nvmft_pg_resume_req(struct nvmft_poll_group *pg, struct nvmft_req *req);
/* Queue a disconnected qpair for freeing from the poll loop. */
void nvmft_pg_reap_qpair(struct nvmft_poll_group *pg, struct nvmft_qpair *qp);
/* Transport state of @tr on @pg. */
static inline struct nvmft_pg_transport *nvmft_pg_transport(struct nvmft_poll_group *pg,
							    const struct nvmft_transport *tr);
/*
 * Namespace bookkeeping on the group thread, used by the ns and subsystem
 * broadcasts: attach opens the backend channel; detach closes it (the
 * namespace must have no I/O outstanding here).
 */
int nvmft_pg_ns_attach(struct nvmft_poll_group *pg, struct nvmft_ns *ns);
void nvmft_pg_ns_detach(struct nvmft_poll_group *pg, struct nvmft_ns *ns);
/* Create/drop the group's state for a subsystem (target lock held by caller for create at pg birth). */
int nvmft_pg_subsys_add(struct nvmft_poll_group *pg, struct nvmft_subsystem *ss);
void nvmft_pg_subsys_remove(struct nvmft_poll_group *pg, struct nvmft_subsystem *ss);
/* Drain accounting: an I/O of @pgns was released. */
void nvmft_pg_io_done(struct nvmft_poll_group *pg, struct nvmft_pg_subsys *pgss, struct nvmft_pg_ns *pgns);

#include "core/transport.h"

static inline struct nvmft_pg_transport *nvmft_pg_transport(struct nvmft_poll_group *pg,
							    const struct nvmft_transport *tr)
{
	return &pg->tr[tr->index];
}

#endif
