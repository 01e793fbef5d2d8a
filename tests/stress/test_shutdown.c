/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * (f) The application shuts the target down while hosts are mid-I/O:
 * every poll group thread stops its group and polls until the stop
 * callback, the threads are joined, then the groups, the target and the
 * backends are freed.  Run under ASan or valgrind, the point is what does
 * not happen: no crash, no use after free, no leak, no free that fails.
 *
 *  - hung backend: the groups cannot finish stopping while a backend holds
 *    requests (their queue pairs are all disconnected, the stop callback has
 *    not run); the backend lets go, they finish, everything is freed;
 *  - delayed backend: the same, finishing by itself;
 *  - with management operations still in flight (a namespace removal and a
 *    subsystem pause, both waiting for the hung I/O): their callbacks still
 *    come, once each, and nothing leaks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/poll_group.h"
#include "core/qpair.h"
#include "stress_env.h"

#define NHOSTS 3
#define NLB 8
#define HUNG 6

struct host {
	struct senv *e;
	int idx;
	struct shost h;
	int hung[HUNG];
	bool ns2_only;     /* namespace 1 is about to go: loop on 2 alone */
	unsigned int rounds_ok;
	int last;  /* how the loop ended: a status or TH_* */
	char why[200];
};

struct fx {
	struct senv e;
	struct host hosts[NHOSTS];
	pthread_t threads[NHOSTS];
	int nthreads;
	bool shut;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct senv_opts o = { .nr_ns = 2 };

	assert_non_null(f);
	senv_init(&f->e, &o);
	*state = f;
	return 0;
}

static void join_hosts(struct fx *f)
{
	for (int i = 0; i < f->nthreads; i++)
		pthread_join(f->threads[i], NULL);
	f->nthreads = 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (!f->shut) {
		/* A failed check: unblock everything first. */
		for (uint32_t n = 1; n <= 2; n++) {
			if (f->e.be[n - 1] != NULL) {
				fault_backend_set_rules(senv_fb(&f->e, n), NULL, NULL, 0);
				fault_backend_release(senv_fb(&f->e, n));
			}
		}
		senv_stop_begin(&f->e);
	}
	join_hosts(f);
	for (int i = 0; i < NHOSTS; i++)
		sh_close(&f->hosts[i].h);
	if (!f->shut)
		senv_fini(&f->e);
	free(f);
	return 0;
}

/* Loop on verified I/O until the target goes away; anything else than that is an error. */
static void *host_main(void *arg)
{
	struct host *w = arg;
	uint8_t wb[NLB * SENV_BLOCK], rb[NLB * SENV_BLOCK];

	for (unsigned int r = 0;; r++) {
		uint32_t nsid = w->ns2_only ? 2 : 1 + r % 2;
		struct th *q = w->h.io[r % w->h.nio];
		uint64_t lba = (uint64_t)(w->idx * 64 + 32 + r % 32) * NLB;
		int st;

		sh_pattern(wb, lba, NLB, r + 1);
		st = sh_rw(q, true, nsid, lba, NLB, wb);
		if (st == 0)
			st = sh_rw(q, false, nsid, lba, NLB, rb);
		if (st == 0 && memcmp(wb, rb, sizeof(wb)) != 0)
			snprintf(w->why, sizeof(w->why), "round %u: read back other data", r);
		/*
		 * Between the controller leaving service and its queues closing,
		 * a command may be refused with Command Sequence Error (no DNR):
		 * a host retries that, as real ones do.
		 */
		if (st == NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR) && w->why[0] == '\0')
			continue;
		if (st != 0 || w->why[0] != '\0') {
			w->last = st;
			break;
		}
		w->rounds_ok++;
	}
	/* A stopping target closes the connection; it never answers with garbage. */
	if (w->why[0] == '\0' && w->last != TH_CLOSED)
		snprintf(w->why, sizeof(w->why), "loop ended with %d, not a closed connection (%s)",
			 w->last, th_why(w->h.io[0]));
	return NULL;
}

struct qp_probe {
	unsigned int live, disconnecting;
};

static void probe_pg(void *arg, void *pgp)
{
	struct qp_probe *p = arg;
	struct nvmft_poll_group *pg = pgp;
	struct nvmft_qpair *qp;

	TAILQ_FOREACH(qp, &pg->qpairs, link) {
		if (nvmft_qpair_is_alive(qp))
			p->live++;
		else
			p->disconnecting++;
	}
}

/* Hosts connected, each with HUNG writes sitting in namespace 1's backend, then looping. */
static void start_hosts(struct fx *f, bool hang, bool ns2_only)
{
	for (int i = 0; i < NHOSTS; i++) {
		struct host *w = &f->hosts[i];

		w->e = &f->e;
		w->idx = i;
		w->ns2_only = ns2_only;
		assert_int_equal(sh_connect(&f->e, NULL, 2, 32, &w->h), 0);
		for (int k = 0; hang && k < HUNG; k++) {
			static uint8_t data[NLB * SENV_BLOCK];
			struct nvmft_cmd c = th_rw_cmd(true, 1, (uint64_t)(i * 64 + k) * NLB, NLB);
			struct th_io io = { .wdata = data, .wlen = sizeof(data),
					    .flags = TH_IO_INCAPSULE };

			w->hung[k] = th_submit(w->h.io[k % 2], &c, &io);
			assert_true(w->hung[k] >= 0);
		}
	}
	if (hang)
		assert_true(SENV_UNTIL(senv_fstats(&f->e, 1).hung_now == NHOSTS * HUNG));
	for (int i = 0; i < NHOSTS; i++) {
		assert_int_equal(pthread_create(&f->threads[i], NULL, host_main, &f->hosts[i]), 0);
		f->nthreads++;
	}
	for (int i = 0; i < NHOSTS; i++)
		assert_true(SENV_UNTIL(f->hosts[i].rounds_ok >= 5 || f->hosts[i].why[0] != '\0'));
}

static void check_hosts(struct fx *f)
{
	for (int i = 0; i < NHOSTS; i++) {
		if (f->hosts[i].why[0] != '\0')
			fail_msg("host %d: %s", i, f->hosts[i].why);
		assert_true(f->hosts[i].rounds_ok >= 5);
	}
}

/* Stop requested, every queue pair disconnected, yet the groups wait for the backend. */
static void assert_stop_waits(struct fx *f)
{
	struct qp_probe p;

	assert_true(SENV_UNTIL((p = (struct qp_probe){ 0 }, senv_on_pg(&f->e, 0, probe_pg, &p),
				 senv_on_pg(&f->e, 1, probe_pg, &p), p.live == 0)));
	assert_true(p.disconnecting > 0);
	assert_int_equal(senv_fstats(&f->e, 1).hung_now, NHOSTS * HUNG);
	/* The other namespace's delayed commands finish; the hung ones stay. */
	assert_true(SENV_UNTIL(senv_pg_stats(&f->e).pending_bdev_io == NHOSTS * HUNG));
	assert_int_equal(senv_fstats(&f->e, 1).hung_now, NHOSTS * HUNG);
	for (int i = 0; i < SENV_NPG; i++)
		assert_false(senv_pg_stopped(&f->e, i));
}

static void test_shutdown_with_hung_io(void **state)
{
	struct fx *f = *state;

	senv_rules(&f->e, 1, "hang=write");
	senv_rules(&f->e, 2, "delay=any:5ms");
	start_hosts(f, true, true);
	senv_stop_begin(&f->e);
	assert_stop_waits(f);
	/* The application's part: tell the device to let go, then finish. */
	fault_backend_release(senv_fb(&f->e, 1));
	f->shut = true;
	senv_shutdown(&f->e);
	join_hosts(f);
	check_hosts(f);
}

static void test_shutdown_with_delayed_io(void **state)
{
	struct fx *f = *state;

	senv_rules(&f->e, 1, "delay=any:30ms");
	senv_rules(&f->e, 2, "delay=write:10ms");
	start_hosts(f, false, false);
	assert_true(SENV_UNTIL(senv_fstats(&f->e, 1).held_now > 0));
	/* No release: delays end by themselves. */
	f->shut = true;
	senv_shutdown(&f->e);
	join_hosts(f);
	check_hosts(f);
}

/* ---- With management operations in flight ---------------------------------------------------- */

struct ops {
	struct senv *e;
	atomic_int removed, paused;
	atomic_int removed_status, paused_status;
	int rc_pause;
};

static void removed_cb(void *arg, int status)
{
	struct ops *o = arg;

	atomic_store(&o->removed_status, status);
	atomic_fetch_add(&o->removed, 1);
}

static void paused_cb(void *arg, int status)
{
	struct ops *o = arg;

	atomic_store(&o->paused_status, status);
	atomic_fetch_add(&o->paused, 1);
}

static void mg_start_ops(void *arg, void *tgt)
{
	struct ops *o = arg;

	nvmft_ns_remove(nvmft_ns_find(o->e->ss, 1), removed_cb, o);
	o->rc_pause = nvmft_subsystem_pause(o->e->ss, paused_cb, o);
}

static void test_shutdown_during_management(void **state)
{
	struct fx *f = *state;
	struct ops *o = calloc(1, sizeof(*o));

	assert_non_null(o);
	o->e = &f->e;
	senv_rules(&f->e, 1, "hang=write");
	start_hosts(f, true, true);
	senv_mgmt(&f->e, mg_start_ops, o);
	assert_int_equal(o->rc_pause, 0);
	senv_stop_begin(&f->e);
	assert_stop_waits(f);
	assert_int_equal(atomic_load(&o->removed), 0);
	fault_backend_release(senv_fb(&f->e, 1));
	f->shut = true;
	senv_shutdown(&f->e);
	join_hosts(f);
	/* Each callback came exactly once, by the time the target was freed. */
	assert_int_equal(atomic_load(&o->removed), 1);
	assert_int_equal(atomic_load(&o->paused), 1);
	assert_int_equal(atomic_load(&o->removed_status), 0);
	assert_int_equal(atomic_load(&o->paused_status), 0);
	/* The hosts paused with their I/O held: they saw the connections close, nothing else. */
	for (int i = 0; i < NHOSTS; i++)
		if (f->hosts[i].why[0] != '\0')
			fail_msg("host %d: %s", i, f->hosts[i].why);
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shutdown_with_hung_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_with_delayed_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_during_management, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
