/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * (e) Subsystem pause and resume while hosts do I/O.
 *
 * Three hosts loop on verified writes and reads over two namespaces (one of
 * them slow), while the test pauses and resumes the subsystem many times at
 * random moments.  Each time the pause has completed, no request reaches a
 * backend until the resume (the backends' submit counters do not move) and
 * none is in one; no host command ever fails; held commands run after the
 * resume.  Some resumes overtake their pause, which must then report
 * -ECANCELED or 0, never hang.
 *
 * Then the deadline: with a command hung in a backend, a pause gives up
 * after drain_timeout_ms with -ETIMEDOUT; commands that arrive meanwhile are
 * held, not failed; after a resume and the backend's release everything
 * completes, and the next pause drains at once.  And a namespace removed
 * while commands for it are held: they fail with Invalid Namespace on resume.
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
#include "core/req.h"
#include "stress_env.h"

#define NHOSTS 3
#define NLB 8

struct host {
	struct senv *e;
	int idx;
	struct shost h;
	atomic_bool *stop;
	atomic_uint done;
	char why[200];
};

struct fx {
	struct senv e;
	struct host hosts[NHOSTS];
	pthread_t threads[NHOSTS];
	int nthreads;
	atomic_bool stop;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct senv_opts o = { .nr_ns = 2, .rules = { "delay=any:2ms" }, .drain_timeout_ms = 500 };

	assert_non_null(f);
	senv_init(&f->e, &o);
	*state = f;
	return 0;
}

static void join_hosts(struct fx *f)
{
	atomic_store(&f->stop, true);
	for (int i = 0; i < f->nthreads; i++)
		pthread_join(f->threads[i], NULL);
	f->nthreads = 0;
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

static void *host_main(void *arg)
{
	struct host *w = arg;
	uint8_t wb[NLB * SENV_BLOCK], rb[NLB * SENV_BLOCK];

	for (unsigned int r = 0; !atomic_load(w->stop); r++) {
		uint32_t nsid = 1 + r % 2;
		uint64_t lba = (uint64_t)(w->idx * 64 + r % 64) * NLB;
		int st;

		sh_pattern(wb, lba, NLB, r + 1);
		st = sh_rw(w->h.io[r % w->h.nio], true, nsid, lba, NLB, wb);
		if (st == 0)
			st = sh_rw(w->h.io[r % w->h.nio], false, nsid, lba, NLB, rb);
		if (st != 0) {
			snprintf(w->why, sizeof(w->why), "round %u ns %u: status 0x%x (%s)", r, nsid, st,
				 th_why(w->h.io[r % w->h.nio]));
			break;
		}
		if (memcmp(wb, rb, sizeof(wb)) != 0) {
			snprintf(w->why, sizeof(w->why), "round %u ns %u: read back other data", r,
				 nsid);
			break;
		}
		atomic_fetch_add(&w->done, 1);
	}
	return NULL;
}

struct pr {
	struct senv *e;
	struct senv_done pause, resume;
	int rc_pause, rc_resume;
	bool both;
};

static void mg_pause(void *arg, void *tgt)
{
	struct pr *p = arg;

	p->rc_pause = nvmft_subsystem_pause(p->e->ss, senv_done_cb, &p->pause);
	/* Resume at once: the resume overtakes the pause still draining. */
	if (p->both && p->rc_pause == 0)
		p->rc_resume = nvmft_subsystem_resume(p->e->ss, senv_done_cb, &p->resume);
}

static void mg_resume(void *arg, void *tgt)
{
	struct pr *p = arg;

	p->rc_resume = nvmft_subsystem_resume(p->e->ss, senv_done_cb, &p->resume);
}

static void do_pause(struct fx *f, struct pr *p, bool both)
{
	senv_done_reset(&p->pause);
	senv_done_reset(&p->resume);
	p->e = &f->e;
	p->both = both;
	p->rc_resume = -1;
	senv_mgmt(&f->e, mg_pause, p);
	assert_int_equal(p->rc_pause, 0);
}

static void do_resume(struct fx *f, struct pr *p)
{
	senv_mgmt(&f->e, mg_resume, p);
	assert_int_equal(p->rc_resume, 0);
	assert_int_equal(senv_wait_done(&p->resume), 0);
}

static uint64_t submitted(struct fx *f)
{
	return senv_fstats(&f->e, 1).submitted + senv_fstats(&f->e, 2).submitted;
}

static void start_hosts(struct fx *f, unsigned int nio)
{
	for (int i = 0; i < NHOSTS; i++) {
		struct host *w = &f->hosts[i];

		w->e = &f->e;
		w->idx = i;
		w->stop = &f->stop;
		assert_int_equal(sh_connect(&f->e, NULL, nio, 32, &w->h), 0);
	}
	for (int i = 0; i < NHOSTS; i++) {
		assert_int_equal(pthread_create(&f->threads[i], NULL, host_main, &f->hosts[i]), 0);
		f->nthreads++;
	}
}

static void check_hosts(struct fx *f)
{
	for (int i = 0; i < NHOSTS; i++)
		if (f->hosts[i].why[0] != '\0')
			fail_msg("host %d: %s", i, f->hosts[i].why);
}

static bool hosts_progressed(struct fx *f, const unsigned int *base, unsigned int n)
{
	for (int i = 0; i < NHOSTS; i++)
		if (atomic_load(&f->hosts[i].done) < base[i] + n && f->hosts[i].why[0] == '\0')
			return false;
	return true;
}

static void test_pause_resume_under_io(void **state)
{
	struct fx *f = *state;
	unsigned int seed = 12345, rounds = 30 * senv_scale(), overtaken = 0;
	unsigned int base[NHOSTS];
	struct pr p;

	start_hosts(f, 2);
	for (unsigned int r = 0; r < rounds; r++) {
		bool both = r % 5 == 4;
		uint64_t s1, s2;
		int st;

		for (int i = 0; i < NHOSTS; i++)
			base[i] = atomic_load(&f->hosts[i].done);
		/* Let the hosts get going (a random amount) before pausing. */
		assert_true(SENV_UNTIL(hosts_progressed(f, base, 1 + rand_r(&seed) % 4)));
		check_hosts(f);
		do_pause(f, &p, both);
		if (both) {
			st = senv_wait_done(&p.pause);
			assert_true(st == 0 || st == -ECANCELED);
			overtaken += st == -ECANCELED;
			assert_int_equal(p.rc_resume, 0);
			assert_int_equal(senv_wait_done(&p.resume), 0);
			continue;
		}
		assert_int_equal(senv_wait_done(&p.pause), 0);
		/* Paused: nothing in a backend, nothing new reaches one, for however long. */
		s1 = submitted(f);
		assert_int_equal(senv_pg_stats(&f->e).pending_bdev_io, 0);
		assert_int_equal(senv_fstats(&f->e, 1).held_now, 0);
		senv_sleep_ms(rand_r(&seed) % 10);
		s2 = submitted(f);
		assert_int_equal(s1, s2);
		/* A second pause while paused is refused. */
		{
			struct pr q = { .e = &f->e };

			senv_mgmt(&f->e, mg_pause, &q);
			assert_int_equal(q.rc_pause, -EBUSY);
		}
		do_resume(f, &p);
	}
	/* Held commands ran: every host moves on. */
	for (int i = 0; i < NHOSTS; i++)
		base[i] = atomic_load(&f->hosts[i].done);
	assert_true(SENV_UNTIL(hosts_progressed(f, base, 5)));
	join_hosts(f);
	check_hosts(f);
	print_message("# %u pause/resume rounds, %u pauses overtaken by their resume\n", rounds,
		      overtaken);
	for (int i = 0; i < NHOSTS; i++)
		sh_close(&f->hosts[i].h);
	senv_assert_idle(&f->e);
}

/* Requests held by a pause, counted on the groups' own threads. */
static void probe_queued(void *arg, void *pgp)
{
	struct nvmft_poll_group *pg = pgp;
	unsigned int *n = arg;
	struct nvmft_req *req;

	for (uint32_t id = 0; id < pg->max_subsystems; id++)
		if (pg->ss[id] != NULL)
			TAILQ_FOREACH(req, &pg->ss[id]->queued, link)
				(*n)++;
}

static unsigned int queued(struct fx *f)
{
	unsigned int n = 0;

	for (int i = 0; i < SENV_NPG; i++)
		senv_on_pg(&f->e, i, probe_queued, &n);
	return n;
}

static void test_pause_deadline(void **state)
{
	struct fx *f = *state;
	struct shost *h = &f->hosts[0].h;
	uint8_t wb[NLB * SENV_BLOCK], rb[NLB * SENV_BLOCK];
	struct nvmft_cmd cw = th_rw_cmd(true, 1, 0, NLB), cr = th_rw_cmd(false, 2, 0, NLB);
	struct th_io iow = { .wdata = wb, .wlen = sizeof(wb), .flags = TH_IO_INCAPSULE };
	struct th_io ior = { .rdata = rb, .rlen = sizeof(rb) };
	uint64_t before;
	int cid_w, cid_r;
	struct pr p;

	senv_rules(&f->e, 1, "hang=write");
	assert_int_equal(sh_connect(&f->e, NULL, 2, 32, h), 0);
	sh_pattern(wb, 0, NLB, 77);
	cid_w = th_submit(h->io[0], &cw, &iow);
	assert_true(cid_w >= 0);
	assert_true(SENV_UNTIL(senv_fstats(&f->e, 1).hung_now == 1));

	do_pause(f, &p, false);
	assert_int_equal(senv_wait_done(&p.pause), -ETIMEDOUT);
	/* Still paused: a new command is held, not failed, and reaches no backend. */
	before = senv_fstats(&f->e, 2).submitted;
	cid_r = th_submit(h->io[1], &cr, &ior);
	assert_true(cid_r >= 0);
	assert_true(SENV_UNTIL(queued(f) == 1));
	assert_int_equal(senv_fstats(&f->e, 2).submitted, before);
	assert_false(th_done(h->io[1], cid_r));
	/* Admin commands still work. */
	assert_int_equal(th_keep_alive(h->admin), 0);

	do_resume(f, &p);
	assert_int_equal(th_wait(h->io[1], cid_r, NULL), 0);
	assert_int_equal(queued(f), 0);
	/* The hung write is still the backend's; let it go. */
	assert_false(th_done(h->io[0], cid_w));
	senv_rules(&f->e, 1, NULL);
	fault_backend_release(senv_fb(&f->e, 1));
	assert_int_equal(th_wait(h->io[0], cid_w, NULL), 0);
	assert_int_equal(sh_rw(h->io[0], false, 1, 0, NLB, rb), 0);
	assert_memory_equal(rb, wb, sizeof(wb));

	/* Recovered: the next pause drains at once. */
	do_pause(f, &p, false);
	assert_int_equal(senv_wait_done(&p.pause), 0);
	do_resume(f, &p);
	assert_int_equal(sh_rw(h->io[1], true, 2, 8, NLB, wb), 0);
	sh_close(h);
	senv_assert_idle(&f->e);
}

static void mg_remove_ns1(void *arg, void *tgt)
{
	struct pr *p = arg;

	/* p->resume doubles as the removal's completion here. */
	nvmft_ns_remove(nvmft_ns_find(p->e->ss, 1), senv_done_cb, &p->resume);
}

/*
 * A namespace removed while the subsystem is paused with commands for it
 * held: the removal does not wait for them (they never ran), and on resume
 * they fail with Invalid Namespace while the other namespace's run.
 */
static void test_remove_while_paused(void **state)
{
	struct fx *f = *state;
	struct shost *h = &f->hosts[0].h;
	uint8_t b1[NLB * SENV_BLOCK], b2[NLB * SENV_BLOCK];
	struct nvmft_cmd c1 = th_rw_cmd(true, 1, 0, NLB), c2 = th_rw_cmd(true, 2, 0, NLB);
	struct th_io io1 = { .wdata = b1, .wlen = sizeof(b1), .flags = TH_IO_INCAPSULE };
	struct th_io io2 = { .wdata = b2, .wlen = sizeof(b2), .flags = TH_IO_INCAPSULE };
	int cid1, cid2;
	struct pr p, rm = { .e = &f->e };

	assert_int_equal(sh_connect(&f->e, NULL, 1, 32, h), 0);
	sh_pattern(b1, 0, NLB, 5);
	sh_pattern(b2, 0, NLB, 6);
	do_pause(f, &p, false);
	assert_int_equal(senv_wait_done(&p.pause), 0);
	cid1 = th_submit(h->io[0], &c1, &io1);
	cid2 = th_submit(h->io[0], &c2, &io2);
	assert_true(cid1 >= 0 && cid2 >= 0);
	assert_true(SENV_UNTIL(queued(f) == 2));
	senv_done_reset(&rm.resume);
	senv_mgmt(&f->e, mg_remove_ns1, &rm);
	assert_int_equal(senv_wait_done(&rm.resume), 0);
	assert_int_equal(senv_fstats(&f->e, 1).submitted, 0);
	do_resume(f, &p);
	assert_int_equal(th_wait(h->io[0], cid1, NULL),
			 NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS));
	assert_int_equal(th_wait(h->io[0], cid2, NULL), 0);
	assert_int_equal(sh_rw(h->io[0], false, 2, 0, NLB, b1), 0);
	assert_memory_equal(b1, b2, sizeof(b1));
	assert_int_equal(senv_fstats(&f->e, 1).submitted, 0);
	sh_close(h);
	senv_assert_idle(&f->e);
}

/* Resume of a subsystem that is not paused, pause of the discovery subsystem. */
static void mg_misuse(void *arg, void *tgt)
{
	struct pr *p = arg;

	p->rc_resume = nvmft_subsystem_resume(p->e->ss, NULL, NULL);
	p->rc_pause = nvmft_subsystem_pause(nvmft_target_get_discovery_subsystem(tgt), NULL, NULL);
}

static void test_misuse(void **state)
{
	struct fx *f = *state;
	struct pr p = { .e = &f->e };

	senv_mgmt(&f->e, mg_misuse, &p);
	assert_int_equal(p.rc_resume, -EINVAL);
	assert_int_equal(p.rc_pause, -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pause_resume_under_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_while_paused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misuse, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
