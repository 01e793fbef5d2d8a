/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The limits that stand between a hostile or broken host and everybody
 * else (doc/limits.md), each with its exact outcome, while the
 * environment's other host keeps being served (the teardown checks it):
 *
 * - a flood of connections beyond max_connections (target and transport):
 *   each newcomer evicts the oldest connection that has not connected, so
 *   a flood of idle sockets cannot keep a new host out; connected queues
 *   are never evicted, and with all of them connected a newcomer is closed
 *   at accept; what is closed costs nothing afterwards;
 * - connections that never send ICReq, or never a successful Connect, are
 *   closed at connect_timeout_ms;
 * - hosts that stop reading their responses hold at most
 *   max_qpair_buf_bytes of pool buffers each, others still get buffers,
 *   and after stall_timeout_ms they are closed and give everything back;
 * - hosts that never send the write data they announced, likewise;
 * - queue size, queue depth and queue count limits set below their
 *   defaults (test_cmd.c covers the defaults and Number of Queues,
 *   test_sq_depth.c a host with more commands in flight than entries);
 * - what a connection costs in memory at each stage (printed as TAP
 *   comments; doc/limits.md quotes them), with upper bounds asserted.
 *
 * White box: penv builds its target with default target options and its
 * other host needs a 128-entry I/O queue, so the options under test are
 * set in the target's or transport's copy after penv_init().  Each is read
 * where the limit applies (accept, assignment, Connect, controller
 * creation), so the effect is that of passing it to nvmft_*_new().
 *
 * Waits are bounded by wall-clock time only so that a broken target fails
 * instead of hanging; no result depends on how long anything took.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "core/ctrlr.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/target.h"
#include "core/transport.h"
#include "proto_env.h"

#define CMD(sc) NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, sc)
#define CONNECT_INVALID CMD(NVME_SC_CONNECT_INVALID_PARAM)
#define IPO_SUBNQN offsetof(struct nvmf_connect_data, subsysnqn)
#define IPO_QID offsetof(struct nvmft_connect_cmd, qid)
#define IPO_SQSIZE offsetof(struct nvmft_connect_cmd, sqsize)
#define BIG (128 * 1024)
/* Bound of every wait on the target, for failures only. */
#define WAIT_MS 30000

static uint64_t lim_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Pump until @cond holds or @ms pass; evaluates to whether it held.  Sleeps a little when idle. */
#define PUMP_UNTIL_MS(e, ms, cond)                                 \
	({                                                         \
		bool ok_ = false;                                  \
		uint64_t end_ = lim_now_ms() + (ms);               \
		for (;;) {                                         \
			if (cond) {                                \
				ok_ = true;                        \
				break;                             \
			}                                          \
			if (lim_now_ms() > end_)                   \
				break;                             \
			if (penv_pump(e) == 0)                     \
				usleep(200);                       \
		}                                                  \
		ok_;                                               \
	})

static struct th_cfg host_cfg(struct penv *e)
{
	struct th_cfg cfg = { .pump = penv_pump, .pump_arg = e, .subnqn = PENV_SUBNQN };

	return cfg;
}

/* Queue pairs the group holds (connected or not). */
static unsigned int group_qpairs(struct penv *e)
{
	struct nvmft_qpair *qp;
	unsigned int n = 0;

	TAILQ_FOREACH(qp, &e->pg->qpairs, link)
		n++;
	return n;
}

static uint32_t connections(struct penv *e)
{
	return atomic_load(&e->tgt->num_connections);
}

/* A plain TCP connection to the listener, nothing sent; non-blocking afterwards. */
static int raw_connect(struct penv *e)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(e->port)) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* The handshake completes in the kernel; the listener's backlog (512) has room. */
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
	return fd;
}

/* The target closed (FIN or RST) a connection we never sent anything on. */
static bool peer_closed(int fd)
{
	uint8_t b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static unsigned int count_closed(const int *fds, unsigned int n)
{
	unsigned int c = 0;

	for (unsigned int i = 0; i < n; i++)
		c += peer_closed(fds[i]);
	return c;
}

/* ---- Memory accounting ---------------------------------------------------------------------- */

struct mem {
	uint64_t heap; /* bytes in use from malloc (arena and mmapped chunks) */
	uint64_t rss;  /* resident set */
};

static struct mem mem_now(void)
{
	struct mallinfo2 mi = mallinfo2();
	struct mem m = { .heap = mi.uordblks + mi.hblkhd };
	unsigned long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	m.rss = (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
	return m;
}

/* Whether mallinfo2() sees this process's allocator (not under ASan or valgrind). */
static bool mem_counts(void)
{
	struct mem a = mem_now();
	void *p = malloc(100000);
	struct mem b;
	bool ok;

	assert_non_null(p);
	*(volatile char *)p = 1;
	b = mem_now();
	ok = b.heap >= a.heap + 100000;
	free(p);
	if (!ok)
		print_message("# mallinfo2() does not see this allocator (sanitizer or valgrind): "
			      "memory bounds not checked\n");
	return ok;
}

static int64_t per(uint64_t after, uint64_t before, unsigned int n)
{
	return ((int64_t)after - (int64_t)before) / (int64_t)n;
}

/* ---- Connection flood ----------------------------------------------------------------------- */

/*
 * Open @n idle connections at once against a limit of @limit connections
 * in all (the other host holds some of them).  Past the limit each
 * newcomer takes the place of the oldest connection that has not
 * connected, so exactly the newest ones that fit are kept, and they answer
 * ICReq; every other one is closed and leaves no memory behind.  Once the
 * kept ones have connected, a newcomer is closed at accept: connected
 * queues are never evicted.  Once they go, the same number fits again.
 */
static void flood(struct penv *e, uint32_t limit, unsigned int n)
{
	struct th_cfg cfg = host_cfg(e);
	uint32_t base = connections(e);
	uint32_t room = limit - base;
	unsigned int qps = group_qpairs(e);
	bool counts = mem_counts();
	int *fds = calloc(n, sizeof(*fds));
	struct th **kept = calloc(room, sizeof(*kept));
	struct th *extra;
	unsigned int nk = 0;
	struct mem m0, m1;

	assert_non_null(fds);
	assert_non_null(kept);
	assert_true(limit > base && n > room);
	m0 = mem_now();
	/* Quickly: every connection is made before the target polls once. */
	for (unsigned int i = 0; i < n; i++)
		fds[i] = raw_connect(e);
	assert_true(PUMP_UNTIL_MS(e, WAIT_MS, count_closed(fds, n) == n - room &&
					       group_qpairs(e) == qps + room));
	/* Settled: nothing more is accepted or closed. */
	for (int i = 0; i < 100; i++)
		penv_pump(e);
	assert_int_equal(count_closed(fds, n), n - room);
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(peer_closed(fds[i]), i < n - room);
	assert_int_equal(connections(e), limit);
	assert_int_equal(group_qpairs(e), qps + room);
	assert_int_equal(e->tgt->num_evicting, 0);
	m1 = mem_now();
	print_message("# flood of %u against %u: the newest %u kept, %u closed; heap +%lld B, "
		      "RSS +%lld B for the kept ones (%lld B heap each)\n",
		      n, limit, room, n - room, (long long)(m1.heap - m0.heap),
		      (long long)(m1.rss - m0.rss), (long long)per(m1.heap, m0.heap, room));
	if (counts) {
		/*
		 * Only the kept connections cost anything: a closed one leaves
		 * nothing.  Their staging buffers are mappings outside the heap.
		 */
		assert_true(m1.heap - m0.heap <= (uint64_t)room * (sizeof(struct tcp_conn) + 512));
	}

	/* The kept ones are real connections, and connect. */
	for (unsigned int i = 0; i < n - room; i++)
		close(fds[i]);
	for (unsigned int i = n - room; i < n; i++) {
		assert_int_equal(th_adopt(fds[i], &cfg, &kept[nk]), 0);
		assert_int_equal(th_icreq(kept[nk], 0, 0, 0), 0);
		TH_ASSERT_ST(kept[nk], th_connect_admin(kept[nk], 31, NULL), 0);
		nk++;
	}
	/* All connected: a newcomer is refused at accept and nobody makes room for it. */
	assert_int_equal(th_connect("127.0.0.1", e->port, &cfg, &extra), 0);
	TH_ASSERT_ST(extra, th_expect_closed(extra), 0);
	th_free(extra);
	for (unsigned int i = 0; i < nk; i++)
		TH_ASSERT_HEALTHY(kept[i]);
	assert_int_equal(connections(e), limit);

	/* They go; the same number fits again. */
	for (unsigned int i = 0; i < nk; i++)
		th_free(kept[i]);
	assert_true(PUMP_UNTIL_MS(e, WAIT_MS, connections(e) == base && group_qpairs(e) == qps));
	for (unsigned int i = 0; i < room; i++) {
		assert_int_equal(th_connect("127.0.0.1", e->port, &cfg, &kept[i]), 0);
		assert_int_equal(th_icreq(kept[i], 0, 0, 0), 0);
	}
	assert_int_equal(connections(e), limit);
	for (unsigned int i = 0; i < room; i++)
		th_free(kept[i]);
	assert_true(PUMP_UNTIL_MS(e, WAIT_MS, connections(e) == base && group_qpairs(e) == qps));
	free(kept);
	free(fds);
}

/* nvmft_target_opts.max_connections: 16 in all, the other host has 2 of them. */
static void test_flood_target_limit(void **state)
{
	struct penv *e = *state;

	e->tgt->opts.max_connections = 16;
	flood(e, 16, 200);
}

/* nvmft_transport_opts.max_connections, below the target's. */
static void test_flood_transport_limit(void **state)
{
	struct penv *e = *state;
	struct nvmft_transport_opts o;

	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o));
	o.max_connections = 8;
	penv_reinit(e, &(struct penv_opts){ .tr = &o });
	flood(e, 8, 100);
}

/*
 * A flooder fills the limit with connections that say nothing, faster
 * than connect_timeout_ms (10 s, the default) closes them.  A new host
 * still gets in at once: its two connections take the places of the two
 * oldest idle ones, and it connects a controller with an I/O queue and
 * moves data well within connect_timeout_ms.  The other host, whose queues
 * are connected, is untouched.
 */
static void test_flood_newcomer_gets_in(void **state)
{
	enum { LIMIT = 16, FLOOD = 100, NLB = 16 };
	struct penv *e = *state;
	struct th_cfg cfg = host_cfg(e);
	uint32_t base = connections(e), room = LIMIT - base;
	uint8_t w[NLB * PENV_BLOCK], r[NLB * PENV_BLOCK];
	struct penv_idle before, after;
	struct th *admin, *io;
	uint64_t t0, ms;
	int fds[FLOOD];

	assert_int_equal(e->tgt->opts.connect_timeout_ms, 10000);
	e->tgt->opts.max_connections = LIMIT;
	penv_count(e, &before);
	for (int i = 0; i < FLOOD; i++)
		fds[i] = raw_connect(e);
	assert_true(PUMP_UNTIL_MS(e, WAIT_MS, count_closed(fds, FLOOD) == FLOOD - room &&
					       connections(e) == LIMIT));

	t0 = lim_now_ms();
	assert_int_equal(th_connect("127.0.0.1", e->port, &cfg, &admin), 0);
	TH_ASSERT_ST(admin, th_admin_up(admin, 0, NULL), 0);
	assert_int_equal(th_connect("127.0.0.1", e->port, &cfg, &io), 0);
	assert_int_equal(th_icreq(io, 0, 0, 0), 0);
	TH_ASSERT_ST(io, th_connect_io(io, 1, 31, th_cntlid(admin)), 0);
	th_fill(w, sizeof(w), 0xf100d);
	TH_ASSERT_ST(io, th_rw(io, true, 1, 4096, NLB, w, sizeof(w), 0), 0);
	TH_ASSERT_ST(io, th_rw(io, false, 1, 4096, NLB, r, sizeof(r), 0), 0);
	assert_memory_equal(r, w, sizeof(w));
	ms = lim_now_ms() - t0;
	print_message("# %u idle connections hold the limit of %u: a new host connected and "
		      "moved data in %llu ms (connect_timeout_ms %u)\n",
		      room, LIMIT, (unsigned long long)ms, e->tgt->opts.connect_timeout_ms);
	/* Generous for valgrind; without eviction it would take connect_timeout_ms. */
	assert_true(ms < 4000);

	/* Exactly the two oldest idle connections made room; the rest are still open. */
	for (int i = 0; i < FLOOD; i++)
		assert_int_equal(peer_closed(fds[i]), i < FLOOD - (int)room + 2);
	assert_int_equal(connections(e), LIMIT);
	penv_count(e, &after);
	assert_int_equal(after.admin_qpairs, before.admin_qpairs + 1);
	assert_int_equal(after.io_qpairs, before.io_qpairs + 1);
	penv_check_other(e);
	TH_ASSERT_HEALTHY(admin);
	TH_ASSERT_HEALTHY(io);

	th_free(io);
	th_free(admin);
	for (int i = 0; i < FLOOD; i++)
		close(fds[i]);
	assert_true(PUMP_UNTIL_MS(e, WAIT_MS, connections(e) == base));
}

/* ---- Connect deadline ----------------------------------------------------------------------- */

/*
 * Silent after accept, half an ICReq, ICReq and nothing else, a Connect
 * the target refused, an I/O Connect naming no controller: each is closed
 * at connect_timeout_ms.  Connected queues (and the other host) stay.
 */
static void test_connect_timeout(void **state)
{
	struct penv *e = *state;
	uint8_t icreq[NVMFT_TCP_ICREQ_LEN];
	struct th_connect_args bad = { .qid = 0, .sqsize = 31, .cntlid = NVMFT_CNTLID_DYNAMIC,
				       .subnqn = "nqn.2024-01.io.nvmft:nobody-home" };
	struct th_connect_args orphan = { .qid = 1, .sqsize = 31, .cntlid = 0x4242 };
	struct th *h[5], *good;
	struct nvmft_cpl cpl;

	/* Read when each connection reaches its group: set before the hosts come. */
	e->tgt->opts.connect_timeout_ms = 300;
	for (int i = 0; i < 5; i++)
		h[i] = penv_host(e);
	nvmft_tcp_enc_icreq(icreq, 0, 0, 0);
	assert_int_equal(th_send(h[1], icreq, sizeof(icreq) / 2), 0);
	assert_int_equal(th_icreq(h[2], 0, 0, 0), 0);
	assert_int_equal(th_icreq(h[3], 0, 0, 0), 0);
	TH_ASSERT_ST(h[3], th_connect_raw(h[3], &bad, &cpl), CONNECT_INVALID);
	assert_int_equal(le16toh(cpl.invalid.ipo), IPO_SUBNQN);
	assert_int_equal(th_icreq(h[4], 0, 0, 0), 0);
	TH_ASSERT_ST(h[4], th_connect_raw(h[4], &orphan, &cpl), CONNECT_INVALID);
	good = penv_admin(e, 0, NULL);

	for (int i = 0; i < 5; i++)
		TH_ASSERT_ST(h[i], th_expect_closed(h[i]), 0);
	TH_ASSERT_HEALTHY(good);
	penv_assert_idle(e, &(struct penv_idle){ .admin_qpairs = 2, .io_qpairs = 1,
						 .connections = 3 });
}

/* ---- Hosts that hold pool buffers ----------------------------------------------------------- */

enum { NHOLD = 3 };

struct holder {
	struct th *admin;
	struct th *io;
	uint16_t cntlid;
};

/* A group with a 1 MiB pool and a 256 KiB share per queue pair; TCP hosts. */
static void reinit_small_pool(struct penv *e, uint32_t stall_ms)
{
	struct nvmft_transport_opts o;

	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o));
	o.buf_pool_bytes = 1u << 20;
	o.max_qpair_buf_bytes = 256u << 10;
	o.stall_timeout_ms = stall_ms;
	penv_reinit(e, &(struct penv_opts){ .tr = &o, .tcp = true });
	assert_int_equal(e->tr->opts.max_qpair_buf_bytes, 256u << 10);
}

/* A controller and its I/O queue 1 (128 entries) over TCP with receive buffer @rcvbuf. */
static void holder_new(struct penv *e, struct holder *x, int rcvbuf)
{
	struct th_connect_args a = { .qid = 1, .sqsize = 127 };

	x->admin = penv_admin(e, 0, &x->cntlid);
	a.cntlid = x->cntlid;
	x->io = penv_host_tcp(e, rcvbuf);
	assert_int_equal(th_icreq(x->io, 0, 0, 0), 0);
	TH_ASSERT_ST(x->io, th_connect_raw(x->io, &a, NULL), 0);
}

static struct tcp_conn *holder_conn(struct penv *e, const struct holder *x)
{
	return penv_conn(e, x->cntlid, 1);
}

/* Every holder's queue holds exactly its share, has more waiting, and none ever held more. */
static bool holders_full(struct penv *e, const struct holder *x, int n, uint64_t cap,
			 uint64_t *max_seen, bool need_pollout)
{
	bool all = true;

	for (int i = 0; i < n; i++) {
		struct tcp_conn *c = holder_conn(e, &x[i]);

		if (c == NULL)
			return false;
		if (c->qp.buf_bytes > *max_seen)
			*max_seen = c->qp.buf_bytes;
		all = all && c->qp.buf_bytes == cap && !TAILQ_EMPTY(&c->qp.buf_waiters) &&
		      (!need_pollout || c->pollout);
	}
	return all;
}

static bool holders_gone(struct penv *e, const struct holder *x, int n)
{
	for (int i = 0; i < n; i++)
		if (holder_conn(e, &x[i]) != NULL)
			return false;
	return true;
}

/* Another host on the same group moves 128 KiB transfers both ways. */
static void healthy_big_io(struct penv *e)
{
	uint8_t *w = malloc(BIG), *r = malloc(BIG);
	struct th *h = penv_io_default(e);

	assert_non_null(w);
	assert_non_null(r);
	for (uint32_t i = 0; i < 4; i++) {
		th_fill(w, BIG, 0xb16b00u + i);
		TH_ASSERT_ST(h, th_rw(h, true, 1, 1024 + i * 256, 256, w, BIG, 0), 0);
		TH_ASSERT_ST(h, th_rw(h, false, 1, 1024 + i * 256, 256, r, BIG, 0), 0);
		assert_memory_equal(r, w, BIG);
	}
	penv_check_other(e);
	penv_drop(e, h);
	free(w);
	free(r);
}

/*
 * Hosts with a small receive buffer queue 96 reads of 128 KiB each and
 * never read a byte.  Each holds exactly its share of the pool (two
 * reads' buffers), its other reads wait at its own gate, and another host
 * on the same group still gets buffers.  After stall_timeout_ms without
 * progress each is closed and everything it held comes back.
 */
static void test_stalled_reader(void **state)
{
	struct penv *e = *state;
	static uint8_t sink[BIG]; /* never written: nobody reads */
	struct holder x[NHOLD];
	struct penv_idle idle;
	uint64_t cap, max_seen = 0;
	struct nvmft_poll_group_stats st;

	/* Long enough that the checks below run before it, even under valgrind. */
	reinit_small_pool(e, 3000);
	cap = e->tr->opts.max_qpair_buf_bytes;
	for (int i = 0; i < NHOLD; i++) {
		holder_new(e, &x[i], 4096);
		for (uint32_t k = 0; k < 96; k++) {
			struct nvmft_cmd c = th_rw_cmd(false, 1, (k % 16) * 256, 256);
			struct th_io io = { .rdata = sink, .rlen = BIG };

			assert_true(th_submit(x[i].io, &c, &io) >= 0);
		}
	}
	assert_true(PUMP_UNTIL_MS(e, WAIT_MS, holders_full(e, x, NHOLD, cap, &max_seen, true)));
	assert_int_equal(max_seen, cap);
	st = penv_stats(e);
	assert_true(st.buf_bytes <= (1u << 20));

	healthy_big_io(e);

	/* The other host, the holders' admin queues and the healthy host's admin queue stay. */
	idle.admin_qpairs = 2 + NHOLD;
	idle.io_qpairs = 1;
	idle.connections = 3 + NHOLD;
	/* Still within the share while they wait for the deadline. */
	assert_true(PUMP_UNTIL_MS(e, WAIT_MS, (holders_full(e, x, NHOLD, cap, &max_seen, true),
					       holders_gone(e, x, NHOLD))));
	assert_int_equal(max_seen, cap);
	penv_assert_idle(e, &idle);
	for (int i = 0; i < NHOLD; i++)
		TH_ASSERT_HEALTHY(x[i].admin);
}

/*
 * The write-side twin: hosts queue 128 KiB writes through R2T and never
 * send the data.  As many of them as the pool has shares (pool / share =
 * 4) hold the whole pool.  Like a host that stops reading, each must be
 * closed after stall_timeout_ms without progress, so the other host's
 * writes, which need pool buffers, get them.
 */
static void test_h2c_never_sent(void **state)
{
	struct penv *e = *state;
	static uint8_t w[BIG];
	struct holder x[4];
	struct penv_idle idle;
	uint64_t cap, max_seen = 0;

	reinit_small_pool(e, 1000);
	cap = e->tr->opts.max_qpair_buf_bytes;
	for (int i = 0; i < 4; i++) {
		holder_new(e, &x[i], 0);
		for (uint32_t k = 0; k < 3; k++) {
			struct nvmft_cmd c = th_rw_cmd(true, 1, k * 256, 256);
			struct th_io io = { .wdata = w, .wlen = BIG, .flags = TH_IO_MANUAL_R2T };

			assert_true(th_submit(x[i].io, &c, &io) >= 0);
		}
	}
	assert_true(PUMP_UNTIL_MS(e, WAIT_MS, holders_full(e, x, 4, cap, &max_seen, false)));
	assert_int_equal(penv_stats(e).buf_bytes, 1u << 20);
	idle.admin_qpairs = 1 + 4;
	idle.io_qpairs = 1;
	idle.connections = 2 + 4;
	assert_true(PUMP_UNTIL_MS(e, 15000, holders_gone(e, x, 4)));
	assert_int_equal(max_seen, cap);
	penv_assert_idle(e, &idle);
	penv_check_other(e);
}

/* ---- Queue limits --------------------------------------------------------------------------- */

static void connect_fails(struct th *h, const struct th_connect_args *a, int ipo)
{
	struct nvmft_cpl cpl;

	TH_ASSERT_ST(h, th_connect_raw(h, a, &cpl), CONNECT_INVALID);
	assert_int_equal(cpl.invalid.iattr, NVMFT_CONNECT_IATTR_CMD);
	assert_int_equal(le16toh(cpl.invalid.ipo), ipo);
}

/*
 * max_aq_depth 32, max_queue_depth 16, max_qpairs_per_ctrlr 2: Connect
 * refuses one entry more than each (IATTR/IPO of SQSIZE) and a second I/O
 * queue (IPO of QID); CAP.MQES and Number of Queues say so; a queue at the
 * full depth runs 16 commands at once.
 */
static void test_queue_limits(void **state)
{
	struct penv *e = *state;
	struct th_connect_args aq = { .qid = 0, .sqsize = 32, .cntlid = NVMFT_CNTLID_DYNAMIC };
	struct th_connect_args io = { .qid = 1, .sqsize = 16 };
	struct nvmft_cmd gf;
	struct nvmft_cpl cpl;
	uint8_t rbuf[16][PENV_BLOCK];
	uint64_t cap = 0;
	struct th *admin, *h;
	int cid[16];

	e->tr->opts.max_aq_depth = 32;
	e->tr->opts.max_queue_depth = 16;
	e->tr->opts.max_qpairs_per_ctrlr = 2;

	admin = penv_host(e);
	assert_int_equal(th_icreq(admin, 0, 0, 0), 0);
	connect_fails(admin, &aq, IPO_SQSIZE);
	aq.sqsize = 31;
	TH_ASSERT_ST(admin, th_connect_raw(admin, &aq, NULL), 0);
	TH_ASSERT_ST(admin, th_enable(admin), 0);
	TH_ASSERT_ST(admin, th_prop_get(admin, NVME_REG_CAP, true, &cap), 0);
	assert_int_equal(cap & 0xffff, 15);
	memset(&gf, 0, sizeof(gf));
	gf.opcode = nvme_admin_get_features;
	gf.cdw10 = htole32(NVME_FEAT_FID_NUM_QUEUES);
	TH_ASSERT_ST(admin, th_exec(admin, &gf, NULL, &cpl), 0);
	assert_int_equal(le32toh(cpl.dw0), 0); /* one SQ, one CQ, 0's based */

	io.cntlid = th_cntlid(admin);
	h = penv_host(e);
	assert_int_equal(th_icreq(h, 0, 0, 0), 0);
	connect_fails(h, &io, IPO_SQSIZE);
	io.sqsize = 15;
	TH_ASSERT_ST(h, th_connect_raw(h, &io, NULL), 0);
	{
		struct th *h2 = penv_host(e);
		struct th_connect_args q2 = io;

		q2.qid = 2;
		assert_int_equal(th_icreq(h2, 0, 0, 0), 0);
		connect_fails(h2, &q2, IPO_QID);
	}

	/* The full depth, held in the backend at once, then answered. */
	tb_hold(e->tb, true);
	for (int i = 0; i < 16; i++) {
		struct nvmft_cmd c = th_rw_cmd(false, 1, (uint64_t)i, 1);
		struct th_io r = { .rdata = rbuf[i], .rlen = PENV_BLOCK };

		cid[i] = th_submit(h, &c, &r);
		assert_true(cid[i] >= 0);
	}
	assert_true(PENV_POLL_UNTIL(e, tb_held(e->tb) == 16));
	tb_hold(e->tb, false);
	assert_int_equal(tb_release(e->tb), 16);
	for (int i = 0; i < 16; i++)
		TH_ASSERT_ST(h, th_wait(h, cid[i], NULL), 0);
	TH_ASSERT_HEALTHY(admin);
	TH_ASSERT_HEALTHY(h);
}

/* ---- What a connection costs ---------------------------------------------------------------- */

struct stage_cost {
	int64_t heap;
	int64_t rss;
};

static struct stage_cost cost(const struct mem *a, const struct mem *b, unsigned int n)
{
	struct stage_cost c = { per(b->heap, a->heap, n), per(b->rss, a->rss, n) };

	return c;
}

/* @n socketpairs whose target ends the transport adopted; the host ends are returned raw. */
static void adopt_n(struct penv *e, int *host_fd, unsigned int n)
{
	unsigned int qps = group_qpairs(e);

	for (unsigned int i = 0; i < n; i++) {
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		assert_int_equal(nvmft_tcp_adopt_fd(e->l, sv[1]), 0);
		host_fd[i] = sv[0];
	}
	assert_true(PUMP_UNTIL_MS(e, WAIT_MS, group_qpairs(e) == qps + n));
}

static void wrap_n(struct penv *e, const int *fd, struct th **h, unsigned int n)
{
	struct th_cfg cfg = host_cfg(e);

	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(th_adopt(fd[i], &cfg, &h[i]), 0);
}

/*
 * Heap and resident memory the target spends per connection at each
 * stage, over N connections at once: accepted (nothing received),
 * after ICReq (32 request slots), an admin queue with its controller, and
 * an idle I/O queue of 128 entries.  Host-side allocations are made
 * between the measurements, never during one.
 */
static void test_memory_per_connection(void **state)
{
	enum { N = 32 };
	struct penv *e = *state;
	bool counts = mem_counts();
	int afd[N], ifd[N];
	struct th *ah[N], *ih[N];
	struct mem m[8];
	struct stage_cost acc, icreq, admin, io;
	size_t slot = sizeof(struct tcp_req) + sizeof(struct tcp_req *);
	uint32_t icd = e->tr->opts.in_capsule_data_size;

	m[0] = mem_now();
	adopt_n(e, afd, N);
	m[1] = mem_now();
	wrap_n(e, afd, ah, N);
	m[2] = mem_now();
	for (int i = 0; i < N; i++)
		assert_int_equal(th_icreq(ah[i], 0, 0, 0), 0);
	m[3] = mem_now();
	for (int i = 0; i < N; i++) {
		TH_ASSERT_ST(ah[i], th_connect_admin(ah[i], 31, NULL), 0);
		TH_ASSERT_ST(ah[i], th_enable(ah[i]), 0);
	}
	m[4] = mem_now();
	adopt_n(e, ifd, N);
	wrap_n(e, ifd, ih, N);
	m[5] = mem_now();
	for (int i = 0; i < N; i++) {
		assert_int_equal(th_icreq(ih[i], 0, 0, 0), 0);
		TH_ASSERT_ST(ih[i], th_connect_io(ih[i], 1, 127, th_cntlid(ah[i])), 0);
	}
	m[6] = mem_now();

	acc = cost(&m[0], &m[1], N);
	icreq = cost(&m[2], &m[3], N);
	admin = cost(&m[3], &m[4], N);
	io = cost(&m[5], &m[6], N);
	print_message("# sizeof: tcp_conn %zu, tcp_req %zu (+%zu slot pointer), ctrlr %zu, "
		      "stage %u (lazily mapped), in-capsule buffer %u per slot (lazily mapped)\n",
		      sizeof(struct tcp_conn), sizeof(struct tcp_req), sizeof(struct tcp_req *),
		      sizeof(struct nvmft_ctrlr), (unsigned int)TCP_STAGE_SIZE, icd);
	print_message("# per connection, mean of %d: accepted, nothing received: heap %lld B, "
		      "RSS %lld B\n", N, (long long)acc.heap, (long long)acc.rss);
	print_message("# + ICReq (32 slots): heap %lld B, RSS %lld B\n", (long long)icreq.heap,
		      (long long)icreq.rss);
	print_message("# + admin Connect and CC.EN (controller, 32 entries): heap %lld B, "
		      "RSS %lld B\n", (long long)admin.heap, (long long)admin.rss);
	print_message("# idle I/O queue of 128 entries, accepted to connected (after the host "
		      "side's own allocations): heap %lld B, RSS %lld B\n",
		      (long long)(io.heap + acc.heap), (long long)io.rss);

	if (counts) {
		assert_true(acc.heap > 0);
		assert_true((uint64_t)acc.heap <= sizeof(struct tcp_conn) + 512);
		assert_true(icreq.heap > 0);
		assert_true((uint64_t)icreq.heap <= 32 * slot + 1024);
		assert_true((uint64_t)admin.heap <= sizeof(struct nvmft_ctrlr) + 16384);
		assert_true((uint64_t)io.heap <= 128 * slot + 2048);
	}
	for (int i = 0; i < N; i++) {
		TH_ASSERT_HEALTHY(ih[i]);
		th_free(ih[i]);
		th_free(ah[i]);
	}
	penv_assert_idle(e, &(struct penv_idle){ .admin_qpairs = 1, .io_qpairs = 1,
						 .connections = 2 });
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, penv_setup, penv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_flood_target_limit),
		T(test_flood_transport_limit),
		T(test_flood_newcomer_gets_in),
		T(test_connect_timeout),
		T(test_stalled_reader),
		T(test_h2c_never_sent),
		T(test_queue_limits),
		T(test_memory_per_connection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
