/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * (b) A backend that never answers hangs only the commands it holds.
 * Namespace 1 hangs every command; with dozens of them outstanding on every
 * I/O queue of three hosts (spread over both poll groups), the same queues
 * keep completing writes and verified reads on namespace 2, and admin
 * commands keep working.  Then the backend lets go: every hung command
 * completes with success and its data is there.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stress_env.h"

#define NHOSTS 3
#define NIO 2
#define HUNG_PER_Q 8
#define NLB 8

struct host {
	struct senv *e;
	int idx;
	struct shost h;
	int hung_cid[NIO][HUNG_PER_Q];
	uint8_t *hung_buf[NIO][HUNG_PER_Q];
	unsigned int rounds;
	unsigned int done_ios;
	char why[200];
};

struct fx {
	struct senv e;
	struct host hosts[NHOSTS];
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

	for (int i = 0; i < NHOSTS; i++) {
		sh_close(&f->hosts[i].h);
		for (int q = 0; q < NIO; q++)
			for (int k = 0; k < HUNG_PER_Q; k++)
				free(f->hosts[i].hung_buf[q][k]);
	}
	senv_fini(&f->e);
	free(f);
	return 0;
}

/* Blocks of namespace @nsid that belong to host @h, queue @q, slot @k. */
static uint64_t lba_of(int h, int q, int k)
{
	return (uint64_t)((h * NIO + q) * 64 + k) * NLB;
}

/* On the host's own thread: I/O on namespace 2 through the queues that hold hung commands. */
static void *host_main(void *arg)
{
	struct host *w = arg;
	uint8_t *wb = malloc(NLB * SENV_BLOCK), *rb = malloc(NLB * SENV_BLOCK), *id = malloc(4096);

	for (unsigned int r = 0; r < w->rounds && w->why[0] == '\0'; r++) {
		for (int q = 0; q < NIO; q++) {
			uint64_t lba = lba_of(w->idx, q, (int)(r % 32) + 32);
			int st;

			sh_pattern(wb, lba, NLB, r + 100);
			st = sh_rw(w->h.io[q], true, 2, lba, NLB, wb);
			if (st == 0)
				st = sh_rw(w->h.io[q], false, 2, lba, NLB, rb);
			if (st != 0) {
				snprintf(w->why, sizeof(w->why), "queue %d round %u: status %d (%s)", q,
					 r, st, th_why(w->h.io[q]));
				break;
			}
			if (memcmp(wb, rb, NLB * SENV_BLOCK) != 0) {
				snprintf(w->why, sizeof(w->why), "queue %d round %u: data differs",
					 q, r);
				break;
			}
			w->done_ios += 2;
		}
		if (r % 8 == 0 && w->why[0] == '\0') {
			int st = th_identify(w->h.admin, NVME_IDENTIFY_CNS_NS, 2, id);

			if (st != 0)
				snprintf(w->why, sizeof(w->why), "identify: status %d", st);
		}
	}
	free(wb);
	free(rb);
	free(id);
	return NULL;
}

static void test_hung_ns_does_not_wedge(void **state)
{
	struct fx *f = *state;
	pthread_t t[NHOSTS];
	const unsigned int total = NHOSTS * NIO * HUNG_PER_Q;
	struct fault_stats st;

	for (int i = 0; i < NHOSTS; i++) {
		struct host *w = &f->hosts[i];

		w->e = &f->e;
		w->idx = i;
		w->rounds = 40 * senv_scale();
		assert_int_equal(sh_connect(&f->e, NULL, NIO, 32, &w->h), 0);
	}
	/* Writes and reads on namespace 1 that its backend will sit on. */
	senv_rules(&f->e, 1, "hang=any");
	for (int i = 0; i < NHOSTS; i++) {
		struct host *w = &f->hosts[i];

		for (int q = 0; q < NIO; q++) {
			for (int k = 0; k < HUNG_PER_Q; k++) {
				bool write = k % 2 == 0;
				struct nvmft_cmd c = th_rw_cmd(write, 1, lba_of(i, q, k), NLB);
				struct th_io io = { 0 };

				w->hung_buf[q][k] = malloc(NLB * SENV_BLOCK);
				assert_non_null(w->hung_buf[q][k]);
				sh_pattern(w->hung_buf[q][k], lba_of(i, q, k), NLB, 7);
				if (write) {
					io.wdata = w->hung_buf[q][k];
					io.wlen = NLB * SENV_BLOCK;
					/* Half in the capsule, half through R2T. */
					io.flags = k % 4 == 0 ? TH_IO_INCAPSULE : 0;
				} else {
					io.rdata = w->hung_buf[q][k];
					io.rlen = NLB * SENV_BLOCK;
				}
				w->hung_cid[q][k] = th_submit(w->h.io[q], &c, &io);
				assert_true(w->hung_cid[q][k] >= 0);
			}
		}
	}
	/* The R2T writes reach the backend once their data went: answer the R2Ts. */
	for (int i = 0; i < NHOSTS; i++) {
		for (int q = 0; q < NIO; q++) {
			struct th *io = f->hosts[i].h.io[q];

			for (int k = 2; k < HUNG_PER_Q; k += 4) {
				int n = 0;

				while (th_r2ts(io, f->hosts[i].hung_cid[q][k], &n) != NULL && n == 0) {
					struct th_pdu p;

					assert_true(th_process(io, &p) >= 0);
				}
				assert_true(n > 0);
			}
		}
	}
	assert_true(SENV_UNTIL(senv_fstats(&f->e, 1).hung_now == total));

	for (int i = 0; i < NHOSTS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, host_main, &f->hosts[i]), 0);
	for (int i = 0; i < NHOSTS; i++) {
		pthread_join(t[i], NULL);
		if (f->hosts[i].why[0] != '\0')
			fail_msg("host %d: %s", i, f->hosts[i].why);
		assert_int_equal(f->hosts[i].done_ios, 2 * NIO * f->hosts[i].rounds);
	}
	/* Namespace 2 answered everything while namespace 1 answered nothing. */
	st = senv_fstats(&f->e, 1);
	assert_int_equal(st.hung_now, total);
	assert_int_equal(st.forwarded, 0);
	for (int i = 0; i < NHOSTS; i++)
		for (int q = 0; q < NIO; q++)
			for (int k = 0; k < HUNG_PER_Q; k++)
				assert_false(th_done(f->hosts[i].h.io[q], f->hosts[i].hung_cid[q][k]));

	/* Let go: every hung command completes, the writes are on the medium. */
	senv_rules(&f->e, 1, NULL);
	fault_backend_release(senv_fb(&f->e, 1));
	for (int i = 0; i < NHOSTS; i++) {
		struct host *w = &f->hosts[i];

		for (int q = 0; q < NIO; q++) {
			for (int k = 0; k < HUNG_PER_Q; k++) {
				int s = th_wait(w->h.io[q], w->hung_cid[q][k], NULL);

				if (s != 0)
					fail_msg("host %d queue %d hung command %d: status %d (%s)", i, q,
						 k, s, th_why(w->h.io[q]));
			}
			for (int k = 0; k < HUNG_PER_Q; k += 2) {
				uint8_t rb[NLB * SENV_BLOCK];

				assert_int_equal(sh_rw(w->h.io[q], false, 1, lba_of(i, q, k), NLB,
						       rb), 0);
				assert_memory_equal(rb, w->hung_buf[q][k], sizeof(rb));
			}
			assert_int_equal(th_violations(w->h.io[q]), 0);
		}
		sh_close(&w->h);
	}
	st = senv_fstats(&f->e, 1);
	assert_int_equal(st.hung_now, 0);
	assert_int_equal(st.hung, total);
	senv_assert_idle(&f->e);
}

/* A hang that ends by itself (hang=...:N ms) while other I/O runs. */
static void test_timed_hang(void **state)
{
	struct fx *f = *state;
	struct host *w = &f->hosts[0];
	uint8_t wb[NLB * SENV_BLOCK], rb[NLB * SENV_BLOCK];
	int cid[4];

	assert_int_equal(sh_connect(&f->e, NULL, 1, 32, &w->h), 0);
	senv_rules(&f->e, 1, "hang=write:200ms");
	sh_pattern(wb, 0, NLB, 3);
	for (int k = 0; k < 4; k++) {
		struct nvmft_cmd c = th_rw_cmd(true, 1, (uint64_t)k * NLB, NLB);
		struct th_io io = { .wdata = wb, .wlen = sizeof(wb) };

		cid[k] = th_submit(w->h.io[0], &c, &io);
		assert_true(cid[k] >= 0);
	}
	for (int r = 0; r < 20; r++)
		assert_int_equal(sh_rw(w->h.io[0], false, 2, 0, NLB, rb), 0);
	for (int k = 0; k < 4; k++)
		assert_int_equal(th_wait(w->h.io[0], cid[k], NULL), 0);
	assert_int_equal(senv_fstats(&f->e, 1).hung, 4);
	assert_int_equal(senv_fstats(&f->e, 1).hung_now, 0);
	sh_close(&w->h);
	senv_assert_idle(&f->e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hung_ns_does_not_wedge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timed_hang, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
