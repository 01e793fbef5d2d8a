/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subsystem internals.  The management thread owns the object; @lock guards
 * the host, listener and controller lists and the namespace table against
 * poll-group threads, which read them at Connect and Identify time only.
 */
#ifndef NVMFT_CORE_SUBSYSTEM_H
#define NVMFT_CORE_SUBSYSTEM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <bsd/sys/queue.h>
#include <nvmft/subsystem.h>

#include "spec/spec.h"

struct nvmft_ctrlr;
struct nvmft_listener;

struct nvmft_host_entry {
	char nqn[NVMFT_NQN_MAX_LEN + 1];
	TAILQ_ENTRY(nvmft_host_entry) link;
};

struct nvmft_ss_listener {
	struct nvmft_listener *l;
	TAILQ_ENTRY(nvmft_ss_listener) link;
};

enum nvmft_ss_state {
	NVMFT_SS_ACTIVE,
	NVMFT_SS_PAUSING,
	NVMFT_SS_PAUSED,
	NVMFT_SS_RESUMING,
	NVMFT_SS_DELETING,
};

struct nvmft_subsystem {
	struct nvmft_target *tgt;
	uint32_t id; /* index in the target's table and the groups' arrays */
	enum nvmft_subtype type;
	char nqn[NVMFT_NQN_MAX_LEN + 1];
	char sn[21];
	char mn[41];
	uint32_t max_nsid;
	uint16_t min_cntlid;
	uint16_t max_cntlid;
	enum nvmft_ss_state state; /* management thread */

	/* References: the target's table holds one; Connect paths hold others. */
	uint32_t _Atomic refs;

	pthread_mutex_t lock;
	bool allow_any_host;
	TAILQ_HEAD(, nvmft_host_entry) hosts;
	TAILQ_HEAD(, nvmft_ss_listener) listeners;
	TAILQ_HEAD(, nvmft_ctrlr) ctrlrs;
	uint16_t next_cntlid;
	struct nvmft_ns **ns; /* by nsid - 1; visible to hosts when ns->visible */
	uint32_t num_ns;

	nvmft_done_fn destroy_cb; /* management thread */
	void *destroy_arg;
	struct nvmft_msg free_msg;

	TAILQ_ENTRY(nvmft_subsystem) link;
};

void nvmft_subsystem_ref(struct nvmft_subsystem *ss);
void nvmft_subsystem_unref(struct nvmft_subsystem *ss);
/* Create the discovery subsystem at target birth. */
int nvmft_subsystem_new_discovery(struct nvmft_target *tgt, const char *nqn,
				  struct nvmft_subsystem **ret);
/* Free without any message (target teardown; no poll groups exist). */
void nvmft_subsystem_free_now(struct nvmft_subsystem *ss);

/* Lock held: may @hostnqn connect? */
bool nvmft_subsystem_host_allowed_locked(const struct nvmft_subsystem *ss, const char *hostnqn);
/* Lock held: is @l one of the subsystem's listeners (always true for discovery)? */
bool nvmft_subsystem_has_listener_locked(const struct nvmft_subsystem *ss,
					 const struct nvmft_listener *l);
/*
 * Allocate a controller ID and link @ctrlr.  Return 0, -EBUSY when every
 * ID in the range is taken, -ESHUTDOWN when the subsystem is being deleted.
 * Any thread; takes @lock.
 */
int nvmft_subsystem_add_ctrlr(struct nvmft_subsystem *ss, struct nvmft_ctrlr *ctrlr);
void nvmft_subsystem_remove_ctrlr(struct nvmft_subsystem *ss, struct nvmft_ctrlr *ctrlr);
/* Find a controller by ID and take a reference, or NULL. Any thread; takes @lock. */
struct nvmft_ctrlr *nvmft_subsystem_get_ctrlr(struct nvmft_subsystem *ss, uint16_t cntlid);
/* A listener is being destroyed: drop it from this subsystem's list silently. */
void nvmft_subsystem_forget_listener(struct nvmft_subsystem *ss, struct nvmft_listener *l);
/* Tell connected discovery controllers the log changed (discovery subsystem only). */
void nvmft_subsystem_notify_discovery_change(struct nvmft_subsystem *ss);
/* Tell every controller of @ss that namespace @nsid changed, then call @cb. */
int nvmft_subsystem_notify_ns_change(struct nvmft_subsystem *ss, uint32_t nsid, nvmft_done_fn cb,
				     void *cb_arg);

#endif
