/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * "Do X on every poll group, then call me back": the one helper behind
 * adding a namespace, quiescing one, pausing a subsystem, dropping the
 * connections of a listener or host, and deleting a subsystem.
 *
 * nvmft_bcast_start() posts @run to every poll group of the target (a
 * group created later is not included: it learns the new state when it is
 * created, under the target lock).  Each group calls nvmft_bcast_ack() once,
 * at once or later (e.g. when its I/O drained).  When all acked, @done runs
 * on the management thread.  With a deadline, groups that have not acked in
 * time get @expire on their thread, which must give up waiting (failing the
 * stuck I/O upward) and ack.
 */
#ifndef NVMFT_CORE_BCAST_H
#define NVMFT_CORE_BCAST_H

#include <stdint.h>

struct nvmft_target;
struct nvmft_poll_group;
struct nvmft_bcast;

struct nvmft_bcast_ops {
	/* Group thread.  Must lead to exactly one nvmft_bcast_ack(bc, pg, ...). */
	void (*run)(struct nvmft_bcast *bc, struct nvmft_poll_group *pg);
	/* Group thread, only after the deadline and only if not acked yet. */
	void (*expire)(struct nvmft_bcast *bc, struct nvmft_poll_group *pg);
	/* Management thread; @status is the first non-zero ack status. */
	void (*done)(struct nvmft_bcast *bc, int status);
};

/*
 * Start a broadcast.  @ctx is returned by nvmft_bcast_ctx().  @deadline_ms 0
 * means wait forever.  Return 0 or -ENOMEM.  Management thread.
 */
int nvmft_bcast_start(struct nvmft_target *tgt, const struct nvmft_bcast_ops *ops, void *ctx,
		      uint32_t deadline_ms);
void *nvmft_bcast_ctx(const struct nvmft_bcast *bc);
/* Group thread of @pg. */
void nvmft_bcast_ack(struct nvmft_bcast *bc, struct nvmft_poll_group *pg, int status);
/* Management thread: fire expired deadlines.  Returns work done. */
int nvmft_bcast_check_deadlines(struct nvmft_target *tgt, uint64_t now_ms);
/* Management thread: milliseconds to the nearest deadline or -1. */
int64_t nvmft_bcast_next_deadline(struct nvmft_target *tgt, uint64_t now_ms);
/* A poll group is being freed: ack whatever it still owes. Any thread, under no lock. */
void nvmft_bcast_forget_pg(struct nvmft_target *tgt, struct nvmft_poll_group *pg);


#endif
