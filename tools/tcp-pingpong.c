/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tcp-pingpong: the loopback TCP latency floor under an NVMe/TCP 4 KiB read
 * at queue depth 1.  The client sends a 72-byte message (a command capsule)
 * and waits for 4096 + 24 bytes (a C2HData PDU with its payload); the
 * server answers each message at once.  Both sides busy-poll non-blocking
 * sockets, as nvmft-perf and nvmft-tgt --busy-poll do.
 *
 *   tcp-pingpong [--server-core N] [--client-core N] [-t S | -n N]   both ends, one process
 *   tcp-pingpong --server [-a ADDR] [-p PORT] [--server-core N]       server only
 *   tcp-pingpong --client -a ADDR -p PORT [--client-core N] ...       client only
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "stats.h"
#include "tcp-tool.h"

struct pp_opts {
	const char *addr;
	long port;
	long server_core;
	long client_core;
	double time_s;
	long iters;
	long warmup;
	long req;
	long resp;
	bool json;
	int mode; /* 0 both, 1 server, 2 client */
};

struct pp_server {
	const struct pp_opts *o;
	int lfd;
	struct tt_cpu cpu;
	long served;
	int rc;
};

static const char usage[] =
	"Usage: tcp-pingpong [--server | --client] [options]\n"
	"  --server              serve only (prints the port it listens on)\n"
	"  --client              connect to a --server\n"
	"  -a, --addr ADDR       address (default 127.0.0.1)\n"
	"  -p, --port PORT       port (default 0 = any free port when serving)\n"
	"  --server-core N       pin the server thread to CPU N\n"
	"  --client-core N       pin the client thread to CPU N\n"
	"  -t, --time S          measured seconds (default 5)\n"
	"  -n, --iterations N    measured round trips instead of -t\n"
	"  --warmup N            unmeasured round trips first (default 1000)\n"
	"  --req BYTES           message size, client to server (default 72)\n"
	"  --resp BYTES          answer size, server to client (default 4120)\n"
	"  --json                one JSON object on stdout\n";

static void *server_main(void *arg)
{
	struct pp_server *s = arg;
	uint8_t *req = malloc((size_t)s->o->req), *resp = calloc(1, (size_t)s->o->resp);
	int fd, rc;

	s->rc = -1;
	if (req == NULL || resp == NULL || tt_pin((int)s->o->server_core))
		goto out;
	fd = tt_accept(s->lfd, 30000);
	if (fd < 0) {
		fprintf(stderr, "tcp-pingpong: no client within 30 s\n");
		goto out;
	}
	tt_cpu_start(&s->cpu);
	while ((rc = tt_recv_all(fd, req, (size_t)s->o->req)) == 0) {
		if (tt_send_all(fd, resp, (size_t)s->o->resp))
			break;
		s->served++;
	}
	tt_cpu_stop(&s->cpu);
	s->rc = rc == 1 ? 0 : -1;
	close(fd);
out:
	free(req);
	free(resp);
	return NULL;
}

static int client_run(const struct pp_opts *o, uint16_t port, struct perf_hist *h,
		      struct tt_cpu *cpu, double *elapsed)
{
	uint8_t *req = calloc(1, (size_t)o->req), *resp = malloc((size_t)o->resp);
	uint64_t t_end = 0, t0, start;
	int fd, rc = -1;

	if (req == NULL || resp == NULL || tt_pin((int)o->client_core))
		goto out_free;
	fd = tt_connect(o->addr, port, 10000);
	if (fd < 0)
		goto out_free;
	for (long i = 0; i < o->warmup; i++)
		if (tt_send_all(fd, req, (size_t)o->req) || tt_recv_all(fd, resp, (size_t)o->resp))
			goto out;
	tt_cpu_start(cpu);
	start = tt_now_ns();
	if (o->iters == 0)
		t_end = start + (uint64_t)(o->time_s * 1e9);
	for (long i = 0; o->iters ? i < o->iters : true; i++) {
		t0 = tt_now_ns();
		if (o->iters == 0 && t0 >= t_end)
			break;
		if (tt_send_all(fd, req, (size_t)o->req) || tt_recv_all(fd, resp, (size_t)o->resp))
			goto out;
		perf_hist_add(h, tt_now_ns() - t0);
	}
	*elapsed = (double)(tt_now_ns() - start) / 1e9;
	tt_cpu_stop(cpu);
	rc = 0;
out:
	close(fd);
out_free:
	free(req);
	free(resp);
	return rc;
}

static void report(const struct pp_opts *o, const struct perf_hist *h, double elapsed,
		   const struct tt_cpu *ccpu, const struct tt_cpu *scpu)
{
	double us[6] = {
		perf_hist_mean(h) / 1000.0, (double)h->min / 1000.0,
		(double)perf_hist_percentile(h, 50) / 1000.0,
		(double)perf_hist_percentile(h, 99) / 1000.0,
		(double)perf_hist_percentile(h, 99.9) / 1000.0, (double)h->max / 1000.0,
	};

	if (o->json) {
		struct jw w;

		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "tool", "tcp-pingpong");
		jw_str(&w, "addr", o->addr);
		jw_u64(&w, "req_bytes", (uint64_t)o->req);
		jw_u64(&w, "resp_bytes", (uint64_t)o->resp);
		jw_i64(&w, "client_core", o->client_core);
		jw_i64(&w, "server_core", o->server_core);
		jw_u64(&w, "round_trips", h->count);
		jw_dbl(&w, "elapsed_s", elapsed, 6);
		jw_dbl(&w, "round_trips_per_s", elapsed > 0 ? (double)h->count / elapsed : 0, 1);
		jw_obj_begin(&w, "latency_us");
		jw_dbl(&w, "avg", us[0], 3);
		jw_dbl(&w, "min", us[1], 3);
		jw_dbl(&w, "p50", us[2], 3);
		jw_dbl(&w, "p99", us[3], 3);
		jw_dbl(&w, "p99_9", us[4], 3);
		jw_dbl(&w, "max", us[5], 3);
		jw_obj_end(&w);
		jw_obj_begin(&w, "cpu");
		jw_dbl(&w, "client_percent", tt_cpu_pct(ccpu), 1);
		if (scpu)
			jw_dbl(&w, "server_percent", tt_cpu_pct(scpu), 1);
		else
			jw_null(&w, "server_percent");
		jw_obj_end(&w);
		jw_obj_end(&w);
		jw_end(&w);
		return;
	}
	printf("tcp-pingpong: %s, %ld B out, %ld B back, QD1: %lu round trips in %.2f s "
	       "(%.0f/s)\n", o->addr, o->req, o->resp, (unsigned long)h->count, elapsed,
	       elapsed > 0 ? (double)h->count / elapsed : 0);
	printf("latency (us): avg %.2f  min %.2f  p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
	       us[0], us[1], us[2], us[3], us[4], us[5]);
	printf("CPU: client %.1f%%", tt_cpu_pct(ccpu));
	if (scpu)
		printf(", server %.1f%%", tt_cpu_pct(scpu));
	printf("\n");
}

static int parse(struct pp_opts *o, int argc, char **argv)
{
	enum { O_SERVER = 256, O_CLIENT, O_SCORE, O_CCORE, O_WARMUP, O_REQ, O_RESP, O_JSON };
	static const struct option lo[] = {
		{ "server", no_argument, NULL, O_SERVER },
		{ "client", no_argument, NULL, O_CLIENT },
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "server-core", required_argument, NULL, O_SCORE },
		{ "client-core", required_argument, NULL, O_CCORE },
		{ "time", required_argument, NULL, 't' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "req", required_argument, NULL, O_REQ },
		{ "resp", required_argument, NULL, O_RESP },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	bool ok = true;

	*o = (struct pp_opts){ .addr = "127.0.0.1", .server_core = -1, .client_core = -1,
			       .time_s = 5, .warmup = 1000, .req = 72, .resp = 4096 + 24 };
	while (ok && (c = getopt_long(argc, argv, "a:p:t:n:h", lo, NULL)) != -1) {
		switch (c) {
		case O_SERVER: o->mode = 1; break;
		case O_CLIENT: o->mode = 2; break;
		case 'a': o->addr = optarg; break;
		case 'p': ok = tt_parse_long(optarg, 0, 65535, &o->port); break;
		case O_SCORE: ok = tt_parse_long(optarg, 0, 4095, &o->server_core); break;
		case O_CCORE: ok = tt_parse_long(optarg, 0, 4095, &o->client_core); break;
		case 't': ok = tt_parse_double(optarg, 0.001, 1e6, &o->time_s); break;
		case 'n': ok = tt_parse_long(optarg, 1, 1L << 40, &o->iters); break;
		case O_WARMUP: ok = tt_parse_long(optarg, 0, 1L << 40, &o->warmup); break;
		case O_REQ: ok = tt_parse_long(optarg, 1, 1 << 24, &o->req); break;
		case O_RESP: ok = tt_parse_long(optarg, 1, 1 << 24, &o->resp); break;
		case O_JSON: o->json = true; break;
		case 'h': fputs(usage, stdout); exit(0);
		default: ok = false; break;
		}
	}
	if (!ok || optind < argc || (o->mode == 2 && o->port == 0)) {
		fputs(usage, stderr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct pp_opts o;
	struct pp_server s = { .lfd = -1 };
	struct perf_hist *h = malloc(sizeof(*h));
	struct tt_cpu ccpu = { 0 };
	double elapsed = 0;
	uint16_t port;
	pthread_t tid;
	int rc = 1;

	if (h == NULL || parse(&o, argc, argv))
		return 2;
	perf_hist_init(h);
	s.o = &o;
	if (o.mode == 2)
		return client_run(&o, (uint16_t)o.port, h, &ccpu, &elapsed) ? 1 :
		       (report(&o, h, elapsed, &ccpu, NULL), 0);
	s.lfd = tt_listen(o.addr, (uint16_t)o.port, &port);
	if (s.lfd < 0)
		return 1;
	if (o.mode == 1) {
		printf("tcp-pingpong: serving on %s port %u\n", o.addr, port);
		fflush(stdout);
		server_main(&s);
		close(s.lfd);
		return s.rc ? 1 : 0;
	}
	if (pthread_create(&tid, NULL, server_main, &s) != 0)
		return 1;
	if (client_run(&o, port, h, &ccpu, &elapsed) == 0)
		rc = 0;
	pthread_join(tid, NULL);
	close(s.lfd);
	if (rc == 0 && s.rc == 0)
		report(&o, h, elapsed, &ccpu, &s.cpu);
	free(h);
	return rc || s.rc ? 1 : 0;
}
