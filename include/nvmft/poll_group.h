/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * DOC: poll groups
 *
 * A poll group is a CPU-local worker.  The application creates it on the
 * management thread and then drives it from one thread of its own with
 * nvmft_poll_group_poll(), either busy-polling or sleeping on
 * nvmft_poll_group_get_fd() between polls.  Everything of the queue pairs
 * the group serves, and of the backend channels it opened, happens on that
 * thread.  The library never starts a thread.
 *
 * Life: nvmft_poll_group_new() (management thread) → polls (group thread)
 * → nvmft_poll_group_stop() and more polls until its callback (group thread)
 * → nvmft_poll_group_free() (management thread, once the group's thread
 * has stopped polling it).
 */
#ifndef NVMFT_POLL_GROUP_H
#define NVMFT_POLL_GROUP_H

#include <nvmft/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct nvmft_poll_group_opts - options for nvmft_poll_group_new()
 * @size: sizeof(struct nvmft_poll_group_opts) as the caller knows it
 * @name: for logs and statistics; copied, NULL for "pgN"
 * @busy_poll: the application polls this group without ever sleeping on
 *             its descriptor (it gives the group a core).  The group may
 *             then read a connection that is all it hears from without
 *             the descriptor watching it, which spares the kernel a
 *             wakeup on every packet that connection receives (on
 *             loopback a third of a microsecond of each QD1 round trip);
 *             so such a group's descriptor, and nvmft_poll_group_wait(),
 *             may miss that connection's input.  Default false.
 *
 * Fields may only be added at the end.  Fill with nvmft_poll_group_opts_init().
 */
struct nvmft_poll_group_opts {
	size_t size;
	const char *name;
	bool busy_poll;
};

/* Fill poll group options with defaults; fields beyond @size untouched. Any thread. */
NVMFT_API void nvmft_poll_group_opts_init(struct nvmft_poll_group_opts *opts, size_t size);

/**
 * nvmft_poll_group_new() - create a poll group
 * @tgt: the target
 * @opts: options, NULL for defaults
 * @ret: receives the group, untouched on failure
 *
 * The group is eligible for new connections at once.
 *
 * Return: 0, -ENOMEM, or a negative errno from epoll/eventfd/timerfd.
 * Management thread.
 */
NVMFT_API int nvmft_poll_group_new(struct nvmft_target *tgt, const struct nvmft_poll_group_opts *opts,
				   struct nvmft_poll_group **ret);

/**
 * nvmft_poll_group_poll() - do the group's pending work, never blocking
 * @pg: the group
 * @budget: rough upper bound of requests to process per transport; 0 for
 *          the default (64)
 *
 * Runs messages from other threads, reads and writes sockets, submits to
 * and reaps from backends, and checks keep-alive and drain deadlines.
 *
 * Return: the amount of work done (0 when idle), -ESHUTDOWN once the group
 * is stopped, or another negative errno.  Group thread.
 */
NVMFT_API int nvmft_poll_group_poll(struct nvmft_poll_group *pg, unsigned int budget);

/**
 * nvmft_poll_group_get_fd() - descriptor that is readable when the group has work
 * @pg: the group
 *
 * An epoll descriptor owned by the group (messages, sockets, backend
 * completion fds, and a timer for the nearest deadline are in it): wait for
 * EPOLLIN on it, then call nvmft_poll_group_poll().  Never close it.
 *
 * Return: the descriptor. Any thread.
 */
NVMFT_API int nvmft_poll_group_get_fd(const struct nvmft_poll_group *pg);

/**
 * nvmft_poll_group_get_timeout_ms() - how long the group may sleep
 * @pg: the group
 *
 * Return: milliseconds until the next deadline, -1 for none, 0 when work is
 * already pending (call nvmft_poll_group_poll() again at once).  Group thread.
 */
NVMFT_API int nvmft_poll_group_get_timeout_ms(struct nvmft_poll_group *pg);

/**
 * nvmft_poll_group_wait() - sleep until the group has work, then poll it
 * @pg: the group
 * @timeout_ms: longest sleep, -1 for no limit beyond the group's deadlines
 *
 * A convenience for applications with no event loop of their own: epoll_wait
 * on the group's descriptor (bounded by its deadlines), then
 * nvmft_poll_group_poll().
 *
 * Return: as nvmft_poll_group_poll(). Group thread.
 */
NVMFT_API int nvmft_poll_group_wait(struct nvmft_poll_group *pg, int timeout_ms);

/**
 * nvmft_poll_group_stop() - disconnect the group's queue pairs and drain it
 * @pg: the group
 * @cb: called from inside nvmft_poll_group_poll() on the group's thread
 *      once no queue pair, request or backend channel is left; may be NULL
 * @cb_arg: passed to @cb
 *
 * The group takes no new connections.  Keep polling until @cb runs; polls
 * then return -ESHUTDOWN.
 *
 * Return: 0, -EALREADY. Group thread.
 */
NVMFT_API int nvmft_poll_group_stop(struct nvmft_poll_group *pg, nvmft_done_fn cb, void *cb_arg);

/**
 * nvmft_poll_group_free() - free a stopped (or never polled) group
 * @pg: the group, or NULL
 *
 * A group that still has queue pairs is stopped first, synchronously, which
 * only works when no backend I/O is outstanding; otherwise the call returns
 * -EBUSY and frees nothing.  No thread may be polling @pg any more.
 *
 * Return: 0 or -EBUSY. Management thread.
 */
NVMFT_API int nvmft_poll_group_free(struct nvmft_poll_group *pg);

/**
 * struct nvmft_poll_group_stats - counters of one poll group
 * @size: set by the caller to sizeof(struct nvmft_poll_group_stats)
 * @polls: calls of nvmft_poll_group_poll()
 * @busy_polls: polls that did work
 * @admin_qpairs: admin queue pairs connected, ever
 * @io_qpairs: I/O queue pairs connected, ever
 * @current_admin_qpairs: admin queue pairs connected now
 * @current_io_qpairs: I/O queue pairs connected now
 * @pending_bdev_io: requests in backends now
 * @reqs_completed: commands completed, ever
 * @bytes_read: data sent to hosts, ever
 * @bytes_written: data received from hosts, ever
 * @buf_waits: requests that had to wait for a data buffer, ever
 * @buf_bytes: data buffer memory held by the group now
 * @io_completed: commands completed on I/O queues (admin queues left out), ever
 */
struct nvmft_poll_group_stats {
	size_t size;
	uint64_t polls;
	uint64_t busy_polls;
	uint64_t admin_qpairs;
	uint64_t io_qpairs;
	uint64_t current_admin_qpairs;
	uint64_t current_io_qpairs;
	uint64_t pending_bdev_io;
	uint64_t reqs_completed;
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t buf_waits;
	uint64_t buf_bytes;
	uint64_t io_completed;
};

/**
 * nvmft_poll_group_get_stats() - read a group's counters
 * @pg: the group
 * @st: receives the counters; @st->size must be set
 *
 * Counters are updated with relaxed atomics, so any thread may read them;
 * the snapshot is not taken at one instant.
 *
 * Return: 0, -EINVAL (@st->size too small for @size). Any thread.
 */
NVMFT_API int nvmft_poll_group_get_stats(const struct nvmft_poll_group *pg,
					 struct nvmft_poll_group_stats *st);

/* The group's name. Any thread. */
NVMFT_API const char *nvmft_poll_group_get_name(const struct nvmft_poll_group *pg);
/* Iterate a target's poll groups. Management thread. */
NVMFT_API struct nvmft_poll_group *nvmft_poll_group_get_first(struct nvmft_target *tgt);
NVMFT_API struct nvmft_poll_group *nvmft_poll_group_get_next(struct nvmft_poll_group *pg);

#ifdef __cplusplus
}
#endif

#endif /* NVMFT_POLL_GROUP_H */
