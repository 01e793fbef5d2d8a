/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transports and listeners: option defaults and validation, the per-target
 * transport table, per-group transport state, listener creation, lookup,
 * PORTIDs, and destruction with connections (including I/O in flight).
 * And the hooks the next transports need, through fakes: controllers
 * without Connect, BAR0 and queues made by admin commands (vfio-user), and
 * a buffer pool registered chunk by chunk (RDMA).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ctrlr.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/target.h"
#include "core/transport.h"
#include "loop_transport.h"
#include "test_backend.h"
#include "util/compiler.h"
#include "test_util.h"

#define NQN "nqn.2024-01.io.example:tr"
#define BAD_TR ((struct nvmft_transport *)(uintptr_t)0x5a5a5a5a)
#define BAD_L ((struct nvmft_listener *)(uintptr_t)0x5a5a5a5a)

/* ---- A transport that carries nothing, to exercise the generic code ------------------------- */

struct fake_counts {
	int creates, destroys, pg_creates, pg_destroys, listens, stop_listens;
};

static struct fake_counts fc;
static int fake_create_rc;
static int fake_listen_rc;

static int fake_create(struct nvmft_transport *tr)
{
	(void)tr;
	if (fake_create_rc != 0)
		return fake_create_rc;
	fc.creates++;
	return 0;
}

static void fake_destroy(struct nvmft_transport *tr)
{
	(void)tr;
	fc.destroys++;
}

static int fake_listen(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	(void)tr;
	if (fake_listen_rc != 0)
		return fake_listen_rc;
	fc.listens++;
	l->fd = -1;
	return 0;
}

static void fake_stop_listen(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	(void)tr;
	(void)l;
	fc.stop_listens++;
}

static int fake_accept(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	(void)tr;
	(void)l;
	return 0;
}

static int fake_pg_create(struct nvmft_transport *tr, struct nvmft_poll_group *pg, void **tpg)
{
	(void)tr;
	*tpg = pg;
	fc.pg_creates++;
	return 0;
}

static void fake_pg_destroy(void *tpg)
{
	(void)tpg;
	fc.pg_destroys++;
}

static int fake_pg_poll(void *tpg, unsigned int budget)
{
	(void)tpg;
	(void)budget;
	return 0;
}

#define FAKE_OPS(n, t)                                          \
	static const struct nvmft_transport_ops n = {           \
		.type = (enum nvmft_trtype)(t),                 \
		.name = #n,                                     \
		.create = fake_create,                          \
		.destroy = fake_destroy,                        \
		.listen = fake_listen,                          \
		.stop_listen = fake_stop_listen,                \
		.accept = fake_accept,                          \
		.pg_create = fake_pg_create,                    \
		.pg_destroy = fake_pg_destroy,                  \
		.pg_poll = fake_pg_poll,                        \
	}

FAKE_OPS(fake_a, 240);
FAKE_OPS(fake_b, 241);
FAKE_OPS(fake_c, 242);
FAKE_OPS(fake_d, 243);
FAKE_OPS(fake_e, 244);

static void generic_defaults(struct nvmft_transport_opts *o)
{
	nvmft_transport_opts_init((enum nvmft_trtype)254, o, sizeof(*o));
}

static int try_opts(const struct nvmft_transport_opts *o)
{
	struct nvmft_target *tgt;
	struct nvmft_transport *tr = BAD_TR;
	int rc;

	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	rc = nvmft_transport_new_ops(tgt, &fake_a, o, &tr);
	if (rc < 0) {
		assert_ptr_equal(tr, BAD_TR);
		assert_null(nvmft_transport_get_first(tgt));
	} else {
		assert_ptr_equal(nvmft_transport_get_first(tgt), tr);
	}
	nvmft_target_free(tgt);
	return rc;
}

/* ---- Options ------------------------------------------------------------------------------- */

static void test_opts_init(void **state)
{
	struct nvmft_transport_opts o, sentinel;
	size_t part = offsetof(struct nvmft_transport_opts, max_qpairs_per_ctrlr);
	int tcp_rc = nvmft_transport_ops_find(NVMFT_TRTYPE_TCP) != NULL ? 0 : -EPROTONOSUPPORT;
	int rdma_rc = nvmft_transport_ops_find(NVMFT_TRTYPE_RDMA) != NULL ? 0 : -EPROTONOSUPPORT;

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(nvmft_transport_opts_init((enum nvmft_trtype)254, &o, sizeof(o)),
			 -EPROTONOSUPPORT);
	/* Not built in, yet filled with the generic defaults. */
	assert_int_equal(o.size, sizeof(o));
	assert_int_equal(o.max_queue_depth, 128);
	assert_int_equal(o.max_aq_depth, 128);
	assert_int_equal(o.max_qpairs_per_ctrlr, 128);
	assert_int_equal(o.in_capsule_data_size, 4096);
	assert_int_equal(o.max_io_size, 131072);
	assert_int_equal(o.buf_pool_bytes, 32ull << 20);
	assert_int_equal(o.digests, NVMFT_DIGEST_HEADER | NVMFT_DIGEST_DATA);
	assert_true(o.c2h_success);
	assert_int_equal(o.max_h2c_data, 131072);
	assert_int_equal(o.max_connections, 4096);
	assert_int_equal(nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o)), tcp_rc);
	assert_int_equal(nvmft_transport_opts_init(NVMFT_TRTYPE_RDMA, &o, sizeof(o)), rdma_rc);

	memset(&o, 0xa5, sizeof(o));
	memset(&sentinel, 0xa5, sizeof(sentinel));
	nvmft_transport_opts_init((enum nvmft_trtype)254, &o, part);
	assert_int_equal(o.size, part);
	assert_int_equal(o.max_queue_depth, 128);
	assert_memory_equal((uint8_t *)&o + part, (uint8_t *)&sentinel + part, sizeof(o) - part);
	memset(&o, 0xa5, sizeof(o));
	assert_int_equal(nvmft_transport_opts_init((enum nvmft_trtype)254, &o, 4), -EINVAL);
	assert_memory_equal(&o, &sentinel, sizeof(o));
	assert_int_equal(nvmft_transport_opts_init((enum nvmft_trtype)254, NULL, sizeof(o)),
			 -EINVAL);
}

static void test_opts_validation(void **state)
{
	struct nvmft_transport_opts o;

	(void)state;
#define CHECK(rc, stmt)                                 \
	do {                                            \
		generic_defaults(&o);                   \
		stmt;                                   \
		assert_int_equal(try_opts(&o), rc);     \
	} while (0)
	CHECK(0, (void)0);
	CHECK(-EINVAL, o.max_queue_depth = 1);
	CHECK(0, o.max_queue_depth = 2);
	CHECK(0, o.max_queue_depth = 65536);
	CHECK(-EINVAL, o.max_queue_depth = 65537);
	CHECK(-EINVAL, o.max_aq_depth = 31);
	CHECK(0, o.max_aq_depth = 32);
	CHECK(0, o.max_aq_depth = 4096);
	CHECK(-EINVAL, o.max_aq_depth = 4097);
	CHECK(-EINVAL, o.max_qpairs_per_ctrlr = 1);
	CHECK(0, o.max_qpairs_per_ctrlr = 2);
	CHECK(0, o.max_qpairs_per_ctrlr = 65535);
	CHECK(-EINVAL, o.max_qpairs_per_ctrlr = 65536);
	CHECK(0, o.in_capsule_data_size = 0);
	CHECK(0, o.in_capsule_data_size = 65536);
	CHECK(-EINVAL, o.in_capsule_data_size = 65537);
	CHECK(-EINVAL, o.max_io_size = 0);
	CHECK(-EINVAL, o.max_io_size = 2048);
	CHECK(-EINVAL, o.max_io_size = 12288);
	CHECK(0, o.max_io_size = 4096);
	CHECK(0, (o.max_io_size = 8u << 20, o.buf_pool_bytes = 8u << 20));
	CHECK(-EINVAL, (o.max_io_size = 16u << 20, o.buf_pool_bytes = 16u << 20));
	CHECK(-EINVAL, o.buf_pool_bytes = o.max_io_size - 1);
	CHECK(0, o.buf_pool_bytes = o.max_io_size);
	CHECK(-EINVAL, o.max_h2c_data = 4095);
	CHECK(0, o.max_h2c_data = 4096);
	CHECK(-EINVAL, o.max_connections = 0);
	CHECK(0, o.max_connections = 1);
	CHECK(-EINVAL, o.size = sizeof(size_t) - 1);
	/* A smaller (older) struct takes defaults for the rest. */
	CHECK(0,
	      (o.size = offsetof(struct nvmft_transport_opts, max_aq_depth), o.max_aq_depth = 1));
#undef CHECK
	assert_int_equal(try_opts(NULL), 0);
}

/* ---- The transport table --------------------------------------------------------------------- */

static void test_transport_table(void **state)
{
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg, *late;
	struct nvmft_transport *a, *b, *c, *d, *x = BAD_TR;
	struct nvmft_transport_opts o;

	(void)state;
	memset(&fc, 0, sizeof(fc));
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &pg), 0);
	assert_null(nvmft_transport_get_first(tgt));
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_a, NULL, &a), 0);
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_a, NULL, &x), -EEXIST);
	assert_ptr_equal(x, BAD_TR);
	fake_create_rc = -EIO;
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_b, NULL, &x), -EIO);
	fake_create_rc = 0;
	assert_ptr_equal(x, BAD_TR);
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_b, NULL, &b), 0);
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_c, NULL, &c), 0);
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_d, NULL, &d), 0);
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_e, NULL, &x), -ENOSPC);
	assert_ptr_equal(x, BAD_TR);
	assert_int_equal(fc.creates, 4);

	assert_ptr_equal(nvmft_transport_get_first(tgt), a);
	assert_ptr_equal(nvmft_transport_get_next(a), b);
	assert_ptr_equal(nvmft_transport_get_next(b), c);
	assert_ptr_equal(nvmft_transport_get_next(c), d);
	assert_null(nvmft_transport_get_next(d));
	assert_null(nvmft_transport_get_next(NULL));
	assert_null(nvmft_transport_get_first(NULL));
	assert_ptr_equal(nvmft_transport_find(tgt, (enum nvmft_trtype)242), c);
	assert_null(nvmft_transport_find(tgt, (enum nvmft_trtype)244));
	assert_null(nvmft_transport_find(NULL, (enum nvmft_trtype)242));
	assert_int_equal(nvmft_transport_get_type(b), 241);

	/* The running group gets its per-transport state on its own thread. */
	assert_int_equal(fc.pg_creates, 0);
	assert_true(nvmft_poll_group_poll(pg, 0) >= 4);
	assert_int_equal(fc.pg_creates, 4);
	for (int i = 0; i < 4; i++)
		assert_non_null(pg->tr[i].tr);
	/* A group created now gets it at once. */
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &late), 0);
	assert_int_equal(fc.pg_creates, 8);
	assert_ptr_equal(late->tr[a->index].tr, a);

	nvmft_transport_get_opts(b, &o, sizeof(o));
	assert_int_equal(o.size, sizeof(o));
	assert_int_equal(o.max_io_size, 131072);
	memset(&o, 0xa5, sizeof(o));
	nvmft_transport_get_opts(b, &o, offsetof(struct nvmft_transport_opts, max_aq_depth));
	assert_int_equal(o.max_queue_depth, 128);
	assert_int_equal(o.max_aq_depth, 0xa5a5a5a5);
	nvmft_transport_get_opts(NULL, &o, sizeof(o));
	nvmft_transport_get_opts(b, NULL, sizeof(o));

	assert_int_equal(nvmft_transport_new(tgt, (enum nvmft_trtype)999, NULL, &x),
			 -EPROTONOSUPPORT);
	assert_int_equal(nvmft_transport_new(NULL, NVMFT_TRTYPE_TCP, NULL, &x), -EINVAL);
	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_TCP, NULL, NULL), -EINVAL);
	assert_ptr_equal(x, BAD_TR);

	assert_int_equal(nvmft_poll_group_free(pg), 0);
	assert_int_equal(nvmft_poll_group_free(late), 0);
	assert_int_equal(fc.pg_destroys, 8);
	nvmft_target_free(tgt);
	assert_int_equal(fc.destroys, 4);
}

static void test_trtype_names(void **state)
{
	(void)state;
	assert_string_equal(nvmft_trtype_name(NVMFT_TRTYPE_TCP), "TCP");
	assert_string_equal(nvmft_trtype_name(NVMFT_TRTYPE_RDMA), "RDMA");
	assert_string_equal(nvmft_trtype_name(NVMFT_TRTYPE_VFIOUSER), "VFIOUSER");
	assert_string_equal(nvmft_trtype_name((enum nvmft_trtype)2), "unknown");
	assert_string_equal(nvmft_trtype_name((enum nvmft_trtype)254), "unknown");
}

/* ---- Listeners ------------------------------------------------------------------------------- */

static int new_listener(struct nvmft_transport *tr, const char *addr, const char *port,
			struct nvmft_listener **l)
{
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV4,
					.traddr = addr, .trsvcid = port };

	*l = BAD_L;
	return nvmft_listener_new(tr, &lo, l);
}

static void test_listener_new_and_lookup(void **state)
{
	struct nvmft_target *tgt;
	struct nvmft_transport *tr;
	struct nvmft_listener *l1, *l2, *l3, *x;
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .traddr = "10.0.0.1",
					.trsvcid = "4420" };
	char longaddr[300], longport[40];
	uint64_t gen;
	uint16_t port1, port2;

	(void)state;
	memset(&fc, 0, sizeof(fc));
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_a, NULL, &tr), 0);
	gen = atomic_load(&tgt->discovery_genctr);
	assert_int_equal(new_listener(tr, "10.0.0.1", "4420", &l1), 0);
	assert_int_equal(atomic_load(&tgt->discovery_genctr), gen + 1);
	assert_int_equal(new_listener(tr, "10.0.0.1", "4421", &l2), 0);
	assert_int_equal(new_listener(tr, "10.0.0.1", "4420", &x), -EEXIST);
	assert_ptr_equal(x, BAD_L);
	assert_int_equal(fc.listens, 2);

	memset(longaddr, '1', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	assert_int_equal(new_listener(tr, longaddr, "1", &x), -EINVAL);
	memset(longport, '1', sizeof(longport) - 1);
	longport[sizeof(longport) - 1] = '\0';
	assert_int_equal(new_listener(tr, "10.0.0.2", longport, &x), -EINVAL);
	assert_int_equal(new_listener(tr, NULL, "1", &x), -EINVAL);
	assert_int_equal(new_listener(NULL, "10.0.0.2", "1", &x), -EINVAL);
	assert_ptr_equal(x, BAD_L);
	assert_int_equal(nvmft_listener_new(tr, NULL, &x), -EINVAL);
	assert_int_equal(nvmft_listener_new(tr, &lo, NULL), -EINVAL);
	lo.size = 3;
	assert_int_equal(nvmft_listener_new(tr, &lo, &x), -EINVAL);
	fake_listen_rc = -EADDRINUSE;
	assert_int_equal(new_listener(tr, "10.0.0.3", "1", &x), -EADDRINUSE);
	fake_listen_rc = 0;
	assert_ptr_equal(x, BAD_L);
	assert_int_equal(atomic_load(&tgt->discovery_genctr), gen + 2);

	assert_ptr_equal(nvmft_listener_get_first(tr), l1);
	assert_ptr_equal(nvmft_listener_get_next(l1), l2);
	assert_null(nvmft_listener_get_next(l2));
	assert_null(nvmft_listener_get_first(NULL));
	assert_null(nvmft_listener_get_next(NULL));
	assert_ptr_equal(nvmft_listener_find(tr, "10.0.0.1", "4421"), l2);
	assert_null(nvmft_listener_find(tr, "10.0.0.1", "4422"));
	assert_null(nvmft_listener_find(tr, NULL, "4421"));
	assert_null(nvmft_listener_find(NULL, "10.0.0.1", "4421"));
	assert_ptr_equal(nvmft_listener_get_transport(l1), tr);
	assert_int_equal(nvmft_listener_get_adrfam(l1), NVMFT_ADRFAM_IPV4);
	assert_string_equal(nvmft_listener_get_traddr(l1), "10.0.0.1");
	assert_string_equal(nvmft_listener_get_trsvcid(l2), "4421");

	/* PORTIDs are unique and never reused while the target runs. */
	port1 = l1->portid;
	port2 = l2->portid;
	assert_int_not_equal(port1, port2);
	nvmft_listener_destroy(l2, NULL, NULL);
	assert_int_equal(fc.stop_listens, 1);
	assert_int_equal(atomic_load(&tgt->discovery_genctr), gen + 3);
	assert_null(nvmft_listener_find(tr, "10.0.0.1", "4421"));
	assert_int_equal(new_listener(tr, "10.0.0.1", "4421", &l3), 0);
	assert_int_not_equal(l3->portid, port1);
	assert_int_not_equal(l3->portid, port2);
	nvmft_listener_destroy(NULL, NULL, NULL);
	nvmft_target_poll(tgt);
	nvmft_target_free(tgt);
	assert_int_equal(fc.stop_listens, 3);
}

struct cb_wait {
	bool done;
	int status;
	int calls;
};

static void cb_done(void *arg, int status)
{
	struct cb_wait *w = arg;

	w->done = true;
	w->status = status;
	w->calls++;
}

static struct lt_qpair *admin_via(struct lt_env *env, struct nvmft_listener *l, uint16_t *cntlid)
{
	struct lt_qpair *q = lt_qpair_new_on(env, -1, l, true);
	struct lt_cpl r = lt_connect_raw(q, 0, 31, 0, NVMFT_CNTLID_DYNAMIC, NQN, LT_HOSTNQN);

	if (!r.done || r.status != 0)
		return NULL;
	if (cntlid)
		*cntlid = le16toh(r.cpl.connect.cntlid);
	r = lt_prop_set(q, NVME_REG_CC, 1u | 6u << 16 | 4u << 20);
	return r.status == 0 ? q : NULL;
}

static void test_listener_destroy_drops_its_connections(void **state)
{
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_INTRA_HOST,
					.traddr = "loop", .trsvcid = "2" };
	struct lt_env env;
	struct nvmft_listener *l2;
	struct lt_qpair *q1, *q2, *io2, *disc;
	struct cb_wait w = { 0 };
	struct nvmft_backend *be;
	struct tb *tb;
	uint16_t c2;
	uint8_t buf[512] = { 0x2b };
	int tag;

	(void)state;
	assert_int_equal(lt_env_init(&env, NULL), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	assert_int_equal(tb_new("tr-held", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	assert_non_null(lt_env_add_ns(&env, env.ss, be, 1));
	assert_int_equal(nvmft_listener_new(env.tr, &lo, &l2), 0);
	assert_int_equal(nvmft_subsystem_add_listener(env.ss, l2), 0);
	q1 = admin_via(&env, env.listener, NULL);
	q2 = admin_via(&env, l2, &c2);
	assert_non_null(q1);
	assert_non_null(q2);
	io2 = lt_qpair_new_on(&env, -1, l2, true);
	assert_int_equal(lt_connect_raw(io2, 1, 31, 0, c2, NQN, LT_HOSTNQN).status, 0);
	/* Discovery is reachable through every listener. */
	disc = lt_qpair_new_on(&env, -1, l2, true);
	assert_int_equal(lt_connect_raw(disc, 0, 31, 0, 0xffff, NVMFT_DISCOVERY_NQN,
					LT_HOSTNQN).status, 0);
	tb_hold(tb, true);
	tag = lt_submit(io2, &(struct nvmft_cmd){ .opcode = nvme_cmd_write, .nsid = htole32(1) },
			buf, 512);
	assert_true(tag >= 0);
	lt_env_settle(&env);
	assert_int_equal(tb_held(tb), 1);

	nvmft_listener_destroy(l2, cb_done, &w);
	assert_false(w.done);
	/* Out of the subsystem and the transport at once. */
	assert_null(nvmft_subsystem_get_listener(env.ss, 1));
	assert_ptr_equal(nvmft_subsystem_get_listener(env.ss, 0), env.listener);
	assert_null(nvmft_listener_find(env.tr, "loop", "2"));
	for (int i = 0; i < 100000 && !w.done; i++)
		lt_env_poll(&env);
	assert_true(w.done);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.status, 0);
	assert_true(lt_qpair_is_dead(q2));
	assert_true(lt_qpair_is_dead(io2));
	assert_true(lt_qpair_is_dead(disc));
	assert_false(lt_qpair_is_dead(q1));
	assert_false(lt_qpair_is_freed(io2)); /* its write is still in the backend */
	assert_int_equal(lt_identify(q1, NVME_IDENTIFY_CNS_CTRL, 0, 0, (uint8_t[4096]){ 0 }).status,
			 0);

	/* The listener's memory stays until its last queue pair is gone (checked by valgrind). */
	assert_int_equal(tb_release(tb), 1);
	tb_hold(tb, false);
	lt_env_settle(&env);
	assert_true(lt_qpair_is_freed(io2));
	assert_int_equal(tb_data(tb)[0], 0x2b);
	lt_env_fini(&env);
}

static void test_transport_connection_limit(void **state)
{
	struct nvmft_transport_opts tro;
	struct lt_env_opts eo = { .tr_opts = &tro };
	struct lt_env env;
	struct lt_qpair *q1, *q2;

	(void)state;
	generic_defaults(&tro);
	tro.max_connections = 1;
	assert_int_equal(lt_env_init(&env, &eo), 0);
	q1 = lt_qpair_new(&env, -1);
	q2 = lt_qpair_new(&env, -1);
	/* q1 never connected: q2 takes its place (test_target.c has the whole policy). */
	assert_true(lt_qpair_is_freed(q1));
	assert_false(lt_qpair_is_dead(q2));
	assert_int_equal(atomic_load(&env.tr->num_connections), 1);
	lt_qpair_close(q2);
	assert_int_equal(atomic_load(&env.tr->num_connections), 0);
	q2 = lt_qpair_new(&env, -1);
	assert_false(lt_qpair_is_dead(q2));
	lt_env_fini(&env);
}

/* ---- Hooks for PCIe-style (vfio-user) and RDMA transports, through fake ones ---------------- */

/*
 * Two fakes that carry commands synchronously on the test thread (which is
 * both the management thread and the only group's): "pcie" has no Fabrics
 * Connect, makes its controller with nvmft_ctrlr_new_local(), serves BAR0
 * through nvmft_ctrlr_reg_read/write() and runs Create/Delete I/O queue
 * commands in admin_cmd; "rdma" uses Fabrics Connect and registers the
 * group's buffer pool chunk by chunk.
 */
#define HK_DEPTH 64
#define HK_MAX_QID 8
#define HK_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:0f0e0d0c-0b0a-0908-0706-050403020100"
#define HK_MAX_REGS 256

struct hk_req {
	struct nvmft_req req;
	bool busy;          /* from submission until the transport may reuse it */
	bool done;
	uint16_t status;
	struct nvmft_cpl cpl;
	void *data;
	uint32_t len;
	void *handles[NVMFT_REQ_INLINE_IOV]; /* registration of each pool buffer entry */
	int nhandles;
};

struct hk_qpair {
	struct nvmft_qpair qp;
	struct hk_tpg *tpg;
	struct nvmft_ctrlr *ctrlr;  /* the local controller behind an admin queue */
	int new_local_rc;
	bool freed;
	struct hk_req *delete_req;  /* Delete I/O SQ answered once this queue is freed */
	uint16_t next_cid;
	struct hk_req reqs[HK_DEPTH];
};

struct hk_reg {
	void *addr;
	void *handle;
};

struct hk_tpg {
	struct nvmft_poll_group *pg;
	struct nvmft_transport *tr;
	bool cq[HK_MAX_QID];
	struct hk_qpair *sq[HK_MAX_QID];
	struct hk_reg regs[HK_MAX_REGS];
	int nregs;
};

/* What the tests look at and steer. */
static struct {
	int enables, disables, enable_rc;
	uint32_t aqa_seen;
	uint16_t admin_sqsize_seen;
	int regs, unregs, reg_rc, tpgs_alive;
	bool unreg_after_destroy;
	struct hk_qpair *all[32];
	int nall;
	const char *subnqn;
} hk;

static struct hk_qpair *hk_of(struct nvmft_qpair *qp)
{
	return nvmft_container_of(qp, struct hk_qpair, qp);
}

static struct hk_req *hk_req_of(struct nvmft_req *req)
{
	return nvmft_container_of(req, struct hk_req, req);
}

static struct hk_tpg *hk_tpg_of(struct nvmft_poll_group *pg, struct nvmft_transport *tr)
{
	return nvmft_pg_transport(pg, tr)->tpg;
}

static struct hk_qpair *hk_qpair_alloc(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	struct hk_qpair *q = calloc(1, sizeof(*q));

	assert_non_null(q);
	assert_true(hk.nall < (int)NVMFT_ARRAY_SIZE(hk.all));
	hk.all[hk.nall++] = q;
	nvmft_qpair_init(&q->qp, tr, l);
	for (int i = 0; i < HK_DEPTH; i++)
		q->reqs[i].req.qpair = &q->qp;
	return q;
}

static int hk_pg_create(struct nvmft_transport *tr, struct nvmft_poll_group *pg, void **tpgp)
{
	struct hk_tpg *tpg = calloc(1, sizeof(*tpg));

	if (tpg == NULL)
		return -ENOMEM;
	tpg->pg = pg;
	tpg->tr = tr;
	hk.tpgs_alive++;
	*tpgp = tpg;
	return 0;
}

static void hk_pg_destroy(void *tpg)
{
	hk.tpgs_alive--;
	free(tpg);
}

static int hk_pg_add_qpair(void *tpgp, struct nvmft_qpair *qp)
{
	struct hk_qpair *q = hk_of(qp);

	q->tpg = tpgp;
	if (!(qp->tr->ops->caps & NVMFT_TR_CAP_PCIE))
		return 0;
	/* A PCIe function has a controller from the start: no Connect will come. */
	q->new_local_rc = nvmft_ctrlr_new_local(qp, hk.subnqn, HK_HOSTNQN, (const uint8_t *)LT_HOSTID,
						&q->ctrlr);
	return q->new_local_rc;
}

static void hk_qpair_disconnect(struct nvmft_qpair *qp)
{
	(void)qp; /* nothing is held in the transport: every command runs at once */
}

static void hk_qpair_free(struct nvmft_qpair *qp)
{
	struct hk_qpair *q = hk_of(qp);
	struct hk_req *del = q->delete_req;

	q->freed = true;
	if (q->tpg != NULL && qp->qid < HK_MAX_QID && q->tpg->sq[qp->qid] == q)
		q->tpg->sq[qp->qid] = NULL;
	/* Every command of the queue is gone: Delete I/O Submission Queue is done. */
	if (del != NULL) {
		q->delete_req = NULL;
		nvmft_req_finish(&del->req, 0);
	}
}

static void hk_req_complete(struct nvmft_req *req)
{
	struct hk_req *r = hk_req_of(req);

	r->cpl = req->cpl;
	r->status = nvmft_status_from_wire(req->cpl.status);
	if (req->xfer == NVMFT_XFER_C2H && r->status == 0 && r->data != NULL)
		nvmft_req_copy_from_iov(req, 0, r->data, r->len);
	r->nhandles = 0;
	for (int i = 0; i < req->iovcnt && i < NVMFT_REQ_INLINE_IOV; i++) {
		/* What an RDMA transport puts in its work requests: the key of each buffer. */
		if (nvmft_req_buf_mem_handle(req, i, &r->handles[i]) == 0)
			r->nhandles = i + 1;
	}
	r->done = true;
	if (nvmft_req_release(req))
		r->busy = false;
}

static void hk_req_go(struct nvmft_req *req)
{
	struct hk_req *r = hk_req_of(req);

	if (req->xfer == NVMFT_XFER_H2C && r->data != NULL)
		nvmft_req_copy_to_iov(req, 0, r->data, r->len);
	nvmft_req_execute(req);
}

static void hk_req_buffers_ready(struct nvmft_req *req)
{
	if (req->iovcnt == 0) {
		nvmft_req_finish(req, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
		return;
	}
	hk_req_go(req);
}

static void hk_cdata_init(struct nvmft_transport *tr, struct nvme_id_ctrl *cdata)
{
	(void)tr;
	(void)cdata;
}

static void hk_disc_entry(struct nvmft_listener *l, struct nvmf_disc_log_entry *e)
{
	(void)l;
	(void)e;
}

/* ---- The PCIe-style fake: queue management and the admin queue mapping ---- */

static uint16_t hk_create_sq(struct nvmft_req *req)
{
	struct hk_qpair *admin = hk_of(req->qpair);
	struct hk_tpg *tpg = admin->tpg;
	uint16_t qid = le32toh(req->cmd.cdw10) & 0xffff, qsize = le32toh(req->cmd.cdw10) >> 16;
	uint16_t cqid = le32toh(req->cmd.cdw11) >> 16, status;
	struct hk_qpair *q;

	if (cqid == 0 || cqid >= HK_MAX_QID || !tpg->cq[cqid])
		return NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CQ_INVALID);
	q = hk_qpair_alloc(req->qpair->tr, req->qpair->listener);
	assert_int_equal(nvmft_qpair_add_local(&q->qp, req->qpair->pg), 0);
	status = nvmft_ctrlr_add_local_io_qpair(admin->ctrlr, &q->qp, qid, qsize);
	if (status != 0) {
		/* On its group already: the core frees it like any disconnected queue. */
		nvmft_qpair_disconnect(&q->qp);
		return status;
	}
	q->tpg = tpg;
	tpg->sq[qid] = q;
	return 0;
}

static bool hk_admin_cmd(struct nvmft_req *req)
{
	struct hk_tpg *tpg = hk_of(req->qpair)->tpg;
	uint16_t qid = le32toh(req->cmd.cdw10) & 0xffff;
	const uint16_t bad_qid = NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_QID_INVALID);

	switch (req->cmd.opcode) {
	case nvme_admin_create_cq:
		if (qid == 0 || qid >= HK_MAX_QID || tpg->cq[qid]) {
			nvmft_req_finish(req, bad_qid);
			return true;
		}
		tpg->cq[qid] = true;
		nvmft_req_finish(req, 0);
		return true;
	case nvme_admin_delete_cq:
		if (qid == 0 || qid >= HK_MAX_QID || !tpg->cq[qid]) {
			nvmft_req_finish(req, bad_qid);
			return true;
		}
		tpg->cq[qid] = false;
		nvmft_req_finish(req, 0);
		return true;
	case nvme_admin_create_sq:
		nvmft_req_finish(req, hk_create_sq(req));
		return true;
	case nvme_admin_delete_sq:
		if (qid == 0 || qid >= HK_MAX_QID || tpg->sq[qid] == NULL || tpg->sq[qid]->delete_req) {
			nvmft_req_finish(req, bad_qid);
			return true;
		}
		/* Answered from qpair_free, once the queue's own commands are all back. */
		tpg->sq[qid]->delete_req = hk_req_of(req);
		nvmft_qpair_disconnect(&tpg->sq[qid]->qp);
		return true;
	default:
		return false;
	}
}

static int hk_ctrlr_enable(struct nvmft_ctrlr *ctrlr, bool enable)
{
	struct hk_tpg *tpg = hk_tpg_of(ctrlr->pg, ctrlr->tr);
	uint64_t v;

	if (!enable) {
		/* The reset took every I/O queue: their completion queues go as well. */
		memset(tpg->cq, 0, sizeof(tpg->cq));
		hk.disables++;
		return 0;
	}
	hk.enables++;
	assert_int_equal(nvmft_ctrlr_reg_read(ctrlr, NVME_REG_AQA, 4, &v), 0);
	hk.aqa_seen = (uint32_t)v;
	hk.admin_sqsize_seen = ctrlr->qpairs[0]->sqsize;
	return hk.enable_rc;
}

/* ---- The RDMA-style fake: registered buffer pool ---- */

static int hk_mem_reg(void *ctx, void *addr, size_t len, void **handle)
{
	struct hk_tpg *tpg = ctx;

	assert_int_equal(len, nvmft_pg_transport(tpg->pg, tpg->tr)->pool.chunk);
	if (hk.reg_rc != 0)
		return hk.reg_rc;
	assert_true(tpg->nregs < HK_MAX_REGS);
	hk.regs++;
	/* Any value unique per chunk will do as a "key". */
	tpg->regs[tpg->nregs].addr = addr;
	tpg->regs[tpg->nregs].handle = (void *)(uintptr_t)(0x1000 + hk.regs);
	*handle = tpg->regs[tpg->nregs++].handle;
	return 0;
}

static void hk_mem_unreg(void *ctx, void *addr, size_t len, void *handle)
{
	struct hk_tpg *tpg = ctx;
	bool found = false;

	(void)len;
	if (hk.tpgs_alive == 0)
		hk.unreg_after_destroy = true;
	for (int i = 0; i < tpg->nregs; i++)
		if (tpg->regs[i].addr == addr && tpg->regs[i].handle == handle)
			found = true;
	assert_true(found);
	hk.unregs++;
}

static const struct nvmft_buf_pool_mem_ops hk_mem_ops = {
	.reg = hk_mem_reg,
	.unreg = hk_mem_unreg,
};

#define HK_OPS(n, t, c, ...)                                    \
	static const struct nvmft_transport_ops n = {           \
		.type = (enum nvmft_trtype)(t),                 \
		.name = #n,                                     \
		.caps = (c),                                    \
		.create = fake_create,                          \
		.destroy = fake_destroy,                        \
		.listen = fake_listen,                          \
		.stop_listen = fake_stop_listen,                \
		.accept = fake_accept,                          \
		.cdata_init = hk_cdata_init,                    \
		.disc_entry = hk_disc_entry,                    \
		.pg_create = hk_pg_create,                      \
		.pg_destroy = hk_pg_destroy,                    \
		.pg_poll = fake_pg_poll,                        \
		.pg_add_qpair = hk_pg_add_qpair,                \
		.qpair_disconnect = hk_qpair_disconnect,        \
		.qpair_free = hk_qpair_free,                    \
		.req_complete = hk_req_complete,                \
		.req_buffers_ready = hk_req_buffers_ready,      \
		__VA_ARGS__                                     \
	}

HK_OPS(hk_pcie_ops, NVMFT_TRTYPE_VFIOUSER, NVMFT_TR_CAP_PCIE, .admin_cmd = hk_admin_cmd,
       .ctrlr_enable = hk_ctrlr_enable);
HK_OPS(hk_rdma_ops, 250, 0, .buf_mem_ops = &hk_mem_ops);

/* ---- Environment ---- */

struct hk_env {
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg;
	struct nvmft_transport *tr;
	struct nvmft_listener *l;
	struct nvmft_subsystem *ss;
	struct nvmft_backend *be;
};

static void hk_poll(struct hk_env *e)
{
	for (int i = 0; i < 64; i++) {
		int n = nvmft_target_poll(e->tgt) + nvmft_poll_group_poll(e->pg, 0);

		if (n <= 0 && i > 2)
			break;
	}
}

static void hk_ns_added(void *arg, int status)
{
	*(int *)arg = status;
}

static void hk_env_init(struct hk_env *e, const struct nvmft_transport_ops *ops, bool allow_any)
{
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_INTRA_HOST,
					.traddr = "/run/hk.sock", .trsvcid = "0" };
	struct nvmft_subsystem_opts so;
	struct nvmft_ns *ns;
	int added = 1;

	memset(e, 0, sizeof(*e));
	memset(&hk, 0, sizeof(hk));
	memset(&fc, 0, sizeof(fc));
	hk.subnqn = NQN;
	assert_int_equal(nvmft_target_new(NULL, &e->tgt), 0);
	assert_int_equal(nvmft_poll_group_new(e->tgt, NULL, &e->pg), 0);
	assert_int_equal(nvmft_transport_new_ops(e->tgt, ops, NULL, &e->tr), 0);
	assert_int_equal(nvmft_listener_new(e->tr, &lo, &e->l), 0);
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = NQN;
	so.allow_any_host = allow_any;
	assert_int_equal(nvmft_subsystem_new(e->tgt, &so, &e->ss), 0);
	assert_int_equal(nvmft_subsystem_add_listener(e->ss, e->l), 0);
	assert_int_equal(nvmft_backend_malloc_new("hk-ram", 1024, 512, &e->be), 0);
	assert_int_equal(nvmft_ns_add(e->ss, e->be, NULL, hk_ns_added, &added, &ns), 0);
	for (int i = 0; i < 1000 && added == 1; i++)
		hk_poll(e);
	assert_int_equal(added, 0);
}

static void hk_stopped(void *arg, int status)
{
	(void)status;
	*(bool *)arg = true;
}

static void hk_env_fini(struct hk_env *e)
{
	bool stopped = false;

	assert_int_equal(nvmft_poll_group_stop(e->pg, hk_stopped, &stopped), 0);
	for (int i = 0; i < 1000 && !stopped; i++)
		hk_poll(e);
	assert_true(stopped);
	assert_int_equal(nvmft_poll_group_free(e->pg), 0);
	nvmft_target_poll(e->tgt);
	nvmft_target_free(e->tgt);
	assert_int_equal(nvmft_backend_free(e->be), 0);
	for (int i = 0; i < hk.nall; i++)
		free(hk.all[i]);
	hk.nall = 0;
}

/* A client arrives (a vfio-user socket connection, an RDMA CM request). */
static struct hk_qpair *hk_accept(struct hk_env *e)
{
	struct hk_qpair *q = hk_qpair_alloc(e->tr, e->l);

	nvmft_target_accepted(e->tgt, &q->qp);
	hk_poll(e);
	return q;
}

/* Run @cmd on @q; returns the finished slot (busy while parked). */
static struct hk_req *hk_cmd(struct hk_env *e, struct hk_qpair *q, const struct nvmft_cmd *cmd, void *data,
			     uint32_t len)
{
	struct hk_req *r = NULL;
	int rc;

	for (int i = 0; i < HK_DEPTH && r == NULL; i++)
		if (!q->reqs[i].busy)
			r = &q->reqs[i];
	assert_non_null(r);
	r->busy = true;
	r->done = false;
	r->data = data;
	r->len = len;
	r->req.cmd = *cmd;
	r->req.cmd.cid = htole16(q->next_cid++);
	r->req.length = len;
	if (nvmft_req_init(&r->req) && nvmft_req_needs_buffers(&r->req)) {
		rc = nvmft_req_get_buffers(&r->req);
		if (rc == 0)
			hk_req_go(&r->req);
		else if (rc != -EAGAIN)
			nvmft_req_finish(&r->req, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
	} else if (r->req.state == NVMFT_REQ_INIT) {
		hk_req_go(&r->req);
	}
	for (int i = 0; i < 100 && !r->done; i++)
		hk_poll(e);
	assert_true(r->done);
	return r;
}

static uint16_t hk_status(struct hk_env *e, struct hk_qpair *q, const struct nvmft_cmd *cmd, void *data,
			  uint32_t len)
{
	return hk_cmd(e, q, cmd, data, len)->status;
}

static struct nvmft_cmd hk_queue_cmd(uint8_t opc, uint16_t qid, uint16_t qsize, uint32_t cdw11)
{
	struct nvmft_cmd c = { .opcode = opc };

	c.cdw10 = htole32((uint32_t)qsize << 16 | qid);
	c.cdw11 = htole32(cdw11);
	return c;
}

static uint16_t hk_rw(struct hk_env *e, struct hk_qpair *q, bool write, uint64_t slba, void *buf,
		      uint32_t len)
{
	struct nvmft_cmd c = { .opcode = write ? nvme_cmd_write : nvme_cmd_read, .nsid = htole32(1) };

	c.cdw10 = htole32((uint32_t)slba);
	c.cdw12 = htole32(len / 512 - 1);
	return hk_status(e, q, &c, buf, len);
}

/* Write the client's BAR0 the way a driver brings a controller up. */
static void hk_bar_setup(struct nvmft_ctrlr *ctrlr, uint32_t aqa)
{
	uint64_t v;

	assert_int_equal(nvmft_ctrlr_reg_write(ctrlr, NVME_REG_AQA, 4, aqa), 0);
	/* ASQ as one 8-byte access, ACQ as two 4-byte halves. */
	assert_int_equal(nvmft_ctrlr_reg_write(ctrlr, NVME_REG_ASQ, 8, 0x1234567000ull), 0);
	assert_int_equal(nvmft_ctrlr_reg_write(ctrlr, NVME_REG_ACQ, 4, 0x89abc000u), 0);
	assert_int_equal(nvmft_ctrlr_reg_write(ctrlr, NVME_REG_ACQ + 4, 4, 0x12u), 0);
	assert_int_equal(nvmft_ctrlr_reg_read(ctrlr, NVME_REG_ACQ, 8, &v), 0);
	assert_int_equal(v, 0x1289abc000ull);
	assert_int_equal(nvmft_ctrlr_reg_read(ctrlr, NVME_REG_ASQ + 4, 4, &v), 0);
	assert_int_equal(v, 0x12);
}

#define HK_CC_EN (1u | 6u << 16 | 4u << 20)

/*
 * A PCIe-style controller's life: made without Connect, enabled through
 * BAR0 (the transport maps the admin queue), I/O queues created and
 * deleted by admin commands, reset, and gone with its admin queue.
 */
static void test_local_ctrlr_lifecycle(void **state)
{
	struct hk_env e;
	struct hk_qpair *aq, *iq;
	struct nvmft_cmd prop = { .opcode = NVMFT_OPC_FABRICS };
	struct nvmft_cmd sf = { .opcode = nvme_admin_set_features };
	uint8_t id[4096], w[4096], r[4096];
	struct nvmft_ctrlr *ctrlr;
	uint64_t v;

	(void)state;
	hk_env_init(&e, &hk_pcie_ops, true);
	aq = hk_accept(&e);
	assert_int_equal(aq->new_local_rc, 0);
	ctrlr = aq->ctrlr;
	assert_non_null(ctrlr);
	assert_ptr_equal(aq->qp.ctrlr, ctrlr);
	assert_int_equal(aq->qp.state, NVMFT_QPAIR_ACTIVE);
	assert_string_equal(nvmft_ctrlr_get_hostnqn(ctrlr), HK_HOSTNQN);
	assert_int_equal(tu_ctrlr_count(e.ss), 1);
	/* Disabled at first; CAP and VS as for Fabrics. */
	assert_int_equal(nvmft_ctrlr_reg_read(ctrlr, NVME_REG_CSTS, 4, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(nvmft_ctrlr_reg_read(ctrlr, NVME_REG_CAP, 8, &v), 0);
	assert_int_equal(v & 0xffff, 127);
	assert_int_equal(nvmft_ctrlr_reg_read(ctrlr, NVME_REG_VS, 4, &v), 0);
	assert_int_equal(v, 0x00020000);
	/* Doorbells and the like are the transport's; CSTS is read-only. */
	assert_int_equal(nvmft_ctrlr_reg_read(ctrlr, 0x1000, 4, &v), -EINVAL);
	assert_int_equal(nvmft_ctrlr_reg_read(ctrlr, NVME_REG_AQA, 8, &v), -EINVAL);
	assert_int_equal(nvmft_ctrlr_reg_write(ctrlr, NVME_REG_CSTS, 4, 0), -EINVAL);
	assert_int_equal(nvmft_ctrlr_reg_read(NULL, NVME_REG_CSTS, 4, &v), -EINVAL);

	/* Not enabled: admin commands are refused, queue management included. */
	assert_int_equal(hk_status(&e, aq, &(struct nvmft_cmd){ .opcode = nvme_admin_identify,
								  .cdw10 = htole32(1) }, id, 4096),
			 NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR));
	assert_int_equal(hk_status(&e, aq, &(struct nvmft_cmd){ .opcode = nvme_admin_create_cq }, NULL, 0),
			 NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR));

	/* A bad admin queue (AQA 0: one entry) fails the enable without bothering the transport. */
	hk_bar_setup(ctrlr, 0);
	assert_int_equal(nvmft_ctrlr_reg_write(ctrlr, NVME_REG_CC, 4, HK_CC_EN), 0);
	assert_int_equal(nvmft_ctrlr_reg_read(ctrlr, NVME_REG_CSTS, 4, &v), 0);
	assert_int_equal(v & (NVMFT_CSTS_RDY | NVMFT_CSTS_CFS), NVMFT_CSTS_CFS);
	assert_int_equal(hk.enables, 0);
	assert_int_equal(nvmft_ctrlr_reg_write(ctrlr, NVME_REG_CC, 4, 0), 0);
	hk_poll(&e);
	assert_int_equal(hk.disables, 0); /* never enabled, nothing to unmap */

	/* The transport cannot map the queue: CFS as well. */
	hk_bar_setup(ctrlr, 15u << 16 | 31u);
	hk.enable_rc = -EFAULT;
	assert_int_equal(nvmft_ctrlr_reg_write(ctrlr, NVME_REG_CC, 4, HK_CC_EN), 0);
	assert_int_equal(nvmft_ctrlr_reg_read(ctrlr, NVME_REG_CSTS, 4, &v), 0);
	assert_int_equal(v & (NVMFT_CSTS_RDY | NVMFT_CSTS_CFS), NVMFT_CSTS_CFS);
	assert_int_equal(hk.enables, 1);
	assert_int_equal(nvmft_ctrlr_reg_write(ctrlr, NVME_REG_CC, 4, 0), 0);
	hk_poll(&e);
	assert_int_equal(hk.disables, 0);

	/* Now for real: the core sized the admin queue from AQA before asking the transport. */
	hk.enable_rc = 0;
	assert_int_equal(nvmft_ctrlr_reg_write(ctrlr, NVME_REG_CC, 4, HK_CC_EN), 0);
	assert_int_equal(nvmft_ctrlr_reg_read(ctrlr, NVME_REG_CSTS, 4, &v), 0);
	assert_int_equal(v, NVMFT_CSTS_RDY);
	assert_int_equal(hk.enables, 2);
	assert_int_equal(hk.aqa_seen, 15u << 16 | 31u);
	assert_int_equal(hk.admin_sqsize_seen, 31);
	assert_int_equal(hk_status(&e, aq, &(struct nvmft_cmd){ .opcode = nvme_admin_identify,
								  .cdw10 = htole32(1) }, id, 4096), 0);
	assert_int_equal(le16toh(hk_cmd(&e, aq, &(struct nvmft_cmd){ .opcode = nvme_admin_keep_alive }, NULL, 0)
					 ->cpl.sqhd),
			 2);
	/* Fabrics commands do not exist on PCIe. */
	assert_int_equal(hk_status(&e, aq, &prop, NULL, 0),
			 NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE));

	/* Two I/O queues allowed (NSQR 1). */
	sf.cdw10 = htole32(NVME_FEAT_FID_NUM_QUEUES);
	sf.cdw11 = htole32(1u << 16 | 1u);
	assert_int_equal(hk_status(&e, aq, &sf, NULL, 0), 0);
	assert_int_equal(hk_status(&e, aq, &(struct nvmft_cmd){ .opcode = nvme_admin_create_sq }, NULL, 0),
			 NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CQ_INVALID));
	{
		struct nvmft_cmd cq = hk_queue_cmd(nvme_admin_create_cq, 1, 63, 1);
		struct nvmft_cmd sq = hk_queue_cmd(nvme_admin_create_sq, 1, 63, 1u << 16 | 1);
		struct nvmft_cmd sq0 = hk_queue_cmd(nvme_admin_create_sq, 0, 63, 1u << 16 | 1);
		struct nvmft_cmd sq3 = hk_queue_cmd(nvme_admin_create_sq, 3, 63, 1u << 16 | 1);
		struct nvmft_cmd sq_tiny = hk_queue_cmd(nvme_admin_create_sq, 2, 0, 1u << 16 | 1);
		struct nvmft_cmd sq_huge = hk_queue_cmd(nvme_admin_create_sq, 2, 128, 1u << 16 | 1);
		struct nvmft_cmd del = hk_queue_cmd(nvme_admin_delete_sq, 1, 0, 0);
		const uint16_t bad_qid = NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_QID_INVALID);
		const uint16_t bad_size = NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_QUEUE_SIZE);
		int freed_before;

		assert_int_equal(hk_status(&e, aq, &cq, NULL, 0), 0);
		assert_int_equal(hk_status(&e, aq, &sq, NULL, 0), 0);
		iq = aq->tpg->sq[1];
		assert_non_null(iq);
		assert_int_equal(iq->qp.qid, 1);
		assert_int_equal(iq->qp.sqsize, 63);
		assert_int_equal(nvmft_ctrlr_get_num_qpairs(ctrlr), 2);
		/* Taken, 0, beyond Number of Queues; too small, too large. */
		assert_int_equal(hk_status(&e, aq, &sq, NULL, 0), bad_qid);
		assert_int_equal(hk_status(&e, aq, &sq0, NULL, 0), bad_qid);
		assert_int_equal(hk_status(&e, aq, &sq3, NULL, 0), bad_qid);
		assert_int_equal(hk_status(&e, aq, &sq_tiny, NULL, 0), bad_size);
		assert_int_equal(hk_status(&e, aq, &sq_huge, NULL, 0), bad_size);
		hk_poll(&e);
		/* The queues refused were put on the group and freed by the core. */
		freed_before = 0;
		for (int i = 0; i < hk.nall; i++)
			freed_before += hk.all[i]->freed;
		assert_int_equal(freed_before, 5);
		assert_int_equal(nvmft_ctrlr_get_num_qpairs(ctrlr), 2);

		/* I/O on the new queue; a PCIe queue counts SQHD from entry 0. */
		memset(w, 0x5c, sizeof(w));
		assert_int_equal(hk_rw(&e, iq, true, 8, w, sizeof(w)), 0);
		assert_int_equal(le16toh(iq->reqs[0].cpl.sqhd), 1);
		memset(r, 0, sizeof(r));
		assert_int_equal(hk_rw(&e, iq, false, 8, r, sizeof(r)), 0);
		assert_memory_equal(r, w, sizeof(w));

		/* Delete I/O SQ completes once the queue is gone; the QID is free again. */
		assert_int_equal(hk_status(&e, aq, &del, NULL, 0), 0);
		assert_true(iq->freed);
		assert_int_equal(nvmft_ctrlr_get_num_qpairs(ctrlr), 1);
		assert_int_equal(hk_status(&e, aq, &del, NULL, 0), bad_qid);
		assert_int_equal(hk_status(&e, aq, &sq, NULL, 0), 0);
		iq = aq->tpg->sq[1];
		assert_int_equal(hk_rw(&e, iq, false, 8, r, sizeof(r)), 0);
		assert_memory_equal(r, w, sizeof(w));
	}

	/* Reset: the I/O queue goes, then the transport unmaps the admin queue. */
	assert_int_equal(nvmft_ctrlr_reg_write(ctrlr, NVME_REG_CC, 4, 0), 0);
	hk_poll(&e);
	assert_true(iq->freed);
	assert_int_equal(hk.disables, 1);
	assert_int_equal(nvmft_ctrlr_reg_read(ctrlr, NVME_REG_CSTS, 4, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(nvmft_ctrlr_get_num_qpairs(ctrlr), 1);
	/* The admin queue registers survive a reset. */
	assert_int_equal(nvmft_ctrlr_reg_read(ctrlr, NVME_REG_AQA, 4, &v), 0);
	assert_int_equal(v, 15u << 16 | 31u);

	/* The client goes away: the controller with it, and every connection is accounted for. */
	nvmft_qpair_disconnect(&aq->qp);
	hk_poll(&e);
	assert_true(aq->freed);
	assert_int_equal(tu_ctrlr_count(e.ss), 0);
	assert_int_equal(atomic_load(&e.tr->num_connections), 0);
	hk_env_fini(&e);
}

/* Controllers only for subsystems offered here, hosts allowed in, and PCIe-style transports. */
static void test_local_ctrlr_refused(void **state)
{
	struct nvmft_ctrlr *ctrlr = NULL;
	struct hk_env e;
	struct hk_qpair *q;

	(void)state;
	hk_env_init(&e, &hk_pcie_ops, false);
	q = hk_accept(&e);
	assert_int_equal(q->new_local_rc, -EPERM);
	hk_poll(&e);
	assert_true(q->freed);
	hk.subnqn = "nqn.2024-01.io.example:absent";
	q = hk_accept(&e);
	assert_int_equal(q->new_local_rc, -ENOENT);
	hk.subnqn = NVMFT_DISCOVERY_NQN;
	q = hk_accept(&e);
	assert_int_equal(q->new_local_rc, -ENOENT);
	hk_poll(&e);
	assert_true(q->freed);
	assert_int_equal(tu_ctrlr_count(e.ss), 0);
	assert_int_equal(atomic_load(&e.tr->num_connections), 0);
	hk_env_fini(&e);

	/* Not on a Fabrics transport, whose controllers have no BAR either. */
	hk_env_init(&e, &hk_rdma_ops, true);
	q = hk_accept(&e);
	assert_int_equal(nvmft_ctrlr_new_local(&q->qp, NQN, HK_HOSTNQN, (const uint8_t *)LT_HOSTID, &ctrlr),
			 -EINVAL);
	assert_null(ctrlr);
	nvmft_qpair_disconnect(&q->qp);
	hk_poll(&e);
	assert_true(q->freed);
	hk_env_fini(&e);
}

/* Fabrics Connect on the RDMA-style fake, as lt_connect_raw() does on the loop transport. */
static uint16_t hk_connect(struct hk_env *e, struct hk_qpair *q, uint16_t qid, uint16_t cntlid,
			   uint16_t *cntlid_out)
{
	struct nvmft_connect_cmd c = { .opcode = NVMFT_OPC_FABRICS, .fctype = NVMFT_FCTYPE_CONNECT };
	struct nvmf_connect_data d;
	struct hk_req *r;

	memset(&d, 0, sizeof(d));
	c.qid = htole16(qid);
	c.sqsize = htole16(31);
	memcpy(d.hostid, LT_HOSTID, 16);
	d.cntlid = htole16(cntlid);
	strcpy(d.subsysnqn, NQN);
	strcpy(d.hostnqn, HK_HOSTNQN);
	r = hk_cmd(e, q, (const struct nvmft_cmd *)&c, &d, sizeof(d));
	if (cntlid_out != NULL)
		*cntlid_out = le16toh(r->cpl.connect.cntlid);
	return r->status;
}

/* Pool chunks are registered once each, requests find their keys, all is unregistered in time. */
static void test_pool_registration(void **state)
{
	struct nvmft_prop_cmd en = { .opcode = NVMFT_OPC_FABRICS, .fctype = NVMFT_FCTYPE_PROPERTY_SET };
	struct nvmft_buf_pool *pool;
	struct hk_qpair *aq, *iq;
	struct hk_env e;
	uint16_t cntlid;
	uint8_t *buf;
	size_t max;
	int rounds = 0;

	(void)state;
	hk_env_init(&e, &hk_rdma_ops, true);
	pool = &nvmft_pg_transport(e.pg, e.tr)->pool;
	assert_ptr_equal(pool->mem_ops, &hk_mem_ops);
	assert_int_equal(hk.regs, 0); /* nothing until a chunk is needed */
	aq = hk_accept(&e);
	assert_int_equal(hk_connect(&e, aq, 0, NVMFT_CNTLID_DYNAMIC, &cntlid), 0);
	en.offset = htole32(NVME_REG_CC);
	en.value = htole64(HK_CC_EN);
	assert_int_equal(hk_status(&e, aq, (const struct nvmft_cmd *)&en, NULL, 0), 0);
	iq = hk_accept(&e);
	assert_int_equal(hk_connect(&e, iq, 1, cntlid, NULL), 0);
	/* Connect's data came from the pool: one chunk, registered once. */
	assert_int_equal(hk.regs, (int)pool->nr_alloc);
	/* A controller that came through Connect has no BAR. */
	assert_int_equal(nvmft_ctrlr_reg_read(aq->qp.ctrlr, NVME_REG_CSTS, 4, &(uint64_t){ 0 }), -EINVAL);

	max = 8 * pool->chunk;
	buf = malloc(max);
	assert_non_null(buf);
	for (size_t len = 512; len <= max; len *= 2) {
		for (int i = 0; i < 4; i++, rounds++) {
			struct hk_req *r;
			struct nvmft_cmd c = { .opcode = nvme_cmd_read, .nsid = htole32(1) };

			c.cdw12 = htole32((uint32_t)(len / 512) - 1);
			r = hk_cmd(&e, iq, &c, buf, (uint32_t)len);
			assert_int_equal(r->status, 0);
			/* Every pool buffer of the request has the handle of the chunk it lies in. */
			assert_int_equal(r->nhandles, (int)((len + pool->chunk - 1) / pool->chunk));
			for (int k = 0; k < r->nhandles; k++) {
				bool match = false;

				for (int j = 0; j < iq->tpg->nregs; j++)
					if (iq->tpg->regs[j].handle == r->handles[k])
						match = true;
				assert_true(match);
			}
		}
	}
	/* Registrations follow chunks, not requests. */
	assert_true(rounds > hk.regs);
	assert_int_equal(hk.regs, (int)pool->nr_alloc);
	assert_int_equal(hk.regs, 8);
	/* A command without data has no buffer to look up. */
	{
		struct hk_req *r = hk_cmd(&e, aq, &(struct nvmft_cmd){ .opcode = nvme_admin_keep_alive }, NULL, 0);
		void *h;

		assert_int_equal(r->nhandles, 0);
		assert_int_equal(nvmft_req_buf_mem_handle(&r->req, 0, &h), -ENOENT);
	}
	free(buf);
	hk_env_fini(&e);
	/* Unregistered before the tpg they were registered with went away. */
	assert_int_equal(hk.unregs, 8);
	assert_false(hk.unreg_after_destroy);
}

/* A chunk that cannot be registered fails the command that needed it, and nothing leaks. */
static void test_pool_registration_fails(void **state)
{
	struct nvmft_prop_cmd en = { .opcode = NVMFT_OPC_FABRICS, .fctype = NVMFT_FCTYPE_PROPERTY_SET };
	struct nvmft_buf_pool *pool;
	struct hk_qpair *aq, *iq;
	struct hk_env e;
	uint16_t cntlid;
	uint8_t buf[16384];

	(void)state;
	hk_env_init(&e, &hk_rdma_ops, true);
	pool = &nvmft_pg_transport(e.pg, e.tr)->pool;
	aq = hk_accept(&e);
	assert_int_equal(hk_connect(&e, aq, 0, NVMFT_CNTLID_DYNAMIC, &cntlid), 0);
	en.offset = htole32(NVME_REG_CC);
	en.value = htole64(HK_CC_EN);
	assert_int_equal(hk_status(&e, aq, (const struct nvmft_cmd *)&en, NULL, 0), 0);
	iq = hk_accept(&e);
	assert_int_equal(hk_connect(&e, iq, 1, cntlid, NULL), 0);
	assert_int_equal(pool->nr_alloc, 1);
	hk.reg_rc = -ENOMEM;
	/* The one chunk there is suffices; a second one would need a registration. */
	assert_int_equal(hk_rw(&e, iq, false, 0, buf, 512), 0);
	assert_true(pool->chunk < sizeof(buf));
	assert_int_equal(hk_rw(&e, iq, false, 0, buf, sizeof(buf)),
			 NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
	assert_int_equal(pool->nr_alloc, 1);
	assert_int_equal(pool->nr_free, 1);
	hk.reg_rc = 0;
	assert_int_equal(hk_rw(&e, iq, false, 0, buf, sizeof(buf)), 0);
	hk_env_fini(&e);
	assert_int_equal(hk.unregs, hk.regs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts_init),
		cmocka_unit_test(test_opts_validation),
		cmocka_unit_test(test_transport_table),
		cmocka_unit_test(test_trtype_names),
		cmocka_unit_test(test_listener_new_and_lookup),
		cmocka_unit_test(test_listener_destroy_drops_its_connections),
		cmocka_unit_test(test_transport_connection_limit),
		cmocka_unit_test(test_local_ctrlr_lifecycle),
		cmocka_unit_test(test_local_ctrlr_refused),
		cmocka_unit_test(test_pool_registration),
		cmocka_unit_test(test_pool_registration_fails),
	};

	return cmocka_run_group_tests_name("transport", tests, NULL, NULL);
}
