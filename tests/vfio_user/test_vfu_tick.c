/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/transports/vfio_user/vfu_tick.h: the tick policy on made-up
 * timelines.  A host woken by the tick, idle: fast, then slower as the
 * quiet spell grows, never slower than 1 % of it or 10 ms; the same host
 * with a command every few milliseconds keeps the fast tick (it must not
 * be taken for a busy loop); a busy loop gets the slow busy tick; no
 * enabled controller, no tick.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "transports/vfio_user/vfu_tick.h"

#define US 1000ull
#define MS (1000ull * US)
#define T0 (1000ull * MS) /* a monotonic clock does not start at 0 */

/* A group's state before its first poll (vfu_pg_create()). */
#define TICK_INIT { .clock_read = true }

/* One poll of an event-driven host at @now; returns the period the tick gets. */
static uint64_t sleeper_poll(struct vfu_tick *t, uint64_t now, bool work)
{
	/* Idle polls read the clock, and a host only sleeps after an idle one. */
	vfu_tick_begin(t, now);
	vfu_tick_end(t, true, work);
	return vfu_tick_period(t, now, 1);
}

static void test_idle_backoff(void **state)
{
	struct vfu_tick t = TICK_INIT;
	uint64_t now = T0, period, last = 0;
	int changes = 0;

	(void)state;
	/* A command, then nothing: the host sleeps and wakes on each tick. */
	period = sleeper_poll(&t, now, true);
	assert_int_equal(period, VFU_TICK_ACTIVE_NS);
	while (now - T0 < 5000 * MS) {
		uint64_t quiet, bound;

		now += period;
		period = sleeper_poll(&t, now, false);
		quiet = now - T0;
		if (quiet < 20 * MS) {
			assert_int_equal(period, VFU_TICK_ACTIVE_NS);
			continue;
		}
		/* What a command arriving now waits at most: 1 % of the quiet spell, 1 ms to 10 ms. */
		bound = quiet / 100 < MS ? MS : quiet / 100;
		if (bound > 10 * MS)
			bound = 10 * MS;
		if (period > bound)
			fail_msg("period %llu ns after %llu ns quiet", (unsigned long long)period,
				 (unsigned long long)quiet);
		assert_true(period >= last);
		changes += period != last;
		last = period;
	}
	/* 1, 2, 4, 8 and 10 ms: a few re-arms for the whole spell. */
	assert_int_equal(last, VFU_TICK_MAX_NS);
	assert_int_equal(changes, 5);
	assert_int_equal(vfu_tick_idle_ns(0), MS);
	assert_int_equal(vfu_tick_idle_ns(199 * MS), MS);
	assert_int_equal(vfu_tick_idle_ns(200 * MS), 2 * MS);
	assert_int_equal(vfu_tick_idle_ns(799 * MS), 4 * MS);
	assert_int_equal(vfu_tick_idle_ns(800 * MS), 8 * MS);
	assert_int_equal(vfu_tick_idle_ns(1600 * MS), 10 * MS);
	assert_int_equal(vfu_tick_idle_ns(UINT64_MAX), 10 * MS);
	/* A command ends the spell at once. */
	now += period;
	assert_int_equal(sleeper_poll(&t, now, true), VFU_TICK_ACTIVE_NS);
}

/* A sleeping host with steady light load: a command every 5 ms, woken by the 50 us tick in between. */
static void test_light_load_stays_fast(void **state)
{
	struct vfu_tick t = TICK_INIT;
	uint64_t now = T0, period = VFU_TICK_ACTIVE_NS, next_cmd = T0;

	(void)state;
	while (now - T0 < 2000 * MS) {
		bool work = now >= next_cmd;

		if (work)
			next_cmd += 5 * MS;
		period = sleeper_poll(&t, now, work);
		/* Taken for a busy loop, it would get the 5 ms tick: commands would wait up to 5 ms. */
		if (period != VFU_TICK_ACTIVE_NS)
			fail_msg("period %llu ns at %llu ms", (unsigned long long)period,
				 (unsigned long long)((now - T0) / MS));
		now += period;
	}
}

/* A host that polls without pause, with and without work: the slow busy tick after 100 ms. */
static void test_busy_loop(void **state)
{
	struct vfu_tick t = TICK_INIT;
	uint64_t now = T0;
	uint32_t polls = 0;
	bool idle = true;

	(void)state;
	vfu_tick_begin(&t, now);
	vfu_tick_end(&t, true, true);
	t.last_gap_ns = now; /* it slept once, then started spinning */
	for (; now - T0 < 300 * MS; now += 2 * US) {
		/* Work for the first 150 ms (the clock is read every 16th poll then), idle afterwards. */
		bool work = now - T0 < 150 * MS;
		bool clock = idle || ++polls % 16 == 0;

		if (clock)
			assert_false(vfu_tick_begin(&t, now));
		vfu_tick_end(&t, clock, work);
		idle = !work;
		if (clock && now - T0 >= 101 * MS)
			assert_int_equal(vfu_tick_period(&t, now, 1), VFU_TICK_BUSY_NS);
	}
	/* It starts sleeping again: the pause shows, the idle tick follows. */
	now += 5 * MS;
	assert_true(vfu_tick_begin(&t, now));
	vfu_tick_end(&t, true, false);
	assert_int_equal(vfu_tick_period(&t, now, 1), vfu_tick_idle_ns(now - t.last_work_ns));
	/* No enabled controller: no tick at all. */
	assert_int_equal(vfu_tick_period(&t, now, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_backoff),
		cmocka_unit_test(test_light_load_stays_fast),
		cmocka_unit_test(test_busy_loop),
	};

	return cmocka_run_group_tests_name("vfu_tick", tests, NULL, NULL);
}
