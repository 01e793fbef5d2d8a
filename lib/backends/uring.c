/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * File or block device backend on io_uring.
 *
 * Two descriptors: one opened with O_DIRECT when the file system takes it,
 * one buffered.  A read or write goes through O_DIRECT only when its offset
 * and every buffer meet the alignment the kernel asks for; everything else
 * (in-capsule data, odd edges after a short transfer) takes the buffered one.
 * The page cache keeps the two coherent: direct reads write dirty pages back
 * first, direct writes invalidate cached pages.
 *
 * One ring per poll group: every uring channel the core opens on a group
 * (one per namespace) shares it, through the group's shared-state table
 * (nvmft_pg_shared_*()), so 256 namespaces cost one ring and one descriptor
 * per group, not 256.  The first channel creates the ring, the last close
 * destroys it.  A channel opened through the public table, with no group,
 * gets a ring of its own.  Each SQE carries its uring_io, which names its
 * channel, so whichever channel's poll reaps a CQE hands it to the right
 * request.
 *
 * submit() only queues SQEs unless nothing is in the kernel yet, so a burst
 * of commands from one transport receive goes out with one io_uring_enter()
 * from channel_poll().  The ring's own descriptor is every channel's fd: it
 * polls readable exactly while CQEs are waiting, so an event-driven group
 * never needs to drain a counter and can never sleep on unreaped
 * completions.  The core watches a descriptor once however many channels
 * hand it out.
 *
 * When the ring is full, requests wait per channel in order, and channels
 * take turns for the room completions free: one namespace with a deep queue
 * cannot hold back another's.
 *
 * Invariant that keeps requests from getting stuck: between polls, work
 * queued in the SQ ring or waiting for room exists only while at least one
 * SQE is in the kernel, whose completion wakes the group.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <limits.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bsd/sys/queue.h>

#include "backends/backend.h"
#include "util/compiler.h"

#define URING_DEPTH 256
#define URING_WORK_IOV 8
#define URING_ZERO_LEN (1u << 20)

enum uring_kind {
	K_READ,
	K_WRITE,
	K_COMPARE, /* a read into a scratch buffer, compared at the end */
	K_FLUSH,
	K_ZERO, /* Write Zeroes and Deallocate: a ladder of methods per range */
};

/* Ways to clear a byte range, tried in the order a ladder lists them. */
enum zstep {
	Z_PUNCH,      /* fallocate PUNCH_HOLE (block devices: zero out, may unmap) */
	Z_ZERO_RANGE, /* fallocate ZERO_RANGE */
	Z_WRITE,      /* plain writes from a zero buffer */
	Z_DISCARD,    /* BLKDISCARD ioctl; synchronous */
	Z_SKIP,       /* Deallocate is a hint: succeed without doing anything */
	Z_END,
};

static const uint8_t ladder_file_wz[] = { Z_ZERO_RANGE, Z_PUNCH, Z_WRITE, Z_END };
static const uint8_t ladder_file_dealloc[] = { Z_PUNCH, Z_ZERO_RANGE, Z_WRITE, Z_END };
static const uint8_t ladder_dev_wz[] = { Z_ZERO_RANGE, Z_WRITE, Z_END };
static const uint8_t ladder_dev_dealloc[] = { Z_PUNCH, Z_DISCARD, Z_SKIP, Z_END };

struct uring_be {
	int fd;          /* buffered */
	int fd_direct;   /* O_DIRECT, or -1 */
	bool is_blkdev;
	uint32_t block_size;
	uint64_t num_blocks;
	uint32_t dio_mem_align;
	uint32_t dio_off_align;
	void *zero;      /* URING_ZERO_LEN read-only zeroes for Z_WRITE */
	uint32_t unsupported; /* 1 << enum zstep, learned from -EOPNOTSUPP; atomic */
};

struct uring_chan;

struct uring_io {
	struct uring_chan *ch;
	struct nvmft_req *req;
	uint8_t kind;
	bool fua;
	bool buffered;   /* O_DIRECT refused this request: stay buffered */
	bool last_direct; /* the SQE in flight went through fd_direct */
	bool syncing;    /* K_ZERO with FUA: the final fdatasync is in flight */
	bool iov_exact;  /* the buffers hold exactly @len bytes */
	uint8_t step;    /* K_ZERO: index into @ladder */
	const uint8_t *ladder;
	const struct iovec *iov;
	int iovcnt;
	uint64_t off;    /* device byte offset of the data or range */
	uint64_t len;
	uint64_t done;
	uint32_t range;  /* K_ZERO: index of the range in progress */
	uint32_t nr_ranges;
	void *scratch;   /* K_COMPARE */
	struct iovec scratch_iov;
	struct iovec work[URING_WORK_IOV]; /* remainder after a short transfer */
	TAILQ_ENTRY(uring_io) link; /* free list or overflow list */
};

struct uring_io_chunk {
	struct uring_io_chunk *next;
	struct uring_io ios[URING_DEPTH];
};

/* A ring and what waits for it; shared by the channels of one poll group. */
struct uring_ring {
	struct nvmft_pg_shared sh; /* in the group's table when @pg is set */
	struct nvmft_poll_group *pg; /* NULL: private to one channel */
	struct io_uring ring;
	unsigned int cq_limit;  /* never more SQEs outstanding than the CQ holds */
	unsigned int inflight;  /* SQEs prepared and not yet reaped */
	unsigned int in_kernel; /* SQEs submitted and not yet reaped */
	unsigned int nr_chans;  /* open channels */
	TAILQ_HEAD(, uring_chan) waiting; /* channels with requests waiting for room, by turn */
	TAILQ_HEAD(, uring_chan) closed;  /* closed while the kernel still had their SQEs */
};

struct uring_chan {
	struct uring_be *ub;
	struct uring_ring *r;
	unsigned int inflight;  /* this channel's SQEs prepared and not yet reaped */
	unsigned int nr_waiting;
	bool is_waiting;        /* on r->waiting */
	bool closed;            /* on r->closed */
	TAILQ_ENTRY(uring_chan) link;
	TAILQ_HEAD(, uring_io) free_ios;
	TAILQ_HEAD(, uring_io) overflow; /* waiting for ring space, in order */
	struct uring_io_chunk *chunks;
	uint64_t n_direct;
	uint64_t n_buffered;
};

static const struct nvmft_backend_ops uring_ops;

/* ---- channel resources -------------------------------------------------- */

static int chan_grow(struct uring_chan *ch)
{
	struct uring_io_chunk *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -ENOMEM;
	c->next = ch->chunks;
	ch->chunks = c;
	for (unsigned int i = 0; i < URING_DEPTH; i++)
		TAILQ_INSERT_TAIL(&ch->free_ios, &c->ios[i], link);
	return 0;
}

static struct uring_io *io_get(struct uring_chan *ch)
{
	struct uring_io *io;

	/* Only more requests than ever before outstanding at once allocate. */
	if (TAILQ_EMPTY(&ch->free_ios) && chan_grow(ch) < 0)
		return NULL;
	io = TAILQ_FIRST(&ch->free_ios);
	TAILQ_REMOVE(&ch->free_ios, io, link);
	memset(io, 0, sizeof(*io));
	io->ch = ch;
	return io;
}

static void io_put(struct uring_io *io)
{
	free(io->scratch);
	io->scratch = NULL;
	TAILQ_INSERT_HEAD(&io->ch->free_ios, io, link);
}

static void io_finish(struct uring_io *io, int err)
{
	struct nvmft_req *req = io->req;
	const struct iovec *iov;
	int iovcnt;

	if (io->kind == K_COMPARE && err == 0) {
		iov = nvmft_req_get_iovs(req, &iovcnt);
		if (!nvmft_be_iov_equal(iov, iovcnt, io->scratch, io->len))
			err = -EILSEQ;
	}
	/* Free first: the completion may submit the next request right away. */
	io_put(io);
	nvmft_req_complete(req, err);
}

static void chan_free(struct uring_chan *ch)
{
	struct uring_io_chunk *c;

	while ((c = ch->chunks) != NULL) {
		ch->chunks = c->next;
		for (unsigned int i = 0; i < URING_DEPTH; i++)
			free(c->ios[i].scratch);
		free(c);
	}
	free(ch);
}

/* ---- submission --------------------------------------------------------- */

static void ring_flush(struct uring_ring *r)
{
	int rc;

	if (io_uring_sq_ready(&r->ring) == 0)
		return;
	rc = io_uring_submit(&r->ring);
	/*
	 * On failure the SQEs stay in the ring and go out with the next
	 * poll's flush; the kernel only refuses for lack of memory here, as
	 * the CQ can never overflow (cq_limit).
	 */
	if (rc > 0)
		r->in_kernel += (unsigned int)rc;
}

static bool iov_direct_ok(const struct uring_be *ub, const struct iovec *iov, int iovcnt,
			  uint64_t off)
{
	uintptr_t mem_mask = ub->dio_mem_align - 1;
	uint64_t len_mask = ub->dio_off_align - 1;

	if (ub->fd_direct < 0 || (off & len_mask) != 0)
		return false;
	for (int i = 0; i < iovcnt; i++)
		if (((uintptr_t)iov[i].iov_base & mem_mask) != 0 || (iov[i].iov_len & len_mask) != 0)
			return false;
	return true;
}

/*
 * The part of @io's buffers not transferred yet.  A first attempt passes the
 * request's own array; after a short transfer a window of up to
 * URING_WORK_IOV entries is rebuilt from where it stopped.
 */
static const struct iovec *io_rest(struct uring_io *io, int *cnt)
{
	uint64_t skip = io->done;
	uint64_t left = io->len - io->done;
	int i, n = 0;

	if (skip == 0 && io->iov_exact && io->iovcnt <= IOV_MAX) {
		*cnt = io->iovcnt;
		return io->iov;
	}
	for (i = 0; i < io->iovcnt && skip >= io->iov[i].iov_len; i++)
		skip -= io->iov[i].iov_len;
	/* Never past the request's blocks, even if the buffers are longer. */
	for (; i < io->iovcnt && n < URING_WORK_IOV && left > 0; i++, n++) {
		io->work[n].iov_base = (char *)io->iov[i].iov_base + skip;
		io->work[n].iov_len = (size_t)NVMFT_MIN(io->iov[i].iov_len - skip, left);
		left -= io->work[n].iov_len;
		skip = 0;
	}
	*cnt = n;
	return io->work;
}

static void io_prep_rw(struct uring_io *io, struct io_uring_sqe *sqe, const struct iovec *iov,
		       int cnt, uint64_t off, bool write)
{
	struct uring_be *ub = io->ch->ub;
	bool direct = !io->buffered && iov_direct_ok(ub, iov, cnt, off);
	int fd = direct ? ub->fd_direct : ub->fd;

	io->last_direct = direct;
	if (direct)
		io->ch->n_direct++;
	else
		io->ch->n_buffered++;
	if (write)
		io_uring_prep_writev2(sqe, fd, iov, (unsigned int)cnt, off, io->fua ? RWF_DSYNC : 0);
	else
		io_uring_prep_readv(sqe, fd, iov, (unsigned int)cnt, off);
}

static void io_prep(struct uring_io *io, struct io_uring_sqe *sqe)
{
	struct uring_be *ub = io->ch->ub;
	const struct iovec *iov;
	int cnt;

	switch (io->kind) {
	case K_READ:
	case K_COMPARE:
	case K_WRITE:
		iov = io_rest(io, &cnt);
		io_prep_rw(io, sqe, iov, cnt, io->off + io->done, io->kind == K_WRITE);
		break;
	case K_FLUSH:
		io_uring_prep_fsync(sqe, ub->fd, IORING_FSYNC_DATASYNC);
		break;
	case K_ZERO:
		if (io->syncing) {
			io_uring_prep_fsync(sqe, ub->fd, IORING_FSYNC_DATASYNC);
			break;
		}
		switch (io->ladder[io->step]) {
		case Z_PUNCH:
			io_uring_prep_fallocate(sqe, ub->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
						(off_t)io->off, (off_t)io->len);
			break;
		case Z_ZERO_RANGE:
			io_uring_prep_fallocate(sqe, ub->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
						(off_t)io->off, (off_t)io->len);
			break;
		default: /* Z_WRITE; the synchronous steps never get here */
			io->work[0].iov_base = ub->zero;
			io->work[0].iov_len = (size_t)NVMFT_MIN(io->len - io->done,
								(uint64_t)URING_ZERO_LEN);
			io_prep_rw(io, sqe, io->work, 1, io->off + io->done, true);
			break;
		}
		break;
	}
	io_uring_sqe_set_data(sqe, io);
}

static struct io_uring_sqe *ring_get_sqe(struct uring_ring *r)
{
	struct io_uring_sqe *sqe;

	if (r->inflight >= r->cq_limit)
		return NULL;
	sqe = io_uring_get_sqe(&r->ring);
	if (sqe == NULL) {
		ring_flush(r);
		sqe = io_uring_get_sqe(&r->ring);
	}
	return sqe;
}

static void ring_push(struct uring_ring *r, struct uring_io *io, struct io_uring_sqe *sqe)
{
	io_prep(io, sqe);
	r->inflight++;
	io->ch->inflight++;
}

/* Park @io behind its channel's waiting requests; the channel joins the turns. */
static void chan_wait(struct uring_chan *ch, struct uring_io *io)
{
	TAILQ_INSERT_TAIL(&ch->overflow, io, link);
	ch->nr_waiting++;
	if (!ch->is_waiting) {
		ch->is_waiting = true;
		TAILQ_INSERT_TAIL(&ch->r->waiting, ch, link);
	}
}

/* Put @io's next step in the SQ ring, or behind others waiting for room. */
static void io_queue(struct uring_io *io)
{
	struct uring_chan *ch = io->ch;
	struct uring_ring *r = ch->r;
	struct io_uring_sqe *sqe = NULL;

	/* Room freed while others wait is theirs, whichever namespace asks now. */
	if (TAILQ_EMPTY(&r->waiting))
		sqe = ring_get_sqe(r);
	if (sqe == NULL) {
		chan_wait(ch, io);
		return;
	}
	ring_push(r, io, sqe);
	/* Nothing in the kernel would wake the group to flush this later. */
	if (r->in_kernel == 0)
		ring_flush(r);
}

/*
 * Hand free room to waiting requests, one per channel per turn: each
 * channel's requests stay in order, and a namespace with a deep queue
 * cannot hold back one with a single request.
 */
static void ring_drain_overflow(struct uring_ring *r)
{
	struct io_uring_sqe *sqe;
	struct uring_chan *ch;
	struct uring_io *io;

	while ((ch = TAILQ_FIRST(&r->waiting)) != NULL) {
		sqe = ring_get_sqe(r);
		if (sqe == NULL)
			return;
		io = TAILQ_FIRST(&ch->overflow);
		TAILQ_REMOVE(&ch->overflow, io, link);
		ch->nr_waiting--;
		TAILQ_REMOVE(&r->waiting, ch, link);
		if (TAILQ_EMPTY(&ch->overflow))
			ch->is_waiting = false;
		else
			TAILQ_INSERT_TAIL(&r->waiting, ch, link);
		ring_push(r, io, sqe);
	}
}

/* ---- the Write Zeroes / Deallocate ladder ------------------------------- */

static bool zstep_usable(const struct uring_be *ub, uint8_t step)
{
	return !(__atomic_load_n(&ub->unsupported, __ATOMIC_RELAXED) & (1u << step));
}

/* Move to the first usable method at or after @io->step. */
static void zstep_settle(struct uring_io *io)
{
	while (io->ladder[io->step] != Z_END && !zstep_usable(io->ch->ub, io->ladder[io->step]))
		io->step++;
}

/* Load range @io->range; false when there are no more. */
static bool zero_load_range(struct uring_io *io)
{
	uint32_t bs = io->ch->ub->block_size;
	uint64_t slba, nlb;

	for (; io->range < io->nr_ranges; io->range++) {
		if (nvmft_req_get_io_type(io->req) == NVMFT_IO_WRITE_ZEROES) {
			slba = nvmft_req_get_offset_blocks(io->req);
			nlb = nvmft_req_get_num_blocks(io->req);
		} else if (nvmft_req_get_range(io->req, io->range, &slba, &nlb) != 0) {
			continue;
		}
		if (nlb == 0)
			continue;
		io->off = slba * bs;
		io->len = nlb * bs;
		io->done = 0;
		io->step = 0;
		zstep_settle(io);
		return true;
	}
	return false;
}

/*
 * Synchronous methods run here; returns the result, like a CQE's res.
 * BLKDISCARD blocks the channel's thread for as long as the device takes:
 * io_uring has no asynchronous discard on the kernels this supports, and it
 * is only reached when the device cannot zero out with unmap.
 */
static int zero_sync_step(struct uring_io *io)
{
	uint64_t range[2] = { io->off, io->len };

	if (io->ladder[io->step] == Z_SKIP)
		return 0;
	if (ioctl(io->ch->ub->fd, BLKDISCARD, range) != 0)
		return -errno;
	return 0;
}

static bool zero_step_is_sync(const struct uring_io *io)
{
	uint8_t s = io->ladder[io->step];

	return !io->syncing && (s == Z_DISCARD || s == Z_SKIP);
}

/* ---- completion --------------------------------------------------------- */

/* Transient errors worth repeating the same step for. */
static bool res_retry(int res)
{
	return res == -EAGAIN || res == -EINTR;
}

/*
 * @io's step ended with @res: decide what comes next.  Returns true when
 * @io needs another step queued, false once it completed.
 */
static bool io_advance_rw(struct uring_io *io, int res)
{
	if (res_retry(res))
		return true;
	if (res == -EINVAL && io->last_direct) {
		/* Alignment the kernel did not report: fall back, do not fail. */
		io->buffered = true;
		return true;
	}
	if (res < 0) {
		io_finish(io, res);
		return false;
	}
	if (res == 0) {
		if (io->kind == K_WRITE) {
			/* No progress and no error: do not spin on it. */
			io_finish(io, -EIO);
			return false;
		}
		/* End of file: the device reads zeroes beyond it. */
		nvmft_be_iov_zero(io->iov, io->iovcnt, (size_t)io->done);
		io->done = io->len;
	}
	io->done += (uint64_t)res;
	if (io->done < io->len)
		return true;
	io_finish(io, 0);
	return false;
}

static bool io_advance_zero(struct uring_io *io, int res)
{
	struct uring_be *ub = io->ch->ub;
	uint8_t step = io->ladder[io->step];

	if (res_retry(res))
		return true;
	if (io->syncing) {
		io_finish(io, res < 0 ? res : 0);
		return false;
	}
	if (step == Z_WRITE) {
		if (res == -EINVAL && io->last_direct) {
			io->buffered = true;
			return true;
		}
		if (res == 0)
			res = -EIO;
		if (res > 0) {
			io->done += (uint64_t)res;
			if (io->done < io->len)
				return true;
			res = 0;
		}
	}
	if (step != Z_WRITE && (res == -EOPNOTSUPP || res == -EINVAL)) {
		/*
		 * Remember a method the file or device lacks (EINVAL may be this
		 * range's alignment only).  Plain writes are the last resort and
		 * are never ruled out, so a ladder always has a usable step.
		 */
		if (res == -EOPNOTSUPP)
			__atomic_fetch_or(&ub->unsupported, 1u << step, __ATOMIC_RELAXED);
		io->step++;
		zstep_settle(io);
		if (io->ladder[io->step] != Z_END)
			return true;
	}
	if (res < 0) {
		io_finish(io, res);
		return false;
	}
	io->range++;
	if (zero_load_range(io))
		return true;
	if (io->fua) {
		io->syncing = true;
		return true;
	}
	io_finish(io, 0);
	return false;
}

static bool io_advance(struct uring_io *io, int res)
{
	switch (io->kind) {
	case K_FLUSH:
		if (res_retry(res))
			return true;
		io_finish(io, res < 0 ? res : 0);
		return false;
	case K_ZERO:
		return io_advance_zero(io, res);
	default:
		return io_advance_rw(io, res);
	}
}

/* Run synchronous steps in place, then queue the first asynchronous one. */
static void io_kick(struct uring_io *io)
{
	while (io->kind == K_ZERO && zero_step_is_sync(io)) {
		if (!io_advance(io, zero_sync_step(io)))
			return;
	}
	io_queue(io);
}

/* ---- rings ---------------------------------------------------------------- */

static int ring_create(struct uring_ring **ret)
{
	struct uring_ring *r;
	int rc;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	rc = io_uring_queue_init(URING_DEPTH, &r->ring, 0);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->cq_limit = r->ring.cq.ring_entries;
	TAILQ_INIT(&r->waiting);
	TAILQ_INIT(&r->closed);
	*ret = r;
	return 0;
}

/* A CQE of a closed channel: nobody waits for it, only the memory is freed. */
static void ring_retire(struct uring_ring *r, struct uring_chan *ch)
{
	if (ch->inflight > 0)
		return;
	TAILQ_REMOVE(&r->closed, ch, link);
	chan_free(ch);
}

static void ring_destroy(struct uring_ring *r)
{
	struct io_uring_cqe *cqe;
	struct uring_io *io;
	struct uring_chan *ch;
	int rc;

	/*
	 * Every channel is closed.  The kernel must still be done with the
	 * buffers of those closed with SQEs in flight before the ring and
	 * their scratch memory go away.
	 */
	while (r->in_kernel > 0) {
		rc = io_uring_wait_cqe(&r->ring, &cqe);
		if (rc == -EINTR)
			continue;
		if (rc < 0)
			break;
		io = io_uring_cqe_get_data(cqe);
		io_uring_cqe_seen(&r->ring, cqe);
		r->in_kernel--;
		io->ch->inflight--;
	}
	/* What is left never reached the kernel. */
	while ((ch = TAILQ_FIRST(&r->closed)) != NULL) {
		TAILQ_REMOVE(&r->closed, ch, link);
		chan_free(ch);
	}
	io_uring_queue_exit(&r->ring);
	free(r);
}

static void ring_shared_destroy(struct nvmft_poll_group *pg, struct nvmft_pg_shared *sh)
{
	(void)pg;
	ring_destroy(nvmft_container_of(sh, struct uring_ring, sh));
}

/* The group's ring with a reference taken, created by its first channel. */
static int ring_get(struct nvmft_poll_group *pg, struct uring_ring **ret)
{
	struct nvmft_pg_shared *sh;
	int rc;

	if (pg != NULL) {
		sh = nvmft_pg_shared_get(pg, &uring_ops, 0);
		if (sh != NULL) {
			*ret = nvmft_container_of(sh, struct uring_ring, sh);
			return 0;
		}
	}
	rc = ring_create(ret);
	if (rc < 0 || pg == NULL)
		return rc;
	(*ret)->pg = pg;
	nvmft_pg_shared_add(pg, &(*ret)->sh, &uring_ops, 0, ring_shared_destroy);
	return 0;
}

static void ring_put(struct uring_ring *r)
{
	if (r->pg != NULL)
		nvmft_pg_shared_put(r->pg, &r->sh);
	else
		ring_destroy(r);
}

/* ---- methods ------------------------------------------------------------ */

static int uring_channel_open_pg(void *ctx, struct nvmft_poll_group *pg, void **chan)
{
	struct uring_chan *ch;
	int rc;

	ch = calloc(1, sizeof(*ch));
	if (ch == NULL)
		return -ENOMEM;
	ch->ub = ctx;
	TAILQ_INIT(&ch->free_ios);
	TAILQ_INIT(&ch->overflow);
	rc = chan_grow(ch);
	if (rc == 0)
		rc = ring_get(pg, &ch->r);
	if (rc < 0) {
		chan_free(ch);
		return rc;
	}
	ch->r->nr_chans++;
	*chan = ch;
	return 0;
}

static int uring_channel_open(void *ctx, void **chan)
{
	return uring_channel_open_pg(ctx, NULL, chan);
}

static void uring_channel_close(void *ctx, void *chan)
{
	struct uring_chan *ch = chan;
	struct uring_ring *r = ch->r;

	(void)ctx;
	/*
	 * The core closes only idle channels.  Should it not, requests
	 * waiting for room are dropped, and requests in the kernel are not
	 * completed either, but their memory must outlive the kernel's use:
	 * the channel stays on the ring until its last CQE is reaped (by
	 * another channel's poll, or when the ring goes).
	 */
	if (ch->is_waiting) {
		TAILQ_REMOVE(&r->waiting, ch, link);
		ch->is_waiting = false;
	}
	r->nr_chans--;
	if (ch->inflight > 0) {
		ring_flush(r);
		ch->closed = true;
		TAILQ_INSERT_TAIL(&r->closed, ch, link);
	} else {
		chan_free(ch);
	}
	ring_put(r);
}

static int uring_channel_poll(void *ctx, void *chan, unsigned int budget)
{
	struct uring_chan *ch = chan;
	struct uring_ring *r = ch->r;
	struct io_uring_cqe *cqe;
	struct uring_io *io;
	unsigned int n = 0;
	int res;

	(void)ctx;
	/* Any channel's completions: the first channel polled serves the whole ring. */
	while (n < budget && io_uring_peek_cqe(&r->ring, &cqe) == 0) {
		io = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		/* Seen before handling: a completion may re-enter submit(). */
		io_uring_cqe_seen(&r->ring, cqe);
		r->inflight--;
		r->in_kernel--;
		io->ch->inflight--;
		n++;
		if (nvmft_unlikely(io->ch->closed))
			ring_retire(r, io->ch);
		else if (io_advance(io, res))
			io_kick(io);
	}
	ring_drain_overflow(r);
	ring_flush(r);
	return (int)n;
}

static int uring_channel_get_fd(void *ctx, void *chan)
{
	struct uring_chan *ch = chan;

	(void)ctx;
	return ch->r->ring.ring_fd;
}

static int uring_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	struct uring_be *ub = ctx;
	struct uring_chan *ch = chan;
	enum nvmft_io_type type = nvmft_req_get_io_type(req);
	const struct iovec *iov;
	struct uring_io *io;
	uint64_t total;
	int iovcnt, rc;

	if (type < NVMFT_IO_READ || type > NVMFT_IO_COMPARE)
		return -EOPNOTSUPP;
	rc = nvmft_be_check_req(req, ub->num_blocks);
	if (rc < 0)
		return rc;
	io = io_get(ch);
	if (io == NULL)
		return -ENOMEM;
	io->req = req;
	io->fua = (nvmft_req_get_io_flags(req) & NVMFT_IO_F_FUA) != 0;
	io->off = nvmft_req_get_offset_blocks(req) * ub->block_size;
	io->len = nvmft_req_get_num_blocks(req) * ub->block_size;

	switch (type) {
	case NVMFT_IO_READ:
	case NVMFT_IO_WRITE:
		io->kind = type == NVMFT_IO_READ ? K_READ : K_WRITE;
		io->iov = nvmft_req_get_iovs(req, &io->iovcnt);
		total = nvmft_be_iov_len(io->iov, io->iovcnt);
		if (total < io->len) {
			io_put(io);
			return -EINVAL;
		}
		io->iov_exact = total == io->len;
		break;
	case NVMFT_IO_COMPARE:
		io->kind = K_COMPARE;
		iov = nvmft_req_get_iovs(req, &iovcnt);
		if (nvmft_be_iov_len(iov, iovcnt) < io->len) {
			io_put(io);
			return -EINVAL;
		}
		/* Aligned so that the read can go through O_DIRECT. */
		io->scratch = aligned_alloc(4096, NVMFT_ALIGN_UP((size_t)io->len, (size_t)4096));
		if (io->scratch == NULL) {
			io_put(io);
			return -ENOMEM;
		}
		io->scratch_iov.iov_base = io->scratch;
		io->scratch_iov.iov_len = (size_t)io->len;
		io->iov = &io->scratch_iov;
		io->iovcnt = 1;
		io->iov_exact = true;
		break;
	case NVMFT_IO_FLUSH:
		io->kind = K_FLUSH;
		break;
	default:
		io->kind = K_ZERO;
		if (type == NVMFT_IO_WRITE_ZEROES) {
			io->nr_ranges = 1;
			io->ladder = ub->is_blkdev ? ladder_dev_wz : ladder_file_wz;
		} else {
			io->nr_ranges = nvmft_req_get_range_count(req);
			io->ladder = ub->is_blkdev ? ladder_dev_dealloc : ladder_file_dealloc;
		}
		if (!zero_load_range(io)) {
			/* Only empty ranges: nothing to do. */
			io_finish(io, 0);
			return 0;
		}
		break;
	}
	io_kick(io);
	return 0;
}

static void uring_destroy(void *ctx)
{
	struct uring_be *ub = ctx;

	if (ub->zero != NULL)
		munmap(ub->zero, URING_ZERO_LEN);
	if (ub->fd_direct >= 0)
		close(ub->fd_direct);
	if (ub->fd >= 0)
		close(ub->fd);
	free(ub);
}

static const struct nvmft_backend_int_ops uring_int_ops = {
	.channel_open_pg = uring_channel_open_pg,
};

static const struct nvmft_backend_ops uring_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = uring_channel_open,
	.channel_close = uring_channel_close,
	.submit = uring_submit,
	.channel_poll = uring_channel_poll,
	.channel_get_fd = uring_channel_get_fd,
	.destroy = uring_destroy,
};

/* ---- creation ----------------------------------------------------------- */

static int uring_probe_blkdev(struct uring_be *ub, uint32_t block_size, uint64_t *size)
{
	int lbs;

	if (ioctl(ub->fd, BLKGETSIZE64, size) != 0 || ioctl(ub->fd, BLKSSZGET, &lbs) != 0)
		return -errno;
	if (lbs < 512 || (lbs & (lbs - 1)) != 0)
		return -EINVAL;
	/* Smaller blocks than the device's would make every write a read-modify-write. */
	if (block_size != 0 && block_size < (uint32_t)lbs)
		return -EINVAL;
	ub->block_size = block_size ? block_size : (uint32_t)lbs;
	ub->dio_mem_align = (uint32_t)lbs;
	ub->dio_off_align = (uint32_t)lbs;
	return 0;
}

/* Returns whether O_DIRECT is worth trying on a regular file. */
static bool uring_probe_file(struct uring_be *ub)
{
	struct statx stx;

	/* Until told otherwise, assume classic sector alignment; EINVAL corrects it. */
	ub->dio_mem_align = 512;
	ub->dio_off_align = 512;
	if (statx(ub->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) != 0 ||
	    !(stx.stx_mask & STATX_DIOALIGN))
		return true;
	if (stx.stx_dio_offset_align == 0)
		return false;
	ub->dio_mem_align = NVMFT_MAX(stx.stx_dio_mem_align, 1u);
	ub->dio_off_align = stx.stx_dio_offset_align;
	return true;
}

/* A second, O_DIRECT descriptor for the same file, or -1. */
static int uring_open_direct(const char *path, const struct stat *st)
{
	struct stat st2;
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC | O_DIRECT);
	if (fd < 0)
		return -1; /* tmpfs and friends refuse with EINVAL: stay buffered */
	/* The path may have been replaced in between; only the same inode will do. */
	if (fstat(fd, &st2) != 0 || st2.st_dev != st->st_dev || st2.st_ino != st->st_ino ||
	    st2.st_rdev != st->st_rdev) {
		close(fd);
		return -1;
	}
	return fd;
}

NVMFT_EXPORT int nvmft_backend_uring_new(const char *name, const char *path, uint32_t block_size,
					 struct nvmft_backend **ret)
{
	struct nvmft_backend_opts opts;
	struct io_uring probe;
	struct uring_be *ub;
	struct stat st;
	uint64_t size;
	bool try_direct;
	int flags = O_RDWR | O_CLOEXEC;
	int rc;

	if (name == NULL || name[0] == '\0' || path == NULL || path[0] == '\0' || ret == NULL)
		return -EINVAL;
	if (block_size != 0 && !nvmft_backend_geometry_ok(block_size, 1))
		return -EINVAL;

	ub = calloc(1, sizeof(*ub));
	if (ub == NULL)
		return -ENOMEM;
	ub->fd_direct = -1;
	/* Exclusive on block devices: exporting a mounted file system would corrupt it. */
	if (stat(path, &st) == 0 && S_ISBLK(st.st_mode))
		flags |= O_EXCL;
	ub->fd = open(path, flags);
	if (ub->fd < 0) {
		rc = -errno;
		ub->fd = -1;
		goto fail;
	}
	if (fstat(ub->fd, &st) != 0) {
		rc = -errno;
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		ub->is_blkdev = true;
		rc = uring_probe_blkdev(ub, block_size, &size);
		if (rc < 0)
			goto fail;
		try_direct = true;
	} else if (S_ISREG(st.st_mode)) {
		ub->block_size = block_size ? block_size : 512;
		size = (uint64_t)st.st_size;
		try_direct = uring_probe_file(ub);
	} else {
		rc = -EINVAL;
		goto fail;
	}
	ub->num_blocks = size / ub->block_size;
	if (!nvmft_backend_geometry_ok(ub->block_size, ub->num_blocks)) {
		rc = -EINVAL;
		goto fail;
	}
	if (try_direct)
		ub->fd_direct = uring_open_direct(path, &st);

	/* Fail now rather than on the first namespace attach if io_uring is off. */
	rc = io_uring_queue_init(2, &probe, 0);
	if (rc < 0)
		goto fail;
	io_uring_queue_exit(&probe);

	ub->zero = mmap(NULL, URING_ZERO_LEN, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			-1, 0);
	if (ub->zero == MAP_FAILED) {
		ub->zero = NULL;
		rc = -ENOMEM;
		goto fail;
	}

	nvmft_backend_opts_init(&opts, sizeof(opts));
	opts.name = name;
	opts.block_size = ub->block_size;
	opts.num_blocks = ub->num_blocks;
	opts.caps = NVMFT_BACKEND_CAP_FLUSH | NVMFT_BACKEND_CAP_FUA | NVMFT_BACKEND_CAP_WRITE_ZEROES |
		    NVMFT_BACKEND_CAP_DEALLOCATE | NVMFT_BACKEND_CAP_COMPARE;
	/* Files always end up zeroed (punch, zero range or writes); devices may only discard. */
	if (!ub->is_blkdev)
		opts.caps |= NVMFT_BACKEND_CAP_DEALLOC_ZEROES;
	rc = nvmft_backend_create(&uring_ops, ub, &opts, "uring", ret);
	if (rc < 0)
		goto fail;
	(*ret)->int_ops = &uring_int_ops;
	return 0;

fail:
	uring_destroy(ub);
	return rc;
}

/* ---- introspection ------------------------------------------------------ */

bool nvmft_uring_backend_is_direct(const struct nvmft_backend *be)
{
	const struct uring_be *ub = be->ctx;

	return be->ops == &uring_ops && ub->fd_direct >= 0;
}

void nvmft_uring_chan_counts(void *chan, uint64_t *direct, uint64_t *buffered)
{
	const struct uring_chan *ch = chan;

	*direct = ch->n_direct;
	*buffered = ch->n_buffered;
}

void nvmft_uring_chan_info(void *chan, struct nvmft_uring_chan_info *info)
{
	const struct uring_chan *ch = chan;

	info->ring = ch->r;
	info->ring_chans = ch->r->nr_chans;
	info->ring_inflight = ch->r->inflight;
	info->waiting = ch->nr_waiting;
}

unsigned int nvmft_uring_pg_ring_chans(struct nvmft_poll_group *pg)
{
	struct nvmft_pg_shared *sh = nvmft_pg_shared_find(pg, &uring_ops, 0);

	return sh ? nvmft_container_of(sh, struct uring_ring, sh)->nr_chans : 0;
}
