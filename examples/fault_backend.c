/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fault backend (fault_backend.h): a public-vtable wrapper that acts on
 * requests before its inner backend sees them, plus the two stores it can
 * own (RAM and null), which are ordinary public-vtable backends themselves.
 *
 * Per channel: a timerfd armed for the earliest held request, an eventfd a
 * release from another thread writes to, and an epoll set of both plus the
 * inner channel's descriptor, which is what channel_get_fd hands out.
 * channel_poll releases, fires due timers, then polls the inner channel.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "fault_backend.h"

#define FB_MAGIC 0x46426b64u /* "FBkd" */
/* What a short read leaves in the part of a foreign backend's buffers it "did". */
#define FB_POISON 0xdb

/* ---- Rule sets: immutable once published, shared by the channels -------- */

struct ruleset {
	atomic_uint refs;
	struct fault_rules r;
	atomic_uint_fast64_t seen[FAULT_MAX_RULES];  /* matches, for nth= */
	atomic_uint_fast64_t fired[FAULT_MAX_RULES]; /* hits, for count= */
};

static void ruleset_put(struct ruleset *rs)
{
	if (rs != NULL && atomic_fetch_sub(&rs->refs, 1) == 1)
		free(rs);
}

static int ruleset_new(const char *spec, char *err, size_t errlen, struct ruleset **ret)
{
	struct ruleset *rs = calloc(1, sizeof(*rs));
	int rc;

	if (rs == NULL)
		return -ENOMEM;
	fault_rules_init(&rs->r);
	rc = fault_rules_parse(&rs->r, spec, err, errlen);
	if (rc < 0) {
		free(rs);
		return rc;
	}
	atomic_init(&rs->refs, 1);
	*ret = rs;
	return 0;
}

/* ---- Stores -------------------------------------------------------------- */

struct fstore {
	enum fault_store kind;
	uint8_t *mem; /* RAM only */
	size_t bytes;
	uint32_t bs;
	uint64_t blocks;
};

static bool range_ok(const struct fstore *st, uint64_t slba, uint64_t nlb)
{
	return slba <= st->blocks && nlb <= st->blocks - slba;
}

static void iov_copy_to(const struct iovec *iov, int cnt, const uint8_t *src, size_t len)
{
	for (int i = 0; i < cnt && len > 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (src != NULL)
			memcpy(iov[i].iov_base, src, n);
		else
			memset(iov[i].iov_base, 0, n);
		if (src != NULL)
			src += n;
		len -= n;
	}
}

static void iov_copy_from(const struct iovec *iov, int cnt, uint8_t *dst, size_t len)
{
	for (int i = 0; i < cnt && len > 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(dst, iov[i].iov_base, n);
		dst += n;
		len -= n;
	}
}

static void iov_fill(const struct iovec *iov, int cnt, int byte, size_t len)
{
	for (int i = 0; i < cnt && len > 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		memset(iov[i].iov_base, byte, n);
		len -= n;
	}
}

/* Do the first @len bytes of @iov equal @mem (zeroes when @mem is NULL)? */
static bool iov_equal(const struct iovec *iov, int cnt, const uint8_t *mem, size_t len)
{
	for (int i = 0; i < cnt && len > 0; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (mem != NULL) {
			if (memcmp(p, mem, n) != 0)
				return false;
			mem += n;
		} else {
			for (size_t k = 0; k < n; k++)
				if (p[k] != 0)
					return false;
		}
		len -= n;
	}
	return len == 0;
}

/* Zero blocks; whole pages go back to the kernel, so zeroed space costs no memory. */
static void store_zero(struct fstore *st, uint64_t slba, uint64_t nlb)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *p, *end, *a, *b;

	if (st->mem == NULL || nlb == 0)
		return;
	p = st->mem + slba * st->bs;
	end = p + nlb * st->bs;
	a = (uint8_t *)(((uintptr_t)p + pg - 1) & ~(uintptr_t)(pg - 1));
	b = (uint8_t *)((uintptr_t)end & ~(uintptr_t)(pg - 1));
	if (a < b && madvise(a, (size_t)(b - a), MADV_DONTNEED) == 0) {
		memset(p, 0, (size_t)(a - p));
		memset(b, 0, (size_t)(end - b));
	} else {
		memset(p, 0, (size_t)(end - p));
	}
}

/* 0 or an errno to complete with; -ERANGE / -EOPNOTSUPP mean "not started". */
static int store_do(struct fstore *st, struct nvmft_req *req, bool *started)
{
	enum nvmft_io_type t = nvmft_req_get_io_type(req);
	uint64_t slba = nvmft_req_get_offset_blocks(req), nlb = nvmft_req_get_num_blocks(req);
	uint8_t *mem = NULL;
	size_t len = 0;
	const struct iovec *iov;
	struct iovec z;
	int cnt;

	*started = false;
	if (t != NVMFT_IO_FLUSH && t != NVMFT_IO_DEALLOCATE) {
		if (nlb == 0 || !range_ok(st, slba, nlb))
			return -ERANGE;
		len = (size_t)(nlb * st->bs);
		if (st->mem != NULL)
			mem = st->mem + slba * st->bs;
	}
	iov = nvmft_req_get_iovs(req, &cnt);
	switch (t) {
	case NVMFT_IO_READ:
		*started = true;
		if (cnt == 0 && mem != NULL) {
			z.iov_base = mem;
			z.iov_len = len;
			return nvmft_req_set_iovs(req, &z, 1);
		}
		iov_copy_to(iov, cnt, mem, len);
		return 0;
	case NVMFT_IO_WRITE:
		*started = true;
		if (mem != NULL)
			iov_copy_from(iov, cnt, mem, len);
		return 0;
	case NVMFT_IO_FLUSH:
		*started = true;
		return 0;
	case NVMFT_IO_WRITE_ZEROES:
		*started = true;
		store_zero(st, slba, nlb);
		return 0;
	case NVMFT_IO_DEALLOCATE:
		for (uint32_t i = 0; i < nvmft_req_get_range_count(req); i++) {
			uint64_t a, n;

			if (nvmft_req_get_range(req, i, &a, &n) < 0 || !range_ok(st, a, n))
				return -ERANGE;
		}
		*started = true;
		for (uint32_t i = 0; i < nvmft_req_get_range_count(req); i++) {
			uint64_t a, n;

			nvmft_req_get_range(req, i, &a, &n);
			store_zero(st, a, n);
		}
		return 0;
	case NVMFT_IO_COMPARE:
		*started = true;
		return iov_equal(iov, cnt, mem, len) ? 0 : -EILSEQ;
	}
	return -EOPNOTSUPP;
}

static int store_open(void *ctx, void **chan)
{
	*chan = ctx;
	return 0;
}

static void store_close(void *ctx, void *chan)
{
	(void)ctx;
	(void)chan;
}

static int store_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	bool started;
	int rc = store_do(ctx, req, &started);

	(void)chan;
	if (!started)
		return rc;
	nvmft_req_complete(req, rc);
	return 0;
}

static void store_destroy(void *ctx)
{
	struct fstore *st = ctx;

	if (st->mem != NULL)
		munmap(st->mem, st->bytes);
	free(st);
}

static const struct nvmft_backend_ops store_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = store_open,
	.channel_close = store_close,
	.submit = store_submit,
	.destroy = store_destroy,
};

/* ---- The wrapper ---------------------------------------------------------- */

struct held {
	struct nvmft_req *req;
	uint64_t due;              /* CLOCK_MONOTONIC ms; 0 = until released */
	enum fault_action action;  /* the rule that holds it */
	int err;                   /* FAIL, SHORT */
	TAILQ_ENTRY(held) link;
};
TAILQ_HEAD(held_list, held);

struct fb_chan {
	struct fault_backend *fb;
	void *ichan;
	bool ipoll;                /* the inner backend has channel_poll */
	bool ichan_open;
	int tfd;                   /* timerfd: earliest held request */
	int efd;                   /* eventfd: a release was asked for */
	int epfd;                  /* what channel_get_fd returns, or -1 */
	uint64_t armed;            /* deadline tfd is set to (ms), 0 = disarmed */
	atomic_bool release_pending;
	/*
	 * Our own methods on the stack, and a close that came meanwhile: the
	 * core can close a channel from inside a completion we make (the last
	 * request of a namespace being removed, on a dead connection), so the
	 * close waits until the outermost method returns.
	 */
	unsigned int depth;
	bool closed;
	struct ruleset *rules;
	unsigned int rules_gen;
	uint64_t rng;
	struct held_list timed;    /* by due time */
	struct held_list parked;   /* hung until released */
	struct held_list due;      /* to act on at the next poll */
	struct held_list spare;
	LIST_ENTRY(fb_chan) link;  /* fb->chans, under fb->lock */
};

struct fb_counters {
	atomic_uint_fast64_t submitted, by_type[8], forwarded, failed, shortened, delayed, hung,
		held_now, hung_now, channels;
};

struct fault_backend {
	uint32_t magic;
	const struct nvmft_backend_ops *iops;
	void *ictx;
	struct fstore *store;       /* the inner backend, when it is our own store */
	uint32_t block_size;
	uint64_t seed;
	pthread_mutex_t lock;       /* @rules, @chans */
	struct ruleset *rules;
	atomic_uint rules_gen;
	atomic_uint next_chan;
	LIST_HEAD(, fb_chan) chans;
	struct fb_counters c;
};

#define CNT_ADD(fb, f, v) atomic_fetch_add_explicit(&(fb)->c.f, (v), memory_order_relaxed)
#define CNT_SUB(fb, f, v) atomic_fetch_sub_explicit(&(fb)->c.f, (v), memory_order_relaxed)
#define CNT_GET(fb, f) atomic_load_explicit(&(fb)->c.f, memory_order_relaxed)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* splitmix64: spreads a seed over the state of the per-channel generator. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* xorshift64*: per channel, so draws need no lock and repeat for a seed. */
static uint64_t chan_rand(struct fb_chan *ch)
{
	uint64_t x = ch->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	ch->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Rules changed since this channel looked: take the new set. */
static void chan_refresh_rules(struct fb_chan *ch)
{
	struct fault_backend *fb = ch->fb;
	struct ruleset *old;

	if (atomic_load_explicit(&fb->rules_gen, memory_order_acquire) == ch->rules_gen)
		return;
	pthread_mutex_lock(&fb->lock);
	old = ch->rules;
	ch->rules = fb->rules;
	atomic_fetch_add(&ch->rules->refs, 1);
	ch->rules_gen = atomic_load(&fb->rules_gen);
	pthread_mutex_unlock(&fb->lock);
	ruleset_put(old);
}

/* Do @req's blocks meet the rule's LBA range?  Flush has no blocks. */
static bool req_meets_lba(const struct nvmft_req *req, enum nvmft_io_type t,
			  const struct fault_rule *r)
{
	uint64_t a, n;

	if (!r->has_lba)
		return true;
	if (t == NVMFT_IO_DEALLOCATE) {
		for (uint32_t i = 0; i < nvmft_req_get_range_count(req); i++)
			if (nvmft_req_get_range(req, i, &a, &n) == 0 && n != 0 &&
			    a <= r->lba_last && (r->lba_first < a || r->lba_first - a < n))
				return true;
		return false;
	}
	if (t == NVMFT_IO_FLUSH)
		return false;
	a = nvmft_req_get_offset_blocks(req);
	n = nvmft_req_get_num_blocks(req);
	/* [a, a + n) meets [first, last]: a <= last and first < a + n, without overflow. */
	return n != 0 && a <= r->lba_last && (r->lba_first < a || r->lba_first - a < n);
}

/* The first rule that fires for @req, copied out (the set may change under re-entry). */
static bool chan_match(struct fb_chan *ch, const struct nvmft_req *req, enum nvmft_io_type t,
		       struct fault_rule *out)
{
	struct ruleset *rs = ch->rules;

	for (unsigned int i = 0; i < rs->r.n; i++) {
		const struct fault_rule *r = &rs->r.rule[i];

		if (!(r->types & FAULT_TYPE_BIT(t)) || !req_meets_lba(req, t, r))
			continue;
		if (r->nth != 0 && atomic_fetch_add(&rs->seen[i], 1) + 1 != r->nth)
			continue;
		if (r->has_rate && !r->rate_always && chan_rand(ch) >= r->rate)
			continue;
		if (r->count != 0 && atomic_fetch_add(&rs->fired[i], 1) >= r->count)
			continue;
		*out = *r;
		return true;
	}
	return false;
}

/* Set the timer for the earliest held request (at once while some are due). */
static void chan_arm(struct fb_chan *ch)
{
	struct itimerspec its = { 0 };
	uint64_t want = 0, cnt;

	if (!TAILQ_EMPTY(&ch->due))
		want = 1; /* a time long past: readable at once */
	else if (!TAILQ_EMPTY(&ch->timed))
		want = TAILQ_FIRST(&ch->timed)->due;
	if (ch->armed != 0 && ch->armed <= now_ms()) {
		/* It fired: clear its readiness, or event-driven groups would spin. */
		if (read(ch->tfd, &cnt, sizeof(cnt)) < 0)
			cnt = 0;
		ch->armed = 0;
	}
	if (want == ch->armed)
		return;
	its.it_value.tv_sec = (time_t)(want / 1000);
	its.it_value.tv_nsec = (long)(want % 1000) * 1000000L;
	timerfd_settime(ch->tfd, want ? TFD_TIMER_ABSTIME : 0, &its, NULL);
	ch->armed = want;
}

static int chan_hold(struct fb_chan *ch, struct nvmft_req *req, const struct fault_rule *r,
		     uint64_t due)
{
	struct fault_backend *fb = ch->fb;
	struct held *h = TAILQ_FIRST(&ch->spare), *pos;

	if (h != NULL) {
		TAILQ_REMOVE(&ch->spare, h, link);
	} else {
		h = malloc(sizeof(*h));
		if (h == NULL)
			return -ENOMEM;
	}
	h->req = req;
	h->due = due;
	h->action = r->action;
	h->err = r->err;
	CNT_ADD(fb, held_now, 1);
	if (r->action == FAULT_HANG) {
		CNT_ADD(fb, hung, 1);
		CNT_ADD(fb, hung_now, 1);
	} else if (r->action == FAULT_DELAY) {
		CNT_ADD(fb, delayed, 1);
	}
	if (due == 0) {
		TAILQ_INSERT_TAIL(&ch->parked, h, link);
		return 0;
	}
	/* Equal delays arrive in due order: the scan from the tail is short. */
	for (pos = TAILQ_LAST(&ch->timed, held_list); pos != NULL && pos->due > due;
	     pos = TAILQ_PREV(pos, held_list, link))
		;
	if (pos == NULL)
		TAILQ_INSERT_HEAD(&ch->timed, h, link);
	else
		TAILQ_INSERT_AFTER(&ch->timed, pos, h, link);
	chan_arm(ch);
	return 0;
}

/* Hand @req to the inner backend; its errno when it did not take it. */
static int fb_forward(struct fault_backend *fb, struct fb_chan *ch, struct nvmft_req *req)
{
	CNT_ADD(fb, forwarded, 1);
	return fb->iops->submit(fb->ictx, ch->ichan, req);
}

/* Do the first half of a read or write (where we can), then complete with @err. */
static void fb_short(struct fault_backend *fb, struct nvmft_req *req, int err)
{
	enum nvmft_io_type t = nvmft_req_get_io_type(req);
	uint64_t slba = nvmft_req_get_offset_blocks(req), nlb = nvmft_req_get_num_blocks(req);
	size_t half = (size_t)(nlb / 2) * fb->block_size;
	struct fstore *st = fb->store;
	const struct iovec *iov;
	struct iovec z;
	int cnt;

	CNT_ADD(fb, shortened, 1);
	iov = nvmft_req_get_iovs(req, &cnt);
	if (st != NULL && st->mem != NULL && range_ok(st, slba, nlb)) {
		uint8_t *mem = st->mem + slba * st->bs;

		if (t == NVMFT_IO_READ && cnt > 0) {
			iov_copy_to(iov, cnt, mem, half);
		} else if (t == NVMFT_IO_READ) {
			/* Zero copy: hand out the memory as a device would, then fail. */
			z.iov_base = mem;
			z.iov_len = (size_t)nlb * st->bs;
			nvmft_req_set_iovs(req, &z, 1);
		} else if (t == NVMFT_IO_WRITE) {
			iov_copy_from(iov, cnt, mem, half);
		}
	} else if (t == NVMFT_IO_READ) {
		iov_fill(iov, cnt, FB_POISON, half);
	}
	nvmft_req_complete(req, err);
}

static void chan_free(struct fb_chan *ch);

static void chan_enter(struct fb_chan *ch)
{
	ch->depth++;
}

/* Leave one of our methods; the channel may be gone after this. */
static int chan_leave(struct fb_chan *ch, int rc)
{
	if (--ch->depth == 0 && ch->closed)
		chan_free(ch);
	return rc;
}

static int fb_act_on(struct fault_backend *fb, struct fb_chan *ch, struct nvmft_req *req,
		     enum nvmft_io_type t)
{
	struct fault_rule r;

	if (!chan_match(ch, req, t, &r))
		return fb_forward(fb, ch, req);
	switch (r.action) {
	case FAULT_FAIL:
		if (r.ms != 0)
			return chan_hold(ch, req, &r, now_ms() + r.ms);
		CNT_ADD(fb, failed, 1);
		return r.err; /* not started: the core fails it */
	case FAULT_SHORT:
		if (r.ms != 0)
			return chan_hold(ch, req, &r, now_ms() + r.ms);
		fb_short(fb, req, r.err);
		return 0;
	case FAULT_DELAY:
		return chan_hold(ch, req, &r, now_ms() + r.ms);
	case FAULT_HANG:
		return chan_hold(ch, req, &r, r.ms ? now_ms() + r.ms : 0);
	}
	return fb_forward(fb, ch, req);
}

static int fb_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	struct fault_backend *fb = ctx;
	struct fb_chan *ch = chan;
	enum nvmft_io_type t = nvmft_req_get_io_type(req);

	CNT_ADD(fb, submitted, 1);
	CNT_ADD(fb, by_type[(unsigned int)t < 8 ? t : 0], 1);
	chan_enter(ch);
	chan_refresh_rules(ch);
	return chan_leave(ch, fb_act_on(fb, ch, req, t));
}

/* A held request's time came (or it was released): do what held it for. */
static void chan_act(struct fb_chan *ch, struct held *h)
{
	struct fault_backend *fb = ch->fb;
	struct nvmft_req *req = h->req;
	enum fault_action action = h->action;
	int err = h->err, rc;

	/* Back to the spare list first: completing may submit again, re-entering us. */
	TAILQ_INSERT_HEAD(&ch->spare, h, link);
	CNT_SUB(fb, held_now, 1);
	if (action == FAULT_HANG)
		CNT_SUB(fb, hung_now, 1);
	switch (action) {
	case FAULT_FAIL:
		CNT_ADD(fb, failed, 1);
		nvmft_req_complete(req, err);
		break;
	case FAULT_SHORT:
		fb_short(fb, req, err);
		break;
	case FAULT_DELAY:
	case FAULT_HANG:
		rc = fb_forward(fb, ch, req);
		if (rc < 0)
			nvmft_req_complete(req, rc);
		break;
	}
}

/* A release came: every hung request, timed or not, is due now. */
static void chan_release(struct fb_chan *ch)
{
	struct held *h, *next;
	uint64_t cnt;

	if (read(ch->efd, &cnt, sizeof(cnt)) < 0)
		cnt = 0;
	for (h = TAILQ_FIRST(&ch->timed); h != NULL; h = next) {
		next = TAILQ_NEXT(h, link);
		if (h->action != FAULT_HANG)
			continue;
		TAILQ_REMOVE(&ch->timed, h, link);
		TAILQ_INSERT_TAIL(&ch->due, h, link);
	}
	while ((h = TAILQ_FIRST(&ch->parked)) != NULL) {
		TAILQ_REMOVE(&ch->parked, h, link);
		TAILQ_INSERT_TAIL(&ch->due, h, link);
	}
}

static int fb_poll(void *ctx, void *chan, unsigned int budget)
{
	struct fault_backend *fb = ctx;
	struct fb_chan *ch = chan;
	struct held *h;
	unsigned int n = 0;
	int rc, work = 0;

	chan_enter(ch);
	if (atomic_exchange(&ch->release_pending, false))
		chan_release(ch);
	if (!TAILQ_EMPTY(&ch->timed)) {
		uint64_t now = now_ms();

		while ((h = TAILQ_FIRST(&ch->timed)) != NULL && h->due <= now) {
			TAILQ_REMOVE(&ch->timed, h, link);
			TAILQ_INSERT_TAIL(&ch->due, h, link);
		}
	}
	while (n < budget && !ch->closed && (h = TAILQ_FIRST(&ch->due)) != NULL) {
		TAILQ_REMOVE(&ch->due, h, link);
		chan_act(ch, h);
		n++;
	}
	work = (int)n;
	if (ch->ipoll && !ch->closed) {
		rc = fb->iops->channel_poll(fb->ictx, ch->ichan, budget);
		if (rc < 0 && work == 0)
			return chan_leave(ch, rc);
		if (rc > 0)
			work += rc;
	}
	if (!ch->closed && (ch->armed != 0 || !TAILQ_EMPTY(&ch->timed) || !TAILQ_EMPTY(&ch->due)))
		chan_arm(ch);
	return chan_leave(ch, work);
}

static int fb_get_fd(void *ctx, void *chan)
{
	(void)ctx;
	return ((struct fb_chan *)chan)->epfd;
}

static void fb_release(void *ctx, void *chan, struct nvmft_req *req)
{
	struct fault_backend *fb = ctx;

	if (fb->iops->release != NULL)
		fb->iops->release(fb->ictx, ((struct fb_chan *)chan)->ichan, req);
}

static void chan_free(struct fb_chan *ch)
{
	struct held_list *lists[] = { &ch->timed, &ch->parked, &ch->due, &ch->spare };
	struct fault_backend *fb = ch->fb;
	struct held *h;

	if (ch->ichan_open)
		fb->iops->channel_close(fb->ictx, ch->ichan);

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		while ((h = TAILQ_FIRST(lists[i])) != NULL) {
			TAILQ_REMOVE(lists[i], h, link);
			free(h);
		}
	}
	if (ch->epfd >= 0)
		close(ch->epfd);
	if (ch->tfd >= 0)
		close(ch->tfd);
	if (ch->efd >= 0)
		close(ch->efd);
	ruleset_put(ch->rules);
	free(ch);
	CNT_SUB(fb, channels, 1);
}

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int fb_open(void *ctx, void **chanp)
{
	struct fault_backend *fb = ctx;
	struct fb_chan *ch = calloc(1, sizeof(*ch));
	int ifd = -1, rc;

	if (ch == NULL)
		return -ENOMEM;
	ch->fb = fb;
	ch->tfd = ch->efd = ch->epfd = -1;
	TAILQ_INIT(&ch->timed);
	TAILQ_INIT(&ch->parked);
	TAILQ_INIT(&ch->due);
	TAILQ_INIT(&ch->spare);
	atomic_init(&ch->release_pending, false);
	ch->rng = mix64(fb->seed ^ mix64(atomic_fetch_add(&fb->next_chan, 1)));
	if (ch->rng == 0)
		ch->rng = 1;
	rc = fb->iops->channel_open(fb->ictx, &ch->ichan);
	if (rc < 0) {
		free(ch);
		return rc;
	}
	ch->ichan_open = true;
	CNT_ADD(fb, channels, 1);
	ch->ipoll = fb->iops->channel_poll != NULL;
	if (ch->ipoll && fb->iops->channel_get_fd != NULL)
		ifd = fb->iops->channel_get_fd(fb->ictx, ch->ichan);
	ch->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ch->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ch->tfd < 0 || ch->efd < 0) {
		rc = -errno;
		goto fail;
	}
	/*
	 * An inner channel that must be polled but has no descriptor leaves the
	 * group polling us every millisecond anyway: then we offer none either.
	 */
	if (!ch->ipoll || ifd >= 0) {
		ch->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (ch->epfd < 0) {
			rc = -errno;
			goto fail;
		}
		rc = epoll_add(ch->epfd, ch->tfd);
		if (rc == 0)
			rc = epoll_add(ch->epfd, ch->efd);
		if (rc == 0 && ifd >= 0)
			rc = epoll_add(ch->epfd, ifd);
		if (rc < 0)
			goto fail;
	}
	pthread_mutex_lock(&fb->lock);
	ch->rules = fb->rules;
	atomic_fetch_add(&ch->rules->refs, 1);
	ch->rules_gen = atomic_load(&fb->rules_gen);
	LIST_INSERT_HEAD(&fb->chans, ch, link);
	pthread_mutex_unlock(&fb->lock);
	*chanp = ch;
	return 0;
fail:
	chan_free(ch);
	return rc;
}

static void fb_close(void *ctx, void *chan)
{
	struct fault_backend *fb = ctx;
	struct fb_chan *ch = chan;

	pthread_mutex_lock(&fb->lock);
	LIST_REMOVE(ch, link);
	pthread_mutex_unlock(&fb->lock);
	if (ch->depth > 0)
		ch->closed = true; /* freed when our method on the stack returns */
	else
		chan_free(ch);
}

static void fb_destroy(void *ctx)
{
	struct fault_backend *fb = ctx;

	if (fb->iops->destroy != NULL)
		fb->iops->destroy(fb->ictx);
	ruleset_put(fb->rules);
	pthread_mutex_destroy(&fb->lock);
	fb->magic = 0;
	free(fb);
}

static const struct nvmft_backend_ops fb_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = fb_open,
	.channel_close = fb_close,
	.submit = fb_submit,
	.channel_poll = fb_poll,
	.channel_get_fd = fb_get_fd,
	.release = fb_release,
	.destroy = fb_destroy,
};

/* ---- Public calls ---------------------------------------------------------- */

static int fb_create(const struct nvmft_backend_ops *ops, void *ctx, struct fstore *store,
		     const struct nvmft_backend_opts *opts, const char *rules, char *err,
		     size_t errlen, struct nvmft_backend **ret)
{
	struct fault_backend *fb;
	int rc;

	fb = calloc(1, sizeof(*fb));
	if (fb == NULL)
		return -ENOMEM;
	rc = ruleset_new(rules, err, errlen, &fb->rules);
	if (rc < 0) {
		free(fb);
		return rc;
	}
	fb->magic = FB_MAGIC;
	fb->iops = ops;
	fb->ictx = ctx;
	fb->store = store;
	fb->block_size = opts->block_size;
	fb->seed = fb->rules->r.seed;
	pthread_mutex_init(&fb->lock, NULL);
	LIST_INIT(&fb->chans);
	rc = nvmft_backend_new(&fb_ops, fb, opts, ret);
	if (rc < 0) {
		/* The library calls no destroy for a backend it did not make: the caller frees @ctx. */
		ruleset_put(fb->rules);
		pthread_mutex_destroy(&fb->lock);
		free(fb);
	}
	return rc;
}

int fault_backend_wrap(const struct nvmft_backend_ops *ops, void *ctx,
		       const struct nvmft_backend_opts *opts, const char *rules, char *err,
		       size_t errlen, struct nvmft_backend **ret)
{
	int rc = -EINVAL;

	if (ops != NULL && opts != NULL && ret != NULL && ops->version >= NVMFT_BACKEND_OPS_V1 &&
	    ops->channel_open != NULL && ops->channel_close != NULL && ops->submit != NULL)
		rc = fb_create(ops, ctx, NULL, opts, rules, err, errlen, ret);
	if (rc < 0 && ops != NULL && ops->destroy != NULL)
		ops->destroy(ctx);
	return rc;
}

int fault_backend_new(const char *name, enum fault_store store, uint64_t num_blocks,
		      uint32_t block_size, const char *rules, char *err, size_t errlen,
		      struct nvmft_backend **ret)
{
	struct nvmft_backend_opts o;
	struct fstore *st;
	int rc;

	if (ret == NULL || block_size < 512 || block_size > 65536 ||
	    (block_size & (block_size - 1)) != 0 || num_blocks == 0 ||
	    num_blocks > SIZE_MAX / block_size ||
	    (store != FAULT_STORE_RAM && store != FAULT_STORE_NULL))
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	st->kind = store;
	st->bs = block_size;
	st->blocks = num_blocks;
	st->bytes = (size_t)(num_blocks * block_size);
	nvmft_backend_opts_init(&o, sizeof(o));
	o.name = name;
	o.block_size = block_size;
	o.num_blocks = num_blocks;
	o.caps = NVMFT_BACKEND_CAP_FLUSH | NVMFT_BACKEND_CAP_FUA | NVMFT_BACKEND_CAP_WRITE_ZEROES |
		 NVMFT_BACKEND_CAP_DEALLOCATE | NVMFT_BACKEND_CAP_DEALLOC_ZEROES |
		 NVMFT_BACKEND_CAP_COMPARE;
	if (store == FAULT_STORE_RAM) {
		/* Reserved, not committed: untouched blocks cost nothing and read as zeroes. */
		st->mem = mmap(NULL, st->bytes, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (st->mem == MAP_FAILED) {
			free(st);
			return -ENOMEM;
		}
		o.caps |= NVMFT_BACKEND_CAP_ZCOPY_READ;
	}
	rc = fb_create(&store_ops, st, st, &o, rules, err, errlen, ret);
	if (rc < 0)
		store_destroy(st);
	return rc;
}

struct fault_backend *fault_backend_of(const struct nvmft_backend *be)
{
	struct fault_backend *fb = nvmft_backend_get_ctx(be);

	return fb != NULL && fb->magic == FB_MAGIC ? fb : NULL;
}

int fault_backend_set_rules(struct fault_backend *fb, const char *rules, char *err, size_t errlen)
{
	struct ruleset *rs, *old;
	int rc;

	if (fb == NULL)
		return -EINVAL;
	rc = ruleset_new(rules, err, errlen, &rs);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&fb->lock);
	old = fb->rules;
	fb->rules = rs;
	atomic_fetch_add_explicit(&fb->rules_gen, 1, memory_order_release);
	pthread_mutex_unlock(&fb->lock);
	ruleset_put(old);
	return 0;
}

static void efd_kick(int fd)
{
	uint64_t one = 1;

	/* Fails only when the counter would overflow: it is readable then anyway. */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

void fault_backend_release(struct fault_backend *fb)
{
	struct fb_chan *ch;

	if (fb == NULL)
		return;
	pthread_mutex_lock(&fb->lock);
	LIST_FOREACH(ch, &fb->chans, link) {
		/* Wake first, flag second: the poll that sees the flag drains the wake-up. */
		efd_kick(ch->efd);
		atomic_store(&ch->release_pending, true);
	}
	pthread_mutex_unlock(&fb->lock);
}

void fault_backend_get_stats(const struct fault_backend *fb, struct fault_stats *st)
{
	struct fault_backend *f = (struct fault_backend *)fb;

	memset(st, 0, sizeof(*st));
	st->submitted = CNT_GET(f, submitted);
	for (int i = 0; i < 8; i++)
		st->by_type[i] = CNT_GET(f, by_type[i]);
	st->forwarded = CNT_GET(f, forwarded);
	st->failed = CNT_GET(f, failed);
	st->shortened = CNT_GET(f, shortened);
	st->delayed = CNT_GET(f, delayed);
	st->hung = CNT_GET(f, hung);
	st->held_now = CNT_GET(f, held_now);
	st->hung_now = CNT_GET(f, hung_now);
	st->channels = CNT_GET(f, channels);
}
