/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tcp-stream: the throughput ceiling of one TCP connection, as one
 * NVMe/TCP queue moving large reads would use it.  One sender writes
 * 128 KiB messages back to back, one receiver reads them into a 128 KiB
 * buffer; both busy-poll non-blocking sockets.  The receiver's byte count
 * over its own clock is the result.
 *
 * With --window N the receiver asks for each message with a 72-byte
 * request and keeps N requests outstanding, as an NVMe/TCP host does with
 * N reads in flight: the same bytes in flight as a read workload at queue
 * depth N, so it is the ceiling such a workload is held against.  Without
 * it the sender writes as fast as the socket takes data.
 *
 *   tcp-stream [--sender-core N] [--receiver-core N] [-t S]       both ends, one process
 *   tcp-stream --receiver [-a ADDR] [-p PORT] ...                  receive only
 *   tcp-stream --sender -a ADDR -p PORT ...                        send only
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "json.h"
#include "tcp-tool.h"

struct st_opts {
	const char *addr;
	long port;
	long snd_core;
	long rcv_core;
	double time_s;
	double warmup_s;
	long msg;
	bool json;
	long window;   /* 0: unbounded stream; else requests outstanding */
	int mode; /* 0 both, 1 receiver, 2 sender */
};

/* The request a windowed receiver sends per message: a command capsule's size. */
#define ST_REQ_BYTES 72

struct st_side {
	const struct st_opts *o;
	int fd;
	struct tt_cpu cpu;
	uint64_t bytes;    /* measured bytes (receiver) or all bytes sent (sender) */
	double elapsed;
	int rc;
};

static const char usage[] =
	"Usage: tcp-stream [--receiver | --sender] [options]\n"
	"  --receiver            receive only (prints the port it listens on)\n"
	"  --sender              send to a --receiver\n"
	"  -a, --addr ADDR       address (default 127.0.0.1)\n"
	"  -p, --port PORT       port (default 0 = any free port when receiving)\n"
	"  --sender-core N       pin the sending thread to CPU N\n"
	"  --receiver-core N     pin the receiving thread to CPU N\n"
	"  -t, --time S          seconds to send (default 5)\n"
	"  --warmup S            seconds at the start the receiver does not count (default 0.5)\n"
	"  --msg BYTES           bytes per send and per receive (default 131072)\n"
	"  --window N            the receiver asks for each message with a 72 B request,\n"
	"                        N outstanding (default 0: the sender just streams)\n"
	"  --json                one JSON object on stdout\n";

/* Windowed: one message per request received, in order. */
static int sender_windowed(struct st_side *s, const uint8_t *buf, size_t len)
{
	uint8_t req[ST_REQ_BYTES * 64];
	size_t have = 0;

	for (;;) {
		ssize_t n = recv(s->fd, req + have, sizeof(req) - have, MSG_DONTWAIT);

		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			return -1;
		}
		have += (size_t)n;
		for (size_t k = have / ST_REQ_BYTES; k > 0; k--) {
			if (tt_send_all(s->fd, buf, len))
				return -1;
			s->bytes += len;
		}
		/* A partial request stays, moved to the front. */
		memmove(req, req + have / ST_REQ_BYTES * ST_REQ_BYTES, have % ST_REQ_BYTES);
		have %= ST_REQ_BYTES;
	}
}

static void *sender_main(void *arg)
{
	struct st_side *s = arg;
	size_t len = (size_t)s->o->msg;
	uint8_t *buf = calloc(1, len);
	uint64_t end;

	s->rc = -1;
	if (buf == NULL || tt_pin((int)s->o->snd_core))
		goto out;
	tt_cpu_start(&s->cpu);
	if (s->o->window > 0) {
		/* The receiver decides when it has had enough: it closes. */
		if (sender_windowed(s, buf, len))
			goto out;
	} else {
		end = tt_now_ns() + (uint64_t)((s->o->time_s + s->o->warmup_s) * 1e9);
		while (tt_now_ns() < end) {
			if (tt_send_all(s->fd, buf, len))
				goto out;
			s->bytes += len;
		}
	}
	tt_cpu_stop(&s->cpu);
	s->rc = 0;
out:
	shutdown(s->fd, SHUT_WR);
	free(buf);
	return NULL;
}

static void *receiver_main(void *arg)
{
	struct st_side *s = arg;
	size_t len = (size_t)s->o->msg;
	uint8_t *buf = malloc(len);
	uint8_t req[ST_REQ_BYTES] = { 0 };
	uint64_t t_measure = 0, last = 0, end = 0, got = 0;
	long outstanding = 0;
	bool measuring = false, closing = false;

	s->rc = -1;
	if (buf == NULL || tt_pin((int)s->o->rcv_core))
		goto out;
	for (;;) {
		ssize_t n;
		uint64_t now;

		/* Windowed: keep the window full until time is up. */
		while (s->o->window > 0 && !closing && outstanding < s->o->window) {
			if (tt_send_all(s->fd, req, sizeof(req)))
				goto out;
			outstanding++;
		}
		n = recv(s->fd, buf, len, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			goto out;
		}
		now = tt_now_ns();
		if (t_measure == 0) {
			t_measure = now + (uint64_t)(s->o->warmup_s * 1e9);
			end = t_measure + (uint64_t)(s->o->time_s * 1e9);
		}
		if (s->o->window > 0) {
			got += (uint64_t)n;
			outstanding -= (long)(got / len);
			got %= len;
			if (!closing && now >= end) {
				closing = true;
				shutdown(s->fd, SHUT_WR);
			}
		}
		if (!measuring && now >= t_measure) {
			measuring = true;
			t_measure = now;
			tt_cpu_start(&s->cpu);
			continue;
		}
		if (measuring && (!closing || s->o->window == 0)) {
			s->bytes += (uint64_t)n;
			last = now;
		}
	}
	if (!measuring)
		goto out;
	tt_cpu_stop(&s->cpu);
	s->elapsed = (double)(last - t_measure) / 1e9;
	s->rc = 0;
out:
	free(buf);
	return NULL;
}

static void report(const struct st_opts *o, const struct st_side *r, const struct st_side *snd)
{
	double mib = r->elapsed > 0 ? (double)r->bytes / r->elapsed / 1048576.0 : 0;

	if (o->json) {
		struct jw w;

		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "tool", "tcp-stream");
		jw_str(&w, "addr", o->addr);
		jw_u64(&w, "msg_bytes", (uint64_t)o->msg);
		jw_i64(&w, "window", o->window);
		jw_i64(&w, "sender_core", o->snd_core);
		jw_i64(&w, "receiver_core", o->rcv_core);
		jw_u64(&w, "bytes", r->bytes);
		jw_dbl(&w, "elapsed_s", r->elapsed, 6);
		jw_dbl(&w, "mib_s", mib, 1);
		jw_dbl(&w, "gbit_s", mib * 1048576.0 * 8 / 1e9, 3);
		jw_dbl(&w, "msgs_per_s", mib * 1048576.0 / (double)o->msg, 1);
		jw_obj_begin(&w, "cpu");
		jw_dbl(&w, "receiver_percent", tt_cpu_pct(&r->cpu), 1);
		if (snd)
			jw_dbl(&w, "sender_percent", tt_cpu_pct(&snd->cpu), 1);
		else
			jw_null(&w, "sender_percent");
		jw_obj_end(&w);
		jw_obj_end(&w);
		jw_end(&w);
		return;
	}
	printf("tcp-stream: %s, %ld B messages: %.1f MiB/s (%.2f Gbit/s, %.0f msgs/s) over %.2f s\n",
	       o->addr, o->msg, mib, mib * 1048576.0 * 8 / 1e9, mib * 1048576.0 / (double)o->msg,
	       r->elapsed);
	printf("CPU: receiver %.1f%%", tt_cpu_pct(&r->cpu));
	if (snd)
		printf(", sender %.1f%%", tt_cpu_pct(&snd->cpu));
	printf("\n");
}

static int parse(struct st_opts *o, int argc, char **argv)
{
	enum { O_RECV = 256, O_SEND, O_SCORE, O_RCORE, O_WARMUP, O_MSG, O_JSON, O_WINDOW };
	static const struct option lo[] = {
		{ "receiver", no_argument, NULL, O_RECV },
		{ "sender", no_argument, NULL, O_SEND },
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "sender-core", required_argument, NULL, O_SCORE },
		{ "receiver-core", required_argument, NULL, O_RCORE },
		{ "time", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "msg", required_argument, NULL, O_MSG },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool ok = true;
	int c;

	*o = (struct st_opts){ .addr = "127.0.0.1", .snd_core = -1, .rcv_core = -1, .time_s = 5,
			       .warmup_s = 0.5, .msg = 128 * 1024 };
	while (ok && (c = getopt_long(argc, argv, "a:p:t:h", lo, NULL)) != -1) {
		switch (c) {
		case O_RECV: o->mode = 1; break;
		case O_SEND: o->mode = 2; break;
		case 'a': o->addr = optarg; break;
		case 'p': ok = tt_parse_long(optarg, 0, 65535, &o->port); break;
		case O_SCORE: ok = tt_parse_long(optarg, 0, 4095, &o->snd_core); break;
		case O_RCORE: ok = tt_parse_long(optarg, 0, 4095, &o->rcv_core); break;
		case 't': ok = tt_parse_double(optarg, 0.01, 1e6, &o->time_s); break;
		case O_WARMUP: ok = tt_parse_double(optarg, 0, 1e6, &o->warmup_s); break;
		case O_MSG: ok = tt_parse_long(optarg, 1, 1 << 26, &o->msg); break;
		case O_WINDOW: ok = tt_parse_long(optarg, 0, 4096, &o->window); break;
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
	struct st_opts o;
	struct st_side snd = { .fd = -1 }, rcv = { .fd = -1 };
	uint16_t port;
	pthread_t tid;
	int lfd;

	if (parse(&o, argc, argv))
		return 2;
	snd.o = rcv.o = &o;
	if (o.mode == 2) {
		snd.fd = tt_connect(o.addr, (uint16_t)o.port, 10000);
		if (snd.fd < 0)
			return 1;
		sender_main(&snd);
		close(snd.fd);
		return snd.rc ? 1 : 0;
	}
	lfd = tt_listen(o.addr, (uint16_t)o.port, &port);
	if (lfd < 0)
		return 1;
	if (o.mode == 1) {
		printf("tcp-stream: receiving on %s port %u\n", o.addr, port);
		fflush(stdout);
	} else {
		snd.fd = tt_connect(o.addr, port, 10000);
		if (snd.fd < 0)
			return 1;
	}
	rcv.fd = tt_accept(lfd, 30000);
	close(lfd);
	if (rcv.fd < 0) {
		fprintf(stderr, "tcp-stream: no sender within 30 s\n");
		return 1;
	}
	if (o.mode == 0 && pthread_create(&tid, NULL, sender_main, &snd) != 0)
		return 1;
	receiver_main(&rcv);
	if (o.mode == 0) {
		pthread_join(tid, NULL);
		close(snd.fd);
	}
	close(rcv.fd);
	if (rcv.rc || (o.mode == 0 && snd.rc))
		return 1;
	report(&o, &rcv, o.mode == 0 ? &snd : NULL);
	return 0;
}
