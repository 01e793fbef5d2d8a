/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_backend.h"

#define TB_MAX_HELD 1024
#define TB_TYPES 8

struct tb {
	uint8_t *data;
	uint64_t blocks;
	uint32_t bs;
	enum tb_mode mode;
	int fail_err;
	int fail_count;
	enum nvmft_io_type fail_type;
	bool hold;
	struct nvmft_req *held[TB_MAX_HELD];
	int held_err[TB_MAX_HELD];
	unsigned int nr_held;
	struct nvmft_req *polled[TB_MAX_HELD];
	int polled_err[TB_MAX_HELD];
	unsigned int nr_polled;
	unsigned int counts[TB_TYPES];
	uint32_t last_flags[TB_TYPES];
	int channels;
};

struct tb_remote {
	struct nvmft_req *req;
	int err;
};

static int tb_do(struct tb *tb, struct nvmft_req *req)
{
	enum nvmft_io_type t = nvmft_req_get_io_type(req);
	uint64_t off = nvmft_req_get_offset_blocks(req) * tb->bs;
	uint64_t len = nvmft_req_get_num_blocks(req) * tb->bs;
	const struct iovec *iov;
	int iovcnt;
	uint64_t pos = 0;

	if (t != NVMFT_IO_FLUSH && t != NVMFT_IO_DEALLOCATE &&
	    (off + len > tb->blocks * tb->bs || off + len < off))
		return -ERANGE;
	iov = nvmft_req_get_iovs(req, &iovcnt);
	switch (t) {
	case NVMFT_IO_READ:
		for (int i = 0; i < iovcnt; i++) {
			memcpy(iov[i].iov_base, tb->data + off + pos, iov[i].iov_len);
			pos += iov[i].iov_len;
		}
		return 0;
	case NVMFT_IO_WRITE:
		for (int i = 0; i < iovcnt; i++) {
			memcpy(tb->data + off + pos, iov[i].iov_base, iov[i].iov_len);
			pos += iov[i].iov_len;
		}
		return 0;
	case NVMFT_IO_COMPARE:
		for (int i = 0; i < iovcnt; i++) {
			if (memcmp(tb->data + off + pos, iov[i].iov_base, iov[i].iov_len) != 0)
				return -EILSEQ;
			pos += iov[i].iov_len;
		}
		return 0;
	case NVMFT_IO_WRITE_ZEROES:
		memset(tb->data + off, 0, len);
		return 0;
	case NVMFT_IO_DEALLOCATE:
		for (uint32_t i = 0; i < nvmft_req_get_range_count(req); i++) {
			uint64_t o, n;

			nvmft_req_get_range(req, i, &o, &n);
			if (o + n > tb->blocks)
				return -ERANGE;
			memset(tb->data + o * tb->bs, 0, n * tb->bs);
		}
		return 0;
	case NVMFT_IO_FLUSH:
		return 0;
	}
	return -EOPNOTSUPP;
}

static void *tb_remote_thread(void *arg)
{
	struct tb_remote *r = arg;

	usleep(100);
	nvmft_req_complete_remote(r->req, r->err);
	free(r);
	return NULL;
}

static int tb_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	struct tb *tb = ctx;
	enum nvmft_io_type t = nvmft_req_get_io_type(req);
	int err;

	(void)chan;
	if ((unsigned int)t < TB_TYPES) {
		tb->counts[t]++;
		tb->last_flags[t] = nvmft_req_get_io_flags(req);
	}
	tb->counts[0]++;
	if (tb->fail_count > 0 && (tb->fail_type == 0 || tb->fail_type == t)) {
		tb->fail_count--;
		err = tb->fail_err;
	} else {
		err = tb_do(tb, req);
	}
	if (tb->hold && tb->nr_held < TB_MAX_HELD) {
		tb->held_err[tb->nr_held] = err;
		tb->held[tb->nr_held++] = req;
		return 0;
	}
	switch (tb->mode) {
	case TB_INLINE:
		nvmft_req_complete(req, err);
		return 0;
	case TB_POLL:
		if (tb->nr_polled == TB_MAX_HELD)
			return -EBUSY;
		tb->polled_err[tb->nr_polled] = err;
		tb->polled[tb->nr_polled++] = req;
		return 0;
	case TB_THREAD: {
		struct tb_remote *r = malloc(sizeof(*r));
		pthread_t th;

		if (r == NULL)
			return -ENOMEM;
		r->req = req;
		r->err = err;
		if (pthread_create(&th, NULL, tb_remote_thread, r) != 0) {
			free(r);
			return -EAGAIN;
		}
		pthread_detach(th);
		return 0;
	}
	}
	return -EINVAL;
}

static int tb_channel_open(void *ctx, void **chan)
{
	struct tb *tb = ctx;

	tb->channels++;
	*chan = tb;
	return 0;
}

static void tb_channel_close(void *ctx, void *chan)
{
	struct tb *tb = ctx;

	(void)chan;
	tb->channels--;
}

static int tb_channel_poll(void *ctx, void *chan, unsigned int budget)
{
	struct tb *tb = ctx;
	unsigned int n = 0;

	(void)chan;
	/* Completing may resubmit: take the batch first. */
	while (tb->nr_polled > 0 && n < budget) {
		struct nvmft_req *req = tb->polled[0];
		int err = tb->polled_err[0];

		tb->nr_polled--;
		memmove(tb->polled, tb->polled + 1, tb->nr_polled * sizeof(tb->polled[0]));
		memmove(tb->polled_err, tb->polled_err + 1, tb->nr_polled * sizeof(tb->polled_err[0]));
		nvmft_req_complete(req, err);
		n++;
	}
	return (int)n;
}

static void tb_destroy(void *ctx)
{
	struct tb *tb = ctx;

	free(tb->data);
	free(tb);
}

static const struct nvmft_backend_ops tb_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = tb_channel_open,
	.channel_close = tb_channel_close,
	.submit = tb_submit,
	.channel_poll = tb_channel_poll,
	.destroy = tb_destroy,
};

int tb_new(const char *name, uint64_t blocks, uint32_t block_size, uint32_t caps, enum tb_mode mode,
	   struct tb **tbp, struct nvmft_backend **bep)
{
	struct nvmft_backend_opts o;
	struct tb *tb = calloc(1, sizeof(*tb));
	int rc;

	if (tb == NULL)
		return -ENOMEM;
	tb->data = calloc(blocks, block_size);
	if (tb->data == NULL) {
		free(tb);
		return -ENOMEM;
	}
	tb->blocks = blocks;
	tb->bs = block_size;
	tb->mode = mode;
	nvmft_backend_opts_init(&o, sizeof(o));
	o.name = name;
	o.block_size = block_size;
	o.num_blocks = blocks;
	o.caps = caps;
	rc = nvmft_backend_new(&tb_ops, tb, &o, bep);
	if (rc < 0) {
		tb_destroy(tb);
		return rc;
	}
	*tbp = tb;
	return 0;
}

void tb_fail_next(struct tb *tb, enum nvmft_io_type type, int err, int count)
{
	tb->fail_type = type;
	tb->fail_err = err;
	tb->fail_count = count;
}

void tb_hold(struct tb *tb, bool hold)
{
	tb->hold = hold;
}

int tb_release(struct tb *tb)
{
	unsigned int n = tb->nr_held;

	tb->nr_held = 0;
	for (unsigned int i = 0; i < n; i++)
		nvmft_req_complete(tb->held[i], tb->held_err[i]);
	return (int)n;
}

unsigned int tb_count(const struct tb *tb, enum nvmft_io_type type)
{
	return (unsigned int)type < TB_TYPES ? tb->counts[type] : 0;
}

unsigned int tb_held(const struct tb *tb)
{
	return tb->nr_held;
}

int tb_channels(const struct tb *tb)
{
	return tb->channels;
}

uint8_t *tb_data(struct tb *tb)
{
	return tb->data;
}

uint32_t tb_last_flags(const struct tb *tb, enum nvmft_io_type type)
{
	return (unsigned int)type < TB_TYPES ? tb->last_flags[type] : 0;
}

uint64_t tb_held_lba(const struct tb *tb, unsigned int idx)
{
	return idx < tb->nr_held ? nvmft_req_get_offset_blocks(tb->held[idx]) : UINT64_MAX;
}
