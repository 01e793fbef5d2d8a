/* SPDX-License-Identifier: BSD-3-Clause */
/* Results: merge the threads' numbers, print them as text or as one JSON object. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "nvmft/version.h"
#include "perf.h"
#include "util/compiler.h"

static const char *const kind_name[3] = { "read", "write", "total" };

static double busy_pct(const struct perf_thread_result *r)
{
	if (r->window_ticks == 0)
		return 0.0;
	return 100.0 * (double)(r->window_ticks - NVMFT_MIN(r->idle_ticks, r->window_ticks)) /
	       (double)r->window_ticks;
}

void perf_summarize(const struct perf_ctx *ctx, struct perf_summary *s)
{
	uint64_t elapsed = 0;

	memset(s, 0, sizeof(*s));
	for (int k = 0; k < 3; k++)
		perf_hist_init(&s->hist[k]);
	for (uint32_t i = 0; i < ctx->nthreads; i++) {
		const struct perf_thread_result *r = &ctx->threads[i].res;

		for (int k = 0; k < 2; k++) {
			perf_hist_merge(&s->hist[k], &r->hist[k]);
			perf_hist_merge(&s->hist[2], &r->hist[k]);
			s->ios[k] += r->ios[k];
			s->bytes[k] += r->bytes[k];
		}
		s->errors += r->errors;
		s->verify_errors += r->verify_errors;
		s->verify_reads += r->verify_reads;
		if (r->elapsed_ticks > elapsed)
			elapsed = r->elapsed_ticks;
		s->cpu_user_s += r->cpu_user_s;
		s->cpu_sys_s += r->cpu_sys_s;
		if (r->wall_s > 0)
			s->cpu_pct += (r->cpu_user_s + r->cpu_sys_s) / r->wall_s * 100.0;
		s->busy_pct += busy_pct(r);
		s->busy_cpu_s += (r->cpu_user_s + r->cpu_sys_s) * busy_pct(r) / 100.0;
		s->rx_calls += r->rx_calls;
		s->rx_bytes += r->rx_bytes;
		s->tx_calls += r->tx_calls;
		s->tx_bytes += r->tx_bytes;
		s->pdus += r->pdus;
		s->rx_direct_bytes += r->rx_direct_bytes;
		s->rx_discard_bytes += r->rx_discard_bytes;
		s->rx_copy_bytes += r->rx_copy_bytes;
		s->epoll_calls += r->epoll_calls;
		s->epoll_threads += r->epoll;
	}
	s->ios[2] = s->ios[0] + s->ios[1];
	s->bytes[2] = s->bytes[0] + s->bytes[1];
	s->elapsed_s = ctx->opts.idle ? ctx->idle_s : (double)elapsed / (double)ctx->clock.hz;
}

/*
 * CPU time spent in passes that did work, per I/O: each thread's CPU
 * seconds scaled by the busy share of its window (time lost to preemption
 * falls into passes of both kinds alike).  Its inverse estimates what one fully
 * available core could drive, which is what tells whether the client or
 * the target limits a run, even on a machine where other work competes
 * for the core.
 */
static double busy_us_per_io(const struct perf_summary *s)
{
	return s->ios[2] ? s->busy_cpu_s * 1e6 / (double)s->ios[2] : 0.0;
}

static double rate(uint64_t n, double s)
{
	return s > 0 ? (double)n / s : 0.0;
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static void human_bytes(char *buf, size_t len, uint64_t b)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.2f %s" : "%.0f %s", v, unit[u]);
}

void perf_report_text(const struct perf_ctx *ctx, const struct perf_summary *s)
{
	const struct perf_opts *o = &ctx->opts;
	const struct perf_ctrlr *c = &ctx->ctrlr;
	char nsb[32], rgb[32];
	uint64_t ios = s->ios[2];

	human_bytes(nsb, sizeof(nsb), c->ns_blocks * c->lba_size);
	human_bytes(rgb, sizeof(rgb), ctx->region_bytes);
	printf("target:    %s at %s port %s, cntlid %u, %s (fw %s)\n", c->subnqn, o->traddr,
	       o->trsvcid, c->cntlid, c->mn, c->fr);
	if (o->ns_count > 1)
		printf("namespaces: %u-%u, %" PRIu64 " blocks of %u B (%s) each in use, using %s\n",
		       o->nsid, o->nsid + o->ns_count - 1, c->ns_blocks, c->lba_size, nsb, rgb);
	else
		printf("namespace: %u, %" PRIu64 " blocks of %u B (%s), using %s\n", o->nsid,
		       c->ns_blocks, c->lba_size, nsb, rgb);
	if (ctx->io_connected)
		printf("transport: hdgst %s, ddgst %s, in-capsule data up to %u B, MAXH2CDATA %u, "
		       "rx %s\n", ctx->io_tp.hdgst ? "on" : "off", ctx->io_tp.ddgst ? "on" : "off",
		       ctx->io_icd_max, ctx->io_tp.maxh2cdata, perf_rx_mode_name(ctx->io_rx_mode));
	printf("workload:  %s", perf_workload_name(o->workload));
	if (o->workload == PERF_WL_RW || o->workload == PERF_WL_RANDRW)
		printf(" (%u%% reads)", o->rwmix);
	printf(", %u B, %u queue%s x qd %u, %u thread%s", o->io_size, o->queues,
	       o->queues > 1 ? "s" : "", o->qd, ctx->nthreads, ctx->nthreads > 1 ? "s" : "");
	if (o->ncores) {
		printf(" on CPU");
		for (uint32_t i = 0; i < o->ncores; i++)
			printf("%s%d", i ? "," : " ", o->cores[i]);
	}
	if (o->count)
		printf(", %" PRIu64 " I/Os", o->count);
	else
		printf(", %.3g s", o->time_s);
	if (o->warmup_s > 0)
		printf(" after %.3g s warm-up", o->warmup_s);
	printf("%s\n\n", o->verify ? ", verify" : "");

	printf("%-6s %10s %12s %10s %9s %9s %9s %9s %9s %9s\n", "", "I/Os", "IOPS", "MiB/s",
	       "avg(us)", "min(us)", "p50(us)", "p99(us)", "p99.9(us)", "max(us)");
	for (int k = 0; k < 3; k++) {
		const struct perf_hist *h = &s->hist[k];

		if (k < 2 && s->ios[k] == 0)
			continue;
		if (k == 2 && (s->ios[0] == 0 || s->ios[1] == 0) && ios > 0)
			continue;
		printf("%-6s %10" PRIu64 " %12.2f %10.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n",
		       kind_name[k], s->ios[k], rate(s->ios[k], s->elapsed_s),
		       rate(s->bytes[k], s->elapsed_s) / 1048576.0, perf_hist_mean(h) / 1000.0,
		       us(h->count ? h->min : 0), us(perf_hist_percentile(h, 50)),
		       us(perf_hist_percentile(h, 99)), us(perf_hist_percentile(h, 99.9)),
		       us(h->max));
	}
	printf("\nelapsed:   %.3f s\n", s->elapsed_s);
	printf("client CPU: %.1f%% (user %.2f s, sys %.2f s), busy %.1f%% (100%% = one core)",
	       s->cpu_pct, s->cpu_user_s, s->cpu_sys_s, s->busy_pct);
	for (uint32_t i = 0; i < ctx->nthreads && ctx->nthreads > 1; i++) {
		const struct perf_thread_result *r = &ctx->threads[i].res;

		printf("%s thread %u %.1f%%/%.1f%%", i ? "," : ";", i,
		       r->wall_s > 0 ? (r->cpu_user_s + r->cpu_sys_s) / r->wall_s * 100.0 : 0.0,
		       busy_pct(r));
	}
	printf("\n");
	if (ios && s->busy_cpu_s > 0)
		printf("client cost: %.2f us CPU per I/O in busy passes (about %.0f IOPS per core "
		       "at 100%% busy)\n", busy_us_per_io(s), 1e6 / busy_us_per_io(s));
	if (ios)
		printf("syscalls:  %.2f send + %.2f receive per I/O, %.1f PDUs per receive\n",
		       (double)s->tx_calls / (double)ios, (double)s->rx_calls / (double)ios,
		       s->rx_calls ? (double)s->pdus / (double)s->rx_calls : 0.0);
	if (ios && s->epoll_threads)
		printf("polling:   epoll in %u of %u thread%s, %.2f epoll_wait per I/O\n",
		       s->epoll_threads, ctx->nthreads, ctx->nthreads > 1 ? "s" : "",
		       (double)s->epoll_calls / (double)ios);
	if (ctx->keep_alives)
		printf("keep-alive: %" PRIu64 " sent (every %u ms)\n", ctx->keep_alives,
		       ctx->ctrlr.kato_ms / 2);
	if (o->verify)
		printf("verify:    %" PRIu64 " errors, %" PRIu64 " read-back I/Os\n",
		       s->verify_errors, s->verify_reads);
	printf("errors:    %" PRIu64 "\n", s->errors + s->verify_errors);
}

static void json_latency(struct jw *w, const char *key, const struct perf_hist *h)
{
	static const struct {
		const char *name;
		double pct;
	} pts[] = {
		{ "p50", 50 }, { "p90", 90 }, { "p99", 99 }, { "p99_9", 99.9 }, { "p99_99", 99.99 },
	};

	jw_obj_begin(w, key);
	jw_dbl(w, "avg", perf_hist_mean(h) / 1000.0, 3);
	jw_dbl(w, "min", us(h->count ? h->min : 0), 3);
	jw_dbl(w, "max", us(h->max), 3);
	for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++)
		jw_dbl(w, pts[i].name, us(perf_hist_percentile(h, pts[i].pct)), 3);
	jw_obj_end(w);
}

static void json_kind(struct jw *w, const struct perf_summary *s, int k)
{
	jw_obj_begin(w, kind_name[k]);
	jw_u64(w, "ios", s->ios[k]);
	jw_u64(w, "bytes", s->bytes[k]);
	jw_dbl(w, "iops", rate(s->ios[k], s->elapsed_s), 2);
	jw_dbl(w, "mib_s", rate(s->bytes[k], s->elapsed_s) / 1048576.0, 3);
	json_latency(w, "latency_us", &s->hist[k]);
	jw_obj_end(w);
}

static void json_params(struct jw *w, const struct perf_ctx *ctx)
{
	const struct perf_opts *o = &ctx->opts;

	jw_obj_begin(w, "params");
	jw_str(w, "trtype", "tcp");
	jw_str(w, "traddr", o->traddr);
	jw_str(w, "trsvcid", o->trsvcid);
	jw_str(w, "subnqn", ctx->ctrlr.subnqn[0] ? ctx->ctrlr.subnqn : NULL);
	jw_str(w, "hostnqn", ctx->ctrlr.hostnqn[0] ? ctx->ctrlr.hostnqn : NULL);
	jw_u64(w, "nsid", o->nsid);
	jw_u64(w, "ns_count", o->ns_count);
	jw_bool(w, "idle", o->idle);
	jw_str(w, "workload", perf_workload_name(o->workload));
	jw_u64(w, "rwmixread", o->workload == PERF_WL_RW || o->workload == PERF_WL_RANDRW ?
	       o->rwmix : perf_workload_has_reads(o) ? 100 : 0);
	jw_u64(w, "io_size", o->io_size);
	jw_u64(w, "queues", o->queues);
	jw_u64(w, "qd", o->qd);
	jw_u64(w, "threads", o->threads);
	jw_arr_begin(w, "cores");
	for (uint32_t i = 0; i < o->ncores; i++)
		jw_i64(w, NULL, o->cores[i]);
	jw_arr_end(w);
	if (o->count)
		jw_null(w, "time_s");
	else
		jw_dbl(w, "time_s", o->time_s, 3);
	jw_u64(w, "count", o->count);
	jw_dbl(w, "warmup_s", o->warmup_s, 3);
	jw_bool(w, "verify", o->verify);
	jw_u64(w, "size", o->size);
	jw_bool(w, "hdgst", o->hdgst);
	jw_bool(w, "ddgst", o->ddgst);
	jw_u64(w, "kato_ms", o->kato_ms);
	jw_str(w, "rx_mode", perf_rx_mode_name(o->rx_mode));
	jw_str(w, "poll", perf_poll_mode_name(o->poll_mode));
	jw_bool(w, "no_icd", o->no_icd);
	jw_u64(w, "seed", o->seed);
	jw_dbl(w, "timeout_s", o->timeout_s, 3);
	jw_obj_end(w);
}

static void json_target(struct jw *w, const struct perf_ctx *ctx)
{
	const struct perf_ctrlr *c = &ctx->ctrlr;

	jw_obj_begin(w, "target");
	jw_bool(w, "discovered", c->disc_used);
	jw_u64(w, "cntlid", c->cntlid);
	jw_str(w, "model", c->mn);
	jw_str(w, "serial", c->sn);
	jw_str(w, "firmware", c->fr);
	jw_u64(w, "mqes", c->cap ? NVME_CAP_MQES(c->cap) + 1u : 0);
	jw_u64(w, "mdts_bytes", c->mdts_bytes);
	jw_u64(w, "ioccsz_bytes", c->ioccsz_bytes);
	jw_u64(w, "kas_ms", c->kas_ms);
	jw_u64(w, "io_queues_granted", c->nsqa);
	jw_u64(w, "lba_size", c->lba_size);
	jw_u64(w, "ns_blocks", c->ns_blocks);
	jw_u64(w, "ns_bytes", c->ns_blocks * c->lba_size);
	jw_u64(w, "region_bytes", ctx->region_bytes);
	if (ctx->io_connected) {
		jw_bool(w, "hdgst", ctx->io_tp.hdgst);
		jw_bool(w, "ddgst", ctx->io_tp.ddgst);
		jw_u64(w, "cpda", ctx->io_tp.cpda);
		jw_u64(w, "maxh2cdata", ctx->io_tp.maxh2cdata);
		jw_u64(w, "icd_bytes", ctx->io_icd_max);
		jw_str(w, "rx_mode", perf_rx_mode_name(ctx->io_rx_mode));
	}
	jw_obj_end(w);
}

void perf_report_json(const struct perf_ctx *ctx, const struct perf_summary *s, bool ok,
		      const char *error)
{
	struct jw w;

	jw_init(&w, stdout);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "tool", PERF_NAME);
	jw_str(&w, "version", NVMFT_VERSION_STRING);
	json_params(&w, ctx);
	json_target(&w, ctx);
	jw_obj_begin(&w, "results");
	jw_bool(&w, "ok", ok);
	jw_bool(&w, "interrupted", __atomic_load_n(&ctx->stop, __ATOMIC_RELAXED) != 0 && ok);
	jw_str(&w, "error", error && error[0] ? error : NULL);
	jw_dbl(&w, "elapsed_s", s->elapsed_s, 6);
	jw_u64(&w, "ios", s->ios[2]);
	jw_u64(&w, "bytes", s->bytes[2]);
	jw_dbl(&w, "iops", rate(s->ios[2], s->elapsed_s), 2);
	jw_dbl(&w, "mib_s", rate(s->bytes[2], s->elapsed_s) / 1048576.0, 3);
	jw_u64(&w, "errors", s->errors);
	jw_u64(&w, "verify_errors", s->verify_errors);
	jw_u64(&w, "verify_reads", s->verify_reads);
	jw_u64(&w, "keep_alives", ctx->keep_alives);
	json_latency(&w, "latency_us", &s->hist[2]);
	json_kind(&w, s, 0);
	json_kind(&w, s, 1);
	jw_obj_begin(&w, "cpu");
	jw_dbl(&w, "percent", s->cpu_pct, 1);
	jw_dbl(&w, "busy_percent", s->busy_pct, 1);
	jw_dbl(&w, "busy_us_per_io", busy_us_per_io(s), 3);
	jw_dbl(&w, "user_s", s->cpu_user_s, 3);
	jw_dbl(&w, "sys_s", s->cpu_sys_s, 3);
	jw_arr_begin(&w, "threads");
	for (uint32_t i = 0; i < ctx->nthreads; i++) {
		const struct perf_thread *t = &ctx->threads[i];
		const struct perf_thread_result *r = &t->res;

		jw_obj_begin(&w, NULL);
		jw_u64(&w, "id", t->id);
		jw_i64(&w, "core", t->core);
		jw_u64(&w, "queues", t->njobs);
		jw_u64(&w, "ios", r->ios[0] + r->ios[1]);
		jw_dbl(&w, "percent", r->wall_s > 0 ?
		       (r->cpu_user_s + r->cpu_sys_s) / r->wall_s * 100.0 : 0.0, 1);
		jw_dbl(&w, "busy_percent", busy_pct(r), 1);
		jw_bool(&w, "epoll", r->epoll);
		jw_dbl(&w, "user_s", r->cpu_user_s, 3);
		jw_dbl(&w, "sys_s", r->cpu_sys_s, 3);
		jw_dbl(&w, "wall_s", r->wall_s, 3);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_obj_begin(&w, "transport");
	jw_u64(&w, "send_calls", s->tx_calls);
	jw_u64(&w, "recv_calls", s->rx_calls);
	jw_u64(&w, "epoll_wait_calls", s->epoll_calls);
	jw_u64(&w, "epoll_threads", s->epoll_threads);
	jw_u64(&w, "bytes_sent", s->tx_bytes);
	jw_u64(&w, "bytes_received", s->rx_bytes);
	jw_u64(&w, "pdus_received", s->pdus);
	jw_u64(&w, "c2h_bytes_direct", s->rx_direct_bytes);
	jw_u64(&w, "c2h_bytes_discarded", s->rx_discard_bytes);
	jw_u64(&w, "c2h_bytes_copied", s->rx_copy_bytes);
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_end(&w);
}
