/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * DOC: subsystems
 *
 * A subsystem is a storage tenant named by an NQN.  It holds namespaces,
 * the hosts allowed to connect, the listeners it is reachable through, and
 * the controllers hosts have created with Fabrics Connect.
 *
 * Thread rules: management thread for every call here.  Changes that affect
 * connected hosts (removing a host or listener, pausing, deleting) reach the
 * poll groups as messages and complete through a callback.
 */
#ifndef NVMFT_SUBSYSTEM_H
#define NVMFT_SUBSYSTEM_H

#include <nvmft/common.h>

#ifdef __cplusplus
extern "C" {
#endif

enum nvmft_subtype {
	NVMFT_SUBTYPE_DISCOVERY = 1, /* discovery log page only */
	NVMFT_SUBTYPE_NVM = 2,       /* namespaces and I/O */
};

/**
 * struct nvmft_subsystem_opts - options for nvmft_subsystem_new()
 * @size: sizeof(struct nvmft_subsystem_opts) as the caller knows it
 * @nqn: the subsystem NQN (validated per the NVMe base specification); copied
 * @serial_number: up to 20 ASCII characters, NULL for a generated one
 * @model_number: up to 40 ASCII characters, NULL for "libnvmft"
 * @max_namespaces: highest namespace ID (1..4096)
 * @min_cntlid: lowest controller ID handed out (1..0xffef)
 * @max_cntlid: highest controller ID handed out (@min_cntlid..0xffef)
 * @allow_any_host: any host NQN may connect (otherwise only added hosts)
 *
 * Fields may only be added at the end.  Fill with nvmft_subsystem_opts_init().
 */
struct nvmft_subsystem_opts {
	size_t size;
	const char *nqn;
	const char *serial_number;
	const char *model_number;
	uint32_t max_namespaces;
	uint16_t min_cntlid;
	uint16_t max_cntlid;
	bool allow_any_host;
};

/* Fill subsystem options with defaults; fields beyond @size untouched. Any thread. */
NVMFT_API void nvmft_subsystem_opts_init(struct nvmft_subsystem_opts *opts, size_t size);

/**
 * nvmft_subsystem_new() - create an NVM subsystem
 * @tgt: the target
 * @opts: options; @opts->nqn is required
 * @ret: receives the subsystem, untouched on failure
 *
 * The subsystem is ready for connections on every poll group when the call
 * returns.  It has no listener yet: add one for hosts to reach it.
 *
 * Return: 0, -EINVAL (bad NQN or option), -EEXIST (NQN in use), -ENOSPC
 * (max_subsystems reached), -ENOMEM. Management thread.
 */
NVMFT_API int nvmft_subsystem_new(struct nvmft_target *tgt, const struct nvmft_subsystem_opts *opts,
				  struct nvmft_subsystem **ret);

/**
 * nvmft_subsystem_destroy() - disconnect every host and delete the subsystem
 * @ss: the subsystem, or NULL; not the discovery subsystem
 * @cb: called when every controller is gone and the subsystem is freed
 * @cb_arg: passed to @cb
 *
 * The subsystem disappears from lookups and the discovery log at once; its
 * namespaces are removed (their backends are released, not freed).  The
 * handle must not be used after the call.
 *
 * Return: 0, or -EINVAL for the discovery subsystem. Management thread.
 */
NVMFT_API int nvmft_subsystem_destroy(struct nvmft_subsystem *ss, nvmft_done_fn cb, void *cb_arg);

/* Iterate a target's subsystems, discovery included. Management thread. */
NVMFT_API struct nvmft_subsystem *nvmft_subsystem_get_first(struct nvmft_target *tgt);
NVMFT_API struct nvmft_subsystem *nvmft_subsystem_get_next(struct nvmft_subsystem *ss);
/* Find a subsystem by NQN, or NULL. Management thread. */
NVMFT_API struct nvmft_subsystem *nvmft_subsystem_find(struct nvmft_target *tgt, const char *nqn);

/* Identity and limits of a subsystem, as created (see &struct nvmft_subsystem_opts). */
NVMFT_API const char *nvmft_subsystem_get_nqn(const struct nvmft_subsystem *ss);
NVMFT_API enum nvmft_subtype nvmft_subsystem_get_type(const struct nvmft_subsystem *ss);
NVMFT_API const char *nvmft_subsystem_get_serial_number(const struct nvmft_subsystem *ss);
NVMFT_API const char *nvmft_subsystem_get_model_number(const struct nvmft_subsystem *ss);
NVMFT_API uint32_t nvmft_subsystem_get_max_namespaces(const struct nvmft_subsystem *ss);
NVMFT_API void nvmft_subsystem_get_cntlid_range(const struct nvmft_subsystem *ss, uint16_t *min,
						uint16_t *max);

/**
 * nvmft_subsystem_set_allow_any_host() - open or close the subsystem to any host
 * @ss: the subsystem
 * @allow: true to let any host NQN connect
 *
 * Closing does not disconnect hosts already connected.
 *
 * Return: 0. Management thread.
 */
NVMFT_API int nvmft_subsystem_set_allow_any_host(struct nvmft_subsystem *ss, bool allow);
/* Whether any host NQN may connect. Management thread. */
NVMFT_API bool nvmft_subsystem_get_allow_any_host(const struct nvmft_subsystem *ss);

/**
 * nvmft_subsystem_add_host() - allow a host NQN
 * @ss: the subsystem
 * @hostnqn: a valid NQN; copied
 *
 * Return: 0, -EINVAL (bad NQN), -EEXIST, -ENOMEM. Management thread.
 */
NVMFT_API int nvmft_subsystem_add_host(struct nvmft_subsystem *ss, const char *hostnqn);

/**
 * nvmft_subsystem_remove_host() - disallow a host NQN and disconnect it
 * @ss: the subsystem
 * @hostnqn: the host
 * @cb: called once every poll group has disconnected that host's controllers
 *      (their I/O still in a backend is released later); may be NULL
 * @cb_arg: passed to @cb
 *
 * Return: 0, or -ENOENT when the host was not in the list (then @cb is not
 * called). Management thread.
 */
NVMFT_API int nvmft_subsystem_remove_host(struct nvmft_subsystem *ss, const char *hostnqn,
					  nvmft_done_fn cb, void *cb_arg);

/* The @idx-th allowed host NQN, or NULL past the end. Management thread. */
NVMFT_API const char *nvmft_subsystem_get_host(const struct nvmft_subsystem *ss, unsigned int idx);
/* Whether @hostnqn may connect now. Management thread. */
NVMFT_API bool nvmft_subsystem_host_allowed(const struct nvmft_subsystem *ss, const char *hostnqn);

/**
 * nvmft_subsystem_add_listener() - make the subsystem reachable through a listener
 * @ss: an NVM subsystem
 * @l: a listener of the same target
 *
 * Return: 0, -EEXIST, -EINVAL (discovery subsystem, other target), -ENOMEM.
 * Management thread.
 */
NVMFT_API int nvmft_subsystem_add_listener(struct nvmft_subsystem *ss, struct nvmft_listener *l);

/**
 * nvmft_subsystem_remove_listener() - stop serving the subsystem through a listener
 * @ss: the subsystem
 * @l: the listener
 * @cb: called once every poll group has disconnected the subsystem's queue
 *      pairs that came in through @l; may be NULL
 * @cb_arg: passed to @cb
 *
 * Return: 0, or -ENOENT (then @cb is not called). Management thread.
 */
NVMFT_API int nvmft_subsystem_remove_listener(struct nvmft_subsystem *ss, struct nvmft_listener *l,
					      nvmft_done_fn cb, void *cb_arg);

/* The @idx-th listener of @ss, or NULL past the end. Management thread. */
NVMFT_API struct nvmft_listener *nvmft_subsystem_get_listener(const struct nvmft_subsystem *ss,
							       unsigned int idx);

/**
 * nvmft_subsystem_pause() - hold new I/O and wait for I/O in flight
 * @ss: the subsystem
 * @cb: called when no I/O of @ss is outstanding on any poll group
 * @cb_arg: passed to @cb
 *
 * Commands that arrive while paused wait (they are not failed) until
 * nvmft_subsystem_resume().  Admin commands and Connect keep working.  If a
 * backend I/O does not return within the drain deadline, the paused
 * requests stay outstanding and @cb gets -ETIMEDOUT.
 *
 * Return: 0, -EBUSY (already paused or pausing). Management thread.
 */
NVMFT_API int nvmft_subsystem_pause(struct nvmft_subsystem *ss, nvmft_done_fn cb, void *cb_arg);

/**
 * nvmft_subsystem_resume() - let held I/O run again
 * @ss: a paused subsystem
 * @cb: called when every poll group runs the subsystem's I/O again; may be NULL
 * @cb_arg: passed to @cb
 *
 * Return: 0, -EINVAL (not paused). Management thread.
 */
NVMFT_API int nvmft_subsystem_resume(struct nvmft_subsystem *ss, nvmft_done_fn cb, void *cb_arg);

#ifdef __cplusplus
}
#endif

#endif /* NVMFT_SUBSYSTEM_H */
