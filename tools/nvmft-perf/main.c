/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmft-perf main: parse flags, connect, start the worker threads, keep
 * the controller alive while they run, disconnect, report.
 *
 * Exit status: 0 when every I/O succeeded (and verified), 1 on I/O or
 * verify errors or when the run could not complete, 2 on bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "perf.h"
#include "util/compiler.h"

/* The one thing a signal handler may touch: the running context's stop flag. */
static int *sig_stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	if (sig_stop_flag)
		__atomic_store_n(sig_stop_flag, 1, __ATOMIC_RELAXED);
}

uint64_t perf_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void perf_clock_init(struct perf_clock *c)
{
#if defined(__x86_64__) || defined(__i386__)
	/* Count TSC ticks over 50 ms of CLOCK_MONOTONIC. */
	uint64_t n0 = perf_mono_ns(), t0 = perf_ticks(), n1, t1;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 50000000 };

	nanosleep(&ts, NULL);
	n1 = perf_mono_ns();
	t1 = perf_ticks();
	c->hz = (uint64_t)((double)(t1 - t0) * 1e9 / (double)(n1 - n0));
#else
	c->hz = 1000000000ull;
#endif
	c->ns_mult = (uint64_t)((1000000000.0 * 4294967296.0) / (double)c->hz);
}

static void perr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void perr(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PERF_NAME ": error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* LBA range, slots, and checks that need the namespace's geometry. */
static int plan_region(struct perf_ctx *ctx)
{
	const struct perf_opts *o = &ctx->opts;
	uint64_t ns_bytes = ctx->ctrlr.ns_blocks * ctx->ctrlr.lba_size;
	uint64_t region = o->size ? o->size : ns_bytes;

	if (o->io_size / ctx->ctrlr.lba_size > 65536) {
		perr("I/O size %u is more than 65536 blocks of %u B", o->io_size,
		     ctx->ctrlr.lba_size);
		return -1;
	}
	if (region > ns_bytes) {
		perr("--size %" PRIu64 " is larger than namespace %u (%" PRIu64 " bytes)", o->size,
		     o->nsid, ns_bytes);
		return -1;
	}
	region -= region % o->io_size;
	ctx->region_bytes = region;
	ctx->slots = region / o->io_size;
	if (ctx->slots == 0) {
		perr("the LBA range (%" PRIu64 " bytes) holds no I/O of %u bytes", region,
		     o->io_size);
		return -1;
	}
	if (o->verify && perf_workload_has_writes(o) && ctx->slots < o->queues) {
		perr("--verify with writes gives each queue its own range: %" PRIu64
		     " slots of %u B are too few for %u queues", ctx->slots, o->io_size, o->queues);
		return -1;
	}
	return 0;
}

static int open_queues(struct perf_ctx *ctx)
{
	const struct perf_opts *o = &ctx->opts;

	ctx->jobs = calloc(o->queues, sizeof(*ctx->jobs));
	if (ctx->jobs == NULL)
		return -1;
	for (uint32_t i = 0; i < o->queues; i++) {
		int rc = perf_job_create(ctx, i, &ctx->jobs[i]);

		if (rc) {
			perr("I/O queue %u: %s", i + 1, strerror(-rc));
			return -1;
		}
		if (perf_io_queue_connect(ctx, &ctx->jobs[i]->q, (uint16_t)(i + 1)))
			return -1;
		if (i == 0) {
			ctx->io_connected = true;
			ctx->io_tp = ctx->jobs[0]->q.tp;
			ctx->io_icd_max = ctx->jobs[0]->q.icd_max;
			ctx->io_rx_mode = ctx->jobs[0]->q.rx_mode;
		}
	}
	return 0;
}

static void close_queues(struct perf_ctx *ctx)
{
	if (ctx->jobs == NULL)
		return;
	/* Closing an I/O queue's connection is how NVMe/TCP hosts delete it. */
	for (uint32_t i = 0; i < ctx->opts.queues; i++) {
		if (ctx->jobs[i] && ctx->jobs[i]->q.fd >= 0)
			shutdown(ctx->jobs[i]->q.fd, SHUT_RDWR);
		perf_job_free(ctx->jobs[i]);
		ctx->jobs[i] = NULL;
	}
}

static int start_threads(struct perf_ctx *ctx)
{
	const struct perf_opts *o = &ctx->opts;
	uint32_t n = o->threads;

	ctx->nthreads = 0;
	ctx->threads = calloc(n, sizeof(*ctx->threads));
	if (ctx->threads == NULL)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		struct perf_thread *t = &ctx->threads[i];

		t->id = i;
		t->core = o->ncores ? o->cores[i] : -1;
		t->ctx = ctx;
		t->jobs = calloc(o->queues / n + 1, sizeof(*t->jobs));
		if (t->jobs == NULL)
			return -1;
	}
	/* Queues go round-robin over the threads. */
	for (uint32_t i = 0; i < o->queues; i++) {
		struct perf_thread *t = &ctx->threads[i % n];

		ctx->jobs[i]->thr = t;
		t->jobs[t->njobs++] = ctx->jobs[i];
	}
	for (uint32_t i = 0; i < n; i++) {
		int rc = pthread_create(&ctx->threads[i].tid, NULL, perf_thread_main,
					&ctx->threads[i]);

		if (rc) {
			perr("cannot start a thread: %s", strerror(rc));
			/* The ones already started see -1 and leave without doing I/O. */
			__atomic_store_n(&ctx->go, -1, __ATOMIC_RELEASE);
			for (uint32_t k = 0; k < ctx->nthreads; k++)
				pthread_join(ctx->threads[k].tid, NULL);
			ctx->nthreads = 0;
			return -1;
		}
		ctx->nthreads++;
	}
	/* All threads start their clocks together. */
	__atomic_store_n(&ctx->go, 1, __ATOMIC_RELEASE);
	return 0;
}

/*
 * While the threads run: sleep on the eventfd they signal when they end,
 * waking up every KATO/2 to send Keep Alive on the admin queue.
 */
static void supervise(struct perf_ctx *ctx, char *err, size_t errlen)
{
	uint64_t ka_ns = (uint64_t)ctx->ctrlr.kato_ms * 1000000ull / 2;
	uint64_t next_ka = perf_mono_ns() + ka_ns, done = 0;

	while (done < ctx->nthreads) {
		struct pollfd p = { .fd = ctx->done_fd, .events = POLLIN };
		int ms = -1;
		uint64_t now;

		if (ka_ns) {
			now = perf_mono_ns();
			ms = next_ka > now ? (int)((next_ka - now) / 1000000 + 1) : 0;
		}
		if (poll(&p, 1, ms) > 0) {
			uint64_t v;

			if (read(ctx->done_fd, &v, sizeof(v)) == sizeof(v))
				done += v;
		}
		if (ka_ns && perf_mono_ns() >= next_ka && done < ctx->nthreads) {
			if (perf_keep_alive(ctx)) {
				snprintf(err, errlen, "keep alive failed: %s", ctx->ctrlr.admin.err);
				__atomic_store_n(&ctx->stop, 1, __ATOMIC_RELAXED);
				ka_ns = 0;
			} else {
				ctx->keep_alives++;
			}
			next_ka = perf_mono_ns() + ka_ns;
		}
	}
	for (uint32_t i = 0; i < ctx->nthreads; i++)
		pthread_join(ctx->threads[i].tid, NULL);
}

/*
 * --idle: the queues stay connected and silent for time_s while this
 * thread keeps the controller alive, so the target can be watched idle.
 */
static void hold_idle(struct perf_ctx *ctx, char *err, size_t errlen)
{
	uint64_t ka_ns = (uint64_t)ctx->ctrlr.kato_ms * 1000000ull / 2;
	uint64_t start = perf_mono_ns();
	uint64_t end = start + (uint64_t)(ctx->opts.time_s * 1e9);
	uint64_t next_ka = ka_ns ? start + ka_ns : UINT64_MAX;

	/* Whoever holds these queues for a measurement starts it on this line. */
	fprintf(stderr, "nvmft-perf: idle: %u queue%s connected\n", ctx->opts.queues,
		ctx->opts.queues > 1 ? "s" : "");
	fflush(stderr);
	for (;;) {
		uint64_t now = perf_mono_ns();
		uint64_t until = NVMFT_MIN(end, next_ka);
		struct timespec ts;

		if (now >= end || __atomic_load_n(&ctx->stop, __ATOMIC_RELAXED))
			break;
		if (now >= next_ka) {
			if (perf_keep_alive(ctx)) {
				snprintf(err, errlen, "keep alive failed: %s", ctx->ctrlr.admin.err);
				break;
			}
			ctx->keep_alives++;
			next_ka = perf_mono_ns() + ka_ns;
			continue;
		}
		/* Short naps so SIGINT/SIGTERM are seen soon. */
		until = NVMFT_MIN(until, now + 100000000ull);
		ts.tv_sec = (time_t)((until - now) / 1000000000ull);
		ts.tv_nsec = (long)((until - now) % 1000000000ull);
		nanosleep(&ts, NULL);
	}
	ctx->idle_s = (double)(perf_mono_ns() - start) / 1e9;
}

static void report(struct perf_ctx *ctx, const char *fatal)
{
	struct perf_summary s;
	char first_io_err[400] = "";
	bool ok;

	perf_summarize(ctx, &s);
	for (uint32_t i = 0; i < ctx->nthreads && !fatal; i++) {
		const struct perf_thread_result *r = &ctx->threads[i].res;

		if (r->err[0] && !first_io_err[0])
			snprintf(first_io_err, sizeof(first_io_err), "%s", r->err);
	}
	ok = fatal == NULL && s.errors == 0 && s.verify_errors == 0;
	if (ctx->opts.json) {
		perf_report_json(ctx, &s, ok, fatal ? fatal : first_io_err);
		return;
	}
	if (ctx->nthreads)
		perf_report_text(ctx, &s);
	else if (ctx->opts.idle && fatal == NULL)
		printf("idle: %u queue%s connected for %.2f s, %" PRIu64 " Keep Alive%s\n",
		       ctx->opts.queues, ctx->opts.queues > 1 ? "s" : "", ctx->idle_s,
		       ctx->keep_alives, ctx->keep_alives == 1 ? "" : "s");
	/* Setup failures were explained where they happened. */
	if (fatal && ctx->nthreads)
		perr("%s", fatal);
	else if (first_io_err[0])
		perr("first error: %s", first_io_err);
}

int main(int argc, char **argv)
{
	struct perf_ctx *ctx = calloc(1, sizeof(*ctx));
	struct sigaction sa = { .sa_handler = on_signal };
	char err[512] = "";
	const char *fatal = NULL;
	int rc, status = 1;

	if (ctx == NULL) {
		perr("out of memory");
		return 1;
	}
	ctx->done_fd = -1;
	perf_opts_init(&ctx->opts);
	rc = perf_opts_parse(&ctx->opts, argc, argv, err, sizeof(err));
	if (rc != PERF_OPTS_OK) {
		if (rc == PERF_OPTS_ERROR)
			perr("%s", err);
		free(ctx);
		return rc == PERF_OPTS_EXIT ? 0 : 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sig_stop_flag = &ctx->stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	perf_clock_init(&ctx->clock);
	ctx->done_fd = eventfd(0, EFD_CLOEXEC);
	if (ctx->done_fd < 0) {
		perr("eventfd: %s", strerror(errno));
		goto out;
	}

	if (perf_ctrlr_setup(ctx)) {
		fatal = "setting up the controller failed (see above)";
		goto fail;
	}
	if (plan_region(ctx)) {
		fatal = "bad LBA range or I/O size for this namespace (see above)";
		goto fail;
	}
	if (open_queues(ctx)) {
		fatal = "connecting the I/O queues failed (see above)";
		goto fail;
	}
	err[0] = '\0';
	if (ctx->opts.idle) {
		hold_idle(ctx, err, sizeof(err));
	} else {
		if (start_threads(ctx)) {
			fatal = "cannot start the worker threads";
			goto fail;
		}
		supervise(ctx, err, sizeof(err));
	}
	for (uint32_t i = 0; i < ctx->nthreads && !err[0]; i++)
		if (ctx->threads[i].res.failed)
			snprintf(err, sizeof(err), "thread %u: %s", i, ctx->threads[i].res.err);
	if (err[0])
		fatal = err;
	else if (__atomic_load_n(&ctx->stop, __ATOMIC_RELAXED))
		fprintf(stderr, PERF_NAME ": interrupted: reporting what completed\n");
fail:
	close_queues(ctx);
	if (ctx->ctrlr.admin.cmds)
		perf_ctrlr_shutdown(ctx);
	report(ctx, fatal);
	status = fatal == NULL ? 0 : 1;
	for (uint32_t i = 0; i < ctx->nthreads && status == 0; i++)
		if (ctx->threads[i].res.errors || ctx->threads[i].res.verify_errors)
			status = 1;
out:
	sig_stop_flag = NULL;
	if (ctx->done_fd >= 0)
		close(ctx->done_fd);
	if (ctx->threads) {
		for (uint32_t i = 0; i < ctx->opts.threads; i++)
			free(ctx->threads[i].jobs);
	}
	free(ctx->threads);
	free(ctx->jobs);
	free(ctx);
	return status;
}
