/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * DOC: transports and listeners
 *
 * A transport is a road into the target (TCP, RDMA, vfio-user); a listener
 * is one doorway on it (an address and port, or a socket path).  A
 * subsystem is reachable through the listeners added to it with
 * nvmft_subsystem_add_listener(); the discovery subsystem through all.
 *
 * Thread rules: management thread for every call here.  Getters return
 * values that stay valid until the object is destroyed.
 */
#ifndef NVMFT_TRANSPORT_H
#define NVMFT_TRANSPORT_H

#include <nvmft/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Transport types; RDMA and TCP use the TRTYPE codes of the discovery log. */
enum nvmft_trtype {
	NVMFT_TRTYPE_RDMA = 1,
	NVMFT_TRTYPE_TCP = 3,
	NVMFT_TRTYPE_VFIOUSER = 1024,
};

/* Address families; IPv4/IPv6 use the ADRFAM codes of the discovery log. */
enum nvmft_adrfam {
	NVMFT_ADRFAM_IPV4 = 1,
	NVMFT_ADRFAM_IPV6 = 2,
	NVMFT_ADRFAM_INTRA_HOST = 254,
};

/* Digests a transport may agree to (TCP). */
enum {
	NVMFT_DIGEST_HEADER = 1u << 0,
	NVMFT_DIGEST_DATA = 1u << 1,
};

/**
 * struct nvmft_transport_opts - options for nvmft_transport_new()
 * @size: sizeof(struct nvmft_transport_opts) as the caller knows it
 * @max_queue_depth: largest I/O queue a host may create (entries, 2..65536)
 * @max_aq_depth: largest admin queue (entries, 32..4096)
 * @max_qpairs_per_ctrlr: queue pairs per controller, admin included (2..65535)
 * @in_capsule_data_size: bytes of write data a command capsule may carry
 *                        (0 disables in-capsule data; at most 65536)
 * @max_io_size: largest transfer of one command (bytes, a power of two,
 *               4096..8 MiB); sets MDTS
 * @buf_pool_bytes: upper bound of data buffer memory per poll group;
 *                  requests wait in order when it is reached
 * @digests: NVMFT_DIGEST_* the transport agrees to when a host asks (TCP)
 * @c2h_success: let the last C2HData PDU stand in for the response (TCP)
 * @max_h2c_data: largest H2CData PDU payload the host may send (TCP,
 *                at least 4096)
 * @max_connections: connections this transport keeps open at once
 * @max_qpair_buf_bytes: data buffer memory one queue pair may hold at once;
 *                       its further requests wait for its own buffers, so a
 *                       host that stops reading cannot take a whole pool
 *                       (0: a quarter of @buf_pool_bytes)
 * @stall_timeout_ms: a connection whose responses have made no progress
 *                    this long (the host stopped reading) is closed
 * @reserved0: padding; keep 0
 * @max_srq_depth: receive buffers of each poll group's shared receive queue
 *                 (RDMA, 16..65536, default 4096, capped by the device)
 * @no_srq: give every queue pair its own receive queue instead (RDMA)
 * @reserved1: padding; keep 0
 * @allow_unsealed_mem: take client memory (DMA_MAP) in files that are not
 *                      sealed against shrinking (vfio-user).  Off by default:
 *                      a client that shrinks such a file while it is mapped
 *                      makes this process die of SIGBUS, so set it only for
 *                      clients as trusted as the process itself
 *                      (doc/vfio-user.md)
 * @reserved2: padding; keep 0
 * @tcp_congestion: congestion control the TCP transport sets on every
 *                  connection it accepts (TCP_CONGESTION), such as "cubic"
 *                  or "reno"; empty (the default) leaves the system's
 *                  (net.ipv4.tcp_congestion_control).  Chosen per target
 *                  because it decides whether the kernel paces completions
 *                  (BBR does; doc/performance.md measures what that cost
 *                  on loopback).
 *                  nvmft_transport_new() fails
 *                  with -EINVAL when it is not NUL-terminated, -ENOENT when
 *                  the kernel has no such algorithm and -EPERM when the
 *                  process may not use it
 *
 * Fields may only be added at the end.  Fill with nvmft_transport_opts_init().
 */
struct nvmft_transport_opts {
	size_t size;
	uint32_t max_queue_depth;
	uint32_t max_aq_depth;
	uint32_t max_qpairs_per_ctrlr;
	uint32_t in_capsule_data_size;
	uint32_t max_io_size;
	uint64_t buf_pool_bytes;
	uint32_t digests;
	bool c2h_success;
	uint32_t max_h2c_data;
	uint32_t max_connections;
	uint64_t max_qpair_buf_bytes;
	uint32_t stall_timeout_ms;
	uint32_t reserved0;
	uint32_t max_srq_depth;
	bool no_srq;
	uint8_t reserved1[3];
	bool allow_unsealed_mem;
	uint8_t reserved2[7];
	char tcp_congestion[16];
};

/**
 * nvmft_transport_opts_init() - defaults for a transport type
 * @trtype: the transport type the options are for
 * @opts: options to fill
 * @size: sizeof(*opts) as the caller knows it
 *
 * Return: 0, or -EPROTONOSUPPORT when the library was built without
 * @trtype (the options are still filled with generic defaults). Any thread.
 */
NVMFT_API int nvmft_transport_opts_init(enum nvmft_trtype trtype,
					struct nvmft_transport_opts *opts, size_t size);

/**
 * nvmft_transport_new() - create a transport on a target
 * @tgt: the target
 * @trtype: transport type; one transport per type per target
 * @opts: options, NULL for defaults; copied
 * @ret: receives the transport, untouched on failure
 *
 * Existing and future poll groups get the transport's per-group state.
 *
 * Return: 0, -EEXIST (type already created), -EPROTONOSUPPORT (not built
 * in), -EINVAL (bad options), -ENOMEM. Management thread.
 */
NVMFT_API int nvmft_transport_new(struct nvmft_target *tgt, enum nvmft_trtype trtype,
				  const struct nvmft_transport_opts *opts,
				  struct nvmft_transport **ret);

/**
 * nvmft_transport_get_first() - iterate a target's transports
 * @tgt: the target
 *
 * Return: the first transport or NULL. Management thread.
 */
NVMFT_API struct nvmft_transport *nvmft_transport_get_first(struct nvmft_target *tgt);
/* The transport after @tr, or NULL. Management thread. */
NVMFT_API struct nvmft_transport *nvmft_transport_get_next(struct nvmft_transport *tr);
/* Find a target's transport by type, or NULL. Management thread. */
NVMFT_API struct nvmft_transport *nvmft_transport_find(struct nvmft_target *tgt,
						       enum nvmft_trtype trtype);
/* The transport's type. Management thread. */
NVMFT_API enum nvmft_trtype nvmft_transport_get_type(const struct nvmft_transport *tr);
/* "TCP", "RDMA" or "VFIOUSER", as SPDK spells them. Any thread. */
NVMFT_API const char *nvmft_trtype_name(enum nvmft_trtype trtype);

/**
 * nvmft_transport_get_opts() - the options a transport runs with
 * @tr: the transport
 * @opts: receives the options
 * @size: sizeof(*opts) as the caller knows it
 *
 * Management thread.
 */
NVMFT_API void nvmft_transport_get_opts(const struct nvmft_transport *tr,
					struct nvmft_transport_opts *opts, size_t size);

/**
 * struct nvmft_listen_opts - where a listener listens
 * @size: sizeof(struct nvmft_listen_opts) as the caller knows it
 * @adrfam: address family
 * @traddr: IP address (TCP, RDMA) or directory path (vfio-user); copied
 * @trsvcid: port number as a string (TCP, RDMA); NULL for vfio-user
 *
 * Fields may only be added at the end.
 */
struct nvmft_listen_opts {
	size_t size;
	enum nvmft_adrfam adrfam;
	const char *traddr;
	const char *trsvcid;
};

/**
 * nvmft_listener_new() - start listening on a transport
 * @tr: the transport
 * @opts: the address; copied
 * @ret: receives the listener, untouched on failure
 *
 * The listener accepts connections from now on (they are served only for
 * subsystems that have the listener, and for discovery).  Listening on an
 * address that is already a listener of @tr returns -EEXIST.
 *
 * Return: 0 or a negative errno (-EADDRINUSE, -EADDRNOTAVAIL, -EINVAL...).
 * Management thread.
 */
NVMFT_API int nvmft_listener_new(struct nvmft_transport *tr, const struct nvmft_listen_opts *opts,
				 struct nvmft_listener **ret);

/**
 * nvmft_listener_destroy() - stop listening and drop connections made through it
 * @l: the listener, or NULL
 * @cb: called once every poll group has disconnected the queue pairs that came
 *      in through @l; may be NULL
 * @cb_arg: passed to @cb
 *
 * The listener is removed from every subsystem at once and the discovery
 * log changes; its handle must not be used after the call.
 * Management thread.
 */
NVMFT_API void nvmft_listener_destroy(struct nvmft_listener *l, nvmft_done_fn cb, void *cb_arg);

/* Iterate a transport's listeners. Management thread. */
NVMFT_API struct nvmft_listener *nvmft_listener_get_first(struct nvmft_transport *tr);
NVMFT_API struct nvmft_listener *nvmft_listener_get_next(struct nvmft_listener *l);
/* Find a listener of @tr by address, or NULL. Management thread. */
NVMFT_API struct nvmft_listener *nvmft_listener_find(struct nvmft_transport *tr,
						     const char *traddr, const char *trsvcid);
NVMFT_API struct nvmft_transport *nvmft_listener_get_transport(const struct nvmft_listener *l);
NVMFT_API enum nvmft_adrfam nvmft_listener_get_adrfam(const struct nvmft_listener *l);
NVMFT_API const char *nvmft_listener_get_traddr(const struct nvmft_listener *l);
/* The port actually bound (useful after listening on port "0"). */
NVMFT_API const char *nvmft_listener_get_trsvcid(const struct nvmft_listener *l);

#ifdef __cplusplus
}
#endif

#endif /* NVMFT_TRANSPORT_H */
