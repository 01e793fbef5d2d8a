/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Soak test: hosts that write, read back and verify while their
 * connections are cut, their controllers expire and the target restarts.
 *
 * soak.c runs the target (management on the main thread, one thread per
 * poll group) and the phases; soak_host.c is one host: a thread with an
 * admin queue and I/O queues (tests/common/tcp_host.h, no pump: the target
 * runs on its own threads), a region of blocks of its own, and the record
 * of what it may find in each block.
 *
 * The invariant, per block: it holds the last write the target
 * acknowledged, or, when a write to it was lost with its connection (sent,
 * no completion seen), either that or the lost one; never anything else.
 * A lost write may still run inside the target after the host has moved
 * on (its data may be queued behind a FIN the target has not read yet), so
 * a block with a lost write is not written again until the target has
 * been drained: at a barrier every host closes its connections and the
 * main thread waits until the target holds no queue pair (so nothing of
 * theirs is left in a backend) before it lets them go on.  The next read
 * of such a block then settles it for good.
 */
#ifndef NVMFT_SOAK_H
#define NVMFT_SOAK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SOAK_HOSTS 4
#define SOAK_IOQ 2            /* I/O queues per host (controller) */
#define SOAK_QD 8             /* commands in flight per I/O queue */
#define SOAK_MAX_NLB 32       /* blocks per command */
#define SOAK_KATO_MS 1000

/* Shared between the main thread and the hosts. */
struct soak_ctl {
	atomic_bool stop;           /* phase over: come to the last barrier */
	atomic_uint barrier;        /* generation the main thread asked for */
	atomic_uint arrived;        /* hosts waiting at it */
	atomic_uint released;       /* generation the hosts may pass */
	atomic_uint drain_epoch;    /* target drains so far: older lost writes are settled */
	atomic_uint flush_req;      /* generation: Flush everything written, then go on */
	atomic_uint flushed;        /* hosts done with the Flush of flush_req */
	atomic_uint restarts;       /* target instances replaced so far */
	atomic_uint teardowns;      /* target instances whose teardown began */
	atomic_int port;            /* where the current target listens */
	atomic_bool final;          /* the barrier being released is the last one */
	atomic_uint failed;         /* hosts that saw an invariant break or a hang */
};

/* What one host did, summed into the run's report. */
struct soak_stats {
	uint64_t writes, reads, flushes, fua_writes;
	uint64_t blocks_written, blocks_verified;
	uint64_t cut_fin, cut_rst, cut_partial, cut_admin;
	uint64_t ka_pauses, ka_expired;     /* keep-alives withheld; controller then lost */
	uint64_t closed_by_target;          /* connections the target closed under us */
	uint64_t reconnects, connect_retries;
	uint64_t lost_writes, lost_blocks;  /* completion never seen */
	uint64_t rejected_dying;            /* Command Sequence Error while the controller went */
	uint64_t lost_landed, lost_dropped; /* settled: it had landed / it had not */
	uint64_t durable_checked;           /* blocks a Flush or FUA covered, verified after restart */
	uint64_t barriers, full_verifies;
	uint64_t violations, errors;        /* invariant broken; unexpected status or hang */
};

struct soak_host_cfg {
	int id;
	struct soak_ctl *ctl;
	const char *subnqn;
	uint32_t block_size;
	uint64_t base;              /* first block of the host's region */
	uint32_t nblocks;
	bool fua;                   /* backend with a volatile cache: use Flush and FUA */
	uint32_t seed;
	int cut_every_ms;           /* mean time between cuts */
	int ka_pause_every_ms;      /* mean time between keep-alive pauses; 0: never */
	bool verbose;
};

struct soak_host;

int soak_host_start(const struct soak_host_cfg *cfg, struct soak_host **ret);
/* The host's thread has finished. */
bool soak_host_done(const struct soak_host *h);
/* Wait for the thread (after ctl->stop and the last barrier) and free; adds its counts to @sum. */
void soak_host_join(struct soak_host *h, struct soak_stats *sum);

#endif
