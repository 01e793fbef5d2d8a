/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * LAST_PDU on H2CData, and H2CData that spans two R2Ts.
 *
 * The NVMe/TCP specification defines LAST_PDU of an H2CData PDU as "this
 * is the last PDU of the data the R2T asked for": its value follows from
 * DATAO, DATAL and the R2T being answered, and a host that gets it wrong
 * sent an H2CData header with an invalid field.  Each R2T asks for its own
 * range, and an H2CData PDU answers one R2T (its TTAG names it), so data
 * that runs from one R2T's range into the next is outside the range of
 * the R2T it answers.  What this test expects:
 *
 *   LAST_PDU clear on the PDU that ends an R2T's range    FES 01h, FEI 1 (flags)
 *   LAST_PDU set on a PDU that does not end it            FES 01h, FEI 1
 *   one PDU covering the end of one R2T and the next      FES 04h, FEI 0
 *
 * The Linux host driver answers each R2T with PDUs of its own and sets
 * LAST_PDU on the last of them, so these checks cost it nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_env.h"

#define K8 8192u

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

static void last_pdu_case(struct penv *e, uint32_t maxr2t, uint32_t datao, uint32_t datal,
			  bool last, uint16_t fes, uint32_t fei)
{
	static uint8_t w[4 * K8], buf[TH_PDU_SIZE(2 * K8)];
	struct nvmft_cmd c = th_rw_cmd(true, 1, 0, sizeof(w) / PENV_BLOCK);
	struct th_io io = { .wdata = w, .wlen = sizeof(w), .flags = TH_IO_MANUAL_R2T };
	struct th *h = penv_io(e, 0, 0, maxr2t, 127, 0);
	struct th_r2t t;
	size_t n;
	int cid;

	/* A failure here is the expected one: do not wait long for it. */
	th_set_timeout(h, 1000);
	cid = th_submit(h, &c, &io);
	assert_true(cid >= 0);
	TH_ASSERT_ST(h, th_next_r2t(h, cid, &t), 0);
	if (datao > 0) {
		/* The start of the range, correctly without LAST_PDU. */
		n = th_build_h2c(h, buf, (uint16_t)cid, t.ttag, 0, w, datao, 0);
		assert_int_equal(th_send(h, buf, n), 0);
	}
	n = th_build_h2c(h, buf, (uint16_t)cid, t.ttag, datao, w + datao, datal,
			 last ? TH_F_LAST : 0);
	assert_int_equal(th_send(h, buf, n), 0);
	TH_ASSERT_TERM_HDR(h, fes, fei, buf, 24);
}

/* The PDU that completes the R2T's range lacks LAST_PDU. */
static void test_last_pdu_missing(void **state)
{
	last_pdu_case(*state, 0, 0, K8, false, NVMFT_TCP_FES_INVALID_HEADER_FIELD,
		      NVMFT_TCP_FEI_FLAGS);
}

/* The first of two PDUs for one R2T already says LAST_PDU. */
static void test_last_pdu_early(void **state)
{
	last_pdu_case(*state, 0, 0, K8 / 2, true, NVMFT_TCP_FES_INVALID_HEADER_FIELD,
		      NVMFT_TCP_FEI_FLAGS);
}

/* The second of two PDUs for one R2T ends it without LAST_PDU. */
static void test_last_pdu_missing_second(void **state)
{
	last_pdu_case(*state, 0, K8 / 2, K8 / 2, false, NVMFT_TCP_FES_INVALID_HEADER_FIELD,
		      NVMFT_TCP_FEI_FLAGS);
}

/* MAXR2T 1: two R2Ts of 8 KiB out; one PDU covers the end of the first and the second. */
static void test_h2c_spans_r2ts(void **state)
{
	last_pdu_case(*state, 1, K8 / 2, K8, true, NVMFT_TCP_FES_DATA_OUT_OF_RANGE, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_8k, penv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_last_pdu_missing),
		T(test_last_pdu_early),
		T(test_last_pdu_missing_second),
		T(test_h2c_spans_r2ts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
