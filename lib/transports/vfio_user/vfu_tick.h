/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The tick of a vfio-user poll group, as a pure policy.  A client rings
 * its doorbells with plain stores into the page it mapped, which wake
 * nobody: a host that sleeps between polls (nvmft_poll_group_wait()) is
 * woken by the group's tick timer to look, and only by it.  How often
 * follows from the history of polls, kept here apart from the clock and
 * the timer so that made-up timelines can test it:
 *
 *   no enabled controller                      off
 *   commands in the last 20 ms                 50 us
 *   quiet for T >= 20 ms                       1 ms, doubled each time T reaches
 *                                              100 times the doubled period, 10 ms
 *                                              at most: a command after a quiet
 *                                              spell of T waits at most
 *                                              max(1 ms, min(T / 100, 10 ms))
 *   host polled 100 ms without a pause         5 ms (a busy loop needs no tick;
 *                                              the slow one is there in case it
 *                                              starts sleeping)
 *
 * A pause is a gap of more than 25 us between two polls that read the
 * clock: shorter than the fast tick, so a host woken by it is still seen
 * sleeping.  Any command or message ends a quiet spell at once.
 *
 * Owner: the poll group's thread.
 */
#ifndef NVMFT_VFU_TICK_H
#define NVMFT_VFU_TICK_H

#include <stdbool.h>
#include <stdint.h>

enum {
	VFU_TICK_ACTIVE_NS = 50 * 1000,
	VFU_TICK_ACTIVE_FOR_NS = 20 * 1000 * 1000,
	VFU_TICK_IDLE_NS = 1000 * 1000,
	VFU_TICK_MAX_NS = 10 * 1000 * 1000,
	VFU_TICK_QUIET_RATIO = 100,
	VFU_TICK_BUSY_NS = 5 * 1000 * 1000,
	VFU_SLEEPER_FOR_NS = 100 * 1000 * 1000,
	VFU_SLEPT_GAP_NS = 25 * 1000,
};

struct vfu_tick {
	uint64_t last_poll_ns; /* the clock at the last poll that read it */
	uint64_t last_work_ns; /* ... and at the last one that found work */
	uint64_t last_gap_ns;  /* last time the host paused between polls (it sleeps) */
	bool clock_read;       /* the last poll read the clock */
};

/*
 * A poll read the clock: @now.  True when the host paused since the last
 * poll (it slept, and woke for a reason: look at everything now).  Only
 * measurable when that poll read the clock too, which an idle one does.
 */
static inline bool vfu_tick_begin(struct vfu_tick *t, uint64_t now)
{
	bool slept = t->clock_read && now - t->last_poll_ns > VFU_SLEPT_GAP_NS;

	if (slept)
		t->last_gap_ns = now;
	t->last_poll_ns = now;
	return slept;
}

/* The poll is over: whether it read the clock (then vfu_tick_begin() came first), whether it found work. */
static inline void vfu_tick_end(struct vfu_tick *t, bool clock, bool work)
{
	t->clock_read = clock;
	if (clock && work)
		t->last_work_ns = t->last_poll_ns;
}

/* The idle period after @quiet ns without work (VFU_TICK_IDLE_NS to VFU_TICK_MAX_NS). */
static inline uint64_t vfu_tick_idle_ns(uint64_t quiet)
{
	uint64_t p = VFU_TICK_IDLE_NS;

	/* Powers of two only: the timer is re-armed a handful of times per quiet spell. */
	while (p < VFU_TICK_MAX_NS && quiet / VFU_TICK_QUIET_RATIO >= 2 * p)
		p *= 2;
	return p < VFU_TICK_MAX_NS ? p : VFU_TICK_MAX_NS;
}

/* The period the tick should have at @now (0: off), with @enabled controllers on the group. */
static inline uint64_t vfu_tick_period(const struct vfu_tick *t, uint64_t now, uint32_t enabled)
{
	uint64_t quiet = now - t->last_work_ns;

	if (enabled == 0)
		return 0;
	if (now - t->last_gap_ns >= VFU_SLEEPER_FOR_NS)
		return VFU_TICK_BUSY_NS;
	return quiet < VFU_TICK_ACTIVE_FOR_NS ? VFU_TICK_ACTIVE_NS : vfu_tick_idle_ns(quiet);
}

#endif
