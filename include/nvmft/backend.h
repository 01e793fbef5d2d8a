/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * DOC: block backends
 *
 * A backend is a block device a namespace exports: the built-in RAM
 * (``malloc``), ``null`` and ``uring`` (file or block device through
 * io_uring) backends, or one of the application's own, described by a
 * versioned method table, &struct nvmft_backend_ops.
 *
 * Model: the core opens one *channel* per poll group that serves the
 * namespace (on that group's thread) and submits requests to it.  Every
 * submitted request is completed exactly once with nvmft_req_complete()
 * (on the channel's thread) or nvmft_req_complete_remote() (any thread).
 * Nothing may block: a backend that cannot finish at once completes later,
 * from its channel_poll() method, its own completion fd, or another thread.
 *
 * Backends belong to the application: it creates them, attaches one to a
 * namespace (nvmft_ns_add()), and frees it after the namespace is removed.
 */
#ifndef NVMFT_BACKEND_H
#define NVMFT_BACKEND_H

#include <sys/uio.h>

#include <nvmft/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a request asks the backend to do. */
enum nvmft_io_type {
	NVMFT_IO_READ = 1,
	NVMFT_IO_WRITE = 2,
	NVMFT_IO_FLUSH = 3,
	NVMFT_IO_WRITE_ZEROES = 4,
	NVMFT_IO_DEALLOCATE = 5, /* one or more ranges, see nvmft_req_get_range() */
	NVMFT_IO_COMPARE = 6,    /* complete with -EILSEQ on a mismatch */
};

/* Per-request flags, nvmft_req_get_io_flags(). */
enum {
	NVMFT_IO_F_FUA = 1u << 0, /* the write is durable when it completes */
};

/* Backend capabilities, &struct nvmft_backend_opts.caps. */
enum {
	NVMFT_BACKEND_CAP_FLUSH = 1u << 0,        /* has a volatile cache to flush */
	NVMFT_BACKEND_CAP_FUA = 1u << 1,          /* honours NVMFT_IO_F_FUA */
	NVMFT_BACKEND_CAP_WRITE_ZEROES = 1u << 2, /* implements NVMFT_IO_WRITE_ZEROES */
	NVMFT_BACKEND_CAP_DEALLOCATE = 1u << 3,   /* implements NVMFT_IO_DEALLOCATE */
	NVMFT_BACKEND_CAP_COMPARE = 1u << 4,      /* implements NVMFT_IO_COMPARE */
	/*
	 * Reads may be served from the backend's own memory: the core submits
	 * a read without data buffers and the backend supplies them with
	 * nvmft_req_set_iovs() before completing.
	 */
	NVMFT_BACKEND_CAP_ZCOPY_READ = 1u << 5,
	/* Deallocated blocks read back as zeroes. */
	NVMFT_BACKEND_CAP_DEALLOC_ZEROES = 1u << 6,
	/*
	 * With NVMFT_BACKEND_CAP_ZCOPY_READ: the memory a read supplies is
	 * never written while the backend exists (a null device's zeroes, a
	 * read-only image).  The transport may then let the kernel read it by
	 * reference after @ops->release (TCP splices large reads into the
	 * socket instead of copying them), so a backend that reuses or
	 * rewrites that memory must not claim this.
	 */
	NVMFT_BACKEND_CAP_CONST_READ = 1u << 7,
};

#define NVMFT_BACKEND_OPS_V1 1

/**
 * struct nvmft_backend_ops - what a backend implements (version 1)
 * @version: NVMFT_BACKEND_OPS_V1; newer tables only add members at the end
 * @channel_open: open the backend for one poll group; called on that group's
 *                thread. Returns 0 and a channel in *@chan, or -errno.
 * @channel_close: close a channel on its thread; no request is outstanding.
 * @submit: start @req (see the nvmft_req_get_*() accessors) on the
 *          channel's thread.  Returns 0 when @req will be completed with
 *          nvmft_req_complete*() (possibly before submit returns), or a
 *          negative errno when it was not started (the core then fails it;
 *          the backend must not complete it too).
 * @channel_poll: optional; reap completions, at most @budget.  Called on
 *                each poll of the group.  Returns work done or -errno.
 * @channel_get_fd: optional; a descriptor that is readable when
 *                  @channel_poll has work, or -1.  Lets event-driven poll
 *                  groups sleep.
 * @release: optional; the core is done with memory a backend supplied with
 *           nvmft_req_set_iovs() for @req.  Channel's thread.
 * @destroy: optional; free @ctx.  Called by nvmft_backend_free().
 *
 * @ctx is the pointer given to nvmft_backend_new().
 */
struct nvmft_backend_ops {
	uint32_t version;
	int (*channel_open)(void *ctx, void **chan);
	void (*channel_close)(void *ctx, void *chan);
	int (*submit)(void *ctx, void *chan, struct nvmft_req *req);
	int (*channel_poll)(void *ctx, void *chan, unsigned int budget);
	int (*channel_get_fd)(void *ctx, void *chan);
	void (*release)(void *ctx, void *chan, struct nvmft_req *req);
	void (*destroy)(void *ctx);
};

/**
 * struct nvmft_backend_opts - geometry and identity of a backend
 * @size: sizeof(struct nvmft_backend_opts) as the caller knows it
 * @name: unique, human-readable name (e.g. the SPDK bdev name); copied
 * @block_size: logical block size: 512, 4096 or another power of two
 *              from 512 to 65536
 * @num_blocks: capacity in blocks (at least 1)
 * @caps: NVMFT_BACKEND_CAP_*
 * @uuid: identifiers reported to hosts unless the namespace overrides them;
 *        all zero means none
 * @nguid: see @uuid
 * @eui64: see @uuid
 * @optimal_io_blocks: preferred I/O boundary in blocks (0 for none)
 *
 * Fields may only be added at the end.  Fill with nvmft_backend_opts_init().
 */
struct nvmft_backend_opts {
	size_t size;
	const char *name;
	uint32_t block_size;
	uint64_t num_blocks;
	uint32_t caps;
	uint8_t uuid[16];
	uint8_t nguid[16];
	uint8_t eui64[8];
	uint32_t optimal_io_blocks;
};

/* Fill backend options with defaults; fields beyond @size untouched. Any thread. */
NVMFT_API void nvmft_backend_opts_init(struct nvmft_backend_opts *opts, size_t size);

/**
 * nvmft_backend_new() - wrap an application backend
 * @ops: the method table; must stay valid until nvmft_backend_free()
 * @ctx: the backend's own state, passed to every method
 * @opts: geometry and identity; copied
 * @ret: receives the backend, untouched on failure
 *
 * Return: 0, -EINVAL (missing method, bad geometry, unknown @ops->version
 * lower than 1), -ENOMEM. Any thread; the backend is then used from the
 * management thread of the target it is attached to.
 */
NVMFT_API int nvmft_backend_new(const struct nvmft_backend_ops *ops, void *ctx,
				const struct nvmft_backend_opts *opts, struct nvmft_backend **ret);

/**
 * nvmft_backend_free() - free a backend that backs no namespace
 * @be: the backend, or NULL
 *
 * Calls @ops->destroy.  Return: 0, or -EBUSY while a namespace uses it
 * (nothing is freed then).  Management thread.
 */
NVMFT_API int nvmft_backend_free(struct nvmft_backend *be);

/**
 * nvmft_backend_notify_removed() - the backend's device went away
 * @be: the backend
 *
 * Its namespace, if any, is removed as by nvmft_ns_remove(): outstanding
 * I/O completes or fails and hosts get the AEN.  Management thread.
 */
NVMFT_API void nvmft_backend_notify_removed(struct nvmft_backend *be);

/* Name, geometry and capabilities as given at creation. */
NVMFT_API const char *nvmft_backend_get_name(const struct nvmft_backend *be);
NVMFT_API uint32_t nvmft_backend_get_block_size(const struct nvmft_backend *be);
NVMFT_API uint64_t nvmft_backend_get_num_blocks(const struct nvmft_backend *be);
NVMFT_API uint32_t nvmft_backend_get_caps(const struct nvmft_backend *be);
/* The namespace the backend backs, or NULL. Management thread. */
NVMFT_API struct nvmft_ns *nvmft_backend_get_ns(const struct nvmft_backend *be);
/* The @ctx given at creation. Any thread. */
NVMFT_API void *nvmft_backend_get_ctx(const struct nvmft_backend *be);
/* "malloc", "null", "uring" for built-ins, "custom" otherwise. Any thread. */
NVMFT_API const char *nvmft_backend_get_kind(const struct nvmft_backend *be);

/**
 * nvmft_backend_malloc_new() - RAM backend
 * @name: unique name; copied
 * @num_blocks: capacity in blocks
 * @block_size: block size in bytes
 * @ret: receives the backend, untouched on failure
 *
 * Memory is reserved at once and touched lazily (reads of never-written
 * blocks return zeroes).  Reads are served straight from it (zero copy).
 *
 * Return: 0, -EINVAL, -ENOMEM. Any thread.
 */
NVMFT_API int nvmft_backend_malloc_new(const char *name, uint64_t num_blocks, uint32_t block_size,
				       struct nvmft_backend **ret);

/**
 * nvmft_backend_null_new() - backend that discards writes and reads zeroes
 * @name: unique name; copied
 * @num_blocks: capacity in blocks
 * @block_size: block size in bytes
 * @ret: receives the backend, untouched on failure
 *
 * Return: 0, -EINVAL, -ENOMEM. Any thread.
 */
NVMFT_API int nvmft_backend_null_new(const char *name, uint64_t num_blocks, uint32_t block_size,
				     struct nvmft_backend **ret);

/**
 * nvmft_backend_uring_new() - file or block device through io_uring
 * @name: unique name; copied
 * @path: a regular file or block device; opened read-write
 * @block_size: logical block size, 0 for the device's own (512 for files)
 * @ret: receives the backend, untouched on failure
 *
 * O_DIRECT is used when the file system and block size allow it.  Each poll
 * group gets its own ring; Flush is fsync, Write Zeroes and Deallocate are
 * fallocate (punch hole / zero range, or BLKZEROOUT/BLKDISCARD on devices).
 *
 * Return: 0, or a negative errno from open/stat/io_uring. Any thread.
 */
NVMFT_API int nvmft_backend_uring_new(const char *name, const char *path, uint32_t block_size,
				      struct nvmft_backend **ret);

/* ---- The request as a backend sees it ----------------------------------- */

/* The operation @req asks for; these getters are valid from submit until completion. */
NVMFT_API enum nvmft_io_type nvmft_req_get_io_type(const struct nvmft_req *req);
/* First logical block and block count (READ, WRITE, WRITE_ZEROES, COMPARE). */
NVMFT_API uint64_t nvmft_req_get_offset_blocks(const struct nvmft_req *req);
NVMFT_API uint64_t nvmft_req_get_num_blocks(const struct nvmft_req *req);
/* NVMFT_IO_F_* */
NVMFT_API uint32_t nvmft_req_get_io_flags(const struct nvmft_req *req);
/* Number of ranges of a DEALLOCATE request, and each (block offset, count). */
NVMFT_API uint32_t nvmft_req_get_range_count(const struct nvmft_req *req);
NVMFT_API int nvmft_req_get_range(const struct nvmft_req *req, uint32_t idx, uint64_t *offset_blocks,
				  uint64_t *num_blocks);

/**
 * nvmft_req_get_iovs() - the request's data buffers
 * @req: the request
 * @iovcnt: receives the number of entries
 *
 * READ fills them, WRITE and COMPARE read them; together they hold exactly
 * num_blocks * block_size bytes.  A zero-copy read (NVMFT_BACKEND_CAP_ZCOPY_READ)
 * has none until the backend supplies them.
 *
 * Return: the array (valid until completion; for a read whose iovs the
 * backend supplied, also inside @ops->release), NULL when *@iovcnt is 0.
 */
NVMFT_API const struct iovec *nvmft_req_get_iovs(const struct nvmft_req *req, int *iovcnt);

/**
 * nvmft_req_set_iovs() - supply read data from the backend's own memory
 * @req: a READ submitted without buffers
 * @iov: entries covering exactly the requested bytes; copied (at most 16)
 * @iovcnt: number of entries
 *
 * The memory must stay valid and unchanged until @ops->release is called
 * for @req (or, without @release, until the backend is freed).
 *
 * Return: 0, -EINVAL (wrong length, not such a read), -E2BIG. Channel's thread.
 */
NVMFT_API int nvmft_req_set_iovs(struct nvmft_req *req, const struct iovec *iov, int iovcnt);

/**
 * nvmft_req_complete() - finish a request on the channel's thread
 * @req: a request the backend accepted
 * @err: 0, or a negative errno: -EIO (media error), -EILSEQ (compare
 *       mismatch), -ENOSPC (out of space), -EROFS (write protected),
 *       -EAGAIN/-EBUSY (transient: the host may retry), -ENODEV (device
 *       gone), anything else is reported as an internal error
 *
 * The core maps @err to the NVMe status (doc/backends.md has the table).
 * May be called from inside @ops->submit.  @req must not be touched after.
 */
NVMFT_API void nvmft_req_complete(struct nvmft_req *req, int err);

/**
 * nvmft_req_complete_remote() - finish a request from any thread
 * @req: a request the backend accepted
 * @err: as for nvmft_req_complete()
 *
 * The completion is handed to the request's poll group as a message (no
 * allocation) and processed on its next poll.
 */
NVMFT_API void nvmft_req_complete_remote(struct nvmft_req *req, int err);

#ifdef __cplusplus
}
#endif

#endif /* NVMFT_BACKEND_H */
