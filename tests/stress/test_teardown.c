/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * (c) A host goes away (or shuts its controller down, or resets it) while
 * its I/O sits in a backend.  The queue pair stops talking to the host at
 * once but waits for the backend: nothing is freed while a request is out,
 * the backend completes into live memory (ASan/valgrind would see
 * otherwise), and once the last request is back everything is freed:
 * no queue pair, no request in a backend, every pool buffer back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/poll_group.h"
#include "core/qpair.h"
#include "stress_env.h"

#define NLB 8
#define K 16

struct fx {
	struct senv e;
	struct shost h[2];
	uint8_t *bufs[2 * SH_MAX_IO * K];
	int nbufs;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct senv_opts o = { .nr_ns = 2 };

	assert_non_null(f);
	senv_init(&f->e, &o);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 2; i++)
		sh_close(&f->h[i]);
	senv_fini(&f->e);
	for (int i = 0; i < f->nbufs; i++)
		free(f->bufs[i]);
	free(f);
	return 0;
}

/* ---- White box, on the groups' own threads --------------------------------------------------- */

struct qp_probe {
	unsigned int live;          /* connected, not disconnecting */
	unsigned int disconnecting; /* stopped, waiting for requests */
	unsigned int outstanding;   /* requests of disconnecting queue pairs */
};

static void probe_pg(void *arg, void *pgp)
{
	struct qp_probe *p = arg;
	struct nvmft_poll_group *pg = pgp;
	struct nvmft_qpair *qp;

	TAILQ_FOREACH(qp, &pg->qpairs, link) {
		if (nvmft_qpair_is_alive(qp)) {
			p->live++;
		} else {
			p->disconnecting++;
			p->outstanding += qp->outstanding;
		}
	}
}

static struct qp_probe probe(struct fx *f)
{
	struct qp_probe p = { 0 };

	for (int i = 0; i < SENV_NPG; i++)
		senv_on_pg(&f->e, i, probe_pg, &p);
	return p;
}

/* ---- Helpers --------------------------------------------------------------------------------- */

static uint8_t *buf_new(struct fx *f)
{
	uint8_t *b = malloc(NLB * SENV_BLOCK);

	assert_non_null(b);
	assert_true(f->nbufs < (int)(sizeof(f->bufs) / sizeof(f->bufs[0])));
	f->bufs[f->nbufs++] = b;
	return b;
}

/*
 * @n commands on namespace @nsid through @q: in-capsule writes, R2T writes
 * (their R2Ts answered here) and reads.  Returns once they were all sent.
 */
static void submit_mix(struct fx *f, struct th *q, uint32_t nsid, int n, int *cids)
{
	for (int k = 0; k < n; k++) {
		struct nvmft_cmd c = th_rw_cmd(k % 3 != 2, nsid, (uint64_t)k * NLB, NLB);
		struct th_io io = { 0 };
		uint8_t *b = buf_new(f);

		sh_pattern(b, (uint64_t)k * NLB, NLB, 5);
		if (k % 3 != 2) {
			io.wdata = b;
			io.wlen = NLB * SENV_BLOCK;
			io.flags = k % 3 == 0 ? TH_IO_INCAPSULE : 0;
		} else {
			io.rdata = b;
			io.rlen = NLB * SENV_BLOCK;
		}
		cids[k] = th_submit(q, &c, &io);
		assert_true(cids[k] >= 0);
	}
	for (int k = 1; k < n; k += 3) {
		int got = 0;

		while (th_r2ts(q, cids[k], &got) != NULL && got == 0) {
			struct th_pdu p;

			assert_true(th_process(q, &p) >= 0);
		}
		assert_true(got > 0);
	}
}

static void wait_released(struct fx *f, uint64_t io_qpairs_left)
{
	struct nvmft_poll_group_stats st;

	assert_true(SENV_UNTIL((st = senv_pg_stats(&f->e), st.pending_bdev_io == 0 &&
							     st.current_io_qpairs == io_qpairs_left)));
	assert_int_equal(probe(f).disconnecting, 0);
}

/* ---- Scenarios ------------------------------------------------------------------------------- */

/* An I/O connection drops with K commands in a hung backend. */
static void test_io_queue_drops_with_hung_io(void **state)
{
	struct fx *f = *state;
	struct nvmft_poll_group_stats st;
	struct fault_stats fs;
	struct qp_probe p;
	int cids[K];

	assert_int_equal(sh_connect(&f->e, NULL, 1, 32, &f->h[0]), 0);
	senv_rules(&f->e, 1, "hang=any");
	submit_mix(f, f->h[0].io[0], 1, K, cids);
	assert_true(SENV_UNTIL(senv_fstats(&f->e, 1).hung_now == K));

	th_close(f->h[0].io[0], false);
	assert_true(SENV_UNTIL(probe(f).disconnecting == 1));
	/* It waits for the backend: still counted, still holding its requests. */
	p = probe(f);
	assert_int_equal(p.outstanding, K);
	st = senv_pg_stats(&f->e);
	assert_int_equal(st.pending_bdev_io, K);
	assert_int_equal(st.current_io_qpairs, 1);
	assert_int_equal(st.current_admin_qpairs, 1);
	/* The controller's admin queue is unaffected. */
	assert_int_equal(th_keep_alive(f->h[0].admin), 0);

	senv_rules(&f->e, 1, NULL);
	fault_backend_release(senv_fb(&f->e, 1));
	wait_released(f, 0);
	fs = senv_fstats(&f->e, 1);
	assert_int_equal(fs.hung_now, 0);
	assert_int_equal(fs.forwarded, K); /* the backend did the work after the host left */
	assert_int_equal(th_keep_alive(f->h[0].admin), 0);
	sh_close(&f->h[0]);
	senv_assert_idle(&f->e);
}

/* The whole controller goes (admin and two I/O queues, one with a reset), I/O hung on both. */
static void test_controller_drops_with_hung_io(void **state)
{
	struct fx *f = *state;
	struct nvmft_poll_group_stats st;
	uint8_t b[NLB * SENV_BLOCK];
	int cids[2][K];

	assert_int_equal(sh_connect(&f->e, NULL, 2, 32, &f->h[0]), 0);
	senv_rules(&f->e, 1, "hang=any");
	for (int q = 0; q < 2; q++)
		submit_mix(f, f->h[0].io[q], 1, K, cids[q]);
	assert_true(SENV_UNTIL(senv_fstats(&f->e, 1).hung_now == 2 * K));

	th_close(f->h[0].admin, false);
	th_close(f->h[0].io[0], true);
	th_close(f->h[0].io[1], false);
	assert_true(SENV_UNTIL(probe(f).disconnecting == 2 && probe(f).live == 0));
	st = senv_pg_stats(&f->e);
	assert_int_equal(st.pending_bdev_io, 2 * K);
	assert_int_equal(st.current_io_qpairs, 2);
	assert_int_equal(probe(f).outstanding, 2 * K);

	/* Meanwhile a new controller works, on the other namespace. */
	assert_int_equal(sh_connect(&f->e, NULL, 1, 32, &f->h[1]), 0);
	sh_pattern(b, 0, NLB, 9);
	assert_int_equal(sh_rw(f->h[1].io[0], true, 2, 0, NLB, b), 0);
	assert_int_equal(sh_rw(f->h[1].io[0], false, 2, 0, NLB, b), 0);
	sh_close(&f->h[1]);

	senv_rules(&f->e, 1, NULL);
	fault_backend_release(senv_fb(&f->e, 1));
	wait_released(f, 0);
	sh_close(&f->h[0]);
	senv_assert_idle(&f->e);
}

/* Not hung, only slow: the queue pairs wait out the delays and go. */
static void test_controller_drops_with_delayed_io(void **state)
{
	struct fx *f = *state;
	int cids[2][K];

	assert_int_equal(sh_connect(&f->e, NULL, 2, 32, &f->h[0]), 0);
	senv_rules(&f->e, 1, "delay=any:40ms");
	for (int q = 0; q < 2; q++)
		submit_mix(f, f->h[0].io[q], 1, K, cids[q]);
	assert_true(SENV_UNTIL(senv_fstats(&f->e, 1).held_now > 0));
	/*
	 * Closing with unread responses in the socket sends a reset, which may
	 * drop commands the target had not read yet: some, not all, reach the
	 * backend.  Those that did are waited for.
	 */
	sh_close(&f->h[0]);
	wait_released(f, 0);
	assert_true(SENV_UNTIL(senv_fstats(&f->e, 1).held_now == 0));
	assert_true(senv_fstats(&f->e, 1).delayed > 0);
	assert_true(senv_fstats(&f->e, 1).delayed <= 2 * K);
	senv_assert_idle(&f->e);
}

/* Shutdown notification (CC.SHN) with I/O hung: SHST says "occurring" until the backend lets go. */
static void test_shutdown_waits_for_backend(void **state)
{
	struct fx *f = *state;
	uint64_t cc = NVMFT_CC_EN | 6u << 16 | 4u << 20, csts = 0;
	int cids[K];

	assert_int_equal(sh_connect(&f->e, NULL, 1, 32, &f->h[0]), 0);
	senv_rules(&f->e, 1, "hang=write");
	submit_mix(f, f->h[0].io[0], 1, K, cids);
	/* The reads are not held: wait for them, so only the writes are outstanding. */
	for (int k = 2; k < K; k += 3)
		assert_int_equal(th_wait(f->h[0].io[0], cids[k], NULL), 0);
	assert_true(SENV_UNTIL(senv_fstats(&f->e, 1).hung_now == K - K / 3));

	assert_int_equal(th_prop_set(f->h[0].admin, NVME_REG_CC, false,
				     cc | NVME_CC_SHN_NORMAL << NVME_CC_SHN_SHIFT),
			 0);
	assert_true(SENV_UNTIL(probe(f).disconnecting == 1));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(th_prop_get(f->h[0].admin, NVME_REG_CSTS, false, &csts), 0);
		assert_int_equal(csts & NVMFT_CSTS_SHST_MASK, NVMFT_CSTS_SHST_OCCUR);
	}
	fault_backend_release(senv_fb(&f->e, 1));
	wait_released(f, 0);
	assert_true(SENV_UNTIL(th_prop_get(f->h[0].admin, NVME_REG_CSTS, false, &csts) == 0 &&
			       (csts & NVMFT_CSTS_SHST_MASK) == NVMFT_CSTS_SHST_CMPLT));
	senv_rules(&f->e, 1, NULL);
	sh_close(&f->h[0]);
	senv_assert_idle(&f->e);
}

/* Controller reset (CC.EN 1 -> 0) with I/O hung: enabling again is refused until it drained. */
static void test_reset_waits_for_backend(void **state)
{
	struct fx *f = *state;
	uint64_t cc = NVMFT_CC_EN | 6u << 16 | 4u << 20, csts = 1;
	int cids[K];

	assert_int_equal(sh_connect(&f->e, NULL, 1, 32, &f->h[0]), 0);
	senv_rules(&f->e, 1, "hang=any");
	submit_mix(f, f->h[0].io[0], 1, K, cids);
	assert_true(SENV_UNTIL(senv_fstats(&f->e, 1).hung_now == K));
	assert_int_equal(th_prop_set(f->h[0].admin, NVME_REG_CC, false, cc & ~(uint64_t)NVMFT_CC_EN),
			 0);
	assert_int_equal(th_prop_get(f->h[0].admin, NVME_REG_CSTS, false, &csts), 0);
	assert_int_equal(csts & NVMFT_CSTS_RDY, 0);
	assert_true(SENV_UNTIL(probe(f).disconnecting == 1));
	/* Still resetting: a new enable must wait. */
	assert_int_equal(th_prop_set(f->h[0].admin, NVME_REG_CC, false, cc),
			 NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR));
	senv_rules(&f->e, 1, NULL);
	fault_backend_release(senv_fb(&f->e, 1));
	wait_released(f, 0);
	assert_true(SENV_UNTIL(th_prop_set(f->h[0].admin, NVME_REG_CC, false, cc) == 0));
	assert_int_equal(th_enable(f->h[0].admin), 0);
	sh_close(&f->h[0]);
	senv_assert_idle(&f->e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_io_queue_drops_with_hung_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_controller_drops_with_hung_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_controller_drops_with_delayed_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_waits_for_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_waits_for_backend, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
