/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The backend object behind the public vtable, and the thin wrappers the
 * core calls.  A backend belongs to the application; a namespace "claims"
 * it while attached (@ns, management thread).
 */
#ifndef NVMFT_BACKENDS_BACKEND_H
#define NVMFT_BACKENDS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <bsd/sys/queue.h>
#include <nvmft/backend.h>

struct nvmft_ns;
struct nvmft_poll_group;

/*
 * What built-in backends can do beyond the public table.  It lives inside
 * the library, so unlike struct nvmft_backend_ops it may change with it.  A
 * built-in sets be->int_ops after nvmft_backend_create().
 * @channel_open_pg: channel_open() that also learns the poll group the
 *                   channel will serve, so the group's channels can share
 *                   state (nvmft_pg_shared_*() below).  Group thread.
 */
struct nvmft_backend_int_ops {
	int (*channel_open_pg)(void *ctx, struct nvmft_poll_group *pg, void **chan);
};

struct nvmft_backend {
	const struct nvmft_backend_ops *ops;
	void *ctx;
	char *name;
	const char *kind; /* "malloc", "null", "uring", "custom" */
	uint32_t block_size;
	uint64_t num_blocks;
	uint32_t caps;
	uint8_t uuid[16];
	uint8_t nguid[16];
	uint8_t eui64[8];
	uint32_t optimal_io_blocks;
	struct nvmft_ns *ns; /* claim; management thread */
	const struct nvmft_backend_int_ops *int_ops; /* built-ins only, or NULL */
};

/*
 * Built-in backends call this instead of nvmft_backend_new() so they can
 * set their kind.  Same contract otherwise.
 */
int nvmft_backend_create(const struct nvmft_backend_ops *ops, void *ctx,
			 const struct nvmft_backend_opts *opts, const char *kind,
			 struct nvmft_backend **ret);

/* Thin wrappers so the optional methods are checked in one place. */
static inline int nvmft_backend_channel_open(struct nvmft_backend *be, void **chan)
{
	return be->ops->channel_open(be->ctx, chan);
}

/* How the core opens a channel for @pg, on @pg's thread. */
static inline int nvmft_backend_channel_open_pg(struct nvmft_backend *be, struct nvmft_poll_group *pg,
						void **chan)
{
	if (be->int_ops != NULL && be->int_ops->channel_open_pg != NULL)
		return be->int_ops->channel_open_pg(be->ctx, pg, chan);
	return be->ops->channel_open(be->ctx, chan);
}

static inline void nvmft_backend_channel_close(struct nvmft_backend *be, void *chan)
{
	be->ops->channel_close(be->ctx, chan);
}

static inline int nvmft_backend_submit(struct nvmft_backend *be, void *chan, struct nvmft_req *req)
{
	return be->ops->submit(be->ctx, chan, req);
}

static inline bool nvmft_backend_has_poll(const struct nvmft_backend *be)
{
	return be->ops->channel_poll != NULL;
}

static inline int nvmft_backend_channel_poll(struct nvmft_backend *be, void *chan, unsigned int budget)
{
	return be->ops->channel_poll(be->ctx, chan, budget);
}

static inline int nvmft_backend_channel_fd(struct nvmft_backend *be, void *chan)
{
	return be->ops->channel_get_fd ? be->ops->channel_get_fd(be->ctx, chan) : -1;
}

static inline void nvmft_backend_release(struct nvmft_backend *be, void *chan, struct nvmft_req *req)
{
	if (be->ops->release)
		be->ops->release(be->ctx, chan, req);
}

/*
 * State that the channels of one poll group share, such as the one io_uring
 * every uring namespace on the group uses, or the epoll registration of a
 * descriptor several channels hand out.  The owner embeds the entry in its
 * own object, so registering never allocates.  An entry is found by
 * (@kind, @id): @kind is the address of something private to the owner (its
 * ops table), @id tells the owner's entries apart.  The last
 * nvmft_pg_shared_put() unlinks the entry and calls @destroy.  Everything
 * happens on the group's thread, so there are no locks; a group is freed
 * only after its channels closed, which leaves its table empty.
 *
 * Implemented by core/poll_group.c: the core's side of this interface, as
 * nvmft_req_complete() is.
 */
struct nvmft_pg_shared {
	const void *kind;
	uint64_t id;
	uint32_t refs;
	void (*destroy)(struct nvmft_poll_group *pg, struct nvmft_pg_shared *sh);
	TAILQ_ENTRY(nvmft_pg_shared) link;
};

/* The entry for (@kind, @id) on @pg, or NULL.  Takes no reference. */
struct nvmft_pg_shared *nvmft_pg_shared_find(struct nvmft_poll_group *pg, const void *kind,
					     uint64_t id);
/* nvmft_pg_shared_find() plus a reference when found. */
struct nvmft_pg_shared *nvmft_pg_shared_get(struct nvmft_poll_group *pg, const void *kind,
					    uint64_t id);
/* Register @sh, holding one reference; (@kind, @id) must not be taken yet. */
void nvmft_pg_shared_add(struct nvmft_poll_group *pg, struct nvmft_pg_shared *sh, const void *kind,
			 uint64_t id,
			 void (*destroy)(struct nvmft_poll_group *pg, struct nvmft_pg_shared *sh));
/* Drop a reference; the last one unlinks @sh and calls its destroy. */
void nvmft_pg_shared_put(struct nvmft_poll_group *pg, struct nvmft_pg_shared *sh);

/*
 * Geometry every backend must have: a block size that is a power of two
 * from 512 to 65536, at least one block, and a byte size that fits 64 bits.
 */
bool nvmft_backend_geometry_ok(uint32_t block_size, uint64_t num_blocks);

/* Is [@slba, @slba + @nlb) inside a device of @num_blocks blocks?  Overflow safe. */
static inline bool nvmft_backend_range_ok(uint64_t slba, uint64_t nlb, uint64_t num_blocks)
{
	return slba <= num_blocks && nlb <= num_blocks - slba;
}

/*
 * Check the blocks a request names against a device of @num_blocks blocks
 * (every range of a DEALLOCATE; empty ranges are allowed there).  Return 0,
 * -EINVAL for a READ/WRITE/COMPARE/WRITE_ZEROES of no blocks or an
 * unreadable range, -ERANGE when anything lies outside the device.
 */
int nvmft_be_check_req(const struct nvmft_req *req, uint64_t num_blocks);

/*
 * Data helpers shared by the built-in backends; they work on the const
 * iovec arrays nvmft_req_get_iovs() hands out.  Copies stop at the end of
 * the array and return the bytes actually moved.
 */
size_t nvmft_be_iov_len(const struct iovec *iov, int iovcnt);
size_t nvmft_be_iov_copy_to(const struct iovec *iov, int iovcnt, size_t off, const void *src,
			    size_t len);
size_t nvmft_be_iov_copy_from(const struct iovec *iov, int iovcnt, size_t off, void *dst,
			      size_t len);
/* Zero everything from @off to the end of the array. */
void nvmft_be_iov_zero(const struct iovec *iov, int iovcnt, size_t off);
/* Do the first @len bytes equal @buf (or zeroes when @buf is NULL)? */
bool nvmft_be_iov_equal(const struct iovec *iov, int iovcnt, const void *buf, size_t len);

/*
 * uring backend introspection for tests and diagnostics: whether an
 * O_DIRECT descriptor is in use, and how many reads/writes a channel issued
 * through it and through the buffered descriptor.
 */
bool nvmft_uring_backend_is_direct(const struct nvmft_backend *be);
void nvmft_uring_chan_counts(void *chan, uint64_t *direct, uint64_t *buffered);

/*
 * How a uring channel shares its ring (channel's thread):
 * @ring: identifies the ring; equal for channels that share one;
 * @ring_chans: channels open on that ring;
 * @ring_inflight: SQEs of the ring, any channel's, not reaped yet;
 * @waiting: this channel's requests waiting for room in the ring.
 */
struct nvmft_uring_chan_info {
	const void *ring;
	unsigned int ring_chans;
	unsigned int ring_inflight;
	unsigned int waiting;
};
void nvmft_uring_chan_info(void *chan, struct nvmft_uring_chan_info *info);
/* Channels open on @pg's shared ring; 0 when the group has none.  Group thread. */
unsigned int nvmft_uring_pg_ring_chans(struct nvmft_poll_group *pg);

/*
 * malloc backend introspection for tests and diagnostics (@be must be a
 * malloc backend; any thread, the counters are read relaxed):
 * @region_size: bytes per region, the unit of locking and copy on write;
 * @cow: regions copied on write because their current buffer could not be
 *       changed in place (zero-copy readers in flight, or the shared zero
 *       region showing);
 * @zero_swaps: whole regions zeroed by pointing them at the shared zero
 *              region because readers held their data;
 * @bounces: zero-copy reads answered from a private copy because they
 *           needed more than 16 iovec entries;
 * @heap_bufs: region buffers outside the mapping not freed yet (current
 *             ones and retired ones still read).
 */
struct nvmft_malloc_stats {
	uint64_t region_size;
	uint64_t cow;
	uint64_t zero_swaps;
	uint64_t bounces;
	uint64_t heap_bufs;
};
void nvmft_malloc_backend_stats(const struct nvmft_backend *be, struct nvmft_malloc_stats *st);

#endif
