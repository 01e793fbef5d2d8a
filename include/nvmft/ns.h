/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * DOC: namespaces
 *
 * A namespace is one block device of a subsystem, backed by a backend.
 * Adding or removing one changes what hosts see: every poll group opens (or
 * quiesces and closes) its channel to the backend first, then connected
 * controllers get a Namespace Attribute Changed asynchronous event.
 *
 * Thread rules: management thread for every call here.
 */
#ifndef NVMFT_NS_H
#define NVMFT_NS_H

#include <nvmft/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct nvmft_ns_opts - options for nvmft_ns_add()
 * @size: sizeof(struct nvmft_ns_opts) as the caller knows it
 * @nsid: namespace ID, 0 for the lowest free one
 * @uuid: namespace UUID; all zero to use the backend's, or to generate one
 * @nguid: namespace globally unique identifier; all zero for the backend's
 * @eui64: IEEE extended unique identifier; all zero for the backend's
 * @read_only: reject writes with Namespace Is Write Protected
 *
 * Fields may only be added at the end.  Fill with nvmft_ns_opts_init().
 */
struct nvmft_ns_opts {
	size_t size;
	uint32_t nsid;
	uint8_t uuid[16];
	uint8_t nguid[16];
	uint8_t eui64[8];
	bool read_only;
};

/* Fill namespace options with defaults; fields beyond @size untouched. Any thread. */
NVMFT_API void nvmft_ns_opts_init(struct nvmft_ns_opts *opts, size_t size);

/**
 * nvmft_ns_add() - attach a backend to a subsystem as a namespace
 * @ss: an NVM subsystem
 * @be: the backend; it may back only one namespace at a time
 * @opts: options, NULL for defaults
 * @cb: called once every poll group can do I/O to the namespace and hosts
 *      were told; may be NULL
 * @cb_arg: passed to @cb
 * @ret: receives the namespace (usable for getters and removal at once),
 *       untouched on failure
 *
 * Return: 0, -EINVAL (bad NSID, discovery subsystem), -EEXIST (NSID in
 * use), -EBUSY (backend already attached), -ENOSPC, -ENOMEM.
 * Management thread.
 */
NVMFT_API int nvmft_ns_add(struct nvmft_subsystem *ss, struct nvmft_backend *be,
			   const struct nvmft_ns_opts *opts, nvmft_done_fn cb, void *cb_arg,
			   struct nvmft_ns **ret);

/**
 * nvmft_ns_remove() - detach a namespace
 * @ns: the namespace, or NULL
 * @cb: called when the namespace is gone from every poll group and its
 *      backend is free to reuse or destroy; may be NULL
 * @cb_arg: passed to @cb
 *
 * New commands to the namespace fail at once with Invalid Namespace; I/O in
 * flight completes (or fails when the backend does not return within the
 * drain deadline, @cb then gets -ETIMEDOUT).  Hosts get the AEN.  The
 * handle must not be used after the call.  Management thread.
 */
NVMFT_API void nvmft_ns_remove(struct nvmft_ns *ns, nvmft_done_fn cb, void *cb_arg);

/* Iterate a subsystem's namespaces in NSID order. Management thread. */
NVMFT_API struct nvmft_ns *nvmft_ns_get_first(struct nvmft_subsystem *ss);
NVMFT_API struct nvmft_ns *nvmft_ns_get_next(struct nvmft_ns *ns);
/* Find a namespace by NSID, or NULL. Management thread. */
NVMFT_API struct nvmft_ns *nvmft_ns_find(struct nvmft_subsystem *ss, uint32_t nsid);

/* The namespace's ID, its backend and its subsystem. */
NVMFT_API uint32_t nvmft_ns_get_nsid(const struct nvmft_ns *ns);
NVMFT_API struct nvmft_backend *nvmft_ns_get_backend(const struct nvmft_ns *ns);
NVMFT_API struct nvmft_subsystem *nvmft_ns_get_subsystem(const struct nvmft_ns *ns);
/* Copy the identifiers the namespace reports (16, 16 and 8 bytes). */
NVMFT_API void nvmft_ns_get_uuid(const struct nvmft_ns *ns, uint8_t uuid[16]);
NVMFT_API void nvmft_ns_get_nguid(const struct nvmft_ns *ns, uint8_t nguid[16]);
NVMFT_API void nvmft_ns_get_eui64(const struct nvmft_ns *ns, uint8_t eui64[8]);

#ifdef __cplusplus
}
#endif

#endif /* NVMFT_NS_H */
