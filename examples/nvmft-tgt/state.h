/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What nvmft-tgt keeps about the running target beyond the library's own
 * objects, once start-up is over: the bdevs (backends belong to the
 * application, so their names, kinds and creation parameters live here),
 * the listeners the discovery subsystem keeps open by itself, and the
 * settings JSON-RPC calls and save_config need.  Everything else
 * (subsystems, namespaces, hosts, listeners of subsystems, transports) is
 * read back from the library through its introspection calls, so there is
 * one truth.  Management thread only.
 */
#ifndef NVMFT_TGT_STATE_H
#define NVMFT_TGT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <nvmft/nvmft.h>

#include "app.h"
#include "plan.h"
#include "setup.h"

/* One bdev: a backend with a name, as SPDK's bdev layer would have it. */
struct app_bdev {
	TAILQ_ENTRY(app_bdev) link;
	char *name;
	enum plan_bdev_kind kind;
	bool fault; /* the fault-injection wrapper of --ns fault:... */
	uint64_t num_blocks;
	uint32_t block_size;
	char *filename; /* PLAN_BDEV_FILE */
	uint8_t uuid[16];
	struct nvmft_backend *be;
};

struct app_state {
	struct nvmft_target *tgt;
	const struct app_logger *log;
	/* The command line's transport options, applied over every transport's. */
	struct plan_transport tr_override;
	uint32_t max_subsystems;
	TAILQ_HEAD(, app_bdev) bdevs;
	unsigned int malloc_seq; /* the N of SPDK's default bdev names, "MallocN" */
	/* Listeners kept open for discovery alone (nvmf_subsystem_add_listener on its NQN). */
	struct nvmft_listener **held;
	size_t n_held;
	size_t cap_held;
	/* Shutdown has begun: asynchronous completions only tidy up. */
	bool stopping;
};

/* Empty state; state_adopt() fills it from start-up. */
void state_init(struct app_state *st, const struct app_logger *log);

/*
 * Take over what setup built: the backends (at->backends is emptied, so
 * setup_free_backends() leaves them alone), the target's settings, and, as
 * held by discovery, every listener no subsystem uses.  Return 0 or -ENOMEM.
 */
int state_adopt(struct app_state *st, struct app_target *at);

/* Shutdown begins: fault-injection bdevs let go of hung requests (see setup.h). */
void state_stop(struct app_state *st);

/* Free the backends; call after nvmft_target_free(). */
void state_free(struct app_state *st);

/* Give every bdev of @plan without a UUID a random one, as SPDK's bdev layer does. */
int state_fill_uuids(struct plan *plan);

/* A random version 4 UUID. */
int state_random_uuid(uint8_t uuid[16]);

/* "8-4-4-4-12" lower-case text of @uuid into @buf (37 bytes). */
void state_uuid_str(const uint8_t uuid[16], char buf[37]);

/* ---- bdevs (bdevs.c) ------------------------------------------------------------ */

/* By name, or by its UUID (SPDK's alias); NULL when none. */
struct app_bdev *bdev_find(struct app_state *st, const char *name);

/*
 * Create the backend @b describes (RAM, null or file; not fault injection)
 * and register it under @b->name, with @b->uuid or a random one.
 * Return 0, -EEXIST (name or UUID taken), -EINVAL (geometry), or the
 * backend's -errno; @err says what failed.
 */
int bdev_create(struct app_state *st, const struct plan_bdev *b, struct app_bdev **ret, char *err,
		size_t errlen);

/* Free an unclaimed bdev's backend and forget it.  0, or -EBUSY (still claimed). */
int bdev_destroy(struct app_state *st, struct app_bdev *b);

/* "Malloc disk", "Null disk", "URING bdev", as SPDK names its products. */
const char *bdev_product_name(const struct app_bdev *b);

/* ---- listeners -------------------------------------------------------------------- */

/* Whether an NVM subsystem or discovery uses @l (else nothing should keep it open). */
bool state_listener_used(struct app_state *st, const struct nvmft_listener *l);
bool state_held(const struct app_state *st, const struct nvmft_listener *l);
int state_hold(struct app_state *st, struct nvmft_listener *l);
/* Drop the hold; false when @l was not held. */
bool state_unhold(struct app_state *st, const struct nvmft_listener *l);

/* The transport of @name ("TCP", "RDMA", "VFIOUSER", "vfio-user", any case); 0 or -EINVAL. */
int state_parse_trtype(const char *name, enum nvmft_trtype *out);

#endif /* NVMFT_TGT_STATE_H */
