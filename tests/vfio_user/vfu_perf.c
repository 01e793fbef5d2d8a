/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfu-perf: how fast a vfio-user NVMe controller serves one busy-polling
 * client.  One I/O queue pair, interrupts off (the completion queue is
 * polled for its phase tags), doorbells written straight into the mapped
 * BAR0 page, a fixed queue depth kept full.  Latency is per command, from
 * the moment its entry is written to the moment its completion is seen.
 *
 *   vfu-perf -s /run/vfu/cntrl -q 32 -o 4096 -w randread -t 5 --warmup 1 --core 1 --json
 *
 * Exit status 0 when every command succeeded (and --verify found its data),
 * 1 otherwise.  bench/bench.py (section vfio-user) runs it against nvmft-tgt.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "vfu_client.h"

#define PERF_IOVA 0x100000000ull
/* Latency histogram: 32 linear steps per power of two of nanoseconds. */
#define HIST_SUB 32
#define HIST_BUCKETS (64 * HIST_SUB)

struct perf_opts {
	const char *sock;
	uint32_t qd;
	uint32_t bs;
	bool write;
	bool random;
	double seconds;
	double warmup;
	uint64_t count;
	int core;
	uint32_t nsid;
	bool verify;
	bool json;
};

struct perf {
	struct perf_opts o;
	struct vfuc *c;
	struct vfuc_q q;
	uint64_t buf; /* qd buffers of bs bytes */
	uint32_t lba_size;
	uint64_t ns_blocks;
	uint64_t span;      /* I/O units in the namespace */
	uint64_t *t_submit; /* per slot, in ticks */
	uint64_t *lba_of;   /* per slot */
	uint64_t rnd;
	uint64_t seq;
	double ns_per_tick;
	uint64_t hist[HIST_BUCKETS];
	uint64_t ios, errors, lat_sum, lat_min, lat_max, verify_fail;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ticks(void)
{
#if defined(__x86_64__)
	return __rdtsc();
#else
	return mono_ns();
#endif
}

/* Ticks per nanosecond, measured against the monotonic clock. */
static double calibrate(void)
{
#if defined(__x86_64__)
	uint64_t n0 = mono_ns(), t0 = ticks(), n1, t1;

	do {
		n1 = mono_ns();
	} while (n1 - n0 < 50000000u);
	t1 = ticks();
	return (double)(n1 - n0) / (double)(t1 - t0);
#else
	return 1.0;
#endif
}

static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void hist_add(struct perf *p, uint64_t ns)
{
	uint32_t b;

	if (ns < HIST_SUB) {
		b = (uint32_t)ns;
	} else {
		uint32_t e = 63 - (uint32_t)__builtin_clzll(ns); /* >= 5 */
		uint32_t sub = (uint32_t)((ns >> (e - 5)) & (HIST_SUB - 1));

		b = (e - 4) * HIST_SUB + sub;
	}
	if (b >= HIST_BUCKETS)
		b = HIST_BUCKETS - 1;
	p->hist[b]++;
}

/* The upper edge of bucket @b in ns. */
static double hist_edge(uint32_t b)
{
	uint32_t e, sub;

	if (b < HIST_SUB)
		return b + 1;
	e = b / HIST_SUB + 4;
	sub = b % HIST_SUB;
	return (double)((1ull << e) + ((uint64_t)(sub + 1) << (e - 5)));
}

static double percentile(const struct perf *p, double pct)
{
	uint64_t want = (uint64_t)ceil((double)p->ios * pct / 100.0), seen = 0;

	for (uint32_t b = 0; b < HIST_BUCKETS; b++) {
		seen += p->hist[b];
		if (seen >= want && want > 0)
			return hist_edge(b);
	}
	return 0;
}

static void fill_slot(struct perf *p, uint32_t slot, uint64_t lba)
{
	uint8_t *d = vfuc_va(p->c, p->buf + (uint64_t)slot * p->o.bs);

	for (uint32_t i = 0; i < p->o.bs; i += 8) {
		uint64_t v = lba * 0x9e3779b97f4a7c15ull + i;

		memcpy(d + i, &v, 8);
	}
}

static bool check_slot(struct perf *p, uint32_t slot, uint64_t lba)
{
	const uint8_t *d = vfuc_va(p->c, p->buf + (uint64_t)slot * p->o.bs);

	for (uint32_t i = 0; i < p->o.bs; i += 8) {
		uint64_t v = lba * 0x9e3779b97f4a7c15ull + i, got;

		memcpy(&got, d + i, 8);
		if (got != v)
			return false;
	}
	return true;
}

/* Write the entry for @slot on the queue (not rung yet). */
static inline void submit(struct perf *p, uint32_t slot)
{
	struct vfuc_q *q = &p->q;
	struct nvmft_cmd *e = &q->sq[q->sq_tail];
	uint64_t unit = p->o.random ? xorshift(&p->rnd) % p->span : p->seq++ % p->span;
	uint64_t lba = unit * (p->o.bs / p->lba_size);
	uint64_t iova = p->buf + (uint64_t)slot * p->o.bs;

	if (p->o.verify && p->o.write)
		fill_slot(p, slot, lba);
	memset(e, 0, sizeof(*e));
	e->opcode = p->o.write ? nvme_cmd_write : nvme_cmd_read;
	e->cid = htole16((uint16_t)slot);
	e->nsid = htole32(p->o.nsid);
	e->dptr.prp.prp1 = htole64(iova);
	if (p->o.bs > 4096)
		e->dptr.prp.prp2 = htole64(iova + 4096);
	e->cdw10 = htole32((uint32_t)lba);
	e->cdw11 = htole32((uint32_t)(lba >> 32));
	e->cdw12 = htole32(p->o.bs / p->lba_size - 1);
	p->lba_of[slot] = lba;
	p->t_submit[slot] = ticks();
	q->sq_tail = (uint16_t)(q->sq_tail + 1 == q->entries ? 0 : q->sq_tail + 1);
}

static int setup(struct perf *p)
{
	struct vfuc_opts co = { .timeout_ms = 10000 };
	struct nvme_id_ns *ns;
	uint64_t id, mem;
	uint32_t mqes;
	int rc;

	rc = vfuc_connect(p->o.sock, &co, &p->c);
	if (rc < 0)
		return rc;
	mem = (uint64_t)p->o.qd * p->o.bs + (4u << 20);
	mem = (mem + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);
	if ((rc = vfuc_version(p->c, "{\"capabilities\":{\"max_msg_fds\":8}}")) < 0 ||
	    (rc = vfuc_mem_add(p->c, PERF_IOVA, mem)) < 0 || (rc = vfuc_setup_bar0(p->c)) < 0 ||
	    (rc = vfuc_nvme_enable(p->c, 32)) < 0)
		return rc;
	if (p->c->db == NULL)
		fprintf(stderr, "vfu-perf: doorbells not mappable: every ring is a message\n");
	if (vfuc_set_num_queues(p->c, 1, 1) != 0)
		return -EIO;
	id = vfuc_alloc(p->c, 4096, 4096);
	if (vfuc_identify(p->c, NVME_IDENTIFY_CNS_NS, p->o.nsid, id) != 0)
		return -ENOENT;
	ns = vfuc_va(p->c, id);
	p->lba_size = 1u << ns->lbaf[ns->flbas & 0xf].ds;
	p->ns_blocks = le64toh(ns->nsze);
	if (p->lba_size > p->o.bs || p->o.bs % p->lba_size || p->o.bs > 8192 || p->ns_blocks == 0)
		return -EINVAL;
	p->span = p->ns_blocks / (p->o.bs / p->lba_size);
	mqes = (uint32_t)(p->c->cap & 0xffff) + 1;
	if (p->o.qd + 1 > mqes)
		return -E2BIG;
	/* One entry stays empty: a queue of qd + 1 holds qd commands. */
	rc = vfuc_nvme_qpair(p->c, 1, (uint16_t)(p->o.qd + 1), false, 0, &p->q);
	if (rc != 0)
		return rc < 0 ? rc : -EIO;
	p->buf = vfuc_alloc(p->c, (size_t)p->o.qd * p->o.bs, 4096);
	p->t_submit = calloc(p->o.qd, sizeof(*p->t_submit));
	p->lba_of = calloc(p->o.qd, sizeof(*p->lba_of));
	if (p->buf == 0 || p->t_submit == NULL || p->lba_of == NULL)
		return -ENOMEM;
	return 0;
}

/* Keep qd commands in flight until the time (or count) is up.  @record: count them. */
static int run(struct perf *p, double seconds, uint64_t count, bool record)
{
	struct vfuc_q *q = &p->q;
	uint64_t start = mono_ns(), deadline = start + (uint64_t)(seconds * 1e9);
	uint64_t submitted = 0, completed = 0, spins = 0;
	bool stop = false;

	for (uint32_t s = 0; s < p->o.qd && (count == 0 || submitted < count); s++, submitted++)
		submit(p, s);
	vfuc_ring(q);
	while (completed < submitted) {
		struct nvmft_cpl cpl;
		uint32_t n = 0;

		while (vfuc_peek(q, &cpl)) {
			uint32_t slot = le16toh(cpl.cid);
			uint64_t t = ticks();

			n++;
			completed++;
			if (slot >= p->o.qd)
				return -EPROTO;
			if (vfuc_status(&cpl) != 0) {
				p->errors++;
			} else if (record) {
				uint64_t ns = (uint64_t)((double)(t - p->t_submit[slot]) * p->ns_per_tick);

				p->ios++;
				p->lat_sum += ns;
				if (ns < p->lat_min)
					p->lat_min = ns;
				if (ns > p->lat_max)
					p->lat_max = ns;
				hist_add(p, ns);
			}
			if (p->o.verify && !p->o.write && vfuc_status(&cpl) == 0 &&
			    !check_slot(p, slot, p->lba_of[slot]))
				p->verify_fail++;
			if (!stop && (count == 0 || submitted < count)) {
				submit(p, slot);
				submitted++;
			}
		}
		if (n > 0) {
			/* One head update and one tail update per batch of completions. */
			vfuc_doorbell(p->c, 3, q->cq_head);
			vfuc_ring(q);
		}
		if (count == 0 && ++spins % 256 == 0 && mono_ns() >= deadline)
			stop = true;
	}
	return 0;
}

static void usage(FILE *out)
{
	fputs("Usage: vfu-perf -s SOCKET [options]\n"
	      "  -s, --socket PATH     the controller's vfio-user socket (DIR/cntrl)\n"
	      "  -q, --qd N            commands in flight (default 32)\n"
	      "  -o, --bs N            bytes per command, 512..8192 (default 4096)\n"
	      "  -w, --rw MODE         randread, randwrite, read, write (default randread)\n"
	      "  -t, --time S          seconds to measure (default 5)\n"
	      "      --warmup S        seconds before measuring (default 1)\n"
	      "      --count N         stop after N commands instead of a time\n"
	      "      --core N          run on this CPU\n"
	      "      --nsid N          namespace (default 1)\n"
	      "      --verify          writes carry a pattern; reads check it\n"
	      "      --json            results as JSON on stdout\n",
	      out);
}

static int parse(int argc, char **argv, struct perf_opts *o)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "qd", required_argument, NULL, 'q' },
		{ "bs", required_argument, NULL, 'o' },
		{ "rw", required_argument, NULL, 'w' },
		{ "time", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, 1 },
		{ "count", required_argument, NULL, 2 },
		{ "core", required_argument, NULL, 3 },
		{ "nsid", required_argument, NULL, 4 },
		{ "verify", no_argument, NULL, 5 },
		{ "json", no_argument, NULL, 6 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct perf_opts){
		.qd = 32, .bs = 4096, .random = true, .seconds = 5, .warmup = 1, .core = -1, .nsid = 1
	};
	while ((c = getopt_long(argc, argv, "s:q:o:w:t:h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o->sock = optarg;
			break;
		case 'q':
			o->qd = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'o':
			o->bs = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'w':
			o->write = strstr(optarg, "write") != NULL;
			o->random = strncmp(optarg, "rand", 4) == 0;
			if (strcmp(optarg, "randread") && strcmp(optarg, "randwrite") &&
			    strcmp(optarg, "read") && strcmp(optarg, "write"))
				return -1;
			break;
		case 't':
			o->seconds = strtod(optarg, NULL);
			break;
		case 1:
			o->warmup = strtod(optarg, NULL);
			break;
		case 2:
			o->count = strtoull(optarg, NULL, 0);
			break;
		case 3:
			o->core = atoi(optarg);
			break;
		case 4:
			o->nsid = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 5:
			o->verify = true;
			break;
		case 6:
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (o->sock == NULL || o->qd == 0 || o->qd > 4095 || o->bs < 512 || o->bs > 8192 || o->seconds <= 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct perf *p = calloc(1, sizeof(*p));
	uint64_t t0, t1;
	double secs, iops;
	int rc;

	if (p == NULL || parse(argc, argv, &p->o) < 0) {
		usage(stderr);
		return 2;
	}
	if (p->o.core >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(p->o.core, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			perror("vfu-perf: sched_setaffinity");
	}
	p->ns_per_tick = calibrate();
	p->rnd = 0x2545f4914f6cdd1dull;
	p->lat_min = UINT64_MAX;
	rc = setup(p);
	if (rc < 0) {
		fprintf(stderr, "vfu-perf: set-up failed: %s\n", strerror(-rc));
		if (p->o.json)
			printf("{\"results\":{\"ok\":false,\"error\":\"set-up: %s\"}}\n", strerror(-rc));
		return 1;
	}
	if (p->o.verify && !p->o.write) {
		/* Reads check what a sequential write pass put there first. */
		p->o.write = true;
		p->o.random = false;
		p->seq = 0;
		rc = run(p, 0, p->span < 4096 ? p->span : 4096, false);
		p->o.write = false;
		p->seq = 0;
		p->o.random = false;
		if (p->o.count == 0 || p->o.count > (p->span < 4096 ? p->span : 4096))
			p->o.count = p->span < 4096 ? p->span : 4096;
	}
	if (rc == 0 && p->o.warmup > 0 && p->o.count == 0)
		rc = run(p, p->o.warmup, 0, false);
	t0 = mono_ns();
	if (rc == 0)
		rc = run(p, p->o.seconds, p->o.count, true);
	t1 = mono_ns();
	secs = (double)(t1 - t0) / 1e9;
	iops = secs > 0 ? (double)p->ios / secs : 0;
	if (p->o.json) {
		printf("{\"config\":{\"qd\":%u,\"bs\":%u,\"rw\":\"%s%s\",\"doorbells\":\"%s\"},"
		       "\"results\":{\"ok\":%s,\"ios\":%" PRIu64 ",\"errors\":%" PRIu64
		       ",\"verify_failures\":%" PRIu64 ",\"seconds\":%.3f,\"iops\":%.1f,\"mib_s\":%.2f,"
		       "\"latency_us\":{\"avg\":%.3f,\"min\":%.3f,\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
		       "\"max\":%.3f},"
		       "\"cpu\":{\"busy_percent\":100}}}\n",
		       p->o.qd, p->o.bs, p->o.random ? "rand" : "", p->o.write ? "write" : "read",
		       p->c->db != NULL ? "mapped" : "messages",
		       rc == 0 && p->errors == 0 && p->verify_fail == 0 && p->ios > 0 ? "true" : "false",
		       p->ios, p->errors, p->verify_fail, secs, iops, iops * p->o.bs / 1048576.0,
		       p->ios ? (double)p->lat_sum / (double)p->ios / 1e3 : 0,
		       p->ios ? (double)p->lat_min / 1e3 : 0, percentile(p, 50) / 1e3,
		       percentile(p, 99) / 1e3, percentile(p, 99.9) / 1e3, (double)p->lat_max / 1e3);
	} else {
		printf("vfu-perf: %s qd %u bs %u: %.0f IOPS, %.1f MiB/s, avg %.2f us, p50 %.2f us, p99 %.2f "
		       "us, "
		       "%" PRIu64 " I/Os, %" PRIu64 " errors%s\n",
		       p->o.write ? "write" : "read", p->o.qd, p->o.bs, iops, iops * p->o.bs / 1048576.0,
		       p->ios ? (double)p->lat_sum / (double)p->ios / 1e3 : 0, percentile(p, 50) / 1e3,
		       percentile(p, 99) / 1e3, p->ios, p->errors, p->verify_fail ? ", verify FAILED" : "");
	}
	rc = rc == 0 && p->errors == 0 && p->verify_fail == 0 && p->ios > 0 ? 0 : 1;
	vfuc_close(p->c);
	free(p->t_submit);
	free(p->lba_of);
	free(p);
	return rc;
}
