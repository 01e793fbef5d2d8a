/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One plan entry made real on the running target: the library calls
 * behind the JSON-RPC methods and load_config.  Each function checks what
 * it needs of the running target first and returns -errno with a message
 * in @err, having changed nothing, when it cannot be done.  Management
 * thread.
 */
#ifndef NVMFT_TGT_APPLY_H
#define NVMFT_TGT_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "state.h"

/*
 * Waiting for several asynchronous steps at once: the join starts with one
 * reference (its creator's); apply_join_add() takes one per step, whose
 * nvmft_done_fn is apply_join_done(); the creator drops its own with
 * apply_join_done(j, 0).  @cb runs once, when the last is dropped, with
 * the first error.  It may run before the creator's last call returns.
 */
struct apply_join;
struct apply_join *apply_join_new(nvmft_done_fn cb, void *arg);
void apply_join_add(struct apply_join *j);
void apply_join_done(void *arg, int status);

/*
 * Create transport @trtype: library defaults, then @cfg's values (may be
 * NULL), then the command line's.  -EPROTONOSUPPORT when not built in,
 * -EEXIST, -EINVAL (options), -ENOMEM.
 */
int apply_transport(struct app_state *st, enum nvmft_trtype trtype,
		    const struct plan_transport *cfg, struct nvmft_transport **ret, char *err,
		    size_t errlen);

/* Create an NVM subsystem; max_namespaces 0 means PLAN_DEFAULT_MAX_NS. */
int apply_subsys(struct app_state *st, const struct plan_subsys *s, struct nvmft_subsystem **ret,
		 char *err, size_t errlen);

/*
 * Attach @n's bdev to its subsystem: -ENOENT (no such subsystem), -ENODEV
 * (no such bdev), -EBUSY (the bdev backs a namespace already), or
 * nvmft_ns_add()'s error.  On success @cb follows once every poll group
 * can do I/O to it.  Like SPDK, a namespace without a UUID of its own
 * reports its bdev's.
 */
int apply_ns(struct app_state *st, const struct plan_ns *n, nvmft_done_fn cb, void *arg,
	     struct nvmft_ns **ret, char *err, size_t errlen);

/*
 * Make @l's subsystem reachable through its address (for the discovery
 * NQN: keep the address open for discovery), listening first unless the
 * transport already listens there.  -ENODEV (no such transport), -ENOENT
 * (no such subsystem), -EEXIST (already so), or the listener's error.
 * *@created tells whether a new listener was opened.
 */
int apply_listener(struct app_state *st, const struct plan_listener *l, struct nvmft_listener **ret,
		   bool *created, char *err, size_t errlen);

/*
 * Undo a listener attachment: detach @l from @ss (NULL: drop discovery's
 * hold) and stop listening when nothing uses @l any more.  @cb always
 * runs, once both have finished (possibly before the call returns).
 */
void apply_unlisten(struct app_state *st, struct nvmft_subsystem *ss, struct nvmft_listener *l,
		    nvmft_done_fn cb, void *arg);

/* Stop listening on each of @ls nothing uses any more; @cb once done. */
void apply_close_unused(struct app_state *st, struct nvmft_listener *const *ls, size_t n,
			nvmft_done_fn cb, void *arg);

/* The listener of @l's transport at @l's address, or NULL. */
struct nvmft_listener *apply_find_listener(struct app_state *st, const struct plan_listener *l);

#endif /* NVMFT_TGT_APPLY_H */
