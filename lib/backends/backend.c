/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The backend object: validation of an application's (or a built-in's)
 * method table and geometry, the getters, and small iovec helpers the
 * built-in backends share.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nvmft/ns.h>

#include "backends/backend.h"
#include "util/compiler.h"

/* Does a caller's option struct of @sz bytes reach past @field? */
#define OPTS_HAS(sz, field)                                                    \
	(offsetof(struct nvmft_backend_opts, field) +                          \
		 sizeof(((struct nvmft_backend_opts *)NULL)->field) <=         \
	 (sz))

static const uint32_t known_caps =
	NVMFT_BACKEND_CAP_FLUSH | NVMFT_BACKEND_CAP_FUA | NVMFT_BACKEND_CAP_WRITE_ZEROES |
	NVMFT_BACKEND_CAP_DEALLOCATE | NVMFT_BACKEND_CAP_COMPARE | NVMFT_BACKEND_CAP_ZCOPY_READ |
	NVMFT_BACKEND_CAP_DEALLOC_ZEROES | NVMFT_BACKEND_CAP_CONST_READ;

NVMFT_EXPORT void nvmft_backend_opts_init(struct nvmft_backend_opts *opts, size_t size)
{
	if (opts == NULL || size < sizeof(opts->size))
		return;
	/* Zero the caller's whole struct, including members newer than ours. */
	memset(opts, 0, size);
	opts->size = size;
	if (OPTS_HAS(size, block_size))
		opts->block_size = 512;
}

bool nvmft_backend_geometry_ok(uint32_t block_size, uint64_t num_blocks)
{
	if (block_size < 512 || block_size > 65536 || (block_size & (block_size - 1)) != 0)
		return false;
	/* The core and the backends address bytes with 64-bit offsets. */
	return num_blocks >= 1 && num_blocks <= UINT64_MAX / block_size;
}

int nvmft_backend_create(const struct nvmft_backend_ops *ops, void *ctx,
			 const struct nvmft_backend_opts *opts, const char *kind,
			 struct nvmft_backend **ret)
{
	struct nvmft_backend *be;
	size_t sz;

	if (ops == NULL || opts == NULL || kind == NULL || ret == NULL)
		return -EINVAL;
	if (ops->version < NVMFT_BACKEND_OPS_V1 || ops->channel_open == NULL ||
	    ops->channel_close == NULL || ops->submit == NULL)
		return -EINVAL;
	sz = opts->size;
	/* Name and geometry have no defaults: an older caller must still reach them. */
	if (!OPTS_HAS(sz, num_blocks))
		return -EINVAL;
	if (opts->name == NULL || opts->name[0] == '\0')
		return -EINVAL;
	if (!nvmft_backend_geometry_ok(opts->block_size, opts->num_blocks))
		return -EINVAL;

	be = calloc(1, sizeof(*be));
	if (be == NULL)
		return -ENOMEM;
	be->name = strdup(opts->name);
	if (be->name == NULL) {
		free(be);
		return -ENOMEM;
	}
	be->ops = ops;
	be->ctx = ctx;
	be->kind = kind;
	be->block_size = opts->block_size;
	be->num_blocks = opts->num_blocks;
	/* Bits this library does not know would promise features nobody serves. */
	if (OPTS_HAS(sz, caps))
		be->caps = opts->caps & known_caps;
	if (OPTS_HAS(sz, uuid))
		memcpy(be->uuid, opts->uuid, sizeof(be->uuid));
	if (OPTS_HAS(sz, nguid))
		memcpy(be->nguid, opts->nguid, sizeof(be->nguid));
	if (OPTS_HAS(sz, eui64))
		memcpy(be->eui64, opts->eui64, sizeof(be->eui64));
	if (OPTS_HAS(sz, optimal_io_blocks))
		be->optimal_io_blocks = opts->optimal_io_blocks;
	*ret = be;
	return 0;
}

NVMFT_EXPORT int nvmft_backend_new(const struct nvmft_backend_ops *ops, void *ctx,
				   const struct nvmft_backend_opts *opts,
				   struct nvmft_backend **ret)
{
	return nvmft_backend_create(ops, ctx, opts, "custom", ret);
}

NVMFT_EXPORT int nvmft_backend_free(struct nvmft_backend *be)
{
	if (be == NULL)
		return 0;
	if (be->ns != NULL)
		return -EBUSY;
	if (be->ops->destroy != NULL)
		be->ops->destroy(be->ctx);
	free(be->name);
	free(be);
	return 0;
}

NVMFT_EXPORT void nvmft_backend_notify_removed(struct nvmft_backend *be)
{
	/*
	 * The claim stays until the removal has drained every group, so a
	 * second notice meanwhile reaches a namespace already on its way
	 * out, which nvmft_ns_remove() ignores.
	 */
	if (be != NULL && be->ns != NULL)
		nvmft_ns_remove(be->ns, NULL, NULL);
}

NVMFT_EXPORT const char *nvmft_backend_get_name(const struct nvmft_backend *be)
{
	return be ? be->name : NULL;
}

NVMFT_EXPORT uint32_t nvmft_backend_get_block_size(const struct nvmft_backend *be)
{
	return be ? be->block_size : 0;
}

NVMFT_EXPORT uint64_t nvmft_backend_get_num_blocks(const struct nvmft_backend *be)
{
	return be ? be->num_blocks : 0;
}

NVMFT_EXPORT uint32_t nvmft_backend_get_caps(const struct nvmft_backend *be)
{
	return be ? be->caps : 0;
}

NVMFT_EXPORT struct nvmft_ns *nvmft_backend_get_ns(const struct nvmft_backend *be)
{
	return be ? be->ns : NULL;
}

NVMFT_EXPORT void *nvmft_backend_get_ctx(const struct nvmft_backend *be)
{
	return be ? be->ctx : NULL;
}

NVMFT_EXPORT const char *nvmft_backend_get_kind(const struct nvmft_backend *be)
{
	return be ? be->kind : NULL;
}

/* ---- iovec helpers ------------------------------------------------------ */

size_t nvmft_be_iov_len(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	return total;
}

/*
 * Walk the part of @iov that starts @off bytes in and spans at most @len
 * bytes, calling @fn on each piece with the matching offset into the flat
 * side.  Stops early when @fn returns false.  Returns the bytes visited.
 */
static size_t iov_walk(const struct iovec *iov, int iovcnt, size_t off, size_t len,
		       bool (*fn)(void *base, size_t flat_off, size_t n, void *arg), void *arg)
{
	size_t done = 0;

	for (int i = 0; i < iovcnt && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = NVMFT_MIN(l - off, len - done);
		if (!fn((char *)iov[i].iov_base + off, done, l, arg))
			break;
		done += l;
		off = 0;
	}
	return done;
}

static bool piece_to(void *base, size_t flat_off, size_t n, void *arg)
{
	memcpy(base, (const char *)arg + flat_off, n);
	return true;
}

static bool piece_from(void *base, size_t flat_off, size_t n, void *arg)
{
	memcpy((char *)arg + flat_off, base, n);
	return true;
}

static bool piece_zero(void *base, size_t flat_off, size_t n, void *arg)
{
	(void)flat_off;
	(void)arg;
	memset(base, 0, n);
	return true;
}

static bool piece_equal(void *base, size_t flat_off, size_t n, void *arg)
{
	const char *buf = arg;
	const unsigned char *p = base;

	if (buf != NULL)
		return memcmp(base, buf + flat_off, n) == 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

size_t nvmft_be_iov_copy_to(const struct iovec *iov, int iovcnt, size_t off, const void *src,
			    size_t len)
{
	return iov_walk(iov, iovcnt, off, len, piece_to, (void *)(uintptr_t)src);
}

size_t nvmft_be_iov_copy_from(const struct iovec *iov, int iovcnt, size_t off, void *dst,
			      size_t len)
{
	return iov_walk(iov, iovcnt, off, len, piece_from, dst);
}

void nvmft_be_iov_zero(const struct iovec *iov, int iovcnt, size_t off)
{
	iov_walk(iov, iovcnt, off, SIZE_MAX, piece_zero, NULL);
}

bool nvmft_be_iov_equal(const struct iovec *iov, int iovcnt, const void *buf, size_t len)
{
	return iov_walk(iov, iovcnt, 0, len, piece_equal, (void *)(uintptr_t)buf) == len;
}

/* ---- request checks ----------------------------------------------------- */

int nvmft_be_check_req(const struct nvmft_req *req, uint64_t num_blocks)
{
	uint64_t slba, nlb;
	uint32_t n;

	switch (nvmft_req_get_io_type(req)) {
	case NVMFT_IO_FLUSH:
		return 0;
	case NVMFT_IO_DEALLOCATE:
		n = nvmft_req_get_range_count(req);
		for (uint32_t i = 0; i < n; i++) {
			if (nvmft_req_get_range(req, i, &slba, &nlb) != 0)
				return -EINVAL;
			if (!nvmft_backend_range_ok(slba, nlb, num_blocks))
				return -ERANGE;
		}
		return 0;
	default:
		slba = nvmft_req_get_offset_blocks(req);
		nlb = nvmft_req_get_num_blocks(req);
		if (nlb == 0)
			return -EINVAL;
		return nvmft_backend_range_ok(slba, nlb, num_blocks) ? 0 : -ERANGE;
	}
}
