/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes through R2T: the sequence of R2Ts for a write larger than
 * MAXH2CDATA, how many the target keeps outstanding for each MAXR2T, a
 * host that answers one R2T with several H2CData PDUs, and every way an
 * H2CData PDU can be wrong (unknown TTAG, a TTAG whose command waits for
 * no data, the TTAG of another R2T of the same command, wrong CCCID,
 * outside the R2T window, overlapping or skipping ahead, too long), each
 * with its exact FES/FEI.  Every outstanding R2T has a TTAG of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_env.h"

#define FES_HDR NVMFT_TCP_FES_INVALID_HEADER_FIELD
#define FES_RANGE NVMFT_TCP_FES_DATA_OUT_OF_RANGE
#define FES_LIMIT NVMFT_TCP_FES_R2T_LIMIT_EXCEEDED
#define K8 8192u

/* MAXH2CDATA 8 KiB, so that modest writes need several R2Ts. */
static int setup_8k(void **state)
{
	struct nvmft_transport_opts o;
	struct penv *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return -1;
	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o));
	o.max_h2c_data = K8;
	penv_init(e, &(struct penv_opts){ .tr = &o });
	*state = e;
	return 0;
}

/* Start a write of @len bytes whose R2Ts the test answers. */
static int start_write(struct th *h, const uint8_t *w, uint32_t len, uint64_t lba)
{
	struct nvmft_cmd c = th_rw_cmd(true, 1, lba, len / PENV_BLOCK);
	struct th_io io = { .wdata = w, .wlen = len, .flags = TH_IO_MANUAL_R2T };
	int cid = th_submit(h, &c, &io);

	assert_true(cid >= 0);
	return cid;
}

/* Collect the R2Ts that come while the host answers none. */
static int r2ts_now(struct penv *e, struct th *h, int cid, struct th_r2t *out, int max)
{
	int n = 0;

	while (!th_quiet(h, 50)) {
		assert_true(n < max);
		TH_ASSERT_ST(h, th_next_r2t(h, cid, &out[n]), 0);
		n++;
	}
	return n;
}

/* White box: the slot the target gave command @cid of @h's I/O queue. */
static uint16_t slot_of(struct penv *e, struct th *h, int cid)
{
	struct tcp_conn *c = penv_conn(e, th_cntlid(h), 1);

	assert_non_null(c);
	for (uint32_t i = 0; i < c->nslots; i++)
		if (c->slots[i]->state != TCP_REQ_FREE && le16toh(c->slots[i]->req.cmd.cid) == cid)
			return (uint16_t)i;
	fail_msg("command %d has no slot", cid);
	return 0;
}

/* White box: the TTAG bits @h's I/O queue uses to number a command's R2Ts. */
static uint8_t r2t_bits(struct penv *e, struct th *h)
{
	struct tcp_conn *c = penv_conn(e, th_cntlid(h), 1);

	assert_non_null(c);
	return c->r2t_shift;
}

/* The TTAG of R2T number @seq of the command in @slot: the slot, then the sequence number. */
static uint16_t ttag_of(struct penv *e, struct th *h, uint16_t slot, uint32_t seq)
{
	uint8_t bits = r2t_bits(e, h);

	return (uint16_t)((uint32_t)slot << bits | (seq & ((1u << bits) - 1)));
}

/*
 * A write of @len with MAXR2T @maxr2t: the R2T windows, in order, never
 * more than allowed: MAXR2T + 1, at most 4, and at most as many as the
 * TTAG has sequence numbers for (@bits, which the transport's deepest
 * queue decides).
 */
static void r2t_flow_bits(struct penv *e, uint32_t maxr2t, uint32_t len, uint8_t bits)
{
	uint32_t allowed = NVMFT_MIN(maxr2t, (1u << bits) - 1) + 1;
	uint32_t windows = (len + K8 - 1) / K8, asked = 0, answered = 0;
	uint8_t *w = malloc(len), *r = calloc(1, len);
	struct th_r2t got[64];
	struct th *h = penv_io(e, 0, 0, maxr2t, 127, 0);
	uint16_t slot = 0;
	int cid, n;

	assert_non_null(w);
	assert_non_null(r);
	th_fill(w, len, maxr2t + len);
	assert_int_equal(r2t_bits(e, h), bits);
	cid = start_write(h, w, len, 1000);
	while (answered < windows) {
		n = r2ts_now(e, h, cid, got + asked, 64 - (int)asked);
		/* Exactly as many as allowed (or as remain) are outstanding. */
		assert_int_equal(asked + (uint32_t)n - answered,
				 NVMFT_MIN(allowed, windows - answered));
		if (asked == 0)
			slot = slot_of(e, h, cid);
		for (int i = 0; i < n; i++, asked++) {
			struct th_r2t *t = &got[asked];

			/* Its own TTAG: none of the others outstanding has it. */
			assert_int_equal(t->ttag, ttag_of(e, h, slot, asked));
			for (uint32_t k = answered; k < asked; k++)
				assert_int_not_equal(got[k].ttag, t->ttag);
			assert_int_equal(t->r2to, asked * K8);
			assert_int_equal(t->r2tl, NVMFT_MIN(K8, len - asked * K8));
		}
		/* Answer the oldest window, with its R2T's TTAG: one more R2T may come. */
		TH_ASSERT_ST(h, th_send_h2c(h, cid, got[answered].ttag, got[answered].r2to,
					    got[answered].r2tl, 0), 0);
		answered++;
	}
	TH_ASSERT_ST(h, th_wait(h, cid, NULL), 0);
	TH_ASSERT_ST(h, th_rw(h, false, 1, 1000, len / PENV_BLOCK, r, len, 0), 0);
	assert_memory_equal(r, w, len);
	assert_int_equal(th_violations(h), 0);
	free(w);
	free(r);
}

static void r2t_flow(struct penv *e, uint32_t maxr2t, uint32_t len)
{
	r2t_flow_bits(e, maxr2t, len, 2);
}

static void test_r2t_sequence(void **state)
{
	struct penv *e = *state;

	/* 40 KiB: five full windows; 36 KiB: the last one half. */
	r2t_flow(e, 0, 40 * 1024);
	r2t_flow(e, 0, 36 * 1024);
	r2t_flow(e, 0, 8 * 1024);
	r2t_flow(e, 0, 512);
}

static void test_maxr2t_outstanding(void **state)
{
	struct penv *e = *state;
	static const uint32_t maxr2t[] = { 0, 1, 2, 3, 4, 100, UINT32_MAX };

	for (size_t i = 0; i < sizeof(maxr2t) / sizeof(maxr2t[0]); i++)
		r2t_flow(e, maxr2t[i], 64 * 1024 + 1024);
}

/*
 * Queues allowed so deep that slot << 2 would not fit the 16-bit TTAG:
 * fewer bits number a command's R2Ts, so fewer are outstanding at once,
 * and TTAGs stay unique.
 */
static void test_deep_queue_ttags(void **state)
{
	struct penv *e = *state;
	static const struct {
		uint32_t depth;
		uint8_t bits;
	} cases[] = { { 16384, 2 }, { 16385, 1 }, { 32768, 1 }, { 32769, 0 }, { 65536, 0 } };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nvmft_transport_opts o;

		nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o));
		o.max_h2c_data = K8;
		o.max_queue_depth = cases[i].depth;
		penv_reinit(e, &(struct penv_opts){ .tr = &o });
		r2t_flow_bits(e, 3, 40 * 1024, cases[i].bits);
		r2t_flow_bits(e, 0, 40 * 1024, cases[i].bits);
	}
}

/* One R2T answered with many H2CData PDUs, each smaller than MAXH2CDATA. */
static void test_many_h2c_per_r2t(void **state)
{
	struct penv *e = *state;
	enum { LEN = 128 * 1024 };
	uint8_t *w = malloc(LEN), *r = calloc(1, LEN);
	struct th *h = penv_io(e, 3, 0, 0, 127, 0);
	struct th_r2t t;
	int cid;

	assert_non_null(w);
	assert_non_null(r);
	th_fill(w, LEN, 5);
	cid = start_write(h, w, LEN, 0);
	TH_ASSERT_ST(h, th_next_r2t(h, cid, &t), 0);
	/* The default MAXH2CDATA: one window for all of it. */
	assert_int_equal(t.r2to, 0);
	assert_int_equal(t.r2tl, LEN);
	th_params(h)->maxh2cdata = 4096;
	TH_ASSERT_ST(h, th_send_h2c(h, cid, t.ttag, 0, LEN, 0), 0);
	TH_ASSERT_ST(h, th_wait(h, cid, NULL), 0);
	TH_ASSERT_ST(h, th_rw(h, false, 1, 0, LEN / PENV_BLOCK, r, LEN, 0), 0);
	assert_memory_equal(r, w, LEN);
	free(w);
	free(r);
}

/* ---- Broken H2CData ------------------------------------------------------------------------- */

/* Send one H2CData PDU of zeroes; its header goes to @hdr for the echo check. */
static size_t send_h2c(struct th *h, uint16_t cccid, uint16_t ttag, uint32_t datao,
		       uint32_t datal, uint8_t *hdr)
{
	uint8_t *buf = calloc(1, TH_PDU_SIZE(datal)), *zero = calloc(1, datal);
	size_t n, hl;

	assert_non_null(buf);
	assert_non_null(zero);
	n = th_build_h2c(h, buf, cccid, ttag, datao, zero, datal, TH_F_LAST);
	hl = th_params(h)->hdgst ? 28 : 24;
	memcpy(hdr, buf, hl);
	assert_int_equal(th_send(h, buf, n), 0);
	free(buf);
	free(zero);
	return hl;
}

enum h2c_bad {
	BAD_TTAG_UNKNOWN,   /* a TTAG no slot has */
	BAD_TTAG_IDLE,      /* a slot that waits for no data */
	BAD_TTAG_READ,      /* the slot of a read */
	BAD_TTAG_NEXT,      /* MAXR2T 1: the first window's data with the second R2T's TTAG */
	BAD_TTAG_STALE,     /* MAXR2T 1: the second window's data with the first R2T's TTAG */
	BAD_CCCID,
	BAD_BEYOND,         /* runs past the end of the window */
	BAD_OUTSIDE,        /* starts past the end of the window */
	BAD_NOT_ASKED,      /* MAXR2T 1: a window not asked for yet */
	BAD_OVERLAP,        /* starts inside what already came */
	BAD_AGAIN,          /* the same data twice */
	BAD_SKIP,           /* leaves a hole */
	BAD_TOO_LONG,       /* DATAL over MAXH2CDATA */
	BAD_AFTER_DONE,     /* for a write that already completed */
};

static const struct {
	enum h2c_bad bad;
	const char *what;
	uint16_t fes;
	uint32_t fei;
} h2c_cases[] = {
	{ BAD_TTAG_UNKNOWN, "unknown TTAG", FES_HDR, NVMFT_TCP_FEI_TTAG },
	{ BAD_TTAG_IDLE, "TTAG of an idle slot", FES_HDR, NVMFT_TCP_FEI_TTAG },
	{ BAD_TTAG_READ, "TTAG of a read", FES_HDR, NVMFT_TCP_FEI_TTAG },
	{ BAD_TTAG_NEXT, "TTAG of the next R2T", FES_HDR, NVMFT_TCP_FEI_TTAG },
	{ BAD_TTAG_STALE, "TTAG of an answered R2T", FES_HDR, NVMFT_TCP_FEI_TTAG },
	{ BAD_CCCID, "wrong CCCID", FES_HDR, NVMFT_TCP_FEI_CCCID },
	{ BAD_BEYOND, "beyond the window", FES_RANGE, 0 },
	{ BAD_OUTSIDE, "outside the window", FES_RANGE, 0 },
	{ BAD_NOT_ASKED, "window not asked for", FES_RANGE, 0 },
	{ BAD_OVERLAP, "overlapping", FES_HDR, NVMFT_TCP_FEI_DATAO },
	{ BAD_AGAIN, "same data twice", FES_HDR, NVMFT_TCP_FEI_DATAO },
	{ BAD_SKIP, "skipping ahead", FES_HDR, NVMFT_TCP_FEI_DATAO },
	{ BAD_TOO_LONG, "longer than MAXH2CDATA", FES_LIMIT, 0 },
	{ BAD_AFTER_DONE, "after the write completed", FES_HDR, NVMFT_TCP_FEI_TTAG },
};

/* White box: a slot that holds no command. */
static uint16_t idle_slot(struct penv *e, struct th *h)
{
	struct tcp_conn *c = penv_conn(e, th_cntlid(h), 1);

	assert_non_null(c);
	for (uint32_t i = c->nslots; i-- > 0;)
		if (c->slots[i]->state == TCP_REQ_FREE)
			return (uint16_t)i;
	fail_msg("no idle slot");
	return 0;
}

static void h2c_case(struct penv *e, enum h2c_bad bad, uint8_t dgst, uint16_t fes, uint32_t fei)
{
	static uint8_t w[32768], rd[PENV_BLOCK];
	struct penv_idle idle;
	uint8_t hdr[32];
	struct th_r2t t;
	struct th *h;
	int cid, rcid;
	size_t hl;

	penv_count(e, &idle);
	idle.admin_qpairs++;
	idle.connections++;
	h = penv_io(e, dgst, 0,
		    bad == BAD_NOT_ASKED || bad == BAD_TTAG_NEXT || bad == BAD_TTAG_STALE ? 1 : 0,
		    127, 0);
	/* A read held in the backend, so that some slot is busy without waiting for data. */
	tb_hold(e->tb, true);
	{
		struct nvmft_cmd c = th_rw_cmd(false, 1, 0, 1);
		struct th_io io = { .rdata = rd, .rlen = sizeof(rd) };

		rcid = th_submit(h, &c, &io);
		assert_true(rcid >= 0);
		assert_true(PENV_POLL_UNTIL(e, tb_held(e->tb) == 1));
	}
	if (bad == BAD_AFTER_DONE) {
		/* The write goes to the backend and is held with the read; both complete. */
		cid = start_write(h, w, K8, 0);
		TH_ASSERT_ST(h, th_next_r2t(h, cid, &t), 0);
		TH_ASSERT_ST(h, th_send_h2c(h, cid, t.ttag, 0, K8, 0), 0);
		assert_true(PENV_POLL_UNTIL(e, tb_held(e->tb) == 2));
		assert_int_equal(tb_release(e->tb), 2);
		TH_ASSERT_ST(h, th_wait(h, cid, NULL), 0);
		TH_ASSERT_ST(h, th_wait(h, rcid, NULL), 0);
	} else {
		cid = start_write(h, w, sizeof(w), 0);
		TH_ASSERT_ST(h, th_next_r2t(h, cid, &t), 0);
		assert_int_equal(t.ttag, ttag_of(e, h, slot_of(e, h, cid), 0));
	}
	switch (bad) {
	case BAD_TTAG_UNKNOWN:
		hl = send_h2c(h, (uint16_t)cid, 0xffff, 0, 4096, hdr);
		break;
	case BAD_TTAG_IDLE:
		hl = send_h2c(h, (uint16_t)cid, ttag_of(e, h, idle_slot(e, h), 0), 0, 4096, hdr);
		break;
	case BAD_TTAG_READ:
		hl = send_h2c(h, (uint16_t)rcid, ttag_of(e, h, slot_of(e, h, rcid), 0), 0, 4096,
			      hdr);
		break;
	case BAD_TTAG_NEXT: {
		struct th_r2t t2;

		TH_ASSERT_ST(h, th_next_r2t(h, cid, &t2), 0);
		assert_int_equal(t2.r2to, K8);
		assert_int_not_equal(t2.ttag, t.ttag);
		hl = send_h2c(h, (uint16_t)cid, t2.ttag, 0, 4096, hdr);
		break;
	}
	case BAD_TTAG_STALE: {
		struct th_r2t t2;

		TH_ASSERT_ST(h, th_next_r2t(h, cid, &t2), 0);
		TH_ASSERT_ST(h, th_send_h2c(h, cid, t.ttag, 0, K8, 0), 0);
		hl = send_h2c(h, (uint16_t)cid, t.ttag, K8, 4096, hdr);
		break;
	}
	case BAD_CCCID:
		hl = send_h2c(h, (uint16_t)(cid + 1), t.ttag, 0, 4096, hdr);
		break;
	case BAD_BEYOND:
		hl = send_h2c(h, (uint16_t)cid, t.ttag, 6144, 4096, hdr);
		break;
	case BAD_OUTSIDE:
		hl = send_h2c(h, (uint16_t)cid, t.ttag, K8, 4096, hdr);
		break;
	case BAD_NOT_ASKED:
		/* MAXR2T 1: two windows asked for, the third is not yet. */
		TH_ASSERT_ST(h, th_next_r2t(h, cid, &t), 0);
		assert_int_equal(t.r2to, K8);
		hl = send_h2c(h, (uint16_t)cid, t.ttag, 2 * K8, 4096, hdr);
		break;
	case BAD_OVERLAP:
		TH_ASSERT_ST(h, th_send_h2c(h, cid, t.ttag, 0, 4096, 0), 0);
		hl = send_h2c(h, (uint16_t)cid, t.ttag, 2048, 4096, hdr);
		break;
	case BAD_AGAIN:
		TH_ASSERT_ST(h, th_send_h2c(h, cid, t.ttag, 0, 4096, 0), 0);
		hl = send_h2c(h, (uint16_t)cid, t.ttag, 0, 4096, hdr);
		break;
	case BAD_SKIP:
		hl = send_h2c(h, (uint16_t)cid, t.ttag, 4096, 4096, hdr);
		break;
	case BAD_TOO_LONG:
		/* The host's own encoder must let it through. */
		th_params(h)->maxh2cdata = 2 * K8;
		hl = send_h2c(h, (uint16_t)cid, t.ttag, 0, K8 + 4, hdr);
		break;
	case BAD_AFTER_DONE:
	default:
		hl = send_h2c(h, (uint16_t)cid, t.ttag, 0, 4096, hdr);
		break;
	}
	TH_ASSERT_TERM_HDR(h, fes, fei, hdr, hl);
	/* The read still in the backend keeps the queue pair until it completes. */
	assert_int_equal(penv_stats(e).pending_bdev_io, bad == BAD_AFTER_DONE ? 0 : 1);
	tb_hold(e->tb, false);
	assert_int_equal(tb_release(e->tb), bad == BAD_AFTER_DONE ? 0 : 1);
	penv_assert_idle(e, &idle);
}

static void test_h2c_errors(void **state)
{
	struct penv *e = *state;

	for (uint8_t dgst = 0; dgst <= 3; dgst += 3) {
		for (size_t i = 0; i < sizeof(h2c_cases) / sizeof(h2c_cases[0]); i++) {
			print_message("# %s%s\n", h2c_cases[i].what, dgst ? ", digests" : "");
			h2c_case(e, h2c_cases[i].bad, dgst, h2c_cases[i].fes, h2c_cases[i].fei);
		}
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_8k, penv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_r2t_sequence),
		T(test_maxr2t_outstanding),
		T(test_deep_queue_ttags),
		cmocka_unit_test_setup_teardown(test_many_h2c_per_r2t, penv_setup, penv_teardown),
		T(test_h2c_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
