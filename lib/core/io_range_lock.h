/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * LBA range locks for fused Compare and Write, and the write accounting
 * that lets a new lock wait for writes already on their way to the media.
 * io_range_lock.c explains the protocol.
 *
 * "Write" here means every command that changes media contents: Write,
 * Write Zeroes and Dataset Management with Deallocate.  io.c brackets each
 * with nvmft_io_wr_begin() (or nvmft_io_wr_count() for the write half of a
 * pair, which holds the lock itself) and nvmft_io_wr_end().
 */
#ifndef NVMFT_CORE_IO_RANGE_LOCK_H
#define NVMFT_CORE_IO_RANGE_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <bsd/sys/queue.h>

#include "core/ns.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "util/compiler.h"
#include "util/msgq.h"

struct nvmft_io_lock;

/* Owner's thread: 0 once the range is held, or -errno (the lock is gone then). */
typedef void (*nvmft_io_lock_cb)(struct nvmft_io_lock *lk, int status);

/* One lock; the caller embeds it and keeps it until released or failed. */
struct nvmft_io_lock {
	struct nvmft_ns *ns;
	struct nvmft_poll_group *pg;     /* owner: @cb runs on its thread */
	uint64_t slba;
	uint64_t nlb;
	nvmft_io_lock_cb cb;
	int status;                      /* result of the fence */
	bool fenced;                     /* table mutex: earlier writes are done */
	bool granted;                    /* table mutex */
	struct nvmft_msg msg;            /* one hop at a time: fence start, result, grant */
	TAILQ_ENTRY(nvmft_io_lock) link; /* the namespace's table, in arrival order */
};

/* Does the write @req touch [@slba, @slba + @nlb)? */
typedef bool (*nvmft_io_overlap_fn)(const struct nvmft_req *req, uint64_t slba, uint64_t nlb);

/*
 * Lock [@slba, @slba + @nlb) of @ns for a fused pair on @pg (group thread).
 * Writes that overlap it wait from now on; @cb runs later, never from
 * inside this call.  Returns 0, or -ENOMEM (nothing was locked).
 */
int nvmft_io_lock_acquire(struct nvmft_io_lock *lk, struct nvmft_ns *ns,
			  struct nvmft_poll_group *pg, uint64_t slba, uint64_t nlb,
			  nvmft_io_lock_cb cb);
/* Drop a granted lock; waiting writes and locks move on. Owner's thread. */
void nvmft_io_lock_release(struct nvmft_io_lock *lk);
/* Free the table of a namespace that is going away (no lock is left). */
void nvmft_io_lock_ns_fini(struct nvmft_ns *ns);

/* Slow paths behind the inline helpers below. */
bool nvmft_io_wr_begin_slow(struct nvmft_req *req, nvmft_io_overlap_fn overlaps);
void nvmft_io_wr_drained(struct nvmft_poll_group *pg, struct nvmft_pg_ns *pgns);

/* Count @req as a write in flight on its group (it holds the range, or no lock exists). */
static inline void nvmft_io_wr_count(struct nvmft_req *req)
{
	struct nvmft_pg_ns *pgns = req->pgns;
	uint8_t e = pgns->io_wr_epoch;

	pgns->io_wr[e]++;
	req->io_wr_tag = (uint8_t)(e + 1);
}

/*
 * May the write @req go to the backend now?  True: it is counted and must
 * end with nvmft_io_wr_end().  False: a lock covers part of it; it waits,
 * and req->execute runs again on its group once the lock is gone.
 *
 * Without any lock on the namespace this is one relaxed load plus the
 * group-local count.
 */
static inline bool nvmft_io_wr_begin(struct nvmft_req *req, nvmft_io_overlap_fn overlaps)
{
	struct nvmft_ns *ns = req->pgns->ns;

	if (nvmft_unlikely(atomic_load_explicit(&ns->io_locks, memory_order_relaxed) != 0))
		return nvmft_io_wr_begin_slow(req, overlaps);
	nvmft_io_wr_count(req);
	return true;
}

/* The write @req reached the media (or failed): stop counting it. */
static inline void nvmft_io_wr_end(struct nvmft_req *req)
{
	struct nvmft_pg_ns *pgns = req->pgns;
	uint8_t e = (uint8_t)(req->io_wr_tag - 1);

	req->io_wr_tag = 0;
	if (--pgns->io_wr[e] == 0 && nvmft_unlikely(pgns->io_draining) && e != pgns->io_wr_epoch)
		nvmft_io_wr_drained(req->qpair->pg, pgns);
}

#endif
