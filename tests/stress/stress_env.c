/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/poll_group.h"
#include "core/transport.h"
#include "stress_env.h"

#define SENV_HOST_TIMEOUT_MS 60000

void senv_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

unsigned int senv_scale(void)
{
	const char *s = getenv("STRESS_SCALE");
	long v = s ? strtol(s, NULL, 10) : 1;

	return v < 1 ? 1 : v > 1000 ? 1000 : (unsigned int)v;
}

void senv_done_cb(void *arg, int status)
{
	struct senv_done *d = arg;

	atomic_store(&d->status, status);
	atomic_store(&d->done, true);
}

void senv_done_reset(struct senv_done *d)
{
	atomic_store(&d->done, false);
	atomic_store(&d->status, 0);
}

int senv_wait_done(struct senv_done *d)
{
	if (!SENV_UNTIL(atomic_load(&d->done)))
		fail_msg("a management callback did not come");
	return atomic_load(&d->status);
}

/* ---- Jobs: code the test thread runs on one of the environment's threads --------------------- */

static int job_init(struct senv_job *j)
{
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return j->efd < 0 ? -errno : 0;
}

static void job_fini(struct senv_job *j)
{
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	if (j->efd >= 0)
		close(j->efd);
}

/* The owning thread: run the job if one is posted. */
static void job_run(struct senv_job *j, void *obj)
{
	uint64_t v;

	if (!atomic_load(&j->posted))
		return;
	if (read(j->efd, &v, sizeof(v)) < 0)
		v = 0;
	pthread_mutex_lock(&j->lock);
	j->fn(j->arg, obj);
	atomic_store(&j->posted, false);
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

static void job_call(struct senv_job *j, void (*fn)(void *, void *), void *arg)
{
	uint64_t one = 1;

	pthread_mutex_lock(&j->lock);
	j->fn = fn;
	j->arg = arg;
	atomic_store(&j->posted, true);
	if (write(j->efd, &one, sizeof(one)) < 0)
		fail_msg("eventfd write: %s", strerror(errno));
	while (atomic_load(&j->posted))
		pthread_cond_wait(&j->cond, &j->lock);
	pthread_mutex_unlock(&j->lock);
}

void senv_mgmt(struct senv *e, void (*fn)(void *arg, void *tgt), void *arg)
{
	job_call(&e->mjob, fn, arg);
}

void senv_on_pg(struct senv *e, int i, void (*fn)(void *arg, void *pg), void *arg)
{
	job_call(&e->pgt[i].job, fn, arg);
}

/* ---- Poll group threads ---------------------------------------------------------------------- */

static void pgt_stopped(void *arg, int status)
{
	struct senv_pgt *w = arg;

	(void)status;
	atomic_store(&w->stopped, true);
}

static void *pgt_main(void *arg)
{
	struct senv_pgt *w = arg;
	bool stopping = false;
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };

	/* Sleep on the group and on our job eventfd together. */
	ev.data.u32 = 0;
	epoll_ctl(epfd, EPOLL_CTL_ADD, nvmft_poll_group_get_fd(w->pg), &ev);
	ev.data.u32 = 1;
	epoll_ctl(epfd, EPOLL_CTL_ADD, w->job.efd, &ev);
	for (;;) {
		struct epoll_event got[2];
		int rc, t;

		job_run(&w->job, w->pg);
		if (!stopping && atomic_load(&w->stop_req)) {
			/* The application's part of the shutdown: stop, keep polling until told. */
			rc = nvmft_poll_group_stop(w->pg, pgt_stopped, w);
			if (rc < 0)
				fprintf(stderr, "poll group stop: %d\n", rc);
			stopping = true;
		}
		rc = nvmft_poll_group_poll(w->pg, 0);
		if (rc == -ESHUTDOWN)
			break;
		if (rc > 0)
			continue;
		if (w->busy_poll) {
			/* Polled, never woken: a nap keeps it from taking a whole core of a small machine. */
			struct timespec nap = { .tv_nsec = 20000 };

			nanosleep(&nap, NULL);
			continue;
		}
		t = nvmft_poll_group_get_timeout_ms(w->pg);
		if (t < 0 || t > 50)
			t = 50;
		if (t > 0)
			epoll_wait(epfd, got, 2, t);
	}
	close(epfd);
	atomic_store(&w->exited, true);
	return NULL;
}

/* ---- Management thread ----------------------------------------------------------------------- */

static void mgmt_build(struct senv *e)
{
	struct nvmft_target_opts to;
	struct nvmft_transport_opts tro;
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV4,
					.traddr = "127.0.0.1", .trsvcid = "0" };
	struct nvmft_subsystem_opts so;
	char err[256], name[32];
	int rc;

	nvmft_target_opts_init(&to, sizeof(to));
	if (e->opts.drain_timeout_ms != 0)
		to.drain_timeout_ms = e->opts.drain_timeout_ms;
	rc = nvmft_target_new(&to, &e->tgt);
	for (int i = 0; rc == 0 && i < SENV_NPG; i++) {
		struct nvmft_poll_group_opts po;

		nvmft_poll_group_opts_init(&po, sizeof(po));
		snprintf(name, sizeof(name), "spg%d", i);
		po.name = name;
		po.busy_poll = e->pgt[i].busy_poll = i == SENV_NPG - 1;
		rc = nvmft_poll_group_new(e->tgt, &po, &e->pgt[i].pg);
	}
	if (rc == 0) {
		nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &tro, sizeof(tro));
		if (e->opts.max_queue_depth != 0)
			tro.max_queue_depth = e->opts.max_queue_depth;
		rc = nvmft_transport_new(e->tgt, NVMFT_TRTYPE_TCP, &tro, &e->tr);
	}
	if (rc == 0)
		rc = nvmft_listener_new(e->tr, &lo, &e->l);
	if (rc == 0) {
		snprintf(e->port, sizeof(e->port), "%s", nvmft_listener_get_trsvcid(e->l));
		nvmft_subsystem_opts_init(&so, sizeof(so));
		so.nqn = SENV_NQN;
		so.allow_any_host = true;
		so.max_namespaces = 8;
		rc = nvmft_subsystem_new(e->tgt, &so, &e->ss);
	}
	if (rc == 0)
		rc = nvmft_subsystem_add_listener(e->ss, e->l);
	for (unsigned int i = 0; rc == 0 && i < e->opts.nr_ns; i++) {
		struct nvmft_ns_opts no;

		snprintf(name, sizeof(name), "fault%u", i + 1);
		rc = fault_backend_new(name, FAULT_STORE_RAM, e->opts.ns_blocks, SENV_BLOCK,
				       e->opts.rules[i], err, sizeof(err), &e->be[i]);
		if (rc < 0) {
			fprintf(stderr, "fault backend: %s\n", err);
			break;
		}
		nvmft_ns_opts_init(&no, sizeof(no));
		no.nsid = i + 1;
		senv_done_reset(&e->ns_added[i]);
		rc = nvmft_ns_add(e->ss, e->be[i], &no, senv_done_cb, &e->ns_added[i], &e->ns[i]);
	}
	e->init_rc = rc;
}

static void *mgmt_main(void *arg)
{
	struct senv *e = arg;
	struct epoll_event ev = { .events = EPOLLIN }, got[2];
	int epfd;

	mgmt_build(e);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ev.data.u32 = 1;
	epoll_ctl(epfd, EPOLL_CTL_ADD, e->mjob.efd, &ev);
	if (e->tgt != NULL) {
		ev.data.u32 = 0;
		epoll_ctl(epfd, EPOLL_CTL_ADD, nvmft_target_get_fd(e->tgt), &ev);
	}
	/* Tell senv_init() that the build is over (it reads init_rc). */
	pthread_mutex_lock(&e->mjob.lock);
	e->built = true;
	pthread_cond_broadcast(&e->mjob.cond);
	pthread_mutex_unlock(&e->mjob.lock);
	while (!atomic_load(&e->mgmt_quit)) {
		int n = 0, t;

		job_run(&e->mjob, e->tgt);
		if (e->tgt != NULL)
			n = nvmft_target_poll(e->tgt);
		if (n > 0)
			continue;
		t = e->tgt ? nvmft_target_get_timeout_ms(e->tgt) : -1;
		if (t < 0 || t > 50)
			t = 50;
		epoll_wait(epfd, got, 2, t);
	}
	close(epfd);
	return NULL;
}

struct idle_probe {
	bool idle;
};

void senv_init(struct senv *e, const struct senv_opts *o)
{
	static const struct senv_opts dflt;

	memset(e, 0, sizeof(*e));
	e->opts = o ? *o : dflt;
	if (e->opts.nr_ns == 0)
		e->opts.nr_ns = 1;
	if (e->opts.ns_blocks == 0)
		e->opts.ns_blocks = 16384;
	assert_true(e->opts.nr_ns <= SENV_MAX_NS);
	assert_int_equal(job_init(&e->mjob), 0);
	for (int i = 0; i < SENV_NPG; i++) {
		e->pgt[i].env = e;
		assert_int_equal(job_init(&e->pgt[i].job), 0);
	}
	assert_int_equal(pthread_create(&e->mgmt, NULL, mgmt_main, e), 0);
	pthread_mutex_lock(&e->mjob.lock);
	while (!e->built)
		pthread_cond_wait(&e->mjob.cond, &e->mjob.lock);
	pthread_mutex_unlock(&e->mjob.lock);
	assert_int_equal(e->init_rc, 0);
	for (int i = 0; i < SENV_NPG; i++) {
		assert_int_equal(pthread_create(&e->pgt[i].thread, NULL, pgt_main, &e->pgt[i]), 0);
		e->pgt[i].started = true;
	}
	/* The namespaces are usable once every group opened its channel (the add callback). */
	for (unsigned int i = 0; i < e->opts.nr_ns; i++)
		assert_int_equal(senv_wait_done(&e->ns_added[i]), 0);
}

static void mgmt_free_all(void *arg, void *tgt)
{
	struct senv *e = arg;

	(void)tgt;
	for (int i = 0; i < SENV_NPG; i++) {
		int rc = nvmft_poll_group_free(e->pgt[i].pg);

		if (rc != 0)
			e->init_rc = rc;
		e->pgt[i].pg = NULL;
	}
	if (e->init_rc != 0)
		return;
	nvmft_target_poll(e->tgt);
	nvmft_target_free(e->tgt);
	e->tgt = NULL;
	for (int i = 0; i < SENV_MAX_NS; i++) {
		int rc = nvmft_backend_free(e->be[i]);

		if (rc != 0)
			e->init_rc = rc;
		e->be[i] = NULL;
	}
}

void senv_stop_begin(struct senv *e)
{
	for (int i = 0; i < SENV_NPG; i++)
		atomic_store(&e->pgt[i].stop_req, true);
}

bool senv_pg_stopped(struct senv *e, int i)
{
	return atomic_load(&e->pgt[i].stopped);
}

void senv_shutdown(struct senv *e)
{
	senv_stop_begin(e);
	for (int i = 0; i < SENV_NPG; i++) {
		if (!e->pgt[i].started)
			continue;
		assert_true(SENV_UNTIL(atomic_load(&e->pgt[i].exited)));
		pthread_join(e->pgt[i].thread, NULL);
		assert_true(atomic_load(&e->pgt[i].stopped));
		e->pgt[i].started = false;
	}
	e->init_rc = 0;
	senv_mgmt(e, mgmt_free_all, e);
	assert_int_equal(e->init_rc, 0);
	atomic_store(&e->mgmt_quit, true);
	pthread_join(e->mgmt, NULL);
	job_fini(&e->mjob);
	for (int i = 0; i < SENV_NPG; i++)
		job_fini(&e->pgt[i].job);
}

void senv_fini(struct senv *e)
{
	/* Nothing may stay held: the groups wait for their backend I/O before they stop. */
	for (unsigned int i = 0; i < SENV_MAX_NS; i++) {
		struct fault_backend *fb = e->be[i] ? fault_backend_of(e->be[i]) : NULL;

		if (fb != NULL) {
			assert_int_equal(fault_backend_set_rules(fb, NULL, NULL, 0), 0);
			fault_backend_release(fb);
		}
	}
	senv_shutdown(e);
}

/* ---- Backends and counters ------------------------------------------------------------------- */

struct fault_backend *senv_fb(struct senv *e, uint32_t nsid)
{
	assert_true(nsid >= 1 && nsid <= SENV_MAX_NS && e->be[nsid - 1] != NULL);
	return fault_backend_of(e->be[nsid - 1]);
}

void senv_rules(struct senv *e, uint32_t nsid, const char *rules)
{
	char err[256] = "";
	int rc = fault_backend_set_rules(senv_fb(e, nsid), rules, err, sizeof(err));

	if (rc != 0)
		fail_msg("rules '%s': %s", rules, err);
}

struct fault_stats senv_fstats(struct senv *e, uint32_t nsid)
{
	struct fault_stats st;

	fault_backend_get_stats(senv_fb(e, nsid), &st);
	return st;
}

struct nvmft_poll_group_stats senv_pg_stats(struct senv *e)
{
	struct nvmft_poll_group_stats sum = { .size = sizeof(sum) };

	for (int i = 0; i < SENV_NPG; i++) {
		struct nvmft_poll_group_stats st = { .size = sizeof(st) };

		assert_int_equal(nvmft_poll_group_get_stats(e->pgt[i].pg, &st), 0);
		sum.current_admin_qpairs += st.current_admin_qpairs;
		sum.current_io_qpairs += st.current_io_qpairs;
		sum.pending_bdev_io += st.pending_bdev_io;
		sum.reqs_completed += st.reqs_completed;
		sum.admin_qpairs += st.admin_qpairs;
		sum.io_qpairs += st.io_qpairs;
	}
	return sum;
}

/* On the group's thread: every pool chunk is free and nobody waits for one. */
static void probe_pools(void *arg, void *pgp)
{
	struct idle_probe *p = arg;
	struct nvmft_poll_group *pg = pgp;

	p->idle = TAILQ_EMPTY(&pg->qpairs) && TAILQ_EMPTY(&pg->reap_q);
	for (int i = 0; i < NVMFT_MAX_TRANSPORTS; i++) {
		const struct nvmft_pg_transport *pgt = &pg->tr[i];

		if (pgt->tr != NULL &&
		    (pgt->pool.nr_free != pgt->pool.nr_alloc || !TAILQ_EMPTY(&pgt->buf_waiters)))
			p->idle = false;
	}
}

static bool senv_is_idle(struct senv *e)
{
	struct nvmft_poll_group_stats st = senv_pg_stats(e);

	if (st.current_admin_qpairs != 0 || st.current_io_qpairs != 0 || st.pending_bdev_io != 0)
		return false;
	for (int i = 0; i < SENV_NPG; i++) {
		struct idle_probe p;

		senv_on_pg(e, i, probe_pools, &p);
		if (!p.idle)
			return false;
	}
	return true;
}

void senv_assert_idle(struct senv *e)
{
	struct nvmft_poll_group_stats st;

	SENV_UNTIL(senv_is_idle(e));
	st = senv_pg_stats(e);
	assert_int_equal(st.current_admin_qpairs, 0);
	assert_int_equal(st.current_io_qpairs, 0);
	assert_int_equal(st.pending_bdev_io, 0);
	assert_true(senv_is_idle(e));
}

/* ---- Hosts ----------------------------------------------------------------------------------- */

static struct th_cfg sh_cfg(const char *hostnqn)
{
	struct th_cfg cfg = {
		.timeout_ms = SENV_HOST_TIMEOUT_MS,
		.hostnqn = hostnqn,
		.subnqn = SENV_NQN,
	};

	return cfg;
}

int sh_connect(struct senv *e, const char *hostnqn, unsigned int nio, uint16_t depth,
	       struct shost *h)
{
	struct th_cfg cfg = sh_cfg(hostnqn);
	int rc;

	memset(h, 0, sizeof(*h));
	if (nio > SH_MAX_IO)
		return -EINVAL;
	rc = th_connect("127.0.0.1", e->port, &cfg, &h->admin);
	if (rc == 0)
		rc = th_admin_up(h->admin, 0, &h->cntlid);
	for (unsigned int i = 0; rc == 0 && i < nio; i++) {
		rc = th_connect("127.0.0.1", e->port, &cfg, &h->io[i]);
		if (rc != 0)
			break;
		h->nio++;
		rc = th_icreq(h->io[i], 0, 0, 0);
		if (rc == 0)
			rc = th_connect_io(h->io[i], (uint16_t)(i + 1), (uint16_t)(depth - 1),
					   h->cntlid);
	}
	if (rc != 0)
		sh_close(h);
	return rc;
}

void sh_close(struct shost *h)
{
	for (unsigned int i = 0; i < SH_MAX_IO; i++) {
		th_free(h->io[i]);
		h->io[i] = NULL;
	}
	th_free(h->admin);
	h->admin = NULL;
	h->nio = 0;
}

int sh_enable_ns_aen(struct th *admin)
{
	struct nvmft_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = nvme_admin_set_features;
	c.cdw10 = htole32(NVME_FEAT_FID_ASYNC_EVENT);
	c.cdw11 = htole32(NVME_FEAT_AE_NAN_MASK << NVME_FEAT_AE_NAN_SHIFT);
	return th_exec(admin, &c, NULL, NULL);
}

int sh_submit_aer(struct th *admin)
{
	struct nvmft_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = nvme_admin_async_event;
	return th_submit(admin, &c, NULL);
}

static int sh_list(struct th *admin, bool log, uint32_t *nsids, unsigned int max, unsigned int *n)
{
	uint32_t *buf = calloc(1, 4096);
	struct th_io io = { .rdata = buf, .rlen = 4096 };
	struct nvmft_cmd c;
	int st;

	if (buf == NULL)
		return -ENOMEM;
	memset(&c, 0, sizeof(c));
	if (log) {
		c.opcode = nvme_admin_get_log_page;
		c.nsid = htole32(NVME_NSID_ALL);
		/* NUMDL = 1023 dwords (4 KiB, 0's based), LID 04h, RAE clear. */
		c.cdw10 = htole32(1023u << 16 | NVME_LOG_LID_CHANGED_NS);
	} else {
		c = th_identify_cmd(NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0);
	}
	st = th_exec(admin, &c, &io, NULL);
	*n = 0;
	for (unsigned int i = 0; st == 0 && i < 1024 && buf[i] != 0 && *n < max; i++)
		nsids[(*n)++] = le32toh(buf[i]);
	free(buf);
	return st;
}

int sh_changed_ns(struct th *admin, uint32_t *nsids, unsigned int max, unsigned int *n)
{
	return sh_list(admin, true, nsids, max, n);
}

int sh_active_ns(struct th *admin, uint32_t *nsids, unsigned int max, unsigned int *n)
{
	return sh_list(admin, false, nsids, max, n);
}

bool sh_list_has(const uint32_t *list, unsigned int n, uint32_t nsid)
{
	for (unsigned int i = 0; i < n; i++)
		if (list[i] == nsid)
			return true;
	return false;
}

int sh_rw(struct th *q, bool write, uint32_t nsid, uint64_t lba, uint32_t nlb, void *buf)
{
	return th_rw(q, write, nsid, lba, nlb, buf, nlb * SENV_BLOCK, 0);
}

void sh_pattern(void *buf, uint64_t lba, uint32_t nlb, uint32_t gen)
{
	uint8_t *p = buf;

	for (uint32_t b = 0; b < nlb; b++) {
		uint64_t x = (lba + b) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)gen << 32 | gen);

		for (uint32_t i = 0; i < SENV_BLOCK; i += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(p + (size_t)b * SENV_BLOCK + i, &x, 8);
		}
	}
}
