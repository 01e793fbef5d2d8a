/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The target object.  Management thread owns it; @lock guards what poll
 * group threads read at Connect time (the subsystem table and the poll
 * group list) and is never taken on the per-I/O path.
 */
#ifndef NVMFT_CORE_TARGET_H
#define NVMFT_CORE_TARGET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <bsd/sys/queue.h>
#include <nvmft/target.h>

#include "util/log.h"
#include "util/msgq.h"

struct nvmft_bcast_slot;
struct nvmft_bcast;
struct nvmft_qpair;

/* Upper bound on transports per target (one per type). */
#define NVMFT_MAX_TRANSPORTS 4
/*
 * Connections closed to make room at the limit (evicted) whose groups have
 * not freed them yet.  They no longer count against max_connections, so
 * this bounds the memory they hold beyond it when a group falls behind;
 * past it, new connections are refused at accept until the groups catch up.
 */
#define NVMFT_MAX_EVICTING 64

/*
 * A connection as the connection limit sees it (target.c), under
 * nvmft_target.conn_lock.  Embedded in every queue pair; zeroed (NONE) by
 * nvmft_qpair_init().
 */
enum nvmft_tconn_state {
	NVMFT_TCONN_NONE,        /* counted, not on any list: put on its group by its transport
				  * (nvmft_qpair_add_local()), so never evictable */
	NVMFT_TCONN_QUEUED,      /* counted; its assignment message is on the way to its group */
	NVMFT_TCONN_PENDING,     /* counted; on its group, no Connect completed yet */
	NVMFT_TCONN_CONNECTING,  /* counted; its group is processing a Connect (not evictable) */
	NVMFT_TCONN_ESTABLISHED, /* counted; Connect succeeded: never evicted */
	NVMFT_TCONN_EVICTED,     /* no longer counted; closed to make room, going away */
	NVMFT_TCONN_CLOSED,      /* no longer counted */
};

struct nvmft_tconn {
	enum nvmft_tconn_state state;
	/* On the target's @unconnected list while QUEUED, PENDING or CONNECTING. */
	TAILQ_ENTRY(nvmft_qpair) link;
};

struct nvmft_target {
	struct nvmft_target_opts opts;
	struct nvmft_logger log;
	char discovery_nqn[224];

	pthread_mutex_t lock;
	/* Indexed by subsystem id; NULL slots are free.  Writers hold @lock. */
	struct nvmft_subsystem **subsystems;
	uint32_t max_subsystems;
	TAILQ_HEAD(, nvmft_subsystem) ss_list; /* creation order, for iteration */
	TAILQ_HEAD(, nvmft_poll_group) pgs;
	uint32_t num_pgs;
	uint32_t pg_name_seq;
	struct nvmft_poll_group *rr_next; /* round-robin cursor */

	/* Management-thread only. */
	struct nvmft_transport *transports[NVMFT_MAX_TRANSPORTS];
	TAILQ_HEAD(, nvmft_transport) tr_list;
	uint16_t next_portid;
	struct nvmft_subsystem *discovery;
	uint64_t _Atomic discovery_genctr;

	/*
	 * The connection limit.  @conn_lock is a leaf lock, taken at accept,
	 * assignment, Connect and queue pair freeing, never per I/O; it guards
	 * @unconnected, each queue pair's @tconn and the changes of the
	 * counters (which may be read without it).
	 */
	pthread_mutex_t conn_lock;
	/* Counted connections that have not completed Connect, oldest accept first. */
	TAILQ_HEAD(, nvmft_qpair) unconnected;
	uint32_t _Atomic num_connections;
	uint32_t num_evicting; /* EVICTED and not yet freed */

	int epfd;
	struct nvmft_msgq mq; /* messages to the management thread */
	TAILQ_HEAD(, nvmft_bcast) bcasts; /* in flight, for deadlines */
};

/* Post a message to the management thread. Any thread. */
void nvmft_target_post(struct nvmft_target *tgt, struct nvmft_msg *msg, nvmft_msg_fn fn);
/*
 * A transport accepted @qp on the management thread: pick a poll group
 * and send it there.  At the connection limit (the target's or @qp's
 * transport's), the oldest connection that has not completed Connect is
 * evicted (closed by its group) to make room; when there is none, or no
 * running poll group, @qp is closed (freed) at once.
 */
void nvmft_target_accepted(struct nvmft_target *tgt, struct nvmft_qpair *qp);
/*
 * @qp is being freed: it no longer counts against the limit.  Idempotent.
 * Its group's thread, before it checks for a disconnect message in flight
 * (an eviction posts one while @qp is on the unconnected list).
 */
void nvmft_target_connection_closed(struct nvmft_qpair *qp);
/*
 * Fabrics Connect on @qp begins / ended (@connected: it succeeded).  Its
 * group's thread.  Between the two, @qp cannot be evicted; begin returns
 * false when it was evicted already, and the Connect must then fail (the
 * connection is being closed).  After a successful Connect it never is.
 * A queue that becomes active without Connect (a local controller's) says
 * so with end(true) alone: evicted before that, it is closed all the same.
 */
bool nvmft_target_connect_begin(struct nvmft_qpair *qp);
void nvmft_target_connect_end(struct nvmft_qpair *qp, bool connected);
/* Something the discovery log shows changed. Management thread. */
void nvmft_target_discovery_changed(struct nvmft_target *tgt);
/* Find a live subsystem by NQN and take a reference. Any thread; takes @lock. */
struct nvmft_subsystem *nvmft_target_get_subsystem(struct nvmft_target *tgt, const char *nqn);
/* Add or remove a descriptor in the target's epoll set (listeners). */
int nvmft_target_watch_fd(struct nvmft_target *tgt, int fd, void *tag);
void nvmft_target_unwatch_fd(struct nvmft_target *tgt, int fd);

#endif
