/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The target the stress tests run against, laid out as an application
 * would: a management thread that owns the target (it created it) and runs
 * nvmft_target_poll(), and SENV_NPG poll group threads, each driving one
 * group: the first sleeps on the group's descriptor between polls, the
 * second is a busy_poll group that never does (it naps a few microseconds
 * instead), so every test also runs against a group whose busiest
 * connection is read without epoll watching it.  The TCP transport listens on
 * 127.0.0.1 (port chosen by the kernel); subsystem SENV_NQN has namespaces
 * 1..nr_ns, each on a fault backend over a RAM store (examples/fault_backend.h)
 * whose rules the test changes as it goes.
 *
 * The test thread is neither: it asks the management thread to run code
 * (senv_mgmt()), waits for management callbacks (struct senv_done), and runs
 * hosts (tests/common/tcp_host.h, no pump: the target runs by itself) on
 * threads of its own.  Every wait is bounded; a bound that runs out is a
 * test failure, never a hang.  No result depends on time.
 *
 * Teardown is the application's shutdown sequence: stop every poll group
 * from its own thread and keep polling until the stop callback (the group
 * waits for its backend I/O), join, free the groups and the target on the
 * management thread, then free the backends.
 */
#ifndef NVMFT_STRESS_ENV_H
#define NVMFT_STRESS_ENV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <nvmft/nvmft.h>

#include "fault_backend.h"
#include "tcp_host.h"
#include "test_util.h"

#define SENV_NQN "nqn.2024-01.io.nvmft:stress"
#define SENV_NPG 2
#define SENV_MAX_NS 4
#define SENV_BLOCK 512u
/* Bound of every wait, in ms (valgrind makes everything ~50x slower). */
#define SENV_WAIT_MS 120000

struct senv_opts {
	unsigned int nr_ns;             /* 1..SENV_MAX_NS; 0: 1 */
	uint64_t ns_blocks;             /* 0: 16384 (8 MiB) */
	const char *rules[SENV_MAX_NS]; /* initial rules of namespace i + 1 */
	uint32_t drain_timeout_ms;      /* 0: the library's default */
	uint32_t max_queue_depth;       /* 0: the transport's default */
};

/* A management call's completion, as delivered to an nvmft_done_fn. */
struct senv_done {
	atomic_bool done;
	atomic_int status;
};

/* A job a thread of the environment runs for the test thread. */
struct senv_job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void (*fn)(void *arg, void *obj);
	void *arg;
	atomic_bool posted; /* not run yet */
	int efd;            /* wakes the thread that runs it */
};

struct senv_pgt {
	struct senv *env;
	struct nvmft_poll_group *pg;
	bool busy_poll; /* never sleeps on the group's descriptor */
	pthread_t thread;
	bool started;
	struct senv_job job;
	atomic_bool stop_req;
	atomic_bool stopped;   /* the stop callback ran */
	atomic_bool exited;
};

struct senv {
	struct senv_opts opts;
	struct nvmft_target *tgt;
	struct nvmft_transport *tr;
	struct nvmft_listener *l;
	struct nvmft_subsystem *ss;
	char port[16];
	/* Backends of namespaces 1..nr_ns; a test may replace them (hot add). */
	struct nvmft_backend *be[SENV_MAX_NS];
	struct nvmft_ns *ns[SENV_MAX_NS];
	struct senv_pgt pgt[SENV_NPG];
	struct senv_done ns_added[SENV_MAX_NS];
	pthread_t mgmt;
	struct senv_job mjob;
	bool built; /* under mjob.lock: the management thread finished building */
	atomic_bool mgmt_quit;
	int init_rc;
};

/* Build and start everything; asserts on failure. */
void senv_init(struct senv *e, const struct senv_opts *o);
/* Release held I/O, then senv_shutdown(). */
void senv_fini(struct senv *e);
/*
 * The shutdown sequence as it is: ask every group thread to stop its group,
 * wait (bounded) until they all stopped and exited, then free the groups,
 * the target and the backends on the management thread; asserts that each
 * free succeeded.
 */
void senv_shutdown(struct senv *e);
/* Ask the group threads to stop their groups, without waiting. */
void senv_stop_begin(struct senv *e);
/* Whether group @i's stop callback ran. */
bool senv_pg_stopped(struct senv *e, int i);

/* Run @fn(@arg, target) on the management thread and wait for it. */
void senv_mgmt(struct senv *e, void (*fn)(void *arg, void *tgt), void *arg);
/* Run @fn(@arg, poll group) on group @i's thread and wait for it. */
void senv_on_pg(struct senv *e, int i, void (*fn)(void *arg, void *pg), void *arg);

/* An nvmft_done_fn for struct senv_done. */
void senv_done_cb(void *arg, int status);
void senv_done_reset(struct senv_done *d);
/* Wait (bounded) for @d; its status. */
int senv_wait_done(struct senv_done *d);
/* Wait, bounded, until @cond holds; evaluates to whether it did. */
#define SENV_UNTIL(cond) TU_UNTIL(SENV_WAIT_MS, cond, senv_sleep_ms(1))
void senv_sleep_ms(unsigned int ms);

/* The fault backend of namespace @nsid (as created by senv_init). */
struct fault_backend *senv_fb(struct senv *e, uint32_t nsid);
/* Replace the rules of namespace @nsid; asserts that they parse. */
void senv_rules(struct senv *e, uint32_t nsid, const char *rules);
struct fault_stats senv_fstats(struct senv *e, uint32_t nsid);

/* Poll group counters summed over the groups. */
struct nvmft_poll_group_stats senv_pg_stats(struct senv *e);
/*
 * Wait until no queue pair is connected, no request is in a backend, and
 * every group's buffer pools have all their chunks back (checked on the
 * groups' own threads); assert it.
 */
void senv_assert_idle(struct senv *e);

/* ---- Hosts ----------------------------------------------------------------------------------- */

/* One controller: an admin queue and @nio I/O queues, each its own connection. */
#define SH_MAX_IO 4
struct shost {
	struct th *admin;
	struct th *io[SH_MAX_IO];
	unsigned int nio;
	uint16_t cntlid;
};

/* Connect a controller as @hostnqn (NULL: TH_HOSTNQN) with @nio queues of @depth entries. 0 or error. */
int sh_connect(struct senv *e, const char *hostnqn, unsigned int nio, uint16_t depth,
	       struct shost *h);
/* Close every connection (FIN) and free. */
void sh_close(struct shost *h);

/* Set Features Asynchronous Event Configuration: namespace attribute notices on. */
int sh_enable_ns_aen(struct th *admin);
/* Submit an Asynchronous Event Request; its CID or an error. */
int sh_submit_aer(struct th *admin);
/* Get Log Page Changed Namespace List (RAE clear: the event is unmasked). */
int sh_changed_ns(struct th *admin, uint32_t *nsids, unsigned int max, unsigned int *n);
/* Identify Active Namespace ID list. */
int sh_active_ns(struct th *admin, uint32_t *nsids, unsigned int max, unsigned int *n);
bool sh_list_has(const uint32_t *list, unsigned int n, uint32_t nsid);

/* A host I/O of @nlb blocks at @lba on @nsid, data in @buf. Returns the status or TH_*. */
int sh_rw(struct th *q, bool write, uint32_t nsid, uint64_t lba, uint32_t nlb, void *buf);
/* Deterministic block contents: block @lba of generation @gen. */
void sh_pattern(void *buf, uint64_t lba, uint32_t nlb, uint32_t gen);

/* Scale of loop counts: STRESS_SCALE in the environment (default 1, at least 1). */
unsigned int senv_scale(void);

#endif
