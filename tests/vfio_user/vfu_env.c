/* SPDX-License-Identifier: BSD-3-Clause */
/* The in-process target of the vfio-user scenario tests (vfu_env.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "core/transport.h"
#include "test_util.h"
#include "vfu_env.h"

void ve_pump(void *arg)
{
	struct ve *e = arg;

	nvmft_target_poll(e->tgt);
	nvmft_poll_group_poll(e->pg, 0);
}

void ve_pump_n(struct ve *e, int n)
{
	for (int i = 0; i < n; i++)
		ve_pump(e);
}

static uint64_t ve_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void ve_pump_ms(struct ve *e, int ms)
{
	uint64_t end = ve_now_ms() + (uint64_t)ms;

	while (ve_now_ms() < end)
		ve_pump(e);
}

bool ve_wait_ctrlrs(struct ve *e, int n)
{
	uint64_t end = ve_now_ms() + 5000;

	while (ve_ctrlrs(e) != n) {
		if (ve_now_ms() > end)
			return false;
		ve_pump(e);
	}
	return true;
}

static void ve_done(void *arg, int status)
{
	*(int *)arg = status;
}

void ve_init(struct ve *e, const struct nvmft_transport_opts *topts)
{
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_INTRA_HOST };
	struct nvmft_transport_opts o;
	struct nvmft_subsystem_opts so;
	struct nvmft_ns *ns;
	int added = 1;

	memset(e, 0, sizeof(*e));
	e->dir = tu_mkdtemp();
	assert_non_null(e->dir);
	snprintf(e->sock, sizeof(e->sock), "%s/cntrl", e->dir);
	assert_int_equal(nvmft_target_new(NULL, &e->tgt), 0);
	assert_int_equal(nvmft_poll_group_new(e->tgt, NULL, &e->pg), 0);
	assert_int_equal(nvmft_transport_new(e->tgt, NVMFT_TRTYPE_VFIOUSER, topts, &e->tr), 0);
	nvmft_transport_get_opts(e->tr, &o, sizeof(o));
	e->max_qpairs = o.max_qpairs_per_ctrlr;
	lo.traddr = e->dir;
	assert_int_equal(nvmft_listener_new(e->tr, &lo, &e->l), 0);
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = VE_NQN;
	so.allow_any_host = true;
	assert_int_equal(nvmft_subsystem_new(e->tgt, &so, &e->ss), 0);
	assert_int_equal(nvmft_subsystem_add_listener(e->ss, e->l), 0);
	assert_int_equal(tb_new("vfu-tb", VE_BLOCKS, VE_BS, 0, TB_INLINE, &e->tb, &e->be), 0);
	assert_int_equal(nvmft_ns_add(e->ss, e->be, NULL, ve_done, &added, &ns), 0);
	for (int i = 0; i < 1000 && added == 1; i++)
		ve_pump(e);
	assert_int_equal(added, 0);
}

void ve_fini(struct ve *e)
{
	int stopped = 1;

	assert_int_equal(nvmft_poll_group_stop(e->pg, ve_done, &stopped), 0);
	for (int i = 0; i < 10000 && stopped == 1; i++)
		ve_pump(e);
	assert_int_equal(stopped, 0);
	/* Every connection, and every I/O queue the clients made, is gone. */
	assert_int_equal(ve_connections(e), 0);
	assert_int_equal(nvmft_poll_group_free(e->pg), 0);
	nvmft_target_poll(e->tgt);
	nvmft_target_free(e->tgt);
	assert_int_equal(nvmft_backend_free(e->be), 0);
	tu_rmtree(e->dir);
	free(e->dir);
}

uint32_t ve_connections(const struct ve *e)
{
	return atomic_load(&e->tr->num_connections);
}

int ve_ctrlrs(struct ve *e)
{
	return tu_ctrlr_count(e->ss);
}

struct vfuc *ve_client(struct ve *e, const char *json)
{
	struct vfuc_opts o = { .pump = ve_pump, .pump_arg = e, .timeout_ms = 5000 };
	struct vfuc *c = NULL;

	assert_int_equal(vfuc_connect(e->sock, &o, &c), 0);
	assert_int_equal(vfuc_version(c, json), 0);
	return c;
}

struct vfuc *ve_client_mem(struct ve *e)
{
	struct vfuc *c = ve_client(e, "{\"capabilities\":{\"max_msg_fds\":8}}");

	assert_int_equal(vfuc_mem_add(c, VE_MEM_IOVA, VE_MEM_SIZE), 0);
	assert_int_equal(vfuc_setup_bar0(c), 0);
	return c;
}

struct vfuc *ve_client_nvme(struct ve *e)
{
	struct vfuc *c = ve_client_mem(e);

	assert_int_equal(vfuc_nvme_enable(c, 32), 0);
	assert_int_equal(vfuc_set_num_queues(c, 4, 4), 0);
	return c;
}

struct vfuc *ve_client_io(struct ve *e, struct vfuc_q *q, uint16_t entries)
{
	struct vfuc *c = ve_client_nvme(e);

	assert_int_equal(vfuc_nvme_qpair(c, 1, entries, false, 0, q), 0);
	return c;
}
