/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared pieces of tcp-pingpong and tcp-stream: sockets on loopback (or
 * any address), CPU pinning, clocks and per-thread CPU time.  Both tools
 * busy-poll non-blocking sockets exactly like nvmft-perf and nvmft-tgt
 * --busy-poll do, so their numbers are the floor (latency) and ceiling
 * (throughput) those two can be held against.
 */
#ifndef NVMFT_TCP_TOOL_H
#define NVMFT_TCP_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tt_cpu {
	double user_s;
	double sys_s;
	double wall_s;
};

uint64_t tt_now_ns(void);
/* Pin the calling thread; core < 0 leaves it alone.  0 or -errno. */
int tt_pin(int core);
/* Listen on @addr:@port (0: any free port), non-blocking; *@bound gets the port. */
int tt_listen(const char *addr, uint16_t port, uint16_t *bound);
/* Wait up to @timeout_ms for a connection on @lfd. */
int tt_accept(int lfd, int timeout_ms);
int tt_connect(const char *addr, uint16_t port, int timeout_ms);
/* Busy-poll until all @len bytes are sent; -1 on error. */
int tt_send_all(int fd, const void *buf, size_t len);
/* Busy-poll until @len bytes arrived; 0 when done, 1 on EOF before any byte, -1 on error. */
int tt_recv_all(int fd, void *buf, size_t len);
/* RUSAGE_THREAD snapshot and the difference since @start. */
void tt_cpu_start(struct tt_cpu *c);
void tt_cpu_stop(struct tt_cpu *c);
double tt_cpu_pct(const struct tt_cpu *c);
/* Integer option parsing for the small CLIs: false when @s is not a number in range. */
bool tt_parse_long(const char *s, long min, long max, long *out);
bool tt_parse_double(const char *s, double min, double max, double *out);

#endif
