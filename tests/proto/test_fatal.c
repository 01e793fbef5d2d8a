/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A fatal protocol error while the send queue is backed up: the host has
 * many reads' worth of C2HData queued that it has not read yet, then sends
 * a malformed PDU.  The target must finish the PDU the socket is part-way
 * through (a PDU cut short would leave the host unable to find anything
 * after it), drop every queued PDU not yet started, send the C2HTermReq,
 * and close; every request it dropped is given back.  A host that does
 * not read even that is dropped when the stall timeout runs out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "proto_env.h"

enum { N = 16, LEN = 128 * 1024 };

static uint8_t rbuf[N][LEN];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * A slow reader's I/O queue with N reads of LEN bytes queued in the target
 * and the socket full: the target waits for room part-way through a
 * C2HData PDU.
 */
static struct th *backlogged(struct penv *e, bool tcp, uint8_t dgst, int *cids,
			     struct tcp_conn **tcp_conn, uint16_t *cntlid, struct penv_idle *idle)
{
	struct th_connect_args a = { .qid = 1, .sqsize = 127 };
	int small = 4096;
	struct tcp_conn *tc;
	struct th *admin, *h;

	penv_count(e, idle);
	admin = tcp ? penv_host_tcp(e, 0) : penv_host_pair(e, 0);
	assert_int_equal(th_admin_up(admin, dgst, &a.cntlid), 0);
	h = tcp ? penv_host_tcp(e, 4096) : penv_host_pair(e, 4096);
	assert_int_equal(th_icreq(h, 0, dgst, 0), 0);
	TH_ASSERT_ST(h, th_connect_raw(h, &a, NULL), 0);
	tc = penv_conn(e, a.cntlid, 1);
	assert_non_null(tc);
	if (tcp)
		assert_int_equal(setsockopt(tc->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)),
				 0);
	/* Data to recognise, below the other host's blocks. */
	th_fill(tb_data(e->tb), (size_t)N * LEN, 0xfa7a1u + dgst + tcp);
	memset(rbuf, 0, sizeof(rbuf));
	for (int i = 0; i < N; i++) {
		struct nvmft_cmd c = th_rw_cmd(false, 1, (uint64_t)i * (LEN / PENV_BLOCK),
					       LEN / PENV_BLOCK);

		cids[i] = th_submit(h, &c, &(struct th_io){ .rdata = rbuf[i], .rlen = LEN });
		assert_true(cids[i] >= 0);
	}
	/* Nobody reads: the socket fills and the target waits for room. */
	assert_true(PENV_POLL_UNTIL(e, tc->pollout));
	assert_false(TAILQ_EMPTY(&tc->txq));
	assert_true(TAILQ_NEXT(TAILQ_FIRST(&tc->txq), link) != NULL);
	/* The admin queue stays: the controller and its connection are still there after. */
	idle->admin_qpairs++;
	idle->connections++;
	*tcp_conn = tc;
	*cntlid = a.cntlid;
	return h;
}

/* Whether the I/O queue of @cntlid is gone or terminating (looked up: a closed one is freed). */
static bool gone_or_terminating(struct penv *e, uint16_t cntlid)
{
	struct tcp_conn *c = penv_conn(e, cntlid, 1);

	return c == NULL || c->terminating;
}

/* A CapsuleCmd with HLEN 24: fatal, FES 01h, FEI 2, the common header echoed. */
static void send_bad_hlen(struct th *h, uint8_t *hdr)
{
	uint8_t buf[NVMFT_TCP_HDR_AREA_MAX];
	struct nvmft_cmd c = th_rw_cmd(false, 1, 0, 1);
	size_t n;

	c.cid = htole16(0x3fff);
	n = th_build_cmd(h, buf, &c, NULL, 0, 0);
	buf[2] = 24;
	memcpy(hdr, buf, 8);
	assert_int_equal(th_send(h, buf, n), 0);
}

static void fatal_with_backlog(struct penv *e, bool tcp, uint8_t dgst)
{
	uint8_t hdr[8];
	int cids[N], done = 0;
	struct penv_idle idle;
	struct tcp_conn *tc;
	struct th_term t;
	uint16_t cntlid;
	struct th *h;

	print_message("# %s%s\n", tcp ? "tcp" : "socketpair", dgst ? ", digests" : "");
	h = backlogged(e, tcp, dgst, cids, &tc, &cntlid, &idle);
	/*
	 * The host takes two reads; the target fills the socket again, almost
	 * always stopping part-way into a PDU (the exact boundary case is
	 * test_tx_trim's, in tests/unit/transports/test_tcp.c).
	 */
	TH_ASSERT_ST(h, th_wait(h, cids[0], NULL), 0);
	TH_ASSERT_ST(h, th_wait(h, cids[1], NULL), 0);
	assert_true(PENV_POLL_UNTIL(e, tc->pollout));
	print_message("# the socket stopped %zu bytes into the head request's PDUs\n", tc->tx_skip);
	send_bad_hlen(h, hdr);
	/* The target reads the bad PDU and stops reading, but cannot send yet. */
	assert_true(PENV_POLL_UNTIL(e, gone_or_terminating(e, cntlid)));
	for (int i = 0; i < 20; i++)
		penv_pump(e);
	assert_ptr_equal(penv_conn(e, cntlid, 1), tc);
	assert_true(tc->terminating);
	/* Only what was under way is left: the head request, then the TermReq. */
	assert_true(TAILQ_FIRST(&tc->txq) == NULL ||
		    TAILQ_NEXT(TAILQ_FIRST(&tc->txq), link) == NULL);
	assert_true(tc->term_len > 0);

	/* Now the host reads: whole PDUs up to the TermReq, then the close. */
	th_set_recv_chunk(h, 777);
	TH_ASSERT_ST(h, th_read_term(h, &t), 0);
	assert_int_equal(t.fes, NVMFT_TCP_FES_INVALID_HEADER_FIELD);
	assert_int_equal(t.fei, NVMFT_TCP_FEI_HLEN);
	assert_int_equal(t.hdr_len, 8);
	assert_memory_equal(t.hdr, hdr, 8);
	assert_true(t.closed);
	assert_int_equal(th_violations(h), 0);
	/* What did arrive is whole and right; the rest never started. */
	for (int i = 0; i < N; i++) {
		if (i >= 2 && !th_done(h, cids[i]))
			continue;
		if (i >= 2)
			TH_ASSERT_ST(h, th_wait(h, cids[i], NULL), 0);
		assert_memory_equal(rbuf[i], tb_data(e->tb) + (size_t)i * LEN, LEN);
		done++;
	}
	assert_true(done >= 2 && done < N);
	/* Every request dropped from the queue came back, and so did the buffers. */
	penv_assert_idle(e, &idle);
}

static void test_fatal_with_backlog(void **state)
{
	struct penv *e = *state;

	fatal_with_backlog(e, false, 0);
	fatal_with_backlog(e, false, 3);
	penv_reinit(e, &(struct penv_opts){ .tcp = true });
	fatal_with_backlog(e, true, 0);
	fatal_with_backlog(e, true, 3);
}

/* The host reads nothing after its error: the stall timeout ends the wait. */
static void test_fatal_stalled(void **state)
{
	struct penv *e = *state;
	struct nvmft_transport_opts o;
	struct penv_idle idle;
	struct tcp_conn *tc;
	uint8_t hdr[8];
	int cids[N];
	uint16_t cntlid;
	uint64_t start;
	struct th *h;

	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o));
	o.stall_timeout_ms = 300;
	penv_reinit(e, &(struct penv_opts){ .tr = &o });
	h = backlogged(e, false, 0, cids, &tc, &cntlid, &idle);
	send_bad_hlen(h, hdr);
	assert_true(PENV_POLL_UNTIL(e, gone_or_terminating(e, cntlid)));
	assert_ptr_equal(penv_conn(e, cntlid, 1), tc);
	start = now_ms();
	/*
	 * Bounded by time, not rounds: the timeout is what is under test.  Once
	 * closed, the queue pair is freed: look it up rather than touch it.
	 */
	while (penv_conn(e, cntlid, 1) != NULL && now_ms() - start < 10000)
		penv_pump(e);
	assert_null(penv_conn(e, cntlid, 1));
	assert_true(now_ms() - start >= 250);
	penv_assert_idle(e, &idle);
	(void)h;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, penv_setup, penv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fatal_with_backlog),
		T(test_fatal_stalled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
