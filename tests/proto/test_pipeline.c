/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pipelining: 64 and 128 commands outstanding on one queue, reads and
 * writes, in-capsule and through R2T, every completion matched to its CID
 * and every byte checked; and what happens to a host that submits more
 * than the queue holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_env.h"

#define MAXN 128

static const uint32_t sizes[] = { 512, 4096, 1024, 8192, 65536, 2048, 131072, 4096 };

struct batch {
	int n;
	uint64_t lba[MAXN];
	uint32_t len[MAXN];
	uint8_t *data[MAXN];  /* what the range holds */
	int cid[MAXN];
};

/* Lay @n disjoint ranges out from @lba0, with fresh data. */
static uint64_t batch_init(struct batch *b, int n, uint64_t lba0, uint32_t seed)
{
	uint64_t lba = lba0;

	b->n = n;
	for (int i = 0; i < n; i++) {
		b->len[i] = sizes[(i + seed) % (sizeof(sizes) / sizeof(sizes[0]))];
		b->lba[i] = lba;
		b->data[i] = malloc(b->len[i]);
		assert_non_null(b->data[i]);
		th_fill(b->data[i], b->len[i], seed * 1000 + (uint32_t)i);
		lba += b->len[i] / PENV_BLOCK;
	}
	assert_true(lba < PENV_OTHER_LBA);
	return lba;
}

static void batch_free(struct batch *b)
{
	for (int i = 0; i < b->n; i++)
		free(b->data[i]);
}

/* Write @i of @b: in-capsule when it fits and @i is even, else through R2T. */
static int submit_write(struct th *h, struct batch *b, int i)
{
	struct nvmft_cmd c = th_rw_cmd(true, 1, b->lba[i], b->len[i] / PENV_BLOCK);
	struct th_io io = { .wdata = b->data[i], .wlen = b->len[i] };

	if (b->len[i] <= 4096 && i % 2 == 0)
		io.flags = TH_IO_INCAPSULE;
	return th_submit(h, &c, &io);
}

static int submit_read(struct th *h, struct batch *b, int i, void *buf)
{
	struct nvmft_cmd c = th_rw_cmd(false, 1, b->lba[i], b->len[i] / PENV_BLOCK);
	struct th_io io = { .rdata = buf, .rlen = b->len[i] };

	return th_submit(h, &c, &io);
}

/*
 * Route PDUs (answering R2Ts) until the backend holds @n commands: no
 * completion can come while it holds them, so all @n are outstanding.
 */
static void fill_backend(struct penv *e, struct th *h, unsigned int n)
{
	struct th_pdu p;

	while (tb_held(e->tb) < n) {
		assert_true(PENV_POLL_UNTIL(e, tb_held(e->tb) >= n || th_readable(h)));
		if (tb_held(e->tb) < n)
			TH_ASSERT_ST(h, th_process(h, &p), NVMFT_TCP_R2T);
	}
	assert_int_equal(tb_held(e->tb), n);
	assert_int_equal(penv_stats(e).pending_bdev_io, n);
}

static void pipeline(struct penv *e, struct th *h, int n)
{
	struct batch a, b;
	uint8_t *rbuf[MAXN] = { NULL };
	uint64_t next;

	next = batch_init(&a, n, 0, 1);
	batch_init(&b, n, next, 2);

	/* All writes outstanding at once, in the backend together. */
	tb_hold(e->tb, true);
	for (int i = 0; i < n; i++) {
		a.cid[i] = submit_write(h, &a, i);
		assert_true(a.cid[i] >= 0);
	}
	fill_backend(e, h, (unsigned int)n);
	tb_hold(e->tb, false);
	assert_int_equal(tb_release(e->tb), n);
	for (int i = 0; i < n; i++)
		TH_ASSERT_ST(h, th_wait(h, a.cid[i], NULL), 0);

	/* Reads of those and writes of new ranges, interleaved, waited for backwards. */
	for (int i = 0; i < n; i++) {
		if (i % 2 == 0) {
			rbuf[i] = calloc(1, a.len[i]);
			assert_non_null(rbuf[i]);
			b.cid[i] = submit_read(h, &a, i, rbuf[i]);
		} else {
			b.cid[i] = submit_write(h, &b, i);
		}
		assert_true(b.cid[i] >= 0);
	}
	assert_int_equal(th_outstanding(h), n);
	for (int i = n - 1; i >= 0; i--) {
		TH_ASSERT_ST(h, th_wait(h, b.cid[i], NULL), 0);
		if (i % 2 == 0)
			assert_memory_equal(rbuf[i], a.data[i], a.len[i]);
	}

	/* And everything read back, all at once. */
	for (int i = 0; i < n; i++) {
		struct batch *src = i % 2 ? &b : &a;

		free(rbuf[i]);
		rbuf[i] = calloc(1, src->len[i]);
		assert_non_null(rbuf[i]);
		a.cid[i] = submit_read(h, src, i, rbuf[i]);
		assert_true(a.cid[i] >= 0);
	}
	TH_ASSERT_ST(h, th_wait_all(h), 0);
	for (int i = 0; i < n; i++) {
		struct batch *src = i % 2 ? &b : &a;

		TH_ASSERT_ST(h, th_wait(h, a.cid[i], NULL), 0);
		assert_memory_equal(rbuf[i], src->data[i], src->len[i]);
		free(rbuf[i]);
	}
	assert_int_equal(th_violations(h), 0);
	batch_free(&a);
	batch_free(&b);
}

static void test_pipeline_64(void **state)
{
	struct penv *e = *state;

	pipeline(e, penv_io(e, 0, 0, 0, 63, 0), 64);
}

static void test_pipeline_128(void **state)
{
	struct penv *e = *state;

	pipeline(e, penv_io_default(e), 128);
}

/* With both digests, and with SQ flow control off (reads end with C2HData SUCCESS). */
static void test_pipeline_128_digests_success(void **state)
{
	struct penv *e = *state;

	pipeline(e, penv_io(e, 3, 0, 0, 127, NVMFT_CONNECT_CATTR_DISABLE_SQFLOW), 128);
}

/* The same over loopback TCP, where the socket buffers fill up for real. */
static void test_pipeline_128_tcp(void **state)
{
	struct penv *e = *state;
	struct penv_opts o = { .tcp = true };

	penv_reinit(e, &o);
	pipeline(e, penv_io(e, 3, 0, 0, 127, 0), 128);
}

/*
 * SQSIZE + 1 commands in flight are fine (the queue's entries, as Linux
 * uses them); one more is the transport's PDU Sequence Error (doc/tcp.md).
 */
static void overflow(struct penv *e, uint16_t sqsize)
{
	struct penv_idle idle;
	uint8_t buf[TH_PDU_SIZE(0)], rbuf[PENV_BLOCK];
	struct nvmft_cmd c;
	struct th *h;
	size_t n;

	penv_count(e, &idle);
	h = penv_io(e, 0, 0, 0, sqsize, 0);
	idle.admin_qpairs++;
	idle.connections++;
	tb_hold(e->tb, true);
	for (unsigned int i = 0; i <= sqsize; i++) {
		struct th_io io = { .rdata = rbuf, .rlen = sizeof(rbuf) };

		c = th_rw_cmd(false, 1, i, 1);
		assert_true(th_submit(h, &c, &io) >= 0);
	}
	assert_true(PENV_POLL_UNTIL(e, tb_held(e->tb) == sqsize + 1u));
	c = th_rw_cmd(false, 1, 0, 1);
	c.cid = htole16(0xfff0);
	c.dptr.sgl1.unkeyed.length = htole32(PENV_BLOCK);
	c.dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_TRANSPORT_DATA_BLOCK << 4 |
				   NVMFT_SGL_SUBTYPE_TRANSPORT;
	n = th_build_cmd(h, buf, &c, NULL, 0, 0);
	assert_int_equal(th_send(h, buf, n), 0);
	TH_ASSERT_TERM_HDR(h, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR, 0, buf, n);
	/* The queue is gone for the host, but its commands are still in the backend. */
	assert_int_equal(penv_stats(e).pending_bdev_io, sqsize + 1u);
	tb_hold(e->tb, false);
	assert_int_equal(tb_release(e->tb), sqsize + 1);
	penv_assert_idle(e, &idle);
}

static void test_sq_overflow_128(void **state)
{
	overflow(*state, 127);
}

static void test_sq_overflow_32(void **state)
{
	overflow(*state, 31);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, penv_setup, penv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_pipeline_64),
		T(test_pipeline_128),
		T(test_pipeline_128_digests_success),
		T(test_pipeline_128_tcp),
		T(test_sq_overflow_128),
		T(test_sq_overflow_32),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
