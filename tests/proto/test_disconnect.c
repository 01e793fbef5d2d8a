/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hosts that vanish mid-command, at every stage of a write and of a read,
 * while the backend holds other commands of the same queue: the target
 * must drop the connection, keep the queue pair until the backend gives
 * those commands back, then free everything (the group's counters return
 * to idle, every pool buffer comes back, valgrind and ASan see no leak),
 * and keep serving the other host all along.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "proto_env.h"

#define BIG (64 * 1024)

enum stage {
	W_HDR,       /* an in-capsule write's header, not its data */
	W_ICD,       /* part of the in-capsule data */
	W_R2T,       /* the R2T came, no H2CData went */
	W_H2C,       /* half an H2CData PDU */
	W_BACKEND,   /* all the data in: the backend holds the write */
	R_HDR,       /* part of a read's header */
	R_BACKEND,   /* the backend holds the read */
	R_C2H,       /* the target is part-way through sending C2HData */
	NR_STAGES,
};

static const char *const stage_name[] = {
	"write: header only", "write: part of the in-capsule data", "write: R2T unanswered",
	"write: half an H2CData", "write: in the backend", "read: part of the header",
	"read: in the backend", "read: C2HData part-sent",
};

struct path {
	bool tcp;
	bool reset;       /* RST rather than FIN (TCP) */
	uint8_t dgst;
	bool with_admin;  /* the admin queue goes at the same time */
};

static struct th *new_host(struct penv *e, const struct path *p, enum stage s)
{
	/* The slow reader: little room on both sides, so C2HData backs up in the target. */
	if (s == R_C2H)
		return p->tcp ? penv_host_tcp(e, 4096) : penv_host_pair(e, 4096);
	return p->tcp ? penv_host_tcp(e, 0) : penv_host_pair(e, 0);
}

/* Two commands the backend will hold: a write and a read. */
static void hold_two(struct penv *e, struct th *h, uint8_t *rbuf)
{
	static uint8_t w[PENV_BLOCK];
	struct nvmft_cmd c;
	struct th_io wr = { .wdata = w, .wlen = sizeof(w), .flags = TH_IO_INCAPSULE };
	struct th_io rd = { .rdata = rbuf, .rlen = 4096 };

	tb_hold(e->tb, true);
	c = th_rw_cmd(true, 1, 10, 1);
	assert_true(th_submit(h, &c, &wr) >= 0);
	c = th_rw_cmd(false, 1, 20, 8);
	assert_true(th_submit(h, &c, &rd) >= 0);
	assert_true(PENV_POLL_UNTIL(e, tb_held(e->tb) == 2));
}

static void stage_write(struct penv *e, struct th *h, enum stage s)
{
	static uint8_t w[BIG], buf[TH_PDU_SIZE(BIG)];
	struct nvmft_cmd c;
	struct th_r2t t;
	size_t n;
	int cid;

	th_fill(w, sizeof(w), s);
	if (s == W_HDR || s == W_ICD) {
		c = th_rw_cmd(true, 1, 100, 8);
		c.cid = htole16(0x100);
		c.dptr.sgl1.unkeyed.length = htole32(4096);
		c.dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_DATA_BLOCK << 4 |
					   NVMFT_SGL_SUBTYPE_OFFSET;
		n = th_build_cmd(h, buf, &c, w, 4096, 0);
		/* The header (and its digest) alone, or half the PDU. */
		if (s == W_HDR)
			n -= 4096 + (th_params(h)->ddgst ? 4 : 0);
		else
			n /= 2;
		assert_int_equal(th_send(h, buf, n), 0);
		return;
	}
	c = th_rw_cmd(true, 1, 100, BIG / PENV_BLOCK);
	cid = th_submit(h, &c, &(struct th_io){ .wdata = w, .wlen = BIG,
						 .flags = TH_IO_MANUAL_R2T });
	assert_true(cid >= 0);
	TH_ASSERT_ST(h, th_next_r2t(h, cid, &t), 0);
	assert_int_equal(t.r2tl, BIG);
	if (s == W_H2C) {
		n = th_build_h2c(h, buf, (uint16_t)cid, t.ttag, 0, w, BIG, TH_F_LAST);
		assert_int_equal(th_send(h, buf, n / 2), 0);
	} else if (s == W_BACKEND) {
		TH_ASSERT_ST(h, th_send_h2c(h, cid, t.ttag, 0, BIG, 0), 0);
		assert_true(PENV_POLL_UNTIL(e, tb_held(e->tb) == 3));
	}
}

static void stage_read(struct penv *e, struct th *h, enum stage s, uint8_t *rbuf)
{
	uint8_t buf[TH_PDU_SIZE(0)];
	struct nvmft_cmd c = th_rw_cmd(false, 1, 200, BIG / PENV_BLOCK);
	size_t n;

	if (s == R_HDR) {
		c.cid = htole16(0x200);
		n = th_build_cmd(h, buf, &c, NULL, 0, 0);
		assert_int_equal(th_send(h, buf, n - 42), 0);
		return;
	}
	assert_true(th_submit(h, &c, &(struct th_io){ .rdata = rbuf, .rlen = BIG }) >= 0);
	assert_true(PENV_POLL_UNTIL(e, tb_held(e->tb) == 3));
}

/*
 * Reads whose data cannot all fit in the socket buffers: released from the
 * backend, they go out until the target has to wait for room.  The host
 * reads the start of the first C2HData, and one more command is left in
 * the backend.
 */
static void stage_c2h(struct penv *e, struct th *h, struct tcp_conn *tc, bool tcp, uint8_t *rbuf)
{
	enum { N = 16, LEN = 128 * 1024 };
	static uint8_t wr[PENV_BLOCK];
	int small = 4096;
	uint8_t head[1000];
	struct nvmft_cmd c;

	/* A socketpair got its small buffer before the target took it. */
	if (tcp)
		assert_int_equal(setsockopt(tc->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)),
				 0);
	for (int i = 0; i < N; i++) {
		c = th_rw_cmd(false, 1, 0, LEN / PENV_BLOCK);
		assert_true(th_submit(h, &c, &(struct th_io){ .rdata = rbuf, .rlen = LEN }) >= 0);
	}
	assert_true(PENV_POLL_UNTIL(e, tb_held(e->tb) == N + 2));
	assert_int_equal(tb_release(e->tb), N + 2);
	/* Nobody reads: the target fills the socket and waits for room. */
	assert_true(PENV_POLL_UNTIL(e, tc->pollout));
	assert_false(TAILQ_EMPTY(&tc->txq));
	c = th_rw_cmd(true, 1, 30, 1);
	assert_true(th_submit(h, &c, &(struct th_io){ .wdata = wr, .wlen = sizeof(wr),
						      .flags = TH_IO_INCAPSULE }) >= 0);
	assert_true(PENV_POLL_UNTIL(e, tb_held(e->tb) == 1));
	/* The first PDU is the first held command's response; then data flows. */
	TH_ASSERT_ST(h, th_recv_raw(h, head, sizeof(head)), 0);
	assert_true(head[0] == NVMFT_TCP_RSP || head[0] == NVMFT_TCP_C2H_DATA);
	assert_true(tc->pollout);
}

static void disconnect_at(struct penv *e, const struct path *p, enum stage s)
{
	static uint8_t rbuf[128 * 1024];
	struct penv_idle idle, before, now;
	struct th_connect_args a = { .qid = 1, .sqsize = 127 };
	struct th *admin, *h;
	struct tcp_conn *tc;
	unsigned int held;

	print_message("# %s (%s%s%s%s)\n", stage_name[s], p->tcp ? "tcp" : "socketpair",
		      p->reset ? ", reset" : "", p->dgst ? ", digests" : "",
		      p->with_admin ? ", admin too" : "");
	penv_count(e, &idle);
	admin = p->tcp ? penv_host_tcp(e, 0) : penv_host_pair(e, 0);
	assert_int_equal(th_admin_up(admin, p->dgst, &a.cntlid), 0);
	h = new_host(e, p, s);
	assert_int_equal(th_icreq(h, 0, p->dgst, 0), 0);
	TH_ASSERT_ST(h, th_connect_raw(h, &a, NULL), 0);
	tc = penv_conn(e, a.cntlid, 1);
	assert_non_null(tc);
	hold_two(e, h, rbuf);
	if (s <= W_BACKEND)
		stage_write(e, h, s);
	else if (s == R_C2H)
		stage_c2h(e, h, tc, p->tcp, rbuf);
	else
		stage_read(e, h, s, rbuf);
	held = tb_held(e->tb);
	penv_count(e, &before);

	th_close(h, p->reset);
	if (p->with_admin)
		th_close(admin, p->reset);
	/* The target notices and stops the queue; the backend's commands keep it. */
	assert_true(PENV_POLL_UNTIL(e, tc->dead));
	for (int i = 0; i < 20; i++)
		penv_pump(e);
	assert_int_equal(penv_stats(e).pending_bdev_io, held);
	penv_count(e, &now);
	assert_int_equal(now.io_qpairs, before.io_qpairs);
	/* An admin queue with nothing outstanding goes at once. */
	assert_int_equal(now.admin_qpairs, before.admin_qpairs - p->with_admin);
	assert_int_equal(now.connections, before.connections - p->with_admin);
	/* Back from the backend, they are released; then the queue pair goes. */
	tb_hold(e->tb, false);
	assert_int_equal(tb_release(e->tb), held);
	if (!p->with_admin) {
		idle.admin_qpairs++;
		idle.connections++;
	}
	penv_assert_idle(e, &idle);
	if (!p->with_admin)
		TH_ASSERT_HEALTHY(admin);
	penv_drop(e, h);
	penv_drop(e, admin);
	/* The next host of the same name starts from scratch. */
	penv_check_other(e);
}

static void run_paths(struct penv *e, const struct path *paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int s = 0; s < NR_STAGES; s++)
			disconnect_at(e, &paths[i], (enum stage)s);
}

static void test_disconnect_socketpair(void **state)
{
	static const struct path paths[] = {
		{ .tcp = false, .dgst = 0 },
		{ .tcp = false, .dgst = 3 },
		{ .tcp = false, .dgst = 3, .with_admin = true },
	};

	run_paths(*state, paths, sizeof(paths) / sizeof(paths[0]));
}

static void test_disconnect_tcp(void **state)
{
	struct penv *e = *state;
	static const struct path paths[] = {
		{ .tcp = true, .dgst = 0 },
		{ .tcp = true, .dgst = 3, .reset = true },
		{ .tcp = true, .dgst = 0, .reset = true, .with_admin = true },
	};

	penv_reinit(e, &(struct penv_opts){ .tcp = true });
	run_paths(e, paths, sizeof(paths) / sizeof(paths[0]));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, penv_setup, penv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_disconnect_socketpair),
		T(test_disconnect_tcp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
