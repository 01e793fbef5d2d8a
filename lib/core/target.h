/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The target object.  Management thread owns it; @lock guards what poll
 * group threads read at Connect time (the subsystem table and the poll
 * group list) and is never taken on the per-I/O path.
 */
#ifndef NVMFT_CORE_TARGET_H
#define NVMFT_CORE_TARGET_H

#include <pthread.h>
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
	uint32_t _Atomic num_connections;

	int epfd;
	struct nvmft_msgq mq; /* messages to the management thread */
	TAILQ_HEAD(, nvmft_bcast) bcasts; /* in flight, for deadlines */
};

/* Post a message to the management thread. Any thread. */
void nvmft_target_post(struct nvmft_target *tgt, struct nvmft_msg *msg, nvmft_msg_fn fn);
/*
 * A transport accepted @qp on the management thread: pick a poll group
 * and send it there.  Closes (frees) @qp when the connection limit is
 * reached or no poll group exists.
 */
void nvmft_target_accepted(struct nvmft_target *tgt, struct nvmft_qpair *qp);
/* A connection went away (its qpair was freed). Any thread. */
void nvmft_target_connection_closed(struct nvmft_target *tgt, struct nvmft_transport *tr);
/* Something the discovery log shows changed. Management thread. */
void nvmft_target_discovery_changed(struct nvmft_target *tgt);
/* Find a live subsystem by NQN and take a reference. Any thread; takes @lock. */
struct nvmft_subsystem *nvmft_target_get_subsystem(struct nvmft_target *tgt, const char *nqn);
/* Add or remove a descriptor in the target's epoll set (listeners). */
int nvmft_target_watch_fd(struct nvmft_target *tgt, int fd, void *tag);
void nvmft_target_unwatch_fd(struct nvmft_target *tgt, int fd);

#endif
