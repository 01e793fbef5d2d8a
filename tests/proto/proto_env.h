/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The target every protocol scenario runs against, and the hosts that talk
 * to it (tests/common/tcp_host.h).
 *
 * One target, one poll group, the TCP transport with one listener on
 * 127.0.0.1 (port chosen by the kernel), subsystem PENV_SUBNQN with
 * namespace 1 on a scriptable test backend (tests/common/test_backend.h,
 * RAM, completes inline unless told to hold), and a second, empty
 * subsystem PENV_SUBNQN2 on the same listener.
 *
 * The test thread is the host, the management thread and the poll group's
 * thread: hosts pump the target through penv_pump() whenever they wait.
 *
 * By default a new host reaches the target through a socketpair handed to
 * the transport with its test hook (nvmft_tcp_adopt_fd()), so a scenario
 * uses no port and sees no network timing; with penv_opts.tcp, or through
 * penv_host_tcp(), it connects over loopback TCP instead.
 *
 * Every environment also opens "the other host" at once: an admin queue
 * and an I/O queue with both digests, which writes and reads back its own
 * blocks.  penv_check_other(), which the teardown runs, proves that it is
 * still served, whatever the scenario did to its own connections.
 */
#ifndef NVMFT_PROTO_ENV_H
#define NVMFT_PROTO_ENV_H

#include <stdbool.h>
#include <stdint.h>

#include <nvmft/nvmft.h>

#include "tcp_host.h"
#include "test_backend.h"
#include "transports/tcp/tcp_internal.h"
#include "test_util.h"

#define PENV_SUBNQN "nqn.2024-01.io.nvmft:proto"
#define PENV_SUBNQN2 "nqn.2024-01.io.nvmft:proto-empty"
#define PENV_OTHER_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:0e7e0e7e-0000-4000-8000-0000006f7468"
#define PENV_BLOCK 512u
#define PENV_BLOCKS 32768u
/* The other host's blocks: scenarios stay below. */
#define PENV_OTHER_LBA 32000u
#define PENV_MAX_HOSTS 64

struct penv_opts {
	const struct nvmft_transport_opts *tr; /* NULL: the TCP defaults */
	bool deny_any_host;   /* only TH_HOSTNQN and the other host may connect */
	bool no_host_allowed; /* with deny_any_host: TH_HOSTNQN is not on the list either */
	bool tcp;             /* new hosts over loopback TCP rather than socketpairs */
};

struct penv {
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg;
	struct nvmft_transport *tr;
	struct nvmft_listener *l;
	struct nvmft_subsystem *ss;
	struct nvmft_subsystem *ss2;
	struct tb *tb;
	struct nvmft_backend *be;
	char port[32];
	bool tcp;
	struct th *hosts[PENV_MAX_HOSTS];
	int nhosts;
	struct th *other_admin;
	struct th *other_io;
	uint32_t other_round;
};

/* Build the environment and the other host; asserts on failure. */
void penv_init(struct penv *e, const struct penv_opts *o);
/* Close every host and free everything (checks nothing). */
void penv_fini(struct penv *e);
/* Check the other host, then rebuild with @o. */
void penv_reinit(struct penv *e, const struct penv_opts *o);

/* cmocka fixtures: a default environment in *state; teardown checks the other host. */
int penv_setup(void **state);
int penv_teardown(void **state);

/* Poll the target and the group once; the hosts' pump. */
int penv_pump(void *arg);
/* Pump until @cond holds, at most a bounded number of rounds; evaluates to whether it held. */
#define PENV_POLL_UNTIL(e, cond) TU_UNTIL(100000, cond, penv_pump(e))

/* A new host, not yet past ICReq, over the environment's default path. */
struct th *penv_host(struct penv *e);
/* Over a socketpair; @target_sndbuf > 0 shrinks the target end's send buffer first. */
struct th *penv_host_pair(struct penv *e, int target_sndbuf);
/* Over loopback TCP; @rcvbuf > 0 shrinks the host's receive buffer before connecting. */
struct th *penv_host_tcp(struct penv *e, int rcvbuf);
/* Over TCP to another listener of the environment's target: numeric @addr, @port. */
struct th *penv_host_addr(struct penv *e, const char *addr, const char *port);
/* Close a host's connection and forget it. */
void penv_drop(struct penv *e, struct th *h);
/* penv_drop() every host but the other host's two connections. */
void penv_drop_all(struct penv *e);

/* ICReq(@dgst), admin Connect and enable; asserts. */
struct th *penv_admin(struct penv *e, uint8_t dgst, uint16_t *cntlid);
/* A controller (new admin queue) and its I/O queue 1 of @sqsize + 1 entries; asserts. */
struct th *penv_io(struct penv *e, uint8_t dgst, uint8_t hpda, uint32_t maxr2t, uint16_t sqsize,
		   uint8_t cattr);
/* penv_io() with no digests, HPDA 0, MAXR2T 0, 128 entries. */
struct th *penv_io_default(struct penv *e);

/* The other host still works: a Keep Alive, and a write read back. */
void penv_check_other(struct penv *e);

struct penv_idle {
	uint64_t admin_qpairs;   /* connected admin queues expected */
	uint64_t io_qpairs;      /* connected I/O queues expected */
	uint32_t connections;    /* TCP connections expected */
};
/*
 * Pump until the group has exactly the queues and connections of @want,
 * no request in the backend, and every pool buffer back on its free list;
 * assert that it got there.
 */
void penv_assert_idle(struct penv *e, const struct penv_idle *want);
/* Connected queues and connections now, as penv_assert_idle() counts them. */
void penv_count(struct penv *e, struct penv_idle *now);

/* White box: the target's connection for queue @qid of controller @cntlid. */
struct tcp_conn *penv_conn(struct penv *e, uint16_t cntlid, uint16_t qid);
/* The group's statistics. */
struct nvmft_poll_group_stats penv_stats(struct penv *e);
/* All pool chunks are on the free list. */
bool penv_pool_idle(struct penv *e);

#endif
