/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * LBA range locks: what makes a fused Compare and Write atomic against the
 * writes of every queue on every poll group.
 *
 * State.  Each namespace has a lock table (a mutex, the locks in arrival
 * order, the writes waiting for a lock) made by its first lock and shared
 * by all groups, plus ns->io_locks, the number of locks in the table.
 * Each group counts the writes it has in flight for the namespace in two
 * epochs (pgns->io_wr[2], pgns->io_wr_epoch); only its own thread touches
 * them.
 *
 * Writes.  A write loads ns->io_locks (relaxed).  Zero: it counts itself in
 * its group's current epoch and goes to the backend.  That, and the count
 * going down at completion, is all a write pays while no fused command is
 * active.  Non-zero: it takes the table mutex; if a lock overlaps one of
 * its ranges it joins the waiters and runs again (req->execute, on its own
 * group) whenever a lock leaves the table; otherwise it counts itself and
 * goes on.
 *
 * Taking a lock.  The owner puts the lock in the table and increments
 * ns->io_locks under the mutex: from then on every write that looks at the
 * table sees the lock.  Writes that did not look (fast path) or looked
 * earlier may still be in flight on any group, so the lock fences every
 * group with the broadcast helper (bcast.h; the owner posts to the
 * management thread, which starts it).  The fence reaches a group through
 * messages that were sent after the increment, so every write that group
 * starts afterwards sees the lock.  The group flips its current epoch and
 * acks once the writes of the epoch before the flip are done; writes of
 * the new epoch do not hold it up, so a busy group cannot starve the fence.
 * A fence that arrives while an earlier drain is still going waits for both
 * epochs (io_fence_new).  Groups created after the broadcast started see
 * ns->io_locks at once; groups freed meanwhile are settled by the broadcast
 * helper; a group that does not answer within the drain deadline fails the
 * fence (-ETIMEDOUT) instead of hanging the pair.
 *
 * Once fenced, a lock is granted when no earlier overlapping lock is left
 * in the table, so overlapping pairs run in arrival order.  The owner then
 * compares and writes; its own write is counted (later locks wait for it)
 * but not checked against the table.  Release removes the lock, grants the
 * fenced locks it was blocking and wakes every waiting write, all under the
 * mutex, so no wake-up is lost.
 *
 * Reads never look at any of this, and neither do writes to namespaces
 * without locks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/bcast.h"
#include "core/io_range_lock.h"
#include "core/ns.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/subsystem.h"
#include "core/target.h"
#include "util/compiler.h"

struct nvmft_io_lock_tbl {
	pthread_mutex_t mtx;
	TAILQ_HEAD(, nvmft_io_lock) locks;  /* arrival order */
	TAILQ_HEAD(, nvmft_req) waiters;    /* writes blocked by a lock, through req->link */
};

/* A fence parked on a group until that group's earlier writes are done. */
struct nvmft_io_fence {
	struct nvmft_bcast *bc;
	struct nvmft_io_fence *next;
};

static bool range_overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return a < b + bn && b < a + an;
}

static struct nvmft_io_lock_tbl *lock_tbl(struct nvmft_ns *ns)
{
	return atomic_load_explicit(&ns->io_lock_tbl, memory_order_acquire);
}

static struct nvmft_io_lock_tbl *lock_tbl_get(struct nvmft_ns *ns)
{
	struct nvmft_io_lock_tbl *tbl = lock_tbl(ns), *cur = NULL;

	if (tbl != NULL)
		return tbl;
	tbl = calloc(1, sizeof(*tbl));
	if (tbl == NULL)
		return NULL;
	if (pthread_mutex_init(&tbl->mtx, NULL) != 0) {
		free(tbl);
		return NULL;
	}
	TAILQ_INIT(&tbl->locks);
	TAILQ_INIT(&tbl->waiters);
	/* Two groups may race to make it: the loser frees its copy. */
	if (!atomic_compare_exchange_strong_explicit(&ns->io_lock_tbl, &cur, tbl,
						     memory_order_acq_rel, memory_order_acquire)) {
		pthread_mutex_destroy(&tbl->mtx);
		free(tbl);
		return cur;
	}
	return tbl;
}

void nvmft_io_lock_ns_fini(struct nvmft_ns *ns)
{
	struct nvmft_io_lock_tbl *tbl = lock_tbl(ns);

	if (tbl == NULL)
		return;
	pthread_mutex_destroy(&tbl->mtx);
	free(tbl);
	atomic_store_explicit(&ns->io_lock_tbl, NULL, memory_order_relaxed);
}

/* ---- Writes --------------------------------------------------------------------------------- */

bool nvmft_io_wr_begin_slow(struct nvmft_req *req, nvmft_io_overlap_fn overlaps)
{
	struct nvmft_io_lock_tbl *tbl = lock_tbl(req->pgns->ns);
	struct nvmft_io_lock *lk;

	/*
	 * No table yet although a lock was counted: its fence cannot have
	 * reached this group, so this write is one the fence will wait for.
	 */
	if (tbl != NULL) {
		pthread_mutex_lock(&tbl->mtx);
		TAILQ_FOREACH(lk, &tbl->locks, link) {
			if (overlaps(req, lk->slba, lk->nlb)) {
				TAILQ_INSERT_TAIL(&tbl->waiters, req, link);
				pthread_mutex_unlock(&tbl->mtx);
				return false;
			}
		}
		pthread_mutex_unlock(&tbl->mtx);
	}
	nvmft_io_wr_count(req);
	return true;
}

static void fence_ack_all(struct nvmft_io_fence *f, struct nvmft_poll_group *pg)
{
	struct nvmft_io_fence *next;

	for (; f != NULL; f = next) {
		next = f->next;
		nvmft_bcast_ack(f->bc, pg, 0);
		free(f);
	}
}

void nvmft_io_wr_drained(struct nvmft_poll_group *pg, struct nvmft_pg_ns *pgns)
{
	struct nvmft_io_fence *old = pgns->io_fence_old, *waiting = pgns->io_fence_new;
	uint8_t cur = pgns->io_wr_epoch;

	pgns->io_fence_old = NULL;
	pgns->io_fence_new = NULL;
	pgns->io_draining = false;
	if (waiting != NULL) {
		if (pgns->io_wr[cur] == 0) {
			fence_ack_all(waiting, pg);
		} else {
			/* They also wait for the current epoch: it becomes the old one. */
			pgns->io_fence_old = waiting;
			pgns->io_wr_epoch = (uint8_t)(cur ^ 1);
			pgns->io_draining = true;
		}
	}
	fence_ack_all(old, pg);
}

/* ---- Fences (broadcast) --------------------------------------------------------------------- */

static struct nvmft_pg_ns *fence_pgns(struct nvmft_poll_group *pg, struct nvmft_ns *ns)
{
	struct nvmft_pg_ns *pgns = nvmft_pg_ns(nvmft_pg_subsys(pg, ns->ss->id), ns->nsid);

	return pgns != NULL && pgns->ns == ns ? pgns : NULL;
}

static void fence_run(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct nvmft_io_lock *lk = nvmft_bcast_ctx(bc);
	struct nvmft_pg_ns *pgns = fence_pgns(pg, lk->ns);
	struct nvmft_io_fence *f, **list;
	uint8_t cur;

	if (pgns == NULL) {
		nvmft_bcast_ack(bc, pg, 0);
		return;
	}
	cur = pgns->io_wr_epoch;
	if (!pgns->io_draining) {
		if (pgns->io_wr[cur] == 0) {
			nvmft_bcast_ack(bc, pg, 0);
			return;
		}
		list = &pgns->io_fence_old;
	} else {
		list = pgns->io_wr[cur] == 0 ? &pgns->io_fence_old : &pgns->io_fence_new;
	}
	f = malloc(sizeof(*f));
	if (f == NULL) {
		nvmft_bcast_ack(bc, pg, -ENOMEM);
		return;
	}
	f->bc = bc;
	f->next = *list;
	*list = f;
	if (!pgns->io_draining) {
		pgns->io_wr_epoch = (uint8_t)(cur ^ 1);
		pgns->io_draining = true;
	}
}

static bool fence_unlink(struct nvmft_io_fence **list, struct nvmft_bcast *bc)
{
	for (struct nvmft_io_fence **pp = list; *pp != NULL; pp = &(*pp)->next) {
		struct nvmft_io_fence *f = *pp;

		if (f->bc == bc) {
			*pp = f->next;
			free(f);
			return true;
		}
	}
	return false;
}

/* The deadline passed: stop waiting here (the broadcast acks -ETIMEDOUT). */
static void fence_expire(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct nvmft_io_lock *lk = nvmft_bcast_ctx(bc);
	struct nvmft_pg_ns *pgns = fence_pgns(pg, lk->ns);

	if (pgns == NULL)
		return;
	if (!fence_unlink(&pgns->io_fence_old, bc))
		fence_unlink(&pgns->io_fence_new, bc);
	nvmft_warn(&pg->tgt->log, "%s: writes to namespace %u did not finish for a fused command",
		   pg->name, lk->ns->nsid);
}

static void lock_fenced_msg(struct nvmft_msg *msg);

/* Management thread. */
static void fence_done(struct nvmft_bcast *bc, int status)
{
	struct nvmft_io_lock *lk = nvmft_bcast_ctx(bc);

	lk->status = status;
	nvmft_pg_post(lk->pg, &lk->msg, lock_fenced_msg);
}

static const struct nvmft_bcast_ops fence_ops = {
	.run = fence_run,
	.expire = fence_expire,
	.done = fence_done,
};

/* Management thread: broadcasts start only there. */
static void lock_fence_start_msg(struct nvmft_msg *msg)
{
	struct nvmft_io_lock *lk = nvmft_container_of(msg, struct nvmft_io_lock, msg);
	struct nvmft_target *tgt = lk->ns->ss->tgt;
	int rc;

	rc = nvmft_bcast_start(tgt, &fence_ops, lk, tgt->opts.drain_timeout_ms);
	if (rc < 0) {
		lk->status = rc;
		nvmft_pg_post(lk->pg, &lk->msg, lock_fenced_msg);
	}
}

/* ---- Locks ---------------------------------------------------------------------------------- */

/* Table mutex held: does an earlier lock overlap @lk? */
static bool lock_blocked(struct nvmft_io_lock_tbl *tbl, const struct nvmft_io_lock *lk)
{
	const struct nvmft_io_lock *o;

	TAILQ_FOREACH(o, &tbl->locks, link) {
		if (o == lk)
			return false;
		if (range_overlap(o->slba, o->nlb, lk->slba, lk->nlb))
			return true;
	}
	return false;
}

static void lock_granted_msg(struct nvmft_msg *msg)
{
	struct nvmft_io_lock *lk = nvmft_container_of(msg, struct nvmft_io_lock, msg);

	lk->cb(lk, 0);
}

static void wr_wake_msg(struct nvmft_msg *msg)
{
	struct nvmft_req *req = nvmft_container_of(msg, struct nvmft_req, msg);

	req->execute(req);
}

static void lock_remove(struct nvmft_io_lock *lk)
{
	struct nvmft_io_lock_tbl *tbl = lock_tbl(lk->ns);
	struct nvmft_io_lock *o;
	struct nvmft_req *req;

	pthread_mutex_lock(&tbl->mtx);
	TAILQ_REMOVE(&tbl->locks, lk, link);
	atomic_fetch_sub_explicit(&lk->ns->io_locks, 1, memory_order_relaxed);
	TAILQ_FOREACH(o, &tbl->locks, link) {
		if (o->fenced && !o->granted && !lock_blocked(tbl, o)) {
			o->granted = true;
			nvmft_pg_post(o->pg, &o->msg, lock_granted_msg);
		}
	}
	/* Every waiter looks again on its own group; those still covered queue up again. */
	while ((req = TAILQ_FIRST(&tbl->waiters)) != NULL) {
		TAILQ_REMOVE(&tbl->waiters, req, link);
		nvmft_pg_post(req->qpair->pg, &req->msg, wr_wake_msg);
	}
	pthread_mutex_unlock(&tbl->mtx);
}

/* Owner's thread: the fence finished. */
static void lock_fenced_msg(struct nvmft_msg *msg)
{
	struct nvmft_io_lock *lk = nvmft_container_of(msg, struct nvmft_io_lock, msg);
	struct nvmft_io_lock_tbl *tbl = lock_tbl(lk->ns);
	bool granted;

	if (lk->status != 0) {
		lock_remove(lk);
		lk->cb(lk, lk->status);
		return;
	}
	pthread_mutex_lock(&tbl->mtx);
	lk->fenced = true;
	granted = !lock_blocked(tbl, lk);
	lk->granted = granted;
	pthread_mutex_unlock(&tbl->mtx);
	if (granted)
		lk->cb(lk, 0);
}

int nvmft_io_lock_acquire(struct nvmft_io_lock *lk, struct nvmft_ns *ns,
			  struct nvmft_poll_group *pg, uint64_t slba, uint64_t nlb,
			  nvmft_io_lock_cb cb)
{
	struct nvmft_io_lock_tbl *tbl = lock_tbl_get(ns);

	if (tbl == NULL)
		return -ENOMEM;
	lk->ns = ns;
	lk->pg = pg;
	lk->slba = slba;
	lk->nlb = nlb;
	lk->cb = cb;
	lk->status = 0;
	lk->fenced = false;
	lk->granted = false;
	pthread_mutex_lock(&tbl->mtx);
	TAILQ_INSERT_TAIL(&tbl->locks, lk, link);
	atomic_fetch_add_explicit(&ns->io_locks, 1, memory_order_relaxed);
	pthread_mutex_unlock(&tbl->mtx);
	nvmft_target_post(ns->ss->tgt, &lk->msg, lock_fence_start_msg);
	return 0;
}

void nvmft_io_lock_release(struct nvmft_io_lock *lk)
{
	lock_remove(lk);
}
