/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The workload: each worker thread busy-polls its queues in a tight loop,
 *
 *   receive once and parse everything (completions free command slots),
 *   refill every free slot with a new I/O, flush all capsules in one send,
 *
 * and never sleeps.  With many queues per thread, one epoll_wait() (no
 * timeout) per pass says which queues to receive on (enum perf_poll_mode).
 * Timestamps come from the TSC: one read when data
 * arrives (all completions in that batch share it) and one per loop for
 * submissions, so measuring costs no syscalls.
 *
 * Phases per thread: warm-up (I/O not recorded), measured (by time or by
 * count), drain (wait for what is in flight), then for write workloads
 * with --verify a read-back pass over every slot written.
 *
 * Offsets are whole I/O-sized slots.  With --verify and writes, each queue
 * owns a disjoint range of slots and never has two I/Os on one slot at
 * once, so the sequence number of the last completed write per slot is
 * exactly what a read must find.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "perf.h"
#include "util/compiler.h"

enum perf_job_state {
	JOB_RUN = 0,  /* submitting */
	JOB_DRAIN,    /* no new measured I/O; waiting for completions */
	JOB_VERIFY,   /* reading back what was written */
	JOB_DONE,
};

enum thread_phase {
	PH_WARMUP,
	PH_MEASURE,
	PH_DRAIN,
};

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: fast, and plenty for picking offsets. */
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(s) * n) >> 64);
}

static bool verify_writes(const struct perf_ctx *ctx)
{
	return ctx->opts.verify && perf_workload_has_writes(&ctx->opts);
}

static void io_complete(struct perf_queue *q, struct perf_cmd *cmd, uint16_t status);

int perf_job_create(struct perf_ctx *ctx, uint32_t i, struct perf_job **out)
{
	const struct perf_opts *o = &ctx->opts;
	uint32_t n = o->queues;
	size_t rbuf = 2 * (size_t)o->io_size + 65536;
	struct perf_job *job = calloc(1, sizeof(*job));
	int rc;

	if (job == NULL)
		return -ENOMEM;
	if (rbuf < 256 * 1024)
		rbuf = 256 * 1024;
	if (rbuf > 4 * 1024 * 1024)
		rbuf = 4 * 1024 * 1024;
	rc = perf_queue_init(&job->q, (uint16_t)o->qd, o->io_size, rbuf);
	if (rc) {
		free(job);
		return rc;
	}
	job->q.complete = io_complete;
	job->q.owner = job;
	job->q.rx_mode = o->rx_mode;
	if (o->rx_mode == PERF_RX_AUTO)
		job->q.rx_mode = o->io_size >= PERF_RX_DIRECT_MIN ? PERF_RX_DIRECT : PERF_RX_COPY;
	job->ctx = ctx;
	job->index = i;
	job->blocks = o->io_size / ctx->ctrlr.lba_size;
	job->rng = o->seed * 0x9e3779b97f4a7c15ull + i + 1;
	if (job->rng == 0)
		job->rng = 1;
	job->quota = o->count ? o->count / n + (i < o->count % n ? 1 : 0) : UINT64_MAX;
	if (verify_writes(ctx)) {
		/* Disjoint ranges: one queue's writes never race another's reads. */
		job->slot_base = ctx->slots * i / n;
		job->slot_count = ctx->slots * (i + 1) / n - job->slot_base;
		job->vseq = calloc(job->slot_count, sizeof(*job->vseq));
		job->vbusy = calloc(job->slot_count, 1);
		if (job->vseq == NULL || job->vbusy == NULL) {
			perf_job_free(job);
			return -ENOMEM;
		}
	} else {
		job->slot_base = 0;
		job->slot_count = ctx->slots;
		job->cursor = ctx->slots * i / n;
	}
	*out = job;
	return 0;
}

void perf_job_free(struct perf_job *job)
{
	if (job == NULL)
		return;
	perf_queue_free(&job->q);
	free(job->vseq);
	free(job->vbusy);
	free(job);
}

static void note_error(struct perf_thread *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note_error(struct perf_thread *t, const char *fmt, ...)
{
	va_list ap;

	if (t->res.err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(t->res.err, sizeof(t->res.err), fmt, ap);
	va_end(ap);
}

static void io_complete(struct perf_queue *q, struct perf_cmd *cmd, uint16_t status)
{
	struct perf_job *job = q->owner;
	struct perf_thread *t = job->thr;
	uint64_t rel = cmd->slot - job->slot_base;
	bool is_read = cmd->to_host;

	q->last_progress = t->now;
	if (nvmft_unlikely(status != 0)) {
		char sbuf[160];

		t->res.errors++;
		note_error(t, "%s of LBA %" PRIu64 " (%u blocks) on qid %u: %s",
			   is_read ? "read" : "write", cmd->slba, job->blocks, q->qid,
			   perf_status_str(status, cmd->opc, false, sbuf, sizeof(sbuf)));
		/* A failed write leaves the slot's content unknown. */
		if (job->vseq && !is_read)
			job->vseq[rel] = 0;
	} else if (job->ctx->opts.verify) {
		if (!is_read) {
			job->vseq[rel] = cmd->seq;
		} else {
			struct perf_mismatch mm;
			uint32_t want = job->vseq ? job->vseq[rel] : 0;
			int r = perf_pattern_check(cmd->buf, job->ctx->ctrlr.lba_size, cmd->slba,
						   job->blocks, want, &mm);

			/*
			 * In a run with writes, a slot not yet written by it may hold
			 * anything; a pattern found there must still be sound.
			 */
			if (r == PERF_VERIFY_MAGIC && job->vseq && want == 0)
				r = PERF_VERIFY_OK;
			if (r != PERF_VERIFY_OK) {
				t->res.verify_errors++;
				note_error(t, "verify failed at LBA %" PRIu64 " byte %u (qid %u): %s; "
					   "found LBA %" PRIu64 " seq %u, expected seq %u%s",
					   mm.lba, mm.offset, q->qid, perf_verify_str(r), mm.got_lba,
					   mm.got_seq, mm.want_seq, mm.want_seq ? "" : " (any)");
			}
		}
	}
	if (job->vbusy)
		job->vbusy[rel] = 0;
	if (cmd->verify_pass) {
		t->res.verify_reads++;
	} else if (cmd->measured) {
		uint64_t lat = perf_ticks_to_ns(&job->ctx->clock, t->now - cmd->t_submit);

		perf_hist_add(&t->res.hist[!is_read], lat);
		t->res.ios[!is_read]++;
		t->res.bytes[!is_read] += cmd->len;
		job->last_done = t->now;
	}
	perf_cmd_put(q, cmd);
}

/* A slot for the next I/O, or false when every candidate is busy. */
static bool pick_slot(struct perf_job *job, bool random, uint64_t *rel)
{
	uint64_t n = job->slot_count, s;

	if (random)
		s = rng_below(&job->rng, n);
	else
		s = job->cursor;
	if (job->vbusy) {
		/* Probe onwards from the pick; a full queue range just waits. */
		uint64_t tries = n < 64 ? n : 64;

		while (job->vbusy[s] && --tries)
			s = s + 1 == n ? 0 : s + 1;
		if (job->vbusy[s])
			return false;
	}
	if (!random)
		job->cursor = s + 1 == n ? 0 : s + 1;
	*rel = s;
	return true;
}

static void build_rw(struct perf_job *job, struct nvmft_cmd *sqe, bool is_read, uint64_t slot,
		     uint64_t slba)
{
	const struct perf_opts *o = &job->ctx->opts;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = is_read ? nvme_cmd_read : nvme_cmd_write;
	/* The slot picks the namespace: random slots spread evenly, sequential ones rotate. */
	sqe->nsid = htole32(o->nsid + (uint32_t)(o->ns_count > 1 ? slot % o->ns_count : 0));
	sqe->cdw10 = htole32((uint32_t)slba);
	sqe->cdw11 = htole32((uint32_t)(slba >> 32));
	sqe->cdw12 = htole32(job->blocks - 1);
}

static bool submit_one(struct perf_job *job, bool is_read, uint64_t rel, bool measured,
		       bool vpass)
{
	struct perf_queue *q = &job->q;
	struct perf_ctx *ctx = job->ctx;
	struct perf_cmd *cmd = perf_cmd_get(q);
	struct nvmft_cmd sqe;

	cmd->slot = job->slot_base + rel;
	cmd->slba = cmd->slot * job->blocks;
	cmd->len = ctx->opts.io_size;
	cmd->to_host = is_read;
	cmd->measured = measured;
	cmd->verify_pass = vpass;
	if (!is_read && ctx->opts.verify) {
		if (++job->seq_next == 0)
			job->seq_next = 1;
		cmd->seq = job->seq_next;
		perf_pattern_fill(cmd->buf, ctx->ctrlr.lba_size, cmd->slba, job->blocks, cmd->seq);
	}
	build_rw(job, &sqe, is_read, cmd->slot, cmd->slba);
	if (q->outstanding == 0)
		q->last_progress = job->thr->now;
	if (!perf_queue_submit(q, cmd, &sqe, job->thr->now)) {
		perf_cmd_put(q, cmd);
		return false;
	}
	if (job->vbusy)
		job->vbusy[rel] = 1;
	return true;
}

static void job_submit(struct perf_job *job, bool measured)
{
	const struct perf_opts *o = &job->ctx->opts;
	bool random = perf_workload_random(o->workload);

	while (job->q.nfree > 0 && (!measured || job->quota > 0)) {
		bool is_read;
		uint64_t rel;

		switch (o->workload) {
		case PERF_WL_READ:
		case PERF_WL_RANDREAD:
			is_read = true;
			break;
		case PERF_WL_WRITE:
		case PERF_WL_RANDWRITE:
			is_read = false;
			break;
		default:
			is_read = rng_below(&job->rng, 100) < o->rwmix;
			break;
		}
		if (!pick_slot(job, random, &rel))
			return;
		if (!submit_one(job, is_read, rel, measured, false))
			return;
		if (measured)
			job->quota--;
	}
}

/* Read back every slot with a known sequence number. */
static void job_verify_pass(struct perf_job *job)
{
	while (job->q.nfree > 0 && job->vpass_next < job->slot_count) {
		uint64_t rel = job->vpass_next;

		if (job->vseq[rel] == 0 || job->vbusy[rel]) {
			job->vpass_next++;
			continue;
		}
		if (!submit_one(job, true, rel, false, true))
			return;
		job->vpass_next++;
	}
}

static void thread_pin(struct perf_thread *t)
{
	cpu_set_t set;
	int rc;

	if (t->core < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(t->core, &set);
	rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (rc) {
		t->res.failed = true;
		snprintf(t->res.err, sizeof(t->res.err), "cannot pin thread %u to CPU %d: %s",
			 t->id, t->core, strerror(rc));
	}
}

static double tv_s(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* Sum the queues' transfer counters into @r (added with @sign +1, removed with -1). */
static void collect_counters(const struct perf_thread *t, struct perf_thread_result *r, int sign)
{
	uint64_t m = sign > 0 ? 1 : (uint64_t)-1;

	r->epoll_calls += m * t->epoll_calls;
	for (uint32_t i = 0; i < t->njobs; i++) {
		const struct perf_queue *q = &t->jobs[i]->q;

		r->rx_calls += m * q->rx_calls;
		r->rx_bytes += m * q->rx_bytes;
		r->tx_calls += m * q->tx_calls;
		r->tx_bytes += m * q->tx_bytes;
		r->pdus += m * q->pdus;
		r->rx_direct_bytes += m * q->rx_direct_bytes;
		r->rx_discard_bytes += m * q->rx_discard_bytes;
		r->rx_copy_bytes += m * q->rx_copy_bytes;
	}
}

/* The measured window opens: CPU time, wall time and counters start here. */
static void window_open(struct perf_thread *t, struct rusage *ru0, uint64_t *wall0)
{
	struct perf_thread_result *r = &t->res;

	r->window_ticks = perf_ticks();
	r->idle_ticks = 0;
	r->rx_calls = r->rx_bytes = r->tx_calls = r->tx_bytes = r->pdus = 0;
	r->rx_direct_bytes = r->rx_copy_bytes = r->rx_discard_bytes = r->epoll_calls = 0;
	collect_counters(t, r, -1);
	getrusage(RUSAGE_THREAD, ru0);
	*wall0 = perf_mono_ns();
}

static void window_close(struct perf_thread *t, const struct rusage *ru0, uint64_t wall0)
{
	struct perf_thread_result *r = &t->res;
	struct rusage ru1;

	getrusage(RUSAGE_THREAD, &ru1);
	r->window_ticks = perf_ticks() - r->window_ticks;
	r->wall_s = (double)(perf_mono_ns() - wall0) / 1e9;
	r->cpu_user_s = tv_s(&ru1.ru_utime) - tv_s(&ru0->ru_utime);
	r->cpu_sys_s = tv_s(&ru1.ru_stime) - tv_s(&ru0->ru_stime);
	collect_counters(t, r, 1);
}

/* Fatal error on @q: stop everyone, keep the message. */
static void thread_fail(struct perf_thread *t, const struct perf_queue *q)
{
	t->res.failed = true;
	snprintf(t->res.err, sizeof(t->res.err), "qid %u: %s", q->qid, q->err);
	__atomic_store_n(&t->ctx->stop, 1, __ATOMIC_RELAXED);
}

/* Advance one job's state; returns false once the job has nothing left to do. */
static bool job_step(struct perf_job *job, enum thread_phase ph)
{
	struct perf_queue *q = &job->q;

	switch (job->state) {
	case JOB_RUN:
		if (ph == PH_DRAIN || (ph == PH_MEASURE && job->quota == 0)) {
			job->state = JOB_DRAIN;
			return job_step(job, ph);
		}
		job_submit(job, ph == PH_MEASURE);
		return true;
	case JOB_DRAIN:
		if (q->outstanding)
			return true;
		if (job->vseq && !__atomic_load_n(&job->ctx->stop, __ATOMIC_RELAXED)) {
			job->state = JOB_VERIFY;
			return job_step(job, ph);
		}
		job->state = JOB_DONE;
		return false;
	case JOB_VERIFY:
		job_verify_pass(job);
		if (q->outstanding == 0 && job->vpass_next >= job->slot_count) {
			job->state = JOB_DONE;
			return false;
		}
		return true;
	default:
		return false;
	}
}

static bool thread_wants_epoll(const struct perf_thread *t)
{
	switch (t->ctx->opts.poll_mode) {
	case PERF_POLL_SCAN:
		return false;
	case PERF_POLL_EPOLL:
		return true;
	default:
		return t->njobs >= PERF_POLL_EPOLL_MIN;
	}
}

/*
 * Epoll polling: every queue's socket in one level-triggered set, so a
 * queue with data left unread (a receive buffer that filled) is reported
 * again next pass.  Errors and hang-ups mark the queue ready too: its
 * recv() reports them.
 */
static int thread_poll_open(struct perf_thread *t)
{
	t->res.epoll = true;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0)
		return -errno;
	t->evs = calloc(t->njobs, sizeof(*t->evs));
	t->ready = calloc(t->njobs, 1);
	if (t->evs == NULL || t->ready == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->njobs; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->jobs[i]->q.fd, &ev))
			return -errno;
	}
	return 0;
}

static void thread_poll_close(struct perf_thread *t)
{
	if (t->epfd >= 0)
		close(t->epfd);
	t->epfd = -1;
	free(t->evs);
	t->evs = NULL;
	free(t->ready);
	t->ready = NULL;
}

/* Mark the queues epoll reports readable; 0, or -errno when epoll itself fails. */
static int thread_poll_ready(struct perf_thread *t)
{
	int n = epoll_wait(t->epfd, t->evs, (int)t->njobs, 0);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	t->epoll_calls++;
	for (int k = 0; k < n; k++)
		t->ready[t->evs[k].data.u32] = 1;
	return 0;
}

static bool thread_measuring_done(const struct perf_thread *t)
{
	for (uint32_t i = 0; i < t->njobs; i++) {
		const struct perf_job *j = t->jobs[i];

		if (j->state == JOB_RUN || (j->state == JOB_DRAIN && j->q.outstanding))
			return false;
	}
	return true;
}

void *perf_thread_main(void *arg)
{
	struct perf_thread *t = arg;
	struct perf_ctx *ctx = t->ctx;
	const struct perf_opts *o = &ctx->opts;
	uint64_t timeout = perf_s_to_ticks(&ctx->clock, o->timeout_s);
	uint64_t t_measure, t_end, wall0 = 0, measure_ticks0;
	enum thread_phase ph;
	struct rusage ru0;
	bool measuring_closed = false, prev_idle = false;
	uint64_t prev_iter = 0;
	uint64_t one = 1;
	ssize_t w;

	perf_hist_init(&t->res.hist[0]);
	perf_hist_init(&t->res.hist[1]);
	t->epfd = -1;
	thread_pin(t);
	if (!t->res.failed && thread_wants_epoll(t)) {
		int rc = thread_poll_open(t);

		if (rc) {
			t->res.failed = true;
			snprintf(t->res.err, sizeof(t->res.err), "thread %u: epoll set: %s", t->id,
				 strerror(-rc));
		}
	}
	if (t->res.failed)
		__atomic_store_n(&ctx->stop, 1, __ATOMIC_RELAXED);
	for (;;) {
		int go = __atomic_load_n(&ctx->go, __ATOMIC_ACQUIRE);

		if (go < 0) {
			thread_poll_close(t);
			return NULL;
		}
		if (go > 0)
			break;
		sched_yield();
	}

	t->now = perf_ticks();
	t_measure = t->now + perf_s_to_ticks(&ctx->clock, o->warmup_s);
	t_end = o->count ? UINT64_MAX : t_measure + perf_s_to_ticks(&ctx->clock, o->time_s);
	ph = o->warmup_s > 0 ? PH_WARMUP : PH_MEASURE;
	measure_ticks0 = ph == PH_MEASURE ? t->now : t_measure;
	window_open(t, &ru0, &wall0);

	while (!t->res.failed) {
		uint64_t iter = perf_ticks();
		bool busy = false, worked = false;

		if (prev_idle && ph != PH_WARMUP && !measuring_closed)
			t->res.idle_ticks += iter - prev_iter;
		prev_iter = iter;
		t->now = iter;
		if (ph == PH_WARMUP && t->now >= t_measure) {
			ph = PH_MEASURE;
			measure_ticks0 = t->now;
			window_open(t, &ru0, &wall0);
		}
		if (ph != PH_DRAIN &&
		    (t->now >= t_end || __atomic_load_n(&ctx->stop, __ATOMIC_RELAXED)))
			ph = PH_DRAIN;
		if (t->epfd >= 0) {
			int rc = thread_poll_ready(t);

			if (rc) {
				t->res.failed = true;
				snprintf(t->res.err, sizeof(t->res.err), "thread %u: epoll_wait: %s",
					 t->id, strerror(-rc));
				__atomic_store_n(&ctx->stop, 1, __ATOMIC_RELAXED);
				break;
			}
		}
		for (uint32_t i = 0; i < t->njobs; i++) {
			struct perf_job *job = t->jobs[i];
			struct perf_queue *q = &job->q;
			uint64_t sends = q->tx_calls;
			ssize_t got = 0;

			if (job->state == JOB_DONE)
				continue;
			if (t->epfd < 0 || t->ready[i]) {
				if (t->epfd >= 0)
					t->ready[i] = 0;
				got = perf_queue_poll_rx(q, &t->now);
			}
			if (got < 0) {
				thread_fail(t, q);
				break;
			}
			busy |= job_step(job, ph);
			if (perf_queue_flush(q)) {
				thread_fail(t, q);
				break;
			}
			worked |= got > 0 || q->tx_calls != sends;
			if (q->outstanding && t->now - q->last_progress > timeout) {
				perf_queue_fail(q, "no completion for %.1f s with %u commands "
						"outstanding", o->timeout_s, q->outstanding);
				thread_fail(t, q);
				break;
			}
		}
		if (!measuring_closed && ph != PH_WARMUP && thread_measuring_done(t)) {
			measuring_closed = true;
			window_close(t, &ru0, wall0);
		}
		prev_idle = !worked;
		if (!busy)
			break;
	}
	if (!measuring_closed)
		window_close(t, &ru0, wall0);
	thread_poll_close(t);
	for (uint32_t i = 0; i < t->njobs; i++) {
		uint64_t last = t->jobs[i]->last_done;

		if (last > measure_ticks0 && last - measure_ticks0 > t->res.elapsed_ticks)
			t->res.elapsed_ticks = last - measure_ticks0;
	}
	/* An eventfd write only fails on counter overflow, which 1 per thread cannot reach. */
	w = write(ctx->done_fd, &one, sizeof(one));
	(void)w;
	return NULL;
}
