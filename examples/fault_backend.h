/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A fault-injection backend: a wrapper, built on the public backend method
 * table only, that passes requests to an inner backend and, as its rules
 * (fault_rules.h) say, fails them, delays them, hangs them until released,
 * or completes a read/write with an error after doing part of it.
 *
 * Where a fault acts.  The public API lets a backend start requests and
 * complete them, but not watch another backend complete one: the inner
 * backend's nvmft_req_complete() goes straight to the core.  So every fault
 * acts before the inner backend sees the request: "delay" and "hang" hold it
 * and pass it on later (the host sees the completion no sooner than that),
 * "fail" completes it without passing it on.  "short" does the first half of
 * a read or write itself, which it can only do on storage it owns: on the
 * built-in RAM store it copies that half for real; wrapping any other
 * backend it fills the first half of a read's buffers with 0xdb bytes and
 * writes nothing.
 *
 * Held requests wait on the channel: a timerfd per channel, serviced from
 * channel_poll, with the channel's descriptor (an epoll set of the timer, a
 * wake-up eventfd and the inner channel's own descriptor) for event-driven
 * poll groups.  Nothing blocks.
 *
 * Threads.  Channel methods run on their poll group's thread, as for any
 * backend.  fault_backend_set_rules(), fault_backend_release() and
 * fault_backend_get_stats() may be called from any thread; the rules are
 * replaced as a whole and each channel picks the new set up at its next
 * request.  Creation and nvmft_backend_free() follow the library's rules
 * (management thread).
 */
#ifndef NVMFT_EXAMPLE_FAULT_BACKEND_H
#define NVMFT_EXAMPLE_FAULT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include <nvmft/backend.h>

#include "fault_rules.h"

struct fault_backend;

/* Storage a fault backend can own. */
enum fault_store {
	FAULT_STORE_RAM,  /* zeroed memory, reserved lazily; zero-copy reads */
	FAULT_STORE_NULL, /* reads zeroes, discards writes */
};

/*
 * fault_backend_new() - a fault backend over a store of its own
 * @name: backend name; copied
 * @store: what holds the data
 * @num_blocks: capacity
 * @block_size: 512..65536, a power of two
 * @rules: initial rules in text form (NULL or "" for none)
 * @err: receives a message when @rules do not parse (may be NULL)
 * @errlen: size of @err
 * @ret: receives the backend for nvmft_ns_add(); free it with
 *       nvmft_backend_free(), which frees everything
 *
 * Capabilities: FLUSH (a no-op, so flushes reach the rules), FUA,
 * WRITE_ZEROES, DEALLOCATE, DEALLOC_ZEROES, COMPARE, and ZCOPY_READ for RAM.
 *
 * Return: 0, -EINVAL (bad geometry or rules), -ENOSPC (too many rules),
 * -ENOMEM.
 */
int fault_backend_new(const char *name, enum fault_store store, uint64_t num_blocks,
		      uint32_t block_size, const char *rules, char *err, size_t errlen,
		      struct nvmft_backend **ret);

/*
 * fault_backend_wrap() - a fault backend in front of any backend's method table
 * @ops: the inner backend's table; must outlive the wrapper
 * @ctx: its context; the wrapper owns it from now on and calls
 *       @ops->destroy(@ctx) when it is freed (also when this call fails)
 * @opts: name, geometry, capabilities and identifiers to announce
 *        (normally the inner backend's own)
 * @rules, @err, @errlen, @ret: as for fault_backend_new()
 *
 * Return: as fault_backend_new().
 */
int fault_backend_wrap(const struct nvmft_backend_ops *ops, void *ctx,
		       const struct nvmft_backend_opts *opts, const char *rules, char *err,
		       size_t errlen, struct nvmft_backend **ret);

/* The fault backend behind @be, or NULL when @be is not one. Any thread. */
struct fault_backend *fault_backend_of(const struct nvmft_backend *be);

/*
 * Replace the rules (counters of nth=/count= start again).  Requests held
 * already stay held.  Return 0 or -EINVAL/-ENOSPC/-ENOMEM with a message
 * in @err (the old rules stay then).  Any thread.
 */
int fault_backend_set_rules(struct fault_backend *fb, const char *rules, char *err,
			    size_t errlen);

/*
 * Let every request a hang rule holds go on (to the inner backend) at its
 * channel's next poll, including hangs with a duration that has not run
 * out.  Requests hung after a channel saw the release stay hung.  Any
 * thread.
 */
void fault_backend_release(struct fault_backend *fb);

/* Counters; relaxed atomics, so a snapshot is not taken at one instant. */
struct fault_stats {
	uint64_t submitted;      /* requests the wrapper got */
	uint64_t by_type[8];     /* ... by enum nvmft_io_type */
	uint64_t forwarded;      /* passed to the inner backend */
	uint64_t failed;         /* completed by a fail rule */
	uint64_t shortened;      /* completed by a short rule */
	uint64_t delayed;        /* held by a delay rule, ever */
	uint64_t hung;           /* held by a hang rule, ever */
	uint64_t held_now;       /* held right now (delay, hang, fail/short after=) */
	uint64_t hung_now;       /* held by a hang rule right now */
	uint64_t channels;       /* channels open now */
};

/* Read the counters. Any thread. */
void fault_backend_get_stats(const struct fault_backend *fb, struct fault_stats *st);

#endif /* NVMFT_EXAMPLE_FAULT_BACKEND_H */
