/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * DOC: target
 *
 * The target is the root of every other object: it owns transports (and
 * their listeners), subsystems (and their namespaces) and knows every poll
 * group.  Several targets may live in one process; they share nothing.
 *
 * Thread rules: every nvmft_target_*() call, and every management call on
 * the objects below it (transports, listeners, subsystems, namespaces,
 * backends), is made from the target's management thread: the one thread
 * that calls nvmft_target_poll().  Asynchronous management calls deliver
 * their &nvmft_done_fn from inside nvmft_target_poll().
 */
#ifndef NVMFT_TARGET_H
#define NVMFT_TARGET_H

#include <nvmft/common.h>
#include <nvmft/log.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * typedef nvmft_assign_fn - choose the poll group for a new connection
 * @arg: &struct nvmft_target_opts.assign_arg
 * @qpair: the accepted, not yet connected queue pair; only the qpair
 *         getters that describe addresses may be used on it
 *
 * Called on the management thread for each accepted connection.
 *
 * Return: a poll group of this target, or NULL for the default round-robin.
 */
typedef struct nvmft_poll_group *(*nvmft_assign_fn)(void *arg, const struct nvmft_qpair *qpair);

/**
 * struct nvmft_target_opts - options for nvmft_target_new()
 * @size: sizeof(struct nvmft_target_opts) as the caller knows it
 * @max_subsystems: upper bound on subsystems, including discovery (1..65535)
 * @log_fn: log callback, NULL for silence
 * @log_arg: passed to @log_fn
 * @log_level: messages above this level are not formatted at all
 * @assign_fn: chooses a poll group for each new connection, NULL for
 *             round-robin
 * @assign_arg: passed to @assign_fn
 * @discovery_nqn: NQN of the discovery subsystem, NULL for the well-known
 *                 "nqn.2014-08.org.nvmexpress.discovery"
 * @max_connections: accepted connections alive at once across all
 *                   transports; at the limit a new connection replaces
 *                   the oldest one that has not completed Fabrics Connect
 *                   (which is closed), or is closed at accept when every
 *                   connection has
 * @drain_timeout_ms: how long pausing a subsystem or removing a namespace
 *                    waits for backend I/O in flight before giving up
 *                    (the operation then completes with -ETIMEDOUT)
 * @connect_timeout_ms: a connection that has not completed Fabrics Connect
 *                      this long after it was accepted is closed, so idle
 *                      or half-open peers cannot hold connection slots
 *
 * Fields may only be added at the end.  Fill with nvmft_target_opts_init().
 */
struct nvmft_target_opts {
	size_t size;
	uint32_t max_subsystems;
	nvmft_log_fn log_fn;
	void *log_arg;
	enum nvmft_log_level log_level;
	nvmft_assign_fn assign_fn;
	void *assign_arg;
	const char *discovery_nqn;
	uint32_t max_connections;
	uint32_t drain_timeout_ms;
	uint32_t connect_timeout_ms;
};

/**
 * nvmft_target_opts_init() - fill target options with defaults
 * @opts: options to fill
 * @size: sizeof(*opts) as the caller knows it
 *
 * Fields beyond @size are not touched.  Any thread.
 */
NVMFT_API void nvmft_target_opts_init(struct nvmft_target_opts *opts, size_t size);

/**
 * nvmft_target_new() - create a target
 * @opts: options, NULL for defaults; copied, not kept
 * @ret: receives the target on success, untouched on failure
 *
 * The calling thread becomes the target's management thread.  The target
 * creates its discovery subsystem.
 *
 * Return: 0, -EINVAL for bad options, -ENOMEM, or another negative errno
 * from the kernel (epoll, eventfd).
 */
NVMFT_API int nvmft_target_new(const struct nvmft_target_opts *opts, struct nvmft_target **ret);

/**
 * nvmft_target_free() - destroy a target and everything it owns
 * @tgt: the target, or NULL
 *
 * Every poll group must have been freed first (nvmft_poll_group_free()),
 * so nothing is in flight; subsystems, namespaces, listeners and transports
 * are then released synchronously.  Backends stay with the application.
 * If poll groups remain, the call logs an error and returns without freeing.
 * Management thread.
 */
NVMFT_API void nvmft_target_free(struct nvmft_target *tgt);

/**
 * nvmft_target_poll() - do the target's management work
 * @tgt: the target
 *
 * Accepts new connections and hands them to poll groups, runs messages sent
 * to the management thread (completions of asynchronous calls), and checks
 * deadlines.  Never blocks.
 *
 * Return: the number of work items done (0 when idle) or a negative errno.
 * Management thread.
 */
NVMFT_API int nvmft_target_poll(struct nvmft_target *tgt);

/**
 * nvmft_target_get_fd() - file descriptor that becomes readable when
 *                         nvmft_target_poll() has work
 * @tgt: the target
 *
 * An epoll descriptor owned by the target: add it to the application's own
 * loop for EPOLLIN, never close it.  Combine with
 * nvmft_target_get_timeout_ms() for deadlines.
 *
 * Return: the descriptor. Any thread.
 */
NVMFT_API int nvmft_target_get_fd(const struct nvmft_target *tgt);

/**
 * nvmft_target_get_timeout_ms() - how long the management thread may sleep
 * @tgt: the target
 *
 * Return: milliseconds until the next deadline, or -1 for none.
 * Management thread.
 */
NVMFT_API int nvmft_target_get_timeout_ms(struct nvmft_target *tgt);

/**
 * nvmft_target_get_discovery_subsystem() - the target's discovery subsystem
 * @tgt: the target
 *
 * The discovery subsystem is reachable through every listener, allows any
 * host and has no namespaces.  It lives as long as the target.
 *
 * Return: the subsystem. Management thread.
 */
NVMFT_API struct nvmft_subsystem *nvmft_target_get_discovery_subsystem(struct nvmft_target *tgt);

#ifdef __cplusplus
}
#endif

#endif /* NVMFT_TARGET_H */
