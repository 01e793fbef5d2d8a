/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * (d) Namespaces come and go while hosts do I/O to them.
 *
 * Three hosts, each with its own controller (admin and I/O queues spread
 * over both poll groups), enable Namespace Attribute Notices and park an
 * Asynchronous Event Request, then loop on I/O while the test
 *   1. removes namespace 1 (whose backend delays every command, so some are
 *      always in flight): each host gets the AEN, finds 1 in the Changed
 *      Namespace List and not in the active list; its commands to 1 either
 *      complete (success) or fail with Invalid Namespace (DNR), and once one
 *      has failed every later one does; the removal completes with 0 and
 *      the backend can be freed at once;
 *   2. adds namespace 3 on a new backend: AEN, 3 is in both lists, I/O to
 *      it works;
 *   3. says namespace 2's device went away (nvmft_backend_notify_removed())
 *      under I/O: as in 1, and the backend is released.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stress_env.h"

#define NHOSTS 3
#define NLB 8
#define ST_INVALID_NS NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS)
#define ST_NS_GONE NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY)
#define AEN_NS_CHANGED                                                                          \
	((uint32_t)NVME_AER_NOTICE | NVME_AER_NOTICE_NS_CHANGED << 8 | NVME_LOG_LID_CHANGED_NS << 16)

/* What the hosts do in each stage, and what they wait for. */
static const struct stage {
	uint32_t io_nsid;    /* namespace the loop does I/O on */
	uint32_t change;     /* namespace whose change the AEN brings */
	bool added;          /* it appears (else it goes) */
	uint32_t keep_nsid;  /* a namespace that stays, for I/O after the change */
} stages[] = {
	{ 0, 0, false, 0 },
	{ 1, 1, false, 2 },
	{ 2, 3, true, 2 },
	{ 2, 2, false, 3 },
};
#define NSTAGES 4

struct host {
	struct senv *e;
	atomic_int *stage;
	int idx;
	struct shost h;
	int aer;
	atomic_uint io_done;
	atomic_int seen; /* last stage whose change this host has verified */
	unsigned int ok_before, invalid;
	char why[200];
};

struct fx {
	struct senv e;
	struct host hosts[NHOSTS];
	pthread_t threads[NHOSTS];
	int nthreads;
	atomic_int stage; /* NSTAGES: stop */
};

/* Stop and join the host threads (also after a failed check, before their hosts go). */
static void join_hosts(struct fx *f)
{
	atomic_store(&f->stage, NSTAGES);
	for (int i = 0; i < f->nthreads; i++)
		pthread_join(f->threads[i], NULL);
	f->nthreads = 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct senv_opts o = { .nr_ns = 2, .rules = { "delay=any:3ms", "delay=any:3ms" } };

	assert_non_null(f);
	senv_init(&f->e, &o);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	join_hosts(f);
	for (int i = 0; i < NHOSTS; i++)
		sh_close(&f->hosts[i].h);
	senv_fini(&f->e);
	free(f);
	return 0;
}

#define BAD(w, ...)                                                                               \
	do {                                                                                      \
		if ((w)->why[0] == '\0')                                                          \
			snprintf((w)->why, sizeof((w)->why), __VA_ARGS__);                        \
	} while (0)

/* Write and read back one slot of this host's blocks on @nsid; the status. */
static int rw_round(struct host *w, uint32_t nsid, unsigned int round)
{
	uint8_t wb[NLB * SENV_BLOCK], rb[NLB * SENV_BLOCK];
	uint64_t lba = (uint64_t)(w->idx * 64 + round % 64) * NLB;
	int st;

	sh_pattern(wb, lba, NLB, round + 1);
	st = sh_rw(w->h.io[0], true, nsid, lba, NLB, wb);
	if (st != 0)
		return st;
	st = sh_rw(w->h.io[0], false, nsid, lba, NLB, rb);
	if (st == 0 && memcmp(wb, rb, sizeof(wb)) != 0)
		BAD(w, "ns %u round %u: read back other data", nsid, round);
	return st;
}

/* The AEN arrived: check it and the lists, re-arm.  Returns true when it was about @s. */
static bool on_aen(struct host *w, const struct stage *s)
{
	struct nvmft_cpl cpl;
	uint32_t changed[16], active[16];
	unsigned int nc = 0, na = 0;
	int st = th_wait(w->h.admin, w->aer, &cpl);

	w->aer = -1;
	if (st != 0 || le32toh(cpl.dw0) != AEN_NS_CHANGED) {
		BAD(w, "AER: status %d dw0 0x%x", st, le32toh(cpl.dw0));
		return false;
	}
	if (sh_changed_ns(w->h.admin, changed, 16, &nc) != 0 ||
	    sh_active_ns(w->h.admin, active, 16, &na) != 0) {
		BAD(w, "log page or identify failed");
		return false;
	}
	w->aer = sh_submit_aer(w->h.admin);
	if (w->aer < 0)
		BAD(w, "AER submit: %d", w->aer);
	if (!sh_list_has(changed, nc, s->change))
		return false; /* an older change, e.g. a list read before it settled */
	if (sh_list_has(active, na, s->change) != s->added)
		BAD(w, "ns %u %s the active list after the AEN", s->change,
		    s->added ? "missing from" : "still in");
	return true;
}

static void *host_main(void *arg)
{
	struct host *w = arg;
	unsigned int round = 0;
	int cur;

	while ((cur = atomic_load(w->stage)) < NSTAGES && w->why[0] == '\0') {
		const struct stage *s = &stages[cur];
		bool failed_once = false;
		int st;

		if (atomic_load(&w->seen) >= cur) {
			/* Verified already: keep the load up on a namespace that stays. */
			st = rw_round(w, s->keep_nsid, round++);
			/* The next stage may already be taking that namespace away. */
			if (st == ST_INVALID_NS && atomic_load(w->stage) != cur)
				st = 0;
			if (st != 0)
				BAD(w, "stage %d: I/O on ns %u: status 0x%x (%s)", cur, s->keep_nsid, st,
				    th_why(w->h.io[0]));
			atomic_fetch_add(&w->io_done, 1);
			continue;
		}
		/* Until the AEN: I/O on the namespace that is about to change. */
		while (w->why[0] == '\0' && !th_done(w->h.admin, w->aer)) {
			st = rw_round(w, s->io_nsid, round++);
			atomic_fetch_add(&w->io_done, 1);
			if (st == ST_INVALID_NS && !s->added && s->io_nsid == s->change) {
				failed_once = true;
				w->invalid++;
			} else if (st != 0 || failed_once) {
				BAD(w, "stage %d: I/O on ns %u: status 0x%x after %s (%s)", cur,
				    s->io_nsid, st, failed_once ? "Invalid Namespace" : "success",
				    th_why(w->h.io[0]));
			} else {
				w->ok_before++;
			}
			/* Look for the AEN without waiting for it. */
			while (th_readable(w->h.admin) && !th_done(w->h.admin, w->aer)) {
				struct th_pdu p;

				if (th_process(w->h.admin, &p) < 0)
					BAD(w, "admin queue: %s", th_why(w->h.admin));
			}
		}
		if (w->why[0] != '\0' || !on_aen(w, s))
			continue;
		/* After the AEN the change is complete for this host. */
		st = rw_round(w, s->change, round++);
		if (s->added ? st != 0 : st != ST_INVALID_NS)
			BAD(w, "stage %d: I/O on ns %u after the AEN: status 0x%x", cur, s->change, st);
		atomic_store(&w->seen, cur);
	}
	return NULL;
}

/* ---- Management side ------------------------------------------------------------------------- */

struct mg {
	struct senv *e;
	uint32_t nsid;
	struct nvmft_backend *be;
	struct senv_done done;
	int rc;
	bool gone;
};

static void mg_remove(void *arg, void *tgt)
{
	struct mg *m = arg;

	nvmft_ns_remove(nvmft_ns_find(m->e->ss, m->nsid), senv_done_cb, &m->done);
}

static void mg_free_backend(void *arg, void *tgt)
{
	struct mg *m = arg;

	m->rc = nvmft_backend_free(m->be);
}

static void mg_add(void *arg, void *tgt)
{
	struct mg *m = arg;
	struct nvmft_ns_opts no;
	struct nvmft_ns *ns;

	m->rc = fault_backend_new("hotadd", FAULT_STORE_RAM, 16384, SENV_BLOCK, NULL, NULL, 0, &m->be);
	if (m->rc != 0)
		return;
	nvmft_ns_opts_init(&no, sizeof(no));
	no.nsid = m->nsid;
	m->rc = nvmft_ns_add(m->e->ss, m->be, &no, senv_done_cb, &m->done, &ns);
}

static void mg_notify_removed(void *arg, void *tgt)
{
	struct mg *m = arg;

	nvmft_backend_notify_removed(m->be);
	/* A second notice while the first drains changes nothing. */
	nvmft_backend_notify_removed(m->be);
}

static void mg_claim_gone(void *arg, void *tgt)
{
	struct mg *m = arg;

	m->gone = nvmft_backend_get_ns(m->be) == NULL;
}

static bool all_seen(struct fx *f, int stage)
{
	for (int i = 0; i < NHOSTS; i++)
		if (atomic_load(&f->hosts[i].seen) < stage || f->hosts[i].why[0] != '\0')
			return false;
	return true;
}

/* Every host did @n more commands since @base was taken. */
static bool all_busy(struct fx *f, const unsigned int *base, unsigned int n)
{
	for (int i = 0; i < NHOSTS; i++)
		if (atomic_load(&f->hosts[i].io_done) < base[i] + n)
			return false;
	return true;
}

static void snap(struct fx *f, unsigned int *base)
{
	for (int i = 0; i < NHOSTS; i++)
		base[i] = atomic_load(&f->hosts[i].io_done);
}

static void check_hosts(struct fx *f)
{
	for (int i = 0; i < NHOSTS; i++)
		if (f->hosts[i].why[0] != '\0')
			fail_msg("host %d: %s", i, f->hosts[i].why);
}

static void test_hotplug_under_io(void **state)
{
	struct fx *f = *state;
	struct mg m = { .e = &f->e };
	unsigned int invalid = 0, base[NHOSTS] = { 0 };

	atomic_store(&f->stage, 1);
	for (int i = 0; i < NHOSTS; i++) {
		struct host *w = &f->hosts[i];

		w->e = &f->e;
		w->stage = &f->stage;
		w->idx = i;
		assert_int_equal(sh_connect(&f->e, NULL, 1, 32, &w->h), 0);
		assert_int_equal(sh_enable_ns_aen(w->h.admin), 0);
		w->aer = sh_submit_aer(w->h.admin);
		assert_true(w->aer >= 0);
	}
	for (int i = 0; i < NHOSTS; i++) {
		assert_int_equal(pthread_create(&f->threads[i], NULL, host_main, &f->hosts[i]), 0);
		f->nthreads++;
	}

	/* 1: remove namespace 1 while every host has I/O on it. */
	assert_true(SENV_UNTIL(all_busy(f, base, 20 * senv_scale())));
	m.nsid = 1;
	senv_done_reset(&m.done);
	senv_mgmt(&f->e, mg_remove, &m);
	assert_int_equal(senv_wait_done(&m.done), 0);
	assert_true(SENV_UNTIL(all_seen(f, 1) || f->hosts[0].why[0] || f->hosts[1].why[0] ||
			       f->hosts[2].why[0]));
	check_hosts(f);
	assert_int_equal(senv_fstats(&f->e, 1).held_now, 0);
	assert_int_equal(senv_fstats(&f->e, 1).channels, 0);
	m.be = f->e.be[0];
	senv_mgmt(&f->e, mg_free_backend, &m);
	assert_int_equal(m.rc, 0);
	f->e.be[0] = NULL;

	/* 2: add namespace 3 on a new backend under load on namespace 2. */
	atomic_store(&f->stage, 2);
	m.nsid = 3;
	senv_done_reset(&m.done);
	senv_mgmt(&f->e, mg_add, &m);
	assert_int_equal(m.rc, 0);
	f->e.be[2] = m.be;
	assert_int_equal(senv_wait_done(&m.done), 0);
	assert_true(SENV_UNTIL(all_seen(f, 2) || f->hosts[0].why[0] || f->hosts[1].why[0] ||
			       f->hosts[2].why[0]));
	check_hosts(f);

	/* 3: namespace 2's device goes away under load. */
	snap(f, base);
	assert_true(SENV_UNTIL(all_busy(f, base, 10 * senv_scale())));
	atomic_store(&f->stage, 3);
	m.be = f->e.be[1];
	senv_mgmt(&f->e, mg_notify_removed, &m);
	assert_true(SENV_UNTIL((senv_mgmt(&f->e, mg_claim_gone, &m), m.gone)));
	assert_true(SENV_UNTIL(all_seen(f, 3) || f->hosts[0].why[0] || f->hosts[1].why[0] ||
			       f->hosts[2].why[0]));
	check_hosts(f);
	senv_mgmt(&f->e, mg_free_backend, &m);
	assert_int_equal(m.rc, 0);
	f->e.be[1] = NULL;

	join_hosts(f);
	check_hosts(f);
	for (int i = 0; i < NHOSTS; i++) {
		struct host *w = &f->hosts[i];

		assert_true(w->ok_before > 0);
		invalid += w->invalid;
		assert_int_equal(th_violations(w->h.admin), 0);
		assert_int_equal(th_violations(w->h.io[0]), 0);
		sh_close(&w->h);
	}
	print_message("# commands that met a namespace on its way out: %u\n", invalid);
	senv_assert_idle(&f->e);
}

/* Removal while a command is hung in the backend: the drain deadline fails the removal with
 * -ETIMEDOUT, the backend stays claimed until the command returns, then it is released. */
static void test_remove_with_hung_io(void **state)
{
	struct fx *f = *state;
	struct host *w = &f->hosts[0];
	struct mg m = { .e = &f->e, .nsid = 1 };
	uint8_t b[NLB * SENV_BLOCK];
	struct nvmft_cmd c = th_rw_cmd(true, 1, 0, NLB);
	struct th_io io = { .wdata = b, .wlen = sizeof(b), .flags = TH_IO_INCAPSULE };
	int cid;

	/* A short drain deadline for this one: rebuild the environment. */
	senv_fini(&f->e);
	{
		struct senv_opts o = { .nr_ns = 2, .drain_timeout_ms = 300 };

		senv_init(&f->e, &o);
	}
	assert_int_equal(sh_connect(&f->e, NULL, 1, 32, &w->h), 0);
	senv_rules(&f->e, 1, "hang=write");
	sh_pattern(b, 0, NLB, 1);
	cid = th_submit(w->h.io[0], &c, &io);
	assert_true(cid >= 0);
	assert_true(SENV_UNTIL(senv_fstats(&f->e, 1).hung_now == 1));
	senv_done_reset(&m.done);
	senv_mgmt(&f->e, mg_remove, &m);
	assert_int_equal(senv_wait_done(&m.done), -ETIMEDOUT);
	/*
	 * The host is answered at the deadline (the namespace is gone on every
	 * path: no retry), while the backend keeps the request and its buffers.
	 */
	assert_int_equal(th_wait(w->h.io[0], cid, NULL), ST_NS_GONE);
	/* Gone for hosts, still claimed: freeing the backend now would free live memory. */
	assert_int_equal(sh_rw(w->h.io[0], false, 1, 0, NLB, b), ST_INVALID_NS);
	m.be = f->e.be[0];
	senv_mgmt(&f->e, mg_free_backend, &m);
	assert_int_equal(m.rc, -EBUSY);
	/*
	 * The NSID is free for the subsystem, but the group holding the hung
	 * command still has the old channel: adding a namespace with that NSID
	 * fails cleanly (rolled back on the other group), and works once the
	 * old one is gone.
	 */
	{
		struct mg a = { .e = &f->e, .nsid = 1 };

		senv_done_reset(&a.done);
		senv_mgmt(&f->e, mg_add, &a);
		assert_int_equal(a.rc, 0);
		assert_int_equal(senv_wait_done(&a.done), -EEXIST);
		senv_mgmt(&f->e, mg_free_backend, &a);
		assert_int_equal(a.rc, 0);
	}
	senv_rules(&f->e, 1, NULL);
	fault_backend_release(senv_fb(&f->e, 1));
	/* The late completion reaches nobody: the host's next read is the one it asks for. */
	assert_true(SENV_UNTIL((senv_mgmt(&f->e, mg_claim_gone, &m), m.gone)));
	senv_mgmt(&f->e, mg_free_backend, &m);
	assert_int_equal(m.rc, 0);
	f->e.be[0] = NULL;
	{
		struct mg a = { .e = &f->e, .nsid = 1 };

		senv_done_reset(&a.done);
		senv_mgmt(&f->e, mg_add, &a);
		assert_int_equal(a.rc, 0);
		f->e.be[0] = a.be;
		assert_int_equal(senv_wait_done(&a.done), 0);
		assert_int_equal(sh_rw(w->h.io[0], true, 1, 0, NLB, b), 0);
	}
	sh_close(&w->h);
	senv_assert_idle(&f->e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hotplug_under_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_with_hung_io, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
