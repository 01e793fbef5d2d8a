/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Keep Alive over real TCP (loopback): a controller connected with a small
 * KATO survives as long as its host sends Keep Alives, and once they stop
 * the target expires it: the admin and the I/O connection are closed, the
 * group returns to idle (no queue pair, request or pool buffer left), and
 * the other host, which asked for no keep-alive, is served all along.
 * Bounded by time where time is what is under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "proto_env.h"

#define KATO_MS 500u
/* A target that has not expired the controller by then never will. */
#define EXPIRY_BOUND_MS 10000u

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Pump the target for @ms; a Keep Alive every @ka_ms on @admin (0: none). */
static void run_for(struct penv *e, struct th *admin, uint32_t ms, uint32_t ka_ms)
{
	uint64_t start = now_ms(), last_ka = start;

	while (now_ms() - start < ms) {
		if (ka_ms > 0 && now_ms() - last_ka >= ka_ms) {
			TH_ASSERT_ST(admin, th_keep_alive(admin), 0);
			last_ka = now_ms();
		}
		penv_pump(e);
		/* The pump does not sleep; neither host has anything in flight. */
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
}

static void test_keepalive_expiry(void **state)
{
	struct penv *e = *state;
	struct th_connect_args a = { .qid = 0, .sqsize = 31, .cntlid = NVMFT_CNTLID_DYNAMIC,
				     .kato = KATO_MS };
	uint8_t w[PENV_BLOCK], r[PENV_BLOCK];
	struct penv_idle idle;
	struct th *admin, *io;
	uint64_t stopped, gone;
	uint16_t cntlid;

	penv_reinit(e, &(struct penv_opts){ .tcp = true });
	penv_count(e, &idle);
	admin = penv_host(e);
	assert_int_equal(th_icreq(admin, 0, 0, 0), 0);
	TH_ASSERT_ST(admin, th_connect_raw(admin, &a, NULL), 0);
	cntlid = th_cntlid(admin);
	TH_ASSERT_ST(admin, th_enable(admin), 0);
	io = penv_host(e);
	assert_int_equal(th_icreq(io, 0, 0, 0), 0);
	TH_ASSERT_ST(io, th_connect_io(io, 1, 31, cntlid), 0);
	assert_non_null(penv_conn(e, cntlid, 0));
	assert_non_null(penv_conn(e, cntlid, 1));

	/* Three KATOs with Keep Alives every third of one: the controller stays. */
	run_for(e, admin, 3 * KATO_MS, KATO_MS / 3);
	th_fill(w, sizeof(w), 0x6b61);
	TH_ASSERT_ST(io, th_rw(io, true, 1, 77, 1, w, sizeof(w), TH_IO_INCAPSULE), 0);
	TH_ASSERT_ST(io, th_rw(io, false, 1, 77, 1, r, sizeof(r), 0), 0);
	assert_memory_equal(r, w, sizeof(w));
	TH_ASSERT_HEALTHY(admin);
	assert_non_null(penv_conn(e, cntlid, 1));

	/* One last Keep Alive; from then on none: both connections close after one KATO. */
	TH_ASSERT_ST(admin, th_keep_alive(admin), 0);
	stopped = now_ms();
	run_for(e, NULL, KATO_MS / 2, 0);
	assert_non_null(penv_conn(e, cntlid, 0));
	assert_non_null(penv_conn(e, cntlid, 1));
	penv_check_other(e);
	while ((penv_conn(e, cntlid, 0) != NULL || penv_conn(e, cntlid, 1) != NULL) &&
	       now_ms() - stopped < EXPIRY_BOUND_MS)
		run_for(e, NULL, 5, 0);
	gone = now_ms();
	assert_null(penv_conn(e, cntlid, 0));
	assert_null(penv_conn(e, cntlid, 1));
	assert_true(gone - stopped >= KATO_MS);
	/* The hosts see the target close both sockets. */
	TH_ASSERT_ST(admin, th_expect_closed(admin), 0);
	TH_ASSERT_ST(io, th_expect_closed(io), 0);
	penv_drop(e, io);
	penv_drop(e, admin);
	penv_assert_idle(e, &idle);
	/* The other host never asked for keep-alive: still served. */
	penv_check_other(e);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, penv_setup, penv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_keepalive_expiry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
