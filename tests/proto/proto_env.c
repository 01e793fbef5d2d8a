/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ctrlr.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/transport.h"
#include "proto_env.h"

/* Rounds to wait for a management callback. */
#define PENV_SPIN 100000

int penv_pump(void *arg)
{
	struct penv *e = arg;
	int work = 0, rc;

	rc = nvmft_target_poll(e->tgt);
	if (rc > 0)
		work += rc;
	rc = nvmft_poll_group_poll(e->pg, 0);
	if (rc > 0)
		work += rc;
	return work;
}

static void done_cb(void *arg, int status)
{
	*(int *)arg = status;
}

static struct th_cfg penv_cfg(struct penv *e, const char *hostnqn)
{
	struct th_cfg cfg = {
		.pump = penv_pump,
		.pump_arg = e,
		.hostnqn = hostnqn,
		.subnqn = PENV_SUBNQN,
	};

	return cfg;
}

static void penv_track(struct penv *e, struct th *h)
{
	assert_true(e->nhosts < PENV_MAX_HOSTS);
	e->hosts[e->nhosts++] = h;
}

static struct th *penv_pair_as(struct penv *e, int target_sndbuf, const char *hostnqn)
{
	struct th_cfg cfg = penv_cfg(e, hostnqn);
	struct th *h = NULL;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	if (target_sndbuf > 0)
		assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &target_sndbuf,
					    sizeof(target_sndbuf)), 0);
	assert_int_equal(nvmft_tcp_adopt_fd(e->l, sv[1]), 0);
	assert_int_equal(th_adopt(sv[0], &cfg, &h), 0);
	penv_track(e, h);
	return h;
}

static struct th *penv_tcp_as(struct penv *e, int rcvbuf, const char *hostnqn)
{
	struct th_cfg cfg = penv_cfg(e, hostnqn);
	struct th *h = NULL;

	cfg.rcvbuf = rcvbuf;
	assert_int_equal(th_connect("127.0.0.1", e->port, &cfg, &h), 0);
	penv_track(e, h);
	return h;
}

struct th *penv_host_pair(struct penv *e, int target_sndbuf)
{
	return penv_pair_as(e, target_sndbuf, NULL);
}

struct th *penv_host_tcp(struct penv *e, int rcvbuf)
{
	return penv_tcp_as(e, rcvbuf, NULL);
}

struct th *penv_host_addr(struct penv *e, const char *addr, const char *port)
{
	struct th_cfg cfg = penv_cfg(e, NULL);
	struct th *h = NULL;

	assert_int_equal(th_connect(addr, port, &cfg, &h), 0);
	penv_track(e, h);
	return h;
}

struct th *penv_host(struct penv *e)
{
	return e->tcp ? penv_host_tcp(e, 0) : penv_host_pair(e, 0);
}

void penv_drop(struct penv *e, struct th *h)
{
	for (int i = 0; i < e->nhosts; i++) {
		if (e->hosts[i] != h)
			continue;
		th_free(h);
		e->hosts[i] = e->hosts[--e->nhosts];
		return;
	}
	fail_msg("host %p is not tracked", (void *)h);
}

void penv_drop_all(struct penv *e)
{
	for (int i = e->nhosts; i-- > 0;)
		if (e->hosts[i] != e->other_admin && e->hosts[i] != e->other_io)
			penv_drop(e, e->hosts[i]);
}

struct th *penv_admin(struct penv *e, uint8_t dgst, uint16_t *cntlid)
{
	struct th *h = penv_host(e);

	assert_int_equal(th_admin_up(h, dgst, cntlid), 0);
	return h;
}

struct th *penv_io(struct penv *e, uint8_t dgst, uint8_t hpda, uint32_t maxr2t, uint16_t sqsize,
		   uint8_t cattr)
{
	struct th_connect_args a = { .qid = 1, .sqsize = sqsize, .cattr = cattr };
	struct th *h;

	penv_admin(e, dgst, &a.cntlid);
	h = penv_host(e);
	assert_int_equal(th_icreq(h, hpda, dgst, maxr2t), 0);
	assert_int_equal(th_connect_raw(h, &a, NULL), 0);
	return h;
}

struct th *penv_io_default(struct penv *e)
{
	return penv_io(e, 0, 0, 0, 127, 0);
}

/* One round of the other host: new data on its blocks (in-capsule and through R2T), read back. */
static void penv_other_round(struct penv *e)
{
	enum { LEN = 16 * 1024, ICD = 4096 };
	uint8_t *w = malloc(LEN), *r = calloc(1, LEN);
	uint32_t n = ++e->other_round;
	uint64_t lba = PENV_OTHER_LBA + (n % 4) * (LEN / PENV_BLOCK);

	assert_non_null(w);
	assert_non_null(r);
	th_fill(w, LEN, 0x07e40000u + n);
	TH_ASSERT_HEALTHY(e->other_admin);
	TH_ASSERT_ST(e->other_io, th_rw(e->other_io, true, 1, lba, ICD / PENV_BLOCK, w, ICD,
					TH_IO_INCAPSULE), 0);
	TH_ASSERT_ST(e->other_io, th_rw(e->other_io, true, 1, lba + ICD / PENV_BLOCK,
					(LEN - ICD) / PENV_BLOCK, w + ICD, LEN - ICD, 0), 0);
	TH_ASSERT_ST(e->other_io, th_rw(e->other_io, false, 1, lba, LEN / PENV_BLOCK, r, LEN, 0),
		     0);
	assert_memory_equal(r, w, LEN);
	TH_ASSERT_HEALTHY(e->other_io);
	assert_int_equal(th_violations(e->other_admin), 0);
	assert_int_equal(th_violations(e->other_io), 0);
	free(w);
	free(r);
}

void penv_check_other(struct penv *e)
{
	penv_other_round(e);
}

void penv_init(struct penv *e, const struct penv_opts *o)
{
	static const struct penv_opts dflt;
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV4,
					.traddr = "127.0.0.1", .trsvcid = "0" };
	struct nvmft_subsystem_opts so;
	struct nvmft_ns *ns = NULL;
	struct th_connect_args a = { .qid = 1, .sqsize = 127, .hostnqn = PENV_OTHER_HOSTNQN };
	int added = 1;

	if (o == NULL)
		o = &dflt;
	memset(e, 0, sizeof(*e));
	e->tcp = o->tcp;
	assert_int_equal(nvmft_target_new(NULL, &e->tgt), 0);
	assert_int_equal(nvmft_poll_group_new(e->tgt, NULL, &e->pg), 0);
	assert_int_equal(nvmft_transport_new(e->tgt, NVMFT_TRTYPE_TCP, o->tr, &e->tr), 0);
	assert_int_equal(nvmft_listener_new(e->tr, &lo, &e->l), 0);
	snprintf(e->port, sizeof(e->port), "%s", nvmft_listener_get_trsvcid(e->l));

	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = PENV_SUBNQN;
	so.allow_any_host = !o->deny_any_host;
	assert_int_equal(nvmft_subsystem_new(e->tgt, &so, &e->ss), 0);
	assert_int_equal(nvmft_subsystem_add_listener(e->ss, e->l), 0);
	if (o->deny_any_host) {
		assert_int_equal(nvmft_subsystem_add_host(e->ss, PENV_OTHER_HOSTNQN), 0);
		if (!o->no_host_allowed)
			assert_int_equal(nvmft_subsystem_add_host(e->ss, TH_HOSTNQN), 0);
	}
	so.nqn = PENV_SUBNQN2;
	so.allow_any_host = true;
	assert_int_equal(nvmft_subsystem_new(e->tgt, &so, &e->ss2), 0);
	assert_int_equal(nvmft_subsystem_add_listener(e->ss2, e->l), 0);

	assert_int_equal(tb_new("proto", PENV_BLOCKS, PENV_BLOCK, 0, TB_INLINE, &e->tb, &e->be), 0);
	assert_int_equal(nvmft_ns_add(e->ss, e->be, NULL, done_cb, &added, &ns), 0);
	for (int i = 0; i < PENV_SPIN && added == 1; i++)
		penv_pump(e);
	assert_int_equal(added, 0);

	/* The other host: both digests, its own controller. */
	if (e->tcp)
		e->other_admin = penv_tcp_as(e, 0, PENV_OTHER_HOSTNQN);
	else
		e->other_admin = penv_pair_as(e, 0, PENV_OTHER_HOSTNQN);
	assert_int_equal(th_admin_up(e->other_admin, 3, &a.cntlid), 0);
	if (e->tcp)
		e->other_io = penv_tcp_as(e, 0, PENV_OTHER_HOSTNQN);
	else
		e->other_io = penv_pair_as(e, 0, PENV_OTHER_HOSTNQN);
	assert_int_equal(th_icreq(e->other_io, 0, 3, 0), 0);
	assert_int_equal(th_connect_raw(e->other_io, &a, NULL), 0);
	penv_other_round(e);
}

static void stopped_cb(void *arg, int status)
{
	(void)status;
	*(bool *)arg = true;
}

void penv_fini(struct penv *e)
{
	bool stopped = false;

	for (int i = 0; i < e->nhosts; i++)
		th_free(e->hosts[i]);
	e->nhosts = 0;
	if (e->tgt == NULL)
		return;
	/* Anything a scenario left in the backend must come back before the group stops. */
	tb_hold(e->tb, false);
	tb_release(e->tb);
	nvmft_poll_group_stop(e->pg, stopped_cb, &stopped);
	for (int i = 0; i < PENV_SPIN && !stopped; i++)
		penv_pump(e);
	assert_true(stopped);
	assert_int_equal(nvmft_poll_group_free(e->pg), 0);
	nvmft_target_poll(e->tgt);
	nvmft_target_free(e->tgt);
	nvmft_backend_free(e->be);
	memset(e, 0, sizeof(*e));
}

void penv_reinit(struct penv *e, const struct penv_opts *o)
{
	penv_check_other(e);
	penv_fini(e);
	penv_init(e, o);
}

int penv_setup(void **state)
{
	struct penv *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return -1;
	penv_init(e, NULL);
	*state = e;
	return 0;
}

int penv_teardown(void **state)
{
	struct penv *e = *state;
	unsigned int left = tb_held(e->tb);

	/* A scenario that stopped half-way may have left commands in the backend. */
	tb_hold(e->tb, false);
	tb_release(e->tb);
	penv_check_other(e);
	penv_fini(e);
	free(e);
	assert_int_equal(left, 0);
	return 0;
}

/* ---- Counters ------------------------------------------------------------------------------- */

struct nvmft_poll_group_stats penv_stats(struct penv *e)
{
	struct nvmft_poll_group_stats st = { .size = sizeof(st) };

	assert_int_equal(nvmft_poll_group_get_stats(e->pg, &st), 0);
	return st;
}

bool penv_pool_idle(struct penv *e)
{
	const struct nvmft_buf_pool *pool = &e->pg->tr[e->tr->index].pool;

	return pool->nr_free == pool->nr_alloc && TAILQ_EMPTY(&e->pg->tr[e->tr->index].buf_waiters);
}

void penv_count(struct penv *e, struct penv_idle *now)
{
	struct nvmft_poll_group_stats st = penv_stats(e);

	now->admin_qpairs = st.current_admin_qpairs;
	now->io_qpairs = st.current_io_qpairs;
	now->connections = atomic_load(&e->tr->num_connections);
}

static bool penv_is_idle(struct penv *e, const struct penv_idle *want)
{
	struct nvmft_poll_group_stats st = penv_stats(e);

	return st.current_admin_qpairs == want->admin_qpairs &&
	       st.current_io_qpairs == want->io_qpairs && st.pending_bdev_io == 0 &&
	       atomic_load(&e->tr->num_connections) == want->connections && penv_pool_idle(e);
}

void penv_assert_idle(struct penv *e, const struct penv_idle *want)
{
	struct nvmft_poll_group_stats st;

	PENV_POLL_UNTIL(e, penv_is_idle(e, want));
	st = penv_stats(e);
	assert_int_equal(st.current_admin_qpairs, want->admin_qpairs);
	assert_int_equal(st.current_io_qpairs, want->io_qpairs);
	assert_int_equal(st.pending_bdev_io, 0);
	assert_int_equal(atomic_load(&e->tr->num_connections), want->connections);
	assert_true(penv_pool_idle(e));
	/* The pool's memory is what it allocated: every chunk is back, none in use. */
	assert_int_equal(st.buf_bytes, nvmft_buf_pool_bytes(&e->pg->tr[e->tr->index].pool));
}

struct tcp_conn *penv_conn(struct penv *e, uint16_t cntlid, uint16_t qid)
{
	struct nvmft_qpair *qp;

	TAILQ_FOREACH(qp, &e->pg->qpairs, link)
		if (qp->qid == qid && qp->ctrlr != NULL && qp->ctrlr->cntlid == cntlid &&
		    qp->tr == e->tr)
			return tcp_conn_of(qp);
	return NULL;
}
