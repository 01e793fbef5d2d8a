/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Broadcast with a completion and a deadline (see bcast.h).
 *
 * Each broadcast snapshots the poll group list under the target lock and
 * keeps one slot per group with the two messages it may send there (run,
 * expire) and an "acked" flag, so a group is counted once no matter
 * whether it acked, expired or was freed.  The last ack posts @done to the
 * management thread; the broadcast is freed after @done returns.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/bcast.h"
#include "core/poll_group.h"
#include "core/target.h"
#include "util/compiler.h"
#include "util/time.h"

struct nvmft_bcast_slot {
	struct nvmft_bcast *bc;
	struct nvmft_poll_group *pg;
	struct nvmft_msg run_msg;
	struct nvmft_msg expire_msg;
	atomic_bool acked;
	atomic_bool expire_sent;
	/* An expire message is queued; it holds a count on the broadcast. */
	atomic_bool expire_queued;
};

struct nvmft_bcast {
	struct nvmft_target *tgt;
	const struct nvmft_bcast_ops *ops;
	void *ctx;
	uint64_t deadline_ms; /* 0 = none */
	atomic_uint pending;  /* slots not acked yet, plus one while starting */
	atomic_int status;
	struct nvmft_msg done_msg;
	uint32_t nr_slots;
	TAILQ_ENTRY(nvmft_bcast) link;
	struct nvmft_bcast_slot slots[];
};

void *nvmft_bcast_ctx(const struct nvmft_bcast *bc)
{
	return bc->ctx;
}

static void bcast_done_msg(struct nvmft_msg *msg)
{
	struct nvmft_bcast *bc = nvmft_container_of(msg, struct nvmft_bcast, done_msg);

	TAILQ_REMOVE(&bc->tgt->bcasts, bc, link);
	if (bc->ops->done != NULL)
		bc->ops->done(bc, atomic_load(&bc->status));
	free(bc);
}

static void bcast_put(struct nvmft_bcast *bc)
{
	if (atomic_fetch_sub(&bc->pending, 1) == 1)
		nvmft_target_post(bc->tgt, &bc->done_msg, bcast_done_msg);
}

static struct nvmft_bcast_slot *bcast_slot(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	for (uint32_t i = 0; i < bc->nr_slots; i++)
		if (bc->slots[i].pg == pg)
			return &bc->slots[i];
	return NULL;
}

void nvmft_bcast_ack(struct nvmft_bcast *bc, struct nvmft_poll_group *pg, int status)
{
	struct nvmft_bcast_slot *slot = bcast_slot(bc, pg);
	int zero = 0;

	if (slot == NULL || atomic_exchange(&slot->acked, true))
		return;
	if (status != 0)
		atomic_compare_exchange_strong(&bc->status, &zero, status);
	bcast_put(bc);
}

static void bcast_run_msg(struct nvmft_msg *msg)
{
	struct nvmft_bcast_slot *slot = nvmft_container_of(msg, struct nvmft_bcast_slot, run_msg);

	if (atomic_load(&slot->acked))
		return;
	slot->bc->ops->run(slot->bc, slot->pg);
}

static void bcast_expire_msg(struct nvmft_msg *msg)
{
	struct nvmft_bcast_slot *slot = nvmft_container_of(msg, struct nvmft_bcast_slot, expire_msg);
	struct nvmft_bcast *bc = slot->bc;

	if (!atomic_load(&slot->acked)) {
		if (bc->ops->expire != NULL)
			bc->ops->expire(bc, slot->pg);
		/* An expire method that did not ack still may not hold the caller forever. */
		nvmft_bcast_ack(bc, slot->pg, -ETIMEDOUT);
	}
	/* The broadcast (and this slot) may be freed once this count is gone. */
	if (atomic_exchange(&slot->expire_queued, false))
		bcast_put(bc);
}

int nvmft_bcast_start(struct nvmft_target *tgt, const struct nvmft_bcast_ops *ops, void *ctx,
		      uint32_t deadline_ms)
{
	struct nvmft_poll_group *pg;
	struct nvmft_bcast *bc;
	uint32_t n = 0;

	pthread_mutex_lock(&tgt->lock);
	bc = calloc(1, sizeof(*bc) + sizeof(bc->slots[0]) * tgt->num_pgs);
	if (bc == NULL) {
		pthread_mutex_unlock(&tgt->lock);
		return -ENOMEM;
	}
	bc->tgt = tgt;
	bc->ops = ops;
	bc->ctx = ctx;
	bc->deadline_ms = deadline_ms ? nvmft_now_ms() + deadline_ms : 0;
	TAILQ_FOREACH(pg, &tgt->pgs, link) {
		struct nvmft_bcast_slot *slot = &bc->slots[n++];

		slot->bc = bc;
		slot->pg = pg;
	}
	bc->nr_slots = n;
	/* One extra count so that acks racing with the posting below cannot finish early. */
	atomic_store(&bc->pending, n + 1);
	TAILQ_INSERT_TAIL(&tgt->bcasts, bc, link);
	for (uint32_t i = 0; i < n; i++)
		nvmft_pg_post(bc->slots[i].pg, &bc->slots[i].run_msg, bcast_run_msg);
	pthread_mutex_unlock(&tgt->lock);
	bcast_put(bc);
	return 0;
}

int nvmft_bcast_check_deadlines(struct nvmft_target *tgt, uint64_t now_ms)
{
	struct nvmft_bcast *bc;
	int n = 0;

	TAILQ_FOREACH(bc, &tgt->bcasts, link) {
		if (bc->deadline_ms == 0 || now_ms < bc->deadline_ms)
			continue;
		for (uint32_t i = 0; i < bc->nr_slots; i++) {
			struct nvmft_bcast_slot *slot = &bc->slots[i];

			if (atomic_load(&slot->acked) || atomic_exchange(&slot->expire_sent, true))
				continue;
			nvmft_warn(&tgt->log, "%s: operation did not finish in time, giving up waiting",
				   slot->pg->name);
			atomic_fetch_add(&bc->pending, 1);
			atomic_store(&slot->expire_queued, true);
			nvmft_pg_post(slot->pg, &slot->expire_msg, bcast_expire_msg);
			n++;
		}
		bc->deadline_ms = 0;
	}
	return n;
}

int64_t nvmft_bcast_next_deadline(struct nvmft_target *tgt, uint64_t now_ms)
{
	struct nvmft_bcast *bc;
	int64_t best = -1;

	TAILQ_FOREACH(bc, &tgt->bcasts, link) {
		int64_t d;

		if (bc->deadline_ms == 0)
			continue;
		d = bc->deadline_ms > now_ms ? (int64_t)(bc->deadline_ms - now_ms) : 0;
		if (best < 0 || d < best)
			best = d;
	}
	return best;
}

void nvmft_bcast_forget_pg(struct nvmft_target *tgt, struct nvmft_poll_group *pg)
{
	struct nvmft_bcast *bc;

	/* Management thread: the list cannot change under us. */
	TAILQ_FOREACH(bc, &tgt->bcasts, link) {
		struct nvmft_bcast_slot *slot = bcast_slot(bc, pg);

		if (slot == NULL)
			continue;
		/* Its queued messages die with the group: settle their counts here. */
		if (atomic_exchange(&slot->expire_queued, false))
			bcast_put(bc);
		nvmft_bcast_ack(bc, pg, 0);
	}
}
