/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RAM backend.  The device lives in one private anonymous mapping reserved
 * without swap accounting, so a large, mostly empty device costs address
 * space only: pages appear when first written, read as zeroes until then,
 * and are handed back to the kernel when deallocated.  Every request
 * completes inside submit(); there is nothing to poll.
 *
 * Atomicity.  Identify reports AWUN 0: a write of one block must be atomic
 * with respect to any read or write of that block, from any poll group.
 * Reads without buffers are answered with pointers into our memory, and
 * the transport copies from there into the socket long after submit()
 * returned, so a write must never change memory a reader still holds.
 *
 * The device is cut into 64 KiB regions (no block straddles one: blocks
 * are powers of two of at most 64 KiB).  A region's data sits either in
 * its "home" slice of the mapping or in a heap buffer, and a table entry
 * per region says which (@cur, NULL for home).  Each region maps to one of
 * up to 1024 mutexes (stripes, one cache line each).  The rules:
 *
 *  - A zero-copy read takes, under the stripe lock and only for the pointer
 *    load and one atomic increment, a reference on the buffer currently
 *    holding each region it covers, and hands out pointers into it.  The
 *    core calls release() when the transport is done; that drops the
 *    references with atomic decrements and no lock.  A host that stops
 *    reading therefore holds references, never a lock.
 *  - A write (and a partial-region zeroing) holds the stripe lock while it
 *    copies.  When the current buffer has no reader it is written in place.
 *    Otherwise the region is copied on write: a fresh buffer gets the old
 *    contents plus the new data and becomes current; the old one stays
 *    untouched for its readers and is freed by the last of them.  The
 *    fresh buffer is the home slice when that is idle (not current, no
 *    reader) and a heap buffer otherwise, so a region that flips between a
 *    held read and a write ping-pongs between home and one heap buffer.
 *  - A copying read or a compare holds the stripe lock across its memcpy
 *    or memcmp, which orders it against writes of the same region.
 *  - A request spanning several regions takes their locks one at a time,
 *    never two at once, so there is no lock order to get wrong.  Blocks
 *    never cross regions, so every block is still read and written whole;
 *    a multi-block request is atomic per block, which is all AWUN 0 asks.
 *  - Zeroing a whole region (Deallocate, Write Zeroes) while readers hold
 *    the current buffer neither waits nor skips: the region is pointed at
 *    one shared, never-written zero region (no allocation, no copy), or at
 *    its home slice zeroed with MADV_DONTNEED when that is idle.  Without
 *    readers, home is zeroed in place by MADV_DONTNEED as before.  A write
 *    to a region showing the shared zero region copies on write from it.
 *
 * References: a heap buffer carries its count in a trailer right after its
 * 64 KiB of data and is allocated 64 KiB aligned, so release() finds the
 * trailer from any pointer it handed out by rounding down, without keeping
 * per-request state.  The count includes one for the table while the
 * buffer is current; whoever drops it to zero frees it.  Home slices are
 * never freed, so they only count readers (@home_readers).  Pointers into
 * the mapping are told apart by address.
 *
 * Cost: a one-region zero-copy read is a lock/unlock plus two atomic
 * operations (increment now, decrement at release); a write with no reader
 * in flight is a lock plus the memcpy; a write to a region being read adds
 * a 64 KiB copy and, when home is busy too, a heap buffer (usually one of
 * up to 16 spares the backend keeps, 1 MiB at most, rather than a fresh
 * allocation).
 *
 * Stripes are mutexes rather than spinlocks: readers hold them for a few
 * instructions and both cost the same uncontended, but a writer holds one
 * across a memcpy of up to 64 KiB and may be preempted there, and then
 * sleeping beats spinning on a machine with more threads than cores.
 *
 * release() reads back the entries it supplied with nvmft_req_get_iovs();
 * the core keeps them until release() returns (nvmft_req_release()).
 *
 * Memory: untouched regions cost nothing, in place writes touch only the
 * pages they write, as before.  A copy on write costs one 64 KiB buffer,
 * freed by the last reader of the old data.  A region whose data moved to
 * the heap keeps its stale home pages (64 KiB at most) until a later copy
 * on write or whole-region zeroing finds home idle and moves it back;
 * reclaiming them sooner would put a syscall or a copy on the release
 * path.  Only regions written while being read ever move, so this stays
 * small unless a device is read and written at the same spots all over.
 *
 * A zero-copy read may use at most 16 iovec entries.  Home slices of
 * neighbouring regions are contiguous and share one entry, so only a read
 * across more than 16 regions (possible above 960 KiB per command) can run
 * out, and only when copy on write left many of them in heap buffers.
 * Such a read is served from a private copy, taken region by region under
 * the locks and freed at release; the "bounces" counter says how often.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backends/backend.h"
#include "util/compiler.h"

#define MB_REGION_SHIFT 16
#define MB_MAX_STRIPES 1024u
#define MB_ZCOPY_IOV 16
#define MB_CACHE_LINE 64
#define MB_SPARE_BUFS 16

/* Follows the data of every heap region buffer. */
struct mb_tail {
	atomic_uint refs;   /* the table's while current, plus zero-copy readers */
	bool shared_zero;   /* the backend's zero region: never written or freed by refs */
};

struct mb_region {
	uint8_t *cur;               /* heap buffer holding the data; NULL: the home slice */
	atomic_uint home_readers;   /* zero-copy readers holding the home slice */
};

struct mb_stripe {
	pthread_mutex_t lock;
} __attribute__((aligned(MB_CACHE_LINE)));

/* A zero-copy read served from a private copy; the data follows. */
struct mb_bounce {
	struct mb_bounce *next;
	const struct nvmft_req *req;
	max_align_t data[];
};

struct mb_chan {
	struct mb_bounce *bounces;
};

struct malloc_be {
	uint8_t *base;
	size_t len;
	size_t page_size;
	uint32_t block_size;
	uint64_t num_blocks;
	size_t nregions;
	struct mb_region *regions;  /* MAP_NORESERVE, zero-filled: all home */
	size_t regions_len;
	struct mb_stripe *stripes;
	size_t nstripes;
	uint8_t *zero;              /* shared zero region (a heap buffer) */
	atomic_size_t published;    /* regions whose @cur is not NULL */
	atomic_uint_fast64_t cow, zero_swaps, bounces, heap_bufs;
	/* Freed heap buffers kept for the next copy on write. */
	pthread_mutex_t spare_lock;
	unsigned int nspare;
	uint8_t *spare[MB_SPARE_BUFS];
};

#define MB_REGION_SIZE ((size_t)1 << MB_REGION_SHIFT)

/* Where a write or zeroing takes its data: @iov from @off, or zeroes. */
struct mb_src {
	const struct iovec *iov;
	int iovcnt;
	size_t off;
};

static inline struct mb_tail *mb_tail(uint8_t *buf)
{
	return (struct mb_tail *)(void *)(buf + MB_REGION_SIZE);
}

static inline uint8_t *mb_home(const struct malloc_be *mb, size_t r)
{
	return mb->base + (r << MB_REGION_SHIFT);
}

static inline size_t mb_region_len(const struct malloc_be *mb, size_t r)
{
	return NVMFT_MIN(MB_REGION_SIZE, mb->len - (r << MB_REGION_SHIFT));
}

static inline bool mb_is_home(const struct malloc_be *mb, const void *p)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)mb->base;

	return a >= b && a - b < mb->len;
}

static inline pthread_mutex_t *mb_lock(struct malloc_be *mb, size_t r)
{
	return &mb->stripes[r & (mb->nstripes - 1)].lock;
}

/* Is the home slice of @rg neither current nor read?  Stripe lock held. */
static inline bool mb_home_idle(struct mb_region *rg)
{
	/* Acquire: pairs with the readers' release, their accesses are over. */
	return rg->cur != NULL &&
	       atomic_load_explicit(&rg->home_readers, memory_order_acquire) == 0;
}

/* May the current buffer of @rg be changed in place?  Stripe lock held. */
static inline bool mb_in_place(struct mb_region *rg)
{
	if (rg->cur == NULL)
		return atomic_load_explicit(&rg->home_readers, memory_order_acquire) == 0;
	return !mb_tail(rg->cur)->shared_zero &&
	       atomic_load_explicit(&mb_tail(rg->cur)->refs, memory_order_acquire) == 1;
}

/* ---- Heap region buffers -------------------------------------------------------------------- */

/*
 * A heap buffer with one reference (the table's, once published).  glibc
 * serves a 64 KiB aligned allocation with mmap() and munmap() every time,
 * page faults included, which made a held read plus a copy on write cost
 * about 20 us instead of 2; a few spare buffers kept back avoid that.
 */
static uint8_t *mb_buf_alloc(struct malloc_be *mb)
{
	void *p = NULL;

	pthread_mutex_lock(&mb->spare_lock);
	if (mb->nspare > 0)
		p = mb->spare[--mb->nspare];
	pthread_mutex_unlock(&mb->spare_lock);
	if (p == NULL &&
	    posix_memalign(&p, MB_REGION_SIZE, MB_REGION_SIZE + sizeof(struct mb_tail)) != 0)
		return NULL;
	atomic_init(&mb_tail(p)->refs, 1);
	mb_tail(p)->shared_zero = false;
	atomic_fetch_add_explicit(&mb->heap_bufs, 1, memory_order_relaxed);
	return p;
}

static void mb_buf_put(struct malloc_be *mb, uint8_t *buf)
{
	if (atomic_fetch_sub_explicit(&mb_tail(buf)->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* Only the zero region's own reference, dropped at destroy, lands here for it. */
	if (mb_tail(buf)->shared_zero) {
		free(buf);
		return;
	}
	atomic_fetch_sub_explicit(&mb->heap_bufs, 1, memory_order_relaxed);
	pthread_mutex_lock(&mb->spare_lock);
	if (mb->nspare < MB_SPARE_BUFS) {
		mb->spare[mb->nspare++] = buf;
		buf = NULL;
	}
	pthread_mutex_unlock(&mb->spare_lock);
	free(buf);
}

/*
 * Make @buf (NULL: home) the current buffer of @rg and drop the table's
 * reference on the old one.  A fresh heap buffer comes with the table's
 * reference; the zero region gets one here.  Stripe lock held.
 */
static void mb_publish(struct malloc_be *mb, struct mb_region *rg, uint8_t *buf)
{
	uint8_t *old = rg->cur;

	if (buf != NULL && mb_tail(buf)->shared_zero)
		atomic_fetch_add_explicit(&mb_tail(buf)->refs, 1, memory_order_relaxed);
	rg->cur = buf;
	if (old == NULL && buf != NULL)
		atomic_fetch_add_explicit(&mb->published, 1, memory_order_relaxed);
	else if (old != NULL && buf == NULL)
		atomic_fetch_sub_explicit(&mb->published, 1, memory_order_relaxed);
	if (old != NULL)
		mb_buf_put(mb, old);
}

/* Drop the references a zero-copy read took for the entries @iov. */
static void mb_unref_iovs(struct malloc_be *mb, const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++) {
		uint8_t *p = iov[i].iov_base;

		if (mb_is_home(mb, p)) {
			size_t off = (size_t)(p - mb->base);
			size_t first = off >> MB_REGION_SHIFT;
			size_t last = (off + iov[i].iov_len - 1) >> MB_REGION_SHIFT;

			for (size_t r = first; r <= last; r++)
				atomic_fetch_sub_explicit(&mb->regions[r].home_readers, 1,
							  memory_order_release);
		} else {
			uintptr_t start = (uintptr_t)p & ~(uintptr_t)(MB_REGION_SIZE - 1);

			/* Heap buffers are region aligned: round down to the start. */
			mb_buf_put(mb, (uint8_t *)start);
		}
	}
}

/* ---- Modifying a region --------------------------------------------------------------------- */

/*
 * Zero [p, p + len) of the home mapping: whole pages go back to the kernel
 * (and cost no memory until written again), partial pages at either edge
 * are cleared by hand.  Nobody may be reading it.
 */
static void mb_zero_home(const struct malloc_be *mb, uint8_t *p, size_t len)
{
	size_t pg = mb->page_size;
	size_t off = (size_t)(p - mb->base);
	size_t start = NVMFT_ALIGN_UP(off, pg);
	size_t end = (off + len) & ~(pg - 1);

	if (start >= end) {
		memset(p, 0, len);
		return;
	}
	memset(p, 0, start - off);
	memset(mb->base + end, 0, off + len - end);
	if (madvise(mb->base + start, end - start, MADV_DONTNEED) != 0)
		memset(mb->base + start, 0, end - start);
}

/* Put @src's bytes (or zeroes) at [@a, @b) of @data, a buffer nobody reads. */
static void mb_apply(const struct malloc_be *mb, uint8_t *data, bool home, size_t a, size_t b,
		     const struct mb_src *src)
{
	if (a == b)
		return;
	if (src->iov != NULL)
		nvmft_be_iov_copy_from(src->iov, src->iovcnt, src->off, data + a, b - a);
	else if (home)
		mb_zero_home(mb, data + a, b - a);
	else
		memset(data + a, 0, b - a);
}

/*
 * Write [@a, @b) of region @r from @src (zeroes when it has no iovec),
 * in place or by copy on write.  Returns 0 or -ENOMEM.
 */
static int mb_region_modify(struct malloc_be *mb, size_t r, size_t a, size_t b,
			    const struct mb_src *src)
{
	struct mb_region *rg = &mb->regions[r];
	pthread_mutex_t *lock = mb_lock(mb, r);
	size_t rlen = mb_region_len(mb, r);
	const struct mb_src zeroes = { 0 };
	uint8_t *old, *dst, *to;
	bool from_zero;

	pthread_mutex_lock(lock);
	old = rg->cur;
	if (mb_in_place(rg)) {
		mb_apply(mb, old ? old : mb_home(mb, r), old == NULL, a, b, src);
		pthread_mutex_unlock(lock);
		return 0;
	}
	from_zero = old != NULL && mb_tail(old)->shared_zero;
	if (from_zero && src->iov == NULL) {
		pthread_mutex_unlock(lock);
		return 0; /* zeroes over zeroes */
	}
	/* Copy on write, into the home slice when it is idle. */
	if (mb_home_idle(rg)) {
		dst = NULL;
		to = mb_home(mb, r);
	} else {
		dst = mb_buf_alloc(mb);
		if (dst == NULL) {
			pthread_mutex_unlock(lock);
			return -ENOMEM;
		}
		to = dst;
	}
	if (from_zero) {
		mb_apply(mb, to, dst == NULL, 0, a, &zeroes);
		mb_apply(mb, to, dst == NULL, b, rlen, &zeroes);
	} else {
		const uint8_t *from = old ? old : mb_home(mb, r);

		memcpy(to, from, a);
		memcpy(to + b, from + b, rlen - b);
	}
	mb_apply(mb, to, dst == NULL, a, b, src);
	mb_publish(mb, rg, dst);
	atomic_fetch_add_explicit(&mb->cow, 1, memory_order_relaxed);
	pthread_mutex_unlock(lock);
	return 0;
}

/*
 * Zero all of region @r.  Readers keep what they hold: the region moves to
 * its idle home slice, zeroed by the kernel, or else to the zero region.
 */
static void mb_region_zero_all(struct malloc_be *mb, size_t r)
{
	struct mb_region *rg = &mb->regions[r];
	pthread_mutex_t *lock = mb_lock(mb, r);

	pthread_mutex_lock(lock);
	if (rg->cur == NULL) {
		if (mb_in_place(rg)) {
			mb_zero_home(mb, mb_home(mb, r), mb_region_len(mb, r));
		} else {
			mb_publish(mb, rg, mb->zero);
			atomic_fetch_add_explicit(&mb->zero_swaps, 1, memory_order_relaxed);
		}
	} else if (mb_home_idle(rg)) {
		mb_zero_home(mb, mb_home(mb, r), mb_region_len(mb, r));
		mb_publish(mb, rg, NULL);
	} else if (!mb_tail(rg->cur)->shared_zero) {
		mb_publish(mb, rg, mb->zero);
		atomic_fetch_add_explicit(&mb->zero_swaps, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(lock);
}

/* Write or zero the bytes [@off, @off + @len), one region at a time. */
static int mb_modify(struct malloc_be *mb, size_t off, size_t len, const struct iovec *iov,
		     int iovcnt)
{
	size_t end = off + len;

	for (size_t pos = off; pos < end;) {
		size_t r = pos >> MB_REGION_SHIFT, rbase = r << MB_REGION_SHIFT;
		size_t a = pos - rbase, b = NVMFT_MIN(end - rbase, mb_region_len(mb, r));
		struct mb_src src = { .iov = iov, .iovcnt = iovcnt, .off = pos - off };
		int rc;

		if (iov == NULL && a == 0 && b == mb_region_len(mb, r)) {
			mb_region_zero_all(mb, r);
		} else {
			rc = mb_region_modify(mb, r, a, b, &src);
			if (rc < 0)
				return rc;
		}
		pos = rbase + b;
	}
	return 0;
}

/* ---- Reading -------------------------------------------------------------------------------- */

/* Does @iov from @off hold the @len bytes at @buf? */
static bool mb_iov_equal_at(const struct iovec *iov, int iovcnt, size_t off, const uint8_t *buf,
			    size_t len)
{
	for (int i = 0; i < iovcnt && len > 0; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = NVMFT_MIN(l - off, len);
		if (memcmp((const uint8_t *)iov[i].iov_base + off, buf, l) != 0)
			return false;
		buf += l;
		len -= l;
		off = 0;
	}
	return len == 0;
}

enum mb_xfer { MB_COPY_TO_IOV, MB_COMPARE_IOV, MB_COPY_TO_FLAT };

/*
 * Move [@off, @off + @len) into @iov (or @flat), or compare it with @iov,
 * holding each region's lock across its part.  Returns false on a mismatch.
 */
static bool mb_xfer(struct malloc_be *mb, size_t off, size_t len, enum mb_xfer how,
		    const struct iovec *iov, int iovcnt, uint8_t *flat)
{
	size_t end = off + len;
	bool same = true;

	for (size_t pos = off; pos < end && same;) {
		size_t r = pos >> MB_REGION_SHIFT, rbase = r << MB_REGION_SHIFT;
		size_t a = pos - rbase, b = NVMFT_MIN(end - rbase, mb_region_len(mb, r));
		pthread_mutex_t *lock = mb_lock(mb, r);
		const uint8_t *data;

		pthread_mutex_lock(lock);
		data = mb->regions[r].cur ? mb->regions[r].cur : mb_home(mb, r);
		if (how == MB_COPY_TO_IOV)
			nvmft_be_iov_copy_to(iov, iovcnt, pos - off, data + a, b - a);
		else if (how == MB_COMPARE_IOV)
			same = mb_iov_equal_at(iov, iovcnt, pos - off, data + a, b - a);
		else
			memcpy(flat + (pos - off), data + a, b - a);
		pthread_mutex_unlock(lock);
		pos = rbase + b;
	}
	return same;
}

/* Too many pieces for a zero-copy answer: send a private copy instead. */
static int mb_read_bounce(struct malloc_be *mb, struct mb_chan *ch, struct nvmft_req *req,
			  size_t off, size_t len)
{
	struct mb_bounce *bc = malloc(sizeof(*bc) + len);
	struct iovec iov;
	int rc;

	if (bc == NULL)
		return -ENOMEM;
	mb_xfer(mb, off, len, MB_COPY_TO_FLAT, NULL, 0, (uint8_t *)bc->data);
	iov.iov_base = bc->data;
	iov.iov_len = len;
	rc = nvmft_req_set_iovs(req, &iov, 1);
	if (rc < 0) {
		free(bc);
		return rc;
	}
	bc->req = req;
	bc->next = ch->bounces;
	ch->bounces = bc;
	atomic_fetch_add_explicit(&mb->bounces, 1, memory_order_relaxed);
	return 0;
}

/*
 * Answer a read without buffers with pointers to the current buffers of
 * the regions it covers, each referenced until release().
 */
static int mb_read_zcopy(struct malloc_be *mb, struct mb_chan *ch, struct nvmft_req *req,
			 size_t off, size_t len)
{
	struct iovec iov[MB_ZCOPY_IOV];
	size_t end = off + len;
	bool last_home = false;
	int n = 0, rc;

	for (size_t pos = off; pos < end;) {
		size_t r = pos >> MB_REGION_SHIFT, rbase = r << MB_REGION_SHIFT;
		size_t a = pos - rbase, b = NVMFT_MIN(end - rbase, mb_region_len(mb, r));
		struct mb_region *rg = &mb->regions[r];
		pthread_mutex_t *lock = mb_lock(mb, r);
		uint8_t *cur;

		pthread_mutex_lock(lock);
		cur = rg->cur;
		if (cur == NULL)
			atomic_fetch_add_explicit(&rg->home_readers, 1, memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&mb_tail(cur)->refs, 1, memory_order_relaxed);
		pthread_mutex_unlock(lock);

		/* Home slices of neighbouring regions are contiguous: one entry. */
		if (cur == NULL && last_home) {
			iov[n - 1].iov_len += b - a;
		} else if (n == MB_ZCOPY_IOV) {
			struct iovec extra = { .iov_base = (cur ? cur : mb_home(mb, r)) + a,
					       .iov_len = b - a };

			mb_unref_iovs(mb, &extra, 1);
			mb_unref_iovs(mb, iov, n);
			return mb_read_bounce(mb, ch, req, off, len);
		} else {
			iov[n].iov_base = (cur ? cur : mb_home(mb, r)) + a;
			iov[n].iov_len = b - a;
			n++;
		}
		last_home = cur == NULL;
		pos = rbase + b;
	}
	rc = nvmft_req_set_iovs(req, iov, n);
	if (rc < 0)
		mb_unref_iovs(mb, iov, n);
	return rc;
}

/* ---- Backend methods ------------------------------------------------------------------------ */

static int malloc_channel_open(void *ctx, void **chan)
{
	struct mb_chan *ch = calloc(1, sizeof(*ch));

	(void)ctx;
	if (ch == NULL)
		return -ENOMEM;
	*chan = ch;
	return 0;
}

static void malloc_channel_close(void *ctx, void *chan)
{
	struct mb_chan *ch = chan;

	(void)ctx;
	/* Nothing is outstanding on a closing channel, so no bounce either. */
	while (ch->bounces != NULL) {
		struct mb_bounce *bc = ch->bounces;

		ch->bounces = bc->next;
		free(bc);
	}
	free(ch);
}

static void malloc_release(void *ctx, void *chan, struct nvmft_req *req)
{
	struct malloc_be *mb = ctx;
	struct mb_chan *ch = chan;
	const struct iovec *iov;
	int iovcnt;

	if (nvmft_unlikely(ch->bounces != NULL)) {
		for (struct mb_bounce **pp = &ch->bounces; *pp != NULL; pp = &(*pp)->next) {
			struct mb_bounce *bc = *pp;

			if (bc->req == req) {
				*pp = bc->next;
				free(bc);
				return;
			}
		}
	}
	iov = nvmft_req_get_iovs(req, &iovcnt);
	mb_unref_iovs(mb, iov, iovcnt);
}

static int malloc_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	struct malloc_be *mb = ctx;
	const struct iovec *iov;
	uint64_t slba, nlb;
	size_t off, len;
	int iovcnt, rc;
	int err = 0;

	/* The core checked the range already; a bad one here would corrupt memory. */
	rc = nvmft_be_check_req(req, mb->num_blocks);
	if (rc < 0)
		return rc;
	off = (size_t)nvmft_req_get_offset_blocks(req) * mb->block_size;
	len = (size_t)nvmft_req_get_num_blocks(req) * mb->block_size;
	iov = nvmft_req_get_iovs(req, &iovcnt);

	switch (nvmft_req_get_io_type(req)) {
	case NVMFT_IO_READ:
		if (iovcnt == 0) {
			rc = mb_read_zcopy(mb, chan, req, off, len);
			if (rc < 0)
				return rc;
			break;
		}
		if (nvmft_be_iov_len(iov, iovcnt) < len)
			return -EINVAL;
		mb_xfer(mb, off, len, MB_COPY_TO_IOV, iov, iovcnt, NULL);
		break;
	case NVMFT_IO_WRITE:
		/* RAM is as durable as it gets here, so FUA needs nothing more. */
		if (nvmft_be_iov_len(iov, iovcnt) < len)
			return -EINVAL;
		err = mb_modify(mb, off, len, iov, iovcnt);
		break;
	case NVMFT_IO_COMPARE:
		if (nvmft_be_iov_len(iov, iovcnt) < len)
			return -EINVAL;
		if (!mb_xfer(mb, off, len, MB_COMPARE_IOV, iov, iovcnt, NULL))
			err = -EILSEQ;
		break;
	case NVMFT_IO_FLUSH:
		break;
	case NVMFT_IO_WRITE_ZEROES:
		err = mb_modify(mb, off, len, NULL, 0);
		break;
	case NVMFT_IO_DEALLOCATE:
		for (uint32_t i = 0; i < nvmft_req_get_range_count(req) && err == 0; i++) {
			nvmft_req_get_range(req, i, &slba, &nlb);
			if (nlb != 0)
				err = mb_modify(mb, slba * mb->block_size, nlb * mb->block_size,
						NULL, 0);
		}
		break;
	default:
		return -EOPNOTSUPP;
	}
	nvmft_req_complete(req, err);
	return 0;
}

static void malloc_destroy(void *ctx)
{
	struct malloc_be *mb = ctx;
	size_t left;

	/* No reader is in flight any more: each heap buffer is referenced by its region only. */
	left = atomic_load(&mb->published);
	for (size_t r = 0; r < mb->nregions && left > 0; r++) {
		if (mb->regions[r].cur != NULL) {
			mb_buf_put(mb, mb->regions[r].cur);
			left--;
		}
	}
	if (mb->zero != NULL)
		mb_buf_put(mb, mb->zero);
	while (mb->nspare > 0)
		free(mb->spare[--mb->nspare]);
	pthread_mutex_destroy(&mb->spare_lock);
	for (size_t i = 0; i < mb->nstripes; i++)
		pthread_mutex_destroy(&mb->stripes[i].lock);
	free(mb->stripes);
	if (mb->regions != NULL)
		munmap(mb->regions, mb->regions_len);
	if (mb->base != NULL)
		munmap(mb->base, mb->len);
	free(mb);
}

static const struct nvmft_backend_ops malloc_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = malloc_channel_open,
	.channel_close = malloc_channel_close,
	.submit = malloc_submit,
	.release = malloc_release,
	.destroy = malloc_destroy,
};

void nvmft_malloc_backend_stats(const struct nvmft_backend *be, struct nvmft_malloc_stats *st)
{
	struct malloc_be *mb = be->ctx;

	st->region_size = MB_REGION_SIZE;
	st->cow = atomic_load_explicit(&mb->cow, memory_order_relaxed);
	st->zero_swaps = atomic_load_explicit(&mb->zero_swaps, memory_order_relaxed);
	st->bounces = atomic_load_explicit(&mb->bounces, memory_order_relaxed);
	st->heap_bufs = atomic_load_explicit(&mb->heap_bufs, memory_order_relaxed);
}

/* Region table, stripe locks and the zero region; 0 or -ENOMEM. */
static int mb_init_regions(struct malloc_be *mb)
{
	size_t n;
	void *p;

	mb->nregions = NVMFT_DIV_ROUND_UP(mb->len, MB_REGION_SIZE);
	mb->regions_len = mb->nregions * sizeof(*mb->regions);
	/* Zero-filled and lazy like the data: an untouched region costs nothing. */
	p = mmap(NULL, mb->regions_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	mb->regions = p;

	n = 1;
	while (n < mb->nregions && n < MB_MAX_STRIPES)
		n <<= 1;
	if (posix_memalign(&p, MB_CACHE_LINE, n * sizeof(*mb->stripes)) != 0)
		return -ENOMEM;
	mb->stripes = p;
	mb->nstripes = n;
	for (size_t i = 0; i < mb->nstripes; i++)
		pthread_mutex_init(&mb->stripes[i].lock, NULL);

	mb->zero = mb_buf_alloc(mb);
	if (mb->zero == NULL)
		return -ENOMEM;
	atomic_fetch_sub_explicit(&mb->heap_bufs, 1, memory_order_relaxed);
	memset(mb->zero, 0, MB_REGION_SIZE);
	mb_tail(mb->zero)->shared_zero = true;
	return 0;
}

NVMFT_EXPORT int nvmft_backend_malloc_new(const char *name, uint64_t num_blocks, uint32_t block_size,
					  struct nvmft_backend **ret)
{
	struct nvmft_backend_opts opts;
	struct malloc_be *mb;
	long pg;
	int rc;

	/* Check before reserving what may be terabytes of address space. */
	if (name == NULL || name[0] == '\0' || ret == NULL ||
	    !nvmft_backend_geometry_ok(block_size, num_blocks) ||
	    num_blocks > SIZE_MAX / block_size)
		return -EINVAL;
	pg = sysconf(_SC_PAGESIZE);
	if (pg <= 0)
		pg = 4096;

	mb = calloc(1, sizeof(*mb));
	if (mb == NULL)
		return -ENOMEM;
	mb->page_size = (size_t)pg;
	mb->block_size = block_size;
	mb->num_blocks = num_blocks;
	mb->len = (size_t)(num_blocks * block_size);
	mb->base = mmap(NULL, mb->len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mb->base == MAP_FAILED) {
		free(mb);
		return -ENOMEM;
	}
	pthread_mutex_init(&mb->spare_lock, NULL);
	rc = mb_init_regions(mb);
	if (rc < 0) {
		malloc_destroy(mb);
		return rc;
	}

	nvmft_backend_opts_init(&opts, sizeof(opts));
	opts.name = name;
	opts.block_size = block_size;
	opts.num_blocks = num_blocks;
	/*
	 * No volatile cache, so no FLUSH capability: the core answers Flush
	 * itself.  Writes are durable (for RAM) when they complete, so FUA holds.
	 */
	opts.caps = NVMFT_BACKEND_CAP_FUA | NVMFT_BACKEND_CAP_WRITE_ZEROES |
		    NVMFT_BACKEND_CAP_DEALLOCATE | NVMFT_BACKEND_CAP_DEALLOC_ZEROES |
		    NVMFT_BACKEND_CAP_COMPARE | NVMFT_BACKEND_CAP_ZCOPY_READ;
	rc = nvmft_backend_create(&malloc_ops, mb, &opts, "malloc", ret);
	if (rc < 0)
		malloc_destroy(mb);
	return rc;
}
