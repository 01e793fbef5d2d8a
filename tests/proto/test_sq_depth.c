/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Queues of fewer than 32 entries.
 *
 * doc/tcp.md: "Queue depth: Connect SQSIZE + 1 [...] A host that has more
 * commands in flight than that gets FES 02h."  The ICReq creates 32 request
 * slots before the depth is known, so a smaller queue must be held to its
 * own size by count, not by running out of slots.  test_pipeline.c checks
 * the 32- and 128-entry queues.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_env.h"

static void overflow(struct penv *e, uint16_t sqsize)
{
	uint8_t buf[TH_PDU_SIZE(0)], rbuf[PENV_BLOCK];
	struct penv_idle idle;
	struct nvmft_cmd c;
	struct th *h;
	size_t n;

	penv_count(e, &idle);
	idle.admin_qpairs++;
	idle.connections++;
	h = penv_io(e, 0, 0, 0, sqsize, 0);
	/* A failure here is the expected one: do not wait long for it. */
	th_set_timeout(h, 1000);
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
	tb_hold(e->tb, false);
	assert_int_equal(tb_release(e->tb), sqsize + 1);
	penv_assert_idle(e, &idle);
}

/* 16 entries: the 17th command in flight overflows the queue. */
static void test_sq_overflow_16(void **state)
{
	overflow(*state, 15);
}

/* 2 entries, the smallest I/O queue. */
static void test_sq_overflow_2(void **state)
{
	overflow(*state, 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, penv_setup, penv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_sq_overflow_16),
		T(test_sq_overflow_2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
